//! `telltale watch` and `telltale demo`: a live session. The capture thread (libpcap, a
//! replayed file, or the demo), the pipeline thread and the terminal UI, joined by
//! bounded channels; on every way out (quit, SIGINT, SIGTERM, SIGHUP, a panic in any
//! thread) the terminal is restored and the `--report` is written. After a panic one
//! line names the thread, and the exit status is [`EXIT_INTERNAL`].

use super::{DemoArgs, EXIT_CLEAN, EXIT_ERROR, EXIT_INTERNAL, Failure, WatchArgs};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64};
use std::sync::mpsc::sync_channel;
use std::thread::JoinHandle;
use telltale::audit::{AuditConfig, demo_reader};
use telltale::capture::file::{CaptureReader, InputDigest};
use telltale::history::RunKind;
use telltale::history::recorder::Recorder;
use telltale::live::attribution::FlowAttribution;
use telltale::live::engine::{Ended, Engine, ReportPlan};
use telltale::live::snapshot::{Snapshot, Source};
use telltale::live::source::{Feed, Running, ToPipeline, open_live, spawn_live, spawn_replay};
use telltale::live::{Event, fault, iface};
use telltale::pipeline::{Caps, Pipeline};
use telltale::report::model::RulesInfo;
use telltale::rules::Matcher;
use telltale::tui::run::{Ending, forward_signals, run};
use telltale::tui::{App, UiOptions};

/// How the capture starts, once the channels exist.
enum Start {
    Live(Box<pcap::Capture<pcap::Active>>),
    Replay(Box<CaptureReader>, Option<f64>),
}

/// Batches a replay reads ahead of the pipeline at most.
const REPLAY_BATCHES: usize = 4;

/// The demo capture spans about five minutes; at this speed it plays in about one.
pub const DEMO_SPEED: f64 = 5.0;

pub fn run_watch(a: &WatchArgs) -> Result<i32, Failure> {
    let config = a.judge.config(&a.history)?;
    let mut attribution = None;
    let (source, start) = match &a.read {
        Some(path) => {
            // a replay's view and exports quote no digest: reading is all it needs
            let reader = CaptureReader::open_with(path, InputDigest::Skip)
                .map_err(|e| Failure::usage(e.to_string()))?;
            let speed = a.speed.factor();
            (
                Source::File {
                    path: reader.name().to_string(),
                    speed,
                },
                Start::Replay(Box::new(reader), speed),
            )
        }
        None => {
            let interface = match &a.interface {
                Some(i) => i.clone(),
                None => iface::default_route_interface().ok_or_else(|| {
                    Failure::usage("no interface holds a default route; name one with -i (`telltale interfaces` lists them)")
                })?,
            };
            let cap =
                open_live(&interface, a.filter.as_deref(), a.promisc).map_err(|e| Failure {
                    message: e.to_string(),
                    code: EXIT_ERROR,
                })?;
            // attribution's kernel events load while the privilege to load them is held
            attribution = (!a.no_attribution)
                .then(telltale::attrib::Attributor::new)
                .filter(|a| a.available())
                .map(|a| FlowAttribution::new(a).with_kernel_events());
            // the handle is open: nothing else needs privilege (before any thread starts)
            super::drop_privileges(telltale::privilege::Need::Attribution);
            (
                Source::Live {
                    interface,
                    filter: a.filter.clone(),
                },
                Start::Live(Box::new(cap)),
            )
        }
    };
    require_terminal("watch")?;
    let kind = if a.read.is_some() {
        RunKind::WatchReplay
    } else {
        RunKind::Watch
    };
    let caps = super::audit::caps_with(a.max_flows)?;
    let recorder = super::history::start(&a.history, kind)?;
    let hook = a.hook.start()?;
    session(
        source,
        start,
        (config, caps),
        a.report.clone(),
        a.bell,
        attribution,
        (recorder, hook),
    )
}

pub fn run_demo_tui(d: &DemoArgs) -> Result<i32, Failure> {
    let config = AuditConfig::with_settings(&(&d.judge).into(), telltale::demo::demo_settings())?;
    let speed = d.speed.map_or(Some(DEMO_SPEED), |s| s.factor());
    let source = Source::Demo {
        speed: speed.unwrap_or(f64::INFINITY),
    };
    session(
        source,
        Start::Replay(Box::new(demo_reader()?), speed),
        (config, Caps::default()),
        d.report.clone(),
        d.bell,
        None,
        (None, None),
    )
}

/// The live view draws on standard output and reads keys from the terminal (standard
/// input, or /dev/tty when standard input carries a capture: `-r -`).
fn require_terminal(command: &str) -> Result<(), Failure> {
    let keys = std::io::stdin().is_terminal() || std::fs::File::open("/dev/tty").is_ok();
    if std::io::stdout().is_terminal() && keys {
        Ok(())
    } else {
        Err(Failure::usage(format!(
            "`telltale {command}` draws a live view and needs a terminal; for a report without one, use `telltale audit`"
        )))
    }
}

/// The settings file a session watches: the one given, or the one found.
fn watched_prefs(config: &AuditConfig) -> Option<PathBuf> {
    config
        .settings
        .as_ref()
        .map(|s| PathBuf::from(&s.path))
        .filter(|p| p.is_file())
}

fn session(
    source: Source,
    start: Start,
    (config, caps): (AuditConfig, Caps),
    report: Option<PathBuf>,
    bell: bool,
    attribution: Option<FlowAttribution>,
    (recorder, hook): (Option<Recorder>, Option<telltale::live::hook::Hook>),
) -> Result<i32, Failure> {
    let prefs_path = watched_prefs(&config);
    let matcher = Arc::new(Matcher::new(config.rules.clone()));
    let pipeline = Pipeline::new(matcher, config.consent(), caps);
    // a bounded backlog: a live capture's kernel buffer holds the rest (QUEUE_BATCHES); a
    // replay's reader just waits, so a few batches keep the pipeline busy
    let backlog = match &start {
        Start::Live(_) => telltale::live::source::QUEUE_BATCHES,
        Start::Replay(..) => REPLAY_BATCHES,
    };
    let (to_pipeline, pipeline_rx) = sync_channel::<ToPipeline>(backlog);
    let (events_tx, events_rx) = sync_channel::<Event>(256);
    let queue_drops = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let feed = Feed {
        tx: to_pipeline.clone(),
        queue_drops: queue_drops.clone(),
        stop: stop.clone(),
    };

    let initial = Snapshot::empty(
        source.clone(),
        config.opt_out.clone(),
        RulesInfo::from_rules(&config.rules),
    );
    let scope = config.scope(attribution.is_some());
    let engine = Engine::new(
        pipeline,
        config.rules.clone(),
        source,
        config.opt_out.clone(),
        queue_drops,
        ReportPlan {
            on_exit: report.clone(),
        },
    )
    .with_attribution(attribution, scope)
    .with_baseline(config.baseline.clone())
    .with_prefs_watch(prefs_path, config.opt_out_choice)
    .with_history(recorder)
    .with_hook(hook);
    let engine_out = events_tx.clone();
    let engine_thread: JoinHandle<Ended> = std::thread::Builder::new()
        .name("telltale-pipeline".into())
        .spawn(move || engine.run(pipeline_rx, engine_out))
        .map_err(|e| Failure::usage(format!("cannot start the pipeline thread: {e}")))?;
    let capture_thread = match start {
        Start::Live(cap) => spawn_live(*cap, feed),
        Start::Replay(reader, speed) => {
            Running::replay(spawn_replay(*reader, speed, feed.clone()), feed)
        }
    };
    forward_signals(events_tx.clone())
        .map_err(|e| Failure::usage(format!("cannot watch for signals: {e}")))?;

    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    let app = App::new(Arc::new(initial), UiOptions { no_color, bell });
    let ui = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        run(app, events_rx, events_tx, to_pipeline.clone(), export_dir)
    }));

    // Whatever ended the session: stop the capture, let the pipeline write the report.
    // (A capture thread that panicked has ended already; the pipeline catches its own
    // panic and writes what it can.)
    capture_thread.stop();
    let _ = to_pipeline.send(ToPipeline::Stop);
    let ended = engine_thread.join().unwrap_or(Ended {
        written: report
            .as_ref()
            .map(|_| Err("the report could not be written: the pipeline thread failed".into())),
        panicked: true,
    });
    if let Some(Ok(said) | Err(said)) = &ended.written {
        eprintln!("telltale: {said}");
    }
    let failed = fault::panicked()
        .or_else(|| matches!(ui, Err(_) | Ok(Ok(Ending::Panicked))).then(|| "main".into()));
    if let Some(thread) = failed {
        let outcome = match &ended.written {
            None => "no --report was asked for",
            Some(Err(_)) => "no report was written",
            Some(Ok(_)) if ended.panicked => "the report may be incomplete",
            Some(Ok(_)) => "the report covers what was audited until then",
        };
        return Err(Failure::internal(&thread, outcome));
    }
    match ui {
        Ok(Ok(Ending::Quit | Ending::PipelineEnded)) => Ok(EXIT_CLEAN),
        Ok(Ok(Ending::Signal(sig))) => Ok(128 + sig),
        Ok(Err(e)) => Err(Failure::usage(format!("the terminal failed: {e}"))),
        // a panic, answered above
        Ok(Ok(Ending::Panicked)) | Err(_) => Ok(EXIT_INTERNAL),
    }
}

/// A new folder for an export: `telltale-report-20261107T200000Z` in the current folder.
fn export_dir() -> PathBuf {
    let now = telltale::time::now().to_string();
    let stamp: String = now
        .chars()
        .take(19)
        .filter(|c| c.is_ascii_digit() || *c == 'T')
        .collect();
    let mut dir = PathBuf::from(format!("telltale-report-{stamp}Z"));
    let mut n = 2;
    while dir.exists() {
        dir = PathBuf::from(format!("telltale-report-{stamp}Z-{n}"));
        n += 1;
    }
    dir
}
