//! fsdd-eval: how the recognizer is measured, kept out of the product (the dashboard and the
//! plugin do not link it).
//!
//! - [`corpus`]: the FSDD recordings on disk, the official split, the validation takes,
//!   leave-one-speaker-out folds, and the speaker groups that split Speech Commands by voice;
//! - [`enrollment`]: a held-out speaker enrolled with K takes per digit, scored by the base
//!   model, the earlier prototypes, DTW templates and the shipped voice fusion;
//! - [`streams`]: test streams laid out the way users speak (pauses, fast strings, recorded
//!   room noise at a chosen SNR) and their scoring by alignment of notes to words.
//!
//! The examples are the benchmarks built on them: `stream_bench` (`cargo xtask bench-stream`)
//! `early_exit_sweep` and `enroll_bench` (`cargo xtask bench-enroll`).

pub mod corpus;
pub mod enrollment;
pub mod streams;
