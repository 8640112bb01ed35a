//! Template matching by dynamic time warping: the classic speaker-dependent recogniser, and the
//! anchor any enrollment method is held against.
//!
//! Each enrolled take keeps its word as a sequence of frames; a new word is compared with every
//! template by the cheapest monotonic alignment of their frames, so a take said faster or slower
//! still lines up with its own digit. Unlike a prototype (one mean embedding per digit), a
//! template keeps the word's time structure and the speaker's own detail.
//!
//! Features come from the MFCC window the recogniser already computed (no second front end):
//! - coefficients 1..=[`N_COEFFS`] of the frames that hold audio (c0, the level, is left out so
//!   a louder or quieter take matches its digit all the same), plus their deltas (a ±2-frame
//!   regression), [`FEATURE_DIM`] values a frame;
//! - silence trimmed: frames whose mean log-mel level is more than [`TRIM_BELOW_PEAK_DB`] under
//!   the word's loudest frame are dropped from both ends;
//! - per-utterance mean and variance normalisation of each value, which removes most of a
//!   microphone's and a room's fixed colouring.
//!
//! Distance: Euclidean between frames, steps (1,0), (0,1), (1,1), the total divided by the
//! lengths' sum, so long and short words compare on one scale.

use crate::signal::mfcc::{FEATURE_LEN, HOP, N_FRAMES, N_MFCC, WIN_LEN};

/// Cepstral coefficients kept per frame (after c0).
pub const N_COEFFS: usize = 13;
/// Values per frame: the coefficients and their deltas.
pub const FEATURE_DIM: usize = 2 * N_COEFFS;
/// Frames this far under the word's loudest frame (mean log-mel level, dB) are trimmed from
/// either end.
pub const TRIM_BELOW_PEAK_DB: f32 = 35.0;
/// A window whose loudest frame's mean log-mel level is under this (dB) holds no word: digital
/// silence sits at the -100 dB floor.
pub const SILENCE_DB: f32 = -90.0;
/// Fewer frames than this after trimming: too short to match (a click, not a word).
pub const MIN_FRAMES: usize = 3;

/// A word as DTW sees it: normalised frames, `FEATURE_DIM` values each, frame-major.
#[derive(Clone, Debug, PartialEq)]
pub struct TemplateFeatures {
    values: Vec<f32>,
}

impl TemplateFeatures {
    /// Features of a word from its MFCC window (`out[k * N_FRAMES + t]`, see
    /// [`crate::signal::mfcc`]) and the number of samples the window was computed from (frames
    /// past the audio are padding, not part of the word). `None` when too little of the window
    /// holds sound.
    pub fn from_mfcc(mfcc: &[f32], samples: usize) -> Option<Self> {
        if mfcc.len() != FEATURE_LEN || mfcc.iter().any(|v| !v.is_finite()) {
            return None;
        }
        let audible = (samples + WIN_LEN / 2 - HOP / 2).div_ceil(HOP).min(N_FRAMES);
        // c0 of the orthonormal DCT is sqrt(N_MELS) times the frame's mean log-mel level.
        let level = |t: usize| mfcc[t] / (N_MFCC as f32).sqrt();
        let peak = (0..audible).map(level).fold(f32::MIN, f32::max);
        if peak < SILENCE_DB {
            return None;
        }
        let loud = |t: &usize| level(*t) >= peak - TRIM_BELOW_PEAK_DB;
        let first = (0..audible).find(loud)?;
        let last = (0..audible).rev().find(loud)?;
        let n = last + 1 - first;
        if n < MIN_FRAMES {
            return None;
        }
        let coeff = |k: usize, t: usize| mfcc[k * N_FRAMES + t];
        let mut values = vec![0.0f32; n * FEATURE_DIM];
        for i in 0..n {
            let t = first + i;
            for k in 0..N_COEFFS {
                let c = k + 1;
                values[i * FEATURE_DIM + k] = coeff(c, t);
                // Regression delta over ±2 frames, clamped at the word's edges.
                let at = |d: isize| coeff(c, (t as isize + d).clamp(first as isize, last as isize) as usize);
                values[i * FEATURE_DIM + N_COEFFS + k] = ((at(1) - at(-1)) + 2.0 * (at(2) - at(-2))) / 10.0;
            }
        }
        for j in 0..FEATURE_DIM {
            let mean = (0..n).map(|i| values[i * FEATURE_DIM + j]).sum::<f32>() / n as f32;
            let var = (0..n).map(|i| (values[i * FEATURE_DIM + j] - mean).powi(2)).sum::<f32>() / n as f32;
            let scale = 1.0 / var.sqrt().max(1e-3);
            for i in 0..n {
                let v = &mut values[i * FEATURE_DIM + j];
                *v = (*v - mean) * scale;
            }
        }
        Some(Self { values })
    }

    /// Frames after trimming.
    pub fn frames(&self) -> usize {
        self.values.len() / FEATURE_DIM
    }

    fn frame(&self, i: usize) -> &[f32] {
        &self.values[i * FEATURE_DIM..(i + 1) * FEATURE_DIM]
    }
}

/// DTW distance of two words: the cheapest alignment's summed frame distances over the sum of
/// their lengths. Symmetric; 0 for a word and itself.
pub fn dtw_distance(a: &TemplateFeatures, b: &TemplateFeatures) -> f32 {
    let (n, m) = (a.frames(), b.frames());
    // One row of the cost matrix at a time: cost[j] is the cheapest path to (i, j).
    let mut prev = vec![f32::INFINITY; m + 1];
    let mut row = vec![f32::INFINITY; m + 1];
    prev[0] = 0.0;
    for i in 1..=n {
        row[0] = f32::INFINITY;
        let fa = a.frame(i - 1);
        for j in 1..=m {
            let d = fa.iter().zip(b.frame(j - 1)).map(|(x, y)| (x - y) * (x - y)).sum::<f32>().sqrt();
            row[j] = d + prev[j - 1].min(prev[j]).min(row[j - 1]);
        }
        std::mem::swap(&mut prev, &mut row);
    }
    prev[m] / (n + m) as f32
}

/// Enrolled templates, per digit.
#[derive(Clone, Debug, Default)]
pub struct TemplateSet {
    templates: [Vec<TemplateFeatures>; 10],
}

impl TemplateSet {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds one template of `digit` (0-9; others are ignored and give `false`).
    pub fn add(&mut self, digit: u8, features: TemplateFeatures) -> bool {
        match self.templates.get_mut(digit as usize) {
            Some(list) => {
                list.push(features);
                true
            }
            None => false,
        }
    }

    /// Templates of `digit`.
    pub fn count(&self, digit: u8) -> usize {
        self.templates.get(digit as usize).map_or(0, Vec::len)
    }

    /// Each enrolled digit's nearest template distance (`None` where nothing is enrolled).
    pub fn distances(&self, query: &TemplateFeatures) -> [Option<f32>; 10] {
        std::array::from_fn(|d| self.templates[d].iter().map(|t| dtw_distance(query, t)).reduce(f32::min))
    }

    /// The digit of the nearest template and its distance (`None` with nothing enrolled).
    pub fn nearest(&self, query: &TemplateFeatures) -> Option<(u8, f32)> {
        self.distances(query)
            .iter()
            .enumerate()
            .filter_map(|(d, x)| x.map(|x| (d as u8, x)))
            .min_by(|a, b| a.1.total_cmp(&b.1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signal::mfcc::MfccExtractor;

    /// A vowel-like tone sweep: `up` rises, otherwise falls, over `len` samples.
    fn sweep(len: usize, up: bool) -> Vec<f32> {
        let mut phase = 0.0f32;
        (0..len)
            .map(|n| {
                let x = n as f32 / len as f32;
                let f = if up { 300.0 + 1500.0 * x } else { 1800.0 - 1500.0 * x };
                phase += 2.0 * std::f32::consts::PI * f / 8000.0;
                0.3 * phase.sin() + 0.1 * (3.0 * phase).sin()
            })
            .collect()
    }

    fn features(samples: &[f32]) -> TemplateFeatures {
        let mfcc = MfccExtractor::new().compute(samples);
        TemplateFeatures::from_mfcc(&mfcc[..], samples.len()).expect("a word")
    }

    #[test]
    fn a_word_said_slower_still_matches_its_own_shape() {
        let rise = features(&sweep(4000, true));
        let rise_slow = features(&sweep(6400, true));
        let fall = features(&sweep(4000, false));
        assert_eq!(dtw_distance(&rise, &rise), 0.0);
        let same = dtw_distance(&rise, &rise_slow);
        let other = dtw_distance(&rise, &fall);
        assert!(same < 0.5 * other, "slow rise {same}, fall {other}");
        assert!((dtw_distance(&rise, &fall) - dtw_distance(&fall, &rise)).abs() < 1e-4);
        let mut set = TemplateSet::new();
        set.add(1, rise);
        set.add(2, fall);
        assert_eq!(set.nearest(&rise_slow).map(|(d, _)| d), Some(1));
        assert_eq!(set.distances(&rise_slow)[3], None);
    }

    #[test]
    fn leading_silence_and_level_barely_change_the_features() {
        // A little broadband noise under the tone, as any room has, keeps the quiet bands off
        // the log floor (where a level change would move them unlike the rest).
        let mut noise = 1u32;
        let mut word = sweep(4000, true);
        for x in word.iter_mut() {
            noise = noise.wrapping_mul(1664525).wrapping_add(1013904223);
            *x += 0.003 * ((noise >> 8) as f32 / (1u32 << 24) as f32 - 0.5);
        }
        let mut shifted = vec![0.0; 12 * HOP];
        shifted.extend(word.iter().map(|x| x * 0.25));
        let a = features(&word);
        let b = features(&shifted);
        let other = features(&sweep(4000, false));
        let (same, different) = (dtw_distance(&a, &b), dtw_distance(&a, &other));
        assert!(same < 0.3 * different, "shifted and 12 dB quieter {same}, another word {different}");
    }

    #[test]
    fn silence_and_bad_windows_are_not_words() {
        let mfcc = MfccExtractor::new().compute(&[0.0; 4000]);
        assert!(TemplateFeatures::from_mfcc(&mfcc[..], 4000).is_none());
        assert!(TemplateFeatures::from_mfcc(&[0.0; 10], 4000).is_none());
        let mut nan = MfccExtractor::new().compute(&sweep(4000, true));
        nan[5] = f32::NAN;
        assert!(TemplateFeatures::from_mfcc(&nan[..], 4000).is_none());
        assert!(!TemplateSet::new().add(10, features(&sweep(4000, true))));
    }
}
