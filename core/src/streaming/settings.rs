//! Settings a UI changes while the recognizer runs: plain atomics, read every hop, so no thread
//! ever waits for another to change a threshold.

use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU32, Ordering::Relaxed};

use crate::streaming::config::RecognizerConfig;
use crate::voice::prototypes::ScoringMode;

/// An f32 in an `AtomicU32`.
#[derive(Debug)]
struct AtomicF32(AtomicU32);

impl AtomicF32 {
    fn new(v: f32) -> Self {
        Self(AtomicU32::new(v.to_bits()))
    }
    fn get(&self) -> f32 {
        f32::from_bits(self.0.load(Relaxed))
    }
    fn set(&self, v: f32) {
        self.0.store(v.to_bits(), Relaxed)
    }
}

/// The live-tunable subset of [`RecognizerConfig`]. Setters clamp to sane ranges (a UI slider can
/// not break the worker); non-finite values are ignored.
#[derive(Debug)]
pub struct SharedSettings {
    threshold: AtomicF32,
    consecutive: AtomicU32,
    every: AtomicU32,
    earliest_ms: AtomicU32,
    min_confidence: AtomicF32,
    emit_unsure: AtomicBool,
    mode: AtomicU8,
    blend_weight: AtomicF32,
    vad_sensitivity_db: AtomicF32,
    saliency: AtomicBool,
}

fn mode_to_u8(m: ScoringMode) -> u8 {
    match m {
        ScoringMode::Base => 0,
        ScoringMode::Proto => 1,
        ScoringMode::Hybrid => 2,
        ScoringMode::Voice => 3,
    }
}

fn mode_from_u8(v: u8) -> ScoringMode {
    match v {
        1 => ScoringMode::Proto,
        2 => ScoringMode::Hybrid,
        3 => ScoringMode::Voice,
        _ => ScoringMode::Base,
    }
}

impl SharedSettings {
    pub fn new(config: &RecognizerConfig) -> Self {
        let s = Self {
            threshold: AtomicF32::new(0.0),
            consecutive: AtomicU32::new(1),
            every: AtomicU32::new(1),
            earliest_ms: AtomicU32::new(0),
            min_confidence: AtomicF32::new(0.0),
            emit_unsure: AtomicBool::new(false),
            mode: AtomicU8::new(0),
            blend_weight: AtomicF32::new(0.0),
            vad_sensitivity_db: AtomicF32::new(0.0),
            saliency: AtomicBool::new(false),
        };
        s.store(config);
        s
    }

    /// Sets every field from `config`.
    pub fn store(&self, config: &RecognizerConfig) {
        let e = &config.early_exit;
        self.set_threshold(e.threshold);
        self.set_consecutive(e.consecutive);
        self.set_every(e.every);
        self.set_earliest_ms(e.earliest_ms);
        self.set_min_confidence(e.min_confidence);
        self.set_emit_unsure(e.emit_unsure);
        self.set_mode(config.mode);
        self.set_blend_weight(config.blend_weight);
        self.set_vad_sensitivity_db(config.vad.sensitivity_db);
        self.set_saliency(config.saliency);
    }

    /// Copies the current values into `config` (the worker calls this every hop).
    pub fn load_into(&self, config: &mut RecognizerConfig) {
        let e = &mut config.early_exit;
        e.threshold = self.threshold();
        e.consecutive = self.consecutive();
        e.every = self.every();
        e.earliest_ms = self.earliest_ms();
        e.min_confidence = self.min_confidence();
        e.emit_unsure = self.emit_unsure();
        config.mode = self.mode();
        config.blend_weight = self.blend_weight();
        config.vad.sensitivity_db = self.vad_sensitivity_db();
        config.saliency = self.saliency();
    }

    pub fn threshold(&self) -> f32 {
        self.threshold.get()
    }
    pub fn set_threshold(&self, v: f32) {
        if v.is_finite() {
            self.threshold.set(v.clamp(0.0, 1.0));
        }
    }
    pub fn consecutive(&self) -> u32 {
        self.consecutive.load(Relaxed)
    }
    pub fn set_consecutive(&self, v: u32) {
        self.consecutive.store(v.clamp(1, 64), Relaxed);
    }
    /// Hops between evaluations.
    pub fn every(&self) -> u32 {
        self.every.load(Relaxed)
    }
    pub fn set_every(&self, v: u32) {
        self.every.store(v.clamp(1, 64), Relaxed);
    }
    /// Speech needed before an early decision, ms.
    pub fn earliest_ms(&self) -> u32 {
        self.earliest_ms.load(Relaxed)
    }
    pub fn set_earliest_ms(&self, v: u32) {
        self.earliest_ms.store(v.min(2_000), Relaxed);
    }
    pub fn min_confidence(&self) -> f32 {
        self.min_confidence.get()
    }
    pub fn set_min_confidence(&self, v: f32) {
        if v.is_finite() {
            self.min_confidence.set(v.clamp(0.0, 1.0));
        }
    }
    pub fn emit_unsure(&self) -> bool {
        self.emit_unsure.load(Relaxed)
    }
    pub fn set_emit_unsure(&self, v: bool) {
        self.emit_unsure.store(v, Relaxed);
    }
    pub fn mode(&self) -> ScoringMode {
        mode_from_u8(self.mode.load(Relaxed))
    }
    pub fn set_mode(&self, m: ScoringMode) {
        self.mode.store(mode_to_u8(m), Relaxed);
    }
    pub fn blend_weight(&self) -> f32 {
        self.blend_weight.get()
    }
    pub fn set_blend_weight(&self, v: f32) {
        if v.is_finite() {
            self.blend_weight.set(v.clamp(0.0, 1.0));
        }
    }
    pub fn vad_sensitivity_db(&self) -> f32 {
        self.vad_sensitivity_db.get()
    }
    pub fn set_vad_sensitivity_db(&self, v: f32) {
        if v.is_finite() {
            self.vad_sensitivity_db.set(v.clamp(1.0, 60.0));
        }
    }
    pub fn saliency(&self) -> bool {
        self.saliency.load(Relaxed)
    }
    pub fn set_saliency(&self, v: bool) {
        self.saliency.store(v, Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_clamps() {
        let config = RecognizerConfig { mode: ScoringMode::Hybrid, ..RecognizerConfig::default() };
        let s = SharedSettings::new(&config);
        let mut back = RecognizerConfig::default();
        s.load_into(&mut back);
        assert_eq!(back, config);
        s.set_threshold(7.0);
        s.set_threshold(f32::NAN);
        s.set_every(0);
        s.set_mode(ScoringMode::Proto);
        assert_eq!((s.threshold(), s.every(), s.mode()), (1.0, 1, ScoringMode::Proto));
    }
}
