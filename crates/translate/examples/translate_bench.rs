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
//!   weights and with weights fitted on the other half of the documents;
//!   on a sample of each pair, also with the model signals of `--qe-model`:
//!   the language-model ones with the `llama` feature and `QE_MODEL` set to
//!   a GGUF model, the meaning drift with `QE_EMBEDDING` set to a
//!   multilingual embedding model folder; and a quality estimator trained
//!   on the sample's fit half from the same signals and model outputs.
//!
//! `QE_CACHE=FILE` keeps the models' outputs in FILE and reuses them on
//! the next run with the same models.
//!
//! `BENCH_ONLY=qe` reruns the QE part alone and `BENCH_ONLY=pipeline` the
//! pipeline part alone; each keeps the other recorded results.
//!
//! The data sets are read from `../shared/data` beside the checkout (they
//! are not part of the repository). Run with
//! `cargo run --release -p mercator-translate --example translate_bench`;
//! it writes `bench/results/translate.json`.

use std::collections::{BTreeMap, HashSet};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Instant;

use mercator_models::embed::{cosine, Embedder};
use mercator_models::generate::TokenScorer;
use mercator_translate::catalog::Listing;
use mercator_translate::engine::{Apertium, Engine};
use mercator_translate::estimator::{
    agreement_of_scores, agreement_per_pair, distinct_pairs, Evidence, Example, Inputs,
    QualityEstimator, TEXT_SIGNALS,
};
use mercator_translate::lang::{Language, LanguagePair};
use mercator_translate::metrics::{bleu, chrf, pearson, spearman};
use mercator_translate::pipeline::{Options, Pipeline};
use mercator_translate::qe::{self, Signals, Weights};
use serde_json::json;

const RUNS: usize = 9;

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

    let out = root.join("bench/results/translate.json");
    // BENCH_ONLY=qe reruns the QE calibration alone, and BENCH_ONLY=pipeline
    // the pipeline measurements alone; each keeps the rest of the recorded
    // results.
    let only = std::env::var("BENCH_ONLY").unwrap_or_default();
    let recorded = || -> Result<serde_json::Value, Box<dyn std::error::Error>> {
        Ok(serde_json::from_str(&std::fs::read_to_string(&out)?)?)
    };
    let mut results = if only == "qe" {
        recorded()?
    } else {
        json!({
            "machine": machine(),
            "engine": "apertium 3.8.3, apertium-eng-spa 0.8.1",
            "tatoeba_eng_spa": tatoeba(&engine, &pair, &data)?,
            "online_retail_descriptions": online_retail(&engine, &pair, &data)?,
        })
    };
    results["qe_vs_mqm"] = if only == "pipeline" {
        recorded()?["qe_vs_mqm"].take()
    } else {
        qe_calibration(&data)?
    };
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

/// Median wall times in seconds of `RUNS` calls of `first` and `second`,
/// called in turn so that a change in the machine's load affects both
/// alike, and their last results.
fn timed_pair<A, B>(
    mut first: impl FnMut() -> A,
    mut second: impl FnMut() -> B,
) -> (f64, A, f64, B) {
    let (mut first_times, mut second_times) = (Vec::new(), Vec::new());
    let (mut first_last, mut second_last) = (None, None);
    for _ in 0..RUNS {
        let started = Instant::now();
        first_last = Some(first());
        first_times.push(started.elapsed().as_secs_f64());
        let started = Instant::now();
        second_last = Some(second());
        second_times.push(started.elapsed().as_secs_f64());
    }
    let median = |mut times: Vec<f64>| {
        times.sort_by(f64::total_cmp);
        times[RUNS / 2]
    };
    (
        median(first_times),
        first_last.expect("RUNS > 0"),
        median(second_times),
        second_last.expect("RUNS > 0"),
    )
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

    let (raw_seconds, raw_outputs, pipeline_seconds, pipeline_outputs) = timed_pair(
        || raw(engine, pair, &sources),
        || pipeline(engine, &sources, false),
    );
    let (round_trip_seconds, _, _, _) = timed_pair(|| pipeline(engine, &sources, true), || ());
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

    let (raw_seconds, raw_outputs, pipeline_seconds, outputs) = timed_pair(
        || raw(engine, pair, &descriptions),
        || pipeline(engine, &descriptions, false),
    );
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
                // As in the pipeline: Apertium reports its unknown words.
                identify_language: !engine.closed_vocabulary(),
            });
            signals.unknown_words =
                *unknown as f64 / output.split_whitespace().count().max(1) as f64;
            signals.score(&weights)
        })
        .collect();
    let raw_unknown: usize = raw_unknown.iter().sum();
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
const FIT_SIGNALS: [&str; 7] = TEXT_SIGNALS;

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
    segment: String,
    source: String,
    mt: String,
    source_lang: String,
    target_lang: String,
    signals: Signals,
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
            let (lp, doc, segment_id, source, mt, mqm, sl, tl) = (
                column("lp"),
                column("doc_id"),
                column("segment_id"),
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
                    identify_language: true,
                });
                segments.push(MqmSegment {
                    lp: record[lp].to_string(),
                    doc: record[doc].to_string(),
                    segment: record[segment_id].to_string(),
                    source: record[source].to_string(),
                    mt: record[mt].to_string(),
                    source_lang,
                    target_lang,
                    features: features(&signals),
                    signals,
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
    let with_model = model_calibration(&segments, &in_fit)?;
    Ok(json!({
        "with_models": with_model,
        "signals": FIT_SIGNALS,
        "fit_segments": fit.len(),
        "fitted_weights": FIT_SIGNALS.iter().zip(&fitted).map(|(n, w)| (n.to_string(), round2(*w))).collect::<BTreeMap<_, _>>(),
        "default_weights": FIT_SIGNALS.iter().zip(&default_weights).map(|(n, w)| (n.to_string(), *w)).collect::<BTreeMap<_, _>>(),
        "per_pair_held_out": per_pair,
    }))
}

/// Segments per language pair scored with the models; one forward pass
/// each, so the whole data set would take most of an hour.
const MODEL_SEGMENTS_PER_PAIR: usize = 700;

/// A scoring language model and the path it was loaded from.
type NamedScorer = (String, Box<dyn TokenScorer>);

/// The scoring language model of `QE_MODEL` (a GGUF file or model folder),
/// with its path; `None` without it or without the `llama` feature.
#[cfg(feature = "llama")]
fn language_model() -> Result<Option<NamedScorer>, Box<dyn std::error::Error>> {
    use mercator_models::generate::llama::LlamaGenerator;

    let Ok(path) = std::env::var("QE_MODEL") else {
        eprintln!("language-model QE skipped: set QE_MODEL to a GGUF model");
        return Ok(None);
    };
    let model = LlamaGenerator::load(Path::new(&path))?.with_context_tokens(2048);
    Ok(Some((path, Box::new(model))))
}

#[cfg(not(feature = "llama"))]
fn language_model() -> Result<Option<NamedScorer>, Box<dyn std::error::Error>> {
    eprintln!("language-model QE skipped: build with --features llama and set QE_MODEL");
    Ok(None)
}

/// Adds the model signals of `--qe-model` on a sample of each pair
/// (`MODEL_SEGMENTS_PER_PAIR`, chosen by a hash of document and segment):
/// the language-model signals with `QE_MODEL`, and the meaning drift with
/// `QE_EMBEDDING` (a multilingual embedding model folder). On held-out
/// documents it compares the text checks alone with the text checks plus
/// the models, with default and fitted weights, and each model alone.
fn model_calibration(
    segments: &[MqmSegment],
    in_fit: &dyn Fn(&str) -> bool,
) -> Result<serde_json::Value, Box<dyn std::error::Error>> {
    let scorer = language_model()?;
    let embedding_path = std::env::var("QE_EMBEDDING").ok();
    if embedding_path.is_none() {
        eprintln!(
            "meaning-drift QE skipped: set QE_EMBEDDING to a multilingual embedding model folder"
        );
    }
    let embedder = match &embedding_path {
        Some(path) => Some(Embedder::load(Path::new(path))?),
        None => None,
    };
    if scorer.is_none() && embedder.is_none() {
        return Ok(json!(null));
    }
    let mut extra_names: Vec<&str> = Vec::new();
    if scorer.is_some() {
        extra_names.extend(["lm_surprise", "lm_worst_token"]);
    }
    if embedder.is_some() {
        extra_names.push("meaning_drift");
    }

    let per_pair: usize = std::env::var("QE_MODEL_SEGMENTS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(MODEL_SEGMENTS_PER_PAIR);
    let hash = |text: &str| {
        text.bytes()
            .fold(2166136261u32, |h, b| (h ^ b as u32).wrapping_mul(16777619))
    };
    let mut order: Vec<usize> = (0..segments.len()).collect();
    order.sort_by_key(|&i| {
        hash(&format!(
            "{}#{}#{}",
            segments[i].doc, segments[i].segment, segments[i].mt
        ))
    });
    let mut per_pair_count: BTreeMap<&str, usize> = BTreeMap::new();
    let mut chosen: Vec<&MqmSegment> = Vec::new();
    for index in order {
        let segment = &segments[index];
        let count = per_pair_count.entry(&segment.lp).or_default();
        if *count < per_pair {
            *count += 1;
            chosen.push(segment);
        }
    }

    let mut timings = serde_json::Map::new();
    let mut sample: Vec<MqmSegment> = chosen
        .iter()
        .map(|segment| MqmSegment {
            lp: segment.lp.clone(),
            doc: segment.doc.clone(),
            segment: segment.segment.clone(),
            source: String::new(),
            mt: String::new(),
            source_lang: String::new(),
            target_lang: String::new(),
            signals: Signals::default(),
            features: segment.features.clone(),
            mqm: segment.mqm,
        })
        .collect();
    let mut logprobs_of: Vec<Vec<f32>> = Vec::new();
    let mut baseline_of: Vec<Vec<f32>> = Vec::new();
    let mut vectors_of: Vec<(Vec<f32>, Vec<f32>)> = Vec::new();
    let cache_path = std::env::var("QE_CACHE").ok().map(PathBuf::from);
    let mut cache = ModelCache::open(
        cache_path.as_deref(),
        scorer.as_ref().map(|(path, _)| path.as_str()),
        embedding_path.as_deref(),
    );
    let key = |segment: &MqmSegment| {
        format!(
            "{}#{}#{}#{}",
            segment.lp, segment.doc, segment.segment, segment.mt
        )
    };
    if let Some((_, scorer)) = &scorer {
        let started = Instant::now();
        for (segment, row) in chosen.iter().zip(&mut sample) {
            let (prompt, continuation) = qe::lm_prompt(
                &segment.source,
                &segment.source_lang,
                &segment.mt,
                &segment.target_lang,
            );
            let logprobs = match cache.logprobs.get(&key(segment)) {
                Some(logprobs) => logprobs.clone(),
                None => {
                    let logprobs = scorer.continuation_logprobs(&prompt, &continuation)?;
                    cache.logprobs.insert(key(segment), logprobs.clone());
                    logprobs
                }
            };
            let baseline = match cache.baseline.get(&key(segment)) {
                Some(baseline) => baseline.clone(),
                None => {
                    let prompt = qe::lm_baseline_prompt(&segment.target_lang);
                    let baseline = scorer.continuation_logprobs(&prompt, &continuation)?;
                    cache.baseline.insert(key(segment), baseline.clone());
                    baseline
                }
            };
            baseline_of.push(baseline);
            let mut signals = Signals::default();
            qe::set_lm_signals(&mut signals, &logprobs);
            row.features
                .extend([signals.lm_surprise, signals.lm_worst_token]);
            logprobs_of.push(logprobs);
        }
        let seconds = started.elapsed().as_secs_f64();
        if !cache.loaded {
            cache.speeds.insert(
                "language_model_segments_per_second".into(),
                json!(round1(chosen.len() as f64 / seconds)),
            );
        }
    }
    if let Some(embedder) = &embedder {
        let started = Instant::now();
        for (batch, rows) in chosen.chunks(16).zip(sample.chunks_mut(16)) {
            let cached: Option<Vec<(Vec<f32>, Vec<f32>)>> = batch
                .iter()
                .map(|segment| cache.vectors.get(&key(segment)).cloned())
                .collect();
            let pairs = match cached {
                Some(pairs) => pairs,
                None => {
                    let texts: Vec<&str> = batch
                        .iter()
                        .flat_map(|segment| [segment.source.as_str(), segment.mt.as_str()])
                        .collect();
                    let vectors = embedder.embed_for("STS", &texts)?;
                    let pairs: Vec<(Vec<f32>, Vec<f32>)> = vectors
                        .chunks(2)
                        .map(|pair| (pair[0].clone(), pair[1].clone()))
                        .collect();
                    for (segment, pair) in batch.iter().zip(&pairs) {
                        cache.vectors.insert(key(segment), pair.clone());
                    }
                    pairs
                }
            };
            for (row, pair) in rows.iter_mut().zip(pairs) {
                let similarity = f64::from(cosine(&pair.0, &pair.1));
                row.features.push(qe::meaning_drift(similarity));
                vectors_of.push(pair);
            }
        }
        let seconds = started.elapsed().as_secs_f64();
        if !cache.loaded {
            cache.speeds.insert(
                "embedding_segments_per_second".into(),
                json!(round1(chosen.len() as f64 / seconds)),
            );
        }
    }
    cache.save(cache_path.as_deref())?;
    timings.extend(cache.speeds.clone());

    let text_only = |segment: &MqmSegment| MqmSegment {
        features: segment.features[..FIT_SIGNALS.len()].to_vec(),
        lp: segment.lp.clone(),
        doc: segment.doc.clone(),
        segment: String::new(),
        source: String::new(),
        mt: String::new(),
        source_lang: String::new(),
        target_lang: String::new(),
        signals: Signals::default(),
        mqm: segment.mqm,
    };
    let sample_text: Vec<MqmSegment> = sample.iter().map(text_only).collect();
    let fit_text = fit_penalties(
        &sample_text
            .iter()
            .filter(|s| in_fit(&s.doc))
            .collect::<Vec<_>>(),
    );
    let fit_all = fit_penalties(&sample.iter().filter(|s| in_fit(&s.doc)).collect::<Vec<_>>());
    let names: Vec<&str> = FIT_SIGNALS
        .iter()
        .copied()
        .chain(extra_names.iter().copied())
        .collect();
    let defaults = {
        let weights = Weights::default().values();
        names
            .iter()
            .map(|name| {
                weights[Signals::NAMES
                    .iter()
                    .position(|n| n == name)
                    .expect("known")]
            })
            .collect::<Vec<f64>>()
    };
    let score = |segment: &MqmSegment, weights: &[f64]| {
        (100.0
            - segment
                .features
                .iter()
                .zip(weights)
                .map(|(f, w)| f * w)
                .sum::<f64>())
        .clamp(0.0, 100.0)
    };
    let mut per_pair_out = BTreeMap::new();
    for lp in per_pair_count.keys() {
        let held_out: Vec<usize> = (0..sample.len())
            .filter(|&i| sample[i].lp == *lp && !in_fit(&sample[i].doc))
            .collect();
        let human: Vec<f64> = held_out.iter().map(|&i| sample[i].mqm).collect();
        let agreement = |scores: Vec<f64>| json!({ "spearman": round3(spearman(&scores, &human)), "pearson": round3(pearson(&scores, &human)) });
        let mut row = json!({
            "segments": held_out.len(),
            "text_checks_fitted": agreement(held_out.iter().map(|&i| score(&sample_text[i], &fit_text)).collect()),
            "with_models_default_weights": agreement(held_out.iter().map(|&i| score(&sample[i], &defaults)).collect()),
            "with_models_fitted": agreement(held_out.iter().map(|&i| score(&sample[i], &fit_all)).collect()),
        });
        // Each model's main signal alone, without the text checks.
        for (name, label) in [
            ("lm_surprise", "language_model_alone"),
            ("meaning_drift", "embedding_alone"),
        ] {
            if let Some(position) = names.iter().position(|n| *n == name) {
                row[label] = agreement(
                    held_out
                        .iter()
                        .map(|&i| -sample[i].features[position])
                        .collect(),
                );
            }
        }
        per_pair_out.insert(lp.to_string(), row);
    }
    let pairs = distinct_pairs(
        chosen
            .iter()
            .map(|segment| format!("{}-{}", segment.source_lang, segment.target_lang)),
    );
    let inputs = Inputs {
        language_model: scorer.as_ref().map(|(path, _)| path.clone()),
        embedding_model: vectors_of
            .first()
            .map(|(v, _)| (embedding_path.clone().unwrap_or_default(), v.len())),
        baseline: scorer.is_some(),
        pairs,
        copies: true,
    };
    let examples: Vec<Example> = chosen
        .iter()
        .enumerate()
        .map(|(i, segment)| {
            let evidence = Evidence {
                signals: &segment.signals,
                source: &segment.source,
                translation: &segment.mt,
                pair: &format!("{}-{}", segment.source_lang, segment.target_lang),
                logprobs: logprobs_of.get(i).map(Vec::as_slice),
                baseline: baseline_of.get(i).map(Vec::as_slice),
                vectors: vectors_of.get(i).map(|(s, t)| (s.as_slice(), t.as_slice())),
            };
            Ok(Example {
                features: inputs.features(&evidence)?,
                human: segment.mqm,
                pair: segment.lp.clone(),
                group: segment.doc.clone(),
            })
        })
        .collect::<Result<_, String>>()?;
    // The rows of the fit half, or of the held-out one, to train on.
    let half = |fit: bool| -> Vec<Example> {
        examples
            .iter()
            .filter(|e| in_fit(&e.group) == fit)
            .map(|e| Example {
                features: e.features.clone(),
                human: e.human,
                pair: e.pair.clone(),
                group: e.group.clone(),
            })
            .collect()
    };
    let started = Instant::now();
    let estimator = QualityEstimator::train(inputs, &half(true))?;
    let training_seconds = started.elapsed().as_secs_f64();
    let held_out: Vec<&Example> = examples.iter().filter(|e| !in_fit(&e.group)).collect();
    // The estimate alone, and the score as Mercator gives it: with the
    // hand-set penalties of gross failures and the caps on top.
    let weights = Weights::default();
    let held_out_signals: Vec<&Signals> = examples
        .iter()
        .zip(&chosen)
        .filter(|(e, _)| !in_fit(&e.group))
        .map(|(_, segment)| &segment.signals)
        .collect();
    let as_scored: Vec<f64> = held_out
        .iter()
        .zip(&held_out_signals)
        .map(|(e, signals)| estimator.score(&e.features, signals, &weights))
        .collect();
    let scored_agreement: BTreeMap<String, f64> = agreement_of_scores(&as_scored, &held_out)
        .into_iter()
        .collect();
    for (pair, r) in agreement_per_pair(&estimator, &held_out) {
        let rows: Vec<&&Example> = held_out.iter().filter(|e| e.pair == pair).collect();
        let estimates: Vec<f64> = rows
            .iter()
            .map(|e| estimator.estimate(&e.features))
            .collect();
        let human: Vec<f64> = rows.iter().map(|e| e.human).collect();
        let row = per_pair_out.get_mut(&pair).expect("pair of the sample");
        row["trained_estimator"] =
            json!({ "spearman": round3(r), "pearson": round3(pearson(&estimates, &human)) });
        row["trained_estimator_as_scored"] =
            json!({ "spearman": scored_agreement.get(&pair).copied().map(round3) });
    }
    // The halves swapped: trained on the held-out documents and read on
    // the training ones, which shows how much the split alone moves the
    // agreement.
    let swapped = QualityEstimator::train(estimator.inputs.clone(), &half(false))?;
    let first_half: Vec<&Example> = examples.iter().filter(|e| in_fit(&e.group)).collect();
    for (pair, r) in agreement_per_pair(&swapped, &first_half) {
        let row = per_pair_out.get_mut(&pair).expect("pair of the sample");
        row["trained_estimator_halves_swapped"] = json!({ "spearman": round3(r) });
    }
    let mut out = json!({
        "trained_estimator": {
            "training_rows": estimator.training_rows,
            "penalty": estimator.penalty,
            "cross_validated_spearman": round3(estimator.cross_validated_spearman),
            "embedding_share": estimator.embedding_share,
            "training_seconds": round1(training_seconds),
        },
        "language_model": scorer.as_ref().map(|(path, _)| path.clone()),
        "embedding_model": embedding_path,
        "segments_scored": sample.len(),
        "fitted_weights": names.iter().zip(&fit_all).map(|(n, w)| (n.to_string(), round2(*w))).collect::<BTreeMap<_, _>>(),
        "per_pair_held_out": per_pair_out,
    });
    for (key, value) in timings {
        out[key] = value;
    }
    Ok(out)
}

/// Model outputs of earlier runs, read from and written to the file of
/// `QE_CACHE`, so that changes to the checks or the estimator can be
/// measured without running the models again. A file written with other
/// models is ignored.
#[derive(Default)]
struct ModelCache {
    language_model: Option<String>,
    embedding_model: Option<String>,
    logprobs: BTreeMap<String, Vec<f32>>,
    /// Log-probabilities of each translation without its source.
    baseline: BTreeMap<String, Vec<f32>>,
    vectors: BTreeMap<String, (Vec<f32>, Vec<f32>)>,
    /// Segments per second of each model, as measured when it ran.
    speeds: serde_json::Map<String, serde_json::Value>,
    /// Whether outputs came from the file: the speeds are then those
    /// recorded with them.
    loaded: bool,
}

impl ModelCache {
    fn open(
        path: Option<&Path>,
        language_model: Option<&str>,
        embedding_model: Option<&str>,
    ) -> ModelCache {
        let mut cache = ModelCache {
            language_model: language_model.map(str::to_string),
            embedding_model: embedding_model.map(str::to_string),
            ..ModelCache::default()
        };
        let Some(stored) = path
            .and_then(|path| std::fs::read_to_string(path).ok())
            .and_then(|text| serde_json::from_str::<serde_json::Value>(&text).ok())
        else {
            return cache;
        };
        if stored["language_model"].as_str() != language_model
            || stored["embedding_model"].as_str() != embedding_model
        {
            eprintln!("model cache ignored: it contains the outputs of other models");
            return cache;
        }
        cache.logprobs = serde_json::from_value(stored["logprobs"].clone()).unwrap_or_default();
        cache.baseline = serde_json::from_value(stored["baseline"].clone()).unwrap_or_default();
        cache.vectors = serde_json::from_value(stored["vectors"].clone()).unwrap_or_default();
        cache.speeds = stored["speeds"].as_object().cloned().unwrap_or_default();
        cache.loaded = !cache.logprobs.is_empty() || !cache.vectors.is_empty();
        cache
    }

    fn save(&self, path: Option<&Path>) -> Result<(), Box<dyn std::error::Error>> {
        if let Some(path) = path {
            let stored = json!({
                "language_model": self.language_model,
                "embedding_model": self.embedding_model,
                "logprobs": self.logprobs,
                "vectors": self.vectors,
                "baseline": self.baseline,
                "speeds": self.speeds,
            });
            std::fs::write(path, serde_json::to_string(&stored)?)?;
        }
        Ok(())
    }
}

/// Least-squares penalties: MQM (clipped to 0..100) ~ 100 - sum(w * f),
/// solved by the normal equations, negative weights set to 0.
fn fit_penalties(segments: &[&MqmSegment]) -> Vec<f64> {
    let k = segments
        .first()
        .map_or(FIT_SIGNALS.len(), |s| s.features.len());
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
