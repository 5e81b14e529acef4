//! IP fragment reassembly for IPv4 and IPv6, bounded: at most `max_datagrams` datagrams in
//! flight (the oldest is evicted to make room), at most `max_datagram_bytes` each, and a
//! datagram still incomplete `timeout_secs` of packet time after its first fragment is
//! dropped. Each datagram's bytes are put together by etherparse's `IpDefragBuf`; this file
//! keeps the table, the limits and the counts.

use std::net::IpAddr;

use etherparse::IpNumber;
use etherparse::defrag::{IpDefragBuf, IpDefragError, IpFragRange};

use super::DecodeError;
use super::ip::Fragment;
use crate::time::Timestamp;

/// Bounds on fragment reassembly.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FragLimits {
    /// Datagrams held at once; when full, the oldest is evicted.
    pub max_datagrams: usize,
    /// Bytes of fragmented data per datagram (etherparse holds at most 65535).
    pub max_datagram_bytes: usize,
    /// Packet-time seconds after its first fragment when an incomplete datagram is dropped.
    pub timeout_secs: i64,
}

impl Default for FragLimits {
    fn default() -> Self {
        FragLimits {
            max_datagrams: 256,
            max_datagram_bytes: 65_535,
            timeout_secs: 30,
        }
    }
}

/// Reassembly counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FragStats {
    /// Fragments accepted into the table.
    pub fragments: u64,
    /// Datagrams completed.
    pub reassembled: u64,
    /// Datagrams dropped because the table was full.
    pub evicted: u64,
    /// Datagrams dropped because they stayed incomplete too long.
    pub expired: u64,
    /// Datagrams dropped because they grew past the size limit.
    pub oversized: u64,
    /// Datagrams dropped because their fragments contradicted each other.
    pub inconsistent: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Key {
    src: IpAddr,
    dst: IpAddr,
    id: u32,
    protocol: u8,
}

struct Entry {
    key: Key,
    buf: IpDefragBuf,
    first_ts: Timestamp,
    /// Sum of the fragments' IP lengths.
    wire: u64,
}

/// A datagram just completed; its bytes are [`Reassembler::completed`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Completed {
    pub src: IpAddr,
    pub dst: IpAddr,
    pub protocol: u8,
    /// Sum of the IP lengths of its fragments.
    pub wire: u64,
}

pub(crate) struct Reassembler {
    limits: FragLimits,
    /// In arrival order of each datagram's first fragment: the oldest is first.
    entries: Vec<Entry>,
    /// The last completed datagram's bytes.
    done: Vec<u8>,
    /// Buffers of finished datagrams, for reuse.
    spare: Vec<(Vec<u8>, Vec<IpFragRange>)>,
    stats: FragStats,
}

impl Reassembler {
    pub fn new(limits: FragLimits) -> Self {
        Reassembler {
            limits,
            entries: Vec::new(),
            done: Vec::new(),
            spare: Vec::new(),
            stats: FragStats::default(),
        }
    }

    pub fn stats(&self) -> FragStats {
        self.stats
    }

    /// Datagrams waiting for more fragments.
    pub fn in_flight(&self) -> usize {
        self.entries.len()
    }

    /// The bytes (after the IP header) of the datagram last completed.
    pub fn completed(&self) -> &[u8] {
        &self.done
    }

    fn recycle(&mut self, e: Entry) {
        if self.spare.len() < self.limits.max_datagrams {
            self.spare.push(e.buf.take_bufs());
        }
    }

    fn drop_at(&mut self, i: usize) {
        if i < self.entries.len() {
            let e = self.entries.remove(i);
            self.recycle(e);
        }
    }

    /// Drops datagrams whose first fragment is more than the timeout older than `now`.
    fn expire(&mut self, now: Timestamp) {
        let limit = self.limits.timeout_secs;
        let mut i = 0;
        while i < self.entries.len() {
            let stale = self.entries.get(i).is_some_and(|e| {
                now.0.saturating_sub(e.first_ts.0) > limit.saturating_mul(1_000_000_000)
            });
            if stale {
                self.drop_at(i);
                self.stats.expired += 1;
            } else {
                i += 1;
            }
        }
    }

    /// Adds one fragment (`data` is its fragmented data, `ip_len` its IP length). Returns
    /// the datagram when this fragment completes it.
    #[allow(clippy::too_many_arguments)]
    pub fn add(
        &mut self,
        ts: Timestamp,
        src: IpAddr,
        dst: IpAddr,
        protocol: u8,
        frag: Fragment,
        ip_len: u32,
        data: &[u8],
    ) -> Result<Option<Completed>, DecodeError> {
        self.expire(ts);
        let key = Key {
            src,
            dst,
            id: frag.id,
            protocol,
        };
        let existing = self.entries.iter().position(|e| e.key == key);
        // checked first: a fragment too large to hold must not push out a datagram that fits
        let end = usize::from(frag.offset.byte_offset()).saturating_add(data.len());
        if end > self.limits.max_datagram_bytes {
            if let Some(i) = existing {
                self.drop_at(i);
            }
            self.stats.oversized += 1;
            return Err(DecodeError::Malformed(
                "IP fragments exceed the reassembly size limit",
            ));
        }
        let idx = match existing {
            Some(i) => i,
            None => {
                if self.limits.max_datagrams == 0 {
                    self.stats.evicted += 1;
                    return Err(DecodeError::Unsupported("IP fragments (reassembly is off)"));
                }
                while self.entries.len() >= self.limits.max_datagrams {
                    self.drop_at(0);
                    self.stats.evicted += 1;
                }
                let (d, s) = self.spare.pop().unwrap_or_default();
                self.entries.push(Entry {
                    key,
                    buf: IpDefragBuf::new(IpNumber(protocol), d, s),
                    first_ts: ts,
                    wire: 0,
                });
                self.entries.len() - 1
            }
        };
        let Some(entry) = self.entries.get_mut(idx) else {
            return Err(DecodeError::Malformed("IP fragment"));
        };
        if let Err(e) = entry.buf.add(frag.offset, frag.more, data) {
            self.drop_at(idx);
            return Err(match e {
                IpDefragError::SegmentTooBig { .. } => {
                    self.stats.oversized += 1;
                    DecodeError::Malformed("IP fragments exceed 65535 bytes")
                }
                IpDefragError::UnalignedFragmentPayloadLen { .. } => {
                    self.stats.inconsistent += 1;
                    DecodeError::Malformed(
                        "an IP fragment that is not the last is not a multiple of 8 bytes",
                    )
                }
                IpDefragError::ConflictingEnd { .. } => {
                    self.stats.inconsistent += 1;
                    DecodeError::Malformed("IP fragments disagree on where the datagram ends")
                }
                _ => {
                    self.stats.inconsistent += 1;
                    DecodeError::Malformed("IP fragments cannot be put together")
                }
            });
        }
        self.stats.fragments += 1;
        entry.wire = entry.wire.saturating_add(u64::from(ip_len));
        if !entry.buf.is_complete() {
            return Ok(None);
        }
        let e = self.entries.remove(idx);
        let done = Completed {
            src: e.key.src,
            dst: e.key.dst,
            protocol: e.key.protocol,
            wire: e.wire,
        };
        let (data, sections) = e.buf.take_bufs();
        let old = std::mem::replace(&mut self.done, data);
        if self.spare.len() < self.limits.max_datagrams {
            self.spare.push((old, sections));
        }
        self.stats.reassembled += 1;
        Ok(Some(done))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use etherparse::IpFragOffset;

    fn frag(id: u32, offset_bytes: u16, more: bool) -> Fragment {
        Fragment {
            id,
            offset: IpFragOffset::try_new(offset_bytes / 8).unwrap(),
            more,
        }
    }

    const A: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 1));
    const B: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 2));

    fn secs(s: i64) -> Timestamp {
        Timestamp(s * 1_000_000_000)
    }

    #[test]
    fn out_of_order_fragments_complete_a_datagram() {
        let mut r = Reassembler::new(FragLimits::default());
        let data: Vec<u8> = (0..40).collect();
        assert_eq!(
            r.add(secs(1), A, B, 17, frag(7, 32, false), 28, &data[32..]),
            Ok(None)
        );
        assert_eq!(
            r.add(secs(1), A, B, 17, frag(7, 16, true), 36, &data[16..32]),
            Ok(None)
        );
        assert_eq!(r.in_flight(), 1);
        let done = r
            .add(secs(1), A, B, 17, frag(7, 0, true), 36, &data[..16])
            .unwrap()
            .unwrap();
        assert_eq!(done.wire, 100);
        assert_eq!((done.src, done.dst, done.protocol), (A, B, 17));
        assert_eq!(r.completed(), &data[..]);
        assert_eq!(r.in_flight(), 0);
        assert_eq!(r.stats().reassembled, 1);
        assert_eq!(r.stats().fragments, 3);
    }

    #[test]
    fn the_table_is_bounded_and_the_oldest_go_first() {
        let limits = FragLimits {
            max_datagrams: 4,
            ..FragLimits::default()
        };
        let mut r = Reassembler::new(limits);
        for id in 0..10 {
            r.add(secs(1), A, B, 17, frag(id, 0, true), 28, &[0; 8])
                .unwrap();
        }
        assert_eq!(r.in_flight(), 4);
        assert_eq!(r.stats().evicted, 6);
        // Datagram 9 is still there and completes; datagram 0 was evicted and does not.
        assert!(
            r.add(secs(1), A, B, 17, frag(9, 8, false), 28, &[1; 8])
                .unwrap()
                .is_some()
        );
        assert_eq!(
            r.add(secs(1), A, B, 17, frag(0, 8, false), 28, &[1; 8]),
            Ok(None)
        );
    }

    #[test]
    fn a_fragment_too_large_to_hold_never_pushes_out_a_datagram_that_fits() {
        let limits = FragLimits {
            max_datagrams: 1,
            max_datagram_bytes: 64,
            ..FragLimits::default()
        };
        let mut r = Reassembler::new(limits);
        r.add(secs(1), A, B, 17, frag(1, 0, true), 28, &[0; 8])
            .unwrap();
        // a new datagram whose first fragment already lies past the size limit
        assert!(
            r.add(secs(1), A, B, 17, frag(2, 64, true), 28, &[0; 8])
                .is_err()
        );
        assert_eq!(r.stats().oversized, 1);
        assert_eq!(r.stats().evicted, 0, "counted once, as oversized");
        // datagram 1 is still there and completes
        assert!(
            r.add(secs(1), A, B, 17, frag(1, 8, false), 28, &[1; 8])
                .unwrap()
                .is_some()
        );
    }

    #[test]
    fn stale_datagrams_expire_in_packet_time() {
        let mut r = Reassembler::new(FragLimits::default());
        r.add(secs(100), A, B, 17, frag(1, 0, true), 28, &[0; 8])
            .unwrap();
        r.add(secs(120), A, B, 17, frag(2, 0, true), 28, &[0; 8])
            .unwrap();
        // 31 s after the first: datagram 1 expires, 2 does not.
        r.add(secs(131), B, A, 6, frag(3, 0, true), 28, &[0; 8])
            .unwrap();
        assert_eq!(r.stats().expired, 1);
        assert_eq!(r.in_flight(), 2);
        assert_eq!(
            r.add(secs(131), A, B, 17, frag(1, 8, false), 28, &[0; 8]),
            Ok(None)
        );
        assert!(
            r.add(secs(131), A, B, 17, frag(2, 8, false), 28, &[0; 8])
                .unwrap()
                .is_some()
        );
    }

    #[test]
    fn oversized_and_inconsistent_fragments_are_dropped_and_counted() {
        let limits = FragLimits {
            max_datagram_bytes: 1000,
            ..FragLimits::default()
        };
        let mut r = Reassembler::new(limits);
        r.add(secs(1), A, B, 17, frag(1, 0, true), 28, &[0; 8])
            .unwrap();
        assert!(
            r.add(secs(1), A, B, 17, frag(1, 1000, true), 28, &[0; 8])
                .is_err()
        );
        assert_eq!(r.stats().oversized, 1);
        assert_eq!(r.in_flight(), 0);
        // A non-final fragment of 5 bytes.
        assert!(
            r.add(secs(1), A, B, 17, frag(2, 0, true), 25, &[0; 5])
                .is_err()
        );
        // Two different ends.
        r.add(secs(1), A, B, 17, frag(3, 16, false), 28, &[0; 8])
            .unwrap();
        assert!(
            r.add(secs(1), A, B, 17, frag(3, 24, false), 28, &[0; 8])
                .is_err()
        );
        assert_eq!(r.stats().inconsistent, 2);
        assert_eq!(r.in_flight(), 0);
    }
}
