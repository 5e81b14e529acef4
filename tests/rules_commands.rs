//! `telltale rules check` (a fixture per warning in tests/rules_check/, and the invalid
//! files of tests/rules_invalid/ with their carets) and `telltale rules test` on the demo.

mod common;

use std::time::Duration;

fn run(args: &[&str]) -> (i32, String, String) {
    let out = common::telltale(args, None, Duration::from_secs(60));
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn every_check_fixture_gives_exactly_its_warnings() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/rules_check");
    let mut n = 0;
    for e in std::fs::read_dir(dir).unwrap() {
        let path = e.unwrap().path();
        if path.extension().is_none_or(|x| x != "toml") {
            continue;
        }
        let expected = std::fs::read_to_string(path.with_extension("expected")).unwrap();
        let (code, out, err) = run(&["rules", "check", path.to_str().unwrap()]);
        assert_eq!(code, 0, "{}: {err}", path.display());
        // each line says which file it is about
        let lines: Vec<&str> = out
            .lines()
            .map(|l| l.split_once(": ").map_or(l, |(_, rest)| rest))
            .collect();
        let wanted: Vec<&str> = expected.lines().collect();
        assert_eq!(lines.len(), wanted.len(), "{}:\n{out}", path.display());
        for (got, want) in lines.iter().zip(&wanted) {
            assert!(
                got.starts_with(want),
                "{}:\n  expected: {want}\n  got:      {got}",
                path.display()
            );
        }
        n += 1;
    }
    assert!(n >= 4);
}

#[test]
fn an_invalid_rules_file_is_an_error_with_a_caret() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/rules_invalid/unknown_key.toml"
    );
    let (code, out, err) = run(&["rules", "check", path]);
    assert_eq!(code, 2);
    assert!(out.is_empty());
    assert!(
        err.contains("unknown_key.toml:7:1: unknown field `hostz`"),
        "{err}"
    );
    assert!(
        err.contains("7 | hostz = [\"plex.tv\"]") && err.contains("  | ^"),
        "{err}"
    );
    let (code, out, _) = run(&["rules", "check", "plex"]);
    assert_eq!(code, 0);
    assert!(out.contains("builtin:plex: 24 rules"), "{out}");
}

#[test]
fn rules_test_on_the_demo_capture() {
    let demo = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/demo.pcapng");
    let rules = concat!(env!("CARGO_MANIFEST_DIR"), "/rules/plex.toml");
    let (code, out, err) = run(&["rules", "test", rules, demo]);
    assert_eq!(code, 0, "{err}");
    let row = |id: &str| {
        out.lines()
            .find(|l| l.split_whitespace().next() == Some(id))
            .map(str::to_string)
    };
    let metrics = row("metrics").expect("a line for metrics");
    assert_eq!(metrics.split_whitespace().nth(2), Some("1"), "{metrics}");
    let metadata = row("metadata").expect("a line for metadata");
    assert_eq!(metadata.split_whitespace().nth(2), Some("5"), "{metadata}");
    assert!(
        out.contains(
            "never decided a verdict (10): remote_discovery, plex_pass, relay, plex_direct, dns, components, web_app"
        ),
        "{out}"
    );
    assert!(out.contains("flows no rule matched (1):"), "{out}");
    assert!(out.contains("beacon.tracksight.example (tls_sni)"), "{out}");
}
