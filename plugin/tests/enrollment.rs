//! Guided enrollment in the plugin window, on real FSDD audio:
//! - a speaker's takes 5-9 (at 44.1 and 48 kHz) go through the plugin's analysis session (the
//!   one `process()` feeds, offline render mode) while the window's enrollment is driven with
//!   clicks on its buttons (headless egui, the editor's `show()`/`perform()`) and the per-frame
//!   `poll_enrollment` the window runs; a redo is exercised on a wrong word;
//! - no digit MIDI comes out while enrolling; the window shows the digit to say, the input
//!   level and each take's length; at the end the voice (the takes' audio) is stored with the
//!   project, the mode switch to Your voice is asked for, and the window says how many takes
//!   each digit got;
//! - the same audio through the core path the dashboard uses (`Engine` word capture +
//!   `EnrollmentSession` with review, as `fsdd-tui`'s `e`) gives a byte-identical voice file,
//!   and the Export button writes a file `fsdd-tui --voice` reads;
//! - a fresh hosted instance (CLAP, clack-host) restored from a state holding that voice in
//!   Your voice mode recognises the speaker's other takes at least as well as the base model.

mod common;

use std::sync::Arc;

use common::headless::*;
use common::*;
use fsdd_core::voice::enrollment::{EnrollmentSession, Prompt};
use fsdd_core::{Engine, EngineConfig, Model, RecognizerConfig, TakeSource, Voice};
use fsdd_plugin::analysis::AnalysisSession;
use fsdd_plugin::editor::{self, EditorAction, EditorInput, Performed, StatusView};
use fsdd_plugin::enrollment::EnrollmentOutcome;
use fsdd_plugin::live_status::LiveStatus;
use fsdd_plugin::params::{FsddParams, ModeChoice};
use fsdd_plugin::voice_store::VoiceOrigin;
use serde_json::json;

const BLOCK: usize = 512;
const TAKES: std::ops::Range<u32> = 5..10;

/// The plugin as `activate()` leaves it: params that know the model, an offline analysis
/// session linked to the voice store (word capture on).
fn plugin_parts(model: &Arc<Model>, rate: u32) -> (Arc<FsddParams>, Arc<LiveStatus>, AnalysisSession) {
    let params = Arc::new(FsddParams::default());
    params.voice.set_model(model.clone());
    let status = Arc::new(LiveStatus::default());
    let session = AnalysisSession::start(
        model.clone(),
        rate as f32,
        BLOCK,
        true,
        params.recognizer_config(),
        status.clone(),
        params.enrollment.active_flag(),
    )
    .expect("starting the analysis");
    params.voice.attach(Arc::downgrade(session.engine()));
    (params, status, session)
}

/// Feeds `samples` in host-sized blocks as `process()` does; returns the detections that would
/// have become MIDI.
fn feed(session: &mut AnalysisSession, samples: &[f32]) -> usize {
    let mut block = vec![0.0f32; BLOCK];
    let mut midi = 0;
    for chunk in samples.chunks(BLOCK) {
        block[..chunk.len()].copy_from_slice(chunk);
        let channels = [&mut block[..chunk.len()]];
        session.feed(&channels, chunk.len(), 1.0);
        session.settle();
        while session.pop().is_some() {
            midi += 1;
        }
    }
    midi
}

/// What one enrollment through the window left behind.
struct Enrolled {
    /// The voice file, as stored with the project.
    json: String,
    stream: TestStream,
}

/// Enrolls `speaker` (takes 5-9, 5 per digit) in the window at `rate`, checking the window
/// along the way. The stream starts with a wrong word ("nine" when "zero" is asked for),
/// which is redone with the window's button.
fn enroll_in_the_window(speaker: &str, rate: u32) -> Enrolled {
    let model = Arc::new(Model::embedded().expect("embedded model"));
    let (params, status, mut session) = plugin_parts(&model, rate);
    assert_eq!(params.mode.value(), ModeChoice::Voice, "Your voice is the default mode");
    let mut wrong = speaker_utterances(speaker, 5..6);
    let wrong = wrong.remove(9);
    let mut utterances = vec![wrong];
    utterances.extend(speaker_utterances(speaker, TAKES));
    let stream = build_stream(&utterances, rate, Layout::Mono, 12);
    let mono = &stream.channels[0];

    let mut headless = HeadlessEditor::new();
    let mut input = EditorInput::default();
    assert_eq!(input.takes_per_digit, 3, "the window offers 3 takes by default");
    input.takes_per_digit = TAKES.len();
    let view = StatusView::gather(&params, &status);
    let action = headless.click(&view, &mut input, "Enroll");
    assert_eq!(action, Some(EditorAction::StartEnrollment(5)));
    assert_eq!(editor::perform(&params, &mut input, action.unwrap()).unwrap(), Performed::Enrollment);
    assert!(params.enrollment.active());

    let mut fed = 0usize;
    let mut switched = false;
    let mut midi = 0;
    for (i, placement) in stream.placements.iter().enumerate() {
        let view = StatusView::gather(&params, &status);
        let enrolling = view.enrolling.clone().expect("enrolling until the last take");
        // Take k of the speaker (after the redone wrong word) is take k % 5 + 1 of digit k / 5.
        let k = i.saturating_sub(1);
        let expected = Prompt::Say { digit: (k / 5) as u8, take: k % 5 + 1, of: 5 };
        assert_eq!(enrolling.prompt, expected, "before {}", placement.name);
        if i <= 1 || i == 27 {
            let texts = headless.texts(&view, &mut input);
            headless.assert_fits(&view, &mut input);
            let word = editor::DIGIT_WORDS[k / 5];
            for needle in [
                format!("Say \"{word}\""),
                format!("take {} of 5", k % 5 + 1),
                "No digit MIDI is sent while enrolling".to_owned(),
                "Input ".to_owned(),
                "Redo last take".to_owned(),
                "Skip digit".to_owned(),
                "Cancel".to_owned(),
            ] {
                assert!(contains(&texts, &needle), "{needle:?} not in {texts:?}");
            }
        }

        let end = placement.window_end as usize;
        midi += feed(&mut session, &mono[fed..end]);
        fed = end;
        // The window polls every frame; a frame after each word is enough here.
        switched |= params.poll_words();
        assert!(status.snapshot().last.is_some(), "detections still reach the window");

        if i == 0 {
            // The wrong word was taken as "zero": the window shows it; redo it.
            let view = StatusView::gather(&params, &status);
            let take = view.enrolling.as_ref().unwrap().last_take.clone().unwrap();
            assert_eq!(take.digit, 0);
            let texts = headless.texts(&view, &mut input);
            let label = format!("Last take: \"zero\", {:.0} ms", take.duration_ms);
            assert!(contains(&texts, &label), "{label:?} not in {texts:?}");
            let action = headless.click(&view, &mut input, "Redo last take");
            assert_eq!(action, Some(EditorAction::RedoTake));
            editor::perform(&params, &mut input, action.unwrap()).unwrap();
        } else if let Some(enrolling) = StatusView::gather(&params, &status).enrolling {
            // Each take is the whole word: the clip's speech (FSDD files are trimmed, the VAD
            // adds its pre-roll and may cut a faint tail), at most the model's 1.024 s.
            let take = enrolling.last_take.expect("a take per word");
            assert_eq!(take.digit, (k / 5) as u8, "{}", placement.name);
            let clip_ms = (placement.speech_end - placement.start) as f32 * 1000.0 / rate as f32;
            assert!(
                take.duration_ms >= (clip_ms * 0.6).min(1000.0) && take.duration_ms <= 1024.0,
                "{}: take {:.0} ms, clip {clip_ms:.0} ms",
                placement.name,
                take.duration_ms
            );
            assert_eq!(take.level_trace.len(), (take.duration_ms * 8.0 / 128.0).ceil() as usize);
        }
    }
    assert_eq!(midi, 0, "no digit MIDI while enrolling");
    assert!(switched, "the window asks for Your voice when the voice is enrolled");
    assert!(!params.enrollment.active(), "MIDI flows again");

    let view = StatusView::gather(&params, &status);
    assert!(view.enrolling.is_none());
    assert_eq!(view.enroll_outcome, Some(EnrollmentOutcome::Finished { per_digit: [5; 10] }));
    assert_eq!(view.voice.per_digit, [5; 10]);
    assert_eq!(view.voice.origin, VoiceOrigin::Enrolled);
    assert_eq!(params.voice_path(), None);
    let texts = headless.texts(&view, &mut input);
    headless.assert_fits(&view, &mut input);
    for needle in [
        "Enrollment done, takes per digit 0:5 1:5 2:5 3:5 4:5 5:5 6:5 7:5 8:5 9:5; mode set to Your voice",
        "Enrolled voice: 10/10 digits, 50 takes",
        "Source: enrolled in this window (saved with the project)",
    ] {
        assert!(contains(&texts, needle), "{needle:?} not in {texts:?}");
    }
    let voice = params.voice.current();
    assert_eq!(voice.counts(), [5; 10]);
    assert!(voice.takes().iter().all(|t| t.source == TakeSource::Enrolled));
    // The engine got it: the matcher was prepared from every take.
    assert_eq!(params.voice.matcher().expect("the voice is used").counts(), [5; 10]);
    // What the project saves is the voice file.
    assert_eq!(params.voice.json(), voice.to_json());

    // After enrolling, digits become MIDI again.
    let tail = speaker_utterances(speaker, 10..11);
    let more = build_stream(&tail[3..4], rate, Layout::Mono, 13);
    assert_eq!(feed(&mut session, &more.channels[0]), 1, "\"three\" plays again");

    // Export: the file `fsdd-tui --voice` reads holds the same bytes.
    let scratch = TempDir::new(&format!("export-{speaker}-{rate}"));
    let file = scratch.path("voice.json");
    input.path_text = file.display().to_string();
    let action = headless.click(&view, &mut input, "Export");
    assert_eq!(action, Some(EditorAction::Export(Some(file.clone()))));
    assert_eq!(editor::perform(&params, &mut input, action.unwrap()).unwrap(), Performed::Exported(file.clone()));
    assert_eq!(std::fs::read_to_string(&file).unwrap(), voice.to_json());
    assert_eq!(Voice::load(&file).unwrap(), voice);
    let texts = headless.texts(&StatusView::gather(&params, &status), &mut input);
    assert!(contains(&texts, &format!("Exported to {}", file.display())));

    Enrolled { json: voice.to_json(), stream }
}

/// The dashboard's path: the core engine with word capture, fed at the pace of a device (push,
/// then let the worker catch up), and the core session with a review step, `r` on the first
/// (wrong) word and Enter on every other, then the core's voice builder.
fn enroll_like_the_dashboard(stream: &TestStream) -> String {
    let model = Arc::new(Model::embedded().expect("embedded model"));
    let config =
        EngineConfig { input_rate: stream.sample_rate, recognizer: RecognizerConfig::default(), ring_seconds: 2.0 };
    let (engine, mut sender, _receiver) = Engine::start(model.clone(), config).expect("engine");
    engine.capture_words(true);
    engine.set_whole_words(true);
    let mut session = EnrollmentSession::with_review(5);
    let mut words = 0;
    // A device callback's size, unrelated to the plugin's blocks.
    for chunk in stream.channels[0].chunks(441) {
        assert_eq!(sender.push(chunk), chunk.len());
        assert!(engine.wait_until_drained(std::time::Duration::from_secs(10)));
        while let Some(word) = engine.pop_word() {
            assert!(session.offer(&word));
            if words == 0 {
                session.redo_last();
            } else {
                session.keep();
            }
            words += 1;
        }
    }
    assert_eq!(words, 51);
    assert!(session.is_complete());
    session.build_voice().unwrap().to_json()
}

/// The default state (mode Your voice) with `json` as the enrolled voice.
fn state_with_voice(json: &str) -> Vec<u8> {
    state_bytes(&with_field(state_json(&state_with(&[])), "voice", json))
}

/// Accuracy (notes right / words) on `speaker`'s takes outside 5-9 through a fresh hosted
/// instance, with and without the enrolled voice.
fn hosted_accuracy(speaker: &str, rate: u32, voice: &str) -> (Score, Score) {
    // Takes 0-4 (the test split) and every fourth of 10-49 (the model's own training takes).
    let takes = (0..5).chain((10..50).step_by(4));
    let utterances = speaker_utterances(speaker, takes);
    let stream = build_stream(&utterances, rate, Layout::Stereo, 21);
    let config = || HostConfig { sample_rate: rate as f64, layout: Layout::Stereo, max_block: 1024, offline: true };
    let mut base = HostedPlugin::new(config(), Some(&state_with(&[])));
    let rendered = render(&mut base, &stream, 22, Pace::Unpaced);
    rendered.assert_clean_passthrough();
    let base_score = score_notes(&rendered.midi, &stream.placements, DEFAULT_BASE_NOTE);

    let mut enrolled = HostedPlugin::new(config(), Some(&state_with_voice(voice)));
    // The restored instance holds exactly the enrolled voice, in Your voice mode (the default).
    let saved = state_json(&enrolled.save_state());
    assert_eq!(saved["params"]["mode"], json!({"string": "voice"}));
    assert_eq!(stored_field(&saved, "voice").as_deref(), Some(voice));
    let rendered = render(&mut enrolled, &stream, 22, Pace::Unpaced);
    rendered.assert_clean_passthrough();
    let enrolled_score = score_notes(&rendered.midi, &stream.placements, DEFAULT_BASE_NOTE);
    eprintln!(
        "{speaker} at {rate} Hz, {} words: base model {}/{} ({:.1}%), enrolled (your voice) {}/{} ({:.1}%)",
        stream.placements.len(),
        base_score.correct,
        base_score.total,
        100.0 * base_score.accuracy(),
        enrolled_score.correct,
        enrolled_score.total,
        100.0 * enrolled_score.accuracy()
    );
    eprintln!("  base model wrong {:?}, missing {:?}", base_score.wrong, base_score.missing);
    eprintln!("  your voice wrong {:?}, missing {:?}", enrolled_score.wrong, enrolled_score.missing);
    (base_score, enrolled_score)
}

/// Enrolling a voice must not cost accuracy on that voice's other takes. Both speakers' takes
/// 10-49 are in the shipped model's fit set, so there is little left to gain here. What
/// enrollment gains on a voice the model has never heard is measured by `cargo xtask
/// bench-enroll` (held-out FSDD voices).
fn enroll_and_measure(speaker: &str, rate: u32) {
    let enrolled = enroll_in_the_window(speaker, rate);
    assert_eq!(
        enroll_like_the_dashboard(&enrolled.stream),
        enrolled.json,
        "the dashboard's path gives the same voice file, byte for byte"
    );
    let (base, voice) = hosted_accuracy(speaker, rate, &enrolled.json);
    assert!(
        voice.correct >= base.correct,
        "enrolling {speaker} lowered accuracy: {}/{} -> {}/{}",
        base.correct,
        base.total,
        voice.correct,
        voice.total
    );
}

#[test]
fn george_enrolls_in_the_window_at_44k1() {
    enroll_and_measure("george", 44_100);
}

#[test]
fn jackson_enrolls_in_the_window_at_48k() {
    enroll_and_measure("jackson", 48_000);
}

#[test]
fn skip_and_cancel_keep_the_previous_voice_until_a_voice_is_complete() {
    let model = Arc::new(Model::embedded().expect("embedded model"));
    let rate = 48_000;
    let (params, status, mut session) = plugin_parts(&model, rate);
    let mut headless = HeadlessEditor::new();
    let mut input = EditorInput::default();

    // Cancel: nothing stored, the window says so, MIDI flows again.
    let view = StatusView::gather(&params, &status);
    let start = headless.click(&view, &mut input, "Enroll").unwrap();
    editor::perform(&params, &mut input, start.clone()).unwrap();
    let view = StatusView::gather(&params, &status);
    let cancel = headless.click(&view, &mut input, "Cancel").unwrap();
    assert_eq!(cancel, EditorAction::CancelEnrollment);
    editor::perform(&params, &mut input, cancel).unwrap();
    assert!(!params.enrollment.active());
    assert!(params.voice.is_empty());
    let texts = headless.texts(&StatusView::gather(&params, &status), &mut input);
    assert!(contains(&texts, "Enrollment cancelled; the previous voice stays"));

    // One take of "zero" and "one", every other digit skipped: a partial voice.
    input.takes_per_digit = 1;
    let view = StatusView::gather(&params, &status);
    let start = headless.click(&view, &mut input, "Enroll").unwrap();
    assert_eq!(start, EditorAction::StartEnrollment(1));
    editor::perform(&params, &mut input, start).unwrap();
    let words = speaker_utterances("lucas", 5..6);
    let stream = build_stream(&words[..2], rate, Layout::Mono, 31);
    assert_eq!(feed(&mut session, &stream.channels[0]), 0);
    assert!(!params.poll_words());
    for _ in 2..10 {
        let view = StatusView::gather(&params, &status);
        let skip = headless.click(&view, &mut input, "Skip digit").unwrap();
        editor::perform(&params, &mut input, skip).unwrap();
    }
    assert!(params.poll_words(), "complete after the last skip");
    assert_eq!(params.voice.current().counts(), [1, 1, 0, 0, 0, 0, 0, 0, 0, 0], "the partial voice is stored");
    let texts = headless.texts(&StatusView::gather(&params, &status), &mut input);
    assert!(contains(&texts, "Enrollment done, takes per digit 0:1 1:1 2:0 3:0 4:0 5:0 6:0 7:0 8:0 9:0"));
}
