//! Replay bindings in Redis.

use std::sync::LazyLock;
use std::time::Duration;

use futures_util::future::BoxFuture;

use super::{millis, RedisBackend};
use crate::replay::{Binding, BindingStore, MemoryBindings};

/// Binds a body digest to a signed URL unless bound, atomically; answers
/// `{digest bound before, its remaining life in ms}`, or nil when this call
/// bound it (the binding's age is its full life less what remains). One
/// key.
static BIND: LazyLock<::redis::Script> = LazyLock::new(|| {
    ::redis::Script::new(
        r"local old = redis.call('GET', KEYS[1])
if old then return {old, redis.call('PTTL', KEYS[1])} end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return false",
    )
});

/// The replay-binding store every instance shares
/// ([`crate::replay::BindingStore`]): one key per signed URL,
/// `{PREFIX:ACCOUNT}:replay:SIGNATURE|TIMESTAMP|NONCE`, holding the body's
/// 20-byte SHA-1 and expiring twice the replay window after it was bound.
/// Binding is one atomic script (check, then `SET … PX`), so two
/// instances receiving the same URL at once agree on its first body.
///
/// Made by the service, the bindings are made by the
/// [`RedisDedup`](super::RedisDedup)'s claim script, with the push's claim
/// (the keys share the account's hash tag): the same script, one round
/// trip for both.
///
/// While Redis is down, binds go to a [`MemoryBindings`] of its own.
#[derive(Clone)]
pub struct RedisBindings {
    backend: RedisBackend,
    account: String,
    pub(super) ttl: Duration,
    pub(super) memory: MemoryBindings,
}

impl std::fmt::Debug for RedisBindings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisBindings")
            .field("account", &self.account)
            .field("ttl", &self.ttl)
            .finish_non_exhaustive()
    }
}

impl RedisBindings {
    /// Bindings of `account` for a replay window of `window`, kept
    /// `2 × window`; the in-memory fallback holds up to `capacity`.
    pub fn new(backend: &RedisBackend, account: &str, capacity: u64, window: Duration) -> Self {
        RedisBindings {
            backend: backend.clone(),
            account: account.to_owned(),
            ttl: window.saturating_mul(2).max(Duration::from_secs(1)),
            memory: MemoryBindings::new(capacity, window),
        }
    }
}

impl BindingStore for RedisBindings {
    fn bind(&self, key: String, digest: [u8; 20]) -> BoxFuture<'static, Binding> {
        let this = self.clone();
        Box::pin(async move {
            let redis_key = this.backend.tagged(&this.account, "replay", &key);
            let ttl = millis(this.ttl);
            let bound = this
                .backend
                .run("replay bind", move |mut conn| async move {
                    let mut call = BIND.key(redis_key);
                    call.arg(&digest[..]).arg(ttl);
                    call.invoke_async::<Option<(Vec<u8>, i64)>>(&mut conn).await
                })
                .await;
            match bound {
                Some(None) => Binding::New,
                Some(Some((first, left))) if first == digest => {
                    let left = Duration::from_millis(u64::try_from(left).unwrap_or(0));
                    Binding::Same {
                        age: this.ttl.saturating_sub(left),
                    }
                }
                Some(Some(_)) => Binding::Different,
                None => this.memory.bind(key, digest).await,
            }
        })
    }
}
