//! Pending replies in Redis.

use std::sync::LazyLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures_util::future::BoxFuture;

use super::{millis, RedisBackend};
use crate::pending::{MemoryPending, PendingStore, MAX_PER_USER};
use crate::reply::Reply;

/// Queues an entry (`AT_MS|JSON`), drops the oldest past the bound, sets
/// the expiry; answers how many were dropped. One key.
static PUSH: LazyLock<::redis::Script> = LazyLock::new(|| {
    ::redis::Script::new(
        r"redis.call('RPUSH', KEYS[1], ARGV[1])
local dropped = 0
while redis.call('LLEN', KEYS[1]) > tonumber(ARGV[2]) do
  redis.call('LPOP', KEYS[1])
  dropped = dropped + 1
end
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return dropped",
    )
});

/// Drops entries older than the TTL, takes the oldest left and queues the
/// push's own reply behind the rest — or, with none left, takes nothing
/// and queues nothing. One key.
static SWAP: LazyLock<::redis::Script> = LazyLock::new(|| {
    ::redis::Script::new(
        r"local now, ttl = tonumber(ARGV[1]), tonumber(ARGV[2])
while true do
  local head = redis.call('LINDEX', KEYS[1], 0)
  if not head then return false end
  local at = tonumber(string.sub(head, 1, string.find(head, '|', 1, true) - 1))
  if at + ttl > now then break end
  redis.call('LPOP', KEYS[1])
end
local oldest = redis.call('LPOP', KEYS[1])
if ARGV[3] ~= '' then
  redis.call('RPUSH', KEYS[1], ARGV[3])
  while redis.call('LLEN', KEYS[1]) > tonumber(ARGV[4]) do redis.call('LPOP', KEYS[1]) end
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return string.sub(oldest, string.find(oldest, '|', 1, true) + 1)",
    )
});

/// The pending-reply store every instance shares ([`PendingStore`]): one
/// Redis list per user, `PREFIX:ACCOUNT:pending:OPENID`, each entry the
/// time it was queued and the reply as JSON; bounded at
/// [`MAX_PER_USER`], expiring the TTL after the last reply queued. Push
/// and swap are one script each, so two instances answering the same
/// user at once never hand out one reply twice.
///
/// While Redis is down, replies wait in a [`MemoryPending`] of its own.
#[derive(Clone)]
pub struct RedisPending {
    backend: RedisBackend,
    account: String,
    ttl: Duration,
    memory: MemoryPending,
}

impl std::fmt::Debug for RedisPending {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisPending")
            .field("account", &self.account)
            .field("ttl", &self.ttl)
            .finish_non_exhaustive()
    }
}

impl RedisPending {
    /// Pending replies of `account`, each shown only within `ttl`; the
    /// in-memory fallback keeps up to `max_users` users' queues.
    pub fn new(backend: &RedisBackend, account: &str, max_users: u64, ttl: Duration) -> Self {
        RedisPending {
            backend: backend.clone(),
            account: account.to_owned(),
            ttl,
            memory: MemoryPending::new(max_users, ttl),
        }
    }
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// `AT_MS|JSON`, or `None` (logged) for a reply that cannot be JSON.
fn entry(reply: &Reply) -> Option<String> {
    match serde_json::to_string(reply) {
        Ok(json) => Some(format!("{}|{json}", now_ms())),
        Err(e) => {
            tracing::error!(error = %e, "a pending reply cannot be stored as JSON; dropped");
            None
        }
    }
}

impl PendingStore for RedisPending {
    fn push(&self, openid: String, reply: Reply) -> BoxFuture<'static, ()> {
        let this = self.clone();
        Box::pin(async move {
            let Some(entry) = entry(&reply) else { return };
            let key = this.backend.key(&this.account, "pending", &openid);
            let ttl = millis(this.ttl);
            let dropped = this
                .backend
                .run("pending push", move |mut conn| async move {
                    let mut call = PUSH.key(key);
                    call.arg(entry).arg(MAX_PER_USER).arg(ttl);
                    call.invoke_async::<u64>(&mut conn).await
                })
                .await;
            match dropped {
                Some(0) => {}
                Some(_) => tracing::warn!(
                    openid,
                    limit = MAX_PER_USER,
                    "pending replies full for this user; dropped the oldest"
                ),
                None => this.memory.push(openid, reply).await,
            }
        })
    }

    fn swap(&self, openid: String, own: Option<Reply>) -> BoxFuture<'static, Option<Reply>> {
        let this = self.clone();
        Box::pin(async move {
            let key = this.backend.key(&this.account, "pending", &openid);
            let own_entry = own.as_ref().and_then(entry).unwrap_or_default();
            let ttl = millis(this.ttl);
            let taken = this
                .backend
                .run("pending swap", move |mut conn| async move {
                    let mut call = SWAP.key(key);
                    call.arg(now_ms()).arg(ttl).arg(own_entry).arg(MAX_PER_USER);
                    call.invoke_async::<Option<String>>(&mut conn).await
                })
                .await;
            match taken {
                Some(Some(json)) => match serde_json::from_str(&json) {
                    Ok(reply) => Some(reply),
                    Err(e) => {
                        tracing::error!(error = %e, openid, "a pending reply in Redis is not a reply; dropped");
                        None
                    }
                },
                Some(None) => None,
                None => this.memory.swap(openid, own).await,
            }
        })
    }
}
