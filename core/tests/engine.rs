//! Engine behaviour beyond the big streaming test: input-rate positions, interleaved stereo,
//! live settings and the enrolled voice reaching the worker, bad configurations.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use fsdd_core::signal::resample::resample;
use fsdd_core::{
    Detection, DetectionKind, Engine, EngineConfig, EngineError, Model, ScoringMode, TakeSource, Voice, VoiceMatcher,
    VoiceTake,
};
use fsdd_eval::streams::makes_note;

/// Ten test-split utterances (one per digit, speaker jackson) with 0.6 s of silence between,
/// at 8 kHz; returns the stream and each utterance's (digit, start, end).
fn ten_digits() -> (Vec<f32>, Vec<(u8, usize, usize)>) {
    let fsdd = fsdd();
    let mut stream = vec![0.0; 4800];
    let mut spans = Vec::new();
    for d in 0..10u8 {
        let u = test_split(&fsdd).into_iter().find(|u| u.speaker == "jackson" && u.digit == d && u.take == 1).unwrap();
        let s = load(&u);
        spans.push((d, stream.len(), stream.len() + s.len()));
        stream.extend(s);
        stream.extend(vec![0.0; 4800]);
    }
    (stream, spans)
}

fn run_interleaved(
    engine: &Engine,
    sender: &mut fsdd_core::AudioSender,
    rx: &mut fsdd_core::DetectionReceiver,
    stereo: &[f32],
) -> Vec<Detection> {
    let mut out = Vec::new();
    for block in stereo.chunks(2 * 441) {
        while sender.free_frames() < block.len() / 2 {
            std::thread::sleep(Duration::from_millis(1));
        }
        assert_eq!(sender.push_interleaved(block, 2), block.len() / 2);
    }
    engine.flush();
    assert!(engine.wait_until_drained(Duration::from_secs(60)));
    while let Some(d) = rx.pop() {
        out.push(d);
    }
    out
}

#[test]
fn positions_come_back_at_the_input_rate_and_settings_reach_the_worker() {
    let model = Arc::new(Model::embedded().unwrap());
    let (stream, spans) = ten_digits();
    let rate = 44_100u32;
    let mono = resample(&stream, 8_000, rate).unwrap();
    let stereo: Vec<f32> = mono.iter().flat_map(|&s| [s, s]).collect();
    let (engine, mut sender, mut rx) = Engine::start(model.clone(), EngineConfig::new(rate)).unwrap();

    let detections = run_interleaved(&engine, &mut sender, &mut rx, &stereo);
    // One note per digit, each inside its word. A word's start may also come back as a
    // rejected sound of its own (the long /s/ of "six", split off at the vowel's rise): it
    // makes no note.
    let notes: Vec<&Detection> = detections.iter().filter(|d| makes_note(d)).collect();
    assert!((9..=10).contains(&notes.len()), "{} notes: {detections:?}", notes.len());
    let to_input = |p: usize| p as f64 * rate as f64 / 8_000.0;
    let mut right = 0;
    for d in &notes {
        // Onset within 250 ms of the true start (pre-roll is 64 ms; after a split-off /s/ the
        // onset is the vowel's), end near the true end.
        let &(digit, start, end) = spans
            .iter()
            .find(|(_, start, end)| {
                d.onset as f64 > to_input(*start) - 0.25 * rate as f64 && (d.onset as f64) < to_input(*end)
            })
            .unwrap_or_else(|| panic!("{d:?} is in no word"));
        assert!((d.onset as f64 - to_input(start)).abs() < 0.25 * rate as f64, "{d:?} vs {start}");
        if let Some(e) = d.end {
            assert!((e as f64 - to_input(end)).abs() < 0.15 * rate as f64, "end {e} vs {end}");
        }
        assert!(d.decision >= d.onset && d.decision as f64 <= to_input(end) + 0.5 * rate as f64);
        // Every decided digit says why.
        assert!(d.saliency.is_some() && d.compute_us > 0, "{d:?}");
        right += (d.digit == Some(digit)) as usize;
    }
    assert!(right >= 9, "{right}/10 right");
    let live = engine.live();
    assert_eq!(live.processed, mono.len() as u64);
    assert_eq!(live.last_detection.map(|d| d.onset), detections.last().map(|d| d.onset));

    // A threshold no probability reaches: every decision waits for the end of speech.
    engine.settings().set_threshold(1.0);
    engine.settings().set_saliency(false);
    let finals = run_interleaved(&engine, &mut sender, &mut rx, &stereo);
    assert!((9..=10).contains(&finals.iter().filter(|d| makes_note(d)).count()), "{finals:?}");
    assert!(
        finals.iter().all(|d| matches!(d.kind, DetectionKind::Final | DetectionKind::Rejected) && d.saliency.is_none()),
        "{finals:?}"
    );
    // Positions keep counting across flushes.
    assert!(finals[0].onset > mono.len() as u64);

    // A voice enrolled with every label shifted by one, scored by its prototypes alone: the
    // worker must use it. (Voice mode would rightly side with a model that is sure of the true
    // digit; core/tests/voice_fsdd.rs measures that mode.)
    let mut voice = Voice::new();
    let fsdd = fsdd();
    for u in fsdd.utterances.iter().filter(|u| u.speaker == "jackson" && (5..=7).contains(&u.take)) {
        let _ = voice.push(VoiceTake::new((u.digit + 1) % 10, TakeSource::Enrolled, load(u)).unwrap());
    }
    engine.set_voice(Some(Arc::new(VoiceMatcher::build(&model, &voice).unwrap())));
    engine.settings().set_mode(ScoringMode::Proto);
    let shifted: Vec<Detection> =
        run_interleaved(&engine, &mut sender, &mut rx, &stereo).into_iter().filter(makes_note).collect();
    let moved = shifted.iter().zip(&spans).filter(|(d, s)| d.digit == Some((s.0 + 1) % 10)).count();
    assert!(
        moved >= 8,
        "only {moved}/10 followed the voice: {:?}",
        shifted.iter().map(|d| d.digit).collect::<Vec<_>>()
    );
    assert_eq!(sender.dropped(), 0);
}

#[test]
fn bad_configurations_are_clear_errors() {
    let model = Arc::new(Model::embedded().unwrap());
    for rate in [0, 4_000, 384_000] {
        match Engine::start(model.clone(), EngineConfig::new(rate)) {
            Err(EngineError::Rate(e)) => assert!(e.to_string().contains(&rate.to_string())),
            Err(e) => panic!("{e}"),
            Ok(_) => panic!("{rate} Hz accepted"),
        }
    }
    for ring_seconds in [0.0, -1.0, f32::NAN] {
        assert!(matches!(
            Engine::start(model.clone(), EngineConfig { ring_seconds, ..EngineConfig::new(48_000) }),
            Err(EngineError::RingSize(_))
        ));
    }
}
