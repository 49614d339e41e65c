//! Retry de-duplication in Redis.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, Mutex};
use std::time::Duration;

use futures_util::future::{BoxFuture, FutureExt};
use tokio::sync::oneshot;
use tokio::time::Instant;

use super::{millis, RedisBackend, RedisBindings};
use crate::dedup::{
    Claim, ClaimWith, Claimed, Decider, DedupStore, Fate, MemoryStore, Outcome, Retry, Ticket,
};
use crate::replay::{Binding, BindingStore};

/// Binds the push's signed URL (when asked) and claims the push, both or
/// neither; looks up, in the same step, whether the user's pending list
/// exists (when asked).
///
/// KEYS: the push's hash, then the URL's binding key when ARGV[4] (the
/// body's digest) is not empty, then the user's pending list when ARGV[6]
/// is `1` — all under one hash tag. ARGV: owner, lease ms, TTL ms, digest,
/// binding TTL ms, look up pending.
///
/// The binding: a URL bound to another body refuses the push unclaimed;
/// else it is bound (or found bound, its remaining life read). The claim:
/// the first caller (or the first after an owner's lease ran out without
/// an outcome) owns the push. Answers `{first, age, owner, taken over,
/// binding, binding's remaining ms, pending listed}`: `age` is the
/// milliseconds since the push was first seen (kept across a takeover), by
/// Redis's clock; `binding` -1 (not asked), 0 (new), 1 (same body), 2
/// (another body: nothing else done).
static CLAIM: LazyLock<::redis::Script> = LazyLock::new(|| {
    ::redis::Script::new(
        r"local n = 2
local bound, left, listed = -1, 0, 0
if ARGV[4] ~= '' then
  local old = redis.call('GET', KEYS[n])
  if old and old ~= ARGV[4] then return {0, 0, '', 0, 2, 0, 0} end
  if old then
    bound = 1
    left = redis.call('PTTL', KEYS[n])
  else
    bound = 0
    redis.call('SET', KEYS[n], ARGV[4], 'PX', ARGV[5])
  end
  n = n + 1
end
if ARGV[6] == '1' then listed = redis.call('EXISTS', KEYS[n]) end
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
local owner = redis.call('HGET', KEYS[1], 'owner')
local seen = now
local over = 0
if owner then
  seen = tonumber(redis.call('HGET', KEYS[1], 'seen') or now)
  local done = redis.call('HEXISTS', KEYS[1], 'outcome')
  local lease = tonumber(redis.call('HGET', KEYS[1], 'lease') or '0')
  if done == 1 or lease > now then
    return {0, now - seen, owner, 0, bound, left, listed}
  end
  redis.call('DEL', KEYS[1])
  over = 1
end
redis.call('HSET', KEYS[1], 'owner', ARGV[1], 'lease', now + tonumber(ARGV[2]), 'seen', seen)
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return {1, now - seen, ARGV[1], over, bound, left, listed}",
    )
});

/// Renews the owner's lease while its work runs; 0 once it is not the
/// owner any more (or the push is done). One key.
static RENEW: LazyLock<::redis::Script> = LazyLock::new(|| {
    ::redis::Script::new(
        r"if redis.call('HGET', KEYS[1], 'owner') ~= ARGV[1] or redis.call('HEXISTS', KEYS[1], 'outcome') == 1 then return 0 end
local t = redis.call('TIME')
redis.call('HSET', KEYS[1], 'lease', t[1] * 1000 + math.floor(t[2] / 1000) + tonumber(ARGV[2]))
return 1",
    )
});

/// Stores the owner's outcome (JSON), kept the TTL from now. One key.
static COMPLETE: LazyLock<::redis::Script> = LazyLock::new(|| {
    ::redis::Script::new(
        r"if redis.call('HGET', KEYS[1], 'owner') ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'outcome', ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1",
    )
});

/// Gives up an owner's claim that will never complete: its lease ends now,
/// so the next claim takes it over (keeping the push's first sighting).
/// One key.
static ABANDON: LazyLock<::redis::Script> = LazyLock::new(|| {
    ::redis::Script::new(
        r"if redis.call('HGET', KEYS[1], 'owner') == ARGV[1] and redis.call('HEXISTS', KEYS[1], 'outcome') == 0 then
  return redis.call('HSET', KEYS[1], 'lease', 0)
end
return 0",
    )
});

/// What a waiting try sees: `{owner, outcome JSON, lease ran out}`
/// (empty strings for missing fields). One key.
static LOOK: LazyLock<::redis::Script> = LazyLock::new(|| {
    ::redis::Script::new(
        r"local v = redis.call('HMGET', KEYS[1], 'owner', 'outcome', 'lease')
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
local expired = 0
if not v[3] or tonumber(v[3]) <= now then expired = 1 end
return {v[1] or '', v[2] or '', expired}",
    )
});

/// Answers the push in one step: settles the fate as answered unless
/// settled, and when it is answered stores the owner's outcome (JSON),
/// kept the TTL from now — as FATE then COMPLETE would. Answers the fate
/// that holds, or '' when the push's key is gone. One key.
static ANSWER: LazyLock<::redis::Script> = LazyLock::new(|| {
    ::redis::Script::new(
        r"if redis.call('EXISTS', KEYS[1]) == 0 then return '' end
redis.call('HSETNX', KEYS[1], 'fate', 'answered')
local fate = redis.call('HGET', KEYS[1], 'fate')
if fate == 'answered' and redis.call('HGET', KEYS[1], 'owner') == ARGV[1] then
  redis.call('HSET', KEYS[1], 'outcome', ARGV[2])
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
end
return fate",
    )
});

/// Settles the fate unless settled; answers the fate that holds, or ''
/// when the push's key is gone. One key.
static FATE: LazyLock<::redis::Script> = LazyLock::new(|| {
    ::redis::Script::new(
        r"if redis.call('EXISTS', KEYS[1]) == 0 then return '' end
redis.call('HSETNX', KEYS[1], 'fate', ARGV[1])
return redis.call('HGET', KEYS[1], 'fate')",
    )
});

/// Default life of an owner's lease without a renewal: a claim whose
/// instance died is taken over by a try arriving this long after its
/// last renewal.
pub const DEFAULT_LEASE: Duration = Duration::from_secs(5);
/// Default time between two looks of a waiting try at the push's outcome.
pub const DEFAULT_DEDUP_POLL: Duration = Duration::from_millis(50);

/// The de-duplication store every instance shares
/// ([`DedupStore`]): a WeChat retry reaching another instance than its
/// first try waits for the first try's outcome and answers the same reply,
/// and the push's tries and [`Fate`] are counted and settled across
/// instances.
///
/// One Redis hash per push, `{PREFIX:ACCOUNT}:dedup:KEY`, kept the dedup
/// TTL after the claim and again after the outcome: `owner` (the claim), a
/// `lease` the owner renews every third of [`RedisDedup::lease`] while its
/// work runs, `seen` (when the push was first seen, by Redis's clock),
/// `fate` and `outcome` (JSON). Claiming is one script
/// (`SET NX` in spirit: the first caller owns the push). Made by the
/// service, the store binds the push's signed URL in the same script
/// ([`DedupStore::claim_with`]; the binding key shares the account's hash
/// tag), looks up whether the user's pending list exists, and answers the
/// push — its fate and its outcome — in one more ([`Ticket::with_answer`]):
/// a push answered in time costs two round trips. A try on another
/// instance looks every [`RedisDedup::poll_interval`] (default 50 ms)
/// until the outcome is there — bounded polling rather than pub/sub: one
/// short script per waiting try and interval, and no subscription to keep
/// alive across reconnections. An owner that dies stops renewing: once
/// its lease runs out, a waiting try learns it ([`Outcome::abandoned`]) and
/// claims the push anew, taking it over: it runs the handler (at least
/// once across a dead instance).
///
/// While Redis is down, claims go to a [`MemoryStore`] of its own (each
/// instance de-duplicates its own tries), a try waiting on another
/// instance claims the push there, and a fate Redis cannot settle is
/// settled in this instance. Each instance keeps the first fate it learns
/// for a push (read from Redis or settled here) and answers every later
/// ask with it, even once Redis is back: a try that answered the slow tip
/// and the work finishing after it always agree that the reply goes late
/// (one fate per push per instance; remembered as long as the in-memory
/// fallback remembers outcomes).
#[derive(Clone)]
pub struct RedisDedup {
    backend: RedisBackend,
    account: String,
    ttl: Duration,
    lease: Duration,
    poll: Duration,
    memory: MemoryStore,
    /// The replay bindings claimed with the pushes, when the service's
    /// binding store is the Redis one.
    bindings: Option<RedisBindings>,
    /// Whether a claim looks up its user's pending list (when the
    /// service's pending store is the Redis one).
    pending: bool,
    /// Each push's fate as this instance knows it — read from Redis, or
    /// settled here while Redis could not: one per push on this instance,
    /// whatever Redis does later.
    fates: moka::sync::Cache<String, Fate>,
    instance: Arc<str>,
    next: Arc<AtomicU64>,
}

impl std::fmt::Debug for RedisDedup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisDedup")
            .field("account", &self.account)
            .field("ttl", &self.ttl)
            .field("lease", &self.lease)
            .field("poll", &self.poll)
            .finish_non_exhaustive()
    }
}

impl RedisDedup {
    /// Outcomes of `account`'s pushes, kept `ttl`; the in-memory fallback
    /// holds up to `capacity` typical entries (see [`MemoryStore::new`]).
    pub fn new(backend: &RedisBackend, account: &str, capacity: u64, ttl: Duration) -> Self {
        RedisDedup {
            backend: backend.clone(),
            account: account.to_owned(),
            ttl,
            lease: DEFAULT_LEASE,
            poll: DEFAULT_DEDUP_POLL,
            memory: MemoryStore::new(capacity, ttl),
            bindings: None,
            pending: false,
            fates: moka::sync::Cache::builder()
                .max_capacity(capacity.max(1))
                .time_to_live(ttl)
                // Every new push's fate is kept (the default policy may
                // refuse a new entry when the cache is full); the oldest
                // go first.
                .eviction_policy(moka::policy::EvictionPolicy::lru())
                .build(),
            instance: format!("{:016x}", rand::random::<u64>()).into(),
            next: Arc::new(AtomicU64::new(0)),
        }
    }

    /// How long a claim holds without its owner renewing it (default 5 s).
    pub fn lease(mut self, lease: Duration) -> Self {
        self.lease = lease.max(Duration::from_millis(30));
        self
    }

    /// Binds each push's signed URL with its claim, in `bindings` (which
    /// must be the service's binding store).
    pub(crate) fn with_bindings(mut self, bindings: RedisBindings) -> Self {
        self.bindings = Some(bindings);
        self
    }

    /// Looks up the user's pending list with each claim (the service's
    /// pending store must be a [`super::RedisPending`] of the same backend
    /// and account).
    pub(crate) fn with_pending(mut self) -> Self {
        self.pending = true;
        self
    }

    /// How often a waiting try looks for the outcome (default 50 ms).
    pub fn poll_interval(mut self, interval: Duration) -> Self {
        self.poll = interval.max(Duration::from_millis(1));
        self
    }

    fn ticket(&self, key: String, id: String) -> Ticket {
        let (tx, rx) = oneshot::channel::<Outcome>();
        let owned = Owned {
            store: self.clone(),
            key: key.clone(),
            id: id.clone(),
            done: false,
            heartbeat: self
                .backend
                .spawn(heartbeat(self.clone(), key.clone(), id.clone())),
        };
        // Completed once, by the one-step answer or by the completion.
        let slot: Slot = Arc::new(Mutex::new(Some((owned, tx))));
        let (store, answer_key, answered) = (self.clone(), key.clone(), slot.clone());
        Ticket::new(
            move |outcome: Outcome| {
                if let Some((mut owned, tx)) = take(&slot) {
                    owned.complete(&outcome);
                    let _ = tx.send(outcome);
                }
            },
            rx.map(|r| r.unwrap_or_else(|_| Outcome::abandoned()))
                .boxed(),
            self.decider(key),
        )
        .with_answer(move |outcome| Box::pin(store.answer(answer_key, id, answered, outcome)))
    }

    /// The one-step answer ([`Ticket::with_answer`]): the fate settled as
    /// answered and the outcome stored by one script, unless this instance
    /// knows the push's fate already.
    async fn answer(self, key: String, id: String, slot: Slot, outcome: Outcome) -> Fate {
        let complete = |outcome: Outcome, stored: bool| {
            if let Some((mut owned, tx)) = take(&slot) {
                match stored {
                    true => owned.settled(),
                    false => owned.complete(&outcome),
                }
                let _ = tx.send(outcome);
            }
        };
        let json = serde_json::to_string(&outcome);
        let (Ok(json), None) = (json, self.fates.get(&key)) else {
            // A fate known here (or an outcome that is no JSON, which
            // the completion logs): the decider's and the completion's way.
            let fate = self.decider(key)(Fate::Answered).await;
            if fate == Fate::Answered {
                complete(outcome, false);
            }
            return fate;
        };
        let (redis_key, ttl) = (key.clone(), millis(self.ttl));
        let held = self
            .backend
            .run("dedup answer", move |mut conn| async move {
                let mut call = ANSWER.key(redis_key);
                call.arg(id).arg(json).arg(ttl);
                call.invoke_async::<String>(&mut conn).await
            })
            .await;
        let fate = match held.as_deref() {
            Some("handed_off") => Fate::HandedOff,
            Some(_) => Fate::Answered,
            // Redis could not say whether a try on another instance has
            // handed the push off: the reply goes late (delivered, perhaps
            // after a tip) rather than to tries that may be gone.
            None => Fate::HandedOff,
        };
        // First known wins, should two asks race here.
        let fate = self.fates.get_with(key, || fate);
        if fate == Fate::Answered {
            // Stored by the script when Redis answered (or the push's key
            // is gone, where the completion could store nothing either).
            complete(outcome, held.is_some());
        }
        fate
    }

    /// The outcome as a try on any instance learns it, by polling.
    fn wait(&self, key: String, owner: String) -> BoxFuture<'static, Outcome> {
        let this = self.clone();
        Box::pin(async move {
            loop {
                let key = key.clone();
                let look = this
                    .backend
                    .run("dedup wait", move |mut conn| async move {
                        let call = LOOK.key(key);
                        call.invoke_async::<(String, String, i64)>(&mut conn).await
                    })
                    .await;
                let Some((now_owner, outcome, expired)) = look else {
                    return Outcome::abandoned();
                };
                if !outcome.is_empty() {
                    // A settled outcome this version cannot read (a newer
                    // one's, during a rolling upgrade) is still settled:
                    // answered `success`, not claimed again.
                    return serde_json::from_str(&outcome).unwrap_or_else(|e| {
                        tracing::error!(target: "wechat_events::redis", error = %e, "a push outcome in Redis does not parse; answering success");
                        Outcome {
                            reply: None,
                            handler: None,
                            status: crate::dedup::Status::Failed,
                        }
                    });
                }
                if now_owner != owner || expired == 1 {
                    tracing::warn!(target: "wechat_events::redis", "the instance running this push went away without an outcome; claiming it anew");
                    return Outcome::abandoned();
                }
                tokio::time::sleep(this.poll).await;
            }
        })
    }

    fn decider(&self, key: String) -> Decider {
        let backend = self.backend.clone();
        // The first fate this instance learns for the push — from Redis, or
        // settled here when Redis cannot — holds for every later ask here:
        // a try that answered the tip and the work that then asks while
        // Redis is down (or back) must agree, or the reply is dropped.
        let fates = self.fates.clone();
        Arc::new(move |fate: Fate| {
            let (backend, key, fates) = (backend.clone(), key.clone(), fates.clone());
            Box::pin(async move {
                if let Some(known) = fates.get(&key) {
                    return known;
                }
                let asked = fate.as_str();
                let redis_key = key.clone();
                let held = backend
                    .run("dedup fate", move |mut conn| async move {
                        let mut call = FATE.key(redis_key);
                        call.arg(asked);
                        call.invoke_async::<String>(&mut conn).await
                    })
                    .await;
                let fate = match held.as_deref() {
                    Some("answered") => Fate::Answered,
                    Some("handed_off") => Fate::HandedOff,
                    // Unknown (Redis cannot say, or the key is gone): a try
                    // hands off as it asks; the work sends its reply late
                    // rather than to tries that may have answered the tip.
                    _ => Fate::HandedOff,
                };
                // First known wins, should two asks race here.
                fates.get_with(key, || fate)
            }) as BoxFuture<'static, Fate>
        })
    }
}

/// The owner's state shared by the completion and the one-step answer:
/// taken by whichever completes the push.
type Slot = Arc<Mutex<Option<(Owned, oneshot::Sender<Outcome>)>>>;

fn take(slot: &Slot) -> Option<(Owned, oneshot::Sender<Outcome>)> {
    slot.lock().unwrap_or_else(|e| e.into_inner()).take()
}

/// What the claim script answers (see [`CLAIM`]).
type Answered = (i64, i64, String, i64, i64, i64, i64);

impl DedupStore for RedisDedup {
    /// The claim runs to its end on the backend's runtime whatever becomes
    /// of the caller: a try that hangs up while its claim is in flight
    /// drops the answer, and with it the ticket, which gives the claim up
    /// at once instead of leaving a lease nobody renews.
    fn claim(&self, key: String) -> BoxFuture<'static, Claim> {
        let claimed = self.claimed(key.clone(), None, None);
        let memory = self.memory.clone();
        Box::pin(async move {
            match claimed.await.claim {
                Some(claim) => claim,
                // Not reached: only a binding refuses a claim.
                None => memory.claim(key).await,
            }
        })
    }

    /// One script binds the URL (with bindings of this store's own, see
    /// [`RedisDedup`]), claims the push and looks up the user's pending
    /// list; `None` when asked to bind without such bindings.
    fn claim_with(&self, key: &str, with: &ClaimWith<'_>) -> Option<BoxFuture<'static, Claimed>> {
        if with.bind.is_some() && self.bindings.is_none() {
            return None;
        }
        let user = self.pending.then(|| with.user.to_owned());
        let bind = with.bind.map(|(url, digest)| (url.to_owned(), digest));
        Some(self.claimed(key.to_owned(), bind, user))
    }
}

impl RedisDedup {
    /// [`RedisDedup::claim_here`] on the backend's runtime (see
    /// [`RedisDedup::claim`]).
    fn claimed(
        &self,
        key: String,
        bind: Option<(String, [u8; 20])>,
        user: Option<String>,
    ) -> BoxFuture<'static, Claimed> {
        let (tx, rx) = oneshot::channel();
        let claim = self.clone().claim_here(key.clone(), bind.clone(), user);
        self.backend.spawn(async move {
            // A dropped receiver hands the claim back: its ticket's drop
            // gives it up.
            let _ = tx.send(claim.await);
        });
        let this = self.clone();
        Box::pin(async move {
            match rx.await {
                Ok(claimed) => claimed,
                // The backend's runtime is gone (shutting down).
                Err(_) => this.in_memory(key, bind).await,
            }
        })
    }

    /// The binding and the claim in this instance's memory, Redis aside.
    async fn in_memory(self, key: String, bind: Option<(String, [u8; 20])>) -> Claimed {
        let binding = match (bind, &self.bindings) {
            (Some((url, digest)), Some(bindings)) => Some(bindings.memory.bind(url, digest).await),
            _ => None,
        };
        if binding == Some(Binding::Different) {
            return Claimed::different();
        }
        Claimed::new(self.memory.claim(key).await, binding)
    }

    async fn claim_here(
        self,
        key: String,
        bind: Option<(String, [u8; 20])>,
        user: Option<String>,
    ) -> Claimed {
        let this = self;
        let redis_key = this.backend.tagged(&this.account, "dedup", &key);
        let id = format!(
            "{}-{}",
            this.instance,
            this.next.fetch_add(1, Ordering::Relaxed)
        );
        let (lease, ttl) = (millis(this.lease), millis(this.ttl));
        let binding_ttl = this.bindings.as_ref().map_or(1, |b| millis(b.ttl));
        let mut keys = vec![redis_key.clone()];
        let mut digest: &[u8] = &[];
        if let Some((url, bound)) = &bind {
            keys.push(this.backend.tagged(&this.account, "replay", url));
            digest = bound;
        }
        let look = match &user {
            Some(user) => {
                keys.push(this.backend.tagged(&this.account, "pending", user));
                "1"
            }
            None => "",
        };
        let call_id = id.clone();
        let digest = digest.to_vec();
        let claimed = this
            .backend
            .run("dedup claim", move |mut conn| async move {
                let mut call = CLAIM.prepare_invoke();
                for key in keys {
                    call.key(key);
                }
                call.arg(call_id)
                    .arg(lease)
                    .arg(ttl)
                    .arg(digest)
                    .arg(binding_ttl)
                    .arg(look);
                call.invoke_async::<Answered>(&mut conn).await
            })
            .await;
        let Some((first, age, owner, over, bound, left, listed)) = claimed else {
            return this.in_memory(key, bind).await;
        };
        let binding = match bound {
            0 => Some(Binding::New),
            1 => {
                let left = Duration::from_millis(u64::try_from(left).unwrap_or(0));
                let ttl = this.bindings.as_ref().map_or(Duration::ZERO, |b| b.ttl);
                Some(Binding::Same {
                    age: ttl.saturating_sub(left),
                })
            }
            2 => return Claimed::different(),
            _ => None,
        };
        let since = |age: i64| {
            let age = Duration::from_millis(u64::try_from(age).unwrap_or(0));
            Instant::now().checked_sub(age).unwrap_or_else(Instant::now)
        };
        let claim = match (first, over) {
            (1, over) => {
                let mut ticket = this.ticket(redis_key, id);
                if over == 1 {
                    ticket = ticket.seen_since(since(age));
                }
                if user.is_some() {
                    ticket = ticket.pending(listed == 1);
                }
                Claim::First(ticket)
            }
            _ => Claim::Duplicate(Retry::new(
                since(age),
                this.wait(redis_key.clone(), owner),
                this.decider(redis_key),
            )),
        };
        Claimed::new(claim, binding)
    }
}

/// Renews the lease every third of it until the work is done (the task
/// is aborted) or the claim is not this owner's any more.
async fn heartbeat(store: RedisDedup, key: String, id: String) {
    let every = store.lease / 3;
    loop {
        tokio::time::sleep(every).await;
        if !store.backend.stats().up {
            continue;
        }
        let (key, id, lease) = (key.clone(), id.clone(), millis(store.lease));
        let renewed = store
            .backend
            .run("dedup lease", move |mut conn| async move {
                let mut call = RENEW.key(key);
                call.arg(id).arg(lease);
                call.invoke_async::<i64>(&mut conn).await
            })
            .await;
        if renewed == Some(0) {
            return;
        }
    }
}

/// The owner's side of a claim: stores the outcome, or gives the claim
/// up when dropped without one.
struct Owned {
    store: RedisDedup,
    key: String,
    id: String,
    done: bool,
    heartbeat: tokio::task::JoinHandle<()>,
}

impl Owned {
    /// The outcome is stored already (by the one-step answer).
    fn settled(&mut self) {
        self.done = true;
        self.heartbeat.abort();
    }

    fn complete(&mut self, outcome: &Outcome) {
        self.done = true;
        self.heartbeat.abort();
        let json = match serde_json::to_string(outcome) {
            Ok(json) => json,
            Err(e) => {
                tracing::error!(target: "wechat_events::redis", error = %e, "a push outcome cannot be stored as JSON");
                return self.abandon();
            }
        };
        let (backend, key, id, ttl) = (
            self.store.backend.clone(),
            self.key.clone(),
            self.id.clone(),
            millis(self.store.ttl),
        );
        self.store.backend.spawn_write(async move {
            backend
                .run("dedup complete", move |mut conn| async move {
                    let mut call = COMPLETE.key(key);
                    call.arg(id).arg(json).arg(ttl);
                    call.invoke_async::<i64>(&mut conn).await
                })
                .await;
        });
    }

    fn abandon(&self) {
        let (backend, key, id) = (
            self.store.backend.clone(),
            self.key.clone(),
            self.id.clone(),
        );
        self.store.backend.spawn_write(async move {
            backend
                .run("dedup abandon", move |mut conn| async move {
                    let mut call = ABANDON.key(key);
                    call.arg(id);
                    call.invoke_async::<i64>(&mut conn).await
                })
                .await;
        });
    }
}

impl Drop for Owned {
    fn drop(&mut self) {
        if !self.done {
            self.heartbeat.abort();
            self.abandon();
        }
    }
}
