//! Reading the history: what `telltale history` prints (day by day, or the destinations first
//! seen in a window), and the destinations known before a time, for `--baseline history:…`.
//! Every window is of packet time: a flow belongs to the UTC day of its first packet.

use super::{History, HistoryError};
use crate::report::baseline::Baseline;
use crate::time::Timestamp;
use rusqlite::params;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// A window of packet time: `[since, until)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Window {
    pub since: Timestamp,
    pub until: Timestamp,
}

/// One UTC day of the history.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Day {
    /// `2026-12-06`.
    pub day: String,
    pub flows: u64,
    pub flagged: u64,
    /// Destinations whose first sighting ever fell on this day.
    pub new_destinations: u64,
    /// Flagged flows by class (`undeclared`, `cannot_judge`, ...).
    pub flagged_by_class: BTreeMap<String, u64>,
    /// Flagged flows by category.
    pub flagged_by_category: BTreeMap<String, u64>,
    /// IP bytes that left, by category (every verdict).
    pub bytes_out_by_category: BTreeMap<String, u64>,
}

/// A destination first seen in the window.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct NewDestination {
    pub destination: String,
    pub first_seen: Timestamp,
    pub last_seen: Timestamp,
    /// Flows to it the history still holds.
    pub flows: u64,
    /// How its names were learned (`dns`, `tls_sni`, ...), or empty for an address.
    pub sources: Vec<String>,
    /// The verdicts its flows got (`flagged`, `declared`, ...).
    pub verdicts: Vec<String>,
    /// Categories its flows fell in.
    pub categories: Vec<String>,
}

/// What the history holds overall, for the summary line.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Totals {
    pub runs: u64,
    pub unfinished_runs: u64,
    pub flows: u64,
    pub destinations: u64,
    pub first_packet: Option<Timestamp>,
    pub last_packet: Option<Timestamp>,
}

fn count(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

impl History {
    /// The window's days, oldest first (days without flows left out).
    pub fn days(&self, w: Window) -> Result<Vec<Day>, HistoryError> {
        let mut days: BTreeMap<String, Day> = BTreeMap::new();
        let conn = self.conn();
        let e = |source| self.err(source);
        let mut stmt = conn
            .prepare(
                "SELECT day, verdict, class, category, count(*), sum(bytes_out)
                 FROM flows WHERE first_seen >= ?1 AND first_seen < ?2
                 GROUP BY day, verdict, class, category",
            )
            .map_err(e)?;
        let rows = stmt
            .query_map(params![w.since.0, w.until.0], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, Option<String>>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, i64>(4)?,
                    r.get::<_, Option<i64>>(5)?,
                ))
            })
            .map_err(e)?;
        for row in rows {
            let (day, verdict, class, category, n, bytes) = row.map_err(e)?;
            let d = days.entry(day.clone()).or_insert_with(|| Day {
                day,
                ..Day::default()
            });
            let n = count(n);
            d.flows += n;
            *d.bytes_out_by_category.entry(category.clone()).or_default() +=
                count(bytes.unwrap_or(0));
            if verdict == "flagged" {
                d.flagged += n;
                *d.flagged_by_category.entry(category).or_default() += n;
                *d.flagged_by_class
                    .entry(class.unwrap_or_else(|| "unknown".into()))
                    .or_default() += n;
            }
        }
        let mut stmt = conn
            .prepare(
                "SELECT first_seen FROM destinations WHERE first_seen >= ?1 AND first_seen < ?2",
            )
            .map_err(e)?;
        let firsts = stmt
            .query_map(params![w.since.0, w.until.0], |r| r.get::<_, i64>(0))
            .map_err(e)?;
        for first in firsts {
            let day = Timestamp(first.map_err(e)?).day();
            days.entry(day.clone())
                .or_insert_with(|| Day {
                    day,
                    ..Day::default()
                })
                .new_destinations += 1;
        }
        Ok(days.into_values().collect())
    }

    /// The destinations first seen in the window, in the order they appeared.
    pub fn new_destinations(&self, w: Window) -> Result<Vec<NewDestination>, HistoryError> {
        let conn = self.conn();
        let e = |source| self.err(source);
        let mut stmt = conn
            .prepare(
                "SELECT d.destination, d.first_seen, d.last_seen,
                        (SELECT count(*) FROM flows f WHERE f.destination = d.destination)
                 FROM destinations d
                 WHERE d.first_seen >= ?1 AND d.first_seen < ?2
                 ORDER BY d.first_seen, d.destination",
            )
            .map_err(e)?;
        let rows = stmt
            .query_map(params![w.since.0, w.until.0], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, i64>(2)?,
                    r.get::<_, i64>(3)?,
                ))
            })
            .map_err(e)?;
        let mut out = Vec::new();
        for row in rows {
            let (destination, first, last, flows) = row.map_err(e)?;
            out.push(NewDestination {
                sources: self.distinct(
                    "SELECT DISTINCT n.source FROM flow_names n JOIN flows f ON f.id = n.flow
                     WHERE f.destination = ?1 AND lower(n.name) = ?1 ORDER BY n.source",
                    &destination,
                )?,
                verdicts: self.distinct(
                    "SELECT DISTINCT verdict FROM flows WHERE destination = ?1 ORDER BY verdict",
                    &destination,
                )?,
                categories: self.distinct(
                    "SELECT DISTINCT category FROM flows WHERE destination = ?1 ORDER BY category",
                    &destination,
                )?,
                destination,
                first_seen: Timestamp(first),
                last_seen: Timestamp(last),
                flows: count(flows),
            });
        }
        Ok(out)
    }

    fn distinct(&self, sql: &str, key: &str) -> Result<Vec<String>, HistoryError> {
        let e = |source| self.err(source);
        let mut stmt = self.conn().prepare_cached(sql).map_err(e)?;
        let rows = stmt
            .query_map(params![key], |r| r.get::<_, String>(0))
            .map_err(e)?;
        rows.map(|r| r.map_err(e)).collect()
    }

    /// What the history holds.
    pub fn totals(&self) -> Result<Totals, HistoryError> {
        let conn = self.conn();
        let e = |source| self.err(source);
        let one = |sql: &str| -> Result<i64, HistoryError> {
            conn.query_row(sql, [], |r| r.get::<_, Option<i64>>(0))
                .map(|v| v.unwrap_or(0))
                .map_err(e)
        };
        let span: (Option<i64>, Option<i64>) = conn
            .query_row(
                "SELECT min(first_seen), max(last_seen) FROM flows",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .map_err(e)?;
        Ok(Totals {
            runs: count(one("SELECT count(*) FROM runs")?),
            unfinished_runs: count(one("SELECT count(*) FROM runs WHERE ended_at IS NULL")?),
            flows: count(one("SELECT count(*) FROM flows")?),
            destinations: count(one("SELECT count(*) FROM destinations")?),
            first_packet: span.0.map(Timestamp),
            last_packet: span.1.map(Timestamp),
        })
    }

    /// Every destination, name and remote address the history saw before `cutoff` (packet
    /// time), as a baseline: what `--baseline history:7d` compares with.
    pub fn baseline_before(
        &self,
        cutoff: Timestamp,
        label: &str,
    ) -> Result<Baseline, HistoryError> {
        let conn = self.conn();
        let e = |source| self.err(source);
        let mut known = BTreeSet::new();
        for sql in [
            "SELECT destination FROM destinations WHERE first_seen < ?1",
            "SELECT destination FROM flows WHERE first_seen < ?1",
            "SELECT remote FROM flows WHERE first_seen < ?1",
            "SELECT lower(n.name) FROM flow_names n JOIN flows f ON f.id = n.flow WHERE f.first_seen < ?1",
        ] {
            let mut stmt = conn.prepare(sql).map_err(e)?;
            let rows = stmt
                .query_map(params![cutoff.0], |r| r.get::<_, String>(0))
                .map_err(e)?;
            for r in rows {
                known.insert(r.map_err(e)?);
            }
        }
        Ok(Baseline {
            path: label.to_string(),
            known,
        })
    }
}
