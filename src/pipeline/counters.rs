//! What the pipeline counted: every packet lands in exactly one of `decoded`,
//! `malformed`, `unsupported` or `truncated`, and every cap that was hit says how often.

use serde::Serialize;
use std::collections::BTreeMap;

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Counters {
    /// Packets read from the capture.
    pub packets: u64,
    /// Decoded to IP (or held as an IP fragment).
    pub decoded: u64,
    /// Headers that contradict themselves or the packet's length.
    pub malformed: u64,
    /// Not IP, or a link type or encapsulation telltale does not decode.
    pub unsupported: u64,
    /// Cut by the snapshot length before the headers ended.
    pub truncated: u64,
    /// Packets not decoded, by reason (`malformed: ...`, `unsupported: ...`, `truncated: ...`).
    pub reasons: BTreeMap<String, u64>,
    pub flows: u64,
    /// Flows pushed out of the flow table by its cap.
    pub flow_evictions: u64,
    /// Flows ended by an idle timeout or after closing (their endpoints may have been reused).
    pub flows_ended_idle: u64,
    pub fragments_held: u64,
    pub datagrams_reassembled: u64,
    /// Incomplete datagrams dropped: the reassembly table was full, they waited too long, or grew too large.
    pub fragment_evictions: u64,
    pub dns_responses: u64,
    pub dns_malformed: u64,
    pub tls_client_hellos: u64,
    pub tls_malformed: u64,
    pub http_requests: u64,
    /// QUIC client Initials whose ClientHello was read.
    pub quic_client_hellos: u64,
    /// QUIC client Initials that could not be read (unknown version, corrupt, cut).
    pub quic_undecryptable: u64,
    /// Out-of-order TCP bytes dropped by a reassembly buffer's cap.
    pub stream_bytes_dropped: u64,
    /// Addresses dropped from the DNS answer map by its cap.
    pub name_map_evictions: u64,
    /// Names not listed because the name inventory was full.
    pub names_dropped: u64,
    /// Packets not kept as evidence, or dropped from it, by its caps (the oldest flows' first).
    pub evidence_evictions: u64,
}

impl Counters {
    pub fn not_decoded(&mut self, kind: &str, why: &str) {
        match kind {
            "malformed" => self.malformed += 1,
            "unsupported" => self.unsupported += 1,
            _ => self.truncated += 1,
        }
        *self.reasons.entry(format!("{kind}: {why}")).or_default() += 1;
    }

    /// `packets = decoded + malformed + unsupported + truncated`.
    pub fn add_up(&self) -> bool {
        self.packets == self.decoded + self.malformed + self.unsupported + self.truncated
    }
}
