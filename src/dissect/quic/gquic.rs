//! Google QUIC (gQUIC, versions Q043 to Q050): recognised by its version tag, and its
//! server name read where it travels in the clear, in the `SNI` tag of the client's
//! CHLO handshake message (Q043 to Q046; Q050 encrypts it).

/// The version of a gQUIC packet, if it is one (`Q043`..`Q050`, in either header form).
pub fn version(data: &[u8]) -> Option<u32> {
    let first = *data.first()?;
    // Q046 and later: IETF-style long header with the version after the first byte.
    // Q043 and earlier: public flags, then an 8-byte connection ID, then the version.
    let candidates = [
        data.get(1..5),
        if first & 0x08 != 0 {
            data.get(9..13)
        } else {
            data.get(1..5)
        },
    ];
    for v in candidates.into_iter().flatten() {
        if let &[b'Q', a, b, c] = v {
            // Q001..Q099: Q043 to Q050 are the ones seen in the wild
            if a == b'0' && b.is_ascii_digit() && c.is_ascii_digit() && (b, c) != (b'0', b'0') {
                return Some(u32::from_be_bytes([b'Q', a, b, c]));
            }
        }
    }
    None
}

/// `Q043` for a version number.
pub fn version_name(v: u32) -> String {
    v.to_be_bytes()
        .iter()
        .map(|&b| if b.is_ascii_graphic() { b as char } else { '?' })
        .collect()
}

/// The server name in a clear-text CHLO inside the packet, if there is one.
pub fn chlo_sni(data: &[u8]) -> Option<String> {
    let at = data.windows(4).position(|w| w == b"CHLO")?;
    let msg = data.get(at + 4..)?;
    let n = usize::from(u16::from_le_bytes([*msg.first()?, *msg.get(1)?]));
    if n > 512 {
        return None;
    }
    let entries = msg.get(4..4 + n * 8)?;
    let values = msg.get(4 + n * 8..)?;
    let mut start = 0usize;
    for e in entries.chunks_exact(8) {
        let tag = e.get(..4)?;
        let end = usize::try_from(u32::from_le_bytes(e.get(4..8)?.try_into().ok()?)).ok()?;
        if end < start {
            return None;
        }
        if tag == b"SNI\0" {
            let v = values.get(start..end)?;
            if v.is_empty() || !v.iter().all(|&b| b.is_ascii_graphic()) {
                return None;
            }
            return Some(String::from_utf8_lossy(v).to_ascii_lowercase());
        }
        start = end;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chlo(tags: &[(&[u8; 4], &[u8])]) -> Vec<u8> {
        let mut m = b"CHLO".to_vec();
        m.extend((tags.len() as u16).to_le_bytes());
        m.extend([0, 0]);
        let mut end = 0u32;
        for (t, v) in tags {
            end += v.len() as u32;
            m.extend(t.iter());
            m.extend(end.to_le_bytes());
        }
        for (_, v) in tags {
            m.extend(v.iter());
        }
        m
    }

    #[test]
    fn reads_the_sni_tag() {
        let mut pkt = vec![
            0x0d, 1, 2, 3, 4, 5, 6, 7, 8, b'Q', b'0', b'4', b'3', 1, 0xa0,
        ];
        pkt.extend(chlo(&[
            (b"PAD\0", b"----"),
            (b"SNI\0", b"www.example.com"),
            (b"VER\0", b"Q043"),
        ]));
        assert_eq!(version(&pkt).map(version_name).as_deref(), Some("Q043"));
        assert_eq!(chlo_sni(&pkt).as_deref(), Some("www.example.com"));
    }

    #[test]
    fn long_header_versions() {
        let pkt = [0xc3, b'Q', b'0', b'4', b'6', 0x50];
        assert_eq!(version(&pkt).map(version_name).as_deref(), Some("Q046"));
        assert_eq!(version(&[0xc3, 0, 0, 0, 1]), None);
    }

    #[test]
    fn a_chlo_cut_short_gives_no_name() {
        let full = chlo(&[(b"SNI\0", b"www.example.com")]);
        for cut in 0..full.len() {
            assert_eq!(chlo_sni(&full[..cut]), None, "cut at {cut}");
        }
    }
}
