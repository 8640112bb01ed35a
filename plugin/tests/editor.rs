//! The editor and the voice-file import, on real data:
//! - FSDD utterances through the plugin's analysis session update the lock-free live status
//!   (the same `AnalysisSession::pop` that `process()` uses), including the recent detections
//!   the window lists for teaching;
//! - the editor's draw function, run headless through `egui::Context::run_ui`, shows that real
//!   detection, the enrolled voice and import errors, and its Import button (clicked with
//!   synthetic pointer events) imports a file;
//! - voice files of real FSDD recordings (as `fsdd-tui enroll --from` writes them) import;
//!   garbage ones, empty ones and the earlier version's prototype files are refused with a
//!   message and the old voice stays; without a voice file, the earlier version's
//!   `prototypes.json` gets the message to enroll again;
//! - the path is persisted in the plugin state and used at activation (hosted over CLAP).

mod common;

use std::path::Path;
use std::sync::Arc;

use common::headless::*;
use common::*;
use fsdd_core::{DetectionKind, Model, PrototypeSet, Voice, VoiceError};
use fsdd_plugin::analysis::AnalysisSession;
use fsdd_plugin::editor::{self, EditorAction, EditorInput, StatusView};
use fsdd_plugin::live_status::LiveStatus;
use fsdd_plugin::params::FsddParams;
use fsdd_plugin::voice_store::{DefaultFiles, ImportError, VoiceOrigin};

const RATE: u32 = 48_000;
const BLOCK: usize = 512;

/// Writes `speaker`'s FSDD takes 5..5+takes as a voice file (as `fsdd-tui enroll --from` does)
/// and returns the voice.
fn write_enrollment(speaker: &str, takes: u32, path: &Path) -> Voice {
    let voice = speaker_voice(speaker, 5..5 + takes);
    voice.save(path).expect("saving the voice");
    voice
}

/// Feeds `samples` (mono, 48 kHz) through the session in fixed blocks, popping detections
/// after each block as `process()` does.
fn feed(session: &mut AnalysisSession, samples: &[f32], popped: &mut Vec<fsdd_core::Detection>) {
    let mut block = vec![0.0f32; BLOCK];
    for chunk in samples.chunks(BLOCK) {
        block[..chunk.len()].copy_from_slice(chunk);
        let channels = [&mut block[..chunk.len()]];
        session.feed(&channels, chunk.len(), 1.0);
        session.settle();
        while let Some(d) = session.pop() {
            popped.push(d);
        }
    }
}

fn offline_session(model: Arc<Model>, params: &FsddParams, status: Arc<LiveStatus>) -> AnalysisSession {
    AnalysisSession::start(
        model,
        RATE as f32,
        BLOCK,
        true,
        params.recognizer_config(),
        status,
        params.enrollment.active_flag(),
    )
    .expect("starting the analysis")
}

// ---------------------------------------------------------------------------------------------
// Tests

#[test]
fn live_status_follows_the_digits_spoken_into_the_analysis() {
    let model = Arc::new(Model::embedded().expect("embedded model"));
    let params = FsddParams::default();
    let status = Arc::new(LiveStatus::default());
    let mut session = offline_session(model, &params, status.clone());
    assert!(status.snapshot().running);
    assert!(status.snapshot().last.is_none());

    let utterances = test_utterances(30);
    let stream = build_stream(&utterances, RATE, Layout::Mono, 7);
    let mono = &stream.channels[0];
    let mut popped = Vec::new();
    let mut right = 0;
    let mut fed = 0usize;
    for placement in &stream.placements {
        let end = placement.window_end as usize;
        feed(&mut session, &mono[fed..end], &mut popped);
        fed = end;
        let snapshot = status.snapshot();
        let last = snapshot.last.expect("a detection after each utterance");
        let newest = popped.last().unwrap();
        // The status holds exactly the newest detection process() would have seen.
        assert_eq!(last.digit, newest.digit);
        assert_eq!(last.confidence, newest.confidence);
        assert_eq!(last.kind, newest.kind);
        assert_eq!(last.probs, newest.probs);
        assert_eq!(last.decision, newest.decision);
        assert_eq!(last.sequence, popped.len() as u64);
        assert_eq!(snapshot.position, end as u64);
        // The newest of the recent detections (what the window lists for teaching) is it too,
        // with its speech onset, which lies before the decision inside the utterance's window.
        let recent = snapshot.recent[0].expect("a recent detection");
        assert_eq!((recent.digit, recent.decision, recent.onset), (newest.digit, newest.decision, newest.onset));
        assert!(recent.onset <= recent.decision && recent.onset + RATE as u64 / 2 >= placement.start);
        // Decided inside this utterance's window; "how long ago" is stream time since then.
        assert!(last.decision >= placement.start && last.decision <= placement.window_end);
        let ago = snapshot.seconds_since_last().unwrap();
        let expected = (end as u64 - last.decision) as f32 / RATE as f32;
        assert!((ago - expected).abs() < 1e-4, "{ago} vs {expected}");
        if last.digit == Some(placement.digit) && last.kind != DetectionKind::Unsure {
            right += 1;
        } else {
            eprintln!(
                "{}: status shows {} ({:?})",
                placement.name,
                last.digit.map_or("-".to_owned(), |d| d.to_string()),
                last.kind
            );
        }
    }
    eprintln!("live status right after {right}/{} utterances", stream.placements.len());
    assert!(
        right * 10 >= stream.placements.len() * 9,
        "the last digit should be the spoken one (got {right}/{})",
        stream.placements.len()
    );
    drop(session);
    assert!(!status.snapshot().running, "a stopped session clears `running`");
    assert!(status.snapshot().last.is_some(), "the last digit stays visible");
}

#[test]
fn the_editor_draws_a_real_detection_and_the_enrolled_voice() {
    let scratch = TempDir::new("draw");
    let model = Arc::new(Model::embedded().expect("embedded model"));
    let file = scratch.path("theo.json");
    write_enrollment("theo", 3, &file);

    let params = Arc::new(FsddParams::default());
    params.voice.set_model(model.clone());
    params.import_voice(Some(&file)).expect("importing a real enrollment");

    let status = Arc::new(LiveStatus::default());
    let mut session = offline_session(model, &params, status.clone());
    // As in the plugin: the store links to the running engine (live bars, voice, words).
    params.voice.attach(Arc::downgrade(session.engine()));

    // "seven" by a test-split speaker, with silence after it.
    let utterance = utterance("7_jackson_0");
    let stream = build_stream(std::slice::from_ref(&utterance), RATE, Layout::Mono, 3);
    let mut popped = Vec::new();
    feed(&mut session, &stream.channels[0], &mut popped);
    let detection = *popped.last().expect("a detection");
    assert_eq!(detection.digit, Some(7), "the spoken digit");

    let view = StatusView::gather(&params, &status);
    assert!(view.running);
    let last = view.last.expect("the detection is in the view");
    assert_eq!(last.digit, Some(7));
    assert_eq!(last.confidence, detection.confidence);
    assert_eq!(view.voice.per_digit, [3; 10]);
    assert_eq!(view.voice.corrections, [0; 10]);
    assert_eq!(view.voice.origin, VoiceOrigin::File(file.clone()));
    assert_eq!(view.voice_path.as_deref(), Some(file.as_path()));
    // The engine is running: the bars are the worker's latest evaluation, not a copy of the detection.
    assert_eq!(view.bars_source, editor::BarsSource::Live);
    let bars_sum: f32 = view.bars.iter().sum();
    assert!((bars_sum - 1.0).abs() < 0.05, "bars are probabilities: {:?}", view.bars);
    // The word is listed for teaching.
    assert_eq!(view.recent.len(), 1);
    assert_eq!((view.recent[0].digit, view.recent[0].onset), (Some(7), detection.onset));

    let mut input = EditorInput::default();
    let mut headless = HeadlessEditor::new();
    let texts = headless.texts(&view, &mut input);
    headless.assert_fits(&view, &mut input);
    let confidence =
        format!("{:.0}% confident, {}", detection.confidence * 100.0, fsdd_core::labels::kind_label(detection.kind));
    let recent = editor::recent_label(&view.recent[0]);
    for needle in [
        "7",
        "Last digit: 7",
        confidence.as_str(),
        recent.as_str(),
        "Teach",
        "Undo last teach",
        "Enrolled voice: 10/10 digits, 30 takes (digits 0 1 2 3 4 5 6 7 8 9)",
        "Takes per digit: 0:3 1:3 2:3 3:3 4:3 5:3 6:3 7:3 8:3 9:3",
        &format!("Source: {}", file.display()),
        &format!("Imported {}", file.display()),
        "Import",
        "Use default file",
    ] {
        assert!(contains(&texts, needle), "{needle:?} not drawn in {texts:?}");
    }
    assert!(recent.starts_with("7 · "), "{recent}");
    assert!(texts.iter().any(|t| t == "7"), "the big digit: {texts:?}");
    // Ten bars, one per digit, with their percentages.
    for digit in 0..10 {
        let label = format!("{digit}: {:.0}%", view.bars[digit].clamp(0.0, 1.0) * 100.0);
        assert!(texts.contains(&label), "bar {label:?} not drawn in {texts:?}");
    }
}

#[test]
fn bad_voice_files_are_refused_the_old_voice_stays_and_the_editor_says_why() {
    let scratch = TempDir::new("garbage");
    let model = Arc::new(Model::embedded().expect("embedded model"));
    let good = scratch.path("good.json");
    let enrolled = write_enrollment("nicolas", 2, &good);

    let params = FsddParams::default();
    params.voice.set_model(model.clone());
    params.import_voice(Some(&good)).expect("good file imports");
    assert_eq!(params.voice.current(), enrolled);
    assert_eq!(params.voice.matcher().expect("prepared for the model").counts(), [2; 10]);

    let garbage = scratch.path("garbage.json");
    std::fs::write(&garbage, b"\x00\x01 this is not a voice file {{{").unwrap();
    let err = params.import_voice(Some(&garbage)).unwrap_err();
    assert!(matches!(err, ImportError::Load { source: VoiceError::Invalid(_), .. }), "{err:?}");
    // The earlier version's prototype file (format 1), from the model's embeddings of real
    // recordings as `fsdd-tui enroll` wrote it then.
    let old = scratch.path("prototypes.json");
    old_prototypes(&model, "nicolas").save(&old).unwrap();
    let old_text = std::fs::read_to_string(&old).unwrap();
    let err_old = params.import_voice(Some(&old)).unwrap_err();
    assert!(matches!(err_old, ImportError::Load { source: VoiceError::OldPrototypes { .. }, .. }), "{err_old:?}");
    assert_eq!(std::fs::read_to_string(&old).unwrap(), old_text, "the old file is left as it is");
    // A valid voice file without takes.
    let empty = scratch.path("empty.json");
    Voice::new().save(&empty).unwrap();
    assert!(matches!(params.import_voice(Some(&empty)), Err(ImportError::Empty { .. })));
    // A file that is not there.
    let missing = scratch.path("missing.json");
    assert!(params.import_voice(Some(&missing)).is_err());

    // Nothing changed: the enrolled voice, where it came from, and the persisted path.
    assert_eq!(params.voice.current(), enrolled);
    assert_eq!(params.voice.matcher().expect("still used").counts(), [2; 10]);
    let status = params.voice_status();
    assert_eq!(status.origin, VoiceOrigin::File(good.clone()));
    assert_eq!(params.voice_path().as_deref(), Some(good.as_path()));

    // The editor shows the last failure with the file's name.
    let mut editor = HeadlessEditor::new();
    let mut input = EditorInput::default();
    params.import_voice(Some(&garbage)).unwrap_err();
    let view = StatusView::gather(&params, &LiveStatus::default());
    let texts = editor.texts(&view, &mut input);
    editor.assert_fits(&view, &mut input);
    let failure = texts
        .iter()
        .find(|t| t.starts_with("Import failed: "))
        .unwrap_or_else(|| panic!("no import error drawn: {texts:?}"));
    assert!(failure.contains(&garbage.display().to_string()), "{failure}");
    assert!(failure.contains("not a valid voice file"), "{failure}");
    assert!(contains(&texts, "Enrolled voice: 10/10 digits, 20 takes"));
    assert!(contains(&texts, "Recogniser not running"));
    assert!(contains(&texts, "No digit heard yet"));
    assert!(contains(&texts, "Recent words: none yet"));

    // The earlier version's file, imported by name: the window says to enroll again.
    params.import_voice(Some(&old)).unwrap_err();
    let texts = editor.texts(&StatusView::gather(&params, &LiveStatus::default()), &mut input);
    let failure = texts.iter().find(|t| t.starts_with("Import failed: ")).expect("an import error");
    assert!(failure.contains("prototypes.json") && failure.contains("Enroll again"), "{failure}");
}

/// An earlier version's prototype file of `speaker` (takes 5-6): the model's embeddings of the
/// recordings, averaged per digit.
fn old_prototypes(model: &Model, speaker: &str) -> PrototypeSet {
    let mut mfcc = fsdd_core::signal::mfcc::MfccExtractor::new();
    let mut set = PrototypeSet::new(model.embedding_dim()).with_model_fingerprint(model.fingerprint());
    for utt in speaker_utterances(speaker, 5..7) {
        let window = mfcc.compute(&utt.samples_8k);
        set.add_example(utt.digit, &model.infer(&window[..]).expect("inference").embedding).unwrap();
    }
    set
}

#[test]
fn without_a_voice_file_the_earlier_prototype_file_gets_the_message_to_enroll_again() {
    let scratch = TempDir::new("old-default");
    let model = Arc::new(Model::embedded().expect("embedded model"));
    let defaults =
        DefaultFiles { voice: Some(scratch.path("voice.json")), old_prototypes: Some(scratch.path("prototypes.json")) };
    let params = FsddParams::default();
    params.voice.set_model(model.clone());

    // Neither file: the plain "cannot read" error of the missing voice file.
    let err = params.voice.import_with(None, &defaults).unwrap_err();
    assert!(matches!(err, ImportError::Load { source: VoiceError::Io { .. }, .. }), "{err:?}");

    // Only the earlier version's file: it cannot be used, and the message says what to do.
    old_prototypes(&model, "george").save(defaults.old_prototypes.as_ref().unwrap()).unwrap();
    let err = params.voice.import_with(None, &defaults).unwrap_err();
    assert!(matches!(err, ImportError::OnlyOldPrototypes { .. }), "{err:?}");
    let message = err.to_string();
    for needle in
        ["voice.json does not exist", "prototypes.json", "enroll again", "fsdd-tui: press e", "plugin: Enroll"]
    {
        assert!(message.contains(needle), "{needle:?} not in {message}");
    }
    assert!(params.voice.is_empty());
    let mut editor = HeadlessEditor::new();
    let mut input = EditorInput::default();
    let view = StatusView::gather(&params, &LiveStatus::default());
    let texts = editor.texts(&view, &mut input);
    editor.assert_fits(&view, &mut input);
    assert!(texts.iter().any(|t| t.starts_with("Import failed: ") && t.contains("enroll again")), "{texts:?}");
    assert!(contains(&texts, "Enrolled voice: none (base model only)"));

    // Once `fsdd-tui` has written a voice file, that one is imported.
    let voice = write_enrollment("george", 1, defaults.voice.as_ref().unwrap());
    assert_eq!(params.voice.import_with(None, &defaults).unwrap(), scratch.path("voice.json"));
    assert_eq!(params.voice.current(), voice);
}

#[test]
fn the_import_button_imports_the_typed_path() {
    let scratch = TempDir::new("button");
    let file = scratch.path("lucas.json");
    let enrolled = write_enrollment("lucas", 1, &file);
    let params = FsddParams::default();
    let status = LiveStatus::default();

    let mut editor = HeadlessEditor::new();
    let mut input = EditorInput::default();
    let view = StatusView::gather(&params, &status);
    // An empty path: the Import button is disabled, clicking it does nothing.
    assert_eq!(editor.click(&view, &mut input, "Import"), None);

    input.path_text = file.display().to_string();
    let action = editor.click(&view, &mut input, "Import");
    assert_eq!(action, Some(EditorAction::Import(file.clone())));
    // What the app does with the action, on the editor's thread.
    let imported = editor::perform(&params, &mut input, action.unwrap()).expect("import");
    assert_eq!(imported, editor::Performed::Imported(file.clone()));
    assert_eq!(params.voice.current(), enrolled);
    assert_eq!(params.voice_path().as_deref(), Some(file.as_path()));

    let texts = editor.texts(&StatusView::gather(&params, &status), &mut input);
    assert!(contains(&texts, "Enrolled voice: 10/10 digits, 10 takes"), "{texts:?}");

    // A typo: the import is refused, the enrolled voice and the saved path stay, the
    // window says what went wrong.
    let typo = scratch.path("lucsa.json");
    input.path_text = typo.display().to_string();
    let action = editor.click(&view, &mut input, "Import");
    assert_eq!(action, Some(EditorAction::Import(typo.clone())));
    assert!(editor::perform(&params, &mut input, action.unwrap()).is_err());
    assert_eq!(params.voice.current(), enrolled);
    assert_eq!(params.voice_path().as_deref(), Some(file.as_path()));
    let texts = editor.texts(&StatusView::gather(&params, &status), &mut input);
    assert!(texts.iter().any(|t| t.starts_with("Import failed: ") && t.contains("lucsa.json")), "{texts:?}");
    assert_eq!(editor.click(&view, &mut input, "Use default file"), Some(EditorAction::UseDefault));
}

#[test]
fn a_host_sees_the_editor_without_opening_a_window() {
    let mut plugin = HostedPlugin::new(HostConfig::offline_48k(), None);
    let (x11, size) = plugin.gui_x11_size().expect("the plugin offers the CLAP GUI extension");
    assert!(x11, "an embedded X11 window is supported");
    assert_eq!(size, Some((editor::WIDTH as u32, editor::HEIGHT as u32)), "the editor's size");
    // Asking about the editor changes nothing for the audio side.
    let utterances = test_utterances(60);
    let stream = build_stream(&utterances, 48_000, Layout::Stereo, 71);
    let rendered = render(&mut plugin, &stream, 72, Pace::Unpaced);
    rendered.assert_clean_passthrough();
    assert!(assert_notes_paired(&rendered.midi) >= stream.placements.len() * 3 / 4);
}

fn stored_path(state: &serde_json::Value) -> String {
    stored_field(state, "voice_path").expect("voice_path field in the state")
}

#[test]
fn the_voice_path_persists_and_is_imported_at_activation() {
    let scratch = TempDir::new("hosted");
    let file = scratch.path("george.json");
    let enrolled = write_enrollment("george", 2, &file);

    // A project that names the file (as one saved after an import from the editor does).
    let fresh = state_json(&state_with(&[]));
    assert_eq!(stored_path(&fresh), "", "no path by default");
    assert_eq!(stored_voice(&fresh), None, "no voice by default");
    let state = with_field(fresh, "voice_path", &file.display().to_string());
    let mut first = HostedPlugin::new(HostConfig::offline_48k(), Some(&state_bytes(&state)));
    let saved = state_json(&first.save_state());
    assert_eq!(stored_path(&saved), file.display().to_string());
    assert_eq!(stored_voice(&saved).as_ref(), Some(&enrolled), "imported at activation");

    // The file is enrolled again: the next activation picks the new voice up.
    let reenrolled = write_enrollment("george", 4, &file);
    first.deactivate();
    first.activate();
    let saved = state_json(&first.save_state());
    assert_eq!(stored_voice(&saved).as_ref(), Some(&reenrolled));

    // A restored copy keeps path and voice, and still recognises with the editor built in.
    let mut second = HostedPlugin::new(HostConfig::offline_48k(), Some(&state_bytes(&saved)));
    assert_eq!(state_json(&second.save_state()), saved);
    let utterances = test_utterances(30);
    let stream = build_stream(&utterances, 48_000, Layout::Stereo, 61);
    let rendered = render(&mut second, &stream, 62, Pace::Unpaced);
    rendered.assert_clean_passthrough();
    let notes = assert_notes_paired(&rendered.midi);
    assert!(notes >= stream.placements.len() * 3 / 4, "{notes} notes");

    // The file turns to garbage: the project's voice stays, and the plugin still works.
    std::fs::write(&file, "{\"format\": \"nope\"").unwrap();
    let mut third = HostedPlugin::new(HostConfig::offline_48k(), Some(&state_bytes(&saved)));
    let after = state_json(&third.save_state());
    assert_eq!(stored_voice(&after).as_ref(), Some(&reenrolled));
    assert_eq!(stored_path(&after), file.display().to_string());
    let rendered = render(&mut third, &stream, 63, Pace::Unpaced);
    rendered.assert_clean_passthrough();
    assert!(assert_notes_paired(&rendered.midi) >= stream.placements.len() * 3 / 4);
}
