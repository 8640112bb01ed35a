//! Dashboard state and keys without a terminal: quiz scoring, corrections, mode cycling,
//! enrollment flow (whole words captured by the recognizer from FSDD audio).

mod common;

use common::{concatenate, fsdd_file, model};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use fsdd_core::inference::model::{N_OUTPUTS, NOT_A_DIGIT};
use fsdd_core::voice::enrollment::build_voice;
use fsdd_core::{Detection, DetectionKind, LiveView, Recognizer, RecognizerConfig, ScoringMode};
use fsdd_tui::dashboard::app::{App, Effect, FileLabels, LabelSource, LastDecision, SourceInfo, VoiceStatus};
use fsdd_tui::dashboard::enrollment::EnrollmentStep;
use fsdd_tui::dashboard::events::handle_key;

fn app() -> App {
    App::new(SourceInfo { description: "test".into(), input_rate: 8000 }, ScoringMode::Base, 0.9, 2)
}

fn key(c: char) -> KeyEvent {
    KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE)
}

fn detection(digit: u8, onset: u64) -> Detection {
    let mut probs = [0.01f32; N_OUTPUTS];
    probs[digit as usize] = 0.90;
    Detection {
        digit: Some(digit),
        confidence: 0.90,
        probs,
        kind: DetectionKind::Final,
        onset,
        decision: onset + 6000,
        end: Some(onset + 4800),
        compute_us: 900,
        saliency: None,
    }
}

/// A sound the model rejected as not a digit, the way the recognizer reports it.
fn rejection(onset: u64) -> Detection {
    let mut probs = [0.01f32; N_OUTPUTS];
    probs[NOT_A_DIGIT] = 0.90;
    Detection {
        digit: None,
        confidence: 0.90,
        probs,
        kind: DetectionKind::Rejected,
        onset,
        decision: onset + 6000,
        end: Some(onset + 4800),
        compute_us: 900,
        saliency: None,
    }
}

#[test]
fn rejected_sounds_are_scored_in_the_not_column_and_n_marks_a_sound_as_no_digit() {
    let not = NOT_A_DIGIT;
    let mut a = app();
    a.seed(7);
    handle_key(&mut a, key('t'));
    let prompt = a.quiz.as_ref().unwrap().prompt;
    // The quiz asked for a digit and the model rejected what it heard: a digit missed.
    a.on_detection(rejection(0));
    assert_eq!(a.confusion.counts[prompt as usize][not], 1);
    assert_eq!(a.confusion.correct(), 0);
    assert_eq!(a.quiz.as_ref().unwrap().last_result, Some((prompt, not as u8)));
    assert_eq!(a.history[0].label(), not as u8);
    assert_eq!(a.history[0].is_correct(), Some(false));
    assert!(matches!(
        a.last_decision,
        Some(LastDecision::Rejected { confidence, closest: (_, p) }) if confidence == 0.90 && p == 0.01
    ));

    // It was a cough, not an attempt at the digit: n moves it to (not, not), right.
    handle_key(&mut a, key('n'));
    assert_eq!(a.confusion.counts[prompt as usize][not], 0);
    assert_eq!(a.confusion.counts[not][not], 1);
    assert_eq!(a.confusion.correct(), 1);
    assert_eq!(a.history[0].truth, Some((not as u8, LabelSource::User)));
    assert_eq!(a.history[0].is_correct(), Some(true));
    assert_eq!(a.status.as_deref(), Some("last detection labelled not a digit"));

    // A digit detection the user says was no digit at all: (not, digit), wrong.
    handle_key(&mut a, key('t'));
    a.on_detection(detection(4, 20_000));
    handle_key(&mut a, key('n'));
    assert_eq!(a.confusion.counts[not][4], 1);
    assert_eq!(a.history[0].is_correct(), Some(false));
    // And back: it was a 4 after all.
    handle_key(&mut a, key('4'));
    assert_eq!(a.confusion.counts[not][4], 0);
    assert_eq!(a.confusion.counts[4][4], 1);
    assert_eq!(a.confusion.total(), 2);
}

#[test]
fn words_named_as_such_label_rejections_right_and_digits_heard_in_them_wrong() {
    let mut a = app();
    a.file_labels = Some(FileLabels {
        spans: vec![
            (0, 8000, Some(NOT_A_DIGIT as u8), "yes_sc1_0.wav".into()),
            (16_000, 24_000, Some(NOT_A_DIGIT as u8), "tree_sc2_0.wav".into()),
            (32_000, 40_000, Some(3), "3_sc3_0.wav".into()),
        ],
    });
    a.on_detection(rejection(100));
    a.on_detection(detection(3, 16_100));
    a.on_detection(rejection(32_100));
    let not = NOT_A_DIGIT;
    assert_eq!(a.confusion.counts[not][not], 1, "yes: rejected, right");
    assert_eq!(a.confusion.counts[not][3], 1, "tree heard as three");
    assert_eq!(a.confusion.counts[3][not], 1, "a three rejected");
    assert_eq!(a.confusion.correct(), 1);
    let names: Vec<_> = a.history.iter().map(|e| e.source_name.as_deref().unwrap_or("")).collect();
    assert_eq!(names, ["3_sc3_0.wav", "tree_sc2_0.wav", "yes_sc1_0.wav"]);
}

#[test]
fn quiz_scores_detections_against_the_prompt_and_keys_correct_them() {
    let mut a = app();
    a.seed(42);
    handle_key(&mut a, key('t'));
    let prompt = a.quiz.as_ref().unwrap().prompt;
    a.on_detection(detection(prompt, 0));
    assert_eq!(a.confusion.counts[prompt as usize][prompt as usize], 1);
    assert_eq!(a.history[0].truth, Some((prompt, LabelSource::Quiz)));
    assert_eq!(a.quiz.as_ref().unwrap().asked, 1);

    let prompt2 = a.quiz.as_ref().unwrap().prompt;
    let wrong = (prompt2 + 1) % 10;
    a.on_detection(detection(wrong, 20_000));
    assert_eq!(a.confusion.counts[prompt2 as usize][wrong as usize], 1);
    assert_eq!(a.confusion.total(), 2);

    // The user says it was really `wrong` after all: the cell moves to the diagonal.
    handle_key(&mut a, key(char::from(b'0' + wrong)));
    assert_eq!(a.confusion.counts[prompt2 as usize][wrong as usize], if prompt2 == wrong { 1 } else { 0 });
    assert_eq!(a.confusion.counts[wrong as usize][wrong as usize], 1 + (prompt == wrong) as u32);
    assert_eq!(a.confusion.total(), 2);
    assert_eq!(a.history[0].truth, Some((wrong, LabelSource::User)));
    // Decision 1200 samples after the end at 8 kHz = +150 ms.
    assert_eq!(a.history[0].decision_vs_end_ms(), Some(150.0));

    handle_key(&mut a, key('t'));
    assert!(a.quiz.is_none());
}

#[test]
fn mode_cycling_needs_a_voice_and_quit_keys_work() {
    let mut a = app();
    assert!(handle_key(&mut a, key('m')).is_empty(), "no voice: stay in base");
    assert_eq!(a.mode, ScoringMode::Base);
    assert!(a.status.as_deref().unwrap().contains("enroll"));
    a.voice.counts = [1; 10];
    let modes: Vec<ScoringMode> = (0..4)
        .map(|_| match handle_key(&mut a, key('m')).as_slice() {
            [Effect::SetMode(m)] => *m,
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(modes, [ScoringMode::Voice, ScoringMode::Proto, ScoringMode::Hybrid, ScoringMode::Base]);

    handle_key(&mut a, key('?'));
    assert!(a.show_help);
    handle_key(&mut a, key('x'));
    assert!(!a.show_help && !a.quit, "any key closes help");
    handle_key(&mut a, KeyEvent::new(KeyCode::Esc, KeyModifiers::NONE));
    assert!(a.quit);
    let mut b = app();
    handle_key(&mut b, KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL));
    assert!(b.quit);
    let mut c = app();
    handle_key(&mut c, key('q'));
    assert!(c.quit);
}

/// Runs `names` through a recognizer configured as the dashboard configures it for enrollment
/// and hands each detection, each captured word and the following snapshot to the app (in the
/// dashboard's order).
fn speak(a: &mut App, recognizer: &mut Recognizer, names: &[String]) -> Vec<Detection> {
    let files: Vec<_> = names.iter().map(|n| fsdd_file(n)).collect();
    let (audio, _) = concatenate(&files, 0.5);
    let mut all = Vec::new();
    for chunk in audio.chunks(256) {
        let mut found = Vec::new();
        recognizer.push(chunk, &mut |d| found.push(d));
        for d in found {
            a.on_detection(d);
            all.push(d);
        }
        for word in recognizer.take_captured_words() {
            a.on_word(&word);
        }
        a.on_live(recognizer.live().clone());
    }
    all
}

#[test]
fn enrollment_captures_whole_words_allows_redo_and_builds_a_voice() {
    let model = model();
    let mut a = app();
    a.enroll_per_digit = 1;
    assert!(matches!(handle_key(&mut a, key('e')).as_slice(), [Effect::SuspendEarlyExit]));
    // What SuspendEarlyExit does to the engine's settings.
    let mut config = RecognizerConfig::default();
    config.early_exit.threshold = 1.0;
    config.early_exit.consecutive = 64;
    config.early_exit.emit_unsure = true;
    let mut recognizer = Recognizer::new(model.clone(), config);
    recognizer.set_capture_words(true);
    recognizer.set_whole_words(true);

    // First take of "zero" gets redone.
    let dets = speak(&mut a, &mut recognizer, &["0_lucas_0.wav".to_string()]);
    assert_eq!(dets.len(), 1);
    assert_ne!(dets[0].kind, DetectionKind::Early, "enrollment waits for the whole word");
    let e = a.enrollment.as_ref().unwrap();
    assert_eq!(e.step(), EnrollmentStep::Reviewing { digit: 0, take: 1, of: 1 });
    assert_eq!(&e.reviewing().unwrap().mfcc[..], &recognizer.live().mfcc[..], "the captured window is the scored one");
    assert_eq!(e.reviewing_heard().map(|(d, _)| d), Some(dets[0].digit), "what the model heard in that word");
    assert_eq!(&a.mfcc_to_show()[..], &recognizer.live().mfcc[..]);
    handle_key(&mut a, key('r'));
    assert_eq!(a.enrollment.as_ref().unwrap().step(), EnrollmentStep::Listening { digit: 0, take: 1, of: 1 });

    let mut effects = Vec::new();
    let mut heard_right = 0;
    for d in 0..10u8 {
        speak(&mut a, &mut recognizer, &[format!("{d}_lucas_{}.wav", 1 + d)]);
        let step = a.enrollment.as_ref().unwrap().step();
        assert_eq!(step, EnrollmentStep::Reviewing { digit: d, take: 1, of: 1 });
        let heard = a.enrollment.as_ref().unwrap().reviewing_heard();
        heard_right += usize::from(heard.is_some_and(|(h, _)| h == Some(d)));
        effects = handle_key(&mut a, KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE));
    }
    assert!(heard_right >= 8, "{heard_right}/10");
    assert!(a.enrollment.is_none());
    let takes = match effects.as_slice() {
        [Effect::RestoreEarlyExit, Effect::FinishEnrollment(c)] => c.clone(),
        other => panic!("{other:?}"),
    };
    assert_eq!(takes.iter().map(|t| t.digit).collect::<Vec<_>>(), (0..10).collect::<Vec<_>>());
    // Whole words: each take is at least 0.25 s and at most one window.
    assert!(
        takes.iter().all(|t| (250.0..=1024.0).contains(&t.duration_ms())),
        "{:?}",
        takes.iter().map(|t| t.duration_ms()).collect::<Vec<_>>()
    );

    let voice = build_voice(&takes).unwrap();
    assert_eq!(voice.counts(), [1; 10]);
    // Voice scoring with lucas's one take per digit recognises his other takes.
    let matcher = fsdd_core::VoiceMatcher::build(&model, &voice).unwrap();
    let mut classifier = fsdd_tui::offline::FileClassifier::new(fsdd_tui::offline::Scoring {
        model: model.clone(),
        voice: Some(std::sync::Arc::new(matcher)),
        mode: ScoringMode::Voice,
        blend_weight: 0.5,
    });
    let right = (0..10u8)
        .filter(|&d| {
            classifier.classify_file(&fsdd_file(&format!("{d}_lucas_{}.wav", 20 + d))).unwrap().digit == Some(d)
        })
        .count();
    assert!(right >= 9, "voice mode right on {right}/10");
}

#[test]
fn early_decisions_learn_when_speech_ended() {
    let mut a = app();
    let mut d = detection(4, 8000);
    d.kind = DetectionKind::Early;
    d.end = None;
    d.decision = 10_000;
    a.on_live(LiveView { speech: true, processed: 10_000, ..LiveView::default() });
    a.on_detection(d);
    assert_eq!(a.history[0].decision_vs_end_ms(), None);
    // Speech ends; the snapshot arrives after the 176 ms hangover (1408 samples).
    a.on_live(LiveView { speech: false, processed: 13_408, ..LiveView::default() });
    let ms = a.history[0].decision_vs_end_ms().unwrap();
    assert_eq!(ms, -250.0, "decided 2000 samples before the end");
}

#[test]
fn correcting_a_wrong_detection_offers_its_word_and_a_teaches_it_undoably() {
    let mut a = app();
    assert!(handle_key(&mut a, key('a')).is_empty(), "nothing corrected: nothing to teach");
    a.on_detection(detection(3, 16_000));
    // Confirming a right detection offers nothing; correcting a wrong one does.
    handle_key(&mut a, key('3'));
    assert!(a.teach_offer.is_none());
    handle_key(&mut a, key('8'));
    assert!(a.status.as_deref().unwrap().contains("press a"), "{:?}", a.status);
    match handle_key(&mut a, key('a')).as_slice() {
        [Effect::Teach { detection, digit: 8 }] => assert_eq!(detection.onset, 16_000),
        other => panic!("{other:?}"),
    }
    assert!(a.teach_offer.is_none(), "one key, one take");
    // "Not a digit" is not a take of any digit.
    a.on_detection(detection(5, 40_000));
    handle_key(&mut a, key('n'));
    assert!(handle_key(&mut a, key('a')).is_empty());
    // Undo only once the live loop reports something to undo.
    assert!(handle_key(&mut a, key('u')).is_empty());
    let mut counts = [0; 10];
    counts[8] = 1;
    let status = VoiceStatus { counts, corrections: 1, path: None, undoable: Some(8) };
    a.voice_changed(status, ScoringMode::Voice, "added".into());
    assert_eq!(a.mode, ScoringMode::Voice);
    assert!(matches!(handle_key(&mut a, key('u')).as_slice(), [Effect::UndoTeach]));
}
