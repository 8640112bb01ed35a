//! The live dashboard's main loop: audio source -> engine -> [`App`] -> [`ui::render`] at ~30
//! fps, keys -> [`events::handle_key`] -> [`Effect`]s applied to the engine here.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use crossterm::event::{self, Event};
use fsdd_core::{DetectionReceiver, Engine, EngineConfig, Model, PrototypeSet, RecognizerConfig, ScoringMode};

use crate::audio_input::InputDevice;
use crate::cli::LiveArgs;
use crate::dashboard::app::{App, Effect, SourceInfo};
use crate::dashboard::cpu::CpuMeter;
use crate::dashboard::terminal::TerminalGuard;
use crate::dashboard::{events, ui};
use crate::file_input::{FilePlayer, Playlist};
use crate::offline::{check_prototypes, load_model, load_prototypes};
use fsdd_core::voice::enrollment::{Take, build_prototypes};

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
    prototypes_path: Option<PathBuf>,
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
    // An explicit --prototypes file must load; the default one is optional and a bad one is
    // reported and ignored (the user can enroll again).
    let (prototypes, prototypes_path) = match &args.recognizer.prototypes {
        // A file that does not exist yet is where enrollment will save.
        Some(p) if !p.exists() => {
            startup_status = Some(format!("{} does not exist yet: press e to enroll", p.display()));
            (None, Some(p.clone()))
        }
        Some(p) => (Some(load_prototypes(p, &model)?), Some(p.clone())),
        None => {
            let default = PrototypeSet::default_path();
            let loaded = match &default {
                Some(p) if p.is_file() => match load_prototypes(p, &model) {
                    Ok(set) => Some(set),
                    Err(e) => {
                        startup_status = Some(format!("ignored {}: {e:#}", p.display()));
                        None
                    }
                },
                _ => None,
            };
            (loaded, default)
        }
    };
    let mode = args
        .recognizer
        .scoring_mode(prototypes.is_some(), "pass --prototypes FILE, or start in base mode and press e to enroll")?;
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
    let has_prototypes = prototypes.is_some();
    if has_prototypes {
        engine.set_prototypes(prototypes);
    }

    let mut app = App::new(SourceInfo { description, input_rate }, mode, early_exit.threshold, early_exit.consecutive);
    app.model_rejects = model.rejects();
    app.prototypes_loaded = has_prototypes;
    app.prototypes_path = prototypes_path.clone();
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
        prototypes_path,
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
        // Whole words (enrollment only): after the detections, so a take knows what was heard.
        while let Some(word) = self.engine.pop_word() {
            self.app.on_word(&word);
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
                    self.engine.capture_words(true);
                    // Whole words only, and every word, however unsure.
                    settings.set_threshold(1.0);
                    settings.set_consecutive(64);
                    settings.set_emit_unsure(true);
                }
                Effect::RestoreEarlyExit => {
                    self.engine.capture_words(false);
                    settings.set_threshold(self.app.threshold);
                    settings.set_consecutive(self.app.consecutive);
                    settings.set_emit_unsure(RecognizerConfig::default().early_exit.emit_unsure);
                }
                Effect::FinishEnrollment(takes) => match self.finish_enrollment(&takes) {
                    Ok(message) => {
                        settings.set_mode(ScoringMode::Hybrid);
                        self.app.prototypes_ready(self.prototypes_path.clone(), message);
                    }
                    Err(e) => self.app.status = Some(format!("enrollment failed: {e:#}")),
                },
            }
        }
    }

    fn finish_enrollment(&mut self, takes: &[Take]) -> anyhow::Result<String> {
        let set = build_prototypes(&self.model, takes)?;
        check_prototypes(&set, &self.model)?;
        let saved = match &self.prototypes_path {
            Some(path) => {
                if let Some(dir) = path.parent() {
                    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
                }
                set.save(path)?;
                format!("saved to {}", path.display())
            }
            None => "not saved (no config directory; pass --prototypes FILE)".to_string(),
        };
        self.engine.set_prototypes(Some(set));
        Ok(format!("enrolled {} words, {saved}; mode hybrid", takes.len()))
    }
}
