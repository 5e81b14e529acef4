//! The rules file as written (schema version 1): what serde reads from TOML, with the
//! position of every value kept so that an error can point at it.
//!
//! ```toml
//! schema = 1
//!
//! [server]                      # the server software, and how to tell its traffic
//! name = "Plex Media Server"
//! processes = ["Plex Media Server", "Plex Transcoder"]
//! ports = [32400]
//!
//! [categories]
//! updates = "Update checks"
//!
//! [[exception]]                 # traffic the vendor (or a feature the owner uses) explains
//! id = "updates"
//! category = "updates"
//! basis = "vendor"              # vendor | function | infrastructure
//! justification = "The server asks the cloud whether an update exists."
//! hosts = ["plex.tv", "*.plex.tv"]
//! ports = [443]
//! protocol = "tcp"              # tcp | udp | any (default)
//! direction = "outbound"        # outbound (default) | inbound | any
//!
//! [[collection]]                # known data-collection endpoints (telemetry, crash reports)
//! [[local_only]]                # protocols that must never leave the local network
//! ```

use serde::Deserialize;
use std::collections::BTreeMap;
use toml::Spanned;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RulesDoc {
    pub schema: Spanned<i64>,
    /// The server software these rules describe.
    pub server: ServerDoc,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub networks: NetworksDoc,
    #[serde(default)]
    pub settings: SettingsDoc,
    #[serde(default)]
    pub categories: BTreeMap<String, String>,
    #[serde(default)]
    pub exception: Vec<RuleDoc>,
    #[serde(default)]
    pub collection: Vec<RuleDoc>,
    #[serde(default)]
    pub local_only: Vec<RuleDoc>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerDoc {
    pub name: String,
    /// The server's processes, by program name (for `--scope server`).
    #[serde(default)]
    pub processes: Vec<String>,
    /// The ports the server listens on.
    #[serde(default)]
    pub ports: Vec<Spanned<u16>>,
}

/// How the server's own settings bear on the rules.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SettingsDoc {
    /// Values the server uses when its settings file does not mention them.
    #[serde(default)]
    pub defaults: BTreeMap<String, String>,
    /// The owner has opted out of data sharing when any of these holds...
    #[serde(default)]
    pub opted_out_when: Vec<Spanned<String>>,
    /// ...and has opted in when any of these holds; otherwise the strictest reading (opted out).
    #[serde(default)]
    pub opted_in_when: Vec<Spanned<String>>,
    /// Settings that hold an address for a rule: `{ PubSubServer = "cloud_sync" }`.
    #[serde(default)]
    pub address_for: BTreeMap<String, Spanned<String>>,
    /// Settings that hold a URL whose host belongs to a rule: `{ plexMetricsUrl = "metrics" }`.
    #[serde(default)]
    pub url_host_for: BTreeMap<String, Spanned<String>>,
    /// Where each default comes from: setting name → a public source (a URL).
    #[serde(default)]
    pub sources: BTreeMap<String, String>,
}

/// How much a declared exception may send.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct BudgetDoc {
    /// IP bytes out per hour, summed over the flows to one host.
    #[serde(default)]
    pub bytes_out_per_hour: Option<u64>,
    /// Flows per hour to one host.
    #[serde(default)]
    pub flows_per_hour: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetworksDoc {
    /// Networks the owner counts as local beyond the built-in ones (a VPN, a second site).
    #[serde(default)]
    pub local: Vec<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleDoc {
    pub id: Spanned<String>,
    pub category: Spanned<String>,
    /// Why the traffic is there, in the vendor's words where it gave them.
    #[serde(default, alias = "note")]
    pub justification: Option<String>,
    #[serde(default)]
    pub basis: Option<Spanned<Basis>>,
    #[serde(default)]
    pub hosts: Vec<Spanned<String>>,
    #[serde(default)]
    pub addresses: Vec<Spanned<String>>,
    #[serde(default)]
    pub ports: Vec<Spanned<u16>>,
    #[serde(default)]
    pub protocol: Protocol,
    /// Default: `outbound` for exceptions and collection endpoints, `any` for local-only protocols.
    #[serde(default)]
    pub direction: Option<Direction>,
    /// Settings conditions that must all hold: for an exception, for it to be in force; for a
    /// collection endpoint, for its collection to be the owner's own choice.
    #[serde(default)]
    pub when: Vec<Spanned<String>>,
    /// Settings conditions of which at least one must hold.
    #[serde(default)]
    pub when_any: Vec<Spanned<String>>,
    /// For an exception: how much it may send.
    #[serde(default)]
    pub budget: Option<Spanned<BudgetDoc>>,
}

/// Where an exception comes from.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Basis {
    /// One of the exceptions the vendor itself declared.
    Vendor,
    /// Traffic of a feature the owner uses (metadata for the library, remote streaming).
    Function,
    /// What any networked host does (name resolution, certificate checks).
    Infrastructure,
}

#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Protocol {
    Tcp,
    Udp,
    #[default]
    Any,
}

#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// The server (the local side) opened the flow.
    Outbound,
    /// The remote party opened the flow.
    Inbound,
    Any,
}
