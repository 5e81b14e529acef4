//! Names: how remote parties are known, from what the capture itself shows. `map` binds
//! addresses to the names DNS answers gave them; `inventory` lists every name the
//! capture revealed, used by a flow or not. No name ever comes from a lookup of our own.

pub mod inventory;
pub mod map;

use crate::time::Timestamp;
use serde::Serialize;

/// How a name was learned.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NameSource {
    /// The server_name of a TLS ClientHello on this flow.
    TlsSni,
    /// The server_name of the ClientHello inside a QUIC Initial on this flow.
    QuicSni,
    /// The Host header (or absolute target) of an HTTP request on this flow.
    HttpHost,
    /// The host a plaintext session names before it turns to TLS (STARTTLS): the domain of
    /// SMTP's greeting, the domain of XMPP's stream headers.
    SessionHost,
    /// Another host an HTTP request names besides its Host: an absolute-form target or an
    /// `Origin` header that names a different host. Kept as a name of the flow, never used to
    /// judge it (the request went to its Host).
    HttpOther,
    /// A DNS answer seen earlier that gave the remote address this name.
    DnsAnswer,
}

impl NameSource {
    pub fn as_str(self) -> &'static str {
        match self {
            NameSource::TlsSni => "tls_sni",
            NameSource::QuicSni => "quic_sni",
            NameSource::HttpHost => "http_host",
            NameSource::SessionHost => "session_host",
            NameSource::HttpOther => "http_other",
            NameSource::DnsAnswer => "dns_answer",
        }
    }

    /// Short mark for tables: SNI, QUIC, Host, DNS.
    pub fn mark(self) -> &'static str {
        match self {
            NameSource::TlsSni => "SNI",
            NameSource::QuicSni => "QUIC",
            NameSource::HttpHost => "Host",
            NameSource::SessionHost => "Sess",
            NameSource::HttpOther => "Ref",
            NameSource::DnsAnswer => "DNS",
        }
    }

    /// Names carried by the flow itself are stronger evidence than an address's DNS answer.
    pub fn in_band(self) -> bool {
        self != NameSource::DnsAnswer
    }

    /// Whether the name says whom the flow went to, so that a verdict may rest on it. A host an
    /// HTTP request merely mentions (`http_other`) does not.
    pub fn identifies(self) -> bool {
        self != NameSource::HttpOther
    }
}

/// One name of one flow, with how and when it was learned.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FlowName {
    pub name: String,
    pub source: NameSource,
    /// When the name was seen: the packet that carried it, or the DNS answer.
    pub learned_at: Timestamp,
    /// For DNS answers: the record's TTL in seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ttl: Option<u32>,
    /// For TLS/QUIC: the ClientHello carried Encrypted Client Hello, so this is only the outer, public name.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub ech_outer: bool,
}

/// The best of a flow's names: in-band names (SNI, QUIC, Host) before DNS answers, the
/// first learned first; else the first DNS name.
pub fn best(names: &[FlowName]) -> Option<&FlowName> {
    names
        .iter()
        .filter(|n| n.source.in_band() && n.source.identifies())
        .min_by_key(|n| (n.source, n.learned_at))
        .or_else(|| names.iter().find(|n| n.source.identifies()))
        .or_else(|| names.first())
}

impl FlowName {
    /// How and when the name was learned, as the reports say it: `seen at <time>` for an
    /// in-band name, `answered 0.2 s before the flow began, TTL 300 s` for a DNS answer.
    pub fn when(&self, flow_began: Timestamp) -> String {
        if self.source.in_band() {
            return format!("seen at {}", self.learned_at);
        }
        let age = flow_began.seconds_since(self.learned_at);
        let ttl = self.ttl.map_or(String::new(), |t| format!(", TTL {t} s"));
        let d = crate::text::duration(age.abs());
        if age >= 0.0 {
            format!("answered {d} before the flow began{ttl}")
        } else {
            format!("answered {d} after the flow began{ttl}")
        }
    }

    /// ` (outer name of an Encrypted Client Hello)` when the ClientHello carried ECH.
    pub fn ech_note(&self) -> &'static str {
        if self.ech_outer {
            " (outer name of an Encrypted Client Hello)"
        } else {
            ""
        }
    }
}
