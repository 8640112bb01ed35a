//! The user's own voice: guided [`enrollment`] captures whole spoken words, the [`store`] keeps
//! them as audio (the voice file), and the [`matcher`] turns them into what the recognizer uses:
//! DTW [`templates`] of every take fused with the model (the default), or [`prototypes`], one
//! mean embedding per digit (the earlier method, kept for comparison). [`corrections`] turns a
//! corrected detection into a new take.

pub mod corrections;
pub mod enrollment;
pub mod matcher;
pub mod prototypes;
pub mod store;
pub mod templates;
