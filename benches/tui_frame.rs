//! The terminal UI's cost per frame: `App::update` with a new snapshot (filter, sort and
//! totals redone) plus `App::view` on a test terminal, for 100,000 flows against 100, at
//! 160x48 and 80x24; the median of 50 frames each. The 100,000-flow median must stay
//! under 10 ms. Run with `cargo bench --bench tui_frame`; without `--bench` (as when
//! `cargo test` runs benches) it returns at once.

use ratatui::Terminal;
use ratatui::backend::TestBackend;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::{Duration, Instant};
use telltale::audit::{AuditConfig, AuditSpec, audit_readers, demo_reader};
use telltale::live::snapshot::{CaptureState, Snapshot, Source};
use telltale::pipeline::Caps;
use telltale::report::model::FlowReport;
use telltale::tui::{App, UiEvent, UiOptions};

const FRAMES: usize = 50;
const BIG: usize = 100_000;
const SMALL: usize = 100;
const LIMIT: Duration = Duration::from_millis(10);

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

fn main() -> Result<()> {
    if !std::env::args().any(|a| a == "--bench") {
        return Ok(());
    }
    let judging = AuditConfig::new(&AuditSpec::builtin(
        "plex",
        telltale::config::choices::OptOutChoice::On,
    ))
    .map_err(|e| format!("the built-in rules: {e:?}"))?;
    let reader = demo_reader().map_err(|e| format!("the demo capture: {e:?}"))?;
    let report = audit_readers(vec![reader], &judging, Caps::default());
    let base = Snapshot {
        seq: 1,
        source: Source::Demo { speed: 5.0 },
        state: CaptureState::Running,
        capture_time: report.capture_end,
        packets_per_sec: 250.0,
        drops: Default::default(),
        opt_out: report.opt_out.clone(),
        rules: report.rules.clone(),
        counters: report.counters.clone(),
        scope_note: None,
        flows: Arc::new(Vec::new()),
    };
    let big = synthetic(&report.flows, BIG);
    let small = synthetic(&report.flows, SMALL);

    let mut worst_big = Duration::ZERO;
    for (w, h) in [(160, 48), (80, 24)] {
        let m_big = median_frame(&base, &big, w, h, |_| {})?;
        let m_small = median_frame(&base, &small, w, h, |_| {})?;
        worst_big = worst_big.max(m_big);
        println!(
            "{w}x{h}: {BIG} flows {:>8.3} ms, {SMALL} flows {:>8.3} ms, ratio {:.1}",
            ms(m_big),
            ms(m_small),
            m_big.as_secs_f64() / m_small.as_secs_f64().max(1e-9)
        );
    }
    // For information: the same frame with a filter typed, and with the Summary open.
    let filtered = median_frame(&base, &big, 160, 48, |app| {
        for ev in "/host:plex verdict:flagged\n".chars().map(key) {
            app.update(ev);
        }
    })?;
    let summary = median_frame(&base, &big, 160, 48, |app| {
        app.update(key('\t'));
        app.update(key('\t'));
    })?;
    let resort = median_resort(&base, &big)?;
    println!(
        "160x48: {BIG} flows, filtered {:.3} ms, Summary {:.3} ms, `s` (all flows sorted again) {:.3} ms",
        ms(filtered),
        ms(summary),
        ms(resort)
    );
    assert!(
        worst_big < LIMIT,
        "a frame with {BIG} flows took {:.3} ms (median), over {} ms",
        ms(worst_big),
        LIMIT.as_millis()
    );
    Ok(())
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn key(c: char) -> UiEvent {
    use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
    let code = match c {
        '\n' => KeyCode::Enter,
        '\t' => KeyCode::Tab,
        c => KeyCode::Char(c),
    };
    UiEvent::Key(KeyEvent::new(code, KeyModifiers::NONE))
}

/// `n` flows cloned from the demo's in turn, each with its own id, times, bytes, address
/// and name, so that sorting and filtering have real work to do.
fn synthetic(demo: &[FlowReport], n: usize) -> Vec<Arc<FlowReport>> {
    demo.iter()
        .cycle()
        .take(n)
        .enumerate()
        .map(|(i, src)| {
            let mut f = src.clone();
            let k = u64::try_from(i).unwrap_or(u64::MAX);
            f.id = k + 1;
            // Spread over an hour, not in id order.
            let shift = i64::try_from((k * 7919) % 3_600_000).unwrap_or(0) * 1_000_000;
            f.first_seen.0 += shift;
            f.last_seen.0 += shift;
            f.bytes_out = src.bytes_out + (k * 104_729) % 1_000_000;
            let octets = u32::try_from(k).unwrap_or(0).to_be_bytes();
            if !f.server.scope.is_local() {
                f.server.address = IpAddr::V4(Ipv4Addr::new(203, octets[1], octets[2], octets[3]));
            }
            for name in &mut f.names {
                name.name = format!("n{}.{}", k % 5000, name.name);
            }
            Arc::new(f)
        })
        .collect()
}

/// The median time of `FRAMES` frames: a new snapshot (a fresh flow list, as the
/// pipeline publishes) handed to `update`, then `view` drawn on a `w` x `h` test terminal.
fn median_frame(
    base: &Snapshot,
    flows: &[Arc<FlowReport>],
    w: u16,
    h: u16,
    setup: impl Fn(&mut App),
) -> Result<Duration> {
    // Each new snapshot shares the unchanged flows with the one before, as the pipeline's
    // do, and brings fresh copies of 1% of them, seen later and with more bytes.
    let mut current: Vec<Arc<FlowReport>> = flows.to_vec();
    let mut snapshot = |seq: u64| {
        if seq > 1 {
            let n = current.len();
            for j in 0..n / 100 {
                let at = (j * 7 + usize::try_from(seq).unwrap_or(0) * 131) % n;
                if let Some(slot) = current.get_mut(at) {
                    let mut f = (**slot).clone();
                    f.last_seen.0 += 1_000_000_000;
                    f.bytes_out += 1500;
                    *slot = Arc::new(f);
                }
            }
        }
        let mut s = base.clone();
        s.seq = seq;
        s.flows = Arc::new(current.clone());
        Arc::new(s)
    };
    let mut app = App::new(
        snapshot(1),
        UiOptions {
            no_color: false,
            bell: true,
        },
    );
    setup(&mut app);
    let mut term = Terminal::new(TestBackend::new(w, h))?;
    term.draw(|f| app.view(f))?;
    let mut times = Vec::with_capacity(FRAMES);
    for seq in 0..FRAMES {
        let s = snapshot(u64::try_from(seq).unwrap_or(0) + 2);
        let start = Instant::now();
        app.update(UiEvent::Snapshot(s));
        term.draw(|f| app.view(f))?;
        times.push(start.elapsed());
    }
    times.sort();
    Ok(times.get(FRAMES / 2).copied().unwrap_or_default())
}

/// The median time of `s` (a new order: every flow's key read and sorted again) and a draw.
fn median_resort(base: &Snapshot, flows: &[Arc<FlowReport>]) -> Result<Duration> {
    let mut s = base.clone();
    s.flows = Arc::new(flows.to_vec());
    let mut app = App::new(Arc::new(s), UiOptions::default());
    let mut term = Terminal::new(TestBackend::new(160, 48))?;
    let mut times = Vec::with_capacity(FRAMES);
    for _ in 0..FRAMES {
        let start = Instant::now();
        app.update(key('s'));
        term.draw(|f| app.view(f))?;
        times.push(start.elapsed());
    }
    times.sort();
    Ok(times.get(FRAMES / 2).copied().unwrap_or_default())
}
