//! The classic pcap format: the file header (either byte order, micro- or nanosecond, and the
//! "modified" variant) and its packet records.

use super::*;

const PCAP_HEADER_LEN: usize = 24;
const PCAP_RECORD_HEADER_LEN: usize = 16;
const PCAP_MODIFIED_RECORD_HEADER_LEN: usize = 24;

impl CaptureReader {
    pub(super) fn read_pcap_header(&mut self) -> Result<(), CaptureError> {
        if !self.fill(PCAP_HEADER_LEN) {
            let have = self.available();
            return Err(self.bad_header(
                "pcap",
                format!("the file ends inside the 24-byte file header ({have} bytes present)"),
            ));
        }
        let header = match parse_pcap_header(self.unread()) {
            Ok((_, h)) => h,
            Err(_) => return Err(self.bad_header("pcap", "the file header does not parse")),
        };
        if header.magic_number == 0x34CD_B2A1 {
            return Err(self.bad_header(
                "pcap",
                "big-endian \"modified\" pcap (Kuznetzov patches) is not supported",
            ));
        }
        self.info.format = CaptureFormat::Pcap;
        self.big_endian = header.is_bigendian();
        self.nanos = header.is_nanosecond_precision();
        self.modified = header.is_modified_format();
        // The upper bits of the link-type field carry FCS information, not the link type.
        self.pcap_link = LinkType((header.network.0 as u32) & 0x03FF_FFFF);
        self.start += PCAP_HEADER_LEN;
        Ok(())
    }

    pub(super) fn next_pcap(&mut self) -> Option<Found> {
        let header_len = if self.modified {
            PCAP_MODIFIED_RECORD_HEADER_LEN
        } else {
            PCAP_RECORD_HEADER_LEN
        };
        if !self.fill(header_len) {
            if self.available() == 0 {
                return self.end_of_input();
            }
            return self.cut_short("packet record header", header_len);
        }
        loop {
            let avail = self.unread();
            let parsed = if self.modified {
                parse_pcap_frame_modified(avail)
            } else if self.big_endian {
                parse_pcap_frame_be(avail)
            } else {
                parse_pcap_frame(avail)
            };
            match parsed {
                Ok((rest, rec)) => {
                    let record_len = avail.len().saturating_sub(rest.len());
                    let data_len = rec.data.len();
                    let data_start = self
                        .start
                        .saturating_add(record_len)
                        .saturating_sub(data_len);
                    let frac = i64::from(rec.ts_usec);
                    let nanos = if self.nanos {
                        frac
                    } else {
                        frac.saturating_mul(1000)
                    };
                    return Some(Found {
                        ts: Timestamp::from_secs_nanos(i64::from(rec.ts_sec), nanos),
                        link: self.pcap_link,
                        data_start,
                        data_len,
                        orig_len: rec.origlen.max(rec.caplen),
                        interface: 0,
                        record_len,
                    });
                }
                Err(NomErr::Incomplete(needed)) => {
                    let more = match needed {
                        Needed::Size(n) => n.get(),
                        Needed::Unknown => 1,
                    };
                    let need = avail.len().saturating_add(more);
                    if need > MAX_RECORD.saturating_add(header_len) {
                        let claimed = need.saturating_sub(header_len);
                        return self.stop(format!(
                            "a packet record claims {claimed} bytes, more than any real packet (the file is corrupt from here)"
                        ));
                    }
                    if !self.fill(need) {
                        return self.cut_short("packet record", need);
                    }
                }
                Err(_) => {
                    return self.stop(
                        "a packet record does not parse (the file is corrupt from here)"
                            .to_string(),
                    );
                }
            }
        }
    }

    // ----- pcapng -----
}
