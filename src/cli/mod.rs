//! The binary's edge: arguments in, exit code out. Flags are parsed in two stages: clap
//! reads them, the choices (`--opt-out`, `--scope`, `--format`, `--speed`) already checked
//! into their types ([`telltale::config::choices`]); then each command validates the rest into the library's
//! types ([`telltale::audit::AuditConfig`]). Every error is printed once, here, and mapped to an exit code.

pub mod audit;
pub mod consent;
pub mod history;
pub mod live_audit;
pub mod rules_cmd;
pub mod verify;
pub mod watch;

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use telltale::config::choices::{FormatList, JournalFormat, OptOutChoice, ScopeChoice, Speed};

/// Exit status: nothing flagged.
pub const EXIT_CLEAN: i32 = 0;
/// Exit status: at least one flow flagged.
pub const EXIT_FLAGGED: i32 = 1;
/// Exit status: the audit could not be done.
pub const EXIT_ERROR: i32 = 2;
/// Exit status: an internal error (a bug): a thread panicked. Whatever report the run
/// was writing was written as far as it got (`live::fault`).
pub const EXIT_INTERNAL: i32 = 3;

#[derive(Parser, Debug)]
#[command(
    name = "telltale",
    version,
    about = "Audits what a self-hosted media server sends out of the house, from its captured traffic.",
    long_about = "Audits what a self-hosted media server sends out of the house. telltale reads captured traffic, \
names every remote party from what is on the wire (DNS answers, TLS SNI, HTTP Host), judges each flow against a \
rules file of the vendor's declared exceptions, and flags whatever leaves while the owner has opted out. \
It never sends a packet or looks anything up itself."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Audit capture files and write a report.
    #[command(
        after_help = "Exit status: 0 nothing flagged, 1 at least one flow flagged, 2 the audit could not be done, 3 an internal error (a bug)."
    )]
    Audit(AuditArgs),
    /// List the interfaces telltale can capture on, with their addresses and the default route's.
    Interfaces,
    /// What the history holds: day by day (flows, flagged flows by class and category, new
    /// destinations, bytes out by category), or the destinations first seen (`new`).
    #[command(
        after_help = "Every audit and watch appends to the history unless --no-history. Windows are of packet time (UTC days)."
    )]
    History(history::HistoryCmd),
    /// Rebuild the reports of a run from its journal (`audit --journal`).
    Report {
        #[arg(long = "from-journal", value_name = "PATH")]
        from_journal: PathBuf,
        /// md or json (one); default md.
        #[arg(long, value_name = "md|json", default_value = "md", value_parser = str::parse::<JournalFormat>)]
        format: JournalFormat,
        /// A file to write; default standard output.
        #[arg(short, long, value_name = "PATH")]
        output: Option<PathBuf>,
    },
    /// Print the consent state the server's settings give, and which exceptions they put in force.
    Prefs {
        /// The settings file (Plex Preferences.xml or plist, Jellyfin or Emby system.xml); default: the usual places.
        #[arg(value_name = "PATH")]
        path: Option<PathBuf>,
        /// The rules whose conditions to check: plex, jellyfin, emby or a path.
        #[arg(long, value_name = "plex|PATH", default_value = "plex")]
        rules: String,
    },
    /// Check a rules file, or test it on captures.
    #[command(subcommand)]
    Rules(RulesCommand),
    /// Watch a server's traffic live in the terminal (or replay a capture with -r).
    #[command(
        after_help = "Keys: ? for help, / filter, Enter details, Tab views, s sort, p pause, e export, q quit."
    )]
    Watch(WatchArgs),
    /// Check an audit bundle (`audit --format all -o DIR`) against its manifest: every file's
    /// SHA-256, and that none is missing.
    #[command(
        after_help = "Exit status: 0 every file matches, 1 a file changed or is missing, 2 no readable manifest, 3 an internal error (a bug)."
    )]
    Verify {
        /// The bundle's folder (holding manifest.json).
        #[arg(value_name = "DIR")]
        dir: PathBuf,
    },
    /// Replay the built-in demo capture (a Plex server whose owner opted out) in the live view.
    /// Without a terminal, or with --print, print its audit report instead.
    Demo(DemoArgs),
}

#[derive(Subcommand, Debug)]
pub enum RulesCommand {
    /// Validate a rules file: errors as file:line:column with the line and a caret (exit 2); warnings for
    /// rules shadowed by earlier ones, overlapping host patterns and undescribed categories.
    Check {
        /// A rules file, or a built-in name (plex).
        #[arg(value_name = "PATH")]
        path: PathBuf,
    },
    /// Audit captures with a rules file: how many flows and bytes each rule matched, which rules never
    /// matched, which flows nothing matched.
    Test {
        #[arg(value_name = "PATH")]
        path: PathBuf,
        #[arg(required = true, value_name = "CAPTURE")]
        captures: Vec<PathBuf>,
        /// The owner's data-sharing choice: `auto`, as for `audit` without settings, the strictest
        /// reading (opted out); `on` (opted out) or `off`.
        #[arg(long = "opt-out", value_name = "auto|on|off", default_value = "auto", value_parser = str::parse::<OptOutChoice>)]
        opt_out: OptOutChoice,
    },
}

#[derive(clap::Args, Debug)]
pub struct AuditArgs {
    /// pcap or pcapng files (detected by content, optionally gzip-compressed); `-` reads standard input.
    #[arg(
        required_unless_present = "interface",
        conflicts_with = "interface",
        value_name = "CAPTURE"
    )]
    pub captures: Vec<PathBuf>,
    /// Capture live on this interface instead (`any` for all), until --duration ends or SIGINT/SIGTERM.
    #[arg(short, long, value_name = "IFACE")]
    pub interface: Option<String>,
    /// A BPF capture filter for live capture, e.g. "host 192.168.1.10".
    #[arg(short, long, value_name = "BPF", requires = "interface")]
    pub filter: Option<String>,
    /// How long to capture live: 90s, 10m, 2h, 1h30m (default: until SIGINT or SIGTERM).
    #[arg(long, value_name = "DURATION", requires = "interface")]
    pub duration: Option<String>,
    /// Put the interface in promiscuous mode (a mirror port, another machine's traffic).
    #[arg(long, requires = "interface")]
    pub promisc: bool,
    /// Do not tie flows to processes (no /proc, no kernel events): every process is unknown, and
    /// `--scope server` then keeps every flow.
    #[arg(long, requires = "interface")]
    pub no_attribution: bool,
    /// The most flows held live at once; beyond it the longest-idle are evicted (counted in the report).
    /// At most N/2 ended flows are kept whole; beyond that the oldest, unflagged first, are summarised
    /// in groups of alike flows, every one still counted.
    #[arg(long = "max-flows", value_name = "N")]
    pub max_flows: Option<usize>,
    /// Append each flow's verdict to this file as a JSON line the moment it is decided (flushed), so a
    /// killed run loses at most one line; `telltale report --from-journal` rebuilds the reports.
    #[arg(long, value_name = "PATH")]
    pub journal: Option<PathBuf>,
    /// Start a new journal file daily (UTC) or before it would pass a size (100M, 1G): the full
    /// one is renamed PATH.<UTC time>Z. No line is lost or split.
    #[arg(long = "journal-rotate", value_name = "daily|SIZE", requires = "journal", value_parser = str::parse::<telltale::report::journal::Rotation>)]
    pub journal_rotate: Option<telltale::report::journal::Rotation>,
    /// Rotated journal files kept (the oldest are deleted beyond it).
    #[arg(
        long = "journal-keep",
        value_name = "N",
        default_value = "10",
        requires = "journal_rotate"
    )]
    pub journal_keep: usize,
    /// Write the packets of every flagged flow, and the DNS answers that named them, to this
    /// pcapng file, each packet with a comment saying why (open it in Wireshark).
    #[arg(long, value_name = "PATH")]
    pub evidence: Option<PathBuf>,
    /// Do not compute the SHA-256 of each capture file. The report then cannot name the exact
    /// file it came from (it says "not computed"); the audit saves about 0.65 s of CPU per GB.
    #[arg(long = "no-digest", conflicts_with = "interface")]
    pub no_digest: bool,
    #[command(flatten)]
    pub judge: JudgeArgs,
    #[command(flatten)]
    pub out: OutputArgs,
    #[command(flatten)]
    pub history: history::HistoryArgs,
    #[command(flatten)]
    pub hook: HookArgs,
}

/// `--on-flagged`: the owner's command, run for each newly flagged flow (live runs only).
#[derive(clap::Args, Debug, Clone, Default)]
pub struct HookArgs {
    /// Run this command (with `sh -c`) once for each newly flagged flow: the flow as JSON on its
    /// standard input, a summary in TELLTALE_* environment variables. It never holds up the
    /// capture; its exit status and standard error are logged in the report. telltale itself
    /// still sends nothing: what the command does is the owner's choice.
    #[arg(long = "on-flagged", value_name = "CMD", value_parser = a_command)]
    pub on_flagged: Option<String>,
    /// At most N calls a minute; the flows beyond are told in one summary call.
    #[arg(
        long = "on-flagged-rate",
        value_name = "N",
        default_value = "10",
        requires = "on_flagged",
        value_parser = a_rate
    )]
    pub on_flagged_rate: u32,
}

/// `--on-flagged`'s value: a command, not blank.
fn a_command(s: &str) -> Result<String, String> {
    if s.trim().is_empty() {
        Err("it needs a command to run, such as `logger -t telltale`".into())
    } else {
        Ok(s.to_owned())
    }
}

/// `--on-flagged-rate`'s value: calls a minute, at least one.
fn a_rate(s: &str) -> Result<u32, String> {
    match s.parse::<u32>() {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err("it takes a number of calls a minute, at least 1".into()),
    }
}

impl HookArgs {
    /// The hook's thread, started (after privileges are dropped: the command runs as the user
    /// telltale runs as then).
    pub fn start(&self) -> Result<Option<telltale::live::hook::Hook>, Failure> {
        let Some(cmd) = &self.on_flagged else {
            return Ok(None);
        };
        telltale::live::hook::Hook::start(cmd, self.on_flagged_rate)
            .map(Some)
            .map_err(|e| Failure::usage(format!("--on-flagged: cannot start its thread: {e}")))
    }
}

#[derive(clap::Args, Debug)]
pub struct JudgeArgs {
    /// Rules file: a built-in name (plex, jellyfin, emby) or a path to a TOML rules file. Give it again
    /// to layer your own exceptions over the vendor's: `--rules plex --rules ./mine.toml`.
    #[arg(long, value_name = "plex|PATH", default_value = "plex", action = clap::ArgAction::Append)]
    pub rules: Vec<String>,
    /// The owner's data-sharing choice: `auto` reads it from the server's settings (a setting left out takes
    /// the vendor's default; no settings at all, the strictest reading: opted out); `on` (opted out) or
    /// `off` override them.
    #[arg(long = "opt-out", value_name = "auto|on|off", default_value = "auto", value_parser = str::parse::<OptOutChoice>)]
    pub opt_out: OptOutChoice,
    /// The server's settings file (Plex Preferences.xml or its macOS plist, Jellyfin or Emby system.xml, with
    /// Jellyfin's network.xml beside it); default: the usual places. They say which exceptions are in force.
    #[arg(long, value_name = "PATH")]
    pub prefs: Option<PathBuf>,
    /// Which flows to audit: `server` (the server's processes, as the rules' [server] names them; the
    /// default when live capture can see processes) or `host` (every flow).
    #[arg(long, value_name = "server|host", value_parser = str::parse::<ScopeChoice>)]
    pub scope: Option<ScopeChoice>,
    /// Audit one machine's traffic seen from another (a NAS captured over ssh, a mirror port): only
    /// flows to or from ADDR, with ADDR counted as local.
    #[arg(long = "server-ip", value_name = "ADDR", conflicts_with = "scope")]
    pub server_ip: Option<std::net::IpAddr>,
    /// An earlier JSON report: every destination it never saw is marked new. `history` compares
    /// with every destination the history saw; `history:7d` (or `history:2026-12-01`) with
    /// those it saw before then: what is new since last week.
    #[arg(long, value_name = "OLD_REPORT.json|history[:WHEN]")]
    pub baseline: Option<PathBuf>,
}

impl From<&JudgeArgs> for telltale::audit::AuditSpec {
    fn from(a: &JudgeArgs) -> telltale::audit::AuditSpec {
        telltale::audit::AuditSpec {
            rules: a.rules.clone(),
            opt_out: a.opt_out,
            prefs: a.prefs.clone(),
            scope: a.scope,
            server_ip: a.server_ip,
            // `--baseline history...` is read from the history, not as a report
            baseline: a
                .baseline
                .clone()
                .filter(|_| !history::names_history(a.baseline.as_ref())),
        }
    }
}

impl JudgeArgs {
    /// The audit's configuration, with the baseline read from the history when `--baseline`
    /// names it.
    pub fn config(
        &self,
        hist: &history::HistoryArgs,
    ) -> Result<telltale::audit::AuditConfig, Failure> {
        let from_history = history::baseline(self.baseline.as_ref(), hist)?;
        let mut config = telltale::audit::AuditConfig::new(&self.into())?;
        if from_history.is_some() {
            config.baseline = from_history;
        }
        Ok(config)
    }
}

#[derive(clap::Args, Debug)]
pub struct OutputArgs {
    /// Report formats, comma-separated: md, json, html, csv; `all` writes the audit bundle
    /// (every format, evidence.pcapng and manifest.json) into the folder -o names.
    #[arg(long, value_name = "md|json|html|csv|all[,..]", default_value = "md", value_parser = str::parse::<FormatList>)]
    pub format: FormatList,
    /// A file for one format, a directory for several; default standard output.
    #[arg(short, long, value_name = "PATH")]
    pub output: Option<PathBuf>,
    /// Replace files that already exist (never a symbolic link).
    #[arg(long)]
    pub force: bool,
}

#[derive(clap::Args, Debug)]
pub struct WatchArgs {
    /// Interface to capture on (`any` for all); default: the one holding the default route.
    #[arg(short, long, value_name = "IFACE", conflicts_with = "read")]
    pub interface: Option<String>,
    /// A BPF capture filter, e.g. "host 192.168.1.10".
    #[arg(short, long, value_name = "BPF", conflicts_with = "read")]
    pub filter: Option<String>,
    /// Put the interface in promiscuous mode (to see other machines' traffic on a mirror port).
    #[arg(long, conflicts_with = "read")]
    pub promisc: bool,
    /// Do not tie flows to processes (no /proc, no kernel events): every process is unknown, and
    /// `--scope server` then keeps every flow.
    #[arg(long, conflicts_with = "read")]
    pub no_attribution: bool,
    /// Replay a capture file instead (`-` reads standard input), paced by its timestamps.
    #[arg(short, long, value_name = "CAPTURE")]
    pub read: Option<PathBuf>,
    /// Replay speed: 1 is real time, 10 ten times faster, `max` as fast as it reads.
    #[arg(long, value_name = "N|max", default_value = "1", value_parser = str::parse::<Speed>)]
    pub speed: Speed,
    #[command(flatten)]
    pub judge: JudgeArgs,
    /// Write the report when the session ends (quit, SIGINT, SIGTERM, SIGHUP): a .json or .md
    /// file, or a folder for both.
    #[arg(long, value_name = "PATH")]
    pub report: Option<PathBuf>,
    /// Ring the terminal bell when a flow is newly flagged.
    #[arg(long)]
    pub bell: bool,
    /// The most flows held live at once (default 262,144); at most N/2 ended flows are kept
    /// whole, the oldest beyond folded into groups (every flow still counted, and in the
    /// history): bounds the memory of a session of weeks.
    #[arg(long = "max-flows", value_name = "N")]
    pub max_flows: Option<usize>,
    #[command(flatten)]
    pub history: history::HistoryArgs,
    #[command(flatten)]
    pub hook: HookArgs,
}

#[derive(clap::Args, Debug)]
pub struct DemoArgs {
    /// Print the demo's audit report instead of showing the live view.
    #[arg(long)]
    pub print: bool,
    /// Replay speed (default 5: the five-minute capture plays in about a minute).
    #[arg(long, value_name = "N|max", value_parser = str::parse::<Speed>)]
    pub speed: Option<Speed>,
    #[command(flatten)]
    pub judge: JudgeArgs,
    #[command(flatten)]
    pub out: OutputArgs,
    /// Write the report when the live view ends: a .json or .md file, or a folder for both.
    #[arg(long, value_name = "PATH")]
    pub report: Option<PathBuf>,
    /// Ring the terminal bell when a flow is newly flagged.
    #[arg(long)]
    pub bell: bool,
}

/// An error worth one line (or a few) to the user, and the exit code it means.
#[derive(Debug)]
pub struct Failure {
    pub message: String,
    pub code: i32,
}

impl Failure {
    pub fn usage(message: impl Into<String>) -> Failure {
        Failure {
            message: message.into(),
            code: EXIT_ERROR,
        }
    }

    /// The one line after a panic: the thread that panicked, what became of the report
    /// (`outcome`, after a semicolon), and a request for a bug report. The panic's own
    /// message is printed above it, once the terminal is back.
    pub fn internal(thread: &str, outcome: &str) -> Failure {
        Failure {
            message: format!(
                "internal error: thread '{thread}' panicked; {outcome}; this is a bug in telltale, please report it with the panic message above"
            ),
            code: EXIT_INTERNAL,
        }
    }
}

/// A report that could not be written: the audit could not be done.
impl From<telltale::report::output::OutputError> for Failure {
    fn from(e: telltale::report::output::OutputError) -> Failure {
        Failure {
            message: e.message,
            code: EXIT_ERROR,
        }
    }
}

impl From<telltale::settings::consent::PrefsError> for Failure {
    fn from(e: telltale::settings::consent::PrefsError) -> Failure {
        Failure::usage(e.to_string())
    }
}

impl From<telltale::audit::AuditError> for Failure {
    fn from(e: telltale::audit::AuditError) -> Failure {
        Failure::usage(e.to_string())
    }
}

pub fn main() -> i32 {
    // before any thread starts: every panic is noted, and a live session ended (`live::fault`)
    telltale::live::fault::install_hook();
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() {
                EXIT_ERROR
            } else {
                EXIT_CLEAN
            };
            let _ = e.print();
            return code;
        }
    };
    // A panic that reaches this far (the live sessions catch their own) has written
    // nothing: the standard hook has printed its message, this adds the one line. A
    // command that went on after a helper thread's panic (a reading thread, say) ends
    // with the same line and status.
    let ran = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run(cli)));
    let panicked = telltale::live::fault::panicked;
    let failure = match ran {
        Ok(Ok(code)) => match panicked() {
            None => return code,
            Some(thread) => Failure::internal(&thread, "what was written may be incomplete"),
        },
        Ok(Err(f)) => f,
        Err(_) => {
            let thread = panicked().unwrap_or_else(|| "main".into());
            Failure::internal(&thread, "no report was written")
        }
    };
    eprintln!("telltale: {}", failure.message);
    failure.code
}

/// Gives up privileges, saying so on standard error when it cannot (the run goes on).
pub fn drop_privileges(need: telltale::privilege::Need) -> Option<telltale::privilege::Dropped> {
    match telltale::privilege::drop_privileges(need) {
        Ok(d) => Some(d),
        Err(e) => {
            eprintln!("telltale: warning: {e}; going on with the privileges it was started with");
            None
        }
    }
}

pub fn run(cli: Cli) -> Result<i32, Failure> {
    // Reading captures needs no privilege: give it all up before anything is read. Live
    // capture gives it up right after its capture handle is open.
    let live = matches!(&cli.command, Command::Audit(a) if a.interface.is_some())
        || matches!(&cli.command, Command::Watch(w) if w.read.is_none());
    if !live {
        drop_privileges(telltale::privilege::Need::Nothing);
    }
    match cli.command {
        Command::Audit(a) => audit::run(&a),
        Command::Watch(w) => watch::run_watch(&w),
        Command::History(h) => history::run(&h),
        Command::Rules(RulesCommand::Check { path }) => rules_cmd::run_check(&path),
        Command::Rules(RulesCommand::Test {
            path,
            captures,
            opt_out,
        }) => rules_cmd::run_test(&path, &captures, opt_out),
        Command::Report {
            from_journal,
            format,
            output,
        } => {
            let label = from_journal.display().to_string();
            let text = std::fs::read_to_string(&from_journal).map_err(|e| {
                Failure::usage(format!("--from-journal {label}: cannot read it: {e}"))
            })?;
            let v = telltale::report::journal::rebuild(&label, &text).map_err(Failure::usage)?;
            let body = match format {
                JournalFormat::Json => {
                    format!("{}\n", serde_json::to_string_pretty(&v).unwrap_or_default())
                }
                JournalFormat::Markdown => telltale::report::journal::rebuilt_markdown(&v),
            };
            match output {
                Some(p) => telltale::report::output::write_file(&p, body.as_bytes(), false)?,
                None => print!("{body}"),
            }
            let flagged = v
                .get("flows")
                .and_then(|f| f.as_array())
                .into_iter()
                .flatten()
                .any(|f| f.pointer("/verdict/kind").is_some_and(|k| k == "flagged"));
            Ok(if flagged { EXIT_FLAGGED } else { EXIT_CLEAN })
        }
        Command::Prefs { path, rules } => consent::run_prefs(path.as_deref(), &rules),
        Command::Verify { dir } => verify::run(&dir),
        Command::Interfaces => {
            let list = telltale::live::iface::list().map_err(Failure::usage)?;
            print!("{}", telltale::live::iface::render(&list));
            Ok(EXIT_CLEAN)
        }
        Command::Demo(d) => {
            use std::io::IsTerminal;
            let tty = std::io::stdout().is_terminal() && std::io::stdin().is_terminal();
            if d.print || !tty || d.out.output.is_some() {
                audit::run_demo(&d)
            } else {
                watch::run_demo_tui(&d)
            }
        }
    }
}
