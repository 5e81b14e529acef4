//! `telltale audit -i IFACE [--duration D]`: a live capture with no terminal UI, for cron
//! and systemd. It captures until the duration ends or SIGINT/SIGTERM arrives, then
//! writes the same reports as an offline audit, with what libpcap and telltale dropped.
//! A panic ends it too, with the report written as far as the audit got and the exit
//! status [`EXIT_INTERNAL`](super::EXIT_INTERNAL): the capture thread's through the
//! panic hook's flag (`live::fault`), which the loop looks at; the loop's own is caught,
//! and the report made from the pipeline as the panic left it.

use super::{AuditArgs, EXIT_CLEAN, EXIT_ERROR, EXIT_FLAGGED, Failure};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{RecvTimeoutError, sync_channel};
use std::time::{Duration, Instant};
use telltale::attrib::Attributor;
use telltale::audit::AuditConfig;
use telltale::history::RunKind;
use telltale::live::attribution::FlowAttribution;
use telltale::live::fault;
use telltale::live::source::{CaptureMsg, Feed, ToPipeline, open_live, spawn_live};
use telltale::pipeline::Pipeline;
use telltale::report::evidence::Evidence;
use telltale::report::model::FlowReport;
use telltale::report::model::{Input, LiveCapture, Report};
use telltale::report::output::{Outputs, write_outputs};
use telltale::rules::Matcher;
use telltale::rules::scope;
use telltale::text;

/// `90s`, `10m`, `2h`, `1h30m`, or a plain number of seconds.
pub fn parse_duration(s: &str) -> Result<Duration, Failure> {
    if let Ok(secs) = s.trim().parse::<u64>() {
        return Ok(Duration::from_secs(secs));
    }
    super::history::parse_length("--duration", s)
}

/// Appends a flow to the journal; a journal that fails is said once, and the run goes on.
fn journal_flow(failed: &mut bool, j: &mut telltale::report::journal::Journal, f: &FlowReport) {
    if *failed {
        return;
    }
    if let Err(e) = j.flow(f) {
        eprintln!("telltale: warning: the journal cannot be written ({e}); going on without it");
        *failed = true;
    }
}

/// Where the flows go as they end: the hook, the journal, the history (each if asked for).
struct Takers {
    hook: Option<telltale::live::hook::Hook>,
    journal: Option<telltale::report::journal::Journal>,
    /// Set once a journal write failed (said once; nothing more is written).
    journal_failed: bool,
    recorder: Option<telltale::history::recorder::Recorder>,
    /// When open flows were last judged for the hook.
    judged_live: Instant,
}

impl Takers {
    fn any(&self) -> bool {
        self.hook.is_some() || self.journal.is_some() || self.recorder.is_some()
    }

    /// Hands the flows (in scope) that ended since the last call to each taker; the history
    /// commits if its second is up.
    fn take_ended(&mut self, pipeline: &mut Pipeline, in_scope: &scope::AuditScope) {
        if self.any() {
            for f in pipeline.take_ended() {
                if !in_scope.includes(f) {
                    continue;
                }
                let report = FlowReport::from_flow(f);
                if let Some(h) = self.hook.as_mut() {
                    h.flagged(&report);
                }
                if let Some(j) = self.journal.as_mut() {
                    journal_flow(&mut self.journal_failed, j, &report);
                }
                if let Some(r) = self.recorder.as_mut() {
                    r.queue(report);
                }
            }
        }
        if let Some(h) = self.hook.as_mut() {
            h.forget_gone(pipeline);
        }
        if let Some(r) = self.recorder.as_mut() {
            r.commit_if_due();
        }
    }

    /// Once a second, the hook hears of a flow still open that is flagged as it stands: a
    /// long-lived connection is told without waiting for its end. Judged in place; only a
    /// flagged flow the hook has not heard of is copied.
    fn tell_open(&mut self, pipeline: &Pipeline, in_scope: &scope::AuditScope) {
        let Some(h) = self.hook.as_mut() else { return };
        if self.judged_live.elapsed() < Duration::from_secs(1) {
            return;
        }
        self.judged_live = Instant::now();
        for f in pipeline.live() {
            if !in_scope.includes(f) || h.has_told(f.id) {
                continue;
            }
            let verdict = pipeline.judge(f);
            if verdict.kind == telltale::rules::verdict::VerdictKind::Flagged {
                let mut judged = f.clone();
                judged.verdict = Some(verdict);
                h.flagged(&FlowReport::from_flow(&judged));
            }
        }
    }

    /// The end of the run: the flows still open when the capture ended (every other one was
    /// handed on as it ended) go to the journal, then its end line, and to the hook, which
    /// gets [`HOOK_GRACE`] for its queued calls; the history ends the run with the report.
    fn finish(mut self, report: &mut Report, chart: bool) {
        let open: Vec<&FlowReport> = report
            .flows
            .iter()
            .filter(|f| f.ended_by == telltale::flows::EndReason::End)
            .collect();
        if let Some(j) = self.journal.as_mut() {
            for f in &open {
                journal_flow(&mut self.journal_failed, j, f);
            }
            if !self.journal_failed {
                let _ = j.end(&report.counters, &report.inputs);
            }
        }
        if let Some(mut h) = self.hook {
            for f in &open {
                h.flagged(f);
            }
            report.hook = Some(h.finish(HOOK_GRACE));
        }
        if let Some(r) = self.recorder {
            r.finish_into(report, chart);
        }
    }
}

/// How long the hook's last calls may take once the capture has ended.
pub const HOOK_GRACE: Duration = Duration::from_secs(10);

pub fn run(
    a: &AuditArgs,
    interface: &str,
    config: &AuditConfig,
    dest: &Outputs,
) -> Result<i32, Failure> {
    let duration = a.duration.as_deref().map(parse_duration).transpose()?;
    let cap = open_live(interface, a.filter.as_deref(), a.promisc).map_err(|e| Failure {
        message: e.to_string(),
        code: EXIT_ERROR,
    })?;
    // Attribution's kernel events are loaded while the privilege to load them is still held
    // (CAP_BPF and CAP_PERFMON, or root); they are not kept after.
    let mut attributor = FlowAttribution::new(Attributor::new());
    let attribution = !a.no_attribution && attributor.attributor.available();
    if attribution {
        attributor = attributor.with_kernel_events();
    }
    // the handle is open: nothing else needs privilege (before any thread starts)
    let dropped = super::drop_privileges(telltale::privilege::Need::Attribution);

    let stop_requested = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(sig, stop_requested.clone())
            .map_err(|e| Failure::usage(format!("cannot watch for signals: {e}")))?;
    }
    // at most QUEUE_BATCHES batches (1 MiB each at most) wait for the pipeline: a longer backlog
    // waits in the kernel's capture buffer, whose size is fixed, so a burst does not grow the heap
    let (tx, rx) = sync_channel::<ToPipeline>(telltale::live::source::QUEUE_BATCHES);
    let queue_drops = Arc::new(AtomicU64::new(0));
    let feed = Feed {
        tx,
        queue_drops: queue_drops.clone(),
        stop: Arc::new(AtomicBool::new(false)),
    };
    let matcher = Arc::new(Matcher::new(config.rules.clone()));
    let mut pipeline = Pipeline::new(matcher, config.consent(), super::audit::caps_of(a)?);
    if dest.wants_evidence() {
        pipeline.keep_evidence();
    }
    if attribution {
        pipeline.track_new_flows();
    }
    let mut takers = Takers {
        recorder: super::history::start(&a.history, RunKind::AuditLive)?,
        hook: a.hook.start()?,
        journal: super::audit::open_journal(a, config)?,
        journal_failed: false,
        judged_live: Instant::now(),
    };
    if takers.any() {
        // flows go to the history (about once a second), the journal and the hook as they end
        pipeline.hand_out_ended();
    }
    let in_scope = config.scope(attribution);
    let started = Instant::now();
    let running = spawn_live(cap, feed);
    eprintln!(
        "telltale: capturing on {interface}{} ({}); {}",
        a.filter
            .as_deref()
            .map(|f| format!(" ({f})"))
            .unwrap_or_default(),
        dropped.map_or_else(|| "privileges not dropped".to_string(), |d| d.to_string()),
        match duration {
            Some(d) => format!("the report comes after {} s, or on Ctrl-C", d.as_secs()),
            None => "the report comes on Ctrl-C (SIGINT) or SIGTERM".to_string(),
        }
    );

    let mut kernel = 0;
    let mut iface = 0;
    let mut failure: Option<String> = None;
    let mut handle =
        |msg: ToPipeline, pipeline: &mut Pipeline, attributor: &mut FlowAttribution| match msg {
            ToPipeline::Capture(CaptureMsg::Batch(b)) => {
                b.packets().for_each(|p| pipeline.process(&p));
                if attribution {
                    attributor.run(pipeline, false);
                }
            }
            ToPipeline::Capture(CaptureMsg::Stats {
                kernel: k,
                interface: i,
            }) => {
                kernel = k;
                iface = i;
            }
            ToPipeline::Capture(CaptureMsg::Failed(why)) => failure = Some(why),
            _ => {}
        };
    // `TELLTALE_FAULT=panic:main`: this loop panics once some packets are audited
    let fault = fault::injected("main");
    let pumped = catch_unwind(AssertUnwindSafe(|| {
        loop {
            if stop_requested.load(Ordering::Relaxed)
                || duration.is_some_and(|d| started.elapsed() >= d)
                || fault::panicked().is_some()
            {
                break;
            }
            match rx.recv_timeout(Duration::from_millis(200)) {
                Ok(msg) => handle(msg, &mut pipeline, &mut attributor),
                Err(RecvTimeoutError::Timeout) if attribution => {
                    attributor.run(&mut pipeline, false)
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => break,
            }
            takers.take_ended(&mut pipeline, &in_scope);
            takers.tell_open(&pipeline, &in_scope);
            if fault && pipeline.counters().packets >= fault::FAULT_AFTER_PACKETS {
                panic!("injected fault (TELLTALE_FAULT=panic:main)");
            }
        }
    }));
    let last_drops = running.stop();
    // what the capture thread sent before it stopped is still audited, unless the
    // pipeline is what failed; the flows still waiting for their process then get what is
    // known now
    let audited = pumped.is_ok()
        && catch_unwind(AssertUnwindSafe(|| {
            while let Ok(msg) = rx.try_recv() {
                handle(msg, &mut pipeline, &mut attributor);
            }
            if attribution {
                attributor.run(&mut pipeline, true);
            }
        }))
        .is_ok();
    // the flows that ended in what was left in the queue
    takers.take_ended(&mut pipeline, &in_scope);
    // libpcap's counters as read when the capture stopped (their message may not have fit
    // in the queue)
    if let Some(d) = last_drops {
        kernel = kernel.max(d.kernel);
        iface = iface.max(d.interface);
    }
    let live = LiveCapture {
        interface: interface.to_string(),
        filter: a.filter.clone(),
        duration_s: (started.elapsed().as_secs_f64() * 1000.0).round() / 1000.0,
        dropped_by_kernel: kernel,
        dropped_by_interface: iface,
        dropped_by_queue: queue_drops.load(Ordering::Relaxed),
        attribution: attribution.then(|| attributor.report()),
    };
    let (mut result, store) = pipeline.finish_with_evidence();
    let packets = result.counters.packets;
    let scope = scope::apply(&config.scope(attribution), &mut result.flows);
    let mut warnings = Vec::new();
    if let Some(why) = &failure {
        warnings.push(format!(
            "the capture failed: {why}; the report covers what was captured before"
        ));
    }
    if !audited {
        warnings.push(
            "the audit stopped on an internal error (a bug): this report covers what it had audited by then, and may be incomplete"
                .into(),
        );
    }
    let mut report = Report::build(
        result,
        config.context(
            vec![Input {
                path: format!("live:{interface}"),
                format: "live".into(),
                sha256: None,
                bytes: 0,
                packets,
                cut_short: None,
            }],
            Some(live),
            scope,
            warnings,
        ),
    );
    let evidence = store.map(|s| Evidence::for_report(s, &mut report));
    takers.finish(&mut report, dest.wants_html());
    for w in &report.warnings {
        eprintln!("telltale: warning: {}", text::neutralise(w));
    }
    let written = write_outputs(&report, evidence.as_ref(), dest);
    if let Some(thread) = fault::panicked() {
        let outcome = match &written {
            Err(f) => format!("the report could not be written: {}", f.message),
            Ok(()) if !audited => "the report may be incomplete".to_string(),
            Ok(()) => "the report covers what was captured until then".to_string(),
        };
        return Err(Failure::internal(&thread, &outcome));
    }
    written?;
    Ok(if report.flagged() > 0 {
        EXIT_FLAGGED
    } else {
        EXIT_CLEAN
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("90").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("90s").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("10m").unwrap(), Duration::from_secs(600));
        assert_eq!(parse_duration("1h30m").unwrap(), Duration::from_secs(5400));
        assert_eq!(parse_duration("2d").unwrap(), Duration::from_secs(172_800));
        for bad in ["", "m", "10x", "1h30", "0s", "-5s", "99999999999999999999h"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }
}
