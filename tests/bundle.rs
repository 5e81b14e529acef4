//! The audit bundle, as a user meets it: `--evidence` and `--format all` on the real binary,
//! the evidence opened in tshark and counted independently, `telltale verify` on a fresh,
//! a changed and an incomplete bundle, and safe writing (modes, `--force`, symlinks,
//! unwritable places).

// Test helpers: a failed assumption here is a failed test (clippy allows these in #[test]
// functions, not in the helpers they call).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::fs::{MetadataExt, symlink};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(60);
const BUNDLE: [&str; 6] = [
    "evidence.pcapng",
    "flows.csv",
    "manifest.json",
    "report.html",
    "report.json",
    "report.md",
];

fn demo_path() -> String {
    concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/demo.pcapng").to_string()
}

fn run(args: &[&str]) -> (i32, String, String) {
    let out = common::telltale(args, None, LIMIT);
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// tshark's output for `args`, or None (with a message) where tshark is absent.
fn tshark(args: &[&str]) -> Option<String> {
    match Command::new("tshark").args(args).output() {
        Ok(out) => {
            assert!(
                out.status.success(),
                "tshark {args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            Some(String::from_utf8_lossy(&out.stdout).into_owned())
        }
        Err(_) => {
            common::require(
                false,
                "tshark",
                "apt-get install tshark (scripts/install-deps.sh installs it)",
            );
            None
        }
    }
}

/// Every packet's comments, one line per packet (`frame.comment`, or `pkt_comment` in
/// Wireshark before 3.6).
fn comments(file: &Path) -> Option<Vec<String>> {
    let by = |field: &str| {
        Command::new("tshark")
            .args(["-r", s(file), "-T", "fields", "-e", field])
            .output()
    };
    let out = by("frame.comment").ok()?;
    let out = if out.status.success() {
        out
    } else {
        by("pkt_comment").ok()?
    };
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::to_string)
            .collect(),
    )
}

/// The flagged flows of the demo's JSON report: id → (packets, category, rule, DNS names).
struct Flagged {
    id: u64,
    packets: u64,
    category: String,
    rule: Option<String>,
    dns_names: Vec<String>,
}

fn flagged_flows(json: &str) -> Vec<Flagged> {
    let v: serde_json::Value = serde_json::from_str(json).expect("JSON report");
    v["flows"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["verdict"]["kind"] == "flagged")
        .map(|f| Flagged {
            id: f["id"].as_u64().unwrap(),
            packets: f["up"]["packets"].as_u64().unwrap() + f["down"]["packets"].as_u64().unwrap(),
            category: f["verdict"]["category"].as_str().unwrap().to_string(),
            rule: f["verdict"]["rule"].as_str().map(str::to_string),
            dns_names: f["names"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|n| n["source"] == "dns_answer")
                .map(|n| n["name"].as_str().unwrap().to_string())
                .collect(),
        })
        .collect()
}

/// Every packet of a capture, as (time, original length, bytes).
fn packets_of(path: &Path) -> Vec<(i64, u32, Vec<u8>)> {
    let mut r = telltale::capture::file::CaptureReader::open(path).unwrap();
    let mut out = Vec::new();
    while let Some(p) = r.next_packet() {
        out.push((p.ts.0, p.orig_len, p.data.to_vec()));
    }
    out
}

#[test]
fn evidence_holds_exactly_the_flagged_flows_and_their_dns_answers_each_with_a_comment() {
    let dir = tempfile::tempdir().unwrap();
    let evidence = dir.path().join("evidence.pcapng");
    let (code, json, err) = run(&[
        "audit",
        "--format",
        "json",
        "--evidence",
        s(&evidence),
        &demo_path(),
    ]);
    assert_eq!(code, 1, "{err}");
    let flagged = flagged_flows(&json);
    assert_eq!(flagged.len(), 5);
    let flow_packets: u64 = flagged.iter().map(|f| f.packets).sum();

    // every evidence packet is a packet of the capture, with its time, length and bytes
    let capture = packets_of(Path::new(&demo_path()));
    let kept = packets_of(&evidence);
    let mut at = 0;
    for p in &kept {
        let found = capture.iter().skip(at).position(|c| c == p);
        at += found.expect("an evidence packet that is not in the capture, in order") + 1;
    }

    // count the DNS answers for the flagged flows' names independently, with tshark
    let names: BTreeSet<&str> = flagged
        .iter()
        .flat_map(|f| f.dns_names.iter().map(String::as_str))
        .collect();
    assert!(!names.is_empty());
    let filter = format!(
        "dns.flags.response==1 && ({})",
        names
            .iter()
            .map(|n| format!("dns.qry.name==\"{n}\""))
            .collect::<Vec<_>>()
            .join(" || ")
    );
    let Some(dns) = tshark(&["-r", &demo_path(), "-Y", &filter]) else {
        return;
    };
    let dns_answers = dns.lines().count() as u64;
    assert_eq!(dns_answers, 4, "{dns}");

    let Some(lines) = comments(&evidence) else {
        return;
    };
    assert_eq!(lines.len() as u64, flow_packets + dns_answers);
    assert_eq!(kept.len(), lines.len());
    assert!(lines.iter().all(|c| !c.trim().is_empty()), "{lines:?}");
    for f in &flagged {
        let why = match &f.rule {
            Some(r) => format!("flow {} flagged ({}, rule {r}): ", f.id, f.category),
            None => format!("flow {} flagged ({}): ", f.id, f.category),
        };
        let n = lines.iter().filter(|c| c.starts_with(&why)).count() as u64;
        assert_eq!(n, f.packets, "{why}");
        for name in &f.dns_names {
            let naming = format!("DNS answer naming flow {}: {name}", f.id);
            assert!(lines.iter().any(|c| c == &naming), "{naming}");
        }
    }
    let naming = lines
        .iter()
        .filter(|c| c.starts_with("DNS answer naming"))
        .count() as u64;
    assert_eq!(naming, dns_answers);
}

#[test]
fn evidence_beyond_its_cap_drops_the_oldest_counts_and_says_so() {
    let reader = telltale::audit::demo_reader().unwrap();
    let caps = telltale::pipeline::Caps {
        evidence_bytes: 20_000,
        ..Default::default()
    };
    let (report, evidence) = telltale::audit::audit_readers_with_evidence(
        vec![reader],
        &common::judging("on"),
        caps,
        true,
    );
    let evidence = evidence.unwrap();
    assert!(report.counters.evidence_evictions > 0);
    assert!(evidence.missing_packets > 0);
    assert!(
        report
            .warnings
            .iter()
            .any(|w| w.contains("the evidence lacks")),
        "{:?}",
        report.warnings
    );
    let bytes: usize = evidence.packets.iter().map(|p| p.packet.data.len()).sum();
    assert!(bytes <= 20_000);
    // the newest flagged flow (41, at the capture's end) is still there
    assert!(
        evidence
            .packets
            .iter()
            .any(|p| p.comments.iter().any(|c| c.starts_with("flow 41 flagged")))
    );
    // without evidence asked for, nothing is kept or counted
    let report = common::audit_demo("on");
    assert_eq!(report.counters.evidence_evictions, 0);
}

fn bundle(dir: &Path) -> PathBuf {
    let out = dir.join("bundle");
    let (code, stdout, err) = run(&["audit", "--format", "all", "-o", s(&out), &demo_path()]);
    assert_eq!(code, 1, "{err}");
    assert!(stdout.is_empty(), "{stdout}");
    out
}

fn verify(dir: &Path) -> (i32, String, String) {
    run(&["verify", s(dir)])
}

#[test]
fn the_bundle_holds_every_file_and_its_manifest() {
    let dir = tempfile::tempdir().unwrap();
    let out = bundle(dir.path());
    let mut names: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, BUNDLE);
    for name in BUNDLE {
        let mode = std::fs::metadata(out.join(name)).unwrap().mode() & 0o777;
        assert_eq!(mode, 0o600, "{name}");
    }
    let m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(m["schema"], "telltale.manifest/1");
    assert_eq!(m["tool"]["name"], "telltale");
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap()).unwrap();
    assert_eq!(m["generated_at"], report["generated_at"]);
    assert_eq!(m["counters"], report["counters"]);
    assert_eq!(m["opt_out"], report["opt_out"]);
    assert_eq!(m["rules"]["sha256"], report["rules"]["sha256"]);
    assert_eq!(m["inputs"][0]["sha256"], report["inputs"][0]["sha256"]);
    assert_eq!(m["inputs"][0]["packets"], 1259);
    assert!(m["settings"].is_null());
    let files: BTreeMap<String, String> = serde_json::from_value(m["files"].clone()).unwrap();
    let listed: Vec<&str> = files.keys().map(String::as_str).collect();
    assert_eq!(
        listed,
        [
            "evidence.pcapng",
            "flows.csv",
            "report.html",
            "report.json",
            "report.md"
        ]
    );
    // the same evidence as --evidence gives
    let (code, _, err) = run(&[
        "audit",
        "--format",
        "json",
        "-o",
        s(&dir.path().join("r.json")),
        "--evidence",
        s(&dir.path().join("e.pcapng")),
        &demo_path(),
    ]);
    assert_eq!(code, 1, "{err}");
    assert_eq!(
        std::fs::read(dir.path().join("e.pcapng")).unwrap(),
        std::fs::read(out.join("evidence.pcapng")).unwrap()
    );
}

#[test]
fn verify_passes_on_a_fresh_bundle_and_names_every_changed_or_missing_file() {
    let dir = tempfile::tempdir().unwrap();
    let out = bundle(dir.path());
    let (code, stdout, err) = verify(&out);
    assert_eq!(code, 0, "{stdout}{err}");
    let ok: Vec<&str> = stdout.lines().collect();
    assert_eq!(
        ok,
        [
            "ok evidence.pcapng",
            "ok flows.csv",
            "ok report.html",
            "ok report.json",
            "ok report.md"
        ]
    );
    for name in BUNDLE.iter().filter(|n| **n != "manifest.json") {
        let path = out.join(name);
        let original = std::fs::read(&path).unwrap();
        // one byte changed
        let mut changed = original.clone();
        let at = changed.len() / 2;
        changed[at] ^= 0x01;
        std::fs::write(&path, &changed).unwrap();
        let (code, stdout, _) = verify(&out);
        assert_eq!(code, 1, "{name}: {stdout}");
        let line = stdout
            .lines()
            .find(|l| l.starts_with(&format!("CHANGED {name}: sha256 ")))
            .unwrap_or_else(|| panic!("{name}: {stdout}"));
        assert!(line.contains(" expected "), "{line}");
        assert_eq!(stdout.lines().filter(|l| l.starts_with("ok ")).count(), 4);
        // deleted
        std::fs::remove_file(&path).unwrap();
        let (code, stdout, _) = verify(&out);
        assert_eq!(code, 1, "{name}: {stdout}");
        assert!(
            stdout.lines().any(|l| l == format!("MISSING {name}")),
            "{stdout}"
        );
        // back as it was
        std::fs::write(&path, &original).unwrap();
        assert_eq!(verify(&out).0, 0, "{name}");
    }
}

#[test]
fn verify_without_a_readable_manifest_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let (code, stdout, err) = verify(dir.path());
    assert_eq!(code, 2, "{stdout}");
    assert!(err.contains("has no readable manifest"), "{err}");
    assert!(err.contains("manifest.json"), "{err}");
    std::fs::write(dir.path().join("manifest.json"), "{ not json").unwrap();
    let (code, _, err) = verify(dir.path());
    assert_eq!(code, 2);
    assert!(err.contains("not a manifest"), "{err}");
    // a manifest naming a file outside its folder is not followed
    std::fs::write(
        dir.path().join("manifest.json"),
        r#"{"schema":"telltale.manifest/1","tool":{"name":"telltale","version":"0"},
            "generated_at":"x","files":{"../secret":"00"},"rules":{"path":"p","sha256":"s"}}"#,
    )
    .unwrap();
    let (code, _, err) = verify(dir.path());
    assert_eq!(code, 2);
    assert!(err.contains("../secret"), "{err}");
    let (code, _, err) = verify(&dir.path().join("nowhere"));
    assert_eq!(code, 2, "{err}");
}

#[test]
fn an_existing_file_is_replaced_only_with_force() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("r.md");
    std::fs::write(&path, "mine\n").unwrap();
    let (code, stdout, err) = run(&["audit", "-o", s(&path), &demo_path()]);
    assert_eq!(code, 2, "{stdout}");
    assert!(
        err.contains(&format!(
            "refusing to overwrite {}: it exists; add --force to replace it",
            path.display()
        )),
        "{err}"
    );
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "mine\n");
    let (code, _, err) = run(&["audit", "--force", "-o", s(&path), &demo_path()]);
    assert_eq!(code, 1, "{err}");
    let md = std::fs::read_to_string(&path).unwrap();
    assert!(md.starts_with("# telltale audit"), "{md}");
    assert_eq!(std::fs::metadata(&path).unwrap().mode() & 0o777, 0o600);
    // a second bundle into the same folder: refused before anything is written
    let out = bundle(dir.path());
    let before = std::fs::read(out.join("manifest.json")).unwrap();
    let (code, _, err) = run(&["audit", "--format", "all", "-o", s(&out), &demo_path()]);
    assert_eq!(code, 2);
    assert!(err.contains("refusing to overwrite"), "{err}");
    assert_eq!(std::fs::read(out.join("manifest.json")).unwrap(), before);
    let (code, _, err) = run(&[
        "audit",
        "--format",
        "all",
        "--force",
        "-o",
        s(&out),
        &demo_path(),
    ]);
    assert_eq!(code, 1, "{err}");
    assert_eq!(verify(&out).0, 0);
    // no temporary file is left behind anywhere
    for d in [dir.path(), out.as_path()] {
        for e in std::fs::read_dir(d).unwrap() {
            let name = e.unwrap().file_name().to_string_lossy().into_owned();
            assert!(!name.contains(".tmp-"), "{name}");
        }
    }
}

#[test]
fn a_symlink_is_never_written_through_even_with_force() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("target");
    std::fs::write(&target, "keep\n").unwrap();
    let link = dir.path().join("r.json");
    symlink(&target, &link).unwrap();
    let demo = demo_path();
    for force in [false, true] {
        let mut args = vec!["audit", "--format", "json", "-o", s(&link)];
        if force {
            args.push("--force");
        }
        args.push(&demo);
        let (code, _, err) = run(&args);
        assert_eq!(code, 2, "{err}");
        assert!(err.contains("symbolic link"), "{err}");
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "keep\n");
        assert!(
            std::fs::symlink_metadata(&link)
                .unwrap()
                .file_type()
                .is_symlink()
        );
    }
    let evidence_link = dir.path().join("e.pcapng");
    symlink(&target, &evidence_link).unwrap();
    let (code, _, err) = run(&[
        "audit",
        "--force",
        "--evidence",
        s(&evidence_link),
        &demo_path(),
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("symbolic link"), "{err}");
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "keep\n");
}

#[test]
fn an_unwritable_place_gives_a_clear_message_and_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let plain = dir.path().join("plain");
    std::fs::write(&plain, "").unwrap();
    // a file where a folder is expected
    let under_file = plain.join("r.md");
    let (code, stdout, err) = run(&["audit", "-o", s(&under_file), &demo_path()]);
    assert_eq!(code, 2, "{stdout}");
    assert!(
        err.contains(&format!("cannot write {}: ", under_file.display())),
        "{err}"
    );
    // /proc takes no new files, even from root
    let in_proc = Path::new("/proc/telltale-no-such-place/report.md");
    let (code, _, err) = run(&["audit", "-o", s(in_proc), &demo_path()]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("cannot write /proc/telltale-no-such-place/report.md: "),
        "{err}"
    );
    let (code, _, err) = run(&[
        "audit",
        "--evidence",
        "/proc/self/telltale-evidence.pcapng",
        &demo_path(),
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("cannot write /proc/self/telltale-evidence.pcapng: "),
        "{err}"
    );
    // a bundle needs a folder
    let (code, _, err) = run(&["audit", "--format", "all", "-o", s(&plain), &demo_path()]);
    assert_eq!(code, 2);
    assert!(err.contains("is not one"), "{err}");
    let (code, _, err) = run(&["audit", "--format", "all", &demo_path()]);
    assert_eq!(code, 2);
    assert!(err.contains("add -o DIR"), "{err}");
}

/// Unmounts a test's tmpfs however the test ends.
struct Mounted(PathBuf);

impl Drop for Mounted {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

#[test]
fn a_full_disk_gives_a_clear_message_exit_2_and_no_temporary_file() {
    let dir = tempfile::tempdir().unwrap();
    let tiny = dir.path().join("tiny");
    std::fs::create_dir(&tiny).unwrap();
    let mounted = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=16k", "tmpfs", s(&tiny)])
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|st| st.success());
    if !common::require(
        mounted,
        "root",
        "run as root, to mount a small tmpfs (CI runs as root)",
    ) {
        return;
    }
    let _guard = Mounted(tiny.clone());
    let path = tiny.join("report.json");
    let (code, _, err) = run(&["audit", "--format", "json", "-o", s(&path), &demo_path()]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains(&format!("cannot write {}: ", path.display())),
        "{err}"
    );
    assert_eq!(std::fs::read_dir(&tiny).unwrap().count(), 0);
}
