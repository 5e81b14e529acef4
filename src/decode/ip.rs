//! IPv4 and IPv6, with IPv6 extension headers and the IP authentication header, parsed with
//! etherparse's lax slices; this file decides lengths and classifies failures. The IP length
//! comes from the header, except for TSO / BIG TCP / GSO super-packets (IPv4 total length 0,
//! IPv6 payload length 0 without a jumbo option), whose length is the packet's own.

use std::net::IpAddr;

use etherparse::err::{ip_auth, ipv4, ipv6, ipv6_exts};
use etherparse::{
    IpAuthHeaderSlice, IpFragOffset, IpNumber, Ipv6ExtensionSlice, Ipv6ExtensionsSlice,
    LaxIpv4Slice, LaxIpv6Slice,
};

use super::DecodeError;
use super::frame::Frame;
use super::network::{IpVersion, Network};

const IPV6_HEADER: usize = 40;
const JUMBO_OPTION: u8 = 0xC2;

/// Where a fragment sits in its datagram.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Fragment {
    pub id: u32,
    pub offset: IpFragOffset,
    pub more: bool,
}

/// An IP header, decoded.
#[derive(Clone, Copy, Debug)]
pub(crate) struct IpLayer<'a> {
    pub src: IpAddr,
    pub dst: IpAddr,
    pub v6: bool,
    /// The IP packet's length on the wire, headers included.
    pub ip_len: u32,
    /// The upper-layer protocol (for a fragment, of the fragmented data).
    pub protocol: u8,
    /// The transport bytes; for a fragment, the fragment's data.
    pub payload: Frame<'a>,
    pub fragment: Option<Fragment>,
}

fn to_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// Decodes the IP header(s) of `net`.
pub(crate) fn parse(net: Network<'_>) -> Result<IpLayer<'_>, DecodeError> {
    let frame = net.frame;
    let version = frame.u8_at(0, "IP header")? >> 4;
    match (net.version, version) {
        (IpVersion::V4 | IpVersion::Any, 4) => ipv4(frame, net.outer_len),
        (IpVersion::V6 | IpVersion::Any, 6) => ipv6(frame, net.outer_len),
        (IpVersion::V4, _) => Err(DecodeError::Malformed(
            "a packet announced as IPv4 has another IP version",
        )),
        (IpVersion::V6, _) => Err(DecodeError::Malformed(
            "a packet announced as IPv6 has another IP version",
        )),
        (IpVersion::Any, _) => Err(DecodeError::Malformed(
            "an IP version that is neither 4 nor 6",
        )),
    }
}

/// The bytes of the IP packet: `ip_len` from its header, or less when an outer header
/// (PPPoE) bounds it more tightly (never below the IP header itself).
fn bounded(frame: Frame<'_>, ip_len: usize, hlen: usize, outer_len: Option<usize>) -> Frame<'_> {
    let len = match outer_len {
        Some(outer) if outer < ip_len => outer.max(hlen),
        _ => ip_len,
    };
    frame.limit(len)
}

/// The common IPv4 packet on a short path: a 20-byte header with no options, not a
/// fragment, no authentication header, a sound total length. Anything else is `None`, and
/// goes the general way.
fn plain_ipv4(frame: Frame<'_>, outer_len: Option<usize>) -> Option<IpLayer<'_>> {
    let h: &[u8; 20] = frame.data.get(..20)?.try_into().ok()?;
    let [version_ihl, _, t0, t1, _, _, f0, f1, _, protocol, ..] = *h;
    let total = usize::from(u16::from_be_bytes([t0, t1]));
    let fragmenting = u16::from_be_bytes([f0, f1]) & 0x3fff != 0;
    if version_ihl != 0x45 || total < 20 || total > frame.wire || fragmenting || protocol == 51 {
        return None;
    }
    let src: [u8; 4] = h.get(12..16)?.try_into().ok()?;
    let dst: [u8; 4] = h.get(16..20)?.try_into().ok()?;
    let ip = bounded(frame, total, 20, outer_len);
    Some(IpLayer {
        src: IpAddr::from(src),
        dst: IpAddr::from(dst),
        v6: false,
        ip_len: to_u32(total),
        protocol,
        payload: ip.skip(20, "IPv4 header").ok()?,
        fragment: None,
    })
}

/// The common IPv6 packet on a short path: TCP or UDP straight after the fixed header, a
/// payload length that is neither 0 (jumbo, BIG TCP) nor beyond the packet. Anything else
/// is `None`, and goes the general way.
fn plain_ipv6(frame: Frame<'_>, outer_len: Option<usize>) -> Option<IpLayer<'_>> {
    let h: &[u8; IPV6_HEADER] = frame.data.get(..IPV6_HEADER)?.try_into().ok()?;
    let [version, _, _, _, p0, p1, next, ..] = *h;
    let len = IPV6_HEADER + usize::from(u16::from_be_bytes([p0, p1]));
    if version >> 4 != 6 || !matches!(next, 6 | 17) || len == IPV6_HEADER || len > frame.wire {
        return None;
    }
    let src: [u8; 16] = h.get(8..24)?.try_into().ok()?;
    let dst: [u8; 16] = h.get(24..40)?.try_into().ok()?;
    let ip = bounded(frame, len, IPV6_HEADER, outer_len);
    Some(IpLayer {
        src: IpAddr::from(src),
        dst: IpAddr::from(dst),
        v6: true,
        ip_len: to_u32(len),
        protocol: next,
        payload: ip.skip(IPV6_HEADER, "IPv6 header").ok()?,
        fragment: None,
    })
}

fn ipv4(frame: Frame<'_>, outer_len: Option<usize>) -> Result<IpLayer<'_>, DecodeError> {
    match plain_ipv4(frame, outer_len) {
        Some(layer) => Ok(layer),
        None => any_ipv4(frame, outer_len),
    }
}

fn ipv6(frame: Frame<'_>, outer_len: Option<usize>) -> Result<IpLayer<'_>, DecodeError> {
    match plain_ipv6(frame, outer_len) {
        Some(layer) => Ok(layer),
        None => any_ipv6(frame, outer_len),
    }
}

/// Any IPv4 packet, every case considered.
fn any_ipv4(frame: Frame<'_>, outer_len: Option<usize>) -> Result<IpLayer<'_>, DecodeError> {
    let (slice, auth_err) = LaxIpv4Slice::from_slice(frame.data).map_err(|e| match e {
        ipv4::HeaderSliceError::Len(l) => frame.short(
            l.layer_start_offset.saturating_add(l.required_len),
            "IPv4 header",
        ),
        ipv4::HeaderSliceError::Content(_) => {
            DecodeError::Malformed("IPv4 header length below 20 bytes")
        }
    })?;
    let h = slice.header();
    let hlen = h.slice().len();
    let total = usize::from(h.total_len());
    let ip_len = if total == 0 {
        // TSO / BIG TCP: the length field is left 0; the packet is as long as it is.
        frame.wire
    } else if total < hlen {
        return Err(DecodeError::Malformed(
            "IPv4 total length shorter than its header",
        ));
    } else if total > frame.wire {
        return Err(DecodeError::Malformed(
            "IPv4 total length exceeds the packet",
        ));
    } else {
        total
    };
    let ip = bounded(frame, ip_len, hlen, outer_len);
    let mut layer = IpLayer {
        src: IpAddr::V4(h.source_addr()),
        dst: IpAddr::V4(h.destination_addr()),
        v6: false,
        ip_len: to_u32(ip_len),
        protocol: h.protocol().0,
        payload: ip.skip(hlen, "IPv4 header")?,
        fragment: None,
    };
    if h.is_fragmenting_payload() {
        // An authentication header would be inside the fragmented data: nothing more to
        // read until the datagram is whole.
        layer.fragment = Some(Fragment {
            id: u32::from(h.identification()),
            offset: h.fragments_offset(),
            more: h.more_fragments(),
        });
        return Ok(layer);
    }
    if let Some(e) = auth_err {
        return Err(match e {
            ip_auth::HeaderSliceError::Len(l) => ip.short(
                l.layer_start_offset.saturating_add(l.required_len),
                "IP authentication header",
            ),
            ip_auth::HeaderSliceError::Content(_) => {
                DecodeError::Malformed("IP authentication header")
            }
        });
    }
    if let Some(auth) = slice.extensions().auth {
        layer.payload = layer
            .payload
            .skip(auth.slice().len(), "IP authentication header")?;
    }
    layer.protocol = slice.payload().ip_number.0;
    Ok(layer)
}

fn ext_len(ext: &Ipv6ExtensionSlice<'_>) -> usize {
    match ext {
        Ipv6ExtensionSlice::HopByHop(s)
        | Ipv6ExtensionSlice::Routing(s)
        | Ipv6ExtensionSlice::DestinationOptions(s) => s.slice().len(),
        Ipv6ExtensionSlice::Fragment(f) => f.slice().len(),
        Ipv6ExtensionSlice::Authentication(a) => a.slice().len(),
    }
}

/// IPv6 extension headers read before a packet is refused as malformed.
const MAX_IPV6_EXTENSIONS: usize = 8;

/// The extension headers of `exts`, stopping at the end of the bytes etherparse validated.
///
/// etherparse 0.21's own iterator keeps going after the last validated header when lax
/// parsing stopped on an error (say a second hop-by-hop header), and then reads an empty
/// slice unchecked. Counting the bytes walked and stopping at the end avoids ever asking it
/// for that next item.
fn validated_exts<'a>(
    exts: &Ipv6ExtensionsSlice<'a>,
) -> impl Iterator<Item = Ipv6ExtensionSlice<'a>> {
    let total = exts.slice().len();
    let mut iter = exts.clone().into_iter();
    let mut walked = 0usize;
    std::iter::from_fn(move || {
        if walked >= total {
            return None;
        }
        let ext = iter.next()?;
        walked = walked.saturating_add(ext_len(&ext).max(1));
        Some(ext)
    })
}

/// The jumbo payload length (RFC 2675) in a hop-by-hop header, if there is one.
fn jumbo_len(exts: &Ipv6ExtensionsSlice<'_>) -> Option<usize> {
    let Some(Ipv6ExtensionSlice::HopByHop(hbh)) = validated_exts(exts).next() else {
        return None;
    };
    let opts = hbh.payload();
    let mut at = 0usize;
    while let Some(&kind) = opts.get(at) {
        if kind == 0 {
            at += 1; // Pad1
            continue;
        }
        let len = usize::from(*opts.get(at.checked_add(1)?)?);
        let value = opts.get(at.checked_add(2)?..at.checked_add(2)?.checked_add(len)?)?;
        if kind == JUMBO_OPTION {
            let b = <[u8; 4]>::try_from(value).ok()?;
            return usize::try_from(u32::from_be_bytes(b)).ok();
        }
        at = at.checked_add(2)?.checked_add(len)?;
    }
    None
}

/// Any IPv6 packet, every case considered.
fn any_ipv6(frame: Frame<'_>, outer_len: Option<usize>) -> Result<IpLayer<'_>, DecodeError> {
    let (slice, ext_err) = LaxIpv6Slice::from_slice(frame.data).map_err(|e| match e {
        ipv6::HeaderSliceError::Len(_) => frame.short(IPV6_HEADER, "IPv6 header"),
        ipv6::HeaderSliceError::Content(_) => {
            DecodeError::Malformed("an IP version that is neither 4 nor 6")
        }
    })?;
    let h = slice.header();
    let plen = usize::from(h.payload_length());
    let ip_len = if plen == 0 {
        if let Some(jumbo) = jumbo_len(slice.extensions()) {
            let len = IPV6_HEADER.saturating_add(jumbo);
            if len > frame.wire {
                return Err(DecodeError::Malformed(
                    "IPv6 jumbo payload length exceeds the packet",
                ));
            }
            len
        } else if h.next_header() == IpNumber::IPV6_NO_NEXT_HEADER {
            IPV6_HEADER
        } else {
            // BIG TCP / GSO: the length field is left 0.
            frame.wire
        }
    } else {
        let len = IPV6_HEADER + plen;
        if len > frame.wire {
            return Err(DecodeError::Malformed(
                "IPv6 payload length exceeds the packet",
            ));
        }
        len
    };
    let ip = bounded(frame, ip_len, IPV6_HEADER, outer_len);
    let mut layer = IpLayer {
        src: IpAddr::V6(h.source_addr()),
        dst: IpAddr::V6(h.destination_addr()),
        v6: true,
        ip_len: to_u32(ip_len),
        protocol: slice.payload().ip_number.0,
        payload: ip,
        fragment: None,
    };
    // Find a fragment header: what follows it is fragment data, not more headers.
    let mut offset = IPV6_HEADER;
    for (n, ext) in validated_exts(slice.extensions()).enumerate() {
        // RFC 8200 orders six kinds, the destination options at most twice: a longer chain
        // is an evasion attempt or garbage, not traffic
        if n >= MAX_IPV6_EXTENSIONS {
            return Err(DecodeError::Malformed("more than 8 IPv6 extension headers"));
        }
        let len = ext_len(&ext);
        if let Ipv6ExtensionSlice::Fragment(f) = ext
            && f.is_fragmenting_payload()
        {
            layer.fragment = Some(Fragment {
                id: f.identification(),
                offset: f.fragment_offset(),
                more: f.more_fragments(),
            });
            layer.protocol = f.next_header().0;
            layer.payload = ip.skip(offset.saturating_add(len), "IPv6 fragment header")?;
            return Ok(layer);
        }
        offset = offset.saturating_add(len);
    }
    if let Some((e, _)) = ext_err {
        return Err(match e {
            ipv6_exts::HeaderSliceError::Len(l) => ip.short(
                l.layer_start_offset.saturating_add(l.required_len),
                "IPv6 extension header",
            ),
            ipv6_exts::HeaderSliceError::Content(_) => {
                DecodeError::Malformed("IPv6 extension headers out of order")
            }
        });
    }
    layer.payload = ip.skip(offset, "IPv6 extension header")?;
    Ok(layer)
}

/// For a reassembled datagram: skips the headers at the start of the fragmented data
/// (IPv6 extension headers, an authentication header) and returns the transport protocol
/// and bytes.
pub(crate) fn upper_layer(
    v6: bool,
    protocol: u8,
    data: &[u8],
) -> Result<(u8, Frame<'_>), DecodeError> {
    let whole = Frame::new(data, data.len());
    if v6 {
        let (exts, next, rest, err) = Ipv6ExtensionsSlice::from_slice_lax(IpNumber(protocol), data);
        if err.is_some() || exts.is_fragmenting_payload() {
            return Err(DecodeError::Malformed(
                "bad extension headers in a reassembled datagram",
            ));
        }
        Ok((next.0, Frame::new(rest, rest.len())))
    } else if protocol == IpNumber::AUTHENTICATION_HEADER.0 {
        let auth = IpAuthHeaderSlice::from_slice(data).map_err(|_| {
            DecodeError::Malformed("bad authentication header in a reassembled datagram")
        })?;
        Ok((
            auth.next_header().0,
            whole.skip(auth.slice().len(), "IP authentication header")?,
        ))
    } else {
        Ok((protocol, whole))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use etherparse::PacketBuilder;

    fn udp4(payload: &[u8]) -> Vec<u8> {
        let b = PacketBuilder::ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64).udp(1000, 53);
        let mut v = Vec::new();
        b.write(&mut v, payload).unwrap();
        v
    }

    /// What a decoded layer says, to compare the short path with the general one.
    fn said(l: &IpLayer<'_>) -> String {
        format!(
            "{} {} v6={} len={} proto={} payload={:?}/{} frag={:?}",
            l.src, l.dst, l.v6, l.ip_len, l.protocol, l.payload.data, l.payload.wire, l.fragment
        )
    }

    #[test]
    fn plain_tcp_and_udp_take_the_short_path() {
        let v4 = udp4(b"hello");
        let v6 = tcp6(b"hello");
        let short4 = plain_ipv4(Frame::new(&v4, v4.len()), None).expect("short path");
        let short6 = plain_ipv6(Frame::new(&v6, v6.len()), None).expect("short path");
        let general4 = any_ipv4(Frame::new(&v4, v4.len()), None).unwrap();
        let general6 = any_ipv6(Frame::new(&v6, v6.len()), None).unwrap();
        assert_eq!(said(&short4), said(&general4));
        assert_eq!(said(&short6), said(&general6));
        assert_eq!(short4.protocol, 17);
        assert_eq!(short6.protocol, 6);
    }

    proptest::proptest! {
        /// Whenever the short path takes a packet, the general path reads it the same way.
        #[test]
        fn the_short_paths_agree_with_the_general_ones(
            v6 in proptest::bool::ANY,
            header in proptest::collection::vec(proptest::num::u8::ANY, 40..80),
            flips in proptest::collection::vec((0usize..12, proptest::num::u8::ANY), 0..3),
            cut in 0usize..90,
            extra_wire in 0usize..40,
            outer in proptest::option::of(0usize..100),
        ) {
            // a valid header first, so the short path is taken often, then a few bytes changed
            let mut bytes = if v6 { tcp6(&header) } else { udp4(&header) };
            for (at, b) in flips {
                if let Some(x) = bytes.get_mut(if v6 { at } else { at % 12 }) {
                    *x = b;
                }
            }
            let wire = bytes.len() + extra_wire;
            bytes.truncate(cut.max(1).min(bytes.len()));
            let frame = Frame::new(&bytes, wire);
            let (short, general) = if v6 {
                (plain_ipv6(frame, outer), any_ipv6(frame, outer))
            } else {
                (plain_ipv4(frame, outer), any_ipv4(frame, outer))
            };
            if let Some(short) = short {
                let general = general.map(|g| said(&g));
                proptest::prop_assert_eq!(Ok(said(&short)), general);
            }
        }
    }

    fn tcp6(payload: &[u8]) -> Vec<u8> {
        let src = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
        let dst = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2];
        let b = PacketBuilder::ipv6(src, dst, 64).tcp(4000, 443, 7, 1000);
        let mut v = Vec::new();
        b.write(&mut v, payload).unwrap();
        v
    }

    fn any(b: &[u8]) -> Network<'_> {
        Network::any(Frame::new(b, b.len()))
    }

    #[test]
    fn ipv4_lengths_and_padding() {
        let mut p = udp4(b"hello");
        p.extend([0, 0, 0]); // Ethernet padding
        let l = parse(any(&p)).unwrap();
        assert_eq!(l.src, "10.0.0.1".parse::<IpAddr>().unwrap());
        assert_eq!(l.ip_len, 20 + 8 + 5);
        assert_eq!(l.protocol, 17);
        assert_eq!(l.payload.data.len(), 13);
        assert_eq!(l.payload.wire, 13);
        assert_eq!(l.fragment, None);
    }

    #[test]
    fn ipv4_failures_are_classified() {
        let p = udp4(b"hello");
        // Cut inside the IPv4 header.
        assert!(matches!(
            parse(Network::any(Frame::new(&p[..10], p.len()))),
            Err(DecodeError::Truncated(_))
        ));
        // A total length larger than the packet, all bytes present.
        let mut lie = p.clone();
        lie[3] = 200;
        assert_eq!(
            parse(any(&lie)).unwrap_err(),
            DecodeError::Malformed("IPv4 total length exceeds the packet")
        );
        // Header length below 20.
        let mut bad = p.clone();
        bad[0] = 0x44;
        assert!(matches!(parse(any(&bad)), Err(DecodeError::Malformed(_))));
        // A version-6 nibble where IPv4 was announced, and version 7 anywhere.
        let mut v6 = p.clone();
        v6[0] = 0x65;
        assert!(matches!(
            parse(Network::v4(Frame::new(&v6, v6.len()))),
            Err(DecodeError::Malformed(_))
        ));
        let mut v7 = p.clone();
        v7[0] = 0x75;
        assert!(matches!(parse(any(&v7)), Err(DecodeError::Malformed(_))));
    }

    #[test]
    fn a_shorter_outer_length_bounds_the_packet() {
        // IPv4 total length counts 6 bytes of padding; PPPoE says the packet is 33 bytes.
        let mut p = udp4(b"hello");
        p.extend([0; 6]);
        p[3] += 6;
        let net = Network {
            outer_len: Some(33),
            ..any(&p)
        };
        let l = parse(net).unwrap();
        assert_eq!(l.ip_len, 39, "the IP header's own length");
        assert_eq!((l.payload.data.len(), l.payload.wire), (13, 13));
        // A longer outer length changes nothing.
        let net = Network {
            outer_len: Some(500),
            ..any(&p)
        };
        assert_eq!(parse(net).unwrap().payload.wire, 19);
    }

    #[test]
    fn ipv4_total_length_zero_is_a_tso_super_packet() {
        let mut p = udp4(&[7u8; 100]);
        p[2] = 0;
        p[3] = 0;
        let l = parse(Network::v4(Frame::new(&p[..60], 70_000))).unwrap();
        assert_eq!(l.ip_len, 70_000);
        assert_eq!(l.payload.wire, 70_000 - 20);
        assert_eq!(l.payload.data.len(), 40);
    }

    #[test]
    fn ipv6_lengths_extension_headers_and_jumbo() {
        let p = tcp6(b"abc");
        let l = parse(any(&p)).unwrap();
        assert_eq!(l.ip_len, 40 + 20 + 3);
        assert_eq!(l.protocol, 6);
        assert!(l.v6);

        // Payload length 0: BIG TCP; the length is the packet's.
        let mut big = p.clone();
        big[4] = 0;
        big[5] = 0;
        let l = parse(Network::v6(Frame::new(&big, 80_000))).unwrap();
        assert_eq!(l.ip_len, 80_000);
        assert_eq!(l.payload.wire, 80_000 - 40);

        // A hop-by-hop header with a jumbo payload option of 31 bytes (8 + 20 + 3).
        let mut jumbo = p[..40].to_vec();
        jumbo[4] = 0;
        jumbo[5] = 0;
        jumbo[6] = 0; // next header: hop-by-hop
        jumbo.extend([6, 0, JUMBO_OPTION, 4, 0, 0, 0, 31]);
        jumbo.extend(&p[40..]);
        let l = parse(any(&jumbo)).unwrap();
        assert_eq!(l.ip_len, 40 + 31);
        assert_eq!(l.protocol, 6);
        assert_eq!(l.payload.data.len(), 20 + 3);
        assert_eq!(l.payload.wire, 20 + 3);

        // Payload length beyond the packet.
        let mut lie = p.clone();
        lie[5] = 200;
        assert_eq!(
            parse(any(&lie)).unwrap_err(),
            DecodeError::Malformed("IPv6 payload length exceeds the packet")
        );
        // A header cut by the snapshot length, and one that is simply short.
        assert!(matches!(
            parse(Network::any(Frame::new(&p[..30], p.len()))),
            Err(DecodeError::Truncated(_))
        ));
        assert!(matches!(
            parse(any(&p[..39])),
            Err(DecodeError::Malformed(_))
        ));
    }

    #[test]
    fn ipv6_extension_header_failures() {
        let p = tcp6(b"");
        // Routing header (next header 43) whose length runs past the payload length.
        let mut r = p[..40].to_vec();
        r[6] = 43;
        r[5] = 8;
        r.extend([6, 4, 0, 0, 0, 0, 0, 0]); // claims 40 bytes
        assert!(matches!(parse(any(&r)), Err(DecodeError::Malformed(_))));
        // The same header cut by the snapshot length (the wire had the bytes).
        let mut r2 = p[..40].to_vec();
        r2[6] = 43;
        r2[5] = 48;
        r2.extend([6, 4, 0, 0]);
        assert!(matches!(
            parse(Network::any(Frame::new(&r2, 88))),
            Err(DecodeError::Truncated(_))
        ));
    }

    #[test]
    fn a_second_hop_by_hop_header_is_malformed_not_undefined_behaviour() {
        // Hop-by-hop, then another hop-by-hop: etherparse stops with an error after the
        // first; walking its extensions must stop there too.
        let p = tcp6(b"");
        let mut h = p[..40].to_vec();
        h[4] = 0;
        h[5] = 16;
        h[6] = 0;
        h.extend([0, 0, 1, 4, 0, 0, 0, 0]);
        h.extend([6, 0, 1, 4, 0, 0, 0, 0]);
        assert_eq!(
            parse(any(&h)).unwrap_err(),
            DecodeError::Malformed("IPv6 extension headers out of order")
        );
        // Hop-by-hop then a routing header cut by the snapshot length.
        h[40] = 43;
        assert_eq!(
            parse(Network::any(Frame::new(&h[..50], 56))).unwrap_err(),
            DecodeError::Truncated("IPv6 extension header")
        );
    }

    #[test]
    fn fragments_are_recognised() {
        let mut p = udp4(&[1u8; 32]);
        p[6] = 0x20; // more fragments
        let l = parse(any(&p)).unwrap();
        assert_eq!(
            l.fragment,
            Some(Fragment {
                id: u32::from(u16::from_be_bytes([p[4], p[5]])),
                offset: IpFragOffset::ZERO,
                more: true
            })
        );
        assert_eq!(l.payload.data.len(), 40);

        // IPv6 fragment header, second fragment at offset 16 bytes.
        let base = tcp6(b"");
        let mut f = base[..40].to_vec();
        f[6] = 44;
        f[4] = 0;
        f[5] = 8 + 8;
        f.extend([6, 0, 0, 16, 0xde, 0xad, 0xbe, 0xef]);
        f.extend([9u8; 8]);
        let l = parse(any(&f)).unwrap();
        let frag = l.fragment.unwrap();
        assert_eq!(frag.id, 0xdead_beef);
        assert_eq!(frag.offset.byte_offset(), 16);
        assert!(!frag.more);
        assert_eq!(l.protocol, 6);
        assert_eq!(l.payload.data, &[9u8; 8]);
    }
}
