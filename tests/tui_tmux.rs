//! The real binary in a real terminal (tmux): `telltale demo` starts, flagged flows
//! appear, a filter narrows the table, the detail pane opens, export writes the report
//! files, and `q` leaves the terminal as it was. SIGTERM, SIGINT and SIGHUP to a running
//! `watch -r` restore the terminal and write the report. A panic injected into any of
//! telltale's threads (`TELLTALE_FAULT`) ends the run by itself: the shell's prompt comes
//! back to a terminal that echoes again, the exit status is 3, one line names the
//! thread, and the report holds the flows seen until then; `audit -i lo` too (as root).
//!
//! Every test runs while busy loops keep every core loaded: races between telltale's
//! threads show only there. Without tmux (or root, for capture) they are skipped with a
//! message, and fail under CI.

// Test helpers: a failed assumption here is a failed test (clippy allows these in #[test]
// functions, not in the helpers they call).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use common::Load;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

fn have_tmux() -> bool {
    let ok = Command::new("tmux")
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success());
    common::require(ok, "tmux", "apt-get install tmux (make test installs it)")
}

/// How long a test waits for the screen to show what it expects: long enough for a
/// debug build on a machine whose cores are all busy.
const PATIENCE: Duration = Duration::from_secs(60);

/// A tmux server of its own (its own socket), killed on drop.
struct Tmux {
    socket: String,
    session: String,
}

impl Tmux {
    fn start(name: &str, cwd: &Path, command: &str) -> Tmux {
        let t = Tmux {
            socket: format!("telltale-test-{name}-{}", std::process::id()),
            session: name.to_string(),
        };
        let status = Command::new("tmux")
            .args([
                "-L",
                &t.socket,
                "-f",
                "/dev/null",
                "new-session",
                "-d",
                "-s",
                name,
                "-x",
                "120",
                "-y",
                "40",
            ])
            .args(["-c", cwd.to_str().unwrap()])
            .arg(format!(
                "env TERM=xterm-256color {command}; echo EXITED:$?; sleep 60"
            ))
            .status()
            .expect("tmux");
        assert!(status.success());
        t
    }

    /// A tmux server running an interactive `sh` with the prompt [`PROMPT`]. `sh` (dash)
    /// has no line editing of its own: what typing shows is the terminal's own echo.
    fn shell(name: &str, cwd: &Path) -> Tmux {
        let t = Tmux {
            socket: format!("telltale-test-{name}-{}", std::process::id()),
            session: name.to_string(),
        };
        let status = Command::new("tmux")
            .args(["-L", &t.socket, "-f", "/dev/null", "new-session", "-d"])
            .args(["-s", name, "-x", "120", "-y", "40"])
            .args(["-c", cwd.to_str().unwrap()])
            .arg(format!("env TERM=xterm-256color PS1='{PROMPT}' /bin/sh"))
            .status()
            .expect("tmux");
        assert!(status.success());
        t.wait_for_all("the shell's prompt", |h| h.trim_end() == PROMPT.trim_end());
        t
    }

    fn tmux(&self, args: &[&str]) -> String {
        let out = Command::new("tmux")
            .args(["-L", &self.socket])
            .args(args)
            .output()
            .expect("tmux");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn screen(&self) -> String {
        self.tmux(&["capture-pane", "-p", "-t", &self.session])
    }

    /// The whole pane: its history and its screen, wrapped lines joined.
    fn all(&self) -> String {
        self.tmux(&["capture-pane", "-p", "-J", "-S", "-", "-t", &self.session])
    }

    fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", &self.session];
        args.extend_from_slice(keys);
        self.tmux(&args);
    }

    fn literal(&self, text: &str) {
        self.tmux(&["send-keys", "-t", &self.session, "-l", text]);
    }

    /// Waits until the screen satisfies `pred`; fails with the last screen if it never does.
    fn wait_for(&self, what: &str, pred: impl Fn(&str) -> bool) -> String {
        self.wait_until(what, || self.screen(), pred)
    }

    /// As [`Tmux::wait_for`], over the whole pane ([`Tmux::all`]).
    fn wait_for_all(&self, what: &str, pred: impl Fn(&str) -> bool) -> String {
        self.wait_until(what, || self.all(), pred)
    }

    fn wait_until(
        &self,
        what: &str,
        look: impl Fn() -> String,
        pred: impl Fn(&str) -> bool,
    ) -> String {
        let start = Instant::now();
        loop {
            let s = look();
            if pred(&s) {
                return s;
            }
            if start.elapsed() > PATIENCE {
                panic!("timed out waiting for {what}; the pane was:\n{s}");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn pane(&self, format: &str) -> String {
        self.tmux(&["display-message", "-p", "-t", &self.session, format])
            .trim()
            .to_string()
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["-L", &self.socket, "kill-server"])
            .output();
    }
}

const BIN: &str = env!("CARGO_BIN_EXE_telltale");
const CAPTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/demo.pcapng");
/// The prompt of [`Tmux::shell`].
const PROMPT: &str = "ready$ ";

#[test]
fn the_demo_in_a_real_terminal() {
    if !have_tmux() {
        return;
    }
    let _load = Load::start();
    let dir = tempfile::tempdir().unwrap();
    let t = Tmux::start("demo", dir.path(), &format!("{BIN} demo --speed 40"));
    // the alternate screen is on while it runs
    t.wait_for("the demo's first flows", |s| s.contains("plex.tv"));
    assert_eq!(t.pane("#{alternate_on}"), "1");
    t.wait_for("a flagged flow", |s| s.contains("metrics.plex.tv"));

    // a filter narrows the table to the flagged flows
    t.keys(&["/"]);
    t.literal("verdict:flagged");
    t.keys(&["Enter"]);
    // (waits for the whole screen to agree: a capture can catch the terminal mid-redraw)
    t.wait_for("only flagged flows in the table", |s| {
        s.contains("filter verdict:flagged")
            && s.contains("metrics.plex.tv")
            && [
                "pubsub.plex.tv",
                "sonos.plex.tv",
                "192.168.1.1:53",
                "✓ declared",
                "· local",
            ]
            .iter()
            .all(|other| !s.contains(other))
    });

    // the detail pane shows why
    t.keys(&["Home", "Enter"]);
    t.wait_for("the detail pane", |s| s.contains("opted out"));
    t.keys(&["Escape"]);
    // an Escape followed at once by a key reads as Alt+key: the next key waits until the
    // Escape has been read
    t.wait_for("the detail pane to close", |s| !s.contains("Esc closes"));

    // export writes the report files and says where
    t.keys(&["e"]);
    t.wait_for("the export message", |s| s.contains("report written to"));
    // the whole bundle, and it verifies
    let exported: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(exported.len(), 1, "{exported:?}");
    let json = std::fs::read_to_string(exported[0].join("report.json")).unwrap();
    assert!(json.contains("\"schema\": \"telltale.report/1\""));
    for f in [
        "report.md",
        "report.html",
        "flows.csv",
        "evidence.pcapng",
        "manifest.json",
    ] {
        assert!(exported[0].join(f).exists(), "{f} missing from the export");
    }
    let verify = Command::new(BIN)
        .args(["verify", exported[0].to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        verify.status.success(),
        "{}",
        String::from_utf8_lossy(&verify.stdout)
    );

    // q leaves the terminal as it was
    t.keys(&["q"]);
    let s = t.wait_for("the exit", |s| s.contains("EXITED:"));
    assert!(s.contains("EXITED:0"), "{s}");
    assert_eq!(
        t.pane("#{alternate_on}"),
        "0",
        "still on the alternate screen"
    );
    assert_eq!(t.pane("#{cursor_flag}"), "1", "the cursor is hidden");
    assert!(
        !s.contains("metrics.plex.tv"),
        "the UI is still on the screen:\n{s}"
    );
}

/// Runs `watch -r` on the demo capture with a final report, ends it with `signal` (or
/// lets the injected panic end it), and checks the exit code, the terminal and the report.
fn ends_cleanly(name: &str, signal: Option<&str>, expected_exit: &str) {
    let dir = tempfile::tempdir().unwrap();
    let capture = CAPTURE;
    let report = dir.path().join("final.json");
    let pidfile = dir.path().join("pid");
    let cmd = format!(
        "sh -c 'echo $$ > {}; exec {BIN} watch -r {capture} --speed 2 --report {}'",
        pidfile.display(),
        report.display()
    );
    let t = Tmux::start(name, dir.path(), &cmd);
    if let Some(sig) = signal {
        t.wait_for("the first flows", |s| s.contains("plex.tv"));
        let pid = std::fs::read_to_string(&pidfile).unwrap();
        let status = Command::new("kill")
            .args([sig, pid.trim()])
            .status()
            .unwrap();
        assert!(status.success());
    }
    let s = t.wait_for("the exit", |s| s.contains("EXITED:"));
    assert!(s.contains(&format!("EXITED:{expected_exit}")), "{s}");
    assert!(s.contains("report written to"), "{s}");
    assert_eq!(
        t.pane("#{alternate_on}"),
        "0",
        "{name}: still on the alternate screen"
    );
    assert_eq!(
        t.pane("#{cursor_flag}"),
        "1",
        "{name}: the cursor is hidden"
    );
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    assert_eq!(v["schema"], "telltale.report/1");
    assert!(
        !v["flows"].as_array().unwrap().is_empty(),
        "{name}: an empty report"
    );
}

#[test]
fn sigint_and_sighup_also_restore_the_terminal_and_write_the_report() {
    if !have_tmux() {
        return;
    }
    let _load = Load::start();
    ends_cleanly("sigint", Some("-INT"), "130");
    ends_cleanly("sighup", Some("-HUP"), "129");
}

#[test]
fn sigterm_restores_the_terminal_and_writes_the_report() {
    if !have_tmux() {
        return;
    }
    let _load = Load::start();
    let dir = tempfile::tempdir().unwrap();
    let capture = CAPTURE;
    let report = dir.path().join("final.json");
    let pidfile = dir.path().join("pid");
    let cmd = format!(
        "sh -c 'echo $$ > {}; exec {BIN} watch -r {capture} --speed 2 --report {}'",
        pidfile.display(),
        report.display()
    );
    let t = Tmux::start("sigterm", dir.path(), &cmd);
    t.wait_for("the first flows", |s| s.contains("plex.tv"));
    let pid = std::fs::read_to_string(&pidfile).unwrap();
    let status = Command::new("kill")
        .args(["-TERM", pid.trim()])
        .status()
        .unwrap();
    assert!(status.success());
    let s = t.wait_for("the exit", |s| s.contains("EXITED:"));
    assert!(s.contains("EXITED:143"), "{s}");
    assert!(s.contains("report written to"), "{s}");
    assert_eq!(t.pane("#{alternate_on}"), "0");
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    assert_eq!(v["schema"], "telltale.report/1");
    assert!(!v["flows"].as_array().unwrap().is_empty());
}

#[test]
fn watch_reads_a_capture_piped_into_it_and_reaches_the_same_verdicts() {
    if !have_tmux() {
        return;
    }
    let _load = Load::start();
    let dir = tempfile::tempdir().unwrap();
    let capture = CAPTURE;
    let report = dir.path().join("piped.json");
    // the way `ssh nas tcpdump -U -w - | telltale watch -r -` feeds it
    let cmd = format!(
        "sh -c 'cat {capture} | {BIN} watch -r - --speed max --report {}'",
        report.display()
    );
    let t = Tmux::start("piped", dir.path(), &cmd);
    t.wait_for("the whole capture", |s| {
        s.contains("read to the end") && s.contains("41 flows")
    });
    t.keys(&["q"]);
    let s = t.wait_for("the exit", |s| s.contains("EXITED:"));
    assert!(s.contains("EXITED:0"), "{s}");
    let piped: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    let audit = Command::new(BIN)
        .args(["audit", "--format", "json", capture])
        .output()
        .unwrap();
    let from_file: serde_json::Value = serde_json::from_slice(&audit.stdout).unwrap();
    let verdicts = |v: &serde_json::Value| -> Vec<(String, String, String)> {
        v["flows"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| {
                (
                    f["server"].to_string(),
                    f["verdict"]["kind"].to_string(),
                    f["verdict"]["rule"].to_string(),
                )
            })
            .collect()
    };
    assert_eq!(verdicts(&piped), verdicts(&from_file));
}

#[test]
fn watch_picks_up_a_change_to_the_server_settings() {
    if !have_tmux() {
        return;
    }
    let _load = Load::start();
    let dir = tempfile::tempdir().unwrap();
    let capture = CAPTURE;
    let prefs = dir.path().join("Preferences.xml");
    let write = |usage: &str| {
        std::fs::write(
            &prefs,
            format!("<Preferences collectUsageData=\"{usage}\" PlexOnlineToken=\"t0k3n\" sendCrashReports=\"0\" PublishServerOnPlexOnlineKey=\"1\" CinemaTrailersFromTheater=\"1\"/>"),
        )
        .unwrap();
    };
    write("0");
    let cmd = format!(
        "{BIN} watch -r {capture} --speed max --prefs {}",
        prefs.display()
    );
    let t = Tmux::start("prefs", dir.path(), &cmd);
    t.wait_for("the audit under opt-out on", |s| {
        s.contains("read to the end") && s.contains("opt-out on") && s.contains("5 flagged")
    });
    // the owner flips the switch (a second later, so the file's time changes)
    std::thread::sleep(Duration::from_millis(1100));
    write("1");
    // telemetry is now allowed; the crash upload stays flagged: sendCrashReports=0 still turns it off
    let s = t.wait_for("the audit under opt-out off", |s| {
        s.contains("opt-out off") && s.contains("1 flagged") && s.contains("17 allowed")
    });
    assert!(s.contains("collectUsageData=1"), "{s}");
    t.keys(&["q"]);
    t.wait_for("the exit", |s| s.contains("EXITED:0"));
}

/// telltale run from an interactive shell in tmux, so that its end gives the prompt back
/// and the terminal it leaves can be tried from that shell.
struct InShell {
    t: Tmux,
    dir: tempfile::TempDir,
}

impl InShell {
    /// Types `command` at the prompt; `{dir}` in it stands for the test's folder.
    fn run(name: &str, command: &str) -> InShell {
        let dir = tempfile::tempdir().unwrap();
        let t = Tmux::shell(name, dir.path());
        let command = command.replace("{dir}", dir.path().to_str().unwrap());
        // (`EXIT""ED` shows as typed; only the echo prints EXITED)
        t.literal(&format!("{command}; echo EXIT\"\"ED:$?"));
        t.keys(&["Enter"]);
        InShell { t, dir }
    }

    /// `telltale ARGS` with `TELLTALE_FAULT=FAULT`, its pid written to `{dir}/pid`.
    fn telltale(name: &str, fault: &str, args: &str) -> InShell {
        InShell::run(
            name,
            &format!("sh -c 'echo $$ > {{dir}}/pid; exec env TELLTALE_FAULT={fault} {BIN} {args}'"),
        )
    }

    fn path(&self, file: &str) -> PathBuf {
        self.dir.path().join(file)
    }

    /// Waits for telltale to end by itself (nothing is typed meanwhile); the whole pane.
    fn ended(&self) -> String {
        self.t
            .wait_for_all("telltale to end", |h| h.contains("EXITED:"))
    }

    /// The JSON report telltale wrote.
    fn report(&self, file: &str) -> serde_json::Value {
        let text = std::fs::read_to_string(self.path(file))
            .unwrap_or_else(|e| panic!("no report at {file}: {e}"));
        serde_json::from_str(&text).expect("the report is JSON")
    }

    /// The terminal is as a shell needs it: main screen, cursor shown, the prompt back,
    /// typing echoed, and `stty` says canonical mode with echo.
    fn terminal_restored(&self) {
        assert_eq!(
            self.t.pane("#{alternate_on}"),
            "0",
            "still on the alternate screen"
        );
        assert_eq!(self.t.pane("#{cursor_flag}"), "1", "the cursor is hidden");
        self.t.wait_for_all("the prompt after the exit", |h| {
            h.trim_end().ends_with(PROMPT.trim_end())
        });
        let probe = r"stty -a | tr ' ;' '\n\n' | grep -x -e icanon -e -icanon -e echo -e -echo | tr '\n' ' '; echo :STTY";
        self.t.literal(probe);
        // shown before Enter: the terminal echoes what is typed (sh draws nothing itself)
        self.t.wait_for_all("the typed line, echoed", |h| {
            h.trim_end().ends_with(&format!("{PROMPT}{probe}"))
        });
        self.t.keys(&["Enter"]);
        let h = self.t.wait_for_all("stty's answer", |h| {
            h.lines()
                .any(|l| l.trim_end().ends_with(":STTY") && !l.contains("stty"))
        });
        assert!(
            h.lines().any(|l| l.trim_end() == "icanon echo :STTY"),
            "the terminal is not in canonical mode with echo:\n{h}"
        );
    }
}

/// What a run a panic ended shows: the exit status 3, the panic's own message (printed
/// once the terminal was back: on the alternate screen it would have vanished), and one
/// line naming the thread, saying what became of the report and asking for a bug report.
fn shows_the_panic(pane: &str, thread: &str, fault: &str, outcome: &str) {
    assert!(pane.contains("EXITED:3"), "not the exit status 3:\n{pane}");
    assert!(
        pane.contains(&format!("injected fault (TELLTALE_FAULT={fault})")),
        "the panic's message is missing:\n{pane}"
    );
    let line = format!(
        "telltale: internal error: thread '{thread}' panicked; {outcome}; this is a bug in telltale, please report it with the panic message above"
    );
    assert!(
        pane.lines().any(|l| l.trim_end() == line),
        "no line `{line}`:\n{pane}"
    );
}

/// The report of a session a panic ended: flows, and the warnings that say why.
fn has_flows_and_warns(v: &serde_json::Value, warning: &str) {
    assert_eq!(v["schema"], "telltale.report/1");
    let flows = v["flows"].as_array().unwrap();
    assert!(!flows.is_empty(), "no flows in the report");
    let warnings = v["warnings"].to_string();
    assert!(
        warnings.contains(warning),
        "no warning `{warning}`: {warnings}"
    );
}

#[test]
fn a_panicking_replay_thread_ends_the_demo_and_the_report_is_written() {
    if !have_tmux() {
        return;
    }
    let _load = Load::start();
    // the demo the bug was found in: the replay thread's panic left its UI running
    let fault = "panic:telltale-replay";
    let run = InShell::telltale("replay", fault, "demo --speed 20 --report {dir}/final.json");
    let pane = run.ended();
    shows_the_panic(
        &pane,
        "telltale-replay",
        fault,
        "the report covers what was audited until then",
    );
    assert!(pane.contains("telltale: report written to"), "{pane}");
    run.terminal_restored();
    let v = run.report("final.json");
    has_flows_and_warns(
        &v,
        "the capture failed: the telltale-replay thread stopped on an internal error (a bug)",
    );
    // the replay stopped early: the demo has 1259 packets
    let packets = v["counters"]["packets"].as_u64().unwrap();
    assert!((1..1259).contains(&packets), "{packets} packets");
}

#[test]
fn a_panicking_pipeline_thread_ends_the_session_and_its_report_is_written() {
    if !have_tmux() {
        return;
    }
    let _load = Load::start();
    let fault = "panic:telltale-pipeline";
    let run = InShell::telltale(
        "pipeline",
        fault,
        &format!("watch -r {CAPTURE} --speed 20 --report {{dir}}/final.json"),
    );
    let pane = run.ended();
    shows_the_panic(
        &pane,
        "telltale-pipeline",
        fault,
        "the report may be incomplete",
    );
    run.terminal_restored();
    has_flows_and_warns(
        &run.report("final.json"),
        "the pipeline stopped on an internal error (a bug)",
    );
}

#[test]
fn a_panicking_signal_thread_ends_the_session() {
    if !have_tmux() {
        return;
    }
    let _load = Load::start();
    let fault = "panic:telltale-signals";
    let run = InShell::telltale(
        "signals",
        fault,
        &format!("watch -r {CAPTURE} --speed 20 --report {{dir}}/final.json"),
    );
    run.t.wait_for("the first flows", |s| s.contains("plex.tv"));
    // the signal thread panics on SIGHUP rather than passing it on
    let pid = std::fs::read_to_string(run.path("pid")).unwrap();
    let status = Command::new("kill")
        .args(["-HUP", pid.trim()])
        .status()
        .unwrap();
    assert!(status.success());
    let pane = run.ended();
    shows_the_panic(
        &pane,
        "telltale-signals",
        fault,
        "the report covers what was audited until then",
    );
    run.terminal_restored();
    assert!(
        !run.report("final.json")["flows"]
            .as_array()
            .unwrap()
            .is_empty()
    );
}

#[test]
fn a_panic_in_the_ui_restores_the_terminal_and_writes_the_report() {
    if !have_tmux() {
        return;
    }
    let _load = Load::start();
    let run = InShell::telltale(
        "ui",
        "ui-panic",
        &format!("watch -r {CAPTURE} --speed 20 --report {{dir}}/final.json"),
    );
    let pane = run.ended();
    shows_the_panic(
        &pane,
        "main",
        "ui-panic",
        "the report covers what was audited until then",
    );
    run.terminal_restored();
    assert!(
        !run.report("final.json")["flows"]
            .as_array()
            .unwrap()
            .is_empty()
    );
}

/// `audit -i lo` with `fault`, fed datagrams on loopback until it ends; a `--duration`
/// far beyond the test's patience, so that only the panic can have ended it.
fn live_audit_ends_on_a_panic(name: &str, thread: &str, outcome: &str, warning: &str) {
    if !have_tmux() {
        return;
    }
    if !common::require(common::is_root(), "root", common::ROOT_INSTALL) {
        return;
    }
    let _load = Load::start();
    let sink = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = sink.local_addr().unwrap().port();
    let fault = format!("panic:{thread}");
    let run = InShell::run(
        name,
        &format!(
            "env TELLTALE_FAULT={fault} {BIN} audit -i lo -f 'udp port {port}' --scope host --duration 10m --format json -o {{dir}}/live.json"
        ),
    );
    let source = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let started = Instant::now();
    let pane = loop {
        for _ in 0..20 {
            source.send_to(b"telltale", ("127.0.0.1", port)).unwrap();
            std::thread::sleep(Duration::from_millis(5));
        }
        let pane = run.t.all();
        if pane.contains("EXITED:") {
            break pane;
        }
        assert!(
            started.elapsed() < PATIENCE,
            "the audit did not end:\n{pane}"
        );
    };
    shows_the_panic(&pane, thread, &fault, outcome);
    run.terminal_restored();
    let v = run.report("live.json");
    has_flows_and_warns(&v, warning);
    assert!(
        v["flows"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["server"]["port"] == port),
        "the datagrams' flow is missing: {v}"
    );
}

#[test]
fn a_panicking_capture_thread_ends_a_live_audit_with_its_report() {
    live_audit_ends_on_a_panic(
        "capture",
        "telltale-capture",
        "the report covers what was captured until then",
        "the capture failed: the telltale-capture thread stopped on an internal error (a bug)",
    );
}

#[test]
fn a_panic_in_the_live_audits_loop_still_writes_its_report() {
    live_audit_ends_on_a_panic(
        "audit-loop",
        "main",
        "the report may be incomplete",
        "the audit stopped on an internal error (a bug)",
    );
}
