//! WAV in: any bit depth hound reads (8/16/24/32-bit integer, 32-bit float), any channel count
//! (downmixed to mono by averaging), any sample rate (kept; see [`crate::signal::resample`]).

use std::io::{Read, Seek};
use std::path::{Path, PathBuf};

use hound::{SampleFormat, WavReader};

/// Why a WAV file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum AudioError {
    #[error("{path}: cannot open: {source}")]
    Open { path: PathBuf, source: std::io::Error },
    #[error("{path}: not a readable WAV file: {reason}")]
    NotWav { path: PathBuf, reason: String },
    #[error("{path}: unsupported WAV format: {format}")]
    Unsupported { path: PathBuf, format: String },
    #[error("{path}: WAV data is truncated or corrupt after {frames} frames: {reason}")]
    Truncated { path: PathBuf, frames: usize, reason: String },
    #[error("{path}: WAV file holds no audio")]
    Empty { path: PathBuf },
}

/// Mono audio at its own sample rate, samples nominally in [-1, 1].
#[derive(Debug, Clone, PartialEq)]
pub struct AudioClip {
    pub samples: Vec<f32>,
    pub sample_rate: u32,
}

impl AudioClip {
    pub fn duration_s(&self) -> f64 {
        self.samples.len() as f64 / self.sample_rate as f64
    }
}

/// Reads a WAV file and downmixes it to mono.
pub fn read_wav(path: impl AsRef<Path>) -> Result<AudioClip, AudioError> {
    let path = path.as_ref();
    let file = std::fs::File::open(path).map_err(|source| AudioError::Open { path: path.to_owned(), source })?;
    read_wav_from(std::io::BufReader::new(file), path)
}

/// Reads WAV data from any reader; `path` only names it in errors.
pub fn read_wav_from<R: Read + Seek>(reader: R, path: &Path) -> Result<AudioClip, AudioError> {
    let reader = WavReader::new(reader).map_err(|e| match e {
        hound::Error::Unsupported => AudioError::Unsupported { path: path.to_owned(), format: e.to_string() },
        other => AudioError::NotWav { path: path.to_owned(), reason: other.to_string() },
    })?;
    let spec = reader.spec();
    let unsupported = |what: String| AudioError::Unsupported { path: path.to_owned(), format: what };
    if spec.channels == 0 {
        return Err(unsupported("0 channels".into()));
    }
    if spec.sample_rate == 0 {
        return Err(unsupported("sample rate 0 Hz".into()));
    }
    let channels = spec.channels as usize;
    let interleaved: Vec<f32> = match (spec.sample_format, spec.bits_per_sample) {
        (SampleFormat::Float, 32) => collect(reader.into_samples::<f32>(), path, channels, |s| s)?,
        (SampleFormat::Int, bits @ 1..=32) => {
            let scale = 1.0 / (1u64 << (bits - 1)) as f32;
            collect(reader.into_samples::<i32>(), path, channels, |s| s as f32 * scale)?
        }
        (format, bits) => return Err(unsupported(format!("{bits}-bit {format:?}"))),
    };
    if interleaved.is_empty() {
        return Err(AudioError::Empty { path: path.to_owned() });
    }
    let samples = if channels == 1 {
        interleaved
    } else {
        interleaved.chunks_exact(channels).map(|frame| frame.iter().sum::<f32>() / channels as f32).collect()
    };
    Ok(AudioClip { samples, sample_rate: spec.sample_rate })
}

fn collect<S, I: Iterator<Item = hound::Result<S>>>(
    samples: I,
    path: &Path,
    channels: usize,
    convert: impl Fn(S) -> f32,
) -> Result<Vec<f32>, AudioError> {
    let mut out = Vec::new();
    for s in samples {
        match s {
            Ok(s) => out.push(convert(s)),
            Err(e) => {
                return Err(AudioError::Truncated {
                    path: path.to_owned(),
                    frames: out.len() / channels,
                    reason: e.to_string(),
                });
            }
        }
    }
    // A partial last frame means the data chunk was cut mid-frame.
    out.truncate(out.len() - out.len() % channels);
    Ok(out)
}

/// Writes 16-bit mono PCM (used by tools and tests that synthesise audio).
pub fn write_wav_i16(path: impl AsRef<Path>, samples: &[f32], sample_rate: u32) -> Result<(), hound::Error> {
    let spec = hound::WavSpec { channels: 1, sample_rate, bits_per_sample: 16, sample_format: SampleFormat::Int };
    let mut w = hound::WavWriter::create(path, spec)?;
    for &s in samples {
        w.write_sample((s.clamp(-1.0, 1.0) * 32767.0).round() as i16)?;
    }
    w.finalize()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    fn encode(spec: hound::WavSpec, write: impl FnOnce(&mut hound::WavWriter<&mut Cursor<Vec<u8>>>)) -> Vec<u8> {
        let mut buf = Cursor::new(Vec::new());
        {
            let mut w = hound::WavWriter::new(&mut buf, spec).unwrap();
            write(&mut w);
            w.finalize().unwrap();
        }
        buf.into_inner()
    }

    fn spec(channels: u16, bits: u16, format: SampleFormat) -> hound::WavSpec {
        hound::WavSpec { channels, sample_rate: 44100, bits_per_sample: bits, sample_format: format }
    }

    fn read(bytes: Vec<u8>) -> Result<AudioClip, AudioError> {
        read_wav_from(Cursor::new(bytes), Path::new("mem.wav"))
    }

    #[test]
    fn every_integer_depth_reads_half_scale_as_one_half() {
        for bits in [8u16, 16, 24, 32] {
            let half = 1i32 << (bits - 2);
            let bytes = encode(spec(1, bits, SampleFormat::Int), |w| {
                for s in [half, -half] {
                    match bits {
                        8 => w.write_sample(s as i8).unwrap(),
                        16 => w.write_sample(s as i16).unwrap(),
                        _ => w.write_sample(s).unwrap(),
                    }
                }
            });
            let clip = read(bytes).unwrap();
            assert_eq!(clip.samples, vec![0.5, -0.5], "{bits}-bit");
            assert_eq!(clip.sample_rate, 44100);
        }
    }

    #[test]
    fn float_stereo_is_averaged_to_mono() {
        let bytes = encode(spec(2, 32, SampleFormat::Float), |w| {
            for s in [0.5f32, 0.1, -1.0, 0.0] {
                w.write_sample(s).unwrap();
            }
        });
        let clip = read(bytes).unwrap();
        assert_eq!(clip.samples, vec![0.3, -0.5]);
    }

    #[test]
    fn bad_files_give_typed_errors() {
        assert!(matches!(read(Vec::new()), Err(AudioError::NotWav { .. })));
        assert!(matches!(read(b"this is not a wav file at all, just text".to_vec()), Err(AudioError::NotWav { .. })));
        let empty = encode(spec(1, 16, SampleFormat::Int), |_| {});
        assert!(matches!(read(empty), Err(AudioError::Empty { .. })));
        let mut full = encode(spec(1, 16, SampleFormat::Int), |w| {
            for i in 0..1000 {
                w.write_sample(i as i16).unwrap();
            }
        });
        full.truncate(full.len() - 999);
        match read(full) {
            Err(AudioError::Truncated { frames, .. }) => assert!(frames > 0 && frames < 1000),
            other => panic!("expected Truncated, got {other:?}"),
        }
        let missing = read_wav("/nonexistent/dir/x.wav");
        assert!(matches!(missing, Err(AudioError::Open { .. })));
        assert!(missing.unwrap_err().to_string().contains("/nonexistent/dir/x.wav"));
    }
}
