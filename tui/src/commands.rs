//! Runs what the command line asks for and prints the results.

use std::io::{BufWriter, Write};

use anyhow::Context;

use crate::cli::{Cli, Command, RecognizerArgs};
use crate::offline::{
    FileClassifier, Scoring, collect_wavs, enroll_from_files, evaluate, labelled_files, read_8k, stream_samples,
};
use crate::{audio_input, dashboard, report};

pub fn run(cli: Cli) -> anyhow::Result<()> {
    let recognizer = cli.live.recognizer.clone();
    match cli.command {
        None if cli.live.list_devices => list_devices(),
        None => dashboard::run(cli.live),
        Some(Command::Predict { json, paths }) => predict(&recognizer, json, &paths),
        Some(Command::Eval { json, fsdd_test, data, dirs }) => {
            let dirs =
                if dirs.is_empty() { vec![fsdd_core::labels::file_names::resolve_dir(data.as_deref())] } else { dirs };
            eval(&recognizer, json, fsdd_test, &dirs)
        }
        Some(Command::Stream { json, file }) => stream(&recognizer, json, &file),
        Some(Command::Enroll { from, out, per_digit, speaker }) => {
            enroll(&recognizer, &from, &out, per_digit, speaker.as_deref())
        }
    }
}

fn list_devices() -> anyhow::Result<()> {
    let devices = audio_input::list_input_devices()?;
    if devices.is_empty() {
        println!("no audio input devices found; {}", audio_input::NO_DEVICE_HINT);
        return Ok(());
    }
    for d in devices {
        let mark = if d.is_default { "*" } else { " " };
        println!("{mark} {}  [id {}]  {}", d.name, d.id, d.default_config);
    }
    println!("(* = default; pass a name or id to --device)");
    Ok(())
}

fn predict(args: &RecognizerArgs, json: bool, paths: &[std::path::PathBuf]) -> anyhow::Result<()> {
    let files = collect_wavs(paths)?;
    let mut classifier = FileClassifier::new(Scoring::from_args(args)?);
    let mut out = BufWriter::new(std::io::stdout().lock());
    for file in &files {
        let p = classifier.classify_file(file)?;
        if json {
            writeln!(out, "{}", report::prediction_json(file, &p))?;
        } else {
            writeln!(out, "{}", report::prediction_text(file, &p))?;
        }
    }
    out.flush()?;
    Ok(())
}

fn eval(args: &RecognizerArgs, json: bool, fsdd_test: bool, dirs: &[std::path::PathBuf]) -> anyhow::Result<()> {
    let files = labelled_files(dirs, fsdd_test)?;
    let mut classifier = FileClassifier::new(Scoring::from_args(args)?);
    let r = evaluate(&mut classifier, &files)?;
    // writeln, not println: a closed pipe (`| head`) is an error message, not a panic.
    let mut out = std::io::stdout().lock();
    if json {
        writeln!(out, "{}", report::eval_json(&r))?;
    } else {
        writeln!(out, "{}", report::eval_text(&r))?;
    }
    out.flush()?;
    Ok(())
}

fn stream(args: &RecognizerArgs, json: bool, file: &std::path::Path) -> anyhow::Result<()> {
    let scoring = Scoring::from_args(args)?;
    let config = scoring.recognizer_config(args)?;
    let samples = read_8k(file)?;
    let events = stream_samples(&scoring, config, &samples);
    let mut out = BufWriter::new(std::io::stdout().lock());
    for e in &events {
        if json {
            writeln!(out, "{}", report::stream_json(e))?;
        } else {
            writeln!(out, "{}", report::stream_text(e))?;
        }
    }
    out.flush()?;
    Ok(())
}

fn enroll(
    args: &RecognizerArgs,
    from: &[std::path::PathBuf],
    out: &std::path::Path,
    per_digit: Option<usize>,
    speaker: Option<&str>,
) -> anyhow::Result<()> {
    // The voice file keeps the takes' audio; the model is loaded only to check that the takes
    // make a usable voice (and to fail here, not later in the dashboard).
    let model = crate::offline::load_model(args.model.as_deref())?;
    let (voice, used) = enroll_from_files(from, per_digit, speaker)?;
    fsdd_core::VoiceMatcher::build(&model, &voice).context("the enrolled takes do not make a usable voice")?;
    voice.save(out).map_err(|e| anyhow::anyhow!("cannot save the voice: {e}"))?;
    let counts: Vec<String> = used.iter().enumerate().map(|(d, n)| format!("{d}:{n}")).collect();
    println!("wrote {} ({} files; per digit {})", out.display(), used.iter().sum::<usize>(), counts.join(" "));
    Ok(())
}
