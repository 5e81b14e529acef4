//! Test helpers: the demo's report with a flagged flow of each of the four classes a reader
//! must tell apart, rebuilt so that its summary counts the classes it now holds.

use super::model::{Context, FlowReport, Report};
use crate::names::{FlowName, NameSource};
use crate::rules::verdict::VerdictClass;

/// The demo's report (opted out), with flows 13 and 38 still at collection endpoints, 40 still
/// a third party, 15 turned into a host of the vendor's own domain that no rule names, and the
/// unnamed 41 into a flow that cannot be judged. The demo holds no such flows of its own: a
/// renderer's test needs all four side by side.
pub fn four_classes() -> Report {
    let report = crate::audit::demo_report_for_tests();
    let mut flows = report.flows.clone();
    for f in &mut flows {
        match f.id {
            15 => {
                f.names = vec![FlowName {
                    name: "edge7.plex.bz".into(),
                    source: NameSource::TlsSni,
                    learned_at: f.first_seen,
                    ttl: None,
                    ech_outer: false,
                }];
                unexplained(
                    f,
                    VerdictClass::VendorUndeclared,
                    "edge7.plex.bz (tls_sni): edge7.plex.bz is Plex Media Server's own domain (plex.bz), but no rule states what this host is for",
                );
            }
            41 => unexplained(
                f,
                VerdictClass::CannotJudge,
                "it cannot be judged: no name was seen on the wire for it, and no rule covers its address or port",
            ),
            _ => {}
        }
    }
    rebuilt(&report, flows)
}

fn unexplained(f: &mut FlowReport, class: VerdictClass, reason: &str) {
    f.verdict.class = Some(class);
    f.verdict.category = "unexplained".into();
    f.verdict.rule = None;
    f.verdict.also.clear();
    f.verdict.reason = reason.into();
}

/// `report` made again from these flows: its summary and rule counts are theirs.
pub fn rebuilt(report: &Report, flows: Vec<FlowReport>) -> Report {
    let mut rules = report.rules.clone();
    for r in &mut rules.rules {
        r.flows = 0;
        r.bytes_out = 0;
    }
    let result = crate::pipeline::AuditResult {
        flows: Vec::new(),
        groups: report.flow_groups.clone(),
        inventory: crate::names::inventory::Inventory::new(0),
        counters: report.counters.clone(),
        first_ts: report.capture_start,
        last_ts: report.capture_end,
    };
    let ctx = Context {
        inputs: report.inputs.clone(),
        live: report.live.clone(),
        scope: report.scope.clone(),
        baseline: None,
        settings: report.settings.clone(),
        rules,
        opt_out: report.opt_out.clone(),
        generated_at: report.generated_at,
        warnings: report.warnings.clone(),
    };
    let mut out = Report::from_flow_reports(flows, result, ctx);
    out.names = report.names.clone();
    out
}
