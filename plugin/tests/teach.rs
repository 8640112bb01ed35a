//! Teaching corrections in the plugin window, on real FSDD audio: words go through the plugin's
//! analysis session (the one `process()` feeds, offline render mode) with word capture on, as
//! `activate()` leaves it; the window lists the recent detections, a click picks one and its
//! right digit, and Teach adds that word to the enrolled voice as a take of the digit:
//! - the take is the word's audio, of the right digit, marked as a correction; the voice is
//!   saved with the project at once (its persisted JSON) and the engine uses it at once: the
//!   same word said again is heard as the taught digit;
//! - Undo takes it back: the voice is byte for byte what it was, and the word is heard as before;
//! - a word is taught once; a word of an earlier activation is gone.
//!
//! The window is closed while the words are spoken (nothing polls): they wait in the engine's
//! queue, and teaching collects them.

mod common;

use std::sync::Arc;

use common::headless::*;
use common::*;
use fsdd_core::signal::mfcc::MfccExtractor;
use fsdd_core::{Detection, Model, TakeSource, Voice};
use fsdd_plugin::analysis::AnalysisSession;
use fsdd_plugin::editor::{self, EditorAction, EditorInput, Performed, StatusView};
use fsdd_plugin::live_status::LiveStatus;
use fsdd_plugin::params::{FsddParams, ModeChoice};
use fsdd_plugin::voice_store::{Taught, TeachError, VoiceOrigin};
use nice_plug::prelude::Params;

const RATE: u32 = 48_000;
const BLOCK: usize = 512;

/// The plugin as `activate()` leaves it: params that know the model (holding `voice`), an
/// offline analysis session linked to the voice store (word capture on). "Earliest decision" is
/// at its maximum (1000 ms): every word is decided on the whole word, which is what a take is.
/// (An early decision scores a prefix of the word: a model that is sure of a wrong digit early
/// decides before the whole-word templates can say otherwise.)
fn plugin_parts(voice: Option<Voice>) -> (Arc<FsddParams>, Arc<LiveStatus>, AnalysisSession) {
    let model = Arc::new(Model::embedded().expect("embedded model"));
    let params = Arc::new(FsddParams::default());
    params.voice.set_model(model.clone());
    if let Some(voice) = voice {
        params.store_enrolled(voice).expect("a voice of real takes");
    }
    let status = Arc::new(LiveStatus::default());
    let mut config = params.recognizer_config();
    config.early_exit.earliest_ms = 1000;
    let session = AnalysisSession::start(
        model,
        RATE as f32,
        BLOCK,
        true,
        config,
        status.clone(),
        params.enrollment.active_flag(),
    )
    .expect("starting the analysis");
    params.voice.attach(Arc::downgrade(session.engine()));
    (params, status, session)
}

/// Says `utterances` into the session (host-sized blocks, as `process()` feeds it); returns
/// the detections `process()` popped.
fn say(session: &mut AnalysisSession, utterances: &[Utterance], seed: u64) -> Vec<Detection> {
    let stream = build_stream(utterances, RATE, Layout::Mono, seed);
    let mut block = vec![0.0f32; BLOCK];
    let mut popped = Vec::new();
    for chunk in stream.channels[0].chunks(BLOCK) {
        block[..chunk.len()].copy_from_slice(chunk);
        let channels = [&mut block[..chunk.len()]];
        session.feed(&channels, chunk.len(), 1.0);
        session.settle();
        while let Some(d) = session.pop() {
            popped.push(d);
        }
    }
    popped
}

/// `utterance` said once more: its detection, and how far the word the engine captured for it
/// is from the nearest template of each digit in the plugin's current voice.
fn say_again(
    params: &FsddParams,
    session: &mut AnalysisSession,
    utterance: &Utterance,
    seed: u64,
) -> (Detection, [Option<f32>; 10]) {
    let detections = say(session, std::slice::from_ref(utterance), seed);
    assert_eq!(detections.len(), 1, "one detection for one word: {detections:?}");
    let words = params.voice.collect_words();
    let word = words.last().expect("the word was captured");
    assert_eq!(word.onset, detections[0].onset);
    let window = MfccExtractor::new().compute(&word.samples);
    let matcher = params.voice.matcher().expect("a voice is enrolled");
    (detections[0], matcher.distances(&window[..], word.samples.len(), fsdd_core::voice::templates::WordEnd::Closed))
}

/// The digit whose templates are nearest.
fn nearest(distances: &[Option<f32>; 10]) -> usize {
    (0..10)
        .min_by(|&a, &b| distances[a].unwrap_or(f32::INFINITY).total_cmp(&distances[b].unwrap_or(f32::INFINITY)))
        .unwrap()
}

/// Test (c): theo's voice is enrolled (his takes 5-7 of every digit); he says "three" (take 0,
/// not in the voice), "eight" and "one", and the "three" again. The first "three" is taught as a five (as if his word
/// for five were heard as three): said again, that word is now nearest to the fives, and five
/// is far more probable than before. Undo puts everything back.
#[test]
fn a_taught_word_becomes_a_take_of_the_right_digit_and_undo_takes_it_back() {
    let (params, status, mut session) = plugin_parts(Some(speaker_voice("theo", 5..8)));
    assert_eq!(params.mode.value(), ModeChoice::Voice, "Your voice is the default mode");
    let enrolled_json = params.voice.json();
    let three = utterance("3_theo_0");
    let words = ["3_theo_0", "8_theo_0", "1_theo_0"].map(utterance);
    let mut detections = say(&mut session, &words, 1);
    assert_eq!(detections.len(), 3, "{detections:?}");
    let first = detections[0];
    let heard = first.digit;
    assert_ne!(heard, Some(5), "the word must not be a five already for this test to say anything");
    let (before, distances) = say_again(&params, &mut session, &three, 2);
    detections.push(before);
    assert_eq!(before.digit, heard);
    assert_eq!(nearest(&distances), 3, "theo's other threes are nearest: {distances:?}");

    // The window lists the four words, newest first; pick the first "three", then 5, then Teach.
    let mut headless = HeadlessEditor::new();
    let mut input = EditorInput::default();
    let view = StatusView::gather(&params, &status);
    let onsets: Vec<u64> = detections.iter().rev().map(|d| d.onset).collect();
    assert_eq!(view.recent.iter().map(|r| r.onset).collect::<Vec<_>>(), onsets);
    let listed = view.recent[3];
    assert_eq!(listed.digit, heard);
    // Nothing picked yet: Teach does nothing; nothing taught yet: Undo does nothing.
    assert_eq!(headless.click(&view, &mut input, "Teach"), None);
    assert_eq!(headless.click(&view, &mut input, "Undo last teach"), None);
    assert_eq!(headless.click(&view, &mut input, &editor::recent_label(&listed)), None);
    assert_eq!(input.teach_onset, Some(first.onset));
    // The digit picker's "5" (the last "5" drawn: the bars say "5: ..%").
    assert_eq!(headless.click_last(&view, &mut input, "5"), None);
    assert_eq!(input.teach_digit, Some(5));
    let action = headless.click(&view, &mut input, "Teach").expect("Teach is enabled");
    assert_eq!(action, EditorAction::Teach { onset: first.onset, heard, digit: 5 });
    let performed = editor::perform(&params, &mut input, action.clone()).expect("taught");
    assert_eq!(performed, Performed::Taught(Taught { heard, digit: 5, replaced_oldest: false }));
    assert_eq!((input.teach_onset, input.teach_digit), (None, None), "the pick is cleared");

    // The voice has one more take of five: the word's audio, as a correction.
    let voice = params.voice.current();
    assert_eq!(voice.counts(), [3, 3, 3, 3, 3, 4, 3, 3, 3, 3]);
    let take = voice.takes().last().unwrap();
    assert_eq!((take.digit, take.source), (5, TakeSource::Correction));
    // The whole word: the clip's speech (FSDD files are trimmed; the VAD adds its pre-roll and
    // may cut a faint tail), at most the model's 1.024 s.
    let (take_ms, clip_ms) = (take.samples.len() as f32 / 8.0, three.samples_8k.len() as f32 / 8.0);
    assert!(take_ms >= (clip_ms * 0.6).min(1000.0) && take_ms <= 1100.0, "take {take_ms} ms, clip {clip_ms} ms");
    // The engine uses the rebuilt voice, and the project saves it at once.
    assert_eq!(params.voice.matcher().unwrap().counts(), voice.counts());
    let saved: String = serde_json::from_str(&params.serialize_fields()["voice"]).unwrap();
    assert_eq!(Voice::from_json(&saved).unwrap(), voice);
    assert_eq!(params.voice_path(), None);
    let status_now = params.voice_status();
    assert_eq!(status_now.corrections, [0, 0, 0, 0, 0, 1, 0, 0, 0, 0]);
    assert_eq!(status_now.origin, VoiceOrigin::Enrolled);
    assert!(status_now.can_undo);

    let view = StatusView::gather(&params, &status);
    let texts = headless.texts(&view, &mut input);
    headless.assert_fits(&view, &mut input);
    let heard_text = heard.map_or("not a digit".to_owned(), |d| d.to_string());
    for needle in [
        format!("Taught: the word heard as {heard_text} is now a take of 5"),
        "Enrolled voice: 10/10 digits, 31 takes".to_owned(),
        "Takes per digit: 0:3 1:3 2:3 3:3 4:3 5:3+1 6:3 7:3 8:3 9:3 (+n: taught)".to_owned(),
    ] {
        assert!(contains(&texts, &needle), "{needle:?} not in {texts:?}");
    }

    // A word is taught once.
    let again = editor::perform(&params, &mut input, action.clone()).unwrap_err();
    assert!(matches!(again, editor::ActionError::Teach(TeachError::AlreadyTaught)), "{again:?}");
    let texts = headless.texts(&StatusView::gather(&params, &status), &mut input);
    assert!(contains(&texts, "Not taught: that word was already taught"), "{texts:?}");
    assert_eq!(params.voice.current(), voice);

    // Said again, the word is nearest to the fives now (its own take), and the engine, which
    // got the rebuilt voice at once, finds five far more probable than before. (Whether five
    // then wins depends on how sure the model is of its digit: the fusion gives a model that
    // is near certain the last word.)
    let (taught, distances) = say_again(&params, &mut session, &three, 3);
    assert_eq!(nearest(&distances), 5, "{distances:?}");
    eprintln!(
        "3_theo_0 taught as 5, said again: heard {:?}, p(5) {:.2e} (before {:.2e}), p(3) {:.2e}",
        taught.digit, taught.probs[5], before.probs[5], taught.probs[3]
    );
    assert!(taught.probs[5] > 100.0 * before.probs[5], "p(5) {:e} -> {:e}", before.probs[5], taught.probs[5]);

    // Undo: the voice as enrolled, byte for byte, and the word is heard as before.
    let view = StatusView::gather(&params, &status);
    let undo = headless.click(&view, &mut input, "Undo last teach").expect("Undo is enabled");
    assert_eq!(undo, EditorAction::UndoTeach);
    assert_eq!(editor::perform(&params, &mut input, undo).unwrap(), Performed::Undone);
    assert_eq!(params.voice.json(), enrolled_json);
    assert_eq!(params.voice.matcher().unwrap().counts(), [3; 10]);
    assert!(!params.voice_status().can_undo);
    let texts = headless.texts(&StatusView::gather(&params, &status), &mut input);
    assert!(contains(&texts, "Undone: the last taught word is no longer a take"), "{texts:?}");
    assert!(contains(&texts, "Takes per digit: 0:3 1:3 2:3 3:3 4:3 5:3 6:3 7:3 8:3 9:3"), "{texts:?}");
    assert!(matches!(params.undo_teach(), Err(TeachError::NothingToUndo)));
    let (undone, distances) = say_again(&params, &mut session, &three, 4);
    assert_eq!(nearest(&distances), 3, "{distances:?}");
    assert_eq!(undone.digit, heard, "heard as before the teach");
    assert!(undone.probs[5] < taught.probs[5] / 100.0, "p(5) {:e} after undo", undone.probs[5]);

    // The undone word may be taught again; once the engine restarts, its words are gone.
    params.voice.detach();
    assert!(matches!(params.teach(first.onset, heard, 5), Err(TeachError::WordGone)));
    assert_eq!(params.voice.json(), enrolled_json);
}

/// Without an enrolled voice, teaching starts one: the word is its first take (and the voice is
/// saved with the project); undoing it leaves no voice again.
#[test]
fn teaching_without_an_enrolled_voice_starts_one() {
    let (params, status, mut session) = plugin_parts(None);
    let seven = utterance("7_george_0");
    let detections = say(&mut session, std::slice::from_ref(&seven), 4);
    assert_eq!(detections.len(), 1, "{detections:?}");
    let view = StatusView::gather(&params, &status);
    assert_eq!(view.recent.len(), 1);
    let texts = HeadlessEditor::new().texts(&view, &mut EditorInput::default());
    assert!(contains(&texts, "Enrolled voice: none (base model only)"));

    let taught = params.teach(view.recent[0].onset, view.recent[0].digit, 7).expect("taught");
    assert_eq!(taught.digit, 7);
    let voice = params.voice.current();
    assert_eq!(voice.counts(), [0, 0, 0, 0, 0, 0, 0, 1, 0, 0]);
    assert_eq!(voice.takes()[0].source, TakeSource::Correction);
    assert_eq!(params.voice_status().origin, VoiceOrigin::Taught);
    assert_eq!(params.voice.matcher().expect("the engine uses it").counts(), voice.counts());
    let saved: String = serde_json::from_str(&params.serialize_fields()["voice"]).unwrap();
    assert_eq!(Voice::from_json(&saved).unwrap(), voice);

    params.undo_teach().expect("undone");
    assert!(params.voice.is_empty());
    assert!(params.voice.matcher().is_none());
    assert_eq!(params.voice_status().origin, VoiceOrigin::None);
    let saved: String = serde_json::from_str(&params.serialize_fields()["voice"]).unwrap();
    assert_eq!(saved, "", "no voice saved");
}
