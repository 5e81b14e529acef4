//! The frames of a decrypted Initial packet (RFC 9000 section 19): CRYPTO data is kept
//! by offset, PADDING, PING and ACK are stepped over, anything else ends the walk. The
//! CRYPTO stream is reassembled in a bounded buffer, in order, first copy wins.

use super::packet::varint;
use std::collections::BTreeMap;

/// Walks an Initial's frames and hands each CRYPTO frame's (offset, data) to `crypto`.
/// Returns false if the frames were malformed.
pub fn walk<'a>(b: &'a [u8], crypto: impl FnMut(u64, &'a [u8])) -> bool {
    walk_framing(b, false, crypto)
}

/// [`walk`], for the frames of Google's IETF-header versions (T050, T051, Q050) when `gquic`:
/// their Initials carry gQUIC frames, where CRYPTO is type 0x08 (with QUIC varints for offset
/// and length, as Chromium writes it) and 0x06 is STOP_WAITING, which an Initial never holds.
pub fn walk_framing<'a>(
    mut b: &'a [u8],
    gquic: bool,
    mut crypto: impl FnMut(u64, &'a [u8]),
) -> bool {
    let crypto_type = if gquic { 0x08 } else { 0x06 };
    while let Some(&t) = b.first() {
        match t {
            0x00 => {
                // PADDING: skip the run at once
                let n = b.iter().take_while(|&&x| x == 0).count();
                b = b.get(n..).unwrap_or(&[]);
            }
            0x01 => b = b.get(1..).unwrap_or(&[]),
            0x02 | 0x03 if !gquic => match skip_ack(b.get(1..).unwrap_or(&[]), t == 0x03) {
                Some(rest) => b = rest,
                None => return false,
            },
            t if t == crypto_type => {
                let Some((offset, rest)) = varint(b.get(1..).unwrap_or(&[])) else {
                    return false;
                };
                let Some((len, rest)) = varint(rest) else {
                    return false;
                };
                let Ok(len) = usize::try_from(len) else {
                    return false;
                };
                let Some(data) = rest.get(..len) else {
                    return false;
                };
                crypto(offset, data);
                b = rest.get(len..).unwrap_or(&[]);
            }
            // CONNECTION_CLOSE (transport): nothing more to read
            0x1c if !gquic => return true,
            _ => return false,
        }
    }
    true
}

fn skip_ack(b: &[u8], ecn: bool) -> Option<&[u8]> {
    let (_largest, b) = varint(b)?;
    let (_delay, b) = varint(b)?;
    let (ranges, b) = varint(b)?;
    let (_first, mut b) = varint(b)?;
    for _ in 0..ranges.min(1024) {
        let (_gap, r) = varint(b)?;
        let (_len, r) = varint(r)?;
        b = r;
    }
    if ranges > 1024 {
        return None;
    }
    if ecn {
        for _ in 0..3 {
            b = varint(b)?.1;
        }
    }
    Some(b)
}

/// The client's CRYPTO stream, reassembled from offset 0 up to a cap.
#[derive(Debug, Default)]
pub struct CryptoStream {
    data: Vec<u8>,
    pending: BTreeMap<u64, Vec<u8>>,
    pending_bytes: usize,
    /// Bytes dropped because they lay beyond the cap.
    pub dropped: u64,
}

/// A ClientHello larger than this is not waited for.
pub const CRYPTO_CAP: usize = 64 * 1024;

impl CryptoStream {
    pub fn add(&mut self, offset: u64, bytes: &[u8]) {
        let Ok(offset) = usize::try_from(offset) else {
            return;
        };
        let end = offset.saturating_add(bytes.len());
        if end > CRYPTO_CAP {
            self.dropped += bytes.len() as u64;
            return;
        }
        if end <= self.data.len() {
            return; // already have it
        }
        if offset > self.data.len() {
            if self.pending_bytes + bytes.len() > CRYPTO_CAP {
                self.dropped += bytes.len() as u64;
                return;
            }
            self.pending_bytes += bytes.len();
            self.pending
                .entry(offset as u64)
                .or_insert_with(|| bytes.to_vec());
            return;
        }
        let skip = self.data.len() - offset;
        self.data
            .extend_from_slice(bytes.get(skip..).unwrap_or(&[]));
        // pull in what was waiting for this gap
        while let Some((&o, _)) = self.pending.first_key_value() {
            let o = o as usize;
            if o > self.data.len() {
                break;
            }
            if let Some((_, v)) = self.pending.pop_first() {
                self.pending_bytes -= v.len();
                let skip = self.data.len() - o;
                if let Some(tail) = v.get(skip..) {
                    self.data.extend_from_slice(tail);
                }
            }
        }
    }

    /// The contiguous bytes from offset 0.
    pub fn data(&self) -> &[u8] {
        &self.data
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn walks_padding_ping_ack_and_crypto() {
        // PADDING x3, PING, ACK(largest 5, delay 0, 1 range, first 2, gap 0, len 1), CRYPTO(off 0, len 3)
        let frames = [
            0, 0, 0, 1, 2, 5, 0, 1, 2, 0, 1, 6, 0, 3, b'a', b'b', b'c', 0, 0,
        ];
        let mut got = Vec::new();
        assert!(walk(&frames, |o, d| got.push((o, d.to_vec()))));
        assert_eq!(got, [(0, b"abc".to_vec())]);
    }

    #[test]
    fn a_cut_crypto_frame_is_malformed() {
        let frames = [6, 0, 10, b'a'];
        assert!(!walk(&frames, |_, _| {}));
        assert!(!walk(&[0x30], |_, _| {}));
    }

    #[test]
    fn reassembles_out_of_order_and_overlapping() {
        let mut s = CryptoStream::default();
        s.add(6, b"ghij");
        s.add(3, b"def");
        assert_eq!(s.data(), b"");
        s.add(0, b"abcd"); // overlaps the pending segment
        assert_eq!(s.data(), b"abcdefghij");
        s.add(2, b"XY"); // a retransmission changes nothing
        assert_eq!(s.data(), b"abcdefghij");
        s.add(CRYPTO_CAP as u64, b"x");
        assert_eq!(s.dropped, 1);
    }
}
