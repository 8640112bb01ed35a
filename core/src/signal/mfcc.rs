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
//! - FFT: [`N_FFT`] = 512 (the 256-sample frame zero-padded), real FFT (realfft's algorithm), power spectrum
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

use rustfft::num_complex::Complex32;
use rustfft::{Fft, FftPlanner};

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

/// Computes [`MfccWindow`]s. Holds the FFT plan and every buffer, so after `new` it does not
/// allocate; make one per thread.
///
/// How a window is computed, and why this way: done frame by frame, with a scalar `log10f`
/// call per value and a 64 x 64 DCT per frame, the logarithms and the DCT were over half the
/// time. Now:
/// 1. frames that hold audio go through window, real FFT and power spectrum in blocks of
///    8, each block's spectra side by side (`[bin][frame]`, small enough for L1), so
///    the mel filterbank runs along time with vector instructions;
/// 2. the dB conversion (`power_to_db`) runs over whole rows of bands, without a libm call;
/// 3. the DCT uses the basis' symmetry about the middle band: even coefficients see
///    `log_mel[j] + log_mel[63 - j]`, odd ones the difference, 32 multiply-adds per coefficient
///    instead of 64, with 8 frames per pass held in registers;
/// 4. frames wholly past the end of the audio are zero padding: their coefficients are a
///    precomputed column.
///
/// Every value is summed in the same order whichever frames are computed together, so a window
/// grown a few frames at a time ([`compute_frames_from`](Self::compute_frames_from)) is
/// bit-identical to one computed at once.
pub struct MfccExtractor {
    /// Complex FFT of half the real length: a real FFT computed the usual way (pairs of samples
    /// packed as complex numbers, then untangled). Written out here rather than through
    /// `realfft` so the untangling goes straight to the power spectrum and a block of frames
    /// takes one FFT call; the arithmetic is realfft's, operation for operation.
    fft: Arc<dyn Fft<f32>>,
    /// realfft's twiddles for bins 1..128: `exp(-2 pi i k / N_FFT) / 2`.
    twiddles: Vec<Complex32>,
    window: [f32; WIN_LEN],
    /// Per mel band: first FFT bin and its (non-zero) weights.
    mel: Vec<(usize, Vec<f32>)>,
    /// The DCT folded in halves: `[i * HALF + j]` weighs `log_mel[j] + log_mel[63 - j]` in
    /// coefficient `2i` (even basis functions are symmetric about the middle band) ...
    dct_even: Box<[f32; HALF * HALF]>,
    /// ... and `log_mel[j] - log_mel[63 - j]` in coefficient `2i + 1` (odd ones antisymmetric).
    dct_odd: Box<[f32; HALF * HALF]>,
    /// One windowed frame, zero-padded to `N_FFT`.
    frame: [f32; N_FFT],
    /// A block of frames, each as `N_FFT / 2` complex pairs of samples, then their FFTs.
    packed: Vec<Complex32>,
    spectrum: Vec<Complex32>,
    scratch: Vec<Complex32>,
    /// Power spectra of one block of frames, `[bin * BLOCK + frame in block]`.
    power: Box<[f32; BINS_PADDED * BLOCK]>,
    /// The same spectra one frame per row, `[frame in block][bin]`, as the untangling writes
    /// them; transposed into `power` in 8 x 8 tiles.
    lane_power: Box<[[f32; BINS_PADDED]; BLOCK]>,
    /// Mel power, then dB, `[m * ROW + t]`.
    log_mel: Box<[f32; N_MELS * ROW]>,
    /// `log_mel[j] + log_mel[63 - j]` and `log_mel[j] - log_mel[63 - j]`, `[j * ROW + t]`.
    folded_sum: Box<[f32; HALF * ROW]>,
    folded_diff: Box<[f32; HALF * ROW]>,
    /// The coefficients, `[k * ROW + t]`, copied into the caller's window row by row.
    coefs: Box<[f32; N_MFCC * ROW]>,
    /// Coefficients of an all-zero frame. Frames wholly past the end of a short utterance are
    /// zero padding; copying this column instead of running FFT, filterbank and DCT on zeros
    /// saves most of the cost for a typical 0.4 s word (identical values: it is computed by the
    /// same code in `new`).
    silent: [f32; N_MFCC],
}

/// Half the mel bands / coefficients: the DCT is computed as two folded 32 x 32 products.
const HALF: usize = N_MELS / 2;

/// Frames processed side by side: 8 f32 lanes (two SSE or one AVX register per row), and a
/// block's power spectra (8 KB) stay in L1.
const BLOCK: usize = 8;

/// [`N_BINS`] rounded up to whole [`BLOCK`]s, for the tiled transpose of the power spectra.
const BINS_PADDED: usize = N_BINS.div_ceil(BLOCK) * BLOCK;

/// Row length of the per-frame buffers: a block always reads and writes [`BLOCK`] whole lanes
/// (fixed-size moves; a run-time length is a `memcpy` call per row), so the last one may run
/// past frame 63.
const ROW: usize = N_FRAMES + BLOCK;

impl Default for MfccExtractor {
    fn default() -> Self {
        Self::new()
    }
}

impl MfccExtractor {
    pub fn new() -> Self {
        let fft = FftPlanner::<f32>::new().plan_fft_forward(N_FFT / 2);
        let scratch = vec![Complex32::new(0.0, 0.0); fft.get_outofplace_scratch_len()];
        let twiddles = (1..N_FFT / 4)
            .map(|k| {
                let angle = -2.0 * std::f64::consts::PI / N_FFT as f64 * k as f64;
                Complex32::new(angle.cos() as f32, angle.sin() as f32) * 0.5
            })
            .collect();
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
        let mut dct_even = Box::new([0.0f32; HALF * HALF]);
        let mut dct_odd = Box::new([0.0f32; HALF * HALF]);
        for i in 0..HALF {
            for j in 0..HALF {
                dct_even[i * HALF + j] = dct_t[j * N_MFCC + 2 * i];
                dct_odd[i * HALF + j] = dct_t[j * N_MFCC + 2 * i + 1];
            }
        }
        let mut extractor = Self {
            fft,
            twiddles,
            window,
            mel,
            dct_even,
            dct_odd,
            frame: [0.0; N_FFT],
            packed: vec![Complex32::new(0.0, 0.0); BLOCK * N_FFT / 2],
            spectrum: vec![Complex32::new(0.0, 0.0); BLOCK * N_FFT / 2],
            scratch,
            power: Box::new([0.0; BINS_PADDED * BLOCK]),
            lane_power: Box::new([[0.0; BINS_PADDED]; BLOCK]),
            log_mel: Box::new([0.0; N_MELS * ROW]),
            folded_sum: Box::new([0.0; HALF * ROW]),
            folded_diff: Box::new([0.0; HALF * ROW]),
            coefs: Box::new([0.0; N_MFCC * ROW]),
            silent: [0.0; N_MFCC],
        };
        // Frame 0 of no audio is all zeros, through the full path: that is the padding column.
        let mut out = [0.0f32; FEATURE_LEN];
        extractor.compute_columns(&[], 0, 1, &mut out);
        for (k, s) in extractor.silent.iter_mut().enumerate() {
            *s = out[k * N_FRAMES];
        }
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
        self.compute_frames_from(samples, 0, out);
    }

    /// Recomputes only frames `first..N_FRAMES` of `out` (the others are kept). A growing buffer
    /// only changes the frames that overlap its end, so streaming callers can skip the rest:
    /// frame `t` depends on samples `[t*HOP - 64, t*HOP + 192)` only.
    pub fn compute_frames_from(&mut self, samples: &[f32], first: usize, out: &mut [f32]) {
        assert_eq!(out.len(), FEATURE_LEN, "MFCC output must hold {FEATURE_LEN} values");
        let samples = &samples[..samples.len().min(WINDOW_SAMPLES)];
        let first = first.min(N_FRAMES);
        // Frame t starts at t*HOP - 64 and holds audio iff that start is before the end.
        let audible = (samples.len() + WIN_LEN / 2 - HOP / 2).div_ceil(HOP).min(N_FRAMES);
        let end = audible.max(first);
        if end > first {
            self.compute_columns(samples, first, end, out);
        }
        for (k, &c) in self.silent.iter().enumerate() {
            out[k * N_FRAMES + end..(k + 1) * N_FRAMES].fill(c);
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

    /// Frames `lo..hi` of `out`, all through FFT, filterbank, log and DCT.
    ///
    /// On x86_64 CPUs with AVX2 the same code is compiled a second time with AVX2 enabled and
    /// picked at run time: 8-lane registers for the blocks of 8 frames. Only AVX2 and never FMA,
    /// so every value is the same IEEE operation in the same order and the result is
    /// bit-identical to the SSE2 build (`avx2_and_baseline_are_bit_identical`).
    fn compute_columns(&mut self, samples: &[f32], lo: usize, hi: usize, out: &mut [f32]) {
        #[cfg(target_arch = "x86_64")]
        if std::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU has AVX2, checked just above.
            return unsafe { self.compute_columns_avx2(samples, lo, hi, out) };
        }
        self.compute_columns_baseline(samples, lo, hi, out, transpose_plain)
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    unsafe fn compute_columns_avx2(&mut self, samples: &[f32], lo: usize, hi: usize, out: &mut [f32]) {
        // SAFETY: this function only runs on a CPU with AVX2.
        self.compute_columns_baseline(samples, lo, hi, out, |rows, power| unsafe { transpose_tiles_avx2(rows, power) })
    }

    /// [`compute_columns`](Self::compute_columns) for whatever instruction set the caller was
    /// compiled with: inlined (with everything it calls) into each caller.
    #[inline(always)]
    fn compute_columns_baseline(
        &mut self,
        samples: &[f32],
        lo: usize,
        hi: usize,
        out: &mut [f32],
        transpose: Transpose,
    ) {
        for block in (lo..hi).step_by(BLOCK) {
            let width = BLOCK.min(hi - block);
            self.power_block(samples, block, width, transpose);
            self.mel_block(block);
        }
        for row in self.log_mel.chunks_exact_mut(ROW) {
            for e in &mut row[lo..hi] {
                *e = power_to_db(*e);
            }
        }
        for j in 0..HALF {
            let (a, b) = (j * ROW, (N_MELS - 1 - j) * ROW);
            let (x, y) = (&self.log_mel[a + lo..a + hi], &self.log_mel[b + lo..b + hi]);
            let sum = &mut self.folded_sum[a + lo..a + hi];
            for ((s, &x), &y) in sum.iter_mut().zip(x).zip(y) {
                *s = x + y;
            }
            let diff = &mut self.folded_diff[a + lo..a + hi];
            for ((d, &x), &y) in diff.iter_mut().zip(x).zip(y) {
                *d = x - y;
            }
        }
        for block in (lo..hi).step_by(BLOCK) {
            dct_block(&self.dct_even, &self.folded_sum, block, 0, &mut self.coefs);
            dct_block(&self.dct_odd, &self.folded_diff, block, 1, &mut self.coefs);
        }
        for (k, row) in self.coefs.chunks_exact(ROW).enumerate() {
            out[k * N_FRAMES + lo..k * N_FRAMES + hi].copy_from_slice(&row[lo..hi]);
        }
    }

    /// Power spectra of frames `t0..t0 + width` into `self.power`: window (zero outside the
    /// samples), real FFT as one complex FFT call for the block, `|X|^2`.
    #[inline(always)]
    fn power_block(&mut self, samples: &[f32], t0: usize, width: usize, transpose: Transpose) {
        let half = N_FFT / 2;
        for lane in 0..width {
            let start = ((t0 + lane) * HOP + HOP / 2) as isize - (WIN_LEN / 2) as isize;
            // The part of the window inside the samples: [from, to) in window positions.
            let from = (-start).clamp(0, WIN_LEN as isize) as usize;
            let to = (samples.len() as isize - start).clamp(from as isize, WIN_LEN as isize) as usize;
            self.frame[..from].fill(0.0);
            let src = &samples[(start + from as isize) as usize..(start + to as isize) as usize];
            for ((f, &s), &w) in self.frame[from..to].iter_mut().zip(src).zip(&self.window[from..to]) {
                *f = s * w;
            }
            self.frame[to..WIN_LEN].fill(0.0);
            // Samples 2n and 2n + 1 as one complex value; the second half is the zero padding
            // (rewritten every time: the FFT uses its input as scratch).
            let packed = &mut self.packed[lane * half..(lane + 1) * half];
            for (z, pair) in packed.iter_mut().zip(self.frame.chunks_exact(2)) {
                *z = Complex32::new(pair[0], pair[1]);
            }
        }
        let used = width * half;
        self.fft.process_outofplace_with_scratch(
            &mut self.packed[..used],
            &mut self.spectrum[..used],
            &mut self.scratch,
        );
        let (mut low, mut high) = ([0.0f32; N_FFT / 4], [0.0f32; N_FFT / 4]);
        for lane in 0..width {
            let z = &self.spectrum[lane * half..(lane + 1) * half];
            // Untangling the two interleaved half-length transforms (realfft's post-processing,
            // the same operations in the same order), keeping only |X|^2: bins k and 256 - k
            // for k in 1..128, into plain arrays first so the loop vectorises.
            let pairs = z[1..half / 2].iter().zip(z[half / 2 + 1..].iter().rev()).zip(&self.twiddles);
            for (((&out, &rev), tw), (low, high)) in pairs.zip(low[1..].iter_mut().zip(&mut high[1..])) {
                let (sum, diff) = (out + rev, out - rev);
                let half_sum_re = 0.5 * sum.re;
                let half_diff_im = 0.5 * diff.im;
                let twiddled_re = sum.im * tw.re + diff.re * tw.im;
                let twiddled_im = sum.im * tw.im - diff.re * tw.re;
                let (re, im) = (half_sum_re + twiddled_re, half_diff_im + twiddled_im);
                *low = re * re + im * im;
                let (re, im) = (half_sum_re - twiddled_re, twiddled_im - half_diff_im);
                *high = re * re + im * im;
            }
            let (dc, nyquist) = (z[0].re + z[0].im, z[0].re - z[0].im);
            let row = &mut self.lane_power[lane];
            row[0] = dc * dc;
            row[half] = nyquist * nyquist;
            row[half / 2] = z[half / 2].norm_sqr();
            row[1..half / 2].copy_from_slice(&low[1..]);
            // Bin half - k for k = 127 down to 1.
            for (dst, &h) in row[half / 2 + 1..half].iter_mut().zip(high[1..].iter().rev()) {
                *dst = h;
            }
        }
        transpose(&self.lane_power, &mut self.power);
    }

    /// Mel power of the block of frames starting at `t0`, into `log_mel` (lanes past the
    /// block's width hold whatever the spectra there held; nothing reads them).
    #[inline(always)]
    fn mel_block(&mut self, t0: usize) {
        for (m, (first, weights)) in self.mel.iter().enumerate() {
            // Each band's bins summed in order, from 0.0, as a plain dot product would.
            let mut acc = [0.0f32; BLOCK];
            for (j, &w) in weights.iter().enumerate() {
                let p = &self.power[(first + j) * BLOCK..(first + j + 1) * BLOCK];
                for (a, &p) in acc.iter_mut().zip(p) {
                    *a += w * p;
                }
            }
            let dst: &mut [f32; BLOCK] = (&mut self.log_mel[m * ROW + t0..][..BLOCK]).try_into().expect("BLOCK lanes");
            *dst = acc;
        }
    }
}

/// How a block's power spectra go from `[frame][bin]` (as the untangling writes them) to
/// `[bin][frame]` (as the filterbank reads them): pure data movement, so any way of doing it
/// gives the same bits.
type Transpose = fn(&[[f32; BINS_PADDED]; BLOCK], &mut [f32; BINS_PADDED * BLOCK]);

/// [`Transpose`] in plain loops.
#[inline(always)]
fn transpose_plain(rows: &[[f32; BINS_PADDED]; BLOCK], power: &mut [f32; BINS_PADDED * BLOCK]) {
    for (lane, row) in rows.iter().enumerate() {
        for (bin, &v) in row.iter().enumerate() {
            power[bin * BLOCK + lane] = v;
        }
    }
}

/// [`Transpose`] as 8 x 8 tiles in AVX registers (the textbook unpack / shuffle / permute
/// sequence): 24 shuffles per 64 values instead of 64 scalar stores at a stride of 8.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn transpose_tiles_avx2(rows: &[[f32; BINS_PADDED]; BLOCK], power: &mut [f32; BINS_PADDED * BLOCK]) {
    use std::arch::x86_64::*;
    const _: () = assert!(BLOCK == 8 && BINS_PADDED.is_multiple_of(8));
    for tile in 0..BINS_PADDED / BLOCK {
        // SAFETY: every load reads 8 floats at `tile * 8` of a row of BINS_PADDED (a multiple
        // of 8), every store writes 8 floats inside tile `tile` of `power`; AVX2 is enabled.
        unsafe {
            let r: [__m256; 8] = std::array::from_fn(|l| _mm256_loadu_ps(rows[l].as_ptr().add(tile * 8)));
            let t0 = _mm256_unpacklo_ps(r[0], r[1]);
            let t1 = _mm256_unpackhi_ps(r[0], r[1]);
            let t2 = _mm256_unpacklo_ps(r[2], r[3]);
            let t3 = _mm256_unpackhi_ps(r[2], r[3]);
            let t4 = _mm256_unpacklo_ps(r[4], r[5]);
            let t5 = _mm256_unpackhi_ps(r[4], r[5]);
            let t6 = _mm256_unpacklo_ps(r[6], r[7]);
            let t7 = _mm256_unpackhi_ps(r[6], r[7]);
            let u0 = _mm256_shuffle_ps::<0x44>(t0, t2);
            let u1 = _mm256_shuffle_ps::<0xee>(t0, t2);
            let u2 = _mm256_shuffle_ps::<0x44>(t1, t3);
            let u3 = _mm256_shuffle_ps::<0xee>(t1, t3);
            let u4 = _mm256_shuffle_ps::<0x44>(t4, t6);
            let u5 = _mm256_shuffle_ps::<0xee>(t4, t6);
            let u6 = _mm256_shuffle_ps::<0x44>(t5, t7);
            let u7 = _mm256_shuffle_ps::<0xee>(t5, t7);
            let columns = [
                _mm256_permute2f128_ps::<0x20>(u0, u4),
                _mm256_permute2f128_ps::<0x20>(u1, u5),
                _mm256_permute2f128_ps::<0x20>(u2, u6),
                _mm256_permute2f128_ps::<0x20>(u3, u7),
                _mm256_permute2f128_ps::<0x31>(u0, u4),
                _mm256_permute2f128_ps::<0x31>(u1, u5),
                _mm256_permute2f128_ps::<0x31>(u2, u6),
                _mm256_permute2f128_ps::<0x31>(u3, u7),
            ];
            let dst = power.as_mut_ptr().add(tile * 64);
            for (b, column) in columns.into_iter().enumerate() {
                _mm256_storeu_ps(dst.add(b * 8), column);
            }
        }
    }
}

/// One half of the folded DCT for the block of frames starting at `t0`: coefficients
/// `2i + parity` of `coefs` (`[k * ROW + t]`) from `folded` (`[j * ROW + t]`). Each
/// coefficient sums its 32 terms in order from 0.0, the block's frames side by side in
/// registers.
#[inline(always)]
fn dct_block(
    basis: &[f32; HALF * HALF],
    folded: &[f32; HALF * ROW],
    t0: usize,
    parity: usize,
    coefs: &mut [f32; N_MFCC * ROW],
) {
    // The block's lanes of every folded band, bounds-checked once here, not in the loop.
    let mut lanes = [&[0.0f32; BLOCK]; HALF];
    for (x, row) in lanes.iter_mut().zip(folded.chunks_exact(ROW)) {
        *x = row[t0..t0 + BLOCK].try_into().expect("rows are padded by a block");
    }
    // Four coefficients at a time: four independent chains of additions in flight (one chain
    // waits ~3 cycles per addition) and each band's lanes loaded once for all four. Each
    // coefficient still sums its terms in band order from 0.0, so the bits do not change.
    const TOGETHER: usize = 4;
    for (i4, weights) in basis.chunks_exact(TOGETHER * HALF).enumerate() {
        let mut acc = [[0.0f32; BLOCK]; TOGETHER];
        for (j, x) in lanes.iter().enumerate() {
            for (c, acc) in acc.iter_mut().enumerate() {
                let b = weights[c * HALF + j];
                for (a, &x) in acc.iter_mut().zip(x.iter()) {
                    *a += b * x;
                }
            }
        }
        for (c, acc) in acc.iter().enumerate() {
            let k = 2 * (i4 * TOGETHER + c) + parity;
            coefs[k * ROW + t0..][..BLOCK].copy_from_slice(acc);
        }
    }
}

/// `10 * log10(max(power, LOG_FLOOR))` in dB without a libm call, so whole rows of bands
/// vectorise (4096 scalar `log10f` calls were a third of a window's time). Within 2 ulp of
/// `10.0 * power.max(LOG_FLOOR).log10()` over every f32 (see the unit test), i.e. within
/// 1.6e-5 dB where the values are largest; the reference test allows 2e-3 on the coefficients.
///
/// `power = 2^e * (1 + f)` with `1 + f` in `[sqrt(1/2), sqrt(2))`; `ln(1 + f)` is Cephes'
/// `logf` polynomial (`f - f^2/2 + f^3 P(f)`, relative error ~1e-7) in f32; `e * ln 2` is added
/// and the result scaled in f64 so those steps add no rounding of their own.
#[inline(always)]
pub(crate) fn power_to_db(power: f32) -> f32 {
    let x = power.max(LOG_FLOOR);
    let bits = x.to_bits();
    // Exponent relative to sqrt(1/2) (0x3f3504f3), so the mantissa left is in
    // [sqrt(1/2), sqrt(2)). x >= 1e-10 is normal and positive; +inf is handled below.
    let e = (bits.wrapping_sub(0x3f35_04f3) as i32) >> 23;
    let f = f32::from_bits(bits.wrapping_sub((e as u32) << 23)) - 1.0;
    let z = f * f;
    let p = 7.037_683_6e-2f32;
    let p = p * f - 1.151_461e-1;
    let p = p * f + 1.167_699_9e-1;
    let p = p * f - 1.242_014_1e-1;
    let p = p * f + 1.424_932_3e-1;
    let p = p * f - 1.666_805_8e-1;
    let p = p * f + 2.000_071_5e-1;
    let p = p * f - 2.499_999_4e-1;
    let p = p * f + 3.333_333e-1;
    let tail = f * z * p - 0.5 * z;
    let ln = e as f64 * std::f64::consts::LN_2 + (f as f64 + tail as f64);
    let db = (ln * (10.0 * std::f64::consts::LOG10_E)) as f32;
    if x == f32::INFINITY { f32::INFINITY } else { db }
}

/// The DCT-II orthonormal basis, transposed: `[m * N_MFCC + k]` is mel band `m`'s weight in
/// coefficient `k`. Orthonormal, so the same matrix also undoes the DCT (the trainer uses it to
/// augment in the log-mel domain without a second copy of the transform).
pub fn dct_basis_transposed() -> Vec<f32> {
    let mut dct_t = vec![0.0f32; N_MELS * N_MFCC];
    for k in 0..N_MFCC {
        let scale = if k == 0 { (1.0 / N_MELS as f64).sqrt() } else { (2.0 / N_MELS as f64).sqrt() };
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
    let mel_f: Vec<f64> =
        (0..N_MELS + 2).map(|i| mel_to_hz(mel_min + (mel_max - mel_min) * i as f64 / (N_MELS + 1) as f64)).collect();
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
        (0..len).map(|n| 0.5 * (2.0 * PI * freq * n as f32 / SAMPLE_RATE as f32).sin()).collect()
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
        let dct_t = dct_basis_transposed();
        let mut log_mel = [0.0f32; N_MELS];
        for (m, lm) in log_mel.iter_mut().enumerate() {
            *lm = (0..N_MFCC).map(|k| dct_t[m * N_MFCC + k] * w[k * N_FRAMES + t]).sum();
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

    /// The MFCC as the module doc defines it, one frame at a time with nothing clever: a dense
    /// filterbank, `f32::log10`, the full 64 x 64 DCT.
    fn plain_definition(samples: &[f32]) -> Vec<f32> {
        let len = samples.len().min(WINDOW_SAMPLES);
        let fft = realfft::RealFftPlanner::<f32>::new().plan_fft_forward(N_FFT);
        let bank = mel_filterbank();
        let dct_t = dct_basis_transposed();
        let mut out = vec![0.0f32; FEATURE_LEN];
        for t in 0..N_FRAMES {
            let start = (t * HOP + HOP / 2) as isize - (WIN_LEN / 2) as isize;
            let mut frame = vec![0.0f32; N_FFT];
            for (n, f) in frame[..WIN_LEN].iter_mut().enumerate() {
                let i = start + n as isize;
                if i >= 0 && (i as usize) < len {
                    let w = 0.5 - 0.5 * (2.0 * PI * n as f32 / WIN_LEN as f32).cos();
                    *f = samples[i as usize] * w;
                }
            }
            let mut spectrum = fft.make_output_vec();
            fft.process(&mut frame, &mut spectrum).unwrap();
            let log_mel: Vec<f32> = bank
                .iter()
                .map(|row| {
                    let e: f32 = row.iter().zip(&spectrum).map(|(w, x)| w * x.norm_sqr()).sum();
                    10.0 * e.max(LOG_FLOOR).log10()
                })
                .collect();
            for k in 0..N_MFCC {
                out[k * N_FRAMES + t] = (0..N_MELS).map(|m| dct_t[m * N_MFCC + k] * log_mel[m]).sum();
            }
        }
        out
    }

    /// A vowel-like test signal: harmonics of a gliding pitch under an envelope, over noise.
    fn voiced(len: usize) -> Vec<f32> {
        let mut seed = 7u32;
        let mut phase = 0.0f32;
        (0..len)
            .map(|n| {
                seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                let noise = ((seed >> 8) as f32 / (1u32 << 24) as f32 - 0.5) * 1e-3;
                let t = n as f32 / SAMPLE_RATE as f32;
                phase += 2.0 * PI * (120.0 + 60.0 * t) / SAMPLE_RATE as f32;
                let voice: f32 = (1..25).map(|h| (h as f32 * phase).sin() / h as f32).sum();
                0.3 * voice * (PI * n as f32 / len as f32).sin() + noise
            })
            .collect()
    }

    /// The run-time AVX2 build and the baseline build of the same code give the same bits on
    /// speech-like audio, a tone, full-scale noise, a short clip and silence. Needs an AVX2 CPU
    /// (every x86_64 CPU since 2015, and the CI machine): without one there is nothing to compare.
    #[cfg(target_arch = "x86_64")]
    #[test]
    fn avx2_and_baseline_are_bit_identical() {
        assert!(std::is_x86_feature_detected!("avx2"), "this test compares the AVX2 build with the baseline");
        let mut seed = 99u32;
        let noise: Vec<f32> = (0..WINDOW_SAMPLES)
            .map(|_| {
                seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                (seed >> 8) as f32 / (1u32 << 23) as f32 - 1.0
            })
            .collect();
        let inputs = [voiced(WINDOW_SAMPLES), tone(1234.5, WINDOW_SAMPLES), noise, voiced(3001), Vec::new()];
        let (mut avx2, mut baseline) = (MfccExtractor::new(), MfccExtractor::new());
        for (i, input) in inputs.iter().enumerate() {
            let (mut a, mut b) = (vec![0.0f32; FEATURE_LEN], vec![0.0f32; FEATURE_LEN]);
            // The frames that hold audio, as compute_frames_from computes them.
            let audible = (input.len() + WIN_LEN / 2 - HOP / 2).div_ceil(HOP).min(N_FRAMES);
            // SAFETY: AVX2 asserted above.
            unsafe { avx2.compute_columns_avx2(input, 0, audible, &mut a) };
            baseline.compute_columns_baseline(input, 0, audible, &mut b, transpose_plain);
            let differing = a.iter().zip(&b).filter(|(x, y)| x.to_bits() != y.to_bits()).count();
            assert_eq!(differing, 0, "input {i}: {differing} of {FEATURE_LEN} values differ");
        }
    }

    #[test]
    fn matches_the_plain_definition() {
        let mut ex = MfccExtractor::new();
        // A word shorter than the window (padding frames), one filling it, one longer.
        for len in [3000, 5000, WINDOW_SAMPLES, 9000] {
            let audio = voiced(len);
            let fast = ex.compute(&audio);
            let plain = plain_definition(&audio);
            let worst = fast.iter().zip(&plain).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
            // Summation order differs (folded DCT); the values are dB-scaled cepstra up to ~800.
            assert!(worst < 2e-4, "{len} samples: worst difference {worst}");
        }
    }

    #[test]
    fn power_to_db_is_log10_within_two_ulp() {
        let ulp = |x: f32| f32::from_bits(x.abs().to_bits() + 1) - x.abs();
        let mut worst_ulps = 0.0f32;
        // Every exponent from below the floor to far above any real power, 4096 mantissas each.
        let mut x = 1e-12f32;
        while x < 1e12 {
            for step in 0..4096u32 {
                let v = f32::from_bits(x.to_bits() + step * 2048);
                let exact = 10.0 * v.max(LOG_FLOOR).log10();
                let fast = power_to_db(v);
                worst_ulps = worst_ulps.max((fast - exact).abs() / ulp(exact).max(f32::MIN_POSITIVE));
            }
            x *= 2.0;
        }
        assert!(worst_ulps <= 2.0, "worst difference {worst_ulps} ulp");
        assert_eq!(power_to_db(1.0), 0.0);
        assert_eq!(power_to_db(0.0), -100.0);
        assert_eq!(power_to_db(-1.0), -100.0);
        assert_eq!(power_to_db(f32::NAN), -100.0);
        assert_eq!(power_to_db(f32::INFINITY), f32::INFINITY);
    }
}
