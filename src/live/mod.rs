//! Live audits: packets from a live interface, a replayed file or the demo flow through
//! a capture thread into the pipeline thread, which alone owns the flow table and
//! publishes immutable [`snapshot::Snapshot`]s for the terminal UI.

pub mod snapshot;
