//! Least privilege, read from /proc/PID/status of the running binary: a live audit keeps
//! at most the capabilities process attribution needs and sets no_new_privs; started
//! through sudo it runs on as the invoking user; reading a capture keeps nothing.
//! The live tests need root (as in CI) and are skipped with a message otherwise.

// Test helpers: a failed assumption here is a failed test (clippy allows these in #[test]
// functions, not in the helpers they call).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use std::io::Write;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_telltale");
/// CAP_DAC_READ_SEARCH (2) and CAP_SYS_PTRACE (19): what attribution may keep.
const ATTRIBUTION_CAPS: u64 = (1 << 2) | (1 << 19);

fn is_root() -> bool {
    let out = Command::new("id").arg("-u").output().expect("id");
    let root = String::from_utf8_lossy(&out.stdout).trim() == "0";
    common::require(root, "root", common::ROOT_INSTALL)
}

/// `Field:\tvalue` of /proc/PID/status, once the process has given its privileges up
/// (it prints its "capturing" line, or has read its first bytes, by then).
fn status(child: &Child, field: &str) -> String {
    let text = std::fs::read_to_string(format!("/proc/{}/status", child.id())).expect("status");
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .map(|v| v.trim().to_string())
        .unwrap_or_else(|| panic!("no {field} in {text}"))
}

fn caps(child: &Child, field: &str) -> u64 {
    u64::from_str_radix(&status(child, field), 16).unwrap()
}

/// Waits until the process has set no_new_privs (it does so once its privileges are dropped).
fn wait_dropped(child: &Child) {
    let start = Instant::now();
    while status(child, "NoNewPrivs") != "1" {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "no_new_privs never set"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_live_audit_keeps_only_what_attribution_needs() {
    if !is_root() {
        return;
    }
    let child = Command::new(BIN)
        .args(["audit", "-i", "lo", "--duration", "3s", "--format", "json"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_dropped(&child);
    for set in ["CapEff", "CapPrm", "CapBnd"] {
        let c = caps(&child, set);
        assert_eq!(
            c & !ATTRIBUTION_CAPS,
            0,
            "{set} holds more than attribution needs: {c:x}"
        );
    }
    assert_eq!(caps(&child, "CapInh"), 0);
    assert_eq!(caps(&child, "CapAmb"), 0);
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("no_new_privs set"), "{err}");
}

#[test]
fn started_through_sudo_it_runs_on_as_the_invoking_user() {
    if !is_root() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("out");
    std::fs::create_dir(&out_dir).unwrap();
    Command::new("chown")
        .args(["65534:65534", out_dir.to_str().unwrap()])
        .status()
        .unwrap();
    let report = out_dir.join("r.json");
    let child = Command::new(BIN)
        .args([
            "audit",
            "-i",
            "lo",
            "--duration",
            "2s",
            "--format",
            "json",
            "-o",
            report.to_str().unwrap(),
        ])
        .env("SUDO_UID", "65534")
        .env("SUDO_GID", "65534")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_dropped(&child);
    assert_eq!(status(&child, "Uid"), "65534\t65534\t65534\t65534");
    assert_eq!(status(&child, "Gid"), "65534\t65534\t65534\t65534");
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // the report belongs to the invoking user
    let meta = std::fs::metadata(&report).unwrap();
    assert_eq!(std::os::unix::fs::MetadataExt::uid(&meta), 65534);
}

#[test]
fn reading_a_capture_keeps_no_privilege() {
    // whoever runs it: root gives everything up, a user has nothing to give
    let capture = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/demo.pcapng"
    ))
    .unwrap();
    let mut child = Command::new(BIN)
        .args(["audit", "--format", "json", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(&capture[..4096]).unwrap();
    stdin.flush().unwrap();
    wait_dropped(&child);
    assert_eq!(caps(&child, "CapEff"), 0);
    assert_eq!(caps(&child, "CapPrm"), 0);
    stdin.write_all(&capture[4096..]).unwrap();
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(1));
}
