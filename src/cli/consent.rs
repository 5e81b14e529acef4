//! The owner's data-sharing choice and the server's settings, at the edge: `--opt-out
//! auto` (the default) reads the server's settings file (`--prefs PATH`, or the usual
//! places) and says which setting decided; `--opt-out on|off` overrides the state, and the
//! settings still decide which exceptions are in force.

use super::Failure;
use crate::report::model::OptOut;
use crate::rules::Rules;
use crate::rules::conditions::{Facts, decide_consent};
use crate::settings::{ServerKind, Settings};
use std::path::Path;
use std::sync::Arc;

/// The server these rules describe, for finding and reading its settings.
pub fn server_kind(rules: &Rules) -> ServerKind {
    let name = rules.server.to_ascii_lowercase();
    if name.contains("jellyfin") {
        ServerKind::Jellyfin
    } else if name.contains("emby") {
        ServerKind::Emby
    } else {
        ServerKind::Plex
    }
}

pub fn facts_of(s: &Settings) -> Facts {
    Facts {
        source: s.path.clone(),
        values: s.values.clone(),
        signed_in: s.signed_in,
    }
}

/// The settings in force: `--prefs PATH`, else (for `--opt-out auto`) the first of the
/// usual places that exists. A file asked for that cannot be read is an error; one found
/// by looking that cannot be read is a warning.
pub fn load_settings(
    rules: &Rules,
    prefs: Option<&Path>,
    look: bool,
    warnings: &mut Vec<String>,
) -> Result<Option<Settings>, Failure> {
    let kind = server_kind(rules);
    if let Some(p) = prefs {
        return crate::settings::read(p, kind)
            .map(Some)
            .map_err(|e| Failure::usage(format!("--prefs: {e}")));
    }
    if !look {
        return Ok(None);
    }
    match crate::settings::find(kind) {
        Some(Ok(s)) => Ok(Some(s)),
        Some(Err(e)) => {
            warnings.push(format!(
                "the server's settings could not be read ({e}); give them with --prefs PATH"
            ));
            Ok(None)
        }
        None => Ok(None),
    }
}

/// The opt-out state and where it came from.
pub fn decide(
    rules: &Rules,
    choice: &str,
    settings: Option<&Settings>,
) -> Result<(bool, OptOut, Option<Arc<Facts>>), Failure> {
    let facts = settings.map(|s| Arc::new(facts_of(s)));
    let (opted_out, source) = match choice.trim() {
        "on" => (true, "command line (--opt-out on)".to_string()),
        "off" => (false, "command line (--opt-out off)".to_string()),
        "auto" => match &facts {
            Some(f) => match decide_consent(
                f,
                &rules.setting_defaults,
                &rules.opted_out_when,
                &rules.opted_in_when,
            ) {
                Some((out, fact)) => (out, format!("settings: {fact} in {}", f.source)),
                None => (
                    true,
                    format!("settings do not say ({}); the strictest reading", f.source),
                ),
            },
            None => (
                true,
                "no server settings found (give them with --prefs); the strictest reading"
                    .to_string(),
            ),
        },
        other => {
            return Err(Failure::usage(format!(
                "--opt-out takes `auto` (read the server's settings), `on` (the owner opted out of data sharing) or `off`, not `{other}`"
            )));
        }
    };
    Ok((
        opted_out,
        OptOut {
            state: if opted_out { "on" } else { "off" },
            source,
        },
        facts,
    ))
}

/// `telltale prefs [PATH]`: the settings, the consent they give, and which exceptions they
/// put in force.
pub fn run_prefs(path: Option<&Path>, rules_spec: &str) -> Result<i32, Failure> {
    let rules = crate::rules::load::load(rules_spec)
        .map_err(|e| Failure::usage(format!("invalid rules: {e}")))?;
    let kind = server_kind(&rules);
    let settings = match path {
        Some(p) => crate::settings::read(p, kind),
        None => crate::settings::find_or_error(kind),
    }
    .map_err(|e| Failure::usage(e.to_string()))?;
    print!("{}", describe_consent(&rules, &settings));
    Ok(super::EXIT_CLEAN)
}

pub fn describe_consent(rules: &Rules, settings: &Settings) -> String {
    use std::fmt::Write;
    let mut o = crate::settings::describe(settings);
    let facts = facts_of(settings);
    let _ = writeln!(o);
    match decide_consent(
        &facts,
        &rules.setting_defaults,
        &rules.opted_out_when,
        &rules.opted_in_when,
    ) {
        Some((true, fact)) => {
            let _ = writeln!(
                o,
                "opt-out: on: the owner has opted out of data sharing ({fact})"
            );
        }
        Some((false, fact)) => {
            let _ = writeln!(o, "opt-out: off: the owner shares usage data ({fact})");
        }
        None => {
            let _ = writeln!(
                o,
                "opt-out: the settings do not say; telltale takes the strictest reading (on)"
            );
        }
    }
    let _ = writeln!(o, "\nrules with conditions ({}):", rules.source);
    for r in rules.rules.iter().filter(|r| !r.when.is_empty()) {
        let (ok, why) = r.when.eval(&facts, &rules.setting_defaults);
        let what = match (r.kind, ok) {
            (crate::rules::RuleKind::Exception, true) => "in force",
            (crate::rules::RuleKind::Exception, false) => "NOT in force: its traffic is flagged",
            (_, true) => "allowed by the owner's settings",
            (_, false) => "turned off: its traffic is flagged",
        };
        let _ = writeln!(
            o,
            "  {:<20} {what} ({})",
            r.id,
            crate::report::text::neutralise(&why.join(", "))
        );
    }
    o
}
