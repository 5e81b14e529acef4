//! A flow's bytes over its life, for sparklines: 32 buckets from the first packet; when
//! the flow outlives them, neighbouring buckets merge and each covers twice the time, so
//! the memory per flow stays fixed however long the flow lasts.

use crate::time::Timestamp;

pub const BUCKETS: usize = 32;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Timeline {
    pub origin: Timestamp,
    /// Nanoseconds each bucket covers (one second at first, doubling as needed).
    pub width_ns: i64,
    /// IP bytes in each bucket, both directions.
    pub bytes: [u32; BUCKETS],
}

impl Timeline {
    pub fn new(origin: Timestamp) -> Timeline {
        Timeline {
            origin,
            width_ns: Timestamp::NANOS_PER_SEC,
            bytes: [0; BUCKETS],
        }
    }

    pub fn add(&mut self, ts: Timestamp, bytes: u32) {
        let offset = ts.0.saturating_sub(self.origin.0).max(0);
        let mut idx = offset / self.width_ns;
        while idx >= BUCKETS as i64 {
            self.merge();
            idx = offset / self.width_ns;
        }
        if let Some(b) = usize::try_from(idx)
            .ok()
            .and_then(|i| self.bytes.get_mut(i))
        {
            *b = b.saturating_add(bytes);
        }
    }

    fn merge(&mut self) {
        let mut merged = [0u32; BUCKETS];
        for (i, m) in merged.iter_mut().take(BUCKETS / 2).enumerate() {
            let a = self.bytes.get(2 * i).copied().unwrap_or(0);
            let b = self.bytes.get(2 * i + 1).copied().unwrap_or(0);
            *m = a.saturating_add(b);
        }
        self.bytes = merged;
        self.width_ns = self.width_ns.saturating_mul(2);
    }

    /// The buckets in use (up to the last one with bytes).
    pub fn used(&self) -> &[u32] {
        let n = self.bytes.iter().rposition(|&b| b > 0).map_or(0, |i| i + 1);
        self.bytes.get(..n).unwrap_or(&[])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: i64) -> Timestamp {
        Timestamp::from_secs_nanos(1000 + secs, 0)
    }

    #[test]
    fn buckets_merge_as_the_flow_ages() {
        let mut t = Timeline::new(at(0));
        t.add(at(0), 100);
        t.add(at(1), 10);
        t.add(at(31), 5);
        assert_eq!(t.width_ns, 1_000_000_000);
        assert_eq!(t.used().len(), 32);
        t.add(at(32), 7); // needs a 33rd second: buckets now cover 2 s
        assert_eq!(t.width_ns, 2_000_000_000);
        assert_eq!(t.bytes[0], 110);
        assert_eq!(t.bytes[15], 5);
        assert_eq!(t.bytes[16], 7);
        assert_eq!(t.bytes.iter().map(|&b| u64::from(b)).sum::<u64>(), 122);
        t.add(at(3600), 1); // an hour later: still 32 buckets
        assert_eq!(t.bytes.iter().map(|&b| u64::from(b)).sum::<u64>(), 123);
        assert!(t.width_ns >= 3600 * 1_000_000_000 / 32);
    }
}
