//! Budgets: a declared exception can say how much it may send (IP bytes out and flows, per
//! hour, to one host). An update check that uploads 40 MB a day is not an update check:
//! the flows beyond the budget are flagged, with the figures.

use super::RuleKind;
use super::verdict::VerdictKind;
use crate::flows::Flow;
use crate::text::bytes;
use crate::time::Timestamp;
use std::collections::BTreeMap;

/// Flags the declared flows that go beyond their exception's budget. The budget is per
/// hour and per host; a capture shorter than an hour is held to one hour's budget.
/// Returns how many flows it flagged.
pub fn apply(
    flows: &mut [Flow],
    rules: &super::Rules,
    span: (Option<Timestamp>, Option<Timestamp>),
) -> usize {
    let hours = match span {
        (Some(a), Some(b)) => (b.seconds_since(a) / 3600.0).max(1.0),
        _ => 1.0,
    };
    // the declared flows of each (exception, host), in time order
    let mut groups: BTreeMap<(String, String), Vec<usize>> = BTreeMap::new();
    for (i, f) in flows.iter().enumerate() {
        let Some(v) = &f.verdict else { continue };
        if v.kind != VerdictKind::Declared {
            continue;
        }
        let Some(rule) = v
            .rule
            .as_ref()
            .and_then(|id| rules.rules.iter().find(|r| &r.id == id))
        else {
            continue;
        };
        if rule.kind != RuleKind::Exception || rule.budget.is_none() {
            continue;
        }
        let host = f
            .primary_name()
            .map_or_else(|| f.remote().ip().to_string(), |n| n.name.clone());
        groups.entry((rule.id.clone(), host)).or_default().push(i);
    }
    let mut flagged = 0;
    for ((rule_id, host), mut idx) in groups {
        let Some(budget) = rules
            .rules
            .iter()
            .find(|r| r.id == rule_id)
            .and_then(|r| r.budget)
        else {
            continue;
        };
        idx.sort_by_key(|&i| flows.get(i).map(|f| (f.first_seen, f.id)));
        let allowed_bytes = budget.bytes_out_per_hour.map(|b| (b as f64 * hours) as u64);
        let allowed_flows = budget.flows_per_hour.map(|n| (n as f64 * hours) as u64);
        let total_bytes: u64 = idx
            .iter()
            .filter_map(|&i| flows.get(i))
            .map(Flow::bytes_out)
            .sum();
        let total_flows = idx.len() as u64;
        let over = allowed_bytes.is_some_and(|a| total_bytes > a)
            || allowed_flows.is_some_and(|a| total_flows > a);
        if !over {
            continue;
        }
        let (first, last) = idx.iter().filter_map(|&i| flows.get(i)).fold(
            (None, None),
            |(a, b): (Option<Timestamp>, Option<Timestamp>), f| {
                (
                    Some(a.map_or(f.first_seen, |a| a.min(f.first_seen))),
                    Some(b.map_or(f.last_seen, |b| b.max(f.last_seen))),
                )
            },
        );
        let over_what = match (first, last) {
            (Some(a), Some(b)) => crate::text::duration(b.seconds_since(a)),
            _ => "the capture".into(),
        };
        let mut limits = Vec::new();
        if let Some(b) = budget.bytes_out_per_hour {
            limits.push(format!("{} out per hour", bytes(b)));
        }
        if let Some(n) = budget.flows_per_hour {
            limits.push(format!("{n} flows per hour"));
        }
        let figures = format!(
            "exceeds the declared budget of {rule_id}: {} sent to {host} in {total_flows} flows over {over_what}, against a budget of {}{}",
            bytes(total_bytes),
            limits.join(" and "),
            if hours > 1.0 {
                format!(" ({hours:.1} hours of capture)")
            } else {
                " (the capture is held to one hour's budget)".into()
            }
        );
        // the flows from the one that crossed the budget on
        let (mut sent, mut count) = (0u64, 0u64);
        for &i in &idx {
            let Some(f) = flows.get_mut(i) else { continue };
            sent += f.bytes_out();
            count += 1;
            let crossed =
                allowed_bytes.is_some_and(|a| sent > a) || allowed_flows.is_some_and(|a| count > a);
            if crossed && let Some(v) = f.verdict.as_mut() {
                v.kind = VerdictKind::Flagged;
                v.class = Some(crate::rules::verdict::VerdictClass::OverBudget);
                v.reason = format!("{figures}; {}", v.reason);
                flagged += 1;
            }
        }
    }
    flagged
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flows::Proto;
    use crate::flows::table::{FlowTable, Limits, PacketMeta};
    use crate::names::{FlowName, NameSource};
    use crate::rules::verdict::{Consent, judge};
    use crate::rules::{Matcher, load::parse};

    const RULES: &str = r#"
schema = 1
server = { name = "Test" }
[[exception]]
id = "updates"
category = "updates"
hosts = ["plex.tv"]
budget = { bytes_out_per_hour = 100000, flows_per_hour = 10 }
"#;

    /// `n` flows to plex.tv, a minute apart, each sending `each` bytes out.
    fn flows(n: u16, each: u32) -> Vec<Flow> {
        let matcher = Matcher::new(parse("t.toml", RULES).unwrap());
        let mut t: FlowTable<()> = FlowTable::new(Limits::default(), vec![]);
        let mut out = Vec::new();
        for i in 0..n {
            let meta = PacketMeta {
                ts: Timestamp::from_secs_nanos(1_000 + i64::from(i) * 60, 0),
                proto: Proto::Tcp,
                src: format!("192.168.1.10:{}", 40000 + i).parse().unwrap(),
                dst: "192.0.2.10:443".parse().unwrap(),
                tcp_flags: crate::decode::tcp_flags::SYN,
                tcp_seq: 0,
                ip_len: each,
                payload_len: 0,
            };
            let (f, _, _, _) = t.track(&meta);
            let mut f = f.clone();
            f.add_name(FlowName {
                name: "plex.tv".into(),
                source: NameSource::TlsSni,
                learned_at: meta.ts,
                ttl: None,
                ech_outer: false,
            });
            f.verdict = Some(judge(&f, &matcher, &Consent::new(true)));
            out.push(f);
        }
        out
    }

    fn span(f: &[Flow]) -> (Option<Timestamp>, Option<Timestamp>) {
        (
            f.first().map(|f| f.first_seen),
            f.last().map(|f| f.last_seen),
        )
    }

    #[test]
    fn within_the_budget_nothing_changes() {
        let rules = parse("t.toml", RULES).unwrap();
        let mut f = flows(5, 10_000); // 50 kB in 5 flows within an hour
        let s = span(&f);
        assert_eq!(apply(&mut f, &rules, s), 0);
        assert!(
            f.iter()
                .all(|f| f.verdict.as_ref().unwrap().kind == VerdictKind::Declared)
        );
    }

    #[test]
    fn beyond_the_budget_the_flows_from_the_crossing_on_are_flagged() {
        let rules = parse("t.toml", RULES).unwrap();
        let mut f = flows(5, 40_000); // 200 kB: the third flow crosses 100 kB
        let s = span(&f);
        assert_eq!(apply(&mut f, &rules, s), 3);
        let kinds: Vec<VerdictKind> = f.iter().map(|f| f.verdict.as_ref().unwrap().kind).collect();
        use VerdictKind::*;
        assert_eq!(kinds, [Declared, Declared, Flagged, Flagged, Flagged]);
        let reason = &f[2].verdict.as_ref().unwrap().reason;
        assert!(
            reason.starts_with("exceeds the declared budget of updates: 195 KiB sent to plex.tv in 5 flows over 4 min 0 s, against a budget of 98 KiB out per hour and 10 flows per hour"),
            "{reason}"
        );
        // too many flows trips it too
        let mut f = flows(12, 100);
        let s = span(&f);
        assert_eq!(apply(&mut f, &rules, s), 2);
    }
}
