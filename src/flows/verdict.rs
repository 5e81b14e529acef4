//! The judgement a flow carries: its kind (local, declared, allowed, flagged), the class of a
//! flow that left unexplained, the deciding rule and why, in words. The flow record holds the
//! slot; `rules::verdict::judge` fills it (and re-exports these types where rules are read).

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
    /// What kind of leaving flow this is, for a flow that left without a declared exception in
    /// force (flagged, or allowed because the owner has not opted out); `None` for declared and
    /// local flows.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub class: Option<VerdictClass>,
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

/// Why a flow that left is not explained by a declared exception in force: the kinds a reader
/// must tell apart, in every format, in the TUI's filter (`class:`) and in the summary.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum VerdictClass {
    /// A known data-collection endpoint (a `[[collection]]` rule).
    Collection,
    /// The vendor's own host (under one of the `[server] domains`) with no declared purpose.
    VendorUndeclared,
    /// A third party that no rule explains.
    ThirdParty,
    /// It cannot be judged: no name was seen, only the outer name of an Encrypted Client Hello,
    /// or a QUIC Initial that could not be read.
    CannotJudge,
    /// A protocol that belongs on the local network reached the internet.
    LocalOnly,
    /// A declared exception matched, but the owner's settings turn it off.
    TurnedOff,
    /// A declared exception's flow beyond the budget the rules give it.
    OverBudget,
}

impl VerdictClass {
    pub const ALL: [VerdictClass; 7] = [
        VerdictClass::Collection,
        VerdictClass::VendorUndeclared,
        VerdictClass::ThirdParty,
        VerdictClass::CannotJudge,
        VerdictClass::LocalOnly,
        VerdictClass::TurnedOff,
        VerdictClass::OverBudget,
    ];

    /// The name in reports and filters (`class:vendor_undeclared`).
    pub fn as_str(self) -> &'static str {
        match self {
            VerdictClass::Collection => "collection",
            VerdictClass::VendorUndeclared => "vendor_undeclared",
            VerdictClass::ThirdParty => "third_party",
            VerdictClass::CannotJudge => "cannot_judge",
            VerdictClass::LocalOnly => "local_only",
            VerdictClass::TurnedOff => "turned_off",
            VerdictClass::OverBudget => "over_budget",
        }
    }

    /// In words, for people.
    pub fn describe(self) -> &'static str {
        match self {
            VerdictClass::Collection => "a known collection endpoint",
            VerdictClass::VendorUndeclared => "the vendor's own host, with no declared purpose",
            VerdictClass::ThirdParty => "a third party that no rule explains",
            VerdictClass::CannotJudge => {
                "cannot be judged (no name, only an encrypted hello's outer name, or an unread QUIC Initial)"
            }
            VerdictClass::LocalOnly => "a local-only protocol on the internet",
            VerdictClass::TurnedOff => "a declared exception the owner's settings turn off",
            VerdictClass::OverBudget => "a declared exception beyond its budget",
        }
    }

    pub fn parse(text: &str) -> Option<VerdictClass> {
        VerdictClass::ALL.into_iter().find(|c| c.as_str() == text)
    }
}
