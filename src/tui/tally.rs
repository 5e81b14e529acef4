//! Totals the screens show, computed once per snapshot in `update` (never in `view`): flows
//! by verdict for the header and tabs, and, when the Summary is on screen, flows and
//! bytes out by verdict, by class (of flagged and allowed flows) and by category; when the
//! Rules are, the flows each rule matched without deciding them.

use super::facts::RowFacts;
use crate::report::model::FlowReport;
use crate::rules::verdict::{VerdictClass, VerdictKind};
use std::collections::HashMap;
use std::hash::Hasher;
use std::sync::Arc;

/// Flows and bytes out of one group.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Total {
    pub flows: u64,
    pub bytes_out: u64,
}

impl Total {
    fn add(&mut self, bytes_out: u64) {
        self.flows = self.flows.saturating_add(1);
        self.bytes_out = self.bytes_out.saturating_add(bytes_out);
    }
}

/// Flows by verdict, in the order flagged, declared, allowed, local.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct VerdictCounts {
    pub by_kind: [u64; 4],
}

impl VerdictCounts {
    #[cfg(test)]
    pub fn count(flows: &[Arc<FlowReport>]) -> VerdictCounts {
        let mut c = VerdictCounts::default();
        for f in flows {
            c.add(f.verdict.kind);
        }
        c
    }

    pub fn add(&mut self, k: VerdictKind) {
        if let Some(c) = self.by_kind.get_mut(kind_index(k)) {
            *c = c.saturating_add(1);
        }
    }

    pub fn get(&self, k: VerdictKind) -> u64 {
        self.by_kind.get(kind_index(k)).copied().unwrap_or(0)
    }

    pub fn total(&self) -> u64 {
        self.by_kind.iter().fold(0u64, |a, b| a.saturating_add(*b))
    }
}

/// Flagged, declared, allowed, local, in the order every screen lists them.
pub const KINDS: [VerdictKind; 4] = [
    VerdictKind::Flagged,
    VerdictKind::Declared,
    VerdictKind::Allowed,
    VerdictKind::Local,
];

pub fn kind_index(k: VerdictKind) -> usize {
    match k {
        VerdictKind::Flagged => 0,
        VerdictKind::Declared => 1,
        VerdictKind::Allowed => 2,
        VerdictKind::Local => 3,
    }
}

/// The Summary screen's totals.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    /// By verdict, flagged first.
    pub verdicts: Vec<(VerdictKind, Total)>,
    /// Flagged, then allowed flows, by class in [`VerdictClass::ALL`]'s order; flagged flows
    /// with no class last (allowed flows with none are explained by a declared exception, and
    /// are not counted here). Only the classes some flow has.
    pub classes: Vec<(VerdictKind, Option<VerdictClass>, Total)>,
    /// By verdict (flagged first), then category A to Z.
    pub categories: Vec<(VerdictKind, String, Total)>,
}

/// The kinds whose flows carry a class: those that left without a declared exception in force.
const CLASSED: [VerdictKind; 2] = [VerdictKind::Flagged, VerdictKind::Allowed];

/// A class's slot in a row of [`Summary::of`]'s counts: its place in [`VerdictClass::ALL`], and
/// the last for none.
fn class_index(c: Option<VerdictClass>) -> usize {
    c.and_then(|c| VerdictClass::ALL.iter().position(|x| *x == c))
        .unwrap_or(VerdictClass::ALL.len())
}

impl Summary {
    /// Totals from the facts of every flow.
    pub fn of(facts: &[RowFacts], categories: &[(VerdictKind, String)]) -> Summary {
        let mut verdicts = [Total::default(); 4];
        let mut by_class = [[Total::default(); VerdictClass::ALL.len() + 1]; CLASSED.len()];
        let mut by_category = vec![Total::default(); categories.len()];
        for x in facts {
            if let Some(t) = verdicts.get_mut(kind_index(x.kind)) {
                t.add(x.bytes_out);
            }
            if let Some(t) = CLASSED
                .iter()
                .position(|k| *k == x.kind)
                .and_then(|k| by_class.get_mut(k))
                .and_then(|row| row.get_mut(class_index(x.class)))
            {
                t.add(x.bytes_out);
            }
            if let Some(t) = usize::try_from(x.category)
                .ok()
                .and_then(|c| by_category.get_mut(c))
            {
                t.add(x.bytes_out);
            }
        }
        let mut cats: Vec<(VerdictKind, String, Total)> = categories
            .iter()
            .zip(by_category)
            .filter(|(_, t)| t.flows > 0)
            .map(|((k, c), t)| (*k, c.clone(), t))
            .collect();
        cats.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.cmp(&b.1)));
        let mut classes = Vec::new();
        for (kind, row) in CLASSED.iter().zip(by_class) {
            let slots = VerdictClass::ALL.iter().copied().map(Some).chain([None]);
            for (class, t) in slots.zip(row) {
                let explained = kind == &VerdictKind::Allowed && class.is_none();
                if t.flows > 0 && !explained {
                    classes.push((*kind, class, t));
                }
            }
        }
        Summary {
            verdicts: KINDS.iter().copied().zip(verdicts).collect(),
            classes,
            categories: cats,
        }
    }
}

/// FNV-1a: the category map's keys are short strings of our own rules file, hashed once
/// per flow, where SipHash's defence against chosen keys costs more than it protects.
#[derive(Clone, Copy)]
pub struct Fnv(u64);

impl Default for Fnv {
    fn default() -> Fnv {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
}

impl Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 ^= u64::from(*b);
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
    }
}

/// For each rule id, the flows whose host it also serves (the verdict's `also`): rules
/// that matched without deciding a flow. Only the flows whose facts say they have such
/// exceptions are read.
pub fn also_counts(flows: &[Arc<FlowReport>], facts: &[RowFacts]) -> HashMap<String, u64> {
    let mut counts: HashMap<String, u64> = HashMap::new();
    for (f, _) in flows.iter().zip(facts).filter(|(_, x)| x.has_also) {
        for id in &f.verdict.also {
            match counts.get_mut(id.as_str()) {
                Some(c) => *c = c.saturating_add(1),
                None => {
                    counts.insert(id.clone(), 1);
                }
            }
        }
    }
    counts
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tui::facts::FactCache;
    use crate::tui::filter::Filter;
    use crate::tui::sort::SortKey;
    use crate::tui::testing::demo_snapshot;

    #[test]
    fn demo_counts_match_the_report() {
        let snap = demo_snapshot();
        let c = VerdictCounts::count(&snap.flows);
        assert_eq!(c.get(VerdictKind::Flagged), 5);
        assert_eq!(c.get(VerdictKind::Declared), 13);
        assert_eq!(c.get(VerdictKind::Allowed), 0);
        assert_eq!(c.get(VerdictKind::Local), 23);
        assert_eq!(c.total(), 41);
    }

    fn facts() -> FactCache {
        let mut c = FactCache::new();
        c.update(
            &demo_snapshot().flows,
            &Filter::default(),
            SortKey::default(),
        );
        c
    }

    #[test]
    fn summary_groups_by_verdict_then_category() {
        let c = facts();
        let s = Summary::of(c.facts(), c.categories());
        assert_eq!(s.verdicts[0].0, VerdictKind::Flagged);
        assert_eq!(s.verdicts[0].1.flows, 5);
        let crash = s
            .categories
            .iter()
            .find(|(k, c, _)| *k == VerdictKind::Flagged && c == "crash_reports")
            .unwrap();
        assert_eq!(crash.2.flows, 1);
        assert!(
            crash.2.bytes_out > 60 * 1024,
            "the crash dump is 61 KiB out"
        );
        let sum: u64 = s.categories.iter().map(|c| c.2.flows).sum();
        assert_eq!(sum, 41);
        assert!(
            s.categories
                .windows(2)
                .all(|w| (w[0].0, &w[0].1) < (w[1].0, &w[1].1))
        );
    }

    #[test]
    fn summary_counts_flagged_flows_by_class() {
        let c = facts();
        let s = Summary::of(c.facts(), c.categories());
        let flows = |class: Option<VerdictClass>| {
            s.classes
                .iter()
                .find(|(k, c, _)| *k == VerdictKind::Flagged && *c == class)
                .map(|(_, _, t)| t.flows)
        };
        assert_eq!(flows(Some(VerdictClass::Collection)), Some(3));
        assert_eq!(flows(Some(VerdictClass::ThirdParty)), Some(1));
        // classes no flow has are left out
        assert_eq!(flows(Some(VerdictClass::VendorUndeclared)), None);
        // every flagged flow is counted once, with a class or without
        let flagged: u64 = s
            .classes
            .iter()
            .filter(|(k, _, _)| *k == VerdictKind::Flagged)
            .map(|(_, _, t)| t.flows)
            .sum();
        assert_eq!(flagged, 5);
        // in the order of the classes, then the flows with none
        let order: Vec<usize> = s.classes.iter().map(|(_, c, _)| class_index(*c)).collect();
        assert!(order.windows(2).all(|w| w[0] < w[1]), "{order:?}");
    }

    #[test]
    fn allowed_flows_are_counted_by_class_but_not_those_an_exception_explains() {
        let snap = demo_snapshot();
        let mut flows: Vec<FlowReport> = snap.flows.iter().map(|f| (**f).clone()).collect();
        for f in &mut flows {
            if f.verdict.kind != VerdictKind::Local {
                f.verdict.kind = VerdictKind::Allowed;
            }
            if f.id == 40 {
                f.verdict.class = Some(VerdictClass::VendorUndeclared);
            }
        }
        let flows = Arc::new(flows.into_iter().map(Arc::new).collect::<Vec<_>>());
        let mut c = FactCache::new();
        c.update(&flows, &Filter::default(), SortKey::default());
        let s = Summary::of(c.facts(), c.categories());
        assert!(s.classes.iter().all(|(k, _, _)| *k == VerdictKind::Allowed));
        assert!(
            s.classes.iter().all(|(_, c, _)| c.is_some()),
            "{:?}",
            s.classes
        );
        let vendor = s
            .classes
            .iter()
            .find(|(_, c, _)| *c == Some(VerdictClass::VendorUndeclared));
        assert_eq!(vendor.map(|(_, _, t)| t.flows), Some(1));
    }

    #[test]
    fn also_counts_the_exceptions_a_shared_host_serves() {
        let a = also_counts(&demo_snapshot().flows, facts().facts());
        // Both plex.tv flows (IPv4 and IPv6) serve two more exceptions besides `updates`
        // (relay too, but the demo's settings turn it off).
        assert_eq!(a.get("remote_discovery"), Some(&2));
        assert_eq!(a.get("plex_pass"), Some(&2));
        assert_eq!(a.get("relay"), None);
        assert_eq!(a.get("updates"), None);
    }
}
