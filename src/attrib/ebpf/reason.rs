//! Why eBPF attribution cannot run, in words a user can act on.
//!
//! The loader's errors are chains (a map error wrapping a syscall error wrapping an errno); what a
//! user can do depends on the errno at the bottom and on the step that failed, so each is read
//! here into one sentence that says what is missing and what to do.

use std::error::Error;
use std::fmt;
use std::io;
use std::path::Path;

use aya::programs::ProgramError;
use nix::libc as libc_errno;

use super::{CONNECT_TRACEPOINT, SEND_TRACEPOINT};

/// What eBPF attribution cannot do without; attribution still works from /proc, which misses the
/// processes that exit within milliseconds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unavailable {
    pub reason: String,
}

impl fmt::Display for Unavailable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.reason)
    }
}

impl Error for Unavailable {}

const PERMISSION: &str = "eBPF attribution needs root, or CAP_BPF and CAP_PERFMON: the kernel \
                          refused to load its programs. Run telltale as root (sudo)";
const PERMISSION_AS_ROOT: &str = "the kernel refused eBPF to root: kernel lockdown (Secure \
                                  Boot) or a security module (SELinux, AppArmor) forbids it; \
                                  attribution falls back to /proc";

impl Unavailable {
    fn new(reason: impl Into<String>) -> Unavailable {
        Unavailable {
            reason: reason.into(),
        }
    }

    pub(super) fn no_program() -> Unavailable {
        Unavailable::new(
            "this build has no eBPF program: clang was missing when it was built. Install clang \
             and libbpf-dev (apt-get install clang libbpf-dev) and rebuild telltale",
        )
    }

    pub(super) fn no_btf(path: &Path) -> Unavailable {
        Unavailable::new(format!(
            "this kernel publishes no BTF type information ({} is missing), which eBPF \
             attribution needs to read its socket and process structures: it needs a kernel \
             built with CONFIG_DEBUG_INFO_BTF=y, as most distributions' kernels since 2020 are",
            path.display()
        ))
    }

    pub(super) fn unreadable_btf(path: &Path, error: &(dyn Error + 'static)) -> Unavailable {
        if is_permission(errno(error)) {
            return Unavailable::permission(is_root());
        }
        Unavailable::new(format!(
            "the kernel's BTF type information ({}) could not be read: {}",
            path.display(),
            summary(error)
        ))
    }

    pub(super) fn internal(what: &str) -> Unavailable {
        Unavailable::new(format!(
            "this build's eBPF program is not the one its loader expects ({what}): a bug, please \
             report it"
        ))
    }

    /// Loading the object (creating its maps, relocating it) failed.
    pub(super) fn from_load(error: &(dyn Error + 'static)) -> Unavailable {
        Unavailable::from_load_as(error, is_root())
    }

    fn from_load_as(error: &(dyn Error + 'static), root: bool) -> Unavailable {
        let errno = errno(error);
        if is_permission(errno) {
            return Unavailable::permission(root);
        }
        let text = summary(error);
        if errno == Some(libc_errno::EINVAL) && text.contains("events") {
            return Unavailable::new(
                "this kernel has no BPF ring buffer, which eBPF attribution needs: it needs \
                 Linux 5.8 or later",
            );
        }
        Unavailable::new(format!("the kernel refused the eBPF program: {text}"))
    }

    fn permission(root: bool) -> Unavailable {
        Unavailable::new(if root { PERMISSION_AS_ROOT } else { PERMISSION })
    }

    /// No program could be attached: `missing` says why for each.
    pub(super) fn nothing_attached(refusals: &[Refusal], missing: &[String]) -> Unavailable {
        Unavailable::nothing_attached_as(refusals, missing, is_root())
    }

    fn nothing_attached_as(refusals: &[Refusal], missing: &[String], root: bool) -> Unavailable {
        if refusals.iter().any(|r| is_permission(r.errno)) {
            return Unavailable::permission(root);
        }
        Unavailable::new(format!(
            "no eBPF program could be attached: {}",
            missing.join("; ")
        ))
    }
}

/// Why one program could not be loaded or attached.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Refusal {
    step: Step,
    errno: Option<i32>,
    detail: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Step {
    Load,
    Attach,
    Internal,
}

impl Refusal {
    pub(super) fn load(error: ProgramError) -> Refusal {
        Refusal::of(Step::Load, &error)
    }

    pub(super) fn attach(error: ProgramError) -> Refusal {
        Refusal::of(Step::Attach, &error)
    }

    pub(super) fn internal(detail: String) -> Refusal {
        Refusal {
            step: Step::Internal,
            errno: None,
            detail,
        }
    }

    fn of(step: Step, error: &(dyn Error + 'static)) -> Refusal {
        Refusal {
            step,
            errno: errno(error),
            detail: summary(error),
        }
    }

    /// "sock:sock_send_length: this kernel has no such tracepoint, so ...".
    pub(super) fn describe(&self, tracepoint: &str) -> String {
        let cost = match tracepoint {
            CONNECT_TRACEPOINT => ", so outgoing TCP connections are seen only at their first send",
            SEND_TRACEPOINT => {
                ", so UDP sockets and accepted TCP connections are not seen (outgoing TCP \
                 connections are)"
            }
            _ => "",
        };
        let why = match (self.step, self.errno) {
            (_, e) if is_permission(e) => {
                "the kernel refused it: it needs root, or CAP_BPF and CAP_PERFMON".to_string()
            }
            (Step::Attach, Some(libc_errno::ENOENT)) => {
                "this kernel has no such tracepoint".to_string()
            }
            (Step::Load, _) => format!("the kernel refused the program: {}", self.detail),
            (Step::Internal, _) => format!("a bug, please report it: {}", self.detail),
            (Step::Attach, _) => format!("could not attach: {}", self.detail),
        };
        format!("{tracepoint}: {why}{cost}")
    }
}

/// The errno at the bottom of an error chain, if any.
fn errno(error: &(dyn Error + 'static)) -> Option<i32> {
    let mut link = Some(error);
    while let Some(e) = link {
        if let Some(io) = e.downcast_ref::<io::Error>() {
            return io.raw_os_error();
        }
        link = e.source();
    }
    None
}

fn is_permission(errno: Option<i32>) -> bool {
    matches!(errno, Some(libc_errno::EPERM | libc_errno::EACCES))
}

fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

/// The error in one line of reasonable length: the verifier's log is cut to its last lines, which
/// say what it refused.
fn summary(error: &(dyn Error + 'static)) -> String {
    if let Some(ProgramError::LoadError {
        io_error,
        verifier_log,
    }) = error.downcast_ref::<ProgramError>()
    {
        let log = verifier_log.to_string();
        let tail: Vec<&str> = log
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect();
        let tail = tail.get(tail.len().saturating_sub(2)..).unwrap_or_default();
        return cut(&format!(
            "the verifier said {io_error}: {}",
            tail.join(" | ")
        ));
    }
    let mut text = error.to_string();
    // The errno, when the message above it does not already say it.
    let mut link = error.source();
    while let Some(e) = link {
        let inner = e.to_string();
        if !text.contains(&inner) {
            text = format!("{text}: {inner}");
        }
        link = e.source();
    }
    cut(&text)
}

fn cut(text: &str) -> String {
    const MAX: usize = 400;
    match text.char_indices().nth(MAX) {
        Some((at, _)) => format!("{}…", text.get(..at).unwrap_or_default()),
        None => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A loader error as aya builds them: a wrapper whose source is the syscall's errno.
    #[derive(Debug)]
    struct Wrapped(&'static str, io::Error);

    impl fmt::Display for Wrapped {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(self.0)
        }
    }

    impl Error for Wrapped {
        fn source(&self) -> Option<&(dyn Error + 'static)> {
            Some(&self.1)
        }
    }

    fn wrapped(what: &'static str, errno: i32) -> Wrapped {
        Wrapped(what, io::Error::from_raw_os_error(errno))
    }

    #[test]
    fn permission_refused_says_what_is_needed() {
        let e = wrapped("failed to create map `events`", libc_errno::EPERM);
        let u = Unavailable::from_load_as(&e, false);
        assert!(
            u.reason.contains("needs root, or CAP_BPF and CAP_PERFMON"),
            "{u}"
        );
        let e = wrapped("bpf_prog_load", libc_errno::EACCES);
        assert_eq!(Unavailable::from_load_as(&e, false), u);
        // Root refused: not a question of capabilities.
        let u = Unavailable::from_load_as(&e, true);
        assert!(u.reason.contains("lockdown"), "{u}");
    }

    #[test]
    fn a_kernel_without_ring_buffers_is_named() {
        let e = wrapped("failed to create map `events`", libc_errno::EINVAL);
        let u = Unavailable::from_load_as(&e, true);
        assert!(u.reason.contains("Linux 5.8"), "{u}");
        let e = wrapped("failed to create map `pending`", libc_errno::EINVAL);
        let u = Unavailable::from_load_as(&e, true);
        assert!(
            u.reason.starts_with("the kernel refused the eBPF program"),
            "{u}"
        );
        assert!(u.reason.contains("pending"), "{u}");
        assert!(u.reason.contains("Invalid argument"), "{u}");
    }

    #[test]
    fn a_missing_tracepoint_is_named_with_what_it_costs() {
        let missing = Refusal::of(Step::Attach, &wrapped("bpf_raw_tracepoint_open", 2));
        let text = missing.describe(SEND_TRACEPOINT);
        assert_eq!(
            text,
            "sock:sock_send_length: this kernel has no such tracepoint, so UDP sockets and \
             accepted TCP connections are not seen (outgoing TCP connections are)"
        );
        let text = missing.describe(CONNECT_TRACEPOINT);
        assert!(text.starts_with("sock:inet_sock_set_state: this kernel has no such"));
        assert!(text.ends_with("seen only at their first send"));

        // Both missing: nothing runs, and the reason lists both.
        let both = [
            missing.describe(CONNECT_TRACEPOINT),
            missing.describe(SEND_TRACEPOINT),
        ];
        let u = Unavailable::nothing_attached_as(&[missing.clone(), missing.clone()], &both, false);
        assert!(
            u.reason
                .starts_with("no eBPF program could be attached: sock:inet_sock_set_state")
        );
        assert!(
            u.reason
                .contains("; sock:sock_send_length: this kernel has no such tracepoint")
        );

        // One refused for permission: that is the reason to give.
        let refused = Refusal::of(Step::Load, &wrapped("bpf_prog_load", libc_errno::EPERM));
        assert!(
            refused
                .describe(SEND_TRACEPOINT)
                .contains("CAP_BPF and CAP_PERFMON")
        );
        let u = Unavailable::nothing_attached_as(&[missing, refused], &both, false);
        assert!(u.reason.contains("needs root, or CAP_BPF and CAP_PERFMON"));
    }

    #[test]
    fn other_failures_keep_the_loader_s_words_in_one_short_line() {
        let long = Wrapped(
            Box::leak("x".repeat(1000).into_boxed_str()),
            io::Error::from_raw_os_error(libc_errno::EINVAL),
        );
        let r = Refusal::of(Step::Load, &long);
        let text = r.describe("sock:other");
        assert!(text.starts_with("sock:other: the kernel refused the program: xxx"));
        assert!(text.ends_with('…'));
        assert!(text.chars().count() < 500);
        assert_eq!(errno(&long), Some(libc_errno::EINVAL));
        assert_eq!(errno(&Unavailable::new("no errno")), None);
    }

    #[test]
    fn no_program_and_no_btf_say_what_to_do() {
        let u = Unavailable::no_program();
        assert!(
            u.reason
                .starts_with("this build has no eBPF program: clang was missing when it was built")
        );
        assert!(u.reason.contains("apt-get install clang libbpf-dev"));
        let u = Unavailable::no_btf(Path::new("/sys/kernel/btf/vmlinux"));
        assert!(u.reason.contains("/sys/kernel/btf/vmlinux is missing"));
        assert!(u.reason.contains("CONFIG_DEBUG_INFO_BTF=y"));
        assert_eq!(u.to_string(), u.reason);
    }
}
