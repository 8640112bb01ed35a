//! The recognizer on a worker thread behind lock-free rings.
//!
//! Audio thread -> [`AudioSender::push`] -> SPSC sample ring (ringbuf, sized in
//! [`Engine::start`]) -> worker: resample to 8 kHz, [`Recognizer`], positions converted back to
//! the input rate -> SPSC detection ring -> [`DetectionReceiver::pop`]. The audio side only
//! copies into the ring and bumps atomics: it never allocates, locks or blocks. Settings travel
//! as atomics ([`SharedSettings`]), the enrolled voice and flushes over a channel the worker polls.
//! While word capture is on ([`Engine::capture_words`], guided enrollment), the worker also
//! queues every whole word the VAD closes for [`Engine::pop_word`].

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use ringbuf::traits::{Consumer, Observer, Producer, Split};
use ringbuf::{HeapCons, HeapProd, HeapRb};

use crate::inference::model::Model;
use crate::signal::resample::{ResampleError, StreamResampler};
use crate::streaming::config::RecognizerConfig;
use crate::streaming::recognizer::{CapturedWord, Detection, LiveView, Recognizer};
use crate::streaming::settings::SharedSettings;
use crate::voice::matcher::VoiceMatcher;

/// Detections the ring holds before the oldest unread ones are dropped.
const DETECTION_CAPACITY: usize = 256;
/// How long the idle worker sleeps between polls: small against a 16 ms hop.
const IDLE_SLEEP: Duration = Duration::from_millis(2);
/// Input frames the worker pops per step.
const WORKER_BLOCK: usize = 1024;
/// Captured words the queue holds before the oldest unread ones are dropped (a guided
/// enrollment takes at most a few dozen).
const WORD_CAPACITY: usize = 64;
/// How often the worker refreshes the shared [`LiveView`] snapshot.
const LIVE_EVERY: Duration = Duration::from_millis(15);

#[derive(Clone, Debug)]
pub struct EngineConfig {
    /// Sample rate of the audio pushed, Hz (8 000 ..= 192 000).
    pub input_rate: u32,
    pub recognizer: RecognizerConfig,
    /// Capacity of the sample ring, seconds of input.
    pub ring_seconds: f32,
}

impl EngineConfig {
    pub fn new(input_rate: u32) -> Self {
        Self { input_rate, recognizer: RecognizerConfig::default(), ring_seconds: 2.0 }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(transparent)]
    Rate(#[from] ResampleError),
    #[error("ring_seconds must be a positive number of seconds (<= 600), got {0}")]
    RingSize(f32),
    #[error("cannot start the recognizer thread: {0}")]
    Spawn(std::io::Error),
}

enum Control {
    Voice(Option<Arc<VoiceMatcher>>),
    CaptureWords(bool),
    WholeWords(bool),
    /// End of input at this many pushed frames: flush the resampler and close any segment.
    Flush {
        at_frame: u64,
    },
}

/// State both sides see.
struct Shared {
    stop: AtomicBool,
    /// Input frames pushed into the ring / fully processed by the worker.
    pushed: AtomicU64,
    processed: AtomicU64,
    dropped: AtomicU64,
    /// Detections lost because nobody popped them.
    detections_dropped: AtomicU64,
    flush_requested: AtomicU64,
    flush_done: AtomicU64,
    live: Mutex<LiveView>,
    /// Whole words captured by the worker (word capture on), oldest first. Only the worker and
    /// non-real-time readers take this lock.
    words: Mutex<VecDeque<CapturedWord>>,
}

/// Owns the worker thread; dropping it stops and joins the worker.
pub struct Engine {
    shared: Arc<Shared>,
    settings: Arc<SharedSettings>,
    control: Sender<Control>,
    worker: Option<JoinHandle<()>>,
    input_rate: u32,
}

/// The audio-thread side: copies samples into the ring. Never allocates, locks or blocks.
pub struct AudioSender {
    ring: HeapProd<f32>,
    shared: Arc<Shared>,
}

/// Where detections come out (any thread, e.g. the UI or the plugin's `process()`).
pub struct DetectionReceiver {
    ring: HeapCons<Detection>,
}

/// NaN/Inf become silence, subnormals become 0 (they cost hundreds of cycles per operation on
/// x86 in the filters downstream).
#[inline]
fn clean(s: f32) -> f32 {
    if s.is_finite() && s.abs() >= f32::MIN_POSITIVE { s } else { 0.0 }
}

impl AudioSender {
    fn account(&self, offered: usize, accepted: usize) -> usize {
        self.shared.pushed.fetch_add(accepted as u64, Ordering::Release);
        if accepted < offered {
            self.shared.dropped.fetch_add((offered - accepted) as u64, Ordering::Relaxed);
        }
        accepted
    }

    /// Pushes mono frames; returns how many fit (the rest are dropped and counted).
    pub fn push(&mut self, mono: &[f32]) -> usize {
        let accepted = self.ring.push_iter(mono.iter().map(|&s| clean(s)));
        self.account(mono.len(), accepted)
    }

    /// Pushes planar channels, averaged to mono (frames = the shortest channel).
    pub fn push_planar<S: AsRef<[f32]>>(&mut self, channels: &[S]) -> usize {
        match channels.len() {
            0 => 0,
            1 => self.push(channels[0].as_ref()),
            n => {
                let frames = channels.iter().map(|c| c.as_ref().len()).min().unwrap_or(0);
                let scale = 1.0 / n as f32;
                let mix =
                    (0..frames).map(|i| clean(channels.iter().map(|c| clean(c.as_ref()[i])).sum::<f32>() * scale));
                let accepted = self.ring.push_iter(mix);
                self.account(frames, accepted)
            }
        }
    }

    /// Pushes interleaved frames of `channels` channels, averaged to mono.
    pub fn push_interleaved(&mut self, data: &[f32], channels: usize) -> usize {
        match channels {
            0 => 0,
            1 => self.push(data),
            n => {
                let scale = 1.0 / n as f32;
                let frames = data.len() / n;
                let mix = data.chunks_exact(n).map(|f| clean(f.iter().map(|&s| clean(s)).sum::<f32>() * scale));
                let accepted = self.ring.push_iter(mix);
                self.account(frames, accepted)
            }
        }
    }

    /// Frames dropped because the ring was full.
    pub fn dropped(&self) -> u64 {
        self.shared.dropped.load(Ordering::Relaxed)
    }

    /// Frames the ring can take right now.
    pub fn free_frames(&self) -> usize {
        self.ring.vacant_len()
    }
}

impl DetectionReceiver {
    pub fn pop(&mut self) -> Option<Detection> {
        self.ring.try_pop()
    }
}

impl Engine {
    pub fn start(
        model: Arc<Model>,
        config: EngineConfig,
    ) -> Result<(Engine, AudioSender, DetectionReceiver), EngineError> {
        let resampler = StreamResampler::to_8k(config.input_rate)?;
        if !(config.ring_seconds.is_finite() && config.ring_seconds > 0.0 && config.ring_seconds <= 600.0) {
            return Err(EngineError::RingSize(config.ring_seconds));
        }
        let capacity = ((config.ring_seconds as f64 * config.input_rate as f64).ceil() as usize).max(1024);
        let (audio_prod, audio_cons) = HeapRb::<f32>::new(capacity).split();
        let (det_prod, det_cons) = HeapRb::<Detection>::new(DETECTION_CAPACITY).split();
        let shared = Arc::new(Shared {
            stop: AtomicBool::new(false),
            pushed: AtomicU64::new(0),
            processed: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
            detections_dropped: AtomicU64::new(0),
            flush_requested: AtomicU64::new(0),
            flush_done: AtomicU64::new(0),
            live: Mutex::new(LiveView::default()),
            words: Mutex::new(VecDeque::with_capacity(WORD_CAPACITY)),
        });
        let settings = Arc::new(SharedSettings::new(&config.recognizer));
        let (control, control_rx) = mpsc::channel();
        let mut recognizer = Recognizer::new(model, config.recognizer);
        recognizer.attach_settings(settings.clone());
        let worker = Worker {
            shared: shared.clone(),
            audio: audio_cons,
            detections: det_prod,
            control: control_rx,
            resampler,
            recognizer,
            block: vec![0.0; WORKER_BLOCK],
            consumed: 0,
            segment_in_offset: 0,
            segment_8k_offset: 0,
            pending_flush: None,
            last_detection: None,
        };
        let handle = std::thread::Builder::new()
            .name("fsdd-recognizer".into())
            .spawn(move || worker.run())
            .map_err(EngineError::Spawn)?;
        let engine =
            Engine { shared: shared.clone(), settings, control, worker: Some(handle), input_rate: config.input_rate };
        Ok((engine, AudioSender { ring: audio_prod, shared }, DetectionReceiver { ring: det_cons }))
    }

    pub fn input_rate(&self) -> u32 {
        self.input_rate
    }

    /// A snapshot for a UI (takes a brief lock; call from a non-real-time thread).
    pub fn live(&self) -> LiveView {
        let mut view = self.shared.live.lock().unwrap_or_else(|p| p.into_inner()).clone();
        view.dropped = self.shared.dropped.load(Ordering::Relaxed);
        view
    }

    /// Atomics the worker reads every hop.
    pub fn settings(&self) -> Arc<SharedSettings> {
        self.settings.clone()
    }

    /// Replaces the enrolled voice (from a non-real-time thread; building a [`VoiceMatcher`]
    /// runs the model, so it is done by the caller, never on the worker).
    pub fn set_voice(&self, voice: Option<Arc<VoiceMatcher>>) {
        let _ = self.control.send(Control::Voice(voice));
    }

    /// Starts or stops queueing whole words for [`Engine::pop_word`] (from the next hop the
    /// worker processes). Stopping also empties the queue. Detections are unaffected.
    pub fn capture_words(&self, on: bool) {
        if !on {
            self.words().clear();
        }
        let _ = self.control.send(Control::CaptureWords(on));
    }

    /// One word per VAD segment (guided enrollment): see [`Recognizer::set_whole_words`].
    pub fn set_whole_words(&self, on: bool) {
        let _ = self.control.send(Control::WholeWords(on));
    }

    /// The oldest captured word not popped yet (positions at the input rate). Takes a brief
    /// lock the worker also takes: call from a non-real-time thread.
    pub fn pop_word(&self) -> Option<CapturedWord> {
        self.words().pop_front()
    }

    fn words(&self) -> std::sync::MutexGuard<'_, VecDeque<CapturedWord>> {
        self.shared.words.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// End of input (a file, a bounce): the worker flushes the resampler and decides any open
    /// segment once it has processed everything pushed before this call.
    pub fn flush(&self) {
        let at_frame = self.shared.pushed.load(Ordering::Acquire);
        self.shared.flush_requested.fetch_add(1, Ordering::AcqRel);
        let _ = self.control.send(Control::Flush { at_frame });
    }

    /// Waits until the worker has processed everything pushed so far (and every requested
    /// flush). False on timeout.
    pub fn wait_until_drained(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let target = self.shared.pushed.load(Ordering::Acquire);
        let flushes = self.shared.flush_requested.load(Ordering::Acquire);
        loop {
            let done = self.shared.processed.load(Ordering::Acquire) >= target
                && self.shared.flush_done.load(Ordering::Acquire) >= flushes;
            if done {
                return true;
            }
            if Instant::now() >= deadline || self.worker.as_ref().is_none_or(|w| w.is_finished()) {
                return false;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    /// Detections lost because the receiver was not popped in time.
    pub fn detections_dropped(&self) -> u64 {
        self.shared.detections_dropped.load(Ordering::Relaxed)
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::Release);
        if let Some(w) = self.worker.take() {
            w.thread().unpark();
            let _ = w.join();
        }
    }
}

struct Worker {
    shared: Arc<Shared>,
    audio: HeapCons<f32>,
    detections: HeapProd<Detection>,
    control: Receiver<Control>,
    resampler: StreamResampler,
    recognizer: Recognizer,
    block: Vec<f32>,
    /// Input frames popped so far.
    consumed: u64,
    /// Input / 8 kHz positions where the current resampler stream began (moved by flushes).
    segment_in_offset: u64,
    segment_8k_offset: u64,
    pending_flush: Option<u64>,
    /// The last detection, positions at the input rate.
    last_detection: Option<Detection>,
}

impl Worker {
    fn run(mut self) {
        let mut last_live = Instant::now();
        while !self.shared.stop.load(Ordering::Acquire) {
            while let Ok(msg) = self.control.try_recv() {
                match msg {
                    Control::Voice(v) => self.recognizer.set_voice(v),
                    Control::CaptureWords(on) => self.recognizer.set_capture_words(on),
                    Control::WholeWords(on) => self.recognizer.set_whole_words(on),
                    Control::Flush { at_frame } => self.pending_flush = Some(at_frame),
                }
            }
            let mut want = self.block.len();
            if let Some(at) = self.pending_flush {
                want = want.min((at.saturating_sub(self.consumed)) as usize);
            }
            let n = if want > 0 { self.audio.pop_slice(&mut self.block[..want]) } else { 0 };
            if n > 0 {
                self.consumed += n as u64;
                let block = std::mem::take(&mut self.block);
                self.feed(&block[..n], false);
                self.block = block;
                self.shared.processed.store(self.consumed, Ordering::Release);
            }
            if let Some(at) = self.pending_flush
                && self.consumed >= at
            {
                self.feed(&[], true);
                self.pending_flush = None;
                self.shared.flush_done.fetch_add(1, Ordering::AcqRel);
            }
            if n == 0 || last_live.elapsed() >= LIVE_EVERY {
                self.publish_live();
                last_live = Instant::now();
            }
            if n == 0 && self.pending_flush.is_none() {
                std::thread::park_timeout(IDLE_SLEEP);
            }
        }
    }

    /// Resamples `input` and runs the recognizer; `flush` ends the stream.
    fn feed(&mut self, input: &[f32], flush: bool) {
        let Worker {
            resampler,
            recognizer,
            detections,
            shared,
            segment_in_offset,
            segment_8k_offset,
            consumed,
            last_detection,
            ..
        } = self;
        let rate = resampler.input_rate() as u128;
        let (in_off, k8_off) = (*segment_in_offset, *segment_8k_offset);
        let to_input = |pos8k: u64| -> u64 {
            let rel = pos8k.saturating_sub(k8_off) as u128;
            in_off + ((rel * rate + 4_000) / 8_000) as u64
        };
        let mut on_event = |mut d: Detection| {
            d.onset = to_input(d.onset);
            d.decision = to_input(d.decision);
            d.end = d.end.map(to_input);
            *last_detection = Some(d);
            if detections.try_push(d).is_err() {
                shared.detections_dropped.fetch_add(1, Ordering::Relaxed);
            }
        };
        {
            let mut run = |samples: &[f32]| recognizer.push(samples, &mut on_event);
            // Resampling errors only come from buffer sizing, which `new` fixed; nothing to recover.
            let _ = resampler.process(input, &mut run);
            if flush {
                let _ = resampler.flush(&mut run);
            }
        }
        if flush {
            recognizer.finish(&mut on_event);
        }
        if recognizer.captures_words() {
            let words = recognizer.take_captured_words();
            if !words.is_empty() {
                let mut queue = shared.words.lock().unwrap_or_else(|p| p.into_inner());
                for mut word in words {
                    word.onset = to_input(word.onset);
                    word.end = to_input(word.end);
                    if queue.len() == WORD_CAPACITY {
                        queue.pop_front();
                    }
                    queue.push_back(word);
                }
            }
        }
        if flush {
            // The next stream starts here, in both clocks.
            *segment_in_offset = *consumed;
            *segment_8k_offset = recognizer.position();
        }
    }

    fn publish_live(&mut self) {
        // Never wait for the UI: skip this refresh if it holds the lock.
        if let Ok(mut view) = self.shared.live.try_lock() {
            view.copy_from(self.recognizer.live());
            view.processed = self.consumed;
            view.dropped = self.shared.dropped.load(Ordering::Relaxed);
            // The recognizer's copy has 8 kHz positions; the UI gets input-rate ones.
            view.last_detection = self.last_detection;
        }
    }
}
