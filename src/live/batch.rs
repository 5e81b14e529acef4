//! Packets on their way from the capture thread to the pipeline thread, in batches: one
//! buffer of bytes and one list of headers per batch, so a packet costs no allocation.

use crate::capture::{LinkType, RawPacket};
use crate::time::Timestamp;

#[derive(Clone, Copy, Debug)]
struct Header {
    ts: Timestamp,
    link: LinkType,
    orig_len: u32,
    interface: u32,
    start: usize,
    end: usize,
}

#[derive(Debug, Default)]
pub struct Batch {
    bytes: Vec<u8>,
    headers: Vec<Header>,
}

/// A batch is sent when it holds this many packets or this many bytes.
pub const BATCH_PACKETS: usize = 256;
pub const BATCH_BYTES: usize = 1 << 20;

impl Batch {
    pub fn with_capacity() -> Batch {
        Batch {
            bytes: Vec::with_capacity(BATCH_BYTES),
            headers: Vec::with_capacity(BATCH_PACKETS),
        }
    }

    pub fn push(&mut self, p: &RawPacket<'_>) {
        let start = self.bytes.len();
        self.bytes.extend_from_slice(p.data);
        self.headers.push(Header {
            ts: p.ts,
            link: p.link,
            orig_len: p.orig_len,
            interface: p.interface,
            start,
            end: self.bytes.len(),
        });
    }

    pub fn is_full(&self) -> bool {
        self.headers.len() >= BATCH_PACKETS || self.bytes.len() >= BATCH_BYTES
    }

    pub fn len(&self) -> usize {
        self.headers.len()
    }

    pub fn is_empty(&self) -> bool {
        self.headers.is_empty()
    }

    pub fn packets(&self) -> impl Iterator<Item = RawPacket<'_>> {
        self.headers.iter().map(|h| RawPacket {
            ts: h.ts,
            link: h.link,
            data: self.bytes.get(h.start..h.end).unwrap_or(&[]),
            orig_len: h.orig_len,
            interface: h.interface,
        })
    }

    /// The newest packet's time in the batch.
    pub fn last_ts(&self) -> Option<Timestamp> {
        self.headers.last().map(|h| h.ts)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packets_come_back_as_pushed() {
        let mut b = Batch::with_capacity();
        for i in 0..3u8 {
            let data = vec![i; usize::from(i) + 1];
            b.push(&RawPacket {
                ts: Timestamp(i64::from(i)),
                link: LinkType::ETHERNET,
                data: &data,
                orig_len: 100,
                interface: 0,
            });
        }
        let back: Vec<(i64, Vec<u8>)> = b.packets().map(|p| (p.ts.0, p.data.to_vec())).collect();
        assert_eq!(back, [(0, vec![0]), (1, vec![1, 1]), (2, vec![2, 2, 2])]);
        assert_eq!(b.last_ts(), Some(Timestamp(2)));
        assert!(!b.is_full());
    }
}
