//! Guided enrollment in the plugin window: "Enroll" asks for each digit a few times, the
//! recogniser's worker captures every whole word the track feeds in, and the takes become the
//! enrolled voice (their audio, stored in the plugin state, so it travels with the project).
//!
//! The flow itself is the core's [`EnrollmentSession`], the same one `fsdd-tui` uses, so the
//! same takes give the same voice file. Threads:
//! - the worker (core `Engine`, word capture on while the plugin runs) copies each whole word
//!   into its queue;
//! - the editor's thread moves the queued words out every frame (`FsddParams::poll_words`) and
//!   hands them to [`EnrollmentController::poll`], which offers them to the session and, once
//!   every digit has its takes, builds the voice;
//! - the audio thread only reads [`EnrollmentController::active`] (one atomic load): while it
//!   is set, detections still reach the window but no digit MIDI goes out.
//!
//! Nothing here runs in `process()`. If the window closes mid-enrollment, the words wait in the
//! engine's queue (bounded) and are taken when it opens again.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use fsdd_core::voice::enrollment::{DEFAULT_TAKES_PER_DIGIT, EnrollmentSession, Prompt};
use fsdd_core::{CapturedWord, Voice};

/// What the window shows about the last take.
#[derive(Clone, Debug, PartialEq)]
pub struct TakeView {
    pub digit: u8,
    pub duration_ms: f32,
    /// Level per 16 ms hop, dBFS.
    pub level_trace: Vec<f32>,
}

/// How the last enrollment ended.
#[derive(Clone, Debug, PartialEq)]
pub enum EnrollmentOutcome {
    /// The voice was built and stored; takes per digit.
    Finished {
        per_digit: [usize; 10],
    },
    Cancelled,
    /// Building or storing the voice failed (nothing changed).
    Failed(String),
}

/// A plain copy of the enrollment state for drawing.
#[derive(Clone, Debug, PartialEq)]
pub struct EnrollmentView {
    pub prompt: Prompt,
    pub per_digit: usize,
    pub counts: [usize; 10],
    pub last_take: Option<TakeView>,
}

/// What [`EnrollmentController::poll`] finished this time.
#[derive(Clone, Debug, PartialEq)]
pub enum Finished {
    /// The takes, as a voice to store with the project.
    Enrolled(Voice),
    Failed(String),
}

#[derive(Default)]
pub struct EnrollmentController {
    /// Set while a session runs: `process()` sends no digit MIDI.
    active: Arc<AtomicBool>,
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    session: Option<EnrollmentSession>,
    outcome: Option<EnrollmentOutcome>,
}

impl EnrollmentController {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The flag the audio thread reads.
    pub fn active_flag(&self) -> Arc<AtomicBool> {
        self.active.clone()
    }

    pub fn active(&self) -> bool {
        self.active.load(Ordering::Acquire)
    }

    /// Starts a session asking for `per_digit` takes of each digit (restarts a running one).
    /// Only words offered after this are takes (`FsddParams::start_enrollment` moves the words
    /// heard before out of the way first).
    pub fn start(&self, per_digit: usize) {
        let mut inner = self.lock();
        inner.session = Some(EnrollmentSession::new(per_digit));
        inner.outcome = None;
        self.active.store(true, Ordering::Release);
    }

    pub fn cancel(&self) {
        let mut inner = self.lock();
        if inner.session.take().is_some() {
            inner.outcome = Some(EnrollmentOutcome::Cancelled);
        }
        self.active.store(false, Ordering::Release);
    }

    /// The finished voice could not be stored after all: the window says why.
    pub fn failed(&self, message: String) {
        self.lock().outcome = Some(EnrollmentOutcome::Failed(message));
    }

    /// Drops the last take; its digit is asked for again.
    pub fn redo_last(&self) {
        if let Some(session) = self.lock().session.as_mut() {
            session.redo_last();
        }
    }

    /// Moves on to the next digit with the takes this one has.
    pub fn skip_digit(&self) {
        if let Some(session) = self.lock().session.as_mut() {
            session.skip_digit();
        }
    }

    /// Editor thread, every frame: offers the words captured since the last call to the
    /// session (those after the last take it needs are not used) and, when every digit has its
    /// takes, builds the voice. `None` while no session runs or it is not complete.
    pub fn poll(&self, words: &[CapturedWord]) -> Option<Finished> {
        let mut inner = self.lock();
        let session = inner.session.as_mut()?;
        for word in words {
            if session.is_complete() {
                break;
            }
            session.offer(word);
        }
        if !session.is_complete() {
            return None;
        }
        let counts = session.counts();
        let result = session.build_voice().map_err(|e| e.to_string());
        inner.session = None;
        self.active.store(false, Ordering::Release);
        match result {
            Ok(voice) => {
                inner.outcome = Some(EnrollmentOutcome::Finished { per_digit: counts });
                Some(Finished::Enrolled(voice))
            }
            Err(message) => {
                inner.outcome = Some(EnrollmentOutcome::Failed(message.clone()));
                Some(Finished::Failed(message))
            }
        }
    }

    /// The running session, for drawing (`None` when not enrolling).
    pub fn view(&self) -> Option<EnrollmentView> {
        let inner = self.lock();
        let session = inner.session.as_ref()?;
        Some(EnrollmentView {
            prompt: session.prompt(),
            per_digit: session.per_digit(),
            counts: session.counts(),
            last_take: session.last_take().map(|t| TakeView {
                digit: t.digit,
                duration_ms: t.duration_ms(),
                level_trace: t.level_trace(),
            }),
        })
    }

    pub fn outcome(&self) -> Option<EnrollmentOutcome> {
        self.lock().outcome.clone()
    }
}

/// Takes per digit the window offers first.
pub const DEFAULT_TAKES: usize = DEFAULT_TAKES_PER_DIGIT;
