//! The snapshot: an immutable picture of the audit so far, published by the pipeline
//! thread several times a second and only read by the UI. Flows that did not change
//! since the last snapshot are shared (`Arc`), not copied.

use crate::pipeline::Counters;
use crate::report::model::{FlowReport, OptOut, RulesInfo};
use crate::time::Timestamp;
use std::sync::Arc;

/// Where the packets come from.
#[derive(Clone, Debug, PartialEq)]
pub enum Source {
    /// Live capture on an interface (`any` included), with the BPF filter if one was given.
    Live {
        interface: String,
        filter: Option<String>,
    },
    /// A capture file (or `-`), replayed at a speed (`None`: as fast as possible).
    File { path: String, speed: Option<f64> },
    /// The built-in demo capture, replayed.
    Demo { speed: f64 },
}

impl Source {
    /// One line for the header: `eth0 (tcp port 443)`, `plex.pcapng at 4x`, `demo at 5x`.
    pub fn describe(&self) -> String {
        let speed = |s: &Option<f64>| s.map_or("max speed".to_string(), |x| format!("{x}x"));
        match self {
            Source::Live {
                interface,
                filter: Some(f),
            } => format!("{interface} ({f})"),
            Source::Live {
                interface,
                filter: None,
            } => interface.clone(),
            Source::File { path, speed: s } => format!("{path} at {}", speed(s)),
            Source::Demo { speed: s } => format!("built-in demo at {s}x"),
        }
    }
}

/// What the capture is doing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CaptureState {
    Starting,
    Running,
    /// The file or demo was read to the end (live capture never finishes by itself).
    Finished,
    /// The capture failed; what was read before is still shown.
    Failed(String),
}

/// Packets lost before telltale saw them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Drops {
    /// Dropped by the kernel (libpcap's `ps_drop`); None when not known (files).
    pub kernel: Option<u64>,
    /// Dropped by the interface or its driver (`ps_ifdrop`).
    pub interface: Option<u64>,
    /// Dropped because telltale's own queue from capture to pipeline was full.
    pub queue: u64,
}

impl Drops {
    pub fn total(&self) -> u64 {
        self.kernel.unwrap_or(0) + self.interface.unwrap_or(0) + self.queue
    }
}

#[derive(Clone, Debug)]
pub struct Snapshot {
    /// 1, 2, 3, ... in publication order.
    pub seq: u64,
    pub source: Source,
    pub state: CaptureState,
    /// The newest packet's time (the capture's "now").
    pub capture_time: Option<Timestamp>,
    /// Packets per second over the last second or so of wall time.
    pub packets_per_sec: f64,
    pub drops: Drops,
    pub opt_out: OptOut,
    /// The rules file and each rule's hits so far.
    pub rules: RulesInfo,
    pub counters: Counters,
    /// Which flows are shown, when not every flow: `scope server: 3 flows of other processes left out`.
    pub scope_note: Option<String>,
    /// Every flow so far (live and ended), by id.
    pub flows: Arc<Vec<Arc<FlowReport>>>,
}

impl Snapshot {
    /// An empty snapshot, before the first packet.
    pub fn empty(source: Source, opt_out: OptOut, rules: RulesInfo) -> Snapshot {
        Snapshot {
            seq: 0,
            source,
            state: CaptureState::Starting,
            capture_time: None,
            packets_per_sec: 0.0,
            drops: Drops::default(),
            opt_out,
            rules,
            counters: Counters::default(),
            scope_note: None,
            flows: Arc::new(Vec::new()),
        }
    }
}
