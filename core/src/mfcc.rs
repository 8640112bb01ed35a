//! The one feature extractor: a fixed 64 x 64 MFCC window.
//!
//! The trainer, the terminal dashboard and the plugin all call this code, so the features a model
//! was trained on are bit-for-bit the features it is served.
//!
//! Every constant, and why:
//! - Sample rate [`SAMPLE_RATE`] = 8 kHz: FSDD's native rate; everything else is resampled to it.
//! - Hop [`HOP`] = 128 samples (16 ms), [`N_FRAMES`] = 64 frames, so one window covers
//!   [`WINDOW_SAMPLES`] = 8192 samples = 1.024 s, longer than 99.4% of FSDD utterances.
//! - Analysis window: periodic Hann, [`WIN_LEN`] = 256 samples (32 ms, the usual speech frame),
//!   centred on the middle of its hop: frame `t` covers samples `[t*128 - 64, t*128 + 192)`.
//!   Samples outside `[0, min(len, 8192))` count as zero, so a window depends only on its own
//!   1.024 s of audio and a short utterance is simply followed by digital silence.
//! - FFT: [`N_FFT`] = 512 (the 256-sample frame zero-padded), real FFT (realfft), power spectrum
//!   `|X|^2`, 257 bins of 15.6 Hz.
//! - Mel filterbank: [`N_MELS`] = 64 triangles, HTK mel scale, 0 Hz to 4 kHz (Nyquist), Slaney
//!   area normalisation: exactly `librosa.filters.mel(sr=8000, n_fft=512, n_mels=64, fmin=0,
//!   fmax=4000, htk=True, norm="slaney")`.
//! - Log: `10 * log10(max(mel_power, 1e-10))` (dB, floor [`LOG_FLOOR`] = -100 dB, librosa's
//!   `power_to_db(amin=1e-10, top_db=None)`).
//! - DCT: type II, orthonormal (`scipy.fft.dct(type=2, norm="ortho")`), all [`N_MFCC`] = 64
//!   coefficients kept.
//! - Layout: `out[k * N_FRAMES + t]`, coefficient-major, i.e. the `[1, 64, 64]` image (height =
//!   coefficient, width = time) the model reads as `[N, 1, 64, 64]`.
//!
//! Verified against an independent numpy/librosa implementation (`tests/reference/`).

use std::f32::consts::PI;
use std::sync::Arc;

use realfft::{RealFftPlanner, RealToComplex, num_complex::Complex32};

/// Internal sample rate of the recognizer, Hz.
pub const SAMPLE_RATE: u32 = 8000;
/// Hop between frames, samples (16 ms).
pub const HOP: usize = 128;
/// Analysis window length, samples (32 ms).
pub const WIN_LEN: usize = 256;
/// FFT length (frame zero-padded), samples.
pub const N_FFT: usize = 512;
/// Number of power-spectrum bins.
pub const N_BINS: usize = N_FFT / 2 + 1;
/// Mel bands.
pub const N_MELS: usize = 64;
/// Cepstral coefficients kept.
pub const N_MFCC: usize = 64;
/// Frames per window.
pub const N_FRAMES: usize = 64;
/// Samples per window (1.024 s at 8 kHz).
pub const WINDOW_SAMPLES: usize = N_FRAMES * HOP;
/// Values in one feature window.
pub const FEATURE_LEN: usize = N_MFCC * N_FRAMES;
/// Smallest mel power before the log (-100 dB).
pub const LOG_FLOOR: f32 = 1e-10;

/// One 64 x 64 MFCC window, coefficient-major (`[k * N_FRAMES + t]`).
pub type MfccWindow = [f32; FEATURE_LEN];

/// Computes [`MfccWindow`]s. Holds the FFT plan and scratch buffers, so after `new` it does not
/// allocate; make one per thread.
pub struct MfccExtractor {
    fft: Arc<dyn RealToComplex<f32>>,
    window: [f32; WIN_LEN],
    /// Per mel band: first FFT bin and its weights.
    mel: Vec<(usize, Vec<f32>)>,
    /// DCT-II orthonormal basis, transposed, `[m * N_MFCC + k]`: the per-frame DCT accumulates one mel band
    /// into all 64 coefficients at a time, which vectorises (a dot-product reduction per
    /// coefficient does not, and made the DCT most of the MFCC's cost).
    dct_t: Vec<f32>,
    frame: Vec<f32>,
    spectrum: Vec<Complex32>,
    scratch: Vec<Complex32>,
    log_mel: [f32; N_MELS],
    /// Coefficients of an all-zero frame. Frames wholly past the end of a short utterance are
    /// zero padding; copying this column instead of running FFT, filterbank and DCT on zeros
    /// saves most of the cost for a typical 0.4 s word (identical values: it is computed by the
    /// same code in `new`).
    silent: [f32; N_MFCC],
}

impl Default for MfccExtractor {
    fn default() -> Self {
        Self::new()
    }
}

impl MfccExtractor {
    pub fn new() -> Self {
        let fft = RealFftPlanner::<f32>::new().plan_fft_forward(N_FFT);
        let spectrum = fft.make_output_vec();
        let scratch = fft.make_scratch_vec();
        let mut window = [0.0f32; WIN_LEN];
        for (n, w) in window.iter_mut().enumerate() {
            // Periodic Hann (scipy.signal.get_window("hann", N), librosa's default).
            *w = 0.5 - 0.5 * (2.0 * PI * n as f32 / WIN_LEN as f32).cos();
        }
        let mel = mel_filterbank()
            .into_iter()
            .map(|row| {
                let first = row.iter().position(|&w| w > 0.0).unwrap_or(0);
                let last = row.iter().rposition(|&w| w > 0.0).unwrap_or(0);
                (first, row[first..=last].to_vec())
            })
            .collect();
        let dct_t = dct_basis_transposed();
        let mut extractor = Self {
            fft,
            window,
            mel,
            dct_t,
            frame: vec![0.0; N_FFT],
            spectrum,
            scratch,
            log_mel: [0.0; N_MELS],
            silent: [0.0; N_MFCC],
        };
        extractor.frame.fill(0.0);
        extractor.silent = extractor.coefficients_of_frame();
        extractor
    }

    /// MFCC window of `samples` (8 kHz mono, nominally in [-1, 1]). Only the first
    /// [`WINDOW_SAMPLES`] samples are used; a shorter input is followed by zeros.
    pub fn compute(&mut self, samples: &[f32]) -> Box<MfccWindow> {
        let mut out = Box::new([0.0f32; FEATURE_LEN]);
        self.compute_into(samples, &mut out[..]);
        out
    }

    /// Like [`compute`](Self::compute), into `out` (`FEATURE_LEN` values). Does not allocate.
    pub fn compute_into(&mut self, samples: &[f32], out: &mut [f32]) {
        assert_eq!(out.len(), FEATURE_LEN, "MFCC output must hold {FEATURE_LEN} values");
        for t in 0..N_FRAMES {
            self.compute_frame(samples, t, out);
        }
    }

    /// Recomputes only frames `first..N_FRAMES` of `out` (the others are kept). A growing buffer
    /// only changes the frames that overlap its end, so streaming callers can skip the rest:
    /// frame `t` depends on samples `[t*HOP - 64, t*HOP + 192)` only.
    pub fn compute_frames_from(&mut self, samples: &[f32], first: usize, out: &mut [f32]) {
        assert_eq!(out.len(), FEATURE_LEN, "MFCC output must hold {FEATURE_LEN} values");
        for t in first.min(N_FRAMES)..N_FRAMES {
            self.compute_frame(samples, t, out);
        }
    }

    /// The first frame whose value can change when `len` samples grow longer: callers that
    /// append audio may keep frames before it.
    pub fn first_frame_touching(len: usize) -> usize {
        // Frame t reads samples up to t*HOP + HOP/2 + WIN_LEN/2 (exclusive); it is final once
        // that end is <= len.
        let reach = HOP / 2 + WIN_LEN / 2;
        if len < reach { 0 } else { ((len - reach) / HOP + 1).min(N_FRAMES) }
    }

    fn compute_frame(&mut self, samples: &[f32], t: usize, out: &mut [f32]) {
        let len = samples.len().min(WINDOW_SAMPLES);
        let start = (t * HOP + HOP / 2) as isize - (WIN_LEN / 2) as isize;
        if start >= len as isize {
            for (k, c) in self.silent.iter().enumerate() {
                out[k * N_FRAMES + t] = *c;
            }
            return;
        }
        self.frame.fill(0.0);
        for n in 0..WIN_LEN {
            let i = start + n as isize;
            if i >= 0 && (i as usize) < len {
                self.frame[n] = samples[i as usize] * self.window[n];
            }
        }
        let coefs = self.coefficients_of_frame();
        for (k, c) in coefs.iter().enumerate() {
            out[k * N_FRAMES + t] = *c;
        }
    }

    /// FFT, mel filterbank, log and DCT of the windowed frame in `self.frame`.
    fn coefficients_of_frame(&mut self) -> [f32; N_MFCC] {
        self.fft
            .process_with_scratch(&mut self.frame, &mut self.spectrum, &mut self.scratch)
            .expect("FFT buffers are sized by the plan");
        for (m, (first, weights)) in self.mel.iter().enumerate() {
            let mut energy = 0.0f32;
            for (j, w) in weights.iter().enumerate() {
                energy += w * self.spectrum[first + j].norm_sqr();
            }
            self.log_mel[m] = 10.0 * energy.max(LOG_FLOOR).log10();
        }
        let mut coefs = [0.0f32; N_MFCC];
        for (m, &x) in self.log_mel.iter().enumerate() {
            let basis = &self.dct_t[m * N_MFCC..(m + 1) * N_MFCC];
            for (c, b) in coefs.iter_mut().zip(basis) {
                *c += b * x;
            }
        }
        coefs
    }
}

/// The DCT-II orthonormal basis, transposed: `[m * N_MFCC + k]` is mel band `m`'s weight in
/// coefficient `k`. Orthonormal, so the same matrix also undoes the DCT (the trainer uses it to
/// augment in the log-mel domain without a second copy of the transform).
pub fn dct_basis_transposed() -> Vec<f32> {
    let mut dct_t = vec![0.0f32; N_MELS * N_MFCC];
    for k in 0..N_MFCC {
        let scale = if k == 0 {
            (1.0 / N_MELS as f64).sqrt()
        } else {
            (2.0 / N_MELS as f64).sqrt()
        };
        for m in 0..N_MELS {
            let angle = std::f64::consts::PI * k as f64 * (2 * m + 1) as f64 / (2 * N_MELS) as f64;
            dct_t[m * N_MFCC + k] = (scale * angle.cos()) as f32;
        }
    }
    dct_t
}

/// The inverse of the DCT step over a whole window: the log-mel image `[m * N_FRAMES + t]` (dB)
/// of an MFCC window, exact because the DCT is orthonormal. `dct_t` is
/// [`dct_basis_transposed`].
pub fn log_mel_of_window(dct_t: &[f32], mfcc: &[f32], log_mel: &mut [f32]) {
    log_mel.fill(0.0);
    for k in 0..N_MFCC {
        let coefs = &mfcc[k * N_FRAMES..(k + 1) * N_FRAMES];
        for m in 0..N_MELS {
            let b = dct_t[m * N_MFCC + k];
            let row = &mut log_mel[m * N_FRAMES..(m + 1) * N_FRAMES];
            for (x, c) in row.iter_mut().zip(coefs) {
                *x += b * c;
            }
        }
    }
}

/// The DCT step over a whole window: the MFCC window (coefficient-major) of a log-mel image
/// `[m * N_FRAMES + t]`. `dct_t` is [`dct_basis_transposed`].
pub fn mfcc_of_log_mel(dct_t: &[f32], log_mel: &[f32], mfcc: &mut [f32]) {
    mfcc.fill(0.0);
    for k in 0..N_MFCC {
        let row_out = &mut mfcc[k * N_FRAMES..(k + 1) * N_FRAMES];
        for m in 0..N_MELS {
            let b = dct_t[m * N_MFCC + k];
            let row = &log_mel[m * N_FRAMES..(m + 1) * N_FRAMES];
            for (o, x) in row_out.iter_mut().zip(row) {
                *o += b * x;
            }
        }
    }
}

fn hz_to_mel(hz: f64) -> f64 {
    2595.0 * (1.0 + hz / 700.0).log10()
}

fn mel_to_hz(mel: f64) -> f64 {
    700.0 * (10f64.powf(mel / 2595.0) - 1.0)
}

/// The mel filterbank, `[N_MELS][N_BINS]`, computed as librosa does (HTK scale, Slaney norm).
pub fn mel_filterbank() -> Vec<Vec<f32>> {
    let sr = SAMPLE_RATE as f64;
    let fft_freqs: Vec<f64> = (0..N_BINS).map(|i| i as f64 * sr / N_FFT as f64).collect();
    let (mel_min, mel_max) = (hz_to_mel(0.0), hz_to_mel(sr / 2.0));
    let mel_f: Vec<f64> = (0..N_MELS + 2)
        .map(|i| mel_to_hz(mel_min + (mel_max - mel_min) * i as f64 / (N_MELS + 1) as f64))
        .collect();
    (0..N_MELS)
        .map(|i| {
            let lower_width = mel_f[i + 1] - mel_f[i];
            let upper_width = mel_f[i + 2] - mel_f[i + 1];
            let enorm = 2.0 / (mel_f[i + 2] - mel_f[i]);
            fft_freqs
                .iter()
                .map(|&f| {
                    let lower = (f - mel_f[i]) / lower_width;
                    let upper = (mel_f[i + 2] - f) / upper_width;
                    (lower.min(upper).max(0.0) * enorm) as f32
                })
                .collect()
        })
        .collect()
}

/// Centre frequency (Hz) of each mel band: what a saliency band means in plain words.
pub fn mel_band_centres_hz() -> [f32; N_MELS] {
    let sr = SAMPLE_RATE as f64;
    let (mel_min, mel_max) = (hz_to_mel(0.0), hz_to_mel(sr / 2.0));
    let mut out = [0.0f32; N_MELS];
    for (i, o) in out.iter_mut().enumerate() {
        *o = mel_to_hz(mel_min + (mel_max - mel_min) * (i + 1) as f64 / (N_MELS + 1) as f64) as f32;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tone(freq: f32, len: usize) -> Vec<f32> {
        (0..len)
            .map(|n| 0.5 * (2.0 * PI * freq * n as f32 / SAMPLE_RATE as f32).sin())
            .collect()
    }

    #[test]
    fn silence_is_the_log_floor() {
        let mut ex = MfccExtractor::new();
        let w = ex.compute(&[]);
        // A constant log-mel of -100 dB: c0 = -100 * sqrt(64), the rest zero.
        assert!((w[0] - (-800.0)).abs() < 1e-2, "c0 {}", w[0]);
        assert!(w[N_FRAMES..].iter().all(|c| c.abs() < 1e-3));
    }

    #[test]
    fn padding_shortcut_is_bit_identical_to_computing_zeros() {
        // 8192 explicit zeros run every frame through FFT, filterbank and DCT; an empty input
        // takes the zero-padding shortcut for every frame.
        let mut ex = MfccExtractor::new();
        let computed = ex.compute(&vec![0.0; WINDOW_SAMPLES]);
        let shortcut = ex.compute(&[]);
        assert_eq!(&computed[..], &shortcut[..]);
    }

    #[test]
    fn a_tone_lights_the_band_that_contains_it() {
        // Undo the DCT (it is orthonormal) and check the loudest mel band sits at 1 kHz.
        let mut ex = MfccExtractor::new();
        let w = ex.compute(&tone(1000.0, WINDOW_SAMPLES));
        let t = 32;
        let mut log_mel = [0.0f32; N_MELS];
        for (m, lm) in log_mel.iter_mut().enumerate() {
            *lm = (0..N_MFCC).map(|k| ex.dct_t[m * N_MFCC + k] * w[k * N_FRAMES + t]).sum();
        }
        let loudest = (0..N_MELS).max_by(|&a, &b| log_mel[a].total_cmp(&log_mel[b])).unwrap();
        let centres = mel_band_centres_hz();
        assert!((centres[loudest] - 1000.0).abs() < 60.0, "band {loudest} at {} Hz", centres[loudest]);
    }

    #[test]
    fn incremental_frames_match_full_recompute() {
        let mut ex = MfccExtractor::new();
        let audio = tone(440.0, 5000);
        let mut grown = [0.0f32; FEATURE_LEN];
        ex.compute_into(&audio[..3000], &mut grown);
        let first = MfccExtractor::first_frame_touching(3000);
        ex.compute_frames_from(&audio, first, &mut grown);
        let full = ex.compute(&audio);
        assert_eq!(&grown[..], &full[..]);
    }
}
