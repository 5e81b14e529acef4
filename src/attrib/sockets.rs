//! The kernel's socket tables: /proc/net/tcp, tcp6, udp and udp6, one socket a line.
//!
//! Each line gives the local and remote address (hex, each 32-bit word in host byte order, the port as a
//! plain big-endian hex number), the state, the owner's uid and the socket's inode. The inode is what
//! links a socket to the processes holding it (see `fds`). A line that does not parse is skipped and
//! counted by the caller; nothing here fails.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// TCP state `0A`: the socket listens for connections.
pub const TCP_LISTEN: u8 = 0x0A;

/// One line of a socket table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SocketEntry {
    /// The local address and port, with an IPv4-mapped IPv6 address turned into IPv4.
    pub local: SocketAddr,
    /// The remote address and port; the unspecified address and port 0 when not connected.
    pub remote: SocketAddr,
    /// The kernel's state number (TCP states; UDP shows 01 when connected, 07 otherwise).
    pub state: u8,
    /// The socket owner's uid.
    pub uid: u32,
    /// The socket's inode; 0 when no file holds it any more (TIME_WAIT, orphans).
    pub inode: u64,
}

impl SocketEntry {
    /// Whether the socket has a remote end (a connected TCP or UDP socket).
    pub fn connected(&self) -> bool {
        self.remote.port() != 0 || !self.remote.ip().is_unspecified()
    }
}

/// The table files for one transport: tcp and tcp6, or udp and udp6.
pub fn table_names(tcp: bool) -> [&'static str; 2] {
    if tcp {
        ["tcp", "tcp6"]
    } else {
        ["udp", "udp6"]
    }
}

/// Parses every data line of a table's text (the header line is not data). Returns the entries and the
/// number of other lines that could not be read.
pub fn parse_table(text: &str) -> (Vec<SocketEntry>, u64) {
    let mut entries = Vec::new();
    let mut odd = 0;
    for line in text.lines().skip(1) {
        if line.trim().is_empty() {
            continue;
        }
        match parse_line(line) {
            Some(entry) => entries.push(entry),
            None => odd += 1,
        }
    }
    (entries, odd)
}

/// Parses one data line: `sl: local remote st tx:rx tr:when retrnsmt uid timeout inode ...`.
pub fn parse_line(line: &str) -> Option<SocketEntry> {
    let mut cols = line.split_whitespace();
    let slot = cols.next()?;
    if !slot.ends_with(':') {
        return None;
    }
    let local = parse_endpoint(cols.next()?)?;
    let remote = parse_endpoint(cols.next()?)?;
    let state = u8::from_str_radix(cols.next()?, 16).ok()?;
    let uid = cols.nth(3)?.parse().ok()?;
    let inode = cols.nth(1)?.parse().ok()?;
    Some(SocketEntry {
        local,
        remote,
        state,
        uid,
        inode,
    })
}

/// Parses `ADDR:PORT`: 8 hex digits for IPv4, 32 for IPv6, then 4 for the port.
pub fn parse_endpoint(text: &str) -> Option<SocketAddr> {
    let (addr, port) = text.split_once(':')?;
    if port.len() != 4 || !port.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let port = u16::from_str_radix(port, 16).ok()?;
    let ip = match addr.len() {
        8 => IpAddr::V4(Ipv4Addr::from(host_word(addr)?.to_ne_bytes())),
        32 => {
            let mut octets = [0u8; 16];
            for (i, chunk) in octets.chunks_exact_mut(4).enumerate() {
                let word = addr.get(i * 8..i * 8 + 8)?;
                chunk.copy_from_slice(&host_word(word)?.to_ne_bytes());
            }
            IpAddr::V6(Ipv6Addr::from(octets))
        }
        _ => return None,
    };
    Some(SocketAddr::new(ip.to_canonical(), port))
}

/// One 32-bit word as the kernel printed it (`%08X` of the word as it sits in memory).
fn host_word(hex: &str) -> Option<u32> {
    if hex.len() != 8 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u32::from_str_radix(hex, 16).ok()
}

/// Whether a socket bound to `bound` receives traffic for the local address `local`: the same address,
/// or a wildcard (`0.0.0.0` for IPv4; `::` for both, as a dual-stack socket).
pub fn address_covers(bound: IpAddr, local: IpAddr) -> bool {
    let local = local.to_canonical();
    match bound.to_canonical() {
        IpAddr::V4(b) if b.is_unspecified() => local.is_ipv4(),
        IpAddr::V6(b) if b.is_unspecified() => true,
        b => b == local,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The tables' hex addresses are in host byte order; these lines are what a little-endian
    // machine (x86, ARM) prints.
    #[cfg(target_endian = "little")]
    #[test]
    fn reads_ipv4_tcp_lines() {
        let text = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n\
           0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 12345 1 0000000000000000 100 0 0 10 0\n\
           1: 0A01A8C0:7D90 2E1A0D68:01BB 01 00000000:00000000 02:000A7D5E 00000000   997        0 67890 1 0000000000000000 20 4 30 10 -1\n\
           2: 0100007F:1F90 0100007F:D0D2 06 00000000:00000000 03:00001517 00000000     0        0 0 3 0000000000000000\n";
        let (entries, odd) = parse_table(text);
        assert_eq!(odd, 0);
        assert_eq!(entries.len(), 3);
        let listen = entries[0];
        assert_eq!(listen.local, "127.0.0.1:8080".parse().unwrap());
        assert_eq!(listen.remote, "0.0.0.0:0".parse().unwrap());
        assert_eq!(listen.state, TCP_LISTEN);
        assert_eq!(listen.uid, 1000);
        assert_eq!(listen.inode, 12345);
        assert!(!listen.connected());
        let established = entries[1];
        assert_eq!(established.local, "192.168.1.10:32144".parse().unwrap());
        assert_eq!(established.remote, "104.13.26.46:443".parse().unwrap());
        assert_eq!(established.state, 1);
        assert_eq!(established.uid, 997);
        assert_eq!(established.inode, 67890);
        assert!(established.connected());
        // TIME_WAIT: no inode.
        assert_eq!(entries[2].state, 6);
        assert_eq!(entries[2].inode, 0);
    }

    #[cfg(target_endian = "little")]
    #[test]
    fn reads_ipv6_lines_and_unmaps_ipv4() {
        let text = "  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n\
           0: 00000000000000000000000000000000:7D90 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000   997        0 1111 1 0000000000000000 100 0 0 10 0\n\
           1: B80D0120000000000000000001000000:01BB 004806260000000000000000F1A7B8C0:C350 01 00000000:00000000 00:00000000 00000000     0        0 2222 1 0000000000000000 20 4 0 10 -1\n\
           2: 0000000000000000FFFF00000A01A8C0:7D90 0000000000000000FFFF00000201A8C0:D431 01 00000000:00000000 00:00000000 00000000   997        0 3333 1 0000000000000000 20 4 0 10 -1\n";
        let (entries, odd) = parse_table(text);
        assert_eq!(odd, 0);
        assert_eq!(entries[0].local, "[::]:32144".parse().unwrap());
        assert_eq!(entries[0].state, TCP_LISTEN);
        assert_eq!(entries[1].local, "[2001:db8::1]:443".parse().unwrap());
        assert_eq!(
            entries[1].remote,
            "[2606:4800::c0b8:a7f1]:50000".parse().unwrap()
        );
        assert_eq!(entries[1].inode, 2222);
        // An IPv4 connection on a dual-stack socket is shown IPv4-mapped; it reads as plain IPv4.
        assert_eq!(entries[2].local, "192.168.1.10:32144".parse().unwrap());
        assert_eq!(entries[2].remote, "192.168.1.2:54321".parse().unwrap());
    }

    #[cfg(target_endian = "little")]
    #[test]
    fn reads_udp_lines() {
        let text = "   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops\n\
          5183: 00000000:7E0E 00000000:0000 07 00000000:00000000 00:00000000 00000000   997        0 44444 2 0000000000000000 0\n\
          6226: 0100007F:90D9 0100007F:0035 01 00000000:00000000 00:00000000 00000000     0        0 55555 2 0000000000000000 0\n";
        let (entries, odd) = parse_table(text);
        assert_eq!(odd, 0);
        assert_eq!(entries[0].local, "0.0.0.0:32270".parse().unwrap());
        assert!(!entries[0].connected());
        assert_eq!(entries[0].inode, 44444);
        assert_eq!(entries[1].local, "127.0.0.1:37081".parse().unwrap());
        assert_eq!(entries[1].remote, "127.0.0.1:53".parse().unwrap());
        assert!(entries[1].connected());
    }

    #[test]
    fn skips_odd_lines() {
        let text = "header\n\
           0: 0100007F:1F90\n\
           1: 0100007:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000 0 0 1\n\
           2: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000 x 0 1\n\
           3: 0100007F:1F90 00000000:0000 ZZ 00000000:00000000 00:00000000 00000000 0 0 1\n\
           4: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000 0 0 -1\n\
           5 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000 0 0 1\n\
           6: 0100007F:1F9 00000000:0000 0A 00000000:00000000 00:00000000 00000000 0 0 1\n\
           7: 0100007F:+F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000 0 0 1\n\
           8: +100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000 0 0 1\n\
           \u{e9}\u{e9}: \u{e9}\u{e9}\u{e9}\u{e9}:1F90\n\
           \n\
           9: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000 0 0 77\n";
        let (entries, odd) = parse_table(text);
        assert_eq!(odd, 10);
        assert_eq!(entries.len(), 1);
        assert_eq!(entries[0].inode, 77);
        assert_eq!(parse_table(""), (vec![], 0));
        assert_eq!(
            parse_endpoint("0000000000000000000000000000000\u{e9}:0000"),
            None
        );
    }

    #[test]
    fn wildcards_cover_their_family() {
        let v4: IpAddr = "192.168.1.10".parse().unwrap();
        let v6: IpAddr = "2001:db8::1".parse().unwrap();
        let any4: IpAddr = "0.0.0.0".parse().unwrap();
        let any6: IpAddr = "::".parse().unwrap();
        assert!(address_covers(v4, v4));
        assert!(!address_covers("192.168.1.11".parse().unwrap(), v4));
        assert!(address_covers(any4, v4));
        assert!(!address_covers(any4, v6));
        assert!(address_covers(any6, v4));
        assert!(address_covers(any6, v6));
        assert!(address_covers("::ffff:192.168.1.10".parse().unwrap(), v4));
    }
}
