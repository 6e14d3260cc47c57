//! The Whisper runtime: CTranslate2 through `ct2rs`, int8 on the CPU.

use std::path::Path;
use std::time::Instant;

use ct2rs::{ComputeType, Config, Whisper, WhisperOptions};
use tracing::{debug, warn};

use super::{audio, ensure_preprocessor_config, split_windows, Segment, Transcript};
use crate::{ModelError, Result};

/// A loaded Whisper model.
pub struct Transcriber {
    whisper: Whisper,
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
        if !dir.join("model.bin").is_file() {
            return Err(ModelError::Load {
                path: dir.to_path_buf(),
                reason: "model.bin not found; expected a CTranslate2 Whisper folder".into(),
            });
        }
        if ensure_preprocessor_config(dir)? {
            warn!(dir = %dir.display(), "wrote the standard Whisper preprocessor_config.json");
        }
        let config = Config {
            compute_type: ComputeType::INT8,
            num_threads_per_replica: threads,
            ..Config::default()
        };
        let whisper = Whisper::new(dir, config).map_err(|err| ModelError::Load {
            path: dir.to_path_buf(),
            reason: format!("{err:#}"),
        })?;
        Ok(Transcriber {
            whisper,
            options: WhisperOptions::default(),
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
        let rate = self.whisper.sampling_rate() as u32;
        let audio = audio::load_audio(path, rate)?;
        let mut transcript = self.transcribe_samples(&audio.samples)?;
        transcript.processing_seconds = start.elapsed().as_secs_f64();
        Ok(transcript)
    }

    /// Transcribes mono samples at the model's sampling rate (16 kHz).
    pub fn transcribe_samples(&self, samples: &[f32]) -> Result<Transcript> {
        let start = Instant::now();
        let rate = self.whisper.sampling_rate();
        let language = (!self.whisper.is_multilingual()).then_some("en");

        let mut segments = Vec::new();
        for (window_start, window_end) in split_windows(samples, rate) {
            let window = &samples[window_start..window_end];
            let offset = window_start as f32 / rate as f32;
            let window_segments = self
                .whisper
                .generate_segments(window, language, &self.options)
                .map_err(|err| ModelError::Transcription(format!("{err:#}")))?;
            for segment in window_segments {
                let text = segment.text.trim().to_string();
                if text.is_empty() {
                    continue;
                }
                segments.push(Segment {
                    start: offset + segment.start,
                    end: offset + segment.end,
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
            language: language.map(str::to_string),
            segments,
            duration_seconds: samples.len() as f64 / rate as f64,
            processing_seconds: start.elapsed().as_secs_f64(),
        })
    }
}
