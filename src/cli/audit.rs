//! `telltale audit` and `telltale demo`: read captures through the pipeline and write
//! the reports.

use super::{AuditArgs, DemoArgs, EXIT_CLEAN, EXIT_FLAGGED, Failure, JudgeArgs, OutputArgs};
use crate::capture::file::{CaptureFormat, CaptureReader, InputDigest};
use crate::config::choices::{OptOutChoice, ScopeChoice};
use crate::pipeline::{Caps, Pipeline};
use crate::report::Report;
use crate::report::evidence::Evidence;
use crate::report::journal::Journal;
use crate::report::model::{Context, CutShort, Input, OptOut, RulesInfo};
use crate::report::output::{Destination, Outputs, write_outputs};
use crate::rules::conditions::Facts;
use crate::rules::scope::{self, AuditScope};
use crate::rules::verdict::Consent;
use crate::rules::{Matcher, Rules, load};
use std::sync::Arc;

/// The judging options, validated.
pub struct Judging {
    pub rules: Rules,
    /// The opt-out in force (on or off) and where it came from: the one place it is held.
    pub opt_out: OptOut,
    /// `--opt-out` as asked for: what a changed settings file is read again under.
    pub opt_out_choice: OptOutChoice,
    /// What the settings say, for the rules' conditions.
    pub facts: Option<Arc<Facts>>,
    /// `--scope`, if given; `--server-ip` as a scope of its own.
    pub scope: Option<AuditScope>,
    /// `--baseline`: the destinations an earlier report saw.
    pub baseline: Option<crate::report::baseline::Baseline>,
    /// The server's settings, when they were read.
    pub settings: Option<crate::settings::Settings>,
    /// What the user should know of how the judging was set up (settings that could not be read).
    pub warnings: Vec<String>,
}

impl Judging {
    /// What the pipeline judges under: the opt-out in force and the settings' facts.
    pub fn consent(&self) -> Consent {
        Consent {
            opted_out: self.opt_out.state.opted_out(),
            facts: self.facts.clone(),
        }
    }

    /// The scope in force: the one asked for, else `server` when processes can be seen
    /// (live capture on this host), else `host`.
    pub fn scope(&self, attribution: bool) -> AuditScope {
        match &self.scope {
            Some(s) => s.clone(),
            None if attribution => AuditScope::server(&self.rules),
            None => AuditScope::Host,
        }
    }
}

/// Where the settings come from when `--prefs` names none.
enum SettingsWithout {
    /// The usual places, for `--opt-out auto`.
    Look,
    /// These (the demo's).
    Given(crate::settings::Settings),
    /// None: `rules test`, whose `auto` is the strictest reading.
    Nothing,
}

impl Judging {
    pub fn from_args(a: &JudgeArgs) -> Result<Judging, Failure> {
        Self::build(a, SettingsWithout::Look)
    }

    /// As [`Judging::from_args`], with settings to use when `--prefs` does not name any (the demo's).
    pub fn from_args_with(
        a: &JudgeArgs,
        demo_settings: Option<crate::settings::Settings>,
    ) -> Result<Judging, Failure> {
        Self::build(
            a,
            demo_settings.map_or(SettingsWithout::Look, SettingsWithout::Given),
        )
    }

    /// As [`Judging::from_args`], reading no settings unless `--prefs` names them: `auto`
    /// is then the strictest reading, as for an audit that finds none.
    pub fn from_args_without_settings(a: &JudgeArgs) -> Result<Judging, Failure> {
        Self::build(a, SettingsWithout::Nothing)
    }

    fn build(a: &JudgeArgs, without: SettingsWithout) -> Result<Judging, Failure> {
        let mut rules = load::load_layers(&a.rules)
            .map_err(|e| Failure::usage(format!("invalid rules: {e}")))?;
        let scope = match (a.scope, a.server_ip) {
            (_, Some(ip)) => {
                // the audited machine is local, wherever its address lies
                rules.local_networks.push(ipnet::IpNet::from(ip));
                Some(AuditScope::ServerIp(ip))
            }
            (Some(ScopeChoice::Server), None) => Some(AuditScope::server(&rules)),
            (Some(ScopeChoice::Host), None) => Some(AuditScope::Host),
            (None, None) => None,
        };
        let mut warnings = Vec::new();
        let settings = match (&a.prefs, without) {
            (None, SettingsWithout::Given(demo)) => Some(demo),
            (None, SettingsWithout::Nothing) => None,
            _ => crate::settings::consent::load_settings(
                &rules,
                a.prefs.as_deref(),
                a.opt_out == OptOutChoice::Auto,
                &mut warnings,
            )?,
        };
        let (opt_out, facts) =
            crate::settings::consent::decide(&rules, a.opt_out, settings.as_ref());
        if let Some(f) = &facts {
            rules.apply_settings(f);
        }
        let baseline = match &a.baseline {
            None => None,
            Some(p) => {
                let label = p.display().to_string();
                let text = std::fs::read_to_string(p).map_err(|e| {
                    Failure::usage(format!("--baseline {label}: cannot read it: {e}"))
                })?;
                Some(
                    crate::report::baseline::Baseline::from_report_json(&label, &text)
                        .map_err(|e| Failure::usage(format!("--baseline: {e}")))?,
                )
            }
        };
        Ok(Judging {
            rules,
            scope,
            baseline,
            opt_out,
            opt_out_choice: a.opt_out,
            facts,
            settings,
            warnings,
        })
    }
}

/// Parses `--format`, `-o` and `--force` into what goes where. `all` is the bundle: every
/// format, the evidence and a manifest, into the folder `-o` names.
pub fn destinations(o: &OutputArgs) -> Result<Outputs, Failure> {
    let formats = o.format.formats.clone();
    let bundle = o.format.bundle;
    let reports = match (&o.output, formats.len()) {
        (None, _) if bundle => {
            return Err(Failure::usage(
                "--format all writes a bundle (report.json, report.md, report.html, flows.csv, evidence.pcapng, manifest.json) into a folder: add -o DIR",
            ));
        }
        (Some(p), _) if bundle && p.exists() && !p.is_dir() => {
            return Err(Failure::usage(format!(
                "--format all writes a bundle into a folder, and {} is not one",
                p.display()
            )));
        }
        (None, 1) => formats
            .into_iter()
            .map(|f| (f, Destination::Stdout))
            .collect(),
        (None, _) => {
            return Err(Failure::usage(
                "several formats need a directory to go to: add -o DIR (each format becomes DIR/report.<ext>)",
            ));
        }
        (Some(p), 1) if !p.is_dir() => formats
            .into_iter()
            .map(|f| (f, Destination::File(p.clone())))
            .collect(),
        (Some(p), _) => formats
            .into_iter()
            .map(|f| (f, Destination::File(p.join(f.file_name()))))
            .collect(),
    };
    Ok(Outputs {
        reports,
        evidence: None,
        bundle: if bundle { o.output.clone() } else { None },
        replace: o.force,
    })
}

/// Runs captures through one pipeline (in the order given) and builds the report.
pub fn audit_readers(readers: Vec<CaptureReader>, judging: &Judging, caps: Caps) -> Report {
    audit_readers_with_evidence(readers, judging, caps, false).0
}

/// As [`audit_readers`], and with `evidence` the packets of the flagged flows and the DNS
/// answers that named them.
pub fn audit_readers_with_evidence(
    readers: Vec<CaptureReader>,
    judging: &Judging,
    caps: Caps,
    evidence: bool,
) -> (Report, Option<Evidence>) {
    audit_readers_journaled(readers, judging, caps, evidence, None)
}

/// Appends the flows that ended since the last call to the journal (a failing journal
/// is reported once, and the audit goes on without it).
fn journal_ended(
    pipeline: &mut Pipeline,
    journal: &mut Option<&mut Journal>,
    done: &mut std::collections::HashSet<u64>,
) {
    let Some(j) = journal.as_deref_mut() else {
        return;
    };
    for f in pipeline.take_ended() {
        if let Err(e) = j.flow(&crate::report::model::FlowReport::from_flow(f)) {
            eprintln!(
                "telltale: warning: the journal cannot be written ({e}); going on without it"
            );
            *journal = None;
            return;
        }
        done.insert(f.id);
    }
}

/// As [`audit_readers_with_evidence`], appending each flow's verdict to `journal` the
/// moment it is decided.
pub fn audit_readers_journaled(
    readers: Vec<CaptureReader>,
    judging: &Judging,
    caps: Caps,
    evidence: bool,
    mut journal: Option<&mut Journal>,
) -> (Report, Option<Evidence>) {
    let mut journaled = std::collections::HashSet::new();
    let matcher = Arc::new(Matcher::new(judging.rules.clone()));
    let mut pipeline = Pipeline::new(matcher, judging.consent(), caps);
    if evidence {
        pipeline.keep_evidence();
    }
    if journal.is_some() {
        pipeline.hand_out_ended();
    }
    let mut inputs = Vec::new();
    for mut reader in readers {
        let info = reader.info();
        while let Some(pkt) = reader.next_packet() {
            pipeline.process(&pkt);
            if journal.is_some() {
                journal_ended(&mut pipeline, &mut journal, &mut journaled);
            }
        }
        let name = reader.name().to_string();
        let summary = reader.finish();
        inputs.push(Input {
            path: name,
            format: format!(
                "{}{}",
                match info.format {
                    CaptureFormat::Pcap => "pcap",
                    CaptureFormat::PcapNg => "pcapng",
                },
                if info.gzip { "+gzip" } else { "" }
            ),
            sha256: summary.sha256,
            bytes: summary.bytes,
            packets: summary.packets,
            cut_short: summary.truncation.map(|t| CutShort {
                offset: t.offset,
                what: t.what,
            }),
        });
    }
    let (mut result, store) = pipeline.finish_with_evidence();
    if let Some(jn) = journal {
        // the flows the end of the capture decided, and any verdict a budget changed
        for f in &result.flows {
            let report = crate::report::model::FlowReport::from_flow(f);
            let changed = f
                .verdict
                .as_ref()
                .is_some_and(|v| v.class == Some(crate::rules::verdict::VerdictClass::OverBudget));
            if !journaled.contains(&f.id) || changed {
                let _ = jn.flow(&report);
            }
        }
    }
    let chosen = judging.scope(false);
    let mut warnings = Vec::new();
    if matches!(chosen, AuditScope::Server { .. }) {
        warnings.push(
            "--scope server needs to see processes (a live capture on the server's host); a capture file shows none, so every flow is kept".to_string(),
        );
    }
    let scope = scope::apply(&chosen, &mut result.flows);
    let mut report = Report::build(
        result,
        Context {
            inputs,
            live: None,
            scope,
            baseline: judging.baseline.clone(),
            settings: judging.settings.clone(),
            rules: RulesInfo::from_rules(&judging.rules),
            opt_out: judging.opt_out.clone(),
            generated_at: crate::time::now(),
            warnings: judging.warnings.iter().cloned().chain(warnings).collect(),
        },
    );
    let evidence = store.map(|s| Evidence::for_report(s, &mut report));
    (report, evidence)
}

/// The caps of a run: the defaults, with `--max-flows` if given.
pub fn caps_of(a: &AuditArgs) -> Result<Caps, Failure> {
    let mut caps = Caps::default();
    if let Some(n) = a.max_flows {
        if n == 0 {
            return Err(Failure::usage(
                "--max-flows takes a number of flows, at least 1",
            ));
        }
        caps.flows.max_flows = n;
        caps.flow_records = (n / 2).max(1);
    }
    Ok(caps)
}

pub fn run(a: &AuditArgs) -> Result<i32, Failure> {
    let judging = Judging::from_args(&a.judge)?;
    let mut dest = destinations(&a.out)?;
    dest.evidence = a.evidence.clone();
    // refuse now what writing would refuse at the end, before a long read or capture
    dest.preflight()?;
    if let Some(interface) = &a.interface {
        return super::live_audit::run(a, interface, &judging, &dest);
    }
    let digest = if a.no_digest {
        InputDigest::Skip
    } else {
        InputDigest::Sha256
    };
    let mut readers = Vec::new();
    for path in &a.captures {
        // The reader's messages name the file themselves.
        let r =
            CaptureReader::open_with(path, digest).map_err(|e| Failure::usage(e.to_string()))?;
        readers.push(r);
    }
    let mut journal = match &a.journal {
        Some(p) => Some(
            Journal::create(p, &RulesInfo::from_rules(&judging.rules), &judging.opt_out)
                .map_err(|e| Failure::usage(format!("--journal {}: {e}", p.display())))?,
        ),
        None => None,
    };
    let (report, evidence) = audit_readers_journaled(
        readers,
        &judging,
        caps_of(a)?,
        dest.wants_evidence(),
        journal.as_mut(),
    );
    if let Some(j) = journal.as_mut() {
        let _ = j.end(&report.counters, &report.inputs);
    }
    for w in &report.warnings {
        eprintln!("telltale: warning: {}", crate::report::text::neutralise(w));
    }
    write_outputs(&report, evidence.as_ref(), &dest)?;
    Ok(if report.flagged() > 0 {
        EXIT_FLAGGED
    } else {
        EXIT_CLEAN
    })
}

/// The built-in demo capture, audited. Exits 0: the flagged flows are the point of the demo.
pub fn run_demo(d: &DemoArgs) -> Result<i32, Failure> {
    let judging = Judging::from_args_with(&d.judge, crate::demo::demo_settings())?;
    let dest = destinations(&d.out)?;
    dest.preflight()?;
    let reader = demo_reader()?;
    let (report, evidence) = audit_readers_with_evidence(
        vec![reader],
        &judging,
        Caps::default(),
        dest.wants_evidence(),
    );
    write_outputs(&report, evidence.as_ref(), &dest)?;
    Ok(EXIT_CLEAN)
}

pub fn demo_reader() -> Result<CaptureReader, Failure> {
    CaptureReader::from_reader(
        "builtin:demo.pcapng",
        Box::new(std::io::Cursor::new(crate::demo::DEMO_CAPTURE)),
    )
    .map_err(|e| Failure::usage(format!("the built-in demo capture is unreadable: {e}")))
}

/// The demo capture's report, as `telltale demo` makes it with its default options: the
/// built-in Plex rules, judged with the demo server's settings (for tests and benchmarks).
pub fn demo_report() -> Result<Report, Failure> {
    let judging = Judging::from_args_with(
        &JudgeArgs::builtin("plex", OptOutChoice::Auto),
        crate::demo::demo_settings(),
    )?;
    Ok(audit_readers(
        vec![demo_reader()?],
        &judging,
        Caps::default(),
    ))
}

#[cfg(test)]
pub fn demo_report_for_tests() -> Report {
    demo_report().expect("the demo capture audits")
}
