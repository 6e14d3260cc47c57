//! Translation with a tiny CTranslate2 Transformer that `tiny_nmt_model.py`
//! writes with random weights: the tests check loading, batching and
//! decoding, not translation quality.

#![cfg(feature = "ctranslate2")]

use std::collections::HashSet;
use std::path::PathBuf;

use mercator_models::nmt::{NmtModel, MODEL_FILE, TOKENIZER_FILE};
use mercator_models::ModelError;

#[path = "support/tiny_nmt.rs"]
mod tiny_nmt;

use tiny_nmt::write_tiny_nmt_model;

/// Target words of the tiny model (`TARGET_WORDS` in the script).
const TARGET_WORDS: [&str; 9] = [
    "rojo", "azul", "lana", "bufanda", "taza", "algodón", "camisa", "con", "y",
];

const SEGMENTS: [&str; 4] = [
    "red wool scarf with fringe",
    "blue mug",
    "cotton shirt and red scarf",
    "Handmade ceramic mug, 350 ml",
];

fn tiny_model_dir() -> (tempfile::TempDir, PathBuf) {
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path().join("tiny-nmt");
    write_tiny_nmt_model(&dir);
    (temp, dir)
}

#[test]
fn tiny_model_loads() {
    let (_temp, dir) = tiny_model_dir();
    let model = NmtModel::load(&dir).unwrap();
    assert_eq!(model.dir(), dir.as_path());
}

#[test]
fn batch_returns_one_translation_per_segment() {
    let (_temp, dir) = tiny_model_dir();
    let model = NmtModel::load(&dir).unwrap();
    let results = model.translate_batch(&SEGMENTS, &[]);
    assert_eq!(results.len(), SEGMENTS.len());

    let target_words: HashSet<&str> = TARGET_WORDS.into_iter().collect();
    for (segment, result) in SEGMENTS.iter().zip(&results) {
        let translation = result.as_ref().unwrap();
        assert!(!translation.text.is_empty(), "empty output for {segment:?}");
        assert!(!translation.tokens.is_empty(), "no tokens for {segment:?}");
        for token in &translation.tokens {
            assert!(
                target_words.contains(token.as_str()),
                "{token:?} in the output of {segment:?} is not a target word"
            );
        }
        assert_eq!(translation.text, translation.tokens.join(" "));
    }
}

#[test]
fn translation_is_deterministic() {
    let (_temp, dir) = tiny_model_dir();
    let model = NmtModel::load(&dir).unwrap();
    let first = model.translate_batch(&SEGMENTS, &[]);
    let second = model.translate_batch(&SEGMENTS, &[]);
    for (a, b) in first.iter().zip(&second) {
        assert_eq!(a.as_ref().unwrap(), b.as_ref().unwrap());
    }

    // A segment translates the same alone as in a batch.
    let alone = model.translate_batch(&SEGMENTS[1..2], &[]);
    assert_eq!(
        alone[0].as_ref().unwrap().text,
        first[1].as_ref().unwrap().text
    );
}

#[test]
fn unknown_source_words_are_reported() {
    let (_temp, dir) = tiny_model_dir();
    let model = NmtModel::load(&dir).unwrap();
    let results = model.translate_batch(&["red wool scarf with fringe"], &[]);
    let translation = results[0].as_ref().unwrap();
    assert_eq!(translation.unknown_words, vec!["fringe"]);
}

#[test]
fn target_prefix_is_removed_from_output() {
    let (_temp, dir) = tiny_model_dir();
    let model = NmtModel::load(&dir).unwrap();
    let prefix = vec!["__es__".to_string()];
    let results = model.translate_batch(&SEGMENTS, &prefix);
    assert_eq!(results.len(), SEGMENTS.len());
    for result in &results {
        let translation = result.as_ref().unwrap();
        assert!(!translation.text.is_empty());
        assert!(
            !translation.tokens.contains(&"__es__".to_string()),
            "prefix left in {:?}",
            translation.tokens
        );
        assert!(!translation.text.contains("__es__"), "{}", translation.text);
    }
}

#[test]
fn greedy_search_translates_too() {
    let (_temp, dir) = tiny_model_dir();
    let model = NmtModel::load(&dir).unwrap().with_beam_size(1);
    let results = model.translate_batch(&SEGMENTS, &[]);
    assert!(results.iter().all(|result| result.is_ok()));
}

#[test]
fn missing_model_bin_names_the_file() {
    let (_temp, dir) = tiny_model_dir();
    std::fs::remove_file(dir.join(MODEL_FILE)).unwrap();
    let err = NmtModel::load(&dir).err().expect("load must fail");
    assert!(matches!(err, ModelError::Load { .. }), "{err:?}");
    let message = err.to_string();
    assert!(message.contains("model.bin not found"), "{message}");
    assert!(message.contains("ct2-transformers-converter"), "{message}");
}

#[test]
fn missing_tokenizer_names_the_file() {
    let (_temp, dir) = tiny_model_dir();
    std::fs::remove_file(dir.join(TOKENIZER_FILE)).unwrap();
    let message = NmtModel::load(&dir)
        .err()
        .expect("load must fail")
        .to_string();
    assert!(message.contains("tokenizer.json not found"), "{message}");
    assert!(message.contains("copy"), "{message}");
}

#[test]
fn missing_folder_is_an_error() {
    let temp = tempfile::tempdir().unwrap();
    let message = NmtModel::load(&temp.path().join("absent"))
        .err()
        .expect("load must fail")
        .to_string();
    assert!(message.contains("folder not found"), "{message}");
}
