//! Features to probabilities: the shipped ONNX model run by tract ([`model`]), the rewrites
//! that replace the parts of tract's lowering that are slow on our graph, same outputs
//! ([`plan_rewrites`], with the per-CPU kernel choice), and what each band and moment
//! contributed to a decision ([`saliency`]).

mod kernel_choice;
pub mod model;
pub mod plan_rewrites;
pub mod saliency;
