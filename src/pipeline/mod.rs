//! The pipeline: one packet at a time through decode → flows → dissect → names, and at
//! the end (or whenever asked) verdicts. It owns every table; it touches no file,
//! socket, terminal or clock, so a capture file, live capture and the demo all run
//! through it the same way. `counters` says what it counted.

pub mod counters;
pub mod evidence;
pub mod groups;

pub use counters::Counters;
pub use evidence::EvidenceStore;

use crate::capture::RawPacket;
use crate::decode::{DecodeError, Decoded, Decoder, FragLimits, IpPacket, Transport};
use crate::dissect::quic::{QuicEvent, QuicFlow, crypto::version_keys};
use crate::dissect::stream::StreamBuf;
use crate::dissect::{dns, http, starttls, tls};
use crate::flows::table::{Dir, PacketMeta};
use crate::flows::{AppProto, Flow, FlowTable, Limits, Proto};
use crate::names::inventory::Inventory;
use crate::names::map::AddressMap;
use crate::names::{FlowName, NameSource};
use crate::rules::Matcher;
use crate::rules::verdict::{Consent, judge};
use crate::time::Timestamp;
use groups::{EndedFlows, FlowGroup};
use std::sync::Arc;

/// Every cap of the pipeline, in one place.
#[derive(Clone, Debug)]
pub struct Caps {
    pub flows: Limits,
    /// IP fragment reassembly: datagrams held at once, bytes per datagram, and how long an
    /// incomplete one waits.
    pub fragments: FragLimits,
    /// Addresses in the DNS answer map, and names kept per address.
    pub dns_addresses: usize,
    pub dns_names_per_address: usize,
    /// Distinct names listed in the report.
    pub inventory_names: usize,
    /// Bytes of one direction of a TCP stream kept for naming (a ClientHello, an HTTP request head).
    pub stream_bytes: usize,
    /// QUIC client Initials decrypted per flow at most (0 recognises QUIC without decrypting).
    pub quic_initials_per_flow: u32,
    /// Ended flows kept in full for the report; beyond it the oldest unflagged are folded
    /// into groups ([`groups`]). Half the flow table's cap by default: `--max-flows N`
    /// sets both, so at most 1.5 N flows are held whole.
    pub flow_records: usize,
    /// Bytes of raw packets kept as evidence, when asked for ([`Pipeline::keep_evidence`]);
    /// beyond it the oldest flows' packets are dropped.
    pub evidence_bytes: usize,
    /// Packets of one flow kept as evidence (its first ones).
    pub evidence_packets_per_flow: usize,
}

impl Default for Caps {
    fn default() -> Self {
        Caps {
            flows: Limits::default(),
            fragments: FragLimits::default(),
            flow_records: Limits::default().max_flows / 2,
            dns_addresses: 65_536,
            dns_names_per_address: 8,
            inventory_names: 65_536,
            stream_bytes: 16 * 1024,
            quic_initials_per_flow: crate::dissect::quic::MAX_INITIALS,
            evidence_bytes: 64 << 20,
            evidence_packets_per_flow: 512,
        }
    }
}

/// Per-flow dissector state, dropped when the flow ends.
#[derive(Default)]
pub struct Scratch {
    /// Client → server bytes, while the flow is still to be named. (Boxed, as the QUIC
    /// state is: most flows never need them, and every live flow carries a `Scratch`.)
    up: Option<Box<StreamBuf>>,
    /// Server → client bytes, for DNS over TCP, and the first replies of a server that speaks
    /// first (a banner: SMTP, POP3, IMAP, FTP), for STARTTLS.
    down: Option<Box<StreamBuf>>,
    /// The host a STARTTLS session named was taken (once per flow).
    session_named: bool,
    /// Naming from the client's stream is over (named, or given up).
    up_done: bool,
    /// QUIC Initial decryption state, for UDP flows that look like QUIC.
    quic: Option<Box<QuicFlow>>,
}

pub struct Pipeline {
    decoder: Decoder,
    table: FlowTable<Scratch>,
    addresses: AddressMap,
    inventory: Inventory,
    matcher: Arc<Matcher>,
    consent: Consent,
    caps: Caps,
    counters: Counters,
    ended: EndedFlows,
    first_ts: Option<Timestamp>,
    last_ts: Option<Timestamp>,
    /// Flows begun since the last `take_new_flows`, when someone asked to know.
    new_flows: Option<Vec<NewFlow>>,
    /// The raw packets that may become evidence, when someone asked for them.
    evidence: Option<EvidenceStore>,
    /// The names the current packet answered as a DNS response (for the evidence).
    dns_answered: Vec<String>,
    /// The DNS message being read: its lists and strings are reused from one to the next.
    dns_msg: dns::DnsMessage,
}

/// A flow that just began, for the edge to attribute to a process.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NewFlow {
    pub id: u64,
    pub key: crate::flows::FlowKey,
    pub tcp: bool,
    pub client: std::net::SocketAddr,
    pub server: std::net::SocketAddr,
}

/// What an audit found.
pub struct AuditResult {
    /// Every flow kept in full, by id, each with its verdict.
    pub flows: Vec<Flow>,
    /// The flows beyond [`Caps::flow_records`], folded into groups.
    pub groups: Vec<FlowGroup>,
    pub inventory: Inventory,
    pub counters: Counters,
    pub first_ts: Option<Timestamp>,
    pub last_ts: Option<Timestamp>,
}

impl Pipeline {
    pub fn new(matcher: Arc<Matcher>, consent: Consent, caps: Caps) -> Pipeline {
        Pipeline {
            decoder: Decoder::with_limits(caps.fragments),
            table: FlowTable::new(caps.flows.clone(), matcher.rules.local_networks.clone()),
            addresses: AddressMap::new(caps.dns_addresses, caps.dns_names_per_address),
            inventory: Inventory::new(caps.inventory_names),
            matcher,
            consent,
            ended: EndedFlows::new(caps.flow_records),
            caps,
            counters: Counters::default(),
            first_ts: None,
            last_ts: None,
            new_flows: None,
            evidence: None,
            dns_answered: Vec::new(),
            dns_msg: dns::DnsMessage::empty(),
        }
    }

    /// From now on, keep the raw packets that may become evidence (bounded by the caps'
    /// `evidence_*`); [`Pipeline::finish_with_evidence`] hands them back.
    /// The evidence kept so far, if the pipeline keeps any (for an export mid-run).
    pub fn evidence_store(&self) -> Option<&EvidenceStore> {
        self.evidence.as_ref()
    }

    pub fn keep_evidence(&mut self) {
        if self.evidence.is_none() {
            self.evidence = Some(EvidenceStore::new(
                self.caps.evidence_bytes,
                self.caps.evidence_packets_per_flow,
            ));
        }
    }

    /// From now on, keep a list of the flows that begin (see [`Pipeline::take_new_flows`]).
    pub fn track_new_flows(&mut self) {
        self.new_flows.get_or_insert_with(Vec::new);
    }

    /// The flows begun since the last call (bounded: at most 65,536 wait).
    pub fn take_new_flows(&mut self) -> Vec<NewFlow> {
        self.new_flows
            .as_mut()
            .map(std::mem::take)
            .unwrap_or_default()
    }

    /// Ties a live flow to the process behind it. False if the flow has ended meanwhile.
    pub fn attribute(&mut self, flow: &NewFlow, who: crate::attrib::Attribution) -> bool {
        match self.table.get_mut(&flow.key, flow.id) {
            Some(f) => {
                f.process = Some(who);
                f.generation += 1;
                true
            }
            None => match self
                .ended
                .full_mut()
                .iter_mut()
                .rev()
                .find(|f| f.id == flow.id)
            {
                Some(f) => {
                    f.process = Some(who);
                    true
                }
                None => false,
            },
        }
    }

    pub fn caps(&self) -> &Caps {
        &self.caps
    }

    pub fn counters(&self) -> &Counters {
        &self.counters
    }

    pub fn process(&mut self, pkt: &RawPacket<'_>) {
        self.counters.packets += 1;
        self.first_ts = Some(self.first_ts.map_or(pkt.ts, |t| t.min(pkt.ts)));
        self.last_ts = Some(self.last_ts.map_or(pkt.ts, |t| t.max(pkt.ts)));
        let decoded = self.decoder.decode(pkt);
        match decoded {
            Err(DecodeError::Malformed(why)) => self.counters.not_decoded("malformed", why),
            Err(DecodeError::Unsupported(why)) => self.counters.not_decoded("unsupported", why),
            Err(DecodeError::Truncated(why)) => self.counters.not_decoded("truncated", why),
            Ok(Decoded::FragmentHeld) => self.counters.decoded += 1,
            Ok(Decoded::Ip(ip)) => {
                self.counters.decoded += 1;
                let answered = self.evidence.is_some().then_some(&mut self.dns_answered);
                let touched = on_ip(
                    &mut self.table,
                    &mut self.addresses,
                    &mut self.inventory,
                    &mut self.counters,
                    &self.caps,
                    pkt.ts,
                    &ip,
                    answered,
                    &mut self.dns_msg,
                );
                if let Some(store) = self.evidence.as_mut() {
                    let seq = self.counters.packets;
                    if touched.left {
                        store.keep_flow_packet(touched.flow, seq, pkt);
                    }
                    if !self.dns_answered.is_empty() {
                        store.keep_dns_packet(std::mem::take(&mut self.dns_answered), seq, pkt);
                    }
                }
                if let (Some(n), Some(list)) = (touched.new, self.new_flows.as_mut())
                    && list.len() < 65_536
                {
                    list.push(n);
                }
            }
        }
        self.collect_ended();
    }

    /// New rules or consent (the owner changed a setting): every flow is judged again.
    pub fn set_judging(&mut self, matcher: Arc<Matcher>, consent: Consent) {
        self.matcher = matcher;
        self.consent = consent;
        // (flows already folded into groups keep the verdict they were folded with)
        for f in self.ended.full_mut() {
            f.verdict = Some(judge(f, &self.matcher, &self.consent));
        }
    }

    pub fn consent(&self) -> &Consent {
        &self.consent
    }

    /// Judges the flows that ended and keeps them.
    fn collect_ended(&mut self) {
        if self.table.ended_is_empty() {
            return;
        }
        let ended: Vec<Flow> = self.table.drain_ended().collect();
        for mut f in ended {
            self.late_dns_names(&mut f);
            f.verdict = Some(judge(&f, &self.matcher, &self.consent));
            self.ended.push(f);
        }
    }

    /// A flow still unnamed when it ends may be named by a DNS answer seen after it began.
    fn late_dns_names(&mut self, f: &mut Flow) {
        if f.names.is_empty() {
            name_from_dns(f, &self.addresses, &mut self.inventory);
        }
    }

    /// From now on, ended flows are folded into groups only after [`Pipeline::take_ended`]
    /// handed them out (for a consumer that must see every flow: a journal, a live view).
    pub fn hand_out_ended(&mut self) {
        self.ended.hand_out();
    }

    /// Hands out every flow kept in full again at the next [`Pipeline::take_ended`] (their
    /// verdicts changed).
    pub fn rewind_ended(&mut self) {
        self.ended.rewind();
    }

    /// The ended flows kept whole (judged), those handed out already among them.
    pub fn ended_kept(&self) -> &[Flow] {
        self.ended.full()
    }

    /// How many flows have ended (judged) since the last [`Pipeline::take_ended`].
    pub fn ended_waiting(&self) -> usize {
        self.ended.waiting()
    }

    /// The flows that ended (judged) since the last call.
    pub fn take_ended(&mut self) -> &[Flow] {
        self.ended.take_new()
    }

    /// The flows still in the table, unjudged, in no particular order.
    pub fn live(&self) -> impl Iterator<Item = &Flow> {
        self.table.live()
    }

    /// Judges one flow with this pipeline's rules and consent.
    pub fn judge(&self, flow: &Flow) -> crate::rules::verdict::Verdict {
        judge(flow, &self.matcher, &self.consent)
    }

    pub fn matcher(&self) -> &Arc<Matcher> {
        &self.matcher
    }

    /// What the audit has found so far, without ending it: ended flows and the live ones,
    /// each judged, by id (for a report written while the capture goes on).
    pub fn result_so_far(&self) -> AuditResult {
        let mut flows: Vec<Flow> = self.ended.full().to_vec();
        for f in self.table.live() {
            let mut f = f.clone();
            f.verdict = Some(self.judge(&f));
            flows.push(f);
        }
        flows.sort_by_key(|f| f.id);
        crate::rules::budget::apply(
            &mut flows,
            &self.matcher.rules,
            (self.first_ts, self.last_ts),
        );
        AuditResult {
            flows,
            groups: self.ended.groups().cloned().collect(),
            inventory: self.inventory.clone(),
            counters: self.counters_now(),
            first_ts: self.first_ts,
            last_ts: self.last_ts,
        }
    }

    /// The counters with the tables' own counts filled in.
    pub fn counters_now(&self) -> Counters {
        let stats = self.decoder.stats();
        let mut c = self.counters.clone();
        c.flows = self.ended.count() + self.table.len() as u64;
        c.flows_summarised = self.ended.folded;
        c.flow_evictions = self.table.evictions;
        c.flows_ended_idle = self.table.idle_ended;
        c.name_map_evictions = self.addresses.evictions;
        c.names_dropped = self.inventory.dropped;
        c.fragments_held = stats.fragments_held;
        c.datagrams_reassembled = stats.frag.reassembled;
        c.fragment_evictions = stats.frag.evicted + stats.frag.expired + stats.frag.oversized;
        c.evidence_evictions = self.evidence.as_ref().map_or(0, EvidenceStore::evictions);
        c
    }

    /// The newest packet's time.
    pub fn last_ts(&self) -> Option<Timestamp> {
        self.last_ts
    }

    /// Ends the capture: every flow ends, is judged, and the result is returned.
    pub fn finish(self) -> AuditResult {
        self.finish_with_evidence().0
    }

    /// As [`Pipeline::finish`], with the packets kept as evidence (when
    /// [`Pipeline::keep_evidence`] asked for them).
    pub fn finish_with_evidence(mut self) -> (AuditResult, Option<EvidenceStore>) {
        // in batches, each judged and kept (or folded) before the next, so the live flows
        // are never all held twice
        let batch = (self.caps.flow_records / 8).max(1024);
        while !self.table.is_empty() {
            self.table.close_some(batch);
            self.collect_ended();
        }
        let counters = self.counters_now();
        let (mut flows, groups) = self.ended.into_parts();
        flows.sort_by_key(|f| f.id);
        crate::rules::budget::apply(
            &mut flows,
            &self.matcher.rules,
            (self.first_ts, self.last_ts),
        );
        let result = AuditResult {
            flows,
            groups,
            inventory: self.inventory,
            counters,
            first_ts: self.first_ts,
            last_ts: self.last_ts,
        };
        (result, self.evidence)
    }
}

/// The flow a packet belonged to.
struct Touched {
    flow: u64,
    /// The flow left the local network.
    left: bool,
    /// It began with this packet.
    new: Option<NewFlow>,
}

/// Bytes a stream buffer has dropped so far: out of order beyond its cap, or in order
/// past it.
fn dropped(buf: &StreamBuf) -> u64 {
    buf.gaps_dropped().saturating_add(buf.overflow_dropped())
}

/// `answered`, when given, receives the names a DNS response answered.
#[allow(clippy::too_many_arguments)]
fn on_ip(
    table: &mut FlowTable<Scratch>,
    addresses: &mut AddressMap,
    inventory: &mut Inventory,
    counters: &mut Counters,
    caps: &Caps,
    ts: Timestamp,
    ip: &IpPacket<'_>,
    answered: Option<&mut Vec<String>>,
    dns_msg: &mut dns::DnsMessage,
) -> Touched {
    let (proto, sport, dport, flags, seq) = match ip.transport {
        Transport::Tcp(t) => (Proto::Tcp, t.src_port, t.dst_port, t.flags, t.seq),
        Transport::Udp { src_port, dst_port } => (Proto::Udp, src_port, dst_port, 0, 0),
        Transport::Other { protocol } => (Proto::Ip(protocol), 0, 0, 0, 0),
    };
    let meta = PacketMeta {
        ts,
        proto,
        src: (ip.src, sport).into(),
        dst: (ip.dst, dport).into(),
        tcp_flags: flags,
        tcp_seq: seq,
        ip_len: ip.ip_len,
        payload_len: ip.payload_len,
    };
    let (flow, scratch, dir, is_new) = table.track(&meta);
    let new = is_new.then(|| NewFlow {
        id: flow.id,
        key: crate::flows::FlowKey::new(proto, meta.src, meta.dst),
        tcp: proto == Proto::Tcp,
        client: flow.client,
        server: flow.server,
    });
    if is_new {
        name_from_dns(flow, addresses, inventory);
    }
    let (id, left) = (flow.id, flow.locality() != crate::flows::Locality::Local);
    // Only whole payloads are read: a name is never taken from bytes the snapshot length cut off.
    let whole = ip.payload.len() as u64 == u64::from(ip.payload_len);
    match proto {
        Proto::Udp => {
            if is_dns_port(sport) || is_dns_port(dport) {
                flow.app = if sport == 5353 || dport == 5353 {
                    AppProto::Mdns
                } else {
                    AppProto::Dns
                };
                if whole {
                    on_dns_message(
                        addresses, inventory, counters, ts, ip.payload, answered, dns_msg,
                    );
                }
            } else if whole && maybe_quic(flow, scratch, ip.payload) {
                let max = caps.quic_initials_per_flow;
                let q = scratch
                    .quic
                    .get_or_insert_with(|| Box::new(QuicFlow::new(max)));
                let before = q.crypto_dropped();
                on_quic(flow, q, inventory, counters, ts, dir, ip.payload);
                counters.quic_crypto_bytes_dropped += q.crypto_dropped().saturating_sub(before);
                if q.done && flow.app != AppProto::Quic && flow.app != AppProto::Gquic {
                    scratch.quic = None;
                }
            } else {
                classify_udp(flow);
            }
        }
        Proto::Tcp => {
            let syn = flags & crate::decode::tcp_flags::SYN != 0;
            let payload = ip.payload;
            on_tcp(
                flow, scratch, addresses, inventory, counters, caps, ts, dir, seq, syn, payload,
                sport, dport, answered, dns_msg,
            )
        }
        Proto::Ip(_) => {}
    }
    Touched {
        flow: id,
        left,
        new,
    }
}

fn is_dns_port(p: u16) -> bool {
    matches!(p, 53 | 5353 | 5355)
}

/// Local discovery protocols, by the server's port.
fn classify_udp(flow: &mut Flow) {
    if flow.app == AppProto::Unknown {
        let port = flow.server.port();
        if (32410..=32414).contains(&port) {
            flow.app = AppProto::Gdm;
        } else if port == 1900 {
            flow.app = AppProto::Ssdp;
        }
    }
}

/// Whether a UDP flow is worth handing to the QUIC dissector: already QUIC, on a port
/// QUIC uses, or a long-header packet of a known QUIC or gQUIC version.
fn maybe_quic(flow: &Flow, scratch: &Scratch, payload: &[u8]) -> bool {
    if scratch.quic.is_some() {
        return true;
    }
    if flow.app != AppProto::Unknown {
        return false;
    }
    let port = flow.server.port();
    if matches!(port, 443 | 80 | 8443 | 853 | 784) {
        return true;
    }
    let long = payload.first().is_some_and(|b| b & 0xc0 == 0xc0);
    let version = payload
        .get(1..5)
        .and_then(|v| v.try_into().ok())
        .map(u32::from_be_bytes);
    (long
        && version.is_some_and(|v| {
            version_keys(v).is_some() || crate::dissect::quic::crypto::is_reserved(v)
        }))
        || crate::dissect::quic::gquic::version(payload).is_some()
}

fn on_quic(
    flow: &mut Flow,
    q: &mut QuicFlow,
    inventory: &mut Inventory,
    counters: &mut Counters,
    ts: Timestamp,
    dir: Dir,
    payload: &[u8],
) {
    let guesses_before = q.key_guesses;
    let event = if dir == Dir::Down {
        None
    } else {
        Some(q.on_client(payload))
    };
    counters.quic_key_guesses += u64::from(q.key_guesses.saturating_sub(guesses_before));
    if let Some(v) = q.version
        && flow.seen.quic_version.is_none()
    {
        flow.seen.quic_version = Some(crate::dissect::quic::version_name(v));
    }
    let Some(event) = event else {
        if q.on_server(payload) && flow.app == AppProto::Unknown {
            flow.app = AppProto::Quic;
        }
        return;
    };
    match event {
        QuicEvent::NotQuic => {
            if flow.app == AppProto::Unknown && q.version.is_none() {
                // not QUIC after all: stop trying
                q.done = true;
                classify_udp(flow);
            }
        }
        QuicEvent::Quic => {
            flow.app = if q.gquic {
                AppProto::Gquic
            } else {
                AppProto::Quic
            }
        }
        QuicEvent::Undecryptable(_) => {
            flow.app = AppProto::Quic;
            flow.seen.quic_undecryptable += 1;
            counters.quic_undecryptable += 1;
        }
        QuicEvent::Gquic { sni } => {
            flow.app = AppProto::Gquic;
            if let Some(name) = sni {
                add_in_band(flow, inventory, NameSource::QuicSni, name, ts, false);
            }
        }
        QuicEvent::ClientHello(ch) => {
            flow.app = AppProto::Quic;
            flow.seen.quic_initial = true;
            flow.seen.alpn = ch.alpn.clone();
            counters.quic_client_hellos += 1;
            if let Some(keys) = q.guessed_keys() {
                flow.seen.quic_keys_guessed = Some(keys.to_string());
                counters.quic_initials_guessed += 1;
            }
            if let Some(name) = ch.sni {
                add_in_band(flow, inventory, NameSource::QuicSni, name, ts, ch.ech);
            }
        }
    }
}

/// A name the flow itself carried (SNI, Host): on the flow and in the inventory.
fn add_in_band(
    flow: &mut Flow,
    inventory: &mut Inventory,
    source: NameSource,
    name: String,
    ts: Timestamp,
    ech: bool,
) {
    inventory.saw(&name, source, ts, None, Some(flow.id));
    flow.add_name(FlowName {
        name,
        source,
        learned_at: ts,
        ttl: None,
        ech_outer: ech,
    });
}

/// Adds `name` to the names a DNS response answered, once.
fn note_name(out: &mut Vec<String>, name: &str) {
    if !out.iter().any(|o| o == name) {
        out.push(name.to_string());
    }
}

#[allow(clippy::too_many_arguments)]
fn on_dns_message(
    addresses: &mut AddressMap,
    inventory: &mut Inventory,
    counters: &mut Counters,
    ts: Timestamp,
    payload: &[u8],
    answered: Option<&mut Vec<String>>,
    msg: &mut dns::DnsMessage,
) {
    // read into the pipeline's one message, whose lists and strings are reused
    match dns::parse_message_into(payload, msg).map(|()| &*msg) {
        Ok(msg) if msg.is_response => {
            counters.dns_responses += 1;
            if !msg.complete {
                // a corrupt record: the message counts as unreadable, the names it gave are kept
                counters.dns_malformed += 1;
            }
            // the names each address was given, borrowed from the message (no allocation for
            // answers already known), in one pass that also marks the questions they answer
            let mut answered = answered;
            if let Some(out) = answered.as_deref_mut() {
                for q in &msg.questions {
                    note_name(out, &q.name);
                }
            }
            let mut any_address = false;
            let mut given: u64 = 0; // the first 64 questions a chain named
            dns::for_each_address(msg, |addr, names, ttl| {
                any_address = true;
                addresses.record(addr, names, ttl, ts);
                for n in names {
                    inventory.saw(n, NameSource::DnsAnswer, ts, Some(addr), None);
                    if let Some(out) = answered.as_deref_mut() {
                        note_name(out, n);
                    }
                }
                for (i, q) in msg.questions.iter().enumerate().take(64) {
                    if names.contains(&q.name.as_str()) {
                        given |= 1 << i;
                    }
                }
            });
            // A question answered with addresses (in any section) revealed its name, even
            // where no record ties the name to one of them (a referral with glue, say).
            for (i, q) in msg.questions.iter().enumerate().filter(|_| any_address) {
                let named = if i < 64 {
                    given & (1 << i) != 0
                } else {
                    // past 64 questions (no real message has them): look again
                    let mut named = false;
                    dns::for_each_address(msg, |_, names, _| {
                        named |= names.contains(&q.name.as_str());
                    });
                    named
                };
                if !named {
                    inventory.saw(&q.name, NameSource::DnsAnswer, ts, None, None);
                }
            }
        }
        Ok(_) => {}
        Err(_) => counters.dns_malformed += 1,
    }
}

#[allow(clippy::too_many_arguments)]
fn on_tcp(
    flow: &mut Flow,
    scratch: &mut Scratch,
    addresses: &mut AddressMap,
    inventory: &mut Inventory,
    counters: &mut Counters,
    caps: &Caps,
    ts: Timestamp,
    dir: Dir,
    seq: u32,
    syn: bool,
    payload: &[u8],
    sport: u16,
    dport: u16,
    mut answered: Option<&mut Vec<String>>,
    dns_msg: &mut dns::DnsMessage,
) {
    let dns_over_tcp = is_dns_port(sport) || is_dns_port(dport);
    if dns_over_tcp {
        flow.app = AppProto::Dns;
        if dir == Dir::Down {
            let buf = scratch
                .down
                .get_or_insert_with(|| Box::new(StreamBuf::new(caps.stream_bytes)));
            let before = dropped(buf);
            let pushed = buf.push(seq, syn, payload);
            counters.stream_bytes_dropped += dropped(buf).saturating_sub(before);
            if pushed {
                let (msgs, used) = dns::split_tcp_messages(buf.data());
                for m in msgs {
                    on_dns_message(
                        addresses,
                        inventory,
                        counters,
                        ts,
                        m,
                        answered.as_deref_mut(),
                        dns_msg,
                    );
                }
                buf.consume(used);
            }
        }
        return;
    }
    if dir == Dir::Down {
        banner(scratch, counters, seq, syn, payload);
        return;
    }
    if scratch.up_done {
        return;
    }
    let buf = scratch
        .up
        .get_or_insert_with(|| Box::new(StreamBuf::new(caps.stream_bytes)));
    let before = dropped(buf);
    let pushed = buf.push(seq, syn, payload);
    counters.stream_bytes_dropped += dropped(buf).saturating_sub(before);
    if !pushed {
        if buf.is_full() {
            scratch.up_done = true;
            scratch.up = None;
        }
        return;
    }
    let data = buf.data();
    let mut done = buf.is_full();
    if tls::looks_like_tls(data) {
        flow.app = AppProto::Tls;
        done |= client_hello(flow, inventory, counters, data, ts).is_some();
    } else if http::looks_like_http_request(data) {
        flow.app = AppProto::Http;
        match http::scan_request(data) {
            http::HttpScan::Request(req) => {
                counters.http_requests += 1;
                for host in req.host.into_iter().chain(req.more_hosts) {
                    add_in_band(flow, inventory, NameSource::HttpHost, host, ts, false);
                }
                for other in req.others {
                    add_in_band(flow, inventory, NameSource::HttpOther, other, ts, false);
                }
                done = true;
            }
            http::HttpScan::NeedMore => {}
            http::HttpScan::NotHttp | http::HttpScan::Malformed(_) => done = true,
        }
    } else {
        match starttls::scan_client(data) {
            starttls::ClientScan::Not => done |= data.len() >= 8,
            starttls::ClientScan::Session(proto) => {
                if let Some(p) = proto {
                    flow.app = session_app(p, false);
                    name_session(
                        flow,
                        scratch.down.as_deref(),
                        &mut scratch.session_named,
                        inventory,
                        p,
                        None,
                        ts,
                    );
                }
            }
            starttls::ClientScan::Asked {
                proto,
                tls_at,
                host,
            } => {
                flow.app = session_app(proto, false);
                name_session(
                    flow,
                    scratch.down.as_deref(),
                    &mut scratch.session_named,
                    inventory,
                    proto,
                    host,
                    ts,
                );
                let tls = data.get(tls_at..).unwrap_or_default();
                if tls::looks_like_tls(tls) {
                    match client_hello(flow, inventory, counters, tls, ts) {
                        Some(true) => {
                            // the session turned to TLS unless the server was seen to refuse (a
                            // ClientHello sent anyway still left, and still names the flow)
                            let refused = scratch
                                .down
                                .as_deref()
                                .and_then(|b| starttls::go_ahead(proto, b.data()))
                                == Some(false);
                            flow.app = session_app(proto, !refused);
                            done = true;
                        }
                        Some(false) => done = true,
                        None => {}
                    }
                } else if tls.len() >= 8 {
                    // the client went on in plaintext: the server refused, or it changed its mind
                    done = true;
                }
            }
        }
    }
    if done {
        scratch.up_done = true;
        scratch.up = None;
        scratch.down = None;
    }
}

/// Reads a ClientHello at the start of `data` (a client's TLS bytes): its server name names the
/// flow. `Some(true)` when one was read, `Some(false)` when reading is over without one (not a
/// ClientHello, or unreadable), `None` while more bytes are needed.
fn client_hello(
    flow: &mut Flow,
    inventory: &mut Inventory,
    counters: &mut Counters,
    data: &[u8],
    ts: Timestamp,
) -> Option<bool> {
    match tls::scan_client_stream(data) {
        tls::TlsScan::ClientHello(ch) => {
            counters.tls_client_hellos += 1;
            if ch.damaged.is_some() {
                counters.tls_malformed += 1;
            }
            flow.seen.client_hello = true;
            flow.seen.alpn = ch.alpn.clone();
            if let Some(sni) = ch.sni {
                add_in_band(flow, inventory, NameSource::TlsSni, sni, ts, ch.ech);
            }
            Some(true)
        }
        tls::TlsScan::NeedMore => None,
        tls::TlsScan::Malformed(_) => {
            counters.tls_malformed += 1;
            Some(false)
        }
        tls::TlsScan::NotTls | tls::TlsScan::NotClientHello => Some(false),
    }
}

/// The most of a server's first replies kept for STARTTLS: its greeting, its answer to the
/// client's capabilities question and its go-ahead.
const BANNER_BYTES: usize = 4096;

/// Keeps the first replies of a server that speaks first with a banner (`220`, `+OK`, `* OK`)
/// or an XMPP stream header, while the client's stream is still being read.
fn banner(scratch: &mut Scratch, counters: &mut Counters, seq: u32, syn: bool, payload: &[u8]) {
    if scratch.up_done {
        return;
    }
    if scratch.down.is_none() {
        let starts_banner = payload.starts_with(b"220")
            || payload.starts_with(b"+OK")
            || payload.starts_with(b"* OK")
            || payload.starts_with(b"<?xml")
            || payload.starts_with(b"<stream:stream");
        // a banner comes before anything else; a reply to a client that spoke first is not one,
        // except in XMPP, where the client opens the stream
        let client_spoke = scratch.up.as_ref().is_some_and(|b| !b.data().is_empty());
        let xmpp = payload.starts_with(b"<?xml") || payload.starts_with(b"<stream:stream");
        if !starts_banner || (client_spoke && !xmpp) {
            return;
        }
    }
    let buf = scratch
        .down
        .get_or_insert_with(|| Box::new(StreamBuf::new(BANNER_BYTES)));
    let before = dropped(buf);
    buf.push(seq, syn, payload);
    counters.stream_bytes_dropped += dropped(buf).saturating_sub(before);
}

/// The flow's application protocol for a plaintext session, before or after its upgrade.
fn session_app(proto: starttls::Upgrade, upgraded: bool) -> AppProto {
    use starttls::Upgrade as U;
    match (proto, upgraded) {
        (U::Smtp, false) => AppProto::Smtp,
        (U::Pop3, false) => AppProto::Pop3,
        (U::Imap, false) => AppProto::Imap,
        (U::Ftp, false) => AppProto::Ftp,
        (U::Xmpp, false) => AppProto::Xmpp,
        (U::Smtp, true) => AppProto::SmtpStarttls,
        (U::Pop3, true) => AppProto::Pop3Starttls,
        (U::Imap, true) => AppProto::ImapStarttls,
        (U::Ftp, true) => AppProto::FtpStarttls,
        (U::Xmpp, true) => AppProto::XmppStarttls,
    }
}

/// Names a STARTTLS session by the host it names before the upgrade, once: the server's own
/// (SMTP's greeting, XMPP's stream header), else the domain an XMPP client asked for.
fn name_session(
    flow: &mut Flow,
    server: Option<&StreamBuf>,
    named: &mut bool,
    inventory: &mut Inventory,
    proto: starttls::Upgrade,
    asked: Option<String>,
    ts: Timestamp,
) {
    if *named {
        return;
    }
    let host = server
        .and_then(|b| starttls::server_host(proto, b.data()))
        .or(asked);
    if let Some(h) = host {
        *named = true;
        add_in_band(flow, inventory, NameSource::SessionHost, h, ts, false);
    }
}

/// Names a flow from the DNS answers seen for its remote address.
fn name_from_dns(flow: &mut Flow, addresses: &AddressMap, inventory: &mut Inventory) {
    let remote = flow.remote().ip();
    for b in addresses.names_for(remote, flow.first_seen) {
        let added = flow.add_name(FlowName {
            name: b.name.clone(),
            source: NameSource::DnsAnswer,
            learned_at: b.at,
            ttl: Some(b.ttl),
            ech_outer: false,
        });
        if added {
            inventory.used_by(&b.name, NameSource::DnsAnswer, flow.id);
        }
    }
}
