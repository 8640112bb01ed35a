//! The FSDD digit trainer: tch (libtorch) training, ONNX export through `tract_onnx::pb`, and
//! evaluation of the exported file with tract, the way the recognizer runs it.
//!
//! - [`data`]: FSDD waveforms, the fit / validation / test partition, MFCC features (fsdd_core).
//! - [`augment`]: waveform augmentation (speed, gain, lead/onset shifts, prefix crops, noise, babble).
//! - [`model`]: the compact CNN.
//! - [`optim`]: Adadelta (written here) and Adam.
//! - [`train`]: the epoch loop, validation, best / resumable checkpoints.
//! - [`export`]: the ONNX graph (batch norms folded, normalisation baked in).
//! - [`tract_model`]: the exported file under tract.
//! - [`pipeline`]: train -> export -> parity -> evaluate, decision timing.
//! - [`speech_commands`]: Speech Commands (real voices, non-digit words, room noise), split by speaker.
//! - [`card`]: the model card.

pub mod augment;
pub mod card;
pub mod data;
pub mod export;
pub mod model;
pub mod optim;
pub mod pipeline;
pub mod spectral;
pub mod speech_commands;
pub mod tract_model;
pub mod train;
