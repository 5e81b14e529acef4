//! What a panic does to a run: it ends it. Whichever thread panics (capture, replay,
//! pipeline, signals, the terminal UI), the terminal is put back, the report is written
//! as far as the run got, one line names the thread and asks for a bug report, and the
//! exit status is `EXIT_INTERNAL` (the binary's `cli`).
//!
//! One process-wide panic hook ([`install_hook`]) notes the first thread that panicked;
//! every loop that must end then ([`panicked`]: the UI's, `audit -i`'s) looks at it, and
//! the UI is also woken at once. The hook never touches the terminal from another
//! thread than the UI's. It once did (it restored the terminal whichever thread
//! panicked), and the UI then went on drawing into a cooked terminal that echoed `q`
//! instead of quitting. While the UI owns the terminal, another thread's panic message
//! is held back instead, and printed when the UI has put the terminal back (written at
//! once, it would land on the alternate screen and vanish with it).
//!
//! `TELLTALE_FAULT=panic:THREAD` makes the named thread panic once it has done some
//! work ([`injected`]): the tests prove all of this with it (tests/tui_tmux.rs).

use std::backtrace::{Backtrace, BacktraceStatus};
use std::panic::PanicHookInfo;
use std::sync::{Arc, Mutex, MutexGuard, Once, OnceLock, PoisonError};
use std::thread::ThreadId;

/// An injected fault strikes once its thread has passed on this many packets: late enough
/// that the report has flows, early enough that the demo is far from over.
pub const FAULT_AFTER_PACKETS: u64 = 100;

/// Whether `TELLTALE_FAULT=panic:THREAD` names this thread. Read once per run.
pub fn injected(thread: &str) -> bool {
    static FAULT: OnceLock<Option<String>> = OnceLock::new();
    let fault = FAULT.get_or_init(|| {
        std::env::var_os("TELLTALE_FAULT").map(|v| v.to_string_lossy().into_owned())
    });
    names(fault.as_deref(), thread)
}

fn names(fault: Option<&str>, thread: &str) -> bool {
    fault.and_then(|f| f.strip_prefix("panic:")) == Some(thread)
}

/// The terminal UI's hold on the terminal.
struct Screen {
    /// The UI's thread: its own panic puts the terminal back at once.
    owner: ThreadId,
    restore: fn(),
    /// Ends the UI's wait for its next event.
    wake: Arc<dyn Fn() + Send + Sync>,
}

#[derive(Default)]
struct State {
    /// The name of the first thread that panicked.
    first: Option<String>,
    screen: Option<Screen>,
    /// Panic messages held back while the UI owns the terminal.
    held: Vec<String>,
}

/// What the hook does about one panic, besides noting it.
#[derive(Debug, PartialEq, Eq)]
enum Then {
    /// Print the message now (no UI, or the UI's own panic once the terminal is back).
    Print,
    /// Hold the message back and wake the UI.
    Hold,
}

impl State {
    fn on_panic(&mut self, thread: &str, id: ThreadId) -> Then {
        if self.first.is_none() {
            self.first = Some(thread.to_string());
        }
        match &self.screen {
            Some(s) if s.owner == id => {
                (s.restore)();
                self.screen = None;
                Then::Print
            }
            Some(_) => Then::Hold,
            None => Then::Print,
        }
    }

    /// Puts the terminal back if the UI still holds it; the messages held back meanwhile.
    fn release(&mut self) -> Vec<String> {
        if let Some(s) = self.screen.take() {
            (s.restore)();
        }
        std::mem::take(&mut self.held)
    }
}

static STATE: Mutex<State> = Mutex::new(State {
    first: None,
    screen: None,
    held: Vec::new(),
});

/// The state, even after a panic while it was held (nothing here leaves it half-changed).
fn state() -> MutexGuard<'static, State> {
    STATE.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Installs the panic hook, once per process, before any thread starts.
pub fn install_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let me = std::thread::current();
            let name = me.name().unwrap_or("<unnamed>").to_string();
            let mut s = state();
            match s.on_panic(&name, me.id()) {
                Then::Print => {
                    drop(s);
                    previous(info);
                }
                Then::Hold => {
                    s.held.push(render(&name, info));
                    let wake = s.screen.as_ref().map(|sc| sc.wake.clone());
                    drop(s);
                    if let Some(wake) = wake {
                        wake();
                    }
                }
            }
        }));
    });
}

/// A held-back panic message, as the standard hook would have printed it.
fn render(thread: &str, info: &PanicHookInfo<'_>) -> String {
    let mut text = format!("\nthread '{thread}' {info}\n");
    let trace = Backtrace::capture();
    if trace.status() == BacktraceStatus::Captured {
        text.push_str(&format!("stack backtrace:\n{trace}\n"));
    }
    text
}

/// The name of the first thread that panicked in this run, if one did.
pub fn panicked() -> Option<String> {
    state().first.clone()
}

/// The terminal UI's hold on the terminal; dropping it puts the terminal back (with
/// `restore`) and prints the panic messages held back meanwhile.
#[must_use = "the claim ends when it is dropped"]
pub struct ScreenClaim(());

/// Called by the UI's thread once the terminal is in raw mode: until the claim is dropped,
/// another thread's panic calls `wake` and leaves the terminal alone, and the UI's own
/// panic calls `restore` before its message is printed.
pub fn claim_screen(restore: fn(), wake: impl Fn() + Send + Sync + 'static) -> ScreenClaim {
    state().screen = Some(Screen {
        owner: std::thread::current().id(),
        restore,
        wake: Arc::new(wake),
    });
    ScreenClaim(())
}

impl Drop for ScreenClaim {
    fn drop(&mut self) {
        let held = state().release();
        for message in held {
            eprint!("{message}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    static RESTORED: AtomicUsize = AtomicUsize::new(0);
    fn restore() {
        RESTORED.fetch_add(1, Ordering::SeqCst);
    }

    fn screen_of(owner: ThreadId) -> Screen {
        Screen {
            owner,
            restore,
            wake: Arc::new(|| {}),
        }
    }

    #[test]
    fn the_fault_names_one_thread() {
        assert!(names(Some("panic:telltale-replay"), "telltale-replay"));
        assert!(!names(Some("panic:telltale-replay"), "telltale-pipeline"));
        assert!(!names(Some("ui-panic"), "telltale-replay"));
        assert!(!names(Some("telltale-replay"), "telltale-replay"));
        assert!(!names(None, "telltale-replay"));
    }

    // One test for the state's whole story: `restore` counts into a static shared by all.
    #[test]
    fn another_threads_panic_leaves_the_terminal_to_the_ui() {
        let ui = std::thread::current().id();
        let worker = std::thread::spawn(|| std::thread::current().id())
            .join()
            .unwrap();
        let mut s = State {
            screen: Some(screen_of(ui)),
            ..State::default()
        };
        let before = RESTORED.load(Ordering::SeqCst);
        // a worker panics while the UI draws: the terminal stays the UI's
        assert_eq!(s.on_panic("telltale-replay", worker), Then::Hold);
        assert_eq!(RESTORED.load(Ordering::SeqCst), before);
        assert!(s.screen.is_some());
        // a second panic does not hide which came first
        assert_eq!(s.on_panic("telltale-pipeline", worker), Then::Hold);
        assert_eq!(s.first.as_deref(), Some("telltale-replay"));
        // the UI ends and puts the terminal back, once
        s.held.push("held".into());
        assert_eq!(s.release(), vec!["held".to_string()]);
        assert_eq!(RESTORED.load(Ordering::SeqCst), before + 1);
        assert!(s.release().is_empty());
        assert_eq!(RESTORED.load(Ordering::SeqCst), before + 1);
        // without a UI, a panic prints at once
        assert_eq!(s.on_panic("telltale-capture", worker), Then::Print);

        // the UI's own panic puts the terminal back before its message, and only once
        let mut s = State {
            screen: Some(screen_of(ui)),
            ..State::default()
        };
        assert_eq!(s.on_panic("main", ui), Then::Print);
        assert_eq!(RESTORED.load(Ordering::SeqCst), before + 2);
        assert!(s.release().is_empty());
        assert_eq!(RESTORED.load(Ordering::SeqCst), before + 2);
        assert_eq!(s.first.as_deref(), Some("main"));
    }
}
