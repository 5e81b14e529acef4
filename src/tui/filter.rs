//! The filter's small query language. Words are AND-ed; each is `key:value` or a bare
//! word:
//!
//! | term | a flow matches when |
//! |---|---|
//! | `host:plex.tv` | any of its names contains the text (case-insensitive) |
//! | `verdict:flagged` | its verdict is that one (`flagged`, `declared`, `allowed`, `local`; `a\|b` for either) |
//! | `class:vendor_undeclared` | its verdict's class is that one (`collection`, `vendor_undeclared`, `third_party`, `cannot_judge`, `local_only`, `turned_off`, `over_budget`, or any prefix that names only one; `a\|b` for either) |
//! | `port:443` | either end uses that port |
//! | `proto:udp` | its transport (`tcp`, `udp`, `icmp`, ...) or application (`quic`, `tls`, `dns`, ...) is that one |
//! | `cat:relay` | its category contains the text |
//! | `rule:metrics` | the rule that decided it, or one of the other exceptions its host serves, contains the text |
//! | `ip:192.0.2` | either address contains the text (so a prefix matches) |
//! | `word` | its name contains the word, or, when it has no name, its remote address does |
//!
//! A term that cannot be understood is an error that names it; the caller keeps its old filter.

use crate::flows::AppProto;
use crate::report::model::FlowReport;
use crate::rules::verdict::{VerdictClass, VerdictKind};

/// A parsed filter; the empty filter matches every flow.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Filter {
    text: String,
    terms: Vec<Term>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Term {
    Host(String),
    Verdict(Vec<VerdictKind>),
    Class(Vec<VerdictClass>),
    Port(u16),
    Proto(String),
    Category(String),
    Rule(String),
    Ip(String),
    Word(String),
}

const VERDICTS: [VerdictKind; 4] = [
    VerdictKind::Flagged,
    VerdictKind::Declared,
    VerdictKind::Allowed,
    VerdictKind::Local,
];

const TRANSPORTS: [&str; 4] = ["tcp", "udp", "icmp", "icmpv6"];
const APPS: [&str; 8] = ["dns", "mdns", "tls", "http", "quic", "gquic", "gdm", "ssdp"];

impl Filter {
    /// Parses the text typed after `/`. Blank text gives the empty filter.
    pub fn parse(text: &str) -> Result<Filter, String> {
        let mut terms = Vec::new();
        for word in text.split_whitespace() {
            terms.push(parse_term(word)?);
        }
        let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
        Ok(Filter { text, terms })
    }

    pub fn is_empty(&self) -> bool {
        self.terms.is_empty()
    }

    /// The filter as typed (spaces normalised).
    pub fn text(&self) -> &str {
        &self.text
    }

    pub fn matches(&self, f: &FlowReport) -> bool {
        self.terms.iter().all(|t| term_matches(t, f))
    }
}

fn parse_term(word: &str) -> Result<Term, String> {
    let Some((key, value)) = word.split_once(':') else {
        return Ok(Term::Word(word.to_ascii_lowercase()));
    };
    let key = key.to_ascii_lowercase();
    let value = value.to_ascii_lowercase();
    if value.is_empty() {
        return Err(format!("`{key}:` needs a value, e.g. {}", example(&key)));
    }
    match key.as_str() {
        "host" => Ok(Term::Host(value)),
        "verdict" => {
            let mut kinds = Vec::new();
            for v in value.split('|') {
                match VERDICTS.iter().find(|k| k.as_str() == v) {
                    Some(k) => kinds.push(*k),
                    None => {
                        return Err(format!(
                            "unknown verdict `{v}`: use flagged, declared, allowed or local"
                        ));
                    }
                }
            }
            Ok(Term::Verdict(kinds))
        }
        "class" => value
            .split('|')
            .map(parse_class)
            .collect::<Result<Vec<_>, _>>()
            .map(Term::Class),
        "port" => value
            .parse::<u16>()
            .map(Term::Port)
            .map_err(|_| format!("`port:{value}` is not a port: use a number from 0 to 65535")),
        "proto" => {
            if TRANSPORTS.contains(&value.as_str()) || APPS.contains(&value.as_str()) {
                Ok(Term::Proto(value))
            } else {
                Err(format!(
                    "unknown protocol `{value}`: use tcp, udp, icmp or an application ({})",
                    APPS.join(", ")
                ))
            }
        }
        "cat" | "category" => Ok(Term::Category(value)),
        "rule" => Ok(Term::Rule(value)),
        "ip" => Ok(Term::Ip(value)),
        _ => Err(format!(
            "unknown filter key `{key}:`: use host:, verdict:, class:, port:, proto:, cat:, rule:, ip: or a bare word"
        )),
    }
}

/// A class by its name, or by a prefix that only it has (`vendor` for `vendor_undeclared`): the
/// names are long to type in a one-line filter bar, and a prefix that fits two is refused rather
/// than guessed.
fn parse_class(v: &str) -> Result<VerdictClass, String> {
    if let Some(c) = VerdictClass::parse(v) {
        return Ok(c);
    }
    let fits: Vec<VerdictClass> = VerdictClass::ALL
        .into_iter()
        .filter(|c| !v.is_empty() && c.as_str().starts_with(v))
        .collect();
    let names = |cs: &[VerdictClass]| cs.iter().map(|c| c.as_str()).collect::<Vec<_>>().join(", ");
    match fits.as_slice() {
        [one] => Ok(*one),
        [] => Err(format!(
            "unknown class `{v}`: use {}",
            names(&VerdictClass::ALL)
        )),
        many => Err(format!(
            "class `{v}` could be {}: type more of it",
            names(many)
        )),
    }
}

fn example(key: &str) -> &'static str {
    match key {
        "host" => "host:plex.tv",
        "verdict" => "verdict:flagged",
        "class" => "class:vendor_undeclared",
        "port" => "port:443",
        "proto" => "proto:udp",
        "cat" | "category" => "cat:relay",
        "rule" => "rule:metrics",
        "ip" => "ip:192.0.2",
        _ => "host:plex.tv",
    }
}

fn term_matches(t: &Term, f: &FlowReport) -> bool {
    match t {
        Term::Host(h) => f.names.iter().any(|n| contains_ci(&n.name, h)),
        Term::Verdict(kinds) => kinds.contains(&f.verdict.kind),
        Term::Class(classes) => f.verdict.class.is_some_and(|c| classes.contains(&c)),
        Term::Port(p) => f.client.port == *p || f.server.port == *p,
        Term::Proto(p) => f.protocol == *p || app_name(f.app) == p,
        Term::Category(c) => contains_ci(&f.verdict.category, c),
        Term::Rule(r) => {
            f.verdict
                .rule
                .as_deref()
                .is_some_and(|id| contains_ci(id, r))
                || f.verdict.also.iter().any(|id| contains_ci(id, r))
        }
        Term::Ip(a) => {
            contains_ci(&f.client.address.to_string(), a)
                || contains_ci(&f.server.address.to_string(), a)
        }
        Term::Word(w) => {
            if f.names.is_empty() {
                contains_ci(&f.remote().address.to_string(), w)
            } else {
                f.names.iter().any(|n| contains_ci(&n.name, w))
            }
        }
    }
}

/// The application protocol's short name, as the table and the filter spell it.
pub fn app_name(a: AppProto) -> &'static str {
    match a {
        AppProto::Unknown => "",
        AppProto::Dns => "dns",
        AppProto::Mdns => "mdns",
        AppProto::Tls => "tls",
        AppProto::Http => "http",
        AppProto::Quic => "quic",
        AppProto::Gquic => "gquic",
        AppProto::Gdm => "gdm",
        AppProto::Ssdp => "ssdp",
        AppProto::Smtp => "smtp",
        AppProto::Pop3 => "pop3",
        AppProto::Imap => "imap",
        AppProto::Ftp => "ftp",
        AppProto::Xmpp => "xmpp",
        AppProto::SmtpStarttls => "smtp+tls",
        AppProto::Pop3Starttls => "pop3+tls",
        AppProto::ImapStarttls => "imap+tls",
        AppProto::FtpStarttls => "ftp+tls",
        AppProto::XmppStarttls => "xmpp+tls",
    }
}

/// Whether `hay` contains `needle_lower` (already lower case), ignoring ASCII case,
/// without allocating.
fn contains_ci(hay: &str, needle_lower: &str) -> bool {
    let n = needle_lower.as_bytes();
    if n.is_empty() {
        return true;
    }
    hay.as_bytes()
        .windows(n.len())
        .any(|w| w.iter().zip(n).all(|(a, b)| a.to_ascii_lowercase() == *b))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tui::testing::{demo_snapshot, flow_named};

    /// The ids of the demo's flows the filter keeps.
    fn ids(filter: &str) -> Vec<u64> {
        let f = Filter::parse(filter).unwrap();
        demo_snapshot()
            .flows
            .iter()
            .filter(|x| f.matches(x))
            .map(|x| x.id)
            .collect()
    }

    #[test]
    fn host_matches_any_name_case_insensitively() {
        // plex.tv over IPv4 and IPv6, and every *.plex.tv name.
        let got = ids("host:PLEX.TV");
        for id in [3, 9, 11, 13, 15, 18, 20] {
            assert!(got.contains(&id), "flow {id} missing from {got:?}");
        }
        assert!(!got.contains(&41), "the unnamed flow has no name to match");
        assert!(!got.contains(&22), "api.themoviedb.org is not plex.tv");
    }

    #[test]
    fn verdict_terms_and_alternatives() {
        assert_eq!(ids("verdict:flagged"), vec![13, 15, 38, 40, 41]);
        assert_eq!(ids("verdict:allowed"), Vec::<u64>::new());
        assert_eq!(ids("verdict:declared").len(), 13);
        assert_eq!(ids("verdict:local").len(), 23);
        assert_eq!(ids("verdict:flagged|declared").len(), 18);
    }

    #[test]
    fn class_terms_names_prefixes_and_alternatives() {
        // the demo's flagged flows: three to collection endpoints and one to a third party (its
        // GDM flow to the internet, a local-only protocol, is neither)
        assert_eq!(ids("class:collection"), vec![13, 15, 38]);
        assert_eq!(ids("class:third_party"), vec![40]);
        assert_eq!(ids("class:cannot_judge"), Vec::<u64>::new());
        assert_eq!(ids("CLASS:Third"), vec![40], "a unique prefix, any case");
        assert_eq!(ids("class:coll|third"), vec![13, 15, 38, 40]);
        // declared and local flows have no class: no class term keeps them
        assert!(ids("class:collection verdict:declared").is_empty());
        // each of the four a reader must tell apart, on flows of their own
        let mut vendor = flow_named(1, "edge7.plex.bz");
        vendor.verdict.class = Some(VerdictClass::VendorUndeclared);
        let mut unread = flow_named(2, "cloudflare-ech.com");
        unread.verdict.class = Some(VerdictClass::CannotJudge);
        let collection = flow_named(3, "metrics.plex.tv");
        let mut third = flow_named(4, "beacon.tracksight.example");
        third.verdict.class = Some(VerdictClass::ThirdParty);
        let flows = [vendor, unread, collection, third];
        let kept = |filter: &str| -> Vec<u64> {
            let f = Filter::parse(filter).unwrap();
            flows
                .iter()
                .filter(|x| f.matches(x))
                .map(|x| x.id)
                .collect()
        };
        assert_eq!(kept("class:vendor_undeclared"), vec![1]);
        assert_eq!(kept("class:vendor"), vec![1]);
        assert_eq!(kept("class:cannot_judge"), vec![2]);
        assert_eq!(kept("class:ca"), vec![2]);
        assert_eq!(kept("class:collection"), vec![3]);
        assert_eq!(kept("class:third_party"), vec![4]);
        assert_eq!(kept("class:vendor|cannot"), vec![1, 2]);
    }

    #[test]
    fn port_matches_either_end() {
        // GDM: the two local discovery flows, and the one that went to the internet.
        assert_eq!(ids("port:32414"), vec![4, 5, 41]);
        let https = ids("port:443");
        assert!(https.contains(&13) && https.contains(&26));
        // The remote-access flow: the local server listens on 32400, the remote uses 61544.
        assert!(ids("port:61544").contains(&36));
    }

    #[test]
    fn proto_matches_transport_or_application() {
        let udp = ids("proto:udp");
        assert!(udp.contains(&41) && udp.contains(&26));
        assert!(!udp.contains(&13));
        assert_eq!(ids("proto:quic"), vec![26]);
        let tcp = ids("proto:tcp");
        assert!(tcp.contains(&13) && !tcp.contains(&26));
    }

    #[test]
    fn category_rule_and_ip() {
        assert_eq!(ids("cat:crash"), vec![38]);
        assert_eq!(ids("rule:metrics"), vec![13]);
        // `also` counts: the plex.tv flows serve plex_pass as well as updates (the demo's
        // settings turn relay off, so relay is not among them)
        assert_eq!(ids("rule:plex_pass"), vec![9, 11]);
        assert_eq!(ids("rule:relay"), Vec::<u64>::new());
        assert_eq!(ids("ip:198.51.100.77"), vec![41]);
        assert_eq!(ids("ip:2001:db8:5"), vec![11]);
    }

    #[test]
    fn bare_words_match_names_or_the_address_of_unnamed_flows() {
        assert_eq!(ids("tracksight"), vec![40]);
        assert_eq!(ids("198.51.100.77"), vec![41]);
        // A named flow is not matched by its address as a bare word.
        assert!(!ids("192.0.2.15").contains(&13));
    }

    #[test]
    fn terms_are_anded() {
        assert_eq!(ids("host:plex.tv verdict:flagged"), vec![13, 15]);
        assert_eq!(ids("host:plex.tv verdict:flagged metrics"), vec![13]);
        assert_eq!(ids("host:plex.tv proto:udp"), vec![26]);
        assert_eq!(ids("host:plex.tv port:80"), Vec::<u64>::new());
    }

    #[test]
    fn empty_filter_matches_everything() {
        let f = Filter::parse("   ").unwrap();
        assert!(f.is_empty());
        assert_eq!(ids("").len(), 41);
        assert_eq!(Filter::parse(" host:a   b ").unwrap().text(), "host:a b");
    }

    #[test]
    fn bad_terms_are_errors_that_name_them() {
        let e = Filter::parse("port:abc").unwrap_err();
        assert!(e.contains("port:abc"), "{e}");
        let e = Filter::parse("verdict:maybe").unwrap_err();
        assert!(e.contains("maybe") && e.contains("flagged"), "{e}");
        let e = Filter::parse("proto:carrier-pigeon").unwrap_err();
        assert!(e.contains("carrier-pigeon"), "{e}");
        let e = Filter::parse("colour:red").unwrap_err();
        assert!(e.contains("colour:"), "{e}");
        let e = Filter::parse("class:undeclared").unwrap_err();
        assert!(
            e.contains("unknown class `undeclared`") && e.contains("vendor_undeclared"),
            "{e}"
        );
        // `c` begins both collection and cannot_judge: refused, not guessed
        let e = Filter::parse("class:c").unwrap_err();
        assert!(
            e.contains("collection") && e.contains("cannot_judge") && !e.contains("third_party"),
            "{e}"
        );
        let e = Filter::parse("class:collection|nope").unwrap_err();
        assert!(e.contains("`nope`"), "{e}");
        let e = Filter::parse("class:").unwrap_err();
        assert!(e.contains("class:vendor_undeclared"), "{e}");
        let e = Filter::parse("host:").unwrap_err();
        assert!(e.contains("needs a value"), "{e}");
        assert!(Filter::parse("port:70000").is_err());
    }

    #[test]
    fn case_insensitive_containment() {
        assert!(contains_ci("Metrics.Plex.TV", "plex.tv"));
        assert!(!contains_ci("plex.t", "plex.tv"));
        let f = flow_named(1, "CDN.Example");
        assert!(Filter::parse("cdn.example").unwrap().matches(&f));
        assert!(Filter::parse("HOST:cdn").unwrap().matches(&f));
    }
}
