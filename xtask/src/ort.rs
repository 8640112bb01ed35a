//! `cargo xtask bench-ort [MODEL.onnx] [--runs N] [--rounds R]`: tract and onnxruntime (PyPI
//! wheel, one thread) on the same ONNX file and the same [1,1,64,64] input, side by side.
//!
//! Each round also times, in tract's process, the 64x64 MFCC of the core bench's audio and one
//! whole decision (that MFCC, then the forward pass): every figure of issue #14 in one command.
//!
//! tract runs twice per round: as fsdd-core loads a model (its graph rewrites and, on AMD Zen 4,
//! tract's AVX2+FMA kernels) and as tract alone lowers it (`--without-rewrites`, with
//! `TRACT_CPU_ISA=+avx512f`, i.e. tract's own kernel choice), so the gain is measured, not assumed.
//!
//! tract's side is the `forward_pass` example of fsdd-core (`Model::infer`, what the core bench's
//! "forward pass only" times), onnxruntime's is `tools/ort_bench.py` in a venv under
//! `target/ort-venv` (made, and onnxruntime + numpy installed into it, on first use). The two
//! alternate for a few rounds so a busy machine slows both alike; the line printed last is the
//! median of each side's round medians and their ratio.

use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result, bail};

pub fn run(root: &Path, args: &[String]) -> Result<()> {
    let mut model = "models/fsdd.onnx".to_owned();
    let (mut runs, mut rounds) = (3000usize, 3usize);
    let mut it = args.iter().filter(|a| *a != "--");
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--runs" => runs = it.next().context("--runs needs a value")?.parse().context("--runs")?,
            "--rounds" => rounds = it.next().context("--rounds needs a value")?.parse().context("--rounds")?,
            other if !other.starts_with("--") => model = other.to_owned(),
            other => bail!("bench-ort: unknown option {other}"),
        }
    }
    if runs == 0 || rounds == 0 {
        bail!("bench-ort: --runs and --rounds must be at least 1");
    }
    let model = std::fs::canonicalize(&model).with_context(|| format!("model {model}"))?;
    let python = venv_python(root)?;
    crate::cargo(root, &["build", "--release", "--quiet", "--package", "fsdd-core", "--example", "forward_pass"])?;
    let example = root.join("target/release/examples/forward_pass");
    let dir = root.join("target/ort-bench");
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let (input, tract_out) = (dir.join("input.f32"), dir.join("tract-output.f32"));
    let mut first = Command::new(&example);
    first.arg(&model).args(["--runs", "0", "--save-input"]).arg(&input).arg("--save-output").arg(&tract_out);
    output_of(&mut first)?;
    let mut check = Command::new(&python);
    check
        .arg(root.join("tools/ort_bench.py"))
        .arg(&model)
        .arg(&input)
        .args(["--runs", "100", "--compare"])
        .arg(&tract_out);
    let diff = output_of(&mut check)?;
    let diff = diff.lines().find_map(|l| l.strip_prefix("max_abs_diff=")).unwrap_or("?").to_owned();
    println!(
        "xtask: {} on the core bench's input; tract vs onnxruntime outputs differ by at most {diff}",
        model.display()
    );
    println!("xtask: load average before: {}", load_average());
    let (mut tract, mut alone, mut onnx) = (Vec::new(), Vec::new(), Vec::new());
    let (mut mfcc, mut decision) = (Vec::new(), Vec::new());
    for round in 1..=rounds {
        let mut t = Command::new(&example);
        t.arg(&model).args(["--runs", &runs.to_string(), "--decision", "--input"]).arg(&input);
        let out = output_of(&mut t)?;
        tract.push(median_of(&out)?);
        mfcc.push(value_of(&out, "mfcc_median_us=")?);
        decision.push(value_of(&out, "decision_median_us=")?);
        let mut a = Command::new(&example);
        a.arg(&model).args(["--runs", &runs.to_string(), "--without-rewrites", "--input"]).arg(&input);
        // Names only what the CPU has: adding a feature it lacks would fault.
        a.env("TRACT_CPU_ISA", if has_avx512f() { "+avx512f" } else { "" });
        alone.push(median_of(&output_of(&mut a)?)?);
        let mut o = Command::new(&python);
        o.arg(root.join("tools/ort_bench.py")).arg(&model).arg(&input).args(["--runs", &runs.to_string()]);
        onnx.push(median_of(&output_of(&mut o)?)?);
        let r = round - 1;
        println!(
            "xtask: round {round}/{rounds}: tract {:.1} us (tract alone {:.1} us), onnxruntime {:.1} us; MFCC {:.1} us, decision {:.1} us ({runs} runs each)",
            tract[r], alone[r], onnx[r], mfcc[r], decision[r]
        );
    }
    println!("xtask: load average after: {}", load_average());
    let (t, a, o) = (middle(&mut tract), middle(&mut alone), middle(&mut onnx));
    println!(
        "tract {t:.1} us, onnxruntime {o:.1} us, ratio {:.2} (tract's own plan and kernels: {a:.1} us, ratio {:.2})",
        t / o,
        a / o
    );
    println!(
        "MFCC 64x64 {:.1} us, one decision (MFCC + forward pass) {:.1} us",
        middle(&mut mfcc),
        middle(&mut decision)
    );
    Ok(())
}

/// The venv's python, with onnxruntime and numpy importable (installed on first use).
fn venv_python(root: &Path) -> Result<std::path::PathBuf> {
    let venv = root.join("target/ort-venv");
    let python = venv.join("bin/python");
    let ready =
        |p: &Path| Command::new(p).args(["-c", "import onnxruntime, numpy"]).output().is_ok_and(|o| o.status.success());
    if ready(&python) {
        return Ok(python);
    }
    if !python.exists() {
        println!("xtask: creating {}", venv.display());
        let status =
            Command::new("python3").arg("-m").arg("venv").arg(&venv).status().context("running python3 -m venv")?;
        if !status.success() {
            bail!("python3 -m venv {} failed ({status}); Debian/Ubuntu: apt-get install python3-venv", venv.display());
        }
    }
    println!("xtask: pip install onnxruntime numpy (into {})", venv.display());
    let status = Command::new(&python)
        .args(["-m", "pip", "install", "--quiet", "onnxruntime", "numpy"])
        .status()
        .context("running pip")?;
    if !status.success() || !ready(&python) {
        bail!("could not install onnxruntime and numpy into {}", venv.display());
    }
    Ok(python)
}

fn has_avx512f() -> bool {
    #[cfg(target_arch = "x86_64")]
    return std::is_x86_feature_detected!("avx512f");
    #[cfg(not(target_arch = "x86_64"))]
    false
}

fn output_of(command: &mut Command) -> Result<String> {
    let out = command.output().with_context(|| format!("running {command:?}"))?;
    if !out.status.success() {
        bail!("{command:?} failed ({}): {}", out.status, String::from_utf8_lossy(&out.stderr).trim());
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn median_of(output: &str) -> Result<f64> {
    value_of(output, "median_us=")
}

fn value_of(output: &str, key: &str) -> Result<f64> {
    let line = output.lines().find_map(|l| l.strip_prefix(key)).with_context(|| format!("no {key} line"))?;
    line.trim().parse().with_context(|| format!("{key}{line}"))
}

fn middle(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}
