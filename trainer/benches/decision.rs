//! One decision of the shipped model: fsdd_core MFCC of an 8192-sample window + tract forward
//! pass at batch 1. Target: median <= 250 us in release (`cargo bench -p trainer`).

use std::path::PathBuf;

use criterion::{Criterion, black_box, criterion_group, criterion_main};
use fsdd_core::signal::mfcc::{FEATURE_LEN, MfccExtractor};
use trainer::tract_model::TractModel;

fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn fsdd_dir() -> PathBuf {
    std::env::var_os("FSDD_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("../shared/fsdd/recordings"))
}

fn decision(c: &mut Criterion) {
    let model_path = workspace_root().join("models/fsdd.onnx");
    let model = TractModel::load(&model_path).expect("models/fsdd.onnx loads");
    let wav = fsdd_dir().join("7_jackson_0.wav");
    let samples = fsdd_core::signal::audio::read_wav(&wav).expect("FSDD recording").samples;
    let mut extractor = MfccExtractor::new();
    let mut mfcc = vec![0.0f32; FEATURE_LEN];
    c.bench_function("decision: mfcc + tract forward (batch 1)", |b| {
        b.iter(|| {
            extractor.compute_into(black_box(&samples), &mut mfcc);
            black_box(model.run(&mfcc).expect("inference"))
        })
    });
    c.bench_function("tract forward only (batch 1)", |b| {
        b.iter(|| black_box(model.run(black_box(&mfcc)).expect("inference")))
    });
}

criterion_group!(benches, decision);
criterion_main!(benches);
