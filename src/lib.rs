//! telltale: audits what a self-hosted media server sends out of the house.
//!
//! The pipeline reads left to right, one folder per stage:
//! `capture` (packets in) → `decode` (link, IP, transport) → `flows` (bidirectional
//! flow table) → `dissect` (DNS, TLS, HTTP, QUIC: names on the wire) → `names`
//! (address → name map, name inventory) → `rules` (locality, rules file, verdicts)
//! → `report` (JSON, Markdown), or live → `tui` (the terminal UI, fed snapshots by `live`). `pipeline` ties the stages together (`pipeline::audit`: the
//! offline audit under an `AuditConfig`); the command line (`src/cli`) is the binary's own module. Nothing here sends a packet or looks anything up.
// The lints (no unsafe code; no unwrap, expect or panicking indexing outside tests; no time
// subtraction that can go negative) are declared once, in Cargo.toml's [workspace.lints].

pub mod attrib;
pub mod capture;
pub mod config;
pub mod decode;
pub mod demo;
pub mod dissect;
pub mod flows;
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
