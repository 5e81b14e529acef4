//! Helpers shared by the integration tests.

// Test helpers: a failed assumption here is a failed test (clippy allows these in #[test]
// functions, not in the helpers they call).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
#![allow(dead_code)]

pub mod lab;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;
use telltale::audit::{AuditConfig, AuditSpec, audit_readers};
use telltale::capture::file::CaptureReader;
use telltale::pipeline::Caps;
use telltale::report::Report;

/// `../shared/captures` beside the project, if it is there.
pub fn shared_captures() -> Option<PathBuf> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/captures");
    require(p.is_dir(), SHARED, SHARED_INSTALL).then_some(p)
}

/// The reason [`require`] records when `../shared/captures` is absent.
pub const SHARED: &str = "../shared";
/// What to do about it.
pub const SHARED_INSTALL: &str =
    "check out the shared captures beside the project, as ../shared/captures";

pub fn judging(opt_out: &str) -> AuditConfig {
    AuditConfig::new(&AuditSpec::builtin(
        "plex",
        opt_out.parse().expect("auto, on or off"),
    ))
    .expect("plex rules")
}

pub fn audit_file(path: &Path, opt_out: &str) -> Report {
    let reader = CaptureReader::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    audit_readers(vec![reader], &judging(opt_out), Caps::default())
}

pub fn audit_demo(opt_out: &str) -> Report {
    let reader = telltale::audit::demo_reader().expect("demo capture");
    audit_readers(vec![reader], &judging(opt_out), Caps::default())
}

pub fn json(report: &Report) -> serde_json::Value {
    serde_json::from_str(&telltale::report::json::render(report)).expect("valid JSON")
}

/// Runs the real binary with a time limit; kills it and fails the test if it hangs. Its
/// history (written by default) goes to a folder of its own, so that no other test's run
/// (one killed on purpose, say) shows in its report.
pub fn telltale(args: &[&str], stdin: Option<&[u8]>, limit: Duration) -> Output {
    telltale_env(args, stdin, &[], limit)
}

/// [`telltale`] with extra environment (`XDG_STATE_HOME` among them, to share a history).
pub fn telltale_env(
    args: &[&str],
    stdin: Option<&[u8]>,
    env: &[(&str, &Path)],
    limit: Duration,
) -> Output {
    let state = tempfile::tempdir().expect("a state folder");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_telltale"));
    cmd.env("XDG_STATE_HOME", state.path()).args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    output_within(cmd, stdin, limit)
}

/// Runs `cmd` with `stdin` (or none) and its output piped; kills it and fails the test if
/// it outlasts `limit`.
pub fn output_within(mut cmd: Command, stdin: Option<&[u8]>, limit: Duration) -> Output {
    let mut child = cmd
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("run {cmd:?}: {e}"));
    if let Some(bytes) = stdin {
        use std::io::Write;
        let mut si = child.stdin.take().unwrap();
        let bytes = bytes.to_vec();
        std::thread::spawn(move || {
            let _ = si.write_all(&bytes);
        });
    }
    // Read the pipes while waiting, so a large output cannot block the child.
    let pid = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(limit) {
        Ok(out) => out.expect("output"),
        Err(_) => {
            let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
            panic!("{cmd:?} ran past {limit:?}");
        }
    }
}

/// The files a journal rotated away (`JOURNAL.<when>` beside it), oldest first.
pub fn rotated_journals(journal: &Path) -> Vec<PathBuf> {
    let prefix = format!("{}.", journal.file_name().unwrap().to_str().unwrap());
    let mut files: Vec<PathBuf> = std::fs::read_dir(journal.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(&prefix))
        })
        .collect();
    files.sort();
    files
}

/// The one gate for a test's prerequisites (a tool, root, `../shared`): returns `have`.
/// When it is false, under CI (`CI` set and not empty) the test fails, saying what it
/// needs and how to install it, since CI has everything the tests need. Elsewhere the test
/// prints a SKIPPED line, appends `test<TAB>what` to the skip log (`TELLTALE_SKIP_LOG`,
/// by default `target/test-skips.log`, which `make test` sums up at the end) and returns
/// false, so that the caller returns early.
#[track_caller]
pub fn require(have: bool, what: &str, install: &str) -> bool {
    if have {
        return true;
    }
    let test = test_name();
    let ci = std::env::var_os("CI").is_some_and(|v| !v.is_empty());
    assert!(!ci, "under CI this test ({test}) needs {what}: {install}");
    eprintln!("SKIPPED: {test} needs {what}: {install}");
    let log = std::env::var_os("TELLTALE_SKIP_LOG")
        .filter(|v| !v.is_empty())
        .map_or_else(
            || Path::new(env!("CARGO_MANIFEST_DIR")).join("target/test-skips.log"),
            PathBuf::from,
        );
    let line = format!("{test}\t{what}\n");
    let written = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log)
        .and_then(|mut f| std::io::Write::write_all(&mut f, line.as_bytes()));
    if let Err(e) = written {
        eprintln!("cannot record the skip in {}: {e}", log.display());
    }
    false
}

/// `binary::test` for the skip log: the test binary's name without cargo's hash, and the
/// running test's (libtest names each test's thread after it).
#[track_caller]
fn test_name() -> String {
    let binary = std::env::args()
        .next()
        .map(|a| {
            let stem = Path::new(&a)
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            match stem.rsplit_once('-') {
                Some((name, hash)) if hash.chars().all(|c| c.is_ascii_hexdigit()) => {
                    name.to_owned()
                }
                _ => stem,
            }
        })
        .unwrap_or_default();
    let thread = std::thread::current();
    match thread.name() {
        Some(name) if name != "main" => format!("{binary}::{name}"),
        _ => format!("{binary}::{}", std::panic::Location::caller()),
    }
}

/// What [`require`] says when root is missing.
pub const ROOT_INSTALL: &str = "run the tests as root (CI runs as root; sudo -E make test)";

/// Whether `program` runs (with `arg`, e.g. `-V`), for [`require`].
pub fn installed(program: &str, arg: &str) -> bool {
    Command::new(program)
        .arg(arg)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok()
}

/// [`require`]s root and each `(program, version argument, Debian package)`; false (the
/// caller returns) at the first one missing.
#[track_caller]
pub fn require_root_and_tools(tools: &[(&str, &str, &str)]) -> bool {
    if !require(is_root(), "root", ROOT_INSTALL) {
        return false;
    }
    tools.iter().all(|&(tool, arg, package)| {
        let install = format!("apt-get install {package} (make test installs it)");
        require(installed(tool, arg), package, &install)
    })
}

/// Whether the tests run as root (live capture needs it).
pub fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// Busy loops, one per core (two at least), for as long as it lives: races between
/// telltale's threads show on a loaded machine, where a thread can be held up between
/// two lines. Killed when dropped, a failing test's too.
pub struct Load {
    loops: Vec<std::process::Child>,
}

impl Load {
    pub fn start() -> Load {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get().max(2));
        let loops = (0..cores)
            .map(|_| {
                Command::new("sh")
                    .args(["-c", "while :; do :; done"])
                    .stdin(Stdio::null())
                    .spawn()
                    .expect("start a busy loop")
            })
            .collect();
        Load { loops }
    }
}

impl Drop for Load {
    fn drop(&mut self) {
        for child in &mut self.loops {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Runs a set-up command (`ip netns add ...`) and fails the test, with its stderr, if it fails.
pub fn run_ok(args: &[&str]) {
    let out = std::process::Command::new(args[0])
        .args(&args[1..])
        .output()
        .unwrap_or_else(|e| panic!("{}: {e}", args[0]));
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}
