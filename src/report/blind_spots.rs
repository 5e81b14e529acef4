//! Blind spots: what left the machine that the audit could not name, split by cause, so
//! a clean audit says what it could not see instead of implying it saw everything.
//!
//! Each flow that left counts under at most one cause, the first that applies:
//! `tunnel` (IP in IP, GRE, IPsec and the like: what travels inside is not read), `ech` (only the outer name of an Encrypted Client Hello is visible), `encrypted_dns`
//! (DNS over HTTPS to a well-known resolver, DNS over TLS on 853, DNS over QUIC: the
//! names it resolved are invisible), and, for flows left with no name at all,
//! `quic_initial_missed`, `tls_no_sni` and `no_dns_answer`.

use super::model::FlowReport;
use crate::flows::{AppProto, Locality};
use crate::names::NameSource;
use serde::Serialize;
use std::net::IpAddr;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Cause {
    Tunnel,
    Ech,
    EncryptedDns,
    QuicInitialMissed,
    TlsNoSni,
    NoDnsAnswer,
}

impl Cause {
    pub const ALL: [Cause; 6] = [
        Cause::Tunnel,
        Cause::Ech,
        Cause::EncryptedDns,
        Cause::QuicInitialMissed,
        Cause::TlsNoSni,
        Cause::NoDnsAnswer,
    ];

    pub fn describe(self) -> &'static str {
        match self {
            Cause::Tunnel => {
                "a tunnel (IP in IP, GRE, IPsec ESP, EtherIP, L2TP): the traffic inside it is not read"
            }
            Cause::Ech => "TLS with Encrypted Client Hello: only the outer, public name is visible",
            Cause::EncryptedDns => {
                "encrypted DNS (DNS over HTTPS to a well-known resolver, DNS over TLS or QUIC on port 853): the names it resolved cannot be seen, so later flows to them go unnamed"
            }
            Cause::QuicInitialMissed => {
                "QUIC whose client Initial was not captured (or could not be read): no server name"
            }
            Cause::TlsNoSni => {
                "TLS whose ClientHello carried no server name, and no DNS answer named the address"
            }
            Cause::NoDnsAnswer => "no name on the wire and no DNS answer seen for the address",
        }
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct BlindSpot {
    pub cause: Cause,
    pub description: &'static str,
    pub flows: u64,
    pub bytes_out: u64,
    pub bytes_in: u64,
    /// The ids of the flows (at most 100).
    pub flow_ids: Vec<u64>,
}

/// IP protocols that carry other traffic inside them: IPv4 and IPv6 in IP, GRE, IPsec ESP,
/// EtherIP, L2TPv3 (as flows name their protocol).
const TUNNELS: &[&str] = &["ip-4", "ip-41", "ip-47", "ip-50", "ip-97", "ip-115"];

/// Well-known public DNS-over-HTTPS resolvers, by address.
const DOH_ADDRESSES: &[&str] = &[
    "1.1.1.1",
    "1.0.0.1",
    "8.8.8.8",
    "8.8.4.4",
    "9.9.9.9",
    "149.112.112.112",
    "208.67.222.222",
    "208.67.220.220",
    "94.140.14.14",
    "94.140.15.15",
    "45.90.28.0",
    "45.90.30.0",
    "185.228.168.9",
    "2606:4700:4700::1111",
    "2606:4700:4700::1001",
    "2001:4860:4860::8888",
    "2001:4860:4860::8844",
    "2620:fe::fe",
    "2620:fe::9",
    "2620:119:35::35",
    "2a10:50c0::ad1:ff",
];

/// Well-known DNS-over-HTTPS host names.
const DOH_NAMES: &[&str] = &[
    "cloudflare-dns.com",
    "mozilla.cloudflare-dns.com",
    "one.one.one.one",
    "1dot1dot1dot1.cloudflare-dns.com",
    "dns.google",
    "dns.google.com",
    "dns.quad9.net",
    "dns9.quad9.net",
    "dns11.quad9.net",
    "doh.opendns.com",
    "dns.adguard.com",
    "dns.adguard-dns.com",
    "dns.nextdns.io",
    "doh.cleanbrowsing.org",
    "chrome.cloudflare-dns.com",
];

pub fn cause_of(f: &FlowReport) -> Option<Cause> {
    if f.locality == Locality::Local {
        return None;
    }
    if TUNNELS.iter().any(|t| f.protocol == *t) {
        return Some(Cause::Tunnel);
    }
    if f.names.iter().any(|n| n.ech_outer) {
        return Some(Cause::Ech);
    }
    let remote = f.remote();
    let port853 = remote.port == 853;
    let doh_addr = remote.port == 443
        && DOH_ADDRESSES
            .iter()
            .any(|a| a.parse::<IpAddr>().ok() == Some(remote.address));
    let doh_name =
        remote.port == 443 && f.names.iter().any(|n| DOH_NAMES.contains(&n.name.as_str()));
    if port853 || doh_addr || doh_name {
        return Some(Cause::EncryptedDns);
    }
    if !f.names.is_empty() {
        return None;
    }
    let quic = matches!(f.app, AppProto::Quic | AppProto::Gquic);
    if quic && !f.names.iter().any(|n| n.source == NameSource::QuicSni) {
        return Some(Cause::QuicInitialMissed);
    }
    if f.app == AppProto::Tls && f.seen.client_hello {
        return Some(Cause::TlsNoSni);
    }
    Some(Cause::NoDnsAnswer)
}

/// The blind spots of a set of flows: every cause, with zero counts where nothing applied.
pub fn blind_spots(flows: &[FlowReport]) -> Vec<BlindSpot> {
    let mut out: Vec<BlindSpot> = Cause::ALL
        .iter()
        .map(|&cause| BlindSpot {
            cause,
            description: cause.describe(),
            flows: 0,
            bytes_out: 0,
            bytes_in: 0,
            flow_ids: Vec::new(),
        })
        .collect();
    for f in flows {
        if let Some(c) = cause_of(f)
            && let Some(b) = out.iter_mut().find(|b| b.cause == c)
        {
            {
                b.flows += 1;
                b.bytes_out += f.bytes_out;
                b.bytes_in += f.bytes_in;
                if b.flow_ids.len() < 100 {
                    b.flow_ids.push(f.id);
                }
            }
        }
    }
    out
}
