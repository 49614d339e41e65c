//! Pending replies: replies that came after their push was answered,
//! kept for the user's next push.
//!
//! When a handler outlives every try WeChat makes of a push, the push is
//! answered without its reply (the slow tip, or `success`). Unless the
//! service can send the reply through the customer-service API, it queues
//! it here, under the user's OpenID ([`PendingStore::queue`]).
//!
//! The user's next push that allows a passive reply takes the whole queue
//! ([`PendingStore::take`]) and [`plan`] decides — a pure function, no
//! I/O — how the pending replies and the push's own reply reach the user:
//!
//! - texts are combined into one passive text reply (a blank line between
//!   them) as far as WeChat's size limit allows ([`TEXT_LIMIT`]);
//! - with the customer-service API configured, the first reply (or texts
//!   combined) answers passively and every other one goes through the API;
//! - without it, the oldest answer first and the rest wait for the next
//!   push; a text answer then says how many are waiting ([`MORE_NOTE`]).
//!
//! So a chatting user catches up instead of staying one reply behind.
//!
//! The queue is bounded per user ([`MAX_PER_USER`]: past it the oldest
//! reply is dropped, with a warning); a reply older than the TTL
//! (`WECHAT_PENDING_TTL_S`) is never shown: it is logged with its user
//! and counted as expired ([`PendingStore::expired`]). The in-memory store
//! is bounded in bytes ([`DEFAULT_MAX_BYTES`]). A shared store (Redis) and
//! a durable one (`WECHAT_STATE_DIR`) implement the same trait.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::future::{BoxFuture, FutureExt};

use crate::reply::Reply;

/// Most replies kept per user; past it the oldest is dropped.
pub const MAX_PER_USER: usize = 5;

/// The bytes [`MemoryPending`] keeps by default (16 MiB: about 8,000
/// replies of 2 KB); the least recently active users' replies go first
/// past it, each logged.
pub const DEFAULT_MAX_BYTES: u64 = 16 * 1024 * 1024;

/// The largest text content a passive reply carries, in bytes of UTF-8
/// (the same as [`crate::split::TEXT_LIMIT`]).
pub const TEXT_LIMIT: usize = crate::split::TEXT_LIMIT;

/// What separates texts combined into one reply.
pub const TEXT_SEPARATOR: &str = "\n\n";

/// The note a text answer carries when more replies wait; `N` is replaced
/// by their number.
pub const MORE_NOTE: &str = "(还有 N 条回复，发送任意消息查看)";

/// Where replies wait for their user's next push.
///
/// A store author implements [`queue`](PendingStore::queue) and
/// [`take`](PendingStore::take); which reply goes where is decided by the
/// service ([`plan`]), not by the store.
pub trait PendingStore: Send + Sync + 'static {
    /// Queues `replies`, in order, behind `openid`'s pending replies
    /// (dropping the oldest past [`MAX_PER_USER`], with a warning). Each
    /// waits the store's TTL from now.
    fn queue(&self, openid: String, replies: Vec<Reply>) -> BoxFuture<'static, ()>;

    /// Takes every pending reply of `openid` younger than the TTL, oldest
    /// first, and forgets them — atomically: two pushes of one user never
    /// both get a reply. Older replies are dropped, logged with their user
    /// and counted ([`PendingStore::expired`]).
    fn take(&self, openid: String) -> BoxFuture<'static, Vec<Reply>>;

    /// Whether a [`PendingStore::take`] for `openid` could find anything,
    /// told by the dedup store, which looked in the same step as the
    /// push's claim ([`crate::dedup::Ticket::pending`]), that the user's
    /// list in the shared store existed (`listed`) or not. `false` lets the
    /// service skip the take (for a shared store, a round trip). The
    /// default, `true`, always takes; only a store whose list the dedup
    /// store looked up can say otherwise.
    fn may_hold(&self, openid: &str, listed: bool) -> bool {
        let _ = (openid, listed);
        true
    }

    /// How many replies expired unseen so far (as far as this store
    /// knows); for monitoring.
    fn expired(&self) -> u64 {
        0
    }

    /// How many replies wait now, for the `wechat_pending_replies` gauge
    /// (feature `metrics`), when the store can tell cheaply; `None` when it
    /// cannot (the default). Read at each scrape, not per push.
    fn waiting(&self) -> BoxFuture<'static, Option<u64>> {
        futures_util::future::ready(None).boxed()
    }

    /// Called when the service drains ([`WechatService::drain`](crate::WechatService::drain)):
    /// a store that forgets at exit logs what it still holds.
    fn close(&self) -> BoxFuture<'static, ()> {
        futures_util::future::ready(()).boxed()
    }
}

/// How a push's own reply and its user's pending replies reach the user:
/// the result of [`plan`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Plan {
    /// What answers the push itself.
    pub passive: Option<Reply>,
    /// What goes through the customer-service API, in order.
    pub through_api: Vec<Reply>,
    /// What waits for the user's next push, oldest first.
    pub queued: Vec<Reply>,
}

/// Decides how `pending` (the user's pending replies, oldest first) and
/// `own` (the push's own reply) reach the user, when the push allows a
/// passive reply and the customer-service API is available (`api`) or not.
/// [`plan_with`] with the default hints, for a push that is not the
/// continue keyword.
///
/// ```
/// use wechat_events::pending::plan;
/// use wechat_events::Reply;
///
/// let plan = plan(vec![Reply::text("等了 20 秒")], Some(Reply::text("收到:在吗")), false);
/// assert_eq!(plan.passive, Some(Reply::text("等了 20 秒\n\n收到:在吗")));
/// assert!(plan.queued.is_empty() && plan.through_api.is_empty());
/// ```
pub fn plan(pending: Vec<Reply>, own: Option<Reply>, api: bool) -> Plan {
    plan_with(pending, own, &PlanOptions::new(api))
}

/// What [`plan_with`] needs to know besides the replies.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PlanOptions<'a> {
    /// Whether the customer-service API may carry replies now (configured,
    /// and the user's quota not used up).
    pub api: bool,
    /// Whether the push is the continue keyword
    /// ([`Config::continue_keyword`](crate::Config::continue_keyword)):
    /// when the oldest pending reply is the rest of a long text, the push
    /// is answered with its next part only (its own reply is dropped).
    pub continuing: bool,
    /// Ends a part of a long text while the rest waits for the user.
    pub continue_hint: &'a str,
    /// Ends a part of a long text when the API carries the rest (empty by
    /// default: the next part follows at once).
    pub api_hint: &'a str,
}

impl PlanOptions<'static> {
    /// The defaults: [`crate::split::DEFAULT_CONTINUE_HINT`], no hint when
    /// the API carries the rest, not the continue keyword.
    pub fn new(api: bool) -> Self {
        PlanOptions {
            api,
            continuing: false,
            continue_hint: crate::split::DEFAULT_CONTINUE_HINT,
            api_hint: "",
        }
    }
}

impl<'a> PlanOptions<'a> {
    /// Whether the push is the continue keyword.
    pub fn continuing(mut self, continuing: bool) -> Self {
        self.continuing = continuing;
        self
    }

    /// The hints: `continue_hint` while parts wait for the user, `api_hint`
    /// while the API carries them.
    pub fn hints<'b>(self, continue_hint: &'b str, api_hint: &'b str) -> PlanOptions<'b> {
        PlanOptions {
            api: self.api,
            continuing: self.continuing,
            continue_hint,
            api_hint,
        }
    }
}

/// Decides how `pending` (the user's pending replies, oldest first) and
/// `own` (the push's own reply) reach the user, as `options` say.
///
/// Oldest first. Texts at the front are combined into one passive text,
/// separated by a blank line, while the content stays within
/// [`TEXT_LIMIT`] bytes. With the API, everything else goes through it.
/// Without, everything else waits, and a text answer carries
/// [`MORE_NOTE`] when it fits (fewer texts are combined to make room).
/// A transfer to customer service is about the push itself: it answers
/// the push, and the pending replies go through the API or wait. Empty
/// replies are dropped; a transfer never goes through the API.
///
/// A text over [`TEXT_LIMIT`] becomes a [`Reply::Continued`]: when it is
/// the oldest, its first part ([`crate::split::first_part`]) answers alone,
/// ending with the hint, and the rest stays one reply — through the API
/// (which sends it part by part), or first in the queue. A part is never
/// combined with other texts; its last part carries only the note.
///
/// ```
/// use wechat_events::pending::{plan_with, PlanOptions};
/// use wechat_events::split::DEFAULT_CONTINUE_HINT;
/// use wechat_events::Reply;
///
/// let long = "字".repeat(1000); // 3,000 bytes
/// let plan = plan_with(vec![], Some(Reply::text(long.clone())), &PlanOptions::new(false));
/// let Some(Reply::Text { content }) = plan.passive else { panic!() };
/// assert!(content.len() <= 2047 && content.ends_with(DEFAULT_CONTINUE_HINT));
/// assert!(matches!(&plan.queued[..], [Reply::Continued { .. }]));
/// ```
pub fn plan_with(pending: Vec<Reply>, own: Option<Reply>, options: &PlanOptions<'_>) -> Plan {
    let api = options.api;
    let mut rest: VecDeque<Reply> = (pending.into_iter())
        .filter(|r| !r.is_empty())
        .map(continued)
        .collect();
    let mut own = own.filter(|r| !r.is_empty()).map(continued);
    if options.continuing && matches!(rest.front(), Some(Reply::Continued { .. })) {
        own = None; // the keyword asks for the next part, and only that
    }
    let passive = match own {
        Some(own @ Reply::TransferCustomerService { .. }) => Some(own),
        own => {
            rest.extend(own);
            rest.pop_front().map(|first| match first {
                Reply::Text { content } => Reply::text(combine(content, &mut rest, api, true)),
                Reply::Continued { content } => {
                    let hint = if api {
                        options.api_hint
                    } else {
                        options.continue_hint
                    };
                    let cut = crate::split::first_part(&content, TEXT_LIMIT, hint);
                    if cut < content.len() {
                        let part = crate::split::hinted(&content[..cut], hint);
                        rest.push_front(Reply::Continued {
                            content: content[cut..].to_owned(),
                        });
                        Reply::text(part)
                    } else {
                        Reply::text(combine(content, &mut rest, api, false))
                    }
                }
                first => first,
            })
        }
    };
    let mut plan = Plan {
        passive,
        ..Plan::default()
    };
    for reply in rest {
        if api && !matches!(reply, Reply::TransferCustomerService { .. }) {
            plan.through_api.push(reply);
        } else {
            plan.queued.push(reply);
        }
    }
    plan
}

/// `reply`, as a [`Reply::Continued`] when it is a text too long for one
/// message.
pub fn continued(reply: Reply) -> Reply {
    match reply {
        Reply::Text { content } if crate::split::too_long(&content) => Reply::Continued { content },
        reply => reply,
    }
}

/// `first` and (`join`) the texts after it in `rest` that fit with it
/// within [`TEXT_LIMIT`]; without the API, with [`MORE_NOTE`] when replies
/// are left waiting and it fits (texts go back to `rest` to make room).
fn combine(first: String, rest: &mut VecDeque<Reply>, api: bool, join: bool) -> String {
    let mut parts = vec![first];
    let len = |parts: &[String]| {
        parts.iter().map(String::len).sum::<usize>() + TEXT_SEPARATOR.len() * (parts.len() - 1)
    };
    while let (true, Some(Reply::Text { content })) = (join, rest.front()) {
        if len(&parts) + TEXT_SEPARATOR.len() + content.len() > TEXT_LIMIT {
            break;
        }
        let Some(Reply::Text { content }) = rest.pop_front() else {
            unreachable!("the front is a text")
        };
        parts.push(content);
    }
    if !api && !rest.is_empty() {
        loop {
            let note = more_note(rest.len());
            if len(&parts) + TEXT_SEPARATOR.len() + note.len() <= TEXT_LIMIT {
                parts.push(note);
                break;
            }
            if parts.len() == 1 {
                break; // a text too long for the note: it goes alone
            }
            let last = parts.pop().expect("two parts or more");
            rest.push_front(Reply::text(last));
        }
    }
    parts.join(TEXT_SEPARATOR)
}

/// [`MORE_NOTE`] for `n` replies waiting.
pub fn more_note(n: usize) -> String {
    MORE_NOTE.replace('N', &n.to_string())
}

/// A user's queue in [`MemoryPending`]: when each reply was queued, and
/// the reply. Replaced whole on every change, so the cache weighs it anew.
type Queue = Arc<Cell>;

struct Cell {
    replies: Vec<(Instant, Reply)>,
    /// Whether the queue left the cache and was accounted for: taken, or
    /// logged as lost. The cache may report a queue it expired while a
    /// take removes it; whoever sets this first accounts for it.
    settled: AtomicBool,
}

impl Cell {
    fn new(replies: Vec<(Instant, Reply)>) -> Queue {
        Arc::new(Cell {
            replies,
            settled: AtomicBool::new(false),
        })
    }

    /// Whether this caller is the one to account for the queue.
    fn settle(&self) -> bool {
        !self.settled.swap(true, Ordering::AcqRel)
    }
}

/// The in-memory store: one queue per user in a moka cache bounded in
/// bytes (about the replies' JSON size; least recently active user
/// evicted first, each reply dropped logged and counted); a queue expires
/// the TTL after its last reply was queued, each reply logged and counted.
///
/// Everything it holds is lost when the process exits: the service's
/// drain logs each reply still held then.
#[derive(Clone)]
pub struct MemoryPending {
    queues: moka::sync::Cache<String, Queue, foldhash::fast::RandomState>,
    ttl: Duration,
    /// Whether any reply was ever queued: until then every take answers
    /// nothing without a lookup (most bots never have a late reply).
    used: Arc<AtomicBool>,
    counts: Arc<Counts>,
}

#[derive(Default)]
struct Counts {
    expired: AtomicU64,
    dropped: AtomicU64,
}

impl std::fmt::Debug for MemoryPending {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryPending")
            .field("users", &self.queues.entry_count())
            .field("bytes", &self.queues.weighted_size())
            .field("ttl", &self.ttl)
            .finish()
    }
}

/// What a queue weighs in [`MemoryPending`]'s byte budget: its user, and
/// each reply as JSON, plus bookkeeping.
fn weigh(openid: &str, queue: &Queue) -> u32 {
    let replies: usize = (queue.replies.iter())
        .map(|(_, reply)| serde_json::to_vec(reply).map_or(0, |json| json.len()) + 64)
        .sum();
    u32::try_from(openid.len() + 128 + replies).unwrap_or(u32::MAX)
}

impl MemoryPending {
    /// Queues holding up to about `max_bytes`, each reply kept for `ttl`.
    pub fn new(max_bytes: u64, ttl: Duration) -> Self {
        let counts = Arc::new(Counts::default());
        let listener = {
            let counts = counts.clone();
            move |openid: Arc<String>, queue: Queue, cause: moka::notification::RemovalCause| {
                use moka::notification::RemovalCause;
                let (counter, message) = match cause {
                    RemovalCause::Expired => (&counts.expired, "pending reply expired unseen"),
                    RemovalCause::Size => (
                        &counts.dropped,
                        "pending replies over their byte budget; dropped this least recently active user's reply",
                    ),
                    RemovalCause::Explicit | RemovalCause::Replaced => return,
                };
                if !queue.settle() {
                    return; // taken
                }
                for (_, reply) in &queue.replies {
                    counter.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(openid = %openid, reply = kind(reply), "{message}");
                }
            }
        };
        MemoryPending {
            queues: moka::sync::Cache::builder()
                .eviction_policy(moka::policy::EvictionPolicy::lru())
                .weigher(|openid: &String, queue: &Queue| weigh(openid, queue))
                .max_capacity(max_bytes)
                .time_to_live(ttl)
                .eviction_listener(listener)
                .build_with_hasher(foldhash::fast::RandomState::default()),
            ttl,
            used: Arc::new(AtomicBool::new(false)),
            counts,
        }
    }

    /// How many replies wait for `openid` (expired ones included until
    /// the next take).
    pub fn len(&self, openid: &str) -> usize {
        self.queues.get(openid).map_or(0, |q| q.replies.len())
    }

    /// How many replies were dropped to keep within the byte budget.
    pub fn dropped(&self) -> u64 {
        self.queues.run_pending_tasks();
        self.counts.dropped.load(Ordering::Relaxed)
    }

    /// The bytes the queues weigh now (see [`MemoryPending::new`]).
    pub fn bytes(&self) -> u64 {
        self.queues.run_pending_tasks();
        self.queues.weighted_size()
    }

    /// Queues `replies` now (the sync core of [`PendingStore::queue`]).
    pub fn queue_now(&self, openid: &str, replies: Vec<Reply>) {
        if replies.is_empty() {
            return;
        }
        self.used.store(true, Ordering::Release);
        let now = Instant::now();
        self.queues.entry_by_ref(openid).and_compute_with(|entry| {
            let mut queue = entry.map_or_else(Vec::new, |e| e.into_value().replies.clone());
            queue.extend(replies.into_iter().map(|reply| (now, reply)));
            let over = queue.len().saturating_sub(MAX_PER_USER);
            for (_, reply) in queue.drain(..over) {
                warn_full(openid, &reply);
            }
            moka::ops::compute::Op::Put(Cell::new(queue))
        });
    }

    /// Whether `openid` has a queue here (expired or not).
    #[cfg(feature = "redis")]
    pub(crate) fn holds(&self, openid: &str) -> bool {
        self.used.load(Ordering::Acquire) && self.queues.contains_key(openid)
    }

    /// Takes `openid`'s replies now (the sync core of [`PendingStore::take`]).
    pub fn take_now(&self, openid: &str) -> Vec<Reply> {
        if !self.used.load(Ordering::Acquire) {
            return Vec::new();
        }
        let Some(queue) = self.queues.remove(openid) else {
            return Vec::new();
        };
        if !queue.settle() {
            return Vec::new(); // expired, and logged as such
        }
        let mut fresh = Vec::with_capacity(queue.replies.len());
        for (at, reply) in queue.replies.iter().cloned() {
            if at.elapsed() < self.ttl {
                fresh.push(reply);
            } else {
                self.counts.expired.fetch_add(1, Ordering::Relaxed);
                warn_expired(openid, &reply);
            }
        }
        fresh
    }
}

/// A reply's kind, for the log.
pub(crate) fn kind(reply: &Reply) -> &'static str {
    reply.msg_type().unwrap_or("none")
}

pub(crate) fn warn_full(openid: &str, reply: &Reply) {
    tracing::warn!(
        openid,
        reply = kind(reply),
        limit = MAX_PER_USER,
        "pending replies full for this user; dropped the oldest"
    );
}

pub(crate) fn warn_expired(openid: &str, reply: &Reply) {
    tracing::warn!(openid, reply = kind(reply), "pending reply expired unseen");
}

impl PendingStore for MemoryPending {
    fn queue(&self, openid: String, replies: Vec<Reply>) -> BoxFuture<'static, ()> {
        self.queue_now(&openid, replies);
        futures_util::future::ready(()).boxed()
    }

    fn take(&self, openid: String) -> BoxFuture<'static, Vec<Reply>> {
        futures_util::future::ready(self.take_now(&openid)).boxed()
    }

    fn expired(&self) -> u64 {
        self.queues.run_pending_tasks();
        self.counts.expired.load(Ordering::Relaxed)
    }

    fn waiting(&self) -> BoxFuture<'static, Option<u64>> {
        let mut waiting = 0;
        if self.used.load(Ordering::Acquire) {
            self.queues.run_pending_tasks();
            for (_, queue) in self.queues.iter() {
                waiting += queue.replies.len() as u64;
            }
        }
        futures_util::future::ready(Some(waiting)).boxed()
    }

    /// Logs each reply still held: it is lost when the process exits.
    fn close(&self) -> BoxFuture<'static, ()> {
        if self.used.load(Ordering::Acquire) {
            self.queues.run_pending_tasks();
            for (openid, queue) in self.queues.iter() {
                for (_, reply) in &queue.replies {
                    tracing::warn!(
                        openid = %openid,
                        reply = kind(reply),
                        "pending reply still held in memory at shutdown: lost when the process \
                         exits (set WECHAT_STATE_DIR or WECHAT_REDIS_URL to keep it)"
                    );
                }
            }
        }
        futures_util::future::ready(()).boxed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(s: &str) -> Reply {
        Reply::text(s)
    }

    fn image(id: &str) -> Reply {
        Reply::image(id)
    }

    fn plan_of(pending: &[Reply], own: Option<Reply>, api: bool) -> Plan {
        plan(pending.to_vec(), own, api)
    }

    fn expect(passive: Option<Reply>, through_api: &[Reply], queued: &[Reply]) -> Plan {
        Plan {
            passive,
            through_api: through_api.to_vec(),
            queued: queued.to_vec(),
        }
    }

    // ---- plan: the decision, case by case ----

    #[test]
    fn nothing_pending_the_own_reply_answers() {
        for api in [false, true] {
            assert_eq!(
                plan_of(&[], Some(text("own")), api),
                expect(Some(text("own")), &[], &[])
            );
            assert_eq!(plan_of(&[], None, api), expect(None, &[], &[]));
            assert_eq!(plan_of(&[], Some(Reply::None), api), expect(None, &[], &[]));
        }
    }

    #[test]
    fn texts_are_combined_oldest_first_with_a_blank_line() {
        for api in [false, true] {
            assert_eq!(
                plan_of(&[text("a"), text("b")], Some(text("own")), api),
                expect(Some(text("a\n\nb\n\nown")), &[], &[]),
                "api: {api}"
            );
            assert_eq!(
                plan_of(&[text("late")], None, api),
                expect(Some(text("late")), &[], &[])
            );
        }
    }

    #[test]
    fn empty_replies_are_dropped() {
        assert_eq!(
            plan_of(&[Reply::None, text(""), text("a")], Some(text("")), false),
            expect(Some(text("a")), &[], &[])
        );
        assert_eq!(
            plan_of(&[Reply::None], Some(Reply::None), true),
            expect(None, &[], &[])
        );
    }

    #[test]
    fn combined_texts_stay_within_the_limit_exactly() {
        // 1000 + 2 + 1045 = 2047: fits exactly.
        let (a, b) = ("a".repeat(1000), "b".repeat(1045));
        assert_eq!(
            plan_of(&[text(&a)], Some(text(&b)), true),
            expect(Some(text(&format!("{a}\n\n{b}"))), &[], &[])
        );
        // One byte more: the own text goes through the API, or waits.
        let b = "b".repeat(1046);
        assert_eq!(
            plan_of(&[text(&a)], Some(text(&b)), true),
            expect(Some(text(&a)), &[text(&b)], &[])
        );
        let note = more_note(1);
        assert_eq!(
            plan_of(&[text(&a)], Some(text(&b)), false),
            expect(Some(text(&format!("{a}\n\n{note}"))), &[], &[text(&b)])
        );
    }

    #[test]
    fn the_limit_counts_bytes_not_characters() {
        // 你 is three bytes: 682 of them are 2046 bytes, one more is over.
        let long = "你".repeat(682);
        let plan = plan_of(&[text(&long)], Some(text("x")), true);
        assert_eq!(plan.passive, Some(text(&long)));
        assert_eq!(plan.through_api, vec![text("x")]);
        let shorter = "你".repeat(681); // 2043 + 2 + 1 = 2046
        let plan = plan_of(&[text(&shorter)], Some(text("x")), true);
        assert_eq!(plan.passive, Some(text(&format!("{shorter}\n\nx"))));
    }

    #[test]
    fn a_text_over_the_limit_answers_with_its_first_part_alone() {
        use crate::split::{first_part, hinted, DEFAULT_CONTINUE_HINT as HINT};
        let huge = "h".repeat(3000);
        // With the API: the first part without a hint, the rest through it.
        let cut = first_part(&huge, TEXT_LIMIT, "");
        assert_eq!(cut, TEXT_LIMIT);
        assert_eq!(
            plan_of(&[text(&huge)], Some(text("own")), true),
            expect(
                Some(text(&huge[..cut])),
                &[
                    Reply::Continued {
                        content: huge[cut..].to_owned()
                    },
                    text("own")
                ],
                &[]
            )
        );
        // Without: the part ends with the hint, the rest waits first.
        let cut = first_part(&huge, TEXT_LIMIT, HINT);
        assert_eq!(
            plan_of(&[text(&huge)], Some(text("own")), false),
            expect(
                Some(text(&hinted(&huge[..cut], HINT))),
                &[],
                &[
                    Reply::Continued {
                        content: huge[cut..].to_owned()
                    },
                    text("own")
                ]
            )
        );
        // The last part is not combined; without the API it carries the note.
        let rest = Reply::Continued {
            content: "tail".into(),
        };
        assert_eq!(
            plan_of(std::slice::from_ref(&rest), Some(text("own")), false),
            expect(
                Some(text(&format!("tail\n\n{}", more_note(1)))),
                &[],
                &[text("own")]
            )
        );
        assert_eq!(
            plan_of(&[rest], Some(text("own")), true),
            expect(Some(text("tail")), &[text("own")], &[])
        );
    }

    #[test]
    fn the_continue_keyword_answers_only_with_the_next_part() {
        let rest = Reply::Continued {
            content: "tail".into(),
        };
        let options = PlanOptions::new(false).continuing(true);
        assert_eq!(
            plan_with(
                vec![rest.clone(), text("b")],
                Some(text("收到:继续")),
                &options
            ),
            expect(
                Some(text(&format!("tail\n\n{}", more_note(1)))),
                &[],
                &[text("b")]
            )
        );
        // Nothing of a long text waits: the keyword is a message like any.
        assert_eq!(
            plan_with(vec![text("a")], Some(text("收到:继续")), &options),
            expect(Some(text("a\n\n收到:继续")), &[], &[])
        );
    }

    #[test]
    fn a_long_own_reply_with_nothing_pending() {
        let long = "字".repeat(2000);
        let plan = plan_of(&[], Some(text(&long)), false);
        let Some(Reply::Text { content }) = &plan.passive else {
            panic!("{plan:?}")
        };
        assert!(content.len() <= TEXT_LIMIT);
        let [Reply::Continued { content: rest }] = &plan.queued[..] else {
            panic!("{plan:?}")
        };
        let head = crate::split::unhinted(content, crate::split::DEFAULT_CONTINUE_HINT);
        assert_eq!(format!("{head}{rest}"), long);
    }

    #[test]
    fn other_kinds_answer_the_pending_one_and_send_the_own_one_through_the_api() {
        assert_eq!(
            plan_of(&[image("m1")], Some(text("own")), true),
            expect(Some(image("m1")), &[text("own")], &[])
        );
        assert_eq!(
            plan_of(&[text("late")], Some(image("m2")), true),
            expect(Some(text("late")), &[image("m2")], &[])
        );
        assert_eq!(
            plan_of(
                &[image("m1"), text("a"), text("b")],
                Some(image("m2")),
                true
            ),
            expect(Some(image("m1")), &[text("a"), text("b"), image("m2")], &[])
        );
    }

    #[test]
    fn without_the_api_the_oldest_answers_and_the_rest_waits_with_a_note() {
        // A non-text answer cannot carry the note.
        assert_eq!(
            plan_of(&[image("m1")], Some(text("own")), false),
            expect(Some(image("m1")), &[], &[text("own")])
        );
        assert_eq!(
            plan_of(&[text("late")], Some(image("m2")), false),
            expect(
                Some(text(&format!("late\n\n{}", more_note(1)))),
                &[],
                &[image("m2")]
            )
        );
        assert_eq!(
            plan_of(
                &[text("a"), image("m1"), text("b")],
                Some(text("own")),
                false
            ),
            expect(
                Some(text(&format!("a\n\n{}", more_note(3)))),
                &[],
                &[image("m1"), text("b"), text("own")]
            )
        );
        assert_eq!(more_note(3), "(还有 3 条回复，发送任意消息查看)");
    }

    #[test]
    fn without_the_api_texts_make_room_for_the_note() {
        // a + b fill the limit; the image after them needs the note, so b
        // waits too (two waiting).
        let (a, b) = ("a".repeat(1000), "b".repeat(1045));
        let plan = plan_of(&[text(&a), text(&b)], Some(image("m")), false);
        assert_eq!(
            plan,
            expect(
                Some(text(&format!("{a}\n\n{}", more_note(2)))),
                &[],
                &[text(&b), image("m")]
            )
        );
    }

    #[test]
    fn a_transfer_answers_its_own_push() {
        let transfer = Reply::transfer_customer_service();
        assert_eq!(
            plan_of(&[text("a"), image("m")], Some(transfer.clone()), true),
            expect(Some(transfer.clone()), &[text("a"), image("m")], &[])
        );
        assert_eq!(
            plan_of(&[text("a")], Some(transfer.clone()), false),
            expect(Some(transfer.clone()), &[], &[text("a")])
        );
        // A pending transfer answers when it is the oldest, and never goes
        // through the API.
        assert_eq!(
            plan_of(std::slice::from_ref(&transfer), Some(text("own")), true),
            expect(Some(transfer.clone()), &[text("own")], &[])
        );
        assert_eq!(
            plan_of(&[text("a"), image("m"), transfer.clone()], None, true),
            expect(Some(text("a")), &[image("m")], &[transfer])
        );
    }

    /// Every combination of up to three pending replies and an own reply,
    /// of each shape, with and without the API: nothing lost, nothing
    /// doubled, the order kept, the limit held.
    #[test]
    fn exhaustively_every_reply_goes_somewhere_once_in_order() {
        let shapes = [
            text("short"),
            text(&"l".repeat(1500)),
            text(&"x".repeat(2100)),
            image("m"),
            Reply::transfer_customer_service(),
            Reply::None,
        ];
        let mut cases = 0;
        let mut combos: Vec<Vec<Reply>> = vec![vec![]];
        for len in 1..=3 {
            let mut next = Vec::new();
            for combo in combos.iter().filter(|c| c.len() == len - 1) {
                for shape in &shapes {
                    let mut c = combo.clone();
                    c.push(shape.clone());
                    next.push(c);
                }
            }
            combos.extend(next);
        }
        for pending in &combos {
            for own in shapes.iter().cloned().map(Some).chain([None]) {
                for api in [false, true] {
                    cases += 1;
                    check(pending, own.clone(), api);
                }
            }
        }
        assert!(cases > 1000, "{cases}");

        fn check(pending: &[Reply], own: Option<Reply>, api: bool) {
            let plan = plan(pending.to_vec(), own.clone(), api);
            let why = format!("{pending:?} + {own:?}, api {api}: {plan:?}");
            // What must reach the user, oldest first (a transfer of the
            // push's own answers it first).
            let wanted: Vec<Reply> = pending
                .iter()
                .cloned()
                .chain(own.clone())
                .filter(|r| !r.is_empty())
                .collect();
            // Split the passive text back into its parts (the note aside).
            let mut delivered: Vec<Reply> = Vec::new();
            match &plan.passive {
                Some(Reply::Text { content }) => {
                    assert!(content.len() <= TEXT_LIMIT, "{why}");
                    for part in content.split(TEXT_SEPARATOR) {
                        if part.starts_with("(还有 ") {
                            assert!(!api && !plan.queued.is_empty(), "{why}");
                            assert_eq!(part, more_note(plan.queued.len()), "{why}");
                        } else {
                            delivered.push(text(part));
                        }
                    }
                }
                Some(other) => delivered.push(other.clone()),
                None => assert!(wanted.is_empty(), "{why}"),
            }
            assert!(plan.passive.is_some() || wanted.is_empty(), "{why}");
            if !api {
                assert!(plan.through_api.is_empty(), "{why}");
            }
            assert!(
                (plan.through_api.iter())
                    .all(|r| !matches!(r, Reply::TransferCustomerService { .. })),
                "{why}"
            );
            let own_transfer = matches!(own, Some(Reply::TransferCustomerService { .. }));
            let mut all = delivered;
            all.extend(plan.through_api.iter().cloned());
            all.extend(plan.queued.iter().cloned());
            // A long text's first part and its rest are one reply.
            let mut merged: Vec<Reply> = Vec::new();
            for r in all {
                match (merged.last_mut(), r) {
                    // (The long shape is all x: a part of it is too.)
                    (Some(Reply::Text { content: part }), Reply::Continued { content })
                        if {
                            let hint = if api {
                                ""
                            } else {
                                crate::split::DEFAULT_CONTINUE_HINT
                            };
                            let head = crate::split::unhinted(part, hint);
                            part.len() <= TEXT_LIMIT
                                && head.len() > 1000
                                && head.bytes().all(|b| b == b'x')
                        } =>
                    {
                        let hint = if api {
                            ""
                        } else {
                            crate::split::DEFAULT_CONTINUE_HINT
                        };
                        *part = format!("{}{content}", crate::split::unhinted(part, hint));
                    }
                    (_, Reply::Continued { content }) => merged.push(text(&content)),
                    (_, r) => merged.push(r),
                }
            }
            let all = merged;
            let mut expected = wanted.clone();
            if own_transfer {
                // The own transfer answers first; the rest in order.
                let t = expected.pop().expect("the own reply");
                expected.insert(0, t);
            }
            if api {
                // A pending transfer behind the first waits: order among
                // the others holds.
                let (mut got_t, mut got_o): (Vec<_>, Vec<_>) = (Vec::new(), Vec::new());
                for (i, r) in all.iter().enumerate() {
                    if i > 0 && matches!(r, Reply::TransferCustomerService { .. }) {
                        got_t.push(r.clone());
                    } else {
                        got_o.push(r.clone());
                    }
                }
                let (mut exp_t, mut exp_o): (Vec<_>, Vec<_>) = (Vec::new(), Vec::new());
                for (i, r) in expected.iter().enumerate() {
                    if i > 0 && matches!(r, Reply::TransferCustomerService { .. }) {
                        exp_t.push(r.clone());
                    } else {
                        exp_o.push(r.clone());
                    }
                }
                assert_eq!((got_o, got_t), (exp_o, exp_t), "{why}");
            } else {
                assert_eq!(all, expected, "{why}");
            }
        }
    }

    // ---- the in-memory store ----

    const BIG: u64 = 1 << 20;

    #[test]
    fn take_hands_out_everything_once_in_order() {
        let store = MemoryPending::new(BIG, Duration::from_secs(600));
        assert_eq!(store.take_now("u"), vec![], "nothing pending");
        store.queue_now("u", vec![text("late 1")]);
        store.queue_now("u", vec![text("late 2"), image("m")]);
        assert_eq!(store.len("u"), 3);
        assert_eq!(
            store.take_now("u"),
            vec![text("late 1"), text("late 2"), image("m")]
        );
        assert_eq!(store.take_now("u"), vec![]);
        assert_eq!(store.len("other"), 0);
    }

    #[test]
    fn bounded_per_user_oldest_dropped() {
        let store = MemoryPending::new(BIG, Duration::from_secs(600));
        for i in 0..MAX_PER_USER + 2 {
            store.queue_now("u", vec![text(&i.to_string())]);
        }
        assert_eq!(store.len("u"), MAX_PER_USER);
        assert_eq!(store.take_now("u").first(), Some(&text("2")));
    }

    #[test]
    fn a_reply_older_than_the_ttl_is_never_shown_and_is_counted() {
        let store = MemoryPending::new(BIG, Duration::from_millis(50));
        store.queue_now("u", vec![text("stale")]);
        store.queue_now("v", vec![text("stale too"), image("m")]);
        std::thread::sleep(Duration::from_millis(80));
        assert_eq!(store.take_now("u"), vec![]);
        // v never came back: its queue expires in the cache, each reply
        // counted.
        assert_eq!(PendingStore::expired(&store), 3);
        assert_eq!(store.dropped(), 0);
    }

    #[test]
    fn bounded_in_bytes_least_recently_active_users_first() {
        // 10,000 users × 5 replies of 6 KB would be ~300 MB; 1 MiB holds
        // about 34 such queues.
        let store = MemoryPending::new(1 << 20, Duration::from_secs(600));
        let six_kb = "字".repeat(2000);
        for user in 0..200 {
            let replies = (0..MAX_PER_USER).map(|_| text(&six_kb)).collect();
            store.queue_now(&format!("u{user}"), replies);
        }
        assert!(store.bytes() <= 1 << 20, "{}", store.bytes());
        assert!(
            store.dropped() >= 150 * MAX_PER_USER as u64,
            "{}",
            store.dropped()
        );
        assert_eq!(store.len("u199"), MAX_PER_USER, "the most recent kept");
        assert_eq!(store.len("u0"), 0, "the least recent gone");
    }

    #[test]
    fn the_default_budget_holds_the_worst_case_in_bounded_memory() {
        let store = MemoryPending::new(DEFAULT_MAX_BYTES, Duration::from_secs(600));
        let six_kb = "字".repeat(2000);
        for user in 0..1_000 {
            let replies = (0..MAX_PER_USER).map(|_| text(&six_kb)).collect();
            store.queue_now(&format!("u{user}"), replies);
        }
        assert!(store.bytes() <= DEFAULT_MAX_BYTES, "{}", store.bytes());
        assert!(store.dropped() > 0);
    }
}
