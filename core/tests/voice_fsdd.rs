//! The enrolled voice on voices the model never fitted (issue #22): every FSDD speaker with its
//! leave-one-speaker-out fold model (`models/loso`, made by `trainer loso`), scored exactly as
//! the enrollment benchmark scores them (`fsdd_eval::enrollment`), with the shipped
//! `FusionRule::default()`. The floors sit a little under what `cargo xtask bench-enroll`
//! measures (docs/studies.md); the benchmark has every number.

mod common;

use std::path::PathBuf;

use common::fsdd;
use fsdd_core::FusionRule;
use fsdd_eval::enrollment::{SpeakerData, SpeakerScore, load_speaker, pct, score_speaker};

fn folds() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../models/loso")
}

fn words_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/speech-commands/words")
}

/// Every speaker, with at most `max_words` held-out words each.
fn speakers(max_words: usize) -> Vec<SpeakerData> {
    let fsdd = fsdd();
    let words = words_dir();
    (0..fsdd.speakers().len())
        .map(|i| load_speaker(&fsdd, i, &folds(), Some(&words), max_words).unwrap_or_else(|e| panic!("{e}")))
        .collect()
}

fn mean(scores: &[SpeakerScore], f: impl Fn(&SpeakerScore) -> f64) -> f64 {
    scores.iter().map(f).sum::<f64>() / scores.len() as f64
}

#[test]
fn an_enrolled_voice_beats_the_base_model_the_prototypes_and_dtw() {
    let data = speakers(0);
    let rule = [FusionRule::default()];
    for (k, floor) in [(1u32, 95.0), (3, 97.0)] {
        let scores: Vec<SpeakerScore> = data.iter().map(|d| score_speaker(d, k, &rule)).collect();
        let voice = mean(&scores, |s| pct(s.voice[0], s.digits));
        let base = mean(&scores, |s| pct(s.base, s.digits));
        let hybrid = mean(&scores, |s| pct(s.hybrid, s.digits));
        let dtw = mean(&scores, |s| pct(s.dtw, s.digits));
        eprintln!("K={k}: base {base:.1}% hybrid {hybrid:.1}% DTW {dtw:.1}% voice {voice:.1}%");
        assert!(voice >= floor, "K={k}: voice {voice:.1}% under {floor}%");
        assert!(voice >= hybrid + 3.0, "K={k}: voice {voice:.1}% vs the earlier prototypes {hybrid:.1}%");
        assert!(voice > dtw, "K={k}: voice {voice:.1}% vs DTW {dtw:.1}%");
        // Never under the base model by more than one word (nicolas at K = 1: 159 against 160).
        for s in &scores {
            assert!(
                s.voice[0] + 1 >= s.base,
                "K={k} {}: voice {} vs base {} of {}",
                s.speaker,
                s.voice[0],
                s.base,
                s.digits
            );
        }
    }
}

#[test]
fn digits_the_base_model_rejects_come_back_and_other_words_stay_rejected() {
    let data = speakers(usize::MAX);
    let rule = [FusionRule::default()];
    let scores: Vec<SpeakerScore> = data.iter().map(|d| score_speaker(d, 3, &rule)).collect();
    let rejected: usize = scores.iter().map(|s| s.base_rejected).sum();
    let rescued: usize = scores.iter().map(|s| s.voice_rescued[0]).sum();
    eprintln!("base rejected {rejected} digits; the voice got {rescued} of them right");
    assert!(rejected >= 5, "too few rejected digits to say anything ({rejected})");
    assert!(rescued * 10 >= rejected * 8, "only {rescued} of {rejected} rejected digits came back");
    let words: usize = scores.iter().map(|s| s.words).sum();
    let base = scores.iter().map(|s| s.words_rejected_base).sum::<usize>();
    let voice = scores.iter().map(|s| s.words_rejected_voice[0]).sum::<usize>();
    eprintln!("{words} words of other speakers: base rejects {base}, with a voice enrolled {voice}");
    assert!(words >= 3000, "{words} words");
    assert!(pct(voice, words) >= pct(base, words) - 2.0, "words rejected: base {base}, voice {voice} of {words}");
}
