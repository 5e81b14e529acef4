//! A live audit at full speed: a 100,000-packet media-server capture (the bench generator,
//! `demo::bulk::server_mix`) replayed with `tcpreplay --topspeed` through a veth pair
//! between two network namespaces into `telltale audit -i`, by scripts/replay.sh, the
//! script `make bench` runs on the 1,000,000-packet capture.
//!
//! What must hold at any speed:
//! - telltale's own queue drops nothing (the capture thread waits for room; the kernel's
//!   buffer takes the burst meanwhile);
//! - every packet tcpreplay sent is accounted for, once: counted by telltale, or dropped
//!   by the kernel (libpcap's statistics) or by the veth pair, and nothing extra;
//! - the names are the capture's names: none that an offline audit of the same file does
//!   not find, and, when nothing was lost, all of them.
//!
//! Runs as root with iproute2 and tcpreplay (`make test` installs tcpreplay); skipped with
//! a message otherwise. The script removes its namespaces whatever happens.

// Test helpers: a failed assumption here is a failed test (clippy allows these in #[test]
// functions, not in the helpers they call).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_telltale");
const PACKETS: u64 = 100_000;
const FLOWS: u32 = 500;
const SEED: u64 = 0x7e57_0000_0000_0008;

fn can_run() -> bool {
    let root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0");
    let works = |tool: &str, arg: &str| {
        Command::new(tool)
            .arg(arg)
            .output()
            .is_ok_and(|o| o.status.success())
    };
    let ip = works("ip", "-V");
    let tcpreplay = works("tcpreplay", "--version");
    common::require(root, "root", common::ROOT_INSTALL)
        && common::require(
            ip,
            "iproute2",
            "apt-get install iproute2 (scripts/install-deps.sh)",
        )
        && common::require(
            tcpreplay,
            "tcpreplay",
            "apt-get install tcpreplay (scripts/install-deps.sh)",
        )
}

/// The number after `word` in the script's summary line.
fn number_after(line: &str, word: &str) -> u64 {
    let rest = line
        .split_once(word)
        .unwrap_or_else(|| panic!("no `{word}` in {line}"))
        .1;
    rest.trim_start()
        .split(|c: char| !c.is_ascii_digit())
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no number after `{word}` in {line}"))
}

/// The report's names, as (name, how it was learned).
fn names(report: &serde_json::Value) -> BTreeSet<(String, String)> {
    report["names"]
        .as_array()
        .expect("names[]")
        .iter()
        .map(|n| {
            (
                n["name"].as_str().unwrap().to_string(),
                n["source"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn read_json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn a_full_speed_replay_loses_nothing_in_telltales_queue() {
    if !can_run() {
        return;
    }
    let started = Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let capture = dir.path().join("server-100k.pcapng");
    let file = std::fs::File::create(&capture).unwrap();
    telltale_testkit::demo::bulk::server_mix(PACKETS, FLOWS, SEED, file).unwrap();

    // what an offline audit of the same file finds
    let offline_json = dir.path().join("offline.json");
    let offline = Command::new(BIN)
        .args([
            "audit",
            "--scope",
            "host",
            "--opt-out",
            "on",
            "--format",
            "json",
        ])
        .arg("-o")
        .arg(&offline_json)
        .arg(&capture)
        .output()
        .unwrap();
    assert!(
        matches!(offline.status.code(), Some(0 | 1)),
        "{}",
        String::from_utf8_lossy(&offline.stderr)
    );
    let offline = read_json(&offline_json);
    assert_eq!(offline["inputs"][0]["packets"], PACKETS);
    let offline_names = names(&offline);
    assert!(
        offline_names.contains(&("plex.tv".to_string(), "tls_sni".to_string())),
        "{offline_names:?}"
    );

    let live_json = dir.path().join("live.json");
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = Command::new("bash")
        .arg(root.join("scripts/replay.sh"))
        .arg(&capture)
        .arg("--report")
        .arg(&live_json)
        .env("TELLTALE", BIN)
        .env("REPLAY_LIMIT", "120")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "replay.sh failed ({:?}):\n{stdout}\n{stderr}",
        out.status
    );
    let line = stdout
        .lines()
        .find(|l| l.starts_with("replay "))
        .unwrap_or_else(|| panic!("no summary line:\n{stdout}\n{stderr}"));
    eprintln!("{line}");
    let sent = number_after(line, "tcpreplay sent");
    let veth = number_after(line, "veth");
    assert_eq!(sent, PACKETS, "tcpreplay sent every packet: {line}");

    let live = read_json(&live_json);
    let drops = &live["live"];
    let counted = live["inputs"][0]["packets"].as_u64().unwrap();
    let kernel = drops["dropped_by_kernel"].as_u64().unwrap();
    assert_eq!(drops["dropped_by_queue"], 0, "{drops}");
    assert_eq!(
        counted + kernel + veth,
        sent,
        "every packet sent is counted once, as seen or as dropped: {line}"
    );
    // the counters add up as in any report
    let c = &live["counters"];
    let parts: u64 = ["decoded", "malformed", "unsupported", "truncated"]
        .iter()
        .map(|k| c[k].as_u64().unwrap())
        .sum();
    assert_eq!(parts, counted, "{c}");

    let live_names = names(&live);
    let invented: Vec<_> = live_names.difference(&offline_names).collect();
    assert!(
        invented.is_empty(),
        "names offline did not find: {invented:?}"
    );
    if kernel + veth == 0 {
        assert_eq!(live_names, offline_names, "nothing was lost, so every name");
    } else {
        eprintln!(
            "note: {} packets were lost before telltale saw them; {} of {} names found",
            kernel + veth,
            live_names.len(),
            offline_names.len()
        );
        assert!(
            !live_names.is_empty(),
            "the first names arrive before any loss"
        );
    }
    assert!(
        started.elapsed() < Duration::from_secs(90),
        "the test took {:?}",
        started.elapsed()
    );
}
