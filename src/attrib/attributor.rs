//! The [`Attributor`]: matches a flow's endpoints to a socket in the kernel's tables, the socket to
//! its process, and keeps what it learned.
//!
//! Caches, each bounded:
//! - socket inode → (pid, fd), from the last full scan of /proc/PID/fd. A cached entry is checked with
//!   one readlink before use. A missing inode triggers a new full scan, at most once per 200 ms, since a
//!   busy server opens sockets faster than the scan is worth repeating.
//! - (pid, start time) → [`ProcessInfo`], shared: a pid the kernel gave to a new process is a new key.
//! - container (runtime, id) → [`Container`], so the runtimes' files are read once per container.
//! - the socket tables of the other network namespaces (containers on bridge networks), read through
//!   one process in each, at most once per 200 ms for each transport, at most 256 namespaces and
//!   65,536 sockets. They are read only when the own namespace's tables do not settle a flow.
//!
//! Every failure (a process that ended, a folder that cannot be read, a line that does not parse) is
//! counted in [`AttribStats`], never returned as an error.

use std::collections::{HashMap, HashSet, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;

use super::addrs::Addresses;
use super::container::{self, ContainerRef};
use super::sightings::{Sighting, Sightings};
use super::sockets::{self, SocketEntry, TCP_LISTEN};
use super::{Attribution, Container, How, ProcessInfo, fds, netns, process, read_limited};

/// At most this many socket inodes are remembered, and at most this many sockets of the other
/// network namespaces (for each transport).
pub const MAX_SOCKETS: usize = 65_536;
/// At most this many processes are remembered; an eighth, the oldest, goes when it is reached.
pub const MAX_PROCESSES: usize = 4_096;
/// At most this many containers are remembered.
pub const MAX_CONTAINERS: usize = 1_024;
/// The shortest time between two full scans of the processes' open files.
pub const RESCAN_INTERVAL: Duration = Duration::from_millis(200);
/// At most this much of one socket table is read.
const TABLE_MAX: u64 = 64 * 1024 * 1024;

/// What the attributor did, for the status line and the report.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct AttribStats {
    /// Flows looked up.
    pub lookups: u64,
    /// Found by a kernel event of the flow's own socket.
    pub by_event: u64,
    /// Found by the flow's own socket.
    pub by_socket: u64,
    /// Found by the listener (or bound socket) on the flow's local port.
    pub by_listener: u64,
    /// Not found: no socket, or its owner could not be read or had ended.
    pub not_found: u64,
    /// Of those, flows neither end of which lives on this host (no namespace holds either address).
    pub no_local_end: u64,
    /// Kernel events of sockets dropped from their store, full at its cap, before a flow asked.
    pub sightings_evicted: u64,
    /// Full scans of the processes' open files.
    pub rescans: u64,
    /// Reads of the own namespace's socket tables (one per batch of new flows at most).
    pub table_reads: u64,
    /// Socket-table lines that could not be read.
    pub odd_lines: u64,
    /// Processes whose open files could not be read in the last scan (another user's, without root
    /// or CAP_SYS_PTRACE): their sockets cannot be attributed.
    pub unreadable_processes: u64,
    /// Socket links left out of the last scan because the inode cache was full.
    pub sockets_over_cap: u64,
    /// Of the flows found, those found in the socket tables of another network namespace (a container
    /// on a bridge network).
    pub in_other_namespaces: u64,
    /// Reads of the other network namespaces' socket tables.
    pub namespace_scans: u64,
    /// Other network namespaces whose tables the last of those reads read.
    pub other_namespaces: u64,
    /// Network namespaces left out of the last read, in whole or in part: over the cap on namespaces
    /// or on their sockets.
    pub namespaces_over_cap: u64,
    /// Network namespaces left out of the last read because none of their processes' tables could be
    /// read.
    pub namespaces_unreadable: u64,
}

/// Maps flows to the processes that own their sockets. See the module documentation.
pub struct Attributor {
    proc_root: PathBuf,
    docker_root: PathBuf,
    podman_root: PathBuf,
    rescan_interval: Duration,
    owners: HashMap<u64, fds::Owner>,
    last_scan: Option<Instant>,
    processes: HashMap<(u32, u64), Arc<ProcessInfo>>,
    process_order: VecDeque<(u32, u64)>,
    containers: HashMap<ContainerRef, Container>,
    /// The other network namespaces' sockets: UDP at 0, TCP at 1.
    foreign: [Option<Foreign>; 2],
    /// Where addresses live: the namespaces and the addresses each holds.
    homes: Option<Homes>,
    /// Sockets the kernel reported as they were used (eBPF), by namespace and local port.
    sightings: Sightings,
    /// The own namespace's sockets (UDP at 0, TCP at 1), as read since the batch of flows
    /// being looked up began: every flow of the batch began before the read, so its socket
    /// is in it. Reading them costs a walk of the kernel's whole socket table, so once a
    /// batch, not once a flow.
    own: [Option<(Vec<SocketEntry>, u64)>; 2],
    /// When the own tables were last read, and how long they serve before a batch reads them
    /// again (under a flood of new flows, a read per batch would be most of the work).
    own_read_at: Option<Instant>,
    /// When any socket table was last read.
    last_table_read: Option<Instant>,
    table_interval: Duration,
    stats: AttribStats,
}

/// The socket tables of the other network namespaces, as read at one time.
struct Foreign {
    read_at: Instant,
    /// One table (both address families) for each namespace read, by the namespace's inode.
    spaces: Vec<(u64, Vec<SocketEntry>)>,
}

/// The network namespaces of this host and the addresses each holds, as read at one time.
struct Homes {
    read_at: Instant,
    /// The own namespace's inode, when its link can be read.
    own: Option<u64>,
    /// The own namespace's addresses; `None` when its files cannot be read, and then every address
    /// is taken to live in the own namespace (the flow's client end is looked up there, and nowhere
    /// else).
    own_addresses: Option<Addresses>,
    /// The other namespaces, with their addresses where one of their processes showed them.
    others: Vec<(netns::Namespace, Option<Addresses>)>,
    /// Namespaces over the cap.
    over_cap: u64,
}

/// Where an address lives: the own namespace, or other namespaces of the host (their inodes).
#[derive(Clone, Debug, PartialEq, Eq)]
enum Home {
    Own,
    Others(Vec<u64>),
}

impl Homes {
    fn home_of(&self, ip: IpAddr) -> Option<Home> {
        if self.own_addresses.as_ref().is_none_or(|a| a.holds(ip)) {
            return Some(Home::Own);
        }
        let others: Vec<u64> = self
            .others
            .iter()
            .filter(|(_, a)| a.as_ref().is_some_and(|a| a.holds(ip)))
            .map(|(n, _)| n.inode)
            .collect();
        (!others.is_empty()).then_some(Home::Others(others))
    }
}

/// A socket that may carry a flow, with what orders it among the others.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Candidate {
    how: How,
    /// The rank from [`candidates`]: lower is better.
    rank: u8,
    /// 0 for the own namespace, then the other namespaces in the order they were read.
    space: usize,
    inode: u64,
}

impl Default for Attributor {
    fn default() -> Self {
        Attributor::new()
    }
}

impl Attributor {
    /// The real /proc, /var/lib/docker and /var/lib/containers.
    pub fn new() -> Attributor {
        Attributor::with_roots(
            "/proc".into(),
            "/var/lib/docker".into(),
            "/var/lib/containers".into(),
        )
    }

    /// Other roots: a fake /proc tree in tests, or a runtime installed elsewhere.
    pub fn with_roots(
        proc_root: PathBuf,
        docker_root: PathBuf,
        podman_root: PathBuf,
    ) -> Attributor {
        Attributor {
            proc_root,
            docker_root,
            podman_root,
            rescan_interval: RESCAN_INTERVAL,
            owners: HashMap::new(),
            last_scan: None,
            processes: HashMap::new(),
            process_order: VecDeque::new(),
            containers: HashMap::new(),
            foreign: [None, None],
            homes: None,
            sightings: Sightings::new(),
            own: [None, None],
            own_read_at: None,
            last_table_read: None,
            table_interval: Duration::from_millis(50),
            stats: AttribStats::default(),
        }
    }

    /// Changes the shortest time between two full scans (200 ms by default).
    pub fn with_rescan_interval(mut self, interval: Duration) -> Attributor {
        self.rescan_interval = interval;
        self
    }

    /// A new batch of flows to look up. True when the own namespace's socket tables will be
    /// read again (once, at the batch's first lookup): the last read is older than the table
    /// interval. Otherwise the batch is looked up in the tables as last read, which may not
    /// yet show the sockets of its flows: worth a second lookup at the next fresh batch.
    pub fn begin_batch(&mut self) -> bool {
        let fresh = self
            .own_read_at
            .is_none_or(|t| t.elapsed() >= self.table_interval);
        if fresh {
            self.own = [None, None];
            self.own_read_at = None;
        }
        fresh
    }

    /// When a socket table (the own namespace's or another's) was last read.
    pub fn tables_read_at(&self) -> Option<Instant> {
        self.last_table_read
    }

    /// Changes the shortest time between two reads of the own socket tables (50 ms by default).
    pub fn with_table_interval(mut self, interval: Duration) -> Attributor {
        self.table_interval = interval;
        self
    }

    /// Whether attribution can work here: /proc/net/tcp readable (Linux).
    pub fn available(&self) -> bool {
        std::fs::File::open(self.proc_root.join("net").join("tcp")).is_ok()
    }

    /// What was done so far.
    pub fn stats(&self) -> AttribStats {
        AttribStats {
            sightings_evicted: self.sightings.evicted,
            ..self.stats
        }
    }

    /// The process behind a flow, from its client and server ends: the one end that is this host's
    /// is looked up (see [`Attributor::local_end`]), never the other. When no end can be told to be
    /// this host's, the kernel's event for a socket that is exactly the client's end (its address,
    /// port and connected remote end) still names the client, in whatever namespace it ran: a
    /// container whose last process ended shows its addresses nowhere else. `None` when nothing
    /// owns the local end.
    pub fn lookup_flow(
        &mut self,
        tcp: bool,
        client: SocketAddr,
        server: SocketAddr,
    ) -> Option<Attribution> {
        if let Some((local, remote)) = self.local_end(client, server) {
            return self.lookup(tcp, local, remote);
        }
        self.stats.lookups += 1;
        if let Some(s) = self.sightings.find_exact(tcp, client, server) {
            let process = Arc::clone(&s.process);
            self.stats.by_event += 1;
            self.stats.in_other_namespaces += 1;
            return Some(Attribution {
                process,
                how: How::Event,
            });
        }
        self.stats.no_local_end += 1;
        self.stats.not_found += 1;
        None
    }

    /// Which end of a flow is this host's:
    /// - the client's, when the capture's own namespace holds its address (both ends' on loopback);
    /// - else the server's, when the capture's own namespace holds its address;
    /// - else the client's, when another namespace of the host holds its address (a container
    ///   behind a bridge the capture watches);
    /// - else none. A server in another namespace is never taken for the local end when the
    ///   client's address is nowhere to be seen: the client may be a container whose namespace no
    ///   longer shows its addresses through /proc (its last process ended), and the server then
    ///   its far end, in a neighbouring namespace.
    ///
    /// The other end is the far end, even when its socket sits on the same host (a resolver in a
    /// neighbouring container, a proxy listening on its port): it is never looked up.
    pub fn local_end(
        &mut self,
        client: SocketAddr,
        server: SocketAddr,
    ) -> Option<(SocketAddr, SocketAddr)> {
        let homes = self.homes();
        let (c, s) = (homes.home_of(client.ip()), homes.home_of(server.ip()));
        match (c, s) {
            (Some(Home::Own), _) => Some((client, server)),
            (_, Some(Home::Own)) => Some((server, client)),
            (Some(Home::Others(_)), _) => Some((client, server)),
            (None, _) => None,
        }
    }

    /// The process owning the socket of the local end `local` of a flow with `remote`. `tcp` chooses
    /// the tcp/tcp6 or udp/udp6 tables. Only the namespaces that hold `local`'s address are searched.
    ///
    /// In order: a kernel event of the socket ([`How::Event`]); the socket in the tables: the full
    /// 4-tuple when it has a remote address, else the local address and port (or the wildcard address
    /// and the port, for a UDP socket bound to 0.0.0.0 / ::, and IPv4-mapped IPv6 sockets)
    /// ([`How::Socket`]); then, as a guess, a LISTEN (TCP) socket on the local port and address or the
    /// wildcard, in the same namespace ([`How::Listener`]).
    pub fn lookup(
        &mut self,
        tcp: bool,
        local: SocketAddr,
        remote: SocketAddr,
    ) -> Option<Attribution> {
        self.stats.lookups += 1;
        let found = self.find(tcp, local, remote);
        match found.as_ref().map(|(a, _)| a.how) {
            Some(How::Event) => self.stats.by_event += 1,
            Some(How::Socket) => self.stats.by_socket += 1,
            Some(How::Listener) => self.stats.by_listener += 1,
            None => self.stats.not_found += 1,
        }
        if found.as_ref().is_some_and(|&(_, other)| other) {
            self.stats.in_other_namespaces += 1;
        }
        found.map(|(attribution, _)| attribution)
    }

    /// Keeps a socket the kernel reported, for flows looked up later.
    pub fn add_sighting(&mut self, sighting: Sighting) {
        self.sightings.add(sighting);
    }

    /// The process `pid` as /proc shows it now, when it is the process that started at
    /// `start_ticks` (clock ticks after boot, as /proc/PID/stat gives it): not another that was
    /// given the same pid since.
    pub fn process_if_same(&mut self, pid: u32, start_ticks: u64) -> Option<Arc<ProcessInfo>> {
        // a process already described is known by its pid and start time: no read at all
        if let Some(known) = self.processes.get(&(pid, start_ticks)) {
            return Some(Arc::clone(known));
        }
        if process::start_time(&self.proc_root, pid)? != start_ticks {
            return None;
        }
        self.process(pid)
    }

    /// The attribution, and whether it came from another namespace.
    fn find(
        &mut self,
        tcp: bool,
        local: SocketAddr,
        remote: SocketAddr,
    ) -> Option<(Attribution, bool)> {
        let homes = self.homes();
        let own_inode = homes.own;
        let Some(home) = homes.home_of(local.ip()) else {
            self.stats.no_local_end += 1;
            return None;
        };
        let inodes: Vec<Option<u64>> = match &home {
            Home::Own => vec![own_inode],
            Home::Others(list) => list.iter().copied().map(Some).collect(),
        };
        // A kernel event of the socket, from the namespace that holds the address.
        if let Some(process) = inodes.iter().flatten().find_map(|&ns| {
            self.sightings
                .find(ns, tcp, local, remote)
                .map(|s| Arc::clone(&s.process))
        }) {
            let how = How::Event;
            return Some((Attribution { process, how }, home != Home::Own));
        }
        let mut found = match &home {
            Home::Own => {
                self.read_own_tables(tcp);
                let entries = self
                    .own
                    .get(usize::from(tcp))
                    .and_then(Option::as_ref)
                    .map(|(e, _)| e.as_slice())
                    .unwrap_or_default();
                candidates_in(0, tcp, entries, local, remote)
            }
            Home::Others(list) => self.foreign_candidates(tcp, list, local, remote),
        };
        found.sort_by_key(|c| (c.how == How::Listener, c.rank, c.space));
        let mut seen = HashSet::new();
        found.retain(|c| seen.insert(c.inode));
        let wanted: Vec<u64> = found.iter().map(|c| c.inode).collect();
        // The flow's own socket, when it is still there, decides: a listener is only a stand-in for
        // a socket that is gone.
        if found.iter().any(|c| c.how == How::Socket) {
            found.retain(|c| c.how == How::Socket);
        }
        for candidate in found {
            if let Some(pid) = self.owner_of(candidate.inode, &wanted)
                && let Some(process) = self.process(pid)
            {
                let how = candidate.how;
                return Some((Attribution { process, how }, candidate.space != 0));
            }
        }
        None
    }

    /// Reads the own namespace's tables for one transport, once a batch.
    fn read_own_tables(&mut self, tcp: bool) {
        let slot = usize::from(tcp);
        if self.own.get(slot).is_some_and(Option::is_none) {
            let dir = self.proc_root.join("net");
            let (entries, odd) = read_tables(&dir, tcp).unwrap_or_default();
            self.stats.odd_lines += odd;
            self.stats.table_reads += 1;
            self.own_read_at.get_or_insert_with(Instant::now);
            self.last_table_read = Some(Instant::now());
            if let Some(s) = self.own.get_mut(slot) {
                *s = Some((entries, odd));
            }
        }
    }

    /// The namespaces and their addresses, read again when the last read is older than the rescan
    /// interval.
    fn homes(&mut self) -> &Homes {
        let due = self
            .homes
            .as_ref()
            .is_none_or(|h| h.read_at.elapsed() >= self.rescan_interval);
        if due {
            let own = netns::namespace_of(&self.proc_root, "self");
            let own_addresses = Addresses::read(&self.proc_root.join("net"));
            let listing = netns::list(&self.proc_root, own, netns::MAX_NAMESPACES);
            let others = listing
                .namespaces
                .into_iter()
                .map(|n| {
                    let addresses = n.pids.iter().find_map(|pid| {
                        Addresses::read(&self.proc_root.join(pid.to_string()).join("net"))
                    });
                    (n, addresses)
                })
                .collect();
            self.homes = Some(Homes {
                read_at: Instant::now(),
                own,
                own_addresses,
                others,
                over_cap: listing.over_cap,
            });
        }
        self.homes.get_or_insert_with(|| Homes {
            read_at: Instant::now(),
            own: None,
            own_addresses: None,
            others: Vec::new(),
            over_cap: 0,
        })
    }

    /// The candidates in the other network namespaces `inodes`, from tables read again when the
    /// last read is older than the rescan interval.
    fn foreign_candidates(
        &mut self,
        tcp: bool,
        inodes: &[u64],
        local: SocketAddr,
        remote: SocketAddr,
    ) -> Vec<Candidate> {
        let slot = usize::from(tcp);
        let due = self
            .foreign
            .get(slot)
            .and_then(Option::as_ref)
            .is_none_or(|f| f.read_at.elapsed() >= self.rescan_interval);
        if due {
            let read = self.read_foreign(tcp);
            if let Some(s) = self.foreign.get_mut(slot) {
                *s = Some(read);
            }
        }
        let Some(foreign) = self.foreign.get(slot).and_then(Option::as_ref) else {
            return Vec::new();
        };
        foreign
            .spaces
            .iter()
            .enumerate()
            .filter(|(_, (inode, _))| inodes.contains(inode))
            .flat_map(|(i, (_, entries))| candidates_in(i + 1, tcp, entries, local, remote))
            .collect()
    }

    /// Reads the tables of every other network namespace, through the first of its processes whose
    /// tables can be read.
    fn read_foreign(&mut self, tcp: bool) -> Foreign {
        let namespaces: Vec<netns::Namespace> =
            self.homes().others.iter().map(|(n, _)| n.clone()).collect();
        let mut over_cap = self.homes().over_cap;
        let mut spaces = Vec::new();
        let mut room = MAX_SOCKETS;
        let mut unreadable = 0;
        for namespace in &namespaces {
            let read = namespace.pids.iter().find_map(|pid| {
                read_tables(&self.proc_root.join(pid.to_string()).join("net"), tcp)
            });
            let Some((mut entries, odd)) = read else {
                unreadable += 1;
                continue;
            };
            self.stats.odd_lines += odd;
            if entries.len() > room {
                entries.truncate(room);
                over_cap += 1;
            }
            room -= entries.len();
            spaces.push((namespace.inode, entries));
        }
        self.stats.namespace_scans += 1;
        self.last_table_read = Some(Instant::now());
        self.stats.other_namespaces = spaces.len() as u64;
        self.stats.namespaces_over_cap = over_cap;
        self.stats.namespaces_unreadable = unreadable;
        Foreign {
            read_at: Instant::now(),
            spaces,
        }
    }

    /// The pid holding `inode`: from the cache when still true, else from a new scan when one is due.
    fn owner_of(&mut self, inode: u64, wanted: &[u64]) -> Option<u32> {
        if let Some(owner) = self.owners.get(&inode).copied() {
            if fds::still_holds(&self.proc_root, owner, inode) {
                return Some(owner.pid);
            }
            self.owners.remove(&inode);
        }
        if self
            .last_scan
            .is_some_and(|at| at.elapsed() < self.rescan_interval)
        {
            return None;
        }
        let scan = fds::scan(&self.proc_root, MAX_SOCKETS, wanted);
        self.last_scan = Some(Instant::now());
        self.stats.rescans += 1;
        self.stats.unreadable_processes = scan.unreadable;
        self.stats.sockets_over_cap = scan.over_cap;
        self.owners = scan.owners;
        self.owners.get(&inode).map(|o| o.pid)
    }

    /// The process `pid` now, shared with earlier lookups of the same process.
    fn process(&mut self, pid: u32) -> Option<Arc<ProcessInfo>> {
        let key = (pid, process::start_time(&self.proc_root, pid)?);
        if let Some(known) = self.processes.get(&key) {
            return Some(Arc::clone(known));
        }
        let mut info = process::read(&self.proc_root, pid)?;
        info.container = self.container_of(pid);
        let info = Arc::new(info);
        if self.processes.len() >= MAX_PROCESSES {
            for _ in 0..MAX_PROCESSES / 8 {
                if let Some(old) = self.process_order.pop_front() {
                    self.processes.remove(&old);
                }
            }
        }
        self.processes.insert(key, Arc::clone(&info));
        self.process_order.push_back(key);
        Some(info)
    }

    fn container_of(&mut self, pid: u32) -> Option<Container> {
        let path = self.proc_root.join(pid.to_string()).join("cgroup");
        let cgroup = read_limited(&path, 64 * 1024).ok()?;
        let found = container::from_cgroup(&String::from_utf8_lossy(&cgroup))?;
        if let Some(known) = self.containers.get(&found) {
            return Some(known.clone());
        }
        let described = container::describe(&found, &self.docker_root, &self.podman_root);
        if self.containers.len() >= MAX_CONTAINERS {
            self.containers.clear();
        }
        self.containers.insert(found, described.clone());
        Some(described)
    }
}

/// The tables of one namespace, both address families, from its `net` folder; `None` when neither
/// file can be read. Also the number of lines that could not be read.
fn read_tables(dir: &Path, tcp: bool) -> Option<(Vec<SocketEntry>, u64)> {
    let mut all = Vec::new();
    let mut odd = 0;
    let mut readable = false;
    for name in sockets::table_names(tcp) {
        let Ok(bytes) = read_limited(&dir.join(name), TABLE_MAX) else {
            continue;
        };
        readable = true;
        let (entries, bad) = sockets::parse_table(&String::from_utf8_lossy(&bytes));
        odd += bad;
        all.extend(entries);
    }
    readable.then_some((all, odd))
}

/// The candidates of one namespace's tables, for [`Attributor::lookup`]'s ordering across namespaces.
fn candidates_in(
    space: usize,
    tcp: bool,
    entries: &[SocketEntry],
    local: SocketAddr,
    remote: SocketAddr,
) -> Vec<Candidate> {
    let (own, stand_ins) = candidates(tcp, entries, local, remote);
    let tag = |how| {
        move |(rank, inode)| Candidate {
            how,
            rank,
            space,
            inode,
        }
    };
    own.into_iter()
        .map(tag(How::Socket))
        .chain(stand_ins.into_iter().map(tag(How::Listener)))
        .collect()
}

/// Socket inodes, each with its rank.
type Ranked = Vec<(u8, u64)>;

/// The sockets that may carry a flow, with their ranks (lower is better), in table order: those that
/// are the flow's own socket, and the stand-ins for a socket that is gone.
///
/// Own: a connected socket whose 4-tuple is the flow's (rank 0); for UDP, an unconnected socket bound to
/// the flow's local address (1) or a wildcard covering it (2). Stand-ins, a guess: a TCP listener on the
/// local port whose address is the local address (0) or a wildcard covering it (1). A socket bound to
/// another address is never a candidate: it is not this end's. Sockets with no inode (TIME_WAIT) have
/// no owner and are left out.
fn candidates(
    tcp: bool,
    entries: &[SocketEntry],
    local: SocketAddr,
    remote: SocketAddr,
) -> (Ranked, Ranked) {
    let local = SocketAddr::new(local.ip().to_canonical(), local.port());
    let remote = SocketAddr::new(remote.ip().to_canonical(), remote.port());
    let mut own: Vec<(u8, u64)> = Vec::new();
    let mut stand_ins: Vec<(u8, u64)> = Vec::new();
    for entry in entries
        .iter()
        .filter(|e| e.inode != 0 && e.local.port() == local.port())
    {
        let exact = entry.local.ip() == local.ip();
        let covers = sockets::address_covers(entry.local.ip(), local.ip());
        if entry.connected() {
            if covers && entry.remote.ip() == remote.ip() && entry.remote.port() == remote.port() {
                own.push((0, entry.inode));
            }
        } else if tcp && entry.state != TCP_LISTEN {
            // Bound but neither listening nor connected: carries no traffic.
        } else if !covers {
            // bound to another address: not this end's socket
        } else if tcp {
            stand_ins.push((if exact { 0 } else { 1 }, entry.inode));
        } else {
            own.push((if exact { 1 } else { 2 }, entry.inode));
        }
    }
    (own, stand_ins)
}

#[cfg(test)]
#[cfg(unix)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    const DOCKER_ID: &str = "9b3e5e1c0a7d4f2e8c6b1a0f9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a2f1e0d";
    const PODMAN_ID: &str = "3f2a9c1b2d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8";
    const TCP_HEADER: &str = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n";

    fn addr(text: &str) -> SocketAddr {
        text.parse().unwrap()
    }

    fn entry(local: &str, remote: &str, state: u8, inode: u64) -> SocketEntry {
        SocketEntry {
            local: addr(local),
            remote: addr(remote),
            state,
            uid: 0,
            inode,
        }
    }

    /// [`candidates`]' inodes, best first.
    fn ranked(
        tcp: bool,
        entries: &[SocketEntry],
        local: SocketAddr,
        remote: SocketAddr,
    ) -> (Vec<u64>, Vec<u64>) {
        let best_first = |mut list: Vec<(u8, u64)>| {
            list.sort_by_key(|&(rank, _)| rank);
            let mut inodes: Vec<u64> = Vec::new();
            for (_, inode) in list {
                if !inodes.contains(&inode) {
                    inodes.push(inode);
                }
            }
            inodes
        };
        let (own, stand_ins) = candidates(tcp, entries, local, remote);
        (best_first(own), best_first(stand_ins))
    }

    #[test]
    fn ranks_the_flows_own_socket_first() {
        let entries = [
            entry("0.0.0.0:32400", "0.0.0.0:0", TCP_LISTEN, 1),
            entry("192.168.1.10:32400", "0.0.0.0:0", TCP_LISTEN, 2),
            entry("192.168.1.10:32400", "192.168.1.2:50000", 1, 3),
            entry("192.168.1.10:32400", "192.168.1.2:50001", 1, 4),
            entry("192.168.1.10:32400", "192.168.1.2:50002", 6, 0),
            entry("127.0.0.1:32400", "0.0.0.0:0", TCP_LISTEN, 5),
            entry("192.168.1.10:32401", "192.168.1.2:50000", 1, 6),
        ];
        let flow = |remote| ranked(true, &entries, addr("192.168.1.10:32400"), addr(remote));
        // The listener on 127.0.0.1 is bound to another address: never this end's socket.
        assert_eq!(flow("192.168.1.2:50000"), (vec![3], vec![2, 1]));
        // A connection that is gone (TIME_WAIT has no inode): only the listeners stand in.
        assert_eq!(flow("192.168.1.2:50002"), (vec![], vec![2, 1]));
        // The same flow seen through IPv4-mapped addresses.
        assert_eq!(
            ranked(
                true,
                &entries,
                addr("[::ffff:192.168.1.10]:32400"),
                addr("[::ffff:192.168.1.2]:50000")
            )
            .0,
            vec![3]
        );

        let udp = [
            entry("0.0.0.0:32414", "0.0.0.0:0", 7, 10),
            entry("192.168.1.10:32414", "0.0.0.0:0", 7, 11),
            entry("[::]:32414", "[::]:0", 7, 12),
            entry("192.168.1.10:32414", "192.168.1.2:9", 1, 13),
            entry("10.0.0.1:32414", "0.0.0.0:0", 7, 14),
        ];
        let gdm = ranked(
            false,
            &udp,
            addr("192.168.1.10:32414"),
            addr("192.168.1.2:32412"),
        );
        assert_eq!(gdm, (vec![11, 10, 12], vec![]));
        let connected = ranked(
            false,
            &udp,
            addr("192.168.1.10:32414"),
            addr("192.168.1.2:9"),
        );
        assert_eq!(connected.0.first(), Some(&13));
        // An IPv6 flow is not carried by an IPv4 wildcard.
        let v6 = ranked(
            false,
            &udp,
            addr("[2001:db8::1]:32414"),
            addr("[2001:db8::2]:1"),
        );
        assert_eq!(v6, (vec![12], vec![]));
    }

    /// A fake /proc (and Docker and Podman roots) in a temporary folder.
    struct FakeHost {
        dir: tempfile::TempDir,
    }

    struct FakeProcess<'a> {
        pid: u32,
        comm: &'a str,
        exe: &'a str,
        cmdline: &'a [&'a str],
        uid: u32,
        start: u64,
        cgroup: &'a str,
        sockets: &'a [u64],
    }

    impl FakeHost {
        fn new() -> FakeHost {
            let host = FakeHost {
                dir: tempfile::tempdir().unwrap(),
            };
            std::fs::create_dir_all(host.proc().join("net")).unwrap();
            host
        }
        fn proc(&self) -> PathBuf {
            self.dir.path().join("proc")
        }
        fn docker(&self) -> PathBuf {
            self.dir.path().join("docker")
        }
        fn podman(&self) -> PathBuf {
            self.dir.path().join("containers")
        }
        fn attributor(&self) -> Attributor {
            Attributor::with_roots(self.proc(), self.docker(), self.podman())
                .with_rescan_interval(Duration::ZERO)
        }
        fn table(&self, name: &str, lines: &[&str]) {
            std::fs::write(
                self.proc().join("net").join(name),
                format!("{TCP_HEADER}{}\n", lines.join("\n")),
            )
            .unwrap();
        }
        fn process(&self, p: FakeProcess) {
            let dir = self.proc().join(p.pid.to_string());
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(dir.join("fd")).unwrap();
            std::fs::write(dir.join("comm"), format!("{}\n", p.comm)).unwrap();
            symlink(p.exe, dir.join("exe")).unwrap();
            std::fs::write(
                dir.join("cmdline"),
                p.cmdline
                    .iter()
                    .map(|a| format!("{a}\0"))
                    .collect::<String>(),
            )
            .unwrap();
            std::fs::write(
                dir.join("status"),
                format!("Name:\t{}\nUid:\t{}\t{0}\t{0}\t{0}\n", p.comm, p.uid),
            )
            .unwrap();
            std::fs::write(
                dir.join("stat"),
                format!(
                    "{} ({}) S 1 1 1 0 -1 4194560 100 0 0 0 5 3 0 0 20 0 12 0 {} 1000 10\n",
                    p.pid, p.comm, p.start
                ),
            )
            .unwrap();
            std::fs::write(dir.join("cgroup"), p.cgroup).unwrap();
            symlink("/dev/null", dir.join("fd").join("0")).unwrap();
            for (i, inode) in p.sockets.iter().enumerate() {
                symlink(
                    format!("socket:[{inode}]"),
                    dir.join("fd").join((i + 3).to_string()),
                )
                .unwrap();
            }
        }
        fn docker_container(&self, id: &str, config: &str) {
            let dir = self.docker().join("containers").join(id);
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(dir.join("config.v2.json"), config).unwrap();
        }
        /// Puts `process` (a pid, or `self`) in the network namespace `inode`.
        fn netns(&self, process: &str, inode: u64) {
            let dir = self.proc().join(process).join("ns");
            std::fs::create_dir_all(&dir).unwrap();
            symlink(format!("net:[{inode}]"), dir.join("net")).unwrap();
        }
        /// The IPv4 addresses a namespace holds, as its `fib_trie` shows them, seen through
        /// `process` (a pid, or `self`).
        fn addresses(&self, process: &str, addresses: &[&str]) {
            let dir = match process {
                "self" => self.proc().join("net"),
                pid => self.proc().join(pid).join("net"),
            };
            std::fs::create_dir_all(&dir).unwrap();
            let leaves: String = addresses
                .iter()
                .map(|a| format!("           |-- {a}\n              /32 host LOCAL\n"))
                .collect();
            std::fs::write(
                dir.join("fib_trie"),
                format!("Main:\n  +-- 0.0.0.0/0 3 0 5\n{leaves}"),
            )
            .unwrap();
        }
        /// A socket table as a process sees it in its namespace: /proc/PID/net/NAME.
        fn table_of(&self, pid: u32, name: &str, lines: &[&str]) {
            let dir = self.proc().join(pid.to_string()).join("net");
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(
                dir.join(name),
                format!("{TCP_HEADER}{}\n", lines.join("\n")),
            )
            .unwrap();
        }
    }

    fn plex<'a>(pid: u32, start: u64, cgroup: &'a str, sockets: &'a [u64]) -> FakeProcess<'a> {
        FakeProcess {
            pid,
            comm: "Plex Media Serv",
            exe: "/usr/lib/plexmediaserver/Plex Media Server",
            cmdline: &["/usr/lib/plexmediaserver/Plex Media Server"],
            uid: 997,
            start,
            cgroup,
            sockets,
        }
    }

    #[cfg(target_endian = "little")]
    #[test]
    fn the_socket_tables_are_read_once_a_batch_and_again_for_the_next() {
        let host = FakeHost::new();
        host.table("tcp", &[]);
        host.process(plex(
            4242,
            90210,
            "0::/system.slice/plex.service\n",
            &[12345],
        ));
        let mut attributor = host.attributor().with_table_interval(Duration::ZERO);
        assert!(attributor.begin_batch());
        for port in 50_000..50_010 {
            let local = addr(&format!("192.168.1.10:{port}"));
            assert_eq!(attributor.lookup(true, local, addr("52.1.2.3:443")), None);
        }
        assert_eq!(attributor.stats().table_reads, 1, "ten lookups, one read");
        // the connection appears; a later batch (its flow began after the last read) sees it
        host.table(
            "tcp",
            &["   1: 0A01A8C0:C350 03020134:01BB 01 00000000:00000000 00:00000000 00000000   997        0 12345 1 0 20 4 30 10 -1"],
        );
        assert!(attributor.begin_batch());
        let found = attributor.lookup(true, addr("192.168.1.10:50000"), addr("52.1.2.3:443"));
        assert_eq!(found.map(|a| a.how), Some(How::Socket));
        assert_eq!(attributor.stats().table_reads, 2);
        // within the interval, a batch is looked up in the tables as last read
        let mut attributor = host
            .attributor()
            .with_table_interval(Duration::from_secs(3600));
        assert!(attributor.begin_batch());
        attributor.lookup(true, addr("192.168.1.10:50000"), addr("52.1.2.3:443"));
        assert!(!attributor.begin_batch());
        attributor.lookup(true, addr("192.168.1.10:50001"), addr("52.1.2.3:443"));
        assert_eq!(attributor.stats().table_reads, 1);
    }

    #[cfg(target_endian = "little")]
    #[test]
    fn attributes_a_flow_to_plex_in_docker() {
        let host = FakeHost::new();
        // 192.168.1.10:32400 (listening) and a connection from it to 52.1.2.3:443.
        host.table(
            "tcp",
            &[
                "   0: 0A01A8C0:7E90 00000000:0000 0A 00000000:00000000 00:00000000 00000000   997        0 12344 1 0 100 0 0 10 0",
                "   1: 0A01A8C0:C350 03020134:01BB 01 00000000:00000000 00:00000000 00000000   997        0 12345 1 0 20 4 30 10 -1",
            ],
        );
        host.process(plex(
            4242,
            90210,
            &format!("0::/system.slice/docker-{DOCKER_ID}.scope\n"),
            &[12344, 12345],
        ));
        host.docker_container(
            DOCKER_ID,
            r#"{"ID":"9b3e","Name":"/plex","Config":{"Image":"plexinc/pms-docker:latest","Env":["TZ=UTC"]},"State":{"Running":true}}"#,
        );
        let mut attributor = host.attributor();
        assert!(attributor.available());

        let found = attributor
            .lookup(true, addr("192.168.1.10:50000"), addr("52.1.2.3:443"))
            .unwrap();
        assert_eq!(found.how, How::Socket);
        assert_eq!(found.process.label(), "Plex Media Server (docker: plex)");
        assert_eq!(
            *found.process,
            ProcessInfo {
                pid: 4242,
                name: "Plex Media Server".into(),
                exe: Some("/usr/lib/plexmediaserver/Plex Media Server".into()),
                cmdline: vec!["/usr/lib/plexmediaserver/Plex Media Server".into()],
                uid: Some(997),
                container: Some(Container {
                    runtime: "docker".into(),
                    id: DOCKER_ID.into(),
                    name: Some("plex".into()),
                    image: Some("plexinc/pms-docker:latest".into()),
                }),
            }
        );

        // A client's connection to Plex that has closed: the listener on 32400 stands in.
        let closed = attributor
            .lookup(true, addr("192.168.1.10:32400"), addr("192.168.1.2:51515"))
            .unwrap();
        assert_eq!(closed.how, How::Listener);
        assert!(
            Arc::ptr_eq(&closed.process, &found.process),
            "one process, one shared description"
        );

        // Nothing on that port, and UDP tables that do not exist: nothing found, nothing failed.
        assert_eq!(
            attributor.lookup(true, addr("192.168.1.10:40000"), addr("52.1.2.3:443")),
            None
        );
        assert_eq!(
            attributor.lookup(false, addr("192.168.1.10:50000"), addr("52.1.2.3:443")),
            None
        );
        assert_eq!(
            attributor.stats(),
            AttribStats {
                lookups: 4,
                by_socket: 1,
                by_listener: 1,
                not_found: 2,
                rescans: 1,
                // four lookups in one batch: the TCP tables read once, the UDP ones once
                table_reads: 2,
                // The own namespace holds every address (its own addresses cannot be read
                // here): no other namespace is read.
                namespace_scans: 0,
                ..AttribStats::default()
            }
        );
    }

    #[cfg(target_endian = "little")]
    #[test]
    fn names_podman_containers_and_unknown_ones_by_id() {
        let host = FakeHost::new();
        // udp: Plex's GDM discovery bound to 0.0.0.0:32414, and a curl's connected UDP socket (DNS).
        host.table(
            "udp",
            &[
                " 100: 00000000:7E0E 00000000:0000 07 00000000:00000000 00:00000000 00000000   997        0 500 2 0 0",
                " 101: 0A01A8C0:A411 0101A8C0:0035 01 00000000:00000000 00:00000000 00000000  1000        0 501 2 0 0",
            ],
        );
        host.table("udp6", &[]);
        host.process(plex(
            77,
            5,
            &format!("0::/machine.slice/libpod-{PODMAN_ID}.scope/container\n"),
            &[500],
        ));
        host.process(FakeProcess {
            pid: 90,
            comm: "curl",
            exe: "/usr/bin/curl",
            cmdline: &["curl", "https://plex.tv"],
            uid: 1000,
            start: 6,
            cgroup: &format!("0::/system.slice/crio-{DOCKER_ID}.scope\n"),
            sockets: &[501],
        });
        let storage = host.podman().join("storage").join("overlay-containers");
        std::fs::create_dir_all(&storage).unwrap();
        std::fs::write(
            storage.join("containers.json"),
            format!(r#"[{{"id":"{PODMAN_ID}","names":["plex"],"image":"c0ffee","metadata":"{{\"image-name\":\"docker.io/plexinc/pms-docker:latest\"}}"}}]"#),
        )
        .unwrap();
        let mut attributor = host.attributor();

        let gdm = attributor
            .lookup(false, addr("192.168.1.10:32270"), addr("192.168.1.2:32412"))
            .unwrap();
        assert_eq!(gdm.how, How::Socket);
        assert_eq!(gdm.process.label(), "Plex Media Server (podman: plex)");
        let container = gdm.process.container.clone().unwrap();
        assert_eq!(
            container.image.as_deref(),
            Some("docker.io/plexinc/pms-docker:latest")
        );

        let dns = attributor
            .lookup(false, addr("192.168.1.10:42001"), addr("192.168.1.1:53"))
            .unwrap();
        assert_eq!(dns.how, How::Socket);
        assert_eq!(dns.process.label(), "curl (cri-o: 9b3e5e1c0a7d)");
        assert_eq!(dns.process.cmdline, vec!["curl", "https://plex.tv"]);
        assert_eq!(dns.process.uid, Some(1000));

        // The podman root cannot be read: the label falls back to the id.
        std::fs::remove_dir_all(host.podman()).unwrap();
        let mut fresh = host.attributor();
        let gdm = fresh
            .lookup(false, addr("192.168.1.10:32270"), addr("192.168.1.2:32412"))
            .unwrap();
        assert_eq!(
            gdm.process.label(),
            "Plex Media Server (podman: 3f2a9c1b2d4e)"
        );
    }

    #[cfg(target_endian = "little")]
    #[test]
    fn survives_vanished_and_reused_pids() {
        let host = FakeHost::new();
        host.table("tcp", &["   0: 0100007F:1F90 0100007F:D0D2 01 00000000:00000000 00:00000000 00000000 0 0 12345 1 0"]);
        host.process(FakeProcess {
            pid: 300,
            comm: "old-daemon",
            exe: "/usr/bin/old-daemon",
            cmdline: &["old-daemon"],
            uid: 0,
            start: 1000,
            cgroup: "0::/\n",
            sockets: &[12345],
        });
        let mut attributor = host.attributor();
        let local = addr("127.0.0.1:8080");
        let remote = addr("127.0.0.1:53458");
        let first = attributor.lookup(true, local, remote).unwrap();
        assert_eq!(first.process.label(), "old-daemon");
        let again = attributor.lookup(true, local, remote).unwrap();
        assert!(Arc::ptr_eq(&first.process, &again.process));
        assert_eq!(
            attributor.stats().rescans,
            1,
            "the cached owner is checked, not rescanned"
        );

        // The pid is given to a new process holding the same socket (passed over a Unix socket).
        host.process(FakeProcess {
            pid: 300,
            comm: "new-daemon",
            exe: "/usr/bin/new-daemon",
            cmdline: &["new-daemon", "-v"],
            uid: 1000,
            start: 2000,
            cgroup: "0::/\n",
            sockets: &[12345],
        });
        let reused = attributor.lookup(true, local, remote).unwrap();
        assert_eq!(reused.process.label(), "new-daemon");
        assert_eq!(reused.process.uid, Some(1000));
        assert_eq!(
            first.process.label(),
            "old-daemon",
            "what was handed out stays as it was"
        );

        // The process ends; its socket line is still in the table for a moment.
        std::fs::remove_dir_all(host.proc().join("300")).unwrap();
        assert_eq!(attributor.lookup(true, local, remote), None);
        // A process caught half gone: its fd link is there, its other files are not.
        let dir = host.proc().join("301");
        std::fs::create_dir_all(dir.join("fd")).unwrap();
        symlink("socket:[12345]", dir.join("fd").join("5")).unwrap();
        assert_eq!(attributor.lookup(true, local, remote), None);
        let stats = attributor.stats();
        assert_eq!((stats.lookups, stats.by_socket, stats.not_found), (5, 3, 2));
    }

    #[cfg(target_endian = "little")]
    #[test]
    fn rescans_at_most_once_per_interval() {
        let host = FakeHost::new();
        host.table("tcp", &["   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000 0 0 777 1 0"]);
        let mut attributor = Attributor::with_roots(host.proc(), host.docker(), host.podman());
        let local = addr("127.0.0.1:8080");
        let remote = addr("127.0.0.1:40000");
        assert_eq!(attributor.lookup(true, local, remote), None);
        assert_eq!(attributor.stats().rescans, 1);
        // The owner appears right away, but the last scan is too recent to scan again.
        host.process(FakeProcess {
            pid: 55,
            comm: "nc",
            exe: "/usr/bin/nc.openbsd",
            cmdline: &["nc", "-l", "8080"],
            uid: 0,
            start: 1,
            cgroup: "",
            sockets: &[777],
        });
        assert_eq!(attributor.lookup(true, local, remote), None);
        assert_eq!(attributor.stats().rescans, 1);
        std::thread::sleep(RESCAN_INTERVAL + Duration::from_millis(50));
        let found = attributor.lookup(true, local, remote).unwrap();
        assert_eq!(
            (found.process.label(), found.how),
            ("nc".to_string(), How::Listener)
        );
        assert_eq!(attributor.stats().rescans, 2);
    }

    /// Plex in a Docker container on a bridge network (172.17.0.2), its port published by
    /// docker-proxy on the host.
    #[cfg(target_endian = "little")]
    #[test]
    fn finds_containers_in_their_own_network_namespace() {
        let host = FakeHost::new();
        host.netns("self", 1);
        // The host: docker-proxy listening on 0.0.0.0:32400, and an ssh connection to 192.168.1.10.
        host.table(
            "tcp",
            &[
                "   0: 00000000:7E90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 100 1 0",
                "   1: 0A01A8C0:0016 0201A8C0:D431 01 00000000:00000000 00:00000000 00000000     0        0 101 1 0",
            ],
        );
        host.process(FakeProcess {
            pid: 10,
            comm: "docker-proxy",
            exe: "/usr/bin/docker-proxy",
            cmdline: &["docker-proxy", "-host-port", "32400"],
            uid: 0,
            start: 3,
            cgroup: "0::/system.slice/docker.service\n",
            sockets: &[100],
        });
        host.netns("10", 1);
        host.process(FakeProcess {
            pid: 11,
            comm: "sshd",
            exe: "/usr/sbin/sshd",
            cmdline: &["sshd: me"],
            uid: 0,
            start: 4,
            cgroup: "0::/system.slice/ssh.service\n",
            sockets: &[101],
        });
        host.netns("11", 1);
        // The container's namespace: its first process caught ending (no tables left), then Plex.
        let cgroup = format!("0::/system.slice/docker-{DOCKER_ID}.scope\n");
        std::fs::create_dir_all(host.proc().join("4200")).unwrap();
        host.netns("4200", 2);
        host.process(plex(4242, 90210, &cgroup, &[200, 201, 202]));
        host.netns("4242", 2);
        host.table_of(
            4242,
            "tcp",
            &[
                "   0: 00000000:7E90 00000000:0000 0A 00000000:00000000 00:00000000 00000000   997        0 200 1 0",
                "   1: 020011AC:C350 03020134:01BB 01 00000000:00000000 00:00000000 00000000   997        0 201 1 0",
                "   2: broken",
            ],
        );
        host.table_of(
            4242,
            "udp",
            &[" 100: 00000000:7E9E 00000000:0000 07 00000000:00000000 00:00000000 00000000   997        0 202 2 0 0"],
        );
        host.docker_container(
            DOCKER_ID,
            r#"{"ID":"9b3e","Name":"/plex","Config":{"Image":"plexinc/pms-docker:latest"}}"#,
        );
        host.addresses("self", &["192.168.1.10"]);
        host.addresses("4242", &["172.17.0.2"]);
        // A namespace whose tables cannot be read.
        host.process(FakeProcess {
            pid: 5000,
            comm: "pause",
            exe: "/pause",
            cmdline: &["/pause"],
            uid: 65535,
            start: 9,
            cgroup: "",
            sockets: &[],
        });
        host.netns("5000", 3);

        let mut attributor = host.attributor();
        // Plex's connection out, seen on docker0: only the container's namespace has it.
        let out = attributor
            .lookup(true, addr("172.17.0.2:50000"), addr("52.1.2.3:443"))
            .unwrap();
        assert_eq!(out.how, How::Socket);
        assert_eq!(out.process.pid, 4242);
        assert_eq!(out.process.label(), "Plex Media Server (docker: plex)");
        let stats = attributor.stats();
        assert_eq!(
            (
                stats.in_other_namespaces,
                stats.namespace_scans,
                stats.other_namespaces,
                stats.namespaces_unreadable,
                stats.namespaces_over_cap,
                stats.odd_lines,
            ),
            (1, 1, 1, 1, 0, 1)
        );

        // A client's connection to Plex that has closed: the container's listener stands in, not
        // docker-proxy's, since the container's namespace is where 172.17.0.2 lives.
        let closed = attributor
            .lookup(true, addr("172.17.0.2:32400"), addr("192.168.1.2:51515"))
            .unwrap();
        assert_eq!((closed.process.pid, closed.how), (4242, How::Listener));
        // On the host's own address the host's listener is the one.
        let proxied = attributor
            .lookup(true, addr("192.168.1.10:32400"), addr("192.168.1.2:51515"))
            .unwrap();
        assert_eq!((proxied.process.pid, proxied.how), (10, How::Listener));
        // GDM from the container, over UDP.
        let gdm = attributor
            .lookup(false, addr("172.17.0.2:32414"), addr("192.168.1.2:32412"))
            .unwrap();
        assert_eq!((gdm.process.pid, gdm.how), (4242, How::Socket));

        // A flow the host's own tables settle: the other namespaces are not read.
        let scans = attributor.stats().namespace_scans;
        let ssh = attributor
            .lookup(true, addr("192.168.1.10:22"), addr("192.168.1.2:54321"))
            .unwrap();
        assert_eq!((ssh.process.pid, ssh.how), (11, How::Socket));
        assert_eq!(attributor.stats().namespace_scans, scans);
        assert_eq!(attributor.stats().in_other_namespaces, 3);

        // The tables of the other namespaces are read at most once per interval.
        let mut slow = Attributor::with_roots(host.proc(), host.docker(), host.podman())
            .with_rescan_interval(Duration::from_secs(3600));
        let first = slow.lookup(true, addr("172.17.0.2:50000"), addr("52.1.2.3:443"));
        assert_eq!(first.map(|a| a.process.pid), Some(4242));
        host.table_of(
            4242,
            "tcp6",
            &["   0: 0000000000000000FFFF0000020011AC:C351 0000000000000000FFFF000003020134:01BB 01 00000000:00000000 00:00000000 00000000   997        0 203 1 0"],
        );
        assert_eq!(
            slow.lookup(true, addr("172.17.0.2:50001"), addr("52.1.2.3:443")),
            None
        );
        assert_eq!(slow.stats().namespace_scans, 1);
        let mut fresh = host.attributor();
        std::fs::remove_file(host.proc().join("4242").join("fd").join("3")).unwrap();
        symlink(
            "socket:[203]",
            host.proc().join("4242").join("fd").join("3"),
        )
        .unwrap();
        let v6 = fresh
            .lookup(true, addr("172.17.0.2:50001"), addr("52.1.2.3:443"))
            .unwrap();
        assert_eq!((v6.process.pid, v6.how), (4242, How::Socket));
    }

    /// The homelab that fooled an earlier version: a reverse proxy listening on 443 beside Plex,
    /// and the resolver and the TLS server in a neighbouring namespace. Plex's client has exited.
    #[cfg(target_endian = "little")]
    #[test]
    fn never_takes_the_far_end_or_a_listener_on_the_far_port() {
        let host = FakeHost::new();
        host.netns("self", 1);
        host.addresses("self", &["192.168.77.2"]);
        // the server's namespace: caddy on 0.0.0.0:443; Plex's connection to 203.0.113.11:443 is
        // gone (TIME_WAIT, no inode)
        host.table(
            "tcp",
            &[
                "   0: 00000000:01BB 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 300 1 0",
                "   1: 024DA8C0:9C40 0B7100CB:01BB 06 00000000:00000000 00:00000000 00000000     0        0 0 1 0",
            ],
        );
        host.process(FakeProcess {
            pid: 30,
            comm: "caddy",
            exe: "/usr/bin/caddy",
            cmdline: &["caddy", "run"],
            uid: 0,
            start: 5,
            cgroup: "0::/system.slice/caddy.service\n",
            sockets: &[300],
        });
        host.netns("30", 1);
        // the neighbour: a TLS server still holding its end, and a resolver on 0.0.0.0:53
        host.process(FakeProcess {
            pid: 50,
            comm: "tls-server",
            exe: "/usr/sbin/tls-server",
            cmdline: &["tls-server"],
            uid: 0,
            start: 6,
            cgroup: "",
            sockets: &[500, 501],
        });
        host.netns("50", 2);
        host.table_of(
            50,
            "tcp",
            &["   0: 0B7100CB:01BB 024DA8C0:9C40 01 00000000:00000000 00:00000000 00000000     0        0 500 1 0"],
        );
        host.table_of(
            50,
            "udp",
            &["   0: 00000000:0035 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 501 2 0 0"],
        );
        host.addresses("50", &["203.0.113.11", "203.0.113.53"]);

        let mut attributor = host.attributor();
        let plex = addr("192.168.77.2:40000");
        let tls = addr("203.0.113.11:443");
        assert_eq!(attributor.local_end(plex, tls), Some((plex, tls)));
        // either way round, the server's namespace holds the local end
        assert_eq!(attributor.local_end(tls, plex), Some((plex, tls)));
        assert_eq!(attributor.lookup_flow(true, plex, tls), None);
        assert_eq!(attributor.lookup_flow(true, tls, plex), None);
        let dns = addr("192.168.77.2:50000");
        let resolver = addr("203.0.113.53:53");
        assert_eq!(attributor.lookup_flow(false, dns, resolver), None);
        assert_eq!(attributor.lookup_flow(false, resolver, dns), None);
        // Only the caddy's own flows are caddy's: one to its port 443 on the server's address,
        // as a guess once its socket is gone.
        let visitor = addr("198.51.100.7:51000");
        let proxied = attributor
            .lookup_flow(true, visitor, addr("192.168.77.2:443"))
            .unwrap();
        assert_eq!((proxied.process.pid, proxied.how), (30, How::Listener));
        assert!(proxied.how.guess());
        // neither end on this host: nobody's
        assert_eq!(
            attributor.local_end(addr("198.51.100.7:1"), addr("203.0.113.9:2")),
            None
        );
        // a client seen nowhere, to a server in the neighbour: the server may be its far end
        assert_eq!(attributor.local_end(addr("172.31.0.2:50000"), tls), None);
        assert_eq!(
            attributor.lookup_flow(true, addr("172.31.0.2:50000"), tls),
            None
        );
        let stats = attributor.stats();
        assert_eq!((stats.by_socket, stats.by_listener), (0, 1));
        assert_eq!(stats.in_other_namespaces, 0);

        // Seen from a capture inside the neighbour (a bridge port of the resolver's container),
        // the resolver's own flows are its own.
        let answered = attributor
            .lookup(false, resolver, dns)
            .expect("the resolver's socket, as the local end in its own namespace");
        assert_eq!((answered.process.pid, answered.how), (50, How::Socket));
    }

    /// An event names a process by pid and start time: the same process is read once, a pid the
    /// kernel gave to another process since is not taken for it, and a process that has ended
    /// keeps the description it had.
    #[test]
    fn an_events_process_is_the_one_that_started_then() {
        let host = FakeHost::new();
        host.process(plex(77, 500, "", &[]));
        let mut attributor = host.attributor();
        let first = attributor.process_if_same(77, 500).unwrap();
        assert_eq!(first.name, "Plex Media Server");
        // another start time: another process that had the same pid
        assert!(attributor.process_if_same(77, 499).is_none());
        // gone from /proc: still known as it was
        std::fs::remove_dir_all(host.proc().join("77")).unwrap();
        let again = attributor.process_if_same(77, 500).unwrap();
        assert!(Arc::ptr_eq(&first, &again));
        assert!(attributor.process_if_same(78, 500).is_none());
    }

    #[test]
    fn finds_nothing_without_proc() {
        let dir = tempfile::tempdir().unwrap();
        let mut attributor = Attributor::with_roots(
            dir.path().join("proc"),
            dir.path().into(),
            dir.path().into(),
        );
        assert!(!attributor.available());
        assert_eq!(
            attributor.lookup(true, addr("127.0.0.1:1"), addr("127.0.0.1:2")),
            None
        );
        assert_eq!(attributor.stats().not_found, 1);
    }

    /// This very process, on the real /proc: both ends of a TCP connection and a UDP socket.
    #[cfg(target_os = "linux")]
    #[test]
    fn attributes_this_process_sockets() {
        use std::net::{TcpListener, TcpStream, UdpSocket};
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server, _) = listener.accept().unwrap();
        let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
        let sink = UdpSocket::bind("127.0.0.1:0").unwrap();
        udp.send_to(b"telltale", sink.local_addr().unwrap())
            .unwrap();

        let mut attributor = Attributor::new();
        assert!(attributor.available());
        let me = std::process::id();
        let client_end = attributor
            .lookup(
                true,
                client.local_addr().unwrap(),
                client.peer_addr().unwrap(),
            )
            .unwrap();
        let server_end = attributor
            .lookup(
                true,
                server.local_addr().unwrap(),
                server.peer_addr().unwrap(),
            )
            .unwrap();
        let datagram = attributor
            .lookup(false, udp.local_addr().unwrap(), sink.local_addr().unwrap())
            .unwrap();
        for found in [&client_end, &server_end, &datagram] {
            assert_eq!(found.process.pid, me);
            assert_eq!(found.how, How::Socket);
        }
        assert_eq!(
            client_end.process.exe.as_deref(),
            std::env::current_exe()
                .ok()
                .and_then(|p| p.to_str().map(String::from))
                .as_deref()
        );
        assert!(client_end.process.uid.is_some());
        drop((client, server, listener, udp, sink));
    }
}
