//! TCP state for a flow: the Zeek-style history string (upper case for the client,
//! lower case for the server) and the final connection state.
//!
//! History letters: `S` SYN, `H` SYN-ACK, `A` pure ACK, `D` data, `F` FIN, `R` RST,
//! `T` retransmitted data. Each letter is recorded once per direction, in order.

use crate::decode::tcp_flags::{ACK, FIN, RST, SYN};
use serde::Serialize;

#[derive(Clone, Debug, Default)]
pub struct TcpTracker {
    history: String,
    /// Letters seen, per direction: bit per letter.
    seen: [u8; 2],
    syn: [bool; 2],
    synack: [bool; 2],
    fin: [bool; 2],
    rst: [bool; 2],
    /// Highest sequence number reached by data, per direction (None until data is seen).
    next_seq: [Option<u32>; 2],
}

const LETTERS: &[u8; 7] = b"SHADFRT";

/// Zeek's connection states.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum ConnState {
    /// A SYN with no reply.
    S0,
    /// Established, not closed.
    S1,
    /// Established and closed normally.
    SF,
    /// The SYN was answered by a reset.
    REJ,
    /// Established; only the client closed.
    S2,
    /// Established; only the server closed.
    S3,
    /// Established; the client reset it.
    RSTO,
    /// Established; the server reset it.
    RSTR,
    /// The client sent SYN then RST, no reply.
    RSTOS0,
    /// The server sent SYN-ACK then RST; no client SYN seen.
    RSTRH,
    /// The client sent SYN then FIN, no reply.
    SH,
    /// The server sent SYN-ACK then FIN; no client SYN seen.
    SHR,
    /// No SYN seen: the capture began mid-connection.
    OTH,
}

/// Sets one direction's flag (`d` is 0 for the client, 1 for the server).
fn set(flags: &mut [bool; 2], d: usize) {
    if let Some(f) = flags.get_mut(d) {
        *f = true;
    }
}

impl TcpTracker {
    /// Records one segment; `from_client` gives its direction.
    pub fn update(&mut self, from_client: bool, flags: u8, seq: u32, payload_len: u32) {
        let d = usize::from(!from_client);
        let syn = flags & SYN != 0;
        let ack = flags & ACK != 0;
        if syn && !ack {
            set(&mut self.syn, d);
            self.mark(d, b'S');
        }
        if syn && ack {
            set(&mut self.synack, d);
            self.mark(d, b'H');
        }
        if flags & FIN != 0 {
            set(&mut self.fin, d);
            self.mark(d, b'F');
        }
        if flags & RST != 0 {
            set(&mut self.rst, d);
            self.mark(d, b'R');
        }
        if payload_len > 0 {
            let end = seq.wrapping_add(payload_len);
            match self.next_seq.get(d).copied().flatten() {
                // data that ends at or before what was already seen is a retransmission
                Some(next) if (end.wrapping_sub(next) as i32) <= 0 => self.mark(d, b'T'),
                _ => {
                    if let Some(n) = self.next_seq.get_mut(d) {
                        *n = Some(end);
                    }
                    self.mark(d, b'D');
                }
            }
        } else if ack && !syn && flags & (FIN | RST) == 0 {
            self.mark(d, b'A');
        }
    }

    fn mark(&mut self, d: usize, letter: u8) {
        let Some(bit) = LETTERS.iter().position(|&l| l == letter) else {
            return;
        };
        let Some(seen) = self.seen.get_mut(d) else {
            return;
        };
        if *seen & (1 << bit) == 0 {
            *seen |= 1 << bit;
            let c = char::from(letter);
            self.history
                .push(if d == 0 { c } else { c.to_ascii_lowercase() });
        }
    }

    pub fn history(&self) -> &str {
        &self.history
    }

    /// Both sides have closed, or one reset: a new SYN on the same endpoints is a new flow.
    pub fn closed(&self) -> bool {
        (self.fin[0] && self.fin[1]) || self.rst[0] || self.rst[1]
    }

    pub fn state(&self) -> ConnState {
        let (osyn, rsynack) = (self.syn[0], self.synack[1]);
        let (ofin, rfin, orst, rrst) = (self.fin[0], self.fin[1], self.rst[0], self.rst[1]);
        let replied = self.seen[1] != 0;
        if !osyn && !rsynack {
            return ConnState::OTH;
        }
        if osyn && !rsynack {
            return if rrst {
                ConnState::REJ
            } else if orst {
                ConnState::RSTOS0
            } else if ofin {
                ConnState::SH
            } else if replied {
                ConnState::OTH
            } else {
                ConnState::S0
            };
        }
        if !osyn {
            return if rrst {
                ConnState::RSTRH
            } else if rfin {
                ConnState::SHR
            } else {
                ConnState::OTH
            };
        }
        match (orst, rrst, ofin, rfin) {
            (true, _, _, _) => ConnState::RSTO,
            (_, true, _, _) => ConnState::RSTR,
            (_, _, true, true) => ConnState::SF,
            (_, _, true, false) => ConnState::S2,
            (_, _, false, true) => ConnState::S3,
            _ => ConnState::S1,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::tcp_flags::PSH;

    #[test]
    fn a_normal_connection() {
        let mut t = TcpTracker::default();
        t.update(true, SYN, 100, 0);
        t.update(false, SYN | ACK, 500, 0);
        t.update(true, ACK, 101, 0);
        t.update(true, ACK | PSH, 101, 50);
        t.update(false, ACK | PSH, 501, 1000);
        t.update(true, ACK | PSH, 101, 50); // retransmitted
        t.update(true, FIN | ACK, 151, 0);
        t.update(false, FIN | ACK, 1501, 0);
        t.update(true, ACK, 152, 0);
        assert_eq!(t.history(), "ShADdTFf");
        assert_eq!(t.state(), ConnState::SF);
        assert!(t.closed());
    }

    #[test]
    fn states() {
        let mut t = TcpTracker::default();
        t.update(true, SYN, 1, 0);
        assert_eq!(t.state(), ConnState::S0);
        t.update(false, RST | ACK, 0, 0);
        assert_eq!(t.state(), ConnState::REJ);

        let mut t = TcpTracker::default();
        t.update(true, ACK, 1, 10);
        assert_eq!(t.state(), ConnState::OTH);
        assert_eq!(t.history(), "D");

        let mut t = TcpTracker::default();
        t.update(true, SYN, 1, 0);
        t.update(false, SYN | ACK, 1, 0);
        assert_eq!(t.state(), ConnState::S1);
        t.update(false, RST, 2, 0);
        assert_eq!(t.state(), ConnState::RSTR);
    }

    #[test]
    fn sequence_wraps() {
        let mut t = TcpTracker::default();
        t.update(true, ACK, u32::MAX - 10, 20);
        t.update(true, ACK, 9, 20); // continues past the wrap
        assert_eq!(t.history(), "D");
        t.update(true, ACK, 9, 20);
        assert_eq!(t.history(), "DT");
    }
}
