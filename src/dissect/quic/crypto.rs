//! QUIC Initial packet protection (RFC 9001 section 5, RFC 9369 section 3.3): the
//! client's Initial keys come from HKDF-SHA256 over a per-version salt and the
//! destination connection ID, so anyone on the path can remove them. All cryptography
//! is `ring`'s: HKDF, AES-128-GCM and the AES header-protection mask.

use ring::aead::{self, Aad, LessSafeKey, Nonce, UnboundKey, quic::HeaderProtectionKey};
use ring::hkdf;

/// The QUIC versions whose Initial packets can be read, with their salt and labels.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VersionKeys {
    pub salt: &'static [u8; 20],
    /// `quic ` for v1 and the drafts, `quicv2 ` for v2.
    pub label_prefix: &'static str,
}

const SALT_V1: [u8; 20] = hex20("38762cf7f55934b34d179ae6a4c80cadccbb7f0a");
const SALT_V2: [u8; 20] = hex20("0dede3def700a6db819381be6e269dcbf9bd2ed9");
const SALT_D29: [u8; 20] = hex20("afbfec289993d24c9e9786f19c6111e04390a899");
const SALT_D23: [u8; 20] = hex20("c3eef712c72ebb5a11a7d2432bb46365bef9f502");
const SALT_D21: [u8; 20] = hex20("7fbcdb0e7c66bbe9193a96cd21519ebd7a02644a");
const SALT_D17: [u8; 20] = hex20("ef4fb0abb47470c41befcf8031334fae485e09a0");
// Google's IETF-style versions, each with a salt of its own (Chromium's quic_versions.cc, as
// Wireshark's and nDPI's QUIC dissectors list them): T050 and T051 carry TLS, Q050 a gQUIC CHLO.
const SALT_T050: [u8; 20] = hex20("7ff579e5acd072915580304c43a2367c60488310");
const SALT_T051: [u8; 20] = hex20("7a4edef4e7ccee5fa4506c19124fc8ccda6e033d");
const SALT_Q050: [u8; 20] = hex20("504574efd066fe2f9d945cfcdbd3a7f0d3b56b45");

pub const VERSION_1: u32 = 0x0000_0001;
pub const VERSION_2: u32 = 0x6b33_43cf;
pub const VERSION_T050: u32 = 0x5430_3530;
pub const VERSION_T051: u32 = 0x5430_3531;
pub const VERSION_Q050: u32 = 0x5130_3530;

/// Whether a version is one of those reserved to force version negotiation
/// (`0x?a?a?a?a`, RFC 9000 section 15): clients send them to test it, and common stacks protect
/// such an Initial with the keys of a version they know (v1's, most often).
pub fn is_reserved(version: u32) -> bool {
    version & 0x0f0f_0f0f == 0x0a0a_0a0a
}

/// The keys for a version, if its Initial salt is known: v1, v2, IETF drafts 17 to 34,
/// Facebook's mvfst versions (0xfaceb001 is draft-22's protection; 0xfaceb002 and the
/// experimental 0xfaceb00e are draft-27's), and Google's T050, T051 and Q050.
pub fn version_keys(version: u32) -> Option<VersionKeys> {
    let v1 = |salt| {
        Some(VersionKeys {
            salt,
            label_prefix: "quic ",
        })
    };
    match version {
        VERSION_1 => v1(&SALT_V1),
        VERSION_2 => Some(VersionKeys {
            salt: &SALT_V2,
            label_prefix: "quicv2 ",
        }),
        0xff00_0021 | 0xff00_0022 => v1(&SALT_V1),
        0xff00_001d..=0xff00_0020 => v1(&SALT_D29),
        0xff00_0017..=0xff00_001c | 0xface_b002 | 0xface_b00e => v1(&SALT_D23),
        0xff00_0015 | 0xff00_0016 | 0xface_b001 => v1(&SALT_D21),
        0xff00_0011..=0xff00_0014 => v1(&SALT_D17),
        VERSION_T050 => v1(&SALT_T050),
        VERSION_T051 => v1(&SALT_T051),
        VERSION_Q050 => v1(&SALT_Q050),
        _ => None,
    }
}

/// Every Initial protection known, each named by the version it belongs to, in the order a
/// version with no entry of its own tries them (the commonest first). An AEAD tag that verifies
/// proves the guess; a wrong one costs one failed open.
pub const GUESSES: [(&str, VersionKeys); 8] = [
    (
        "1",
        VersionKeys {
            salt: &SALT_V1,
            label_prefix: "quic ",
        },
    ),
    (
        "2",
        VersionKeys {
            salt: &SALT_V2,
            label_prefix: "quicv2 ",
        },
    ),
    (
        "draft-29",
        VersionKeys {
            salt: &SALT_D29,
            label_prefix: "quic ",
        },
    ),
    (
        "draft-27",
        VersionKeys {
            salt: &SALT_D23,
            label_prefix: "quic ",
        },
    ),
    (
        "draft-22",
        VersionKeys {
            salt: &SALT_D21,
            label_prefix: "quic ",
        },
    ),
    (
        "T051",
        VersionKeys {
            salt: &SALT_T051,
            label_prefix: "quic ",
        },
    ),
    (
        "T050",
        VersionKeys {
            salt: &SALT_T050,
            label_prefix: "quic ",
        },
    ),
    (
        "draft-17",
        VersionKeys {
            salt: &SALT_D17,
            label_prefix: "quic ",
        },
    ),
];

/// A client's Initial keys for one destination connection ID.
pub struct InitialKeys {
    key: LessSafeKey,
    iv: [u8; 12],
    hp: HeaderProtectionKey,
}

/// The raw key material, for tests against the RFCs' appendices.
#[derive(Debug, PartialEq, Eq)]
pub struct KeyMaterial {
    /// The side's Initial secret (`client_initial_secret` or `server_initial_secret`).
    pub secret: [u8; 32],
    pub key: [u8; 16],
    pub iv: [u8; 12],
    pub hp: [u8; 16],
}

struct Len(usize);

impl hkdf::KeyType for Len {
    fn len(&self) -> usize {
        self.0
    }
}

/// HKDF-Expand-Label (RFC 8446 section 7.1) with an empty context.
fn expand_label(prk: &hkdf::Prk, label: &str, out: &mut [u8]) -> Option<()> {
    let full = format!("tls13 {label}");
    let len = u16::try_from(out.len()).ok()?.to_be_bytes();
    let label_len = [u8::try_from(full.len()).ok()?];
    let info: [&[u8]; 4] = [&len, &label_len, full.as_bytes(), &[0u8]];
    prk.expand(&info, Len(out.len())).ok()?.fill(out).ok()
}

/// Which side's Initial keys.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    Client,
    Server,
}

/// The Initial key material of one side, for the client's first destination connection ID.
pub fn key_material(v: VersionKeys, dcid: &[u8], side: Side) -> Option<KeyMaterial> {
    let initial = hkdf::Salt::new(hkdf::HKDF_SHA256, v.salt).extract(dcid);
    let mut client_secret = [0u8; 32];
    let label = if side == Side::Client {
        "client in"
    } else {
        "server in"
    };
    expand_label(&initial, label, &mut client_secret)?;
    let client = hkdf::Prk::new_less_safe(hkdf::HKDF_SHA256, &client_secret);
    let mut m = KeyMaterial {
        secret: client_secret,
        key: [0; 16],
        iv: [0; 12],
        hp: [0; 16],
    };
    expand_label(&client, &format!("{}key", v.label_prefix), &mut m.key)?;
    expand_label(&client, &format!("{}iv", v.label_prefix), &mut m.iv)?;
    expand_label(&client, &format!("{}hp", v.label_prefix), &mut m.hp)?;
    Some(m)
}

impl InitialKeys {
    pub fn client(v: VersionKeys, dcid: &[u8]) -> Option<InitialKeys> {
        let m = key_material(v, dcid, Side::Client)?;
        Some(InitialKeys {
            key: LessSafeKey::new(UnboundKey::new(&aead::AES_128_GCM, &m.key).ok()?),
            iv: m.iv,
            hp: HeaderProtectionKey::new(&aead::quic::AES_128, &m.hp).ok()?,
        })
    }

    /// The 5-byte header-protection mask for a 16-byte sample.
    pub fn mask(&self, sample: &[u8]) -> Option<[u8; 5]> {
        self.hp.new_mask(sample).ok()
    }

    /// Decrypts a packet's payload in place (ciphertext followed by its 16-byte tag)
    /// with the unprotected header as associated data; returns the plaintext.
    pub fn open<'a>(
        &self,
        packet_number: u64,
        header: &[u8],
        payload: &'a mut [u8],
    ) -> Option<&'a mut [u8]> {
        let mut nonce = self.iv;
        for (n, p) in nonce
            .iter_mut()
            .rev()
            .zip(packet_number.to_be_bytes().iter().rev())
        {
            *n ^= p;
        }
        self.key
            .open_in_place(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(header),
                payload,
            )
            .ok()
            .map(|p| &mut p[..])
    }
}

/// Evaluated at compile time on the literals above: a bad literal fails the build.
#[allow(clippy::indexing_slicing)]
const fn hex20(s: &str) -> [u8; 20] {
    let b = s.as_bytes();
    let mut out = [0u8; 20];
    let mut i = 0;
    while i < 20 {
        out[i] = (nibble(b[2 * i]) << 4) | nibble(b[2 * i + 1]);
        i += 1;
    }
    out
}

const fn nibble(c: u8) -> u8 {
    match c {
        b'0'..=b'9' => c - b'0',
        b'a'..=b'f' => c - b'a' + 10,
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    #[test]
    fn rfc9001_appendix_a1_client_keys() {
        let m = key_material(
            version_keys(VERSION_1).unwrap(),
            &hex("8394c8f03e515708"),
            Side::Client,
        )
        .unwrap();
        assert_eq!(
            m.secret.to_vec(),
            hex("c00cf151ca5be075ed0ebfb5c80323c42d6b7db67881289af4008f1f6c357aea")
        );
        assert_eq!(m.key.to_vec(), hex("1f369613dd76d5467730efcbe3b1a22d"));
        assert_eq!(m.iv.to_vec(), hex("fa044b2f42a3fd3b46fb255c"));
        assert_eq!(m.hp.to_vec(), hex("9f50449e04a0e810283a1e9933adedd2"));
    }

    #[test]
    fn rfc9001_appendix_a2_header_protection_mask() {
        let keys = InitialKeys::client(version_keys(VERSION_1).unwrap(), &hex("8394c8f03e515708"))
            .unwrap();
        let mask = keys.mask(&hex("d1b1c98dd7689fb8ec11d242b123dc9b")).unwrap();
        assert_eq!(mask.to_vec(), hex("437b9aec36"));
    }

    #[test]
    fn rfc9369_appendix_a1_client_keys() {
        let m = key_material(
            version_keys(VERSION_2).unwrap(),
            &hex("8394c8f03e515708"),
            Side::Client,
        )
        .unwrap();
        assert_eq!(
            m.secret.to_vec(),
            hex("14ec9d6eb9fd7af83bf5a668bc17a7e283766aade7ecd0891f70f9ff7f4bf47b")
        );
        assert_eq!(m.key.to_vec(), hex("8b1a0bc121284290a29e0971b5cd045d"));
        assert_eq!(m.iv.to_vec(), hex("91f73e2351d8fa91660e909f"));
        assert_eq!(m.hp.to_vec(), hex("45b95e15235d6f45a6b19cbcb0294ba9"));
    }

    #[test]
    fn rfc9369_appendix_a2_header_protection_mask() {
        let keys = InitialKeys::client(version_keys(VERSION_2).unwrap(), &hex("8394c8f03e515708"))
            .unwrap();
        let mask = keys.mask(&hex("ffe67b6abcdb4298b485dd04de806071")).unwrap();
        assert_eq!(mask.to_vec(), hex("94a0c95e80"));
    }

    #[test]
    fn unknown_versions_have_no_keys() {
        assert!(version_keys(0x1a2a_3a4a).is_none()); // a reserved, greasing version
        assert!(version_keys(0).is_none());
        assert!(version_keys(0xff00_001d).is_some());
        assert!(is_reserved(0x1a2a_3a4a) && is_reserved(0xfafa_fafa));
        assert!(!is_reserved(VERSION_1) && !is_reserved(0x0a0a_0a0b));
    }

    #[test]
    fn vendor_versions_use_the_salts_the_public_dissectors_give() {
        // mvfst: 0xfaceb001 is draft-22's protection, 0xfaceb002 and 0xfaceb00e draft-27's
        assert_eq!(version_keys(0xface_b001), version_keys(0xff00_0016));
        assert_eq!(version_keys(0xface_b002), version_keys(0xff00_001b));
        assert_eq!(version_keys(0xface_b00e), version_keys(0xff00_001b));
        assert_ne!(version_keys(0xface_b002), version_keys(0xff00_001d));
        // Google's own salts, with v1's labels
        for (v, salt) in [
            (VERSION_T050, "7ff579e5acd072915580304c43a2367c60488310"),
            (VERSION_T051, "7a4edef4e7ccee5fa4506c19124fc8ccda6e033d"),
            (VERSION_Q050, "504574efd066fe2f9d945cfcdbd3a7f0d3b56b45"),
        ] {
            let k = version_keys(v).unwrap();
            assert_eq!(k.salt.to_vec(), hex(salt));
            assert_eq!(k.label_prefix, "quic ");
        }
        // every guess is a distinct protection
        for (i, (_, a)) in GUESSES.iter().enumerate() {
            for (_, b) in &GUESSES[i + 1..] {
                assert_ne!(a, b);
            }
        }
    }
}
