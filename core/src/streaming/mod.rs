//! The live pipeline: [`recognizer`] is VAD -> MFCC -> model -> enrolled voice -> [`early_exit`]
//! -> saliency as plain synchronous code, configured by [`config`]; [`engine`] runs it on a
//! worker thread behind lock-free rings so audio threads never allocate, lock or wait;
//! [`settings`] are the atomics a UI turns while it runs.

pub mod config;
pub mod early_exit;
pub mod engine;
pub mod recognizer;
pub mod settings;
