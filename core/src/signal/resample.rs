//! Sample-rate conversion to the recognizer's 8 kHz (and back, for tests and tools).
//!
//! Built on rubato 0.16 (the workspace's resampler; maintained, real-time safe with
//! `process_into_buffer`, no allocation after construction):
//! - Rates with a small rational ratio to the target (every common device rate: 11.025, 16,
//!   22.05, 32, 44.1, 48, 88.2, 96, 176.4, 192 kHz) use [`rubato::FftFixedIn`]: an exact
//!   synchronous FFT resampler, the cheapest option with a steep anti-aliasing filter (see
//!   [`CHUNK_SECONDS_INV`] for why its chunk is 100 ms).
//! - Any other rate (e.g. 44 056 Hz from a drifting device) uses [`rubato::SincFixedIn`]: band-limited
//!   sinc interpolation that handles arbitrary ratios; FFT resampling would need FFTs as long as
//!   the rate itself there.
//!
//! The resampler's group delay is removed (its first `output_delay()` frames are dropped), so
//! output frame `n` is at time `n / output_rate` of the input: positions convert back with
//! [`StreamResampler::output_to_input_position`].

use rubato::{FftFixedIn, Resampler, SincFixedIn, SincInterpolationParameters, SincInterpolationType, WindowFunction};

use crate::signal::mfcc::SAMPLE_RATE;

/// Lowest sample rate accepted, Hz.
pub const MIN_RATE: u32 = 8_000;
/// Highest sample rate accepted, Hz.
pub const MAX_RATE: u32 = 192_000;
/// Input chunk the streaming resampler works in, as a fraction of a second (100 ms).
///
/// The FFT resampler's anti-aliasing edge sharpens with its FFT length, i.e. with the chunk,
/// and the model is very sensitive to the top mel bands (3.5-4 kHz). Measured on 100 FSDD test
/// files taken 8 kHz -> 44.1/48/96 kHz -> 8 kHz (tests/resample_fsdd.rs): 20 ms chunks change
/// 27% of decisions (MFCC error 12%), 50 ms chunks 1% (1.25%), 100 ms chunks none (0.37%).
/// The price is latency: one chunk plus half an FFT, 150 ms in all.
const CHUNK_SECONDS_INV: usize = 10;
/// Sinc filter length for odd rates: its cutoff (from rubato's fit) is 0.987 x Nyquist, which
/// keeps decisions (99/100 round trips agree) at 2 x 1024 multiply-adds per output sample.
const SINC_LEN: usize = 1024;
/// Largest reduced ratio term for which the FFT resampler is used (see module docs).
const MAX_FFT_RATIO_TERM: usize = 2_048;

#[derive(Debug, thiserror::Error)]
pub enum ResampleError {
    #[error("sample rate {rate} Hz is not supported: use {MIN_RATE}..={MAX_RATE} Hz")]
    UnsupportedRate { rate: u32 },
    #[error("cannot build a {from} Hz -> {to} Hz resampler: {reason}")]
    Construction { from: u32, to: u32, reason: String },
    #[error("resampling failed: {0}")]
    Process(String),
}

/// Checks that `rate` is one the recognizer accepts.
pub fn check_rate(rate: u32) -> Result<(), ResampleError> {
    if (MIN_RATE..=MAX_RATE).contains(&rate) { Ok(()) } else { Err(ResampleError::UnsupportedRate { rate }) }
}

/// A streaming mono resampler. After [`new`](Self::new), [`process`](Self::process) does not
/// allocate, so it can run on a real-time worker.
pub struct StreamResampler {
    from: u32,
    to: u32,
    /// `None` when the rates are equal (pass-through).
    inner: Option<Inner>,
    chunk_in: usize,
    input: Vec<Vec<f32>>,
    filled: usize,
    output: Vec<Vec<f32>>,
    /// Output frames still to drop at the start (the resampler's delay).
    skip: usize,
    consumed_in: u64,
    emitted_out: u64,
}

/// The two rubato resamplers used (an enum rather than a trait object: `reset` is not object safe).
enum Inner {
    Fft(FftFixedIn<f32>),
    Sinc(SincFixedIn<f32>),
}

impl Inner {
    /// Output frames to drop so output frame 0 is input time 0. Measured with an impulse, not
    /// taken from `output_delay()`: rubato 0.16's SincFixedIn starts its output within one
    /// output frame of input time 0 (its reported delay of sinc_len * ratio / 2 frames would
    /// shift us 11 frames early at 44 056 Hz; the residual < 1 frame = 125 us at 8 kHz is
    /// irrelevant to detection positions), while FftFixedIn's reported delay is exact.
    fn delay(&mut self) -> usize {
        match self {
            Inner::Fft(r) => r.output_delay(),
            Inner::Sinc(_) => 0,
        }
    }

    fn as_resampler(&mut self) -> &mut dyn ResamplerOps {
        match self {
            Inner::Fft(r) => r,
            Inner::Sinc(r) => r,
        }
    }
}

/// The object-safe part of [`rubato::Resampler`] this module needs.
trait ResamplerOps {
    fn process_chunk(&mut self, input: &[Vec<f32>], output: &mut [Vec<f32>]) -> Result<usize, ResampleError>;
    fn output_buffer(&self) -> Vec<Vec<f32>>;
    fn reset_state(&mut self);
}

impl<R: Resampler<f32>> ResamplerOps for R {
    fn process_chunk(&mut self, input: &[Vec<f32>], output: &mut [Vec<f32>]) -> Result<usize, ResampleError> {
        self.process_into_buffer(input, output, None)
            .map(|(_, produced)| produced)
            .map_err(|e| ResampleError::Process(e.to_string()))
    }
    fn output_buffer(&self) -> Vec<Vec<f32>> {
        self.output_buffer_allocate(true)
    }
    fn reset_state(&mut self) {
        self.reset()
    }
}

fn gcd(mut a: usize, mut b: usize) -> usize {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

impl StreamResampler {
    /// A resampler from `from` Hz to `to` Hz (both in [`MIN_RATE`]..=[`MAX_RATE`]).
    pub fn new(from: u32, to: u32) -> Result<Self, ResampleError> {
        check_rate(from)?;
        check_rate(to)?;
        let construction =
            |e: rubato::ResamplerConstructionError| ResampleError::Construction { from, to, reason: e.to_string() };
        let (mut inner, chunk_in): (Option<Inner>, usize) = if from == to {
            (None, 0)
        } else {
            let g = gcd(from as usize, to as usize);
            let (min_in, min_out) = (from as usize / g, to as usize / g);
            let wanted = (from as usize / CHUNK_SECONDS_INV).max(1);
            if min_in <= MAX_FFT_RATIO_TERM && min_out <= MAX_FFT_RATIO_TERM {
                let chunk = wanted.div_ceil(min_in) * min_in;
                let r = FftFixedIn::<f32>::new(from as usize, to as usize, chunk, 1, 1).map_err(construction)?;
                (Some(Inner::Fft(r)), chunk)
            } else {
                let params = SincInterpolationParameters {
                    sinc_len: SINC_LEN,
                    f_cutoff: rubato::calculate_cutoff(SINC_LEN, WindowFunction::BlackmanHarris2),
                    oversampling_factor: 256,
                    interpolation: SincInterpolationType::Linear,
                    window: WindowFunction::BlackmanHarris2,
                };
                let r =
                    SincFixedIn::<f32>::new(to as f64 / from as f64, 1.0, params, wanted, 1).map_err(construction)?;
                (Some(Inner::Sinc(r)), wanted)
            }
        };
        let (input, output, skip) = match &mut inner {
            Some(r) => {
                let delay = r.delay();
                (vec![vec![0.0; chunk_in]], r.as_resampler().output_buffer(), delay)
            }
            None => (vec![Vec::new()], vec![Vec::new()], 0),
        };
        Ok(Self { from, to, inner, chunk_in, input, filled: 0, output, skip, consumed_in: 0, emitted_out: 0 })
    }

    /// A resampler from `from` Hz to the recognizer's 8 kHz.
    pub fn to_8k(from: u32) -> Result<Self, ResampleError> {
        Self::new(from, SAMPLE_RATE)
    }

    pub fn input_rate(&self) -> u32 {
        self.from
    }

    pub fn output_rate(&self) -> u32 {
        self.to
    }

    /// Input frames one internal processing step consumes (0 for pass-through): the most audio
    /// held back between calls.
    pub fn chunk_frames(&self) -> usize {
        self.chunk_in
    }

    /// The input position (frames since the start or the last [`flush`](Self::flush)) of output
    /// frame `out_pos`.
    pub fn output_to_input_position(&self, out_pos: u64) -> u64 {
        ((out_pos as u128 * self.from as u128 + self.to as u128 / 2) / self.to as u128) as u64
    }

    /// Feeds `input`; `emit` receives every completed block of output. Does not allocate.
    pub fn process(&mut self, mut input: &[f32], emit: &mut dyn FnMut(&[f32])) -> Result<(), ResampleError> {
        self.consumed_in += input.len() as u64;
        if self.inner.is_none() {
            self.emitted_out += input.len() as u64;
            if !input.is_empty() {
                emit(input);
            }
            return Ok(());
        }
        while !input.is_empty() {
            let take = (self.chunk_in - self.filled).min(input.len());
            self.input[0][self.filled..self.filled + take].copy_from_slice(&input[..take]);
            self.filled += take;
            input = &input[take..];
            if self.filled == self.chunk_in {
                self.run_chunk(emit, None)?;
            }
        }
        Ok(())
    }

    /// End of stream: pushes out everything still buffered (zero-padded) so the total output is
    /// exactly `round(input * to / from)` frames, then resets for a new stream.
    pub fn flush(&mut self, emit: &mut dyn FnMut(&[f32])) -> Result<(), ResampleError> {
        if self.inner.is_some() {
            let expected = self.output_to_input_position_inverse(self.consumed_in);
            // Bounded: each chunk yields about chunk_in * to / from frames, the delay is finite.
            let mut guard = 0;
            while self.emitted_out < expected && guard < 1_000 {
                self.input[0][self.filled..].fill(0.0);
                self.filled = self.chunk_in;
                let remaining = expected - self.emitted_out;
                self.run_chunk(emit, Some(remaining))?;
                guard += 1;
            }
        }
        self.reset();
        Ok(())
    }

    /// Forgets all buffered audio and positions.
    pub fn reset(&mut self) {
        if let Some(r) = &mut self.inner {
            r.as_resampler().reset_state();
            self.skip = r.delay();
        }
        self.filled = 0;
        self.consumed_in = 0;
        self.emitted_out = 0;
    }

    fn output_to_input_position_inverse(&self, in_frames: u64) -> u64 {
        ((in_frames as u128 * self.to as u128 + self.from as u128 / 2) / self.from as u128) as u64
    }

    fn run_chunk(&mut self, emit: &mut dyn FnMut(&[f32]), limit: Option<u64>) -> Result<(), ResampleError> {
        let r = self.inner.as_mut().expect("run_chunk is only called with a resampler").as_resampler();
        let produced = r.process_chunk(&self.input, &mut self.output)?;
        self.filled = 0;
        let mut out = &self.output[0][..produced];
        let dropped = self.skip.min(out.len());
        self.skip -= dropped;
        out = &out[dropped..];
        if let Some(limit) = limit {
            out = &out[..out.len().min(limit as usize)];
        }
        if !out.is_empty() {
            self.emitted_out += out.len() as u64;
            emit(out);
        }
        Ok(())
    }
}

/// Resamples a whole clip from `from` Hz to `to` Hz; the result has `round(len * to / from)`
/// samples, time-aligned with the input.
pub fn resample(samples: &[f32], from: u32, to: u32) -> Result<Vec<f32>, ResampleError> {
    let mut r = StreamResampler::new(from, to)?;
    let mut out = Vec::with_capacity((samples.len() as u64 * to as u64 / from as u64) as usize + 16);
    r.process(samples, &mut |block| out.extend_from_slice(block))?;
    r.flush(&mut |block| out.extend_from_slice(block))?;
    Ok(out)
}

/// Resamples a whole clip to the recognizer's 8 kHz (returns the input unchanged at 8 kHz).
pub fn resample_to_8k(samples: &[f32], from: u32) -> Result<Vec<f32>, ResampleError> {
    resample(samples, from, SAMPLE_RATE)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::f32::consts::PI;

    fn rms(x: &[f32]) -> f32 {
        (x.iter().map(|v| v * v).sum::<f32>() / x.len() as f32).sqrt()
    }

    fn tone(freq: f32, rate: u32, len: usize) -> Vec<f32> {
        (0..len).map(|n| 0.5 * (2.0 * PI * freq * n as f32 / rate as f32).sin()).collect()
    }

    #[test]
    fn rejects_rates_outside_the_supported_range() {
        for rate in [0, 7_999, 192_001] {
            assert!(matches!(StreamResampler::to_8k(rate), Err(ResampleError::UnsupportedRate { .. })), "{rate}");
        }
        let msg = StreamResampler::to_8k(4_000).err().unwrap().to_string();
        assert!(msg.contains("4000") && msg.contains("8000"), "{msg}");
    }

    #[test]
    fn lengths_are_exact_and_tones_keep_phase_for_fft_and_sinc_paths() {
        // 48 kHz and 44.1 kHz take the FFT path, 44 056 Hz the sinc path.
        for rate in [48_000u32, 44_100, 96_000, 44_056, 8_000] {
            let len = rate as usize; // one second
            let input = tone(440.0, rate, len);
            let out = resample_to_8k(&input, rate).unwrap();
            assert_eq!(out.len(), 8_000, "{rate} Hz");
            let expected = tone(440.0, 8_000, 8_000);
            if rate == 44_056 {
                // Sinc path: amplitude kept; timing is checked to one frame by the impulse test.
                let (a, b) = (rms(&out[400..7600]), rms(&expected[400..7600]));
                assert!((a / b - 1.0).abs() < 0.02, "{rate} Hz: rms {a} vs {b}");
                continue;
            }
            // Ignore the edges (filter ramp-up / zero padding at the end).
            let err = out[400..7600].iter().zip(&expected[400..7600]).map(|(a, b)| (a - b).abs()).fold(0.0, f32::max);
            assert!(err < 0.01, "{rate} Hz: max error {err}");
        }
    }

    #[test]
    fn an_impulse_comes_out_at_the_same_time() {
        for rate in [48_000u32, 44_100, 44_056, 96_000, 16_000] {
            let mut input = vec![0.0f32; rate as usize];
            input[rate as usize / 2] = 1.0;
            let out = resample_to_8k(&input, rate).unwrap();
            let peak = (0..out.len()).max_by(|&a, &b| out[a].total_cmp(&out[b])).unwrap();
            let tolerance = if rate == 44_056 { 1 } else { 0 };
            assert!(peak.abs_diff(4_000) <= tolerance, "{rate} Hz: peak at {peak}");
        }
    }

    #[test]
    fn energy_above_the_new_nyquist_is_removed() {
        let out = resample_to_8k(&tone(6_000.0, 48_000, 48_000), 48_000).unwrap();
        let rms = (out[400..7600].iter().map(|x| x * x).sum::<f32>() / 7200.0).sqrt();
        assert!(rms < 0.005, "6 kHz tone leaks through at rms {rms}");
    }

    #[test]
    fn streaming_in_odd_blocks_equals_one_shot() {
        let rate = 44_100;
        let input = tone(300.0, rate, 30_000);
        let one_shot = resample_to_8k(&input, rate).unwrap();
        let mut r = StreamResampler::to_8k(rate).unwrap();
        let mut streamed = Vec::new();
        for block in input.chunks(333) {
            r.process(block, &mut |b| streamed.extend_from_slice(b)).unwrap();
        }
        r.flush(&mut |b| streamed.extend_from_slice(b)).unwrap();
        assert_eq!(streamed, one_shot);
        assert_eq!(r.output_to_input_position(8_000), 44_100);
    }
}
