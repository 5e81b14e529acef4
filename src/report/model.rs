//! The report as data. Built once from an audit's result; every renderer reads this.

use super::blind_spots::{BlindSpot, blind_spots};
use crate::flows::locality::Scope;
use crate::flows::tcp::ConnState;
use crate::flows::{AppProto, DirStats, Flow, InitiatorBy, Locality, Seen};
use crate::names::FlowName;
use crate::names::inventory::NameEntry;
use crate::pipeline::{AuditResult, Counters};
use crate::rules::verdict::{Verdict, VerdictClass, VerdictKind};
use crate::rules::{Basis, RuleKind, Rules};
use crate::time::Timestamp;
use serde::Serialize;
use std::collections::BTreeMap;
use std::net::IpAddr;

pub const SCHEMA: &str = "telltale.report/1";

#[derive(Clone, Debug, Serialize)]
pub struct Report {
    pub schema: &'static str,
    pub tool: Tool,
    /// When the report was made (the only field that differs between two runs on the same input).
    pub generated_at: Timestamp,
    pub inputs: Vec<Input>,
    /// Which flows the audit is about, and what it left out.
    pub scope: crate::rules::scope::ScopeReport,
    /// With `--baseline`: the old report, and the destinations it never saw.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub baseline: Option<super::baseline::BaselineReport>,
    /// For a live capture: the interface, filter, how long, and what was dropped.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub live: Option<LiveCapture>,
    pub rules: RulesInfo,
    pub opt_out: OptOut,
    /// The server's settings the verdicts were judged under (never a secret), when they were read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub settings: Option<crate::settings::Settings>,
    /// The first and last packet's time.
    pub capture_start: Option<Timestamp>,
    pub capture_end: Option<Timestamp>,
    pub counters: Counters,
    pub summary: Summary,
    /// What left the machine that the audit could not name, by cause.
    pub blind_spots: Vec<BlindSpot>,
    pub warnings: Vec<String>,
    /// Every name the capture revealed, by name then source.
    pub names: Vec<NameEntry>,
    pub flows: Vec<FlowReport>,
    /// Flows beyond the cap on flows kept in full, folded into groups of alike flows
    /// (`counters.flows_summarised` of them); in the summary's totals too.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub flow_groups: Vec<crate::pipeline::groups::FlowGroup>,
    /// With `--on-flagged`: what the owner's command was given, and how its calls went.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hook: Option<HookStats>,
    /// The history's last 30 days (this run included), for the HTML report's chart; empty
    /// without a history. (`telltale history --format json` has them.)
    #[serde(skip)]
    pub history_days: Vec<HistoryDay>,
}

/// One UTC day of the history, as the HTML report's chart draws it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HistoryDay {
    /// `2026-12-06`.
    pub day: String,
    pub flows: u64,
    pub flagged: u64,
    pub new_destinations: u64,
    pub bytes_out: u64,
}

/// One call of the command, as the report tells it.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct HookCall {
    pub at: Timestamp,
    /// `flagged` (one flow) or `summary` (the flows the rate limit held back).
    pub event: &'static str,
    /// The flow, for a `flagged` call; how many, for a summary.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub flow: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub flows: Option<u64>,
    /// The exit status; `null` when it was killed or could not start.
    pub exit: Option<i32>,
    /// What went wrong, when it did: not started, killed after the timeout, ended by a signal.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The start of its standard error.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub stderr: String,
}

/// What the hook did, for the report.
#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq)]
pub struct HookStats {
    pub command: String,
    pub per_minute: u32,
    /// Flows newly flagged, each handed to the hook once.
    pub flagged: u64,
    /// Calls made (summaries included), and those that failed (not started, killed, or a
    /// non-zero exit).
    pub calls: u64,
    pub failed: u64,
    /// Flows the rate limit held back, told in summary calls.
    pub summarised: u64,
    /// Flows dropped because the queue was full (the command was too slow).
    pub dropped: u64,
    /// Flows told, in a call of their own or in a summary.
    pub told: u64,
    /// Flows still waiting when the run ended and the hook was given no more time.
    pub unsent: u64,
    /// The newest calls.
    pub last_calls: Vec<HookCall>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Tool {
    pub name: &'static str,
    pub version: &'static str,
}

/// One capture file read.
#[derive(Clone, Debug, Serialize)]
pub struct Input {
    /// As given on the command line (`-` for standard input).
    pub path: String,
    /// `pcap` or `pcapng`, with `+gzip` when compressed.
    pub format: String,
    /// SHA-256 of the file's bytes as given; `null` when captured live or audited with `--no-digest`.
    pub sha256: Option<String>,
    pub bytes: u64,
    pub packets: u64,
    /// Set when the file ended early or became unreadable: what was read before is reported.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cut_short: Option<CutShort>,
}

impl Input {
    /// The input's SHA-256 as the reports show it, or why there is none.
    pub fn sha256_shown(&self) -> &str {
        match &self.sha256 {
            Some(h) => h,
            None if self.format == "live" => "none (captured live)",
            None => "not computed",
        }
    }
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct LiveCapture {
    pub interface: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub filter: Option<String>,
    /// Wall-clock seconds the capture ran.
    pub duration_s: f64,
    /// Packets dropped by the kernel and by the interface (libpcap's counters), and by telltale's own queue.
    pub dropped_by_kernel: u64,
    pub dropped_by_interface: u64,
    pub dropped_by_queue: u64,
    /// How flows were tied to processes, when that was tried (a capture on this host).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attribution: Option<LiveAttribution>,
}

/// How a live capture tied flows to processes: which mechanisms ran, why one did not, and what each
/// found.
#[derive(Clone, Debug, Default, Serialize)]
pub struct LiveAttribution {
    /// `events+proc` (the kernel's socket events, with /proc for what they miss) or `proc`.
    pub mechanism: String,
    /// Why the kernel's socket events did not run, when they did not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub events_unavailable: Option<String>,
    /// The tracepoints the events came from, and those missing (with why).
    pub tracepoints: Vec<String>,
    pub tracepoints_missing: Vec<String>,
    /// Events read, and events the kernel could not hand over (its buffer was full).
    pub events: u64,
    pub events_lost: u64,
    /// The capture's own network namespace (the inode of `net:[N]`), when it could be read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub netns: Option<u64>,
    /// What the lookups found.
    pub stats: crate::attrib::AttribStats,
    /// Anything that limits what attribution can see (/proc mounted with hidepid, say).
    pub notes: Vec<String>,
}

impl LiveAttribution {
    /// One line for people: which mechanism ran, and what it found.
    pub fn describe(&self) -> String {
        let s = &self.stats;
        let mechanism = match self.mechanism.as_str() {
            "events+proc" => format!(
                "the kernel's socket events ({}) and /proc",
                self.tracepoints.join(", ")
            ),
            _ => "/proc only".to_string(),
        };
        let mut line = format!(
            "processes found by {mechanism}: {} by event, {} by socket, {} by a guess (listener), {} unknown",
            s.by_event, s.by_socket, s.by_listener, s.not_found
        );
        if let Some(why) = &self.events_unavailable {
            line.push_str(&format!("; socket events did not run: {why}"));
        }
        if !self.tracepoints_missing.is_empty() {
            line.push_str(&format!(
                "; missing tracepoints: {}",
                self.tracepoints_missing.join(", ")
            ));
        }
        if self.events_lost > 0 {
            line.push_str(&format!(
                "; {} events lost to a full kernel buffer",
                self.events_lost
            ));
        }
        for n in &self.notes {
            line.push_str(&format!("; {n}"));
        }
        line
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct CutShort {
    /// Byte offset (of the decompressed stream) where reading stopped.
    pub offset: u64,
    pub what: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct RulesInfo {
    /// `builtin:plex` or the path given.
    pub path: String,
    pub sha256: String,
    pub server: String,
    /// Every rule, in file order, with the flows it decided.
    pub rules: Vec<RuleUse>,
    /// Every rules file, the vendor's first, then the owner's layers, with its SHA-256.
    pub layers: Vec<RulesLayer>,
}

#[derive(Clone, Debug, Serialize)]
pub struct RulesLayer {
    pub path: String,
    pub sha256: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct RuleUse {
    pub id: String,
    pub kind: RuleKind,
    pub category: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub basis: Option<Basis>,
    pub justification: String,
    /// Flows whose verdict this rule decided, and the bytes they sent out.
    pub flows: u64,
    pub bytes_out: u64,
    /// The rules file that declared it.
    pub file: String,
    /// Where its hosts, ports and purpose come from.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub sources: Vec<String>,
}

// The consent state is settings' to decide: its types live there.
pub use crate::settings::consent::{OptOut, OptOutState};

#[derive(Clone, Debug, Default, Serialize)]
pub struct Totals {
    pub flows: u64,
    /// Bytes that left the local side (IP bytes).
    pub bytes_out: u64,
    pub bytes_in: u64,
}

impl Totals {
    fn add(&mut self, f: &FlowReport) {
        self.flows += 1;
        self.bytes_out += f.bytes_out;
        self.bytes_in += f.bytes_in;
    }

    fn add_group(&mut self, g: &crate::pipeline::groups::FlowGroup) {
        self.flows += g.flows;
        self.bytes_out += g.bytes_out;
        self.bytes_in += g.bytes_in;
    }
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct Summary {
    /// By verdict kind: flagged, declared, allowed, local.
    pub verdicts: BTreeMap<VerdictKind, Totals>,
    /// By verdict, then category.
    pub categories: Vec<CategoryTotals>,
    /// Flagged flows kept in full, by class: every class, in [`VerdictClass::ALL`]'s order, with
    /// 0 for those absent, so that a consumer reads a count rather than infers one from a missing
    /// key. Flows folded into `flow_groups` keep no class and are not counted here.
    pub flagged_by_class: BTreeMap<VerdictClass, u64>,
    /// The same for allowed flows (the owner has not opted out): what would be flagged otherwise.
    pub allowed_by_class: BTreeMap<VerdictClass, u64>,
}

/// The flows of one verdict kind that share a class (or that have none), as the reports for
/// people list them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClassRow {
    /// `None` for flows of the kind that carry no class.
    pub class: Option<VerdictClass>,
    pub flows: u64,
    pub bytes_out: u64,
    /// Their ids, in report order.
    pub ids: Vec<u64>,
}

#[derive(Clone, Debug, Serialize)]
pub struct CategoryTotals {
    pub verdict: VerdictKind,
    pub category: String,
    #[serde(flatten)]
    pub totals: Totals,
}

#[derive(Clone, Debug, Serialize)]
pub struct Endpoint {
    pub address: IpAddr,
    pub port: u16,
    pub scope: Scope,
}

#[derive(Clone, Debug, Serialize)]
pub struct TcpReport {
    /// Zeek-style: upper case for the client, lower case for the server.
    pub history: String,
    pub state: ConnState,
}

#[derive(Clone, Debug, Serialize)]
pub struct FlowReport {
    pub id: u64,
    pub protocol: String,
    pub client: Endpoint,
    pub server: Endpoint,
    /// How the client was decided: `syn`, `service_port`, `first_packet`.
    pub initiator_by: InitiatorBy,
    pub locality: Locality,
    pub app: AppProto,
    pub names: Vec<FlowName>,
    /// What the dissectors saw besides names (a ClientHello, a QUIC Initial).
    pub seen: Seen,
    /// The local process behind the flow (live capture on its host only), and how it was found:
    /// `socket` (the flow's own socket) or `listener` (the socket was gone: the process listening
    /// on its local port).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub process: Option<crate::attrib::Attribution>,
    /// Bytes over the flow's life (for the terminal UI's sparkline; not in the JSON report).
    #[serde(skip)]
    pub timeline: crate::flows::timeline::Timeline,
    /// Client → server.
    pub up: DirStats,
    /// Server → client.
    pub down: DirStats,
    /// IP bytes that left the local side, and came in.
    pub bytes_out: u64,
    pub bytes_in: u64,
    pub first_seen: Timestamp,
    pub last_seen: Timestamp,
    pub duration_s: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tcp: Option<TcpReport>,
    /// Why the flow ended: `closed`, `idle`, `evicted` or `end` (of the capture).
    pub ended_by: crate::flows::EndReason,
    pub verdict: Verdict,
    /// With `--baseline`: the flow went to a destination the old report never saw.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub new_destination: bool,
}

impl FlowReport {
    pub fn from_flow(f: &Flow) -> FlowReport {
        let verdict = f.verdict.clone().unwrap_or_else(|| Verdict {
            kind: VerdictKind::Flagged,
            class: Some(crate::rules::verdict::VerdictClass::CannotJudge),
            category: "unexplained".into(),
            rule: None,
            also: Vec::new(),
            reason: "not judged".into(),
        });
        FlowReport {
            id: f.id,
            protocol: f.proto.name(),
            client: Endpoint {
                address: f.client.ip(),
                port: f.client.port(),
                scope: f.client_scope,
            },
            server: Endpoint {
                address: f.server.ip(),
                port: f.server.port(),
                scope: f.server_scope,
            },
            initiator_by: f.initiator_by,
            locality: f.locality(),
            app: f.app,
            names: f.names.clone(),
            seen: f.seen.clone(),
            process: f.process.clone(),
            timeline: f.timeline.clone(),
            up: f.up,
            down: f.down,
            bytes_out: f.bytes_out(),
            bytes_in: f.bytes_in(),
            first_seen: f.first_seen,
            last_seen: f.last_seen,
            duration_s: (f.duration_secs() * 1e6).round() / 1e6,
            tcp: f.tcp.as_ref().map(|t| TcpReport {
                history: t.history().to_string(),
                state: t.state(),
            }),
            ended_by: f.ended_by.unwrap_or(crate::flows::EndReason::End),
            verdict,
            new_destination: false,
        }
    }

    /// The party the audit is about (the internet side; for local flows the server).
    pub fn remote(&self) -> &Endpoint {
        if self.locality == Locality::Inbound {
            &self.client
        } else {
            &self.server
        }
    }

    /// The local side.
    pub fn local(&self) -> &Endpoint {
        if self.locality == Locality::Inbound {
            &self.server
        } else {
            &self.client
        }
    }

    /// The best name: in-band (SNI, QUIC, Host) before DNS.
    pub fn primary_name(&self) -> Option<&FlowName> {
        crate::names::best(&self.names)
    }
}

/// What the report needs besides the audit's result.
pub struct Context {
    pub inputs: Vec<Input>,
    pub live: Option<LiveCapture>,
    pub scope: crate::rules::scope::ScopeReport,
    pub baseline: Option<super::baseline::Baseline>,
    pub settings: Option<crate::settings::Settings>,
    pub rules: RulesInfo,
    pub opt_out: OptOut,
    pub generated_at: Timestamp,
    pub warnings: Vec<String>,
}

/// How a report was judged, for its [`Context`]: the rules, the opt-out in force, the
/// settings read, the baseline, and the warnings of how the audit was set up.
#[derive(Clone)]
pub struct ReportBasis {
    pub rules: RulesInfo,
    pub opt_out: OptOut,
    pub settings: Option<crate::settings::Settings>,
    pub baseline: Option<super::baseline::Baseline>,
    pub warnings: Vec<String>,
}

impl Context {
    /// The one place a report's context is made (the offline audit, `audit -i`, the live
    /// view, the fuzz targets): how it was judged, what was read, the live capture if any,
    /// the scope, and this run's warnings after the basis's own; generated now.
    pub fn new(
        basis: ReportBasis,
        inputs: Vec<Input>,
        live: Option<LiveCapture>,
        scope: crate::rules::scope::ScopeReport,
        warnings: Vec<String>,
    ) -> Context {
        let mut all = basis.warnings;
        all.extend(warnings);
        Context {
            inputs,
            live,
            scope,
            baseline: basis.baseline,
            settings: basis.settings,
            rules: basis.rules,
            opt_out: basis.opt_out,
            generated_at: crate::time::now(),
            warnings: all,
        }
    }
}

impl RulesInfo {
    pub fn from_rules(r: &Rules) -> RulesInfo {
        RulesInfo {
            path: r.source.clone(),
            sha256: r.sha256.clone(),
            server: r.server.clone(),
            rules: r
                .rules
                .iter()
                .map(|x| RuleUse {
                    id: x.id.clone(),
                    kind: x.kind,
                    category: x.category.clone(),
                    basis: x.basis,
                    justification: x.justification.clone(),
                    flows: 0,
                    bytes_out: 0,
                    file: x.layer.clone(),
                    sources: x.sources.clone(),
                })
                .collect(),
            layers: r
                .layers
                .iter()
                .map(|(path, sha256)| RulesLayer {
                    path: path.clone(),
                    sha256: sha256.clone(),
                })
                .collect(),
        }
    }

    /// Adds each flow to the hits of the rule that decided its verdict.
    pub fn count<F: std::borrow::Borrow<FlowReport>>(&mut self, flows: &[F]) {
        for f in flows.iter().map(F::borrow) {
            let decided = f.verdict.rule.as_ref();
            if let Some(u) = decided.and_then(|id| self.rules.iter_mut().find(|r| &r.id == id)) {
                u.flows += 1;
                u.bytes_out += f.bytes_out;
            }
        }
    }

    /// Counts the flows folded into groups against the rules that decided them.
    pub fn count_groups(&mut self, groups: &[crate::pipeline::groups::FlowGroup]) {
        for g in groups {
            let decided = g.key.rule.as_ref();
            if let Some(u) = decided.and_then(|id| self.rules.iter_mut().find(|r| &r.id == id)) {
                u.flows += g.flows;
                u.bytes_out += g.bytes_out;
            }
        }
    }

    pub fn rule(&self, id: &str) -> Option<&RuleUse> {
        self.rules.iter().find(|r| r.id == id)
    }
}

impl Report {
    /// The report of an audit. Takes the result so that each flow's own memory is freed
    /// as its report is made: at the end of a long audit both would not fit side by side.
    pub fn build(mut result: AuditResult, ctx: Context) -> Report {
        let mut flows: Vec<FlowReport> = Vec::with_capacity(result.flows.len());
        let kept = std::mem::take(&mut result.flows);
        flows.extend(kept.into_iter().map(|f| FlowReport::from_flow(&f)));
        Report::from_flow_reports(flows, result, ctx)
    }

    /// [`Report::build`] from flows already made into reports (`result.flows` is not
    /// read): a live session whose pipeline thread panicked still has the flows of its
    /// last snapshot, and no pipeline left to ask.
    pub fn from_flow_reports(
        mut flows: Vec<FlowReport>,
        result: AuditResult,
        ctx: Context,
    ) -> Report {
        let baseline = ctx.baseline.as_ref().map(|b| b.mark(&mut flows));
        let mut verdicts: BTreeMap<VerdictKind, Totals> = BTreeMap::new();
        let mut cats: BTreeMap<(VerdictKind, String), Totals> = BTreeMap::new();
        for f in &flows {
            verdicts.entry(f.verdict.kind).or_default().add(f);
            cats.entry((f.verdict.kind, f.verdict.category.clone()))
                .or_default()
                .add(f);
        }
        for g in &result.groups {
            verdicts.entry(g.key.verdict).or_default().add_group(g);
            cats.entry((g.key.verdict, g.key.category.clone()))
                .or_default()
                .add_group(g);
        }
        let by_class = |kind: VerdictKind| -> BTreeMap<VerdictClass, u64> {
            let mut counts: BTreeMap<VerdictClass, u64> =
                VerdictClass::ALL.iter().map(|c| (*c, 0)).collect();
            for f in flows.iter().filter(|f| f.verdict.kind == kind) {
                if let Some(n) = f.verdict.class.and_then(|c| counts.get_mut(&c)) {
                    *n += 1;
                }
            }
            counts
        };
        let flagged_by_class = by_class(VerdictKind::Flagged);
        let allowed_by_class = by_class(VerdictKind::Allowed);
        let categories = cats
            .into_iter()
            .map(|((verdict, category), totals)| CategoryTotals {
                verdict,
                category,
                totals,
            })
            .collect();
        let mut rules = ctx.rules;
        rules.count(&flows);
        rules.count_groups(&result.groups);
        let mut warnings = ctx.warnings;
        for i in &ctx.inputs {
            if let Some(c) = &i.cut_short {
                warnings.push(format!(
                    "{} was cut short at byte {}: {}; the report covers the {} packets read before it",
                    i.path, c.offset, c.what, i.packets
                ));
            }
        }
        if let Some(l) = &ctx.live {
            let lost = l.dropped_by_kernel + l.dropped_by_interface + l.dropped_by_queue;
            if lost > 0 {
                warnings.push(format!(
                    "{lost} packets were lost before telltale saw them ({} by the kernel, {} by the interface, {} by telltale's queue): flows may be missing or incomplete",
                    l.dropped_by_kernel, l.dropped_by_interface, l.dropped_by_queue
                ));
            }
        }
        if !result.counters.add_up() {
            warnings.push("packet counters do not add up; please report this as a bug".into());
        }
        Report {
            schema: SCHEMA,
            tool: Tool {
                name: "telltale",
                version: env!("CARGO_PKG_VERSION"),
            },
            generated_at: ctx.generated_at,
            inputs: ctx.inputs,
            scope: ctx.scope,
            baseline,
            live: ctx.live,
            rules,
            opt_out: ctx.opt_out,
            settings: ctx.settings,
            capture_start: result.first_ts,
            capture_end: result.last_ts,
            counters: result.counters,
            summary: Summary {
                verdicts,
                categories,
                flagged_by_class,
                allowed_by_class,
            },
            blind_spots: blind_spots(&flows),
            warnings,
            names: result.inventory.entries().cloned().collect(),
            flows,
            flow_groups: result.groups,
            hook: None,
            history_days: Vec::new(),
        }
    }

    /// Flows grouped by their verdict's category, in category order.
    pub fn by_category<'a>(flows: &[&'a FlowReport]) -> BTreeMap<&'a str, Vec<&'a FlowReport>> {
        let mut by_cat: BTreeMap<&str, Vec<&FlowReport>> = BTreeMap::new();
        for f in flows {
            by_cat.entry(&f.verdict.category).or_default().push(f);
        }
        by_cat
    }

    /// The rules behind these flows: the deciding rules, then the other exceptions the same hosts serve.
    pub fn rules_behind<'a>(flows: &[&'a FlowReport]) -> Vec<&'a str> {
        let mut ids: Vec<&str> = Vec::new();
        let deciding = flows.iter().filter_map(|f| f.verdict.rule.as_deref());
        let others = flows
            .iter()
            .flat_map(|f| f.verdict.also.iter().map(String::as_str));
        for id in deciding.chain(others) {
            if !ids.contains(&id) {
                ids.push(id);
            }
        }
        ids
    }

    /// The flows kept in full of one verdict kind, by class: the classes present in
    /// [`VerdictClass::ALL`]'s order, then the flows that carry none. The reports for people
    /// list these so that a reader tells a collection endpoint from the vendor's undeclared host,
    /// a third party or a flow that cannot be judged, and can find each flow by its id. Left out:
    /// the flows a declared exception explains ([`Report::by_exception`]), which have no class
    /// because nothing is unexplained about them (allowed flows, when the owner has not opted out).
    pub fn by_class(&self, kind: VerdictKind) -> Vec<ClassRow> {
        let classes = VerdictClass::ALL.iter().copied().map(Some).chain([None]);
        classes
            .filter_map(|class| {
                let flows: Vec<&FlowReport> = self
                    .flows
                    .iter()
                    .filter(|f| {
                        f.verdict.kind == kind
                            && f.verdict.class == class
                            && !self.explained_by_exception(f)
                    })
                    .collect();
                (!flows.is_empty()).then(|| ClassRow {
                    class,
                    flows: flows.len() as u64,
                    bytes_out: flows.iter().map(|f| f.bytes_out).sum(),
                    ids: flows.iter().map(|f| f.id).collect(),
                })
            })
            .collect()
    }

    /// Flows kept in full of one verdict kind that a declared exception explains, so they have no
    /// class: the rest of the kind, beside [`Report::by_class`].
    pub fn by_exception(&self, kind: VerdictKind) -> u64 {
        self.flows
            .iter()
            .filter(|f| f.verdict.kind == kind && self.explained_by_exception(f))
            .count() as u64
    }

    /// A flow without a class whose deciding rule is an exception: when the owner has not opted
    /// out, an exception's flow is `allowed` rather than `declared`, and has no class.
    fn explained_by_exception(&self, f: &FlowReport) -> bool {
        f.verdict.class.is_none()
            && f.verdict
                .rule
                .as_deref()
                .and_then(|id| self.rules.rule(id))
                .is_some_and(|u| u.kind == RuleKind::Exception)
    }

    /// Flows of one verdict kind folded into groups, which keep no class: the reports say how
    /// many, so that the counts by class add up to the verdict's total.
    pub fn folded(&self, kind: VerdictKind) -> u64 {
        self.flow_groups
            .iter()
            .filter(|g| g.key.verdict == kind)
            .map(|g| g.flows)
            .sum()
    }

    /// Flagged flows, those kept in full and those folded into groups.
    pub fn flagged(&self) -> usize {
        let folded: u64 = self
            .flow_groups
            .iter()
            .filter(|g| g.key.verdict == VerdictKind::Flagged)
            .map(|g| g.flows)
            .sum();
        self.flows
            .iter()
            .filter(|f| f.verdict.kind == VerdictKind::Flagged)
            .count()
            .saturating_add(usize::try_from(folded).unwrap_or(usize::MAX))
    }
}
