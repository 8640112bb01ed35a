//! When to speak up: decide before the speaker has finished if the model is already sure.
//!
//! While speech is active the recognizer scores the growing buffer every `every` hops; as soon
//! as the same digit has been on top with probability >= `threshold` for `consecutive`
//! evaluations in a row it emits an [`Early`](crate::DetectionKind::Early) decision. Otherwise it
//! decides at the end of speech ([`Final`](crate::DetectionKind::Final)); a final top probability
//! below `min_confidence` yields nothing, or an explicit
//! [`Unsure`](crate::DetectionKind::Unsure) event when `emit_unsure` is set.

use serde::{Deserialize, Serialize};

use crate::inference::model::{N_DIGITS, N_OUTPUTS, NOT_A_DIGIT};

/// The early-exit rule. `Default` holds values measured on FSDD.
///
/// Measured on the VALIDATION takes 5-9 (300 utterances; chosen there so the test split stays
/// untouched) with the shipped model and VAD defaults (pre-roll 64 ms):
/// `cargo run -p fsdd-core --release --example early_exit_sweep -- --validation`.
/// "Clean" = utterance between digital silence; "noisy" = steady white noise at 15 dB SNR.
/// Final-only (no early exit) accuracy: clean 98.3%, noisy 92.0%. "Early" = share of digits
/// decided before the end of speech; decision = mean time from the utterance start.
///
/// | threshold | consecutive | every | earliest | clean acc | early | decision | noisy acc | early |
/// |-----------|-------------|-------|----------|-----------|-------|----------|-----------|-------|
/// | 0.90      | 1           | 1     | 0        | 96.3%     | 96%   | 193 ms   | 89.7%     | 95%   |
/// | 0.95      | 1           | 2     | 0        | 98.0%     | 94%   | 220 ms   | 90.7%     | 88%   |
/// | 0.95      | 2           | 1     | 0        | 98.3%     | 94%   | 233 ms   | 91.3%     | 85%   |
/// | 0.95      | 2           | 2     | 0        | 98.3%     | 92%   | 258 ms   | 92.0%     | 83%   |
/// | **0.95**  | **2**       | **2** | **192**  | **98.3%** | 91%   | 286 ms   | 92.0%     | 82%   |
/// | 0.98      | 2           | 2     | 0        | 98.3%     | 88%   | 284 ms   | 92.0%     | 72%   |
/// | 0.98      | 2           | 2     | 192      | 98.3%     | 88%   | 304 ms   | 92.0%     | 72%   |
///
/// At the defaults early exit costs no accuracy against final-only decisions, clean or noisy.
///
/// `earliest_ms` 192 costs nothing on clean 8 kHz files but matters on live-like input (these
/// figures are from an earlier model, the one that chose the rule): on
/// validation streams resampled to 48/96/44.1 kHz with a -80 dBFS floor (`fsdd-tui stream`) it
/// took accuracy from 98.3/98.7/97.0% to 99.0/99.0/97.7%, for 39 ms later decisions on average
/// (255 -> 294 ms after the word starts): the errors it removes are confident early calls on
/// the first 120-180 ms of a word ("ze-" of zero heard as three). Evaluating every 2nd hop
/// (32 ms) halves the CPU at better accuracy than every hop.
///
/// `min_confidence` 0.4: keeps 99.7% of clean finals (0.3 would keep the last one, a wrong
/// answer) and 98.3% of noisy ones, 93.2% of them right; lower values let more noise through
/// as digits.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct EarlyExitPolicy {
    /// Top probability needed for an early decision. 1.0 (or more) turns early exit off: a
    /// softmax in f32 rounds a very sure answer to exactly 1.0, so `p >= 1.0` would still fire.
    pub threshold: f32,
    /// Evaluations in a row the same digit must stay above `threshold`.
    pub consecutive: u32,
    /// Evaluate every this many hops (16 ms each) while speech is active.
    pub every: u32,
    /// Final decisions below this top probability are not reported as digits.
    pub min_confidence: f32,
    /// Report low-confidence finals as `Unsure` instead of dropping them.
    pub emit_unsure: bool,
    /// No early decision before the segment holds this much speech (ms from onset, pre-roll
    /// not counted); finals are unaffected. The first ~150 ms of a word are often genuinely
    /// ambiguous ("ze-" of zero vs "thr-" of three) yet can score above `threshold`.
    #[serde(default = "default_earliest_ms")]
    pub earliest_ms: u32,
    /// "Not a digit" is decided when it is the model's top output and its probability reaches
    /// this; otherwise the likeliest digit is judged as usual (`min_confidence`). Raising it
    /// trades rejected words for accepted digits (see [`DEFAULT_REJECT_THRESHOLD`]).
    #[serde(default = "default_reject_threshold")]
    pub reject_threshold: f32,
}

/// Default for [`EarlyExitPolicy::reject_threshold`]: none beyond being the top output. Chosen
/// on the Speech Commands validation speakers (never fit by any model), `cargo run -p trainer
/// --release --example rejection_sweep -- models/fsdd.onnx ../shared/speech-commands
/// validation`: with the shipped model, a bar of 0.5 kept the same digits right (65.7%) and
/// rejected fewer words (84.5% against 91.3%): the extra "digits" it let through were wrong
/// ones. Only a bar of 0.85 or more accepted more right digits, at a cost of a quarter of the
/// words.
pub const DEFAULT_REJECT_THRESHOLD: f32 = 0.0;

fn default_reject_threshold() -> f32 {
    DEFAULT_REJECT_THRESHOLD
}

fn default_earliest_ms() -> u32 {
    EarlyExitPolicy::default().earliest_ms
}

impl EarlyExitPolicy {
    /// [`earliest_ms`](Self::earliest_ms) in whole hops, rounded up: never earlier than asked.
    pub fn earliest_hops(&self) -> u32 {
        self.earliest_ms.div_ceil(crate::signal::mfcc::HOP as u32 * 1000 / crate::signal::mfcc::SAMPLE_RATE)
    }
}

impl Default for EarlyExitPolicy {
    /// The measured rule (see the table on [`EarlyExitPolicy`]).
    fn default() -> Self {
        Self {
            threshold: 0.95,
            consecutive: 2,
            every: 2,
            min_confidence: 0.4,
            emit_unsure: false,
            earliest_ms: 192,
            reject_threshold: DEFAULT_REJECT_THRESHOLD,
        }
    }
}

/// What one evaluation means under the policy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EarlyVerdict {
    /// Keep listening.
    Wait,
    /// Decide now on this digit.
    Decide(u8),
}

/// Index and value of the largest probability over every output: a digit, or
/// [`NOT_A_DIGIT`] when the model is surest the sound is not one.
pub fn top(probs: &[f32; N_OUTPUTS]) -> (u8, f32) {
    argmax(probs)
}

/// The likeliest digit and its probability, ignoring "not a digit" (what a digits-only
/// decision would have said; the trainer measures what rejection costs with it).
pub fn top_digit(probs: &[f32; N_OUTPUTS]) -> (u8, f32) {
    argmax(&probs[..N_DIGITS])
}

/// What a whole sound is, under a rejection bar: [`NOT_A_DIGIT`] when it is the top output and
/// its probability reaches `reject_threshold`, else the likeliest digit. The recogniser's final
/// decisions, `fsdd-tui predict` and the trainer's scores all use this one rule.
pub fn classify(probs: &[f32; N_OUTPUTS], reject_threshold: f32) -> (u8, f32) {
    let (label, p) = top(probs);
    if label as usize == NOT_A_DIGIT && p >= reject_threshold { (label, p) } else { top_digit(probs) }
}

fn argmax(probs: &[f32]) -> (u8, f32) {
    let mut best = (0u8, f32::MIN);
    for (d, &p) in probs.iter().enumerate() {
        if p > best.1 {
            best = (d as u8, p);
        }
    }
    best
}

/// Per-segment state of the rule.
#[derive(Clone, Copy, Debug, Default)]
pub struct EarlyExitState {
    streak_digit: Option<u8>,
    streak: u32,
}

impl EarlyExitState {
    pub fn reset(&mut self) {
        *self = Self::default();
    }

    /// Feeds one evaluation's probabilities. Only a digit on top of every output counts: nothing
    /// is decided early about a sound the model may think is no digit.
    pub fn observe(&mut self, policy: &EarlyExitPolicy, probs: &[f32; N_OUTPUTS]) -> EarlyVerdict {
        let (digit, p) = top(probs);
        if digit as usize != NOT_A_DIGIT && policy.threshold < 1.0 && p >= policy.threshold {
            if self.streak_digit == Some(digit) {
                self.streak += 1;
            } else {
                self.streak_digit = Some(digit);
                self.streak = 1;
            }
        } else {
            self.reset();
        }
        if self.streak >= policy.consecutive.max(1) { EarlyVerdict::Decide(digit) } else { EarlyVerdict::Wait }
    }
}

/// How a final (end-of-speech) score is reported.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FinalVerdict {
    Digit(u8),
    Unsure(u8),
    /// The model's top output is "not a digit".
    NotADigit,
    Nothing,
}

pub fn final_verdict(policy: &EarlyExitPolicy, probs: &[f32; N_OUTPUTS]) -> FinalVerdict {
    let (digit, p) = classify(probs, policy.reject_threshold);
    if digit as usize == NOT_A_DIGIT {
        FinalVerdict::NotADigit
    } else if p >= policy.min_confidence {
        FinalVerdict::Digit(digit)
    } else if policy.emit_unsure {
        FinalVerdict::Unsure(digit)
    } else {
        FinalVerdict::Nothing
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn probs(digit: usize, p: f32) -> [f32; N_OUTPUTS] {
        let mut out = [(1.0 - p) / 10.0; N_OUTPUTS];
        out[digit] = p;
        out
    }

    #[test]
    fn needs_consecutive_confident_evaluations_of_the_same_digit() {
        let policy = EarlyExitPolicy { threshold: 0.8, consecutive: 2, ..Default::default() };
        let mut s = EarlyExitState::default();
        assert_eq!(s.observe(&policy, &probs(3, 0.9)), EarlyVerdict::Wait);
        assert_eq!(s.observe(&policy, &probs(5, 0.9)), EarlyVerdict::Wait, "a different digit restarts the streak");
        assert_eq!(s.observe(&policy, &probs(5, 0.7)), EarlyVerdict::Wait, "below threshold restarts");
        assert_eq!(s.observe(&policy, &probs(5, 0.85)), EarlyVerdict::Wait);
        assert_eq!(s.observe(&policy, &probs(5, 0.95)), EarlyVerdict::Decide(5));
    }

    #[test]
    fn threshold_one_means_never_early_even_for_a_saturated_softmax() {
        // Seen with the shipped model: "seven" scored exactly 1.0 in f32.
        let policy = EarlyExitPolicy { threshold: 1.0, consecutive: 1, ..Default::default() };
        let mut s = EarlyExitState::default();
        for _ in 0..10 {
            assert_eq!(s.observe(&policy, &probs(7, 1.0)), EarlyVerdict::Wait);
        }
    }

    #[test]
    fn low_confidence_finals_are_dropped_or_unsure() {
        let mut policy = EarlyExitPolicy { min_confidence: 0.6, ..Default::default() };
        assert_eq!(final_verdict(&policy, &probs(7, 0.65)), FinalVerdict::Digit(7));
        assert_eq!(final_verdict(&policy, &probs(7, 0.4)), FinalVerdict::Nothing);
        policy.emit_unsure = true;
        assert_eq!(final_verdict(&policy, &probs(7, 0.4)), FinalVerdict::Unsure(7));
    }

    #[test]
    fn not_a_digit_on_top_rejects_and_never_decides_early() {
        let policy = EarlyExitPolicy { threshold: 0.8, consecutive: 1, ..Default::default() };
        let mut s = EarlyExitState::default();
        assert_eq!(s.observe(&policy, &probs(NOT_A_DIGIT, 0.99)), EarlyVerdict::Wait);
        assert_eq!(final_verdict(&policy, &probs(NOT_A_DIGIT, 0.5)), FinalVerdict::NotADigit);
        // The digit it would have been, had it been one.
        let mut p = probs(NOT_A_DIGIT, 0.6);
        p[3] = 0.3;
        assert_eq!(top_digit(&p).0, 3);
        assert_eq!(top(&p).0 as usize, NOT_A_DIGIT);
        // Under a higher rejection bar the same sound is judged as its likeliest digit, which
        // is too unsure to report.
        let strict = EarlyExitPolicy { reject_threshold: 0.9, emit_unsure: true, ..policy };
        assert_eq!(classify(&p, 0.9), (3, 0.3));
        assert_eq!(final_verdict(&strict, &p), FinalVerdict::Unsure(3));
    }
}
