//! Packets on their way from the capture thread to the pipeline thread, in batches: one
//! buffer of bytes and one list of headers per batch, so a packet costs no allocation. A batch
//! taken from a [`Pool`] goes back to it when the pipeline drops it, so a batch costs none
//! either once the first few exist (a fresh 1 MiB buffer a batch was a page fault for every
//! 4 KiB written: a third of the capture thread's CPU at 1 Gbit/s).

use crate::capture::{LinkType, RawPacket};
use crate::time::Timestamp;
use std::sync::{Arc, Mutex, PoisonError};

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
    /// Where the batch's buffers go when it is dropped.
    pool: Option<Arc<Pool>>,
}

/// Spent batches' buffers, kept for the next batches (at most [`POOL_KEEP`]).
#[derive(Debug, Default)]
pub struct Pool {
    spare: Mutex<Vec<(Vec<u8>, Vec<Header>)>>,
}

/// Batches' buffers a pool keeps: as many as the queue between the threads holds.
pub const POOL_KEEP: usize = super::source::QUEUE_BATCHES;

impl Pool {
    pub fn new() -> Arc<Pool> {
        Arc::new(Pool::default())
    }

    /// An empty batch, with a spent one's buffers if there is one, which goes back to the
    /// pool when dropped.
    pub fn take(self: &Arc<Pool>) -> Batch {
        let spare = self
            .spare
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop();
        let mut batch = match spare {
            Some((bytes, headers)) => Batch {
                bytes,
                headers,
                pool: None,
            },
            None => Batch::with_capacity(),
        };
        batch.pool = Some(Arc::clone(self));
        batch
    }

    fn give_back(&self, mut bytes: Vec<u8>, mut headers: Vec<Header>) {
        bytes.clear();
        headers.clear();
        let mut spare = self.spare.lock().unwrap_or_else(PoisonError::into_inner);
        if spare.len() < POOL_KEEP {
            spare.push((bytes, headers));
        }
    }

    /// Buffers kept for reuse.
    pub fn spare(&self) -> usize {
        self.spare
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }
}

impl Drop for Batch {
    fn drop(&mut self) {
        if let Some(pool) = self.pool.take() {
            pool.give_back(
                std::mem::take(&mut self.bytes),
                std::mem::take(&mut self.headers),
            );
        }
    }
}

/// A batch is sent when it holds this many packets or this many bytes.
pub const BATCH_PACKETS: usize = 256;
pub const BATCH_BYTES: usize = 1 << 20;

impl Batch {
    pub fn with_capacity() -> Batch {
        Batch {
            bytes: Vec::with_capacity(BATCH_BYTES),
            headers: Vec::with_capacity(BATCH_PACKETS),
            pool: None,
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

    #[test]
    fn a_dropped_batch_goes_back_to_its_pool_empty_and_its_buffer_is_reused() {
        let pool = Pool::new();
        let mut b = pool.take();
        b.push(&RawPacket {
            ts: Timestamp(1),
            link: LinkType::ETHERNET,
            data: &[7u8; 100],
            orig_len: 100,
            interface: 0,
        });
        let buffer = b.bytes.as_ptr();
        assert_eq!(pool.spare(), 0);
        drop(b);
        assert_eq!(pool.spare(), 1);
        let again = pool.take();
        assert!(again.is_empty(), "a reused batch starts empty");
        assert_eq!(again.packets().count(), 0);
        assert_eq!(again.bytes.as_ptr(), buffer, "the spent buffer is reused");
        assert_eq!(pool.spare(), 0);
        // the pool keeps no more than POOL_KEEP
        let many: Vec<Batch> = (0..POOL_KEEP + 5).map(|_| pool.take()).collect();
        drop(again);
        drop(many);
        assert_eq!(pool.spare(), POOL_KEEP);
    }
}
