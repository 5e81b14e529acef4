//! The journal (`--journal PATH`): each flow's verdict appended as one JSON line the moment
//! it is decided, and flushed, so a run of hours killed with `kill -9` loses at most the
//! line being written. `telltale report --from-journal PATH` rebuilds the reports from it, and
//! log pipelines (Vector, Fluent Bit, Filebeat) ingest it as it is.
//!
//! Every line is one Elastic Common Schema document of schema `telltale.journal/1`
//! (`docs/journal.md`; `docs/journal.schema.json` validates each line): `event.action` is
//! `run-started` (the first line of every file: rules, opt-out), `flow-flagged`,
//! `flow-declared`, `flow-allowed` or `flow-local` (one per decided flow: `source.*`,
//! `destination.*`, `network.*`, `process.*`, `rule.*`, and the whole flow as the JSON report
//! has it under `telltale.flow`), and `run-ended` at a clean end (counters, inputs).
//!
//! `--journal-rotate` starts a new file when the next line would take the file past a size,
//! or on a new UTC day: the full file is renamed `PATH.<UTC time>` and a new `PATH` begins
//! with the run's `run-started` line again. Rotation happens between lines only, so no line
//! is lost or split; `--journal-keep` rotated files are kept.

// This module reads reports as serde_json Values, whose indexing (by key or position) gives Null
// when nothing is there and never panics; clippy cannot tell it from slice indexing.
#![expect(
    clippy::indexing_slicing,
    reason = "serde_json::Value indexing never panics"
)]

use super::model::{FlowReport, Input, OptOut, RulesInfo};
use crate::flows::Locality;
use crate::pipeline::Counters;
use crate::rules::verdict::{VerdictClass, VerdictKind};
use serde::Serialize;
use serde_json::{Value, json};
use std::io::Write;
use std::path::{Path, PathBuf};

pub const SCHEMA: &str = "telltale.journal/1";
/// The Elastic Common Schema version the field names follow.
pub const ECS_VERSION: &str = "8.11.0";

/// When a journal starts a new file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Rotation {
    /// Never: one file.
    #[default]
    Never,
    /// When the next line would take the file past this many bytes.
    Size(u64),
    /// At the first line of a new UTC day.
    Daily,
}

impl std::str::FromStr for Rotation {
    type Err = String;

    /// `daily`, or a size: `100M`, `1G`, `500K`, `1048576`.
    fn from_str(s: &str) -> Result<Rotation, String> {
        let t = s.trim();
        if t.eq_ignore_ascii_case("daily") {
            return Ok(Rotation::Daily);
        }
        let (digits, unit) = match t.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
            Some((i, _)) => t.split_at(i),
            None => (t, ""),
        };
        let scale: u64 = match unit.to_ascii_uppercase().trim_end_matches(['B', 'I']) {
            "" => 1,
            "K" => 1 << 10,
            "M" => 1 << 20,
            "G" => 1 << 30,
            _ => return Err(format!("`{s}` is not daily or a size (100M, 1G)")),
        };
        let n: u64 = digits
            .parse()
            .map_err(|_| format!("`{s}` is not daily or a size (100M, 1G)"))?;
        match n.checked_mul(scale) {
            Some(b) if b >= 4096 => Ok(Rotation::Size(b)),
            _ => Err(format!("`{s}`: a journal file needs at least 4K")),
        }
    }
}

/// An open journal: every write is flushed to the file before the next packet is read.
///
/// After a write fails (a full disk, say) nothing more is written: a line may have been cut
/// part-way, and a line appended to it would be lost with it, or an `end` line would claim a
/// clean end the journal does not have. What was written before stays readable.
pub struct Journal {
    file: std::fs::File,
    path: PathBuf,
    failed: bool,
    pub written: usize,
    rotation: Rotation,
    /// Rotated files kept at most.
    keep: usize,
    /// Bytes in the current file.
    size: u64,
    /// The UTC day the current file began.
    day: String,
    /// The run's `run-started` line, written again at the top of every new file.
    header: String,
    /// The rules file's path, which every flow line names.
    ruleset: String,
    /// Files rotated away, oldest first.
    pub rotated: Vec<PathBuf>,
}

/// The machine's name, as the kernel has it (no lookup).
fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_default()
}

fn observer() -> Value {
    json!({
        "product": "telltale",
        "vendor": "telltale",
        "type": "sniffer",
        "version": env!("CARGO_PKG_VERSION"),
        "hostname": hostname(),
    })
}

fn event(action: &str, kind: &str, dataset: &str, category: &[&str], types: &[&str]) -> Value {
    json!({
        "kind": kind,
        "category": category,
        "type": types,
        "action": action,
        "dataset": dataset,
        "module": "telltale",
        "created": crate::time::now(),
    })
}

/// The `run-started` line.
pub fn run_started_line(rules: &RulesInfo, opt_out: &OptOut) -> Value {
    json!({
        "@timestamp": crate::time::now(),
        "ecs": {"version": ECS_VERSION},
        "event": event("run-started", "event", "telltale.run", &["process"], &["start"]),
        "observer": observer(),
        "rule": {"ruleset": rules.path},
        "labels": {"opt_out": opt_out.state.as_str()},
        "telltale": {
            "journal": SCHEMA,
            "version": env!("CARGO_PKG_VERSION"),
            "rules": rules,
            "opt_out": opt_out,
        },
    })
}

/// The ECS `network.direction` of a flow.
fn direction(l: Locality) -> &'static str {
    match l {
        Locality::Outbound => "egress",
        Locality::Inbound => "ingress",
        Locality::Local => "internal",
        Locality::Internet => "external",
    }
}

fn serde_word<T: Serialize>(v: &T) -> Option<String> {
    match serde_json::to_value(v) {
        Ok(Value::String(s)) => Some(s),
        _ => None,
    }
}

/// ECS `network.transport`: the IANA keyword of the flow's IP protocol.
fn transport(protocol: &str) -> String {
    match protocol {
        "icmpv6" => "ipv6-icmp".into(),
        p => p.to_ascii_lowercase(),
    }
}

/// ECS `network.iana_number` (a string, as ECS has it).
fn iana_number(protocol: &str) -> String {
    match protocol {
        "tcp" => "6".into(),
        "udp" => "17".into(),
        "icmp" => "1".into(),
        "icmpv6" => "58".into(),
        p => p.strip_prefix("ip-").unwrap_or(p).to_string(),
    }
}

/// A flow's line.
pub fn flow_line(f: &FlowReport, ruleset: &str) -> Value {
    let kind = f.verdict.kind.as_str();
    let best = f.primary_name().map(|n| n.name.clone());
    let mut hosts: Vec<&str> = f.names.iter().map(|n| n.name.as_str()).collect();
    hosts.sort_unstable();
    hosts.dedup();
    let app = serde_word(&f.app).filter(|a| a != "unknown");
    let mut line = json!({
        "@timestamp": f.last_seen,
        "ecs": {"version": ECS_VERSION},
        "event": {
            "kind": if f.verdict.kind == VerdictKind::Flagged { "alert" } else { "event" },
            "category": ["network"],
            "type": ["connection"],
            "action": format!("flow-{kind}"),
            "dataset": "telltale.flow",
            "module": "telltale",
            "created": crate::time::now(),
            "start": f.first_seen,
            "end": f.last_seen,
            "duration": (f.duration_s * 1e9).round() as i64,
            "reason": f.verdict.reason,
        },
        "source": {
            "ip": f.client.address.to_string(),
            "port": f.client.port,
            "bytes": f.up.ip_bytes,
            "packets": f.up.packets,
        },
        "destination": {
            "ip": f.server.address.to_string(),
            "port": f.server.port,
            "bytes": f.down.ip_bytes,
            "packets": f.down.packets,
        },
        "network": {
            "transport": transport(&f.protocol),
            "iana_number": iana_number(&f.protocol),
            "direction": direction(f.locality),
            "bytes": f.up.ip_bytes.saturating_add(f.down.ip_bytes),
            "packets": f.up.packets.saturating_add(f.down.packets),
        },
        "observer": observer(),
        "rule": {"category": f.verdict.category, "ruleset": ruleset},
        "related": {"ip": [f.client.address.to_string(), f.server.address.to_string()]},
        "labels": {"verdict": kind},
        "telltale": {"journal": SCHEMA, "flow": f},
    });
    if let Some(b) = best {
        line["destination"]["domain"] = json!(b);
    }
    if !hosts.is_empty() {
        line["related"]["hosts"] = json!(hosts);
    }
    if let Some(a) = app {
        line["network"]["protocol"] = json!(a);
    }
    if let Some(r) = &f.verdict.rule {
        line["rule"]["id"] = json!(r);
    }
    if let Some(c) = f.verdict.class.as_ref() {
        line["labels"]["class"] = json!(c.as_str());
    }
    if let Some(p) = &f.process {
        let mut proc = json!({"pid": p.process.pid, "name": p.process.name});
        if let Some(exe) = &p.process.exe {
            proc["executable"] = json!(exe);
        }
        line["process"] = proc;
    }
    line
}

/// The `run-ended` line.
pub fn run_ended_line(counters: &Counters, inputs: &[Input]) -> Value {
    json!({
        "@timestamp": crate::time::now(),
        "ecs": {"version": ECS_VERSION},
        "event": event("run-ended", "event", "telltale.run", &["process"], &["end"]),
        "observer": observer(),
        "telltale": {"journal": SCHEMA, "counters": counters, "inputs": inputs},
    })
}

impl Journal {
    /// Creates the journal (readable only by its owner; an existing file is appended to),
    /// never rotated.
    pub fn create(path: &Path, rules: &RulesInfo, opt_out: &OptOut) -> std::io::Result<Journal> {
        Self::create_rotating(path, rules, opt_out, Rotation::Never, 0)
    }

    /// Creates the journal, rotated as `rotation` says, keeping `keep` rotated files.
    pub fn create_rotating(
        path: &Path,
        rules: &RulesInfo,
        opt_out: &OptOut,
        rotation: Rotation,
        keep: usize,
    ) -> std::io::Result<Journal> {
        let header = serde_json::to_string(&run_started_line(rules, opt_out))
            .map_err(std::io::Error::other)?;
        let file = open(path)?;
        let size = file.metadata().map(|m| m.len()).unwrap_or(0);
        let mut j = Journal {
            file,
            path: path.to_path_buf(),
            failed: false,
            written: 0,
            rotation,
            keep,
            size,
            day: crate::time::now().day(),
            header: header.clone(),
            ruleset: rules.path.clone(),
            rotated: existing_rotated(path),
        };
        j.write_text(&header)?;
        Ok(j)
    }

    /// Starts a new file if the next `len` bytes would not fit, or the day changed.
    fn rotate_for(&mut self, len: u64) -> std::io::Result<()> {
        let due = match self.rotation {
            Rotation::Never => false,
            // a file holding no more than its header takes the line, however long
            Rotation::Size(max) => {
                self.size > self.header.len() as u64 + 1 && self.size.saturating_add(len) > max
            }
            Rotation::Daily => crate::time::now().day() != self.day,
        };
        if !due {
            return Ok(());
        }
        let stamp: String = crate::time::now()
            .rfc3339()
            .chars()
            .filter(|c| c.is_ascii_digit() || *c == 'T')
            .take(15)
            .collect();
        let mut target = PathBuf::from(format!("{}.{stamp}Z", self.path.display()));
        let mut n = 2;
        while target.exists() {
            target = PathBuf::from(format!("{}.{stamp}Z-{n}", self.path.display()));
            n += 1;
        }
        std::fs::rename(&self.path, &target)?;
        self.rotated.push(target);
        self.file = open(&self.path)?;
        self.size = 0;
        self.day = crate::time::now().day();
        while self.rotated.len() > self.keep {
            let oldest = self.rotated.remove(0);
            let _ = std::fs::remove_file(oldest);
        }
        let header = self.header.clone();
        self.write_line(&header)
    }

    /// Writes one line (rotating first if its rotation says so).
    fn write_text(&mut self, text: &str) -> std::io::Result<()> {
        if self.failed {
            return Err(std::io::Error::other(
                "an earlier write to it failed, so nothing more is added",
            ));
        }
        let rotated = self.rotate_for(text.len() as u64 + 1);
        if let Err(e) = rotated {
            self.failed = true;
            return Err(e);
        }
        self.write_line(text)
    }

    fn write_line(&mut self, text: &str) -> std::io::Result<()> {
        let mut bytes = Vec::with_capacity(text.len() + 1);
        bytes.extend_from_slice(text.as_bytes());
        bytes.push(b'\n');
        let written = self
            .file
            .write_all(&bytes)
            .and_then(|()| self.file.flush())
            .and_then(|()| self.file.sync_data());
        self.failed = written.is_err();
        if written.is_ok() {
            self.size = self.size.saturating_add(bytes.len() as u64);
        }
        written
    }

    /// `e`, saying which file it is about.
    fn naming(&self, e: std::io::Error) -> std::io::Error {
        std::io::Error::new(e.kind(), format!("{}: {e}", self.path.display()))
    }

    pub fn flow(&mut self, f: &FlowReport) -> std::io::Result<()> {
        let text =
            serde_json::to_string(&flow_line(f, &self.ruleset)).map_err(std::io::Error::other)?;
        self.write_text(&text).map_err(|e| self.naming(e))?;
        self.written += 1;
        Ok(())
    }

    pub fn end(&mut self, counters: &Counters, inputs: &[Input]) -> std::io::Result<()> {
        let text = serde_json::to_string(&run_ended_line(counters, inputs))
            .map_err(std::io::Error::other)?;
        self.write_text(&text).map_err(|e| self.naming(e))
    }
}

/// Opens (creating, mode 0600) a journal file for appending; never through a symbolic link.
fn open(path: &Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    if std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink()) {
        return Err(std::io::Error::other(format!(
            "{} is a symbolic link; telltale never writes through one",
            path.display()
        )));
    }
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(path)
}

/// Files an earlier run rotated away (`PATH.<time>Z`), oldest first: `--journal-keep` counts
/// them too.
fn existing_rotated(path: &Path) -> Vec<PathBuf> {
    let (Some(dir), Some(name)) = (
        path.parent().map(|d| {
            if d.as_os_str().is_empty() {
                Path::new(".")
            } else {
                d
            }
        }),
        path.file_name().and_then(|n| n.to_str()),
    ) else {
        return Vec::new();
    };
    let prefix = format!("{name}.");
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| {
            e.file_name().to_str().is_some_and(|n| {
                n.strip_prefix(&prefix).is_some_and(|rest| {
                    rest.len() >= 16
                        && rest.as_bytes().first().is_some_and(u8::is_ascii_digit)
                        && rest.contains('T')
                })
            })
        })
        .map(|e| e.path())
        .collect();
    found.sort();
    found
}

/// A journal read back: its flows (each the last line written for its id), and what was learned.
#[derive(Debug, Default)]
pub struct ReadBack {
    pub flows: Vec<serde_json::Value>,
    pub header: Option<serde_json::Value>,
    pub end: Option<serde_json::Value>,
    /// Lines that did not parse: at most the last one, cut by a kill.
    pub broken_lines: usize,
}

pub fn read(text: &str) -> ReadBack {
    let mut r = ReadBack::default();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        // ECS lines (`telltale.*`), or the lines of journals written before them
        match serde_json::from_str::<serde_json::Value>(line) {
            Ok(v) if v["event"]["action"] == "run-started" => {
                let t = &v["telltale"];
                r.header = Some(
                    json!({"journal": t["journal"], "rules": t["rules"], "opt_out": t["opt_out"]}),
                );
            }
            Ok(v) if v.get("journal").is_some() => r.header = Some(v),
            Ok(v) if v["telltale"].get("flow").is_some() || v.get("flow").is_some() => {
                // a flow written again (a budget changed its verdict at the end): the last line wins
                let flow = if v.get("flow").is_some() {
                    v["flow"].clone()
                } else {
                    v["telltale"]["flow"].clone()
                };
                match r.flows.iter_mut().find(|f| f["id"] == flow["id"]) {
                    Some(old) => *old = flow,
                    None => r.flows.push(flow),
                }
            }
            Ok(v) if v["event"]["action"] == "run-ended" => {
                r.end = Some(
                    json!({"counters": v["telltale"]["counters"], "inputs": v["telltale"]["inputs"]}),
                );
            }
            Ok(v) if v.get("end").is_some() => r.end = Some(v["end"].clone()),
            _ => r.broken_lines += 1,
        }
    }
    r
}

/// Rebuilds the JSON report from a journal: the flows as journaled, the summary, names and
/// blind spots recomputed from them. What the journal does not hold (the names no flow
/// used) is said in a warning.
pub fn rebuild(path: &str, text: &str) -> Result<serde_json::Value, String> {
    let mut r = read(text);
    r.flows
        .sort_by_key(|f| f["id"].as_u64().unwrap_or(u64::MAX));
    let header = r
        .header
        .ok_or_else(|| format!("{path} is not a telltale journal (no header line)"))?;
    if header["journal"] != SCHEMA {
        return Err(format!(
            "{path}: journal format {} is not {SCHEMA}",
            header["journal"]
        ));
    }
    let mut warnings = vec![format!(
        "rebuilt from the journal {path}: {} flows{}",
        r.flows.len(),
        if r.end.is_some() {
            ""
        } else {
            "; the run did not end cleanly, so flows not yet decided when it stopped are missing"
        }
    )];
    if r.broken_lines > 0 {
        warnings.push(format!(
            "{} journal line(s) were cut short and skipped",
            r.broken_lines
        ));
    }
    let mut summary: std::collections::BTreeMap<String, serde_json::Value> =
        std::collections::BTreeMap::new();
    for f in &r.flows {
        let kind = f["verdict"]["kind"]
            .as_str()
            .unwrap_or("unknown")
            .to_string();
        let e = summary
            .entry(kind)
            .or_insert_with(|| serde_json::json!({"flows": 0, "bytes_out": 0, "bytes_in": 0}));
        for (k, field) in [
            ("flows", None),
            ("bytes_out", Some("bytes_out")),
            ("bytes_in", Some("bytes_in")),
        ] {
            let add = field.map_or(1, |fl| f[fl].as_u64().unwrap_or(0));
            e[k] = serde_json::json!(e[k].as_u64().unwrap_or(0) + add);
        }
    }
    Ok(serde_json::json!({
        "schema": super::SCHEMA,
        "tool": {"name": "telltale", "version": env!("CARGO_PKG_VERSION")},
        "rebuilt_from_journal": path,
        "rules": header["rules"],
        "opt_out": header["opt_out"],
        "inputs": r.end.as_ref().map(|e| e["inputs"].clone()).unwrap_or(serde_json::json!([])),
        "counters": r.end.as_ref().map(|e| e["counters"].clone()).unwrap_or(serde_json::Value::Null),
        "summary": {
            "verdicts": summary,
            "flagged_by_class": by_class(&r.flows, "flagged"),
            "allowed_by_class": by_class(&r.flows, "allowed"),
        },
        "warnings": warnings,
        "flows": r.flows,
    }))
}

/// The journaled flows of one verdict kind by class, as the full report's summary counts them:
/// every class, 0 included, in [`VerdictClass::ALL`]'s order.
fn by_class(flows: &[serde_json::Value], kind: &str) -> serde_json::Value {
    let mut counts = serde_json::Map::new();
    for c in VerdictClass::ALL {
        let n = flows
            .iter()
            .filter(|f| f["verdict"]["kind"] == kind && f["verdict"]["class"] == c.as_str())
            .count();
        counts.insert(c.as_str().to_string(), serde_json::json!(n));
    }
    serde_json::Value::Object(counts)
}

/// Builds a Markdown report from a rebuilt JSON report (flagged flows first).
pub fn rebuilt_markdown(v: &serde_json::Value) -> String {
    use crate::text::md;
    use std::fmt::Write as _;
    let mut o = String::new();
    let flows = v["flows"].as_array().cloned().unwrap_or_default();
    let flagged: Vec<&serde_json::Value> = flows
        .iter()
        .filter(|f| f["verdict"]["kind"] == "flagged")
        .collect();
    let _ = writeln!(o, "# telltale audit (rebuilt from a journal)\n");
    let _ = writeln!(
        o,
        "**{} flows flagged** of {} journaled.",
        flagged.len(),
        flows.len()
    );
    // by class, as the full report counts them (a flagged flow without one counted too)
    let mut rows: Vec<super::model::ClassRow> = Vec::new();
    for class in VerdictClass::ALL.iter().copied().map(Some).chain([None]) {
        let ids: Vec<u64> = flagged
            .iter()
            .filter(|f| f["verdict"]["class"].as_str().and_then(VerdictClass::parse) == class)
            .map(|f| f["id"].as_u64().unwrap_or(0))
            .collect();
        if !ids.is_empty() {
            rows.push(super::model::ClassRow {
                class,
                flows: ids.len() as u64,
                bytes_out: 0,
                ids,
            });
        }
    }
    if !rows.is_empty() {
        let _ = writeln!(
            o,
            "Flagged, by class: {}.",
            super::classes::class_counts(&rows, 0)
        );
    }
    let _ = writeln!(o);
    for w in v["warnings"].as_array().into_iter().flatten() {
        let _ = writeln!(o, "> **Warning:** {}\n", md(w.as_str().unwrap_or("")));
    }
    let _ = writeln!(o, "## Flagged ({})\n", flagged.len());
    for f in flagged {
        let name = f["names"][0]["name"].as_str().unwrap_or("unnamed");
        let class = f["verdict"]["class"]
            .as_str()
            .and_then(VerdictClass::parse)
            .map_or(String::new(), |c| format!(" ({})", c.describe()));
        let _ = writeln!(
            o,
            "- Flow {}: {}{class}: {}",
            f["id"],
            md(name),
            md(f["verdict"]["reason"].as_str().unwrap_or(""))
        );
    }
    let _ = writeln!(
        o,
        "\n## Every flow\n\n| # | verdict | remote | name | rule |\n|---|---|---|---|---|"
    );
    for f in &flows {
        let remote = if f["locality"] == "inbound" {
            &f["client"]
        } else {
            &f["server"]
        };
        let _ = writeln!(
            o,
            "| {} | {} | {}:{} | {} | {} |",
            f["id"],
            md(f["verdict"]["kind"].as_str().unwrap_or("")),
            md(remote["address"].as_str().unwrap_or("")),
            remote["port"],
            md(f["names"][0]["name"].as_str().unwrap_or("unnamed")),
            md(f["verdict"]["rule"].as_str().unwrap_or("-"))
        );
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rebuilt_report_counts_and_names_the_classes() {
        let report = crate::report::testing::four_classes();
        let mut text =
            serde_json::to_string(&run_started_line(&report.rules, &report.opt_out)).unwrap();
        for f in &report.flows {
            text.push('\n');
            text.push_str(&serde_json::to_string(&flow_line(f, "builtin:plex")).unwrap());
        }
        let v = rebuild("run.journal", &text).unwrap();
        // the same counts as the full report's summary
        let full: serde_json::Value =
            serde_json::from_str(&crate::report::json::render(&report)).unwrap();
        assert_eq!(
            v["summary"]["flagged_by_class"],
            full["summary"]["flagged_by_class"]
        );
        assert_eq!(v["summary"]["flagged_by_class"]["vendor_undeclared"], 1);
        let md = rebuilt_markdown(&v);
        assert!(
            md.contains(
                "Flagged, by class: 2 to known collection endpoints, 1 to the vendor's own host with no declared purpose, \
                 1 to a third party that no rule explains, and 1 that cannot be judged."
            ),
            "{md}"
        );
        assert!(
            md.contains(
                "- Flow 15: edge7.plex.bz (the vendor's own host, with no declared purpose): "
            ),
            "{md}"
        );
    }

    #[test]
    fn a_failed_write_names_the_file_and_ends_the_journal() {
        // /dev/full: every write fails as on a full disk
        let path = std::path::Path::new("/dev/full");
        let file = std::fs::OpenOptions::new().append(true).open(path).unwrap();
        let mut j = Journal {
            file,
            path: path.to_path_buf(),
            failed: false,
            written: 0,
            rotation: Rotation::Never,
            keep: 0,
            size: 0,
            day: String::new(),
            header: String::new(),
            ruleset: String::new(),
            rotated: Vec::new(),
        };
        let e = j.end(&Counters::default(), &[]).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::StorageFull);
        assert!(e.to_string().starts_with("/dev/full: "), "{e}");
        // nothing more is tried after a failure
        let e = j.end(&Counters::default(), &[]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "/dev/full: an earlier write to it failed, so nothing more is added"
        );
    }
}
