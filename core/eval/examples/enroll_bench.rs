//! The enrollment benchmark (`cargo xtask bench-enroll`): how well a user's own voice is learnt
//! from K = 1, 3, 5 takes of every digit, held against DTW template matching on the same takes.
//!
//! Voices the model never fitted, scored as [`fsdd_eval::enrollment`] says: each FSDD speaker
//! with its leave-one-speaker-out fold model (`<folds>/loso-<speaker>/model.onnx`), takes 0..K of
//! every digit enrolled and 150-170 other takes scored, and the Speech Commands words of the
//! speakers that fold held out scored with that enrollment active.
//!
//! Columns: base (the fold model alone), hybrid (the earlier prototypes), DTW (nearest
//! template, the classic answer) and
//! - voice: what the product ships (`ScoringMode::Voice`, `fsdd_core::voice::matcher::fuse`):
//!   the model's digit probabilities and the templates' relative distances in one score, and a
//!   word whose nearest template is close enough is a digit even if the model rejects it. Two
//!   figures: "voice" is exactly what `VoiceMatcher::build` ships (`FusionRule::default()`), and
//!   "voice-cv" is the rule chosen from a grid on the other five speakers only (leave one
//!   speaker out), so that column is tuned on no speaker it scores. The grid rule chosen on all
//!   six is printed last: the default is set from it.
//!
//! `cargo run --release -p fsdd-eval --example enroll_bench -- --fsdd DIR --folds DIR
//! [--speech-commands DIR]`

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use fsdd_core::FusionRule;
use fsdd_eval::corpus::Fsdd;
use fsdd_eval::enrollment::{SpeakerScore, load_speaker, pct, score_speaker};

const TAKES: [u32; 3] = [1, 3, 5];
const MODEL_WEIGHTS: [f32; 5] = [0.0, 0.25, 0.5, 1.0, 2.0];
const TAUS: [f32; 6] = [0.02, 0.03, 0.05, 0.08, 0.12, 0.2];
const LOG_FLOORS: [f32; 4] = [-2.0, -4.0, -8.0, -30.0];
/// Nearest-template distances of a speaker's own digits run 1.8-3.1 (5th-95th percentile, K = 3),
/// of other speakers' rejected words 3.1-4.1: the thresholds sit around where they meet.
const ACCEPT_BELOW: [f32; 5] = [0.0, 2.6, 2.8, 3.0, 3.2];
const ACCEPT_RELATIVE: [f32; 5] = [0.75, 0.8, 0.85, 0.9, 1.0];

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

/// Every rule the benchmark tries.
fn rules() -> Vec<FusionRule> {
    let mut out = Vec::new();
    for &model_weight in &MODEL_WEIGHTS {
        for &tau in &TAUS {
            for &log_floor in &LOG_FLOORS {
                for &accept_below in &ACCEPT_BELOW {
                    for &accept_relative in &ACCEPT_RELATIVE {
                        out.push(FusionRule { model_weight, tau, log_floor, accept_below, accept_relative });
                    }
                }
            }
        }
    }
    out
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
    let words_dir = args.speech_commands.as_ref().map(|sc| sc.join("words"));
    let mut per_speaker = Vec::new();
    for index in 0..fsdd.speakers().len() {
        let data = load_speaker(&fsdd, index, &args.folds, words_dir.as_deref(), usize::MAX)?;
        eprintln!("{}: {} takes, {} held-out words", data.speaker, data.takes.len(), data.words.len());
        per_speaker.push(data);
    }
    let rules = rules();
    let started = Instant::now();
    let all: Vec<Vec<SpeakerScore>> =
        TAKES.iter().map(|&k| per_speaker.iter().map(|data| score_speaker(data, k, &rules)).collect()).collect();
    eprintln!("scored {} rules in {:.1} s", rules.len(), started.elapsed().as_secs_f32());
    report(&all, &rules);
    Ok(())
}

/// The rule that does best on `scores` (mean digits right over speakers and K), with words
/// rejected no more than 2 points under base (the rejection budget); ties go to the earlier rule.
fn choose(scores: &[&SpeakerScore], rules: &[FusionRule]) -> usize {
    let mean = |f: &dyn Fn(&SpeakerScore) -> f64| scores.iter().map(|s| f(s)).sum::<f64>() / scores.len() as f64;
    let base_rej = mean(&|s| pct(s.words_rejected_base, s.words));
    let mut best = (0, f64::MIN);
    for n in 0..rules.len() {
        let acc = mean(&|s| pct(s.voice[n], s.digits));
        let rej = mean(&|s| pct(s.words_rejected_voice[n], s.words));
        let ok = rej.is_nan() || base_rej.is_nan() || rej >= base_rej - 2.0;
        if ok && acc > best.1 {
            best = (n, acc);
        }
    }
    best.0
}

fn rule_text(r: &FusionRule) -> String {
    format!(
        "w {} tau {} floor {} accept below {} and {} of the mean",
        r.model_weight, r.tau, r.log_floor, r.accept_below, r.accept_relative
    )
}

/// `all[k][speaker]`: prints one table per K.
fn report(all: &[Vec<SpeakerScore>], rules: &[FusionRule]) {
    let n_speakers = all[0].len();
    // The rule for each held-out speaker, chosen on the other speakers at every K at once.
    let cv: Vec<usize> = (0..n_speakers)
        .map(|held| {
            let others: Vec<&SpeakerScore> = all
                .iter()
                .flat_map(|per_k| per_k.iter().enumerate().filter(|(m, _)| *m != held).map(|(_, s)| s))
                .collect();
            choose(&others, rules)
        })
        .collect();
    for (ki, scores) in all.iter().enumerate() {
        println!("\nK = {} takes per digit enrolled (scored on the speaker's other takes)", TAKES[ki]);
        println!(
            "{:<10} {:>6} {:>7} {:>7} {:>7} {:>7} {:>8}   words rejected: {:>5} {:>6} {:>6} {:>8}",
            "speaker", "takes", "base", "hybrid", "DTW", "voice", "voice-cv", "base", "hybrid", "voice", "voice-cv"
        );
        let mut sums = [0.0f64; 9];
        let mut rescued = (0usize, 0usize);
        for (n, s) in scores.iter().enumerate() {
            let row = [
                pct(s.base, s.digits),
                pct(s.hybrid, s.digits),
                pct(s.dtw, s.digits),
                pct(s.shipped, s.digits),
                pct(s.voice[cv[n]], s.digits),
                pct(s.words_rejected_base, s.words),
                pct(s.words_rejected_hybrid, s.words),
                pct(s.words_rejected_shipped, s.words),
                pct(s.words_rejected_voice[cv[n]], s.words),
            ];
            for (a, b) in sums.iter_mut().zip(row) {
                *a += b;
            }
            rescued.0 += s.shipped_rescued;
            rescued.1 += s.base_rejected;
            println!(
                "{:<10} {:>6} {:>6.1}% {:>6.1}% {:>6.1}% {:>6.1}% {:>7.1}%   {:>14.1}% {:>5.1}% {:>5.1}% {:>7.1}%  ({} words)",
                s.speaker, s.digits, row[0], row[1], row[2], row[3], row[4], row[5], row[6], row[7], row[8], s.words
            );
        }
        let n = scores.len() as f64;
        println!(
            "{:<10} {:>6} {:>6.1}% {:>6.1}% {:>6.1}% {:>6.1}% {:>7.1}%   {:>14.1}% {:>5.1}% {:>5.1}% {:>7.1}%",
            "mean",
            "",
            sums[0] / n,
            sums[1] / n,
            sums[2] / n,
            sums[3] / n,
            sums[4] / n,
            sums[5] / n,
            sums[6] / n,
            sums[7] / n,
            sums[8] / n
        );
        println!(
            "digits the base model rejected: {} of {}; the shipped voice rule got {} of them right ({:.0}%)",
            rescued.1,
            scores.iter().map(|s| s.digits).sum::<usize>(),
            rescued.0,
            pct(rescued.0, rescued.1)
        );
    }
    println!("\nvoice-cv rules (chosen without the speaker):");
    for (n, s) in all[0].iter().enumerate() {
        println!("  {:<10} {}", s.speaker, rule_text(&rules[cv[n]]));
    }
    let everyone: Vec<&SpeakerScore> = all.iter().flatten().collect();
    println!("rule chosen on all speakers: {}", rule_text(&rules[choose(&everyone, rules)]));
    println!("shipped rule (FusionRule::default()): {}", rule_text(&FusionRule::default()));
}
