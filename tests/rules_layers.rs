//! The owner's own layer over the vendor's rules: `--rules plex --rules ./mine.toml`, or an
//! `include` in a rules file. The owner's exception explains a flow the vendor's rules leave
//! flagged, and the report says which file declared it; ids clash with a clear error; a file
//! without a server cannot stand alone; `rules check` names both files of a shadowed rule.

// Test helpers: a failed assumption here is a failed test (clippy allows these in #[test]
// functions, not in the helpers they call).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use std::path::Path;
use std::time::Duration;

const DEMO: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/demo.pcapng");

/// The owner's file: their own analytics beacon (in the demo, a third party no vendor rule
/// explains), declared as theirs.
const MINE: &str = r#"schema = 1

[categories]
owner = "The owner's own services"

[[exception]]
id = "my_beacon"
category = "owner"
basis = "function"
source = "the owner's own monitoring, set up by them"
justification = "My own uptime beacon."
hosts = ["beacon.tracksight.example"]
"#;

fn audit(args: &[&str]) -> (i32, serde_json::Value, String) {
    let mut all = vec!["audit", "--format", "json"];
    all.extend_from_slice(args);
    all.push(DEMO);
    let out = common::telltale(&all, None, Duration::from_secs(60));
    let v = serde_json::from_slice(&out.stdout).unwrap_or(serde_json::Value::Null);
    (
        out.status.code().unwrap_or(-1),
        v,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn beacon(report: &serde_json::Value) -> &serde_json::Value {
    report["flows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| {
            f["names"]
                .as_array()
                .is_some_and(|n| n.iter().any(|n| n["name"] == "beacon.tracksight.example"))
        })
        .expect("the beacon's flow")
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p.to_str().unwrap().to_string()
}

#[test]
fn the_owners_layer_explains_their_own_host_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let mine = write(dir.path(), "mine.toml", MINE);

    let (_, vendor_only, err) = audit(&["--rules", "plex"]);
    let v = &beacon(&vendor_only)["verdict"];
    assert_eq!(
        (v["kind"].as_str(), v["class"].as_str()),
        (Some("flagged"), Some("third_party")),
        "{err}"
    );

    let (code, layered, err) = audit(&["--rules", "plex", "--rules", &mine]);
    assert!(matches!(code, 0 | 1), "{err}");
    let v = &beacon(&layered)["verdict"];
    assert_eq!(v["kind"], "declared", "{v}");
    assert_eq!(v["rule"], "my_beacon");
    assert!(
        v["reason"]
            .as_str()
            .unwrap()
            .contains(&format!("declared in {mine}")),
        "{v}"
    );
    // the vendor's verdicts stand: telemetry is still flagged
    let flagged = layered["flows"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["verdict"]["rule"] == "metrics")
        .count();
    assert!(flagged >= 1);
    // the report lists both files with their digests, and each rule's file
    let layers = layered["rules"]["layers"].as_array().unwrap();
    assert_eq!(layers.len(), 2);
    assert_eq!(layers[0]["path"], "builtin:plex");
    assert_eq!(layers[1]["path"], mine.as_str());
    assert_eq!(layers[1]["sha256"].as_str().unwrap().len(), 64);
    let rule = layered["rules"]["rules"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == "my_beacon")
        .unwrap();
    assert_eq!(rule["file"], mine.as_str());
    assert_eq!(rule["flows"], 1);

    // the same through an include, in a copy of the vendor's file
    let vendor = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/rules/plex.toml"))
        .unwrap()
        .replacen("schema = 1", "schema = 1\ninclude = [\"mine.toml\"]", 1);
    let with_include = write(dir.path(), "vendor.toml", &vendor);
    let (_, included, err) = audit(&["--rules", &with_include]);
    let v = &beacon(&included)["verdict"];
    assert_eq!(v["rule"], "my_beacon", "{err}");
    assert_eq!(included["rules"]["layers"].as_array().unwrap().len(), 2);
}

#[test]
fn layers_that_cannot_be_used_say_why() {
    let dir = tempfile::tempdir().unwrap();
    let mine = write(dir.path(), "mine.toml", MINE);
    // an owner's file alone names no server
    let (code, _, err) = audit(&["--rules", &mine]);
    assert_eq!(code, 2);
    assert!(
        err.contains("names no server") && err.contains("--rules plex --rules"),
        "{err}"
    );
    // an id the vendor already uses
    let clash = write(
        dir.path(),
        "clash.toml",
        &MINE.replace("my_beacon", "metrics"),
    );
    let (code, _, err) = audit(&["--rules", "plex", "--rules", &clash]);
    assert_eq!(code, 2);
    assert!(
        err.contains("`metrics` is already declared by builtin:plex"),
        "{err}"
    );
    // an include that is not there
    let broken = write(
        dir.path(),
        "broken.toml",
        &MINE.replacen("schema = 1", "schema = 1\ninclude = [\"gone.toml\"]", 1),
    );
    let (code, _, err) = audit(&["--rules", "plex", "--rules", &broken]);
    assert_eq!(code, 2);
    assert!(
        err.contains("cannot include `gone.toml`") && err.contains("broken.toml:2"),
        "{err}"
    );
    // includes that loop are read once each
    let a = write(
        dir.path(),
        "a.toml",
        &MINE.replacen("schema = 1", "schema = 1\ninclude = [\"b.toml\"]", 1),
    );
    write(dir.path(), "b.toml", "schema = 1\ninclude = [\"a.toml\"]\n");
    let (code, report, err) = audit(&["--rules", "plex", "--rules", &a]);
    assert!(matches!(code, 0 | 1), "{err}");
    assert_eq!(report["rules"]["layers"].as_array().unwrap().len(), 3);
}

#[test]
fn rules_check_names_the_files_of_a_rule_shadowed_across_layers() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "mine.toml",
        "schema = 1\n\n[[exception]]\nid = \"my_metrics\"\ncategory = \"telemetry\"\nsource = \"me\"\nhosts = [\"metrics.plex.tv\"]\n",
    );
    let vendor = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/rules/plex.toml"))
        .unwrap()
        .replacen("schema = 1", "schema = 1\ninclude = [\"mine.toml\"]", 1);
    let path = write(dir.path(), "vendor.toml", &vendor);
    let out = common::telltale(&["rules", "check", &path], None, Duration::from_secs(60));
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .find(|l| l.contains("rule my_metrics: shadowed by rule metrics"))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(
        line.contains(&format!(
            "this rule is in {}",
            dir.path().join("mine.toml").display()
        )),
        "{line}"
    );
    assert!(line.contains(&format!("that one in {path}")), "{line}");
}
