//! De-duplicating WeChat's retries.
//!
//! WeChat retries a push it got no answer to within 5 seconds, three tries
//! in all, with the same body. Each push gets a key ([`dedup_key`]); the
//! [`DedupStore`] runs the work for a key once and hands every caller with
//! that key the same [`Outcome`]: a retry that arrives while the first run
//! is in flight waits for it, a retry after it finished gets the stored
//! outcome. The in-memory store is [`MemoryStore`]; a shared store (Redis)
//! implements the same trait.
//!
//! # The in-memory store at capacity
//!
//! [`MemoryStore`] bounds the **bytes** it holds, not the number of keys:
//! each entry weighs its reply and handler name, plus a fixed
//! [`ENTRY_OVERHEAD_BYTES`] (measured, see that constant). Eviction is
//! first in, first out: when the store is full the *oldest* entries go, so
//! the newest pushes — the ones WeChat is about to retry — are always
//! remembered. (The store was first a moka cache, whose default TinyLFU
//! policy refused to admit new keys into a full cache: at capacity 100,
//! only 64 of 100 retries of fresh pushes were recognised. Every entry
//! here lives for the same TTL, so insertion order is expiry order, and a
//! sharded map with one queue per shard does what the store needs at a
//! fraction of a general cache's cost: see BENCHMARKS.md.)
//!
//! An in-flight claim is **pinned** (see `expiring`): neither the byte
//! budget nor the TTL can take it out while its handler runs, so a retry
//! of a running push always finds it; their number is bounded by the
//! handlers actually running. When the work completes, the entry gets its
//! final weight and its TTL counts from then; only such finished outcomes
//! are evicted, oldest first. (The Redis store keeps every outcome for the
//! TTL after its completion.)
//!
//! # A claim cannot be orphaned
//!
//! A request future may be dropped at any await point (a client hang-up
//! drops it). The in-memory claim has none: it is one synchronous critical
//! section of the store's map, so it happens entirely or not at all. And
//! **by construction**, a claim nobody can complete does not hold its key:
//!
//! - the stored value's outcome can be set by one completer only, which
//!   is created before the insertion and lives only in the claim and then
//!   in the [`Ticket`]'s completion — never in the store — and which,
//!   dropped without completing, sets the outcome to "abandoned";
//! - so whenever the key is claimed and nobody can complete it, the
//!   completer has been dropped, and the stored outcome is "abandoned":
//!   waiting duplicates learn it ([`Outcome::abandoned`]) at once instead of
//!   hanging, and claim the push anew (the service never answers a try
//!   with it);
//! - and an abandoned entry does not count as a claim: the next claim of
//!   the key replaces it (in the same critical section) and becomes
//!   [`Claim::First`] — a takeover, which keeps the push's first sighting
//!   ([`Ticket::first_seen`]).

use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, OnceLock};
use std::task::{Context as TaskContext, Poll};
use std::time::Duration;

use futures_util::future::{BoxFuture, FutureExt};
use serde::{Deserialize, Serialize};
use sha1::{Digest, Sha1};
use tokio::sync::Notify;
use tokio::time::Instant;

use crate::event::Event;
use crate::expiring::{ExpiringMap, Key};
use crate::push::{Body, Push};
use crate::replay::Binding;

/// The fixed cost, in heap bytes, of one [`MemoryStore`] entry beyond its
/// reply text: its slot in the shard's table (at the table's load), its
/// records in the expiry queue, its tries and fate, and the outcome's
/// shared parts. The store keeps a 128-bit fingerprint of each key, not
/// the key, so the key's length costs nothing.
///
/// Measured with a counting global allocator (`tests/dedup_memory.rs`,
/// 10,000 entries): a completed entry with no reply costs about 330 bytes;
/// an in-flight claim about 460, its ticket (completion closure, outcome
/// future, fate) included, for as long as its handler runs. The figure is
/// rounded up; the allocator's rounding and fragmentation come on top of
/// it in RSS. (On moka's cache, the store's first home, a completed entry
/// cost 670 bytes beyond its key.)
pub const ENTRY_OVERHEAD_BYTES: u64 = 512;

/// The budget per key of [`MemoryStore::new`]'s `capacity`: the fixed
/// overhead and a reply of up to ~510 bytes (a text echo is ~170).
/// Entries with longer replies take more of the budget, so fewer fit;
/// shorter ones leave room for more.
pub const BYTES_PER_ENTRY: u64 = 1024;

/// How a push was answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Status {
    /// A handler replied.
    Replied,
    /// A handler chose not to reply.
    NoReply,
    /// No route matched.
    NoHandler,
    /// The handler missed the deadline; it runs on in the background.
    DeadlineExceeded,
    /// The handler (or an extractor) returned an error.
    Failed,
    /// The handler panicked.
    Panicked,
    /// Answered with the user's oldest pending reply (an earlier push's
    /// late reply); this push's own reply waits behind it.
    PendingReply,
    /// The claim's owner went away without an outcome (its task was
    /// dropped, its instance died): the work did not finish, and a later
    /// try claims the push anew.
    Abandoned,
    /// Refused as a replay: the push was seen before and forgotten (see
    /// [`crate::replay`]); every try of it is refused, none runs it.
    Refused,
}

impl Status {
    /// A short lower-case name for logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Replied => "replied",
            Status::NoReply => "no_reply",
            Status::NoHandler => "no_handler",
            Status::DeadlineExceeded => "deadline_exceeded",
            Status::Failed => "failed",
            Status::Panicked => "panicked",
            Status::PendingReply => "pending_reply",
            Status::Abandoned => "abandoned",
            Status::Refused => "refused",
        }
    }
}

/// What came of one push: the rendered plaintext reply (`None` means the
/// answer is `success`), which handler produced it, and how.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outcome {
    /// The reply XML, before any encryption.
    pub reply: Option<Arc<str>>,
    /// The handler that ran, if any.
    pub handler: Option<Arc<str>>,
    /// How it ended.
    pub status: Status,
}

impl Outcome {
    /// The outcome of work whose owner went away without finishing it (its
    /// task was dropped, its instance died). The service never answers a
    /// try with it while WeChat may retry: it claims the push anew.
    pub fn abandoned() -> Self {
        Outcome {
            reply: None,
            handler: None,
            status: Status::Abandoned,
        }
    }

    /// Whether this is [`Outcome::abandoned`].
    pub fn is_abandoned(&self) -> bool {
        self.status == Status::Abandoned
    }
}

/// What a [`DedupStore`] answers for a key.
pub enum Claim {
    /// The caller is the first with this key: it must start the work and
    /// hand its outcome to the completion [`Ticket::into_parts`] returns.
    First(Ticket),
    /// Another caller has the key: a later try of the same push. Awaiting
    /// it yields that work's outcome.
    Duplicate(Retry),
}

/// What became of a push whose handler may outlive its tries: settled
/// once per push, by whoever decides first (see [`Decider`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Fate {
    /// The handler's outcome answers the push: its tries get it.
    Answered,
    /// The push was answered without the handler's reply (with the slow
    /// tip, or `success`); the reply, when it comes, is delivered later.
    HandedOff,
}

impl Fate {
    /// A short lower-case name for logs and stores.
    pub fn as_str(self) -> &'static str {
        match self {
            Fate::Answered => "answered",
            Fate::HandedOff => "handed_off",
        }
    }
}

/// Settles a push's [`Fate`] unless it is settled already, and resolves
/// to the fate that holds: the first call wins, every later call learns
/// its answer. The work decides [`Fate::Answered`] when its outcome is
/// ready; the last try allowed to wait decides [`Fate::HandedOff`] at its
/// deadline. Shared by every try of the push (on every instance, for a
/// shared store).
pub type Decider = Arc<dyn Fn(Fate) -> BoxFuture<'static, Fate> + Send + Sync>;

/// Answers a push in one step, where a store can: settles its [`Fate`] as
/// [`Fate::Answered`] unless it is settled already, and, when it is
/// answered, stores the outcome (waking the duplicates, as the completion
/// would) — one write where [`Decider`] then completion take two. Resolves
/// to the fate that holds; on [`Fate::HandedOff`] nothing is stored, and
/// the caller completes with what the push is answered instead. See
/// [`Ticket::with_answer`].
pub type Answer = Box<dyn FnOnce(Outcome) -> BoxFuture<'static, Fate> + Send>;

/// The first caller's side of a claim.
pub struct Ticket {
    complete: Box<dyn FnOnce(Outcome) + Send>,
    outcome: BoxFuture<'static, Outcome>,
    decider: Decider,
    seen: Option<Instant>,
    answer: Option<Answer>,
    pending: Option<bool>,
}

impl Ticket {
    /// A ticket from its parts: `complete` stores the outcome (and wakes
    /// the duplicates); `outcome` resolves once it is stored; `decider`
    /// settles the push's fate. A ticket dropped without completing must
    /// resolve `outcome` (and the duplicates) to [`Outcome::abandoned`].
    pub fn new(
        complete: impl FnOnce(Outcome) + Send + 'static,
        outcome: BoxFuture<'static, Outcome>,
        decider: Decider,
    ) -> Self {
        Ticket {
            complete: Box::new(complete),
            outcome,
            decider,
            seen: None,
            answer: None,
            pending: None,
        }
    }

    /// Gives the ticket a one-step [`Answer`]: the claimant then answers
    /// the push with it instead of the decider and the completion (which
    /// it still calls afterwards, and which must then do nothing more).
    /// For a shared store, where each step is a round trip.
    pub fn with_answer(
        mut self,
        answer: impl FnOnce(Outcome) -> BoxFuture<'static, Fate> + Send + 'static,
    ) -> Self {
        self.answer = Some(Box::new(answer));
        self
    }

    /// Takes the ticket's one-step [`Answer`], if it has one.
    pub fn take_answer(&mut self) -> Option<Answer> {
        self.answer.take()
    }

    /// Says whether the push's user ([`ClaimWith::user`]) had replies in
    /// the shared pending store when the push was claimed — looked up in
    /// the claim's own step, so that a user with none costs no take (see
    /// [`crate::pending::PendingStore::may_hold`]).
    pub fn pending(mut self, listed: bool) -> Self {
        self.pending = Some(listed);
        self
    }

    /// What [`Ticket::pending`] said; `None` when the store did not look.
    pub fn pending_listed(&self) -> Option<bool> {
        self.pending
    }

    /// Says that the store had seen the push before this claim, first at
    /// `first_seen`: the claim takes over an abandoned one (its owner went
    /// away without an outcome) rather than being the push's first.
    pub fn seen_since(mut self, first_seen: Instant) -> Self {
        self.seen = Some(first_seen);
        self
    }

    /// When the store first saw the push, if before this claim (see
    /// [`Ticket::seen_since`]); `None` for a push new to the store.
    pub fn first_seen(&self) -> Option<Instant> {
        self.seen
    }

    /// The push's fate, shared with its later tries.
    pub fn decider(&self) -> Decider {
        self.decider.clone()
    }

    /// Splits the ticket: the completion, to move into the (detached) work,
    /// and the outcome, for the first caller to await.
    pub fn into_parts(self) -> (Box<dyn FnOnce(Outcome) + Send>, BoxFuture<'static, Outcome>) {
        (self.complete, self.outcome)
    }
}

/// A later try of a claimed push: when the push was first seen, its
/// shared fate, and (awaited) the work's outcome —
/// [`Outcome::abandoned`] if its owner went away without one.
pub struct Retry {
    first_seen: Instant,
    outcome: BoxFuture<'static, Outcome>,
    decider: Decider,
}

impl Retry {
    /// A retry from its parts: `first_seen` is when the store first saw
    /// the push (on any instance, for a shared store).
    pub fn new(
        first_seen: Instant,
        outcome: BoxFuture<'static, Outcome>,
        decider: Decider,
    ) -> Self {
        Retry {
            first_seen,
            outcome,
            decider,
        }
    }

    /// When the store first saw the push: which of WeChat's tries this is
    /// follows from the time since (they come 5 s apart), never from a
    /// count a store could forget.
    pub fn first_seen(&self) -> Instant {
        self.first_seen
    }

    /// The push's fate, shared with its other tries.
    pub fn decider(&self) -> Decider {
        self.decider.clone()
    }
}

impl Future for Retry {
    type Output = Outcome;

    fn poll(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Outcome> {
        self.outcome.as_mut().poll(cx)
    }
}

/// What [`DedupStore::claim_with`] is asked besides the claim.
/// Borrowed: a store that cannot use it (the default) costs the push
/// nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct ClaimWith<'a> {
    /// The push's replay binding, made before the claim and with it: the
    /// signed URL's key ([`crate::replay::binding_key`]) and the body's
    /// digest. A URL bound to another body refuses the push unclaimed.
    pub bind: Option<(&'a str, [u8; 20])>,
    /// The push's user: a store that can look up, in the same step,
    /// whether the user has pending replies says so on the ticket
    /// ([`Ticket::pending`]).
    pub user: &'a str,
}

impl<'a> ClaimWith<'a> {
    /// A binding (if any) and the push's user.
    pub fn new(bind: Option<(&'a str, [u8; 20])>, user: &'a str) -> Self {
        ClaimWith { bind, user }
    }
}

/// What [`DedupStore::claim_with`] answers.
#[non_exhaustive]
pub struct Claimed {
    /// What the binding said; `None` when none was asked.
    pub binding: Option<Binding>,
    /// The claim; `None` when the URL was bound to another body
    /// ([`Binding::Different`]): the push is refused, and not claimed.
    pub claim: Option<Claim>,
}

impl Claimed {
    /// A claim, made with `binding` (`None`: none was asked).
    pub fn new(claim: Claim, binding: Option<Binding>) -> Self {
        Claimed {
            binding,
            claim: Some(claim),
        }
    }

    /// A push refused unclaimed: its URL is bound to another body.
    pub fn different() -> Self {
        Claimed {
            binding: Some(Binding::Different),
            claim: None,
        }
    }
}

/// Decides, per key, which caller does the work, and shares its outcome
/// with the others; remembers when it first saw a push and keeps its
/// [`Fate`].
///
/// The two-phase shape (claim, then complete) lets only the first caller
/// prepare the work — run extractors, spawn the handler. A shared store
/// can claim with one atomic write (Redis `SET NX` with an expiry), but
/// two things are its own to provide, since the trait does not: the
/// completion is a plain `FnOnce` (a store whose write is asynchronous
/// must spawn it, and decide what happens when it fails), and a
/// [`Claim::Duplicate`] on another instance must learn the outcome by
/// itself (polling or pub/sub) and resolve to [`Outcome::abandoned`] when
/// the claim's owner dies without completing.
///
/// Every claim of a key within the TTL learns when the push was first
/// seen ([`Retry::first_seen`], [`Ticket::first_seen`]), and all of them
/// share one [`Decider`]: the service holds the early tries of a slow push
/// open and lets the last one hand the push off, so the first sighting and
/// the fate must be shared wherever the claim is. A claim that takes over
/// an abandoned one keeps the push's first sighting.
///
/// A store where each step is a round trip (Redis) can fold the common
/// path into two: [`DedupStore::claim_with`] binds the push's signed URL
/// with its claim (and says whether its user has pending replies,
/// [`Ticket::pending`]), and [`Ticket::with_answer`] settles the fate and
/// stores the outcome of a push answered in time in one write. Both are
/// optional: a store without them is asked the same things one by one.
pub trait DedupStore: Send + Sync + 'static {
    /// Claims `key`: [`Claim::First`] for the first caller within the TTL,
    /// [`Claim::Duplicate`] (with its try number) for every other.
    fn claim(&self, key: String) -> BoxFuture<'static, Claim>;

    /// Binds the push's signed URL and claims `key` in one step, where the
    /// store keeps the bindings beside its claims (a shared store, where
    /// each step is a round trip): the binding as
    /// [`BindingStore::bind`](crate::replay::BindingStore::bind) makes it,
    /// then — unless the URL was bound to another body — the claim, both
    /// or neither. `None` (the default): the store cannot, and the caller
    /// binds in its binding store, then claims.
    fn claim_with(&self, key: &str, with: &ClaimWith<'_>) -> Option<BoxFuture<'static, Claimed>> {
        let _ = (key, with);
        None
    }
}

/// One entry of the in-memory store: a claim, in flight or completed.
struct Slot {
    /// Tells this claim from a later claim of the same key.
    id: u64,
    /// Bytes the entry holds beyond its key and the fixed overhead.
    bytes: u32,
    flight: Arc<Flight>,
}

/// A push's [`Fate`] in this process: settled once, first call wins.
#[derive(Default)]
pub(crate) struct FateCell(AtomicU8);

impl FateCell {
    /// Settles `fate` unless settled already; the fate that holds.
    pub(crate) fn decide(&self, fate: Fate) -> Fate {
        // 0 while undecided, else `Fate as u8 + 1`.
        let code = |f: Fate| f as u8 + 1;
        match self
            .0
            .compare_exchange(0, code(fate), Ordering::AcqRel, Ordering::Acquire)
        {
            Ok(_) => fate,
            Err(c) if c == code(Fate::Answered) => Fate::Answered,
            Err(_) => Fate::HandedOff,
        }
    }
}

/// Everything one claim shares between its tries, in one allocation: when
/// the push was first seen, its fate, and the outcome once there.
struct Flight {
    first_seen: Instant,
    fate: FateCell,
    /// Set once: `Some` when the work completed, `None` when the claim was
    /// abandoned (its [`Completer`] dropped without completing).
    outcome: OnceLock<Option<Outcome>>,
    /// Wakes the tries waiting for `outcome`.
    settled: Notify,
}

impl Flight {
    fn first(first_seen: Instant) -> Arc<Flight> {
        Arc::new(Flight {
            first_seen,
            fate: FateCell::default(),
            outcome: OnceLock::new(),
            settled: Notify::new(),
        })
    }

    /// Stores the outcome (`None`: abandoned) unless one is stored, and
    /// wakes every try waiting for it.
    fn settle(&self, outcome: Option<Outcome>) {
        if self.outcome.set(outcome).is_ok() {
            self.settled.notify_waiters();
        }
    }

    fn is_abandoned(&self) -> bool {
        matches!(self.outcome.get(), Some(None))
    }

    /// The outcome as the tries see it (an abandoned claim answers
    /// [`Outcome::abandoned`]).
    fn outcome(self: &Arc<Self>) -> BoxFuture<'static, Outcome> {
        let seen = |done: &Option<Outcome>| done.clone().unwrap_or_else(Outcome::abandoned);
        if let Some(done) = self.outcome.get() {
            return futures_util::future::ready(seen(done)).boxed();
        }
        let flight = self.clone();
        async move {
            loop {
                // Registered before looking, so a settlement in between
                // still wakes this try.
                let settled = flight.settled.notified();
                let mut settled = std::pin::pin!(settled);
                settled.as_mut().enable();
                if let Some(done) = flight.outcome.get() {
                    return seen(done);
                }
                settled.await;
            }
        }
        .boxed()
    }

    fn decider(self: &Arc<Self>) -> Decider {
        let flight = self.clone();
        Arc::new(move |fate: Fate| futures_util::future::ready(flight.fate.decide(fate)).boxed())
    }
}

/// The one thing that can complete a claim, held by its [`Ticket`] and
/// never by the store: dropped without completing, it settles the claim
/// as abandoned. Either way it unpins the claim's entry.
struct Completer {
    flight: Arc<Flight>,
    store: MemoryStore,
    key: Key,
    id: u64,
    done: bool,
}

impl Completer {
    fn complete(mut self, outcome: Outcome) {
        let text = |s: &Option<Arc<str>>| s.as_deref().map_or(0, str::len);
        let bytes = text(&outcome.reply).saturating_add(text(&outcome.handler));
        self.flight.settle(Some(outcome));
        self.done = true;
        let bytes = u32::try_from(bytes).unwrap_or(u32::MAX);
        self.store
            .settle(self.key, self.id, bytes, self.flight.clone());
    }
}

impl Drop for Completer {
    fn drop(&mut self) {
        if !self.done {
            // Abandoned: the entry stays (unpinned, for the TTL) so that
            // the claim that takes it over keeps the push's first sighting.
            self.flight.settle(None);
            self.store.settle(self.key, self.id, 0, self.flight.clone());
        }
    }
}

impl Slot {
    fn in_flight(id: u64, flight: Arc<Flight>) -> Slot {
        Slot {
            id,
            bytes: 0,
            flight,
        }
    }

    /// A later try of this slot's push.
    fn retry(&self) -> Retry {
        Retry::new(
            self.flight.first_seen,
            self.flight.outcome(),
            self.flight.decider(),
        )
    }
}

fn weigh(slot: &Slot) -> u64 {
    ENTRY_OVERHEAD_BYTES.saturating_add(u64::from(slot.bytes))
}

/// The in-memory store: in-flight claims and finished outcomes, bounded
/// in bytes.
///
/// A claim whose work is in flight is **pinned**: neither the TTL nor the
/// byte budget can take it out (their number is bounded by the handlers
/// actually running, see [`crate::config::Config::max_background`]), so a
/// retry of a running push always finds it. Once completed, it keeps its
/// outcome for the TTL from its completion, and finished outcomes are
/// evicted oldest first when newer pushes need the room: a finished push
/// evicted early lets a later retry claim it anew (the service then
/// refuses it as a replay: see [`crate::replay`]). Size the budget for
/// your peak pushes per TTL (see [`BYTES_PER_ENTRY`]).
#[derive(Clone)]
pub struct MemoryStore {
    map: Arc<ExpiringMap<Slot>>,
    next_id: Arc<AtomicU64>,
    max_bytes: u64,
}

impl MemoryStore {
    /// A store with room for `capacity` typical keys
    /// (`capacity × BYTES_PER_ENTRY` bytes, see [`MemoryStore::with_max_bytes`]),
    /// each remembered for `ttl`.
    ///
    /// ```
    /// use std::time::Duration;
    /// use wechat_events::dedup::{MemoryStore, BYTES_PER_ENTRY};
    ///
    /// let store = MemoryStore::new(100_000, Duration::from_secs(30));
    /// assert_eq!(store.max_bytes(), 100_000 * BYTES_PER_ENTRY);
    /// ```
    pub fn new(capacity: u64, ttl: Duration) -> Self {
        Self::with_max_bytes(capacity.saturating_mul(BYTES_PER_ENTRY), ttl)
    }

    /// A store holding at most `max_bytes` of finished entries (replies
    /// and [`ENTRY_OVERHEAD_BYTES`] each), oldest evicted first, each
    /// remembered for `ttl` after its completion; claims in flight are
    /// kept whatever the budget.
    pub fn with_max_bytes(max_bytes: u64, ttl: Duration) -> Self {
        MemoryStore {
            map: Arc::new(ExpiringMap::new(max_bytes, ttl, BYTES_PER_ENTRY)),
            next_id: Arc::new(AtomicU64::new(0)),
            max_bytes,
        }
    }

    /// Number of keys held, expired ones not yet dropped included (see
    /// [`MemoryStore::run_pending_tasks`]).
    pub fn len(&self) -> u64 {
        self.map.len()
    }

    /// Whether the store holds nothing.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The bytes the entries weigh.
    pub fn weighted_size(&self) -> u64 {
        self.map.weight()
    }

    /// The most bytes the store holds.
    pub fn max_bytes(&self) -> u64 {
        self.max_bytes
    }

    /// Drops expired entries now. The store otherwise drops them as new
    /// pushes arrive, so an idle store keeps its last entries' memory
    /// (never more than its budget) until then. For tests and
    /// measurements.
    pub async fn run_pending_tasks(&self) {
        self.map.purge_expired();
    }

    /// The claim, synchronous: one critical section of the store's map,
    /// with no await point, so nothing can cancel it half-way.
    fn claim_now(&self, key: &str) -> Claim {
        let key = self.map.key(key);
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        // An abandoned claim is replaced, its first sighting kept.
        let seen = Cell::new(None);
        let flight = Cell::new(None);
        let held = self.map.get_or_insert_pinned(
            key,
            |slot| {
                if slot.flight.is_abandoned() {
                    seen.set(Some(slot.flight.first_seen));
                    return None;
                }
                Some(slot.retry())
            },
            || {
                let mine = Flight::first(seen.get().unwrap_or_else(Instant::now));
                flight.set(Some(mine.clone()));
                let slot = Slot::in_flight(id, mine);
                let weight = weigh(&slot);
                (slot, weight)
            },
        );
        match (held, flight.into_inner()) {
            (Some(retry), _) => Claim::Duplicate(retry),
            (None, Some(flight)) => {
                // The completer exists from the insertion on and is
                // dropped (settling the claim as abandoned) unless it
                // reaches the work: see the module docs.
                let completer = Completer {
                    flight: flight.clone(),
                    store: self.clone(),
                    key,
                    id,
                    done: false,
                };
                let ticket = Ticket::new(
                    move |outcome: Outcome| completer.complete(outcome),
                    flight.outcome(),
                    flight.decider(),
                );
                match seen.get() {
                    Some(first_seen) => Claim::First(ticket.seen_since(first_seen)),
                    None => Claim::First(ticket),
                }
            }
            (None, None) => unreachable!("get_or_insert makes the value it does not find"),
        }
    }

    /// Unpins a completed (or abandoned) claim with its final weight (its
    /// outcome is in its flight already): its TTL counts from now. If its
    /// entry is gone meanwhile and the key is not claimed anew, the
    /// completed claim goes back in, so that later tries still find the
    /// outcome. A newer claim of the key is never touched.
    fn settle(&self, key: Key, id: u64, bytes: u32, flight: Arc<Flight>) {
        let live = self.map.unpin(key, |slot| {
            (slot.id == id).then(|| {
                slot.bytes = bytes;
                weigh(slot)
            })
        });
        if !live {
            let done = Slot { id, bytes, flight };
            let weight = weigh(&done);
            self.map.get_or_insert(key, |_| Some(()), || (done, weight));
        }
    }
}

impl DedupStore for MemoryStore {
    fn claim(&self, key: String) -> BoxFuture<'static, Claim> {
        futures_util::future::ready(self.claim_now(&key)).boxed()
    }
}

/// The de-duplication key of a push .
///
/// Messages: account + `FromUserName` + `MsgId`. Events: account +
/// `FromUserName` + `CreateTime` + `Event` + `EventKey`, plus the
/// coordinates for LOCATION; anything unmodeled (or a message without
/// `MsgId`) adds a digest of all its fields, so distinct pushes sharing a
/// second never collide while a retry (same body) always does.
///
/// ```
/// let a = wechat_events::push::parse(b"<xml><ToUserName>gh</ToUserName><FromUserName>u</FromUserName>\
///     <CreateTime>1</CreateTime><MsgType>event</MsgType><Event>CLICK</Event><EventKey>A</EventKey></xml>").unwrap();
/// let b = wechat_events::push::parse(b"<xml><ToUserName>gh</ToUserName><FromUserName>u</FromUserName>\
///     <CreateTime>1</CreateTime><MsgType>event</MsgType><Event>CLICK</Event><EventKey>B</EventKey></xml>").unwrap();
/// assert_ne!(wechat_events::dedup::dedup_key(&a), wechat_events::dedup::dedup_key(&b));
/// ```
pub fn dedup_key(push: &Push) -> String {
    let (to, from, time) = (&push.to_user, &push.from_user, push.create_time);
    match &push.body {
        // The common cases, every push of a busy bot, joined by hand: the
        // formatting machinery costs more than the rest of the key.
        Body::Message(m) => match m.msg_id() {
            Some(id) => ["m", to, from, itoa::Buffer::new().format(id)].join("|"),
            None => format!("m|{to}|{from}|{time}|{}|{}", push.msg_type, digest(push)),
        },
        Body::Event(e) => {
            let event = push.fields.text("Event").unwrap_or_default();
            let key = e.key().unwrap_or_default();
            match e {
                Event::Location(l) => {
                    format!(
                        "e|{to}|{from}|{time}|{event}|{}|{}|{}",
                        l.latitude, l.longitude, l.precision
                    )
                }
                // The menu and follow events: user, second, event and key
                // tell two apart, as the protocol's key does.
                Event::Subscribe(_)
                | Event::Unsubscribe(_)
                | Event::Scan(_)
                | Event::Click(_)
                | Event::View(_) => {
                    ["e", to, from, itoa::Buffer::new().format(time), event, key].join("|")
                }
                // Every other event (job results, cards, subscription
                // messages, unknown ones) may come several to a user in one
                // second with no key to tell them apart: the digest does.
                _ => format!("e|{to}|{from}|{time}|{event}|{key}|{}", digest(push)),
            }
        }
    }
}

fn digest(push: &Push) -> String {
    let mut h = Sha1::new();
    fn feed(h: &mut Sha1, fields: &crate::fields::Fields) {
        for (name, value) in fields.iter() {
            h.update(name.as_bytes());
            h.update([0]);
            match value {
                crate::fields::Value::Text(t) => h.update(t.as_bytes()),
                crate::fields::Value::Nested(f) => {
                    h.update([1]);
                    feed(h, f);
                    h.update([2]);
                }
            }
            h.update([0]);
        }
    }
    feed(&mut h, &push.fields);
    hex::encode(&h.finalize()[..10])
}

#[cfg(test)]
mod tests {
    use std::task::{Context, Poll};

    use super::*;
    use crate::push::parse;

    fn push(inner: &str) -> Push {
        parse(format!("<xml><ToUserName>gh</ToUserName><FromUserName>u</FromUserName><CreateTime>100</CreateTime>{inner}</xml>").as_bytes()).unwrap()
    }

    fn replied(reply: &str) -> Outcome {
        Outcome {
            reply: Some(reply.into()),
            handler: None,
            status: Status::Replied,
        }
    }

    /// Claims `key`; if first, completes it with `reply` at once.
    /// Returns whether the claim was first.
    async fn claim_and_complete(store: &MemoryStore, key: String, reply: &str) -> bool {
        match store.claim(key).await {
            Claim::First(ticket) => {
                let (complete, outcome) = ticket.into_parts();
                complete(replied(reply));
                assert_eq!(outcome.await.reply.as_deref(), Some(reply));
                true
            }
            Claim::Duplicate(outcome) => {
                outcome.await;
                false
            }
        }
    }

    #[test]
    fn job_results_in_one_second_are_distinct_pushes() {
        let job = |id: u32| {
            push(&format!(
                "<MsgType>event</MsgType><Event>TEMPLATESENDJOBFINISH</Event><MsgID>{id}</MsgID><Status>success</Status>"
            ))
        };
        assert_ne!(dedup_key(&job(1)), dedup_key(&job(2)));
        assert_eq!(
            dedup_key(&job(1)),
            dedup_key(&job(1)),
            "a retry is the same push"
        );
    }

    #[test]
    fn keys_follow_the_protocol() {
        let m1 = push("<MsgType>text</MsgType><Content>a</Content><MsgId>7</MsgId>");
        let m1_again = push("<MsgType>text</MsgType><Content>a</Content><MsgId>7</MsgId>");
        let m2 = push("<MsgType>text</MsgType><Content>a</Content><MsgId>8</MsgId>");
        assert_eq!(dedup_key(&m1), dedup_key(&m1_again));
        assert_ne!(dedup_key(&m1), dedup_key(&m2));
        let sub = push("<MsgType>event</MsgType><Event>subscribe</Event>");
        let unsub = push("<MsgType>event</MsgType><Event>unsubscribe</Event>");
        assert_ne!(
            dedup_key(&sub),
            dedup_key(&unsub),
            "same user, same second, different events"
        );
        let l1 = push("<MsgType>event</MsgType><Event>LOCATION</Event><Latitude>1</Latitude><Longitude>2</Longitude>");
        let l2 = push("<MsgType>event</MsgType><Event>LOCATION</Event><Latitude>1</Latitude><Longitude>3</Longitude>");
        assert_ne!(dedup_key(&l1), dedup_key(&l2));
        let u1 = push("<MsgType>event</MsgType><Event>card_pass</Event><CardId>a</CardId>");
        let u2 = push("<MsgType>event</MsgType><Event>card_pass</Event><CardId>b</CardId>");
        assert_ne!(dedup_key(&u1), dedup_key(&u2));
        assert_eq!(
            dedup_key(&u1),
            dedup_key(&push(
                "<MsgType>event</MsgType><Event>card_pass</Event><CardId>a</CardId>"
            ))
        );
    }

    #[actix_rt::test]
    async fn one_first_claim_per_key_and_everyone_gets_its_outcome() {
        let store = MemoryStore::new(100, Duration::from_secs(30));
        let claims = futures_util::future::join_all((0..3).map(|_| store.claim("k".into()))).await;
        let mut waiting = Vec::new();
        let mut firsts = 0;
        for claim in claims {
            match claim {
                Claim::First(ticket) => {
                    firsts += 1;
                    let (complete, outcome) = ticket.into_parts();
                    tokio::spawn(async move {
                        tokio::time::sleep(Duration::from_millis(20)).await;
                        complete(replied("r"));
                    });
                    waiting.push(outcome);
                }
                Claim::Duplicate(outcome) => waiting.push(outcome.boxed()),
            }
        }
        assert_eq!(firsts, 1);
        let outcomes = futures_util::future::join_all(waiting).await;
        assert!(outcomes.iter().all(|o| o.reply.as_deref() == Some("r")));
        store.run_pending_tasks().await;
        match store.claim("k".into()).await {
            Claim::Duplicate(later) => assert_eq!(later.await.reply.as_deref(), Some("r")),
            Claim::First(_) => panic!("a finished key is not claimed again"),
        }
        assert!(matches!(store.claim("other".into()).await, Claim::First(_)));
    }

    #[actix_rt::test]
    async fn an_abandoned_ticket_answers_everyone_and_frees_the_key() {
        let store = MemoryStore::new(100, Duration::from_secs(30));
        let Claim::First(ticket) = store.claim("gone".into()).await else {
            panic!("first claim")
        };
        let Claim::Duplicate(dup) = store.claim("gone".into()).await else {
            panic!("second claim")
        };
        drop(ticket);
        assert_eq!(dup.await, Outcome::abandoned());
        let Claim::First(again) = store.claim("gone".into()).await else {
            panic!("a retry after an abandoned claim runs the work")
        };
        assert!(again.first_seen().is_some(), "a takeover, not a new push");
        let (complete, _) = again.into_parts();
        complete(replied("second try"));
        assert!(!claim_and_complete(&store, "gone".into(), "unused").await);
    }

    #[actix_rt::test]
    async fn a_claim_has_no_await_point_and_a_dropped_ticket_frees_the_key() {
        let store = MemoryStore::new(100, Duration::from_secs(30));
        let mut cx = Context::from_waker(futures_util::task::noop_waker_ref());
        // Ready on the first poll: a hang-up cannot stop it half-way.
        let mut claim = store.claim("k".into());
        let Poll::Ready(Claim::First(ticket)) = claim.as_mut().poll(&mut cx) else {
            panic!("the claim completes at once")
        };
        // A retry arrives, then the caller hangs up before starting the
        // work: the ticket goes unused.
        let Claim::Duplicate(waiting) = store.claim("k".into()).await else {
            panic!("a retry")
        };
        drop(ticket);
        assert_eq!(
            waiting.now_or_never(),
            Some(Outcome::abandoned()),
            "the waiting retry is answered at once"
        );
        assert!(
            claim_and_complete(&store, "k".into(), "ran").await,
            "the next claim runs the work"
        );
        assert!(!claim_and_complete(&store, "k".into(), "unused").await);
    }

    #[actix_rt::test]
    async fn retries_of_fresh_pushes_are_recognised_however_full_the_store() {
        let store = MemoryStore::new(100, Duration::from_secs(60));
        let reply = "<xml>a reply of some length</xml>".repeat(6);
        for i in 0..2_000 {
            assert!(claim_and_complete(&store, format!("old-push-{i}"), &reply).await);
        }
        store.run_pending_tasks().await;
        assert!(store.weighted_size() <= store.max_bytes());
        assert!(store.len() < 2_000, "the store evicted: {}", store.len());

        // Fresh pushes, completed, then retried.
        for i in 0..100 {
            assert!(claim_and_complete(&store, format!("fresh-{i}"), &reply).await);
        }
        store.run_pending_tasks().await;
        let mut recognised = 0;
        for i in 0..100 {
            if !claim_and_complete(&store, format!("fresh-{i}"), "unused").await {
                recognised += 1;
            }
        }
        assert_eq!(recognised, 100, "retries recognised past capacity");

        // Fresh pushes still in flight while more unique pushes arrive.
        let mut tickets = Vec::new();
        for i in 0..20 {
            match store.claim(format!("slow-{i}")).await {
                Claim::First(ticket) => tickets.push(ticket),
                Claim::Duplicate(_) => panic!("slow-{i} is new"),
            }
        }
        for i in 0..40 {
            assert!(claim_and_complete(&store, format!("burst-{i}"), &reply).await);
        }
        store.run_pending_tasks().await;
        let mut waiting = Vec::new();
        for i in 0..20 {
            match store.claim(format!("slow-{i}")).await {
                Claim::Duplicate(outcome) => waiting.push(outcome),
                Claim::First(_) => panic!("the retry of in-flight slow-{i} was not recognised"),
            }
        }
        for ticket in tickets {
            let (complete, _) = ticket.into_parts();
            complete(replied("slow"));
        }
        for outcome in waiting {
            assert_eq!(outcome.await.reply.as_deref(), Some("slow"));
        }
        store.run_pending_tasks().await;
        assert!(store.weighted_size() <= store.max_bytes());
    }

    #[tokio::test(start_paused = true)]
    async fn a_running_claim_is_never_evicted_nor_expired() {
        // Room for about four finished entries.
        let store = MemoryStore::with_max_bytes(4 * BYTES_PER_ENTRY, Duration::from_secs(30));
        let Claim::First(running) = store.claim("running".into()).await else {
            panic!("first claim")
        };
        let reply = "x".repeat(2_000);
        for i in 0..300 {
            assert!(claim_and_complete(&store, format!("echo-{i}"), &reply).await);
        }
        tokio::time::advance(Duration::from_secs(60)).await;
        store.run_pending_tasks().await;
        let Claim::Duplicate(retry) = store.claim("running".into()).await else {
            panic!("the running push was forgotten")
        };
        let (complete, _) = running.into_parts();
        complete(replied("done"));
        assert_eq!(retry.await.reply.as_deref(), Some("done"));
        // Finished, it expires like any other.
        tokio::time::advance(Duration::from_secs(31)).await;
        assert!(claim_and_complete(&store, "running".into(), "again").await);
        assert_eq!(store.map.pinned(), 0);
    }

    #[actix_rt::test]
    async fn entries_weigh_their_bytes() {
        let store = MemoryStore::with_max_bytes(1 << 20, Duration::from_secs(60));
        let Claim::First(ticket) = store.claim("key-1".into()).await else {
            panic!("first claim")
        };
        store.run_pending_tasks().await;
        // The store keeps a fingerprint of the key, not the key.
        assert_eq!(store.weighted_size(), ENTRY_OVERHEAD_BYTES);
        let (complete, _) = ticket.into_parts();
        complete(Outcome {
            reply: Some("x".repeat(1000).into()),
            handler: Some("bot::handler".into()),
            status: Status::Replied,
        });
        store.run_pending_tasks().await;
        assert_eq!(store.weighted_size(), ENTRY_OVERHEAD_BYTES + 1000 + 12);
        assert_eq!(store.len(), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn tries_share_the_first_sighting_and_one_fate() {
        let store = MemoryStore::new(100, Duration::from_secs(60));
        let start = Instant::now();
        let Claim::First(first) = store.claim("k".into()).await else {
            panic!("first claim")
        };
        assert_eq!(first.first_seen(), None, "new to the store");
        tokio::time::advance(Duration::from_secs(5)).await;
        let Claim::Duplicate(second) = store.claim("k".into()).await else {
            panic!("second try")
        };
        tokio::time::advance(Duration::from_secs(5)).await;
        let Claim::Duplicate(third) = store.claim("k".into()).await else {
            panic!("third try")
        };
        assert_eq!((second.first_seen(), third.first_seen()), (start, start));
        // The third try hands the push off; the work, finishing later,
        // learns it and cannot take it back.
        assert_eq!((third.decider())(Fate::HandedOff).await, Fate::HandedOff);
        assert_eq!((first.decider())(Fate::Answered).await, Fate::HandedOff);
        assert_eq!((second.decider())(Fate::Answered).await, Fate::HandedOff);
        let (complete, _) = first.into_parts();
        complete(replied("tip"));
        let Claim::Duplicate(fourth) = store.claim("k".into()).await else {
            panic!("fourth try")
        };
        assert_eq!(fourth.first_seen(), start);
        assert_eq!(fourth.await.reply.as_deref(), Some("tip"));

        // Answered first: a try's hand-off comes too late.
        let Claim::First(first) = store.claim("j".into()).await else {
            panic!("first claim")
        };
        assert_eq!((first.decider())(Fate::Answered).await, Fate::Answered);
        let Claim::Duplicate(retry) = store.claim("j".into()).await else {
            panic!("retry")
        };
        assert_eq!((retry.decider())(Fate::HandedOff).await, Fate::Answered);
    }

    #[actix_rt::test]
    async fn a_late_completion_does_not_overwrite_a_newer_claim() {
        let store = MemoryStore::new(100, Duration::from_secs(60));
        let Claim::First(old) = store.claim("k".into()).await else {
            panic!("first claim")
        };
        // The entry is lost (as to an early eviction) and claimed anew.
        store.map.remove(store.map.key("k"));
        let Claim::First(new) = store.claim("k".into()).await else {
            panic!("claim after eviction")
        };
        let (complete_old, _) = old.into_parts();
        complete_old(replied("old"));
        store.run_pending_tasks().await;
        let Claim::Duplicate(retry) = store.claim("k".into()).await else {
            panic!("the newer claim is in flight")
        };
        let (complete_new, _) = new.into_parts();
        complete_new(replied("new"));
        assert_eq!(retry.await.reply.as_deref(), Some("new"));
    }

    #[actix_rt::test]
    async fn a_completed_claim_whose_entry_was_lost_goes_back_in() {
        let store = MemoryStore::new(100, Duration::from_secs(60));
        let Claim::First(ticket) = store.claim("k".into()).await else {
            panic!("first claim")
        };
        // The in-flight entry is lost (as to an early eviction); nobody
        // claims the key meanwhile.
        store.map.remove(store.map.key("k"));
        let (complete, _) = ticket.into_parts();
        complete(replied("kept"));
        let Claim::Duplicate(retry) = store.claim("k".into()).await else {
            panic!("the completed claim is back")
        };
        assert_eq!(retry.await.reply.as_deref(), Some("kept"));
        assert_eq!(store.len(), 1);
    }
}
