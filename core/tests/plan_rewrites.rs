//! `fsdd_core::inference::plan_rewrites` (issue #14) changes how fast tract runs a model, never what it
//! computes: the rewritten plan and tract's own lowering give the same outputs, bit for bit, on
//! real FSDD windows, for the shipped model and for a graph with the edge cases.

mod common;

use common::*;
use fsdd_core::Model;
use fsdd_core::signal::mfcc::{FEATURE_LEN, MfccExtractor};

fn shipped_model_bytes() -> Vec<u8> {
    std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/../models/fsdd.onnx")).expect("models/fsdd.onnx")
}

/// MFCC windows of the first `n` FSDD test takes, then silence and a loud noise burst.
fn windows(n: usize) -> Vec<f32> {
    let fsdd = fsdd();
    let mut extractor = MfccExtractor::new();
    let mut all = Vec::new();
    for u in test_split(&fsdd).iter().step_by(300 / n).take(n) {
        all.extend_from_slice(&extractor.compute(&load(u))[..]);
    }
    all.extend_from_slice(&extractor.compute(&[])[..]);
    all.extend_from_slice(&extractor.compute(&noise(8000, 0.5, &mut Rng::new(7)))[..]);
    all
}

fn ops_of(model: &Model) -> Vec<String> {
    let window = vec![0.0f32; FEATURE_LEN];
    model.profile(&window, 1).expect("profile").into_iter().map(|n| n.op).collect()
}

fn assert_same_outputs(bytes: &[u8], windows: &[f32]) -> (Vec<String>, Vec<String>) {
    let rewritten = Model::from_bytes(bytes).expect("rewritten plan");
    let plain = Model::from_bytes_without_rewrites(bytes).expect("tract's own plan");
    for (i, window) in windows.chunks_exact(FEATURE_LEN).enumerate() {
        let (a, b) = (rewritten.infer(window).unwrap(), plain.infer(window).unwrap());
        assert_eq!(a.probs, b.probs, "window {i}: probabilities differ");
        assert_eq!(a.embedding, b.embedding, "window {i}: embeddings differ");
    }
    if rewritten.supports_batch() {
        assert_eq!(
            rewritten.infer_batch(windows).unwrap(),
            plain.infer_batch(windows).unwrap(),
            "batched plans differ"
        );
    }
    (ops_of(&rewritten), ops_of(&plain))
}

#[test]
fn the_shipped_model_gives_identical_outputs_with_the_rewrites() {
    let (rewritten, plain) = assert_same_outputs(&shipped_model_bytes(), &windows(60));
    // The rewrites took: the pool and the three paddings are ours, tract's Pad and MaxPool gone,
    // and the crop and per-band normalisation folded into the first padding.
    let count = |ops: &[String], name: &str| ops.iter().filter(|op| op.contains(name)).count();
    assert_eq!(count(&rewritten, "fsdd.MaxPool2x2"), 1, "{rewritten:?}");
    assert_eq!(count(&rewritten, "fsdd.ZeroPad2d"), 2, "conv1 and conv3: {rewritten:?}");
    assert_eq!(count(&rewritten, "fsdd.Patches2d"), 1, "conv2: {rewritten:?}");
    assert!(!rewritten.iter().any(|op| op == "OptMaxPool" || op == "Pad"), "{rewritten:?}");
    assert!(!rewritten.iter().any(|op| op == "Slice" || op.starts_with("OptBinChain")), "{rewritten:?}");
    assert!(plain.iter().any(|op| op == "Slice") && plain.iter().any(|op| op.starts_with("OptBinChain")), "{plain:?}");
    assert!(count(&plain, "OptMaxPool") == 1 && count(&plain, "fsdd.") == 0, "{plain:?}");
}

/// crop rows 3..35 -> per-row centre and scale -> conv (asymmetric padding) -> pool -> relu ->
/// conv with 36-value patches (asymmetric padding) -> relu read twice -> pool over an odd plane
/// -> padded conv: a crop that does not start at row 0, a pool with no ReLU before it, a ReLU
/// folded into patches, a ReLU that must not be fused because a second node reads it, a pool the
/// rewrite must leave to tract (odd height), asymmetric pads.
fn edge_case_model() -> Vec<u8> {
    let mut rng = Rng::new(11);
    let mut weights = |n: usize| (0..n).map(|_| rng.gauss() * 0.3).collect::<Vec<f32>>();
    let conv = |input: &str, w: &str, b: &str, out: &str, pads: &[i64]| {
        node("Conv", &[input, w, b], &[out], vec![ints_attr("kernel_shape", &[3, 3]), ints_attr("pads", pads)])
    };
    let pool = |input: &str, out: &str| {
        node("MaxPool", &[input], &[out], vec![ints_attr("kernel_shape", &[2, 2]), ints_attr("strides", &[2, 2])])
    };
    // Shapes (ONNX pads: top, left, bottom, right): 64x64 -> crop 32x64 -> c1 (pads 1,0,1,2)
    // 32x64 -> p1 16x32 -> relu -> c2 (pads 0,1,1,1) 15x32 -> relu read twice -> p2 over 15
    // rows: left to tract -> 7x16 -> c3 (pads 1) 7x16.
    let features = 3 * 7 * 16;
    let int64s = |name: &str, v: &[i64]| tract_onnx::pb::TensorProto {
        name: name.into(),
        dims: vec![v.len() as i64],
        data_type: 7,
        int64_data: v.to_vec(),
        ..Default::default()
    };
    let graph = tract_onnx::pb::GraphProto {
        name: "edge cases".into(),
        node: vec![
            node("Slice", &["mfcc", "starts", "ends", "axes"], &["crop"], vec![]),
            node("Sub", &["crop", "mean"], &["centred"], vec![]),
            node("Mul", &["centred", "inv_std"], &["normalised"], vec![]),
            conv("normalised", "w1", "b1", "c1", &[1, 0, 1, 2]),
            pool("c1", "p1"),
            node("Relu", &["p1"], &["r1"], vec![]),
            conv("r1", "w2", "b2", "c2", &[0, 1, 1, 1]),
            node("Relu", &["c2"], &["r2"], vec![]),
            node("Add", &["r2", "r2"], &["r2x2"], vec![]),
            pool("r2x2", "p2"),
            conv("p2", "w3", "b3", "c3", &[1, 1, 1, 1]),
            node("Flatten", &["c3"], &["flat"], vec![int_attr("axis", 1)]),
            node("Gemm", &["flat", "w"], &["logits"], vec![int_attr("transB", 1)]),
            node("Softmax", &["logits"], &["probs"], vec![int_attr("axis", 1)]),
            node("Gemm", &["flat", "e"], &["embedding"], vec![int_attr("transB", 1)]),
        ],
        initializer: vec![
            int64s("starts", &[3]),
            int64s("ends", &[35]),
            int64s("axes", &[2]),
            tensor("mean", &[1, 1, 32, 1], weights(32).iter().map(|v| v * 100.0).collect()),
            tensor("inv_std", &[1, 1, 32, 1], weights(32).iter().map(|v| v.abs() * 0.1).collect()),
            tensor("w1", &[4, 1, 3, 3], weights(36)),
            tensor("b1", &[4], weights(4)),
            tensor("w2", &[3, 4, 3, 3], weights(108)),
            tensor("b2", &[3], weights(3)),
            tensor("w3", &[3, 3, 3, 3], weights(81)),
            tensor("b3", &[3], weights(3)),
            tensor("w", &[11, features as i64], weights(11 * features).iter().map(|v| v * 1e-3).collect()),
            tensor("e", &[8, features as i64], weights(8 * features)),
        ],
        input: vec![value_info("mfcc", &["N", "1", "64", "64"])],
        output: vec![value_info("probs", &["N", "11"]), value_info("embedding", &["N", "8"])],
        ..Default::default()
    };
    model_bytes(graph)
}

#[test]
fn edge_cases_give_identical_outputs_and_only_safe_rewrites() {
    let (rewritten, _) = assert_same_outputs(&edge_case_model(), &windows(20));
    let ours: Vec<&String> = rewritten.iter().filter(|op| op.contains("fsdd.")).collect();
    // p1 (no ReLU before it) is ours; p2 (15 rows) is tract's; c2 (36 values per patch) runs
    // as patches and a matrix product; c1 and c3 padding is ours, c1's with the crop and
    // normalisation folded in.
    assert_eq!(rewritten.iter().filter(|op| op.contains("fsdd.MaxPool2x2")).count(), 1, "{ours:?}");
    assert_eq!(rewritten.iter().filter(|op| op.contains("fsdd.ZeroPad2d")).count(), 2, "{ours:?}");
    assert_eq!(rewritten.iter().filter(|op| op.contains("fsdd.Patches2d")).count(), 1, "{ours:?}");
    assert!(rewritten.iter().any(|op| op.contains("OptMaxPool")), "{rewritten:?}");
    assert!(!rewritten.iter().any(|op| op == "Slice" || op.starts_with("OptBinChain")), "{rewritten:?}");
}
