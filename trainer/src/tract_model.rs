//! The exported file run by tract, as the recognizer runs it: one window (batch 1) at a time.

use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, Result, ensure};
use fsdd_core::metrics::ConfusionMatrix;
use fsdd_core::mfcc::{FEATURE_LEN, N_FRAMES, N_MFCC};
use tract_onnx::prelude::*;

use crate::model::N_CLASSES;

pub struct TractModel {
    plan: Arc<TypedRunnableModel>,
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
    values
        .iter()
        .enumerate()
        .fold(0, |best, (i, v)| if *v > values[best] { i } else { best })
}

impl TractModel {
    pub fn load(path: &Path) -> Result<Self> {
        let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
        Self::from_bytes(&bytes).with_context(|| format!("loading {} with tract", path.display()))
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let plan = tract_onnx::onnx()
            .model_for_read(&mut &bytes[..])?
            .with_input_fact(0, f32::fact([1, 1, N_MFCC, N_FRAMES]).into())?
            .into_optimized()?
            .into_runnable()?;
        Ok(Self { plan })
    }

    /// Runs one raw MFCC window (`FEATURE_LEN` values).
    pub fn run(&self, mfcc: &[f32]) -> Result<TractOutput> {
        ensure!(
            mfcc.len() == FEATURE_LEN,
            "expected {FEATURE_LEN} MFCC values, got {}",
            mfcc.len()
        );
        let input = Tensor::from_shape(&[1, 1, N_MFCC, N_FRAMES], mfcc)?;
        let outputs = self.plan.run(tvec!(input.into()))?;
        ensure!(
            outputs.len() == 2,
            "model has {} outputs, expected probs and embedding",
            outputs.len()
        );
        let probs: Vec<f32> = outputs[0]
            .to_plain_array_view::<f32>()?
            .iter()
            .copied()
            .collect();
        let embedding: Vec<f32> = outputs[1]
            .to_plain_array_view::<f32>()?
            .iter()
            .copied()
            .collect();
        ensure!(
            probs.len() == N_CLASSES as usize,
            "probs has {} values",
            probs.len()
        );
        Ok(TractOutput { probs, embedding })
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
