//! The reader, tested through its API on pcap, pcapng, gzip and broken inputs.

use super::pcapng::*;
use super::*;
use std::io::Cursor;
use std::io::Write;
use std::path::PathBuf;

fn shared() -> Option<PathBuf> {
    let dir = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/captures"));
    if dir.is_dir() {
        Some(dir)
    } else {
        assert!(
            std::env::var_os("CI").is_none_or(|v| v.is_empty()),
            "under CI this test needs ../shared/captures beside the project"
        );
        eprintln!("skipping: {} is absent", dir.display());
        None
    }
}

/// (timestamp, link, data, orig_len, interface) of every packet, plus the summary.
type Pkt = (Timestamp, LinkType, Vec<u8>, u32, u32);

fn read_all(mut r: CaptureReader) -> (Vec<Pkt>, u64, CaptureSummary) {
    let mut out = Vec::new();
    while let Some(p) = r.next_packet() {
        out.push((p.ts, p.link, p.data.to_vec(), p.orig_len, p.interface));
    }
    let skipped = r.skipped();
    (out, skipped, r.finish())
}

fn from_bytes(bytes: &[u8]) -> Result<CaptureReader, CaptureError> {
    CaptureReader::from_reader("test", Box::new(Cursor::new(bytes.to_vec())))
}

fn sha256_hex(bytes: &[u8]) -> String {
    <sha2::Sha256 as sha2::Digest>::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Packet counts tshark 4.0 reports for every shared capture.
const TSHARK_COUNTS: &[(&str, usize)] = &[
    ("tcpdump/802.1ad_QinQ.pcap", 2),
    ("tcpdump/LINKTYPE_IPV4.pcap", 1),
    ("tcpdump/LINKTYPE_IPV4_invalid.pcap", 1),
    ("tcpdump/LINKTYPE_IPV6.pcap", 1),
    ("tcpdump/LINKTYPE_RAW_ipv4.pcap", 1),
    ("tcpdump/LINKTYPE_RAW_ipv6.pcap", 1),
    ("tcpdump/bigtcp-ipv4.pcap", 1),
    ("tcpdump/bigtcp-ipv6.pcap", 1),
    ("tcpdump/dns-badlabel.pcap", 1),
    ("tcpdump/dns-zlip-1.pcap", 1),
    ("tcpdump/dns-zlip-2.pcap", 1),
    ("tcpdump/dns-zlip-3.pcap", 1),
    ("tcpdump/dns_tcp.pcap", 11),
    ("tcpdump/dns_udp.pcap", 2),
    ("tcpdump/gquic.pcap", 1),
    ("tcpdump/gso-ipv6.pcap", 1),
    ("tcpdump/ipv4_tcp_http_xml.pcap", 1),
    ("tcpdump/ipv6-next-header-oobr-1.pcap", 1),
    ("tcpdump/ipv6_frag6_negative_len.pcap", 1),
    ("tcpdump/ipv6_invalid_length.pcap", 1),
    ("tcpdump/ipv6hdr-heapoverflow.pcap", 1),
    ("tcpdump/ppp_ip_udp_dns.pcap", 1),
    ("tcpdump/pppoes.pcap", 2),
    ("tcpdump/quic_32_bit_pointer_overflow.pcap", 1),
    ("tcpdump/quic_handshake.pcap", 18),
    ("tcpdump/quic_handshake_truncated.pcap", 18),
    ("tcpdump/quic_retry.pcap", 23),
    ("tcpdump/quic_vn.pcap", 25),
    ("tcpdump/vxlan.pcap", 10),
    ("zeek/chksums_ip6-route0-tcp-good-chksum.pcap", 1),
    ("zeek/communityid_ipv6.pcap", 17),
    ("zeek/dns-edns-ecs.pcap", 89),
    ("zeek/dns-https.pcap", 2),
    ("zeek/dns-two-responses.pcap", 3),
    ("zeek/dns53.pcap", 1),
    ("zeek/dns_dns-corrupt.pcap", 2),
    ("zeek/dns_dns-invalid-names.pcap", 3),
    ("zeek/dns_ech.pcap", 4),
    ("zeek/dns_max-compression-depth.pcap", 1),
    ("zeek/dns_mdns.pcap", 24),
    ("zeek/http-qinq-0.pcap", 14),
    ("zeek/http-vlan-0.pcap", 14),
    ("zeek/http_get.pcap", 14),
    ("zeek/http_http-lower-case-nonstandard-port.pcap", 10),
    ("zeek/linux_dlt_sll2.pcap", 6),
    ("zeek/linuxsll-arp.pcap", 12),
    ("zeek/mixed-vlan-mpls.pcap", 47),
    ("zeek/pppoe-over-qinq.pcap", 86),
    ("zeek/quic_383379789-decrypt-crash.pcap", 9),
    ("zeek/quic_chromium-115.0.5790.110-api-cirrus-com.pcap", 19),
    ("zeek/quic_curl-8.1.2-dev-http3-www-google-de.pcap", 48),
    ("zeek/quic_interop_quic-go_quic-go_handshake.pcap", 13),
    ("zeek/quic_interop_quic-go_quic-go_retry.pcap", 26),
    ("zeek/quic_merlinc2_Zeek_example.pcapng", 100),
    ("zeek/quic_quic-decrypt-fail-google-de-51833.pcap", 36),
    ("zeek/quic_quic-multiple-initial-fragmented-crypto.pcap", 15),
    ("zeek/quic_quicdoq.pcap", 9),
    ("zeek/quic_quicv2-http3-443.pcap", 14),
    ("zeek/quic_vector-max-size-crash.pcap", 1),
    ("zeek/tls_chrome-1250-tls-x25519-kyber.pcap", 15),
    ("zeek/tls_chrome-34-google.pcap", 42),
    ("zeek/tls_dtls1_2.pcap", 16),
    ("zeek/tls_ecdhe.pcap", 28),
    ("zeek/tls_google-duplicate.pcap", 46),
    ("zeek/tls_heartbleed.pcap", 23),
    ("zeek/tls_hrr.pcap", 19),
    ("zeek/tls_ocsp-http-get.pcap", 7),
    ("zeek/tls_openjdk-25.0.2-zeek.org.pcap", 6),
    ("zeek/tls_ssl-v2.pcap", 25),
    ("zeek/tls_tls-conn-with-extensions.pcap", 58),
    ("zeek/tls_tls1.2.pcap", 22),
    ("zeek/tls_tls13-ech.pcap", 69),
    ("zeek/tls_tls13_wolfssl.pcap", 21),
    ("zeek/tls_webrtc-stun.pcap", 14),
    ("zeek/vlan-pcp-dei.pcapng", 9),
    ("zeek/vlan-qinqinq.pcap", 14),
];

#[test]
fn every_shared_capture_reads_with_tsharks_packet_count() {
    let Some(dir) = shared() else { return };
    for (file, want) in TSHARK_COUNTS {
        let path = dir.join(file);
        let bytes = std::fs::read(&path).unwrap();
        let r = CaptureReader::open(&path).unwrap_or_else(|e| panic!("{file}: {e}"));
        assert_eq!(r.name(), path.display().to_string());
        let (pkts, skipped, sum) = read_all(r);
        assert_eq!(pkts.len(), *want, "{file}");
        assert_eq!(skipped, 0, "{file}");
        assert_eq!(sum.packets, *want as u64, "{file}");
        assert_eq!(sum.truncation, None, "{file}");
        assert_eq!(sum.bytes, bytes.len() as u64, "{file}");
        assert_eq!(sum.sha256, Some(sha256_hex(&bytes)), "{file}");
        for p in &pkts {
            assert!(
                p.2.len() as u64 <= u64::from(p.3),
                "{file}: data longer than orig_len"
            );
        }
    }
    // Every file in the folders is in the table.
    let mut n = 0;
    for sub in ["tcpdump", "zeek"] {
        n += std::fs::read_dir(dir.join(sub)).unwrap().count();
    }
    assert_eq!(n, TSHARK_COUNTS.len());
}

#[test]
fn shared_captures_have_the_right_link_types_and_times() {
    let Some(dir) = shared() else { return };
    let check = |file: &str, link: LinkType, first_ts: i64, first_len: usize| {
        let r = CaptureReader::open(&dir.join(file)).unwrap();
        let (pkts, _, _) = read_all(r);
        assert_eq!(pkts[0].1, link, "{file}");
        assert_eq!(pkts[0].0, Timestamp(first_ts), "{file}");
        assert_eq!(pkts[0].2.len(), first_len, "{file}");
    };
    // Values from `tshark -T fields -e frame.time_epoch -e frame.cap_len`.
    check(
        "zeek/quic_merlinc2_Zeek_example.pcapng",
        LinkType::ETHERNET,
        1_735_767_286_951_851_000,
        1322,
    );
    check(
        "zeek/vlan-pcp-dei.pcapng",
        LinkType::ETHERNET,
        1_763_070_394_994_237_000,
        62,
    );
    check(
        "zeek/linux_dlt_sll2.pcap",
        LinkType::LINUX_SLL2,
        1_660_534_249_872_259_000,
        104,
    );
    check(
        "tcpdump/quic_vn.pcap",
        LinkType::NULL,
        1_635_191_923_195_985_000,
        1252,
    );
    check(
        "tcpdump/LINKTYPE_IPV6.pcap",
        LinkType::IPV6,
        1_751_997_566_204_450_000,
        77,
    );
}

/// Record boundaries (stream offsets) of a little-endian microsecond pcap.
fn pcap_boundaries(bytes: &[u8]) -> Vec<usize> {
    let mut at = 24;
    let mut out = vec![at];
    while at + 16 <= bytes.len() {
        let caplen = u32::from_le_bytes(bytes[at + 8..at + 12].try_into().unwrap()) as usize;
        at += 16 + caplen;
        out.push(at);
    }
    out
}

#[test]
fn a_pcap_cut_at_every_offset_gives_a_prefix_and_a_truncation() {
    let Some(dir) = shared() else { return };
    let bytes = std::fs::read(dir.join("zeek/http_get.pcap")).unwrap();
    let (full, _, _) = read_all(from_bytes(&bytes).unwrap());
    assert_eq!(full.len(), 14);
    let bounds = pcap_boundaries(&bytes);
    assert_eq!(*bounds.last().unwrap(), bytes.len());
    for cut in 0..=bytes.len() {
        let prefix = &bytes[..cut];
        match from_bytes(prefix) {
            Err(CaptureError::Empty { .. }) => assert_eq!(cut, 0),
            Err(CaptureError::TooShort { len, .. }) => {
                assert!(cut < 4);
                assert_eq!(len, cut);
            }
            Err(CaptureError::BadHeader { what, .. }) => {
                assert!((4..24).contains(&cut), "cut {cut}: {what}");
                assert!(what.contains("24-byte"), "{what}");
            }
            Err(e) => panic!("cut {cut}: unexpected {e}"),
            Ok(r) => {
                assert!(cut >= 24);
                let (pkts, _, sum) = read_all(r);
                assert_eq!(pkts[..], full[..pkts.len()], "cut {cut}");
                let whole = bounds.iter().filter(|&&b| b <= cut).count() - 1;
                assert_eq!(pkts.len(), whole, "cut {cut}");
                assert_eq!(sum.bytes, cut as u64);
                if bounds.contains(&cut) {
                    assert_eq!(sum.truncation, None, "cut {cut}");
                } else {
                    let t = sum.truncation.expect("a cut mid-record is reported");
                    assert_eq!(t.offset, bounds[whole] as u64, "cut {cut}");
                    assert!(t.what.contains("cut short"), "{}", t.what);
                }
            }
        }
    }
}

#[test]
fn gzip_gives_the_same_packets_and_hashes_the_compressed_bytes() {
    let Some(dir) = shared() else { return };
    for file in [
        "zeek/http_get.pcap",
        "zeek/quic_merlinc2_Zeek_example.pcapng",
    ] {
        let bytes = std::fs::read(dir.join(file)).unwrap();
        let (plain, _, _) = read_all(from_bytes(&bytes).unwrap());
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(&bytes).unwrap();
        let gz = gz.finish().unwrap();
        let mut tmp = tempfile::NamedTempFile::new().unwrap();
        tmp.write_all(&gz).unwrap();
        tmp.flush().unwrap();
        let r = CaptureReader::open(tmp.path()).unwrap();
        let want_format = if file.ends_with("ng") {
            CaptureFormat::PcapNg
        } else {
            CaptureFormat::Pcap
        };
        assert_eq!(
            r.info(),
            CaptureInfo {
                format: want_format,
                gzip: true
            }
        );
        let (pkts, _, sum) = read_all(r);
        assert_eq!(pkts, plain, "{file}");
        assert_eq!(sum.sha256, Some(sha256_hex(&gz)));
        assert_eq!(sum.bytes, gz.len() as u64);
        assert_eq!(sum.truncation, None);

        // A gzip file cut in the middle: a prefix of the packets, and the reason.
        let (pkts, _, sum) = read_all(from_bytes(&gz[..gz.len() / 2]).unwrap());
        assert!(
            !pkts.is_empty() && pkts.len() < plain.len(),
            "{file}: {}",
            pkts.len()
        );
        assert_eq!(pkts[..], plain[..pkts.len()]);
        let t = sum.truncation.expect("cut gzip is reported");
        assert!(t.what.contains("gzip"), "{}", t.what);
    }
}

#[test]
fn concatenated_gzip_members_read_as_one_stream() {
    let Some(dir) = shared() else { return };
    let bytes = std::fs::read(dir.join("zeek/http_get.pcap")).unwrap();
    let (plain, _, _) = read_all(from_bytes(&bytes).unwrap());
    let mut out = Vec::new();
    for part in [&bytes[..1000], &bytes[1000..]] {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(part).unwrap();
        out.extend(gz.finish().unwrap());
    }
    let (pkts, _, sum) = read_all(from_bytes(&out).unwrap());
    assert_eq!(pkts, plain);
    assert_eq!(sum.truncation, None);
}

#[test]
fn sha256_covers_the_whole_file_even_when_reading_stops_early() {
    let Some(dir) = shared() else { return };
    let path = dir.join("zeek/tls_tls13-ech.pcap");
    let bytes = std::fs::read(&path).unwrap();
    let mut r = CaptureReader::open(&path).unwrap();
    assert!(r.next_packet().is_some());
    assert_eq!(r.packets_read(), 1);
    let sum = r.finish();
    assert_eq!(sum.packets, 1);
    assert_eq!(sum.bytes, bytes.len() as u64);
    assert_eq!(sum.sha256, Some(sha256_hex(&bytes)));
    // And a known value for an empty-of-packets pcap header.
    let header = pcap_header(false, false, 1);
    let sum = from_bytes(&header).unwrap().finish();
    assert_eq!(sum.sha256, Some(sha256_hex(&header)));
    assert_eq!(sum.packets, 0);
}

#[test]
fn with_one_cpu_the_digest_is_computed_on_the_reading_thread_and_is_the_same() {
    let Some(dir) = shared() else { return };
    let path = dir.join("zeek/quic_merlinc2_Zeek_example.pcapng");
    let bytes = std::fs::read(&path).unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut gz, &bytes).unwrap();
    let gz = gz.finish().unwrap();
    let (threaded, _, _) = read_all(CaptureReader::open(&path).unwrap());
    for (input, gzip) in [(&bytes, false), (&gz, true)] {
        let raw = Raw::new(
            Box::new(Cursor::new(input.clone())),
            InputDigest::Sha256,
            true,
        )
        .unwrap();
        assert!(matches!(
            raw,
            Raw::Here {
                hasher: Some(_),
                ..
            }
        ));
        let r = CaptureReader::with_raw("one-cpu", raw, gzip).unwrap();
        let (here, _, sum) = read_all(r);
        assert_eq!(here, threaded);
        assert_eq!(sum.sha256, Some(sha256_hex(input)));
        assert_eq!(sum.bytes, input.len() as u64);
    }
}

#[test]
fn without_the_digest_the_same_packets_come_out_and_every_byte_is_counted() {
    let Some(dir) = shared() else { return };
    for file in [
        "zeek/tls_tls13-ech.pcap",
        "zeek/quic_merlinc2_Zeek_example.pcapng",
    ] {
        let path = dir.join(file);
        let bytes = std::fs::read(&path).unwrap();
        let (hashed, _, _) = read_all(CaptureReader::open(&path).unwrap());
        let (plain, _, sum) = read_all(CaptureReader::open_with(&path, InputDigest::Skip).unwrap());
        assert!(!plain.is_empty(), "{file}");
        assert_eq!(plain, hashed, "{file}");
        assert_eq!(sum.packets, hashed.len() as u64);
        assert_eq!(sum.sha256, None);
        assert_eq!(sum.bytes, bytes.len() as u64, "{file}");
        // stopped after one packet, the count still covers the whole file
        let mut r = CaptureReader::open_with(&path, InputDigest::Skip).unwrap();
        assert!(r.next_packet().is_some());
        assert_eq!(r.finish().bytes, bytes.len() as u64);
    }
}

fn pcap_header(big: bool, nanos: bool, link: u32) -> Vec<u8> {
    let magic: u32 = if nanos { 0xA1B2_3C4D } else { 0xA1B2_C3D4 };
    let mut w = W::new(big);
    w.u32(magic)
        .u16(2)
        .u16(4)
        .u32(0)
        .u32(0)
        .u32(262_144)
        .u32(link);
    w.v
}

/// Rewrites a little-endian microsecond pcap in the given byte order and precision.
fn convert_pcap(bytes: &[u8], big: bool, nanos: bool) -> Vec<u8> {
    let link = u32::from_le_bytes(bytes[20..24].try_into().unwrap());
    let mut w = W::new(big);
    w.bytes(&pcap_header(big, nanos, link));
    let mut at = 24;
    while at + 16 <= bytes.len() {
        let f = |i: usize| u32::from_le_bytes(bytes[at + i..at + i + 4].try_into().unwrap());
        let (sec, usec, caplen, orig) = (f(0), f(4), f(8), f(12));
        let frac = if nanos { usec * 1000 } else { usec };
        w.u32(sec).u32(frac).u32(caplen).u32(orig);
        w.bytes(&bytes[at + 16..at + 16 + caplen as usize]);
        at += 16 + caplen as usize;
    }
    w.v
}

#[test]
fn pcap_in_both_byte_orders_and_both_precisions_reads_the_same() {
    let Some(dir) = shared() else { return };
    let bytes = std::fs::read(dir.join("tcpdump/quic_retry.pcap")).unwrap();
    let (want, _, _) = read_all(from_bytes(&bytes).unwrap());
    assert_eq!(want.len(), 23);
    for big in [false, true] {
        for nanos in [false, true] {
            let conv = convert_pcap(&bytes, big, nanos);
            let (got, _, sum) = read_all(from_bytes(&conv).unwrap());
            assert_eq!(got, want, "big {big} nanos {nanos}");
            assert_eq!(sum.truncation, None);
        }
    }
}

#[test]
fn pcap_timestamps_and_lengths_are_read_exactly() {
    for big in [false, true] {
        let mut w = W::new(big);
        w.bytes(&pcap_header(big, true, 101));
        // 1.999999999 s, 4 bytes captured of 60 on the wire.
        w.u32(1)
            .u32(999_999_999)
            .u32(4)
            .u32(60)
            .bytes(&[0x45, 0, 0, 60]);
        let (pkts, _, sum) = read_all(from_bytes(&w.v).unwrap());
        assert_eq!(sum.truncation, None);
        assert_eq!(
            pkts,
            vec![(
                Timestamp(1_999_999_999),
                LinkType::RAW,
                vec![0x45, 0, 0, 60],
                60,
                0
            )]
        );
    }
    // Microseconds; the FCS bits above the link type are not part of it; a record whose
    // captured length exceeds its original length reports the captured length.
    let mut w = W::new(false);
    w.bytes(&pcap_header(false, false, 0x1000_0001));
    w.u32(1_700_000_000)
        .u32(250_000)
        .u32(3)
        .u32(2)
        .bytes(&[1, 2, 3]);
    let (pkts, _, _) = read_all(from_bytes(&w.v).unwrap());
    assert_eq!(
        pkts,
        vec![(
            Timestamp(1_700_000_000_250_000_000),
            LinkType::ETHERNET,
            vec![1, 2, 3],
            3,
            0
        )]
    );
}

#[test]
fn packets_bigger_than_the_buffer_read_and_absurd_records_stop() {
    let big_len = INITIAL_BUFFER * 3 + 5;
    let payload: Vec<u8> = (0..big_len).map(|i| (i % 251) as u8).collect();
    let mut w = W::new(false);
    w.bytes(&pcap_header(false, false, 1));
    w.u32(10)
        .u32(0)
        .u32(big_len as u32)
        .u32(big_len as u32)
        .bytes(&payload);
    w.u32(11).u32(0).u32(2).u32(2).bytes(&[7, 8]);
    let good_len = w.v.len();
    // Then a record claiming a gigabyte.
    w.u32(12).u32(0).u32(1 << 30).u32(1 << 30).bytes(&[0; 32]);
    let (pkts, _, sum) = read_all(from_bytes(&w.v).unwrap());
    assert_eq!(pkts.len(), 2);
    assert_eq!(pkts[0].2, payload);
    assert_eq!(pkts[1].2, vec![7, 8]);
    let t = sum.truncation.expect("absurd record is reported");
    assert_eq!(t.offset, good_len as u64);
    assert!(t.what.contains("claims 1073741824 bytes"), "{}", t.what);
}

/// Hands out its bytes a few at a time, as a pipe does.
struct Trickle(Cursor<Vec<u8>>, usize);

impl Read for Trickle {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = buf.len().min(self.1);
        self.0.read(&mut buf[..n])
    }
}

#[test]
fn records_straddling_read_blocks_come_out_whole_however_the_input_arrives() {
    // Records from 1 byte to 300 KiB: some larger than a block's headroom, some larger
    // than a whole block, so every way of joining blocks is taken.
    let sizes = [
        1usize, 1500, 70_000, 9000, 300_000, 64, 200_000, 65_536, 65_537, 3,
    ];
    let mut w = W::new(false);
    w.bytes(&pcap_header(false, false, 1));
    let mut want = Vec::new();
    for (i, &n) in sizes.iter().cycle().take(24).enumerate() {
        let data: Vec<u8> = (0..n).map(|j| (i * 7 + j * 13) as u8).collect();
        w.u32(i as u32)
            .u32(0)
            .u32(n as u32)
            .u32(n as u32)
            .bytes(&data);
        want.push(data);
    }
    let bytes = w.v;
    for chunk in [usize::MAX, 100_000, 4096, 997] {
        let input = Trickle(Cursor::new(bytes.clone()), chunk);
        let r = CaptureReader::from_reader("test", Box::new(input)).unwrap();
        let (got, _, sum) = read_all(r);
        let got: Vec<Vec<u8>> = got.into_iter().map(|p| p.2).collect();
        assert_eq!(got.len(), want.len(), "reading {chunk} bytes at a time");
        assert!(got == want, "reading {chunk} bytes at a time");
        assert!(sum.truncation.is_none(), "reading {chunk} bytes at a time");
        assert_eq!(sum.sha256, Some(sha256_hex(&bytes)));
        assert_eq!(sum.bytes, bytes.len() as u64);
    }
    // cut inside the 300 KiB record: the offset is that record's start
    let cut = 24 + (16 + 1) + (16 + 1500) + (16 + 70_000) + (16 + 9000) + 1000;
    let input = Trickle(Cursor::new(bytes[..cut].to_vec()), 50_000);
    let (got, _, sum) = read_all(CaptureReader::from_reader("test", Box::new(input)).unwrap());
    assert_eq!(got.len(), 4);
    let t = sum.truncation.unwrap();
    assert_eq!(t.offset, (24 + 17 + 1516 + 70_016 + 9016) as u64);
}

/// A writer of pcap / pcapng fields in either byte order.
struct W {
    big: bool,
    v: Vec<u8>,
}

impl W {
    fn new(big: bool) -> Self {
        W { big, v: Vec::new() }
    }
    fn u16(&mut self, x: u16) -> &mut Self {
        let b = if self.big {
            x.to_be_bytes()
        } else {
            x.to_le_bytes()
        };
        self.v.extend(b);
        self
    }
    fn u32(&mut self, x: u32) -> &mut Self {
        let b = if self.big {
            x.to_be_bytes()
        } else {
            x.to_le_bytes()
        };
        self.v.extend(b);
        self
    }
    fn u64(&mut self, x: u64) -> &mut Self {
        let b = if self.big {
            x.to_be_bytes()
        } else {
            x.to_le_bytes()
        };
        self.v.extend(b);
        self
    }
    fn bytes(&mut self, b: &[u8]) -> &mut Self {
        self.v.extend_from_slice(b);
        self
    }
    fn pad(&mut self) -> &mut Self {
        while !self.v.len().is_multiple_of(4) {
            self.v.push(0);
        }
        self
    }
    fn option(&mut self, code: u16, value: &[u8]) -> &mut Self {
        self.u16(code).u16(value.len() as u16).bytes(value).pad()
    }
    /// Appends a whole block of `block_type` around `body`.
    fn block(&mut self, block_type: u32, body: &[u8]) -> &mut Self {
        let len = 12 + body.len().next_multiple_of(4);
        self.u32(block_type)
            .u32(len as u32)
            .bytes(body)
            .pad()
            .u32(len as u32)
    }
}

fn shb(big: bool) -> Vec<u8> {
    let mut b = W::new(big);
    b.u32(BYTE_ORDER_MAGIC).u16(1).u16(0).u64(u64::MAX);
    let mut w = W::new(big);
    w.block(SHB_TYPE, &b.v);
    w.v
}

fn idb(big: bool, link: u16, snaplen: u32, options: &[(u16, Vec<u8>)]) -> Vec<u8> {
    let mut b = W::new(big);
    b.u16(link).u16(0).u32(snaplen);
    for (code, value) in options {
        b.option(*code, value);
    }
    if !options.is_empty() {
        b.u16(0).u16(0);
    }
    let mut w = W::new(big);
    w.block(IDB_TYPE, &b.v);
    w.v
}

fn epb(big: bool, if_id: u32, ticks: u64, data: &[u8], orig: u32) -> Vec<u8> {
    let mut b = W::new(big);
    b.u32(if_id).u32((ticks >> 32) as u32).u32(ticks as u32);
    b.u32(data.len() as u32).u32(orig).bytes(data).pad();
    // An epb_flags option, to show options cost nothing.
    b.option(2, &[0, 0, 0, 1]).u16(0).u16(0);
    let mut w = W::new(big);
    w.block(EPB_TYPE, &b.v);
    w.v
}

/// Two sections (little- then big-endian), interfaces with three link types and clocks,
/// every packet block kind, blocks to skip and packets on undescribed interfaces.
fn multi_interface_pcapng() -> Vec<u8> {
    let mut out = shb(false);
    out.extend(idb(false, 1, 0, &[]));
    let tsoffset = 100i64.to_le_bytes().to_vec();
    out.extend(idb(false, 101, 65535, &[(9, vec![9]), (14, tsoffset)]));
    out.extend(idb(false, 276, 0, &[(9, vec![0x80 | 10])]));
    out.extend(epb(false, 0, 1_700_000_000_123_456, b"eth-frame", 9));
    out.extend(epb(false, 1, 5_000_000_001, &[0x45, 0, 0, 20], 20));
    // Name resolution and custom blocks are skipped.
    let mut w = W::new(false);
    w.block(4, &[0, 0, 0, 0])
        .block(0x4000_0BAD, &[1, 2, 3, 4, 5, 6, 7, 8]);
    out.extend(&w.v);
    out.extend(epb(false, 2, 1024 * 3 + 512, b"sll2", 1500));
    out.extend(epb(false, 7, 1, b"nobody", 6));
    // Simple Packet Block: 60 bytes captured of 100.
    let mut b = W::new(false);
    b.u32(100).bytes(&[0xAB; 60]);
    let mut w = W::new(false);
    w.block(SPB_TYPE, &b.v);
    // Obsolete Packet Block on interface 1.
    let mut b = W::new(false);
    b.u16(1)
        .u16(0)
        .u32(0)
        .u32(7)
        .u32(3)
        .u32(3)
        .bytes(&[9, 9, 9])
        .pad();
    w.block(OBSOLETE_PB_TYPE, &b.v);
    out.extend(&w.v);
    // Second section, big-endian, with its own interface list.
    out.extend(shb(true));
    out.extend(idb(true, 9, 0, &[(9, vec![6])]));
    out.extend(epb(true, 0, 2_000_000, &[0xff, 0x03, 0x00, 0x21], 4));
    out.extend(epb(true, 1, 2_000_000, b"gone", 4));
    out
}

#[test]
fn pcapng_with_several_sections_and_interfaces_reads_each_packet_with_its_own_link() {
    let bytes = multi_interface_pcapng();
    let r = from_bytes(&bytes).unwrap();
    assert_eq!(r.info().format, CaptureFormat::PcapNg);
    let (pkts, skipped, sum) = read_all(r);
    assert_eq!(sum.truncation, None);
    assert_eq!(
        skipped, 2,
        "one packet per section on an undescribed interface"
    );
    let want: Vec<Pkt> = vec![
        (
            Timestamp(1_700_000_000_123_456_000),
            LinkType::ETHERNET,
            b"eth-frame".to_vec(),
            9,
            0,
        ),
        (
            Timestamp(105_000_000_001),
            LinkType::RAW,
            vec![0x45, 0, 0, 20],
            20,
            1,
        ),
        (
            Timestamp(3_500_000_000),
            LinkType::LINUX_SLL2,
            b"sll2".to_vec(),
            1500,
            2,
        ),
        (Timestamp(0), LinkType::ETHERNET, vec![0xAB; 60], 100, 0),
        (
            Timestamp(100_000_000_007),
            LinkType::RAW,
            vec![9, 9, 9],
            3,
            1,
        ),
        (
            Timestamp(2_000_000_000),
            LinkType::PPP,
            vec![0xff, 0x03, 0x00, 0x21],
            4,
            0,
        ),
    ];
    assert_eq!(pkts, want);
    assert_eq!(sum.packets, 6);
}

#[test]
fn a_pcapng_cut_at_every_offset_gives_a_prefix() {
    let bytes = multi_interface_pcapng();
    let (full, _, _) = read_all(from_bytes(&bytes).unwrap());
    let shb_len = shb(false).len();
    // Block boundaries, following the byte order of each section.
    let mut bounds = vec![];
    let (mut at, mut big) = (0usize, false);
    while at < bytes.len() {
        if read_u32(&bytes, at, false) == Some(SHB_TYPE) {
            big = read_u32(&bytes, at + 8, false) != Some(BYTE_ORDER_MAGIC);
        }
        at += read_u32(&bytes, at + 4, big).unwrap() as usize;
        bounds.push(at);
    }
    assert_eq!(bounds.len(), 16);
    assert_eq!(*bounds.last().unwrap(), bytes.len());
    for cut in 0..=bytes.len() {
        match from_bytes(&bytes[..cut]) {
            Err(e) => {
                assert!(cut < shb_len, "cut {cut}: {e}");
            }
            Ok(r) => {
                assert!(cut >= shb_len);
                let (pkts, _, sum) = read_all(r);
                assert_eq!(pkts[..], full[..pkts.len()], "cut {cut}");
                let last = *bounds.iter().filter(|&&b| b <= cut).max().unwrap();
                if bounds.contains(&cut) {
                    assert_eq!(sum.truncation, None, "cut {cut}");
                } else {
                    let t = sum.truncation.expect("a cut mid-block is reported");
                    assert_eq!(t.offset, last as u64, "cut {cut}");
                    assert!(t.what.contains("cut short"), "{}", t.what);
                }
            }
        }
    }
}

#[test]
fn corrupt_pcapng_blocks_end_the_packets_with_a_reason() {
    // A block whose trailing length disagrees with its leading one.
    let mut bytes = shb(false);
    bytes.extend(idb(false, 1, 0, &[]));
    bytes.extend(epb(false, 0, 1, b"ok", 2));
    let bad_at = bytes.len();
    let mut bad = epb(false, 0, 2, b"bad", 3);
    let n = bad.len();
    bad[n - 4] ^= 0x40;
    bytes.extend(bad);
    bytes.extend(epb(false, 0, 3, b"after", 5));
    let (pkts, _, sum) = read_all(from_bytes(&bytes).unwrap());
    assert_eq!(pkts.len(), 1);
    let t = sum.truncation.unwrap();
    assert_eq!(t.offset, bad_at as u64);
    assert!(t.what.contains("at its end"), "{}", t.what);

    // A block length that is not a multiple of 4, or absurdly large.
    for len in [13u32, 0x7fff_fff0] {
        let mut bytes = shb(false);
        let mut w = W::new(false);
        w.u32(EPB_TYPE).u32(len).bytes(&[0; 24]);
        bytes.extend(w.v);
        let (pkts, _, sum) = read_all(from_bytes(&bytes).unwrap());
        assert!(pkts.is_empty());
        assert!(sum.truncation.unwrap().what.contains("impossible length"));
    }

    // An Enhanced Packet Block whose captured length overruns the block is skipped.
    let mut bytes = shb(false);
    bytes.extend(idb(false, 1, 0, &[]));
    let mut b = W::new(false);
    b.u32(0).u32(0).u32(0).u32(500).u32(500).bytes(&[0; 8]);
    let mut w = W::new(false);
    w.block(EPB_TYPE, &b.v);
    bytes.extend(w.v);
    bytes.extend(epb(false, 0, 3, b"after", 5));
    let r = from_bytes(&bytes).unwrap();
    let (pkts, skipped, sum) = read_all(r);
    assert_eq!(skipped, 1);
    assert_eq!(pkts.len(), 1);
    assert_eq!(pkts[0].2, b"after".to_vec());
    assert_eq!(sum.truncation, None);
}

#[test]
fn pcapng_timestamp_units() {
    assert_eq!(
        pcapng_timestamp(1, TsUnit::Pow10(0), 0),
        Timestamp(1_000_000_000)
    );
    assert_eq!(pcapng_timestamp(1_234, TsUnit::Pow10(12), 0), Timestamp(1));
    assert_eq!(pcapng_timestamp(5, TsUnit::Pow10(100), 0), Timestamp(0));
    assert_eq!(
        pcapng_timestamp(3, TsUnit::Pow2(1), -2),
        Timestamp(-500_000_000)
    );
    assert_eq!(
        pcapng_timestamp(u64::MAX, TsUnit::Pow10(0), 0),
        Timestamp(i64::MAX)
    );
    assert_eq!(pcapng_timestamp(1, TsUnit::Pow2(127), 0), Timestamp(0));
    assert_eq!(TsUnit::from_tsresol(0x86), TsUnit::Pow2(6));
}

#[test]
fn open_errors_say_what_is_wrong() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.pcap");
    let e = CaptureReader::open(&missing).unwrap_err();
    assert!(matches!(e, CaptureError::NotFound { .. }));
    assert!(e.to_string().contains("nope.pcap"), "{e}");
    assert!(e.to_string().contains("does not exist"), "{e}");

    let e = CaptureReader::open(dir.path()).unwrap_err();
    assert!(matches!(e, CaptureError::IsDirectory { .. }), "{e}");

    let empty = dir.path().join("empty.pcap");
    std::fs::write(&empty, b"").unwrap();
    let e = CaptureReader::open(&empty).unwrap_err();
    assert!(matches!(e, CaptureError::Empty { .. }), "{e}");

    let text = dir.path().join("notes.txt");
    std::fs::write(&text, b"GET / HTTP/1.1\r\nHost: x\r\n").unwrap();
    let e = CaptureReader::open(&text).unwrap_err();
    let msg = e.to_string();
    assert!(msg.contains("47 45 54 20 2f 20 48 54"), "{msg}");
    assert!(msg.contains("GET / HT"), "{msg}");
    assert!(msg.contains("pcap and pcapng"), "{msg}");
    assert!(msg.contains("text file"), "{msg}");

    let e = from_bytes(&[0x28, 0xb5, 0x2f, 0xfd, 0, 0, 0, 0]).unwrap_err();
    assert!(e.to_string().contains("zstd -d"), "{e}");

    // A gzip file whose content is not a capture, and a damaged gzip header.
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(b"hello, world").unwrap();
    let gz = gz.finish().unwrap();
    let e = from_bytes(&gz).unwrap_err();
    assert!(matches!(e, CaptureError::NotACapture { .. }), "{e}");
    let e = from_bytes(&[0x1f, 0x8b, 0x99, 0x99, 0x99]).unwrap_err();
    assert!(matches!(e, CaptureError::Gzip { .. }), "{e}");

    // A pcapng whose first section header is broken.
    let mut bytes = shb(false);
    bytes[8] = 0;
    let e = from_bytes(&bytes).unwrap_err();
    assert!(e.to_string().contains("byte-order"), "{e}");
}

/// `cargo test --release -- --ignored reads_a_million`: the reader (with hashing) must
/// manage over a million packets a second in release builds.
#[test]
#[ignore]
fn reads_a_million_packets_quickly() {
    let mut w = W::new(false);
    w.bytes(&pcap_header(false, false, 1));
    for i in 0..1_000_000u32 {
        w.u32(1_700_000_000)
            .u32(i % 1_000_000)
            .u32(64)
            .u32(64)
            .bytes(&[0x5a; 64]);
    }
    let start = std::time::Instant::now();
    let (mut n, mut r) = (0u64, from_bytes(&w.v).unwrap());
    while let Some(p) = r.next_packet() {
        n += p.data.len() as u64 / 64;
    }
    let elapsed = start.elapsed();
    let sum = r.finish();
    assert_eq!((n, sum.packets), (1_000_000, 1_000_000));
    let rate = n as f64 / elapsed.as_secs_f64();
    eprintln!("{rate:.0} packets/s");
    if !cfg!(debug_assertions) {
        assert!(rate > 1_000_000.0, "{rate:.0} packets/s");
    }
}

#[test]
fn the_reader_is_send() {
    fn is_send<T: Send>() {}
    is_send::<CaptureReader>();
}

/// A pipe's reading end: blocks until the writer sends more, ends when it is gone.
struct PipeEnd {
    rx: std::sync::mpsc::Receiver<Vec<u8>>,
    left: Vec<u8>,
}

impl std::io::Read for PipeEnd {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.left.is_empty() {
            match self.rx.recv() {
                Ok(more) => self.left = more,
                Err(_) => return Ok(0),
            }
        }
        let n = buf.len().min(self.left.len());
        buf[..n].copy_from_slice(&self.left[..n]);
        self.left.drain(..n);
        Ok(n)
    }
}

#[test]
fn a_pipe_between_two_writes_is_seen_as_waiting_and_its_end_is_not() {
    let mut demo = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/demo.pcapng"
    ))
    .unwrap();
    // the blocks after the last packet (statistics) go: the pipe pauses right after a packet
    loop {
        let n = demo.len();
        let len = u32::from_le_bytes(demo[n - 4..].try_into().unwrap()) as usize;
        let kind = u32::from_le_bytes(demo[n - len..n - len + 4].try_into().unwrap());
        if kind == 6 {
            break;
        }
        demo.truncate(n - len);
    }
    let all = {
        let mut whole = CaptureReader::from_reader_with(
            "whole",
            Box::new(Cursor::new(demo.clone())),
            InputDigest::Skip,
        )
        .unwrap();
        let mut n = 0;
        while whole.next_packet().is_some() {
            n += 1;
        }
        n
    };
    let (tx, rx) = std::sync::mpsc::channel();
    tx.send(demo.clone()).unwrap();
    let pipe = PipeEnd {
        rx,
        left: Vec::new(),
    };
    let mut r =
        CaptureReader::from_reader_on("pipe", Box::new(pipe), InputDigest::Skip, false).unwrap();
    let mut n = 0;
    // every packet written so far is read without waiting for more
    while n < all {
        assert!(r.next_packet().is_some(), "packet {n}");
        n += 1;
    }
    let started = std::time::Instant::now();
    while !r.would_wait() {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(5),
            "never seen waiting"
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    // the writer goes: the end is not a wait
    drop(tx);
    let started = std::time::Instant::now();
    while r.would_wait() {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(5),
            "the end was never seen"
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert!(r.next_packet().is_none());
}
