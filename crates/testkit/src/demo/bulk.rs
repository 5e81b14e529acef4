//! Large deterministic captures for measuring telltale against its peers (`make bench`).
//!
//! [`server_mix`] is a media server's traffic: per flow a DNS lookup followed by a TLS
//! connection (with SNI), a plain HTTP request or a QUIC connection to a Plex, metadata or CDN
//! host, and a few long streaming flows (port 32400, to LAN and remote viewers) that carry
//! most of the packets. [`churn`] is the opposite: nearly every packet starts a new flow.
//!
//! Both reuse the demo's synthesizer and write in time windows ([`Synth::drain_before`]), so
//! a million packets take little memory. The same arguments give the same bytes. Addresses:
//! the LAN is 192.168.1.0/24 (and the demo server's fd00:1::10); the internet side uses only
//! the documentation ranges 192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24 and 2001:db8::/32.

use std::io::{BufWriter, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use super::payload::{self, Answer, ClientHello, DNS_TYPE_A, DNS_TYPE_AAAA, Rdata};
use super::scenario::{
    ROUTER_MAC, ROUTER4, ROUTER6, SERVER_MAC, SERVER4, SERVER6, START_SECS, quic_conversation,
};
use super::synth::{
    Frame, Lan, PcapNgOut, Segment, Side, SplitMix64, Synth, SynthError, TcpSession,
};
use telltale::decode::tcp_flags;
use telltale::time::Timestamp;

/// The application name recorded in the captures' Section Header Block.
pub const GENERATOR: &str = "telltale bench capture generator";

const SECOND: i64 = 1_000_000_000;
/// How much time a server mix covers.
const DURATION: i64 = 300 * SECOND;
/// The conversations start in the first 95% of it, so the end holds only streaming packets.
const CONVERSATION_SPAN: i64 = DURATION / 20 * 19;
/// The streams open in the first 5%.
const STREAM_OPENING_SPAN: i64 = DURATION / 20;
/// Generation and writing step: one second of capture time.
const WINDOW: i64 = SECOND;
/// The server's port for its clients (Plex).
const STREAM_PORT: u16 = 32_400;
/// One streamed piece: an HLS-like segment of MPEG-TS (174 TS packets).
const CHUNK: usize = 174 * 188;
/// The LAN clients that stream (192.168.1.20 upwards).
const LAN_CLIENTS: u8 = 32;

/// The home's public address as the server's plex.direct name spells it (192.0.2.44).
const PLEX_DIRECT_WAN: &str = "192-0-2-44.0123456789abcdef0123456789abcdef.plex.direct";
const PLEX_DIRECT_LAN: &str = "192-168-1-10.0123456789abcdef0123456789abcdef.plex.direct:32400";

/// Hosts a media server reaches over TLS.
const TLS_HOSTS: &[&str] = &[
    "plex.tv",
    "clients.plex.tv",
    "pubsub.plex.tv",
    "metadata.provider.plex.tv",
    "discover.provider.plex.tv",
    "vod.provider.plex.tv",
    "epg.provider.plex.tv",
    "community.plex.tv",
    "analytics.plex.tv",
    "metrics.plex.tv",
    "sonos.plex.tv",
    "downloads.plex.tv",
    "api.themoviedb.org",
    "image.tmdb.org",
    "api.internetvideoarchive.com",
    "webservice.fanart.tv",
    "assets.fanart.tv",
    "musicbrainz.org",
    "coverartarchive.org",
    "api.opensubtitles.com",
    "api4.thetvdb.com",
    "artworks.thetvdb.com",
];

/// Hosts reached over plain HTTP: OCSP responders and theme music.
const HTTP_HOSTS: &[&str] = &[
    "ocsp.digicert.com",
    "r10.o.lencr.org",
    "ocsp.sectigo.com",
    "tvthemes.plexapp.com",
];

/// Hosts reached over QUIC (HTTP/3).
const QUIC_HOSTS: &[&str] = &[
    "plex.tv",
    "clients.plex.tv",
    "image.tmdb.org",
    "api.themoviedb.org",
    "assets.fanart.tv",
];

fn to_io(e: std::io::Error) -> SynthError {
    SynthError::Pcap(e.to_string())
}

fn plus(ts: Timestamp, ns: i64) -> Timestamp {
    Timestamp(ts.0.saturating_add(ns))
}

/// The LAN: the server, the router and the streaming clients.
fn bench_lan() -> Lan {
    let mut hosts = vec![
        (IpAddr::V4(SERVER4), SERVER_MAC),
        (IpAddr::V6(SERVER6), SERVER_MAC),
        (IpAddr::V4(ROUTER4), ROUTER_MAC),
        (IpAddr::V6(ROUTER6), ROUTER_MAC),
    ];
    for k in 0..LAN_CLIENTS {
        hosts.push((
            IpAddr::V4(Ipv4Addr::new(192, 168, 1, 20 + k)),
            [0x02, 0, 0, 0, 1, k],
        ));
    }
    Lan {
        router_mac: ROUTER_MAC,
        hosts,
    }
}

/// FNV-1a: a host name's stable address.
fn fnv(name: &str) -> u64 {
    name.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// The address DNS gives `host`, in 198.51.100.0/24 or 203.0.113.0/24 (or 2001:db8::/32).
fn remote_of(host: &str, v6: bool) -> IpAddr {
    let h = fnv(host);
    let low = (h % 250) as u8 + 1;
    if v6 {
        let a = ((h >> 16) & 0xffff) as u16;
        let b = ((h >> 32) & 0xffff) as u16;
        IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, a, 0, 0, 0, b, u16::from(low)))
    } else if (h >> 8) & 1 == 0 {
        IpAddr::V4(Ipv4Addr::new(198, 51, 100, low))
    } else {
        IpAddr::V4(Ipv4Addr::new(203, 0, 113, low))
    }
}

fn pick(rng: &mut SplitMix64, list: &[&'static str]) -> &'static str {
    let i = rng.between(0, list.len() as u64) as usize;
    list.get(i).copied().unwrap_or("plex.tv")
}

fn port(n: u64) -> u16 {
    u16::try_from(n).unwrap_or(u16::MAX)
}

/// Frames on their way to the pcapng: at most `limit` are written, the rest only counted.
struct Sink<W: Write> {
    out: PcapNgOut<BufWriter<W>>,
    limit: u64,
    drained: u64,
}

impl<W: Write> Sink<W> {
    fn new(out: W, limit: u64) -> Result<Self, SynthError> {
        let out = PcapNgOut::new(BufWriter::with_capacity(1 << 20, out), GENERATOR)?;
        Ok(Sink {
            out,
            limit,
            drained: 0,
        })
    }

    fn take(&mut self, frames: Vec<Frame>) -> Result<(), SynthError> {
        for f in &frames {
            if self.drained < self.limit {
                self.out.write(f)?;
            }
            self.drained = self.drained.saturating_add(1);
        }
        Ok(())
    }

    fn finish(self) -> Result<(), SynthError> {
        self.out.into_inner().flush().map_err(to_io)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Tls,
    Http,
    Quic,
}

/// One short conversation: the server's DNS lookup, then its TLS, HTTP or QUIC connection.
fn conversation(
    synth: &mut Synth,
    plan: &mut SplitMix64,
    index: u64,
    at: Timestamp,
) -> Result<(), SynthError> {
    let roll = plan.between(0, 100);
    let (kind, host) = if roll < 60 {
        (Kind::Tls, pick(plan, TLS_HOSTS))
    } else if roll < 75 {
        (Kind::Http, pick(plan, HTTP_HOSTS))
    } else {
        (Kind::Quic, pick(plan, QUIC_HOSTS))
    };
    let v6 = kind != Kind::Http && plan.between(0, 100) < 20;
    let remote = remote_of(host, v6);
    let base = 32_768 + (index.wrapping_mul(2) % 28_000);
    let resolver = SocketAddr::new(IpAddr::V4(ROUTER4), 53);
    let dns_client = SocketAddr::new(IpAddr::V4(SERVER4), port(base));
    let local = if v6 {
        IpAddr::V6(SERVER6)
    } else {
        IpAddr::V4(SERVER4)
    };
    let client = SocketAddr::new(local, port(base + 1));
    let server = SocketAddr::new(remote, if kind == Kind::Http { 80 } else { 443 });

    let delay = synth.rng.micros(1_000, 25_000);
    let lead = delay.saturating_add(synth.rng.micros(100, 3_000));
    let id = synth.rng.next_u32() as u16;
    let qtype = if v6 { DNS_TYPE_AAAA } else { DNS_TYPE_A };
    let answers = [Answer {
        name: host.to_string(),
        ttl: 60 + synth.rng.between(0, 3_540) as u32,
        data: Rdata::Addr(remote),
    }];
    synth.udp_exchange(
        plus(at, -lead),
        dns_client,
        resolver,
        payload::dns_query(id, host, qtype),
        payload::dns_response(id, host, qtype, &answers),
        delay,
    );

    let rtt = synth.rng.micros(12_000, 90_000);
    match kind {
        Kind::Tls => tls_conversation(synth, at, client, server, host, rtt),
        Kind::Http => http_conversation(synth, at, client, server, host, rtt),
        Kind::Quic => {
            let answer_packets = synth.rng.between(3, 11) as usize;
            quic_conversation(synth, at, client, server, host, rtt, answer_packets)?;
        }
    }
    Ok(())
}

/// The TLS handshake (ClientHello with `sni`), then the given exchanges of opaque records.
fn tls_handshake(synth: &mut Synth, s: &mut TcpSession, sni: &str, alpn: &[&str]) {
    let hello = ClientHello::new(&mut synth.rng, Some(sni), alpn);
    s.send(synth, Side::Client, &hello.record());
    let cert = synth.rng.between(2_800, 4_600) as usize;
    let flight = payload::server_flight(&mut synth.rng, &hello, cert);
    s.send(synth, Side::Server, &flight);
    let fin = payload::client_finished(&mut synth.rng);
    s.send(synth, Side::Client, &fin);
}

fn tls_conversation(
    synth: &mut Synth,
    at: Timestamp,
    client: SocketAddr,
    server: SocketAddr,
    host: &str,
    rtt: i64,
) {
    let mut s = synth.tcp_open(at, client, server, rtt);
    tls_handshake(synth, &mut s, host, &["h2", "http/1.1"]);
    let rounds = synth.rng.between(1, 4);
    for _ in 0..rounds {
        s.wait(synth.rng.micros(5_000, 150_000));
        let up_len = synth.rng.between(200, 1_200) as usize;
        let up = payload::app_data(&mut synth.rng, up_len);
        s.send(synth, Side::Client, &up);
        let down_len = synth.rng.between(500, 24_000) as usize;
        let down = payload::app_data(&mut synth.rng, down_len);
        s.send(synth, Side::Server, &down);
    }
    s.close(synth);
}

fn http_conversation(
    synth: &mut Synth,
    at: Timestamp,
    client: SocketAddr,
    server: SocketAddr,
    host: &str,
    rtt: i64,
) {
    let (path, content_type, body) = if host.starts_with("tvthemes.") {
        let show = 70_000 + synth.rng.between(0, 300_000);
        let len = synth.rng.between(4_000, 40_000) as usize;
        (
            format!("/{show}.mp3"),
            "audio/mpeg",
            payload::mp3_bytes(&mut synth.rng, len),
        )
    } else {
        let id = payload::ocsp::CertId::random(&mut synth.rng);
        let body =
            payload::ocsp::response(&mut synth.rng, &id, "20261107184213Z", "20261114175713Z");
        (
            payload::ocsp::get_path(&id),
            "application/ocsp-response",
            body,
        )
    };
    let request = payload::http_request(
        "GET",
        &path,
        host,
        &[
            ("User-Agent", "PlexMediaServer/1.41.2.9200"),
            ("Accept", "*/*"),
        ],
        b"",
    );
    let response = payload::http_response(
        200,
        "OK",
        &[
            ("Content-Type", content_type),
            ("Date", "Sat, 07 Nov 2026 20:00:00 GMT"),
        ],
        &body,
    );
    let mut s = synth.tcp_open(at, client, server, rtt);
    s.send(synth, Side::Client, &request);
    s.wait(synth.rng.micros(500, 4_000));
    s.send(synth, Side::Server, &response);
    s.close(synth);
}

/// One long streaming flow: a viewer on the LAN (plain HTTP) or on the internet (TLS to the
/// server's plex.direct name) fetching MPEG-TS segments from port 32400.
struct Stream {
    index: u32,
    open_at: Timestamp,
    client: SocketAddr,
    server: SocketAddr,
    tls: bool,
    rtt: i64,
    session: Option<TcpSession>,
    segment: u32,
    ts_packets: usize,
}

impl Stream {
    fn planned(index: u32, count: u32, start: Timestamp, plan: &mut SplitMix64) -> Stream {
        let spread = STREAM_OPENING_SPAN / i64::from(count.max(1));
        let open_at = plus(
            start,
            spread
                .saturating_mul(i64::from(index))
                .saturating_add(plan.micros(0, 500_000)),
        );
        let k = u64::from(index);
        let (client, server, tls, rtt) = if index.is_multiple_of(2) {
            let host = 20 + ((k / 2) % u64::from(LAN_CLIENTS)) as u8;
            let client = SocketAddr::new(
                IpAddr::V4(Ipv4Addr::new(192, 168, 1, host)),
                port(49_152 + (k % 16_000)),
            );
            let server = SocketAddr::new(IpAddr::V4(SERVER4), STREAM_PORT);
            (client, server, false, plan.micros(250, 700))
        } else if index % 4 == 1 {
            let third = if (k / 4).is_multiple_of(2) { 100 } else { 113 };
            let first = if third == 100 { 198 } else { 203 };
            let second = if third == 100 { 51 } else { 0 };
            let client = SocketAddr::new(
                IpAddr::V4(Ipv4Addr::new(first, second, third, 10 + (k % 240) as u8)),
                port(50_000 + (k % 15_000)),
            );
            let server = SocketAddr::new(IpAddr::V4(SERVER4), STREAM_PORT);
            (client, server, true, plan.micros(20_000, 90_000))
        } else {
            let client = SocketAddr::new(
                IpAddr::V6(Ipv6Addr::new(
                    0x2001,
                    0xdb8,
                    0x4c,
                    0,
                    0,
                    0,
                    0,
                    (k % 65_000) as u16 + 1,
                )),
                port(50_000 + (k % 15_000)),
            );
            let server = SocketAddr::new(IpAddr::V6(SERVER6), STREAM_PORT);
            (client, server, true, plan.micros(20_000, 90_000))
        };
        Stream {
            index,
            open_at,
            client,
            server,
            tls,
            rtt,
            session: None,
            segment: 0,
            ts_packets: 0,
        }
    }

    /// Whether the stream has started by `until`.
    fn open_by(&self, until: Timestamp) -> bool {
        self.open_at < until
    }

    /// Streams segments until the stream reaches `until` or has sent `quota` packets (at
    /// least one segment when `quota` is not zero), then idles to `until`.
    fn advance(&mut self, synth: &mut Synth, until: Timestamp, quota: u64) {
        if self.session.is_none() {
            if self.open_at >= until {
                return;
            }
            let mut s = synth.tcp_open(self.open_at, self.client, self.server, self.rtt);
            if self.tls {
                tls_handshake(synth, &mut s, PLEX_DIRECT_WAN, &["http/1.1"]);
            }
            self.session = Some(s);
        }
        let Some(mut s) = self.session.take() else {
            return;
        };
        let mut sent = 0u64;
        while s.now() < until && sent < quota {
            let before = synth.len();
            self.segment_of(synth, &mut s);
            sent = sent.saturating_add(synth.len().saturating_sub(before) as u64);
        }
        if s.now() < until {
            let rest = until.0.saturating_sub(s.now().0);
            s.wait(rest.saturating_add(synth.rng.micros(0, 200_000)));
        }
        self.session = Some(s);
    }

    /// One segment: the viewer's request, the server's answer.
    fn segment_of(&mut self, synth: &mut Synth, s: &mut TcpSession) {
        let n = self.segment;
        self.segment = self.segment.wrapping_add(1);
        if self.tls {
            let up_len = synth.rng.between(420, 700) as usize;
            let up = payload::app_data(&mut synth.rng, up_len);
            s.send(synth, Side::Client, &up);
            s.wait(synth.rng.micros(300, 3_000));
            let down = payload::app_data(&mut synth.rng, CHUNK);
            s.send(synth, Side::Server, &down);
        } else {
            let path = format!(
                "/video/:/transcode/universal/session/bench-{:04}/base/{n:05}.ts",
                self.index
            );
            let request = payload::http_request(
                "GET",
                &path,
                PLEX_DIRECT_LAN,
                &[
                    ("User-Agent", "PlexMediaPlayer/2.58 (Smart TV)"),
                    ("Accept", "*/*"),
                ],
                b"",
            );
            s.send(synth, Side::Client, &request);
            s.wait(synth.rng.micros(300, 3_000));
            let body = payload::mpeg_ts_bytes(&mut synth.rng, CHUNK, self.ts_packets);
            self.ts_packets = self.ts_packets.wrapping_add(CHUNK / 188);
            let response = payload::http_response(
                200,
                "OK",
                &[("Content-Type", "video/mp2t"), ("Connection", "keep-alive")],
                &body,
            );
            s.send(synth, Side::Server, &response);
        }
    }

    fn close(self, synth: &mut Synth) {
        if let Some(s) = self.session {
            s.close(synth);
        }
    }
}

/// Writes a media server's traffic as pcapng: `flows` flows (as a flow table counts them:
/// each short conversation is its DNS lookup and its connection, each stream one flow) and
/// exactly `packets` packets, the streams carrying whatever the conversations leave.
pub fn server_mix(packets: u64, flows: u32, seed: u64, out: impl Write) -> Result<(), SynthError> {
    let streams = if flows >= 4 {
        (flows / 200).max(2)
    } else {
        flows.min(1)
    };
    let conversations = u64::from(flows.saturating_sub(streams) / 2);
    let mut plan = SplitMix64::new(seed ^ 0x5eed_b01c_0000_0001);
    let mut synth = Synth::new(bench_lan(), seed);
    let mut sink = Sink::new(out, packets)?;
    let start = Timestamp::from_secs_nanos(START_SECS, 0);
    let end = plus(start, DURATION);
    let mut stream_list: Vec<Stream> = (0..streams)
        .map(|k| Stream::planned(k, streams, start, &mut plan))
        .collect();

    let mut next = 0u64;
    let mut short_packets = 0u64;
    let mut w0 = start;
    loop {
        let w1 = plus(w0, WINDOW);
        while next < conversations {
            let offset =
                i128::from(CONVERSATION_SPAN) * i128::from(next) / i128::from(conversations.max(1));
            let at = plus(start, i64::try_from(offset).unwrap_or(CONVERSATION_SPAN));
            if at >= w1 {
                break;
            }
            let before = synth.len();
            conversation(&mut synth, &mut plan, next, at)?;
            short_packets = short_packets.saturating_add(synth.len().saturating_sub(before) as u64);
            next += 1;
        }

        // The streams' share of this window: what is left once the conversations still to
        // come (at their average so far) and the streams' teardowns are set aside.
        let produced = sink.drained.saturating_add(synth.len() as u64);
        let left = conversations.saturating_sub(next);
        let average = short_packets.checked_div(next).unwrap_or(24);
        let reserve = average
            .saturating_mul(left)
            .saturating_add(3 * u64::from(streams));
        let budget = packets.saturating_sub(produced).saturating_sub(reserve);
        let windows_left = if w1 < end {
            u64::try_from((end.0 - w1.0) / WINDOW).unwrap_or(0) + 1
        } else {
            1
        };
        let open = stream_list.iter().filter(|s| s.open_by(w1)).count() as u64;
        let quota = match budget / windows_left / open.max(1) {
            0 if budget > 0 => 1,
            q => q,
        };
        for s in &mut stream_list {
            s.advance(&mut synth, w1, quota);
        }
        sink.take(synth.drain_before(plus(w0, -SECOND))?)?;
        w0 = w1;

        let produced = sink.drained.saturating_add(synth.len() as u64);
        let full = produced.saturating_add(3 * u64::from(streams)) >= packets;
        if w0 >= end && next >= conversations && (full || streams == 0) {
            break;
        }
    }
    for s in stream_list {
        s.close(&mut synth);
    }
    sink.take(synth.finish()?)?;
    sink.finish()
}

/// Writes `packets` packets of churn as pcapng: every packet starts a flow of its own. Most
/// are SYNs to port 32400 from ever-new internet addresses and ports (IPv4 and IPv6, a scan
/// or a flood of would-be viewers); one in sixteen is a DNS answer to a new server port,
/// naming a new host. 20,000 packets a second.
pub fn churn(packets: u64, seed: u64, out: impl Write) -> Result<(), SynthError> {
    const BATCH: u64 = 20_000;
    let mut synth = Synth::new(bench_lan(), seed);
    let mut sink = Sink::new(out, packets)?;
    let mut t = Timestamp::from_secs_nanos(START_SECS, 0);
    let server4 = SocketAddr::new(IpAddr::V4(SERVER4), STREAM_PORT);
    let server6 = SocketAddr::new(IpAddr::V6(SERVER6), STREAM_PORT);
    let (mut syns4, mut syns6, mut answers) = (0u64, 0u64, 0u64);
    for i in 0..packets {
        t = plus(t, synth.rng.micros(20, 80));
        if i % 16 == 15 {
            let k = answers;
            answers += 1;
            let name = format!("c{k:x}.example.net");
            let (resolver, client, addr) = if k.is_multiple_of(2) {
                (
                    SocketAddr::new(IpAddr::V4(ROUTER4), 53),
                    SocketAddr::new(IpAddr::V4(SERVER4), port(10_000 + (k / 2) % 55_000)),
                    IpAddr::V4(Ipv4Addr::new(203, 0, 113, (k % 250) as u8 + 1)),
                )
            } else {
                (
                    SocketAddr::new(IpAddr::V6(ROUTER6), 53),
                    SocketAddr::new(IpAddr::V6(SERVER6), port(10_000 + (k / 2) % 55_000)),
                    IpAddr::V6(Ipv6Addr::new(
                        0x2001,
                        0xdb8,
                        0xc,
                        (k >> 16) as u16,
                        0,
                        0,
                        0,
                        k as u16,
                    )),
                )
            };
            let qtype = if addr.is_ipv4() {
                DNS_TYPE_A
            } else {
                DNS_TYPE_AAAA
            };
            let answer = [Answer {
                name: name.clone(),
                ttl: 300,
                data: Rdata::Addr(addr),
            }];
            let id = synth.rng.next_u32() as u16;
            let msg = payload::dns_response(id, &name, qtype, &answer);
            synth.udp(t, resolver, client, msg);
        } else {
            let (src, dst) = if i.is_multiple_of(2) {
                let k = syns4;
                syns4 += 1;
                let host = k % 762;
                let (a, b, c) = match host / 254 {
                    0 => (192, 0, 2),
                    1 => (198, 51, 100),
                    _ => (203, 0, 113),
                };
                let ip = Ipv4Addr::new(a, b, c, (host % 254) as u8 + 1);
                (
                    SocketAddr::new(IpAddr::V4(ip), port(1_024 + (k / 762) % 64_000)),
                    server4,
                )
            } else {
                let k = syns6;
                syns6 += 1;
                let ip = Ipv6Addr::new(0x2001, 0xdb8, 0xf, (k >> 16) as u16, 0, 0, 0, k as u16);
                (
                    SocketAddr::new(IpAddr::V6(ip), port(1_024 + synth.rng.between(0, 64_000))),
                    server6,
                )
            };
            let seq = synth.rng.next_u32();
            let segment = Segment::Tcp {
                seq,
                ack: 0,
                flags: tcp_flags::SYN,
                window: 64_240,
            };
            synth.push(t, src, dst, segment, Vec::new());
        }
        if i % BATCH == BATCH - 1 {
            sink.take(synth.drain_before(plus(t, 1))?)?;
        }
    }
    sink.take(synth.finish()?)?;
    sink.finish()
}

/// Writes hours `from_hour..to_hour` of a media server's day as pcapng: `per_hour` short
/// conversations an hour, evenly spread (each a DNS lookup and its TLS, HTTP or QUIC
/// connection, to the Plex, metadata, OCSP and CDN hosts of [`server_mix`]; about one in twenty
/// to a telemetry host that an opted-out owner's audit flags). Hours are counted from the
/// capture's start, so two calls (`0..1`, then `1..24`) write a day in two files. Returns the
/// packets written.
pub fn server_hours(
    from_hour: u32,
    to_hour: u32,
    per_hour: u32,
    seed: u64,
    out: impl Write,
) -> Result<u64, SynthError> {
    let mut plan = SplitMix64::new(seed ^ 0x5eed_da70_0000_0001 ^ u64::from(from_hour));
    let mut synth = Synth::new(bench_lan(), seed ^ u64::from(from_hour));
    let mut sink = Sink::new(out, u64::MAX)?;
    let start = Timestamp::from_secs_nanos(START_SECS, 0);
    let per_hour = per_hour.max(1);
    let gap = 3_600 * SECOND / i64::from(per_hour);
    let first = u64::from(from_hour) * u64::from(per_hour);
    let last = u64::from(to_hour) * u64::from(per_hour);
    for i in first..last {
        let at = plus(
            start,
            gap.saturating_mul(i64::try_from(i).unwrap_or(i64::MAX)) + SECOND,
        );
        conversation(&mut synth, &mut plan, i, at)?;
        if i % 64 == 63 {
            sink.take(synth.drain_before(plus(at, -60 * SECOND))?)?;
        }
    }
    sink.take(synth.finish()?)?;
    let written = sink.drained;
    sink.finish()?;
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;
    use telltale::audit::{AuditConfig, AuditSpec, audit_readers};
    use telltale::capture::file::CaptureReader;
    use telltale::names::NameSource;
    use telltale::pipeline::Caps;
    use telltale::report::Report;

    fn audit(bytes: Vec<u8>) -> Report {
        let config = AuditConfig::new(&AuditSpec::builtin(
            "plex",
            telltale::config::choices::OptOutChoice::On,
        ))
        .expect("plex rules");
        let reader = CaptureReader::from_reader("bulk", Box::new(std::io::Cursor::new(bytes)))
            .expect("readable capture");
        audit_readers(vec![reader], &config, Caps::default())
    }

    #[test]
    fn server_mix_has_the_packets_flows_and_names_asked_for() {
        let mut bytes = Vec::new();
        server_mix(20_000, 200, 7, &mut bytes).expect("generated");
        let report = audit(bytes.clone());
        assert_eq!(report.counters.packets, 20_000);
        assert_eq!(report.counters.decoded, 20_000);
        let flows = report.counters.flows;
        assert!((180..=220).contains(&flows), "{flows} flows");
        let has = |source: NameSource, name: &str| {
            report
                .names
                .iter()
                .any(|n| n.source == source && n.name == name)
        };
        assert!(has(NameSource::TlsSni, PLEX_DIRECT_WAN));
        assert!(report.names.iter().any(|n| n.source == NameSource::QuicSni));
        assert!(
            report
                .names
                .iter()
                .any(|n| n.source == NameSource::HttpHost)
        );
        assert!(
            report
                .names
                .iter()
                .any(|n| n.source == NameSource::DnsAnswer)
        );
        assert!(report.counters.tls_client_hellos > 50);
        // The same seed gives the same bytes.
        let mut again = Vec::new();
        server_mix(20_000, 200, 7, &mut again).expect("generated");
        assert!(again == bytes);
    }

    #[test]
    fn churn_starts_a_flow_with_nearly_every_packet() {
        let mut bytes = Vec::new();
        churn(5_000, 3, &mut bytes).expect("generated");
        let report = audit(bytes);
        assert_eq!(report.counters.packets, 5_000);
        assert_eq!(report.counters.decoded, 5_000);
        assert!(report.counters.flows >= 4_900, "{}", report.counters.flows);
        assert!(report.counters.dns_responses >= 300);
    }
}
