//! The training loop: augmented epochs, validation every epoch, best checkpoint by validation,
//! resumable from the last epoch's checkpoint.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow};
use fsdd_core::labels::ConfusionMatrix;
use fsdd_core::signal::mfcc::FEATURE_LEN;
use indicatif::{ProgressBar, ProgressStyle};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};
use tch::{Device, Kind, Tensor, nn};

use crate::augment::AugmentPolicy;
use crate::data::{Clip, ClipSource, mfcc_features};
use crate::model::{DigitNet, ModelSpec, mfcc_batch};
use crate::optim::{Optimizer, OptimizerKind};
use crate::spectral::LogMelAugmenter;

/// Everything that defines a training run (the "recipe"); recorded in the model card.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Recipe {
    pub seed: u64,
    pub epochs: u32,
    pub batch_size: usize,
    /// Augmented copies of every training utterance per epoch, on top of the clean one.
    pub augment: u32,
    pub optimizer: OptimizerKind,
    pub lr: f64,
    /// Cosine decay of the learning rate to 5% over the run (else constant).
    pub cosine: bool,
    pub spec: ModelSpec,
    /// Extra recordings (`{digit}_{speaker}_{take}.wav`, 8 kHz) added to the fit set, all takes;
    /// never to validation or test. The shipped recipe uses `target/synth-speakers`
    /// (`cargo xtask synth`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extra_fit_dir: Option<PathBuf>,
    /// Exponential moving average of the weights (decay per step): validation, the best
    /// checkpoint and the export use the averaged weights, which sit in a flatter minimum than
    /// any single step's and so move less when the speaker or microphone changes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ema_decay: Option<f64>,
    /// Speech Commands in the fit set: real voices, words that are not digits, room noise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub speech_commands: Option<SpeechCommandsRecipe>,
    /// Recorded noise (the corpus's training split, never its held-out one) in the fit set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub noise: Option<NoiseRecipe>,
}

/// The recorded noise corpus in training: cut into pieces of 0.3-1 s that are "not a digit"
/// (as the VAD would cut a noise burst), and half of the pool mixed under words.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct NoiseRecipe {
    pub dir: PathBuf,
    /// Expected appearances per epoch of each piece.
    pub weight: f64,
}

/// How much of Speech Commands an epoch sees: each weight is the expected number of times a
/// clip of that kind appears per epoch (each time clean plus the recipe's augmented copies).
/// FSDD and the synthetic speakers appear once each.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SpeechCommandsRecipe {
    pub dir: PathBuf,
    /// Real strangers' digits are few (about two per speaker) and the voices the product
    /// meets: weighted up.
    pub digit_weight: f64,
    /// Non-digit words are many: a share per epoch keeps "not a digit" at about one and a half
    /// digit classes' worth, so it does not swamp the digits.
    pub word_weight: f64,
    /// Stretches of room noise around the words ("not a digit" too).
    pub noise_weight: f64,
    /// Share of the fit speakers whose digits are fit (chosen by a hash of the speaker id;
    /// their words and rooms stay): a learning-curve study of how held-out strangers' digits
    /// grow with real digits. 1 (all) is the shipped recipe and is not written to the card.
    #[serde(default = "all_digits", skip_serializing_if = "is_all_digits")]
    pub digit_fraction: f64,
}

fn all_digits() -> f64 {
    1.0
}

fn is_all_digits(f: &f64) -> bool {
    *f >= 1.0
}

impl SpeechCommandsRecipe {
    /// Whether `speaker`'s digits are fit under [`SpeechCommandsRecipe::digit_fraction`]
    /// (deterministic: the speaker id's hash, mapped to [0, 1)).
    pub fn fits_digits_of(&self, speaker: &str) -> bool {
        // The top 53 bits: independent of the low digits `speaker_group` takes the fold from.
        let h = fsdd_eval::corpus::speaker_hash(speaker);
        ((h >> 11) as f64 / (1u64 << 53) as f64) < self.digit_fraction
    }
}

impl Recipe {
    /// Expected appearances per epoch of a clip from `source`.
    pub fn epoch_weight(&self, source: ClipSource) -> f64 {
        match (&self.speech_commands, source) {
            (Some(sc), ClipSource::RealDigit) => sc.digit_weight,
            (Some(sc), ClipSource::Word) => sc.word_weight,
            (Some(sc), ClipSource::RoomNoise) => sc.noise_weight,
            (_, ClipSource::RecordedNoise) => self.noise.as_ref().map_or(1.0, |n| n.weight),
            _ => 1.0,
        }
    }
}

/// How a run reports and where it keeps checkpoints.
#[derive(Debug, Clone)]
pub struct RunOptions {
    pub checkpoint_dir: PathBuf,
    pub resume: bool,
    /// Print the validation confusion matrix every epoch.
    pub print_confusion: bool,
    /// Prefix of every log line (e.g. the LOSO fold).
    pub label: String,
}

/// Progress saved after every epoch for `--resume`.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct ResumeState {
    recipe: Recipe,
    completed_epochs: u32,
    /// Weight-averaging steps taken (its decay ramps up with them).
    #[serde(default)]
    ema_steps: u64,
    best: Option<BestEpoch>,
    elapsed_s: f64,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq)]
pub struct BestEpoch {
    pub epoch: u32,
    pub validation_accuracy: f64,
    pub validation_macro_f1: f64,
    pub validation_loss: f64,
}

impl BestEpoch {
    /// Higher accuracy wins; on a tie (validation often saturates), lower loss.
    fn beats(&self, other: &Option<BestEpoch>) -> bool {
        match other {
            None => true,
            Some(o) => {
                self.validation_accuracy > o.validation_accuracy
                    || (self.validation_accuracy == o.validation_accuracy && self.validation_loss < o.validation_loss)
            }
        }
    }
}

/// A finished run: the network holds the BEST epoch's weights.
pub struct Trained {
    pub vs: nn::VarStore,
    pub net: DigitNet,
    pub best: BestEpoch,
    pub wall_time: Duration,
}

/// Concatenated windows and labels.
pub struct Batchable {
    pub features: Vec<f32>,
    pub labels: Vec<u8>,
}

impl Batchable {
    pub fn clean(clips: &[Clip]) -> Self {
        Self {
            features: mfcc_features(clips.iter().map(|c| c.samples.as_slice())),
            labels: clips.iter().map(|c| c.label).collect(),
        }
    }

    pub fn len(&self) -> usize {
        self.labels.len()
    }

    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }
}

fn epoch_rng(seed: u64, epoch: u32) -> StdRng {
    StdRng::seed_from_u64(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ (epoch as u64 + 1))
}

/// One epoch's shuffled training windows: every clip drawn by its source's epoch weight, each
/// draw clean plus `augment` augmented copies. `rooms` is recorded background noise.
fn epoch_windows(clips: &[Clip], rooms: &[Clip], recipe: &Recipe, policy: &AugmentPolicy, epoch: u32) -> Batchable {
    let mut rng = epoch_rng(recipe.seed, epoch);
    let mut order: Vec<(usize, bool)> = Vec::with_capacity(clips.len() * (1 + recipe.augment as usize));
    for (i, clip) in clips.iter().enumerate() {
        let weight = recipe.epoch_weight(clip.source);
        let whole = weight.floor();
        // Whole weights draw nothing, so FSDD-only recipes shuffle as they always did.
        let draws = whole as usize + (weight > whole && rng.r#gen::<f64>() < weight - whole) as usize;
        for _ in 0..draws {
            order.push((i, false));
            for _ in 0..recipe.augment {
                order.push((i, true));
            }
        }
    }
    order.shuffle(&mut rng);
    let waves: Vec<Vec<f32>> = order
        .iter()
        .map(
            |&(i, augmented)| {
                if augmented { policy.apply(&clips[i], clips, rooms, &mut rng) } else { clips[i].samples.clone() }
            },
        )
        .collect();
    let mut features = mfcc_features(waves.iter().map(Vec::as_slice));
    if LogMelAugmenter::active(policy) {
        let augmenter = LogMelAugmenter::new();
        for (window, &(_, augmented)) in features.chunks_exact_mut(FEATURE_LEN).zip(&order) {
            if augmented {
                augmenter.apply(policy, window, &mut rng);
            }
        }
    }
    Batchable { features, labels: order.iter().map(|&(i, _)| clips[i].label).collect() }
}

fn labels_tensor(labels: &[u8]) -> Tensor {
    Tensor::from_slice(&labels.iter().map(|&l| l as i64).collect::<Vec<i64>>())
}

/// Eval-mode predictions and mean cross-entropy over a set of windows.
pub fn evaluate_tch(net: &DigitNet, data: &Batchable) -> (ConfusionMatrix, f64) {
    let mut cm = ConfusionMatrix::new();
    let mut loss_sum = 0.0;
    tch::no_grad(|| {
        for (features, labels) in data.features.chunks(256 * FEATURE_LEN).zip(data.labels.chunks(256)) {
            let (logits, _) = net.forward(&mfcc_batch(features), false);
            let targets = labels_tensor(labels);
            loss_sum += logits.cross_entropy_for_logits(&targets).double_value(&[]) * labels.len() as f64;
            let predicted: Vec<i64> = Vec::try_from(&logits.argmax(-1, false)).expect("argmax is int64");
            for (&truth, &p) in labels.iter().zip(&predicted) {
                cm.add(truth, p as u8);
            }
        }
    });
    (cm, loss_sum / data.len().max(1) as f64)
}

fn lr_at(recipe: &Recipe, epoch: u32) -> f64 {
    if !recipe.cosine {
        return recipe.lr;
    }
    let t = epoch as f64 / recipe.epochs.max(1) as f64;
    let floor = 0.05;
    recipe.lr * (floor + (1.0 - floor) * 0.5 * (1.0 + (std::f64::consts::PI * t).cos()))
}

fn checkpoint_paths(dir: &Path) -> (PathBuf, PathBuf, PathBuf, PathBuf, PathBuf) {
    (
        dir.join("best.ot"),
        dir.join("last.ot"),
        dir.join("last-ema.ot"),
        dir.join("last-optimizer.ot"),
        dir.join("state.json"),
    )
}

/// The averaged copy of a network's variables (trained weights and batch-norm statistics alike).
struct WeightAverage {
    decay: f64,
    steps: u64,
    /// (averaged, live) pairs; shallow clones of the two var stores' tensors.
    pairs: Vec<(Tensor, Tensor)>,
}

impl WeightAverage {
    fn new(decay: f64, averaged: &nn::VarStore, live: &nn::VarStore) -> Result<Self> {
        let live_vars = live.variables();
        let mut pairs = Vec::new();
        for (name, tensor) in averaged.variables() {
            let source =
                live_vars.get(&name).ok_or_else(|| anyhow!("variable {name} missing from the live network"))?;
            pairs.push((tensor, source.shallow_clone()));
        }
        Ok(Self { decay, steps: 0, pairs })
    }

    /// One step; the decay ramps up over the first steps (as in TensorFlow's
    /// ExponentialMovingAverage with num_updates) so the random initialisation fades fast.
    fn update(&mut self) {
        self.steps += 1;
        let decay = self.decay.min((1 + self.steps) as f64 / (10 + self.steps) as f64);
        tch::no_grad(|| {
            for (averaged, live) in &mut self.pairs {
                let blended = &*averaged * decay + &*live * (1.0 - decay);
                averaged.copy_(&blended);
            }
        });
    }
}

/// Trains on `fit`, validates on `validation` every epoch, and returns the best epoch's model.
pub fn train(
    recipe: &Recipe,
    policy: &AugmentPolicy,
    fit: &[Clip],
    validation: &[Clip],
    options: &RunOptions,
) -> Result<Trained> {
    let started = Instant::now();
    tch::manual_seed(recipe.seed as i64);
    let (best_path, last_path, last_ema_path, optimizer_path, state_path) = checkpoint_paths(&options.checkpoint_dir);
    std::fs::create_dir_all(&options.checkpoint_dir)
        .with_context(|| format!("creating checkpoint directory {}", options.checkpoint_dir.display()))?;

    let mut vs = nn::VarStore::new(Device::Cpu);
    let mut net = DigitNet::new(&vs.root(), recipe.spec);
    let clean_fit = Batchable::clean(fit);
    net.fit_normalisation(&clean_fit.features);
    drop(clean_fit);
    // Noise mixed under words: the rooms around Speech Commands words, and the recorded
    // corpus repeated so it makes up about half of the pool (it is far fewer, longer pieces).
    let mut rooms: Vec<Clip> = fit.iter().filter(|c| c.source == ClipSource::RoomNoise).cloned().collect();
    let recorded: Vec<&Clip> = fit.iter().filter(|c| c.source == ClipSource::RecordedNoise).collect();
    if !recorded.is_empty() {
        let copies = (rooms.len() / recorded.len()).max(1);
        for _ in 0..copies {
            rooms.extend(recorded.iter().map(|c| (*c).clone()));
        }
    }
    let rooms = rooms.as_slice();
    let validation = Batchable::clean(validation);
    let mut optimizer = Optimizer::new(recipe.optimizer, &vs, recipe.lr)?;
    // With weight averaging, `avg_vs`/`avg_net` are what is validated, kept and exported.
    let mut averaged = match recipe.ema_decay {
        Some(decay) => {
            let mut avg_vs = nn::VarStore::new(Device::Cpu);
            let avg_net = DigitNet::new(&avg_vs.root(), recipe.spec);
            avg_vs.copy(&vs).context("copying the network into its average")?;
            let average = WeightAverage::new(decay, &avg_vs, &vs)?;
            Some((avg_vs, avg_net, average))
        }
        None => None,
    };

    let mut first_epoch = 0;
    let mut best: Option<BestEpoch> = None;
    let mut elapsed_before = 0.0;
    if options.resume && state_path.exists() {
        let state: ResumeState = serde_json::from_str(
            &std::fs::read_to_string(&state_path).with_context(|| format!("reading {}", state_path.display()))?,
        )
        .with_context(|| format!("parsing {}", state_path.display()))?;
        // Same recipe, except that a run may be extended with more epochs.
        let same_recipe = Recipe { epochs: recipe.epochs, ..state.recipe.clone() } == *recipe;
        anyhow::ensure!(
            same_recipe,
            "{} was written by a different recipe ({:?}); start without --resume or use another --checkpoint-dir",
            state_path.display(),
            state.recipe
        );
        vs.load(&last_path).with_context(|| format!("loading {}", last_path.display()))?;
        if let Some((avg_vs, _, average)) = &mut averaged {
            avg_vs.load(&last_ema_path).with_context(|| format!("loading {}", last_ema_path.display()))?;
            average.steps = state.ema_steps;
        }
        optimizer.load(&optimizer_path)?;
        first_epoch = state.completed_epochs;
        best = state.best;
        elapsed_before = state.elapsed_s;
        println!("{}resuming after epoch {first_epoch} (best so far: {best:?})", options.label);
    }

    let batch = recipe.batch_size.max(2);
    let mut prepared = (first_epoch < recipe.epochs).then(|| epoch_windows(fit, rooms, recipe, policy, first_epoch));
    for epoch in first_epoch..recipe.epochs {
        let epoch_started = Instant::now();
        let data = prepared.take().ok_or_else(|| anyhow!("epoch {epoch} data missing"))?;
        optimizer.set_lr(lr_at(recipe, epoch));
        let n_batches = data.len() / batch; // a ragged last batch is dropped: BN needs > 1 sample
        let bar = ProgressBar::new(n_batches as u64);
        bar.set_style(
            ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} batches {msg} ({elapsed})")
                .expect("static template")
                .progress_chars("=> "),
        );
        bar.set_prefix(format!("{}epoch {}/{}", options.label, epoch + 1, recipe.epochs));

        let (mut loss_sum, mut correct, mut seen) = (0.0f64, 0i64, 0usize);
        let train_result = std::thread::scope(|scope| -> Result<()> {
            // Augmentation + MFCC of the next epoch overlap with this epoch's training.
            let next = (epoch + 1 < recipe.epochs)
                .then(|| scope.spawn(move || epoch_windows(fit, rooms, recipe, policy, epoch + 1)));
            for b in 0..n_batches {
                let features = &data.features[b * batch * FEATURE_LEN..(b + 1) * batch * FEATURE_LEN];
                let labels = &data.labels[b * batch..(b + 1) * batch];
                let targets = labels_tensor(labels);
                let (logits, _) = net.forward(&mfcc_batch(features), true);
                let loss = logits.cross_entropy_for_logits(&targets);
                optimizer.backward_step(&loss);
                if let Some((_, _, average)) = &mut averaged {
                    average.update();
                }
                let loss_value = loss.double_value(&[]);
                loss_sum += loss_value * labels.len() as f64;
                correct += logits.argmax(-1, false).eq_tensor(&targets).sum(Kind::Int64).int64_value(&[]);
                seen += labels.len();
                bar.set_message(format!("loss {:.4}", loss_sum / seen as f64));
                bar.inc(1);
            }
            if let Some(handle) = next {
                prepared = Some(handle.join().map_err(|_| anyhow!("augmentation thread panicked"))?);
            }
            Ok(())
        });
        bar.finish_and_clear();
        train_result?;

        let (kept_vs, kept_net) = match &averaged {
            Some((avg_vs, avg_net, _)) => (avg_vs, avg_net),
            None => (&vs, &net),
        };
        let (cm, validation_loss) = evaluate_tch(kept_net, &validation);
        let current = BestEpoch {
            epoch: epoch + 1,
            validation_accuracy: cm.accuracy(),
            validation_macro_f1: cm.macro_f1(),
            validation_loss,
        };
        let improved = current.beats(&best);
        if improved {
            best = Some(current);
            kept_vs.save(&best_path).with_context(|| format!("saving {}", best_path.display()))?;
        }
        println!(
            "{}epoch {:>3}/{} lr {:.3} | train loss {:.4} acc {:.2}% | val loss {:.4} acc {:.2}% macro-F1 {:.4}{} | {:.1}s",
            options.label,
            epoch + 1,
            recipe.epochs,
            lr_at(recipe, epoch),
            loss_sum / seen.max(1) as f64,
            100.0 * correct as f64 / seen.max(1) as f64,
            validation_loss,
            100.0 * current.validation_accuracy,
            current.validation_macro_f1,
            if improved { " *best*" } else { "" },
            epoch_started.elapsed().as_secs_f64(),
        );
        if options.print_confusion {
            println!("validation confusion matrix:\n{cm}");
        }
        vs.save(&last_path).with_context(|| format!("saving {}", last_path.display()))?;
        if let Some((avg_vs, _, _)) = &averaged {
            avg_vs.save(&last_ema_path).with_context(|| format!("saving {}", last_ema_path.display()))?;
        }
        optimizer.save(&optimizer_path)?;
        let state = ResumeState {
            recipe: recipe.clone(),
            completed_epochs: epoch + 1,
            ema_steps: averaged.as_ref().map_or(0, |(_, _, average)| average.steps),
            best,
            elapsed_s: elapsed_before + started.elapsed().as_secs_f64(),
        };
        std::fs::write(&state_path, serde_json::to_string_pretty(&state)?)
            .with_context(|| format!("writing {}", state_path.display()))?;
    }

    let best = best.ok_or_else(|| anyhow!("no epoch was trained (epochs = {})", recipe.epochs))?;
    let (mut vs, net) = match averaged {
        Some((avg_vs, avg_net, _)) => (avg_vs, avg_net),
        None => (vs, net),
    };
    vs.load(&best_path).with_context(|| format!("loading best checkpoint {}", best_path.display()))?;
    Ok(Trained { vs, net, best, wall_time: Duration::from_secs_f64(elapsed_before) + started.elapsed() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_digit_fraction_keeps_that_share_of_speakers_nested() {
        let recipe = |f| SpeechCommandsRecipe {
            dir: PathBuf::new(),
            digit_weight: 12.0,
            word_weight: 0.3,
            noise_weight: 0.15,
            digit_fraction: f,
        };
        let ids: Vec<String> = (0..2_000u32).map(|i| format!("sc{:08x}", i.wrapping_mul(2_654_435_761))).collect();
        let kept = |f| ids.iter().filter(|id| recipe(f).fits_digits_of(id)).cloned().collect::<Vec<_>>();
        let (third, two_thirds, all) = (kept(1.0 / 3.0), kept(2.0 / 3.0), kept(1.0));
        assert_eq!(all.len(), ids.len());
        assert!((600..740).contains(&third.len()), "{}", third.len());
        assert!((1_270..1_400).contains(&two_thirds.len()), "{}", two_thirds.len());
        assert!(third.iter().all(|id| two_thirds.contains(id)), "a smaller share is a subset of a larger one");
        // The shipped recipe's card does not change: 1 is not written.
        let json = serde_json::to_string(&recipe(1.0)).unwrap();
        assert!(!json.contains("digit_fraction"), "{json}");
        let back: SpeechCommandsRecipe = serde_json::from_str(&json).unwrap();
        assert_eq!(back.digit_fraction, 1.0);
    }

    fn store_with(value: f64) -> nn::VarStore {
        let vs = nn::VarStore::new(Device::Cpu);
        let weight = vs.root().zeros("w", &[3]);
        let _ = tch::no_grad(|| weight.shallow_clone().fill_(value));
        vs
    }

    fn value(vs: &nn::VarStore) -> f64 {
        vs.variables()["w"].double_value(&[1])
    }

    /// avg <- d * avg + (1 - d) * live, with d = min(decay, (1 + t) / (10 + t)) at step t.
    #[test]
    fn weight_average_follows_the_ramped_update_rule() {
        let averaged = store_with(0.0);
        let live = store_with(1.0);
        let mut average = WeightAverage::new(0.9, &averaged, &live).unwrap();
        let mut expected = 0.0;
        for step in 1..=40u64 {
            if step == 20 {
                // The live weights move; the average follows them, lagging.
                let _ = tch::no_grad(|| live.variables()["w"].shallow_clone().fill_(-2.0));
            }
            let target = if step >= 20 { -2.0 } else { 1.0 };
            let decay = 0.9f64.min((1 + step) as f64 / (10 + step) as f64);
            expected = decay * expected + (1.0 - decay) * target;
            average.update();
            assert!((value(&averaged) - expected).abs() < 1e-5, "step {step}");
        }
        // Early steps use the ramp (2/11 at step 1), later ones the configured decay.
        assert!(expected < -1.9 && expected > -2.0, "{expected}");
        assert_eq!(value(&live), -2.0);
    }
}
