//! Bounded TCP reassembly of the first bytes of one direction of a connection.
//!
//! [`StreamBuf`] keeps a window of at most `cap` bytes starting at the first byte not yet
//! consumed. Segments that fall inside the window are placed by sequence number (which
//! wraps at 2^32); bytes that arrive ahead of a gap wait in a side table until the gap
//! fills. The first copy of any byte wins: retransmissions and overlapping segments never
//! rewrite what was already stored. Bytes beyond the window are dropped and counted, so
//! a hostile or huge stream costs at most `cap` bytes of data: the window holds the
//! contiguous bytes and the waiting ones together.
//!
//! The dissectors read [`StreamBuf::data`]; DNS over TCP also [`StreamBuf::consume`]s
//! message by message, which moves the window forward.

use std::collections::BTreeMap;

/// Half the sequence space: a segment whose start lies less than this ahead of the
/// window is ahead of it, otherwise it is behind it (RFC 1982 style comparison).
const HALF: u32 = 1 << 31;

/// The first bytes of one direction of a TCP connection, reassembled in a bounded buffer.
#[derive(Clone, Debug)]
pub struct StreamBuf {
    cap: usize,
    /// Sequence number of `data[0]`; `None` until the first segment (or SYN) is seen.
    base_seq: Option<u32>,
    /// Stream offset of `data[0]`, that is the number of bytes consumed so far.
    base_off: u64,
    syn_seen: bool,
    /// Contiguous bytes from `base_off`.
    data: Vec<u8>,
    /// Bytes waiting for a gap to fill, keyed by stream offset. The pieces never overlap
    /// each other or `data`, and all lie inside the window.
    pending: BTreeMap<u64, Vec<u8>>,
    gaps_dropped: u64,
    overflow_dropped: u64,
}

impl StreamBuf {
    /// A buffer that keeps at most `cap` contiguous bytes (and at most `cap` bytes of
    /// out-of-order segments: both share the window of `cap` bytes after the consumed ones).
    pub fn new(cap: usize) -> Self {
        StreamBuf {
            cap,
            base_seq: None,
            base_off: 0,
            syn_seen: false,
            data: Vec::new(),
            pending: BTreeMap::new(),
            gaps_dropped: 0,
            overflow_dropped: 0,
        }
    }

    /// Add a segment. `syn` = this segment has SYN (its seq+1 is the first data byte).
    /// Before any SYN the first segment seen sets the start. Retransmissions and overlaps
    /// are ignored (first copy wins), out-of-order segments are held until the gap fills,
    /// sequence numbers wrap at 2^32. Returns true if the contiguous data grew.
    pub fn push(&mut self, seq: u32, syn: bool, payload: &[u8]) -> bool {
        let first = if syn { seq.wrapping_add(1) } else { seq };
        if syn && !self.syn_seen {
            self.syn_seen = true;
            if let Some(base) = self.base_seq {
                self.rebase_on_late_syn(base, first);
            }
        }
        let base = *self.base_seq.get_or_insert(first);
        if payload.is_empty() {
            return false;
        }

        let base_off = i128::from(self.base_off);
        let delta = first.wrapping_sub(base);
        let seg_off = if delta < HALF {
            base_off + i128::from(delta)
        } else {
            base_off - i128::from(delta.wrapping_neg())
        };
        let seg_end = seg_off + len_i128(payload.len());
        let tail = base_off + len_i128(self.data.len());
        let window_end = base_off + len_i128(self.cap);

        // What is already contiguous is kept as first received.
        let start = seg_off.max(tail);
        if seg_end <= start {
            return false;
        }
        let keep_end = seg_end.min(window_end);
        if keep_end < seg_end {
            let dropped = u64::try_from(seg_end - keep_end.max(start)).unwrap_or(u64::MAX);
            if seg_off <= tail {
                self.overflow_dropped = self.overflow_dropped.saturating_add(dropped);
            } else {
                self.gaps_dropped = self.gaps_dropped.saturating_add(dropped);
            }
        }
        if keep_end <= start {
            return false;
        }
        let (Ok(start), Ok(keep_end)) = (u64::try_from(start), u64::try_from(keep_end)) else {
            return false;
        };

        // Split [start, keep_end) around the pieces already waiting: first copy wins.
        let mut pieces: Vec<(u64, u64)> = Vec::new();
        // Only the last piece starting before `start` can reach into it.
        let mut cur = match self.pending.range(..start).next_back() {
            Some((&k, v)) => start.max(k.saturating_add(len_u64(v.len()))),
            None => start,
        };
        for (&k, v) in self.pending.range(start..keep_end) {
            if cur >= keep_end {
                break;
            }
            if k > cur {
                pieces.push((cur, k));
            }
            cur = cur.max(k.saturating_add(len_u64(v.len())));
        }
        if cur < keep_end {
            pieces.push((cur, keep_end));
        }
        for (a, b) in pieces {
            let rel = |x: u64| usize::try_from(i128::from(x) - seg_off).ok();
            if let (Some(ra), Some(rb)) = (rel(a), rel(b))
                && let Some(bytes) = payload.get(ra..rb)
            {
                self.pending.insert(a, bytes.to_vec());
            }
        }

        // Move whatever now continues the contiguous data.
        let before = self.data.len();
        while let Some(entry) = self.pending.first_entry() {
            let tail = self.base_off.saturating_add(len_u64(self.data.len()));
            if *entry.key() != tail {
                break;
            }
            let bytes = entry.remove();
            self.data.extend_from_slice(&bytes);
        }
        self.data.len() > before
    }

    /// The SYN arrived after data segments that set the start (capture reordering): when
    /// nothing was consumed yet and the SYN lies before the start, the start moves back
    /// to it and the bytes held so far wait behind the gap.
    fn rebase_on_late_syn(&mut self, base: u32, first: u32) {
        let shift = base.wrapping_sub(first);
        if shift == 0 || shift >= HALF || self.base_off != 0 {
            return;
        }
        let shift = u64::from(shift);
        let mut moved = BTreeMap::new();
        if !self.data.is_empty() {
            moved.insert(shift, std::mem::take(&mut self.data));
        }
        for (k, v) in std::mem::take(&mut self.pending) {
            moved.insert(k.saturating_add(shift), v);
        }
        let cap = len_u64(self.cap);
        for (k, mut v) in moved {
            if k >= cap {
                self.gaps_dropped = self.gaps_dropped.saturating_add(len_u64(v.len()));
                continue;
            }
            let room = usize::try_from(cap - k).unwrap_or(usize::MAX);
            if v.len() > room {
                self.gaps_dropped = self
                    .gaps_dropped
                    .saturating_add(len_u64(v.len().saturating_sub(room)));
                v.truncate(room);
            }
            self.pending.insert(k, v);
        }
        self.base_seq = Some(first);
    }

    /// Contiguous bytes from the start of the stream (minus those consumed).
    pub fn data(&self) -> &[u8] {
        &self.data
    }

    /// Drop `n` bytes from the front (at most all the contiguous ones), which makes room
    /// for the bytes that follow.
    pub fn consume(&mut self, n: usize) {
        let n = n.min(self.data.len());
        self.data.drain(..n);
        self.base_off = self.base_off.saturating_add(len_u64(n));
        // Sequence numbers are modulo 2^32: truncating `n` is the intended wrap.
        self.base_seq = self.base_seq.map(|s| s.wrapping_add(n as u32));
    }

    /// The contiguous data fills the window: nothing more can be added until a consume.
    pub fn is_full(&self) -> bool {
        self.data.len() >= self.cap
    }

    /// Out-of-order bytes dropped because they lay beyond the window.
    pub fn gaps_dropped(&self) -> u64 {
        self.gaps_dropped
    }

    /// In-order bytes dropped because the window was full. They leave a gap that never
    /// fills: after a consume, later bytes wait in vain.
    pub fn overflow_dropped(&self) -> u64 {
        self.overflow_dropped
    }

    /// Bytes consumed so far (the stream offset of `data()[0]`).
    pub fn consumed(&self) -> u64 {
        self.base_off
    }

    /// Bytes waiting behind a gap.
    pub fn pending_bytes(&self) -> usize {
        self.pending.values().map(Vec::len).sum()
    }
}

fn len_i128(n: usize) -> i128 {
    i128::from(len_u64(n))
}

fn len_u64(n: usize) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}

/// Test-only reading of the shared third-party captures (legacy pcap only), so the
/// dissectors' tests can run on real traffic before the project's capture reader exists.
#[cfg(test)]
pub(crate) mod test_pcap {
    use super::StreamBuf;
    use etherparse::{LaxNetSlice, LaxSlicedPacket, TransportSlice};
    use pcap_parser::{Linktype, PcapCapture};
    use std::collections::HashMap;
    use std::path::{Path, PathBuf};

    /// One TCP or UDP packet of a capture.
    #[derive(Clone, Debug)]
    pub struct Pkt {
        pub src_port: u16,
        pub dst_port: u16,
        /// `(seq, syn)` for TCP, `None` for UDP.
        pub tcp: Option<(u32, bool)>,
        pub payload: Vec<u8>,
    }

    /// The shared captures' folder, or `None` (with a message) when it is absent.
    pub fn captures_dir() -> Option<PathBuf> {
        let dir = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/captures"));
        if dir.is_dir() {
            Some(dir.to_path_buf())
        } else {
            assert!(
                std::env::var_os("CI").is_none_or(|v| v.is_empty()),
                "under CI this test needs ../shared/captures beside the project"
            );
            eprintln!("skipping: shared captures not found at {}", dir.display());
            None
        }
    }

    /// The TCP and UDP packets of `name` (relative to the captures' folder).
    pub fn read(name: &str) -> Option<Vec<Pkt>> {
        let path = captures_dir()?.join(name);
        let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let cap = PcapCapture::from_file(&bytes)
            .unwrap_or_else(|e| panic!("{}: not a legacy pcap: {e:?}", path.display()));
        let link = cap.header.network;
        let mut out = Vec::new();
        let mut frags: Frags = HashMap::new();
        for block in &cap.blocks {
            // Lax slicing: a length field that overstates the captured bytes (as in the
            // crash reproducers) still yields the payload that is there.
            let sliced = match link {
                Linktype::ETHERNET => LaxSlicedPacket::from_ethernet(block.data).ok(),
                Linktype::RAW => LaxSlicedPacket::from_ip(block.data).ok(),
                Linktype::LINUX_SLL => block
                    .data
                    .get(16..)
                    .and_then(|ip| LaxSlicedPacket::from_ip(ip).ok()),
                Linktype::LINUX_SLL2 => block
                    .data
                    .get(20..)
                    .and_then(|ip| LaxSlicedPacket::from_ip(ip).ok()),
                other => panic!("{}: link type {other:?} not handled", path.display()),
            };
            let Some(p) = sliced else { continue };
            if let Some(LaxNetSlice::Ipv4(ip)) = &p.net
                && ip.payload().fragmented
            {
                let h = ip.header();
                let key = (h.source(), h.destination(), h.identification());
                let at = usize::from(h.fragments_offset().value()) * 8;
                let entry = frags.entry(key).or_default();
                entry.push((at, h.more_fragments(), ip.payload().payload.to_vec()));
                if let Some(whole) = defragment(entry) {
                    frags.remove(&key);
                    if ip.payload().ip_number == etherparse::IpNumber::UDP && whole.len() >= 8 {
                        out.push(Pkt {
                            src_port: u16::from_be_bytes([whole[0], whole[1]]),
                            dst_port: u16::from_be_bytes([whole[2], whole[3]]),
                            tcp: None,
                            payload: whole[8..].to_vec(),
                        });
                    }
                }
                continue;
            }
            match p.transport {
                Some(TransportSlice::Tcp(t)) => out.push(Pkt {
                    src_port: t.source_port(),
                    dst_port: t.destination_port(),
                    tcp: Some((t.sequence_number(), t.syn())),
                    payload: t.payload().to_vec(),
                }),
                Some(TransportSlice::Udp(u)) => out.push(Pkt {
                    src_port: u.source_port(),
                    dst_port: u.destination_port(),
                    tcp: None,
                    payload: u.payload().to_vec(),
                }),
                _ => {}
            }
        }
        Some(out)
    }

    type Frags = HashMap<([u8; 4], [u8; 4], u16), Vec<(usize, bool, Vec<u8>)>>;

    /// The datagram's bytes once its IPv4 fragments cover it from 0 to the last one.
    fn defragment(parts: &mut [(usize, bool, Vec<u8>)]) -> Option<Vec<u8>> {
        parts.sort_by_key(|p| p.0);
        let mut whole = Vec::new();
        for (at, more, bytes) in parts.iter() {
            if *at != whole.len() {
                return None;
            }
            whole.extend_from_slice(bytes);
            if !more {
                return Some(whole);
            }
        }
        None
    }

    /// The TCP streams whose (source port, destination port) pass `keep`, one per port
    /// pair, in order of first appearance, each reassembled with a 64 KiB [`StreamBuf`].
    pub fn tcp_streams(
        pkts: &[Pkt],
        keep: impl Fn(u16, u16) -> bool,
    ) -> Vec<((u16, u16), Vec<u8>)> {
        let mut bufs: Vec<((u16, u16), StreamBuf)> = Vec::new();
        for p in pkts {
            let Some((seq, syn)) = p.tcp else { continue };
            if !keep(p.src_port, p.dst_port) {
                continue;
            }
            let key = (p.src_port, p.dst_port);
            let i = match bufs.iter().position(|(k, _)| *k == key) {
                Some(i) => i,
                None => {
                    bufs.push((key, StreamBuf::new(65536)));
                    bufs.len() - 1
                }
            };
            bufs[i].1.push(seq, syn, &p.payload);
        }
        bufs.into_iter()
            .map(|(k, b)| (k, b.data().to_vec()))
            .collect()
    }

    /// The client→server streams to `server_port`, by client port.
    pub fn client_streams(pkts: &[Pkt], server_port: u16) -> Vec<(u16, Vec<u8>)> {
        tcp_streams(pkts, |_, dst| dst == server_port)
            .into_iter()
            .map(|((src, _), data)| (src, data))
            .collect()
    }

    /// The names `expected-names.tsv` lists for `file` (relative to the captures'
    /// folder) and `kind`.
    pub fn expected(file: &str, kind: &str) -> Vec<String> {
        let Some(dir) = captures_dir() else {
            return Vec::new();
        };
        let tsv = std::fs::read_to_string(dir.join("expected-names.tsv")).unwrap();
        tsv.lines()
            .filter_map(|l| {
                let mut f = l.split('\t');
                let (a, b, c) = (f.next()?, f.next()?, f.next()?);
                (a == file && b == kind).then(|| c.to_string())
            })
            .collect()
    }

    /// UDP payloads to or from `port`.
    pub fn udp_payloads(pkts: &[Pkt], port: u16) -> Vec<Vec<u8>> {
        pkts.iter()
            .filter(|p| p.tcp.is_none() && (p.src_port == port || p.dst_port == port))
            .map(|p| p.payload.clone())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn in_order_segments_concatenate() {
        let mut s = StreamBuf::new(100);
        assert!(!s.push(1000, true, b""), "a bare SYN adds no data");
        assert!(s.push(1001, false, b"hello "));
        assert!(s.push(1007, false, b"world"));
        assert_eq!(s.data(), b"hello world");
        assert!(!s.is_full());
        assert_eq!(s.gaps_dropped(), 0);
    }

    #[test]
    fn bare_syn_adds_nothing_but_sets_the_start() {
        let mut s = StreamBuf::new(100);
        assert!(!s.push(1000, true, b""));
        assert!(s.data().is_empty());
        // A segment one past the SYN is the first byte.
        assert!(s.push(1001, false, b"abc"));
        assert_eq!(s.data(), b"abc");
    }

    #[test]
    fn reversed_order_fills_when_the_gap_closes() {
        let mut s = StreamBuf::new(100);
        s.push(99, true, b"");
        assert!(!s.push(108, false, b"89"));
        assert!(!s.push(104, false, b"4567"));
        assert!(s.data().is_empty());
        assert_eq!(s.pending_bytes(), 6);
        assert!(s.push(100, false, b"0123"));
        assert_eq!(s.data(), b"0123456789");
        assert_eq!(s.pending_bytes(), 0);
    }

    #[test]
    fn duplicates_are_ignored() {
        let mut s = StreamBuf::new(100);
        s.push(0, true, b"");
        assert!(s.push(1, false, b"abc"));
        assert!(!s.push(1, false, b"abc"));
        assert!(!s.push(1, false, b"XYZ"), "a retransmission never rewrites");
        assert_eq!(s.data(), b"abc");
    }

    #[test]
    fn overlap_keeps_the_first_copy_and_adds_the_new_tail() {
        let mut s = StreamBuf::new(100);
        s.push(0, true, b"");
        s.push(1, false, b"abcd");
        assert!(s.push(3, false, b"XXef"));
        assert_eq!(s.data(), b"abcdef");
    }

    #[test]
    fn overlap_between_waiting_segments_keeps_the_first_copy() {
        let mut s = StreamBuf::new(100);
        s.push(0, true, b"");
        s.push(5, false, b"efgh"); // offsets 4..8
        s.push(3, false, b"CDEFGHij"); // offsets 2..10: only 2..4 and 8..10 are new
        assert!(s.data().is_empty());
        assert!(s.push(1, false, b"ab"));
        assert_eq!(s.data(), b"abCDefghij");
    }

    #[test]
    fn sequence_numbers_wrap() {
        let mut s = StreamBuf::new(100);
        s.push(u32::MAX - 2, true, b""); // first byte at u32::MAX - 1
        assert!(s.push(u32::MAX - 1, false, b"ab"));
        assert!(s.push(0, false, b"cd"));
        // Out of order across the wrap.
        assert!(!s.push(4, false, b"gh"));
        assert!(s.push(2, false, b"ef"));
        assert_eq!(s.data(), b"abcdefgh");
    }

    #[test]
    fn first_segment_sets_the_start_without_syn() {
        let mut s = StreamBuf::new(100);
        assert!(s.push(5000, false, b"mid"));
        assert!(s.push(5003, false, b"stream"));
        assert_eq!(s.data(), b"midstream");
        // An older retransmission that overlaps the start only adds nothing before it.
        assert!(!s.push(4998, false, b"xxmid"));
        assert_eq!(s.data(), b"midstream");
    }

    #[test]
    fn syn_with_payload_starts_after_the_syn() {
        let mut s = StreamBuf::new(100);
        assert!(s.push(77, true, b"fast open"));
        assert!(s.push(87, false, b"!"));
        assert_eq!(s.data(), b"fast open!");
    }

    #[test]
    fn late_syn_moves_the_start_back() {
        let mut s = StreamBuf::new(100);
        // Capture order: the second data segment, then the SYN, then the first one.
        assert!(s.push(11, false, b"world"));
        assert!(!s.push(4, true, b""));
        assert!(s.data().is_empty());
        assert!(s.push(5, false, b"hello "));
        assert_eq!(s.data(), b"hello world");
    }

    #[test]
    fn cap_bounds_contiguous_and_waiting_bytes() {
        let mut s = StreamBuf::new(8);
        s.push(0, true, b"");
        assert!(s.push(1, false, b"0123456789"));
        assert_eq!(s.data(), b"01234567");
        assert!(s.is_full());
        assert_eq!(s.overflow_dropped(), 2);
        assert_eq!(s.gaps_dropped(), 0);

        let mut s = StreamBuf::new(8);
        s.push(0, true, b"");
        assert!(!s.push(5, false, b"456789"));
        assert_eq!(s.pending_bytes(), 4, "only offsets 4..8 fit the window");
        assert_eq!(s.gaps_dropped(), 2);
        assert!(!s.push(20, false, b"far away"));
        assert_eq!(s.gaps_dropped(), 10);
        assert!(s.push(1, false, b"0123"));
        assert_eq!(s.data(), b"01234567");
    }

    #[test]
    fn consume_moves_the_window() {
        let mut s = StreamBuf::new(4);
        s.push(0, true, b"");
        assert!(s.push(1, false, b"abcd"));
        assert!(s.is_full());
        s.consume(3);
        assert_eq!(s.data(), b"d");
        assert_eq!(s.consumed(), 3);
        assert!(s.push(5, false, b"efg"));
        assert_eq!(s.data(), b"defg");
        s.consume(100);
        assert!(s.data().is_empty());
        assert_eq!(s.consumed(), 7);
        assert!(
            !s.push(2, false, b"bcdefg"),
            "already consumed bytes stay consumed"
        );
        assert!(s.push(8, false, b"h"));
        assert_eq!(s.data(), b"h");
    }

    proptest::proptest! {
        /// Any cutting, order and duplication of a stream's segments gives back the
        /// stream (or its first `cap` bytes), whatever the starting sequence number.
        #[test]
        fn any_order_reassembles(
            len in 1usize..300,
            isn in proptest::prelude::any::<u32>(),
            cuts in proptest::collection::vec(0usize..300, 0..12),
            order in proptest::collection::vec(proptest::prelude::any::<u16>(), 0..24),
            cap in 1usize..400,
        ) {
            let bytes: Vec<u8> = (0..len).map(|i| (i * 7 + 3) as u8).collect();
            let mut bounds: Vec<usize> = cuts.into_iter().map(|c| c % len).collect();
            bounds.push(0);
            bounds.push(len);
            bounds.sort_unstable();
            bounds.dedup();
            let mut segs: Vec<(usize, usize)> = bounds.windows(2).map(|w| (w[0], w[1])).collect();
            // Shuffle deterministically from `order`, and repeat some segments.
            for (i, o) in order.iter().enumerate() {
                let n = segs.len();
                segs.swap(i % n, usize::from(*o) % n);
                if o % 3 == 0 {
                    let dup = segs[usize::from(*o) % n];
                    segs.push(dup);
                }
            }
            let mut s = StreamBuf::new(cap);
            s.push(isn, true, &[]);
            for (a, b) in segs {
                s.push(isn.wrapping_add(1).wrapping_add(a as u32), false, &bytes[a..b]);
            }
            proptest::prop_assert_eq!(s.data(), &bytes[..len.min(cap)]);
            proptest::prop_assert!(s.pending_bytes() <= cap);
        }
    }

    #[test]
    fn zero_cap_keeps_nothing() {
        let mut s = StreamBuf::new(0);
        assert!(!s.push(0, false, b"abc"));
        assert!(s.data().is_empty());
        assert!(s.is_full());
    }
}
