//! QUIC packet headers (RFC 9000 section 17, RFC 9369 section 3.2): long-header packets
//! coalesced in a datagram, their types per version, and removing an Initial's
//! protection to reach its frames.

use super::crypto::{InitialKeys, VERSION_2, VersionKeys, version_keys};

/// A long-header packet type, independent of the version's numbering.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LongType {
    Initial,
    ZeroRtt,
    Handshake,
    Retry,
}

/// One long-header packet of a datagram.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LongPacket<'a> {
    pub version: u32,
    pub kind: LongType,
    pub dcid: &'a [u8],
    pub scid: &'a [u8],
    /// The whole packet, header included (for an Initial, up to the end of its Length field's payload).
    pub bytes: &'a [u8],
    /// Offset in `bytes` of the packet number (Initial, 0-RTT, Handshake).
    pub pn_offset: usize,
}

/// What the first byte and version of a datagram say.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Datagram<'a> {
    /// Version 0: the server lists the versions it supports.
    VersionNegotiation,
    /// Long-header packets (one or more, coalesced), and whether bytes were left unparsed.
    Long(Vec<LongPacket<'a>>),
    /// A short-header (1-RTT) packet: nothing readable.
    Short,
    NotQuic,
}

/// Reads a QUIC variable-length integer; returns it and the bytes after it.
pub fn varint(b: &[u8]) -> Option<(u64, &[u8])> {
    let first = *b.first()?;
    let len = 1usize << (first >> 6);
    let bytes = b.get(..len)?;
    let mut v = u64::from(first & 0x3f);
    for &x in bytes.iter().skip(1) {
        v = (v << 8) | u64::from(x);
    }
    Some((v, b.get(len..)?))
}

fn long_type(version: u32, bits: u8) -> LongType {
    let bits = bits & 0x03;
    if version == VERSION_2 {
        match bits {
            0 => LongType::Retry,
            1 => LongType::Initial,
            2 => LongType::ZeroRtt,
            _ => LongType::Handshake,
        }
    } else {
        match bits {
            0 => LongType::Initial,
            1 => LongType::ZeroRtt,
            2 => LongType::Handshake,
            _ => LongType::Retry,
        }
    }
}

/// At most this many packets are read from one datagram.
const MAX_COALESCED: usize = 16;

/// Splits a UDP payload into its QUIC packets.
pub fn parse_datagram(data: &[u8]) -> Datagram<'_> {
    let Some(&first) = data.first() else {
        return Datagram::NotQuic;
    };
    if first & 0x80 == 0 {
        return if first & 0x40 != 0 && data.len() >= 21 {
            Datagram::Short
        } else {
            Datagram::NotQuic
        };
    }
    match data.get(1..5) {
        Some([0, 0, 0, 0]) => return Datagram::VersionNegotiation,
        Some(_) => {}
        None => return Datagram::NotQuic,
    }
    let mut packets = Vec::new();
    let mut rest = data;
    while packets.len() < MAX_COALESCED {
        let Some(&b0) = rest.first() else { break };
        // a coalesced packet after the first may be a short-header one, or padding
        if b0 & 0x80 == 0 {
            break;
        }
        match parse_long(rest) {
            Some((p, after)) => {
                packets.push(p);
                rest = after;
            }
            None => break,
        }
    }
    if packets.is_empty() {
        Datagram::NotQuic
    } else {
        Datagram::Long(packets)
    }
}

/// One long-header packet at the start of `b`, and what follows it.
fn parse_long(b: &[u8]) -> Option<(LongPacket<'_>, &[u8])> {
    let first = *b.first()?;
    let version = u32::from_be_bytes(b.get(1..5)?.try_into().ok()?);
    if version == 0 || first & 0x40 == 0 && version_keys(version).is_some() {
        // the fixed bit must be set in every version we decode
        return None;
    }
    let kind = long_type(version, first >> 4);
    let dcid_len = usize::from(*b.get(5)?);
    if dcid_len > 20 && version_keys(version).is_some() {
        return None;
    }
    let dcid = b.get(6..6 + dcid_len)?;
    let mut at = 6 + dcid_len;
    let scid_len = usize::from(*b.get(at)?);
    let scid = b.get(at + 1..at + 1 + scid_len)?;
    at += 1 + scid_len;
    match kind {
        LongType::Retry => {
            // a Retry runs to the end of the datagram
            return Some((
                LongPacket {
                    version,
                    kind,
                    dcid,
                    scid,
                    bytes: b,
                    pn_offset: b.len(),
                },
                &[],
            ));
        }
        LongType::Initial => {
            let (token_len, rest) = varint(b.get(at..)?)?;
            let header_len = b.len() - rest.len();
            at = header_len.checked_add(usize::try_from(token_len).ok()?)?;
        }
        LongType::ZeroRtt | LongType::Handshake => {}
    }
    let (length, rest) = varint(b.get(at..)?)?;
    let pn_offset = b.len() - rest.len();
    let end = pn_offset.checked_add(usize::try_from(length).ok()?)?;
    let bytes = b.get(..end)?;
    Some((
        LongPacket {
            version,
            kind,
            dcid,
            scid,
            bytes,
            pn_offset,
        },
        b.get(end..)?,
    ))
}

/// Why an Initial could not be read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unreadable {
    /// The version's Initial salt is not known.
    UnknownVersion,
    /// The packet is too short for a header-protection sample.
    TooShort,
    /// Decryption failed: not a client Initial, or corrupt.
    Decryption,
}

/// Removes header and payload protection from a client Initial, with the keys of
/// `key_dcid` (the packet's own destination connection ID, or the connection's original
/// one); returns the plaintext frames.
pub fn open_initial(p: &LongPacket<'_>, key_dcid: &[u8]) -> Result<Vec<u8>, Unreadable> {
    let v = version_keys(p.version).ok_or(Unreadable::UnknownVersion)?;
    open_initial_with(p, key_dcid, v)
}

/// [`open_initial`] with the keys of `v`, whatever the packet's version says.
pub fn open_initial_with(
    p: &LongPacket<'_>,
    key_dcid: &[u8],
    v: VersionKeys,
) -> Result<Vec<u8>, Unreadable> {
    let keys = InitialKeys::client(v, key_dcid).ok_or(Unreadable::Decryption)?;
    let sample_at = p.pn_offset + 4;
    let sample = p
        .bytes
        .get(sample_at..sample_at + 16)
        .ok_or(Unreadable::TooShort)?;
    let mask = keys.mask(sample).ok_or(Unreadable::Decryption)?;
    let mut header = p
        .bytes
        .get(..p.pn_offset + 4)
        .ok_or(Unreadable::TooShort)?
        .to_vec();
    let first = header.first_mut().ok_or(Unreadable::TooShort)?;
    *first ^= mask[0] & 0x0f;
    let pn_len = usize::from(*first & 0x03) + 1;
    let mut pn: u64 = 0;
    for i in 0..pn_len {
        let byte = header
            .get_mut(p.pn_offset + i)
            .ok_or(Unreadable::TooShort)?;
        *byte ^= mask.get(1 + i).copied().unwrap_or(0);
        pn = (pn << 8) | u64::from(*byte);
    }
    header.truncate(p.pn_offset + pn_len);
    let mut payload = p
        .bytes
        .get(p.pn_offset + pn_len..)
        .ok_or(Unreadable::TooShort)?
        .to_vec();
    if payload.len() < 16 {
        return Err(Unreadable::TooShort);
    }
    let plain_len = keys
        .open(pn, &header, &mut payload)
        .ok_or(Unreadable::Decryption)?
        .len();
    payload.truncate(plain_len);
    Ok(payload)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_of_every_length() {
        assert_eq!(varint(&[0x25]), Some((37, &[][..])));
        assert_eq!(varint(&[0x7b, 0xbd]), Some((15_293, &[][..])));
        assert_eq!(
            varint(&[0x9d, 0x7f, 0x3e, 0x7d, 0xff]),
            Some((494_878_333, &[0xff][..]))
        );
        assert_eq!(
            varint(&[0xc2, 0x19, 0x7c, 0x5e, 0xff, 0x14, 0xe8, 0x8c]),
            Some((151_288_809_941_952_652, &[][..]))
        );
        assert_eq!(varint(&[0x40]), None);
        assert_eq!(varint(&[]), None);
    }

    #[test]
    fn version_negotiation_and_short_headers() {
        assert_eq!(
            parse_datagram(&[0x80, 0, 0, 0, 0, 8]),
            Datagram::VersionNegotiation
        );
        assert_eq!(parse_datagram(&[0x40; 30]), Datagram::Short);
        assert_eq!(parse_datagram(&[0x00; 30]), Datagram::NotQuic);
        assert_eq!(parse_datagram(&[]), Datagram::NotQuic);
    }

    #[test]
    fn a_truncated_header_is_not_quic() {
        // Initial, v1, DCID length 8 but only 3 bytes follow
        assert_eq!(
            parse_datagram(&[0xc0, 0, 0, 0, 1, 8, 1, 2, 3]),
            Datagram::NotQuic
        );
    }

    #[test]
    fn the_rfc9001_client_initial_header_parses() {
        // RFC 9001 A.2: the unprotected header, then a 1182-byte payload (Length 0x449e)
        let mut pkt = vec![
            0xc3, 0, 0, 0, 1, 8, 0x83, 0x94, 0xc8, 0xf0, 0x3e, 0x51, 0x57, 0x08, 0, 0, 0x44, 0x9e,
        ];
        pkt.extend(std::iter::repeat_n(0u8, 0x049e));
        match parse_datagram(&pkt) {
            Datagram::Long(ps) => {
                assert_eq!(ps.len(), 1);
                assert_eq!(ps[0].kind, LongType::Initial);
                assert_eq!(ps[0].dcid, [0x83, 0x94, 0xc8, 0xf0, 0x3e, 0x51, 0x57, 0x08]);
                assert_eq!(ps[0].pn_offset, 18);
                assert_eq!(ps[0].bytes.len(), 18 + 0x049e);
                // zeros are not a valid ciphertext
                assert_eq!(
                    open_initial(&ps[0], ps[0].dcid),
                    Err(Unreadable::Decryption)
                );
            }
            other => panic!("{other:?}"),
        }
    }
}
