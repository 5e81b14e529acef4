//! `telltale audit` and `telltale demo`: read captures through the pipeline and write
//! the reports.

use super::output::{Destination, write_reports};
use super::{AuditArgs, DemoArgs, EXIT_CLEAN, EXIT_FLAGGED, Failure, JudgeArgs, OutputArgs};
use crate::capture::file::{CaptureFormat, CaptureReader};
use crate::pipeline::{Caps, Pipeline};
use crate::report::model::{Context, CutShort, Input, OptOut, RulesInfo};
use crate::report::{Format, Report};
use crate::rules::scope::{self, AuditScope};
use crate::rules::verdict::Consent;
use crate::rules::{Matcher, Rules, load};
use std::sync::Arc;

/// The judging options, validated.
pub struct Judging {
    pub rules: Rules,
    pub consent: Consent,
    pub opt_out: OptOut,
    /// `--scope`, if given; `--server-ip` as a scope of its own.
    pub scope: Option<AuditScope>,
    /// `--baseline`: the destinations an earlier report saw.
    pub baseline: Option<crate::report::baseline::Baseline>,
    /// The server's settings, when they were read.
    pub settings: Option<crate::settings::Settings>,
    /// `--opt-out` as given (`auto`, `on`, `off`).
    pub opt_out_choice: String,
    /// What the user should know of how the judging was set up (settings that could not be read).
    pub warnings: Vec<String>,
}

impl Judging {
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

impl Judging {
    pub fn from_args(a: &JudgeArgs) -> Result<Judging, Failure> {
        Self::from_args_with(a, None)
    }

    /// As [`Judging::from_args`], with settings to use when `--prefs` does not name any (the demo's).
    pub fn from_args_with(
        a: &JudgeArgs,
        demo_settings: Option<crate::settings::Settings>,
    ) -> Result<Judging, Failure> {
        let mut rules =
            load::load(&a.rules).map_err(|e| Failure::usage(format!("invalid rules: {e}")))?;
        let scope = match (a.scope.as_deref(), a.server_ip) {
            (_, Some(ip)) => {
                // the audited machine is local, wherever its address lies
                rules.local_networks.push(ipnet::IpNet::from(ip));
                Some(AuditScope::ServerIp(ip))
            }
            (Some("server"), None) => Some(AuditScope::server(&rules)),
            (Some("host"), None) => Some(AuditScope::Host),
            (Some(other), None) => {
                return Err(Failure::usage(format!(
                    "--scope takes `server` or `host`, not `{other}`"
                )));
            }
            (None, None) => None,
        };
        let mut warnings = Vec::new();
        let settings = match (&a.prefs, demo_settings) {
            (None, Some(demo)) => Some(demo),
            _ => super::consent::load_settings(
                &rules,
                a.prefs.as_deref(),
                a.opt_out.trim() == "auto",
                &mut warnings,
            )?,
        };
        let (opted_out, opt_out, facts) =
            super::consent::decide(&rules, &a.opt_out, settings.as_ref())?;
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
            consent: Consent { opted_out, facts },
            opt_out,
            settings,
            warnings,
            opt_out_choice: a.opt_out.trim().to_string(),
        })
    }
}

/// Parses `--format` and `-o` into where each format goes.
pub fn destinations(o: &OutputArgs) -> Result<Vec<(Format, Destination)>, Failure> {
    let mut formats = Vec::new();
    for part in o.format.split(',').filter(|p| !p.trim().is_empty()) {
        let f = Format::parse(part).ok_or_else(|| {
            Failure::usage(format!(
                "--format: unknown format `{}`; expected md or json (comma-separated)",
                part.trim()
            ))
        })?;
        if !formats.contains(&f) {
            formats.push(f);
        }
    }
    if formats.is_empty() {
        return Err(Failure::usage(
            "--format: name at least one format (md, json)",
        ));
    }
    match (&o.output, formats.len()) {
        (None, 1) => Ok(formats
            .into_iter()
            .map(|f| (f, Destination::Stdout))
            .collect()),
        (None, _) => Err(Failure::usage(
            "several formats need a directory to go to: add -o DIR (each format becomes DIR/report.<ext>)",
        )),
        (Some(p), 1) if !p.is_dir() => Ok(formats
            .into_iter()
            .map(|f| (f, Destination::File(p.clone())))
            .collect()),
        (Some(p), _) => Ok(formats
            .into_iter()
            .map(|f| (f, Destination::File(p.join(f.file_name()))))
            .collect()),
    }
}

/// Runs captures through one pipeline (in the order given) and builds the report.
pub fn audit_readers(readers: Vec<CaptureReader>, judging: &Judging, caps: Caps) -> Report {
    let matcher = Arc::new(Matcher::new(judging.rules.clone()));
    let mut pipeline = Pipeline::new(matcher, judging.consent.clone(), caps);
    let mut inputs = Vec::new();
    for mut reader in readers {
        let info = reader.info();
        while let Some(pkt) = reader.next_packet() {
            pipeline.process(&pkt);
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
    let mut result = pipeline.finish();
    let chosen = judging.scope(false);
    let mut warnings = Vec::new();
    if matches!(chosen, AuditScope::Server { .. }) {
        warnings.push(
            "--scope server needs to see processes (a live capture on the server's host); a capture file shows none, so every flow is kept".to_string(),
        );
    }
    let scope = scope::apply(&chosen, &mut result.flows);
    Report::build(
        &result,
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
    )
}

pub fn run(a: &AuditArgs) -> Result<i32, Failure> {
    let judging = Judging::from_args(&a.judge)?;
    let dest = destinations(&a.out)?;
    if let Some(interface) = &a.interface {
        return super::live_audit::run(a, interface, &judging, &dest);
    }
    let mut readers = Vec::new();
    for path in &a.captures {
        // The reader's messages name the file themselves.
        let r = CaptureReader::open(path).map_err(|e| Failure::usage(e.to_string()))?;
        readers.push(r);
    }
    let report = audit_readers(readers, &judging, Caps::default());
    for w in &report.warnings {
        eprintln!("telltale: warning: {}", crate::report::text::neutralise(w));
    }
    write_reports(&report, &dest)?;
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
    let reader = demo_reader()?;
    let report = audit_readers(vec![reader], &judging, Caps::default());
    write_reports(&report, &dest)?;
    Ok(EXIT_CLEAN)
}

pub fn demo_reader() -> Result<CaptureReader, Failure> {
    CaptureReader::from_reader(
        "builtin:demo.pcapng",
        Box::new(std::io::Cursor::new(crate::demo::DEMO_CAPTURE)),
    )
    .map_err(|e| Failure::usage(format!("the built-in demo capture is unreadable: {e}")))
}
