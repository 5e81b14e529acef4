//! The UI runner: puts the terminal in raw mode on the alternate screen, runs the one
//! event loop (terminal input, snapshots and messages from the pipeline thread, signals)
//! over [`App::update`] and [`App::view`], and leaves the terminal as it found it after
//! a quit, a signal or a panic. A panic in any thread ends the loop: the UI's own through
//! its unwinding, another thread's through the panic hook, which wakes the loop and
//! leaves the terminal to it (`live::fault`).

use super::{App, Command, UiEvent};
use crate::live::Event;
use crate::live::fault;
use crate::live::source::ToPipeline;
use crossterm::event::{DisableMouseCapture, EnableMouseCapture, Event as TermEvent, KeyEventKind};
use crossterm::terminal::{
    EnterAlternateScreen, LeaveAlternateScreen, disable_raw_mode, enable_raw_mode,
};
use crossterm::{cursor, execute};
use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;
use std::io::{self, Stdout, Write};
use std::path::PathBuf;
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender};
use std::time::Duration;

/// Why the loop ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// The user quit.
    Quit,
    /// SIGINT, SIGTERM or SIGHUP.
    Signal(i32),
    /// The pipeline thread ended by itself.
    PipelineEnded,
    /// Another thread panicked (`live::fault` names it).
    Panicked,
}

/// Restores the terminal: raw mode off, main screen back, cursor shown, mouse released.
/// Safe to call more than once.
pub fn restore_terminal() {
    let _ = disable_raw_mode();
    let mut out = io::stdout();
    let _ = execute!(out, DisableMouseCapture, LeaveAlternateScreen, cursor::Show);
    let _ = out.flush();
}

/// Forwards SIGINT, SIGTERM and SIGHUP into the event loop.
pub fn forward_signals(tx: SyncSender<Event>) -> io::Result<()> {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
    let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP])?;
    std::thread::Builder::new()
        .name("telltale-signals".into())
        .spawn(move || {
            let fault = fault::injected("telltale-signals");
            for sig in signals.forever() {
                if fault {
                    panic!("injected fault (TELLTALE_FAULT=panic:telltale-signals)");
                }
                if tx.send(Event::Signal(sig)).is_err() {
                    break;
                }
            }
        })?;
    Ok(())
}

/// Reads the terminal's events into the loop.
fn forward_input(tx: SyncSender<Event>) -> io::Result<()> {
    std::thread::Builder::new()
        .name("telltale-input".into())
        .spawn(move || {
            while let Ok(ev) = crossterm::event::read() {
                if tx.send(Event::Input(ev)).is_err() {
                    break;
                }
            }
        })?;
    Ok(())
}

/// Sets the terminal up and runs the loop until the user quits, a signal arrives or
/// the pipeline ends. The terminal is restored before returning.
pub fn run(
    mut app: App,
    events: Receiver<Event>,
    events_tx: SyncSender<Event>,
    to_pipeline: SyncSender<ToPipeline>,
    export_dir: impl Fn() -> PathBuf,
) -> io::Result<Ending> {
    enable_raw_mode()?;
    // from here on a panic elsewhere wakes this loop and leaves the terminal to it;
    // dropped on every way out, the claim puts the terminal back
    let wake = events_tx.clone();
    let _claim = fault::claim_screen(restore_terminal, move || {
        let _ = wake.try_send(Event::Panicked);
    });
    let mut out: Stdout = io::stdout();
    execute!(out, EnterAlternateScreen, EnableMouseCapture, cursor::Hide)?;
    (|| -> io::Result<Ending> {
        let mut terminal = Terminal::new(CrosstermBackend::new(io::stdout()))?;
        terminal.clear()?;
        forward_input(events_tx)?;
        terminal.draw(|f| app.view(f))?;
        let mut last_tick = std::time::Instant::now();
        // Test-only fault injection: prove that a panic in the UI still restores the
        // terminal and writes the report (tests/tui_tmux.rs).
        let inject_panic = std::env::var_os("TELLTALE_FAULT").is_some_and(|v| v == "ui-panic");
        loop {
            // the wake-up may have found the queue full: the flag is looked at too
            if fault::panicked().is_some() {
                return Ok(Ending::Panicked);
            }
            let first = match events.recv_timeout(Duration::from_millis(250)) {
                Ok(ev) => Some(ev),
                Err(RecvTimeoutError::Timeout) => None,
                Err(RecvTimeoutError::Disconnected) => return Ok(Ending::PipelineEnded),
            };
            let mut pending: Vec<Event> = first.into_iter().collect();
            // take whatever else is waiting, then draw once
            while pending.len() < 512 {
                match events.try_recv() {
                    Ok(ev) => pending.push(ev),
                    Err(_) => break,
                }
            }
            // a steady tick (messages expire by it), however busy the channel is
            if last_tick.elapsed() >= Duration::from_millis(250) {
                last_tick = std::time::Instant::now();
                app.update(UiEvent::Tick);
            }
            for ev in pending {
                let command = match ev {
                    Event::Snapshot(s) if inject_panic && !s.flows.is_empty() => {
                        panic!("injected fault (TELLTALE_FAULT=ui-panic)")
                    }
                    Event::Snapshot(s) => app.update(UiEvent::Snapshot(s)),
                    Event::Message(m) => app.update(UiEvent::Message(m)),
                    Event::Stopped => return Ok(Ending::PipelineEnded),
                    Event::Panicked => return Ok(Ending::Panicked),
                    Event::Signal(sig) => return Ok(Ending::Signal(sig)),
                    Event::Input(TermEvent::Key(k)) if k.kind == KeyEventKind::Press => {
                        app.update(UiEvent::Key(k))
                    }
                    Event::Input(TermEvent::Mouse(m)) => app.update(UiEvent::Mouse(m)),
                    Event::Input(_) => None,
                };
                match command {
                    Some(Command::Quit) => return Ok(Ending::Quit),
                    Some(Command::Export) => {
                        let dir = export_dir();
                        let shown = dir.display().to_string();
                        // never wait on a busy pipeline: the screen must stay live
                        let said = match to_pipeline.try_send(ToPipeline::Export { dir }) {
                            Ok(()) => format!("writing the report to {shown} ..."),
                            Err(_) => "the pipeline is busy with a burst of packets: press e again in a moment".to_string(),
                        };
                        app.update(UiEvent::Message(said));
                    }
                    Some(Command::Bell) => {
                        let _ = io::stdout().write_all(b"\x07");
                    }
                    None => {}
                }
            }
            terminal.draw(|f| app.view(f))?;
        }
    })()
}
