//! Live audio from a cpal input device into the engine. The device keeps its own rate, channel
//! count and sample format (the engine resamples and downmixes); the stream callback only
//! converts samples into a buffer allocated up front and calls
//! [`AudioSender::push_interleaved`]: no allocation, no lock, no waiting.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::{Context, anyhow, bail};
use cpal::traits::{DeviceTrait, HostTrait, StreamTrait};
use cpal::{FromSample, SampleFormat, SizedSample};
use fsdd_core::AudioSender;

/// Samples converted per step inside the callback (the scratch buffer's size).
const SCRATCH_SAMPLES: usize = 16_384;

/// One input device, as `--list-devices` prints it.
#[derive(Clone, Debug)]
pub struct InputDeviceInfo {
    pub name: String,
    pub id: String,
    pub is_default: bool,
    /// "48000 Hz, 2 ch, f32", or why it has none.
    pub default_config: String,
}

/// What to tell a user who has no usable input device.
pub const NO_DEVICE_HINT: &str = "list devices with `fsdd-tui --list-devices`, pick one with --device NAME, or play WAV files \
     without a microphone: `fsdd-tui --input FILE.wav|DIR`";

/// ALSA prints every probe failure to stderr (dozens of lines on a machine without sound
/// cards); keep them away from the terminal while cpal enumerates.
#[cfg(target_os = "linux")]
fn quiet_alsa<T>(f: impl FnOnce() -> T) -> T {
    let _handler = alsa::Output::local_error_handler().ok();
    f()
}

#[cfg(not(target_os = "linux"))]
fn quiet_alsa<T>(f: impl FnOnce() -> T) -> T {
    f()
}

pub fn list_input_devices() -> anyhow::Result<Vec<InputDeviceInfo>> {
    quiet_alsa(|| {
        let host = cpal::default_host();
        let default_id = host.default_input_device().and_then(|d| d.id().ok()).map(|id| id.to_string());
        let devices = host.input_devices().context("cannot enumerate audio input devices")?;
        Ok(devices
            .map(|d| {
                let id = d.id().map(|id| id.to_string()).unwrap_or_else(|_| "?".into());
                let name = d.description().map(|desc| desc.name().to_string()).unwrap_or_else(|_| id.clone());
                let default_config = match d.default_input_config() {
                    Ok(c) => format!("{} Hz, {} ch, {}", c.sample_rate(), c.channels(), c.sample_format()),
                    Err(e) => format!("no input config: {e}"),
                };
                InputDeviceInfo { is_default: Some(&id) == default_id.as_ref(), name, id, default_config }
            })
            .collect())
    })
}

/// A device chosen and configured, not yet streaming.
pub struct InputDevice {
    device: cpal::Device,
    config: cpal::SupportedStreamConfig,
    pub name: String,
}

impl InputDevice {
    /// The default input, or the device whose name or id is `wanted`.
    pub fn open(wanted: Option<&str>) -> anyhow::Result<Self> {
        quiet_alsa(|| Self::open_inner(wanted))
    }

    fn open_inner(wanted: Option<&str>) -> anyhow::Result<Self> {
        let host = cpal::default_host();
        let device = match wanted {
            None => host
                .default_input_device()
                .ok_or_else(|| anyhow!("no audio input device found (no microphone?): {NO_DEVICE_HINT}"))?,
            Some(wanted) => {
                let devices = host.input_devices().context("cannot enumerate audio input devices")?;
                let mut names = Vec::new();
                let mut found = None;
                for d in devices {
                    let id = d.id().map(|id| id.to_string()).unwrap_or_default();
                    let name = d.description().map(|desc| desc.name().to_string()).unwrap_or_default();
                    if name == wanted || id == wanted {
                        found = Some(d);
                        break;
                    }
                    names.push(if name.is_empty() { id } else { name });
                }
                found.ok_or_else(|| {
                    anyhow!("no input device named {wanted:?} (found: {}); {NO_DEVICE_HINT}", names.join(", "))
                })?
            }
        };
        let id = device.id().map(|id| id.to_string()).unwrap_or_else(|_| "?".into());
        let name = device.description().map(|d| d.name().to_string()).unwrap_or(id);
        let config = device
            .default_input_config()
            .map_err(|e| anyhow!("input device {name:?} offers no capture format ({e}): {NO_DEVICE_HINT}"))?;
        Ok(Self { device, config, name })
    }

    pub fn sample_rate(&self) -> u32 {
        self.config.sample_rate()
    }

    pub fn channels(&self) -> u16 {
        self.config.channels()
    }

    pub fn describe(&self) -> String {
        format!("{} ({} Hz, {} ch, {})", self.name, self.sample_rate(), self.channels(), self.config.sample_format())
    }

    /// Starts capturing into `sender`. Stream errors are counted in `errors` (the callback must
    /// not allocate an error message).
    pub fn start(self, sender: AudioSender, errors: Arc<AtomicU64>) -> anyhow::Result<cpal::Stream> {
        let channels = self.channels() as usize;
        let config: cpal::StreamConfig = self.config.config();
        let on_error = move |_e: cpal::Error| {
            errors.fetch_add(1, Ordering::Relaxed);
        };
        let stream = quiet_alsa(|| match self.config.sample_format() {
            SampleFormat::F32 => build::<f32>(&self.device, config, channels, sender, on_error),
            SampleFormat::I16 => build::<i16>(&self.device, config, channels, sender, on_error),
            SampleFormat::I32 => build::<i32>(&self.device, config, channels, sender, on_error),
            SampleFormat::U16 => build::<u16>(&self.device, config, channels, sender, on_error),
            SampleFormat::U8 => build::<u8>(&self.device, config, channels, sender, on_error),
            SampleFormat::I8 => build::<i8>(&self.device, config, channels, sender, on_error),
            SampleFormat::F64 => build::<f64>(&self.device, config, channels, sender, on_error),
            other => bail!("input device {:?} delivers {other} samples, which fsdd-tui cannot read", self.name),
        })?;
        stream.play().with_context(|| format!("cannot start capturing from {:?}", self.name))?;
        Ok(stream)
    }
}

fn build<T>(
    device: &cpal::Device,
    config: cpal::StreamConfig,
    channels: usize,
    mut sender: AudioSender,
    on_error: impl FnMut(cpal::Error) + Send + 'static,
) -> anyhow::Result<cpal::Stream>
where
    T: SizedSample + Send + 'static,
    f32: FromSample<T>,
{
    // Whole frames per conversion step, so push_interleaved always sees complete frames.
    let step = (SCRATCH_SAMPLES / channels.max(1)) * channels.max(1);
    let mut scratch = vec![0.0f32; step.max(1)];
    let callback = move |data: &[T], _: &cpal::InputCallbackInfo| {
        for chunk in data.chunks(step.max(1)) {
            let out = &mut scratch[..chunk.len()];
            for (o, &s) in out.iter_mut().zip(chunk) {
                *o = f32::from_sample_(s);
            }
            sender.push_interleaved(out, channels);
        }
    };
    device
        .build_input_stream::<T, _, _>(config, callback, on_error, None)
        .map_err(|e| anyhow!("cannot open an input stream: {e}: {NO_DEVICE_HINT}"))
}
