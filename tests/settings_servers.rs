//! Jellyfin's and Emby's settings as the servers write them: Jellyfin's network settings in the network.xml
//! beside its system.xml (read with it, whichever of the two is named; missing, malformed or the wrong file is
//! said, never guessed at), and Emby's usage reporting deciding the consent, with its default when absent.

// Test helpers: a failed assumption here is a failed test (clippy allows these in #[test]
// functions, not in the helpers they call).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

fn fixture(dir: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/settings")
        .join(dir)
}

fn demo() -> &'static str {
    concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/demo.pcapng")
}

/// `telltale audit --format json --rules RULES --prefs PREFS demo`: exit code, report, stderr.
fn audit(rules: &str, prefs: &Path) -> (i32, serde_json::Value, String) {
    let prefs = prefs.to_str().unwrap();
    let out = common::telltale(
        &[
            "audit",
            "--format",
            "json",
            "--rules",
            rules,
            "--prefs",
            prefs,
            demo(),
        ],
        None,
        Duration::from_secs(60),
    );
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let v = serde_json::from_str(&stdout).unwrap_or(serde_json::Value::Null);
    (out.status.code().unwrap_or(-1), v, stderr)
}

/// `telltale prefs --rules RULES PATH`: stdout and stderr.
fn prefs(rules: &str, path: &Path) -> (String, String) {
    let out = common::telltale(
        &["prefs", "--rules", rules, path.to_str().unwrap()],
        None,
        Duration::from_secs(30),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn warnings(r: &serde_json::Value) -> Vec<String> {
    r["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w.as_str().unwrap().to_string())
        .collect()
}

/// The `telltale prefs` line for one rule.
fn rule_line(text: &str, rule: &str) -> String {
    text.lines()
        .find(|l| l.split_whitespace().next() == Some(rule))
        .unwrap_or_else(|| panic!("no line for {rule} in {text}"))
        .to_string()
}

#[test]
fn jellyfin_reads_network_xml_beside_system_xml() {
    let dir = fixture("jellyfin-10.10");
    let system = dir.join("system.xml");
    let network = dir.join("network.xml");
    let (code, r, err) = audit("jellyfin", &system);
    assert_ne!(code, 2, "{err}");
    let s = &r["settings"];
    assert_eq!(s["path"], system.display().to_string());
    assert_eq!(s["format"], "system.xml + network.xml");
    // from system.xml
    assert_eq!(s["values"]["QuickConnectAvailable"], "true");
    // from network.xml: only the settings the rules use, nothing else of the file
    assert_eq!(s["values"]["EnableRemoteAccess"], "false");
    assert_eq!(s["values"]["AutoDiscovery"], "false");
    assert_eq!(s["values"]["EnableUPnP"], "false");
    assert_eq!(s["values"]["PublicHttpPort"], "8096");
    assert!(s["values"].get("InternalHttpPort").is_none());
    assert!(s["values"].get("VirtualInterfaceNames").is_none());
    assert!(warnings(&r).is_empty(), "{:?}", warnings(&r));
    // Jellyfin has no telemetry to opt out of, and the opt-out says so, naming both files
    assert_eq!(r["opt_out"]["state"], "on");
    let source = r["opt_out"]["source"].as_str().unwrap();
    assert!(
        source.contains("Jellyfin has no data-sharing setting")
            && source.contains(&format!("{} and {}", system.display(), network.display())),
        "{source}"
    );

    // the settings line of each report names both files
    let out_dir = tempfile::tempdir().unwrap();
    let out = common::telltale(
        &[
            "audit",
            "--rules",
            "jellyfin",
            "--prefs",
            system.to_str().unwrap(),
            "--format",
            "md,html",
            "-o",
            out_dir.path().to_str().unwrap(),
            demo(),
        ],
        None,
        Duration::from_secs(60),
    );
    assert_ne!(out.status.code(), Some(2));
    let mut seen = 0;
    for f in std::fs::read_dir(out_dir.path()).unwrap() {
        let path = f.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        let line = text
            .lines()
            .find(|l| l.contains("Server settings"))
            .unwrap_or_else(|| panic!("{}: no settings line", path.display()));
        assert!(
            line.contains(&system.display().to_string())
                && line.contains("(system.xml)")
                && line.contains(&network.display().to_string())
                && line.contains("(network.xml)"),
            "{}: {line}",
            path.display()
        );
        seen += 1;
    }
    assert_eq!(seen, 2);

    // the network settings decide the remote-access exception
    let (text, err) = prefs("jellyfin", &system);
    assert!(err.is_empty(), "{err}");
    assert!(
        text.starts_with(&format!(
            "settings: {} (system.xml) and {} (network.xml)\n",
            system.display(),
            network.display()
        )),
        "{text}"
    );
    let line = rule_line(&text, "remote_access");
    assert!(
        line.contains("NOT in force") && line.contains("EnableRemoteAccess=false"),
        "{line}"
    );

    // naming network.xml reads the system.xml beside it: the same settings
    let (_, from_network, _) = audit("jellyfin", &network);
    assert_eq!(
        from_network["settings"]["format"],
        "network.xml + system.xml"
    );
    assert_eq!(from_network["settings"]["values"], r["settings"]["values"]);
}

#[test]
fn network_xml_wins_over_the_network_settings_an_older_system_xml_kept() {
    // Jellyfin 10.7 kept the network settings in system.xml; 10.8 moved them to network.xml, which is the
    // one the server reads
    let system = fixture("jellyfin-10.7").join("system.xml");
    let (_, r, _) = audit("jellyfin", &system);
    let v = &r["settings"]["values"];
    assert_eq!(v["EnableRemoteAccess"], "false");
    assert_eq!(v["EnableUPnP"], "false");
    // what only system.xml holds stays
    assert_eq!(v["QuickConnectAvailable"], "false");
    assert_eq!(v["PublicHttpsPort"], "8920");
}

#[test]
fn without_network_xml_the_network_settings_take_jellyfins_defaults_and_say_so() {
    let system = fixture("jellyfin-no-network").join("system.xml");
    let (code, r, err) = audit("jellyfin", &system);
    assert_ne!(code, 2, "{err}");
    assert_eq!(r["settings"]["format"], "system.xml");
    assert!(r["settings"]["values"].get("EnableRemoteAccess").is_none());
    assert!(warnings(&r).is_empty(), "{:?}", warnings(&r));
    let (text, err) = prefs("jellyfin", &system);
    assert!(err.is_empty(), "{err}");
    let line = rule_line(&text, "remote_access");
    assert!(
        !line.contains("NOT")
            && line.contains(
                "EnableRemoteAccess=true (not in the settings file: the server's default)"
            ),
        "{line}"
    );
}

#[test]
fn a_broken_network_xml_is_a_warning_and_the_defaults_apply() {
    let dir = fixture("jellyfin-broken-network");
    let system = dir.join("system.xml");
    let network = dir.join("network.xml");
    let (code, r, err) = audit("jellyfin", &system);
    assert_ne!(code, 2, "a broken network.xml is not a usage error: {err}");
    assert_eq!(r["settings"]["format"], "system.xml");
    assert!(r["settings"]["values"].get("EnableRemoteAccess").is_none());
    let w = warnings(&r);
    assert_eq!(w.len(), 1, "{w:?}");
    assert!(
        w[0].starts_with(&format!("{}:16:", network.display()))
            && w[0].contains("malformed network.xml")
            && w[0].contains("take Jellyfin's defaults"),
        "{}",
        w[0]
    );
    // `telltale prefs` says it on stderr, and judges by the defaults
    let (text, err) = prefs("jellyfin", &system);
    assert!(
        err.starts_with("warning: ") && err.contains("malformed network.xml"),
        "{err}"
    );
    assert!(!rule_line(&text, "remote_access").contains("NOT"), "{text}");

    // a network.xml that is some other file is said too
    let tmp = tempfile::tempdir().unwrap();
    let system = tmp.path().join("system.xml");
    std::fs::copy(dir.join("system.xml"), &system).unwrap();
    std::fs::copy(dir.join("system.xml"), tmp.path().join("network.xml")).unwrap();
    let (_, r, _) = audit("jellyfin", &system);
    let w = warnings(&r);
    assert_eq!(w.len(), 1, "{w:?}");
    assert!(
        w[0].contains("network.xml: holds a system.xml, where a network.xml belongs"),
        "{}",
        w[0]
    );
    assert_eq!(r["settings"]["format"], "system.xml");
}

/// An Emby system.xml with `EnableAnonymousUsageReporting` set to `value` (`None`: left out).
fn emby_with(dir: &Path, name: &str, value: Option<&str>) -> PathBuf {
    let text = std::fs::read_to_string(fixture("emby").join("system.xml")).unwrap();
    let line =
        "  <EnableAnonymousUsageReporting>false</EnableAnonymousUsageReporting>\n".to_string();
    assert!(text.contains(&line));
    let replaced = match value {
        Some(v) => {
            format!("  <EnableAnonymousUsageReporting>{v}</EnableAnonymousUsageReporting>\n")
        }
        None => String::new(),
    };
    let path = dir.join(name);
    std::fs::write(&path, text.replace(&line, &replaced)).unwrap();
    path
}

#[test]
fn emby_usage_reporting_decides_the_consent() {
    let dir = tempfile::tempdir().unwrap();

    // false: opted out, naming the setting
    let (_, r, _) = audit("emby", &fixture("emby").join("system.xml"));
    assert_eq!(r["opt_out"]["state"], "on");
    let source = r["opt_out"]["source"].as_str().unwrap();
    assert!(
        source.starts_with("settings: EnableAnonymousUsageReporting=false in "),
        "{source}"
    );
    assert_eq!(
        r["settings"]["values"]["EnableAnonymousUsageReporting"],
        "false"
    );

    // true: sharing on
    let (_, r, _) = audit("emby", &emby_with(dir.path(), "true.xml", Some("true")));
    assert_eq!(r["opt_out"]["state"], "off");
    assert!(
        r["opt_out"]["source"]
            .as_str()
            .unwrap()
            .starts_with("settings: EnableAnonymousUsageReporting=true in "),
        "{}",
        r["opt_out"]
    );

    // absent: Emby's default, which is on
    let (_, r, _) = audit("emby", &emby_with(dir.path(), "absent.xml", None));
    assert_eq!(r["opt_out"]["state"], "off");
    let source = r["opt_out"]["source"].as_str().unwrap();
    assert!(
        source.contains("EnableAnonymousUsageReporting is absent: Emby's default, sharing on"),
        "{source}"
    );

    // `1` is true to .NET's XML reader, and so to telltale
    let (_, r, _) = audit("emby", &emby_with(dir.path(), "one.xml", Some("1")));
    assert_eq!(r["opt_out"]["state"], "off");
    assert_eq!(
        r["settings"]["values"]["EnableAnonymousUsageReporting"],
        "true"
    );

    // a value the server cannot read decides nothing, and the report says so
    let (_, r, _) = audit("emby", &emby_with(dir.path(), "odd.xml", Some("sometimes")));
    assert_eq!(r["opt_out"]["state"], "on");
    let source = r["opt_out"]["source"].as_str().unwrap();
    assert!(
        source.contains("settings do not say")
            && source.contains("EnableAnonymousUsageReporting=sometimes"),
        "{source}"
    );

    // `telltale prefs` says the same
    let (text, _) = prefs("emby", &emby_with(dir.path(), "absent2.xml", None));
    assert!(
        text.contains("opt-out: off: the owner has not opted out of data sharing (EnableAnonymousUsageReporting is absent: Emby's default, sharing on)"),
        "{text}"
    );
}

#[test]
fn emby_reads_no_network_xml() {
    let dir = tempfile::tempdir().unwrap();
    let system = emby_with(dir.path(), "system.xml", Some("false"));
    std::fs::copy(
        fixture("jellyfin-10.10").join("network.xml"),
        dir.path().join("network.xml"),
    )
    .unwrap();
    let (_, r, _) = audit("emby", &system);
    assert_eq!(r["settings"]["format"], "system.xml");
    assert_eq!(r["settings"]["values"]["EnableRemoteAccess"], "true");
    assert!(warnings(&r).is_empty(), "{:?}", warnings(&r));
}
