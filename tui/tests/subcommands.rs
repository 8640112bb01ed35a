//! The scripting subcommands, run as the real binary on FSDD.

mod common;

use common::{concatenate, fsdd_dir, fsdd_file, run, stderr, stdout};
use serde_json::Value;

fn json_lines(s: &str) -> Vec<Value> {
    s.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

#[test]
fn predict_json_one_line_per_file_with_probabilities() {
    let files = ["2_theo_0.wav", "6_nicolas_3.wav", "9_george_1.wav"]
        .map(|n| fsdd_file(n).display().to_string());
    let mut args = vec!["predict", "--json"];
    args.extend(files.iter().map(String::as_str));
    let out = run(&args);
    assert!(out.status.success(), "{}", stderr(&out));
    let lines = json_lines(&stdout(&out));
    assert_eq!(lines.len(), 3);
    let mut right = 0;
    for (line, (file, digit)) in lines.iter().zip(files.iter().zip([2, 6, 9])) {
        assert_eq!(line["file"], file.as_str());
        let probs: Vec<f64> = line["probs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p.as_f64().unwrap())
            .collect();
        assert_eq!(probs.len(), 10);
        assert!((probs.iter().sum::<f64>() - 1.0).abs() < 1e-3, "{probs:?}");
        let top = line["digit"].as_u64().unwrap() as usize;
        assert!((probs[top] - line["confidence"].as_f64().unwrap()).abs() < 1e-6);
        right += (top == digit) as usize;
    }
    assert!(right >= 2, "{lines:?}");
}

#[test]
fn predict_text_and_directories() {
    let dir = tempfile::tempdir().unwrap();
    for n in ["1_jackson_0.wav", "4_lucas_2.wav"] {
        std::fs::copy(fsdd_file(n), dir.path().join(n)).unwrap();
    }
    let out = run(&["predict", dir.path().to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert!(
        lines[0].contains("1_jackson_0.wav\t") && lines[1].contains("4_lucas_2.wav\t"),
        "{text}"
    );
}

#[test]
fn eval_on_the_fsdd_test_split() {
    let out = run(&[
        "eval",
        "--json",
        "--fsdd-test",
        fsdd_dir().to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let lines = json_lines(&stdout(&out));
    assert_eq!(lines.len(), 1);
    let r = &lines[0];
    assert_eq!(r["files"], 300, "6 speakers x 10 digits x takes 0-4");
    let accuracy = r["accuracy"].as_f64().unwrap();
    eprintln!(
        "FSDD test split: accuracy {accuracy:.4} macro-F1 {}",
        r["macro_f1"]
    );
    assert!(accuracy >= 0.85, "accuracy {accuracy}");
    let confusion: Vec<Vec<u64>> = r["confusion"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| {
            row.as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_u64().unwrap())
                .collect()
        })
        .collect();
    assert_eq!(confusion.len(), 10);
    for row in &confusion {
        assert_eq!(row.iter().sum::<u64>(), 30);
    }
    let diagonal: u64 = (0..10).map(|d| confusion[d][d]).sum();
    assert!((diagonal as f64 / 300.0 - accuracy).abs() < 1e-6);
    assert_eq!(r["per_digit_recall"].as_array().unwrap().len(), 10);
    assert!(r["macro_f1"].as_f64().unwrap() > 0.8);

    // The text form says the same in words, and --data finds the directory too.
    let out = run(&[
        "eval",
        "--fsdd-test",
        "--data",
        fsdd_dir().to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains("files 300") && text.contains(&format!("accuracy {:.2}%", 100.0 * accuracy)),
        "{text}"
    );
    assert!(
        text.contains("per-digit recall:") && text.contains("macro-F1"),
        "{text}"
    );
}

#[test]
fn stream_finds_every_digit_of_a_long_recording_in_order() {
    let names: Vec<String> = (0..10)
        .map(|d| {
            format!(
                "{d}_{}_{}.wav",
                ["george", "jackson", "lucas", "nicolas", "theo", "yweweler"][d % 6],
                d % 5
            )
        })
        .collect();
    let files: Vec<_> = names.iter().map(|n| fsdd_file(n)).collect();
    let (audio, starts) = concatenate(&files, 0.6);
    let dir = tempfile::tempdir().unwrap();
    let wav = dir.path().join("long.wav");
    // Stored at 16 kHz so the subcommand's resampling is exercised too.
    let audio_16k = fsdd_core::resample::resample(&audio, 8000, 16000).unwrap();
    fsdd_core::audio::write_wav_i16(&wav, &audio_16k, 16000).unwrap();

    let out = run(&["stream", "--json", wav.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let events = json_lines(&stdout(&out));
    assert_eq!(events.len(), 10, "one detection per word: {events:#?}");
    let mut right = 0;
    for (i, e) in events.iter().enumerate() {
        let onset = e["onset_s"].as_f64().unwrap();
        let decision = e["decision_s"].as_f64().unwrap();
        // Within its own file (some FSDD files start with a little silence).
        let start = starts[i] as f64 / 8000.0;
        let next = starts.get(i + 1).map_or(f64::MAX, |&s| s as f64 / 8000.0);
        assert!(
            onset > start - 0.1 && onset < next - 0.6,
            "word {i}: onset {onset} vs file start {start}"
        );
        assert!(decision > onset);
        match e["end_s"].as_f64() {
            Some(end) => {
                assert_eq!(e["early"], false);
                assert!(end > onset && decision >= end, "{e}");
            }
            None => assert_eq!(e["early"], true, "{e}"),
        }
        right += (e["digit"].as_u64().unwrap() == i as u64) as usize;
    }
    assert!(right >= 8, "{right}/10 right: {events:#?}");
}

#[test]
fn enroll_from_files_then_predict_with_prototypes() {
    let dir = tempfile::tempdir().unwrap();
    let protos = dir.path().join("sub/protos.json");
    let out = run(&[
        "enroll",
        "--from",
        fsdd_dir().to_str().unwrap(),
        "--out",
        protos.to_str().unwrap(),
        "--per-digit",
        "5",
        "--speaker",
        "theo",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("50 files"), "{}", stdout(&out));
    let set = fsdd_core::PrototypeSet::load(&protos).unwrap();
    for d in 0..10 {
        assert_eq!(set.count(d), 5);
    }
    // Theo's other takes, scored by his prototypes alone.
    let files: Vec<String> = (0..10)
        .map(|d| {
            fsdd_file(&format!("{d}_theo_{}.wav", 10 + d))
                .display()
                .to_string()
        })
        .collect();
    let mut args = vec![
        "predict",
        "--json",
        "--mode",
        "proto",
        "--prototypes",
        protos.to_str().unwrap(),
    ];
    args.extend(files.iter().map(String::as_str));
    let out = run(&args);
    assert!(out.status.success(), "{}", stderr(&out));
    let lines = json_lines(&stdout(&out));
    let right = lines
        .iter()
        .enumerate()
        .filter(|(d, l)| l["digit"].as_u64() == Some(*d as u64))
        .count();
    assert!(right >= 7, "proto mode on the enrolled speaker: {right}/10");
}

#[test]
fn bad_input_gives_a_clear_error_and_non_zero_exit() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.wav");
    let out = run(&["predict", missing.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("nope.wav") && stderr(&out).contains("no such file"),
        "{}",
        stderr(&out)
    );

    let corrupt = dir.path().join("3_bad.wav");
    std::fs::write(&corrupt, b"RIFF\x10\x00\x00\x00WAVEjunkjunkjunk").unwrap();
    let out = run(&["predict", corrupt.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("3_bad.wav") && stderr(&out).contains("WAV"),
        "{}",
        stderr(&out)
    );

    let protos = dir.path().join("protos.json");
    std::fs::write(&protos, "{ this is not a prototypes file").unwrap();
    let out = run(&[
        "predict",
        "--prototypes",
        protos.to_str().unwrap(),
        fsdd_file("1_theo_0.wav").to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("protos.json") && stderr(&out).contains("prototypes"),
        "{}",
        stderr(&out)
    );

    let out = run(&[
        "predict",
        "--mode",
        "proto",
        fsdd_file("1_theo_0.wav").to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("--prototypes"), "{}", stderr(&out));

    let out = run(&["eval", dir.path().to_str().unwrap()]);
    assert!(!out.status.success());

    let out = run(&[
        "predict",
        "--model",
        corrupt.to_str().unwrap(),
        fsdd_file("1_theo_0.wav").to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("model"), "{}", stderr(&out));
}
