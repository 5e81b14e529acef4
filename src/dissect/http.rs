//! The head of an HTTP/1.x request at the start of a client stream: method, target, and
//! the names it reveals (Host, or the authority of an absolute-form target), plus the
//! User-Agent. `httparse` reads the request line and headers; this file decides when to
//! wait for more bytes and turns the authority into a bare host.
//!
//! The host is lower-cased and escaped like a TLS SNI ([`super::tls::escape_host`]); its
//! port is removed, and an IPv6 literal loses its brackets (`[2001:db8::1]:80` gives
//! `2001:db8::1`), so it compares with addresses and DNS names as is.

use super::tls::{escape_host, escape_text};

/// Most bytes of request line and headers read before giving up.
pub const MAX_HEAD: usize = 16 * 1024;
/// Most header lines read.
const MAX_HEADERS: usize = 128;

/// Request methods recognised at the start of a stream: RFC 9110, WebDAV, the HTTP/2
/// preface (`PRI`) and the UPnP/SSDP ones a media server speaks.
const METHODS: [&[u8]; 24] = [
    b"GET",
    b"POST",
    b"HEAD",
    b"PUT",
    b"DELETE",
    b"OPTIONS",
    b"PATCH",
    b"CONNECT",
    b"TRACE",
    b"PRI",
    b"PROPFIND",
    b"PROPPATCH",
    b"MKCOL",
    b"COPY",
    b"MOVE",
    b"LOCK",
    b"UNLOCK",
    b"REPORT",
    b"SEARCH",
    b"MKCALENDAR",
    b"NOTIFY",
    b"M-SEARCH",
    b"SUBSCRIBE",
    b"UNSUBSCRIBE",
];

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpRequest {
    pub method: String,
    pub target: String,
    /// Host header (or, without one, the absolute-form or CONNECT target's authority):
    /// port removed, lower-cased, escaped like SNI.
    pub host: Option<String>,
    /// Escaped like SNI but keeping its case.
    pub user_agent: Option<String>,
    /// Further Host headers naming other hosts (a request with several: each is a name).
    pub more_hosts: Vec<String>,
    /// Other hosts the request names besides its Host: an absolute-form target's authority or
    /// an `Origin` header's host, when it differs. Names of the flow, never whom it went to.
    pub others: Vec<String>,
    /// Set when the head did not parse strictly and was read line by line: what was wrong.
    pub lenient: Option<&'static str>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HttpScan {
    /// The bytes so far are a valid prefix of a request head.
    NeedMore,
    NotHttp,
    Request(HttpRequest),
    Malformed(&'static str),
}

/// Whether `buf` starts with a known method token and a space.
pub fn looks_like_http_request(buf: &[u8]) -> bool {
    METHODS.iter().any(|m| {
        buf.strip_prefix(*m)
            .is_some_and(|rest| rest.first() == Some(&b' '))
    })
}

/// Read the request head at the start of `buf`. A request split over segments gives
/// NeedMore until the header block ends; a head longer than [`MAX_HEAD`] is Malformed.
pub fn scan_request(buf: &[u8]) -> HttpScan {
    if !looks_like_http_request(buf) {
        // Still NeedMore while the bytes could grow into a known method and its space.
        let could_be = METHODS
            .iter()
            .any(|m| m.len() >= buf.len() && m.starts_with(buf));
        return if could_be {
            HttpScan::NeedMore
        } else {
            HttpScan::NotHttp
        };
    }
    let head = buf.get(..MAX_HEAD).unwrap_or(buf);
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut headers);
    match req.parse(head) {
        Ok(httparse::Status::Complete(_)) => HttpScan::Request(request_of(&req)),
        Ok(httparse::Status::Partial) if buf.len() >= MAX_HEAD => {
            HttpScan::Malformed("request head longer than 16 KiB")
        }
        Ok(httparse::Status::Partial) => HttpScan::NeedMore,
        // a bad header line: read the head line by line; a bad request line is no request
        Err(
            e @ (httparse::Error::HeaderName
            | httparse::Error::HeaderValue
            | httparse::Error::NewLine
            | httparse::Error::TooManyHeaders),
        ) => match lenient_request(head, error_text(e)) {
            Some(Some(r)) => HttpScan::Request(r),
            Some(None) => HttpScan::NeedMore,
            None => HttpScan::Malformed(error_text(e)),
        },
        Err(e) => HttpScan::Malformed(error_text(e)),
    }
}

/// A request head the strict parser refused (odd spacing such as `Host : x`, a stray byte in
/// some header), read line by line as tshark reads it: the request line's method and target,
/// then every `name: value` line whose name is Host, Origin or User-Agent, whatever the
/// spacing and case around the colon. `Some(None)` while the head has not ended; `None` when
/// the request line itself is not one.
fn lenient_request(head: &[u8], why: &'static str) -> Option<Option<HttpRequest>> {
    let Some(end) = blank_line(head) else {
        return Some(None);
    };
    let text = head.get(..end)?;
    let mut lines = text
        .split(|&b| b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l));
    let first = lines.next()?;
    let mut parts = first.split(|&b| b == b' ').filter(|p| !p.is_empty());
    let (method, target) = (parts.next()?, parts.next()?);
    let method = std::str::from_utf8(method).ok()?;
    let target = std::str::from_utf8(target).ok().unwrap_or_default();
    let mut hosts = Vec::new();
    let mut origins = Vec::new();
    let mut agent = None;
    for line in lines {
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            continue;
        };
        let name = line.get(..colon).unwrap_or_default().trim_ascii();
        let value = line.get(colon + 1..).unwrap_or_default();
        if name.eq_ignore_ascii_case(b"host") {
            hosts.push(value);
        } else if name.eq_ignore_ascii_case(b"origin") {
            origins.push(value);
        } else if name.eq_ignore_ascii_case(b"user-agent") {
            agent.get_or_insert(value);
        }
    }
    let mut r = assemble(method, target, &hosts, &origins, agent);
    r.lenient = Some(why);
    Some(Some(r))
}

/// Where the head ends: the first empty line (`\n\n` or `\n\r\n`), so that a stream cut
/// anywhere before it needs more, and one cut after it reads the same head.
fn blank_line(b: &[u8]) -> Option<usize> {
    b.iter().enumerate().find_map(|(i, &c)| {
        let rest = b.get(i + 1..)?;
        (c == b'\n' && (rest.first() == Some(&b'\n') || rest.starts_with(b"\r\n"))).then_some(i)
    })
}

/// The request from its method, target and the values of its Host, Origin and User-Agent
/// headers: the first Host (or the target's authority) is whom it went to; further Host
/// values and other hosts the target or an Origin name are kept beside it.
fn assemble(
    method: &str,
    target: &str,
    hosts: &[&[u8]],
    origins: &[&[u8]],
    agent: Option<&[u8]>,
) -> HttpRequest {
    let mut names: Vec<String> = Vec::new();
    for h in hosts {
        if let Some(h) = host_of_authority(h)
            && !names.contains(&h)
        {
            names.push(h);
        }
    }
    let from_target = host_of_target(method, target);
    let mut others = Vec::new();
    let host = if names.is_empty() {
        from_target
    } else {
        if let Some(t) = from_target
            && !names.contains(&t)
        {
            others.push(t);
        }
        Some(names.remove(0))
    };
    for o in origins {
        if let Some(h) = host_of_origin(o)
            && Some(&h) != host.as_ref()
            && !names.contains(&h)
            && !others.contains(&h)
        {
            others.push(h);
        }
    }
    HttpRequest {
        method: escape_text(method.as_bytes(), false),
        target: escape_text(target.as_bytes(), false),
        host,
        user_agent: agent.map(|v| escape_text(v.trim_ascii(), false)),
        more_hosts: names,
        others,
        lenient: None,
    }
}

/// The host of an `Origin` header (`scheme://host[:port]`; `null` names none).
fn host_of_origin(value: &[u8]) -> Option<String> {
    let value = std::str::from_utf8(value.trim_ascii()).ok()?;
    let (_, rest) = value.split_once("://")?;
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    host_of_authority(authority.as_bytes())
}

fn request_of(req: &httparse::Request<'_, '_>) -> HttpRequest {
    let method = req.method.unwrap_or_default();
    let target = req.path.unwrap_or_default();
    let values = |name: &str| -> Vec<&[u8]> {
        req.headers
            .iter()
            .filter(|h| h.name.eq_ignore_ascii_case(name))
            .map(|h| h.value)
            .collect()
    };
    let agent = values("user-agent").first().copied();
    assemble(method, target, &values("host"), &values("origin"), agent)
}

/// The authority of an absolute-form target (`http://user@host:port/path`), or the
/// authority-form target of CONNECT (`host:port`), as a host.
fn host_of_target(method: &str, target: &str) -> Option<String> {
    if method.eq_ignore_ascii_case("CONNECT") {
        return host_of_authority(target.as_bytes());
    }
    let (scheme, rest) = target.split_once("://")?;
    if scheme.is_empty()
        || !scheme
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'))
    {
        return None;
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    host_of_authority(host_port.as_bytes())
}

/// `host`, `host:port`, `[v6]` or `[v6]:port` → the host, escaped; `None` when empty.
fn host_of_authority(value: &[u8]) -> Option<String> {
    let value = value.trim_ascii();
    let host = if let Some(inner) = value.strip_prefix(b"[") {
        match inner.iter().position(|&b| b == b']') {
            Some(end) => inner.get(..end).unwrap_or_default(),
            None => value,
        }
    } else {
        let colons = value.iter().filter(|&&b| b == b':').count();
        match value.iter().rposition(|&b| b == b':') {
            Some(at) if colons == 1 => {
                let port = value.get(at.saturating_add(1)..).unwrap_or_default();
                if port.iter().all(u8::is_ascii_digit) {
                    value.get(..at).unwrap_or_default()
                } else {
                    value
                }
            }
            _ => value,
        }
    };
    (!host.is_empty()).then(|| escape_host(host))
}

fn error_text(e: httparse::Error) -> &'static str {
    match e {
        httparse::Error::HeaderName => "invalid header name",
        httparse::Error::HeaderValue => "invalid header value",
        httparse::Error::NewLine => "invalid new line",
        httparse::Error::Status => "invalid status",
        httparse::Error::Token => "invalid token",
        httparse::Error::TooManyHeaders => "too many headers",
        httparse::Error::Version => "invalid HTTP version",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dissect::stream::test_pcap;

    fn request(scan: HttpScan) -> HttpRequest {
        match scan {
            HttpScan::Request(r) => r,
            other => panic!("not a request: {other:?}"),
        }
    }

    #[test]
    fn reads_method_target_host_and_agent() {
        let r = request(scan_request(
            b"GET /a?b=c HTTP/1.1\r\nHost: Media.Example.COM:8080\r\nUser-Agent: PlexMediaServer/1.40\r\n\r\nbody",
        ));
        assert_eq!(r.method, "GET");
        assert_eq!(r.target, "/a?b=c");
        assert_eq!(r.host.as_deref(), Some("media.example.com"));
        assert_eq!(r.user_agent.as_deref(), Some("PlexMediaServer/1.40"));
    }

    #[test]
    fn host_forms() {
        let host = |h: &str| {
            let raw = format!("GET / HTTP/1.1\r\nHost: {h}\r\n\r\n");
            request(scan_request(raw.as_bytes())).host
        };
        assert_eq!(host("[2001:DB8::1]:80").as_deref(), Some("2001:db8::1"));
        assert_eq!(host("[2001:db8::1]").as_deref(), Some("2001:db8::1"));
        assert_eq!(host("192.0.2.1:32400").as_deref(), Some("192.0.2.1"));
        assert_eq!(host("example.com:").as_deref(), Some("example.com"));
        assert_eq!(host("example.com").as_deref(), Some("example.com"));
        assert_eq!(host(""), None);
        // Opaque bytes are escaped, not dropped.
        let raw = b"GET / HTTP/1.1\r\nHost: ex\xffample.com\r\n\r\n";
        assert_eq!(
            request(scan_request(raw)).host.as_deref(),
            Some("ex\\xffample.com")
        );
    }

    #[test]
    fn absolute_form_gives_the_host_when_there_is_no_host_header() {
        let r = request(scan_request(
            b"GET http://user:pw@Proxy.Example:3128/x/y?z HTTP/1.1\r\n\r\n",
        ));
        assert_eq!(r.host.as_deref(), Some("proxy.example"));
        assert_eq!(r.target, "http://user:pw@Proxy.Example:3128/x/y?z");
        let r = request(scan_request(
            b"GET http://[2001:db8::2]:80 HTTP/1.0\r\n\r\n",
        ));
        assert_eq!(r.host.as_deref(), Some("2001:db8::2"));
        let r = request(scan_request(b"CONNECT plex.tv:443 HTTP/1.1\r\n\r\n"));
        assert_eq!(r.host.as_deref(), Some("plex.tv"));
        // The Host header, when present, is the one reported.
        let r = request(scan_request(
            b"GET http://a.example/ HTTP/1.1\r\nHost: b.example\r\n\r\n",
        ));
        assert_eq!(r.host.as_deref(), Some("b.example"));
        // Origin-form without Host: no host.
        assert_eq!(request(scan_request(b"GET / HTTP/1.0\r\n\r\n")).host, None);
    }

    #[test]
    fn split_request_needs_more_until_the_head_ends() {
        let raw =
            b"POST /upload HTTP/1.1\r\nHost: analytics.example\r\nContent-Length: 3\r\n\r\nabc";
        let head_end = raw.len() - 3;
        for n in 0..head_end {
            assert_eq!(scan_request(&raw[..n]), HttpScan::NeedMore, "{n}");
        }
        for n in head_end..=raw.len() {
            assert_eq!(
                request(scan_request(&raw[..n])).host.as_deref(),
                Some("analytics.example")
            );
        }
    }

    #[test]
    fn head_is_capped() {
        let mut raw = b"GET / HTTP/1.1\r\nX-Pad: ".to_vec();
        raw.extend(vec![b'a'; MAX_HEAD]);
        assert!(matches!(scan_request(&raw), HttpScan::Malformed(_)));
        assert_eq!(scan_request(&raw[..MAX_HEAD - 1]), HttpScan::NeedMore);
        // A complete head just under the cap still parses.
        let mut raw = b"GET / HTTP/1.1\r\nHost: x.example\r\nX-Pad: ".to_vec();
        raw.extend(vec![b'a'; MAX_HEAD - raw.len() - 4]);
        raw.extend(b"\r\n\r\n");
        assert_eq!(raw.len(), MAX_HEAD);
        assert_eq!(
            request(scan_request(&raw)).host.as_deref(),
            Some("x.example")
        );
    }

    #[test]
    fn odd_spacing_and_case_around_host() {
        for raw in [
            &b"GET / HTTP/1.1\r\nHost:www.lan\r\n\r\n"[..],
            b"GET / HTTP/1.1\r\nhOsT:\twww.lan\t\r\n\r\n",
            b"GET / HTTP/1.1\r\nHOST:  WWW.LAN:8080\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost : www.lan\r\n\r\n",
            b"GET / HTTP/1.1\nHost: www.lan\n\n",
        ] {
            let r = request(scan_request(raw));
            assert_eq!(
                r.host.as_deref(),
                Some("www.lan"),
                "{}",
                String::from_utf8_lossy(raw)
            );
        }
    }

    #[test]
    fn several_hosts_an_origin_and_an_absolute_target() {
        let r = request(scan_request(
            b"GET / HTTP/1.1\r\nHost: first.example\r\nHost: second.example\r\nHost: first.example\r\n\r\n",
        ));
        assert_eq!(r.host.as_deref(), Some("first.example"));
        assert_eq!(r.more_hosts, ["second.example"]);
        assert!(r.others.is_empty());
        let r = request(scan_request(
            b"POST /api HTTP/1.1\r\nHost: api.example\r\nOrigin: https://app.other.example:8443\r\n\r\n",
        ));
        assert_eq!(r.host.as_deref(), Some("api.example"));
        assert_eq!(r.others, ["app.other.example"]);
        // an Origin naming the Host itself, or none (`null`), adds nothing
        for origin in ["https://api.example", "null"] {
            let raw = format!("GET / HTTP/1.1\r\nHost: api.example\r\nOrigin: {origin}\r\n\r\n");
            assert!(request(scan_request(raw.as_bytes())).others.is_empty());
        }
        let r = request(scan_request(
            b"GET http://target.example/x HTTP/1.1\r\nHost: host.example\r\n\r\n",
        ));
        assert_eq!(r.host.as_deref(), Some("host.example"));
        assert_eq!(r.others, ["target.example"]);
        // without a Host, the absolute target is whom it went to, as before
        let r = request(scan_request(
            b"GET http://target.example/x HTTP/1.0\r\n\r\n",
        ));
        assert_eq!(r.host.as_deref(), Some("target.example"));
        assert!(r.others.is_empty());
    }

    #[test]
    fn not_http_and_malformed() {
        assert_eq!(scan_request(b"HTTP/1.1 200 OK\r\n\r\n"), HttpScan::NotHttp);
        assert_eq!(scan_request(&[22, 3, 1, 2, 0]), HttpScan::NotHttp);
        assert_eq!(scan_request(b"GEX / HTTP/1.1"), HttpScan::NotHttp);
        assert_eq!(scan_request(b"GETS / HTTP/1.1"), HttpScan::NotHttp);
        assert_eq!(scan_request(b"get / HTTP/1.1\r\n\r\n"), HttpScan::NotHttp);
        assert_eq!(scan_request(b""), HttpScan::NeedMore);
        assert_eq!(scan_request(b"M-SE"), HttpScan::NeedMore);
        assert!(matches!(
            scan_request(b"GET / HTTP/9.9\r\n\r\n"),
            HttpScan::Malformed(_)
        ));
        // a control byte in a header value: read line by line, the name escaped, and said so
        let odd = request(scan_request(b"GET / HTTP/1.1\r\nHost: a\x01b\r\n\r\n"));
        assert_eq!(odd.host.as_deref(), Some("a\\x01b"));
        assert_eq!(odd.lenient, Some("invalid header value"));
        assert!(looks_like_http_request(b"M-SEARCH * HTTP/1.1"));
        assert!(looks_like_http_request(b"GET "));
        assert!(!looks_like_http_request(b"GET"));
        assert!(!looks_like_http_request(b"GETX /"));
    }

    #[test]
    fn random_bytes_never_panic() {
        let mut x: u32 = 0x1234_5678;
        for len in 0..400 {
            let mut buf = b"GET ".to_vec();
            for _ in 0..len {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                buf.push(x as u8);
            }
            let _ = scan_request(&buf);
            let _ = scan_request(&buf[4..]);
        }
    }

    #[test]
    fn shared_captures() {
        let cases = [
            (
                "zeek/http_get.pcap",
                80,
                "bro.org",
                "/download/CHANGES.bro-aux.txt",
            ),
            (
                "zeek/http_http-lower-case-nonstandard-port.pcap",
                1234,
                "146.190.62.39",
                "/index.html",
            ),
            (
                "zeek/tls_ocsp-http-get.pcap",
                80,
                "clients1.google.com",
                "/ocsp/MEkwRzBFMEMwQTAJBgUrDgMCGgUABBTy4Gr5hYodjXCbSRkjeqm1Gih%2BZAQUSt0GFhu89mi1dvWBtrtiGrpagS8CCD1HRJb%2FlCMW",
            ),
        ];
        for (file, port, host, target) in cases {
            let Some(pkts) = test_pcap::read(file) else {
                return;
            };
            let want = test_pcap::expected(file, "http_host");
            assert_eq!(want, vec![host.to_string()], "{file}");
            let streams = test_pcap::client_streams(&pkts, port);
            assert!(!streams.is_empty(), "{file}");
            let r = request(scan_request(&streams[0].1));
            assert_eq!(r.method, "GET");
            assert_eq!(r.host.as_deref(), Some(host), "{file}");
            assert_eq!(r.target, target);
            assert!(r.user_agent.is_some());
        }
        // A server's response, behind a VLAN tag: not a request.
        let Some(pkts) = test_pcap::read("tcpdump/ipv4_tcp_http_xml.pcap") else {
            return;
        };
        let streams = test_pcap::tcp_streams(&pkts, |_, _| true);
        assert_eq!(streams.len(), 1);
        assert!(streams[0].1.starts_with(b"HTTP/1.1 200 OK"));
        assert_eq!(scan_request(&streams[0].1), HttpScan::NotHttp);
    }
}
