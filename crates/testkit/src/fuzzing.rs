//! The entry points of the fuzz targets in `fuzz/`, one function per target, so that each target
//! is a one-liner and `tests/fuzz_regressions.rs` replays every saved input through exactly the
//! code the fuzzer ran. Also the seed extraction that `scripts/fuzz.sh` uses to build the
//! starting corpora from capture files ([`seeds_from_capture`]).
//!
//! Each entry point takes arbitrary bytes and must never panic. Besides "no panic", each checks a
//! few promises its module documents (a name never carries a control character, the report's
//! counters add up, the evidence pcapng reads back, a TCP stream reassembled from reordered
//! segments equals the stream), so a fuzzer finds wrong answers as well as crashes.
//!
//! Inputs that hold several packets or datagrams (`link`, `quic_initial`) separate them with
//! [`SPLIT`]. See `docs/fuzzing.md`.

// Hostile input: no unwrap, expect or indexing that can panic outside tests. The `assert!`s are
// the properties under test, and are meant to fail loudly.
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)
)]

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::sync::{Arc, OnceLock};
use telltale::audit::{AuditConfig, AuditSpec, audit_readers_with_evidence};
use telltale::capture::file::CaptureReader;
use telltale::capture::{LinkType, RawPacket};
use telltale::decode::{Decoded, Decoder, FragLimits, Transport, tcp_flags};
use telltale::dissect::quic::packet::{self, Datagram, LongType};
use telltale::dissect::quic::{QuicEvent, QuicFlow, gquic};
use telltale::dissect::stream::StreamBuf;
use telltale::dissect::{dns, http, tls};
use telltale::flows::Limits;
use telltale::pipeline::{Caps, Pipeline};
use telltale::report::Format;
use telltale::report::model::{Context, Report, ReportBasis, RulesInfo};
use telltale::rules::verdict::Consent;
use telltale::rules::{Matcher, Rules, load};
use telltale::settings::{ServerKind, Settings};
use telltale::time::Timestamp;

/// Separates the packets (`link`) or datagrams (`quic_initial`) of one input. Four bytes that
/// real traffic rarely holds; the fuzz dictionaries hold them too.
pub const SPLIT: &[u8] = b"\xfeTT\xfe";

/// The link types the `link` target picks from by its first byte: every one the decoder
/// reads, and last one it does not (which must come back unsupported).
pub const LINK_TYPES: [LinkType; 14] = [
    LinkType::ETHERNET,
    LinkType::LINUX_SLL,
    LinkType::LINUX_SLL2,
    LinkType::NULL,
    LinkType::LOOP,
    LinkType::PPP,
    LinkType::PPP_HDLC,
    LinkType::PPP_ETHER,
    LinkType::RAW_12,
    LinkType::RAW_14,
    LinkType::RAW,
    LinkType::IPV4,
    LinkType::IPV6,
    LinkType(147), // LINKTYPE_USER0: not decoded
];

/// The TCP bytes of one direction kept for naming, as the pipeline keeps them.
const STREAM_CAP: usize = 16 * 1024;

/// Splits `data` at every [`SPLIT`] (an input without one is one part).
pub fn split(data: &[u8]) -> Vec<&[u8]> {
    let mut parts = Vec::new();
    let mut rest = data;
    while let Some(at) = find(rest, SPLIT) {
        parts.push(rest.get(..at).unwrap_or_default());
        rest = rest.get(at + SPLIT.len()..).unwrap_or_default();
    }
    parts.push(rest);
    parts
}

/// Joins parts with [`SPLIT`] (the inverse of [`split`]).
pub fn join<T: AsRef<[u8]>>(parts: &[T]) -> Vec<u8> {
    let mut out = Vec::new();
    for (i, p) in parts.iter().enumerate() {
        if i > 0 {
            out.extend_from_slice(SPLIT);
        }
        out.extend_from_slice(p.as_ref());
    }
    out
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// No control character (the escaping every dissector promises for what it shows).
fn shown_safely(s: &str) -> bool {
    !s.chars().any(char::is_control)
}

// ---------------------------------------------------------------------------------------------
// link: every link-layer decoder, IP, fragments, TCP/UDP

/// `link` target. Byte 0 picks the link type from [`LINK_TYPES`]; byte 1 is how many bytes the
/// snapshot length cut from each packet (its wire length is its captured length plus that);
/// the rest is packets separated by [`SPLIT`], decoded one after another by one [`Decoder`]
/// (so fragments of one datagram reassemble), one second apart.
pub fn link(data: &[u8]) {
    let _ = link_outcomes(data);
}

/// What [`link`] made of each packet, in words: `ip udp 40000->53 payload 29/29` (transport,
/// ports, payload captured / on the wire), `fragment held`, or the decoder's error.
pub fn link_outcomes(data: &[u8]) -> Vec<String> {
    let mut out = Vec::new();
    let [pick, cut, rest @ ..] = data else {
        return out;
    };
    let link = LINK_TYPES
        .get(usize::from(*pick) % LINK_TYPES.len())
        .copied()
        .unwrap_or(LinkType::ETHERNET);
    let mut decoder = Decoder::with_limits(FragLimits {
        max_datagrams: 4,
        ..FragLimits::default()
    });
    for (i, bytes) in split(rest).into_iter().enumerate() {
        let orig_len = u32::try_from(bytes.len())
            .unwrap_or(u32::MAX)
            .saturating_add(u32::from(*cut));
        let pkt = RawPacket {
            ts: Timestamp::from_secs_nanos(i64::try_from(i).unwrap_or(i64::MAX), 0),
            link,
            data: bytes,
            orig_len,
            interface: 0,
        };
        match decoder.decode(&pkt) {
            Ok(Decoded::Ip(ip)) => {
                assert!(
                    u64::try_from(ip.payload.len()).unwrap_or(u64::MAX)
                        <= u64::from(ip.payload_len),
                    "the payload as captured ({} bytes) is longer than on the wire ({})",
                    ip.payload.len(),
                    ip.payload_len
                );
                assert!(
                    link != LinkType(147),
                    "a link type the decoder does not read gave an IP packet"
                );
                let what = match ip.transport {
                    Transport::Tcp(t) => format!("tcp {}->{}", t.src_port, t.dst_port),
                    Transport::Udp { src_port, dst_port } => {
                        format!("udp {src_port}->{dst_port}")
                    }
                    Transport::Other { protocol } => format!("protocol {protocol}"),
                };
                out.push(format!(
                    "ip {what} payload {}/{}",
                    ip.payload.len(),
                    ip.payload_len
                ));
            }
            Ok(Decoded::FragmentHeld) => out.push("fragment held".to_string()),
            Err(e) => out.push(e.to_string()),
        }
    }
    let s = decoder.stats();
    assert_eq!(
        s.packets,
        s.ip_packets + s.malformed + s.unsupported + s.truncated + s.fragments_held,
        "every packet lands in exactly one of the decoder's counts: {s:?}"
    );
    out
}

// ---------------------------------------------------------------------------------------------
// dns

/// `dns` target: the bytes as one DNS (or mDNS) message, and as a DNS-over-TCP stream.
pub fn dns(data: &[u8]) {
    dns_message(data);
    reused_dns_message(data);
    let (messages, used) = dns::split_tcp_messages(data);
    assert!(
        used <= data.len(),
        "consumed {used} of {} bytes",
        data.len()
    );
    let framed: usize = messages.iter().map(|m| m.len() + 2).sum();
    assert!(
        framed <= used,
        "messages of {framed} bytes from {used} consumed"
    );
    for m in messages {
        dns_message(m);
        reused_dns_message(m);
    }
}

/// The pipeline reads every DNS message into one it keeps: a message read into one that held
/// others before (the fuzzer's earlier inputs on this thread) reads as it reads fresh, and its
/// addresses' names gather the same borrowed as owned.
fn reused_dns_message(data: &[u8]) {
    thread_local! {
        static REUSED: std::cell::RefCell<dns::DnsMessage> =
            std::cell::RefCell::new(dns::DnsMessage::empty());
    }
    REUSED.with(|reused| {
        let mut reused = reused.borrow_mut();
        let fresh = dns::parse_message(data);
        let again = dns::parse_message_into(data, &mut reused).map(|()| reused.clone());
        assert_eq!(fresh, again, "a reused message read differently");
        if let Ok(msg) = &fresh {
            let mut borrowed = Vec::new();
            dns::for_each_address(msg, |ip, names, ttl| {
                borrowed.push((
                    ip,
                    names.iter().map(|n| (*n).to_string()).collect::<Vec<_>>(),
                    ttl,
                ));
            });
            assert_eq!(borrowed, dns::address_names(msg));
        }
    });
}

fn dns_message(data: &[u8]) {
    let Ok(msg) = dns::parse_message(data) else {
        return;
    };
    let well_formed = |name: &str| {
        name.bytes()
            .all(|b| (0x20..=0x7e).contains(&b) && !b.is_ascii_uppercase())
    };
    for q in &msg.questions {
        assert!(well_formed(&q.name), "question name {:?}", q.name);
    }
    for r in msg.answers.iter().chain(&msg.additional) {
        assert!(well_formed(&r.name), "record name {:?}", r.name);
        if let dns::DnsData::Cname(t) = &r.data {
            assert!(well_formed(t), "CNAME target {t:?}");
        }
    }
    for (_, names, _) in dns::address_names(&msg) {
        assert!(
            !names.is_empty() && names.len() <= dns::MAX_NAMES_PER_ADDRESS,
            "{} names for one address",
            names.len()
        );
    }
}

// ---------------------------------------------------------------------------------------------
// TCP streams: reassembly that the TLS and HTTP targets share

/// A small deterministic generator (SplitMix64) seeded from the input, for segment sizes.
fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

fn fingerprint(data: &[u8]) -> u64 {
    data.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Sends `data` through a [`StreamBuf`] as the pipeline would see it on the wire: cut into
/// segments, sent out of order with a retransmission, from an initial sequence number that may
/// wrap. What comes out must be the stream's first [`STREAM_CAP`] bytes.
fn through_stream(data: &[u8]) {
    let mut r = fingerprint(data);
    let isn = (mix(r) >> 32) as u32;
    let mut segments: Vec<(usize, &[u8])> = Vec::new();
    let mut at = 0usize;
    while at < data.len() {
        r = mix(r);
        let len = 1 + (r % 1460) as usize;
        let end = (at + len).min(data.len());
        segments.push((at, data.get(at..end).unwrap_or_default()));
        at = end;
    }
    // Swap neighbours (each odd segment arrives before the one it follows), then repeat the first.
    for pair in segments.chunks_mut(2) {
        pair.reverse();
    }
    if let Some(&first) = segments.first() {
        segments.push(first);
    }
    let mut s = StreamBuf::new(STREAM_CAP);
    s.push(isn, true, &[]);
    for (off, seg) in segments {
        let seq = isn.wrapping_add(1).wrapping_add(off as u32);
        s.push(seq, false, seg);
    }
    let want = data.get(..data.len().min(STREAM_CAP)).unwrap_or_default();
    assert!(
        s.data() == want,
        "the reassembled stream differs: {} bytes out of {} in",
        s.data().len(),
        want.len()
    );
}

/// Cut points for the prefix checks: a few fixed ones and one picked by the input.
fn cut_points(data: &[u8]) -> Vec<usize> {
    let n = data.len();
    let mut cuts = vec![1, 5, n / 2, n.saturating_sub(1)];
    if n > 0 {
        cuts.push((fingerprint(data) % n as u64) as usize);
    }
    cuts.retain(|&c| c > 0 && c < n);
    cuts.sort_unstable();
    cuts.dedup();
    cuts
}

// ---------------------------------------------------------------------------------------------
// tls_client_hello

/// `tls_client_hello` target: the bytes as the start of a client's TCP stream (TLS records), and
/// as a bare handshake message (as QUIC carries it). A stream that gives a ClientHello must give
/// "need more" (or the same ClientHello) when cut short, since the pipeline scans a stream as its
/// segments arrive.
pub fn tls_client_hello(data: &[u8]) {
    let whole = tls::scan_client_stream(data);
    check_hello(&whole);
    if let tls::TlsScan::ClientHello(_) = &whole {
        for cut in cut_points(data) {
            let part = tls::scan_client_stream(data.get(..cut).unwrap_or_default());
            assert!(
                part == tls::TlsScan::NeedMore || part == whole,
                "the first {cut} bytes of a stream holding a ClientHello gave {part:?}"
            );
        }
    }
    check_hello(&tls::parse_client_hello_message(data));
    let _ = tls::looks_like_tls(data);
    through_stream(data);
}

fn check_hello(scan: &tls::TlsScan) {
    if let tls::TlsScan::ClientHello(ch) = scan {
        if let Some(sni) = &ch.sni {
            assert!(shown_safely(sni), "SNI {sni:?}");
            assert!(!sni.is_empty(), "an empty SNI is no SNI");
        }
        for a in &ch.alpn {
            assert!(shown_safely(a), "ALPN {a:?}");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// http_request

/// `http_request` target: the bytes as the start of a client's TCP stream. A request head that
/// parses must give "need more" (or the same request) when cut short.
pub fn http_request(data: &[u8]) {
    let whole = http::scan_request(data);
    if let http::HttpScan::Request(req) = &whole {
        for h in req.host.iter().chain(&req.more_hosts).chain(&req.others) {
            assert!(shown_safely(h), "Host {h:?}");
        }
        assert!(
            req.host.is_some() || req.more_hosts.is_empty(),
            "more hosts without a first one"
        );
        if let Some(ua) = &req.user_agent {
            assert!(shown_safely(ua), "User-Agent {ua:?}");
        }
        for cut in cut_points(data) {
            let part = http::scan_request(data.get(..cut).unwrap_or_default());
            assert!(
                part == http::HttpScan::NeedMore || part == whole,
                "the first {cut} bytes of a stream holding a request gave {part:?}"
            );
        }
    }
    let _ = http::looks_like_http_request(data);
    through_stream(data);
    starttls_session(data);
}

/// The STARTTLS readers on the same bytes, as a client's stream and as a server's: an upgrade's
/// TLS bytes lie inside the stream, and every host they give is a plausible host name.
fn starttls_session(data: &[u8]) {
    use telltale::dissect::starttls::{self, ClientScan, Upgrade};
    if let ClientScan::Asked { tls_at, host, .. } = starttls::scan_client(data) {
        assert!(tls_at <= data.len(), "TLS at {tls_at} past the end");
        if let Some(h) = host {
            assert!(shown_safely(&h), "XMPP host {h:?}");
        }
    }
    for proto in [
        Upgrade::Smtp,
        Upgrade::Pop3,
        Upgrade::Imap,
        Upgrade::Ftp,
        Upgrade::Xmpp,
    ] {
        let _ = starttls::go_ahead(proto, data);
        if let Some(h) = starttls::server_host(proto, data) {
            assert!(
                h.contains('.')
                    && h.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-'),
                "server host {h:?}"
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// quic_initial

/// `quic_initial` target. Byte 0 is a mode; the rest is datagrams separated by [`SPLIT`], all
/// from one flow's client, given in order to one [`QuicFlow`].
///
/// - Mode bit 0 clear: each part is a datagram as captured (long and short headers, coalesced
///   packets, Retry, Version Negotiation, gQUIC); with bit 1 set each also goes through the
///   server side's recognition.
/// - Mode bit 0 set: each part is the *plaintext frames* of one client Initial, which this
///   function protects (QUIC v1 keys, AES-GCM and header protection, as a client would) before
///   the flow decrypts it again: so the fuzzer reaches frame parsing, CRYPTO reassembly across
///   Initials and the ClientHello inside, which ciphertext never would. Bit 1 pads each Initial to
///   1200 bytes; bits 2-3 pick the connection ID's length (8, 0, 20 or 4 bytes).
pub fn quic_initial(data: &[u8]) {
    let _ = quic_events(data);
}

/// What the flow of [`quic_initial`] made of each datagram.
pub fn quic_events(data: &[u8]) -> Vec<QuicEvent> {
    let mut events = Vec::new();
    let Some((&mode, rest)) = data.split_first() else {
        return events;
    };
    let mut flow = QuicFlow::default();
    let plaintext = mode & 1 != 0;
    let dcid_len = [8usize, 0, 20, 4]
        .get(usize::from((mode >> 2) & 3))
        .copied()
        .unwrap_or(8);
    let dcid: Vec<u8> = (0..dcid_len).map(|i| 0x83 ^ i as u8).collect();
    // bits 4-5: the version the header names, and whose keys protect it: v1 with its own; a
    // reserved version with v1's or draft-29's (read by guessing); T051 with its own
    use telltale::dissect::quic::crypto::{VERSION_1, VERSION_T051, version_keys};
    let (version, keys_of) = match (mode >> 4) & 3 {
        1 => (0x1a2a_3a4a, VERSION_1),
        2 => (VERSION_T051, VERSION_T051),
        3 => (0x5a6a_7a8a, 0xff00_001d),
        _ => (VERSION_1, VERSION_1),
    };
    let keys = version_keys(keys_of).and_then(|k| crate::demo::quic::client_keys_of(k, &dcid).ok());
    for (i, part) in split(rest).into_iter().enumerate() {
        let event = if plaintext {
            let Some(keys) = keys.as_ref() else {
                return events;
            };
            let spec = crate::demo::quic::InitialSpec {
                version,
                keys,
                dcid: &dcid,
                scid: b"\x5c\x1d",
                packet_number: u32::try_from(i).unwrap_or(u32::MAX),
                frames: part,
                pad_to: (mode & 2 != 0).then_some(crate::demo::quic::MIN_INITIAL_DATAGRAM),
            };
            let Ok(datagram) = crate::demo::quic::protect_initial(&spec) else {
                continue;
            };
            let event = flow.on_client(&datagram);
            assert!(
                !matches!(event, QuicEvent::NotQuic),
                "a protected Initial read as not QUIC"
            );
            event
        } else {
            if mode & 2 != 0 {
                flow.on_server(part);
            }
            quic_pieces(part);
            flow.on_client(part)
        };
        if let QuicEvent::ClientHello(ch) = &event {
            check_hello(&tls::TlsScan::ClientHello(ch.clone()));
        }
        assert!(
            flow.key_guesses <= telltale::dissect::quic::MAX_KEY_GUESSES,
            "a flow cost {} key guesses",
            flow.key_guesses
        );
        if let QuicEvent::Gquic { sni: Some(sni) } = &event {
            assert!(shown_safely(sni), "gQUIC SNI {sni:?}");
        }
        events.push(event);
    }
    let _ = telltale::dissect::quic::version_name(u32::from_be_bytes(
        data.get(..4)
            .and_then(|b| <[u8; 4]>::try_from(b).ok())
            .unwrap_or_default(),
    ));
    events
}

/// The packet-level readers on their own: datagram split, Initial unprotection, varints.
fn quic_pieces(datagram: &[u8]) {
    let _ = gquic::chlo_sni(datagram);
    if let Datagram::Long(ps) = packet::parse_datagram(datagram) {
        for p in ps {
            if p.kind == LongType::Initial {
                let _ = packet::open_initial(&p, p.dcid);
            }
        }
    }
    let mut rest = datagram;
    for _ in 0..4 {
        match packet::varint(rest) {
            Some((_, r)) => rest = r,
            None => break,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// rules

/// The packets of a few flows of every kind from the demo capture (the first packets of each
/// flow), to judge by fuzzed rules.
fn sample_packets() -> &'static [(Timestamp, LinkType, Vec<u8>)] {
    static SAMPLE: OnceLock<Vec<(Timestamp, LinkType, Vec<u8>)>> = OnceLock::new();
    SAMPLE.get_or_init(|| {
        let mut out = Vec::new();
        let Ok(mut reader) = telltale::audit::demo_reader() else {
            return out;
        };
        let mut decoder = Decoder::new();
        let mut per_flow: BTreeMap<(IpAddr, IpAddr, u16, u16), usize> = BTreeMap::new();
        while let Some(pkt) = reader.next_packet() {
            let (ts, link, bytes) = (pkt.ts, pkt.link, pkt.data.to_vec());
            let Ok(Decoded::Ip(ip)) = decoder.decode(&pkt) else {
                continue;
            };
            let (a, b) = match ip.transport {
                Transport::Tcp(t) => (t.src_port, t.dst_port),
                Transport::Udp { src_port, dst_port } => (src_port, dst_port),
                Transport::Other { .. } => (0, 0),
            };
            let key = if (ip.src, a) <= (ip.dst, b) {
                (ip.src, ip.dst, a, b)
            } else {
                (ip.dst, ip.src, b, a)
            };
            let n = per_flow.entry(key).or_default();
            *n += 1;
            if *n <= 4 {
                out.push((ts, link, bytes));
            }
        }
        out
    })
}

fn builtin_rules(name: &str) -> Option<&'static Rules> {
    static RULES: OnceLock<Vec<(&'static str, Rules)>> = OnceLock::new();
    RULES
        .get_or_init(|| {
            load::BUILTIN
                .iter()
                .filter_map(|(n, _)| Some((*n, load::load(n).ok()?)))
                .collect()
        })
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, r)| r)
}

/// `rules` target: the bytes as a rules file (TOML). One that loads is checked (`rules check`),
/// takes the demo's settings (conditions, setting-named hosts), compiles, and judges a sample
/// of the demo's flows (verdicts, budgets), whose report is rendered; one that does not must say
/// why with a position inside the file.
pub fn rules(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut rules = match load::parse("fuzz.toml", text) {
        Ok(r) => r,
        Err(e) => {
            let shown = e.to_string();
            assert!(shown.starts_with("fuzz.toml"), "{shown}");
            assert!(
                e.line <= text.lines().count().max(1) + 1,
                "error at line {} of a {}-line file",
                e.line,
                text.lines().count()
            );
            return;
        }
    };
    let _ = telltale::rules::check::check(&rules);
    let settings = crate::demo::demo_settings();
    let (opt_out, facts) = telltale::settings::consent::decide(
        &rules,
        telltale::config::choices::OptOutChoice::Auto,
        settings.as_ref(),
    );
    let opted_out = opt_out.state.opted_out();
    if let Some(f) = &facts {
        rules.apply_settings(f);
        for r in &rules.rules {
            let _ = r.when.eval(f, &rules.setting_defaults);
        }
    }
    let info = RulesInfo::from_rules(&rules);
    let consent = Consent { opted_out, facts };
    let matcher = Arc::new(Matcher::new(rules));
    let mut pipeline = Pipeline::new(matcher, consent, Caps::default());
    for (ts, link, bytes) in sample_packets() {
        pipeline.process(&RawPacket {
            ts: *ts,
            link: *link,
            data: bytes,
            orig_len: u32::try_from(bytes.len()).unwrap_or(u32::MAX),
            interface: 0,
        });
    }
    let mut result = pipeline.finish();
    for f in &result.flows {
        assert!(f.verdict.is_some(), "flow {} was never judged", f.id);
    }
    let scope =
        telltale::rules::scope::apply(&telltale::rules::scope::AuditScope::Host, &mut result.flows);
    let basis = ReportBasis {
        rules: info,
        opt_out,
        settings,
        baseline: None,
        warnings: Vec::new(),
    };
    let mut context = Context::new(basis, Vec::new(), None, scope, Vec::new());
    context.generated_at = Timestamp(0);
    let report = Report::build(result, context);
    let _ = Format::Markdown.render(&report);
}

// ---------------------------------------------------------------------------------------------
// settings

/// `settings` target: the bytes as a Plex `Preferences.xml` or plist, and as a Jellyfin and an
/// Emby `system.xml`. Settings that read are described and decide the consent under the
/// server's built-in rules. The Plex token's value, when the input holds one, must appear in
/// nothing that comes out: neither the settings nor an error message.
pub fn settings(data: &[u8]) {
    let shown = settings_shown(data);
    let Some((at, token)) = plex_token(data) else {
        return;
    };
    if !shown.iter().any(|(_, s)| s.contains(token.as_str())) {
        return;
    }
    // The value comes out: a leak, unless the readers' own words hold it (a token "ferences" is in
    // "<Preferences>"). Then the same input with another value in its place says it too.
    let other = rotate(&token);
    let mut changed = data.to_vec();
    if let Some(slot) = changed.get_mut(at..at + token.len()) {
        slot.copy_from_slice(other.as_bytes());
    }
    let shown_other = settings_shown(&changed);
    for ((reader, a), (_, b)) in shown.iter().zip(&shown_other) {
        // the token is the Plex readers' secret: a Jellyfin or Emby reader quoting the value of
        // an element it reads (a malformed `<AutoDiscovery>`) quotes what the owner put there
        if *reader != "plex" {
            continue;
        }
        assert!(
            !a.contains(token.as_str()) || b.contains(token.as_str()),
            "the token's value came out of the {reader} reader"
        );
    }
}

/// Everything the settings readers say of `data`, by reader: the settings, their description and
/// the consent and rules they give, or the error.
fn settings_shown(data: &[u8]) -> Vec<(&'static str, String)> {
    let mut out = Vec::new();
    for (kind, rules) in [
        (ServerKind::Plex, "plex"),
        (ServerKind::Jellyfin, "jellyfin"),
        (ServerKind::Emby, "emby"),
    ] {
        let read = telltale::settings::parse_bytes("fuzz.xml", data, &kind);
        let shown = match &read {
            Ok(s) => {
                check_settings(s);
                let mut shown = telltale::settings::describe(s);
                shown.push_str(&format!("{s:?}"));
                if let Some(r) = builtin_rules(rules) {
                    let mut r = r.clone();
                    if let (opt_out, Some(facts)) = telltale::settings::consent::decide(
                        &r,
                        telltale::config::choices::OptOutChoice::Auto,
                        Some(s),
                    ) {
                        shown.push_str(&opt_out.source);
                        for added in r.apply_settings(&facts) {
                            shown.push_str(&added);
                        }
                        for rule in &r.rules {
                            let (_, why) = rule.when.eval(&facts, &r.setting_defaults);
                            shown.push_str(&why.join(" "));
                        }
                    }
                }
                shown
            }
            Err(e) => format!("{e} {e:?}"),
        };
        out.push((rules, shown));
    }
    let plist = match telltale::settings::parse_plist("fuzz.plist", data) {
        Ok(s) => {
            check_settings(&s);
            format!("{} {s:?}", telltale::settings::describe(&s))
        }
        Err(e) => format!("{e} {e:?}"),
    };
    out.push(("plist", plist));
    out
}

/// Every character of a token changed, the length kept (`a`→`b`, `z`→`a`, `9`→`0`, `-`↔`_`).
fn rotate(token: &str) -> String {
    token
        .chars()
        .map(|c| match c {
            'z' => 'a',
            'Z' => 'A',
            '9' => '0',
            '-' => '_',
            '_' => '-',
            c if c.is_ascii_alphanumeric() => char::from(c as u8 + 1),
            c => c,
        })
        .collect()
}

fn check_settings(s: &Settings) {
    assert!(
        !s.values.contains_key("PlexOnlineToken"),
        "the token was kept as a setting"
    );
    for (k, v) in &s.values {
        assert!(shown_safely(k) && shown_safely(v), "setting {k:?} = {v:?}");
    }
}

/// The value of the input's Plex token (`PlexOnlineToken="…"`, or the plist's `<key>` and
/// `<string>`), when it is long, plain and appears once, so that finding it in an output means
/// it leaked.
fn plex_token(data: &[u8]) -> Option<(usize, String)> {
    let value_after = |marker: &[u8], end: u8| -> Option<&[u8]> {
        let at = find(data, marker)? + marker.len();
        let rest = data.get(at..)?;
        let rest = match rest.iter().position(|b| !b.is_ascii_whitespace()) {
            Some(skip) if end == b'<' => {
                let rest = rest.get(skip..)?;
                rest.strip_prefix(b"<string>")?
            }
            _ => rest,
        };
        rest.get(..rest.iter().position(|&b| b == end)?)
    };
    // where `value` (a sub-slice of `data`) starts in it
    let offset = |value: &[u8]| (value.as_ptr() as usize).wrapping_sub(data.as_ptr() as usize);
    // the attribute itself, not one whose name merely ends so (`CinemaTrailersFromPlexOnlineToken`,
    // an ordinary setting whose value the reader rightly keeps)
    let value = value_after(b" PlexOnlineToken=\"", b'"')
        .or_else(|| value_after(b"\tPlexOnlineToken=\"", b'"'))
        .or_else(|| value_after(b"\nPlexOnlineToken=\"", b'"'))
        .or_else(|| value_after(b"<key>PlexOnlineToken</key>", b'<'))?;
    let plain = value.len() >= 8
        && value
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || *b == b'-' || *b == b'_');
    if !plain {
        return None;
    }
    let once = data.windows(value.len()).filter(|w| *w == value).count() == 1;
    once.then(|| (offset(value), String::from_utf8_lossy(value).into_owned()))
}

// ---------------------------------------------------------------------------------------------
// pipeline

fn audit_config() -> Option<&'static AuditConfig> {
    static CONFIG: OnceLock<Option<AuditConfig>> = OnceLock::new();
    CONFIG
        .get_or_init(|| {
            let args = AuditSpec::builtin("plex", telltale::config::choices::OptOutChoice::Auto);
            AuditConfig::with_settings(&args, crate::demo::demo_settings()).ok()
        })
        .as_ref()
}

/// Small caps, so that a small input reaches every eviction path.
fn small_caps() -> Caps {
    Caps {
        flows: Limits {
            max_flows: 16,
            ..Limits::default()
        },
        dns_addresses: 16,
        dns_names_per_address: 4,
        inventory_names: 24,
        stream_bytes: 4096,
        evidence_bytes: 64 * 1024,
        evidence_packets_per_flow: 16,
        ..Caps::default()
    }
}

/// `pipeline` target: the bytes as a capture file (pcap or pcapng, maybe gzip), audited with the
/// Plex rules and the demo's settings under small caps, keeping evidence; then every report
/// format is rendered. The counters must add up, the JSON must read back as a report (as
/// `--baseline` reads it), and the evidence pcapng must read back packet for packet.
pub fn pipeline(data: &[u8]) {
    reading_ways_agree(data);
    let _ = pipeline_report(data);
}

/// The three ways of reading an input (read ahead and hashed on threads; read and hashed on
/// the reading thread, as with one CPU; read unhashed, as with `--no-digest`) must give the
/// same packets, the same end, the same count of bytes, and the same digest when there is one.
fn reading_ways_agree(data: &[u8]) {
    use telltale::capture::file::{CaptureSummary, InputDigest};
    type Packet = (
        telltale::time::Timestamp,
        telltale::capture::LinkType,
        Vec<u8>,
        u32,
        u32,
    );
    let read = |digest, one_cpu| -> Option<(Vec<Packet>, CaptureSummary)> {
        let bytes = Box::new(std::io::Cursor::new(data.to_vec()));
        let mut r = CaptureReader::from_reader_on("fuzz.pcap", bytes, digest, one_cpu).ok()?;
        let mut packets = Vec::new();
        while let Some(p) = r.next_packet() {
            packets.push((p.ts, p.link, p.data.to_vec(), p.orig_len, p.interface));
        }
        Some((packets, r.finish()))
    };
    let threads = read(InputDigest::Sha256, false);
    let here = read(InputDigest::Sha256, true);
    let unhashed = read(InputDigest::Skip, false);
    match (threads, here, unhashed) {
        (None, None, None) => {}
        (Some(a), Some(b), Some(c)) => {
            assert!(
                a.0 == b.0 && a.0 == c.0,
                "the ways of reading give other packets"
            );
            assert_eq!(a.1.truncation, b.1.truncation);
            assert_eq!(a.1.truncation, c.1.truncation);
            assert_eq!(a.1.sha256, b.1.sha256);
            assert_eq!(c.1.sha256, None);
            assert_eq!(a.1.bytes, data.len() as u64);
            assert_eq!(b.1.bytes, data.len() as u64);
            assert_eq!(c.1.bytes, data.len() as u64);
        }
        _ => panic!("the ways of reading disagree on whether the input opens"),
    }
}

/// The report [`pipeline`] made, if the bytes opened as a capture.
pub fn pipeline_report(data: &[u8]) -> Option<Report> {
    let config = audit_config()?;
    let reader = match CaptureReader::from_reader(
        "fuzz.pcap",
        Box::new(std::io::Cursor::new(data.to_vec())),
    ) {
        Ok(r) => r,
        Err(e) => {
            let _ = e.to_string();
            return None;
        }
    };
    let (report, evidence) = audit_readers_with_evidence(vec![reader], config, small_caps(), true);
    assert!(
        report.counters.add_up(),
        "the counters do not add up: {:?}",
        report.counters
    );
    for format in [Format::Markdown, Format::Html, Format::Csv] {
        let _ = format.render(&report);
    }
    // `--baseline` parses the JSON, then looks for the schema: Ok means it is JSON and a report.
    let json = Format::Json.render(&report);
    let baseline = telltale::report::baseline::Baseline::from_report_json("fuzz.json", &json);
    assert!(baseline.is_ok(), "the JSON report does not read back");
    if let Some(ev) = evidence {
        let Ok(bytes) = ev.to_pcapng() else {
            return Some(report);
        };
        let Ok(mut back) =
            CaptureReader::from_reader("evidence.pcapng", Box::new(std::io::Cursor::new(bytes)))
        else {
            panic!("the evidence pcapng does not open");
        };
        let mut n = 0usize;
        while back.next_packet().is_some() {
            n += 1;
        }
        assert!(
            back.truncation().is_none() && n == ev.packets.len(),
            "the evidence holds {} packets and reads back {n} ({:?})",
            ev.packets.len(),
            back.truncation()
        );
    }
    Some(report)
}

// ---------------------------------------------------------------------------------------------
// seeds

/// Seed inputs for the protocol targets, cut out of one capture file.
#[derive(Debug, Default)]
pub struct Seeds {
    pub link: Vec<Vec<u8>>,
    pub dns: Vec<Vec<u8>>,
    pub tls_client_hello: Vec<Vec<u8>>,
    pub http_request: Vec<Vec<u8>>,
    pub quic_initial: Vec<Vec<u8>>,
}

impl Seeds {
    /// The seeds by target name.
    pub fn by_target(&self) -> [(&'static str, &Vec<Vec<u8>>); 5] {
        [
            ("link", &self.link),
            ("dns", &self.dns),
            ("tls_client_hello", &self.tls_client_hello),
            ("http_request", &self.http_request),
            ("quic_initial", &self.quic_initial),
        ]
    }
}

/// Most seeds of one kind taken from one capture.
const SEEDS_PER_KIND: usize = 48;

/// One direction of a flow: source, destination.
type Dir = (IpAddr, u16, IpAddr, u16);

/// Cuts seeds out of a capture file's bytes: each packet with its link type (for `link`, and the
/// first packets together, so fragments meet again), DNS messages over UDP and TCP (ports 53,
/// 5353, 5355), the start of each TCP direction that looks like TLS or an HTTP request
/// (reassembled), and each UDP flow's client datagrams that look like QUIC, as captured and, for
/// the Initials that decrypt, as plaintext frames. An unreadable capture gives no seeds.
pub fn seeds_from_capture(bytes: &[u8]) -> Seeds {
    let mut seeds = Seeds::default();
    let Ok(mut reader) =
        CaptureReader::from_reader("seed", Box::new(std::io::Cursor::new(bytes.to_vec())))
    else {
        return seeds;
    };
    let mut link: BTreeSet<Vec<u8>> = BTreeSet::new();
    let mut first_packets: BTreeMap<u32, Vec<Vec<u8>>> = BTreeMap::new();
    let mut dns_seeds: BTreeSet<Vec<u8>> = BTreeSet::new();
    let mut streams: BTreeMap<Dir, StreamBuf> = BTreeMap::new();
    let mut quic_raw: BTreeMap<Dir, Vec<Vec<u8>>> = BTreeMap::new();
    let mut quic_plain: BTreeMap<Dir, Vec<Vec<u8>>> = BTreeMap::new();
    let mut decoder = Decoder::new();
    while let Some(pkt) = reader.next_packet() {
        let pick = LINK_TYPES
            .iter()
            .position(|l| *l == pkt.link)
            .unwrap_or(LINK_TYPES.len() - 1) as u8;
        let cut = u8::try_from(
            (pkt.orig_len as usize)
                .saturating_sub(pkt.data.len())
                .min(255),
        )
        .unwrap_or(u8::MAX);
        if link.len() < SEEDS_PER_KIND {
            let mut seed = vec![pick, cut];
            seed.extend_from_slice(pkt.data);
            link.insert(seed);
        }
        let group = first_packets.entry(pkt.link.0).or_default();
        if group.len() < 16 {
            group.push(pkt.data.to_vec());
        }
        let Ok(Decoded::Ip(ip)) = decoder.decode(&pkt) else {
            continue;
        };
        match ip.transport {
            Transport::Udp { src_port, dst_port } => {
                let dir = (ip.src, src_port, ip.dst, dst_port);
                if [53, 5353, 5355]
                    .iter()
                    .any(|p| *p == src_port || *p == dst_port)
                {
                    if dns_seeds.len() < SEEDS_PER_KIND {
                        dns_seeds.insert(ip.payload.to_vec());
                    }
                    continue;
                }
                let quic = gquic::version(ip.payload).is_some()
                    || matches!(
                        packet::parse_datagram(ip.payload),
                        Datagram::Long(_) | Datagram::VersionNegotiation
                    );
                if !quic {
                    continue;
                }
                let raw = quic_raw.entry(dir).or_default();
                if raw.len() < 8 {
                    raw.push(ip.payload.to_vec());
                }
                if let Datagram::Long(ps) = packet::parse_datagram(ip.payload) {
                    for p in ps.iter().filter(|p| p.kind == LongType::Initial) {
                        if let Ok(plain) = packet::open_initial(p, p.dcid) {
                            let plains = quic_plain.entry(dir).or_default();
                            if plains.len() < 8 {
                                plains.push(plain);
                            }
                        }
                    }
                }
            }
            Transport::Tcp(t) => {
                let dir = (ip.src, t.src_port, ip.dst, t.dst_port);
                if !streams.contains_key(&dir) && streams.len() >= 4096 {
                    continue;
                }
                let s = streams
                    .entry(dir)
                    .or_insert_with(|| StreamBuf::new(STREAM_CAP));
                s.push(t.seq, t.flags & tcp_flags::SYN != 0, ip.payload);
            }
            Transport::Other { .. } => {}
        }
    }
    seeds.link = link.into_iter().collect();
    for (lt, group) in first_packets {
        let pick = LINK_TYPES
            .iter()
            .position(|l| l.0 == lt)
            .unwrap_or(LINK_TYPES.len() - 1) as u8;
        let mut seed = vec![pick, 0];
        seed.extend(join(&group));
        seeds.link.push(seed);
    }
    let mut tls_seeds = BTreeSet::new();
    let mut http_seeds = BTreeSet::new();
    for ((_, sport, _, dport), s) in &streams {
        let data = s.data();
        if data.is_empty() {
            continue;
        }
        if (*sport == 53 || *dport == 53) && dns_seeds.len() < SEEDS_PER_KIND {
            dns_seeds.insert(data.to_vec());
        } else if tls::looks_like_tls(data) || matches!(data.first(), Some(b) if b & 0x80 != 0) {
            if tls_seeds.len() < SEEDS_PER_KIND
                && !matches!(tls::scan_client_stream(data), tls::TlsScan::NotTls)
            {
                tls_seeds.insert(data.to_vec());
            }
        } else if http::looks_like_http_request(data) && http_seeds.len() < SEEDS_PER_KIND {
            http_seeds.insert(data.to_vec());
        } else if http_seeds.len() < SEEDS_PER_KIND
            && !matches!(
                telltale::dissect::starttls::scan_client(data),
                telltale::dissect::starttls::ClientScan::Not
            )
        {
            // a STARTTLS session's client stream (or a server's banner): the http_request
            // target also runs the STARTTLS readers
            http_seeds.insert(data.to_vec());
        } else if http_seeds.len() < SEEDS_PER_KIND
            && [b"220".as_slice(), b"+OK", b"* OK", b"<?xml"]
                .iter()
                .any(|p| data.starts_with(p))
        {
            http_seeds.insert(data.to_vec());
        }
    }
    seeds.dns = dns_seeds.into_iter().collect();
    seeds.tls_client_hello = tls_seeds.into_iter().collect();
    seeds.http_request = http_seeds.into_iter().collect();
    let mut quic_seeds = BTreeSet::new();
    for raw in quic_raw.values().take(SEEDS_PER_KIND) {
        let mut seed = vec![0u8];
        seed.extend(join(raw));
        quic_seeds.insert(seed);
    }
    for plains in quic_plain.values().take(SEEDS_PER_KIND) {
        let mut seed = vec![1u8];
        seed.extend(join(plains));
        quic_seeds.insert(seed);
    }
    seeds.quic_initial = quic_seeds.into_iter().collect();
    seeds
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_and_join_are_inverse() {
        let parts: Vec<&[u8]> = vec![b"abc", b"", b"\xfeT"];
        assert_eq!(split(&join(&parts)), parts);
        assert_eq!(split(b"plain"), vec![&b"plain"[..]]);
    }

    #[test]
    fn the_token_is_found_only_when_plain_and_unique() {
        assert_eq!(
            plex_token(b"<Preferences PlexOnlineToken=\"abcdEFGH1234\"/>"),
            Some((30, "abcdEFGH1234".to_string()))
        );
        assert_eq!(
            plex_token(b"<key>PlexOnlineToken</key>\n  <string>abcdEFGH1234</string>"),
            Some((37, "abcdEFGH1234".to_string()))
        );
        assert_eq!(
            plex_token(b"<Preferences PlexOnlineToken=\"short\"/>"),
            None
        );
        assert_eq!(plex_token(b"<Preferences PlexOnlineToken=\"\"/>"), None);
        assert_eq!(
            plex_token(b"<Preferences a=\"abcdEFGH1234\" PlexOnlineToken=\"abcdEFGH1234\"/>"),
            None
        );
    }

    #[test]
    fn a_rotated_token_differs_in_every_character() {
        let t = "az-_AZ09ym";
        let r = rotate(t);
        assert_eq!(r, "ba_-BA10zn");
        assert!(t.chars().zip(r.chars()).all(|(a, b)| a != b));
    }

    #[test]
    fn the_stream_check_reassembles_any_length() {
        for n in [0usize, 1, 1500, 5000, STREAM_CAP + 3000] {
            let data: Vec<u8> = (0..n).map(|i| (i % 251) as u8).collect();
            through_stream(&data);
        }
    }
}
