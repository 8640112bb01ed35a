//! fsdd-core: the spoken-digit recognizer every front end shares.
//!
//! Audio flows through four parts, each a folder:
//! - [`signal`]: WAV in or a live device, resampled to 8 kHz, the VAD finds speech, and up to
//!   1.024 s of it becomes one 64 x 64 MFCC window;
//! - [`inference`]: the shipped ONNX model (tract, with our plan rewrites) gives digit
//!   probabilities and an embedding, and saliency says why;
//! - [`streaming`]: the recognizer ties them together and decides when to speak up (early
//!   exit); the engine runs it on a worker thread behind lock-free rings, so audio threads
//!   never allocate, lock or wait; live settings are atomics a UI turns;
//! - [`voice`]: enrollment of the user's own voice, kept as audio takes and matched as DTW
//!   templates fused with the model.
//!
//! [`labels`] says what the outputs mean (label and detection names, file-name labels, the
//! confusion matrix). Corpora, test streams and their scoring live in `fsdd-eval`, which the
//! product does not link.

pub mod inference;
pub mod labels;
pub mod signal;
pub mod streaming;
pub mod voice;

pub use inference::model::{Inference, Model, ModelError};
pub use inference::saliency::{RelativeSaliency, Saliency};
pub use signal::vad::VadConfig;
pub use streaming::config::RecognizerConfig;
pub use streaming::early_exit::EarlyExitPolicy;
pub use streaming::engine::{AudioSender, DetectionReceiver, Engine, EngineConfig, EngineError};
pub use streaming::recognizer::{CapturedWord, Detection, DetectionKind, LiveView, Recognizer};
pub use streaming::settings::SharedSettings;
pub use voice::corrections::RecentWords;
pub use voice::enrollment::{EnrollmentError, EnrollmentSession, Take};
pub use voice::matcher::{FusionRule, VoiceBuildError, VoiceMatcher};
pub use voice::prototypes::{PrototypeError, PrototypeSet, ScoringMode};
pub use voice::store::{Added, TakeSource, Voice, VoiceError, VoiceTake};
