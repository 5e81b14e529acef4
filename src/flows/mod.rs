//! Flows: bidirectional conversations keyed by protocol and both endpoints. `key`
//! normalises the 5-tuple, `table` holds the live flows (bounded, with idle timeouts),
//! `tcp` keeps the Zeek-style history string and connection state.

pub mod key;
pub mod locality;
pub mod table;
pub mod tcp;
pub mod timeline;
pub mod verdict;

use verdict::Verdict;

use crate::names::{FlowName, NameSource};
use crate::time::Timestamp;
use locality::Scope;
use serde::Serialize;
use std::net::SocketAddr;

pub use key::FlowKey;
pub use table::{FlowTable, Limits};

/// The transport protocol of a flow.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Proto {
    Tcp,
    Udp,
    /// Another IP protocol, by number (ICMP is 1, ICMPv6 58).
    #[serde(untagged)]
    Ip(u8),
}

impl Proto {
    pub fn name(self) -> String {
        match self {
            Proto::Tcp => "tcp".into(),
            Proto::Udp => "udp".into(),
            Proto::Ip(1) => "icmp".into(),
            Proto::Ip(58) => "icmpv6".into(),
            Proto::Ip(n) => format!("ip-{n}"),
        }
    }
}

/// How the flow's client (initiator) was decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum InitiatorBy {
    /// The client sent the first SYN (or received the first SYN-ACK).
    Syn,
    /// One side uses a well-known or service port and the other an ephemeral one.
    ServicePort,
    /// The first packet seen came from the client.
    FirstPacket,
}

/// What the flow carries, as far as the dissectors could tell.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AppProto {
    #[default]
    Unknown,
    Dns,
    Mdns,
    Tls,
    Http,
    Quic,
    /// Google QUIC (Q0xx versions).
    Gquic,
    /// Plex GDM discovery (`M-SEARCH * HTTP/1.0` on udp 32410-32414).
    Gdm,
    Ssdp,
    /// Plaintext sessions that may turn to TLS (STARTTLS), as long as they have not.
    Smtp,
    Pop3,
    Imap,
    Ftp,
    Xmpp,
    /// The same sessions, turned to TLS: the ClientHello after the upgrade was read.
    SmtpStarttls,
    Pop3Starttls,
    ImapStarttls,
    FtpStarttls,
    XmppStarttls,
}

/// What the dissectors saw of a flow beyond its names.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Seen {
    /// A TLS ClientHello was read (with or without a server name).
    pub client_hello: bool,
    /// A QUIC client Initial was decrypted.
    pub quic_initial: bool,
    /// QUIC Initials that could not be read.
    pub quic_undecryptable: u32,
    /// The QUIC version of the flow (`1`, `2`, `draft-29`, `Q043`, ...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quic_version: Option<String>,
    /// For an Initial its version's own keys could not open (a version with none, or a stack that
    /// used another version's): the version whose keys opened it, found by trying the known ones
    /// (the AEAD tag verified, so the guess is proved).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quic_keys_guessed: Option<String>,
    /// The application protocols the client offered (TLS or QUIC ALPN).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub alpn: Vec<String>,
}

/// Packets and bytes one way.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct DirStats {
    pub packets: u64,
    /// IP bytes (headers included), as on the wire.
    pub ip_bytes: u64,
    /// Transport payload bytes, as on the wire.
    pub payload_bytes: u64,
}

impl DirStats {
    pub fn add(&mut self, ip_len: u32, payload_len: u32) {
        self.packets += 1;
        self.ip_bytes += u64::from(ip_len);
        self.payload_bytes += u64::from(payload_len);
    }
}

/// Where a flow goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Locality {
    /// Both ends on the local network.
    Local,
    /// A local client reached a party on the internet.
    Outbound,
    /// A party on the internet reached a local server.
    Inbound,
    /// Both ends on the internet (seen from a mirror port, or a capture of someone else's traffic).
    Internet,
}

/// Why a flow ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EndReason {
    /// Its TCP connection closed (FIN or RST), then went quiet.
    Closed,
    /// It sat idle past its protocol's limit.
    Idle,
    /// The flow table was full and it was among the longest idle.
    Evicted,
    /// The capture ended while it was still open.
    End,
}

impl EndReason {
    /// As reports write it: `closed`, `idle`, `evicted` or `end`.
    pub fn as_str(self) -> &'static str {
        match self {
            EndReason::Closed => "closed",
            EndReason::Idle => "idle",
            EndReason::Evicted => "evicted",
            EndReason::End => "end",
        }
    }

    /// In words, for the detail pane.
    pub fn describe(self) -> &'static str {
        match self {
            EndReason::Closed => "closed",
            EndReason::Idle => "idle timeout",
            EndReason::Evicted => "evicted from the full flow table",
            EndReason::End => "not yet (still open)",
        }
    }

    /// Whether the flow ended by going quiet (closed or idle), not by the table or the capture.
    pub fn went_quiet(self) -> bool {
        matches!(self, EndReason::Closed | EndReason::Idle)
    }
}

/// One flow: the fields every packet touches first, then those only the naming, the verdict
/// and the report read. (Laid out in this order with `repr(C)`, the flow table was no faster
/// in `cargo bench --bench components` and each flow 16 bytes larger: the compiler's layout
/// stays.)
#[derive(Clone, Debug)]
pub struct Flow {
    // touched by every packet
    pub last_seen: Timestamp,
    pub client: SocketAddr,
    pub server: SocketAddr,
    pub proto: Proto,
    pub app: AppProto,
    /// Client → server.
    pub up: DirStats,
    /// Server → client.
    pub down: DirStats,
    pub tcp: Option<tcp::TcpTracker>,
    /// Bumped whenever something the verdict depends on changes.
    pub generation: u64,
    /// What the dissectors saw, for the blind-spot accounting.
    pub seen: Seen,
    /// Bytes over the flow's life, for sparklines.
    pub timeline: timeline::Timeline,
    // read when the flow is named, judged or reported
    /// 1, 2, 3, ... in the order the flows began.
    pub id: u64,
    pub first_seen: Timestamp,
    pub initiator_by: InitiatorBy,
    pub client_scope: Scope,
    pub server_scope: Scope,
    pub names: Vec<FlowName>,
    /// The local process (and container) behind the flow, when captured on its host.
    pub process: Option<crate::attrib::Attribution>,
    pub verdict: Option<Verdict>,
    /// Why the flow left the table: `idle`, `closed`, `evicted`, `end` (of the capture).
    pub ended_by: Option<EndReason>,
}

impl Flow {
    pub fn locality(&self) -> Locality {
        match (self.client_scope.is_local(), self.server_scope.is_local()) {
            (true, true) => Locality::Local,
            (true, false) => Locality::Outbound,
            (false, true) => Locality::Inbound,
            (false, false) => Locality::Internet,
        }
    }

    /// The party the audit is about: the internet side; for a local flow, the server.
    pub fn remote(&self) -> SocketAddr {
        match self.locality() {
            Locality::Inbound => self.client,
            _ => self.server,
        }
    }

    /// Bytes that left the local side: up for an outbound flow, down for an inbound one.
    pub fn bytes_out(&self) -> u64 {
        match self.locality() {
            Locality::Inbound => self.down.ip_bytes,
            _ => self.up.ip_bytes,
        }
    }

    pub fn bytes_in(&self) -> u64 {
        match self.locality() {
            Locality::Inbound => self.up.ip_bytes,
            _ => self.down.ip_bytes,
        }
    }

    /// The best name: in-band names (SNI, QUIC, Host) before DNS answers, first learned first.
    pub fn primary_name(&self) -> Option<&FlowName> {
        crate::names::best(&self.names)
    }

    pub fn has_name(&self, name: &str, source: NameSource) -> bool {
        self.names
            .iter()
            .any(|n| n.source == source && n.name == name)
    }

    /// Adds a name unless the flow already has it from that source; true if added.
    pub fn add_name(&mut self, name: FlowName) -> bool {
        if self.has_name(&name.name, name.source) || self.names.len() >= MAX_NAMES_PER_FLOW {
            return false;
        }
        self.names.push(name);
        self.generation += 1;
        true
    }

    pub fn duration_secs(&self) -> f64 {
        self.last_seen.seconds_since(self.first_seen)
    }
}

/// A flow keeps at most this many names (a busy CDN address can carry dozens).
pub const MAX_NAMES_PER_FLOW: usize = 16;
