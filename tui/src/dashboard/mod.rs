//! The live dashboard, split the way ratatui apps read best: [`app`] is its state (with the
//! guided voice [`enrollment`]), [`events`] turns keys into state changes and [`app::Effect`]s,
//! [`ui`] draws it (pure functions of the state, tested with `TestBackend`), and [`live_loop`]
//! runs audio -> engine -> state -> screen at ~30 fps. [`terminal`] enters and always restores
//! the terminal (a panic hook too); [`cpu`] measures what the redraw costs.

pub mod app;
pub mod cpu;
pub mod enrollment;
pub mod events;
mod live_loop;
pub mod terminal;
pub mod ui;

pub use live_loop::run;
