//! Where a capture's bytes come from: a file, standard input or any stream, gzip-compressed or
//! not, every byte hashed (SHA-256) on the way or not ([`InputDigest`]).

use std::io::{self, Cursor, Read};

use super::CaptureError;

use super::super::readahead::ReadAhead;
use flate2::read::MultiGzDecoder;
use sha2::{Digest, Sha256};

/// Whether to compute the SHA-256 of the input as it is read.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum InputDigest {
    /// Hash every byte (on a thread of its own), so the summary names the exact input.
    #[default]
    Sha256,
    /// Do not: the input is read ahead on a thread of its own (on one CPU, on the caller's
    /// thread), with no hashing.
    Skip,
}

/// The raw bytes of the input as given (compressed, if gzip), hashed on the way or not.
pub(super) enum Raw {
    /// Read ahead (and hashed, if asked) on threads of their own.
    Ahead(ReadAhead),
    /// Read on the caller's thread and counted; hashed there too when asked (with one CPU
    /// to run on, threads would only take turns on it).
    Here {
        inner: Box<dyn Read + Send>,
        hasher: Option<Sha256>,
        bytes: u64,
    },
}

impl Raw {
    /// Read ahead (and hashed, if asked) on threads of their own, or here when there is one
    /// CPU.
    pub(super) fn new(
        whole: Box<dyn Read + Send>,
        digest: InputDigest,
        one_cpu: bool,
    ) -> io::Result<Raw> {
        let hash = digest == InputDigest::Sha256;
        if !one_cpu {
            return Ok(Raw::Ahead(ReadAhead::new(whole, hash)?));
        }
        let hasher = hash.then(Sha256::new);
        Ok(Raw::Here {
            inner: whole,
            hasher,
            bytes: 0,
        })
    }

    /// Reads what remains (so the digest and the count cover the whole input); returns the
    /// digest, if one was computed, and the count of bytes.
    pub(super) fn finish(&mut self) -> (Option<String>, u64) {
        match self {
            Raw::Ahead(ahead) => match ahead.finish() {
                Some((digest, bytes)) => (digest.map(|d| crate::text::hex(&d)), bytes),
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
                    Raw::Ahead(_) => (None, 0),
                }
            }
        }
    }
}

impl Read for Raw {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Raw::Ahead(r) => r.read(buf),
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

pub(super) enum Stream {
    /// Uncompressed. Read ahead, it is taken block by block without copying; read on the
    /// caller's thread (one CPU), it is read straight into the reader's buffer.
    Plain(Raw),
    Gzip(Box<MultiGzDecoder<Raw>>),
}

impl Stream {
    pub(super) fn raw(&mut self) -> &mut Raw {
        match self {
            Stream::Plain(r) => r,
            Stream::Gzip(g) => g.get_mut(),
        }
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(r) => r.read(buf),
            Stream::Gzip(g) => g.read(buf),
        }
    }
}

impl Stream {
    /// The input as given, or gzip-decompressed.
    pub(super) fn new(raw: Raw, gzip: bool) -> Stream {
        if gzip {
            Stream::Gzip(Box::new(MultiGzDecoder::new(raw)))
        } else {
            Stream::Plain(raw)
        }
    }
}

/// Reads the first two bytes of `r` to tell gzip from the rest: returns the whole stream (those
/// bytes put back in front, so the digest and the count cover them) and whether it is gzip.
pub(super) fn sniff(
    name: &str,
    mut r: Box<dyn Read + Send>,
) -> Result<(Box<dyn Read + Send>, bool), CaptureError> {
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
    Ok((whole, gzip))
}
