//! A small deterministic traffic synthesizer: whole TCP conversations (handshake, data in
//! MSS-sized segments with ACKs, FIN teardown) and UDP datagrams, turned into Ethernet frames
//! with correct IPv4/IPv6, TCP and UDP headers and checksums (built by `etherparse`), then
//! written as pcapng (by `pcap-file`). Every "random" choice comes from [`SplitMix64`], so the
//! same calls give the same bytes on every run and every machine.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::io::Write;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use etherparse::{IpHeaders, Ipv4Header, PacketBuilder, TcpOptionElement};
use pcap_file::pcapng::PcapNgWriter;
use pcap_file::pcapng::blocks::enhanced_packet::EnhancedPacketBlock;
use pcap_file::pcapng::blocks::interface_description::{
    InterfaceDescriptionBlock, InterfaceDescriptionOption,
};
use pcap_file::pcapng::blocks::section_header::{SectionHeaderBlock, SectionHeaderOption};
use pcap_file::{DataLink, Endianness};

use telltale::decode::tcp_flags;
use telltale::time::Timestamp;

/// What can go wrong while synthesizing traffic (all of it a caller's mistake, never chance).
#[derive(Debug, thiserror::Error)]
pub enum SynthError {
    #[error("cannot build a packet: {0}")]
    Build(String),
    #[error("one packet mixes IPv4 and IPv6 addresses: {0} -> {1}")]
    MixedFamilies(SocketAddr, SocketAddr),
    #[error("timestamp {0:?} is before the epoch")]
    NegativeTime(Timestamp),
    #[error("pcapng writer: {0}")]
    Pcap(String),
    #[error("cryptography failed: {0}")]
    Crypto(&'static str),
    #[error("{0} is too large")]
    TooLarge(&'static str),
}

/// SplitMix64 (Steele, Lea and Flood): a tiny seeded generator, plenty for made-up traffic.
#[derive(Clone, Debug)]
pub struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    pub const fn new(seed: u64) -> Self {
        SplitMix64 { state: seed }
    }

    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    pub fn next_u32(&mut self) -> u32 {
        (self.next_u64() >> 32) as u32
    }

    /// A number in `lo..hi` (or `lo` when the range is empty). Slightly biased; fine here.
    pub fn between(&mut self, lo: u64, hi: u64) -> u64 {
        match hi.checked_sub(lo) {
            Some(span) if span > 0 => lo.saturating_add(self.next_u64() % span),
            _ => lo,
        }
    }

    /// Nanoseconds in `lo_us..hi_us` microseconds.
    pub fn micros(&mut self, lo_us: u64, hi_us: u64) -> i64 {
        i64::try_from(self.between(lo_us, hi_us).saturating_mul(1000)).unwrap_or(i64::MAX)
    }

    pub fn fill(&mut self, buf: &mut [u8]) {
        for chunk in buf.chunks_mut(8) {
            let word = self.next_u64().to_le_bytes();
            for (b, w) in chunk.iter_mut().zip(word) {
                *b = w;
            }
        }
    }

    pub fn bytes(&mut self, n: usize) -> Vec<u8> {
        let mut v = vec![0; n];
        self.fill(&mut v);
        v
    }

    pub fn array<const N: usize>(&mut self) -> [u8; N] {
        let mut a = [0; N];
        self.fill(&mut a);
        a
    }
}

/// The local network as the capture sees it: which addresses are on the LAN (and their MAC
/// addresses). Everything else is "the internet", reached through the router's MAC address.
#[derive(Clone, Debug)]
pub struct Lan {
    pub router_mac: [u8; 6],
    pub hosts: Vec<(IpAddr, [u8; 6])>,
}

impl Lan {
    /// The MAC address a frame to or from `ip` carries on the LAN.
    pub fn mac_of(&self, ip: IpAddr) -> [u8; 6] {
        if let Some((_, mac)) = self.hosts.iter().find(|(a, _)| *a == ip) {
            return *mac;
        }
        match ip {
            IpAddr::V4(a) if a.is_multicast() => {
                let o = a.octets();
                [0x01, 0x00, 0x5e, o[1] & 0x7f, o[2], o[3]]
            }
            IpAddr::V6(a) if a.is_multicast() => {
                let o = a.octets();
                [0x33, 0x33, o[12], o[13], o[14], o[15]]
            }
            _ => self.router_mac,
        }
    }

    /// Whether `ip` sits on the capture's side of the router (a LAN host or a multicast group).
    pub fn is_local(&self, ip: IpAddr) -> bool {
        ip.is_multicast() || self.hosts.iter().any(|(a, _)| *a == ip)
    }

    /// The TTL or hop limit a packet from `src` to `dst` shows at the capture point.
    fn ttl(&self, src: IpAddr, dst: IpAddr) -> u8 {
        if self.is_local(src) {
            match dst {
                IpAddr::V4(a) if a == Ipv4Addr::new(224, 0, 0, 251) => 255,
                IpAddr::V6(a) if a.segments() == [0xff02, 0, 0, 0, 0, 0, 0, 0xfb] => 255,
                a if a.is_multicast() => 1,
                _ => 64,
            }
        } else {
            // A far host: 64 less a path length that depends only on its address.
            let hops = match src {
                IpAddr::V4(a) => u32::from(a) % 14,
                IpAddr::V6(a) => (u128::from(a) % 14) as u32,
            };
            64u8.saturating_sub(6).saturating_sub(hops as u8)
        }
    }
}

/// The transport header of one synthesized packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Segment {
    Tcp {
        seq: u32,
        ack: u32,
        flags: u8,
        window: u16,
    },
    Udp,
}

#[derive(Clone, Debug)]
struct Pending {
    ts: Timestamp,
    src: SocketAddr,
    dst: SocketAddr,
    segment: Segment,
    payload: Vec<u8>,
}

/// One finished Ethernet frame and its capture time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Frame {
    pub ts: Timestamp,
    pub data: Vec<u8>,
}

/// Collects packets from any number of conversations, in any order; [`Synth::finish`] sorts
/// them by time and serializes them.
pub struct Synth {
    lan: Lan,
    /// The generator every conversation draws from; [`Synth::reseed`] it per conversation to
    /// keep one conversation's bytes independent of the others.
    pub rng: SplitMix64,
    pending: Vec<Pending>,
    /// The next IPv4 identification per source address (assigned in time order).
    ip_ids: BTreeMap<Ipv4Addr, u16>,
    /// The time of the last frame built, to keep times strictly increasing.
    last_ts: Option<Timestamp>,
}

/// Which end of a TCP conversation sends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    Client,
    Server,
}

impl Synth {
    pub fn new(lan: Lan, seed: u64) -> Self {
        Synth {
            lan,
            rng: SplitMix64::new(seed),
            pending: Vec::new(),
            ip_ids: BTreeMap::new(),
            last_ts: None,
        }
    }

    pub fn reseed(&mut self, seed: u64) {
        self.rng = SplitMix64::new(seed);
    }

    pub fn lan(&self) -> &Lan {
        &self.lan
    }

    /// Packets added so far.
    pub fn len(&self) -> usize {
        self.pending.len()
    }

    pub fn is_empty(&self) -> bool {
        self.pending.is_empty()
    }

    /// Adds one raw packet.
    pub fn push(
        &mut self,
        ts: Timestamp,
        src: SocketAddr,
        dst: SocketAddr,
        segment: Segment,
        payload: Vec<u8>,
    ) {
        self.pending.push(Pending {
            ts,
            src,
            dst,
            segment,
            payload,
        });
    }

    /// Adds one UDP datagram.
    pub fn udp(&mut self, ts: Timestamp, src: SocketAddr, dst: SocketAddr, payload: Vec<u8>) {
        self.push(ts, src, dst, Segment::Udp, payload);
    }

    /// A UDP request and its answer `delay_ns` later; returns the answer's time.
    pub fn udp_exchange(
        &mut self,
        ts: Timestamp,
        client: SocketAddr,
        server: SocketAddr,
        request: Vec<u8>,
        response: Vec<u8>,
        delay_ns: i64,
    ) -> Timestamp {
        self.udp(ts, client, server, request);
        let back = Timestamp(ts.0.saturating_add(delay_ns));
        self.udp(back, server, client, response);
        back
    }

    /// Opens a TCP conversation with a three-way handshake starting at `ts`. `rtt_ns` is the
    /// round trip between the capture point and the far end.
    pub fn tcp_open(
        &mut self,
        ts: Timestamp,
        client: SocketAddr,
        server: SocketAddr,
        rtt_ns: i64,
    ) -> TcpSession {
        let mss = if client.is_ipv4() { 1460 } else { 1440 };
        let mut s = TcpSession {
            client,
            server,
            client_local: self.lan.is_local(client.ip()),
            server_local: self.lan.is_local(server.ip()),
            c_next: self.rng.next_u32(),
            s_next: self.rng.next_u32(),
            now: ts,
            rtt: rtt_ns.max(100_000),
            mss,
            cwnd: 10,
            c_win: 0x0200 + (self.rng.between(0, 0x600) as u16),
            s_win: 0x01f5 + (self.rng.between(0, 0x200) as u16),
        };
        let syn_at = ts;
        self.push(
            syn_at,
            client,
            server,
            Segment::Tcp {
                seq: s.c_next,
                ack: 0,
                flags: tcp_flags::SYN,
                window: 64240,
            },
            Vec::new(),
        );
        s.c_next = s.c_next.wrapping_add(1);
        let synack_at = s.later(syn_at, s.reply_delay(Side::Server, &mut self.rng));
        self.push(
            synack_at,
            server,
            client,
            Segment::Tcp {
                seq: s.s_next,
                ack: s.c_next,
                flags: tcp_flags::SYN | tcp_flags::ACK,
                window: 65160,
            },
            Vec::new(),
        );
        s.s_next = s.s_next.wrapping_add(1);
        let ack_at = s.later(synack_at, s.reply_delay(Side::Client, &mut self.rng));
        s.push_ack(self, ack_at, Side::Client);
        s.now = s.later(ack_at, 20_000);
        s
    }

    /// Sorts every packet by time (keeping the order of equal times), makes the times strictly
    /// increasing, and builds the frames.
    pub fn finish(mut self) -> Result<Vec<Frame>, SynthError> {
        self.drain_before(Timestamp(i64::MAX))
    }

    /// Builds and removes every packet earlier than `cutoff`, in time order, so that a long
    /// synthesis can run in time windows without holding all of its packets. Packets added
    /// afterwards should not be earlier than `cutoff` (they would be moved after it).
    pub fn drain_before(&mut self, cutoff: Timestamp) -> Result<Vec<Frame>, SynthError> {
        self.pending.sort_by_key(|p| p.ts);
        let split = self.pending.partition_point(|p| p.ts < cutoff);
        let later = self.pending.split_off(split);
        let ready = std::mem::replace(&mut self.pending, later);
        let mut frames = Vec::with_capacity(ready.len());
        for p in &ready {
            let ts = match self.last_ts {
                Some(prev) if p.ts <= prev => Timestamp(prev.0.saturating_add(1_000)),
                _ => p.ts,
            };
            self.last_ts = Some(ts);
            frames.push(Frame {
                ts,
                data: build_frame(&self.lan, p, &mut self.ip_ids)?,
            });
        }
        Ok(frames)
    }
}

/// Serializes one packet as an Ethernet frame; `ip_ids` holds each IPv4 source's counter.
fn build_frame(
    lan: &Lan,
    p: &Pending,
    ip_ids: &mut BTreeMap<Ipv4Addr, u16>,
) -> Result<Vec<u8>, SynthError> {
    let eth = PacketBuilder::ethernet2(lan.mac_of(p.src.ip()), lan.mac_of(p.dst.ip()));
    let ttl = lan.ttl(p.src.ip(), p.dst.ip());
    let ip = match (p.src.ip(), p.dst.ip()) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            let id = ip_ids.entry(s).or_insert_with(|| {
                // A per-host starting point that depends only on the address.
                (SplitMix64::new(u64::from(u32::from(s))).next_u64() & 0xffff) as u16
            });
            *id = id.wrapping_add(1);
            let header = Ipv4Header {
                source: s.octets(),
                destination: d.octets(),
                time_to_live: ttl,
                identification: *id,
                dont_fragment: true,
                ..Default::default()
            };
            eth.ip(IpHeaders::Ipv4(header, Default::default()))
        }
        (IpAddr::V6(s), IpAddr::V6(d)) => eth.ipv6(s.octets(), d.octets(), ttl),
        _ => return Err(SynthError::MixedFamilies(p.src, p.dst)),
    };
    let mut out = Vec::with_capacity(p.payload.len().saturating_add(80));
    match p.segment {
        Segment::Udp => ip
            .udp(p.src.port(), p.dst.port())
            .write(&mut out, &p.payload)
            .map_err(|e| SynthError::Build(e.to_string()))?,
        Segment::Tcp {
            seq,
            ack,
            flags,
            window,
        } => {
            let mut t = ip.tcp(p.src.port(), p.dst.port(), seq, window);
            if flags & tcp_flags::SYN != 0 {
                t = t.syn();
                // The SYN's options: MSS, window scale, SACK permitted (as Linux orders them
                // without timestamps).
                let ws = if flags & tcp_flags::ACK != 0 { 7 } else { 8 };
                let mss = if p.src.is_ipv4() { 1460 } else { 1440 };
                t = t
                    .options(&[
                        TcpOptionElement::MaximumSegmentSize(mss),
                        TcpOptionElement::Noop,
                        TcpOptionElement::WindowScale(ws),
                        TcpOptionElement::Noop,
                        TcpOptionElement::Noop,
                        TcpOptionElement::SelectiveAcknowledgementPermitted,
                    ])
                    .map_err(|e| SynthError::Build(e.to_string()))?;
            }
            if flags & tcp_flags::ACK != 0 {
                t = t.ack(ack);
            }
            if flags & tcp_flags::PSH != 0 {
                t = t.psh();
            }
            if flags & tcp_flags::FIN != 0 {
                t = t.fin();
            }
            if flags & tcp_flags::RST != 0 {
                t = t.rst();
            }
            t.write(&mut out, &p.payload)
                .map_err(|e| SynthError::Build(e.to_string()))?
        }
    }
    Ok(out)
}

/// The state of one TCP conversation between its handshake and its teardown.
#[derive(Clone, Debug)]
pub struct TcpSession {
    client: SocketAddr,
    server: SocketAddr,
    client_local: bool,
    server_local: bool,
    c_next: u32,
    s_next: u32,
    now: Timestamp,
    rtt: i64,
    mss: usize,
    cwnd: usize,
    c_win: u16,
    s_win: u16,
}

impl TcpSession {
    /// The time the conversation has reached (after its last packet).
    pub fn now(&self) -> Timestamp {
        self.now
    }

    pub fn client(&self) -> SocketAddr {
        self.client
    }

    pub fn server(&self) -> SocketAddr {
        self.server
    }

    /// Lets time pass without traffic.
    pub fn wait(&mut self, ns: i64) {
        self.now = self.later(self.now, ns);
    }

    fn later(&self, ts: Timestamp, ns: i64) -> Timestamp {
        Timestamp(ts.0.saturating_add(ns.max(0)))
    }

    fn is_local(&self, side: Side) -> bool {
        match side {
            Side::Client => self.client_local,
            Side::Server => self.server_local,
        }
    }

    /// How long after seeing a packet the capture sees `responder`'s answer: a LAN host answers
    /// at once; a far one after the round trip.
    fn reply_delay(&self, responder: Side, rng: &mut SplitMix64) -> i64 {
        if self.is_local(responder) {
            rng.micros(30, 90)
        } else {
            self.rtt.saturating_add(rng.micros(0, 2_000))
        }
    }

    fn ends(&self, from: Side) -> (SocketAddr, SocketAddr) {
        match from {
            Side::Client => (self.client, self.server),
            Side::Server => (self.server, self.client),
        }
    }

    fn push_ack(&self, synth: &mut Synth, ts: Timestamp, from: Side) {
        self.push_flags(synth, ts, from, tcp_flags::ACK, Vec::new());
    }

    fn push_flags(
        &self,
        synth: &mut Synth,
        ts: Timestamp,
        from: Side,
        flags: u8,
        payload: Vec<u8>,
    ) {
        let (src, dst) = self.ends(from);
        let (seq, ack, window) = match from {
            Side::Client => (self.c_next, self.s_next, self.c_win),
            Side::Server => (self.s_next, self.c_next, self.s_win),
        };
        synth.push(
            ts,
            src,
            dst,
            Segment::Tcp {
                seq,
                ack,
                flags,
                window,
            },
            payload,
        );
    }

    fn advance(&mut self, from: Side, n: usize) {
        let n = n as u32;
        match from {
            Side::Client => self.c_next = self.c_next.wrapping_add(n),
            Side::Server => self.s_next = self.s_next.wrapping_add(n),
        }
    }

    /// Sends `data` from one side: MSS-sized segments in congestion-window flights, the last
    /// one pushed; the receiver ACKs every second segment and the last.
    pub fn send(&mut self, synth: &mut Synth, from: Side, data: &[u8]) {
        if data.is_empty() {
            return;
        }
        let to = match from {
            Side::Client => Side::Server,
            Side::Server => Side::Client,
        };
        // Far senders arrive paced by the access link; LAN senders at gigabit speed.
        let gap: i64 = if self.is_local(from) && self.is_local(to) {
            12_000
        } else {
            115_000
        };
        let segments: Vec<&[u8]> = data.chunks(self.mss).collect();
        let total = segments.len();
        let mut flight_start = self.now;
        let mut latest = self.now;
        let mut sent = 0usize;
        while sent < total {
            let flight = self.cwnd.min(total - sent);
            let mut ts = flight_start;
            for k in 0..flight {
                let index = sent + k;
                let Some(seg) = segments.get(index) else {
                    break;
                };
                let last = index + 1 == total;
                let flags = if last {
                    tcp_flags::ACK | tcp_flags::PSH
                } else {
                    tcp_flags::ACK
                };
                self.push_flags(synth, ts, from, flags, seg.to_vec());
                self.advance(from, seg.len());
                latest = latest.max(ts);
                if index % 2 == 1 || last {
                    let ack_at = self.later(ts, self.reply_delay(to, &mut synth.rng));
                    self.push_ack(synth, ack_at, to);
                    latest = latest.max(ack_at);
                }
                ts = self.later(ts, gap.saturating_add(synth.rng.micros(0, 8)));
            }
            sent += flight;
            self.cwnd = (self.cwnd * 2).min(44);
            let next = self.later(
                flight_start,
                self.rtt.saturating_add(synth.rng.micros(0, 500)),
            );
            flight_start = next.max(ts);
        }
        self.now = self.later(latest, synth.rng.micros(200, 900));
    }

    /// Tears the conversation down: the client's FIN, the server's FIN, the client's last ACK.
    pub fn close(mut self, synth: &mut Synth) -> Timestamp {
        let fin_at = self.now;
        self.push_flags(
            synth,
            fin_at,
            Side::Client,
            tcp_flags::FIN | tcp_flags::ACK,
            Vec::new(),
        );
        self.advance(Side::Client, 1);
        let fin2_at = self.later(fin_at, self.reply_delay(Side::Server, &mut synth.rng));
        self.push_flags(
            synth,
            fin2_at,
            Side::Server,
            tcp_flags::FIN | tcp_flags::ACK,
            Vec::new(),
        );
        self.advance(Side::Server, 1);
        let ack_at = self.later(fin2_at, self.reply_delay(Side::Client, &mut synth.rng));
        self.push_ack(synth, ack_at, Side::Client);
        ack_at
    }
}

/// A pcapng output: one little-endian Section Header, one Ethernet interface with nanosecond
/// timestamps, then one Enhanced Packet Block per frame, written as frames come.
pub struct PcapNgOut<W: Write> {
    writer: PcapNgWriter<W>,
}

fn pcap_error(e: pcap_file::PcapError) -> SynthError {
    SynthError::Pcap(e.to_string())
}

impl<W: Write> PcapNgOut<W> {
    /// Writes the section and interface headers; `app` names the generator in the section.
    pub fn new(out: W, app: &str) -> Result<Self, SynthError> {
        let section = SectionHeaderBlock {
            endianness: Endianness::Little,
            options: vec![SectionHeaderOption::UserApplication(Cow::Owned(
                app.to_string(),
            ))],
            ..Default::default()
        };
        let mut writer = PcapNgWriter::with_section_header(out, section).map_err(pcap_error)?;
        let interface = InterfaceDescriptionBlock {
            linktype: DataLink::ETHERNET,
            snaplen: 262_144,
            options: vec![
                InterfaceDescriptionOption::IfName(Cow::Borrowed("eth0")),
                InterfaceDescriptionOption::IfTsResol(9),
            ],
        };
        writer.write_pcapng_block(interface).map_err(pcap_error)?;
        Ok(PcapNgOut { writer })
    }

    pub fn write(&mut self, frame: &Frame) -> Result<(), SynthError> {
        let nanos = u64::try_from(frame.ts.0).map_err(|_| SynthError::NegativeTime(frame.ts))?;
        let len = u32::try_from(frame.data.len()).map_err(|_| SynthError::TooLarge("a frame"))?;
        let block = EnhancedPacketBlock {
            interface_id: 0,
            timestamp: Duration::from_nanos(nanos),
            original_len: len,
            data: Cow::Borrowed(&frame.data),
            options: Vec::new(),
        };
        self.writer.write_pcapng_block(block).map_err(pcap_error)?;
        Ok(())
    }

    pub fn into_inner(self) -> W {
        self.writer.into_inner()
    }
}

/// Writes `frames` as a whole pcapng (see [`PcapNgOut`]).
pub fn write_pcapng<W: Write>(out: W, frames: &[Frame], app: &str) -> Result<W, SynthError> {
    let mut pcap = PcapNgOut::new(out, app)?;
    for f in frames {
        pcap.write(f)?;
    }
    Ok(pcap.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;
    use etherparse::{NetSlice, SlicedPacket, TransportSlice};

    fn lan() -> Lan {
        Lan {
            router_mac: [2, 0, 0, 0, 0, 1],
            hosts: vec![("192.168.1.10".parse().unwrap(), [2, 0, 0, 0, 0, 0x10])],
        }
    }

    #[test]
    fn splitmix_matches_reference_sequence() {
        // The reference implementation's outputs for seed 1234567.
        let mut r = SplitMix64::new(1_234_567);
        assert_eq!(r.next_u64(), 6_457_827_717_110_365_317);
        assert_eq!(r.next_u64(), 3_203_168_211_198_807_973);
        assert_eq!(r.next_u64(), 9_817_491_932_198_370_423);
    }

    #[test]
    fn tcp_conversation_has_consistent_sequence_numbers() {
        let mut s = Synth::new(lan(), 7);
        let c: SocketAddr = "192.168.1.10:50000".parse().unwrap();
        let srv: SocketAddr = "192.0.2.1:443".parse().unwrap();
        let mut t = s.tcp_open(Timestamp(1_000_000_000), c, srv, 20_000_000);
        t.send(&mut s, Side::Client, &[1u8; 3000]);
        t.send(&mut s, Side::Server, &[2u8; 5000]);
        t.close(&mut s);
        let frames = s.finish().unwrap();
        // SYN, SYN-ACK, ACK; 3 client segments + 2 ACKs; 4 server segments + 2 ACKs; 3 teardown.
        assert_eq!(frames.len(), 3 + 5 + 6 + 3);
        let mut client_bytes = 0;
        let mut server_bytes = 0;
        let mut first_seq = None;
        let mut last_client_seq_end = 0u32;
        for f in &frames {
            let p = SlicedPacket::from_ethernet(&f.data).unwrap();
            let Some(TransportSlice::Tcp(tcp)) = p.transport else {
                panic!("not tcp")
            };
            let Some(NetSlice::Ipv4(ip)) = p.net else {
                panic!("not ipv4")
            };
            let n = tcp.payload().len();
            if tcp.source_port() == 50000 {
                client_bytes += n;
                if tcp.syn() {
                    first_seq = Some(tcp.sequence_number());
                } else if n > 0 {
                    last_client_seq_end = tcp.sequence_number().wrapping_add(n as u32);
                }
            } else {
                server_bytes += n;
            }
            let h = ip.header();
            assert_eq!(
                tcp.calc_checksum_ipv4(h.source(), h.destination()).unwrap(),
                tcp.checksum()
            );
        }
        assert_eq!((client_bytes, server_bytes), (3000, 5000));
        assert_eq!(
            last_client_seq_end,
            first_seq.unwrap().wrapping_add(1 + 3000)
        );
        assert!(frames.windows(2).all(|w| w[0].ts < w[1].ts));
    }

    #[test]
    fn far_host_answers_after_the_round_trip() {
        let mut s = Synth::new(lan(), 1);
        let c: SocketAddr = "192.168.1.10:50001".parse().unwrap();
        let srv: SocketAddr = "192.0.2.1:443".parse().unwrap();
        s.tcp_open(Timestamp(0), c, srv, 30_000_000);
        let f = s.finish().unwrap();
        let rtt = f[1].ts.0 - f[0].ts.0;
        assert!((30_000_000..32_000_000).contains(&rtt), "{rtt}");
        // Frames to the internet go to the router's MAC address; TTL 64 leaves the LAN host.
        assert_eq!(&f[0].data[0..6], &[2, 0, 0, 0, 0, 1]);
        assert_eq!(&f[0].data[6..12], &[2, 0, 0, 0, 0, 0x10]);
        assert_eq!(f[0].data[14 + 8], 64);
        assert!(f[1].data[14 + 8] < 64);
    }

    #[test]
    fn draining_in_windows_gives_the_same_frames() {
        let build = |windows: &[i64]| {
            let mut s = Synth::new(lan(), 3);
            let c: SocketAddr = "192.168.1.10:50002".parse().unwrap();
            let srv: SocketAddr = "192.0.2.1:443".parse().unwrap();
            let mut t = s.tcp_open(Timestamp(0), c, srv, 20_000_000);
            t.send(&mut s, Side::Server, &[7u8; 40_000]);
            t.close(&mut s);
            let mut frames = Vec::new();
            for w in windows {
                frames.extend(s.drain_before(Timestamp(*w)).unwrap());
            }
            frames.extend(s.finish().unwrap());
            frames
        };
        let whole = build(&[]);
        assert_eq!(whole.len(), 3 + 28 + 14 + 3);
        assert_eq!(build(&[30_000_000, 60_000_000, 90_000_000]), whole);
    }

    #[test]
    fn multicast_mac_and_pcapng_header() {
        let mut s = Synth::new(lan(), 1);
        s.udp(
            Timestamp(5),
            "192.168.1.10:5353".parse().unwrap(),
            "224.0.0.251:5353".parse().unwrap(),
            vec![0; 12],
        );
        let frames = s.finish().unwrap();
        assert_eq!(&frames[0].data[0..6], &[1, 0, 0x5e, 0, 0, 0xfb]);
        let bytes = write_pcapng(Vec::new(), &frames, "test").unwrap();
        // Section Header Block magic and byte-order magic, little-endian.
        assert_eq!(&bytes[0..4], &[0x0a, 0x0d, 0x0d, 0x0a]);
        assert_eq!(&bytes[8..12], &[0x4d, 0x3c, 0x2b, 0x1a]);
    }
}
