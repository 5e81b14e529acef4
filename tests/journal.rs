//! The journal: a run killed with SIGKILL mid-way leaves a journal from which a report is
//! rebuilt holding every flow decided before the kill, each with the verdict a full audit
//! gives it; a clean run's journal rebuilds every flow.

// Test helpers: a failed assumption here is a failed test (clippy allows these in #[test]
// functions, not in the helpers they call).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_telltale");
const DEMO: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/demo.pcapng");

fn verdicts(v: &serde_json::Value) -> Vec<(u64, String, String)> {
    v["flows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["id"].as_u64().unwrap(),
                f["verdict"]["kind"].to_string(),
                f["verdict"]["rule"].to_string(),
            )
        })
        .collect()
}

fn flow_lines(journal: &std::path::Path) -> usize {
    std::fs::read_to_string(journal)
        .unwrap_or_default()
        .lines()
        .filter(|l| {
            serde_json::from_str::<serde_json::Value>(l).is_ok_and(|v| {
                v["event"]["action"]
                    .as_str()
                    .is_some_and(|a| a.starts_with("flow-"))
            })
        })
        .count()
}

fn rebuild(journal: &std::path::Path) -> serde_json::Value {
    let out = common::telltale(
        &[
            "report",
            "--from-journal",
            journal.to_str().unwrap(),
            "--format",
            "json",
        ],
        None,
        Duration::from_secs(30),
    );
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)))
}

#[test]
fn a_killed_run_is_rebuilt_from_its_journal() {
    let full = common::telltale(
        &["audit", "--format", "json", DEMO],
        None,
        Duration::from_secs(60),
    );
    let full: serde_json::Value = serde_json::from_slice(&full.stdout).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("run.journal");
    let mut child = Command::new(BIN)
        .args([
            "audit",
            "--format",
            "json",
            "--journal",
            journal.to_str().unwrap(),
            "-",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // the first 70% of the capture: about three and a half minutes of traffic, many flows already over
    let bytes = std::fs::read(DEMO).unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(&bytes[..bytes.len() * 7 / 10]).unwrap();
    stdin.flush().unwrap();
    // wait until the journal stops growing, then kill without warning
    let start = Instant::now();
    let mut last = 0;
    loop {
        std::thread::sleep(Duration::from_millis(300));
        let now = flow_lines(&journal);
        if now > 0 && now == last {
            break;
        }
        last = now;
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "the journal never settled"
        );
    }
    Command::new("kill")
        .args(["-KILL", &child.id().to_string()])
        .status()
        .unwrap();
    let status = child.wait().unwrap();
    assert!(!status.success());
    drop(stdin);

    let decided = flow_lines(&journal);
    assert!(
        decided >= 10,
        "only {decided} flows were decided before the kill"
    );
    let rebuilt = rebuild(&journal);
    assert_eq!(
        rebuilt["flows"].as_array().unwrap().len(),
        decided,
        "every decided flow is in the rebuilt report"
    );
    let full_verdicts = verdicts(&full);
    for v in verdicts(&rebuilt) {
        assert!(
            full_verdicts.contains(&v),
            "flow {v:?} differs from the full audit"
        );
    }
    let warnings = rebuilt["warnings"].to_string();
    assert!(warnings.contains("did not end cleanly"), "{warnings}");
    // the Markdown rebuild reads too
    let md = common::telltale(
        &["report", "--from-journal", journal.to_str().unwrap()],
        None,
        Duration::from_secs(30),
    );
    assert!(
        String::from_utf8_lossy(&md.stdout)
            .starts_with("# telltale audit (rebuilt from a journal)")
    );
}

#[test]
fn a_clean_runs_journal_holds_every_flow() {
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("clean.journal");
    let out = common::telltale(
        &[
            "audit",
            "--format",
            "json",
            "--journal",
            journal.to_str().unwrap(),
            DEMO,
        ],
        None,
        Duration::from_secs(60),
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let rebuilt = rebuild(&journal);
    assert_eq!(verdicts(&rebuilt), verdicts(&report));
    assert!(
        !rebuilt["warnings"]
            .to_string()
            .contains("did not end cleanly")
    );
    assert_eq!(
        rebuilt["counters"]["packets"],
        report["counters"]["packets"]
    );
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&journal).unwrap().permissions().mode() & 0o777,
        0o600
    );
}
