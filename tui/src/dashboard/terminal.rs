//! Raw mode + alternate screen, and always getting out of them: on drop (normal exit and `?`
//! errors) and from a panic hook (a panic anywhere, before the message is printed).

use std::io::{Stdout, stdout};
use std::sync::Once;

use crossterm::cursor::{Hide, Show};
use crossterm::execute;
use crossterm::terminal::{EnterAlternateScreen, LeaveAlternateScreen, disable_raw_mode, enable_raw_mode};
use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;

pub type Tui = Terminal<CrosstermBackend<Stdout>>;

/// Puts the terminal back as we found it. Safe to call more than once.
pub fn restore() {
    let _ = disable_raw_mode();
    let _ = execute!(stdout(), LeaveAlternateScreen, Show);
}

static HOOK: Once = Once::new();

/// Restores the terminal before the default hook prints the panic, so the message is readable
/// and the shell usable.
pub fn install_panic_hook() {
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            restore();
            previous(info);
        }));
    });
}

/// Owns the dashboard's terminal; dropping it restores the terminal.
pub struct TerminalGuard {
    pub terminal: Tui,
}

impl TerminalGuard {
    pub fn enter() -> anyhow::Result<Self> {
        install_panic_hook();
        enable_raw_mode()
            .map_err(|e| anyhow::anyhow!("cannot switch the terminal to raw mode (is this a terminal?): {e}"))?;
        let guard_restore_on_error = |e: std::io::Error| {
            restore();
            anyhow::anyhow!("cannot set up the terminal: {e}")
        };
        execute!(stdout(), EnterAlternateScreen, Hide).map_err(guard_restore_on_error)?;
        let terminal = Terminal::new(CrosstermBackend::new(stdout())).map_err(guard_restore_on_error)?;
        Ok(Self { terminal })
    }
}

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        restore();
    }
}
