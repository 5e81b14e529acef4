//! The TLS ClientHello: the server name (SNI), ALPN, ECH and versions a client offers.
//!
//! [`scan_client_stream`] reads the start of a TCP client→server stream: it gathers the
//! handshake bytes from as many TLS records as the ClientHello spans (a post-quantum
//! ClientHello is over 1500 bytes, so over two segments and sometimes two records),
//! answers [`TlsScan::NeedMore`] while the bytes so far are a valid prefix, and gives up
//! on a ClientHello that claims more than 64 KiB. An SSLv2-format ClientHello (which can
//! carry no SNI) is recognised too. [`parse_client_hello_message`] reads a bare
//! handshake message, as QUIC CRYPTO frames carry it. `tls-parser` parses the record
//! headers, the ClientHello body and the extensions of interest; this file walks the
//! extension list itself so one odd extension does not hide the others.
//!
//! Names are made safe for display by [`escape_host`]: lower-cased, and any byte that is
//! not valid UTF-8, any control character, a few invisible formatting characters and the
//! backslash are written `\xHH`, so a name is never dropped and never carries a control
//! character.

use std::fmt::Write as _;

use tls_parser::{SNIType, TlsExtension, TlsRecordType};

/// Largest ClientHello accepted (the handshake message's body).
pub const MAX_CLIENT_HELLO: usize = 64 * 1024;
/// Largest TLS record body a peer may send (2^14 plus expansion, RFC 5246 §6.2.3).
const MAX_RECORD: usize = (1 << 14) + 2048;
const CONTENT_HANDSHAKE: u8 = 22;
const HANDSHAKE_CLIENT_HELLO: u8 = 1;
const EXT_SERVER_NAME: u16 = 0;
const EXT_ALPN: u16 = 16;
const EXT_SUPPORTED_VERSIONS: u16 = 43;
const EXT_ECH: u16 = 0xfe0d;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientHello {
    /// The host_name entry of server_name, escaped by [`escape_host`]; `None` when absent
    /// or empty.
    pub sni: Option<String>,
    /// Offered protocols in order, escaped like the SNI but keeping their case.
    pub alpn: Vec<String>,
    /// The encrypted_client_hello extension (0xfe0d) is present: the SNI is only the
    /// outer, public name.
    pub ech: bool,
    pub legacy_version: u16,
    /// The supported_versions extension's list, GREASE values left out.
    pub supported_versions: Vec<u16>,
    /// What was wrong with a ClientHello read only in part: its server name came before the
    /// damage (an extension after it malformed, or the list cut short), so it is kept; the
    /// hello still counts as unreadable.
    pub damaged: Option<&'static str>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TlsScan {
    /// The bytes so far are a valid prefix of a ClientHello.
    NeedMore,
    NotTls,
    ClientHello(ClientHello),
    /// TLS, but the first handshake message is not a ClientHello (a server's stream, say).
    NotClientHello,
    Malformed(&'static str),
}

/// A quick test for whether a stream starts like TLS (content type 22 and a 3.x version,
/// x at most 4). False for fewer than three bytes.
pub fn looks_like_tls(buf: &[u8]) -> bool {
    matches!(buf, [CONTENT_HANDSHAKE, 3, minor, ..] if *minor <= 4)
}

/// Scan the start of a TCP client→server stream (TLS records, possibly the ClientHello
/// split across several records and several TCP segments). NeedMore when the bytes so
/// far are a valid prefix. Gives up (Malformed) if the ClientHello claims > 64 KiB.
pub fn scan_client_stream(buf: &[u8]) -> TlsScan {
    match buf.first() {
        None => return TlsScan::NeedMore,
        Some(&CONTENT_HANDSHAKE) => {}
        Some(b) if b & 0x80 != 0 => return scan_sslv2_hello(buf),
        Some(_) => return TlsScan::NotTls,
    }
    match buf.get(1..3) {
        None if buf.get(1).is_none_or(|&major| major == 3) => return TlsScan::NeedMore,
        Some([3, minor]) if *minor <= 4 => {}
        _ => return TlsScan::NotTls,
    }

    // The handshake bytes of the records seen so far.
    let mut hs: Vec<u8> = Vec::new();
    let mut rest = buf;
    while !rest.is_empty() {
        if rest.len() < 5 {
            // A record header cut short: what is there must still look right.
            return match rest {
                [CONTENT_HANDSHAKE] | [CONTENT_HANDSHAKE, 3, ..] => TlsScan::NeedMore,
                _ => TlsScan::Malformed("a record that is not handshake inside the ClientHello"),
            };
        }
        let Ok((body, hdr)) = tls_parser::parse_tls_record_header(rest) else {
            return TlsScan::Malformed("record header");
        };
        if hdr.record_type != TlsRecordType::Handshake {
            return TlsScan::Malformed("a record that is not handshake inside the ClientHello");
        }
        if hdr.version.0 >> 8 != 3 {
            return TlsScan::Malformed("record version is not 3.x");
        }
        let len = usize::from(hdr.len);
        if len == 0 {
            return TlsScan::Malformed("empty handshake record");
        }
        if len > MAX_RECORD {
            return TlsScan::Malformed("record longer than TLS allows");
        }
        let (fragment, next) = body.split_at_checked(len).unwrap_or((body, &[]));
        hs.extend_from_slice(fragment);

        match parse_client_hello_message(&hs) {
            TlsScan::NeedMore => {}
            done => return done,
        }
        if fragment.len() < len {
            break;
        }
        rest = next;
    }
    TlsScan::NeedMore
}

/// Parse a bare handshake message (type 1 ClientHello) as carried in QUIC CRYPTO frames.
/// Bytes after the message are ignored.
pub fn parse_client_hello_message(msg: &[u8]) -> TlsScan {
    match msg.first() {
        None => return TlsScan::NeedMore,
        Some(&HANDSHAKE_CLIENT_HELLO) => {}
        Some(_) => return TlsScan::NotClientHello,
    }
    let Some(&[_, a, b, c]) = msg.first_chunk::<4>() else {
        return TlsScan::NeedMore;
    };
    let len = usize::from(a) << 16 | usize::from(b) << 8 | usize::from(c);
    if len > MAX_CLIENT_HELLO {
        return TlsScan::Malformed("ClientHello longer than 64 KiB");
    }
    match msg.get(4..).and_then(|body| body.get(..len)) {
        Some(body) => match parse_body(body) {
            Ok(hello) => TlsScan::ClientHello(hello),
            Err(why) => match lenient_hello(body, why) {
                Some(hello) => TlsScan::ClientHello(hello),
                None => TlsScan::Malformed(why),
            },
        },
        None => TlsScan::NeedMore,
    }
}

/// The ClientHello body (after the 4-byte handshake header), whole.
fn parse_body(body: &[u8]) -> Result<ClientHello, &'static str> {
    let (after, ch) =
        tls_parser::parse_tls_handshake_client_hello(body).map_err(|_| "ClientHello body")?;
    if !after.is_empty() {
        return Err(if ch.ext.is_none() {
            "extensions overrun the ClientHello"
        } else {
            "bytes after the extensions"
        });
    }
    let mut hello = ClientHello {
        sni: None,
        alpn: Vec::new(),
        ech: false,
        legacy_version: ch.version.0,
        supported_versions: Vec::new(),
        damaged: None,
    };
    let mut seen_sni = false;
    let mut rest = ch.ext.unwrap_or_default();
    while !rest.is_empty() {
        let Some((&[t0, t1, l0, l1], after)) = rest.split_first_chunk::<4>() else {
            return Err("extension header cut short");
        };
        let ext_type = u16::from_be_bytes([t0, t1]);
        let len = usize::from(u16::from_be_bytes([l0, l1]));
        let Some(next) = after.get(len..) else {
            return Err("extension overruns the extension list");
        };
        let raw = rest.get(..len.saturating_add(4)).unwrap_or_default();
        match ext_type {
            EXT_SERVER_NAME => {
                if seen_sni {
                    return Err("two server_name extensions");
                }
                seen_sni = true;
                hello.sni = host_name(raw).ok_or("server_name extension")?;
            }
            EXT_ALPN => match tls_parser::parse_tls_client_hello_extension(raw) {
                Ok((_, TlsExtension::ALPN(protocols))) => {
                    hello.alpn = protocols.iter().map(|p| escape_text(p, false)).collect();
                }
                _ => return Err("ALPN extension"),
            },
            EXT_SUPPORTED_VERSIONS => match tls_parser::parse_tls_client_hello_extension(raw) {
                Ok((_, TlsExtension::SupportedVersions(versions))) => {
                    hello.supported_versions = versions
                        .iter()
                        .map(|v| v.0)
                        .filter(|v| v & 0x0f0f != 0x0a0a)
                        .collect();
                }
                _ => return Err("supported_versions extension"),
            },
            EXT_ECH => hello.ech = true,
            _ => {}
        }
        rest = next;
    }
    Ok(hello)
}

/// The host_name entry of a server_name extension (`raw`: with its 4-byte header), escaped;
/// `Some(None)` when it has none (or an empty one), `None` when the extension is malformed.
fn host_name(raw: &[u8]) -> Option<Option<String>> {
    match tls_parser::parse_tls_client_hello_extension(raw) {
        Ok((_, TlsExtension::SNI(entries))) => Some(
            entries
                .iter()
                .find(|(t, _)| *t == SNIType::HostName)
                .filter(|(_, name)| !name.is_empty())
                .map(|(_, name)| escape_host(name)),
        ),
        _ => None,
    }
}

/// A ClientHello the strict reading refused, read again field by field as far as it goes: when
/// a well-formed server_name extension comes before whatever is wrong (a malformed extension
/// after it, an extension list cut short), its name is kept, as tshark keeps it, and `why`
/// says what was wrong. Nothing is taken from the damaged part.
fn lenient_hello(body: &[u8], why: &'static str) -> Option<ClientHello> {
    if why == "two server_name extensions" {
        // which one a server would take is anyone's guess: no name is better than a wrong one
        return None;
    }
    let mut r = body;
    let take = |r: &mut &[u8], n: usize| -> Option<()> {
        *r = r.get(n..)?;
        Some(())
    };
    let legacy_version = u16::from_be_bytes([*r.first()?, *r.get(1)?]);
    take(&mut r, 2 + 32)?;
    let sid = usize::from(*r.first()?);
    take(&mut r, 1 + sid)?;
    let suites = usize::from(u16::from_be_bytes([*r.first()?, *r.get(1)?]));
    take(&mut r, 2 + suites)?;
    let comp = usize::from(*r.first()?);
    take(&mut r, 1 + comp)?;
    // the list's own length may overrun: read what is there
    take(&mut r, 2)?;
    let mut hello = ClientHello {
        sni: None,
        alpn: Vec::new(),
        ech: false,
        legacy_version,
        supported_versions: Vec::new(),
        damaged: Some(why),
    };
    while let Some((&[t0, t1, l0, l1], after)) = r.split_first_chunk::<4>() {
        let len = usize::from(u16::from_be_bytes([l0, l1]));
        let raw = r.get(..len.saturating_add(4))?;
        if u16::from_be_bytes([t0, t1]) == EXT_SERVER_NAME {
            hello.sni = host_name(raw)?;
            return hello.sni.is_some().then_some(hello);
        }
        r = after.get(len..)?;
    }
    None
}

/// An SSLv2-format ClientHello (RFC 6101 appendix E.2; still sent by old clients to
/// offer TLS): a 2-byte header with the top bit set, message type 1, version, then three
/// lengths that must add up. It carries no extensions, so no SNI.
fn scan_sslv2_hello(buf: &[u8]) -> TlsScan {
    // Check the prefix that is there, byte by byte.
    if let Some(&t) = buf.get(2)
        && t != HANDSHAKE_CLIENT_HELLO
    {
        return TlsScan::NotTls;
    }
    if let Some(&major) = buf.get(3)
        && major != 0
        && major != 3
    {
        return TlsScan::NotTls;
    }
    let Some(&[h0, h1, _, v0, v1, cs0, cs1, sid0, sid1, ch0, ch1]) = buf.first_chunk::<11>() else {
        return TlsScan::NeedMore;
    };
    let len = usize::from(h0 & 0x7f) << 8 | usize::from(h1);
    let cipher_specs = usize::from(u16::from_be_bytes([cs0, cs1]));
    let session_id = usize::from(u16::from_be_bytes([sid0, sid1]));
    let challenge = usize::from(u16::from_be_bytes([ch0, ch1]));
    let version = u16::from_be_bytes([v0, v1]);
    let sane_version = version == 0x0002 || (v0 == 3 && v1 <= 4);
    let body = 9usize
        .saturating_add(cipher_specs)
        .saturating_add(session_id)
        .saturating_add(challenge);
    if !sane_version
        || body != len
        || cipher_specs == 0
        || cipher_specs % 3 != 0
        || !(16..=32).contains(&challenge)
    {
        return TlsScan::NotTls;
    }
    if buf.len() < len.saturating_add(2) {
        return TlsScan::NeedMore;
    }
    TlsScan::ClientHello(ClientHello {
        sni: None,
        alpn: Vec::new(),
        ech: false,
        legacy_version: version,
        supported_versions: Vec::new(),
        damaged: None,
    })
}

/// A host name made safe for display: lower-cased; bytes that are not valid UTF-8,
/// control characters, invisible formatting characters (zero-width, bidirectional
/// overrides, BOM) and the backslash written `\xHH`, byte by byte.
pub fn escape_host(bytes: &[u8]) -> String {
    escape_text(bytes, true)
}

/// [`escape_host`] with lower-casing optional (ALPN values and User-Agents keep case).
pub(crate) fn escape_text(bytes: &[u8], lower: bool) -> String {
    let mut out = String::with_capacity(bytes.len());
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            if c.is_control() || c == '\\' || is_invisible_format(c) {
                let mut utf8 = [0u8; 4];
                for b in c.encode_utf8(&mut utf8).bytes() {
                    let _ = write!(out, "\\x{b:02x}");
                }
            } else if lower {
                out.extend(c.to_lowercase());
            } else {
                out.push(c);
            }
        }
        for b in chunk.invalid() {
            let _ = write!(out, "\\x{b:02x}");
        }
    }
    out
}

/// Characters that change how text around them shows without showing themselves.
fn is_invisible_format(c: char) -> bool {
    matches!(c, '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2060}'..='\u{2069}' | '\u{feff}')
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dissect::stream::test_pcap;
    use proptest::prelude::*;

    fn ext(ext_type: u16, data: &[u8]) -> Vec<u8> {
        let mut v = ext_type.to_be_bytes().to_vec();
        v.extend((data.len() as u16).to_be_bytes());
        v.extend(data);
        v
    }

    fn sni_ext(name: &[u8]) -> Vec<u8> {
        let mut entry = vec![0];
        entry.extend((name.len() as u16).to_be_bytes());
        entry.extend(name);
        let mut list = (entry.len() as u16).to_be_bytes().to_vec();
        list.extend(entry);
        ext(EXT_SERVER_NAME, &list)
    }

    fn alpn_ext(protocols: &[&[u8]]) -> Vec<u8> {
        let mut names = Vec::new();
        for p in protocols {
            names.push(p.len() as u8);
            names.extend(*p);
        }
        let mut list = (names.len() as u16).to_be_bytes().to_vec();
        list.extend(names);
        ext(EXT_ALPN, &list)
    }

    fn versions_ext(versions: &[u16]) -> Vec<u8> {
        let mut list = vec![(versions.len() * 2) as u8];
        for v in versions {
            list.extend(v.to_be_bytes());
        }
        ext(EXT_SUPPORTED_VERSIONS, &list)
    }

    /// A ClientHello handshake message with these extensions (already encoded).
    fn hello(exts: &[Vec<u8>]) -> Vec<u8> {
        let mut body = vec![3, 3];
        body.extend([0x5a; 32]); // random
        body.push(32);
        body.extend([0x11; 32]); // session id
        body.extend([0, 4, 0x13, 0x01, 0x13, 0x02]);
        body.extend([1, 0]);
        let all: Vec<u8> = exts.concat();
        body.extend((all.len() as u16).to_be_bytes());
        body.extend(all);
        let mut msg = vec![HANDSHAKE_CLIENT_HELLO];
        msg.extend(&(body.len() as u32).to_be_bytes()[1..]);
        msg.extend(body);
        msg
    }

    /// The message in TLS records, cut into fragments at `cuts`.
    fn records(msg: &[u8], cuts: &[usize]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut start = 0;
        for &end in cuts.iter().chain([msg.len()].iter()) {
            let frag = &msg[start..end];
            out.extend([CONTENT_HANDSHAKE, 3, 1]);
            out.extend((frag.len() as u16).to_be_bytes());
            out.extend(frag);
            start = end;
        }
        out
    }

    fn typical() -> Vec<u8> {
        hello(&[
            ext(0x1a1a, &[]), // GREASE
            sni_ext(b"WWW.Example.COM"),
            alpn_ext(&[b"h2", b"http/1.1"]),
            versions_ext(&[0x2a2a, 0x0304, 0x0303]),
            ext(0x0017, &[]),
        ])
    }

    fn get(scan: TlsScan) -> ClientHello {
        match scan {
            TlsScan::ClientHello(h) => h,
            other => panic!("not a ClientHello: {other:?}"),
        }
    }

    #[test]
    fn reads_sni_alpn_versions() {
        let h = get(scan_client_stream(&records(&typical(), &[])));
        assert_eq!(h.sni.as_deref(), Some("www.example.com"));
        assert_eq!(h.alpn, vec!["h2".to_string(), "http/1.1".to_string()]);
        assert_eq!(h.supported_versions, vec![0x0304, 0x0303]);
        assert_eq!(h.legacy_version, 0x0303);
        assert!(!h.ech);
    }

    #[test]
    fn bare_message_parses_like_the_stream() {
        let msg = typical();
        assert_eq!(
            parse_client_hello_message(&msg),
            scan_client_stream(&records(&msg, &[]))
        );
        // Trailing bytes (the next CRYPTO data) are not the ClientHello's business.
        let mut more = msg.clone();
        more.extend([0xff; 10]);
        assert_eq!(
            parse_client_hello_message(&more),
            parse_client_hello_message(&msg)
        );
        for n in 0..msg.len() {
            assert_eq!(
                parse_client_hello_message(&msg[..n]),
                TlsScan::NeedMore,
                "{n}"
            );
        }
    }

    #[test]
    fn ech_extension_is_flagged() {
        let msg = hello(&[sni_ext(b"cloudflare-ech.com"), ext(EXT_ECH, &[0, 1, 2, 3])]);
        let h = get(parse_client_hello_message(&msg));
        assert!(h.ech);
        assert_eq!(h.sni.as_deref(), Some("cloudflare-ech.com"));
    }

    #[test]
    fn every_prefix_needs_more_whatever_the_record_split() {
        let msg = typical();
        for cuts in [
            vec![],
            vec![1],
            vec![3, 40],
            vec![4, 5, 6],
            vec![msg.len() / 2],
        ] {
            let stream = records(&msg, &cuts);
            for n in 0..stream.len() {
                assert_eq!(
                    scan_client_stream(&stream[..n]),
                    TlsScan::NeedMore,
                    "{cuts:?} {n}"
                );
            }
            let h = get(scan_client_stream(&stream));
            assert_eq!(h.sni.as_deref(), Some("www.example.com"));
        }
    }

    #[test]
    fn oversized_hello_is_given_up() {
        let mut stream = vec![CONTENT_HANDSHAKE, 3, 1, 0, 4, HANDSHAKE_CLIENT_HELLO];
        stream.extend(&((MAX_CLIENT_HELLO as u32 + 1).to_be_bytes()[1..]));
        assert!(matches!(scan_client_stream(&stream), TlsScan::Malformed(_)));
        // Exactly 64 KiB is still a valid prefix.
        let mut stream = vec![CONTENT_HANDSHAKE, 3, 1, 0, 4, HANDSHAKE_CLIENT_HELLO];
        stream.extend(&((MAX_CLIENT_HELLO as u32).to_be_bytes()[1..]));
        assert_eq!(scan_client_stream(&stream), TlsScan::NeedMore);
    }

    #[test]
    fn garbage_is_not_tls() {
        assert_eq!(scan_client_stream(b"GET / HTTP/1.1\r\n"), TlsScan::NotTls);
        assert_eq!(
            scan_client_stream(b"SSH-2.0-OpenSSH_9.6\r\n"),
            TlsScan::NotTls
        );
        assert_eq!(
            scan_client_stream(&[0x17, 3, 3, 0, 5, 1, 2, 3, 4, 5]),
            TlsScan::NotTls
        );
        assert_eq!(scan_client_stream(&[22, 4]), TlsScan::NotTls);
        assert_eq!(scan_client_stream(&[22, 3, 9]), TlsScan::NotTls);
        assert_eq!(scan_client_stream(&[0x80, 0x10, 7]), TlsScan::NotTls);
        assert_eq!(scan_client_stream(&[22]), TlsScan::NeedMore);
        assert_eq!(scan_client_stream(&[22, 3]), TlsScan::NeedMore);
        assert!(!looks_like_tls(b"GET /"));
        assert!(!looks_like_tls(&[22, 3]));
        assert!(!looks_like_tls(&[22, 2, 0]));
        assert!(looks_like_tls(&[22, 3, 1]));
        assert!(looks_like_tls(&records(&typical(), &[])));
    }

    #[test]
    fn server_side_is_not_a_client_hello() {
        let stream = [CONTENT_HANDSHAKE, 3, 3, 0, 4, 2, 0, 0, 70];
        assert_eq!(scan_client_stream(&stream), TlsScan::NotClientHello);
        assert_eq!(
            parse_client_hello_message(&[2, 0, 0, 0]),
            TlsScan::NotClientHello
        );
    }

    #[test]
    fn malformed_shapes() {
        let msg = typical();
        // A non-handshake record before the ClientHello is complete.
        let mut stream = records(&msg[..10], &[]);
        stream.extend([0x15, 3, 3, 0, 2, 2, 40]);
        assert!(matches!(scan_client_stream(&stream), TlsScan::Malformed(_)));
        // An empty handshake record.
        assert!(matches!(
            scan_client_stream(&[22, 3, 1, 0, 0, 1]),
            TlsScan::Malformed(_)
        ));
        // Two server_name extensions.
        let two = hello(&[sni_ext(b"a.example"), sni_ext(b"b.example")]);
        assert!(matches!(
            parse_client_hello_message(&two),
            TlsScan::Malformed(_)
        ));
        // An extension that claims more than the list holds.
        let mut bad = hello(&[sni_ext(b"a.example")]);
        let at = bad.len() - b"a.example".len() - 7;
        bad[at] = 0xff; // the server_name extension's length, high byte
        assert!(matches!(
            parse_client_hello_message(&bad),
            TlsScan::Malformed(_)
        ));
    }

    #[test]
    fn a_hello_damaged_after_its_server_name_still_gives_the_name() {
        // an ALPN extension whose list length lies, after server_name
        let msg = hello(&[
            sni_ext(b"kept.example"),
            ext(EXT_ALPN, &[0x00, 0x09, 0x02, b'h', b'2']),
        ]);
        let h = get(parse_client_hello_message(&msg));
        assert_eq!(h.sni.as_deref(), Some("kept.example"));
        assert_eq!(h.damaged, Some("ALPN extension"));
        // the extension list cut short after server_name: the last extension claims 40 bytes
        let mut cut = hello(&[sni_ext(b"cut.example"), ext(0x0017, &[])]);
        let n = cut.len();
        cut[n - 1] = 40;
        let h = get(parse_client_hello_message(&cut));
        assert_eq!(h.sni.as_deref(), Some("cut.example"));
        assert!(h.damaged.is_some());
        // a bad extension whose own framing holds, before server_name: the name after it
        // stands on sound framing and is kept
        let inside = hello(&[
            ext(EXT_ALPN, &[0x00, 0x09, 0x02, b'h', b'2']),
            sni_ext(b"after.example"),
        ]);
        let h = get(parse_client_hello_message(&inside));
        assert_eq!(h.sni.as_deref(), Some("after.example"));
        // framing broken before server_name: nothing after it can be trusted, nothing is taken
        let mut broken = hello(&[ext(0x0017, &[1, 2, 3]), sni_ext(b"after.example")]);
        let at = broken.len() - sni_ext(b"after.example").len() - 3 - 1;
        broken[at] = 0xf0; // the first extension's length now runs past the list
        assert!(matches!(
            parse_client_hello_message(&broken),
            TlsScan::Malformed(_)
        ));
        // a whole hello is never "damaged"
        assert_eq!(get(parse_client_hello_message(&typical())).damaged, None);
    }

    #[test]
    fn names_are_escaped_never_dropped() {
        let msg = hello(&[sni_ext(b"Evil\x1b[2J\xff.Example\\com\xe2\x80\xae")]);
        let h = get(parse_client_hello_message(&msg));
        let sni = h.sni.unwrap();
        assert_eq!(sni, "evil\\x1b[2j\\xff.example\\x5ccom\\xe2\\x80\\xae");
        assert!(!sni.chars().any(char::is_control));
        assert_eq!(escape_host("Bücher.DE".as_bytes()), "bücher.de");
        // An empty host_name is no name.
        assert_eq!(
            get(parse_client_hello_message(&hello(&[sni_ext(b"")]))).sni,
            None
        );
        // No extensions at all.
        let mut bare = hello(&[]);
        bare.truncate(bare.len() - 2);
        let len = bare.len() as u32 - 4;
        bare[1..4].copy_from_slice(&len.to_be_bytes()[1..]);
        let h = get(parse_client_hello_message(&bare));
        assert_eq!((h.sni, h.alpn.len()), (None, 0));
    }

    proptest! {
        #[test]
        fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
            let _ = scan_client_stream(&bytes);
            let _ = parse_client_hello_message(&bytes);
            let mut stream = vec![22, 3, 1];
            stream.extend(&bytes);
            let _ = scan_client_stream(&stream);
        }

        #[test]
        fn mutated_hellos_never_panic_nor_invent(at in 0usize..200, value in any::<u8>()) {
            let mut stream = records(&typical(), &[60]);
            let i = at % stream.len();
            stream[i] = value;
            if let TlsScan::ClientHello(h) = scan_client_stream(&stream)
                && let Some(sni) = h.sni
            {
                prop_assert!(!sni.chars().any(char::is_control));
            }
        }
    }

    /// The ClientHellos of the client streams to `port` in a shared capture.
    fn capture_hellos(file: &str, port: u16) -> Option<Vec<(Vec<u8>, TlsScan)>> {
        let pkts = test_pcap::read(file)?;
        Some(
            test_pcap::client_streams(&pkts, port)
                .into_iter()
                .map(|(_, s)| {
                    let scan = scan_client_stream(&s);
                    (s, scan)
                })
                .collect(),
        )
    }

    #[test]
    fn shared_captures_give_the_expected_sni_and_alpn() {
        let h2 = vec!["h2".to_string(), "http/1.1".to_string()];
        let cases: [(&str, &str, Vec<String>, bool); 5] = [
            (
                "zeek/tls_chrome-34-google.pcap",
                "google.de",
                vec!["spdy/3".into(), "spdy/3.1".into(), "http/1.1".into()],
                false,
            ),
            (
                "zeek/tls_openjdk-25.0.2-zeek.org.pcap",
                "zeek.org",
                h2.clone(),
                false,
            ),
            (
                "zeek/tls_tls-conn-with-extensions.pcap",
                "ssl.gstatic.com",
                vec![],
                false,
            ),
            (
                "zeek/tls_tls13-ech.pcap",
                "cloudflare-ech.com",
                h2.clone(),
                true,
            ),
            // Chrome sends a GREASE ECH extension when it has no ECH config: the flag is
            // set, and the SNI is the real name. The two cannot be told apart on the wire.
            (
                "zeek/tls_chrome-1250-tls-x25519-kyber.pcap",
                "lh3.google.com",
                h2,
                true,
            ),
        ];
        for (file, sni, alpn, ech) in cases {
            let Some(hellos) = capture_hellos(file, 443) else {
                return;
            };
            let found: Vec<ClientHello> = hellos
                .into_iter()
                .filter_map(|(_, s)| match s {
                    TlsScan::ClientHello(h) => Some(h),
                    _ => None,
                })
                .collect();
            assert!(!found.is_empty(), "{file}: no ClientHello");
            for h in &found {
                assert_eq!(h.sni.as_deref(), Some(sni), "{file}");
                assert_eq!(h.alpn, alpn, "{file}");
                assert_eq!(h.ech, ech, "{file}");
            }
        }
    }

    #[test]
    fn versions_from_captures() {
        let Some(hellos) = capture_hellos("zeek/tls_tls-conn-with-extensions.pcap", 443) else {
            return;
        };
        let h = get(hellos[0].1.clone());
        assert_eq!((h.legacy_version, h.supported_versions.len()), (0x0301, 0));
        let Some(hellos) = capture_hellos("zeek/tls_tls13_wolfssl.pcap", 9090) else {
            return;
        };
        let h = get(hellos[0].1.clone());
        assert_eq!(h.supported_versions, vec![0x0304, 0x0303, 0x0302]);
        assert_eq!(h.sni, None);
    }

    #[test]
    fn kyber_hello_split_into_segments_goes_through_the_stream_buffer() {
        // The capture holds the 1756-byte ClientHello as one segment (captured before
        // the sender's segmentation offload), so cut it as the wire would: 1448 bytes,
        // then the rest, delivered in order and reversed.
        let Some(pkts) = test_pcap::read("zeek/tls_chrome-1250-tls-x25519-kyber.pcap") else {
            return;
        };
        let first = pkts
            .iter()
            .find(|p| p.dst_port == 443 && !p.payload.is_empty())
            .unwrap();
        let (seq, _) = first.tcp.unwrap();
        let hello = &first.payload;
        assert!(hello.len() > 1500);
        let (a, b) = hello.split_at(1448);
        let b_seq = seq.wrapping_add(1448);

        let mut s = crate::dissect::stream::StreamBuf::new(16 * 1024);
        s.push(seq.wrapping_sub(1), true, &[]);
        assert!(s.push(seq, false, a));
        assert_eq!(scan_client_stream(s.data()), TlsScan::NeedMore);
        assert!(s.push(b_seq, false, b));
        let h = get(scan_client_stream(s.data()));
        assert_eq!(h.sni.as_deref(), Some("lh3.google.com"));
        assert_eq!(h.supported_versions, vec![0x0304, 0x0303]);

        let mut s = crate::dissect::stream::StreamBuf::new(16 * 1024);
        s.push(seq.wrapping_sub(1), true, &[]);
        assert!(!s.push(b_seq, false, b));
        assert_eq!(scan_client_stream(s.data()), TlsScan::NeedMore);
        assert!(s.push(seq, false, a));
        assert_eq!(
            get(scan_client_stream(s.data())).sni.as_deref(),
            Some("lh3.google.com")
        );
    }

    #[test]
    fn real_hellos_cut_anywhere_need_more_and_never_give_a_wrong_sni() {
        for file in [
            "zeek/tls_chrome-1250-tls-x25519-kyber.pcap",
            "zeek/tls_tls13-ech.pcap",
        ] {
            let Some(hellos) = capture_hellos(file, 443) else {
                return;
            };
            let (stream, _) = hellos
                .iter()
                .find(|(_, scan)| matches!(scan, TlsScan::ClientHello(_)))
                .unwrap();
            // The hello's own length: record header + handshake message.
            let end = 5
                + 4
                + (usize::from(stream[6]) << 16
                    | usize::from(stream[7]) << 8
                    | usize::from(stream[8]));
            for n in 0..end.min(stream.len()) {
                assert_eq!(
                    scan_client_stream(&stream[..n]),
                    TlsScan::NeedMore,
                    "{file} {n}"
                );
            }
        }
    }

    #[test]
    fn hellos_without_sni_and_the_sslv2_one() {
        for file in [
            "zeek/tls_ecdhe.pcap",
            "zeek/tls_heartbleed.pcap",
            "zeek/tls_tls1.2.pcap",
            "zeek/tls_hrr.pcap",
        ] {
            let Some(hellos) = capture_hellos(file, 443) else {
                return;
            };
            assert!(!hellos.is_empty());
            for (_, scan) in hellos {
                let h = get(scan);
                assert_eq!(h.sni, None, "{file}");
            }
        }
        let Some(hellos) = capture_hellos("zeek/tls_ssl-v2.pcap", 443) else {
            return;
        };
        let (stream, scan) = &hellos[0];
        assert_eq!(get(scan.clone()).legacy_version, 0x0002);
        assert!(!looks_like_tls(stream));
        for n in 0..0x30 {
            assert_eq!(scan_client_stream(&stream[..n]), TlsScan::NeedMore, "{n}");
        }
    }
}
