//! The regression captures (`tests/fixtures/regress/`, written by
//! `telltale_testkit::regress`): QUIC versions with keys of their own or none, STARTTLS
//! sessions, and half-broken DNS, TLS and HTTP messages. Each is audited by the real binary and
//! must give the names its case lists, with their sources and the flow's application; tshark,
//! the reference dissector, must name nothing in them that telltale misses.

// Test helpers: a failed assumption here is a failed test (clippy allows these in #[test]
// functions, not in the helpers they call).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use telltale_testkit::regress::{CASES, Case, capture};

fn fixture(case: &Case) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/regress")
        .join(case.file)
}

/// The JSON report of an audit of `path` (owner not opted out: no verdict matters here).
fn audit(path: &Path) -> serde_json::Value {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("r.json");
    let status = Command::new(env!("CARGO_BIN_EXE_telltale"))
        .args(["audit", "--format", "json", "--opt-out", "off", "-o"])
        .arg(&out)
        .arg(path)
        .output()
        .unwrap();
    assert!(
        status.status.code().is_some_and(|c| c <= 1),
        "{}: {}",
        path.display(),
        String::from_utf8_lossy(&status.stderr)
    );
    serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap()
}

/// The flow of a case: the one to its server's address and port.
fn flow<'a>(report: &'a serde_json::Value, case: &Case) -> &'a serde_json::Value {
    let (ip, port) = case.server;
    report["flows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["server"]["address"] == ip.to_string() && f["server"]["port"] == port)
        .unwrap_or_else(|| panic!("{}: no flow to {ip}:{port}", case.file))
}

#[test]
fn the_committed_captures_are_what_the_generator_writes() {
    for case in CASES {
        let made = capture(case.file).unwrap();
        let committed = std::fs::read(fixture(case)).unwrap_or_else(|e| {
            panic!(
                "{}: {e}; write it with cargo run -p telltale-tools --bin make_regression_captures",
                case.file
            )
        });
        assert!(
            made == committed,
            "{} differs from what the generator writes: cargo run -p telltale-tools --bin make_regression_captures",
            case.file
        );
    }
}

#[test]
fn every_case_gives_its_names_with_their_sources() {
    for case in CASES {
        let report = audit(&fixture(case));
        let f = flow(&report, case);
        let names: Vec<(String, String)> = f["names"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|n| {
                        (
                            n["name"].as_str().unwrap().to_string(),
                            n["source"].as_str().unwrap().to_string(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        for (name, source) in case.names {
            assert!(
                names.iter().any(|(n, s)| n == name && s == source),
                "{} ({}): {name} ({source}) missing from {names:?}",
                case.file,
                case.what
            );
        }
        assert_eq!(
            names.len(),
            case.names.len(),
            "{}: names {names:?}",
            case.file
        );
        assert_eq!(f["app"], case.app, "{}", case.file);
    }
}

#[test]
fn what_each_case_says_beside_its_names() {
    let by_file = |file: &str| CASES.iter().find(|c| c.file == file).unwrap();
    // a reserved version read with v1's keys, found by trying: said so, and counted
    let case = by_file("quic-reserved-v1-keys.pcapng");
    let r = audit(&fixture(case));
    let f = flow(&r, case);
    assert_eq!(f["seen"]["quic_keys_guessed"], "1");
    assert!(
        f["seen"]["quic_version"]
            .as_str()
            .unwrap()
            .starts_with("0x1a2a3a4a (reserved")
    );
    assert_eq!(r["counters"]["quic_initials_guessed"], 1);
    assert_eq!(r["counters"]["quic_key_guesses"], 0);
    // draft-29's keys are the third tried: two wrong guesses, counted
    let case = by_file("quic-reserved-draft29-keys.pcapng");
    let r = audit(&fixture(case));
    assert_eq!(flow(&r, case)["seen"]["quic_keys_guessed"], "draft-29");
    assert_eq!(r["counters"]["quic_key_guesses"], 2);
    // keys nobody knows: every known one tried once, then a blind spot that names the version
    let case = by_file("quic-reserved-unknown-keys.pcapng");
    let r = audit(&fixture(case));
    let f = flow(&r, case);
    assert_eq!(f["seen"]["quic_undecryptable"], 1);
    assert_eq!(
        r["counters"]["quic_key_guesses"],
        telltale::dissect::quic::crypto::GUESSES.len()
    );
    let reason = f["verdict"]["reason"].as_str().unwrap();
    assert!(reason.contains("0x6a7a8a9a"), "{reason}");
    // half-broken messages count as unreadable, and their names stand
    let case = by_file("dns-one-bad-record.pcapng");
    assert_eq!(audit(&fixture(case))["counters"]["dns_malformed"], 1);
    for file in ["tls-damaged-after-sni.pcapng", "tls-cut-after-sni.pcapng"] {
        assert_eq!(
            audit(&fixture(by_file(file)))["counters"]["tls_malformed"],
            1,
            "{file}"
        );
    }
    // a host an HTTP request only mentions never judges its flow: the verdict rests on Host
    let case = by_file("http-origin-and-target.pcapng");
    let r = audit(&fixture(case));
    let reason = flow(&r, case)["verdict"]["reason"].as_str().unwrap();
    assert!(reason.contains("host.example.net"), "{reason}");
    assert!(!reason.contains("origin.example.net"), "{reason}");
}

/// The names tshark extracts from a capture: TLS and QUIC server names, HTTP Host headers,
/// the names DNS responses answer, gQUIC's SNI tag.
fn tshark_names(path: &Path) -> BTreeSet<String> {
    let out = Command::new("tshark")
        .arg("-r")
        .arg(path)
        .args([
            "-T",
            "fields",
            "-E",
            "separator=,",
            "-E",
            "aggregator=,",
            "-e",
            "tls.handshake.extensions_server_name",
            "-e",
            "http.host",
            "-e",
            "gquic.tag.sni",
            "-Y",
            "tls.handshake.type == 1 or http.request or gquic",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut names: BTreeSet<String> = String::from_utf8_lossy(&out.stdout)
        .split([',', '\n'])
        .map(|s| s.trim().to_ascii_lowercase())
        .filter(|s| !s.is_empty())
        .collect();
    let dns = Command::new("tshark")
        .arg("-r")
        .arg(path)
        .args([
            "-T",
            "fields",
            "-e",
            "dns.resp.name",
            "-Y",
            "dns.flags.response == 1 and dns.a",
        ])
        .output()
        .unwrap();
    names.extend(
        String::from_utf8_lossy(&dns.stdout)
            .split([',', '\n'])
            .map(|s| s.trim().to_ascii_lowercase())
            .filter(|s| !s.is_empty()),
    );
    // tshark's own words for what it could not read (`<name contains a pointer that loops>`)
    // are no names
    names.retain(|n| !n.starts_with('<') && !n.contains(' '));
    names
}

#[test]
fn tshark_names_nothing_that_telltale_misses() {
    if !common::require(
        common::installed("tshark", "-v"),
        "tshark",
        "apt-get install tshark (scripts/install-deps.sh)",
    ) {
        return;
    }
    let mut theirs_total = 0;
    for case in CASES {
        let path = fixture(case);
        let report = audit(&path);
        let ours: BTreeSet<String> = report["flows"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|f| f["names"].as_array().cloned().unwrap_or_default())
            .map(|n| n["name"].as_str().unwrap().to_string())
            .collect();
        let theirs = tshark_names(&path);
        theirs_total += theirs.len();
        let missed: Vec<&String> = theirs.difference(&ours).collect();
        assert!(
            missed.is_empty(),
            "{}: tshark names {missed:?} that telltale does not ({ours:?})",
            case.file
        );
    }
    // tshark reads most of them: the comparison is not empty
    assert!(theirs_total >= 15, "tshark named only {theirs_total}");
}
