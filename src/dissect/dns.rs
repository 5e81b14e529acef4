//! DNS and mDNS messages: which addresses a response gives for which names.
//!
//! [`parse_message`] reads the header, the questions, the answers and the additional
//! section (the authority section is walked over and dropped); [`address_names`] turns a
//! response into `(address, names, ttl)` triples, following CNAME chains back to the
//! question; [`split_tcp_messages`] cuts a DNS-over-TCP stream into messages.
//!
//! The wire parsing is written by hand, not with `simple-dns` (which stays a dependency
//! for other uses), for three reasons checked against the shared captures:
//! - `simple_dns::Packet::parse` is all-or-nothing: one record it dislikes anywhere and
//!   the whole message is lost. In zeek's `dns-edns-ecs.pcap` a SOA response for
//!   weberdns.de ends with a TSIG record of class ANY (255); simple-dns refuses the class,
//!   and the message's glue addresses for ns1/ns2.weberdns.de go with it. A record cut
//!   short after good answers loses those answers too. Here a corrupt record ends the
//!   parse but keeps what came before it (`complete: false`), and the class is ignored.
//! - It decodes the RDATA of every type it knows and fails on any it cannot, so a
//!   strange record of a type this tool ignores would also sink the message.
//! - Names come back as raw label bytes, and this module's naming rules (lower case,
//!   `\DDD` escapes, `\.` for a dot inside a label) would need their own pass anyway.
//!
//! Names: lower-cased (ASCII), labels joined by '.', no trailing dot (the root is "").
//! A byte outside printable ASCII (0x20..=0x7e) is written `\DDD` in decimal; a '.'
//! inside a label is `\.` and a backslash `\\`, as in the DNS presentation format, so a
//! name never carries a control character and never reads as other labels. Compression
//! pointers are followed at most [`MAX_POINTER_HOPS`] times and a name may take at most
//! 255 bytes in wire form, which stops loops.

use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use thiserror::Error;

/// Most compression pointers followed for one name.
pub const MAX_POINTER_HOPS: usize = 64;
/// Most wire bytes of one name (RFC 1035 §2.3.4).
const MAX_NAME_WIRE: usize = 255;
/// Most CNAME hops followed back from an address record.
pub const MAX_CNAME_HOPS: usize = 16;
/// Most names attached to one address (the owner and the aliases leading to it).
pub const MAX_NAMES_PER_ADDRESS: usize = 32;

const TYPE_A: u16 = 1;
const TYPE_CNAME: u16 = 5;
const TYPE_AAAA: u16 = 28;

/// A parsed DNS message (as much of it as could be read).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DnsMessage {
    pub id: u16,
    pub is_response: bool,
    pub opcode: u8,
    pub rcode: u8,
    pub truncated: bool,
    pub questions: Vec<DnsQuestion>,
    /// The answer section.
    pub answers: Vec<DnsRecord>,
    /// The additional section (mDNS responses put A/AAAA records there).
    pub additional: Vec<DnsRecord>,
    /// Every record the header announced was read. When false, `problem` says why and the
    /// records read before the corrupt one are kept.
    pub complete: bool,
    pub problem: Option<&'static str>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DnsQuestion {
    pub name: String,
    pub qtype: u16,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DnsRecord {
    pub name: String,
    /// Seconds; a TTL with the top bit set reads as 0 (RFC 2181 §8).
    pub ttl: u32,
    pub data: DnsData,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DnsData {
    A(Ipv4Addr),
    Aaaa(Ipv6Addr),
    Cname(String),
    Other { rtype: u16 },
}

/// Why a message could not be read at all.
#[derive(Clone, Copy, Debug, Error, PartialEq, Eq)]
pub enum DnsError {
    #[error("shorter than the 12-byte DNS header")]
    ShortHeader,
    #[error("question {index} is malformed: {reason}")]
    BadQuestion { index: u16, reason: &'static str },
}

/// Parse one DNS message (the UDP payload, or one message of a TCP stream without its
/// length prefix). Fails only when the header or a question cannot be read; a corrupt
/// record later on ends the parse with `complete: false`.
pub fn parse_message(buf: &[u8]) -> Result<DnsMessage, DnsError> {
    let mut msg = DnsMessage::empty();
    parse_message_into(buf, &mut msg)?;
    Ok(msg)
}

impl DnsMessage {
    /// A message with nothing in it, to parse into ([`parse_message_into`]).
    pub fn empty() -> DnsMessage {
        DnsMessage {
            id: 0,
            is_response: false,
            opcode: 0,
            rcode: 0,
            truncated: false,
            questions: Vec::new(),
            answers: Vec::new(),
            additional: Vec::new(),
            complete: true,
            problem: None,
        }
    }
}

/// The record at `n` of `list`, made when the list is shorter: a slot to read into, whose
/// strings keep their memory from the message read before.
fn slot(list: &mut Vec<DnsRecord>, n: usize) -> Option<&mut DnsRecord> {
    if list.len() <= n {
        list.push(DnsRecord {
            name: String::new(),
            ttl: 0,
            data: DnsData::Other { rtype: 0 },
        });
    }
    list.get_mut(n)
}

/// [`parse_message`] into `msg`, reusing its lists and strings: once messages of a shape have
/// been read, reading another allocates nothing. On an error, `msg` holds nothing of use.
pub fn parse_message_into(buf: &[u8], msg: &mut DnsMessage) -> Result<(), DnsError> {
    let mut r = Reader { msg: buf, pos: 0 };
    let header = (|| Some((r.u16()?, r.u16()?, r.u16()?, r.u16()?, r.u16()?, r.u16()?)))();
    let Some((id, flags, qdcount, ancount, nscount, arcount)) = header else {
        return Err(DnsError::ShortHeader);
    };
    msg.id = id;
    msg.is_response = flags & 0x8000 != 0;
    msg.opcode = ((flags >> 11) & 0x0f) as u8;
    msg.rcode = (flags & 0x0f) as u8;
    msg.truncated = flags & 0x0200 != 0;
    msg.complete = true;
    msg.problem = None;

    let mut nq = 0usize;
    for index in 0..qdcount {
        if msg.questions.len() <= nq {
            msg.questions.push(DnsQuestion {
                name: String::new(),
                qtype: 0,
            });
        }
        let Some(q) = msg.questions.get_mut(nq) else {
            break;
        };
        let read = read_name_into(buf, r.pos, &mut q.name).and_then(|end| {
            r.pos = end;
            let qtype = r.u16().ok_or("question runs past the end")?;
            r.u16().ok_or("question runs past the end")?;
            Ok(qtype)
        });
        match read {
            Ok(qtype) => q.qtype = qtype,
            Err(reason) => return Err(DnsError::BadQuestion { index, reason }),
        }
        nq += 1;
    }
    msg.questions.truncate(nq);

    let sections = [
        (ancount, Section::Answer),
        (nscount, Section::Authority),
        (arcount, Section::Additional),
    ];
    let (mut na, mut nad) = (0usize, 0usize);
    'sections: for (count, section) in sections {
        for _ in 0..count {
            // authority records are read (to find where the next begins) into the answers'
            // next slot, which the next answer, if any, overwrites
            let (list, n) = match section {
                Section::Answer | Section::Authority => (&mut msg.answers, na),
                Section::Additional => (&mut msg.additional, nad),
            };
            let Some(rec) = slot(list, n) else {
                break 'sections;
            };
            match read_record_into(&mut r, rec) {
                Ok(()) => match section {
                    Section::Answer => na += 1,
                    Section::Additional => nad += 1,
                    Section::Authority => {}
                },
                // A record whose body is bad but whose bounds are known: skip it.
                Err(RecordError::Skipped(reason)) => {
                    msg.complete = false;
                    msg.problem.get_or_insert(reason);
                }
                Err(RecordError::Fatal(reason)) => {
                    msg.complete = false;
                    msg.problem = Some(reason);
                    break 'sections;
                }
            }
        }
    }
    msg.answers.truncate(na);
    msg.additional.truncate(nad);
    Ok(())
}

/// For a response: every (address, names, ttl) it establishes. `names` holds the A/AAAA
/// record's owner name and every name that leads to it by a CNAME chain in the same
/// message (the question's name included), in chain order starting from the question.
/// Chains are followed back at most [`MAX_CNAME_HOPS`] hops, loops end, and at most
/// [`MAX_NAMES_PER_ADDRESS`] names are kept per address. Address records of the additional
/// section count too (mDNS answers there; so does glue). Queries give nothing.
pub fn address_names(msg: &DnsMessage) -> Vec<(IpAddr, Vec<String>, u32)> {
    let mut out = Vec::new();
    for_each_address(msg, |ip, names, ttl| {
        out.push((ip, names.iter().map(|n| (*n).to_string()).collect(), ttl));
    });
    out
}

/// [`address_names`] without allocating: `f` is given each (address, names, ttl) in turn, the
/// names borrowed from the message. The same results, in the same order.
pub fn for_each_address<'m>(msg: &'m DnsMessage, mut f: impl FnMut(IpAddr, &[&'m str], u32)) {
    if !msg.is_response {
        return;
    }
    let records = || msg.answers.iter().chain(&msg.additional);
    let address = |rec: &DnsRecord| match rec.data {
        DnsData::A(a) => Some(IpAddr::V4(a)),
        DnsData::Aaaa(a) => Some(IpAddr::V6(a)),
        _ => None,
    };
    // without CNAMEs every chain is its owner alone; with them, the chain of the last owner is
    // kept, since an owner's address records usually come together
    let cnames = msg
        .answers
        .iter()
        .any(|r| matches!(r.data, DnsData::Cname(_)));
    let mut chain: [&str; MAX_NAMES_PER_ADDRESS] = [""; MAX_NAMES_PER_ADDRESS];
    let mut chain_of: Option<(&str, usize)> = None;
    for (i, rec) in records().enumerate() {
        let Some(ip) = address(rec) else {
            continue;
        };
        // an earlier record with the same owner, address and TTL gave this already
        let repeat = records()
            .take(i)
            .any(|r| address(r) == Some(ip) && r.ttl == rec.ttl && r.name == rec.name);
        if repeat {
            continue;
        }
        let n = match chain_of {
            Some((owner, n)) if owner == rec.name => n,
            _ if !cnames => {
                if let Some(first) = chain.first_mut() {
                    *first = &rec.name;
                }
                1
            }
            _ => chain_into(&rec.name, &msg.answers, &mut chain),
        };
        chain_of = Some((&rec.name, n));
        f(ip, chain.get(..n).unwrap_or_default(), rec.ttl);
    }
}

/// The names leading to `owner` by the CNAMEs of `answers`, farthest first, then `owner`,
/// written into `out`; returns how many. Each level of the chain keeps the message's order.
fn chain_into<'m>(
    owner: &'m str,
    answers: &'m [DnsRecord],
    out: &mut [&'m str; MAX_NAMES_PER_ADDRESS],
) -> usize {
    // every name met, in the order met: the owner, then level by level
    let mut seen: [&str; MAX_NAMES_PER_ADDRESS] = [""; MAX_NAMES_PER_ADDRESS];
    seen[0] = owner;
    let mut len = 1usize;
    // where each level begins in `seen` (level 0 is the owner)
    let mut starts = [0usize; MAX_CNAME_HOPS + 2];
    let mut levels = 0usize;
    let mut frontier = 0..1;
    for _ in 0..MAX_CNAME_HOPS {
        let level_start = len;
        for t in frontier.clone() {
            let target = seen.get(t).copied().unwrap_or_default();
            for rec in answers {
                let DnsData::Cname(to) = &rec.data else {
                    continue;
                };
                if to != target {
                    continue;
                }
                if len >= MAX_NAMES_PER_ADDRESS {
                    break;
                }
                let alias = rec.name.as_str();
                if !seen.get(..len).unwrap_or_default().contains(&alias) {
                    if let Some(slot) = seen.get_mut(len) {
                        *slot = alias;
                    }
                    len += 1;
                }
            }
        }
        if len == level_start {
            break;
        }
        levels += 1;
        if let Some(s) = starts.get_mut(levels) {
            *s = level_start;
        }
        frontier = level_start..len;
    }
    // the farthest level first, each in its order; the owner last
    let mut n = 0usize;
    for level in (1..=levels).rev() {
        let from = starts.get(level).copied().unwrap_or(len);
        let to = if level == levels {
            len
        } else {
            starts.get(level + 1).copied().unwrap_or(len)
        };
        for name in seen.get(from..to).unwrap_or_default() {
            if let Some(slot) = out.get_mut(n) {
                *slot = name;
                n += 1;
            }
        }
    }
    if let Some(slot) = out.get_mut(n) {
        *slot = owner;
        n += 1;
    }
    n
}

/// Length-prefixed DNS over TCP: split a stream buffer into whole messages; returns
/// (messages, bytes consumed). A trailing partial message is left for later; a zero
/// length prefix is consumed and gives no message.
pub fn split_tcp_messages(buf: &[u8]) -> (Vec<&[u8]>, usize) {
    let mut out = Vec::new();
    let mut rest = buf;
    let mut used = 0usize;
    while let Some((len, after)) = rest.split_first_chunk::<2>() {
        let len = usize::from(u16::from_be_bytes(*len));
        let Some((message, tail)) = after.split_at_checked(len) else {
            break;
        };
        if !message.is_empty() {
            out.push(message);
        }
        used = used.saturating_add(2).saturating_add(len);
        rest = tail;
    }
    (out, used)
}

#[derive(Clone, Copy)]
enum Section {
    Answer,
    Authority,
    Additional,
}

enum RecordError {
    /// The record's bounds are known but its body is bad: it is skipped.
    Skipped(&'static str),
    /// The record cannot be delimited: nothing after it can be read.
    Fatal(&'static str),
}

/// Read one resource record at the reader's position and move past it.
fn read_record_into(r: &mut Reader<'_>, rec: &mut DnsRecord) -> Result<(), RecordError> {
    let end = read_name_into(r.msg, r.pos, &mut rec.name).map_err(RecordError::Fatal)?;
    r.pos = end;
    let fixed = (|| Some((r.u16()?, r.u16()?, r.u32()?, r.u16()?)))();
    let Some((rtype, _class, ttl, rdlen)) = fixed else {
        return Err(RecordError::Fatal("record header runs past the end"));
    };
    let rdata_start = r.pos;
    let rdata = r
        .take(usize::from(rdlen))
        .ok_or(RecordError::Fatal("record data runs past the end"))?;
    rec.ttl = if ttl & 0x8000_0000 != 0 { 0 } else { ttl };
    rec.data = match rtype {
        TYPE_A => {
            let octets: [u8; 4] = rdata
                .try_into()
                .map_err(|_| RecordError::Skipped("A record whose data is not 4 bytes"))?;
            DnsData::A(Ipv4Addr::from(octets))
        }
        TYPE_AAAA => {
            let octets: [u8; 16] = rdata
                .try_into()
                .map_err(|_| RecordError::Skipped("AAAA record whose data is not 16 bytes"))?;
            DnsData::Aaaa(Ipv6Addr::from(octets))
        }
        TYPE_CNAME => {
            // the slot's old target keeps its memory for the new one
            let mut target = match std::mem::replace(&mut rec.data, DnsData::Other { rtype: 0 }) {
                DnsData::Cname(t) => t,
                _ => String::new(),
            };
            let end =
                read_name_into(r.msg, rdata_start, &mut target).map_err(RecordError::Skipped)?;
            if end != r.pos {
                return Err(RecordError::Skipped(
                    "CNAME target does not fill its record",
                ));
            }
            DnsData::Cname(target)
        }
        rtype => DnsData::Other { rtype },
    };
    Ok(())
}

/// Reads the (possibly compressed) name at `start` into `out` (cleared first, its memory kept),
/// in presentation form; returns the offset just past it in place (after its first pointer,
/// if any).
fn read_name_into(msg: &[u8], start: usize, out: &mut String) -> Result<usize, &'static str> {
    out.clear();
    let mut wire_len = 1usize; // the root label's zero byte
    let mut pos = start;
    let mut end: Option<usize> = None;
    let mut hops = 0usize;
    let mut first = true;
    loop {
        let len = *msg.get(pos).ok_or("name runs past the end")?;
        match len & 0xc0 {
            0x00 if len == 0 => {
                let after = pos.checked_add(1).ok_or("name runs past the end")?;
                return Ok(end.unwrap_or(after));
            }
            0x00 => {
                let l = usize::from(len);
                let from = pos.checked_add(1).ok_or("name runs past the end")?;
                let to = from.checked_add(l).ok_or("name runs past the end")?;
                let label = msg.get(from..to).ok_or("label runs past the end")?;
                wire_len = wire_len.saturating_add(1).saturating_add(l);
                if wire_len > MAX_NAME_WIRE {
                    return Err("name longer than 255 bytes");
                }
                if !first {
                    out.push('.');
                }
                first = false;
                push_label(out, label);
                pos = to;
            }
            0xc0 => {
                let lo = *msg
                    .get(pos.saturating_add(1))
                    .ok_or("pointer runs past the end")?;
                if end.is_none() {
                    end = Some(pos.saturating_add(2));
                }
                hops += 1;
                if hops > MAX_POINTER_HOPS {
                    return Err("too many compression pointers (a loop?)");
                }
                pos = (usize::from(len & 0x3f) << 8) | usize::from(lo);
            }
            _ => return Err("unknown label type"),
        }
    }
}

/// Append one label in presentation form (see the module's doc).
fn push_label(out: &mut String, label: &[u8]) {
    for &b in label {
        match b {
            b'.' => out.push_str("\\."),
            b'\\' => out.push_str("\\\\"),
            0x20..=0x7e => out.push(char::from(b.to_ascii_lowercase())),
            _ => {
                let _ = write!(out, "\\{b:03}");
            }
        }
    }
}

/// A cursor over the message with checked reads.
struct Reader<'a> {
    msg: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.pos.checked_add(n)?;
        let bytes = self.msg.get(self.pos..end)?;
        self.pos = end;
        Some(bytes)
    }
    fn u16(&mut self) -> Option<u16> {
        let b = self.take(2)?;
        Some(u16::from_be_bytes(b.try_into().ok()?))
    }
    fn u32(&mut self) -> Option<u32> {
        let b = self.take(4)?;
        Some(u32::from_be_bytes(b.try_into().ok()?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dissect::stream::test_pcap;

    /// The way names were gathered before [`for_each_address`] (maps and owned strings): the
    /// reference the allocation-free way must agree with.
    fn reference_address_names(msg: &DnsMessage) -> Vec<(IpAddr, Vec<String>, u32)> {
        use std::collections::HashMap;
        fn chain_to(owner: &str, aliases: &HashMap<&str, Vec<&str>>) -> Vec<String> {
            let mut seen: Vec<&str> = vec![owner];
            let mut levels: Vec<Vec<&str>> = Vec::new();
            let mut frontier: Vec<&str> = vec![owner];
            for _ in 0..MAX_CNAME_HOPS {
                let mut next = Vec::new();
                for target in &frontier {
                    for alias in aliases.get(target).into_iter().flatten() {
                        if seen.len() >= MAX_NAMES_PER_ADDRESS {
                            break;
                        }
                        if !seen.contains(alias) {
                            seen.push(alias);
                            next.push(*alias);
                        }
                    }
                }
                if next.is_empty() {
                    break;
                }
                levels.push(next.clone());
                frontier = next;
            }
            let mut names: Vec<String> = levels
                .iter()
                .rev()
                .flatten()
                .map(|s| (*s).to_string())
                .collect();
            names.push(owner.to_string());
            names
        }
        if !msg.is_response {
            return Vec::new();
        }
        let mut aliases: HashMap<&str, Vec<&str>> = HashMap::new();
        for rec in &msg.answers {
            if let DnsData::Cname(target) = &rec.data {
                aliases
                    .entry(target.as_str())
                    .or_default()
                    .push(rec.name.as_str());
            }
        }
        let mut out: Vec<(IpAddr, Vec<String>, u32)> = Vec::new();
        for rec in msg.answers.iter().chain(&msg.additional) {
            let ip = match rec.data {
                DnsData::A(a) => IpAddr::V4(a),
                DnsData::Aaaa(a) => IpAddr::V6(a),
                _ => continue,
            };
            let entry = (ip, chain_to(&rec.name, &aliases), rec.ttl);
            if !out.contains(&entry) {
                out.push(entry);
            }
        }
        out
    }

    proptest::proptest! {
        /// Messages of random shapes, read one after another into the same message, read as
        /// they read fresh: nothing of one is left in the next.
        #[test]
        fn a_reused_message_reads_as_a_fresh_one(
            shapes in proptest::collection::vec(
                proptest::collection::vec((0u8..5, 0usize..6, 0usize..6, 0u8..2), 0..12),
                1..6,
            ),
        ) {
            let mut reused = DnsMessage::empty();
            for shape in shapes {
                // each message: a question, then records of kinds picked by the shape (A, AAAA,
                // CNAME, a bad A, an authority TXT), owners and targets among a few names
                let names = ["a.example", "b.example", "c.example", "d.example", "e.example", "f.example"];
                let answers: Vec<_> = shape.iter().filter(|s| s.3 == 0).collect();
                let authority: Vec<_> = shape.iter().filter(|s| s.3 == 1).collect();
                let mut m = header(0x8180, 1, answers.len() as u16, authority.len() as u16, 0);
                m.extend(question(&name(names[0]), 1));
                for (kind, owner, target, _) in answers.iter().chain(&authority) {
                    let o = name(names[*owner]);
                    m.extend(match kind {
                        0 => rr(&o, 1, 60, &[203, 0, 113, *target as u8]),
                        1 => rr(&o, 28, 60, &[0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, *target as u8]),
                        2 => rr(&o, 5, 60, &name(names[*target])),
                        3 => rr(&o, 1, 60, &[1, 2, 3]),
                        _ => rr(&o, 16, 60, b"\x03txt"),
                    });
                }
                let fresh = parse_message(&m);
                let again = parse_message_into(&m, &mut reused).map(|()| reused.clone());
                proptest::prop_assert_eq!(fresh, again);
            }
        }

        #[test]
        fn the_allocation_free_gathering_agrees_with_the_reference(
            answers in proptest::collection::vec((0usize..40, 0u8..4, 0usize..40, 0u8..3), 0..60),
            additional in proptest::collection::vec((0usize..40, 0u8..2, 0u8..3), 0..8),
        ) {
            // a few names, so that chains, loops, repeats and long fans all happen
            let name = |i: usize| format!("n{}.example", i % 40);
            let record = |owner: usize, kind: u8, other: usize, ttl: u8| DnsRecord {
                name: name(owner),
                ttl: 60 * u32::from(ttl),
                data: match kind {
                    0 => DnsData::A(Ipv4Addr::new(203, 0, 113, (other % 4) as u8)),
                    1 => DnsData::Aaaa(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, (other % 4) as u16)),
                    2 => DnsData::Cname(name(other)),
                    _ => DnsData::Other { rtype: 16 },
                },
            };
            let msg = DnsMessage {
                id: 1,
                is_response: true,
                opcode: 0,
                rcode: 0,
                truncated: false,
                questions: Vec::new(),
                answers: answers.iter().map(|&(o, k, t, ttl)| record(o, k, t, ttl)).collect(),
                additional: additional.iter().map(|&(o, k, ttl)| record(o, k, o, ttl)).collect(),
                complete: true,
                problem: None,
            };
            proptest::prop_assert_eq!(address_names(&msg), reference_address_names(&msg));
        }
    }

    fn header(flags: u16, qd: u16, an: u16, ns: u16, ar: u16) -> Vec<u8> {
        let mut v = vec![0x12, 0x34];
        for x in [flags, qd, an, ns, ar] {
            v.extend_from_slice(&x.to_be_bytes());
        }
        v
    }

    fn name(s: &str) -> Vec<u8> {
        let mut v = Vec::new();
        for label in s.split('.').filter(|l| !l.is_empty()) {
            v.push(label.len() as u8);
            v.extend_from_slice(label.as_bytes());
        }
        v.push(0);
        v
    }

    fn question(owner: &[u8], qtype: u16) -> Vec<u8> {
        let mut v = owner.to_vec();
        v.extend_from_slice(&qtype.to_be_bytes());
        v.extend_from_slice(&1u16.to_be_bytes());
        v
    }

    fn rr(owner: &[u8], rtype: u16, ttl: u32, rdata: &[u8]) -> Vec<u8> {
        let mut v = owner.to_vec();
        v.extend_from_slice(&rtype.to_be_bytes());
        v.extend_from_slice(&1u16.to_be_bytes());
        v.extend_from_slice(&ttl.to_be_bytes());
        v.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
        v.extend_from_slice(rdata);
        v
    }

    /// A pointer to offset `off`.
    fn ptr(off: u16) -> Vec<u8> {
        (0xc000 | off).to_be_bytes().to_vec()
    }

    const RESPONSE: u16 = 0x8180;

    /// www.Example.com → CNAME edge.cdn.net → CNAME e1.cdn.net → A + AAAA, compressed.
    fn cname_chain_response() -> Vec<u8> {
        let mut m = header(RESPONSE, 1, 4, 0, 0);
        m.extend(question(&name("www.Example.com"), TYPE_A)); // name at offset 12
        let edge_at = (m.len() + 12) as u16; // rdata of the first answer starts there
        let mut edge = vec![4];
        edge.extend_from_slice(b"edge");
        edge.push(3);
        edge.extend_from_slice(b"cdn");
        edge.push(3);
        edge.extend_from_slice(b"net");
        edge.push(0);
        m.extend(rr(&ptr(12), TYPE_CNAME, 60, &edge));
        // e1.<pointer to cdn.net inside edge.cdn.net>
        let mut e1 = vec![2, b'e', b'1'];
        e1.extend(ptr(edge_at + 5));
        let e1_at = (m.len() + 2 + 10) as u16;
        m.extend(rr(&ptr(edge_at), TYPE_CNAME, 60, &e1));
        m.extend(rr(&ptr(e1_at), TYPE_A, 300, &[192, 0, 2, 7]));
        let v6: Ipv6Addr = "2001:db8::7".parse().unwrap();
        m.extend(rr(&ptr(e1_at), TYPE_AAAA, 200, &v6.octets()));
        m
    }

    #[test]
    fn header_fields() {
        let mut m = header(0x8583 | 0x0200 | (2 << 11), 0, 0, 0, 0);
        m[0] = 0xbe;
        m[1] = 0xef;
        let msg = parse_message(&m).unwrap();
        assert_eq!(msg.id, 0xbeef);
        assert!(msg.is_response);
        assert_eq!(msg.opcode, 2);
        assert_eq!(msg.rcode, 3);
        assert!(msg.truncated);
        assert!(msg.complete);
        assert_eq!(parse_message(&m[..11]), Err(DnsError::ShortHeader));
    }

    #[test]
    fn cname_chain_gives_every_name_in_order() {
        let m = cname_chain_response();
        let msg = parse_message(&m).unwrap();
        assert!(msg.complete, "{:?}", msg.problem);
        assert_eq!(msg.questions[0].name, "www.example.com");
        assert_eq!(msg.answers[0].data, DnsData::Cname("edge.cdn.net".into()));
        assert_eq!(msg.answers[1].data, DnsData::Cname("e1.cdn.net".into()));
        let names: Vec<String> = ["www.example.com", "edge.cdn.net", "e1.cdn.net"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(
            address_names(&msg),
            vec![
                (IpAddr::from([192, 0, 2, 7]), names.clone(), 300),
                ("2001:db8::7".parse().unwrap(), names, 200),
            ]
        );
    }

    #[test]
    fn queries_establish_nothing() {
        let mut m = cname_chain_response();
        m[2] &= 0x7f; // clear QR
        let msg = parse_message(&m).unwrap();
        assert!(!msg.is_response);
        assert!(address_names(&msg).is_empty());
    }

    #[test]
    fn cname_loop_ends() {
        let mut m = header(RESPONSE, 1, 3, 0, 0);
        m.extend(question(&name("a.test"), TYPE_A));
        m.extend(rr(&name("a.test"), TYPE_CNAME, 5, &name("b.test")));
        m.extend(rr(&name("b.test"), TYPE_CNAME, 5, &name("a.test")));
        m.extend(rr(&name("a.test"), TYPE_A, 5, &[10, 0, 0, 1]));
        let msg = parse_message(&m).unwrap();
        let got = address_names(&msg);
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].1, vec!["b.test".to_string(), "a.test".to_string()]);
    }

    #[test]
    fn long_cname_chain_is_bounded() {
        let n = 40;
        let mut m = header(RESPONSE, 0, n + 1, 0, 0);
        for i in 0..n {
            let from = format!("n{i}.test");
            let to = format!("n{}.test", i + 1);
            m.extend(rr(&name(&from), TYPE_CNAME, 5, &name(&to)));
        }
        m.extend(rr(&name(&format!("n{n}.test")), TYPE_A, 5, &[10, 0, 0, 1]));
        let got = address_names(&parse_message(&m).unwrap());
        assert_eq!(got[0].1.len(), MAX_CNAME_HOPS + 1);
        assert_eq!(got[0].1.last().unwrap(), "n40.test");
        assert_eq!(
            got[0].1[0],
            format!("n{}.test", n as usize - MAX_CNAME_HOPS)
        );
    }

    #[test]
    fn names_are_lowercased_and_escaped() {
        let mut label_bytes = vec![9];
        label_bytes.extend_from_slice(b"Ex.a\x01m\\\xc3Z");
        label_bytes.extend(name("Org"));
        let mut m = header(RESPONSE, 1, 1, 0, 0);
        m.extend(question(&label_bytes, TYPE_A));
        m.extend(rr(&ptr(12), TYPE_A, 5, &[10, 0, 0, 2]));
        let msg = parse_message(&m).unwrap();
        let expected = "ex\\.a\\001m\\\\\\195z.org";
        assert_eq!(msg.questions[0].name, expected);
        assert_eq!(msg.answers[0].name, expected);
        assert!(!expected.chars().any(|c| c.is_control()));
    }

    #[test]
    fn root_name_is_empty() {
        let mut m = header(RESPONSE, 1, 0, 0, 0);
        m.extend(question(&[0], 2));
        assert_eq!(parse_message(&m).unwrap().questions[0].name, "");
    }

    #[test]
    fn pointer_loops_and_long_names_are_errors() {
        // The question's name points at itself.
        let mut m = header(0x0100, 1, 0, 0, 0);
        m.extend(ptr(12));
        m.extend([0, 1, 0, 1]);
        assert!(matches!(
            parse_message(&m),
            Err(DnsError::BadQuestion { index: 0, .. })
        ));

        // 5 labels of 63 bytes: 321 bytes, over the 255 limit.
        let mut m = header(0x0100, 1, 0, 0, 0);
        for _ in 0..5 {
            m.push(63);
            m.extend([b'a'; 63]);
        }
        m.extend([0, 0, 1, 0, 1]);
        assert!(parse_message(&m).is_err());

        // Label type 0x40 (extended labels) is refused.
        let mut m = header(0x0100, 1, 0, 0, 0);
        m.extend([0x41, 0, 0, 0, 1, 0, 1]);
        assert!(parse_message(&m).is_err());
    }

    #[test]
    fn corrupt_record_keeps_earlier_answers() {
        let mut m = header(RESPONSE, 1, 3, 0, 0);
        m.extend(question(&name("zeek.org"), TYPE_A));
        m.extend(rr(&ptr(12), TYPE_A, 60, &[192, 0, 78, 212]));
        m.extend(rr(&ptr(12), TYPE_A, 60, &[192, 0, 78, 150]));
        m.extend(&rr(&ptr(12), TYPE_A, 60, &[1, 2, 3, 4])[..8]); // cut in its header
        let msg = parse_message(&m).unwrap();
        assert!(!msg.complete);
        assert!(msg.problem.is_some());
        let addrs: Vec<IpAddr> = address_names(&msg).into_iter().map(|x| x.0).collect();
        assert_eq!(
            addrs,
            vec![
                IpAddr::from([192, 0, 78, 212]),
                IpAddr::from([192, 0, 78, 150])
            ]
        );
    }

    #[test]
    fn bad_address_length_is_skipped_and_later_records_kept() {
        let mut m = header(RESPONSE, 1, 2, 0, 1);
        m.extend(question(&name("x.test"), TYPE_A));
        m.extend(rr(&ptr(12), TYPE_A, 60, &[1, 2, 3]));
        m.extend(rr(&ptr(12), TYPE_A, 60, &[1, 2, 3, 4]));
        m.extend(rr(&name("y.test"), TYPE_AAAA, 60, &[0; 16]));
        let msg = parse_message(&m).unwrap();
        assert!(!msg.complete);
        assert_eq!(msg.answers.len(), 1);
        assert_eq!(msg.additional.len(), 1);
        let got = address_names(&msg);
        assert_eq!(
            got[0],
            (IpAddr::from([1, 2, 3, 4]), vec!["x.test".into()], 60)
        );
        assert_eq!(got[1].1, vec!["y.test".to_string()]);
    }

    #[test]
    fn authority_is_skipped_additional_kept_and_ttl_top_bit_reads_zero() {
        let mut m = header(RESPONSE, 0, 0, 1, 1);
        m.extend(rr(&name("test"), 2, 60, &name("ns.test")));
        m.extend(rr(&name("ns.test"), TYPE_A, 0x8000_0001, &[10, 9, 8, 7]));
        let msg = parse_message(&m).unwrap();
        assert!(msg.complete);
        assert!(msg.answers.is_empty());
        assert_eq!(
            address_names(&msg),
            vec![(IpAddr::from([10, 9, 8, 7]), vec!["ns.test".into()], 0)]
        );
    }

    #[test]
    fn every_prefix_is_safe_and_never_invents() {
        let m = cname_chain_response();
        let full = address_names(&parse_message(&m).unwrap());
        for n in 0..m.len() {
            if let Ok(msg) = parse_message(&m[..n]) {
                assert!(!msg.complete || n == m.len());
                for entry in address_names(&msg) {
                    assert!(full.contains(&entry), "prefix {n} gave {entry:?}");
                }
            }
        }
    }

    #[test]
    fn hostile_counts_do_not_panic() {
        let mut m = header(0xffff, 0xffff, 0xffff, 0xffff, 0xffff);
        m.extend([0xc0, 0x0c, 0xc0, 0x0c, 0x3f]);
        assert!(parse_message(&m).is_err());
        let mut m = header(0x8000, 0, 0xffff, 0, 0);
        m.extend([0; 20]);
        let msg = parse_message(&m).unwrap();
        assert!(!msg.complete);
    }

    #[test]
    fn tcp_messages_are_split_by_length() {
        let a = cname_chain_response();
        let b = header(0x0100, 0, 0, 0, 0);
        let mut stream = Vec::new();
        stream.extend((a.len() as u16).to_be_bytes());
        stream.extend(&a);
        stream.extend([0, 0]);
        stream.extend((b.len() as u16).to_be_bytes());
        stream.extend(&b);
        let whole = stream.len();
        stream.extend([0, 40, 1, 2, 3]);
        let (msgs, used) = split_tcp_messages(&stream);
        assert_eq!(msgs, vec![&a[..], &b[..]]);
        assert_eq!(used, whole);
        assert_eq!(split_tcp_messages(&[0]), (vec![], 0));
    }

    type Pair = (IpAddr, Vec<String>, u32);

    /// The names found in a capture: every name of every (address, names) pair from the
    /// UDP (53, 5353) and TCP (53) messages.
    fn capture_names(file: &str) -> Option<(Vec<String>, Vec<Pair>)> {
        let pkts = test_pcap::read(file)?;
        let mut payloads = test_pcap::udp_payloads(&pkts, 53);
        payloads.extend(test_pcap::udp_payloads(&pkts, 5353));
        for (_, stream) in test_pcap::tcp_streams(&pkts, |src, dst| src == 53 || dst == 53) {
            let (msgs, _) = split_tcp_messages(&stream);
            payloads.extend(msgs.into_iter().map(<[u8]>::to_vec));
        }
        let mut pairs = Vec::new();
        for p in &payloads {
            if let Ok(msg) = parse_message(p) {
                pairs.extend(address_names(&msg));
            }
        }
        let mut names: Vec<String> = pairs.iter().flat_map(|p| p.1.clone()).collect();
        names.sort();
        names.dedup();
        Some((names, pairs))
    }

    /// Names expected-names.tsv lists that no record maps to an address: tshark lists the
    /// question of any response carrying an A/AAAA record, and these responses (a DS and
    /// a SOA query) carry only the name servers' glue in the additional section.
    const TSHARK_ARTEFACTS: [(&str, &str); 2] = [
        ("zeek/dns-edns-ecs.pcap", "ripe.net"),
        ("zeek/dns-edns-ecs.pcap", "weberdns.de"),
    ];

    #[test]
    fn glue_is_not_mapped_to_the_question() {
        let Some((_, pairs)) = capture_names("zeek/dns-edns-ecs.pcap") else {
            return;
        };
        let l_gtld: IpAddr = "192.41.162.30".parse().unwrap();
        let ns1: IpAddr = "80.154.108.230".parse().unwrap();
        for (ip, owner) in [(l_gtld, "l.gtld-servers.net"), (ns1, "ns1.weberdns.de")] {
            let names: Vec<&Vec<String>> =
                pairs.iter().filter(|p| p.0 == ip).map(|p| &p.1).collect();
            assert!(!names.is_empty());
            assert!(
                names.iter().all(|n| *n == &vec![owner.to_string()]),
                "{names:?}"
            );
        }
    }

    #[test]
    fn shared_captures_give_every_expected_answer_name() {
        let files = [
            "zeek/dns-edns-ecs.pcap",
            "zeek/dns-two-responses.pcap",
            "zeek/dns53.pcap",
            "zeek/dns_dns-corrupt.pcap",
            "zeek/dns_max-compression-depth.pcap",
            "tcpdump/dns_tcp.pcap",
            "tcpdump/dns_udp.pcap",
        ];
        for file in files {
            let Some((names, _)) = capture_names(file) else {
                return;
            };
            let want = test_pcap::expected(file, "dns_answer");
            assert!(!want.is_empty(), "{file}: nothing expected?");
            for w in want {
                if TSHARK_ARTEFACTS.contains(&(file, w.as_str())) {
                    continue;
                }
                assert!(names.contains(&w), "{file}: missing {w}; found {names:?}");
            }
        }
    }

    #[test]
    fn corrupt_capture_keeps_both_answers() {
        let Some((_, pairs)) = capture_names("zeek/dns_dns-corrupt.pcap") else {
            return;
        };
        let addrs: Vec<IpAddr> = pairs.iter().map(|p| p.0).collect();
        assert_eq!(
            addrs,
            vec![
                IpAddr::from([192, 0, 78, 212]),
                IpAddr::from([192, 0, 78, 150])
            ]
        );
        assert!(pairs.iter().all(|p| p.1 == vec!["zeek.org".to_string()]));
    }

    #[test]
    fn simple_dns_loses_whole_messages() {
        // Why this module parses by hand (see the top of the file). In the capture, a
        // SOA response ends with a TSIG record of class ANY: simple-dns refuses the
        // message, glue and all.
        let Some(pkts) = test_pcap::read("zeek/dns-edns-ecs.pcap") else {
            return;
        };
        let refused: Vec<Vec<u8>> = test_pcap::udp_payloads(&pkts, 53)
            .into_iter()
            .filter(|p| simple_dns::Packet::parse(p).is_err())
            .collect();
        assert!(!refused.is_empty());
        let tsig = refused
            .iter()
            .map(|p| parse_message(p).unwrap())
            .find(|m| {
                m.is_response
                    && m.additional
                        .iter()
                        .any(|r| r.data == DnsData::Other { rtype: 250 })
            })
            .expect("the TSIG-signed response");
        assert!(tsig.complete);
        assert_eq!(tsig.questions[0].name, "weberdns.de");
        let ns1 = (
            IpAddr::from([80, 154, 108, 230]),
            vec!["ns1.weberdns.de".to_string()],
        );
        assert!(
            address_names(&tsig)
                .iter()
                .any(|p| (p.0, p.1.clone()) == ns1)
        );

        // A record cut short after two good answers: simple-dns keeps nothing.
        let mut m = header(RESPONSE, 1, 3, 0, 0);
        m.extend(question(&name("zeek.org"), TYPE_A));
        m.extend(rr(&ptr(12), TYPE_A, 60, &[192, 0, 78, 212]));
        m.extend(rr(&ptr(12), TYPE_A, 60, &[192, 0, 78, 150]));
        m.extend(&rr(&ptr(12), TYPE_A, 60, &[1, 2, 3, 4])[..8]);
        assert!(simple_dns::Packet::parse(&m).is_err());
        assert_eq!(parse_message(&m).unwrap().answers.len(), 2);
    }

    #[test]
    fn cname_chain_from_capture() {
        let Some((_, pairs)) = capture_names("zeek/dns-edns-ecs.pcap") else {
            return;
        };
        let chain: Vec<String> = [
            "www.netflix.com",
            "www.geo.netflix.com",
            "www.eu-west-1.prodaa.netflix.com",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        assert!(pairs.iter().any(|p| p.1 == chain), "{pairs:?}");
    }

    #[test]
    fn max_compression_depth_capture_gives_seven_addresses() {
        let Some((_, pairs)) = capture_names("zeek/dns_max-compression-depth.pcap") else {
            return;
        };
        let want: Vec<IpAddr> = (1..=7).map(|i| IpAddr::from([127, 0, 0, i])).collect();
        assert_eq!(pairs.iter().map(|p| p.0).collect::<Vec<_>>(), want);
        assert!(
            pairs
                .iter()
                .all(|p| p.1 == vec!["a".to_string()] && p.2 == 300)
        );
    }

    #[test]
    fn mdns_capture_maps_the_host_in_answers_and_additional() {
        let Some((_, pairs)) = capture_names("zeek/dns_mdns.pcap") else {
            return;
        };
        let host = vec!["johanna-qemu-virtual-machine.local".to_string()];
        for addr in [
            "10.0.2.7",
            "fd52:429e:c03c:8235:883c:d6ff:fee1:4dc4",
            "fd52:429e:c03c:8235:5968:5bc6:1563:f82f",
        ] {
            let ip: IpAddr = addr.parse().unwrap();
            assert!(
                pairs.iter().any(|p| p.0 == ip && p.1 == host),
                "{addr} not mapped: {pairs:?}"
            );
        }
        assert!(pairs.iter().all(|p| p.1 == host));
    }

    #[test]
    fn odd_captures_parse_without_inventing_names() {
        // HTTPS records only: no address.
        if let Some((names, _)) = capture_names("zeek/dns-https.pcap") {
            assert!(names.is_empty(), "{names:?}");
        }
        // Truncated names, a self-pointer, a cut question: no answer, no panic.
        if let Some(pkts) = test_pcap::read("zeek/dns_dns-invalid-names.pcap") {
            for p in test_pcap::udp_payloads(&pkts, 53) {
                assert!(parse_message(&p).is_err());
            }
        }
        // Compression-pointer loops (zlip) and a garbage header with huge counts.
        for file in [
            "tcpdump/dns-zlip-1.pcap",
            "tcpdump/dns-zlip-2.pcap",
            "tcpdump/dns-zlip-3.pcap",
            "tcpdump/dns-badlabel.pcap",
        ] {
            let Some(pkts) = test_pcap::read(file) else {
                return;
            };
            let payloads = test_pcap::udp_payloads(&pkts, 53);
            assert!(!payloads.is_empty(), "{file}");
            for p in payloads {
                assert!(parse_message(&p).is_err(), "{file}");
            }
        }
    }
}
