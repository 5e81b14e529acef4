//! Conditions on the server's settings: when an exception holds, when a collection
//! endpoint is the owner's own choice, and how the settings say the owner opted out.
//!
//! A condition is one of: `NAME == VALUE`, `NAME != VALUE`, `signed_in`, `signed_out`.
//! A setting the file does not mention takes the rules file's default for it (`[settings]
//! defaults`); with no default it is "unset", which equals nothing and differs from
//! everything.

use std::collections::BTreeMap;
use std::fmt;

/// What the server's settings say, as the conditions see it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Facts {
    /// Where the settings came from (a path).
    pub source: String,
    pub values: BTreeMap<String, String>,
    pub signed_in: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Condition {
    Equals { name: String, value: String },
    Differs { name: String, value: String },
    SignedIn,
    SignedOut,
}

impl Condition {
    pub fn parse(text: &str) -> Option<Condition> {
        let t = text.trim();
        match t {
            "signed_in" => return Some(Condition::SignedIn),
            "signed_out" => return Some(Condition::SignedOut),
            _ => {}
        }
        let (name, value, equals) = if let Some((n, v)) = t.split_once("!=") {
            (n, v, false)
        } else if let Some((n, v)) = t.split_once("==") {
            (n, v, true)
        } else {
            return None;
        };
        let name = name.trim();
        let value = value.trim().trim_matches('"');
        let ok_name = !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.');
        if !ok_name || value.is_empty() {
            return None;
        }
        let (name, value) = (name.to_string(), value.to_string());
        Some(if equals {
            Condition::Equals { name, value }
        } else {
            Condition::Differs { name, value }
        })
    }

    /// Whether it holds, and the fact that decided it (`RelayEnabled=0`, `PlexOnlineToken absent`).
    pub fn eval(&self, facts: &Facts, defaults: &BTreeMap<String, String>) -> (bool, String) {
        let lookup = |name: &str| -> (Option<String>, String) {
            match facts.values.get(name) {
                Some(v) => (Some(v.clone()), format!("{name}={v}")),
                None => match defaults.get(name) {
                    Some(v) => (
                        Some(v.clone()),
                        format!("{name}={v} (not in the settings file: the server's default)"),
                    ),
                    None => (None, format!("{name} unset")),
                },
            }
        };
        match self {
            Condition::SignedIn => (facts.signed_in, signed(facts)),
            Condition::SignedOut => (!facts.signed_in, signed(facts)),
            Condition::Equals { name, value } => {
                let (v, fact) = lookup(name);
                (v.as_deref() == Some(value.as_str()), fact)
            }
            Condition::Differs { name, value } => {
                let (v, fact) = lookup(name);
                (v.as_deref() != Some(value.as_str()), fact)
            }
        }
    }
}

fn signed(facts: &Facts) -> String {
    if facts.signed_in {
        "the server is signed in (PlexOnlineToken present)".into()
    } else {
        "the server is signed out (no PlexOnlineToken)".into()
    }
}

impl fmt::Display for Condition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Condition::Equals { name, value } => write!(f, "{name} == {value}"),
            Condition::Differs { name, value } => write!(f, "{name} != {value}"),
            Condition::SignedIn => f.write_str("signed_in"),
            Condition::SignedOut => f.write_str("signed_out"),
        }
    }
}

/// A rule's conditions: all of `all`, and at least one of `any` (when there are any).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct When {
    pub all: Vec<Condition>,
    pub any: Vec<Condition>,
}

impl When {
    pub fn is_empty(&self) -> bool {
        self.all.is_empty() && self.any.is_empty()
    }

    /// Whether the rule is in force, with the facts that decided it: on failure the
    /// failing ones, on success the ones that hold.
    pub fn eval(&self, facts: &Facts, defaults: &BTreeMap<String, String>) -> (bool, Vec<String>) {
        let mut failing = Vec::new();
        let mut holding = Vec::new();
        for c in &self.all {
            let (ok, fact) = c.eval(facts, defaults);
            if ok {
                holding.push(fact)
            } else {
                failing.push(fact)
            }
        }
        if !self.any.is_empty() {
            let results: Vec<(bool, String)> =
                self.any.iter().map(|c| c.eval(facts, defaults)).collect();
            match results.iter().find(|(ok, _)| *ok) {
                Some((_, fact)) => holding.push(fact.clone()),
                None => failing.extend(results.into_iter().map(|(_, f)| f)),
            }
        }
        if failing.is_empty() {
            (true, holding)
        } else {
            (false, failing)
        }
    }
}

/// What the settings say of the owner's data-sharing choice: `Some((opted_out, the fact
/// that decided it))`, or `None` when they do not say.
pub fn decide_consent(
    facts: &Facts,
    defaults: &BTreeMap<String, String>,
    opted_out_when: &[Condition],
    opted_in_when: &[Condition],
) -> Option<(bool, String)> {
    for c in opted_out_when {
        let (holds, fact) = c.eval(facts, defaults);
        if holds {
            return Some((true, fact));
        }
    }
    for c in opted_in_when {
        let (holds, fact) = c.eval(facts, defaults);
        if holds {
            return Some((false, fact));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(pairs: &[(&str, &str)], signed_in: bool) -> Facts {
        Facts {
            source: "Preferences.xml".into(),
            values: pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            signed_in,
        }
    }

    #[test]
    fn parses_and_prints() {
        for text in [
            "RelayEnabled != 0",
            "sendCrashReports == 1",
            "signed_in",
            "signed_out",
        ] {
            assert_eq!(Condition::parse(text).unwrap().to_string(), text);
        }
        assert_eq!(
            Condition::parse("  RelayEnabled==\"0\" ")
                .unwrap()
                .to_string(),
            "RelayEnabled == 0"
        );
        for bad in [
            "",
            "RelayEnabled",
            "== 1",
            "Relay Enabled == 1",
            "x ==",
            "signed",
        ] {
            assert!(Condition::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn defaults_fill_what_the_file_leaves_out() {
        let defaults: BTreeMap<String, String> =
            [("RelayEnabled".to_string(), "1".to_string())].into();
        let relay_on = Condition::parse("RelayEnabled != 0").unwrap();
        assert!(relay_on.eval(&facts(&[], true), &defaults).0);
        let (ok, fact) = relay_on.eval(&facts(&[("RelayEnabled", "0")], true), &defaults);
        assert!(!ok);
        assert_eq!(fact, "RelayEnabled=0");
        let (ok, fact) = Condition::parse("Unknown == 1")
            .unwrap()
            .eval(&facts(&[], true), &defaults);
        assert!(!ok);
        assert_eq!(fact, "Unknown unset");
    }

    #[test]
    fn consent_from_the_settings() {
        let out = vec![Condition::parse("collectUsageData == 0").unwrap()];
        let inn = vec![Condition::parse("collectUsageData == 1").unwrap()];
        let none = BTreeMap::new();
        let d = |pairs: &[(&str, &str)]| decide_consent(&facts(pairs, true), &none, &out, &inn);
        assert_eq!(
            d(&[("collectUsageData", "0")]),
            Some((true, "collectUsageData=0".into()))
        );
        assert_eq!(
            d(&[("collectUsageData", "1")]),
            Some((false, "collectUsageData=1".into()))
        );
        assert_eq!(d(&[]), None);
    }

    #[test]
    fn all_and_any() {
        let when = When {
            all: vec![Condition::SignedIn],
            any: vec![
                Condition::parse("A == 1").unwrap(),
                Condition::parse("B == 1").unwrap(),
            ],
        };
        let none = BTreeMap::new();
        assert!(when.eval(&facts(&[("B", "1")], true), &none).0);
        let (ok, why) = when.eval(&facts(&[("A", "0")], true), &none);
        assert!(!ok);
        assert_eq!(why, ["A=0", "B unset"]);
        let (ok, why) = when.eval(&facts(&[("A", "1")], false), &none);
        assert!(!ok);
        assert_eq!(why, ["the server is signed out (no PlexOnlineToken)"]);
    }
}
