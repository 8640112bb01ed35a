//! The streaming benchmark (`cargo xtask bench-stream`): digits as users say them, at 48 kHz,
//! through the same resampler and recogniser the front ends run.
//!
//! Voices: FSDD test takes (0-4, never trained on) and the Speech Commands digits of its
//! validation speakers (never fit by the shipped model). Conditions: quiet, and held-out
//! recorded noise at 20 / 10 / 0 dB SNR; pauses of 0.3-1.5 s and of 50-200 ms. Then minutes of
//! held-out noise alone. Per condition: digit accuracy, missed words, extra notes, median and
//! p95 decision time relative to the end of each word, and the CPU share of one core the
//! resampler + recogniser needed (what the engine's worker does).
//!
//! `cargo run --release -p fsdd-eval --example stream_bench -- --fsdd DIR --speech-commands DIR
//! --noise DIR [--model FILE.onnx] [--noise-minutes 10] [--seed N] [--threshold P]
//! [--min-confidence P] [--sensitivity DB] [--noise-only] [--per-noise]` (threshold,
//! min-confidence, sensitivity and noise-only study the rules: early-exit threshold, final
//! minimum confidence, VAD onset sensitivity). `--per-noise` (`cargo xtask bench-stream
//! --per-noise`) scores the FSDD test takes under each noise recording on its own, and each
//! recording alone, to show which kinds of room the pooled numbers lose in.
//!
//! `--scan ...` studies model-driven detection ([`ScanRule`]); `--alone-snr DB` sets the SNR of
//! `--per-noise`'s model-alone column.
//!
//! `--dev` (`cargo xtask bench-stream --dev`) is the development set for choosing rules: the
//! FSDD validation takes (5-9) under the training noise, no Speech Commands voices.
//!
//! For studying the segmentation: `ONLY=10-spaced` (or `quiet-fast`, ...) runs one condition,
//! `SHOW_MISSES=1` lists every missed or wrong word with the detections near it, and
//! `SHOW_NOISE_NOTES=1` lists the notes made on noise alone.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use fsdd_core::signal::audio::read_wav;
use fsdd_core::signal::mfcc::{MfccExtractor, WINDOW_SAMPLES};
use fsdd_core::signal::resample::resample_to_8k;
use fsdd_core::signal::vad::{VadConfig, first_speech_span};
use fsdd_core::{Detection, Model, RecognizerConfig};
use fsdd_eval::corpus::{Fsdd, SpeakerGroup, Split, speaker_group};
use fsdd_eval::streams::{Layout, MixedStream, Played, StreamRng, compose, noise_only, play, rms_db, score};

const RATE: u32 = 48_000;

/// Labelled words: (digit, 8 kHz samples).
type Words = Vec<(u8, Vec<f32>)>;

struct Args {
    fsdd: PathBuf,
    speech_commands: Option<PathBuf>,
    noise: PathBuf,
    model: Option<PathBuf>,
    noise_minutes: f32,
    seed: u64,
    /// Early-exit threshold and final-decision minimum confidence (default: the recogniser's).
    threshold: Option<f32>,
    min_confidence: Option<f32>,
    /// VAD onset sensitivity, dB over the noise floor (default: the recogniser's).
    sensitivity: Option<f32>,
    /// Only the noise-alone rows.
    noise_only: bool,
    /// One row per noise recording instead of the pooled tables.
    per_noise: bool,
    /// The development set: FSDD validation takes (5-9) instead of the test takes, and no
    /// Speech Commands voices; run with the training noise (`cargo xtask bench-stream --dev`
    /// passes tests/noise/train) so a rule can be chosen without looking at the held-out
    /// numbers.
    dev: bool,
    /// SNR of the per-noise table's model-alone column, dB (10 by default).
    alone_snr: f32,
    /// A study of model-driven detection with the shipped model (see [`ScanRule`]).
    scan: Option<ScanRule>,
}

fn parse_args() -> Result<Args, String> {
    let mut args = std::env::args().skip(1);
    let (mut fsdd, mut sc, mut noise, mut model, mut minutes, mut seed) = (None, None, None, None, 10.0, 11);
    let (mut threshold, mut min_confidence, mut only_noise, mut sensitivity) = (None, None, false, None);
    let (mut per_noise, mut dev, mut alone_snr, mut scan) = (false, false, 10.0, None);
    while let Some(a) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("{a} needs a value"));
        match a.as_str() {
            "--fsdd" => fsdd = Some(PathBuf::from(value()?)),
            "--speech-commands" => sc = Some(PathBuf::from(value()?)),
            "--noise" => noise = Some(PathBuf::from(value()?)),
            "--model" => model = Some(PathBuf::from(value()?)),
            "--noise-minutes" => minutes = value()?.parse().map_err(|e| format!("--noise-minutes: {e}"))?,
            "--seed" => seed = value()?.parse().map_err(|e| format!("--seed: {e}"))?,
            "--threshold" => threshold = Some(value()?.parse().map_err(|e| format!("--threshold: {e}"))?),
            "--min-confidence" => {
                min_confidence = Some(value()?.parse().map_err(|e| format!("--min-confidence: {e}"))?)
            }
            "--noise-only" => only_noise = true,
            "--per-noise" => per_noise = true,
            "--dev" => dev = true,
            "--alone-snr" => alone_snr = value()?.parse().map_err(|e| format!("--alone-snr: {e}"))?,
            "--scan" => scan = Some(ScanRule::parse(&value()?)?),
            "--sensitivity" => sensitivity = Some(value()?.parse().map_err(|e| format!("--sensitivity: {e}"))?),
            other => return Err(format!("unknown argument {other}")),
        }
    }
    Ok(Args {
        fsdd: fsdd.ok_or("--fsdd DIR is required")?,
        speech_commands: sc,
        noise: noise.ok_or("--noise DIR (held-out noise) is required")?,
        model,
        noise_minutes: minutes,
        seed,
        threshold,
        min_confidence,
        sensitivity,
        noise_only: only_noise,
        per_noise,
        dev,
        alone_snr,
        scan,
    })
}

/// A word's samples cut to its speech (the VAD's first span), 8 kHz.
fn cut(samples: Vec<f32>) -> Vec<f32> {
    match first_speech_span(&samples, VadConfig::default()) {
        Some((a, b)) => samples[a..b].to_vec(),
        None => samples,
    }
}

fn load_8k(path: &Path) -> Vec<f32> {
    let clip = read_wav(path).unwrap_or_else(|e| panic!("{e}"));
    resample_to_8k(&clip.samples, clip.sample_rate).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Held-out Speech Commands digits: the validation speakers' (the shipped model never fit them).
fn speech_commands_digits(dir: &Path) -> Vec<(u8, Vec<f32>)> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir.join("digits"))
        .unwrap_or_else(|e| panic!("{}: {e}", dir.join("digits").display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    paths.sort();
    paths
        .iter()
        .filter_map(|p| {
            let stem = p.file_stem()?.to_str()?;
            let mut parts = stem.split('_');
            let digit: u8 = parts.next()?.parse().ok()?;
            let speaker = parts.next()?;
            (speaker_group(speaker) == SpeakerGroup::Validation).then(|| (digit, cut(load_8k(p))))
        })
        .collect()
}

/// Held-out Speech Commands words that are not digits (validation speakers), every `every`-th.
fn speech_commands_words(dir: &Path, every: usize) -> Vec<(u8, Vec<f32>)> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir.join("words"))
        .unwrap_or_else(|e| panic!("{}: {e}", dir.join("words").display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    paths.sort();
    paths
        .iter()
        .filter(|p| {
            let stem = p.file_stem().and_then(|s| s.to_str()).unwrap_or("");
            stem.split('_').nth(1).is_some_and(|speaker| speaker_group(speaker) == SpeakerGroup::Validation)
        })
        .step_by(every.max(1))
        .map(|p| (fsdd_core::inference::model::NOT_A_DIGIT as u8, cut(load_8k(p))))
        .collect()
}

fn run(model: &Arc<Model>, stream: &MixedStream, args: &Args) -> Played {
    let mut config = RecognizerConfig { saliency: false, ..Default::default() };
    if let Some(t) = args.threshold {
        config.early_exit.threshold = t;
    }
    if let Some(c) = args.min_confidence {
        config.early_exit.min_confidence = c;
    }
    if let Some(s) = args.sensitivity {
        config.vad.sensitivity_db = s;
    }
    play(model, &stream.samples, RATE, config).expect("resampling")
}

/// Each missed or wrong word with the detections near it (for studying the segmentation).
fn show_misses(stream: &MixedStream, detections: &[Detection]) {
    let near = |w: &fsdd_eval::streams::PlacedWord| {
        detections
            .iter()
            .filter(|d| d.onset < w.end as u64 + 4000 && d.end.unwrap_or(d.decision) + 4000 > w.start as u64)
            .map(|d| {
                format!(
                    "{:?}/{:?} {:.2} [{:.2}-{:.2}]",
                    d.digit,
                    d.kind,
                    d.confidence,
                    d.onset as f32 / 8000.0,
                    d.end.unwrap_or(d.decision) as f32 / 8000.0
                )
            })
            .collect::<Vec<_>>()
    };
    for d in detections.iter().filter(|d| fsdd_eval::streams::makes_note(d)) {
        let (from, to) = (d.onset, d.end.unwrap_or(d.decision));
        let words: Vec<_> = stream.words.iter().filter(|w| (w.start as u64) < to && w.end as u64 > from).collect();
        if words.is_empty() {
            println!(
                "   note outside words: {:?}/{:?} {:.2} [{:.2}-{:.2}]",
                d.digit,
                d.kind,
                d.confidence,
                from as f32 / 8000.0,
                to as f32 / 8000.0
            );
        }
    }
    for (i, w) in stream.words.iter().enumerate() {
        let answered = detections.iter().any(|d| {
            fsdd_eval::streams::makes_note(d)
                && d.digit == Some(w.label)
                && d.onset < w.end as u64
                && d.end.unwrap_or(d.decision) > w.start as u64
        });
        let notes: Vec<_> = detections
            .iter()
            .filter(|d| {
                fsdd_eval::streams::makes_note(d)
                    && d.onset < w.end as u64
                    && d.end.unwrap_or(d.decision) > w.start as u64
            })
            .collect();
        if notes.len() > 1 {
            println!(
                "   word {i} '{}' [{:.2}-{:.2}] has {} notes: {:?}",
                w.label,
                w.start as f32 / 8000.0,
                w.end as f32 / 8000.0,
                notes.len(),
                near(w)
            );
        }
        if !answered {
            println!(
                "   word {i} '{}' [{:.2}-{:.2}]: {:?}",
                w.label,
                w.start as f32 / 8000.0,
                w.end as f32 / 8000.0,
                near(w)
            );
        }
    }
}

/// `words` in a shuffled order (the same for a seed), so digits are not in file order.
fn shuffled(words: &[(u8, Vec<f32>)], seed: u64) -> Vec<(u8, &[f32])> {
    let mut rng = StreamRng::new(seed);
    let mut order: Vec<usize> = (0..words.len()).collect();
    for i in (1..order.len()).rev() {
        order.swap(i, rng.range(0..=i));
    }
    order.iter().map(|&i| (words[i].0, words[i].1.as_slice())).collect()
}

/// The FSDD test takes (validation takes with `--dev`) under each noise recording on its own
/// (spaced at 20 / 10 / 0 dB SNR, fast at 10 dB), each recording alone at the level it has
/// under words at 10 dB SNR, looped for `--noise-minutes`, and the model alone on words cut as
/// in quiet at `--alone-snr` (10 dB).
fn per_noise(model: &Arc<Model>, args: &Args, words: &[(u8, Vec<f32>)]) {
    let paths = fsdd_eval::streams::noise_files(&args.noise).unwrap_or_else(|e| panic!("{e}"));
    let refs = shuffled(words, args.seed);
    println!(
        "\n{} takes ({} words) under each recording; cells: digit accuracy (wrong / missed / extra notes)\n",
        if args.dev { "FSDD validation" } else { "FSDD test" },
        refs.len()
    );
    println!(
        "| noise | 20 dB SNR | 10 dB SNR | 0 dB SNR | 10 dB SNR, 50-200 ms pauses | alone: notes per 10 min | {:.0} dB, each word cut as in quiet (the model alone) |",
        args.alone_snr
    );
    println!("|---|---|---|---|---|---|---|");
    for path in &paths {
        let noise = fsdd_eval::streams::load_noise(path).unwrap_or_else(|e| panic!("{e}"));
        let mut cells = Vec::new();
        for (snr, fast) in [(20.0, false), (10.0, false), (0.0, false), (10.0, true)] {
            let layout = if fast { Layout::fast(Some(snr), args.seed) } else { Layout::spaced(Some(snr), args.seed) };
            let stream = compose(&refs, &noise, &layout).unwrap_or_else(|e| panic!("{e}"));
            let s = score(&stream.words, &run(model, &stream, args).detections);
            cells.push(format!("{:.1}% ({} / {} / {})", 100.0 * s.accuracy(), s.wrong, s.missed, s.extra));
        }
        let level = fsdd_eval::streams::WORD_LEVEL_DB - 10.0;
        let alone = noise_only(&noise, args.noise_minutes * 60.0, level, args.seed).unwrap_or_else(|e| panic!("{e}"));
        let notes = run(model, &alone, args).detections.iter().filter(|d| fsdd_eval::streams::makes_note(d)).count();
        println!(
            "| {} | {} | {:.1} | {:.1}% |",
            path.file_stem().and_then(|s| s.to_str()).unwrap_or("?"),
            cells.join(" | "),
            notes as f32 * 10.0 / args.noise_minutes,
            100.0 * clean_cut_accuracy(model, words, &noise, args.alone_snr, args.seed)
        );
    }
}

/// The model alone, without the streaming segmentation: each word cut where the VAD cuts it
/// in quiet (as the trainer cuts its clips), `noise` mixed under that window at `snr_db`, and
/// the model's top output taken. The gap to the streamed accuracy is what segmenting in noise
/// costs.
fn clean_cut_accuracy(model: &Model, words: &[(u8, Vec<f32>)], noise: &[f32], snr_db: f32, seed: u64) -> f64 {
    let mut rng = StreamRng::new(seed);
    let mut mfcc = MfccExtractor::new();
    let mut right = 0;
    for (digit, word) in words {
        let (a, b) = first_speech_span(word, VadConfig::default()).unwrap_or((0, word.len()));
        let cut = &word[a..b.min(a + WINDOW_SAMPLES)];
        let start = rng.range(0..=noise.len() - 1);
        let stretch: Vec<f32> = noise.iter().cycle().skip(start).take(cut.len()).copied().collect();
        let gain = 10f32.powf((rms_db(cut) - snr_db - rms_db(&stretch)) / 20.0);
        let mixed: Vec<f32> = cut.iter().zip(&stretch).map(|(s, n)| s + gain * n).collect();
        let inference = model.infer(&mfcc.compute(&mixed)[..]).unwrap_or_else(|e| panic!("{e}"));
        right += (fsdd_core::streaming::early_exit::top(&inference.probs).0 == *digit) as usize;
    }
    right as f64 / words.len().max(1) as f64
}

fn main() {
    let args = parse_args().unwrap_or_else(|e| {
        eprintln!("stream_bench: {e}");
        std::process::exit(2);
    });
    let model = Arc::new(match &args.model {
        Some(p) => Model::from_path(p).unwrap_or_else(|e| panic!("{e}")),
        None => Model::embedded().expect("embedded model"),
    });
    let noise = fsdd_eval::streams::load_noise_dir(&args.noise).unwrap_or_else(|e| panic!("{e}"));
    println!(
        "{} noise: {} ({:.0} s at 8 kHz)",
        if args.dev { "development (training)" } else { "held-out" },
        args.noise.display(),
        noise.len() as f64 / 8000.0
    );

    let fsdd = Fsdd::open(&args.fsdd).unwrap_or_else(|e| panic!("{e}"));
    let takes: Vec<&fsdd_eval::corpus::Utterance> =
        if args.dev { fsdd.validation_takes() } else { fsdd.split(Split::Test) };
    let fsdd_words: Vec<(u8, Vec<f32>)> = takes.iter().map(|u| (u.digit, load_8k(&u.path))).collect();
    if args.per_noise {
        per_noise(&model, &args, &fsdd_words);
        return;
    }
    let name = if args.dev { "FSDD validation (dev)" } else { "FSDD test" };
    let mut sources: Vec<(&str, Words)> = vec![(name, fsdd_words)];
    if let Some(sc) = args.speech_commands.as_ref().filter(|_| !args.dev) {
        sources.push(("SC held-out", speech_commands_digits(sc)));
    }

    println!(
        "\n| voices | noise | pauses | words | digit accuracy | missed (heard but rejected/unsure) | wrong | extra notes | decision vs word end (median / p95) | CPU (1 core) |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|");
    for (name, words) in &sources {
        let refs = shuffled(words, args.seed);
        for fast in [false, true].into_iter().filter(|_| !args.noise_only) {
            for snr in [None, Some(20.0), Some(10.0), Some(0.0)] {
                let tag = format!(
                    "{}-{}",
                    snr.map_or("quiet".to_string(), |s| format!("{s:.0}")),
                    if fast { "fast" } else { "spaced" }
                );
                if std::env::var("ONLY").is_ok_and(|o| o != tag) {
                    continue;
                }
                let layout = if fast { Layout::fast(snr, args.seed) } else { Layout::spaced(snr, args.seed) };
                let stream = compose(&refs, &noise, &layout).unwrap_or_else(|e| panic!("{e}"));
                let r = run(&model, &stream, &args);
                let s = score(&stream.words, &r.detections);
                let timing = s.decision_percentiles().map_or("-".to_string(), |(m, p)| format!("{m:+.0} / {p:+.0} ms"));
                println!(
                    "| {name} | {} | {} | {} | {:.1}% | {} ({}) | {} | {} | {timing} | {:.2}% |",
                    snr.map_or("quiet".to_string(), |s| format!("{s:.0} dB SNR")),
                    if fast { "50-200 ms" } else { "0.3-1.5 s" },
                    s.digits,
                    100.0 * s.accuracy(),
                    s.missed,
                    s.missed_unsure_or_rejected,
                    s.wrong,
                    s.extra,
                    100.0 * r.cpu_share,
                );
                if std::env::var_os("SHOW_MISSES").is_some() {
                    show_misses(&stream, &r.detections);
                }
                if let Some(rule) = &args.scan {
                    print_scan(&stream, &r.detections, &scan(&model, &stream.samples, rule));
                }
            }
        }
    }

    // Talk between digits: FSDD test digits, each followed by a held-out speaker's word that is
    // not a digit ("yes", "left", "forward"...), 0.3-1.5 s apart (not in --dev: those words are
    // held-out speakers').
    if let (Some(sc), false, false) = (&args.speech_commands, args.noise_only, args.dev) {
        let others = speech_commands_words(sc, 4);
        let digits = &sources[0].1;
        let mut mixed: Vec<(u8, &[f32])> = Vec::new();
        for (i, (d, w)) in digits.iter().enumerate().step_by(2) {
            mixed.push((*d, w.as_slice()));
            if let Some((l, o)) = others.get(i / 2) {
                mixed.push((*l, o.as_slice()));
            }
        }
        println!("\n| talk between digits | noise | digits | digit accuracy | other words | of them made a note |");
        println!("|---|---|---|---|---|---|");
        for snr in [None, Some(10.0)] {
            let stream = compose(&mixed, &noise, &Layout::spaced(snr, args.seed)).unwrap_or_else(|e| panic!("{e}"));
            let r = run(&model, &stream, &args);
            let s = score(&stream.words, &r.detections);
            println!(
                "| FSDD digits + held-out SC words | {} | {} | {:.1}% | {} | {} ({:.1}%) |",
                snr.map_or("quiet".to_string(), |s| format!("{s:.0} dB SNR")),
                s.digits,
                100.0 * s.accuracy(),
                s.other_words,
                s.other_words_noted,
                100.0 * s.other_words_noted as f64 / s.other_words.max(1) as f64
            );
            if std::env::var_os("SHOW_MISSES").is_some() {
                show_misses(&stream, &r.detections);
            }
        }
    }

    // Noise alone, at the level it has under the benchmark's words at 10 and 0 dB SNR.
    println!(
        "\n| noise alone | minutes | notes (false detections) | of them early | per 10 min | rejected as not a digit |"
    );
    println!("|---|---|---|---|---|---|");
    for snr in [10.0f32, 0.0] {
        let level = fsdd_eval::streams::WORD_LEVEL_DB - snr;
        let stream = noise_only(&noise, args.noise_minutes * 60.0, level, args.seed).unwrap_or_else(|e| panic!("{e}"));
        let r = run(&model, &stream, &args);
        let notes = r.detections.iter().filter(|d| fsdd_eval::streams::makes_note(d)).count();
        if let Some(rule) = &args.scan {
            println!("|   scan only on noise alone | notes {} |", scan(&model, &stream.samples, rule).len());
        }
        let early = r
            .detections
            .iter()
            .filter(|d| fsdd_eval::streams::makes_note(d) && d.kind == fsdd_core::DetectionKind::Early)
            .count();
        let rejected = r.detections.iter().filter(|d| d.digit.is_none()).count();
        if std::env::var_os("SHOW_NOISE_NOTES").is_some() {
            for d in r.detections.iter().filter(|d| fsdd_eval::streams::makes_note(d)) {
                println!(
                    "   note {:?}/{:?} {:.2} at {:.2}s, {:.0} ms of segment",
                    d.digit,
                    d.kind,
                    d.confidence,
                    d.onset as f32 / 8000.0,
                    (d.end.unwrap_or(d.decision) - d.onset) as f32 / 8.0
                );
            }
        }
        println!(
            "| {level:.0} dBFS (as at {snr:.0} dB SNR) | {:.0} | {notes} | {early} | {:.1} | {rejected} |",
            args.noise_minutes,
            notes as f32 * 10.0 / args.noise_minutes,
        );
    }
}

/// `--scan LOOKBACK,EVERY,THETA,CONSEC,REFRACTORY` (hops, hops, probability, count, hops): a
/// study of model-driven detection (issue #11's "the CNN on every hop") with the shipped
/// model, which was trained on windows that start at a word's onset. Every `every` hops the
/// window from (now - lookback - pre-roll) to now is scored, i.e. each candidate onset once;
/// a digit on top at >= `theta` for `consec` candidates in a row is a note, and no note follows
/// for `refractory` hops of candidate onset. Printed under each condition: the scan alone, and
/// the recogniser's notes plus the scan's where no recogniser note (or no segment at all) is
/// within 200 ms.
struct ScanRule {
    lookback: usize,
    every: usize,
    theta: f32,
    consec: usize,
    refractory: usize,
}

impl ScanRule {
    fn parse(text: &str) -> Result<Self, String> {
        let v: Vec<&str> = text.split(',').collect();
        let bad = || format!("--scan {text}: need LOOKBACK,EVERY,THETA,CONSEC,REFRACTORY");
        let [l, e, t, c, r] = v[..] else { return Err(bad()) };
        let int = |x: &str| x.trim().parse::<usize>().map_err(|_| bad());
        Ok(Self {
            lookback: int(l)?.max(1),
            every: int(e)?.max(1),
            theta: t.trim().parse().map_err(|_| bad())?,
            consec: int(c)?.max(1),
            refractory: int(r)?,
        })
    }
}

/// The `--scan` rows under a condition: the scan alone, then the recogniser's notes plus the
/// scan's where the recogniser made no note (or had no segment at all) within 200 ms.
fn print_scan(stream: &MixedStream, recogniser: &[Detection], scanned: &[Detection]) {
    let near = |a: &Detection, b: &Detection| {
        a.onset < b.end.unwrap_or(b.decision) + 1600 && b.onset < a.end.unwrap_or(a.decision) + 1600
    };
    let row = |name: &str, detections: &[Detection]| {
        let s = score(&stream.words, detections);
        println!(
            "|   {name} | {:.1}% | missed {} | wrong {} | extra {} |",
            100.0 * s.accuracy(),
            s.missed,
            s.wrong,
            s.extra
        );
    };
    row("scan alone", scanned);
    for (name, counts) in [("recogniser + scan where no note", true), ("recogniser + scan where no segment", false)] {
        let mut union = recogniser.to_vec();
        union.extend(
            scanned
                .iter()
                .filter(|d| !recogniser.iter().any(|v| (!counts || fsdd_eval::streams::makes_note(v)) && near(d, v))),
        );
        row(name, &union);
    }
}

/// The notes `rule` makes on an 8 kHz stream (positions in its samples).
fn scan(model: &Model, samples: &[f32], rule: &ScanRule) -> Vec<Detection> {
    use fsdd_core::signal::mfcc::HOP;
    let pre = VadConfig::default().pre_roll_samples();
    let mut mfcc = MfccExtractor::new();
    let mut out = Vec::new();
    // The current run of agreeing candidates: digit, first candidate hop, length, best p.
    let mut run: Option<(u8, usize, usize, f32)> = None;
    let mut blocked_until = 0usize;
    let mut h = rule.lookback;
    while h < samples.len() / HOP {
        let c = h - rule.lookback;
        let from = (c * HOP).saturating_sub(pre);
        let to = (h * HOP).min(from + WINDOW_SAMPLES);
        let inference = model.infer(&mfcc.compute(&samples[from..to])[..]).unwrap_or_else(|e| panic!("{e}"));
        let (d, p) = fsdd_core::streaming::early_exit::top(&inference.probs);
        let hit = (d as usize) < fsdd_core::inference::model::NOT_A_DIGIT && p >= rule.theta && c >= blocked_until;
        run = match (hit, run) {
            (true, Some((rd, first, n, best))) if rd == d => Some((d, first, n + 1, best.max(p))),
            (true, _) => Some((d, c, 1, p)),
            (false, _) => None,
        };
        if let Some((digit, first, n, best)) = run
            && n >= rule.consec
        {
            out.push(Detection {
                digit: Some(digit),
                confidence: best,
                probs: inference.probs,
                kind: fsdd_core::DetectionKind::Final,
                onset: (first * HOP) as u64,
                decision: (h * HOP) as u64,
                end: Some(((first + rule.lookback / 2) * HOP) as u64),
                compute_us: 0,
                saliency: None,
            });
            blocked_until = first + rule.refractory;
            run = None;
        }
        h += rule.every;
    }
    out
}
