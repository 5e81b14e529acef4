//! TCP and UDP headers (etherparse's `TcpSlice` / `UdpSlice`); any other protocol is
//! `Transport::Other`. Headers must be whole; a payload cut by the snapshot length is fine
//! and reported shorter than `payload_len`.

use etherparse::err::tcp;
use etherparse::{TcpSlice, UdpSlice};

use super::frame::Frame;
use super::{DecodeError, TcpInfo, Transport, tcp_flags};

const TCP: u8 = 6;
const UDP: u8 = 17;
const UDP_HEADER: usize = 8;

/// A transport header and the payload after it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Upper<'a> {
    pub transport: Transport,
    pub payload: &'a [u8],
    pub payload_len: u32,
}

fn to_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// Decodes the transport header of protocol `protocol` at the start of `seg`, whose `wire`
/// length is the transport length per the IP headers.
pub(crate) fn transport(protocol: u8, seg: Frame<'_>) -> Result<Upper<'_>, DecodeError> {
    match protocol {
        TCP => {
            let t = TcpSlice::from_slice(seg.data).map_err(|e| match e {
                tcp::HeaderSliceError::Len(l) => seg.short(l.required_len, "TCP header"),
                tcp::HeaderSliceError::Content(_) => {
                    DecodeError::Malformed("TCP header length below 20 bytes")
                }
            })?;
            let mut flags = 0u8;
            for (set, bit) in [
                (t.fin(), tcp_flags::FIN),
                (t.syn(), tcp_flags::SYN),
                (t.rst(), tcp_flags::RST),
                (t.psh(), tcp_flags::PSH),
                (t.ack(), tcp_flags::ACK),
                (t.urg(), tcp_flags::URG),
            ] {
                if set {
                    flags |= bit;
                }
            }
            Ok(Upper {
                transport: Transport::Tcp(TcpInfo {
                    src_port: t.source_port(),
                    dst_port: t.destination_port(),
                    seq: t.sequence_number(),
                    ack: t.acknowledgment_number(),
                    flags,
                }),
                payload: t.payload(),
                payload_len: to_u32(seg.wire.saturating_sub(t.header_slice().len())),
            })
        }
        UDP => {
            seg.need(UDP_HEADER, "UDP header")?;
            let u = UdpSlice::from_slice_lax(seg.data)
                .map_err(|_| DecodeError::Malformed("UDP header"))?;
            let len = usize::from(u.length());
            let payload_len = if len == 0 {
                // Jumbogram or GSO: the length field is left 0.
                seg.wire.saturating_sub(UDP_HEADER)
            } else if len < UDP_HEADER {
                return Err(DecodeError::Malformed("UDP length below 8 bytes"));
            } else if len > seg.wire {
                return Err(DecodeError::Malformed("UDP length exceeds the IP payload"));
            } else {
                len - UDP_HEADER
            };
            let payload = u.payload();
            let payload = payload
                .get(..payload.len().min(payload_len))
                .unwrap_or_default();
            Ok(Upper {
                transport: Transport::Udp {
                    src_port: u.source_port(),
                    dst_port: u.destination_port(),
                },
                payload,
                payload_len: to_u32(payload_len),
            })
        }
        _ => Ok(Upper {
            transport: Transport::Other { protocol },
            payload: seg.data,
            payload_len: to_u32(seg.wire),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use etherparse::TcpHeader;

    fn tcp_segment(payload: &[u8]) -> Vec<u8> {
        let mut h = TcpHeader::new(1234, 443, 1000, 64240);
        h.syn = true;
        h.ack = true;
        h.psh = true;
        h.acknowledgment_number = 99;
        let mut v = h.to_bytes().to_vec();
        v.extend(payload);
        v
    }

    #[test]
    fn tcp_header_flags_and_cut_payload() {
        let s = tcp_segment(b"0123456789");
        let u = transport(TCP, Frame::new(&s[..25], 30)).unwrap();
        assert_eq!(
            u.transport,
            Transport::Tcp(TcpInfo {
                src_port: 1234,
                dst_port: 443,
                seq: 1000,
                ack: 99,
                flags: tcp_flags::SYN | tcp_flags::ACK | tcp_flags::PSH,
            })
        );
        assert_eq!(u.payload, b"01234");
        assert_eq!(u.payload_len, 10);
    }

    #[test]
    fn tcp_header_failures() {
        let s = tcp_segment(b"");
        assert_eq!(
            transport(TCP, Frame::new(&s[..12], 40)).unwrap_err(),
            DecodeError::Truncated("TCP header")
        );
        assert_eq!(
            transport(TCP, Frame::new(&s[..12], 12)).unwrap_err(),
            DecodeError::Malformed("TCP header")
        );
        let mut bad = s.clone();
        bad[12] = 0x30; // data offset 3
        assert!(matches!(
            transport(TCP, Frame::new(&bad, bad.len())),
            Err(DecodeError::Malformed(_))
        ));
    }

    #[test]
    fn udp_lengths() {
        let mut d = vec![0x04, 0xd2, 0x00, 0x35, 0x00, 0x0d, 0, 0];
        d.extend(b"hello");
        d.extend([0, 0]); // trailing bytes past the UDP length
        let u = transport(UDP, Frame::new(&d, d.len())).unwrap();
        assert_eq!(
            u.transport,
            Transport::Udp {
                src_port: 1234,
                dst_port: 53
            }
        );
        assert_eq!(u.payload, b"hello");
        assert_eq!(u.payload_len, 5);
        // Cut by the snapshot length.
        let u = transport(UDP, Frame::new(&d[..10], 13)).unwrap();
        assert_eq!((u.payload, u.payload_len), (&b"he"[..], 5));
        // Length 0 (jumbogram / GSO): the IP payload's.
        let mut z = d.clone();
        z[5] = 0;
        let u = transport(UDP, Frame::new(&z, z.len())).unwrap();
        assert_eq!(u.payload_len, 7);
        // Lies.
        let mut lie = d.clone();
        lie[5] = 100;
        assert!(matches!(
            transport(UDP, Frame::new(&lie, lie.len())),
            Err(DecodeError::Malformed(_))
        ));
        lie[5] = 4;
        assert!(matches!(
            transport(UDP, Frame::new(&lie, lie.len())),
            Err(DecodeError::Malformed(_))
        ));
        assert_eq!(
            transport(UDP, Frame::new(&d[..5], 20)).unwrap_err(),
            DecodeError::Truncated("UDP header")
        );
    }

    #[test]
    fn other_protocols() {
        let u = transport(1, Frame::new(&[8, 0, 1, 2], 64)).unwrap();
        assert_eq!(u.transport, Transport::Other { protocol: 1 });
        assert_eq!((u.payload.len(), u.payload_len), (4, 64));
    }
}
