//! Live audits: packets from a live interface, a replayed file or the demo flow through
//! a capture thread (`source`) in batches (`batch`) into the pipeline thread (`engine`),
//! which alone owns the flow table and publishes immutable snapshots (`snapshot`) for
//! the terminal UI. Bounded channels join them; the UI never slows the capture. A panic
//! in any thread ends the session cleanly (`fault`).

pub mod attribution;
pub mod batch;
pub mod engine;
pub mod fault;
pub mod hook;
pub mod iface;
pub mod snapshot;
pub mod source;

use std::sync::Arc;

/// The one event enum of a live session's UI loop: what the pipeline thread publishes,
/// what the terminal sends, and the signals that end the session.
#[derive(Debug)]
pub enum Event {
    Snapshot(Arc<snapshot::Snapshot>),
    /// A line for the user: a report written, an export that failed.
    Message(String),
    /// The pipeline thread has ended (after being asked to stop).
    Stopped,
    /// A key, mouse or resize event from the terminal.
    Input(crossterm::event::Event),
    /// SIGINT, SIGTERM or SIGHUP.
    Signal(i32),
    /// A thread panicked: the session ends (`fault`).
    Panicked,
}
