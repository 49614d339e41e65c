//! Replay protection: a signed URL is good for one body, for a while.
//!
//! In plaintext mode WeChat's `signature` covers only the token, the
//! `timestamp` and the `nonce` — not the body. A signed URL captured once
//! (from an access log, a proxy, a `Referer`) could otherwise be replayed
//! with any body, as any user, at any later time. Two rules close that:
//!
//! 1. **A window.** A `timestamp` more than the window away from now
//!    (default 300 s, either way) is refused: old signed URLs are dead.
//! 2. **A binding.** The first body seen with a `(signature, timestamp,
//!    nonce)` is bound to it for as long as the timestamp is inside the
//!    window. The same body again is a WeChat retry and goes on to the
//!    de-duplication as usual; a different body is a forgery.
//!
//! Memory is bounded: bindings live in a store of fixed capacity (oldest
//! out first) whose entries expire once their timestamp leaves the
//! window. A binding pushed out of a full store early lets that URL carry
//! a second body, or a forgotten push run again — the service sizes it for
//! the pushes of two windows at the rate its dedup capacity is sized for
//! ([`crate::config::Config::binding_capacity`]; each entry is under 200
//! bytes whatever the key's length: the store keeps a 128-bit fingerprint
//! of the key; measured by `tests/dedup_memory.rs`).
//!
//! A binding also tells a **verbatim replay**: the same body again, once
//! the de-duplication store no longer remembers its push, is refused
//! ([`ReplayError::Forgotten`]) — a push seen in the window never runs
//! twice, whatever the dedup TTL. A binding younger than 2 s does not count
//! (a try of the same push reaching a second worker or instance before the
//! first try's claim).
//!
//! A URL is bound to its body's SHA-1. In secure mode (plaintext refused)
//! the URL is keyed by its `msg_signature`, which covers its `<Encrypt>`
//! (no digest is taken): it can carry no other body, and the binding only
//! tells a verbatim replay. Compatible mode binds encrypted pushes by their
//! `signature` and digest, as a captured URL could otherwise be replayed
//! there with a plaintext body.

use std::sync::Arc;
use std::time::Duration;

use futures_util::future::BoxFuture;
use sha1::{Digest, Sha1};

use crate::expiring::ExpiringMap;

/// Default width of the window, either side of now.
pub const DEFAULT_WINDOW: Duration = Duration::from_secs(300);

/// Why a request was refused as a replay. Maps to `403 Forbidden`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ReplayError {
    /// The `timestamp` is too far from now.
    #[error(
        "timestamp {timestamp} is {skew} s away from now, outside the {window} s replay window"
    )]
    Stale {
        /// The request's `timestamp`.
        timestamp: i64,
        /// Its distance from now, in seconds.
        skew: i64,
        /// The window, in seconds.
        window: u64,
    },
    /// The signed URL was first seen with another body.
    #[error("this signature was first used with another body: refused as a forgery")]
    BodyMismatch,
    /// The signed URL and its body were seen before, and the push is no
    /// longer remembered (its de-duplication record expired or was evicted):
    /// a replay, refused rather than run a second time.
    #[error("this push was seen before and is no longer remembered: refused as a replay")]
    Forgotten,
}

/// Checks a `timestamp` (unix seconds, as sent) against the window around
/// `now`; a `timestamp` that is not a number is stale.
///
/// ```
/// use std::time::Duration;
/// use wechat_events::replay::check_window;
/// let window = Duration::from_secs(300);
/// assert!(check_window("1000", 1200, window).is_ok());
/// assert!(check_window("1", 1200, window).is_err());
/// ```
pub fn check_window(timestamp: &str, now: i64, window: Duration) -> Result<(), ReplayError> {
    let window_s = window.as_secs();
    let ts = timestamp.parse::<i64>().unwrap_or(i64::MIN);
    let skew = now.saturating_sub(ts).saturating_abs();
    if skew.unsigned_abs() > window_s {
        return Err(ReplayError::Stale {
            timestamp: ts,
            skew,
            window: window_s,
        });
    }
    Ok(())
}

/// What a [`BindingStore`] says about a signed URL and a body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Binding {
    /// First sighting: the body is now bound to the URL.
    New,
    /// The bound body again (a WeChat retry, or a verbatim replay), bound
    /// `age` ago.
    Same {
        /// How long ago the body was bound.
        age: Duration,
    },
    /// Another body than the bound one.
    Different,
}

/// Remembers which body each signed URL was first used with. The
/// in-memory store is [`MemoryBindings`]; a shared store (Redis) can
/// implement the same trait so that every instance sees every binding.
pub trait BindingStore: Send + Sync + 'static {
    /// Binds `digest` to `key` unless `key` is bound already, and says
    /// which it was.
    fn bind(&self, key: String, digest: [u8; 20]) -> BoxFuture<'static, Binding>;
}

/// The in-memory binding store: up to a number of bindings, each kept for
/// twice the window (a timestamp is acceptable for that long), oldest
/// dropped first when full.
#[derive(Clone)]
pub struct MemoryBindings {
    map: Arc<ExpiringMap<[u8; 20]>>,
}

impl MemoryBindings {
    /// A store of up to `capacity` bindings, each kept for `2 × window`.
    pub fn new(capacity: u64, window: Duration) -> Self {
        // Each binding weighs 1: the budget is a count. A full store drops
        // its oldest binding for the newest (which is about to be used
        // again by WeChat's retries), never the other way round, or a
        // fresh URL could carry a second body.
        MemoryBindings {
            map: Arc::new(ExpiringMap::new(
                capacity,
                window.saturating_mul(2).max(Duration::from_secs(1)),
                1,
            )),
        }
    }
}

impl BindingStore for MemoryBindings {
    fn bind(&self, key: String, digest: [u8; 20]) -> BoxFuture<'static, Binding> {
        // One synchronous critical section, with no await point: nothing
        // can cancel it half-way.
        let bound = (self.map).get_or_insert_aged(
            self.map.key(&key),
            |d, age| Some((*d == digest, age)),
            || (digest, 1),
        );
        let binding = match bound {
            None => Binding::New,
            Some((true, age)) => Binding::Same { age },
            Some((false, _)) => Binding::Different,
        };
        Box::pin(std::future::ready(binding))
    }
}

/// The binding key of a signed request.
pub fn binding_key(signature: &str, timestamp: &str, nonce: &str) -> String {
    let mut key = String::with_capacity(signature.len() + timestamp.len() + nonce.len() + 2);
    key.push_str(signature);
    key.make_ascii_lowercase();
    key.push('|');
    key.push_str(timestamp);
    key.push('|');
    key.push_str(nonce);
    key
}

/// The digest a body is bound by.
pub fn body_digest(body: &[u8]) -> [u8; 20] {
    Sha1::digest(body).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[actix_rt::test]
    async fn a_full_store_still_binds_the_newest_urls() {
        // Found by the soak: with moka's default admission policy a full
        // cache refused new bindings, so a fresh URL took a second body.
        let store = MemoryBindings::new(50, Duration::from_secs(300));
        for i in 0..500 {
            let key = binding_key("ab", &i.to_string(), "n");
            assert_eq!(
                store.bind(key.clone(), body_digest(b"a")).await,
                Binding::New
            );
            assert_eq!(
                store.bind(key, body_digest(b"forged")).await,
                Binding::Different,
                "url {i}"
            );
        }
    }

    #[test]
    fn the_window_is_either_side_of_now() {
        let w = Duration::from_secs(300);
        assert!(check_window("1000", 1000, w).is_ok());
        assert!(check_window("700", 1000, w).is_ok());
        assert!(check_window("1300", 1000, w).is_ok());
        assert!(matches!(
            check_window("699", 1000, w),
            Err(ReplayError::Stale { skew: 301, .. })
        ));
        assert!(check_window("1301", 1000, w).is_err());
        assert!(check_window("99999999999999999999", 1000, w).is_err());
        assert!(check_window("", 1000, w).is_err());
    }

    #[tokio::test(start_paused = true)]
    async fn a_url_is_bound_to_its_first_body() {
        let store = MemoryBindings::new(10, Duration::from_secs(300));
        let key = binding_key("AB", "1", "n");
        assert_eq!(
            store.bind(key.clone(), body_digest(b"a")).await,
            Binding::New
        );
        assert_eq!(
            store.bind(key.clone(), body_digest(b"a")).await,
            Binding::Same {
                age: Duration::ZERO
            }
        );
        assert_eq!(
            store.bind(key.clone(), body_digest(b"b")).await,
            Binding::Different
        );
        tokio::time::advance(Duration::from_secs(3)).await;
        assert_eq!(
            store.bind(key.clone(), body_digest(b"a")).await,
            Binding::Same {
                age: Duration::from_secs(3)
            },
            "a binding knows its age"
        );
        assert_eq!(
            store
                .bind(binding_key("ab", "1", "n"), body_digest(b"b"))
                .await,
            Binding::Different,
            "the signature's case does not make a new URL"
        );
        assert_eq!(
            store
                .bind(binding_key("ab", "1", "m"), body_digest(b"b"))
                .await,
            Binding::New
        );
    }
}
