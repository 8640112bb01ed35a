//! The exported file run by tract, as the recognizer runs it: through `fsdd_core::Model` (the
//! same graph rewrites and kernel choice as every front end), one window (batch 1) at a time.

use std::path::Path;

use anyhow::{Context, Result, ensure};
use fsdd_core::Model;
use fsdd_core::labels::ConfusionMatrix;
use fsdd_core::signal::mfcc::FEATURE_LEN;

use crate::model::N_CLASSES;

pub struct TractModel {
    model: Model,
}

/// What the exported graph gives for one window.
#[derive(Debug, Clone)]
pub struct TractOutput {
    pub probs: Vec<f32>,
    pub embedding: Vec<f32>,
}

impl TractOutput {
    pub fn predicted(&self) -> u8 {
        argmax(&self.probs) as u8
    }
}

pub fn argmax(values: &[f32]) -> usize {
    values.iter().enumerate().fold(0, |best, (i, v)| if *v > values[best] { i } else { best })
}

impl TractModel {
    pub fn load(path: &Path) -> Result<Self> {
        let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
        Self::from_bytes(&bytes).with_context(|| format!("loading {} with tract", path.display()))
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let model = Model::from_bytes(bytes)?;
        ensure!(model.rejects(), "the model has no \"not a digit\" output: the trainer writes {N_CLASSES} classes");
        Ok(Self { model })
    }

    /// Runs one raw MFCC window (`FEATURE_LEN` values).
    pub fn run(&self, mfcc: &[f32]) -> Result<TractOutput> {
        ensure!(mfcc.len() == FEATURE_LEN, "expected {FEATURE_LEN} MFCC values, got {}", mfcc.len());
        let out = self.model.infer(mfcc)?;
        Ok(TractOutput { probs: out.probs[..N_CLASSES as usize].to_vec(), embedding: out.embedding })
    }

    /// Confusion matrix over concatenated windows and their labels.
    pub fn evaluate(&self, features: &[f32], labels: &[u8]) -> Result<ConfusionMatrix> {
        let mut cm = ConfusionMatrix::new();
        for (window, &label) in features.chunks_exact(FEATURE_LEN).zip(labels) {
            cm.add(label, self.run(window)?.predicted());
        }
        Ok(cm)
    }
}
