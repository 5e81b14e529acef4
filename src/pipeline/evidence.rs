//! Evidence kept while the capture runs: the raw packets of every flow that left the local
//! network (any of them may end up flagged) and the DNS responses, with the names each one
//! answered. At the end the packets of the flagged flows and of the DNS answers that named
//! them are picked out ([`EvidenceStore::select`]) and written as a pcapng by
//! `report::evidence`.
//!
//! The store is bounded twice: by bytes overall ([`super::Caps::evidence_bytes`]), where the
//! oldest flows' packets are dropped first, and by packets per flow
//! ([`super::Caps::evidence_packets_per_flow`]), where a flow keeps its first packets (the
//! handshake and the names are there). Every packet dropped either way is counted.

use crate::capture::{LinkType, RawPacket};
use crate::time::Timestamp;
use std::collections::{BTreeMap, BTreeSet, HashMap};

const FLOW_GROUP: u8 = 0;
const DNS_GROUP: u8 = 1;

/// What keeping one packet costs besides its bytes: an estimate of its bookkeeping.
const PACKET_OVERHEAD: usize = 64;

/// One packet as captured.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeptPacket {
    /// Its place in the capture (the pipeline's packet count when it arrived).
    pub seq: u64,
    pub ts: Timestamp,
    pub link: LinkType,
    /// The packet's length on the wire.
    pub orig_len: u32,
    /// The bytes captured.
    pub data: Box<[u8]>,
}

impl KeptPacket {
    fn new(seq: u64, pkt: &RawPacket<'_>) -> KeptPacket {
        KeptPacket {
            seq,
            ts: pkt.ts,
            link: pkt.link,
            orig_len: pkt.orig_len,
            data: pkt.data.into(),
        }
    }

    fn cost(&self) -> usize {
        self.data.len().saturating_add(PACKET_OVERHEAD)
    }
}

/// Whose packets a group holds.
#[derive(Clone, Debug)]
enum Owner {
    Flow(u64),
    /// A DNS response, and the names it answered.
    Dns(Vec<String>),
}

#[derive(Clone, Debug)]
struct Group {
    owner: Owner,
    packets: Vec<KeptPacket>,
}

/// A packet picked as evidence, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Selected {
    pub packet: KeptPacket,
    /// The picked flow this packet belongs to.
    pub flow: Option<u64>,
    /// The picked names this packet answered, as a DNS response.
    pub dns_names: Vec<String>,
}

/// The raw packets that may become evidence, bounded (see the module's comment).
#[derive(Clone, Debug)]
pub struct EvidenceStore {
    max_bytes: usize,
    max_packets_per_flow: usize,
    /// Groups by the place of their first packet in the capture (the oldest first), then
    /// kind (a packet can open a flow's group and a DNS group).
    groups: BTreeMap<(u64, u8), Group>,
    /// A flow's group, by flow id.
    flows: HashMap<u64, (u64, u8)>,
    bytes: usize,
    packets: usize,
    /// Packets dropped by the caps.
    evictions: u64,
}

impl EvidenceStore {
    pub fn new(max_bytes: usize, max_packets_per_flow: usize) -> EvidenceStore {
        EvidenceStore {
            max_bytes,
            max_packets_per_flow,
            groups: BTreeMap::new(),
            flows: HashMap::new(),
            bytes: 0,
            packets: 0,
            evictions: 0,
        }
    }

    /// Keeps a packet of a flow that left the local network. `seq` orders packets as the
    /// capture did.
    pub fn keep_flow_packet(&mut self, flow: u64, seq: u64, pkt: &RawPacket<'_>) {
        let full = self
            .flows
            .get(&flow)
            .and_then(|key| self.groups.get(key))
            .is_some_and(|g| g.packets.len() >= self.max_packets_per_flow);
        if full || self.max_packets_per_flow == 0 {
            self.evictions += 1;
            return;
        }
        let kept = KeptPacket::new(seq, pkt);
        if !self.make_room(kept.cost()) {
            return;
        }
        // the flow's group may have been dropped to make room: it starts again
        let key = match self.flows.get(&flow) {
            Some(key) if self.groups.contains_key(key) => *key,
            _ => {
                self.flows.insert(flow, (seq, FLOW_GROUP));
                (seq, FLOW_GROUP)
            }
        };
        self.bytes += kept.cost();
        self.packets += 1;
        self.groups
            .entry(key)
            .or_insert_with(|| Group {
                owner: Owner::Flow(flow),
                packets: Vec::new(),
            })
            .packets
            .push(kept);
    }

    /// Keeps a DNS response with the names it answered (its questions, and every name its
    /// answers tie to an address).
    pub fn keep_dns_packet(&mut self, names: Vec<String>, seq: u64, pkt: &RawPacket<'_>) {
        if names.is_empty() {
            return;
        }
        let kept = KeptPacket::new(seq, pkt);
        if !self.make_room(kept.cost()) {
            return;
        }
        self.bytes += kept.cost();
        self.packets += 1;
        self.groups.insert(
            (seq, DNS_GROUP),
            Group {
                owner: Owner::Dns(names),
                packets: vec![kept],
            },
        );
    }

    /// Drops the oldest groups until `cost` more bytes fit; false (and counted) when the
    /// packet cannot fit at all.
    fn make_room(&mut self, cost: usize) -> bool {
        if cost > self.max_bytes {
            self.evictions += 1;
            return false;
        }
        while self.bytes.saturating_add(cost) > self.max_bytes {
            let Some((key, group)) = self.groups.pop_first() else {
                break;
            };
            if let Owner::Flow(id) = group.owner
                && self.flows.get(&id) == Some(&key)
            {
                self.flows.remove(&id);
            }
            for p in &group.packets {
                self.bytes = self.bytes.saturating_sub(p.cost());
            }
            self.packets = self.packets.saturating_sub(group.packets.len());
            self.evictions += group.packets.len() as u64;
        }
        true
    }

    /// Packets dropped by the caps so far.
    pub fn evictions(&self) -> u64 {
        self.evictions
    }

    /// Bytes held (packets and their bookkeeping).
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Packets held.
    pub fn packets(&self) -> usize {
        self.packets
    }

    /// The packets of `flows`, and the DNS responses that answered one of `names`, in
    /// capture order. A packet that is both appears once.
    pub fn select(self, flows: &BTreeSet<u64>, names: &BTreeSet<String>) -> Vec<Selected> {
        let mut picked: BTreeMap<u64, Selected> = BTreeMap::new();
        for group in self.groups.into_values() {
            let (flow, dns_names) = match group.owner {
                Owner::Flow(id) if flows.contains(&id) => (Some(id), Vec::new()),
                Owner::Dns(answered) => {
                    let hits: Vec<String> =
                        answered.into_iter().filter(|n| names.contains(n)).collect();
                    if hits.is_empty() {
                        continue;
                    }
                    (None, hits)
                }
                Owner::Flow(_) => continue,
            };
            for packet in group.packets {
                let entry = picked.entry(packet.seq).or_insert_with(|| Selected {
                    packet,
                    flow: None,
                    dns_names: Vec::new(),
                });
                if flow.is_some() {
                    entry.flow = flow;
                }
                for n in &dns_names {
                    if !entry.dns_names.contains(n) {
                        entry.dns_names.push(n.clone());
                    }
                }
            }
        }
        picked.into_values().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn packet(len: usize) -> Vec<u8> {
        vec![0xab; len]
    }

    fn raw(data: &[u8], ts: i64) -> RawPacket<'_> {
        RawPacket {
            ts: Timestamp(ts),
            link: LinkType::ETHERNET,
            data,
            orig_len: data.len() as u32 + 4,
            interface: 0,
        }
    }

    fn set<T: Ord + Clone>(items: &[T]) -> BTreeSet<T> {
        items.iter().cloned().collect()
    }

    #[test]
    fn keeps_packets_as_captured_and_selects_in_capture_order() {
        let mut s = EvidenceStore::new(1 << 20, 512);
        let d = packet(100);
        s.keep_flow_packet(1, 0, &raw(&d, 10));
        s.keep_flow_packet(2, 1, &raw(&d, 11));
        s.keep_dns_packet(vec!["a.example".into()], 2, &raw(&d, 12));
        s.keep_flow_packet(1, 3, &raw(&d, 13));
        s.keep_dns_packet(vec!["b.example".into()], 4, &raw(&d, 14));
        assert_eq!(s.packets(), 5);
        let picked = s.select(&set(&[1]), &set(&["a.example".to_string()]));
        let seqs: Vec<u64> = picked.iter().map(|p| p.packet.seq).collect();
        assert_eq!(seqs, [0, 2, 3]);
        assert_eq!(picked[0].flow, Some(1));
        assert_eq!(picked[0].packet.ts, Timestamp(10));
        assert_eq!(picked[0].packet.orig_len, 104);
        assert_eq!(&*picked[0].packet.data, &d[..]);
        assert_eq!(picked[1].flow, None);
        assert_eq!(picked[1].dns_names, ["a.example"]);
    }

    #[test]
    fn a_packet_both_of_a_flow_and_a_dns_answer_appears_once_with_both() {
        let mut s = EvidenceStore::new(1 << 20, 512);
        let d = packet(60);
        s.keep_flow_packet(7, 0, &raw(&d, 1));
        s.keep_flow_packet(7, 1, &raw(&d, 2));
        s.keep_dns_packet(vec!["x.example".into()], 1, &raw(&d, 2));
        let picked = s.select(&set(&[7]), &set(&["x.example".to_string()]));
        assert_eq!(picked.len(), 2);
        assert_eq!(picked[1].flow, Some(7));
        assert_eq!(picked[1].dns_names, ["x.example"]);
    }

    #[test]
    fn beyond_the_byte_cap_the_oldest_flows_go_first_and_are_counted() {
        let per = 1000 + PACKET_OVERHEAD;
        // room for ten packets
        let mut s = EvidenceStore::new(per * 10, 512);
        let d = packet(1000);
        let mut seq = 0;
        // flow 1: four packets, flow 2: four packets, then a DNS answer
        for flow in [1, 2] {
            for _ in 0..4 {
                s.keep_flow_packet(flow, seq, &raw(&d, seq as i64));
                seq += 1;
            }
        }
        s.keep_dns_packet(vec!["old.example".into()], seq, &raw(&d, 0));
        seq += 1;
        assert_eq!((s.packets(), s.evictions()), (9, 0));
        // flow 3 fills the store past its cap: flow 1 (the oldest) goes, all four packets
        for _ in 0..3 {
            s.keep_flow_packet(3, seq, &raw(&d, seq as i64));
            seq += 1;
        }
        assert_eq!(s.evictions(), 4);
        assert!(s.bytes() <= per * 10);
        // far beyond the cap: never more than the cap, never a panic
        for i in 0..1000 {
            s.keep_flow_packet(4 + i % 7, seq, &raw(&d, seq as i64));
            seq += 1;
            assert!(s.bytes() <= per * 10);
        }
        let kept = s.packets() as u64;
        assert_eq!(kept + s.evictions(), seq);
        let picked = s.select(&set(&[1, 2, 3, 4, 5, 6, 7, 8, 9, 10]), &BTreeSet::new());
        assert!(
            picked.iter().all(|p| p.flow != Some(1)),
            "flow 1 was dropped"
        );
        assert_eq!(picked.len() as u64, kept);
        assert!(picked.windows(2).all(|w| w[0].packet.seq < w[1].packet.seq));
    }

    #[test]
    fn a_flow_keeps_its_first_packets_up_to_its_cap() {
        let mut s = EvidenceStore::new(1 << 20, 3);
        let d = packet(10);
        for seq in 0..5 {
            s.keep_flow_packet(1, seq, &raw(&d, 0));
        }
        assert_eq!((s.packets(), s.evictions()), (3, 2));
        let seqs: Vec<u64> = s
            .select(&set(&[1]), &BTreeSet::new())
            .iter()
            .map(|p| p.packet.seq)
            .collect();
        assert_eq!(seqs, [0, 1, 2]);
    }

    #[test]
    fn a_packet_larger_than_the_cap_or_a_cap_of_zero_keeps_nothing() {
        let mut s = EvidenceStore::new(100, 512);
        s.keep_flow_packet(1, 0, &raw(&packet(200), 0));
        s.keep_dns_packet(vec!["a".into()], 1, &raw(&packet(200), 0));
        assert_eq!((s.packets(), s.evictions()), (0, 2));
        let mut z = EvidenceStore::new(0, 0);
        z.keep_flow_packet(1, 0, &raw(&packet(1), 0));
        z.keep_dns_packet(vec!["a".into()], 1, &raw(&packet(1), 0));
        assert_eq!((z.packets(), z.evictions()), (0, 2));
        assert!(z.select(&set(&[1]), &set(&["a".to_string()])).is_empty());
    }

    #[test]
    fn a_flow_dropped_for_room_starts_a_new_group_with_its_later_packets() {
        let per = 10 + PACKET_OVERHEAD;
        let mut s = EvidenceStore::new(per * 2, 512);
        let d = packet(10);
        s.keep_flow_packet(1, 0, &raw(&d, 0));
        s.keep_flow_packet(2, 1, &raw(&d, 1));
        s.keep_flow_packet(2, 2, &raw(&d, 2)); // drops flow 1
        s.keep_flow_packet(1, 3, &raw(&d, 3)); // drops flow 2 (both packets)
        assert_eq!(s.evictions(), 3);
        let seqs: Vec<u64> = s
            .select(&set(&[1, 2]), &BTreeSet::new())
            .iter()
            .map(|p| p.packet.seq)
            .collect();
        assert_eq!(seqs, [3]);
    }
}
