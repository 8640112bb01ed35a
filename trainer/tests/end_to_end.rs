//! Real data, real training: a tiny model trained end to end on an FSDD subset, exported,
//! reloaded with tract, checked for parity and accuracy; and the shipped model checked against
//! its card.

use std::path::{Path, PathBuf};
use std::process::Command;

use fsdd_eval::corpus::{Fsdd, Split};
use prost::Message;
use trainer::augment::AugmentPolicy;
use trainer::data::{load_clips, partition};
use trainer::export::write_onnx;
use trainer::export::{EMBEDDING_NAME, INPUT_NAME, PROBS_NAME};
use trainer::model::{DigitNet, ModelSpec};
use trainer::optim::OptimizerKind;
use trainer::pipeline::{ENROLL_TAKES, PARITY_TOLERANCE, enrolled_accuracy, parity, train_export_check};
use trainer::tract_model::TractModel;
use trainer::train::{Batchable, Recipe, RunOptions, train};

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn fsdd() -> Fsdd {
    let dir = std::env::var_os("FSDD_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("../shared/fsdd/recordings"));
    Fsdd::open(&dir).expect("FSDD recordings (set FSDD_DIR)")
}

fn scratch_dir(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A deliberately small network (few channels, 32 coefficients) so the dev-profile test stays
/// quick on a shared 2-core machine.
fn tiny_spec() -> ModelSpec {
    ModelSpec {
        conv1: 8,
        conv2: 16,
        conv3: 16,
        fc1: 32,
        embedding: 32,
        dropout: 0.2,
        coefficients: 32,
        cepstral_mean_norm: false,
    }
}

fn tiny_recipe(epochs: u32) -> Recipe {
    Recipe {
        seed: 3,
        epochs,
        batch_size: 64,
        augment: 1,
        optimizer: OptimizerKind::Adam,
        lr: 3e-3,
        cosine: false,
        spec: tiny_spec(),
        extra_fit_dir: None,
        // As the shipped recipe: the averaged weights are validated, kept, resumed and exported.
        ema_decay: Some(0.99),
        speech_commands: None,
        noise: None,
    }
}

#[test]
fn tiny_model_trains_exports_and_matches_tract() {
    tch::set_num_threads(2);
    let data = fsdd();
    let train_utts = data.split(Split::Train);
    let parts = partition(&train_utts);
    // Subset: takes 10-24 to fit (900 utterances), the usual validation takes 5-9.
    let fit_utts: Vec<_> = parts.fit.iter().copied().filter(|u| u.take <= 24).collect();
    let fit = load_clips(&fit_utts).unwrap();
    let validation = load_clips(&parts.validation).unwrap();
    let test = load_clips(&data.split(Split::Test)).unwrap();
    assert!(test.iter().all(|c| c.take <= 4) && fit.iter().chain(&validation).all(|c| c.take >= 5));

    let dir = scratch_dir("tiny");
    let options =
        RunOptions { checkpoint_dir: dir.join("ckpt"), resume: false, print_confusion: false, label: "[tiny] ".into() };
    let onnx = dir.join("tiny.onnx");
    let report = train_export_check(
        &tiny_recipe(4),
        &AugmentPolicy::default(),
        &fit,
        &validation,
        &test,
        &options,
        &onnx,
        "test",
    )
    .unwrap();
    println!("tiny model test split:\n{}", report.test);
    assert!(report.parity_max_abs_diff <= PARITY_TOLERANCE, "parity {}", report.parity_max_abs_diff);
    assert!(report.test.accuracy() >= 0.6, "test accuracy {} (chance is 0.1)", report.test.accuracy());
    assert!(report.parameters <= 200_000);

    // The file honours the model contract: input `mfcc` [N,1,64,64], outputs probs then embedding.
    let proto = tract_onnx::pb::ModelProto::decode(std::fs::read(&onnx).unwrap().as_slice()).unwrap();
    let graph = proto.graph.unwrap();
    assert_eq!(graph.input.iter().map(|i| i.name.as_str()).collect::<Vec<_>>(), [INPUT_NAME]);
    assert_eq!(graph.output.iter().map(|o| o.name.as_str()).collect::<Vec<_>>(), [PROBS_NAME, EMBEDDING_NAME]);
    assert_eq!(proto.opset_import[0].version, 13);
    let model = TractModel::load(&onnx).unwrap();
    let out = model.run(&Batchable::clean(&test[..1]).features).unwrap();
    assert!((out.probs.iter().sum::<f32>() - 1.0).abs() < 1e-4);
    assert_eq!(out.embedding.len() as i64, tiny_spec().embedding);

    // Resume: continuing the same run for one more epoch starts after epoch 4.
    let resumed =
        train(&tiny_recipe(5), &AugmentPolicy::default(), &fit, &validation, &RunOptions { resume: true, ..options })
            .unwrap();
    let state: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("ckpt/state.json")).unwrap()).unwrap();
    assert_eq!(state["completed_epochs"], 5);
    assert!(resumed.best.epoch >= 1 && resumed.best.epoch <= 5);
}

/// The optional cepstral-mean-normalised input channel is written to ONNX by hand (masks, a
/// max, masked sums); tract must compute exactly what tch does on real FSDD windows, including
/// prefixes (mostly padding) and a window of pure silence.
#[test]
fn cepstral_mean_channel_exports_with_parity() {
    let data = fsdd();
    let clips = load_clips(&data.split(Split::Test)[..40]).unwrap();
    let mut features = Batchable::clean(&clips).features;
    let mut extractor = fsdd_core::signal::mfcc::MfccExtractor::new();
    let mut window = vec![0.0f32; fsdd_core::signal::mfcc::FEATURE_LEN];
    for wave in [&clips[0].samples[..900], &clips[1].samples[..300], &[][..]] {
        extractor.compute_into(wave, &mut window);
        features.extend_from_slice(&window);
    }
    let vs = tch::nn::VarStore::new(tch::Device::Cpu);
    let spec = ModelSpec { cepstral_mean_norm: true, ..tiny_spec() };
    let mut net = DigitNet::new(&vs.root(), spec);
    net.fit_normalisation(&features);
    let onnx = scratch_dir("cmn").join("cmn.onnx");
    write_onnx(&net, "test", &onnx).unwrap();
    let model = TractModel::load(&onnx).unwrap();
    let diff = parity(&net, &model, &features).unwrap();
    assert!(diff <= PARITY_TOLERANCE, "tch vs tract {diff:e}");
}

#[test]
fn shipped_model_matches_its_card() {
    let root = workspace_root();
    let onnx = root.join("models/fsdd.onnx");
    let card: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(root.join("models/fsdd.json")).unwrap()).unwrap();
    let size = std::fs::metadata(&onnx).unwrap().len();
    assert!(size <= 1 << 20, "{size} bytes");
    assert_eq!(card["file_size_bytes"], size);
    assert!(card["parameters"].as_i64().unwrap() <= 200_000);

    let data = fsdd();
    let test = load_clips(&data.split(Split::Test)).unwrap();
    let windows = Batchable::clean(&test);
    let cm = TractModel::load(&onnx).unwrap().evaluate(&windows.features, &windows.labels).unwrap();
    assert_eq!(cm.total(), 300);
    assert_eq!(card["test"]["errors"], cm.total() - cm.correct(), "card disagrees with the file");
    assert_eq!(serde_json::to_value(cm.counts).unwrap(), card["test"]["confusion_matrix"]);
    assert!((card["test"]["macro_f1"].as_f64().unwrap() - cm.macro_f1()).abs() < 1e-9);
}

/// LOSO's enrollment measurement on the shipped model and one real speaker: the enrolled takes
/// are left out of scoring, and prototypes built from five takes per digit recognise that
/// speaker's other takes about as well as the model that was trained on them.
#[test]
fn enrollment_scores_the_other_takes_with_prototypes() {
    let data = fsdd();
    let george: Vec<_> = data.utterances.iter().filter(|u| u.speaker == "george").collect();
    let clips = load_clips(&george).unwrap();
    let model = TractModel::load(&workspace_root().join("models/fsdd.onnx")).unwrap();
    let result = enrolled_accuracy(&model, &clips).unwrap();
    assert_eq!(result.takes_enrolled_per_digit, ENROLL_TAKES);
    assert_eq!(result.scored_utterances, 500 - 10 * ENROLL_TAKES);
    for (what, accuracy) in
        [("model", result.base_accuracy), ("prototypes", result.proto_accuracy), ("hybrid", result.hybrid_accuracy)]
    {
        assert!(accuracy >= 0.9, "{what} {accuracy}");
    }
}

#[test]
fn missing_data_is_a_clear_error_not_a_panic() {
    let out = Command::new(env!("CARGO_BIN_EXE_trainer"))
        .args(["eval", "--data", "/nonexistent/fsdd/recordings", "--model", "models/fsdd.onnx"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("free-spoken-digit-dataset") && !stderr.contains("panicked"), "{stderr}");
}
