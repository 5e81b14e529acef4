//! The pipeline thread: it alone owns the pipeline (flow table, names, verdicts). It
//! takes batches from the capture thread, publishes a snapshot several times a second
//! (never waiting for the UI: a snapshot the UI has no room for is skipped, the next one
//! replaces it), builds a report when asked and hands it to a writer thread (so that
//! rendering and disk never hold up the packets), and writes the final report when it
//! stops. A panic of its own ends its loop, not the thread: the final report is still
//! written, from the pipeline as the panic left it or else from the last snapshot.

use super::Event;
use super::fault;
use super::snapshot::{CaptureState, Drops, Snapshot, Source};
use super::source::{CaptureMsg, ToPipeline};
use crate::live::attribution::FlowAttribution;
use crate::pipeline::Pipeline;
use crate::report::Format;
use crate::report::model::{
    Context, FlowReport, Input, LiveCapture, OptOut, Report, ReportBasis, RulesInfo,
};
use crate::report::output::{Destination, write_reports};
use crate::rules::Rules;
use std::collections::HashMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::time::{Duration, Instant};

/// How often snapshots are published.
pub const SNAPSHOT_EVERY: Duration = Duration::from_millis(250);
/// Ended flows that are taken from the pipeline at once, without waiting for the next
/// snapshot: at full speed thousands end between two, and held until then they would set
/// how much memory the session keeps from then on. (At a slower pace they wait for the
/// snapshot, which gives a flow's process a moment more to be found.)
const COLLECT_AT: usize = 256;

/// Where reports go: `--report PATH` (written on exit) and the export folder's parent.
#[derive(Clone, Debug, Default)]
pub struct ReportPlan {
    /// Written when the engine stops: a `.json` or `.md` file, or else a folder for both.
    pub on_exit: Option<PathBuf>,
}

pub struct Engine {
    pipeline: Pipeline,
    rules: Rules,
    source: Source,
    opt_out: OptOut,
    state: CaptureState,
    drops: Drops,
    queue_drops: Arc<AtomicU64>,
    warnings: Vec<String>,
    plan: ReportPlan,
    seq: u64,
    /// Ended flows (in scope) already turned into reports, in the pipeline's order.
    ended: Vec<Arc<FlowReport>>,
    /// Ended flows left out of scope.
    ended_left_out: u64,
    /// Live flows' reports, with the change count they were made at and the snapshot
    /// that last saw the flow live.
    live: HashMap<u64, (u64, u64, Arc<FlowReport>)>,
    rate_mark: (Instant, u64),
    started: Instant,
    /// Process attribution, for a live capture on this host.
    attributor: Option<FlowAttribution>,
    scope: crate::rules::scope::AuditScope,
    baseline: Option<crate::report::baseline::Baseline>,
    /// The server's settings file, watched for changes while the session runs.
    prefs: Option<PrefsWatch>,
    packets_per_sec: f64,
    /// Writer threads of exports still running: joined before the engine ends.
    writers: Vec<std::thread::JoinHandle<()>>,
    /// The last snapshot published: the report's source of last resort should the
    /// pipeline panic and be unable to make one.
    last: Option<Arc<Snapshot>>,
    /// The loop ended on a panic: reports say they may be incomplete.
    panicked: bool,
    /// `TELLTALE_FAULT=panic:telltale-pipeline`: panic once some packets are audited.
    fault: bool,
    /// The history this session is appended to: ended flows about once a second, the rest
    /// with the final report.
    recorder: Option<crate::history::recorder::Recorder>,
    /// `--on-flagged`: the owner's command, for each newly flagged flow.
    hook: Option<super::hook::Hook>,
    /// What the hook did, once it has finished (for the final report).
    hook_done: Option<crate::report::model::HookStats>,
    /// The history's last days, once this session is in it (for the final report's chart).
    history_days: Vec<crate::report::model::HistoryDay>,
}

/// How the pipeline thread ended.
#[derive(Debug)]
pub struct Ended {
    /// What became of the final report, if one was asked for: where it was written, or
    /// why it could not be.
    pub written: Option<Result<String, String>>,
    /// The pipeline thread panicked: the report was made from what the panic left, and
    /// may be incomplete.
    pub panicked: bool,
}

/// The settings file being watched, and how the opt-out was asked for.
pub struct PrefsWatch {
    pub path: PathBuf,
    /// `--opt-out` as given: `auto` reads the changed settings' choice, `on` and `off` keep theirs.
    pub opt_out: crate::config::choices::OptOutChoice,
    pub modified: Option<std::time::SystemTime>,
    pub checked: Instant,
}

impl Engine {
    pub fn new(
        pipeline: Pipeline,
        rules: Rules,
        source: Source,
        opt_out: OptOut,
        queue_drops: Arc<AtomicU64>,
        plan: ReportPlan,
    ) -> Engine {
        let mut pipeline = pipeline;
        pipeline.hand_out_ended();
        // the `e` key writes the whole bundle, evidence included (bounded by the caps)
        pipeline.keep_evidence();
        Engine {
            pipeline,
            rules,
            source,
            opt_out,
            state: CaptureState::Starting,
            drops: Drops::default(),
            queue_drops,
            warnings: Vec::new(),
            plan,
            seq: 0,
            ended: Vec::new(),
            ended_left_out: 0,
            live: HashMap::new(),
            rate_mark: (Instant::now(), 0),
            started: Instant::now(),
            attributor: None,
            scope: crate::rules::scope::AuditScope::Host,
            baseline: None,
            prefs: None,
            packets_per_sec: 0.0,
            writers: Vec::new(),
            last: None,
            panicked: false,
            fault: fault::injected("telltale-pipeline"),
            recorder: None,
            hook: None,
            hook_done: None,
            history_days: Vec::new(),
        }
    }

    /// Attributes flows to processes (live capture on this host), and audits `scope`.
    pub fn with_attribution(
        mut self,
        attributor: Option<FlowAttribution>,
        scope: crate::rules::scope::AuditScope,
    ) -> Engine {
        if attributor.is_some() {
            self.pipeline.track_new_flows();
        }
        self.attributor = attributor;
        self.scope = scope;
        self
    }

    /// Watches the server's settings file: a change (the owner flips a switch) is read
    /// again and every flow judged again under it.
    pub fn with_prefs_watch(
        mut self,
        path: Option<PathBuf>,
        opt_out: crate::config::choices::OptOutChoice,
    ) -> Engine {
        self.prefs = path.map(|path| PrefsWatch {
            modified: std::fs::metadata(&path).and_then(|m| m.modified()).ok(),
            path,
            opt_out,
            checked: Instant::now(),
        });
        self
    }

    /// Re-reads the settings file if it changed; returns a message for the user if it did.
    fn check_prefs(&mut self) -> Option<String> {
        let w = self.prefs.as_mut()?;
        if w.checked.elapsed() < Duration::from_secs(1) {
            return None;
        }
        w.checked = Instant::now();
        let modified = std::fs::metadata(&w.path).and_then(|m| m.modified()).ok();
        if modified == w.modified {
            return None;
        }
        w.modified = modified;
        let (path, choice) = (w.path.clone(), w.opt_out);
        let kind = crate::settings::consent::server_kind(&self.rules);
        let settings = match crate::settings::read(&path, kind) {
            Ok(s) => s,
            Err(e) => return Some(format!("the settings changed but cannot be read: {e}")),
        };
        let (opt_out, facts) =
            crate::settings::consent::decide(&self.rules, choice, Some(&settings));
        let mut rules = self.rules.clone();
        if let Some(f) = &facts {
            rules.apply_settings(f);
        }
        self.pipeline.set_judging(
            Arc::new(crate::rules::Matcher::new(rules)),
            crate::rules::verdict::Consent {
                opted_out: opt_out.state.opted_out(),
                facts,
            },
        );
        self.opt_out = opt_out;
        // every cached verdict is stale
        self.ended.clear();
        self.pipeline.rewind_ended();
        self.ended_left_out = 0;
        self.live.clear();
        Some(format!(
            "settings changed: read {} again; opt-out {} ({})",
            path.display(),
            self.opt_out.state,
            self.opt_out.source
        ))
    }

    /// Marks destinations an earlier report never saw.
    /// Appends the session to the history; what it says of earlier runs goes in the reports.
    pub fn with_history(mut self, recorder: Option<crate::history::recorder::Recorder>) -> Engine {
        if let Some(r) = &recorder {
            self.warnings.extend(r.warnings());
        }
        self.recorder = recorder;
        self
    }

    /// Hands each newly flagged flow to the owner's command.
    pub fn with_hook(mut self, hook: Option<super::hook::Hook>) -> Engine {
        self.hook = hook;
        self
    }

    /// Ends the session's run in the history with the final report (made from the last
    /// snapshot when the pipeline cannot make one); what went wrong goes in the reports.
    fn finish_history(&mut self) {
        let Some(recorder) = self.recorder.take() else {
            return;
        };
        let report = if self.panicked {
            catch_unwind(AssertUnwindSafe(|| self.report()))
                .ok()
                .or_else(|| self.last.clone().map(|s| self.report_from_snapshot(&s)))
        } else {
            Some(self.report())
        };
        match report {
            Some(mut r) => {
                let before = r.warnings.len();
                // the chart, for an HTML report or export made from it
                recorder.finish_into(&mut r, true);
                for w in r.warnings.split_off(before) {
                    if !self.warnings.contains(&w) {
                        self.warnings.push(w);
                    }
                }
                self.history_days = r.history_days;
            }
            None => recorder.abandon(crate::time::now()),
        }
    }

    pub fn with_baseline(mut self, baseline: Option<crate::report::baseline::Baseline>) -> Engine {
        self.baseline = baseline;
        self
    }

    fn flow_report(&self, f: &crate::flows::Flow) -> FlowReport {
        let mut r = FlowReport::from_flow(f);
        r.new_destination = self.baseline.as_ref().is_some_and(|b| b.is_new(&r));
        r
    }

    /// Runs until `Stop` (or until every sender is gone), publishing to `out`, then
    /// writes the final report if one was asked for.
    ///
    /// A panic in the loop (a packet the pipeline chokes on, attribution, a snapshot) is
    /// caught here rather than ending the thread: the panic hook has already set the
    /// session ending, and the audit so far still deserves its report.
    pub fn run(mut self, rx: Receiver<ToPipeline>, out: SyncSender<Event>) -> Ended {
        self.panicked = catch_unwind(AssertUnwindSafe(|| self.pump(&rx, &out))).is_err();
        // nothing more is read: a capture thread waiting for room stops waiting
        drop(rx);
        // the flows still waiting for their process get what is known now
        if !self.panicked
            && let Some(a) = self.attributor.as_mut()
        {
            let pipeline = &mut self.pipeline;
            self.panicked = catch_unwind(AssertUnwindSafe(|| a.run(pipeline, true))).is_err();
        }
        if let Some(h) = self.hook.take() {
            self.hook_done = Some(h.finish(std::time::Duration::from_secs(10)));
        }
        self.finish_history();
        let written = self
            .plan
            .on_exit
            .clone()
            .map(|path| self.final_report(&path));
        // an export under way is finished before the session ends
        for w in self.writers.drain(..) {
            let _ = w.join();
        }
        let _ = out.try_send(Event::Stopped);
        Ended {
            written,
            panicked: self.panicked,
        }
    }

    fn pump(&mut self, rx: &Receiver<ToPipeline>, out: &SyncSender<Event>) {
        let mut last = Instant::now();
        let mut dirty = true;
        loop {
            match rx.recv_timeout(SNAPSHOT_EVERY) {
                Ok(ToPipeline::Capture(msg)) => {
                    self.on_capture(msg);
                    dirty = true;
                }
                Ok(ToPipeline::Export { dir }) => self.export(dir, out),
                Ok(ToPipeline::Stop) | Err(RecvTimeoutError::Disconnected) => break,
                Err(RecvTimeoutError::Timeout) => {
                    // flows waiting for their process are settled even when no packet comes
                    if let Some(a) = self.attributor.as_mut()
                        && a.pending() > 0
                    {
                        a.run(&mut self.pipeline, false);
                        dirty = true;
                    }
                }
            }
            if let Some(msg) = self.check_prefs() {
                let _ = out.try_send(Event::Message(msg));
                dirty = true;
            }
            if last.elapsed() >= SNAPSHOT_EVERY {
                last = Instant::now();
                if dirty || self.state == CaptureState::Running {
                    let snap = Arc::new(self.snapshot());
                    self.last = Some(snap.clone());
                    match out.try_send(Event::Snapshot(snap)) {
                        // a busy UI misses this one; the next carries everything
                        Ok(()) | Err(TrySendError::Full(_)) => dirty = false,
                        Err(TrySendError::Disconnected(_)) => break,
                    }
                }
            }
        }
    }

    /// The final report. After a panic the pipeline may be left half-way through a
    /// packet: should making the report from it panic as well, the last snapshot is
    /// what remains.
    fn final_report(&self, path: &Path) -> Result<String, String> {
        if !self.panicked {
            return self.write_final(path);
        }
        match catch_unwind(AssertUnwindSafe(|| self.write_final(path))) {
            Ok(said) => said,
            Err(_) => self.write_last_snapshot(path),
        }
    }

    fn on_capture(&mut self, msg: CaptureMsg) {
        match msg {
            CaptureMsg::Batch(b) => {
                if self.state == CaptureState::Starting {
                    self.state = CaptureState::Running;
                }
                for p in b.packets() {
                    self.pipeline.process(&p);
                }
                if let Some(a) = self.attributor.as_mut() {
                    a.run(&mut self.pipeline, false);
                }
                // a burst: what ended is taken now rather than at the next snapshot
                if self.pipeline.ended_waiting() >= COLLECT_AT {
                    self.collect_ended();
                }
                if self.fault && self.pipeline.counters().packets >= fault::FAULT_AFTER_PACKETS {
                    panic!("injected fault (TELLTALE_FAULT=panic:telltale-pipeline)");
                }
            }
            CaptureMsg::Stats { kernel, interface } => {
                self.drops.kernel = Some(kernel);
                self.drops.interface = Some(interface);
            }
            CaptureMsg::Finished { warning } => {
                self.state = CaptureState::Finished;
                self.warnings.extend(warning);
            }
            CaptureMsg::Failed(why) => self.state = CaptureState::Failed(why),
        }
    }

    /// The audit so far, as a snapshot; unchanged flows are shared with the last one.
    pub fn snapshot(&mut self) -> Snapshot {
        self.collect_ended();
        let seq = self.seq + 1;
        let mut left_out = 0u64;
        let mut flows: Vec<Arc<FlowReport>> = self.ended.clone();
        left_out += self.ended_left_out;
        let scope = &self.scope;
        let in_scope: Vec<&crate::flows::Flow> = self
            .pipeline
            .live()
            .filter(|f| {
                let keep = scope.includes(f);
                left_out += u64::from(!keep);
                keep
            })
            .collect();
        for f in in_scope {
            let changes = f.up.packets + f.down.packets + f.generation;
            let report = match self.live.get_mut(&f.id) {
                Some((c, seen, r)) if *c == changes => {
                    *seen = seq;
                    r.clone()
                }
                _ => {
                    let mut judged = f.clone();
                    judged.verdict = Some(self.pipeline.judge(f));
                    let r = Arc::new(self.flow_report(&judged));
                    self.live.insert(f.id, (changes, seq, r.clone()));
                    r
                }
            };
            flows.push(report);
        }
        self.live.retain(|_, (_, seen, _)| *seen == seq);
        flows.sort_by_key(|f| f.id);
        // the flows still open (an ended one was told as it ended)
        if let Some(h) = self.hook.as_mut() {
            for (_, _, r) in self.live.values() {
                h.flagged(r);
            }
        }
        let counters = self.pipeline.counters_now();
        let elapsed = self.rate_mark.0.elapsed().as_secs_f64();
        if elapsed >= 1.0 {
            self.packets_per_sec = (counters.packets - self.rate_mark.1) as f64 / elapsed;
            self.rate_mark = (Instant::now(), counters.packets);
        }
        self.drops.queue = self.queue_drops.load(Ordering::Relaxed);
        let mut rules = RulesInfo::from_rules(&self.rules);
        rules.count(&flows);
        self.seq = seq;
        Snapshot {
            seq,
            source: self.source.clone(),
            state: self.state.clone(),
            capture_time: self.pipeline.last_ts(),
            packets_per_sec: self.packets_per_sec,
            drops: self.drops,
            opt_out: self.opt_out.clone(),
            rules,
            counters,
            scope_note: match &self.scope {
                crate::rules::scope::AuditScope::Host => None,
                s => Some(format!(
                    "scope {}: {left_out} other flows left out",
                    s.mode()
                )),
            },
            flows: Arc::new(flows),
        }
    }

    /// Keeps the view's ended flows within the pipeline's cap on flows kept whole: beyond it
    /// the oldest unflagged (then the oldest) leave the view, as the pipeline folds them
    /// into groups; reports and exports still count every one.
    /// Takes from the pipeline the flows that ended since the last call: each becomes its
    /// report, told to the hook, queued for the history and kept for the view (within the
    /// flow cap). At each snapshot, and after a batch when [`COLLECT_AT`] are waiting.
    fn collect_ended(&mut self) {
        let baseline = self.baseline.as_ref();
        for f in self.pipeline.take_ended() {
            self.live.remove(&f.id);
            if self.scope.includes(f) {
                let mut r = FlowReport::from_flow(f);
                r.new_destination = baseline.is_some_and(|b| b.is_new(&r));
                // told before the cap can let it go from the view
                if let Some(h) = self.hook.as_mut() {
                    h.flagged(&r);
                }
                if let Some(rec) = self.recorder.as_mut() {
                    rec.queue(r.clone());
                }
                self.ended.push(Arc::new(r));
            } else {
                self.ended_left_out += 1;
            }
        }
        self.bound_ended();
        if let Some(h) = self.hook.as_mut() {
            h.forget_gone(&self.pipeline);
        }
        if let Some(rec) = self.recorder.as_mut() {
            rec.commit_if_due();
        }
    }

    fn bound_ended(&mut self) {
        let cap = self.pipeline.caps().flow_records.max(1);
        if self.ended.len() <= cap {
            return;
        }
        let want = self.ended.len() - cap + cap / 4;
        let flagged =
            |r: &Arc<FlowReport>| r.verdict.kind == crate::rules::verdict::VerdictKind::Flagged;
        let mut choice = crate::pipeline::groups::OldestFirst::new(&self.ended, want, flagged);
        self.ended.retain(|r| !choice.take(r));
    }

    /// The report of everything so far.
    pub fn report(&self) -> Report {
        let mut result = self.pipeline.result_so_far();
        let scope = crate::rules::scope::apply(&self.scope, &mut result.flows);
        let ctx = self.context(result.counters.packets, scope);
        let mut report = Report::build(result, ctx);
        report.hook = self.hook_stats();
        report.history_days = self.history_days.clone();
        report
    }

    fn hook_stats(&self) -> Option<crate::report::model::HookStats> {
        self.hook
            .as_ref()
            .map(super::hook::Hook::stats)
            .or_else(|| self.hook_done.clone())
    }

    /// What a report says besides its flows and counters.
    fn context(&self, packets: u64, scope: crate::rules::scope::ScopeReport) -> Context {
        let mut warnings = Vec::new();
        if let CaptureState::Failed(why) = &self.state {
            warnings.push(format!(
                "the capture failed: {why}; the report covers what was read before"
            ));
        }
        if self.panicked {
            warnings.push(
                "the pipeline stopped on an internal error (a bug): this report covers what it had audited by then, and may be incomplete"
                    .into(),
            );
        }
        let input = Input {
            path: self.source.describe(),
            format: match self.source {
                Source::Live { .. } => "live".into(),
                _ => "replay".into(),
            },
            sha256: None,
            bytes: 0,
            packets,
            cut_short: None,
        };
        let live = match &self.source {
            Source::Live { interface, filter } => Some(LiveCapture {
                interface: interface.clone(),
                filter: filter.clone(),
                duration_s: self.started.elapsed().as_secs_f64(),
                dropped_by_kernel: self.drops.kernel.unwrap_or(0),
                dropped_by_interface: self.drops.interface.unwrap_or(0),
                dropped_by_queue: self.drops.queue,
                attribution: self.attributor.as_ref().map(FlowAttribution::report),
            }),
            _ => None,
        };
        let basis = ReportBasis {
            rules: RulesInfo::from_rules(&self.rules),
            opt_out: self.opt_out.clone(),
            settings: None,
            baseline: self.baseline.clone(),
            warnings: self.warnings.clone(),
        };
        Context::new(basis, vec![input], live, scope, warnings)
    }

    /// The report the last snapshot gives: its flows as the view showed them (the
    /// newest at most [`SNAPSHOT_EVERY`] old), without the names the capture revealed or
    /// the ended flows beyond the view's cap.
    fn report_from_snapshot(&self, snap: &Snapshot) -> Report {
        let flows: Vec<FlowReport> = snap.flows.iter().map(|f| (**f).clone()).collect();
        let result = crate::pipeline::AuditResult {
            flows: Vec::new(),
            groups: Vec::new(),
            inventory: crate::names::inventory::Inventory::new(0),
            counters: snap.counters.clone(),
            first_ts: None,
            last_ts: snap.capture_time,
        };
        // the snapshot's flows are those in scope already; what it left out is not kept
        let scope = crate::rules::scope::apply(&self.scope, &mut Vec::new());
        let mut ctx = self.context(snap.counters.packets, scope);
        ctx.warnings.push(
            "made from the live view's last snapshot: the names revealed and the flows beyond the view's cap are missing"
                .into(),
        );
        Report::from_flow_reports(flows, result, ctx)
    }

    /// Writes the whole audit bundle so far into a new folder. The report is built here,
    /// from the pipeline as it stands; a thread of its own renders and writes it, and
    /// tells the UI when it is done, while this thread goes back to the packets.
    fn export(&mut self, dir: PathBuf, out: &SyncSender<Event>) {
        self.writers.retain(|w| !w.is_finished());
        let mut report = self.report();
        let evidence = self
            .pipeline
            .evidence_store()
            .cloned()
            .map(|s| crate::report::evidence::Evidence::for_report(s, &mut report));
        let tell = out.clone();
        let write = move || {
            let msg = write_bundle(&report, evidence.as_ref(), &dir);
            // the writer is off the hot path: it may wait for room in the UI's queue
            let _ = tell.send(Event::Message(msg));
        };
        match std::thread::Builder::new()
            .name("telltale-export".into())
            .spawn(write)
        {
            Ok(handle) => self.writers.push(handle),
            Err(e) => {
                let msg = format!("export failed: cannot start a thread: {e}");
                let _ = out.try_send(Event::Message(msg));
            }
        }
    }

    /// The report at the end of the session; the capture has stopped by then.
    fn write_final(&self, path: &Path) -> Result<String, String> {
        write_report(&self.report(), path)
    }

    /// The final report from the last snapshot published, for when the pipeline cannot
    /// make one.
    fn write_last_snapshot(&self, path: &Path) -> Result<String, String> {
        match &self.last {
            Some(snap) => write_report(&self.report_from_snapshot(snap), path),
            None => Err(
                "the report could not be written: the pipeline failed before its first snapshot"
                    .into(),
            ),
        }
    }
}

/// Writes a final report to `path` (a `.json` or `.md` file, or else a folder for both);
/// the message for the user.
fn write_report(report: &Report, path: &Path) -> Result<String, String> {
    let by_ext = match path.extension().and_then(|e| e.to_str()) {
        Some("json") => Some(Format::Json),
        Some("md") => Some(Format::Markdown),
        _ => None,
    };
    let dest: Vec<(Format, Destination)> = match by_ext {
        Some(f) => vec![(f, Destination::File(path.to_path_buf()))],
        None => [Format::Json, Format::Markdown]
            .into_iter()
            .map(|f| (f, Destination::File(path.join(f.file_name()))))
            .collect(),
    };
    match write_reports(report, &dest) {
        Ok(()) => Ok(format!("report written to {}", path.display())),
        Err(e) => Err(format!("the report could not be written: {}", e.message)),
    }
}

/// Writes an export's bundle into `dir`; the message for the user.
fn write_bundle(
    report: &Report,
    evidence: Option<&crate::report::evidence::Evidence>,
    dir: &std::path::Path,
) -> String {
    let outputs = crate::report::output::Outputs {
        reports: [Format::Json, Format::Markdown, Format::Html, Format::Csv]
            .into_iter()
            .map(|f| (f, Destination::File(dir.join(f.file_name()))))
            .collect(),
        evidence: None,
        bundle: Some(dir.to_path_buf()),
        replace: false,
    };
    match crate::report::output::write_outputs(report, evidence, &outputs) {
        Ok(()) => format!(
            "report written to {}/ (report.json, report.md, report.html, flows.csv, evidence.pcapng, manifest.json)",
            dir.display()
        ),
        Err(e) => format!("export failed: {}", e.message),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::Caps;
    use crate::rules::verdict::{Consent, VerdictKind};

    fn demo_engine(caps: Caps, plan: ReportPlan) -> Engine {
        let rules = crate::rules::load::load("plex").expect("the built-in rules load");
        let pipeline = Pipeline::new(
            Arc::new(crate::rules::Matcher::new(rules.clone())),
            Consent::new(true),
            caps,
        );
        Engine::new(
            pipeline,
            rules,
            Source::Demo { speed: 1.0 },
            OptOut {
                state: crate::report::model::OptOutState::On,
                source: "test".into(),
            },
            Arc::new(AtomicU64::new(0)),
            plan,
        )
    }

    fn report_at(path: &Path) -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(path).expect("the report was written"))
            .expect("the report is JSON")
    }

    #[test]
    fn a_panic_in_the_loop_still_writes_the_final_report() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("final.json");
        let plan = ReportPlan {
            on_exit: Some(path.clone()),
        };
        let mut engine = demo_engine(Caps::default(), plan);
        // as TELLTALE_FAULT=panic:telltale-pipeline does
        engine.fault = true;
        let (tx, rx) = std::sync::mpsc::sync_channel(4);
        let (out, _events) = std::sync::mpsc::sync_channel(64);
        let mut reader = crate::audit::demo_reader().expect("the demo capture opens");
        let mut batch = crate::live::batch::Batch::with_capacity();
        while (batch.len() as u64) < fault::FAULT_AFTER_PACKETS {
            batch.push(&reader.next_packet().expect("the demo has packets enough"));
        }
        tx.send(ToPipeline::Capture(CaptureMsg::Batch(batch)))
            .unwrap();
        // no Stop is sent: the panic alone ends the loop
        let ended = engine.run(rx, out);
        assert!(ended.panicked);
        assert_eq!(
            ended.written,
            Some(Ok(format!("report written to {}", path.display())))
        );
        let v = report_at(&path);
        assert!(!v["flows"].as_array().unwrap().is_empty());
        assert_eq!(v["counters"]["packets"], fault::FAULT_AFTER_PACKETS);
        let warnings = v["warnings"].to_string();
        assert!(warnings.contains("may be incomplete"), "{warnings}");
        drop(tx);
    }

    #[test]
    fn without_a_pipeline_the_last_snapshot_makes_the_report() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("final.json");
        let mut engine = demo_engine(Caps::default(), ReportPlan::default());
        assert!(
            engine.write_last_snapshot(&path).is_err(),
            "no snapshot yet"
        );
        let mut reader = crate::audit::demo_reader().expect("the demo capture opens");
        for _ in 0..400 {
            engine
                .pipeline
                .process(&reader.next_packet().expect("the demo has packets"));
        }
        let snap = Arc::new(engine.snapshot());
        engine.last = Some(snap.clone());
        engine.panicked = true;
        // more packets after the snapshot: the report shows the snapshot, not them
        while let Some(p) = reader.next_packet() {
            engine.pipeline.process(&p);
        }
        assert!(engine.write_last_snapshot(&path).is_ok());
        let v = report_at(&path);
        assert_eq!(v["schema"], "telltale.report/1");
        let ids: Vec<u64> = v["flows"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["id"].as_u64().unwrap())
            .collect();
        let shown: Vec<u64> = snap.flows.iter().map(|f| f.id).collect();
        assert_eq!(ids, shown);
        assert_eq!(v["counters"]["packets"], 400);
        let flagged: u64 = snap
            .flows
            .iter()
            .filter(|f| f.verdict.kind == VerdictKind::Flagged)
            .count() as u64;
        assert!(flagged > 0, "the demo's first 400 packets flag a flow");
        assert_eq!(v["summary"]["verdicts"]["flagged"]["flows"], flagged);
        let warnings = v["warnings"].to_string();
        assert!(warnings.contains("last snapshot"), "{warnings}");
        assert!(warnings.contains("may be incomplete"), "{warnings}");
    }

    /// `n` one-packet UDP flows from the server to documentation addresses, a second apart
    /// (each ends when its two idle minutes are over), in batches as the capture thread sends
    /// them.
    fn burst_of_flows(n: u16) -> Vec<crate::live::batch::Batch> {
        use crate::capture::{LinkType, RawPacket};
        let mut batches = vec![crate::live::batch::Batch::with_capacity()];
        for i in 0..n {
            let mut data = Vec::new();
            etherparse::PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2])
                .ipv4([192, 168, 1, 10], [198, 51, 100, (i % 250) as u8 + 1], 64)
                .udp(40_000, 10_000 + i)
                .write(&mut data, b"hello")
                .unwrap();
            let batch = batches.last_mut().unwrap();
            batch.push(&RawPacket {
                ts: crate::time::Timestamp::from_secs_nanos(1_800_000_000 + i64::from(i), 0),
                link: LinkType::ETHERNET,
                data: &data,
                orig_len: data.len() as u32,
                interface: 0,
            });
            if batch.is_full() {
                batches.push(crate::live::batch::Batch::with_capacity());
            }
        }
        batches
    }

    /// The flows of [`burst_of_flows`] that are flagged (ended or still open), as the same
    /// packets audited whole say.
    fn flagged_in_burst(n: u16) -> u64 {
        let mut whole = demo_engine(Caps::default(), ReportPlan::default());
        for b in burst_of_flows(n) {
            for p in b.packets() {
                whole.pipeline.process(&p);
            }
        }
        assert!(whole.pipeline.take_ended().len() > usize::from(n) * 9 / 10);
        let all = whole.pipeline.result_so_far().flows;
        let flagged = all
            .iter()
            .filter(|f| {
                f.verdict
                    .as_ref()
                    .is_some_and(|v| v.kind == VerdictKind::Flagged)
            })
            .count() as u64;
        assert!(
            flagged > u64::from(n) / 2,
            "{flagged} of {} flagged",
            all.len()
        );
        flagged
    }

    #[test]
    fn a_burst_of_ended_flows_is_taken_as_it_comes_and_each_flagged_one_told() {
        // a small cap, as `--max-flows 16`: the view lets most of them go, the hook must not
        let caps = Caps {
            flow_records: 16,
            ..Caps::default()
        };
        let hook = crate::live::hook::Hook::start("cat > /dev/null", 1000).unwrap();
        let mut engine = demo_engine(caps, ReportPlan::default()).with_hook(Some(hook));
        let flagged = flagged_in_burst(3_000);
        let mut most_waiting = 0;
        // no snapshot between the batches, as when the capture runs far ahead of the view
        for b in burst_of_flows(3_000) {
            engine.on_capture(CaptureMsg::Batch(b));
            most_waiting = most_waiting.max(engine.pipeline.ended_waiting());
        }
        // what ended waits for the next batch at most, never for the next snapshot
        assert!(
            most_waiting < COLLECT_AT + crate::live::batch::BATCH_PACKETS,
            "{most_waiting} ended flows waited"
        );
        assert!(engine.ended.len() <= 16 + 16 / 4 + crate::live::batch::BATCH_PACKETS);
        // the next snapshot takes the rest
        engine.snapshot();
        // told, or counted as dropped when its queue was full: never lost unseen
        let told = engine.hook.take().unwrap().finish(Duration::from_secs(10));
        assert_eq!(told.flagged, flagged);
        assert_eq!(
            told.told + told.summarised + told.dropped + told.unsent,
            flagged
        );
    }

    #[test]
    fn the_hook_remembers_a_bounded_number_of_flows_however_long_the_run() {
        let caps = Caps {
            flow_records: 16,
            ..Caps::default()
        };
        let flagged = flagged_in_burst(30_000);
        let hook = crate::live::hook::Hook::start("cat > /dev/null", 100_000).unwrap();
        let mut engine = demo_engine(caps, ReportPlan::default()).with_hook(Some(hook));
        let mut most = 0;
        for (i, b) in burst_of_flows(30_000).into_iter().enumerate() {
            engine.on_capture(CaptureMsg::Batch(b));
            if i % 8 == 0 {
                engine.snapshot();
            }
            most = most.max(engine.hook.as_ref().unwrap().remembered());
        }
        engine.snapshot();
        // tens of thousands of flagged flows, and it never remembered more than twice its floor
        assert!(most < 2 * 4096, "it remembered {most} flows");
        // each flagged flow once, though the view's snapshots show an open one again and again
        let told = engine.hook.take().unwrap().finish(Duration::from_secs(10));
        assert_eq!(told.flagged, flagged);
    }

    #[test]
    fn the_view_keeps_its_ended_flows_within_the_cap_flagged_ones_last_to_go() {
        let caps = Caps {
            flow_records: 8,
            ..Caps::default()
        };
        let mut engine = demo_engine(caps, ReportPlan::default());
        let mut reader = crate::audit::demo_reader().expect("the demo capture opens");
        while let Some(p) = reader.next_packet() {
            engine.pipeline.process(&p);
            // a view now and then, as the UI asks for them
            if engine.pipeline.counters().packets.is_multiple_of(50) {
                engine.snapshot();
            }
        }
        engine.snapshot();
        let ended = engine.ended.len();
        assert!(ended > 0 && ended <= 8, "{ended} ended flows in view");
        let flagged = |r: &Arc<FlowReport>| r.verdict.kind == VerdictKind::Flagged;
        // the demo flags flows and has plenty of unflagged ones: while unflagged ones were
        // left to drop, no flagged one left the view
        let kept_flagged = engine.ended.iter().filter(|r| flagged(r)).count();
        assert!(kept_flagged > 0, "flagged flows stay in view");
        // the report still counts every flow
        let report = engine.report();
        assert!(report.counters.flows_summarised > 0);
        let grouped: u64 = report.flow_groups.iter().map(|g| g.flows).sum();
        assert_eq!(
            report.flows.len() as u64 + grouped,
            report.counters.flows,
            "every flow is in the report, whole or in a group"
        );
    }
}
