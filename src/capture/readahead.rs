//! Reading ahead: a thread of its own reads the raw input in large blocks, and another runs each
//! through SHA-256 when a digest is wanted, while the caller decodes the blocks before them. The
//! caller never waits on the read or the hash: on a machine with more than one core they overlap
//! (without a digest, the kernel's copy of the file and the decoding run side by side).
//!
//! Each block travels read thread → hash thread (if any) → caller, owned by one at a time, and
//! comes back to the read thread once used, so reading allocates nothing once the first
//! blocks exist. A block is sent as one `read` returned it (a pipe's few kilobytes go on at
//! once rather than waiting for a block to fill, so `watch -r -` stays live). Its bytes sit
//! after [`HEADROOM`] spare bytes, where the capture reader puts the unread end of the block
//! before it, so a record that straddles two blocks is joined without copying either block.

use sha2::{Digest, Sha256};
use std::io::{self, Read};
use std::sync::mpsc::{Receiver, Sender, SyncSender, channel, sync_channel};

/// Bytes asked for in one read.
const BLOCK: usize = 256 << 10;
/// Spare bytes in front of each block's data.
pub const HEADROOM: usize = 64 << 10;
/// Blocks in flight between two stages at most.
const AHEAD: usize = 8;

enum Msg {
    /// A block and how many bytes were read into it (after the headroom).
    Block(Vec<u8>, usize),
    /// Reading failed; the end follows.
    Failed(io::Error),
    /// The input is over: the digest (from the hash thread, if there is one) and count of
    /// every byte read.
    End(Option<[u8; 32]>, u64),
}

/// A block of input: `buf[HEADROOM..HEADROOM + len]` holds its bytes.
pub struct Block {
    pub buf: Vec<u8>,
    pub len: usize,
}

/// The raw input, read ahead (and hashed, if asked) on threads of its own.
pub struct ReadAhead {
    rx: Receiver<Msg>,
    recycle: Sender<Vec<u8>>,
    /// The block `Read` hands out, and where in it.
    block: Vec<u8>,
    pos: usize,
    end_of_block: usize,
    end: Option<(Option<[u8; 32]>, u64)>,
    /// A message taken by [`ReadAhead::ready`] to look, handed out next.
    pending: Option<Msg>,
    /// The two threads, joined once the input is over (dropped early, they end on their own
    /// at their next send, and are not waited for: a pipe's read may never return).
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl ReadAhead {
    /// Reads `inner` ahead, and runs every byte through SHA-256 on the way if `hash`.
    pub fn new(inner: Box<dyn Read + Send>, hash: bool) -> io::Result<ReadAhead> {
        let (to_next, from_read) = sync_channel(AHEAD);
        let (recycle, used) = channel();
        let reader = std::thread::Builder::new()
            .name("telltale-read".into())
            .spawn(move || read_blocks(inner, &to_next, &used))?;
        let mut threads = vec![reader];
        let rx = if hash {
            let (to_caller, rx) = sync_channel(AHEAD);
            threads.push(
                std::thread::Builder::new()
                    .name("telltale-hash".into())
                    .spawn(move || hash_blocks(&from_read, &to_caller))?,
            );
            rx
        } else {
            from_read
        };
        Ok(ReadAhead {
            threads,
            rx,
            recycle,
            block: Vec::new(),
            pos: 0,
            end_of_block: 0,
            end: None,
            pending: None,
        })
    }

    /// The next block, `None` at the end of the input. Once done with it, hand its buffer
    /// back through [`ReadAhead::recycle`].
    pub fn next_block(&mut self) -> io::Result<Option<Block>> {
        // what `Read` left of its block comes first
        if self.pos < self.end_of_block && self.end_of_block <= self.block.len() {
            let len = self.end_of_block - self.pos;
            self.block
                .copy_within(self.pos..self.end_of_block, HEADROOM);
            self.pos = 0;
            self.end_of_block = 0;
            let buf = std::mem::take(&mut self.block);
            return Ok(Some(Block { buf, len }));
        }
        loop {
            if self.end.is_some() {
                return Ok(None);
            }
            let next = match self.pending.take() {
                Some(m) => Ok(m),
                None => self.rx.recv(),
            };
            match next {
                Ok(Msg::Block(buf, len)) => return Ok(Some(Block { buf, len })),
                Ok(Msg::Failed(e)) => return Err(e),
                Ok(Msg::End(d, n)) => self.end = Some((d, n)),
                Err(_) => return Err(io::Error::other("the threads reading the input stopped")),
            }
        }
    }

    /// Whether the next block (or the end) is here already: false when taking it would wait
    /// for the input (a pipe with nothing more yet).
    pub fn ready(&mut self) -> bool {
        if self.pending.is_some() || self.end.is_some() || self.pos < self.end_of_block {
            return true;
        }
        match self.rx.try_recv() {
            Ok(m) => {
                self.pending = Some(m);
                true
            }
            Err(std::sync::mpsc::TryRecvError::Empty) => false,
            Err(std::sync::mpsc::TryRecvError::Disconnected) => true,
        }
    }

    /// Gives a block's buffer back to be filled again.
    pub fn recycle(&self, buf: Vec<u8>) {
        if buf.len() == HEADROOM + BLOCK {
            let _ = self.recycle.send(buf);
        }
    }

    /// Reads what remains (so the digest covers the whole input) and returns the SHA-256 (if
    /// asked for) and length of everything read; `None` if the reading threads stopped
    /// unexpectedly.
    pub fn finish(&mut self) -> Option<(Option<[u8; 32]>, u64)> {
        while self.end.is_none() {
            let next = match self.pending.take() {
                Some(m) => Ok(m),
                None => self.rx.recv(),
            };
            match next {
                Ok(Msg::Block(b, _)) => self.recycle(b),
                Ok(Msg::Failed(_)) => {}
                Ok(Msg::End(d, n)) => self.end = Some((d, n)),
                Err(_) => return None,
            }
        }
        // both threads have sent their last message: they are ending, and nothing of theirs
        // outlives the reader
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
        self.end
    }
}

impl Drop for ReadAhead {
    /// Dropped before the end of the input: closing the channel stops both threads at their
    /// next send. They are waited for briefly (a file's read returns at once), never for long:
    /// a read from a pipe may not return until the writer sends more.
    fn drop(&mut self) {
        if self.threads.is_empty() {
            return;
        }
        let (_, closed) = sync_channel(0);
        drop(std::mem::replace(&mut self.rx, closed));
        let started = std::time::Instant::now();
        while self.threads.iter().any(|t| !t.is_finished())
            && started.elapsed() < std::time::Duration::from_millis(200)
        {
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        for t in self.threads.drain(..) {
            if t.is_finished() {
                let _ = t.join();
            }
        }
    }
}

impl Read for ReadAhead {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            if self.pos < self.end_of_block {
                let have = self
                    .block
                    .get(self.pos..self.end_of_block)
                    .unwrap_or_default();
                let n = have.len().min(buf.len());
                if let (Some(to), Some(from)) = (buf.get_mut(..n), have.get(..n)) {
                    to.copy_from_slice(from);
                }
                self.pos += n;
                return Ok(n);
            }
            if buf.is_empty() {
                return Ok(0);
            }
            match self.next_block()? {
                None => return Ok(0),
                Some(b) => {
                    let used = std::mem::replace(&mut self.block, b.buf);
                    self.recycle(used);
                    self.pos = HEADROOM;
                    self.end_of_block = HEADROOM.saturating_add(b.len).min(self.block.len());
                }
            }
        }
    }
}

/// The read thread: fills blocks from the input and passes them on (to the hash thread, or
/// straight to the caller).
fn read_blocks(mut inner: Box<dyn Read + Send>, tx: &SyncSender<Msg>, used: &Receiver<Vec<u8>>) {
    let mut bytes = 0u64;
    loop {
        let mut block = used
            .try_recv()
            .unwrap_or_else(|_| vec![0; HEADROOM + BLOCK]);
        let Some(space) = block.get_mut(HEADROOM..) else {
            return;
        };
        let n = match inner.read(space) {
            Ok(0) => break,
            Ok(n) if n <= BLOCK => n,
            Ok(_) => {
                let e = io::Error::other("the input reported more bytes than it was asked for");
                let _ = tx.send(Msg::Failed(e));
                break;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => {
                let _ = tx.send(Msg::Failed(e));
                break;
            }
        };
        bytes = bytes.saturating_add(n as u64);
        if tx.send(Msg::Block(block, n)).is_err() {
            // the caller is gone: nobody wants the rest
            return;
        }
    }
    let _ = tx.send(Msg::End(None, bytes));
}

/// The hash thread: hashes each block on its way to the caller, and puts the digest in the end.
fn hash_blocks(rx: &Receiver<Msg>, tx: &SyncSender<Msg>) {
    let mut hasher = Sha256::new();
    while let Ok(msg) = rx.recv() {
        let msg = match msg {
            Msg::Block(block, n) => {
                let data = HEADROOM
                    .checked_add(n)
                    .and_then(|end| block.get(HEADROOM..end))
                    .unwrap_or_default();
                hasher.update(data);
                Msg::Block(block, n)
            }
            Msg::End(_, bytes) => {
                let _ = tx.send(Msg::End(Some(hasher.finalize().into()), bytes));
                return;
            }
            failed @ Msg::Failed(_) => failed,
        };
        if tx.send(msg).is_err() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Hands out its bytes a few at a time, then fails once, if asked to.
    struct Dribble {
        data: Vec<u8>,
        at: usize,
        fail_at: Option<usize>,
    }

    impl Read for Dribble {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if self.fail_at == Some(self.at) {
                self.fail_at = None;
                return Err(io::Error::other("disk on fire"));
            }
            let n = 7.min(buf.len()).min(self.data.len() - self.at);
            buf[..n].copy_from_slice(&self.data[self.at..self.at + n]);
            self.at += n;
            Ok(n)
        }
    }

    #[test]
    fn bytes_come_through_in_order_and_the_digest_covers_all_of_them() {
        let data: Vec<u8> = (0..3 * BLOCK + 12_345)
            .map(|i| (i * 31 % 251) as u8)
            .collect();
        for hash in [true, false] {
            let inner = Box::new(std::io::Cursor::new(data.clone()));
            let mut r = ReadAhead::new(inner, hash).unwrap();
            let mut got = Vec::new();
            let mut small = [0u8; 1000];
            // a little by hand, then the rest
            let n = r.read(&mut small).unwrap();
            got.extend_from_slice(&small[..n]);
            r.read_to_end(&mut got).unwrap();
            assert_eq!(got, data);
            let (digest, bytes) = r.finish().unwrap();
            assert_eq!(bytes, data.len() as u64);
            let want: [u8; 32] = Sha256::digest(&data).into();
            assert_eq!(digest, hash.then_some(want), "hashed: {hash}");
        }
    }

    /// A reader that says when it is dropped (its thread has ended).
    struct Watched(
        std::io::Cursor<Vec<u8>>,
        std::sync::Arc<std::sync::atomic::AtomicBool>,
    );

    impl Read for Watched {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            self.0.read(buf)
        }
    }

    impl Drop for Watched {
        fn drop(&mut self) {
            self.1.store(true, std::sync::atomic::Ordering::SeqCst);
        }
    }

    #[test]
    fn a_reader_dropped_early_leaves_no_thread_behind() {
        for hash in [true, false] {
            let gone = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
            let inner = Watched(std::io::Cursor::new(vec![1u8; 20 * BLOCK]), gone.clone());
            let mut r = ReadAhead::new(Box::new(inner), hash).unwrap();
            let mut two = [0u8; 2];
            r.read_exact(&mut two).unwrap();
            drop(r);
            assert!(
                gone.load(std::sync::atomic::Ordering::SeqCst),
                "the read thread ended (hashed: {hash})"
            );
            // and after finish, every thread is joined
            let gone = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
            let inner = Watched(std::io::Cursor::new(vec![1u8; 3 * BLOCK]), gone.clone());
            let mut r = ReadAhead::new(Box::new(inner), hash).unwrap();
            assert!(r.finish().is_some());
            assert!(gone.load(std::sync::atomic::Ordering::SeqCst));
        }
    }

    #[test]
    fn finishing_early_still_hashes_the_whole_input() {
        let data = vec![7u8; 2 * BLOCK + 1];
        let inner = Box::new(std::io::Cursor::new(data.clone()));
        let mut r = ReadAhead::new(inner, true).unwrap();
        let mut two = [0u8; 2];
        r.read_exact(&mut two).unwrap();
        let (digest, bytes) = r.finish().unwrap();
        assert_eq!(bytes, data.len() as u64);
        assert_eq!(digest.unwrap().as_slice(), Sha256::digest(&data).as_slice());
    }

    #[test]
    fn a_read_error_reaches_the_caller_and_the_digest_covers_what_was_read() {
        let data: Vec<u8> = (0..100u8).collect();
        let inner = Dribble {
            data: data.clone(),
            at: 0,
            fail_at: Some(21),
        };
        let mut r = ReadAhead::new(Box::new(inner), true).unwrap();
        let mut got = Vec::new();
        let err = r.read_to_end(&mut got).unwrap_err();
        assert_eq!(err.to_string(), "disk on fire");
        assert_eq!(got, data[..21]);
        let (digest, bytes) = r.finish().unwrap();
        assert_eq!(bytes, 21);
        let want = Sha256::digest(&data[..21]);
        assert_eq!(digest.unwrap().as_slice(), want.as_slice());
    }
}
