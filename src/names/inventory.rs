//! Every name the capture revealed, used by a flow or not: an owner wants to see every
//! host their server looked up. Bounded; names beyond the cap are counted, not kept.

use super::NameSource;
use crate::time::Timestamp;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

#[derive(Clone, Debug, Serialize)]
pub struct NameEntry {
    pub name: String,
    pub source: NameSource,
    pub first_seen: Timestamp,
    pub last_seen: Timestamp,
    /// How many times the name was seen (answers, ClientHellos, requests).
    pub seen: u64,
    /// For DNS answers: the addresses the name was given.
    #[serde(skip_serializing_if = "BTreeSet::is_empty")]
    pub addresses: BTreeSet<IpAddr>,
    /// The flows the name belongs to.
    pub flows: BTreeSet<u64>,
}

#[derive(Clone, Debug)]
pub struct Inventory {
    /// By name, then by source: a name already listed is found by `&str`, with no allocation.
    entries: BTreeMap<String, BTreeMap<NameSource, NameEntry>>,
    /// Entries listed (name and source pairs).
    count: usize,
    max_entries: usize,
    max_refs: usize,
    pub dropped: u64,
}

impl Inventory {
    pub fn new(max_entries: usize) -> Self {
        Inventory {
            entries: BTreeMap::new(),
            count: 0,
            max_entries,
            max_refs: 4096,
            dropped: 0,
        }
    }

    fn entry(&mut self, name: &str, source: NameSource, at: Timestamp) -> Option<&mut NameEntry> {
        let known = self
            .entries
            .get(name)
            .is_some_and(|by_source| by_source.contains_key(&source));
        if !known {
            if self.count >= self.max_entries {
                self.dropped += 1;
                return None;
            }
            self.count += 1;
            self.entries.entry(name.to_string()).or_default().insert(
                source,
                NameEntry {
                    name: name.to_string(),
                    source,
                    first_seen: at,
                    last_seen: at,
                    seen: 0,
                    addresses: BTreeSet::new(),
                    flows: BTreeSet::new(),
                },
            );
        }
        let e = self.entries.get_mut(name)?.get_mut(&source)?;
        e.first_seen = e.first_seen.min(at);
        e.last_seen = e.last_seen.max(at);
        Some(e)
    }

    /// A name seen on the wire, optionally for an address (DNS) and a flow.
    pub fn saw(
        &mut self,
        name: &str,
        source: NameSource,
        at: Timestamp,
        addr: Option<IpAddr>,
        flow: Option<u64>,
    ) {
        let cap = self.max_refs;
        if let Some(e) = self.entry(name, source, at) {
            e.seen += 1;
            if let Some(a) = addr
                && e.addresses.len() < cap
            {
                e.addresses.insert(a);
            }
            if let Some(f) = flow
                && e.flows.len() < cap
            {
                e.flows.insert(f);
            }
        }
    }

    /// A flow was named by a DNS answer given earlier: tie the flow to the name without counting a sighting.
    pub fn used_by(&mut self, name: &str, source: NameSource, flow: u64) {
        let cap = self.max_refs;
        if let Some(e) = self
            .entries
            .get_mut(name)
            .and_then(|by_source| by_source.get_mut(&source))
            && e.flows.len() < cap
        {
            e.flows.insert(flow);
        }
    }

    /// Sorted by name, then source.
    pub fn entries(&self) -> impl Iterator<Item = &NameEntry> {
        self.entries.values().flat_map(BTreeMap::values)
    }

    pub fn len(&self) -> usize {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn collects_and_bounds() {
        let mut inv = Inventory::new(2);
        let t = Timestamp(5);
        inv.saw(
            "plex.tv",
            NameSource::DnsAnswer,
            t,
            Some("192.0.2.1".parse().unwrap()),
            None,
        );
        inv.saw("plex.tv", NameSource::TlsSni, Timestamp(7), None, Some(3));
        inv.saw(
            "plex.tv",
            NameSource::DnsAnswer,
            Timestamp(9),
            Some("192.0.2.2".parse().unwrap()),
            None,
        );
        inv.used_by("plex.tv", NameSource::DnsAnswer, 3);
        inv.saw("metrics.plex.tv", NameSource::TlsSni, t, None, Some(4));
        assert_eq!(inv.len(), 2);
        assert_eq!(inv.dropped, 1);
        let dns = inv
            .entries()
            .find(|e| e.source == NameSource::DnsAnswer)
            .unwrap();
        assert_eq!(dns.seen, 2);
        assert_eq!(dns.addresses.len(), 2);
        assert_eq!(dns.flows.iter().copied().collect::<Vec<_>>(), [3]);
        assert_eq!(
            (dns.first_seen, dns.last_seen),
            (Timestamp(5), Timestamp(9))
        );
    }
}
