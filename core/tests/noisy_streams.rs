//! Digits as users say them (#11), on short deterministic streams at 48 kHz through the
//! resampler and the recogniser: one FSDD test take (never trained on) of every speaker and
//! digit, over held-out recorded noise (`tests/noise/heldout`, never used in training) at
//! 10 dB SNR, read out quickly (50-200 ms pauses), and the noise alone. The benchmark
//! (`cargo xtask bench-stream`) runs the full conditions; the floors here sit a little under
//! what it measures.

mod common;

use std::path::PathBuf;
use std::sync::Arc;

use common::{fsdd, load, test_split};
use fsdd_core::{Detection, Model, RecognizerConfig};
use fsdd_eval::streams::{
    Layout, MixedStream, StreamScore, WORD_LEVEL_DB, load_noise_dir, makes_note, noise_only, play, score,
};

const RATE: u32 = 48_000;

fn heldout_noise() -> Vec<f32> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/noise/heldout");
    load_noise_dir(&dir).unwrap_or_else(|e| panic!("{e}"))
}

/// The first test take of every (speaker, digit): 60 words.
fn words() -> Vec<(u8, Vec<f32>)> {
    let fsdd = fsdd();
    let mut seen = std::collections::HashSet::new();
    test_split(&fsdd)
        .into_iter()
        .filter(|u| seen.insert((u.speaker.clone(), u.digit)))
        .map(|u| (u.digit, load(&u)))
        .collect()
}

fn stream(layout: &Layout) -> MixedStream {
    let words = words();
    assert_eq!(words.len(), 60);
    let refs: Vec<(u8, &[f32])> = words.iter().map(|(d, w)| (*d, w.as_slice())).collect();
    fsdd_eval::streams::compose(&refs, &heldout_noise(), layout).unwrap()
}

/// The stream at 48 kHz, through the resampler and the recogniser in 1024-frame blocks.
fn recognise(stream: &MixedStream) -> Vec<Detection> {
    let model = Arc::new(Model::embedded().expect("embedded model"));
    play(&model, &stream.samples, RATE, RecognizerConfig { saliency: false, ..Default::default() }).unwrap().detections
}

fn report(name: &str, s: &StreamScore) {
    println!(
        "{name}: {} of {} digits right ({:.1}%), {} missed ({} rejected or unsure), {} wrong, {} extra notes, decision vs word end {:?} ms",
        s.correct,
        s.digits,
        100.0 * s.accuracy(),
        s.missed,
        s.missed_unsure_or_rejected,
        s.wrong,
        s.extra,
        s.decision_percentiles()
    );
}

#[test]
fn digits_are_found_one_by_one_in_recorded_noise_at_10_db() {
    let stream = stream(&Layout::spaced(Some(10.0), 5));
    let s = score(&stream.words, &recognise(&stream));
    report("10 dB SNR, 0.3-1.5 s pauses", &s);
    // Measured with the shipped model: 48 of 60 right (80.0%), 0 extra notes (the model before
    // it: 47, 78.3%; before the stream cut: 50, 83.3%). The model and segmentation before the
    // word boundaries got 51.7% of all 300 test takes in this condition.
    assert!(s.accuracy() >= 0.75, "{:.1}%", 100.0 * s.accuracy());
    assert!(s.extra <= 3, "{} extra notes", s.extra);
}

#[test]
fn a_fast_digit_string_gives_one_note_per_digit() {
    // A phone number read out: 50-200 ms between digits, so the level never rests long enough
    // to end a segment; each word must still get its own decision.
    let stream = stream(&Layout::fast(None, 6));
    let s = score(&stream.words, &recognise(&stream));
    report("quiet, 50-200 ms pauses", &s);
    // Measured: 60 of 60 right, 0 extra notes (the model before it: 58, 1 missed, 1 extra;
    // 59 before the stream cut); before the word boundaries, 30% of all test takes in this
    // condition.
    assert!(s.accuracy() >= 0.93, "{:.1}%", 100.0 * s.accuracy());
    assert!(s.missed <= 4, "{} missed", s.missed);
    assert!(s.extra <= 3, "{} extra notes", s.extra);
}

#[test]
fn recorded_noise_alone_makes_next_to_no_notes() {
    // Three minutes of held-out noise (kitchen, crowd, rain, steps, music...) at the level it
    // has under speech at 10 dB SNR.
    let stream = noise_only(&heldout_noise(), 180.0, WORD_LEVEL_DB - 10.0, 9).unwrap();
    let detections = recognise(&stream);
    let notes: Vec<_> = detections.iter().filter(|d| makes_note(d)).collect();
    println!(
        "noise alone, 3 min: {} notes, {} rejected as not a digit",
        notes.len(),
        detections.iter().filter(|d| d.digit.is_none()).count()
    );
    for d in &notes {
        println!("  note {:?} {:?} {:.2} at {:.1} s", d.digit, d.kind, d.confidence, d.onset as f64 / 8000.0);
    }
    // Measured: 1 note (105 sounds rejected as not a digit; 1 with the model before it, 0
    // before the stream cut); the benchmark's 10 minutes: 7 (the model before it: 3).
    assert!(notes.len() <= 2, "{} notes from noise alone", notes.len());
}
