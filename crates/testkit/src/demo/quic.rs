//! QUIC v1 packets for the synthesizer. The client Initial is really protected as RFC 9001
//! §5 says: initial secrets from HKDF-SHA256 over the v1 salt and the destination connection
//! ID, AES-128-GCM payload protection and AES header protection, all done by `ring`. The
//! server's packets are structurally valid long/short header packets with opaque contents.

use ring::aead::{self, Aad, LessSafeKey, Nonce, UnboundKey};
use telltale::dissect::quic::crypto::{Side, VERSION_1, VersionKeys, key_material, version_keys};

use super::payload::{ClientHello, server_hello_message};
use super::synth::{SplitMix64, SynthError};

/// The smallest datagram that may carry a client Initial (RFC 9000 §14.1).
pub const MIN_INITIAL_DATAGRAM: usize = 1200;

/// Packet protection keys for one direction of the Initial space.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InitialKeys {
    pub key: [u8; 16],
    pub iv: [u8; 12],
    pub hp: [u8; 16],
}

/// The Initial keys of one side (derived, as the dissector derives them, by
/// `dissect::quic::crypto`) for a connection whose client chose `original_dcid` first.
fn initial_keys(original_dcid: &[u8], side: Side) -> Result<InitialKeys, SynthError> {
    let v = version_keys(VERSION_1).ok_or(SynthError::Crypto("QUIC v1 keys"))?;
    let m = key_material(v, original_dcid, side).ok_or(SynthError::Crypto("HKDF expand"))?;
    Ok(InitialKeys {
        key: m.key,
        iv: m.iv,
        hp: m.hp,
    })
}

/// The client's Initial keys for a connection whose first destination connection ID is `dcid`.
pub fn client_initial_keys(dcid: &[u8]) -> Result<InitialKeys, SynthError> {
    initial_keys(dcid, Side::Client)
}

/// The server's Initial keys (also derived from the client's first destination connection ID).
pub fn server_initial_keys(original_dcid: &[u8]) -> Result<InitialKeys, SynthError> {
    initial_keys(original_dcid, Side::Server)
}

/// Appends a QUIC variable-length integer (RFC 9000 §16).
pub fn put_varint(out: &mut Vec<u8>, v: u64) {
    if v < 1 << 6 {
        out.push(v as u8);
    } else if v < 1 << 14 {
        out.extend_from_slice(&((v as u16) | 0x4000).to_be_bytes());
    } else if v < 1 << 30 {
        out.extend_from_slice(&((v as u32) | 0x8000_0000).to_be_bytes());
    } else {
        out.extend_from_slice(&((v & 0x3fff_ffff_ffff_ffff) | 0xc000_0000_0000_0000).to_be_bytes());
    }
}

/// The client's transport parameters (RFC 9000 §18.2), Chrome-like values.
pub fn client_transport_parameters(scid: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(64);
    let mut param = |id: u64, value: &[u8]| {
        put_varint(&mut out, id);
        put_varint(&mut out, value.len() as u64);
        out.extend_from_slice(value);
    };
    let varint = |v: u64| {
        let mut b = Vec::new();
        put_varint(&mut b, v);
        b
    };
    param(0x01, &varint(30_000)); // max_idle_timeout
    param(0x03, &varint(1472)); // max_udp_payload_size
    param(0x04, &varint(15_728_640)); // initial_max_data
    param(0x05, &varint(6_291_456)); // initial_max_stream_data_bidi_local
    param(0x06, &varint(6_291_456)); // initial_max_stream_data_bidi_remote
    param(0x07, &varint(6_291_456)); // initial_max_stream_data_uni
    param(0x08, &varint(100)); // initial_max_streams_bidi
    param(0x09, &varint(103)); // initial_max_streams_uni
    param(0x0f, scid); // initial_source_connection_id
    out
}

/// The plaintext parts of an Initial packet.
#[derive(Clone, Debug)]
pub struct InitialSpec<'a> {
    /// The version the long header carries (the keys may be another version's).
    pub version: u32,
    /// The protection keys (client's or server's).
    pub keys: &'a InitialKeys,
    pub dcid: &'a [u8],
    pub scid: &'a [u8],
    pub packet_number: u32,
    /// The frames, in plaintext.
    pub frames: &'a [u8],
    /// Pad with PADDING frames so the packet is exactly this long (a client Initial fills its
    /// datagram to [`MIN_INITIAL_DATAGRAM`]); `None` adds no padding.
    pub pad_to: Option<usize>,
}

/// A CRYPTO frame carrying `data` at `offset`.
pub fn crypto_frame(offset: u64, data: &[u8]) -> Vec<u8> {
    let mut out = vec![0x06];
    put_varint(&mut out, offset);
    put_varint(&mut out, data.len() as u64);
    out.extend_from_slice(data);
    out
}

/// Builds a protected Initial packet (RFC 9001 §5: AEAD payload protection, then header
/// protection), with a 4-byte packet number.
pub fn protect_initial(spec: &InitialSpec<'_>) -> Result<Vec<u8>, SynthError> {
    const PN_LEN: usize = 4;
    const TAG_LEN: usize = 16;
    let keys = spec.keys;

    let mut header = vec![0xc0 | (PN_LEN as u8 - 1)];
    header.extend_from_slice(&spec.version.to_be_bytes());
    header.push(u8::try_from(spec.dcid.len()).map_err(|_| SynthError::TooLarge("a DCID"))?);
    header.extend_from_slice(spec.dcid);
    header.push(u8::try_from(spec.scid.len()).map_err(|_| SynthError::TooLarge("a SCID"))?);
    header.extend_from_slice(spec.scid);
    put_varint(&mut header, 0); // no token
    // The Length field (always a 2-byte varint here) covers packet number, payload and tag.
    let pn_offset = header.len() + 2;
    let payload_len = match spec.pad_to {
        Some(total) => total
            .checked_sub(pn_offset + PN_LEN + TAG_LEN)
            .ok_or(SynthError::TooLarge("the Initial header"))?,
        None => spec.frames.len(),
    };
    if spec.frames.len() > payload_len {
        return Err(SynthError::TooLarge("the frames for one Initial"));
    }
    let length = u16::try_from(PN_LEN + payload_len + TAG_LEN)
        .ok()
        .filter(|l| *l < 0x4000)
        .ok_or(SynthError::TooLarge("the Initial"))?;
    header.extend_from_slice(&(length | 0x4000).to_be_bytes());
    header.extend_from_slice(&spec.packet_number.to_be_bytes());

    let mut payload = spec.frames.to_vec();
    payload.resize(payload_len, 0); // PADDING frames are zero bytes

    // Payload protection: nonce = iv XOR packet number (RFC 9001 §5.3).
    let mut nonce = keys.iv;
    for (n, p) in nonce.iter_mut().rev().zip(spec.packet_number.to_le_bytes()) {
        *n ^= p;
    }
    let key = UnboundKey::new(&aead::AES_128_GCM, &keys.key)
        .map_err(|_| SynthError::Crypto("AES-128-GCM key"))?;
    let tag = LessSafeKey::new(key)
        .seal_in_place_separate_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(&header),
            &mut payload,
        )
        .map_err(|_| SynthError::Crypto("AES-128-GCM seal"))?;
    let mut packet = header;
    packet.extend_from_slice(&payload);
    packet.extend_from_slice(tag.as_ref());

    // Header protection (RFC 9001 §5.4): the sample starts 4 bytes after the packet number.
    let hp = aead::quic::HeaderProtectionKey::new(&aead::quic::AES_128, &keys.hp)
        .map_err(|_| SynthError::Crypto("header protection key"))?;
    let sample = packet
        .get(pn_offset + 4..pn_offset + 4 + 16)
        .ok_or(SynthError::Crypto("sample out of range"))?;
    let mask = hp
        .new_mask(sample)
        .map_err(|_| SynthError::Crypto("header protection mask"))?;
    if let Some(first) = packet.first_mut() {
        *first ^= mask[0] & 0x0f;
    }
    if let Some(pn) = packet.get_mut(pn_offset..pn_offset + PN_LEN) {
        for (b, m) in pn.iter_mut().zip(mask.iter().skip(1)) {
            *b ^= m;
        }
    }
    Ok(packet)
}

/// A complete client Initial, padded to fill a 1200-byte datagram, carrying a fresh
/// ClientHello for `sni` with ALPN h3.
pub fn client_initial_for(
    rng: &mut SplitMix64,
    sni: &str,
    dcid: &[u8],
    scid: &[u8],
) -> Result<Vec<u8>, SynthError> {
    let mut hello = ClientHello::new(rng, Some(sni), &["h3"]);
    hello.session_id = Vec::new();
    hello.quic_transport_parameters = Some(client_transport_parameters(scid));
    let frames = crypto_frame(0, &hello.handshake_message());
    protect_initial(&InitialSpec {
        version: VERSION_1,
        keys: &client_initial_keys(dcid)?,
        dcid,
        scid,
        packet_number: 0,
        frames: &frames,
        pad_to: Some(MIN_INITIAL_DATAGRAM),
    })
}

/// The client keys of the protection `keys` (a version's, whatever version the header names).
pub fn client_keys_of(keys: VersionKeys, dcid: &[u8]) -> Result<InitialKeys, SynthError> {
    let m = key_material(keys, dcid, Side::Client).ok_or(SynthError::Crypto("HKDF expand"))?;
    Ok(InitialKeys {
        key: m.key,
        iv: m.iv,
        hp: m.hp,
    })
}

/// A client Initial whose header names `version`, protected with the keys of `keys` (another
/// version's, for a reserved version that a client protects with keys it knows), padded to
/// fill a 1200-byte datagram, carrying a ClientHello for `sni` with ALPN h3.
pub fn client_initial_versioned(
    rng: &mut SplitMix64,
    sni: &str,
    dcid: &[u8],
    scid: &[u8],
    version: u32,
    keys: VersionKeys,
) -> Result<Vec<u8>, SynthError> {
    let mut hello = ClientHello::new(rng, Some(sni), &["h3"]);
    hello.session_id = Vec::new();
    hello.quic_transport_parameters = Some(client_transport_parameters(scid));
    let frames = crypto_frame(0, &hello.handshake_message());
    protect_initial(&InitialSpec {
        version,
        keys: &client_keys_of(keys, dcid)?,
        dcid,
        scid,
        packet_number: 0,
        frames: &frames,
        pad_to: Some(MIN_INITIAL_DATAGRAM),
    })
}

/// The server's Initial answering a client Initial: an ACK of the client's packet 0 and a
/// CRYPTO frame with a ServerHello. `original_dcid` picks the keys, `client_scid` becomes
/// the destination connection ID.
pub fn server_initial_for(
    rng: &mut SplitMix64,
    original_dcid: &[u8],
    client_scid: &[u8],
    server_cid: &[u8],
) -> Result<Vec<u8>, SynthError> {
    let mut frames = vec![0x02, 0x00, 0x00, 0x00, 0x00]; // ACK: largest 0, no delay, one range
    frames.extend_from_slice(&crypto_frame(0, &server_hello_message(rng, &[])));
    protect_initial(&InitialSpec {
        version: VERSION_1,
        keys: &server_initial_keys(original_dcid)?,
        dcid: client_scid,
        scid: server_cid,
        packet_number: 0,
        frames: &frames,
        pad_to: None,
    })
}

/// An opaque long header packet: `kind` 0 = Initial, 2 = Handshake; `len` bytes after the
/// Length field (packet number and protected payload, random here).
pub fn opaque_long(
    rng: &mut SplitMix64,
    kind: u8,
    dcid: &[u8],
    scid: &[u8],
    len: usize,
) -> Vec<u8> {
    let mut out = vec![0xc0 | ((kind & 3) << 4) | (rng.next_u32() as u8 & 0x0f)];
    out.extend_from_slice(&1u32.to_be_bytes());
    out.push(dcid.len() as u8);
    out.extend_from_slice(dcid);
    out.push(scid.len() as u8);
    out.extend_from_slice(scid);
    if kind == 0 {
        put_varint(&mut out, 0);
    }
    put_varint(&mut out, len as u64);
    out.extend_from_slice(&rng.bytes(len));
    out
}

/// An opaque 1-RTT short header packet of `len` bytes in total.
pub fn opaque_short(rng: &mut SplitMix64, dcid: &[u8], len: usize) -> Vec<u8> {
    let mut out = vec![0x40 | (rng.next_u32() as u8 & 0x3f)];
    out.extend_from_slice(dcid);
    let rest = len.saturating_sub(out.len()).max(20);
    out.extend_from_slice(&rng.bytes(rest));
    out
}

/// Test helper: removes header protection and decrypts a client Initial as a receiver would
/// (panics on malformed input; tests only).
#[cfg(test)]
pub(crate) fn open_initial(datagram: &[u8], keys: &InitialKeys) -> Option<(u32, Vec<u8>)> {
    let dcid_len = usize::from(datagram[5]);
    let scid_len = usize::from(datagram[6 + dcid_len]);
    let mut at = 6 + dcid_len + 1 + scid_len;
    assert_eq!(datagram[at], 0, "token length");
    at += 1;
    let length = usize::from(u16::from_be_bytes([datagram[at], datagram[at + 1]]) & 0x3fff);
    let pn_offset = at + 2;
    // The Initial may share its datagram with later packets: stop where its Length says.
    let mut p = datagram[..pn_offset + length].to_vec();
    let hp = aead::quic::HeaderProtectionKey::new(&aead::quic::AES_128, &keys.hp).unwrap();
    let mask = hp.new_mask(&p[pn_offset + 4..pn_offset + 20]).unwrap();
    p[0] ^= mask[0] & 0x0f;
    let pn_len = usize::from(p[0] & 3) + 1;
    let mut pn = 0u32;
    for i in 0..pn_len {
        p[pn_offset + i] ^= mask[1 + i];
        pn = (pn << 8) | u32::from(p[pn_offset + i]);
    }
    let header_len = pn_offset + pn_len;
    let mut nonce = keys.iv;
    for (n, b) in nonce.iter_mut().rev().zip(pn.to_le_bytes()) {
        *n ^= b;
    }
    let key = LessSafeKey::new(UnboundKey::new(&aead::AES_128_GCM, &keys.key).unwrap());
    let (header, body) = p.split_at_mut(header_len);
    let plain = key
        .open_in_place(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(&*header),
            body,
        )
        .ok()?;
    Some((pn, plain.to_vec()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    #[test]
    fn rfc9001_appendix_a_client_keys() {
        let k = client_initial_keys(&hex("8394c8f03e515708")).unwrap();
        assert_eq!(k.key.to_vec(), hex("1f369613dd76d5467730efcbe3b1a22d"));
        assert_eq!(k.iv.to_vec(), hex("fa044b2f42a3fd3b46fb255c"));
        assert_eq!(k.hp.to_vec(), hex("9f50449e04a0e810283a1e9933adedd2"));
    }

    #[test]
    fn rfc9001_appendix_a_server_keys() {
        let k = server_initial_keys(&hex("8394c8f03e515708")).unwrap();
        assert_eq!(k.key.to_vec(), hex("cf3a5331653c364c88f0f379b6067e37"));
        assert_eq!(k.iv.to_vec(), hex("0ac1493ca1905853b0bba03e"));
        assert_eq!(k.hp.to_vec(), hex("c206b8d9b9f0f37644430b490eeaa314"));
    }

    #[test]
    fn server_initial_decrypts_to_ack_and_server_hello() {
        let mut rng = SplitMix64::new(11);
        let (dcid, scid, server_cid) = (rng.bytes(8), rng.bytes(8), rng.bytes(8));
        let packet = server_initial_for(&mut rng, &dcid, &scid, &server_cid).unwrap();
        assert_eq!(&packet[6..14], &scid[..], "addressed to the client's SCID");
        let keys = server_initial_keys(&dcid).unwrap();
        let (pn, plain) = open_initial(&packet, &keys).unwrap();
        assert_eq!(pn, 0);
        assert_eq!(&plain[..5], &[0x02, 0, 0, 0, 0], "ACK of packet 0");
        assert_eq!(plain[5], 0x06, "CRYPTO");
        let len = usize::from(u16::from_be_bytes([plain[7], plain[8]]) & 0x3fff);
        let (_, msg) = tls_parser::parse_tls_message_handshake(&plain[9..9 + len]).unwrap();
        assert!(matches!(
            msg,
            tls_parser::TlsMessage::Handshake(tls_parser::TlsMessageHandshake::ServerHello(_))
        ));
    }

    #[test]
    fn rfc9001_appendix_a_header_protection_mask() {
        let k = client_initial_keys(&hex("8394c8f03e515708")).unwrap();
        let hp = aead::quic::HeaderProtectionKey::new(&aead::quic::AES_128, &k.hp).unwrap();
        let mask = hp
            .new_mask(&hex("d1b1c98dd7689fb8ec11d242b123dc9b"))
            .unwrap();
        assert_eq!(mask.to_vec(), hex("437b9aec36"));
    }

    #[test]
    fn varints() {
        let enc = |v| {
            let mut b = Vec::new();
            put_varint(&mut b, v);
            b
        };
        // RFC 9000 §A.1 examples.
        assert_eq!(enc(37), hex("25"));
        assert_eq!(enc(15_293), hex("7bbd"));
        assert_eq!(enc(494_878_333), hex("9d7f3e7d"));
        assert_eq!(enc(151_288_809_941_952_652), hex("c2197c5eff14e88c"));
    }

    #[test]
    fn own_initial_decrypts_to_a_client_hello_with_sni_and_h3() {
        let mut rng = SplitMix64::new(9);
        let dcid = rng.bytes(8);
        let scid = rng.bytes(8);
        let packet =
            client_initial_for(&mut rng, "discover.provider.plex.tv", &dcid, &scid).unwrap();
        assert_eq!(packet.len(), MIN_INITIAL_DATAGRAM);
        assert_eq!(packet[0] & 0xf0, 0xc0, "long header, Initial");
        assert_eq!(&packet[1..5], &[0, 0, 0, 1]);
        let (pn, plain) = open_initial(&packet, &client_initial_keys(&dcid).unwrap()).unwrap();
        assert_eq!(pn, 0);
        // CRYPTO frame at offset 0, then padding.
        assert_eq!(plain[0], 0x06);
        assert_eq!(plain[1], 0x00);
        let len = usize::from(u16::from_be_bytes([plain[2], plain[3]]) & 0x3fff);
        let hello = &plain[4..4 + len];
        assert!(plain[4 + len..].iter().all(|b| *b == 0));
        let (_, msg) = tls_parser::parse_tls_message_handshake(hello).unwrap();
        let tls_parser::TlsMessage::Handshake(tls_parser::TlsMessageHandshake::ClientHello(ch)) =
            msg
        else {
            panic!("not a ClientHello")
        };
        let (_, exts) = tls_parser::parse_tls_client_hello_extensions(ch.ext.unwrap()).unwrap();
        let sni = exts.iter().find_map(|e| match e {
            tls_parser::TlsExtension::SNI(v) => Some(v[0].1.to_vec()),
            _ => None,
        });
        let alpn = exts.iter().find_map(|e| match e {
            tls_parser::TlsExtension::ALPN(v) => {
                Some(v.iter().map(|p| p.to_vec()).collect::<Vec<_>>())
            }
            _ => None,
        });
        assert_eq!(sni.as_deref(), Some(&b"discover.provider.plex.tv"[..]));
        assert_eq!(alpn, Some(vec![b"h3".to_vec()]));
    }

    #[test]
    fn tampered_initial_fails_to_open() {
        let mut rng = SplitMix64::new(10);
        let dcid = rng.bytes(8);
        let mut packet = client_initial_for(&mut rng, "a.example", &dcid, &[1, 2, 3, 4]).unwrap();
        let last = packet.len() - 1;
        packet[last] ^= 1;
        let keys = client_initial_keys(&dcid).unwrap();
        assert!(open_initial(&packet, &keys).is_none());
        packet[last] ^= 1;
        assert!(open_initial(&packet, &keys).is_some());
        // The server's keys do not open the client's packet.
        assert!(open_initial(&packet, &server_initial_keys(&dcid).unwrap()).is_none());
    }
}
