//! The demo capture's synthesizer: five minutes of a Plex Media Server whose owner opted out of
//! data sharing, made deterministically (`synth` for frames and pcapng, `payload` for DNS, TLS,
//! HTTP, GDM, NAT-PMP and mDNS bytes, `quic` for a really encrypted QUIC Initial, `scenario` for
//! the flow table and the generator, `bulk` for the bench captures). The program compiles in the
//! committed bytes (`telltale::demo::DEMO_CAPTURE`); a test holds them to what this writes.

pub mod bulk;
pub mod payload;
pub mod quic;
pub mod scenario;
pub mod synth;

use std::net::SocketAddr;

pub use synth::{Frame, SynthError};
pub use telltale::demo::{DEMO_CAPTURE, DEMO_PREFERENCES, demo_settings};

/// The application name recorded in the capture's Section Header Block.
pub const GENERATOR: &str = "telltale demo capture generator";

/// One flow of the demo capture and what the audit should say about it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DemoFlow {
    pub purpose: &'static str,
    /// The side that sent the flow's first packet.
    pub client: SocketAddr,
    pub server: SocketAddr,
    /// "tcp" or "udp".
    pub protocol: &'static str,
    /// The name the wire reveals for the server, if any.
    pub host: Option<&'static str>,
    /// Where that name comes from: "tls_sni" | "http_host" | "dns_answer" | "quic_sni" | "none".
    pub how: &'static str,
    /// "local" | "declared:<exception id>" | "flagged:<reason words>".
    pub expect: &'static str,
}

/// Every flow the demo capture holds (DNS lookups listed just before the flow they serve).
pub fn scenario() -> Vec<DemoFlow> {
    scenario::PLAN.iter().flat_map(|p| p.flows()).collect()
}

/// The demo capture's frames, in time order.
pub fn demo_frames() -> Result<Vec<Frame>, SynthError> {
    scenario::frames()
}

/// The demo capture as pcapng bytes, or why it could not be built.
pub fn try_demo_capture() -> Result<Vec<u8>, SynthError> {
    let frames = demo_frames()?;
    synth::write_pcapng(Vec::new(), &frames, GENERATOR)
}

/// The demo capture as pcapng bytes: the same bytes on every run.
///
/// # Panics
/// Only if the fixed scenario cannot be built, which the tests rule out.
pub fn demo_capture() -> Vec<u8> {
    match try_demo_capture() {
        Ok(bytes) => bytes,
        Err(e) => panic!("the built-in demo scenario is inconsistent: {e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use etherparse::{NetSlice, SlicedPacket, TransportSlice};
    use pcap_parser::pcapng::Block;
    use std::collections::{BTreeMap, BTreeSet};
    use std::net::IpAddr;

    /// One packet of the capture, decoded.
    struct Pkt {
        ts: i64,
        src: SocketAddr,
        dst: SocketAddr,
        tcp: bool,
        syn: bool,
        fin: bool,
        payload: Vec<u8>,
    }

    /// Reads a pcapng with pcap-parser: (link type, timestamp resolution, packets as (ns, data)).
    fn read_pcapng(bytes: &[u8]) -> (i32, u64, Vec<(i64, Vec<u8>)>) {
        let (rest, cap) = pcap_parser::parse_pcapng(bytes).expect("pcapng parses");
        assert!(rest.is_empty(), "trailing bytes after the last block");
        assert_eq!(cap.sections.len(), 1);
        let mut link = -1;
        let mut resol = 0;
        let mut packets = Vec::new();
        for block in &cap.sections[0].blocks {
            match block {
                Block::InterfaceDescription(idb) => {
                    link = idb.linktype.0;
                    resol = idb.ts_resolution().expect("resolution");
                }
                Block::EnhancedPacket(epb) => {
                    assert_eq!(epb.caplen, epb.origlen);
                    let ts = (u64::from(epb.ts_high) << 32) | u64::from(epb.ts_low);
                    let data = epb.data[..epb.caplen as usize].to_vec();
                    packets.push((ts as i64, data));
                }
                _ => {}
            }
        }
        (link, resol, packets)
    }

    fn decode(ts: i64, data: &[u8]) -> Pkt {
        let p = SlicedPacket::from_ethernet(data).expect("ethernet frame");
        let (src_ip, dst_ip): (IpAddr, IpAddr) = match &p.net {
            Some(NetSlice::Ipv4(ip)) => (
                ip.header().source_addr().into(),
                ip.header().destination_addr().into(),
            ),
            Some(NetSlice::Ipv6(ip)) => (
                ip.header().source_addr().into(),
                ip.header().destination_addr().into(),
            ),
            other => panic!("not IP: {other:?}"),
        };
        match &p.transport {
            Some(TransportSlice::Tcp(t)) => Pkt {
                ts,
                src: SocketAddr::new(src_ip, t.source_port()),
                dst: SocketAddr::new(dst_ip, t.destination_port()),
                tcp: true,
                syn: t.syn(),
                fin: t.fin(),
                payload: t.payload().to_vec(),
            },
            Some(TransportSlice::Udp(u)) => Pkt {
                ts,
                src: SocketAddr::new(src_ip, u.source_port()),
                dst: SocketAddr::new(dst_ip, u.destination_port()),
                tcp: false,
                syn: false,
                fin: false,
                payload: u.payload().to_vec(),
            },
            other => panic!("not TCP/UDP: {other:?}"),
        }
    }

    fn packets() -> Vec<Pkt> {
        let (_, _, raw) = read_pcapng(DEMO_CAPTURE);
        raw.iter().map(|(ts, d)| decode(*ts, d)).collect()
    }

    /// Packets grouped by flow (protocol, first sender, first receiver), in capture order.
    fn by_flow(pkts: &[Pkt]) -> BTreeMap<(&'static str, SocketAddr, SocketAddr), Vec<&Pkt>> {
        let mut flows: BTreeMap<(&'static str, SocketAddr, SocketAddr), Vec<&Pkt>> =
            BTreeMap::new();
        for p in pkts {
            let proto = if p.tcp { "tcp" } else { "udp" };
            let back = (proto, p.dst, p.src);
            if let Some(v) = flows.get_mut(&back) {
                v.push(p);
            } else {
                flows.entry((proto, p.src, p.dst)).or_default().push(p);
            }
        }
        flows
    }

    fn client_payloads(flow: &[&Pkt], client: SocketAddr) -> Vec<u8> {
        flow.iter()
            .filter(|p| p.src == client)
            .flat_map(|p| p.payload.iter().copied())
            .collect()
    }

    fn sni_of(client_hello: &[u8]) -> (Option<String>, Vec<String>) {
        let (_, msg) = tls_parser::parse_tls_message_handshake(client_hello).expect("handshake");
        let tls_parser::TlsMessage::Handshake(tls_parser::TlsMessageHandshake::ClientHello(ch)) =
            msg
        else {
            panic!("not a ClientHello")
        };
        let (_, exts) =
            tls_parser::parse_tls_client_hello_extensions(ch.ext.unwrap_or_default()).unwrap();
        let mut sni = None;
        let mut alpn = Vec::new();
        for e in exts {
            match e {
                tls_parser::TlsExtension::SNI(v) => {
                    sni = Some(String::from_utf8(v[0].1.to_vec()).unwrap())
                }
                tls_parser::TlsExtension::ALPN(v) => {
                    alpn = v
                        .iter()
                        .map(|p| String::from_utf8(p.to_vec()).unwrap())
                        .collect()
                }
                _ => {}
            }
        }
        (sni, alpn)
    }

    #[test]
    fn committed_fixture_matches_the_generator() {
        let fresh = demo_capture();
        assert!(
            fresh == DEMO_CAPTURE,
            "tests/fixtures/demo.pcapng is stale ({} bytes committed, {} generated): \
             run `cargo run --example make_demo_capture` and commit the result",
            DEMO_CAPTURE.len(),
            fresh.len()
        );
        assert_eq!(demo_capture(), fresh, "two runs differ");
    }

    #[test]
    fn capture_reads_back_with_increasing_times_and_right_checksums() {
        let (link, resol, raw) = read_pcapng(DEMO_CAPTURE);
        assert_eq!(link, 1, "Ethernet");
        assert_eq!(resol, 1_000_000_000, "nanosecond timestamps");
        assert_eq!(raw.len(), demo_frames().unwrap().len());
        assert_eq!(raw.len(), 1259);
        assert!(
            DEMO_CAPTURE.len() < 1_200_000,
            "{} bytes",
            DEMO_CAPTURE.len()
        );
        let start = scenario::START_SECS * 1_000_000_000;
        assert!(raw[0].0 >= start && raw[0].0 < start + 1_000_000_000);
        let span = raw[raw.len() - 1].0 - raw[0].0;
        assert!((280_000_000_000..300_000_000_000).contains(&span), "{span}");
        assert!(
            raw.windows(2).all(|w| w[0].0 < w[1].0),
            "timestamps must increase"
        );
        for (i, (_, data)) in raw.iter().enumerate() {
            let p = SlicedPacket::from_ethernet(data).unwrap();
            let ok = match (&p.net, &p.transport) {
                (Some(NetSlice::Ipv4(ip)), Some(t)) => {
                    let h = ip.header().to_header();
                    assert_eq!(h.calc_header_checksum(), h.header_checksum, "IPv4 #{i}");
                    match t {
                        TransportSlice::Tcp(tcp) => {
                            tcp.calc_checksum_ipv4(h.source, h.destination).unwrap()
                                == tcp.checksum()
                        }
                        TransportSlice::Udp(udp) => {
                            let uh = udp.to_header();
                            uh.calc_checksum_ipv4(&h, udp.payload()).unwrap() == uh.checksum
                        }
                        _ => false,
                    }
                }
                (Some(NetSlice::Ipv6(ip)), Some(t)) => {
                    let h = ip.header().to_header();
                    match t {
                        TransportSlice::Tcp(tcp) => {
                            tcp.calc_checksum_ipv6(h.source, h.destination).unwrap()
                                == tcp.checksum()
                        }
                        TransportSlice::Udp(udp) => {
                            let uh = udp.to_header();
                            uh.calc_checksum_ipv6(&h, udp.payload()).unwrap() == uh.checksum
                        }
                        _ => false,
                    }
                }
                _ => false,
            };
            assert!(ok, "packet #{i}: bad transport checksum");
        }
    }

    #[test]
    fn capture_holds_exactly_the_scenario_flows() {
        let pkts = packets();
        let flows = by_flow(&pkts);
        let seen: BTreeSet<_> = flows.keys().copied().collect();
        let listed: BTreeSet<_> = scenario()
            .iter()
            .map(|f| (f.protocol, f.client, f.server))
            .collect();
        assert_eq!(scenario().len(), listed.len(), "a flow is listed twice");
        let missing: Vec<_> = listed.difference(&seen).collect();
        let extra: Vec<_> = seen.difference(&listed).collect();
        assert!(
            missing.is_empty() && extra.is_empty(),
            "missing {missing:?}, extra {extra:?}"
        );
        assert_eq!(listed.len(), 41);
    }

    #[test]
    fn scenario_addresses_stay_in_documentation_and_lan_ranges() {
        let lan: BTreeSet<IpAddr> = scenario::lan().hosts.iter().map(|(a, _)| *a).collect();
        for f in scenario() {
            for a in [f.client.ip(), f.server.ip()] {
                let ok = lan.contains(&a)
                    || a.is_multicast()
                    || match a {
                        IpAddr::V4(v) => {
                            let o = v.octets();
                            matches!(
                                (o[0], o[1], o[2]),
                                (192, 0, 2) | (198, 51, 100) | (203, 0, 113)
                            )
                        }
                        IpAddr::V6(v) => v.segments()[0] == 0x2001 && v.segments()[1] == 0xdb8,
                    };
                assert!(ok, "{a} in {f:?}");
            }
            assert!(matches!(f.protocol, "tcp" | "udp"));
            assert!(matches!(
                f.how,
                "tls_sni" | "http_host" | "dns_answer" | "quic_sni" | "none"
            ));
            assert_eq!(f.host.is_some(), f.how != "none", "{f:?}");
            assert!(
                f.expect == "local"
                    || f.expect.starts_with("declared:")
                    || f.expect.starts_with("flagged:")
            );
        }
    }

    /// What DNS answered before `before` (ns): name -> addresses, following CNAMEs.
    fn dns_answers(pkts: &[Pkt], before: i64) -> Vec<(i64, String, IpAddr)> {
        let mut out = Vec::new();
        for p in pkts.iter().filter(|p| p.ts < before && p.src.port() == 53) {
            let msg = if p.tcp {
                if p.payload.len() < 2 {
                    continue;
                }
                &p.payload[2..]
            } else {
                &p.payload[..]
            };
            let dns = simple_dns::Packet::parse(msg).expect("DNS response parses");
            let qname = dns.questions[0].qname.to_string();
            for a in &dns.answers {
                let addr: Option<IpAddr> = match &a.rdata {
                    simple_dns::rdata::RData::A(x) => {
                        Some(std::net::Ipv4Addr::from(x.address).into())
                    }
                    simple_dns::rdata::RData::AAAA(x) => {
                        Some(std::net::Ipv6Addr::from(x.address).into())
                    }
                    _ => None,
                };
                if let Some(addr) = addr {
                    out.push((p.ts, qname.clone(), addr));
                }
            }
        }
        out
    }

    #[test]
    fn every_name_is_on_the_wire_where_the_scenario_says() {
        let pkts = packets();
        let flows = by_flow(&pkts);
        for f in scenario() {
            let flow = &flows[&(f.protocol, f.client, f.server)];
            let first_ts = flow[0].ts;
            let up = client_payloads(flow, f.client);
            match f.how {
                "tls_sni" | "dns_answer" => {
                    let (_, rec) = tls_parser::parse_tls_raw_record(&up).expect("TLS record");
                    assert_eq!(rec.hdr.record_type, tls_parser::TlsRecordType::Handshake);
                    let (sni, _) = sni_of(rec.data);
                    let want = if f.how == "tls_sni" {
                        f.host.map(String::from)
                    } else {
                        None
                    };
                    assert_eq!(sni, want, "{}", f.purpose);
                }
                "http_host" => {
                    let mut headers = [httparse::EMPTY_HEADER; 16];
                    let mut req = httparse::Request::new(&mut headers);
                    req.parse(&up).unwrap();
                    let host = req
                        .headers
                        .iter()
                        .find(|h| h.name.eq_ignore_ascii_case("host"));
                    assert_eq!(
                        host.map(|h| h.value),
                        f.host.map(str::as_bytes),
                        "{}",
                        f.purpose
                    );
                }
                "quic_sni" => {
                    let initial = &flow[0].payload;
                    assert_eq!(initial.len(), 1200);
                    let keys = quic::client_initial_keys(&initial[6..14]).unwrap();
                    let (_, plain) = quic::open_initial(initial, &keys).expect("Initial decrypts");
                    assert_eq!(plain[0], 0x06, "CRYPTO frame");
                    let len = usize::from(u16::from_be_bytes([plain[2], plain[3]]) & 0x3fff);
                    let (sni, alpn) = sni_of(&plain[4..4 + len]);
                    assert_eq!(sni.as_deref(), f.host, "{}", f.purpose);
                    assert_eq!(alpn, vec!["h3".to_string()]);
                }
                _ => assert!(f.host.is_none()),
            }
            // Every connection to a named internet server follows a DNS answer (within 1 s)
            // that maps the name (or its CNAME chain) to the server's address; the inbound
            // remote-access flow is the exception.
            let inbound = scenario::lan().is_local(f.server.ip());
            if let (Some(host), false) = (f.host, inbound) {
                let answers = dns_answers(&pkts, first_ts);
                let hit = answers
                    .iter()
                    .find(|(_, q, a)| q == host && *a == f.server.ip())
                    .unwrap_or_else(|| panic!("no DNS answer for {host} before its flow"));
                assert!(
                    first_ts - hit.0 < 1_000_000_000,
                    "{host}: DNS answer too early"
                );
            }
        }
    }

    #[test]
    fn flows_carry_the_volumes_the_story_needs() {
        let pkts = packets();
        let flows = by_flow(&pkts);
        let volume = |purpose_start: &str| -> (usize, usize) {
            let f = scenario()
                .into_iter()
                .find(|f| f.purpose.starts_with(purpose_start))
                .unwrap();
            let flow = &flows[&(f.protocol, f.client, f.server)];
            let up = flow
                .iter()
                .filter(|p| p.src == f.client)
                .map(|p| p.payload.len())
                .sum();
            let down = flow
                .iter()
                .filter(|p| p.src == f.server)
                .map(|p| p.payload.len())
                .sum();
            (up, down)
        };
        let (_, down) = volume("video.internetvideoarchive.net");
        assert!((150_000..160_000).contains(&down), "{down}");
        let (up, _) = volume("crashreport.plexapp.com");
        assert!((60_000..62_000).contains(&up), "{up}");
        let (up, _) = volume("metrics.plex.tv");
        assert!((6_000..7_000).contains(&up), "{up}");
        let (_, down) = volume("the TV streams");
        assert!((300_000..302_000).contains(&down), "{down}");
        let (_, down) = volume("remote access");
        assert!((200_000..210_000).contains(&down), "{down}");

        // pubsub stays open for the whole capture: no FIN, traffic at both ends of it.
        let f = scenario()
            .into_iter()
            .find(|f| f.host == Some("pubsub.plex.tv"))
            .unwrap();
        let flow = &flows[&(f.protocol, f.client, f.server)];
        assert!(flow[0].syn && flow.iter().all(|p| !p.fin));
        let start = scenario::START_SECS * 1_000_000_000;
        assert!(flow[0].ts - start < 5_000_000_000);
        assert!(flow[flow.len() - 1].ts - start > 285_000_000_000);
        // ... with small messages every 20-30 s.
        let data: Vec<i64> = flow
            .iter()
            .filter(|p| !p.payload.is_empty())
            .map(|p| p.ts)
            .collect();
        let gaps: Vec<i64> = data
            .windows(2)
            .map(|w| w[1] - w[0])
            .filter(|g| *g > 5_000_000_000)
            .collect();
        assert!(gaps.len() >= 10);
        assert!(
            gaps.iter()
                .all(|g| (11_000_000_000..31_000_000_000).contains(g)),
            "{gaps:?}"
        );
    }

    #[test]
    fn local_discovery_traffic_is_well_formed() {
        let pkts = packets();
        let gdm: Vec<&Pkt> = pkts.iter().filter(|p| p.dst.port() == 32414).collect();
        assert_eq!(gdm.len(), 3, "one LAN probe and two to the public address");
        assert!(
            gdm.iter()
                .all(|p| p.payload == b"M-SEARCH * HTTP/1.0\r\n\r\n")
        );
        let reply = pkts
            .iter()
            .find(|p| p.src.port() == 32414 && p.dst.port() != 32414)
            .unwrap();
        assert!(reply.payload.starts_with(b"HTTP/1.0 200 OK\r\n"));
        let mdns = pkts.iter().find(|p| p.dst.port() == 5353).unwrap();
        let dns = simple_dns::Packet::parse(&mdns.payload).unwrap();
        assert_eq!(dns.answers.len(), 4);
        // NAT-PMP: the router reports the home's public address.
        let natpmp = pkts
            .iter()
            .find(|p| p.src.port() == 5351 && p.payload[1] == 128)
            .unwrap();
        assert_eq!(&natpmp.payload[8..12], &[192, 0, 2, 44]);
    }
}
