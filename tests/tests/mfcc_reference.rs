//! fsdd-core's MFCC against an independent numpy/scipy/librosa implementation
//! (tests/reference/mfcc_reference.py), on real FSDD recordings.

use fsdd_core::signal::audio::read_wav;
use fsdd_core::signal::mfcc::{FEATURE_LEN, MfccExtractor, N_FRAMES};
use fsdd_integration_tests::{fixture, fsdd_dir};

/// Tolerance, in the units of the coefficients (dB-scaled cepstra, typical magnitudes 1-800).
/// Measured worst case: 1.2e-4 (f32 in Rust against f64 in numpy); 2e-3 leaves room for other
/// CPUs' float rounding and still catches any definition change (a different window,
/// filterbank, floor or DCT norm moves values by whole units).
const TOLERANCE: f32 = 2e-3;

#[test]
fn mfcc_matches_the_librosa_reference_on_fsdd() {
    let dir = fixture("mfcc");
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("manifest.json")).unwrap()).unwrap();
    let files = manifest["files"].as_array().unwrap();
    assert!(files.len() >= 8);
    let mut extractor = MfccExtractor::new();
    let mut worst = 0.0f32;
    for entry in files {
        let wav = entry["wav"].as_str().unwrap();
        let clip = read_wav(fsdd_dir().join(wav)).unwrap();
        assert_eq!(clip.samples.len() as u64, entry["samples"].as_u64().unwrap(), "{wav}");
        let bytes = std::fs::read(dir.join(entry["mfcc"].as_str().unwrap())).unwrap();
        let reference: Vec<f32> = bytes.chunks_exact(4).map(|b| f32::from_le_bytes(b.try_into().unwrap())).collect();
        assert_eq!(reference.len(), FEATURE_LEN);
        let ours = extractor.compute(&clip.samples);
        for (i, (a, b)) in ours.iter().zip(&reference).enumerate() {
            let diff = (a - b).abs();
            worst = worst.max(diff);
            assert!(
                diff <= TOLERANCE,
                "{wav}: coefficient {} frame {}: ours {a} reference {b}",
                i / N_FRAMES,
                i % N_FRAMES
            );
        }
    }
    eprintln!("worst |ours - reference| = {worst:.2e} (tolerance {TOLERANCE})");
}
