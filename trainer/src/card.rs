//! The model card `models/fsdd.json`: what the shipped model is, how it was made, and the numbers
//! measured on it.

use std::path::Path;

use anyhow::{Context, Result};
use fsdd_core::labels::ConfusionMatrix;
use serde::Serialize;

use crate::augment::AugmentPolicy;
use crate::data::{Clip, ClipSource};
use crate::export::{EMBEDDING_NAME, INPUT_NAME, OPSET, PROBS_NAME};
use crate::pipeline::{FoldResult, SetScore};
use crate::train::Recipe;

pub const FSDD_COMMIT: &str = "26eb9aaf76e81b692f806f9140c2d2777410d7a1";

#[derive(Debug, Serialize)]
pub struct ModelCard {
    /// "provisional" or "final".
    pub status: String,
    pub note: String,
    pub model_file: String,
    pub contract: Contract,
    pub dataset: DatasetInfo,
    /// Speech Commands in the recipe: what was fit, what validated, what it scored there.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub speech_commands: Option<SpeechCommandsInfo>,
    pub recipe: Recipe,
    pub augmentation: AugmentPolicy,
    pub architecture: String,
    pub parameters: i64,
    pub file_size_bytes: u64,
    pub training: TrainingInfo,
    pub test: TestInfo,
    pub parity_max_abs_diff_tch_vs_tract: f32,
    pub tract_decision_us: DecisionTime,
    /// Filled in by `trainer loso` (same recipe); null until then.
    pub loso: Option<LosoInfo>,
}

#[derive(Debug, Serialize)]
pub struct Contract {
    pub opset: i64,
    pub input: String,
    pub outputs: Vec<String>,
}

impl Contract {
    pub fn new(embedding: i64) -> Self {
        Self {
            opset: OPSET,
            input: format!(
                "{INPUT_NAME}: f32 [N,1,64,64] raw MFCC (fsdd_core::signal::mfcc); per-band normalisation is inside the graph"
            ),
            outputs: vec![
                format!(
                    "{PROBS_NAME}: f32 [N,11] softmax probabilities: digits 0-9, then index 10 = not a digit \
                     (other words, noise); the recogniser emits nothing when index 10 is on top"
                ),
                format!("{EMBEDDING_NAME}: f32 [N,{embedding}] penultimate layer (after ReLU)"),
            ],
        }
    }
}

#[derive(Debug, Serialize)]
pub struct DatasetInfo {
    pub name: &'static str,
    pub source: &'static str,
    pub commit: &'static str,
    pub license: &'static str,
    pub fit: String,
    /// Recordings added to the fit set only (the recipe's `extra_fit_dir`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub extra_fit: Option<String>,
    /// Pieces of the recorded noise corpus in the fit set (the recipe's `noise`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recorded_noise: Option<String>,
    pub validation: String,
    pub test: String,
}

impl DatasetInfo {
    pub fn new(fit: usize, extra_fit: usize, recorded_noise: usize, validation: usize, test: usize) -> Self {
        Self {
            name: "Free Spoken Digit Dataset (FSDD)",
            source: "https://github.com/Jakobovski/free-spoken-digit-dataset",
            commit: FSDD_COMMIT,
            license: "CC BY-SA 4.0",
            fit: format!("takes 10-49 of every speaker and digit ({fit} utterances)"),
            extra_fit: (extra_fit > 0).then(|| {
                format!(
                    "{extra_fit} synthetic utterances (trainer/tools/synth_speakers.py), fit only: \
                     never validated or tested on"
                )
            }),
            recorded_noise: (recorded_noise > 0).then(|| {
                format!(
                    "{recorded_noise} pieces (0.3-1 s) of the recorded noise corpus's training split \
                     (tests/noise/train), as \"not a digit\" and mixed under words; its held-out \
                     split (tests/noise/heldout) is never used in training"
                )
            }),
            validation: format!(
                "takes 5-9 (part of the official TRAIN split; picks the best epoch) ({validation} utterances)"
            ),
            test: format!("takes 0-4, the official TEST split, never trained on ({test} utterances)"),
        }
    }
}

/// Clip counts of the Speech Commands part of a run.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct SpeechCommandsCounts {
    pub fit_digits: usize,
    pub fit_words: usize,
    pub fit_room_noise: usize,
    pub validation_digits: usize,
    pub validation_words: usize,
}

impl SpeechCommandsCounts {
    pub fn new(fit: &[Clip], validation: &[Clip]) -> Self {
        let count = |clips: &[Clip], source| clips.iter().filter(|c| c.source == source).count();
        Self {
            fit_digits: count(fit, ClipSource::RealDigit),
            fit_words: count(fit, ClipSource::Word),
            fit_room_noise: count(fit, ClipSource::RoomNoise),
            validation_digits: count(validation, ClipSource::RealDigit),
            validation_words: count(validation, ClipSource::Word),
        }
    }
}

#[derive(Debug, Serialize)]
pub struct SpeechCommandsInfo {
    pub name: &'static str,
    pub license: &'static str,
    pub attribution: &'static str,
    pub split: &'static str,
    pub counts: SpeechCommandsCounts,
    /// The validation speakers (they pick the best epoch but are never fit).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub validation_speakers: Option<ScoreSummary>,
}

impl SpeechCommandsInfo {
    pub fn new(counts: SpeechCommandsCounts, validation: Option<SetScore>) -> Self {
        Self {
            name: "Speech Commands v0.02 test set (digits/ and words/, 8 kHz, as laid out in ../shared/speech-commands)",
            license: "CC BY 4.0",
            attribution: "Contains audio from the Speech Commands dataset v0.02 by Pete Warden / Google (CC BY 4.0), \
                          https://arxiv.org/abs/1804.03209; selected, resampled to 8 kHz and renamed.",
            split: "by speaker (FNV-1a of the speaker id): 1 in 10 speakers validate (never fit), the rest fall into 6 \
                    cross-validation groups; the shipped model fits every group, fold k of `trainer loso` holds out \
                    group k with FSDD speaker k. Clips are cut to the VAD's speech span; the room around the word \
                    (>= 250 ms) is \"not a digit\" too and real background noise for augmentation",
            counts,
            validation_speakers: validation.as_ref().map(ScoreSummary::from),
        }
    }
}

/// Digits right (rejections count as errors), digits right ignoring "not a digit", and the
/// share of non-digit words rejected.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct ScoreSummary {
    pub digits: u32,
    pub digit_accuracy: f64,
    pub digit_only_accuracy: f64,
    pub words: u32,
    pub words_rejected: Option<f64>,
}

impl From<&SetScore> for ScoreSummary {
    fn from(s: &SetScore) -> Self {
        Self {
            digits: s.confusion.digit_total(),
            digit_accuracy: s.digit_accuracy(),
            digit_only_accuracy: s.digit_only_accuracy(),
            words: s.confusion.total() - s.confusion.digit_total(),
            words_rejected: s.rejection_rate(),
        }
    }
}

#[derive(Debug, Serialize)]
pub struct TrainingInfo {
    pub wall_time_s: f64,
    pub machine: String,
    pub torch_threads: i32,
    pub best_epoch: u32,
    pub best_validation_accuracy: f64,
    pub best_validation_macro_f1: f64,
}

#[derive(Debug, Serialize)]
pub struct TestInfo {
    pub evaluated_with: &'static str,
    pub accuracy: f64,
    pub macro_f1: f64,
    pub errors: u32,
    pub total: u32,
    /// Rows: true label, columns: predicted label (10 = not a digit).
    pub confusion_matrix: [[u32; 11]; 11],
    pub per_digit_recall: Vec<Option<f64>>,
}

impl TestInfo {
    pub fn from_confusion(cm: &ConfusionMatrix) -> Self {
        Self {
            evaluated_with: "tract-onnx on the exported file, batch 1, fsdd_core MFCC",
            accuracy: cm.accuracy(),
            macro_f1: cm.macro_f1(),
            errors: cm.total() - cm.correct(),
            total: cm.total(),
            confusion_matrix: cm.counts,
            per_digit_recall: cm.per_digit_recall().to_vec(),
        }
    }
}

#[derive(Debug, Serialize)]
pub struct DecisionTime {
    pub what: &'static str,
    pub median: f64,
    pub p90: f64,
}

#[derive(Debug, Serialize, serde::Deserialize)]
pub struct LosoInfo {
    pub recipe: serde_json::Value,
    pub augmentation: serde_json::Value,
    pub folds: Vec<FoldResult>,
    pub mean_accuracy: f64,
    /// The held-out FSDD speakers' takes when "not a digit" is ignored (what rejection costs).
    #[serde(default)]
    pub mean_digit_only_accuracy: f64,
    /// Speech Commands speakers of the held-out groups, pooled over the folds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub speech_commands_pooled: Option<SetScore>,
    /// Sum of the six folds' training wall times.
    pub wall_time_s: f64,
    pub evaluated_with: String,
}

/// Writes the card as pretty JSON, keeping an existing card's `loso` section when it was
/// measured with the same recipe (LOSO evaluates the recipe, not this particular file).
pub fn write_card(card: &ModelCard, path: &Path) -> Result<()> {
    let mut value = serde_json::to_value(card)?;
    if card.loso.is_none()
        && let Some(previous) = read_card(path)
        && let Some(loso) = previous.get("loso").filter(|l| !l.is_null())
        && loso.get("recipe") == Some(&serde_json::to_value(&card.recipe)?)
        && loso.get("augmentation") == Some(&serde_json::to_value(&card.augmentation)?)
    {
        value["loso"] = loso.clone();
    }
    write_json(&value, path)
}

pub fn read_card(path: &Path) -> Option<serde_json::Value> {
    serde_json::from_str(&std::fs::read_to_string(path).ok()?).ok()
}

pub fn write_json(value: &serde_json::Value, path: &Path) -> Result<()> {
    let text = serde_json::to_string_pretty(value)? + "\n";
    std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))
}

/// Puts LOSO results into an existing card (if its recipe and augmentation match) and returns whether it did.
pub fn attach_loso(path: &Path, loso: &LosoInfo) -> Result<bool> {
    let Some(mut card) = read_card(path) else {
        return Ok(false);
    };
    if card.get("recipe") != Some(&loso.recipe) || card.get("augmentation") != Some(&loso.augmentation) {
        return Ok(false);
    }
    card["loso"] = serde_json::to_value(loso)?;
    write_json(&card, path)?;
    Ok(true)
}
