//! Writes the tiny random-weight CTranslate2 translation model of
//! `tiny_nmt_model.py`, for the tests of the models and CLI crates.

use std::path::Path;
use std::process::Command;

/// Runs `tiny_nmt_model.py` with python3 to write the model into `dir`.
pub fn write_tiny_nmt_model(dir: &Path) {
    // The path goes through `../models`, so it is the same from either crate.
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../models/tests/tiny_nmt_model.py");
    let output = Command::new("python3")
        .arg(&script)
        .arg(dir)
        .output()
        .expect("python3 is needed for the nmt tests; run scripts/setup");
    assert!(
        output.status.success(),
        "{} failed; it needs numpy, ctranslate2 and tokenizers \
         (`python3 -m pip install numpy ctranslate2 tokenizers`, or run scripts/setup):\n{}",
        script.display(),
        String::from_utf8_lossy(&output.stderr)
    );
}
