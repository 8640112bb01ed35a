//! The plugin window (nice-plug-egui): the last recognised digit, eleven live confidence bars,
//! the last few words heard (pick the right digit for a wrong one and teach it: the word becomes
//! a take of that digit in the enrolled voice, with an undo), and the enrolled voice, with
//! guided enrollment from the track's input, voice-file import and export.
//!
//! The window is optional: the plugin loads and runs the same headless, and egui only runs
//! while a host shows the window. Drawing is a pure function of a plain [`StatusView`]
//! snapshot ([`draw`]), so it is tested without a window. [`StatusView::gather`] builds the
//! snapshot on the editor's thread from the lock-free [`LiveStatus`] (detections from
//! `process()`), the engine's live view (the worker's latest per-digit probabilities; the
//! worker publishes it with a `try_lock`, so it never waits for the editor, and the audio
//! thread is not involved), and the voice store. Button actions (enrollment, teaching, file
//! import and export) run on the editor's thread too, never in `process()`; so does
//! `FsddParams::poll_words`, which moves the worker's captured words into the recent words and
//! the enrollment every frame.
//! While enrolling, the window shows the enrollment (digit to say, input level, the last take's
//! length and level trace, takes so far) in place of the last digit and the bars.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use egui::{Color32, RichText};
use fsdd_core::DetectionKind;
use fsdd_core::inference::model::{N_OUTPUTS, NOT_A_DIGIT};
use fsdd_core::labels::kind_label;
use fsdd_core::voice::enrollment::{MAX_TAKES_PER_DIGIT, Prompt};
use nice_plug::editor::dpi::LogicalSize;
use nice_plug_egui::{EguiEditor, EguiEditorState, EguiNiceSettings, Frame, NiceEguiApp, RepaintNotifier};

use crate::enrollment::{DEFAULT_TAKES, EnrollmentOutcome, EnrollmentView, TakeView};
use crate::live_status::LiveStatus;
use crate::params::{FsddParams, ModeChoice};
use crate::voice_store::{ExportError, ImportError, Taught, TeachError, VoiceOrigin, VoiceStatus};

pub const WIDTH: f64 = 460.0;
pub const HEIGHT: f64 = 800.0;
/// The worker publishes its live view every few tens of milliseconds; refreshing faster
/// would redraw the same numbers.
const REFRESH: Duration = Duration::from_millis(50);

pub type FsddEditor = EguiEditor<StatusApp>;

pub fn default_state() -> Arc<EguiEditorState> {
    EguiEditorState::from_size(LogicalSize::new(WIDTH, HEIGHT), 1.0)
}

/// The editor `Plugin::editor()` returns. Nothing is drawn (and no window system is touched)
/// until a host opens it.
pub fn create(params: Arc<FsddParams>, status: Arc<LiveStatus>, state: Arc<EguiEditorState>) -> Option<FsddEditor> {
    let settings = EguiNiceSettings::new().with_tile("FSDD Spoken Digits");
    let input = EditorInput::for_params(&params);
    let app = StatusApp { params, status, input, gui: None };
    nice_plug_egui::create_egui_editor(state, RepaintNotifier::new(), settings, app)
}

/// The last detection as shown.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LastDigitView {
    /// `None`: the last sound was not a digit (no MIDI was sent for it).
    pub digit: Option<u8>,
    pub confidence: f32,
    pub kind: DetectionKind,
    /// Seconds of audio since the decision (`None`: from an earlier activation).
    pub seconds_ago: Option<f32>,
}

/// One of the last words heard, as listed for teaching.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RecentView {
    /// `None`: not a digit.
    pub digit: Option<u8>,
    pub confidence: f32,
    pub kind: DetectionKind,
    /// Speech onset: what identifies the word to teach.
    pub onset: u64,
    pub seconds_ago: Option<f32>,
}

/// Where the confidence bars come from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BarsSource {
    /// The running recogniser's latest evaluation.
    Live,
    /// The last detection (the recogniser is not running).
    LastDetection,
    /// Nothing heard yet.
    Empty,
}

/// Everything the window shows: a plain copy, so drawing needs no locks and can be tested.
#[derive(Clone, Debug, PartialEq)]
pub struct StatusView {
    pub running: bool,
    pub last: Option<LastDigitView>,
    /// Digits 0-9, then "not a digit".
    pub bars: [f32; N_OUTPUTS],
    pub bars_source: BarsSource,
    /// Input level of the analysis (dBFS) and whether it hears speech, while running.
    pub level_db: Option<f32>,
    pub speech: bool,
    /// The running recogniser's last words, newest first (empty while it is not running).
    pub recent: Vec<RecentView>,
    pub voice: VoiceStatus,
    /// The persisted voice file setting (empty = default file).
    pub voice_path: Option<PathBuf>,
    /// `fsdd-tui`'s default voice file on this system.
    pub default_path: Option<PathBuf>,
    /// The guided enrollment, while it runs.
    pub enrolling: Option<EnrollmentView>,
    /// How the last enrollment ended.
    pub enroll_outcome: Option<EnrollmentOutcome>,
}

impl StatusView {
    /// Collects the current state (editor thread: it reads the engine's snapshot, which takes
    /// the engine's brief lock, and the voice store).
    pub fn gather(params: &FsddParams, status: &LiveStatus) -> StatusView {
        let snapshot = status.snapshot();
        let last = snapshot.last.map(|d| LastDigitView {
            digit: d.digit,
            confidence: d.confidence,
            kind: d.kind,
            seconds_ago: snapshot.seconds_since_last(),
        });
        let live = if snapshot.running { params.voice.live_view() } else { None };
        let (bars, bars_source) = match (&live, snapshot.last) {
            (Some(live), _) if live.probs.iter().any(|&p| p > 0.0) => (live.probs, BarsSource::Live),
            (_, Some(last)) => (last.probs, BarsSource::LastDetection),
            _ => ([0.0; N_OUTPUTS], BarsSource::Empty),
        };
        StatusView {
            running: snapshot.running,
            last,
            bars,
            bars_source,
            level_db: live.as_ref().map(|l| l.level_db),
            speech: live.as_ref().is_some_and(|l| l.speech),
            recent: if snapshot.running {
                snapshot
                    .recent
                    .iter()
                    .flatten()
                    .map(|r| RecentView {
                        digit: r.digit,
                        confidence: r.confidence,
                        kind: r.kind,
                        onset: r.onset,
                        seconds_ago: snapshot.seconds_since(r.decision),
                    })
                    .collect()
            } else {
                Vec::new()
            },
            voice: params.voice_status(),
            voice_path: params.voice_path(),
            default_path: fsdd_core::Voice::default_path(),
            enrolling: params.enrollment.view(),
            enroll_outcome: params.enrollment.outcome(),
        }
    }
}

/// What the user typed (kept between frames by the app).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EditorInput {
    pub path_text: String,
    /// Takes per digit the next enrollment asks for.
    pub takes_per_digit: usize,
    /// The recent word picked for teaching (by its speech onset).
    pub teach_onset: Option<u64>,
    /// The right digit picked for it.
    pub teach_digit: Option<u8>,
}

impl Default for EditorInput {
    fn default() -> Self {
        EditorInput { path_text: String::new(), takes_per_digit: DEFAULT_TAKES, teach_onset: None, teach_digit: None }
    }
}

impl EditorInput {
    /// The field as the persisted setting has it (empty = default file).
    pub fn for_params(params: &FsddParams) -> Self {
        EditorInput {
            path_text: params.voice_path().map(|p| p.display().to_string()).unwrap_or_default(),
            ..EditorInput::default()
        }
    }
}

/// A button the user pressed this frame.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EditorAction {
    /// Import the voice file at this path.
    Import(PathBuf),
    /// Import `fsdd-tui`'s default file and forget the path.
    UseDefault,
    /// Write the enrolled voice to this file (`None`: `fsdd-tui`'s default file).
    Export(Option<PathBuf>),
    /// Start the guided enrollment with this many takes per digit.
    StartEnrollment(usize),
    /// Drop the last take and ask for its digit again.
    RedoTake,
    /// Move on to the next digit.
    SkipDigit,
    /// Stop enrolling; the previous voice stays.
    CancelEnrollment,
    /// Add the word of the detection with this speech onset (which said `heard`) to the voice
    /// as a take of `digit`.
    Teach { onset: u64, heard: Option<u8>, digit: u8 },
    /// Take back the last teach.
    UndoTeach,
}

/// What a carried-out action did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Performed {
    Imported(PathBuf),
    Exported(PathBuf),
    /// An enrollment button (start, redo, skip, cancel).
    Enrollment,
    Taught(Taught),
    Undone,
}

/// Why an action failed (also kept for the window by the voice store).
#[derive(Debug, thiserror::Error)]
pub enum ActionError {
    #[error(transparent)]
    Import(#[from] ImportError),
    #[error(transparent)]
    Export(#[from] ExportError),
    #[error(transparent)]
    Teach(#[from] TeachError),
}

/// "how long ago" in words a glance can read.
pub fn ago_label(seconds: Option<f32>) -> String {
    match seconds {
        None => "before the last restart".to_owned(),
        Some(s) if s < 1.0 => "just now".to_owned(),
        Some(s) if s < 120.0 => format!("{s:.0} s ago"),
        Some(s) => format!("{:.0} min ago", s / 60.0),
    }
}

/// One line on the enrolled voice, e.g. "Enrolled voice: 10/10 digits, 30 takes (digits 0-9)".
pub fn enrollment_summary(status: &VoiceStatus) -> String {
    let enrolled: Vec<String> = (0..10).filter(|&d| status.per_digit[d] > 0).map(|d| d.to_string()).collect();
    if enrolled.is_empty() {
        return "Enrolled voice: none (base model only)".to_owned();
    }
    let takes: usize = status.per_digit.iter().sum();
    format!("Enrolled voice: {}/10 digits, {takes} takes (digits {})", enrolled.len(), enrolled.join(" "))
}

/// "Takes per digit: 0:3 1:3+1 ...": takes per digit, "+n" of them taught from corrections.
pub fn voice_takes_label(status: &VoiceStatus) -> String {
    let per_digit: Vec<String> = (0..10)
        .map(|d| {
            let corrections = status.corrections[d];
            let enrolled = status.per_digit[d] - corrections.min(status.per_digit[d]);
            if corrections > 0 { format!("{d}:{enrolled}+{corrections}") } else { format!("{d}:{enrolled}") }
        })
        .collect();
    let legend = if status.corrections.iter().any(|&n| n > 0) { " (+n: taught)" } else { "" };
    format!("Takes per digit: {}{legend}", per_digit.join(" "))
}

pub fn origin_label(origin: &VoiceOrigin) -> String {
    match origin {
        VoiceOrigin::None => "Source: -".to_owned(),
        VoiceOrigin::Project => "Source: saved with the project".to_owned(),
        VoiceOrigin::File(path) => format!("Source: {}", path.display()),
        VoiceOrigin::Enrolled => "Source: enrolled in this window (saved with the project)".to_owned(),
        VoiceOrigin::Taught => "Source: taught in this window (saved with the project)".to_owned(),
    }
}

/// How a recent word is listed, e.g. "7 · early, 92% · 3 s ago" (also what a test clicks).
pub fn recent_label(recent: &RecentView) -> String {
    let digit = recent.digit.map_or("×".to_owned(), |d| d.to_string());
    format!(
        "{digit} · {}, {:.0}% · {}",
        kind_label(recent.kind),
        recent.confidence * 100.0,
        ago_label(recent.seconds_ago)
    )
}

pub const DIGIT_WORDS: [&str; 10] = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"];

/// "0:3 1:3 2:1 ...": takes per digit.
pub fn takes_label(counts: &[usize; 10]) -> String {
    counts.iter().enumerate().map(|(d, n)| format!("{d}:{n}")).collect::<Vec<_>>().join(" ")
}

pub fn outcome_label(outcome: &EnrollmentOutcome) -> String {
    match outcome {
        EnrollmentOutcome::Finished { per_digit } => {
            format!("Enrollment done, takes per digit {}; mode set to Your voice", takes_label(per_digit))
        }
        EnrollmentOutcome::Cancelled => "Enrollment cancelled; the previous voice stays".to_owned(),
        EnrollmentOutcome::Failed(message) => format!("Enrollment failed: {message}"),
    }
}

/// Level in dBFS as a 0..1 bar (-80 dBFS empty, 0 dBFS full).
fn level_fraction(db: f32) -> f32 {
    if db.is_finite() { ((db + 80.0) / 80.0).clamp(0.0, 1.0) } else { 0.0 }
}

/// The last take's level per hop, over the 1.024 s the model sees (so its length shows).
fn draw_level_trace(ui: &mut egui::Ui, take: &TakeView) {
    let size = egui::vec2(ui.available_width(), 36.0);
    let (rect, _) = ui.allocate_exact_size(size, egui::Sense::hover());
    let painter = ui.painter_at(rect);
    painter.rect_filled(rect, 2.0, Color32::from_gray(35));
    let hops = fsdd_core::signal::mfcc::N_FRAMES as f32;
    let points: Vec<egui::Pos2> = take
        .level_trace
        .iter()
        .enumerate()
        .map(|(i, &db)| {
            egui::pos2(
                rect.left() + rect.width() * (i as f32 + 0.5) / hops,
                rect.bottom() - rect.height() * level_fraction(db),
            )
        })
        .collect();
    painter.add(egui::Shape::line(points, egui::Stroke::new(1.5, Color32::from_rgb(90, 200, 110))));
}

/// The enrollment in progress (in place of the last digit and the bars).
fn draw_enrollment(ui: &mut egui::Ui, view: &StatusView, e: &EnrollmentView) -> Option<EditorAction> {
    let mut action = None;
    ui.label(RichText::new("Enrolling your voice").size(18.0).strong());
    ui.colored_label(WARNING_AMBER, "No digit MIDI is sent while enrolling");
    match e.prompt {
        Prompt::Say { digit, take, of } | Prompt::Review { digit, take, of } => {
            ui.horizontal(|ui| {
                ui.label(RichText::new(format!("Say \"{}\"", DIGIT_WORDS[digit as usize])).size(34.0).strong());
                ui.label(format!("take {take} of {of}"));
            });
        }
        Prompt::Complete => {
            ui.label(RichText::new("Building your voice...").size(24.0));
        }
    }
    let level = view.level_db.unwrap_or(fsdd_core::signal::vad::LEVEL_FLOOR_DB);
    let speech = if view.speech { ", hearing you" } else { "" };
    ui.add(
        egui::ProgressBar::new(level_fraction(level))
            .desired_width(ui.available_width())
            .text(format!("Input {level:.0} dBFS{speech}")),
    );
    if !view.running {
        ui.colored_label(ERROR_RED, "The plugin is not processing: start the transport or enable the track's input");
    }
    match &e.last_take {
        Some(take) => {
            ui.label(format!("Last take: \"{}\", {:.0} ms", DIGIT_WORDS[take.digit as usize], take.duration_ms));
            draw_level_trace(ui, take);
        }
        None => {
            ui.label("Last take: none yet");
        }
    }
    ui.label(format!("Takes so far: {}", takes_label(&e.counts)));
    ui.horizontal(|ui| {
        if ui.add_enabled(e.last_take.is_some(), egui::Button::new("Redo last take")).clicked() {
            action = Some(EditorAction::RedoTake);
        }
        if ui.button("Skip digit").clicked() {
            action = Some(EditorAction::SkipDigit);
        }
        if ui.button("Cancel").clicked() {
            action = Some(EditorAction::CancelEnrollment);
        }
    });
    action
}

const ERROR_RED: Color32 = Color32::from_rgb(230, 80, 70);
const WARNING_AMBER: Color32 = Color32::from_rgb(230, 180, 60);
const OK_GREEN: Color32 = Color32::from_rgb(90, 200, 110);

/// Draws the whole window from `view`; returns the button the user pressed, if any.
pub fn draw(ui: &mut egui::Ui, view: &StatusView, input: &mut EditorInput) -> Option<EditorAction> {
    ui.heading("FSDD Spoken Digits");
    if !view.running {
        ui.colored_label(ERROR_RED, "Recogniser not running (plugin inactive, or the model did not load)");
    } else if let Some(level) = view.level_db {
        let speech = if view.speech { ", speech" } else { "" };
        ui.label(format!("Input {level:.0} dBFS{speech}"));
    }
    ui.separator();

    let action = match &view.enrolling {
        Some(enrolling) => draw_enrollment(ui, view, enrolling),
        None => {
            draw_recognition(ui, view);
            ui.separator();
            draw_teach(ui, view, input)
        }
    };
    ui.separator();
    draw_voice(ui, view, input).or(action)
}

/// The last words heard: pick one and its right digit, and teach it (the word becomes a take of
/// that digit); undo the last teach.
fn draw_teach(ui: &mut egui::Ui, view: &StatusView, input: &mut EditorInput) -> Option<EditorAction> {
    let mut action = None;
    if view.recent.is_empty() {
        ui.label("Recent words: none yet. A wrong digit can be taught here once heard");
    } else {
        ui.label("Recent words: pick a wrong one and its right digit, then Teach");
        for recent in &view.recent {
            ui.selectable_value(&mut input.teach_onset, Some(recent.onset), recent_label(recent));
        }
    }
    let picked = view.recent.iter().find(|r| Some(r.onset) == input.teach_onset);
    ui.horizontal(|ui| {
        ui.label("Right digit:");
        for digit in 0..10u8 {
            ui.selectable_value(&mut input.teach_digit, Some(digit), digit.to_string());
        }
    });
    ui.horizontal(|ui| {
        let teach = picked.zip(input.teach_digit);
        if ui.add_enabled(teach.is_some(), egui::Button::new("Teach")).clicked()
            && let Some((recent, digit)) = teach
        {
            action = Some(EditorAction::Teach { onset: recent.onset, heard: recent.digit, digit });
        }
        if ui.add_enabled(view.voice.can_undo, egui::Button::new("Undo last teach")).clicked() {
            action = Some(EditorAction::UndoTeach);
        }
    });
    match &view.voice.last_teach {
        Some(Ok(message)) => {
            ui.colored_label(OK_GREEN, message);
        }
        Some(Err(message)) => {
            ui.colored_label(ERROR_RED, format!("Not taught: {message}"));
        }
        None => {}
    }
    action
}

/// The last digit and the ten confidence bars.
fn draw_recognition(ui: &mut egui::Ui, view: &StatusView) {
    match view.last {
        Some(last) => {
            let (big, line) = match last.digit {
                Some(d) => (d.to_string(), format!("Last digit: {d}")),
                None => ("×".to_owned(), "Not a digit (no MIDI sent)".to_owned()),
            };
            ui.horizontal(|ui| {
                ui.label(RichText::new(big).size(72.0).strong());
                ui.vertical(|ui| {
                    ui.label(RichText::new(line).size(18.0));
                    ui.label(format!("{:.0}% confident, {}", last.confidence * 100.0, kind_label(last.kind)));
                    ui.label(ago_label(last.seconds_ago));
                });
            });
        }
        None => {
            ui.label(RichText::new("-").size(72.0).strong());
            ui.label("No digit heard yet");
        }
    }
    ui.separator();

    ui.label(match view.bars_source {
        BarsSource::Live => "Confidence per digit (live)",
        BarsSource::LastDetection => "Confidence per digit (last detection)",
        BarsSource::Empty => "Confidence per digit",
    });
    let top = (0..N_OUTPUTS).max_by(|&a, &b| view.bars[a].total_cmp(&view.bars[b]));
    for (digit, &p) in view.bars.iter().enumerate() {
        let name = if digit == NOT_A_DIGIT { "not a digit".to_owned() } else { digit.to_string() };
        let p = if p.is_finite() { p.clamp(0.0, 1.0) } else { 0.0 };
        let mut bar =
            egui::ProgressBar::new(p).desired_width(ui.available_width()).text(format!("{name}: {:.0}%", p * 100.0));
        if top == Some(digit) && p > 0.0 {
            bar = bar.fill(Color32::from_rgb(70, 130, 200));
        }
        ui.add(bar);
    }
}

/// The enrolled voice: summary, enrollment, import and export.
fn draw_voice(ui: &mut egui::Ui, view: &StatusView, input: &mut EditorInput) -> Option<EditorAction> {
    let mut action = None;
    ui.label(enrollment_summary(&view.voice));
    if let Some(message) = &view.voice.old_project {
        ui.colored_label(WARNING_AMBER, message);
    }
    if !view.voice.is_empty() {
        ui.label(voice_takes_label(&view.voice));
    }
    if let Some(reason) = &view.voice.unusable {
        ui.colored_label(ERROR_RED, format!("Not used: {reason}; the base model recognises"));
    }
    ui.label(origin_label(&view.voice.origin));
    match &view.voice.last_import {
        Some(Ok(path)) => {
            ui.colored_label(OK_GREEN, format!("Imported {}", path.display()));
        }
        Some(Err(message)) => {
            ui.colored_label(ERROR_RED, format!("Import failed: {message}"));
        }
        None => {}
    }
    if let Some(outcome) = &view.enroll_outcome {
        let color = match outcome {
            EnrollmentOutcome::Finished { .. } => OK_GREEN,
            EnrollmentOutcome::Cancelled => Color32::GRAY,
            EnrollmentOutcome::Failed(_) => ERROR_RED,
        };
        ui.colored_label(color, outcome_label(outcome));
    }
    match &view.voice.last_export {
        Some(Ok(path)) => {
            ui.colored_label(OK_GREEN, format!("Exported to {}", path.display()));
        }
        Some(Err(message)) => {
            ui.colored_label(ERROR_RED, format!("Export failed: {message}"));
        }
        None => {}
    }
    if view.enrolling.is_none() {
        ui.horizontal(|ui| {
            if ui.button("Enroll").clicked() {
                action = Some(EditorAction::StartEnrollment(input.takes_per_digit));
            }
            ui.add(egui::DragValue::new(&mut input.takes_per_digit).range(1..=MAX_TAKES_PER_DIGIT).speed(0.1));
            ui.label("takes per digit, from the track's input");
        });
    }
    ui.horizontal(|ui| {
        ui.label("Voice file:");
        ui.add(
            egui::TextEdit::singleline(&mut input.path_text)
                .hint_text("path to voice.json (fsdd-tui enroll)")
                .desired_width(ui.available_width()),
        );
    });
    ui.horizontal(|ui| {
        let path = input.path_text.trim();
        if ui.add_enabled(!path.is_empty(), egui::Button::new("Import")).clicked() {
            action = Some(EditorAction::Import(PathBuf::from(path)));
        }
        if ui.button("Use default file").clicked() {
            action = Some(EditorAction::UseDefault);
        }
        let enrolled = !view.voice.is_empty();
        if ui.add_enabled(enrolled, egui::Button::new("Export")).clicked() {
            action = Some(EditorAction::Export((!path.is_empty()).then(|| PathBuf::from(path))));
        }
    });
    match &view.default_path {
        Some(path) => ui.small(format!("Default file: {}", path.display())),
        None => ui.small("Default file: unknown on this system"),
    };
    action
}

/// The whole window: [`draw`] on a panel with the theme's background and margins, in a
/// vertical scroll area (a long error message or path wraps; the buttons stay reachable).
pub fn show(ui: &mut egui::Ui, view: &StatusView, input: &mut EditorInput) -> Option<EditorAction> {
    egui::CentralPanel::default_margins()
        .show(ui, |ui| egui::ScrollArea::vertical().auto_shrink(false).show(ui, |ui| draw(ui, view, input)).inner)
        .inner
}

/// The egui app: gathers a [`StatusView`] every frame, draws it and carries out the buttons.
pub struct StatusApp {
    params: Arc<FsddParams>,
    status: Arc<LiveStatus>,
    input: EditorInput,
    /// The host's parameter channel, while the window is open.
    gui: Option<nice_plug::context::gui::GuiContext>,
}

/// Carries out a button's action on the calling (editor) thread: it may read or write a file,
/// or run the model on the voice's takes. Failures are logged and kept in the voice store,
/// which the next frame shows.
pub fn perform(params: &FsddParams, input: &mut EditorInput, action: EditorAction) -> Result<Performed, ActionError> {
    match action {
        EditorAction::Import(path) => Ok(Performed::Imported(params.import_voice(Some(&path))?)),
        EditorAction::UseDefault => {
            let file = params.import_voice(None)?;
            input.path_text.clear();
            Ok(Performed::Imported(file))
        }
        EditorAction::Export(path) => Ok(Performed::Exported(params.export_voice(path.as_deref())?)),
        EditorAction::StartEnrollment(per_digit) => {
            params.start_enrollment(per_digit);
            Ok(Performed::Enrollment)
        }
        EditorAction::RedoTake => {
            params.enrollment.redo_last();
            Ok(Performed::Enrollment)
        }
        EditorAction::SkipDigit => {
            params.enrollment.skip_digit();
            Ok(Performed::Enrollment)
        }
        EditorAction::CancelEnrollment => {
            params.enrollment.cancel();
            Ok(Performed::Enrollment)
        }
        EditorAction::Teach { onset, heard, digit } => {
            let taught = params.teach(onset, heard, digit)?;
            // Taught once: the same word is not picked again by accident.
            input.teach_onset = None;
            input.teach_digit = None;
            Ok(Performed::Taught(taught))
        }
        EditorAction::UndoTeach => {
            params.undo_teach()?;
            Ok(Performed::Undone)
        }
    }
}

/// Sets the Mode parameter to Your voice the way a user would (the host records the change).
pub fn switch_to_voice(gui: &nice_plug::context::gui::GuiContext, params: &FsddParams) {
    let setter = gui.param_setter();
    setter.begin_set_parameter(&params.mode);
    setter.set_parameter(&params.mode, ModeChoice::Voice);
    setter.end_set_parameter(&params.mode);
}

impl NiceEguiApp for StatusApp {
    /// Each time the window opens: the path field shows the project's setting, which a state
    /// load may have changed since the app was made (`Plugin::editor()` runs before any state
    /// is loaded).
    fn build(
        &mut self,
        _egui_ctx: egui::Context,
        gui_ctx: nice_plug::context::gui::GuiContext,
        _frame: &mut Frame,
    ) -> Result<(), nice_plug_egui::baseview::HandlerError> {
        let takes = self.input.takes_per_digit;
        self.input = EditorInput::for_params(&self.params);
        self.input.takes_per_digit = takes;
        self.gui = Some(gui_ctx);
        Ok(())
    }

    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut Frame) {
        ui.ctx().request_repaint_after(REFRESH);
        // The words the worker captured: into the recent words (teaching) and the enrollment.
        // While the window is closed they wait in the engine's bounded queue, which keeps the
        // newest, more than the words listed here.
        if self.params.poll_words()
            && let Some(gui) = &self.gui
        {
            switch_to_voice(gui, &self.params);
        }
        let view = StatusView::gather(&self.params, &self.status);
        if let Some(action) = show(ui, &view, &mut self.input) {
            let _ = perform(&self.params, &mut self.input, action);
        }
    }
}
