//! `telltale rules check`: what a valid rules file may still get wrong. Rules that can
//! never decide a verdict (shadowed by an earlier rule that outranks them), host patterns
//! that several rules share, and categories the file does not describe.

use super::{Direction, HostPattern, Protocol, Rule, RuleKind, Rules};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Warning {
    /// The rule it is about.
    pub rule: String,
    pub message: String,
}

impl std::fmt::Display for Warning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "warning: rule {}: {}", self.rule, self.message)
    }
}

/// Whether pattern `a` matches every name `b` matches.
fn covers(a: &HostPattern, b: &HostPattern) -> bool {
    match (a, b) {
        (HostPattern::Exact(x), HostPattern::Exact(y)) => x == y,
        (HostPattern::Suffix(_), HostPattern::Exact(y)) => a.matches(y),
        (HostPattern::Suffix(x), HostPattern::Suffix(y)) => x == y || a.matches(y),
        (HostPattern::Exact(_), HostPattern::Suffix(_)) => false,
        (HostPattern::Labels(x), HostPattern::Labels(y)) => x == y,
        (HostPattern::Labels(_), HostPattern::Exact(y)) => a.matches(y),
        (HostPattern::Suffix(x), HostPattern::Labels(y)) => {
            // the plain labels at the end of `y` lie under `x`, with a label before them
            let plain: Vec<&str> = y
                .iter()
                .rev()
                .take_while(|l| !l.contains('*'))
                .map(String::as_str)
                .collect();
            let tail: Vec<&str> = plain.into_iter().rev().collect();
            let tail = tail.join(".");
            (tail == *x && y.len() > x.split('.').count()) || a.matches(&tail)
        }
        (HostPattern::Labels(_), HostPattern::Suffix(_))
        | (HostPattern::Exact(_), HostPattern::Labels(_)) => false,
    }
}

/// Whether two patterns can match the same name.
fn overlap(a: &HostPattern, b: &HostPattern) -> bool {
    covers(a, b) || covers(b, a)
}

/// Whether `a` matches every flow `b` matches (ignoring conditions).
fn rule_covers(a: &Rule, b: &Rule) -> bool {
    let hosts = if a.hosts.is_empty() && a.addresses.is_empty() {
        true
    } else {
        !b.hosts.is_empty()
            && b.hosts
                .iter()
                .all(|hb| a.hosts.iter().any(|ha| covers(ha, hb)))
            && b.addresses.is_empty()
    };
    let ports =
        a.ports.is_empty() || (!b.ports.is_empty() && b.ports.iter().all(|p| a.ports.contains(p)));
    let proto = a.protocol == Protocol::Any || a.protocol == b.protocol;
    let dir = a.direction == Direction::Any || a.direction == b.direction;
    hosts && ports && proto && dir
}

/// How a rule kind ranks when several match: collection endpoints and local-only
/// protocols are judged before exceptions.
fn rank(k: RuleKind) -> u8 {
    match k {
        RuleKind::LocalOnly => 0,
        RuleKind::Collection => 1,
        RuleKind::Exception => 2,
    }
}

pub fn check(rules: &Rules) -> Vec<Warning> {
    let mut out = Vec::new();
    for (i, b) in rules.rules.iter().enumerate() {
        // shadowed: an unconditional rule that outranks it matches everything it matches
        let shadow = rules.rules.iter().enumerate().find(|(j, a)| {
            *j != i
                && a.when.is_empty()
                && a.only_when.is_empty()
                && (rank(a.kind) < rank(b.kind)
                    || (rank(a.kind) == rank(b.kind) && *j < i && a.kind != RuleKind::Exception))
                && rule_covers(a, b)
        });
        if let Some((_, a)) = shadow {
            // across layers, say which file each rule is in
            let files = if a.layer != b.layer {
                format!(" (this rule is in {}, that one in {})", b.layer, a.layer)
            } else {
                String::new()
            };
            out.push(Warning {
                rule: b.id.clone(),
                message: format!(
                    "shadowed by rule {} ({}){files}: it matches every flow this rule matches, and is judged first, so this rule never decides a verdict",
                    a.id,
                    a.kind.table_name()
                ),
            });
        }
        if b.sources.is_empty() {
            out.push(Warning {
                rule: b.id.clone(),
                message: format!(
                    "no `source`: say where its hosts, ports and purpose come from (a URL or a publication), so a reader can check it{}",
                    match rules.layers.first() {
                        Some((base, _)) if *base != b.layer => format!(" (in {})", b.layer),
                        _ => String::new(),
                    }
                ),
            });
        }
        if !rules.categories.contains_key(&b.category) {
            let known: Vec<&str> = rules.categories.keys().map(String::as_str).collect();
            out.push(Warning {
                rule: b.id.clone(),
                message: format!(
                    "category `{}` is not described under [categories] (described: {})",
                    b.category,
                    if known.is_empty() {
                        "none".to_string()
                    } else {
                        known.join(", ")
                    }
                ),
            });
        }
    }
    for setting in rules.setting_defaults.keys() {
        if !rules.setting_sources.contains_key(setting) {
            out.push(Warning {
                rule: "[settings]".into(),
                message: format!(
                    "the default of {setting} has no source in [settings] sources: say where the vendor's default comes from"
                ),
            });
        }
    }
    // host patterns shared by several rules: said once, at the first rule that has it
    let mut seen: Vec<String> = Vec::new();
    for (i, a) in rules.rules.iter().enumerate() {
        for ha in &a.hosts {
            let others: Vec<&str> = rules
                .rules
                .iter()
                .enumerate()
                .filter(|(j, b)| *j != i && b.hosts.iter().any(|hb| overlap(ha, hb)))
                .map(|(_, b)| b.id.as_str())
                .collect();
            let key = ha.to_string();
            if others.is_empty() || seen.contains(&key) {
                continue;
            }
            seen.push(key.clone());
            for b in rules
                .rules
                .iter()
                .filter(|b| others.contains(&b.id.as_str()))
            {
                for hb in &b.hosts {
                    if overlap(ha, hb) {
                        seen.push(hb.to_string());
                    }
                }
            }
            out.push(Warning {
                rule: a.id.clone(),
                message: format!(
                    "host pattern `{key}` overlaps rules {}: a flow to it is judged by the first that applies (collection and local-only rules before exceptions), and exceptions it shares are listed as `also`",
                    others.join(", ")
                ),
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_cover_and_overlap() {
        let p = |s: &str| HostPattern::parse(s).unwrap();
        assert!(covers(&p("*.plex.tv"), &p("metrics.plex.tv")));
        assert!(covers(&p("*.plex.tv"), &p("*.a.plex.tv")));
        assert!(!covers(&p("metrics.plex.tv"), &p("*.plex.tv")));
        assert!(overlap(&p("metrics.plex.tv"), &p("*.plex.tv")));
        assert!(!overlap(&p("plex.tv"), &p("*.plex.tv")));
    }
}
