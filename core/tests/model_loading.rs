//! Model loading: the contract's shapes are checked and anything else is a clear error.

mod common;

use common::*;
use fsdd_core::signal::mfcc::{FEATURE_LEN, MfccExtractor};
use fsdd_core::{Model, ModelError};

#[test]
fn a_non_onnx_file_is_a_parse_error_naming_the_problem() {
    let dir = std::env::temp_dir().join(format!("fsdd-model-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("not-a-model.onnx");
    std::fs::write(&path, b"RIFF....WAVEfmt this is a wav header, not a model").unwrap();
    let err = Model::from_path(&path).unwrap_err();
    assert!(matches!(err, ModelError::Parse(_)), "{err:?}");
    assert!(err.to_string().contains("not a loadable ONNX model"), "{err}");
    let missing = Model::from_path(&dir.join("missing.onnx")).unwrap_err();
    assert!(matches!(missing, ModelError::Io { .. }) && missing.to_string().contains("missing.onnx"), "{missing}");
    std::fs::remove_dir_all(&dir).unwrap();
    assert!(matches!(Model::from_bytes(&[]), Err(ModelError::Parse(_)) | Err(ModelError::Shape(_))));
}

#[test]
fn wrong_shapes_are_rejected_with_the_offending_shape() {
    // Input 32x32 instead of 64x64.
    let err = Model::from_bytes(&linear_model("N", 32, 10, 8, 1)).unwrap_err();
    assert!(matches!(err, ModelError::Shape(_)), "{err:?}");
    assert!(err.to_string().contains("[N, 1, 64, 64]"), "{err}");
    // 12 classes instead of 11 (or the older 10).
    let err = Model::from_bytes(&linear_model("N", 64, 12, 8, 1)).unwrap_err();
    assert!(err.to_string().contains("expected 11"), "{err}");
    // Embedding wider than the contract allows.
    let err = Model::from_bytes(&linear_model("N", 64, 10, 129, 1)).unwrap_err();
    assert!(err.to_string().contains("embedding width"), "{err}");
}

#[test]
fn a_digits_only_model_loads_and_never_rejects() {
    // The first contract: ten outputs, no "not a digit". It still works, and its
    // not-a-digit probability is 0, so nothing it hears is rejected.
    let model = Model::from_bytes(&linear_model("N", 64, 10, 16, 7)).unwrap();
    assert!(!model.rejects());
    let window = MfccExtractor::new().compute(&(0..4000).map(|n| (n as f32 * 0.05).sin() * 0.2).collect::<Vec<_>>());
    let inf = model.infer(&window[..]).unwrap();
    assert_eq!(inf.probs[fsdd_core::inference::model::NOT_A_DIGIT], 0.0);
    assert!((inf.probs.iter().sum::<f32>() - 1.0).abs() < 1e-4);
}

#[test]
fn a_contract_shaped_graph_loads_and_batches_like_single_passes() {
    for batch in ["N", "1"] {
        let model = Model::from_bytes(&linear_model(batch, 64, 11, 16, 7)).unwrap();
        assert!(model.rejects());
        assert_eq!(model.embedding_dim(), 16);
        assert_eq!(model.supports_batch(), batch == "N");
        let mut ex = MfccExtractor::new();
        let a = ex.compute(&(0..5000).map(|n| (n as f32 * 0.01).sin() * 0.3).collect::<Vec<_>>());
        let b = ex.compute(&(0..3000).map(|n| (n as f32 * 0.2).sin() * 0.1).collect::<Vec<_>>());
        let single_a = model.infer(&a[..]).unwrap();
        assert!((single_a.probs.iter().sum::<f32>() - 1.0).abs() < 1e-4);
        let mut both = a.to_vec();
        both.extend_from_slice(&b[..]);
        let batched = model.infer_batch(&both).unwrap();
        let single_b = model.infer(&b[..]).unwrap();
        for (x, y) in [(&batched[0], &single_a), (&batched[1], &single_b)] {
            for (p, q) in x.probs.iter().zip(&y.probs) {
                assert!((p - q).abs() < 1e-5);
            }
            for (p, q) in x.embedding.iter().zip(&y.embedding) {
                assert!((p - q).abs() < 1e-4);
            }
        }
        let err = model.infer(&a[..FEATURE_LEN - 1]).unwrap_err();
        assert!(matches!(err, ModelError::InputLength { expected: 4096, got: 4095 }));
    }
}

#[test]
fn the_embedded_model_loads_and_separates_digits() {
    // models/fsdd.onnx is committed, so every build embeds it.
    assert!(Model::has_embedded());
    let m = Model::embedded().unwrap();
    assert!(m.embedding_dim() >= 1 && m.embedding_dim() <= 128);
    assert!(m.supports_batch());
    let fsdd = fsdd();
    let mut ex = MfccExtractor::new();
    let u = test_split(&fsdd).into_iter().find(|u| u.digit == 7).unwrap();
    let inf = m.infer(&ex.compute(&load(&u))[..]).unwrap();
    assert!((inf.probs.iter().sum::<f32>() - 1.0).abs() < 1e-3);
    assert_eq!(fsdd_core::streaming::early_exit::top(&inf.probs).0, 7, "{:?}", inf.probs);
}
