//! The history's schema, versioned with SQLite's `user_version`. `MIGRATIONS[i]` takes a
//! history from version `i` to `i + 1`, in one transaction; a history of any earlier version
//! is brought up to date when a writer opens it. Times are nanoseconds since the epoch (UTC);
//! `day` is the UTC day of a flow's first packet.

use rusqlite::Connection;

/// The schema this telltale writes.
pub const VERSION: i64 = MIGRATIONS.len() as i64;

/// Each step, from the empty file on.
pub const MIGRATIONS: &[&str] = &[
    // 0 → 1: the first schema
    "CREATE TABLE runs (
        id INTEGER PRIMARY KEY,
        kind TEXT NOT NULL,
        started_at INTEGER NOT NULL,
        ended_at INTEGER,
        noticed INTEGER NOT NULL DEFAULT 0,
        pid INTEGER NOT NULL,
        host_boot TEXT,
        tool_version TEXT NOT NULL,
        capture_start INTEGER,
        capture_end INTEGER,
        rules_path TEXT,
        rules_sha256 TEXT,
        rules_layers TEXT,
        opt_out TEXT,
        opt_out_source TEXT,
        interface TEXT,
        packets INTEGER,
        flows INTEGER
    );
    CREATE TABLE inputs (
        run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
        path TEXT NOT NULL,
        format TEXT NOT NULL,
        sha256 TEXT,
        bytes INTEGER NOT NULL,
        packets INTEGER NOT NULL
    );
    CREATE TABLE flows (
        id INTEGER PRIMARY KEY,
        run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
        flow_id INTEGER NOT NULL,
        first_seen INTEGER NOT NULL,
        last_seen INTEGER NOT NULL,
        day TEXT NOT NULL,
        protocol TEXT NOT NULL,
        app TEXT NOT NULL,
        locality TEXT NOT NULL,
        client TEXT NOT NULL,
        server TEXT NOT NULL,
        remote TEXT NOT NULL,
        destination TEXT NOT NULL,
        process TEXT,
        verdict TEXT NOT NULL,
        class TEXT,
        category TEXT NOT NULL,
        rule TEXT,
        reason TEXT NOT NULL,
        bytes_out INTEGER NOT NULL,
        bytes_in INTEGER NOT NULL,
        UNIQUE (run_id, flow_id)
    );
    CREATE INDEX flows_by_day ON flows (day);
    CREATE INDEX flows_by_first_seen ON flows (first_seen);
    CREATE INDEX flows_by_last_seen ON flows (last_seen);
    CREATE INDEX flows_by_destination ON flows (destination);
    CREATE TABLE flow_names (
        flow INTEGER NOT NULL REFERENCES flows(id) ON DELETE CASCADE,
        name TEXT NOT NULL,
        source TEXT NOT NULL
    );
    CREATE INDEX flow_names_by_flow ON flow_names (flow);
    CREATE TABLE destinations (
        destination TEXT PRIMARY KEY,
        first_seen INTEGER NOT NULL,
        last_seen INTEGER NOT NULL,
        first_run INTEGER,
        last_run INTEGER
    );
    CREATE INDEX destinations_by_first_seen ON destinations (first_seen);",
];

/// Brings a history at `from` up to [`VERSION`], one step per transaction.
pub fn migrate(conn: &mut Connection, from: i64) -> rusqlite::Result<()> {
    let start = usize::try_from(from).unwrap_or(0);
    for (i, step) in MIGRATIONS.iter().enumerate().skip(start) {
        // immediate: the write lock first, so two writers opening a new file take turns
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        // another writer may have migrated meanwhile: the version is read again inside
        let now: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        if now > i as i64 {
            tx.commit()?;
            continue;
        }
        tx.execute_batch(step)?;
        tx.execute_batch(&format!("PRAGMA user_version = {}", i + 1))?;
        tx.commit()?;
    }
    Ok(())
}
