//! Speech-to-text with Whisper models in CTranslate2 format (`ct2rs`).
//!
//! `Transcriber::transcribe_file` (feature `whisper`) decodes an audio file ([`audio`]),
//! splits it into windows of at most 30 seconds (Whisper's input length),
//! cutting at the quietest point near each window's end, and returns the
//! text with one timed segment per window.

pub mod audio;
#[cfg(any(feature = "whisper", test))]
mod mel;
#[cfg(feature = "whisper")]
mod whisper;

use std::path::Path;

use serde::Serialize;

#[cfg(feature = "whisper")]
pub use whisper::Transcriber;

use crate::{ModelError, Result};

/// File ct2rs reads the feature-extraction settings from.
pub const PREPROCESSOR_CONFIG_FILE: &str = "preprocessor_config.json";

/// Whisper's feature settings, identical for every released Whisper size
/// except large-v3 (which uses 128 mel bins): 80 mel bins, n_fft 400,
/// hop 160 samples, 16 kHz, 30-second windows.
const STANDARD_PREPROCESSOR_CONFIG: &str = r#"{
  "chunk_length": 30,
  "feature_extractor_type": "WhisperFeatureExtractor",
  "feature_size": 80,
  "hop_length": 160,
  "n_fft": 400,
  "n_samples": 480000,
  "nb_max_frames": 3000,
  "padding_side": "right",
  "padding_value": 0.0,
  "processor_class": "WhisperProcessor",
  "return_attention_mask": false,
  "sampling_rate": 16000
}
"#;

/// Maximum audio length Whisper reads at once, in seconds.
const WINDOW_SECONDS: usize = 30;

/// A window is cut at the quietest 100 ms frame within this many seconds
/// before its 30-second limit.
const CUT_SEARCH_SECONDS: usize = 5;

/// Writes the standard `preprocessor_config.json` into a Whisper folder
/// that has none. Returns true when the file was written.
pub fn ensure_preprocessor_config(dir: &Path) -> Result<bool> {
    let path = dir.join(PREPROCESSOR_CONFIG_FILE);
    if path.exists() {
        return Ok(false);
    }
    let temporary = dir.join(format!(".{PREPROCESSOR_CONFIG_FILE}.tmp"));
    std::fs::write(&temporary, STANDARD_PREPROCESSOR_CONFIG)
        .map_err(|err| ModelError::io(&temporary, err))?;
    std::fs::rename(&temporary, &path).map_err(|err| ModelError::io(&path, err))?;
    Ok(true)
}

/// One timed piece of a transcript.
#[derive(Debug, Clone, Serialize)]
pub struct Segment {
    /// Start in seconds from the beginning of the file.
    pub start: f32,
    /// End in seconds from the beginning of the file.
    pub end: f32,
    pub text: String,
}

/// The result of transcribing one file.
#[derive(Debug, Clone, Serialize)]
pub struct Transcript {
    pub text: String,
    /// ISO 639-1 code; `None` when a multilingual model detected the
    /// language itself.
    pub language: Option<String>,
    pub segments: Vec<Segment>,
    /// Length of the audio in seconds.
    pub duration_seconds: f64,
    /// Time spent decoding audio and running the model, in seconds.
    pub processing_seconds: f64,
}

/// Splits `samples` into windows of at most 30 seconds. Each cut falls on
/// the quietest 100 ms frame (lowest energy) in the last 5 seconds of the
/// window, so words are rarely split between windows.
pub fn split_windows(samples: &[f32], rate: usize) -> Vec<(usize, usize)> {
    let window_len = WINDOW_SECONDS * rate;
    let search_len = CUT_SEARCH_SECONDS * rate;
    let frame_len = (rate / 10).max(1);

    let mut windows = Vec::new();
    let mut start = 0;
    while samples.len() - start > window_len {
        let limit = start + window_len;
        let search_start = limit - search_len;
        let mut best_cut = limit;
        let mut best_energy = f32::INFINITY;
        let mut frame_start = search_start;
        while frame_start + frame_len <= limit {
            let frame = &samples[frame_start..frame_start + frame_len];
            let energy: f32 = frame.iter().map(|x| x * x).sum();
            if energy < best_energy {
                best_energy = energy;
                best_cut = frame_start + frame_len / 2;
            }
            frame_start += frame_len;
        }
        windows.push((start, best_cut));
        start = best_cut;
    }
    if start < samples.len() {
        windows.push((start, samples.len()));
    }
    windows
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_audio_is_one_window() {
        let samples = vec![0.1f32; 16_000 * 10];
        assert_eq!(split_windows(&samples, 16_000), vec![(0, 160_000)]);
    }

    #[test]
    fn long_audio_windows_are_at_most_30_seconds() {
        let samples = vec![0.1f32; 16_000 * 70];
        let windows = split_windows(&samples, 16_000);
        assert!(windows
            .iter()
            .all(|(start, end)| end - start <= 16_000 * 30));
        assert_eq!(windows.last().unwrap().1, samples.len());
    }

    #[test]
    fn cut_falls_in_silence() {
        let mut samples = vec![0.5f32; 16_000 * 40];
        // Silence from 27.0 s to 27.3 s.
        for sample in &mut samples[16_000 * 27..16_000 * 27 + 4_800] {
            *sample = 0.0;
        }
        let windows = split_windows(&samples, 16_000);
        let cut = windows[0].1 as f32 / 16_000.0;
        assert!((27.0..27.3).contains(&cut), "cut at {cut} s");
    }

    #[test]
    fn preprocessor_config_written_once() {
        let dir = tempfile::tempdir().unwrap();
        assert!(ensure_preprocessor_config(dir.path()).unwrap());
        assert!(!ensure_preprocessor_config(dir.path()).unwrap());
    }
}
