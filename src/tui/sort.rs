//! The table's row orders, cycled with `s`: last seen (newest first, the default), bytes
//! out (largest first), name (A to Z, unnamed flows last), verdict (flagged first). Ties
//! fall to the newest flow (except for bytes out), then to the highest id, so the order
//! is total and stable.
//!
//! Sorting extracts each flow's key once and sorts the keys, instead of chasing every
//! flow's pointer in each comparison: this is what keeps 100,000 flows cheap.

use crate::report::model::FlowReport;
use crate::rules::verdict::VerdictKind;
use std::cmp::{Ordering, Reverse};
use std::sync::Arc;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SortKey {
    #[default]
    LastSeen,
    BytesOut,
    Name,
    Verdict,
}

impl SortKey {
    /// The next order in the `s` cycle.
    pub fn next(self) -> SortKey {
        match self {
            SortKey::LastSeen => SortKey::BytesOut,
            SortKey::BytesOut => SortKey::Name,
            SortKey::Name => SortKey::Verdict,
            SortKey::Verdict => SortKey::LastSeen,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            SortKey::LastSeen => "last seen, newest first",
            SortKey::BytesOut => "bytes out, largest first",
            SortKey::Name => "name, A to Z",
            SortKey::Verdict => "verdict, flagged first",
        }
    }
}

/// A flow's place in one of the numeric orders, as an integer where larger sorts first,
/// its low 32 bits left clear for the flow's position in the snapshot (see [`order`]).
/// The snapshot lists flows by id, so the position breaks ties as the id would. The
/// name order has no such key (0): it compares the names themselves ([`order_by_name`]).
pub fn key(f: &FlowReport, sort: SortKey) -> u128 {
    let newest = u128::from(order_preserving(f.last_seen.0));
    match sort {
        SortKey::LastSeen => newest << 32,
        SortKey::BytesOut => u128::from(f.bytes_out) << 64,
        SortKey::Verdict => {
            let rank = 3u128.saturating_sub(verdict_rank(f.verdict.kind));
            rank << 96 | newest << 32
        }
        SortKey::Name => 0,
    }
}

/// Puts a key (from [`key`]) and a position together.
pub fn pack(key: u128, pos: usize) -> Option<u128> {
    u32::try_from(pos).ok().map(|p| key | u128::from(p))
}

/// Puts packed rows in order (largest first).
pub fn sort_packed(packed: &mut [u128]) {
    packed.sort_unstable_by(|a, b| b.cmp(a));
}

/// Merges two lists already in order into one.
pub fn merge_packed(a: Vec<u128>, b: Vec<u128>) -> Vec<u128> {
    let mut out = Vec::with_capacity(a.len().saturating_add(b.len()));
    let mut a = a.into_iter().peekable();
    let mut b = b.into_iter().peekable();
    loop {
        let next = match (a.peek(), b.peek()) {
            (Some(x), Some(y)) if x >= y => a.next(),
            (Some(_), Some(_)) => b.next(),
            (Some(_), None) => a.next(),
            (None, Some(_)) => b.next(),
            (None, None) => break,
        };
        out.extend(next);
    }
    out
}

/// The position a packed row holds.
pub fn position(packed: u128) -> usize {
    usize::try_from(packed & u128::from(u32::MAX)).unwrap_or(usize::MAX)
}

/// The positions of packed rows, in order.
#[cfg(test)]
pub fn order(mut packed: Vec<u128>) -> Vec<usize> {
    sort_packed(&mut packed);
    packed.into_iter().map(position).collect()
}

/// Maps an `i64` to a `u64` with the same order.
fn order_preserving(x: i64) -> u64 {
    (x as u64) ^ (1 << 63)
}

fn verdict_rank(k: VerdictKind) -> u128 {
    match k {
        VerdictKind::Flagged => 0,
        VerdictKind::Declared => 1,
        VerdictKind::Allowed => 2,
        VerdictKind::Local => 3,
    }
}

/// Puts `rows` (indices into `flows`) in the order `key` gives.
#[cfg(test)]
pub fn sort_rows(rows: &mut Vec<usize>, flows: &[Arc<FlowReport>], sort: SortKey) {
    if sort == SortKey::Name {
        order_by_name(rows, flows);
        return;
    }
    let packed = rows
        .iter()
        .filter_map(|&i| pack(key(flows.get(i)?, sort), i))
        .collect();
    *rows = order(packed);
}

/// A row in the name order: its name, then (newest, highest position) first.
type NameKey<'a> = (Option<&'a str>, Reverse<(i64, usize)>);

/// Names A to Z, then newest first, then the highest position.
pub fn order_by_name(rows: &mut Vec<usize>, flows: &[Arc<FlowReport>]) {
    let mut keyed: Vec<NameKey> = rows
        .iter()
        .filter_map(|&i| {
            let f = flows.get(i)?;
            let name = f.primary_name().map(|n| n.name.as_str());
            Some((name, Reverse((f.last_seen.0, i))))
        })
        .collect();
    keyed.sort_unstable_by(|a, b| name_order(a.0, b.0).then_with(|| a.1.cmp(&b.1)));
    rows.clear();
    rows.extend(keyed.into_iter().map(|(_, Reverse((_, i)))| i));
}

/// Names A to Z ignoring ASCII case; a flow without a name sorts after every named one.
fn name_order(a: Option<&str>, b: Option<&str>) -> Ordering {
    match (a, b) {
        (Some(a), Some(b)) => a
            .bytes()
            .map(|c| c.to_ascii_lowercase())
            .cmp(b.bytes().map(|c| c.to_ascii_lowercase())),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => Ordering::Equal,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::Timestamp;
    use crate::tui::testing::{demo_snapshot, flow_named};

    fn ids_in(flows: &[Arc<FlowReport>], key: SortKey) -> Vec<u64> {
        let mut rows: Vec<usize> = (0..flows.len()).collect();
        sort_rows(&mut rows, flows, key);
        rows.iter().map(|&i| flows[i].id).collect()
    }

    #[test]
    fn the_cycle_visits_every_order_and_returns() {
        let mut k = SortKey::default();
        assert_eq!(k, SortKey::LastSeen);
        let mut seen = vec![k];
        for _ in 0..3 {
            k = k.next();
            seen.push(k);
        }
        assert_eq!(
            seen,
            [
                SortKey::LastSeen,
                SortKey::BytesOut,
                SortKey::Name,
                SortKey::Verdict
            ]
        );
        assert_eq!(k.next(), SortKey::LastSeen);
    }

    #[test]
    fn last_seen_newest_first_with_ties_to_the_higher_id() {
        let mut a = flow_named(1, "a.example");
        let mut b = flow_named(2, "b.example");
        let mut c = flow_named(3, "c.example");
        a.last_seen = Timestamp(300);
        b.last_seen = Timestamp(100);
        c.last_seen = Timestamp(300);
        let flows: Vec<_> = [a, b, c].into_iter().map(Arc::new).collect();
        assert_eq!(ids_in(&flows, SortKey::LastSeen), vec![3, 1, 2]);
    }

    #[test]
    fn bytes_out_largest_first() {
        let mut a = flow_named(1, "a.example");
        let mut b = flow_named(2, "b.example");
        a.bytes_out = 10;
        b.bytes_out = 5000;
        let flows: Vec<_> = [a, b].into_iter().map(Arc::new).collect();
        assert_eq!(ids_in(&flows, SortKey::BytesOut), vec![2, 1]);
    }

    #[test]
    fn merging_keeps_the_order() {
        let a = vec![90, 70, 50, 10];
        let b = vec![80, 70, 5];
        assert_eq!(merge_packed(a, b), vec![90, 80, 70, 70, 50, 10, 5]);
        assert_eq!(merge_packed(vec![], vec![3, 2]), vec![3, 2]);
        let packed = pack(7u128 << 32, 12).unwrap();
        assert_eq!(position(packed), 12);
    }

    #[test]
    fn names_a_to_z_ignoring_case_unnamed_last() {
        let a = flow_named(1, "zeta.example");
        let b = flow_named(2, "Alpha.example");
        let mut c = flow_named(3, "x");
        c.names.clear();
        let d = flow_named(4, "beta.example");
        let flows: Vec<_> = [a, b, c, d].into_iter().map(Arc::new).collect();
        assert_eq!(ids_in(&flows, SortKey::Name), vec![2, 4, 1, 3]);
    }

    #[test]
    fn verdict_flagged_first_on_the_demo() {
        let snap = demo_snapshot();
        let ids = ids_in(&snap.flows, SortKey::Verdict);
        let kinds: Vec<VerdictKind> = ids
            .iter()
            .map(|id| {
                snap.flows
                    .iter()
                    .find(|f| f.id == *id)
                    .unwrap()
                    .verdict
                    .kind
            })
            .collect();
        let mut sorted = kinds.clone();
        sorted.sort();
        assert_eq!(
            kinds, sorted,
            "verdicts in order flagged, declared, allowed, local"
        );
        assert_eq!(kinds[0], VerdictKind::Flagged);
        // Within the flagged, newest first: the unnamed GDM flow (20:04:10) leads.
        assert_eq!(ids[0], 41);
        assert_eq!(&ids[..5], &[41, 40, 38, 15, 13]);
    }
}
