//! Dissect: the application protocols that reveal names on the wire. Each works on
//! byte slices only and assumes the bytes can end or lie at any offset.
//!
//! - [`dns`]: DNS and mDNS messages (UDP, and length-prefixed over TCP): which address
//!   answers for which name, following CNAME chains.
//! - [`tls`]: the TLS ClientHello at the start of a client stream (or a bare handshake
//!   message, as QUIC CRYPTO frames carry it): SNI, ALPN, ECH.
//! - [`http`]: the HTTP/1.x request head: method, target, Host, User-Agent.
//! - [`quic`]: QUIC client Initials, decrypted to reach their ClientHello; gQUIC.
//! - [`starttls`]: SMTP, POP3, IMAP, FTP and XMPP sessions followed to their upgrade to TLS,
//!   whose ClientHello [`tls`] then reads.
//! - [`stream`]: bounded reassembly of the first bytes of one TCP direction, which the
//!   three above read from.
//!
//! None of them does I/O or reads a clock.

pub mod dns;
pub mod http;
pub mod quic;
pub mod starttls;
pub mod stream;
pub mod tls;
