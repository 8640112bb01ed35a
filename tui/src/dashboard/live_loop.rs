//! The live dashboard's main loop: audio source -> engine -> [`App`] -> [`ui::render`] at ~30
//! fps, keys -> [`events::handle_key`] -> [`Effect`]s applied to the engine here.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use crossterm::event::{self, Event};
use fsdd_core::{
    Added, Detection, DetectionReceiver, Engine, EngineConfig, Model, RecentWords, RecognizerConfig, ScoringMode,
    TakeSource, Voice, VoiceMatcher,
};

use crate::audio_input::InputDevice;
use crate::cli::LiveArgs;
use crate::dashboard::app::{App, Effect, SourceInfo, VoiceStatus};
use crate::dashboard::cpu::CpuMeter;
use crate::dashboard::terminal::TerminalGuard;
use crate::dashboard::{events, ui};
use crate::file_input::{FilePlayer, Playlist};
use crate::offline::{load_model, load_voice};
use fsdd_core::voice::enrollment::build_voice;

/// Redraw interval (~30 fps).
const FRAME: Duration = Duration::from_millis(33);

enum Source {
    Device { _stream: cpal::Stream },
    Files { player: FilePlayer, sender: fsdd_core::AudioSender, flushed: bool },
}

/// Everything the loop needs, set up before the terminal is touched so that every error is
/// printed on a normal screen.
struct Session {
    model: Arc<Model>,
    engine: Engine,
    receiver: DetectionReceiver,
    source: Source,
    app: App,
    /// The enrolled voice (possibly empty) and where it is saved.
    voice: Voice,
    voice_path: Option<PathBuf>,
    /// The words behind recent detections, for corrections that teach the voice.
    recent_words: RecentWords,
    /// The last taught take, until it is undone or the voice changes otherwise.
    last_teach: Option<Added>,
    exit_at_end: bool,
    panic_after: Option<Duration>,
    started: Instant,
    stream_errors: Arc<AtomicU64>,
}

pub fn run(args: LiveArgs) -> anyhow::Result<()> {
    let mut session = prepare(&args)?;
    if args.enroll {
        let effects = session.app.start_enrollment();
        session.apply(effects);
    }
    let mut guard = TerminalGuard::enter()?;
    let result = session.run_loop(&mut guard);
    drop(guard);
    result
}

fn prepare(args: &LiveArgs) -> anyhow::Result<Session> {
    let model = load_model(args.recognizer.model.as_deref())?;
    let mut startup_status = None;
    // An explicit --voice file must load; the default one is optional and a bad one is
    // reported and ignored (the user can enroll again; it is overwritten only by a new voice).
    let (voice, voice_path) = match &args.recognizer.voice {
        // A file that does not exist yet is where enrollment will save.
        Some(p) if !p.exists() => {
            startup_status = Some(format!("{} does not exist yet: press e to enroll", p.display()));
            (None, Some(p.clone()))
        }
        Some(p) => (Some(load_voice(p, &model)?), Some(p.clone())),
        None => {
            let default = Voice::default_path();
            let loaded = match &default {
                Some(p) if p.is_file() => match load_voice(p, &model) {
                    Ok(v) => Some(v),
                    Err(e) => {
                        startup_status = Some(format!("ignored {}: {e:#}", p.display()));
                        None
                    }
                },
                _ => {
                    // A voice enrolled by an earlier version: say why it is not used.
                    if let Some(old) = Voice::old_prototypes_path().filter(|p| p.is_file()) {
                        startup_status = Some(format!(
                            "{} is from an earlier fsdd (prototypes, no recordings) and cannot be used: press e to enroll again",
                            old.display()
                        ));
                    }
                    None
                }
            };
            (loaded, default)
        }
    };
    let mode = args
        .recognizer
        .scoring_mode(voice.is_some(), "pass --voice FILE, or start in base mode and press e to enroll")?;
    let early_exit = args.recognizer.early_exit()?;
    if !(args.speed.is_finite() && args.speed > 0.0 && args.speed <= 100.0) {
        bail!("--speed must be in (0, 100], got {}", args.speed);
    }

    let stream_errors = Arc::new(AtomicU64::new(0));
    let (playlist, device) = if args.input.is_empty() {
        (None, Some(InputDevice::open(args.device.as_deref())?))
    } else {
        (Some(Playlist::load(&args.input, args.gap)?), None)
    };
    let (input_rate, description) = match (&playlist, &device) {
        (Some(p), _) => (
            p.rate,
            format!("{} file(s), {:.1} s at {}x", p.labels.spans.len(), p.duration().as_secs_f32(), args.speed),
        ),
        (None, Some(d)) => (d.sample_rate(), d.describe()),
        (None, None) => unreachable!("one source is always chosen above"),
    };
    let config = EngineConfig {
        input_rate,
        recognizer: RecognizerConfig { early_exit, mode, ..RecognizerConfig::default() },
        ring_seconds: 2.0,
    };
    let (engine, sender, receiver) = Engine::start(model.clone(), config).context("cannot start the recognizer")?;
    // Every whole word is kept for a while, so a corrected detection can teach the voice.
    engine.capture_words(true);
    let (voice, matcher) = voice.unzip();
    if matcher.is_some() {
        engine.set_voice(matcher);
    }
    let voice = voice.unwrap_or_default();

    let mut app = App::new(SourceInfo { description, input_rate }, mode, early_exit.threshold, early_exit.consecutive);
    app.model_rejects = model.rejects();
    app.voice = voice_status(&voice, voice_path.clone(), None);
    app.enroll_per_digit = args.enroll_per_digit;
    app.status = startup_status;
    let source = match (playlist, device) {
        (Some(p), _) => {
            app.file_labels = Some(p.labels.clone());
            Source::Files { player: FilePlayer::new(&p, args.speed), sender, flushed: false }
        }
        (None, Some(d)) => Source::Device { _stream: d.start(sender, stream_errors.clone())? },
        (None, None) => unreachable!("one source is always chosen above"),
    };
    Ok(Session {
        model,
        engine,
        receiver,
        source,
        app,
        voice,
        voice_path,
        recent_words: RecentWords::default(),
        last_teach: None,
        exit_at_end: args.exit_at_end,
        panic_after: args.debug_panic_after_ms.map(Duration::from_millis),
        started: Instant::now(),
        stream_errors,
    })
}

impl Session {
    fn run_loop(&mut self, guard: &mut TerminalGuard) -> anyhow::Result<()> {
        let mut cpu = CpuMeter::new();
        let mut frames = 0u32;
        let mut window_start = Instant::now();
        loop {
            let frame_start = Instant::now();
            if self.panic_after.is_some_and(|after| self.started.elapsed() >= after) {
                panic!("--debug-panic-after-ms reached: deliberate panic to test terminal restoration");
            }
            self.pump_audio();
            self.drain_detections();
            self.app.on_live(self.engine.live());
            self.check_input_finished();
            let errors = self.stream_errors.load(std::sync::atomic::Ordering::Relaxed);
            if errors > 0 && self.app.status.is_none() {
                self.app.status = Some(format!("audio device reported {errors} stream error(s)"));
            }
            guard.terminal.draw(|f| ui::render(f, &self.app)).context("cannot draw to the terminal")?;
            frames += 1;
            if window_start.elapsed() >= Duration::from_secs(1) {
                let (ui_percent, _) = cpu.sample();
                self.app.stats.fps = frames as f32 / window_start.elapsed().as_secs_f32();
                self.app.stats.cpu_percent = ui_percent;
                frames = 0;
                window_start = Instant::now();
            }
            // Wait for keys until the next frame is due.
            let deadline = frame_start + FRAME;
            while let Some(left) = deadline.checked_duration_since(Instant::now()) {
                if !event::poll(left).context("cannot read terminal events")? {
                    break;
                }
                match event::read().context("cannot read terminal events")? {
                    Event::Key(key) => {
                        let effects = events::handle_key(&mut self.app, key);
                        self.apply(effects);
                    }
                    // The next draw lays out for the new size.
                    Event::Resize(_, _) => break,
                    _ => {}
                }
                if self.app.quit {
                    break;
                }
            }
            if self.app.quit {
                return Ok(());
            }
        }
    }

    fn pump_audio(&mut self) {
        if let Source::Files { player, sender, flushed } = &mut self.source
            && !*flushed
            && player.pump(sender, self.started.elapsed())
        {
            // End of input: decide the last word without waiting for more audio.
            self.engine.flush();
            *flushed = true;
        }
    }

    fn drain_detections(&mut self) {
        while let Some(d) = self.receiver.pop() {
            let effects = self.app.on_detection(d);
            self.apply(effects);
        }
        // Whole words: after the detections, so an enrollment take knows what was heard.
        while let Some(word) = self.engine.pop_word() {
            self.app.on_word(&word);
            self.recent_words.push(word);
        }
    }

    fn check_input_finished(&mut self) {
        if let Source::Files { flushed: true, .. } = self.source
            && !self.app.input_finished
            && self.engine.wait_until_drained(Duration::ZERO)
        {
            self.drain_detections();
            self.app.on_live(self.engine.live());
            self.app.input_finished = true;
            if self.exit_at_end {
                self.app.quit = true;
            }
        }
    }

    fn apply(&mut self, effects: Vec<Effect>) {
        let settings = self.engine.settings();
        for effect in effects {
            match effect {
                Effect::SetMode(m) => settings.set_mode(m),
                Effect::SetThreshold(t) => settings.set_threshold(t),
                Effect::SuspendEarlyExit => {
                    self.engine.set_whole_words(true);
                    // Whole words only, and every word, however unsure.
                    settings.set_threshold(1.0);
                    settings.set_consecutive(64);
                    settings.set_emit_unsure(true);
                }
                Effect::RestoreEarlyExit => {
                    self.engine.set_whole_words(false);
                    settings.set_threshold(self.app.threshold);
                    settings.set_consecutive(self.app.consecutive);
                    settings.set_emit_unsure(RecognizerConfig::default().early_exit.emit_unsure);
                }
                Effect::FinishEnrollment(takes) => {
                    let result = build_voice(&takes).map_err(anyhow::Error::from).and_then(|voice| {
                        let n = voice.takes().len();
                        self.replace_voice(voice, None).map(|saved| format!("enrolled {n} words, {saved}; mode voice"))
                    });
                    match result {
                        Ok(message) => self.voice_changed(ScoringMode::Voice, message),
                        Err(e) => self.app.status = Some(format!("enrollment failed: {e:#}")),
                    }
                }
                Effect::Teach { detection, digit } => match self.teach(&detection, digit) {
                    Ok(message) => {
                        let mode = if self.app.mode == ScoringMode::Base { ScoringMode::Voice } else { self.app.mode };
                        self.voice_changed(mode, message);
                    }
                    Err(e) => self.app.status = Some(format!("could not add the word: {e:#}")),
                },
                Effect::UndoTeach => match self.undo_teach() {
                    Ok(message) => {
                        let mode = if self.voice.is_empty() { ScoringMode::Base } else { self.app.mode };
                        self.voice_changed(mode, message);
                    }
                    Err(e) => self.app.status = Some(format!("could not undo: {e:#}")),
                },
            }
        }
    }

    /// Tells the engine's settings and the dashboard about the voice and its mode.
    fn voice_changed(&mut self, mode: ScoringMode, message: String) {
        self.engine.settings().set_mode(mode);
        let undoable = self.last_teach.as_ref().map(|a| a.take.digit);
        let status = voice_status(&self.voice, self.voice_path.clone(), undoable);
        self.app.voice_changed(status, mode, message);
    }

    /// Makes `voice` the one in use: matched with the model, saved, handed to the engine. On any
    /// error nothing changes (the previous voice stays in use and on disk). `teach` is the
    /// receipt of the take that made it, if it was a correction (for undo).
    fn replace_voice(&mut self, voice: Voice, teach: Option<Added>) -> anyhow::Result<String> {
        let matcher = if voice.is_empty() { None } else { Some(Arc::new(VoiceMatcher::build(&self.model, &voice)?)) };
        let saved = match &self.voice_path {
            Some(path) => {
                voice.save(path)?;
                format!("saved to {}", path.display())
            }
            None => "not saved (no config directory; pass --voice FILE)".to_string(),
        };
        self.engine.set_voice(matcher);
        self.voice = voice;
        self.last_teach = teach;
        Ok(saved)
    }

    /// The word behind `detection` becomes a take of `digit`.
    fn teach(&mut self, detection: &Detection, digit: u8) -> anyhow::Result<String> {
        let take = self
            .recent_words
            .take_for(detection, digit)?
            .context("that word is no longer held (only the last few dozen are); say it again")?;
        let mut voice = self.voice.clone();
        let added = voice.push(take);
        let dropped = if added.evicted.is_some() { " (its oldest take made room)" } else { "" };
        let saved = self.replace_voice(voice, Some(added))?;
        Ok(format!("added that word to your voice as {digit}{dropped}, {saved}; u undoes"))
    }

    fn undo_teach(&mut self) -> anyhow::Result<String> {
        let added = self.last_teach.clone().context("nothing to undo")?;
        let digit = added.take.digit;
        let mut voice = self.voice.clone();
        anyhow::ensure!(voice.undo(added), "the voice changed since; nothing undone");
        let saved = self.replace_voice(voice, None)?;
        Ok(format!("took the last {digit} back out of your voice, {saved}"))
    }
}

/// What the dashboard shows of `voice`.
fn voice_status(voice: &Voice, path: Option<PathBuf>, undoable: Option<u8>) -> VoiceStatus {
    VoiceStatus {
        counts: voice.counts(),
        corrections: voice.takes().iter().filter(|t| t.source == TakeSource::Correction).count(),
        path,
        undoable,
    }
}
