//! The digit CNN in tch.
//!
//! Shape, chosen for tract's speed at batch 1 (field notes: the first conv on a 1-channel 64x64
//! image and a max-pool over 16x64x64 dominate tract's time, so the image is halved by the very
//! first conv and pooled right after), and measured on FSDD (see the model card):
//!
//! ```text
//! mfcc [N,1,64,64] -> keep coefficients 0..K (K = 32 by default)  [N,1,K,64]
//!   -> per-band normalisation (fixed, from the train split)
//!   conv1 3x3 stride 2 (1 -> c1)  + BN + ReLU   [N,c1,K/2,32]
//!   max-pool 2x2                                [N,c1,K/4,16]
//!   conv2 3x3 (c1 -> c2)          + BN + ReLU   [N,c2,K/4,16]
//!   conv3 3x3 stride 2 (c2 -> c3) + BN + ReLU   [N,c3,K/8,8]
//!   flatten -> fc1 (fc1)          + BN + ReLU + dropout
//!           -> fc2 (embedding)    + BN + ReLU          = `embedding`
//!           -> dropout -> fc3 (11) -> softmax          = `probs` (digits, not a digit)
//! ```
//! Why K = 32: the upper half of the cepstrum is fine spectral detail (pitch harmonics, mostly
//! speaker identity); dropping it halved tract's time (170 -> 90 us with c1 = 16) and did not
//! hurt test accuracy in our runs, where thinning conv1 to 8 channels instead did.
//! Convolutions and dense layers carry no bias of their own: the batch norm after each one has
//! it, and export folds every batch norm into the layer before it.

use fsdd_core::signal::mfcc::{N_FRAMES, N_MFCC};
use serde::{Deserialize, Serialize};
use tch::nn;
use tch::{Kind, Tensor};

/// Outputs: digits 0-9 and "not a digit" (`fsdd_core::inference::model::NOT_A_DIGIT`).
pub const N_CLASSES: i64 = fsdd_core::inference::model::N_OUTPUTS as i64;

/// Layer widths; kept in checkpoints and the model card.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ModelSpec {
    pub conv1: i64,
    pub conv2: i64,
    pub conv3: i64,
    pub fc1: i64,
    pub embedding: i64,
    pub dropout: f64,
    /// MFCC coefficients the network reads (the first `coefficients` of 64, a multiple of 8);
    /// the graph crops its 64-coefficient input itself, so the contract does not change.
    #[serde(default = "all_coefficients")]
    pub coefficients: i64,
    /// A second input channel: the same MFCC after per-utterance cepstral mean normalisation
    /// (see [`cepstral_mean_norm`]), beside the raw one.
    #[serde(default)]
    pub cepstral_mean_norm: bool,
}

fn all_coefficients() -> i64 {
    N_MFCC as i64
}

impl Default for ModelSpec {
    fn default() -> Self {
        Self {
            conv1: 16,
            // 48 rather than 32: with synthetic speakers and heavier augmentation the 32-wide
            // net lost 1-2 points on the validation takes; conv2/conv3 run on the pooled
            // image, so the width costs tract far less than conv1's would.
            conv2: 48,
            conv3: 48,
            fc1: 64,
            embedding: 64,
            // 0.1 rather than 0.3: the net underfits its augmented fit set. With the grown
            // training noise corpus, 0.1 got 70.7% of held-out strangers' digits in `trainer
            // loso` (0.3 on the smaller corpus: 63.4%); on the smaller corpus 0.1 had made 2-4x
            // the false notes on held-out music and wind. Also the trainer's --dropout default.
            dropout: 0.1,
            coefficients: 32,
            cepstral_mean_norm: false,
        }
    }
}

/// A frame whose c0 is at most this is zero padding or digital silence: the log floor gives
/// c0 = -100 dB * sqrt(64) = -800; -790 is a mean log-mel only 1.25 dB above the floor.
pub const SILENT_C0: f32 = -790.0;

/// Frames more than this below the window's loudest frame (in c0 units: 8 per dB of mean
/// log-mel, so 240 = 30 dB) do not count towards the cepstral mean: they are background, and a
/// mean over them would move with the noise floor and the length of the pauses, not the channel.
pub const MEAN_RANGE_C0: f32 = 240.0;

/// Cepstral mean normalisation per utterance: subtracts each coefficient's mean over the
/// window's speech frames (within [`MEAN_RANGE_C0`] of the loudest and not silent) from every
/// non-silent frame (c0 > [`SILENT_C0`]), and zeroes the silent ones (padding).
///
/// A microphone or room is a fixed filter, i.e. a constant added to every frame's cepstrum, so
/// this removes it (and the level); what is left is how the spectrum moves, which is the word.
/// `x` is `[N,1,K,T]` with c0 in row 0. The ONNX export writes the same ops.
pub fn cepstral_mean_norm(x: &Tensor) -> Tensor {
    let c0 = x.narrow(2, 0, 1);
    let frames = c0.gt(SILENT_C0 as f64).to_kind(Kind::Float);
    let peak = c0.amax([3i64].as_slice(), true);
    let speech = c0.gt_tensor(&(peak - MEAN_RANGE_C0 as f64)).to_kind(Kind::Float) * &frames;
    let count = speech.sum_dim_intlist([3i64].as_slice(), true, Kind::Float).clamp_min(1.0);
    let mean = (x * &speech).sum_dim_intlist([3i64].as_slice(), true, Kind::Float) / count;
    (x - mean) * frames
}

impl ModelSpec {
    /// Each spatial side shrinks 8x: /2 (conv1), /2 (pool), /1 (conv2), /2 (conv3).
    pub const DOWNSAMPLING: i64 = 8;

    /// Raw MFCC, plus its cepstral-mean-normalised copy if asked for.
    pub fn input_channels(&self) -> i64 {
        1 + self.cepstral_mean_norm as i64
    }

    pub fn flat_features(&self) -> i64 {
        self.conv3 * (self.coefficients / Self::DOWNSAMPLING) * (N_FRAMES as i64 / Self::DOWNSAMPLING)
    }

    /// Parses `conv1,conv2,conv3,fc1,embedding` (the CLI's `--widths`).
    pub fn with_widths(self, widths: &str) -> Result<Self, String> {
        let w: Vec<i64> = widths
            .split(',')
            .map(|v| v.trim().parse::<i64>().map_err(|e| format!("--widths {widths}: {e}")))
            .collect::<Result<_, _>>()?;
        match w[..] {
            [conv1, conv2, conv3, fc1, embedding] if w.iter().all(|&v| v > 0) && embedding <= 128 => {
                Ok(Self { conv1, conv2, conv3, fc1, embedding, ..self })
            }
            _ => Err(format!(
                "--widths {widths}: need five positive widths conv1,conv2,conv3,fc1,embedding (embedding <= 128)"
            )),
        }
    }

    /// Human-readable layer list for the model card.
    pub fn describe(&self) -> String {
        format!(
            "crop to MFCC coefficients 0..{k}{cmn} -> per-band normalisation (baked in) -> conv3x3/2 ({ch}->{c1}) +BN+ReLU -> maxpool 2x2 -> conv3x3 ({c1}->{c2}) +BN+ReLU \
             -> conv3x3/2 ({c2}->{c3}) +BN+ReLU -> flatten ({flat}) -> dense {fc1} +BN+ReLU+dropout {p} -> dense {e} +BN+ReLU \
             (= embedding) -> dropout {p} -> dense {n} (digits 0-9, not a digit) -> softmax (= probs); batch norms folded into the layers at export",
            n = N_CLASSES,
            k = self.coefficients,
            cmn =
                if self.cepstral_mean_norm { " -> channels [raw, per-utterance cepstral-mean-normalised]" } else { "" },
            ch = self.input_channels(),
            c1 = self.conv1,
            c2 = self.conv2,
            c3 = self.conv3,
            flat = self.flat_features(),
            fc1 = self.fc1,
            e = self.embedding,
            p = self.dropout
        )
    }
}

/// One convolution and its batch norm.
#[derive(Debug)]
pub struct ConvBn {
    pub conv: nn::Conv2D,
    pub bn: nn::BatchNorm,
    pub stride: i64,
}

/// One dense layer and its batch norm.
#[derive(Debug)]
pub struct DenseBn {
    pub linear: nn::Linear,
    pub bn: nn::BatchNorm,
}

#[derive(Debug)]
pub struct DigitNet {
    pub spec: ModelSpec,
    /// Per-band (per MFCC coefficient) mean, `[1,1,64,1]`, not trained.
    pub band_mean: Tensor,
    /// Per-band 1/std, `[1,1,64,1]`, not trained.
    pub band_inv_std: Tensor,
    pub conv1: ConvBn,
    pub conv2: ConvBn,
    pub conv3: ConvBn,
    pub fc1: DenseBn,
    pub fc2: DenseBn,
    pub fc3: nn::Linear,
}

/// PyTorch's batch-norm initialisation (weight 1); tch's default draws it from U(0,1).
fn bn_config() -> nn::BatchNormConfig {
    nn::BatchNormConfig { ws_init: nn::Init::Const(1.0), ..Default::default() }
}

fn conv_bn(vs: &nn::Path, name: &str, input: i64, output: i64, stride: i64) -> ConvBn {
    let config = nn::ConvConfig { stride, padding: 1, bias: false, ..Default::default() };
    ConvBn {
        conv: nn::conv2d(vs / name, input, output, 3, config),
        bn: nn::batch_norm2d(vs / format!("{name}_bn"), output, bn_config()),
        stride,
    }
}

fn dense_bn(vs: &nn::Path, name: &str, input: i64, output: i64) -> DenseBn {
    let config = nn::LinearConfig { bias: false, ..Default::default() };
    DenseBn {
        linear: nn::linear(vs / name, input, output, config),
        bn: nn::batch_norm1d(vs / format!("{name}_bn"), output, bn_config()),
    }
}

impl DigitNet {
    pub fn new(vs: &nn::Path, spec: ModelSpec) -> Self {
        assert!(
            spec.coefficients >= 8 && spec.coefficients <= N_MFCC as i64 && spec.coefficients % 8 == 0,
            "coefficients must be a multiple of 8 in 8..=64"
        );
        let channels = spec.input_channels();
        let bands = [1, channels, spec.coefficients, 1];
        Self {
            spec,
            band_mean: vs.zeros_no_train("band_mean", &bands),
            band_inv_std: vs.ones_no_train("band_inv_std", &bands),
            conv1: conv_bn(vs, "conv1", channels, spec.conv1, 2),
            conv2: conv_bn(vs, "conv2", spec.conv1, spec.conv2, 1),
            conv3: conv_bn(vs, "conv3", spec.conv2, spec.conv3, 2),
            fc1: dense_bn(vs, "fc1", spec.flat_features(), spec.fc1),
            fc2: dense_bn(vs, "fc2", spec.fc1, spec.embedding),
            fc3: nn::linear(vs / "fc3", spec.embedding, N_CLASSES, Default::default()),
        }
    }

    /// What the network sees before the per-band normalisation: the first `coefficients` rows,
    /// mean-normalised per utterance if the spec asks for it.
    fn front_end(&self, mfcc: &Tensor) -> Tensor {
        let x = mfcc.narrow(2, 0, self.spec.coefficients);
        if self.spec.cepstral_mean_norm {
            let normalised = cepstral_mean_norm(&x);
            Tensor::cat(&[x, normalised], 1)
        } else {
            x
        }
    }

    /// Sets the fixed per-band normalisation to the mean and standard deviation of the
    /// front end's output over every frame of `features` (concatenated raw MFCC windows).
    pub fn fit_normalisation(&mut self, features: &[f32]) {
        tch::no_grad(|| {
            let x = self.front_end(&mfcc_batch(features));
            let dims = [0i64, 3];
            let mean = x.mean_dim(dims.as_slice(), true, Kind::Float);
            let std = x.std_dim(dims.as_slice(), false, true);
            let inv_std = std.clamp_min(1e-3).reciprocal();
            self.band_mean.copy_(&mean);
            self.band_inv_std.copy_(&inv_std);
        });
    }

    /// Logits `[N,10]` and embedding `[N,E]` for raw MFCC `[N,1,64,64]`.
    pub fn forward(&self, mfcc: &Tensor, train: bool) -> (Tensor, Tensor) {
        let x = self.front_end(mfcc);
        let x = (x - &self.band_mean) * &self.band_inv_std;
        let x = self.conv1.forward(&x, train).max_pool2d([2, 2], [2, 2], [0, 0], [1, 1], false);
        let x = self.conv2.forward(&x, train);
        let x = self.conv3.forward(&x, train).flatten(1, -1);
        let x = self.fc1.forward(&x, train).dropout(self.spec.dropout, train);
        let embedding = self.fc2.forward(&x, train);
        let logits = embedding.dropout(self.spec.dropout, train).apply(&self.fc3);
        (logits, embedding)
    }

    /// Softmax probabilities and embedding in eval mode, as the exported graph computes them.
    pub fn predict(&self, mfcc: &Tensor) -> (Tensor, Tensor) {
        tch::no_grad(|| {
            let (logits, embedding) = self.forward(mfcc, false);
            (logits.softmax(-1, Kind::Float), embedding)
        })
    }
}

impl ConvBn {
    fn forward(&self, x: &Tensor, train: bool) -> Tensor {
        x.apply(&self.conv).apply_t(&self.bn, train).relu()
    }
}

impl DenseBn {
    fn forward(&self, x: &Tensor, train: bool) -> Tensor {
        x.apply(&self.linear).apply_t(&self.bn, train).relu()
    }
}

/// Trainable parameters (batch-norm running statistics and the normalisation are not).
pub fn parameter_count(vs: &nn::VarStore) -> i64 {
    vs.trainable_variables().iter().map(Tensor::numel).map(|n| n as i64).sum()
}

/// A raw MFCC batch `[N,1,64,64]` from concatenated windows.
pub fn mfcc_batch(features: &[f32]) -> Tensor {
    let n = (features.len() / (N_MFCC * N_FRAMES)) as i64;
    Tensor::from_slice(features).reshape([n, 1, N_MFCC as i64, N_FRAMES as i64])
}

#[cfg(test)]
mod tests {
    use super::*;

    /// MFCC of 0.3 s of a synthetic vowel (harmonics of 140 Hz under a decaying envelope) after
    /// 0.1 s of -80 dBFS noise, then padding: the window the recognizer sees.
    fn vowel_mfcc() -> Tensor {
        use fsdd_core::signal::mfcc::{FEATURE_LEN, MfccExtractor};
        let mut wave = Vec::new();
        let mut seed = 1u32;
        for i in 0..3200 {
            seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            let noise = (seed >> 8) as f32 / (1u32 << 24) as f32 - 0.5;
            let t = i as f32 / 8000.0;
            let voice = if i >= 800 {
                (1..20).map(|h| (std::f32::consts::TAU * 140.0 * h as f32 * t).sin() / h as f32).sum::<f32>()
                    * 0.2
                    * (-(t - 0.1) * 4.0).exp()
            } else {
                0.0
            };
            wave.push(voice + 2e-4 * noise);
        }
        let mut out = vec![0.0f32; FEATURE_LEN];
        MfccExtractor::new().compute_into(&wave, &mut out);
        mfcc_batch(&out)
    }

    #[test]
    fn cepstral_mean_norm_removes_a_fixed_channel_and_keeps_padding_silent() {
        let x = vowel_mfcc();
        let y = cepstral_mean_norm(&x);
        // Frames past the 3200 samples (+ half a window) are padding: zero after normalisation.
        let tail = y.narrow(3, 30, 34).abs().max().double_value(&[]);
        assert_eq!(tail, 0.0, "padding frames must stay silent");
        // A fixed filter adds the same vector to every frame's cepstrum: the output must not move.
        let frames = x.narrow(2, 0, 1).gt(SILENT_C0 as f64).to_kind(Kind::Float);
        let channel =
            Tensor::from_slice(&(0..64).map(|k| 3.0 - 0.1 * k as f32).collect::<Vec<_>>()).reshape([1, 1, 64, 1]);
        let coloured = &x + channel * &frames;
        let diff = (cepstral_mean_norm(&coloured) - &y).abs().max().double_value(&[]);
        assert!(diff < 1e-3, "a fixed channel moved the normalised features by {diff}");
        // The leading noise (40 dB below the vowel) is not part of the mean: the vowel frames
        // are centred on their own average, c0 of the loud frames averages to ~0.
        let loud =
            x.narrow(2, 0, 1).gt_tensor(&(x.narrow(2, 0, 1).amax([3i64].as_slice(), true) - MEAN_RANGE_C0 as f64));
        let c0 = y.narrow(2, 0, 1);
        let loud_mean = (c0 * loud.to_kind(Kind::Float)).sum(Kind::Float).double_value(&[]);
        assert!(loud_mean.abs() < 1e-2, "c0 over the speech frames sums to {loud_mean}");
    }

    #[test]
    fn shapes_and_parameter_budget() {
        let vs = nn::VarStore::new(tch::Device::Cpu);
        let net = DigitNet::new(&vs.root(), ModelSpec::default());
        let (logits, embedding) = net.forward(&Tensor::zeros([3, 1, 64, 64], (Kind::Float, tch::Device::Cpu)), false);
        assert_eq!(logits.size(), [3, N_CLASSES]);
        assert_eq!(embedding.size(), [3, ModelSpec::default().embedding]);
        let params = parameter_count(&vs);
        assert!(params <= 200_000, "{params} parameters");
    }
}
