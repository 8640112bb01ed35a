//! The user's own voice: guided [`enrollment`] captures whole spoken words and turns them into
//! a [`prototypes`] set that the recognizer blends with the base model; [`templates`] matches
//! whole enrolled words by dynamic time warping, the classic speaker-dependent answer.

pub mod enrollment;
pub mod prototypes;
pub mod templates;
