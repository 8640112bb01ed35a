//! The whole pipeline as plain synchronous code on 8 kHz audio: VAD -> growing buffer ->
//! incremental MFCC -> model -> prototype blend -> early exit -> saliency.
//!
//! Deterministic: the same samples give the same detections however they are split into
//! `push` calls (audio is processed in whole 16 ms hops). The buffer of a segment starts at the
//! speech onset minus the VAD pre-roll and is left-aligned in the 64-frame MFCC window, zero
//! padded after, exactly like a (prefix of a) trimmed FSDD training file.

use std::sync::Arc;
use std::time::Instant;

use crate::inference::model::{Model, N_OUTPUTS, NOT_A_DIGIT};
use crate::inference::saliency::{Saliency, SaliencyComputer};
use crate::signal::mfcc::{FEATURE_LEN, HOP, MfccExtractor, WINDOW_SAMPLES};
use crate::signal::vad::{BOUNDARY_MIN_WORD_MS, BoundaryKind, LEVEL_FLOOR_DB, Vad, VadEvent, ms_to_hops};
use crate::streaming::config::RecognizerConfig;
use crate::streaming::early_exit::{EarlyExitState, EarlyVerdict, FinalVerdict, final_verdict, top_digit};
use crate::streaming::settings::SharedSettings;
use crate::voice::matcher::VoiceMatcher;
use crate::voice::templates::WordEnd;

/// A segment that began at a word boundary is decided at its end only this sure (else it is
/// unsure): the next word of a fast string is nearly always decided early or surely, while
/// the rest of a word split at its own closure ("se|ven") scores low.
const AFTER_BOUNDARY_MIN_CONFIDENCE: f32 = 0.5;

/// A rise splits an undecided segment after "not a digit" only when that lasted this long, ms.
const RISE_SPLIT_MIN_REJECTED_MS: u32 = 320;

/// A decided segment splits at a rise only this long after its onset, ms (a digit word is
/// rarely longer; inside one, a rise is a vowel after a consonant).
const RISE_SPLIT_AFTER_DECIDED_MS: u32 = 480;

/// Longest pre-roll kept, samples (0.5 s).
const MAX_PRE_ROLL: usize = 4_000;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DetectionKind {
    /// Decided while the speaker was still talking.
    Early,
    /// Decided at the end of speech.
    Final,
    /// End of speech, but below `min_confidence`.
    Unsure,
    /// End of speech, and the model says it was not a digit (another word, a noise): no digit
    /// is reported, front ends show it and emit nothing.
    Rejected,
}

/// One decision about one spoken segment.
#[derive(Clone, Copy, Debug)]
pub struct Detection {
    /// The digit heard; `None` for [`DetectionKind::Rejected`].
    pub digit: Option<u8>,
    /// Probability of the decision: the digit's, or "not a digit"'s when rejected (blended).
    pub confidence: f32,
    /// Digits 0-9, then "not a digit" ([`NOT_A_DIGIT`]).
    pub probs: [f32; N_OUTPUTS],
    pub kind: DetectionKind,
    /// Sample positions at the rate the caller pushed (Recognizer: 8 kHz; Engine: input rate):
    /// speech onset, when the decision was made, and the end of speech (`None` if decided before
    /// speech ended).
    pub onset: u64,
    pub decision: u64,
    pub end: Option<u64>,
    /// MFCC + forward pass time of the deciding evaluation, microseconds.
    pub compute_us: u32,
    pub saliency: Option<Saliency>,
}

/// What a dashboard shows between decisions.
#[derive(Clone, Debug)]
pub struct LiveView {
    pub level_db: f32,
    pub noise_floor_db: f32,
    pub speech: bool,
    /// The last evaluated MFCC window.
    pub mfcc: Box<[f32; FEATURE_LEN]>,
    /// The last evaluation's (blended) probabilities, "not a digit" last.
    pub probs: [f32; N_OUTPUTS],
    /// Samples processed (at the caller's rate).
    pub processed: u64,
    /// Samples dropped before processing (ring overflow; the engine fills this in).
    pub dropped: u64,
    pub last_detection: Option<Detection>,
}

impl Default for LiveView {
    fn default() -> Self {
        Self {
            level_db: LEVEL_FLOOR_DB,
            noise_floor_db: crate::signal::vad::INITIAL_FLOOR_DB,
            speech: false,
            mfcc: Box::new([0.0; FEATURE_LEN]),
            probs: [0.0; N_OUTPUTS],
            processed: 0,
            dropped: 0,
            last_detection: None,
        }
    }
}

impl LiveView {
    /// Copies `other` into `self` without allocating (for a preallocated snapshot).
    pub fn copy_from(&mut self, other: &LiveView) {
        self.level_db = other.level_db;
        self.noise_floor_db = other.noise_floor_db;
        self.speech = other.speech;
        self.mfcc.copy_from_slice(&other.mfcc[..]);
        self.probs = other.probs;
        self.processed = other.processed;
        self.dropped = other.dropped;
        self.last_detection = other.last_detection;
    }
}

/// A whole spoken word as the VAD closed it: the segment's 8 kHz audio from the start of its
/// pre-roll to the end of speech (at most one MFCC window), exactly what the end-of-word
/// evaluation scores. Handed out only while [`Recognizer::set_capture_words`] is on (guided
/// enrollment, [`crate::voice::enrollment`]).
#[derive(Clone, Debug, PartialEq)]
pub struct CapturedWord {
    /// Speech onset and end of speech (stream positions at the caller's rate, like
    /// [`Detection`]'s).
    pub onset: u64,
    pub end: u64,
    /// 8 kHz mono samples, left-aligned as in the MFCC window.
    pub samples: Vec<f32>,
}

/// One speech segment in progress.
struct Segment {
    /// Stream position of `buffer[0]` and of the onset.
    start: u64,
    onset: u64,
    buffer: Vec<f32>,
    /// Buffer length the MFCC window currently reflects.
    computed_len: usize,
    hops: u32,
    early: EarlyExitState,
    decided: bool,
    /// Began at a word boundary inside a VAD segment (not at the VAD's onset).
    after_boundary: bool,
}

/// One evaluation's outcome.
struct Evaluation {
    probs: [f32; N_OUTPUTS],
    base: [f32; N_OUTPUTS],
    compute_us: u32,
}

pub struct Recognizer {
    model: Arc<Model>,
    config: RecognizerConfig,
    shared: Option<Arc<SharedSettings>>,
    voice: Option<Arc<VoiceMatcher>>,
    vad: Vad,
    mfcc: MfccExtractor,
    saliency: SaliencyComputer,
    window: Box<[f32; FEATURE_LEN]>,
    silence: Box<[f32; FEATURE_LEN]>,
    hop: [f32; HOP],
    hop_fill: usize,
    /// Recent audio for the pre-roll (at most `MAX_PRE_ROLL` samples).
    history: Vec<f32>,
    segment: Option<Segment>,
    /// Hop-aligned stream position (samples fed to the VAD, padding included).
    position: u64,
    live: LiveView,
    inference_errors: u64,
    evaluations: u64,
    /// Whole words closed since the last [`Recognizer::take_captured_words`] (when capturing).
    capture_words: bool,
    captured: Vec<CapturedWord>,
    /// Never split a VAD segment at a word boundary (guided enrollment).
    whole_words: bool,
}

impl Recognizer {
    pub fn new(model: Arc<Model>, config: RecognizerConfig) -> Self {
        let mut mfcc = MfccExtractor::new();
        let silence = mfcc.compute(&[]);
        Self {
            model,
            config,
            shared: None,
            voice: None,
            vad: Vad::new(config.vad),
            mfcc,
            saliency: SaliencyComputer::new(),
            window: silence.clone(),
            silence,
            hop: [0.0; HOP],
            hop_fill: 0,
            history: Vec::with_capacity(MAX_PRE_ROLL + HOP),
            segment: None,
            position: 0,
            live: LiveView::default(),
            inference_errors: 0,
            evaluations: 0,
            capture_words: false,
            captured: Vec::new(),
            whole_words: false,
        }
    }

    /// Keep a copy of every whole word the VAD closes (valid segments only), for
    /// [`Recognizer::take_captured_words`]. Decisions are unaffected. Turning it off drops
    /// words not taken yet.
    pub fn set_capture_words(&mut self, on: bool) {
        self.capture_words = on;
        if !on {
            self.captured.clear();
        }
    }

    pub fn captures_words(&self) -> bool {
        self.capture_words
    }

    /// One word per VAD segment: never split a segment at a word boundary. Guided enrollment
    /// turns this on (the user says one word at a time, and a take must be the whole word the
    /// VAD closed); everything else leaves it off, so fast digit strings are still split while
    /// words are captured for corrections.
    pub fn set_whole_words(&mut self, on: bool) {
        self.whole_words = on;
    }

    /// The words captured since the last call, oldest first.
    pub fn take_captured_words(&mut self) -> Vec<CapturedWord> {
        std::mem::take(&mut self.captured)
    }

    /// Reads live settings from `settings` before every hop (the engine's worker uses this).
    pub fn attach_settings(&mut self, settings: Arc<SharedSettings>) {
        self.shared = Some(settings);
    }

    pub fn config(&self) -> &RecognizerConfig {
        &self.config
    }

    /// Takes effect from the next hop.
    pub fn set_config(&mut self, config: RecognizerConfig) {
        self.config = config;
        self.vad.set_config(config.vad);
    }

    pub fn model(&self) -> &Arc<Model> {
        &self.model
    }

    /// The enrolled voice to score with (`None`: the model alone).
    pub fn set_voice(&mut self, voice: Option<Arc<VoiceMatcher>>) {
        self.voice = voice;
    }

    pub fn voice(&self) -> Option<&Arc<VoiceMatcher>> {
        self.voice.as_ref()
    }

    pub fn live(&self) -> &LiveView {
        &self.live
    }

    pub fn live_mut(&mut self) -> &mut LiveView {
        &mut self.live
    }

    /// Hop-aligned position of the stream, samples (8 kHz).
    pub fn position(&self) -> u64 {
        self.position
    }

    /// Model evaluations since creation (tools that study the early-exit rule watch this).
    pub fn evaluations(&self) -> u64 {
        self.evaluations
    }

    /// Hops the current segment has lasted (0 outside speech).
    pub fn segment_hops(&self) -> u32 {
        self.segment.as_ref().map_or(0, |s| s.hops)
    }

    /// Model failures since creation (each skips one evaluation).
    pub fn inference_errors(&self) -> u64 {
        self.inference_errors
    }

    /// Feeds 8 kHz mono audio. NaN/Inf samples count as 0.
    pub fn push(&mut self, samples_8k: &[f32], on_event: &mut dyn FnMut(Detection)) {
        for &s in samples_8k {
            self.hop[self.hop_fill] = if s.is_finite() { s } else { 0.0 };
            self.hop_fill += 1;
            if self.hop_fill == HOP {
                self.hop_fill = 0;
                let hop = self.hop;
                self.process_hop(&hop, on_event);
            }
        }
        self.live.processed += samples_8k.len() as u64;
    }

    /// End of stream: processes the last partial hop (zero-padded), decides any open segment and
    /// starts afresh (a new stream may follow; positions keep counting).
    pub fn finish(&mut self, on_event: &mut dyn FnMut(Detection)) {
        if self.hop_fill > 0 {
            self.hop[self.hop_fill..].fill(0.0);
            self.hop_fill = 0;
            let hop = self.hop;
            self.process_hop(&hop, on_event);
        }
        if let Some(VadEvent::End { last_hop, valid }) = self.vad.finish() {
            self.end_segment(last_hop, valid, on_event);
        }
        self.segment = None;
        self.vad = Vad::new(self.config.vad);
        self.history.clear();
        self.live.speech = false;
    }

    fn process_hop(&mut self, hop: &[f32; HOP], on_event: &mut dyn FnMut(Detection)) {
        if let Some(shared) = &self.shared {
            shared.load_into(&mut self.config);
            self.vad.set_config(self.config.vad);
        }
        let hop_start = self.position;
        self.position += HOP as u64;
        match self.vad.process_hop(hop) {
            VadEvent::Idle => {}
            VadEvent::Onset { .. } => self.start_segment(hop_start, hop, false, on_event),
            VadEvent::Boundary { last_hop, kind, .. } if self.split_at(last_hop, kind, on_event) => {
                self.start_segment(hop_start, hop, true, on_event)
            }
            VadEvent::Continue | VadEvent::Boundary { .. } => {
                if let Some(seg) = &mut self.segment {
                    let room = WINDOW_SAMPLES - seg.buffer.len();
                    seg.buffer.extend_from_slice(&hop[..room.min(HOP)]);
                    seg.hops += 1;
                }
                self.maybe_evaluate(on_event);
            }
            VadEvent::End { last_hop, valid } => self.end_segment(last_hop, valid, on_event),
        }
        self.history.extend_from_slice(hop);
        if self.history.len() > MAX_PRE_ROLL {
            let excess = self.history.len() - MAX_PRE_ROLL;
            self.history.drain(..excess);
        }
        self.live.level_db = self.vad.level_db();
        self.live.noise_floor_db = self.vad.noise_floor_db();
        self.live.speech = self.vad.in_speech();
    }

    /// Scores the first `len` samples of the segment buffer.
    fn evaluate(&mut self, len: usize, end: WordEnd) -> Option<Evaluation> {
        let seg = self.segment.as_mut()?;
        let t0 = Instant::now();
        let first = MfccExtractor::first_frame_touching(len.min(seg.computed_len));
        self.mfcc.compute_frames_from(&seg.buffer[..len], first, &mut self.window[..]);
        seg.computed_len = len;
        let inference = match self.model.infer(&self.window[..]) {
            Ok(i) => i,
            Err(_) => {
                self.inference_errors += 1;
                return None;
            }
        };
        let compute_us = t0.elapsed().as_micros().min(u32::MAX as u128) as u32;
        let probs = match &self.voice {
            Some(v) => v.score_word(
                &inference.probs,
                &inference.embedding,
                &self.window[..],
                len,
                end,
                self.config.mode,
                self.config.blend_weight,
            ),
            None => inference.probs,
        };
        self.live.mfcc.copy_from_slice(&self.window[..]);
        self.live.probs = probs;
        self.evaluations += 1;
        Some(Evaluation { probs, base: inference.probs, compute_us })
    }

    fn maybe_evaluate(&mut self, on_event: &mut dyn FnMut(Detection)) {
        let policy = self.config.early_exit;
        let min_hops = self.config.vad.min_speech_hops().max(1).max(policy.earliest_hops());
        let Some(seg) = &self.segment else { return };
        if seg.decided || seg.hops < min_hops || seg.hops % policy.every.max(1) != 0 {
            return;
        }
        // Once the window is full, further evaluations would see the same input.
        if seg.computed_len == WINDOW_SAMPLES {
            return;
        }
        let len = seg.buffer.len();
        let Some(eval) = self.evaluate(len, WordEnd::Open) else { return };
        let seg = self.segment.as_mut().expect("segment checked above");
        if let EarlyVerdict::Decide(digit) = seg.early.observe(&policy, &eval.probs) {
            seg.decided = true;
            let onset = seg.onset;
            let detection = self.detection(Some(digit), &eval, DetectionKind::Early, onset, None);
            self.emit(detection, on_event);
        }
    }

    /// A new segment whose onset is this hop (after the VAD's onset, or a word boundary).
    fn start_segment(
        &mut self,
        hop_start: u64,
        hop: &[f32; HOP],
        after_boundary: bool,
        on_event: &mut dyn FnMut(Detection),
    ) {
        let pre = self.config.vad.pre_roll_samples().min(self.history.len()).min(MAX_PRE_ROLL);
        let mut buffer = Vec::with_capacity(WINDOW_SAMPLES);
        buffer.extend_from_slice(&self.history[self.history.len() - pre..]);
        buffer.extend_from_slice(hop);
        buffer.truncate(WINDOW_SAMPLES);
        self.segment = Some(Segment {
            start: hop_start - pre as u64,
            onset: hop_start,
            buffer,
            computed_len: 0,
            hops: 1,
            early: EarlyExitState::default(),
            decided: false,
            after_boundary,
        });
        self.window.copy_from_slice(&self.silence[..]);
        self.maybe_evaluate(on_event);
    }

    /// The shortest segment decided at its end, samples. One that began at a word boundary
    /// must be as long as a word may be ([`BOUNDARY_MIN_WORD_MS`]), not merely longer than a
    /// click: what follows a valley inside a word (the final "s" of "six" after its closure)
    /// is shorter, and must not become a digit of its own.
    fn min_len(&self, seg: &Segment) -> u64 {
        let hops =
            if seg.after_boundary { ms_to_hops(BOUNDARY_MIN_WORD_MS) } else { self.config.vad.min_speech_hops() };
        hops as u64 * HOP as u64
    }

    /// Stream position (8 kHz samples) of the end of VAD hop `last_hop`: the VAD has seen
    /// `hops()` hops, the last ending at `self.position`.
    fn end_of_hop(&self, last_hop: u64) -> u64 {
        self.position - (self.vad.hops() - 1 - last_hop) * HOP as u64
    }

    /// A word boundary the VAD found (the word before it ended at `last_hop`): split the segment
    /// there when a whole word came before it, as the model tells. A segment already decided
    /// early had its word; an undecided one is scored up to the valley and split only if that
    /// gives a verdict (a digit, or "not a digit"), which is then emitted as its final
    /// decision. An unsure score means the valley was probably inside the word (the closure
    /// of "six"): the segment goes on.
    ///
    /// A rise (no valley before it) splits only after "not a digit" (a noise, then the word), or
    /// a segment decided at least [`RISE_SPLIT_AFTER_DECIDED_MS`] ago: vowels rise after
    /// consonants inside a word too.
    ///
    /// With [`Recognizer::set_whole_words`] on (guided enrollment) nothing is split.
    fn split_at(&mut self, last_hop: u64, kind: BoundaryKind, on_event: &mut dyn FnMut(Detection)) -> bool {
        if self.whole_words {
            return false;
        }
        let Some(seg) = &self.segment else { return true };
        if seg.decided {
            let long_enough = seg.hops >= ms_to_hops(RISE_SPLIT_AFTER_DECIDED_MS);
            if kind == BoundaryKind::Valley || long_enough {
                self.segment = None;
                return true;
            }
            return false;
        }
        let end = self.end_of_hop(last_hop);
        let long_before_rise = end >= seg.onset + ms_to_hops(RISE_SPLIT_MIN_REJECTED_MS) as u64 * HOP as u64;
        let split = match (self.verdict_until(end), kind) {
            (Some((eval, FinalVerdict::Digit(d))), BoundaryKind::Valley) => Some((eval, Some(d), DetectionKind::Final)),
            (Some((eval, FinalVerdict::NotADigit)), BoundaryKind::Valley) => {
                Some((eval, None, DetectionKind::Rejected))
            }
            // Before a rise, only a long "not a digit" (a noise, then the word): a short one is
            // more often the first syllable of a word whose rest would then pass for a digit.
            (Some((eval, FinalVerdict::NotADigit)), BoundaryKind::Rise) if long_before_rise => {
                Some((eval, None, DetectionKind::Rejected))
            }
            _ => None,
        };
        let Some((eval, digit, kind)) = split else { return false };
        let onset = self.segment.as_ref().map_or(0, |s| s.onset);
        let kind = self.unsure_after_boundary(kind, &eval);
        let detection = self.detection(digit, &eval, kind, onset, Some(end));
        self.emit(detection, on_event);
        self.segment = None;
        true
    }

    /// Scores the segment up to stream position `end` and applies the final rule.
    fn verdict_until(&mut self, end: u64) -> Option<(Evaluation, FinalVerdict)> {
        let seg = self.segment.as_ref()?;
        let len = ((end.saturating_sub(seg.start)) as usize).clamp(HOP.min(seg.buffer.len()), seg.buffer.len());
        let eval = self.evaluate(len, WordEnd::Closed)?;
        let verdict = final_verdict(&self.config.early_exit, &eval.probs);
        Some((eval, verdict))
    }

    /// A final digit of a segment that began at a word boundary, below
    /// [`AFTER_BOUNDARY_MIN_CONFIDENCE`], is unsure (reported, no note).
    fn unsure_after_boundary(&self, kind: DetectionKind, eval: &Evaluation) -> DetectionKind {
        let after_boundary = self.segment.as_ref().is_some_and(|s| s.after_boundary);
        let sure = top_digit(&eval.probs).1 >= AFTER_BOUNDARY_MIN_CONFIDENCE;
        if kind == DetectionKind::Final && after_boundary && !sure { DetectionKind::Unsure } else { kind }
    }

    fn end_segment(&mut self, last_hop: u64, valid: bool, on_event: &mut dyn FnMut(Detection)) {
        let end = self.end_of_hop(last_hop);
        if self.capture_words
            && valid
            && let Some(seg) = &self.segment
        {
            let len = ((end.saturating_sub(seg.start)) as usize).clamp(HOP.min(seg.buffer.len()), seg.buffer.len());
            self.captured.push(CapturedWord { onset: seg.onset, end, samples: seg.buffer[..len].to_vec() });
        }
        let decide =
            matches!(&self.segment, Some(seg) if valid && !seg.decided && end >= seg.onset + self.min_len(seg));
        if decide {
            let onset = self.segment.as_ref().map_or(0, |s| s.onset);
            if let Some((eval, verdict)) = self.verdict_until(end) {
                let kind = match verdict {
                    FinalVerdict::Digit(d) => Some((Some(d), DetectionKind::Final)),
                    FinalVerdict::Unsure(d) => Some((Some(d), DetectionKind::Unsure)),
                    FinalVerdict::NotADigit => Some((None, DetectionKind::Rejected)),
                    FinalVerdict::Nothing => None,
                };
                if let Some((digit, kind)) = kind {
                    let kind = self.unsure_after_boundary(kind, &eval);
                    let detection = self.detection(digit, &eval, kind, onset, Some(end));
                    self.emit(detection, on_event);
                }
            }
        }
        self.segment = None;
    }

    fn detection(
        &mut self,
        digit: Option<u8>,
        eval: &Evaluation,
        kind: DetectionKind,
        onset: u64,
        end: Option<u64>,
    ) -> Detection {
        let label = digit.map_or(NOT_A_DIGIT, usize::from);
        let saliency = match digit {
            Some(d) if self.config.saliency && kind != DetectionKind::Unsure => {
                self.saliency.compute(&self.model, &self.window[..], d, eval.base[label]).ok()
            }
            _ => None,
        };
        Detection {
            digit,
            confidence: eval.probs[label],
            probs: eval.probs,
            kind,
            onset,
            decision: self.position,
            end,
            compute_us: eval.compute_us,
            saliency,
        }
    }

    fn emit(&mut self, detection: Detection, on_event: &mut dyn FnMut(Detection)) {
        self.live.last_detection = Some(detection);
        on_event(detection);
    }
}
