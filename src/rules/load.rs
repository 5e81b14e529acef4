//! Loading a rules file: TOML → [`RulesDoc`] → validated [`Rules`]. Every error names
//! `file:line:column`, shows the line with a caret, and says what was expected.

use super::conditions::Condition;
use super::schema::{Basis, Direction, Protocol, RuleDoc, RulesDoc};
use super::{HostPattern, Rule, RuleKind, Rules};
use crate::text::hex;
use ipnet::IpNet;
use sha2::{Digest, Sha256};
use std::collections::BTreeSet;
use std::fmt;
use std::ops::Range;
use std::path::Path;
use toml::Spanned;

/// The rules files compiled into the binary, by the name `--rules` accepts.
pub const BUILTIN: &[(&str, &str)] = &[
    ("plex", include_str!("../../rules/plex.toml")),
    ("jellyfin", include_str!("../../rules/jellyfin.toml")),
    ("emby", include_str!("../../rules/emby.toml")),
];

/// The schema version this build reads.
pub const SCHEMA_VERSION: i64 = 1;

/// A rules file that could not be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RulesError {
    /// The file as the user named it (`rules/plex.toml`, `builtin:plex`).
    pub file: String,
    /// 1-based line and column; 0 when the error has no position (an unreadable file).
    pub line: usize,
    pub column: usize,
    pub message: String,
    /// The offending line of the file, for the caret display.
    pub source_line: Option<String>,
}

impl fmt::Display for RulesError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            return write!(f, "{}: {}", self.file, self.message);
        }
        write!(
            f,
            "{}:{}:{}: {}",
            self.file, self.line, self.column, self.message
        )?;
        if let Some(src) = &self.source_line {
            let gutter = self.line.to_string();
            let pad = " ".repeat(gutter.len());
            let caret_pad: String = src
                .chars()
                .take(self.column.saturating_sub(1))
                .map(|c| if c == '\t' { '\t' } else { ' ' })
                .collect();
            write!(f, "\n{pad} |\n{gutter} | {src}\n{pad} | {caret_pad}^")?;
        }
        Ok(())
    }
}

impl std::error::Error for RulesError {}

/// Reads rules named on the command line: a built-in name (`plex`) or a path, with the files it
/// includes layered over it.
pub fn load(spec: &str) -> Result<Rules, RulesError> {
    load_layers(&[spec.to_string()])
}

/// At most this many files in one set of layers (includes of includes, cycles).
pub const MAX_LAYERS: usize = 32;

/// Reads rules in layers: the first names the vendor's rules (a built-in name or a path), each
/// next one (`--rules plex --rules ./mine.toml`), and every file a layer includes (`include =
/// ["mine.toml"]`, relative to the including file, after it), adds the owner's own rules over
/// them. Rule ids must be unique across layers; each rule keeps the file that declared it.
pub fn load_layers(specs: &[String]) -> Result<Rules, RulesError> {
    let mut files: Vec<(String, String, Option<std::path::PathBuf>)> = Vec::new();
    for spec in specs {
        let (label, text, path) = read_spec(spec)?;
        expand(label, text, path, &mut files, 0)?;
    }
    let mut merged: Option<Rules> = None;
    for (label, text, _) in &files {
        let layer = parse_layer(label, text, merged.is_none())?;
        merged = Some(match merged {
            None => layer,
            Some(base) => merge(base, layer)?,
        });
    }
    merged.ok_or_else(|| RulesError {
        file: "--rules".into(),
        line: 0,
        column: 0,
        message: "no rules file named".into(),
        source_line: None,
    })
}

/// A built-in file's text, or a file's.
fn read_spec(spec: &str) -> Result<(String, String, Option<std::path::PathBuf>), RulesError> {
    if let Some((name, text)) = BUILTIN.iter().find(|(n, _)| *n == spec) {
        return Ok((format!("builtin:{name}"), (*text).to_string(), None));
    }
    let path = Path::new(spec);
    Ok((spec.to_string(), read_file(path)?, Some(path.to_path_buf())))
}

/// Adds `label` and, after it, the files it includes, depth first.
fn expand(
    label: String,
    text: String,
    path: Option<std::path::PathBuf>,
    files: &mut Vec<(String, String, Option<std::path::PathBuf>)>,
    depth: usize,
) -> Result<(), RulesError> {
    let includes = includes_of(&label, &text)?;
    let key = path.as_ref().and_then(|p| std::fs::canonicalize(p).ok());
    let seen = files.iter().any(|(l, _, p)| {
        *l == label
            || (key.is_some() && p.as_ref().and_then(|p| std::fs::canonicalize(p).ok()) == key)
    });
    if seen {
        // a file layered twice (an include cycle, or named twice): once is enough
        return Ok(());
    }
    if files.len() >= MAX_LAYERS || depth > MAX_LAYERS {
        return Err(RulesError {
            file: label,
            line: 0,
            column: 0,
            message: format!("more than {MAX_LAYERS} rules files layered; is an include looping?"),
            source_line: None,
        });
    }
    let dir = path
        .as_ref()
        .and_then(|p| p.parent())
        .map(Path::to_path_buf);
    files.push((label.clone(), text.clone(), path));
    for inc in includes {
        let ctx = Ctx {
            file: &label,
            text: &text,
        };
        let Some(dir) = &dir else {
            return Err(ctx.error(
                inc.span(),
                "a built-in rules file cannot include another".into(),
            ));
        };
        let target = dir.join(inc.get_ref());
        let inc_text = read_file(&target).map_err(|e| {
            ctx.error(
                inc.span(),
                format!("cannot include `{}`: {}", inc.get_ref(), e.message),
            )
        })?;
        expand(
            target.display().to_string(),
            inc_text,
            Some(target),
            files,
            depth + 1,
        )?;
    }
    Ok(())
}

/// The `include` list of a rules text (the rest is read later).
fn includes_of(label: &str, text: &str) -> Result<Vec<Spanned<String>>, RulesError> {
    let ctx = Ctx { file: label, text };
    let doc: RulesDoc = toml::from_str(text).map_err(|e| {
        let span = e.span().unwrap_or(0..0);
        ctx.error(span, e.message().trim_end().to_string())
    })?;
    Ok(doc.include)
}

fn read_file(path: &Path) -> Result<String, RulesError> {
    std::fs::read_to_string(path).map_err(|e| RulesError {
        file: path.display().to_string(),
        line: 0,
        column: 0,
        message: match e.kind() {
            std::io::ErrorKind::NotFound => format!(
                "no such rules file; give a path to a TOML rules file or a built-in name ({})",
                builtin_names()
            ),
            std::io::ErrorKind::InvalidData => "the rules file is not UTF-8 text".to_string(),
            _ => format!("cannot read the rules file: {e}"),
        },
        source_line: None,
    })
}

pub fn load_path(path: &Path) -> Result<Rules, RulesError> {
    load_layers(&[path.display().to_string()])
}

/// Lays `layer` over `base`: its rules after the base's, its categories, networks, defaults,
/// processes, ports and domains added.
fn merge(mut base: Rules, layer: Rules) -> Result<Rules, RulesError> {
    for r in &layer.rules {
        if let Some(first) = base.rules.iter().find(|b| b.id == r.id) {
            return Err(RulesError {
                file: layer.source.clone(),
                line: 0,
                column: 0,
                message: format!(
                    "rule id `{}` is already declared by {}; give the owner's rule an id of its own",
                    r.id, first.layer
                ),
                source_line: None,
            });
        }
    }
    base.rules.extend(layer.rules);
    for (k, v) in layer.categories {
        base.categories.entry(k).or_insert(v);
    }
    base.local_networks.extend(layer.local_networks);
    for (k, v) in layer.setting_defaults {
        base.setting_defaults.entry(k).or_insert(v);
    }
    for (k, v) in layer.setting_sources {
        base.setting_sources.entry(k).or_insert(v);
    }
    base.opted_out_when.extend(layer.opted_out_when);
    base.opted_in_when.extend(layer.opted_in_when);
    base.address_for.extend(layer.address_for);
    base.url_host_for.extend(layer.url_host_for);
    for p in layer.server_processes {
        if !base.server_processes.contains(&p) {
            base.server_processes.push(p);
        }
    }
    for p in layer.server_ports {
        if !base.server_ports.contains(&p) {
            base.server_ports.push(p);
        }
    }
    for d in layer.vendor_domains {
        if !base.vendor_domains.contains(&d) {
            base.vendor_domains.push(d);
        }
    }
    base.source = format!("{} + {}", base.source, layer.source);
    base.layers.extend(layer.layers);
    Ok(base)
}

pub fn builtin_names() -> String {
    BUILTIN
        .iter()
        .map(|(n, _)| *n)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Parses and validates rules text; `file` labels errors. Its includes are not read (they need
/// a path: see [`load_layers`]).
pub fn parse(file: &str, text: &str) -> Result<Rules, RulesError> {
    parse_layer(file, text, true)
}

/// Parses one layer; the first (`base`) must name its server.
fn parse_layer(file: &str, text: &str, base: bool) -> Result<Rules, RulesError> {
    let ctx = Ctx { file, text };
    let doc: RulesDoc = toml::from_str(text).map_err(|e| {
        let span = e.span().unwrap_or(0..0);
        ctx.error(span, e.message().trim_end().to_string())
    })?;
    if *doc.schema.get_ref() != SCHEMA_VERSION {
        return Err(ctx.error(
            doc.schema.span(),
            format!(
                "schema version {} is not supported; this telltale reads schema = {SCHEMA_VERSION}",
                doc.schema.get_ref()
            ),
        ));
    }
    let mut local_networks = Vec::new();
    for net in &doc.networks.local {
        local_networks.push(ctx.cidr(net)?);
    }
    let mut rules = Vec::new();
    let mut ids = BTreeSet::new();
    let groups = [
        (RuleKind::Exception, &doc.exception),
        (RuleKind::Collection, &doc.collection),
        (RuleKind::LocalOnly, &doc.local_only),
    ];
    for (kind, docs) in groups {
        for d in docs.iter() {
            if !ids.insert(d.id.get_ref().clone()) {
                return Err(ctx.error(
                    d.id.span(),
                    format!(
                        "duplicate rule id `{}`; every rule needs its own id",
                        d.id.get_ref()
                    ),
                ));
            }
            let mut rule = ctx.rule(kind, d)?;
            rule.layer = file.to_string();
            rules.push(rule);
        }
    }
    let server = doc.server.unwrap_or_default();
    let server_name = match (server.name, base) {
        (Some(name), _) => name,
        (None, false) => String::new(),
        (None, true) => {
            return Err(ctx.error(
                0..0,
                "this rules file names no server ([server] name = ...); an owner's file without one can only be layered over a vendor's rules, e.g. --rules plex --rules mine.toml".into(),
            ));
        }
    };
    for p in &server.ports {
        if *p.get_ref() == 0 {
            return Err(ctx.error(p.span(), "port 0 is not a port; expected 1 to 65535".into()));
        }
    }
    for (setting, id) in doc
        .settings
        .address_for
        .iter()
        .chain(&doc.settings.url_host_for)
    {
        if !rules.iter().any(|r| &r.id == id.get_ref()) {
            return Err(ctx.error(
                id.span(),
                format!(
                    "setting {setting} names rule `{}`, which the file does not have",
                    id.get_ref()
                ),
            ));
        }
    }
    let mut vendor_domains = Vec::new();
    for d in &server.domains {
        match HostPattern::parse(d.get_ref()) {
            Some(HostPattern::Exact(name)) => vendor_domains.push(name),
            _ => {
                return Err(ctx.error(
                    d.span(),
                    format!(
                        "`{}` is not a domain; expected a name such as \"plex.tv\" (it covers its sub-domains)",
                        d.get_ref()
                    ),
                ));
            }
        }
    }
    let opted_out_when = ctx.conditions(&doc.settings.opted_out_when)?;
    let opted_in_when = ctx.conditions(&doc.settings.opted_in_when)?;
    Ok(Rules {
        setting_defaults: doc.settings.defaults,
        opted_out_when,
        opted_in_when,
        address_for: doc
            .settings
            .address_for
            .iter()
            .map(|(k, v)| (k.clone(), v.get_ref().clone()))
            .collect(),
        url_host_for: doc
            .settings
            .url_host_for
            .iter()
            .map(|(k, v)| (k.clone(), v.get_ref().clone()))
            .collect(),
        source: file.to_string(),
        sha256: hex(&Sha256::digest(text.as_bytes())),
        layers: vec![(file.to_string(), hex(&Sha256::digest(text.as_bytes())))],
        setting_sources: doc.settings.sources,
        server_processes: server.processes,
        server_ports: server.ports.iter().map(|p| *p.get_ref()).collect(),
        vendor_domains,
        server: server_name,
        description: doc.description,
        categories: doc.categories,
        local_networks,
        rules,
    })
}

struct Ctx<'a> {
    file: &'a str,
    text: &'a str,
}

impl Ctx<'_> {
    fn error(&self, span: Range<usize>, message: String) -> RulesError {
        let start = span.start.min(self.text.len());
        let before = self.text.get(..start).unwrap_or("");
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let column = self
            .text
            .get(line_start..start)
            .map_or(1, |s| s.chars().count() + 1);
        let source_line = self.text.lines().nth(line - 1).map(str::to_string);
        RulesError {
            file: self.file.to_string(),
            line,
            column,
            message,
            source_line,
        }
    }

    fn cidr(&self, s: &Spanned<String>) -> Result<IpNet, RulesError> {
        let text = s.get_ref().trim();
        if let Ok(net) = text.parse::<IpNet>() {
            return Ok(net.trunc());
        }
        if let Ok(addr) = text.parse::<std::net::IpAddr>() {
            return Ok(IpNet::from(addr));
        }
        Err(self.error(
            s.span(),
            format!(
                "`{text}` is not an address or network; expected e.g. \"192.0.2.0/24\", \"2001:db8::/32\" or \"203.0.113.7\""
            ),
        ))
    }

    fn condition(&self, s: &Spanned<String>) -> Result<Condition, RulesError> {
        Condition::parse(s.get_ref()).ok_or_else(|| {
            self.error(
                s.span(),
                format!(
                    "`{}` is not a condition; expected `Setting == value`, `Setting != value`, `signed_in` or `signed_out`",
                    s.get_ref()
                ),
            )
        })
    }

    fn conditions(&self, list: &[Spanned<String>]) -> Result<Vec<Condition>, RulesError> {
        list.iter().map(|c| self.condition(c)).collect()
    }

    fn host(&self, s: &Spanned<String>) -> Result<HostPattern, RulesError> {
        HostPattern::parse(s.get_ref()).ok_or_else(|| {
            self.error(
                s.span(),
                format!(
                    "`{}` is not a host pattern; expected a host name (\"plex.tv\") or a wildcard for its sub-domains (\"*.plex.direct\")",
                    s.get_ref()
                ),
            )
        })
    }

    fn rule(&self, kind: RuleKind, d: &RuleDoc) -> Result<Rule, RulesError> {
        let id = d.id.get_ref();
        if id.is_empty()
            || !id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            return Err(self.error(
                d.id.span(),
                format!("rule id `{id}` must be letters, digits, `_` or `-`"),
            ));
        }
        if d.category.get_ref().trim().is_empty() {
            return Err(self.error(
                d.category.span(),
                "a rule's category cannot be empty".into(),
            ));
        }
        if d.hosts.is_empty() && d.addresses.is_empty() && d.ports.is_empty() {
            return Err(self.error(
                d.id.span(),
                format!(
                    "rule `{id}` matches nothing in particular; give it `hosts`, `addresses` or `ports`"
                ),
            ));
        }
        for p in &d.ports {
            if *p.get_ref() == 0 {
                return Err(
                    self.error(p.span(), "port 0 is not a port; expected 1 to 65535".into())
                );
            }
        }
        if kind != RuleKind::Exception
            && let Some(b) = &d.basis
        {
            return Err(self.error(
                b.span(),
                "`basis` belongs to [[exception]] rules only".into(),
            ));
        }
        let hosts = d
            .hosts
            .iter()
            .map(|h| self.host(h))
            .collect::<Result<Vec<_>, _>>()?;
        let addresses = d
            .addresses
            .iter()
            .map(|a| self.cidr(a))
            .collect::<Result<Vec<_>, _>>()?;
        if let Some(b) = &d.budget {
            if kind != RuleKind::Exception {
                return Err(self.error(
                    b.span(),
                    "`budget` belongs to [[exception]] rules only".into(),
                ));
            }
            let bd = b.get_ref();
            if bd.bytes_out_per_hour.is_none() && bd.flows_per_hour.is_none() {
                return Err(self.error(
                    b.span(),
                    "a budget needs `bytes_out_per_hour`, `flows_per_hour` or both".into(),
                ));
            }
        }
        if kind == RuleKind::LocalOnly
            && let Some(c) = d.when.first().or(d.when_any.first())
        {
            return Err(self.error(
                c.span(),
                "local-only rules take no settings conditions".into(),
            ));
        }
        let when = super::conditions::When {
            all: self.conditions(&d.when)?,
            any: self.conditions(&d.when_any)?,
        };
        let mut ports: Vec<u16> = d.ports.iter().map(|p| *p.get_ref()).collect();
        ports.sort_unstable();
        ports.dedup();
        Ok(Rule {
            id: id.clone(),
            kind,
            category: d.category.get_ref().clone(),
            justification: d.justification.clone().unwrap_or_default(),
            basis: match kind {
                RuleKind::Exception => {
                    Some(d.basis.as_ref().map_or(Basis::Vendor, |b| *b.get_ref()))
                }
                _ => None,
            },
            hosts,
            addresses,
            ports,
            protocol: d.protocol,
            when,
            budget: d.budget.as_ref().map(|b| *b.get_ref()),
            sources: d
                .source
                .clone()
                .map(super::schema::Sources::into_vec)
                .unwrap_or_default(),
            only_when: self.conditions(&d.only_when)?,
            layer: String::new(),
            direction: d.direction.unwrap_or(match kind {
                // A local-only protocol is a finding whichever side opened the flow.
                RuleKind::LocalOnly => Direction::Any,
                _ => Direction::Outbound,
            }),
        })
    }
}

impl Protocol {
    pub fn matches(self, tcp: bool, udp: bool) -> bool {
        match self {
            Protocol::Any => true,
            Protocol::Tcp => tcp,
            Protocol::Udp => udp,
        }
    }
}
