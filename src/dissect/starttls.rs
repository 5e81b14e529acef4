//! STARTTLS: plaintext sessions that turn into TLS in place. SMTP (`STARTTLS`, RFC 3207),
//! POP3 (`STLS`, RFC 2595), IMAP (`<tag> STARTTLS`, RFC 9051), FTP (`AUTH TLS`, RFC 4217) and
//! XMPP (`<starttls/>`, RFC 6120). The client's stream is followed command by command until it
//! asks for TLS; the ClientHello that follows the server's go-ahead is then read like any other
//! (its SNI is the flow's name). The server's stream gives the go-ahead and, where the protocol
//! puts one there, the server's own host: SMTP's greeting (RFC 5321: `220 <domain> ...`) and
//! XMPP's stream header (`from='<domain>'`). XMPP's client names the domain it wants in its own
//! stream header (`to='<domain>'`).
//!
//! Pure functions on the reassembled bytes: nothing is kept between calls.

/// A protocol that upgrades to TLS in place.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Upgrade {
    Smtp,
    Pop3,
    Imap,
    Ftp,
    Xmpp,
}

/// What the client's stream says so far.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClientScan {
    /// Not a plaintext session of these protocols.
    Not,
    /// Plaintext commands of one of them (when known), no upgrade asked for yet.
    Session(Option<Upgrade>),
    /// The client asked for TLS: its TLS bytes begin at `tls_at`. `host` is the domain an XMPP
    /// client's stream header asks for, when it is a plausible host name.
    Asked {
        proto: Upgrade,
        tls_at: usize,
        host: Option<String>,
    },
}

/// The longest command line followed; a longer one ends the session's reading.
const MAX_LINE: usize = 1024;

/// Follows the client's plaintext commands to the one that asks for TLS.
pub fn scan_client(data: &[u8]) -> ClientScan {
    let start = skip_space(data);
    let rest = data.get(start..).unwrap_or_default();
    if rest.starts_with(b"<?xml") || rest.starts_with(b"<stream:stream") {
        return scan_xmpp(data);
    }
    let mut proto: Option<Upgrade> = None;
    let mut at = 0usize;
    loop {
        let Some(line_data) = data.get(at..) else {
            return ClientScan::Session(proto);
        };
        let Some(end) = line_data.iter().position(|&b| b == b'\n') else {
            // an unfinished line: more may come, unless it is no command at all
            return if line_data.len() > MAX_LINE || (at == 0 && !could_be_command(line_data)) {
                ClientScan::Not
            } else {
                ClientScan::Session(proto)
            };
        };
        let line = trim_line(line_data.get(..end).unwrap_or_default());
        let next = at + end + 1;
        match command(line) {
            Command::Upgrade(p) => {
                return ClientScan::Asked {
                    proto: p,
                    tls_at: next,
                    host: None,
                };
            }
            Command::Of(p) => {
                proto = proto.or(p);
            }
            Command::Unknown if at == 0 => return ClientScan::Not,
            Command::Unknown if line.eq_ignore_ascii_case(b"DATA") => return ClientScan::Not,
            Command::Unknown => {}
        }
        at = next;
    }
}

/// What one client command line is.
enum Command {
    /// It asks for TLS.
    Upgrade(Upgrade),
    /// A command of these sessions (of one protocol, when it tells).
    Of(Option<Upgrade>),
    Unknown,
}

fn command(line: &[u8]) -> Command {
    let upper: Vec<u8> = line.iter().map(u8::to_ascii_uppercase).collect();
    let words: Vec<&[u8]> = upper
        .split(|&b| b == b' ' || b == b'\t')
        .filter(|w| !w.is_empty())
        .collect();
    match words.as_slice() {
        [b"STARTTLS"] => Command::Upgrade(Upgrade::Smtp),
        [b"STLS"] => Command::Upgrade(Upgrade::Pop3),
        [b"AUTH", b"TLS" | b"SSL" | b"TLS-C"] => Command::Upgrade(Upgrade::Ftp),
        [_tag, b"STARTTLS"] => Command::Upgrade(Upgrade::Imap),
        // the message itself follows: nothing in it is a command
        [b"DATA"] | [b"BDAT", ..] => Command::Unknown,
        [b"EHLO" | b"HELO" | b"LHLO", ..] => Command::Of(Some(Upgrade::Smtp)),
        [b"CAPA"] => Command::Of(Some(Upgrade::Pop3)),
        [b"FEAT"] | [b"SYST"] => Command::Of(Some(Upgrade::Ftp)),
        [b"USER" | b"PASS" | b"QUIT" | b"NOOP" | b"RSET", ..] => Command::Of(None),
        [_tag, b"CAPABILITY" | b"NOOP" | b"ID", ..] => Command::Of(Some(Upgrade::Imap)),
        _ => Command::Unknown,
    }
}

/// Whether an unfinished first line could still become a command (letters, digits, spaces).
fn could_be_command(b: &[u8]) -> bool {
    !b.is_empty()
        && b.iter().all(|&c| {
            c.is_ascii_alphanumeric() || c == b' ' || c == b'\t' || c == b'-' || c == b'\r'
        })
}

/// XMPP: the client's stream header, then `<starttls .../>`.
fn scan_xmpp(data: &[u8]) -> ClientScan {
    let host =
        attribute(stream_header(data).unwrap_or_default(), b"to").and_then(|h| plausible_host(&h));
    let Some(at) = find(data, b"<starttls") else {
        return if data.len() > 8 * MAX_LINE {
            ClientScan::Not
        } else {
            ClientScan::Session(Some(Upgrade::Xmpp))
        };
    };
    let after = data.get(at..).unwrap_or_default();
    // `<starttls xmlns='...'/>` or `<starttls xmlns='...'></starttls>`
    let end = match (find(after, b"/>"), find(after, b"</starttls>")) {
        (Some(a), Some(b)) if b < a => b + b"</starttls>".len(),
        (Some(a), _) => a + 2,
        (None, Some(b)) => b + b"</starttls>".len(),
        (None, None) => return ClientScan::Session(Some(Upgrade::Xmpp)),
    };
    ClientScan::Asked {
        proto: Upgrade::Xmpp,
        tls_at: at + end,
        host,
    }
}

/// Whether the server agreed to the upgrade, by its last complete reply: `Some(true)` for a
/// go-ahead, `Some(false)` for a refusal, `None` when no reply to read is there yet.
pub fn go_ahead(proto: Upgrade, server: &[u8]) -> Option<bool> {
    if proto == Upgrade::Xmpp {
        let proceed = rfind(server, b"<proceed");
        let failure = rfind(server, b"<failure");
        return match (proceed, failure) {
            (Some(p), Some(f)) => Some(p > f),
            (Some(_), None) => Some(true),
            (None, Some(_)) => Some(false),
            (None, None) => None,
        };
    }
    let line = last_line(server)?;
    let upper: Vec<u8> = line.iter().map(u8::to_ascii_uppercase).collect();
    Some(match proto {
        Upgrade::Smtp => upper.starts_with(b"220"),
        Upgrade::Ftp => upper.starts_with(b"234"),
        Upgrade::Pop3 => upper.starts_with(b"+OK"),
        Upgrade::Imap => {
            let mut words = upper.split(|&b| b == b' ').filter(|w| !w.is_empty());
            let tag = words.next();
            tag.is_some_and(|t| t != b"*") && words.next() == Some(b"OK")
        }
        Upgrade::Xmpp => false,
    })
}

/// The host the server names itself by where its protocol says it must: the domain of SMTP's
/// `220` greeting, or the `from` of XMPP's stream header. Anything that is not a plausible host
/// name (a dot, letters, digits and hyphens only) is not taken.
pub fn server_host(proto: Upgrade, server: &[u8]) -> Option<String> {
    let name = match proto {
        Upgrade::Smtp => {
            let end = server.iter().position(|&b| b == b'\n')?;
            let line = trim_line(server.get(..end)?);
            let rest = line.strip_prefix(b"220")?;
            let rest = rest
                .strip_prefix(b" ")
                .or_else(|| rest.strip_prefix(b"-"))?;
            let word = rest.split(|&b| b == b' ').next()?;
            std::str::from_utf8(word).ok()?.to_string()
        }
        Upgrade::Xmpp => attribute(stream_header(server)?, b"from")?,
        _ => return None,
    };
    plausible_host(&name)
}

/// `name`, lower-cased, when it looks like a DNS host name with at least one dot.
pub fn plausible_host(name: &str) -> Option<String> {
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    let ok = name.len() <= 253
        && name.contains('.')
        && name.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
        && !name.bytes().all(|b| b.is_ascii_digit() || b == b'.');
    ok.then_some(name)
}

/// The `<stream:stream ...>` start tag.
fn stream_header(data: &[u8]) -> Option<&[u8]> {
    let at = find(data, b"<stream:stream")?;
    let tag = data.get(at..)?;
    let end = tag.iter().position(|&b| b == b'>')?;
    tag.get(..end)
}

/// The value of `name='...'` or `name="..."` in a start tag.
fn attribute(tag: &[u8], name: &[u8]) -> Option<String> {
    let mut at = 0;
    while let Some(i) = find(tag.get(at..)?, name) {
        let pos = at + i;
        let before_ok = pos == 0 || tag.get(pos - 1).is_some_and(|b| b.is_ascii_whitespace());
        let rest = tag.get(pos + name.len()..)?;
        let rest = rest.get(skip_space(rest)..)?;
        if before_ok && rest.first() == Some(&b'=') {
            let rest = rest.get(1..)?;
            let rest = rest.get(skip_space(rest)..)?;
            let quote = *rest.first()?;
            if quote == b'\'' || quote == b'"' {
                let value = rest.get(1..)?;
                let end = value.iter().position(|&b| b == quote)?;
                return std::str::from_utf8(value.get(..end)?)
                    .ok()
                    .map(str::to_string);
            }
        }
        at = pos + name.len();
    }
    None
}

/// The last complete line (ended by a line feed), without its line end.
fn last_line(b: &[u8]) -> Option<&[u8]> {
    let end = b.iter().rposition(|&c| c == b'\n')?;
    let body = b.get(..end)?;
    let start = body.iter().rposition(|&c| c == b'\n').map_or(0, |i| i + 1);
    Some(trim_line(body.get(start..)?))
}

fn trim_line(b: &[u8]) -> &[u8] {
    let b = b.strip_suffix(b"\r").unwrap_or(b);
    let start = skip_space(b);
    b.get(start..).unwrap_or_default()
}

fn skip_space(b: &[u8]) -> usize {
    b.iter()
        .position(|c| !c.is_ascii_whitespace())
        .unwrap_or(b.len())
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn rfind(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).rposition(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HELLO: &[u8] = b"\x16\x03\x01\x00\x05hello";

    fn asked(scan: ClientScan) -> (Upgrade, usize, Option<String>) {
        match scan {
            ClientScan::Asked {
                proto,
                tls_at,
                host,
            } => (proto, tls_at, host),
            other => panic!("no upgrade: {other:?}"),
        }
    }

    #[test]
    fn each_protocol_s_upgrade_command_is_found_and_the_tls_bytes_follow_it() {
        for (stream, want) in [
            (&b"EHLO client.lan\r\nSTARTTLS\r\n"[..], Upgrade::Smtp),
            (b"ehlo client.lan\r\nstarttls\r\n", Upgrade::Smtp),
            (b"CAPA\r\nSTLS\r\n", Upgrade::Pop3),
            (b"a001 CAPABILITY\r\na002 STARTTLS\r\n", Upgrade::Imap),
            (b"AUTH TLS\r\n", Upgrade::Ftp),
            (b"FEAT\r\nAUTH SSL\r\n", Upgrade::Ftp),
        ] {
            let mut data = stream.to_vec();
            data.extend_from_slice(HELLO);
            let (proto, at, _) = asked(scan_client(&data));
            assert_eq!(proto, want, "{}", String::from_utf8_lossy(stream));
            assert_eq!(&data[at..], HELLO);
        }
    }

    #[test]
    fn a_session_without_upgrade_and_other_traffic() {
        assert_eq!(
            scan_client(b"EHLO client.lan\r\nMAIL FROM:<a@b>\r\n"),
            ClientScan::Session(Some(Upgrade::Smtp))
        );
        assert_eq!(scan_client(b"EHL"), ClientScan::Session(None));
        assert_eq!(scan_client(b"GET / HTTP/1.1\r\n"), ClientScan::Not);
        assert_eq!(scan_client(b"\x16\x03\x01\x02\x00"), ClientScan::Not);
        assert_eq!(scan_client(b"SSH-2.0-OpenSSH_9.2\r\n"), ClientScan::Not);
    }

    #[test]
    fn xmpp_s_starttls_element_and_the_domain_asked_for() {
        let mut data = b"<?xml version='1.0'?><stream:stream to='chat.example.org' xmlns='jabber:client' version='1.0'><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>".to_vec();
        let len = data.len();
        data.extend_from_slice(HELLO);
        let (proto, at, host) = asked(scan_client(&data));
        assert_eq!((proto, at), (Upgrade::Xmpp, len));
        assert_eq!(host.as_deref(), Some("chat.example.org"));
        let server = b"<?xml version='1.0'?><stream:stream from=\"chat.example.org\" id='x'><stream:features/><proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>";
        assert_eq!(go_ahead(Upgrade::Xmpp, server), Some(true));
        assert_eq!(
            server_host(Upgrade::Xmpp, server).as_deref(),
            Some("chat.example.org")
        );
        assert_eq!(go_ahead(Upgrade::Xmpp, b"<failure/>"), Some(false));
    }

    #[test]
    fn the_server_s_go_ahead_and_refusal() {
        let smtp = b"220 mx.example.net ESMTP\r\n250-mx.example.net\r\n250 STARTTLS\r\n220 2.0.0 Ready to start TLS\r\n";
        assert_eq!(go_ahead(Upgrade::Smtp, smtp), Some(true));
        assert_eq!(
            go_ahead(Upgrade::Smtp, b"220 mx ESMTP\r\n454 TLS not available\r\n"),
            Some(false)
        );
        assert_eq!(
            go_ahead(Upgrade::Ftp, b"220 hi\r\n234 AUTH TLS OK.\r\n"),
            Some(true)
        );
        assert_eq!(
            go_ahead(Upgrade::Pop3, b"+OK ready\r\n+OK Begin TLS\r\n"),
            Some(true)
        );
        assert_eq!(
            go_ahead(Upgrade::Pop3, b"+OK ready\r\n-ERR no\r\n"),
            Some(false)
        );
        assert_eq!(
            go_ahead(Upgrade::Imap, b"* OK ready\r\na002 OK Begin TLS\r\n"),
            Some(true)
        );
        assert_eq!(
            go_ahead(Upgrade::Imap, b"* OK ready\r\na002 BAD no\r\n"),
            Some(false)
        );
        assert_eq!(go_ahead(Upgrade::Smtp, b"220 mx.example.net"), None);
    }

    #[test]
    fn the_smtp_greeting_s_domain_is_the_server_s_host_when_it_is_one() {
        for (greeting, host) in [
            (
                &b"220 mx.example.net ESMTP Postfix\r\n"[..],
                Some("mx.example.net"),
            ),
            (b"220-SMTP.Example.NET. ready\r\n", Some("smtp.example.net")),
            (b"220 localhost ESMTP\r\n", None),
            (b"220 192.0.2.1 ESMTP\r\n", None),
            (b"220 ESMTP ready\r\n", None),
            (b"220 mx.example.net", None), // not a whole line yet
        ] {
            assert_eq!(
                server_host(Upgrade::Smtp, greeting).as_deref(),
                host,
                "{}",
                String::from_utf8_lossy(greeting)
            );
        }
        assert_eq!(
            server_host(Upgrade::Pop3, b"+OK mail.example.net\r\n"),
            None
        );
    }
}
