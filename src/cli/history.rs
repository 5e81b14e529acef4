//! The history on the command line: `--history PATH`, `--no-history` and `--keep` for the runs
//! that write it (`audit`, `audit -i`, `watch`), `--baseline history[:SINCE]`, and the
//! `telltale history` command that reads it.

use super::{EXIT_CLEAN, Failure};
use std::path::PathBuf;
use std::time::Duration;
use telltale::history::query::Window;
use telltale::history::recorder::Recorder;
use telltale::history::{self, History, RunKind, render};
use telltale::time::{Timestamp, now};

#[derive(clap::Args, Debug, Clone, Default)]
pub struct HistoryArgs {
    /// The history database this run is appended to (SQLite); default
    /// $XDG_STATE_HOME/telltale/history.sqlite3 (~/.local/state/telltale/ without XDG_STATE_HOME).
    #[arg(long, value_name = "PATH", conflicts_with = "no_history")]
    pub history: Option<PathBuf>,
    /// Do not write this run to the history.
    #[arg(long)]
    pub no_history: bool,
    /// Before the run, delete what the history last saw longer ago than this: 90d, 12w, 2160h.
    #[arg(long, value_name = "DURATION", conflicts_with = "no_history")]
    pub keep: Option<String>,
}

/// The history's path: `--history`, else the default place.
fn path_of(given: Option<&PathBuf>) -> Result<PathBuf, Failure> {
    match given {
        Some(p) => Ok(p.clone()),
        None => history::default_path().ok_or_else(|| {
            Failure::usage(
                "no place for the history: neither XDG_STATE_HOME nor HOME is set; give --history PATH or --no-history",
            )
        }),
    }
}

/// `7d`, `12h`, `2w`, `90m`, `45s`, or combinations (`1h30m`).
pub fn parse_length(flag: &str, s: &str) -> Result<Duration, Failure> {
    let bad = || {
        Failure::usage(format!(
            "{flag} takes a length of time such as 90s, 10m, 2h, 1h30m or 90d, not `{s}`"
        ))
    };
    let mut total: u64 = 0;
    let mut digits = String::new();
    for c in s.trim().chars() {
        if c.is_ascii_digit() {
            digits.push(c);
            continue;
        }
        let n: u64 = digits.parse().map_err(|_| bad())?;
        digits.clear();
        let unit = match c {
            's' => 1,
            'm' => 60,
            'h' => 3_600,
            'd' => 86_400,
            'w' => 7 * 86_400,
            _ => return Err(bad()),
        };
        total = total
            .checked_add(n.checked_mul(unit).ok_or_else(bad)?)
            .ok_or_else(bad)?;
    }
    if !digits.is_empty() || total == 0 {
        return Err(bad());
    }
    Ok(Duration::from_secs(total))
}

/// A point in time: a day (`2026-12-01`, midnight UTC) or a length of time before now (`7d`).
pub fn parse_when(flag: &str, s: &str) -> Result<Timestamp, Failure> {
    if let Some(t) = Timestamp::parse_day(s) {
        return Ok(t);
    }
    if s.trim() == "now" {
        return Ok(now());
    }
    let back = parse_length(flag, s).map_err(|_| {
        Failure::usage(format!(
            "{flag} takes a day (2026-12-01) or a length of time before now (7d, 12h), not `{s}`"
        ))
    })?;
    let secs = i64::try_from(back.as_secs()).unwrap_or(i64::MAX);
    Ok(now().saturating_add_secs(secs.saturating_neg()))
}

/// Opens the history and begins this run, unless `--no-history`. A file that is not a history
/// (or a newer telltale's) is an error before anything is read: the owner decides what becomes
/// of it. A history that cannot be written (a full disk, a folder of another user's) is a
/// warning, on standard error and in the report, and the run goes on without it.
pub fn start(a: &HistoryArgs, kind: RunKind) -> Result<Option<Recorder>, Failure> {
    if a.no_history {
        return Ok(None);
    }
    let keep = a
        .keep
        .as_deref()
        .map(|k| parse_length("--keep", k))
        .transpose()?;
    let path = path_of(a.history.as_ref())?;
    match Recorder::start(&path, kind, keep) {
        Ok(r) => Ok(Some(r)),
        Err(
            e @ (history::HistoryError::NotHistory { .. } | history::HistoryError::Newer { .. }),
        ) => Err(Failure::usage(format!("history: {e}"))),
        Err(e) => {
            let r = Recorder::unavailable(&path, &e);
            for w in r.warnings() {
                eprintln!("telltale: warning: {w}");
            }
            Ok(Some(r))
        }
    }
}

/// `--baseline history` (everything the history saw) or `--baseline history:7d` (what it saw
/// before a week ago: "new since last week"); `None` for a report's path.
pub fn baseline(
    given: Option<&PathBuf>,
    hist: &HistoryArgs,
) -> Result<Option<telltale::report::baseline::Baseline>, Failure> {
    let Some(text) = given.and_then(|p| p.to_str()) else {
        return Ok(None);
    };
    let since = match text.strip_prefix("history") {
        Some("") => None,
        Some(rest) => match rest.strip_prefix(':') {
            Some(when) => Some(parse_when("--baseline history:", when)?),
            None => return Ok(None),
        },
        None => return Ok(None),
    };
    let path = path_of(hist.history.as_ref())?;
    let h = History::open_read_only(&path)
        .map_err(|e| Failure::usage(format!("--baseline {text}: {e}")))?;
    let cutoff = since.unwrap_or(Timestamp(i64::MAX));
    let label = format!("{text} ({})", path.display());
    h.baseline_before(cutoff, &label)
        .map(Some)
        .map_err(|e| Failure::usage(format!("--baseline {text}: {e}")))
}

/// Whether `--baseline` names the history rather than a report.
pub fn names_history(given: Option<&PathBuf>) -> bool {
    given
        .and_then(|p| p.to_str())
        .is_some_and(|t| t == "history" || t.starts_with("history:"))
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum HistoryView {
    /// The window day by day: flows, flagged flows by class and category, new destinations,
    /// bytes out by category.
    #[default]
    Days,
    /// The destinations first seen in the window.
    New,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum HistoryFormat {
    #[default]
    Md,
    Json,
    Csv,
}

#[derive(clap::Args, Debug)]
pub struct HistoryCmd {
    /// What to show.
    #[arg(value_enum, default_value = "days")]
    pub view: HistoryView,
    /// The history database; default $XDG_STATE_HOME/telltale/history.sqlite3.
    #[arg(long, value_name = "PATH")]
    pub history: Option<PathBuf>,
    /// The window's start: a day (2026-12-01, UTC) or a length of time before now (7d, 12h).
    #[arg(long, value_name = "WHEN", default_value = "7d")]
    pub since: String,
    /// The window's end (not included): a day or a length of time before now; default now.
    #[arg(long, value_name = "WHEN")]
    pub until: Option<String>,
    /// How to print it: Markdown, JSON (schema `telltale.history/1`) or CSV.
    #[arg(long, value_enum, default_value = "md")]
    pub format: HistoryFormat,
}

pub fn run(c: &HistoryCmd) -> Result<i32, Failure> {
    let since = parse_when("--since", &c.since)?;
    let until = match &c.until {
        Some(u) => parse_when("--until", u)?,
        // now, and the nanosecond of now itself
        None => now().saturating_add_secs(1),
    };
    if until <= since {
        return Err(Failure::usage(format!(
            "--until ({}) must come after --since ({})",
            until.rfc3339(),
            since.rfc3339()
        )));
    }
    let path = path_of(c.history.as_ref())?;
    let h = History::open_read_only(&path).map_err(|e| Failure::usage(format!("history: {e}")))?;
    let w = Window { since, until };
    let fail = |e: history::HistoryError| Failure::usage(format!("history: {e}"));
    let totals = h.totals().map_err(fail)?;
    let shown = path.display().to_string();
    let text = match c.view {
        HistoryView::Days => {
            let days = h.days(w).map_err(fail)?;
            match c.format {
                HistoryFormat::Md => render::days_md(&shown, w, &totals, &days),
                HistoryFormat::Json => render::days_json(&shown, w, &totals, &days),
                HistoryFormat::Csv => render::days_csv(&days),
            }
        }
        HistoryView::New => {
            let new = h.new_destinations(w).map_err(fail)?;
            match c.format {
                HistoryFormat::Md => render::new_md(&shown, w, &totals, &new),
                HistoryFormat::Json => render::new_json(&shown, w, &totals, &new),
                HistoryFormat::Csv => render::new_csv(&new),
            }
        }
    };
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .map_err(|e| Failure::usage(format!("cannot write to standard output: {e}")))?;
    Ok(EXIT_CLEAN)
}
