//! Component benchmarks (criterion): each group measures one telltale component and a
//! peer doing the nearest comparable work on the same input, in the same run, so that
//! the ratio between the two means something on whatever machine runs it.
//!
//! - `decode`: telltale's `Decoder` over every frame of tests/fixtures/demo.pcapng, against
//!   etherparse's `SlicedPacket::from_ethernet` alone;
//! - `dns`: telltale's DNS parse and address extraction, against `simple-dns`'s parse;
//! - `tls`: telltale's ClientHello scan (SNI, ALPN, ECH), against tls-parser's raw
//!   `parse_tls_plaintext`;
//! - `http`: telltale's request-head scan (Host, User-Agent), against a raw
//!   `httparse::Request::parse`;
//! - `quic`: one client Initial taken from nothing to its ClientHello (keys derived, header
//!   protection removed, decrypted, CRYPTO frames read), against one AES-128-GCM open of
//!   the same size with ring;
//! - `flows_update` and `flows_update_many`: packets of 4,096 (32,768: more than the L2 cache
//!   holds) existing flows through the flow table, against a std
//!   `HashMap` keyed by protocol and ordered endpoints;
//! - `flows_churn`: a new flow per packet in a table held at its cap (evicting the
//!   longest-idle eighth when full), against a std `HashMap` with the same cap and policy;
//! - `rules`: matching names against the compiled built-in Plex rules, against a linear
//!   scan of every rule's patterns.
//!
//! Every group counts elements (packets, messages, names), so criterion prints
//! throughput. At the end the bench prints a table of both sides' throughput and
//! their ratio, read back from criterion's estimates (docs/performance.md).
//!
//! Run: `cargo bench --bench components` (about a minute). Without `--bench` (as when
//! `cargo test --benches` runs it) criterion runs each routine once, as a test.

// Test helpers: a failed assumption here is a failed test (clippy allows these in #[test]
// functions, not in the helpers they call).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, Criterion, Throughput};
use std::collections::HashMap;
use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};
use telltale::capture::file::CaptureReader;
use telltale::capture::{LinkType, RawPacket};
use telltale::decode::{Decoded, Decoder, Transport, tcp_flags};
use telltale::dissect::quic::{QuicEvent, QuicFlow};
use telltale::dissect::{dns, http, tls};
use telltale::flows::Proto;
use telltale::flows::table::{FlowTable, Limits, PacketMeta};
use telltale::rules::{Direction, MatchInput, Matcher, Rules, load};
use telltale::time::Timestamp;

/// One captured frame, owned.
struct Frame {
    ts: Timestamp,
    link: LinkType,
    data: Vec<u8>,
    orig_len: u32,
}

impl Frame {
    fn raw(&self) -> RawPacket<'_> {
        RawPacket {
            ts: self.ts,
            link: self.link,
            data: &self.data,
            orig_len: self.orig_len,
            interface: 0,
        }
    }
}

fn demo_frames() -> Vec<Frame> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/demo.pcapng");
    let mut reader = CaptureReader::open(&path).expect("tests/fixtures/demo.pcapng");
    let mut frames = Vec::new();
    while let Some(p) = reader.next_packet() {
        frames.push(Frame {
            ts: p.ts,
            link: p.link,
            data: p.data.to_vec(),
            orig_len: p.orig_len,
        });
    }
    frames
}

/// The application payloads the dissectors read, taken from the demo capture's frames.
#[derive(Default)]
struct Payloads {
    /// DNS responses (UDP from port 53).
    dns: Vec<Vec<u8>>,
    /// First client segments to port 443 that hold a whole ClientHello.
    tls: Vec<Vec<u8>>,
    /// Client segments that hold a whole HTTP request head.
    http: Vec<Vec<u8>>,
    /// QUIC client Initials that hold a whole ClientHello.
    quic: Vec<Vec<u8>>,
}

fn payloads(frames: &[Frame]) -> Payloads {
    let mut out = Payloads::default();
    let mut d = Decoder::new();
    for f in frames {
        let Ok(Decoded::Ip(ip)) = d.decode(&f.raw()) else {
            continue;
        };
        let payload = ip.payload;
        let owned = || payload.to_vec();
        match ip.transport {
            Transport::Udp { src_port: 53, .. }
                if dns::parse_message(payload)
                    .is_ok_and(|m| !dns::address_names(&m).is_empty()) =>
            {
                out.dns.push(owned());
            }
            Transport::Udp { dst_port: 443, .. }
                if matches!(
                    QuicFlow::new(16).on_client(payload),
                    QuicEvent::ClientHello(_)
                ) =>
            {
                out.quic.push(owned());
            }
            Transport::Tcp(t)
                if t.dst_port == 443
                    && matches!(
                        tls::scan_client_stream(payload),
                        tls::TlsScan::ClientHello(_)
                    ) =>
            {
                out.tls.push(owned());
            }
            Transport::Tcp(_)
                if matches!(http::scan_request(payload), http::HttpScan::Request(_)) =>
            {
                out.http.push(owned());
            }
            _ => {}
        }
    }
    out
}

/// A group with short timings, so the whole bench takes about a minute.
fn group<'a>(c: &'a mut Criterion, name: &str, elements: usize) -> BenchmarkGroup<'a, WallTime> {
    let mut g = c.benchmark_group(name);
    g.sample_size(20)
        .warm_up_time(Duration::from_millis(400))
        .measurement_time(Duration::from_millis(1500))
        .nresamples(10_000)
        .throughput(Throughput::Elements(elements as u64));
    g
}

fn bench_decode(c: &mut Criterion, frames: &[Frame]) {
    let ethernet: Vec<&Frame> = frames
        .iter()
        .filter(|f| f.link == LinkType::ETHERNET)
        .collect();
    assert!(ethernet.len() > 1000, "the demo capture's Ethernet frames");
    let mut g = group(c, "decode", ethernet.len());
    let mut decoder = Decoder::new();
    g.bench_function("telltale", |b| {
        b.iter(|| {
            let mut n = 0usize;
            for f in &ethernet {
                if let Ok(Decoded::Ip(ip)) = decoder.decode(&f.raw()) {
                    n += ip.payload.len();
                }
            }
            black_box(n)
        })
    });
    g.bench_function("etherparse", |b| {
        b.iter(|| {
            let mut n = 0usize;
            for f in &ethernet {
                if let Ok(p) = etherparse::SlicedPacket::from_ethernet(&f.data) {
                    n += match p.transport {
                        Some(etherparse::TransportSlice::Udp(u)) => u.payload().len(),
                        Some(etherparse::TransportSlice::Tcp(t)) => t.payload().len(),
                        _ => 0,
                    };
                }
            }
            black_box(n)
        })
    });
    g.finish();
}

fn bench_dns(c: &mut Criterion, msgs: &[Vec<u8>]) {
    assert!(!msgs.is_empty(), "the demo capture's DNS answers");
    let mut g = group(c, "dns", msgs.len());
    g.bench_function("telltale", |b| {
        b.iter(|| {
            let mut n = 0usize;
            for m in msgs {
                if let Ok(msg) = dns::parse_message(m) {
                    n += dns::address_names(&msg).len();
                }
            }
            black_box(n)
        })
    });
    g.bench_function("simple-dns", |b| {
        b.iter(|| {
            let mut n = 0usize;
            for m in msgs {
                if let Ok(p) = simple_dns::Packet::parse(m) {
                    n += p
                        .answers
                        .iter()
                        .filter(|r| {
                            matches!(
                                r.rdata,
                                simple_dns::rdata::RData::A(_) | simple_dns::rdata::RData::AAAA(_)
                            )
                        })
                        .count();
                }
            }
            black_box(n)
        })
    });
    g.finish();
}

fn bench_tls(c: &mut Criterion, hellos: &[Vec<u8>]) {
    assert!(!hellos.is_empty(), "the demo capture's ClientHellos");
    let mut g = group(c, "tls", hellos.len());
    g.bench_function("telltale", |b| {
        b.iter(|| {
            let mut n = 0usize;
            for h in hellos {
                if let tls::TlsScan::ClientHello(ch) = tls::scan_client_stream(h) {
                    n += ch.sni.map_or(0, |s| s.len());
                }
            }
            black_box(n)
        })
    });
    g.bench_function("tls-parser", |b| {
        b.iter(|| {
            let mut n = 0usize;
            for h in hellos {
                if let Ok((_, record)) = tls_parser::parse_tls_plaintext(h) {
                    n += record.msg.len();
                }
            }
            black_box(n)
        })
    });
    g.finish();
}

fn bench_http(c: &mut Criterion, heads: &[Vec<u8>]) {
    assert!(!heads.is_empty(), "the demo capture's HTTP requests");
    let mut g = group(c, "http", heads.len());
    g.bench_function("telltale", |b| {
        b.iter(|| {
            let mut n = 0usize;
            for h in heads {
                if let http::HttpScan::Request(r) = http::scan_request(h) {
                    n += r.host.map_or(0, |s| s.len());
                }
            }
            black_box(n)
        })
    });
    g.bench_function("httparse", |b| {
        b.iter(|| {
            let mut n = 0usize;
            for h in heads {
                let mut headers = [httparse::EMPTY_HEADER; 64];
                let mut req = httparse::Request::new(&mut headers);
                if let Ok(httparse::Status::Complete(len)) = req.parse(h) {
                    n += len;
                }
            }
            black_box(n)
        })
    });
    g.finish();
}

fn bench_quic(c: &mut Criterion, initials: &[Vec<u8>]) {
    use ring::aead::{AES_128_GCM, Aad, LessSafeKey, Nonce, UnboundKey};
    assert!(!initials.is_empty(), "the demo capture's QUIC Initials");
    let mut g = group(c, "quic", initials.len());
    g.bench_function("telltale", |b| {
        b.iter(|| {
            let mut n = 0usize;
            for i in initials {
                // a flow of its own per Initial: its keys come from its own connection ID
                if let QuicEvent::ClientHello(ch) = QuicFlow::new(16).on_client(i) {
                    n += ch.sni.map_or(0, |s| s.len());
                }
            }
            black_box(n)
        })
    });
    // The peer: one AES-128-GCM open of as many bytes as each Initial carries, with a
    // key set up once (no key derivation, no header protection, no frames).
    let key = LessSafeKey::new(UnboundKey::new(&AES_128_GCM, &[7u8; 16]).expect("key"));
    let nonce = [9u8; 12];
    let sealed: Vec<Vec<u8>> = initials
        .iter()
        .map(|i| {
            let mut buf = vec![0x5au8; i.len().saturating_sub(16)];
            key.seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(&[1u8; 20]),
                &mut buf,
            )
            .expect("seal");
            buf
        })
        .collect();
    let mut work: Vec<Vec<u8>> = sealed.clone();
    g.bench_function("ring-aes128gcm", |b| {
        b.iter(|| {
            let mut n = 0usize;
            for (w, s) in work.iter_mut().zip(&sealed) {
                w.copy_from_slice(s);
                if let Ok(plain) = key.open_in_place(
                    Nonce::assume_unique_for_key(nonce),
                    Aad::from(&[1u8; 20]),
                    w,
                ) {
                    n += plain.len();
                }
            }
            black_box(n)
        })
    });
    g.finish();
}

/// The peer's flow key: protocol and the two endpoints in order, as a plain tuple.
type PeerKey = (u8, SocketAddr, SocketAddr);

fn peer_key(proto: Proto, src: SocketAddr, dst: SocketAddr) -> PeerKey {
    let p = match proto {
        Proto::Tcp => 6,
        Proto::Udp => 17,
        Proto::Ip(n) => n,
    };
    if src <= dst {
        (p, src, dst)
    } else {
        (p, dst, src)
    }
}

/// The peer's flow: who started it, packets and bytes each way, when it was last seen.
#[derive(Clone, Copy)]
struct PeerFlow {
    client: SocketAddr,
    up: (u64, u64),
    down: (u64, u64),
    last_seen: i64,
}

impl PeerFlow {
    fn new(p: &PacketMeta) -> PeerFlow {
        PeerFlow {
            client: p.src,
            up: (0, 0),
            down: (0, 0),
            last_seen: p.ts.0,
        }
    }

    fn add(&mut self, p: &PacketMeta) {
        let side = if p.src == self.client {
            &mut self.up
        } else {
            &mut self.down
        };
        side.0 += 1;
        side.1 += u64::from(p.ip_len);
        self.last_seen = self.last_seen.max(p.ts.0);
    }
}

const FLOW_BATCH: usize = 10_000;
const LIVE_FLOWS: u32 = 4_096;
const CHURN_CAP: usize = 65_536;

/// Flows held in `flows_update_many`: more than fit in this machine's L2 cache.
const MANY_FLOWS: u32 = 32_768;

/// Packet `i` of the steady mix over `live` flows: flow `i % live`, alternately up and down.
fn steady_packet(i: u64, live: u32) -> PacketMeta {
    let flow = (i % u64::from(live)) as u32;
    let lan = SocketAddr::new(
        IpAddr::V4(Ipv4Addr::new(192, 168, 1, 10 + (flow / 40_000) as u8)),
        20_000 + (flow % 40_000) as u16,
    );
    let remote = SocketAddr::new(
        IpAddr::V4(Ipv4Addr::new(203, 0, 113, (flow % 250) as u8 + 1)),
        443,
    );
    let up = (i / u64::from(live)).is_multiple_of(2);
    let first = i < u64::from(live);
    let (src, dst) = if up || first {
        (lan, remote)
    } else {
        (remote, lan)
    };
    PacketMeta {
        ts: Timestamp(1_794_081_600_000_000_000 + i as i64 * 20_000),
        proto: Proto::Tcp,
        src,
        dst,
        tcp_flags: if first {
            tcp_flags::SYN
        } else {
            tcp_flags::ACK
        },
        tcp_seq: (i as u32).wrapping_mul(1_448),
        ip_len: 1_500,
        payload_len: 1_448,
    }
}

/// Packet `i` of the churn: a SYN from a new internet endpoint each time.
fn churn_packet(i: u64) -> PacketMeta {
    let src = SocketAddr::new(
        IpAddr::V4(Ipv4Addr::new(198, 51, 100, (i % 256) as u8)),
        1_024 + ((i / 256) % 64_000) as u16,
    );
    let dst = SocketAddr::new(
        IpAddr::V4(Ipv4Addr::new(
            192,
            168,
            1,
            10 + ((i / 16_384_000) % 4) as u8,
        )),
        32_400,
    );
    PacketMeta {
        ts: Timestamp(1_794_081_600_000_000_000 + i as i64 * 50_000),
        proto: Proto::Tcp,
        src,
        dst,
        tcp_flags: tcp_flags::SYN,
        tcp_seq: i as u32,
        ip_len: 60,
        payload_len: 0,
    }
}

fn owner_networks() -> Vec<ipnet::IpNet> {
    vec!["192.168.1.0/24".parse().expect("net")]
}

/// Packets of `live` flows already held, through the table and through the peer.
fn bench_flows_update(c: &mut Criterion, name: &str, live: u32) {
    let mut g = group(c, name, FLOW_BATCH);
    let mut table: FlowTable<()> = FlowTable::new(Limits::default(), owner_networks());
    let mut i = 0u64;
    while i < u64::from(live) {
        table.track(&steady_packet(i, live));
        i += 1;
    }
    assert_eq!(table.len(), live as usize);
    g.bench_function("telltale", |b| {
        b.iter(|| {
            for _ in 0..FLOW_BATCH {
                let (flow, _, _, new) = table.track(&steady_packet(i, live));
                debug_assert!(!new);
                black_box(flow.up.packets);
                i += 1;
            }
        })
    });
    assert_eq!(table.len(), live as usize, "no flow was added or ended");

    // the peer holds every flow before it is timed, as the table does
    let mut peer: HashMap<PeerKey, PeerFlow> = HashMap::new();
    let mut j = 0u64;
    while j < u64::from(live) {
        let p = steady_packet(j, live);
        peer.insert(peer_key(p.proto, p.src, p.dst), PeerFlow::new(&p));
        j += 1;
    }
    g.bench_function("std-hashmap", |b| {
        b.iter(|| {
            for _ in 0..FLOW_BATCH {
                let p = steady_packet(j, live);
                let f = peer
                    .entry(peer_key(p.proto, p.src, p.dst))
                    .or_insert_with(|| PeerFlow::new(&p));
                f.add(&p);
                black_box(f.up.0);
                j += 1;
            }
        })
    });
    assert_eq!(peer.len(), live as usize);
    g.finish();
}

/// The peer's churn step: the same policy as the table (at the cap, the longest-idle
/// eighth goes in one batch), on a std `HashMap`.
fn peer_churn(peer: &mut HashMap<PeerKey, PeerFlow>, ended: &mut Vec<PeerFlow>, p: &PacketMeta) {
    let key = peer_key(p.proto, p.src, p.dst);
    if !peer.contains_key(&key) && peer.len() >= CHURN_CAP {
        let n = peer.len() / 8;
        let mut ages: Vec<i64> = peer.values().map(|f| f.last_seen).collect();
        let (_, &mut cut, _) = ages.select_nth_unstable(n);
        peer.retain(|_, f| {
            let keep = f.last_seen > cut;
            if !keep {
                ended.push(*f);
            }
            keep
        });
    }
    peer.entry(key).or_insert_with(|| PeerFlow::new(p)).add(p);
}

fn bench_flows_churn(c: &mut Criterion) {
    let mut g = group(c, "flows_churn", FLOW_BATCH);
    let limits = Limits {
        max_flows: CHURN_CAP,
        ..Limits::default()
    };
    // both sides start full, so that every batch measures churn at the cap
    let mut table: FlowTable<()> = FlowTable::new(limits, owner_networks());
    let mut peer: HashMap<PeerKey, PeerFlow> = HashMap::new();
    let mut ended: Vec<PeerFlow> = Vec::new();
    let mut i = 0u64;
    while i < CHURN_CAP as u64 {
        table.track(&churn_packet(i));
        peer_churn(&mut peer, &mut ended, &churn_packet(i));
        i += 1;
    }
    assert_eq!((table.len(), peer.len()), (CHURN_CAP, CHURN_CAP));
    let mut j = i;

    g.bench_function("telltale", |b| {
        b.iter(|| {
            for _ in 0..FLOW_BATCH {
                let (_, _, _, new) = table.track(&churn_packet(i));
                debug_assert!(new);
                i += 1;
            }
            // the pipeline takes the flows that ended after every packet; here, per batch
            black_box(table.drain_ended().count())
        })
    });
    assert!(table.len() <= CHURN_CAP);
    assert!(table.evictions > 0, "the churn evicted flows");

    g.bench_function("std-hashmap", |b| {
        b.iter(|| {
            for _ in 0..FLOW_BATCH {
                peer_churn(&mut peer, &mut ended, &churn_packet(j));
                j += 1;
            }
            let n = ended.len();
            ended.clear();
            black_box(n)
        })
    });
    assert!(peer.len() <= CHURN_CAP);
    g.finish();
}

/// Names a media server's flows carry: rules' hosts, sub-domains of wildcard patterns, and
/// names no rule knows.
const NAMES: &[&str] = &[
    "plex.tv",
    "clients.plex.tv",
    "pubsub.plex.tv",
    "metrics.plex.tv",
    "analytics.plex.tv",
    "sonos.plex.tv",
    "downloads.plex.tv",
    "192-0-2-44.0123456789abcdef0123456789abcdef.plex.direct",
    "eu-west.relay.plex.bz",
    "ocsp.digicert.com",
    "r10.o.lencr.org",
    "api.internetvideoarchive.com",
    "metadata.provider.plex.tv",
    "discover.provider.plex.tv",
    "api.themoviedb.org",
    "image.tmdb.org",
    "webservice.fanart.tv",
    "musicbrainz.org",
    "coverartarchive.org",
    "api.opensubtitles.com",
    "artworks.thetvdb.com",
    "tvthemes.plexapp.com",
    "c1f.example.net",
    "www.example.com",
];

fn input<'a>(names: &'a [&'a str]) -> MatchInput<'a> {
    MatchInput {
        tcp: true,
        udp: false,
        remote: IpAddr::V4(Ipv4Addr::new(203, 0, 113, 10)),
        service_port: 443,
        direction: Direction::Outbound,
        names,
    }
}

/// The peer: every rule in file order, each of its patterns tried against the name.
fn naive_matches(rules: &Rules, input: &MatchInput<'_>) -> Vec<usize> {
    rules
        .rules
        .iter()
        .enumerate()
        .filter(|(_, r)| {
            let by_name = r
                .hosts
                .iter()
                .any(|h| input.names.iter().any(|n| h.matches(n)));
            let by_addr = r.addresses.iter().any(|a| a.contains(&input.remote));
            (by_name || by_addr || (r.hosts.is_empty() && r.addresses.is_empty()))
                && r.protocol.matches(input.tcp, input.udp)
                && (r.ports.is_empty() || r.ports.contains(&input.service_port))
                && (r.direction == Direction::Any || r.direction == input.direction)
        })
        .map(|(i, _)| i)
        .collect()
}

fn bench_rules(c: &mut Criterion) {
    let rules = load::load("plex").expect("the built-in rules");
    let matcher = Matcher::new(rules.clone());
    let singles: Vec<[&str; 1]> = NAMES.iter().map(|n| [*n]).collect();
    // both sides find the same rules for every name, or the comparison is void
    let mut matched = 0;
    for one in &singles {
        let fast: Vec<&str> = matcher
            .matches(&input(one))
            .iter()
            .map(|(r, _)| r.id.as_str())
            .collect();
        let slow: Vec<&str> = naive_matches(&rules, &input(one))
            .into_iter()
            .map(|i| rules.rules[i].id.as_str())
            .collect();
        assert_eq!(fast, slow, "{}", one[0]);
        matched += usize::from(!fast.is_empty());
    }
    assert!(matched >= NAMES.len() / 2, "most names match a rule");

    let mut g = group(c, "rules", NAMES.len());
    g.bench_function("telltale", |b| {
        b.iter(|| {
            let mut n = 0usize;
            for one in &singles {
                n += matcher.matches(&input(one)).len();
            }
            black_box(n)
        })
    });
    g.bench_function("linear-scan", |b| {
        b.iter(|| {
            let mut n = 0usize;
            for one in &singles {
                n += naive_matches(&rules, &input(one)).len();
            }
            black_box(n)
        })
    });
    g.finish();
}

/// Where criterion keeps its estimates (as criterion itself finds it).
fn criterion_dir() -> PathBuf {
    if let Some(home) = std::env::var_os("CRITERION_HOME") {
        return PathBuf::from(home);
    }
    if let Some(target) = std::env::var_os("CARGO_TARGET_DIR") {
        return PathBuf::from(target).join("criterion");
    }
    // target/release/deps/components-HASH
    std::env::current_exe()
        .ok()
        .and_then(|e| Some(e.parent()?.parent()?.parent()?.join("criterion")))
        .unwrap_or_else(|| PathBuf::from("target/criterion"))
}

/// Nanoseconds per iteration as criterion reports it (the slope, else the mean), if this
/// run wrote it.
fn estimate(group: &str, function: &str, since: SystemTime) -> Option<f64> {
    let path = criterion_dir()
        .join(group)
        .join(function)
        .join("new/estimates.json");
    let fresh = std::fs::metadata(&path).ok()?.modified().ok()? >= since;
    if !fresh {
        return None;
    }
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).ok()?).ok()?;
    let slope = v["slope"]["point_estimate"].as_f64();
    slope.or_else(|| v["mean"]["point_estimate"].as_f64())
}

/// The table for docs/performance.md: each side's throughput and the ratio.
fn summary(sizes: &[(&str, &str, &str, usize)], since: SystemTime) {
    let mut rows = Vec::new();
    for &(group, ours, peer, elements) in sizes {
        let (Some(a), Some(b)) = (estimate(group, ours, since), estimate(group, peer, since))
        else {
            continue;
        };
        let rate = |ns: f64| elements as f64 / (ns * 1e-9);
        rows.push(format!(
            "| {group} | {} | {} | {peer} | {} | {:.2} |",
            elements,
            human(rate(a)),
            human(rate(b)),
            rate(a) / rate(b)
        ));
    }
    if rows.is_empty() {
        return;
    }
    println!("\nthroughput, this run (elements per second; ratio above 1: telltale is faster):");
    println!("| group | elements | telltale /s | peer | peer /s | telltale ÷ peer |");
    println!("|---|---|---|---|---|---|");
    for r in rows {
        println!("{r}");
    }
}

fn human(per_sec: f64) -> String {
    if per_sec >= 1e6 {
        format!("{:.2} M", per_sec / 1e6)
    } else if per_sec >= 1e3 {
        format!("{:.1} k", per_sec / 1e3)
    } else {
        format!("{per_sec:.0}")
    }
}

fn main() {
    let started = SystemTime::now();
    let mut c = Criterion::default().configure_from_args();
    let frames = demo_frames();
    let p = payloads(&frames);
    let ethernet = frames
        .iter()
        .filter(|f| f.link == LinkType::ETHERNET)
        .count();
    bench_decode(&mut c, &frames);
    bench_dns(&mut c, &p.dns);
    bench_tls(&mut c, &p.tls);
    bench_http(&mut c, &p.http);
    bench_quic(&mut c, &p.quic);
    bench_flows_update(&mut c, "flows_update", LIVE_FLOWS);
    bench_flows_update(&mut c, "flows_update_many", MANY_FLOWS);
    bench_flows_churn(&mut c);
    bench_rules(&mut c);
    c.final_summary();
    summary(
        &[
            ("decode", "telltale", "etherparse", ethernet),
            ("dns", "telltale", "simple-dns", p.dns.len()),
            ("tls", "telltale", "tls-parser", p.tls.len()),
            ("http", "telltale", "httparse", p.http.len()),
            ("quic", "telltale", "ring-aes128gcm", p.quic.len()),
            ("flows_update", "telltale", "std-hashmap", FLOW_BATCH),
            ("flows_update_many", "telltale", "std-hashmap", FLOW_BATCH),
            ("flows_churn", "telltale", "std-hashmap", FLOW_BATCH),
            ("rules", "telltale", "linear-scan", NAMES.len()),
        ],
        started,
    );
}
