//! Payload builders for the synthesizer: DNS queries and responses (A, AAAA, CNAME chains;
//! over UDP or with the TCP length prefix), TLS 1.3 ClientHello / ServerHello / opaque
//! records, HTTP/1.1 requests and responses, Plex GDM discovery, NAT-PMP and mDNS.
//! All byte layouts follow the RFCs; the "random" parts come from the caller's generator.

use std::net::{IpAddr, Ipv4Addr};

use super::synth::SplitMix64;

/// Appends a big-endian u16 length, clamped (callers keep lengths far below the limit).
fn put_u16(out: &mut Vec<u8>, v: usize) {
    out.extend_from_slice(&u16::try_from(v).unwrap_or(u16::MAX).to_be_bytes());
}

fn put_u24(out: &mut Vec<u8>, v: usize) {
    let v = u32::try_from(v).unwrap_or(0x00ff_ffff).min(0x00ff_ffff);
    out.extend_from_slice(&v.to_be_bytes()[1..]);
}

fn put_u8_len(out: &mut Vec<u8>, v: usize) {
    out.push(u8::try_from(v).unwrap_or(u8::MAX));
}

/// Appends `body` preceded by its u16 length.
fn with_u16_len(out: &mut Vec<u8>, body: &[u8]) {
    put_u16(out, body.len());
    out.extend_from_slice(body);
}

// ---------------------------------------------------------------------------------------------
// DNS (RFC 1035, RFC 3596)

pub const DNS_TYPE_A: u16 = 1;
pub const DNS_TYPE_CNAME: u16 = 5;
pub const DNS_TYPE_PTR: u16 = 12;
pub const DNS_TYPE_TXT: u16 = 16;
pub const DNS_TYPE_AAAA: u16 = 28;
pub const DNS_TYPE_SRV: u16 = 33;

/// The data of one answer record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Rdata {
    Addr(IpAddr),
    Cname(String),
}

/// One answer record: owner name, time to live, data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Answer {
    pub name: String,
    pub ttl: u32,
    pub data: Rdata,
}

/// Writes domain names, compressing any name already written (RFC 1035 §4.1.4).
struct NameWriter {
    written: Vec<(String, u16)>,
}

impl NameWriter {
    fn new() -> Self {
        NameWriter {
            written: Vec::new(),
        }
    }

    fn put(&mut self, out: &mut Vec<u8>, name: &str) {
        let name = name.trim_end_matches('.');
        let labels: Vec<&str> = name.split('.').filter(|l| !l.is_empty()).collect();
        for i in 0..labels.len() {
            let suffix = labels
                .get(i..)
                .unwrap_or_default()
                .join(".")
                .to_ascii_lowercase();
            if let Some((_, off)) = self.written.iter().find(|(n, _)| *n == suffix) {
                out.extend_from_slice(&(0xc000 | off).to_be_bytes());
                return;
            }
            if let Ok(off) = u16::try_from(out.len())
                && off < 0x4000
            {
                self.written.push((suffix, off));
            }
            let label = labels.get(i).copied().unwrap_or_default().as_bytes();
            let label = label.get(..63).unwrap_or(label);
            put_u8_len(out, label.len());
            out.extend_from_slice(label);
        }
        out.push(0);
    }
}

/// A standard recursive query for `name` (type A or AAAA).
pub fn dns_query(id: u16, name: &str, qtype: u16) -> Vec<u8> {
    let mut out = Vec::with_capacity(64);
    out.extend_from_slice(&id.to_be_bytes());
    out.extend_from_slice(&[0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]);
    NameWriter::new().put(&mut out, name);
    out.extend_from_slice(&qtype.to_be_bytes());
    out.extend_from_slice(&[0, 1]);
    out
}

/// The resolver's answer to [`dns_query`]: recursion available, no error, `answers` in order.
pub fn dns_response(id: u16, name: &str, qtype: u16, answers: &[Answer]) -> Vec<u8> {
    let mut out = Vec::with_capacity(128);
    let mut names = NameWriter::new();
    out.extend_from_slice(&id.to_be_bytes());
    out.extend_from_slice(&[0x81, 0x80, 0, 1]);
    put_u16(&mut out, answers.len());
    out.extend_from_slice(&[0, 0, 0, 0]);
    names.put(&mut out, name);
    out.extend_from_slice(&qtype.to_be_bytes());
    out.extend_from_slice(&[0, 1]);
    for a in answers {
        put_answer(&mut out, &mut names, a, 1);
    }
    out
}

fn put_answer(out: &mut Vec<u8>, names: &mut NameWriter, a: &Answer, class: u16) {
    names.put(out, &a.name);
    let rtype = match &a.data {
        Rdata::Addr(IpAddr::V4(_)) => DNS_TYPE_A,
        Rdata::Addr(IpAddr::V6(_)) => DNS_TYPE_AAAA,
        Rdata::Cname(_) => DNS_TYPE_CNAME,
    };
    out.extend_from_slice(&rtype.to_be_bytes());
    out.extend_from_slice(&class.to_be_bytes());
    out.extend_from_slice(&a.ttl.to_be_bytes());
    match &a.data {
        Rdata::Addr(IpAddr::V4(v4)) => with_u16_len(out, &v4.octets()),
        Rdata::Addr(IpAddr::V6(v6)) => with_u16_len(out, &v6.octets()),
        Rdata::Cname(target) => with_patched_len(out, |o| names.put(o, target)),
    }
}

/// A DNS message framed for TCP (RFC 1035 §4.2.2: a two-byte length first).
pub fn dns_over_tcp(message: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(message.len() + 2);
    with_u16_len(&mut out, message);
    out
}

/// An unsolicited mDNS announcement (RFC 6762): a service instance's PTR, SRV, TXT and the
/// host's A record, all with the cache-flush bit where RFC 6762 §10.2 asks for it.
pub fn mdns_announcement(
    instance: &str,
    service: &str,
    host: &str,
    port: u16,
    addr: Ipv4Addr,
    txt: &[&str],
) -> Vec<u8> {
    // Record classes: IN, and IN with the cache-flush bit for records only this host owns.
    const SHARED: [u8; 2] = [0x00, 0x01];
    const UNIQUE: [u8; 2] = [0x80, 0x01];
    fn header(
        msg: &mut Vec<u8>,
        names: &mut NameWriter,
        owner: &str,
        rtype: u16,
        class: [u8; 2],
        ttl: u32,
    ) {
        names.put(msg, owner);
        msg.extend_from_slice(&rtype.to_be_bytes());
        msg.extend_from_slice(&class);
        msg.extend_from_slice(&ttl.to_be_bytes());
    }
    let full = format!("{instance}.{service}");
    let mut msg = Vec::with_capacity(256);
    let mut names = NameWriter::new();
    // An unsolicited response: id 0, QR + AA, no questions, four answers.
    msg.extend_from_slice(&[0, 0, 0x84, 0x00, 0, 0, 0, 4, 0, 0, 0, 0]);
    header(&mut msg, &mut names, service, DNS_TYPE_PTR, SHARED, 4500);
    with_patched_len(&mut msg, |m| names.put(m, &full));
    header(&mut msg, &mut names, &full, DNS_TYPE_SRV, UNIQUE, 120);
    with_patched_len(&mut msg, |m| {
        m.extend_from_slice(&[0, 0, 0, 0]); // priority, weight
        m.extend_from_slice(&port.to_be_bytes());
        names.put(m, host);
    });
    header(&mut msg, &mut names, &full, DNS_TYPE_TXT, UNIQUE, 4500);
    with_patched_len(&mut msg, |m| {
        for t in txt {
            put_u8_len(m, t.len());
            m.extend_from_slice(t.as_bytes());
        }
    });
    header(&mut msg, &mut names, host, DNS_TYPE_A, UNIQUE, 120);
    with_u16_len(&mut msg, &addr.octets());
    msg
}

/// Writes a u16 length placeholder, lets `write` append the data, then fills in its length.
fn with_patched_len(out: &mut Vec<u8>, write: impl FnOnce(&mut Vec<u8>)) {
    let len_at = out.len();
    out.extend_from_slice(&[0, 0]);
    write(out);
    let len = out.len().saturating_sub(len_at + 2);
    let len = u16::try_from(len).unwrap_or(u16::MAX).to_be_bytes();
    if let Some(slot) = out.get_mut(len_at..len_at + 2) {
        slot.copy_from_slice(&len);
    }
}

// ---------------------------------------------------------------------------------------------
// TLS 1.3 (RFC 8446)

pub const TLS_HANDSHAKE: u8 = 22;
pub const TLS_CHANGE_CIPHER_SPEC: u8 = 20;
pub const TLS_APPLICATION_DATA: u8 = 23;

/// What a ClientHello says.
#[derive(Clone, Debug)]
pub struct ClientHello<'a> {
    /// The server_name extension; `None` leaves the extension out.
    pub sni: Option<&'a str>,
    /// ALPN protocols; empty leaves the extension out.
    pub alpn: &'a [&'a str],
    pub random: [u8; 32],
    /// The legacy session id (32 bytes in TLS over TCP, empty in QUIC).
    pub session_id: Vec<u8>,
    /// The client's x25519 public key.
    pub key_share: [u8; 32],
    /// QUIC transport parameters: present only in QUIC, where TLS 1.2 is not offered either.
    pub quic_transport_parameters: Option<Vec<u8>>,
}

impl ClientHello<'_> {
    /// A ClientHello with every random field drawn from `rng`.
    pub fn new<'a>(
        rng: &mut SplitMix64,
        sni: Option<&'a str>,
        alpn: &'a [&'a str],
    ) -> ClientHello<'a> {
        ClientHello {
            sni,
            alpn,
            random: rng.array(),
            session_id: rng.bytes(32),
            key_share: rng.array(),
            quic_transport_parameters: None,
        }
    }

    /// The Handshake message (type 1, with its 4-byte header), without a record header.
    pub fn handshake_message(&self) -> Vec<u8> {
        let quic = self.quic_transport_parameters.is_some();
        let mut body = Vec::with_capacity(512);
        body.extend_from_slice(&[0x03, 0x03]);
        body.extend_from_slice(&self.random);
        put_u8_len(&mut body, self.session_id.len());
        body.extend_from_slice(&self.session_id);
        let suites: &[u16] = if quic {
            &[0x1301, 0x1302, 0x1303]
        } else {
            &[
                0x1302, 0x1303, 0x1301, 0xc02c, 0xc030, 0xc02b, 0xc02f, 0xcca9, 0xcca8, 0x009f,
                0x009e, 0x00ff,
            ]
        };
        put_u16(&mut body, suites.len() * 2);
        for s in suites {
            body.extend_from_slice(&s.to_be_bytes());
        }
        body.extend_from_slice(&[0x01, 0x00]);

        let mut ext = Vec::with_capacity(400);
        let mut add = |typ: u16, data: &[u8]| {
            ext.extend_from_slice(&typ.to_be_bytes());
            with_u16_len(&mut ext, data);
        };
        if let Some(host) = self.sni {
            let mut list = vec![0u8];
            with_u16_len(&mut list, host.as_bytes());
            let mut sni = Vec::new();
            with_u16_len(&mut sni, &list);
            add(0x0000, &sni);
        }
        if !quic {
            add(0x000b, &[0x03, 0x00, 0x01, 0x02]); // ec_point_formats
        }
        add(0x000a, &[0x00, 0x06, 0x00, 0x1d, 0x00, 0x17, 0x00, 0x18]); // supported_groups
        if !quic {
            add(0x0023, &[]); // session_ticket
        }
        if !self.alpn.is_empty() {
            let mut list = Vec::new();
            for p in self.alpn {
                put_u8_len(&mut list, p.len());
                list.extend_from_slice(p.as_bytes());
            }
            let mut alpn = Vec::new();
            with_u16_len(&mut alpn, &list);
            add(0x0010, &alpn);
        }
        if !quic {
            add(0x0016, &[]); // encrypt_then_mac
            add(0x0017, &[]); // extended_master_secret
        }
        let sigs: [u16; 10] = [
            0x0403, 0x0503, 0x0603, 0x0807, 0x0808, 0x0804, 0x0805, 0x0806, 0x0401, 0x0501,
        ];
        let mut sig = Vec::new();
        put_u16(&mut sig, sigs.len() * 2);
        for s in sigs {
            sig.extend_from_slice(&s.to_be_bytes());
        }
        add(0x000d, &sig); // signature_algorithms
        if quic {
            add(0x002b, &[0x02, 0x03, 0x04]); // supported_versions: TLS 1.3 only
        } else {
            add(0x002b, &[0x04, 0x03, 0x04, 0x03, 0x03]); // supported_versions: 1.3, 1.2
        }
        add(0x002d, &[0x01, 0x01]); // psk_key_exchange_modes: psk_dhe_ke
        let mut share = Vec::new();
        let mut entry = vec![0x00, 0x1d];
        with_u16_len(&mut entry, &self.key_share);
        with_u16_len(&mut share, &entry);
        add(0x0033, &share); // key_share: x25519
        if let Some(tp) = &self.quic_transport_parameters {
            add(0x0039, tp);
        }
        with_u16_len(&mut body, &ext);

        let mut msg = Vec::with_capacity(body.len() + 4);
        msg.push(1);
        put_u24(&mut msg, body.len());
        msg.extend_from_slice(&body);
        msg
    }

    /// The ClientHello in a TLS record (legacy record version 1.0, as OpenSSL sends it).
    pub fn record(&self) -> Vec<u8> {
        tls_record_with_version(TLS_HANDSHAKE, 0x0301, &self.handshake_message())
    }
}

fn tls_record_with_version(content_type: u8, version: u16, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len() + 5);
    out.push(content_type);
    out.extend_from_slice(&version.to_be_bytes());
    with_u16_len(&mut out, body);
    out
}

/// One TLS record with the legacy version 1.2.
pub fn tls_record(content_type: u8, body: &[u8]) -> Vec<u8> {
    tls_record_with_version(content_type, 0x0303, body)
}

/// A TLS 1.3 ServerHello record answering `hello` (TLS_AES_128_GCM_SHA256, x25519).
pub fn server_hello(rng: &mut SplitMix64, hello: &ClientHello<'_>) -> Vec<u8> {
    tls_record(TLS_HANDSHAKE, &server_hello_message(rng, &hello.session_id))
}

/// A TLS 1.3 ServerHello handshake message (TLS_AES_128_GCM_SHA256, x25519) echoing the
/// client's legacy session id.
pub fn server_hello_message(rng: &mut SplitMix64, session_id: &[u8]) -> Vec<u8> {
    let mut body = Vec::with_capacity(128);
    body.extend_from_slice(&[0x03, 0x03]);
    body.extend_from_slice(&rng.array::<32>());
    put_u8_len(&mut body, session_id.len());
    body.extend_from_slice(session_id);
    body.extend_from_slice(&[0x13, 0x01, 0x00]);
    let mut ext = Vec::new();
    ext.extend_from_slice(&[0x00, 0x2b, 0x00, 0x02, 0x03, 0x04]);
    ext.extend_from_slice(&[0x00, 0x33, 0x00, 0x24, 0x00, 0x1d, 0x00, 0x20]);
    ext.extend_from_slice(&rng.array::<32>());
    with_u16_len(&mut body, &ext);
    let mut msg = vec![2];
    put_u24(&mut msg, body.len());
    msg.extend_from_slice(&body);
    msg
}

/// The middlebox-compatibility ChangeCipherSpec record.
pub fn change_cipher_spec() -> Vec<u8> {
    tls_record(TLS_CHANGE_CIPHER_SPEC, &[1])
}

/// Opaque application_data records (encrypted content, as far as anyone can tell) totalling
/// about `total` bytes on the wire, each at most a full 16 KiB record.
pub fn app_data(rng: &mut SplitMix64, total: usize) -> Vec<u8> {
    const MAX_BODY: usize = 16_384 + 17;
    let mut out = Vec::with_capacity(total + 32);
    let mut left = total.max(5 + 17 + 1);
    while left > 0 {
        let body = left.saturating_sub(5).clamp(17 + 1, MAX_BODY);
        out.extend_from_slice(&tls_record(TLS_APPLICATION_DATA, &rng.bytes(body)));
        left = left.saturating_sub(body + 5);
    }
    out
}

/// The server's first flight: ServerHello, ChangeCipherSpec, and the encrypted rest of the
/// handshake (EncryptedExtensions, Certificate, CertificateVerify, Finished) as opaque records.
pub fn server_flight(rng: &mut SplitMix64, hello: &ClientHello<'_>, encrypted: usize) -> Vec<u8> {
    let mut out = server_hello(rng, hello);
    out.extend_from_slice(&change_cipher_spec());
    out.extend_from_slice(&app_data(rng, encrypted));
    out
}

/// The client's answer to the server's flight: ChangeCipherSpec and its encrypted Finished.
pub fn client_finished(rng: &mut SplitMix64) -> Vec<u8> {
    let mut out = change_cipher_spec();
    out.extend_from_slice(&tls_record(TLS_APPLICATION_DATA, &rng.bytes(53)));
    out
}

// ---------------------------------------------------------------------------------------------
// HTTP/1.1 (RFC 9112)

/// An HTTP/1.1 request: the request line, `Host`, then `headers`, then `body` (with its
/// Content-Length when not empty).
pub fn http_request(
    method: &str,
    target: &str,
    host: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Vec<u8> {
    let mut head = format!("{method} {target} HTTP/1.1\r\nHost: {host}\r\n");
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    if !body.is_empty() {
        head.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    head.push_str("\r\n");
    let mut out = head.into_bytes();
    out.extend_from_slice(body);
    out
}

/// An HTTP/1.1 response with a Content-Length.
pub fn http_response(status: u16, reason: &str, headers: &[(&str, &str)], body: &[u8]) -> Vec<u8> {
    let mut head = format!("HTTP/1.1 {status} {reason}\r\n");
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
    let mut out = head.into_bytes();
    out.extend_from_slice(body);
    out
}

/// `len` bytes that look like an MPEG transport stream: 188-byte packets with the 0x47 sync
/// byte, one PID and a continuity counter that starts at `first_cc` (so consecutive segments
/// continue each other), the rest noise.
pub fn mpeg_ts_bytes(rng: &mut SplitMix64, len: usize, first_cc: usize) -> Vec<u8> {
    let mut out = rng.bytes(len);
    for (i, pkt) in out.chunks_mut(188).enumerate() {
        let cc = (first_cc.wrapping_add(i) & 0x0f) as u8;
        let header = [0x47, 0x01, 0x00, 0x10 | cc];
        for (b, h) in pkt.iter_mut().zip(header) {
            *b = h;
        }
    }
    out
}

/// `len` bytes that start like an MP3 file with an ID3v2 tag.
pub fn mp3_bytes(rng: &mut SplitMix64, len: usize) -> Vec<u8> {
    let mut out = rng.bytes(len);
    let header = [
        b'I', b'D', b'3', 0x04, 0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0xff, 0xfb, 0x90, 0x64,
    ];
    for (b, h) in out.iter_mut().zip(header) {
        *b = h;
    }
    out
}

pub use telltale::text::base64;

/// Minimal DER encoding (X.690) for the OCSP messages.
pub mod der {
    /// One tag-length-value, with the definite length in short or long form.
    pub fn tlv(tag: u8, body: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(body.len() + 4);
        out.push(tag);
        let len = body.len();
        if len < 0x80 {
            out.push(len as u8);
        } else {
            let bytes = (len as u64).to_be_bytes();
            let skip = bytes.iter().take_while(|b| **b == 0).count();
            let used = bytes.get(skip..).unwrap_or_default();
            out.push(0x80 | used.len() as u8);
            out.extend_from_slice(used);
        }
        out.extend_from_slice(body);
        out
    }

    /// A SEQUENCE of already-encoded parts.
    pub fn seq(parts: &[&[u8]]) -> Vec<u8> {
        tlv(0x30, &parts.concat())
    }

    /// A GeneralizedTime such as `20261107200000Z`.
    pub fn time(text: &str) -> Vec<u8> {
        tlv(0x18, text.as_bytes())
    }

    pub const OID_SHA1: &[u8] = &[0x06, 0x05, 0x2b, 0x0e, 0x03, 0x02, 0x1a];
    pub const OID_OCSP_BASIC: &[u8] = &[
        0x06, 0x09, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x30, 0x01, 0x01,
    ];
    pub const OID_SHA256_RSA: &[u8] = &[
        0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0b,
    ];
    pub const NULL: &[u8] = &[0x05, 0x00];
}

/// OCSP (RFC 6960) requests and responses for one certificate.
pub mod ocsp {
    use super::{SplitMix64, base64, der};

    /// Which certificate is asked about (SHA-1 CertID, as browsers and OpenSSL send it).
    #[derive(Clone, Debug)]
    pub struct CertId {
        pub issuer_name_hash: [u8; 20],
        pub issuer_key_hash: [u8; 20],
        pub serial: [u8; 16],
    }

    impl CertId {
        pub fn random(rng: &mut SplitMix64) -> Self {
            let mut serial: [u8; 16] = rng.array();
            serial[0] = (serial[0] & 0x7f) | 0x01; // positive, no leading zero byte
            CertId {
                issuer_name_hash: rng.array(),
                issuer_key_hash: rng.array(),
                serial,
            }
        }

        pub fn der(&self) -> Vec<u8> {
            der::seq(&[
                &der::seq(&[der::OID_SHA1, der::NULL]),
                &der::tlv(0x04, &self.issuer_name_hash),
                &der::tlv(0x04, &self.issuer_key_hash),
                &der::tlv(0x02, &self.serial),
            ])
        }
    }

    /// The DER OCSPRequest: one Request for `id`, no extensions.
    pub fn request(id: &CertId) -> Vec<u8> {
        der::seq(&[&der::seq(&[&der::seq(&[&der::seq(&[&id.der()])])])])
    }

    /// The GET path for `request` (RFC 6960 §A.1: "/" + url-encoded base64 of the DER).
    pub fn get_path(id: &CertId) -> String {
        let b64 = base64(&request(id));
        let mut path = String::from("/");
        for c in b64.chars() {
            match c {
                '+' => path.push_str("%2B"),
                '/' => path.push_str("%2F"),
                '=' => path.push_str("%3D"),
                c => path.push(c),
            }
        }
        path
    }

    /// A successful response saying `id` is good, signed (with noise) by the responder.
    pub fn response(rng: &mut SplitMix64, id: &CertId, produced: &str, next: &str) -> Vec<u8> {
        let single = der::seq(&[
            &id.der(),
            &[0x80, 0x00], // certStatus: good
            &der::time(produced),
            &der::tlv(0xa0, &der::time(next)),
        ]);
        let responder = der::tlv(0xa2, &der::tlv(0x04, &id.issuer_key_hash));
        let data = der::seq(&[&responder, &der::time(produced), &der::seq(&[&single])]);
        let mut signature = vec![0u8];
        signature.extend_from_slice(&rng.bytes(256));
        let basic = der::seq(&[
            &data,
            &der::seq(&[der::OID_SHA256_RSA, der::NULL]),
            &der::tlv(0x03, &signature),
        ]);
        let bytes = der::seq(&[der::OID_OCSP_BASIC, &der::tlv(0x04, &basic)]);
        der::seq(&[&[0x0a, 0x01, 0x00], &der::tlv(0xa0, &bytes)])
    }
}

// ---------------------------------------------------------------------------------------------
// Plex GDM and NAT-PMP

/// The GDM discovery probe a Plex client (or server) sends to port 32414.
pub fn gdm_msearch() -> Vec<u8> {
    b"M-SEARCH * HTTP/1.0\r\n\r\n".to_vec()
}

/// A Plex Media Server's GDM answer.
pub fn gdm_reply(name: &str, identifier: &str, version: &str) -> Vec<u8> {
    format!(
        "HTTP/1.0 200 OK\r\nContent-Type: plex/media-server\r\nResource-Identifier: {identifier}\r\n\
         Name: {name}\r\nPort: 32400\r\nUpdated-At: 1794000000\r\nVersion: {version}\r\n\r\n"
    )
    .into_bytes()
}

/// NAT-PMP (RFC 6886) requests and responses.
pub mod natpmp {
    use std::net::Ipv4Addr;

    pub fn external_address_request() -> Vec<u8> {
        vec![0, 0]
    }

    pub fn external_address_response(epoch: u32, addr: Ipv4Addr) -> Vec<u8> {
        let mut out = vec![0, 128, 0, 0];
        out.extend_from_slice(&epoch.to_be_bytes());
        out.extend_from_slice(&addr.octets());
        out
    }

    /// A TCP port mapping request (opcode 2).
    pub fn map_tcp_request(internal: u16, external: u16, lifetime: u32) -> Vec<u8> {
        let mut out = vec![0, 2, 0, 0];
        out.extend_from_slice(&internal.to_be_bytes());
        out.extend_from_slice(&external.to_be_bytes());
        out.extend_from_slice(&lifetime.to_be_bytes());
        out
    }

    pub fn map_tcp_response(epoch: u32, internal: u16, external: u16, lifetime: u32) -> Vec<u8> {
        let mut out = vec![0, 130, 0, 0];
        out.extend_from_slice(&epoch.to_be_bytes());
        out.extend_from_slice(&internal.to_be_bytes());
        out.extend_from_slice(&external.to_be_bytes());
        out.extend_from_slice(&lifetime.to_be_bytes());
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv6Addr;

    #[test]
    fn dns_response_with_cname_chain_parses() {
        let answers = [
            Answer {
                name: "image.tmdb.org".into(),
                ttl: 300,
                data: Rdata::Cname("image-tmdb-org.cdn.example.net".into()),
            },
            Answer {
                name: "image-tmdb-org.cdn.example.net".into(),
                ttl: 60,
                data: Rdata::Addr("203.0.113.31".parse().unwrap()),
            },
        ];
        let msg = dns_response(0x1234, "image.tmdb.org", DNS_TYPE_A, &answers);
        let p = simple_dns::Packet::parse(&msg).unwrap();
        assert_eq!(p.id(), 0x1234);
        assert_eq!(p.questions[0].qname.to_string(), "image.tmdb.org");
        assert_eq!(p.answers.len(), 2);
        assert_eq!(p.answers[0].name.to_string(), "image.tmdb.org");
        match &p.answers[0].rdata {
            simple_dns::rdata::RData::CNAME(c) => {
                assert_eq!(c.0.to_string(), "image-tmdb-org.cdn.example.net")
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            p.answers[1].name.to_string(),
            "image-tmdb-org.cdn.example.net"
        );
        assert_eq!(p.answers[1].ttl, 60);
        match &p.answers[1].rdata {
            simple_dns::rdata::RData::A(a) => {
                assert_eq!(Ipv4Addr::from(a.address), Ipv4Addr::new(203, 0, 113, 31))
            }
            other => panic!("{other:?}"),
        }
        // The question name is written once; answers point back at it.
        assert_eq!(&msg[msg.len() - 4..], &[203, 0, 113, 31]);
        let q = dns_query(0x1234, "image.tmdb.org", DNS_TYPE_A);
        assert_eq!(q.len(), 12 + 16 + 4);
    }

    #[test]
    fn dns_aaaa_answer() {
        let a = Answer {
            name: "plex.tv".into(),
            ttl: 280,
            data: Rdata::Addr("2001:db8:5::a".parse().unwrap()),
        };
        let msg = dns_response(7, "plex.tv", DNS_TYPE_AAAA, &[a]);
        let p = simple_dns::Packet::parse(&msg).unwrap();
        match &p.answers[0].rdata {
            simple_dns::rdata::RData::AAAA(a) => assert_eq!(
                Ipv6Addr::from(a.address),
                "2001:db8:5::a".parse::<Ipv6Addr>().unwrap()
            ),
            other => panic!("{other:?}"),
        }
        let framed = dns_over_tcp(&msg);
        assert_eq!(
            usize::from(u16::from_be_bytes([framed[0], framed[1]])),
            msg.len()
        );
    }

    #[test]
    fn mdns_announcement_parses() {
        let msg = mdns_announcement(
            "Phone",
            "_companion-link._tcp.local",
            "Phone.local",
            49152,
            Ipv4Addr::new(192, 168, 1, 21),
            &["rpVr=360.4"],
        );
        let p = simple_dns::Packet::parse(&msg).unwrap();
        assert_eq!(p.answers.len(), 4);
        match &p.answers[0].rdata {
            simple_dns::rdata::RData::PTR(t) => {
                assert_eq!(t.0.to_string(), "Phone._companion-link._tcp.local")
            }
            other => panic!("{other:?}"),
        }
        match &p.answers[1].rdata {
            simple_dns::rdata::RData::SRV(s) => {
                assert_eq!(
                    (s.port, s.target.to_string()),
                    (49152, "Phone.local".into())
                )
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn client_hello_parses_with_sni_and_alpn() {
        let mut rng = SplitMix64::new(3);
        let hello = ClientHello::new(&mut rng, Some("plex.tv"), &["h2", "http/1.1"]);
        let rec = hello.record();
        let (rest, plain) = tls_parser::parse_tls_plaintext(&rec).unwrap();
        assert!(rest.is_empty());
        let tls_parser::TlsMessage::Handshake(tls_parser::TlsMessageHandshake::ClientHello(ch)) =
            &plain.msg[0]
        else {
            panic!("not a ClientHello")
        };
        let (_, exts) = tls_parser::parse_tls_client_hello_extensions(ch.ext.unwrap()).unwrap();
        let mut sni = None;
        let mut alpn = Vec::new();
        let mut versions = Vec::new();
        for e in exts {
            match e {
                tls_parser::TlsExtension::SNI(v) => sni = Some(v[0].1.to_vec()),
                tls_parser::TlsExtension::ALPN(v) => alpn = v.iter().map(|p| p.to_vec()).collect(),
                tls_parser::TlsExtension::SupportedVersions(v) => versions = v.clone(),
                _ => {}
            }
        }
        assert_eq!(sni.as_deref(), Some(&b"plex.tv"[..]));
        assert_eq!(alpn, vec![b"h2".to_vec(), b"http/1.1".to_vec()]);
        assert_eq!(versions[0], tls_parser::TlsVersion::Tls13);
    }

    #[test]
    fn client_hello_without_sni_has_no_server_name() {
        let mut rng = SplitMix64::new(4);
        let hello = ClientHello::new(&mut rng, None, &[]);
        let msg = hello.handshake_message();
        // No extension of type 0 (server_name) and none of type 16 (ALPN) anywhere after
        // the cipher suites: find the extension list and walk it.
        let ext_start = 4 + 2 + 32 + 1 + 32 + 2 + 24 + 2 + 2;
        let mut types = Vec::new();
        let mut at = ext_start;
        while at + 4 <= msg.len() {
            types.push(u16::from_be_bytes([msg[at], msg[at + 1]]));
            at += 4 + usize::from(u16::from_be_bytes([msg[at + 2], msg[at + 3]]));
        }
        assert_eq!(at, msg.len());
        assert!(!types.contains(&0) && !types.contains(&16), "{types:?}");
        assert!(types.contains(&0x33) && types.contains(&0x2b));
    }

    #[test]
    fn server_flight_parses_as_tls_records() {
        let mut rng = SplitMix64::new(5);
        let hello = ClientHello::new(&mut rng, Some("plex.tv"), &[]);
        let flight = server_flight(&mut rng, &hello, 3000);
        let (rest, sh) = tls_parser::parse_tls_plaintext(&flight).unwrap();
        assert!(matches!(
            sh.msg[0],
            tls_parser::TlsMessage::Handshake(tls_parser::TlsMessageHandshake::ServerHello(_))
        ));
        let mut rest = rest;
        let mut app = 0;
        while !rest.is_empty() {
            let (r, rec) = tls_parser::parse_tls_raw_record(rest).unwrap();
            if rec.hdr.record_type == tls_parser::TlsRecordType::ApplicationData {
                app += rec.data.len() + 5;
            }
            rest = r;
        }
        assert_eq!(app, 3000);
    }

    #[test]
    fn base64_matches_rfc4648_vectors() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(base64(b"foobar"), "Zm9vYmFy");
    }

    #[test]
    fn ocsp_request_has_the_usual_shape() {
        let mut rng = SplitMix64::new(12);
        let id = ocsp::CertId::random(&mut rng);
        let req = ocsp::request(&id);
        // SEQUENCE(81) { SEQUENCE(79) { SEQUENCE(77) { SEQUENCE(75) { CertID(73) } } } }
        assert_eq!(
            &req[..10],
            &[0x30, 0x51, 0x30, 0x4f, 0x30, 0x4d, 0x30, 0x4b, 0x30, 0x49]
        );
        assert_eq!(req.len(), 83);
        // ... which is why real OCSP GET paths start with "MFEwTzBNMEswSTAJBgUrDgMCGgUABB".
        assert!(ocsp::get_path(&id).starts_with("/MFEwTzBNMEswSTAJBgUrDgMCGgUABB"));
        let resp = ocsp::response(&mut rng, &id, "20261107195500Z", "20261114195500Z");
        assert_eq!(&resp[..2], &[0x30, 0x82]);
        let total = usize::from(u16::from_be_bytes([resp[2], resp[3]])) + 4;
        assert_eq!(total, resp.len());
        assert_eq!(&resp[4..7], &[0x0a, 0x01, 0x00], "successful");
    }

    #[test]
    fn http_request_has_host_header() {
        let r = http_request(
            "GET",
            "/12345.mp3",
            "tvthemes.plexapp.com",
            &[("Accept", "*/*")],
            b"",
        );
        let mut headers = [httparse::EMPTY_HEADER; 8];
        let mut req = httparse::Request::new(&mut headers);
        assert!(req.parse(&r).unwrap().is_complete());
        assert_eq!(req.path, Some("/12345.mp3"));
        assert_eq!(req.headers[0].name, "Host");
        assert_eq!(req.headers[0].value, b"tvthemes.plexapp.com");
    }
}
