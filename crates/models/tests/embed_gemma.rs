//! Multilingual sentence embeddings from EmbeddingGemma with candle,
//! checked against an independent numpy forward pass over the same files.

mod common;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use mercator_models::defaults;
use mercator_models::embed::{cosine, Embedder};
use mercator_models::fetch;
use mercator_models::store::ModelStore;

const SENTENCES: [&str; 4] = [
    "Stainless steel water bottle, keeps drinks cold for 24 hours.",
    "Botella de agua de acero inoxidable, mantiene las bebidas frías 24 horas.",
    "Wasserflasche aus Edelstahl",
    "Your refund was sent to the card you paid with.",
];

/// Folder of the model, installed in a data directory of its own so the
/// other tests keep seeing only the three defaults.
fn model_dir() -> PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let store =
            ModelStore::new(&Path::new(env!("CARGO_TARGET_TMPDIR")).join("models-optional"));
        let model = &defaults::MULTILINGUAL_EMBEDDING;
        if let Err(err) = fetch::pull_default(&store, model, false) {
            panic!("could not install {} for the tests: {err}", model.name);
        }
        store.model_dir(model.name)
    })
    .clone()
}

/// Loads the model once, because its weights take 1.2 GB.
fn embedder() -> &'static Embedder {
    static MODEL: OnceLock<Embedder> = OnceLock::new();
    MODEL.get_or_init(|| Embedder::load(&model_dir()).unwrap())
}

fn reference_vectors(sentences: &[&str]) -> Vec<Vec<f32>> {
    common::reference_vectors("embed_gemma_reference.py", &model_dir(), sentences)
}

#[test]
fn gemma_matches_numpy_reference() {
    // One batch: the shorter sentences are padded, which must not change them.
    let vectors = embedder().embed_batched(&SENTENCES, 4).unwrap();
    let reference = reference_vectors(&SENTENCES);
    for (sentence, (ours, theirs)) in SENTENCES.iter().zip(vectors.iter().zip(&reference)) {
        assert_eq!(ours.len(), 768);
        assert_eq!(theirs.len(), 768);
        let max_diff = ours
            .iter()
            .zip(theirs)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        assert!(max_diff < 1e-3, "`{sentence}`: max difference {max_diff}");
    }
}

#[test]
fn translations_are_closer_than_other_texts() {
    let vectors = embedder().embed_for("STS", &SENTENCES).unwrap();
    let spanish = cosine(&vectors[0], &vectors[1]);
    let german = cosine(&vectors[0], &vectors[2]);
    let unrelated = cosine(&vectors[0], &vectors[3]);
    eprintln!("cosine es {spanish:.3}, de (shorter) {german:.3}, unrelated {unrelated:.3}");
    assert!(
        spanish > unrelated + 0.3,
        "es {spanish}, unrelated {unrelated}"
    );
    assert!(
        german > unrelated + 0.2,
        "de {german}, unrelated {unrelated}"
    );
}

#[test]
fn gemma_prompts_come_from_the_model_folder() {
    assert_eq!(
        embedder().prompt("STS"),
        Some("task: sentence similarity | query: ")
    );
    assert_eq!(embedder().prompt("no such task"), None);
    assert_eq!(embedder().dimension(), 768);
}
