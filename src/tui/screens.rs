//! Snapshot tests of every screen, at 80x24 and 160x48, from the built-in demo capture's
//! audit (`src/tui/snapshots/`), and the checks a user would make on them: colours gone
//! under `NO_COLOR`, captured escape sequences and bidi overrides made harmless.

use super::testing::{demo_snapshot, draw, flow_named, key, key_code, render, snapshot_with, text};
use super::{App, UiEvent, UiOptions};
use crate::live::snapshot::{CaptureState, Drops, Snapshot, Source};
use crossterm::event::KeyCode;
use ratatui::style::Color;
use std::sync::Arc;

const SIZES: [(u16, u16); 2] = [(80, 24), (160, 48)];

fn demo_app() -> App {
    App::new(demo_snapshot(), UiOptions::default())
}

/// Snapshots the app at both sizes, as `<name>_80x24` and `<name>_160x48`.
fn both(name: &str, app: &App) {
    for (w, h) in SIZES {
        insta::assert_snapshot!(format!("{name}_{w}x{h}"), render(app, w, h));
    }
}

/// Moves the selection down until it is on flow `id`.
fn select(app: &mut App, id: u64) {
    for _ in 0..app.rows.len() {
        if app.selected_flow().map(|f| f.id) == Some(id) {
            return;
        }
        app.update(key('j'));
    }
    panic!("flow {id} is not in the table");
}

fn type_filter(app: &mut App, text: &str) {
    app.update(key('/'));
    for c in text.chars() {
        app.update(key(c));
    }
    app.update(key_code(KeyCode::Enter));
}

#[test]
fn empty_waiting_for_packets() {
    let demo = demo_snapshot();
    let empty = Snapshot::empty(
        Source::Live {
            interface: "eth0".into(),
            filter: Some("host 192.168.1.10".into()),
        },
        demo.opt_out.clone(),
        demo.rules.clone(),
    );
    let app = App::new(Arc::new(empty), UiOptions::default());
    let screen = render(&app, 80, 24);
    assert!(screen.contains("waiting for packets"), "{screen}");
    assert!(screen.contains("eth0 (host 192.168.1.10)"), "{screen}");
    both("empty", &app);
}

#[test]
fn flows() {
    let app = demo_app();
    let screen = render(&app, 80, 24);
    for want in [
        "✗ flagged",
        "✓ declared",
        "· local",
        "41 flows",
        "seen ▼",
        "Flagged (5)",
    ] {
        assert!(screen.contains(want), "{want} missing:\n{screen}");
    }
    both("flows", &app);
}

#[test]
fn flagged_view() {
    let mut app = demo_app();
    app.update(key_code(KeyCode::Tab));
    let screen = render(&app, 160, 48);
    assert_eq!(screen.matches("✗ flagged").count(), 5, "{screen}");
    assert!(!screen.contains("✓ declared  "), "{screen}");
    both("flagged", &app);
}

#[test]
fn filtered_by_host() {
    let mut app = demo_app();
    type_filter(&mut app, "host:plex.tv");
    let screen = render(&app, 160, 48);
    assert!(screen.contains("filter host:plex.tv"), "{screen}");
    assert!(!screen.contains("themoviedb"), "{screen}");
    both("filtered", &app);
}

#[test]
fn filtered_by_class_and_a_bad_class_said_in_the_status_line() {
    let mut app = demo_app();
    type_filter(&mut app, "class:third");
    let screen = render(&app, 160, 48);
    assert!(screen.contains("filter class:third"), "{screen}");
    assert!(screen.contains("beacon.tracksight.example"), "{screen}");
    assert!(!screen.contains("metrics.plex.tv"), "{screen}");
    // an unknown class is refused with the names it could have been; the old filter stays
    // (the filter line opens with the filter in force: this adds a term)
    type_filter(&mut app, " class:undeclared");
    let screen = render(&app, 160, 48);
    assert!(
        screen.contains(
            "filter not applied: unknown class `undeclared`: use collection, vendor_undeclared"
        ),
        "{screen}"
    );
    assert!(screen.contains("filter class:third"), "{screen}");
}

#[test]
fn detail_of_a_flagged_flow() {
    let mut app = demo_app();
    app.update(key_code(KeyCode::Tab));
    select(&mut app, 13);
    app.update(key_code(KeyCode::Enter));
    let screen = render(&app, 160, 48);
    for want in [
        "Flow 13",
        "metrics.plex.tv from TLS SNI at 20:00:25.030",
        "metrics.plex.tv from a DNS answer 0.2 s before the flow began",
        "TCP ShADadFf SF",
        "telemetry endpoint",
        "metrics (collection, telemetry): Plex's usage metrics",
        "Class    a known collection endpoint (collection)",
    ] {
        assert!(screen.contains(want), "{want} missing:\n{screen}");
    }
    both("detail_flagged", &app);
}

#[test]
fn detail_of_the_plex_tv_flow_with_its_exceptions() {
    let mut app = demo_app();
    select(&mut app, 9);
    app.update(key_code(KeyCode::Enter));
    let screen = render(&app, 160, 48);
    for want in [
        "Flow 9",
        "Rule     updates (exception",
        "Also     remote_discovery",
        "Also     plex_pass",
    ] {
        assert!(screen.contains(want), "{want} missing:\n{screen}");
    }
    // the demo's settings turn relay off: it is not among the exceptions in force
    assert!(!screen.contains("Also     relay"), "{screen}");
    both("detail_plex_tv", &app);
}

#[test]
fn help() {
    let mut app = demo_app();
    app.update(key('?'));
    let screen = render(&app, 80, 24);
    for want in [
        "any key closes",
        "Shift-Tab",
        "PgUp PgDn",
        "Ctrl-C",
        "verdict:flagged",
        "class:collection|vendor_undeclared|third_party|cannot_judge",
    ] {
        assert!(screen.contains(want), "{want} missing:\n{screen}");
    }
    both("help", &app);
}

#[test]
fn summary() {
    let mut app = demo_app();
    for _ in 0..2 {
        app.update(key_code(KeyCode::Tab));
    }
    let screen = render(&app, 160, 48);
    for want in [
        "By verdict",
        "By class",
        "✗ collection",
        "✗ third_party",
        "By category",
        "1259 read",
        "crash_reports",
    ] {
        assert!(screen.contains(want), "{want} missing:\n{screen}");
    }
    both("summary", &app);
}

#[test]
fn rules() {
    let mut app = demo_app();
    for _ in 0..3 {
        app.update(key_code(KeyCode::Tab));
    }
    let screen = render(&app, 160, 48);
    for want in ["builtin:plex", "Matched (", "Never matched (", "metrics"] {
        assert!(screen.contains(want), "{want} missing:\n{screen}");
    }
    both("rules", &app);
}

#[test]
fn drop_warning() {
    let mut s = (*demo_snapshot()).clone();
    s.drops = Drops {
        kernel: Some(12),
        interface: Some(0),
        queue: 3,
    };
    let app = App::new(Arc::new(s), UiOptions::default());
    let screen = render(&app, 80, 24);
    assert!(
        screen.contains("15 DROPPED: kernel 12, interface 0, queue 3"),
        "{screen}"
    );
    both("drops", &app);
}

#[test]
fn capture_error() {
    let mut s = (*demo_snapshot()).clone();
    s.state = CaptureState::Failed("eth0: the interface went down".into());
    let app = App::new(Arc::new(s), UiOptions::default());
    let screen = render(&app, 160, 48);
    assert!(
        screen.contains("capture failed: eth0: the interface went down"),
        "{screen}"
    );
    assert!(
        screen.contains("metrics.plex.tv"),
        "what was read stays:\n{screen}"
    );
    both("failed", &app);
}

#[test]
fn paused() {
    let mut app = demo_app();
    app.update(key('p'));
    app.update(UiEvent::Snapshot(demo_snapshot()));
    both("paused", &app);
}

#[test]
fn no_color_flows_have_no_colour_at_all() {
    let opts = UiOptions {
        no_color: true,
        bell: false,
    };
    let mut app = App::new(demo_snapshot(), opts);
    both("flows_no_color", &app);
    // Every screen, not just the table.
    let mut screens = Vec::new();
    for _ in 0..4 {
        screens.push(draw(&app, 160, 48));
        app.update(key_code(KeyCode::Tab));
    }
    app.update(key_code(KeyCode::Enter));
    screens.push(draw(&app, 160, 48));
    app.update(key('?'));
    screens.push(draw(&app, 160, 48));
    for buf in &screens {
        for cell in buf.content() {
            assert_eq!(
                cell.fg,
                Color::Reset,
                "coloured {:?} in\n{}",
                cell.symbol(),
                text(buf)
            );
            assert_eq!(
                cell.bg,
                Color::Reset,
                "coloured {:?} in\n{}",
                cell.symbol(),
                text(buf)
            );
        }
    }
    // And with colour, the flagged glyph is red.
    let coloured = draw(&demo_app(), 80, 24);
    assert!(
        coloured
            .content()
            .iter()
            .any(|c| c.symbol() == "✗" && c.fg == Color::Red)
    );
}

#[test]
fn escape_sequences_and_bidi_overrides_are_neutralised() {
    let evil = flow_named(1, "evil\u{1b}[31mred.example");
    let bidi = flow_named(2, "cdn\u{202e}gpj.example");
    let mut app = App::new(snapshot_with(vec![evil, bidi]), UiOptions::default());
    for screen in [render(&app, 160, 48), {
        app.update(key_code(KeyCode::Enter));
        render(&app, 160, 48)
    }] {
        assert!(
            !screen.contains('\u{1b}'),
            "raw escape on screen:\n{screen}"
        );
        assert!(
            !screen.contains('\u{202e}'),
            "raw bidi override on screen:\n{screen}"
        );
        assert!(screen.contains("evil\\u{1b}[31mred.example"), "{screen}");
        assert!(screen.contains("cdn\\u{202e}gpj.example"), "{screen}");
    }
}

#[test]
fn detail_of_a_quic_flow_and_of_a_long_one() {
    let mut app = demo_app();
    select(&mut app, 26);
    app.update(key_code(KeyCode::Enter));
    let screen = render(&app, 80, 24);
    for want in [
        "discover.provider.plex.tv from QUIC SNI at 20:01:20.000",
        "udp/quic · ALPN h3 · QUIC version 1",
        "ended: idle timeout",
    ] {
        assert!(screen.contains(want), "{want} missing:\n{screen}");
    }
    // The pubsub WebSocket lasts the whole capture: its sparkline has many bars.
    app.update(key('g'));
    let screen = render(&app, 100, 30);
    assert!(screen.contains("Flow 3 "), "{screen}");
    assert!(
        screen.contains("4 min 55 s), ended: not yet (still open)"),
        "{screen}"
    );
    assert!(screen.contains("16 s per bar"), "{screen}");
}
