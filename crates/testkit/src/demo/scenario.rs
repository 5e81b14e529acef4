//! The demo scenario: one table ([`PLAN`]) of every flow the demo capture holds — who talks to
//! whom, when, what the wire reveals and what the audit should conclude — and the generator
//! that walks that table and synthesizes each flow (with the DNS lookup before it).
//! `super::scenario()` reads the same table, so the capture and its description cannot drift.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};

use super::DemoFlow;
use super::payload::{self, Answer, ClientHello, DNS_TYPE_A, DNS_TYPE_AAAA, Rdata, natpmp};
use super::quic;
use super::synth::{Frame, Lan, Side, Synth, SynthError};
use telltale::time::Timestamp;

/// 2026-11-07 20:00:00 UTC, the capture's first instant.
pub const START_SECS: i64 = 1_794_081_600;
const SEED: u64 = 0x7e11_7a1e_de30_0001;

pub const SERVER_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x10];
pub const ROUTER_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x01];
const TV_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x20];
const PHONE_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x21];

pub const SERVER4: Ipv4Addr = Ipv4Addr::new(192, 168, 1, 10);
pub const SERVER6: Ipv6Addr = Ipv6Addr::new(0xfd00, 1, 0, 0, 0, 0, 0, 0x10);
pub const ROUTER4: Ipv4Addr = Ipv4Addr::new(192, 168, 1, 1);
pub const ROUTER6: Ipv6Addr = Ipv6Addr::new(0xfd00, 1, 0, 0, 0, 0, 0, 1);
pub const TV4: Ipv4Addr = Ipv4Addr::new(192, 168, 1, 20);
pub const PHONE4: Ipv4Addr = Ipv4Addr::new(192, 168, 1, 21);
/// The home's public address, as NAT-PMP reports it and the plex.direct name spells it.
pub const PUBLIC4: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 44);

const PLEX_DIRECT_LAN: &str = "192-168-1-10.0123456789abcdef0123456789abcdef.plex.direct";
const PLEX_DIRECT_WAN: &str = "192-0-2-44.0123456789abcdef0123456789abcdef.plex.direct";

const fn v4(a: u8, b: u8, c: u8, d: u8, port: u16) -> SocketAddr {
    SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::new(a, b, c, d), port))
}

const fn v6(addr: Ipv6Addr, port: u16) -> SocketAddr {
    SocketAddr::V6(SocketAddrV6::new(addr, port, 0, 0))
}

const fn server(port: u16) -> SocketAddr {
    SocketAddr::V4(SocketAddrV4::new(SERVER4, port))
}

const fn phone(port: u16) -> SocketAddr {
    SocketAddr::V4(SocketAddrV4::new(PHONE4, port))
}

/// The DNS lookup the server makes just before a flow (for the flow's `host`).
pub struct Lookup {
    pub purpose: &'static str,
    /// The client's UDP (or TCP) source port.
    pub port: u16,
    pub ttl: u32,
    pub over_tcp: bool,
    /// A CNAME target between the name and its address, with the address record's TTL.
    pub cname: Option<(&'static str, u32)>,
}

/// One request/response round in a TLS conversation (`up` client bytes, then `down` server
/// bytes, after a pause).
pub struct Round {
    pub pause_ms: u32,
    pub up: u32,
    pub down: u32,
}

const fn r(pause_ms: u32, up: u32, down: u32) -> Round {
    Round { pause_ms, up, down }
}

/// What an HTTP response body looks like.
pub enum Body {
    Text(&'static str),
    /// This many bytes of MPEG transport stream (a multiple of 188 keeps segments aligned).
    MpegTs(u32),
    Mp3(u32),
}

pub struct HttpCall {
    pub pause_ms: u32,
    pub method: &'static str,
    pub path: &'static str,
    pub headers: &'static [(&'static str, &'static str)],
    pub content_type: &'static str,
    pub body: Body,
}

pub enum Traffic {
    /// TLS over TCP; the SNI is the flow's `host` when `sni` is set.
    Tls {
        sni: bool,
        alpn: &'static [&'static str],
        rounds: &'static [Round],
        close: bool,
    },
    /// Plain HTTP/1.1 over TCP with this Host header, one connection, kept alive.
    Http {
        host_header: &'static str,
        calls: &'static [HttpCall],
    },
    /// An OCSP GET (plain HTTP) to the flow's `host`, and a good-status answer.
    Ocsp,
    /// QUIC v1 to the flow's `host`: real client and server Initials, then opaque packets.
    Quic,
    /// A lone DNS lookup (not followed by a connection).
    Dns {
        name: &'static str,
        answer: IpAddr,
    },
    /// GDM `M-SEARCH` datagrams (`count`, 3 s apart).
    GdmProbe {
        count: u8,
    },
    /// The server's unicast GDM answer.
    GdmReply,
    NatPmp,
    Mdns,
}

/// One flow of the capture, with everything needed to synthesize it.
pub struct Plan {
    pub purpose: &'static str,
    /// When the flow's first packet leaves, in milliseconds after [`START_SECS`].
    pub at_ms: u32,
    pub client: SocketAddr,
    pub server: SocketAddr,
    pub host: Option<&'static str>,
    pub how: &'static str,
    pub expect: &'static str,
    pub lookup: Option<Lookup>,
    pub traffic: Traffic,
}

const fn lookup(purpose: &'static str, port: u16, ttl: u32) -> Option<Lookup> {
    Some(Lookup {
        purpose,
        port,
        ttl,
        over_tcp: false,
        cname: None,
    })
}

const PLEX_HEADERS: &[(&str, &str)] = &[
    ("Accept", "application/xml"),
    ("X-Plex-Product", "Plex for iOS"),
    (
        "X-Plex-Client-Identifier",
        "5A3C1F2E-7B4D-4E8A-9C61-0D2F3B4A5C6D",
    ),
];

const IDENTITY_XML: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<MediaContainer size=\"0\" \
    claimed=\"1\" machineIdentifier=\"0123456789abcdef0123456789abcdef\" version=\"1.41.2.9200\">\n\
    </MediaContainer>\n";
const SECTIONS_XML: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<MediaContainer size=\"2\" \
    allowSync=\"0\" title1=\"Plex Library\">\n<Directory key=\"1\" type=\"movie\" title=\"Movies\" \
    agent=\"tv.plex.agents.movie\" scanner=\"Plex Movie\" language=\"en-US\" />\n<Directory key=\"2\" \
    type=\"show\" title=\"TV Shows\" agent=\"tv.plex.agents.series\" scanner=\"Plex TV Series\" \
    language=\"en-US\" />\n</MediaContainer>\n";
const ONDECK_XML: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<MediaContainer size=\"1\">\n\
    <Video ratingKey=\"4711\" key=\"/library/metadata/4711\" type=\"movie\" title=\"Big Buck Bunny\" \
    year=\"2008\" duration=\"596000\" viewOffset=\"120000\" />\n</MediaContainer>\n";

const TV_HEADERS: &[(&str, &str)] = &[
    ("User-Agent", "PlexMediaPlayer/2.58 (Smart TV)"),
    ("X-Plex-Client-Identifier", "tv-7f3e9a21"),
    ("Accept", "*/*"),
];

const fn segment(pause_ms: u32, path: &'static str) -> HttpCall {
    HttpCall {
        pause_ms,
        method: "GET",
        path,
        headers: TV_HEADERS,
        content_type: "video/mp2t",
        body: Body::MpegTs(266 * 188),
    }
}

/// Every flow of the demo capture, in order of first packet. DNS lookups hang off the flow they
/// serve (see [`Plan::lookup`]).
pub const PLAN: &[Plan] = &[
    Plan {
        purpose: "NAT-PMP: learn the public address and map TCP 32400 for remote access",
        at_ms: 400,
        client: server(5350),
        server: v4(192, 168, 1, 1, 5351),
        host: None,
        how: "none",
        expect: "local",
        lookup: None,
        traffic: Traffic::NatPmp,
    },
    Plan {
        purpose: "pubsub.plex.tv: long-lived push channel (cloud sync)",
        at_ms: 1_200,
        client: server(48712),
        server: v4(192, 0, 2, 11, 443),
        host: Some("pubsub.plex.tv"),
        how: "tls_sni",
        expect: "declared:cloud_sync",
        lookup: lookup("resolve pubsub.plex.tv", 40113, 300),
        traffic: Traffic::Tls {
            sni: true,
            alpn: &["http/1.1"],
            rounds: &[
                r(0, 640, 420),
                r(24_000, 0, 212),
                r(27_000, 96, 0),
                r(21_000, 0, 187),
                r(29_000, 96, 0),
                r(23_000, 0, 305),
                r(26_000, 96, 0),
                r(22_000, 0, 199),
                r(28_000, 96, 0),
                r(25_000, 0, 241),
                r(30_000, 96, 0),
                r(21_500, 0, 176),
                r(18_000, 96, 88),
            ],
            close: false,
        },
    },
    Plan {
        purpose: "GDM discovery: the phone looks for servers on the LAN",
        at_ms: 2_500,
        client: phone(53821),
        server: v4(239, 0, 0, 250, 32414),
        host: None,
        how: "none",
        expect: "local",
        lookup: None,
        traffic: Traffic::GdmProbe { count: 1 },
    },
    Plan {
        purpose: "GDM answer: the server replies to the phone (unicast)",
        at_ms: 2_503,
        client: server(32414),
        server: phone(53821),
        host: None,
        how: "none",
        expect: "local",
        lookup: None,
        traffic: Traffic::GdmReply,
    },
    Plan {
        purpose: "mDNS: the phone announces a service to the LAN",
        at_ms: 3_100,
        client: phone(5353),
        server: v4(224, 0, 0, 251, 5353),
        host: None,
        how: "none",
        expect: "local",
        lookup: None,
        traffic: Traffic::Mdns,
    },
    Plan {
        purpose: "the phone resolves the server's plex.direct name (answer: its LAN address)",
        at_ms: 5_000,
        client: phone(61022),
        server: v4(192, 168, 1, 1, 53),
        host: None,
        how: "none",
        expect: "local",
        lookup: None,
        traffic: Traffic::Dns {
            name: PLEX_DIRECT_LAN,
            answer: IpAddr::V4(SERVER4),
        },
    },
    Plan {
        purpose: "plex.tv: update check and account call",
        at_ms: 8_000,
        client: server(48730),
        server: v4(192, 0, 2, 10, 443),
        host: Some("plex.tv"),
        how: "tls_sni",
        expect: "declared:updates",
        lookup: lookup("resolve plex.tv (A)", 40371, 300),
        traffic: Traffic::Tls {
            sni: true,
            alpn: &["h2", "http/1.1"],
            rounds: &[r(0, 1_850, 4_200), r(350, 900, 2_600)],
            close: true,
        },
    },
    Plan {
        purpose: "plex.tv over IPv6: update check",
        at_ms: 15_000,
        client: v6(SERVER6, 48744),
        server: v6(Ipv6Addr::new(0x2001, 0xdb8, 5, 0, 0, 0, 0, 0xa), 443),
        host: Some("plex.tv"),
        how: "tls_sni",
        expect: "declared:updates",
        lookup: lookup("resolve plex.tv (AAAA, over IPv6)", 40402, 287),
        traffic: Traffic::Tls {
            sni: true,
            alpn: &["h2", "http/1.1"],
            rounds: &[r(0, 1_700, 3_900)],
            close: true,
        },
    },
    Plan {
        purpose: "metrics.plex.tv: usage metrics upload",
        at_ms: 25_000,
        client: server(48761),
        server: v4(192, 0, 2, 15, 443),
        host: Some("metrics.plex.tv"),
        how: "tls_sni",
        expect: "flagged:telemetry",
        lookup: lookup("resolve metrics.plex.tv", 40455, 300),
        traffic: Traffic::Tls {
            sni: true,
            alpn: &["http/1.1"],
            rounds: &[r(0, 6_200, 350)],
            close: true,
        },
    },
    Plan {
        purpose: "analytics.plex.tv: analytics events",
        at_ms: 32_000,
        client: server(48779),
        server: v4(192, 0, 2, 16, 443),
        host: Some("analytics.plex.tv"),
        how: "tls_sni",
        expect: "flagged:telemetry",
        lookup: lookup("resolve analytics.plex.tv", 40519, 240),
        traffic: Traffic::Tls {
            sni: true,
            alpn: &["http/1.1"],
            rounds: &[r(0, 2_100, 300)],
            close: true,
        },
    },
    Plan {
        purpose: "the phone browses the library (plain HTTP on the LAN)",
        at_ms: 40_000,
        client: phone(52001),
        server: server(32400),
        host: None,
        how: "none",
        expect: "local",
        lookup: None,
        traffic: Traffic::Http {
            host_header: "192.168.1.10:32400",
            calls: &[
                HttpCall {
                    pause_ms: 0,
                    method: "GET",
                    path: "/identity",
                    headers: PLEX_HEADERS,
                    content_type: "text/xml;charset=utf-8",
                    body: Body::Text(IDENTITY_XML),
                },
                HttpCall {
                    pause_ms: 180,
                    method: "GET",
                    path: "/library/sections",
                    headers: PLEX_HEADERS,
                    content_type: "text/xml;charset=utf-8",
                    body: Body::Text(SECTIONS_XML),
                },
                HttpCall {
                    pause_ms: 2_400,
                    method: "GET",
                    path: "/library/onDeck",
                    headers: PLEX_HEADERS,
                    content_type: "text/xml;charset=utf-8",
                    body: Body::Text(ONDECK_XML),
                },
            ],
        },
    },
    Plan {
        purpose: "sonos.plex.tv: Sonos integration",
        at_ms: 55_000,
        client: server(48802),
        server: v4(192, 0, 2, 12, 443),
        host: Some("sonos.plex.tv"),
        how: "tls_sni",
        expect: "declared:integrations",
        lookup: lookup("resolve sonos.plex.tv", 40588, 300),
        traffic: Traffic::Tls {
            sni: true,
            alpn: &["http/1.1"],
            rounds: &[r(0, 700, 1_500)],
            close: true,
        },
    },
    Plan {
        purpose: "metadata.provider.plex.tv: movie and show metadata",
        at_ms: 70_000,
        client: server(48821),
        server: v4(192, 0, 2, 13, 443),
        host: Some("metadata.provider.plex.tv"),
        how: "tls_sni",
        expect: "declared:metadata",
        lookup: lookup("resolve metadata.provider.plex.tv", 40631, 300),
        traffic: Traffic::Tls {
            sni: true,
            alpn: &["h2", "http/1.1"],
            rounds: &[r(0, 800, 9_000), r(400, 750, 12_000)],
            close: true,
        },
    },
    Plan {
        purpose: "api.themoviedb.org: metadata agent (its lookup goes over TCP)",
        at_ms: 72_500,
        client: server(48834),
        server: v4(198, 51, 100, 30, 443),
        host: Some("api.themoviedb.org"),
        how: "tls_sni",
        expect: "declared:metadata",
        lookup: Some(Lookup {
            purpose: "resolve api.themoviedb.org (DNS over TCP)",
            port: 40677,
            ttl: 120,
            over_tcp: true,
            cname: None,
        }),
        traffic: Traffic::Tls {
            sni: true,
            alpn: &["h2", "http/1.1"],
            rounds: &[r(0, 600, 7_000)],
            close: true,
        },
    },
    Plan {
        purpose: "image.tmdb.org: artwork (TLS without SNI; only DNS names it, via a CNAME)",
        at_ms: 75_000,
        client: server(48850),
        server: v4(203, 0, 113, 31, 443),
        host: Some("image.tmdb.org"),
        how: "dns_answer",
        expect: "declared:metadata",
        lookup: Some(Lookup {
            purpose: "resolve image.tmdb.org (CNAME to a CDN)",
            port: 40702,
            ttl: 300,
            over_tcp: false,
            cname: Some(("image-tmdb-org.cdn.example.net", 60)),
        }),
        traffic: Traffic::Tls {
            sni: false,
            alpn: &[],
            rounds: &[r(0, 520, 30_000)],
            close: true,
        },
    },
    Plan {
        purpose: "discover.provider.plex.tv over QUIC (HTTP/3)",
        at_ms: 80_000,
        client: server(51234),
        server: v4(192, 0, 2, 18, 443),
        host: Some("discover.provider.plex.tv"),
        how: "quic_sni",
        expect: "declared:metadata",
        lookup: lookup("resolve discover.provider.plex.tv", 40744, 300),
        traffic: Traffic::Quic,
    },
    Plan {
        purpose: "tvthemes.plexapp.com: a TV theme song (plain HTTP)",
        at_ms: 85_000,
        client: server(48877),
        server: v4(192, 0, 2, 14, 80),
        host: Some("tvthemes.plexapp.com"),
        how: "http_host",
        expect: "declared:metadata",
        lookup: lookup("resolve tvthemes.plexapp.com", 40790, 300),
        traffic: Traffic::Http {
            host_header: "tvthemes.plexapp.com",
            calls: &[HttpCall {
                pause_ms: 0,
                method: "GET",
                path: "/12345.mp3",
                headers: &[
                    ("User-Agent", "PlexMediaServer/1.41.2.9200"),
                    ("Accept", "*/*"),
                ],
                content_type: "audio/mpeg",
                body: Body::Mp3(24_000),
            }],
        },
    },
    Plan {
        purpose: "api.internetvideoarchive.com: trailer lookup (licensor reporting)",
        at_ms: 100_000,
        client: server(48890),
        server: v4(198, 51, 100, 20, 443),
        host: Some("api.internetvideoarchive.com"),
        how: "tls_sni",
        expect: "declared:licensor_reporting",
        lookup: lookup("resolve api.internetvideoarchive.com", 40812, 300),
        traffic: Traffic::Tls {
            sni: true,
            alpn: &["http/1.1"],
            rounds: &[r(0, 900, 5_000)],
            close: true,
        },
    },
    Plan {
        purpose: "video.internetvideoarchive.net: a trailer segment download",
        at_ms: 104_000,
        client: server(48903),
        server: v4(198, 51, 100, 21, 443),
        host: Some("video.internetvideoarchive.net"),
        how: "tls_sni",
        expect: "declared:licensor_reporting",
        lookup: lookup("resolve video.internetvideoarchive.net", 40839, 300),
        traffic: Traffic::Tls {
            sni: true,
            alpn: &["http/1.1"],
            rounds: &[r(0, 700, 150_000)],
            close: true,
        },
    },
    Plan {
        purpose: "ocsp.digicert.com: certificate revocation check (plain HTTP)",
        at_ms: 120_000,
        client: server(48915),
        server: v4(198, 51, 100, 40, 80),
        host: Some("ocsp.digicert.com"),
        how: "http_host",
        expect: "declared:certificates",
        lookup: lookup("resolve ocsp.digicert.com", 40861, 300),
        traffic: Traffic::Ocsp,
    },
    Plan {
        purpose: "the TV streams a movie from the server (plain HTTP on the LAN)",
        at_ms: 140_000,
        client: v4(192, 168, 1, 20, 49810),
        server: server(32400),
        host: None,
        how: "none",
        expect: "local",
        lookup: None,
        traffic: Traffic::Http {
            host_header: "192.168.1.10:32400",
            calls: &[
                segment(
                    0,
                    "/video/:/transcode/universal/session/tv-7f3e9a21/base/00000.ts",
                ),
                segment(
                    4_000,
                    "/video/:/transcode/universal/session/tv-7f3e9a21/base/00001.ts",
                ),
                segment(
                    4_000,
                    "/video/:/transcode/universal/session/tv-7f3e9a21/base/00002.ts",
                ),
                segment(
                    4_000,
                    "/video/:/transcode/universal/session/tv-7f3e9a21/base/00003.ts",
                ),
                segment(
                    4_000,
                    "/video/:/transcode/universal/session/tv-7f3e9a21/base/00004.ts",
                ),
                segment(
                    4_000,
                    "/video/:/transcode/universal/session/tv-7f3e9a21/base/00005.ts",
                ),
            ],
        },
    },
    Plan {
        purpose: "remote access: a client on the internet streams from the server",
        at_ms: 170_000,
        client: v4(203, 0, 113, 50, 61544),
        server: server(32400),
        host: Some(PLEX_DIRECT_WAN),
        how: "tls_sni",
        expect: "declared:remote_discovery",
        lookup: None,
        traffic: Traffic::Tls {
            sni: true,
            alpn: &["h2", "http/1.1"],
            rounds: &[
                r(0, 900, 40_000),
                r(5_000, 500, 80_000),
                r(5_000, 500, 80_000),
            ],
            close: true,
        },
    },
    Plan {
        purpose: "crashreport.plexapp.com: a crash dump upload",
        at_ms: 200_000,
        client: server(48940),
        server: v4(192, 0, 2, 17, 443),
        host: Some("crashreport.plexapp.com"),
        how: "tls_sni",
        expect: "flagged:crash report",
        lookup: lookup("resolve crashreport.plexapp.com", 40907, 300),
        traffic: Traffic::Tls {
            sni: true,
            alpn: &["http/1.1"],
            rounds: &[r(0, 60_000, 400)],
            close: true,
        },
    },
    Plan {
        purpose: "beacon.tracksight.example: a tracker no rule names",
        at_ms: 230_000,
        client: server(48951),
        server: v4(203, 0, 113, 66, 443),
        host: Some("beacon.tracksight.example"),
        how: "tls_sni",
        expect: "flagged:no rule",
        lookup: lookup("resolve beacon.tracksight.example", 40933, 600),
        traffic: Traffic::Tls {
            sni: true,
            alpn: &["http/1.1"],
            rounds: &[r(0, 1_200, 200)],
            close: true,
        },
    },
    Plan {
        purpose: "GDM discovery sent to a public address (must stay on the LAN)",
        at_ms: 250_000,
        client: server(32414),
        server: v4(198, 51, 100, 77, 32414),
        host: None,
        how: "none",
        expect: "flagged:local-only",
        lookup: None,
        traffic: Traffic::GdmProbe { count: 2 },
    },
];

impl Plan {
    fn protocol(&self) -> &'static str {
        match self.traffic {
            Traffic::Tls { .. } | Traffic::Http { .. } | Traffic::Ocsp => "tcp",
            _ => "udp",
        }
    }

    /// The resolver this flow's client asks (same address family as the flow).
    fn resolver(&self) -> SocketAddr {
        match self.client {
            SocketAddr::V4(_) => v4(192, 168, 1, 1, 53),
            SocketAddr::V6(_) => v6(ROUTER6, 53),
        }
    }

    fn lookup_client(&self, l: &Lookup) -> SocketAddr {
        SocketAddr::new(self.client.ip(), l.port)
    }

    /// The flow, then (first) the lookup before it, as [`DemoFlow`]s.
    pub fn flows(&self) -> Vec<DemoFlow> {
        let mut out = Vec::with_capacity(2);
        if let Some(l) = &self.lookup {
            out.push(DemoFlow {
                purpose: l.purpose,
                client: self.lookup_client(l),
                server: self.resolver(),
                protocol: if l.over_tcp { "tcp" } else { "udp" },
                host: None,
                how: "none",
                expect: "local",
            });
        }
        out.push(DemoFlow {
            purpose: self.purpose,
            client: self.client,
            server: self.server,
            protocol: self.protocol(),
            host: self.host,
            how: self.how,
            expect: self.expect,
        });
        out
    }
}

pub fn lan() -> Lan {
    Lan {
        router_mac: ROUTER_MAC,
        hosts: vec![
            (IpAddr::V4(SERVER4), SERVER_MAC),
            (IpAddr::V6(SERVER6), SERVER_MAC),
            (IpAddr::V4(ROUTER4), ROUTER_MAC),
            (IpAddr::V6(ROUTER6), ROUTER_MAC),
            (IpAddr::V4(TV4), TV_MAC),
            (IpAddr::V4(PHONE4), PHONE_MAC),
        ],
    }
}

fn at(ms: u32) -> Timestamp {
    Timestamp::from_secs_nanos(START_SECS, i64::from(ms) * 1_000_000)
}

fn plus(ts: Timestamp, ns: i64) -> Timestamp {
    Timestamp(ts.0.saturating_add(ns))
}

/// Synthesizes every flow of [`PLAN`] and returns the frames in time order.
pub fn frames() -> Result<Vec<Frame>, SynthError> {
    let mut synth = Synth::new(lan(), SEED);
    for (i, plan) in PLAN.iter().enumerate() {
        synth.reseed(SEED ^ (i as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15));
        generate(&mut synth, plan)?;
    }
    synth.finish()
}

fn generate(synth: &mut Synth, plan: &Plan) -> Result<(), SynthError> {
    let start = at(plan.at_ms);
    let local = synth.lan().is_local(plan.client.ip()) && synth.lan().is_local(plan.server.ip());
    let rtt = if local {
        synth.rng.micros(250, 700)
    } else {
        synth.rng.micros(14_000, 85_000)
    };
    if let (Some(l), Some(host)) = (&plan.lookup, plan.host) {
        let lead = synth.rng.micros(150_000, 700_000);
        let mut answers = Vec::new();
        let mut owner = host.to_string();
        if let Some((target, a_ttl)) = l.cname {
            answers.push(Answer {
                name: owner,
                ttl: l.ttl,
                data: Rdata::Cname(target.to_string()),
            });
            owner = target.to_string();
            answers.push(Answer {
                name: owner,
                ttl: a_ttl,
                data: Rdata::Addr(plan.server.ip()),
            });
        } else {
            answers.push(Answer {
                name: owner,
                ttl: l.ttl,
                data: Rdata::Addr(plan.server.ip()),
            });
        }
        let qtype = if plan.server.is_ipv4() {
            DNS_TYPE_A
        } else {
            DNS_TYPE_AAAA
        };
        dns_lookup(
            synth,
            plus(start, -lead),
            plan.lookup_client(l),
            plan.resolver(),
            host,
            qtype,
            &answers,
            l.over_tcp,
        );
    }
    match &plan.traffic {
        Traffic::Tls {
            sni,
            alpn,
            rounds,
            close,
        } => {
            let name = if *sni { plan.host } else { None };
            tls_flow(synth, start, plan, name, alpn, rounds, *close, rtt);
        }
        Traffic::Http { host_header, calls } => {
            http_flow(synth, start, plan, host_header, calls, rtt);
        }
        Traffic::Ocsp => ocsp_flow(synth, start, plan, rtt),
        Traffic::Quic => quic_flow(synth, start, plan, rtt)?,
        Traffic::Dns { name, answer } => {
            let answers = [Answer {
                name: name.to_string(),
                ttl: 300,
                data: Rdata::Addr(*answer),
            }];
            let qtype = if answer.is_ipv4() {
                DNS_TYPE_A
            } else {
                DNS_TYPE_AAAA
            };
            dns_lookup(
                synth,
                start,
                plan.client,
                plan.server,
                name,
                qtype,
                &answers,
                false,
            );
        }
        Traffic::GdmProbe { count } => {
            for k in 0..*count {
                let ts = plus(start, i64::from(k) * 3_000_000_000);
                synth.udp(ts, plan.client, plan.server, payload::gdm_msearch());
            }
        }
        Traffic::GdmReply => {
            let reply = payload::gdm_reply(
                "Living Room Server",
                "0123456789abcdef0123456789abcdef",
                "1.41.2.9200-0123abcd",
            );
            synth.udp(start, plan.client, plan.server, reply);
        }
        Traffic::NatPmp => {
            let epoch = 259_200 + synth.rng.between(0, 3_600) as u32;
            let back = synth.udp_exchange(
                start,
                plan.client,
                plan.server,
                natpmp::external_address_request(),
                natpmp::external_address_response(epoch, PUBLIC4),
                rtt,
            );
            let next = plus(back, synth.rng.micros(300, 900));
            synth.udp_exchange(
                next,
                plan.client,
                plan.server,
                natpmp::map_tcp_request(32400, 32400, 7200),
                natpmp::map_tcp_response(epoch, 32400, 32400, 7200),
                rtt,
            );
        }
        Traffic::Mdns => {
            let announce = payload::mdns_announcement(
                "Phone",
                "_companion-link._tcp.local",
                "Phone.local",
                49_152,
                PHONE4,
                &["rpVr=360.4", "rpMd=iPhone15,2"],
            );
            synth.udp(start, plan.client, plan.server, announce.clone());
            synth.udp(
                plus(start, 1_000_000_000),
                plan.client,
                plan.server,
                announce,
            );
        }
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn dns_lookup(
    synth: &mut Synth,
    ts: Timestamp,
    client: SocketAddr,
    resolver: SocketAddr,
    name: &str,
    qtype: u16,
    answers: &[Answer],
    over_tcp: bool,
) {
    let id = synth.rng.next_u32() as u16;
    let query = payload::dns_query(id, name, qtype);
    let response = payload::dns_response(id, name, qtype, answers);
    let delay = synth.rng.micros(3_000, 45_000);
    if over_tcp {
        let rtt = synth.rng.micros(250, 600);
        let mut s = synth.tcp_open(ts, client, resolver, rtt);
        s.send(synth, Side::Client, &payload::dns_over_tcp(&query));
        s.wait(delay);
        s.send(synth, Side::Server, &payload::dns_over_tcp(&response));
        s.close(synth);
    } else {
        synth.udp_exchange(ts, client, resolver, query, response, delay);
    }
}

#[allow(clippy::too_many_arguments)]
fn tls_flow(
    synth: &mut Synth,
    start: Timestamp,
    plan: &Plan,
    sni: Option<&str>,
    alpn: &[&str],
    rounds: &[Round],
    close: bool,
    rtt: i64,
) {
    let mut s = synth.tcp_open(start, plan.client, plan.server, rtt);
    let hello = ClientHello::new(&mut synth.rng, sni, alpn);
    s.send(synth, Side::Client, &hello.record());
    let cert = synth.rng.between(2_800, 4_600) as usize;
    let flight = payload::server_flight(&mut synth.rng, &hello, cert);
    s.send(synth, Side::Server, &flight);
    let fin = payload::client_finished(&mut synth.rng);
    s.send(synth, Side::Client, &fin);
    for round in rounds {
        s.wait(i64::from(round.pause_ms) * 1_000_000);
        if round.up > 0 {
            let data = payload::app_data(&mut synth.rng, round.up as usize);
            s.send(synth, Side::Client, &data);
        }
        if round.down > 0 {
            let data = payload::app_data(&mut synth.rng, round.down as usize);
            s.send(synth, Side::Server, &data);
        }
    }
    if close {
        s.close(synth);
    }
}

/// One request and its response on a kept-alive HTTP connection.
struct Exchange {
    pause_ms: u32,
    request: Vec<u8>,
    response: Vec<u8>,
}

fn response_ok(content_type: &str, extra: &[(&str, &str)], body: &[u8]) -> Vec<u8> {
    let mut headers = vec![
        ("Content-Type", content_type),
        ("Date", "Sat, 07 Nov 2026 20:00:00 GMT"),
        ("Connection", "keep-alive"),
    ];
    headers.extend_from_slice(extra);
    payload::http_response(200, "OK", &headers, body)
}

fn http_flow(
    synth: &mut Synth,
    start: Timestamp,
    plan: &Plan,
    host_header: &str,
    calls: &[HttpCall],
    rtt: i64,
) {
    let mut ts_packets = 0usize;
    let exchanges: Vec<Exchange> = calls
        .iter()
        .map(|call| {
            let body = match call.body {
                Body::Text(t) => t.as_bytes().to_vec(),
                Body::MpegTs(n) => {
                    let b = payload::mpeg_ts_bytes(&mut synth.rng, n as usize, ts_packets);
                    ts_packets = ts_packets.wrapping_add(b.len().div_ceil(188));
                    b
                }
                Body::Mp3(n) => payload::mp3_bytes(&mut synth.rng, n as usize),
            };
            Exchange {
                pause_ms: call.pause_ms,
                request: payload::http_request(
                    call.method,
                    call.path,
                    host_header,
                    call.headers,
                    b"",
                ),
                response: response_ok(call.content_type, &[], &body),
            }
        })
        .collect();
    tcp_exchanges(synth, start, plan, &exchanges, rtt);
}

fn ocsp_flow(synth: &mut Synth, start: Timestamp, plan: &Plan, rtt: i64) {
    let host = plan.host.unwrap_or_default();
    let id = payload::ocsp::CertId::random(&mut synth.rng);
    let request = payload::http_request(
        "GET",
        &payload::ocsp::get_path(&id),
        host,
        &[
            ("User-Agent", "PlexMediaServer/1.41.2.9200"),
            ("Accept", "*/*"),
        ],
        b"",
    );
    let body = payload::ocsp::response(&mut synth.rng, &id, "20261107184213Z", "20261114175713Z");
    let response = response_ok(
        "application/ocsp-response",
        &[(
            "Cache-Control",
            "max-age=169920, public, no-transform, must-revalidate",
        )],
        &body,
    );
    let exchange = Exchange {
        pause_ms: 0,
        request,
        response,
    };
    tcp_exchanges(synth, start, plan, &[exchange], rtt);
}

/// One TCP connection carrying `exchanges` in turn, then closed by the client.
fn tcp_exchanges(
    synth: &mut Synth,
    start: Timestamp,
    plan: &Plan,
    exchanges: &[Exchange],
    rtt: i64,
) {
    let mut s = synth.tcp_open(start, plan.client, plan.server, rtt);
    for x in exchanges {
        s.wait(i64::from(x.pause_ms) * 1_000_000);
        s.send(synth, Side::Client, &x.request);
        s.wait(synth.rng.micros(500, 4_000));
        s.send(synth, Side::Server, &x.response);
    }
    s.close(synth);
}

fn quic_flow(synth: &mut Synth, start: Timestamp, plan: &Plan, rtt: i64) -> Result<(), SynthError> {
    let host = plan.host.unwrap_or_default();
    quic_conversation(synth, start, plan.client, plan.server, host, rtt, 4)
}

/// A QUIC v1 connection: the client's encrypted Initial (SNI `host`, ALPN h3), the
/// server's Initial and Handshake packets, the client's request, `answer_packets`
/// 1-RTT packets of answer and the client's ACK.
pub fn quic_conversation(
    synth: &mut Synth,
    start: Timestamp,
    c: SocketAddr,
    s: SocketAddr,
    host: &str,
    rtt: i64,
    answer_packets: usize,
) -> Result<(), SynthError> {
    let dcid = synth.rng.bytes(8);
    let scid = synth.rng.bytes(8);
    let server_cid = synth.rng.bytes(8);
    let initial = quic::client_initial_for(&mut synth.rng, host, &dcid, &scid)?;
    synth.udp(start, c, s, initial);

    // The server's Initial (ACK, ServerHello) coalesced with its first Handshake packet.
    let mut first = quic::server_initial_for(&mut synth.rng, &dcid, &scid, &server_cid)?;
    let room = quic::MIN_INITIAL_DATAGRAM.saturating_sub(first.len() + 1 + 4 + 1 + 8 + 1 + 8 + 2);
    first.extend_from_slice(&quic::opaque_long(
        &mut synth.rng,
        2,
        &scid,
        &server_cid,
        room,
    ));
    let mut t = plus(start, rtt);
    synth.udp(t, s, c, first);
    t = plus(t, synth.rng.micros(150, 400));
    let rest = quic::opaque_long(&mut synth.rng, 2, &scid, &server_cid, 1_020);
    synth.udp(t, s, c, rest);

    // The client finishes the handshake and sends its HTTP/3 request.
    t = plus(t, synth.rng.micros(800, 2_000));
    let hs = quic::opaque_long(&mut synth.rng, 2, &server_cid, &[], 80);
    synth.udp(t, c, s, hs);
    t = plus(t, synth.rng.micros(40, 120));
    let request = quic::opaque_short(&mut synth.rng, &server_cid, 310);
    synth.udp(t, c, s, request);

    // The answer in a few 1-RTT packets, and the client's ACK.
    t = plus(t, rtt);
    let lens = (0..answer_packets).map(|i| if i + 1 == answer_packets { 645 } else { 1_232 });
    for len in lens {
        let pkt = quic::opaque_short(&mut synth.rng, &scid, len);
        synth.udp(t, s, c, pkt);
        t = plus(t, synth.rng.micros(110, 160));
    }
    let ack = quic::opaque_short(&mut synth.rng, &server_cid, 45);
    let ack_at = plus(t, synth.rng.micros(200, 600));
    synth.udp(ack_at, c, s, ack);
    Ok(())
}
