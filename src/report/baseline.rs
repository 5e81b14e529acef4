//! Since last time: `--baseline OLD_REPORT.json` marks every destination (a flow's best
//! name, or its remote address when unnamed) that the old report never saw, so an owner
//! sees what a server upgrade started sending.

// This module reads reports as serde_json Values, whose indexing (by key or position) gives Null
// when nothing is there and never panics; clippy cannot tell it from slice indexing.
#![expect(
    clippy::indexing_slicing,
    reason = "serde_json::Value indexing never panics"
)]

use super::model::FlowReport;
use crate::flows::Locality;
use serde::Serialize;
use std::collections::BTreeSet;

#[derive(Clone, Debug, Default)]
pub struct Baseline {
    pub path: String,
    /// Names (lower case) and addresses the old report knew.
    pub known: BTreeSet<String>,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct BaselineReport {
    pub path: String,
    /// Destinations the old report knew.
    pub known: usize,
    /// Destinations this capture reached that the old report never saw.
    pub new_destinations: Vec<String>,
}

impl Baseline {
    /// Reads the destinations out of an old JSON report.
    pub fn from_report_json(path: &str, text: &str) -> Result<Baseline, String> {
        let v: serde_json::Value = serde_json::from_str(text)
            .map_err(|e| format!("{path} is not a telltale JSON report: {e}"))?;
        if !v["schema"]
            .as_str()
            .is_some_and(|s| s.starts_with("telltale.report/"))
        {
            return Err(format!(
                "{path} is not a telltale JSON report (no \"schema\": \"telltale.report/1\")"
            ));
        }
        let mut known = BTreeSet::new();
        for f in v["flows"].as_array().into_iter().flatten() {
            for n in f["names"].as_array().into_iter().flatten() {
                if let Some(name) = n["name"].as_str() {
                    known.insert(name.to_ascii_lowercase());
                }
            }
            for end in ["client", "server"] {
                if let Some(a) = f[end]["address"].as_str() {
                    known.insert(a.to_string());
                }
            }
        }
        for n in v["names"].as_array().into_iter().flatten() {
            if let Some(name) = n["name"].as_str() {
                known.insert(name.to_ascii_lowercase());
            }
        }
        Ok(Baseline {
            path: path.to_string(),
            known,
        })
    }

    /// The destination a flow is known by: its best name, else its remote address.
    pub fn destination(f: &FlowReport) -> String {
        f.primary_name().map_or_else(
            || f.remote().address.to_string(),
            |n| n.name.to_ascii_lowercase(),
        )
    }

    /// Whether one flow left for a destination the old report never saw.
    pub fn is_new(&self, f: &FlowReport) -> bool {
        f.locality != Locality::Local
            && !self.known.contains(&Self::destination(f))
            && !self.known.contains(&f.remote().address.to_string())
    }

    /// Marks the flows that left for a destination the old report never saw.
    pub fn mark(&self, flows: &mut [FlowReport]) -> BaselineReport {
        let mut new = BTreeSet::new();
        for f in flows.iter_mut() {
            if self.is_new(f) {
                f.new_destination = true;
                new.insert(Self::destination(f));
            }
        }
        BaselineReport {
            path: self.path.clone(),
            known: self.known.len(),
            new_destinations: new.into_iter().collect(),
        }
    }
}
