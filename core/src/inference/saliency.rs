//! Why the model chose a digit: occlusion importance of 8 mel-frequency bands and 16 time slices.
//!
//! The MFCC window is the orthonormal DCT of log-mel energies, so the DCT's transpose gives the
//! log-mel image back exactly. For each of the 8 band groups (8 mel bands each) and each of the
//! 16 time slices (4 frames, 64 ms each) we replace that region of the log-mel image with
//! "background" (each mel band's quietest level over the frames that hold audio, what the band
//! holds when nobody speaks; the zero padding after a short utterance, exactly -100 dB, is
//! neither background nor occluded), transform back to MFCC, and score all 24 occluded windows in one batched
//! forward pass. Deterministic: same window and model, same numbers.
//!
//! Two views of the same 24 scores:
//! - absolute ([`Saliency::bands`], [`Saliency::frames`]): how much the decided digit's
//!   probability drops (clamped at 0). It saturates: occluding a whole band removes much of the
//!   word, so several bands read 0.8-1.0 (on FSDD's test takes 2.7 of 8 per word on average,
//!   up to 6), while a 64 ms slice of a confidently recognised word barely moves a probability
//!   near 1 (often 0.00-0.06). Different words draw near-identical bars.
//! - relative ([`Saliency::relative`]): the occluded windows' log-odds of the digit, contrasted
//!   against the typical (median) band or slice. Log-odds do not saturate at 0 or 1, and the
//!   contrast asks which band this word depends on *more than on the others*: it is what tells
//!   jackson's "six" from his "five" (`core/tests/saliency_words.rs`).

use crate::inference::model::{Model, ModelError, N_OUTPUTS};
use crate::signal::mfcc::{
    N_FRAMES, N_MELS, N_MFCC, SAMPLE_RATE, dct_basis_transposed, log_mel_of_window, mfcc_of_log_mel,
};

/// Frequency band groups reported.
pub const N_BANDS: usize = 8;
/// Time slices reported.
pub const N_SLICES: usize = 16;
const MELS_PER_BAND: usize = N_MELS / N_BANDS;
const FRAMES_PER_SLICE: usize = N_FRAMES / N_SLICES;

/// Importance of each frequency band and time slice for the decided digit.
///
/// `bands` and `frames` are the absolute view: the drop in the digit's probability when that
/// region is replaced by background (0 = no effect, 1 = decisive). They saturate (see the module
/// docs); [`relative`](Self::relative) is the view that tells words apart.
///
/// Every decision carries one (it is `Copy`, in [`crate::Detection`]), so it holds no more than
/// it must: the band edges, the same for every saliency, come from [`band_hz`](Self::band_hz).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Saliency {
    pub digit: u8,
    pub bands: [f32; N_BANDS],
    pub frames: [f32; N_SLICES],
    /// Log-odds of the digit, `ln(p / (1 - p))` with `1 - p` summed over the other outputs (so it
    /// stays exact when `p` rounds to 1), with each band group occluded.
    pub band_log_odds: [f32; N_BANDS],
    /// The same with each time slice occluded.
    pub frame_log_odds: [f32; N_SLICES],
    /// Bit `s` is set when time slice `s` holds audio (not only the zero padding after a short
    /// utterance). Occluding a slice without audio changes nothing, so the relative view leaves
    /// it out. See [`slice_has_audio`](Self::slice_has_audio).
    pub audio_slices: u16,
}

/// Smallest excess over the typical band or slice, in log-odds (natural log), that counts as
/// standing out: a 10% change in the odds. Below it the relative view is all zero.
pub const MIN_EXCESS: f32 = 0.1;

/// Floor on probabilities before taking logs: log-odds stay within about +-69.
const PROB_FLOOR: f64 = 1e-30;

/// What mattered for a decision relative to the rest: [`Saliency::relative`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RelativeSaliency {
    /// Per band group, 0..=1: how much more occluding it lowered the digit's log-odds than
    /// occluding the median band did, as a fraction of the band that stood out most. Bands at or
    /// below the median are 0.
    pub bands: [f32; N_BANDS],
    /// Signed excess over the median band, in log-odds (positive: mattered more than typical).
    pub band_excess: [f32; N_BANDS],
    /// Per time slice, 0..=1, the same over the slices that hold audio (others are 0).
    pub frames: [f32; N_SLICES],
    /// Signed excess over the median slice with audio, in log-odds (0 for slices without audio).
    pub frame_excess: [f32; N_SLICES],
}

impl RelativeSaliency {
    /// The band group that stood out most, if any stood out by at least [`MIN_EXCESS`].
    pub fn top_band(&self) -> Option<usize> {
        standout(&self.band_excess)
    }

    /// The time slice that stood out most, if any stood out by at least [`MIN_EXCESS`].
    pub fn top_slice(&self) -> Option<usize> {
        standout(&self.frame_excess)
    }
}

fn standout(excess: &[f32]) -> Option<usize> {
    let i = argmax(excess);
    (excess[i] >= MIN_EXCESS).then_some(i)
}

/// Contrast of `importance` (higher = mattered more, any common offset) against its median over
/// the entries where `counted` is true. Returns `(relative, excess)`: the signed excess of each
/// entry over the median, and its positive part divided by the largest excess (0..=1). Entries
/// not counted get 0 in both. With fewer than 2 counted entries, or a largest excess under
/// [`MIN_EXCESS`], nothing stands out and `relative` is all 0.
///
/// The median rather than the mean: the typical entry, not pulled up by the one that stands out.
pub fn relative_to_median<const N: usize>(importance: &[f32; N], counted: &[bool; N]) -> ([f32; N], [f32; N]) {
    let mut relative = [0.0; N];
    let mut excess = [0.0; N];
    let mut sorted = *importance;
    let mut k = 0;
    for i in (0..N).filter(|&i| counted[i]) {
        sorted[k] = importance[i];
        k += 1;
    }
    if k < 2 {
        return (relative, excess);
    }
    let sorted = &mut sorted[..k];
    sorted.sort_by(f32::total_cmp);
    let median = if k % 2 == 1 { sorted[k / 2] } else { 0.5 * (sorted[k / 2 - 1] + sorted[k / 2]) };
    for i in (0..N).filter(|&i| counted[i]) {
        excess[i] = importance[i] - median;
    }
    let top = excess.iter().fold(0.0f32, |a, &b| a.max(b));
    if top >= MIN_EXCESS {
        for (r, &e) in relative.iter_mut().zip(&excess) {
            *r = (e / top).clamp(0.0, 1.0);
        }
    }
    (relative, excess)
}

/// Log-odds of output `digit`: `ln p - ln(sum of the other outputs)`, probabilities floored at 1e-30.
pub fn log_odds(probs: &[f32; N_OUTPUTS], digit: u8) -> f32 {
    let d = digit as usize;
    let rest: f64 = probs.iter().enumerate().filter(|&(k, _)| k != d).map(|(_, &p)| p as f64).sum();
    ((probs[d] as f64).max(PROB_FLOOR).ln() - rest.max(PROB_FLOOR).ln()) as f32
}

impl Saliency {
    /// Lower and upper edge of each band group, Hz ([`band_edges_hz`]).
    pub fn band_hz(&self) -> [(f32, f32); N_BANDS] {
        band_edges_hz()
    }

    /// Whether time slice `s` holds audio.
    pub fn slice_has_audio(&self, s: usize) -> bool {
        s < N_SLICES && self.audio_slices & (1 << s) != 0
    }

    /// Index of the band group whose occlusion dropped the probability most (absolute view).
    pub fn top_band(&self) -> usize {
        argmax(&self.bands)
    }

    /// Index of the time slice whose occlusion dropped the probability most (absolute view).
    pub fn top_slice(&self) -> usize {
        argmax(&self.frames)
    }

    /// What mattered relative to the rest: for bands, each band's drop in log-odds when occluded
    /// minus the median band's drop; for time slices, the same over the slices that hold audio.
    /// Normalised so the band (slice) that stood out most is 1, those at or below typical 0.
    ///
    /// Why this view: occluding a whole band removes much of the word, so absolute drops
    /// saturate near 1 for several bands of most words, and a probability near 1 hardly moves
    /// when a single 64 ms slice is occluded. Log-odds measure the same evidence without
    /// saturating: from log-odds 12, occluded log-odds of -3 and of -10 both read as a drop of
    /// ~1.0 in probability, a fall to 6 as 0.002. The contrast against the typical (median) band
    /// shows which band *this word* depends on more than on the others, where the absolute drop
    /// mostly says that every band is needed. The unoccluded log-odds cancel in the contrast, so
    /// none is needed (the recognizer gives only the digit's probability, whose `1 - p` is not
    /// exact near 1).
    pub fn relative(&self) -> RelativeSaliency {
        // Drop = base - occluded; the base cancels against the median's, so -occluded will do.
        let (bands, band_excess) = relative_to_median(&self.band_log_odds.map(|l| -l), &[true; N_BANDS]);
        let (frames, frame_excess) =
            relative_to_median(&self.frame_log_odds.map(|l| -l), &std::array::from_fn(|s| self.slice_has_audio(s)));
        RelativeSaliency { bands, band_excess, frames, frame_excess }
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
        let odds = |i: usize| log_odds(&results[i].probs, digit);
        let bands = std::array::from_fn(drop);
        let band_log_odds = std::array::from_fn(odds);
        let frames = std::array::from_fn(|s| drop(N_BANDS + s));
        let frame_log_odds = std::array::from_fn(|s| odds(N_BANDS + s));
        let audio_slices = (0..N_SLICES)
            .filter(|s| audio_frame[s * FRAMES_PER_SLICE..(s + 1) * FRAMES_PER_SLICE].contains(&true))
            .fold(0u16, |mask, s| mask | 1 << s);
        Ok(Saliency { digit, bands, frames, band_log_odds, frame_log_odds, audio_slices })
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
    fn one_band_above_the_rest_is_the_only_one_that_stands_out() {
        let (rel, excess) = relative_to_median(&[2.0, 2.0, 2.5, 6.0, 2.0, 1.0, 2.0, 2.0], &[true; 8]);
        // Median 2.0: band 3 exceeds it by 4, band 2 by 0.5; bands at or below it read 0.
        assert_eq!(excess, [0.0, 0.0, 0.5, 4.0, 0.0, -1.0, 0.0, 0.0]);
        assert_eq!(rel, [0.0, 0.0, 0.125, 1.0, 0.0, 0.0, 0.0, 0.0]);
    }

    #[test]
    fn a_common_offset_changes_nothing_so_the_unoccluded_score_is_not_needed() {
        let drops = [9.0f32, 9.5, 12.7, 8.3, 9.5, 10.4, 7.2, 6.9];
        let shifted = drops.map(|d| d - 20.0);
        let (a, ea) = relative_to_median(&drops, &[true; 8]);
        let (b, eb) = relative_to_median(&shifted, &[true; 8]);
        for i in 0..8 {
            assert!((a[i] - b[i]).abs() < 1e-5 && (ea[i] - eb[i]).abs() < 1e-5, "{a:?} {b:?}");
        }
        // Even count: the median is the mean of the middle two (9.0 and 9.5).
        assert!((ea[2] - 3.45).abs() < 1e-5, "{ea:?}");
    }

    #[test]
    fn the_median_is_not_pulled_up_by_the_band_that_stands_out() {
        // Mean 2.0 would put band 0 at exactly typical; the median (1.0) says it stands out.
        let (rel, excess) = relative_to_median(&[2.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 8.0], &[true; 8]);
        assert_eq!(excess[0], 1.0);
        assert!((rel[0] - 1.0 / 7.0).abs() < 1e-6 && rel[7] == 1.0 && rel[1] == 0.0, "{rel:?}");
    }

    #[test]
    fn slices_without_audio_are_left_out_and_flat_profiles_show_nothing() {
        let mut counted = [false; 16];
        counted[..4].copy_from_slice(&[true; 4]);
        let mut drops = [0.0f32; 16];
        drops[..4].copy_from_slice(&[1.0, 3.0, 1.0, 1.0]);
        // Padding slices would drag the median to 0 if counted.
        let (rel, excess) = relative_to_median(&drops, &counted);
        assert_eq!(&excess[..5], &[0.0, 2.0, 0.0, 0.0, 0.0]);
        assert_eq!(rel.iter().filter(|&&r| r > 0.0).count(), 1);
        // Everything alike (or differences under MIN_EXCESS): nothing stands out.
        let (rel, _) = relative_to_median(&[4.0, 4.0, 4.05, 4.0], &[true; 4]);
        assert_eq!(rel, [0.0; 4]);
        // A single slice of audio has nothing to be compared with.
        let (rel, excess) = relative_to_median(&[5.0, 0.0, 0.0], &[true, false, false]);
        assert_eq!((rel, excess), ([0.0; 3], [0.0; 3]));
    }

    #[test]
    fn log_odds_stay_exact_where_the_probability_rounds_to_one() {
        let mut probs = [0.0f32; N_OUTPUTS];
        probs[3] = 1.0; // 1 - 1e-7 rounds to 1.0 in f32
        probs[5] = 1e-7;
        assert!((log_odds(&probs, 3) - (1e7f32).ln()).abs() < 1e-3);
        probs = [0.0; N_OUTPUTS];
        probs[2] = 0.5;
        probs[7] = 0.25;
        probs[10] = 0.25;
        assert!(log_odds(&probs, 2).abs() < 1e-6);
        assert!((log_odds(&probs, 7) + 3f32.ln()).abs() < 1e-6);
        // Nothing on the digit: floored, finite.
        assert!(log_odds(&probs, 0).is_finite() && log_odds(&probs, 0) < -60.0);
    }

    #[test]
    fn the_relative_view_ranks_by_drop_in_log_odds_and_ignores_silent_slices() {
        let audio_slices = 0b1111_1100u16; // slices 2..8
        // Occluding band 6 leaves the lowest log-odds (largest drop); slice 4 likewise.
        let band_log_odds = [5.0, 4.0, 5.0, 5.0, 4.5, 5.0, -3.0, 5.0];
        let mut frame_log_odds = [9.0f32; N_SLICES];
        frame_log_odds[2..8].copy_from_slice(&[8.0, 8.0, 2.0, 7.5, 8.0, 8.5]);
        let s = Saliency {
            digit: 6,
            bands: [0.95; N_BANDS],
            frames: [0.0; N_SLICES],
            band_log_odds,
            frame_log_odds,
            audio_slices,
        };
        let r = s.relative();
        assert_eq!(r.top_band(), Some(6));
        assert_eq!(r.bands[6], 1.0);
        assert!((r.band_excess[6] - 8.0).abs() < 1e-6 && (r.band_excess[1] - 1.0).abs() < 1e-6);
        assert!((r.bands[1] - 0.125).abs() < 1e-6 && r.bands[0] == 0.0);
        assert_eq!(r.top_slice(), Some(4));
        assert!((r.frame_excess[4] - 6.0).abs() < 1e-6, "{:?}", r.frame_excess);
        assert!((0..N_SLICES).all(|t| s.slice_has_audio(t) == (2..8).contains(&t)));
        assert!((0..N_SLICES).all(|t| s.slice_has_audio(t) || r.frames[t] == 0.0));
        // All bands and slices alike: nothing stands out.
        let flat = Saliency { band_log_odds: [1.0; N_BANDS], frame_log_odds: [1.0; N_SLICES], ..s };
        assert_eq!((flat.relative().top_band(), flat.relative().top_slice()), (None, None));
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
