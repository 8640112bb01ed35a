//! Debian packages the builds and tests need, installed with apt-get when we are root and
//! otherwise named in an exact command for the user to run.

use std::process::{Command, Stdio};

use anyhow::{Context, Result, bail};

/// What needs each package:
/// - libasound2-dev, pkg-config: cpal (the dashboard's audio input) links ALSA.
/// - tmux: the dashboard's end-to-end test drives the real binary in a terminal.
/// - alsa-utils: `arecord` checks the file-backed capture device in the ALSA test.
/// - python3-pip: downloads the PyPI wheels the CPU libtorch is cut from.
pub const REQUIRED: &[&str] = &["libasound2-dev", "pkg-config", "tmux", "alsa-utils", "python3-pip"];

/// What the dashboard alone needs to build (cpal links ALSA).
pub const RUNTIME: &[&str] = &["libasound2-dev", "pkg-config"];

/// The synthetic-speaker generator (`cargo xtask synth`): three synthesisers and sox.
pub const SYNTH: &[&str] = &["espeak-ng", "sox", "flite", "festival", "festvox-kdlpc16k", "festvox-us-slt-hts"];

fn installed(package: &str) -> bool {
    Command::new("dpkg-query")
        .args(["-W", "-f=${Status}", package])
        .stderr(Stdio::null())
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).contains("install ok installed"))
        .unwrap_or(false)
}

/// True when python3 can already run pip (e.g. a pyenv or venv python), so the Debian
/// package is not needed.
fn pip_available() -> bool {
    Command::new("python3")
        .args(["-m", "pip", "--version"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

fn is_root() -> bool {
    Command::new("id").arg("-u").output().map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0").unwrap_or(false)
}

pub fn ensure_packages(packages: &[&str]) -> Result<()> {
    let missing: Vec<&str> = packages
        .iter()
        .copied()
        .filter(|p| !installed(p))
        .filter(|p| !(*p == "python3-pip" && pip_available()))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    let command = format!("apt-get update && apt-get install -y {}", missing.join(" "));
    if !is_root() {
        bail!("missing Debian packages: {}. Install them with:\n    sudo sh -c '{command}'", missing.join(" "));
    }
    println!("xtask: installing {}", missing.join(" "));
    for args in
        [vec!["update", "-qq"], [vec!["install", "-y", "-qq", "--no-install-recommends"], missing.clone()].concat()]
    {
        let status = Command::new("apt-get")
            .args(&args)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .status()
            .context("running apt-get")?;
        if !status.success() {
            bail!("`apt-get {}` failed ({status}); run `{command}` by hand", args.join(" "));
        }
    }
    Ok(())
}
