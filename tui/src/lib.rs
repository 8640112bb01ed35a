//! fsdd-tui: a live terminal dashboard for the spoken-digit recognizer, and file subcommands
//! for scripts.
//!
//! - [`cli`]: flags and subcommands; [`commands`] dispatches them.
//! - [`dashboard`]: the live dashboard (state, key handling, pure rendering, the run loop, the
//!   terminal guard).
//! - Audio in: [`audio_input`] (cpal device -> engine), [`file_input`] (`--input` WAVs played
//!   through the same engine).
//! - Subcommands: [`offline`] does the work (predict, eval, stream, enroll), [`report`] prints it.

pub mod audio_input;
pub mod cli;
pub mod commands;
pub mod dashboard;
pub mod file_input;
pub mod offline;
pub mod report;
