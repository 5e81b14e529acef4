use super::*;
use crate::audit::demo_report_for_tests;
use crate::rules::verdict::VerdictKind;

fn flagged_flows() -> Vec<FlowReport> {
    let r = demo_report_for_tests();
    let flows: Vec<FlowReport> = r
        .flows
        .into_iter()
        .filter(|f| f.verdict.kind == VerdictKind::Flagged)
        .collect();
    assert!(flows.len() >= 3, "the demo flags flows");
    flows
}

#[test]
fn each_flagged_flow_is_told_once_with_its_json_and_a_summary_in_the_environment() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display();
    let cmd = format!(
        "cat > {d}/$TELLTALE_FLOW_ID.json; echo \"$TELLTALE_EVENT $TELLTALE_FLOW_ID $TELLTALE_DESTINATION $TELLTALE_CATEGORY\" >> {d}/calls"
    );
    let mut hook = Hook::start(&cmd, 100).unwrap();
    let all = demo_report_for_tests().flows;
    let flagged = flagged_flows();
    for f in all.iter().chain(all.iter()) {
        hook.flagged(f);
    }
    let stats = hook.finish(Duration::from_secs(30));
    assert_eq!(
        stats.flagged,
        flagged.len() as u64,
        "each flagged flow once"
    );
    assert_eq!(stats.calls, flagged.len() as u64);
    assert_eq!((stats.failed, stats.dropped, stats.unsent), (0, 0, 0));
    let calls = std::fs::read_to_string(dir.path().join("calls")).unwrap();
    assert_eq!(calls.lines().count(), flagged.len());
    for f in &flagged {
        let json = std::fs::read_to_string(dir.path().join(format!("{}.json", f.id))).unwrap();
        let v: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(v["id"], f.id);
        assert_eq!(v["verdict"]["kind"], "flagged");
        let line = format!(
            "flagged {} {} {}",
            f.id,
            Baseline::destination(f),
            f.verdict.category
        );
        assert!(calls.contains(&line), "{line} in {calls}");
    }
}

#[test]
fn beyond_the_rate_the_flows_are_counted_and_told_in_one_summary() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display();
    let cmd = format!("cat > {d}/call-$TELLTALE_EVENT-$$; echo $TELLTALE_FLAGGED > {d}/count-$$");
    let mut hook = Hook::start(&cmd, 2).unwrap();
    let flagged = flagged_flows();
    for f in &flagged {
        hook.flagged(f);
    }
    let stats = hook.finish(Duration::from_secs(30));
    let held = flagged.len() as u64 - 2;
    assert_eq!(stats.summarised, held);
    assert_eq!(stats.calls, 3, "two flows, then one summary");
    assert_eq!(stats.told, flagged.len() as u64);
    let summary = stats.last_calls.last().unwrap();
    assert_eq!((summary.event, summary.flows), ("summary", Some(held)));
    let files: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    let summaries: Vec<_> = files
        .iter()
        .filter(|f| f.starts_with("call-summary"))
        .collect();
    assert_eq!(summaries.len(), 1, "{files:?}");
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join(summaries[0])).unwrap())
            .unwrap();
    assert_eq!(v["summary"]["flagged"], held);
    assert_eq!(v["summary"]["flows"].as_array().unwrap().len() as u64, held);
}

#[test]
fn a_failing_command_is_logged_with_its_status_and_stderr() {
    let mut hook = Hook::start("echo 'no route to ntfy' >&2; exit 3", 100).unwrap();
    let f = &flagged_flows()[0];
    hook.flagged(f);
    let stats = hook.finish(Duration::from_secs(30));
    assert_eq!((stats.calls, stats.failed), (1, 1));
    let c = &stats.last_calls[0];
    assert_eq!(c.exit, Some(3));
    assert_eq!(c.flow, Some(f.id));
    assert!(c.stderr.contains("no route to ntfy"), "{c:?}");
}

#[test]
fn a_slow_command_never_holds_up_the_caller_and_what_it_cannot_take_is_counted() {
    // each call takes a second: the queue fills, and handing flows over still never waits
    let mut hook = Hook::start_with("sleep 1", 10_000, Duration::from_secs(5)).unwrap();
    let f = flagged_flows().remove(0);
    let started = Instant::now();
    for i in 0..(QUEUE as u64 + 50) {
        let mut g = f.clone();
        g.id = 1_000_000 + i;
        hook.flagged(&g);
    }
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "handing over waited"
    );
    let stats = hook.finish(Duration::from_millis(100));
    assert_eq!(stats.flagged, QUEUE as u64 + 50);
    assert!(stats.dropped >= 49, "{stats:?}");
    assert!(
        stats.unsent > 0,
        "the run ended with flows still queued: {stats:?}"
    );
    assert_eq!(stats.flagged, stats.dropped + stats.told + stats.unsent);
}

#[test]
fn a_command_that_hangs_is_killed_after_its_time() {
    let mut hook = Hook::start_with("sleep 30", 100, Duration::from_millis(300)).unwrap();
    hook.flagged(&flagged_flows()[0]);
    let stats = hook.finish(Duration::from_secs(10));
    let c = &stats.last_calls[0];
    assert_eq!(c.exit, None);
    assert!(c.error.as_deref().unwrap_or("").contains("killed"), "{c:?}");
    assert_eq!(stats.failed, 1);
}
