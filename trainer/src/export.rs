//! ONNX export of a trained [`DigitNet`] through `tract_onnx::pb` (prost types).
//!
//! tch cannot call `torch.onnx.export`, so the graph is written by hand: opset 13, every batch
//! norm folded into the conv / dense layer before it (eval-mode statistics), the per-band input
//! normalisation as a Sub + Mul on the raw MFCC, and the two outputs of the model contract:
//! `probs` (softmax) then `embedding`. The batch dimension is symbolic (`N`).

use std::path::Path;

use anyhow::{Context, Result};
use fsdd_core::signal::mfcc::{N_FRAMES, N_MFCC};
use prost::Message;
use tch::{Kind, Tensor, nn};
use tract_onnx::pb::{
    self, AttributeProto, GraphProto, ModelProto, NodeProto, OperatorSetIdProto, TensorProto, TypeProto,
    ValueInfoProto, attribute_proto::AttributeType, tensor_proto::DataType, tensor_shape_proto, type_proto,
};

use crate::model::{ConvBn, DenseBn, DigitNet, MEAN_RANGE_C0, N_CLASSES, SILENT_C0};

/// Names fixed by the model contract in the team brief.
pub const INPUT_NAME: &str = "mfcc";
pub const PROBS_NAME: &str = "probs";
pub const EMBEDDING_NAME: &str = "embedding";
pub const OPSET: i64 = 13;
const IR_VERSION: i64 = 8;

/// Folds `bn(x) = gamma * (x - mean) / sqrt(var + eps) + beta` into the preceding bias-free
/// layer: weight rows scaled, bias = beta - mean * scale. Computed in f64.
fn fold_batch_norm(weight: &Tensor, bn: &nn::BatchNorm) -> (Tensor, Tensor) {
    let eps = 1e-5; // nn::BatchNormConfig's default, which model.rs uses.
    let gamma = bn.ws.as_ref().expect("affine batch norm").to_kind(Kind::Double);
    let beta = bn.bs.as_ref().expect("affine batch norm").to_kind(Kind::Double);
    let scale = gamma / (bn.running_var.to_kind(Kind::Double) + eps).sqrt();
    let mut shape = vec![-1i64];
    shape.extend(std::iter::repeat_n(1, weight.dim() - 1));
    let folded_weight = weight.to_kind(Kind::Double) * scale.reshape(shape.as_slice());
    let folded_bias = beta - bn.running_mean.to_kind(Kind::Double) * &scale;
    (folded_weight.to_kind(Kind::Float), folded_bias.to_kind(Kind::Float))
}

fn initializer(name: &str, tensor: &Tensor) -> TensorProto {
    let tensor = tensor.detach().to_kind(Kind::Float).contiguous();
    let values: Vec<f32> = Vec::try_from(&tensor.flatten(0, -1)).expect("float tensor");
    TensorProto {
        name: name.to_owned(),
        dims: tensor.size(),
        data_type: DataType::Float as i32,
        float_data: values,
        ..Default::default()
    }
}

fn ints(name: &str, values: &[i64]) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        r#type: AttributeType::Ints as i32,
        ints: values.to_vec(),
        ..Default::default()
    }
}

fn int(name: &str, value: i64) -> AttributeProto {
    AttributeProto { name: name.into(), r#type: AttributeType::Int as i32, i: value, ..Default::default() }
}

fn node(op: &str, name: &str, inputs: &[&str], output: &str, attribute: Vec<AttributeProto>) -> NodeProto {
    NodeProto {
        op_type: op.into(),
        name: name.into(),
        input: inputs.iter().map(|s| s.to_string()).collect(),
        output: vec![output.into()],
        attribute,
        ..Default::default()
    }
}

fn value_info(name: &str, dims: &[Option<i64>]) -> ValueInfoProto {
    let dim = dims
        .iter()
        .map(|d| tensor_shape_proto::Dimension {
            value: Some(match d {
                Some(v) => tensor_shape_proto::dimension::Value::DimValue(*v),
                None => tensor_shape_proto::dimension::Value::DimParam("N".into()),
            }),
            ..Default::default()
        })
        .collect();
    ValueInfoProto {
        name: name.into(),
        r#type: Some(TypeProto {
            value: Some(type_proto::Value::TensorType(type_proto::Tensor {
                elem_type: DataType::Float as i32,
                shape: Some(pb::TensorShapeProto { dim }),
            })),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// Accumulates nodes and initializers.
#[derive(Default)]
struct GraphBuilder {
    nodes: Vec<NodeProto>,
    initializers: Vec<TensorProto>,
}

impl GraphBuilder {
    /// Conv (BN folded) + Relu; returns the output name.
    fn conv_bn_relu(&mut self, name: &str, input: &str, layer: &ConvBn) -> String {
        let (w, b) = fold_batch_norm(&layer.conv.ws, &layer.bn);
        self.initializers.push(initializer(&format!("{name}.weight"), &w));
        self.initializers.push(initializer(&format!("{name}.bias"), &b));
        let s = layer.stride;
        self.nodes.push(node(
            "Conv",
            name,
            &[input, &format!("{name}.weight"), &format!("{name}.bias")],
            &format!("{name}.out"),
            vec![
                ints("kernel_shape", &[3, 3]),
                ints("strides", &[s, s]),
                ints("pads", &[1, 1, 1, 1]),
                ints("dilations", &[1, 1]),
                int("group", 1),
            ],
        ));
        self.relu(name)
    }

    /// Gemm (transB, BN folded) + Relu into `output` (or `<name>.relu`).
    fn dense_bn_relu(&mut self, name: &str, input: &str, layer: &DenseBn, output: Option<&str>) -> String {
        let (w, b) = fold_batch_norm(&layer.linear.ws, &layer.bn);
        self.gemm(name, input, &w, &b);
        match output {
            Some(out) => self.relu_into(name, out.to_owned()),
            None => self.relu(name),
        }
    }

    fn gemm(&mut self, name: &str, input: &str, weight: &Tensor, bias: &Tensor) {
        self.initializers.push(initializer(&format!("{name}.weight"), weight));
        self.initializers.push(initializer(&format!("{name}.bias"), bias));
        self.nodes.push(node(
            "Gemm",
            name,
            &[input, &format!("{name}.weight"), &format!("{name}.bias")],
            &format!("{name}.out"),
            vec![int("transB", 1)],
        ));
    }

    /// ReLU of `{name}.out`, named `{name}.relu`.
    fn relu(&mut self, name: &str) -> String {
        self.relu_into(name, format!("{name}.relu"))
    }

    /// ReLU of `{name}.out` into the tensor `out` (e.g. a graph output).
    fn relu_into(&mut self, name: &str, out: String) -> String {
        self.nodes.push(node("Relu", &format!("{name}_relu"), &[&format!("{name}.out")], &out, vec![]));
        out
    }
}

impl GraphBuilder {
    fn int64s(&mut self, name: &str, values: &[i64]) {
        self.initializers.push(TensorProto {
            name: name.into(),
            dims: vec![values.len() as i64],
            data_type: DataType::Int64 as i32,
            int64_data: values.to_vec(),
            ..Default::default()
        });
    }

    fn scalar(&mut self, name: &str, value: f32) {
        self.initializers.push(TensorProto {
            name: name.into(),
            dims: vec![],
            data_type: DataType::Float as i32,
            float_data: vec![value],
            ..Default::default()
        });
    }

    /// [`crate::model::cepstral_mean_norm`] of `input` `[N,1,K,T]`; returns the output's name.
    fn cepstral_mean_norm(&mut self, input: &str) -> &'static str {
        self.int64s("cmn.c0_starts", &[0]);
        self.int64s("cmn.c0_ends", &[1]);
        self.int64s("cmn.c0_axes", &[2]);
        self.int64s("cmn.time_axis", &[3]);
        self.scalar("cmn.silent_c0", SILENT_C0);
        self.scalar("cmn.range", MEAN_RANGE_C0);
        self.scalar("cmn.one", 1.0);
        let steps: [(&str, &[&str], &str, Vec<AttributeProto>); 15] = [
            ("Slice", &[input, "cmn.c0_starts", "cmn.c0_ends", "cmn.c0_axes"], "cmn.c0", vec![]),
            ("Greater", &["cmn.c0", "cmn.silent_c0"], "cmn.nonsilent", vec![]),
            ("Cast", &["cmn.nonsilent"], "cmn.frames", vec![int("to", DataType::Float as i64)]),
            ("ReduceMax", &["cmn.c0"], "cmn.peak", vec![ints("axes", &[3]), int("keepdims", 1)]),
            ("Sub", &["cmn.peak", "cmn.range"], "cmn.threshold", vec![]),
            ("Greater", &["cmn.c0", "cmn.threshold"], "cmn.loud", vec![]),
            ("Cast", &["cmn.loud"], "cmn.loud_f", vec![int("to", DataType::Float as i64)]),
            ("Mul", &["cmn.loud_f", "cmn.frames"], "cmn.speech", vec![]),
            ("ReduceSum", &["cmn.speech", "cmn.time_axis"], "cmn.count_raw", vec![int("keepdims", 1)]),
            ("Max", &["cmn.count_raw", "cmn.one"], "cmn.count", vec![]),
            ("Mul", &[input, "cmn.speech"], "cmn.masked", vec![]),
            ("ReduceSum", &["cmn.masked", "cmn.time_axis"], "cmn.sum", vec![int("keepdims", 1)]),
            ("Div", &["cmn.sum", "cmn.count"], "cmn.mean", vec![]),
            ("Sub", &[input, "cmn.mean"], "cmn.centred", vec![]),
            ("Mul", &["cmn.centred", "cmn.frames"], "cmn.out", vec![]),
        ];
        for (op, inputs, output, attributes) in steps {
            self.nodes.push(node(op, output, inputs, output, attributes));
        }
        "cmn.out"
    }
}

/// The ONNX model of `net` (eval mode).
pub fn to_onnx(net: &DigitNet, doc: &str) -> ModelProto {
    tch::no_grad(|| {
        let mut g = GraphBuilder::default();
        g.initializers.push(initializer("band_mean", &net.band_mean));
        g.initializers.push(initializer("band_inv_std", &net.band_inv_std));
        // Only the first `coefficients` MFCC rows feed the network (all 64 by default).
        let mut input = INPUT_NAME;
        if net.spec.coefficients < N_MFCC as i64 {
            for (name, value) in [("crop.starts", 0), ("crop.ends", net.spec.coefficients), ("crop.axes", 2)] {
                g.initializers.push(TensorProto {
                    name: name.into(),
                    dims: vec![1],
                    data_type: DataType::Int64 as i32,
                    int64_data: vec![value],
                    ..Default::default()
                });
            }
            g.nodes.push(node(
                "Slice",
                "crop",
                &[INPUT_NAME, "crop.starts", "crop.ends", "crop.axes"],
                "cropped",
                vec![],
            ));
            input = "cropped";
        }
        if net.spec.cepstral_mean_norm {
            let normalised = g.cepstral_mean_norm(input);
            g.nodes.push(node("Concat", "channels", &[input, normalised], "channels", vec![int("axis", 1)]));
            input = "channels";
        }
        g.nodes.push(node("Sub", "centre", &[input, "band_mean"], "centred", vec![]));
        g.nodes.push(node("Mul", "scale", &["centred", "band_inv_std"], "normalised", vec![]));
        let x = g.conv_bn_relu("conv1", "normalised", &net.conv1);
        g.nodes.push(node(
            "MaxPool",
            "pool1",
            &[&x],
            "pool1.out",
            vec![ints("kernel_shape", &[2, 2]), ints("strides", &[2, 2])],
        ));
        let x = g.conv_bn_relu("conv2", "pool1.out", &net.conv2);
        let x = g.conv_bn_relu("conv3", &x, &net.conv3);
        g.nodes.push(node("Flatten", "flatten", &[&x], "flat", vec![int("axis", 1)]));
        let x = g.dense_bn_relu("fc1", "flat", &net.fc1, None);
        let embedding = g.dense_bn_relu("fc2", &x, &net.fc2, Some(EMBEDDING_NAME));
        let fc3_bias = net.fc3.bs.as_ref().expect("fc3 has a bias").shallow_clone();
        g.gemm("fc3", &embedding, &net.fc3.ws, &fc3_bias);
        g.nodes.push(node("Softmax", "softmax", &["fc3.out"], PROBS_NAME, vec![int("axis", 1)]));

        let graph = GraphProto {
            name: "fsdd_digit_cnn".into(),
            node: g.nodes,
            initializer: g.initializers,
            input: vec![value_info(INPUT_NAME, &[None, Some(1), Some(N_MFCC as i64), Some(N_FRAMES as i64)])],
            output: vec![
                value_info(PROBS_NAME, &[None, Some(N_CLASSES)]),
                value_info(EMBEDDING_NAME, &[None, Some(net.spec.embedding)]),
            ],
            ..Default::default()
        };
        ModelProto {
            ir_version: IR_VERSION,
            opset_import: vec![OperatorSetIdProto { domain: String::new(), version: OPSET }],
            producer_name: "fsdd-trainer".into(),
            producer_version: env!("CARGO_PKG_VERSION").into(),
            doc_string: doc.into(),
            graph: Some(graph),
            ..Default::default()
        }
    })
}

/// Writes the ONNX file (to a temporary sibling first, then renamed, so readers never see half a
/// model). Returns its size in bytes.
pub fn write_onnx(net: &DigitNet, doc: &str, path: &Path) -> Result<u64> {
    let bytes = to_onnx(net, doc).encode_to_vec();
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let tmp = path.with_extension("onnx.partial");
    std::fs::write(&tmp, &bytes).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("renaming {} to {}", tmp.display(), path.display()))?;
    Ok(bytes.len() as u64)
}
