//! Writing where it cannot: a read-only filesystem, a folder this user may not write to, a
//! file where a folder should be, and a full disk. Each failure names the path, says what
//! went wrong and what to do, exits 2 without a panic and leaves no temporary file behind;
//! a journal kept on another filesystem survives a report that could not be written, and a
//! journal that filled its own disk keeps what it wrote, which `telltale report
//! --from-journal` still reads.
//!
//! The read-only and full-disk cases mount their own filesystems (a read-only bind mount, a
//! 64 KiB tmpfs) in a private mount namespace (`unshare -m`), so nothing outside the test
//! sees them; the unwritable folder runs the binary as `nobody` (`setpriv`). They need root
//! and those tools (CI has both) and are skipped with a message otherwise.

// Test helpers: a failed assumption here is a failed test (clippy allows these in #[test]
// functions, not in the helpers they call).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use serde_json::Value;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_telltale");
const DEMO: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/demo.pcapng");
const LIMIT: Duration = Duration::from_secs(120);

fn is_root() -> bool {
    let out = Command::new("id").arg("-u").output().expect("id");
    String::from_utf8_lossy(&out.stdout).trim() == "0"
}

/// Whether this test may mount filesystems of its own in a private mount namespace.
fn can_mount() -> bool {
    let works = is_root()
        && Command::new("unshare")
            .args(["-m", "sh", "-c", "mount -t tmpfs -o size=4k tmpfs /mnt"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
    common::require(
        works,
        "root and a mount namespace",
        "run as root where unshare -m and mount work, to make a read-only or full filesystem \
         (CI has both)",
    )
}

/// Runs `cmd`, killing it and failing the test if it outlasts `LIMIT`.
fn run(cmd: Command) -> Output {
    common::output_within(cmd, None, LIMIT)
}

/// Runs the shell `script` in a private mount namespace, with `$BIN` (telltale), `$DEMO`
/// (the demo capture) and `vars` in its environment.
fn in_private_mounts(script: &str, vars: &[(&str, &Path)]) -> Output {
    let mut cmd = Command::new("unshare");
    cmd.args(["-m", "sh", "-c", script])
        .env("BIN", BIN)
        .env("DEMO", DEMO);
    for (k, v) in vars {
        cmd.env(k, v);
    }
    run(cmd)
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).to_string()
}

/// Exit 2 with an error naming `path`, giving `why` and `what_to_do`, and no panic.
fn assert_clear_failure(out: &Output, path: &Path, why: &str, what_to_do: &str) {
    let err = stderr(out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    let line = err
        .lines()
        .find(|l| l.starts_with("telltale: cannot write "))
        .unwrap_or_else(|| panic!("no error line: {err}"));
    assert!(
        line.starts_with(&format!("telltale: cannot write {}", path.display())),
        "names the path: {line}"
    );
    assert!(line.contains(why), "says why ({why}): {line}");
    assert!(
        line.contains(what_to_do),
        "says what to do ({what_to_do}): {line}"
    );
}

/// Every file in `dir` (recursively), as paths relative to it.
fn files_in(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in entries {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(files_in(&p));
        } else {
            out.push(p.strip_prefix(dir).unwrap_or(&p).display().to_string());
        }
    }
    out
}

/// The full audit of the demo capture, as JSON.
fn full_audit() -> Value {
    let out = common::telltale(&["audit", "--format", "json", DEMO], None, LIMIT);
    serde_json::from_slice(&out.stdout).expect("the demo's JSON report")
}

/// The flows of a report: id → verdict kind.
fn verdicts(report: &Value) -> Vec<(u64, String)> {
    report["flows"]
        .as_array()
        .expect("flows")
        .iter()
        .map(|f| (f["id"].as_u64().unwrap(), f["verdict"]["kind"].to_string()))
        .collect()
}

/// `telltale report --from-journal PATH --format json`: its exit code and report.
fn rebuild(journal: &Path) -> (Option<i32>, Value) {
    let out = common::telltale(
        &[
            "report",
            "--from-journal",
            journal.to_str().unwrap(),
            "--format",
            "json",
        ],
        None,
        LIMIT,
    );
    let v = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", stderr(&out)));
    (out.status.code(), v)
}

// ------------------------------------------------------------------------------------------

#[test]
fn a_file_where_a_folder_should_be_is_named_with_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("plain");
    std::fs::write(&file, b"keep").unwrap();
    let target = file.join("report.json");
    let out = common::telltale(
        &[
            "audit",
            DEMO,
            "--format",
            "json",
            "-o",
            target.to_str().unwrap(),
        ],
        None,
        LIMIT,
    );
    assert_clear_failure(
        &out,
        &target,
        "Not a directory",
        "part of that path is a file, not a folder",
    );
    // a bundle needs a folder, and says so before the audit starts
    let out = common::telltale(
        &[
            "audit",
            DEMO,
            "--format",
            "all",
            "-o",
            file.to_str().unwrap(),
        ],
        None,
        LIMIT,
    );
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains(&format!(
            "writes a bundle into a folder, and {} is not one",
            file.display()
        )),
        "{err}"
    );
    assert_eq!(std::fs::read(&file).unwrap(), b"keep");
    assert_eq!(files_in(dir.path()), ["plain"]);
}

#[test]
fn a_read_only_filesystem_is_named_with_what_to_do() {
    if !can_mount() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let ro = dir.path().join("ro");
    std::fs::create_dir(&ro).unwrap();
    let out = in_private_mounts(
        r#"mount --bind "$RO" "$RO" && mount -o remount,bind,ro "$RO" || exit 99
"$BIN" audit "$DEMO" --format json -o "$RO/report.json" 2>&1 >/dev/null
echo "exit=$?"
exec "$BIN" audit "$DEMO" --format all -o "$RO/bundle""#,
        &[("RO", &ro)],
    );
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let (first, _) = text
        .split_once("exit=")
        .unwrap_or_else(|| panic!("{text} {}", stderr(&out)));
    assert!(text.contains("exit=2"), "{text}");
    assert!(!first.contains("panicked"), "{first}");
    assert!(
        first.contains(&format!(
            "telltale: cannot write {}: Read-only file system (os error 30); that filesystem is mounted read-only: write it somewhere else",
            ro.join("report.json").display()
        )),
        "{first}"
    );
    assert_clear_failure(
        &out,
        &ro.join("bundle/report.json"),
        "Read-only file system",
        "write it somewhere else",
    );
    assert!(files_in(&ro).is_empty(), "{:?}", files_in(&ro));
}

#[test]
fn a_folder_this_user_may_not_write_to_is_named_with_what_to_do() {
    let has_setpriv = Command::new("setpriv").arg("--version").output().is_ok();
    if !common::require(is_root(), "root", common::ROOT_INSTALL)
        || !common::require(
            has_setpriv,
            "setpriv",
            "apt-get install util-linux (CI has it)",
        )
    {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let target = dir.path().join("report.md");
    let mut cmd = Command::new("setpriv");
    cmd.args(["--reuid=nobody", "--regid=nogroup", "--clear-groups", BIN])
        .args([
            "audit",
            DEMO,
            "--opt-out",
            "on",
            "-o",
            target.to_str().unwrap(),
        ])
        .env("HOME", "/nonexistent");
    let out = run(cmd);
    assert_clear_failure(
        &out,
        &target,
        "Permission denied",
        "write it to a folder this user may write to",
    );
    assert!(files_in(dir.path()).is_empty());
}

#[test]
fn a_full_disk_fails_the_bundle_clearly_and_keeps_the_journal() {
    if !can_mount() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let small = dir.path().join("small");
    std::fs::create_dir(&small).unwrap();
    let journal = dir.path().join("run.journal");
    let out = in_private_mounts(
        r#"mount -t tmpfs -o size=64k tmpfs "$SMALL" || exit 99
"$BIN" audit "$DEMO" --format all -o "$SMALL/bundle" --journal "$JOURNAL"
code=$?
echo "--- left in the bundle:"
ls -A "$SMALL/bundle"
exit $code"#,
        &[("SMALL", &small), ("JOURNAL", &journal)],
    );
    let bundle = small.join("bundle");
    let err = stderr(&out);
    let failed = err
        .lines()
        .find(|l| l.starts_with("telltale: cannot write "))
        .unwrap_or_else(|| panic!("{err}"));
    let file = failed
        .strip_prefix("telltale: cannot write ")
        .and_then(|l| l.split_once(": "))
        .map(|(p, _)| PathBuf::from(p))
        .unwrap();
    assert_eq!(file.parent(), Some(bundle.as_path()), "{failed}");
    assert_clear_failure(
        &out,
        &file,
        "No space left on device",
        "free some space there, or write it somewhere else",
    );
    // no temporary file left behind, and no manifest vouching for a bundle that is not whole
    let listing = String::from_utf8_lossy(&out.stdout).to_string();
    let left = listing.split_once("--- left in the bundle:").unwrap().1;
    assert!(!left.contains(".tmp-"), "{left}");
    assert!(!left.contains("manifest.json"), "{left}");

    // the journal, on another filesystem, is whole and ended cleanly
    let text = std::fs::read_to_string(&journal).unwrap();
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    assert_eq!(lines[0]["telltale"]["journal"], "telltale.journal/1");
    assert_eq!(lines[0]["event"]["action"], "run-started");
    assert_eq!(lines.last().unwrap()["event"]["action"], "run-ended");
    let (code, rebuilt) = rebuild(&journal);
    assert_eq!(code, Some(1), "the demo has flagged flows");
    assert_eq!(verdicts(&rebuilt), verdicts(&full_audit()));
}

#[test]
fn a_journal_that_fills_its_disk_warns_and_keeps_what_it_wrote() {
    if !can_mount() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let small = dir.path().join("small");
    std::fs::create_dir(&small).unwrap();
    let kept = dir.path().join("kept.journal");
    let report = dir.path().join("report.json");
    // 20 KiB free: room for the journal's header (11 KiB: the rules, their sources and layers) and a
    // few flows, not the 41 of the demo (50 KiB in all)
    let out = in_private_mounts(
        r#"mount -t tmpfs -o size=64k tmpfs "$SMALL" || exit 99
head -c 45056 /dev/zero > "$SMALL/filler"
"$BIN" audit "$DEMO" --format json --journal "$SMALL/run.journal" > "$REPORT"
code=$?
cp "$SMALL/run.journal" "$KEPT"
# a disk with no room at all refuses the journal before the audit starts
head -c 65536 /dev/zero >> "$SMALL/filler" 2>/dev/null
"$BIN" audit "$DEMO" --format json --journal "$SMALL/second.journal" > /dev/null
echo "second=$?"
exit $code"#,
        &[("SMALL", &small), ("KEPT", &kept), ("REPORT", &report)],
    );
    let err = stderr(&out);
    assert!(!err.contains("panicked"), "{err}");
    // the audit went on without the journal, and its report is whole
    assert_eq!(out.status.code(), Some(1), "{err}");
    let full = full_audit();
    let written: Value = serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap();
    assert_eq!(verdicts(&written), verdicts(&full));
    let journal_path = small.join("run.journal");
    assert!(
        err.contains(&format!(
            "telltale: warning: the journal cannot be written ({}: No space left on device (os error 28)); going on without it",
            journal_path.display()
        )),
        "{err}"
    );
    // the journal keeps the flows written before the disk filled, cut at most in its last line
    let text = std::fs::read_to_string(&kept).unwrap();
    let complete: Vec<&str> = text
        .split_inclusive('\n')
        .filter(|l| l.ends_with('\n'))
        .collect();
    for l in &complete {
        serde_json::from_str::<Value>(l).unwrap_or_else(|e| panic!("{e}: {l}"));
    }
    let flows = complete
        .iter()
        .filter(|l| {
            serde_json::from_str::<Value>(l).is_ok_and(|v| v["event"]["dataset"] == "telltale.flow")
        })
        .count();
    let all = verdicts(&full).len();
    assert!(
        flows >= 1 && flows < all,
        "{flows} of {all} flows journaled"
    );
    assert!(
        !text.contains("{\"end\""),
        "no end line after a failed write"
    );
    let (_, rebuilt) = rebuild(&kept);
    let got = verdicts(&rebuilt);
    assert_eq!(got.len(), flows);
    for v in &got {
        assert!(
            verdicts(&full).contains(v),
            "{v:?} as the full audit has it"
        );
    }
    assert!(
        rebuilt["warnings"]
            .to_string()
            .contains("did not end cleanly"),
        "{}",
        rebuilt["warnings"]
    );
    // the second run, on a disk with no room at all, stopped at once and said why
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("second=2"), "{stdout}");
    assert!(
        err.contains(&format!(
            "telltale: --journal {}: No space left on device",
            small.join("second.journal").display()
        )),
        "{err}"
    );
}
