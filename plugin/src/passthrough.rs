//! The audio path: the plugin's output is its input, made safe; the analysis gets its own
//! gained mono copy.

/// Cleans one output sample: subnormals become 0 (hosts' validators reject denormal output and
/// they cost CPU downstream), NaN/Inf become 0 (one bad sample must not poison the rest of the
/// mix). Every other value passes bit for bit.
#[inline]
pub fn sanitize(sample: f32) -> f32 {
    if sample.is_normal() || sample == 0.0 { sample } else { 0.0 }
}

/// Sanitizes every channel in place.
pub fn sanitize_channels(channels: &mut [&mut [f32]]) {
    for channel in channels.iter_mut() {
        for sample in channel.iter_mut() {
            *sample = sanitize(*sample);
        }
    }
}

/// Writes the mean of `channels[..][offset..offset + out.len()]` times `gain` into `out`.
/// NaN/Inf pass through here; the core's `AudioSender::push` replaces them with 0.
pub fn downmix_into(channels: &[&mut [f32]], offset: usize, gain: f32, out: &mut [f32]) {
    match channels {
        [] => out.fill(0.0),
        [mono] => {
            for (o, &x) in out.iter_mut().zip(&mono[offset..]) {
                *o = x * gain;
            }
        }
        [first, rest @ ..] => {
            let scale = gain / channels.len() as f32;
            out.copy_from_slice(&first[offset..offset + out.len()]);
            for channel in rest {
                for (o, &x) in out.iter_mut().zip(&channel[offset..]) {
                    *o += x;
                }
            }
            for o in out.iter_mut() {
                *o *= scale;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normal_values_and_zeros_pass_bit_for_bit() {
        for x in [0.0f32, -0.0, 1.0, -1.0, 0.25, f32::MIN_POSITIVE, -f32::MIN_POSITIVE, 3.0e38] {
            assert_eq!(sanitize(x).to_bits(), x.to_bits());
        }
    }

    #[test]
    fn subnormal_nan_and_inf_become_zero() {
        for x in [1.0e-40f32, -1.0e-45, f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
            assert_eq!(sanitize(x), 0.0);
        }
    }

    #[test]
    fn downmix_averages_channels_and_applies_gain() {
        let mut left = [1.0f32, 0.5, 0.0, 2.0];
        let mut right = [0.0f32, 0.5, 1.0, 2.0];
        let channels: [&mut [f32]; 2] = [&mut left, &mut right];
        let mut out = [0.0f32; 2];
        downmix_into(&channels, 1, 2.0, &mut out);
        assert_eq!(out, [1.0, 1.0]);
        let mut mono = [0.5f32, 0.25];
        let channels: [&mut [f32]; 1] = [&mut mono];
        let mut out = [0.0f32; 2];
        downmix_into(&channels, 0, 4.0, &mut out);
        assert_eq!(out, [2.0, 1.0]);
    }
}
