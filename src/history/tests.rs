use super::recorder::Recorder;
use super::*;
use crate::audit::demo_report_for_tests;

fn temp() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("h.sqlite3");
    (dir, path)
}

#[test]
fn a_new_file_is_brought_to_the_current_schema_step_by_step() {
    let (_d, path) = temp();
    let h = History::open(&path).unwrap();
    let v: i64 = h
        .conn()
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(v, schema::VERSION);
    let mode: String = h
        .conn()
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
}

#[test]
fn a_history_of_each_earlier_version_keeps_its_rows_when_migrated() {
    // every version from the first: made by the migrations up to it, given a run, then
    // opened by this telltale
    for from in 1..=schema::VERSION {
        let (_d, path) = temp();
        {
            let c = Connection::open(&path).unwrap();
            for step in schema::MIGRATIONS
                .iter()
                .take(usize::try_from(from).unwrap())
            {
                c.execute_batch(step).unwrap();
            }
            c.execute_batch(&format!("PRAGMA user_version = {from}"))
                .unwrap();
            c.execute(
                "INSERT INTO runs (kind, started_at, ended_at, pid, tool_version) VALUES ('audit', 1, 2, 1, 'old')",
                [],
            )
            .unwrap();
        }
        let h = History::open(&path).unwrap();
        let runs: i64 = h
            .conn()
            .query_row("SELECT count(*) FROM runs", [], |r| r.get(0))
            .unwrap();
        assert_eq!(runs, 1, "from version {from}");
        let v: i64 = h
            .conn()
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(v, schema::VERSION);
    }
}

#[test]
fn a_newer_history_is_refused_not_rewritten() {
    let (_d, path) = temp();
    drop(History::open(&path).unwrap());
    {
        let c = Connection::open(&path).unwrap();
        c.execute_batch(&format!("PRAGMA user_version = {}", schema::VERSION + 1))
            .unwrap();
    }
    let err = History::open(&path).err().expect("refused");
    assert!(matches!(err, HistoryError::Newer { .. }), "{err}");
    assert!(err.to_string().contains("newer telltale"));
    assert!(History::open_read_only(&path).is_err());
}

#[test]
fn a_run_whose_process_is_gone_is_unfinished_and_a_running_one_is_not() {
    let (_d, path) = temp();
    let mut h = History::open(&path).unwrap();
    // this process: alive, so not unfinished
    let mine = h.begin_run(RunKind::Watch, Timestamp(5)).unwrap();
    // a process that has ended
    let mut child = std::process::Command::new("true").spawn().unwrap();
    let gone = child.id();
    child.wait().unwrap();
    h.conn()
        .execute(
            "INSERT INTO runs (kind, started_at, pid, host_boot, tool_version) VALUES ('audit-live', 7, ?1, ?2, 'x')",
            params![i64::from(gone), boot_id()],
        )
        .unwrap();
    let dead = h.conn().last_insert_rowid();
    // a run of another boot, whatever its pid
    h.conn()
        .execute(
            "INSERT INTO runs (kind, started_at, pid, host_boot, tool_version) VALUES ('watch', 9, ?1, 'another-boot', 'x')",
            params![i64::from(std::process::id())],
        )
        .unwrap();
    let other_boot = h.conn().last_insert_rowid();
    let runs: Vec<i64> = h.unfinished().unwrap().iter().map(|u| u.run).collect();
    assert_eq!(runs, vec![dead, other_boot]);
    assert!(!runs.contains(&mine));
}

#[test]
fn a_write_that_fails_stops_the_history_and_the_report_says_so() {
    let (_d, path) = temp();
    let report = demo_report_for_tests();
    let mut rec = Recorder::start(&path, RunKind::Audit, None).unwrap();
    // a full disk, as SQLite sees it: no page may be added
    rec.history_for_tests()
        .conn()
        .query_row("PRAGMA max_page_count = 1", [], |_| Ok(()))
        .unwrap();
    let said = rec.finish(&report);
    let text = said.join("\n");
    assert!(text.contains("could not be written"), "{text}");
    assert!(
        text.contains("the 0 flows committed before are in it"),
        "{text}"
    );
}

#[test]
fn flows_committed_as_they_end_are_replaced_by_their_final_verdict_not_doubled() {
    let (_d, path) = temp();
    let report = demo_report_for_tests();
    let mut rec = Recorder::start(&path, RunKind::Watch, None).unwrap();
    for f in report.flows.iter().take(5) {
        rec.queue(f.clone());
    }
    rec.commit();
    let said = rec.finish(&report);
    assert!(said.is_empty(), "{said:?}");
    let h = History::open_read_only(&path).unwrap();
    let t = h.totals().unwrap();
    assert_eq!(t.flows, report.flows.len() as u64);
    let names: i64 = h
        .conn()
        .query_row("SELECT count(*) FROM flow_names", [], |r| r.get(0))
        .unwrap();
    let want: usize = report.flows.iter().map(|f| f.names.len()).sum();
    assert_eq!(names, want as i64, "each flow's names once");
    assert_eq!(t.unfinished_runs, 0);
}

#[test]
fn prune_keeps_what_was_seen_since_and_forgets_the_rest() {
    let (_d, path) = temp();
    let report = demo_report_for_tests();
    let rec = Recorder::start(&path, RunKind::Audit, None).unwrap();
    rec.finish(&report);
    let mut h = History::open(&path).unwrap();
    let middle = report.flows.iter().map(|f| f.last_seen).max().unwrap();
    let kept_flows = report
        .flows
        .iter()
        .filter(|f| f.last_seen >= middle)
        .count();
    let gone = h.prune(middle).unwrap();
    assert_eq!(gone, report.flows.len() - kept_flows);
    assert_eq!(h.totals().unwrap().flows, kept_flows as u64);
    // the run still has flows: it stays
    assert_eq!(h.totals().unwrap().runs, 1);
    h.prune(Timestamp(i64::MAX)).unwrap();
    let t = h.totals().unwrap();
    assert_eq!((t.flows, t.destinations, t.runs), (0, 0, 0));
}

#[test]
fn a_burst_of_flows_is_committed_as_it_comes_not_held_for_the_second() {
    let (_d, path) = temp();
    let report = demo_report_for_tests();
    let mut rec = Recorder::start(&path, RunKind::Watch, None).unwrap();
    let flow = report.flows.first().unwrap();
    // more flows than one commit holds, all within the same second
    let n = crate::history::recorder::COMMIT_AT * 2 + 7;
    for i in 0..n {
        let mut f = flow.clone();
        f.id = 1_000_000 + i as u64;
        rec.queue(f);
    }
    // read by another connection while the run goes on: two commits are in, the rest waits
    let h = History::open_read_only(&path).unwrap();
    let in_it = h.totals().unwrap().flows;
    assert_eq!(in_it, 2 * crate::history::recorder::COMMIT_AT as u64);
}
