//! Command-line interface: the live dashboard (no subcommand) and the scripting subcommands.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use fsdd_core::{EarlyExitPolicy, ScoringMode};

#[derive(Debug, Parser)]
#[command(
    name = "fsdd-tui",
    version,
    about = "Spoken-digit recognizer: a live terminal dashboard (default) and file subcommands",
    after_help = "Without a subcommand the live dashboard starts on the default audio input.\n\
                  No microphone? Play WAV files through the same engine: fsdd-tui --input DIR"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,

    #[command(flatten)]
    pub live: LiveArgs,
}

/// Options of the live dashboard.
#[derive(Debug, Clone, Args)]
pub struct LiveArgs {
    /// Capture from this input device (a name or id from --list-devices) instead of the default.
    #[arg(long, value_name = "NAME")]
    pub device: Option<String>,

    /// List audio input devices and exit.
    #[arg(long)]
    pub list_devices: bool,

    /// Play WAV files (or every .wav in a directory) through the engine instead of a device.
    /// Files named `{digit}_...wav` label the live confusion matrix (`{word}_...wav`, e.g.
    /// `yes_...wav`: not a digit).
    #[arg(long, value_name = "FILE.wav|DIR", num_args = 1..)]
    pub input: Vec<PathBuf>,

    /// Playback speed for --input (1 = real time).
    #[arg(long, default_value_t = 1.0, value_name = "X")]
    pub speed: f32,

    /// Silence played between --input files, seconds.
    #[arg(long, default_value_t = 0.6, value_name = "S")]
    pub gap: f32,

    /// Exit when --input has been played and decided (for scripts and tests).
    #[arg(long)]
    pub exit_at_end: bool,

    /// Start in the guided enrollment (same as pressing e).
    #[arg(long)]
    pub enroll: bool,

    /// Utterances captured per digit in the guided enrollment.
    #[arg(long, default_value_t = 3, value_name = "N")]
    pub enroll_per_digit: usize,

    /// Testing aid: panic this many ms after the dashboard starts, to check that the
    /// terminal is restored.
    #[arg(long, hide = true, value_name = "MS")]
    pub debug_panic_after_ms: Option<u64>,

    #[command(flatten)]
    pub recognizer: RecognizerArgs,
}

/// Options every recognizing command shares.
#[derive(Debug, Clone, Args)]
pub struct RecognizerArgs {
    /// ONNX model (default: the model embedded at build time).
    #[arg(long, global = true, value_name = "FILE.onnx")]
    pub model: Option<PathBuf>,

    /// Your enrolled voice (voice.json, written by `e` in the dashboard or `fsdd-tui enroll`).
    /// Live mode default: ~/.config/fsdd/voice.json, if present. (`--prototypes` is the old
    /// name: a format-1 prototypes file gets a message to enroll again.)
    #[arg(long, alias = "prototypes", global = true, value_name = "FILE.json")]
    pub voice: Option<PathBuf>,

    /// Scoring: base (model only), voice (your takes as templates, fused with the model: the
    /// default with a voice), proto (nearest mean embedding), hybrid (proto blended with base).
    #[arg(long, global = true, value_name = "base|voice|proto|hybrid")]
    pub mode: Option<ScoringMode>,

    /// Early exit: decide once the top probability reaches P ...
    #[arg(long, global = true, value_name = "P")]
    pub threshold: Option<f32>,

    /// ... in N consecutive evaluations.
    #[arg(long, global = true, value_name = "N")]
    pub consecutive: Option<u32>,

    /// ... but never before MS milliseconds of speech (finals are unaffected).
    #[arg(long, global = true, value_name = "MS")]
    pub earliest_ms: Option<u32>,

    /// A word decided at its end makes a detection only this sure (default 0.4); higher means
    /// fewer false detections in wind or music and more missed words (README, "In a real room").
    #[arg(long, global = true, value_name = "P")]
    pub min_confidence: Option<f32>,
}

impl RecognizerArgs {
    /// `--mode`, else voice when a voice is loaded and base otherwise; any mode but base without
    /// a voice is an error ending in `hint` (how to get one in this command).
    pub fn scoring_mode(&self, has_voice: bool, hint: &str) -> anyhow::Result<ScoringMode> {
        let mode = self.mode.unwrap_or(if has_voice { ScoringMode::Voice } else { ScoringMode::Base });
        anyhow::ensure!(mode == ScoringMode::Base || has_voice, "--mode {mode} needs an enrolled voice: {hint}");
        Ok(mode)
    }

    /// The default early-exit policy with the flags applied.
    pub fn early_exit(&self) -> anyhow::Result<EarlyExitPolicy> {
        let mut policy = EarlyExitPolicy::default();
        if let Some(t) = self.threshold {
            anyhow::ensure!(t.is_finite() && (0.0..=1.0).contains(&t), "--threshold must be in 0..=1, got {t}");
            policy.threshold = t;
        }
        if let Some(n) = self.consecutive {
            anyhow::ensure!(n >= 1, "--consecutive must be at least 1");
            policy.consecutive = n;
        }
        if let Some(ms) = self.earliest_ms {
            anyhow::ensure!(ms <= 2_000, "--earliest-ms must be at most 2000, got {ms}");
            policy.earliest_ms = ms;
        }
        if let Some(c) = self.min_confidence {
            anyhow::ensure!(c.is_finite() && (0.0..=1.0).contains(&c), "--min-confidence must be in 0..=1, got {c}");
            policy.min_confidence = c;
        }
        Ok(policy)
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Classify WAV files (one line per file; `not-a-digit`, JSON `"digit": null`, when the
    /// model rejects the sound).
    Predict {
        /// Print one JSON object per line.
        #[arg(long)]
        json: bool,
        /// WAV files or directories of them.
        #[arg(required = true, value_name = "PATH")]
        paths: Vec<PathBuf>,
    },
    /// Score labelled WAV files. Label = the name's leading `{digit}_` (or digit word, `seven_`);
    /// any other leading word of letters and `_` (`yes_sc1234_0.wav`) means "not a digit", right
    /// only when the model rejects it.
    Eval {
        #[arg(long)]
        json: bool,
        /// Keep only FSDD takes 0-4 (the official test split).
        #[arg(long)]
        fsdd_test: bool,
        /// FSDD recordings directory when no DIR is given (else $FSDD_DIR, else data/fsdd/recordings).
        #[arg(long, value_name = "DIR")]
        data: Option<PathBuf>,
        #[arg(value_name = "DIR")]
        dirs: Vec<PathBuf>,
    },
    /// Run the streaming recognizer over a long recording (one line per detection; a rejected
    /// sound is `not a digit`, JSON `"digit": null, "kind": "rejected"`).
    Stream {
        #[arg(long)]
        json: bool,
        #[arg(value_name = "FILE.wav")]
        file: PathBuf,
    },
    /// Enroll a voice from labelled WAV files (writes a voice file: the takes' audio).
    Enroll {
        /// Labelled WAV files or directories.
        #[arg(long, required = true, num_args = 1.., value_name = "PATH")]
        from: Vec<PathBuf>,
        /// Where to write the voice file (JSON).
        #[arg(long, value_name = "FILE.json")]
        out: PathBuf,
        /// Use at most N files per digit (in name order).
        #[arg(long, value_name = "N")]
        per_digit: Option<usize>,
        /// Keep only files of this speaker (`{digit}_{speaker}_{take}.wav`).
        #[arg(long, value_name = "NAME")]
        speaker: Option<String>,
    },
}
