//! Socket owners as the kernel sees them, from eBPF: attribution for processes too short-lived for
//! /proc.
//!
//! The /proc path ([`super::Attributor`]) finds a flow's socket in the kernel's tables and its owner
//! through /proc/PID/fd, after the flow was captured. A process that connects, sends and exits within
//! milliseconds (a curl from a cron job, a helper a media server forks) is gone by then, and so is
//! its socket. This source has the kernel say who owns a socket at the moment it is used, while the
//! process still runs, and keeps the answer in a ring buffer until it is read.
//!
//! `socket_events.bpf.c` is attached to two raw tracepoints, by name (no tracefs, no kprobes):
//! - `sock:inet_sock_set_state` gives [`EventKind::Connect`]: the owner is taken when a TCP socket
//!   goes to SYN_SENT (in connect(), where the connecting task is the current one), and sent with the
//!   socket's addresses at its next transition, ESTABLISHED or CLOSE (at SYN_SENT the local port is
//!   not chosen yet). Every outgoing TCP connection, even one refused.
//! - `sock:sock_send_length` gives [`EventKind::FirstSend`]: the first send on each IPv4 or IPv6 TCP
//!   or UDP socket, after it (an unconnected UDP socket is bound by then): UDP, and the sockets a
//!   server accepted. Not for a connection already reported by its connect. Sent again when another
//!   process sends on the socket (one inherited or passed on; the last four senders of a socket are
//!   remembered, so forked workers taking turns on it are reported once each), or when its ports
//!   change (connected since).
//!
//! The kernel's own sockets (NFS, SMB and iSCSI clients) are left out: they have no process, and
//! whichever process was current would be a wrong answer.
//!
//! Nothing is lost silently: a record the full ring could not take is counted by the program, a
//! record that cannot be read is counted here ([`EbpfStats`]). The program's maps are bounded: the
//! ring holds 1 MiB (about 2,800 records), the table of connecting sockets 4,096 entries, the table
//! of sockets already reported 16,384 (a socket pushed out of it is only reported once more).
//!
//! It needs Linux 5.8 or later built with BTF (`/sys/kernel/btf/vmlinux`), root or CAP_BPF and
//! CAP_PERFMON, and a build that had clang (see `build.rs`); [`EventSource::start`] says in words
//! which of these is missing. Those capabilities are needed only to start: a started source goes
//! on reading after the process gave up every capability and its uid (`crate::privilege`), so
//! start it before.
//!
//! What it costs the machine (release build, 2 cores): a send on a socket already reported, about
//! 70 ns (a map lookup and a few small reads; 11% of the cheapest send there is, a 1-byte datagram
//! on loopback); one that makes an event, about 0.8 µs; starting, about 50 ms (reading the kernel's
//! BTF, the verifier). See `tests/attrib_ebpf.rs`, `cost`.
//!
//! Matching an event to a captured flow is the caller's: `netns` with [`own_netns`] tells a
//! container's socket from the host's, `start_boottime_ns` tells a process from a later one that was
//! given the same pid (see [`SocketEvent::start_time_ticks`]).

mod reason;
mod record;

use std::io;
use std::net::SocketAddr;
use std::os::fd::{AsFd, BorrowedFd};
use std::path::{Path, PathBuf};

use aya::maps::{Array, MapData, RingBuf};
use aya::programs::RawTracePoint;
use aya::{Btf, Ebpf, EbpfLoader, Endianness};
use serde::Serialize;

pub use reason::Unavailable;
use record::{COUNTER_CONNECT_UNSEEN, COUNTER_RING_FULL};

/// The compiled program, or nothing when clang was missing at build time (see `build.rs`).
static PROGRAM: &[u8] =
    aya::include_bytes_aligned!(concat!(env!("OUT_DIR"), "/socket_events.bpf.o"));

/// Where the kernel publishes its BTF type information.
pub const KERNEL_BTF: &str = "/sys/kernel/btf/vmlinux";
/// The tracepoints, as "category:name".
pub const CONNECT_TRACEPOINT: &str = "sock:inet_sock_set_state";
pub const SEND_TRACEPOINT: &str = "sock:sock_send_length";

/// At most this many records are read by one [`EventSource::drain`]: twice what the ring holds, so
/// a call takes all that waited when it began, and a flood cannot keep the caller in the loop.
pub const MAX_DRAIN: usize = 2 * (1 << 20) / record::RECORD_SIZE;

/// Which tracepoint saw the socket.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// An outgoing TCP connection (`sock:inet_sock_set_state`), with the process that called
    /// connect().
    Connect,
    /// The first send on a TCP or UDP socket by a process (`sock:sock_send_length`), with that
    /// process; none for a connection its [`EventKind::Connect`] already reported.
    FirstSend,
}

/// One socket seen by the kernel, with the process that used it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SocketEvent {
    /// When the process was seen (CLOCK_MONOTONIC, as `bpf_ktime_get_ns`): for a connect, when it
    /// called connect(), just before its SYN left; for a send, just after it sent.
    pub at_mono_ns: u64,
    pub kind: EventKind,
    /// The socket's network namespace, as the inode in /proc/PID/ns/net's `net:[N]`.
    pub netns: u64,
    pub tcp: bool,
    /// May have an unspecified IP (a socket bound to the wildcard). IPv4-mapped IPv6 addresses are
    /// given as IPv4, as the packets are.
    pub local: SocketAddr,
    /// `None` when the socket is not connected (a UDP socket sending with sendto()).
    pub remote: Option<SocketAddr>,
    /// The process (thread group) id, as in /proc.
    pub pid: u32,
    /// The thread that connected or sent.
    pub tid: u32,
    /// The thread's real uid, as the initial user namespace numbers it.
    pub uid: u32,
    /// The thread's cgroup (v2) id: the inode of its folder under /sys/fs/cgroup.
    pub cgroup_id: u64,
    /// The process's name (its group leader's comm, at most 15 bytes), lossy UTF-8. A thread's own
    /// comm is often its role ("Chrome_IOThread"), not the program.
    pub comm: String,
    /// The executable's file name, which comm may cut; `None` when the kernel had none to give.
    pub exe_name: Option<String>,
    /// When the process (its group leader) started, in ns since boot.
    pub start_boottime_ns: u64,
}

impl SocketEvent {
    /// The process's start time in clock ticks since boot, as /proc/PID/stat's 22nd field gives
    /// it (`clk_tck` is sysconf(_SC_CLK_TCK), 100 on Linux): equal, for the same process. A pid
    /// the kernel gave to a later process has a later start. (A process in a time namespace sees
    /// its namespace's offset added in its own /proc; telltale reads /proc from the host's.)
    pub fn start_time_ticks(&self, clk_tck: u64) -> u64 {
        let ns_per_tick = 1_000_000_000 / clk_tck.clamp(1, 1_000_000_000);
        self.start_boottime_ns / ns_per_tick
    }
}

/// What the source did, for the status line and the report.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct EbpfStats {
    /// Events read from the ring.
    pub events: u64,
    /// Events lost because the ring was full (the program's counter): the reader fell behind.
    pub lost_ring_full: u64,
    /// Records in the ring that could not be read (wrong size, unknown kind, family or protocol).
    pub unreadable: u64,
    /// Connections whose SYN_SENT the program did not see, so that their owner is unknown: they
    /// began before the source started, or were pushed out of its table of 4,096 connecting sockets.
    pub connects_unseen: u64,
}

/// How to start: where the kernel's BTF is, and which tracepoints to attach.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Options {
    /// The kernel's BTF, [`KERNEL_BTF`]; a test points it elsewhere to see a kernel without.
    pub btf: PathBuf,
    /// The tracepoint of connects, [`CONNECT_TRACEPOINT`]; a test renames it to see a kernel
    /// without it.
    pub connect_tracepoint: String,
    /// The tracepoint of sends, [`SEND_TRACEPOINT`].
    pub send_tracepoint: String,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            btf: KERNEL_BTF.into(),
            connect_tracepoint: CONNECT_TRACEPOINT.into(),
            send_tracepoint: SEND_TRACEPOINT.into(),
        }
    }
}

/// The running eBPF programs and their ring buffer. Dropping it detaches them.
pub struct EventSource {
    ring: RingBuf<MapData>,
    counters: Array<MapData, u64>,
    attached: Vec<String>,
    missing: Vec<String>,
    stats: EbpfStats,
    /// Owns the programs and their links: detaches them when dropped.
    _ebpf: Ebpf,
}

impl EventSource {
    /// Loads and attaches the programs. Each tracepoint that is missing is reported
    /// ([`EventSource::missing`]), and the others still run; fails with a reason in words when
    /// nothing can run.
    pub fn start() -> Result<EventSource, Unavailable> {
        EventSource::start_with(&Options::default())
    }

    /// [`EventSource::start`], with other options.
    pub fn start_with(options: &Options) -> Result<EventSource, Unavailable> {
        if PROGRAM.is_empty() {
            return Err(Unavailable::no_program());
        }
        let btf = read_btf(&options.btf)?;
        let mut ebpf = EbpfLoader::new()
            .btf(Some(&btf))
            .load(PROGRAM)
            .map_err(|e| Unavailable::from_load(&e))?;
        let ring = ebpf
            .take_map("events")
            .ok_or_else(|| Unavailable::internal("the program has no ring buffer"))
            .and_then(|m| RingBuf::try_from(m).map_err(|e| Unavailable::from_load(&e)))?;
        let counters = ebpf
            .take_map("counters")
            .ok_or_else(|| Unavailable::internal("the program has no counters"))
            .and_then(|m| Array::try_from(m).map_err(|e| Unavailable::from_load(&e)))?;

        let mut attached = Vec::new();
        let mut missing = Vec::new();
        let mut refusals = Vec::new();
        for (program, tracepoint) in [
            ("on_set_state", &options.connect_tracepoint),
            ("on_send", &options.send_tracepoint),
        ] {
            match attach(&mut ebpf, program, tracepoint) {
                Ok(()) => attached.push(tracepoint.clone()),
                Err(why) => {
                    missing.push(why.describe(tracepoint));
                    refusals.push(why);
                }
            }
        }
        if attached.is_empty() {
            return Err(Unavailable::nothing_attached(&refusals, &missing));
        }
        Ok(EventSource {
            ring,
            counters,
            attached,
            missing,
            stats: EbpfStats::default(),
            _ebpf: ebpf,
        })
    }

    /// Moves the events waiting in the ring buffer into `out`, without blocking, and returns how
    /// many. At most [`MAX_DRAIN`] records are taken, which is all that waited when the call began.
    pub fn drain(&mut self, out: &mut Vec<SocketEvent>) -> usize {
        let mut moved = 0;
        for _ in 0..MAX_DRAIN {
            let Some(item) = self.ring.next() else { break };
            match record::parse(&item) {
                Ok(event) => {
                    out.push(event);
                    moved += 1;
                }
                Err(_) => self.stats.unreadable += 1,
            }
        }
        self.stats.events += moved as u64;
        if let Some(c) = self.read_counters() {
            (self.stats.lost_ring_full, self.stats.connects_unseen) = c;
        }
        moved
    }

    /// What was done so far. The program's counters are read now; if that fails, as they were at
    /// the last [`EventSource::drain`].
    pub fn stats(&self) -> EbpfStats {
        let mut stats = self.stats;
        if let Some(c) = self.read_counters() {
            (stats.lost_ring_full, stats.connects_unseen) = c;
        }
        stats
    }

    /// The tracepoints that run, e.g. `["sock:inet_sock_set_state", "sock:sock_send_length"]`.
    pub fn attached(&self) -> &[String] {
        &self.attached
    }

    /// The tracepoints that could not be attached, each with why and what it costs:
    /// `"sock:sock_send_length: this kernel has no such tracepoint (...)"`.
    pub fn missing(&self) -> &[String] {
        &self.missing
    }

    fn read_counters(&self) -> Option<(u64, u64)> {
        Some((
            self.counters.get(&COUNTER_RING_FULL, 0).ok()?,
            self.counters.get(&COUNTER_CONNECT_UNSEEN, 0).ok()?,
        ))
    }
}

/// The ring buffer's descriptor: readable when events wait, for a caller that polls.
impl AsFd for EventSource {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.ring.as_fd()
    }
}

/// Reads the kernel's BTF, which the loader needs to place the program's reads of the kernel's
/// structures (CO-RE).
fn read_btf(path: &Path) -> Result<Btf, Unavailable> {
    match std::fs::metadata(path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(Unavailable::no_btf(path)),
        Err(e) => return Err(Unavailable::unreadable_btf(path, &e)),
        Ok(_) => {}
    }
    Btf::parse_file(path, Endianness::default()).map_err(|e| Unavailable::unreadable_btf(path, &e))
}

/// Loads one program and attaches it to its tracepoint ("category:name"; a raw tracepoint is
/// attached by its name alone).
fn attach(ebpf: &mut Ebpf, program: &str, tracepoint: &str) -> Result<(), reason::Refusal> {
    let Some(p) = ebpf.program_mut(program) else {
        return Err(reason::Refusal::internal(format!(
            "the object has no program {program}"
        )));
    };
    let p: &mut RawTracePoint = p.try_into().map_err(reason::Refusal::load)?;
    p.load().map_err(reason::Refusal::load)?;
    let name = tracepoint
        .split_once(':')
        .map_or(tracepoint, |(_, name)| name);
    p.attach(name).map_err(reason::Refusal::attach)?;
    Ok(())
}

/// The network namespace of this process, as the inode in /proc/self/ns/net's `net:[N]`: an
/// event whose `netns` differs came from another namespace (a container's).
pub fn own_netns() -> Option<u64> {
    let link = std::fs::read_link("/proc/self/ns/net").ok()?;
    parse_ns_link(link.to_str()?)
}

/// "net:[4026531840]" → 4026531840.
fn parse_ns_link(link: &str) -> Option<u64> {
    link.strip_prefix("net:[")?.strip_suffix(']')?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_namespace_links() {
        assert_eq!(parse_ns_link("net:[4026531840]"), Some(4026531840));
        assert_eq!(parse_ns_link("mnt:[4026531840]"), None);
        assert_eq!(parse_ns_link("net:[]"), None);
        assert_eq!(parse_ns_link("net:[12"), None);
        assert_eq!(parse_ns_link("net:[-1]"), None);
        // The real one, where there is a /proc.
        if Path::new("/proc/self/ns/net").exists() {
            assert!(own_netns().is_some());
        }
    }

    #[test]
    fn start_times_compare_with_proc_stat() {
        let mut r = record::tests::Record::new(1, 2, 6);
        r.put(56 + 16, &12_345_670_000_000u64.to_ne_bytes());
        let e = record::parse(&r.0).unwrap();
        assert_eq!(e.start_time_ticks(100), 1_234_567);
        assert_eq!(e.start_time_ticks(1000), 12_345_670);
        // A tick rate of 0 is read as one a second, not a division by zero.
        assert_eq!(e.start_time_ticks(0), 12_345);
    }

    #[test]
    fn a_kernel_without_btf_is_reported_in_words() {
        let options = Options {
            btf: "/nonexistent/vmlinux".into(),
            ..Options::default()
        };
        let Err(e) = EventSource::start_with(&options) else {
            panic!("started without BTF");
        };
        if PROGRAM.is_empty() {
            assert!(e.reason.contains("clang was missing"), "{e}");
        } else {
            assert!(e.reason.contains("BTF"), "{e}");
            assert!(e.reason.contains("/nonexistent/vmlinux"), "{e}");
            assert!(e.reason.contains("CONFIG_DEBUG_INFO_BTF"), "{e}");
        }
    }

    #[test]
    fn the_source_can_move_to_another_thread() {
        fn send<T: Send>() {}
        send::<EventSource>();
    }
}
