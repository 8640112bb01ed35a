//! The scripting subcommands' work, as plain functions returning data: classify single files,
//! evaluate labelled sets, stream a long recording, enroll a voice from files. `report`
//! formats the results for people or as JSON lines.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, anyhow, bail};
use fsdd_core::inference::model::{N_DIGITS, N_OUTPUTS, NOT_A_DIGIT};
use fsdd_core::labels::ConfusionMatrix;
use fsdd_core::labels::file_names::{Utterance, label_from_file_name};
use fsdd_core::signal::mfcc::{MfccExtractor, SAMPLE_RATE, WINDOW_SAMPLES};
use fsdd_core::signal::vad::first_speech_span;
use fsdd_core::{
    Detection, DetectionKind, Model, Recognizer, RecognizerConfig, ScoringMode, VadConfig, Voice, VoiceMatcher,
};

use crate::cli::RecognizerArgs;

/// The model from `--model`, else the one embedded at build time.
pub fn load_model(path: Option<&Path>) -> anyhow::Result<Arc<Model>> {
    let model = match path {
        // The core's errors already name the file and the cause: flatten them into one message
        // (as a chain, the I/O cause would be printed twice).
        Some(p) => Model::from_path(p).map_err(|e| anyhow!("cannot load model {}: {e}", p.display()))?,
        None => Model::embedded().map_err(|e| anyhow!("cannot load the embedded model: {e}"))?,
    };
    Ok(Arc::new(model))
}

/// The voice in `path`, ready to score with `model`. The core's errors name the file (and
/// tell the owner of an old prototypes file to enroll again).
pub fn load_voice(path: &Path, model: &Model) -> anyhow::Result<(Voice, Arc<VoiceMatcher>)> {
    let voice = Voice::load(path).map_err(|e| anyhow!("cannot use the voice file: {e}"))?;
    let matcher =
        VoiceMatcher::build(model, &voice).map_err(|e| anyhow!("cannot use the voice file {}: {e}", path.display()))?;
    Ok((voice, Arc::new(matcher)))
}

/// Model, enrolled voice and scoring mode as the flags ask. Without `--mode` the mode is voice
/// when a voice is given, else base; any other mode without a voice is an error.
pub struct Scoring {
    pub model: Arc<Model>,
    pub voice: Option<Arc<VoiceMatcher>>,
    pub mode: ScoringMode,
    pub blend_weight: f32,
}

impl Scoring {
    pub fn from_args(args: &RecognizerArgs) -> anyhow::Result<Self> {
        let model = load_model(args.model.as_deref())?;
        let voice = args.voice.as_deref().map(|p| load_voice(p, &model)).transpose()?.map(|(_, m)| m);
        let mode = args.scoring_mode(voice.is_some(), "pass --voice FILE (make one with `fsdd-tui enroll`)")?;
        Ok(Self { model, voice, mode, blend_weight: RecognizerConfig::default().blend_weight })
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
                .filter(|p| p.is_file() && p.extension().is_some_and(|e| e.eq_ignore_ascii_case("wav")))
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
    let clip = fsdd_core::signal::audio::read_wav(path).map_err(|e| anyhow!("{e}"))?;
    if clip.sample_rate == SAMPLE_RATE {
        return Ok(clip.samples);
    }
    fsdd_core::signal::resample::resample_to_8k(&clip.samples, clip.sample_rate)
        .with_context(|| format!("{}: cannot resample from {} Hz", path.display(), clip.sample_rate))
}

/// The part of a file the model scores: its first speech segment as the streaming recognizer
/// cuts it for a final decision, and as the trainer cuts recorded words (VAD onset minus
/// pre-roll to the end of speech, clicks skipped; the whole file when the VAD finds no speech),
/// at most one window long. The room noise after a word stays out, as it does live.
pub fn utterance(samples_8k: &[f32]) -> &[f32] {
    let (start, end) = first_speech_span(samples_8k, VadConfig::default()).unwrap_or((0, samples_8k.len()));
    &samples_8k[start..end.min(start + WINDOW_SAMPLES)]
}

/// One file's verdict.
#[derive(Clone, Debug)]
pub struct Prediction {
    /// The digit heard; `None` when the model's top output is "not a digit".
    pub digit: Option<u8>,
    /// Probability of the verdict: the digit's, or "not a digit"'s when rejected.
    pub confidence: f32,
    /// Digits 0-9, then "not a digit" (always 0 with a digits-only model).
    pub probs: [f32; N_OUTPUTS],
}

impl Prediction {
    /// The verdict as a confusion-matrix label: the digit, or [`NOT_A_DIGIT`].
    pub fn label(&self) -> u8 {
        self.digit.unwrap_or(NOT_A_DIGIT as u8)
    }
}

/// The label a file's name gives it, for `eval` and `--input`:
/// - a leading `{digit}_` (FSDD's `7_theo_0.wav`, Speech Commands' `7_sc1234_0.wav`): that digit;
/// - a leading digit word and `_` (`seven_take1.wav`, any case): that digit;
/// - any other leading word of letters and `_` (`yes_sc1234_0.wav`, `noise_fan.wav`):
///   [`NOT_A_DIGIT`];
/// - anything else (no `_`, another prefix such as `12_` or `take-3_`): `None`, unlabelled.
pub fn label_from_name(path: &Path) -> Option<u8> {
    if let Some(digit) = label_from_file_name(path) {
        return Some(digit);
    }
    let name = path.file_name()?.to_str()?;
    let (head, _) = name.split_once('_')?;
    if head.is_empty() || !head.chars().all(|c| c.is_ascii_alphabetic()) {
        return None;
    }
    let head = head.to_ascii_lowercase();
    Some(DIGIT_NAMES.iter().position(|w| *w == head).unwrap_or(NOT_A_DIGIT) as u8)
}

/// Digit words as a file name may spell them.
const DIGIT_NAMES: [&str; N_DIGITS] = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"];

/// Classifies whole utterances: 8 kHz, cut to the first speech segment ([`utterance`]),
/// left-aligned in the window.
pub struct FileClassifier {
    scoring: Scoring,
    mfcc: MfccExtractor,
    window: Vec<f32>,
}

impl FileClassifier {
    pub fn new(scoring: Scoring) -> Self {
        Self { scoring, mfcc: MfccExtractor::new(), window: vec![0.0; fsdd_core::signal::mfcc::FEATURE_LEN] }
    }

    pub fn scoring(&self) -> &Scoring {
        &self.scoring
    }

    pub fn classify_samples(&mut self, samples_8k: &[f32]) -> anyhow::Result<Prediction> {
        let cut = utterance(samples_8k);
        self.mfcc.compute_into(cut, &mut self.window);
        let inference = self.scoring.model.infer(&self.window)?;
        let probs = match &self.scoring.voice {
            Some(v) => v.score(
                &inference.probs,
                &inference.embedding,
                &self.window,
                cut.len(),
                self.scoring.mode,
                self.scoring.blend_weight,
            ),
            None => inference.probs,
        };
        let (label, confidence) = fsdd_core::streaming::early_exit::top(&probs);
        Ok(Prediction { digit: (label as usize != NOT_A_DIGIT).then_some(label), confidence, probs })
    }

    pub fn classify_file(&mut self, path: &Path) -> anyhow::Result<Prediction> {
        let samples = read_8k(path)?;
        self.classify_samples(&samples).with_context(|| format!("{}: cannot classify", path.display()))
    }

    /// The model's embedding of a file (for enrollment).
    pub fn embed_file(&mut self, path: &Path) -> anyhow::Result<Vec<f32>> {
        let samples = read_8k(path)?;
        self.mfcc.compute_into(utterance(&samples), &mut self.window);
        Ok(self.scoring.model.infer(&self.window)?.embedding)
    }
}

/// Result of `eval`. Labels are digits 0-9 and [`NOT_A_DIGIT`]: a rejected digit is an error,
/// a rejected non-digit word is right.
#[derive(Clone, Debug)]
pub struct EvalReport {
    pub files: usize,
    pub confusion: ConfusionMatrix,
    /// Whether the model has a "not a digit" output at all (a digits-only model rejects nothing).
    pub model_rejects: bool,
}

impl EvalReport {
    /// Files labelled with a digit.
    pub fn digit_files(&self) -> u32 {
        self.confusion.digit_total()
    }

    /// Digit files heard as their digit, over all digit files; `None` without digit files.
    pub fn digit_accuracy(&self) -> Option<f64> {
        let right: u32 = (0..N_DIGITS).map(|d| self.confusion.counts[d][d]).sum();
        let total = self.digit_files();
        (total > 0).then(|| right as f64 / total as f64)
    }

    /// Digit files the model rejected as "not a digit" (errors).
    pub fn digits_rejected(&self) -> u32 {
        (0..N_DIGITS).map(|d| self.confusion.rejected(d)).sum()
    }

    /// Files labelled "not a digit" (named `{word}_...`).
    pub fn non_digit_files(&self) -> u32 {
        self.confusion.counts[NOT_A_DIGIT].iter().sum()
    }

    /// Non-digit files the model rejected (right).
    pub fn non_digits_rejected(&self) -> u32 {
        self.confusion.rejected(NOT_A_DIGIT)
    }

    /// Share of non-digit files rejected; `None` without non-digit files.
    pub fn rejection_rate(&self) -> Option<f64> {
        self.confusion.recall(NOT_A_DIGIT)
    }
}

/// Labelled files under `dirs` (see [`label_from_name`]); with `fsdd_test` only FSDD takes 0-4.
pub fn labelled_files(dirs: &[PathBuf], fsdd_test: bool) -> anyhow::Result<Vec<(PathBuf, u8)>> {
    let files = collect_wavs(dirs)?;
    let labelled: Vec<(PathBuf, u8)> = files
        .into_iter()
        .filter(|p| {
            !fsdd_test
                || Utterance::from_path(p).is_some_and(|u| u.take <= fsdd_core::labels::file_names::LAST_TEST_TAKE)
        })
        .filter_map(|p| label_from_name(&p).map(|d| (p, d)))
        .collect();
    if labelled.is_empty() {
        bail!(
            "no labelled WAV files (named {{digit}}_...wav, or {{word}}_...wav for a non-digit{}) in {}",
            if fsdd_test { ", FSDD takes 0-4" } else { "" },
            dirs.iter().map(|d| d.display().to_string()).collect::<Vec<_>>().join(", ")
        );
    }
    Ok(labelled)
}

pub fn evaluate(classifier: &mut FileClassifier, files: &[(PathBuf, u8)]) -> anyhow::Result<EvalReport> {
    let mut confusion = ConfusionMatrix::new();
    for (path, truth) in files {
        let p = classifier.classify_file(path)?;
        confusion.add(*truth, p.label());
    }
    Ok(EvalReport { files: files.len(), confusion, model_rejects: classifier.scoring().model.rejects() })
}

/// One streaming detection, positions in seconds from the file start.
#[derive(Clone, Debug)]
pub struct StreamEvent {
    /// `None` for a sound the model rejected as not a digit ([`DetectionKind::Rejected`]).
    pub digit: Option<u8>,
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
pub fn stream_samples(scoring: &Scoring, config: RecognizerConfig, samples_8k: &[f32]) -> Vec<StreamEvent> {
    let mut recognizer = Recognizer::new(scoring.model.clone(), RecognizerConfig { saliency: false, ..config });
    recognizer.set_voice(scoring.voice.clone());
    let mut events = Vec::new();
    let mut on_event = |d: Detection| events.push(StreamEvent::from_detection(&d));
    // Chunks the size a sound card might deliver; results do not depend on it.
    for chunk in samples_8k.chunks(1024) {
        recognizer.push(chunk, &mut on_event);
    }
    recognizer.finish(&mut on_event);
    events
}

/// A voice from labelled files: at most `per_digit` per digit (in name order, and never more
/// than a voice keeps), optionally one speaker's only.
pub fn enroll_from_files(
    paths: &[PathBuf],
    per_digit: Option<usize>,
    speaker: Option<&str>,
) -> anyhow::Result<(Voice, [usize; N_DIGITS])> {
    let files = collect_wavs(paths)?;
    let per_digit = per_digit.unwrap_or(fsdd_core::voice::store::MAX_TAKES_PER_DIGIT);
    anyhow::ensure!(
        (1..=fsdd_core::voice::store::MAX_TAKES_PER_DIGIT).contains(&per_digit),
        "--per-digit must be 1..={}",
        fsdd_core::voice::store::MAX_TAKES_PER_DIGIT
    );
    let mut takes = Vec::new();
    let mut used = [0usize; N_DIGITS];
    for path in files {
        let Some(digit) = label_from_name(&path).filter(|&l| (l as usize) < N_DIGITS) else {
            continue;
        };
        if let Some(want) = speaker
            && Utterance::from_path(&path).is_none_or(|u| u.speaker != want)
        {
            continue;
        }
        if used[digit as usize] >= per_digit {
            continue;
        }
        takes.push(file_take(digit, &path)?);
        used[digit as usize] += 1;
    }
    if used.iter().all(|&n| n == 0) {
        bail!("no labelled WAV files (named {{digit}}_...wav) among the --from paths");
    }
    // The core's enrollment (the dashboard's and the plugin's): the takes' audio.
    let voice = fsdd_core::voice::enrollment::build_voice(&takes).context("cannot enroll the --from files")?;
    Ok((voice, used))
}

/// A labelled file as an enrollment take: the part the model scores ([`utterance`]: the
/// first speech segment, at most one window), as the trainer and `predict` cut it.
pub fn file_take(digit: u8, path: &Path) -> anyhow::Result<fsdd_core::Take> {
    let samples = read_8k(path)?;
    let cut = utterance(&samples);
    let start = (cut.as_ptr() as usize - samples.as_ptr() as usize) / std::mem::size_of::<f32>();
    Ok(fsdd_core::Take::from_samples(digit, cut.to_vec(), start as u64))
}

#[cfg(test)]
mod tests {
    use fsdd_core::signal::mfcc::HOP;

    use super::*;

    #[test]
    fn file_names_label_digits_digit_words_and_other_words() {
        let label = |name: &str| label_from_name(Path::new(name));
        let not = Some(NOT_A_DIGIT as u8);
        assert_eq!(label("7_theo_0.wav"), Some(7));
        assert_eq!(label("dir/0_sc1234abcd_1.wav"), Some(0));
        assert_eq!(label("Seven_take1.wav"), Some(7));
        assert_eq!(label("nine_x.wav"), Some(9));
        assert_eq!(label("yes_sc0fa1e7a9_0.wav"), not);
        assert_eq!(label("tree_sc1_0.wav"), not);
        assert_eq!(label("backward_sc1_0.wav"), not);
        assert_eq!(label("12_theo_0.wav"), None);
        assert_eq!(label("take-3_x.wav"), None);
        assert_eq!(label("_x.wav"), None);
        assert_eq!(label("recording.wav"), None);
    }

    #[test]
    fn the_utterance_is_the_first_speech_segment_without_the_room_after_it() {
        // Half a second of silence, 0.4 s of a loud wobbling tone (speech-like to the VAD:
        // never steady), 1.5 s of silence.
        let room = |n: usize| std::iter::repeat_n(0.0f32, n);
        let mut audio: Vec<f32> = room(4000).collect();
        audio.extend((0..3200).map(|n| {
            let t = n as f32 / 8000.0;
            let tau = 2.0 * std::f32::consts::PI;
            0.3 * (tau * 200.0 * t).sin() * (0.55 + 0.45 * (tau * 3.0 * t).sin())
        }));
        audio.extend(room(12_000));
        let cut = utterance(&audio);
        let start = cut.as_ptr() as usize - audio.as_ptr() as usize;
        let start = start / std::mem::size_of::<f32>();
        let pre_roll = VadConfig::default().pre_roll_samples();
        assert!(start <= 4000 && start + pre_roll + HOP >= 4000, "starts at {start}");
        let end = start + cut.len();
        assert!((7200 - HOP..=7200 + HOP).contains(&end), "ends at {end}");
        // No speech at all: the file as it is, at most one window.
        let quiet: Vec<f32> = room(20_000).collect();
        assert_eq!(utterance(&quiet).len(), WINDOW_SAMPLES);
        assert_eq!(utterance(&quiet[..100]).len(), 100);
    }
}
