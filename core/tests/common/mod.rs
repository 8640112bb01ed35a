//! Helpers shared by the integration tests: where FSDD is, reading clips, synthetic noise, and
//! small hand-built ONNX graphs (for shape-check tests).
#![allow(dead_code)]

use std::path::PathBuf;

use fsdd_core::signal::audio::read_wav;
use fsdd_eval::corpus::{FSDD_DIR_ENV, Fsdd, Split, Utterance};
use prost::Message;
use tract_onnx::pb;

/// `$FSDD_DIR`, else `<workspace>/../shared/fsdd/recordings`.
pub fn fsdd_dir() -> PathBuf {
    std::env::var_os(FSDD_DIR_ENV)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/fsdd/recordings"))
}

pub fn fsdd() -> Fsdd {
    Fsdd::open(fsdd_dir()).expect("FSDD recordings (set FSDD_DIR)")
}

/// The official test split (takes 0-4), sorted.
pub fn test_split(fsdd: &Fsdd) -> Vec<Utterance> {
    fsdd.split(Split::Test).into_iter().cloned().collect()
}

pub fn load(u: &Utterance) -> Vec<f32> {
    let clip = read_wav(&u.path).expect("readable FSDD file");
    assert_eq!(clip.sample_rate, 8000);
    clip.samples
}

/// Deterministic xorshift generator (no extra dependency).
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407) | 1)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    /// Uniform in [0, 1).
    pub fn uniform(&mut self) -> f32 {
        (self.next_u64() >> 40) as f32 / (1u64 << 24) as f32
    }
    pub fn range(&mut self, lo: usize, hi: usize) -> usize {
        lo + (self.next_u64() % (hi - lo + 1) as u64) as usize
    }
    /// Roughly Gaussian (sum of 4 uniforms), unit variance.
    pub fn gauss(&mut self) -> f32 {
        let s: f32 = (0..4).map(|_| self.uniform()).sum();
        (s - 2.0) * 3f32.sqrt()
    }
}

/// White Gaussian-ish noise with the given RMS.
pub fn noise(len: usize, rms: f32, rng: &mut Rng) -> Vec<f32> {
    (0..len).map(|_| rng.gauss() * rms).collect()
}

pub fn rms(x: &[f32]) -> f32 {
    (x.iter().map(|v| v * v).sum::<f32>() / x.len().max(1) as f32).sqrt()
}

// ---- hand-built ONNX graphs ----

fn dim(d: &str) -> pb::tensor_shape_proto::Dimension {
    let value = match d.parse::<i64>() {
        Ok(v) => pb::tensor_shape_proto::dimension::Value::DimValue(v),
        Err(_) => pb::tensor_shape_proto::dimension::Value::DimParam(d.to_owned()),
    };
    pb::tensor_shape_proto::Dimension { denotation: String::new(), value: Some(value) }
}

pub fn value_info(name: &str, dims: &[&str]) -> pb::ValueInfoProto {
    pb::ValueInfoProto {
        name: name.into(),
        r#type: Some(pb::TypeProto {
            denotation: String::new(),
            value: Some(pb::type_proto::Value::TensorType(pb::type_proto::Tensor {
                elem_type: 1,
                shape: Some(pb::TensorShapeProto { dim: dims.iter().map(|d| dim(d)).collect() }),
            })),
        }),
        doc_string: String::new(),
    }
}

pub fn tensor(name: &str, dims: &[i64], data: Vec<f32>) -> pb::TensorProto {
    pb::TensorProto { name: name.into(), dims: dims.to_vec(), data_type: 1, float_data: data, ..Default::default() }
}

pub fn node(op: &str, inputs: &[&str], outputs: &[&str], attrs: Vec<pb::AttributeProto>) -> pb::NodeProto {
    pb::NodeProto {
        op_type: op.into(),
        input: inputs.iter().map(|s| s.to_string()).collect(),
        output: outputs.iter().map(|s| s.to_string()).collect(),
        name: outputs[0].into(),
        attribute: attrs,
        ..Default::default()
    }
}

pub fn int_attr(name: &str, v: i64) -> pb::AttributeProto {
    pb::AttributeProto { name: name.into(), i: v, r#type: 2, ..Default::default() }
}

pub fn model_bytes(graph: pb::GraphProto) -> Vec<u8> {
    pb::ModelProto {
        ir_version: 8,
        opset_import: vec![pb::OperatorSetIdProto { domain: String::new(), version: 13 }],
        producer_name: "fsdd-core tests".into(),
        graph: Some(graph),
        ..Default::default()
    }
    .encode_to_vec()
}

/// A linear classifier with the contract's shapes: flatten -> Gemm -> softmax (probs) and a
/// second Gemm (embedding). `batch` is "N" or "1"; `side` the input's spatial size (64 is right);
/// `classes` the number of outputs.
pub fn linear_model(batch: &str, side: usize, classes: usize, embedding: usize, seed: u64) -> Vec<u8> {
    let features = side * side;
    let mut rng = Rng::new(seed);
    let w: Vec<f32> = (0..classes * features).map(|_| rng.gauss() * 1e-3).collect();
    let e: Vec<f32> = (0..embedding * features).map(|_| rng.gauss() * 1e-3).collect();
    let side_s = side.to_string();
    let graph = pb::GraphProto {
        name: "linear".into(),
        node: vec![
            node("Flatten", &["mfcc"], &["flat"], vec![int_attr("axis", 1)]),
            node("Gemm", &["flat", "w"], &["logits"], vec![int_attr("transB", 1)]),
            node("Softmax", &["logits"], &["probs"], vec![int_attr("axis", 1)]),
            node("Gemm", &["flat", "e"], &["embedding"], vec![int_attr("transB", 1)]),
        ],
        initializer: vec![
            tensor("w", &[classes as i64, features as i64], w),
            tensor("e", &[embedding as i64, features as i64], e),
        ],
        input: vec![value_info("mfcc", &[batch, "1", &side_s, &side_s])],
        output: vec![
            value_info("probs", &[batch, &classes.to_string()]),
            value_info("embedding", &[batch, &embedding.to_string()]),
        ],
        ..Default::default()
    };
    model_bytes(graph)
}

pub fn ints_attr(name: &str, v: &[i64]) -> pb::AttributeProto {
    pb::AttributeProto { name: name.into(), ints: v.to_vec(), r#type: 7, ..Default::default() }
}
