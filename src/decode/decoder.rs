//! The `Decoder`: one captured packet in, one IP packet (or a held fragment, or a reason)
//! out. It holds the fragment reassembly table and counts what it saw.

use super::frag::{FragLimits, FragStats, Reassembler};
use super::frame::Frame;
use super::{DecodeError, Decoded, IpPacket, ip, link, transport};
use crate::capture::RawPacket;

/// What the decoder has seen so far.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DecodeStats {
    /// Packets given to [`Decoder::decode`].
    pub packets: u64,
    /// IP packets decoded, reassembled datagrams included.
    pub ip_packets: u64,
    pub malformed: u64,
    pub unsupported: u64,
    /// Cut by the snapshot length before their headers ended.
    pub truncated: u64,
    /// Packets that were fragments held for reassembly ([`Decoded::FragmentHeld`]).
    pub fragments_held: u64,
    /// Datagrams waiting for more fragments right now.
    pub datagrams_in_flight: u64,
    pub frag: FragStats,
}

/// Decodes captured packets: link layer → IP → TCP/UDP, with fragment reassembly.
pub struct Decoder {
    frags: Reassembler,
    stats: DecodeStats,
}

impl Default for Decoder {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for Decoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Decoder")
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

fn count(stats: &mut DecodeStats, e: DecodeError) -> DecodeError {
    match e {
        DecodeError::Malformed(_) => stats.malformed += 1,
        DecodeError::Unsupported(_) => stats.unsupported += 1,
        DecodeError::Truncated(_) => stats.truncated += 1,
    }
    e
}

impl Decoder {
    pub fn new() -> Self {
        Self::with_limits(FragLimits::default())
    }

    pub fn with_limits(limits: FragLimits) -> Self {
        Decoder {
            frags: Reassembler::new(limits),
            stats: DecodeStats::default(),
        }
    }

    pub fn stats(&self) -> DecodeStats {
        let mut s = self.stats;
        s.frag = self.frags.stats();
        s.datagrams_in_flight = self.frags.in_flight() as u64;
        s
    }

    /// Decodes one packet. A reassembled datagram borrows the decoder's buffer, so it must be
    /// used before the next call.
    pub fn decode<'a>(&'a mut self, pkt: &RawPacket<'a>) -> Result<Decoded<'a>, DecodeError> {
        self.stats.packets += 1;
        let wire = usize::try_from(pkt.orig_len).unwrap_or(usize::MAX);
        let frame = Frame::new(pkt.data, wire);
        let layer = match link::strip(pkt.link, frame).and_then(ip::parse) {
            Ok(l) => l,
            Err(e) => return Err(count(&mut self.stats, e)),
        };
        let Some(frag) = layer.fragment else {
            return match transport::transport(layer.protocol, layer.payload) {
                Ok(up) => {
                    self.stats.ip_packets += 1;
                    Ok(Decoded::Ip(IpPacket {
                        src: layer.src,
                        dst: layer.dst,
                        ip_len: layer.ip_len,
                        transport: up.transport,
                        payload: up.payload,
                        payload_len: up.payload_len,
                    }))
                }
                Err(e) => Err(count(&mut self.stats, e)),
            };
        };
        if layer.payload.data.len() < layer.payload.wire {
            return Err(count(
                &mut self.stats,
                DecodeError::Truncated("IP fragment cut by the snapshot length"),
            ));
        }
        let added = self.frags.add(
            pkt.ts,
            layer.src,
            layer.dst,
            layer.protocol,
            frag,
            layer.ip_len,
            layer.payload.data,
        );
        let done = match added {
            Ok(Some(done)) => done,
            Ok(None) => {
                self.stats.fragments_held += 1;
                return Ok(Decoded::FragmentHeld);
            }
            Err(e) => return Err(count(&mut self.stats, e)),
        };
        let data = self.frags.completed();
        let up = ip::upper_layer(layer.v6, done.protocol, data)
            .and_then(|(protocol, seg)| transport::transport(protocol, seg));
        match up {
            Ok(up) => {
                self.stats.ip_packets += 1;
                Ok(Decoded::Ip(IpPacket {
                    src: done.src,
                    dst: done.dst,
                    ip_len: u32::try_from(done.wire).unwrap_or(u32::MAX),
                    transport: up.transport,
                    payload: up.payload,
                    payload_len: up.payload_len,
                }))
            }
            Err(e) => Err(count(&mut self.stats, e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::LinkType;
    use crate::capture::file::CaptureReader;
    use crate::decode::{TcpInfo, Transport, tcp_flags};
    use crate::time::Timestamp;
    use etherparse::PacketBuilder;
    use std::net::IpAddr;
    use std::path::PathBuf;

    fn raw(link: LinkType, data: &[u8]) -> RawPacket<'_> {
        RawPacket {
            ts: Timestamp(0),
            link,
            data,
            orig_len: data.len() as u32,
            interface: 0,
        }
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    /// An IPv4 UDP packet 10.1.1.1:5353 → 10.2.2.2:53 carrying "query".
    fn udp4() -> Vec<u8> {
        let mut v = Vec::new();
        PacketBuilder::ipv4([10, 1, 1, 1], [10, 2, 2, 2], 64)
            .udp(5353, 53)
            .write(&mut v, b"query")
            .unwrap();
        v
    }

    fn expect_udp4(d: Result<Decoded<'_>, DecodeError>) {
        let Ok(Decoded::Ip(p)) = d else {
            panic!("not decoded: {d:?}")
        };
        assert_eq!((p.src, p.dst), (ip("10.1.1.1"), ip("10.2.2.2")));
        assert_eq!(
            p.transport,
            Transport::Udp {
                src_port: 5353,
                dst_port: 53
            }
        );
        assert_eq!((p.payload, p.payload_len, p.ip_len), (&b"query"[..], 5, 33));
    }

    fn with(prefix: &[u8], inner: &[u8]) -> Vec<u8> {
        let mut v = prefix.to_vec();
        v.extend(inner);
        v
    }

    #[test]
    fn every_link_type_reaches_the_udp_payload() {
        let inner = udp4();
        let eth = with(&[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 0x08, 0x00], &inner);
        let qinq = with(
            &[
                1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 0x88, 0xa8, 0, 1, 0x81, 0, 0, 2, 0x08, 0,
            ],
            &inner,
        );
        let mpls = with(
            &[
                1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 0x88, 0x47, 0, 1, 0x10, 0x40, 0, 2, 0x21,
                0x40,
            ],
            &inner,
        );
        let pppoe_len = (inner.len() + 2) as u8;
        let pppoe = with(
            &[
                1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 0x88, 0x64, 0x11, 0, 0, 9, 0, pppoe_len, 0,
                0x21,
            ],
            &inner,
        );
        let sll = with(
            &[0, 0, 0, 1, 0, 6, 1, 2, 3, 4, 5, 6, 0, 0, 0x08, 0x00],
            &inner,
        );
        let sll2 = with(
            &[
                0x08, 0x00, 0, 0, 0, 0, 0, 2, 0, 1, 0, 6, 1, 2, 3, 4, 5, 6, 0, 0,
            ],
            &inner,
        );
        let null_le = with(&[2, 0, 0, 0], &inner);
        let null_be = with(&[0, 0, 0, 2], &inner);
        let ppp = with(&[0xff, 0x03, 0x00, 0x21], &inner);
        let ppp_ether = with(&[0x11, 0, 0, 9, 0, pppoe_len, 0x00, 0x21], &inner);
        let cases: Vec<(LinkType, &[u8])> = vec![
            (LinkType::ETHERNET, &eth),
            (LinkType::ETHERNET, &qinq),
            (LinkType::ETHERNET, &mpls),
            (LinkType::ETHERNET, &pppoe),
            (LinkType::LINUX_SLL, &sll),
            (LinkType::LINUX_SLL2, &sll2),
            (LinkType::NULL, &null_le),
            (LinkType::NULL, &null_be),
            (LinkType::LOOP, &null_be),
            (LinkType::PPP, &ppp),
            (LinkType::PPP_HDLC, &ppp),
            (LinkType::PPP_ETHER, &ppp_ether),
            (LinkType::RAW, &inner),
            (LinkType::RAW_12, &inner),
            (LinkType::RAW_14, &inner),
            (LinkType::IPV4, &inner),
        ];
        let mut d = Decoder::new();
        for (link, bytes) in &cases {
            expect_udp4(d.decode(&raw(*link, bytes)));
        }
        assert_eq!(d.stats().ip_packets, cases.len() as u64);
        // IPv4 bytes on the IPv6 link type are malformed.
        assert!(matches!(
            d.decode(&raw(LinkType::IPV6, &inner)),
            Err(DecodeError::Malformed(_))
        ));
    }

    #[test]
    fn tcp_over_ipv6_with_flags_and_a_snaplen_cut_payload() {
        let mut v = Vec::new();
        let src = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
        let dst = [0x26, 0x20, 0, 0xfe, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9];
        PacketBuilder::ipv6(src, dst, 64)
            .tcp(50000, 443, 1, 4096)
            .syn()
            .write(&mut v, &[0x16; 100])
            .unwrap();
        let cut = &v[..70];
        let pkt = RawPacket {
            ts: Timestamp(0),
            link: LinkType::IPV6,
            data: cut,
            orig_len: v.len() as u32,
            interface: 0,
        };
        let mut d = Decoder::new();
        let Ok(Decoded::Ip(p)) = d.decode(&pkt) else {
            panic!()
        };
        assert_eq!(p.src, ip("2001:db8::1"));
        assert_eq!(p.dst, ip("2620:fe::9"));
        assert_eq!(
            p.transport,
            Transport::Tcp(TcpInfo {
                src_port: 50000,
                dst_port: 443,
                seq: 1,
                ack: 0,
                flags: tcp_flags::SYN
            })
        );
        assert_eq!((p.payload.len(), p.payload_len, p.ip_len), (10, 100, 160));
        // Cut inside the TCP header: truncated, and counted.
        let pkt = RawPacket {
            data: &v[..50],
            ..pkt
        };
        assert_eq!(
            d.decode(&pkt).unwrap_err(),
            DecodeError::Truncated("TCP header")
        );
        assert_eq!(d.stats().truncated, 1);
    }

    /// Splits an IP packet built by etherparse into fragments of `chunk` bytes of data.
    fn fragment_v4(packet: &[u8], chunk: usize, id: u16) -> Vec<Vec<u8>> {
        let data = &packet[20..];
        let mut out = Vec::new();
        for (i, part) in data.chunks(chunk).enumerate() {
            let off = i * chunk;
            let more = off + part.len() < data.len();
            let mut h = packet[..20].to_vec();
            let total = (20 + part.len()) as u16;
            h[2..4].copy_from_slice(&total.to_be_bytes());
            h[4..6].copy_from_slice(&id.to_be_bytes());
            let flags_off = ((off / 8) as u16) | if more { 0x2000 } else { 0 };
            h[6..8].copy_from_slice(&flags_off.to_be_bytes());
            h.extend(part);
            out.push(h);
        }
        out
    }

    fn fragment_v6(packet: &[u8], chunk: usize, id: u32) -> Vec<Vec<u8>> {
        let next = packet[6];
        let data = &packet[40..];
        let mut out = Vec::new();
        for (i, part) in data.chunks(chunk).enumerate() {
            let off = i * chunk;
            let more = off + part.len() < data.len();
            let mut h = packet[..40].to_vec();
            h[6] = 44;
            h[4..6].copy_from_slice(&((8 + part.len()) as u16).to_be_bytes());
            let off_flags = ((off / 8) as u16) << 3 | u16::from(more);
            h.extend([next, 0]);
            h.extend(off_flags.to_be_bytes());
            h.extend(id.to_be_bytes());
            h.extend(part);
            out.push(h);
        }
        out
    }

    #[test]
    fn udp_datagrams_fragmented_out_of_order_are_reassembled() {
        let payload: Vec<u8> = (0..1000u32).map(|i| (i % 256) as u8).collect();
        let mut v4 = Vec::new();
        PacketBuilder::ipv4([192, 168, 0, 2], [8, 8, 8, 8], 64)
            .udp(40000, 53)
            .write(&mut v4, &payload)
            .unwrap();
        let mut v6 = Vec::new();
        let a = [0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
        let b = [0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2];
        PacketBuilder::ipv6(a, b, 64)
            .udp(40001, 443)
            .write(&mut v6, &payload)
            .unwrap();
        for (link, frags, src, port, wire) in [
            (
                LinkType::IPV4,
                fragment_v4(&v4, 296, 0x4242),
                "192.168.0.2",
                53u16,
                1008 + 4 * 20,
            ),
            (
                LinkType::IPV6,
                fragment_v6(&v6, 296, 0xabcd),
                "fd00::1",
                443,
                1008 + 4 * 48,
            ),
        ] {
            assert_eq!(frags.len(), 4);
            let mut d = Decoder::new();
            // Last first, then the others in a shuffled order.
            for i in [3, 1, 0] {
                assert!(matches!(
                    d.decode(&raw(link, &frags[i])),
                    Ok(Decoded::FragmentHeld)
                ));
            }
            assert_eq!(d.stats().datagrams_in_flight, 1);
            let Ok(Decoded::Ip(p)) = d.decode(&raw(link, &frags[2])) else {
                panic!("not reassembled")
            };
            assert_eq!(p.src, ip(src));
            assert!(matches!(p.transport, Transport::Udp { dst_port, .. } if dst_port == port));
            assert_eq!(p.payload, &payload[..]);
            assert_eq!(p.payload_len, 1000);
            assert_eq!(p.ip_len, wire as u32);
            let s = d.stats();
            assert_eq!(
                (s.fragments_held, s.ip_packets, s.frag.reassembled),
                (3, 1, 1)
            );
            assert_eq!(s.datagrams_in_flight, 0);
        }
    }

    #[test]
    fn the_in_flight_cap_evicts_and_counts() {
        let limits = FragLimits {
            max_datagrams: 16,
            ..FragLimits::default()
        };
        let mut d = Decoder::with_limits(limits);
        let mut v4 = Vec::new();
        PacketBuilder::ipv4([192, 168, 0, 2], [8, 8, 8, 8], 64)
            .udp(40000, 53)
            .write(&mut v4, &[0u8; 100])
            .unwrap();
        let mut lasts = Vec::new();
        for id in 0..40u16 {
            let f = fragment_v4(&v4, 56, id);
            assert!(matches!(
                d.decode(&raw(LinkType::IPV4, &f[0])),
                Ok(Decoded::FragmentHeld)
            ));
            lasts.push(f[1].clone());
        }
        let s = d.stats();
        assert_eq!(s.datagrams_in_flight, 16);
        assert_eq!(s.frag.evicted, 24);
        // The newest datagram still completes; an evicted one starts over.
        assert!(matches!(
            d.decode(&raw(LinkType::IPV4, &lasts[39])),
            Ok(Decoded::Ip(_))
        ));
        assert!(matches!(
            d.decode(&raw(LinkType::IPV4, &lasts[0])),
            Ok(Decoded::FragmentHeld)
        ));
    }

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

    /// What decoding a whole capture gave.
    #[derive(Debug, Default)]
    struct Outcome {
        ip: usize,
        ip_len_sum: u64,
        payload_len_sum: u64,
        /// (src, dst, src port, dst port) of the first IP packet.
        first: Option<(IpAddr, IpAddr, u16, u16)>,
        errors: Vec<DecodeError>,
        stats: DecodeStats,
    }

    fn decode_file(path: &std::path::Path) -> Outcome {
        let mut r = CaptureReader::open(path).unwrap();
        let mut d = Decoder::new();
        let mut o = Outcome::default();
        while let Some(pkt) = r.next_packet() {
            match d.decode(&pkt) {
                Ok(Decoded::Ip(p)) => {
                    o.ip += 1;
                    o.ip_len_sum += u64::from(p.ip_len);
                    o.payload_len_sum += u64::from(p.payload_len);
                    assert!(p.payload.len() <= p.payload_len as usize);
                    if o.first.is_none() {
                        let (sp, dp) = match p.transport {
                            Transport::Tcp(t) => (t.src_port, t.dst_port),
                            Transport::Udp { src_port, dst_port } => (src_port, dst_port),
                            Transport::Other { .. } => (0, 0),
                        };
                        o.first = Some((p.src, p.dst, sp, dp));
                    }
                }
                Ok(Decoded::FragmentHeld) => {}
                Err(e) => o.errors.push(e),
            }
        }
        o.stats = d.stats();
        o
    }

    #[test]
    fn shared_captures_decode_like_tshark() {
        let Some(dir) = shared() else { return };
        // (file, IP packets, sum of IP lengths, sum of payload lengths, first packet) as
        // tshark 4.0 reports them (payload: tcp.len, udp.length - 8).
        type Row = (
            &'static str,
            usize,
            u64,
            Option<u64>,
            Option<(&'static str, &'static str, u16, u16)>,
        );
        let v4dns = Some(("192.168.1.100", "9.9.9.9", 12345, 53));
        let v6dns = Some(("2001:db8::1", "2620:fe::9", 12345, 53));
        let http = Some(("141.142.228.5", "192.150.187.43", 59856, 80));
        let rows: &[Row] = &[
            ("tcpdump/802.1ad_QinQ.pcap", 0, 0, None, None),
            ("tcpdump/LINKTYPE_IPV4.pcap", 1, 57, Some(29), v4dns),
            ("tcpdump/LINKTYPE_IPV6.pcap", 1, 77, Some(29), v6dns),
            ("tcpdump/LINKTYPE_RAW_ipv4.pcap", 1, 57, Some(29), v4dns),
            ("tcpdump/LINKTYPE_RAW_ipv6.pcap", 1, 77, Some(29), v6dns),
            ("tcpdump/pppoes.pcap", 0, 0, None, None),
            ("tcpdump/ppp_ip_udp_dns.pcap", 0, 0, None, None),
            (
                "zeek/mixed-vlan-mpls.pcap",
                47,
                15327,
                Some(12979),
                Some(("10.1.2.1", "10.34.0.1", 11001, 23)),
            ),
            ("zeek/vlan-qinqinq.pcap", 14, 5891, Some(5143), http),
            (
                "zeek/pppoe-over-qinq.pcap",
                86,
                38284,
                Some(34520),
                Some(("1.1.1.1", "2.2.2.2", 20394, 443)),
            ),
            // ICMP and ICMPv6 echoes: the payload is the IP payload, 2 × 64 + 2 × 64.
            (
                "zeek/linux_dlt_sll2.pcap",
                4,
                376,
                Some(256),
                Some(("192.0.2.1", "192.0.2.1", 0, 0)),
            ),
            ("zeek/linuxsll-arp.pcap", 0, 0, None, None),
            ("zeek/http-vlan-0.pcap", 14, 5891, Some(5143), http),
            ("zeek/http-qinq-0.pcap", 14, 5891, Some(5143), http),
            (
                "tcpdump/gso-ipv6.pcap",
                1,
                7212,
                Some(7140),
                Some((
                    "2604:1380:4091:ce00::b",
                    "2604:1380:4091:ce00::d",
                    36539,
                    45393,
                )),
            ),
            // tshark cannot size these (length fields 0); the captured lengths are
            // 80066 - 14 and 80054 - 14, TCP headers 32 bytes.
            (
                "tcpdump/bigtcp-ipv4.pcap",
                1,
                80052,
                Some(80000),
                Some(("10.25.132.13", "10.25.132.11", 35871, 36425)),
            ),
            (
                "tcpdump/bigtcp-ipv6.pcap",
                1,
                80040,
                Some(79968),
                Some((
                    "2604:1380:4091:ce00::b",
                    "2604:1380:4091:ce00::d",
                    43267,
                    41219,
                )),
            ),
            (
                "zeek/chksums_ip6-route0-tcp-good-chksum.pcap",
                1,
                100,
                Some(0),
                Some((
                    "2001:4f8:4:7:2e0:81ff:fe52:ffff",
                    "2001:4f8:4:7:2e0:81ff:fe52:9a6b",
                    30000,
                    80,
                )),
            ),
            (
                "zeek/vlan-pcp-dei.pcapng",
                9,
                360,
                Some(0),
                Some(("192.168.1.100", "192.168.1.200", 12345, 80)),
            ),
            (
                "tcpdump/quic_vn.pcap",
                25,
                9643,
                Some(8443),
                Some(("::1", "::1", 57406, 443)),
            ),
            (
                "zeek/communityid_ipv6.pcap",
                17,
                1294,
                None,
                Some((
                    "2001:470:e5bf:dead:4957:2174:e82c:4887",
                    "2607:f8b0:400c:c03::1a",
                    63943,
                    25,
                )),
            ),
            // The outer packets only: VXLAN's inner frames are the dissectors' business.
            (
                "tcpdump/vxlan.pcap",
                10,
                1228,
                Some(948),
                Some(("192.168.203.1", "192.168.202.1", 45149, 4789)),
            ),
        ];
        for (file, n, ip_len, payload, first) in rows {
            let o = decode_file(&dir.join(file));
            assert_eq!(o.ip, *n, "{file}: {:?}", o.errors);
            assert_eq!(o.ip_len_sum, *ip_len, "{file}");
            if let Some(p) = payload {
                assert_eq!(o.payload_len_sum, *p, "{file}");
            }
            let want = first.map(|(s, d, sp, dp)| (ip(s), ip(d), sp, dp));
            assert_eq!(o.first, want, "{file}");
        }
    }

    #[test]
    fn non_ip_shared_captures_say_why() {
        let Some(dir) = shared() else { return };
        let o = decode_file(&dir.join("tcpdump/802.1ad_QinQ.pcap"));
        assert_eq!(o.errors, vec![DecodeError::Unsupported("ARP"); 2]);
        let o = decode_file(&dir.join("tcpdump/pppoes.pcap"));
        assert_eq!(o.errors, vec![DecodeError::Unsupported("PPP LCP"); 2]);
        let o = decode_file(&dir.join("zeek/linuxsll-arp.pcap"));
        assert_eq!(o.errors, vec![DecodeError::Unsupported("ARP"); 12]);
        assert_eq!(o.stats.unsupported, 12);
        let o = decode_file(&dir.join("zeek/linux_dlt_sll2.pcap"));
        assert_eq!(o.errors, vec![DecodeError::Unsupported("ARP"); 2]);
    }

    #[test]
    fn fuzz_reproducers_decode_without_panic_and_are_counted() {
        let Some(dir) = shared() else { return };
        let cases: &[(&str, DecodeError)] = &[
            (
                "tcpdump/ipv6-next-header-oobr-1.pcap",
                DecodeError::Truncated("IPv6 extension header"),
            ),
            // A second hop-by-hop header: malformed whatever the snapshot length.
            (
                "tcpdump/ipv6hdr-heapoverflow.pcap",
                DecodeError::Malformed("IPv6 extension headers out of order"),
            ),
            // 39 bytes of IPv6 header, and the frame was no longer than that.
            (
                "tcpdump/ipv6_invalid_length.pcap",
                DecodeError::Malformed("IPv6 header"),
            ),
            (
                "tcpdump/ipv6_frag6_negative_len.pcap",
                DecodeError::Truncated("IP fragment cut by the snapshot length"),
            ),
            (
                "tcpdump/LINKTYPE_IPV4_invalid.pcap",
                DecodeError::Malformed("a packet announced as IPv4 has another IP version"),
            ),
        ];
        for (file, want) in cases {
            let o = decode_file(&dir.join(file));
            assert_eq!(o.ip, 0, "{file}");
            assert_eq!(o.errors, vec![*want], "{file}");
            let s = o.stats;
            assert_eq!(s.packets, 1);
            assert_eq!(s.malformed + s.truncated + s.unsupported, 1, "{file}");
        }
    }

    #[test]
    fn every_shared_capture_decodes_and_every_packet_is_accounted_for() {
        let Some(dir) = shared() else { return };
        for sub in ["tcpdump", "zeek"] {
            for entry in std::fs::read_dir(dir.join(sub)).unwrap() {
                let path = entry.unwrap().path();
                let o = decode_file(&path);
                let s = o.stats;
                assert_eq!(
                    s.ip_packets + s.malformed + s.unsupported + s.truncated + s.fragments_held,
                    s.packets,
                    "{}",
                    path.display()
                );
                assert_eq!(s.ip_packets, o.ip as u64);
            }
        }
    }
}
