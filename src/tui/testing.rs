//! Test helpers: a deterministic snapshot of the built-in demo capture's audit, synthetic
//! flows, key events, and a screen rendered to text with ratatui's `TestBackend`.

use super::App;
use super::UiEvent;
use crate::live::snapshot::{CaptureState, Snapshot, Source};
use crate::names::{FlowName, NameSource};
use crate::report::model::FlowReport;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use std::sync::{Arc, OnceLock};

/// The demo capture audited with the built-in Plex rules and the demo's settings, as the
/// pipeline thread would publish it at the end: fixed rate, no drops, running.
pub fn demo_snapshot() -> Arc<Snapshot> {
    static SNAP: OnceLock<Arc<Snapshot>> = OnceLock::new();
    SNAP.get_or_init(|| {
        // as `telltale demo` judges it: with the demo server's settings
        let report = crate::audit::demo_report().expect("the demo capture audits");
        Arc::new(Snapshot {
            seq: 1,
            source: Source::Demo { speed: 5.0 },
            state: CaptureState::Running,
            capture_time: report.capture_end,
            packets_per_sec: 250.0,
            drops: Default::default(),
            opt_out: report.opt_out.clone(),
            // a fixed hash: the screens should not change with every edit of rules/plex.toml
            rules: crate::report::model::RulesInfo {
                sha256: "5ca1ab1e".repeat(8),
                ..report.rules.clone()
            },
            counters: report.counters.clone(),
            scope_note: None,
            flows: Arc::new(report.flows.into_iter().map(Arc::new).collect()),
        })
    })
    .clone()
}

/// The demo snapshot holding only its first `n` flows (a fresh flow list, as a new
/// snapshot from the pipeline would have), with the capture time of the last of them.
pub fn with_flows(base: &Snapshot, n: usize) -> Arc<Snapshot> {
    let flows: Vec<Arc<FlowReport>> = base.flows.iter().take(n).cloned().collect();
    let mut s = base.clone();
    s.capture_time = flows.iter().map(|f| f.last_seen).max();
    s.flows = Arc::new(flows);
    Arc::new(s)
}

/// The demo snapshot's header and rules with these flows instead.
pub fn snapshot_with(flows: Vec<FlowReport>) -> Arc<Snapshot> {
    let mut s = (*demo_snapshot()).clone();
    s.flows = Arc::new(flows.into_iter().map(Arc::new).collect());
    Arc::new(s)
}

/// A copy of the demo's metrics.plex.tv flow with another id and one SNI name.
pub fn flow_named(id: u64, name: &str) -> FlowReport {
    let snap = demo_snapshot();
    let base = snap
        .flows
        .iter()
        .find(|f| f.id == 13)
        .expect("the demo has flow 13");
    let mut f = (**base).clone();
    f.id = id;
    f.names = vec![FlowName {
        name: name.to_string(),
        source: NameSource::TlsSni,
        learned_at: f.first_seen,
        ttl: None,
        ech_outer: false,
    }];
    f
}

pub fn key(c: char) -> UiEvent {
    UiEvent::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE))
}

pub fn key_code(code: KeyCode) -> UiEvent {
    UiEvent::Key(KeyEvent::new(code, KeyModifiers::NONE))
}

/// Draws the app on a `width` x `height` test terminal.
pub fn draw(app: &App, width: u16, height: u16) -> Buffer {
    let mut t = Terminal::new(TestBackend::new(width, height)).expect("a test terminal");
    t.draw(|f| app.view(f)).expect("drawing to a test backend");
    t.backend().buffer().clone()
}

/// The screen as text: one line per row, trailing blanks trimmed.
pub fn render(app: &App, width: u16, height: u16) -> String {
    text(&draw(app, width, height))
}

pub fn text(buf: &Buffer) -> String {
    let area = buf.area;
    let mut out = String::new();
    for y in area.top()..area.bottom() {
        let mut line = String::new();
        for x in area.left()..area.right() {
            line.push_str(buf[(x, y)].symbol());
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}
