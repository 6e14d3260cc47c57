//! Whisper's log-mel features, computed as the reference implementation
//! does: Hann-windowed STFT (n_fft 400, hop 160, centred with reflection),
//! power spectrum, Slaney mel filters, log10, a floor 8 below the maximum,
//! and scaling to about [-1, 1]. Frames past the audio are zero, as
//! faster-whisper pads them.

use realfft::RealFftPlanner;

/// FFT size of Whisper's STFT.
pub const N_FFT: usize = 400;
/// Samples between frames.
pub const HOP: usize = 160;
/// Frames in a 30-second window.
pub const FRAMES: usize = 3000;

/// Computes the features of `samples` (16 kHz mono, at most 30 s) as an
/// `n_mels x 3000` row-major matrix.
pub fn log_mel(samples: &[f32], n_mels: usize, sample_rate: usize) -> Vec<f32> {
    let filters = mel_filters(n_mels, sample_rate);
    let n_bins = N_FFT / 2 + 1;

    // The audio is followed by one hop of silence and reflected by half a
    // window at both ends, so that frame t is centred on sample t * HOP.
    let mut audio = samples.to_vec();
    audio.extend(std::iter::repeat_n(0.0, HOP));
    let half = N_FFT / 2;
    let mut padded = Vec::with_capacity(audio.len() + N_FFT);
    padded.extend((1..=half).rev().map(|i| audio[i.min(audio.len() - 1)]));
    padded.extend_from_slice(&audio);
    let last = audio.len() - 1;
    padded.extend((1..=half).map(|i| audio[last.saturating_sub(i)]));

    // The last centred frame is dropped, as in the reference.
    let n_frames = ((padded.len() - N_FFT) / HOP).min(FRAMES);
    let window: Vec<f32> = (0..N_FFT)
        .map(|n| 0.5 - 0.5 * (2.0 * std::f32::consts::PI * n as f32 / N_FFT as f32).cos())
        .collect();
    let fft = RealFftPlanner::<f32>::new().plan_fft_forward(N_FFT);
    let mut input = fft.make_input_vec();
    let mut spectrum = fft.make_output_vec();
    let mut power = vec![0f32; n_bins];

    let mut features = vec![0f32; n_mels * FRAMES];
    let mut max = f32::NEG_INFINITY;
    for frame in 0..n_frames {
        let start = frame * HOP;
        for (slot, (sample, weight)) in input
            .iter_mut()
            .zip(padded[start..start + N_FFT].iter().zip(&window))
        {
            *slot = sample * weight;
        }
        fft.process(&mut input, &mut spectrum)
            .expect("buffers come from the same plan");
        for (bin, value) in power.iter_mut().zip(&spectrum) {
            *bin = value.norm_sqr();
        }
        for mel in 0..n_mels {
            let row = &filters[mel * n_bins..(mel + 1) * n_bins];
            let energy: f32 = row.iter().zip(&power).map(|(w, p)| w * p).sum();
            let log = energy.max(1e-10).log10();
            max = max.max(log);
            features[mel * FRAMES + frame] = log;
        }
    }
    for mel in 0..n_mels {
        for frame in 0..n_frames {
            let value = &mut features[mel * FRAMES + frame];
            *value = ((*value).max(max - 8.0) + 4.0) / 4.0;
        }
    }
    features
}

/// Builds the Slaney-style mel filter bank (`n_mels x (N_FFT / 2 + 1)`, row-major),
/// area-normalized, from 0 Hz to the Nyquist frequency.
fn mel_filters(n_mels: usize, sample_rate: usize) -> Vec<f32> {
    let n_bins = N_FFT / 2 + 1;
    let nyquist = sample_rate as f64 / 2.0;
    let top = hz_to_mel(nyquist);
    let points: Vec<f64> = (0..n_mels + 2)
        .map(|i| mel_to_hz(top * i as f64 / (n_mels + 1) as f64))
        .collect();
    let mut filters = vec![0f32; n_mels * n_bins];
    for mel in 0..n_mels {
        let (low, centre, high) = (points[mel], points[mel + 1], points[mel + 2]);
        let scale = 2.0 / (high - low);
        for bin in 0..n_bins {
            let freq = bin as f64 * sample_rate as f64 / N_FFT as f64;
            let rising = (freq - low) / (centre - low);
            let falling = (high - freq) / (high - centre);
            filters[mel * n_bins + bin] = (rising.min(falling).max(0.0) * scale) as f32;
        }
    }
    filters
}

const LINEAR_STEP: f64 = 200.0 / 3.0;
const LOG_START_HZ: f64 = 1000.0;
const LOG_START_MEL: f64 = LOG_START_HZ / LINEAR_STEP;

fn log_step() -> f64 {
    6.4f64.ln() / 27.0
}

fn hz_to_mel(hz: f64) -> f64 {
    if hz < LOG_START_HZ {
        hz / LINEAR_STEP
    } else {
        LOG_START_MEL + (hz / LOG_START_HZ).ln() / log_step()
    }
}

fn mel_to_hz(mel: f64) -> f64 {
    if mel < LOG_START_MEL {
        mel * LINEAR_STEP
    } else {
        LOG_START_HZ * ((mel - LOG_START_MEL) * log_step()).exp()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mel_scale_round_trips() {
        for hz in [0.0, 440.0, 1000.0, 4000.0, 8000.0] {
            assert!((mel_to_hz(hz_to_mel(hz)) - hz).abs() < 1e-6);
        }
    }

    #[test]
    fn tone_peaks_in_its_band() {
        let tone: Vec<f32> = (0..16_000)
            .map(|n| (2.0 * std::f32::consts::PI * 1000.0 * n as f32 / 16_000.0).sin())
            .collect();
        let features = log_mel(&tone, 80, 16_000);
        assert_eq!(features.len(), 80 * FRAMES);
        let frame = 50;
        let column: Vec<f32> = (0..80).map(|mel| features[mel * FRAMES + frame]).collect();
        let loudest = column
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(b.1))
            .unwrap()
            .0;
        // The centre of the loudest band lies near the tone's 1 kHz.
        let centre = mel_to_hz(hz_to_mel(8000.0) * (loudest + 1) as f64 / 81.0);
        assert!(
            (800.0..1250.0).contains(&centre),
            "band {loudest} at {centre} Hz"
        );
        // Frames after the audio stay zero.
        assert_eq!(features[loudest * FRAMES + 2_500], 0.0);
    }

    #[test]
    fn silence_features_are_finite() {
        let features = log_mel(&[0.0; 1600], 80, 16_000);
        assert!(features.iter().all(|v| v.is_finite()));
    }
}
