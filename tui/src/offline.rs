//! The scripting subcommands' work, as plain functions returning data: classify single files,
//! evaluate labelled sets, stream a long recording, build prototypes from files. `report`
//! formats the results for people or as JSON lines.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, anyhow, bail};
use fsdd_core::dataset::{Utterance, label_from_file_name};
use fsdd_core::metrics::ConfusionMatrix;
use fsdd_core::mfcc::{HOP, MfccExtractor, SAMPLE_RATE, WINDOW_SAMPLES};
use fsdd_core::vad::{Vad, VadEvent};
use fsdd_core::{
    Detection, DetectionKind, Model, PrototypeSet, Recognizer, RecognizerConfig, ScoringMode,
    VadConfig,
};

use crate::cli::RecognizerArgs;

/// The model from `--model`, else the one embedded at build time.
pub fn load_model(path: Option<&Path>) -> anyhow::Result<Arc<Model>> {
    let model = match path {
        // The core's errors already name the file and the cause: flatten them into one message
        // (as a chain, the I/O cause would be printed twice).
        Some(p) => {
            Model::from_path(p).map_err(|e| anyhow!("cannot load model {}: {e}", p.display()))?
        }
        None => Model::embedded().map_err(|e| anyhow!("cannot load the embedded model: {e}"))?,
    };
    Ok(Arc::new(model))
}

/// Prototypes from `path`, checked against the model.
pub fn load_prototypes(path: &Path, model: &Model) -> anyhow::Result<PrototypeSet> {
    // The core's errors name the file already.
    let set = PrototypeSet::load(path).map_err(|e| anyhow!("cannot use prototypes: {e}"))?;
    check_prototypes(&set, model)
        .with_context(|| format!("cannot use prototypes file {}", path.display()))?;
    Ok(set)
}

pub fn check_prototypes(set: &PrototypeSet, model: &Model) -> anyhow::Result<()> {
    if set.embedding_dim() != model.embedding_dim() {
        bail!(
            "its embeddings have {} values but the model's have {} (made with another model? enroll again)",
            set.embedding_dim(),
            model.embedding_dim()
        );
    }
    if !set.matches_model(model.fingerprint()) {
        bail!(
            "it was made with a different model (fingerprint {:?}); enroll again",
            set.model_fingerprint()
        );
    }
    Ok(())
}

/// Model, prototypes and scoring mode as the flags ask. Without `--mode` the mode is hybrid
/// when prototypes are given, else base; proto/hybrid without prototypes is an error.
pub struct Scoring {
    pub model: Arc<Model>,
    pub prototypes: Option<PrototypeSet>,
    pub mode: ScoringMode,
    pub blend_weight: f32,
}

impl Scoring {
    pub fn from_args(args: &RecognizerArgs) -> anyhow::Result<Self> {
        let model = load_model(args.model.as_deref())?;
        let prototypes = args
            .prototypes
            .as_deref()
            .map(|p| load_prototypes(p, &model))
            .transpose()?;
        let mode = args.scoring_mode(
            prototypes.is_some(),
            "pass --prototypes FILE (make one with `fsdd-tui enroll`)",
        )?;
        Ok(Self {
            model,
            prototypes,
            mode,
            blend_weight: RecognizerConfig::default().blend_weight,
        })
    }

    pub fn recognizer_config(&self, args: &RecognizerArgs) -> anyhow::Result<RecognizerConfig> {
        Ok(RecognizerConfig {
            early_exit: args.early_exit()?,
            mode: self.mode,
            blend_weight: self.blend_weight,
            ..RecognizerConfig::default()
        })
    }
}

/// WAV files named by `paths`: files as given, directories expanded to their `.wav` files in
/// name order. A path that does not exist is an error (not silently skipped).
pub fn collect_wavs(paths: &[PathBuf]) -> anyhow::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for path in paths {
        if path.is_dir() {
            let mut in_dir: Vec<PathBuf> = std::fs::read_dir(path)
                .with_context(|| format!("cannot list directory {}", path.display()))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| {
                    p.is_file() && p.extension().is_some_and(|e| e.eq_ignore_ascii_case("wav"))
                })
                .collect();
            if in_dir.is_empty() {
                bail!("{}: no .wav files in this directory", path.display());
            }
            in_dir.sort();
            files.extend(in_dir);
        } else if path.exists() {
            files.push(path.clone());
        } else {
            bail!("{}: no such file or directory", path.display());
        }
    }
    Ok(files)
}

/// Reads a WAV file as 8 kHz mono.
pub fn read_8k(path: &Path) -> anyhow::Result<Vec<f32>> {
    let clip = fsdd_core::audio::read_wav(path).map_err(|e| anyhow!("{e}"))?;
    if clip.sample_rate == SAMPLE_RATE {
        return Ok(clip.samples);
    }
    fsdd_core::resample::resample_to_8k(&clip.samples, clip.sample_rate).with_context(|| {
        format!(
            "{}: cannot resample from {} Hz",
            path.display(),
            clip.sample_rate
        )
    })
}

/// Where speech starts, samples: the core VAD's first onset minus its pre-roll (0 when the VAD
/// finds none, or speech starts at once as in trimmed FSDD files).
pub fn speech_start(samples_8k: &[f32], vad_config: VadConfig) -> usize {
    let mut vad = Vad::new(vad_config);
    for (i, hop) in samples_8k.chunks(HOP).enumerate() {
        let mut padded = [0.0f32; HOP];
        padded[..hop.len()].copy_from_slice(hop);
        if let VadEvent::Onset { .. } = vad.process_hop(&padded) {
            return (i * HOP).saturating_sub(vad_config.pre_roll_samples());
        }
    }
    0
}

/// One file's verdict.
#[derive(Clone, Debug)]
pub struct Prediction {
    pub digit: u8,
    pub confidence: f32,
    pub probs: [f32; 10],
}

/// Classifies whole utterances: 8 kHz, leading silence trimmed, left-aligned in the window.
pub struct FileClassifier {
    scoring: Scoring,
    mfcc: MfccExtractor,
    window: Vec<f32>,
}

impl FileClassifier {
    pub fn new(scoring: Scoring) -> Self {
        Self {
            scoring,
            mfcc: MfccExtractor::new(),
            window: vec![0.0; fsdd_core::mfcc::FEATURE_LEN],
        }
    }

    pub fn scoring(&self) -> &Scoring {
        &self.scoring
    }

    pub fn classify_samples(&mut self, samples_8k: &[f32]) -> anyhow::Result<Prediction> {
        let start = speech_start(samples_8k, VadConfig::default());
        let end = (start + WINDOW_SAMPLES).min(samples_8k.len());
        self.mfcc
            .compute_into(&samples_8k[start..end], &mut self.window);
        let inference = self.scoring.model.infer(&self.window)?;
        let probs = match &self.scoring.prototypes {
            Some(p) => p.blend(
                &inference.probs,
                &inference.embedding,
                self.scoring.mode,
                self.scoring.blend_weight,
            ),
            None => inference.probs,
        };
        let (digit, confidence) = fsdd_core::early_exit::top(&probs);
        Ok(Prediction {
            digit,
            confidence,
            probs,
        })
    }

    pub fn classify_file(&mut self, path: &Path) -> anyhow::Result<Prediction> {
        let samples = read_8k(path)?;
        self.classify_samples(&samples)
            .with_context(|| format!("{}: cannot classify", path.display()))
    }

    /// The model's embedding of a file (for enrollment).
    pub fn embed_file(&mut self, path: &Path) -> anyhow::Result<Vec<f32>> {
        let samples = read_8k(path)?;
        let start = speech_start(&samples, VadConfig::default());
        let end = (start + WINDOW_SAMPLES).min(samples.len());
        self.mfcc
            .compute_into(&samples[start..end], &mut self.window);
        Ok(self.scoring.model.infer(&self.window)?.embedding)
    }
}

/// Result of `eval`.
#[derive(Clone, Debug)]
pub struct EvalReport {
    pub files: usize,
    pub confusion: ConfusionMatrix,
}

/// Labelled files under `dirs`; with `fsdd_test` only FSDD takes 0-4.
pub fn labelled_files(dirs: &[PathBuf], fsdd_test: bool) -> anyhow::Result<Vec<(PathBuf, u8)>> {
    let files = collect_wavs(dirs)?;
    let labelled: Vec<(PathBuf, u8)> = files
        .into_iter()
        .filter(|p| {
            !fsdd_test
                || Utterance::from_path(p)
                    .is_some_and(|u| u.take <= fsdd_core::dataset::LAST_TEST_TAKE)
        })
        .filter_map(|p| label_from_file_name(&p).map(|d| (p, d)))
        .collect();
    if labelled.is_empty() {
        bail!(
            "no labelled WAV files (named {{digit}}_...wav{}) in {}",
            if fsdd_test { ", FSDD takes 0-4" } else { "" },
            dirs.iter()
                .map(|d| d.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    Ok(labelled)
}

pub fn evaluate(
    classifier: &mut FileClassifier,
    files: &[(PathBuf, u8)],
) -> anyhow::Result<EvalReport> {
    let mut confusion = ConfusionMatrix::new();
    for (path, truth) in files {
        let p = classifier.classify_file(path)?;
        confusion.add(*truth, p.digit);
    }
    Ok(EvalReport {
        files: files.len(),
        confusion,
    })
}

/// One streaming detection, positions in seconds from the file start.
#[derive(Clone, Debug)]
pub struct StreamEvent {
    pub digit: u8,
    pub confidence: f32,
    pub kind: DetectionKind,
    pub onset_s: f64,
    pub decision_s: f64,
    pub end_s: Option<f64>,
}

impl StreamEvent {
    fn from_detection(d: &Detection) -> Self {
        let s = |pos: u64| pos as f64 / SAMPLE_RATE as f64;
        Self {
            digit: d.digit,
            confidence: d.confidence,
            kind: d.kind,
            onset_s: s(d.onset),
            decision_s: s(d.decision),
            end_s: d.end.map(s),
        }
    }
}

/// The streaming recognizer over a whole recording (synchronous, so deterministic).
pub fn stream_samples(
    scoring: &Scoring,
    config: RecognizerConfig,
    samples_8k: &[f32],
) -> Vec<StreamEvent> {
    let mut recognizer = Recognizer::new(
        scoring.model.clone(),
        RecognizerConfig {
            saliency: false,
            ..config
        },
    );
    recognizer.set_prototypes(scoring.prototypes.clone());
    let mut events = Vec::new();
    let mut on_event = |d: Detection| events.push(StreamEvent::from_detection(&d));
    // Chunks the size a sound card might deliver; results do not depend on it.
    for chunk in samples_8k.chunks(1024) {
        recognizer.push(chunk, &mut on_event);
    }
    recognizer.finish(&mut on_event);
    events
}

/// Prototypes from labelled files: at most `per_digit` per digit (in name order), optionally
/// one speaker's only.
pub fn enroll_from_files(
    classifier: &mut FileClassifier,
    paths: &[PathBuf],
    per_digit: Option<usize>,
    speaker: Option<&str>,
) -> anyhow::Result<(PrototypeSet, [usize; 10])> {
    let files = collect_wavs(paths)?;
    let model = classifier.scoring().model.clone();
    let mut takes = Vec::new();
    let mut used = [0usize; 10];
    for path in files {
        let Some(digit) = label_from_file_name(&path) else {
            continue;
        };
        if let Some(want) = speaker
            && Utterance::from_path(&path).is_none_or(|u| u.speaker != want)
        {
            continue;
        }
        if per_digit.is_some_and(|n| used[digit as usize] >= n) {
            continue;
        }
        takes.push(file_take(digit, &path)?);
        used[digit as usize] += 1;
    }
    if used.iter().all(|&n| n == 0) {
        bail!("no labelled WAV files (named {{digit}}_...wav) among the --from paths");
    }
    // The core's enrollment (the dashboard's and the plugin's): embeddings averaged per digit.
    let set = fsdd_core::enrollment::build_prototypes(&model, &takes)
        .context("cannot build prototypes from the --from files")?;
    Ok((set, used))
}

/// A labelled file as an enrollment take: from the VAD's speech start (minus pre-roll), at
/// most one MFCC window, as in training.
pub fn file_take(digit: u8, path: &Path) -> anyhow::Result<fsdd_core::Take> {
    let samples = read_8k(path)?;
    let start = speech_start(&samples, VadConfig::default());
    let end = (start + WINDOW_SAMPLES).min(samples.len());
    Ok(fsdd_core::Take::from_samples(
        digit,
        samples[start..end].to_vec(),
        start as u64,
    ))
}
