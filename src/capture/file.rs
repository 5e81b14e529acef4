//! Reading capture files: pcap (either byte order, micro- or nanosecond), pcapng (any
//! number of sections and interfaces, each with its own link type and clock), gzip-compressed
//! either way, from a path or standard input. The format is detected by magic number, never
//! by the file's name.
//!
//! The reader keeps one large buffer and hands out packets borrowed from it, so reading costs
//! no allocation per packet. Every byte read from the input, compressed or not, goes through a
//! SHA-256 hasher first, so the summary names exactly the file that was audited: on read-ahead
//! threads of their own ([`super::readahead`]), or on the reading thread when the process has
//! one CPU to run on. Without the digest ([`InputDigest::Skip`]) the input is read straight
//! into the buffer on the reading thread. A file cut
//! short or corrupt part-way simply ends the packets and records where and why
//! ([`Truncation`]); after [`CaptureReader::open`] nothing is an error.
//!
//! pcap records and pcapng section/interface headers are parsed with `pcap-parser`; the three
//! packet blocks of pcapng (Enhanced, Simple and the obsolete Packet block) have fixed layouts
//! and are read here directly so that options on a packet never cost an allocation.

use std::fs::File;
use std::io::{self, Cursor, Read};
use std::path::Path;

use super::readahead::{HEADROOM, ReadAhead};
use super::{LinkType, RawPacket};
use crate::time::Timestamp;
use flate2::read::MultiGzDecoder;
use pcap_parser::nom::{Err as NomErr, Needed};
use pcap_parser::{
    InterfaceDescriptionBlock, OptionCode, parse_interfacedescriptionblock_be,
    parse_interfacedescriptionblock_le, parse_pcap_frame, parse_pcap_frame_be,
    parse_pcap_frame_modified, parse_pcap_header, parse_sectionheaderblock,
};
use sha2::{Digest, Sha256};

/// The buffer a reader starts with; it grows when one record needs more.
const INITIAL_BUFFER: usize = 1 << 20;
/// The largest single record (pcap record or pcapng block) the reader accepts. A record
/// claiming more is taken as a sign of corruption.
pub const MAX_RECORD: usize = 256 << 20;

const PCAP_HEADER_LEN: usize = 24;
const PCAP_RECORD_HEADER_LEN: usize = 16;
const PCAP_MODIFIED_RECORD_HEADER_LEN: usize = 24;

const SHB_TYPE: u32 = 0x0A0D_0D0A;
const IDB_TYPE: u32 = 0x0000_0001;
const OBSOLETE_PB_TYPE: u32 = 0x0000_0002;
const SPB_TYPE: u32 = 0x0000_0003;
const EPB_TYPE: u32 = 0x0000_0006;
const BYTE_ORDER_MAGIC: u32 = 0x1A2B_3C4D;

/// Which container the capture uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CaptureFormat {
    Pcap,
    PcapNg,
}

/// What [`CaptureReader::open`] found out about the input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CaptureInfo {
    pub format: CaptureFormat,
    /// The input was gzip-compressed.
    pub gzip: bool,
}

/// Where the capture stopped being readable.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Truncation {
    /// Offset in the (decompressed) capture stream of the record that could not be read.
    pub offset: u64,
    /// What went wrong, in words.
    pub what: String,
}

/// What the whole input turned out to be, once read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CaptureSummary {
    /// Lowercase hex SHA-256 of every byte of the input as given (the compressed bytes if gzip);
    /// `None` when it was not asked for ([`InputDigest::Skip`]).
    pub sha256: Option<String>,
    /// How many bytes the input had (compressed bytes if gzip).
    pub bytes: u64,
    /// Packets handed out.
    pub packets: u64,
    /// Set when the capture was cut short or became unreadable part-way.
    pub truncation: Option<Truncation>,
}

/// Why a capture could not be opened. Once open, a reader never fails: problems later on
/// end the packets and are reported as a [`Truncation`].
#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    #[error("capture file {path} does not exist: check the path (use - to read standard input)")]
    NotFound { path: String },
    #[error(
        "cannot read capture file {path}: permission denied; run as a user who may read it, or copy it somewhere readable"
    )]
    PermissionDenied { path: String },
    #[error("{path} is a directory, not a capture file: give the path of a .pcap or .pcapng file")]
    IsDirectory { path: String },
    #[error("cannot read {name}: {source}")]
    Io {
        name: String,
        #[source]
        source: io::Error,
    },
    #[error(
        "{name} is empty: it holds no capture at all; check that the capture was written completely"
    )]
    Empty { name: String },
    #[error(
        "{name} is too short to be a capture ({len} bytes): a pcap file starts with a 24-byte header, a pcapng file with a section header block"
    )]
    TooShort { name: String, len: usize },
    #[error(
        "{name} is not a packet capture: it starts with {start}. Accepted formats are pcap and pcapng, either one optionally gzip-compressed{hint}"
    )]
    NotACapture {
        name: String,
        /// The first bytes, in hex and as text when they are printable.
        start: String,
        /// Advice for a format we recognise but do not read, or empty.
        hint: String,
    },
    #[error(
        "the {format} header of {name} is unreadable: {what}; the file is damaged or not a capture"
    )]
    BadHeader {
        name: String,
        format: &'static str,
        what: String,
    },
    #[error(
        "{name} looks gzip-compressed but cannot be decompressed: {what}; check the file with `gzip -t`"
    )]
    Gzip { name: String, what: String },
}

impl CaptureError {
    fn from_open(path: &str, e: io::Error) -> Self {
        match e.kind() {
            io::ErrorKind::NotFound => CaptureError::NotFound {
                path: path.to_string(),
            },
            io::ErrorKind::PermissionDenied => CaptureError::PermissionDenied {
                path: path.to_string(),
            },
            _ => CaptureError::Io {
                name: path.to_string(),
                source: e,
            },
        }
    }
}

/// Whether to compute the SHA-256 of the input as it is read.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum InputDigest {
    /// Hash every byte (on a thread of its own), so the summary names the exact input.
    #[default]
    Sha256,
    /// Do not: the input is read on the caller's thread, with no thread and no hashing.
    Skip,
}

/// The raw bytes of the input as given (compressed, if gzip), hashed on the way or not.
enum Raw {
    /// Read ahead and hashed on threads of their own.
    Hashed(ReadAhead),
    /// Read on the caller's thread and counted; hashed there too when asked (with one CPU
    /// to run on, threads would only take turns on it).
    Here {
        inner: Box<dyn Read + Send>,
        hasher: Option<Sha256>,
        bytes: u64,
    },
}

impl Raw {
    /// Hashed on threads of their own, or here when there is one CPU, or not at all.
    fn new(whole: Box<dyn Read + Send>, digest: InputDigest, one_cpu: bool) -> io::Result<Raw> {
        let hasher = match digest {
            InputDigest::Sha256 if !one_cpu => return Ok(Raw::Hashed(ReadAhead::new(whole)?)),
            InputDigest::Sha256 => Some(Sha256::new()),
            InputDigest::Skip => None,
        };
        Ok(Raw::Here {
            inner: whole,
            hasher,
            bytes: 0,
        })
    }

    /// Reads what remains (so the digest and the count cover the whole input); returns the
    /// digest, if one was computed, and the count of bytes.
    fn finish(&mut self) -> (Option<String>, u64) {
        match self {
            Raw::Hashed(ahead) => match ahead.finish() {
                Some((digest, bytes)) => (Some(crate::text::hex(&digest)), bytes),
                // the threads stopped unexpectedly: no digest can be claimed
                None => (None, 0),
            },
            Raw::Here { .. } => {
                // a read error only means the digest and count cover what could be read
                let _ = io::copy(self, &mut io::sink());
                match self {
                    Raw::Here { hasher, bytes, .. } => (
                        hasher.take().map(|h| crate::text::hex(&h.finalize())),
                        *bytes,
                    ),
                    Raw::Hashed(_) => (None, 0),
                }
            }
        }
    }
}

impl Read for Raw {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Raw::Hashed(r) => r.read(buf),
            Raw::Here {
                inner,
                hasher,
                bytes,
            } => {
                let n = inner.read(buf)?;
                if let Some(h) = hasher {
                    h.update(buf.get(..n).unwrap_or_default());
                }
                *bytes = bytes.saturating_add(n as u64);
                Ok(n)
            }
        }
    }
}

enum Source {
    /// Uncompressed. Read ahead, it is taken block by block without copying; unhashed, it is
    /// read straight into the reader's buffer.
    Plain(Raw),
    Gzip(Box<MultiGzDecoder<Raw>>),
}

impl Source {
    fn raw(&mut self) -> &mut Raw {
        match self {
            Source::Plain(r) => r,
            Source::Gzip(g) => g.get_mut(),
        }
    }
}

impl Read for Source {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Source::Plain(r) => r.read(buf),
            Source::Gzip(g) => g.read(buf),
        }
    }
}

/// A pcapng interface's timestamp unit: 10^-n or 2^-n seconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum TsUnit {
    Pow10(u8),
    Pow2(u8),
}

impl TsUnit {
    fn from_tsresol(v: u8) -> Self {
        if v & 0x80 == 0 {
            TsUnit::Pow10(v)
        } else {
            TsUnit::Pow2(v & 0x7f)
        }
    }

    /// `ticks` of this unit, in nanoseconds (saturating; units finer than 1 ns round down).
    fn to_nanos(self, ticks: u64) -> u128 {
        let ticks = u128::from(ticks);
        match self {
            TsUnit::Pow10(e) if e <= 9 => ticks.saturating_mul(10u128.pow(u32::from(9 - e))),
            TsUnit::Pow10(e) => match 10u128.checked_pow(u32::from(e - 9)) {
                Some(div) => ticks / div,
                None => 0,
            },
            TsUnit::Pow2(e) => ticks
                .saturating_mul(1_000_000_000)
                .checked_shr(u32::from(e))
                .unwrap_or(0),
        }
    }
}

/// Nanoseconds in a tick of 10^-e seconds, for e from 0 to 9.
const NANOS_PER_TICK: [u64; 10] = [
    1_000_000_000,
    100_000_000,
    10_000_000,
    1_000_000,
    100_000,
    10_000,
    1_000,
    100,
    10,
    1,
];

/// A pcapng timestamp (in `unit`s, plus `offset_secs`) as a [`Timestamp`].
fn pcapng_timestamp(ticks: u64, unit: TsUnit, offset_secs: i64) -> Timestamp {
    // the common case (micro- or nanoseconds, no offset) in plain 64-bit arithmetic
    if let TsUnit::Pow10(e) = unit
        && offset_secs == 0
        && let Some(&scale) = NANOS_PER_TICK.get(usize::from(e))
        && let Some(nanos) = ticks.checked_mul(scale)
        && let Ok(nanos) = i64::try_from(nanos)
    {
        return Timestamp(nanos);
    }
    let nanos = i128::try_from(unit.to_nanos(ticks)).unwrap_or(i128::MAX);
    let total = nanos.saturating_add(i128::from(offset_secs).saturating_mul(1_000_000_000));
    let clamped = total.clamp(i128::from(i64::MIN), i128::from(i64::MAX));
    Timestamp(i64::try_from(clamped).unwrap_or(i64::MAX))
}

#[derive(Clone, Copy, Debug)]
struct Interface {
    link: LinkType,
    snaplen: u32,
    unit: TsUnit,
    offset_secs: i64,
}

fn read_u16(b: &[u8], at: usize, big: bool) -> Option<u16> {
    let s = b.get(at..at.checked_add(2)?)?;
    let a: [u8; 2] = s.try_into().ok()?;
    Some(if big {
        u16::from_be_bytes(a)
    } else {
        u16::from_le_bytes(a)
    })
}

fn read_u32(b: &[u8], at: usize, big: bool) -> Option<u32> {
    let s = b.get(at..at.checked_add(4)?)?;
    let a: [u8; 4] = s.try_into().ok()?;
    Some(if big {
        u32::from_be_bytes(a)
    } else {
        u32::from_le_bytes(a)
    })
}

/// A packet located in the buffer, before it is handed out.
struct Found {
    ts: Timestamp,
    link: LinkType,
    data_start: usize,
    data_len: usize,
    orig_len: u32,
    interface: u32,
    record_len: usize,
}

/// Reads packets from a pcap or pcapng stream (see the module documentation).
pub struct CaptureReader {
    name: String,
    info: CaptureInfo,
    src: Source,
    buf: Vec<u8>,
    /// Unconsumed bytes are `buf[start..end]`.
    start: usize,
    end: usize,
    /// Stream offset of `buf[0]`.
    base: u64,
    /// Length of the record last handed out, consumed at the next call.
    pending: usize,
    eof: bool,
    read_error: Option<String>,
    /// pcap: byte order, nanosecond timestamps, "modified" (Kuznetzov) records, link type.
    big_endian: bool,
    nanos: bool,
    modified: bool,
    pcap_link: LinkType,
    /// pcapng: the current section's interfaces.
    interfaces: Vec<Interface>,
    packets: u64,
    skipped: u64,
    truncation: Option<Truncation>,
    done: bool,
}

impl std::fmt::Debug for CaptureReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CaptureReader")
            .field("name", &self.name)
            .field("info", &self.info)
            .field("packets", &self.packets)
            .finish_non_exhaustive()
    }
}

impl CaptureReader {
    /// Opens a capture file; `-` reads standard input. Every byte is hashed.
    pub fn open(path: &Path) -> Result<Self, CaptureError> {
        Self::open_with(path, InputDigest::Sha256)
    }

    /// Opens a capture file, hashing it or not; `-` reads standard input.
    pub fn open_with(path: &Path, digest: InputDigest) -> Result<Self, CaptureError> {
        if path.as_os_str() == "-" {
            return Self::from_reader_with("-", Box::new(io::stdin()), digest);
        }
        let shown = path.display().to_string();
        let meta = std::fs::metadata(path).map_err(|e| CaptureError::from_open(&shown, e))?;
        if meta.is_dir() {
            return Err(CaptureError::IsDirectory { path: shown });
        }
        let file = File::open(path).map_err(|e| CaptureError::from_open(&shown, e))?;
        Self::from_reader_with(&shown, Box::new(file), digest)
    }

    /// Reads a capture from any byte stream, hashing every byte; `name` is how messages refer to it.
    pub fn from_reader(name: &str, r: Box<dyn Read + Send>) -> Result<Self, CaptureError> {
        Self::from_reader_with(name, r, InputDigest::Sha256)
    }

    /// Reads a capture from any byte stream, hashing it or not.
    pub fn from_reader_with(
        name: &str,
        r: Box<dyn Read + Send>,
        digest: InputDigest,
    ) -> Result<Self, CaptureError> {
        let one_cpu = std::thread::available_parallelism().is_ok_and(|n| n.get() == 1);
        Self::from_reader_on(name, r, digest, one_cpu)
    }

    /// [`CaptureReader::from_reader_with`], told whether there is one CPU to run on (the
    /// fuzzer reads every input each way and compares).
    #[doc(hidden)]
    pub fn from_reader_on(
        name: &str,
        mut r: Box<dyn Read + Send>,
        digest: InputDigest,
        one_cpu: bool,
    ) -> Result<Self, CaptureError> {
        let mut sniff = [0u8; 2];
        let mut got = 0usize;
        while let Some(space) = sniff.get_mut(got..) {
            if space.is_empty() {
                break;
            }
            match r.read(space) {
                Ok(0) => break,
                Ok(n) => got = got.saturating_add(n),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    return Err(CaptureError::Io {
                        name: name.to_string(),
                        source: e,
                    });
                }
            }
        }
        let prefix = sniff.get(..got).unwrap_or_default().to_vec();
        if prefix.is_empty() {
            return Err(CaptureError::Empty {
                name: name.to_string(),
            });
        }
        let gzip = prefix == [0x1f, 0x8b];
        // the sniffed bytes go back in front, so the digest and the count cover them
        let whole: Box<dyn Read + Send> = Box::new(Cursor::new(prefix).chain(r));
        let raw = Raw::new(whole, digest, one_cpu).map_err(|e| CaptureError::Io {
            name: name.to_string(),
            source: e,
        })?;
        Self::with_raw(name, raw, gzip)
    }

    fn with_raw(name: &str, raw: Raw, gzip: bool) -> Result<Self, CaptureError> {
        let buf = vec![0; INITIAL_BUFFER];
        let src = if gzip {
            Source::Gzip(Box::new(MultiGzDecoder::new(raw)))
        } else {
            Source::Plain(raw)
        };
        let mut reader = CaptureReader {
            name: name.to_string(),
            info: CaptureInfo {
                format: CaptureFormat::Pcap,
                gzip,
            },
            src,
            buf,
            start: 0,
            end: 0,
            base: 0,
            pending: 0,
            eof: false,
            read_error: None,
            big_endian: false,
            nanos: false,
            modified: false,
            pcap_link: LinkType::ETHERNET,
            interfaces: Vec::new(),
            packets: 0,
            skipped: 0,
            truncation: None,
            done: false,
        };
        reader.read_file_header()?;
        Ok(reader)
    }

    /// How messages and reports refer to this input (the path as given, or "-" for standard input).
    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn info(&self) -> CaptureInfo {
        self.info
    }

    /// Packets handed out so far.
    pub fn packets_read(&self) -> u64 {
        self.packets
    }

    /// pcapng packets that were skipped: captured on an interface the section never described,
    /// or whose block contradicts itself while its framing is intact.
    pub fn skipped(&self) -> u64 {
        self.skipped
    }

    /// Where the capture stopped being readable, once the packets have ended.
    pub fn truncation(&self) -> Option<&Truncation> {
        self.truncation.as_ref()
    }

    /// The next packet, or None at the end. A file cut short or corrupt mid-way ends the
    /// packets (None) and records a [`Truncation`]; this never returns an error, never panics
    /// and never loops forever.
    pub fn next_packet(&mut self) -> Option<RawPacket<'_>> {
        self.start = self.start.saturating_add(self.pending).min(self.end);
        self.pending = 0;
        if self.done {
            return None;
        }
        let found = match self.info.format {
            CaptureFormat::Pcap => self.next_pcap(),
            CaptureFormat::PcapNg => self.next_pcapng(),
        };
        let Some(found) = found else {
            self.done = true;
            return None;
        };
        let data = found
            .data_start
            .checked_add(found.data_len)
            .and_then(|end| self.buf.get(found.data_start..end));
        let Some(data) = data else {
            // Not reachable: the parsers only locate packets inside the buffer.
            self.done = true;
            return None;
        };
        self.pending = found.record_len;
        self.packets = self.packets.saturating_add(1);
        Some(RawPacket {
            ts: found.ts,
            link: found.link,
            data,
            orig_len: found.orig_len,
            interface: found.interface,
        })
    }

    /// Reads whatever input remains (so the hash covers the whole file) and returns the summary.
    pub fn finish(mut self) -> CaptureSummary {
        // A read failure only means the hash covers what could be read; the packets are done.
        let (sha256, bytes) = self.src.raw().finish();
        CaptureSummary {
            sha256,
            bytes,
            packets: self.packets,
            truncation: self.truncation,
        }
    }

    // ----- buffer management -----

    fn available(&self) -> usize {
        self.end.saturating_sub(self.start)
    }

    fn unread(&self) -> &[u8] {
        self.buf.get(self.start..self.end).unwrap_or_default()
    }

    /// Makes at least `need` unconsumed bytes available, reading in large blocks. Returns
    /// false when the input ends (or fails) first; the bytes there are stay available.
    fn fill(&mut self, need: usize) -> bool {
        if self.available() >= need {
            return true;
        }
        if matches!(self.src, Source::Plain(Raw::Hashed(_))) {
            return self.fill_from_blocks(need);
        }
        self.make_room(need);
        while self.available() < need && !self.eof {
            let Some(space) = self.buf.get_mut(self.end..) else {
                break;
            };
            if space.is_empty() {
                break;
            }
            let room = space.len();
            match self.src.read(space) {
                Ok(0) => self.eof = true,
                Ok(n) if n <= room => self.end += n,
                Ok(_) => {
                    self.read_error = Some("the input misreported a read".to_string());
                    self.eof = true;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    self.read_error = Some(if self.info.gzip {
                        format!("the gzip stream is damaged or cut short ({e})")
                    } else {
                        format!("reading failed: {e}")
                    });
                    self.eof = true;
                }
            }
        }
        self.available() >= need
    }

    /// Moves the unread bytes to the front of the buffer, and grows it, so that `need`
    /// bytes fit from `start`.
    fn make_room(&mut self, need: usize) {
        if self.start.saturating_add(need) <= self.buf.len() {
            return;
        }
        if self.start > 0 && self.start <= self.end && self.end <= self.buf.len() {
            self.buf.copy_within(self.start..self.end, 0);
            self.base = self.base.wrapping_add(self.start as u64);
            self.end -= self.start;
            self.start = 0;
        }
        if need > self.buf.len() {
            let grown = need
                .max(self.buf.len().saturating_mul(2))
                .min(MAX_RECORD.saturating_add(64));
            if grown > self.buf.len() {
                self.buf.resize(grown, 0);
            }
        }
    }

    /// [`CaptureReader::fill`] for uncompressed input: each block read ahead becomes the
    /// buffer, with the unread bytes before it copied into its headroom; only a record
    /// longer than the headroom is joined by copying the block's bytes after it.
    fn fill_from_blocks(&mut self, need: usize) -> bool {
        while self.available() < need && !self.eof {
            let next = match &mut self.src {
                Source::Plain(Raw::Hashed(ahead)) => ahead.next_block(),
                _ => break,
            };
            let block = match next {
                Ok(Some(b)) => b,
                Ok(None) => {
                    self.eof = true;
                    break;
                }
                Err(e) => {
                    self.read_error = Some(format!("reading failed: {e}"));
                    self.eof = true;
                    break;
                }
            };
            let unread = self.available();
            let data_end = HEADROOM.saturating_add(block.len);
            if unread <= HEADROOM && data_end <= block.buf.len() {
                let mut next = block.buf;
                let new_start = HEADROOM - unread;
                if let (Some(to), Some(from)) = (
                    next.get_mut(new_start..HEADROOM),
                    self.buf.get(self.start..self.end),
                ) {
                    to.copy_from_slice(from);
                }
                // buf[0] of the new buffer sits `new_start` bytes before the first unread byte
                self.base = self
                    .base
                    .wrapping_add(self.start as u64)
                    .wrapping_sub(new_start as u64);
                let used = std::mem::replace(&mut self.buf, next);
                if let Source::Plain(Raw::Hashed(ahead)) = &self.src {
                    ahead.recycle(used);
                }
                self.start = new_start;
                self.end = data_end;
            } else {
                let bytes = block.buf.get(HEADROOM..data_end).unwrap_or_default();
                let want = self.available().saturating_add(bytes.len());
                self.make_room(want);
                let to = self
                    .end
                    .checked_add(bytes.len())
                    .and_then(|e| self.buf.get_mut(self.end..e));
                match to {
                    Some(to) => {
                        to.copy_from_slice(bytes);
                        self.end += bytes.len();
                    }
                    None => {
                        self.read_error = Some("a record is too large to hold".to_string());
                        self.eof = true;
                    }
                }
                if let Source::Plain(Raw::Hashed(ahead)) = &self.src {
                    ahead.recycle(block.buf);
                }
            }
        }
        self.available() >= need
    }

    fn offset(&self) -> u64 {
        self.base.wrapping_add(self.start as u64)
    }

    /// Ends the packets at the current record, saying why.
    fn stop(&mut self, what: String) -> Option<Found> {
        let what = match &self.read_error {
            Some(e) if !what.contains(e.as_str()) => format!("{what}; {e}"),
            _ => what,
        };
        self.truncation = Some(Truncation {
            offset: self.offset(),
            what,
        });
        None
    }

    /// The input ended at a record boundary: a clean end unless reading failed.
    fn end_of_input(&mut self) -> Option<Found> {
        if let Some(e) = self.read_error.clone() {
            return self.stop(e);
        }
        None
    }

    /// The input ended inside a record of `need` bytes.
    fn cut_short(&mut self, kind: &str, need: usize) -> Option<Found> {
        let have = self.available();
        self.stop(format!(
            "the capture ends inside a {kind}: {have} of its {need} bytes are present (the file was cut short)"
        ))
    }

    // ----- file header -----

    fn read_file_header(&mut self) -> Result<(), CaptureError> {
        let have_magic = self.fill(4);
        if self.info.gzip {
            if let Some(e) = &self.read_error {
                return Err(CaptureError::Gzip {
                    name: self.name.clone(),
                    what: e.clone(),
                });
            }
            if self.available() == 0 {
                return Err(CaptureError::Empty {
                    name: self.name.clone(),
                });
            }
        }
        if !have_magic {
            return Err(CaptureError::TooShort {
                name: self.name.clone(),
                len: self.available(),
            });
        }
        let magic = read_u32(self.unread(), 0, false).unwrap_or(0);
        match magic {
            0xA1B2_C3D4 | 0xD4C3_B2A1 | 0xA1B2_3C4D | 0x4D3C_B2A1 | 0xA1B2_CD34 | 0x34CD_B2A1 => {
                self.read_pcap_header()
            }
            SHB_TYPE => self.read_first_section(),
            _ => {
                self.fill(16);
                let (start, hint) = describe_start(self.unread());
                Err(CaptureError::NotACapture {
                    name: self.name.clone(),
                    start,
                    hint,
                })
            }
        }
    }

    fn bad_header(&self, format: &'static str, what: impl Into<String>) -> CaptureError {
        let mut what = what.into();
        if let Some(e) = &self.read_error {
            what = format!("{what} ({e})");
        }
        if self.info.gzip && self.read_error.is_some() {
            return CaptureError::Gzip {
                name: self.name.clone(),
                what,
            };
        }
        CaptureError::BadHeader {
            name: self.name.clone(),
            format,
            what,
        }
    }

    fn read_pcap_header(&mut self) -> Result<(), CaptureError> {
        if !self.fill(PCAP_HEADER_LEN) {
            let have = self.available();
            return Err(self.bad_header(
                "pcap",
                format!("the file ends inside the 24-byte file header ({have} bytes present)"),
            ));
        }
        let header = match parse_pcap_header(self.unread()) {
            Ok((_, h)) => h,
            Err(_) => return Err(self.bad_header("pcap", "the file header does not parse")),
        };
        if header.magic_number == 0x34CD_B2A1 {
            return Err(self.bad_header(
                "pcap",
                "big-endian \"modified\" pcap (Kuznetzov patches) is not supported",
            ));
        }
        self.info.format = CaptureFormat::Pcap;
        self.big_endian = header.is_bigendian();
        self.nanos = header.is_nanosecond_precision();
        self.modified = header.is_modified_format();
        // The upper bits of the link-type field carry FCS information, not the link type.
        self.pcap_link = LinkType((header.network.0 as u32) & 0x03FF_FFFF);
        self.start += PCAP_HEADER_LEN;
        Ok(())
    }

    fn read_first_section(&mut self) -> Result<(), CaptureError> {
        self.info.format = CaptureFormat::PcapNg;
        match self.read_block_frame(true) {
            BlockFrame::Block { len, .. } => {
                if let Err(what) = self.apply_section_header(len) {
                    return Err(self.bad_header("pcapng", what));
                }
                self.start += len;
                Ok(())
            }
            BlockFrame::End => {
                Err(self.bad_header("pcapng", "the file ends before its first block"))
            }
            BlockFrame::Bad(what) => Err(self.bad_header("pcapng", what)),
        }
    }

    // ----- pcap -----

    fn next_pcap(&mut self) -> Option<Found> {
        let header_len = if self.modified {
            PCAP_MODIFIED_RECORD_HEADER_LEN
        } else {
            PCAP_RECORD_HEADER_LEN
        };
        if !self.fill(header_len) {
            if self.available() == 0 {
                return self.end_of_input();
            }
            return self.cut_short("packet record header", header_len);
        }
        loop {
            let avail = self.unread();
            let parsed = if self.modified {
                parse_pcap_frame_modified(avail)
            } else if self.big_endian {
                parse_pcap_frame_be(avail)
            } else {
                parse_pcap_frame(avail)
            };
            match parsed {
                Ok((rest, rec)) => {
                    let record_len = avail.len().saturating_sub(rest.len());
                    let data_len = rec.data.len();
                    let data_start = self
                        .start
                        .saturating_add(record_len)
                        .saturating_sub(data_len);
                    let frac = i64::from(rec.ts_usec);
                    let nanos = if self.nanos {
                        frac
                    } else {
                        frac.saturating_mul(1000)
                    };
                    return Some(Found {
                        ts: Timestamp::from_secs_nanos(i64::from(rec.ts_sec), nanos),
                        link: self.pcap_link,
                        data_start,
                        data_len,
                        orig_len: rec.origlen.max(rec.caplen),
                        interface: 0,
                        record_len,
                    });
                }
                Err(NomErr::Incomplete(needed)) => {
                    let more = match needed {
                        Needed::Size(n) => n.get(),
                        Needed::Unknown => 1,
                    };
                    let need = avail.len().saturating_add(more);
                    if need > MAX_RECORD.saturating_add(header_len) {
                        let claimed = need.saturating_sub(header_len);
                        return self.stop(format!(
                            "a packet record claims {claimed} bytes, more than any real packet (the file is corrupt from here)"
                        ));
                    }
                    if !self.fill(need) {
                        return self.cut_short("packet record", need);
                    }
                }
                Err(_) => {
                    return self.stop(
                        "a packet record does not parse (the file is corrupt from here)"
                            .to_string(),
                    );
                }
            }
        }
    }

    // ----- pcapng -----

    /// Frames the next pcapng block: reads its type and length (switching byte order at a
    /// section header), checks the length and makes the whole block available.
    fn read_block_frame(&mut self, first: bool) -> BlockFrame {
        if !self.fill(8) {
            if self.available() == 0 {
                return BlockFrame::End;
            }
            let have = self.available();
            return BlockFrame::Bad(format!(
                "the capture ends inside a block header: {have} of its 8 bytes are present (the file was cut short)"
            ));
        }
        let mut big = self.big_endian;
        let block_type = read_u32(self.unread(), 0, big).unwrap_or(0);
        if block_type == SHB_TYPE {
            if !self.fill(12) {
                let have = self.available();
                return BlockFrame::Bad(format!(
                    "the capture ends inside a section header: {have} of at least 12 bytes are present (the file was cut short)"
                ));
            }
            match read_u32(self.unread(), 8, false) {
                Some(BYTE_ORDER_MAGIC) => big = false,
                Some(m) if m == BYTE_ORDER_MAGIC.swap_bytes() => big = true,
                _ => {
                    return BlockFrame::Bad(
                        "a section header has no valid byte-order magic (the file is corrupt from here)"
                            .to_string(),
                    );
                }
            }
        } else if first {
            return BlockFrame::Bad("the first block is not a section header".to_string());
        }
        let len = read_u32(self.unread(), 4, big).unwrap_or(0) as usize;
        if len < 12 || !len.is_multiple_of(4) || len > MAX_RECORD {
            return BlockFrame::Bad(format!(
                "a block of type {block_type:#x} has an impossible length of {len} bytes (the file is corrupt from here)"
            ));
        }
        if !self.fill(len) {
            let have = self.available();
            return BlockFrame::Bad(format!(
                "the capture ends inside a block of type {block_type:#x}: {have} of its {len} bytes are present (the file was cut short)"
            ));
        }
        let trailer = read_u32(self.unread(), len - 4, big).unwrap_or(0) as usize;
        if trailer != len {
            return BlockFrame::Bad(format!(
                "a block of type {block_type:#x} gives its length as {len} at its start and {trailer} at its end (the file is corrupt from here)"
            ));
        }
        BlockFrame::Block { block_type, len }
    }

    /// Applies the section header block of `len` bytes at the start of the unread bytes.
    fn apply_section_header(&mut self, len: usize) -> Result<(), String> {
        let block = self.unread().get(..len).unwrap_or_default();
        let shb = match parse_sectionheaderblock(block) {
            Ok((_, shb)) => shb,
            Err(_) => return Err("a section header block does not parse".to_string()),
        };
        if shb.major_version != 1 {
            return Err(format!(
                "the section uses pcapng version {}.{}, which this reader does not know",
                shb.major_version, shb.minor_version
            ));
        }
        self.big_endian = shb.big_endian();
        self.interfaces.clear();
        Ok(())
    }

    fn next_pcapng(&mut self) -> Option<Found> {
        if let Some(found) = self.whole_packet_block() {
            return Some(found);
        }
        loop {
            let (block_type, len) = match self.read_block_frame(false) {
                BlockFrame::Block { block_type, len } => (block_type, len),
                BlockFrame::End => return self.end_of_input(),
                BlockFrame::Bad(what) => return self.stop(what),
            };
            match block_type {
                SHB_TYPE => {
                    if let Err(what) = self.apply_section_header(len) {
                        return self.stop(format!("{what} (the file is corrupt from here)"));
                    }
                }
                IDB_TYPE => {
                    if let Err(what) = self.add_interface(len) {
                        return self.stop(what);
                    }
                }
                EPB_TYPE | SPB_TYPE | OBSOLETE_PB_TYPE => {
                    if let Some(found) = self.packet_block(block_type, len) {
                        return Some(found);
                    }
                    self.skipped = self.skipped.saturating_add(1);
                }
                _ => {}
            }
            self.start += len;
        }
    }

    /// The common case on a short path: an Enhanced Packet Block already whole in the
    /// buffer, its frame sound. Anything else (or a block whose packet cannot be handed
    /// out) is left to the general path, which reads it again with every check.
    fn whole_packet_block(&self) -> Option<Found> {
        let b = self.unread();
        let big = self.big_endian;
        if read_u32(b, 0, big)? != EPB_TYPE {
            return None;
        }
        let len = read_u32(b, 4, big)? as usize;
        if len < 32 || !len.is_multiple_of(4) || len > b.len() {
            return None;
        }
        if read_u32(b, len - 4, big)? as usize != len {
            return None;
        }
        self.packet_block(EPB_TYPE, len)
    }

    fn add_interface(&mut self, len: usize) -> Result<(), String> {
        let big = self.big_endian;
        let block = self.unread().get(..len).unwrap_or_default();
        let parsed = if big {
            parse_interfacedescriptionblock_be(block)
        } else {
            parse_interfacedescriptionblock_le(block)
        };
        let idb = match parsed {
            Ok((_, idb)) => idb,
            Err(_) => {
                return Err(
                    "an interface description block does not parse (the file is corrupt from here)"
                        .to_string(),
                );
            }
        };
        let iface = interface_from_idb(&idb, big);
        self.interfaces.push(iface);
        Ok(())
    }

    /// Locates the packet in a packet block of `len` bytes; None if it must be skipped.
    fn packet_block(&self, block_type: u32, len: usize) -> Option<Found> {
        let big = self.big_endian;
        let block = self.unread().get(..len)?;
        let body_end = len.checked_sub(4)?;
        let (if_id, ticks, caplen, orig, data_at) = match block_type {
            EPB_TYPE => {
                let if_id = read_u32(block, 8, big)?;
                let high = read_u32(block, 12, big)?;
                let low = read_u32(block, 16, big)?;
                let caplen = read_u32(block, 20, big)? as usize;
                let orig = read_u32(block, 24, big)?;
                (
                    if_id,
                    (u64::from(high) << 32) | u64::from(low),
                    caplen,
                    orig,
                    28usize,
                )
            }
            OBSOLETE_PB_TYPE => {
                let if_id = u32::from(read_u16(block, 8, big)?);
                let high = read_u32(block, 12, big)?;
                let low = read_u32(block, 16, big)?;
                let caplen = read_u32(block, 20, big)? as usize;
                let orig = read_u32(block, 24, big)?;
                (
                    if_id,
                    (u64::from(high) << 32) | u64::from(low),
                    caplen,
                    orig,
                    28usize,
                )
            }
            _ => {
                // Simple Packet Block: interface 0, no timestamp; the data runs to the block's
                // end, padded, so the captured length is the smallest of the original length,
                // the room in the block and the interface's snapshot length.
                let orig = read_u32(block, 8, big)?;
                let iface = self.interfaces.first()?;
                let room = body_end.checked_sub(12)?;
                let mut caplen = (orig as usize).min(room);
                if iface.snaplen > 0 {
                    caplen = caplen.min(iface.snaplen as usize);
                }
                (0, 0, caplen, orig, 12)
            }
        };
        let data_end = data_at.checked_add(caplen)?;
        if data_end > body_end {
            return None;
        }
        let iface = self.interfaces.get(usize::try_from(if_id).ok()?)?;
        let ts = if block_type == SPB_TYPE {
            Timestamp(0)
        } else {
            pcapng_timestamp(ticks, iface.unit, iface.offset_secs)
        };
        Some(Found {
            ts,
            link: iface.link,
            data_start: self.start.checked_add(data_at)?,
            data_len: caplen,
            orig_len: orig.max(u32::try_from(caplen).unwrap_or(u32::MAX)),
            interface: if_id,
            record_len: len,
        })
    }
}

enum BlockFrame {
    Block { block_type: u32, len: usize },
    End,
    Bad(String),
}

/// Link type, snapshot length and clock of an interface. `if_tsoffset` is read in the
/// section's byte order (pcap-parser's own accessor assumes little-endian).
fn interface_from_idb(idb: &InterfaceDescriptionBlock<'_>, big: bool) -> Interface {
    let mut unit = TsUnit::Pow10(6);
    let mut offset_secs = 0i64;
    for opt in &idb.options {
        let value = opt.value();
        if opt.code == OptionCode::IfTsresol {
            if let Some(&v) = value.first() {
                unit = TsUnit::from_tsresol(v);
            }
        } else if opt.code == OptionCode::IfTsoffset
            && let Some(a) = value.get(..8).and_then(|b| <[u8; 8]>::try_from(b).ok())
        {
            offset_secs = if big {
                i64::from_be_bytes(a)
            } else {
                i64::from_le_bytes(a)
            };
        }
    }
    Interface {
        link: LinkType(u32::from(idb.linktype.0 as u16)),
        snaplen: idb.snaplen,
        unit,
        offset_secs,
    }
}

/// Describes the first bytes of something that is not a capture: hex, the text if printable,
/// and a hint when they are the magic of a format we can name.
fn describe_start(bytes: &[u8]) -> (String, String) {
    let shown = bytes.get(..bytes.len().min(8)).unwrap_or_default();
    let hex: Vec<String> = shown.iter().map(|b| format!("{b:02x}")).collect();
    let mut start = format!("the bytes {}", hex.join(" "));
    let printable = !shown.is_empty()
        && shown
            .iter()
            .all(|&b| b.is_ascii_graphic() || b == b' ' || b == b'\n' || b == b'\r' || b == b'\t');
    if printable {
        let text: String = shown
            .iter()
            .map(|&b| {
                if b.is_ascii_graphic() || b == b' ' {
                    b as char
                } else {
                    ' '
                }
            })
            .collect();
        start.push_str(&format!(" (text: \"{}\")", text.trim_end()));
    }
    let hint = if bytes.starts_with(b"PK\x03\x04") {
        "; this is a zip archive: extract the capture from it first"
    } else if bytes.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        "; this is zstd-compressed: decompress it first (zstd -d)"
    } else if bytes.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0]) {
        "; this is xz-compressed: decompress it first (xz -d)"
    } else if bytes.starts_with(b"BZh") {
        "; this is bzip2-compressed: decompress it first (bunzip2)"
    } else if bytes.starts_with(b"\x04\x22\x4d\x18") {
        "; this is lz4-compressed: decompress it first (lz4 -d)"
    } else if printable {
        "; this looks like a text file (a capture is binary: write it with tcpdump -w or save it from Wireshark)"
    } else {
        ""
    };
    (start, hint.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::path::PathBuf;

    fn shared() -> Option<PathBuf> {
        let dir = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/captures"));
        if dir.is_dir() {
            Some(dir)
        } else {
            assert!(
                std::env::var_os("CI").is_none_or(|v| v.is_empty()),
                "under CI this test needs ../shared/captures beside the project"
            );
            eprintln!("skipping: {} is absent", dir.display());
            None
        }
    }

    /// (timestamp, link, data, orig_len, interface) of every packet, plus the summary.
    type Pkt = (Timestamp, LinkType, Vec<u8>, u32, u32);

    fn read_all(mut r: CaptureReader) -> (Vec<Pkt>, u64, CaptureSummary) {
        let mut out = Vec::new();
        while let Some(p) = r.next_packet() {
            out.push((p.ts, p.link, p.data.to_vec(), p.orig_len, p.interface));
        }
        let skipped = r.skipped();
        (out, skipped, r.finish())
    }

    fn from_bytes(bytes: &[u8]) -> Result<CaptureReader, CaptureError> {
        CaptureReader::from_reader("test", Box::new(Cursor::new(bytes.to_vec())))
    }

    fn sha256_hex(bytes: &[u8]) -> String {
        <sha2::Sha256 as sha2::Digest>::digest(bytes)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    /// Packet counts tshark 4.0 reports for every shared capture.
    const TSHARK_COUNTS: &[(&str, usize)] = &[
        ("tcpdump/802.1ad_QinQ.pcap", 2),
        ("tcpdump/LINKTYPE_IPV4.pcap", 1),
        ("tcpdump/LINKTYPE_IPV4_invalid.pcap", 1),
        ("tcpdump/LINKTYPE_IPV6.pcap", 1),
        ("tcpdump/LINKTYPE_RAW_ipv4.pcap", 1),
        ("tcpdump/LINKTYPE_RAW_ipv6.pcap", 1),
        ("tcpdump/bigtcp-ipv4.pcap", 1),
        ("tcpdump/bigtcp-ipv6.pcap", 1),
        ("tcpdump/dns-badlabel.pcap", 1),
        ("tcpdump/dns-zlip-1.pcap", 1),
        ("tcpdump/dns-zlip-2.pcap", 1),
        ("tcpdump/dns-zlip-3.pcap", 1),
        ("tcpdump/dns_tcp.pcap", 11),
        ("tcpdump/dns_udp.pcap", 2),
        ("tcpdump/gquic.pcap", 1),
        ("tcpdump/gso-ipv6.pcap", 1),
        ("tcpdump/ipv4_tcp_http_xml.pcap", 1),
        ("tcpdump/ipv6-next-header-oobr-1.pcap", 1),
        ("tcpdump/ipv6_frag6_negative_len.pcap", 1),
        ("tcpdump/ipv6_invalid_length.pcap", 1),
        ("tcpdump/ipv6hdr-heapoverflow.pcap", 1),
        ("tcpdump/ppp_ip_udp_dns.pcap", 1),
        ("tcpdump/pppoes.pcap", 2),
        ("tcpdump/quic_32_bit_pointer_overflow.pcap", 1),
        ("tcpdump/quic_handshake.pcap", 18),
        ("tcpdump/quic_handshake_truncated.pcap", 18),
        ("tcpdump/quic_retry.pcap", 23),
        ("tcpdump/quic_vn.pcap", 25),
        ("tcpdump/vxlan.pcap", 10),
        ("zeek/chksums_ip6-route0-tcp-good-chksum.pcap", 1),
        ("zeek/communityid_ipv6.pcap", 17),
        ("zeek/dns-edns-ecs.pcap", 89),
        ("zeek/dns-https.pcap", 2),
        ("zeek/dns-two-responses.pcap", 3),
        ("zeek/dns53.pcap", 1),
        ("zeek/dns_dns-corrupt.pcap", 2),
        ("zeek/dns_dns-invalid-names.pcap", 3),
        ("zeek/dns_ech.pcap", 4),
        ("zeek/dns_max-compression-depth.pcap", 1),
        ("zeek/dns_mdns.pcap", 24),
        ("zeek/http-qinq-0.pcap", 14),
        ("zeek/http-vlan-0.pcap", 14),
        ("zeek/http_get.pcap", 14),
        ("zeek/http_http-lower-case-nonstandard-port.pcap", 10),
        ("zeek/linux_dlt_sll2.pcap", 6),
        ("zeek/linuxsll-arp.pcap", 12),
        ("zeek/mixed-vlan-mpls.pcap", 47),
        ("zeek/pppoe-over-qinq.pcap", 86),
        ("zeek/quic_383379789-decrypt-crash.pcap", 9),
        ("zeek/quic_chromium-115.0.5790.110-api-cirrus-com.pcap", 19),
        ("zeek/quic_curl-8.1.2-dev-http3-www-google-de.pcap", 48),
        ("zeek/quic_interop_quic-go_quic-go_handshake.pcap", 13),
        ("zeek/quic_interop_quic-go_quic-go_retry.pcap", 26),
        ("zeek/quic_merlinc2_Zeek_example.pcapng", 100),
        ("zeek/quic_quic-decrypt-fail-google-de-51833.pcap", 36),
        ("zeek/quic_quic-multiple-initial-fragmented-crypto.pcap", 15),
        ("zeek/quic_quicdoq.pcap", 9),
        ("zeek/quic_quicv2-http3-443.pcap", 14),
        ("zeek/quic_vector-max-size-crash.pcap", 1),
        ("zeek/tls_chrome-1250-tls-x25519-kyber.pcap", 15),
        ("zeek/tls_chrome-34-google.pcap", 42),
        ("zeek/tls_dtls1_2.pcap", 16),
        ("zeek/tls_ecdhe.pcap", 28),
        ("zeek/tls_google-duplicate.pcap", 46),
        ("zeek/tls_heartbleed.pcap", 23),
        ("zeek/tls_hrr.pcap", 19),
        ("zeek/tls_ocsp-http-get.pcap", 7),
        ("zeek/tls_openjdk-25.0.2-zeek.org.pcap", 6),
        ("zeek/tls_ssl-v2.pcap", 25),
        ("zeek/tls_tls-conn-with-extensions.pcap", 58),
        ("zeek/tls_tls1.2.pcap", 22),
        ("zeek/tls_tls13-ech.pcap", 69),
        ("zeek/tls_tls13_wolfssl.pcap", 21),
        ("zeek/tls_webrtc-stun.pcap", 14),
        ("zeek/vlan-pcp-dei.pcapng", 9),
        ("zeek/vlan-qinqinq.pcap", 14),
    ];

    #[test]
    fn every_shared_capture_reads_with_tsharks_packet_count() {
        let Some(dir) = shared() else { return };
        for (file, want) in TSHARK_COUNTS {
            let path = dir.join(file);
            let bytes = std::fs::read(&path).unwrap();
            let r = CaptureReader::open(&path).unwrap_or_else(|e| panic!("{file}: {e}"));
            assert_eq!(r.name(), path.display().to_string());
            let (pkts, skipped, sum) = read_all(r);
            assert_eq!(pkts.len(), *want, "{file}");
            assert_eq!(skipped, 0, "{file}");
            assert_eq!(sum.packets, *want as u64, "{file}");
            assert_eq!(sum.truncation, None, "{file}");
            assert_eq!(sum.bytes, bytes.len() as u64, "{file}");
            assert_eq!(sum.sha256, Some(sha256_hex(&bytes)), "{file}");
            for p in &pkts {
                assert!(
                    p.2.len() as u64 <= u64::from(p.3),
                    "{file}: data longer than orig_len"
                );
            }
        }
        // Every file in the folders is in the table.
        let mut n = 0;
        for sub in ["tcpdump", "zeek"] {
            n += std::fs::read_dir(dir.join(sub)).unwrap().count();
        }
        assert_eq!(n, TSHARK_COUNTS.len());
    }

    #[test]
    fn shared_captures_have_the_right_link_types_and_times() {
        let Some(dir) = shared() else { return };
        let check = |file: &str, link: LinkType, first_ts: i64, first_len: usize| {
            let r = CaptureReader::open(&dir.join(file)).unwrap();
            let (pkts, _, _) = read_all(r);
            assert_eq!(pkts[0].1, link, "{file}");
            assert_eq!(pkts[0].0, Timestamp(first_ts), "{file}");
            assert_eq!(pkts[0].2.len(), first_len, "{file}");
        };
        // Values from `tshark -T fields -e frame.time_epoch -e frame.cap_len`.
        check(
            "zeek/quic_merlinc2_Zeek_example.pcapng",
            LinkType::ETHERNET,
            1_735_767_286_951_851_000,
            1322,
        );
        check(
            "zeek/vlan-pcp-dei.pcapng",
            LinkType::ETHERNET,
            1_763_070_394_994_237_000,
            62,
        );
        check(
            "zeek/linux_dlt_sll2.pcap",
            LinkType::LINUX_SLL2,
            1_660_534_249_872_259_000,
            104,
        );
        check(
            "tcpdump/quic_vn.pcap",
            LinkType::NULL,
            1_635_191_923_195_985_000,
            1252,
        );
        check(
            "tcpdump/LINKTYPE_IPV6.pcap",
            LinkType::IPV6,
            1_751_997_566_204_450_000,
            77,
        );
    }

    /// Record boundaries (stream offsets) of a little-endian microsecond pcap.
    fn pcap_boundaries(bytes: &[u8]) -> Vec<usize> {
        let mut at = 24;
        let mut out = vec![at];
        while at + 16 <= bytes.len() {
            let caplen = u32::from_le_bytes(bytes[at + 8..at + 12].try_into().unwrap()) as usize;
            at += 16 + caplen;
            out.push(at);
        }
        out
    }

    #[test]
    fn a_pcap_cut_at_every_offset_gives_a_prefix_and_a_truncation() {
        let Some(dir) = shared() else { return };
        let bytes = std::fs::read(dir.join("zeek/http_get.pcap")).unwrap();
        let (full, _, _) = read_all(from_bytes(&bytes).unwrap());
        assert_eq!(full.len(), 14);
        let bounds = pcap_boundaries(&bytes);
        assert_eq!(*bounds.last().unwrap(), bytes.len());
        for cut in 0..=bytes.len() {
            let prefix = &bytes[..cut];
            match from_bytes(prefix) {
                Err(CaptureError::Empty { .. }) => assert_eq!(cut, 0),
                Err(CaptureError::TooShort { len, .. }) => {
                    assert!(cut < 4);
                    assert_eq!(len, cut);
                }
                Err(CaptureError::BadHeader { what, .. }) => {
                    assert!((4..24).contains(&cut), "cut {cut}: {what}");
                    assert!(what.contains("24-byte"), "{what}");
                }
                Err(e) => panic!("cut {cut}: unexpected {e}"),
                Ok(r) => {
                    assert!(cut >= 24);
                    let (pkts, _, sum) = read_all(r);
                    assert_eq!(pkts[..], full[..pkts.len()], "cut {cut}");
                    let whole = bounds.iter().filter(|&&b| b <= cut).count() - 1;
                    assert_eq!(pkts.len(), whole, "cut {cut}");
                    assert_eq!(sum.bytes, cut as u64);
                    if bounds.contains(&cut) {
                        assert_eq!(sum.truncation, None, "cut {cut}");
                    } else {
                        let t = sum.truncation.expect("a cut mid-record is reported");
                        assert_eq!(t.offset, bounds[whole] as u64, "cut {cut}");
                        assert!(t.what.contains("cut short"), "{}", t.what);
                    }
                }
            }
        }
    }

    #[test]
    fn gzip_gives_the_same_packets_and_hashes_the_compressed_bytes() {
        let Some(dir) = shared() else { return };
        for file in [
            "zeek/http_get.pcap",
            "zeek/quic_merlinc2_Zeek_example.pcapng",
        ] {
            let bytes = std::fs::read(dir.join(file)).unwrap();
            let (plain, _, _) = read_all(from_bytes(&bytes).unwrap());
            let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
            gz.write_all(&bytes).unwrap();
            let gz = gz.finish().unwrap();
            let mut tmp = tempfile::NamedTempFile::new().unwrap();
            tmp.write_all(&gz).unwrap();
            tmp.flush().unwrap();
            let r = CaptureReader::open(tmp.path()).unwrap();
            let want_format = if file.ends_with("ng") {
                CaptureFormat::PcapNg
            } else {
                CaptureFormat::Pcap
            };
            assert_eq!(
                r.info(),
                CaptureInfo {
                    format: want_format,
                    gzip: true
                }
            );
            let (pkts, _, sum) = read_all(r);
            assert_eq!(pkts, plain, "{file}");
            assert_eq!(sum.sha256, Some(sha256_hex(&gz)));
            assert_eq!(sum.bytes, gz.len() as u64);
            assert_eq!(sum.truncation, None);

            // A gzip file cut in the middle: a prefix of the packets, and the reason.
            let (pkts, _, sum) = read_all(from_bytes(&gz[..gz.len() / 2]).unwrap());
            assert!(
                !pkts.is_empty() && pkts.len() < plain.len(),
                "{file}: {}",
                pkts.len()
            );
            assert_eq!(pkts[..], plain[..pkts.len()]);
            let t = sum.truncation.expect("cut gzip is reported");
            assert!(t.what.contains("gzip"), "{}", t.what);
        }
    }

    #[test]
    fn concatenated_gzip_members_read_as_one_stream() {
        let Some(dir) = shared() else { return };
        let bytes = std::fs::read(dir.join("zeek/http_get.pcap")).unwrap();
        let (plain, _, _) = read_all(from_bytes(&bytes).unwrap());
        let mut out = Vec::new();
        for part in [&bytes[..1000], &bytes[1000..]] {
            let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            gz.write_all(part).unwrap();
            out.extend(gz.finish().unwrap());
        }
        let (pkts, _, sum) = read_all(from_bytes(&out).unwrap());
        assert_eq!(pkts, plain);
        assert_eq!(sum.truncation, None);
    }

    #[test]
    fn sha256_covers_the_whole_file_even_when_reading_stops_early() {
        let Some(dir) = shared() else { return };
        let path = dir.join("zeek/tls_tls13-ech.pcap");
        let bytes = std::fs::read(&path).unwrap();
        let mut r = CaptureReader::open(&path).unwrap();
        assert!(r.next_packet().is_some());
        assert_eq!(r.packets_read(), 1);
        let sum = r.finish();
        assert_eq!(sum.packets, 1);
        assert_eq!(sum.bytes, bytes.len() as u64);
        assert_eq!(sum.sha256, Some(sha256_hex(&bytes)));
        // And a known value for an empty-of-packets pcap header.
        let header = pcap_header(false, false, 1);
        let sum = from_bytes(&header).unwrap().finish();
        assert_eq!(sum.sha256, Some(sha256_hex(&header)));
        assert_eq!(sum.packets, 0);
    }

    #[test]
    fn with_one_cpu_the_digest_is_computed_on_the_reading_thread_and_is_the_same() {
        let Some(dir) = shared() else { return };
        let path = dir.join("zeek/quic_merlinc2_Zeek_example.pcapng");
        let bytes = std::fs::read(&path).unwrap();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut gz, &bytes).unwrap();
        let gz = gz.finish().unwrap();
        let (threaded, _, _) = read_all(CaptureReader::open(&path).unwrap());
        for (input, gzip) in [(&bytes, false), (&gz, true)] {
            let raw = Raw::new(
                Box::new(Cursor::new(input.clone())),
                InputDigest::Sha256,
                true,
            )
            .unwrap();
            assert!(matches!(
                raw,
                Raw::Here {
                    hasher: Some(_),
                    ..
                }
            ));
            let r = CaptureReader::with_raw("one-cpu", raw, gzip).unwrap();
            let (here, _, sum) = read_all(r);
            assert_eq!(here, threaded);
            assert_eq!(sum.sha256, Some(sha256_hex(input)));
            assert_eq!(sum.bytes, input.len() as u64);
        }
    }

    #[test]
    fn without_the_digest_the_same_packets_come_out_and_every_byte_is_counted() {
        let Some(dir) = shared() else { return };
        for file in [
            "zeek/tls_tls13-ech.pcap",
            "zeek/quic_merlinc2_Zeek_example.pcapng",
        ] {
            let path = dir.join(file);
            let bytes = std::fs::read(&path).unwrap();
            let (hashed, _, _) = read_all(CaptureReader::open(&path).unwrap());
            let (plain, _, sum) =
                read_all(CaptureReader::open_with(&path, InputDigest::Skip).unwrap());
            assert!(!plain.is_empty(), "{file}");
            assert_eq!(plain, hashed, "{file}");
            assert_eq!(sum.packets, hashed.len() as u64);
            assert_eq!(sum.sha256, None);
            assert_eq!(sum.bytes, bytes.len() as u64, "{file}");
            // stopped after one packet, the count still covers the whole file
            let mut r = CaptureReader::open_with(&path, InputDigest::Skip).unwrap();
            assert!(r.next_packet().is_some());
            assert_eq!(r.finish().bytes, bytes.len() as u64);
        }
    }

    fn pcap_header(big: bool, nanos: bool, link: u32) -> Vec<u8> {
        let magic: u32 = if nanos { 0xA1B2_3C4D } else { 0xA1B2_C3D4 };
        let mut w = W::new(big);
        w.u32(magic)
            .u16(2)
            .u16(4)
            .u32(0)
            .u32(0)
            .u32(262_144)
            .u32(link);
        w.v
    }

    /// Rewrites a little-endian microsecond pcap in the given byte order and precision.
    fn convert_pcap(bytes: &[u8], big: bool, nanos: bool) -> Vec<u8> {
        let link = u32::from_le_bytes(bytes[20..24].try_into().unwrap());
        let mut w = W::new(big);
        w.bytes(&pcap_header(big, nanos, link));
        let mut at = 24;
        while at + 16 <= bytes.len() {
            let f = |i: usize| u32::from_le_bytes(bytes[at + i..at + i + 4].try_into().unwrap());
            let (sec, usec, caplen, orig) = (f(0), f(4), f(8), f(12));
            let frac = if nanos { usec * 1000 } else { usec };
            w.u32(sec).u32(frac).u32(caplen).u32(orig);
            w.bytes(&bytes[at + 16..at + 16 + caplen as usize]);
            at += 16 + caplen as usize;
        }
        w.v
    }

    #[test]
    fn pcap_in_both_byte_orders_and_both_precisions_reads_the_same() {
        let Some(dir) = shared() else { return };
        let bytes = std::fs::read(dir.join("tcpdump/quic_retry.pcap")).unwrap();
        let (want, _, _) = read_all(from_bytes(&bytes).unwrap());
        assert_eq!(want.len(), 23);
        for big in [false, true] {
            for nanos in [false, true] {
                let conv = convert_pcap(&bytes, big, nanos);
                let (got, _, sum) = read_all(from_bytes(&conv).unwrap());
                assert_eq!(got, want, "big {big} nanos {nanos}");
                assert_eq!(sum.truncation, None);
            }
        }
    }

    #[test]
    fn pcap_timestamps_and_lengths_are_read_exactly() {
        for big in [false, true] {
            let mut w = W::new(big);
            w.bytes(&pcap_header(big, true, 101));
            // 1.999999999 s, 4 bytes captured of 60 on the wire.
            w.u32(1)
                .u32(999_999_999)
                .u32(4)
                .u32(60)
                .bytes(&[0x45, 0, 0, 60]);
            let (pkts, _, sum) = read_all(from_bytes(&w.v).unwrap());
            assert_eq!(sum.truncation, None);
            assert_eq!(
                pkts,
                vec![(
                    Timestamp(1_999_999_999),
                    LinkType::RAW,
                    vec![0x45, 0, 0, 60],
                    60,
                    0
                )]
            );
        }
        // Microseconds; the FCS bits above the link type are not part of it; a record whose
        // captured length exceeds its original length reports the captured length.
        let mut w = W::new(false);
        w.bytes(&pcap_header(false, false, 0x1000_0001));
        w.u32(1_700_000_000)
            .u32(250_000)
            .u32(3)
            .u32(2)
            .bytes(&[1, 2, 3]);
        let (pkts, _, _) = read_all(from_bytes(&w.v).unwrap());
        assert_eq!(
            pkts,
            vec![(
                Timestamp(1_700_000_000_250_000_000),
                LinkType::ETHERNET,
                vec![1, 2, 3],
                3,
                0
            )]
        );
    }

    #[test]
    fn packets_bigger_than_the_buffer_read_and_absurd_records_stop() {
        let big_len = INITIAL_BUFFER * 3 + 5;
        let payload: Vec<u8> = (0..big_len).map(|i| (i % 251) as u8).collect();
        let mut w = W::new(false);
        w.bytes(&pcap_header(false, false, 1));
        w.u32(10)
            .u32(0)
            .u32(big_len as u32)
            .u32(big_len as u32)
            .bytes(&payload);
        w.u32(11).u32(0).u32(2).u32(2).bytes(&[7, 8]);
        let good_len = w.v.len();
        // Then a record claiming a gigabyte.
        w.u32(12).u32(0).u32(1 << 30).u32(1 << 30).bytes(&[0; 32]);
        let (pkts, _, sum) = read_all(from_bytes(&w.v).unwrap());
        assert_eq!(pkts.len(), 2);
        assert_eq!(pkts[0].2, payload);
        assert_eq!(pkts[1].2, vec![7, 8]);
        let t = sum.truncation.expect("absurd record is reported");
        assert_eq!(t.offset, good_len as u64);
        assert!(t.what.contains("claims 1073741824 bytes"), "{}", t.what);
    }

    /// Hands out its bytes a few at a time, as a pipe does.
    struct Trickle(Cursor<Vec<u8>>, usize);

    impl Read for Trickle {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = buf.len().min(self.1);
            self.0.read(&mut buf[..n])
        }
    }

    #[test]
    fn records_straddling_read_blocks_come_out_whole_however_the_input_arrives() {
        // Records from 1 byte to 300 KiB: some larger than a block's headroom, some larger
        // than a whole block, so every way of joining blocks is taken.
        let sizes = [
            1usize, 1500, 70_000, 9000, 300_000, 64, 200_000, 65_536, 65_537, 3,
        ];
        let mut w = W::new(false);
        w.bytes(&pcap_header(false, false, 1));
        let mut want = Vec::new();
        for (i, &n) in sizes.iter().cycle().take(24).enumerate() {
            let data: Vec<u8> = (0..n).map(|j| (i * 7 + j * 13) as u8).collect();
            w.u32(i as u32)
                .u32(0)
                .u32(n as u32)
                .u32(n as u32)
                .bytes(&data);
            want.push(data);
        }
        let bytes = w.v;
        for chunk in [usize::MAX, 100_000, 4096, 997] {
            let input = Trickle(Cursor::new(bytes.clone()), chunk);
            let r = CaptureReader::from_reader("test", Box::new(input)).unwrap();
            let (got, _, sum) = read_all(r);
            let got: Vec<Vec<u8>> = got.into_iter().map(|p| p.2).collect();
            assert_eq!(got.len(), want.len(), "reading {chunk} bytes at a time");
            assert!(got == want, "reading {chunk} bytes at a time");
            assert!(sum.truncation.is_none(), "reading {chunk} bytes at a time");
            assert_eq!(sum.sha256, Some(sha256_hex(&bytes)));
            assert_eq!(sum.bytes, bytes.len() as u64);
        }
        // cut inside the 300 KiB record: the offset is that record's start
        let cut = 24 + (16 + 1) + (16 + 1500) + (16 + 70_000) + (16 + 9000) + 1000;
        let input = Trickle(Cursor::new(bytes[..cut].to_vec()), 50_000);
        let (got, _, sum) = read_all(CaptureReader::from_reader("test", Box::new(input)).unwrap());
        assert_eq!(got.len(), 4);
        let t = sum.truncation.unwrap();
        assert_eq!(t.offset, (24 + 17 + 1516 + 70_016 + 9016) as u64);
    }

    /// A writer of pcap / pcapng fields in either byte order.
    struct W {
        big: bool,
        v: Vec<u8>,
    }

    impl W {
        fn new(big: bool) -> Self {
            W { big, v: Vec::new() }
        }
        fn u16(&mut self, x: u16) -> &mut Self {
            let b = if self.big {
                x.to_be_bytes()
            } else {
                x.to_le_bytes()
            };
            self.v.extend(b);
            self
        }
        fn u32(&mut self, x: u32) -> &mut Self {
            let b = if self.big {
                x.to_be_bytes()
            } else {
                x.to_le_bytes()
            };
            self.v.extend(b);
            self
        }
        fn u64(&mut self, x: u64) -> &mut Self {
            let b = if self.big {
                x.to_be_bytes()
            } else {
                x.to_le_bytes()
            };
            self.v.extend(b);
            self
        }
        fn bytes(&mut self, b: &[u8]) -> &mut Self {
            self.v.extend_from_slice(b);
            self
        }
        fn pad(&mut self) -> &mut Self {
            while !self.v.len().is_multiple_of(4) {
                self.v.push(0);
            }
            self
        }
        fn option(&mut self, code: u16, value: &[u8]) -> &mut Self {
            self.u16(code).u16(value.len() as u16).bytes(value).pad()
        }
        /// Appends a whole block of `block_type` around `body`.
        fn block(&mut self, block_type: u32, body: &[u8]) -> &mut Self {
            let len = 12 + body.len().next_multiple_of(4);
            self.u32(block_type)
                .u32(len as u32)
                .bytes(body)
                .pad()
                .u32(len as u32)
        }
    }

    fn shb(big: bool) -> Vec<u8> {
        let mut b = W::new(big);
        b.u32(BYTE_ORDER_MAGIC).u16(1).u16(0).u64(u64::MAX);
        let mut w = W::new(big);
        w.block(SHB_TYPE, &b.v);
        w.v
    }

    fn idb(big: bool, link: u16, snaplen: u32, options: &[(u16, Vec<u8>)]) -> Vec<u8> {
        let mut b = W::new(big);
        b.u16(link).u16(0).u32(snaplen);
        for (code, value) in options {
            b.option(*code, value);
        }
        if !options.is_empty() {
            b.u16(0).u16(0);
        }
        let mut w = W::new(big);
        w.block(IDB_TYPE, &b.v);
        w.v
    }

    fn epb(big: bool, if_id: u32, ticks: u64, data: &[u8], orig: u32) -> Vec<u8> {
        let mut b = W::new(big);
        b.u32(if_id).u32((ticks >> 32) as u32).u32(ticks as u32);
        b.u32(data.len() as u32).u32(orig).bytes(data).pad();
        // An epb_flags option, to show options cost nothing.
        b.option(2, &[0, 0, 0, 1]).u16(0).u16(0);
        let mut w = W::new(big);
        w.block(EPB_TYPE, &b.v);
        w.v
    }

    /// Two sections (little- then big-endian), interfaces with three link types and clocks,
    /// every packet block kind, blocks to skip and packets on undescribed interfaces.
    fn multi_interface_pcapng() -> Vec<u8> {
        let mut out = shb(false);
        out.extend(idb(false, 1, 0, &[]));
        let tsoffset = 100i64.to_le_bytes().to_vec();
        out.extend(idb(false, 101, 65535, &[(9, vec![9]), (14, tsoffset)]));
        out.extend(idb(false, 276, 0, &[(9, vec![0x80 | 10])]));
        out.extend(epb(false, 0, 1_700_000_000_123_456, b"eth-frame", 9));
        out.extend(epb(false, 1, 5_000_000_001, &[0x45, 0, 0, 20], 20));
        // Name resolution and custom blocks are skipped.
        let mut w = W::new(false);
        w.block(4, &[0, 0, 0, 0])
            .block(0x4000_0BAD, &[1, 2, 3, 4, 5, 6, 7, 8]);
        out.extend(&w.v);
        out.extend(epb(false, 2, 1024 * 3 + 512, b"sll2", 1500));
        out.extend(epb(false, 7, 1, b"nobody", 6));
        // Simple Packet Block: 60 bytes captured of 100.
        let mut b = W::new(false);
        b.u32(100).bytes(&[0xAB; 60]);
        let mut w = W::new(false);
        w.block(SPB_TYPE, &b.v);
        // Obsolete Packet Block on interface 1.
        let mut b = W::new(false);
        b.u16(1)
            .u16(0)
            .u32(0)
            .u32(7)
            .u32(3)
            .u32(3)
            .bytes(&[9, 9, 9])
            .pad();
        w.block(OBSOLETE_PB_TYPE, &b.v);
        out.extend(&w.v);
        // Second section, big-endian, with its own interface list.
        out.extend(shb(true));
        out.extend(idb(true, 9, 0, &[(9, vec![6])]));
        out.extend(epb(true, 0, 2_000_000, &[0xff, 0x03, 0x00, 0x21], 4));
        out.extend(epb(true, 1, 2_000_000, b"gone", 4));
        out
    }

    #[test]
    fn pcapng_with_several_sections_and_interfaces_reads_each_packet_with_its_own_link() {
        let bytes = multi_interface_pcapng();
        let r = from_bytes(&bytes).unwrap();
        assert_eq!(r.info().format, CaptureFormat::PcapNg);
        let (pkts, skipped, sum) = read_all(r);
        assert_eq!(sum.truncation, None);
        assert_eq!(
            skipped, 2,
            "one packet per section on an undescribed interface"
        );
        let want: Vec<Pkt> = vec![
            (
                Timestamp(1_700_000_000_123_456_000),
                LinkType::ETHERNET,
                b"eth-frame".to_vec(),
                9,
                0,
            ),
            (
                Timestamp(105_000_000_001),
                LinkType::RAW,
                vec![0x45, 0, 0, 20],
                20,
                1,
            ),
            (
                Timestamp(3_500_000_000),
                LinkType::LINUX_SLL2,
                b"sll2".to_vec(),
                1500,
                2,
            ),
            (Timestamp(0), LinkType::ETHERNET, vec![0xAB; 60], 100, 0),
            (
                Timestamp(100_000_000_007),
                LinkType::RAW,
                vec![9, 9, 9],
                3,
                1,
            ),
            (
                Timestamp(2_000_000_000),
                LinkType::PPP,
                vec![0xff, 0x03, 0x00, 0x21],
                4,
                0,
            ),
        ];
        assert_eq!(pkts, want);
        assert_eq!(sum.packets, 6);
    }

    #[test]
    fn a_pcapng_cut_at_every_offset_gives_a_prefix() {
        let bytes = multi_interface_pcapng();
        let (full, _, _) = read_all(from_bytes(&bytes).unwrap());
        let shb_len = shb(false).len();
        // Block boundaries, following the byte order of each section.
        let mut bounds = vec![];
        let (mut at, mut big) = (0usize, false);
        while at < bytes.len() {
            if read_u32(&bytes, at, false) == Some(SHB_TYPE) {
                big = read_u32(&bytes, at + 8, false) != Some(BYTE_ORDER_MAGIC);
            }
            at += read_u32(&bytes, at + 4, big).unwrap() as usize;
            bounds.push(at);
        }
        assert_eq!(bounds.len(), 16);
        assert_eq!(*bounds.last().unwrap(), bytes.len());
        for cut in 0..=bytes.len() {
            match from_bytes(&bytes[..cut]) {
                Err(e) => {
                    assert!(cut < shb_len, "cut {cut}: {e}");
                }
                Ok(r) => {
                    assert!(cut >= shb_len);
                    let (pkts, _, sum) = read_all(r);
                    assert_eq!(pkts[..], full[..pkts.len()], "cut {cut}");
                    let last = *bounds.iter().filter(|&&b| b <= cut).max().unwrap();
                    if bounds.contains(&cut) {
                        assert_eq!(sum.truncation, None, "cut {cut}");
                    } else {
                        let t = sum.truncation.expect("a cut mid-block is reported");
                        assert_eq!(t.offset, last as u64, "cut {cut}");
                        assert!(t.what.contains("cut short"), "{}", t.what);
                    }
                }
            }
        }
    }

    #[test]
    fn corrupt_pcapng_blocks_end_the_packets_with_a_reason() {
        // A block whose trailing length disagrees with its leading one.
        let mut bytes = shb(false);
        bytes.extend(idb(false, 1, 0, &[]));
        bytes.extend(epb(false, 0, 1, b"ok", 2));
        let bad_at = bytes.len();
        let mut bad = epb(false, 0, 2, b"bad", 3);
        let n = bad.len();
        bad[n - 4] ^= 0x40;
        bytes.extend(bad);
        bytes.extend(epb(false, 0, 3, b"after", 5));
        let (pkts, _, sum) = read_all(from_bytes(&bytes).unwrap());
        assert_eq!(pkts.len(), 1);
        let t = sum.truncation.unwrap();
        assert_eq!(t.offset, bad_at as u64);
        assert!(t.what.contains("at its end"), "{}", t.what);

        // A block length that is not a multiple of 4, or absurdly large.
        for len in [13u32, 0x7fff_fff0] {
            let mut bytes = shb(false);
            let mut w = W::new(false);
            w.u32(EPB_TYPE).u32(len).bytes(&[0; 24]);
            bytes.extend(w.v);
            let (pkts, _, sum) = read_all(from_bytes(&bytes).unwrap());
            assert!(pkts.is_empty());
            assert!(sum.truncation.unwrap().what.contains("impossible length"));
        }

        // An Enhanced Packet Block whose captured length overruns the block is skipped.
        let mut bytes = shb(false);
        bytes.extend(idb(false, 1, 0, &[]));
        let mut b = W::new(false);
        b.u32(0).u32(0).u32(0).u32(500).u32(500).bytes(&[0; 8]);
        let mut w = W::new(false);
        w.block(EPB_TYPE, &b.v);
        bytes.extend(w.v);
        bytes.extend(epb(false, 0, 3, b"after", 5));
        let r = from_bytes(&bytes).unwrap();
        let (pkts, skipped, sum) = read_all(r);
        assert_eq!(skipped, 1);
        assert_eq!(pkts.len(), 1);
        assert_eq!(pkts[0].2, b"after".to_vec());
        assert_eq!(sum.truncation, None);
    }

    #[test]
    fn pcapng_timestamp_units() {
        assert_eq!(
            pcapng_timestamp(1, TsUnit::Pow10(0), 0),
            Timestamp(1_000_000_000)
        );
        assert_eq!(pcapng_timestamp(1_234, TsUnit::Pow10(12), 0), Timestamp(1));
        assert_eq!(pcapng_timestamp(5, TsUnit::Pow10(100), 0), Timestamp(0));
        assert_eq!(
            pcapng_timestamp(3, TsUnit::Pow2(1), -2),
            Timestamp(-500_000_000)
        );
        assert_eq!(
            pcapng_timestamp(u64::MAX, TsUnit::Pow10(0), 0),
            Timestamp(i64::MAX)
        );
        assert_eq!(pcapng_timestamp(1, TsUnit::Pow2(127), 0), Timestamp(0));
        assert_eq!(TsUnit::from_tsresol(0x86), TsUnit::Pow2(6));
    }

    #[test]
    fn open_errors_say_what_is_wrong() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nope.pcap");
        let e = CaptureReader::open(&missing).unwrap_err();
        assert!(matches!(e, CaptureError::NotFound { .. }));
        assert!(e.to_string().contains("nope.pcap"), "{e}");
        assert!(e.to_string().contains("does not exist"), "{e}");

        let e = CaptureReader::open(dir.path()).unwrap_err();
        assert!(matches!(e, CaptureError::IsDirectory { .. }), "{e}");

        let empty = dir.path().join("empty.pcap");
        std::fs::write(&empty, b"").unwrap();
        let e = CaptureReader::open(&empty).unwrap_err();
        assert!(matches!(e, CaptureError::Empty { .. }), "{e}");

        let text = dir.path().join("notes.txt");
        std::fs::write(&text, b"GET / HTTP/1.1\r\nHost: x\r\n").unwrap();
        let e = CaptureReader::open(&text).unwrap_err();
        let msg = e.to_string();
        assert!(msg.contains("47 45 54 20 2f 20 48 54"), "{msg}");
        assert!(msg.contains("GET / HT"), "{msg}");
        assert!(msg.contains("pcap and pcapng"), "{msg}");
        assert!(msg.contains("text file"), "{msg}");

        let e = from_bytes(&[0x28, 0xb5, 0x2f, 0xfd, 0, 0, 0, 0]).unwrap_err();
        assert!(e.to_string().contains("zstd -d"), "{e}");

        // A gzip file whose content is not a capture, and a damaged gzip header.
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(b"hello, world").unwrap();
        let gz = gz.finish().unwrap();
        let e = from_bytes(&gz).unwrap_err();
        assert!(matches!(e, CaptureError::NotACapture { .. }), "{e}");
        let e = from_bytes(&[0x1f, 0x8b, 0x99, 0x99, 0x99]).unwrap_err();
        assert!(matches!(e, CaptureError::Gzip { .. }), "{e}");

        // A pcapng whose first section header is broken.
        let mut bytes = shb(false);
        bytes[8] = 0;
        let e = from_bytes(&bytes).unwrap_err();
        assert!(e.to_string().contains("byte-order"), "{e}");
    }

    /// `cargo test --release -- --ignored reads_a_million`: the reader (with hashing) must
    /// manage over a million packets a second in release builds.
    #[test]
    #[ignore]
    fn reads_a_million_packets_quickly() {
        let mut w = W::new(false);
        w.bytes(&pcap_header(false, false, 1));
        for i in 0..1_000_000u32 {
            w.u32(1_700_000_000)
                .u32(i % 1_000_000)
                .u32(64)
                .u32(64)
                .bytes(&[0x5a; 64]);
        }
        let start = std::time::Instant::now();
        let (mut n, mut r) = (0u64, from_bytes(&w.v).unwrap());
        while let Some(p) = r.next_packet() {
            n += p.data.len() as u64 / 64;
        }
        let elapsed = start.elapsed();
        let sum = r.finish();
        assert_eq!((n, sum.packets), (1_000_000, 1_000_000));
        let rate = n as f64 / elapsed.as_secs_f64();
        eprintln!("{rate:.0} packets/s");
        if !cfg!(debug_assertions) {
            assert!(rate > 1_000_000.0, "{rate:.0} packets/s");
        }
    }

    #[test]
    fn the_reader_is_send() {
        fn is_send<T: Send>() {}
        is_send::<CaptureReader>();
    }
}
