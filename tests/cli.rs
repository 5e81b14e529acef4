//! The command line as a user meets it: exit codes, formats and output paths, standard
//! input, compressed and cut-short captures, and clear messages for bad input.

// Test helpers: a failed assumption here is a failed test (clippy allows these in #[test]
// functions, not in the helpers they call).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use std::io::Write;
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(60);

fn demo_path() -> String {
    concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/demo.pcapng").to_string()
}

fn run(args: &[&str]) -> (i32, String, String) {
    run_in(args, None)
}

fn run_in(args: &[&str], stdin: Option<&[u8]>) -> (i32, String, String) {
    let out = common::telltale(args, stdin, LIMIT);
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn flows_of(json: &str) -> Vec<(String, String, String)> {
    let v: serde_json::Value = serde_json::from_str(json).expect("JSON report");
    v["flows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["server"]["address"].to_string(),
                f["verdict"]["kind"].to_string(),
                f["verdict"]["rule"].to_string(),
            )
        })
        .collect()
}

#[test]
fn flagged_flows_exit_1_and_print_markdown_by_default() {
    let (code, out, err) = run(&["audit", &demo_path()]);
    assert_eq!(code, 1, "{err}");
    assert!(
        out.starts_with("# telltale audit: Plex Media Server"),
        "{out}"
    );
    assert!(out.contains("## Flagged (5)"));
    assert!(out.contains("metrics.plex.tv"));
}

#[test]
fn nothing_flagged_exits_0() {
    let (code, out, err) = run(&["audit", "--opt-out", "off", &demo_path()]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("**Nothing flagged**"), "{out}");
    assert!(out.contains("Opt-out: **off**"), "{out}");
    assert!(out.contains("(from command line (--opt-out off))"), "{out}");
}

#[test]
fn several_formats_go_to_a_directory() {
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("audit");
    let (code, out, err) = run(&[
        "audit",
        "--format",
        "json,md",
        "-o",
        out_dir.to_str().unwrap(),
        &demo_path(),
    ]);
    assert_eq!(code, 1, "{err}");
    assert!(out.is_empty());
    let json = std::fs::read_to_string(out_dir.join("report.json")).unwrap();
    let md = std::fs::read_to_string(out_dir.join("report.md")).unwrap();
    assert!(json.contains("\"schema\": \"telltale.report/1\""));
    assert!(md.starts_with("# telltale audit"));
    // no temporary files are left behind
    assert_eq!(std::fs::read_dir(&out_dir).unwrap().count(), 2);
}

#[test]
fn one_format_goes_to_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("r.json");
    let (code, _, err) = run(&[
        "audit",
        "--format",
        "json",
        "-o",
        path.to_str().unwrap(),
        &demo_path(),
    ]);
    assert_eq!(code, 1, "{err}");
    assert_eq!(flows_of(&std::fs::read_to_string(&path).unwrap()).len(), 41);
}

#[test]
fn standard_input_gives_the_same_verdicts_as_the_file() {
    let bytes = std::fs::read(demo_path()).unwrap();
    let (c1, from_file, _) = run(&["audit", "--format", "json", &demo_path()]);
    let (c2, from_stdin, err) = run_in(&["audit", "--format", "json", "-"], Some(&bytes));
    assert_eq!((c1, c2), (1, 1), "{err}");
    assert_eq!(flows_of(&from_file), flows_of(&from_stdin));
    let v: serde_json::Value = serde_json::from_str(&from_stdin).unwrap();
    assert_eq!(v["inputs"][0]["path"], "-");
}

#[test]
fn gzip_is_read_transparently() {
    let dir = tempfile::tempdir().unwrap();
    let gz = dir.path().join("capture.bin"); // detected by content, not by name
    let mut enc = flate2::write::GzEncoder::new(
        std::fs::File::create(&gz).unwrap(),
        flate2::Compression::fast(),
    );
    enc.write_all(&std::fs::read(demo_path()).unwrap()).unwrap();
    enc.finish().unwrap();
    let (code, json, err) = run(&["audit", "--format", "json", gz.to_str().unwrap()]);
    assert_eq!(code, 1, "{err}");
    let (_, plain, _) = run(&["audit", "--format", "json", &demo_path()]);
    assert_eq!(flows_of(&json), flows_of(&plain));
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["inputs"][0]["format"], "pcapng+gzip");
}

#[test]
fn a_capture_cut_short_still_reports_what_was_read() {
    let dir = tempfile::tempdir().unwrap();
    let cut = dir.path().join("cut.pcapng");
    let bytes = std::fs::read(demo_path()).unwrap();
    std::fs::write(&cut, &bytes[..bytes.len() / 2 + 7]).unwrap();
    let (code, json, err) = run(&["audit", "--format", "json", cut.to_str().unwrap()]);
    assert!(code == 0 || code == 1, "{err}");
    assert!(
        err.contains("warning") && err.contains("cut short"),
        "{err}"
    );
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    let packets = v["inputs"][0]["packets"].as_u64().unwrap();
    assert!(packets > 100 && packets < 1259, "{packets}");
    assert!(v["inputs"][0]["cut_short"]["offset"].as_u64().unwrap() > 0);
    assert!(v["warnings"][0].as_str().unwrap().contains("cut short"));
}

#[test]
fn bad_input_exits_2_with_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    let text = dir.path().join("notes.txt");
    std::fs::write(&text, "this is not a capture\n").unwrap();
    let bad_rules = dir.path().join("rules.toml");
    std::fs::write(
        &bad_rules,
        "schema = 1\nserver = \"x\"\n[[exception]]\nid = \"a\"\ncategory = \"b\"\nhots = []\n",
    )
    .unwrap();
    let cases: Vec<(Vec<String>, &str)> = vec![
        (
            vec!["audit".into(), "/nonexistent/capture.pcap".into()],
            "/nonexistent/capture.pcap",
        ),
        (vec!["audit".into(), text.to_str().unwrap().into()], "not a"),
        (
            vec![
                "audit".into(),
                "--rules".into(),
                bad_rules.to_str().unwrap().into(),
                demo_path(),
            ],
            "rules.toml:6:1: unknown field `hots`",
        ),
        (
            vec![
                "audit".into(),
                "--rules".into(),
                "/no/such/rules.toml".into(),
                demo_path(),
            ],
            "no such rules file",
        ),
        (
            vec![
                "audit".into(),
                "--opt-out".into(),
                "maybe".into(),
                demo_path(),
            ],
            "--opt-out takes `auto`",
        ),
        (
            vec!["audit".into(), "--format".into(), "pdf".into(), demo_path()],
            "unknown format `pdf`",
        ),
        (
            vec![
                "audit".into(),
                "--format".into(),
                "md,json".into(),
                demo_path(),
            ],
            "add -o DIR",
        ),
        (vec!["audit".into()], "CAPTURE"),
    ];
    for (args, expected) in cases {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let (code, out, err) = run(&args);
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(out.is_empty(), "{args:?} printed a report");
        assert!(
            err.contains(expected),
            "{args:?}: expected {expected:?} in: {err}"
        );
        assert!(!err.contains("panicked"), "{err}");
    }
}

#[test]
fn demo_prints_the_demo_audit_and_exits_0() {
    let (code, out, err) = run(&["demo"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("builtin:demo.pcapng"));
    assert!(out.contains("## Flagged (5)"));
}

#[test]
fn server_ip_audits_one_machine_seen_from_another() {
    let (code, json, err) = run(&[
        "audit",
        "--format",
        "json",
        "--server-ip",
        "192.168.1.10",
        &demo_path(),
    ]);
    assert_eq!(code, 1, "{err}");
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["scope"]["mode"], "server_ip");
    let flows = v["flows"].as_array().unwrap();
    assert!(
        flows
            .iter()
            .all(|f| f["client"]["address"] == "192.168.1.10"
                || f["server"]["address"] == "192.168.1.10")
    );
    // the phone's own lookups through the router are someone else's traffic
    assert!(
        v["scope"]["left_out_flows"].as_u64().unwrap() >= 1,
        "{}",
        v["scope"]
    );
    assert_eq!(v["summary"]["verdicts"]["flagged"]["flows"], 5);

    // a public address given as the server counts as local: its flows are judged from its side
    let (_, json, _) = run(&[
        "audit",
        "--format",
        "json",
        "--server-ip",
        "203.0.113.50",
        &demo_path(),
    ]);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    let flows = v["flows"].as_array().unwrap();
    assert_eq!(flows.len(), 1, "only the remote client's flow");
    assert_eq!(flows[0]["client"]["scope"], "owner");

    let (code, _, err) = run(&["audit", "--scope", "everything", &demo_path()]);
    assert_eq!(code, 2);
    assert!(err.contains("--scope takes `server` or `host`"), "{err}");
}

#[test]
fn scope_server_on_a_capture_file_keeps_every_flow_and_says_why() {
    let (_, json, err) = run(&[
        "audit",
        "--format",
        "json",
        "--scope",
        "server",
        &demo_path(),
    ]);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["flows"].as_array().unwrap().len(), 41);
    assert!(err.contains("needs to see processes"), "{err}");
}

#[test]
fn baseline_marks_destinations_the_old_report_never_saw() {
    let (_, old, _) = run(&["audit", "--format", "json", &demo_path()]);
    let mut old: serde_json::Value = serde_json::from_str(&old).unwrap();
    // an older report, from before the server started talking to the tracker
    let is_tracker =
        |v: &serde_json::Value| v["name"].as_str().is_some_and(|n| n.starts_with("beacon."));
    old["flows"]
        .as_array_mut()
        .unwrap()
        .retain(|f| !f["names"].as_array().unwrap().iter().any(is_tracker));
    old["names"]
        .as_array_mut()
        .unwrap()
        .retain(|n| !is_tracker(n));
    let dir = tempfile::tempdir().unwrap();
    let old_path = dir.path().join("old.json");
    std::fs::write(&old_path, old.to_string()).unwrap();

    let (code, json, err) = run(&[
        "audit",
        "--format",
        "json",
        "--baseline",
        old_path.to_str().unwrap(),
        &demo_path(),
    ]);
    assert_eq!(code, 1, "{err}");
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(
        v["baseline"]["new_destinations"],
        serde_json::json!(["beacon.tracksight.example"])
    );
    let new: Vec<&serde_json::Value> = v["flows"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["new_destination"] == true)
        .collect();
    assert_eq!(new.len(), 1);
    assert_eq!(new[0]["names"][0]["name"], "beacon.tracksight.example");
    let (_, md, _) = run(&[
        "audit",
        "--baseline",
        old_path.to_str().unwrap(),
        &demo_path(),
    ]);
    assert!(md.contains("## New since the baseline (1)"), "{md}");
    assert!(md.contains("- **New:** the baseline report never saw this destination"));

    std::fs::write(&old_path, "not json").unwrap();
    let (code, _, err) = run(&[
        "audit",
        "--baseline",
        old_path.to_str().unwrap(),
        &demo_path(),
    ]);
    assert_eq!(code, 2);
    assert!(err.contains("is not a telltale JSON report"), "{err}");
}

#[test]
fn max_flows_caps_the_flow_table_and_counts_its_evictions() {
    let (code, json, err) = run(&[
        "audit",
        "--format",
        "json",
        "--max-flows",
        "8",
        &demo_path(),
    ]);
    assert_eq!(code, 1, "{err}");
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    let evictions = v["counters"]["flow_evictions"].as_u64().unwrap();
    assert!(evictions > 0, "{}", v["counters"]);
    // evicted flows are reported, not lost: every packet is still in some flow, kept whole
    // or folded into a group
    let packets: u64 = v["flows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["up"]["packets"].as_u64().unwrap() + f["down"]["packets"].as_u64().unwrap())
        .sum();
    let grouped: u64 = v["flow_groups"]
        .as_array()
        .map(|gs| gs.iter().map(|g| g["packets"].as_u64().unwrap()).sum())
        .unwrap_or(0);
    assert!(
        grouped > 0,
        "8 flows at most are kept whole: {}",
        v["counters"]
    );
    assert_eq!(
        packets + grouped,
        v["counters"]["decoded"].as_u64().unwrap()
    );
    let summarised = v["counters"]["flows_summarised"].as_u64().unwrap();
    let kept = v["flows"].as_array().unwrap().len() as u64;
    assert_eq!(kept + summarised, v["counters"]["flows"].as_u64().unwrap());
    let (code, _, err) = run(&["audit", "--max-flows", "0", &demo_path()]);
    assert_eq!(code, 2);
    assert!(err.contains("--max-flows takes a number of flows"), "{err}");
}

#[test]
fn a_blank_or_rateless_hook_is_refused_before_anything_is_opened() {
    // no interface is opened (a missing one would be another message): the flags are read first
    for args in [
        ["audit", "-i", "no-such-interface0", "--on-flagged", ""],
        ["audit", "-i", "no-such-interface0", "--on-flagged", "  "],
    ] {
        let (code, _, err) = run(&args);
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(err.contains("--on-flagged"), "{err}");
        assert!(err.contains("it needs a command to run"), "{err}");
    }
    let (code, _, err) = run(&[
        "watch",
        "-r",
        &demo_path(),
        "--on-flagged",
        "true",
        "--on-flagged-rate",
        "0",
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--on-flagged-rate"), "{err}");
    assert!(
        err.contains("it takes a number of calls a minute, at least 1"),
        "{err}"
    );
}
