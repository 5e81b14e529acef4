//! The history: every audit and every `watch` appended to an SQLite database, so an owner can
//! ask what changed over weeks (`telltale history`), and an audit can mark what is new since
//! last week (`--baseline history:7d`).
//!
//! What it holds (schema in [`schema`], versioned, migrated forward on open):
//! - each run: its kind, wall-clock start and end, the capture's first and last packet, the
//!   inputs and their digests, the rules and their digest, the consent state and where it came
//!   from;
//! - each flow's verdict row: times, names with their sources, process, class, category, rule
//!   and bytes;
//! - each destination's first and last sighting (a flow's best name, else its remote address:
//!   what `--baseline` compares).
//!
//! It never holds a secret: the server's settings are not stored, only the consent state they
//! gave. The file is created mode 0600 in a folder of mode 0700. It runs in WAL mode, so readers
//! (`telltale history`) never wait for a writer, and a run killed mid-way loses only the flows
//! not yet committed: its run row stays open, and the next run that opens the history says so.
//! A file that is not a readable history is an error that says how to move it aside; telltale
//! never replaces it with a new empty one.

pub mod query;
pub mod recorder;
pub mod render;
pub mod schema;

use crate::report::Report;
use crate::report::baseline::Baseline;
use crate::report::model::FlowReport;
use crate::time::Timestamp;
use rusqlite::{Connection, OpenFlags, OptionalExtension, params};
use std::path::{Path, PathBuf};

/// The history's file name in its folder.
pub const FILE_NAME: &str = "history.sqlite3";

/// How long a writer waits for another to finish its transaction.
const BUSY_WAIT_MS: u64 = 10_000;

/// Why the history could not be used.
#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    #[error(
        "{path}: not a telltale history ({detail}). It was left as it is: move it aside (mv {path} {path}.bad) and the next run starts a new one, or give --history another path, or --no-history"
    )]
    NotHistory { path: String, detail: String },
    #[error(
        "{path}: written by a newer telltale (schema version {found}; this one reads up to {known}). Use the newer telltale, or give --history another path"
    )]
    Newer {
        path: String,
        found: i64,
        known: i64,
    },
    #[error("{path}: {detail}")]
    Io { path: String, detail: String },
    #[error("{path}: {source}")]
    Sql {
        path: String,
        source: rusqlite::Error,
    },
}

/// `" (the disk holding it is full)"` when the filesystem holding `path` has no room left
/// (SQLite reports a full tmpfs as an I/O error); else nothing.
pub fn disk_note(path: &Path) -> &'static str {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    match nix::sys::statvfs::statvfs(dir) {
        Ok(s) if s.blocks_available().saturating_mul(s.fragment_size()) < 64 << 10 => {
            " (the disk holding it is full)"
        }
        _ => "",
    }
}

/// What kind of run a history row records.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RunKind {
    /// `telltale audit` of capture files.
    Audit,
    /// `telltale audit -i`.
    AuditLive,
    /// `telltale watch`, live.
    Watch,
    /// `telltale watch -r`, a capture replayed.
    WatchReplay,
}

impl RunKind {
    pub fn as_str(self) -> &'static str {
        match self {
            RunKind::Audit => "audit",
            RunKind::AuditLive => "audit-live",
            RunKind::Watch => "watch",
            RunKind::WatchReplay => "watch-replay",
        }
    }
}

/// A run that began and never ended: its process died (killed, crashed, the machine went down).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unfinished {
    pub run: i64,
    pub kind: String,
    pub started_at: Timestamp,
    /// Flows of the run that were committed before it died.
    pub flows: i64,
}

impl Unfinished {
    /// What a report says of it.
    pub fn warning(&self) -> String {
        format!(
            "the history's run {} ({}, started {}) never finished: it holds the {} flows committed before it stopped, and any after them are missing",
            self.run,
            self.kind,
            self.started_at.rfc3339(),
            self.flows
        )
    }
}

/// An open history.
pub struct History {
    conn: Connection,
    path: PathBuf,
}

/// Where the history lives unless `--history` says: `$XDG_STATE_HOME/telltale/`, else
/// `~/.local/state/telltale/`. `None` when neither can be found.
pub fn default_path() -> Option<PathBuf> {
    let state = std::env::var_os("XDG_STATE_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| {
            std::env::var_os("HOME")
                .map(PathBuf::from)
                .filter(|p| p.is_absolute())
                .map(|h| h.join(".local").join("state"))
        })?;
    Some(state.join("telltale").join(FILE_NAME))
}

fn sql_error(path: &Path, source: rusqlite::Error) -> HistoryError {
    let shown = path.display().to_string();
    match source.sqlite_error_code() {
        Some(rusqlite::ErrorCode::NotADatabase) | Some(rusqlite::ErrorCode::DatabaseCorrupt) => {
            HistoryError::NotHistory {
                path: shown,
                detail: source.to_string(),
            }
        }
        _ => HistoryError::Sql {
            path: shown,
            source,
        },
    }
}

impl History {
    /// Opens the history at `path` for writing, creating it (and its folder) if absent, and
    /// brings its schema up to date.
    pub fn open(path: &Path) -> Result<History, HistoryError> {
        let io = |e: std::io::Error| HistoryError::Io {
            path: path.display().to_string(),
            detail: e.to_string(),
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty())
            && !dir.exists()
        {
            use std::os::unix::fs::DirBuilderExt;
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)
                .map_err(io)?;
        }
        if !path.exists() {
            // created here, mode 0600, before SQLite opens it (its own files follow its mode)
            use std::os::unix::fs::OpenOptionsExt;
            std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(path)
                .or_else(|e| {
                    if e.kind() == std::io::ErrorKind::AlreadyExists {
                        std::fs::File::open(path)
                    } else {
                        Err(e)
                    }
                })
                .map_err(io)?;
        }
        Self::connect(path, true)
    }

    /// Opens an existing history for reading only (`telltale history`): never creates or
    /// changes it.
    pub fn open_read_only(path: &Path) -> Result<History, HistoryError> {
        if !path.exists() {
            return Err(HistoryError::Io {
                path: path.display().to_string(),
                detail:
                    "no history there yet: an audit or a watch writes one (unless --no-history)"
                        .into(),
            });
        }
        Self::connect(path, false)
    }

    /// Opens the file (which exists), for writing or only reading, and checks or prepares it.
    fn connect(path: &Path, write: bool) -> Result<History, HistoryError> {
        let access = if write {
            OpenFlags::SQLITE_OPEN_READ_WRITE
        } else {
            OpenFlags::SQLITE_OPEN_READ_ONLY
        };
        let conn = Connection::open_with_flags(path, access | OpenFlags::SQLITE_OPEN_NO_MUTEX)
            .map_err(|e| sql_error(path, e))?;
        let mut h = History {
            conn,
            path: path.to_path_buf(),
        };
        h.prepare(write)?;
        Ok(h)
    }

    fn prepare(&mut self, write: bool) -> Result<(), HistoryError> {
        let path = self.path.clone();
        let e = |source| sql_error(&path, source);
        self.conn
            .busy_timeout(std::time::Duration::from_millis(BUSY_WAIT_MS))
            .map_err(e)?;
        // reading the schema version is the first read of the file: a file that is not a
        // database fails here
        let version: i64 = self
            .conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(e)?;
        if version > schema::VERSION {
            return Err(HistoryError::Newer {
                path: path.display().to_string(),
                found: version,
                known: schema::VERSION,
            });
        }
        if version == 0 {
            // a new history is an empty file; a database with tables of its own is another
            // program's, and is not written
            let tables: i64 = self
                .conn
                .query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get(0))
                .map_err(e)?;
            if tables > 0 {
                return Err(HistoryError::NotHistory {
                    path: path.display().to_string(),
                    detail: "an SQLite database without telltale's tables".into(),
                });
            }
        }
        if write {
            self.conn
                .query_row("PRAGMA journal_mode = WAL", [], |_| Ok(()))
                .map_err(e)?;
            // a small page cache: a writer of weeks appends, it does not search
            self.conn
                .execute_batch(
                    "PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; PRAGMA cache_size = -256;",
                )
                .map_err(e)?;
            schema::migrate(&mut self.conn, version).map_err(e)?;
        } else if version < schema::VERSION {
            // an older history is read after a writer migrates it; until then, say so
            return Err(HistoryError::Io {
                path: path.display().to_string(),
                detail: format!(
                    "schema version {version}, older than this telltale's {}: the next audit or watch brings it up to date",
                    schema::VERSION
                ),
            });
        } else {
            self.conn
                .execute_batch("PRAGMA foreign_keys = ON;")
                .map_err(e)?;
        }
        self.check_tables()
    }

    /// A database that is not a telltale history (another program's) is refused, not written.
    fn check_tables(&self) -> Result<(), HistoryError> {
        let runs: Option<String> = self
            .conn
            .query_row(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'runs'",
                [],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| sql_error(&self.path, e))?;
        if runs.is_none() {
            return Err(HistoryError::NotHistory {
                path: self.path.display().to_string(),
                detail: "an SQLite database without telltale's tables".into(),
            });
        }
        Ok(())
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn err(&self, source: rusqlite::Error) -> HistoryError {
        sql_error(&self.path, source)
    }

    /// Runs that began and never ended, whose process is gone (a run still going, such as a
    /// `watch` in another terminal, is not one), and that no run has reported yet.
    pub fn unfinished(&self) -> Result<Vec<Unfinished>, HistoryError> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT r.id, r.kind, r.started_at, r.pid, r.host_boot,
                        (SELECT count(*) FROM flows f WHERE f.run_id = r.id)
                 FROM runs r WHERE r.ended_at IS NULL AND r.noticed = 0 ORDER BY r.id",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, i64>(2)?,
                    r.get::<_, i64>(3)?,
                    r.get::<_, Option<String>>(4)?,
                    r.get::<_, i64>(5)?,
                ))
            })
            .map_err(|e| self.err(e))?;
        let boot = boot_id();
        let mut out = Vec::new();
        for row in rows {
            let (run, kind, started, pid, host_boot, flows) = row.map_err(|e| self.err(e))?;
            let same_boot = host_boot.is_some() && host_boot == boot;
            if same_boot && process_alive(pid) {
                continue;
            }
            out.push(Unfinished {
                run,
                kind,
                started_at: Timestamp(started),
                flows,
            });
        }
        Ok(out)
    }

    /// Marks runs as reported: the next runs do not report them again.
    pub fn mark_noticed(&self, runs: &[Unfinished]) -> Result<(), HistoryError> {
        for u in runs {
            self.conn
                .execute("UPDATE runs SET noticed = 1 WHERE id = ?1", params![u.run])
                .map_err(|e| self.err(e))?;
        }
        Ok(())
    }

    /// Records the start of a run; returns its id. A run that never reaches
    /// [`History::finish_run`] stays open, and later runs report it.
    pub fn begin_run(&mut self, kind: RunKind, started_at: Timestamp) -> Result<i64, HistoryError> {
        self.conn
            .execute(
                "INSERT INTO runs (kind, started_at, pid, host_boot, tool_version)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![
                    kind.as_str(),
                    started_at.0,
                    i64::from(std::process::id()),
                    boot_id(),
                    env!("CARGO_PKG_VERSION"),
                ],
            )
            .map_err(|e| self.err(e))?;
        Ok(self.conn.last_insert_rowid())
    }

    /// Appends flows of a run in one transaction (a flow already recorded for the run, by
    /// its id, is replaced: a later verdict wins), and updates each destination's sightings.
    pub fn add_flows(&mut self, run: i64, flows: &[FlowReport]) -> Result<(), HistoryError> {
        let path = self.path.clone();
        let e = |source| sql_error(&path, source);
        let tx = self.conn.transaction().map_err(e)?;
        {
            let mut flow_stmt = tx
                .prepare_cached(
                    "INSERT OR REPLACE INTO flows (run_id, flow_id, first_seen, last_seen, day,
                        protocol, app, locality, client, server, remote, destination, process,
                        verdict, class, category, rule, reason, bytes_out, bytes_in)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15,
                        ?16, ?17, ?18, ?19, ?20)",
                )
                .map_err(e)?;
            let mut name_stmt = tx
                .prepare_cached("INSERT INTO flow_names (flow, name, source) VALUES (?1, ?2, ?3)")
                .map_err(e)?;
            let mut dest_stmt = tx
                .prepare_cached(
                    "INSERT INTO destinations (destination, first_seen, last_seen, first_run, last_run)
                     VALUES (?1, ?2, ?3, ?4, ?4)
                     ON CONFLICT(destination) DO UPDATE SET
                        first_seen = min(first_seen, excluded.first_seen),
                        last_seen = max(last_seen, excluded.last_seen),
                        first_run = CASE WHEN excluded.first_seen < first_seen
                                         THEN excluded.first_run ELSE first_run END,
                        last_run = excluded.last_run",
                )
                .map_err(e)?;
            for f in flows {
                let row = FlowRow::of(f);
                flow_stmt
                    .execute(params![
                        run,
                        row.flow_id,
                        row.first_seen,
                        row.last_seen,
                        row.day,
                        row.protocol,
                        row.app,
                        row.locality,
                        row.client,
                        row.server,
                        row.remote,
                        row.destination,
                        row.process,
                        row.verdict,
                        row.class,
                        row.category,
                        row.rule,
                        row.reason,
                        row.bytes_out,
                        row.bytes_in,
                    ])
                    .map_err(e)?;
                let flow = tx.last_insert_rowid();
                for n in &f.names {
                    name_stmt
                        .execute(params![flow, n.name, n.source.as_str()])
                        .map_err(e)?;
                }
                dest_stmt
                    .execute(params![row.destination, row.first_seen, row.last_seen, run])
                    .map_err(e)?;
            }
        }
        tx.commit().map_err(e)
    }

    /// Records how a run ended, from its final report: the capture's span, the inputs and
    /// their digests, the rules and their digest, the consent state and its source.
    pub fn finish_run(
        &mut self,
        run: i64,
        report: &Report,
        ended_at: Timestamp,
    ) -> Result<(), HistoryError> {
        let path = self.path.clone();
        let e = |source| sql_error(&path, source);
        let tx = self.conn.transaction().map_err(e)?;
        let flows: i64 = tx
            .query_row(
                "SELECT count(*) FROM flows WHERE run_id = ?1",
                params![run],
                |r| r.get(0),
            )
            .map_err(e)?;
        let layers = serde_json::to_string(&report.rules.layers).unwrap_or_default();
        tx.execute(
            "UPDATE runs SET ended_at = ?2, capture_start = ?3, capture_end = ?4,
                rules_path = ?5, rules_sha256 = ?6, rules_layers = ?7, opt_out = ?8,
                opt_out_source = ?9, interface = ?10, packets = ?11, flows = ?12
             WHERE id = ?1",
            params![
                run,
                ended_at.0,
                report.capture_start.map(|t| t.0),
                report.capture_end.map(|t| t.0),
                report.rules.path,
                report.rules.sha256,
                layers,
                report.opt_out.state.as_str(),
                report.opt_out.source,
                report.live.as_ref().map(|l| l.interface.clone()),
                i64::try_from(report.counters.packets).unwrap_or(i64::MAX),
                flows,
            ],
        )
        .map_err(e)?;
        for i in &report.inputs {
            tx.execute(
                "INSERT INTO inputs (run_id, path, format, sha256, bytes, packets)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    run,
                    i.path,
                    i.format,
                    i.sha256,
                    i64::try_from(i.bytes).unwrap_or(i64::MAX),
                    i64::try_from(i.packets).unwrap_or(i64::MAX),
                ],
            )
            .map_err(e)?;
        }
        tx.commit().map_err(e)
    }

    /// Deletes what was last seen before `cutoff` (packet time): flows, then destinations no
    /// longer seen since, then finished runs left without flows. Returns the flows deleted.
    pub fn prune(&mut self, cutoff: Timestamp) -> Result<usize, HistoryError> {
        let path = self.path.clone();
        let e = |source| sql_error(&path, source);
        let tx = self.conn.transaction().map_err(e)?;
        let flows = tx
            .execute("DELETE FROM flows WHERE last_seen < ?1", params![cutoff.0])
            .map_err(e)?;
        tx.execute(
            "DELETE FROM destinations WHERE last_seen < ?1",
            params![cutoff.0],
        )
        .map_err(e)?;
        // a run's time is its last packet's (an audit of an old capture is as old as it)
        tx.execute(
            "DELETE FROM runs WHERE ended_at IS NOT NULL
               AND coalesce(capture_end, started_at) < ?1
               AND NOT EXISTS (SELECT 1 FROM flows f WHERE f.run_id = runs.id)",
            params![cutoff.0],
        )
        .map_err(e)?;
        tx.commit().map_err(e)?;
        Ok(flows)
    }

    pub(crate) fn conn(&self) -> &Connection {
        &self.conn
    }
}

/// One flow as the history stores it.
struct FlowRow {
    flow_id: i64,
    first_seen: i64,
    last_seen: i64,
    day: String,
    protocol: String,
    app: String,
    locality: String,
    client: String,
    server: String,
    remote: String,
    destination: String,
    process: Option<String>,
    verdict: &'static str,
    class: Option<String>,
    category: String,
    rule: Option<String>,
    reason: String,
    bytes_out: i64,
    bytes_in: i64,
}

/// A value's serde name (`"flagged"`, `"outbound"`), as the JSON report writes it.
fn serde_name<T: serde::Serialize>(v: &T) -> String {
    match serde_json::to_value(v) {
        Ok(serde_json::Value::String(s)) => s,
        Ok(other) => other.to_string(),
        Err(_) => String::new(),
    }
}

impl FlowRow {
    fn of(f: &FlowReport) -> FlowRow {
        FlowRow {
            flow_id: i64::try_from(f.id).unwrap_or(i64::MAX),
            first_seen: f.first_seen.0,
            last_seen: f.last_seen.0,
            day: f.first_seen.day(),
            protocol: f.protocol.clone(),
            app: serde_name(&f.app),
            locality: serde_name(&f.locality),
            client: std::net::SocketAddr::new(f.client.address, f.client.port).to_string(),
            server: std::net::SocketAddr::new(f.server.address, f.server.port).to_string(),
            remote: f.remote().address.to_string(),
            destination: Baseline::destination(f),
            process: f
                .process
                .as_ref()
                .and_then(|p| serde_json::to_string(p).ok()),
            verdict: f.verdict.kind.as_str(),
            class: f.verdict.class.as_ref().map(serde_name),
            category: f.verdict.category.clone(),
            rule: f.verdict.rule.clone(),
            reason: f.verdict.reason.clone(),
            bytes_out: i64::try_from(f.bytes_out).unwrap_or(i64::MAX),
            bytes_in: i64::try_from(f.bytes_in).unwrap_or(i64::MAX),
        }
    }
}

/// This boot's id: a pid recorded under another boot is not this boot's process.
fn boot_id() -> Option<String> {
    std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
        .ok()
        .map(|s| s.trim().to_string())
}

fn process_alive(pid: i64) -> bool {
    i32::try_from(pid).is_ok_and(|p| {
        matches!(
            nix::sys::signal::kill(nix::unistd::Pid::from_raw(p), None),
            Ok(()) | Err(nix::errno::Errno::EPERM)
        )
    })
}

#[cfg(test)]
mod tests;
