//! The digit classifier: an ONNX graph run by tract.
//!
//! Contract: one input `[N, 1, 64, 64]` f32 raw MFCC ([`FEATURE_LEN`] values per item, `N`
//! symbolic or 1), two outputs in order: `probs` `[N, 11]` (softmax: digits 0-9, then
//! [`NOT_A_DIGIT`], speech or sound that is not a digit) and `embedding` `[N, E]`, `E <= 128`.
//! Loading checks exactly that and says what differs.
//!
//! Models of the first contract (`probs` `[N, 10]`, digits only) still load: they cannot
//! reject, so their "not a digit" probability is always 0 and [`Model::rejects`] says so.
//! Anything else is refused with the shape it has.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use tract_onnx::prelude::*;

use crate::signal::mfcc::{FEATURE_LEN, N_FRAMES, N_MFCC};

/// Digits the model scores (outputs 0-9).
pub const N_DIGITS: usize = 10;
/// Output index of "not a digit": speech that is not a digit, or a noise.
pub const NOT_A_DIGIT: usize = 10;
/// Outputs of the current contract: ten digits and [`NOT_A_DIGIT`].
pub const N_OUTPUTS: usize = 11;
/// Largest embedding the contract allows.
pub const MAX_EMBEDDING_DIM: usize = 128;

#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error("{path}: cannot read model: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("not a loadable ONNX model: {0}")]
    Parse(String),
    #[error(
        "model does not match the fsdd contract (input [N,1,64,64] -> probs [N,11] (digits 0-9, not a digit) \
         or the older digits-only [N,10], embedding [N,E<=128]): {0}"
    )]
    Shape(String),
    #[error(
        "this build has no embedded model: models/fsdd.onnx did not exist when fsdd-core was compiled \
         (train one with `cargo run -p trainer`, then rebuild), or load one with --model PATH"
    )]
    NotEmbedded,
    #[error("MFCC input must hold {expected} values, got {got}")]
    InputLength { expected: usize, got: usize },
    #[error("inference failed: {0}")]
    Inference(String),
}

/// Time one node of the optimised single-window plan takes (see [`Model::profile`]).
#[derive(Clone, Debug)]
pub struct NodeTime {
    pub name: String,
    /// tract's op after optimisation, e.g. `Conv` lowered to an `OptMatMul`.
    pub op: String,
    /// Median over the profiled runs.
    pub median: Duration,
}

/// What the model says about one window.
#[derive(Clone, Debug, PartialEq)]
pub struct Inference {
    /// Digits 0-9, then [`NOT_A_DIGIT`] (0 for a digits-only model).
    pub probs: [f32; N_OUTPUTS],
    pub embedding: Vec<f32>,
}

type Plan = Arc<TypedRunnableModel>;

/// A loaded, optimized model. `Send + Sync`: share it with `Arc`.
#[derive(Clone)]
pub struct Model {
    /// Optimized for one window at a time (the streaming path).
    single: Plan,
    /// Optimized for any batch size, when the graph's batch dimension is symbolic.
    batch: Option<Plan>,
    /// Execution states of `single`, kept between calls: `plan.run` builds a fresh state (op
    /// states, value table) on every call. One per thread that infers concurrently.
    states: Arc<Mutex<Vec<TypedSimpleState>>>,
    embedding_dim: usize,
    /// Probability outputs of the graph: [`N_OUTPUTS`], or [`N_DIGITS`] for the first contract.
    outputs: usize,
    fingerprint: u64,
}

impl std::fmt::Debug for Model {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Model")
            .field("embedding_dim", &self.embedding_dim)
            .field("rejects", &self.rejects())
            .field("batched", &self.batch.is_some())
            .field("fingerprint", &format_args!("{:016x}", self.fingerprint))
            .finish()
    }
}

#[cfg(fsdd_embedded_model)]
static EMBEDDED: Option<&[u8]> = Some(include_bytes!("../../../models/fsdd.onnx"));
#[cfg(not(fsdd_embedded_model))]
static EMBEDDED: Option<&[u8]> = None;

fn parse_err(e: impl std::fmt::Display) -> ModelError {
    ModelError::Parse(format!("{e:#}"))
}

fn shape_err(e: impl std::fmt::Display) -> ModelError {
    ModelError::Shape(format!("{e:#}"))
}

impl Model {
    /// The model compiled into this build (`models/fsdd.onnx` at build time).
    pub fn embedded() -> Result<Model, ModelError> {
        Self::from_bytes(EMBEDDED.ok_or(ModelError::NotEmbedded)?)
    }

    /// Whether this build carries an embedded model.
    pub fn has_embedded() -> bool {
        EMBEDDED.is_some()
    }

    pub fn from_path(path: &Path) -> Result<Model, ModelError> {
        let bytes = std::fs::read(path).map_err(|source| ModelError::Io { path: path.to_owned(), source })?;
        Self::from_bytes(&bytes)
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<Model, ModelError> {
        Self::load(bytes, true)
    }

    /// The same model lowered by tract alone, without [`crate::inference::plan_rewrites`]: what the
    /// rewrites are measured and checked against.
    pub fn from_bytes_without_rewrites(bytes: &[u8]) -> Result<Model, ModelError> {
        Self::load(bytes, false)
    }

    fn load(bytes: &[u8], rewrite: bool) -> Result<Model, ModelError> {
        crate::inference::kernel_choice::configure_tract();
        let inference_model = tract_onnx::onnx().model_for_read(&mut &bytes[..]).map_err(parse_err)?;
        let inputs = inference_model.input_outlets().map_err(parse_err)?.len();
        let outputs = inference_model.output_outlets().map_err(parse_err)?.len();
        if inputs != 1 {
            return Err(ModelError::Shape(format!("expected 1 input, the graph has {inputs}")));
        }
        if outputs != 2 {
            return Err(ModelError::Shape(format!("expected 2 outputs (probs, embedding), the graph has {outputs}")));
        }
        let typed = inference_model
            .into_typed()
            .map_err(|e| ModelError::Shape(format!("cannot infer shapes (is the input shape declared?): {e:#}")))?;

        let input = typed.input_fact(0).map_err(shape_err)?.clone();
        if input.datum_type != f32::datum_type() {
            return Err(ModelError::Shape(format!("input must be f32, is {:?}", input.datum_type)));
        }
        let dims: Vec<TDim> = input.shape.iter().cloned().collect();
        let expected_tail = [1, N_MFCC as i64, N_FRAMES as i64];
        let tail_ok = dims.len() == 4 && dims[1..].iter().zip(expected_tail).all(|(d, e)| d.to_i64().ok() == Some(e));
        if !tail_ok {
            return Err(ModelError::Shape(format!("input shape is {dims:?}, expected [N, 1, 64, 64]")));
        }
        let batch_symbol = match dims[0].to_i64() {
            Ok(1) => None,
            Ok(n) => return Err(ModelError::Shape(format!("input batch dimension is {n}, expected N or 1"))),
            Err(_) => match &dims[0] {
                TDim::Sym(s) => Some(s.clone()),
                other => return Err(ModelError::Shape(format!("input batch dimension {other} is not a plain symbol"))),
            },
        };

        let probs = typed.output_fact(0).map_err(shape_err)?.clone();
        let embedding = typed.output_fact(1).map_err(shape_err)?.clone();
        let check_out = |name: &str, fact: &TypedFact| -> Result<Option<i64>, ModelError> {
            if fact.datum_type != f32::datum_type() {
                return Err(ModelError::Shape(format!("output {name} must be f32, is {:?}", fact.datum_type)));
            }
            let d: Vec<TDim> = fact.shape.iter().cloned().collect();
            if d.len() != 2 || d[0] != dims[0] {
                return Err(ModelError::Shape(format!("output {name} has shape {d:?}, expected [{}, _]", dims[0])));
            }
            Ok(d[1].to_i64().ok())
        };
        let outputs = match check_out("probs", &probs)? {
            Some(n) if n as usize == N_OUTPUTS || n as usize == N_DIGITS => n as usize,
            other => {
                return Err(ModelError::Shape(format!(
                    "output probs has {other:?} classes, expected {N_OUTPUTS} (digits and not-a-digit) or {N_DIGITS}"
                )));
            }
        };
        let embedding_dim = match check_out("embedding", &embedding)? {
            Some(e) if e >= 1 && e as usize <= MAX_EMBEDDING_DIM => e as usize,
            other => {
                return Err(ModelError::Shape(format!(
                    "embedding width is {other:?}, expected 1..={MAX_EMBEDDING_DIM}"
                )));
            }
        };

        let optimize = |m: TypedModel| -> Result<Plan, ModelError> {
            m.into_decluttered()
                .and_then(
                    |mut m| if rewrite { crate::inference::plan_rewrites::apply(&mut m).map(|_| m) } else { Ok(m) },
                )
                .and_then(|m| m.into_optimized())
                .and_then(|m| m.into_runnable())
                .map_err(|e| ModelError::Parse(format!("cannot optimize: {e:#}")))
        };
        let (single, batch) = match batch_symbol {
            None => (optimize(typed)?, None),
            Some(symbol) => {
                let one: HashMap<Symbol, TDim> = [(symbol, TDim::Val(1))].into_iter().collect();
                let single_model = typed.set_symbols(&one).map_err(shape_err)?;
                (optimize(single_model)?, Some(optimize(typed)?))
            }
        };
        let model = Model { single, batch, states: Arc::default(), embedding_dim, outputs, fingerprint: fnv1a(bytes) };
        // A graph can pass shape checks and still fail at run time (unsupported op variant):
        // find out now, with a clear error, rather than on the first spoken digit.
        let silence = crate::signal::mfcc::MfccExtractor::new().compute(&[]);
        let check = model.infer(&silence[..])?;
        if check.probs.iter().any(|p| !p.is_finite()) || check.embedding.iter().any(|e| !e.is_finite()) {
            return Err(ModelError::Shape("the model returns non-finite values on silence".into()));
        }
        Ok(model)
    }

    pub fn embedding_dim(&self) -> usize {
        self.embedding_dim
    }

    /// Whether the model has a "not a digit" output (the current contract). A digits-only model
    /// calls every sound some digit.
    pub fn rejects(&self) -> bool {
        self.outputs == N_OUTPUTS
    }

    /// A hash of the ONNX bytes: prototypes enrolled with one model are meaningless with another.
    pub fn fingerprint(&self) -> u64 {
        self.fingerprint
    }

    /// Whether [`infer_batch`](Self::infer_batch) runs one pass (symbolic batch) or one per item.
    pub fn supports_batch(&self) -> bool {
        self.batch.is_some()
    }

    /// Scores one window ([`FEATURE_LEN`] raw MFCC values, `[coef * 64 + frame]`).
    pub fn infer(&self, mfcc: &[f32]) -> Result<Inference, ModelError> {
        if mfcc.len() != FEATURE_LEN {
            return Err(ModelError::InputLength { expected: FEATURE_LEN, got: mfcc.len() });
        }
        let infer_err = |e: TractError| ModelError::Inference(format!("{e:#}"));
        let pooled = self.states.lock().unwrap_or_else(PoisonError::into_inner).pop();
        let mut state = match pooled {
            Some(state) => state,
            None => TypedSimpleState::new(&self.single).map_err(infer_err)?,
        };
        let input = Tensor::from_shape(&[1, 1, N_MFCC, N_FRAMES], mfcc).map_err(infer_err)?;
        let outputs = state.run(tvec!(input.into_tvalue())).map_err(infer_err)?;
        // A state whose run failed is dropped, not reused.
        self.states.lock().unwrap_or_else(PoisonError::into_inner).push(state);
        let mut out = self.unpack(&outputs, 1)?;
        Ok(out.remove(0))
    }

    /// Scores `mfccs.len() / FEATURE_LEN` windows, in one pass when the graph allows it.
    pub fn infer_batch(&self, mfccs: &[f32]) -> Result<Vec<Inference>, ModelError> {
        if !mfccs.len().is_multiple_of(FEATURE_LEN) {
            return Err(ModelError::InputLength { expected: FEATURE_LEN, got: mfccs.len() % FEATURE_LEN });
        }
        let n = mfccs.len() / FEATURE_LEN;
        match &self.batch {
            Some(plan) if n > 1 => self.run(plan, mfccs, n),
            _ => mfccs.chunks_exact(FEATURE_LEN).map(|w| self.infer(w)).collect(),
        }
    }

    /// Per-node timing of the single-window plan on `mfcc`, over `runs` runs, in execution
    /// order: where tract spends a forward pass. Times each node's own evaluation (the plan's
    /// bookkeeping between nodes is not in any node).
    pub fn profile(&self, mfcc: &[f32], runs: usize) -> Result<Vec<NodeTime>, ModelError> {
        if mfcc.len() != FEATURE_LEN {
            return Err(ModelError::InputLength { expected: FEATURE_LEN, got: mfcc.len() });
        }
        let infer_err = |e: TractError| ModelError::Inference(format!("{e:#}"));
        let graph = self.single.model();
        let mut samples: Vec<Vec<Duration>> = vec![Vec::with_capacity(runs); graph.nodes.len()];
        let mut order = Vec::new();
        let mut state = TypedSimpleState::new(&self.single).map_err(infer_err)?;
        for run in 0..runs.max(1) {
            let input = Tensor::from_shape(&[1, 1, N_MFCC, N_FRAMES], mfcc).map_err(infer_err)?;
            state
                .run_plan_with_eval(tvec!(input.into_tvalue()), |session, op_state, node, inputs| {
                    let start = Instant::now();
                    let outputs = tract_onnx::tract_core::plan::eval(session, op_state, node, inputs);
                    samples[node.id].push(start.elapsed());
                    if run == 0 {
                        order.push(node.id);
                    }
                    outputs
                })
                .map_err(infer_err)?;
        }
        Ok(order
            .into_iter()
            .map(|id| {
                let times = &mut samples[id];
                times.sort_unstable();
                let node = &graph.nodes[id];
                NodeTime { name: node.name.clone(), op: format!("{}", node.op), median: times[times.len() / 2] }
            })
            .collect())
    }

    fn run(&self, plan: &Plan, data: &[f32], n: usize) -> Result<Vec<Inference>, ModelError> {
        let infer_err = |e: TractError| ModelError::Inference(format!("{e:#}"));
        let input = Tensor::from_shape(&[n, 1, N_MFCC, N_FRAMES], data).map_err(infer_err)?;
        let outputs = plan.run(tvec!(input.into_tvalue())).map_err(infer_err)?;
        self.unpack(&outputs, n)
    }

    /// The `n` windows' probabilities and embeddings out of the graph's two outputs.
    fn unpack(&self, outputs: &[TValue], n: usize) -> Result<Vec<Inference>, ModelError> {
        let infer_err = |e: TractError| ModelError::Inference(format!("{e:#}"));
        let probs = outputs[0].to_plain_array_view::<f32>().map_err(infer_err)?;
        let embedding = outputs[1].to_plain_array_view::<f32>().map_err(infer_err)?;
        let (probs, embedding) = (probs.as_slice().unwrap_or(&[]), embedding.as_slice().unwrap_or(&[]));
        let k = self.outputs;
        if probs.len() != n * k || embedding.len() != n * self.embedding_dim {
            return Err(ModelError::Inference(format!(
                "outputs hold {} probs and {} embedding values for {n} windows",
                probs.len(),
                embedding.len()
            )));
        }
        Ok((0..n)
            .map(|i| {
                let mut p = [0.0f32; N_OUTPUTS];
                p[..k].copy_from_slice(&probs[i * k..(i + 1) * k]);
                Inference {
                    probs: p,
                    embedding: embedding[i * self.embedding_dim..(i + 1) * self.embedding_dim].to_vec(),
                }
            })
            .collect())
    }
}

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf29ce484222325u64, |h, &b| (h ^ b as u64).wrapping_mul(0x100000001b3))
}
