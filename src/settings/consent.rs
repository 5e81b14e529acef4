//! The owner's data-sharing choice and the server's settings: `--opt-out auto` (the
//! default) reads the server's settings file (`--prefs PATH`, or the usual places) and says
//! which setting decided; `--opt-out on|off` overrides the state, and the settings still
//! decide which exceptions are in force.

use crate::config::choices::OptOutChoice;
use crate::rules::Rules;
use crate::rules::conditions::{Condition, Facts};
use crate::settings::{ServerKind, Settings, SettingsError};
use serde::Serialize;
use std::path::Path;
use std::sync::Arc;

/// The settings file `--prefs` named could not be read.
#[derive(Debug, thiserror::Error)]
#[error("--prefs: {0}")]
pub struct PrefsError(#[from] pub SettingsError);

/// The owner's data-sharing choice as a report states it, and where it came from.
#[derive(Clone, Debug, Serialize)]
pub struct OptOut {
    /// `on`: the owner has opted out of data sharing; `off`: they have not.
    pub state: OptOutState,
    /// Where the state came from: `default` or `command line`.
    pub source: String,
}

/// Whether the owner has opted out of data sharing: `"on"` or `"off"` in a report.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum OptOutState {
    /// The owner has opted out: every flow must be explained.
    On,
    /// The owner has not opted out.
    Off,
}

impl OptOutState {
    pub fn from_opted_out(opted_out: bool) -> OptOutState {
        if opted_out {
            OptOutState::On
        } else {
            OptOutState::Off
        }
    }

    pub fn opted_out(self) -> bool {
        self == OptOutState::On
    }

    /// The word a report shows: `on` or `off`.
    pub fn as_str(self) -> &'static str {
        match self {
            OptOutState::On => "on",
            OptOutState::Off => "off",
        }
    }
}

impl std::fmt::Display for OptOutState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

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
        source: s.label(),
        values: s.values.clone(),
        signed_in: s.signed_in,
    }
}

/// The settings in force: `--prefs PATH`, else (for `--opt-out auto`) the first of the
/// usual places that exists; for Jellyfin, with the network.xml beside it. A file asked for
/// that cannot be read is an error; one found by looking that cannot be read (the usual place,
/// or the file beside the one asked for) is a warning.
pub fn load_settings(
    rules: &Rules,
    prefs: Option<&Path>,
    look: bool,
    warnings: &mut Vec<String>,
) -> Result<Option<Settings>, PrefsError> {
    let kind = server_kind(rules);
    let loaded = match prefs {
        Some(p) => crate::settings::read_merged(p, kind)?,
        None if !look => return Ok(None),
        None => match crate::settings::find(kind) {
            Some(Ok(l)) => l,
            Some(Err(e)) => {
                warnings.push(format!(
                    "the server's settings could not be read ({e}); give them with --prefs PATH"
                ));
                return Ok(None);
            }
            None => return Ok(None),
        },
    };
    warnings.extend(loaded.warnings);
    warnings.extend(webhooks_note(rules, &loaded.settings));
    Ok(Some(loaded.settings))
}

/// What the settings say of the owner's data-sharing choice, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Consent {
    /// A setting decided: `opted_out`, the fact (`collectUsageData=0`), and the setting's name when the file
    /// leaves it out and the vendor's default (the rules' `[settings] defaults`) decided instead.
    Decided {
        opted_out: bool,
        fact: String,
        absent: Option<String>,
    },
    /// The rules name settings for the choice, and none of them holds (a value they do not know, or a setting
    /// absent with no default): the facts looked at.
    Unsaid { facts: Vec<String> },
    /// The rules name no data-sharing setting: the server has none (Jellyfin).
    NoSetting,
}

/// Reads the owner's choice from the settings, the opt-out conditions first (as the rules file says). An
/// absent setting is not "the owner said nothing": it is the vendor's default, which the owner left as it is,
/// so it decides like a written one, and the words say which it was.
pub fn consent_of(rules: &Rules, facts: &Facts) -> Consent {
    let conditions = rules
        .opted_out_when
        .iter()
        .map(|c| (true, c))
        .chain(rules.opted_in_when.iter().map(|c| (false, c)));
    let mut looked = Vec::new();
    for (opted_out, c) in conditions {
        let (holds, fact) = c.eval(facts, &rules.setting_defaults);
        if holds {
            let absent = setting_of(c)
                .filter(|name| !facts.values.contains_key(*name))
                .map(str::to_string);
            return Consent::Decided {
                opted_out,
                fact,
                absent,
            };
        }
        if !looked.contains(&fact) {
            looked.push(fact);
        }
    }
    if looked.is_empty() {
        Consent::NoSetting
    } else {
        Consent::Unsaid { facts: looked }
    }
}

/// The setting a condition reads, if any (`signed_in` reads the token's presence, not a setting).
fn setting_of(c: &Condition) -> Option<&str> {
    match c {
        Condition::Equals { name, .. } | Condition::Differs { name, .. } => Some(name),
        Condition::SignedIn | Condition::SignedOut => None,
    }
}

/// The state a consent gives (`None`: the settings do not say) and what decided it, in words: `collectUsageData=0`,
/// or for a default `collectUsageData is absent: Plex's default, sharing on`. The words for a default carry the
/// vendor's name, so a report never reads an untouched install as an opt-out, nor as a choice written down.
pub fn consent_words(rules: &Rules, consent: &Consent) -> (Option<bool>, String) {
    let vendor = server_kind(rules).short_name();
    match consent {
        Consent::Decided {
            opted_out,
            fact,
            absent: None,
        } => (Some(*opted_out), fact.clone()),
        Consent::Decided {
            opted_out,
            absent: Some(name),
            ..
        } => {
            let sharing = if *opted_out { "off" } else { "on" };
            (
                Some(*opted_out),
                format!("{name} is absent: {vendor}'s default, sharing {sharing}"),
            )
        }
        Consent::Unsaid { facts } => (
            None,
            format!(
                "{}: neither an opt-out nor an opt-in the rules know",
                facts.join(", ")
            ),
        ),
        Consent::NoSetting => (
            None,
            format!(
                "{vendor} has no data-sharing setting to opt into (the rules name none), so every flow must be explained"
            ),
        ),
    }
}

/// Where the opt-out came from, for the report: the words of [`consent_words`] and the settings file(s).
fn consent_source(consent: &Consent, words: &str, where_from: &str) -> String {
    match consent {
        Consent::Decided { absent: None, .. } => format!("settings: {words} in {where_from}"),
        Consent::Decided {
            absent: Some(_), ..
        } => format!("settings: {words}; settings file {where_from}"),
        Consent::Unsaid { .. } => {
            // The narrow live header shows what comes before the first colon.
            format!("settings do not say; the strictest reading: {words}, in {where_from}")
        }
        Consent::NoSetting => format!("settings: {words}; settings file {where_from}"),
    }
}

/// Plex's webhooks post events to URLs the owner keeps in their Plex account: no file on the server holds them,
/// so no rules file can name their hosts, and telltale cannot tell a webhook from any other unexplained flow.
/// While webhooks are on (written so, or by Plex's default, or with a value telltale cannot read), the report
/// says so, and how the owner can declare their own. `None` when the settings turn them off, or for a server
/// without them.
pub fn webhooks_note(rules: &Rules, settings: &Settings) -> Option<String> {
    const NAME: &str = "WebHooksEnabled";
    if server_kind(rules) != ServerKind::Plex {
        return None;
    }
    let why = match settings.get(NAME) {
        Some(_) if settings.flag(NAME) == Some(false) => return None,
        Some(value) => format!("{NAME}={value}"),
        None => match rules.setting_defaults.get(NAME).map(|v| v.trim()) {
            Some("0" | "false") => return None,
            Some(_) => format!("{NAME} is absent: Plex's default, on"),
            None => format!("{NAME} is absent, and the rules give no default"),
        },
    };
    Some(format!(
        "Webhooks are on ({why}): Plex posts events to the URLs the owner set in their Plex account, which no file \
         on this server holds, so telltale cannot know them. A flow no rule explains may be one of the owner's \
         webhooks; if it is, declare its host in your own rules layer: --rules plex --rules ./mine.toml",
        why = crate::settings::clean(&why)
    ))
}

/// The opt-out state and where it came from, and the facts the settings give (when there are any).
pub fn decide(
    rules: &Rules,
    choice: OptOutChoice,
    settings: Option<&Settings>,
) -> (OptOut, Option<Arc<Facts>>) {
    let facts = settings.map(|s| Arc::new(facts_of(s)));
    let (opted_out, source) = match choice {
        OptOutChoice::On => (true, "command line (--opt-out on)".to_string()),
        OptOutChoice::Off => (false, "command line (--opt-out off)".to_string()),
        OptOutChoice::Auto => match &facts {
            Some(f) => {
                let consent = consent_of(rules, f);
                let (state, words) = consent_words(rules, &consent);
                // Unsaid, or no setting at all: opted out, the reading under which every flow must be explained.
                (
                    state.unwrap_or(true),
                    consent_source(&consent, &words, &f.source),
                )
            }
            None => (
                true,
                "no server settings found (give them with --prefs); the strictest reading"
                    .to_string(),
            ),
        },
    };
    (
        OptOut {
            state: OptOutState::from_opted_out(opted_out),
            source,
        },
        facts,
    )
}
