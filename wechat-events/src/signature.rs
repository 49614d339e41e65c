//! WeChat's SHA-1 signatures.
//!
//! Every signature WeChat uses is the same recipe: sort the parts as
//! strings, concatenate them without a separator, SHA-1, lower-case hex.
//! The handshake and plaintext pushes sign `[token, timestamp, nonce]`;
//! secure mode's `msg_signature` adds the `Encrypt` text. Comparison is
//! constant-time so a forger learns nothing from response timing.

use sha1::{Digest, Sha1};
use subtle::ConstantTimeEq;

/// Computes WeChat's signature over `parts`: sorted as strings, joined
/// with no separator, SHA-1, lower-case hex.
///
/// ```
/// use wechat_events::signature::sign;
/// assert_eq!(
///     sign(&["test", "1410685589", "test"]),
///     "f21891de399b4e33a1a93c9a7b8a8fffb5a443ff"
/// );
/// ```
pub fn sign(parts: &[&str]) -> String {
    let mut hex = [0u8; 40];
    hex::encode_to_slice(digest(parts), &mut hex).expect("20 bytes are 40 hex digits");
    // `hex::encode` would build the string one `char` at a time.
    String::from_utf8(hex.to_vec()).expect("hex digits are ASCII")
}

fn digest(parts: &[&str]) -> [u8; 20] {
    // WeChat signs three or four parts: sort them on the stack.
    let mut stack = [""; 4];
    let mut heap;
    let sorted: &mut [&str] = if parts.len() <= stack.len() {
        stack[..parts.len()].copy_from_slice(parts);
        &mut stack[..parts.len()]
    } else {
        heap = parts.to_vec();
        &mut heap
    };
    sorted.sort_unstable();
    let mut hasher = Sha1::new();
    for part in sorted.iter() {
        hasher.update(part.as_bytes());
    }
    hasher.finalize().into()
}

/// Checks `given` against the signature of `parts` in constant time.
///
/// Upper-case hex is accepted too: the comparison is on the decoded
/// digest, so only a wrong digest (or non-hex text) fails.
pub fn verify(given: &str, parts: &[&str]) -> bool {
    let mut given_digest = [0u8; 20];
    if hex::decode_to_slice(given, &mut given_digest).is_err() {
        return false;
    }
    given_digest.ct_eq(&digest(parts)).into()
}

/// Now, in unix seconds: the `timestamp` of a signature and a reply's `CreateTime`.
pub(crate) fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// A fresh random `nonce`, digits like WeChat's.
pub(crate) fn fresh_nonce() -> String {
    use rand::Rng;
    rand::thread_rng()
        .gen_range(100_000_000u64..10_000_000_000)
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize)]
    struct Vectors {
        signature: Vec<SigVector>,
        decrypt: Vec<DecryptVector>,
    }
    #[derive(serde::Deserialize)]
    struct SigVector {
        token: String,
        timestamp: String,
        nonce: String,
        signature: String,
    }
    #[derive(serde::Deserialize)]
    struct DecryptVector {
        token: String,
        timestamp: String,
        nonce: String,
        msg_signature: String,
        encrypt: String,
    }

    fn vectors() -> Vectors {
        serde_json::from_str(include_str!("../tests/fixtures/public.json")).expect("vectors parse")
    }

    #[test]
    fn public_handshake_vectors() {
        for v in vectors().signature {
            assert_eq!(sign(&[&v.token, &v.timestamp, &v.nonce]), v.signature);
            assert!(verify(&v.signature, &[&v.token, &v.timestamp, &v.nonce]));
            assert!(verify(
                &v.signature.to_uppercase(),
                &[&v.token, &v.timestamp, &v.nonce]
            ));
        }
    }

    #[test]
    fn public_msg_signature_vectors() {
        for v in vectors().decrypt {
            let parts = [&*v.token, &*v.timestamp, &*v.nonce, &*v.encrypt];
            assert_eq!(sign(&parts), v.msg_signature);
        }
    }

    #[test]
    fn sorts_as_strings_not_numbers() {
        // "10" < "9" as strings; a numeric sort would give a different digest.
        let as_strings = sign(&["9", "10", "token"]);
        let mut h = Sha1::new();
        h.update(b"109token");
        assert_eq!(as_strings, hex::encode(h.finalize()));
    }

    #[test]
    fn rejects_wrong_or_malformed() {
        let good = sign(&["t", "1", "n"]);
        assert!(!verify(&good[..39], &["t", "1", "n"]));
        assert!(!verify("", &["t", "1", "n"]));
        let mut bad = good.clone().into_bytes();
        bad[0] = if bad[0] == b'0' { b'1' } else { b'0' };
        assert!(!verify(
            std::str::from_utf8(&bad).unwrap(),
            &["t", "1", "n"]
        ));
    }
}
