//! Output of the subcommands: human-readable text, or one JSON object per line (`--json`).
//! The JSON field names are a stable interface for scripts.

use std::path::Path;

use fsdd_core::DetectionKind;
use serde_json::{Value, json};

use crate::offline::{EvalReport, Prediction, StreamEvent};

/// Rounds to 6 decimals so JSON stays short and diffable.
fn r6(x: f64) -> f64 {
    (x * 1e6).round() / 1e6
}

pub fn prediction_json(file: &Path, p: &Prediction) -> Value {
    json!({
        "file": file.display().to_string(),
        "digit": p.digit,
        "confidence": r6(p.confidence as f64),
        "probs": p.probs.iter().map(|&x| r6(x as f64)).collect::<Vec<_>>(),
    })
}

pub fn prediction_text(file: &Path, p: &Prediction) -> String {
    format!("{}\t{}\t{:.3}", file.display(), p.digit, p.confidence)
}

pub fn eval_json(r: &EvalReport) -> Value {
    let m = &r.confusion;
    json!({
        "files": r.files,
        "accuracy": r6(m.accuracy()),
        "macro_f1": r6(m.macro_f1()),
        "per_digit_recall": m.per_digit_recall().iter().map(|x| x.map(r6)).collect::<Vec<_>>(),
        "confusion": m.counts.iter().map(|row| row.to_vec()).collect::<Vec<_>>(),
    })
}

pub fn eval_text(r: &EvalReport) -> String {
    let m = &r.confusion;
    let mut out = format!(
        "files {}\naccuracy {:.2}% ({}/{})\nmacro-F1 {:.4}\nper-digit recall:",
        r.files,
        100.0 * m.accuracy(),
        m.correct(),
        m.total(),
        m.macro_f1()
    );
    for (d, recall) in m.per_digit_recall().iter().enumerate() {
        match recall {
            Some(x) => out.push_str(&format!(" {d}:{:.1}%", 100.0 * x)),
            None => out.push_str(&format!(" {d}:-")),
        }
    }
    out.push_str("\nconfusion matrix (rows true, columns predicted):\n");
    out.push_str(&m.to_string());
    out
}

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
    let end = e
        .end_s
        .map(|x| format!("{x:.3}s"))
        .unwrap_or_else(|| "-".into());
    format!(
        "{:>8.3}s  digit {}  conf {:.3}  {:<6}  decided {:.3}s  end {}",
        e.onset_s,
        e.digit,
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
    }
}
