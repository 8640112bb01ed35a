//! Rendering on ratatui's TestBackend, from state built by the real recognizer on FSDD audio
//! (and from synthetic state where the point is layout, colours or robustness).

mod common;

use std::path::PathBuf;

use common::{buffer_lines, concatenate, fsdd_file, model, speech_commands_file};
use fsdd_core::inference::model::{N_OUTPUTS, NOT_A_DIGIT};
use fsdd_core::signal::mfcc::{FEATURE_LEN, N_FRAMES};
use fsdd_core::{Detection, DetectionKind, LiveView, Recognizer, RecognizerConfig, ScoringMode};
use fsdd_tui::dashboard::app::{App, FileLabels, LabelSource, SourceInfo};
use fsdd_tui::dashboard::ui;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::style::Color;

fn app() -> App {
    App::new(
        SourceInfo { description: "test files".into(), input_rate: 8000 },
        ScoringMode::Base,
        fsdd_core::EarlyExitPolicy::default().threshold,
        fsdd_core::EarlyExitPolicy::default().consecutive,
    )
}

fn draw(app: &App, w: u16, h: u16) -> ratatui::buffer::Buffer {
    let mut terminal = Terminal::new(TestBackend::new(w, h)).unwrap();
    terminal.draw(|f| ui::render(f, app)).unwrap();
    terminal.backend().buffer().clone()
}

/// Streams FSDD files through the recognizer the way the dashboard's engine would and feeds
/// every detection and the live view after it into an App.
fn app_after_streaming(names: &[&str]) -> (App, Vec<Detection>) {
    let files: Vec<_> = names.iter().map(|n| fsdd_file(n)).collect();
    app_after_streaming_files(&files)
}

/// [`app_after_streaming`] for any 8 kHz files, labelled by their names as `--input` does.
fn app_after_streaming_files(files: &[PathBuf]) -> (App, Vec<Detection>) {
    let names: Vec<String> = files.iter().map(|f| f.file_name().unwrap().to_string_lossy().into_owned()).collect();
    let (audio, starts) = concatenate(files, 0.5);
    let mut app = app();
    app.file_labels = Some(FileLabels {
        spans: starts
            .iter()
            .zip(names)
            .map(|(&s, n)| (s as u64, s as u64 + 4000, fsdd_tui::offline::label_from_name(n.as_ref()), n.to_string()))
            .collect(),
    });
    let mut recognizer = Recognizer::new(model(), RecognizerConfig::default());
    let mut detections = Vec::new();
    for chunk in audio.chunks(512) {
        let mut found = Vec::new();
        recognizer.push(chunk, &mut |d| found.push(d));
        for d in found {
            app.on_live(recognizer.live().clone());
            app.on_detection(d);
            detections.push(d);
        }
    }
    recognizer.finish(&mut |d| {
        app.on_detection(d);
        detections.push(d);
    });
    (app, detections)
}

fn bar_cells(line: &str) -> usize {
    line.chars().filter(|&c| c == '█').count()
}

#[test]
fn a_spoken_seven_shows_in_bars_history_matrix_and_saliency() {
    let (app, detections) = app_after_streaming(&["7_jackson_0.wav"]);
    assert_eq!(detections.len(), 1, "one word, one detection: {detections:?}");
    assert_eq!(detections[0].digit, Some(7));
    let lines = buffer_lines(&draw(&app, 140, 44));
    let screen = lines.join("\n");

    // Probability bars: the "7 seven" bar is the longest and is at or past the threshold mark.
    let prob_lines: Vec<&String> = (0..10)
        .map(|d| {
            lines
                .iter()
                .find(|l| l.contains(&format!("│{d} {:<5} ", fsdd_tui::dashboard::app::DIGIT_WORDS[d])))
                .unwrap()
        })
        .collect();
    let seven = bar_cells(prob_lines[7]);
    for (d, l) in prob_lines.iter().enumerate() {
        if d != 7 {
            assert!(bar_cells(l) < seven, "digit {d} bar not shorter than 7's:\n{screen}");
        }
    }
    assert!(prob_lines.iter().all(|l| l.contains('┃')), "threshold marker on every bar:\n{screen}");

    // History: one row, digit 7, labelled right from the file name.
    let row = lines.iter().find(|l| l.contains("✓7f")).unwrap_or_else(|| panic!("history row missing:\n{screen}"));
    assert!(row.contains(" 7 "), "{row}");
    assert!(row.contains("early") || row.contains("final"), "{row}");
    assert!(screen.contains("detections (1)"), "{screen}");

    // Confusion matrix: 1 at (7, 7) and 100% accuracy.
    assert!(screen.contains("acc 100.0% (1/1)"), "{screen}");
    let matrix_row =
        lines.iter().find(|l| l.contains("│  7   ·   ·   ·   ·   ·   ·   ·   1   ·   ·")).map(|_| ()).is_some();
    assert!(matrix_row, "row 7 of the confusion matrix:\n{screen}");

    // Saliency names the digit, and the frequency range and moment that stood out.
    assert!(screen.contains("why \"seven\""), "{screen}");
    let summary =
        lines.iter().find(|l| l.contains("stood out: ")).unwrap_or_else(|| panic!("no saliency summary:\n{screen}"));
    assert!(summary.contains(" Hz, ") && summary.contains(" ms"), "{summary}");
}

#[test]
fn several_words_fill_history_and_matrix_in_order() {
    let names = ["0_george_1.wav", "3_nicolas_2.wav", "5_yweweler_3.wav", "8_theo_4.wav", "9_lucas_0.wav"];
    let (app, detections) = app_after_streaming(&names);
    assert_eq!(detections.len(), names.len(), "{detections:?}");
    let screen = buffer_lines(&draw(&app, 140, 44)).join("\n");
    let m = &app.confusion;
    assert_eq!(m.total() as usize, names.len(), "every detection labelled from its file name");
    assert!(m.correct() >= 4, "at least 4 of 5 right: {:?}", m.counts);
    let expected = format!("acc {:.1}% ({}/{})", 100.0 * m.accuracy(), m.correct(), names.len());
    assert!(screen.contains(&expected), "{expected} in:\n{screen}");
    // Newest first: the last word's row comes before the first word's.
    let pos = |label: &str| screen.find(label);
    let (last, first) = (pos(&format!("{}9f", if detections[4].digit == Some(9) { "✓" } else { "✗" })), pos("0f"));
    assert!(last.is_some() && first.is_some() && last < first, "{screen}");
}

#[test]
fn heat_map_draws_the_mfcc_window_left_to_right_and_bottom_up() {
    let mut a = app();
    // Coefficients 1.. rise with time, so colours go from dark (left) to bright (right).
    let mut mfcc = Box::new([0.0f32; FEATURE_LEN]);
    for (i, v) in mfcc.iter_mut().enumerate() {
        let frame = i % N_FRAMES;
        *v = frame as f32;
    }
    a.live = LiveView { mfcc, ..LiveView::default() };
    let buf = draw(&a, 140, 44);
    let lines = buffer_lines(&buf);
    let title_row = lines.iter().position(|l| l.contains("MFCC window")).unwrap() as u16;
    let (y, x0) = (title_row + 3, 1u16);
    let left = buf[(x0, y)].fg;
    let right = buf[(x0 + N_FRAMES as u16 - 1, y)].fg;
    assert_eq!(buf[(x0, y)].symbol(), "▀");
    let brightness = |c: Color| match c {
        Color::Rgb(r, g, b) => r as u32 + g as u32 + b as u32,
        other => panic!("heat map cells are RGB, got {other:?}"),
    };
    assert!(brightness(right) > brightness(left) + 200, "left {left:?} right {right:?}");
}

#[test]
fn any_terminal_size_renders_without_panicking() {
    let (app, _) = app_after_streaming(&["4_jackson_1.wav"]);
    for (w, h) in [(1, 1), (10, 3), (79, 23), (80, 24), (100, 30), (120, 40), (250, 80), (80, 100), (300, 24)] {
        let lines = buffer_lines(&draw(&app, w, h));
        if w < ui::MIN_WIDTH || h < ui::MIN_HEIGHT {
            assert!(lines.join("").contains("needs at least") || w * h < 40, "{w}x{h}");
        } else {
            assert!(lines.join("\n").contains("digit probabilities"), "{w}x{h}");
        }
    }
}

#[test]
fn help_and_enrollment_overlays_render() {
    let mut a = app();
    a.show_help = true;
    let screen = buffer_lines(&draw(&a, 120, 40)).join("\n");
    assert!(screen.contains("help: keys") && screen.contains("cycle scoring mode"), "{screen}");

    let mut a = app();
    a.enroll_per_digit = 2;
    a.start_enrollment();
    let screen = buffer_lines(&draw(&a, 120, 40)).join("\n");
    assert!(
        screen.contains("enrollment 0/20") && screen.contains("ZERO") && screen.contains("take 1 of 2"),
        "{screen}"
    );
}

/// Synthetic state: what a rejection looks like in every panel, next to a digit.
#[test]
fn a_rejected_sound_shows_as_not_a_digit_in_history_bars_matrix_and_saliency() {
    let mut a = app();
    a.file_labels = Some(FileLabels {
        spans: vec![
            (0, 8000, Some(2), "2_theo_0.wav".into()),
            (16_000, 24_000, Some(NOT_A_DIGIT as u8), "house_sc2aa787cf_0.wav".into()),
        ],
    });
    let mut probs = [0.004f32; N_OUTPUTS];
    probs[2] = 0.96;
    a.on_detection(Detection {
        digit: Some(2),
        confidence: 0.96,
        probs,
        kind: DetectionKind::Final,
        onset: 100,
        decision: 5000,
        end: Some(4000),
        compute_us: 600,
        saliency: None,
    });
    let mut probs = [0.007f32; N_OUTPUTS];
    probs[NOT_A_DIGIT] = 0.93;
    let rejected = Detection {
        digit: None,
        confidence: 0.93,
        probs,
        kind: DetectionKind::Rejected,
        onset: 16_100,
        decision: 21_000,
        end: Some(20_000),
        compute_us: 700,
        saliency: None,
    };
    a.on_live(LiveView { probs, last_detection: Some(rejected), ..LiveView::default() });
    a.on_detection(rejected);
    assert_eq!(a.history[0].truth, Some((NOT_A_DIGIT as u8, LabelSource::FileName)));

    for (w, h) in [(120, 40), (140, 44)] {
        let lines = buffer_lines(&draw(&a, w, h));
        let screen = lines.join("\n");
        // History: the rejection is the newest row: no digit, its confidence, kind, right by
        // its file name.
        let row = lines
            .iter()
            .find(|l| l.contains("house_sc2aa787"))
            .unwrap_or_else(|| panic!("{w}x{h}: rejection row missing:\n{screen}"));
        for part in [" —  0.93 not a digit", "+125ms", "0.7ms", "✓—f"] {
            assert!(row.contains(part), "{w}x{h}: {part:?} in {row:?}");
        }
        let digit_row = lines.iter().find(|l| l.contains("2_theo_0")).unwrap();
        assert!(digit_row.contains(" 2  0.96 final") && digit_row.contains("✓2f"));
        assert!(!digit_row.contains(".wav"), "file names without .wav: {digit_row}");
        assert!(screen.find("house_sc2aa787") < screen.find("2_theo_0"), "newest first");

        // Probability bars: an 11th row, the longest bar, no early-exit marker on it.
        let not_bar = lines
            .iter()
            .find(|l| l.contains("│not a digit "))
            .unwrap_or_else(|| panic!("{w}x{h}: no not-a-digit bar:\n{screen}"));
        assert!(not_bar.contains(" 0.93") && !not_bar.contains('┃'), "{not_bar}");
        let two = lines.iter().find(|l| l.contains("│2 two ")).unwrap();
        assert!(bar_cells(not_bar) > 30 && bar_cells(two) == 0, "{not_bar}\n{two}");

        // Confusion matrix: a "not" column and row; (2, 2) and (not, not) hold one each.
        assert!(
            lines.iter().any(|l| l.contains("t\\h   0   1   2   3   4   5   6   7   8   9 not")),
            "{w}x{h}: matrix header:\n{screen}"
        );
        assert!(lines.iter().any(|l| l.contains("│  2   ·   ·   1   ·   ·   ·   ·   ·   ·   ·   ·")), "{screen}");
        assert!(lines.iter().any(|l| l.contains("│not   ·   ·   ·   ·   ·   ·   ·   ·   ·   ·   1")), "{screen}");
        assert!(screen.contains("acc 100.0% (2/2)"), "{screen}");

        // Saliency: no bands for a rejection, a note instead.
        assert!(
            screen.contains("why: the last sound was not a digit")
                && screen.contains("not a digit (p 0.93)")
                && screen.contains("closest digit: 0 \"zero\" (p 0.01)")
                && !screen.contains("stood out"),
            "{screen}"
        );
    }

    // The narrowest dashboard still has every column of the matrix (3 cells each).
    let lines = buffer_lines(&draw(&a, 80, 24));
    assert!(lines.iter().any(|l| l.contains("t\\h  0  1  2  3  4  5  6  7  8  9not")), "{}", lines.join("\n"));
}

/// Real words and digits through the real recognizer, labelled by their names as `--input`
/// labels them: whatever the model decides about each word, the history and the matrix say the
/// same (a rejected word is right, a word heard as a digit wrong).
#[test]
fn speech_commands_words_streamed_land_in_the_not_row_of_the_matrix() {
    let files: Vec<PathBuf> =
        ["house_sc2aa787cf_0.wav", "3_nicolas_2.wav", "marvin_sc0c40e715_0.wav", "stop_sc022cd682_0.wav"]
            .iter()
            .map(|n| if n.contains("_sc") { speech_commands_file(n) } else { fsdd_file(n) })
            .collect();
    let (app, detections) = app_after_streaming_files(&files);
    assert!(!detections.is_empty());
    let lines = buffer_lines(&draw(&app, 140, 44));
    let screen = lines.join("\n");
    let not = NOT_A_DIGIT;
    let m = &app.confusion;
    let words: u32 = m.counts[not].iter().sum();
    assert!(words >= 1, "the words were labelled not a digit: {:?}", m.counts);
    assert_eq!(m.total() as usize, app.history.len(), "every detection labelled");
    // Screen and state agree: one ✓—f per word rejected, one ✗—f per word heard as a digit.
    assert_eq!(screen.matches("✓—f").count() as u32, m.counts[not][not], "{screen}");
    assert_eq!(screen.matches("✗—f").count() as u32, words - m.counts[not][not], "{screen}");
    let rejected = detections.iter().filter(|d| d.kind == DetectionKind::Rejected).count();
    let rejected_rows = lines.iter().filter(|l| l.contains(" —  ") && l.contains("not a digit")).count();
    assert_eq!(rejected_rows, rejected, "{screen}");
    let not_row = lines.iter().find(|l| l.starts_with("│not ")).unwrap_or_else(|| panic!("{screen}"));
    let cells: Vec<u32> = not_row
        .split('│')
        .nth(1)
        .unwrap()
        .split_whitespace()
        .skip(1)
        .map(|c| if c == "·" { 0 } else { c.parse().unwrap() })
        .collect();
    assert_eq!(cells, m.counts[not].to_vec(), "{not_row}");
    for d in &detections {
        assert_eq!(d.digit.is_none(), d.kind == DetectionKind::Rejected, "{d:?}");
    }
}
