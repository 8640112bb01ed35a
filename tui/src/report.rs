//! Output of the subcommands: human-readable text, or one JSON object per line (`--json`).
//! The JSON field names are a stable interface for scripts.
//!
//! A sound the model calls "not a digit" (another word, a noise) is reported as such, never as a
//! digit: `"digit": null, "kind": "rejected"` in JSON, `not-a-digit` / `not a digit` in text,
//! with the probability of "not a digit" as its confidence. `probs` lists digits 0-9, then
//! "not a digit".

use std::path::Path;

use fsdd_core::DetectionKind;
use fsdd_core::labels::{N_DIGITS, N_LABELS, label_name};
use serde_json::{Value, json};

use crate::offline::{EvalReport, Prediction, StreamEvent};

/// Rounds to 6 decimals so JSON stays short and diffable.
fn r6(x: f64) -> f64 {
    (x * 1e6).round() / 1e6
}

/// `predict --json`: `"digit": 7, "kind": "digit"`, or `"digit": null, "kind": "rejected"`.
pub fn prediction_json(file: &Path, p: &Prediction) -> Value {
    json!({
        "file": file.display().to_string(),
        "digit": p.digit,
        "kind": if p.digit.is_some() { "digit" } else { "rejected" },
        "confidence": r6(p.confidence as f64),
        "probs": p.probs.iter().map(|&x| r6(x as f64)).collect::<Vec<_>>(),
    })
}

/// What `predict` prints in the digit column for a rejected sound.
pub const NOT_A_DIGIT_TEXT: &str = "not-a-digit";

/// `predict`: `path<TAB>digit<TAB>confidence`, the digit column `not-a-digit` for a rejection.
pub fn prediction_text(file: &Path, p: &Prediction) -> String {
    let digit = p.digit.map_or_else(|| NOT_A_DIGIT_TEXT.to_string(), |d| d.to_string());
    format!("{}\t{digit}\t{:.3}", file.display(), p.confidence)
}

/// A share as a rounded number, or null when there was nothing to count.
fn share(x: Option<f64>) -> Value {
    x.map(r6).into()
}

pub fn eval_json(r: &EvalReport) -> Value {
    let m = &r.confusion;
    json!({
        "files": r.files,
        "accuracy": r6(m.accuracy()),
        "macro_f1": r6(m.macro_f1()),
        "digit_files": r.digit_files(),
        "digit_accuracy": share(r.digit_accuracy()),
        "per_digit_recall": m.per_digit_recall().iter().map(|x| x.map(r6)).collect::<Vec<_>>(),
        "digits_rejected": r.digits_rejected(),
        "non_digit_files": r.non_digit_files(),
        "non_digits_rejected": r.non_digits_rejected(),
        "rejection_rate": share(r.rejection_rate()),
        "model_rejects": r.model_rejects,
        "labels": (0..N_LABELS).map(label_name).collect::<Vec<_>>(),
        "confusion": m.counts.iter().map(|row| row.to_vec()).collect::<Vec<_>>(),
    })
}

fn percent(x: Option<f64>) -> String {
    x.map_or_else(|| "-".into(), |x| format!("{:.1}%", 100.0 * x))
}

pub fn eval_text(r: &EvalReport) -> String {
    let m = &r.confusion;
    let (digits, words) = (r.digit_files(), r.non_digit_files());
    let mut out = format!(
        "files {} ({digits} digits, {words} non-digit words)\naccuracy {:.2}% ({}/{})\n",
        r.files,
        100.0 * m.accuracy(),
        m.correct(),
        m.total(),
    );
    if digits > 0 {
        let right: u32 = (0..N_DIGITS).map(|d| m.counts[d][d]).sum();
        out.push_str(&format!("digit accuracy {} ({right}/{digits})\n", percent(r.digit_accuracy())));
    }
    out.push_str(&format!("macro-F1 {:.4}\nper-digit recall:", m.macro_f1()));
    for (d, recall) in m.per_digit_recall().iter().enumerate() {
        match recall {
            Some(x) => out.push_str(&format!(" {d}:{:.1}%", 100.0 * x)),
            None => out.push_str(&format!(" {d}:-")),
        }
    }
    if words > 0 {
        out.push_str(&format!(
            "\nrejected {} of {words} non-digit words ({}); {} heard as digits",
            r.non_digits_rejected(),
            percent(r.rejection_rate()),
            words - r.non_digits_rejected()
        ));
    }
    if digits > 0 {
        out.push_str(&format!("\ndigits wrongly rejected as not a digit: {} of {digits}", r.digits_rejected()));
    }
    if !r.model_rejects {
        out.push_str("\n(this model has no \"not a digit\" output: it rejects nothing)");
    }
    out.push_str("\nconfusion matrix (rows true, columns predicted; not = not a digit):\n");
    out.push_str(&m.to_string());
    out
}

/// `stream --json`: a digit as `"digit": 4, "kind": "early"|"final"|"unsure"`, a rejected sound
/// as `"digit": null, "kind": "rejected"` (decided at the end of speech, so `early` is false).
pub fn stream_json(e: &StreamEvent) -> Value {
    json!({
        "digit": e.digit,
        "confidence": r6(e.confidence as f64),
        "onset_s": r6(e.onset_s),
        "decision_s": r6(e.decision_s),
        "end_s": e.end_s.map(r6),
        "early": e.kind == DetectionKind::Early,
        "kind": kind_name(e.kind),
    })
}

pub fn stream_text(e: &StreamEvent) -> String {
    let end = e.end_s.map(|x| format!("{x:.3}s")).unwrap_or_else(|| "-".into());
    let what = e.digit.map_or_else(|| "not a digit".to_string(), |d| format!("digit {d}"));
    format!(
        "{:>8.3}s  {what:<11}  conf {:.3}  {:<8}  decided {:.3}s  end {}",
        e.onset_s,
        e.confidence,
        kind_name(e.kind),
        e.decision_s,
        end
    )
}

pub fn kind_name(kind: DetectionKind) -> &'static str {
    match kind {
        DetectionKind::Early => "early",
        DetectionKind::Final => "final",
        DetectionKind::Unsure => "unsure",
        DetectionKind::Rejected => "rejected",
    }
}
