//! `cargo xtask run | setup | test | bundle | synth | bench-ort | bench-stream | bench-enroll`: the
//! project's own build steps, so a fresh machine needs nothing but cargo and the two README commands.

mod apt;
mod bundle;
mod libtorch;
mod ort;

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

const USAGE: &str = "usage: cargo xtask <command>

commands:
  run [-- args]         build and start the dashboard `fsdd-tui` (release) with the shipped model
  setup                 install what builds need (apt packages, CPU libtorch for the trainer)
  test                  setup, `cargo fmt --check`, clippy with warnings as errors, then
                        build and run every test of the workspace
  bundle <pkg> [args]   bundle a plugin as CLAP + VST3 (e.g. `bundle fsdd-plugin --release`)
  synth                 write the synthetic training speakers to target/synth-speakers
                        (espeak-ng, flite, festival; the shipped model's --extra-fit)
  bench-stream [args]   the streaming benchmark: FSDD test takes and held-out Speech Commands
                        digits at 48 kHz, quiet and in held-out recorded noise at 20/10/0 dB
                        SNR, spaced and fast; then noise alone (core/eval/examples/stream_bench.rs;
                        data from $FSDD_DIR / $SPEECH_COMMANDS_DIR, else ../shared);
                        --per-noise: one row per held-out noise recording instead;
                        --dev: the development set (FSDD validation takes, training noise)
  bench-enroll [--folds DIR]
                        the enrollment benchmark: each FSDD speaker with its leave-one-speaker-out
                        fold model, K = 1, 3, 5 takes per digit enrolled: base, the earlier
                        prototypes (hybrid), DTW templates and the shipped voice fusion, per
                        speaker and mean, and the held-out Speech Commands words still rejected
                        (fold models from `trainer loso`, default models/loso, the folds shipped
                        in the repository)
  bench-ort [MODEL.onnx] [--runs N] [--rounds R]
                        tract vs onnxruntime (PyPI, one thread) on the same model and input:
                        both medians and their ratio (default models/fsdd.onnx)";

fn main() {
    if let Err(e) = run() {
        eprintln!("xtask: error: {e:#}");
        std::process::exit(1);
    }
}

fn run() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let command = args.next();
    let rest: Vec<String> = args.collect();
    let root = workspace_root();
    match command.as_deref() {
        Some("run") => run_dashboard(&root, &rest),
        Some("setup") => setup(&root),
        Some("test") => test(&root, &rest),
        Some("bundle") => bundle::run(rest),
        Some("synth") => synth(&root),
        Some("bench-ort") => ort::run(&root, &rest),
        Some("bench-stream") => bench_stream(&root, &rest),
        Some("bench-enroll") => bench_enroll(&root, &rest),
        Some("-h" | "--help" | "help") => {
            println!("{USAGE}");
            Ok(())
        }
        Some(other) => bail!("unknown command `{other}`\n\n{USAGE}"),
        None => bail!("no command given\n\n{USAGE}"),
    }
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("xtask lives in the workspace root").to_owned()
}

/// Idempotent: fast when everything is already there.
fn setup(root: &Path) -> Result<()> {
    apt::ensure_packages(apt::REQUIRED)?;
    let libtorch = libtorch::ensure(root).context("preparing the CPU libtorch for the trainer")?;
    println!("xtask: setup done (libtorch at {})", libtorch.display());
    Ok(())
}

/// The main job: the live dashboard. Needs only the audio packages, not libtorch.
fn run_dashboard(root: &Path, extra: &[String]) -> Result<()> {
    apt::ensure_packages(apt::RUNTIME)?;
    let mut args = vec!["run", "--release", "--quiet", "--package", "fsdd-tui", "--"];
    args.extend(extra.iter().map(String::as_str).filter(|a| *a != "--"));
    cargo(root, &args)
}

/// Every test of the workspace, the trainer's included. Extra arguments go to `cargo test`
/// (e.g. `cargo xtask test -- --nocapture`).
fn test(root: &Path, extra: &[String]) -> Result<()> {
    setup(root)?;
    lint(root)?;
    // The plugin-hosting tests load the built plugin library, which `cargo test` does not
    // rebuild on its own; build it first with the same (dev) profile the tests use.
    cargo(root, &["build", "--package", "fsdd-plugin", "--lib"])?;
    // --all-targets also runs each criterion bench once in test mode, so benches cannot rot.
    let mut args = vec!["test", "--workspace", "--all-targets"];
    args.extend(extra.iter().map(String::as_str));
    cargo(root, &args)
}

/// Format and lints first: they take seconds to a few minutes and fail a run before the long
/// test build. Clippy checks every target (tests, benches, examples, the trainer) and any
/// warning fails; `rustfmt.toml` holds the one format.
fn lint(root: &Path) -> Result<()> {
    cargo(root, &["fmt", "--all", "--check"])?;
    cargo(root, &["clippy", "--workspace", "--all-targets", "--", "-D", "warnings"])
}

/// The streaming benchmark (release build), on the data the tests use.
fn bench_stream(root: &Path, extra: &[String]) -> Result<()> {
    let dir = |var: &str, default: &str| std::env::var(var).unwrap_or_else(|_| default.to_string());
    let fsdd = dir("FSDD_DIR", "../shared/fsdd/recordings");
    let sc = dir("SPEECH_COMMANDS_DIR", "../shared/speech-commands");
    let mut args = vec!["run", "--release", "--quiet", "-p", "fsdd-eval", "--example", "stream_bench", "--"];
    // `--dev` scores the FSDD validation takes under the training noise, so rules are chosen
    // on data the reported (held-out) numbers never see.
    let noise = if extra.iter().any(|a| a == "--dev") { "tests/noise/train" } else { "tests/noise/heldout" };
    args.extend(["--fsdd", &fsdd, "--speech-commands", &sc, "--noise", noise]);
    args.extend(extra.iter().map(String::as_str));
    cargo(root, &args)
}

/// The enrollment benchmark (release build) on the trainer's LOSO fold models.
fn bench_enroll(root: &Path, extra: &[String]) -> Result<()> {
    let dir = |var: &str, default: &str| std::env::var(var).unwrap_or_else(|_| default.to_string());
    let fsdd = dir("FSDD_DIR", "../shared/fsdd/recordings");
    let sc = dir("SPEECH_COMMANDS_DIR", "../shared/speech-commands");
    let mut args = vec!["run", "--release", "--quiet", "-p", "fsdd-eval", "--example", "enroll_bench", "--"];
    args.extend(["--fsdd", &fsdd, "--speech-commands", &sc]);
    if !extra.iter().any(|a| a == "--folds") {
        args.extend(["--folds", "models/loso"]);
    }
    args.extend(extra.iter().map(String::as_str));
    cargo(root, &args)
}

/// Where `synth` writes; the shipped model's recipe names this (relative) path.
const SYNTH_DIR: &str = "target/synth-speakers";

/// The synthetic speakers the shipped model is trained with (`trainer --extra-fit`). The
/// generator is deterministic, so this recreates the exact files.
fn synth(root: &Path) -> Result<()> {
    apt::ensure_packages(apt::SYNTH)?;
    let out = root.join(SYNTH_DIR);
    if out.exists() {
        std::fs::remove_dir_all(&out).with_context(|| format!("clearing {}", out.display()))?;
    }
    let status = Command::new("python3")
        .arg(root.join("trainer/tools/synth_speakers.py"))
        .arg(&out)
        .arg("--recorded-voices")
        .status()
        .context("running python3 trainer/tools/synth_speakers.py")?;
    if !status.success() {
        bail!("synth_speakers.py failed ({status})");
    }
    println!("xtask: synthetic speakers in {SYNTH_DIR}");
    Ok(())
}

fn cargo(root: &Path, args: &[&str]) -> Result<()> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    println!("xtask: cargo {}", args.join(" "));
    let status = Command::new(&cargo)
        .args(args)
        .current_dir(root)
        .status()
        .with_context(|| format!("running cargo {}", args.join(" ")))?;
    if !status.success() {
        bail!("`cargo {}` failed ({status})", args.join(" "));
    }
    Ok(())
}
