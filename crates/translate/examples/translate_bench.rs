//! Benchmark of the translation pipeline against the raw engine.
//!
//! Measures, on the same machine and input:
//! - chrF and BLEU of raw Apertium and of the full pipeline on Tatoeba
//!   eng-spa (1,000 sentence pairs);
//! - segments per second of both and the pipeline's overhead ratio;
//! - on upper-case Online Retail descriptions (no references): mean QE
//!   score, share of flagged segments and unknown-word rate, raw vs
//!   pipeline;
//! - the agreement (Spearman, Pearson) of the QE score with human MQM
//!   scores of the WMT 2022 chat task, per language pair, with the default
//!   weights and with weights fitted on the other half of the documents.
//!
//! The data sets are read from `../shared/data` beside the checkout (they
//! are not part of the repository). Run with
//! `cargo run --release -p mercator-translate --example translate_bench`;
//! it writes `bench/results/translate.json`.

use std::collections::{BTreeMap, HashSet};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Instant;

use mercator_translate::catalog::Listing;
use mercator_translate::engine::{Apertium, Engine};
use mercator_translate::lang::{Language, LanguagePair};
use mercator_translate::metrics::{bleu, chrf, pearson, spearman};
use mercator_translate::pipeline::{Options, Pipeline};
use mercator_translate::qe::{self, Signals, Weights};
use serde_json::json;

const RUNS: usize = 3;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let manifest = std::env::var("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from(env!("CARGO_MANIFEST_DIR")));
    let root = manifest.join("../..");
    let data = root.join("../shared/data");
    if !data.is_dir() {
        eprintln!("skipped: {} is absent", data.display());
        return Ok(());
    }
    let engine = Apertium::detect()?;
    let pair = LanguagePair::new("en", "es");

    let tatoeba = tatoeba(&engine, &pair, &data)?;
    let retail = online_retail(&engine, &pair, &data)?;
    let qe = qe_calibration(&data)?;

    let results = json!({
        "machine": machine(),
        "engine": "apertium 3.8.3, apertium-eng-spa 0.8.1",
        "tatoeba_eng_spa": tatoeba,
        "online_retail_descriptions": retail,
        "qe_vs_mqm": qe,
    });
    let out = root.join("bench/results/translate.json");
    std::fs::create_dir_all(out.parent().expect("has a parent"))?;
    std::fs::write(&out, serde_json::to_string_pretty(&results)? + "\n")?;
    println!("{}", serde_json::to_string_pretty(&results)?);
    eprintln!("written to {}", out.display());
    Ok(())
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|line| line.starts_with("model name"))
                .and_then(|line| line.split(':').nth(1))
                .map(|name| name.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".to_string());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    format!("{cpu}, {cores} cores")
}

fn listings(texts: &[String]) -> Vec<Listing> {
    texts
        .iter()
        .enumerate()
        .map(|(i, text)| Listing {
            sku: format!("S{i}"),
            title: text.clone(),
            ..Listing::default()
        })
        .collect()
}

/// Median wall time in seconds of `RUNS` calls of `run`, and its last result.
fn timed<T>(mut run: impl FnMut() -> T) -> (f64, T) {
    let mut times = Vec::new();
    let mut last = None;
    for _ in 0..RUNS {
        let started = Instant::now();
        last = Some(run());
        times.push(started.elapsed().as_secs_f64());
    }
    times.sort_by(f64::total_cmp);
    (times[RUNS / 2], last.expect("RUNS > 0"))
}

fn raw(engine: &Apertium, pair: &LanguagePair, texts: &[String]) -> Vec<String> {
    engine
        .translate(pair, texts)
        .expect("apertium runs")
        .into_iter()
        .map(|output| output.map(|o| o.text).unwrap_or_default())
        .collect()
}

fn pipeline(engine: &Apertium, texts: &[String], round_trip: bool) -> Vec<(String, f64, bool)> {
    let options = Options {
        round_trip,
        ..Options::default()
    };
    let mut pipeline = Pipeline::new(engine, None, options);
    let run = pipeline
        .translate(&listings(texts), "es", &mut |_| {})
        .expect("pipeline runs");
    run.listings
        .into_iter()
        .map(|listing| {
            let flagged = listing.score < 70.0;
            (listing.translated.title, listing.score, flagged)
        })
        .collect()
}

fn tatoeba(
    engine: &Apertium,
    pair: &LanguagePair,
    data: &Path,
) -> Result<serde_json::Value, Box<dyn std::error::Error>> {
    let text = std::fs::read_to_string(data.join("tatoeba_laser_eng_pairs/tsv/eng-spa.tsv"))?;
    let (sources, references): (Vec<String>, Vec<String>) = text
        .lines()
        .skip(1)
        .filter_map(|line| line.split_once('\t'))
        .map(|(en, es)| (en.to_string(), es.to_string()))
        .unzip();

    let (raw_seconds, raw_outputs) = timed(|| raw(engine, pair, &sources));
    let (pipeline_seconds, pipeline_outputs) = timed(|| pipeline(engine, &sources, false));
    let (round_trip_seconds, _) = timed(|| pipeline(engine, &sources, true));
    let pipeline_texts: Vec<String> = pipeline_outputs
        .iter()
        .map(|(text, _, _)| text.clone())
        .collect();
    let n = sources.len() as f64;

    Ok(json!({
        "segments": sources.len(),
        "raw": { "chrf": round2(chrf(&raw_outputs, &references)), "bleu": round2(bleu(&raw_outputs, &references)),
                 "seconds": round3(raw_seconds), "segments_per_second": round1(n / raw_seconds) },
        "pipeline": { "chrf": round2(chrf(&pipeline_texts, &references)), "bleu": round2(bleu(&pipeline_texts, &references)),
                      "seconds": round3(pipeline_seconds), "segments_per_second": round1(n / pipeline_seconds),
                      "share_flagged": round3(pipeline_outputs.iter().filter(|(_, _, f)| *f).count() as f64 / n) },
        "overhead_ratio": round3(pipeline_seconds / raw_seconds),
        "pipeline_with_round_trip": { "seconds": round3(round_trip_seconds), "segments_per_second": round1(n / round_trip_seconds) },
        "runs": RUNS,
    }))
}

fn online_retail(
    engine: &Apertium,
    pair: &LanguagePair,
    data: &Path,
) -> Result<serde_json::Value, Box<dyn std::error::Error>> {
    let mut csv_text = String::new();
    flate2::read::GzDecoder::new(std::fs::File::open(
        data.join("online_retail/online_retail.csv.gz"),
    )?)
    .read_to_string(&mut csv_text)?;
    let mut reader = csv::Reader::from_reader(csv_text.as_bytes());
    let mut seen = HashSet::new();
    let mut descriptions = Vec::new();
    for record in reader.records() {
        let record = record?;
        let description = record.get(2).unwrap_or("").trim().to_string();
        if description.len() > 3
            && mercator_translate::casing::is_upper_case(&description)
            && seen.insert(description.clone())
        {
            descriptions.push(description);
        }
        if descriptions.len() == 2000 {
            break;
        }
    }

    let (raw_seconds, raw_outputs) = timed(|| raw(engine, pair, &descriptions));
    let spanish = Language::lookup("es").expect("Spanish is listed");
    let weights = Weights::default();
    // The raw output is scored with the same checks as the pipeline's
    // segments, unknown words included.
    let raw_unknown: Vec<usize> = engine
        .translate(pair, &descriptions)?
        .into_iter()
        .map(|o| o.map(|o| o.unknown_words.len()).unwrap_or(0))
        .collect();
    let raw_scores: Vec<f64> = descriptions
        .iter()
        .zip(&raw_outputs)
        .zip(&raw_unknown)
        .map(|((source, output), unknown)| {
            let mut signals = qe::text_signals(&qe::Segment {
                source,
                output,
                source_lang: "en",
                target_lang: "es",
                expected_length_ratio: spanish.length_ratio_from_english,
            });
            signals.unknown_words =
                *unknown as f64 / output.split_whitespace().count().max(1) as f64;
            signals.score(&weights)
        })
        .collect();
    let raw_unknown: usize = raw_unknown.iter().sum();
    let (pipeline_seconds, outputs) = timed(|| pipeline(engine, &descriptions, false));
    let n = descriptions.len() as f64;
    let upper_left = outputs
        .iter()
        .filter(|(text, _, _)| mercator_translate::casing::is_upper_case(text))
        .count();
    let raw_upper = raw_outputs
        .iter()
        .filter(|text| mercator_translate::casing::is_upper_case(text))
        .count();

    Ok(json!({
        "segments": descriptions.len(),
        "raw": {
            "mean_qe": round1(raw_scores.iter().sum::<f64>() / n),
            "share_flagged": round3(raw_scores.iter().filter(|&&s| s < 70.0).count() as f64 / n),
            "unknown_words_per_segment": round3(raw_unknown as f64 / n),
            "outputs_still_upper_case": raw_upper,
            "segments_per_second": round1(n / raw_seconds),
        },
        "pipeline": {
            "mean_qe": round1(outputs.iter().map(|(_, s, _)| s).sum::<f64>() / n),
            "share_flagged": round3(outputs.iter().filter(|(_, _, f)| *f).count() as f64 / n),
            "outputs_still_upper_case": upper_left,
            "segments_per_second": round1(n / pipeline_seconds),
        },
        "examples": descriptions.iter().zip(&raw_outputs).zip(&outputs).take(5)
            .map(|((source, raw), (pipeline, score, _))| json!({"source": source, "raw": raw, "pipeline": pipeline, "qe": score}))
            .collect::<Vec<_>>(),
    }))
}

/// Signals used for the MQM fit: the text checks that need no engine.
const FIT_SIGNALS: [&str; 7] = [
    "untranslated",
    "wrong_language",
    "number_mismatch",
    "length_deviation",
    "repetition",
    "punctuation_mismatch",
    "source_complexity",
];

fn features(signals: &Signals) -> Vec<f64> {
    let values = signals.values();
    FIT_SIGNALS
        .iter()
        .map(|name| {
            values[Signals::NAMES
                .iter()
                .position(|n| n == name)
                .expect("known signal")]
        })
        .collect()
}

struct MqmSegment {
    lp: String,
    doc: String,
    features: Vec<f64>,
    mqm: f64,
}

fn qe_calibration(data: &Path) -> Result<serde_json::Value, Box<dyn std::error::Error>> {
    let folder = data.join("wmt22_chat_customer_support/mqm-annotations");
    let mut segments = Vec::new();
    for pair_dir in std::fs::read_dir(&folder)? {
        for file in std::fs::read_dir(pair_dir?.path())? {
            let mut reader = csv::Reader::from_path(file?.path())?;
            let headers = reader.headers()?.clone();
            let column = |name: &str| headers.iter().position(|h| h == name).expect("MQM column");
            let (lp, doc, source, mt, mqm, sl, tl) = (
                column("lp"),
                column("doc_id"),
                column("source"),
                column("mt"),
                column("mqm"),
                column("source_language"),
                column("target_language"),
            );
            for record in reader.records() {
                let record = record?;
                let code = |i: usize| record[i].split('-').next().unwrap_or("").to_string();
                let (source_lang, target_lang) = (code(sl), code(tl));
                let ratio = if source_lang == "en" {
                    Language::lookup(&target_lang).map_or(1.1, |l| l.length_ratio_from_english)
                } else {
                    1.0 / Language::lookup(&source_lang)
                        .map_or(1.1, |l| l.length_ratio_from_english)
                };
                let signals = qe::text_signals(&qe::Segment {
                    source: &record[source],
                    output: &record[mt],
                    source_lang: &source_lang,
                    target_lang: &target_lang,
                    expected_length_ratio: ratio,
                });
                segments.push(MqmSegment {
                    lp: record[lp].to_string(),
                    doc: record[doc].to_string(),
                    features: features(&signals),
                    mqm: record[mqm].parse().unwrap_or(100.0),
                });
            }
        }
    }

    // Fit on documents of one hash parity, evaluate on the other.
    let in_fit = |doc: &str| {
        doc.bytes()
            .fold(2166136261u32, |h, b| (h ^ b as u32).wrapping_mul(16777619))
            % 2
            == 0
    };
    let fit: Vec<&MqmSegment> = segments.iter().filter(|s| in_fit(&s.doc)).collect();
    let fitted = fit_penalties(&fit);
    let default_weights = {
        let weights = Weights::default().values();
        let names = Signals::NAMES;
        FIT_SIGNALS
            .iter()
            .map(|name| weights[names.iter().position(|n| n == name).expect("known")])
            .collect::<Vec<f64>>()
    };

    let mut per_pair = BTreeMap::new();
    let lps: Vec<String> = {
        let mut lps: Vec<String> = segments.iter().map(|s| s.lp.clone()).collect();
        lps.sort();
        lps.dedup();
        lps
    };
    for lp in lps {
        let eval: Vec<&MqmSegment> = segments
            .iter()
            .filter(|s| s.lp == lp && !in_fit(&s.doc))
            .collect();
        let human: Vec<f64> = eval.iter().map(|s| s.mqm).collect();
        let score = |weights: &[f64]| -> Vec<f64> {
            eval.iter()
                .map(|s| {
                    (100.0
                        - s.features
                            .iter()
                            .zip(weights)
                            .map(|(f, w)| f * w)
                            .sum::<f64>())
                    .clamp(0.0, 100.0)
                })
                .collect()
        };
        let with_default = score(&default_weights);
        let with_fitted = score(&fitted);
        per_pair.insert(lp, json!({
            "segments": eval.len(),
            "share_with_errors": round3(human.iter().filter(|&&m| m < 100.0).count() as f64 / human.len().max(1) as f64),
            "default_weights": { "spearman": round3(spearman(&with_default, &human)), "pearson": round3(pearson(&with_default, &human)) },
            "fitted_weights": { "spearman": round3(spearman(&with_fitted, &human)), "pearson": round3(pearson(&with_fitted, &human)) },
        }));
    }
    Ok(json!({
        "signals": FIT_SIGNALS,
        "fit_segments": fit.len(),
        "fitted_weights": FIT_SIGNALS.iter().zip(&fitted).map(|(n, w)| (n.to_string(), round2(*w))).collect::<BTreeMap<_, _>>(),
        "default_weights": FIT_SIGNALS.iter().zip(&default_weights).map(|(n, w)| (n.to_string(), *w)).collect::<BTreeMap<_, _>>(),
        "per_pair_held_out": per_pair,
    }))
}

/// Least-squares penalties: MQM (clipped to 0..100) ~ 100 - sum(w * f),
/// solved by the normal equations, negative weights set to 0.
fn fit_penalties(segments: &[&MqmSegment]) -> Vec<f64> {
    let k = FIT_SIGNALS.len();
    let mut xtx = vec![vec![0.0; k]; k];
    let mut xty = vec![0.0; k];
    for segment in segments {
        let target = 100.0 - segment.mqm.clamp(0.0, 100.0);
        for (i, row) in xtx.iter_mut().enumerate() {
            xty[i] += segment.features[i] * target;
            for (j, cell) in row.iter_mut().enumerate() {
                *cell += segment.features[i] * segment.features[j];
            }
        }
    }
    // A small ridge keeps signals that never fire from making it singular.
    for (i, row) in xtx.iter_mut().enumerate() {
        row[i] += 1e-3;
    }
    solve(xtx, xty).into_iter().map(|w| w.max(0.0)).collect()
}

/// Gaussian elimination with partial pivoting.
fn solve(mut a: Vec<Vec<f64>>, mut b: Vec<f64>) -> Vec<f64> {
    let n = b.len();
    for col in 0..n {
        let pivot = (col..n)
            .max_by(|&i, &j| a[i][col].abs().total_cmp(&a[j][col].abs()))
            .expect("non-empty");
        a.swap(col, pivot);
        b.swap(col, pivot);
        let pivot_row = a[col].clone();
        for row in col + 1..n {
            let factor = a[row][col] / pivot_row[col];
            for (cell, pivot_cell) in a[row][col..].iter_mut().zip(&pivot_row[col..]) {
                *cell -= factor * pivot_cell;
            }
            b[row] -= factor * b[col];
        }
    }
    let mut x = vec![0.0; n];
    for row in (0..n).rev() {
        let sum: f64 = (row + 1..n).map(|k| a[row][k] * x[k]).sum();
        x[row] = (b[row] - sum) / a[row][row];
    }
    x
}

fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}
fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}
fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}
