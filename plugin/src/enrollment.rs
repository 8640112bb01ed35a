//! Guided enrollment in the plugin window: "Enroll" asks for each digit a few times, the
//! recogniser's worker captures every whole word the track feeds in, and the takes become the
//! enrolled voice (stored in the plugin state, so it travels with the project).
//!
//! The flow itself is the core's [`EnrollmentSession`], the same one `fsdd-tui` uses, so the
//! same takes give the same prototypes. Threads:
//! - the worker (core `Engine`, word capture on) copies each whole word into its queue;
//! - the editor's thread calls [`EnrollmentController::poll`] every frame: it moves the queued
//!   words into the session and, once every digit has its takes, builds the prototypes;
//! - the audio thread only reads [`EnrollmentController::active`] (one atomic load): while it
//!   is set, detections still reach the window but no digit MIDI goes out.
//!
//! Nothing here runs in `process()`. If the window closes mid-enrollment, the words wait in the
//! engine's queue (bounded) and are taken when it opens again.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};

use fsdd_core::voice::enrollment::{DEFAULT_TAKES_PER_DIGIT, EnrollmentSession, Prompt};
use fsdd_core::{Engine, Model, PrototypeSet};

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
    /// Prototypes built and stored; takes per digit.
    Finished {
        per_digit: [usize; 10],
    },
    Cancelled,
    /// Building the prototypes failed (nothing changed).
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
#[expect(
    clippy::large_enum_variant,
    reason = "returned once per enrollment to the editor thread; boxing would only add an allocation"
)]
pub enum Finished {
    /// The voice is enrolled and stored: switch the mode to Hybrid.
    Enrolled(PrototypeSet),
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
    /// The engine whose word capture this session switched on.
    capturing: Weak<Engine>,
    model: Option<Arc<Model>>,
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

    /// The model takes are embedded with (the plugin's, once loaded).
    pub fn set_model(&self, model: Arc<Model>) {
        self.lock().model = Some(model);
    }

    /// Starts a session asking for `per_digit` takes of each digit (restarts a running one).
    pub fn start(&self, per_digit: usize) {
        let mut inner = self.lock();
        inner.session = Some(EnrollmentSession::new(per_digit));
        inner.outcome = None;
        if let Some(engine) = inner.capturing.upgrade() {
            // Words from before the restart are not takes of this session.
            engine.capture_words(false);
        }
        inner.capturing = Weak::new();
        self.active.store(true, Ordering::Release);
    }

    pub fn cancel(&self) {
        let mut inner = self.lock();
        if inner.session.take().is_some() {
            inner.outcome = Some(EnrollmentOutcome::Cancelled);
        }
        stop_capture(&mut inner);
        self.active.store(false, Ordering::Release);
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

    /// Editor thread, every frame: makes sure the running engine captures words, moves its
    /// captured words into the session and, when every digit has its takes, builds the
    /// prototypes. `engine` is the running engine (`None` while the plugin is inactive).
    pub fn poll(&self, engine: Option<Arc<Engine>>) -> Option<Finished> {
        let mut inner = self.lock();
        inner.session.as_ref()?;
        if let Some(engine) = &engine {
            if !Weak::ptr_eq(&inner.capturing, &Arc::downgrade(engine)) {
                engine.capture_words(true);
                inner.capturing = Arc::downgrade(engine);
            }
            let session = inner.session.as_mut().expect("checked above");
            while let Some(word) = engine.pop_word() {
                if !session.offer(&word) {
                    break;
                }
            }
        }
        let session = inner.session.as_ref().expect("checked above");
        if !session.is_complete() {
            return None;
        }
        let counts = session.counts();
        let result = match &inner.model {
            Some(model) => session.build_prototypes(model).map_err(|e| e.to_string()),
            None => Err("the model is not loaded".to_owned()),
        };
        inner.session = None;
        stop_capture(&mut inner);
        self.active.store(false, Ordering::Release);
        match result {
            Ok(set) => {
                inner.outcome = Some(EnrollmentOutcome::Finished { per_digit: counts });
                Some(Finished::Enrolled(set))
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

fn stop_capture(inner: &mut Inner) {
    if let Some(engine) = inner.capturing.upgrade() {
        engine.capture_words(false);
    }
    inner.capturing = Weak::new();
}

/// Takes per digit the window offers first.
pub const DEFAULT_TAKES: usize = DEFAULT_TAKES_PER_DIGIT;
