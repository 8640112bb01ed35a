//! End-to-end steps shared by the CLI and the tests: train -> export -> reload with tract ->
//! parity -> evaluate; LOSO; decision timing.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result, ensure};
use fsdd_core::inference::model::{N_OUTPUTS, NOT_A_DIGIT};
use fsdd_core::labels::ConfusionMatrix;
use fsdd_core::signal::mfcc::{FEATURE_LEN, MfccExtractor};
use fsdd_core::streaming::config::RecognizerConfig;
use fsdd_core::streaming::early_exit::{DEFAULT_REJECT_THRESHOLD, classify};
use fsdd_core::voice::prototypes::{PrototypeSet, ScoringMode};

use crate::augment::AugmentPolicy;
use crate::data::Clip;
use crate::export::write_onnx;
use crate::model::{mfcc_batch, parameter_count};
use crate::tract_model::{TractModel, argmax};
use crate::train::{Batchable, BestEpoch, Recipe, RunOptions, train};

/// Largest tolerated |tch - tract| on any output value.
pub const PARITY_TOLERANCE: f32 = 1e-4;

/// What one train -> export -> check run produced.
pub struct TrainReport {
    pub onnx: PathBuf,
    pub parameters: i64,
    pub file_size_bytes: u64,
    pub best: BestEpoch,
    pub wall_time_s: f64,
    pub parity_max_abs_diff: f32,
    pub test: ConfusionMatrix,
}

/// Max |difference| between tch (eval mode) and tract on the exported file, over both outputs.
pub fn parity(trained_net: &crate::model::DigitNet, model: &TractModel, features: &[f32]) -> Result<f32> {
    let (probs, embedding) = trained_net.predict(&mfcc_batch(features));
    let probs: Vec<Vec<f32>> = Vec::try_from(&probs).context("probs to Vec")?;
    let embedding: Vec<Vec<f32>> = Vec::try_from(&embedding).context("embedding to Vec")?;
    let mut max_diff = 0.0f32;
    for (i, window) in features.chunks_exact(FEATURE_LEN).enumerate() {
        let out = model.run(window)?;
        ensure!(out.embedding.len() == embedding[i].len(), "embedding size differs between tch and tract");
        for (a, b) in out.probs.iter().zip(&probs[i]).chain(out.embedding.iter().zip(&embedding[i])) {
            max_diff = max_diff.max((a - b).abs());
        }
    }
    Ok(max_diff)
}

/// Trains, exports to `onnx`, reloads the file with tract, checks parity against tch on `test`
/// windows (failing the run beyond [`PARITY_TOLERANCE`]) and evaluates `test` through tract.
#[expect(clippy::too_many_arguments, reason = "each is one part of a run that its callers set up differently")]
pub fn train_export_check(
    recipe: &Recipe,
    policy: &AugmentPolicy,
    fit: &[Clip],
    validation: &[Clip],
    test: &[Clip],
    options: &RunOptions,
    onnx: &Path,
    doc: &str,
) -> Result<TrainReport> {
    let trained = train(recipe, policy, fit, validation, options)?;
    let file_size_bytes = write_onnx(&trained.net, doc, onnx)?;
    let model = TractModel::load(onnx)?;
    let test_windows = Batchable::clean(test);
    let parity_max_abs_diff = parity(&trained.net, &model, &test_windows.features)?;
    ensure!(
        parity_max_abs_diff <= PARITY_TOLERANCE,
        "tract output of {} differs from tch by {parity_max_abs_diff:e} (> {PARITY_TOLERANCE:e}): export is wrong",
        onnx.display()
    );
    let test = model.evaluate(&test_windows.features, &test_windows.labels)?;
    Ok(TrainReport {
        onnx: onnx.to_owned(),
        parameters: parameter_count(&trained.vs),
        file_size_bytes,
        best: trained.best,
        wall_time_s: trained.wall_time.as_secs_f64(),
        parity_max_abs_diff,
        test,
    })
}

/// Median and 90th percentile of one decision (MFCC of an 8192-sample window + tract forward
/// pass, batch 1), in microseconds, over `rounds` passes through `waves`.
pub fn decision_time_us(model: &TractModel, waves: &[&[f32]], rounds: usize) -> Result<(f64, f64)> {
    let mut extractor = MfccExtractor::new();
    let mut mfcc = vec![0.0f32; FEATURE_LEN];
    // Warm-up: first runs pay for lazy allocation inside tract.
    for wave in waves.iter().take(10) {
        extractor.compute_into(wave, &mut mfcc);
        model.run(&mfcc)?;
    }
    let mut times = Vec::with_capacity(waves.len() * rounds);
    for _ in 0..rounds {
        for wave in waves {
            let start = Instant::now();
            extractor.compute_into(wave, &mut mfcc);
            std::hint::black_box(model.run(&mfcc)?);
            times.push(start.elapsed().as_secs_f64() * 1e6);
        }
    }
    times.sort_by(f64::total_cmp);
    ensure!(!times.is_empty(), "no waves to time");
    Ok((times[times.len() / 2], times[times.len() * 9 / 10]))
}

/// Enrolled takes per digit in [`enrolled_accuracy`]: what the dashboard enrolls by default.
pub const ENROLL_TAKES: u32 = 3;

/// How a held-out speaker fares after enrolling a few takes of their own voice (the product's
/// remedy for a voice unlike the training speakers).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct EnrolledResult {
    /// Takes 50-N..=49 of every digit build the prototypes; the rest are scored.
    pub takes_enrolled_per_digit: u32,
    pub scored_utterances: u32,
    /// On the same scored utterances: the model alone, prototypes alone, and the blend the
    /// product uses in hybrid mode (the recogniser's default weight).
    pub base_accuracy: f64,
    pub proto_accuracy: f64,
    pub hybrid_accuracy: f64,
}

/// Enrolls [`ENROLL_TAKES`] takes per digit of `held_out` (one speaker's clips) as prototypes
/// (the core's [`PrototypeSet`], as `fsdd-tui enroll` does) and scores the other takes whole.
pub fn enrolled_accuracy(model: &TractModel, held_out: &[Clip]) -> Result<EnrolledResult> {
    let first_enrolled = 50 - ENROLL_TAKES;
    let (enroll, scored): (Vec<&Clip>, Vec<&Clip>) = held_out.iter().partition(|c| c.take >= first_enrolled);
    ensure!(
        !enroll.is_empty() && !scored.is_empty(),
        "held-out speaker has no takes >= {first_enrolled} or none below"
    );
    let mut extractor = MfccExtractor::new();
    let mut mfcc = vec![0.0f32; FEATURE_LEN];
    let mut run = |clip: &Clip| {
        extractor.compute_into(&clip.samples, &mut mfcc);
        model.run(&mfcc)
    };
    let mut prototypes: Option<PrototypeSet> = None;
    for clip in &enroll {
        let out = run(clip)?;
        prototypes
            .get_or_insert_with(|| PrototypeSet::new(out.embedding.len()))
            .add_example(clip.label, &out.embedding)?;
    }
    let prototypes = prototypes.expect("enroll is not empty");
    let blend_weight = RecognizerConfig::default().blend_weight;
    let (mut base, mut proto, mut hybrid) = (0u32, 0u32, 0u32);
    for clip in &scored {
        let out = run(clip)?;
        let probs: [f32; N_OUTPUTS] = out.probs[..].try_into()?;
        let pick = |p: [f32; N_OUTPUTS]| argmax(&p) as u8 == clip.label;
        base += pick(probs) as u32;
        proto += pick(prototypes.blend(&probs, &out.embedding, ScoringMode::Proto, 1.0)) as u32;
        hybrid += pick(prototypes.blend(&probs, &out.embedding, ScoringMode::Hybrid, blend_weight)) as u32;
    }
    let n = scored.len() as f64;
    Ok(EnrolledResult {
        takes_enrolled_per_digit: ENROLL_TAKES,
        scored_utterances: scored.len() as u32,
        base_accuracy: base as f64 / n,
        proto_accuracy: proto as f64 / n,
        hybrid_accuracy: hybrid as f64 / n,
    })
}

/// A set of clips scored through tract: every output counts (a rejected digit is wrong, a
/// rejected word right), and what a digits-only decision would have got.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct SetScore {
    pub confusion: ConfusionMatrix,
    /// Digit clips whose likeliest digit (ignoring "not a digit") is right: the accuracy the
    /// same model would have without rejection, so the gap is what rejection costs.
    pub digit_only_correct: u32,
}

impl SetScore {
    /// Digits heard right, as the product decides (rejections count as errors).
    pub fn digit_accuracy(&self) -> f64 {
        let cm = &self.confusion;
        let right: u32 = (0..fsdd_core::inference::model::N_DIGITS).map(|d| cm.counts[d][d]).sum();
        right as f64 / cm.digit_total().max(1) as f64
    }

    /// Digits heard right when "not a digit" is ignored.
    pub fn digit_only_accuracy(&self) -> f64 {
        self.digit_only_correct as f64 / self.confusion.digit_total().max(1) as f64
    }

    /// Share of non-digit clips rejected.
    pub fn rejection_rate(&self) -> Option<f64> {
        self.confusion.recall(NOT_A_DIGIT)
    }

    pub fn merge(&mut self, other: &SetScore) {
        self.confusion.merge(&other.confusion);
        self.digit_only_correct += other.digit_only_correct;
    }
}

/// Scores whole clips (MFCC of the clip as cut, batch 1) with the exported model, deciding
/// "not a digit" as the recogniser does (`fsdd_core::streaming::early_exit::classify` at the default
/// rejection bar).
pub fn score_clips(model: &TractModel, clips: &[Clip]) -> Result<SetScore> {
    let mut extractor = MfccExtractor::new();
    let mut mfcc = vec![0.0f32; FEATURE_LEN];
    let mut score = SetScore::default();
    for clip in clips {
        extractor.compute_into(&clip.samples, &mut mfcc);
        let out = model.run(&mfcc)?;
        let probs: [f32; N_OUTPUTS] = out.probs[..].try_into()?;
        let (label, _) = classify(&probs, DEFAULT_REJECT_THRESHOLD);
        score.confusion.add(clip.label, label);
        if (clip.label as usize) < NOT_A_DIGIT {
            score.digit_only_correct += (argmax(&out.probs[..NOT_A_DIGIT]) == clip.label as usize) as u32;
        }
    }
    Ok(score)
}

/// One cross-validation fold's result: a held-out FSDD speaker (leave-one-speaker-out) and,
/// with Speech Commands in the recipe, a held-out sixth of its speakers.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct FoldResult {
    pub held_out: String,
    pub accuracy: f64,
    pub macro_f1: f64,
    pub test_utterances: u32,
    /// The held-out FSDD speaker's takes when "not a digit" is ignored.
    #[serde(default)]
    pub digit_only_accuracy: f64,
    /// The held-out Speech Commands speakers' digits and words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub speech_commands: Option<SetScore>,
    /// Training wall time of this fold (a fold reused from cache keeps its own).
    #[serde(default)]
    pub training_wall_time_s: f64,
    /// The same fold after few-shot enrollment of the held-out speaker.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enrolled: Option<EnrolledResult>,
}
