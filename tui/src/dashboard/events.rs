//! Keys -> state changes (and [`Effect`]s for the engine). Every binding is listed in
//! [`KEY_HELP`], which the help overlay and the footer show.

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

use crate::dashboard::app::{App, Effect, NOT_A_DIGIT_LABEL};

/// (keys, what they do), in the order the help overlay lists them.
pub const KEY_HELP: &[(&str, &str)] = &[
    ("q Esc Ctrl-C", "quit (Esc closes help / cancels enrollment first)"),
    ("?", "show / hide this help"),
    ("m", "cycle scoring mode: base -> voice -> proto -> hybrid"),
    ("t", "quiz on/off: say the digit shown, the matrix scores it"),
    ("0-9", "correct the last detection (it was really this digit)"),
    ("n", "the last detection was not a digit (a word, a noise)"),
    ("a / u", "add the corrected word to your voice / undo that"),
    ("e", "enroll your voice: say each digit a few times"),
    ("Enter / r", "enrollment: keep this take / redo it"),
    ("+ -", "raise / lower the early-exit threshold"),
    ("c", "clear history and confusion matrix"),
];

/// The footer's short version.
pub const FOOTER: &str =
    "q quit  ? help  m mode  t quiz  0-9/n correct  a teach  u undo  e enroll  +/- threshold  c clear";

pub fn handle_key(app: &mut App, key: KeyEvent) -> Vec<Effect> {
    if key.kind == KeyEventKind::Release {
        return Vec::new();
    }
    let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
    if ctrl && matches!(key.code, KeyCode::Char('c') | KeyCode::Char('C')) {
        app.quit = true;
        return Vec::new();
    }
    if app.show_help {
        // Any key closes help; q still quits.
        app.show_help = false;
        if key.code == KeyCode::Char('q') {
            app.quit = true;
        }
        return Vec::new();
    }
    if app.enrollment.is_some() {
        return match key.code {
            KeyCode::Esc => app.cancel_enrollment(),
            KeyCode::Enter | KeyCode::Char(' ') => app.enrollment_accept(),
            KeyCode::Char('r') => {
                app.enrollment_redo();
                Vec::new()
            }
            KeyCode::Char('q') => {
                app.quit = true;
                Vec::new()
            }
            KeyCode::Char('?') => {
                app.show_help = true;
                Vec::new()
            }
            _ => Vec::new(),
        };
    }
    match key.code {
        KeyCode::Char('q') | KeyCode::Esc => app.quit = true,
        KeyCode::Char('?') | KeyCode::Char('h') => app.show_help = true,
        KeyCode::Char('m') => return app.cycle_mode(),
        KeyCode::Char('t') => app.toggle_quiz(),
        KeyCode::Char('e') => return app.start_enrollment(),
        KeyCode::Char('a') => return app.teach(),
        KeyCode::Char('u') => return app.undo_teach(),
        KeyCode::Char('+') | KeyCode::Char('=') => return app.adjust_threshold(0.01),
        KeyCode::Char('-') | KeyCode::Char('_') => return app.adjust_threshold(-0.01),
        KeyCode::Char('c') => {
            app.history.clear();
            app.confusion = Default::default();
            app.status = Some("history and confusion matrix cleared".into());
        }
        KeyCode::Char(c) if c.is_ascii_digit() => app.correct_last(c as u8 - b'0'),
        KeyCode::Char('n') => app.correct_last(NOT_A_DIGIT_LABEL),
        _ => {}
    }
    Vec::new()
}
