//! Speech-to-text with Whisper tiny.en on product-search phrases spoken by
//! espeak-ng (generated into a temp folder), including a file longer than
//! Whisper's 30-second window.

#![cfg(feature = "whisper")]

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use mercator_models::defaults;
use mercator_models::speech::audio::{load_audio, write_wav};
use mercator_models::speech::Transcriber;
use mercator_models::ModelError;

const PHRASES: [&str; 12] = [
    "show me red running shoes",
    "wireless headphones with noise cancelling",
    "a leather wallet for men",
    "waterproof hiking boots for women",
    "stainless steel water bottle",
    "cotton t shirt in large",
    "find a gift for my mother",
    "organic green tea from japan",
    "children's winter jacket",
    "phone case for my new phone",
    "wooden toys for toddlers",
    "cheap flights to barcelona",
];

fn transcriber() -> Transcriber {
    Transcriber::load(&common::model_dir(&defaults::SPEECH)).unwrap()
}

/// Speaks `text` into a WAV file with espeak-ng (22,050 Hz mono) at 110
/// words per minute, 80 ms between words and a lower pitch. At espeak's
/// default speed, faster-whisper with the same model misses 31% of the words.
fn speak(text: &str, path: &Path) {
    let status = Command::new("espeak-ng")
        .args(["-v", "en-us", "-s", "110", "-g", "8", "-p", "40", "-w"])
        .arg(path)
        .arg(text)
        .status()
        .expect("espeak-ng is needed for the speech tests; run scripts/setup");
    assert!(status.success(), "espeak-ng failed for {text:?}");
}

/// Lower-case words without punctuation, for word error rate.
fn words(text: &str) -> Vec<String> {
    text.to_lowercase()
        .replace(['-', '\''], " ")
        .split_whitespace()
        .map(|word| {
            word.chars()
                .filter(|c| c.is_alphanumeric())
                .collect::<String>()
        })
        .filter(|word| !word.is_empty())
        .collect()
}

/// Word error rate: word-level Levenshtein distance over reference length.
fn word_error_rate(reference: &str, hypothesis: &str) -> f64 {
    let reference = words(reference);
    let hypothesis = words(hypothesis);
    let mut previous: Vec<usize> = (0..=hypothesis.len()).collect();
    for (i, ref_word) in reference.iter().enumerate() {
        let mut current = vec![i + 1; hypothesis.len() + 1];
        for (j, hyp_word) in hypothesis.iter().enumerate() {
            let substitution = previous[j] + usize::from(ref_word != hyp_word);
            current[j + 1] = substitution.min(previous[j + 1] + 1).min(current[j] + 1);
        }
        previous = current;
    }
    previous[hypothesis.len()] as f64 / reference.len().max(1) as f64
}

fn spoken_phrases(dir: &Path) -> Vec<PathBuf> {
    PHRASES
        .iter()
        .enumerate()
        .map(|(i, phrase)| {
            let path = dir.join(format!("phrase-{i:02}.wav"));
            speak(phrase, &path);
            path
        })
        .collect()
}

#[test]
fn product_phrases_mean_wer_at_most_20_percent() {
    let dir = tempfile::tempdir().unwrap();
    let transcriber = transcriber();
    let mut total_wer = 0.0;
    for (phrase, path) in PHRASES.iter().zip(spoken_phrases(dir.path())) {
        let transcript = transcriber.transcribe_file(&path).unwrap();
        let wer = word_error_rate(phrase, &transcript.text);
        eprintln!("WER {wer:.2}: {phrase:?} -> {:?}", transcript.text);
        total_wer += wer;
    }
    let mean_wer = total_wer / PHRASES.len() as f64;
    eprintln!("mean WER {mean_wer:.3} over {} phrases", PHRASES.len());
    assert!(mean_wer <= 0.20, "mean WER {mean_wer:.3}");
}

#[test]
fn seventy_second_file_is_transcribed_whole() {
    let dir = tempfile::tempdir().unwrap();
    let rate = 16_000;
    let silence = vec![0.0f32; rate as usize];
    let mut samples = Vec::new();
    let mut reference = Vec::new();
    let phrase_paths = spoken_phrases(dir.path());
    while samples.len() < 70 * rate as usize {
        for (phrase, path) in PHRASES.iter().zip(&phrase_paths) {
            samples.extend(load_audio(path, rate).unwrap().samples);
            samples.extend_from_slice(&silence);
            reference.push(*phrase);
            if samples.len() >= 70 * rate as usize {
                break;
            }
        }
    }
    let long_path = dir.path().join("long.wav");
    write_wav(&long_path, &samples, rate).unwrap();

    let transcript = transcriber().transcribe_file(&long_path).unwrap();
    let wer = word_error_rate(&reference.join(" "), &transcript.text);
    eprintln!(
        "{:.1} s in {:.1} s, {} segments, WER {wer:.3}",
        transcript.duration_seconds,
        transcript.processing_seconds,
        transcript.segments.len()
    );
    assert!(
        transcript.duration_seconds >= 70.0,
        "{} s",
        transcript.duration_seconds
    );
    assert!(
        transcript.segments.len() >= 3,
        "{} segments",
        transcript.segments.len()
    );
    let last_end = transcript
        .segments
        .last()
        .map_or(0.0, |segment| segment.end);
    assert!(last_end > 60.0, "last segment ends at {last_end} s");
    assert!(wer <= 0.25, "WER {wer:.3} on the long file");
}

#[test]
fn segments_have_ordered_timestamps() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("one.wav");
    speak(PHRASES[0], &path);
    let transcript = transcriber().transcribe_file(&path).unwrap();
    assert_eq!(transcript.language.as_deref(), Some("en"));
    for segment in &transcript.segments {
        assert!(segment.start <= segment.end, "{segment:?}");
    }
}

#[test]
fn text_file_is_rejected_as_not_audio() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("order.csv");
    std::fs::write(&path, "order_id,sku\n1,ABC\n").unwrap();
    let result = transcriber().transcribe_file(&path);
    assert!(
        matches!(result, Err(ModelError::NotAudio { .. })),
        "{:?}",
        result.err()
    );
}

#[test]
fn wer_counts_substitutions_and_deletions() {
    assert_eq!(
        word_error_rate("red running shoes", "red running shoes"),
        0.0
    );
    assert!((word_error_rate("red running shoes", "red shoes") - 1.0 / 3.0).abs() < 1e-9);
}

#[test]
fn silence_gives_no_text() {
    let transcript = transcriber()
        .transcribe_samples(&vec![0.0f32; 16_000 * 3])
        .unwrap();
    assert_eq!(transcript.text, "", "{transcript:?}");
    assert!(transcript.segments.is_empty());
}
