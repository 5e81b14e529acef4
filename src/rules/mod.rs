//! Rules and verdicts: which networks are local (`locality`), the rules file (`schema`,
//! `load`), the compiled matcher (this file) and the judgement of each flow (`verdict`).

pub mod budget;
pub mod check;
pub mod conditions;
pub mod load;
pub mod schema;
pub mod scope;
pub mod verdict;

use ipnet::IpNet;
pub use schema::{Basis, Direction, Protocol};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;

/// What a rule says about the traffic it matches.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RuleKind {
    /// A declared exception: allowed to leave even while the owner has opted out.
    Exception,
    /// A known data-collection endpoint (telemetry, crash reports): flagged while opted out.
    Collection,
    /// A protocol that belongs on the local network: flagged when it reaches the internet.
    LocalOnly,
}

impl RuleKind {
    pub fn table_name(self) -> &'static str {
        match self {
            RuleKind::Exception => "exception",
            RuleKind::Collection => "collection",
            RuleKind::LocalOnly => "local_only",
        }
    }
}

/// A host name pattern: exact (`plex.tv`), every sub-domain (`*.plex.direct`), or labels with
/// wildcards in them (`pubsub*.pop.*.plex.bz`: as many labels as the pattern, each matching its
/// own; a `*` within a label stands for any run of characters, a label `*` for any one label).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HostPattern {
    Exact(String),
    Suffix(String),
    Labels(Vec<String>),
}

impl HostPattern {
    pub fn parse(text: &str) -> Option<HostPattern> {
        let t = text.trim().trim_end_matches('.').to_ascii_lowercase();
        let (wild, name) = match t.strip_prefix("*.") {
            Some(rest) => (true, rest.to_string()),
            None => (false, t),
        };
        let label_ok = |l: &str, star: bool| {
            !l.is_empty()
                && l.len() <= 63
                && l.chars().all(|c| {
                    c.is_ascii_alphanumeric() || c == '-' || c == '_' || (star && c == '*')
                })
                && l.matches('*').count() <= 1
        };
        if name.is_empty() || name.len() > 253 {
            return None;
        }
        if !wild && name.contains('*') {
            // labels with wildcards: at least two plain labels at the end (no `*.*.tv`)
            let labels: Vec<String> = name.split('.').map(str::to_string).collect();
            let plain_tail = labels.iter().rev().take_while(|l| !l.contains('*')).count();
            if plain_tail < 2 || !labels.iter().all(|l| label_ok(l, true)) {
                return None;
            }
            return Some(HostPattern::Labels(labels));
        }
        if !name.split('.').all(|l| label_ok(l, false)) {
            return None;
        }
        Some(if wild {
            HostPattern::Suffix(name)
        } else {
            HostPattern::Exact(name)
        })
    }

    pub fn matches(&self, name: &str) -> bool {
        match self {
            HostPattern::Exact(h) => h == name,
            HostPattern::Suffix(s) => {
                name.len() > s.len() + 1
                    && name.ends_with(s.as_str())
                    && name.as_bytes().get(name.len() - s.len() - 1) == Some(&b'.')
            }
            HostPattern::Labels(labels) => {
                let parts: Vec<&str> = name.split('.').collect();
                parts.len() == labels.len()
                    && parts.iter().zip(labels).all(|(p, l)| label_matches(l, p))
            }
        }
    }
}

/// One label of a pattern against one label of a name: `*` is any run of characters (empty too,
/// but a label `*` alone must match a whole, non-empty label).
fn label_matches(pattern: &str, label: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == label,
        Some(("", "")) => !label.is_empty(),
        Some((head, tail)) => {
            label.len() >= head.len() + tail.len()
                && label.starts_with(head)
                && label.ends_with(tail)
        }
    }
}

impl std::fmt::Display for HostPattern {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HostPattern::Exact(h) => f.write_str(h),
            HostPattern::Suffix(s) => write!(f, "*.{s}"),
            HostPattern::Labels(l) => f.write_str(&l.join(".")),
        }
    }
}

#[derive(Clone, Debug)]
pub struct Rule {
    pub id: String,
    pub kind: RuleKind,
    pub category: String,
    pub justification: String,
    /// For exceptions: who declared them.
    pub basis: Option<Basis>,
    pub hosts: Vec<HostPattern>,
    pub addresses: Vec<IpNet>,
    /// Ports of the remote party (for inbound flows: the local port the remote party reached).
    pub ports: Vec<u16>,
    pub protocol: Protocol,
    pub direction: Direction,
    /// The settings under which it holds (an exception) or is the owner's choice (a collection endpoint).
    pub when: conditions::When,
    /// For an exception: how much it may send.
    pub budget: Option<schema::BudgetDoc>,
    /// Where its hosts, ports and purpose come from (URLs or publications).
    pub sources: Vec<String>,
    /// The settings under which the rule applies at all.
    pub only_when: Vec<conditions::Condition>,
    /// The rules file that declared it (`builtin:plex`, `./mine.toml`).
    pub layer: String,
}

/// A validated rules file.
#[derive(Clone, Debug)]
pub struct Rules {
    /// `builtin:plex` or the path given; with layers, every file joined by ` + `.
    pub source: String,
    /// The first (base) file's SHA-256.
    pub sha256: String,
    /// Every file, base first, with its SHA-256: the vendor's rules and the owner's layers.
    pub layers: Vec<(String, String)>,
    /// The server software's name.
    pub server: String,
    /// The server's processes, by program name, and the ports it listens on.
    pub server_processes: Vec<String>,
    pub server_ports: Vec<u16>,
    /// The vendor's own domains (lower-case): a host under one that no rule explains is the
    /// vendor's, with no declared purpose.
    pub vendor_domains: Vec<String>,
    pub description: Option<String>,
    pub categories: BTreeMap<String, String>,
    pub local_networks: Vec<IpNet>,
    /// The server's defaults for settings its file leaves out.
    pub setting_defaults: BTreeMap<String, String>,
    /// Where each default comes from, by setting.
    pub setting_sources: BTreeMap<String, String>,
    /// How the settings say the owner opted out (any holds) or in (any holds).
    pub opted_out_when: Vec<conditions::Condition>,
    pub opted_in_when: Vec<conditions::Condition>,
    /// Settings that name an address (setting → rule id) or a URL's host for a rule.
    pub address_for: BTreeMap<String, String>,
    pub url_host_for: BTreeMap<String, String>,
    pub rules: Vec<Rule>,
}

impl Rules {
    /// Adds what the server's settings name to the rules: an address (`PubSubServer`) or a
    /// URL's host (`plexMetricsUrl`). Returns what was added, in words.
    pub fn apply_settings(&mut self, facts: &conditions::Facts) -> Vec<String> {
        let mut added = Vec::new();
        for (setting, rule_id) in &self.address_for {
            let Some(value) = facts.values.get(setting) else {
                continue;
            };
            let Ok(ip) = value.trim().parse::<IpAddr>() else {
                continue;
            };
            if let Some(r) = self.rules.iter_mut().find(|r| &r.id == rule_id)
                && !r.addresses.contains(&IpNet::from(ip))
            {
                r.addresses.push(IpNet::from(ip));
                r.justification
                    .push_str(&format!(" The settings name {ip} ({setting}={value})."));
                added.push(format!("{setting}={value} adds {ip} to rule {rule_id}"));
            }
        }
        for (setting, rule_id) in &self.url_host_for {
            let Some(value) = facts.values.get(setting) else {
                continue;
            };
            let host = value
                .split("://")
                .nth(1)
                .unwrap_or(value)
                .split(['/', ':', '?'])
                .next()
                .unwrap_or("");
            let Some(pattern) = HostPattern::parse(host) else {
                continue;
            };
            if let Some(r) = self.rules.iter_mut().find(|r| &r.id == rule_id)
                && !r.hosts.contains(&pattern)
            {
                r.hosts.push(pattern);
                r.justification
                    .push_str(&format!(" The settings send it to {host} ({setting})."));
                added.push(format!("{setting} adds {host} to rule {rule_id}"));
            }
        }
        added
    }
}

/// What the matcher needs to know of a flow.
#[derive(Clone, Copy, Debug)]
pub struct MatchInput<'a> {
    pub tcp: bool,
    pub udp: bool,
    /// The remote party's address.
    pub remote: IpAddr,
    /// The port the flow's server side listens on (remote port for outbound flows, local port for inbound ones).
    pub service_port: u16,
    pub direction: Direction,
    /// The names the remote party is known by, lower-case, best first.
    pub names: &'a [&'a str],
}

/// The rules compiled for matching: host patterns in hash maps, so that matching a name
/// costs a lookup per label rather than a scan of every rule.
#[derive(Debug)]
pub struct Matcher {
    pub rules: Rules,
    exact: HashMap<String, Vec<usize>>,
    suffix: HashMap<String, Vec<usize>>,
    /// Patterns with wildcards inside labels, few: checked one by one.
    labels: Vec<(HostPattern, usize)>,
    /// Rules that match by address or port alone (no host patterns).
    by_other: Vec<usize>,
    /// Rules with host patterns and addresses too: checked by address as well.
    with_addresses: Vec<usize>,
}

impl Matcher {
    pub fn new(rules: Rules) -> Matcher {
        let mut exact: HashMap<String, Vec<usize>> = HashMap::new();
        let mut suffix: HashMap<String, Vec<usize>> = HashMap::new();
        let mut by_other = Vec::new();
        let mut with_addresses = Vec::new();
        let mut labels = Vec::new();
        for (i, r) in rules.rules.iter().enumerate() {
            for h in &r.hosts {
                match h {
                    HostPattern::Exact(n) => exact.entry(n.clone()).or_default().push(i),
                    HostPattern::Suffix(s) => suffix.entry(s.clone()).or_default().push(i),
                    HostPattern::Labels(_) => labels.push((h.clone(), i)),
                }
            }
            if r.hosts.is_empty() {
                by_other.push(i);
            } else if !r.addresses.is_empty() {
                with_addresses.push(i);
            }
        }
        Matcher {
            rules,
            exact,
            suffix,
            labels,
            by_other,
            with_addresses,
        }
    }

    /// Every rule that matches, in file order, each with the name that matched it (None: by address or port).
    pub fn matches<'n>(&self, input: &MatchInput<'n>) -> Vec<(&Rule, Option<&'n str>)> {
        let mut hits: Vec<(usize, Option<&'n str>)> = Vec::new();
        let push = |i: usize, name: Option<&'n str>, hits: &mut Vec<(usize, Option<&'n str>)>| {
            if !hits.iter().any(|(j, _)| *j == i) {
                hits.push((i, name));
            }
        };
        for &name in input.names {
            if let Some(v) = self.exact.get(name) {
                v.iter().for_each(|&i| push(i, Some(name), &mut hits));
            }
            let mut rest = name;
            while let Some((_, tail)) = rest.split_once('.') {
                if let Some(v) = self.suffix.get(tail) {
                    v.iter().for_each(|&i| push(i, Some(name), &mut hits));
                }
                rest = tail;
            }
            for (pattern, i) in &self.labels {
                if pattern.matches(name) {
                    push(*i, Some(name), &mut hits);
                }
            }
        }
        for &i in self.by_other.iter().chain(&self.with_addresses) {
            if let Some(r) = self.rules.rules.get(i) {
                let by_addr = r.addresses.iter().any(|n| n.contains(&input.remote));
                if by_addr || (r.hosts.is_empty() && r.addresses.is_empty()) {
                    push(i, None, &mut hits);
                }
            }
        }
        hits.sort_by_key(|(i, _)| *i);
        hits.into_iter()
            .filter_map(|(i, n)| self.rules.rules.get(i).map(|r| (r, n)))
            .filter(|(r, _)| rule_applies(r, input))
            .collect()
    }
}

/// The parts of a rule that do not depend on names: protocol, port, direction.
fn rule_applies(r: &Rule, input: &MatchInput<'_>) -> bool {
    r.protocol.matches(input.tcp, input.udp)
        && (r.ports.is_empty() || r.ports.binary_search(&input.service_port).is_ok())
        && (r.direction == Direction::Any || r.direction == input.direction)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_patterns() {
        let p = HostPattern::parse("*.plex.direct").unwrap();
        assert!(p.matches("a-b-c-d.abc.plex.direct"));
        assert!(!p.matches("plex.direct"));
        assert!(!p.matches("evilplex.direct"));
        let e = HostPattern::parse("Plex.TV.").unwrap();
        assert_eq!(e, HostPattern::Exact("plex.tv".into()));
        assert!(e.matches("plex.tv"));
        assert!(!e.matches("www.plex.tv"));
        assert!(HostPattern::parse("plex..tv").is_none());
        assert!(HostPattern::parse("pl ex.tv").is_none());
        assert!(HostPattern::parse("*").is_none());
        assert!(HostPattern::parse("a.*.tv").is_none());
        assert!(HostPattern::parse("*.*.tv").is_none());
        assert!(HostPattern::parse("a**b.plex.bz").is_none());
        // plex.bz by role: pubsub and proxy nodes in points of presence, metadata hosts
        let pubsub = HostPattern::parse("pubsub*.pop.*.plex.bz").unwrap();
        assert!(pubsub.matches("pubsub12.pop.ams1.plex.bz"));
        assert!(pubsub.matches("pubsub.pop.ams1.plex.bz"));
        assert!(!pubsub.matches("proxy12.pop.ams1.plex.bz"));
        assert!(!pubsub.matches("pubsub12.pop.plex.bz"));
        assert!(!pubsub.matches("pubsub12.pop.ams1.x.plex.bz"));
        let meta = HostPattern::parse("meta*.plex.bz").unwrap();
        assert!(meta.matches("meta3.plex.bz"));
        assert!(!meta.matches("a.meta3.plex.bz"));
        assert_eq!(meta.to_string(), "meta*.plex.bz");
        let tail = HostPattern::parse("*-edge.example.com").unwrap();
        assert!(tail.matches("ams-edge.example.com"));
        assert!(!tail.matches("ams-edgy.example.com"));
    }
}
