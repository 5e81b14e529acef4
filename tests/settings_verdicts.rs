//! The server's own settings change exactly the verdicts they should, with reasons that
//! name the setting and its value; the token's value appears in no output, report or log.
//! Each Preferences.xml is written here, the way Plex writes it: one element, many attributes.

// Test helpers: a failed assumption here is a failed test (clippy allows these in #[test]
// functions, not in the helpers they call).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use std::path::Path;
use std::time::Duration;

const TOKEN: &str = "Zq9-SECRET-TOKEN-4711-xYz";

/// A Preferences.xml with the demo's choices, changed by `overrides` (an empty value drops the attribute).
fn prefs(dir: &Path, name: &str, overrides: &[(&str, &str)], bom: bool) -> String {
    let mut attrs: Vec<(String, String)> = [
        ("MachineIdentifier", "5f0c7a1e-9d2b-4c1e-8a3f-2b6d9e4c7a10"),
        ("PlexOnlineToken", TOKEN),
        ("collectUsageData", "0"),
        ("sendCrashReports", "0"),
        ("RelayEnabled", "1"),
        ("PublishServerOnPlexOnlineKey", "1"),
        ("CinemaTrailersFromTheater", "1"),
        ("ButlerTaskUpdateServer", "1"),
        ("PubSubServer", "192.0.2.11"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    for (k, v) in overrides {
        attrs.retain(|(a, _)| a != k);
        if !v.is_empty() {
            attrs.push((k.to_string(), v.to_string()));
        }
    }
    let body: Vec<String> = attrs.iter().map(|(k, v)| format!("{k}=\"{v}\"")).collect();
    let mut text = format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<Preferences {}/>\n",
        body.join(" ")
    );
    if bom {
        text.insert(0, '\u{feff}');
    }
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_string()
}

fn audit(prefs: &str, extra: &[&str]) -> (i32, serde_json::Value, String) {
    let demo = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/demo.pcapng");
    let mut args = vec!["audit", "--format", "json", "--prefs", prefs];
    args.extend_from_slice(extra);
    args.push(demo);
    let out = common::telltale(&args, None, Duration::from_secs(60));
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let v = serde_json::from_str(&stdout).unwrap_or(serde_json::Value::Null);
    (out.status.code().unwrap_or(-1), v, stderr)
}

fn flow<'a>(r: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    r["flows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| {
            f["names"]
                .as_array()
                .unwrap()
                .iter()
                .any(|n| n["name"] == name && n["source"] != "dns_answer")
        })
        .unwrap_or_else(|| panic!("no flow named {name}"))
}

fn verdict(r: &serde_json::Value, name: &str) -> (String, String) {
    let v = &flow(r, name)["verdict"];
    (
        v["kind"].as_str().unwrap().to_string(),
        v["reason"].as_str().unwrap().to_string(),
    )
}

#[test]
fn the_opt_out_comes_from_the_settings_and_says_which_one() {
    let dir = tempfile::tempdir().unwrap();
    let out = prefs(dir.path(), "out.xml", &[], false);
    let (_, r, _) = audit(&out, &[]);
    assert_eq!(r["opt_out"]["state"], "on");
    assert!(
        r["opt_out"]["source"]
            .as_str()
            .unwrap()
            .contains("collectUsageData=0"),
        "{}",
        r["opt_out"]
    );
    assert_eq!(verdict(&r, "metrics.plex.tv").0, "flagged");

    let inn = prefs(dir.path(), "in.xml", &[("collectUsageData", "1")], false);
    let (_, r, _) = audit(&inn, &[]);
    assert_eq!(r["opt_out"]["state"], "off");
    assert!(
        r["opt_out"]["source"]
            .as_str()
            .unwrap()
            .contains("collectUsageData=1")
    );
    assert_eq!(verdict(&r, "metrics.plex.tv").0, "allowed");
    assert_eq!(verdict(&r, "analytics.plex.tv").0, "allowed");

    // the command line still overrides
    let (_, r, _) = audit(&out, &["--opt-out", "off"]);
    assert_eq!(r["opt_out"]["state"], "off");
}

#[test]
fn an_absent_collect_usage_data_is_plexs_default_sharing_on() {
    let dir = tempfile::tempdir().unwrap();
    // Plex writes collectUsageData only once the owner sets it: an untouched install has none
    let silent = prefs(dir.path(), "silent.xml", &[("collectUsageData", "")], false);
    let (_, r, err) = audit(&silent, &[]);
    assert_eq!(r["opt_out"]["state"], "off", "{err}");
    let source = r["opt_out"]["source"].as_str().unwrap();
    assert!(
        source.contains("collectUsageData is absent: Plex's default, sharing on")
            && source.contains("silent.xml"),
        "{source}"
    );
    let (kind, why) = verdict(&r, "metrics.plex.tv");
    assert_eq!(kind, "allowed", "{why}");
    assert!(why.contains("has not opted out"), "{why}");

    // the Markdown report says it in the same words
    let demo = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/demo.pcapng");
    let out = common::telltale(
        &["audit", "--format", "md", "--prefs", &silent, demo],
        None,
        Duration::from_secs(60),
    );
    let md = String::from_utf8_lossy(&out.stdout);
    assert!(
        md.lines().any(|l| l.starts_with("- Opt-out: **off**")
            && l.contains("collectUsageData is absent: Plex's default, sharing on")),
        "{md}"
    );

    // "what if I had opted out": --opt-out on still answers it, and the endpoint is flagged again
    let (_, r, _) = audit(&silent, &["--opt-out", "on"]);
    assert_eq!(r["opt_out"]["state"], "on");
    assert_eq!(r["opt_out"]["source"], "command line (--opt-out on)");
    assert_eq!(verdict(&r, "metrics.plex.tv").0, "flagged");

    // a value Plex never writes decides nothing: telltale says so and takes the strictest reading
    let odd = prefs(
        dir.path(),
        "odd.xml",
        &[("collectUsageData", "maybe")],
        false,
    );
    let (_, r, _) = audit(&odd, &[]);
    assert_eq!(r["opt_out"]["state"], "on");
    let source = r["opt_out"]["source"].as_str().unwrap();
    assert!(
        source.contains("settings do not say")
            && source.contains("collectUsageData=maybe")
            && source.contains("strictest"),
        "{source}"
    );

    // `telltale prefs` says the same
    let out = common::telltale(&["prefs", &silent], None, Duration::from_secs(30));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("opt-out: off: the owner has not opted out of data sharing (collectUsageData is absent: Plex's default, sharing on)"),
        "{text}"
    );
}

/// The `telltale prefs` line for one rule: `  relay   in force (...)`.
fn prefs_line(text: &str, rule: &str) -> String {
    text.lines()
        .find(|l| l.split_whitespace().next() == Some(rule))
        .unwrap_or_else(|| panic!("no line for {rule} in {text}"))
        .to_string()
}

#[test]
fn every_plex_default_telltale_relies_on_is_used_when_the_setting_is_absent() {
    let dir = tempfile::tempdir().unwrap();
    let default = |name: &str, value: &str| {
        format!("{name}={value} (not in the settings file: the server's default)")
    };

    // sendCrashReports: on by default, so the crash upload is the owner's choice
    let p = prefs(dir.path(), "crash.xml", &[("sendCrashReports", "")], false);
    let (_, r, _) = audit(&p, &[]);
    let (kind, why) = verdict(&r, "crashreport.plexapp.com");
    assert_eq!(kind, "declared", "{why}");
    assert!(why.contains(&default("sendCrashReports", "1")), "{why}");

    // ButlerTaskUpdateServer: "askme" by default; the update check is in force either way
    let p = prefs(
        dir.path(),
        "update.xml",
        &[("ButlerTaskUpdateServer", "")],
        false,
    );
    let (_, r, _) = audit(&p, &[]);
    let (kind, why) = verdict(&r, "plex.tv");
    assert_eq!(kind, "declared", "{why}");
    assert!(
        why.contains(&default("ButlerTaskUpdateServer", "askme")),
        "{why}"
    );

    // PublishServerOnPlexOnlineKey: off by default, so the remote client's stream is not declared
    let p = prefs(
        dir.path(),
        "publish.xml",
        &[("PublishServerOnPlexOnlineKey", "")],
        false,
    );
    let (_, r, _) = audit(&p, &[]);
    let remote = r["flows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["locality"] == "inbound")
        .unwrap();
    assert_eq!(remote["verdict"]["kind"], "flagged");
    let why = remote["verdict"]["reason"].as_str().unwrap();
    assert!(
        why.contains(&default("PublishServerOnPlexOnlineKey", "0")),
        "{why}"
    );

    // CinemaTrailersFromLibrary: on by default, so turning the theater trailers off leaves trailers on
    let p = prefs(
        dir.path(),
        "trailers.xml",
        &[("CinemaTrailersFromTheater", "0")],
        false,
    );
    let (_, r, _) = audit(&p, &[]);
    let (kind, why) = verdict(&r, "video.internetvideoarchive.net");
    assert_eq!(kind, "declared", "{why}");
    assert!(
        why.contains(&default("CinemaTrailersFromLibrary", "1")),
        "{why}"
    );

    // RelayEnabled: on by default (read through `telltale prefs`, which lists every rule's conditions)
    let p = prefs(dir.path(), "relay.xml", &[("RelayEnabled", "")], false);
    let out = common::telltale(&["prefs", &p], None, Duration::from_secs(30));
    let text = String::from_utf8_lossy(&out.stdout);
    let line = prefs_line(&text, "relay");
    assert!(
        !line.contains("NOT") && line.contains(&default("RelayEnabled", "1")),
        "{line}"
    );
    // ... and off when the owner turned it off
    let p = prefs(dir.path(), "relay-off.xml", &[("RelayEnabled", "0")], false);
    let out = common::telltale(&["prefs", &p], None, Duration::from_secs(30));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        prefs_line(&text, "relay").contains("NOT in force"),
        "{text}"
    );
}

#[test]
fn each_setting_changes_exactly_its_verdicts() {
    let dir = tempfile::tempdir().unwrap();
    let (_, base, _) = audit(&prefs(dir.path(), "base.xml", &[], false), &[]);
    let kinds = |r: &serde_json::Value| -> Vec<(u64, String)> {
        r["flows"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| (f["id"].as_u64().unwrap(), f["verdict"]["kind"].to_string()))
            .collect()
    };
    // the flows whose verdict kind differs from the base
    let changed = |r: &serde_json::Value| -> Vec<u64> {
        kinds(r)
            .iter()
            .zip(kinds(&base))
            .filter(|(a, b)| a.1 != b.1)
            .map(|(a, _)| a.0)
            .collect()
    };
    let id = |r: &serde_json::Value, name: &str| flow(r, name)["id"].as_u64().unwrap();

    // crash reports: off flags the upload, naming the setting; on makes it the owner's choice
    let (k, why) = verdict(&base, "crashreport.plexapp.com");
    assert_eq!(k, "flagged");
    assert!(why.contains("sendCrashReports=0"), "{why}");
    let (_, on, _) = audit(
        &prefs(dir.path(), "crash.xml", &[("sendCrashReports", "1")], false),
        &[],
    );
    assert_eq!(changed(&on), [id(&on, "crashreport.plexapp.com")]);
    let (k, why) = verdict(&on, "crashreport.plexapp.com");
    assert_eq!(k, "declared");
    assert!(why.contains("sendCrashReports=1"), "{why}");

    // relay off: plex.tv no longer counts relay among the exceptions it may be serving
    let (_, relay_off, _) = audit(
        &prefs(dir.path(), "relay.xml", &[("RelayEnabled", "0")], false),
        &[],
    );
    assert!(changed(&relay_off).is_empty());
    assert_eq!(
        flow(&base, "plex.tv")["verdict"]["also"],
        serde_json::json!(["remote_discovery", "plex_pass", "relay"])
    );
    assert_eq!(
        flow(&relay_off, "plex.tv")["verdict"]["also"],
        serde_json::json!(["remote_discovery", "plex_pass"])
    );

    // signed out: the cloud exceptions that need an account are not in force
    let (_, out, _) = audit(
        &prefs(
            dir.path(),
            "signed-out.xml",
            &[("PlexOnlineToken", "")],
            false,
        ),
        &[],
    );
    let mut expect = vec![id(&out, "pubsub.plex.tv"), id(&out, "sonos.plex.tv")];
    expect.sort_unstable();
    assert_eq!(changed(&out), expect);
    let (k, why) = verdict(&out, "sonos.plex.tv");
    assert_eq!(k, "flagged");
    assert!(
        why.contains("integrations needs signed_in") && why.contains("signed out"),
        "{why}"
    );
    assert_eq!(
        verdict(&out, "plex.tv").0,
        "declared",
        "update checks need no account"
    );

    // trailers off (every kind: library trailers are on by default): the licensor's hosts are unexplained
    let (_, no_trailers, _) = audit(
        &prefs(
            dir.path(),
            "trailers.xml",
            &[
                ("CinemaTrailersFromTheater", "0"),
                ("CinemaTrailersFromLibrary", "0"),
            ],
            false,
        ),
        &[],
    );
    assert_eq!(changed(&no_trailers).len(), 2);
    let (k, why) = verdict(&no_trailers, "video.internetvideoarchive.net");
    assert_eq!(k, "flagged");
    assert!(why.contains("CinemaTrailersFromTheater=0"), "{why}");

    // remote access off: the remote client's stream is not declared
    let (_, closed, _) = audit(
        &prefs(
            dir.path(),
            "closed.xml",
            &[("PublishServerOnPlexOnlineKey", "0")],
            false,
        ),
        &[],
    );
    assert_eq!(changed(&closed).len(), 1);
    let remote = closed["flows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["locality"] == "inbound")
        .unwrap();
    assert!(
        remote["verdict"]["reason"]
            .as_str()
            .unwrap()
            .contains("PublishServerOnPlexOnlineKey=0")
    );
}

#[test]
fn a_bom_changes_nothing_and_a_broken_file_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let (_, plain, _) = audit(&prefs(dir.path(), "plain.xml", &[], false), &[]);
    let (_, bom, _) = audit(&prefs(dir.path(), "bom.xml", &[], true), &[]);
    assert_eq!(plain["flows"], bom["flows"]);
    assert_eq!(plain["settings"]["values"], bom["settings"]["values"]);

    let broken = dir.path().join("broken.xml");
    std::fs::write(
        &broken,
        format!("<Preferences PlexOnlineToken=\"{TOKEN}\" RelayEnabled=\"1/>"),
    )
    .unwrap();
    let (code, _, err) = audit(broken.to_str().unwrap(), &[]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("--prefs") && err.contains("broken.xml"),
        "{err}"
    );
    assert!(
        !err.contains(TOKEN),
        "the token leaked into the error: {err}"
    );
}

#[test]
fn the_token_appears_in_no_output_report_or_log() {
    let dir = tempfile::tempdir().unwrap();
    let p = prefs(dir.path(), "Preferences.xml", &[], false);
    let demo = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/demo.pcapng");
    let out_dir = dir.path().join("out");
    let runs: Vec<Vec<&str>> = vec![
        vec![
            "audit",
            "--prefs",
            &p,
            "--format",
            "json,md",
            "-o",
            out_dir.to_str().unwrap(),
            demo,
        ],
        vec!["audit", "--prefs", &p, demo],
        vec!["prefs", &p],
        vec!["demo", "--print", "--prefs", &p],
    ];
    for args in runs {
        let out = common::telltale(&args, None, Duration::from_secs(60));
        for stream in [&out.stdout, &out.stderr] {
            assert!(
                !String::from_utf8_lossy(stream).contains(TOKEN),
                "{args:?} printed the token"
            );
        }
    }
    for f in std::fs::read_dir(&out_dir).unwrap() {
        let text = std::fs::read_to_string(f.unwrap().path()).unwrap();
        assert!(!text.contains(TOKEN));
        assert!(
            text.contains("signed"),
            "the report says whether the server is signed in"
        );
    }
}

#[test]
fn prefs_prints_the_consent_and_the_exceptions_in_force() {
    let dir = tempfile::tempdir().unwrap();
    let p = prefs(
        dir.path(),
        "Preferences.xml",
        &[("RelayEnabled", "0")],
        false,
    );
    let out = common::telltale(&["prefs", &p], None, Duration::from_secs(30));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success());
    assert!(text.contains("signed in: yes"), "{text}");
    assert!(
        text.contains("opt-out: on: the owner has opted out of data sharing (collectUsageData=0)"),
        "{text}"
    );
    assert!(
        text.lines().any(|l| l.trim_start().starts_with("relay")
            && l.contains("NOT in force")
            && l.contains("RelayEnabled=0")),
        "{text}"
    );
    assert!(
        text.lines()
            .any(|l| l.trim_start().starts_with("cloud_sync") && l.contains("in force")),
        "{text}"
    );
}

#[test]
fn pubsub_server_names_the_pubsub_flow_by_address() {
    let dir = tempfile::tempdir().unwrap();
    // point the setting at the licensor's address: its flows become cloud_sync's by address
    let p = prefs(
        dir.path(),
        "pubsub.xml",
        &[("PubSubServer", "198.51.100.77")],
        false,
    );
    let (_, r, _) = audit(&p, &[]);
    let gdm = r["flows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["server"]["address"] == "198.51.100.77")
        .unwrap();
    // a local-only protocol still outranks it: GDM to that address stays flagged
    assert_eq!(gdm["verdict"]["rule"], "gdm");
    let rules = &r["rules"]["rules"];
    let cloud = rules
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["id"] == "cloud_sync")
        .unwrap();
    assert!(
        cloud["justification"]
            .as_str()
            .unwrap()
            .contains("PubSubServer=198.51.100.77"),
        "{cloud}"
    );
}

#[test]
fn webhooks_on_say_an_unexplained_flow_may_be_the_owners_in_every_format() {
    let dir = tempfile::tempdir().unwrap();
    let note = |r: &serde_json::Value| -> Vec<String> {
        r["warnings"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|w| w.as_str())
            .filter(|w| w.starts_with("Webhooks are on"))
            .map(str::to_string)
            .collect()
    };

    // absent: Plex's default is on
    let absent = prefs(dir.path(), "absent.xml", &[("WebHooksEnabled", "")], false);
    let (_, r, _) = audit(&absent, &[]);
    let w = note(&r);
    assert_eq!(w.len(), 1, "{}", r["warnings"]);
    assert!(
        w[0].contains("(WebHooksEnabled is absent: Plex's default, on)")
            && w[0].contains("Plex account")
            && w[0].contains("cannot know")
            && w[0].contains("--rules plex --rules ./mine.toml"),
        "{}",
        w[0]
    );

    // set on: the note names the setting as written
    let on = prefs(dir.path(), "on.xml", &[("WebHooksEnabled", "1")], false);
    let (_, r, _) = audit(&on, &[]);
    let w = note(&r);
    assert_eq!(w.len(), 1);
    assert!(w[0].contains("(WebHooksEnabled=1)"), "{}", w[0]);

    // turned off: no note
    let off = prefs(dir.path(), "off.xml", &[("WebHooksEnabled", "0")], false);
    let (_, r, _) = audit(&off, &[]);
    assert!(note(&r).is_empty(), "{}", r["warnings"]);

    // Markdown and HTML say it too; `telltale prefs` as well
    let demo = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/demo.pcapng");
    let out_dir = dir.path().join("out");
    let out = common::telltale(
        &[
            "audit",
            "--prefs",
            &absent,
            "--format",
            "md,html",
            "-o",
            out_dir.to_str().unwrap(),
            demo,
        ],
        None,
        Duration::from_secs(60),
    );
    assert!(
        out.status.code().is_some(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut seen = 0;
    for f in std::fs::read_dir(&out_dir).unwrap() {
        let path = f.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        if path.extension().is_some_and(|e| e == "md" || e == "html") {
            assert!(
                text.contains("Webhooks are on")
                    && text.contains("--rules plex --rules ./mine.toml"),
                "{}",
                path.display()
            );
            seen += 1;
        }
    }
    assert_eq!(seen, 2);
    let out = common::telltale(&["prefs", &absent], None, Duration::from_secs(30));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("note: Webhooks are on"), "{text}");
}
