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

mod pcap;
mod pcapng;
mod source;
#[cfg(test)]
mod tests;

use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

use super::readahead::HEADROOM;
use super::{LinkType, RawPacket};
use crate::time::Timestamp;
use pcap_parser::nom::{Err as NomErr, Needed};
use pcap_parser::{
    InterfaceDescriptionBlock, OptionCode, parse_interfacedescriptionblock_be,
    parse_interfacedescriptionblock_le, parse_pcap_frame, parse_pcap_frame_be,
    parse_pcap_frame_modified, parse_pcap_header, parse_sectionheaderblock,
};

/// The buffer a reader starts with; it grows when one record needs more.
const INITIAL_BUFFER: usize = 1 << 20;
/// The largest single record (pcap record or pcapng block) the reader accepts. A record
/// claiming more is taken as a sign of corruption.
pub const MAX_RECORD: usize = 256 << 20;

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

use pcapng::{Interface, SHB_TYPE, read_u32};
pub use source::InputDigest;
use source::{Raw, Stream};

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
    src: Stream,
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
        r: Box<dyn Read + Send>,
        digest: InputDigest,
        one_cpu: bool,
    ) -> Result<Self, CaptureError> {
        let (whole, gzip) = source::sniff(name, r)?;
        let raw = Raw::new(whole, digest, one_cpu).map_err(|e| CaptureError::Io {
            name: name.to_string(),
            source: e,
        })?;
        Self::with_raw(name, raw, gzip)
    }

    fn with_raw(name: &str, raw: Raw, gzip: bool) -> Result<Self, CaptureError> {
        let buf = vec![0; INITIAL_BUFFER];
        let src = Stream::new(raw, gzip);
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

    /// Whether reading the next packet would wait for the input: nothing unread here, and the
    /// read-ahead has no block ready (a pipe, between two writes). A replay hands over what
    /// it has then, so the last packets before a pause are not held back. Always false for an
    /// input read on the caller's thread (one CPU), which cannot tell.
    pub fn would_wait(&mut self) -> bool {
        // the record last handed out is consumed at the next call
        let unread = self.available().saturating_sub(self.pending);
        if self.eof || self.done || unread > 0 {
            return false;
        }
        match &mut self.src {
            Stream::Plain(Raw::Ahead(ahead)) => !ahead.ready(),
            _ => false,
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
        if matches!(self.src, Stream::Plain(Raw::Ahead(_))) {
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
                Stream::Plain(Raw::Ahead(ahead)) => ahead.next_block(),
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
                if let Stream::Plain(Raw::Ahead(ahead)) = &self.src {
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
                if let Stream::Plain(Raw::Ahead(ahead)) = &self.src {
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
