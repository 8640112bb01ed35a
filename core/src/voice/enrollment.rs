//! Guided enrollment, shared by every front end (the dashboard's `e` and the plugin's
//! "Enroll"): the user is asked for each digit a few times, every whole word the recognizer
//! closes becomes a [`Take`], and the takes become a [`Voice`] (saved as audio; the
//! recognizer matches it through a [`crate::voice::matcher::VoiceMatcher`]).
//!
//! One implementation, so the same audio gives the same voice, byte for byte in the saved
//! JSON, whichever front end captured it:
//! - capture: [`crate::Recognizer::set_capture_words`] / [`crate::Engine::capture_words`] hand
//!   out [`CapturedWord`]s, the segment's 8 kHz audio from its pre-roll to the end of speech,
//!   the very samples the end-of-word evaluation scores (never an early decision's prefix);
//! - the take: [`Take::from_word`] keeps the word's audio and computes its MFCC window afresh
//!   (left-aligned, zero-padded, as in training), which the dashboard draws;
//! - the voice: [`build_voice`] keeps every take's audio, in the order the takes were taken.
//!
//! [`EnrollmentSession`] is the guided flow: which digit to say next, redo the last take, skip
//! a digit, and (for a dashboard that reviews every take) an optional keep-or-redo step.

use crate::signal::mfcc::{FEATURE_LEN, HOP, MfccExtractor, SAMPLE_RATE};
use crate::signal::vad;
use crate::streaming::recognizer::CapturedWord;
use crate::voice::store::{MAX_TAKE_SAMPLES, MIN_TAKE_SAMPLES, TakeSource, Voice, VoiceError, VoiceTake};

/// Takes per digit when the user does not say otherwise.
pub const DEFAULT_TAKES_PER_DIGIT: usize = 3;
/// The most takes per digit a session asks for.
pub const MAX_TAKES_PER_DIGIT: usize = crate::voice::store::MAX_TAKES_PER_DIGIT;
/// Digits enrolled: 0-9 (whatever else the model outputs).
pub const DIGITS: usize = 10;

#[derive(Debug, thiserror::Error)]
pub enum EnrollmentError {
    #[error("no takes were captured: nothing to enroll")]
    NoTakes,
    #[error("take {take} (digit {digit}) cannot be kept: {source}")]
    Take { take: usize, digit: u8, source: VoiceError },
}

/// One captured word, assigned to the digit the user was asked for.
#[derive(Clone, Debug, PartialEq)]
pub struct Take {
    pub digit: u8,
    /// The whole word, 8 kHz mono.
    pub samples: Vec<f32>,
    /// Its 64x64 MFCC window (left-aligned, zero-padded): what the model and the templates see.
    pub mfcc: Box<[f32; FEATURE_LEN]>,
    /// Speech onset (stream position at the capturing front end's rate).
    pub onset: u64,
}

impl Take {
    /// A take of `digit` from a captured word (computes its MFCC window).
    pub fn from_word(digit: u8, word: &CapturedWord) -> Take {
        Take::from_samples(digit, word.samples.clone(), word.onset)
    }

    /// A take of `digit` from a whole word's 8 kHz samples.
    pub fn from_samples(digit: u8, samples: Vec<f32>, onset: u64) -> Take {
        let mfcc = MfccExtractor::new().compute(&samples);
        Take { digit, samples, mfcc, onset }
    }

    /// Length of the captured word, milliseconds.
    pub fn duration_ms(&self) -> f32 {
        self.samples.len() as f32 * 1000.0 / SAMPLE_RATE as f32
    }

    /// Level of each 16 ms hop of the word, dBFS (what a level trace draws).
    pub fn level_trace(&self) -> Vec<f32> {
        self.samples.chunks(HOP).map(vad::level_db).collect()
    }
}

/// The takes as a voice (their audio, in the order taken). Every take is checked (a plausible
/// word length, finite samples); the first bad one is an error and nothing is kept.
pub fn build_voice(takes: &[Take]) -> Result<Voice, EnrollmentError> {
    if takes.is_empty() {
        return Err(EnrollmentError::NoTakes);
    }
    let mut voice = Voice::new();
    for (i, take) in takes.iter().enumerate() {
        let kept = VoiceTake::new(take.digit, TakeSource::Enrolled, take.samples.clone())
            .map_err(|source| EnrollmentError::Take { take: i + 1, digit: take.digit, source })?;
        let _ = voice.push(kept);
    }
    Ok(voice)
}

/// What the user is asked to do now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Prompt {
    /// Say `digit` (take `take` of `of`, both 1-based).
    Say { digit: u8, take: usize, of: usize },
    /// A take of `digit` waits to be kept or redone (sessions with review only).
    Review { digit: u8, take: usize, of: usize },
    /// Every digit has its takes (or was skipped).
    Complete,
}

/// The guided flow: digits 0-9 in order, `per_digit` takes each.
#[derive(Clone, Debug)]
pub struct EnrollmentSession {
    per_digit: usize,
    /// Whether each take waits for [`EnrollmentSession::keep`] (the dashboard) or is kept at
    /// once (the plugin, where the user keeps talking and redoes the last take if needed).
    review: bool,
    takes: Vec<Take>,
    reviewing: Option<Take>,
    skipped: [bool; DIGITS],
}

impl EnrollmentSession {
    /// A session asking for `per_digit` takes of each digit (clamped to 1..=10), each kept as
    /// soon as it is heard.
    pub fn new(per_digit: usize) -> Self {
        let per_digit = per_digit.clamp(1, MAX_TAKES_PER_DIGIT);
        Self {
            per_digit,
            review: false,
            takes: Vec::with_capacity(DIGITS * per_digit),
            reviewing: None,
            skipped: [false; DIGITS],
        }
    }

    /// The same, but every take waits to be kept ([`keep`](Self::keep)) or redone.
    pub fn with_review(per_digit: usize) -> Self {
        Self { review: true, ..Self::new(per_digit) }
    }

    pub fn per_digit(&self) -> usize {
        self.per_digit
    }

    /// Takes kept per digit.
    pub fn counts(&self) -> [usize; DIGITS] {
        let mut counts = [0; DIGITS];
        for t in &self.takes {
            counts[t.digit as usize] += 1;
        }
        counts
    }

    /// The digit being asked for: the first one neither full nor skipped.
    fn current_digit(&self) -> Option<u8> {
        let counts = self.counts();
        (0..DIGITS).find(|&d| !self.skipped[d] && counts[d] < self.per_digit).map(|d| d as u8)
    }

    pub fn prompt(&self) -> Prompt {
        let Some(digit) = self.current_digit() else { return Prompt::Complete };
        let take = self.counts()[digit as usize] + 1;
        let of = self.per_digit;
        if self.reviewing.is_some() { Prompt::Review { digit, take, of } } else { Prompt::Say { digit, take, of } }
    }

    pub fn is_complete(&self) -> bool {
        self.prompt() == Prompt::Complete
    }

    /// A whole word was heard: it becomes a take of the digit being asked for (kept at once,
    /// or held for review). Ignored when complete, while a take waits for review, or when the
    /// word cannot be a take (shorter than 40 ms, longer than 4 s, or not finite). Returns
    /// whether the word was used.
    pub fn offer(&mut self, word: &CapturedWord) -> bool {
        let usable = (MIN_TAKE_SAMPLES..=MAX_TAKE_SAMPLES).contains(&word.samples.len())
            && word.samples.iter().all(|x| x.is_finite());
        if self.reviewing.is_some() || !usable {
            return false;
        }
        let Some(digit) = self.current_digit() else { return false };
        let take = Take::from_word(digit, word);
        if self.review {
            self.reviewing = Some(take);
        } else {
            self.takes.push(take);
        }
        true
    }

    /// The take under review, if any.
    pub fn reviewing(&self) -> Option<&Take> {
        self.reviewing.as_ref()
    }

    /// Keeps the take under review.
    pub fn keep(&mut self) {
        if let Some(take) = self.reviewing.take() {
            self.takes.push(take);
        }
    }

    /// Drops the take under review, or else the last kept take; its digit is asked for again.
    /// Returns the dropped take.
    pub fn redo_last(&mut self) -> Option<Take> {
        if let Some(take) = self.reviewing.take() {
            return Some(take);
        }
        let take = self.takes.pop()?;
        self.skipped[take.digit as usize] = false;
        Some(take)
    }

    /// Moves on from the digit being asked for with the takes it has (possibly none).
    pub fn skip_digit(&mut self) {
        self.reviewing = None;
        if let Some(d) = self.current_digit() {
            self.skipped[d as usize] = true;
        }
    }

    /// Kept takes, in the order they were taken.
    pub fn takes(&self) -> &[Take] {
        &self.takes
    }

    pub fn last_take(&self) -> Option<&Take> {
        self.takes.last()
    }

    /// The kept takes as a voice ([`build_voice`]).
    pub fn build_voice(&self) -> Result<Voice, EnrollmentError> {
        build_voice(&self.takes)
    }

    pub fn into_takes(self) -> Vec<Take> {
        self.takes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn word(n: usize) -> CapturedWord {
        let samples = (0..n).map(|i| ((i as f32) * 0.05).sin() * 0.3).collect();
        CapturedWord { onset: 100, end: 100 + n as u64, samples }
    }

    #[test]
    fn digits_are_asked_in_order_and_redo_and_skip_move_the_prompt() {
        let mut s = EnrollmentSession::new(2);
        assert_eq!(s.prompt(), Prompt::Say { digit: 0, take: 1, of: 2 });
        assert!(s.offer(&word(4000)));
        assert!(s.offer(&word(3000)));
        assert_eq!(s.prompt(), Prompt::Say { digit: 1, take: 1, of: 2 });
        // Redo the second "zero".
        let dropped = s.redo_last().unwrap();
        assert_eq!((dropped.digit, dropped.samples.len()), (0, 3000));
        assert_eq!(s.prompt(), Prompt::Say { digit: 0, take: 2, of: 2 });
        assert!(s.offer(&word(3500)));
        // Skip "one" after a single take, skip "two" with none.
        assert!(s.offer(&word(2000)));
        s.skip_digit();
        s.skip_digit();
        assert_eq!(s.prompt(), Prompt::Say { digit: 3, take: 1, of: 2 });
        for _ in 3..10 {
            s.offer(&word(2500));
            s.offer(&word(2600));
        }
        assert!(s.is_complete());
        assert!(!s.offer(&word(1000)), "a complete session takes nothing more");
        assert_eq!(s.counts(), [2, 1, 0, 2, 2, 2, 2, 2, 2, 2]);
        let take = s.last_take().unwrap();
        assert_eq!(take.duration_ms(), 2600.0 / 8.0);
        assert_eq!(take.level_trace().len(), 2600usize.div_ceil(HOP));
        assert_eq!(&take.mfcc[..], &MfccExtractor::new().compute(&take.samples)[..]);
    }

    #[test]
    fn review_holds_each_take_until_kept_or_redone() {
        let mut s = EnrollmentSession::with_review(1);
        assert!(s.offer(&word(3000)));
        assert_eq!(s.prompt(), Prompt::Review { digit: 0, take: 1, of: 1 });
        assert!(!s.offer(&word(2000)), "one take under review at a time");
        assert_eq!(s.redo_last().map(|t| t.samples.len()), Some(3000));
        assert_eq!(s.prompt(), Prompt::Say { digit: 0, take: 1, of: 1 });
        s.offer(&word(2000));
        s.keep();
        assert_eq!(s.prompt(), Prompt::Say { digit: 1, take: 1, of: 1 });
        assert_eq!(s.takes().len(), 1);
    }

    #[test]
    fn nothing_captured_is_an_error() {
        let s = EnrollmentSession::new(3);
        assert!(matches!(s.build_voice(), Err(EnrollmentError::NoTakes)));
    }
}
