//! The recogniser behind the plugin: one `fsdd_core::Engine` (worker thread + lock-free rings)
//! per activation, plus the audio-thread side of it.
//!
//! Built in `activate()` and dropped in `deactivate()` (which stops and joins the worker), so
//! `process()` only copies samples into a preallocated scratch buffer and the engine's ring,
//! stores parameter values into atomics and pops finished detections. Each popped detection
//! and the stream clock also go into the [`LiveStatus`] the editor reads (atomic stores only).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use fsdd_core::{
    AudioSender, Detection, DetectionReceiver, Engine, EngineConfig, EngineError, Model, RecognizerConfig,
    SharedSettings,
};

use crate::live_status::LiveStatus;
use crate::params::FsddParams;
use crate::passthrough::downmix_into;

/// Seconds of input the ring between audio thread and worker holds: enough to ride out a slow
/// inference or a host that renders a few blocks faster than real time.
const RING_SECONDS: f32 = 4.0;

/// In offline renders `process()` waits for the worker to catch up. A render that waits this
/// long has a dead worker; giving up keeps the host alive (the audio still passes).
const OFFLINE_WAIT: Duration = Duration::from_secs(5);

pub struct AnalysisSession {
    engine: Arc<Engine>,
    sender: AudioSender,
    receiver: DetectionReceiver,
    settings: Arc<SharedSettings>,
    /// Mono, gained copy of one block (or a slice of an oversized block).
    scratch: Vec<f32>,
    /// Offline render: analysis must not depend on thread timing.
    offline: bool,
    /// Input-rate samples fed since the engine started: the clock detection positions use.
    position: u64,
    /// What the editor shows; outlives the session (one per plugin instance).
    status: Arc<LiveStatus>,
    /// Set while the window's guided enrollment runs: detections produce no MIDI.
    enrolling: Arc<AtomicBool>,
}

impl AnalysisSession {
    pub fn start(
        model: Arc<Model>,
        sample_rate: f32,
        max_block: usize,
        offline: bool,
        recognizer: RecognizerConfig,
        status: Arc<LiveStatus>,
        enrolling: Arc<AtomicBool>,
    ) -> Result<Self, EngineError> {
        let input_rate = sample_rate.round().max(1.0) as u32;
        let config = EngineConfig { input_rate, recognizer, ring_seconds: RING_SECONDS };
        let (engine, sender, receiver) = Engine::start(model, config)?;
        let settings = engine.settings();
        status.started(input_rate as f32);
        Ok(Self {
            engine: Arc::new(engine),
            sender,
            receiver,
            settings,
            scratch: vec![0.0; max_block.clamp(1, 8192)],
            offline,
            position: 0,
            status,
            enrolling,
        })
    }

    pub fn engine(&self) -> &Arc<Engine> {
        &self.engine
    }

    /// Stream position (input-rate samples) of the next sample `feed` will take.
    pub fn position(&self) -> u64 {
        self.position
    }

    /// Hands the current parameter values to the worker (plain atomic stores; the config is a
    /// `Copy` value built on the stack, so nothing allocates). The parameter -> config mapping
    /// lives only in [`FsddParams::recognizer_config`].
    pub fn apply_params(&self, params: &FsddParams) {
        self.settings.store(&params.recognizer_config());
    }

    /// Queues one block of audio (all channels, `frames` long) for analysis.
    pub fn feed(&mut self, channels: &[&mut [f32]], frames: usize, gain: f32) {
        let mut offset = 0;
        while offset < frames {
            let len = (frames - offset).min(self.scratch.len());
            let chunk = &mut self.scratch[..len];
            downmix_into(channels, offset, gain, chunk);
            self.sender.push(chunk);
            offset += len;
        }
        self.position += frames as u64;
        self.status.advance(self.position);
    }

    /// In offline renders, blocks until the worker has analysed everything fed so far, so
    /// the detections of this block are available now and identical on every render.
    pub fn settle(&self) {
        if self.offline {
            self.engine.wait_until_drained(OFFLINE_WAIT);
        }
    }

    /// The next finished detection for MIDI, also stored in the live status for the editor.
    /// While enrolling, every detection still reaches the live status but none is returned:
    /// the words spoken are takes, not notes.
    pub fn pop(&mut self) -> Option<Detection> {
        while let Some(detection) = self.receiver.pop() {
            self.status.record(&detection);
            if !self.enrolling.load(Ordering::Acquire) {
                return Some(detection);
            }
        }
        None
    }
}

impl Drop for AnalysisSession {
    fn drop(&mut self) {
        self.status.stopped();
    }
}
