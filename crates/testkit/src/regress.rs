//! Small regression captures of what real captures hold and a dissector must still name: QUIC
//! Initials of versions with keys of their own or none (reserved versions, Google's T050, T051
//! and Q050, mvfst), sessions that turn to TLS with STARTTLS (SMTP, submission, POP3, IMAP,
//! FTP, XMPP), and messages that are half broken (a DNS response with one bad record, a
//! ClientHello damaged after its server name, HTTP heads split, oddly spaced, with several
//! hosts). `tools/src/bin/make_regression_captures.rs` writes each to
//! `tests/fixtures/regress/<file>`; `tests/regress.rs` audits each and checks its names, and
//! holds the committed bytes to what this writes.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use telltale::dissect::quic::crypto::{
    VERSION_Q050, VERSION_T050, VERSION_T051, VersionKeys, version_keys,
};
use telltale::time::Timestamp;

use crate::demo::payload::{Answer, ClientHello, DNS_TYPE_A, Rdata, dns_query, dns_response};
use crate::demo::quic::{
    InitialSpec, MIN_INITIAL_DATAGRAM, client_initial_versioned, client_keys_of, crypto_frame,
    protect_initial,
};
use crate::demo::synth::{Frame, Lan, Side, Synth, SynthError, write_pcapng};

/// One regression capture and what an audit must find in it.
#[derive(Clone, Copy, Debug)]
pub struct Case {
    /// The file name under `tests/fixtures/regress/`.
    pub file: &'static str,
    /// What it holds, in words.
    pub what: &'static str,
    /// The remote end of the flow the case is about.
    pub server: (Ipv4Addr, u16),
    /// The names that flow must carry, with their sources.
    pub names: &'static [(&'static str, &'static str)],
    /// The flow's application protocol, as the JSON report spells it.
    pub app: &'static str,
}

const CLIENT: Ipv4Addr = Ipv4Addr::new(192, 168, 1, 10);
const RESOLVER: Ipv4Addr = Ipv4Addr::new(192, 168, 1, 1);
const GENERATOR: &str = "telltale regression capture generator";

const fn remote(last: u8) -> Ipv4Addr {
    Ipv4Addr::new(203, 0, 113, last)
}

/// Every case.
pub const CASES: &[Case] = &[
    Case {
        file: "quic-reserved-v1-keys.pcapng",
        what: "a QUIC Initial of reserved version 0x1a2a3a4a, protected with v1's keys",
        server: (remote(30), 443),
        names: &[("grease.example.net", "quic_sni")],
        app: "quic",
    },
    Case {
        file: "quic-reserved-draft29-keys.pcapng",
        what: "a QUIC Initial of reserved version 0x4a5a6a7a, protected with draft-29's keys",
        server: (remote(31), 443),
        names: &[("grease29.example.net", "quic_sni")],
        app: "quic",
    },
    Case {
        file: "quic-t051.pcapng",
        what: "a Google QUIC T051 Initial (IETF header, TLS inside, T051's salt)",
        server: (remote(32), 443),
        names: &[("t051.example.net", "quic_sni")],
        app: "quic",
    },
    Case {
        file: "quic-t050.pcapng",
        what: "a Google QUIC T050 Initial (T050's salt)",
        server: (remote(33), 443),
        names: &[("t050.example.net", "quic_sni")],
        app: "quic",
    },
    Case {
        file: "quic-mvfst-27.pcapng",
        what: "an mvfst Initial of version 0xfaceb002 (draft-27's protection)",
        server: (remote(34), 443),
        names: &[("mvfst.example.net", "quic_sni")],
        app: "quic",
    },
    Case {
        file: "quic-q050.pcapng",
        what: "a Google QUIC Q050 Initial, its gQUIC CHLO protected with Q050's salt",
        server: (remote(35), 443),
        names: &[("q050.example.net", "quic_sni")],
        app: "gquic",
    },
    Case {
        file: "quic-reserved-unknown-keys.pcapng",
        what: "a QUIC Initial of reserved version 0x6a7a8a9a protected with keys nobody knows: a blind spot that names the version",
        server: (remote(36), 443),
        names: &[],
        app: "quic",
    },
    Case {
        file: "smtp-starttls.pcapng",
        what: "SMTP on 25: greeting, EHLO, STARTTLS, the go-ahead, a ClientHello",
        server: (remote(40), 25),
        names: &[
            ("mx.example.net", "session_host"),
            ("smtp.example.net", "tls_sni"),
        ],
        app: "smtp_starttls",
    },
    Case {
        file: "smtp-starttls-refused.pcapng",
        what: "SMTP whose server refuses STARTTLS (454), and a client that sends its ClientHello anyway: the name left all the same, the session did not turn to TLS",
        server: (remote(46), 25),
        names: &[
            ("mx2.example.net", "session_host"),
            ("refused.example.net", "tls_sni"),
        ],
        app: "smtp",
    },
    Case {
        file: "submission-starttls.pcapng",
        what: "mail submission on 587 with STARTTLS",
        server: (remote(41), 587),
        names: &[
            ("submit.example.net", "session_host"),
            ("submit.example.net", "tls_sni"),
        ],
        app: "smtp_starttls",
    },
    Case {
        file: "pop3-stls.pcapng",
        what: "POP3 on 110: CAPA, STLS, the go-ahead, a ClientHello",
        server: (remote(42), 110),
        names: &[("pop.example.net", "tls_sni")],
        app: "pop3_starttls",
    },
    Case {
        file: "imap-starttls.pcapng",
        what: "IMAP on 143: a tagged STARTTLS, the go-ahead, a ClientHello",
        server: (remote(43), 143),
        names: &[("imap.example.net", "tls_sni")],
        app: "imap_starttls",
    },
    Case {
        file: "ftp-auth-tls.pcapng",
        what: "FTP on 21: AUTH TLS, 234, a ClientHello",
        server: (remote(44), 21),
        names: &[("ftp.example.net", "tls_sni")],
        app: "ftp_starttls",
    },
    Case {
        file: "xmpp-starttls.pcapng",
        what: "XMPP on 5222: stream headers, <starttls/>, <proceed/>, a ClientHello",
        server: (remote(45), 5222),
        names: &[
            ("chat.example.net", "session_host"),
            ("xmpp.example.net", "tls_sni"),
        ],
        app: "xmpp_starttls",
    },
    Case {
        file: "dns-one-bad-record.pcapng",
        what: "a DNS response whose third record is corrupt, then a flow to an address its good answers gave",
        server: (remote(50), 443),
        names: &[("cdn.example.net", "dns_answer")],
        app: "tls",
    },
    Case {
        file: "tls-damaged-after-sni.pcapng",
        what: "a ClientHello whose ALPN extension, after server_name, is malformed",
        server: (remote(51), 443),
        names: &[("damaged.example.net", "tls_sni")],
        app: "tls",
    },
    Case {
        file: "tls-cut-after-sni.pcapng",
        what: "a ClientHello whose extension list is cut short after server_name",
        server: (remote(52), 443),
        names: &[("cut.example.net", "tls_sni")],
        app: "tls",
    },
    Case {
        file: "http-split-header.pcapng",
        what: "an HTTP request whose Host line is split across two segments",
        server: (remote(60), 80),
        names: &[("split.example.net", "http_host")],
        app: "http",
    },
    Case {
        file: "http-odd-spacing.pcapng",
        what: "an HTTP request with `hOST :\\todd.example.net` (space before the colon, a tab, mixed case)",
        server: (remote(61), 80),
        names: &[("odd.example.net", "http_host")],
        app: "http",
    },
    Case {
        file: "http-two-hosts.pcapng",
        what: "an HTTP request with two Host headers",
        server: (remote(62), 80),
        names: &[
            ("first.example.net", "http_host"),
            ("second.example.net", "http_host"),
        ],
        app: "http",
    },
    Case {
        file: "http-origin-and-target.pcapng",
        what: "an HTTP request whose absolute target and Origin name other hosts than its Host",
        server: (remote(63), 80),
        names: &[
            ("host.example.net", "http_host"),
            ("target.example.net", "http_other"),
            ("origin.example.net", "http_other"),
        ],
        app: "http",
    },
];

fn lan() -> Lan {
    Lan {
        router_mac: [0x02, 0, 0, 0, 0, 0x01],
        hosts: vec![
            (IpAddr::V4(CLIENT), [0x02, 0, 0, 0, 0, 0x10]),
            (IpAddr::V4(RESOLVER), [0x02, 0, 0, 0, 0, 0x01]),
        ],
    }
}

fn start() -> Timestamp {
    // 2026-11-01T12:00:00Z
    Timestamp::from_secs_nanos(1_793_534_400, 0)
}

fn at(ms: i64) -> Timestamp {
    Timestamp(start().0.saturating_add(ms * 1_000_000))
}

/// The capture of the case whose file is `file`, as pcapng bytes.
pub fn capture(file: &str) -> Result<Vec<u8>, SynthError> {
    let case = CASES
        .iter()
        .find(|c| c.file == file)
        .ok_or(SynthError::TooLarge("an unknown regression case"))?;
    let frames = frames(case)?;
    write_pcapng(Vec::new(), &frames, GENERATOR)
}

fn frames(case: &Case) -> Result<Vec<Frame>, SynthError> {
    let seed = case.file.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    });
    let mut synth = Synth::new(lan(), seed);
    let server = SocketAddr::from(case.server);
    let client = SocketAddr::from((CLIENT, 50_000 + (seed % 10_000) as u16));
    let keys = |v: u32| version_keys(v).ok_or(SynthError::Crypto("no keys for the version"));
    let dcid: Vec<u8> = (0..8).map(|i| (seed >> (i * 8)) as u8).collect();
    let scid = [0x5c, 0x1d, 0x00, 0x01];
    let quic =
        |synth: &mut Synth, version: u32, k: VersionKeys, sni: &str| -> Result<(), SynthError> {
            let datagram = if version == VERSION_T050 || version == VERSION_T051 {
                // Google's T05x Initials carry gQUIC frames: CRYPTO is type 0x08
                let mut hello = ClientHello::new(&mut synth.rng, Some(sni), &["h3-T051"]);
                hello.session_id = Vec::new();
                hello.quic_transport_parameters =
                    Some(crate::demo::quic::client_transport_parameters(&scid));
                let mut frames = crypto_frame(0, &hello.handshake_message());
                if let Some(t) = frames.first_mut() {
                    *t = 0x08;
                }
                protect_initial(&InitialSpec {
                    version,
                    keys: &client_keys_of(k, &dcid)?,
                    dcid: &dcid,
                    scid: &scid,
                    packet_number: 1,
                    frames: &frames,
                    pad_to: Some(MIN_INITIAL_DATAGRAM),
                })?
            } else {
                client_initial_versioned(&mut synth.rng, sni, &dcid, &scid, version, k)?
            };
            synth.udp(at(10), client, server, datagram);
            Ok(())
        };
    match case.file {
        "quic-reserved-v1-keys.pcapng" => {
            quic(&mut synth, 0x1a2a_3a4a, keys(1)?, "grease.example.net")?;
        }
        "quic-reserved-draft29-keys.pcapng" => {
            quic(&mut synth, 0x4a5a_6a7a, keys(0xff00_001d)?, "grease29.example.net")?;
        }
        "quic-t051.pcapng" => quic(&mut synth, VERSION_T051, keys(VERSION_T051)?, "t051.example.net")?,
        "quic-t050.pcapng" => quic(&mut synth, VERSION_T050, keys(VERSION_T050)?, "t050.example.net")?,
        "quic-mvfst-27.pcapng" => {
            quic(&mut synth, 0xface_b002, keys(0xff00_001b)?, "mvfst.example.net")?;
        }
        "quic-reserved-unknown-keys.pcapng" => {
            let secret_salt: &'static [u8; 20] = &[0x42; 20];
            let k = VersionKeys {
                salt: secret_salt,
                label_prefix: "quic ",
            };
            quic(&mut synth, 0x6a7a_8a9a, k, "hidden.example.net")?;
        }
        "quic-q050.pcapng" => {
            let chlo = chlo(&[(b"SNI\0", b"q050.example.net"), (b"VER\0", b"Q050")]);
            // gQUIC frames: CRYPTO is type 0x08
            let mut frames = crypto_frame(0, &chlo);
            if let Some(t) = frames.first_mut() {
                *t = 0x08;
            }
            let datagram = protect_initial(&InitialSpec {
                version: VERSION_Q050,
                keys: &client_keys_of(keys(VERSION_Q050)?, &dcid)?,
                dcid: &dcid,
                scid: &scid,
                packet_number: 1,
                frames: &frames,
                pad_to: Some(MIN_INITIAL_DATAGRAM),
            })?;
            synth.udp(at(10), client, server, datagram);
        }
        "smtp-starttls.pcapng" => session(
            &mut synth,
            client,
            server,
            &[
                (Side::Server, b"220 mx.example.net ESMTP Postfix\r\n".to_vec()),
                (Side::Client, b"EHLO client.lan\r\n".to_vec()),
                (
                    Side::Server,
                    b"250-mx.example.net\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n250 STARTTLS\r\n".to_vec(),
                ),
                (Side::Client, b"STARTTLS\r\n".to_vec()),
                (Side::Server, b"220 2.0.0 Ready to start TLS\r\n".to_vec()),
            ],
            Some("smtp.example.net"),
        ),
        "smtp-starttls-refused.pcapng" => session(
            &mut synth,
            client,
            server,
            &[
                (Side::Server, b"220 mx2.example.net ESMTP\r\n".to_vec()),
                (Side::Client, b"EHLO client.lan\r\n".to_vec()),
                (Side::Server, b"250-mx2.example.net\r\n250 8BITMIME\r\n".to_vec()),
                (Side::Client, b"STARTTLS\r\n".to_vec()),
                (Side::Server, b"454 4.7.0 TLS not available\r\n".to_vec()),
            ],
            Some("refused.example.net"),
        ),
        "submission-starttls.pcapng" => session(
            &mut synth,
            client,
            server,
            &[
                (Side::Server, b"220 submit.example.net ESMTP ready\r\n".to_vec()),
                (Side::Client, b"ehlo client.lan\r\n".to_vec()),
                (Side::Server, b"250-submit.example.net\r\n250 STARTTLS\r\n".to_vec()),
                (Side::Client, b"starttls\r\n".to_vec()),
                (Side::Server, b"220 Go ahead\r\n".to_vec()),
            ],
            Some("submit.example.net"),
        ),
        "pop3-stls.pcapng" => session(
            &mut synth,
            client,
            server,
            &[
                (Side::Server, b"+OK Dovecot ready.\r\n".to_vec()),
                (Side::Client, b"CAPA\r\n".to_vec()),
                (Side::Server, b"+OK\r\nCAPA\r\nSTLS\r\nUSER\r\n.\r\n".to_vec()),
                (Side::Client, b"STLS\r\n".to_vec()),
                (Side::Server, b"+OK Begin TLS negotiation now.\r\n".to_vec()),
            ],
            Some("pop.example.net"),
        ),
        "imap-starttls.pcapng" => session(
            &mut synth,
            client,
            server,
            &[
                (
                    Side::Server,
                    b"* OK [CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED] Dovecot ready.\r\n".to_vec(),
                ),
                (Side::Client, b"a001 STARTTLS\r\n".to_vec()),
                (Side::Server, b"a001 OK Begin TLS negotiation now.\r\n".to_vec()),
            ],
            Some("imap.example.net"),
        ),
        "ftp-auth-tls.pcapng" => session(
            &mut synth,
            client,
            server,
            &[
                (Side::Server, b"220 (vsFTPd 3.0.3)\r\n".to_vec()),
                (Side::Client, b"AUTH TLS\r\n".to_vec()),
                (Side::Server, b"234 Proceed with negotiation.\r\n".to_vec()),
            ],
            Some("ftp.example.net"),
        ),
        "xmpp-starttls.pcapng" => session(
            &mut synth,
            client,
            server,
            &[
                (
                    Side::Client,
                    b"<?xml version='1.0'?><stream:stream to='chat.example.net' version='1.0' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>".to_vec(),
                ),
                (
                    Side::Server,
                    b"<?xml version='1.0'?><stream:stream from='chat.example.net' id='r8z1' version='1.0' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'><stream:features><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'><required/></starttls></stream:features>".to_vec(),
                ),
                (
                    Side::Client,
                    b"<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>".to_vec(),
                ),
                (
                    Side::Server,
                    b"<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>".to_vec(),
                ),
            ],
            Some("xmpp.example.net"),
        ),
        "dns-one-bad-record.pcapng" => {
            let name = "cdn.example.net";
            let resolver = SocketAddr::from((RESOLVER, 53));
            let dns_client = SocketAddr::from((CLIENT, 53_000));
            let mut answer = dns_response(
                0x4242,
                name,
                DNS_TYPE_A,
                &[
                    Answer {
                        name: name.into(),
                        ttl: 300,
                        data: Rdata::Addr(IpAddr::V4(remote(50))),
                    },
                    Answer {
                        name: name.into(),
                        ttl: 300,
                        data: Rdata::Addr(IpAddr::V4(remote(49))),
                    },
                ],
            );
            // a third answer whose owner name is a compression pointer to itself: the records
            // before it stand, nothing after it can be read
            let own = answer.len();
            answer.extend_from_slice(&[0xc0 | (own >> 8) as u8, own as u8, 0, 1, 0, 1]);
            answer.extend_from_slice(&[0, 0, 1, 0x2c, 0, 4, 203, 0, 113, 99]);
            if let Some(ancount) = answer.get_mut(7) {
                *ancount = 3;
            }
            synth.udp(at(5), dns_client, resolver, dns_query(0x4242, name, DNS_TYPE_A));
            synth.udp(at(7), resolver, dns_client, answer);
            // then a TLS flow to the first address, whose ClientHello names nothing
            let mut s = synth.tcp_open(at(20), client, server, 20_000_000);
            let hello = ClientHello::new(&mut synth.rng, None, &["h2"]);
            s.send(&mut synth, Side::Client, &hello.record());
            s.close(&mut synth);
        }
        "tls-damaged-after-sni.pcapng" => {
            let mut record = ClientHello::new(&mut synth.rng, Some("damaged.example.net"), &["h2"]).record();
            // ALPN (0x0010), 5 bytes: list length 3, "h2"; make the list length lie
            let alpn = [0x00, 0x10, 0x00, 0x05, 0x00, 0x03, 0x02, b'h', b'2'];
            let at_alpn = find(&record, &alpn).ok_or(SynthError::Crypto("no ALPN to damage"))?;
            if let Some(b) = record.get_mut(at_alpn + 5) {
                *b = 0x09;
            }
            tcp_hello(&mut synth, client, server, &record);
        }
        "tls-cut-after-sni.pcapng" => {
            let mut record = ClientHello::new(&mut synth.rng, Some("cut.example.net"), &["h2"]).record();
            // key_share (0x0033), the last extension: claim 40 bytes more than the list holds
            let at_ks = find(&record, &[0x00, 0x33, 0x00, 0x26]).ok_or(SynthError::Crypto("no key_share"))?;
            if let Some(b) = record.get_mut(at_ks + 3) {
                *b = 0x26 + 40;
            }
            tcp_hello(&mut synth, client, server, &record);
        }
        "http-split-header.pcapng" => {
            let mut s = synth.tcp_open(at(10), client, server, 20_000_000);
            s.send(&mut synth, Side::Client, b"GET /library HTTP/1.1\r\nHo");
            s.wait(2_000_000);
            s.send(&mut synth, Side::Client, b"st: split.example.net\r\nUser-Agent: curl/8.5.0\r\n\r\n");
            s.send(&mut synth, Side::Server, b"HTTP/1.1 204 No Content\r\n\r\n");
            s.close(&mut synth);
        }
        "http-odd-spacing.pcapng" => http(
            &mut synth,
            client,
            server,
            b"GET / HTTP/1.1\r\nhOST :\todd.example.net\t\r\nAccept: */*\r\n\r\n",
        ),
        "http-two-hosts.pcapng" => http(
            &mut synth,
            client,
            server,
            b"GET / HTTP/1.1\r\nHost: first.example.net\r\nHost: second.example.net\r\n\r\n",
        ),
        "http-origin-and-target.pcapng" => http(
            &mut synth,
            client,
            server,
            b"GET http://target.example.net/feed HTTP/1.1\r\nHost: host.example.net\r\nOrigin: https://origin.example.net\r\n\r\n",
        ),
        _ => return Err(SynthError::TooLarge("an unknown regression case")),
    }
    synth.finish()
}

/// A plaintext exchange, then the client's ClientHello for `sni` and the server's answer.
fn session(
    synth: &mut Synth,
    client: SocketAddr,
    server: SocketAddr,
    lines: &[(Side, Vec<u8>)],
    sni: Option<&str>,
) {
    let mut s = synth.tcp_open(at(10), client, server, 20_000_000);
    for (side, bytes) in lines {
        s.send(synth, *side, bytes);
        s.wait(1_000_000);
    }
    let hello = ClientHello::new(&mut synth.rng, sni, &[]);
    s.send(synth, Side::Client, &hello.record());
    let flight = crate::demo::payload::server_flight(&mut synth.rng, &hello, 200);
    s.send(synth, Side::Server, &flight);
    s.close(synth);
}

fn tcp_hello(synth: &mut Synth, client: SocketAddr, server: SocketAddr, record: &[u8]) {
    let mut s = synth.tcp_open(at(10), client, server, 20_000_000);
    s.send(synth, Side::Client, record);
    s.close(synth);
}

fn http(synth: &mut Synth, client: SocketAddr, server: SocketAddr, request: &[u8]) {
    let mut s = synth.tcp_open(at(10), client, server, 20_000_000);
    s.send(synth, Side::Client, request);
    s.send(synth, Side::Server, b"HTTP/1.1 204 No Content\r\n\r\n");
    s.close(synth);
}

/// A gQUIC handshake message: `CHLO`, the tag count, the tags with their end offsets, the values.
fn chlo(tags: &[(&[u8; 4], &[u8])]) -> Vec<u8> {
    let mut out = b"CHLO".to_vec();
    out.extend_from_slice(&(tags.len() as u16).to_le_bytes());
    out.extend_from_slice(&[0, 0]);
    let mut end = 0u32;
    for (tag, value) in tags {
        end += value.len() as u32;
        out.extend_from_slice(*tag);
        out.extend_from_slice(&end.to_le_bytes());
    }
    for (_, value) in tags {
        out.extend_from_slice(value);
    }
    out
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}
