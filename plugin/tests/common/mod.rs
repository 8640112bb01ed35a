//! A minimal CLAP host (clack-host 0.2.0) for the plugin's integration tests, plus FSDD test
//! streams and scoring.
//!
//! The tests load the plugin the way a DAW does: the built `libfsdd_plugin.so` (the same file
//! `cargo xtask bundle` copies to `fsdd-plugin.clap`). `cargo test` does not rebuild a cdylib
//! for integration tests, so [`plugin_library`] runs `cargo build -p fsdd-plugin --lib` (same
//! profile and target directory as the test binary) once per test binary before loading it.
//! That is the dev profile under `cargo test`: debug assertions on, so nice-plug's
//! `assert_process_allocs` aborts the test process on any allocation inside `process()`.

#![allow(dead_code)]

pub mod headless;

use std::ffi::CString;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use clack_extensions::audio_ports_config::PluginAudioPortsConfig;
use clack_extensions::gui::{GuiApiType, GuiConfiguration, PluginGui};
use clack_extensions::render::{PluginRender, RenderMode};
use clack_extensions::state::PluginState;
use clack_host::events::event_types::ParamValueEvent;
use clack_host::events::spaces::CoreEventSpace;
use clack_host::prelude::*;

pub const CLAP_ID: &str = "org.fsdd.spoken-digits-to-midi";
/// Default parameter values the scoring relies on.
pub const DEFAULT_BASE_NOTE: u8 = 60;

// ---------------------------------------------------------------------------------------------
// Building and locating the plugin

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("plugin/ is inside the workspace").to_owned()
}

/// `target/<profile>` of this test binary (`target/<profile>/deps/<test>`).
fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    let deps = exe.parent().expect("deps dir");
    deps.parent().expect("profile dir").to_owned()
}

/// Builds the plugin library once per test binary (a no-op when it is up to date) and returns
/// its path.
pub fn plugin_library() -> PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT
        .get_or_init(|| {
            let profile_dir = profile_dir();
            let profile = profile_dir.file_name().and_then(|n| n.to_str()).unwrap_or("debug").to_owned();
            let target_dir = profile_dir.parent().expect("target dir").to_owned();
            let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
            let profile_arg = match profile.as_str() {
                "debug" => "dev".to_owned(),
                other => other.to_owned(),
            };
            let status = std::process::Command::new(cargo)
                .args(["build", "--package", "fsdd-plugin", "--lib", "--profile", &profile_arg])
                .arg("--target-dir")
                .arg(&target_dir)
                .current_dir(workspace_root())
                .status()
                .expect("running cargo build for the plugin");
            assert!(status.success(), "cargo build -p fsdd-plugin failed");
            let lib = profile_dir.join(format!(
                "{}fsdd_plugin{}",
                std::env::consts::DLL_PREFIX,
                std::env::consts::DLL_SUFFIX
            ));
            assert!(lib.is_file(), "{} missing after the build", lib.display());
            lib
        })
        .clone()
}

/// One loaded copy of the library per test binary, shared by every instance (as in a DAW).
pub fn plugin_entry() -> PluginEntry {
    static ENTRY: OnceLock<Mutex<Option<PluginEntry>>> = OnceLock::new();
    let slot = ENTRY.get_or_init(|| Mutex::new(None));
    let mut slot = slot.lock().unwrap();
    if slot.is_none() {
        let path = plugin_library();
        // SAFETY: the library is our own plugin, built just above.
        let entry = unsafe { PluginEntry::load(&path) }.expect("loading the plugin library");
        *slot = Some(entry);
    }
    slot.as_ref().unwrap().clone()
}

// ---------------------------------------------------------------------------------------------
// The host

pub struct TestHost;

#[derive(Default)]
pub struct TestShared {
    callback_requested: AtomicBool,
    restart_requested: AtomicBool,
    state: OnceLock<Option<PluginState>>,
    render: OnceLock<Option<PluginRender>>,
    ports_config: OnceLock<Option<PluginAudioPortsConfig>>,
    gui: OnceLock<Option<PluginGui>>,
}

impl<'a> SharedHandler<'a> for TestShared {
    fn initializing(&self, instance: InitializingPluginHandle<'a>) {
        let _ = self.state.set(instance.get_extension());
        let _ = self.render.set(instance.get_extension());
        let _ = self.ports_config.set(instance.get_extension());
        let _ = self.gui.set(instance.get_extension());
    }
    fn request_restart(&self) {
        self.restart_requested.store(true, Ordering::SeqCst);
    }
    fn request_process(&self) {}
    fn request_callback(&self) {
        self.callback_requested.store(true, Ordering::SeqCst);
    }
}

pub struct TestMainThread;
impl<'a> MainThreadHandler<'a> for TestMainThread {}

impl HostHandlers for TestHost {
    type Shared<'a> = TestShared;
    type MainThread<'a> = TestMainThread;
    type AudioProcessor<'a> = ();
}

/// What the plugin sent in one block, decoded.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum MidiKind {
    NoteOn {
        key: u8,
        channel: u8,
        velocity: f64,
    },
    NoteOff {
        key: u8,
        channel: u8,
    },
    Cc {
        channel: u8,
        cc: u8,
        value: u8,
    },
    /// Raw MIDI the test does not expect.
    OtherMidi([u8; 3]),
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MidiAt {
    /// Absolute stream position (samples since activation).
    pub position: u64,
    /// Offset inside its block, as the plugin sent it.
    pub timing: u32,
    pub block_len: u32,
    pub kind: MidiKind,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layout {
    Stereo,
    Mono,
}

impl Layout {
    pub fn channels(self) -> usize {
        match self {
            Layout::Stereo => 2,
            Layout::Mono => 1,
        }
    }
    /// nice-plug numbers audio port configs by their index in `AUDIO_IO_LAYOUTS`.
    fn config_id(self) -> u32 {
        match self {
            Layout::Stereo => 0,
            Layout::Mono => 1,
        }
    }
}

#[derive(Clone, Copy, Debug)]
pub struct HostConfig {
    pub sample_rate: f64,
    pub layout: Layout,
    pub max_block: u32,
    pub offline: bool,
}

impl HostConfig {
    /// An offline render (the plugin waits for its worker) at 48 kHz stereo, blocks <= 1024.
    pub fn offline_48k() -> Self {
        Self { sample_rate: 48_000.0, layout: Layout::Stereo, max_block: 1024, offline: true }
    }
}

pub struct HostedPlugin {
    pub config: HostConfig,
    instance: PluginInstance<TestHost>,
    processor: Option<StartedPluginAudioProcessor<TestHost>>,
    ports_in: AudioPorts,
    ports_out: AudioPorts,
    out_events: EventBuffer,
    in_events: EventBuffer,
    /// Samples processed since the last activation.
    pub position: u64,
    pub steady_time: u64,
}

impl HostedPlugin {
    /// Instantiates the plugin, optionally loads a state, selects the layout and render mode,
    /// activates it and starts processing.
    pub fn new(config: HostConfig, state: Option<&[u8]>) -> HostedPlugin {
        let entry = plugin_entry();
        let host_info = HostInfo::new("fsdd-test-host", "fsdd", "https://example.invalid", "0.1").expect("host info");
        let id = CString::new(CLAP_ID).unwrap();
        let instance =
            PluginInstance::<TestHost>::new(|_| TestShared::default(), |_| TestMainThread, &entry, &id, &host_info)
                .expect("instantiating the plugin");
        let channels = config.layout.channels();
        let mut plugin = HostedPlugin {
            config,
            ports_in: AudioPorts::with_capacity(channels, 1),
            ports_out: AudioPorts::with_capacity(channels, 1),
            out_events: EventBuffer::with_capacity(256),
            in_events: EventBuffer::with_capacity(64),
            instance,
            processor: None,
            position: 0,
            steady_time: 0,
        };
        if let Some(state) = state {
            plugin.load_state(state).expect("loading the given state");
        }
        plugin.select_layout_and_mode();
        plugin.activate();
        plugin
    }

    fn select_layout_and_mode(&mut self) {
        let ports_config = self
            .instance
            .access_shared_handler(|s| *s.ports_config.get().unwrap())
            .expect("plugin implements audio-ports-config");
        ports_config
            .select(&self.instance.plugin_handle(), ClapId::new(self.config.layout.config_id()))
            .expect("selecting the audio layout");
        let render =
            self.instance.access_shared_handler(|s| *s.render.get().unwrap()).expect("plugin implements render");
        let mode = if self.config.offline { RenderMode::Offline } else { RenderMode::Realtime };
        render.set(&self.instance.plugin_handle(), mode).expect("setting the render mode");
    }

    pub fn activate(&mut self) {
        let audio_config = PluginAudioConfiguration {
            sample_rate: self.config.sample_rate,
            min_frames_count: 1,
            max_frames_count: self.config.max_block,
        };
        let stopped = self.instance.activate(|_, _| (), audio_config).expect("activating");
        self.processor = Some(stopped.start_processing().expect("starting processing"));
        self.position = 0;
        self.pump_main_thread();
    }

    pub fn deactivate(&mut self) {
        if let Some(started) = self.processor.take() {
            let stopped = started.stop_processing();
            self.instance.deactivate(stopped);
        }
        self.pump_main_thread();
    }

    /// Host-side `reset()` on the audio processor (transport jump).
    pub fn reset(&mut self) {
        self.processor.as_mut().expect("active").reset();
    }

    /// Runs the plugin's main-thread callbacks it asked for (as a host's event loop would).
    pub fn pump_main_thread(&mut self) {
        let requested = self.instance.access_shared_handler(|s| s.callback_requested.swap(false, Ordering::SeqCst));
        if requested {
            self.instance.call_on_main_thread_callback();
        }
    }

    /// What a host learns from the CLAP GUI extension before it opens a window: whether an
    /// embedded X11 window is supported, and the window size. `None` without the extension.
    /// Opens no window (the tests run without a display).
    pub fn gui_x11_size(&mut self) -> Option<(bool, Option<(u32, u32)>)> {
        let gui = self.instance.access_shared_handler(|s| *s.gui.get().unwrap())?;
        let handle = self.instance.plugin_handle();
        let embedded_x11 = GuiConfiguration { api_type: GuiApiType::X11, is_floating: false };
        let supported = gui.is_api_supported(&handle, embedded_x11);
        let size = gui.get_size(&handle).map(|s| (s.width, s.height));
        Some((supported, size))
    }

    pub fn restart_requested(&self) -> bool {
        self.instance.access_shared_handler(|s| s.restart_requested.load(Ordering::SeqCst))
    }

    pub fn save_state(&mut self) -> Vec<u8> {
        let state = self.instance.access_shared_handler(|s| *s.state.get().unwrap()).expect("plugin implements state");
        let mut bytes = Vec::new();
        state.save(&self.instance.plugin_handle(), &mut bytes).expect("saving state");
        bytes
    }

    pub fn load_state(&mut self, bytes: &[u8]) -> Result<(), String> {
        let state = self.instance.access_shared_handler(|s| *s.state.get().unwrap()).expect("plugin implements state");
        let mut reader = bytes;
        let result = state.load(&self.instance.plugin_handle(), &mut reader).map_err(|e| e.to_string());
        self.pump_main_thread();
        result
    }

    /// Queues a parameter change (plain CLAP value) for the next block, at sample 0.
    pub fn queue_param(&mut self, string_id: &str, value: f64) {
        let event = ParamValueEvent::new(0, ClapId::new(param_hash(string_id)), Pckn::match_all(), value);
        self.in_events.push(&event);
    }

    /// Processes one block: `input[channel][..frames]` in, `output` out (resized), decoded
    /// MIDI appended to `midi`.
    pub fn process(&mut self, input: &mut [Vec<f32>], output: &mut [Vec<f32>], frames: usize, midi: &mut Vec<MidiAt>) {
        assert!(frames as u32 <= self.config.max_block);
        let processor = self.processor.as_mut().expect("active");
        self.out_events.clear();
        let in_audio = self.ports_in.with_input_buffers([AudioPortBuffer {
            latency: 0,
            channels: AudioPortBufferType::f32_input_only(
                input.iter_mut().map(|c| InputChannel::variable(&mut c[..frames])),
            ),
        }]);
        let mut out_audio = self.ports_out.with_output_buffers([AudioPortBuffer {
            latency: 0,
            channels: AudioPortBufferType::f32_output_only(output.iter_mut().map(|c| &mut c[..frames])),
        }]);
        let in_events = InputEvents::from_buffer(&self.in_events);
        let mut out_events = OutputEvents::from_buffer(&mut self.out_events);
        processor
            .process(&in_audio, &mut out_audio, &in_events, &mut out_events, Some(self.steady_time), None)
            .expect("process() failed");
        self.in_events.clear();
        for event in self.out_events.iter() {
            let timing = event.header().time();
            let kind = match event.as_core_event() {
                Some(CoreEventSpace::NoteOn(e)) => MidiKind::NoteOn {
                    key: e.pckn().raw_key() as u8,
                    channel: e.pckn().raw_channel() as u8,
                    velocity: e.velocity(),
                },
                Some(CoreEventSpace::NoteOff(e)) => {
                    MidiKind::NoteOff { key: e.pckn().raw_key() as u8, channel: e.pckn().raw_channel() as u8 }
                }
                Some(CoreEventSpace::Midi(e)) => {
                    let d = e.data();
                    match d[0] & 0xF0 {
                        0xB0 => MidiKind::Cc { channel: d[0] & 0x0F, cc: d[1], value: d[2] },
                        0x90 if d[2] > 0 => {
                            MidiKind::NoteOn { key: d[1], channel: d[0] & 0x0F, velocity: d[2] as f64 / 127.0 }
                        }
                        0x80 | 0x90 => MidiKind::NoteOff { key: d[1], channel: d[0] & 0x0F },
                        _ => MidiKind::OtherMidi(d),
                    }
                }
                other => panic!("unexpected output event {:?}", other.map(|_| event.header().type_id())),
            };
            midi.push(MidiAt { position: self.position + timing as u64, timing, block_len: frames as u32, kind });
        }
        self.position += frames as u64;
        self.steady_time += frames as u64;
    }
}

impl Drop for HostedPlugin {
    fn drop(&mut self) {
        self.deactivate();
    }
}

/// nice-plug's CLAP parameter ID for a string ID (its `hash_param_id`).
pub fn param_hash(id: &str) -> u32 {
    let mut hash: u32 = 0;
    for byte in id.bytes() {
        hash = hash.wrapping_mul(31).wrapping_add(byte as u32);
    }
    hash & !(1 << 31)
}

// ---------------------------------------------------------------------------------------------
// Test data

/// A small deterministic PRNG (xorshift64*), so every run uses the same block sizes and gaps.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    /// Uniform in `lo..=hi`.
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next_u64() % (hi - lo + 1)
    }
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
    /// A block size in `1..=max`: half the time uniform, half log-uniform, so tiny blocks
    /// (1, 2, 3 ... frames) are as well covered as large ones.
    pub fn block_size(&mut self, max: u32) -> usize {
        if self.next_u64() & 1 == 0 {
            self.range(1, max as u64) as usize
        } else {
            let size = (max as f64).powf(self.unit()).floor() as usize;
            size.clamp(1, max as usize)
        }
    }
}

pub fn fsdd_dir() -> PathBuf {
    match std::env::var_os("FSDD_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => workspace_root().join("../shared/fsdd/recordings"),
    }
}

pub struct Utterance {
    pub digit: u8,
    pub name: String,
    pub samples_8k: Vec<f32>,
}

/// `speaker`'s recordings of every digit for `takes`, digit by digit (the order the window's
/// enrollment asks for them).
pub fn speaker_utterances(speaker: &str, takes: impl Iterator<Item = u32> + Clone) -> Vec<Utterance> {
    let mut out = Vec::new();
    for digit in 0..10u8 {
        for take in takes.clone() {
            out.push(utterance(&format!("{digit}_{speaker}_{take}")));
        }
    }
    out
}

/// One FSDD recording by name (`7_jackson_0`).
pub fn utterance(name: &str) -> Utterance {
    let path = fsdd_dir().join(format!("{name}.wav"));
    let clip = fsdd_core::signal::audio::read_wav(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert_eq!(clip.sample_rate, 8_000);
    let digit = name[..1].parse().expect("FSDD names start with the digit");
    Utterance { digit, name: name.to_owned(), samples_8k: clip.samples }
}

/// A voice of `speaker`'s recordings `takes` of every digit, each whole file a take (what
/// `fsdd-tui enroll --from` makes of labelled WAVs), as a voice file gives it back (16-bit PCM:
/// the plugin keeps a voice as its project will restore it, so comparisons are exact).
pub fn speaker_voice(speaker: &str, takes: impl Iterator<Item = u32> + Clone) -> fsdd_core::Voice {
    let mut voice = fsdd_core::Voice::new();
    for utt in speaker_utterances(speaker, takes) {
        let take = fsdd_core::VoiceTake::new(utt.digit, fsdd_core::TakeSource::Enrolled, utt.samples_8k)
            .unwrap_or_else(|e| panic!("{}: {e}", utt.name));
        let _ = voice.push(take);
    }
    fsdd_core::Voice::from_json(&voice.to_json()).expect("a voice reads back from its JSON")
}

/// The official FSDD test split (takes 0-4), sorted by file name; `every`-th file only.
pub fn test_utterances(every: usize) -> Vec<Utterance> {
    let dir = fsdd_dir();
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("FSDD recordings not found at {} ({e}); set FSDD_DIR", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let name = p.file_stem().and_then(|s| s.to_str()).unwrap_or("");
            let parts: Vec<&str> = name.split('_').collect();
            p.extension().is_some_and(|e| e == "wav")
                && parts.len() == 3
                && parts[2].parse::<u32>().is_ok_and(|take| take <= 4)
        })
        .collect();
    paths.sort();
    assert_eq!(paths.len(), 300, "expected the 300 FSDD test utterances in {}", dir.display());
    paths
        .into_iter()
        .step_by(every.max(1))
        .map(|path| {
            let clip = fsdd_core::signal::audio::read_wav(&path).expect("reading an FSDD file");
            assert_eq!(clip.sample_rate, 8_000);
            let name = path.file_stem().unwrap().to_string_lossy().into_owned();
            let digit = name[..1].parse().unwrap();
            Utterance { digit, name, samples_8k: clip.samples }
        })
        .collect()
}

/// Where one utterance sits in a test stream.
#[derive(Debug, Clone)]
pub struct Placement {
    pub digit: u8,
    pub name: String,
    pub start: u64,
    pub speech_end: u64,
    /// Start of the next utterance (or the stream's end).
    pub window_end: u64,
}

pub struct TestStream {
    pub sample_rate: u32,
    /// One buffer per channel.
    pub channels: Vec<Vec<f32>>,
    pub placements: Vec<Placement>,
}

/// Ideal band-limited resampling of a whole clip (FFT, zero-padded spectrum): every component
/// below 4 kHz survives at full level. A host's 44.1/48/96 kHz input from a microphone has its
/// full band; a filtering upsampler here would remove the top of FSDD's 0-4 kHz band before the
/// plugin ever saw it, and the test would measure the test's resampler, not the plugin.
pub fn band_limited_resample(x: &[f32], from: u32, to: u32) -> Vec<f32> {
    use realfft::RealFftPlanner;
    let n = x.len();
    if n == 0 || from == to {
        return x.to_vec();
    }
    let m = ((n as u64 * to as u64 + from as u64 / 2) / from as u64) as usize;
    let mut planner = RealFftPlanner::<f64>::new();
    let forward = planner.plan_fft_forward(n);
    let inverse = planner.plan_fft_inverse(m);
    let mut input: Vec<f64> = x.iter().map(|&v| v as f64).collect();
    let mut spectrum = forward.make_output_vec();
    forward.process(&mut input, &mut spectrum).expect("forward FFT");
    let mut wide = inverse.make_input_vec();
    let shared = spectrum.len().min(wide.len());
    wide[..shared].copy_from_slice(&spectrum[..shared]);
    if n.is_multiple_of(2) && shared == spectrum.len() {
        // The old Nyquist bin is a real cosine that becomes two bins when widened: halve it.
        wide[n / 2] *= 0.5;
    }
    wide[0].im = 0.0;
    let last = wide.len() - 1;
    if m.is_multiple_of(2) {
        wide[last].im = 0.0;
    }
    let mut out = inverse.make_output_vec();
    inverse.process(&mut wide, &mut out).expect("inverse FFT");
    out.iter().map(|&v| (v / n as f64) as f32).collect()
}

/// Utterances resampled to `sample_rate`, each followed by a 0.45-0.8 s gap, over a very quiet
/// noise floor (-80 dBFS, like a real input). Channel 2 (stereo) is channel 1 at a different
/// gain, so the downmix is exercised.
pub fn build_stream(utterances: &[Utterance], sample_rate: u32, layout: Layout, seed: u64) -> TestStream {
    let mut rng = Rng::new(seed);
    let mut mono = Vec::new();
    let mut placements = Vec::new();
    let lead_in = (0.3 * sample_rate as f64) as usize;
    mono.resize(lead_in, 0.0);
    for utt in utterances {
        let audio = band_limited_resample(&utt.samples_8k, 8_000, sample_rate);
        let start = mono.len() as u64;
        mono.extend_from_slice(&audio);
        let speech_end = mono.len() as u64;
        let gap = ((0.45 + 0.35 * rng.unit()) * sample_rate as f64) as usize;
        mono.resize(mono.len() + gap, 0.0);
        placements.push(Placement {
            digit: utt.digit,
            name: utt.name.clone(),
            start,
            speech_end,
            window_end: mono.len() as u64,
        });
    }
    // Extra tail so the last note's NoteOff (default length 250 ms) lands inside the stream.
    mono.resize(mono.len() + sample_rate as usize / 2, 0.0);
    for x in &mut mono {
        *x += ((rng.unit() - 0.5) * 2.0e-4) as f32;
    }
    let channels = match layout {
        Layout::Mono => vec![mono],
        Layout::Stereo => {
            let right = mono.iter().map(|x| x * 0.5).collect();
            vec![mono, right]
        }
    };
    TestStream { sample_rate, channels, placements }
}

pub struct Rendered {
    pub midi: Vec<MidiAt>,
    pub blocks: usize,
    /// Output samples that differ from the expected pass-through (first few described).
    pub passthrough_mismatches: usize,
    pub first_mismatches: Vec<String>,
    /// Output samples that are NaN, infinite or subnormal.
    pub unsafe_output_samples: usize,
}

/// Pacing of a render.
#[derive(Clone, Copy, Debug)]
pub enum Pace {
    /// As fast as possible (offline renders: the plugin waits for its worker itself).
    Unpaced,
    /// At most `speed` x real time, the way a live host calls `process()`.
    RealTime { speed: f64 },
}

/// What the plugin must output for input sample `x`: `x` bit for bit, except that subnormals,
/// NaN and Inf become 0.
pub fn expected_output(x: f32) -> f32 {
    if x.is_normal() || x == 0.0 { x } else { 0.0 }
}

/// Feeds `stream` through the plugin in random block sizes (1..=max_block, new size each call)
/// and checks the audio output of every block against the input as it goes.
pub fn render(plugin: &mut HostedPlugin, stream: &TestStream, seed: u64, pace: Pace) -> Rendered {
    let mut rng = Rng::new(seed);
    let channels = stream.channels.len();
    let total = stream.channels[0].len();
    let max_block = plugin.config.max_block;
    let mut input = vec![vec![0.0f32; max_block as usize]; channels];
    let mut output = vec![vec![0.0f32; max_block as usize]; channels];
    let mut rendered = Rendered {
        midi: Vec::new(),
        blocks: 0,
        passthrough_mismatches: 0,
        first_mismatches: Vec::new(),
        unsafe_output_samples: 0,
    };
    let mut offset = 0;
    let started = Instant::now();
    while offset < total {
        let frames = rng.block_size(max_block).min(total - offset);
        for (c, buf) in input.iter_mut().enumerate() {
            buf[..frames].copy_from_slice(&stream.channels[c][offset..offset + frames]);
        }
        // Poison the output buffers: the plugin must overwrite every sample.
        for buf in output.iter_mut() {
            buf[..frames].fill(f32::NAN);
        }
        plugin.process(&mut input, &mut output, frames, &mut rendered.midi);
        for (c, out) in output.iter().enumerate() {
            for (n, &y) in out[..frames].iter().enumerate() {
                let x = stream.channels[c][offset + n];
                if !y.is_normal() && y != 0.0 {
                    rendered.unsafe_output_samples += 1;
                }
                if y.to_bits() != expected_output(x).to_bits() {
                    rendered.passthrough_mismatches += 1;
                    if rendered.first_mismatches.len() < 5 {
                        rendered.first_mismatches.push(format!(
                            "channel {c} sample {}: in {x:e} ({:#010x}) out {y:e} ({:#010x})",
                            offset + n,
                            x.to_bits(),
                            y.to_bits()
                        ));
                    }
                }
            }
        }
        offset += frames;
        rendered.blocks += 1;
        if let Pace::RealTime { speed } = pace {
            let due = Duration::from_secs_f64(offset as f64 / stream.sample_rate as f64 / speed);
            if let Some(wait) = due.checked_sub(started.elapsed()) {
                std::thread::sleep(wait);
            }
        }
    }
    rendered
}

impl Rendered {
    /// Audio out == audio in (subnormals/NaN/Inf aside), and nothing unsafe came out.
    pub fn assert_clean_passthrough(&self) {
        assert_eq!(self.passthrough_mismatches, 0, "audio output differs from the input: {:?}", self.first_mismatches);
        assert_eq!(self.unsafe_output_samples, 0, "NaN/Inf/subnormal samples in the output");
    }
}

// ---------------------------------------------------------------------------------------------
// Checks

/// Per-utterance result: the NoteOns that fell into the utterance's window.
pub struct Score {
    pub total: usize,
    /// Windows with exactly one NoteOn, on the right key.
    pub correct: usize,
    pub wrong: Vec<String>,
    pub missing: Vec<String>,
    pub extra: usize,
}

impl Score {
    pub fn accuracy(&self) -> f64 {
        self.correct as f64 / self.total.max(1) as f64
    }
}

pub fn score_notes(midi: &[MidiAt], placements: &[Placement], base_note: u8) -> Score {
    let ons: Vec<(u64, u8)> = midi
        .iter()
        .filter_map(|m| match m.kind {
            MidiKind::NoteOn { key, .. } => Some((m.position, key)),
            _ => None,
        })
        .collect();
    let mut score = Score { total: placements.len(), correct: 0, wrong: vec![], missing: vec![], extra: 0 };
    let mut accounted = 0;
    for p in placements {
        let inside: Vec<u8> =
            ons.iter().filter(|(pos, _)| *pos >= p.start && *pos < p.window_end).map(|&(_, k)| k).collect();
        accounted += inside.len();
        match inside.as_slice() {
            [] => score.missing.push(p.name.clone()),
            [key] if *key == base_note + p.digit => score.correct += 1,
            keys => {
                let heard: Vec<i32> = keys.iter().map(|&k| k as i32 - base_note as i32).collect();
                score.wrong.push(format!("{} heard {:?}", p.name, heard));
                score.extra += keys.len().saturating_sub(1);
            }
        }
    }
    score.extra += ons.len() - accounted;
    score
}

/// Every NoteOn has exactly one later NoteOff on the same key/channel, and no NoteOff comes
/// without a sounding note. Returns the number of notes.
pub fn assert_notes_paired(midi: &[MidiAt]) -> usize {
    let mut sounding: Vec<(u8, u8)> = Vec::new();
    let mut notes = 0;
    for m in midi {
        match m.kind {
            MidiKind::NoteOn { key, channel, .. } => {
                assert!(
                    !sounding.contains(&(key, channel)),
                    "NoteOn for key {key} while it still sounds at {}",
                    m.position
                );
                sounding.push((key, channel));
                notes += 1;
            }
            MidiKind::NoteOff { key, channel } => {
                let i = sounding
                    .iter()
                    .position(|&s| s == (key, channel))
                    .unwrap_or_else(|| panic!("NoteOff for key {key} that is not sounding at {}", m.position));
                sounding.remove(i);
            }
            _ => {}
        }
    }
    assert!(sounding.is_empty(), "notes left hanging: {sounding:?}");
    notes
}

/// Every event's timing lies inside its block and events are in time order.
pub fn assert_timings_inside_blocks(midi: &[MidiAt]) {
    for m in midi {
        assert!(m.timing < m.block_len, "event at {} outside its {}-frame block", m.timing, m.block_len);
    }
    for pair in midi.windows(2) {
        assert!(pair[0].position <= pair[1].position, "events out of order: {pair:?}");
    }
}

// ---------------------------------------------------------------------------------------------
// Plugin state as the host stores it

/// nice-plug's CLAP state: an 8-byte little-endian length, then JSON
/// (`{"version", "params": {id: {"f32"|"i32"|"bool"|"string": v}}, "fields": {key: json}}`).
pub fn state_json(bytes: &[u8]) -> serde_json::Value {
    assert!(bytes.len() >= 8, "state too short");
    let len = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    assert_eq!(len, bytes.len() - 8, "state length prefix");
    serde_json::from_slice(&bytes[8..]).expect("state is JSON")
}

pub fn state_bytes(json: &serde_json::Value) -> Vec<u8> {
    let body = serde_json::to_vec(json).unwrap();
    let mut bytes = (body.len() as u64).to_le_bytes().to_vec();
    bytes.extend_from_slice(&body);
    bytes
}

/// The persisted field `key` of a state (each field is JSON inside a JSON string).
pub fn stored_field(state: &serde_json::Value, key: &str) -> Option<String> {
    let field = state["fields"][key].as_str()?;
    Some(serde_json::from_str(field).expect("a persisted field holds a JSON-encoded string"))
}

/// The state with the persisted field `key` set to `value`.
pub fn with_field(mut state: serde_json::Value, key: &str, value: &str) -> serde_json::Value {
    state["fields"][key] = serde_json::json!(serde_json::to_string(value).unwrap());
    state
}

/// The enrolled voice a state holds (`None`: no voice).
pub fn stored_voice(state: &serde_json::Value) -> Option<fsdd_core::Voice> {
    let json = stored_field(state, "voice").expect("a voice field in the state");
    (!json.is_empty()).then(|| fsdd_core::Voice::from_json(&json).expect("the stored voice parses"))
}

/// Restores a state's persisted fields into `params` the way nice-plug does when a host loads a
/// project (the plugin's `filter_state`, then `deserialize_fields`), without a host.
pub fn restore_fields(params: &fsdd_plugin::params::FsddParams, state: &serde_json::Value) {
    use nice_plug::prelude::{Params, Plugin, PluginState};
    let mut plugin_state: PluginState = serde_json::from_value(state.clone()).expect("a nice-plug state");
    <fsdd_plugin::FsddPlugin as Plugin>::filter_state(&mut plugin_state);
    params.deserialize_fields(&plugin_state.fields);
}

/// The default state with some parameters replaced, e.g. `[("base_note", json!({"i32": 48}))]`.
pub fn state_with(params: &[(&str, serde_json::Value)]) -> Vec<u8> {
    let mut plugin = HostedPlugin::new(
        HostConfig { sample_rate: 48_000.0, layout: Layout::Stereo, max_block: 512, offline: true },
        None,
    );
    let mut json = state_json(&plugin.save_state());
    for (id, value) in params {
        assert!(json["params"].get(*id).is_some(), "no parameter {id}");
        json["params"][*id] = value.clone();
    }
    state_bytes(&json)
}
