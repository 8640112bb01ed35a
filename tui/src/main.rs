//! `fsdd-tui`: parse the command line, run it, turn errors into a message and exit code 1.

use clap::Parser;

fn main() -> std::process::ExitCode {
    let cli = fsdd_tui::cli::Cli::parse();
    match fsdd_tui::commands::run(cli) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            // The terminal is already restored here (guards drop before the error returns).
            eprintln!("fsdd-tui: error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
