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
    /// Ended flows beyond the cap on flows kept in full, folded into the report's `flow_groups`.
    pub flows_summarised: u64,
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
    /// QUIC ClientHellos read from an Initial whose version has no keys of its own (a reserved
    /// one), opened by trying the known keys: the AEAD tag proved the guess.
    pub quic_initials_guessed: u64,
    /// Opens with guessed QUIC keys that failed (each a wrong guess; bounded per flow).
    pub quic_key_guesses: u64,
    /// TCP bytes dropped by a reassembly buffer's cap (out of order, or in order past it).
    pub stream_bytes_dropped: u64,
    /// QUIC CRYPTO bytes dropped because they lay beyond the per-flow cap (64 KiB).
    pub quic_crypto_bytes_dropped: u64,
    /// Addresses dropped from the DNS answer map by its cap.
    pub name_map_evictions: u64,
    /// Sightings of names not listed because the name inventory was full (each sighting
    /// counts: remembering which names were dropped would need the memory the cap saves).
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

    /// Every counter with the words reports show it under, in the order they show them.
    pub fn labelled(&self) -> [(&'static str, u64); 26] {
        [
            ("packets", self.packets),
            ("decoded", self.decoded),
            ("malformed", self.malformed),
            ("unsupported", self.unsupported),
            ("truncated (by snapshot length)", self.truncated),
            ("flows", self.flows),
            ("flow evictions (table full)", self.flow_evictions),
            (
                "flows summarised in groups (over the cap)",
                self.flows_summarised,
            ),
            ("flows ended idle or closed", self.flows_ended_idle),
            ("IP fragments held", self.fragments_held),
            ("datagrams reassembled", self.datagrams_reassembled),
            ("fragment evictions", self.fragment_evictions),
            ("DNS responses", self.dns_responses),
            ("DNS messages unreadable", self.dns_malformed),
            ("TLS ClientHellos", self.tls_client_hellos),
            ("TLS ClientHellos unreadable", self.tls_malformed),
            ("HTTP requests", self.http_requests),
            ("QUIC ClientHellos", self.quic_client_hellos),
            ("QUIC Initials unreadable", self.quic_undecryptable),
            (
                "QUIC Initials opened by guessed keys",
                self.quic_initials_guessed,
            ),
            ("QUIC key guesses that failed", self.quic_key_guesses),
            (
                "TCP bytes dropped by reassembly caps",
                self.stream_bytes_dropped,
            ),
            (
                "QUIC CRYPTO bytes dropped by its cap",
                self.quic_crypto_bytes_dropped,
            ),
            ("DNS map evictions", self.name_map_evictions),
            ("names not listed (inventory full)", self.names_dropped),
            ("evidence packets dropped (caps)", self.evidence_evictions),
        ]
    }

    /// `packets = decoded + malformed + unsupported + truncated`.
    pub fn add_up(&self) -> bool {
        self.packets == self.decoded + self.malformed + self.unsupported + self.truncated
    }
}
