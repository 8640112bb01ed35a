//! How sure the model must be that a sound is not a digit before the recogniser rejects it:
//! digit accuracy and word rejection of Speech Commands speakers for a grid of thresholds.
//!
//! `cargo run -p trainer --release --example rejection_sweep -- MODEL.onnx SPEECH_COMMANDS_DIR GROUP`
//! where GROUP is `validation` (never fit by any model: choose the threshold here) or a fold
//! number 0-5 (the speakers that fold's cross-validation model held out). With `FSDD_DIR
//! SPEAKER` after it, also that FSDD speaker's 500 takes (the fold's held-out FSDD voice).

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use fsdd_core::inference::model::{N_DIGITS, N_OUTPUTS, NOT_A_DIGIT};
use fsdd_core::signal::mfcc::{FEATURE_LEN, MfccExtractor};
use fsdd_core::streaming::early_exit::classify;
use trainer::speech_commands::{self as sc, SpeakerGroup, SpeechCommands};
use trainer::tract_model::{TractModel, argmax};

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (model, dir, group, fsdd) = match args.as_slice() {
        [m, d, g] => (m, d, g, None),
        [m, d, g, f, s] => (m, d, g, Some((f, s))),
        _ => bail!("usage: rejection_sweep MODEL.onnx SPEECH_COMMANDS_DIR validation|0..5 [FSDD_DIR SPEAKER]"),
    };
    let group = match group.as_str() {
        "validation" => SpeakerGroup::Validation,
        k => SpeakerGroup::Fold(k.parse().context("GROUP: validation or a fold number")?),
    };
    let model = TractModel::load(&PathBuf::from(model))?;
    let data = SpeechCommands::open(&PathBuf::from(dir))?;
    let loaded = sc::load(&data.select(|g| g == group))?;
    let mut extractor = MfccExtractor::new();
    let mut mfcc = vec![0.0f32; FEATURE_LEN];
    let mut scored = Vec::new();
    for l in &loaded {
        extractor.compute_into(&l.word.samples, &mut mfcc);
        scored.push((l.word.label, model.run(&mfcc)?.probs));
    }
    let mut fsdd_scored = Vec::new();
    if let Some((fsdd_dir, speaker)) = fsdd {
        let fsdd = fsdd_eval::corpus::Fsdd::open(fsdd_dir)?;
        for u in fsdd.utterances.iter().filter(|u| &u.speaker == speaker) {
            extractor.compute_into(&fsdd_core::signal::audio::read_wav(&u.path)?.samples, &mut mfcc);
            fsdd_scored.push((u.digit, model.run(&mfcc)?.probs));
        }
    }
    let digits = scored.iter().filter(|(l, _)| (*l as usize) < NOT_A_DIGIT).count();
    let words = scored.len() - digits;
    println!("{group:?}: {digits} digits, {words} words; FSDD: {} takes", fsdd_scored.len());
    println!("threshold | digits right | digits rejected | words rejected | FSDD right");
    // The recogniser's own rule (`classify`) at each bar; 0 = "not a digit" on top is enough.
    let rejected = |probs: &Vec<f32>, threshold: f32| {
        let probs: [f32; N_OUTPUTS] = probs[..].try_into().expect("11 outputs");
        classify(&probs, threshold).0 as usize == NOT_A_DIGIT
    };
    for threshold in [0.0f32, 0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95, 0.98, 1.01] {
        let (mut right, mut rejected_digits, mut rejected_words) = (0, 0, 0);
        for (label, probs) in &scored {
            let reject = rejected(probs, threshold);
            if (*label as usize) < NOT_A_DIGIT {
                rejected_digits += reject as u32;
                right += (!reject && argmax(&probs[..N_DIGITS]) == *label as usize) as u32;
            } else {
                rejected_words += reject as u32;
            }
        }
        let fsdd_right = fsdd_scored
            .iter()
            .filter(|(label, probs)| !rejected(probs, threshold) && argmax(&probs[..N_DIGITS]) == *label as usize)
            .count();
        println!(
            "{:>9} | {:>11.1}% | {:>14.1}% | {:>13.1}% | {:>9.1}%",
            if threshold == 0.0 { "top".to_owned() } else { format!("{threshold:.2}") },
            100.0 * right as f64 / digits.max(1) as f64,
            100.0 * rejected_digits as f64 / digits.max(1) as f64,
            100.0 * rejected_words as f64 / words.max(1) as f64,
            100.0 * fsdd_right as f64 / fsdd_scored.len().max(1) as f64
        );
    }
    Ok(())
}
