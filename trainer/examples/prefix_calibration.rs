//! How an exported model behaves on the growing prefixes that streaming early exit shows it:
//! for every official test utterance, the first `t` ms of the word after a 64 ms pre-roll (as the
//! recognizer's buffer holds it), over digital silence and over a -80 dBFS noise floor (a quiet
//! live input). Prints accuracy, how often the top probability reaches 0.95 (the early-exit
//! threshold) and how often it does so on the WRONG digit: every such case is an early-exit
//! mistake waiting for two consecutive checks.
//!
//! `cargo run -p trainer --release --example prefix_calibration -- models/fsdd.onnx [--data DIR]
//! [--validation]`: `--validation` uses takes 5-9 instead of the test takes, for choosing between
//! recipes without looking at the test split.

use anyhow::Result;
use fsdd_core::signal::mfcc::{FEATURE_LEN, MfccExtractor, WINDOW_SAMPLES};
use fsdd_eval::corpus::Split;
use rand::{Rng, SeedableRng};
use trainer::data::{load_clips, open_dataset, partition};
use trainer::tract_model::TractModel;

const PRE_ROLL: usize = 512;
const CONFIDENT: f32 = 0.95;

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let path = args.get(1).cloned().unwrap_or_else(|| "models/fsdd.onnx".into());
    let data = args.iter().position(|a| a == "--data").and_then(|i| args.get(i + 1)).map(std::path::PathBuf::from);
    let model = TractModel::load(std::path::Path::new(&path))?;
    let dataset = open_dataset(data.as_deref())?;
    let test = if args.iter().any(|a| a == "--validation") {
        load_clips(&partition(&dataset.split(Split::Train)).validation)?
    } else {
        load_clips(&dataset.split(Split::Test))?
    };
    let mut extractor = MfccExtractor::new();
    let mut mfcc = vec![0.0f32; FEATURE_LEN];
    let mut rng = rand::rngs::StdRng::seed_from_u64(1);
    println!("{path}: {} utterances", test.len());
    for floor in [0.0f32, 1e-4] {
        println!(
            "floor {}: prefix_ms accuracy confident confident_wrong",
            if floor == 0.0 { "digital silence" } else { "-80 dBFS noise" }
        );
        let mut total_wrong = 0;
        for ms in [64usize, 96, 128, 160, 192, 256, 320, 400, 1024] {
            let (mut right, mut confident, mut confident_wrong) = (0, 0, 0);
            for clip in &test {
                let keep = (ms * 8).min(clip.samples.len());
                let mut window = vec![0.0f32; (PRE_ROLL + keep).min(WINDOW_SAMPLES)];
                let n = window.len() - PRE_ROLL;
                window[PRE_ROLL..].copy_from_slice(&clip.samples[..n]);
                for w in &mut window {
                    *w += floor * rng.gen_range(-1.0f32..1.0);
                }
                extractor.compute_into(&window, &mut mfcc);
                let out = model.run(&mfcc)?;
                let digit = out.predicted();
                let p = out.probs[digit as usize];
                right += (digit == clip.label) as u32;
                confident += (p >= CONFIDENT) as u32;
                confident_wrong += (p >= CONFIDENT && digit != clip.label) as u32;
            }
            if ms < 1024 {
                total_wrong += confident_wrong;
            }
            println!(
                "  {ms:>5} {:>7.2}% {:>7.2}% {confident_wrong:>4}",
                100.0 * right as f64 / test.len() as f64,
                100.0 * confident as f64 / test.len() as f64
            );
        }
        println!("  confident-wrong on prefixes up to 400 ms: {total_wrong}");
    }
    Ok(())
}
