//! Golden reports: a few small third-party captures from `../shared/captures` (read in place,
//! never copied into the repository), each audited as a user would
//! (`telltale audit --format json --opt-out on CAPTURE`) and compared with the report checked
//! in as `tests/golden/NAME.json`. A change in any verdict, name, rule or count shows as a
//! change to those files in review.
//!
//! What varies from run to run is left out: the generation time (`generated_at`), and the
//! capture's path is written as `../shared/captures/...` whichever way it was reached. One
//! field is added: `exit_status`, telltale's (0, or 1 when it flagged flows).
//!
//! After a change that is meant to alter the reports, rewrite them and review the diff:
//!
//! ```sh
//! UPDATE_GOLDEN=1 cargo test --test golden
//! ```
//!
//! Without `../shared/captures` the test is skipped (and recorded, see `make test`'s last
//! line), except under CI, where it fails.

// Test helpers: a failed assumption here is a failed test (clippy allows these in #[test]
// functions, not in the helpers they call).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;

/// The captures, under `../shared/captures`, and the golden file each is compared with.
const CAPTURES: &[(&str, &str)] = &[
    ("tcpdump/dns_udp.pcap", "dns_udp"),
    ("tcpdump/quic_handshake.pcap", "quic_handshake"),
    ("tcpdump/ipv4_tcp_http_xml.pcap", "ipv4_tcp_http_xml"),
    ("tcpdump/pppoes.pcap", "pppoes"),
    ("zeek/communityid_ipv6.pcap", "communityid_ipv6"),
];

/// The report of `capture`, without what varies from run to run.
fn report(dir: &Path, capture: &str) -> Value {
    let path = dir.join(capture);
    let out = common::telltale(
        &[
            "audit",
            "--format",
            "json",
            "--opt-out",
            "on",
            path.to_str().expect("a UTF-8 path"),
        ],
        None,
        Duration::from_secs(120),
    );
    // 0, or 1 when it flagged flows; anything else is a failure
    let status = out.status.code();
    assert!(
        matches!(status, Some(0 | 1)),
        "telltale audit {capture} exited with {status:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut report: Value = serde_json::from_slice(&out.stdout).expect("a JSON report");
    let top = report.as_object_mut().expect("the report is an object");
    assert!(
        top.remove("generated_at").is_some(),
        "no generated_at in the report of {capture}"
    );
    for input in top
        .get_mut("inputs")
        .and_then(Value::as_array_mut)
        .expect("inputs")
    {
        input["path"] = Value::from(format!("../shared/captures/{capture}"));
    }
    top.insert("exit_status".into(), Value::from(status));
    report
}

fn golden_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("tests/golden/{name}.json"))
}

/// Where `got` differs from `want`, one line each (`$.flows[2].verdict: "x" -> "y"`).
fn differences(path: &str, want: &Value, got: &Value, out: &mut Vec<String>) {
    match (want, got) {
        (Value::Object(w), Value::Object(g)) => {
            for (k, wv) in w {
                let p = format!("{path}.{k}");
                match g.get(k) {
                    Some(gv) => differences(&p, wv, gv, out),
                    None => out.push(format!("{p}: {wv} -> (absent)")),
                }
            }
            for (k, gv) in g {
                if !w.contains_key(k) {
                    out.push(format!("{path}.{k}: (absent) -> {gv}"));
                }
            }
        }
        (Value::Array(w), Value::Array(g)) => {
            for i in 0..w.len().max(g.len()) {
                let p = format!("{path}[{i}]");
                match (w.get(i), g.get(i)) {
                    (Some(wv), Some(gv)) => differences(&p, wv, gv, out),
                    (Some(wv), None) => out.push(format!("{p}: {wv} -> (absent)")),
                    (None, Some(gv)) => out.push(format!("{p}: (absent) -> {gv}")),
                    (None, None) => {}
                }
            }
        }
        _ if want != got => out.push(format!("{path}: {want} -> {got}")),
        _ => {}
    }
}

#[test]
fn small_captures_give_their_golden_reports() {
    let Some(dir) = common::shared_captures() else {
        return;
    };
    let update = std::env::var("UPDATE_GOLDEN").as_deref() == Ok("1");
    let mut failures = Vec::new();
    for (capture, name) in CAPTURES {
        let got = report(&dir, capture);
        let file = golden_path(name);
        let pretty = serde_json::to_string_pretty(&got).unwrap() + "\n";
        if update {
            std::fs::create_dir_all(file.parent().unwrap()).unwrap();
            std::fs::write(&file, pretty).unwrap();
            eprintln!("wrote {}", file.display());
            continue;
        }
        let want: Value = match std::fs::read_to_string(&file) {
            Ok(text) => serde_json::from_str(&text)
                .unwrap_or_else(|e| panic!("{}: not JSON: {e}", file.display())),
            Err(e) => {
                failures.push(format!("{}: {e}", file.display()));
                continue;
            }
        };
        let mut diffs = Vec::new();
        differences("$", &want, &got, &mut diffs);
        if !diffs.is_empty() {
            let shown = diffs.len().min(30);
            failures.push(format!(
                "{capture} differs from tests/golden/{name}.json ({} differences, golden -> now):\n  {}{}",
                diffs.len(),
                diffs[..shown].join("\n  "),
                if diffs.len() > shown { "\n  ..." } else { "" }
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{}\n\nIf the change is meant, rewrite the golden reports with \
         `UPDATE_GOLDEN=1 cargo test --test golden` and review their diff.",
        failures.join("\n\n")
    );
}

/// The comparison names what changed, where.
#[test]
fn a_difference_is_named_by_its_path() {
    let want = serde_json::json!({"flows": [{"verdict": "declared", "name": "plex.tv"}], "n": 1});
    let got = serde_json::json!({"flows": [{"verdict": "flagged", "name": "plex.tv"}], "m": 1});
    let mut diffs = Vec::new();
    differences("$", &want, &got, &mut diffs);
    assert_eq!(
        diffs,
        [
            "$.flows[0].verdict: \"declared\" -> \"flagged\"",
            "$.n: 1 -> (absent)",
            "$.m: (absent) -> 1",
        ]
    );
}
