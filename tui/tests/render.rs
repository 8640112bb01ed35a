//! Rendering on ratatui's TestBackend, from state built by the real recognizer on FSDD audio
//! (and from synthetic state where the point is layout, colours or robustness).

mod common;

use common::{buffer_lines, concatenate, fsdd_file, model};
use fsdd_core::mfcc::{FEATURE_LEN, N_FRAMES};
use fsdd_core::{Detection, LiveView, Recognizer, RecognizerConfig, ScoringMode};
use fsdd_tui::app::{App, FileLabels, SourceInfo};
use fsdd_tui::ui;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::style::Color;

fn app() -> App {
    App::new(
        SourceInfo {
            description: "test files".into(),
            input_rate: 8000,
        },
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
    let (audio, starts) = concatenate(&files, 0.5);
    let mut app = app();
    app.file_labels = Some(FileLabels {
        spans: starts
            .iter()
            .zip(names)
            .map(|(&s, n)| {
                (
                    s as u64,
                    s as u64 + 4000,
                    fsdd_core::dataset::label_from_file_name(n.as_ref()),
                    n.to_string(),
                )
            })
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
    assert_eq!(
        detections.len(),
        1,
        "one word, one detection: {detections:?}"
    );
    assert_eq!(detections[0].digit, 7);
    let lines = buffer_lines(&draw(&app, 140, 44));
    let screen = lines.join("\n");

    // Probability bars: the "7 seven" bar is the longest and is at or past the threshold mark.
    let prob_lines: Vec<&String> = (0..10)
        .map(|d| {
            lines
                .iter()
                .find(|l| l.contains(&format!("│{d} {:<5} ", fsdd_tui::app::DIGIT_WORDS[d])))
                .unwrap()
        })
        .collect();
    let seven = bar_cells(prob_lines[7]);
    for (d, l) in prob_lines.iter().enumerate() {
        if d != 7 {
            assert!(
                bar_cells(l) < seven,
                "digit {d} bar not shorter than 7's:\n{screen}"
            );
        }
    }
    assert!(
        prob_lines.iter().all(|l| l.contains('┃')),
        "threshold marker on every bar:\n{screen}"
    );

    // History: one row, digit 7, labelled right from the file name.
    let row = lines
        .iter()
        .find(|l| l.contains("✓7f"))
        .unwrap_or_else(|| panic!("history row missing:\n{screen}"));
    assert!(row.contains(" 7 "), "{row}");
    assert!(row.contains("early") || row.contains("final"), "{row}");
    assert!(screen.contains("detections (1)"), "{screen}");

    // Confusion matrix: 1 at (7, 7) and 100% accuracy.
    assert!(screen.contains("acc 100.0% (1/1)"), "{screen}");
    let matrix_row = lines
        .iter()
        .find(|l| l.contains("│  7   ·   ·   ·   ·   ·   ·   ·   1   ·   ·"))
        .map(|_| ())
        .is_some();
    assert!(matrix_row, "row 7 of the confusion matrix:\n{screen}");

    // Saliency names the digit and a frequency range.
    assert!(screen.contains("why \"seven\""), "{screen}");
    assert!(
        screen.contains("most: ") && screen.contains("Hz, "),
        "{screen}"
    );
}

#[test]
fn several_words_fill_history_and_matrix_in_order() {
    let names = [
        "0_george_1.wav",
        "3_nicolas_2.wav",
        "5_yweweler_3.wav",
        "8_theo_4.wav",
        "9_lucas_0.wav",
    ];
    let (app, detections) = app_after_streaming(&names);
    assert_eq!(detections.len(), names.len(), "{detections:?}");
    let screen = buffer_lines(&draw(&app, 140, 44)).join("\n");
    let m = &app.confusion;
    assert_eq!(
        m.total() as usize,
        names.len(),
        "every detection labelled from its file name"
    );
    assert!(m.correct() >= 4, "at least 4 of 5 right: {:?}", m.counts);
    let expected = format!(
        "acc {:.1}% ({}/{})",
        100.0 * m.accuracy(),
        m.correct(),
        names.len()
    );
    assert!(screen.contains(&expected), "{expected} in:\n{screen}");
    // Newest first: the last word's row comes before the first word's.
    let pos = |label: &str| screen.find(label);
    let (last, first) = (
        pos(&format!(
            "{}9f",
            if detections[4].digit == 9 {
                "✓"
            } else {
                "✗"
            }
        )),
        pos("0f"),
    );
    assert!(
        last.is_some() && first.is_some() && last < first,
        "{screen}"
    );
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
    a.live = LiveView {
        mfcc,
        ..LiveView::default()
    };
    let buf = draw(&a, 140, 44);
    let lines = buffer_lines(&buf);
    let title_row = lines
        .iter()
        .position(|l| l.contains("MFCC window"))
        .unwrap() as u16;
    let (y, x0) = (title_row + 3, 1u16);
    let left = buf[(x0, y)].fg;
    let right = buf[(x0 + N_FRAMES as u16 - 1, y)].fg;
    assert_eq!(buf[(x0, y)].symbol(), "▀");
    let brightness = |c: Color| match c {
        Color::Rgb(r, g, b) => r as u32 + g as u32 + b as u32,
        other => panic!("heat map cells are RGB, got {other:?}"),
    };
    assert!(
        brightness(right) > brightness(left) + 200,
        "left {left:?} right {right:?}"
    );
}

#[test]
fn any_terminal_size_renders_without_panicking() {
    let (app, _) = app_after_streaming(&["4_jackson_1.wav"]);
    for (w, h) in [
        (1, 1),
        (10, 3),
        (79, 23),
        (80, 24),
        (100, 30),
        (120, 40),
        (250, 80),
        (80, 100),
        (300, 24),
    ] {
        let lines = buffer_lines(&draw(&app, w, h));
        if w < ui::MIN_WIDTH || h < ui::MIN_HEIGHT {
            assert!(
                lines.join("").contains("needs at least") || w * h < 40,
                "{w}x{h}"
            );
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
    assert!(
        screen.contains("help: keys") && screen.contains("cycle scoring mode"),
        "{screen}"
    );

    let mut a = app();
    a.enroll_per_digit = 2;
    a.start_enrollment();
    let screen = buffer_lines(&draw(&a, 120, 40)).join("\n");
    assert!(
        screen.contains("enrollment 0/20")
            && screen.contains("ZERO")
            && screen.contains("take 1 of 2"),
        "{screen}"
    );
}
