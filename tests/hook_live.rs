//! `--on-flagged` on a real live audit, with both cores busy: a server namespace and an
//! "internet" one (documentation addresses only), a Python web server on the far side, curl
//! and a client that holds its connection open on the near side. Each flagged flow reaches the
//! owner's command once, with its JSON and environment; a connection still open is told while
//! the capture runs, not only at its end; the report logs the calls.

// Test helpers: a failed assumption here is a failed test (clippy allows these in #[test]
// functions, not in the helpers they call).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use common::lab::{Busy, Guard, finish, read_report, wait_listening};
use std::path::Path;
use std::time::{Duration, Instant};

const FAR: &str = "203.0.113.60";

fn can_run() -> bool {
    common::require_root_and_tools(&[
        ("ip", "-V", "iproute2"),
        ("curl", "--version", "curl"),
        ("python3", "--version", "python3"),
    ])
}

/// Holds a connection to the far server open after its request, for `secs` seconds.
const HOLD_OPEN: &str = r#"
import socket, sys, time
s = socket.create_connection((sys.argv[1], 80))
s.sendall(b"GET /hold HTTP/1.1\r\nHost: analytics.plex.tv\r\n\r\n")
time.sleep(float(sys.argv[2]))
s.close()
"#;

#[test]
fn each_flagged_flow_reaches_the_owners_command_once_even_while_still_open() {
    if !can_run() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (srv, inet, veth_srv) = common::lab::server_and_internet("hook", "192.168.78.2", FAR);
    let _web = Guard(Some(inet.spawn(
        Path::new("python3"),
        &["-m", "http.server", "80", "--bind", FAR],
    )));
    wait_listening(&inet, "-t", 80);
    let hold = d.join("hold.py");
    std::fs::write(&hold, HOLD_OPEN).unwrap();

    let _busy = Busy::start();
    let report = d.join("report.json");
    let calls = d.join("calls");
    let hook = format!(
        "cat > {dir}/flow-$TELLTALE_FLOW_ID.json; echo \"$TELLTALE_EVENT $TELLTALE_DESTINATION $TELLTALE_CATEGORY $TELLTALE_REMOTE\" >> {calls}",
        dir = d.display(),
        calls = calls.display()
    );
    let audit = Guard(Some(srv.spawn(
        Path::new(env!("CARGO_BIN_EXE_telltale")),
        &[
            "audit",
            "-i",
            &veth_srv,
            "--duration",
            "14s",
            "--scope",
            "host",
            "--opt-out",
            "on",
            "--no-history",
            "--format",
            "json",
            "-o",
            report.to_str().unwrap(),
            "--on-flagged",
            &hook,
        ],
    )));
    std::thread::sleep(Duration::from_secs(3));
    // a connection that stays open for 9 s, and two short requests
    let _held = Guard(Some(
        srv.spawn(Path::new("python3"), &[hold.to_str().unwrap(), FAR, "9"]),
    ));
    for host in ["metrics.plex.tv", "metrics.plex.tv"] {
        let mut c = srv.spawn(
            Path::new("curl"),
            &[
                "-s",
                "-m",
                "5",
                "-H",
                &format!("Host: {host}"),
                &format!("http://{FAR}/"),
            ],
        );
        c.wait().unwrap();
    }
    // the open connection is told while it is still open: well before the capture ends
    let started = Instant::now();
    let mut told_open = false;
    while started.elapsed() < Duration::from_secs(6) {
        if std::fs::read_to_string(&calls).is_ok_and(|c| c.contains("analytics.plex.tv")) {
            told_open = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(
        told_open,
        "the open flagged connection was not told while open"
    );
    let (code, err) = finish(audit);
    assert_eq!(code, Some(1), "flows were flagged: {err}");

    let r = read_report(&report);
    let flagged: Vec<&serde_json::Value> = r["flows"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["verdict"]["kind"] == "flagged")
        .collect();
    assert!(flagged.len() >= 3, "{}", r["flows"]);
    let said = std::fs::read_to_string(&calls).unwrap();
    // each flagged flow once: a call per flow, with its JSON
    assert_eq!(said.lines().count(), flagged.len(), "{said}");
    for f in &flagged {
        let id = f["id"].as_u64().unwrap();
        let json = std::fs::read_to_string(d.join(format!("flow-{id}.json")))
            .unwrap_or_else(|_| panic!("flow {id} was not told"));
        let told: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(told["id"], id);
        assert_eq!(told["verdict"]["kind"], "flagged");
        assert_eq!(told["server"]["address"], f["server"]["address"]);
    }
    assert!(
        said.contains(&format!("flagged metrics.plex.tv telemetry {FAR}:80")),
        "{said}"
    );
    let h = &r["hook"];
    assert_eq!(h["flagged"].as_u64().unwrap(), flagged.len() as u64);
    assert_eq!(h["calls"].as_u64().unwrap(), flagged.len() as u64);
    assert_eq!(h["failed"], 0);
    assert_eq!(h["dropped"], 0);
    assert_eq!(h["unsent"], 0);
    assert_eq!(h["last_calls"][0]["exit"], 0);
}
