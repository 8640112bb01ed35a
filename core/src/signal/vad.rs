//! Voice activity detection on 8 kHz audio, one decision per 128-sample hop (16 ms).
//!
//! Energy against an adaptive noise floor:
//! - Level: mean power of the hop in dBFS (floor -100 dB).
//! - Noise floor: follows the level down at once and up slowly ([`FLOOR_RISE_DB_PER_S`]) while
//!   nobody speaks; frozen during speech. It starts at [`INITIAL_FLOOR_DB`], low enough that a
//!   recording that starts right at speech (FSDD files are trimmed that tightly) is speech from
//!   the first hop, and never goes below it (digital silence must not make the next faint
//!   noise look like speech).
//! - Speech starts when the level exceeds the floor by `sensitivity_db`; it continues while the
//!   level stays above floor + `sensitivity_db / 2` (hysteresis), and ends after `hangover_ms`
//!   below that. The segment ends at the last active hop, not after the hangover.
//! - Steady noise: a "segment" whose level has stayed within [`STEADY_RANGE_DB`] for
//!   [`STEADY_WINDOW_MS`] is background (a fan, hiss that just started): the floor jumps to it
//!   and the segment ends where the steady part began. Speech never does this: on FSDD the
//!   narrowest 400 ms level range is >= 4.3 dB in 99% of files (and the exceptions are their
//!   silent tails).
//! - Background right after speech: once [`TAIL_STEADY_MS`] of steady level (within
//!   [`STEADY_RANGE_DB`]) at least [`TAIL_BELOW_PEAK_DB`] under the segment's peak follow the
//!   speech, the segment ends where that stretch began and the floor jumps to it. Without this,
//!   noise that starts as a word ends keeps the segment open into the next word. On FSDD this
//!   rule fires inside a word in 1 of 3000 files (and in 59 files' trailing silence).
//! - Segments shorter than `min_speech_ms` are dropped (clicks); at `max_speech_ms` a segment is
//!   cut, and the floor is raised to its quietest hop (a long "segment" is mostly background).
//! - Word boundaries inside a segment: in continuous noise, or when digits follow each other
//!   within the hangover (a phone number read out), the level never stays down long enough to
//!   end the segment. A *valley* (the level under the hold threshold, or [`VALLEY_DB`] under the
//!   current word's peak, for at least [`VALLEY_MIN_MS`]) followed by a rise back over the onset
//!   threshold and [`RISE_DB`] over the valley's bottom, after at least [`BOUNDARY_MIN_WORD_MS`]
//!   of word, is reported as [`VadEvent::Boundary`]. The VAD's own segment goes on: a boundary
//!   is a candidate, and the recognizer splits there only when the model agrees that a whole
//!   digit came before it (internal closures of "six" or "eight" also make valleys).
//! - A *rise* (the level jumping [`RISE_JUMP_DB`] over its own recent average, after at least
//!   [`BOUNDARY_MIN_WORD_MS`] of segment) is a second kind of candidate boundary: a word that
//!   starts right after a noise (a clatter, a cough) with no valley between them. The
//!   recognizer splits there only if what came before was not a digit, or was decided long
//!   ago (vowels rising after consonants inside a word also jump).

use serde::{Deserialize, Serialize};

use crate::signal::mfcc::{HOP, SAMPLE_RATE};

/// Floor the noise estimate starts at and never goes below, dBFS.
pub const INITIAL_FLOOR_DB: f32 = -70.0;
/// How fast the noise floor may rise outside speech, dB per second.
pub const FLOOR_RISE_DB_PER_S: f32 = 10.0;
/// Level range (dB) within which a long stretch counts as steady background.
pub const STEADY_RANGE_DB: f32 = 3.0;
/// How long the level must stay steady to count as background, ms.
pub const STEADY_WINDOW_MS: u32 = 400;
/// Steady stretch after speech that counts as background, ms.
pub const TAIL_STEADY_MS: u32 = 160;
/// How far under the segment's peak that stretch must be, dB.
pub const TAIL_BELOW_PEAK_DB: f32 = 20.0;
/// A valley inside a segment: this far under the current word's peak, dB.
pub const VALLEY_DB: f32 = 20.0;
/// ... for at least this long, ms.
pub const VALLEY_MIN_MS: u32 = 32;
/// The rise after a valley that makes a boundary, dB over the valley's bottom.
pub const RISE_DB: f32 = 9.0;
/// A rise boundary: the level this far over its recent average, dB.
pub const RISE_JUMP_DB: f32 = 9.0;
/// Time constant of that average, ms.
pub const RISE_AVERAGE_MS: f32 = 100.0;
/// A boundary needs at least this much of the word before it (onset to the rise), ms.
pub const BOUNDARY_MIN_WORD_MS: u32 = 192;
/// Lowest level reported, dBFS (digital silence).
pub const LEVEL_FLOOR_DB: f32 = -100.0;

const HOP_MS: f32 = HOP as f32 * 1000.0 / SAMPLE_RATE as f32;
const STEADY_HOPS: usize = (STEADY_WINDOW_MS as f32 / HOP_MS) as usize;
const TAIL_STEADY_HOPS: usize = (TAIL_STEADY_MS as f32 / HOP_MS) as usize;
const VALLEY_MIN_HOPS: u32 = (VALLEY_MIN_MS as f32 / HOP_MS) as u32;
const BOUNDARY_MIN_WORD_HOPS: u64 = (BOUNDARY_MIN_WORD_MS as f32 / HOP_MS) as u64;

/// VAD settings. `Default` holds the values measured on FSDD (see field docs).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct VadConfig {
    /// Speech starts this far above the noise floor, dB. 13 dB, from the streaming benchmark
    /// (`cargo xtask bench-stream`, FSDD test takes in held-out recorded noise; model trained
    /// with recorded noise, before this default): 10 dB found more words at 0 dB SNR (35.7%
    /// vs 26.0% right) but opened far more segments on noise alone (16 vs 5 false notes per
    /// 10 minutes) and on noise before words (10 dB SNR: 78.3% vs 81.3% right); 16 dB missed
    /// words at 10 dB SNR (70.7%).
    pub sensitivity_db: f32,
    /// Silence needed to end a segment, ms. FSDD digits have internal pauses of <= 64 ms (95%)
    /// and <= 112 ms (99%), so 176 ms keeps words whole yet ends a segment well inside a
    /// 300 ms pause between digits.
    pub hangover_ms: u32,
    /// Shorter segments are ignored, ms.
    pub min_speech_ms: u32,
    /// Longer segments are cut here, ms (the longest FSDD file is 2.28 s).
    pub max_speech_ms: u32,
    /// Audio kept before the detected onset, ms, so the recognizer's buffer starts where a
    /// trimmed FSDD file would. Measured (final-only accuracy on the FSDD test split, clean /
    /// 15 dB white noise; provisional model, then final model): 0 ms 95.7/76.7%, 100/93.0%;
    /// 32 ms 97.3/85.3%, 99.3/93.7%; 64 ms 97.0/88.3%, 99.7/94.7%; 128 ms 93.0/86.0%,
    /// 100/95.3%. Onsets in noise are found late (median 40 ms after the true start), so 64 ms.
    pub pre_roll_ms: u32,
}

impl Default for VadConfig {
    fn default() -> Self {
        Self { sensitivity_db: 13.0, hangover_ms: 176, min_speech_ms: 96, max_speech_ms: 2_500, pre_roll_ms: 64 }
    }
}

impl VadConfig {
    pub fn hangover_hops(&self) -> u32 {
        ms_to_hops(self.hangover_ms).max(1)
    }
    pub fn min_speech_hops(&self) -> u32 {
        ms_to_hops(self.min_speech_ms)
    }
    pub fn max_speech_hops(&self) -> u32 {
        ms_to_hops(self.max_speech_ms).max(1)
    }
    /// Pre-roll in samples (8 kHz), rounded to whole hops.
    pub fn pre_roll_samples(&self) -> usize {
        ms_to_hops(self.pre_roll_ms) as usize * HOP
    }
}

/// Whole hops nearest to `ms` milliseconds.
pub(crate) fn ms_to_hops(ms: u32) -> u32 {
    (ms as f32 / HOP_MS).round() as u32
}

/// What one hop did to the speech state. Positions are hop indices since the stream start.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VadEvent {
    /// Nothing changed.
    Idle,
    /// Speech started at this hop.
    Onset { hop: u64 },
    /// Speech goes on (includes hangover hops).
    Continue,
    /// The segment ended; `last_hop` is its last active hop. `valid` is false for a segment that
    /// was too short or turned out to be steady background.
    End { last_hop: u64, valid: bool },
    /// Speech goes on, but a new word may have started at `onset` (after a valley, or with a
    /// sudden rise): the word before it ended at `last_hop`.
    Boundary { last_hop: u64, onset: u64, kind: BoundaryKind },
}

/// What made a [`VadEvent::Boundary`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BoundaryKind {
    /// The level fell into a valley and climbed out of it.
    Valley,
    /// The level jumped over its recent average, with no valley before.
    Rise,
}

/// A valley in progress inside a segment.
#[derive(Clone, Copy, Debug)]
struct Valley {
    start: u64,
    hops: u32,
    bottom_db: f32,
}

/// The VAD state machine. Feed it one hop at a time.
#[derive(Clone, Debug)]
pub struct Vad {
    config: VadConfig,
    floor_db: f32,
    level_db: f32,
    hop_index: u64,
    in_speech: bool,
    onset_hop: u64,
    last_active_hop: u64,
    silent_hops: u32,
    /// Recent levels during a segment (ring, `STEADY_HOPS` long) and the quietest hop.
    recent: [f32; STEADY_HOPS],
    segment_min_db: f32,
    segment_peak_db: f32,
    /// The current word (since the onset or the last boundary): where it started, its peak,
    /// and the valley after it, if the level is in one.
    word_start: u64,
    word_peak_db: f32,
    valley: Option<Valley>,
    /// Recent average level in the segment (for rise boundaries), dB.
    average_db: f32,
}

/// Mean-power level of a block in dBFS.
pub fn level_db(samples: &[f32]) -> f32 {
    if samples.is_empty() {
        return LEVEL_FLOOR_DB;
    }
    let power = samples.iter().map(|x| x * x).sum::<f32>() / samples.len() as f32;
    (10.0 * power.max(1e-10).log10()).max(LEVEL_FLOOR_DB)
}

impl Vad {
    pub fn new(config: VadConfig) -> Self {
        Self {
            config,
            floor_db: INITIAL_FLOOR_DB,
            level_db: LEVEL_FLOOR_DB,
            hop_index: 0,
            in_speech: false,
            onset_hop: 0,
            last_active_hop: 0,
            silent_hops: 0,
            recent: [0.0; STEADY_HOPS],
            segment_min_db: 0.0,
            segment_peak_db: 0.0,
            word_start: 0,
            word_peak_db: 0.0,
            valley: None,
            average_db: 0.0,
        }
    }

    pub fn config(&self) -> &VadConfig {
        &self.config
    }

    /// Takes effect from the next hop.
    pub fn set_config(&mut self, config: VadConfig) {
        self.config = config;
    }

    pub fn level_db(&self) -> f32 {
        self.level_db
    }

    pub fn noise_floor_db(&self) -> f32 {
        self.floor_db
    }

    pub fn in_speech(&self) -> bool {
        self.in_speech
    }

    /// Hops seen so far.
    pub fn hops(&self) -> u64 {
        self.hop_index
    }

    /// Classifies one hop (normally [`HOP`] samples).
    pub fn process_hop(&mut self, hop: &[f32]) -> VadEvent {
        let level = level_db(hop);
        self.level_db = level;
        let index = self.hop_index;
        self.hop_index += 1;
        let on_threshold = self.floor_db + self.config.sensitivity_db;
        let hold_threshold = self.floor_db + self.config.sensitivity_db * 0.5;

        if !self.in_speech {
            if level > on_threshold {
                self.in_speech = true;
                self.onset_hop = index;
                self.last_active_hop = index;
                self.silent_hops = 0;
                self.segment_min_db = level;
                self.segment_peak_db = level;
                self.word_start = index;
                self.word_peak_db = level;
                self.valley = None;
                self.average_db = level;
                self.recent.fill(level);
                return VadEvent::Onset { hop: index };
            }
            self.track_floor(level);
            return VadEvent::Idle;
        }

        let length = (index - self.onset_hop + 1) as usize;
        self.recent[index as usize % STEADY_HOPS] = level;
        self.segment_min_db = self.segment_min_db.min(level);
        self.segment_peak_db = self.segment_peak_db.max(level);
        if level > hold_threshold {
            self.last_active_hop = index;
            self.silent_hops = 0;
        } else {
            self.silent_hops += 1;
        }

        if self.silent_hops >= self.config.hangover_hops() {
            return self.end_segment(self.last_active_hop, true);
        }
        if length > TAIL_STEADY_HOPS {
            let (mut lo, mut hi, mut sum) = (f32::MAX, f32::MIN, 0.0);
            for j in 0..TAIL_STEADY_HOPS as u64 {
                let l = self.recent[((index - j) % STEADY_HOPS as u64) as usize];
                (lo, hi, sum) = (lo.min(l), hi.max(l), sum + l);
            }
            if hi - lo <= STEADY_RANGE_DB && hi <= self.segment_peak_db - TAIL_BELOW_PEAK_DB {
                self.floor_db = (sum / TAIL_STEADY_HOPS as f32).max(INITIAL_FLOOR_DB);
                let steady_start = index + 1 - TAIL_STEADY_HOPS as u64;
                let last = self.last_active_hop.min(steady_start - 1);
                return self.end_segment(last.max(self.onset_hop), true);
            }
        }
        if length >= STEADY_HOPS {
            let (lo, hi) = self.recent.iter().fold((f32::MAX, f32::MIN), |(lo, hi), &l| (lo.min(l), hi.max(l)));
            if hi - lo <= STEADY_RANGE_DB {
                // Background, not speech: adopt it as the floor. Speech before the steady part
                // (if any) still counts.
                self.floor_db = (self.recent.iter().sum::<f32>() / STEADY_HOPS as f32).max(INITIAL_FLOOR_DB);
                let steady_start = index + 1 - STEADY_HOPS as u64;
                let last = self.last_active_hop.min(steady_start.saturating_sub(1));
                let valid = steady_start > self.onset_hop;
                return self.end_segment(last.max(self.onset_hop), valid);
            }
        }
        if length as u32 >= self.config.max_speech_hops() {
            let last = self.last_active_hop;
            self.floor_db = self.floor_db.max(self.segment_min_db);
            return self.end_segment(last, true);
        }
        self.track_words(index, level, on_threshold, hold_threshold)
    }

    /// Valley-then-rise inside a segment: a candidate word boundary (see the module docs).
    fn track_words(&mut self, index: u64, level: f32, on_threshold: f32, hold_threshold: f32) -> VadEvent {
        let average = self.average_db;
        let alpha = 1.0 - (-HOP_MS / RISE_AVERAGE_MS).exp();
        self.average_db += alpha * (level - self.average_db);
        let low = level <= hold_threshold || level < self.word_peak_db - VALLEY_DB;
        match (&mut self.valley, low) {
            (Some(v), true) => {
                v.hops += 1;
                v.bottom_db = v.bottom_db.min(level);
            }
            (None, true) => self.valley = Some(Valley { start: index, hops: 1, bottom_db: level }),
            (Some(v), false) => {
                let v = *v;
                if level > on_threshold.max(v.bottom_db + RISE_DB) {
                    self.valley = None;
                    if v.hops >= VALLEY_MIN_HOPS
                        && v.start > self.word_start
                        && index >= self.word_start + BOUNDARY_MIN_WORD_HOPS
                    {
                        self.word_start = index;
                        self.word_peak_db = level;
                        // The word keeps the start of the valley (its own fading tail, as a
                        // trimmed recording keeps some), not all of a long pause.
                        let last_hop = (index - 1).min(v.start + VALLEY_MIN_HOPS as u64 + 1);
                        return VadEvent::Boundary { last_hop, onset: index, kind: BoundaryKind::Valley };
                    }
                }
                // A shallow rise inside the valley: still one valley, until the level climbs
                // out of it.
            }
            (None, false) => {
                if level > average + RISE_JUMP_DB && index >= self.word_start + BOUNDARY_MIN_WORD_HOPS {
                    self.word_start = index;
                    self.word_peak_db = level;
                    return VadEvent::Boundary { last_hop: index - 1, onset: index, kind: BoundaryKind::Rise };
                }
            }
        }
        if !low {
            self.word_peak_db = self.word_peak_db.max(level);
        }
        VadEvent::Continue
    }

    /// Ends the current segment now (end of stream).
    pub fn finish(&mut self) -> Option<VadEvent> {
        self.in_speech.then(|| self.end_segment(self.last_active_hop, true))
    }

    fn end_segment(&mut self, last_hop: u64, valid: bool) -> VadEvent {
        self.in_speech = false;
        self.silent_hops = 0;
        let active = last_hop + 1 - self.onset_hop;
        let valid = valid && active as u32 >= self.config.min_speech_hops();
        VadEvent::End { last_hop, valid }
    }

    fn track_floor(&mut self, level: f32) {
        if level < self.floor_db {
            self.floor_db = level.max(INITIAL_FLOOR_DB);
        } else {
            let rise = FLOOR_RISE_DB_PER_S * HOP_MS / 1000.0;
            self.floor_db = (self.floor_db + rise).min(level);
        }
    }
}

/// Every valid speech segment of a recording, in order, as sample ranges (8 kHz) from its onset
/// hop to the end of its last active hop: no pre-roll, and the end may run up to a hop past the
/// samples (the last hop is zero-padded). Segments the VAD rejects (clicks, steady background)
/// are skipped. Lazy: the VAD reads no further than the caller asks.
pub fn speech_segments(samples_8k: &[f32], config: VadConfig) -> impl Iterator<Item = (usize, usize)> + '_ {
    let mut vad = Vad::new(config);
    let mut hops = samples_8k.chunks(HOP);
    let (mut onset, mut finished) = (None, false);
    std::iter::from_fn(move || {
        while !finished {
            let event = match hops.next() {
                Some(hop) => {
                    let mut padded = [0.0f32; HOP];
                    padded[..hop.len()].copy_from_slice(hop);
                    vad.process_hop(&padded)
                }
                None => {
                    finished = true;
                    vad.finish()?
                }
            };
            match event {
                VadEvent::Onset { hop } => onset = Some(hop as usize * HOP),
                VadEvent::End { last_hop, valid: true } => {
                    if let Some(start) = onset {
                        return Some((start, (last_hop as usize + 1) * HOP));
                    }
                }
                // Valleys inside a segment are not segments here: a file is one word as often
                // as not, and its own closures make valleys.
                _ => {}
            }
        }
        None
    })
}

/// Where the first valid speech segment of a recording lies, as sample range `start..end`
/// (8 kHz): from its onset minus the pre-roll to the end of its last active hop, as the
/// streaming recognizer cuts a segment for its final decision. Segments the VAD rejects
/// (clicks, steady background) are skipped; `None` when it finds no speech at all.
pub fn first_speech_span(samples_8k: &[f32], config: VadConfig) -> Option<(usize, usize)> {
    let (onset, end) = speech_segments(samples_8k, config).next()?;
    let start = onset.saturating_sub(config.pre_roll_samples());
    let end = end.min(samples_8k.len());
    Some((start, end.max(start)))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Deterministic white noise at `rms`.
    pub(crate) fn noise(len: usize, rms: f32, seed: u64) -> Vec<f32> {
        let mut s = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (0..len)
            .map(|_| {
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                // Uniform in [-1, 1) has rms 1/sqrt(3).
                ((s >> 40) as f32 / (1u64 << 23) as f32 - 1.0) * rms * 3f32.sqrt()
            })
            .collect()
    }

    fn run(vad: &mut Vad, audio: &[f32]) -> Vec<VadEvent> {
        audio
            .chunks(HOP)
            .map(|h| vad.process_hop(h))
            .filter(|e| !matches!(e, VadEvent::Idle | VadEvent::Continue))
            .collect()
    }

    fn burst(len: usize) -> Vec<f32> {
        // A 200 Hz tone with a 25 Hz amplitude wobble: loud and never steady.
        (0..len)
            .map(|n| {
                let t = n as f32 / 8000.0;
                0.3 * (2.0 * std::f32::consts::PI * 200.0 * t).sin()
                    * (0.55 + 0.45 * (2.0 * std::f32::consts::PI * 3.0 * t).sin())
            })
            .collect()
    }

    #[test]
    fn speech_at_the_very_start_is_detected() {
        let mut vad = Vad::new(VadConfig::default());
        let mut audio = burst(4000);
        audio.extend(vec![0.0; 4000]);
        let events = run(&mut vad, &audio);
        assert_eq!(events[0], VadEvent::Onset { hop: 0 });
        match events[1] {
            VadEvent::End { last_hop, valid } => {
                assert!(valid);
                assert!((29..=31).contains(&last_hop), "last hop {last_hop}");
            }
            e => panic!("{e:?}"),
        }
    }

    #[test]
    fn steady_noise_is_learned_and_speech_over_it_is_found() {
        let mut vad = Vad::new(VadConfig::default());
        let mut audio = noise(16_000, 0.01, 1); // -40 dBFS hiss from the first sample
        let speech_start = audio.len();
        audio.extend(burst(4000).iter().zip(noise(4000, 0.01, 2)).map(|(a, b)| a + b));
        audio.extend(noise(8000, 0.01, 3));
        let events = run(&mut vad, &audio);
        // The hiss looks like speech at first, then is recognised as steady background.
        assert!(matches!(events[0], VadEvent::Onset { hop: 0 }));
        assert!(matches!(events[1], VadEvent::End { valid: false, .. }), "{events:?}");
        assert!((vad.noise_floor_db() - -40.0).abs() < 2.0, "floor {}", vad.noise_floor_db());
        let onset = events[2];
        assert_eq!(onset, VadEvent::Onset { hop: (speech_start / HOP) as u64 });
        assert!(matches!(events[3], VadEvent::End { valid: true, .. }), "{events:?}");
        assert_eq!(events.len(), 4, "{events:?}");
    }

    #[test]
    fn noise_starting_as_a_word_ends_closes_the_word() {
        let mut vad = Vad::new(VadConfig::default());
        let mut audio = vec![0.0; 4000];
        audio.extend(burst(4000)); // hops 31..62
        audio.extend(noise(4000, 0.003, 4)); // -50 dBFS, 30 dB under the burst, 250 ms
        audio.extend(burst(4000));
        audio.extend(vec![0.0; 8000]);
        let events = run(&mut vad, &audio);
        assert_eq!(events.len(), 4, "{events:?}");
        assert_eq!(events[0], VadEvent::Onset { hop: 31 });
        match events[1] {
            VadEvent::End { last_hop, valid: true } => assert!((61..=63).contains(&last_hop), "{last_hop}"),
            e => panic!("{e:?}"),
        }
        assert_eq!(events[2], VadEvent::Onset { hop: 93 }); // 12 000 samples in: mid-hop 93
        assert!(matches!(events[3], VadEvent::End { valid: true, .. }));
    }

    #[test]
    fn first_speech_span_skips_clicks_and_keeps_the_pre_roll() {
        let config = VadConfig::default();
        let mut audio = vec![0.0; 4000];
        audio.extend(burst(256)); // a click: too short to be speech
        audio.extend(vec![0.0; 4000]);
        let word_start = audio.len();
        audio.extend(burst(4000));
        audio.extend(vec![0.0; 8000]);
        let (start, end) = first_speech_span(&audio, config).expect("the burst is speech");
        let onset = word_start / HOP * HOP;
        assert_eq!(start, onset - config.pre_roll_samples());
        assert!((word_start + 4000).abs_diff(end) <= HOP, "end {end}");
        assert_eq!(first_speech_span(&vec![0.0; 8000], config), None);
    }

    #[test]
    fn short_clicks_are_not_speech_and_long_sounds_are_cut() {
        let config = VadConfig::default();
        let mut vad = Vad::new(config);
        let mut audio = vec![0.0; 4000];
        audio.extend(burst(256));
        audio.extend(vec![0.0; 4000]);
        let events = run(&mut vad, &audio);
        assert!(matches!(events[1], VadEvent::End { valid: false, .. }), "{events:?}");

        let mut vad = Vad::new(config);
        let long = burst(8 * 8000);
        let events = run(&mut vad, &long);
        let max = config.max_speech_hops() as u64;
        assert!(matches!(events[1], VadEvent::End { valid: true, last_hop } if last_hop == max - 1), "{events:?}");
    }
}
