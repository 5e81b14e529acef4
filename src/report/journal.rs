//! The journal (`--journal PATH`): each flow's verdict appended as one JSON line the moment
//! it is decided, and flushed, so a run of hours killed with `kill -9` loses at most the
//! line being written. `telltale report --from-journal PATH` rebuilds the reports from it.
//!
//! Lines: first a header `{"journal": "telltale.journal/1", "tool", "rules", "opt_out", "settings"}`,
//! then one `{"flow": <the flow as in the JSON report>}` per decided flow, and at a clean end
//! `{"end": {"counters", "inputs"}}`.

// This module reads reports as serde_json Values, whose indexing (by key or position) gives Null
// when nothing is there and never panics; clippy cannot tell it from slice indexing.
#![expect(
    clippy::indexing_slicing,
    reason = "serde_json::Value indexing never panics"
)]

use super::model::{FlowReport, Input, OptOut, RulesInfo};
use crate::pipeline::Counters;
use crate::rules::verdict::VerdictClass;
use serde::Serialize;
use std::io::Write;

pub const SCHEMA: &str = "telltale.journal/1";

#[derive(Serialize)]
struct Header<'a> {
    journal: &'static str,
    tool: &'static str,
    version: &'static str,
    rules: &'a RulesInfo,
    opt_out: &'a OptOut,
}

#[derive(Serialize)]
struct FlowLine<'a> {
    flow: &'a FlowReport,
}

#[derive(Serialize)]
struct End<'a> {
    end: EndBody<'a>,
}

#[derive(Serialize)]
struct EndBody<'a> {
    counters: &'a Counters,
    inputs: &'a [Input],
}

/// An open journal: every write is flushed to the file before the next packet is read.
///
/// After a write fails (a full disk, say) nothing more is written: a line may have been cut
/// part-way, and a line appended to it would be lost with it, or an `end` line would claim a
/// clean end the journal does not have. What was written before stays readable.
pub struct Journal {
    file: std::fs::File,
    path: std::path::PathBuf,
    failed: bool,
    pub written: usize,
}

impl Journal {
    /// Creates the journal (readable only by its owner; an existing file is appended to).
    pub fn create(
        path: &std::path::Path,
        rules: &RulesInfo,
        opt_out: &OptOut,
    ) -> std::io::Result<Journal> {
        use std::os::unix::fs::OpenOptionsExt;
        if std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink()) {
            return Err(std::io::Error::other(format!(
                "{} is a symbolic link; telltale never writes through one",
                path.display()
            )));
        }
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(path)?;
        let mut j = Journal {
            file,
            path: path.to_path_buf(),
            failed: false,
            written: 0,
        };
        let header = Header {
            journal: SCHEMA,
            tool: "telltale",
            version: env!("CARGO_PKG_VERSION"),
            rules,
            opt_out,
        };
        j.line(&header)?;
        Ok(j)
    }

    fn line<T: Serialize>(&mut self, value: &T) -> std::io::Result<()> {
        if self.failed {
            return Err(std::io::Error::other(
                "an earlier write to it failed, so nothing more is added",
            ));
        }
        let mut text = serde_json::to_string(value).map_err(std::io::Error::other)?;
        text.push('\n');
        let written = self
            .file
            .write_all(text.as_bytes())
            .and_then(|()| self.file.flush())
            .and_then(|()| self.file.sync_data());
        self.failed = written.is_err();
        written
    }

    /// `e`, saying which file it is about.
    fn naming(&self, e: std::io::Error) -> std::io::Error {
        std::io::Error::new(e.kind(), format!("{}: {e}", self.path.display()))
    }

    pub fn flow(&mut self, f: &FlowReport) -> std::io::Result<()> {
        self.line(&FlowLine { flow: f })
            .map_err(|e| self.naming(e))?;
        self.written += 1;
        Ok(())
    }

    pub fn end(&mut self, counters: &Counters, inputs: &[Input]) -> std::io::Result<()> {
        self.line(&End {
            end: EndBody { counters, inputs },
        })
        .map_err(|e| self.naming(e))
    }
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
        match serde_json::from_str::<serde_json::Value>(line) {
            Ok(v) if v.get("journal").is_some() => r.header = Some(v),
            Ok(v) if v.get("flow").is_some() => {
                // a flow written again (a budget changed its verdict at the end): the last line wins
                let flow = v["flow"].clone();
                match r.flows.iter_mut().find(|f| f["id"] == flow["id"]) {
                    Some(old) => *old = flow,
                    None => r.flows.push(flow),
                }
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
        let mut text = serde_json::to_string(&serde_json::json!({
            "journal": SCHEMA, "tool": "telltale", "version": "0", "rules": report.rules, "opt_out": report.opt_out,
        }))
        .unwrap();
        for f in &report.flows {
            text.push('\n');
            text.push_str(&serde_json::to_string(&FlowLine { flow: f }).unwrap());
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
