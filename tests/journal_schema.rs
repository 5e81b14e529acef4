//! The journal as log pipelines see it: every line of real journals (the demo, the shared
//! captures, a live audit) validates against docs/journal.schema.json, its ECS fields agree
//! with the flow it carries, and rotation (by size, and keeping N files) loses no line and
//! splits none.

// Test helpers: a failed assumption here is a failed test (clippy allows these in #[test]
// functions, not in the helpers they call).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::time::Duration;

const DEMO: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/demo.pcapng");
const SCHEMA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/journal.schema.json");

fn validator() -> jsonschema::Validator {
    let schema: Value = serde_json::from_str(&std::fs::read_to_string(SCHEMA).unwrap()).unwrap();
    jsonschema::options()
        .should_validate_formats(true)
        .build(&schema)
        .expect("the schema compiles")
}

/// Every line of `path`, parsed and validated; the parsed lines.
fn valid_lines(v: &jsonschema::Validator, path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).unwrap();
    assert!(
        text.ends_with('\n'),
        "{}: the last line is whole",
        path.display()
    );
    text.lines()
        .enumerate()
        .map(|(i, line)| {
            let doc: Value = serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("{}:{}: not JSON: {e}", path.display(), i + 1));
            let errors: Vec<String> = v
                .iter_errors(&doc)
                .map(|e| format!("{e} at {}", e.instance_path()))
                .collect();
            assert!(
                errors.is_empty(),
                "{}:{}: {errors:?}\n{line}",
                path.display(),
                i + 1
            );
            doc
        })
        .collect()
}

fn audit_with_journal(capture: &str, journal: &Path, extra: &[&str]) -> Value {
    let mut args = vec![
        "audit",
        "--opt-out",
        "on",
        "--no-history",
        "--format",
        "json",
        "--journal",
        journal.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    args.push(capture);
    let out = common::telltale(&args, None, Duration::from_secs(120));
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The ECS fields of a flow line say what the flow it carries says.
fn agrees(line: &Value) {
    let f = &line["telltale"]["flow"];
    let kind = f["verdict"]["kind"].as_str().unwrap();
    assert_eq!(line["event"]["action"], format!("flow-{kind}"));
    assert_eq!(line["labels"]["verdict"], kind);
    assert_eq!(
        line["event"]["kind"],
        if kind == "flagged" { "alert" } else { "event" }
    );
    assert_eq!(line["source"]["ip"], f["client"]["address"]);
    assert_eq!(line["source"]["port"], f["client"]["port"]);
    assert_eq!(line["destination"]["ip"], f["server"]["address"]);
    assert_eq!(line["destination"]["port"], f["server"]["port"]);
    assert_eq!(line["source"]["bytes"], f["up"]["ip_bytes"]);
    assert_eq!(line["destination"]["bytes"], f["down"]["ip_bytes"]);
    assert_eq!(line["rule"]["category"], f["verdict"]["category"]);
    assert_eq!(line["rule"]["id"], f["verdict"]["rule"]);
    assert_eq!(line["@timestamp"], f["last_seen"]);
    assert_eq!(line["event"]["start"], f["first_seen"]);
    let names: Vec<&str> = f["names"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["name"].as_str().unwrap())
        .collect();
    match line["destination"].get("domain") {
        Some(d) => assert!(names.contains(&d.as_str().unwrap()), "{d} among {names:?}"),
        None => assert!(names.is_empty(), "a named flow has destination.domain"),
    }
}

#[test]
fn every_line_of_real_journals_validates_and_its_ecs_fields_match_its_flow() {
    let v = validator();
    let dir = tempfile::tempdir().unwrap();
    let mut captures: Vec<PathBuf> = vec![PathBuf::from(DEMO)];
    if let Some(shared) = common::shared_captures() {
        for e in std::fs::read_dir(&shared).unwrap().flatten() {
            if e.path().is_dir() {
                for f in std::fs::read_dir(e.path()).unwrap().flatten() {
                    let p = f.path();
                    if p.extension().is_some_and(|x| x == "pcap" || x == "pcapng") {
                        captures.push(p);
                    }
                }
            }
        }
    }
    let mut flows = 0;
    let mut actions = std::collections::BTreeSet::new();
    for (i, cap) in captures.iter().enumerate() {
        let journal = dir.path().join(format!("j{i}.jsonl"));
        let report = audit_with_journal(cap.to_str().unwrap(), &journal, &[]);
        let lines = valid_lines(&v, &journal);
        assert_eq!(
            lines[0]["event"]["action"],
            "run-started",
            "{}",
            cap.display()
        );
        assert_eq!(lines.last().unwrap()["event"]["action"], "run-ended");
        let flow_lines: Vec<&Value> = lines
            .iter()
            .filter(|l| l["event"]["dataset"] == "telltale.flow")
            .collect();
        assert_eq!(
            flow_lines.len(),
            report["flows"].as_array().unwrap().len(),
            "{}: one line per flow",
            cap.display()
        );
        for l in &flow_lines {
            agrees(l);
            actions.insert(l["event"]["action"].as_str().unwrap().to_string());
        }
        flows += flow_lines.len();
    }
    assert!(flows > 40, "{flows}");
    // the demo alone has every verdict
    for a in ["flow-flagged", "flow-declared", "flow-local"] {
        assert!(actions.contains(a), "{actions:?}");
    }
}

#[test]
fn the_schema_rejects_what_a_pipeline_could_not_take() {
    let v = validator();
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("j.jsonl");
    audit_with_journal(DEMO, &journal, &[]);
    let lines = valid_lines(&v, &journal);
    let flow = lines
        .iter()
        .find(|l| l["event"]["action"] == "flow-flagged")
        .unwrap();
    // a validator that accepted anything would pass the test above: these must fail
    let mut bad = flow.clone();
    bad["event"]["kind"] = "event".into(); // a flagged flow is an alert
    assert!(!v.is_valid(&bad));
    let mut bad = flow.clone();
    bad["source"]["ip"] = "not an address".into();
    assert!(!v.is_valid(&bad));
    let mut bad = flow.clone();
    bad["network"]["direction"] = "sideways".into();
    assert!(!v.is_valid(&bad));
    let mut bad = flow.clone();
    bad["telltale"]["journal"] = "telltale.journal/2".into();
    assert!(!v.is_valid(&bad));
    let mut bad = flow.clone();
    bad.as_object_mut()
        .unwrap()
        .insert("sourceip".into(), "1.2.3.4".into());
    assert!(!v.is_valid(&bad), "an undocumented field");
    let mut bad = lines[0].clone();
    bad["telltale"]["rules"]["sha256"] = "short".into();
    assert!(!v.is_valid(&bad));
}

#[test]
fn rotation_by_size_loses_no_line_splits_none_and_keeps_n_files() {
    let v = validator();
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("run.jsonl");
    let report = audit_with_journal(
        DEMO,
        &journal,
        &["--journal-rotate", "16K", "--journal-keep", "100"],
    );
    let mut files = common::rotated_journals(&journal);
    assert!(
        files.len() >= 3,
        "a 16 KiB limit rotates the demo's journal: {files:?}"
    );
    files.push(journal.clone());
    let mut ids = Vec::new();
    for f in &files {
        let size = std::fs::metadata(f).unwrap().len();
        let lines = valid_lines(&v, f);
        assert_eq!(
            lines[0]["event"]["action"],
            "run-started",
            "{} begins with the run",
            f.display()
        );
        if lines.len() > 2 {
            assert!(size <= 16 * 1024, "{}: {size} bytes", f.display());
        }
        for l in &lines {
            if let Some(id) = l["telltale"]["flow"]["id"].as_u64() {
                ids.push(id);
            }
        }
    }
    let mut want: Vec<u64> = report["flows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["id"].as_u64().unwrap())
        .collect();
    want.sort_unstable();
    let mut got = ids.clone();
    got.sort_unstable();
    assert_eq!(got, want, "every flow once, across the files");

    // with --journal-keep 2, two rotated files remain beside the current one
    let kept = tempfile::tempdir().unwrap();
    let journal = kept.path().join("run.jsonl");
    audit_with_journal(
        DEMO,
        &journal,
        &["--journal-rotate", "16K", "--journal-keep", "2"],
    );
    let n = std::fs::read_dir(kept.path()).unwrap().count();
    assert_eq!(n, 3, "two rotated files and the current one");

    // rebuilt from the concatenated files in order, the report holds every flow
    let whole = dir.path().join("whole.jsonl");
    let mut text = String::new();
    for f in &files {
        text.push_str(&std::fs::read_to_string(f).unwrap());
    }
    std::fs::write(&whole, text).unwrap();
    let out = common::telltale(
        &[
            "report",
            "--from-journal",
            whole.to_str().unwrap(),
            "--format",
            "json",
        ],
        None,
        Duration::from_secs(30),
    );
    let rebuilt: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(rebuilt["flows"].as_array().unwrap().len(), want.len());
}

#[test]
fn a_bad_rotation_is_refused_with_what_to_give() {
    let out = common::telltale(
        &[
            "audit",
            "--journal",
            "/tmp/x",
            "--journal-rotate",
            "weekly",
            DEMO,
        ],
        None,
        Duration::from_secs(30),
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("is not daily or a size"));
}
