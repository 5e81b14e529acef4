//! The live flow table: finds or creates the flow of each packet, decides who initiated
//! it, ends flows that went idle (so a long capture splits reused endpoints) and, at its
//! cap, evicts the longest-idle flows in batches. Ended flows are handed back through
//! [`FlowTable::drain_ended`]; every eviction is counted.
//!
//! Each entry carries `X`, per-flow scratch state owned by the caller (the dissectors'
//! reassembly buffers), dropped when the flow ends.

use super::{AppProto, DirStats, EndReason, Flow, FlowKey, InitiatorBy, Proto, tcp::TcpTracker};
use crate::decode::tcp_flags::{ACK, SYN};
use crate::flows::locality::scope;
use crate::time::Timestamp;
use ipnet::IpNet;
use std::net::SocketAddr;

/// The table: entries found by [`FlowKey`]'s own compact hash, through aHash with a key
/// drawn at random per process, so flows crafted to collide cannot be predicted. The hash
/// is computed once per packet, and one probe finds the flow or the slot for a new one.
/// Entries are boxed: the table keeps up to twice as many slots as flows, and an empty slot
/// then costs a pointer, not a whole flow.
type Map<X> = hashbrown::HashTable<Box<Entry<X>>>;

/// Flows a table holds before it first grows. It then grows once, to twice the cap: a capture
/// with few flows keeps a small table, and churn reallocates it once at most.
const SMALL_TABLE: usize = 4096;

/// The table's bounds and timeouts, in one place.
#[derive(Clone, Debug)]
pub struct Limits {
    /// Flows held at once; beyond it the longest-idle are evicted.
    pub max_flows: usize,
    pub tcp_idle_secs: i64,
    /// A TCP flow closed by FIN or RST ends after this much quiet.
    pub tcp_closed_secs: i64,
    pub udp_idle_secs: i64,
    pub other_idle_secs: i64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_flows: 262_144,
            tcp_idle_secs: 600,
            tcp_closed_secs: 30,
            udp_idle_secs: 120,
            other_idle_secs: 60,
        }
    }
}

/// A packet as the flow table needs it.
#[derive(Clone, Copy, Debug)]
pub struct PacketMeta {
    pub ts: Timestamp,
    pub proto: Proto,
    pub src: SocketAddr,
    pub dst: SocketAddr,
    /// TCP flags, 0 for other protocols.
    pub tcp_flags: u8,
    pub tcp_seq: u32,
    pub ip_len: u32,
    pub payload_len: u32,
}

/// Which way a packet went within its flow.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dir {
    /// Client → server.
    Up,
    /// Server → client.
    Down,
}

struct Entry<X> {
    key: FlowKey,
    flow: Flow,
    extra: X,
}

pub struct FlowTable<X> {
    limits: Limits,
    owner_networks: Vec<IpNet>,
    map: Map<X>,
    /// The table has grown to its full size (see [`SMALL_TABLE`]).
    full_size: bool,
    hasher: ahash::RandomState,
    ended: Vec<Flow>,
    next_id: u64,
    last_sweep: Option<Timestamp>,
    pub evictions: u64,
    pub idle_ended: u64,
}

impl<X: Default> FlowTable<X> {
    pub fn new(limits: Limits, owner_networks: Vec<IpNet>) -> Self {
        let first = limits.max_flows.min(SMALL_TABLE);
        FlowTable {
            limits,
            owner_networks,
            map: Map::with_capacity(first),
            full_size: false,
            hasher: ahash::RandomState::new(),
            ended: Vec::new(),
            next_id: 1,
            last_sweep: None,
            evictions: 0,
            idle_ended: 0,
        }
    }

    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Accounts one packet to its flow (creating it if needed) and returns the flow, the
    /// caller's scratch state, the packet's direction and whether the flow is new.
    pub fn track(&mut self, p: &PacketMeta) -> (&mut Flow, &mut X, Dir, bool) {
        self.maybe_sweep(p.ts);
        let key = FlowKey::new(p.proto, p.src, p.dst);
        let hash = self.hasher.hash_one(key);
        let FlowTable {
            map,
            hasher,
            ended,
            limits,
            owner_networks,
            next_id,
            evictions,
            idle_ended,
            full_size,
            ..
        } = self;
        #[allow(clippy::borrowed_box)] // the table holds boxes: its hasher is given them
        let rehash = |e: &Box<Entry<X>>| hasher.hash_one(e.key);
        // One probe finds the flow held, or the slot for a new one.
        let (entry, is_new) = match map.find_entry(hash, |e| e.key == key) {
            Ok(held)
                if !(expired(limits, &held.get().flow, p.ts)
                    || starts_anew(&held.get().flow, p)) =>
            {
                (held.into_mut(), false)
            }
            Ok(held) => {
                // the flow on these endpoints is over: it ends, and a new one takes its slot
                let (old, slot) = held.remove();
                let why = old.why_over();
                end_flow(ended, idle_ended, old.flow, why);
                let fresh = new_entry(next_id, key, p, owner_networks);
                (slot.insert(fresh).into_mut(), true)
            }
            Err(absent) => {
                let map = absent.into_table();
                if map.len() >= limits.max_flows {
                    evict_batch(map, ended, evictions, idle_ended);
                } else if !*full_size && map.len() >= map.capacity() {
                    // Outgrown the small table: straight to room for twice the cap, once. Churn
                    // leaves deleted slots behind; with that room, clearing them is always done
                    // in place, and the table is never reallocated again.
                    let room = limits.max_flows.saturating_mul(2);
                    map.reserve(room.saturating_sub(map.len()), rehash);
                    *full_size = true;
                }
                let fresh = new_entry(next_id, key, p, owner_networks);
                (map.insert_unique(hash, fresh, rehash).into_mut(), true)
            }
        };
        let flow = &mut entry.flow;
        let dir = if p.src == flow.client && p.dst == flow.server {
            Dir::Up
        } else {
            Dir::Down
        };
        flow.last_seen = flow.last_seen.max(p.ts);
        let stats: &mut DirStats = if dir == Dir::Up {
            &mut flow.up
        } else {
            &mut flow.down
        };
        stats.add(p.ip_len, p.payload_len);
        flow.timeline.add(p.ts, p.ip_len);
        if let Some(t) = flow.tcp.as_mut() {
            t.update(dir == Dir::Up, p.tcp_flags, p.tcp_seq, p.payload_len);
        }
        (flow, &mut entry.extra, dir, is_new)
    }

    fn end(&mut self, flow: Flow, why: EndReason) {
        end_flow(&mut self.ended, &mut self.idle_ended, flow, why);
    }

    /// Ends idle flows, at most once per ten seconds of packet time.
    fn maybe_sweep(&mut self, now: Timestamp) {
        match self.last_sweep {
            Some(t) if now < t.saturating_add_secs(10) && now >= t => return,
            _ => self.last_sweep = Some(now),
        }
        let limits = &self.limits;
        let gone: Vec<Box<Entry<X>>> = self
            .map
            .extract_if(|e| expired(limits, &e.flow, now))
            .collect();
        for e in gone {
            let why = e.why_over();
            self.end(e.flow, why);
        }
    }

    /// No flow has ended since the last [`FlowTable::drain_ended`].
    pub fn ended_is_empty(&self) -> bool {
        self.ended.is_empty()
    }

    /// Flows that ended since the last call.
    pub fn drain_ended(&mut self) -> std::vec::Drain<'_, Flow> {
        self.ended.drain(..)
    }

    /// The live flow with this key, if it is still the flow with this id.
    pub fn get_mut(&mut self, key: &FlowKey, id: u64) -> Option<&mut Flow> {
        self.map
            .find_mut(self.hasher.hash_one(key), |e| e.key == *key)
            .map(|e| &mut e.flow)
            .filter(|f| f.id == id)
    }

    /// Live flows, in no particular order.
    pub fn live(&self) -> impl Iterator<Item = &Flow> {
        self.map.iter().map(|e| &e.flow)
    }

    pub fn live_mut(&mut self) -> impl Iterator<Item = &mut Flow> {
        self.map.iter_mut().map(|e| &mut e.flow)
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Ends up to `n` live flows (the capture is over), and gives their memory back once
    /// the table is a quarter full: they join the ended flows.
    pub fn close_some(&mut self, n: usize) {
        let mut left = n;
        let closed: Vec<Box<Entry<X>>> = self
            .map
            .extract_if(|_| {
                let take = left > 0;
                left = left.saturating_sub(1);
                take
            })
            .collect();
        for e in closed {
            self.end(e.flow, EndReason::End);
        }
        if self.map.len() < self.map.capacity() / 4 {
            let hasher = &self.hasher;
            self.map.shrink_to_fit(|e| hasher.hash_one(e.key));
        }
    }
}

impl<X> Entry<X> {
    /// Why a flow that went quiet is over: its TCP connection closed, or it sat idle.
    fn why_over(&self) -> EndReason {
        if self.flow.tcp.as_ref().is_some_and(TcpTracker::closed) {
            EndReason::Closed
        } else {
            EndReason::Idle
        }
    }
}

/// How long a flow may stay silent before it is over.
fn idle_limit(limits: &Limits, f: &Flow) -> i64 {
    match (f.proto, &f.tcp) {
        (Proto::Tcp, Some(t)) if t.closed() => limits.tcp_closed_secs,
        (Proto::Tcp, _) => limits.tcp_idle_secs,
        (Proto::Udp, _) => limits.udp_idle_secs,
        _ => limits.other_idle_secs,
    }
}

fn expired(limits: &Limits, f: &Flow, now: Timestamp) -> bool {
    now > f.last_seen.saturating_add_secs(idle_limit(limits, f))
}

fn end_flow(ended: &mut Vec<Flow>, idle_ended: &mut u64, mut flow: Flow, why: EndReason) {
    flow.ended_by = Some(why);
    if why.went_quiet() {
        *idle_ended += 1;
    }
    ended.push(flow);
}

/// Evicts the longest-idle eighth of the table (at least one flow).
fn evict_batch<X>(
    map: &mut Map<X>,
    ended: &mut Vec<Flow>,
    evictions: &mut u64,
    idle_ended: &mut u64,
) {
    let n = (map.len() / 8).max(1);
    let mut by_age: Vec<(Timestamp, u64)> =
        map.iter().map(|e| (e.flow.last_seen, e.flow.id)).collect();
    if n < by_age.len() {
        by_age.select_nth_unstable(n);
        by_age.truncate(n);
    }
    // the n-th oldest (last seen, id): every flow at or before it goes
    let Some(&cutoff) = by_age.iter().max() else {
        return;
    };
    let gone: Vec<Box<Entry<X>>> = map
        .extract_if(|e| (e.flow.last_seen, e.flow.id) <= cutoff)
        .collect();
    for e in gone {
        *evictions += 1;
        end_flow(ended, idle_ended, e.flow, EndReason::Evicted);
    }
}

/// A new flow's entry, numbered.
fn new_entry<X: Default>(
    next_id: &mut u64,
    key: FlowKey,
    p: &PacketMeta,
    owner_networks: &[IpNet],
) -> Box<Entry<X>> {
    let id = *next_id;
    *next_id += 1;
    Box::new(Entry {
        key,
        flow: new_flow(id, p, owner_networks),
        extra: X::default(),
    })
}

fn new_flow(id: u64, p: &PacketMeta, owner_networks: &[IpNet]) -> Flow {
    let (client, server, by) = initiator(p);
    Flow {
        id,
        proto: p.proto,
        client,
        server,
        initiator_by: by,
        client_scope: scope(client.ip(), owner_networks),
        server_scope: scope(server.ip(), owner_networks),
        first_seen: p.ts,
        last_seen: p.ts,
        up: DirStats::default(),
        down: DirStats::default(),
        tcp: (p.proto == Proto::Tcp).then(TcpTracker::default),
        app: AppProto::Unknown,
        names: Vec::new(),
        timeline: super::timeline::Timeline::new(p.ts),
        seen: Default::default(),
        process: None,
        verdict: None,
        generation: 0,
        ended_by: None,
    }
}

/// A SYN (without ACK) on a closed TCP flow opens a new one on the same endpoints.
fn starts_anew(f: &Flow, p: &PacketMeta) -> bool {
    p.proto == Proto::Tcp
        && p.tcp_flags & SYN != 0
        && p.tcp_flags & ACK == 0
        && f.tcp.as_ref().is_some_and(TcpTracker::closed)
}

/// Ports that servers listen on: below 1024, and the well-known ones above it that media servers and their peers use.
pub fn is_service_port(port: u16) -> bool {
    port < 1024
        || matches!(
            port,
            1900 | 3005
                | 3478
                | 5060
                | 5351
                | 5353
                | 5355
                | 8008
                | 8080
                | 8096
                | 8324
                | 8443
                | 8920
                | 32400
                | 32410..=32414 | 32469
        )
}

/// Who opened the flow: the SYN says so; else a service port on exactly one side; else the first packet's sender.
fn initiator(p: &PacketMeta) -> (SocketAddr, SocketAddr, InitiatorBy) {
    if p.proto == Proto::Tcp && p.tcp_flags & SYN != 0 {
        return if p.tcp_flags & ACK == 0 {
            (p.src, p.dst, InitiatorBy::Syn)
        } else {
            (p.dst, p.src, InitiatorBy::Syn)
        };
    }
    let (s, d) = (is_service_port(p.src.port()), is_service_port(p.dst.port()));
    if s && !d && matches!(p.proto, Proto::Tcp | Proto::Udp) {
        return (p.dst, p.src, InitiatorBy::ServicePort);
    }
    (p.src, p.dst, InitiatorBy::FirstPacket)
}

#[cfg(test)]
impl Flow {
    /// A TCP flow from `client` to `server` with nothing seen yet, for other modules' tests.
    pub(crate) fn for_tests(id: u64, client: SocketAddr, server: SocketAddr) -> Flow {
        let syn = PacketMeta {
            ts: Timestamp(0),
            proto: Proto::Tcp,
            src: client,
            dst: server,
            tcp_flags: SYN,
            tcp_seq: 0,
            ip_len: 40,
            payload_len: 0,
        };
        let mut f = new_flow(id, &syn, &[]);
        f.client = client;
        f.server = server;
        f
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::tcp_flags::FIN;

    fn meta(ts: i64, proto: Proto, src: &str, dst: &str, flags: u8, len: u32) -> PacketMeta {
        PacketMeta {
            ts: Timestamp::from_secs_nanos(ts, 0),
            proto,
            src: src.parse().unwrap(),
            dst: dst.parse().unwrap(),
            tcp_flags: flags,
            tcp_seq: 0,
            ip_len: 40 + len,
            payload_len: len,
        }
    }

    const C: &str = "192.168.1.10:50000";
    const S: &str = "203.0.113.5:443";

    #[test]
    fn under_churn_the_table_grows_once_to_its_cap_and_never_again() {
        let max = 50_000;
        let mut t: FlowTable<()> = FlowTable::new(
            Limits {
                max_flows: max,
                ..Limits::default()
            },
            vec![],
        );
        assert!((SMALL_TABLE..2 * SMALL_TABLE).contains(&t.map.capacity()));
        let mut sizes = vec![t.map.allocation_size()];
        // three times the cap, every packet a new flow from a new address
        for i in 0..3 * max as u32 {
            let src = format!(
                "{}:{}",
                std::net::Ipv4Addr::from(0x0a00_0000 + i),
                1024 + i % 50_000
            );
            t.track(&meta(i64::from(i / 1000), Proto::Tcp, &src, S, SYN, 0));
            if t.map.allocation_size() != *sizes.last().unwrap() {
                sizes.push(t.map.allocation_size());
            }
        }
        assert_eq!(sizes.len(), 2, "allocations seen: {sizes:?}");
        assert!(t.map.capacity() >= max);
        assert!(t.evictions > 0);
        assert!(t.len() <= max);
    }

    #[test]
    fn bidirectional_with_initiator_from_syn() {
        let mut t: FlowTable<()> = FlowTable::new(Limits::default(), vec![]);
        // the SYN-ACK is seen first: the client is still the SYN's sender
        let (f, _, dir, new) = t.track(&meta(0, Proto::Tcp, S, C, SYN | ACK, 0));
        assert!(new);
        assert_eq!(dir, Dir::Down);
        assert_eq!(f.client, C.parse().unwrap());
        assert_eq!(f.initiator_by, InitiatorBy::Syn);
        let (f, _, dir, new) = t.track(&meta(1, Proto::Tcp, C, S, ACK, 100));
        assert!(!new);
        assert_eq!(dir, Dir::Up);
        assert_eq!(
            (f.up.packets, f.up.payload_bytes, f.down.packets),
            (1, 100, 1)
        );
        assert_eq!(f.locality(), super::super::Locality::Outbound);
        assert_eq!(t.len(), 1);
    }

    #[test]
    fn service_port_beats_first_packet() {
        let mut t: FlowTable<()> = FlowTable::new(Limits::default(), vec![]);
        let (f, _, _, _) = t.track(&meta(
            0,
            Proto::Udp,
            "203.0.113.5:53",
            "192.168.1.10:40000",
            0,
            80,
        ));
        assert_eq!(f.client, "192.168.1.10:40000".parse().unwrap());
        assert_eq!(f.initiator_by, InitiatorBy::ServicePort);
        let (f, _, _, _) = t.track(&meta(
            0,
            Proto::Udp,
            "192.168.1.21:32414",
            "239.0.0.250:32414",
            0,
            30,
        ));
        assert_eq!(f.initiator_by, InitiatorBy::FirstPacket);
        assert_eq!(f.client, "192.168.1.21:32414".parse().unwrap());
    }

    #[test]
    fn idle_flows_split_and_closed_flows_restart() {
        let mut t: FlowTable<()> = FlowTable::new(Limits::default(), vec![]);
        t.track(&meta(0, Proto::Udp, C, S, 0, 10));
        t.track(&meta(500, Proto::Udp, C, S, 0, 10)); // 500 s later: a new flow
        let ended: Vec<_> = t.drain_ended().collect();
        assert_eq!(ended.len(), 1);
        assert_eq!(ended[0].ended_by, Some(EndReason::Idle));
        assert_eq!(t.idle_ended, 1);

        t.track(&meta(600, Proto::Tcp, C, S, SYN, 0));
        t.track(&meta(600, Proto::Tcp, S, C, FIN | ACK, 0));
        t.track(&meta(600, Proto::Tcp, C, S, FIN | ACK, 0));
        let (f, _, _, new) = t.track(&meta(601, Proto::Tcp, C, S, SYN, 0));
        assert!(new);
        assert_eq!(f.id, 4);
        let ended: Vec<_> = t.drain_ended().collect();
        assert_eq!(
            ended.iter().map(|f| f.ended_by).collect::<Vec<_>>(),
            [Some(EndReason::Closed)]
        );
    }

    #[test]
    fn the_cap_evicts_the_longest_idle_and_counts() {
        let limits = Limits {
            max_flows: 16,
            ..Limits::default()
        };
        let mut t: FlowTable<()> = FlowTable::new(limits, vec![]);
        for i in 0..40u16 {
            let src = format!("192.168.1.10:{}", 40000 + i);
            t.track(&meta(i64::from(i), Proto::Tcp, &src, S, SYN, 0));
        }
        assert!(t.len() <= 16);
        assert_eq!(t.evictions, 40 - t.len() as u64);
        let ended: Vec<_> = t.drain_ended().collect();
        assert!(ended.iter().all(|f| f.ended_by == Some(EndReason::Evicted)));
        // the oldest went first
        let max_evicted = ended.iter().map(|f| f.id).max().unwrap();
        let min_live = t.live().map(|f| f.id).min().unwrap();
        assert!(max_evicted < min_live);
        t.close_some(usize::MAX);
        assert_eq!(t.len(), 0);
        assert_eq!(t.drain_ended().count(), 16.min(40 - ended.len()));
    }
}
