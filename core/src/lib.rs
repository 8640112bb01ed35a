//! fsdd-core: the spoken-digit recognizer every front end shares.
//!
//! Audio flows: [`audio`] (WAV in) or a live device -> [`resample`] to 8 kHz -> [`vad`] finds
//! speech -> [`mfcc`] turns up to 1.024 s of it into a 64 x 64 window -> [`model`] (tract) gives
//! digit probabilities and an embedding -> [`prototypes`] blend in the user's enrolled voice ->
//! [`early_exit`] decides when to speak up -> [`saliency`] says why. [`recognizer`] is that
//! pipeline as plain synchronous code; [`engine`] runs it on a worker thread behind lock-free
//! rings so audio threads never allocate, lock or wait.

pub mod audio;
pub mod dataset;
pub mod metrics;
pub mod mfcc;
