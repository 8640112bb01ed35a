//! Dashboard state: what the panels show, fed by engine snapshots and detections, changed by
//! keys. Pure data and logic (no terminal, no audio, no threads) so it can be tested directly;
//! whatever must reach the engine or the disk is returned as an [`Effect`].

use std::collections::VecDeque;
use std::path::PathBuf;

use fsdd_core::inference::model::NOT_A_DIGIT;
use fsdd_core::labels::ConfusionMatrix;
use fsdd_core::signal::mfcc::FEATURE_LEN;
use fsdd_core::{Detection, DetectionKind, LiveView, Saliency, ScoringMode};

use crate::dashboard::enrollment::{Enrollment, EnrollmentStep};
use fsdd_core::CapturedWord;
use fsdd_core::voice::enrollment::Take;

/// Detections kept in the history panel.
pub const HISTORY_LEN: usize = 64;

pub const DIGIT_WORDS: [&str; 10] = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"];

/// The "not a digit" label (the model's output 10) as a `u8`, as truths and matrix cells use it.
pub const NOT_A_DIGIT_LABEL: u8 = NOT_A_DIGIT as u8;

/// A detection as a confusion-matrix label: its digit, or [`NOT_A_DIGIT_LABEL`] when rejected.
pub fn detection_label(detection: &Detection) -> u8 {
    detection.digit.unwrap_or(NOT_A_DIGIT_LABEL)
}

/// A label in words: "seven", or "not a digit".
pub fn label_words(label: u8) -> &'static str {
    DIGIT_WORDS.get(label as usize).copied().unwrap_or("not a digit")
}

/// The last decision the saliency panel explains.
#[derive(Clone, Debug)]
pub enum LastDecision {
    /// A digit, with the saliency computed for it.
    Digit(Saliency),
    /// A sound rejected as not a digit, with P(not a digit) and the likeliest digit with its
    /// probability (what a digits-only decision would have said): saliency explains digits only.
    Rejected { confidence: f32, closest: (u8, f32) },
}

/// Where a detection's true label (a digit or "not a digit") came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LabelSource {
    /// The quiz prompted this digit.
    Quiz,
    /// The `--input` file's name (`{digit}_...wav`, or `{word}_...wav` for not a digit).
    FileName,
    /// The user pressed 0-9 (or n, not a digit) to correct it.
    User,
}

/// One row of the detection history.
#[derive(Clone, Debug)]
pub struct HistoryEntry {
    pub detection: Detection,
    /// Sample rate of the detection's positions.
    pub rate: u32,
    /// The true label: a digit, or [`NOT_A_DIGIT_LABEL`].
    pub truth: Option<(u8, LabelSource)>,
    /// End of speech for an early decision, learned when the VAD closed the segment.
    pub end_estimate: Option<u64>,
    /// Which `--input` file it came from.
    pub source_name: Option<String>,
}

impl HistoryEntry {
    /// Decision time relative to the end of speech, ms: negative = decided before the speaker
    /// finished. `None` while the end of an early decision is not known yet.
    pub fn decision_vs_end_ms(&self) -> Option<f64> {
        let end = self.detection.end.or(self.end_estimate)?;
        Some((self.detection.decision as f64 - end as f64) * 1000.0 / self.rate as f64)
    }

    /// The detection's label: its digit, or [`NOT_A_DIGIT_LABEL`] when rejected.
    pub fn label(&self) -> u8 {
        detection_label(&self.detection)
    }

    /// Whether it matches the truth (a rejected word is right, a rejected digit wrong).
    pub fn is_correct(&self) -> Option<bool> {
        self.truth.map(|(t, _)| t == self.label())
    }
}

/// A prompt to say a random digit; the next detection is scored against it.
#[derive(Clone, Debug)]
pub struct Quiz {
    pub prompt: u8,
    pub asked: u32,
    /// Outcome of the previous prompt (asked, heard label), shown until the next detection.
    pub last_result: Option<(u8, u8)>,
}

/// Where `--input` files sit in the pushed stream, to label detections by file name.
#[derive(Clone, Debug, Default)]
pub struct FileLabels {
    /// (first sample, one past the last sample, label, display name), in stream order.
    pub spans: Vec<(u64, u64, Option<u8>, String)>,
}

impl FileLabels {
    /// The file a detection with this onset belongs to: the last one starting at or before it
    /// (the VAD pre-roll can put the onset slightly before a file's first sample).
    pub fn lookup(&self, onset: u64, slack: u64) -> Option<&(u64, u64, Option<u8>, String)> {
        self.spans.iter().rev().find(|(start, _, _, _)| *start <= onset + slack)
    }
}

/// Things the running dashboard must do outside the state.
#[derive(Clone, Debug)]
pub enum Effect {
    SetMode(ScoringMode),
    SetThreshold(f32),
    /// Enrollment: capture whole words, and decide only at the end of each (so "heard" is the
    /// whole word's verdict); turn early exit off until it ends.
    SuspendEarlyExit,
    RestoreEarlyExit,
    /// Make these takes the voice, save it, use it, switch to voice mode.
    FinishEnrollment(Vec<Take>),
    /// Add the word behind this detection to the voice as a take of `digit` (a correction).
    Teach {
        detection: Box<Detection>,
        digit: u8,
    },
    /// Take the last taught word back out of the voice.
    UndoTeach,
}

/// What the dashboard knows of the enrolled voice (the live loop owns the voice itself).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct VoiceStatus {
    /// Takes per digit, and how many of them came from corrections.
    pub counts: [usize; 10],
    pub corrections: usize,
    /// Where it is saved (`None`: nowhere, no config directory).
    pub path: Option<PathBuf>,
    /// The last taught digit, while it can be undone.
    pub undoable: Option<u8>,
}

impl VoiceStatus {
    pub fn is_enrolled(&self) -> bool {
        self.counts.iter().any(|&n| n > 0)
    }
}

/// A corrected detection that can become a take of the right digit (one key: `a`).
#[derive(Clone, Copy, Debug)]
pub struct TeachOffer {
    pub detection: Detection,
    pub digit: u8,
}

/// Static facts shown in the header.
#[derive(Clone, Debug)]
pub struct SourceInfo {
    /// "default input: pulse (48000 Hz, 2 ch, f32)" or "3 files".
    pub description: String,
    pub input_rate: u32,
}

/// Redraw cost, shown in the header.
#[derive(Clone, Copy, Debug, Default)]
pub struct FrameStats {
    pub fps: f32,
    pub cpu_percent: f32,
}

pub struct App {
    pub source: SourceInfo,
    pub mode: ScoringMode,
    pub threshold: f32,
    pub consecutive: u32,
    /// The enrolled voice (every mode but base needs one).
    pub voice: VoiceStatus,
    /// The last correction, offered as a take of the right digit.
    pub teach_offer: Option<TeachOffer>,
    pub live: LiveView,
    pub history: VecDeque<HistoryEntry>,
    pub confusion: ConfusionMatrix,
    /// What the saliency panel explains: the last digit's saliency, or the last rejection.
    pub last_decision: Option<LastDecision>,
    /// Whether the model has a "not a digit" output (a digits-only model never rejects).
    pub model_rejects: bool,
    pub quiz: Option<Quiz>,
    pub enrollment: Option<Enrollment>,
    pub enroll_per_digit: usize,
    pub file_labels: Option<FileLabels>,
    /// Every `--input` file has been played and decided.
    pub input_finished: bool,
    pub show_help: bool,
    pub status: Option<String>,
    pub stats: FrameStats,
    pub quit: bool,
    rng: u64,
    /// Speech state at the previous snapshot, to notice ends of speech.
    was_speech: bool,
}

impl App {
    pub fn new(source: SourceInfo, mode: ScoringMode, threshold: f32, consecutive: u32) -> Self {
        Self {
            source,
            mode,
            threshold,
            consecutive,
            voice: VoiceStatus::default(),
            teach_offer: None,
            live: LiveView::default(),
            history: VecDeque::with_capacity(HISTORY_LEN),
            confusion: ConfusionMatrix::new(),
            last_decision: None,
            model_rejects: true,
            quiz: None,
            enrollment: None,
            enroll_per_digit: 3,
            file_labels: None,
            input_finished: false,
            show_help: false,
            status: None,
            stats: FrameStats::default(),
            quit: false,
            rng: 0x9E37_79B9_7F4A_7C15,
            was_speech: false,
        }
    }

    /// Seeds the quiz's digit picker (tests pass a fixed seed).
    pub fn seed(&mut self, seed: u64) {
        self.rng = seed | 1;
    }

    fn next_random_digit(&mut self) -> u8 {
        // xorshift64*: plenty for picking quiz prompts.
        self.rng ^= self.rng >> 12;
        self.rng ^= self.rng << 25;
        self.rng ^= self.rng >> 27;
        (self.rng.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 33) as u8 % 10
    }

    /// A fresh engine snapshot.
    pub fn on_live(&mut self, view: LiveView) {
        if self.was_speech && !view.speech {
            self.note_end_of_speech(view.processed);
        }
        self.was_speech = view.speech;
        self.live = view;
    }

    /// A whole word the engine captured (guided enrollment takes it).
    pub fn on_word(&mut self, word: &CapturedWord) {
        if let Some(enrollment) = &mut self.enrollment {
            enrollment.on_word(word);
        }
    }

    /// The VAD closed a segment: an early decision in it now learns (roughly) when speech ended.
    fn note_end_of_speech(&mut self, processed: u64) {
        if let Some(entry) = self.history.front_mut()
            && entry.detection.end.is_none()
            && entry.end_estimate.is_none()
        {
            // The VAD reports the end after its hangover; the snapshot lags by up to one refresh.
            let hangover = (fsdd_core::VadConfig::default().hangover_ms as u64 * entry.rate as u64) / 1000;
            let end = processed.saturating_sub(hangover).max(entry.detection.onset);
            entry.end_estimate = Some(end);
        }
    }

    /// A detection popped from the engine.
    pub fn on_detection(&mut self, detection: Detection) -> Vec<Effect> {
        if let Some(enrollment) = &mut self.enrollment {
            enrollment.on_detection(&detection);
            return Vec::new();
        }
        let label = detection_label(&detection);
        if detection.kind == DetectionKind::Rejected {
            self.last_decision = Some(LastDecision::Rejected {
                confidence: detection.confidence,
                closest: fsdd_core::streaming::early_exit::top_digit(&detection.probs),
            });
        } else if let Some(saliency) = detection.saliency {
            self.last_decision = Some(LastDecision::Digit(saliency));
        }
        let mut entry = HistoryEntry {
            detection,
            rate: self.source.input_rate,
            truth: None,
            end_estimate: None,
            source_name: None,
        };
        let slack = self.source.input_rate as u64 / 5;
        if let Some(labels) = &self.file_labels
            && let Some((_, _, label, name)) = labels.lookup(detection.onset, slack)
        {
            entry.truth = label.map(|d| (d, LabelSource::FileName));
            entry.source_name = Some(name.clone());
        }
        if entry.truth.is_none()
            && let Some(quiz) = &mut self.quiz
        {
            entry.truth = Some((quiz.prompt, LabelSource::Quiz));
            quiz.last_result = Some((quiz.prompt, label));
            quiz.asked += 1;
            let next = self.next_random_digit();
            if let Some(quiz) = &mut self.quiz {
                quiz.prompt = next;
            }
        }
        if let Some((truth, _)) = entry.truth {
            self.confusion.add(truth, label);
        }
        self.history.push_front(entry);
        self.history.truncate(HISTORY_LEN);
        Vec::new()
    }

    /// Keys 0-9: the last detection was really `label`; key n: it was not a digit
    /// ([`NOT_A_DIGIT_LABEL`]).
    pub fn correct_last(&mut self, label: u8) {
        if label > NOT_A_DIGIT_LABEL {
            return;
        }
        let Some(entry) = self.history.front_mut() else {
            self.status = Some("nothing to correct yet".into());
            return;
        };
        let predicted = entry.label();
        if let Some((old, _)) = entry.truth {
            let cell = &mut self.confusion.counts[old as usize][predicted as usize];
            *cell = cell.saturating_sub(1);
        }
        entry.truth = Some((label, LabelSource::User));
        self.confusion.add(label, predicted);
        let detection = entry.detection;
        // A digit the recognizer got wrong is worth learning: its word can become a take.
        self.teach_offer =
            (label != NOT_A_DIGIT_LABEL && label != predicted).then_some(TeachOffer { detection, digit: label });
        self.status = Some(if label == NOT_A_DIGIT_LABEL {
            "last detection labelled not a digit".to_string()
        } else if self.teach_offer.is_some() {
            format!("last detection labelled {label} ({}): press a to add that word to your voice", label_words(label))
        } else {
            format!("last detection labelled {label} ({})", label_words(label))
        });
    }

    /// Key a: the offered correction becomes a take of the right digit.
    pub fn teach(&mut self) -> Vec<Effect> {
        match self.teach_offer.take() {
            Some(TeachOffer { detection, digit }) => vec![Effect::Teach { detection: Box::new(detection), digit }],
            None => {
                self.status = Some("nothing to add: correct a wrong detection first (0-9)".into());
                Vec::new()
            }
        }
    }

    /// Key u: undo the last taught take.
    pub fn undo_teach(&mut self) -> Vec<Effect> {
        if self.voice.undoable.is_some() {
            vec![Effect::UndoTeach]
        } else {
            self.status = Some("nothing to undo".into());
            Vec::new()
        }
    }

    /// The live loop changed the voice (enrolled, taught, undone) and the scoring mode that
    /// goes with it, and says how it went.
    pub fn voice_changed(&mut self, voice: VoiceStatus, mode: ScoringMode, message: String) {
        self.voice = voice;
        self.mode = mode;
        self.status = Some(message);
    }

    pub fn toggle_quiz(&mut self) {
        if self.quiz.take().is_none() {
            let prompt = self.next_random_digit();
            self.quiz = Some(Quiz { prompt, asked: 0, last_result: None });
            self.status = Some("quiz: say the digit shown in the header".into());
        } else {
            self.status = Some("quiz off".into());
        }
    }

    /// The next scoring mode (base -> voice -> proto -> hybrid -> base); all but base need a
    /// voice.
    pub fn cycle_mode(&mut self) -> Vec<Effect> {
        let next = match self.mode {
            ScoringMode::Base => ScoringMode::Voice,
            ScoringMode::Voice => ScoringMode::Proto,
            ScoringMode::Proto => ScoringMode::Hybrid,
            ScoringMode::Hybrid => ScoringMode::Base,
        };
        if next != ScoringMode::Base && !self.voice.is_enrolled() {
            self.status = Some("no voice enrolled: press e to enroll your voice (or pass --voice)".into());
            return Vec::new();
        }
        self.mode = next;
        self.status = Some(format!("scoring mode: {next}"));
        vec![Effect::SetMode(next)]
    }

    pub fn adjust_threshold(&mut self, delta: f32) -> Vec<Effect> {
        self.threshold = ((self.threshold + delta) * 100.0).round().clamp(50.0, 100.0) / 100.0;
        self.status = Some(format!("early-exit threshold {:.2}", self.threshold));
        vec![Effect::SetThreshold(self.threshold)]
    }

    pub fn start_enrollment(&mut self) -> Vec<Effect> {
        if self.enrollment.is_some() {
            return Vec::new();
        }
        self.enrollment = Some(Enrollment::new(self.enroll_per_digit.max(1)));
        self.status = None;
        vec![Effect::SuspendEarlyExit]
    }

    pub fn cancel_enrollment(&mut self) -> Vec<Effect> {
        if self.enrollment.take().is_some() {
            self.status = Some("enrollment cancelled; nothing saved".into());
            vec![Effect::RestoreEarlyExit]
        } else {
            Vec::new()
        }
    }

    /// Enter in enrollment: keep the reviewed capture; after the last one, finish.
    pub fn enrollment_accept(&mut self) -> Vec<Effect> {
        let Some(enrollment) = &mut self.enrollment else {
            return Vec::new();
        };
        enrollment.accept();
        if matches!(enrollment.step(), EnrollmentStep::Done) {
            let takes = self.enrollment.take().map(Enrollment::into_takes).unwrap_or_default();
            return vec![Effect::RestoreEarlyExit, Effect::FinishEnrollment(takes)];
        }
        Vec::new()
    }

    pub fn enrollment_redo(&mut self) {
        if let Some(enrollment) = &mut self.enrollment {
            enrollment.redo();
        }
    }

    /// The MFCC window to draw: the capture under review during enrollment, else the live one.
    pub fn mfcc_to_show(&self) -> &[f32; FEATURE_LEN] {
        if let Some(e) = &self.enrollment
            && let Some(c) = e.reviewing()
        {
            return &c.mfcc;
        }
        &self.live.mfcc
    }
}
