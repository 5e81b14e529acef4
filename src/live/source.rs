//! The capture thread: packets from a live interface (libpcap) or from a capture file
//! replayed at the pace of its timestamps, sent in batches over a bounded channel to the
//! pipeline thread. Nothing else talks to the capture thread: the UI and report writing
//! never hold it up.
//!
//! When the pipeline falls behind and the queue is full, live capture waits for room
//! rather than dropping the batch. Meanwhile the kernel's capture buffer (libpcap's
//! buffer, [`PCAP_BUFFER_BYTES`]) takes what arrives, and if that fills too, the kernel
//! drops packets and counts them (libpcap's statistics, reported as `dropped_by_kernel`).
//! So every loss is counted in one place, and a burst has both buffers to land in, one
//! after the other. Dropping a whole batch of our own instead would throw packets away
//! while the kernel's buffer still had room. Only a stop request ends the wait; the
//! batch in hand is then dropped and counted as `dropped_by_queue`. A file replay waits
//! too, and loses nothing.

use super::batch::{Batch, Pool};
use super::fault;
use crate::capture::LinkType;
use crate::capture::RawPacket;
use crate::capture::file::CaptureReader;
use crate::time::Timestamp;
use nix::poll::{PollFd, PollFlags, poll};
use std::os::fd::AsFd;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{SyncSender, TrySendError};
use std::sync::{Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// What the capture thread tells the pipeline thread.
#[derive(Debug)]
pub enum CaptureMsg {
    Batch(Batch),
    /// libpcap's counters: packets dropped by the kernel and by the interface.
    Stats {
        kernel: u64,
        interface: u64,
    },
    /// The file was read to its end; a warning if it was cut short.
    Finished {
        warning: Option<String>,
    },
    /// The capture failed; what was sent before stands.
    Failed(String),
}

/// Everything the pipeline thread receives, on one channel.
#[derive(Debug)]
pub enum ToPipeline {
    Capture(CaptureMsg),
    /// Write the report so far (JSON and Markdown) into this folder.
    Export {
        dir: std::path::PathBuf,
    },
    /// Stop: write the final report if one was asked for, then end.
    Stop,
}

/// The capture thread's end of the channel.
#[derive(Clone)]
pub struct Feed {
    pub tx: SyncSender<ToPipeline>,
    /// Packets dropped because the queue was full when the capture was asked to stop.
    pub queue_drops: Arc<AtomicU64>,
    /// Set to ask the capture thread to stop.
    pub stop: Arc<AtomicBool>,
}

impl Feed {
    fn stopping(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }

    /// Hands a batch of live packets to the pipeline, waiting while the queue is full (the
    /// kernel's buffer holds what arrives meanwhile). A stop request ends the wait: the
    /// batch is then dropped and its packets counted. False when the pipeline is gone.
    fn deliver(&self, batch: Batch) -> bool {
        self.hand_over(CaptureMsg::Batch(batch))
    }

    /// Sends, waiting while the queue is full, until it is sent or the capture is asked
    /// to stop (a batch given up then is counted).
    fn hand_over(&self, msg: CaptureMsg) -> bool {
        let mut msg = ToPipeline::Capture(msg);
        let mut pause = Duration::from_micros(50);
        loop {
            match self.tx.try_send(msg) {
                Ok(()) => return true,
                Err(TrySendError::Disconnected(_)) => return false,
                Err(TrySendError::Full(back)) => {
                    if self.stopping() {
                        if let ToPipeline::Capture(CaptureMsg::Batch(b)) = &back {
                            self.queue_drops
                                .fetch_add(b.len() as u64, Ordering::Relaxed);
                        }
                        return true;
                    }
                    msg = back;
                    std::thread::sleep(pause);
                    pause = pause.saturating_mul(2).min(MAX_PAUSE);
                }
            }
        }
    }

    /// Sends, waiting for room; false when the pipeline is gone.
    fn send(&self, msg: CaptureMsg) -> bool {
        self.tx.send(ToPipeline::Capture(msg)).is_ok()
    }
}

/// Replays a capture at `speed` times its own pace (`None`: as fast as it can be read).
pub fn spawn_replay(reader: CaptureReader, speed: Option<f64>, feed: Feed) -> JoinHandle<()> {
    std::thread::Builder::new()
        .name("telltale-replay".into())
        .spawn(move || {
            if catch_unwind(AssertUnwindSafe(|| replay(reader, speed, &feed))).is_err() {
                tell_of_panic(&feed);
            }
        })
        .unwrap_or_else(|e| panic!("cannot start the replay thread: {e}"))
}

fn replay(mut reader: CaptureReader, speed: Option<f64>, feed: &Feed) {
    let fault = fault::injected("telltale-replay");
    let mut passed_on = 0u64;
    // hands the batch so far to the pipeline; false when the pipeline is gone
    let pool = Pool::new();
    let mut flush = |batch: &mut Batch| {
        let full = std::mem::replace(batch, pool.take());
        passed_on += full.len() as u64;
        let alive = feed.send(CaptureMsg::Batch(full));
        if fault && passed_on >= fault::FAULT_AFTER_PACKETS {
            panic!("injected fault (TELLTALE_FAULT=panic:telltale-replay)");
        }
        alive
    };
    let wall_start = Instant::now();
    let mut first: Option<Timestamp> = None;
    let mut batch = Batch::with_capacity();
    let mut alive = true;
    while alive && !feed.stopping() {
        // the input has nothing more yet (a pipe): what there is goes now, not when more comes
        if !batch.is_empty() && reader.would_wait() {
            alive = flush(&mut batch);
        }
        let Some(p) = reader.next_packet() else { break };
        if let Some(speed) = speed.filter(|s| *s > 0.0) {
            let t0 = *first.get_or_insert(p.ts);
            // `max` also turns NaN into 0; what is then too large for a Duration waits
            // until the replay is stopped
            let secs = (p.ts.seconds_since(t0) / speed).max(0.0);
            let due = Duration::try_from_secs_f64(secs).unwrap_or(Duration::MAX);
            if due > wall_start.elapsed() {
                // hand over what is ready, then wait for this packet's time
                if !batch.is_empty() {
                    alive = flush(&mut batch);
                }
                // one reading of the clock per look: it moves on between two readings,
                // so `due` less a later one than the reading compared may be negative
                loop {
                    let left = due.saturating_sub(wall_start.elapsed());
                    if !alive || feed.stopping() || left.is_zero() {
                        break;
                    }
                    std::thread::sleep(left.min(Duration::from_millis(50)));
                }
            }
        }
        batch.push(&p);
        if batch.is_full() {
            alive = flush(&mut batch);
        }
    }
    if !batch.is_empty() {
        flush(&mut batch);
    }
    let warning = reader.truncation().map(|t| {
        format!(
            "{} was cut short at byte {}: {}",
            reader.name(),
            t.offset,
            t.what
        )
    });
    feed.send(CaptureMsg::Finished { warning });
}

/// After a capture thread's panic: tells the pipeline that the capture stopped, so that
/// the report says it covers only what came before. (The panic hook has already set the
/// session ending.)
fn tell_of_panic(feed: &Feed) {
    let thread = std::thread::current()
        .name()
        .unwrap_or("capture")
        .to_string();
    feed.hand_over(CaptureMsg::Failed(format!(
        "the {thread} thread stopped on an internal error (a bug)"
    )));
}

/// Why live capture could not start, in words that say what to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveError(pub String);

impl std::fmt::Display for LiveError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The longest the capture thread sleeps between two looks at a full queue.
const MAX_PAUSE: Duration = Duration::from_millis(2);

/// libpcap's kernel buffer by default: 64 MiB, about half a second of a saturated gigabit
/// link, or 45,000 full-size frames. It takes bursts, and whatever arrives while the
/// pipeline works through a full queue.
pub const PCAP_BUFFER_BYTES: usize = 64 << 20;

/// How long the kernel holds packets before handing them over (libpcap's timeout; on
/// Linux, the time after which a block of the ring is passed on even when not full).
const PCAP_TIMEOUT_MS: i32 = 100;

/// Opens an interface for capture: full snapshot length, not promiscuous unless asked,
/// nanosecond timestamps where the platform has them, and a kernel buffer of
/// [`PCAP_BUFFER_BYTES`].
///
/// Not immediate mode: on Linux, immediate mode makes libpcap use a TPACKET_V2 ring,
/// whose slots are all as large as the largest packet the interface may deliver (64 KiB
/// once segmentation offload is on, as on most network cards and every veth pair), so
/// that 64 MiB held only about a thousand packets. Without it libpcap uses TPACKET_V3,
/// which packs packets into the ring by their real size: the same 64 MiB holds some
/// 60,000 packets of a thousand bytes. The price is up to [`PCAP_TIMEOUT_MS`] of delay
/// before packets reach telltale, less than the UI's refresh.
pub fn open_live(
    interface: &str,
    filter: Option<&str>,
    promisc: bool,
) -> Result<pcap::Capture<pcap::Active>, LiveError> {
    open_live_with_buffer(interface, filter, promisc, PCAP_BUFFER_BYTES)
}

/// [`open_live`] with a kernel buffer of `buffer_bytes` (at most 2 GiB; the kernel may
/// give less).
pub fn open_live_with_buffer(
    interface: &str,
    filter: Option<&str>,
    promisc: bool,
    buffer_bytes: usize,
) -> Result<pcap::Capture<pcap::Active>, LiveError> {
    let inactive = pcap::Capture::from_device(interface).map_err(|e| live_error(interface, &e))?;
    let mut cap = inactive
        .promisc(promisc)
        .snaplen(262_144)
        .buffer_size(i32::try_from(buffer_bytes).unwrap_or(i32::MAX))
        .timeout(PCAP_TIMEOUT_MS)
        .precision(pcap::Precision::Nano)
        .open()
        .map_err(|e| live_error(interface, &e))?;
    if let Some(f) = filter {
        cap.filter(f, true)
            .map_err(|e| LiveError(format!("the capture filter `{f}` is not valid BPF: {e}")))?;
    }
    Ok(cap)
}

fn live_error(interface: &str, e: &pcap::Error) -> LiveError {
    let text = e.to_string();
    let lower = text.to_lowercase();
    if lower.contains("permission") || lower.contains("not permitted") {
        LiveError(format!(
            "no permission to capture on {interface} ({text}).\n\
             Run it as root (`sudo telltale watch`), or grant the binary the capture capabilities once:\n  \
             sudo setcap cap_net_raw,cap_net_admin=eip \"$(command -v telltale)\"\n\
             To see what telltale shows without capturing, run `telltale demo`."
        ))
    } else if lower.contains("no such device")
        || lower.contains("doesn't exist")
        || lower.contains("not found")
    {
        LiveError(format!(
            "there is no interface called {interface} ({text}); `telltale interfaces` lists the ones you can capture on"
        ))
    } else {
        LiveError(format!("cannot capture on {interface}: {text}"))
    }
}

/// libpcap's drop counters: packets the kernel dropped (its buffer was full) and packets
/// the interface dropped, since the capture began.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PcapDrops {
    pub kernel: u64,
    pub interface: u64,
}

/// A running capture thread, and how to stop it.
pub struct Running {
    thread: JoinHandle<()>,
    feed: Feed,
    /// Wakes libpcap should it be in a read (the capture thread reads without blocking,
    /// and looks for a stop request at least every [`IDLE_WAIT_MS`]).
    breaker: Option<pcap::BreakLoop>,
    /// libpcap's counters as the capture thread last read them (the last time just before
    /// it ends).
    drops: Arc<Mutex<Option<PcapDrops>>>,
}

impl Running {
    pub fn replay(thread: JoinHandle<()>, feed: Feed) -> Running {
        Running {
            thread,
            feed,
            breaker: None,
            drops: Arc::default(),
        }
    }

    /// Asks the thread to stop, wakes it, and waits for it. Returns libpcap's drop
    /// counters as they stood when the capture ended (None for a file replay). The
    /// capture thread also sends them, but the queue may have had no room left.
    pub fn stop(self) -> Option<PcapDrops> {
        self.feed.stop.store(true, Ordering::Relaxed);
        if let Some(b) = &self.breaker {
            b.breakloop();
        }
        let _ = self.thread.join();
        *self.drops.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// How long the idle capture thread sleeps in poll(2) before it looks for a stop request
/// and reads libpcap's counters again.
const IDLE_WAIT_MS: u16 = 100;

/// Captures until asked to stop or the interface fails, reading libpcap's drop counters
/// about once a second and once more at the end. A full queue makes it wait (see the
/// module's documentation); nothing else does.
///
/// The handle is read without blocking: whenever libpcap has nothing more, the batch so
/// far goes to the pipeline at once, and the thread sleeps in poll(2) until the kernel
/// passes packets on (or [`IDLE_WAIT_MS`] passes). Blocking reads on a TPACKET_V3 ring
/// would never return on a quiet link, leaving its last packets unsent.
pub fn spawn_live(mut cap: pcap::Capture<pcap::Active>, feed: Feed) -> Running {
    let breaker = cap.breakloop_handle();
    let thread_feed = feed.clone();
    let drops: Arc<Mutex<Option<PcapDrops>>> = Arc::default();
    let thread_drops = drops.clone();
    let thread = std::thread::Builder::new()
        .name("telltale-capture".into())
        .spawn(move || {
            if catch_unwind(AssertUnwindSafe(|| capture(cap, &feed, &thread_drops))).is_err() {
                tell_of_panic(&feed);
            }
        })
        .unwrap_or_else(|e| panic!("cannot start the capture thread: {e}"));
    Running {
        thread,
        feed: thread_feed,
        breaker: Some(breaker),
        drops,
    }
}

/// Batches waiting between the capture thread and the pipeline at most, for a live capture: a
/// longer backlog waits in the kernel's buffer, which is of fixed size.
pub const QUEUE_BATCHES: usize = 32;

/// Packets between two readings of the clock in the capture loop.
const CLOCK_EVERY: usize = 16;

fn capture(cap: pcap::Capture<pcap::Active>, feed: &Feed, thread_drops: &Mutex<Option<PcapDrops>>) {
    let link = LinkType(u32::try_from(cap.get_datalink().0).unwrap_or(u32::MAX));
    let mut cap = match cap.setnonblock() {
        Ok(cap) => cap,
        Err(e) => {
            let why = format!("the capture could not be read without blocking: {e}");
            feed.hand_over(CaptureMsg::Failed(why));
            return;
        }
    };
    // reads libpcap's counters, keeps them for `stop`, and sends them on if the
    // queue has room (otherwise a later reading will)
    let read_stats = |cap: &mut pcap::Capture<pcap::Active>| {
        let Ok(s) = cap.stats() else { return };
        let now = PcapDrops {
            kernel: u64::from(s.dropped),
            interface: u64::from(s.if_dropped),
        };
        *thread_drops.lock().unwrap_or_else(PoisonError::into_inner) = Some(now);
        let msg = CaptureMsg::Stats {
            kernel: now.kernel,
            interface: now.interface,
        };
        let _ = feed.tx.try_send(ToPipeline::Capture(msg));
    };
    let fault = fault::injected("telltale-capture");
    let mut passed_on = 0u64;
    // hands a batch to the pipeline; false when the pipeline is gone
    let mut deliver = |batch: Batch| {
        passed_on += batch.len() as u64;
        let alive = feed.deliver(batch);
        if fault && passed_on >= fault::FAULT_AFTER_PACKETS {
            panic!("injected fault (TELLTALE_FAULT=panic:telltale-capture)");
        }
        alive
    };
    let pool = Pool::new();
    let mut batch = pool.take();
    let mut batch_started = Instant::now();
    let mut last_stats = Instant::now();
    let mut alive = true;
    while alive && !feed.stopping() {
        match cap.next_packet() {
            Ok(p) => {
                if batch.is_empty() {
                    batch_started = Instant::now();
                }
                let h = p.header;
                batch.push(&RawPacket {
                    ts: Timestamp::from_secs_nanos(h.ts.tv_sec, h.ts.tv_usec),
                    link,
                    data: p.data,
                    orig_len: h.len,
                    interface: 0,
                });
            }
            // nothing ready: what there is goes now, then wait for the kernel
            Err(pcap::Error::TimeoutExpired) => {
                if !batch.is_empty() {
                    alive = deliver(std::mem::replace(&mut batch, pool.take()));
                }
                let mut ready = [PollFd::new(cap.as_fd(), PollFlags::POLLIN)];
                // an interrupted or failed wait only means looking again sooner
                let _ = poll(&mut ready, IDLE_WAIT_MS);
            }
            Err(_) if feed.stopping() => break,
            Err(e) => {
                if !batch.is_empty() {
                    deliver(std::mem::replace(&mut batch, pool.take()));
                }
                read_stats(&mut cap);
                feed.hand_over(CaptureMsg::Failed(format!("the capture stopped: {e}")));
                return;
            }
        }
        // the clock is read every CLOCK_EVERY packets, not for each (when packets stop
        // coming, the batch goes at once anyway)
        let look = batch.len().is_multiple_of(CLOCK_EVERY);
        let stale = look && batch_started.elapsed() >= Duration::from_millis(50);
        if batch.is_full() || (!batch.is_empty() && stale) {
            alive = deliver(std::mem::replace(&mut batch, pool.take()));
        }
        if look && last_stats.elapsed() >= Duration::from_secs(1) {
            last_stats = Instant::now();
            read_stats(&mut cap);
        }
    }
    if !batch.is_empty() {
        deliver(batch);
    }
    read_stats(&mut cap);
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc::sync_channel;

    fn batch_of(n: usize) -> Batch {
        let mut b = Batch::with_capacity();
        for i in 0..n {
            b.push(&RawPacket {
                ts: Timestamp(i as i64),
                link: LinkType::ETHERNET,
                data: &[0u8; 60],
                orig_len: 60,
                interface: 0,
            });
        }
        b
    }

    fn feed(capacity: usize) -> (Feed, std::sync::mpsc::Receiver<ToPipeline>) {
        let (tx, rx) = sync_channel(capacity);
        let feed = Feed {
            tx,
            queue_drops: Arc::default(),
            stop: Arc::default(),
        };
        (feed, rx)
    }

    fn packets(msg: ToPipeline) -> usize {
        match msg {
            ToPipeline::Capture(CaptureMsg::Batch(b)) => b.len(),
            other => panic!("not a batch: {other:?}"),
        }
    }

    #[test]
    fn a_full_queue_makes_the_capture_wait_and_loses_nothing() {
        let (feed, rx) = feed(1);
        assert!(feed.deliver(batch_of(3)));
        let sender = feed.clone();
        let waiting = std::thread::spawn(move || sender.deliver(batch_of(5)));
        std::thread::sleep(Duration::from_millis(50));
        assert!(!waiting.is_finished(), "the second batch waits for room");
        assert_eq!(packets(rx.recv().unwrap()), 3);
        assert!(waiting.join().unwrap());
        assert_eq!(packets(rx.recv().unwrap()), 5);
        assert_eq!(feed.queue_drops.load(Ordering::Relaxed), 0);
    }

    #[test]
    fn a_stop_ends_the_wait_and_counts_the_batch() {
        let (feed, rx) = feed(1);
        assert!(feed.deliver(batch_of(2)));
        let sender = feed.clone();
        let waiting = std::thread::spawn(move || sender.deliver(batch_of(7)));
        std::thread::sleep(Duration::from_millis(20));
        feed.stop.store(true, Ordering::Relaxed);
        assert!(waiting.join().unwrap());
        assert_eq!(feed.queue_drops.load(Ordering::Relaxed), 7);
        assert_eq!(packets(rx.recv().unwrap()), 2);
        assert!(rx.try_recv().is_err(), "the given-up batch was not sent");
    }

    /// A little-endian microsecond pcap of empty Ethernet frames, one at each second given.
    fn pcap_at(seconds: &[u32]) -> Vec<u8> {
        let mut v = Vec::new();
        v.extend(0xA1B2_C3D4u32.to_le_bytes());
        v.extend(2u16.to_le_bytes());
        v.extend(4u16.to_le_bytes());
        for field in [0u32, 0, 262_144, 1] {
            v.extend(field.to_le_bytes());
        }
        for s in seconds {
            for field in [*s, 0, 60, 60] {
                v.extend(field.to_le_bytes());
            }
            v.extend([0u8; 60]);
        }
        v
    }

    #[test]
    fn a_wait_too_long_for_a_duration_lasts_until_the_stop() {
        // the second packet is due so far on that the wait overflows a Duration (which
        // once panicked the replay thread)
        let bytes = pcap_at(&[0, 4_000_000_000]);
        let reader = CaptureReader::from_reader_with(
            "paced.pcap",
            Box::new(std::io::Cursor::new(bytes)),
            crate::capture::file::InputDigest::Skip,
        )
        .unwrap();
        let (feed, rx) = feed(8);
        let replay = spawn_replay(reader, Some(1e-300), feed.clone());
        // what was due is handed over before the wait
        let first = rx.recv_timeout(Duration::from_secs(10)).unwrap();
        assert_eq!(packets(first), 1);
        feed.stop.store(true, Ordering::Relaxed);
        replay
            .join()
            .expect("the replay thread ended without a panic");
        let rest: Vec<ToPipeline> = rx.try_iter().collect();
        assert!(
            matches!(
                rest.last(),
                Some(ToPipeline::Capture(CaptureMsg::Finished { warning: None }))
            ),
            "{rest:?}"
        );
    }

    #[test]
    fn a_gone_pipeline_ends_the_capture() {
        let (feed, rx) = feed(1);
        drop(rx);
        assert!(!feed.deliver(batch_of(1)));
    }
}
