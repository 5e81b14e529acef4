//! What QUIC handling costs: a QUIC-heavy capture (thousands of HTTP/3 connections, each
//! with a real encrypted client Initial) audited with QUIC Initial decryption on and off,
//! against a bare read-and-decode loop over the same bytes, in the same run.
//!
//! `cargo bench --bench quic_cost` prints medians and ratios. Decryption must not
//! dominate the audit: the figures go to docs/performance.md.

// Test helpers: a failed assumption here is a failed test (clippy allows these in #[test]
// functions, not in the helpers they call).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::io::Cursor;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};
use telltale::capture::file::CaptureReader;
use telltale::decode::Decoder;
use telltale::pipeline::{Caps, Pipeline};
use telltale::rules::verdict::Consent;
use telltale::rules::{Matcher, load};
use telltale::time::Timestamp;
use telltale_testkit::demo::scenario::quic_conversation;
use telltale_testkit::demo::synth::{Lan, Synth, write_pcapng};

const FLOWS: u32 = 3_000;
const ANSWER_PACKETS: usize = 40;
const RUNS: usize = 7;

fn capture() -> Vec<u8> {
    let server = IpAddr::V4(Ipv4Addr::new(192, 168, 1, 10));
    let lan = Lan {
        router_mac: [2, 0, 0, 0, 0, 1],
        hosts: vec![(server, [2, 0, 0, 0, 0, 0x10])],
    };
    let mut synth = Synth::new(lan, 7);
    for i in 0..FLOWS {
        let start = Timestamp::from_secs_nanos(
            1_794_081_600 + i64::from(i / 10),
            i64::from(i % 10) * 100_000_000,
        );
        let client = SocketAddr::new(server, 20_000 + (i % 40_000) as u16);
        let remote = SocketAddr::new(
            IpAddr::V4(Ipv4Addr::new(203, 0, 113, (i % 250) as u8 + 1)),
            443,
        );
        let host = format!("h{i}.discover.provider.plex.tv");
        quic_conversation(
            &mut synth,
            start,
            client,
            remote,
            &host,
            20_000_000,
            ANSWER_PACKETS,
        )
        .expect("synth");
    }
    let frames = synth.finish().expect("frames");
    write_pcapng(Vec::new(), &frames, "quic_cost bench").expect("pcapng")
}

fn reader(bytes: &[u8]) -> CaptureReader {
    CaptureReader::from_reader("bench", Box::new(Cursor::new(bytes.to_vec()))).expect("reader")
}

fn bare(bytes: &[u8]) -> u64 {
    let mut r = reader(bytes);
    let mut d = Decoder::new();
    let mut n = 0;
    while let Some(p) = r.next_packet() {
        if d.decode(&p).is_ok() {
            n += 1;
        }
    }
    n
}

fn audit(bytes: &[u8], matcher: &Arc<Matcher>, quic_initials: u32) -> (u64, u64) {
    let caps = Caps {
        quic_initials_per_flow: quic_initials,
        ..Caps::default()
    };
    let mut p = Pipeline::new(matcher.clone(), Consent::new(true), caps);
    let mut r = reader(bytes);
    while let Some(pkt) = r.next_packet() {
        p.process(&pkt);
    }
    let result = p.finish();
    (result.counters.packets, result.counters.quic_client_hellos)
}

fn median(mut f: impl FnMut() -> u64) -> Duration {
    let mut times: Vec<Duration> = (0..RUNS)
        .map(|_| {
            let t = Instant::now();
            std::hint::black_box(f());
            t.elapsed()
        })
        .collect();
    times.sort();
    times[RUNS / 2]
}

fn main() {
    // `cargo test --benches` runs this with --bench absent: build only
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let bytes = capture();
    let matcher = Arc::new(Matcher::new(load::load("plex").expect("rules")));
    let (packets, hellos) = audit(&bytes, &matcher, 16);
    assert_eq!(hellos, u64::from(FLOWS), "every Initial is decrypted");
    let t_bare = median(|| bare(&bytes));
    let t_off = median(|| audit(&bytes, &matcher, 0).0);
    let t_on = median(|| audit(&bytes, &matcher, 16).0);
    let rate = |d: Duration| packets as f64 / d.as_secs_f64();
    println!(
        "QUIC-heavy capture: {packets} packets, {FLOWS} QUIC connections, {} MB",
        bytes.len() / 1_000_000
    );
    println!("medians of {RUNS} runs:");
    println!(
        "  read + decode only          {:>9.1} ms  {:>10.0} packets/s",
        t_bare.as_secs_f64() * 1e3,
        rate(t_bare)
    );
    println!(
        "  audit, QUIC not decrypted   {:>9.1} ms  {:>10.0} packets/s",
        t_off.as_secs_f64() * 1e3,
        rate(t_off)
    );
    println!(
        "  audit, QUIC Initials read   {:>9.1} ms  {:>10.0} packets/s",
        t_on.as_secs_f64() * 1e3,
        rate(t_on)
    );
    let extra = t_on.saturating_sub(t_off);
    println!(
        "ratios: audit/read {:.2}; QUIC decryption adds {:.1}% to the audit ({:.1} µs per Initial)",
        t_on.as_secs_f64() / t_bare.as_secs_f64(),
        100.0 * extra.as_secs_f64() / t_on.as_secs_f64(),
        extra.as_secs_f64() * 1e6 / f64::from(FLOWS)
    );
}
