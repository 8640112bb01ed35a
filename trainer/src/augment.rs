//! Waveform augmentation, applied before the core's MFCC so the model sees what the recognizer
//! will compute from real, imperfect audio.
//!
//! The core's convention: an utterance starts at sample 0 of its 8192-sample window (the
//! recognizer's buffer starts at speech onset minus a short pre-roll) and is followed by zeros.
//! So "time shift" here is a little leading silence or a clipped onset, and a growing prefix
//! during streaming early exit is exactly a "prefix crop": the first k% of the word, zeros after,
//! label unchanged. Training on prefix crops keeps the model's confidence on partial words honest.

use fsdd_core::mfcc::WINDOW_SAMPLES;
use rand::Rng;
use serde::Serialize;

use crate::data::Clip;

/// What each augmentation does and how often; recorded verbatim in the model card.
#[derive(Debug, Clone, Serialize)]
pub struct AugmentPolicy {
    /// Speed perturbation (resampling: tempo and pitch move together, like Kaldi's).
    pub speed_probability: f64,
    pub speed_range: (f64, f64),
    /// Keep only the first fraction of the word, zeros after.
    pub prefix_probability: f64,
    pub prefix_range: (f64, f64),
    /// Gain in dB, always applied.
    pub gain_db_range: (f64, f64),
    /// Leading silence (pre-roll) in samples.
    pub lead_probability: f64,
    pub lead_max_samples: usize,
    /// Clipped onset (late VAD trigger) in samples.
    pub onset_cut_probability: f64,
    pub onset_cut_max_samples: usize,
    /// White or brown synthetic noise at a random SNR.
    pub noise_probability: f64,
    pub noise_snr_db: (f64, f64),
    /// Babble: 1-3 other training utterances mixed in at a random SNR.
    pub babble_probability: f64,
    pub babble_snr_db: (f64, f64),
}

impl Default for AugmentPolicy {
    fn default() -> Self {
        Self {
            speed_probability: 0.8,
            speed_range: (0.85, 1.15),
            prefix_probability: 0.2,
            prefix_range: (0.3, 0.95),
            gain_db_range: (-12.0, 6.0),
            lead_probability: 0.5,
            lead_max_samples: 3200,
            onset_cut_probability: 0.15,
            onset_cut_max_samples: 240,
            noise_probability: 0.5,
            noise_snr_db: (3.0, 30.0),
            babble_probability: 0.25,
            babble_snr_db: (8.0, 25.0),
        }
    }
}

fn uniform(rng: &mut impl Rng, (lo, hi): (f64, f64)) -> f32 {
    rng.gen_range(lo..=hi) as f32
}

fn chance(rng: &mut impl Rng, probability: f64) -> bool {
    rng.r#gen::<f64>() < probability
}

/// Standard normal by Box-Muller.
fn gaussian(rng: &mut impl Rng) -> f32 {
    let u1: f32 = rng.gen_range(f32::EPSILON..1.0);
    let u2: f32 = rng.r#gen();
    (-2.0 * u1.ln()).sqrt() * (std::f32::consts::TAU * u2).cos()
}

/// Resamples by linear interpolation: `factor` > 1 is faster (shorter, higher).
pub fn change_speed(samples: &[f32], factor: f32) -> Vec<f32> {
    let out_len = ((samples.len() as f32) / factor).floor() as usize;
    (0..out_len)
        .map(|i| {
            let pos = i as f32 * factor;
            let j = pos as usize;
            let frac = pos - j as f32;
            let a = samples.get(j).copied().unwrap_or(0.0);
            let b = samples.get(j + 1).copied().unwrap_or(0.0);
            a + (b - a) * frac
        })
        .collect()
}

fn rms(x: &[f32]) -> f32 {
    if x.is_empty() {
        return 0.0;
    }
    (x.iter().map(|v| v * v).sum::<f32>() / x.len() as f32).sqrt()
}

/// Adds `noise` scaled to `snr_db` below `speech_rms` over `window[..noise.len()]`.
fn mix_at_snr(window: &mut [f32], noise: &[f32], speech_rms: f32, snr_db: f32) {
    let noise_rms = rms(noise);
    if noise_rms <= 0.0 || speech_rms <= 0.0 {
        return;
    }
    let scale = speech_rms / noise_rms * 10f32.powf(-snr_db / 20.0);
    for (w, n) in window.iter_mut().zip(noise) {
        *w += n * scale;
    }
}

impl AugmentPolicy {
    /// One augmented window (at most [`WINDOW_SAMPLES`] samples, utterance left-aligned) of
    /// `clip`; `pool` provides babble (utterances other than `clip` itself are picked).
    pub fn apply(&self, clip: &Clip, pool: &[Clip], rng: &mut impl Rng) -> Vec<f32> {
        let mut speech: Vec<f32> = if chance(rng, self.speed_probability) {
            change_speed(&clip.samples, uniform(rng, self.speed_range))
        } else {
            clip.samples.clone()
        };
        if chance(rng, self.onset_cut_probability) {
            let cut = rng
                .gen_range(0..=self.onset_cut_max_samples)
                .min(speech.len() / 4);
            speech.drain(..cut);
        }
        if chance(rng, self.prefix_probability) {
            let keep = (speech.len() as f32 * uniform(rng, self.prefix_range)).round() as usize;
            speech.truncate(keep.max(1));
        }
        let gain = 10f32.powf(uniform(rng, self.gain_db_range) / 20.0);
        speech.iter_mut().for_each(|s| *s *= gain);

        let lead = if chance(rng, self.lead_probability) {
            rng.gen_range(0..=self.lead_max_samples)
        } else {
            0
        };
        let mut window = vec![0.0f32; WINDOW_SAMPLES];
        let end = (lead + speech.len()).min(WINDOW_SAMPLES);
        window[lead..end].copy_from_slice(&speech[..end - lead]);
        let speech_rms = rms(&window[lead..end]);
        // Noise covers the pre-roll and the word; half the time it continues to the end of the
        // window (streaming buffers that keep recording after the word).
        let noisy_len = if rng.r#gen::<bool>() {
            WINDOW_SAMPLES
        } else {
            end
        };

        if chance(rng, self.noise_probability) {
            let mut noise: Vec<f32> = (0..noisy_len).map(|_| gaussian(rng)).collect();
            if rng.r#gen::<bool>() {
                // Brown-ish noise: leaky integration of white noise, most energy at low frequency.
                let mut acc = 0.0f32;
                for n in &mut noise {
                    acc = 0.98 * acc + *n;
                    *n = acc;
                }
            }
            mix_at_snr(
                &mut window,
                &noise,
                speech_rms,
                uniform(rng, self.noise_snr_db),
            );
        }
        if chance(rng, self.babble_probability) && pool.len() > 1 {
            let mut babble = vec![0.0f32; noisy_len];
            for _ in 0..rng.gen_range(1..=3) {
                let other = &pool[rng.gen_range(0..pool.len())];
                if std::ptr::eq(other, clip) {
                    continue;
                }
                let offset = rng.gen_range(0..noisy_len.max(1));
                let skip = rng.gen_range(0..other.samples.len().max(1));
                for (b, s) in babble[offset..]
                    .iter_mut()
                    .zip(other.samples.iter().skip(skip).chain(&other.samples))
                {
                    *b += s;
                }
            }
            mix_at_snr(
                &mut window,
                &babble,
                speech_rms,
                uniform(rng, self.babble_snr_db),
            );
        }
        // Keep within what a 16-bit WAV or an audio interface can deliver.
        window.iter_mut().for_each(|s| *s = s.clamp(-1.0, 1.0));
        window
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn tone(len: usize) -> Vec<f32> {
        (0..len).map(|i| 0.3 * (i as f32 * 0.2).sin()).collect()
    }

    #[test]
    fn speed_change_scales_length() {
        let x = tone(4000);
        assert_eq!(change_speed(&x, 1.25).len(), 3200);
        assert_eq!(change_speed(&x, 0.8).len(), 5000);
        assert_eq!(change_speed(&x, 1.0), x);
    }

    #[test]
    fn windows_are_left_aligned_and_bounded() {
        let clip = Clip {
            samples: tone(3000),
            digit: 3,
            speaker: "t".into(),
            take: 10,
        };
        let pool = vec![
            clip.clone(),
            Clip {
                samples: tone(2000),
                digit: 4,
                speaker: "u".into(),
                take: 11,
            },
        ];
        let policy = AugmentPolicy {
            noise_probability: 0.0,
            babble_probability: 0.0,
            ..Default::default()
        };
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        for _ in 0..50 {
            let w = policy.apply(&clip, &pool, &mut rng);
            assert_eq!(w.len(), WINDOW_SAMPLES);
            let first = w.iter().position(|s| *s != 0.0).unwrap();
            assert!(
                first <= policy.lead_max_samples + 2,
                "speech starts at {first}"
            );
            // Speed <= 1.15 slower and no lead beyond 1600: the tail of the window stays silent.
            assert!(w[7000..].iter().all(|s| *s == 0.0));
        }
    }
}
