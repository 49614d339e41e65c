//! Pending replies in Redis.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures_util::future::BoxFuture;

use super::{millis, RedisBackend};
use crate::pending::{warn_expired, warn_full, MemoryPending, PendingStore, MAX_PER_USER};
use crate::reply::Reply;

/// Queues entries (`AT_MS|JSON`, ARGV[3..]), drops the oldest past the
/// bound (ARGV[1]), sets the expiry (ARGV[2]); answers the entries
/// dropped. One key.
static QUEUE: LazyLock<::redis::Script> = LazyLock::new(|| {
    ::redis::Script::new(
        r"for i = 3, #ARGV do redis.call('RPUSH', KEYS[1], ARGV[i]) end
local dropped = {}
while redis.call('LLEN', KEYS[1]) > tonumber(ARGV[1]) do
  table.insert(dropped, redis.call('LPOP', KEYS[1]))
end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return dropped",
    )
});

/// Takes the whole list and deletes it; answers the entries older than
/// the TTL (ARGV[2] ms before ARGV[1]) and the others, oldest first. One
/// key.
static TAKE: LazyLock<::redis::Script> = LazyLock::new(|| {
    ::redis::Script::new(
        r"local now, ttl = tonumber(ARGV[1]), tonumber(ARGV[2])
local entries = redis.call('LRANGE', KEYS[1], 0, -1)
if #entries == 0 then return {{}, {}} end
redis.call('DEL', KEYS[1])
local stale, fresh = {}, {}
for _, entry in ipairs(entries) do
  local at = tonumber(string.sub(entry, 1, string.find(entry, '|', 1, true) - 1))
  if at + ttl > now then table.insert(fresh, entry) else table.insert(stale, entry) end
end
return {stale, fresh}",
    )
});

/// The pending-reply store every instance shares ([`PendingStore`]): one
/// Redis list per user, `{PREFIX:ACCOUNT}:pending:OPENID`, each entry the
/// time it was queued and the reply as JSON; bounded at
/// [`MAX_PER_USER`], expiring the TTL after the last reply queued. Queue
/// and take are one script each, so two instances answering the same
/// user at once never hand out one reply twice.
///
/// A reply found older than the TTL when its user comes back is logged
/// and counted ([`PendingStore::expired`]); a list Redis expires because
/// its user never came back goes without a log line.
///
/// While Redis is down, replies wait in a [`MemoryPending`] of its own
/// (taken with the user's next push, Redis up or not).
#[derive(Clone)]
pub struct RedisPending {
    backend: RedisBackend,
    account: String,
    ttl: Duration,
    memory: MemoryPending,
    expired: Arc<AtomicU64>,
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
    /// in-memory fallback holds up to about `max_bytes`.
    pub fn new(backend: &RedisBackend, account: &str, max_bytes: u64, ttl: Duration) -> Self {
        RedisPending {
            backend: backend.clone(),
            account: account.to_owned(),
            ttl,
            memory: MemoryPending::new(max_bytes, ttl),
            expired: Arc::new(AtomicU64::new(0)),
        }
    }
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// `AT_MS|JSON`, or `None` (logged) for a reply that cannot be JSON.
fn entry(reply: &Reply, openid: &str) -> Option<String> {
    match serde_json::to_string(reply) {
        Ok(json) => Some(format!("{}|{json}", now_ms())),
        Err(e) => {
            tracing::error!(error = %e, openid, "a pending reply cannot be stored as JSON; dropped");
            None
        }
    }
}

/// The reply of an `AT_MS|JSON` entry, or `None` (logged).
fn reply_of(entry: &str, openid: &str) -> Option<Reply> {
    let json = entry.split_once('|').map_or(entry, |(_, json)| json);
    match serde_json::from_str(json) {
        Ok(reply) => Some(reply),
        Err(e) => {
            tracing::error!(error = %e, openid, "a pending reply in Redis is not a reply; dropped");
            None
        }
    }
}

impl PendingStore for RedisPending {
    fn queue(&self, openid: String, replies: Vec<Reply>) -> BoxFuture<'static, ()> {
        let this = self.clone();
        Box::pin(async move {
            let entries: Vec<String> = replies.iter().filter_map(|r| entry(r, &openid)).collect();
            if entries.is_empty() {
                return;
            }
            let key = this.backend.tagged(&this.account, "pending", &openid);
            let ttl = millis(this.ttl);
            let dropped = this
                .backend
                .run("pending queue", move |mut conn| async move {
                    let mut call = QUEUE.key(key);
                    call.arg(MAX_PER_USER).arg(ttl).arg(entries);
                    call.invoke_async::<Vec<String>>(&mut conn).await
                })
                .await;
            match dropped {
                Some(dropped) => {
                    for reply in dropped.iter().filter_map(|e| reply_of(e, &openid)) {
                        warn_full(&openid, &reply);
                    }
                }
                None => this.memory.queue_now(&openid, replies),
            }
        })
    }

    fn take(&self, openid: String) -> BoxFuture<'static, Vec<Reply>> {
        let this = self.clone();
        Box::pin(async move {
            let key = this.backend.tagged(&this.account, "pending", &openid);
            let ttl = millis(this.ttl);
            let taken = this
                .backend
                .run("pending take", move |mut conn| async move {
                    let mut call = TAKE.key(key);
                    call.arg(now_ms()).arg(ttl);
                    call.invoke_async::<(Vec<String>, Vec<String>)>(&mut conn)
                        .await
                })
                .await;
            let mut replies = Vec::new();
            if let Some((stale, fresh)) = taken {
                for reply in stale.iter().filter_map(|e| reply_of(e, &openid)) {
                    this.expired.fetch_add(1, Ordering::Relaxed);
                    warn_expired(&openid, &reply);
                }
                replies.extend(fresh.iter().filter_map(|e| reply_of(e, &openid)));
            }
            // Replies queued while Redis was down, whether it is up now
            // or not.
            replies.extend(this.memory.take_now(&openid));
            replies
        })
    }

    /// Nothing to take when the user's list did not exist at the claim
    /// (the [`RedisDedup`](super::RedisDedup) made by the service looks it
    /// up in its claim script) and no reply of theirs waits in memory.
    fn may_hold(&self, openid: &str, listed: bool) -> bool {
        listed || self.memory.holds(openid)
    }

    fn expired(&self) -> u64 {
        self.expired.load(Ordering::Relaxed) + self.memory.expired()
    }

    fn close(&self) -> BoxFuture<'static, ()> {
        self.memory.close()
    }
}
