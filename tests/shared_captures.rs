//! The third-party captures in ../shared/captures: every name tshark finds (TLS SNI,
//! QUIC SNI, HTTP Host, DNS answers) appears in telltale's report with the same source, and every
//! capture is audited without a panic or a hang.

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

#[test]
fn every_expected_name_is_found_with_its_source() {
    let Some(dir) = common::shared_captures() else {
        return;
    };
    let tsv = std::fs::read_to_string(dir.join("expected-names.tsv")).unwrap();
    let mut missing = Vec::new();
    let mut checked = 0;
    let mut files: Vec<&str> = tsv.lines().filter_map(|l| l.split('\t').next()).collect();
    files.dedup();
    for file in files {
        let wanted: Vec<(&str, &str)> = tsv
            .lines()
            .filter_map(|l| {
                let mut it = l.split('\t');
                let (f, kind, name) = (it.next()?, it.next()?, it.next()?);
                (f == file).then_some((kind, name))
            })
            .collect();
        if wanted.is_empty() {
            continue;
        }
        let report = common::audit_file(&dir.join(file), "on");
        let found: BTreeSet<(String, String)> = report
            .names
            .iter()
            .map(|n| (n.source.as_str().to_string(), n.name.clone()))
            .collect();
        for (kind, name) in wanted {
            checked += 1;
            if !found.contains(&(kind.to_string(), name.to_ascii_lowercase())) {
                missing.push(format!("{file}: {kind} {name}"));
            }
        }
    }
    assert!(checked > 40, "only {checked} names checked");
    assert!(
        missing.is_empty(),
        "names tshark finds that telltale missed:\n{}",
        missing.join("\n")
    );
}

#[test]
fn every_capture_is_audited_without_panic_or_hang() {
    let Some(dir) = common::shared_captures() else {
        return;
    };
    let mut files = Vec::new();
    for sub in ["tcpdump", "zeek"] {
        for e in std::fs::read_dir(dir.join(sub)).unwrap() {
            files.push(e.unwrap().path());
        }
    }
    files.sort();
    assert!(files.len() > 60);
    let mut failures = Vec::new();
    for f in &files {
        let path = f.to_str().unwrap();
        let out = common::telltale(
            &["audit", "--format", "json", path],
            None,
            Duration::from_secs(60),
        );
        let code = out.status.code();
        let stderr = String::from_utf8_lossy(&out.stderr);
        match code {
            Some(0) | Some(1) => {
                let v: serde_json::Value = serde_json::from_slice(&out.stdout)
                    .unwrap_or_else(|e| panic!("{path}: the report is not JSON: {e}"));
                let c = &v["counters"];
                let sum: u64 = ["decoded", "malformed", "unsupported", "truncated"]
                    .iter()
                    .map(|k| c[k].as_u64().unwrap())
                    .sum();
                if c["packets"].as_u64() != Some(sum) {
                    failures.push(format!("{path}: counters do not add up: {c}"));
                }
            }
            Some(2) => {
                // A capture that cannot be audited must say why, in words, without a backtrace.
                if !stderr.starts_with("telltale: ") || stderr.contains("panicked") {
                    failures.push(format!("{path}: exit 2 with an unclear message: {stderr}"));
                }
            }
            other => failures.push(format!("{path}: exit {other:?}: {stderr}")),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
