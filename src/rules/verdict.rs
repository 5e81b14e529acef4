//! The judgement of one flow, and why. `local`: it never left. `declared`: it left,
//! explained by an exception. `flagged`: it left while the owner opted out and nothing
//! explains it (a collection endpoint, a local-only protocol on the internet, or no
//! rule at all). `allowed`: it left and the owner has not opted out; still categorised.

use super::{Basis, Direction, MatchInput, Matcher, Rule, RuleKind};
use crate::flows::{Flow, Locality, Proto};
use crate::names::FlowName;

pub use crate::flows::verdict::{Verdict, VerdictClass, VerdictKind};

/// The owner's data-sharing choice, and the server's settings when they were read.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Consent {
    pub opted_out: bool,
    pub facts: Option<std::sync::Arc<super::conditions::Facts>>,
}

impl Consent {
    pub fn new(opted_out: bool) -> Consent {
        Consent {
            opted_out,
            facts: None,
        }
    }
}

fn conditions_text(r: &Rule) -> String {
    let all: Vec<String> = r.when.all.iter().map(ToString::to_string).collect();
    let any: Vec<String> = r.when.any.iter().map(ToString::to_string).collect();
    match (all.is_empty(), any.is_empty()) {
        (false, true) => all.join(" and "),
        (true, false) => format!("one of {}", any.join(", ")),
        _ => format!("{} and one of {}", all.join(" and "), any.join(", ")),
    }
}

pub fn judge(flow: &Flow, matcher: &Matcher, consent: &Consent) -> Verdict {
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
    let defaults = &matcher.rules.setting_defaults;
    // rules that a setting switches off do not apply (with the settings unknown, they do)
    let matches: Vec<_> = matcher
        .matches(&input)
        .into_iter()
        .filter(|(r, _)| {
            r.only_when.is_empty()
                || consent
                    .facts
                    .as_deref()
                    .is_none_or(|facts| r.only_when.iter().all(|c| c.eval(facts, defaults).0))
        })
        .collect();
    let first_of = |kind: RuleKind| matches.iter().find(|(r, _)| r.kind == kind).copied();

    if locality == Locality::Local {
        let category = first_of(RuleKind::LocalOnly)
            .map_or_else(|| "local".to_string(), |(r, _)| r.category.clone());
        return Verdict {
            class: None,
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
            class: Some(VerdictClass::LocalOnly),
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
    // With the server's settings known, a rule's conditions can be checked.
    let in_force = |r: &Rule| -> Option<(bool, String)> {
        let facts = consent.facts.as_deref()?;
        if r.when.is_empty() {
            return None;
        }
        let (ok, why) = r.when.eval(facts, defaults);
        Some((ok, why.join(", ")))
    };
    if let Some((r, name)) = first_of(RuleKind::Collection) {
        let matched = name.map_or_else(|| format!("address {}", flow.remote()), |n| n.to_string());
        // a host that also serves declared exceptions: the flow is one of them or the collection
        let shared: Vec<String> = matches
            .iter()
            .filter(|(o, _)| o.kind == RuleKind::Exception)
            .map(|(o, _)| o.id.clone())
            .collect();
        let one_of = if shared.is_empty() {
            String::new()
        } else {
            format!(
                "; the same host serves {} too, and without decrypting the flow it is one of them or the collection",
                shared.join(", ")
            )
        };
        let what = format!(
            "{who}: {matched} is a {} endpoint (rule {}{}){one_of}",
            r.category.replace('_', " "),
            r.id,
            note(r)
        );
        if let Some((allowed, why)) = in_force(r) {
            return Verdict {
                class: (!allowed).then_some(VerdictClass::Collection),
                kind: if allowed {
                    VerdictKind::Declared
                } else {
                    VerdictKind::Flagged
                },
                category: r.category.clone(),
                rule: Some(r.id.clone()),
                also: shared,
                reason: if allowed {
                    format!("{what}; the owner's settings allow it: {why}{transit}")
                } else {
                    format!("{what}; the owner's settings turn it off: {why}{transit}")
                },
            };
        }
        return Verdict {
            class: Some(VerdictClass::Collection),
            kind: leaves,
            category: r.category.clone(),
            rule: Some(r.id.clone()),
            also: shared,
            reason: format!("{what}; data collection {consent_words}{transit}"),
        };
    }
    let matched: Vec<&(&Rule, Option<&str>)> = matches
        .iter()
        .filter(|(r, _)| r.kind == RuleKind::Exception)
        .collect();
    // the exceptions whose settings conditions hold (all of them, when the settings are unknown)
    let exceptions: Vec<&(&Rule, Option<&str>)> = matched
        .iter()
        .copied()
        .filter(|(r, _)| in_force(r).is_none_or(|(ok, _)| ok))
        .collect();
    if exceptions.is_empty()
        && let Some(&&(r, name)) = matched.first()
    {
        let why: Vec<String> = matched
            .iter()
            .filter_map(|(o, _)| {
                in_force(o).map(|(_, w)| format!("{} needs {} ({w})", o.id, conditions_text(o)))
            })
            .collect();
        let by = name.map_or_else(
            || format!("{} {}", flow.proto.name(), flow.remote()),
            str::to_string,
        );
        return Verdict {
            class: Some(VerdictClass::TurnedOff),
            kind: VerdictKind::Flagged,
            category: r.category.clone(),
            rule: Some(r.id.clone()),
            also: matched.iter().skip(1).map(|(o, _)| o.id.clone()).collect(),
            reason: format!(
                "{who}: {by} matches rule {}, but the owner's settings turn it off: {}{transit}",
                r.id,
                why.join("; ")
            ),
        };
    }
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
        let mut reason = format!(
            "{who}: {by} rule {} ({basis}{}){}",
            r.id,
            declared_in(r, matcher),
            note(r)
        );
        if !also.is_empty() {
            reason.push_str(&format!(
                "; the same host serves {} too, and without decrypting the flow it could be any of them",
                also.join(", ")
            ));
        }
        if let Some((_, why)) = in_force(r) {
            reason.push_str(&format!("; in force: {why}"));
        }
        if !consent.opted_out {
            reason.push_str("; the owner has not opted out");
        }
        reason.push_str(transit);
        return Verdict {
            class: None,
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
    let (class, why) = unexplained(flow, &names, matcher);
    Verdict {
        class: Some(class),
        kind: leaves,
        category: "unexplained".to_string(),
        rule: None,
        also: Vec::new(),
        reason: format!("{who}: {why}; it left {consent_words}{transit}"),
    }
}

/// Whether `name` is `domain` or one of its sub-domains.
pub fn in_domain(name: &str, domain: &str) -> bool {
    name == domain
        || name
            .strip_suffix(domain)
            .is_some_and(|head| head.ends_with('.'))
}

/// Why no rule explains a flow that left: it cannot be judged (no name, only an Encrypted Client
/// Hello's outer name, an unread QUIC Initial and no other name), it is the vendor's own host with no
/// declared purpose, or it is a third party. With the reason, in words.
fn unexplained(flow: &Flow, names: &[&FlowName], matcher: &Matcher) -> (VerdictClass, String) {
    let Some(first) = names.first() else {
        let quic = if flow.seen.quic_undecryptable > 0 {
            format!(
                "its QUIC Initial could not be read{}, ",
                flow.seen
                    .quic_version
                    .as_deref()
                    .map_or(String::new(), |v| format!(" (version {v})"))
            )
        } else {
            String::new()
        };
        return (
            VerdictClass::CannotJudge,
            format!(
                "it cannot be judged: {quic}no name was seen on the wire for it, and no rule covers its address or port"
            ),
        );
    };
    if first.ech_outer {
        return (
            VerdictClass::CannotJudge,
            format!(
                "it cannot be judged: {} is only the public outer name of an Encrypted Client Hello, and the real destination is encrypted",
                first.name
            ),
        );
    }
    let vendor = names.iter().find_map(|n| {
        matcher
            .rules
            .vendor_domains
            .iter()
            .find(|d| in_domain(&n.name, d))
            .map(|d| (n, d))
    });
    if let Some((n, domain)) = vendor {
        return (
            VerdictClass::VendorUndeclared,
            format!(
                "{} is {}'s own domain ({}), but no rule states what this host is for",
                n.name, matcher.rules.server, domain
            ),
        );
    }
    (VerdictClass::ThirdParty, "no rule explains it".to_string())
}

/// The names the verdict is judged by: the flow's own (SNI, QUIC, Host, a session's host) when
/// it has any, since an address's DNS names may belong to anyone sharing it; else the DNS names.
/// A host an HTTP request only mentions (`http_other`) never judges a flow.
fn identity_names(names: &[FlowName]) -> Vec<&FlowName> {
    let mut in_band: Vec<&FlowName> = names
        .iter()
        .filter(|n| n.source.in_band() && n.source.identifies())
        .collect();
    if in_band.is_empty() {
        return names.iter().filter(|n| n.source.identifies()).collect();
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

/// `, declared in ./mine.toml` for a rule of the owner's own layer; nothing for the vendor's.
fn declared_in(r: &Rule, matcher: &Matcher) -> String {
    match matcher.rules.layers.first() {
        Some((base, _)) if *base != r.layer && !r.layer.is_empty() => {
            format!(", declared in {}", r.layer)
        }
        _ => String::new(),
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

fn scope_word(s: crate::flows::locality::Scope) -> &'static str {
    use crate::flows::locality::Scope::*;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flows::table::{FlowTable, Limits, PacketMeta};
    use crate::names::NameSource;
    use crate::rules::load::parse;
    use crate::time::Timestamp;

    const RULES: &str = r#"
schema = 1
server = { name = "Test" }
[networks]
local = ["203.0.113.128/25"]
[[collection]]
id = "metrics"
category = "telemetry"
hosts = ["metrics.example.tv"]
[[local_only]]
id = "gdm"
category = "discovery"
protocol = "udp"
ports = [32414]
[[exception]]
id = "updates"
category = "updates"
hosts = ["example.tv"]
ports = [443]
[[exception]]
id = "account"
category = "account"
hosts = ["example.tv", "*.cdn.example.tv"]
[[exception]]
id = "remote"
category = "remote"
basis = "function"
protocol = "tcp"
ports = [32400]
direction = "inbound"
[[exception]]
id = "by_address"
category = "pinned"
addresses = ["198.51.100.0/24"]
"#;

    fn matcher() -> Matcher {
        Matcher::new(parse("test.toml", RULES).unwrap())
    }

    fn flow(proto: Proto, src: &str, dst: &str, names: &[(&str, NameSource)]) -> Flow {
        let rules = parse("test.toml", RULES).unwrap();
        let mut t: FlowTable<()> = FlowTable::new(Limits::default(), rules.local_networks.clone());
        let flags = if proto == Proto::Tcp {
            crate::decode::tcp_flags::SYN
        } else {
            0
        };
        let meta = PacketMeta {
            ts: Timestamp(0),
            proto,
            src: src.parse().unwrap(),
            dst: dst.parse().unwrap(),
            tcp_flags: flags,
            tcp_seq: 0,
            ip_len: 60,
            payload_len: 0,
        };
        let (f, _, _, _) = t.track(&meta);
        let mut f = f.clone();
        for (n, s) in names {
            f.add_name(FlowName {
                name: n.to_string(),
                source: *s,
                learned_at: Timestamp(0),
                ttl: None,
                ech_outer: false,
            });
        }
        f
    }

    const OUT: &Consent = &Consent {
        opted_out: true,
        facts: None,
    };
    const IN: &Consent = &Consent {
        opted_out: false,
        facts: None,
    };

    #[test]
    fn local_flows_never_left() {
        let f = flow(Proto::Tcp, "192.168.1.20:50000", "192.168.1.10:32400", &[]);
        let v = judge(&f, &matcher(), OUT);
        assert_eq!(v.kind, VerdictKind::Local);
        assert!(v.reason.contains("192.168.1.20 private"), "{}", v.reason);
        // an owner's network is local too
        let f = flow(Proto::Tcp, "192.168.1.10:50000", "203.0.113.200:443", &[]);
        assert_eq!(judge(&f, &matcher(), OUT).kind, VerdictKind::Local);
    }

    #[test]
    fn collection_endpoints_are_flagged_while_opted_out_and_allowed_otherwise() {
        let f = flow(
            Proto::Tcp,
            "192.168.1.10:50000",
            "192.0.2.9:443",
            &[("metrics.example.tv", NameSource::TlsSni)],
        );
        let v = judge(&f, &matcher(), OUT);
        assert_eq!(
            (v.kind, v.category.as_str(), v.rule.as_deref()),
            (VerdictKind::Flagged, "telemetry", Some("metrics"))
        );
        assert!(
            v.reason.contains("metrics.example.tv (tls_sni)"),
            "{}",
            v.reason
        );
        let v = judge(&f, &matcher(), IN);
        assert_eq!(
            (v.kind, v.category.as_str()),
            (VerdictKind::Allowed, "telemetry")
        );
    }

    #[test]
    fn a_host_serving_several_exceptions_says_so() {
        let f = flow(
            Proto::Tcp,
            "192.168.1.10:50000",
            "192.0.2.9:443",
            &[("example.tv", NameSource::TlsSni)],
        );
        let v = judge(&f, &matcher(), OUT);
        assert_eq!(v.kind, VerdictKind::Declared);
        assert_eq!(v.rule.as_deref(), Some("updates"));
        assert_eq!(v.also, ["account"]);
        assert_eq!(v.category, "updates | account");
        assert!(v.reason.contains("could be any of them"), "{}", v.reason);
        // the port narrows it: on port 80 only the rule without ports matches
        let f = flow(
            Proto::Tcp,
            "192.168.1.10:50000",
            "192.0.2.9:80",
            &[("example.tv", NameSource::HttpHost)],
        );
        let v = judge(&f, &matcher(), OUT);
        assert_eq!((v.rule.as_deref(), v.also.len()), (Some("account"), 0));
    }

    #[test]
    fn wildcards_match_sub_domains_only() {
        let f = flow(
            Proto::Tcp,
            "192.168.1.10:50000",
            "192.0.2.9:443",
            &[("a.cdn.example.tv", NameSource::DnsAnswer)],
        );
        assert_eq!(judge(&f, &matcher(), OUT).rule.as_deref(), Some("account"));
        let f = flow(
            Proto::Tcp,
            "192.168.1.10:50000",
            "192.0.2.9:443",
            &[("cdn.example.tv", NameSource::DnsAnswer)],
        );
        assert_eq!(judge(&f, &matcher(), OUT).kind, VerdictKind::Flagged);
    }

    #[test]
    fn in_band_names_outrank_dns_answers() {
        // the address also answered for example.tv, but the ClientHello says metrics
        let f = flow(
            Proto::Tcp,
            "192.168.1.10:50000",
            "192.0.2.9:443",
            &[
                ("example.tv", NameSource::DnsAnswer),
                ("metrics.example.tv", NameSource::TlsSni),
            ],
        );
        assert_eq!(judge(&f, &matcher(), OUT).rule.as_deref(), Some("metrics"));
    }

    #[test]
    fn local_only_protocols_on_the_internet_are_flagged() {
        let f = flow(Proto::Udp, "192.168.1.10:32414", "198.51.100.77:32414", &[]);
        let v = judge(&f, &matcher(), OUT);
        assert_eq!(
            (v.kind, v.rule.as_deref()),
            (VerdictKind::Flagged, Some("gdm"))
        );
        assert!(v.reason.contains("local-only"), "{}", v.reason);
        assert!(
            v.reason.contains("unnamed 198.51.100.77:32414"),
            "{}",
            v.reason
        );
    }

    #[test]
    fn direction_and_address_rules() {
        // a remote client reaching the server's port: inbound, declared by the function rule
        let f = flow(Proto::Tcp, "192.0.2.50:40000", "192.168.1.10:32400", &[]);
        let v = judge(&f, &matcher(), OUT);
        assert_eq!(
            (v.kind, v.rule.as_deref()),
            (VerdictKind::Declared, Some("remote"))
        );
        assert!(
            v.reason.contains("a feature the owner uses"),
            "{}",
            v.reason
        );
        // the same port, opened by the server towards the internet: nothing explains it
        let f = flow(Proto::Tcp, "192.168.1.10:40000", "192.0.2.50:32400", &[]);
        assert_eq!(judge(&f, &matcher(), OUT).kind, VerdictKind::Flagged);
        // an unnamed flow to a listed address is declared by address
        let f = flow(Proto::Tcp, "192.168.1.10:40000", "198.51.100.5:8443", &[]);
        let v = judge(&f, &matcher(), OUT);
        assert_eq!(
            (v.kind, v.rule.as_deref()),
            (VerdictKind::Declared, Some("by_address"))
        );
        assert!(
            v.reason.contains("tcp 198.51.100.5:8443 is covered by"),
            "{}",
            v.reason
        );
    }

    #[test]
    fn unexplained_flows_say_whether_they_were_named() {
        let f = flow(Proto::Tcp, "192.168.1.10:40000", "192.0.2.77:443", &[]);
        let v = judge(&f, &matcher(), OUT);
        assert_eq!(
            (v.kind, v.category.as_str()),
            (VerdictKind::Flagged, "unexplained")
        );
        assert!(
            v.reason.contains("no name was seen on the wire"),
            "{}",
            v.reason
        );
        let f = flow(
            Proto::Tcp,
            "192.168.1.10:40000",
            "192.0.2.77:443",
            &[("tracker.example", NameSource::TlsSni)],
        );
        let v = judge(&f, &matcher(), OUT);
        assert!(
            v.reason
                .contains("tracker.example (tls_sni) at 192.0.2.77:443: no rule explains it"),
            "{}",
            v.reason
        );
        assert_eq!(v.class, Some(VerdictClass::ThirdParty));
        let allowed = judge(&f, &matcher(), IN);
        assert_eq!(allowed.kind, VerdictKind::Allowed);
        // allowed, since the owner shares, and still said to be a third party
        assert_eq!(allowed.class, Some(VerdictClass::ThirdParty));
    }

    /// Hostnames from third-party lists of each vendor's hosts (v2fly's data/plex, AdGuard's
    /// Plex service, Pi-hole Plex allowlists, pms-docker's SNI allowlist; Jellyfin's and Emby's
    /// own code), each with the verdict it must get from the built-in rules while the owner has
    /// opted out and the settings are unknown: the category of a declared flow, or the class of
    /// a flagged one.
    #[test]
    fn third_party_host_lists_land_in_the_right_category() {
        use VerdictClass::*;
        enum Want {
            Declared(&'static str),
            Flagged(VerdictClass),
        }
        use Want::{Declared as D, Flagged as F};
        let cases: &[(&str, &[(&str, Want)])] = &[
            (
                "plex",
                &[
                    ("plex.tv", D("updates")),
                    ("clients.plex.tv", D("remote_discovery")),
                    ("v4.plex.tv", D("remote_discovery")),
                    ("v6.plex.tv", D("remote_discovery")),
                    ("pubsub.plex.tv", D("cloud_sync")),
                    ("pubsub.plex.bz", D("cloud_sync")),
                    ("pubsub12.pop.fra1.plex.bz", D("cloud_sync")),
                    ("proxy3.pop.ams1.plex.bz", D("relay")),
                    ("meta2.plex.bz", D("metadata")),
                    ("servers.plex.tv", D("components")),
                    ("metadata.prod.hosting.plex.tv", D("metadata")),
                    ("metadata.provider.plex.tv", D("metadata")),
                    ("status.plex.tv", D("web_app")),
                    ("resources-cdn.plexapp.com", D("web_app")),
                    ("node.plexapp.com", D("web_app")),
                    ("sonos.plex.tv", D("integrations")),
                    ("1-2-3-4.abc123.plex.direct", D("remote_discovery")),
                    ("metrics.plex.tv", F(Collection)),
                    ("analytics.plex.tv", F(Collection)),
                    // no public source says what these are for
                    ("plex.services", F(VendorUndeclared)),
                    ("edge.plex.services", F(VendorUndeclared)),
                    ("unknown9.plex.bz", F(VendorUndeclared)),
                    ("plex.com", F(VendorUndeclared)),
                    ("tracker.example.net", F(ThirdParty)),
                ],
            ),
            (
                "jellyfin",
                &[
                    ("repo.jellyfin.org", D("plugins")),
                    ("api.themoviedb.org", D("metadata")),
                    ("raw.githubusercontent.com", D("metadata")),
                    ("json.schedulesdirect.org", D("live_tv")),
                    ("m.media-amazon.com", D("metadata")),
                    ("labs.api.listenbrainz.org", D("metadata")),
                    ("coverartarchive.org", D("plugins")),
                    ("updates.jellyfin.org", F(VendorUndeclared)),
                    ("tracker.example.net", F(ThirdParty)),
                ],
            ),
            (
                "emby",
                &[
                    ("connect.emby.media", D("connect")),
                    ("api.github.com", D("updates")),
                    ("emby.media", D("news")),
                    ("fcm.googleapis.com", D("push")),
                    ("api4.thetvdb.com", D("metadata")),
                    // the usage reports' host: with the settings unknown, the reports may run
                    ("mb3admin.com", F(Collection)),
                    ("downloads.emby.tv", F(VendorUndeclared)),
                ],
            ),
        ];
        for (rules, hosts) in cases {
            let m = Matcher::new(crate::rules::load::load(rules).unwrap());
            for (host, want) in *hosts {
                let f = flow(
                    Proto::Tcp,
                    "192.168.1.10:40000",
                    "192.0.2.77:443",
                    &[(host, NameSource::TlsSni)],
                );
                let v = judge(&f, &m, OUT);
                match want {
                    D(category) => assert!(
                        v.kind == VerdictKind::Declared
                            && v.category.split(" | ").any(|c| c == *category),
                        "{rules}: {host}: wanted declared as {category}, got {:?} {} ({})",
                        v.kind,
                        v.category,
                        v.reason
                    ),
                    F(class) => assert!(
                        v.kind == VerdictKind::Flagged && v.class == Some(*class),
                        "{rules}: {host}: wanted flagged as {class:?}, got {:?} {:?} ({})",
                        v.kind,
                        v.class,
                        v.reason
                    ),
                }
            }
        }
    }

    /// Emby's usage reports: a collection endpoint while EnableAnonymousUsageReporting is on (one
    /// of it and licensing, on the shared host), and plain licensing once the owner turns it off.
    #[test]
    fn emby_usage_reports_follow_their_setting() {
        let m = Matcher::new(crate::rules::load::load("emby").unwrap());
        let f = flow(
            Proto::Tcp,
            "192.168.1.10:40000",
            "192.0.2.77:443",
            &[("mb3admin.com", NameSource::TlsSni)],
        );
        let consent = |on: &str, opted_out: bool| Consent {
            opted_out,
            facts: Some(std::sync::Arc::new(crate::rules::conditions::Facts {
                source: "system.xml".into(),
                values: [("EnableAnonymousUsageReporting".to_string(), on.to_string())]
                    .into_iter()
                    .collect(),
                signed_in: false,
            })),
        };
        // on: the reports go out; the flow is the collection endpoint or licensing
        let v = judge(&f, &m, &consent("true", true));
        assert_eq!(v.rule.as_deref(), Some("emby_usage_ping"), "{}", v.reason);
        assert_eq!(
            (v.kind, v.class),
            (VerdictKind::Flagged, Some(VerdictClass::Collection))
        );
        assert_eq!(v.also, ["licensing"]);
        assert!(
            v.reason.contains("one of them or the collection"),
            "{}",
            v.reason
        );
        // off: mb3admin.com is licensing alone, not a flag
        let v = judge(&f, &m, &consent("false", true));
        assert_eq!(v.rule.as_deref(), Some("licensing"), "{}", v.reason);
        assert_eq!((v.kind, v.class), (VerdictKind::Declared, None));
    }

    #[test]
    fn flagged_flows_are_told_apart_by_class() {
        let m = Matcher::new(crate::rules::load::load("plex").unwrap());
        let class = |name: &str, source: NameSource, ech: bool| {
            let mut f = flow(
                Proto::Tcp,
                "192.168.1.10:40000",
                "192.0.2.77:443",
                &[(name, source)],
            );
            f.names[0].ech_outer = ech;
            let v = judge(&f, &m, OUT);
            (v.kind, v.class, v.reason)
        };
        let (kind, c, _) = class("metrics.plex.tv", NameSource::TlsSni, false);
        assert_eq!(
            (kind, c),
            (VerdictKind::Flagged, Some(VerdictClass::Collection))
        );
        // the vendor's own zone, a host no rule names
        let (kind, c, why) = class("edge7.plex.bz", NameSource::TlsSni, false);
        assert_eq!(
            (kind, c),
            (VerdictKind::Flagged, Some(VerdictClass::VendorUndeclared))
        );
        assert!(
            why.contains("Plex Media Server's own domain (plex.bz)"),
            "{why}"
        );
        // a name that only ends like the vendor's is not the vendor's
        let (_, c, _) = class("notplex.tv", NameSource::TlsSni, false);
        assert_eq!(c, Some(VerdictClass::ThirdParty));
        // an Encrypted Client Hello's outer name says nothing of the destination
        let (_, c, why) = class("cloudflare-ech.com", NameSource::TlsSni, true);
        assert_eq!(c, Some(VerdictClass::CannotJudge));
        assert!(why.contains("outer name"), "{why}");
        // declared flows carry no class
        let (kind, c, _) = class("plex.tv", NameSource::TlsSni, false);
        assert_eq!((kind, c), (VerdictKind::Declared, None));
        // GDM on the internet
        let gdm = flow(Proto::Udp, "192.168.1.10:40000", "198.51.100.77:32414", &[]);
        assert_eq!(judge(&gdm, &m, OUT).class, Some(VerdictClass::LocalOnly));
        // a QUIC flow whose Initial could not be read, and nothing else named it
        let mut quic = flow(Proto::Udp, "192.168.1.10:40000", "192.0.2.77:443", &[]);
        quic.seen.quic_undecryptable = 2;
        quic.seen.quic_version = Some("0x1a2a3a4a".into());
        let v = judge(&quic, &m, OUT);
        assert_eq!(v.class, Some(VerdictClass::CannotJudge));
        assert!(
            v.reason
                .contains("QUIC Initial could not be read (version 0x1a2a3a4a)"),
            "{}",
            v.reason
        );
        for c in VerdictClass::ALL {
            assert_eq!(VerdictClass::parse(c.as_str()), Some(c));
        }
    }
}
