//! `--input`: WAV files played through the engine as if they came from a microphone, in real
//! time (or `--speed` times faster), with silence between them so the VAD separates the words.
//! Everything is read and resampled before the dashboard starts, so a bad file is reported
//! before the terminal is touched.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use fsdd_core::AudioSender;
use fsdd_core::signal::mfcc::SAMPLE_RATE;

use crate::dashboard::app::FileLabels;
use crate::offline::{collect_wavs, label_from_name, read_8k};

/// The files, back to back at 8 kHz.
#[derive(Clone, Debug)]
pub struct Playlist {
    pub samples: Vec<f32>,
    pub rate: u32,
    /// Each file's place in `samples`, label and name.
    pub labels: FileLabels,
}

impl Playlist {
    pub fn load(paths: &[PathBuf], gap_s: f32) -> anyhow::Result<Self> {
        let files = collect_wavs(paths)?;
        let gap = (gap_s.max(0.0) * SAMPLE_RATE as f32) as usize;
        let mut samples = Vec::new();
        let mut labels = FileLabels::default();
        for path in &files {
            let audio = read_8k(path).with_context(|| format!("cannot play --input file {}", path.display()))?;
            samples.resize(samples.len() + gap, 0.0);
            let start = samples.len() as u64;
            samples.extend_from_slice(&audio);
            let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            labels.spans.push((start, samples.len() as u64, label_from_name(path), name));
        }
        // Trailing silence lets the VAD close the last word the way it closes the others.
        samples.resize(samples.len() + gap, 0.0);
        Ok(Self { samples, rate: SAMPLE_RATE, labels })
    }

    pub fn duration(&self) -> Duration {
        Duration::from_secs_f64(self.samples.len() as f64 / self.rate as f64)
    }
}

/// Feeds a playlist into the engine at `speed` x real time. Called from the UI loop: each call
/// pushes what the clock says is due (never dropping: what the ring cannot take now is pushed
/// on the next call).
pub struct FilePlayer {
    samples: Vec<f32>,
    rate: u32,
    speed: f64,
    position: usize,
}

impl FilePlayer {
    pub fn new(playlist: &Playlist, speed: f32) -> Self {
        let speed = if speed.is_finite() && speed > 0.0 { speed as f64 } else { 1.0 };
        Self { samples: playlist.samples.clone(), rate: playlist.rate, speed, position: 0 }
    }

    /// Pushes everything due `elapsed` after the start; true once all has been pushed.
    pub fn pump(&mut self, sender: &mut AudioSender, elapsed: Duration) -> bool {
        let due = ((elapsed.as_secs_f64() * self.rate as f64 * self.speed) as usize).min(self.samples.len());
        // Only what the ring has room for, so nothing counts as dropped.
        let due = due.min(self.position + sender.free_frames());
        if due > self.position {
            let pushed = sender.push(&self.samples[self.position..due]);
            self.position += pushed;
        }
        self.finished()
    }

    pub fn finished(&self) -> bool {
        self.position >= self.samples.len()
    }

    pub fn position(&self) -> usize {
        self.position
    }
}
