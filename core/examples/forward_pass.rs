//! Times tract's forward pass on one 64x64 MFCC window, and optionally where it goes node by
//! node. The tract half of `cargo xtask bench-ort`, which runs onnxruntime on the same file and
//! the same input and prints both medians side by side.
//!
//! `cargo run -p fsdd-core --release --example forward_pass -- [MODEL.onnx] [--runs N]
//! [--input FILE] [--save-input FILE] [--save-output FILE] [--profile] [--without-rewrites]
//! [--decision]`
//!
//! - `MODEL.onnx`: default `models/fsdd.onnx` (the file, not the copy embedded at build time).
//! - The input is the MFCC window of the FSDD test utterances the core bench uses (the first
//!   ones, back to back, at least 0.6 s; FSDD from `$FSDD_DIR`, else `../shared/fsdd/recordings`
//!   beside the workspace), or `--input FILE`: 4096 little-endian f32
//!   (`[coefficient * 64 + frame]`), as `--save-input` writes it.
//! - `--save-output FILE`: probabilities then embedding, little-endian f32, to compare runtimes.
//! - `--profile`: median time per node of the optimised plan, in execution order.
//! - `--without-rewrites`: the plan tract lowers on its own, without `fsdd_core::inference::plan_rewrites`.
//! - `--decision`: also the median of the bench audio's 64x64 MFCC alone and of one whole
//!   decision (that MFCC, then the forward pass), printed as `mfcc_median_us=` and
//!   `decision_median_us=` (needs FSDD).
//!
//! Prints `median_us=X` (median of `Model::infer` over `--runs`, default 3000, after 300 warm-up
//! runs).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use fsdd_core::Model;
use fsdd_core::signal::audio::read_wav;
use fsdd_core::signal::mfcc::{FEATURE_LEN, MfccExtractor, WINDOW_SAMPLES};
use fsdd_eval::corpus::{FSDD_DIR_ENV, Fsdd, Split};

struct Args {
    model: PathBuf,
    runs: usize,
    input: Option<PathBuf>,
    save_input: Option<PathBuf>,
    save_output: Option<PathBuf>,
    profile: bool,
    without_rewrites: bool,
    decision: bool,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        model: PathBuf::from("models/fsdd.onnx"),
        runs: 3000,
        input: None,
        save_input: None,
        save_output: None,
        profile: false,
        without_rewrites: false,
        decision: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = |name: &str| it.next().ok_or(format!("{name} needs a value"));
        match arg.as_str() {
            "--runs" => args.runs = value("--runs")?.parse().map_err(|e| format!("--runs: {e}"))?,
            "--input" => args.input = Some(value("--input")?.into()),
            "--save-input" => args.save_input = Some(value("--save-input")?.into()),
            "--save-output" => args.save_output = Some(value("--save-output")?.into()),
            "--profile" => args.profile = true,
            "--without-rewrites" => args.without_rewrites = true,
            "--decision" => args.decision = true,
            other if !other.starts_with("--") => args.model = other.into(),
            other => return Err(format!("unknown option {other}")),
        }
    }
    Ok(args)
}

/// The core bench's decision input: FSDD test utterances back to back until at least 0.6 s
/// (the audio, up to one window). FSDD from `$FSDD_DIR`, else `../shared/fsdd/recordings`
/// beside the workspace, as the bench.
fn bench_audio() -> Result<Vec<f32>, String> {
    let dir = match std::env::var_os(FSDD_DIR_ENV) {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/fsdd/recordings"),
    };
    let fsdd = Fsdd::open(&dir).map_err(|e| format!("FSDD for the input window (or pass --input): {e}"))?;
    let mut audio = Vec::new();
    for u in fsdd.split(Split::Test) {
        audio.extend(read_wav(&u.path).map_err(|e| format!("{}: {e}", u.path.display()))?.samples);
        if audio.len() >= 4800 {
            break;
        }
    }
    audio.truncate(WINDOW_SAMPLES);
    Ok(audio)
}

fn bench_window() -> Result<Vec<f32>, String> {
    let mut window = vec![0.0f32; FEATURE_LEN];
    MfccExtractor::new().compute_into(&bench_audio()?, &mut window);
    Ok(window)
}

/// Median over `runs` calls of `f`, after 300 warm-up calls.
fn median_of_calls(runs: usize, mut f: impl FnMut() -> Result<(), String>) -> Result<Duration, String> {
    for _ in 0..300 {
        f()?;
    }
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs {
        let start = Instant::now();
        f()?;
        times.push(start.elapsed());
    }
    Ok(median(times))
}

fn read_f32s(path: &Path) -> Result<Vec<f32>, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(bytes.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect())
}

fn write_f32s(path: &Path, values: &[f32]) -> Result<(), String> {
    let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
    std::fs::write(path, bytes).map_err(|e| format!("{}: {e}", path.display()))
}

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort_unstable();
    times[times.len() / 2]
}

fn run() -> Result<(), String> {
    let args = parse_args()?;
    let bytes = std::fs::read(&args.model).map_err(|e| format!("{}: {e}", args.model.display()))?;
    let model =
        if args.without_rewrites { Model::from_bytes_without_rewrites(&bytes) } else { Model::from_bytes(&bytes) }
            .map_err(|e| format!("{}: {e}", args.model.display()))?;
    let window = match &args.input {
        Some(path) => read_f32s(path)?,
        None => bench_window()?,
    };
    if window.len() != FEATURE_LEN {
        return Err(format!("input holds {} values, expected {FEATURE_LEN}", window.len()));
    }
    if let Some(path) = &args.save_input {
        write_f32s(path, &window)?;
    }
    let first = model.infer(&window).map_err(|e| e.to_string())?;
    if let Some(path) = &args.save_output {
        write_f32s(path, &[&first.probs[..], &first.embedding[..]].concat())?;
    }
    if args.profile {
        let nodes = model.profile(&window, args.runs.max(100)).map_err(|e| e.to_string())?;
        let total: Duration = nodes.iter().map(|n| n.median).sum();
        println!("{:>9} {:>6}  node (op)", "median", "share");
        for n in &nodes {
            let share = 100.0 * n.median.as_secs_f64() / total.as_secs_f64();
            println!("{:>7.2}us {:>5.1}%  {} ({})", n.median.as_secs_f64() * 1e6, share, n.name, n.op);
        }
        println!("{:>7.2}us  sum of node medians", total.as_secs_f64() * 1e6);
    }
    if args.runs > 0 {
        let forward = median_of_calls(args.runs, || {
            std::hint::black_box(model.infer(std::hint::black_box(&window)).map_err(|e| e.to_string())?);
            Ok(())
        })?;
        if args.decision {
            // The core bench's decision: the bench audio's 64x64 MFCC, then the forward pass.
            let audio = bench_audio()?;
            let mut extractor = MfccExtractor::new();
            let mut features = vec![0.0f32; FEATURE_LEN];
            let mfcc = median_of_calls(args.runs, || {
                extractor.compute_into(std::hint::black_box(&audio), &mut features);
                Ok(())
            })?;
            let decision = median_of_calls(args.runs, || {
                extractor.compute_into(std::hint::black_box(&audio), &mut features);
                std::hint::black_box(model.infer(&features).map_err(|e| e.to_string())?);
                Ok(())
            })?;
            println!("mfcc_median_us={:.2}", mfcc.as_secs_f64() * 1e6);
            println!("decision_median_us={:.2}", decision.as_secs_f64() * 1e6);
        }
        println!("median_us={:.2}", forward.as_secs_f64() * 1e6);
    }
    Ok(())
}

fn main() {
    if let Err(e) = run() {
        eprintln!("forward_pass: {e}");
        std::process::exit(1);
    }
}
