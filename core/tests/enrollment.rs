//! Guided enrollment's capture and voice file on FSDD audio: the recognizer hands out whole
//! words (never an early decision's prefix), the engine does the same at device rates, and the
//! voice file depends only on the audio, not on how it was split into pushes.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::fsdd_dir;
use fsdd_core::signal::audio::read_wav;
use fsdd_core::signal::mfcc::{MfccExtractor, WINDOW_SAMPLES};
use fsdd_core::signal::resample::resample;
use fsdd_core::voice::enrollment::{EnrollmentSession, Prompt, build_voice};
use fsdd_core::{DetectionKind, Engine, EngineConfig, Model, Recognizer, RecognizerConfig};

fn clip(name: &str) -> Vec<f32> {
    let c = read_wav(fsdd_dir().join(format!("{name}.wav"))).expect("FSDD file");
    assert_eq!(c.sample_rate, 8000);
    c.samples
}

/// `names` at 8 kHz with 0.6 s of a quiet floor before, between and after.
fn stream_8k(names: &[String]) -> (Vec<f32>, Vec<usize>) {
    let gap = vec![1e-4f32; 4800];
    let mut out = gap.clone();
    let mut lens = Vec::new();
    for n in names {
        let c = clip(n);
        lens.push(c.len());
        out.extend_from_slice(&c);
        out.extend_from_slice(&gap);
    }
    (out, lens)
}

#[test]
fn the_recognizer_captures_whole_words_even_when_it_decides_early() {
    let model = Arc::new(Model::embedded().expect("embedded model"));
    let names: Vec<String> = (0..10).map(|d| format!("{d}_theo_{}", 5 + d % 5)).collect();
    let (audio, lens) = stream_8k(&names);
    let mut recognizer = Recognizer::new(model.clone(), RecognizerConfig::default());
    recognizer.set_capture_words(true);
    recognizer.set_whole_words(true);
    let mut detections = Vec::new();
    let mut words = Vec::new();
    for chunk in audio.chunks(300) {
        recognizer.push(chunk, &mut |d| detections.push(d));
        words.extend(recognizer.take_captured_words());
    }
    assert_eq!(words.len(), 10, "one whole word per clip");
    let early = detections.iter().filter(|d| d.kind == DetectionKind::Early).count();
    assert!(early >= 5, "most words are decided early ({early}/10): the capture must not be that prefix");
    for ((word, len), name) in words.iter().zip(&lens).zip(&names) {
        assert!(word.end > word.onset);
        // The clip's speech plus the VAD's pre-roll, within one window; FSDD clips carry some
        // silence and faint tails the VAD leaves out (7_theo_7: 336 ms of a 571 ms clip).
        assert!(
            word.samples.len() >= (*len / 2).min(WINDOW_SAMPLES) && word.samples.len() <= WINDOW_SAMPLES,
            "{name}: {} samples for a {len}-sample clip",
            word.samples.len()
        );
    }
    // Each take's window is the MFCC of the whole word, and embeds to the right digit for
    // most words (the base model on its own speaker).
    let mut session = EnrollmentSession::new(1);
    for w in &words {
        assert!(session.offer(w));
    }
    assert_eq!(session.prompt(), Prompt::Complete);
    let right = session
        .takes()
        .iter()
        .filter(|t| {
            assert_eq!(&t.mfcc[..], &MfccExtractor::new().compute(&t.samples)[..]);
            let probs = model.infer(&t.mfcc[..]).unwrap().probs;
            let heard = (0..10).max_by(|&a, &b| probs[a].total_cmp(&probs[b])).unwrap();
            heard == t.digit as usize
        })
        .count();
    assert!(right >= 9, "{right}/10 whole-word takes recognised");
    // Turning capture off drops what was not taken and captures nothing more.
    recognizer.set_capture_words(false);
    recognizer.push(&audio, &mut |_| {});
    assert!(recognizer.take_captured_words().is_empty());
}

/// Voice-file JSON from `audio_8k` played at `rate` through the engine in pushes of `push`
/// frames, the engine drained after each.
fn engine_voice(model: &Arc<Model>, audio_8k: &[f32], rate: u32, push: usize) -> (String, usize) {
    let audio = resample(audio_8k, 8000, rate).unwrap();
    let config = EngineConfig { input_rate: rate, recognizer: RecognizerConfig::default(), ring_seconds: 2.0 };
    let (engine, mut sender, _detections) = Engine::start(model.clone(), config).unwrap();
    engine.capture_words(true);
    engine.set_whole_words(true);
    let mut session = EnrollmentSession::new(2);
    let mut words = 0;
    for chunk in audio.chunks(push) {
        assert_eq!(sender.push(chunk), chunk.len());
        assert!(engine.wait_until_drained(Duration::from_secs(10)));
        while let Some(w) = engine.pop_word() {
            // Positions are at the input rate, like detections'.
            assert!(w.onset < audio.len() as u64 && w.end <= audio.len() as u64 && w.end > w.onset);
            session.offer(&w);
            words += 1;
        }
    }
    engine.flush();
    assert!(engine.wait_until_drained(Duration::from_secs(10)));
    while engine.pop_word().is_some() {
        words += 1;
    }
    (build_voice(session.takes()).unwrap().to_json(), words)
}

#[test]
fn the_engine_captures_words_at_device_rates_and_the_voice_does_not_depend_on_push_sizes() {
    let model = Arc::new(Model::embedded().expect("embedded model"));
    let names: Vec<String> = (0..10).flat_map(|d| [format!("{d}_nicolas_5"), format!("{d}_nicolas_6")]).collect();
    let (audio, _) = stream_8k(&names);
    for rate in [44_100, 48_000] {
        let (a, words_a) = engine_voice(&model, &audio, rate, 64);
        let (b, words_b) = engine_voice(&model, &audio, rate, 1500);
        assert_eq!((words_a, words_b), (20, 20), "{rate} Hz: one word per clip");
        assert_eq!(a, b, "{rate} Hz: same audio, same voice file");
        let voice = fsdd_core::Voice::from_json(&a).unwrap();
        assert_eq!(voice.counts(), [2; 10]);
        assert!(fsdd_core::VoiceMatcher::build(&model, &voice).is_ok());
    }
}
