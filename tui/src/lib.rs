//! fsdd-tui: a live terminal dashboard for the spoken-digit recognizer, and file subcommands
//! for scripts.
//!
//! - [`cli`]: flags and subcommands.
//! - Live dashboard: [`dashboard`] runs the loop; [`app`] is its state, [`enrollment`] the
//!   guided voice enrollment, [`events`] maps keys to state changes, [`ui`] draws (pure, tested
//!   with ratatui's `TestBackend`), [`terminal`] enters/restores the terminal (panic hook too).
//! - Audio in: [`audio_input`] (cpal device -> engine), [`file_input`] (`--input` WAVs played
//!   through the same engine).
//! - Subcommands: [`offline`] does the work (predict, eval, stream, enroll), [`report`] prints it.
//! - [`cpu`]: what the redraw costs.

pub mod app;
pub mod audio_input;
pub mod cli;
pub mod commands;
pub mod cpu;
pub mod dashboard;
pub mod enrollment;
pub mod events;
pub mod file_input;
pub mod offline;
pub mod report;
pub mod terminal;
pub mod ui;
