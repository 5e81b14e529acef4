//! Allocations per packet, counted by dhat's global allocator: once a flow is known and named,
//! its packets cost the pipeline no allocation: TCP segments of a named TLS flow (both ways), QUIC
//! short-header datagrams, and DNS responses that repeat answers already known.

// Test helpers: a failed assumption here is a failed test (clippy allows these in #[test]
// functions, not in the helpers they call).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use telltale::capture::RawPacket;
use telltale::capture::file::{CaptureReader, InputDigest};
use telltale::pipeline::{Caps, Pipeline};
use telltale::rules::verdict::Consent;
use telltale::rules::{Matcher, load};
use telltale::time::Timestamp;
use telltale_testkit::demo::payload::{
    Answer, ClientHello, DNS_TYPE_A, Rdata, app_data, dns_response,
};
use telltale_testkit::demo::quic::{client_initial_for, opaque_short};
use telltale_testkit::demo::synth::{Lan, Side, Synth, write_pcapng};

// dhat's allocator counts every allocation; the pipeline runs on this thread alone (the capture
// is read without its digest, so without read-ahead threads).
#[global_allocator]
static GLOBAL: dhat::Alloc = dhat::Alloc;

/// Allocations so far, in the whole process.
fn allocations() -> u64 {
    dhat::HeapStats::get().total_blocks
}

const CLIENT: Ipv4Addr = Ipv4Addr::new(192, 168, 1, 10);

fn at(ms: i64) -> Timestamp {
    Timestamp::from_secs_nanos(1_793_534_400, ms * 1_000_000)
}

/// The capture: a DNS exchange answered 300 times alike, a named TLS flow with 300 segments of
/// application data each way, and a QUIC flow named by its Initial, then 300 short datagrams.
fn capture() -> Vec<u8> {
    let lan = Lan {
        router_mac: [2, 0, 0, 0, 0, 1],
        hosts: vec![(IpAddr::V4(CLIENT), [2, 0, 0, 0, 0, 0x10])],
    };
    let mut synth = Synth::new(lan, 7);
    let resolver = SocketAddr::from((Ipv4Addr::new(192, 168, 1, 1), 53));
    let asker = SocketAddr::from((CLIENT, 40_000));
    let answer = dns_response(
        7,
        "cdn.example.net",
        DNS_TYPE_A,
        &[Answer {
            name: "cdn.example.net".into(),
            ttl: 300,
            data: Rdata::Addr(IpAddr::V4(Ipv4Addr::new(203, 0, 113, 80))),
        }],
    );
    for i in 0..300 {
        synth.udp(at(1 + i), resolver, asker, answer.clone());
    }
    let server = SocketAddr::from((Ipv4Addr::new(203, 0, 113, 80), 443));
    let mut s = synth.tcp_open(
        at(400),
        SocketAddr::from((CLIENT, 50_000)),
        server,
        20_000_000,
    );
    let hello = ClientHello::new(&mut synth.rng, Some("cdn.example.net"), &["h2"]);
    s.send(&mut synth, Side::Client, &hello.record());
    for _ in 0..300 {
        let data = app_data(&mut synth.rng, 1200);
        s.send(&mut synth, Side::Server, &data);
        let data = app_data(&mut synth.rng, 300);
        s.send(&mut synth, Side::Client, &data);
    }
    s.close(&mut synth);
    let quic = SocketAddr::from((Ipv4Addr::new(203, 0, 113, 81), 443));
    let quic_client = SocketAddr::from((CLIENT, 50_001));
    let dcid = [1, 2, 3, 4, 5, 6, 7, 8];
    let initial = client_initial_for(&mut synth.rng, "video.example.net", &dcid, &[9, 9]).unwrap();
    synth.udp(at(60_000), quic_client, quic, initial);
    for i in 0..300 {
        let d = opaque_short(&mut synth.rng, &[9, 9], 1200);
        synth.udp(at(60_001 + i), quic, quic_client, d);
        let d = opaque_short(&mut synth.rng, &dcid, 60);
        synth.udp(at(60_001 + i), quic_client, quic, d);
    }
    write_pcapng(Vec::new(), &synth.finish().unwrap(), "allocations test").unwrap()
}

#[test]
fn known_flows_cost_no_allocation_per_packet() {
    let bytes = capture();
    let matcher = std::sync::Arc::new(Matcher::new(load::load("plex").unwrap()));
    let mut pipeline = Pipeline::new(matcher, Consent::new(true), Caps::default());
    let mut reader = CaptureReader::from_reader_with(
        "alloc",
        Box::new(std::io::Cursor::new(bytes)),
        InputDigest::Skip,
    )
    .unwrap();
    // every packet read first, and the reader (and its read-ahead thread) gone, so that only
    // the pipeline's allocations are counted
    let mut packets = Vec::new();
    while let Some(p) = reader.next_packet() {
        packets.push((p.ts, p.link, p.data.to_vec(), p.orig_len, p.interface));
    }
    drop(reader);
    let _profiler = dhat::Profiler::builder().testing().build();
    // (time, allocations) for every packet
    let mut per_packet: Vec<(Timestamp, u64)> = Vec::with_capacity(packets.len());
    for (ts, link, data, orig_len, interface) in &packets {
        let p = RawPacket {
            ts: *ts,
            link: *link,
            data,
            orig_len: *orig_len,
            interface: *interface,
        };
        let before = allocations();
        pipeline.process(&p);
        per_packet.push((p.ts, allocations() - before));
    }
    // the parts, by time: DNS, then the TLS flow, then the QUIC flow; each part's first 20
    // packets (a new flow, its name, its buffers) are left out
    let tls_from = per_packet.iter().position(|(t, _)| *t >= at(400)).unwrap();
    let quic_from = per_packet
        .iter()
        .position(|(t, _)| *t >= at(60_000))
        .unwrap();
    let steady = |range: std::ops::Range<usize>| -> (u64, usize) {
        let part = &per_packet[range];
        (part.iter().map(|(_, n)| n).sum(), part.len())
    };
    let (tls, tls_packets) = steady(tls_from + 20..quic_from);
    let (quic, quic_packets) = steady(quic_from + 20..per_packet.len());
    assert!(tls_packets > 500 && quic_packets > 500);
    assert_eq!(
        tls, 0,
        "{tls_packets} packets of a named TLS flow allocated {tls} times"
    );
    assert_eq!(
        quic, 0,
        "{quic_packets} QUIC short datagrams allocated {quic} times"
    );
    // DNS responses that repeat known answers: read into the pipeline's one message, whose
    // lists and strings are reused, and their names gathered as borrowed strings
    let (dns, dns_packets) = steady(20..tls_from);
    assert!(dns_packets > 250);
    assert_eq!(dns, 0, "{dns_packets} DNS responses allocated {dns} times");
    let result = pipeline.finish();
    assert!(result.flows.len() >= 3);
}
