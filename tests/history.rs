//! The history, tested as a database through the real binary: what an audit appends and what
//! `telltale history` reads back (held to the audit's own report, never to hard-coded counts),
//! the default place and its modes, `--no-history`, `--keep`, `--baseline history`, no secret
//! in the file, a file that is not a history, a run killed mid-way, writers and readers at once,
//! and a full disk.

// Test helpers: a failed assumption here is a failed test (clippy allows these in #[test]
// functions, not in the helpers they call).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use serde_json::Value;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_telltale");
const DEMO: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/demo.pcapng");
const LIMIT: Duration = Duration::from_secs(120);
/// A window holding every packet of the test captures (the demo's are of 2026-11-07).
const ALL: &[&str] = &["--since", "2000-01-01"];

/// Runs the binary with extra environment, failing the test if it outlasts `LIMIT`.
fn run_env(args: &[&str], env: &[(&str, &Path)]) -> Output {
    common::telltale_env(args, None, env, LIMIT)
}

fn run(args: &[&str]) -> Output {
    run_env(args, &[])
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Audits the demo capture into `history`; returns its JSON report.
fn audit_demo(history: &Path, extra: &[&str]) -> Value {
    let h = history.to_str().unwrap();
    let mut args = vec![
        "audit",
        "--opt-out",
        "on",
        "--format",
        "json",
        "--history",
        h,
    ];
    args.extend_from_slice(extra);
    args.push(DEMO);
    let out = run(&args);
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "audit failed: {}",
        stderr(&out)
    );
    serde_json::from_slice(&out.stdout).expect("a JSON report")
}

/// `telltale history VIEW --format json` over every packet time.
fn history_json(history: &Path, view: &str) -> Value {
    let h = history.to_str().unwrap();
    let mut args = vec!["history", view, "--history", h, "--format", "json"];
    args.extend_from_slice(ALL);
    let out = run(&args);
    assert_eq!(out.status.code(), Some(0), "history: {}", stderr(&out));
    serde_json::from_slice(&out.stdout).expect("history JSON")
}

fn flagged(report: &Value) -> u64 {
    report["flows"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["verdict"]["kind"] == "flagged")
        .count() as u64
}

/// The remote addresses of the flows that have no name: the history knows them by address.
fn unnamed_remotes(report: &Value) -> std::collections::BTreeSet<String> {
    report["flows"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["names"].as_array().unwrap().is_empty())
        .map(|f| {
            let end = if f["locality"] == "inbound" {
                "client"
            } else {
                "server"
            };
            f[end]["address"].as_str().unwrap().to_string()
        })
        .collect()
}

#[test]
fn an_audit_is_appended_and_history_reads_it_back_by_day_and_by_destination() {
    let dir = tempfile::tempdir().unwrap();
    let h = dir.path().join("h.sqlite3");
    let first = audit_demo(&h, &[]);
    let second = audit_demo(&h, &[]);
    let flows = first["flows"].as_array().unwrap().len() as u64;
    assert!(flows > 10, "the demo has flows");

    let days = history_json(&h, "days");
    assert_eq!(days["schema"], "telltale.history/1");
    assert_eq!(days["totals"]["runs"], 2);
    assert_eq!(days["totals"]["unfinished_runs"], 0);
    assert_eq!(days["totals"]["flows"], 2 * flows);
    let day = &days["days"][0];
    assert_eq!(
        day["day"], "2026-11-07",
        "the demo's packets are of that day"
    );
    assert_eq!(day["flows"], 2 * flows);
    assert_eq!(day["flagged"], flagged(&first) + flagged(&second));
    assert!(flagged(&first) > 0);
    let by_category: u64 = day["flagged_by_category"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_u64().unwrap())
        .sum();
    assert_eq!(by_category, day["flagged"].as_u64().unwrap());
    // bytes out, by category, add up to the reports' own
    let bytes: u64 = day["bytes_out_by_category"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_u64().unwrap())
        .sum();
    let report_bytes: u64 = [&first, &second]
        .iter()
        .flat_map(|r| r["flows"].as_array().unwrap().iter())
        .map(|f| f["bytes_out"].as_u64().unwrap())
        .sum();
    assert_eq!(bytes, report_bytes);

    // every destination is new on its first day, once, with how its names were learned
    let new = history_json(&h, "new");
    let list = new["new_destinations"].as_array().unwrap();
    assert_eq!(day["new_destinations"].as_u64().unwrap(), list.len() as u64);
    assert_eq!(
        days["totals"]["destinations"].as_u64().unwrap(),
        list.len() as u64
    );
    let metrics = list
        .iter()
        .find(|d| d["destination"] == "metrics.plex.tv")
        .expect("the demo's telemetry host");
    let sources: Vec<&str> = metrics["sources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect();
    assert!(
        sources.contains(&"dns_answer") && sources.contains(&"tls_sni"),
        "{sources:?}"
    );
    assert_eq!(metrics["verdicts"], serde_json::json!(["flagged"]));
    assert_eq!(metrics["flows"], 2, "one flow in each run");
    // unnamed flows are known by their address, with no name source
    for addr in unnamed_remotes(&first) {
        let d = list
            .iter()
            .find(|d| d["destination"] == addr.as_str())
            .unwrap_or_else(|| panic!("{addr} is a destination"));
        assert_eq!(d["sources"], serde_json::json!([]));
    }

    // the same in Markdown and CSV
    let md = run(&[
        "history",
        "--history",
        h.to_str().unwrap(),
        "--since",
        "2000-01-01",
    ]);
    let md = String::from_utf8(md.stdout).unwrap();
    assert!(md.contains("| 2026-11-07 |"), "{md}");
    assert!(md.contains("2 runs (0 never finished)"), "{md}");
    let csv = run(&[
        "history",
        "new",
        "--history",
        h.to_str().unwrap(),
        "--since",
        "2000-01-01",
        "--format",
        "csv",
    ]);
    let csv = String::from_utf8(csv.stdout).unwrap();
    assert!(csv.starts_with("destination,first_seen,last_seen,flows,learned_from"));
    assert_eq!(csv.lines().count(), list.len() + 1);

    // a window without the demo's day holds nothing
    let empty = run(&[
        "history",
        "--history",
        h.to_str().unwrap(),
        "--since",
        "2026-11-08",
        "--format",
        "json",
    ]);
    let empty: Value = serde_json::from_slice(&empty.stdout).unwrap();
    assert_eq!(empty["days"], serde_json::json!([]));
    let until = run(&[
        "history",
        "--history",
        h.to_str().unwrap(),
        "--since",
        "2000-01-01",
        "--until",
        "2026-11-07",
        "--format",
        "json",
    ]);
    let until: Value = serde_json::from_slice(&until.stdout).unwrap();
    assert_eq!(
        until["days"],
        serde_json::json!([]),
        "--until excludes its day"
    );
}

#[test]
fn the_default_place_is_private_and_no_history_writes_nothing() {
    let state = tempfile::tempdir().unwrap();
    let out = run_env(
        &["audit", "--opt-out", "on", "--format", "json", DEMO],
        &[("XDG_STATE_HOME", state.path())],
    );
    assert!(matches!(out.status.code(), Some(0 | 1)), "{}", stderr(&out));
    let file = state.path().join("telltale/history.sqlite3");
    let mode = std::fs::metadata(&file)
        .expect("the history is there")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600, "the history is the owner's alone");
    let dir_mode = std::fs::metadata(state.path().join("telltale"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(dir_mode & 0o777, 0o700);

    let other = tempfile::tempdir().unwrap();
    let out = run_env(
        &[
            "audit",
            "--opt-out",
            "on",
            "--no-history",
            "--format",
            "json",
            DEMO,
        ],
        &[("XDG_STATE_HOME", other.path())],
    );
    assert!(matches!(out.status.code(), Some(0 | 1)), "{}", stderr(&out));
    assert_eq!(
        std::fs::read_dir(other.path()).unwrap().count(),
        0,
        "nothing written"
    );
    // and `history` on a place with none says so, and how one is made
    let out = run_env(&["history"], &[("XDG_STATE_HOME", other.path())]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("no history there yet"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn the_history_never_holds_the_settings_token() {
    let dir = tempfile::tempdir().unwrap();
    let token = "tok-9f8e7d6c5b4a-SECRET";
    let prefs = dir.path().join("Preferences.xml");
    std::fs::write(
        &prefs,
        format!(
            "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<Preferences PlexOnlineToken=\"{token}\" collectUsageData=\"0\" sendCrashReports=\"0\"/>\n"
        ),
    )
    .unwrap();
    let h = dir.path().join("h.sqlite3");
    let out = run(&[
        "audit",
        "--opt-out",
        "auto",
        "--prefs",
        prefs.to_str().unwrap(),
        "--format",
        "json",
        "--history",
        h.to_str().unwrap(),
        DEMO,
    ]);
    assert!(matches!(out.status.code(), Some(0 | 1)), "{}", stderr(&out));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(report["settings"].is_object(), "the settings were read");
    for f in std::fs::read_dir(dir.path()).unwrap() {
        let path = f.unwrap().path();
        if path.to_string_lossy().contains("h.sqlite3") {
            let bytes = std::fs::read(&path).unwrap();
            assert!(
                !bytes.windows(token.len()).any(|w| w == token.as_bytes()),
                "{} holds the token",
                path.display()
            );
        }
    }
    // the consent state and where it came from are there
    let conn = rusqlite::Connection::open(&h).unwrap();
    let (opt_out, source): (String, String) = conn
        .query_row("SELECT opt_out, opt_out_source FROM runs", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .unwrap();
    assert_eq!(opt_out, report["opt_out"]["state"].as_str().unwrap());
    assert_eq!(source, report["opt_out"]["source"].as_str().unwrap());
}

#[test]
fn a_file_that_is_not_a_history_is_refused_and_left_as_it_was() {
    let dir = tempfile::tempdir().unwrap();
    let h = dir.path().join("h.sqlite3");
    let junk = b"this is not a database, it is a shopping list\n".repeat(200);
    std::fs::write(&h, &junk).unwrap();
    let out = run(&[
        "audit",
        "--opt-out",
        "on",
        "--history",
        h.to_str().unwrap(),
        DEMO,
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let msg = stderr(&out);
    assert!(
        msg.contains("not a telltale history") && msg.contains("move it aside"),
        "{msg}"
    );
    assert!(msg.contains(&format!("mv {}", h.display())), "{msg}");
    assert_eq!(std::fs::read(&h).unwrap(), junk, "the file was not touched");
    let out = run(&["history", "--history", h.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("move it aside"));

    // another program's SQLite database is not written either
    let other = dir.path().join("other.db");
    {
        let c = rusqlite::Connection::open(&other).unwrap();
        c.execute_batch("CREATE TABLE recipes (name TEXT); INSERT INTO recipes VALUES ('soup');")
            .unwrap();
    }
    let before = std::fs::read(&other).unwrap();
    let out = run(&[
        "audit",
        "--opt-out",
        "on",
        "--history",
        other.to_str().unwrap(),
        DEMO,
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("without telltale's tables"),
        "{}",
        stderr(&out)
    );
    let c = rusqlite::Connection::open(&other).unwrap();
    let tables: i64 = c
        .query_row(
            "SELECT count(*) FROM sqlite_master WHERE type = 'table'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(tables, 1, "no table was added");
    drop(c);
    assert_eq!(std::fs::read(&other).unwrap().len(), before.len());
}

#[test]
fn keep_prunes_what_was_last_seen_too_long_ago() {
    let dir = tempfile::tempdir().unwrap();
    let h = dir.path().join("h.sqlite3");
    let report = audit_demo(&h, &[]);
    let flows = report["flows"].as_array().unwrap().len() as u64;
    // the demo's packets are weeks old: a day's keep prunes them before the run, which adds
    // its own again
    audit_demo(&h, &["--keep", "1d"]);
    let days = history_json(&h, "days");
    assert_eq!(
        days["totals"]["flows"], flows,
        "the first run's flows were pruned"
    );
    assert_eq!(
        days["totals"]["runs"], 1,
        "the first run, left without flows, went too"
    );
    // a long keep prunes nothing
    audit_demo(&h, &["--keep", "3650d"]);
    assert_eq!(history_json(&h, "days")["totals"]["flows"], 2 * flows);
    let out = run(&[
        "audit",
        "--history",
        h.to_str().unwrap(),
        "--keep",
        "soon",
        DEMO,
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("--keep takes a length of time"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn baseline_history_marks_only_what_the_history_never_saw() {
    let dir = tempfile::tempdir().unwrap();
    let h = dir.path().join("h.sqlite3");
    let before = audit_demo(&h, &[]);
    assert!(before["baseline"].is_null());
    // everything the history saw: nothing in the same capture is new
    let again = audit_demo(&h, &["--baseline", "history"]);
    assert_eq!(again["baseline"]["new_destinations"], serde_json::json!([]));
    assert!(again["baseline"]["known"].as_u64().unwrap() > 0);
    // what it saw before the demo's day: every destination that left is new
    let since = audit_demo(&h, &["--baseline", "history:2026-11-07"]);
    let new = since["baseline"]["new_destinations"].as_array().unwrap();
    assert!(new.iter().any(|d| d == "metrics.plex.tv"), "{new:?}");
    let marked = since["flows"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["new_destination"] == true)
        .count();
    assert!(marked >= new.len());
    // and the day after: nothing is new
    let after = audit_demo(&h, &["--baseline", "history:2026-11-08"]);
    assert_eq!(after["baseline"]["new_destinations"], serde_json::json!([]));
}

#[test]
fn writers_and_readers_at_once_all_succeed_and_nothing_is_lost() {
    let dir = tempfile::tempdir().unwrap();
    let h = dir.path().join("h.sqlite3");
    let flows = audit_demo(&h, &[])["flows"].as_array().unwrap().len() as u64;
    let _load = common::Load::start();
    let writers: Vec<_> = (0..4)
        .map(|_| {
            let h = h.clone();
            std::thread::spawn(move || audit_demo(&h, &[]))
        })
        .collect();
    let readers: Vec<_> = (0..4)
        .map(|_| {
            let h = h.clone();
            std::thread::spawn(move || {
                for _ in 0..5 {
                    let days = history_json(&h, "days");
                    // a reader sees whole runs only: a multiple of the demo's flows
                    let n = days["totals"]["flows"].as_u64().unwrap();
                    assert_eq!(n % flows, 0, "a half-written run was read: {n}");
                }
            })
        })
        .collect();
    for w in writers {
        w.join().expect("a writer failed");
    }
    for r in readers {
        r.join().expect("a reader failed");
    }
    let days = history_json(&h, "days");
    assert_eq!(days["totals"]["runs"], 5);
    assert_eq!(days["totals"]["flows"], 5 * flows);
}

/// `audit -` reading a pipe that never ends: the run has begun in the history and is killed.
#[test]
fn a_run_killed_mid_way_is_reported_by_the_next_and_the_file_stays_sound() {
    let dir = tempfile::tempdir().unwrap();
    let h = dir.path().join("h.sqlite3");
    audit_demo(&h, &[]);
    let mut child = Command::new(BIN)
        .args([
            "audit",
            "--opt-out",
            "on",
            "--history",
            h.to_str().unwrap(),
            "-",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // the first bytes of a capture, then nothing: the audit waits for more
    let demo = std::fs::read(DEMO).unwrap();
    {
        use std::io::Write;
        let stdin = child.stdin.as_mut().unwrap();
        stdin.write_all(&demo[..demo.len() / 2]).unwrap();
        stdin.flush().unwrap();
    }
    // wait until its run is in the history
    let started = std::time::Instant::now();
    loop {
        let c =
            rusqlite::Connection::open_with_flags(&h, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
                .unwrap();
        let runs: i64 = c
            .query_row("SELECT count(*) FROM runs", [], |r| r.get(0))
            .unwrap();
        if runs == 2 {
            break;
        }
        assert!(started.elapsed() < LIMIT, "the run never began");
        std::thread::sleep(Duration::from_millis(50));
    }
    child.kill().unwrap();
    child.wait().unwrap();

    let c = rusqlite::Connection::open(&h).unwrap();
    let check: String = c
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(check, "ok");
    drop(c);
    let next = audit_demo(&h, &[]);
    let warnings = next["warnings"].to_string();
    assert!(warnings.contains("never finished"), "{warnings}");
    // said once: the run after does not say it again
    let after = audit_demo(&h, &[]);
    assert!(!after["warnings"].to_string().contains("never finished"));
    let days = history_json(&h, "days");
    assert_eq!(days["totals"]["unfinished_runs"], 1);
    assert_eq!(days["totals"]["runs"], 4);
}

/// A 1 MiB tmpfs in a private mount namespace: the history fills it, the audit goes on and
/// its report says what the history is missing.
#[test]
fn a_full_disk_stops_the_history_not_the_audit() {
    let root = common::is_root()
        && Command::new("unshare")
            .args(["-m", "true"])
            .status()
            .is_ok_and(|s| s.success());
    if !common::require(root, "root and unshare -m", "run as root (CI does)") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mnt = dir.path().join("small");
    std::fs::create_dir(&mnt).unwrap();
    let report = dir.path().join("report.json");
    // the history is made while there is room, then the rest of the disk is filled
    let script = format!(
        "mount -t tmpfs -o size=1m tmpfs {mnt} || exit 9
         {bin} audit --opt-out on --format json --history {mnt}/h.sqlite3 {demo} >/dev/null
         dd if=/dev/zero of={mnt}/filler bs=4k 2>/dev/null
         rc=0
         {bin} audit --opt-out on --format json --history {mnt}/h.sqlite3 -o {report} {demo} || rc=$?
         echo status $rc",
        mnt = mnt.display(),
        bin = BIN,
        demo = DEMO,
        report = report.display(),
    );
    let out = Command::new("unshare")
        .args(["-m", "sh", "-c", &script])
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stdout);
    let err = stderr(&out);
    assert!(
        said.contains("status 0") || said.contains("status 1"),
        "the audit went on: {said} {err}"
    );
    let v: Value = serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap();
    let warnings = v["warnings"].to_string();
    assert!(
        warnings.contains("history") && warnings.contains("this run is not in it"),
        "the report says the history is missing this run: {warnings}"
    );
    assert!(
        warnings.contains("the disk holding it is full"),
        "and why: {warnings}"
    );
    assert!(
        v["flows"].as_array().unwrap().len() > 10,
        "the report is whole"
    );
}

#[test]
fn history_rejects_a_window_that_ends_before_it_begins() {
    let dir = tempfile::tempdir().unwrap();
    let h = dir.path().join("h.sqlite3");
    audit_demo(&h, &[]);
    let out = run(&[
        "history",
        "--history",
        h.to_str().unwrap(),
        "--since",
        "2026-11-08",
        "--until",
        "2026-11-07",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("must come after"), "{}", stderr(&out));
    let out = run(&[
        "history",
        "--history",
        h.to_str().unwrap(),
        "--since",
        "last tuesday",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("--since takes a day"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn the_html_report_charts_the_historys_last_days_only_when_there_is_one() {
    let dir = tempfile::tempdir().unwrap();
    let h = dir.path().join("h.sqlite3");
    let first = audit_demo(&h, &[]);
    let flows = first["flows"].as_array().unwrap().len();
    let flagged = flagged(&first);
    let html = dir.path().join("r.html");
    let out = run(&[
        "audit",
        "--opt-out",
        "on",
        "--history",
        h.to_str().unwrap(),
        "--format",
        "html",
        "-o",
        html.to_str().unwrap(),
        DEMO,
    ]);
    assert!(matches!(out.status.code(), Some(0 | 1)), "{}", stderr(&out));
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.contains("id=\"chart-history\""), "the chart is there");
    // the demo's day, with both runs' flows (this one included)
    let tip = format!("2026-11-07: {} flows, {} flagged", 2 * flows, 2 * flagged);
    assert!(page.contains(&tip), "{tip}");
    assert!(page.contains(">11-07<"));

    let bare = dir.path().join("bare.html");
    let out = run(&[
        "audit",
        "--opt-out",
        "on",
        "--no-history",
        "--format",
        "html",
        "-o",
        bare.to_str().unwrap(),
        DEMO,
    ]);
    assert!(matches!(out.status.code(), Some(0 | 1)));
    assert!(
        !std::fs::read_to_string(&bare)
            .unwrap()
            .contains("chart-history")
    );
}
