//! Guided enrollment in the dashboard: the core's [`EnrollmentSession`] (the same one the
//! plugin uses) with a review step: every whole word the engine captures is shown (its MFCC
//! window and what the model heard) until Enter keeps it or `r` redoes it. The voice is built by
//! the core ([`fsdd_core::voice::enrollment::build_voice`]), so the same takes give the same
//! voice file here and in the plugin.

use fsdd_core::voice::enrollment::{EnrollmentSession, Prompt, Take};
use fsdd_core::{CapturedWord, Detection};

/// Where the flow stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EnrollmentStep {
    /// Waiting for the user to say `digit` (take `take` of `of`, both 1-based).
    Listening {
        digit: u8,
        take: usize,
        of: usize,
    },
    /// A word was heard; Enter keeps it, r redoes it.
    Reviewing {
        digit: u8,
        take: usize,
        of: usize,
    },
    Done,
}

/// Detections remembered to tell what the model heard in a captured word.
const RECENT_DETECTIONS: usize = 8;

#[derive(Clone, Debug)]
pub struct Enrollment {
    session: EnrollmentSession,
    /// Recent detections (onset, digit or `None` for not a digit, confidence), newest last.
    recent: Vec<(u64, Option<u8>, f32)>,
    /// What the model heard in the take under review, if a detection matched it.
    review_heard: Option<(Option<u8>, f32)>,
}

impl Enrollment {
    pub fn new(per_digit: usize) -> Self {
        Self {
            session: EnrollmentSession::with_review(per_digit),
            recent: Vec::with_capacity(RECENT_DETECTIONS),
            review_heard: None,
        }
    }

    pub fn per_digit(&self) -> usize {
        self.session.per_digit()
    }

    pub fn step(&self) -> EnrollmentStep {
        match self.session.prompt() {
            Prompt::Say { digit, take, of } => EnrollmentStep::Listening { digit, take, of },
            Prompt::Review { digit, take, of } => EnrollmentStep::Reviewing { digit, take, of },
            Prompt::Complete => EnrollmentStep::Done,
        }
    }

    /// The digit being asked for (None when done).
    pub fn prompt(&self) -> Option<u8> {
        match self.step() {
            EnrollmentStep::Listening { digit, .. } | EnrollmentStep::Reviewing { digit, .. } => Some(digit),
            EnrollmentStep::Done => None,
        }
    }

    /// Takes kept per digit.
    pub fn counts(&self) -> [usize; 10] {
        self.session.counts()
    }

    /// The captured word waiting for Enter or `r`.
    pub fn reviewing(&self) -> Option<&Take> {
        self.session.reviewing()
    }

    /// What the model heard in the word under review (digit, or `None` for "not a digit",
    /// and its confidence), if a detection matched it.
    pub fn reviewing_heard(&self) -> Option<(Option<u8>, f32)> {
        self.session.reviewing().and(self.review_heard)
    }

    pub fn on_detection(&mut self, detection: &Detection) {
        if self.recent.len() == RECENT_DETECTIONS {
            self.recent.remove(0);
        }
        self.recent.push((detection.onset, detection.digit, detection.confidence));
    }

    /// A whole word the engine captured: the take under review, unless one is already.
    pub fn on_word(&mut self, word: &CapturedWord) {
        if self.session.offer(word) {
            self.review_heard = self
                .recent
                .iter()
                .rev()
                .find(|(onset, _, _)| *onset == word.onset)
                .map(|&(_, digit, confidence)| (digit, confidence));
        }
    }

    /// Keep the reviewed take and move to the next prompt.
    pub fn accept(&mut self) {
        self.session.keep();
    }

    /// Drop the reviewed take and listen again for the same prompt.
    pub fn redo(&mut self) {
        if self.session.reviewing().is_some() {
            self.session.redo_last();
        }
    }

    pub fn into_takes(self) -> Vec<Take> {
        self.session.into_takes()
    }
}
