//! The plugin's parameters (host-automatable) and its persisted enrolled voice.
//!
//! Parameter IDs are stable strings: renaming a parameter is fine, changing an `#[id]` breaks
//! saved projects and automation. The same holds for the `#[id]`s of list options and for the
//! `#[persist]` keys.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};

use fsdd_core::{EarlyExitPolicy, RecognizerConfig, ScoringMode, VadConfig, Voice};
use nice_plug::prelude::*;

use crate::enrollment::{EnrollmentController, Finished};
use crate::voice_store::{
    ExportError, ImportError, OLD_PROJECT_MESSAGE, OldPrototypes, Taught, TeachError, VoiceStatus, VoiceStore,
};

/// Which scorer turns the model's output into a digit (see `fsdd_core::ScoringMode`). Without
/// an enrolled voice every choice is the base model.
///
/// Saved projects store the option's `#[id]`, so the order may change; `Voice` is still last so
/// that a CLAP host's automation, which records the option's index, keeps its meaning for the
/// options that came before it.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModeChoice {
    #[id = "base"]
    #[name = "Base model"]
    Base,
    /// One mean embedding per digit (the earlier method).
    #[id = "proto"]
    #[name = "Prototypes"]
    Proto,
    #[id = "hybrid"]
    #[name = "Hybrid"]
    Hybrid,
    /// The enrolled takes as templates, fused with the model: the default.
    #[id = "voice"]
    #[name = "Your voice"]
    Voice,
}

impl From<ModeChoice> for ScoringMode {
    fn from(choice: ModeChoice) -> Self {
        match choice {
            ModeChoice::Base => ScoringMode::Base,
            ModeChoice::Proto => ScoringMode::Proto,
            ModeChoice::Hybrid => ScoringMode::Hybrid,
            ModeChoice::Voice => ScoringMode::Voice,
        }
    }
}

impl From<ScoringMode> for ModeChoice {
    fn from(mode: ScoringMode) -> Self {
        match mode {
            ScoringMode::Base => ModeChoice::Base,
            ScoringMode::Proto => ModeChoice::Proto,
            ScoringMode::Hybrid => ModeChoice::Hybrid,
            ScoringMode::Voice => ModeChoice::Voice,
        }
    }
}

/// What a recognised digit produces on the MIDI output.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputChoice {
    #[id = "notes"]
    #[name = "Notes"]
    Notes,
    #[id = "cc"]
    #[name = "CC"]
    Cc,
    #[id = "both"]
    #[name = "Notes + CC"]
    Both,
}

impl OutputChoice {
    pub fn notes(self) -> bool {
        matches!(self, OutputChoice::Notes | OutputChoice::Both)
    }
    pub fn cc(self) -> bool {
        matches!(self, OutputChoice::Cc | OutputChoice::Both)
    }
}

/// How a digit is written into the CC value.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum CcValueChoice {
    /// CC value = the digit itself (0..=9): easy to read in a MIDI monitor.
    #[id = "digit"]
    #[name = "Digit (0-9)"]
    Digit,
    /// CC value = digit spread over the whole 0..=127 range: useful for MIDI-learned knobs.
    #[id = "scaled"]
    #[name = "Scaled (0-127)"]
    Scaled,
}

impl CcValueChoice {
    /// The 7-bit CC value for `digit`.
    pub fn raw_value(self, digit: u8) -> u8 {
        let digit = digit.min(9);
        match self {
            CcValueChoice::Digit => digit,
            CcValueChoice::Scaled => ((digit as f32) * 127.0 / 9.0).round() as u8,
        }
    }
}

/// Highest base note that still keeps digit 9 inside the MIDI key range.
pub const MAX_BASE_NOTE: i32 = 127 - 9;

#[derive(Params)]
pub struct FsddParams {
    /// The enrolled voice (format-2 JSON: the takes' audio) travels with the project.
    #[persist = "voice"]
    pub voice: VoiceStore,
    /// The voice file to import at activation (and the last one imported from the editor);
    /// empty = `fsdd-tui`'s default file, as long as the project has no voice.
    #[persist = "voice_path"]
    pub voice_path: RwLock<String>,
    /// An earlier version's enrolled voice (format-1 prototypes), only to say it cannot be
    /// used. (The earlier `prototype_path` key is not read: it named a format-1 file.)
    #[persist = "prototypes"]
    pub old_prototypes: OldPrototypes,
    /// Guided enrollment in the window (not saved: only its result, the voice, is).
    pub enrollment: EnrollmentController,
    /// Whether the running engine was last told to keep one word per segment (while an
    /// enrollment runs), so the editor sends the change once, not every frame.
    whole_words: AtomicBool,

    #[id = "threshold"]
    pub threshold: FloatParam,
    #[id = "consecutive"]
    pub consecutive: IntParam,
    #[id = "earliest_ms"]
    pub earliest_ms: IntParam,
    #[id = "every"]
    pub check_interval: IntParam,
    #[id = "min_conf"]
    pub min_confidence: FloatParam,
    #[id = "mode"]
    pub mode: EnumParam<ModeChoice>,
    #[id = "blend"]
    pub blend_weight: FloatParam,
    #[id = "vad_db"]
    pub vad_sensitivity_db: FloatParam,
    #[id = "gain_db"]
    pub input_gain_db: FloatParam,

    #[id = "output"]
    pub output: EnumParam<OutputChoice>,
    #[id = "base_note"]
    pub base_note: IntParam,
    #[id = "channel"]
    pub channel: IntParam,
    #[id = "note_ms"]
    pub note_length_ms: FloatParam,
    #[id = "cc_num"]
    pub cc_number: IntParam,
    #[id = "cc_value"]
    pub cc_value: EnumParam<CcValueChoice>,
}

impl Default for FsddParams {
    fn default() -> Self {
        // Defaults of the recognition parameters are the core's measured defaults.
        let policy = EarlyExitPolicy::default();
        let vad = VadConfig::default();
        let recognizer = RecognizerConfig::default();
        Self {
            voice: VoiceStore::default(),
            voice_path: RwLock::new(String::new()),
            old_prototypes: OldPrototypes::default(),
            enrollment: EnrollmentController::default(),
            whole_words: AtomicBool::new(false),
            threshold: FloatParam::new(
                "Early-exit threshold",
                policy.threshold,
                FloatRange::Linear { min: 0.5, max: 0.999 },
            )
            .with_step_size(0.001),
            consecutive: IntParam::new(
                "Consecutive checks",
                policy.consecutive as i32,
                IntRange::Linear { min: 1, max: 8 },
            ),
            earliest_ms: IntParam::new(
                "Earliest decision",
                policy.earliest_ms as i32,
                IntRange::Linear { min: 0, max: 1000 },
            )
            .with_unit(" ms"),
            check_interval: IntParam::new("Check interval", policy.every as i32, IntRange::Linear { min: 1, max: 16 })
                .with_unit(" hops"),
            min_confidence: FloatParam::new(
                "Minimum confidence",
                policy.min_confidence,
                FloatRange::Linear { min: 0.0, max: 1.0 },
            )
            .with_step_size(0.01),
            // Your voice by default: with no voice enrolled it is the base model, and once one is
            // enrolled it is the method that uses it best.
            mode: EnumParam::new("Mode", ModeChoice::Voice),
            blend_weight: FloatParam::new(
                "Hybrid blend",
                recognizer.blend_weight,
                FloatRange::Linear { min: 0.0, max: 1.0 },
            )
            .with_step_size(0.01),
            vad_sensitivity_db: FloatParam::new(
                "VAD sensitivity",
                vad.sensitivity_db,
                FloatRange::Linear { min: 1.0, max: 40.0 },
            )
            .with_unit(" dB")
            .with_step_size(0.5),
            input_gain_db: FloatParam::new("Input gain (analysis)", 0.0, FloatRange::Linear { min: -24.0, max: 24.0 })
                .with_unit(" dB")
                .with_step_size(0.1),
            output: EnumParam::new("Output", OutputChoice::Notes),
            base_note: IntParam::new("Base note", 60, IntRange::Linear { min: 0, max: MAX_BASE_NOTE })
                .with_value_to_string(formatters::v2s_i32_key_formatter())
                .with_string_to_value(formatters::s2v_i32_key_formatter()),
            channel: IntParam::new("MIDI channel", 1, IntRange::Linear { min: 1, max: 16 }),
            note_length_ms: FloatParam::new(
                "Note length",
                250.0,
                FloatRange::Skewed { min: 10.0, max: 4000.0, factor: FloatRange::skew_factor(-1.0) },
            )
            .with_unit(" ms")
            .with_step_size(1.0),
            cc_number: IntParam::new("CC number", 20, IntRange::Linear { min: 0, max: 119 }),
            cc_value: EnumParam::new("CC value", CcValueChoice::Digit),
        }
    }
}

impl FsddParams {
    /// The recognizer configuration the current parameter values describe (used when the
    /// engine starts; afterwards changes travel through `Engine::settings()`).
    pub fn recognizer_config(&self) -> RecognizerConfig {
        let defaults = RecognizerConfig::default();
        RecognizerConfig {
            early_exit: EarlyExitPolicy {
                threshold: self.threshold.value(),
                consecutive: self.consecutive.value().max(1) as u32,
                every: self.check_interval.value().max(1) as u32,
                earliest_ms: self.earliest_ms.value().max(0) as u32,
                min_confidence: self.min_confidence.value(),
                ..defaults.early_exit
            },
            vad: VadConfig { sensitivity_db: self.vad_sensitivity_db.value(), ..defaults.vad },
            mode: self.mode.value().into(),
            blend_weight: self.blend_weight.value(),
            // Saliency is for dashboards; the plugin only needs the digit.
            saliency: false,
        }
    }

    /// The voice file set by the user, if any (`None` = the default file).
    pub fn voice_path(&self) -> Option<PathBuf> {
        let path = self.voice_path.read().unwrap_or_else(|poisoned| poisoned.into_inner());
        let path = path.trim();
        (!path.is_empty()).then(|| PathBuf::from(path))
    }

    fn set_voice_path(&self, path: Option<&Path>) {
        let text = path.map(|p| p.display().to_string()).unwrap_or_default();
        *self.voice_path.write().unwrap_or_else(|poisoned| poisoned.into_inner()) = text;
    }

    /// Imports a voice from `path` (or the default file) and, if that worked, remembers the
    /// choice in the persisted path so the project re-imports the same file when it is
    /// activated again. On failure nothing changes; the error is logged and kept for the
    /// editor. Main or editor thread only (it reads a file and runs the model).
    pub fn import_voice(&self, path: Option<&Path>) -> Result<PathBuf, ImportError> {
        match self.voice.import(path) {
            Ok(file) => {
                self.set_voice_path(path);
                nice_log!("fsdd: imported the enrolled voice from {}", file.display());
                Ok(file)
            }
            Err(err) => {
                nice_error!("fsdd: {err}; the previous voice stays");
                Err(err)
            }
        }
    }

    /// Stores a voice enrolled in the window with the project. The voice file setting is
    /// cleared, so the next activation keeps this voice instead of re-importing a file.
    /// Main or editor thread only.
    pub fn store_enrolled(&self, voice: Voice) -> Result<(), fsdd_core::VoiceBuildError> {
        self.voice.replace_enrolled(voice)?;
        self.set_voice_path(None);
        nice_log!("fsdd: enrolled voice stored with the project");
        Ok(())
    }

    /// Writes the enrolled voice to `path` (or `fsdd-tui`'s default file) for
    /// `fsdd-tui --voice`. Main or editor thread only.
    pub fn export_voice(&self, path: Option<&Path>) -> Result<PathBuf, ExportError> {
        let result = self.voice.export(path);
        match &result {
            Ok(file) => nice_log!("fsdd: exported the enrolled voice to {}", file.display()),
            Err(err) => nice_error!("fsdd: {err}"),
        }
        result
    }

    /// Teaches a correction (see `VoiceStore::teach`). The voice is now the project's own, so
    /// the voice file setting is cleared: the next activation must not re-import the file over
    /// the correction. Main or editor thread only.
    pub fn teach(&self, onset: u64, heard: Option<u8>, digit: u8) -> Result<Taught, TeachError> {
        let result = self.voice.teach(onset, heard, digit);
        match &result {
            Ok(taught) => {
                self.set_voice_path(None);
                nice_log!("fsdd: {}", taught.message());
            }
            Err(err) => nice_warn!("fsdd: not taught: {err}"),
        }
        result
    }

    /// Takes back the last teach. Main or editor thread only.
    pub fn undo_teach(&self) -> Result<(), TeachError> {
        let result = self.voice.undo_teach();
        if let Err(err) = &result {
            nice_warn!("fsdd: not undone: {err}");
        }
        result
    }

    /// Starts the window's guided enrollment. Words heard before the click are no takes: they
    /// are moved to the recent words first.
    pub fn start_enrollment(&self, per_digit: usize) {
        self.voice.collect_words();
        self.enrollment.start(per_digit);
        self.sync_whole_words();
    }

    /// While an enrollment runs the engine keeps one word per segment (a take is the whole word
    /// the VAD closed); otherwise it splits fast digit strings as usual.
    fn sync_whole_words(&self) {
        let want = self.enrollment.active();
        if let Some(engine) = self.voice.engine()
            && self.whole_words.swap(want, Ordering::AcqRel) != want
        {
            engine.set_whole_words(want);
        }
    }

    /// Editor thread, every frame: moves the words the engine captured into the recent words
    /// (what corrections are taught from) and the running enrollment; when the enrollment
    /// completes, stores the new voice with the project. Returns true when a voice was just
    /// enrolled: the caller switches the mode to Your voice (a parameter, so through the host).
    pub fn poll_words(&self) -> bool {
        self.sync_whole_words();
        let words = self.voice.collect_words();
        match self.enrollment.poll(&words) {
            Some(Finished::Enrolled(voice)) => match self.store_enrolled(voice) {
                Ok(()) => true,
                Err(err) => {
                    let message = format!("the voice could not be prepared for the model: {err}");
                    nice_error!("fsdd: enrollment failed: {message}");
                    self.enrollment.failed(message);
                    false
                }
            },
            Some(Finished::Failed(message)) => {
                nice_error!("fsdd: enrollment failed: {message}");
                false
            }
            None => false,
        }
    }

    /// What the window shows about the voice, including whether the project holds an earlier
    /// version's voice that cannot be used (while it has no voice of this version).
    pub fn voice_status(&self) -> VoiceStatus {
        let mut status = self.voice.status();
        if status.is_empty() && self.old_prototypes.present() {
            status.old_project = Some(OLD_PROJECT_MESSAGE.to_owned());
        }
        status
    }

    /// Linear analysis gain from the dB parameter.
    pub fn input_gain(&self) -> f32 {
        util::db_to_gain(self.input_gain_db.value())
    }

    /// The 0-based MIDI channel.
    pub fn midi_channel(&self) -> u8 {
        (self.channel.value().clamp(1, 16) - 1) as u8
    }

    /// The MIDI key for `digit`.
    pub fn key_for(&self, digit: u8) -> u8 {
        (self.base_note.value().clamp(0, MAX_BASE_NOTE) as u8).saturating_add(digit.min(9))
    }
}

/// Shared handle type the plugin hands to the wrapper.
pub type SharedParams = Arc<FsddParams>;
