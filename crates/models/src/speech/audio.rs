//! Audio files to 16 kHz mono samples for Whisper.
//!
//! Decoding uses symphonia (WAV, FLAC, MP3, Ogg Vorbis and the other
//! formats of its `all` feature). Channels are averaged to mono, and the
//! result is resampled with rubato's FFT resampler.

use std::path::Path;

use rubato::{FftFixedIn, Resampler};
use symphonia::core::audio::SampleBuffer;
use symphonia::core::codecs::{DecoderOptions, CODEC_TYPE_NULL};
use symphonia::core::errors::Error as SymphoniaError;
use symphonia::core::formats::FormatOptions;
use symphonia::core::io::MediaSourceStream;
use symphonia::core::meta::MetadataOptions;
use symphonia::core::probe::Hint;

use crate::{ModelError, Result};

/// Mono samples in [-1, 1] at a known rate.
#[derive(Debug, Clone)]
pub struct Audio {
    pub samples: Vec<f32>,
    pub sample_rate: u32,
}

impl Audio {
    /// Length in seconds.
    pub fn duration_seconds(&self) -> f64 {
        self.samples.len() as f64 / self.sample_rate.max(1) as f64
    }
}

/// Decodes an audio file to mono and resamples it to `target_rate` Hz.
pub fn load_audio(path: &Path, target_rate: u32) -> Result<Audio> {
    let decoded = decode_mono(path)?;
    let samples =
        resample(&decoded.samples, decoded.sample_rate, target_rate).map_err(|reason| {
            ModelError::NotAudio {
                path: path.to_path_buf(),
                reason,
            }
        })?;
    Ok(Audio {
        samples,
        sample_rate: target_rate,
    })
}

/// Decodes every packet of the first audio track and averages the channels.
pub fn decode_mono(path: &Path) -> Result<Audio> {
    let not_audio = |reason: String| ModelError::NotAudio {
        path: path.to_path_buf(),
        reason,
    };
    if path.is_dir() {
        return Err(not_audio("it is a folder; give an audio file".to_string()));
    }
    if wav_sample_rate(path) == Some(0) {
        // symphonia panics on this header instead of returning an error.
        return Err(not_audio(
            "the WAV header gives a sample rate of 0".to_string(),
        ));
    }
    let file = std::fs::File::open(path).map_err(|err| ModelError::io(path, err))?;
    let stream = MediaSourceStream::new(Box::new(file), Default::default());
    let mut hint = Hint::new();
    if let Some(extension) = path.extension().and_then(|ext| ext.to_str()) {
        hint.with_extension(extension);
    }

    let probed = symphonia::default::get_probe()
        .format(
            &hint,
            stream,
            &FormatOptions::default(),
            &MetadataOptions::default(),
        )
        .map_err(|err| not_audio(format!("unsupported or unrecognized format ({err})")))?;
    let mut format = probed.format;
    let track = format
        .tracks()
        .iter()
        .find(|track| track.codec_params.codec != CODEC_TYPE_NULL)
        .ok_or_else(|| not_audio("no audio track".to_string()))?;
    let track_id = track.id;
    let declared_frames = track.codec_params.n_frames;
    let sample_rate = track
        .codec_params
        .sample_rate
        .ok_or_else(|| not_audio("the track has no sample rate".to_string()))?;
    let mut decoder = symphonia::default::get_codecs()
        .make(&track.codec_params, &DecoderOptions::default())
        .map_err(|err| not_audio(format!("no decoder for the codec ({err})")))?;

    let mut samples = Vec::new();
    loop {
        let packet = match format.next_packet() {
            Ok(packet) => packet,
            Err(SymphoniaError::IoError(err))
                if err.kind() == std::io::ErrorKind::UnexpectedEof =>
            {
                break
            }
            Err(SymphoniaError::ResetRequired) => break,
            Err(err) => return Err(not_audio(format!("reading packets failed ({err})"))),
        };
        if packet.track_id() != track_id {
            continue;
        }
        let decoded = match decoder.decode(&packet) {
            Ok(decoded) => decoded,
            // A corrupt packet is skipped, as media players do.
            Err(SymphoniaError::DecodeError(reason)) => {
                tracing::warn!(path = %path.display(), reason, "skipping undecodable packet");
                continue;
            }
            Err(err) => return Err(not_audio(format!("decoding failed ({err})"))),
        };
        let n_channels = decoded.spec().channels.count().max(1);
        let mut buffer = SampleBuffer::<f32>::new(decoded.capacity() as u64, *decoded.spec());
        buffer.copy_interleaved_ref(decoded);
        for frame in buffer.samples().chunks(n_channels) {
            samples.push(frame.iter().sum::<f32>() / n_channels as f32);
        }
    }

    if samples.is_empty() {
        return Err(not_audio("the file contains no samples".to_string()));
    }
    // A header that promises more audio than the file holds means the file
    // was cut, for example by an interrupted copy or upload.
    if let Some(declared) = declared_frames.filter(|&n| n > samples.len() as u64) {
        tracing::warn!(
            path = %path.display(),
            declared_seconds = declared as f64 / f64::from(sample_rate),
            decoded_seconds = samples.len() as f64 / f64::from(sample_rate),
            "the audio file is shorter than its header says; it looks truncated, so only the decoded part is transcribed"
        );
    }
    Ok(Audio {
        samples,
        sample_rate,
    })
}

/// Reads the sample rate from the `fmt ` chunk of a RIFF WAVE file; `None`
/// for other files or when the chunk cannot be found.
fn wav_sample_rate(path: &Path) -> Option<u32> {
    use std::io::Read;
    let mut head = Vec::new();
    std::fs::File::open(path)
        .ok()?
        .take(4096)
        .read_to_end(&mut head)
        .ok()?;
    if head.len() < 12 || &head[0..4] != b"RIFF" || &head[8..12] != b"WAVE" {
        return None;
    }
    let mut position = 12;
    while position + 8 <= head.len() {
        let id = &head[position..position + 4];
        let size = u32::from_le_bytes(head[position + 4..position + 8].try_into().ok()?) as usize;
        if id == b"fmt " {
            let rate = head.get(position + 12..position + 16)?;
            return Some(u32::from_le_bytes(rate.try_into().ok()?));
        }
        position = position.checked_add(8 + size + size % 2)?;
    }
    None
}

/// Resamples mono `samples` from `from_rate` to `to_rate` Hz, keeping the
/// length at `len * to_rate / from_rate` and removing the filter delay.
pub fn resample(
    samples: &[f32],
    from_rate: u32,
    to_rate: u32,
) -> std::result::Result<Vec<f32>, String> {
    if from_rate == to_rate {
        return Ok(samples.to_vec());
    }
    const CHUNK_FRAMES: usize = 1024;
    let mut resampler =
        FftFixedIn::<f32>::new(from_rate as usize, to_rate as usize, CHUNK_FRAMES, 2, 1)
            .map_err(|err| format!("resampler: {err}"))?;
    let delay = resampler.output_delay();
    let expected_len = (samples.len() as u64 * to_rate as u64 / from_rate as u64) as usize;

    let mut output = Vec::with_capacity(expected_len + delay + CHUNK_FRAMES);
    let mut position = 0;
    while position + resampler.input_frames_next() <= samples.len() {
        let n_frames = resampler.input_frames_next();
        let chunk = &samples[position..position + n_frames];
        let out = resampler
            .process(&[chunk], None)
            .map_err(|err| err.to_string())?;
        output.extend_from_slice(&out[0]);
        position += n_frames;
    }
    let rest = &samples[position..];
    let out = resampler
        .process_partial(Some(&[rest]), None)
        .map_err(|err| err.to_string())?;
    output.extend_from_slice(&out[0]);
    // Flush the filter so the last `delay` samples come out too.
    while output.len() < expected_len + delay {
        let out = resampler
            .process_partial::<&[f32]>(None, None)
            .map_err(|err| err.to_string())?;
        if out[0].is_empty() {
            break;
        }
        output.extend_from_slice(&out[0]);
    }

    let end = (delay + expected_len).min(output.len());
    Ok(output[delay.min(end)..end].to_vec())
}

/// Writes mono samples in [-1, 1] as a 16-bit PCM WAV file.
pub fn write_wav(path: &Path, samples: &[f32], sample_rate: u32) -> std::io::Result<()> {
    let data_len = (samples.len() * 2) as u32;
    let mut bytes = Vec::with_capacity(44 + data_len as usize);
    bytes.extend_from_slice(b"RIFF");
    bytes.extend_from_slice(&(36 + data_len).to_le_bytes());
    bytes.extend_from_slice(b"WAVEfmt ");
    bytes.extend_from_slice(&16u32.to_le_bytes());
    bytes.extend_from_slice(&1u16.to_le_bytes()); // PCM
    bytes.extend_from_slice(&1u16.to_le_bytes()); // mono
    bytes.extend_from_slice(&sample_rate.to_le_bytes());
    bytes.extend_from_slice(&(sample_rate * 2).to_le_bytes()); // bytes per second
    bytes.extend_from_slice(&2u16.to_le_bytes()); // bytes per frame
    bytes.extend_from_slice(&16u16.to_le_bytes()); // bits per sample
    bytes.extend_from_slice(b"data");
    bytes.extend_from_slice(&data_len.to_le_bytes());
    for sample in samples {
        let value = (sample.clamp(-1.0, 1.0) * i16::MAX as f32) as i16;
        bytes.extend_from_slice(&value.to_le_bytes());
    }
    std::fs::write(path, bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resample_keeps_duration() {
        let samples = vec![0.0f32; 22_050];
        let out = resample(&samples, 22_050, 16_000).unwrap();
        assert_eq!(out.len(), 16_000);
    }

    #[test]
    fn resample_keeps_tone_frequency_energy() {
        let from_rate = 22_050.0f32;
        let samples: Vec<f32> = (0..22_050)
            .map(|i| (2.0 * std::f32::consts::PI * 440.0 * i as f32 / from_rate).sin())
            .collect();
        let out = resample(&samples, 22_050, 16_000).unwrap();
        let rms = (out[1000..15000].iter().map(|x| x * x).sum::<f32>() / 14_000.0).sqrt();
        assert!(
            (rms - std::f32::consts::FRAC_1_SQRT_2).abs() < 0.02,
            "rms {rms}"
        );
    }

    #[test]
    fn text_file_is_not_audio() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notes.wav");
        std::fs::write(&path, "this is not audio").unwrap();
        let err = load_audio(&path, 16_000).unwrap_err();
        assert!(matches!(err, ModelError::NotAudio { .. }), "{err}");
    }
}
