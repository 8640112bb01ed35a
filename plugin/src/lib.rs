//! fsdd-plugin: a CLAP + VST3 audio effect that listens for spoken digits and plays them as
//! MIDI notes and/or CCs, while its audio passes through untouched.
//!
//! - [`params`]: the host-automatable parameters and their mapping to the recogniser.
//! - [`voice_store`]: the enrolled voice (its takes' audio) kept in the plugin state, what the
//!   engine matches it with, and the words corrections are taught from.
//! - [`analysis`]: the `fsdd_core::Engine` (worker thread) behind the audio thread.
//! - [`midi_out`]: digits -> NoteOn/NoteOff/CC with sample positions inside the block.
//! - [`passthrough`]: the audio path (bit-exact, minus denormals and NaN/Inf).
//! - [`live_status`]: the last detection, shared lock-free from `process()` to the editor.
//! - [`editor`]: the egui window (last digit, confidence bars, teaching corrections, enrolled
//!   voice, file import and export).
//! - [`enrollment`]: guided enrollment from the track's input, driven by the window.
//!
//! Real-time rule: `process()` never allocates, locks or waits (checked in debug builds by
//! nice-plug's `assert_process_allocs`). The only exception is the offline render mode, where
//! `process()` waits for the worker so every render gives the same MIDI.

pub mod analysis;
pub mod editor;
pub mod enrollment;
pub mod live_status;
pub mod midi_out;
pub mod params;
pub mod passthrough;
pub mod voice_store;

use std::sync::Arc;

use fsdd_core::{Detection, DetectionKind, Model};
use nice_plug::midi::{Channel, Key, VoiceID};
use nice_plug::prelude::*;

use crate::analysis::AnalysisSession;
use crate::live_status::LiveStatus;
use crate::midi_out::{CcSpec, DigitOutput, MidiOut, NoteScheduler, NoteSpec, TimedMidi};
use crate::params::FsddParams;

/// Stable identifiers: hosts use them to find the plugin in saved projects. Never change them.
pub const CLAP_ID: &str = "org.fsdd.spoken-digits-to-midi";
pub const VST3_CLASS_ID: [u8; 16] = *b"fsddSpokenDigit1";

pub struct FsddPlugin {
    params: Arc<FsddParams>,
    /// The embedded model, loaded at the first activation and kept for later ones.
    model: Option<Arc<Model>>,
    /// `None` while inactive, or if the model could not be loaded (then audio still passes).
    session: Option<AnalysisSession>,
    scheduler: NoteScheduler,
    sample_rate: f32,
    /// Samples processed since activation: the clock detection positions are measured on.
    position: u64,
    /// The default voice file is looked at once per instance, not on every activation.
    tried_default_voice: bool,
    /// The last detection for the editor (written by `process()` with atomic stores).
    live_status: Arc<LiveStatus>,
    editor_state: Arc<nice_plug_egui::EguiEditorState>,
}

impl Default for FsddPlugin {
    fn default() -> Self {
        Self {
            params: Arc::new(FsddParams::default()),
            model: None,
            session: None,
            scheduler: NoteScheduler::new(),
            sample_rate: 48_000.0,
            position: 0,
            tried_default_voice: false,
            live_status: Arc::new(LiveStatus::default()),
            editor_state: editor::default_state(),
        }
    }
}

impl FsddPlugin {
    /// The parameter object (also used by the editor and by tests that drive the plugin
    /// directly).
    pub fn shared_params(&self) -> Arc<FsddParams> {
        self.params.clone()
    }

    /// What the editor reads about the recogniser.
    pub fn live_status(&self) -> Arc<LiveStatus> {
        self.live_status.clone()
    }

    fn load_model(&mut self) -> Option<Arc<Model>> {
        if self.model.is_none() {
            match Model::embedded() {
                Ok(model) => {
                    let model = Arc::new(model);
                    // A voice restored with the project is prepared for the model now.
                    self.params.voice.set_model(model.clone());
                    self.model = Some(model);
                }
                Err(err) => nice_error!("fsdd: the embedded model did not load ({err}); audio passes through, no MIDI"),
            }
        }
        self.model.clone()
    }

    /// A voice file set by the user (editor or project) is re-read at every activation, so a
    /// voice enrolled again with `fsdd-tui` takes effect; if it fails, the voice the project
    /// holds stays. Without a path, a project without a voice picks up the one `fsdd-tui` saved
    /// in its default file, once; if only the earlier version's prototype file is there, the
    /// window says it cannot be used (the import's error).
    fn adopt_voice(&mut self) {
        if let Some(path) = self.params.voice_path() {
            // Errors are logged and shown in the editor by the import itself.
            let _ = self.params.import_voice(Some(&path));
            return;
        }
        if self.tried_default_voice {
            return;
        }
        self.tried_default_voice = true;
        let store = &self.params.voice;
        let exists = |path: Option<std::path::PathBuf>| path.is_some_and(|p| p.is_file());
        if store.is_empty()
            && (exists(fsdd_core::Voice::default_path()) || exists(fsdd_core::Voice::old_prototypes_path()))
        {
            match store.import(None) {
                Ok(file) => nice_log!("fsdd: imported the enrolled voice from the fsdd-tui file {}", file.display()),
                Err(err) => nice_warn!("fsdd: {err}"),
            }
        }
    }

    fn stop_session(&mut self) {
        self.params.voice.detach();
        // Dropping the engine stops and joins its worker thread.
        self.session = None;
    }
}

/// What a detection produces under the current parameters.
fn output_for(p: &FsddParams, sample_rate: f32, digit: u8, detection: &Detection) -> DigitOutput {
    let output = p.output.value();
    let channel = p.midi_channel();
    let note = output.notes().then(|| NoteSpec {
        key: p.key_for(digit),
        channel,
        velocity: midi_out::velocity_from_confidence(detection.confidence),
        length_samples: (p.note_length_ms.value() as f64 * 1e-3 * sample_rate as f64).round().max(1.0) as u64,
    });
    let cc = output.cc().then(|| CcSpec {
        channel,
        cc: p.cc_number.value().clamp(0, 119) as u8,
        value: p.cc_value.value().raw_value(digit),
    });
    DigitOutput { note, cc }
}

fn to_note_event(event: &TimedMidi) -> NoteEvent<()> {
    let timing = event.timing;
    match event.event {
        MidiOut::NoteOn { key, channel, velocity } => NoteEvent::NoteOn {
            timing,
            voice_id: VoiceID::Wildcard,
            channel: Channel::Number(channel),
            key: Key::Number(key),
            velocity,
        },
        MidiOut::NoteOff { key, channel } => NoteEvent::NoteOff {
            timing,
            voice_id: VoiceID::Wildcard,
            channel: Channel::Number(channel),
            key: Key::Number(key),
            velocity: 0.0,
        },
        MidiOut::ControlChange { channel, cc, value } => {
            NoteEvent::MidiCC { timing, channel, cc, value: value as f32 / 127.0 }
        }
    }
}

impl Plugin for FsddPlugin {
    const NAME: &'static str = "FSDD Spoken Digits";
    const VENDOR: &'static str = "fsdd";
    const URL: &'static str = "https://github.com/Jakobovski/free-spoken-digit-dataset";
    const EMAIL: &'static str = "fsdd@example.invalid";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");

    const AUDIO_IO_LAYOUTS: &'static [AudioIOLayout] = &[
        AudioIOLayout {
            main_input_channels: NonZeroU32::new(2),
            main_output_channels: NonZeroU32::new(2),
            ..AudioIOLayout::const_default()
        },
        AudioIOLayout {
            main_input_channels: NonZeroU32::new(1),
            main_output_channels: NonZeroU32::new(1),
            ..AudioIOLayout::const_default()
        },
    ];

    const MIDI_INPUT: MidiConfig = MidiConfig::None;
    const MIDI_OUTPUT: MidiConfig = MidiConfig::MidiCCs;

    type Editor = editor::FsddEditor;
    type SysExMessage = ();
    type BackgroundTask = ();

    fn params(&self) -> Arc<dyn Params> {
        self.params.clone()
    }

    /// States saved before the voice was kept as audio have no `voice` and no `voice_path`.
    /// They mean "no voice of this version" (their format-1 `prototypes` cannot be used, and
    /// `OldPrototypes` says so), not "keep whatever voice this instance holds": a preset loaded
    /// into a running instance must not keep the previous project's voice.
    fn filter_state(state: &mut PluginState) {
        for key in ["voice", "voice_path"] {
            if !state.fields.contains_key(key)
                && let Ok(empty) = nice_plug::params::persist::serialize_field(&String::new())
            {
                state.fields.insert(key.to_owned(), empty);
            }
        }
    }

    fn editor(&mut self, _async_executor: AsyncExecutor<Self>) -> Option<Self::Editor> {
        editor::create(self.params.clone(), self.live_status.clone(), self.editor_state.clone())
    }

    fn activate(
        &mut self,
        _audio_io_layout: &AudioIOLayout,
        buffer_config: &BufferConfig,
        context: &mut impl ActivateContext<Self>,
    ) -> bool {
        // The analysis runs beside the audio, never in its path.
        context.set_latency_samples(0);
        self.stop_session();
        self.sample_rate = buffer_config.sample_rate;
        self.position = 0;
        // Positions restart with the new engine: end whatever still sounds.
        self.scheduler.release_all_at_next_block();
        // The model first: an imported voice is prepared with it.
        let model = self.load_model();
        self.adopt_voice();

        if let Some(model) = model {
            let offline = buffer_config.process_mode == ProcessMode::Offline;
            match AnalysisSession::start(
                model,
                buffer_config.sample_rate,
                buffer_config.max_buffer_size as usize,
                offline,
                self.params.recognizer_config(),
                self.live_status.clone(),
                self.params.enrollment.active_flag(),
            ) {
                Ok(session) => {
                    // Also switches word capture on, for teaching and enrollment.
                    self.params.voice.attach(Arc::downgrade(session.engine()));
                    self.session = Some(session);
                }
                Err(err) => nice_error!("fsdd: the recogniser did not start ({err}); audio passes through, no MIDI"),
            }
        }
        // Even without a recogniser the plugin stays usable as a clean pass-through.
        true
    }

    fn reset(&mut self) {
        // Transport jumps/stops: no note may hang. The NoteOffs go out at the next block.
        self.scheduler.release_all_at_next_block();
    }

    fn deactivate(&mut self) {
        self.stop_session();
        // Notes still sounding are ended in the first block after the next activation.
        self.scheduler.release_all_at_next_block();
    }

    fn process(
        &mut self,
        buffer: &mut Buffer,
        _aux: &mut AuxiliaryBuffers,
        context: &mut impl ProcessContext<Self>,
    ) -> ProcessStatus {
        let frames = buffer.samples();
        let block_start = self.position;
        self.position += frames as u64;
        let channels = buffer.as_slice();

        if let Some(session) = self.session.as_mut() {
            session.apply_params(&self.params);
            // The analysis reads the raw input (the core sanitises NaN/Inf itself).
            session.feed(channels, frames, self.params.input_gain());
        }
        passthrough::sanitize_channels(channels);
        if frames == 0 {
            // No room for events; detections wait in the ring for the next block.
            return ProcessStatus::Normal;
        }

        self.scheduler.begin_block(block_start, frames as u32);
        if let Some(session) = self.session.as_mut() {
            session.settle();
            // `pop` also hands each detection (unsure and rejected ones too) to the editor's
            // live status; only sure digits make MIDI ("not a digit" has no digit). While the
            // window's enrollment runs it returns none (no digit MIDI).
            while let Some(detection) = session.pop() {
                let Some(digit) = detection.digit else { continue };
                if detection.kind == DetectionKind::Unsure {
                    continue;
                }
                let timing = self.scheduler.timing_for(detection.decision);
                let output = output_for(&self.params, self.sample_rate, digit, &detection);
                self.scheduler.digit(timing, output);
            }
        }
        for event in self.scheduler.finish_block() {
            // A full host event queue drops the event; nothing better is possible here.
            let _ = context.try_send_event(to_note_event(event));
        }
        ProcessStatus::Normal
    }
}

impl ClapPlugin for FsddPlugin {
    const CLAP_ID: &'static str = CLAP_ID;
    const CLAP_DESCRIPTION: Option<&'static str> =
        Some("Hears spoken digits (zero to nine) and plays them as MIDI notes or CCs");
    const CLAP_MANUAL_URL: Option<&'static str> = None;
    const CLAP_SUPPORT_URL: Option<&'static str> = None;
    const CLAP_FEATURES: &'static [ClapFeature] = &[
        ClapFeature::AudioEffect,
        ClapFeature::Analyzer,
        ClapFeature::Utility,
        ClapFeature::Stereo,
        ClapFeature::Mono,
    ];
}

impl Vst3Plugin for FsddPlugin {
    const VST3_CLASS_ID: [u8; 16] = VST3_CLASS_ID;
    const VST3_SUBCATEGORIES: &'static [Vst3SubCategory] =
        &[Vst3SubCategory::Fx, Vst3SubCategory::Analyzer, Vst3SubCategory::Tools];
}

nice_export_clap!(FsddPlugin);
nice_export_vst3!(FsddPlugin);
