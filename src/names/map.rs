//! The address → names map built from DNS answers (A and AAAA records, with the names
//! that lead to them through CNAME chains). Bounded: the oldest addresses are evicted
//! first, and evictions are counted.

use crate::time::Timestamp;
use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;

/// One DNS answer's binding of a name to an address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Binding {
    pub name: String,
    pub at: Timestamp,
    pub ttl: u32,
}

#[derive(Debug)]
pub struct AddressMap {
    map: HashMap<IpAddr, Vec<Binding>>,
    order: VecDeque<IpAddr>,
    max_addresses: usize,
    max_names_per_address: usize,
    pub evictions: u64,
}

impl AddressMap {
    pub fn new(max_addresses: usize, max_names_per_address: usize) -> Self {
        AddressMap {
            map: HashMap::new(),
            order: VecDeque::new(),
            max_addresses: max_addresses.max(1),
            max_names_per_address: max_names_per_address.max(1),
            evictions: 0,
        }
    }

    /// Records that a DNS answer at `at` gave `addr` these names (chain order, question first).
    pub fn record<S: AsRef<str>>(&mut self, addr: IpAddr, names: &[S], ttl: u32, at: Timestamp) {
        if !self.map.contains_key(&addr) {
            while self.map.len() >= self.max_addresses {
                match self.order.pop_front() {
                    Some(old) => {
                        if self.map.remove(&old).is_some() {
                            self.evictions += 1;
                        }
                    }
                    None => break,
                }
            }
            self.order.push_back(addr);
        }
        let list = self.map.entry(addr).or_default();
        for name in names {
            let name = name.as_ref();
            // a name already bound moves to the end with its new time (no allocation); a new
            // one is added there
            match list.iter().position(|b| b.name == name) {
                Some(i) => {
                    let mut b = list.remove(i);
                    b.at = at;
                    b.ttl = ttl;
                    list.push(b);
                }
                None => list.push(Binding {
                    name: name.to_string(),
                    at,
                    ttl,
                }),
            }
        }
        let excess = list.len().saturating_sub(self.max_names_per_address);
        if excess > 0 {
            list.drain(..excess);
            self.evictions += excess as u64;
        }
    }

    /// The names of the DNS answer that most likely led to a flow to `addr` starting at
    /// `at`: the latest answer at or before `at`; failing that, the first one after it.
    pub fn names_for(&self, addr: IpAddr, at: Timestamp) -> Vec<&Binding> {
        let Some(list) = self.map.get(&addr) else {
            return Vec::new();
        };
        let before = list.iter().filter(|b| b.at <= at).map(|b| b.at).max();
        let pick = before.or_else(|| list.iter().map(|b| b.at).min());
        match pick {
            Some(t) => list.iter().filter(|b| b.at == t).collect(),
            None => Vec::new(),
        }
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: i64) -> Timestamp {
        Timestamp::from_secs_nanos(s, 0)
    }

    #[test]
    fn latest_answer_before_the_flow_wins() {
        let mut m = AddressMap::new(10, 8);
        let a: IpAddr = "203.0.113.7".parse().unwrap();
        m.record(a, &["old.example"], 60, ts(10));
        m.record(a, &["www.example", "cdn.example.net"], 300, ts(20));
        let names: Vec<_> = m
            .names_for(a, ts(25))
            .iter()
            .map(|b| b.name.clone())
            .collect();
        assert_eq!(names, ["www.example", "cdn.example.net"]);
        let names: Vec<_> = m
            .names_for(a, ts(15))
            .iter()
            .map(|b| b.name.clone())
            .collect();
        assert_eq!(names, ["old.example"]);
        // a flow before any answer is named by the first answer after it
        let names: Vec<_> = m
            .names_for(a, ts(5))
            .iter()
            .map(|b| b.name.clone())
            .collect();
        assert_eq!(names, ["old.example"]);
        assert!(m.names_for("192.0.2.1".parse().unwrap(), ts(25)).is_empty());
    }

    #[test]
    fn bounded_and_counted() {
        let mut m = AddressMap::new(2, 2);
        for i in 0..5u8 {
            let a = IpAddr::from([192, 0, 2, i]);
            m.record(a, &[format!("h{i}.example")], 60, ts(i64::from(i)));
        }
        assert_eq!(m.len(), 2);
        assert_eq!(m.evictions, 3);
        assert!(m.names_for(IpAddr::from([192, 0, 2, 0]), ts(9)).is_empty());
        let a = IpAddr::from([192, 0, 2, 4]);
        m.record(a, &["x.example", "y.example"], 60, ts(10));
        assert_eq!(m.names_for(a, ts(10)).len(), 2);
        assert_eq!(m.evictions, 4);
    }
}
