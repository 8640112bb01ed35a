//! The enrollment benchmark (`cargo xtask bench-enroll`): how well a user's own voice is learnt
//! from K = 1, 3, 5 takes of every digit, held against DTW template matching on the same takes.
//!
//! Voices the model never fitted: each FSDD speaker is scored with its leave-one-speaker-out fold
//! model (`trainer loso` writes them to `<folds>/loso-<speaker>/model.onnx`). A speaker enrolls
//! takes 0..K of every digit, cut the way the recogniser cuts a word, and is scored on takes
//! K..=9 and every fifth take after (150-170 words). Non-digit words: the Speech Commands words of
//! the speakers that fold held out (never fit), scored with that speaker's enrollment active.
//!
//! Columns:
//! - base: the fold model alone ("not a digit" counts as wrong);
//! - hybrid: today's enrollment (mean-embedding prototypes, blended half and half);
//! - DTW: nearest template (never rejects), the classic speaker-dependent answer;
//! - fused: the model's digit probabilities and the templates' distances in one score,
//!   `ln p(k) - d(k) / tau`, and a word the model rejects is kept as the nearest enrolled digit
//!   when its template distance is under `theta`. tau and theta are chosen for each speaker on
//!   the other speakers only (leave one speaker out), so no speaker's number is tuned on itself.
//!
//! `cargo run --release -p fsdd-eval --example enroll_bench -- --fsdd DIR --folds DIR
//! [--speech-commands DIR]`

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use fsdd_core::inference::model::{N_DIGITS, NOT_A_DIGIT};
use fsdd_core::signal::mfcc::MfccExtractor;
use fsdd_core::signal::vad::{VadConfig, first_speech_span};
use fsdd_core::voice::templates::{TemplateFeatures, TemplateSet};
use fsdd_core::{Model, PrototypeSet, ScoringMode};
use fsdd_eval::corpus::{Fsdd, SPEAKER_FOLDS, SpeakerGroup, Utterance, speaker_group};
use fsdd_eval::streams::load_noise;

const TAKES: [u32; 3] = [1, 3, 5];
const HYBRID_WEIGHT: f32 = 0.5;
const TAUS: [f32; 8] = [0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 1.0, 2.0];
const THETAS: [f32; 8] = [0.0, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.2];

struct Args {
    fsdd: PathBuf,
    folds: PathBuf,
    speech_commands: Option<PathBuf>,
}

fn parse_args() -> Result<Args, String> {
    let mut fsdd = None;
    let mut folds = None;
    let mut speech_commands = None;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = || args.next().map(PathBuf::from).ok_or(format!("{a} needs a value"));
        match a.as_str() {
            "--fsdd" => fsdd = Some(value()?),
            "--folds" => folds = Some(value()?),
            "--speech-commands" => speech_commands = Some(value()?),
            other => return Err(format!("unknown argument {other}")),
        }
    }
    Ok(Args {
        fsdd: fsdd.ok_or("--fsdd DIR is required")?,
        folds: folds.ok_or("--folds DIR is required")?,
        speech_commands,
    })
}

/// One word as every method sees it.
struct Word {
    digit: Option<u8>,
    probs: [f32; 11],
    embedding: Vec<f32>,
    template: Option<TemplateFeatures>,
}

/// Any recording at 8 kHz mono (the streams' loader reads words as well as noise).
fn load_8k(path: &Path) -> Result<Vec<f32>, String> {
    load_noise(path).map_err(|e| e.to_string())
}

/// Cut as the recogniser's VAD would, then scored by the model and turned into a template.
fn word(model: &Model, mfcc: &mut MfccExtractor, digit: Option<u8>, samples: &[f32]) -> Result<Word, String> {
    let cut = match first_speech_span(samples, VadConfig::default()) {
        Some((a, b)) => &samples[a..b],
        None => samples,
    };
    let window = mfcc.compute(cut);
    let inference = model.infer(&window[..]).map_err(|e| e.to_string())?;
    let template = TemplateFeatures::from_mfcc(&window[..], cut.len());
    Ok(Word { digit, probs: inference.probs, embedding: inference.embedding, template })
}

fn argmax(v: &[f32]) -> usize {
    (0..v.len()).fold(0, |b, i| if v[i] > v[b] { i } else { b })
}

/// What each method answers for `w` (`None` = rejected).
struct Answers {
    base: Option<u8>,
    hybrid: Option<u8>,
    dtw: Option<u8>,
    /// `[tau][theta]`
    fused: Vec<Vec<Option<u8>>>,
}

fn answer(w: &Word, protos: &PrototypeSet, templates: &TemplateSet) -> Answers {
    let pick = |p: &[f32; 11]| {
        let k = argmax(p);
        (k != NOT_A_DIGIT).then_some(k as u8)
    };
    let base = pick(&w.probs);
    let hybrid = pick(&protos.blend(&w.probs, &w.embedding, ScoringMode::Hybrid, HYBRID_WEIGHT));
    let distances = w.template.as_ref().map(|t| templates.distances(t));
    let dtw = w.template.as_ref().and_then(|t| templates.nearest(t)).map(|(d, _)| d);
    let digit_mass: f32 = w.probs[..N_DIGITS].iter().sum::<f32>().max(1e-12);
    let fused = TAUS
        .iter()
        .map(|&tau| {
            THETAS
                .iter()
                .map(|&theta| {
                    let Some(dist) = distances else { return base };
                    let score = |k: usize| match dist[k] {
                        Some(d) => (w.probs[k] / digit_mass).max(1e-12).ln() - d / tau,
                        None => f32::NEG_INFINITY,
                    };
                    let best = (0..N_DIGITS).fold(0, |b, k| if score(k) > score(b) { k } else { b });
                    let nearest = dist.iter().flatten().fold(f32::INFINITY, |a, &b| a.min(b));
                    if score(best) == f32::NEG_INFINITY {
                        base
                    } else if base.is_none() && nearest > theta {
                        None
                    } else {
                        Some(best as u8)
                    }
                })
                .collect()
        })
        .collect();
    Answers { base, hybrid, dtw, fused }
}

/// One speaker at one K.
struct SpeakerScore {
    speaker: String,
    digits: usize,
    base: usize,
    hybrid: usize,
    dtw: usize,
    fused: Vec<Vec<usize>>,
    words: usize,
    words_rejected_base: usize,
    words_rejected_hybrid: usize,
    words_rejected_fused: Vec<Vec<usize>>,
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("enroll_bench: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), String> {
    let args = parse_args()?;
    let fsdd = Fsdd::open(&args.fsdd).map_err(|e| e.to_string())?;
    let speakers = fsdd.speakers();
    let mut mfcc = MfccExtractor::new();
    // Per speaker: its fold model's view of its own takes and of its held-out group's words.
    let mut per_speaker = Vec::new();
    for (k, speaker) in speakers.iter().enumerate() {
        let path = args.folds.join(format!("loso-{speaker}")).join("model.onnx");
        let model = Model::from_path(&path).map_err(|e| {
            format!(
                "{}: {e}\nthe fold models come from `cargo run -p trainer --release -- loso ...` (README, Training)",
                path.display()
            )
        })?;
        let mine: Vec<&Utterance> = fsdd.utterances.iter().filter(|u| &u.speaker == speaker).collect();
        let mut takes = Vec::new();
        for u in mine {
            takes.push((u.take, word(&model, &mut mfcc, Some(u.digit), &load_8k(&u.path)?)?));
        }
        let group = SpeakerGroup::Fold((k % SPEAKER_FOLDS as usize) as u8);
        let mut words = Vec::new();
        if let Some(sc) = &args.speech_commands {
            let dir = sc.join("words");
            let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
                .map_err(|e| format!("{}: {e}", dir.display()))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .collect();
            paths.sort();
            for p in paths {
                let Some(stem) = p.file_stem().and_then(|s| s.to_str()) else { continue };
                let parts: Vec<&str> = stem.split('_').collect();
                if parts.len() == 3 && speaker_group(parts[1]) == group {
                    words.push(word(&model, &mut mfcc, None, &load_8k(&p)?)?);
                }
            }
        }
        eprintln!("{speaker}: {} takes, {} held-out words", takes.len(), words.len());
        per_speaker.push((speaker.clone(), model.embedding_dim(), takes, words));
    }
    for k in TAKES {
        let scores: Vec<SpeakerScore> =
            per_speaker.iter().map(|(s, dim, takes, words)| score_speaker(s, *dim, takes, words, k)).collect();
        report(k, &scores);
    }
    Ok(())
}

fn score_speaker(speaker: &str, dim: usize, takes: &[(u32, Word)], words: &[Word], k: u32) -> SpeakerScore {
    let mut protos = PrototypeSet::new(dim);
    let mut templates = TemplateSet::new();
    for (_, w) in takes.iter().filter(|(t, _)| *t < k) {
        let d = w.digit.expect("takes are digits");
        protos.add_example(d, &w.embedding).expect("finite embeddings");
        if let Some(t) = &w.template {
            templates.add(d, t.clone());
        }
    }
    let grid = || vec![vec![0usize; THETAS.len()]; TAUS.len()];
    let mut s = SpeakerScore {
        speaker: speaker.to_owned(),
        digits: 0,
        base: 0,
        hybrid: 0,
        dtw: 0,
        fused: grid(),
        words: words.len(),
        words_rejected_base: 0,
        words_rejected_hybrid: 0,
        words_rejected_fused: grid(),
    };
    for (_, w) in takes.iter().filter(|(t, _)| (k..=9).contains(t) || (*t > 9 && t % 5 == 0)) {
        let a = answer(w, &protos, &templates);
        s.digits += 1;
        s.base += (a.base == w.digit) as usize;
        s.hybrid += (a.hybrid == w.digit) as usize;
        s.dtw += (a.dtw == w.digit) as usize;
        for (i, row) in a.fused.iter().enumerate() {
            for (j, x) in row.iter().enumerate() {
                s.fused[i][j] += (*x == w.digit) as usize;
            }
        }
    }
    for w in words {
        let a = answer(w, &protos, &templates);
        s.words_rejected_base += a.base.is_none() as usize;
        s.words_rejected_hybrid += a.hybrid.is_none() as usize;
        for (i, row) in a.fused.iter().enumerate() {
            for (j, x) in row.iter().enumerate() {
                s.words_rejected_fused[i][j] += x.is_none() as usize;
            }
        }
    }
    s
}

fn pct(a: usize, b: usize) -> f64 {
    if b == 0 { f64::NAN } else { 100.0 * a as f64 / b as f64 }
}

/// The (tau, theta) that does best on `others`: digits right, with words rejected no more than
/// 2 points under base (the rejection budget), ties to the smaller theta.
fn choose(others: &[&SpeakerScore]) -> (usize, usize) {
    let mean = |f: &dyn Fn(&SpeakerScore) -> f64| others.iter().map(|s| f(s)).sum::<f64>() / others.len() as f64;
    let base_rej = mean(&|s| pct(s.words_rejected_base, s.words));
    let mut best = (0, 0, f64::MIN);
    for i in 0..TAUS.len() {
        for j in 0..THETAS.len() {
            let acc = mean(&|s| pct(s.fused[i][j], s.digits));
            let rej = mean(&|s| pct(s.words_rejected_fused[i][j], s.words));
            let ok = rej.is_nan() || base_rej.is_nan() || rej >= base_rej - 2.0;
            if ok && acc > best.2 {
                best = (i, j, acc);
            }
        }
    }
    (best.0, best.1)
}

fn report(k: u32, scores: &[SpeakerScore]) {
    println!("\nK = {k} takes per digit enrolled (scored on the speaker's other takes)");
    println!(
        "{:<10} {:>6} {:>7} {:>7} {:>7} {:>7}  {:>13}  words rejected: {:>5} {:>6} {:>6}",
        "speaker", "takes", "base", "hybrid", "DTW", "fused", "(tau, theta)", "base", "hybrid", "fused"
    );
    let mut sums = [0.0f64; 7];
    for (n, s) in scores.iter().enumerate() {
        let others: Vec<&SpeakerScore> = scores.iter().enumerate().filter(|(m, _)| *m != n).map(|(_, s)| s).collect();
        let (i, j) = choose(&others);
        let row = [
            pct(s.base, s.digits),
            pct(s.hybrid, s.digits),
            pct(s.dtw, s.digits),
            pct(s.fused[i][j], s.digits),
            pct(s.words_rejected_base, s.words),
            pct(s.words_rejected_hybrid, s.words),
            pct(s.words_rejected_fused[i][j], s.words),
        ];
        for (a, b) in sums.iter_mut().zip(row) {
            *a += b;
        }
        println!(
            "{:<10} {:>6} {:>6.1}% {:>6.1}% {:>6.1}% {:>6.1}%  {:>13}  {:>14.1}% {:>5.1}% {:>5.1}%  ({} words)",
            s.speaker,
            s.digits,
            row[0],
            row[1],
            row[2],
            row[3],
            format!("({}, {})", TAUS[i], THETAS[j]),
            row[4],
            row[5],
            row[6],
            s.words
        );
    }
    let n = scores.len() as f64;
    println!(
        "{:<10} {:>6} {:>6.1}% {:>6.1}% {:>6.1}% {:>6.1}%  {:>13}  {:>14.1}% {:>5.1}% {:>5.1}%",
        "mean",
        "",
        sums[0] / n,
        sums[1] / n,
        sums[2] / n,
        sums[3] / n,
        "",
        sums[4] / n,
        sums[5] / n,
        sums[6] / n
    );
}
