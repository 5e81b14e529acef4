//! What the table and the totals need of each flow (its verdict, whether the filter keeps
//! it, its sort key, its category and bytes out), kept by position in the snapshot's flow
//! list. The pipeline shares every flow that did not change (the same `Arc`), so a new
//! snapshot only costs a look at the flows that did; the rest is read from this compact
//! list without touching the flows themselves, whose memory is scattered.

use super::filter::Filter;
use super::sort::{SortKey, key};
use super::tally::{Fnv, kind_index};
use crate::report::model::FlowReport;
use crate::rules::verdict::{VerdictClass, VerdictKind};
use std::collections::HashMap;
use std::hash::BuildHasherDefault;
use std::sync::Arc;

type Flows = Arc<Vec<Arc<FlowReport>>>;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RowFacts {
    pub kind: VerdictKind,
    /// The verdict's class, for the Summary's counts by class.
    pub class: Option<VerdictClass>,
    /// The filter keeps the flow.
    pub kept: bool,
    /// The verdict names other exceptions its host serves.
    pub has_also: bool,
    /// Index into [`FactCache::categories`].
    pub category: u32,
    pub bytes_out: u64,
    /// The flow's key in the current order ([`key`]).
    pub key: u128,
}

/// What an update changed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Changed {
    /// Every flow was read again.
    All,
    /// Only these positions (in increasing order) were read again or added.
    Some(Vec<usize>),
}

pub struct FactCache {
    /// The flow list `facts` describe, position by position.
    flows: Flows,
    facts: Vec<RowFacts>,
    /// What `kept` and `key` were worked out for.
    filter: Filter,
    sort: SortKey,
    /// Every (verdict, category) seen, in order of first sight.
    categories: Vec<(VerdictKind, String)>,
    /// Category name → its index for each verdict (by `kind_index`), `u32::MAX` for none.
    category_ids: HashMap<String, [u32; 4], BuildHasherDefault<Fnv>>,
}

impl FactCache {
    pub fn new() -> FactCache {
        FactCache {
            flows: Arc::new(Vec::new()),
            facts: Vec::new(),
            filter: Filter::default(),
            sort: SortKey::default(),
            categories: Vec::new(),
            category_ids: HashMap::default(),
        }
    }

    /// Brings the facts up to date for `flows`, a filter and an order; only flows that
    /// are not the very ones seen at the same position before are read (all of them when
    /// the filter or the order changed, or the list shrank). Says which positions changed.
    pub fn update(&mut self, flows: &Flows, filter: &Filter, sort: SortKey) -> Changed {
        let same_question = *filter == self.filter && sort == self.sort;
        if same_question && Arc::ptr_eq(flows, &self.flows) {
            return Changed::Some(Vec::new());
        }
        if !same_question || flows.len() < self.facts.len() {
            self.filter = filter.clone();
            self.sort = sort;
            self.facts.clear();
            self.facts.reserve(flows.len());
            for f in flows.iter() {
                let x = self.facts_of(f);
                self.facts.push(x);
            }
            self.flows = Arc::clone(flows);
            return Changed::All;
        }
        let old = std::mem::replace(&mut self.flows, Arc::clone(flows));
        let mut changed = Vec::new();
        for (i, f) in flows.iter().enumerate() {
            if old.get(i).is_some_and(|o| Arc::ptr_eq(o, f)) {
                continue;
            }
            let x = self.facts_of(f);
            match self.facts.get_mut(i) {
                Some(slot) => *slot = x,
                None => self.facts.push(x),
            }
            changed.push(i);
        }
        Changed::Some(changed)
    }

    fn facts_of(&mut self, f: &FlowReport) -> RowFacts {
        let kind = f.verdict.kind;
        let slot = kind_index(kind);
        let known = self
            .category_ids
            .get(f.verdict.category.as_str())
            .and_then(|ids| ids.get(slot).copied())
            .filter(|&id| id != u32::MAX);
        let category = match known {
            Some(id) => id,
            None => {
                let id = u32::try_from(self.categories.len()).unwrap_or(u32::MAX);
                self.categories.push((kind, f.verdict.category.clone()));
                let ids = self
                    .category_ids
                    .entry(f.verdict.category.clone())
                    .or_insert([u32::MAX; 4]);
                if let Some(x) = ids.get_mut(slot) {
                    *x = id;
                }
                id
            }
        };
        RowFacts {
            kind,
            class: f.verdict.class,
            kept: self.filter.is_empty() || self.filter.matches(f),
            has_also: !f.verdict.also.is_empty(),
            category,
            bytes_out: f.bytes_out,
            key: key(f, self.sort),
        }
    }

    /// The facts, by position in the flow list last given to [`FactCache::update`].
    pub fn facts(&self) -> &[RowFacts] {
        &self.facts
    }

    /// The (verdict, category) of each category index.
    pub fn categories(&self) -> &[(VerdictKind, String)] {
        &self.categories
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tui::testing::{demo_snapshot, flow_named};

    #[test]
    fn unchanged_flows_keep_their_facts_and_changed_ones_are_read_again() {
        let snap = demo_snapshot();
        let mut cache = FactCache::new();
        let filter = Filter::parse("verdict:flagged").unwrap();
        cache.update(&snap.flows, &filter, SortKey::LastSeen);
        let kept: Vec<usize> = (0..41).filter(|&i| cache.facts()[i].kept).collect();
        assert_eq!(kept.len(), 5);

        // The same flows but the one at position 0 replaced by a flagged copy.
        let mut list: Vec<Arc<FlowReport>> = snap.flows.iter().cloned().collect();
        list[0] = Arc::new(flow_named(1, "new.example"));
        let flows = Arc::new(list);
        cache.update(&flows, &filter, SortKey::LastSeen);
        assert!(cache.facts()[0].kept, "the changed flow was read again");
        assert_eq!(cache.facts().iter().filter(|x| x.kept).count(), 6);

        // A new filter reads every flow again.
        cache.update(
            &flows,
            &Filter::parse("host:plex.tv").unwrap(),
            SortKey::LastSeen,
        );
        assert_eq!(cache.facts().iter().filter(|x| x.kept).count(), 8);
        let cats = cache.categories();
        assert!(
            cats.iter()
                .any(|(k, c)| *k == VerdictKind::Flagged && c == "telemetry")
        );
    }
}
