//! Tying live flows to processes: the glue between the pipeline's new flows, the kernel's socket
//! events and the [`Attributor`].
//!
//! A new flow is looked up at once, by its own local end (never its far end). Proof (a kernel event
//! of its socket, or the socket in the tables) settles it. Otherwise the flow waits a little: the
//! socket tables may have been read before the flow began, and a TCP connection's event arrives
//! only when the handshake ends, a round trip after its first packet. When the wait is over, what
//! remains is a guess (a listener on the local port, marked as such) or nothing: an unknown process.

use std::time::{Duration, Instant};

use crate::attrib::Attributor;
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
}

/// Tying live flows to processes: the attributor, and the flows to look up again.
pub struct FlowAttribution {
    pub attributor: Attributor,
    pending: Vec<Pending>,
    /// Whether kernel events feed the attributor: flows then wait for them.
    events: bool,
    /// Events taken since the pending flows were last looked up.
    fresh_events: bool,
    /// Why kernel events do not run, when they do not.
    events_unavailable: Option<String>,
    /// The capture's own network namespace, as read when attribution began.
    netns: Option<u64>,
}

impl FlowAttribution {
    pub fn new(attributor: Attributor) -> FlowAttribution {
        FlowAttribution {
            attributor,
            pending: Vec::new(),
            events: false,
            fresh_events: false,
            events_unavailable: None,
            netns: crate::attrib::netns::namespace_of(std::path::Path::new("/proc"), "self"),
        }
    }

    /// Kernel events do not feed this attribution, and why.
    pub fn without_events(mut self, why: String) -> FlowAttribution {
        self.events_unavailable = Some(why);
        self
    }

    /// How flows were tied to processes, for the report's live section.
    pub fn report(&self) -> LiveAttribution {
        LiveAttribution {
            mechanism: if self.events { "events+proc" } else { "proc" }.into(),
            events_unavailable: self.events_unavailable.clone(),
            tracepoints: Vec::new(),
            tracepoints_missing: Vec::new(),
            events: 0,
            events_lost: 0,
            netns: self.netns,
            stats: self.attributor.stats(),
            notes: crate::attrib::limits(std::path::Path::new("/proc")),
        }
    }

    /// Flows wait for kernel events of their sockets (they arrive through
    /// [`FlowAttribution::events_arrived`]).
    pub fn with_events(mut self) -> FlowAttribution {
        self.events = true;
        self
    }

    /// New sightings were handed to the attributor: waiting flows are worth another look.
    pub fn events_arrived(&mut self) {
        self.fresh_events = true;
    }

    /// Flows still waiting.
    pub fn pending(&self) -> usize {
        self.pending.len()
    }

    /// Ties the flows that just began to their processes, while their sockets still exist, and
    /// looks again at those waiting. `finish` settles every waiting flow now (the capture ended).
    pub fn run(&mut self, pipeline: &mut Pipeline, finish: bool) {
        let new = pipeline.take_new_flows();
        if new.is_empty() && self.pending.is_empty() {
            return;
        }
        let fresh = self.attributor.begin_batch();
        let now = Instant::now();
        let mut look: Vec<Pending> = new
            .into_iter()
            .map(|flow| Pending { flow, since: now })
            .collect();
        if fresh
            || finish
            || self.fresh_events
            || self.pending.iter().any(|p| self.due(p, now, true))
        {
            look.append(&mut self.pending);
        }
        self.fresh_events = false;
        let mut waiting = Vec::new();
        for p in look {
            let end_known = self
                .attributor
                .local_end(p.flow.client, p.flow.server)
                .is_some();
            let found = self
                .attributor
                .lookup_flow(p.flow.tcp, p.flow.client, p.flow.server);
            let proof = found.as_ref().is_some_and(|a| !a.how.guess());
            let settled = proof
                || finish
                || self.due(&p, now, end_known)
                || waiting.len() + self.pending.len() >= PENDING_MAX;
            if settled {
                if let Some(who) = found {
                    pipeline.attribute(&p.flow, who);
                }
            } else {
                waiting.push(p);
            }
        }
        self.pending.append(&mut waiting);
    }

    /// Whether a waiting flow has waited long enough: the socket tables were read after it began
    /// (when an end of it is this host's: otherwise no table can show it), and, when events run,
    /// its event had the time to arrive.
    fn due(&self, p: &Pending, now: Instant, end_known: bool) -> bool {
        let read_after = !end_known
            || self
                .attributor
                .tables_read_at()
                .is_some_and(|at| at >= p.since);
        let waited = now.saturating_duration_since(p.since);
        read_after && (!self.events || waited >= EVENT_WAIT)
    }
}
