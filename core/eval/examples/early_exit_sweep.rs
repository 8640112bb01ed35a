//! Measures the early-exit rule on the FSDD test split (takes 0-4): records every evaluation the
//! recognizer makes on each utterance (clean, and in steady noise at 15 dB SNR), then replays
//! the rule for a grid of (threshold, consecutive, every) and prints accuracy and how early
//! decisions come. Also prints where the VAD puts onsets (for the pre-roll default).
//!
//! `cargo run -p fsdd-core --release --example early_exit_sweep [-- FSDD_DIR] [--model FILE.onnx]
//! [--validation]`: `--validation` replays takes 5-9 instead of the test takes, so a default can
//! be chosen without looking at the test split.

use std::path::PathBuf;
use std::sync::Arc;

use fsdd_core::signal::audio::read_wav;
use fsdd_core::streaming::early_exit::top;
use fsdd_core::{DetectionKind, EarlyExitPolicy, Model, Recognizer, RecognizerConfig};
use fsdd_eval::corpus::{Fsdd, Split, resolve_dir};

struct Trace {
    truth: u8,
    len: usize,
    /// (segment hops at evaluation, probs)
    evals: Vec<(u32, [f32; fsdd_core::inference::model::N_OUTPUTS])>,
    final_probs: Option<[f32; fsdd_core::inference::model::N_OUTPUTS]>,
    onset_offset: i64,
}

fn noise(len: usize, rms: f32, state: &mut u64) -> Vec<f32> {
    (0..len)
        .map(|_| {
            let mut s = 0.0;
            for _ in 0..4 {
                *state ^= *state << 13;
                *state ^= *state >> 7;
                *state ^= *state << 17;
                s += (*state >> 40) as f32 / (1u64 << 24) as f32;
            }
            (s - 2.0) * 3f32.sqrt() * rms
        })
        .collect()
}

fn trace(model: &Arc<Model>, samples: &[f32], truth: u8, noisy: bool, seed: u64, pre_roll_ms: u32) -> Trace {
    let mut config = RecognizerConfig {
        early_exit: EarlyExitPolicy {
            threshold: 2.0,
            consecutive: 1,
            every: 1,
            min_confidence: 0.0,
            emit_unsure: true,
            earliest_ms: 0,
            reject_threshold: fsdd_core::streaming::early_exit::DEFAULT_REJECT_THRESHOLD,
        },
        saliency: false,
        ..Default::default()
    };
    config.vad.pre_roll_ms = pre_roll_ms;
    let mut rec = Recognizer::new(model.clone(), config);
    let lead = if noisy { 8000 } else { 2400 };
    let mut audio;
    if noisy {
        let rms = (samples.iter().map(|x| x * x).sum::<f32>() / samples.len() as f32).sqrt();
        let mut state = seed | 1;
        let n = noise(lead + samples.len() + 4800, rms / 10f32.powf(15.0 / 20.0), &mut state);
        audio = n.clone();
        for (i, s) in samples.iter().enumerate() {
            audio[lead + i] += s;
        }
    } else {
        audio = vec![0.0; lead];
        audio.extend_from_slice(samples);
        audio.extend(vec![0.0; 4800]);
    }
    let mut t = Trace { truth, len: samples.len(), evals: Vec::new(), final_probs: None, onset_offset: 0 };
    let mut seen = 0;
    let mut first = true;
    for hop in audio.chunks(128) {
        let mut dets = Vec::new();
        rec.push(hop, &mut |d| dets.push(d));
        if rec.evaluations() > seen && rec.segment_hops() > 0 && t.final_probs.is_none() && dets.is_empty() {
            t.evals.push((rec.segment_hops(), rec.live().probs));
        }
        seen = rec.evaluations();
        for d in dets {
            if first && matches!(d.kind, DetectionKind::Final | DetectionKind::Unsure | DetectionKind::Rejected) {
                t.final_probs = Some(d.probs);
                t.onset_offset = d.onset as i64 - lead as i64;
                first = false;
            }
        }
    }
    rec.finish(&mut |d| {
        if first {
            t.final_probs = Some(d.probs);
            t.onset_offset = d.onset as i64 - lead as i64;
            first = false;
        }
    });
    t
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let model_path = args.iter().position(|a| a == "--model").map(|i| PathBuf::from(&args[i + 1]));
    let validation = args.iter().any(|a| a == "--validation");
    let dir_arg = args.first().filter(|a| !a.starts_with("--")).map(PathBuf::from);
    let dir = resolve_dir(dir_arg.as_deref());
    let fsdd = Fsdd::open(&dir).expect("FSDD recordings");
    let model = Arc::new(match &model_path {
        Some(path) => Model::from_path(path).expect("model file"),
        None => Model::embedded().expect("embedded model"),
    });
    let utterances: Vec<_> = if validation { fsdd.validation_takes() } else { fsdd.split(Split::Test) };
    println!("{} utterances ({})", utterances.len(), if validation { "takes 5-9" } else { "test takes 0-4" });
    let clips: Vec<(Vec<f32>, u8)> = utterances.iter().map(|u| (read_wav(&u.path).unwrap().samples, u.digit)).collect();
    let pre_default = fsdd_core::VadConfig::default().pre_roll_ms;
    for noisy in [false, true] {
        for pre in [0u32, 16, 32, 48, 64, 96, 128] {
            let correct = clips
                .iter()
                .enumerate()
                .filter(|(i, (c, d))| {
                    let t = trace(&model, c, *d, noisy, *i as u64 + 1, pre);
                    t.final_probs.is_some_and(|p| top(&p).0 == *d)
                })
                .count();
            println!(
                "noisy={noisy} pre_roll {pre} ms: final-only accuracy {:.1}%",
                100.0 * correct as f64 / clips.len() as f64
            );
        }
    }
    for noisy in [false, true] {
        let traces: Vec<Trace> = clips
            .iter()
            .enumerate()
            .map(|(i, (c, d))| trace(&model, c, *d, noisy, i as u64 + 1, pre_default))
            .collect();
        let label = if noisy { "steady white noise, 15 dB SNR" } else { "clean (digital silence around)" };
        let mut onsets: Vec<i64> = traces.iter().filter(|t| t.final_probs.is_some()).map(|t| t.onset_offset).collect();
        onsets.sort();
        let pct = |q: f64| onsets[((onsets.len() - 1) as f64 * q) as usize];
        println!("== {label}: {} utterances, {} with a segment", traces.len(), onsets.len());
        println!("onset - true start (samples): p10 {} p50 {} p90 {}", pct(0.1), pct(0.5), pct(0.9));
        let final_correct = traces.iter().filter(|t| t.final_probs.is_some_and(|p| top(&p).0 == t.truth)).count();
        println!("final-only accuracy {:.1}%", 100.0 * final_correct as f64 / traces.len() as f64);
        let mut conf_wrong: Vec<f32> =
            traces.iter().filter_map(|t| t.final_probs.filter(|p| top(p).0 != t.truth).map(|p| top(&p).1)).collect();
        conf_wrong.sort_by(f32::total_cmp);
        println!("final top-prob of wrong answers: {conf_wrong:.2?}");
        for min_conf in [0.3f32, 0.4, 0.5, 0.6, 0.7] {
            let kept: Vec<&Trace> =
                traces.iter().filter(|t| t.final_probs.is_some_and(|p| top(&p).1 >= min_conf)).collect();
            let right = kept.iter().filter(|t| top(&t.final_probs.unwrap()).0 == t.truth).count();
            println!(
                "min_confidence {min_conf}: keeps {:.1}% of finals, {:.1}% of kept are right, {:.1}% of all right",
                100.0 * kept.len() as f64 / traces.len() as f64,
                100.0 * right as f64 / kept.len().max(1) as f64,
                100.0 * right as f64 / traces.len() as f64
            );
        }
        println!("threshold consecutive every min_hops | accuracy early% mean_decision_ms mean_decision/len");
        let grid = [1u32, 2, 4]
            .into_iter()
            .flat_map(|every| [1u32, 2, 3].into_iter().map(move |c| (every, c, 0u32)))
            .chain([0u32, 8, 10, 12, 14, 16].into_iter().map(|m| (2, 2, m)));
        for (every, consecutive, min_hops) in grid {
            {
                for &threshold in &[0.7f32, 0.8, 0.9, 0.95, 0.98] {
                    let (mut correct, mut early, mut ms, mut frac, mut n) = (0, 0, 0.0, 0.0, 0);
                    for t in &traces {
                        let Some(final_probs) = t.final_probs else { continue };
                        n += 1;
                        let mut streak = (None, 0u32);
                        let mut decided = None;
                        for &(h, p) in &t.evals {
                            if h % every != 0 || h < min_hops {
                                continue;
                            }
                            let (d, q) = top(&p);
                            if q >= threshold {
                                streak = if streak.0 == Some(d) { (Some(d), streak.1 + 1) } else { (Some(d), 1) };
                            } else {
                                streak = (None, 0);
                            }
                            if streak.1 >= consecutive {
                                decided = Some((d, h));
                                break;
                            }
                        }
                        let (digit, pos) = match decided {
                            Some((d, h)) => {
                                early += 1;
                                (d, (h as i64 * 128 + t.onset_offset).max(0) as usize)
                            }
                            None => (top(&final_probs).0, t.len),
                        };
                        if digit == t.truth {
                            correct += 1;
                        }
                        let pos = pos.min(t.len);
                        ms += pos as f64 / 8.0;
                        frac += pos as f64 / t.len as f64;
                    }
                    let n = n.max(1) as f64;
                    println!(
                        "{threshold:>9} {consecutive:>11} {every:>5} {min_hops:>8} | {:>7.1}% {:>5.1}% {:>8.0} {:>8.2}",
                        100.0 * correct as f64 / traces.len() as f64,
                        100.0 * early as f64 / n,
                        ms / n,
                        frac / n
                    );
                }
            }
        }
    }
}
