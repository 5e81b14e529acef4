//! It sends nothing: offline and live audits run under `strace -f -e trace=network`, and no
//! connect, sendto or sendmsg on an INET or INET6 socket appears. Skipped, with a message,
//! where strace is absent (`make test` installs it); the live part needs root.

// Test helpers: a failed assumption here is a failed test (clippy allows these in #[test]
// functions, not in the helpers they call).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_telltale");

fn strace() -> bool {
    let ok = Command::new("strace")
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success());
    common::require(
        ok,
        "strace",
        "apt-get install strace (make test installs it)",
    )
}

/// The network system calls a command made that reach an IPv4 or IPv6 address.
fn inet_traffic(args: &[&str]) -> (Vec<String>, String) {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("trace");
    let out = Command::new("strace")
        .args([
            "-f",
            "-qq",
            "-e",
            "trace=network",
            "-o",
            log.to_str().unwrap(),
            BIN,
        ])
        .args(args)
        .output()
        .expect("strace");
    let trace = std::fs::read_to_string(&log).unwrap();
    let calls = trace
        .lines()
        .filter(|l| {
            ["connect(", "sendto(", "sendmsg(", "sendmmsg("]
                .iter()
                .any(|c| l.contains(c))
        })
        .filter(|l| l.contains("AF_INET"))
        .map(str::to_string)
        .collect();
    (
        calls,
        format!("{}\n{}", String::from_utf8_lossy(&out.stderr), trace),
    )
}

#[test]
fn an_offline_audit_and_the_demo_send_nothing() {
    if !strace() {
        return;
    }
    let demo = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/demo.pcapng");
    for args in [
        vec!["audit", "--format", "json", demo],
        vec!["audit", demo],
        vec!["demo", "--print"],
    ] {
        let (calls, _) = inet_traffic(&args);
        assert!(calls.is_empty(), "{args:?} reached the network: {calls:?}");
    }
}

#[test]
fn a_live_audit_sends_nothing() {
    if !strace() {
        return;
    }
    let root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0");
    if !common::require(root, "root", common::ROOT_INSTALL) {
        return;
    }
    // with an alert hook too: its thread and the commands it runs are telltale's children,
    // which strace -f follows; a hook that sends nothing leaves no socket in the trace
    let (calls, trace) = inet_traffic(&[
        "audit",
        "-i",
        "lo",
        "--duration",
        "2s",
        "--format",
        "json",
        "--on-flagged",
        "cat > /dev/null",
    ]);
    assert!(
        calls.is_empty(),
        "a live audit reached the network: {calls:?}"
    );
    // it did capture: libpcap's packet socket shows in the trace
    assert!(
        trace.contains("AF_PACKET"),
        "no capture socket in the trace:\n{trace}"
    );
}
