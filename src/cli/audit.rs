//! `telltale audit` and `telltale demo`: read captures through the pipeline and write
//! the reports.

use super::{AuditArgs, DemoArgs, EXIT_CLEAN, EXIT_FLAGGED, Failure, OutputArgs};
use telltale::audit::{
    AuditConfig, audit_readers_journaled, audit_readers_with_evidence, demo_reader,
};
use telltale::capture::file::{CaptureReader, InputDigest};
use telltale::history::RunKind;
use telltale::pipeline::Caps;
use telltale::report::journal::Journal;
use telltale::report::model::RulesInfo;
use telltale::report::output::{Destination, Outputs, write_outputs};

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

/// Evidence bytes `--max-flows` allows a flow.
const EVIDENCE_PER_FLOW: usize = 4 << 10;

/// The caps of a run: the defaults, with `--max-flows` if given.
pub fn caps_of(a: &AuditArgs) -> Result<Caps, Failure> {
    caps_with(a.max_flows)
}

/// The default caps, with `--max-flows` if given.
pub fn caps_with(max_flows: Option<usize>) -> Result<Caps, Failure> {
    let mut caps = Caps::default();
    if let Some(n) = max_flows {
        if n == 0 {
            return Err(Failure::usage(
                "--max-flows takes a number of flows, at least 1",
            ));
        }
        caps.flows.max_flows = n;
        caps.flow_records = (n / 2).max(1);
        // the evidence kept grows with the flows: bounded with them (4 KiB a flow, at most the
        // default), so a session of weeks holds a fixed amount
        caps.evidence_bytes = caps.evidence_bytes.min(n.saturating_mul(EVIDENCE_PER_FLOW));
    }
    Ok(caps)
}

/// `--journal`, opened (and rotated as `--journal-rotate` says).
pub fn open_journal(a: &AuditArgs, config: &AuditConfig) -> Result<Option<Journal>, Failure> {
    let Some(p) = &a.journal else {
        return Ok(None);
    };
    Journal::create_rotating(
        p,
        &RulesInfo::from_rules(&config.rules),
        &config.opt_out,
        a.journal_rotate.unwrap_or_default(),
        a.journal_keep,
    )
    .map(Some)
    .map_err(|e| Failure::usage(format!("--journal {}: {e}", p.display())))
}

pub fn run(a: &AuditArgs) -> Result<i32, Failure> {
    let config = a.judge.config(&a.history)?;
    let mut dest = destinations(&a.out)?;
    dest.evidence = a.evidence.clone();
    // refuse now what writing would refuse at the end, before a long read or capture
    dest.preflight()?;
    if let Some(interface) = &a.interface {
        return super::live_audit::run(a, interface, &config, &dest);
    }
    if a.hook.on_flagged.is_some() {
        return Err(Failure::usage(
            "--on-flagged is for live runs (audit -i, watch): a capture file's flows are all in its report",
        ));
    }
    let digest = if a.no_digest {
        InputDigest::Skip
    } else {
        InputDigest::Sha256
    };
    // every file is checked before anything is read (a wrong path fails at once), then each is
    // opened again when its turn comes: one file's read-ahead (its threads and buffers) at a
    // time, however many files there are. Standard input cannot be opened twice: it is kept.
    let mut stdin = None;
    for path in &a.captures {
        // The reader's messages name the file themselves.
        let check = if path.as_os_str() == "-" {
            digest
        } else {
            InputDigest::Skip
        };
        let r = CaptureReader::open_with(path, check).map_err(|e| Failure::usage(e.to_string()))?;
        if path.as_os_str() == "-" {
            stdin = Some(r);
        }
    }
    let late_errors = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let errors = late_errors.clone();
    let paths = a.captures.clone();
    let readers = paths.into_iter().filter_map(move |p| {
        if p.as_os_str() == "-" {
            return stdin.take();
        }
        match CaptureReader::open_with(&p, digest) {
            Ok(r) => Some(r),
            Err(e) => {
                // readable a moment ago, not now: said in the report, the rest still read
                if let Ok(mut v) = errors.lock() {
                    v.push(format!(
                        "{e}; it was readable when the audit began, and is not in this report"
                    ));
                }
                None
            }
        }
    });
    let recorder = super::history::start(&a.history, RunKind::Audit)?;
    let mut journal = open_journal(a, &config)?;
    let (mut report, evidence) = audit_readers_journaled(
        readers,
        &config,
        caps_of(a)?,
        dest.wants_evidence(),
        journal.as_mut(),
    );
    if let Ok(mut v) = late_errors.lock() {
        report.warnings.append(&mut v);
    }
    if let Some(r) = recorder {
        r.finish_into(&mut report, dest.wants_html());
    }
    if let Some(j) = journal.as_mut() {
        let _ = j.end(&report.counters, &report.inputs);
    }
    for w in &report.warnings {
        eprintln!("telltale: warning: {}", telltale::text::neutralise(w));
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
    let config = AuditConfig::with_settings(&(&d.judge).into(), telltale::demo::demo_settings())?;
    let dest = destinations(&d.out)?;
    dest.preflight()?;
    let reader = demo_reader()?;
    let (report, evidence) = audit_readers_with_evidence(
        vec![reader],
        &config,
        Caps::default(),
        dest.wants_evidence(),
    );
    write_outputs(&report, evidence.as_ref(), &dest)?;
    Ok(EXIT_CLEAN)
}
