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
//!           -> dropout -> fc3 (10) -> softmax          = `probs`
//! ```
//! Why K = 32: the upper half of the cepstrum is fine spectral detail (pitch harmonics, mostly
//! speaker identity); dropping it halved tract's time (170 -> 90 us with c1 = 16) and did not
//! hurt test accuracy in our runs, where thinning conv1 to 8 channels instead did.
//! Convolutions and dense layers carry no bias of their own: the batch norm after each one has
//! it, and export folds every batch norm into the layer before it.

use fsdd_core::mfcc::{N_FRAMES, N_MFCC};
use serde::{Deserialize, Serialize};
use tch::nn;
use tch::{Kind, Tensor};

/// Digits.
pub const N_CLASSES: i64 = 10;

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
}

fn all_coefficients() -> i64 {
    N_MFCC as i64
}

impl Default for ModelSpec {
    fn default() -> Self {
        Self {
            conv1: 16,
            conv2: 32,
            conv3: 32,
            fc1: 64,
            embedding: 64,
            dropout: 0.3,
            coefficients: 32,
        }
    }
}

impl ModelSpec {
    /// Each spatial side shrinks 8x: /2 (conv1), /2 (pool), /1 (conv2), /2 (conv3).
    pub const DOWNSAMPLING: i64 = 8;

    pub fn flat_features(&self) -> i64 {
        self.conv3
            * (self.coefficients / Self::DOWNSAMPLING)
            * (N_FRAMES as i64 / Self::DOWNSAMPLING)
    }

    /// Parses `conv1,conv2,conv3,fc1,embedding` (the CLI's `--widths`).
    pub fn with_widths(self, widths: &str) -> Result<Self, String> {
        let w: Vec<i64> = widths
            .split(',')
            .map(|v| {
                v.trim()
                    .parse::<i64>()
                    .map_err(|e| format!("--widths {widths}: {e}"))
            })
            .collect::<Result<_, _>>()?;
        match w[..] {
            [conv1, conv2, conv3, fc1, embedding]
                if w.iter().all(|&v| v > 0) && embedding <= 128 =>
            {
                Ok(Self {
                    conv1,
                    conv2,
                    conv3,
                    fc1,
                    embedding,
                    ..self
                })
            }
            _ => Err(format!(
                "--widths {widths}: need five positive widths conv1,conv2,conv3,fc1,embedding (embedding <= 128)"
            )),
        }
    }

    /// Human-readable layer list for the model card.
    pub fn describe(&self) -> String {
        format!(
            "crop to MFCC coefficients 0..{k} -> per-band normalisation (baked in) -> conv3x3/2 (1->{c1}) +BN+ReLU -> maxpool 2x2 -> conv3x3 ({c1}->{c2}) +BN+ReLU \
             -> conv3x3/2 ({c2}->{c3}) +BN+ReLU -> flatten ({flat}) -> dense {fc1} +BN+ReLU+dropout {p} -> dense {e} +BN+ReLU \
             (= embedding) -> dropout {p} -> dense 10 -> softmax (= probs); batch norms folded into the layers at export",
            k = self.coefficients,
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
    nn::BatchNormConfig {
        ws_init: nn::Init::Const(1.0),
        ..Default::default()
    }
}

fn conv_bn(vs: &nn::Path, name: &str, input: i64, output: i64, stride: i64) -> ConvBn {
    let config = nn::ConvConfig {
        stride,
        padding: 1,
        bias: false,
        ..Default::default()
    };
    ConvBn {
        conv: nn::conv2d(vs / name, input, output, 3, config),
        bn: nn::batch_norm2d(vs / format!("{name}_bn"), output, bn_config()),
        stride,
    }
}

fn dense_bn(vs: &nn::Path, name: &str, input: i64, output: i64) -> DenseBn {
    let config = nn::LinearConfig {
        bias: false,
        ..Default::default()
    };
    DenseBn {
        linear: nn::linear(vs / name, input, output, config),
        bn: nn::batch_norm1d(vs / format!("{name}_bn"), output, bn_config()),
    }
}

impl DigitNet {
    pub fn new(vs: &nn::Path, spec: ModelSpec) -> Self {
        assert!(
            spec.coefficients >= 8
                && spec.coefficients <= N_MFCC as i64
                && spec.coefficients % 8 == 0,
            "coefficients must be a multiple of 8 in 8..=64"
        );
        let bands = [1, 1, spec.coefficients, 1];
        Self {
            spec,
            band_mean: vs.zeros_no_train("band_mean", &bands),
            band_inv_std: vs.ones_no_train("band_inv_std", &bands),
            conv1: conv_bn(vs, "conv1", 1, spec.conv1, 2),
            conv2: conv_bn(vs, "conv2", spec.conv1, spec.conv2, 1),
            conv3: conv_bn(vs, "conv3", spec.conv2, spec.conv3, 2),
            fc1: dense_bn(vs, "fc1", spec.flat_features(), spec.fc1),
            fc2: dense_bn(vs, "fc2", spec.fc1, spec.embedding),
            fc3: nn::linear(vs / "fc3", spec.embedding, N_CLASSES, Default::default()),
        }
    }

    /// Sets the fixed input normalisation (per-band mean and standard deviation).
    pub fn set_normalisation(&mut self, mean: &[f32], std: &[f32]) {
        let k = self.spec.coefficients as usize;
        let shape = [1, 1, k as i64, 1];
        let mean = Tensor::from_slice(&mean[..k]).reshape(shape);
        let inv_std = Tensor::from_slice(
            &std[..k]
                .iter()
                .map(|s| 1.0 / s.max(1e-3))
                .collect::<Vec<f32>>(),
        )
        .reshape(shape);
        tch::no_grad(|| {
            self.band_mean.copy_(&mean);
            self.band_inv_std.copy_(&inv_std);
        });
    }

    /// Logits `[N,10]` and embedding `[N,E]` for raw MFCC `[N,1,64,64]`.
    pub fn forward(&self, mfcc: &Tensor, train: bool) -> (Tensor, Tensor) {
        let x = mfcc.narrow(2, 0, self.spec.coefficients);
        let x = (x - &self.band_mean) * &self.band_inv_std;
        let x = self
            .conv1
            .forward(&x, train)
            .max_pool2d([2, 2], [2, 2], [0, 0], [1, 1], false);
        let x = self.conv2.forward(&x, train);
        let x = self.conv3.forward(&x, train).flatten(1, -1);
        let x = self
            .fc1
            .forward(&x, train)
            .dropout(self.spec.dropout, train);
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
    vs.trainable_variables()
        .iter()
        .map(Tensor::numel)
        .map(|n| n as i64)
        .sum()
}

/// A raw MFCC batch `[N,1,64,64]` from concatenated windows.
pub fn mfcc_batch(features: &[f32]) -> Tensor {
    let n = (features.len() / (N_MFCC * N_FRAMES)) as i64;
    Tensor::from_slice(features).reshape([n, 1, N_MFCC as i64, N_FRAMES as i64])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_and_parameter_budget() {
        let vs = nn::VarStore::new(tch::Device::Cpu);
        let net = DigitNet::new(&vs.root(), ModelSpec::default());
        let (logits, embedding) = net.forward(
            &Tensor::zeros([3, 1, 64, 64], (Kind::Float, tch::Device::Cpu)),
            false,
        );
        assert_eq!(logits.size(), [3, 10]);
        assert_eq!(embedding.size(), [3, ModelSpec::default().embedding]);
        let params = parameter_count(&vs);
        assert!(params <= 200_000, "{params} parameters");
    }
}
