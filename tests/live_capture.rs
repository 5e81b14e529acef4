//! Live capture with libpcap, on loopback only: `watch -i lo` shows a flow sent while it
//! runs; without permission to capture it says so and what to do; an unknown interface
//! and a missing terminal are explained. The capturing tests need root (as in CI) and
//! tmux, and are skipped with a message otherwise.

// Test helpers: a failed assumption here is a failed test (clippy allows these in #[test]
// functions, not in the helpers they call).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use std::net::UdpSocket;
use std::process::Command;
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_telltale");

fn is_root() -> bool {
    let out = Command::new("id").arg("-u").output().expect("id");
    let root = String::from_utf8_lossy(&out.stdout).trim() == "0";
    common::require(root, "root", common::ROOT_INSTALL)
}

#[test]
fn watch_shows_a_flow_captured_live_on_loopback() {
    let tmux = Command::new("tmux").arg("-V").output().is_ok();
    if !is_root() || !common::require(tmux, "tmux", "apt-get install tmux (make test installs it)")
    {
        return;
    }
    let socket = format!("telltale-live-{}", std::process::id());
    let tmux = |args: &[&str]| {
        let out = Command::new("tmux")
            .args(["-L", &socket])
            .args(args)
            .output()
            .expect("tmux");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("live.json");
    tmux(&[
        "-f",
        "/dev/null",
        "new-session",
        "-d",
        "-s",
        "live",
        "-x",
        "120",
        "-y",
        "30",
        &format!(
            "env TERM=xterm-256color {BIN} watch -i lo --scope host -f 'udp port 35999' --report {}; echo EXITED:$?; sleep 30",
            report.display()
        ),
    ]);
    // send datagrams on loopback until they show up (the capture needs a moment to open)
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    let start = Instant::now();
    let mut screen = String::new();
    while start.elapsed() < Duration::from_secs(20) {
        let _ = sock.send_to(b"telltale live capture test", "127.0.0.1:35999");
        screen = tmux(&["capture-pane", "-p", "-t", "live"]);
        if screen.contains("127.0.0.1:35999") {
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let header_ok = screen.contains("lo (udp port 35999)");
    tmux(&["send-keys", "-t", "live", "q"]);
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(10)
        && !tmux(&["capture-pane", "-p", "-t", "live"]).contains("EXITED:")
    {
        std::thread::sleep(Duration::from_millis(100));
    }
    let after = tmux(&["capture-pane", "-p", "-t", "live"]);
    let _ = Command::new("tmux")
        .args(["-L", &socket, "kill-server"])
        .output();
    assert!(
        screen.contains("127.0.0.1:35999"),
        "the flow never appeared:\n{screen}"
    );
    assert!(
        header_ok,
        "the header names the interface and filter:\n{screen}"
    );
    assert!(after.contains("EXITED:0"), "{after}");
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    let flows = v["flows"].as_array().unwrap();
    assert!(
        flows
            .iter()
            .any(|f| f["server"]["port"] == 35999 && f["verdict"]["kind"] == "local"),
        "{v}"
    );
}

#[test]
fn without_permission_watch_says_what_to_do() {
    if !is_root() {
        return;
    }
    // drop to nobody, with no capabilities, the way an ordinary user runs it
    let out = Command::new("setpriv")
        .args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "--inh-caps=-all",
            "--bounding-set=-all",
        ])
        .args([BIN, "watch", "-i", "lo"])
        .output()
        .expect("setpriv");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("no permission to capture on lo"), "{err}");
    assert!(err.contains("sudo telltale watch"), "{err}");
    assert!(
        err.contains("setcap cap_net_raw,cap_net_admin=eip"),
        "{err}"
    );
    assert!(err.contains("telltale demo"), "{err}");
}

#[test]
fn an_unknown_interface_and_a_missing_terminal_are_explained() {
    if common::is_root() {
        let out = common::telltale(&["watch", "-i", "nosuchif0"], None, Duration::from_secs(20));
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert!(err.contains("nosuchif0"), "{err}");
        assert!(
            err.contains("telltale interfaces") || err.contains("no such"),
            "{err}"
        );
    }
    let capture = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/demo.pcapng");
    let out = common::telltale(&["watch", "-r", capture], None, Duration::from_secs(20));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("needs a terminal") && err.contains("telltale audit"),
        "{err}"
    );
}

/// Where the kernel's socket events cannot run (here: no BTF where it is looked for), a live
/// audit still ties flows by /proc, and its report says which mechanism ran and why the other
/// did not.
#[test]
fn without_btf_the_report_says_why_events_did_not_run() {
    if !is_root() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(BIN)
        .args(["audit", "-i", "lo", "--duration", "2s", "--scope", "host"])
        .args(["--format", "json,md", "-o", dir.path().to_str().unwrap()])
        .env("TELLTALE_BTF", dir.path().join("no-such-btf"))
        .output()
        .expect("telltale");
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let found: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    let pick = |ext: &str| {
        found
            .iter()
            .find(|p| p.extension().is_some_and(|e| e == ext))
            .cloned()
            .unwrap_or_else(|| panic!("no .{ext} report in {found:?}"))
    };
    let (json, md) = (pick("json"), pick("md"));
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let a = &report["live"]["attribution"];
    assert_eq!(a["mechanism"], "proc", "{a}");
    let why = a["events_unavailable"].as_str().unwrap();
    assert!(why.contains("no-such-btf") || why.contains("BTF"), "{why}");
    assert_eq!(a["tracepoints"].as_array().unwrap().len(), 0);
    let text = std::fs::read_to_string(&md).unwrap();
    assert!(
        text.contains("- Attribution: processes found by /proc only")
            && text.contains("socket events did not run"),
        "{text}"
    );
}
