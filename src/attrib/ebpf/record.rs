//! The record the eBPF program writes into its ring buffer, and its reading into a [`SocketEvent`].
//!
//! The layout is `struct socket_event` of `socket_events.bpf.c`, whose static assertions hold the
//! same offsets as the constants here. Numbers are in the machine's byte order (the program and
//! this reader run on the same kernel); ports are in host order, addresses as on the wire.
//!
//! Reading is a pure function of the bytes: a record of the wrong size, or with a kind, family or
//! protocol the program never writes, is an error the caller counts, never a panic.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use super::{EventKind, SocketEvent};

/// The size of one record.
pub const RECORD_SIZE: usize = 368;

// struct socket_event
const KIND: usize = 0;
const SOCK: usize = 8;
const PROC: usize = 56;
// struct sock_info, from SOCK
const NETNS: usize = SOCK;
const FAMILY: usize = SOCK + 8;
const PROTOCOL: usize = SOCK + 10;
const LPORT: usize = SOCK + 12;
const RPORT: usize = SOCK + 14;
const LADDR: usize = SOCK + 16;
const RADDR: usize = SOCK + 32;
// struct proc_info, from PROC
const SEEN_NS: usize = PROC;
const CGROUP_ID: usize = PROC + 8;
const START_BOOTTIME: usize = PROC + 16;
const TGID: usize = PROC + 24;
const TID: usize = PROC + 28;
const UID: usize = PROC + 32;
const COMM: usize = PROC + 40;
const COMM_LEN: usize = 16;
const EXE: usize = PROC + 56;
const EXE_LEN: usize = 256;

const KIND_CONNECT: u32 = 1;
const KIND_FIRST_SEND: u32 = 2;
const AF_INET: u16 = 2;
const AF_INET6: u16 = 10;
const IPPROTO_TCP: u16 = 6;
const IPPROTO_UDP: u16 = 17;

/// The indexes of the program's `counters` map.
pub const COUNTER_RING_FULL: u32 = 0;
pub const COUNTER_CONNECT_UNSEEN: u32 = 1;

/// Why a record could not be read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RecordError {
    /// Not [`RECORD_SIZE`] bytes: the program and this reader disagree.
    Size(usize),
    Kind(u32),
    Family(u16),
    Protocol(u16),
}

/// Reads one record.
pub fn parse(bytes: &[u8]) -> Result<SocketEvent, RecordError> {
    if bytes.len() != RECORD_SIZE {
        return Err(RecordError::Size(bytes.len()));
    }
    let r = Reader(bytes);
    let kind = match r.u32(KIND) {
        KIND_CONNECT => EventKind::Connect,
        KIND_FIRST_SEND => EventKind::FirstSend,
        other => return Err(RecordError::Kind(other)),
    };
    let tcp = match r.u16(PROTOCOL) {
        IPPROTO_TCP => true,
        IPPROTO_UDP => false,
        other => return Err(RecordError::Protocol(other)),
    };
    let family = r.u16(FAMILY);
    let (local_ip, remote_ip) = match family {
        AF_INET => (
            IpAddr::V4(Ipv4Addr::from(r.array::<4>(LADDR))),
            IpAddr::V4(Ipv4Addr::from(r.array::<4>(RADDR))),
        ),
        AF_INET6 => unmap(
            Ipv6Addr::from(r.array::<16>(LADDR)),
            Ipv6Addr::from(r.array::<16>(RADDR)),
        ),
        other => return Err(RecordError::Family(other)),
    };
    let remote_port = r.u16(RPORT);
    // A socket that is not connected has no peer: the kernel keeps port 0 (and, for UDP, the
    // wildcard address) until connect().
    let remote = (remote_port != 0).then_some(SocketAddr::new(remote_ip, remote_port));
    let exe = text(r.slice(EXE, EXE_LEN));
    Ok(SocketEvent {
        at_mono_ns: r.u64(SEEN_NS),
        kind,
        netns: r.u64(NETNS),
        tcp,
        local: SocketAddr::new(local_ip, r.u16(LPORT)),
        remote,
        pid: r.u32(TGID),
        tid: r.u32(TID),
        uid: r.u32(UID),
        cgroup_id: r.u64(CGROUP_ID),
        comm: text(r.slice(COMM, COMM_LEN)),
        exe_name: (!exe.is_empty()).then_some(exe),
        start_boottime_ns: r.u64(START_BOOTTIME),
    })
}

/// An IPv6 socket talking to an IPv4 peer (a dual-stack socket) holds both addresses as
/// IPv4-mapped IPv6 ones (`::ffff:a.b.c.d`), but its packets are IPv4, and a captured flow has
/// IPv4 endpoints: such addresses are given as IPv4. A wildcard local address goes with them.
fn unmap(local: Ipv6Addr, remote: Ipv6Addr) -> (IpAddr, IpAddr) {
    match (local.to_ipv4_mapped(), remote.to_ipv4_mapped()) {
        (Some(l), Some(r)) => (IpAddr::V4(l), IpAddr::V4(r)),
        (None, Some(r)) if local.is_unspecified() => {
            (IpAddr::V4(Ipv4Addr::UNSPECIFIED), IpAddr::V4(r))
        }
        (Some(l), None) if remote.is_unspecified() => {
            (IpAddr::V4(l), IpAddr::V4(Ipv4Addr::UNSPECIFIED))
        }
        _ => (IpAddr::V6(local), IpAddr::V6(remote)),
    }
}

/// A NUL-terminated kernel string, lossy UTF-8.
fn text(bytes: &[u8]) -> String {
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    String::from_utf8_lossy(bytes.get(..end).unwrap_or_default()).into_owned()
}

/// Fixed-offset reads from a record already checked to be [`RECORD_SIZE`] bytes; an offset past
/// the end (a bug here, not bad input) reads zeros rather than panicking.
struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn slice(&self, at: usize, len: usize) -> &[u8] {
        self.0.get(at..at.saturating_add(len)).unwrap_or_default()
    }

    fn array<const N: usize>(&self, at: usize) -> [u8; N] {
        self.slice(at, N).try_into().unwrap_or([0; N])
    }

    fn u16(&self, at: usize) -> u16 {
        u16::from_ne_bytes(self.array(at))
    }

    fn u32(&self, at: usize) -> u32 {
        u32::from_ne_bytes(self.array(at))
    }

    fn u64(&self, at: usize) -> u64 {
        u64::from_ne_bytes(self.array(at))
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A record as the program writes it.
    pub(crate) struct Record(pub Vec<u8>);

    impl Record {
        pub(crate) fn new(kind: u32, family: u16, protocol: u16) -> Record {
            let mut r = Record(vec![0; RECORD_SIZE]);
            r.put(KIND, &kind.to_ne_bytes());
            r.put(FAMILY, &family.to_ne_bytes());
            r.put(PROTOCOL, &protocol.to_ne_bytes());
            r
        }

        pub(crate) fn put(&mut self, at: usize, bytes: &[u8]) -> &mut Record {
            self.0[at..at + bytes.len()].copy_from_slice(bytes);
            self
        }
    }

    fn connect_v4() -> Record {
        let mut r = Record::new(KIND_CONNECT, AF_INET, IPPROTO_TCP);
        r.put(NETNS, &4026531840u64.to_ne_bytes())
            .put(LPORT, &40512u16.to_ne_bytes())
            .put(RPORT, &443u16.to_ne_bytes())
            .put(LADDR, &[192, 168, 1, 10])
            .put(RADDR, &[93, 184, 216, 34])
            .put(SEEN_NS, &123_456_789u64.to_ne_bytes())
            .put(CGROUP_ID, &4242u64.to_ne_bytes())
            .put(START_BOOTTIME, &9_870_000_000u64.to_ne_bytes())
            .put(TGID, &1234u32.to_ne_bytes())
            .put(TID, &1240u32.to_ne_bytes())
            .put(UID, &997u32.to_ne_bytes())
            .put(COMM, b"Plex Media Serv")
            .put(EXE, b"Plex Media Server\0stale bytes after the NUL");
        r
    }

    #[test]
    fn reads_a_connect() {
        let e = parse(&connect_v4().0).unwrap();
        assert_eq!(
            e,
            SocketEvent {
                at_mono_ns: 123_456_789,
                kind: EventKind::Connect,
                netns: 4026531840,
                tcp: true,
                local: "192.168.1.10:40512".parse().unwrap(),
                remote: Some("93.184.216.34:443".parse().unwrap()),
                pid: 1234,
                tid: 1240,
                uid: 997,
                cgroup_id: 4242,
                comm: "Plex Media Serv".into(),
                exe_name: Some("Plex Media Server".into()),
                start_boottime_ns: 9_870_000_000,
            }
        );
    }

    #[test]
    fn an_unconnected_udp_socket_has_no_remote_and_may_have_no_exe() {
        let mut r = Record::new(KIND_FIRST_SEND, AF_INET, IPPROTO_UDP);
        r.put(LPORT, &5353u16.to_ne_bytes())
            .put(COMM, b"avahi-daemon\0");
        let e = parse(&r.0).unwrap();
        assert_eq!(e.kind, EventKind::FirstSend);
        assert!(!e.tcp);
        assert_eq!(e.local, "0.0.0.0:5353".parse().unwrap());
        assert_eq!(e.remote, None);
        assert_eq!(e.comm, "avahi-daemon");
        assert_eq!(e.exe_name, None);
    }

    #[test]
    fn reads_ipv6_and_gives_mapped_addresses_as_ipv4() {
        let v6 = |s: &str| s.parse::<Ipv6Addr>().unwrap().octets();
        let mut r = Record::new(KIND_CONNECT, AF_INET6, IPPROTO_TCP);
        r.put(LADDR, &v6("2001:db8::10"))
            .put(RADDR, &v6("2606:4700::1"))
            .put(LPORT, &50000u16.to_ne_bytes())
            .put(RPORT, &443u16.to_ne_bytes());
        let e = parse(&r.0).unwrap();
        assert_eq!(e.local, "[2001:db8::10]:50000".parse().unwrap());
        assert_eq!(e.remote, Some("[2606:4700::1]:443".parse().unwrap()));

        // A dual-stack socket talking IPv4.
        r.put(LADDR, &v6("::ffff:192.168.1.10"))
            .put(RADDR, &v6("::ffff:1.1.1.1"));
        let e = parse(&r.0).unwrap();
        assert_eq!(e.local, "192.168.1.10:50000".parse().unwrap());
        assert_eq!(e.remote, Some("1.1.1.1:443".parse().unwrap()));

        // Bound to the wildcard, sending to an IPv4 peer.
        r.put(LADDR, &[0; 16]);
        let e = parse(&r.0).unwrap();
        assert_eq!(e.local, "0.0.0.0:50000".parse().unwrap());
        assert_eq!(e.remote, Some("1.1.1.1:443".parse().unwrap()));

        // Bound to the wildcard, not connected: stays IPv6.
        r.put(RADDR, &[0; 16]).put(RPORT, &0u16.to_ne_bytes());
        let e = parse(&r.0).unwrap();
        assert_eq!(e.local, "[::]:50000".parse().unwrap());
        assert_eq!(e.remote, None);
    }

    #[test]
    fn names_are_lossy_and_stop_at_the_first_nul() {
        let mut r = connect_v4();
        r.put(COMM, b"caf\xc3\xa9\xff\0zz\0\0\0\0\0\0\0")
            .put(EXE, &[b'x'; EXE_LEN]);
        let e = parse(&r.0).unwrap();
        assert_eq!(e.comm, "café\u{fffd}");
        // No NUL at all (never written so): the whole field.
        assert_eq!(e.exe_name.unwrap().len(), EXE_LEN);
    }

    #[test]
    fn bad_records_are_errors_not_panics() {
        assert_eq!(parse(&[]), Err(RecordError::Size(0)));
        assert_eq!(
            parse(&[0; RECORD_SIZE - 1]),
            Err(RecordError::Size(RECORD_SIZE - 1))
        );
        assert_eq!(
            parse(&[0; RECORD_SIZE + 8]),
            Err(RecordError::Size(RECORD_SIZE + 8))
        );
        assert_eq!(parse(&[0; RECORD_SIZE]), Err(RecordError::Kind(0)));
        let r = Record::new(KIND_CONNECT, 1, IPPROTO_TCP);
        assert_eq!(parse(&r.0), Err(RecordError::Family(1)));
        let r = Record::new(KIND_FIRST_SEND, AF_INET, 1);
        assert_eq!(parse(&r.0), Err(RecordError::Protocol(1)));
        let r = Record::new(3, AF_INET, IPPROTO_UDP);
        assert_eq!(parse(&r.0), Err(RecordError::Kind(3)));
    }

    #[test]
    fn any_bytes_of_the_right_size_read_or_fail_without_panicking() {
        // A cheap sweep: every single-byte value at every offset of a valid record.
        let base = connect_v4().0;
        for at in 0..RECORD_SIZE {
            for b in [0u8, 1, 0x7f, 0x80, 0xff] {
                let mut bytes = base.clone();
                bytes[at] = b;
                let _ = parse(&bytes);
            }
        }
    }
}
