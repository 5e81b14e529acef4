//! `telltale prefs [PATH]`: the settings' consent, printed. The decision itself is the
//! library's ([`telltale::settings::consent`]).

use super::Failure;
use std::path::Path;
use telltale::rules::Rules;
use telltale::settings::Settings;
use telltale::settings::consent::{
    Consent, consent_of, consent_words, facts_of, server_kind, webhooks_note,
};

/// `telltale prefs [PATH]`: the settings, the consent they give, and which exceptions they
/// put in force.
pub fn run_prefs(path: Option<&Path>, rules_spec: &str) -> Result<i32, Failure> {
    let rules = telltale::rules::load::load(rules_spec)
        .map_err(|e| Failure::usage(format!("invalid rules: {e}")))?;
    let kind = server_kind(&rules);
    let loaded = match path {
        Some(p) => telltale::settings::read_merged(p, kind),
        None => telltale::settings::find_or_error(kind),
    }
    .map_err(|e| Failure::usage(e.to_string()))?;
    let settings = loaded.settings;
    for w in &loaded.warnings {
        eprintln!("warning: {}", telltale::text::neutralise(w));
    }
    print!("{}", describe_consent(&rules, &settings));
    if let Some(note) = webhooks_note(&rules, &settings) {
        println!("\nnote: {}", telltale::text::neutralise(&note));
    }
    Ok(super::EXIT_CLEAN)
}

pub fn describe_consent(rules: &Rules, settings: &Settings) -> String {
    use std::fmt::Write;
    let mut o = telltale::settings::describe(settings);
    let facts = facts_of(settings);
    let _ = writeln!(o);
    let consent = consent_of(rules, &facts);
    let (state, words) = consent_words(rules, &consent);
    let words = telltale::text::neutralise(&words);
    let _ = match (state, &consent) {
        (Some(true), _) => writeln!(
            o,
            "opt-out: on: the owner has opted out of data sharing ({words})"
        ),
        (Some(false), _) => writeln!(
            o,
            "opt-out: off: the owner has not opted out of data sharing ({words})"
        ),
        (None, Consent::NoSetting) => writeln!(o, "opt-out: on: {words}"),
        (None, _) => writeln!(
            o,
            "opt-out: on: the settings do not say ({words}); telltale takes the strictest reading"
        ),
    };
    let _ = writeln!(o, "\nrules with conditions ({}):", rules.source);
    for r in rules.rules.iter().filter(|r| !r.when.is_empty()) {
        let (ok, why) = r.when.eval(&facts, &rules.setting_defaults);
        let what = match (r.kind, ok) {
            (telltale::rules::RuleKind::Exception, true) => "in force",
            (telltale::rules::RuleKind::Exception, false) => "NOT in force: its traffic is flagged",
            (_, true) => "allowed by the owner's settings",
            (_, false) => "turned off: its traffic is flagged",
        };
        let _ = writeln!(
            o,
            "  {:<20} {what} ({})",
            r.id,
            telltale::text::neutralise(&why.join(", "))
        );
    }
    o
}
