//! fsdd-core: the spoken-digit recognizer every front end shares.
//!
//! Audio flows: [`audio`] (WAV in) or a live device -> [`resample`] to 8 kHz -> [`vad`] finds
//! speech -> [`mfcc`] turns up to 1.024 s of it into a 64 x 64 window -> [`model`] (tract) gives
//! digit probabilities and an embedding -> [`prototypes`] blend in the user's enrolled voice ->
//! [`early_exit`] decides when to speak up -> [`saliency`] says why. [`plan_rewrites`] replaces
//! the parts of tract's lowering that are slow on our graph (same outputs). [`recognizer`] is that
//! pipeline as plain synchronous code; [`engine`] runs it on a worker thread behind lock-free
//! rings so audio threads never allocate, lock or wait; [`settings`] are the atomics a UI turns.

pub mod audio;
pub mod dataset;
pub mod early_exit;
pub mod engine;
pub mod enrollment;
mod kernel_choice;
pub mod metrics;
pub mod mfcc;
pub mod model;
pub mod plan_rewrites;
pub mod prototypes;
pub mod recognizer;
pub mod resample;
pub mod saliency;
pub mod settings;
pub mod stream_eval;
pub mod vad;

pub use early_exit::EarlyExitPolicy;
pub use enrollment::{EnrollmentError, EnrollmentSession, Take};
pub use engine::{AudioSender, DetectionReceiver, Engine, EngineConfig, EngineError};
pub use model::{Inference, Model, ModelError};
pub use prototypes::{PrototypeError, PrototypeSet, ScoringMode};
pub use recognizer::{CapturedWord, Detection, DetectionKind, LiveView, Recognizer, RecognizerConfig};
pub use saliency::Saliency;
pub use settings::SharedSettings;
pub use vad::VadConfig;
