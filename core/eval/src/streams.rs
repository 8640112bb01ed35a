//! Test streams the way users speak, and how a recogniser did on them: words laid out with
//! chosen pauses over recorded room noise at a chosen signal-to-noise ratio, then every
//! detection matched back to the word it belongs to.
//!
//! One implementation for the streaming benchmark (`cargo xtask bench-stream`) and the CI tests
//! (core, plugin), so the README's numbers and the tests' floors measure the same thing;
//! [`play`] runs a stream through the resampler and recogniser at a device's rate.
//!
//! - SNR: the median word level (RMS over each word, words cut to their speech) against the
//!   RMS of the noise actually laid under the stream. Noise is looped from a random offset.
//! - Matching: a detection's span is onset..end of speech (or decision, for an early one); it
//!   belongs to the word it overlaps most. The first detection of a word is its answer; any
//!   further one, and any detection that overlaps no word, is an extra detection. Only
//!   detections that would make a note count: a digit, decided (early or final). Unsure and
//!   rejected ones make no MIDI and are not counted as answers.

use std::ops::RangeInclusive;
use std::path::{Path, PathBuf};

use thiserror::Error;

use std::sync::Arc;
use std::time::Instant;

use fsdd_core::RecognizerConfig;
use fsdd_core::inference::model::{Model, NOT_A_DIGIT};
use fsdd_core::signal::audio::{AudioError, read_wav};
use fsdd_core::signal::mfcc::SAMPLE_RATE;
use fsdd_core::signal::resample::{ResampleError, StreamResampler, resample, resample_to_8k};
use fsdd_core::streaming::recognizer::{Detection, DetectionKind, Recognizer};

/// Small deterministic generator (xorshift64*), so a stream is the same on every machine.
#[derive(Clone, Debug)]
pub struct StreamRng(u64);

impl StreamRng {
    pub fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    /// Uniform in `range` (inclusive).
    pub fn range(&mut self, range: RangeInclusive<usize>) -> usize {
        let span = (range.end() - range.start() + 1) as u64;
        range.start() + (self.next_u64() % span) as usize
    }
}

/// One word placed in a stream, in 8 kHz samples. `label` is a digit, or [`NOT_A_DIGIT`] for
/// another word (talk between digits).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PlacedWord {
    pub label: u8,
    pub start: usize,
    pub end: usize,
}

/// A composed 8 kHz stream and where its words are.
#[derive(Clone, Debug)]
pub struct MixedStream {
    pub samples: Vec<f32>,
    pub words: Vec<PlacedWord>,
    /// Level of the noise laid under the stream, dBFS (`None`: digital silence).
    pub noise_db: Option<f32>,
}

/// The level [`Layout`] scales words to by default, dBFS (a comfortably loud close microphone).
pub const WORD_LEVEL_DB: f32 = -26.0;

/// How to lay words out.
#[derive(Clone, Debug)]
pub struct Layout {
    /// Pause between consecutive words, ms (uniform).
    pub pause_ms: RangeInclusive<u32>,
    /// Signal-to-noise ratio of the noise laid under everything; `None` for silence.
    pub snr_db: Option<f32>,
    /// Before the first word and after the last, ms.
    pub lead_ms: u32,
    pub tail_ms: u32,
    /// Every word is scaled to this RMS level, dBFS, so the SNR holds for each word (one user
    /// at one microphone speaks at one level; FSDD's speakers differ by up to ~20 dB).
    /// `None` keeps the recordings' own levels.
    pub word_level_db: Option<f32>,
    pub seed: u64,
}

impl Layout {
    /// Pauses of 0.3-1.5 s: someone saying digits one at a time.
    pub fn spaced(snr_db: Option<f32>, seed: u64) -> Self {
        Self { pause_ms: 300..=1500, snr_db, lead_ms: 1000, tail_ms: 1000, word_level_db: Some(WORD_LEVEL_DB), seed }
    }
    /// Pauses of 50-200 ms: a phone number read out.
    pub fn fast(snr_db: Option<f32>, seed: u64) -> Self {
        Self { pause_ms: 50..=200, ..Self::spaced(snr_db, seed) }
    }
}

#[derive(Debug, Error)]
pub enum StreamError {
    #[error("{0}")]
    Audio(#[from] AudioError),
    #[error("{path}: cannot resample to 8 kHz: {source}")]
    Resample { path: String, source: ResampleError },
    #[error("cannot read noise directory {path}: {source}")]
    Dir { path: String, source: std::io::Error },
    #[error("no WAV files in noise directory {0}")]
    Empty(String),
    #[error("noise is needed for an SNR but the noise given is empty or silent")]
    SilentNoise,
}

/// RMS level in dBFS (-100 for silence).
pub fn rms_db(samples: &[f32]) -> f32 {
    fsdd_core::signal::vad::level_db(samples)
}

/// The WAV files in `dir`, sorted by name; an error when there are none.
pub fn noise_files(dir: &Path) -> Result<Vec<PathBuf>, StreamError> {
    let entries =
        std::fs::read_dir(dir).map_err(|source| StreamError::Dir { path: dir.display().to_string(), source })?;
    let mut paths: Vec<_> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e.eq_ignore_ascii_case("wav")))
        .collect();
    paths.sort();
    if paths.is_empty() {
        return Err(StreamError::Empty(dir.display().to_string()));
    }
    Ok(paths)
}

/// One noise recording at 8 kHz, mono.
pub fn load_noise(path: &Path) -> Result<Vec<f32>, StreamError> {
    let clip = read_wav(path)?;
    resample_to_8k(&clip.samples, clip.sample_rate)
        .map_err(|source| StreamError::Resample { path: path.display().to_string(), source })
}

/// Every WAV in `dir` (sorted by name), at 8 kHz, mono, one after another.
pub fn load_noise_dir(dir: &Path) -> Result<Vec<f32>, StreamError> {
    let mut all = Vec::new();
    for path in noise_files(dir)? {
        all.extend(load_noise(&path)?);
    }
    Ok(all)
}

/// `len` samples of `noise` from a random offset, looping.
fn noise_stretch(noise: &[f32], len: usize, rng: &mut StreamRng) -> Vec<f32> {
    let start = rng.range(0..=noise.len() - 1);
    noise.iter().cycle().skip(start).take(len).copied().collect()
}

fn ms(ms: u32) -> usize {
    ms as usize * SAMPLE_RATE as usize / 1000
}

/// Lays `words` (label, 8 kHz samples cut to the word) out with `layout`'s pauses and mixes
/// `noise` under the whole stream at its SNR.
pub fn compose(words: &[(u8, &[f32])], noise: &[f32], layout: &Layout) -> Result<MixedStream, StreamError> {
    let mut rng = StreamRng::new(layout.seed);
    let mut samples = vec![0.0f32; ms(layout.lead_ms)];
    let mut placed = Vec::with_capacity(words.len());
    for (i, (label, word)) in words.iter().enumerate() {
        if i > 0 {
            let pause = rng.range(*layout.pause_ms.start() as usize..=*layout.pause_ms.end() as usize) as u32;
            samples.extend(std::iter::repeat_n(0.0, ms(pause)));
        }
        placed.push(PlacedWord { label: *label, start: samples.len(), end: samples.len() + word.len() });
        let gain = layout.word_level_db.map_or(1.0, |target| 10f32.powf((target - rms_db(word)) / 20.0));
        samples.extend(word.iter().map(|s| s * gain));
    }
    samples.extend(std::iter::repeat_n(0.0, ms(layout.tail_ms)));
    let noise_db = match layout.snr_db {
        None => None,
        Some(snr) => {
            let speech_db = match layout.word_level_db {
                Some(level) => level,
                None => {
                    let mut levels: Vec<f32> = words.iter().map(|(_, w)| rms_db(w)).collect();
                    levels.sort_by(f32::total_cmp);
                    levels.get(levels.len() / 2).copied().unwrap_or(WORD_LEVEL_DB)
                }
            };
            Some(add_noise(&mut samples, noise, speech_db - snr, &mut rng)?)
        }
    };
    Ok(MixedStream { samples, words: placed, noise_db })
}

/// `seconds` of noise alone at `level_db` dBFS.
pub fn noise_only(noise: &[f32], seconds: f32, level_db: f32, seed: u64) -> Result<MixedStream, StreamError> {
    let mut rng = StreamRng::new(seed);
    let mut samples = vec![0.0; (seconds * SAMPLE_RATE as f32) as usize];
    let noise_db = add_noise(&mut samples, noise, level_db, &mut rng)?;
    Ok(MixedStream { samples, words: Vec::new(), noise_db: Some(noise_db) })
}

/// Adds looped noise scaled to `level_db` (RMS over the stretch used); returns that level.
fn add_noise(samples: &mut [f32], noise: &[f32], level_db: f32, rng: &mut StreamRng) -> Result<f32, StreamError> {
    if noise.is_empty() || rms_db(noise) <= fsdd_core::signal::vad::LEVEL_FLOOR_DB {
        return Err(StreamError::SilentNoise);
    }
    let stretch = noise_stretch(noise, samples.len(), rng);
    let gain = 10f32.powf((level_db - rms_db(&stretch)) / 20.0);
    for (s, n) in samples.iter_mut().zip(&stretch) {
        *s += gain * n;
    }
    Ok(level_db)
}

/// What [`play`] heard, and the CPU time it took.
#[derive(Clone, Debug)]
pub struct Played {
    /// Positions in the stream's 8 kHz samples.
    pub detections: Vec<Detection>,
    /// Resampler + recogniser time over the stream's duration (share of one core).
    pub cpu_share: f64,
}

/// Plays an 8 kHz stream as a device would deliver it, at `rate` Hz in 1024-frame blocks,
/// through the resampler and a fresh recogniser (what the engine's worker does).
pub fn play(
    model: &Arc<Model>,
    samples_8k: &[f32],
    rate: u32,
    config: RecognizerConfig,
) -> Result<Played, ResampleError> {
    let audio = resample(samples_8k, SAMPLE_RATE, rate)?;
    let mut recognizer = Recognizer::new(model.clone(), config);
    let mut resampler = StreamResampler::to_8k(rate)?;
    let mut detections = Vec::new();
    let t0 = Instant::now();
    for block in audio.chunks(1024) {
        resampler.process(block, &mut |out| recognizer.push(out, &mut |d| detections.push(d)))?;
    }
    resampler.flush(&mut |out| recognizer.push(out, &mut |d| detections.push(d)))?;
    recognizer.finish(&mut |d| detections.push(d));
    let seconds = audio.len() as f64 / rate as f64;
    Ok(Played { detections, cpu_share: t0.elapsed().as_secs_f64() / seconds.max(1e-9) })
}

/// Whether a detection makes a note (a decided digit).
pub fn makes_note(d: &Detection) -> bool {
    d.digit.is_some() && matches!(d.kind, DetectionKind::Early | DetectionKind::Final)
}

/// How a recogniser did on one stream.
#[derive(Clone, Debug, Default)]
pub struct StreamScore {
    /// Digit words in the stream, and how many got the right digit as their answer.
    pub digits: usize,
    pub correct: usize,
    /// Digit words answered with another digit.
    pub wrong: usize,
    /// Digit words with no note at all...
    pub missed: usize,
    /// ...of which the recogniser did hear something but made no note: rejected as "not a
    /// digit", or unsure.
    pub missed_unsure_or_rejected: usize,
    /// Non-digit words in the stream, and how many made a note.
    pub other_words: usize,
    pub other_words_noted: usize,
    /// Notes beyond the first per word, and notes that overlap no word.
    pub extra: usize,
    /// Decision time of each digit word's answer relative to the word's end, ms (negative:
    /// before the word ended).
    pub decision_ms: Vec<f32>,
}

impl StreamScore {
    pub fn accuracy(&self) -> f64 {
        self.correct as f64 / self.digits.max(1) as f64
    }
    /// Median and 95th percentile of [`Self::decision_ms`].
    pub fn decision_percentiles(&self) -> Option<(f32, f32)> {
        if self.decision_ms.is_empty() {
            return None;
        }
        let mut v = self.decision_ms.clone();
        v.sort_by(f32::total_cmp);
        // Linear interpolation between the closest ranks.
        let at = |q: f64| {
            let x = (v.len() - 1) as f64 * q;
            let (lo, hi) = (x.floor() as usize, x.ceil() as usize);
            v[lo] + (v[hi] - v[lo]) * (x - lo as f64) as f32
        };
        Some((at(0.5), at(0.95)))
    }
}

/// Matches `detections` (positions in the stream's 8 kHz samples) to `words`.
pub fn score(words: &[PlacedWord], detections: &[Detection]) -> StreamScore {
    let mut answer: Vec<Option<&Detection>> = vec![None; words.len()];
    let mut s = StreamScore::default();
    for d in detections.iter().filter(|d| makes_note(d)) {
        let (from, to) = (d.onset, d.end.unwrap_or(d.decision).max(d.onset + 1));
        let overlap = |w: &PlacedWord| (to.min(w.end as u64)).saturating_sub(from.max(w.start as u64));
        let best = (0..words.len()).filter(|&i| overlap(&words[i]) > 0).max_by_key(|&i| overlap(&words[i]));
        match best {
            Some(i) if answer[i].is_none() => answer[i] = Some(d),
            _ => s.extra += 1,
        }
    }
    let silenced = |w: &PlacedWord| {
        detections.iter().any(|d| {
            !makes_note(d) && {
                let (from, to) = (d.onset, d.end.unwrap_or(d.decision).max(d.onset + 1));
                to.min(w.end as u64) > from.max(w.start as u64)
            }
        })
    };
    for (w, a) in words.iter().zip(&answer) {
        if (w.label as usize) < NOT_A_DIGIT {
            s.digits += 1;
            match a {
                None => {
                    s.missed += 1;
                    s.missed_unsure_or_rejected += silenced(w) as usize;
                }
                Some(d) => {
                    if d.digit == Some(w.label) {
                        s.correct += 1;
                    } else {
                        s.wrong += 1;
                    }
                    s.decision_ms.push((d.decision as f32 - w.end as f32) * 1000.0 / SAMPLE_RATE as f32);
                }
            }
        } else {
            s.other_words += 1;
            s.other_words_noted += a.is_some() as usize;
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use fsdd_core::inference::model::N_OUTPUTS;

    fn det(digit: Option<u8>, kind: DetectionKind, onset: u64, decision: u64, end: Option<u64>) -> Detection {
        Detection {
            digit,
            confidence: 0.9,
            probs: [0.0; N_OUTPUTS],
            kind,
            onset,
            decision,
            end,
            compute_us: 0,
            saliency: None,
        }
    }

    #[test]
    fn layout_places_words_with_pauses_in_range_and_noise_at_the_snr() {
        let word = vec![0.1f32; 4000];
        let noise: Vec<f32> = (0..8000).map(|i| if i % 2 == 0 { 0.3 } else { -0.3 }).collect();
        let words = [(1u8, word.as_slice()), (2, word.as_slice()), (3, word.as_slice())];
        let s = compose(&words, &noise, &Layout::fast(Some(10.0), 7)).unwrap();
        assert_eq!(s.words.len(), 3);
        for pair in s.words.windows(2) {
            let pause = pair[1].start - pair[0].end;
            assert!((400..=1600).contains(&pause), "{pause}");
        }
        // Words at -26 dBFS, noise 10 dB under them: -36 dBFS, measured in the lead-in.
        let word = &s.samples[s.words[1].start..s.words[1].end];
        assert!((rms_db(word) - WORD_LEVEL_DB).abs() < 0.5, "{}", rms_db(word));
        assert!((rms_db(&s.samples[..4000]) + 36.0).abs() < 0.1, "{}", rms_db(&s.samples[..4000]));
        // The same seed gives the same stream.
        assert_eq!(s.samples, compose(&words, &noise, &Layout::fast(Some(10.0), 7)).unwrap().samples);
        assert!(matches!(compose(&words, &[], &Layout::fast(Some(10.0), 7)), Err(StreamError::SilentNoise)));
    }

    #[test]
    fn detections_are_matched_to_the_word_they_overlap_most() {
        let words = [
            PlacedWord { label: 4, start: 1000, end: 5000 },
            PlacedWord { label: 7, start: 6000, end: 9000 },
            PlacedWord { label: NOT_A_DIGIT as u8, start: 12000, end: 15000 },
            PlacedWord { label: 1, start: 20000, end: 23000 },
        ];
        let ds = [
            det(Some(4), DetectionKind::Early, 1100, 3000, None),
            // A second note for the first word: extra.
            det(Some(4), DetectionKind::Final, 4000, 5200, Some(5100)),
            det(Some(1), DetectionKind::Final, 5900, 9100, Some(9000)),
            det(Some(2), DetectionKind::Final, 12500, 15000, Some(14800)),
            // In a pause: extra. Rejected and unsure ones make no note.
            det(Some(3), DetectionKind::Final, 17000, 18000, Some(17800)),
            det(None, DetectionKind::Rejected, 20000, 23000, Some(23000)),
            det(Some(1), DetectionKind::Unsure, 20000, 23000, Some(23000)),
        ];
        let s = score(&words, &ds);
        assert_eq!((s.digits, s.correct, s.wrong, s.missed, s.missed_unsure_or_rejected), (3, 1, 1, 1, 1));
        assert_eq!((s.other_words, s.other_words_noted, s.extra), (1, 1, 2));
        assert_eq!(s.decision_ms, vec![-250.0, 12.5]);
        let (median, p95) = s.decision_percentiles().unwrap();
        assert!((median + 118.75).abs() < 1e-3 && (p95 + 0.625).abs() < 1e-3, "{median} {p95}");
    }
}
