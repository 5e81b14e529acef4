//! One run's writing to the history: the run begins when the audit starts, flows are committed
//! as they end (a live run, about once a second) and the rest with the final report. A write
//! that fails (a full disk, a lock held too long) stops the writing and never the audit: the
//! report says what the history is missing.

use super::{History, HistoryError, RunKind};
use crate::report::Report;
use crate::report::model::FlowReport;
use crate::time::{Timestamp, now};
use std::path::Path;
use std::time::{Duration, Instant};

/// How often a live run commits the flows that ended.
pub const COMMIT_EVERY: Duration = Duration::from_secs(1);
/// Flows queued that are committed at once, a second or not: at full speed a second holds
/// thousands, which would otherwise wait in memory.
pub const COMMIT_AT: usize = 512;

pub struct Recorder {
    /// `None` when the history could not be opened: nothing is written, and the report says so.
    history: Option<History>,
    path: std::path::PathBuf,
    run: i64,
    /// Why writing stopped, if it did.
    failed: Option<String>,
    /// What the report should say of the history (earlier runs that never finished).
    warnings: Vec<String>,
    /// Flows waiting for the next commit.
    pending: Vec<FlowReport>,
    committed: u64,
    last_commit: Instant,
}

impl Recorder {
    /// Opens the history at `path` and begins a run of `kind`, pruning first what is older
    /// than `keep` if given.
    pub fn start(
        path: &Path,
        kind: RunKind,
        keep: Option<Duration>,
    ) -> Result<Recorder, HistoryError> {
        let mut history = History::open(path)?;
        let unfinished = history.unfinished()?;
        // said once, by this run's report
        history.mark_noticed(&unfinished)?;
        let warnings = unfinished.iter().map(super::Unfinished::warning).collect();
        if let Some(keep) = keep {
            let secs = i64::try_from(keep.as_secs()).unwrap_or(i64::MAX);
            history.prune(now().saturating_add_secs(secs.saturating_neg()))?;
        }
        let run = history.begin_run(kind, now())?;
        Ok(Recorder {
            history: Some(history),
            path: path.to_path_buf(),
            run,
            failed: None,
            warnings,
            pending: Vec::new(),
            committed: 0,
            last_commit: Instant::now(),
        })
    }

    /// A recorder for a history that could not be opened: it writes nothing, and the
    /// report says why.
    pub fn unavailable(path: &Path, why: &HistoryError) -> Recorder {
        Recorder {
            history: None,
            path: path.to_path_buf(),
            run: 0,
            failed: None,
            warnings: vec![format!(
                "the history could not be opened ({why}{}); this run is not in it",
                super::disk_note(path)
            )],
            pending: Vec::new(),
            committed: 0,
            last_commit: Instant::now(),
        }
    }

    #[cfg(test)]
    pub(crate) fn history_for_tests(&mut self) -> &mut History {
        self.history.as_mut().expect("an open history")
    }

    /// What the report should say: runs that never finished, and a write that failed.
    pub fn warnings(&self) -> Vec<String> {
        let mut w = self.warnings.clone();
        if let Some(why) = &self.failed {
            w.push(format!(
                "the history ({}) could not be written: {why}; the {} flows committed before are in it, the rest of this run is not",
                self.path.display(),
                self.committed
            ));
        }
        w
    }

    fn fail(&mut self, e: &HistoryError) {
        if self.failed.is_none() {
            let why = format!("{e}{}", super::disk_note(&self.path));
            eprintln!(
                "telltale: warning: the history could not be written ({why}); the audit goes on without it"
            );
            self.failed = Some(why);
        }
        self.pending.clear();
    }

    /// Queues a flow that ended, for the next commit.
    pub fn queue(&mut self, flow: FlowReport) {
        if self.failed.is_none() && self.history.is_some() {
            self.pending.push(flow);
            if self.pending.len() >= COMMIT_AT {
                self.commit();
            }
        }
    }

    /// Commits the queued flows if a second has passed since the last commit (they are
    /// committed at once when [`COMMIT_AT`] are waiting).
    pub fn commit_if_due(&mut self) {
        if self.last_commit.elapsed() >= COMMIT_EVERY {
            self.commit();
        }
    }

    /// Commits the queued flows now.
    pub fn commit(&mut self) {
        self.last_commit = Instant::now();
        if self.failed.is_some() || self.pending.is_empty() {
            return;
        }
        let flows = std::mem::take(&mut self.pending);
        let Some(history) = self.history.as_mut() else {
            return;
        };
        match history.add_flows(self.run, &flows) {
            Ok(()) => self.committed += flows.len() as u64,
            Err(e) => self.fail(&e),
        }
    }

    /// Ends the run with its final report, and gives the report what the history says: its
    /// warnings, and (if `chart`: an HTML report is wanted) the last 30 days for its chart.
    pub fn finish_into(self, report: &mut Report, chart: bool) {
        let path = self.path.clone();
        let written = self.history.is_some();
        let said = self.finish(report);
        report.warnings.extend(said);
        if written && chart {
            report.history_days = last_days(&path, report);
        }
    }

    /// Ends the run with its final report: every flow of the report (one already committed
    /// is replaced by its final verdict) and how the run was judged. Returns the warnings the
    /// report should carry.
    pub fn finish(mut self, report: &Report) -> Vec<String> {
        // the flows that ended since the last commit first: the report may hold them no more
        // (folded into its groups)
        self.commit();
        if self.failed.is_none()
            && let Some(history) = self.history.as_mut()
        {
            let done = history
                .add_flows(self.run, &report.flows)
                .and_then(|()| history.finish_run(self.run, report, now()));
            match done {
                Ok(()) => {}
                Err(e) => self.fail(&e),
            }
        }
        self.warnings()
    }

    /// Ends the run without a report (the audit could not make one): what was committed
    /// stays, and the run is marked ended.
    pub fn abandon(mut self, at: Timestamp) {
        self.commit();
        if let Some(h) = &self.history {
            let _ = h.conn().execute(
                "UPDATE runs SET ended_at = ?2 WHERE id = ?1",
                rusqlite::params![self.run, at.0],
            );
        }
    }
}

/// Days the HTML report's chart shows.
pub const CHART_DAYS: i64 = 30;

/// The history's last [`CHART_DAYS`] days up to this report's last packet (or now, if later),
/// for the HTML report's chart; none if the history cannot be read.
pub fn last_days(path: &Path, report: &Report) -> Vec<crate::report::model::HistoryDay> {
    let Ok(h) = History::open_read_only(path) else {
        return Vec::new();
    };
    let end = report.capture_end.map_or(now(), |c| c.max(now()));
    let until = Timestamp::parse_day(&end.day())
        .unwrap_or(end)
        .saturating_add_secs(86_400);
    let since = until.saturating_add_secs(-CHART_DAYS * 86_400);
    let days = h
        .days(super::query::Window { since, until })
        .unwrap_or_default();
    days.into_iter()
        .map(|d| crate::report::model::HistoryDay {
            bytes_out: d.bytes_out_by_category.values().sum(),
            day: d.day,
            flows: d.flows,
            flagged: d.flagged,
            new_destinations: d.new_destinations,
        })
        .collect()
}
