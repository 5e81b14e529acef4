//! eBPF attribution on the real kernel: processes that connect, send and exit at once are still
//! named, with their pid, name, ports and network namespace; a full ring is counted; a missing
//! tracepoint is reported while the other runs.
//!
//! The short-lived processes are this test binary run again as a child (`child_helper` below, in
//! the mode the TELLTALE_EBPF_CHILD variable selects), and, where it is installed, python3 for the
//! sockets Rust's standard library cannot make (a UDP socket that sends unbound). Only loopback
//! addresses are used, in this namespace or in one the test creates and removes.
//!
//! Needs root, a kernel with BTF and a build that had clang. Without them it is skipped with a
//! message, except under CI (the `CI` variable set), where it fails saying what to install. The
//! tests run one at a time: two of them load both cores on purpose.

// Test helpers: a failed assumption here is a failed test (clippy allows these in #[test]
// functions, not in the helpers they call).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::os::unix::fs::MetadataExt;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

mod common;

use telltale::attrib::ebpf::{EventKind, EventSource, Options, SocketEvent, own_netns};

const CHILD_ENV: &str = "TELLTALE_EBPF_CHILD";
const WAIT: Duration = Duration::from_secs(2);

static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

/// What the eBPF tests need, for [`common::require`].
const EBPF_INSTALL: &str = "root, a kernel with BTF (/sys/kernel/btf/vmlinux) and a build with \
    clang: apt-get install clang libbpf-dev iproute2 python3 (scripts/install-deps.sh), then rebuild";

/// Says why a test cannot run, through [`common::require`]: a failure under CI, a recorded
/// skip elsewhere. `what` is the missing piece (the skip summary counts by it).
fn cannot_run(_test: &str, what: &str) {
    common::require(false, what, EBPF_INSTALL);
}

fn source_or_skip(test: &str) -> Option<EventSource> {
    if !nix::unistd::geteuid().is_root() {
        cannot_run(test, "root");
        return None;
    }
    match EventSource::start() {
        Ok(s) => {
            assert!(s.missing().is_empty(), "{:?}", s.missing());
            Some(s)
        }
        Err(e) => {
            let how = format!("{} (it needs {EBPF_INSTALL})", e.reason);
            common::require(false, "eBPF", &how);
            None
        }
    }
}

// ------------------------------------------------------------------------------------------
// The child

/// What a child reports of itself before it exits.
#[derive(Debug)]
struct ChildReport {
    pid: u32,
    tid: u32,
    tcp_local: SocketAddr,
    tcp_remote: SocketAddr,
    udp_local: SocketAddr,
    /// /proc/self/stat's start time, in clock ticks.
    start_ticks: u64,
}

/// Not a test: the child's part, when this binary runs as one. Connects to a listener of its own,
/// writes a byte (which must not be reported again), sends a UDP datagram from an unconnected socket bound to the wildcard, prints
/// what it used, stays the number of milliseconds it was given and exits.
#[test]
fn child_helper() {
    let Ok(hold) = std::env::var(CHILD_ENV) else {
        return;
    };
    let hold = Duration::from_millis(hold.parse().unwrap());
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let mut stream = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    stream.write_all(b"x").unwrap();
    let receiver = UdpSocket::bind("127.0.0.1:0").unwrap();
    let sender = UdpSocket::bind("0.0.0.0:0").unwrap();
    sender
        .send_to(b"x", receiver.local_addr().unwrap())
        .unwrap();
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
    let start_ticks = stat
        .rsplit_once(')')
        .unwrap()
        .1
        .split_whitespace()
        .nth(19)
        .unwrap();
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "CHILD {} {} {} {} {} {start_ticks}",
        std::process::id(),
        nix::unistd::gettid(),
        stream.local_addr().unwrap(),
        stream.peer_addr().unwrap(),
        sender.local_addr().unwrap(),
    )
    .unwrap();
    out.flush().unwrap();
    std::thread::sleep(hold);
    std::process::exit(0);
}

/// A child process, killed if the test ends before it did.
struct ChildGuard(Child);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts this binary as a child that holds for `hold_ms`, optionally under a prefix
/// (`ip netns exec NS`).
fn spawn_child(prefix: &[&str], hold_ms: u64) -> ChildGuard {
    let exe = std::env::current_exe().unwrap();
    let mut command = match prefix.split_first() {
        Some((first, rest)) => {
            let mut c = Command::new(first);
            c.args(rest).arg(&exe);
            c
        }
        None => Command::new(&exe),
    };
    command
        .args(["child_helper", "--exact", "--nocapture", "--quiet"])
        .env(CHILD_ENV, hold_ms.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    ChildGuard(command.spawn().unwrap())
}

/// Waits for the child to exit and reads its report.
fn finish_child(mut child: ChildGuard) -> ChildReport {
    let stdout = child.0.stdout.take().unwrap();
    let line = BufReader::new(stdout)
        .lines()
        .map_while(Result::ok)
        .find(|l| l.starts_with("CHILD "))
        .expect("the child printed no report");
    let status = child.0.wait().unwrap();
    assert!(status.success(), "child: {status}");
    let f: Vec<&str> = line.split_whitespace().collect();
    ChildReport {
        pid: f[1].parse().unwrap(),
        tid: f[2].parse().unwrap(),
        tcp_local: f[3].parse().unwrap(),
        tcp_remote: f[4].parse().unwrap(),
        udp_local: f[5].parse().unwrap(),
        start_ticks: f[6].parse().unwrap(),
    }
}

/// The name the kernel gives this binary's processes: its file name, cut to 15 bytes.
fn expected_comm() -> (String, String) {
    let exe = std::env::current_exe().unwrap();
    let name = exe.file_name().unwrap().to_str().unwrap().to_string();
    let comm = name.bytes().take(15).map(char::from).collect();
    (comm, name)
}

fn clock_ticks() -> u64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100)
}

// ------------------------------------------------------------------------------------------
// Matching

fn is_tcp_connect(e: &SocketEvent, r: &ChildReport) -> bool {
    e.kind == EventKind::Connect
        && e.tcp
        && e.local == r.tcp_local
        && e.remote == Some(r.tcp_remote)
}

fn is_tcp_send(e: &SocketEvent, r: &ChildReport) -> bool {
    e.kind == EventKind::FirstSend
        && e.tcp
        && e.local == r.tcp_local
        && e.remote == Some(r.tcp_remote)
}

fn is_udp_send(e: &SocketEvent, r: &ChildReport) -> bool {
    e.kind == EventKind::FirstSend && !e.tcp && e.local == r.udp_local && e.remote.is_none()
}

/// Drains until `done` holds for what was read, or [`WAIT`] has passed.
fn drain_until(
    source: &mut EventSource,
    events: &mut Vec<SocketEvent>,
    done: impl Fn(&[SocketEvent]) -> bool,
) {
    let start = Instant::now();
    loop {
        source.drain(events);
        if done(events) || start.elapsed() > WAIT {
            return;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// The two events of a child, each checked against its report; `netns` is the namespace it ran
/// in. Its TCP connection's first send is not reported: its connect was.
fn check_child(events: &[SocketEvent], r: &ChildReport, netns: u64) {
    let (comm, exe) = expected_comm();
    let wrong: Vec<_> = events
        .iter()
        .filter(|e| is_tcp_connect(e, r) || is_tcp_send(e, r) || is_udp_send(e, r))
        .filter(|e| e.pid != r.pid || e.netns != netns)
        .collect();
    assert!(
        wrong.is_empty(),
        "attributed to another process: {wrong:#?}"
    );
    let again: Vec<_> = events.iter().filter(|e| is_tcp_send(e, r)).collect();
    assert!(again.is_empty(), "a connection reported twice: {again:#?}");
    for (what, matches) in [
        (
            "TCP connect",
            is_tcp_connect as fn(&SocketEvent, &ChildReport) -> bool,
        ),
        ("UDP first send", is_udp_send),
    ] {
        let Some(e) = events.iter().find(|e| matches(e, r)) else {
            panic!("no {what} event for {r:?} in {events:#?}");
        };
        assert_eq!(e.pid, r.pid, "{what}");
        assert_eq!(e.tid, r.tid, "{what}");
        assert_eq!(e.uid, 0, "{what}");
        assert_eq!(e.netns, netns, "{what}");
        // The group leader's name, not the thread's (the test harness names its threads after
        // the test: "child_helper").
        assert_eq!(e.comm, comm, "{what}");
        assert_eq!(e.exe_name.as_deref(), Some(exe.as_str()), "{what}");
        assert_eq!(e.start_time_ticks(clock_ticks()), r.start_ticks, "{what}");
        assert_ne!(e.cgroup_id, 0, "{what}");
    }
}

// ------------------------------------------------------------------------------------------
// Tests

#[test]
fn a_process_that_exits_at_once_is_named() {
    let _serial = serial();
    let Some(mut source) = source_or_skip("a_process_that_exits_at_once_is_named") else {
        return;
    };
    let child = spawn_child(&[], 0);
    let pid = child.0.id();
    let report = finish_child(child);
    assert_eq!(report.pid, pid);
    // The process is gone: /proc cannot name it any more.
    assert!(!std::path::Path::new(&format!("/proc/{pid}")).exists());

    let mut events = Vec::new();
    drain_until(&mut source, &mut events, |ev| {
        ev.iter().any(|e| is_tcp_connect(e, &report)) && ev.iter().any(|e| is_udp_send(e, &report))
    });
    check_child(&events, &report, own_netns().unwrap());
    let stats = source.stats();
    assert!(stats.events >= 2, "{stats:?}");
    assert_eq!(stats.unreadable, 0, "{stats:?}");
    assert_eq!(stats.lost_ring_full, 0, "{stats:?}");
}

/// A network namespace, removed when dropped.
struct Netns(String);

impl Netns {
    fn create() -> Result<Netns, String> {
        let name = format!("telltale-ebpf-{}", std::process::id());
        let run = |args: &[&str]| -> Result<(), String> {
            let out = Command::new("ip")
                .args(args)
                .output()
                .map_err(|e| format!("ip could not be run ({e})"))?;
            if out.status.success() {
                Ok(())
            } else {
                Err(format!(
                    "ip {}: {}",
                    args.join(" "),
                    String::from_utf8_lossy(&out.stderr).trim()
                ))
            }
        };
        run(&["netns", "add", &name])?;
        let ns = Netns(name);
        run(&["-n", &ns.0, "link", "set", "lo", "up"])?;
        Ok(ns)
    }

    fn inode(&self) -> u64 {
        std::fs::metadata(format!("/run/netns/{}", self.0))
            .unwrap()
            .ino()
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.0]).output();
    }
}

#[test]
fn a_process_in_another_network_namespace_is_named_with_it() {
    let _serial = serial();
    let test = "a_process_in_another_network_namespace_is_named_with_it";
    let Some(mut source) = source_or_skip(test) else {
        return;
    };
    let ns = match Netns::create() {
        Ok(ns) => ns,
        Err(why) => {
            let how = format!("{why} (it needs {EBPF_INSTALL})");
            common::require(false, "a network namespace", &how);
            return;
        }
    };
    let inode = ns.inode();
    assert_ne!(Some(inode), own_netns());

    let child = spawn_child(&["ip", "netns", "exec", &ns.0], 0);
    let report = finish_child(child);
    let mut events = Vec::new();
    drain_until(&mut source, &mut events, |ev| {
        ev.iter().any(|e| is_tcp_connect(e, &report)) && ev.iter().any(|e| is_udp_send(e, &report))
    });
    check_child(&events, &report, inode);
}

/// Two threads that keep both cores busy until dropped.
struct Busy(Arc<AtomicBool>, Vec<JoinHandle<()>>);

impl Busy {
    fn start(threads: usize) -> Busy {
        let stop = Arc::new(AtomicBool::new(false));
        let handles = (0..threads)
            .map(|_| {
                let stop = stop.clone();
                std::thread::spawn(move || {
                    let mut x = 0u64;
                    while !stop.load(Ordering::Relaxed) {
                        x = std::hint::black_box(
                            x.wrapping_mul(6364136223846793005).wrapping_add(1),
                        );
                    }
                })
            })
            .collect();
        Busy(stop, handles)
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
        for h in self.1.drain(..) {
            let _ = h.join();
        }
    }
}

#[test]
fn a_hundred_short_processes_on_busy_cores_are_named_rightly() {
    let _serial = serial();
    let Some(mut source) =
        source_or_skip("a_hundred_short_processes_on_busy_cores_are_named_rightly")
    else {
        return;
    };
    let _busy = Busy::start(2);
    let netns = own_netns().unwrap();
    const RUNS: usize = 100;
    const AT_ONCE: usize = 4;
    let mut named = 0;
    let mut unnamed = Vec::new();
    let mut events = Vec::new();
    for _ in 0..RUNS / AT_ONCE {
        let children: Vec<_> = (0..AT_ONCE).map(|_| spawn_child(&[], 50)).collect();
        let reports: Vec<_> = children.into_iter().map(finish_child).collect();
        drain_until(&mut source, &mut events, |ev| {
            reports.iter().all(|r| {
                ev.iter().any(|e| is_tcp_connect(e, r)) && ev.iter().any(|e| is_udp_send(e, r))
            })
        });
        for r in &reports {
            let mine = |e: &&SocketEvent| is_tcp_connect(e, r) || is_udp_send(e, r);
            let wrong: Vec<_> = events
                .iter()
                .filter(mine)
                .filter(|e| e.pid != r.pid || e.netns != netns)
                .collect();
            assert!(
                wrong.is_empty(),
                "attributed to another process: {wrong:#?}"
            );
            let right = |m: fn(&SocketEvent, &ChildReport) -> bool| {
                events.iter().any(|e| m(e, r) && e.pid == r.pid)
            };
            if right(is_tcp_connect) && right(is_udp_send) {
                named += 1;
            } else {
                unnamed.push(r.pid);
            }
        }
        events.clear();
    }
    let stats = source.stats();
    eprintln!("named {named} of {RUNS}; unnamed: {unnamed:?}; {stats:?}");
    assert!(
        named >= RUNS - 1,
        "named {named} of {RUNS}; unnamed: {unnamed:?}; {stats:?}"
    );
    assert_eq!(stats.unreadable, 0);
}

#[test]
fn unbound_udp_and_ipv6_sockets_are_named() {
    let _serial = serial();
    let test = "unbound_udp_and_ipv6_sockets_are_named";
    let Some(mut source) = source_or_skip(test) else {
        return;
    };
    if Command::new("python3").arg("-V").output().is_err() {
        return cannot_run(test, "python3");
    }
    let v4 = UdpSocket::bind("127.0.0.1:0").unwrap();
    let v6 = UdpSocket::bind("[::1]:0").ok();
    // An unbound IPv4 socket (bound by its first send), an unbound IPv6 one to ::1, and an IPv6
    // socket connected to an IPv4-mapped address; each prints its local port; then exit.
    let script = r#"
import os, socket, sys
port4, port6 = int(sys.argv[1]), int(sys.argv[2])
out = [os.getpid()]
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.sendto(b"x", ("127.0.0.1", port4))
out.append(s.getsockname()[1])
if port6:
    s6 = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    s6.sendto(b"x", ("::1", port6))
    out.append(s6.getsockname()[1])
else:
    out.append(0)
m = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
m.connect(("::ffff:127.0.0.1", port4))
m.send(b"x")
out.append(m.getsockname()[1])
print("PY", *out, flush=True)
"#;
    let port6 = v6.as_ref().map_or(0, |s| s.local_addr().unwrap().port());
    let out = Command::new("python3")
        .args(["-c", script])
        .arg(v4.local_addr().unwrap().port().to_string())
        .arg(port6.to_string())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    let line = stdout.lines().find(|l| l.starts_with("PY ")).unwrap();
    let f: Vec<u32> = line
        .split_whitespace()
        .skip(1)
        .map(|x| x.parse().unwrap())
        .collect();
    let (pid, unbound4, unbound6, mapped) = (f[0], f[1] as u16, f[2] as u16, f[3] as u16);

    let want4: SocketAddr = format!("0.0.0.0:{unbound4}").parse().unwrap();
    let want6: SocketAddr = format!("[::]:{unbound6}").parse().unwrap();
    let want_mapped: SocketAddr = format!("127.0.0.1:{mapped}").parse().unwrap();
    let find = |ev: &[SocketEvent], local: SocketAddr| {
        ev.iter()
            .find(|e| e.kind == EventKind::FirstSend && !e.tcp && e.local == local)
            .cloned()
    };
    let mut events = Vec::new();
    drain_until(&mut source, &mut events, |ev| {
        find(ev, want4).is_some()
            && (port6 == 0 || find(ev, want6).is_some())
            && find(ev, want_mapped).is_some()
    });
    let e = find(&events, want4).expect("no event for the unbound IPv4 socket");
    assert_eq!((e.pid, e.remote), (pid, None));
    if port6 != 0 {
        let e = find(&events, want6).expect("no event for the unbound IPv6 socket");
        assert_eq!((e.pid, e.remote), (pid, None));
    } else {
        eprintln!("no IPv6 loopback here: the IPv6 socket was not tried");
    }
    // Given as IPv4, as its packets are.
    let e = find(&events, want_mapped).expect("no event for the IPv4-mapped socket");
    assert_eq!(e.pid, pid);
    assert_eq!(e.remote, Some(v4.local_addr().unwrap()));
}

#[test]
fn a_full_ring_is_counted() {
    let _serial = serial();
    let Some(mut source) = source_or_skip("a_full_ring_is_counted") else {
        return;
    };
    // More first sends than the ring holds (about 2,800), without reading it.
    const SOCKETS: u64 = 4000;
    let receiver = UdpSocket::bind("127.0.0.1:0").unwrap();
    let to = receiver.local_addr().unwrap();
    for _ in 0..SOCKETS {
        let s = UdpSocket::bind("127.0.0.1:0").unwrap();
        s.send_to(b"x", to).unwrap();
    }
    let lost = source.stats().lost_ring_full;
    assert!(lost > 0, "{:?}", source.stats());
    let mut events = Vec::new();
    source.drain(&mut events);
    let me = std::process::id();
    let mine = events.iter().filter(|e| e.pid == me && !e.tcp).count() as u64;
    // Each socket was read or counted lost (the count may include other processes' events).
    assert!(mine + lost >= SOCKETS, "read {mine}, lost {lost}");
    let stats = source.stats();
    assert_eq!(stats.events, events.len() as u64);
    assert_eq!(stats.unreadable, 0);

    // Once read, the ring takes records again.
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    s.send_to(b"x", to).unwrap();
    let local = s.local_addr().unwrap();
    events.clear();
    drain_until(&mut source, &mut events, |ev| {
        ev.iter().any(|e| e.local == local)
    });
    assert!(events.iter().any(|e| e.local == local && e.pid == me));
}

#[test]
fn a_missing_tracepoint_is_reported_and_the_other_runs() {
    let _serial = serial();
    let test = "a_missing_tracepoint_is_reported_and_the_other_runs";
    if source_or_skip(test).is_none() {
        return;
    }
    let options = Options {
        connect_tracepoint: "sock:no_such_tracepoint".into(),
        ..Options::default()
    };
    let mut source = EventSource::start_with(&options).unwrap();
    assert_eq!(source.attached(), ["sock:sock_send_length"]);
    assert_eq!(source.missing().len(), 1);
    assert!(
        source.missing()[0]
            .starts_with("sock:no_such_tracepoint: this kernel has no such tracepoint"),
        "{:?}",
        source.missing()
    );
    // The other still runs.
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    s.send_to(b"x", "127.0.0.1:9").unwrap();
    let local = s.local_addr().unwrap();
    let mut events = Vec::new();
    drain_until(&mut source, &mut events, |ev| {
        ev.iter().any(|e| e.local == local)
    });
    assert!(events.iter().any(|e| e.local == local));

    // Neither: nothing can run, and the reason names both.
    let options = Options {
        send_tracepoint: "sock:nor_this_one".into(),
        ..options
    };
    let Err(e) = EventSource::start_with(&options) else {
        panic!("started with no tracepoint");
    };
    assert!(
        e.reason.starts_with("no eBPF program could be attached"),
        "{e}"
    );
    assert!(
        e.reason
            .contains("sock:no_such_tracepoint: this kernel has no such tracepoint"),
        "{e}"
    );
    assert!(
        e.reason
            .contains("sock:nor_this_one: this kernel has no such tracepoint"),
        "{e}"
    );
}

#[test]
fn a_kernel_without_btf_is_reported() {
    let options = Options {
        btf: "/nonexistent/vmlinux".into(),
        ..Options::default()
    };
    let Err(e) = EventSource::start_with(&options) else {
        panic!("started without BTF");
    };
    if !e.reason.contains("clang was missing") {
        assert!(e.reason.contains("/nonexistent/vmlinux is missing"), "{e}");
    }
}

#[test]
fn refused_connections_are_named_and_earlier_ones_counted() {
    let _serial = serial();
    let test = "refused_connections_are_named_and_earlier_ones_counted";
    if !nix::unistd::geteuid().is_root() {
        return cannot_run(test, "root");
    }
    if Command::new("python3").arg("-V").output().is_err() {
        return cannot_run(test, "python3");
    }
    // A connection left in SYN_SENT (its listener's queue is full, so its SYN is dropped) before
    // the source starts; closed after. Then one refused (no listener), after.
    let script = r#"
import os, socket, sys
l = socket.socket(); l.bind(("127.0.0.1", 0)); l.listen(0)
first = socket.create_connection(l.getsockname())
waiting = socket.socket(); waiting.setblocking(False)
try:
    waiting.connect(l.getsockname())
except BlockingIOError:
    pass
print("READY", flush=True)
sys.stdin.readline()
waiting.close()
closed = socket.socket(); closed.bind(("127.0.0.1", 0)); port = closed.getsockname()[1]; closed.close()
refused = socket.socket()
try:
    refused.connect(("127.0.0.1", port))
except ConnectionRefusedError:
    pass
print("DONE", os.getpid(), refused.getsockname()[1], port, flush=True)
"#;
    let mut child = ChildGuard(
        Command::new("python3")
            .args(["-c", script])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let mut lines = BufReader::new(child.0.stdout.take().unwrap()).lines();
    assert_eq!(lines.next().unwrap().unwrap(), "READY");
    let Some(mut source) = source_or_skip(test) else {
        return;
    };
    let before = source.stats().connects_unseen;
    writeln!(child.0.stdin.take().unwrap(), "go").unwrap();
    let done = lines.next().unwrap().unwrap();
    let f: Vec<u32> = done
        .split_whitespace()
        .skip(1)
        .map(|x| x.parse().unwrap())
        .collect();
    let (pid, local_port, refused_port) = (f[0], f[1] as u16, f[2] as u16);
    assert!(child.0.wait().unwrap().success());

    let is_refused = |e: &SocketEvent| {
        e.kind == EventKind::Connect
            && e.local.port() == local_port
            && e.remote.map(|r| r.port()) == Some(refused_port)
    };
    let mut events = Vec::new();
    drain_until(&mut source, &mut events, |ev| ev.iter().any(is_refused));
    let e = events
        .iter()
        .find(|e| is_refused(e))
        .expect("no event for the refused connection");
    assert_eq!(e.pid, pid);
    assert!(
        source.stats().connects_unseen > before,
        "{:?}",
        source.stats()
    );
}

/// Not run by default: what the source costs a sender. `cargo test --release --test attrib_ebpf
/// cost -- --ignored --nocapture` prints the CPU time the sending thread spent (from
/// /proc/thread-self/schedstat, so that the other threads' do not count) on 100,000 UDP sends on
/// one socket (the common case: a map lookup and two small reads each), and on 10,000 sockets
/// that each send once (an event each), with the source and without, the best of 5 rounds that
/// alternate; and how long start() took.
#[test]
#[ignore]
fn cost() {
    let _serial = serial();
    if !nix::unistd::geteuid().is_root() {
        return cannot_run("cost", "root");
    }
    // Never read: once its buffer is full, datagrams are dropped, at the same cost in both runs.
    let receiver = UdpSocket::bind("127.0.0.1:0").unwrap();
    let to = receiver.local_addr().unwrap();
    let cpu_ns = || -> u64 {
        let s = std::fs::read_to_string("/proc/thread-self/schedstat").unwrap();
        s.split_whitespace().next().unwrap().parse().unwrap()
    };
    let measure = |f: &dyn Fn()| {
        let t = cpu_ns();
        f();
        Duration::from_nanos(cpu_ns() - t)
    };
    let one_socket = || {
        let s = UdpSocket::bind("127.0.0.1:0").unwrap();
        for _ in 0..100_000 {
            s.send_to(b"x", to).unwrap();
        }
    };
    let many_sockets = || {
        for _ in 0..10_000 {
            let s = UdpSocket::bind("127.0.0.1:0").unwrap();
            s.send_to(b"x", to).unwrap();
        }
    };
    let mut without = (Duration::MAX, Duration::MAX);
    let mut with = (Duration::MAX, Duration::MAX);
    let mut stats = Vec::new();
    let mut starts = Vec::new();
    for _ in 0..5 {
        without.0 = without.0.min(measure(&one_socket));
        without.1 = without.1.min(measure(&many_sockets));
        let t = Instant::now();
        let Some(mut source) = source_or_skip("cost") else {
            return;
        };
        starts.push(t.elapsed());
        // The reader on the other core, as telltale's would be.
        let stop = Arc::new(AtomicBool::new(false));
        let reader = {
            let stop = stop.clone();
            std::thread::spawn(move || {
                let mut events = Vec::new();
                while !stop.load(Ordering::Relaxed) {
                    source.drain(&mut events);
                    events.clear();
                    std::thread::sleep(Duration::from_millis(1));
                }
                source.drain(&mut events);
                source.stats()
            })
        };
        with.0 = with.0.min(measure(&one_socket));
        with.1 = with.1.min(measure(&many_sockets));
        stop.store(true, Ordering::Relaxed);
        stats.push(reader.join().unwrap());
    }
    eprintln!(
        "100,000 sends on one socket: {:?} without, {:?} with ({:.3}x)\n\
         10,000 sockets sending once: {:?} without, {:?} with ({:.3}x)\n\
         start(): {starts:?}\n{stats:?}",
        without.0,
        with.0,
        with.0.as_secs_f64() / without.0.as_secs_f64(),
        without.1,
        with.1,
        with.1.as_secs_f64() / without.1.as_secs_f64(),
    );
}

#[test]
fn a_socket_shared_by_two_processes_is_reported_once_for_each() {
    let _serial = serial();
    let test = "a_socket_shared_by_two_processes_is_reported_once_for_each";
    let Some(mut source) = source_or_skip(test) else {
        return;
    };
    if Command::new("python3").arg("-V").output().is_err() {
        return cannot_run(test, "python3");
    }
    let receiver = UdpSocket::bind("127.0.0.1:0").unwrap();
    // The parent sends, its forked child sends on the same socket, then both take turns.
    let script = r#"
import os, socket, sys
dst = ("127.0.0.1", int(sys.argv[1]))
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.sendto(b"x", dst)
child = os.fork()
if child == 0:
    for _ in range(10):
        s.sendto(b"x", dst)
    os._exit(0)
for _ in range(10):
    s.sendto(b"x", dst)
os.waitpid(child, 0)
print("SHARED", os.getpid(), child, s.getsockname()[1], flush=True)
"#;
    let out = Command::new("python3")
        .args(["-c", script])
        .arg(receiver.local_addr().unwrap().port().to_string())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    let line = stdout.lines().find(|l| l.starts_with("SHARED ")).unwrap();
    let f: Vec<u32> = line
        .split_whitespace()
        .skip(1)
        .map(|x| x.parse().unwrap())
        .collect();
    let (parent, child, port) = (f[0], f[1], f[2] as u16);
    let on_it = |e: &&SocketEvent| !e.tcp && e.local.port() == port;
    let mut events = Vec::new();
    drain_until(&mut source, &mut events, |ev| {
        ev.iter().filter(on_it).count() >= 2
    });
    // Anything more would have come by now.
    std::thread::sleep(Duration::from_millis(50));
    source.drain(&mut events);
    let mut pids: Vec<u32> = events.iter().filter(on_it).map(|e| e.pid).collect();
    pids.sort_unstable();
    let mut want = vec![parent, child];
    want.sort_unstable();
    assert_eq!(pids, want, "{events:#?}");
}
