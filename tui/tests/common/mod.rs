//! Shared test helpers: where FSDD is, the model, running the binary, synthesising streams.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;

use fsdd_core::Model;

/// FSDD recordings: `$FSDD_DIR`, else `<workspace>/../shared/fsdd/recordings`.
pub fn fsdd_dir() -> PathBuf {
    let dir = std::env::var_os("FSDD_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/fsdd/recordings"));
    assert!(dir.is_dir(), "FSDD recordings not found at {} (set FSDD_DIR)", dir.display());
    dir
}

/// Speech Commands (8 kHz, `digits/` and `words/`): `$SPEECH_COMMANDS_DIR`, else
/// `<workspace>/../shared/speech-commands`.
pub fn speech_commands_dir() -> PathBuf {
    let dir = std::env::var_os("SPEECH_COMMANDS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/speech-commands"));
    assert!(
        dir.join("words").is_dir() && dir.join("digits").is_dir(),
        "Speech Commands (digits/, words/) not found at {} (set SPEECH_COMMANDS_DIR)",
        dir.display()
    );
    dir
}

/// Speech Commands' non-digit words, `{word}_sc{speaker}_{i}.wav`.
pub fn words_dir() -> PathBuf {
    speech_commands_dir().join("words")
}

/// One Speech Commands file, by name (`words/` or `digits/` by its first letter).
pub fn speech_commands_file(name: &str) -> PathBuf {
    let sub = if name.starts_with(|c: char| c.is_ascii_digit()) { "digits" } else { "words" };
    let p = speech_commands_dir().join(sub).join(name);
    assert!(p.is_file(), "{} missing", p.display());
    p
}

pub fn fsdd_file(name: &str) -> PathBuf {
    let p = fsdd_dir().join(name);
    assert!(p.is_file(), "{} missing", p.display());
    p
}

pub fn model() -> Arc<Model> {
    Arc::new(Model::embedded().expect("the embedded model (models/fsdd.onnx) is needed for this test"))
}

pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_fsdd-tui"))
}

/// Runs the binary with `args` (and FSDD_DIR unset, so nothing leaks in from the environment).
pub fn run(args: &[&str]) -> Output {
    Command::new(bin()).args(args).env_remove("FSDD_DIR").output().expect("run fsdd-tui")
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// 8 kHz audio of several FSDD files with `gap_s` of quiet noise between and around them, and
/// where each file starts (samples).
pub fn concatenate(files: &[PathBuf], gap_s: f32) -> (Vec<f32>, Vec<usize>) {
    let gap = (gap_s * 8000.0) as usize;
    let mut out = Vec::new();
    let mut starts = Vec::new();
    let mut seed = 0x1234_5678u32;
    let mut noise = |n: usize, out: &mut Vec<f32>| {
        for _ in 0..n {
            seed ^= seed << 13;
            seed ^= seed >> 17;
            seed ^= seed << 5;
            // ~ -66 dBFS hiss, a quiet room.
            out.push((seed as f32 / u32::MAX as f32 - 0.5) * 0.0017);
        }
    };
    for f in files {
        noise(gap, &mut out);
        let clip = fsdd_core::signal::audio::read_wav(f).expect("read an 8 kHz test file");
        assert_eq!(clip.sample_rate, 8000);
        starts.push(out.len());
        out.extend_from_slice(&clip.samples);
    }
    noise(gap, &mut out);
    (out, starts)
}

/// The text of a rendered buffer, one String per row.
pub fn buffer_lines(buf: &ratatui::buffer::Buffer) -> Vec<String> {
    let area = buf.area;
    (0..area.height)
        .map(|y| (0..area.width).map(|x| buf[(area.x + x, area.y + y)].symbol().to_string()).collect::<String>())
        .collect()
}
