//! Speed targets of the runtime (release: `cargo bench -p fsdd-core`):
//! (a) one decision = 64x64 MFCC + forward pass <= 250 us;
//! (b) `AudioSender::push` of a 512-frame block <= 2 us (allocation-free: see
//!     tests/push_alloc_free.rs);
//! (c) worker CPU per second of continuous speech at 48 kHz input <= 3% of one core (30 ms).
//!
//! Medians on the 2-core dev machine (17:31 UTC, load average 0.05), weight-averaged model
//! shipped at commit a716979 (same layers as 8b25370: conv2/conv3 48 wide),
//! `cargo bench -p fsdd-core --bench runtime`:
//! (a) 220 us (MFCC alone 94 us, forward pass alone 121 us); 219 us for 8b25370 on another
//!     quiet run, 197 us for the narrower model before it, 214 us before the MFCC copied a
//!     precomputed column for zero-padding frames. Under a load average of 5-6 the same bench
//!     read 300-354 us: quote it from a quiet machine;
//! (b) 0.51 us per 512-frame push (0.60-0.81 us in earlier runs);
//! (c) 59 ms for 8.4 s of 48 kHz speech with 0.3 s pauses (saliency on every decision):
//!     7.1 ms per second = 0.71% of one core (82 ms for 8b25370, 62 ms for the model before).
//!
//! Issue #14 (one decision <= 100 us, tract within 1.5x of onnxruntime, MFCC <= 40 us), 13:00
//! UTC 2026-11-30, load average ~1 (the VM's neighbours still make runs vary by 30%; criterion
//! medians from `target/criterion/*/new/estimates.json`, the lower of repeated runs):
//! - MFCC 64x64: 29.3 us median (44 us at the start of the session, 94 us before that): the
//!   window computation compiled a second time for AVX2 and picked at run time, 8x8 AVX tile
//!   transposes of the power spectra, four DCT coefficients per pass; bit-identical output;
//! - forward pass: 64-68 us (119 us at the start of the session): `fsdd_core::inference::plan_rewrites`
//!   (our 2x2 pool, zero padding with the ReLU and the input normalisation folded in, conv2 as
//!   patches and a plain matrix product) and, on AMD Zen 4, tract's AVX2+FMA kernels instead of
//!   its AVX-512 ones (`kernel_choice`); bit-identical to tract's own plan with the same kernels;
//! - one decision: 98.9 us median (mean 101 us);
//! - `cargo xtask bench-ort`: tract 64-69 us, onnxruntime 47.6-49.9 us: 1.35-1.38x (tract's own
//!   plan and kernel choice on the same runs: 123-125 us, 2.5x).
//!   Per node (`--example forward_pass -- --profile`): conv2 19.4 us (+2.6 patches, 2.0 packing),
//!   conv3 19.8 (+1.9 padding), conv1 7.5, fc1 5.7, pool 1.5; the three convolutions' matrix
//!   products are tract's kernels and three quarters of the pass;
//! - push 0.67-0.69 us (unchanged code); worker 48.8-50.3 ms for the 8.4 s (0.58-0.60% of a
//!   core; it was 91-98 ms while conv2's patch rewrite also applied to the symbolic-batch plan
//!   that saliency uses, which is why that rewrite now needs a concrete batch).
//!
//! Issue #22 (enrolling 30 takes <= 100 ms, one decision with them <= 150 us), 2026-12-06 on an
//! Intel Xeon (AVX-512/AMX), quiet: enrolling 3.8 ms; one decision with the voice 184 us (the
//! decision alone 132 us on the same run, the DTW fusion 68 us; 179 us before the templates kept
//! every second frame).

use std::hint::black_box;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use fsdd_core::signal::audio::read_wav;
use fsdd_core::signal::mfcc::MfccExtractor;
use fsdd_core::signal::resample::{StreamResampler, resample};
use fsdd_core::{
    Engine, EngineConfig, Model, Recognizer, RecognizerConfig, ScoringMode, TakeSource, Voice, VoiceMatcher, VoiceTake,
};
use fsdd_eval::corpus::{Fsdd, Split};

fn fsdd_dir() -> PathBuf {
    std::env::var_os("FSDD_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/fsdd/recordings"))
}

fn model() -> Arc<Model> {
    Arc::new(Model::embedded().expect("benchmarks need the embedded model (models/fsdd.onnx)"))
}

/// FSDD test utterances (8 kHz) back to back with `gap` seconds of silence.
fn speech_stream(seconds: f32, gap: f32) -> Vec<f32> {
    let fsdd = Fsdd::open(fsdd_dir()).expect("FSDD recordings (set FSDD_DIR)");
    let mut out = Vec::new();
    for u in fsdd.split(Split::Test) {
        out.extend(read_wav(&u.path).unwrap().samples);
        out.extend(std::iter::repeat_n(0.0, (gap * 8000.0) as usize));
        if out.len() as f32 >= seconds * 8000.0 {
            break;
        }
    }
    out
}

fn decision(c: &mut Criterion) {
    let model = model();
    let audio = speech_stream(0.6, 0.0);
    let mut mfcc = MfccExtractor::new();
    let mut window = vec![0.0f32; fsdd_core::signal::mfcc::FEATURE_LEN];
    c.bench_function("decision: 64x64 MFCC + forward pass", |b| {
        b.iter(|| {
            mfcc.compute_into(black_box(&audio[..audio.len().min(8192)]), &mut window);
            black_box(model.infer(&window).unwrap());
        })
    });
    c.bench_function("forward pass only", |b| b.iter(|| black_box(model.infer(black_box(&window)).unwrap())));
    c.bench_function("MFCC 64x64 only", |b| {
        b.iter(|| mfcc.compute_into(black_box(&audio[..8192.min(audio.len())]), &mut window))
    });
}

fn push(c: &mut Criterion) {
    let (engine, mut sender, _detections) =
        Engine::start(model(), EngineConfig { ring_seconds: 10.0, ..EngineConfig::new(48_000) }).unwrap();
    let block: Vec<f32> = (0..512).map(|n| (n as f32 * 0.05).sin() * 0.1).collect();
    c.bench_function("AudioSender::push 512 frames", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                if sender.free_frames() < 512 {
                    // Let the worker catch up outside the timed region.
                    engine.wait_until_drained(Duration::from_secs(60));
                }
                let t = Instant::now();
                black_box(sender.push(black_box(&block)));
                total += t.elapsed();
            }
            total
        })
    });
}

fn worker(c: &mut Criterion) {
    let model = model();
    // Speech with short pauses, as someone reading digits aloud: 8 s at 48 kHz.
    let stream = resample(&speech_stream(8.0, 0.3), 8_000, 48_000).unwrap();
    let seconds = stream.len() as f64 / 48_000.0;
    let mut group = c.benchmark_group("worker");
    group.sample_size(10);
    group.bench_function(format!("resample + recognize {seconds:.1} s of 48 kHz speech"), |b| {
        b.iter(|| {
            let mut resampler = StreamResampler::to_8k(48_000).unwrap();
            let mut recognizer = Recognizer::new(model.clone(), RecognizerConfig::default());
            let mut n = 0;
            for block in stream.chunks(1024) {
                resampler.process(block, &mut |s| recognizer.push(s, &mut |_| n += 1)).unwrap();
            }
            black_box(n)
        })
    });
    group.finish();
}

/// Issue #22: enrolling 30 takes <= 100 ms; one decision with that voice <= 150 us. The takes
/// are jackson's 5-7 of every digit (training takes of the shipped model; speed does not care),
/// the word decided is his take 30 of "seven".
fn voice(c: &mut Criterion) {
    let model = model();
    let fsdd = Fsdd::open(fsdd_dir()).expect("FSDD recordings (set FSDD_DIR)");
    let mut voice = Voice::new();
    for u in fsdd.utterances.iter().filter(|u| u.speaker == "jackson" && (5..=7).contains(&u.take)) {
        let _ = voice.push(VoiceTake::new(u.digit, TakeSource::Enrolled, read_wav(&u.path).unwrap().samples).unwrap());
    }
    assert_eq!(voice.counts(), [3; 10]);
    c.bench_function("enroll: VoiceMatcher::build, 30 takes", |b| {
        b.iter(|| black_box(VoiceMatcher::build(&model, black_box(&voice)).unwrap()))
    });
    let matcher = VoiceMatcher::build(&model, &voice).unwrap();
    let word = read_wav(fsdd_dir().join("7_jackson_30.wav")).unwrap().samples;
    let mut mfcc = MfccExtractor::new();
    let mut window = vec![0.0f32; fsdd_core::signal::mfcc::FEATURE_LEN];
    c.bench_function("decision with a voice (30 takes): MFCC + forward pass + DTW fusion", |b| {
        b.iter(|| {
            mfcc.compute_into(black_box(&word), &mut window);
            let inference = model.infer(&window).unwrap();
            black_box(matcher.score(
                &inference.probs,
                &inference.embedding,
                &window,
                word.len(),
                ScoringMode::Voice,
                0.5,
            ))
        })
    });
    mfcc.compute_into(&word, &mut window);
    c.bench_function("voice fusion only (30 templates)", |b| {
        let probs = model.infer(&window).unwrap();
        b.iter(|| {
            black_box(matcher.score(
                &probs.probs,
                &probs.embedding,
                black_box(&window),
                word.len(),
                ScoringMode::Voice,
                0.5,
            ))
        })
    });
}

criterion_group!(benches, decision, push, worker, voice);
criterion_main!(benches);
