//! Augmentation in the log-mel domain, applied to the core's MFCC windows after extraction.
//!
//! The core's DCT is orthonormal over all 64 mel bands, so a window's log-mel spectrogram is
//! recovered exactly, changed, and transformed back: the model still sees the core's features,
//! only from spectra that no recording in FSDD has. Two changes, both aimed at speakers the
//! model never heard (leave-one-speaker-out):
//! - a random smooth microphone response: a tilt/bow of a few dB plus, sometimes, a steep
//!   high-frequency roll-off. FSDD's speakers used different microphones: george's recordings
//!   carry 8% of their energy above 2.5 kHz, jackson's and lucas's 1-1.5%, and the held-out
//!   folds confuse exactly the digits whose cue lives up there ("six" heard as "seven"/"eight");
//! - SpecAugment-style band masks (Park et al., 2019): whole mel bands replaced by the frame's
//!   mean level, so no single band is indispensable.
//!
//! Frames of digital silence (zero padding, c0 at the log floor) are left alone: a microphone
//! does not colour the zeros after a word.

use fsdd_core::signal::mfcc::{N_FRAMES, N_MELS, N_MFCC, dct_basis_transposed, log_mel_of_window, mfcc_of_log_mel};
use rand::Rng;

use crate::augment::AugmentPolicy;
use crate::model::SILENT_C0;

/// Applies [`AugmentPolicy`]'s log-mel augmentations to MFCC windows.
pub struct LogMelAugmenter {
    dct_t: Vec<f32>,
}

impl Default for LogMelAugmenter {
    fn default() -> Self {
        Self::new()
    }
}

impl LogMelAugmenter {
    pub fn new() -> Self {
        Self { dct_t: dct_basis_transposed() }
    }

    /// True when `policy` would ever change a window (so callers can skip the transform).
    pub fn active(policy: &AugmentPolicy) -> bool {
        policy.response_probability > 0.0 || policy.band_mask_probability > 0.0
    }

    /// The per-band offset (dB) of one random microphone response.
    fn random_response(policy: &AugmentPolicy, rng: &mut impl Rng) -> [f32; N_MELS] {
        let mut offset = [0.0f32; N_MELS];
        // Smooth part: the first three cosines over the mel axis (tilt, bow, wiggle).
        for j in 1..=3 {
            let a = rng.gen_range(-1.0..=1.0) * policy.response_db as f32 / j as f32;
            for (m, o) in offset.iter_mut().enumerate() {
                *o += a * (std::f32::consts::PI * j as f32 * (m as f32 + 0.5) / N_MELS as f32).cos();
            }
        }
        // Half the time a dull microphone: a logistic roll-off above a random band.
        if rng.r#gen::<bool>() {
            let corner = rng.gen_range(N_MELS as f32 * 0.55..=N_MELS as f32 * 0.95);
            let depth = rng.gen_range(0.0..=policy.rolloff_db as f32);
            let width = rng.gen_range(1.5f32..=5.0);
            for (m, o) in offset.iter_mut().enumerate() {
                *o -= depth / (1.0 + (-(m as f32 - corner) / width).exp());
            }
        }
        offset
    }

    /// Augments one coefficient-major (`[k * N_FRAMES + t]`) window in place.
    pub fn apply(&self, policy: &AugmentPolicy, window: &mut [f32], rng: &mut impl Rng) {
        debug_assert_eq!(window.len(), N_MFCC * N_FRAMES);
        let response = (rng.r#gen::<f64>() < policy.response_probability).then(|| Self::random_response(policy, rng));
        let mut masked = [false; N_MELS];
        if rng.r#gen::<f64>() < policy.band_mask_probability {
            for _ in 0..policy.band_masks {
                let width = rng.gen_range(0..=policy.band_mask_max.min(N_MELS));
                let start = rng.gen_range(0..=N_MELS - width);
                masked[start..start + width].iter_mut().for_each(|b| *b = true);
            }
        }
        if response.is_none() && !masked.contains(&true) {
            return;
        }
        // Whole-window transforms, then only the speech frames are written back: digital
        // silence keeps its exact values.
        let mut log_mel = vec![0.0f32; N_MELS * N_FRAMES];
        log_mel_of_window(&self.dct_t, window, &mut log_mel);
        let speech: Vec<usize> = (0..N_FRAMES).filter(|&t| window[t] > SILENT_C0).collect();
        let kept = masked.iter().filter(|&&m| !m).count();
        for &t in &speech {
            let mut frame: [f32; N_MELS] = std::array::from_fn(|m| log_mel[m * N_FRAMES + t]);
            if let Some(offset) = &response {
                frame.iter_mut().zip(offset).for_each(|(lm, o)| *lm += o);
            }
            if kept < N_MELS && kept > 0 {
                let mean = frame.iter().zip(&masked).filter(|(_, m)| !**m).map(|(lm, _)| lm).sum::<f32>() / kept as f32;
                frame.iter_mut().zip(&masked).filter(|(_, m)| **m).for_each(|(lm, _)| *lm = mean);
            }
            for (m, lm) in frame.iter().enumerate() {
                log_mel[m * N_FRAMES + t] = *lm;
            }
        }
        let mut augmented = vec![0.0f32; N_MFCC * N_FRAMES];
        mfcc_of_log_mel(&self.dct_t, &log_mel, &mut augmented);
        for &t in &speech {
            for k in 0..N_MFCC {
                window[k * N_FRAMES + t] = augmented[k * N_FRAMES + t];
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use fsdd_core::signal::mfcc::{MfccExtractor, SAMPLE_RATE, mel_band_centres_hz};
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    fn log_mel_of(window: &[f32], t: usize) -> Vec<f32> {
        let mut log_mel = vec![0.0f32; N_MELS * N_FRAMES];
        log_mel_of_window(&dct_basis_transposed(), window, &mut log_mel);
        (0..N_MELS).map(|m| log_mel[m * N_FRAMES + t]).collect()
    }

    /// A short two-tone "word" (300 Hz + 2.5 kHz), zeros after.
    fn word() -> Vec<f32> {
        (0..3000)
            .map(|n| {
                let t = n as f32 / SAMPLE_RATE as f32;
                0.3 * (std::f32::consts::TAU * 300.0 * t).sin() + 0.1 * (std::f32::consts::TAU * 2500.0 * t).sin()
            })
            .collect()
    }

    #[test]
    fn a_disabled_policy_leaves_the_core_features_bit_identical() {
        let clean = MfccExtractor::new().compute(&word());
        let mut window = clean.to_vec();
        let policy =
            AugmentPolicy { response_probability: 0.0, band_mask_probability: 0.0, ..AugmentPolicy::default() };
        LogMelAugmenter::new().apply(&policy, &mut window, &mut StdRng::seed_from_u64(1));
        assert_eq!(window, clean.to_vec());
    }

    #[test]
    fn a_response_moves_speech_frames_by_a_smooth_offset_and_spares_the_padding() {
        let clean = MfccExtractor::new().compute(&word());
        let policy =
            AugmentPolicy { response_probability: 1.0, band_mask_probability: 0.0, ..AugmentPolicy::default() };
        let mut window = clean.to_vec();
        LogMelAugmenter::new().apply(&policy, &mut window, &mut StdRng::seed_from_u64(3));
        // Frame 5 is inside the word: the same offset in every speech frame, bounded by the
        // policy's amplitudes (three cosines plus the roll-off).
        let bound = policy.response_db as f32 * (1.0 + 0.5 + 1.0 / 3.0) + policy.rolloff_db as f32;
        let d5: Vec<f32> = log_mel_of(&window, 5).iter().zip(log_mel_of(&clean[..], 5)).map(|(a, b)| a - b).collect();
        let d10: Vec<f32> =
            log_mel_of(&window, 10).iter().zip(log_mel_of(&clean[..], 10)).map(|(a, b)| a - b).collect();
        assert!(d5.iter().any(|d| d.abs() > 0.1), "no change");
        for (a, b) in d5.iter().zip(&d10) {
            assert!((a - b).abs() < 1e-2, "offset differs between frames: {a} vs {b}");
            assert!(a.abs() <= bound + 1e-3, "offset {a} dB beyond {bound}");
        }
        // Frames 40.. are zero padding (3000 samples end in frame 23).
        assert_eq!(&window[40..N_FRAMES], &clean[40..N_FRAMES]);
        for k in 0..N_MFCC {
            assert_eq!(window[k * N_FRAMES + 63], clean[k * N_FRAMES + 63]);
        }
    }

    #[test]
    fn a_band_mask_flattens_the_2500_hz_tone_band() {
        let clean = MfccExtractor::new().compute(&word());
        let centres = mel_band_centres_hz();
        let band = centres.iter().position(|&c| c >= 2500.0).unwrap();
        let before = log_mel_of(&clean[..], 5);
        // Search seeds for a mask covering the tone's band; masks are random, so check the
        // masked band's value, not which seed produced it.
        let policy =
            AugmentPolicy { response_probability: 0.0, band_mask_probability: 1.0, ..AugmentPolicy::default() };
        let augmenter = LogMelAugmenter::new();
        let after = (0..200u64)
            .find_map(|seed| {
                let mut w = clean.to_vec();
                augmenter.apply(&policy, &mut w, &mut StdRng::seed_from_u64(seed));
                let after = log_mel_of(&w, 5);
                ((after[band] - before[band]).abs() > 1.0).then_some(after)
            })
            .expect("some mask covers the 2.5 kHz band");
        // The tone stands out in the clean band; after masking it sits at the frame's mean of
        // the other bands, i.e. well below the clean peak.
        assert!(after[band] < before[band] - 3.0, "{} vs {}", after[band], before[band]);
    }
}
