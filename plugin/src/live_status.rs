//! What the recogniser last decided, shared from the audio thread to the editor without locks.
//!
//! `process()` pops finished detections from the engine's ring; it stores each one here with
//! plain atomic stores (no allocation, no lock, no wait), and advances the stream clock the
//! "how long ago" of the editor is measured on. The last [`RECENT_DETECTIONS`] detections of
//! the running recogniser are kept too, with their speech onsets: the window lists them so the
//! user can teach the right digit for a wrong one (the onset finds the word). The editor only reads, through [`snapshot`],
//! a sequence lock: the writer bumps a counter to odd before and to even after a write, and
//! a reader retries if the counter moved, so it never sees half of one detection and half of
//! another. Only the reader ever retries; the audio thread never waits.
//!
//! [`snapshot`]: LiveStatus::snapshot

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering, fence};

use fsdd_core::inference::model::{N_DIGITS, N_OUTPUTS};
use fsdd_core::{Detection, DetectionKind};

/// The last detection, as the editor shows it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LastDetection {
    /// `None` when the sound was rejected as not a digit.
    pub digit: Option<u8>,
    pub confidence: f32,
    pub kind: DetectionKind,
    /// The (blended) probabilities of the deciding evaluation: digits, then "not a digit".
    pub probs: [f32; N_OUTPUTS],
    /// Stream position of the decision (input-rate samples since activation).
    pub decision: u64,
    /// How many detections were stored since the plugin was created (1 for the first).
    pub sequence: u64,
}

/// Detections of the running recogniser the window lists for teaching.
pub const RECENT_DETECTIONS: usize = 4;

/// One of the recent detections.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RecentDetection {
    /// `None` when the sound was rejected as not a digit.
    pub digit: Option<u8>,
    pub confidence: f32,
    pub kind: DetectionKind,
    /// Speech onset and decision (input-rate samples since activation): the onset is what the
    /// word captured for the same segment carries.
    pub onset: u64,
    pub decision: u64,
    pub sequence: u64,
}

/// A consistent copy of [`LiveStatus`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LiveSnapshot {
    pub last: Option<LastDetection>,
    /// The running recogniser's last detections, newest first (`None` past the ones it made:
    /// detections of an earlier activation are not listed, their words are gone).
    pub recent: [Option<RecentDetection>; RECENT_DETECTIONS],
    /// Stream position at the end of the last processed block.
    pub position: u64,
    pub sample_rate: f32,
    /// Whether the recogniser is running (plugin active and the model loaded).
    pub running: bool,
}

impl LiveSnapshot {
    /// Seconds of audio processed since the last detection was decided (stream time, so it
    /// stands still while the host does not call `process()`). `None` without a detection or
    /// when the detection belongs to an earlier activation.
    pub fn seconds_since_last(&self) -> Option<f32> {
        let last = self.last?;
        if self.sample_rate <= 0.0 || last.decision > self.position {
            return None;
        }
        Some(((self.position - last.decision) as f64 / self.sample_rate as f64) as f32)
    }

    /// Seconds of audio processed since `decision` (as [`LiveSnapshot::seconds_since_last`]).
    pub fn seconds_since(&self, decision: u64) -> Option<f32> {
        if self.sample_rate <= 0.0 || decision > self.position {
            return None;
        }
        Some(((self.position - decision) as f64 / self.sample_rate as f64) as f32)
    }
}

/// The atomics of one recent detection.
#[derive(Default)]
struct RecentSlot {
    digit: AtomicU32,
    confidence_bits: AtomicU32,
    kind: AtomicU32,
    onset: AtomicU64,
    decision: AtomicU64,
}

pub struct LiveStatus {
    /// Sequence lock: odd while a write is in progress.
    version: AtomicU64,
    detections: AtomicU64,
    digit: AtomicU32,
    confidence_bits: AtomicU32,
    kind: AtomicU32,
    probs_bits: [AtomicU32; N_OUTPUTS],
    decision: AtomicU64,
    /// `detections` when the running recogniser started: later ones are its own.
    session_start: AtomicU64,
    /// Ring of the last detections: detection number n (1-based) is in slot (n - 1) % len.
    recent: [RecentSlot; RECENT_DETECTIONS],
    position: AtomicU64,
    sample_rate_bits: AtomicU32,
    running: AtomicBool,
}

impl Default for LiveStatus {
    fn default() -> Self {
        Self {
            version: AtomicU64::new(0),
            detections: AtomicU64::new(0),
            digit: AtomicU32::new(0),
            confidence_bits: AtomicU32::new(0),
            kind: AtomicU32::new(0),
            probs_bits: std::array::from_fn(|_| AtomicU32::new(0)),
            decision: AtomicU64::new(0),
            session_start: AtomicU64::new(0),
            recent: std::array::from_fn(|_| RecentSlot::default()),
            position: AtomicU64::new(0),
            sample_rate_bits: AtomicU32::new(0),
            running: AtomicBool::new(false),
        }
    }
}

fn kind_code(kind: DetectionKind) -> u32 {
    match kind {
        DetectionKind::Early => 0,
        DetectionKind::Final => 1,
        DetectionKind::Unsure => 2,
        DetectionKind::Rejected => 3,
    }
}

fn kind_from_code(code: u32) -> DetectionKind {
    match code {
        0 => DetectionKind::Early,
        1 => DetectionKind::Final,
        3 => DetectionKind::Rejected,
        _ => DetectionKind::Unsure,
    }
}

/// A reader that keeps colliding with writes spins this many times, then yields its time
/// slice (a write is a handful of stores, at most a few per audio block, so a second try
/// practically always succeeds).
const SPINS_BEFORE_YIELD: u32 = 64;

impl LiveStatus {
    /// Single writer only (the audio thread, or the main thread around activation while no
    /// `process()` runs): the sequence lock assumes writes never overlap.
    fn write(&self, body: impl FnOnce(&Self)) {
        let v = self.version.load(Ordering::Relaxed);
        self.version.store(v.wrapping_add(1), Ordering::Relaxed);
        fence(Ordering::Release);
        body(self);
        self.version.store(v.wrapping_add(2), Ordering::Release);
    }

    /// A new recogniser starts: the stream clock restarts at 0 at `sample_rate`.
    pub fn started(&self, sample_rate: f32) {
        self.write(|s| {
            s.session_start.store(s.detections.load(Ordering::Relaxed), Ordering::Relaxed);
            s.position.store(0, Ordering::Relaxed);
            s.sample_rate_bits.store(sample_rate.to_bits(), Ordering::Relaxed);
            s.running.store(true, Ordering::Relaxed);
        });
    }

    /// The recogniser stopped (deactivation, or it could not start).
    pub fn stopped(&self) {
        self.write(|s| s.running.store(false, Ordering::Relaxed));
    }

    /// Audio thread: the stream has reached `position` samples.
    pub fn advance(&self, position: u64) {
        self.write(|s| s.position.store(position, Ordering::Relaxed));
    }

    /// Audio thread: a detection was popped (atomic stores only).
    pub fn record(&self, detection: &Detection) {
        self.write(|s| {
            let number = s.detections.fetch_add(1, Ordering::Relaxed) + 1;
            // N_DIGITS (10) stands for "no digit".
            let digit = detection.digit.map_or(N_DIGITS as u32, u32::from);
            s.digit.store(digit, Ordering::Relaxed);
            s.confidence_bits.store(detection.confidence.to_bits(), Ordering::Relaxed);
            s.kind.store(kind_code(detection.kind), Ordering::Relaxed);
            for (slot, p) in s.probs_bits.iter().zip(detection.probs) {
                slot.store(p.to_bits(), Ordering::Relaxed);
            }
            s.decision.store(detection.decision, Ordering::Relaxed);
            let slot = &s.recent[((number - 1) % RECENT_DETECTIONS as u64) as usize];
            slot.digit.store(digit, Ordering::Relaxed);
            slot.confidence_bits.store(detection.confidence.to_bits(), Ordering::Relaxed);
            slot.kind.store(kind_code(detection.kind), Ordering::Relaxed);
            slot.onset.store(detection.onset, Ordering::Relaxed);
            slot.decision.store(detection.decision, Ordering::Relaxed);
        });
    }

    fn read_fields(&self) -> LiveSnapshot {
        let sequence = self.detections.load(Ordering::Relaxed);
        let last = (sequence > 0).then(|| LastDetection {
            digit: Some(self.digit.load(Ordering::Relaxed)).filter(|&d| d < N_DIGITS as u32).map(|d| d as u8),
            confidence: f32::from_bits(self.confidence_bits.load(Ordering::Relaxed)),
            kind: kind_from_code(self.kind.load(Ordering::Relaxed)),
            probs: std::array::from_fn(|d| f32::from_bits(self.probs_bits[d].load(Ordering::Relaxed))),
            decision: self.decision.load(Ordering::Relaxed),
            sequence,
        });
        let session_start = self.session_start.load(Ordering::Relaxed);
        let recent = std::array::from_fn(|i| {
            let number = sequence.checked_sub(i as u64).filter(|&n| n > session_start)?;
            let slot = &self.recent[((number - 1) % RECENT_DETECTIONS as u64) as usize];
            Some(RecentDetection {
                digit: Some(slot.digit.load(Ordering::Relaxed)).filter(|&d| d < N_DIGITS as u32).map(|d| d as u8),
                confidence: f32::from_bits(slot.confidence_bits.load(Ordering::Relaxed)),
                kind: kind_from_code(slot.kind.load(Ordering::Relaxed)),
                onset: slot.onset.load(Ordering::Relaxed),
                decision: slot.decision.load(Ordering::Relaxed),
                sequence: number,
            })
        });
        LiveSnapshot {
            last,
            recent,
            position: self.position.load(Ordering::Relaxed),
            sample_rate: f32::from_bits(self.sample_rate_bits.load(Ordering::Relaxed)),
            running: self.running.load(Ordering::Relaxed),
        }
    }

    /// A consistent copy (editor thread; it only reads). It retries until no write overlapped
    /// the read: never a mix of two detections.
    pub fn snapshot(&self) -> LiveSnapshot {
        let mut collisions = 0u32;
        loop {
            let before = self.version.load(Ordering::Acquire);
            if before.is_multiple_of(2) {
                let copy = self.read_fields();
                fence(Ordering::Acquire);
                if self.version.load(Ordering::Relaxed) == before {
                    return copy;
                }
            }
            collisions = collisions.wrapping_add(1);
            if collisions.is_multiple_of(SPINS_BEFORE_YIELD) {
                std::thread::yield_now();
            } else {
                std::hint::spin_loop();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rejection_is_stored_as_no_digit() {
        let status = LiveStatus::default();
        let mut rejected = detection(3, 100);
        rejected.digit = None;
        rejected.kind = DetectionKind::Rejected;
        status.record(&rejected);
        let last = status.snapshot().last.unwrap();
        assert_eq!((last.digit, last.kind), (None, DetectionKind::Rejected));
    }

    fn detection(digit: u8, decision: u64) -> Detection {
        let mut probs = [0.01f32; N_OUTPUTS];
        probs[digit as usize] = 0.9;
        Detection {
            digit: Some(digit),
            confidence: 0.91,
            probs,
            kind: DetectionKind::Final,
            onset: decision.saturating_sub(4000),
            decision,
            end: Some(decision),
            compute_us: 0,
            saliency: None,
        }
    }

    #[test]
    fn the_recent_detections_are_the_running_recognisers_newest_first() {
        let status = LiveStatus::default();
        status.started(48_000.0);
        status.record(&detection(1, 10_000));
        status.started(48_000.0);
        assert_eq!(status.snapshot().recent, [None; RECENT_DETECTIONS], "an earlier activation's are not listed");
        assert!(status.snapshot().last.is_some(), "the last digit stays visible");
        for (n, digit) in [2u8, 3, 4, 5, 6].into_iter().enumerate() {
            status.record(&detection(digit, 20_000 + n as u64 * 10_000));
        }
        let recent = status.snapshot().recent;
        let digits: Vec<Option<u8>> = recent.iter().map(|r| r.map(|r| r.digit.unwrap())).collect();
        assert_eq!(digits, [Some(6), Some(5), Some(4), Some(3)]);
        let newest = recent[0].unwrap();
        assert_eq!((newest.onset, newest.decision, newest.sequence), (56_000, 60_000, 6));
    }

    #[test]
    fn a_reader_never_sees_two_detections_mixed() {
        let status = std::sync::Arc::new(LiveStatus::default());
        status.started(48_000.0);
        let writer = {
            let status = status.clone();
            std::thread::spawn(move || {
                for n in 0..1_000_000u64 {
                    let digit = (n % 10) as u8;
                    status.record(&detection(digit, n));
                    status.advance(n + 1);
                }
            })
        };
        let mut checked = 0;
        while !writer.is_finished() {
            if let Some(last) = status.snapshot().last {
                let top = (0..10).max_by(|&a, &b| last.probs[a].total_cmp(&last.probs[b])).unwrap();
                let digit = last.digit.expect("only digits were recorded");
                assert_eq!(top, digit as usize, "probs from another detection");
                assert_eq!(last.decision % 10, digit as u64, "decision torn");
                checked += 1;
            }
        }
        writer.join().unwrap();
        assert!(checked > 0);
        let end = status.snapshot();
        assert_eq!(end.last.unwrap().sequence, 1_000_000);
        assert_eq!(end.seconds_since_last(), Some(1.0 / 48_000.0));
    }
}
