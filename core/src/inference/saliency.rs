//! Why the model chose a digit: occlusion importance of 8 mel-frequency bands and 16 time slices.
//!
//! The MFCC window is the orthonormal DCT of log-mel energies, so the DCT's transpose gives the
//! log-mel image back exactly. For each of the 8 band groups (8 mel bands each) and each of the
//! 16 time slices (4 frames, 64 ms each) we replace that region of the log-mel image with
//! "background" (each mel band's quietest level over the frames that hold audio, what the band
//! holds when nobody speaks; the zero padding after a short utterance, exactly -100 dB, is
//! neither background nor occluded), transform back to MFCC, and score all 24 occluded windows in one batched
//! forward pass. Importance = how much the decided digit's probability drops (clamped at 0).
//! Deterministic: same window and model, same numbers.

use crate::inference::model::{Model, ModelError};
use crate::signal::mfcc::{
    N_FRAMES, N_MELS, N_MFCC, SAMPLE_RATE, dct_basis_transposed, log_mel_of_window, mfcc_of_log_mel,
};

/// Frequency band groups reported.
pub const N_BANDS: usize = 8;
/// Time slices reported.
pub const N_SLICES: usize = 16;
const MELS_PER_BAND: usize = N_MELS / N_BANDS;
const FRAMES_PER_SLICE: usize = N_FRAMES / N_SLICES;

/// Importance of each frequency band and time slice for the decided digit: the drop in its
/// probability when that region is replaced by background (0 = no effect, 1 = decisive).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Saliency {
    pub digit: u8,
    pub bands: [f32; N_BANDS],
    /// Lower and upper edge of each band group, Hz.
    pub band_hz: [(f32, f32); N_BANDS],
    pub frames: [f32; N_SLICES],
}

impl Saliency {
    /// Index of the most important band group.
    pub fn top_band(&self) -> usize {
        argmax(&self.bands)
    }

    /// Index of the most important time slice.
    pub fn top_slice(&self) -> usize {
        argmax(&self.frames)
    }
}

fn argmax(v: &[f32]) -> usize {
    (0..v.len()).fold(0, |best, i| if v[i] > v[best] { i } else { best })
}

/// Computes saliency maps. Holds the DCT basis and scratch space; reuse one per thread.
pub struct SaliencyComputer {
    /// The MFCC extractor's DCT-II orthonormal basis, `[m * N_MFCC + k]`.
    dct_t: Vec<f32>,
    log_mel: Vec<f32>,
    batch: Vec<f32>,
    band_hz: [(f32, f32); N_BANDS],
}

impl Default for SaliencyComputer {
    fn default() -> Self {
        Self::new()
    }
}

fn hz_to_mel(hz: f64) -> f64 {
    2595.0 * (1.0 + hz / 700.0).log10()
}

fn mel_to_hz(mel: f64) -> f64 {
    700.0 * (10f64.powf(mel / 2595.0) - 1.0)
}

/// Edges of the 8 band groups: from the lower edge of the group's first triangle's peak region
/// to the upper one of its last (the mel points half a band outside the first and last centre).
pub fn band_edges_hz() -> [(f32, f32); N_BANDS] {
    let mel_max = hz_to_mel(SAMPLE_RATE as f64 / 2.0);
    let step = mel_max / (N_MELS + 1) as f64;
    let mut out = [(0.0, 0.0); N_BANDS];
    for (g, o) in out.iter_mut().enumerate() {
        // Band m peaks at mel point m + 1; the group spans peaks 8g+1 ..= 8g+8.
        let lo = mel_to_hz(((g * MELS_PER_BAND) as f64 + 0.5) * step);
        let hi = mel_to_hz(((g * MELS_PER_BAND + MELS_PER_BAND) as f64 + 0.5) * step);
        *o =
            (if g == 0 { 0.0 } else { lo as f32 }, if g == N_BANDS - 1 { SAMPLE_RATE as f32 / 2.0 } else { hi as f32 });
    }
    out
}

impl SaliencyComputer {
    pub fn new() -> Self {
        Self {
            dct_t: dct_basis_transposed(),
            log_mel: vec![0.0; N_MELS * N_FRAMES],
            batch: vec![0.0; (N_BANDS + N_SLICES) * N_MFCC * N_FRAMES],
            band_hz: band_edges_hz(),
        }
    }

    /// Log-mel image `[m * N_FRAMES + t]` of an MFCC window (inverse orthonormal DCT).
    pub fn log_mel(&mut self, mfcc: &[f32]) -> &[f32] {
        self.invert(mfcc);
        &self.log_mel
    }

    fn invert(&mut self, mfcc: &[f32]) {
        log_mel_of_window(&self.dct_t, mfcc, &mut self.log_mel);
    }

    /// Saliency of `digit` in `mfcc` (a [`crate::signal::mfcc::FEATURE_LEN`] window); `base_prob` is the
    /// digit's probability on the unoccluded window (the recognizer already has it).
    pub fn compute(&mut self, model: &Model, mfcc: &[f32], digit: u8, base_prob: f32) -> Result<Saliency, ModelError> {
        if mfcc.len() != N_MFCC * N_FRAMES {
            return Err(ModelError::InputLength { expected: N_MFCC * N_FRAMES, got: mfcc.len() });
        }
        self.invert(mfcc);
        // Frames of zero padding are -100 dB (the log floor) in every band, up to rounding.
        let padding_db = 10.0 * crate::signal::mfcc::LOG_FLOOR.log10() + 0.5;
        let mut audio_frame = [false; N_FRAMES];
        for (t, a) in audio_frame.iter_mut().enumerate() {
            *a = (0..N_MELS).any(|m| self.log_mel[m * N_FRAMES + t] > padding_db);
        }
        let mut background = [0.0f32; N_MELS];
        for (m, b) in background.iter_mut().enumerate() {
            let row = &self.log_mel[m * N_FRAMES..(m + 1) * N_FRAMES];
            *b = (0..N_FRAMES).filter(|&t| audio_frame[t]).map(|t| row[t]).fold(f32::MAX, f32::min);
            if *b == f32::MAX {
                *b = padding_db - 0.5;
            }
        }
        let window = N_MFCC * N_FRAMES;
        let mut occluded = vec![0.0f32; N_MELS * N_FRAMES];
        for i in 0..N_BANDS + N_SLICES {
            occluded.copy_from_slice(&self.log_mel);
            let (mels, frames) = if i < N_BANDS {
                (i * MELS_PER_BAND..(i + 1) * MELS_PER_BAND, 0..N_FRAMES)
            } else {
                let s = i - N_BANDS;
                (0..N_MELS, s * FRAMES_PER_SLICE..(s + 1) * FRAMES_PER_SLICE)
            };
            for m in mels {
                for t in frames.clone().filter(|&t| audio_frame[t]) {
                    occluded[m * N_FRAMES + t] = background[m];
                }
            }
            mfcc_of_log_mel(&self.dct_t, &occluded, &mut self.batch[i * window..(i + 1) * window]);
        }
        let results = model.infer_batch(&self.batch)?;
        let drop = |i: usize| (base_prob - results[i].probs[digit as usize]).max(0.0);
        let mut bands = [0.0; N_BANDS];
        let mut frames = [0.0; N_SLICES];
        for (b, x) in bands.iter_mut().enumerate() {
            *x = drop(b);
        }
        for (s, x) in frames.iter_mut().enumerate() {
            *x = drop(N_BANDS + s);
        }
        Ok(Saliency { digit, bands, band_hz: self.band_hz, frames })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signal::mfcc::MfccExtractor;

    #[test]
    fn inverse_dct_recovers_the_log_mel_and_forward_restores_the_mfcc() {
        let audio: Vec<f32> = (0..6000).map(|n| (n as f32 * 0.3).sin() * 0.2 + (n as f32 * 0.05).cos() * 0.1).collect();
        let mfcc = MfccExtractor::new().compute(&audio);
        let mut s = SaliencyComputer::new();
        let log_mel = s.log_mel(&mfcc[..]).to_vec();
        // Frames after the audio are digital silence: -100 dB in every band.
        assert!((log_mel[10 * N_FRAMES + 63] - -100.0).abs() < 1e-2);
        let mut back = vec![0.0; N_MFCC * N_FRAMES];
        mfcc_of_log_mel(&s.dct_t, &log_mel, &mut back);
        let err = back.iter().zip(mfcc.iter()).map(|(a, b)| (a - b).abs()).fold(0.0, f32::max);
        assert!(err < 1e-2, "round trip error {err}");
    }

    #[test]
    fn band_edges_cover_zero_to_nyquist_in_order() {
        let e = band_edges_hz();
        assert_eq!(e[0].0, 0.0);
        assert_eq!(e[7].1, 4000.0);
        for g in 0..N_BANDS {
            assert!(e[g].0 < e[g].1);
            if g > 0 {
                assert!((e[g].0 - e[g - 1].1).abs() < 1e-3);
            }
        }
    }
}
