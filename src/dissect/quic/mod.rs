//! QUIC: naming a flow from its client Initial. `packet` splits datagrams and removes
//! Initial protection, `crypto` derives the Initial keys (with `ring`), `frames`
//! collects the CRYPTO stream, whose ClientHello the TLS dissector reads; `gquic`
//! recognises Google QUIC. Work is bounded: only client datagrams of flows not yet
//! named are decrypted, and the CRYPTO stream is capped.

pub mod crypto;
pub mod frames;
pub mod gquic;
pub mod packet;

use crate::dissect::tls::{self, ClientHello, TlsScan};
use crypto::{GUESSES, VersionKeys, version_keys};
use frames::CryptoStream;
use packet::{Datagram, LongPacket, LongType, Unreadable};

/// Failed opens with guessed keys one flow may cost, at most: every known protection, for the
/// original destination connection ID and once more.
pub const MAX_KEY_GUESSES: u32 = 2 * GUESSES.len() as u32;

/// A version's usual name: `1`, `2`, `draft-29`, `mvfst-2`, `Q043`, `T051`, a reserved version
/// as such, or hex.
pub fn version_name(v: u32) -> String {
    match v {
        crypto::VERSION_1 => "1".into(),
        crypto::VERSION_2 => "2".into(),
        crypto::VERSION_T050 | crypto::VERSION_T051 => gquic::version_name(v),
        _ if crypto::is_reserved(v) => {
            format!("0x{v:08x} (reserved, to force version negotiation)")
        }
        0xff00_0000..=0xff00_00ff => format!("draft-{}", v & 0xff),
        0xface_b000..=0xface_b0ff => format!("mvfst-{}", v & 0xff),
        _ if gquic::version(&[
            0xc0,
            (v >> 24) as u8,
            (v >> 16) as u8,
            (v >> 8) as u8,
            v as u8,
        ])
        .is_some() =>
        {
            gquic::version_name(v)
        }
        _ => format!("0x{v:08x}"),
    }
}

/// Per-flow QUIC state.
#[derive(Debug)]
pub struct QuicFlow {
    crypto: CryptoStream,
    /// The flow is named, or given up on: nothing more to decrypt.
    pub done: bool,
    /// Client Initials decrypted.
    pub initials: u32,
    /// The QUIC version of the last long-header packet seen (or a gQUIC version tag).
    pub version: Option<u32>,
    pub gquic: bool,
    /// A Retry or Version Negotiation was seen.
    pub retry: bool,
    pub version_negotiation: bool,
    /// Client Initials this flow may decrypt before giving up (0: recognise QUIC only).
    max_initials: u32,
    /// The destination connection ID of the first client Initial that decrypted: a client
    /// that switches to the server's connection ID keeps the Initial keys of the original.
    original_dcid: Option<Vec<u8>>,
    /// For a version with no keys of its own (a reserved one, say): the known protection that
    /// opened its Initial, found by trying each ([`GUESSES`]), and its version's name.
    guessed: Option<(&'static str, VersionKeys)>,
    /// Opens with guessed keys that failed (at most [`MAX_KEY_GUESSES`]).
    pub key_guesses: u32,
}

impl QuicFlow {
    /// CRYPTO bytes dropped so far because they lay beyond the stream's cap.
    pub fn crypto_dropped(&self) -> u64 {
        self.crypto.dropped
    }

    /// The version whose keys opened this flow's Initial when its own version has none: found
    /// by trying the known ones, and proved by the AEAD tag.
    pub fn guessed_keys(&self) -> Option<&'static str> {
        self.guessed.map(|(name, _)| name)
    }

    /// Removes the protection of a client Initial: with its version's keys, for its own
    /// destination connection ID or the connection's original one; or with the protection a
    /// guess found before; else (a version with no keys of its own, or a first Initial its own
    /// keys do not open) with each known one in turn, until an AEAD tag verifies or
    /// [`MAX_KEY_GUESSES`] opens have failed.
    fn open(&mut self, p: &LongPacket<'_>) -> Result<Vec<u8>, Unreadable> {
        let own = version_keys(p.version);
        let keys = self.guessed.map(|(_, k)| k).or(own);
        if let Some(k) = keys {
            let opened = match packet::open_initial_with(p, p.dcid, k) {
                Err(Unreadable::Decryption) => match &self.original_dcid {
                    Some(orig) if orig.as_slice() != p.dcid => {
                        packet::open_initial_with(p, orig, k)
                    }
                    _ => Err(Unreadable::Decryption),
                },
                other => other,
            };
            // a known version whose own keys do not open its first Initial: some stacks protect
            // every version but v2 with v1's keys (aioquic does, for draft-29), so the others are
            // tried too, the same way and within the same bound
            let first = self.guessed.is_none() && self.original_dcid.is_none();
            return match opened {
                Err(Unreadable::Decryption) if first => {
                    self.guess(p, Some(k)).map_err(|_| Unreadable::Decryption)
                }
                other => other,
            };
        }
        self.guess(p, None)
    }

    /// Tries each known protection but `tried` on `p`, until an AEAD tag verifies or
    /// [`MAX_KEY_GUESSES`] opens have failed.
    fn guess(
        &mut self,
        p: &LongPacket<'_>,
        tried: Option<VersionKeys>,
    ) -> Result<Vec<u8>, Unreadable> {
        for (name, k) in GUESSES {
            if Some(k) == tried {
                continue;
            }
            if self.key_guesses >= MAX_KEY_GUESSES {
                return Err(Unreadable::UnknownVersion);
            }
            match packet::open_initial_with(p, p.dcid, k) {
                Ok(plain) => {
                    self.guessed = Some((name, k));
                    return Ok(plain);
                }
                Err(Unreadable::TooShort) => return Err(Unreadable::TooShort),
                Err(_) => self.key_guesses += 1,
            }
        }
        Err(Unreadable::UnknownVersion)
    }

    /// The server name in a Q050 client Initial: its protection removed with Q050's keys, the
    /// gQUIC CHLO inside read for its `SNI` tag.
    fn q050_sni(data: &[u8]) -> Option<String> {
        let Datagram::Long(packets) = packet::parse_datagram(data) else {
            return None;
        };
        packets
            .iter()
            .filter(|p| p.kind == LongType::Initial)
            .find_map(|p| packet::open_initial(p, p.dcid).ok())
            .and_then(|plain| gquic::chlo_sni(&plain))
    }
}

/// What one datagram told.
#[derive(Debug, PartialEq, Eq)]
pub enum QuicEvent {
    /// Not QUIC as far as can be told.
    NotQuic,
    /// QUIC, but nothing new to name it by (yet).
    Quic,
    /// The client's ClientHello was read.
    ClientHello(ClientHello),
    /// gQUIC, with the server name if it was in the clear.
    Gquic { sni: Option<String> },
    /// A client Initial could not be read (counted as `quic_undecryptable`).
    Undecryptable(&'static str),
}

/// Most Initials that one flow is given to complete its ClientHello, by default.
pub const MAX_INITIALS: u32 = 16;

impl Default for QuicFlow {
    fn default() -> Self {
        QuicFlow::new(MAX_INITIALS)
    }
}

impl QuicFlow {
    /// A flow that decrypts at most `max_initials` client Initials.
    pub fn new(max_initials: u32) -> QuicFlow {
        QuicFlow {
            crypto: CryptoStream::default(),
            done: false,
            initials: 0,
            version: None,
            gquic: false,
            retry: false,
            version_negotiation: false,
            max_initials,
            original_dcid: None,
            guessed: None,
            key_guesses: 0,
        }
    }

    /// A datagram from the flow's client.
    pub fn on_client(&mut self, data: &[u8]) -> QuicEvent {
        if let Some(v) = gquic::version(data) {
            self.gquic = true;
            self.version = Some(v);
            if self.done {
                return QuicEvent::Quic;
            }
            let mut sni = gquic::chlo_sni(data);
            if sni.is_none() && v == crypto::VERSION_Q050 {
                sni = QuicFlow::q050_sni(data);
            }
            if sni.is_some() {
                self.done = true;
            }
            return QuicEvent::Gquic { sni };
        }
        let packets = match packet::parse_datagram(data) {
            Datagram::Long(p) => p,
            Datagram::Short => return QuicEvent::Quic,
            Datagram::VersionNegotiation => {
                self.version_negotiation = true;
                return QuicEvent::Quic;
            }
            Datagram::NotQuic => return QuicEvent::NotQuic,
        };
        let mut event = QuicEvent::Quic;
        for p in packets {
            self.version = Some(p.version);
            if p.kind != LongType::Initial || self.done {
                continue;
            }
            if self.max_initials == 0 {
                self.done = true;
                return QuicEvent::Quic;
            }
            if self.initials >= self.max_initials {
                self.done = true;
                return QuicEvent::Undecryptable("no ClientHello in the first Initials");
            }
            let opened = self.open(&p);
            if opened.is_ok() && self.original_dcid.is_none() {
                self.original_dcid = Some(p.dcid.to_vec());
            }
            let plain = match opened {
                Ok(plain) => plain,
                Err(Unreadable::UnknownVersion) => {
                    self.done = true;
                    return QuicEvent::Undecryptable(
                        "a QUIC version whose Initial keys are unknown, and no known keys opened it",
                    );
                }
                Err(Unreadable::TooShort) => {
                    return QuicEvent::Undecryptable("an Initial too short to decrypt");
                }
                Err(Unreadable::Decryption) => {
                    return QuicEvent::Undecryptable("an Initial that did not decrypt");
                }
            };
            self.initials += 1;
            let crypto = &mut self.crypto;
            let gquic_frames = matches!(
                p.version,
                crypto::VERSION_T050 | crypto::VERSION_T051 | crypto::VERSION_Q050
            );
            if !frames::walk_framing(&plain, gquic_frames, |offset, bytes| {
                crypto.add(offset, bytes)
            }) {
                event = QuicEvent::Undecryptable("malformed frames in an Initial");
            }
            match tls::parse_client_hello_message(self.crypto.data()) {
                TlsScan::ClientHello(ch) => {
                    self.done = true;
                    return QuicEvent::ClientHello(ch);
                }
                TlsScan::NeedMore => {}
                _ => {
                    self.done = true;
                    return QuicEvent::Undecryptable("the CRYPTO stream holds no ClientHello");
                }
            }
        }
        event
    }

    /// A datagram from the flow's server: only recognised, never decrypted.
    pub fn on_server(&mut self, data: &[u8]) -> bool {
        if gquic::version(data).is_some() {
            return true;
        }
        match packet::parse_datagram(data) {
            Datagram::Long(ps) => {
                if ps.iter().any(|p| p.kind == LongType::Retry) {
                    self.retry = true;
                }
                true
            }
            Datagram::VersionNegotiation => {
                self.version_negotiation = true;
                true
            }
            Datagram::Short => true,
            Datagram::NotQuic => false,
        }
    }
}
