//! Few-shot enrollment: per-digit mean embeddings compared by cosine similarity, blended with
//! the CNN's probabilities.
//!
//! Each example embedding is L2-normalised and averaged into its digit's prototype. Scoring an
//! embedding gives cosine similarities to the enrolled prototypes, turned into probabilities by
//! a softmax with temperature [`PROTO_TEMPERATURE`]. Digits nobody enrolled keep the CNN's
//! probability; the enrolled digits share the rest of the mass by prototype similarity. So a
//! partial enrollment only re-ranks what it knows.
//! - [`ScoringMode::Base`]: the CNN alone.
//! - [`ScoringMode::Proto`]: the prototypes alone (where enrolled).
//! - [`ScoringMode::Hybrid`]: `(1 - w) * base + w * proto`.
//! - [`ScoringMode::Voice`] is not the prototypes' to score: the templates and the model, fused by
//!   [`crate::voice::matcher`] (a prototype set alone leaves the base model's output there).
//!
//! Prototypes are per digit only: the model's "not a digit" probability is never touched, so
//! rejection works the same in every mode and the prototypes re-rank what is left.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::inference::model::{N_DIGITS, N_OUTPUTS, NOT_A_DIGIT};

/// Softmax temperature over cosine similarities (cosines live in [-1, 1]; 0.05 makes a 0.1
/// cosine gap a factor e^2 in probability).
pub const PROTO_TEMPERATURE: f32 = 0.05;
/// JSON format tag and current version.
pub const FORMAT: &str = "fsdd-prototypes";
pub const VERSION: u32 = 1;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ScoringMode {
    #[default]
    Base,
    Proto,
    Hybrid,
    /// The enrolled takes as DTW templates fused with the model ([`crate::voice::matcher`]):
    /// the default once a voice is enrolled.
    Voice,
}

impl ScoringMode {
    pub const ALL: [ScoringMode; 4] = [ScoringMode::Base, ScoringMode::Voice, ScoringMode::Proto, ScoringMode::Hybrid];

    pub fn as_str(self) -> &'static str {
        match self {
            ScoringMode::Base => "base",
            ScoringMode::Proto => "proto",
            ScoringMode::Hybrid => "hybrid",
            ScoringMode::Voice => "voice",
        }
    }
}

impl fmt::Display for ScoringMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ScoringMode {
    type Err = PrototypeError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "base" => Ok(ScoringMode::Base),
            "proto" => Ok(ScoringMode::Proto),
            "hybrid" => Ok(ScoringMode::Hybrid),
            "voice" => Ok(ScoringMode::Voice),
            _ => Err(PrototypeError::UnknownMode(s.to_owned())),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PrototypeError {
    #[error("digit {0} is not 0-9")]
    BadDigit(u8),
    #[error("embedding has {got} values, the prototypes use {expected}")]
    DimensionMismatch { expected: usize, got: usize },
    #[error("embedding contains NaN or infinite values")]
    NonFinite,
    #[error("{path}: cannot read or write prototypes: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("not a valid prototypes file: {0}")]
    Invalid(String),
    #[error("unknown scoring mode {0:?}: use base, voice, proto or hybrid")]
    UnknownMode(String),
}

/// One digit's prototype as stored: the mean of normalised example embeddings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct DigitPrototype {
    digit: u8,
    count: usize,
    mean: Vec<f32>,
}

#[derive(Serialize, Deserialize)]
struct PrototypeFile {
    format: String,
    version: u32,
    embedding_dim: usize,
    #[serde(default)]
    model_fingerprint: Option<String>,
    digits: Vec<DigitPrototype>,
}

/// Per-digit mean embeddings.
#[derive(Clone, Debug, PartialEq)]
pub struct PrototypeSet {
    embedding_dim: usize,
    /// Hex fingerprint of the model the embeddings came from, if known.
    model_fingerprint: Option<String>,
    means: [Vec<f32>; N_DIGITS],
    counts: [usize; N_DIGITS],
}

fn l2_normalised(v: &[f32]) -> Vec<f32> {
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 { v.iter().map(|x| x / norm).collect() } else { v.to_vec() }
}

fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let (mut dot, mut na, mut nb) = (0.0f32, 0.0f32, 0.0f32);
    for (x, y) in a.iter().zip(b) {
        dot += x * y;
        na += x * x;
        nb += y * y;
    }
    if na == 0.0 || nb == 0.0 { 0.0 } else { dot / (na.sqrt() * nb.sqrt()) }
}

impl PrototypeSet {
    pub fn new(embedding_dim: usize) -> Self {
        Self { embedding_dim, model_fingerprint: None, means: Default::default(), counts: [0; N_DIGITS] }
    }

    /// Records which model produced the embeddings (see [`crate::Model::fingerprint`]).
    pub fn with_model_fingerprint(mut self, fingerprint: u64) -> Self {
        self.model_fingerprint = Some(format!("{fingerprint:016x}"));
        self
    }

    pub fn model_fingerprint(&self) -> Option<&str> {
        self.model_fingerprint.as_deref()
    }

    /// Whether these prototypes were enrolled with the model that has `fingerprint` (true when
    /// the file does not say).
    pub fn matches_model(&self, fingerprint: u64) -> bool {
        self.model_fingerprint.as_deref().is_none_or(|f| f == format!("{fingerprint:016x}"))
    }

    pub fn embedding_dim(&self) -> usize {
        self.embedding_dim
    }

    /// Adds one example embedding of `digit` to its running mean.
    pub fn add_example(&mut self, digit: u8, embedding: &[f32]) -> Result<(), PrototypeError> {
        if digit as usize >= N_DIGITS {
            return Err(PrototypeError::BadDigit(digit));
        }
        if embedding.len() != self.embedding_dim {
            return Err(PrototypeError::DimensionMismatch { expected: self.embedding_dim, got: embedding.len() });
        }
        if embedding.iter().any(|x| !x.is_finite()) {
            return Err(PrototypeError::NonFinite);
        }
        let d = digit as usize;
        let unit = l2_normalised(embedding);
        let n = self.counts[d] as f32;
        if self.means[d].is_empty() {
            self.means[d] = unit;
        } else {
            for (m, u) in self.means[d].iter_mut().zip(&unit) {
                *m = (*m * n + u) / (n + 1.0);
            }
        }
        self.counts[d] += 1;
        Ok(())
    }

    /// Examples enrolled for `digit` (0 for digits outside 0-9).
    pub fn count(&self, digit: u8) -> usize {
        self.counts.get(digit as usize).copied().unwrap_or(0)
    }

    /// Forgets one digit's examples.
    pub fn clear_digit(&mut self, digit: u8) {
        if let Some(c) = self.counts.get_mut(digit as usize) {
            *c = 0;
            self.means[digit as usize].clear();
        }
    }

    pub fn is_empty(&self) -> bool {
        self.counts.iter().all(|&c| c == 0)
    }

    /// Cosine similarity of `embedding` to each enrolled digit's prototype (`None` if not enrolled).
    pub fn similarities(&self, embedding: &[f32]) -> [Option<f32>; N_DIGITS] {
        let mut out = [None; N_DIGITS];
        if embedding.len() != self.embedding_dim {
            return out;
        }
        for d in 0..N_DIGITS {
            if self.counts[d] > 0 {
                out[d] = Some(cosine(embedding, &self.means[d]));
            }
        }
        out
    }

    /// The prototype-only distribution: enrolled digits share the base probability mass they
    /// hold by softmax of cosine similarity; other digits, and "not a digit", keep the base
    /// probability.
    pub fn proto_probs(&self, base_probs: &[f32; N_OUTPUTS], embedding: &[f32]) -> [f32; N_OUTPUTS] {
        let sims = self.similarities(embedding);
        if sims.iter().all(Option::is_none) {
            return *base_probs;
        }
        let all_enrolled = sims.iter().all(Option::is_some);
        // With every digit enrolled they share all the mass the model gave to digits; the
        // explicit form keeps a digits-only model's set summing to exactly 1.
        let enrolled_mass: f32 = if all_enrolled {
            1.0 - base_probs[NOT_A_DIGIT]
        } else {
            (0..N_DIGITS).filter(|&d| sims[d].is_some()).map(|d| base_probs[d]).sum()
        };
        let max_sim = sims.iter().flatten().fold(f32::MIN, |a, &b| a.max(b));
        let mut exp = [0.0f32; N_DIGITS];
        let mut total = 0.0;
        for d in 0..N_DIGITS {
            if let Some(s) = sims[d] {
                exp[d] = ((s - max_sim) / PROTO_TEMPERATURE).exp();
                total += exp[d];
            }
        }
        let mut out = *base_probs;
        for d in 0..N_DIGITS {
            if sims[d].is_some() {
                out[d] = enrolled_mass * exp[d] / total;
            }
        }
        out
    }

    /// Scores under `mode`; `weight` (clamped to 0..=1) is the prototypes' share in hybrid mode.
    /// A mismatched embedding or an empty set leaves `base_probs` unchanged.
    pub fn blend(
        &self,
        base_probs: &[f32; N_OUTPUTS],
        embedding: &[f32],
        mode: ScoringMode,
        weight: f32,
    ) -> [f32; N_OUTPUTS] {
        match mode {
            ScoringMode::Base | ScoringMode::Voice => *base_probs,
            ScoringMode::Proto => self.proto_probs(base_probs, embedding),
            ScoringMode::Hybrid => {
                let w = if weight.is_finite() { weight.clamp(0.0, 1.0) } else { 0.0 };
                let proto = self.proto_probs(base_probs, embedding);
                let mut out = [0.0; N_OUTPUTS];
                for d in 0..N_OUTPUTS {
                    out[d] = (1.0 - w) * base_probs[d] + w * proto[d];
                }
                out
            }
        }
    }

    pub fn to_json(&self) -> String {
        let file = PrototypeFile {
            format: FORMAT.into(),
            version: VERSION,
            embedding_dim: self.embedding_dim,
            model_fingerprint: self.model_fingerprint.clone(),
            digits: (0..N_DIGITS)
                .filter(|&d| self.counts[d] > 0)
                .map(|d| DigitPrototype { digit: d as u8, count: self.counts[d], mean: self.means[d].clone() })
                .collect(),
        };
        serde_json::to_string_pretty(&file).expect("prototype sets always serialise")
    }

    /// Parses and validates; any inconsistency is an error (the caller keeps its current set).
    pub fn from_json(s: &str) -> Result<Self, PrototypeError> {
        let invalid = |m: String| PrototypeError::Invalid(m);
        let file: PrototypeFile = serde_json::from_str(s).map_err(|e| invalid(e.to_string()))?;
        if file.format != FORMAT {
            return Err(invalid(format!("format is {:?}, expected {FORMAT:?}", file.format)));
        }
        if file.version != VERSION {
            return Err(invalid(format!(
                "version {} is not supported (this build reads version {VERSION})",
                file.version
            )));
        }
        if file.embedding_dim == 0 || file.embedding_dim > crate::inference::model::MAX_EMBEDDING_DIM {
            return Err(invalid(format!("embedding_dim {} is out of range", file.embedding_dim)));
        }
        let mut set = PrototypeSet::new(file.embedding_dim);
        set.model_fingerprint = file.model_fingerprint;
        for p in file.digits {
            let d = p.digit as usize;
            if d >= N_DIGITS {
                return Err(invalid(format!("digit {} is not 0-9", p.digit)));
            }
            if set.counts[d] > 0 {
                return Err(invalid(format!("digit {d} appears twice")));
            }
            if p.count == 0 {
                return Err(invalid(format!("digit {d} has count 0")));
            }
            if p.mean.len() != file.embedding_dim {
                return Err(invalid(format!(
                    "digit {d} has {} values, embedding_dim is {}",
                    p.mean.len(),
                    file.embedding_dim
                )));
            }
            if p.mean.iter().any(|x| !x.is_finite()) {
                return Err(invalid(format!("digit {d} has non-finite values")));
            }
            set.counts[d] = p.count;
            set.means[d] = p.mean;
        }
        Ok(set)
    }

    /// Writes atomically (temp file + rename), creating the directory.
    pub fn save(&self, path: &Path) -> Result<(), PrototypeError> {
        let io = |source| PrototypeError::Io { path: path.to_owned(), source };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        let tmp = path.with_extension("json.tmp");
        std::fs::write(&tmp, self.to_json()).map_err(io)?;
        std::fs::rename(&tmp, path).map_err(io)
    }

    pub fn load(path: &Path) -> Result<Self, PrototypeError> {
        let text =
            std::fs::read_to_string(path).map_err(|source| PrototypeError::Io { path: path.to_owned(), source })?;
        Self::from_json(&text).map_err(|e| match e {
            PrototypeError::Invalid(m) => PrototypeError::Invalid(format!("{}: {m}", path.display())),
            other => other,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn onehot(dim: usize, i: usize) -> Vec<f32> {
        let mut v = vec![0.0; dim];
        v[i] = 1.0;
        v
    }

    #[test]
    fn modes_parse_and_print() {
        for m in ScoringMode::ALL {
            assert_eq!(m.to_string().parse::<ScoringMode>().unwrap(), m);
        }
        assert_eq!(" Hybrid ".parse::<ScoringMode>().unwrap(), ScoringMode::Hybrid);
        assert!("fancy".parse::<ScoringMode>().unwrap_err().to_string().contains("fancy"));
        assert_eq!(ScoringMode::default(), ScoringMode::Base);
    }

    #[test]
    fn prototypes_pull_the_blend_towards_the_nearest_digit() {
        let mut set = PrototypeSet::new(10);
        for d in 0..10u8 {
            set.add_example(d, &onehot(10, d as usize)).unwrap();
            set.add_example(d, &onehot(10, d as usize)).unwrap();
        }
        assert_eq!(set.count(3), 2);
        let mut base = [0.1f32; N_OUTPUTS];
        base[NOT_A_DIGIT] = 0.0;
        let mut emb = onehot(10, 4);
        emb[5] = 0.3;
        let proto = set.blend(&base, &emb, ScoringMode::Proto, 0.5);
        assert_eq!(crate::streaming::early_exit::top(&proto).0, 4);
        assert!((proto.iter().sum::<f32>() - 1.0).abs() < 1e-5);
        let hybrid = set.blend(&base, &emb, ScoringMode::Hybrid, 0.5);
        assert!((hybrid[4] - (0.05 + 0.5 * proto[4])).abs() < 1e-6);
        assert_eq!(set.blend(&base, &emb, ScoringMode::Base, 0.5), base);
        // A wrong-sized embedding never panics and changes nothing.
        assert_eq!(set.blend(&base, &[1.0, 2.0], ScoringMode::Proto, 0.5), base);
    }

    #[test]
    fn partial_enrollment_only_reranks_enrolled_digits() {
        let mut set = PrototypeSet::new(4);
        set.add_example(1, &[1.0, 0.0, 0.0, 0.0]).unwrap();
        set.add_example(2, &[0.0, 1.0, 0.0, 0.0]).unwrap();
        let mut base = [0.0f32; N_OUTPUTS];
        base[1] = 0.3;
        base[2] = 0.3;
        base[7] = 0.4;
        let p = set.blend(&base, &[0.0, 1.0, 0.0, 0.0], ScoringMode::Proto, 1.0);
        assert_eq!(p[7], 0.4);
        assert!((p[1] + p[2] - 0.6).abs() < 1e-6 && p[2] > 0.59);
    }

    #[test]
    fn not_a_digit_keeps_its_probability_in_every_mode() {
        let mut set = PrototypeSet::new(10);
        for d in 0..10u8 {
            set.add_example(d, &onehot(10, d as usize)).unwrap();
        }
        let mut base = [0.02f32; N_OUTPUTS];
        base[NOT_A_DIGIT] = 0.8;
        let emb = onehot(10, 6);
        for mode in ScoringMode::ALL {
            let p = set.blend(&base, &emb, mode, 0.5);
            assert_eq!(p[NOT_A_DIGIT], 0.8, "{mode}");
            assert!((p.iter().sum::<f32>() - 1.0).abs() < 1e-5, "{mode}");
        }
        // The digits share what is left, re-ranked by the prototypes.
        let proto = set.blend(&base, &emb, ScoringMode::Proto, 1.0);
        assert!(proto[6] > 0.19, "{proto:?}");
    }

    #[test]
    fn json_round_trips_and_garbage_is_rejected() {
        let mut set = PrototypeSet::new(3).with_model_fingerprint(0xabc);
        set.add_example(0, &[1.0, 2.0, 2.0]).unwrap();
        set.add_example(9, &[0.0, 0.0, -1.0]).unwrap();
        let back = PrototypeSet::from_json(&set.to_json()).unwrap();
        assert_eq!(back, set);
        assert!(back.matches_model(0xabc) && !back.matches_model(0xabd));

        for bad in [
            "",
            "not json",
            "{}",
            r#"{"format":"other","version":1,"embedding_dim":3,"digits":[]}"#,
            r#"{"format":"fsdd-prototypes","version":99,"embedding_dim":3,"digits":[]}"#,
            r#"{"format":"fsdd-prototypes","version":1,"embedding_dim":3,"digits":[{"digit":11,"count":1,"mean":[1,2,3]}]}"#,
            r#"{"format":"fsdd-prototypes","version":1,"embedding_dim":3,"digits":[{"digit":1,"count":1,"mean":[1,2]}]}"#,
            r#"{"format":"fsdd-prototypes","version":1,"embedding_dim":3,"digits":[{"digit":1,"count":0,"mean":[1,2,3]}]}"#,
        ] {
            assert!(matches!(PrototypeSet::from_json(bad), Err(PrototypeError::Invalid(_))), "{bad}");
        }
        assert!(matches!(set.add_example(10, &[1.0, 0.0, 0.0]), Err(PrototypeError::BadDigit(10))));
        assert!(matches!(set.add_example(1, &[1.0]), Err(PrototypeError::DimensionMismatch { .. })));
        assert!(matches!(set.add_example(1, &[f32::NAN, 0.0, 0.0]), Err(PrototypeError::NonFinite)));
    }

    #[test]
    fn save_and_load_a_file_and_keep_nothing_from_garbage() {
        let dir = std::env::temp_dir().join(format!("fsdd-proto-test-{}", std::process::id()));
        let path = dir.join("sub").join("prototypes.json");
        let mut set = PrototypeSet::new(2);
        set.add_example(5, &[0.5, 0.5]).unwrap();
        set.save(&path).unwrap();
        assert_eq!(PrototypeSet::load(&path).unwrap(), set);
        std::fs::write(&path, b"\x00\xffgarbage").unwrap();
        let err = PrototypeSet::load(&path).unwrap_err();
        assert!(err.to_string().contains("prototypes.json"), "{err}");
        assert!(matches!(PrototypeSet::load(&dir.join("missing.json")), Err(PrototypeError::Io { .. })));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
