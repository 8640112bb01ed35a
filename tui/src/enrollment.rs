//! Guided enrollment: prompt each digit N times, show what was captured, allow a redo, then turn
//! the captured MFCC windows into prototypes (the model's embedding of each).

use fsdd_core::mfcc::FEATURE_LEN;
use fsdd_core::{Detection, LiveView, Model, PrototypeSet};

/// One accepted (or reviewed) utterance.
#[derive(Clone, Debug)]
pub struct Capture {
    /// The digit the user was asked to say.
    pub digit: u8,
    /// The whole word's MFCC window, as the recognizer scored it at the end of speech.
    pub mfcc: Box<[f32; FEATURE_LEN]>,
    /// What the current model heard (`None`: not a digit), and how sure it was.
    pub heard: Option<u8>,
    pub confidence: f32,
}

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

#[derive(Clone, Debug)]
pub struct Enrollment {
    per_digit: usize,
    captures: Vec<Capture>,
    /// A detection whose MFCC window has not reached a live snapshot yet.
    pending: Option<Detection>,
    review: Option<Capture>,
}

impl Enrollment {
    pub fn new(per_digit: usize) -> Self {
        Self {
            per_digit: per_digit.max(1),
            captures: Vec::with_capacity(10 * per_digit),
            pending: None,
            review: None,
        }
    }

    pub fn per_digit(&self) -> usize {
        self.per_digit
    }

    /// Index of the slot being filled: digit-major, `per_digit` takes each.
    fn slot(&self) -> usize {
        self.captures.len()
    }

    pub fn step(&self) -> EnrollmentStep {
        let slot = self.slot();
        if slot >= 10 * self.per_digit {
            return EnrollmentStep::Done;
        }
        let digit = (slot / self.per_digit) as u8;
        let take = slot % self.per_digit + 1;
        if self.review.is_some() {
            EnrollmentStep::Reviewing {
                digit,
                take,
                of: self.per_digit,
            }
        } else {
            EnrollmentStep::Listening {
                digit,
                take,
                of: self.per_digit,
            }
        }
    }

    /// The digit being asked for (None when done).
    pub fn prompt(&self) -> Option<u8> {
        match self.step() {
            EnrollmentStep::Listening { digit, .. } | EnrollmentStep::Reviewing { digit, .. } => {
                Some(digit)
            }
            EnrollmentStep::Done => None,
        }
    }

    /// Takes accepted per digit.
    pub fn counts(&self) -> [usize; 10] {
        let mut counts = [0; 10];
        for c in &self.captures {
            counts[c.digit as usize] += 1;
        }
        counts
    }

    pub fn reviewing(&self) -> Option<&Capture> {
        self.review.as_ref()
    }

    pub fn on_detection(&mut self, detection: &Detection) {
        if self.review.is_none() && self.prompt().is_some() {
            self.pending = Some(*detection);
        }
    }

    /// The engine publishes the scored window with (or shortly after) the detection: capture it
    /// once the snapshot's last detection is the one we are waiting for.
    pub fn on_live(&mut self, view: &LiveView) {
        let (Some(pending), Some(last)) = (self.pending, view.last_detection) else {
            return;
        };
        if last.onset != pending.onset || last.decision != pending.decision {
            return;
        }
        let Some(digit) = self.prompt() else { return };
        self.pending = None;
        self.review = Some(Capture {
            digit,
            mfcc: view.mfcc.clone(),
            heard: pending.digit,
            confidence: pending.confidence,
        });
    }

    /// Keep the reviewed capture and move to the next prompt.
    pub fn accept(&mut self) {
        if let Some(capture) = self.review.take() {
            self.captures.push(capture);
        }
    }

    /// Drop the reviewed capture and listen again for the same prompt.
    pub fn redo(&mut self) {
        self.review = None;
        self.pending = None;
    }

    pub fn into_captures(self) -> Vec<Capture> {
        self.captures
    }
}

/// Prototypes from captured words: the model's embedding of each capture, averaged per digit.
pub fn build_prototypes(model: &Model, captures: &[Capture]) -> anyhow::Result<PrototypeSet> {
    let mut set =
        PrototypeSet::new(model.embedding_dim()).with_model_fingerprint(model.fingerprint());
    for capture in captures {
        let inference = model.infer(&capture.mfcc[..])?;
        set.add_example(capture.digit, &inference.embedding)?;
    }
    Ok(set)
}
