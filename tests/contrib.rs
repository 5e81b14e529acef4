//! contrib/: the two `--on-flagged` examples, run as telltale runs them (`sh -c`, the flow's
//! JSON on standard input, the TELLTALE_* environment), with `logger` and `curl` replaced by
//! stand-ins that record what they were given (nothing is logged or sent for real); and the
//! Vector configuration, read as TOML and held to the journal it ships.

// Test helpers: a failed assumption here is a failed test (clippy allows these in #[test]
// functions, not in the helpers they call).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Stdio};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// A stand-in for `program` that appends its arguments and standard input to `log`, and
/// answers `--help` with `help`.
fn stand_in(bin: &Path, program: &str, log: &Path, help: &str) {
    let script = format!(
        "#!/bin/sh\nif [ \"$1\" = --help ]; then echo '{help}'; exit 0; fi\nprintf 'ARGS:' >> {log}\nfor a in \"$@\"; do printf ' [%s]' \"$a\" >> {log}; done\nprintf '\\nSTDIN:' >> {log}\ncat >> {log}\necho >> {log}\n",
        log = log.display()
    );
    let path = bin.join(program);
    std::fs::write(&path, script).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

fn run_hook(script: &str, bin: &Path, extra: &[(&str, &str)]) -> std::process::Output {
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap());
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(format!("{ROOT}/contrib/{script}"))
        .env("PATH", path)
        .env("TELLTALE_EVENT", "flagged")
        .env("TELLTALE_FLOW_ID", "13")
        .env("TELLTALE_DESTINATION", "metrics.plex.tv")
        .env("TELLTALE_REMOTE", "203.0.113.9:443")
        .env("TELLTALE_CATEGORY", "telemetry")
        .env("TELLTALE_BYTES_OUT", "4242")
        .env("TELLTALE_PROCESS", "Plex Media Server")
        .env("TELLTALE_REASON", "sends usage data")
        .envs(extra.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(br#"{"id":13,"verdict":{"kind":"flagged"}}"#)
        .unwrap();
    child.wait_with_output().unwrap()
}

#[test]
fn the_logger_example_writes_the_flow_to_the_journal_and_sends_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("log");
    for (help, journald) in [
        ("usage: logger --journald[=file]", true),
        ("usage: logger", false),
    ] {
        let _ = std::fs::remove_file(&log);
        stand_in(dir.path(), "logger", &log, help);
        stand_in(dir.path(), "curl", &dir.path().join("curl-called"), "");
        let out = run_hook("on-flagged-logger.sh", dir.path(), &[]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let said = std::fs::read_to_string(&log).unwrap();
        assert!(
            said.contains("flagged flow 13 to metrics.plex.tv (203.0.113.9:443): telemetry, 4242 bytes out, process Plex Media Server"),
            "{said}"
        );
        if journald {
            assert!(
                said.contains("[--journald]") && said.contains("TELLTALE_FLOW={\"id\":13"),
                "{said}"
            );
        } else {
            assert!(
                said.contains("[-t] [telltale] [-p] [user.warning]"),
                "{said}"
            );
        }
        assert!(
            !dir.path().join("curl-called").exists(),
            "the logger example sent something"
        );
    }
}

#[test]
fn the_ntfy_example_posts_only_where_the_owner_points_it_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("log");
    stand_in(dir.path(), "curl", &log, "");
    // without NTFY_URL it refuses, saying what to set
    let out = run_hook("on-flagged-ntfy.sh", dir.path(), &[]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("NTFY_URL"));
    assert!(!log.exists());
    let out = run_hook(
        "on-flagged-ntfy.sh",
        dir.path(),
        &[
            ("NTFY_URL", "http://ntfy.lan/telltale"),
            ("NTFY_TOKEN", "tk_1"),
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let said = std::fs::read_to_string(&log).unwrap();
    assert!(
        said.contains("[Title: telltale: flagged metrics.plex.tv]"),
        "{said}"
    );
    assert!(said.contains("[Authorization: Bearer tk_1]"), "{said}");
    assert!(said.contains("[http://ntfy.lan/telltale]"), "{said}");
    assert!(
        said.contains("telemetry: 4242 bytes out to 203.0.113.9:443"),
        "{said}"
    );
    assert!(
        !said.contains("\"verdict\""),
        "the flow's JSON is not sent: {said}"
    );
    let header = std::fs::read_to_string(format!("{ROOT}/contrib/on-flagged-ntfy.sh")).unwrap();
    assert!(header.contains("THIS SENDS DATA"));
}

#[test]
fn the_vector_example_tails_the_journal_docs_fleet_names_and_parses_every_line() {
    let text = std::fs::read_to_string(format!("{ROOT}/contrib/vector.toml")).unwrap();
    let v: toml::Value = toml::from_str(&text).expect("contrib/vector.toml is TOML");
    let source = &v["sources"]["telltale_journal"];
    assert_eq!(source["type"].as_str(), Some("file"));
    let include = source["include"].as_array().unwrap()[0].as_str().unwrap();
    let fleet = std::fs::read_to_string(format!("{ROOT}/docs/fleet.md")).unwrap();
    assert!(
        fleet.contains(&format!("--journal {include}")),
        "fleet.md journals where Vector reads"
    );
    let remap = &v["transforms"]["telltale_ecs"];
    assert_eq!(
        remap["inputs"].as_array().unwrap()[0].as_str(),
        Some("telltale_journal")
    );
    assert!(remap["source"].as_str().unwrap().contains("parse_json!"));
    let loki = &v["sinks"]["loki"];
    assert_eq!(
        loki["inputs"].as_array().unwrap()[0].as_str(),
        Some("telltale_ecs")
    );
    // its labels are journal fields
    for label in ["observer.hostname", "event.action"] {
        assert!(text.contains(&format!("{{{{ {label} }}}}")), "{label}");
        let journal = std::fs::read_to_string(format!("{ROOT}/docs/journal.md")).unwrap();
        let field = label.split('.').next_back().unwrap();
        assert!(journal.contains(field), "{label} is documented");
    }
}
