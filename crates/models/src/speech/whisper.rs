//! The Whisper runtime: CTranslate2 through `ct2rs`, int8 on the CPU.

use std::path::Path;
use std::time::Instant;

use ct2rs::sys::{self, StorageView};
use ct2rs::{ComputeType, Config, WhisperOptions};
use tracing::{debug, warn};

use super::{
    audio, ensure_preprocessor_config, mel, split_windows, Segment, Transcript,
    PREPROCESSOR_CONFIG_FILE,
};
use crate::{ModelError, Result};

/// A window is silence when the model's no-speech probability is above
/// this and its mean token log-probability below [`SILENCE_LOG_PROB`]
/// (the thresholds of the reference implementation).
const NO_SPEECH_PROBABILITY: f32 = 0.6;
const SILENCE_LOG_PROB: f32 = -1.0;

/// Whisper's input sampling rate.
const SAMPLE_RATE: usize = 16_000;

/// A loaded Whisper model.
///
/// Features and prompts are built here rather than by `ct2rs::Whisper`,
/// whose prompt always names a language and a task: English-only models
/// (`.en`) were trained without those tokens and transcribe much worse
/// with them.
pub struct Transcriber {
    whisper: sys::Whisper,
    tokenizer: tokenizers::Tokenizer,
    n_mels: usize,
    options: WhisperOptions,
}

impl Transcriber {
    /// Loads the CTranslate2 Whisper folder `dir` with int8 weights on the
    /// CPU, first writing the standard preprocessor config when missing.
    pub fn load(dir: &Path) -> Result<Self> {
        Self::load_with_threads(dir, 0)
    }

    /// Like [`Transcriber::load`] with a thread count (0: CTranslate2's default).
    pub fn load_with_threads(dir: &Path, threads: usize) -> Result<Self> {
        let load_error = |reason: String| ModelError::Load {
            path: dir.to_path_buf(),
            reason,
        };
        if !dir.join("model.bin").is_file() {
            return Err(load_error(
                "model.bin not found; expected a CTranslate2 Whisper folder".into(),
            ));
        }
        if ensure_preprocessor_config(dir)? {
            warn!(dir = %dir.display(), "wrote the standard Whisper preprocessor_config.json");
        }
        let n_mels = read_n_mels(dir)?;
        let tokenizer = tokenizers::Tokenizer::from_file(dir.join("tokenizer.json"))
            .map_err(|err| load_error(format!("tokenizer.json: {err}")))?;
        let config = Config {
            compute_type: ComputeType::INT8,
            num_threads_per_replica: threads,
            ..Config::default()
        };
        let whisper =
            sys::Whisper::new(dir, config).map_err(|err| load_error(format!("{err:#}")))?;
        Ok(Transcriber {
            whisper,
            tokenizer,
            n_mels,
            options: WhisperOptions {
                return_scores: true,
                return_no_speech_prob: true,
                ..WhisperOptions::default()
            },
        })
    }

    /// Returns true when the model detects languages (not an `.en` model).
    pub fn is_multilingual(&self) -> bool {
        self.whisper.is_multilingual()
    }

    /// Sets the beam size (1 is greedy search; the default is 5).
    pub fn with_beam_size(mut self, beam_size: usize) -> Self {
        self.options.beam_size = beam_size.max(1);
        self
    }

    /// Decodes and transcribes an audio file.
    pub fn transcribe_file(&self, path: &Path) -> Result<Transcript> {
        let start = Instant::now();
        let audio = audio::load_audio(path, SAMPLE_RATE as u32)?;
        let mut transcript = self.transcribe_samples(&audio.samples)?;
        transcript.processing_seconds = start.elapsed().as_secs_f64();
        Ok(transcript)
    }

    /// Transcribes mono samples at the model's sampling rate (16 kHz).
    pub fn transcribe_samples(&self, samples: &[f32]) -> Result<Transcript> {
        let start = Instant::now();
        let failed = |err: anyhow::Error| ModelError::Transcription(format!("{err:#}"));
        let mut language = None;
        let mut segments = Vec::new();
        for (window_start, window_end) in split_windows(samples, SAMPLE_RATE) {
            let window = &samples[window_start..window_end];
            let offset = window_start as f32 / SAMPLE_RATE as f32;
            let mut features = mel::log_mel(window, self.n_mels, SAMPLE_RATE);
            let features = StorageView::new(
                &[1, self.n_mels, mel::FRAMES],
                &mut features,
                Default::default(),
            )
            .map_err(failed)?;

            let mut prompt = vec!["<|startoftranscript|>".to_string()];
            if self.whisper.is_multilingual() {
                let detected = self.whisper.detect_language(&features).map_err(failed)?;
                let token = detected
                    .first()
                    .and_then(|languages| languages.first())
                    .map(|best| best.language.clone())
                    .unwrap_or_else(|| "<|en|>".to_string());
                language.get_or_insert_with(|| token.trim_matches(['<', '|', '>']).to_string());
                prompt.push(token);
                prompt.push("<|transcribe|>".to_string());
            } else {
                language = Some("en".to_string());
            }
            prompt.push("<|notimestamps|>".to_string());

            let results = self
                .whisper
                .generate(&features, &[prompt], &self.options)
                .map_err(failed)?;
            // Whisper's silence rule drops a window that probably contains no
            // speech and whose text has a low log-probability, because the
            // model otherwise writes "Okay." or ". . ." for silence.
            if let Some(result) = results.first() {
                let score = result.scores.first().copied().unwrap_or(0.0);
                if result.no_speech_prob > NO_SPEECH_PROBABILITY && score < SILENCE_LOG_PROB {
                    debug!(
                        offset,
                        no_speech = result.no_speech_prob,
                        score,
                        "window is silence"
                    );
                    continue;
                }
            }
            let ids: Vec<u32> = results
                .first()
                .and_then(|result| result.sequences_ids.first())
                .map(|ids| ids.iter().map(|&id| id as u32).collect())
                .unwrap_or_default();
            let text = self
                .tokenizer
                .decode(&ids, true)
                .map_err(|err| ModelError::Transcription(format!("decoding tokens: {err}")))?
                .trim()
                .to_string();
            // Each window is one segment, timed by where its sound starts
            // and ends.
            if !text.is_empty() {
                let (sound_start, sound_end) = sound_bounds(window);
                segments.push(Segment {
                    start: offset + sound_start as f32 / SAMPLE_RATE as f32,
                    end: offset + sound_end as f32 / SAMPLE_RATE as f32,
                    text,
                });
            }
            debug!(offset, samples = window.len(), "window transcribed");
        }

        let text = segments
            .iter()
            .map(|segment| segment.text.as_str())
            .collect::<Vec<_>>()
            .join(" ");
        Ok(Transcript {
            text,
            language,
            segments,
            duration_seconds: samples.len() as f64 / SAMPLE_RATE as f64,
            processing_seconds: start.elapsed().as_secs_f64(),
        })
    }
}

/// Number of mel bins from the folder's preprocessor settings (80 for
/// every Whisper size but large-v3, which has 128).
fn read_n_mels(dir: &Path) -> Result<usize> {
    let path = dir.join(PREPROCESSOR_CONFIG_FILE);
    let text = std::fs::read_to_string(&path).map_err(|err| ModelError::io(&path, err))?;
    let config: serde_json::Value =
        serde_json::from_str(&text).map_err(|err| ModelError::Load {
            path: path.clone(),
            reason: format!("not valid JSON ({err})"),
        })?;
    Ok(config["feature_size"].as_u64().unwrap_or(80) as usize)
}

/// First and last sample louder than 2% of the window's peak: the span a
/// segment covers, without the silence around it.
fn sound_bounds(window: &[f32]) -> (usize, usize) {
    let peak = window
        .iter()
        .fold(0f32, |max, sample| max.max(sample.abs()));
    let threshold = (peak * 0.02).max(1e-4);
    let loud = |sample: &f32| sample.abs() > threshold;
    match (window.iter().position(loud), window.iter().rposition(loud)) {
        (Some(first), Some(last)) => (first, last + 1),
        _ => (0, window.len()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sound_bounds_skip_silence() {
        let mut window = vec![0.0f32; 1_000];
        for sample in &mut window[200..700] {
            *sample = 0.5;
        }
        assert_eq!(sound_bounds(&window), (200, 700));
        assert_eq!(sound_bounds(&[0.0; 10]), (0, 10));
    }
}
