//! How enrollment is measured, shared by the benchmark (`cargo xtask bench-enroll`) and the CI
//! tests, so both score the same way.
//!
//! Voices the model never fitted: an FSDD speaker is scored with its leave-one-speaker-out fold
//! model. The speaker enrolls takes 0..K of every digit, cut the way the recognizer cuts a word
//! (the VAD's first speech span), and is scored on takes K..=9 and every fifth take after
//! (150-170 words). Non-digit words: the Speech Commands words of the speakers in the speaker
//! group the fold held out (never fit), scored with that speaker's enrollment active.
//!
//! Every method sees the same words:
//! - base: the fold model alone ("not a digit" counts as wrong for a digit);
//! - hybrid: the earlier enrollment (mean-embedding prototypes, blended half and half);
//! - DTW: the nearest template (it never rejects), the classic speaker-dependent answer, on
//!   every frame (the product's templates keep every second one);
//! - voice: the product's fusion ([`fsdd_core::voice::matcher::fuse`]) under each rule asked for.

use std::path::{Path, PathBuf};

use fsdd_core::inference::model::{N_DIGITS, NOT_A_DIGIT};
use fsdd_core::signal::mfcc::MfccExtractor;
use fsdd_core::signal::vad::{VadConfig, first_speech_span};
use fsdd_core::voice::matcher::fuse;
use fsdd_core::voice::templates::{TemplateFeatures, TemplateSet};
use fsdd_core::{FusionRule, Model, PrototypeSet, ScoringMode};

use crate::corpus::{Fsdd, SPEAKER_FOLDS, SpeakerGroup, speaker_group};
use crate::streams::load_noise;

/// The prototypes' share in the hybrid column (the earlier default).
pub const HYBRID_WEIGHT: f32 = 0.5;

/// Where a speaker's fold model is: `<folds>/loso-<speaker>/model.onnx` (the layout `trainer
/// loso` writes under its checkpoint directory, and that `models/loso` keeps).
pub fn fold_model_path(folds: &Path, speaker: &str) -> PathBuf {
    folds.join(format!("loso-{speaker}")).join("model.onnx")
}

/// One word as every method sees it.
pub struct Word {
    /// The digit said, `None` for a non-digit word.
    pub digit: Option<u8>,
    pub probs: [f32; 11],
    pub embedding: Vec<f32>,
    pub template: Option<TemplateFeatures>,
    /// The classic matcher's template: every frame.
    pub anchor: Option<TemplateFeatures>,
}

/// Cut as the recognizer's VAD would, then scored by the model and made a template.
pub fn word(model: &Model, mfcc: &mut MfccExtractor, digit: Option<u8>, samples: &[f32]) -> Result<Word, String> {
    let cut = match first_speech_span(samples, VadConfig::default()) {
        Some((a, b)) => &samples[a..b],
        None => samples,
    };
    let window = mfcc.compute(cut);
    let inference = model.infer(&window[..]).map_err(|e| e.to_string())?;
    let template = TemplateFeatures::from_mfcc(&window[..], cut.len());
    let anchor = TemplateFeatures::from_mfcc_every(&window[..], cut.len(), 1);
    Ok(Word { digit, probs: inference.probs, embedding: inference.embedding, template, anchor })
}

/// One held-out speaker: every take of theirs and the held-out words, as the fold model sees them.
pub struct SpeakerData {
    pub speaker: String,
    pub embedding_dim: usize,
    /// (take number, word).
    pub takes: Vec<(u32, Word)>,
    pub words: Vec<Word>,
}

/// Loads speaker `index` of `fsdd.speakers()` with its fold model; `words_dir` is Speech
/// Commands' `words/` (none: no word is scored). `max_words` keeps the first that many held-out
/// words in name order (tests keep it short).
pub fn load_speaker(
    fsdd: &Fsdd,
    index: usize,
    folds: &Path,
    words_dir: Option<&Path>,
    max_words: usize,
) -> Result<SpeakerData, String> {
    let speakers = fsdd.speakers();
    let speaker = speakers.get(index).ok_or(format!("no speaker {index}"))?.clone();
    let path = fold_model_path(folds, &speaker);
    let model = Model::from_path(&path)
        .map_err(|e| format!("{}: {e}\nthe fold models come from `trainer loso` (README, Training)", path.display()))?;
    let mut mfcc = MfccExtractor::new();
    let load = |p: &Path| load_noise(p).map_err(|e| e.to_string());
    let mut takes = Vec::new();
    for u in fsdd.utterances.iter().filter(|u| u.speaker == speaker) {
        takes.push((u.take, word(&model, &mut mfcc, Some(u.digit), &load(&u.path)?)?));
    }
    let group = SpeakerGroup::Fold((index % SPEAKER_FOLDS as usize) as u8);
    let mut words = Vec::new();
    if let Some(dir) = words_dir {
        let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
            .map_err(|e| format!("{}: {e}", dir.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .collect();
        paths.sort();
        for p in paths {
            let Some(stem) = p.file_stem().and_then(|s| s.to_str()) else { continue };
            let parts: Vec<&str> = stem.split('_').collect();
            if parts.len() == 3 && speaker_group(parts[1]) == group {
                words.push(word(&model, &mut mfcc, None, &load(&p)?)?);
                if words.len() >= max_words {
                    break;
                }
            }
        }
    }
    Ok(SpeakerData { speaker, embedding_dim: model.embedding_dim(), takes, words })
}

/// Whether take `t` is enrolled at K = `k`.
pub fn is_enrolled(t: u32, k: u32) -> bool {
    t < k
}

/// Whether take `t` is scored at K = `k`: takes K..=9 and every fifth after.
pub fn is_scored(t: u32, k: u32) -> bool {
    (k..=9).contains(&t) || (t > 9 && t.is_multiple_of(5))
}

/// One speaker at one K; the voice columns have one entry per rule.
pub struct SpeakerScore {
    pub speaker: String,
    pub digits: usize,
    pub base: usize,
    pub hybrid: usize,
    pub dtw: usize,
    pub voice: Vec<usize>,
    /// Scored digits the base model rejected, and how many of them the voice got right.
    pub base_rejected: usize,
    pub voice_rescued: Vec<usize>,
    pub words: usize,
    pub words_rejected_base: usize,
    pub words_rejected_hybrid: usize,
    pub words_rejected_voice: Vec<usize>,
    /// The shipped rule ([`FusionRule::default`], what `VoiceMatcher::build` uses).
    pub shipped: usize,
    pub shipped_rescued: usize,
    pub words_rejected_shipped: usize,
}

fn argmax(v: &[f32]) -> usize {
    (0..v.len()).fold(0, |b, i| if v[i] > v[b] { i } else { b })
}

fn pick(p: &[f32; 11]) -> Option<u8> {
    let k = argmax(p);
    (k != NOT_A_DIGIT).then_some(k as u8)
}

/// Enrolls the speaker's takes 0..K and scores the rest and the held-out words.
pub fn score_speaker(data: &SpeakerData, k: u32, rules: &[FusionRule]) -> SpeakerScore {
    let mut protos = PrototypeSet::new(data.embedding_dim);
    let mut templates = TemplateSet::new();
    let mut anchors = TemplateSet::new();
    for (_, w) in data.takes.iter().filter(|(t, _)| is_enrolled(*t, k)) {
        let d = w.digit.expect("takes are digits");
        protos.add_example(d, &w.embedding).expect("finite embeddings");
        if let Some(t) = &w.template {
            templates.add(d, t.clone());
        }
        if let Some(t) = &w.anchor {
            anchors.add(d, t.clone());
        }
    }
    let shipped_rule = FusionRule::default();
    let mut s = SpeakerScore {
        shipped: 0,
        shipped_rescued: 0,
        words_rejected_shipped: 0,
        speaker: data.speaker.clone(),
        digits: 0,
        base: 0,
        hybrid: 0,
        dtw: 0,
        voice: vec![0; rules.len()],
        base_rejected: 0,
        voice_rescued: vec![0; rules.len()],
        words: data.words.len(),
        words_rejected_base: 0,
        words_rejected_hybrid: 0,
        words_rejected_voice: vec![0; rules.len()],
    };
    let answers = |w: &Word| {
        let base = pick(&w.probs);
        let hybrid = pick(&protos.blend(&w.probs, &w.embedding, ScoringMode::Hybrid, HYBRID_WEIGHT));
        let distances = w.template.as_ref().map_or([None; N_DIGITS], |t| templates.distances(t));
        let dtw = w.anchor.as_ref().and_then(|t| anchors.nearest(t)).map(|(d, _)| d);
        let voice: Vec<Option<u8>> = rules.iter().map(|r| pick(&fuse(&w.probs, &distances, r))).collect();
        let shipped = pick(&fuse(&w.probs, &distances, &shipped_rule));
        (base, hybrid, dtw, voice, shipped)
    };
    for (_, w) in data.takes.iter().filter(|(t, _)| is_scored(*t, k)) {
        let (base, hybrid, dtw, voice, shipped) = answers(w);
        s.digits += 1;
        s.shipped += (shipped == w.digit) as usize;
        s.shipped_rescued += (base.is_none() && shipped == w.digit) as usize;
        s.base += (base == w.digit) as usize;
        s.hybrid += (hybrid == w.digit) as usize;
        s.dtw += (dtw == w.digit) as usize;
        s.base_rejected += base.is_none() as usize;
        for (n, x) in voice.iter().enumerate() {
            s.voice[n] += (*x == w.digit) as usize;
            s.voice_rescued[n] += (base.is_none() && *x == w.digit) as usize;
        }
    }
    for w in &data.words {
        let (base, hybrid, _, voice, shipped) = answers(w);
        s.words_rejected_shipped += shipped.is_none() as usize;
        s.words_rejected_base += base.is_none() as usize;
        s.words_rejected_hybrid += hybrid.is_none() as usize;
        for (n, x) in voice.iter().enumerate() {
            s.words_rejected_voice[n] += x.is_none() as usize;
        }
    }
    s
}

/// Percent, NaN for nothing counted.
pub fn pct(a: usize, b: usize) -> f64 {
    if b == 0 { f64::NAN } else { 100.0 * a as f64 / b as f64 }
}
