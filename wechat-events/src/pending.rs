//! Pending replies: replies that came after their push was answered,
//! kept for the user's next push.
//!
//! When a handler outlives every try WeChat makes of a push, the push is
//! answered without its reply (the slow tip, or `success`). Unless the
//! service can send the reply through the customer-service API, it queues
//! it here, under the user's OpenID; the user's next push that allows a
//! passive reply is answered with the oldest pending reply, and that
//! push's own reply queues behind it ([`PendingStore::swap`]), so nothing
//! is lost and the order holds.
//!
//! The queue is bounded per user ([`MAX_PER_USER`]: past it the oldest
//! reply is dropped, with a warning) and in users; a reply older than the
//! TTL (`WECHAT_PENDING_TTL_S`) is never shown. A shared store (Redis)
//! implements the same trait so that every instance sees every queue.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::future::{BoxFuture, FutureExt};

use crate::reply::Reply;

/// Most replies kept per user; past it the oldest is dropped.
pub const MAX_PER_USER: usize = 5;

/// Users whose queues [`MemoryPending`] keeps by default; the least
/// recently used queue goes first past it.
pub const DEFAULT_MAX_USERS: u64 = 10_000;

/// Where replies wait for their user's next push.
pub trait PendingStore: Send + Sync + 'static {
    /// Queues `reply` behind `openid`'s pending replies (dropping the
    /// oldest past [`MAX_PER_USER`]).
    fn push(&self, openid: String, reply: Reply) -> BoxFuture<'static, ()>;

    /// If `openid` has a pending reply younger than the TTL: takes the
    /// oldest, queues `own` (the push's own reply, if it has one) behind
    /// the rest, and returns the taken one — atomically. Otherwise returns
    /// `None` and queues nothing: `own` answers the push itself.
    fn swap(&self, openid: String, own: Option<Reply>) -> BoxFuture<'static, Option<Reply>>;
}

type Queue = Arc<Mutex<VecDeque<(Instant, Reply)>>>;

/// The in-memory store: one queue per user in a bounded moka cache (least
/// recently used user evicted first); a queue left alone for the TTL goes.
#[derive(Clone)]
pub struct MemoryPending {
    queues: moka::sync::Cache<String, Queue, foldhash::fast::RandomState>,
    ttl: Duration,
    /// Whether any reply was ever queued: until then every swap answers
    /// `None` without a lookup (most bots never have a late reply).
    used: Arc<AtomicBool>,
}

impl MemoryPending {
    /// Queues for up to `max_users` users, each reply kept for `ttl`.
    pub fn new(max_users: u64, ttl: Duration) -> Self {
        MemoryPending {
            queues: moka::sync::Cache::builder()
                .eviction_policy(moka::policy::EvictionPolicy::lru())
                .max_capacity(max_users)
                .time_to_idle(ttl)
                .build_with_hasher(foldhash::fast::RandomState::default()),
            ttl,
            used: Arc::new(AtomicBool::new(false)),
        }
    }

    /// How many replies wait for `openid` (expired ones included until
    /// the next swap).
    pub fn len(&self, openid: &str) -> usize {
        self.queues
            .get(openid)
            .map_or(0, |q| q.lock().unwrap_or_else(|e| e.into_inner()).len())
    }

    fn queue(&self, openid: String) -> Queue {
        self.queues.get_with(openid, Queue::default)
    }
}

/// Queues `reply`, dropping the oldest past [`MAX_PER_USER`].
fn enqueue(queue: &mut VecDeque<(Instant, Reply)>, openid: &str, reply: Reply) {
    if queue.len() >= MAX_PER_USER {
        queue.pop_front();
        tracing::warn!(
            openid,
            limit = MAX_PER_USER,
            "pending replies full for this user; dropped the oldest"
        );
    }
    queue.push_back((Instant::now(), reply));
}

impl PendingStore for MemoryPending {
    fn push(&self, openid: String, reply: Reply) -> BoxFuture<'static, ()> {
        self.used.store(true, Ordering::Release);
        let queue = self.queue(openid.clone());
        enqueue(
            &mut queue.lock().unwrap_or_else(|e| e.into_inner()),
            &openid,
            reply,
        );
        futures_util::future::ready(()).boxed()
    }

    fn swap(&self, openid: String, own: Option<Reply>) -> BoxFuture<'static, Option<Reply>> {
        if !self.used.load(Ordering::Acquire) {
            return futures_util::future::ready(None).boxed();
        }
        let taken = self.queues.get(&openid).and_then(|queue| {
            let mut queue = queue.lock().unwrap_or_else(|e| e.into_inner());
            let fresh = |at: &Instant| at.elapsed() < self.ttl;
            while queue.front().is_some_and(|(at, _)| !fresh(at)) {
                queue.pop_front();
            }
            let (_, oldest) = queue.pop_front()?;
            if let Some(own) = own {
                enqueue(&mut queue, &openid, own);
            }
            Some(oldest)
        });
        futures_util::future::ready(taken).boxed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(s: &str) -> Reply {
        Reply::text(s)
    }

    #[test]
    fn the_oldest_answers_and_the_own_reply_queues_behind() {
        let store = MemoryPending::new(100, Duration::from_secs(600));
        let swap = |own: Option<Reply>| store.swap("u".into(), own).now_or_never().unwrap();
        assert_eq!(swap(Some(text("own"))), None, "nothing pending");
        assert_eq!(store.len("u"), 0, "an own reply answers its push");
        store.push("u".into(), text("late 1")).now_or_never();
        store.push("u".into(), text("late 2")).now_or_never();
        assert_eq!(swap(Some(text("next"))), Some(text("late 1")));
        assert_eq!(swap(None), Some(text("late 2")));
        assert_eq!(swap(None), Some(text("next")));
        assert_eq!(swap(None), None);
        assert_eq!(store.len("other"), 0);
    }

    #[test]
    fn bounded_per_user_oldest_dropped() {
        let store = MemoryPending::new(100, Duration::from_secs(600));
        for i in 0..MAX_PER_USER + 2 {
            store.push("u".into(), text(&i.to_string())).now_or_never();
        }
        assert_eq!(store.len("u"), MAX_PER_USER);
        let first = store.swap("u".into(), None).now_or_never().unwrap();
        assert_eq!(first, Some(text("2")));
    }

    #[test]
    fn a_reply_older_than_the_ttl_is_never_shown() {
        let store = MemoryPending::new(100, Duration::from_millis(50));
        store.push("u".into(), text("stale")).now_or_never();
        std::thread::sleep(Duration::from_millis(80));
        assert_eq!(store.swap("u".into(), None).now_or_never().unwrap(), None);
    }
}
