//! The real binary in a real terminal (tmux): `telltale demo` starts, flagged flows
//! appear, a filter narrows the table, the detail pane opens, export writes the report
//! files, and `q` leaves the terminal as it was. And SIGTERM to a running `watch -r`
//! restores the terminal and writes the report. Skipped, with a message, without tmux.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

fn have_tmux() -> bool {
    let ok = Command::new("tmux")
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        eprintln!("SKIPPED: tmux is not installed (make test installs it)");
    }
    ok
}

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
        let start = Instant::now();
        loop {
            let s = self.screen();
            if pred(&s) {
                return s;
            }
            if start.elapsed() > Duration::from_secs(30) {
                panic!("timed out waiting for {what}; the screen was:\n{s}");
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

#[test]
fn the_demo_in_a_real_terminal() {
    if !have_tmux() {
        return;
    }
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
    // an Escape followed at once by a key reads as Alt+key: give it a moment
    std::thread::sleep(Duration::from_millis(300));

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
fn ends_cleanly(name: &str, signal: Option<&str>, fault: Option<&str>, expected_exit: &str) {
    let dir = tempfile::tempdir().unwrap();
    let capture = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/demo.pcapng");
    let report = dir.path().join("final.json");
    let pidfile = dir.path().join("pid");
    let env = fault.map_or(String::new(), |f| format!("TELLTALE_FAULT={f} "));
    let cmd = format!(
        "sh -c 'echo $$ > {}; exec env {env}{BIN} watch -r {capture} --speed 2 --report {}'",
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
    if fault.is_some() {
        assert!(
            s.contains("injected fault"),
            "the panic message is shown after the terminal is restored:\n{s}"
        );
    }
}

#[test]
fn sigint_sighup_and_a_panic_also_restore_the_terminal_and_write_the_report() {
    if !have_tmux() {
        return;
    }
    ends_cleanly("sigint", Some("-INT"), None, "130");
    ends_cleanly("sighup", Some("-HUP"), None, "129");
    ends_cleanly("panic", None, Some("ui-panic"), "2");
}

#[test]
fn sigterm_restores_the_terminal_and_writes_the_report() {
    if !have_tmux() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let capture = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/demo.pcapng");
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
    let dir = tempfile::tempdir().unwrap();
    let capture = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/demo.pcapng");
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
    let dir = tempfile::tempdir().unwrap();
    let capture = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/demo.pcapng");
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
