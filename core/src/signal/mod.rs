//! Sound to features: WAV files in ([`audio`]), any rate to 8 kHz ([`resample`]), where the
//! speech is ([`vad`]), and the fixed 64 x 64 MFCC window the model reads ([`mfcc`]). The
//! trainer computes its features with this same code, so training and serving cannot drift.

pub mod audio;
pub mod mfcc;
pub mod resample;
pub mod vad;
