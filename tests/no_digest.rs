//! `telltale audit --no-digest`, through the real binary: the audit is the same in every way
//! but the input's SHA-256, which the reports then say was not computed; it works for
//! compressed captures and standard input, and is refused for live capture.

// Test helpers: a failed assumption here is a failed test (clippy allows these in #[test]
// functions, not in the helpers they call).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use serde_json::Value;
use sha2::{Digest, Sha256};
use std::io::Write;
use std::path::Path;
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(60);

fn demo_path() -> String {
    concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/demo.pcapng").to_string()
}

/// Runs telltale; returns its exit code, standard output and standard error.
fn run(args: &[&str], stdin: Option<&[u8]>) -> (i32, String, String) {
    let out = common::telltale(args, stdin, LIMIT);
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The JSON report of one audit; the demo capture has flagged flows, so the audit exits 1.
fn audit_json(args: &[&str], stdin: Option<&[u8]>) -> Value {
    let mut all = vec!["audit", "--format", "json"];
    all.extend_from_slice(args);
    let (code, out, err) = run(&all, stdin);
    assert_eq!(code, 1, "telltale {all:?} failed: {err}");
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("telltale {all:?}: not JSON ({e}): {out}"))
}

/// The report without what may rightly differ between two audits of the same packets: the
/// time it was written and the description of the inputs (checked on their own).
fn audit_only(mut report: Value) -> Value {
    let o = report.as_object_mut().expect("the report is a JSON object");
    assert!(o.remove("generated_at").is_some(), "no generated_at");
    assert!(o.remove("inputs").is_some(), "no inputs");
    report
}

/// The one input of a report.
fn input(report: &Value) -> &Value {
    let inputs = report["inputs"].as_array().expect("inputs is an array");
    assert_eq!(inputs.len(), 1, "one capture was given: {inputs:?}");
    &inputs[0]
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn file_len(path: &str) -> u64 {
    std::fs::metadata(path).expect("fixture").len()
}

/// Writes the demo capture gzip-compressed into `dir`; returns its path and its bytes.
fn gzipped_demo(dir: &Path) -> (String, Vec<u8>) {
    let gz = dir.join("demo.pcapng.gz");
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(&std::fs::read(demo_path()).expect("fixture"))
        .expect("compress");
    let bytes = enc.finish().expect("compress");
    std::fs::write(&gz, &bytes).expect("write the gzip capture");
    (gz.to_str().expect("UTF-8 path").to_string(), bytes)
}

#[test]
fn no_digest_changes_nothing_but_the_digest() {
    let demo = demo_path();
    let with = audit_json(&[&demo], None);
    let without = audit_json(&["--no-digest", &demo], None);

    let (a, b) = (input(&with), input(&without));
    assert!(
        b["sha256"].is_null(),
        "--no-digest still gave a digest: {b}"
    );
    assert!(
        a["sha256"].is_string(),
        "the default audit gave no digest: {a}"
    );
    assert_eq!(b["bytes"], file_len(&demo), "{b}");
    assert_eq!(a["bytes"], b["bytes"]);
    for field in ["path", "format", "packets"] {
        assert_eq!(a[field], b[field], "inputs differ in {field}");
    }
    assert_eq!(b["packets"], with["counters"]["packets"]);
    assert!(b["packets"].as_u64().is_some_and(|n| n > 1000), "{b}");

    let (with, without) = (audit_only(with), audit_only(without));
    // the parts the issue cares about first, so a failure says which one differs
    for part in [
        "flows",
        "names",
        "counters",
        "summary",
        "blind_spots",
        "warnings",
    ] {
        assert!(!with[part].is_null(), "the report has no {part}");
        assert_eq!(with[part], without[part], "{part} differ with --no-digest");
    }
    assert!(!with["flows"].as_array().expect("flows").is_empty());
    assert_eq!(with, without, "the reports differ with --no-digest");
}

#[test]
fn the_default_digest_is_the_sha256_of_the_file() {
    let demo = demo_path();
    let report = audit_json(&[&demo], None);
    let expected = sha256_hex(&std::fs::read(&demo).expect("fixture"));
    assert_eq!(input(&report)["sha256"], expected.as_str());
}

#[test]
fn markdown_and_html_say_the_digest_was_not_computed() {
    let demo = demo_path();
    let full = sha256_hex(&std::fs::read(&demo).expect("fixture"));
    let short = &full[..16];

    let (code, md, err) = run(
        &["audit", "--format", "markdown", "--no-digest", &demo],
        None,
    );
    assert_eq!(code, 1, "{err}");
    let line = md
        .lines()
        .find(|l| l.starts_with("- Capture:"))
        .unwrap_or_else(|| panic!("no capture line in the Markdown report:\n{md}"));
    assert!(line.contains("sha256 not computed"), "{line}");
    assert!(!md.contains(short), "the digest is in the Markdown report");

    // the same line with the digest, so the words above really replace it
    let (_, md, _) = run(&["audit", "--format", "markdown", &demo], None);
    let line = md
        .lines()
        .find(|l| l.starts_with("- Capture:"))
        .expect("no capture line in the Markdown report");
    assert!(line.contains(&format!("sha256 `{short}`")), "{line}");
    assert!(!md.contains("not computed"), "{md}");

    let (code, html, err) = run(&["audit", "--format", "html", "--no-digest", &demo], None);
    assert_eq!(code, 1, "{err}");
    assert!(
        html.contains("not computed"),
        "the HTML report does not say so"
    );
    assert!(!html.contains(short), "the digest is in the HTML report");
    let (_, html, _) = run(&["audit", "--format", "html", &demo], None);
    assert!(html.contains(&full), "the HTML report lacks the digest");
    assert!(!html.contains("not computed"));
}

#[test]
fn no_digest_reads_gzip_captures() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (gz, gz_bytes) = gzipped_demo(dir.path());
    let plain = audit_json(&[&demo_path()], None);
    let without = audit_json(&["--no-digest", &gz], None);
    let i = input(&without);
    assert_eq!(i["format"], "pcapng+gzip", "{i}");
    assert!(i["sha256"].is_null(), "{i}");
    // the count is of the bytes as given, the compressed ones
    assert_eq!(i["bytes"], gz_bytes.len() as u64, "{i}");
    assert_eq!(i["packets"], input(&plain)["packets"]);
    assert_eq!(audit_only(plain), audit_only(without));

    // with the digest, it is that of the compressed bytes
    let with = audit_json(&[&gz], None);
    assert_eq!(input(&with)["sha256"], sha256_hex(&gz_bytes).as_str());
}

#[test]
fn no_digest_reads_standard_input() {
    let demo = demo_path();
    let bytes = std::fs::read(&demo).expect("fixture");
    let plain = audit_json(&[&demo], None);
    let without = audit_json(&["--no-digest", "-"], Some(&bytes));
    let i = input(&without);
    assert_eq!(i["path"], "-", "{i}");
    assert!(i["sha256"].is_null(), "{i}");
    assert_eq!(i["bytes"], bytes.len() as u64, "{i}");
    assert_eq!(i["packets"], input(&plain)["packets"]);
    let audit = audit_only(without);
    assert_eq!(audit_only(plain), audit);

    // gzip on standard input too
    let dir = tempfile::tempdir().expect("tempdir");
    let (_, gz_bytes) = gzipped_demo(dir.path());
    let gz = audit_json(&["--no-digest", "-"], Some(&gz_bytes));
    let i = input(&gz);
    assert_eq!(i["format"], "pcapng+gzip", "{i}");
    assert!(i["sha256"].is_null(), "{i}");
    assert_eq!(i["bytes"], gz_bytes.len() as u64, "{i}");
    assert_eq!(audit_only(gz), audit);
}

#[test]
fn no_digest_is_refused_with_live_capture() {
    // --duration bounds the capture, should the parser ever let it start
    for args in [
        &["audit", "--no-digest", "-i", "lo", "--duration", "1s"][..],
        &["audit", "-i", "lo", "--duration", "1s", "--no-digest"][..],
    ] {
        let (code, out, err) = run(args, None);
        assert_eq!(code, 2, "telltale {args:?} was not refused: {err}");
        assert!(out.is_empty(), "{out}");
        assert!(
            err.contains("--no-digest") && err.contains("cannot be used with"),
            "{err}"
        );
        assert!(err.contains("--interface"), "{err}");
    }
}
