//! telltale: audits what a self-hosted media server sends out of the house.
//!
//! The pipeline reads left to right, one folder per stage:
//! `capture` (packets in) → `decode` (link, IP, transport) → `flows` (bidirectional flow table;
//! locality; the verdict slot a flow carries) → `dissect` (DNS, TLS, HTTP, QUIC: names on the
//! wire) → `names` (address → name map, name inventory) → `rules` (rules files, scope, verdicts)
//! → `report` (JSON, Markdown, HTML, evidence, journal), or live → `tui` (the terminal UI, fed
//! snapshots by `live`).
//!
//! `pipeline` is the per-packet engine that runs the stages in turn; `audit` is the one driver
//! above it: an [`audit::AuditConfig`] validated from what was asked, captures read through the
//! pipeline, and the report's context built once, for files, live capture, watch, the demo, the
//! fuzz targets and the tests. `settings` reads the server's settings and decides consent;
//! `attrib` ties flows to processes; `config` holds the checked choices; `text` and `time` are
//! the helpers at the bottom. The command line (`src/cli`) is the binary's own module: nothing
//! here can import it. Nothing here sends a packet or looks anything up.
// The lints (no unsafe code; no unwrap, expect or panicking indexing outside tests; no time
// subtraction that can go negative) are declared once, in Cargo.toml's [workspace.lints].

pub mod attrib;
pub mod audit;
pub mod capture;
pub mod config;
pub mod decode;
pub mod demo;
pub mod dissect;
pub mod flows;
pub mod history;
pub mod live;
pub mod names;
pub mod pipeline;
pub mod privilege;
pub mod report;
pub mod rules;
pub mod settings;
pub mod text;
pub mod time;
pub mod tui;
