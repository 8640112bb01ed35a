//! Optimisers: Adadelta (tch has none, so it is written here) and tch's Adam.

use std::path::Path;

use anyhow::{Context, Result};
use clap::ValueEnum;
use serde::{Deserialize, Serialize};
use tch::{Tensor, nn};

/// Adadelta, exactly PyTorch's `torch.optim.Adadelta` update (Zeiler 2012, with a learning rate):
///
/// ```text
/// v  <- rho * v + (1 - rho) * g^2
/// d  <- sqrt(u + eps) / sqrt(v + eps) * g
/// u  <- rho * u + (1 - rho) * d^2
/// p  <- p - lr * d
/// ```
/// `v` is the running average of squared gradients, `u` that of squared updates.
pub struct Adadelta {
    pub lr: f64,
    pub rho: f64,
    pub eps: f64,
    params: Vec<Tensor>,
    square_avg: Vec<Tensor>,
    acc_delta: Vec<Tensor>,
}

impl Adadelta {
    /// PyTorch's defaults are lr 1.0, rho 0.9, eps 1e-6.
    pub fn new(params: Vec<Tensor>, lr: f64, rho: f64, eps: f64) -> Self {
        let square_avg = params.iter().map(Tensor::zeros_like).collect();
        let acc_delta = params.iter().map(Tensor::zeros_like).collect();
        Self { lr, rho, eps, params, square_avg, acc_delta }
    }

    pub fn zero_grad(&mut self) {
        for p in &mut self.params {
            p.zero_grad();
        }
    }

    pub fn step(&mut self) {
        tch::no_grad(|| {
            for ((p, v), u) in self.params.iter_mut().zip(&mut self.square_avg).zip(&mut self.acc_delta) {
                let g = p.grad();
                if !g.defined() {
                    continue;
                }
                let _ = v.g_mul_scalar_(self.rho).g_add_(&(&g * &g * (1.0 - self.rho)));
                let delta = (&*u + self.eps).sqrt() / (&*v + self.eps).sqrt() * &g;
                let _ = u.g_mul_scalar_(self.rho).g_add_(&(&delta * &delta * (1.0 - self.rho)));
                let _ = p.g_add_(&(delta * -self.lr));
            }
        });
    }

    fn state(&self) -> Vec<(String, &Tensor)> {
        let v = self.square_avg.iter().enumerate().map(|(i, t)| (format!("square_avg.{i}"), t));
        let u = self.acc_delta.iter().enumerate().map(|(i, t)| (format!("acc_delta.{i}"), t));
        v.chain(u).collect()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum OptimizerKind {
    Adadelta,
    Adam,
}

/// The optimiser a run uses.
pub enum Optimizer {
    Adadelta(Adadelta),
    Adam(nn::Optimizer),
}

impl Optimizer {
    /// Adadelta: lr (default 1.0), rho 0.9, eps 1e-6. Adam: lr (default 1e-3), betas 0.9/0.999.
    pub fn new(kind: OptimizerKind, vs: &nn::VarStore, lr: f64) -> Result<Self> {
        Ok(match kind {
            OptimizerKind::Adadelta => Optimizer::Adadelta(Adadelta::new(vs.trainable_variables(), lr, 0.9, 1e-6)),
            OptimizerKind::Adam => {
                use tch::nn::OptimizerConfig;
                Optimizer::Adam(nn::Adam::default().build(vs, lr).context("building Adam")?)
            }
        })
    }

    pub fn default_lr(kind: OptimizerKind) -> f64 {
        match kind {
            OptimizerKind::Adadelta => 1.0,
            OptimizerKind::Adam => 1e-3,
        }
    }

    /// Clears gradients, back-propagates `loss`, and updates.
    pub fn backward_step(&mut self, loss: &Tensor) {
        match self {
            Optimizer::Adadelta(opt) => {
                opt.zero_grad();
                loss.backward();
                opt.step();
            }
            Optimizer::Adam(opt) => opt.backward_step(loss),
        }
    }

    pub fn set_lr(&mut self, lr: f64) {
        match self {
            Optimizer::Adadelta(opt) => opt.lr = lr,
            Optimizer::Adam(opt) => opt.set_lr(lr),
        }
    }

    /// Saves the Adadelta accumulators so a resumed run continues the same trajectory. (tch does
    /// not expose Adam's moments; a resumed Adam run restarts them.)
    pub fn save(&self, path: &Path) -> Result<()> {
        if let Optimizer::Adadelta(opt) = self {
            Tensor::save_multi(&opt.state(), path).with_context(|| format!("saving {}", path.display()))?;
        }
        Ok(())
    }

    pub fn load(&mut self, path: &Path) -> Result<()> {
        if let Optimizer::Adadelta(opt) = self {
            let saved = Tensor::load_multi(path).with_context(|| format!("loading {}", path.display()))?;
            tch::no_grad(|| -> Result<()> {
                for (name, tensor) in saved {
                    let (which, index) = name.split_once('.').context("bad optimiser state name")?;
                    let index: usize = index.parse().context("bad optimiser state index")?;
                    let target = match which {
                        "square_avg" => opt.square_avg.get_mut(index),
                        "acc_delta" => opt.acc_delta.get_mut(index),
                        _ => None,
                    }
                    .with_context(|| format!("{}: unexpected entry {name}", path.display()))?;
                    target.copy_(&tensor);
                }
                Ok(())
            })?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::Kind;

    /// One step by hand from zero state with the published rule:
    /// v = 0.1 g^2, d = sqrt(eps)/sqrt(v+eps) g, p' = p - d.
    #[test]
    fn adadelta_one_step_matches_published_rule() {
        let p0 = [0.5f64, -1.0, 2.0, 0.0];
        let g = [0.1f64, -0.4, 3.0, 0.0];
        let p = Tensor::from_slice(&p0).to_kind(Kind::Double).set_requires_grad(true);
        let mut opt = Adadelta::new(vec![p.shallow_clone()], 1.0, 0.9, 1e-6);
        // loss = sum(g * p) has gradient g.
        let loss = (&p * Tensor::from_slice(&g).to_kind(Kind::Double)).sum(Kind::Double);
        opt.zero_grad();
        loss.backward();
        opt.step();
        let got: Vec<f64> = Vec::try_from(&p.detach()).unwrap();
        let (lr, rho, eps) = (1.0, 0.9, 1e-6);
        for i in 0..4 {
            let v = (1.0 - rho) * g[i] * g[i];
            let d = (0.0f64 + eps).sqrt() / (v + eps).sqrt() * g[i];
            let want = p0[i] - lr * d;
            assert!((got[i] - want).abs() < 1e-12, "param {i}: got {} want {want}", got[i]);
        }
        // Second step uses the accumulated u: check it too against the rule.
        let u1: Vec<f64> = g
            .iter()
            .map(|&gi| {
                let v = (1.0 - rho) * gi * gi;
                let d = eps.sqrt() / (v + eps).sqrt() * gi;
                (1.0 - rho) * d * d
            })
            .collect();
        let loss = (&p * Tensor::from_slice(&g).to_kind(Kind::Double)).sum(Kind::Double);
        opt.zero_grad();
        loss.backward();
        opt.step();
        let got2: Vec<f64> = Vec::try_from(&p.detach()).unwrap();
        for i in 0..4 {
            let v1 = (1.0 - rho) * g[i] * g[i];
            let v2 = rho * v1 + (1.0 - rho) * g[i] * g[i];
            let d2 = (u1[i] + eps).sqrt() / (v2 + eps).sqrt() * g[i];
            let want = got[i] - lr * d2;
            assert!((got2[i] - want).abs() < 1e-12, "step 2 param {i}: got {} want {want}", got2[i]);
        }
    }
}
