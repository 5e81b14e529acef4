//! The terminal UI of `telltale watch` and `telltale demo`: an [`App`] that holds the
//! screen's state, changes it only in [`App::update`] (keys, mouse, new snapshots,
//! messages, ticks) and draws it in [`App::view`]. The runner (`run.rs`) owns the
//! terminal and the threads; everything here is pure state and drawing, so it is tested
//! with ratatui's `TestBackend`.
//!
//! Verdicts read without colour: `✗ flagged`, `✓ declared`, `○ allowed`, `· local`.
//!
//! - `app`: the state and `update`; `facts`: per-flow facts kept across snapshots, so a
//!   new snapshot costs only the flows that changed; `filter`: the query language of `/`;
//!   `sort`: the row orders of `s`; `tally`: totals by verdict and category.
//! - `view/`: one file per part of the screen, and `style.rs` for colours and glyphs.

mod app;
mod facts;
mod filter;
pub mod run;
mod sort;
mod tally;
mod view;

#[cfg(test)]
mod screens;
#[cfg(test)]
mod testing;

pub use app::App;

use crate::live::snapshot::Snapshot;
use std::sync::Arc;

/// How the UI looks and behaves, from the command line and the environment.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct UiOptions {
    /// No colours at all (`NO_COLOR`); bold and reversed text and the glyphs carry the meaning.
    pub no_color: bool,
    /// Ask the runner to ring the terminal bell when a newly flagged flow appears.
    pub bell: bool,
}

/// What the runner feeds the UI.
#[derive(Clone, Debug)]
pub enum UiEvent {
    Key(crossterm::event::KeyEvent),
    Mouse(crossterm::event::MouseEvent),
    /// A new picture of the audit from the pipeline thread.
    Snapshot(Arc<Snapshot>),
    /// A transient message for the message line (e.g. "report written to ...").
    Message(String),
    /// The runner's periodic wake-up; transient messages expire after a number of ticks.
    Tick,
}

/// What the UI asks the runner to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Command {
    Quit,
    /// Write the report of the audit so far (the runner answers with a `UiEvent::Message`).
    Export,
    /// Ring the terminal bell: a newly flagged flow appeared.
    Bell,
}
