//! Resampling on real audio: FSDD upsampled to 44.1/48/96 kHz and brought back to 8 kHz must
//! give (nearly) the same MFCC and the same decisions as the native 8 kHz files.

mod common;

use std::sync::Arc;

use common::*;
use fsdd_core::Model;
use fsdd_core::signal::mfcc::{MfccExtractor, N_FRAMES};
use fsdd_core::signal::resample::resample;
use fsdd_core::streaming::early_exit::top;

#[test]
fn fsdd_round_trips_through_device_rates_keep_mfcc_and_decisions() {
    let model = Arc::new(Model::embedded().expect("embedded model"));
    let fsdd = fsdd();
    // Every 3rd test utterance: 100 files, all speakers and digits.
    let utterances: Vec<_> = test_split(&fsdd).into_iter().step_by(3).collect();
    let mut ex = MfccExtractor::new();
    for rate in [44_100u32, 48_000, 96_000] {
        let (mut agree, mut worst_rel, mut sum_rel) = (0, 0.0f32, 0.0f32);
        for u in &utterances {
            let native = load(u);
            let up = resample(&native, 8_000, rate).unwrap();
            let back = resample(&up, rate, 8_000).unwrap();
            assert_eq!(back.len(), native.len());
            let a = ex.compute(&native);
            let b = ex.compute(&back);
            // Relative error over the frames that hold the utterance, coefficients 0..32.
            let frames = native.len().div_ceil(128).min(N_FRAMES);
            let (mut num, mut den) = (0.0f32, 0.0f32);
            for k in 0..32 {
                for t in 0..frames {
                    let (x, y) = (a[k * N_FRAMES + t], b[k * N_FRAMES + t]);
                    num += (x - y) * (x - y);
                    den += x * x;
                }
            }
            let rel = (num / den).sqrt();
            worst_rel = worst_rel.max(rel);
            sum_rel += rel;
            let (pa, pb) = (model.infer(&a[..]).unwrap().probs, model.infer(&b[..]).unwrap().probs);
            if top(&pa).0 == top(&pb).0 {
                agree += 1;
            }
        }
        let n = utterances.len();
        println!(
            "{rate} Hz: decisions agree {agree}/{n}, MFCC relative error mean {:.4} worst {worst_rel:.4}",
            sum_rel / n as f32
        );
        assert!(agree as f32 >= 0.98 * n as f32, "{rate} Hz: only {agree}/{n} decisions agree");
        assert!(sum_rel / (n as f32) < 0.02, "{rate} Hz: mean MFCC error {}", sum_rel / n as f32);
    }
}
