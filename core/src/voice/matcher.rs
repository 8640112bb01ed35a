//! The enrolled voice at work: what the recognizer asks of it on every evaluation.
//!
//! A [`VoiceMatcher`] is built from a [`Voice`] (its takes, as audio) and the model, off the
//! real-time path: each take's MFCC window is computed with the same [`MfccExtractor`] the
//! recognizer uses, embedded by the model (for the prototype modes) and kept as a DTW template.
//!
//! [`ScoringMode::Voice`] fuses the two kinds of evidence per digit ([`fuse`]):
//! `score(k) = w * max(ln p(k), floor) - d(k) / (mean_d * tau)`, where `p` is the model's
//! probability of digit `k` among digits and `d(k)` the DTW distance to the nearest template of
//! `k`, measured against the mean over enrolled digits (so the rule does not depend on how far
//! apart one speaker's or microphone's words are). Digits not enrolled count as average matches.
//! And the enrolled evidence decides rejection too: a word whose nearest template is within
//! [`FusionRule::accept_below`] and clearly nearer than the other digits
//! ([`FusionRule::accept_relative`]) is a digit even when the model says "not a digit";
//! otherwise the model's "not a digit" probability stands, so speech that matches nothing
//! enrolled is still rejected. On the held-out voices a speaker's own digits lie 1.8-3.1 from
//! their nearest template (5th-95th percentile, every frame), other speakers' words 3.1-4.1.

use crate::inference::model::{Model, ModelError, N_DIGITS, N_OUTPUTS, NOT_A_DIGIT};
use crate::signal::mfcc::MfccExtractor;
use crate::voice::prototypes::{PrototypeError, PrototypeSet, ScoringMode};
use crate::voice::store::Voice;
use crate::voice::templates::{TemplateFeatures, TemplateSet, WordEnd};

/// The fusion of model and templates ([`fuse`]). The defaults were chosen on the enrollment
/// benchmark (`cargo xtask bench-enroll`, held-out FSDD voices; see docs/measurements.md).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FusionRule {
    /// Weight of the model's log-probability against the templates' score.
    pub model_weight: f32,
    /// Temperature of the relative template distance.
    pub tau: f32,
    /// The model's log-probability counts no lower than this.
    pub log_floor: f32,
    /// Nearest-template DTW distance under which a word is a digit whatever the model says
    /// (0 = the model alone rejects) ...
    pub accept_below: f32,
    /// ... as long as that nearest distance is also under this share of the mean over enrolled
    /// digits (a word of the user's stands out from their other digits; a stranger's word is
    /// about as far from all of them).
    pub accept_relative: f32,
}

impl Default for FusionRule {
    fn default() -> Self {
        // Chosen on all six held-out FSDD voices at K = 1, 3 and 5 (and the same rule wins for
        // four of six speakers when chosen on the other five only): docs/measurements.md.
        Self { model_weight: 1.0, tau: 0.05, log_floor: -30.0, accept_below: 3.0, accept_relative: 0.85 }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum VoiceBuildError {
    #[error("the voice has no takes: nothing to match")]
    Empty,
    #[error("the model could not embed take {take} (digit {digit}): {source}")]
    Model { take: usize, digit: u8, source: ModelError },
    #[error("take {take} (digit {digit}) does not fit the prototypes: {source}")]
    Prototype { take: usize, digit: u8, source: PrototypeError },
}

/// The fused distribution ([`ScoringMode::Voice`]) from the model's output and each digit's
/// nearest-template distance (`None` = not enrolled). Without any distance, `base` unchanged.
pub fn fuse(base: &[f32; N_OUTPUTS], distances: &[Option<f32>; N_DIGITS], rule: &FusionRule) -> [f32; N_OUTPUTS] {
    let enrolled: Vec<f32> = distances.iter().flatten().copied().filter(|d| d.is_finite()).collect();
    if enrolled.is_empty() {
        return *base;
    }
    let mean_d = (enrolled.iter().sum::<f32>() / enrolled.len() as f32).max(1e-6);
    let nearest = enrolled.iter().copied().fold(f32::INFINITY, f32::min);
    let digit_mass = base[..N_DIGITS].iter().sum::<f32>().max(1e-12);
    let tau = rule.tau.max(1e-4);
    let mut score = [0.0f32; N_DIGITS];
    for k in 0..N_DIGITS {
        let lp = (base[k] / digit_mass).max(1e-30).ln().max(rule.log_floor);
        let relative = distances[k].filter(|d| d.is_finite()).map_or(1.0, |d| d / mean_d);
        score[k] = rule.model_weight * lp - relative / tau;
    }
    let top = score.iter().copied().fold(f32::MIN, f32::max);
    let exp: [f32; N_DIGITS] = std::array::from_fn(|k| (score[k] - top).exp());
    let total: f32 = exp.iter().sum();
    let accepted = nearest < rule.accept_below && nearest < rule.accept_relative * mean_d;
    let reject = if accepted { 0.0 } else { base[NOT_A_DIGIT].clamp(0.0, 1.0) };
    let mut out = [0.0f32; N_OUTPUTS];
    for k in 0..N_DIGITS {
        out[k] = (1.0 - reject) * exp[k] / total;
    }
    out[NOT_A_DIGIT] = reject;
    out
}

/// One enrolled voice, ready to score.
#[derive(Clone, Debug)]
pub struct VoiceMatcher {
    templates: TemplateSet,
    prototypes: PrototypeSet,
    rule: FusionRule,
    counts: [usize; N_DIGITS],
}

impl VoiceMatcher {
    /// Templates and prototypes of every take, with the model the recognizer runs. Takes too
    /// quiet to hold a word still count for the prototypes but give no template.
    pub fn build(model: &Model, voice: &Voice) -> Result<Self, VoiceBuildError> {
        if voice.is_empty() {
            return Err(VoiceBuildError::Empty);
        }
        let mut extractor = MfccExtractor::new();
        let mut prototypes = PrototypeSet::new(model.embedding_dim()).with_model_fingerprint(model.fingerprint());
        let mut templates = TemplateSet::new();
        for (i, take) in voice.takes().iter().enumerate() {
            let (take_no, digit) = (i + 1, take.digit);
            let window = extractor.compute(&take.samples);
            let inference =
                model.infer(&window[..]).map_err(|source| VoiceBuildError::Model { take: take_no, digit, source })?;
            prototypes.add_example(digit, &inference.embedding).map_err(|source| VoiceBuildError::Prototype {
                take: take_no,
                digit,
                source,
            })?;
            if let Some(t) = TemplateFeatures::from_mfcc(&window[..], take.samples.len()) {
                templates.add(digit, t);
            }
        }
        Ok(Self { templates, prototypes, rule: FusionRule::default(), counts: voice.counts() })
    }

    /// A matcher from parts computed elsewhere (the benchmark's cached windows).
    pub fn from_parts(templates: TemplateSet, prototypes: PrototypeSet, rule: FusionRule) -> Self {
        let counts = std::array::from_fn(|d| prototypes.count(d as u8).max(templates.count(d as u8)));
        Self { templates, prototypes, rule, counts }
    }

    pub fn with_rule(mut self, rule: FusionRule) -> Self {
        self.rule = rule;
        self
    }

    pub fn rule(&self) -> &FusionRule {
        &self.rule
    }

    /// Takes per digit.
    pub fn counts(&self) -> [usize; N_DIGITS] {
        self.counts
    }

    pub fn prototypes(&self) -> &PrototypeSet {
        &self.prototypes
    }

    pub fn templates(&self) -> &TemplateSet {
        &self.templates
    }

    /// Each enrolled digit's nearest-template distance to the word in `mfcc` (computed from
    /// `samples` samples); all `None` when the window holds no word.
    pub fn distances(&self, mfcc: &[f32], samples: usize, end: WordEnd) -> [Option<f32>; N_DIGITS] {
        match TemplateFeatures::from_mfcc(mfcc, samples) {
            Some(query) => self.templates.distances_to(&query, end),
            None => [None; N_DIGITS],
        }
    }

    /// The recognizer's distribution for a whole word under `mode` (`weight`: the prototypes'
    /// share in hybrid).
    pub fn score(
        &self,
        base: &[f32; N_OUTPUTS],
        embedding: &[f32],
        mfcc: &[f32],
        samples: usize,
        mode: ScoringMode,
        weight: f32,
    ) -> [f32; N_OUTPUTS] {
        self.score_word(base, embedding, mfcc, samples, WordEnd::Closed, mode, weight)
    }

    /// [`score`](Self::score) for a whole word or (early decisions) one still being spoken.
    /// While the word is open, the enrolled evidence re-ranks digits but never overrides "not a
    /// digit": a prefix is too little to accept on.
    #[allow(clippy::too_many_arguments, reason = "the recognizer's one call site passes what it has")]
    pub fn score_word(
        &self,
        base: &[f32; N_OUTPUTS],
        embedding: &[f32],
        mfcc: &[f32],
        samples: usize,
        end: WordEnd,
        mode: ScoringMode,
        weight: f32,
    ) -> [f32; N_OUTPUTS] {
        match (mode, end) {
            (ScoringMode::Voice, WordEnd::Closed) => fuse(base, &self.distances(mfcc, samples, end), &self.rule),
            (ScoringMode::Voice, WordEnd::Open) => {
                let rule = FusionRule { accept_below: 0.0, ..self.rule };
                fuse(base, &self.distances(mfcc, samples, end), &rule)
            }
            (other, _) => self.prototypes.blend(base, embedding, other, weight),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base_saying(k: usize, p: f32) -> [f32; N_OUTPUTS] {
        let mut b = [(1.0 - p) / 10.0; N_OUTPUTS];
        b[k] = p;
        b
    }

    #[test]
    fn a_close_template_outweighs_a_model_that_is_sure_and_wrong() {
        let mut d = [Some(1.0f32); N_DIGITS];
        d[4] = Some(0.6);
        let rule = FusionRule::default();
        let out = fuse(&base_saying(9, 0.99), &d, &rule);
        assert_eq!(crate::streaming::early_exit::top(&out).0, 4, "{out:?}");
        assert!((out.iter().sum::<f32>() - 1.0).abs() < 1e-5);
        // With the templates undecided, the model decides.
        let flat = [Some(1.0f32); N_DIGITS];
        assert_eq!(crate::streaming::early_exit::top(&fuse(&base_saying(9, 0.9), &flat, &rule)).0, 9);
        // Nothing enrolled: the model's output as it was.
        let b = base_saying(2, 0.7);
        assert_eq!(fuse(&b, &[None; N_DIGITS], &rule), b);
    }

    #[test]
    fn only_a_close_template_overrides_not_a_digit() {
        let mut base = [0.01f32; N_OUTPUTS];
        base[NOT_A_DIGIT] = 0.9;
        let mut d = [Some(1.2f32); N_DIGITS];
        d[3] = Some(0.5);
        let rule = FusionRule { accept_below: 0.6, accept_relative: 0.8, ..FusionRule::default() };
        let kept = fuse(&base, &d, &rule);
        assert_eq!((kept[NOT_A_DIGIT], crate::streaming::early_exit::top(&kept).0), (0.0, 3));
        d[3] = Some(0.8);
        assert_eq!(fuse(&base, &d, &rule)[NOT_A_DIGIT], 0.9, "a far match leaves the rejection");
        // Close in absolute terms, but no closer than to every other digit: a stranger's word.
        let flat = [Some(0.55f32); N_DIGITS];
        assert_eq!(fuse(&base, &flat, &rule)[NOT_A_DIGIT], 0.9);
    }
}
