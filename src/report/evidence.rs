//! The evidence file: the packets of every flagged flow, and the DNS answers that named
//! them, as a pcapng anyone can open in Wireshark. Each packet carries a comment (the
//! Enhanced Packet Block's `opt_comment`) saying why it is there, in the report's words:
//! `flow 13 flagged (telemetry, rule metrics): ...` or `DNS answer naming flow 13: metrics.plex.tv`.
//! Timestamps, link types and original lengths are those of the capture; there is one
//! Interface Description Block per link type.

use super::Report;
use super::model::FlowReport;
use crate::names::NameSource;
use crate::pipeline::EvidenceStore;
use crate::pipeline::evidence::KeptPacket;
use crate::rules::verdict::VerdictKind;
use crate::text::neutralise;
use pcap_file::pcapng::PcapNgWriter;
use pcap_file::pcapng::blocks::enhanced_packet::{EnhancedPacketBlock, EnhancedPacketOption};
use pcap_file::pcapng::blocks::interface_description::{
    InterfaceDescriptionBlock, InterfaceDescriptionOption,
};
use pcap_file::pcapng::blocks::section_header::{SectionHeaderBlock, SectionHeaderOption};
use pcap_file::{DataLink, Endianness};
use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

/// How much of a flow's reason a comment carries, in characters.
const REASON_CHARS: usize = 200;

/// One packet of the evidence, and why it is there.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EvidencePacket {
    pub packet: KeptPacket,
    /// One comment per reason (a packet can be a flagged flow's and a DNS answer).
    pub comments: Vec<String>,
}

/// The evidence of an audit, in capture order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Evidence {
    pub packets: Vec<EvidencePacket>,
    /// Flagged flows whose packets the evidence holds fewer of than the flow counted
    /// (the caps dropped some), and how many are missing in all.
    pub incomplete_flows: usize,
    pub missing_packets: u64,
}

impl Evidence {
    /// Picks the packets of the flagged flows among `flows`, and the DNS answers for their
    /// names, out of `store`.
    pub fn collect(store: EvidenceStore, flows: &[FlowReport]) -> Evidence {
        let flagged: BTreeMap<u64, &FlowReport> = flows
            .iter()
            .filter(|f| f.verdict.kind == VerdictKind::Flagged)
            .map(|f| (f.id, f))
            .collect();
        // every name a DNS answer gave a flagged flow, and the flows it named
        let mut named: BTreeMap<String, Vec<u64>> = BTreeMap::new();
        for f in flagged.values() {
            for n in f.names.iter().filter(|n| n.source == NameSource::DnsAnswer) {
                let ids = named.entry(n.name.clone()).or_default();
                if !ids.contains(&f.id) {
                    ids.push(f.id);
                }
            }
        }
        let ids: BTreeSet<u64> = flagged.keys().copied().collect();
        let names: BTreeSet<String> = named.keys().cloned().collect();
        let mut kept_per_flow: BTreeMap<u64, u64> = BTreeMap::new();
        let packets: Vec<EvidencePacket> = store
            .select(&ids, &names)
            .into_iter()
            .map(|s| {
                let mut comments = Vec::new();
                if let Some(f) = s.flow.and_then(|id| flagged.get(&id)) {
                    *kept_per_flow.entry(f.id).or_default() += 1;
                    comments.push(flow_comment(f));
                }
                for n in &s.dns_names {
                    if let Some(ids) = named.get(n) {
                        comments.push(dns_comment(n, ids));
                    }
                }
                EvidencePacket {
                    packet: s.packet,
                    comments,
                }
            })
            .collect();
        let mut incomplete_flows = 0;
        let mut missing_packets = 0;
        for f in flagged.values() {
            let counted = f.up.packets + f.down.packets;
            let kept = kept_per_flow.get(&f.id).copied().unwrap_or(0);
            if kept < counted {
                incomplete_flows += 1;
                missing_packets += counted - kept;
            }
        }
        Evidence {
            packets,
            incomplete_flows,
            missing_packets,
        }
    }

    /// The evidence of `report`'s flagged flows, from the packets the pipeline kept; the
    /// report gets a warning when the caps left the evidence incomplete.
    pub fn for_report(store: EvidenceStore, report: &mut Report) -> Evidence {
        let evidence = Evidence::collect(store, &report.flows);
        if evidence.missing_packets > 0 {
            report.warnings.push(format!(
                "the evidence lacks {} packets of {} flagged flows: its caps ({} packets dropped) or IP fragments held for reassembly kept them out",
                evidence.missing_packets, evidence.incomplete_flows, report.counters.evidence_evictions
            ));
        }
        evidence
    }

    /// The evidence as a pcapng file.
    pub fn to_pcapng(&self) -> Result<Vec<u8>, String> {
        let section = SectionHeaderBlock {
            endianness: Endianness::Little,
            options: vec![SectionHeaderOption::UserApplication(Cow::Owned(format!(
                "telltale {}",
                env!("CARGO_PKG_VERSION")
            )))],
            ..Default::default()
        };
        let err = |e: pcap_file::PcapError| format!("cannot write the evidence: {e}");
        let mut w = PcapNgWriter::with_section_header(Vec::new(), section).map_err(err)?;
        // one interface per link type, in the order they first appear
        let mut interfaces: Vec<u32> = Vec::new();
        for p in &self.packets {
            let link = p.packet.link.0;
            let id = match interfaces.iter().position(|l| *l == link) {
                Some(i) => i,
                None => {
                    w.write_pcapng_block(InterfaceDescriptionBlock {
                        linktype: DataLink::from(link),
                        // no limit: the packets keep the lengths they were captured with
                        snaplen: 0,
                        options: vec![InterfaceDescriptionOption::IfTsResol(9)],
                    })
                    .map_err(err)?;
                    interfaces.push(link);
                    interfaces.len() - 1
                }
            };
            let nanos = u64::try_from(p.packet.ts.0).unwrap_or(0);
            w.write_pcapng_block(EnhancedPacketBlock {
                interface_id: u32::try_from(id).map_err(|_| "too many link types".to_string())?,
                timestamp: Duration::from_nanos(nanos),
                original_len: p.packet.orig_len,
                data: Cow::Borrowed(&p.packet.data),
                options: p
                    .comments
                    .iter()
                    .map(|c| EnhancedPacketOption::Comment(Cow::Borrowed(c.as_str())))
                    .collect(),
            })
            .map_err(err)?;
        }
        Ok(w.into_inner())
    }
}

/// `flow 13 flagged (telemetry, rule metrics): <reason, shortened>`.
fn flow_comment(f: &FlowReport) -> String {
    let v = &f.verdict;
    let why = match &v.rule {
        Some(rule) => format!("{}, rule {}", v.category, rule),
        None => v.category.clone(),
    };
    format!(
        "flow {} flagged ({}): {}",
        f.id,
        neutralise(&why),
        shorten(&neutralise(&v.reason), REASON_CHARS)
    )
}

/// `DNS answer naming flow 13: metrics.plex.tv` (or `flows 13, 15`).
fn dns_comment(name: &str, ids: &[u64]) -> String {
    let list: Vec<String> = ids.iter().map(u64::to_string).collect();
    format!(
        "DNS answer naming flow{} {}: {}",
        if ids.len() == 1 { "" } else { "s" },
        list.join(", "),
        neutralise(name)
    )
}

/// At most about `max` characters: the beginning and the end (where a reason says what it
/// concludes), cut at words, joined by ` … `.
fn shorten(s: &str, max: usize) -> String {
    let chars: Vec<char> = s.chars().collect();
    if chars.len() <= max {
        return s.to_string();
    }
    let head_len = max * 2 / 3;
    let tail_len = max.saturating_sub(head_len + 3);
    let head: String = chars.iter().take(head_len).collect();
    let tail: String = chars
        .iter()
        .skip(chars.len().saturating_sub(tail_len))
        .collect();
    // whole words only: a cut word is dropped, unless the text has no space there
    let head = match head.rfind(' ') {
        Some(i) if chars.get(head_len) != Some(&' ') => head.get(..i).unwrap_or(&head),
        _ => &head,
    };
    let tail_start = chars.len().saturating_sub(tail_len);
    let tail = match tail.find(' ') {
        Some(i) if tail_start > 0 && chars.get(tail_start - 1) != Some(&' ') => {
            tail.get(i + 1..).unwrap_or(&tail)
        }
        _ => &tail,
    };
    format!("{} … {}", head.trim_end(), tail.trim_start())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::{LinkType, RawPacket};
    use crate::time::Timestamp;

    #[test]
    fn shortens_to_its_beginning_and_end_at_words_and_never_splits_a_character() {
        assert_eq!(shorten("short", 10), "short");
        assert_eq!(
            shorten("one two three four five six seven eight nine ten", 30),
            "one two three four … ten"
        );
        assert_eq!(
            shorten("one two three four five six seven eight nine ten", 31),
            "one two three four … nine ten"
        );
        let long = "é".repeat(50);
        let s = shorten(&long, 12);
        assert_eq!(s, format!("{} … é", "é".repeat(8)));
    }

    #[test]
    fn dns_comments_name_one_or_several_flows() {
        assert_eq!(
            dns_comment("metrics.plex.tv", &[13]),
            "DNS answer naming flow 13: metrics.plex.tv"
        );
        assert_eq!(
            dns_comment("a\u{1b}b", &[1, 2]),
            "DNS answer naming flows 1, 2: a\\u{1b}b"
        );
    }

    #[test]
    fn writes_one_interface_per_link_type_and_every_comment() {
        let mut store = EvidenceStore::new(1 << 20, 512);
        let eth = [1u8; 60];
        let raw = [0x45u8; 40];
        store.keep_flow_packet(
            1,
            0,
            &RawPacket {
                ts: Timestamp(1_700_000_000_123_456_789),
                link: LinkType::ETHERNET,
                data: &eth,
                orig_len: 1514,
                interface: 0,
            },
        );
        store.keep_flow_packet(
            1,
            1,
            &RawPacket {
                ts: Timestamp(1_700_000_001_000_000_000),
                link: LinkType::RAW,
                data: &raw,
                orig_len: 40,
                interface: 3,
            },
        );
        let picked = store.select(&[1].into_iter().collect(), &BTreeSet::new());
        let ev = Evidence {
            packets: picked
                .into_iter()
                .map(|s| EvidencePacket {
                    packet: s.packet,
                    comments: vec!["flow 1 flagged (x): y".into()],
                })
                .collect(),
            ..Default::default()
        };
        let bytes = ev.to_pcapng().unwrap();
        let mut reader = crate::capture::file::CaptureReader::from_reader(
            "evidence",
            Box::new(std::io::Cursor::new(bytes.clone())),
        )
        .unwrap();
        let mut seen = Vec::new();
        while let Some(p) = reader.next_packet() {
            seen.push((p.ts, p.link, p.orig_len, p.data.to_vec()));
        }
        assert_eq!(
            seen,
            [
                (
                    Timestamp(1_700_000_000_123_456_789),
                    LinkType::ETHERNET,
                    1514,
                    eth.to_vec()
                ),
                (
                    Timestamp(1_700_000_001_000_000_000),
                    LinkType::RAW,
                    40,
                    raw.to_vec()
                ),
            ]
        );
        let text = String::from_utf8_lossy(&bytes);
        assert_eq!(text.matches("flow 1 flagged (x): y").count(), 2);
    }
}
