//! The offline audit: captures read through one pipeline into a report, under an
//! [`AuditConfig`] (the rules, the opt-out in force, the settings, the scope and a
//! baseline, validated from an [`AuditSpec`]). `telltale audit`, `telltale demo` and
//! `rules test` drive it; so do the tests, the benchmarks and the fuzz targets.

use crate::capture::file::{CaptureFormat, CaptureReader};
use crate::config::choices::{OptOutChoice, ScopeChoice};
use crate::pipeline::{Caps, Pipeline};
use crate::report::Report;
use crate::report::evidence::Evidence;
use crate::report::journal::Journal;
use crate::report::model::{Context, CutShort, Input, LiveCapture, OptOut, ReportBasis, RulesInfo};
use crate::rules::conditions::Facts;
use crate::rules::scope::{self, AuditScope, ScopeReport};
use crate::rules::verdict::Consent;
use crate::rules::{Matcher, Rules, load};
use crate::settings::consent::{PrefsError, decide, load_settings};
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;

/// How to judge an audit, as asked for: the rules (a built-in name or a path; later layers
/// over earlier), the owner's data-sharing choice, the settings file, the scope and a
/// baseline report. [`AuditConfig`] validates it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditSpec {
    pub rules: Vec<String>,
    pub opt_out: OptOutChoice,
    pub prefs: Option<PathBuf>,
    pub scope: Option<ScopeChoice>,
    pub server_ip: Option<IpAddr>,
    pub baseline: Option<PathBuf>,
}

impl AuditSpec {
    /// Rules and an opt-out choice, with no settings file, scope or baseline (as the tests, the
    /// benchmarks and the demo's report judge).
    pub fn builtin(rules: &str, opt_out: OptOutChoice) -> AuditSpec {
        AuditSpec {
            rules: vec![rules.into()],
            opt_out,
            prefs: None,
            scope: None,
            server_ip: None,
            baseline: None,
        }
    }
}

/// Why an [`AuditSpec`] could not be made an [`AuditConfig`], or the demo capture not read.
/// The messages are the ones the command line prints.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error("invalid rules: {0}")]
    Rules(String),
    #[error(transparent)]
    Prefs(#[from] PrefsError),
    #[error("--baseline {label}: cannot read it: {source}")]
    BaselineUnreadable {
        label: String,
        source: std::io::Error,
    },
    #[error("--baseline: {0}")]
    Baseline(String),
    #[error("the built-in demo capture is unreadable: {0}")]
    DemoCapture(String),
}

/// The audit's configuration, validated: what the pipeline judges under and what the
/// report says of it.
pub struct AuditConfig {
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

impl AuditConfig {
    /// What the pipeline judges under: the opt-out in force and the settings' facts.
    pub fn consent(&self) -> Consent {
        Consent {
            opted_out: self.opt_out.state.opted_out(),
            facts: self.facts.clone(),
        }
    }

    /// How a report made under this configuration was judged.
    pub fn basis(&self) -> ReportBasis {
        ReportBasis {
            rules: RulesInfo::from_rules(&self.rules),
            opt_out: self.opt_out.clone(),
            settings: self.settings.clone(),
            baseline: self.baseline.clone(),
            warnings: self.warnings.clone(),
        }
    }

    /// A report's context under this configuration ([`Context::new`]): the inputs, the live
    /// capture if any, the scope, and this run's warnings after the configuration's own.
    pub fn context(
        &self,
        inputs: Vec<Input>,
        live: Option<LiveCapture>,
        scope: ScopeReport,
        warnings: Vec<String>,
    ) -> Context {
        Context::new(self.basis(), inputs, live, scope, warnings)
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

impl AuditConfig {
    pub fn new(a: &AuditSpec) -> Result<AuditConfig, AuditError> {
        Self::build(a, SettingsWithout::Look)
    }

    /// As [`AuditConfig::new`], with settings to use when `--prefs` does not name any (the demo's).
    pub fn with_settings(
        a: &AuditSpec,
        demo_settings: Option<crate::settings::Settings>,
    ) -> Result<AuditConfig, AuditError> {
        Self::build(
            a,
            demo_settings.map_or(SettingsWithout::Look, SettingsWithout::Given),
        )
    }

    /// As [`AuditConfig::new`], reading no settings unless `--prefs` names them: `auto`
    /// is then the strictest reading, as for an audit that finds none.
    pub fn without_settings(a: &AuditSpec) -> Result<AuditConfig, AuditError> {
        Self::build(a, SettingsWithout::Nothing)
    }

    fn build(a: &AuditSpec, without: SettingsWithout) -> Result<AuditConfig, AuditError> {
        let mut rules =
            load::load_layers(&a.rules).map_err(|e| AuditError::Rules(e.to_string()))?;
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
            _ => load_settings(
                &rules,
                a.prefs.as_deref(),
                a.opt_out == OptOutChoice::Auto,
                &mut warnings,
            )?,
        };
        let (opt_out, facts) = decide(&rules, a.opt_out, settings.as_ref());
        if let Some(f) = &facts {
            rules.apply_settings(f);
        }
        let baseline = match &a.baseline {
            None => None,
            Some(p) => {
                let label = p.display().to_string();
                let text = std::fs::read_to_string(p).map_err(|source| {
                    AuditError::BaselineUnreadable {
                        label: label.clone(),
                        source,
                    }
                })?;
                Some(
                    crate::report::baseline::Baseline::from_report_json(&label, &text)
                        .map_err(|e| AuditError::Baseline(e.to_string()))?,
                )
            }
        };
        Ok(AuditConfig {
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

/// Runs captures through one pipeline (in the order given) and builds the report.
pub fn audit_readers(readers: Vec<CaptureReader>, config: &AuditConfig, caps: Caps) -> Report {
    audit_readers_with_evidence(readers, config, caps, false).0
}

/// As [`audit_readers`], and with `evidence` the packets of the flagged flows and the DNS
/// answers that named them.
pub fn audit_readers_with_evidence(
    readers: Vec<CaptureReader>,
    config: &AuditConfig,
    caps: Caps,
    evidence: bool,
) -> (Report, Option<Evidence>) {
    audit_readers_journaled(readers, config, caps, evidence, None)
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
    readers: impl IntoIterator<Item = CaptureReader>,
    config: &AuditConfig,
    caps: Caps,
    evidence: bool,
    mut journal: Option<&mut Journal>,
) -> (Report, Option<Evidence>) {
    let mut journaled = std::collections::HashSet::new();
    let matcher = Arc::new(Matcher::new(config.rules.clone()));
    let mut pipeline = Pipeline::new(matcher, config.consent(), caps);
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
    let chosen = config.scope(false);
    let mut warnings = Vec::new();
    if matches!(chosen, AuditScope::Server { .. }) {
        warnings.push(
            "--scope server needs to see processes (a live capture on the server's host); a capture file shows none, so every flow is kept".to_string(),
        );
    }
    let scope = scope::apply(&chosen, &mut result.flows);
    let mut report = Report::build(result, config.context(inputs, None, scope, warnings));
    let evidence = store.map(|s| Evidence::for_report(s, &mut report));
    (report, evidence)
}

pub fn demo_reader() -> Result<CaptureReader, AuditError> {
    CaptureReader::from_reader(
        "builtin:demo.pcapng",
        Box::new(std::io::Cursor::new(crate::demo::DEMO_CAPTURE)),
    )
    .map_err(|e| AuditError::DemoCapture(e.to_string()))
}

/// The demo capture's report, as `telltale demo` makes it with its default options: the
/// built-in Plex rules, judged with the demo server's settings (for tests and benchmarks).
pub fn demo_report() -> Result<Report, AuditError> {
    let config = AuditConfig::with_settings(
        &AuditSpec::builtin("plex", OptOutChoice::Auto),
        crate::demo::demo_settings(),
    )?;
    Ok(audit_readers(
        vec![demo_reader()?],
        &config,
        Caps::default(),
    ))
}

#[cfg(test)]
pub fn demo_report_for_tests() -> Report {
    demo_report().expect("the demo capture audits")
}
