//! The capture thread: packets from a live interface (libpcap) or from a capture file
//! replayed at the pace of its timestamps, sent in batches over a bounded channel to the
//! pipeline thread. Live capture never waits for the pipeline: a batch that finds the
//! queue full is dropped and counted. A file replay waits instead, and loses nothing.

use super::batch::Batch;
use crate::capture::LinkType;
use crate::capture::RawPacket;
use crate::capture::file::CaptureReader;
use crate::time::Timestamp;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{SyncSender, TrySendError};
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
    /// Packets dropped because the queue was full.
    pub queue_drops: Arc<AtomicU64>,
    /// Set to ask the capture thread to stop.
    pub stop: Arc<AtomicBool>,
}

impl Feed {
    fn stopping(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }

    /// Sends without waiting; a full queue drops the batch and counts its packets.
    fn offer(&self, batch: Batch) -> bool {
        let n = batch.len() as u64;
        match self
            .tx
            .try_send(ToPipeline::Capture(CaptureMsg::Batch(batch)))
        {
            Ok(()) => true,
            Err(TrySendError::Full(_)) => {
                self.queue_drops.fetch_add(n, Ordering::Relaxed);
                true
            }
            Err(TrySendError::Disconnected(_)) => false,
        }
    }

    /// Sends, waiting for room; false when the pipeline is gone.
    fn send(&self, msg: CaptureMsg) -> bool {
        self.tx.send(ToPipeline::Capture(msg)).is_ok()
    }
}

/// Replays a capture at `speed` times its own pace (`None`: as fast as it can be read).
pub fn spawn_replay(mut reader: CaptureReader, speed: Option<f64>, feed: Feed) -> JoinHandle<()> {
    std::thread::Builder::new()
        .name("telltale-replay".into())
        .spawn(move || {
            let wall_start = Instant::now();
            let mut first: Option<Timestamp> = None;
            let mut batch = Batch::with_capacity();
            let mut alive = true;
            while alive && !feed.stopping() {
                let Some(p) = reader.next_packet() else { break };
                if let Some(speed) = speed.filter(|s| *s > 0.0) {
                    let t0 = *first.get_or_insert(p.ts);
                    let due = Duration::from_secs_f64((p.ts.seconds_since(t0) / speed).max(0.0));
                    if due > wall_start.elapsed() {
                        // hand over what is ready, then wait for this packet's time
                        if !batch.is_empty() {
                            alive = feed.send(CaptureMsg::Batch(std::mem::replace(
                                &mut batch,
                                Batch::with_capacity(),
                            )));
                        }
                        while alive && !feed.stopping() && due > wall_start.elapsed() {
                            std::thread::sleep(
                                (due - wall_start.elapsed()).min(Duration::from_millis(50)),
                            );
                        }
                    }
                }
                batch.push(&p);
                if batch.is_full() {
                    alive = feed.send(CaptureMsg::Batch(std::mem::replace(
                        &mut batch,
                        Batch::with_capacity(),
                    )));
                }
            }
            if !batch.is_empty() {
                feed.send(CaptureMsg::Batch(batch));
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
        })
        .unwrap_or_else(|e| panic!("cannot start the replay thread: {e}"))
}

/// Why live capture could not start, in words that say what to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveError(pub String);

impl std::fmt::Display for LiveError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// libpcap's kernel buffer: room for bursts at gigabit rates.
const PCAP_BUFFER_BYTES: i32 = 32 << 20;

/// Opens an interface for capture: immediate mode, full snapshot length, not promiscuous
/// unless asked, nanosecond timestamps where the platform has them.
pub fn open_live(
    interface: &str,
    filter: Option<&str>,
    promisc: bool,
) -> Result<pcap::Capture<pcap::Active>, LiveError> {
    let inactive = pcap::Capture::from_device(interface).map_err(|e| live_error(interface, &e))?;
    let mut cap = inactive
        .immediate_mode(true)
        .promisc(promisc)
        .snaplen(262_144)
        .buffer_size(PCAP_BUFFER_BYTES)
        .timeout(100)
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

/// A running capture thread, and how to stop it.
pub struct Running {
    thread: JoinHandle<()>,
    feed: Feed,
    /// Wakes libpcap from a blocking read (on Linux, immediate mode waits for a packet
    /// however long that takes).
    breaker: Option<pcap::BreakLoop>,
}

impl Running {
    pub fn replay(thread: JoinHandle<()>, feed: Feed) -> Running {
        Running {
            thread,
            feed,
            breaker: None,
        }
    }

    /// Asks the thread to stop, wakes it, and waits for it.
    pub fn stop(self) {
        self.feed.stop.store(true, Ordering::Relaxed);
        if let Some(b) = &self.breaker {
            b.breakloop();
        }
        let _ = self.thread.join();
    }
}

/// Captures until asked to stop or the interface fails, polling libpcap's drop
/// counters about once a second.
pub fn spawn_live(mut cap: pcap::Capture<pcap::Active>, feed: Feed) -> Running {
    let breaker = cap.breakloop_handle();
    let thread_feed = feed.clone();
    let thread = std::thread::Builder::new()
        .name("telltale-capture".into())
        .spawn(move || {
            let link = LinkType(u32::try_from(cap.get_datalink().0).unwrap_or(u32::MAX));
            let mut batch = Batch::with_capacity();
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
                    Err(pcap::Error::TimeoutExpired) => {}
                    Err(_) if feed.stopping() => break,
                    Err(e) => {
                        if !batch.is_empty() {
                            feed.offer(std::mem::take(&mut batch));
                        }
                        feed.send(CaptureMsg::Failed(format!("the capture stopped: {e}")));
                        return;
                    }
                }
                let stale = batch_started.elapsed() >= Duration::from_millis(50);
                if batch.is_full() || (!batch.is_empty() && stale) {
                    alive = feed.offer(std::mem::replace(&mut batch, Batch::with_capacity()));
                }
                if last_stats.elapsed() >= Duration::from_secs(1) {
                    last_stats = Instant::now();
                    if let Ok(s) = cap.stats() {
                        let msg = CaptureMsg::Stats {
                            kernel: u64::from(s.dropped),
                            interface: u64::from(s.if_dropped),
                        };
                        // statistics may wait for a later poll if the queue is full
                        let _ = feed.tx.try_send(ToPipeline::Capture(msg));
                    }
                }
            }
            if !batch.is_empty() {
                feed.offer(batch);
            }
        })
        .unwrap_or_else(|e| panic!("cannot start the capture thread: {e}"));
    Running {
        thread,
        feed: thread_feed,
        breaker: Some(breaker),
    }
}
