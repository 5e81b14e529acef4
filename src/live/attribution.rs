//! Tying live flows to processes: the glue between the pipeline's new flows, the kernel's socket
//! events and the [`Attributor`].
//!
//! A new flow is looked up at once, by its own local end (never its far end). Proof (a kernel event
//! of its socket, or the socket in the tables) settles it. Otherwise the flow waits a little: the
//! socket tables may have been read before the flow began, and a TCP connection's event arrives
//! only when the handshake ends, a round trip after its first packet. When the wait is over, what
//! remains is a guess (a listener on the local port, marked as such) or nothing: an unknown process.

use std::time::{Duration, Instant};

use std::sync::Arc;

use crate::attrib::ebpf::{EbpfStats, EventSource, Options, SocketEvent};
use crate::attrib::{Attributor, ProcessInfo, Sighting, process};
use crate::pipeline::{NewFlow, Pipeline};
use crate::report::model::LiveAttribution;

/// Flows waiting for a second lookup at most; beyond, a flow is settled at once with what it has.
const PENDING_MAX: usize = 65_536;

/// How long a flow waits for its socket's kernel event, when events run: longer than a TCP
/// handshake with a far server, and than the pipeline's longest pause between two batches.
pub const EVENT_WAIT: Duration = Duration::from_millis(1500);

/// A flow not yet settled.
struct Pending {
    flow: NewFlow,
    since: Instant,
    /// Whether an end of it lives on this host (else no socket table can show it).
    end_known: bool,
    /// Whether it was looked up in socket tables read after it began.
    looked_fresh: bool,
}

/// Tying live flows to processes: the attributor, and the flows to look up again.
pub struct FlowAttribution {
    pub attributor: Attributor,
    /// In the order they began (each waits from its first look), so the oldest are in front.
    pending: std::collections::VecDeque<Pending>,
    /// Of the waiting flows, those with an end here not yet looked up in tables read after they
    /// began: a fresh read is worth a scan only when there are any.
    unread: usize,
    /// The (transport, port) pairs of the waiting flows, each with how many have it: an event is
    /// worth a scan only when it is about one of them.
    pending_ports: std::collections::HashMap<(bool, u16), u32>,
    /// Whether kernel events feed the attributor: flows then wait for them.
    events: bool,
    /// Why kernel events do not run, when they do not.
    events_unavailable: Option<String>,
    /// The kernel's socket events, when they run, read on a thread of their own.
    source: Option<EventFeed>,
    /// Events taken from the source, reused between calls.
    taken: Vec<SocketEvent>,
    /// Clock ticks per second, to compare an event's process start with /proc's.
    clk_tck: u64,
    /// The capture's own network namespace, as read when attribution began.
    netns: Option<u64>,
}

impl FlowAttribution {
    pub fn new(attributor: Attributor) -> FlowAttribution {
        FlowAttribution {
            attributor,
            pending: std::collections::VecDeque::new(),
            unread: 0,
            pending_ports: std::collections::HashMap::new(),
            events: false,
            events_unavailable: None,
            source: None,
            taken: Vec::new(),
            clk_tck: clock_ticks(),
            netns: crate::attrib::netns::namespace_of(std::path::Path::new("/proc"), "self"),
        }
    }

    /// Starts the kernel's socket events when they can run; otherwise says why not in the report.
    /// Call before privileges are dropped: loading the programs needs CAP_BPF and CAP_PERFMON
    /// (or root), which are given up right after.
    /// `TELLTALE_BTF` names the kernel's BTF where it is not at /sys/kernel/btf/vmlinux.
    pub fn with_kernel_events(self) -> FlowAttribution {
        let mut options = Options::default();
        if let Some(btf) = std::env::var_os("TELLTALE_BTF") {
            options.btf = btf.into();
        }
        match EventSource::start_with(&options) {
            Ok(source) => self.with_event_source(source),
            Err(why) => self.without_events(why.reason),
        }
    }

    /// Takes events from `source`: flows then wait for them.
    pub fn with_event_source(mut self, source: EventSource) -> FlowAttribution {
        match EventFeed::start(source) {
            Ok(feed) => {
                self.source = Some(feed);
                self.events = true;
            }
            Err(why) => self.events_unavailable = Some(why),
        }
        self
    }

    /// Moves the kernel's new events into the attributor, each with its process as /proc shows it
    /// now (the same process: its start time must match the event's), or as the event alone
    /// describes it when the process has already ended. Returns the (transport, local port) pairs
    /// they were about.
    fn take_events(&mut self) -> Vec<(bool, u16)> {
        let Some(source) = self.source.as_mut() else {
            return Vec::new();
        };
        self.taken.clear();
        if source.drain(&mut self.taken) == 0 {
            return Vec::new();
        }
        let mut ports: Vec<(bool, u16)> =
            self.taken.iter().map(|e| (e.tcp, e.local.port())).collect();
        ports.sort_unstable();
        ports.dedup();
        for e in self.taken.drain(..) {
            let process = match self
                .attributor
                .process_if_same(e.pid, e.start_time_ticks(self.clk_tck))
            {
                // a process caught exiting (a zombie) shows its comm but no executable: the
                // event's executable name completes a name the kernel cut
                Some(p) if p.exe.is_none() && e.exe_name.is_some() => {
                    let mut whole = (*p).clone();
                    whole.name =
                        process::program_name(p.name.as_bytes(), e.exe_name.as_deref(), &p.cmdline);
                    Arc::new(whole)
                }
                Some(p) => p,
                None => Arc::new(ended_process(&e)),
            };
            self.attributor.add_sighting(Sighting {
                netns: e.netns,
                tcp: e.tcp,
                local: e.local,
                remote: e.remote,
                at_mono_ns: e.at_mono_ns,
                process,
            });
        }
        ports
    }

    /// Kernel events do not feed this attribution, and why.
    pub fn without_events(mut self, why: String) -> FlowAttribution {
        self.events_unavailable = Some(why);
        self
    }

    /// How flows were tied to processes, for the report's live section.
    pub fn report(&self) -> LiveAttribution {
        let stats = self.source.as_ref().map(EventFeed::stats);
        LiveAttribution {
            mechanism: if self.events { "events+proc" } else { "proc" }.into(),
            events_unavailable: self.events_unavailable.clone(),
            tracepoints: self
                .source
                .as_ref()
                .map(|s| s.attached.clone())
                .unwrap_or_default(),
            tracepoints_missing: self
                .source
                .as_ref()
                .map(|s| s.missing.clone())
                .unwrap_or_default(),
            events: stats.map_or(0, |(s, _)| s.events),
            // lost in the kernel's full ring, or in the queue to the pipeline
            events_lost: stats.map_or(0, |(s, queue)| s.lost_ring_full + queue),
            netns: self.netns,
            stats: self.attributor.stats(),
            notes: crate::attrib::limits(std::path::Path::new("/proc")),
        }
    }

    /// Flows wait for kernel events of their sockets.
    pub fn with_events(mut self) -> FlowAttribution {
        self.events = true;
        self
    }

    /// Flows still waiting.
    pub fn pending(&self) -> usize {
        self.pending.len()
    }

    /// Ties the flows that just began to their processes, while their sockets still exist, and
    /// looks again at those waiting. `finish` settles every waiting flow now (the capture ended).
    pub fn run(&mut self, pipeline: &mut Pipeline, finish: bool) {
        let ports = self.take_events();
        let new = pipeline.take_new_flows();
        if new.is_empty() && self.pending.is_empty() {
            return;
        }
        let fresh = self.attributor.begin_batch();
        let now = Instant::now();
        // Waiting flows are looked at again only when something may have changed for them:
        // their time is up, the socket tables were read again (for a flow with an end here that
        // has not been looked up in tables read after it began), or an event came for one of
        // their ports. Whether a whole scan is worth it is known without one: how many waiting
        // flows want fresh tables, and which ports waiting flows have, are kept as flows come and
        // go. Otherwise only the oldest, at the front, are looked at while their time is up: the
        // queue is in the order the flows began, and a batch costs nothing for the others.
        let scan_all = finish
            || (fresh && self.unread > 0)
            || ports.iter().any(|k| self.pending_ports.contains_key(k));
        if scan_all {
            let evented = |k: &(bool, u16)| ports.binary_search(k).is_ok();
            let pending = std::mem::take(&mut self.pending);
            for p in pending {
                let changed = finish
                    || self.due(&p, now)
                    || (fresh && p.end_known && !p.looked_fresh)
                    || evented(&(p.flow.tcp, p.flow.client.port()))
                    || evented(&(p.flow.tcp, p.flow.server.port()));
                if changed {
                    self.forget(&p);
                    self.look(pipeline, p, now, finish);
                } else {
                    self.pending.push_back(p);
                }
            }
        } else {
            while self.pending.front().is_some_and(|p| self.due(p, now)) {
                let Some(p) = self.pending.pop_front() else {
                    break;
                };
                self.forget(&p);
                self.look(pipeline, p, now, finish);
            }
        }
        for flow in new {
            let end_known = self
                .attributor
                .local_end(flow.client, flow.server)
                .is_some();
            let p = Pending {
                flow,
                since: now,
                end_known,
                looked_fresh: false,
            };
            self.look(pipeline, p, now, finish);
        }
    }

    /// Looks a flow up: settles it on proof, or when its wait is over (with the guess, if any),
    /// else puts it at the back of the waiting queue.
    fn look(&mut self, pipeline: &mut Pipeline, mut p: Pending, now: Instant, finish: bool) {
        let found = self
            .attributor
            .lookup_flow(p.flow.tcp, p.flow.client, p.flow.server);
        p.looked_fresh |= self
            .attributor
            .tables_read_at()
            .is_some_and(|at| at >= p.since);
        let proof = found.as_ref().is_some_and(|a| !a.how.guess());
        let settled = proof || finish || self.due(&p, now) || self.pending.len() >= PENDING_MAX;
        if settled {
            if let Some(who) = found {
                pipeline.attribute(&p.flow, who);
            }
        } else {
            self.remember(&p);
            self.pending.push_back(p);
        }
    }

    /// Counts a flow that starts or goes on waiting.
    fn remember(&mut self, p: &Pending) {
        if p.end_known && !p.looked_fresh {
            self.unread += 1;
        }
        for port in [p.flow.client.port(), p.flow.server.port()] {
            *self.pending_ports.entry((p.flow.tcp, port)).or_default() += 1;
        }
    }

    /// Uncounts a waiting flow about to be looked at again.
    fn forget(&mut self, p: &Pending) {
        if p.end_known && !p.looked_fresh {
            self.unread = self.unread.saturating_sub(1);
        }
        for port in [p.flow.client.port(), p.flow.server.port()] {
            if let std::collections::hash_map::Entry::Occupied(mut e) =
                self.pending_ports.entry((p.flow.tcp, port))
            {
                *e.get_mut() -= 1;
                if *e.get() == 0 {
                    e.remove();
                }
            }
        }
    }

    /// Whether a waiting flow has waited long enough: it was looked up in socket tables read
    /// after it began (when an end of it is this host's: otherwise no table can show it), and,
    /// when events run, its event had the time to arrive.
    fn due(&self, p: &Pending, now: Instant) -> bool {
        let read_after = !p.end_known || p.looked_fresh;
        let waited = now.saturating_duration_since(p.since);
        read_after && (!self.events || waited >= EVENT_WAIT)
    }
}

/// Events waiting for the pipeline thread at most; beyond, they are dropped and counted.
const EVENT_QUEUE: usize = 65_536;

/// The kernel's socket events, read by a thread of their own (`telltale-events`) as soon as the
/// ring buffer has any, and queued for the pipeline thread. The pipeline reads its packets in
/// batches; a busy host's other sockets (every first send of every process) could fill the ring
/// between two batches, and an event lost there is a process not named.
struct EventFeed {
    rx: std::sync::mpsc::Receiver<SocketEvent>,
    stop: Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
    stats: Arc<std::sync::Mutex<EbpfStats>>,
    queue_drops: Arc<std::sync::atomic::AtomicU64>,
    attached: Vec<String>,
    missing: Vec<String>,
}

impl EventFeed {
    fn start(mut source: EventSource) -> Result<EventFeed, String> {
        use std::os::fd::AsFd;
        use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
        let attached = source.attached().to_vec();
        let missing = source.missing().to_vec();
        let (tx, rx) = std::sync::mpsc::sync_channel(EVENT_QUEUE);
        let stop = Arc::new(AtomicBool::new(false));
        let stats = Arc::new(std::sync::Mutex::new(source.stats()));
        let queue_drops = Arc::new(AtomicU64::new(0));
        let (stop_t, stats_t, drops_t) = (stop.clone(), stats.clone(), queue_drops.clone());
        let thread = std::thread::Builder::new()
            .name("telltale-events".into())
            .spawn(move || {
                let mut taken = Vec::new();
                while !stop_t.load(Ordering::Relaxed) {
                    {
                        let mut fds = [nix::poll::PollFd::new(
                            source.as_fd(),
                            nix::poll::PollFlags::POLLIN,
                        )];
                        // woken by the ring, or every 50 ms to see whether to stop
                        let _ = nix::poll::poll(&mut fds, nix::poll::PollTimeout::from(50u16));
                    }
                    taken.clear();
                    source.drain(&mut taken);
                    for e in taken.drain(..) {
                        if tx.try_send(e).is_err() {
                            drops_t.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    if let Ok(mut s) = stats_t.lock() {
                        *s = source.stats();
                    }
                }
            })
            .map_err(|e| format!("cannot start the thread that reads the kernel's events: {e}"))?;
        Ok(EventFeed {
            rx,
            stop,
            thread: Some(thread),
            stats,
            queue_drops,
            attached,
            missing,
        })
    }

    /// Moves the queued events into `out`.
    fn drain(&self, out: &mut Vec<SocketEvent>) -> usize {
        let before = out.len();
        while let Ok(e) = self.rx.try_recv() {
            out.push(e);
        }
        out.len() - before
    }

    /// The source's counters, and the events dropped because the queue was full.
    fn stats(&self) -> (EbpfStats, u64) {
        let s = self.stats.lock().map(|s| *s).unwrap_or_default();
        (
            s,
            self.queue_drops.load(std::sync::atomic::Ordering::Relaxed),
        )
    }
}

impl Drop for EventFeed {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A process that ended before /proc could be read, as its event describes it: its name (the
/// executable's file name where the kernel's 15-byte name cut it), pid and uid. Its executable's
/// path, command line and container are unknown.
fn ended_process(e: &SocketEvent) -> ProcessInfo {
    ProcessInfo {
        pid: e.pid,
        name: process::program_name(e.comm.as_bytes(), e.exe_name.as_deref(), &[]),
        exe: None,
        cmdline: Vec::new(),
        uid: Some(e.uid),
        container: None,
    }
}

/// sysconf(_SC_CLK_TCK): the unit of /proc/PID/stat's start time (100 on Linux).
fn clock_ticks() -> u64 {
    nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
        .ok()
        .flatten()
        .and_then(|t| u64::try_from(t).ok())
        .filter(|&t| t > 0)
        .unwrap_or(100)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_ended_process_is_named_by_its_executable() {
        let e = SocketEvent {
            at_mono_ns: 1,
            kind: crate::attrib::ebpf::EventKind::Connect,
            netns: 4026531840,
            tcp: true,
            local: "192.168.77.2:40000".parse().unwrap(),
            remote: Some("203.0.113.11:443".parse().unwrap()),
            pid: 4242,
            tid: 4250,
            uid: 997,
            cgroup_id: 1,
            comm: "Plex Media Serv".into(),
            exe_name: Some("Plex Media Server".into()),
            start_boottime_ns: 5_000_000_000,
        };
        let p = ended_process(&e);
        assert_eq!(
            (p.pid, p.name.as_str(), p.uid),
            (4242, "Plex Media Server", Some(997))
        );
        assert_eq!(p.exe, None);
        // a comm that is not cut stays as it is
        let short = SocketEvent {
            comm: "curl".into(),
            exe_name: Some("curl".into()),
            ..e
        };
        assert_eq!(ended_process(&short).name, "curl");
        assert!(clock_ticks() >= 100);
    }
}
