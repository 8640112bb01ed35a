//! The hosted plugin in a real room (#11): FSDD test takes over held-out recorded noise
//! (`tests/noise/heldout`: kitchen, crowd, rain, steps, music..., never used in training) at
//! 10 dB SNR, and read out like a phone number (50-200 ms between digits). The MIDI must come
//! out one note per digit. Streams are composed by `fsdd_eval::streams` (the benchmark's
//! own code) at 8 kHz and played at 48 kHz.

mod common;

use std::path::PathBuf;

use common::*;
use fsdd_eval::streams::{Layout as StreamLayout, compose, load_noise_dir};

/// A word's window for its note starts this long after the word does: a word decided at its
/// end inside a fast string is decided when the next word rises (the valley between them is
/// what says the first one ended), so its note lands just after the next word's start.
const NOTE_WINDOW_DELAY_MS: u64 = 128;

fn heldout_noise() -> Vec<f32> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/noise/heldout");
    load_noise_dir(&dir).unwrap_or_else(|e| panic!("{e}"))
}

/// Every `every`-th test take, composed with `layout` and played at 48 kHz (stereo).
fn room_stream(every: usize, layout: &StreamLayout) -> TestStream {
    let rate = 48_000u32;
    let mut utterances = test_utterances(every);
    // Shuffled, so the string is not 0 0 0 ... 1 1 1 (file-name order).
    let mut rng = fsdd_eval::streams::StreamRng::new(layout.seed);
    for i in (1..utterances.len()).rev() {
        utterances.swap(i, rng.range(0..=i));
    }
    let words: Vec<(u8, &[f32])> = utterances.iter().map(|u| (u.digit, u.samples_8k.as_slice())).collect();
    let mixed = compose(&words, &heldout_noise(), layout).unwrap();
    let mut audio = band_limited_resample(&mixed.samples, 8_000, rate);
    // A second of silence after the noise, so the last note's NoteOff lands in the stream.
    audio.resize(audio.len() + rate as usize, 0.0);
    let scale = |pos: usize| pos as u64 * (rate / 8_000) as u64;
    let delay = NOTE_WINDOW_DELAY_MS * rate as u64 / 1000;
    let total = audio.len() as u64;
    let placements = mixed
        .words
        .iter()
        .enumerate()
        .map(|(i, w)| Placement {
            digit: w.label,
            name: utterances[i].name.clone(),
            start: scale(w.start) + delay,
            speech_end: scale(w.end),
            window_end: mixed.words.get(i + 1).map_or(total, |next| scale(next.start) + delay),
        })
        .collect();
    // Stereo, as the offline host config is: the right channel at half level.
    let right = audio.iter().map(|x| x * 0.5).collect();
    TestStream { sample_rate: rate, channels: vec![audio, right], placements }
}

fn run(stream: &TestStream, seed: u64) -> Score {
    let mut plugin = HostedPlugin::new(HostConfig::offline_48k(), None);
    let rendered = render(&mut plugin, stream, seed, Pace::Unpaced);
    rendered.assert_clean_passthrough();
    assert_notes_paired(&rendered.midi);
    assert_timings_inside_blocks(&rendered.midi);
    score_notes(&rendered.midi, &stream.placements, DEFAULT_BASE_NOTE)
}

fn report(name: &str, score: &Score) {
    eprintln!(
        "{name}: {} of {} right ({:.1}%), wrong {:?}, missing {:?}, extra {}",
        score.correct,
        score.total,
        100.0 * score.accuracy(),
        score.wrong,
        score.missing,
        score.extra
    );
}

#[test]
fn digits_in_recorded_noise_at_10_db_make_one_note_each() {
    let stream = room_stream(5, &StreamLayout::spaced(Some(10.0), 21));
    let score = run(&stream, 0xA0153);
    report("10 dB SNR", &score);
    // Measured with the shipped model: 46 of 60 right (76.7%) (the model before it: 41, 68.3%,
    // 1 extra note; before the stream cut: 47, 78.3%; on the benchmark's 300 words at 10 dB the
    // three are level, 80.7, 81.0 and 80.3%). A word's window runs to the next word, so a note
    // on the noise in the pause after it counts against it.
    assert!(score.accuracy() >= 0.65, "{:.1}% right", 100.0 * score.accuracy());
    assert!(score.extra <= 4, "{} extra notes", score.extra);
}

#[test]
fn a_fast_digit_string_makes_one_note_per_digit() {
    let stream = room_stream(5, &StreamLayout::fast(None, 22));
    let score = run(&stream, 0xFA57);
    report("fast string", &score);
    // Measured with the shipped model: 53 of 60 right (88.3%), 3 extra notes (the model before
    // it: 54, 2 extra).
    assert!(score.accuracy() >= 0.85, "{:.1}% right", 100.0 * score.accuracy());
    assert!(score.extra <= 3, "{} extra notes", score.extra);
}
