//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;
use telltale::capture::file::CaptureReader;
use telltale::cli::JudgeArgs;
use telltale::cli::audit::{Judging, audit_readers};
use telltale::pipeline::Caps;
use telltale::report::Report;

/// `../shared/captures` beside the project, if it is there.
pub fn shared_captures() -> Option<PathBuf> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/captures");
    if p.is_dir() {
        Some(p)
    } else {
        eprintln!(
            "SKIPPED: ../shared/captures is absent; the third-party capture tests need it beside the project"
        );
        None
    }
}

pub fn judging(opt_out: &str) -> Judging {
    Judging::from_args(&JudgeArgs::builtin(
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
    let reader = telltale::cli::audit::demo_reader().expect("demo capture");
    audit_readers(vec![reader], &judging(opt_out), Caps::default())
}

pub fn json(report: &Report) -> serde_json::Value {
    serde_json::from_str(&telltale::report::json::render(report)).expect("valid JSON")
}

/// Runs the real binary with a time limit; kills it and fails the test if it hangs.
pub fn telltale(args: &[&str], stdin: Option<&[u8]>, limit: Duration) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_telltale"))
        .args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run telltale");
    if let Some(bytes) = stdin {
        use std::io::Write;
        let mut si = child.stdin.take().unwrap();
        let bytes = bytes.to_vec();
        std::thread::spawn(move || {
            let _ = si.write_all(&bytes);
        });
    }
    // Read the pipes while waiting, so a large report cannot block the child.
    let pid = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(limit) {
        Ok(out) => out.expect("output"),
        Err(_) => {
            let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
            panic!("telltale {args:?} ran past {limit:?}");
        }
    }
}

/// A test that cannot run here: under CI (`CI` set) that is a failure, since CI has
/// everything the tests need; elsewhere the test says it was skipped and why.
pub fn cannot_run(why: &str) {
    let ci = std::env::var_os("CI").is_some_and(|v| !v.is_empty());
    assert!(!ci, "cannot run under CI: {why}");
    eprintln!("SKIPPED: {why}");
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
