//! The plugin's parameters (host-automatable) and its persisted enrolled-voice prototypes.
//!
//! Parameter IDs are stable strings: renaming a parameter is fine, changing an `#[id]` breaks
//! saved projects and automation.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use fsdd_core::{EarlyExitPolicy, RecognizerConfig, ScoringMode, VadConfig};
use nice_plug::prelude::*;

use crate::enrollment::EnrollmentController;
use crate::prototype_store::{ExportError, ImportError, PrototypeStore};

/// Which scorer turns the model's output into a digit (see `fsdd_core::ScoringMode`).
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModeChoice {
    #[id = "base"]
    #[name = "Base model"]
    Base,
    #[id = "proto"]
    #[name = "Enrolled voice"]
    Proto,
    #[id = "hybrid"]
    #[name = "Hybrid"]
    Hybrid,
}

impl From<ModeChoice> for ScoringMode {
    fn from(choice: ModeChoice) -> Self {
        match choice {
            ModeChoice::Base => ScoringMode::Base,
            ModeChoice::Proto => ScoringMode::Proto,
            ModeChoice::Hybrid => ScoringMode::Hybrid,
        }
    }
}

impl From<ScoringMode> for ModeChoice {
    fn from(mode: ScoringMode) -> Self {
        match mode {
            ScoringMode::Base => ModeChoice::Base,
            ScoringMode::Proto => ModeChoice::Proto,
            ScoringMode::Hybrid => ModeChoice::Hybrid,
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
    /// The enrolled-voice prototypes (PrototypeSet JSON) travel with the project.
    #[persist = "prototypes"]
    pub prototypes: PrototypeStore,
    /// The prototype file to import at activation (and the last one imported from the
    /// editor); empty = `fsdd-tui`'s default file, as long as the project has no prototypes.
    #[persist = "prototype_path"]
    pub prototype_path: RwLock<String>,
    /// Guided enrollment in the window (not saved: only its result, the prototypes, is).
    pub enrollment: EnrollmentController,

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
            prototypes: PrototypeStore::default(),
            prototype_path: RwLock::new(String::new()),
            enrollment: EnrollmentController::default(),
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
            mode: EnumParam::new("Mode", ModeChoice::from(recognizer.mode)),
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

    /// The prototype file set by the user, if any (`None` = the default file).
    pub fn prototype_path(&self) -> Option<PathBuf> {
        let path = self.prototype_path.read().unwrap_or_else(|poisoned| poisoned.into_inner());
        let path = path.trim();
        (!path.is_empty()).then(|| PathBuf::from(path))
    }

    fn set_prototype_path(&self, path: Option<&Path>) {
        let text = path.map(|p| p.display().to_string()).unwrap_or_default();
        *self.prototype_path.write().unwrap_or_else(|poisoned| poisoned.into_inner()) = text;
    }

    /// Imports prototypes from `path` (or the default file) and, if that worked, remembers the
    /// choice in the persisted path so the project re-imports the same file when it is
    /// activated again. On failure nothing changes; the error is logged and kept for the
    /// editor. Main or editor thread only (it reads a file).
    pub fn import_prototypes(&self, path: Option<&Path>) -> Result<PathBuf, ImportError> {
        match self.prototypes.import(path) {
            Ok(file) => {
                self.set_prototype_path(path);
                nice_log!("fsdd: imported enrolled prototypes from {}", file.display());
                Ok(file)
            }
            Err(err) => {
                nice_error!("fsdd: {err}; the previous prototypes stay");
                Err(err)
            }
        }
    }

    /// Stores a voice enrolled in the window as the project's prototypes. The prototype file
    /// setting is cleared, so the next activation keeps this voice instead of re-importing a
    /// file. Main or editor thread only.
    pub fn store_enrolled(&self, set: fsdd_core::PrototypeSet) {
        self.prototypes.replace_enrolled(set);
        self.set_prototype_path(None);
        nice_log!("fsdd: enrolled voice stored with the project");
    }

    /// Writes the enrolled voice to `path` (or `fsdd-tui`'s default file) for
    /// `fsdd-tui --prototypes`. Main or editor thread only.
    pub fn export_prototypes(&self, path: Option<&Path>) -> Result<PathBuf, ExportError> {
        let result = self.prototypes.export(path);
        match &result {
            Ok(file) => nice_log!("fsdd: exported the enrolled voice to {}", file.display()),
            Err(err) => nice_error!("fsdd: {err}"),
        }
        result
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
