//! FSDD waveforms in memory, the train/validation/test partition, and MFCC feature batches.

use std::path::Path;

use anyhow::{Context, Result, bail};
use fsdd_core::signal::mfcc::{FEATURE_LEN, MfccExtractor, SAMPLE_RATE};
use fsdd_eval::corpus::{Fsdd, LAST_VALIDATION_TAKE, Split, Utterance};

/// Where a clip comes from; the recipe weighs each source per epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ClipSource {
    /// An FSDD take.
    Fsdd,
    /// The recipe's extra fit recordings (the synthetic speakers).
    Synthetic,
    /// A digit in Speech Commands: a real stranger's voice.
    RealDigit,
    /// A Speech Commands word that is not a digit.
    Word,
    /// A Speech Commands speaker's room, before or after the word.
    RoomNoise,
    /// The recorded noise corpus's training split (`tests/noise/train`: kitchens, crowds,
    /// rain, machines, music...): "not a digit", and noise mixed under words.
    RecordedNoise,
}

/// One recording, decoded.
#[derive(Debug, Clone)]
pub struct Clip {
    pub samples: Vec<f32>,
    /// The digit, or `fsdd_core::inference::model::NOT_A_DIGIT` (10) for a word or a noise.
    pub label: u8,
    pub speaker: String,
    pub take: u32,
    pub source: ClipSource,
}

/// Lengths the recorded noise is cut to, samples (0.3, 0.5, 0.7, 1.0 s in turn): a noise the
/// VAD takes for speech is cut anywhere between a click and a full window.
const NOISE_PIECES: [usize; 4] = [2_400, 4_000, 5_600, 8_000];

/// The recorded noise corpus (every WAV in `dir`, name order, resampled to 8 kHz) cut into
/// consecutive pieces, each "not a digit". The speaker field names the source file.
pub fn recorded_noise_clips(dir: &Path) -> Result<Vec<Clip>> {
    let noise = fsdd_eval::streams::load_noise_dir(dir)?;
    let mut clips = Vec::new();
    let (mut at, mut k) = (0, 0);
    while at + NOISE_PIECES[0] <= noise.len() {
        let len = NOISE_PIECES[k % NOISE_PIECES.len()].min(noise.len() - at);
        clips.push(Clip {
            samples: noise[at..at + len].to_vec(),
            label: fsdd_core::inference::model::NOT_A_DIGIT as u8,
            speaker: "recorded-noise".into(),
            take: k as u32,
            source: ClipSource::RecordedNoise,
        });
        at += len;
        k += 1;
    }
    if clips.is_empty() {
        bail!("no recorded noise in {}", dir.display());
    }
    Ok(clips)
}

/// Opens the dataset directory (flag, else `$FSDD_DIR`, else `data/fsdd/recordings`).
pub fn open_dataset(flag: Option<&Path>) -> Result<Fsdd> {
    let dir = fsdd_eval::corpus::resolve_dir(flag);
    Ok(Fsdd::open(&dir)?)
}

/// Decodes recordings; FSDD is 8 kHz mono, anything else is refused rather than silently
/// resampled differently from the recognizer.
pub fn load_clips(utterances: &[&Utterance]) -> Result<Vec<Clip>> {
    load_clips_as(utterances, ClipSource::Fsdd)
}

/// [`load_clips`] for recordings named like FSDD's from another source.
pub fn load_clips_as(utterances: &[&Utterance], source: ClipSource) -> Result<Vec<Clip>> {
    utterances
        .iter()
        .map(|u| {
            let audio =
                fsdd_core::signal::audio::read_wav(&u.path).with_context(|| format!("reading {}", u.path.display()))?;
            if audio.sample_rate != SAMPLE_RATE {
                bail!("{}: sample rate {} Hz, expected {SAMPLE_RATE} Hz", u.path.display(), audio.sample_rate);
            }
            Ok(Clip { samples: audio.samples, label: u.digit, speaker: u.speaker.clone(), take: u.take, source })
        })
        .collect()
}

/// The official split's TRAIN takes, divided into the part we fit and the part we validate on.
pub struct Partition<'a> {
    pub fit: Vec<&'a Utterance>,
    pub validation: Vec<&'a Utterance>,
}

/// Splits training utterances (never test takes) into fit and validation by take number: takes
/// 5 to `LAST_VALIDATION_TAKE` (9) validate (checkpoint selection), the rest fit.
pub fn partition<'a>(train: &[&'a Utterance]) -> Partition<'a> {
    assert!(train.iter().all(|u| u.split() == Split::Train), "test takes must never reach training");
    let (validation, fit) = train.iter().copied().partition(|u| u.take <= LAST_VALIDATION_TAKE);
    Partition { fit, validation }
}

/// MFCC windows of many waveforms, concatenated (`n * FEATURE_LEN`), through the very code the
/// recognizer runs.
pub fn mfcc_features<'a>(waves: impl IntoIterator<Item = &'a [f32]>) -> Vec<f32> {
    let mut extractor = MfccExtractor::new();
    let mut out = Vec::new();
    for wave in waves {
        let start = out.len();
        out.resize(start + FEATURE_LEN, 0.0);
        extractor.compute_into(wave, &mut out[start..]);
    }
    out
}
