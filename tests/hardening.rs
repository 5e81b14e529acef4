//! Hostile input, property by property: random bit flips and truncations of real packets
//! never panic and the counters always add up; a capture cut at every byte offset is read
//! without a panic and says where it was cut; a capture re-written at small snapshot
//! lengths counts truncation and never yields a name that full length does not.

// Test helpers: a failed assumption here is a failed test (clippy allows these in #[test]
// functions, not in the helpers they call).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use proptest::prelude::*;
use std::collections::BTreeSet;
use std::io::Cursor;
use telltale::capture::file::CaptureReader;
use telltale::capture::{LinkType, RawPacket};
use telltale::pipeline::{Caps, Pipeline};
use telltale::rules::verdict::Consent;
use telltale::rules::{Matcher, load};
use telltale::time::Timestamp;

type Packets = Vec<(Timestamp, LinkType, Vec<u8>)>;

/// The demo capture's packets: (time, link type, bytes), read once.
fn demo_packets() -> &'static Packets {
    static P: std::sync::OnceLock<Packets> = std::sync::OnceLock::new();
    P.get_or_init(|| {
        let demo = Cursor::new(telltale::demo::DEMO_CAPTURE);
        let mut r = CaptureReader::from_reader("demo", Box::new(demo)).unwrap();
        let mut out = Vec::new();
        while let Some(p) = r.next_packet() {
            out.push((p.ts, p.link, p.data.to_vec()));
        }
        out
    })
}

fn pipeline() -> Pipeline {
    static M: std::sync::OnceLock<std::sync::Arc<Matcher>> = std::sync::OnceLock::new();
    let matcher = M.get_or_init(|| std::sync::Arc::new(Matcher::new(load::load("plex").unwrap())));
    Pipeline::new(matcher.clone(), Consent::new(true), Caps::default())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn flipped_and_cut_packets_never_panic_and_the_counters_add_up(
        picks in proptest::collection::vec((0usize..1259, proptest::collection::vec(0usize..12_000, 0..8), 0usize..1600), 1..24)
    ) {
        let packets = demo_packets();
        let mut p = pipeline();
        for (i, flips, cut) in picks {
            let (ts, link, data) = &packets[i % packets.len()];
            let mut bytes = data.clone();
            for bit in flips {
                if let Some(b) = bytes.get_mut(bit / 8) {
                    *b ^= 1 << (bit % 8);
                }
            }
            bytes.truncate(cut.min(bytes.len()));
            let orig_len = data.len() as u32;
            p.process(&RawPacket { ts: *ts, link: *link, data: &bytes, orig_len, interface: 0 });
        }
        let result = p.finish();
        prop_assert!(result.counters.add_up(), "{:?}", result.counters);
    }
}

/// The shared captures small enough to cut at every byte.
fn small_captures() -> Vec<std::path::PathBuf> {
    let Some(dir) = common::shared_captures() else {
        return Vec::new();
    };
    let mut files = Vec::new();
    for sub in ["tcpdump", "zeek"] {
        for e in std::fs::read_dir(dir.join(sub)).unwrap() {
            let p = e.unwrap().path();
            if std::fs::metadata(&p).unwrap().len() <= 3_000 {
                files.push(p);
            }
        }
    }
    files.sort();
    files
}

#[test]
fn every_capture_cut_at_every_byte_is_read_and_says_where() {
    let files = small_captures();
    if files.is_empty() {
        return;
    }
    let mut cut_reports = 0;
    for path in &files {
        let bytes = std::fs::read(path).unwrap();
        let full = CaptureReader::from_reader("full", Box::new(Cursor::new(bytes.clone()))).map(
            |mut r| {
                let mut n = 0u64;
                while r.next_packet().is_some() {
                    n += 1;
                }
                n
            },
        );
        let Ok(full_packets) = full else { continue };
        let mut at_boundaries = 0u64;
        for cut in 0..bytes.len() {
            let Ok(mut r) =
                CaptureReader::from_reader("cut", Box::new(Cursor::new(bytes[..cut].to_vec())))
            else {
                continue; // too short for a header: refused at open, with a message
            };
            let mut p = pipeline();
            let mut n = 0u64;
            while let Some(pkt) = r.next_packet() {
                p.process(&pkt);
                n += 1;
            }
            let summary = r.finish();
            assert!(
                n <= full_packets,
                "{}: more packets cut than whole",
                path.display()
            );
            assert_eq!(summary.packets, n);
            if n < full_packets {
                match summary.truncation {
                    Some(t) => {
                        assert!(
                            t.offset <= cut as u64,
                            "{}: offset {} past the cut {cut}",
                            path.display(),
                            t.offset
                        );
                        cut_reports += 1;
                    }
                    // a cut exactly between two records leaves a whole, shorter file
                    None => at_boundaries += 1,
                }
            }
            assert!(p.finish().counters.add_up());
        }
        // only the record boundaries (one per packet, and the end of the header) pass as whole files
        assert!(
            at_boundaries <= full_packets + 1,
            "{}: {at_boundaries} cuts read as whole files",
            path.display()
        );
    }
    assert!(
        cut_reports > 1000,
        "only {cut_reports} cut captures were checked"
    );
}

/// Re-writes packets as a classic pcap at a snapshot length (the original lengths kept).
fn at_snaplen(packets: &Packets, snaplen: usize) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend(0xa1b2_3c4du32.to_le_bytes()); // nanosecond pcap
    out.extend(2u16.to_le_bytes());
    out.extend(4u16.to_le_bytes());
    out.extend([0u8; 8]);
    out.extend((snaplen as u32).to_le_bytes());
    out.extend(1u32.to_le_bytes()); // Ethernet
    for (ts, _, data) in packets {
        let kept = &data[..data.len().min(snaplen)];
        out.extend((ts.secs() as u32).to_le_bytes());
        out.extend((ts.subsec_nanos() as u32).to_le_bytes());
        out.extend((kept.len() as u32).to_le_bytes());
        out.extend((data.len() as u32).to_le_bytes());
        out.extend(kept);
    }
    out
}

fn names_at(bytes: Vec<u8>) -> (BTreeSet<(String, String)>, u64) {
    let r = CaptureReader::from_reader("snap", Box::new(Cursor::new(bytes))).unwrap();
    let judging = common::judging("on");
    let report = telltale::audit::audit_readers(vec![r], &judging, Caps::default());
    let names = report
        .names
        .iter()
        .map(|n| (n.name.clone(), n.source.as_str().to_string()))
        .collect();
    (names, report.counters.truncated)
}

#[test]
fn small_snapshot_lengths_count_truncation_and_invent_no_name() {
    let packets = demo_packets();
    let (full, _) = names_at(at_snaplen(packets, 65_535));
    assert!(full.len() > 20);
    for snaplen in [
        14, 18, 20, 34, 38, 54, 60, 64, 74, 90, 128, 200, 256, 300, 400, 576, 1000, 1500,
    ] {
        let (names, truncated) = names_at(at_snaplen(packets, snaplen));
        let invented: Vec<_> = names.difference(&full).collect();
        assert!(
            invented.is_empty(),
            "snaplen {snaplen}: names that full length does not give: {invented:?}"
        );
        if snaplen < 54 {
            assert!(
                truncated > 0,
                "snaplen {snaplen}: nothing counted as truncated"
            );
        }
    }
}
