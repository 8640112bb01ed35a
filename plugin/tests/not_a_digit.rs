//! Words that are not digits ("yes", "left", "tree", ...) make no MIDI. Real recordings of
//! Speech Commands speakers the shipped model never fit (its validation group), played through
//! the hosted plugin at 48 kHz between FSDD digits, which must still come out as notes.

mod common;

use std::path::PathBuf;

use common::*;
use fsdd_eval::corpus::{SpeakerGroup, speaker_group};

/// Share of non-digit words allowed to produce a note. Measured with the shipped model
/// (2026-12-01): 10 of 156 words (6.4%), and all 60 digits between them right (the model
/// before it: 9 of 156, 59 of 60; earlier 14 of 156). A model before the word boundaries: 10 of
/// 156 (6.4%), 58 of 60 digits; the word boundaries (#11) cost some words, whose second syllable now and then passes for a
/// digit. The digits-only model noted about 70% of such words.
const MAX_WORD_NOTE_SHARE: f64 = 0.12;
/// Share of the interleaved FSDD digits that must come out as exactly their note.
const MIN_DIGIT_ACCURACY: f64 = 0.95;

fn speech_commands_dir() -> PathBuf {
    match std::env::var_os("SPEECH_COMMANDS_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => fsdd_dir().join("../../speech-commands"),
    }
}

/// Non-digit words of the validation speakers, sorted by name; `every`-th file.
fn held_out_words(every: usize) -> Vec<Utterance> {
    let dir = speech_commands_dir().join("words");
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("Speech Commands words not found at {} ({e})", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let stem = p.file_stem().and_then(|s| s.to_str()).unwrap_or("");
            let speaker = stem.split_once("_sc").and_then(|(_, rest)| rest.rsplit_once('_'));
            speaker.is_some_and(|(id, _)| speaker_group(&format!("sc{id}")) == SpeakerGroup::Validation)
        })
        .collect();
    paths.sort();
    paths
        .into_iter()
        .step_by(every.max(1))
        .map(|path| {
            let clip = fsdd_core::signal::audio::read_wav(&path).expect("reading a Speech Commands file");
            assert_eq!(clip.sample_rate, 8_000);
            Utterance {
                // Placements of words carry no digit: any note in their window is wrong.
                digit: u8::MAX,
                name: path.file_stem().unwrap().to_string_lossy().into_owned(),
                samples_8k: clip.samples,
            }
        })
        .collect()
}

#[test]
fn non_digit_words_make_no_notes_and_digits_still_do() {
    let words = held_out_words(4);
    assert!(words.len() >= 60, "only {} held-out words", words.len());
    let digits = test_utterances(5);
    // Alternate: digit, word, digit, word, ... (words left over go at the end).
    let mut mixed = Vec::new();
    let mut words_iter = words.into_iter();
    for d in digits {
        mixed.push(d);
        mixed.extend(words_iter.next());
    }
    mixed.extend(words_iter);

    let stream = build_stream(&mixed, 48_000, Layout::Stereo, 4813);
    let mut plugin = HostedPlugin::new(HostConfig::offline_48k(), None);
    let rendered = render(&mut plugin, &stream, 0x5C0DE, Pace::Unpaced);
    rendered.assert_clean_passthrough();
    assert_notes_paired(&rendered.midi);

    let (word_places, digit_places): (Vec<Placement>, Vec<Placement>) =
        stream.placements.iter().cloned().partition(|p| p.digit == u8::MAX);
    let digit_score = score_notes(&rendered.midi, &digit_places, DEFAULT_BASE_NOTE);
    let ons: Vec<u64> =
        rendered.midi.iter().filter(|m| matches!(m.kind, MidiKind::NoteOn { .. })).map(|m| m.position).collect();
    let noted: Vec<&str> = word_places
        .iter()
        .filter(|p| ons.iter().any(|&pos| pos >= p.start && pos < p.window_end))
        .map(|p| p.name.as_str())
        .collect();
    let word_share = noted.len() as f64 / word_places.len() as f64;
    eprintln!(
        "{} words: {} made a note ({:.1}%): {noted:?}; {} digits: {:.1}% right, wrong {:?}, missing {:?}",
        word_places.len(),
        noted.len(),
        100.0 * word_share,
        digit_places.len(),
        100.0 * digit_score.accuracy(),
        digit_score.wrong,
        digit_score.missing
    );
    assert!(
        word_share <= MAX_WORD_NOTE_SHARE,
        "{:.1}% of non-digit words made a note (max {:.0}%)",
        100.0 * word_share,
        100.0 * MAX_WORD_NOTE_SHARE
    );
    assert!(
        digit_score.accuracy() >= MIN_DIGIT_ACCURACY,
        "digits between the words: {:.1}% right",
        100.0 * digit_score.accuracy()
    );
}
