//! Benchmark of the model runtimes, written to bench/results/models.json.
//!
//! Measures sentence embeddings per second by batch size (candle), prompt
//! and output tokens per second (llama.cpp), and the real-time factor of
//! Whisper transcription (ct2rs) beside faster-whisper on the same
//! CTranslate2 model and the same audio in the same run
//! (bench/models_faster_whisper.py). Run it through bench/models_bench.sh.
//!
//! Usage: models_bench DATA_DIR OUTPUT_JSON WORK_DIR

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use mercator_models::defaults;
use mercator_models::embed::Embedder;
use mercator_models::fetch;
use mercator_models::generate::llama::LlamaGenerator;
use mercator_models::generate::{GenerateRequest, TextGenerator};
use mercator_models::speech::audio::load_audio;
use mercator_models::speech::Transcriber;
use mercator_models::store::ModelStore;
use serde_json::{json, Value};

const PRODUCT_TITLES: [&str; 8] = [
    "Wireless noise-cancelling headphones with 30 hour battery",
    "Men's waterproof hiking boots, leather, size 44",
    "Stainless steel insulated water bottle 750 ml",
    "Organic cotton baby bodysuit, pack of three",
    "Ceramic pour-over coffee dripper with paper filters",
    "Kids' winter jacket with detachable hood",
    "Bamboo cutting board set for the kitchen",
    "LED desk lamp with USB charging port and dimmer",
];

const SPOKEN_QUERIES: [&str; 6] = [
    "show me red running shoes",
    "wireless headphones with noise cancelling",
    "waterproof hiking boots for women",
    "organic green tea from japan",
    "children's winter jacket",
    "wooden toys for toddlers",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 4 {
        return Err("usage: models_bench DATA_DIR OUTPUT_JSON WORK_DIR".into());
    }
    let data_dir = PathBuf::from(&args[1]);
    let output = PathBuf::from(&args[2]);
    let work_dir = PathBuf::from(&args[3]);
    std::fs::create_dir_all(&work_dir)?;

    let store = ModelStore::new(&data_dir);
    for model in &defaults::ALL {
        fetch::pull_default(&store, model, false)?;
    }

    let results = json!({
        "machine": machine(),
        "embeddings": bench_embeddings(&store.model_dir(defaults::EMBEDDING.name))?,
        "generation": bench_generation(&store.model_dir(defaults::LLM.name))?,
        "transcription": bench_transcription(&store.model_dir(defaults::SPEECH.name), &work_dir)?,
    });
    std::fs::write(&output, serde_json::to_string_pretty(&results)? + "\n")?;
    eprintln!("wrote {}", output.display());
    Ok(())
}

fn machine() -> Value {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|line| line.starts_with("model name"))
                .and_then(|line| line.split(':').nth(1))
                .map(|name| name.trim().to_string())
        })
        .unwrap_or_default();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    json!({ "cpu": cpu, "cores": cores })
}

fn bench_embeddings(dir: &Path) -> Result<Value, Box<dyn std::error::Error>> {
    let start = Instant::now();
    let embedder = Embedder::load(dir)?;
    let load_seconds = start.elapsed().as_secs_f64();

    let texts: Vec<&str> = PRODUCT_TITLES.iter().cycle().take(512).copied().collect();
    embedder.embed_batched(&texts[..64], 64)?;
    let mut by_batch = Vec::new();
    for batch_size in [1, 8, 32, 64, 128] {
        let start = Instant::now();
        embedder.embed_batched(&texts, batch_size)?;
        let seconds = start.elapsed().as_secs_f64();
        let rate = texts.len() as f64 / seconds;
        eprintln!("embeddings: batch {batch_size}: {rate:.0} sentences/s");
        by_batch.push(json!({ "batch_size": batch_size, "sentences_per_second": round(rate, 1) }));
    }

    let start = Instant::now();
    let n_queries = 50;
    for i in 0..n_queries {
        embedder.embed(&[PRODUCT_TITLES[i % PRODUCT_TITLES.len()]])?;
    }
    let query_ms = start.elapsed().as_secs_f64() * 1000.0 / n_queries as f64;

    Ok(json!({
        "model": defaults::EMBEDDING.name,
        "sentences": texts.len(),
        "load_seconds": round(load_seconds, 3),
        "single_query_ms": round(query_ms, 2),
        "by_batch_size": by_batch,
    }))
}

fn bench_generation(dir: &Path) -> Result<Value, Box<dyn std::error::Error>> {
    let start = Instant::now();
    let mut generator = LlamaGenerator::load(dir)?;
    let load_seconds = start.elapsed().as_secs_f64();

    let prompt = format!(
        "Product catalog of an online shop that ships to Germany, France and Spain:\n{}\nNext product:",
        PRODUCT_TITLES.join("\n")
    );
    let request = GenerateRequest {
        max_tokens: 128,
        temperature: 0.8,
        seed: 1,
        use_chat_template: false,
        ..GenerateRequest::new(prompt)
    };
    generator.generate(
        &GenerateRequest {
            max_tokens: 4,
            ..request.clone()
        },
        &mut |_| {},
    )?;

    let mut runs = Vec::new();
    for _ in 0..3 {
        runs.push(generator.generate(&request, &mut |_| {})?);
    }
    let prompt_rate = median(
        runs.iter()
            .map(|g| g.prompt_tokens as f64 / g.prompt_seconds),
    );
    let output_rate = median(
        runs.iter()
            .map(|g| g.output_tokens as f64 / g.output_seconds),
    );
    eprintln!("generation: prompt {prompt_rate:.0} tokens/s, output {output_rate:.1} tokens/s");
    Ok(json!({
        "model": defaults::LLM.name,
        "load_seconds": round(load_seconds, 3),
        "prompt_tokens": runs[0].prompt_tokens,
        "output_tokens": runs[0].output_tokens,
        "runs": runs.len(),
        "prompt_tokens_per_second": round(prompt_rate, 1),
        "output_tokens_per_second": round(output_rate, 1),
    }))
}

fn bench_transcription(dir: &Path, work_dir: &Path) -> Result<Value, Box<dyn std::error::Error>> {
    let audio_path = spoken_audio(work_dir)?;
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());

    let transcriber = Transcriber::load_with_threads(dir, threads)?;
    transcriber.transcribe_file(&audio_path)?;
    let mut rtfs = Vec::new();
    let mut text = String::new();
    let mut duration = 0.0;
    for _ in 0..3 {
        let transcript = transcriber.transcribe_file(&audio_path)?;
        rtfs.push(transcript.processing_seconds / transcript.duration_seconds);
        duration = transcript.duration_seconds;
        text = transcript.text;
    }
    let mercator_rtf = median(rtfs.into_iter());
    eprintln!("transcription: mercator RTF {mercator_rtf:.3}");

    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../bench/models_faster_whisper.py"
    );
    let output = Command::new("python3")
        .arg(script)
        .arg(dir)
        .arg(&audio_path)
        .arg(threads.to_string())
        .output()?;
    let peer: Value = if output.status.success() {
        serde_json::from_slice(&output.stdout)?
    } else {
        json!({ "error": String::from_utf8_lossy(&output.stderr).trim().to_string() })
    };
    eprintln!("transcription: faster-whisper {peer}");

    Ok(json!({
        "model": defaults::SPEECH.name,
        "audio_seconds": round(duration, 2),
        "beam_size": 5,
        "compute_type": "int8",
        "threads": threads,
        "mercator": { "real_time_factor": round(mercator_rtf, 4), "text": text },
        "faster_whisper": peer,
    }))
}

/// Speaks the queries with espeak-ng and joins them, with one second of
/// silence between them, into one 16 kHz WAV file.
fn spoken_audio(work_dir: &Path) -> Result<PathBuf, Box<dyn std::error::Error>> {
    let rate = 16_000;
    let mut samples = Vec::new();
    for (i, query) in SPOKEN_QUERIES.iter().enumerate() {
        let path = work_dir.join(format!("query-{i}.wav"));
        let status = Command::new("espeak-ng")
            .args(["-v", "en-us", "-s", "150", "-w"])
            .arg(&path)
            .arg(query)
            .status()?;
        if !status.success() {
            return Err(format!("espeak-ng failed for {query:?}").into());
        }
        samples.extend(load_audio(&path, rate)?.samples);
        samples.extend(std::iter::repeat_n(0.0f32, rate as usize));
    }
    let path = work_dir.join("queries.wav");
    mercator_models::speech::audio::write_wav(&path, &samples, rate)?;
    Ok(path)
}

fn median(values: impl Iterator<Item = f64>) -> f64 {
    let mut values: Vec<f64> = values.collect();
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn round(value: f64, digits: i32) -> f64 {
    let scale = 10f64.powi(digits);
    (value * scale).round() / scale
}
