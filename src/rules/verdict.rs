//! The judgement of one flow, and why. `local`: it never left. `declared`: it left,
//! explained by an exception. `flagged`: it left while the owner opted out and nothing
//! explains it (a collection endpoint, a local-only protocol on the internet, or no
//! rule at all). `allowed`: it left and the owner has not opted out; still categorised.

use super::{Basis, Direction, MatchInput, Matcher, Rule, RuleKind};
use crate::flows::{Flow, Locality, Proto};
use crate::names::FlowName;
use serde::Serialize;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum VerdictKind {
    Flagged,
    Declared,
    Allowed,
    Local,
}

impl VerdictKind {
    pub fn as_str(self) -> &'static str {
        match self {
            VerdictKind::Flagged => "flagged",
            VerdictKind::Declared => "declared",
            VerdictKind::Allowed => "allowed",
            VerdictKind::Local => "local",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Verdict {
    pub kind: VerdictKind,
    /// The category of the rule that decided it; `local` or `unexplained` when none did.
    pub category: String,
    /// The id of the rule that decided it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
    /// Other exceptions the same host serves (a flow to it could be any of them).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub also: Vec<String>,
    /// Why, in words.
    pub reason: String,
}

/// The owner's data-sharing choice, as the verdicts read it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Consent {
    pub opted_out: bool,
}

pub fn judge(flow: &Flow, matcher: &Matcher, consent: Consent) -> Verdict {
    let locality = flow.locality();
    let names = identity_names(&flow.names);
    let name_strs: Vec<&str> = names.iter().map(|n| n.name.as_str()).collect();
    let input = MatchInput {
        tcp: flow.proto == Proto::Tcp,
        udp: flow.proto == Proto::Udp,
        remote: flow.remote().ip(),
        service_port: flow.server.port(),
        direction: if locality == Locality::Inbound {
            Direction::Inbound
        } else {
            Direction::Outbound
        },
        names: &name_strs,
    };
    let matches = matcher.matches(&input);
    let first_of = |kind: RuleKind| matches.iter().find(|(r, _)| r.kind == kind).copied();

    if locality == Locality::Local {
        let category = first_of(RuleKind::LocalOnly)
            .map_or_else(|| "local".to_string(), |(r, _)| r.category.clone());
        return Verdict {
            kind: VerdictKind::Local,
            category,
            rule: first_of(RuleKind::LocalOnly).map(|(r, _)| r.id.clone()),
            also: Vec::new(),
            reason: format!(
                "both ends are on the local network ({} {}, {} {})",
                flow.client.ip(),
                scope_word(flow.client_scope),
                flow.server.ip(),
                scope_word(flow.server_scope)
            ),
        };
    }

    let who = describe(flow, &names);
    let transit = if locality == Locality::Internet {
        " (neither end is on the local network; judged as if the client were the server)"
    } else {
        ""
    };
    let leaves = if consent.opted_out {
        VerdictKind::Flagged
    } else {
        VerdictKind::Allowed
    };
    let consent_words = if consent.opted_out {
        "while the owner has opted out"
    } else {
        "the owner has not opted out, so it is allowed"
    };

    if let Some((r, _)) = first_of(RuleKind::LocalOnly) {
        return Verdict {
            kind: leaves,
            category: r.category.clone(),
            rule: Some(r.id.clone()),
            also: Vec::new(),
            reason: format!(
                "{} {} is a local-only protocol (rule {}{}) but went to the internet: {who}; {consent_words}{transit}",
                flow.proto.name(),
                flow.server.port(),
                r.id,
                note(r)
            ),
        };
    }
    if let Some((r, name)) = first_of(RuleKind::Collection) {
        let matched = name.map_or_else(|| format!("address {}", flow.remote()), |n| n.to_string());
        return Verdict {
            kind: leaves,
            category: r.category.clone(),
            rule: Some(r.id.clone()),
            also: Vec::new(),
            reason: format!(
                "{who}: {matched} is a {} endpoint (rule {}{}); data collection {consent_words}{transit}",
                r.category.replace('_', " "),
                r.id,
                note(r)
            ),
        };
    }
    let exceptions: Vec<&(&Rule, Option<&str>)> = matches
        .iter()
        .filter(|(r, _)| r.kind == RuleKind::Exception)
        .collect();
    if let Some(&&(r, name)) = exceptions.first() {
        let also: Vec<String> = exceptions
            .iter()
            .skip(1)
            .map(|(o, _)| o.id.clone())
            .collect();
        let mut categories: Vec<&str> = Vec::new();
        for (o, _) in &exceptions {
            if !categories.contains(&o.category.as_str()) {
                categories.push(&o.category);
            }
        }
        let by = match name {
            Some(n) => format!("{n} is named by"),
            None => format!("{} {} is covered by", flow.proto.name(), flow.remote()),
        };
        let basis = match r.basis {
            Some(Basis::Vendor) | None => "an exception the vendor declared",
            Some(Basis::Function) => "traffic of a feature the owner uses",
            Some(Basis::Infrastructure) => "infrastructure any networked host uses",
        };
        let mut reason = format!("{who}: {by} rule {} ({basis}){}", r.id, note(r));
        if !also.is_empty() {
            reason.push_str(&format!(
                "; the same host serves {} too, and without decrypting the flow it could be any of them",
                also.join(", ")
            ));
        }
        if !consent.opted_out {
            reason.push_str("; the owner has not opted out");
        }
        reason.push_str(transit);
        return Verdict {
            kind: if consent.opted_out {
                VerdictKind::Declared
            } else {
                VerdictKind::Allowed
            },
            category: categories.join(" | "),
            rule: Some(r.id.clone()),
            also,
            reason,
        };
    }
    let why = if names.is_empty() {
        "no name was seen on the wire for it, and no rule covers its address or port"
    } else {
        "no rule explains it"
    };
    Verdict {
        kind: leaves,
        category: "unexplained".to_string(),
        rule: None,
        also: Vec::new(),
        reason: format!("{who}: {why}; it left {consent_words}{transit}"),
    }
}

/// The names the verdict is judged by: the flow's own (SNI, QUIC, Host) when it has
/// any, since an address's DNS names may belong to anyone sharing it; else the DNS names.
fn identity_names(names: &[FlowName]) -> Vec<&FlowName> {
    let mut in_band: Vec<&FlowName> = names.iter().filter(|n| n.source.in_band()).collect();
    if in_band.is_empty() {
        return names.iter().collect();
    }
    in_band.sort_by_key(|n| (n.source, n.learned_at));
    in_band
}

/// `metrics.plex.tv (tls_sni) at 203.0.113.10:443`, or `unnamed 198.51.100.77:32414`.
fn describe(flow: &Flow, names: &[&FlowName]) -> String {
    match names.first() {
        Some(n) => {
            let ech = if n.ech_outer {
                ", only the outer name of an Encrypted Client Hello"
            } else {
                ""
            };
            format!(
                "{} ({}{ech}) at {}",
                n.name,
                n.source.as_str(),
                flow.remote()
            )
        }
        None => format!("unnamed {}", flow.remote()),
    }
}

fn note(r: &Rule) -> String {
    let j = r.justification.trim();
    if j.is_empty() {
        String::new()
    } else {
        format!(": {j}")
    }
}

fn scope_word(s: super::locality::Scope) -> &'static str {
    use super::locality::Scope::*;
    match s {
        Loopback => "loopback",
        Private => "private",
        Cgnat => "carrier-grade NAT",
        LinkLocal => "link-local",
        UniqueLocal => "unique local",
        Multicast => "multicast",
        Broadcast => "broadcast",
        Unspecified => "unspecified",
        Owner => "owner's network",
        Internet => "internet",
    }
}
