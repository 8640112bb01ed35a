//! Speech Commands as the trainer reads it, on the real files in `../shared/speech-commands`:
//! every file parsed, speakers on one side of every split, clips cut to the word the way the
//! streaming recognizer cuts a segment, and the room around it kept as "not a digit".

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use fsdd_core::inference::model::NOT_A_DIGIT;
use fsdd_core::signal::vad::{first_speech_span, level_db};
use trainer::data::ClipSource;
use trainer::speech_commands::{self as sc, SpeakerGroup, SpeechCommands};

fn speech_commands_dir() -> PathBuf {
    std::env::var_os("SPEECH_COMMANDS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/speech-commands"))
}

#[test]
fn every_file_is_read_and_speakers_never_straddle_a_split() {
    let data = SpeechCommands::open(&speech_commands_dir()).unwrap();
    let digits = data.recordings.iter().filter(|r| (r.label as usize) < NOT_A_DIGIT).count();
    let words = data.recordings.len() - digits;
    // The shared README's counts.
    assert_eq!((digits, words), (226, 4019));
    let mut group_of: HashMap<&str, SpeakerGroup> = HashMap::new();
    for r in &data.recordings {
        let g = *group_of.entry(&r.speaker).or_insert(r.group());
        assert_eq!(g, r.group(), "{} in two groups", r.speaker);
    }
    let validation: HashSet<&str> =
        group_of.iter().filter(|(_, g)| **g == SpeakerGroup::Validation).map(|(s, _)| *s).collect();
    // About a tenth of the speakers validate, and they have digits to validate on.
    assert!((10..40).contains(&validation.len()), "{} validation speakers", validation.len());
    assert!(data.select(|g| g == SpeakerGroup::Validation).iter().any(|r| (r.label as usize) < NOT_A_DIGIT));
    for k in 0..sc::FOLDS {
        assert!(data.select(|g| g == SpeakerGroup::Fold(k)).len() > 300, "fold {k} is tiny");
    }
}

#[test]
fn clips_are_cut_to_the_word_and_the_room_around_it_is_kept_apart() {
    let data = SpeechCommands::open(&speech_commands_dir()).unwrap();
    // Every 40th recording: digits and words alike.
    let sample: Vec<_> = data.recordings.iter().step_by(40).collect();
    let loaded = sc::load(&sample).unwrap();
    let vad = sc::CUT_VAD;
    let (mut cut, mut noise_clips, mut quieter) = (0, 0, 0);
    for (r, l) in sample.iter().zip(&loaded) {
        assert_eq!(l.word.label, r.label);
        assert_eq!(
            l.word.source,
            if (r.label as usize) < NOT_A_DIGIT { ClipSource::RealDigit } else { ClipSource::Word }
        );
        // Clips are one second; a found word is shorter and is the loudest part of it.
        let whole = fsdd_core::signal::audio::read_wav(&r.path).unwrap().samples;
        if let Some((start, end)) = first_speech_span(&whole, vad) {
            assert_eq!(l.word.samples.as_slice(), &whole[start..end]);
            cut += (l.word.samples.len() < whole.len()) as usize;
        }
        for n in &l.noise {
            noise_clips += 1;
            assert_eq!((n.label as usize, n.source), (NOT_A_DIGIT, ClipSource::RoomNoise));
            assert!(n.samples.len() >= sc::MIN_NOISE_SAMPLES);
            // The room is quieter than the word (mostly: where a short sound comes
            // before the word, the VAD's first segment is that sound and the word is "room").
            quieter += (level_db(&n.samples) < level_db(&l.word.samples)) as usize;
        }
    }
    // Measured: 72 of 107. Where a room is loud from the first hop, or the word runs to the
    // clip's end, the VAD's span is the whole second, so not every clip gets shorter.
    assert!(cut as f64 >= 0.6 * sample.len() as f64, "only {cut} of {} cut", sample.len());
    // Measured on this sample: 35 stretches of >= 250 ms room (a second-long clip with a
    // half-second word often leaves less than that on either side), 30 of them quieter.
    assert!(noise_clips >= sample.len() / 4, "only {noise_clips} room-noise stretches");
    assert!(
        quieter as f64 >= 0.75 * noise_clips as f64,
        "only {quieter} of {noise_clips} stretches quieter than their word"
    );
}
