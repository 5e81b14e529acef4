//! Ended flows beyond the cap on flows kept in full ([`super::Caps::flow_records`]): each
//! is folded into a group of flows that look alike to an auditor (same direction, protocol,
//! server port, name and verdict), which keeps their count, traffic, time span and a few of
//! their remote addresses. A flood of flows (a scan, a churn of one-packet flows) then costs
//! memory per kind of flow, not per flow, and is still fully counted in the report.
//!
//! Flagged flows are the last to be folded: while there is room, the oldest unflagged
//! flows are folded first (see [`EndedFlows`]).

use crate::flows::{Flow, Locality, Proto};
use crate::rules::verdict::VerdictKind;
use crate::time::Timestamp;
use serde::Serialize;
use std::collections::BTreeMap;
use std::net::IpAddr;

/// Groups kept at most; beyond it a folded flow joins the catch-all group of its direction,
/// protocol and verdict (with no port, name, category or rule).
pub const MAX_GROUPS: usize = 4096;
/// Remote addresses listed per group.
const EXAMPLES: usize = 4;

/// What flows of one group share.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct GroupKey {
    pub verdict: VerdictKind,
    pub category: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
    pub locality: Locality,
    pub proto: Proto,
    /// The server's port; none in a catch-all group.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server_port: Option<u16>,
    /// The name the flows were known by; none when they had none (or in a catch-all group).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// Flows folded into one group.
#[derive(Clone, Debug, Serialize)]
pub struct FlowGroup {
    #[serde(flatten)]
    pub key: GroupKey,
    pub flows: u64,
    pub packets: u64,
    /// IP bytes that left the local side, and that came in.
    pub bytes_out: u64,
    pub bytes_in: u64,
    pub first_seen: Timestamp,
    pub last_seen: Timestamp,
    /// The first few distinct remote addresses (the internet side; for a local flow, the server).
    pub remotes: Vec<IpAddr>,
    /// A catch-all group: the group cap was reached and port, name, category and rule differ.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub catch_all: bool,
}

/// The columns a report's table of groups shows, in order.
pub const COLUMNS: [&str; 14] = [
    "verdict",
    "category",
    "rule",
    "direction",
    "protocol",
    "port",
    "name",
    "flows",
    "packets",
    "bytes out",
    "bytes in",
    "first seen",
    "last seen",
    "remotes (first few)",
];

impl FlowGroup {
    /// The group's cells under [`COLUMNS`], as plain text (each format escapes them).
    pub fn cells(&self) -> [String; 14] {
        let k = &self.key;
        let locality = serde_json::to_value(k.locality)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default();
        let remotes: Vec<String> = self.remotes.iter().map(ToString::to_string).collect();
        [
            k.verdict.as_str().to_string(),
            k.category.clone(),
            k.rule.clone().unwrap_or_else(|| "-".into()),
            locality,
            k.proto.name(),
            k.server_port
                .map_or_else(|| "any".to_string(), |p| p.to_string()),
            k.name.clone().unwrap_or_else(|| "-".into()),
            self.flows.to_string(),
            self.packets.to_string(),
            self.bytes_out.to_string(),
            self.bytes_in.to_string(),
            self.first_seen.to_string(),
            self.last_seen.to_string(),
            remotes.join(", "),
        ]
    }

    fn new(key: GroupKey, f: &Flow, catch_all: bool) -> FlowGroup {
        FlowGroup {
            key,
            flows: 0,
            packets: 0,
            bytes_out: 0,
            bytes_in: 0,
            first_seen: f.first_seen,
            last_seen: f.last_seen,
            remotes: Vec::new(),
            catch_all,
        }
    }

    fn add(&mut self, f: &Flow) {
        self.flows += 1;
        self.packets += f.up.packets + f.down.packets;
        self.bytes_out += f.bytes_out();
        self.bytes_in += f.bytes_in();
        self.first_seen = self.first_seen.min(f.first_seen);
        self.last_seen = self.last_seen.max(f.last_seen);
        let remote = f.remote().ip();
        if self.remotes.len() < EXAMPLES && !self.remotes.contains(&remote) {
            self.remotes.push(remote);
        }
    }
}

fn key_of(f: &Flow) -> GroupKey {
    let (verdict, category, rule) = match &f.verdict {
        Some(v) => (v.kind, v.category.clone(), v.rule.clone()),
        None => (VerdictKind::Flagged, "unjudged".to_string(), None),
    };
    GroupKey {
        verdict,
        category,
        rule,
        locality: f.locality(),
        proto: f.proto,
        server_port: Some(f.server.port()),
        name: crate::names::best(&f.names).map(|n| n.name.clone()),
    }
}

/// The ended flows: the newest in full up to a cap, the rest folded into groups.
#[derive(Clone, Debug, Default)]
pub struct EndedFlows {
    cap: usize,
    /// In the order they ended.
    full: Vec<Flow>,
    /// `full[..handed]` have been handed out by [`EndedFlows::take_new`], when someone
    /// takes them; only those are ever folded.
    handed: Option<usize>,
    groups: BTreeMap<GroupKey, FlowGroup>,
    /// Flows folded into groups.
    pub folded: u64,
}

/// Which of some flows (or their reports) to let go, `want` of them, oldest unflagged first,
/// then oldest flagged: [`OldestFirst::take`] asked of each, in order, says yes to those. The
/// pipeline folds its ended flows by it, and the live view drops its ended reports by it.
pub struct OldestFirst<F> {
    flagged: F,
    flagged_left: usize,
    unflagged_left: usize,
}

impl<F> OldestFirst<F> {
    pub fn new<T>(items: &[T], want: usize, flagged: F) -> OldestFirst<F>
    where
        F: Fn(&T) -> bool,
    {
        let unflagged = items.iter().filter(|i| !flagged(i)).count();
        let unflagged_left = want.min(unflagged);
        OldestFirst {
            flagged,
            flagged_left: want - unflagged_left,
            unflagged_left,
        }
    }

    pub fn take<T>(&mut self, item: &T) -> bool
    where
        F: Fn(&T) -> bool,
    {
        let left = if (self.flagged)(item) {
            &mut self.flagged_left
        } else {
            &mut self.unflagged_left
        };
        let take = *left > 0;
        *left = left.saturating_sub(1);
        take
    }
}

fn flagged(f: &Flow) -> bool {
    f.verdict
        .as_ref()
        .is_none_or(|v| v.kind == VerdictKind::Flagged)
}

impl EndedFlows {
    /// At most `cap` flows kept in full (at least one).
    pub fn new(cap: usize) -> EndedFlows {
        let cap = cap.max(1);
        EndedFlows {
            cap,
            // once: growing by doubling would copy every flow held each time
            full: Vec::with_capacity(cap.min(1 << 20).saturating_add(1)),
            ..EndedFlows::default()
        }
    }

    /// From now on, flows are folded only once [`EndedFlows::take_new`] has handed them out.
    pub fn hand_out(&mut self) {
        self.handed.get_or_insert(self.full.len());
    }

    /// Flows ended and not yet handed out (none when nobody takes them).
    pub fn waiting(&self) -> usize {
        self.handed.map_or(0, |h| self.full.len().saturating_sub(h))
    }

    /// Hands out every flow kept in full again.
    pub fn rewind(&mut self) {
        self.handed = Some(0);
    }

    /// The flows ended since the last call.
    pub fn take_new(&mut self) -> &[Flow] {
        let from = self.handed.unwrap_or(0).min(self.full.len());
        self.handed = Some(self.full.len());
        self.full.get(from..).unwrap_or(&[])
    }

    pub fn push(&mut self, f: Flow) {
        self.full.push(f);
        if self.full.len() > self.cap {
            self.fold_oldest();
        }
    }

    /// Folds a quarter of the cap at once (each fold moves the flows kept, so the cost per
    /// flow stays constant): the oldest unflagged flows first, then, if those are too few,
    /// the oldest flagged ones.
    fn fold_oldest(&mut self) {
        let limit = self.handed.unwrap_or(self.full.len()).min(self.full.len());
        let excess = self.full.len().saturating_sub(self.cap);
        let want = excess.max(self.cap / 4).max(1).min(limit);
        if want == 0 {
            return;
        }
        let mut choice = OldestFirst::new(self.full.get(..limit).unwrap_or(&[]), want, flagged);
        // in place: only the folded flows are moved out
        let folded: Vec<Flow> = self.full.extract_if(..limit, |f| choice.take(f)).collect();
        for f in &folded {
            self.fold(f);
        }
        if let Some(h) = self.handed.as_mut() {
            *h = h.saturating_sub(folded.len());
        }
    }

    fn fold(&mut self, f: &Flow) {
        self.folded += 1;
        let key = key_of(f);
        if let Some(g) = self.groups.get_mut(&key) {
            g.add(f);
            return;
        }
        let (key, catch_all) = if self.groups.len() < MAX_GROUPS {
            (key, false)
        } else {
            let key = GroupKey {
                category: "(many)".into(),
                rule: None,
                server_port: None,
                name: None,
                ..key
            };
            (key, true)
        };
        self.groups
            .entry(key.clone())
            .or_insert_with(|| FlowGroup::new(key, f, catch_all))
            .add(f);
    }

    /// The flows kept in full, in the order they ended.
    pub fn full(&self) -> &[Flow] {
        &self.full
    }

    pub fn full_mut(&mut self) -> &mut [Flow] {
        &mut self.full
    }

    pub fn groups(&self) -> impl Iterator<Item = &FlowGroup> {
        self.groups.values()
    }

    /// All ended flows, in full or folded.
    pub fn count(&self) -> u64 {
        self.full.len() as u64 + self.folded
    }

    /// The parts, for the end of the audit.
    pub fn into_parts(self) -> (Vec<Flow>, Vec<FlowGroup>) {
        (self.full, self.groups.into_values().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flows::table::{FlowTable, Limits, PacketMeta};
    use crate::rules::verdict::Verdict;

    fn flow(i: u32, kind: VerdictKind) -> Flow {
        let mut t: FlowTable<()> = FlowTable::new(Limits::default(), vec![]);
        let p = PacketMeta {
            ts: Timestamp::from_secs_nanos(i64::from(i), 0),
            proto: Proto::Tcp,
            src: "192.168.1.10:40000".parse().unwrap(),
            dst: format!("203.0.113.{}:443", i % 200).parse().unwrap(),
            tcp_flags: crate::decode::tcp_flags::SYN,
            tcp_seq: 0,
            ip_len: 60,
            payload_len: 0,
        };
        let (f, _, _, _) = t.track(&p);
        let mut f = f.clone();
        f.id = u64::from(i);
        f.verdict = Some(Verdict {
            kind,
            class: None,
            category: "unexplained".into(),
            rule: None,
            also: vec![],
            reason: "test".into(),
        });
        f
    }

    #[test]
    fn beyond_the_cap_the_oldest_unflagged_flows_are_folded_and_every_flow_is_counted() {
        let mut e = EndedFlows::new(16);
        for i in 0..100 {
            let kind = if i % 10 == 0 {
                VerdictKind::Flagged
            } else {
                VerdictKind::Allowed
            };
            e.push(flow(i, kind));
        }
        assert!(e.full().len() <= 16);
        assert_eq!(e.count(), 100);
        // every flagged flow is still there in full: there were always unflagged ones to fold
        let flagged_full = e.full().iter().filter(|f| flagged(f)).count();
        assert_eq!(flagged_full, 10);
        let groups: Vec<&FlowGroup> = e.groups().collect();
        assert_eq!(groups.iter().map(|g| g.flows).sum::<u64>(), e.folded);
        assert_eq!(e.folded + e.full().len() as u64, 100);
        // one group: same verdict, category, port and (no) name
        assert_eq!(groups.len(), 1);
        let g = groups[0];
        assert_eq!(g.key.verdict, VerdictKind::Allowed);
        assert_eq!(g.key.server_port, Some(443));
        assert_eq!(g.packets, g.flows);
        assert_eq!(g.remotes.len(), EXAMPLES);
        assert!(g.first_seen <= g.last_seen);
    }

    #[test]
    fn flagged_flows_are_folded_only_when_nothing_else_is_left() {
        let mut e = EndedFlows::new(8);
        for i in 0..50 {
            e.push(flow(i, VerdictKind::Flagged));
        }
        assert!(e.full().len() <= 8);
        assert_eq!(e.count(), 50);
        // the newest are the ones kept
        assert!(e.full().iter().all(|f| f.id >= 42 - 8));
        assert_eq!(e.groups().next().unwrap().key.verdict, VerdictKind::Flagged);
    }

    #[test]
    fn flows_not_yet_handed_out_are_never_folded() {
        let mut e = EndedFlows::new(4);
        e.hand_out();
        for i in 0..20 {
            e.push(flow(i, VerdictKind::Allowed));
        }
        // nobody took them: all kept
        assert_eq!(e.full().len(), 20);
        let ids: Vec<u64> = e.take_new().iter().map(|f| f.id).collect();
        assert_eq!(ids, (0..20).collect::<Vec<u64>>());
        e.push(flow(20, VerdictKind::Allowed));
        assert!(e.full().len() <= 4 + 1);
        let ids: Vec<u64> = e.take_new().iter().map(|f| f.id).collect();
        assert_eq!(ids, [20]);
        assert_eq!(e.count(), 21);
    }

    #[test]
    fn the_group_cap_holds_with_a_catch_all() {
        let mut e = EndedFlows::new(1);
        for i in 0..(MAX_GROUPS as u32 + 100) {
            let mut f = flow(i, VerdictKind::Allowed);
            f.server.set_port((i % 60_000) as u16 + 1);
            e.push(f);
        }
        let n = e.groups().count();
        assert!(n <= MAX_GROUPS + 1, "{n} groups");
        assert!(e.groups().any(|g| g.catch_all && g.flows > 0));
        assert_eq!(e.count(), u64::from(MAX_GROUPS as u32 + 100));
    }
}
