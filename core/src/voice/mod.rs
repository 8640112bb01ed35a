//! The user's own voice: guided [`enrollment`] captures whole spoken words and turns them into
//! a [`prototypes`] set that the recognizer blends with the base model.

pub mod enrollment;
pub mod prototypes;
