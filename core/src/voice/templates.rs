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
//!   microphone's and a room's fixed colouring;
//! - every second frame ([`FRAME_STEP`]): a quarter of the DTW cells, and on the held-out FSDD
//!   voices the fused voice scores as well or better than with every frame (docs/measurements.md).
//!
//! Distance: Euclidean between frames, steps (1,0), (0,1), (1,1), the total divided by the
//! lengths' sum, so long and short words compare on one scale.
//!
//! Speed: every evaluation with a voice enrolled matches the word against every template (30
//! for 3 takes per digit), so the frame distances are computed a row at a time against the
//! template stored dimension-major: the inner loop runs over the template's frames, which
//! vectorises without reordering any sum (each distance adds its 26 squares in the same order
//! on every CPU), and on x86_64 with AVX2 it is compiled a second time for 8 lanes.

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
/// DTW compares every this-many-th frame (32 ms apart): a word's shape survives, and the cost
/// matrix has a quarter of the cells.
pub const FRAME_STEP: usize = 2;
/// A template's frames are stored in blocks of this many (one AVX2 register of f32).
const LANES: usize = 8;

/// A word as DTW sees it: normalised frames, `FEATURE_DIM` values each, frame-major.
#[derive(Clone, Debug, PartialEq)]
pub struct TemplateFeatures {
    /// Frame-major: `values[i * FEATURE_DIM + k]`.
    values: Vec<f32>,
    /// The same values dimension-major, each dimension's row padded with zeros to a multiple of
    /// [`LANES`] frames (so the distance loop has no scalar tail): `by_dim[k * stride + i]`.
    by_dim: Vec<f32>,
}

impl TemplateFeatures {
    /// Features of a word from its MFCC window (`out[k * N_FRAMES + t]`, see
    /// [`crate::signal::mfcc`]) and the number of samples the window was computed from (frames
    /// past the audio are padding, not part of the word). `None` when too little of the window
    /// holds sound.
    pub fn from_mfcc(mfcc: &[f32], samples: usize) -> Option<Self> {
        Self::from_mfcc_every(mfcc, samples, FRAME_STEP)
    }

    /// [`from_mfcc`](Self::from_mfcc) keeping every `step`-th frame (1: all of them, the classic
    /// matcher the enrollment benchmark holds the product against).
    pub fn from_mfcc_every(mfcc: &[f32], samples: usize, step: usize) -> Option<Self> {
        let step = step.max(1);
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
        // Every step-th frame (deltas still from the full frame rate).
        let n = n.div_ceil(step);
        let mut values = vec![0.0f32; n * FEATURE_DIM];
        for i in 0..n {
            let t = first + i * step;
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
        let stride = n.next_multiple_of(LANES);
        let mut by_dim = vec![0.0f32; stride * FEATURE_DIM];
        for i in 0..n {
            for k in 0..FEATURE_DIM {
                by_dim[k * stride + i] = values[i * FEATURE_DIM + k];
            }
        }
        Some(Self { values, by_dim })
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
/// their lengths. Symmetric (up to rounding); 0 for a word and itself.
pub fn dtw_distance(a: &TemplateFeatures, b: &TemplateFeatures) -> f32 {
    DtwScratch::default().distance(a, b, f32::INFINITY)
}

/// Whether the query is a whole word or the start of one still being spoken.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WordEnd {
    /// The word is complete: it must align with the whole template.
    Closed,
    /// The word is still going on (an early evaluation): it may end anywhere in the template,
    /// so "fou" matches the start of "four" rather than all of some shorter word.
    Open,
}

/// Buffers for [`DtwScratch::distance`], reused across the templates of one evaluation.
#[derive(Default)]
pub struct DtwScratch {
    dist: Vec<f32>,
    prev: Vec<f32>,
    row: Vec<f32>,
}

/// The smaller of two costs (costs are never NaN: plain compare, no NaN handling).
#[inline(always)]
fn least(a: f32, b: f32) -> f32 {
    if b < a { b } else { a }
}

impl DtwScratch {
    /// [`dtw_distance`] of query `a` and template `b`, without allocating once the buffers have
    /// grown; `INFINITY` as soon as the distance is sure to exceed `give_up_above` (a path's
    /// cost only grows row by row, so once every cell of a row is over the bound, so is the end).
    pub fn distance(&mut self, a: &TemplateFeatures, b: &TemplateFeatures, give_up_above: f32) -> f32 {
        self.distance_to(a, b, give_up_above, WordEnd::Closed)
    }

    /// [`distance`](Self::distance), with the query's end [`WordEnd::Open`] or closed. Open: the
    /// cheapest alignment of the whole query with any start of the template, over their lengths.
    pub fn distance_to(&mut self, a: &TemplateFeatures, b: &TemplateFeatures, give_up_above: f32, end: WordEnd) -> f32 {
        let (n, m) = (a.frames(), b.frames());
        // An open end divides by fewer frames, so the row bound below would not hold.
        let give_up_above = if end == WordEnd::Open { f32::INFINITY } else { give_up_above };
        let stride = m.next_multiple_of(LANES);
        let bound = give_up_above * (n + m) as f32;
        self.dist.resize(stride, 0.0);
        // One row of the cost matrix at a time: prev[j] is the cheapest path to (i - 1, j).
        self.prev.clear();
        self.prev.resize(m + 1, f32::INFINITY);
        self.row.clear();
        self.row.resize(m + 1, f32::INFINITY);
        self.prev[0] = 0.0;
        for i in 0..n {
            row_distances(a.frame(i), &b.by_dim, &mut self.dist[..stride]);
            // Column 0 is the path's start: reachable only from the first row's corner.
            self.row[0] = f32::INFINITY;
            let mut left = f32::INFINITY;
            let mut row_min = f32::INFINITY;
            for j in 1..=m {
                let cost = self.dist[j - 1] + least(least(self.prev[j - 1], self.prev[j]), left);
                self.row[j] = cost;
                left = cost;
                row_min = least(row_min, cost);
            }
            if row_min > bound {
                return f32::INFINITY;
            }
            std::mem::swap(&mut self.prev, &mut self.row);
        }
        match end {
            WordEnd::Closed => self.prev[m] / (n + m) as f32,
            WordEnd::Open => (1..=m).map(|j| self.prev[j] / (n + j) as f32).fold(f32::INFINITY, f32::min),
        }
    }
}

/// `out[j]` = Euclidean distance from frame `x` to frame `j` of a template stored
/// dimension-major with stride `out.len()` (`by_dim[k * out.len() + j]`; padding frames give
/// meaningless values that the caller ignores).
fn row_distances(x: &[f32], by_dim: &[f32], out: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    if std::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU has AVX2, checked just above.
        return unsafe { row_distances_avx2(x, by_dim, out) };
    }
    row_distances_baseline(x, by_dim, out)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn row_distances_avx2(x: &[f32], by_dim: &[f32], out: &mut [f32]) {
    row_distances_baseline(x, by_dim, out)
}

#[inline(always)]
fn row_distances_baseline(x: &[f32], by_dim: &[f32], out: &mut [f32]) {
    let m = out.len();
    out.fill(0.0);
    for (k, &xk) in x.iter().enumerate() {
        for (o, &y) in out.iter_mut().zip(&by_dim[k * m..(k + 1) * m]) {
            let d = xk - y;
            *o += d * d;
        }
    }
    for o in out.iter_mut() {
        *o = o.sqrt();
    }
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

    /// Each enrolled digit's nearest template distance (`None` where nothing is enrolled). A
    /// template is given up on once it cannot beat its digit's nearest so far.
    pub fn distances(&self, query: &TemplateFeatures) -> [Option<f32>; 10] {
        self.distances_to(query, WordEnd::Closed)
    }

    /// [`distances`](Self::distances) for a whole word or one still being spoken.
    pub fn distances_to(&self, query: &TemplateFeatures, end: WordEnd) -> [Option<f32>; 10] {
        let mut scratch = DtwScratch::default();
        std::array::from_fn(|d| {
            let mut best: Option<f32> = None;
            for t in &self.templates[d] {
                let x = scratch.distance_to(query, t, best.unwrap_or(f32::INFINITY), end);
                best = Some(best.map_or(x, |b| b.min(x)));
            }
            best
        })
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
        // Every frame: the classic matcher. Every second frame (what ships): the trimmed word
        // can start one frame later, so the kept frames sit half a frame apart and the same word
        // moves further (0.39 of another word here, against 0.3), still far from another word.
        for (step, bound) in [(1, 0.3), (FRAME_STEP, 0.45)] {
            let f = |x: &[f32]| {
                let mfcc = MfccExtractor::new().compute(x);
                TemplateFeatures::from_mfcc_every(&mfcc[..], x.len(), step).expect("a word")
            };
            let (a, b, other) = (f(&word), f(&shifted), f(&sweep(4000, false)));
            let (same, different) = (dtw_distance(&a, &b), dtw_distance(&a, &other));
            assert!(
                same < bound * different,
                "step {step}: shifted and 12 dB quieter {same}, another word {different}"
            );
        }
    }

    #[test]
    fn giving_up_on_hopeless_templates_never_changes_the_nearest_distance() {
        let mut set = TemplateSet::new();
        let words: Vec<TemplateFeatures> = (0..6).map(|i| features(&sweep(2500 + 700 * i, i % 2 == 0))).collect();
        for (i, w) in words.iter().enumerate() {
            set.add((i % 2) as u8, w.clone());
        }
        let query = features(&sweep(3900, true));
        let got = set.distances(&query);
        for d in 0..2u8 {
            let brute = words
                .iter()
                .enumerate()
                .filter(|(i, _)| *i % 2 == d as usize)
                .map(|(_, w)| dtw_distance(&query, w))
                .fold(f32::INFINITY, f32::min);
            assert_eq!(got[d as usize], Some(brute), "digit {d}");
        }
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
