//! The alert hook (`--on-flagged CMD`, for `watch` and `audit -i`): the owner's command, run
//! once for each newly flagged flow, with the flow as JSON on its standard input and a summary
//! in environment variables. telltale itself still sends nothing: the command is the owner's.
//!
//! - The command never holds up the capture: flows wait in a bounded queue for a thread of the
//!   hook's own; a flow that finds the queue full is dropped and counted.
//! - At most `per_minute` calls in any minute; the flows beyond it are counted and told in one
//!   summary call once the minute allows (or when the run ends).
//! - Each call is `sh -c CMD`, given [`CALL_TIMEOUT`] before it is killed; its exit status and
//!   the start of its standard error are kept, and the report carries the count and the last
//!   calls ([`HookStats`]).

use crate::report::baseline::Baseline;
use crate::report::model::{FlowReport, HookCall, HookStats};
use crate::time::now;
use serde::Serialize;
use std::collections::{HashSet, VecDeque};
use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// Flows waiting for the hook at most.
pub const QUEUE: usize = 256;
/// How long one call may run before it is killed.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(20);
/// Calls the report lists (the newest).
pub const LOGGED_CALLS: usize = 20;
/// Standard error kept of each call.
const STDERR_KEPT: usize = 1024;
/// Flows a summary call lists (it counts them all).
const SUMMARY_LISTS: usize = 100;

enum Msg {
    Flow(Box<FlowReport>),
}

pub struct Hook {
    tx: Option<SyncSender<Msg>>,
    /// Set when the run's grace is over: the thread calls nothing more.
    stop: Arc<std::sync::atomic::AtomicBool>,
    stats: Arc<Mutex<HookStats>>,
    thread: Option<std::thread::JoinHandle<()>>,
    told: HashSet<u64>,
    /// How many flows `told` may hold before [`Hook::forget_gone`] looks at it again.
    forget_at: usize,
}

/// Flows the hook remembers having told of before it looks for those it may forget.
const FORGET_FLOOR: usize = 4096;

fn lock(stats: &Mutex<HookStats>) -> std::sync::MutexGuard<'_, HookStats> {
    stats.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Hook {
    /// Starts the hook's thread for `command`, at most `per_minute` calls a minute.
    pub fn start(command: &str, per_minute: u32) -> std::io::Result<Hook> {
        Self::start_with(command, per_minute, CALL_TIMEOUT)
    }

    /// As [`Hook::start`], each call killed after `timeout`.
    pub fn start_with(command: &str, per_minute: u32, timeout: Duration) -> std::io::Result<Hook> {
        let stats = Arc::new(Mutex::new(HookStats {
            command: command.to_string(),
            per_minute,
            ..HookStats::default()
        }));
        let (tx, rx) = sync_channel(QUEUE);
        let shared = stats.clone();
        let cmd = command.to_string();
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let stopped = stop.clone();
        let thread = std::thread::Builder::new()
            .name("telltale-hook".into())
            .spawn(move || {
                let limits = Limits {
                    per_minute: per_minute.max(1),
                    timeout,
                    stop: &stopped,
                };
                run(&cmd, &limits, &rx, &shared)
            })?;
        Ok(Hook {
            tx: Some(tx),
            stop,
            stats,
            thread: Some(thread),
            told: HashSet::new(),
            forget_at: FORGET_FLOOR,
        })
    }

    /// Hands a flow to the hook if it is flagged and was never handed before. Never waits.
    /// Forgets the flows it was told of that it can never be shown again: those neither still
    /// open nor kept whole by the pipeline (a changed setting shows the kept ones again).
    /// Looked at only when it holds twice as many as at the last look, so that what it
    /// remembers stays bounded by the flow table and the flow cap, however long the run.
    pub fn forget_gone(&mut self, pipeline: &crate::pipeline::Pipeline) {
        if self.told.len() < self.forget_at {
            return;
        }
        let shown: HashSet<u64> = pipeline
            .live()
            .map(|f| f.id)
            .chain(pipeline.ended_kept().iter().map(|f| f.id))
            .collect();
        self.told.retain(|id| shown.contains(id));
        self.forget_at = FORGET_FLOOR.max(self.told.len().saturating_mul(2));
    }

    /// How many flows it remembers having told of.
    #[cfg(test)]
    pub(crate) fn remembered(&self) -> usize {
        self.told.len()
    }

    /// Whether the hook has been told of flow `id` already.
    pub fn has_told(&self, id: u64) -> bool {
        self.told.contains(&id)
    }

    pub fn flagged(&mut self, f: &FlowReport) {
        if f.verdict.kind != crate::rules::verdict::VerdictKind::Flagged || !self.told.insert(f.id)
        {
            return;
        }
        let Some(tx) = &self.tx else { return };
        lock(&self.stats).flagged += 1;
        match tx.try_send(Msg::Flow(Box::new(f.clone()))) {
            Ok(()) => {}
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                lock(&self.stats).dropped += 1;
            }
        }
    }

    /// What the hook has done so far.
    pub fn stats(&self) -> HookStats {
        lock(&self.stats).clone()
    }

    /// Ends the hook: the flows queued are called (with a summary of any held back), for at
    /// most `grace`; what is left then is counted as unsent.
    pub fn finish(mut self, grace: Duration) -> HookStats {
        drop(self.tx.take());
        if let Some(t) = self.thread.take() {
            let started = Instant::now();
            while !t.is_finished() && started.elapsed() < grace {
                std::thread::sleep(Duration::from_millis(20));
            }
            if t.is_finished() {
                let _ = t.join();
            } else {
                // the call under way ends on its own (killed at its timeout); no other begins
                self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
            }
        }
        let mut s = lock(&self.stats);
        s.unsent = s.flagged.saturating_sub(s.dropped).saturating_sub(s.told);
        s.clone()
    }
}

/// The environment a call gets: what a one-line notifier needs without parsing JSON. Every
/// value is made printable (names come from the wire).
fn flow_env(f: &FlowReport) -> Vec<(&'static str, String)> {
    let text = crate::text::neutralise;
    let remote = f.remote();
    vec![
        ("TELLTALE_EVENT", "flagged".into()),
        ("TELLTALE_FLOW_ID", f.id.to_string()),
        ("TELLTALE_DESTINATION", text(&Baseline::destination(f))),
        (
            "TELLTALE_REMOTE",
            std::net::SocketAddr::new(remote.address, remote.port).to_string(),
        ),
        ("TELLTALE_PROTOCOL", f.protocol.clone()),
        (
            "TELLTALE_CLASS",
            f.verdict
                .class
                .as_ref()
                .and_then(|c| serde_json::to_value(c).ok())
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default(),
        ),
        ("TELLTALE_CATEGORY", text(&f.verdict.category)),
        (
            "TELLTALE_RULE",
            text(f.verdict.rule.as_deref().unwrap_or("")),
        ),
        ("TELLTALE_REASON", text(&f.verdict.reason)),
        ("TELLTALE_BYTES_OUT", f.bytes_out.to_string()),
        (
            "TELLTALE_PROCESS",
            f.process
                .as_ref()
                .map(|p| text(&p.process.name))
                .unwrap_or_default(),
        ),
    ]
}

/// The hook's thread: calls the command for each flow within the rate, holds back the rest
/// and tells them in one summary call when the minute allows.
/// How the hook's thread calls.
struct Limits<'a> {
    per_minute: u32,
    timeout: Duration,
    stop: &'a std::sync::atomic::AtomicBool,
}

fn run(cmd: &str, limits: &Limits<'_>, rx: &Receiver<Msg>, stats: &Mutex<HookStats>) {
    let Limits {
        per_minute,
        timeout,
        stop,
    } = *limits;
    let stopped = || stop.load(std::sync::atomic::Ordering::Relaxed);
    let window = Duration::from_secs(60);
    let mut recent: VecDeque<Instant> = VecDeque::new();
    let mut held: Vec<FlowReport> = Vec::new();
    let mut held_count: u64 = 0;
    let room = |recent: &mut VecDeque<Instant>| {
        while recent.front().is_some_and(|t| t.elapsed() >= window) {
            recent.pop_front();
        }
        recent.len() < per_minute as usize
    };
    loop {
        let msg = rx.recv_timeout(Duration::from_millis(500));
        if stopped() {
            return;
        }
        if held_count > 0 && room(&mut recent) {
            recent.push_back(Instant::now());
            summary(cmd, timeout, &mut held, &mut held_count, stats);
        }
        match msg {
            Ok(Msg::Flow(f)) => {
                if room(&mut recent) && held_count == 0 {
                    recent.push_back(Instant::now());
                    let json = serde_json::to_string(&*f).unwrap_or_default();
                    let c = call(
                        cmd,
                        timeout,
                        &json,
                        &flow_env(&f),
                        "flagged",
                        Some(f.id),
                        None,
                    );
                    lock(stats).told += 1;
                    log(stats, c);
                } else {
                    held_count += 1;
                    lock(stats).summarised += 1;
                    if held.len() < SUMMARY_LISTS {
                        held.push(*f);
                    }
                }
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => break,
        }
    }
    // the run is over: what was held back is told now, in one call
    if held_count > 0 && !stopped() {
        summary(cmd, timeout, &mut held, &mut held_count, stats);
    }
}

#[derive(Serialize)]
struct Summary<'a> {
    summary: SummaryBody<'a>,
}

#[derive(Serialize)]
struct SummaryBody<'a> {
    /// Flows held back by the rate limit since the last call.
    flagged: u64,
    /// The first of them (at most 100), as in the JSON report.
    flows: &'a [FlowReport],
}

fn summary(
    cmd: &str,
    timeout: Duration,
    held: &mut Vec<FlowReport>,
    count: &mut u64,
    stats: &Mutex<HookStats>,
) {
    let json = serde_json::to_string(&Summary {
        summary: SummaryBody {
            flagged: *count,
            flows: held,
        },
    })
    .unwrap_or_default();
    let mut destinations: Vec<String> = held.iter().map(Baseline::destination).collect();
    destinations.sort();
    destinations.dedup();
    let env = vec![
        ("TELLTALE_EVENT", "summary".to_string()),
        ("TELLTALE_FLAGGED", count.to_string()),
        (
            "TELLTALE_DESTINATIONS",
            crate::text::neutralise(&destinations.join(" ")),
        ),
    ];
    let c = call(cmd, timeout, &json, &env, "summary", None, Some(*count));
    lock(stats).told += *count;
    log(stats, c);
    held.clear();
    *count = 0;
}

fn log(stats: &Mutex<HookStats>, c: HookCall) {
    let failed = c.error.is_some() || c.exit != Some(0);
    if failed {
        eprintln!(
            "telltale: warning: the --on-flagged command {}: {}",
            c.error
                .clone()
                .unwrap_or_else(|| format!("exited with status {}", c.exit.unwrap_or(-1))),
            crate::text::neutralise(c.stderr.trim())
        );
    }
    let mut s = lock(stats);
    s.calls += 1;
    s.failed += u64::from(failed);
    s.last_calls.push(c);
    if s.last_calls.len() > LOGGED_CALLS {
        s.last_calls.remove(0);
    }
}

/// Runs `sh -c cmd` with `input` on its standard input and `env`; waits at most `timeout`.
fn call(
    cmd: &str,
    timeout: Duration,
    input: &str,
    env: &[(&str, String)],
    event: &'static str,
    flow: Option<u64>,
    flows: Option<u64>,
) -> HookCall {
    let mut out = HookCall {
        at: now(),
        event,
        flow,
        flows,
        exit: None,
        error: None,
        stderr: String::new(),
    };
    let mut command = Command::new("sh");
    command
        .arg("-c")
        .arg(cmd)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    for (k, v) in env {
        command.env(k, v);
    }
    let mut child = match command.spawn() {
        Ok(c) => c,
        Err(e) => {
            out.error = Some(format!("could not start: {e}"));
            return out;
        }
    };
    // the input goes on a thread of its own: a command that never reads it cannot block us
    let input = input.as_bytes().to_vec();
    let stdin = child.stdin.take();
    let writer = std::thread::spawn(move || {
        if let Some(mut s) = stdin {
            let _ = s.write_all(&input);
            let _ = s.write_all(b"\n");
        }
    });
    // standard error is read on a thread too, and waited for briefly: a background process
    // of the command's may hold it open long after the command ends
    let stderr = child.stderr.take();
    let (err_tx, err_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut kept = Vec::new();
        if let Some(s) = stderr {
            let _ = s.take(STDERR_KEPT as u64).read_to_end(&mut kept);
        }
        let _ = err_tx.send(kept);
    });
    let started = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) if started.elapsed() >= timeout => {
                let _ = child.kill();
                let _ = child.wait();
                out.error = Some(format!("was killed after {} s", timeout.as_secs_f64()));
                break None;
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(10)),
            Err(e) => {
                out.error = Some(format!("could not be waited for: {e}"));
                break None;
            }
        }
    };
    // the writer ends once the command has gone (its pipe closed) or read everything
    if writer.is_finished() {
        let _ = writer.join();
    }
    let kept = err_rx
        .recv_timeout(Duration::from_secs(1))
        .unwrap_or_default();
    out.stderr = String::from_utf8_lossy(&kept).into_owned();
    if let Some(s) = status {
        out.exit = s.code();
        if s.code().is_none() {
            use std::os::unix::process::ExitStatusExt;
            out.error = Some(format!(
                "was ended by signal {}",
                s.signal().unwrap_or_default()
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests;
