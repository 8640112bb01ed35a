//! How the recognizer is set up: the early-exit policy, the VAD, how an enrolled voice is
//! scored, and whether decisions carry a saliency. Its own module so that
//! [`crate::streaming::settings`] (the live, atomic copy) and the recognizer that reads it
//! both depend on it, and not on each other.

use crate::signal::vad::VadConfig;
use crate::streaming::early_exit::EarlyExitPolicy;
use crate::voice::prototypes::ScoringMode;

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RecognizerConfig {
    pub early_exit: EarlyExitPolicy,
    pub vad: VadConfig,
    pub mode: ScoringMode,
    /// The prototypes' share in [`ScoringMode::Hybrid`] (the other modes ignore it).
    pub blend_weight: f32,
    /// Compute a [`crate::inference::saliency::Saliency`] for every decision.
    pub saliency: bool,
}

impl Default for RecognizerConfig {
    fn default() -> Self {
        Self {
            early_exit: EarlyExitPolicy::default(),
            vad: VadConfig::default(),
            mode: ScoringMode::Base,
            blend_weight: 0.5,
            saliency: true,
        }
    }
}
