//! Learning from corrections: the words behind recent detections, so that a detection the user
//! corrects can become a take of the right digit.
//!
//! A front end keeps word capture on ([`crate::Engine::capture_words`]) and feeds every
//! captured word into [`RecentWords`]; when the user says a detection was wrong and which digit
//! it was, [`RecentWords::take_for`] finds the word the detection came from (same onset) and
//! makes it a [`TakeSource::Correction`] take, which [`crate::Voice::push`] adds (undoably).

use std::collections::VecDeque;

use crate::streaming::recognizer::{CapturedWord, Detection};
use crate::voice::store::{TakeSource, VoiceError, VoiceTake};

/// Words remembered by default: more than a dashboard's detection list shows.
pub const RECENT_WORDS: usize = 32;

/// The last few whole words the recognizer closed, newest last.
#[derive(Clone, Debug)]
pub struct RecentWords {
    words: VecDeque<CapturedWord>,
    capacity: usize,
}

impl Default for RecentWords {
    fn default() -> Self {
        Self::new(RECENT_WORDS)
    }
}

impl RecentWords {
    pub fn new(capacity: usize) -> Self {
        let capacity = capacity.max(1);
        Self { words: VecDeque::with_capacity(capacity), capacity }
    }

    /// Remembers a word (the oldest is forgotten when full).
    pub fn push(&mut self, word: CapturedWord) {
        if self.words.len() == self.capacity {
            self.words.pop_front();
        }
        self.words.push_back(word);
    }

    pub fn len(&self) -> usize {
        self.words.len()
    }

    pub fn is_empty(&self) -> bool {
        self.words.is_empty()
    }

    /// The word `detection` was decided on: the one with the same onset (positions in the
    /// same units, as the engine gives both), the newest if several.
    pub fn word_for(&self, detection: &Detection) -> Option<&CapturedWord> {
        self.words.iter().rev().find(|w| w.onset == detection.onset)
    }

    /// The word behind `detection` as a correction take of `digit`. `Ok(None)` when that word is
    /// no longer remembered (or was never whole: a stream that ended mid-word).
    pub fn take_for(&self, detection: &Detection, digit: u8) -> Result<Option<VoiceTake>, VoiceError> {
        match self.word_for(detection) {
            Some(word) => VoiceTake::new(digit, TakeSource::Correction, word.samples.clone()).map(Some),
            None => Ok(None),
        }
    }
}
