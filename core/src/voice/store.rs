//! The enrolled voice as it is saved: every take the user gave, as audio.
//!
//! Format 2 (`fsdd-voice`) keeps each take's 8 kHz samples (16-bit PCM, base64) and what it is
//! a take of, not anything a model computed from it. So a voice survives a new model or new
//! features: everything the recognizer needs (templates, embeddings) is recomputed from the
//! audio when the voice is loaded, in a few milliseconds. It is one JSON document, so a DAW
//! project can carry it as plugin state as well as a file can.
//!
//! Format 1 (`fsdd-prototypes`, `prototypes.json`) kept only the mean embedding per digit of
//! one model: there is no audio in it to rebuild templates from, so it cannot be migrated and is
//! refused with [`VoiceError::OldPrototypes`], which tells the user to enroll again. The old
//! file is never changed.

use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::{Deserialize, Serialize};

use crate::signal::mfcc::SAMPLE_RATE;

/// JSON format tag and version of a voice file.
pub const FORMAT: &str = "fsdd-voice";
pub const VERSION: u32 = 2;
/// The previous format's tag (`prototypes.json`).
pub const OLD_FORMAT: &str = "fsdd-prototypes";
/// Takes kept per digit. Corrections keep coming for as long as the voice is used; beyond this
/// the oldest take of that digit makes room (and every decision stays within its time budget).
pub const MAX_TAKES_PER_DIGIT: usize = 10;
/// The longest take accepted, samples (4 s: a captured word is at most ~1.1 s).
pub const MAX_TAKE_SAMPLES: usize = 4 * SAMPLE_RATE as usize;
/// The shortest take accepted, samples (40 ms: anything shorter holds no word).
pub const MIN_TAKE_SAMPLES: usize = 320;

#[derive(Debug, thiserror::Error)]
pub enum VoiceError {
    #[error("{path}: cannot read or write the voice file: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("not a valid voice file: {0}")]
    Invalid(String),
    #[error(
        "{path} holds prototypes from an earlier fsdd (format 1): averages without the recordings, \
         which this version cannot use. Enroll again (fsdd-tui: press e; plugin: Enroll); the old \
         file is left as it is"
    )]
    OldPrototypes { path: String },
    #[error("digit {0} is not 0-9")]
    BadDigit(u8),
    #[error("a take must be {MIN_TAKE_SAMPLES}..={MAX_TAKE_SAMPLES} finite samples at 8 kHz (got {0} samples)")]
    BadTake(usize),
}

/// How a take came to be in the voice.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TakeSource {
    /// Said when asked for, during guided enrollment.
    #[default]
    Enrolled,
    /// A detection the user corrected, kept as a take of the right digit.
    Correction,
}

/// One take of a digit: the whole word, 8 kHz mono.
#[derive(Clone, Debug, PartialEq)]
pub struct VoiceTake {
    pub digit: u8,
    pub source: TakeSource,
    pub samples: Vec<f32>,
}

impl VoiceTake {
    /// Checks the digit and the audio (finite, a plausible word length).
    pub fn new(digit: u8, source: TakeSource, samples: Vec<f32>) -> Result<Self, VoiceError> {
        if digit > 9 {
            return Err(VoiceError::BadDigit(digit));
        }
        if !(MIN_TAKE_SAMPLES..=MAX_TAKE_SAMPLES).contains(&samples.len()) || samples.iter().any(|x| !x.is_finite()) {
            return Err(VoiceError::BadTake(samples.len()));
        }
        Ok(Self { digit, source, samples })
    }
}

#[derive(Serialize, Deserialize)]
struct TakeRecord {
    digit: u8,
    #[serde(default)]
    source: TakeSource,
    /// 16-bit little-endian PCM at `sample_rate`, base64.
    pcm16: String,
}

#[derive(Serialize, Deserialize)]
struct VoiceFileRecord {
    format: String,
    version: u32,
    sample_rate: u32,
    takes: Vec<TakeRecord>,
}

/// What [`Voice::push`] did, so it can be undone.
#[derive(Clone, Debug, PartialEq)]
#[must_use = "keep the receipt to undo the take"]
pub struct Added {
    /// The oldest take of the digit, and where it was, when the digit was full.
    pub evicted: Option<(usize, VoiceTake)>,
    /// The take added.
    pub take: VoiceTake,
    len_after: usize,
}

/// The user's voice: takes of each digit, oldest first.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Voice {
    takes: Vec<VoiceTake>,
}

/// 16-bit PCM, as a WAV would hold it: the voice file is as faithful as a recording.
fn to_pcm16(samples: &[f32]) -> Vec<u8> {
    samples.iter().flat_map(|x| ((x.clamp(-1.0, 1.0) * 32767.0).round() as i16).to_le_bytes()).collect()
}

fn from_pcm16(bytes: &[u8]) -> Vec<f32> {
    bytes.chunks_exact(2).map(|b| i16::from_le_bytes([b[0], b[1]]) as f32 / 32767.0).collect()
}

impl Voice {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn takes(&self) -> &[VoiceTake] {
        &self.takes
    }

    pub fn is_empty(&self) -> bool {
        self.takes.is_empty()
    }

    /// Takes per digit.
    pub fn counts(&self) -> [usize; 10] {
        let mut counts = [0; 10];
        for t in &self.takes {
            counts[t.digit as usize] += 1;
        }
        counts
    }

    /// Adds a take; a digit that already has [`MAX_TAKES_PER_DIGIT`] loses its oldest take.
    /// The receipt undoes exactly this ([`Voice::undo`]).
    pub fn push(&mut self, take: VoiceTake) -> Added {
        let digit = take.digit;
        let evicted = if self.counts()[digit as usize] >= MAX_TAKES_PER_DIGIT {
            let oldest = self.takes.iter().position(|t| t.digit == digit).expect("the digit has takes");
            Some((oldest, self.takes.remove(oldest)))
        } else {
            None
        };
        self.takes.push(take.clone());
        Added { evicted, take, len_after: self.takes.len() }
    }

    /// Takes back the take `added` put in (and restores the take it displaced). Refused
    /// (`false`, nothing changed) when the voice was changed since.
    pub fn undo(&mut self, added: Added) -> bool {
        if self.takes.len() != added.len_after || self.takes.last() != Some(&added.take) {
            return false;
        }
        self.takes.pop();
        if let Some((index, take)) = added.evicted {
            self.takes.insert(index.min(self.takes.len()), take);
        }
        true
    }

    /// Forgets every take of `digit`.
    pub fn clear_digit(&mut self, digit: u8) {
        self.takes.retain(|t| t.digit != digit);
    }

    pub fn to_json(&self) -> String {
        let file = VoiceFileRecord {
            format: FORMAT.into(),
            version: VERSION,
            sample_rate: SAMPLE_RATE,
            takes: self
                .takes
                .iter()
                .map(|t| TakeRecord { digit: t.digit, source: t.source, pcm16: BASE64.encode(to_pcm16(&t.samples)) })
                .collect(),
        };
        serde_json::to_string(&file).expect("voice files always serialise")
    }

    /// Parses and validates; any inconsistency is an error and nothing is half-read. A format-1
    /// prototypes file gives [`VoiceError::OldPrototypes`] (named `path`).
    pub fn from_json_named(s: &str, path: &str) -> Result<Self, VoiceError> {
        let invalid = |m: String| VoiceError::Invalid(if path.is_empty() { m } else { format!("{path}: {m}") });
        let value: serde_json::Value = serde_json::from_str(s).map_err(|e| invalid(e.to_string()))?;
        match value.get("format").and_then(|f| f.as_str()) {
            Some(OLD_FORMAT) => {
                return Err(VoiceError::OldPrototypes {
                    path: if path.is_empty() { "this file".into() } else { path.into() },
                });
            }
            Some(FORMAT) => {}
            other => return Err(invalid(format!("format is {other:?}, expected {FORMAT:?}"))),
        }
        let file: VoiceFileRecord = serde_json::from_value(value).map_err(|e| invalid(e.to_string()))?;
        if file.version != VERSION {
            return Err(invalid(format!(
                "version {} is not supported (this build reads version {VERSION})",
                file.version
            )));
        }
        if file.sample_rate != SAMPLE_RATE {
            return Err(invalid(format!("sample rate {} Hz, expected {SAMPLE_RATE}", file.sample_rate)));
        }
        if file.takes.len() > 10 * MAX_TAKES_PER_DIGIT {
            return Err(invalid(format!("{} takes, at most {} are kept", file.takes.len(), 10 * MAX_TAKES_PER_DIGIT)));
        }
        let mut voice = Voice::new();
        for (i, t) in file.takes.into_iter().enumerate() {
            let bytes = BASE64.decode(t.pcm16.as_bytes()).map_err(|e| invalid(format!("take {}: {e}", i + 1)))?;
            if bytes.len() % 2 != 0 {
                return Err(invalid(format!("take {}: odd number of PCM bytes", i + 1)));
            }
            let take = VoiceTake::new(t.digit, t.source, from_pcm16(&bytes))
                .map_err(|e| invalid(format!("take {}: {e}", i + 1)))?;
            if voice.counts()[take.digit as usize] >= MAX_TAKES_PER_DIGIT {
                return Err(invalid(format!("digit {} has more than {MAX_TAKES_PER_DIGIT} takes", take.digit)));
            }
            voice.takes.push(take);
        }
        Ok(voice)
    }

    pub fn from_json(s: &str) -> Result<Self, VoiceError> {
        Self::from_json_named(s, "")
    }

    /// Writes atomically (temp file + rename), creating the directory.
    pub fn save(&self, path: &Path) -> Result<(), VoiceError> {
        let io = |source| VoiceError::Io { path: path.to_owned(), source };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        let tmp = path.with_extension("json.tmp");
        std::fs::write(&tmp, self.to_json()).map_err(io)?;
        std::fs::rename(&tmp, path).map_err(io)
    }

    pub fn load(path: &Path) -> Result<Self, VoiceError> {
        let bytes = std::fs::read(path).map_err(|source| VoiceError::Io { path: path.to_owned(), source })?;
        let text = String::from_utf8_lossy(&bytes);
        Self::from_json_named(&text, &path.display().to_string())
    }

    /// `$XDG_CONFIG_HOME/fsdd/voice.json`, else `~/.config/fsdd/voice.json` (or
    /// `%APPDATA%\fsdd\voice.json` on Windows).
    pub fn default_path() -> Option<PathBuf> {
        config_dir().map(|d| d.join("voice.json"))
    }

    /// Where format 1 kept its prototypes (`prototypes.json` beside [`Voice::default_path`]):
    /// a front end that finds this but no voice file tells the user to enroll again.
    pub fn old_prototypes_path() -> Option<PathBuf> {
        config_dir().map(|d| d.join("prototypes.json"))
    }
}

fn config_dir() -> Option<PathBuf> {
    let non_empty = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty()).map(PathBuf::from);
    let base = if cfg!(windows) {
        non_empty("APPDATA")
    } else {
        non_empty("XDG_CONFIG_HOME").or_else(|| non_empty("HOME").map(|h| h.join(".config")))
    };
    base.map(|b| b.join("fsdd"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tone(n: usize, f: f32) -> Vec<f32> {
        (0..n).map(|i| 0.5 * (i as f32 * f * std::f32::consts::TAU / 8000.0).sin()).collect()
    }

    #[test]
    fn a_voice_round_trips_to_16_bit_accuracy() {
        let mut voice = Voice::new();
        let _ = voice.push(VoiceTake::new(3, TakeSource::Enrolled, tone(4000, 300.0)).unwrap());
        let _ = voice.push(VoiceTake::new(7, TakeSource::Correction, tone(3000, 500.0)).unwrap());
        let back = Voice::from_json(&voice.to_json()).unwrap();
        assert_eq!(back.counts(), voice.counts());
        assert_eq!(back.takes()[1].source, TakeSource::Correction);
        for (a, b) in back.takes().iter().zip(voice.takes()) {
            assert_eq!(a.samples.len(), b.samples.len());
            let worst = a.samples.iter().zip(&b.samples).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max);
            assert!(worst <= 0.5 / 32767.0 + 1e-7, "{worst}");
        }
    }

    #[test]
    fn a_full_digit_drops_its_oldest_take_and_undo_puts_it_back() {
        let mut voice = Voice::new();
        for i in 0..MAX_TAKES_PER_DIGIT {
            let added = voice.push(VoiceTake::new(1, TakeSource::Enrolled, tone(1000 + i, 200.0)).unwrap());
            assert!(added.evicted.is_none());
        }
        let _ = voice.push(VoiceTake::new(2, TakeSource::Enrolled, tone(900, 200.0)).unwrap());
        let before = voice.clone();
        let added = voice.push(VoiceTake::new(1, TakeSource::Correction, tone(2000, 200.0)).unwrap());
        let (index, evicted) = added.evicted.as_ref().unwrap();
        assert_eq!((*index, evicted.samples.len()), (0, 1000), "the oldest take of the digit goes");
        assert_eq!(voice.counts()[1], MAX_TAKES_PER_DIGIT);
        assert!(voice.undo(added));
        assert_eq!(voice, before);
        // A receipt from before another change is refused.
        let stale = voice.push(VoiceTake::new(3, TakeSource::Correction, tone(700, 200.0)).unwrap());
        let _ = voice.push(VoiceTake::new(4, TakeSource::Correction, tone(700, 200.0)).unwrap());
        assert!(!voice.undo(stale));
        assert_eq!(voice.counts()[3..5], [1, 1]);
    }

    #[test]
    fn bad_takes_and_garbage_files_are_refused() {
        assert!(matches!(VoiceTake::new(10, TakeSource::Enrolled, tone(1000, 1.0)), Err(VoiceError::BadDigit(10))));
        assert!(matches!(VoiceTake::new(1, TakeSource::Enrolled, vec![0.0; 10]), Err(VoiceError::BadTake(10))));
        let mut nan = tone(1000, 100.0);
        nan[3] = f32::NAN;
        assert!(VoiceTake::new(1, TakeSource::Enrolled, nan).is_err());
        for bad in [
            "",
            "\u{0}\u{ff}",
            "{}",
            "[1,2]",
            r#"{"format":"other","version":2,"sample_rate":8000,"takes":[]}"#,
            r#"{"format":"fsdd-voice","version":3,"sample_rate":8000,"takes":[]}"#,
            r#"{"format":"fsdd-voice","version":2,"sample_rate":16000,"takes":[]}"#,
            r#"{"format":"fsdd-voice","version":2,"sample_rate":8000,"takes":[{"digit":1,"pcm16":"!!"}]}"#,
            r#"{"format":"fsdd-voice","version":2,"sample_rate":8000,"takes":[{"digit":12,"pcm16":""}]}"#,
            r#"{"format":"fsdd-voice","version":2,"sample_rate":8000,"takes":[{"digit":1,"pcm16":"AAAA"}]}"#,
        ] {
            assert!(matches!(Voice::from_json(bad), Err(VoiceError::Invalid(_))), "{bad}");
        }
    }

    #[test]
    fn an_old_prototypes_file_gets_the_clear_message_and_is_left_alone() {
        let dir = std::env::temp_dir().join(format!("fsdd-voice-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let old = dir.join("prototypes.json");
        let text = r#"{"format":"fsdd-prototypes","version":1,"embedding_dim":2,"digits":[{"digit":1,"count":3,"mean":[0.6,0.8]}]}"#;
        std::fs::write(&old, text).unwrap();
        let err = Voice::load(&old).unwrap_err();
        assert!(matches!(err, VoiceError::OldPrototypes { .. }));
        let message = err.to_string();
        assert!(message.contains("prototypes.json") && message.contains("Enroll again"), "{message}");
        assert_eq!(std::fs::read_to_string(&old).unwrap(), text, "the old file is not touched");

        let path = dir.join("sub").join("voice.json");
        let mut voice = Voice::new();
        let _ = voice.push(VoiceTake::new(0, TakeSource::Enrolled, tone(2400, 250.0)).unwrap());
        voice.save(&path).unwrap();
        assert_eq!(Voice::load(&path).unwrap().counts(), voice.counts());
        assert!(matches!(Voice::load(&dir.join("missing.json")), Err(VoiceError::Io { .. })));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
