//! Quick timing of an exported model: MFCC alone, tract forward alone (batch 1), medians in us.
//! `cargo run -p trainer --release --example decision_time -- models/fsdd.onnx`

use std::time::Instant;

use fsdd_core::signal::mfcc::{FEATURE_LEN, MfccExtractor};
use trainer::tract_model::TractModel;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() -> anyhow::Result<()> {
    let path = std::env::args().nth(1).unwrap_or_else(|| "models/fsdd.onnx".into());
    let model = TractModel::load(std::path::Path::new(&path))?;
    let wave: Vec<f32> = (0..6000).map(|i| 0.1 * ((i as f32) * 0.05).sin() * ((i as f32) * 0.001).cos()).collect();
    let mut extractor = MfccExtractor::new();
    let mut mfcc = vec![0.0f32; FEATURE_LEN];
    let (mut t_mfcc, mut t_net) = (Vec::new(), Vec::new());
    for _ in 0..2000 {
        let s = Instant::now();
        extractor.compute_into(&wave, &mut mfcc);
        t_mfcc.push(s.elapsed().as_secs_f64() * 1e6);
        let s = Instant::now();
        std::hint::black_box(model.run(&mfcc)?);
        t_net.push(s.elapsed().as_secs_f64() * 1e6);
    }
    println!("{path}: mfcc median {:.1} us, tract forward median {:.1} us", median(t_mfcc), median(t_net));
    Ok(())
}
