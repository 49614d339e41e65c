//! The push lifecycle: everything between "accepted" and "answered",
//! without HTTP.
//!
//! The service ([`crate::service`]) verifies, decrypts and parses a push,
//! then hands it here with the instant its try arrived; what comes back is
//! the [`Outcome`] that try answers. In between, this module decides:
//!
//! - **who runs the handler**: the try that claims the push in the
//!   [`DedupStore`] (the first, or one that takes over a claim whose owner
//!   went away); every other try follows the claim's outcome;
//! - **which try answers, and when**: WeChat tries a push three times, 5 s
//!   apart, hanging up on each after 5 s. A try is *held* (answered only
//!   with the outcome) when a later try will still come; the try after the
//!   last held one answers by its deadline — with the reply if it is there,
//!   else with the slow tip. Which try a request is follows from the time
//!   since the push was first seen ([`Timing::try_number`]), never from a
//!   count a store could forget;
//! - **the fate of the reply** ([`Fate`], one per push): answered by a try,
//!   or handed off and delivered late — through the application's hook, the
//!   customer-service API, or the user's pending replies;
//! - **the limits**: at most [`Config::max_background`] handlers run past
//!   their first deadline (one that cannot get a place is cancelled, and the
//!   push answered `success`, not with a tip promising a reply that will not
//!   come), and none runs past [`Config::handler_timeout`].
//!
//! # The guarantees
//!
//! - A handler runs **at most once** while the store works (in memory, or
//!   Redis healthy), however tries arrive, hang up or reach other instances:
//!   a running claim is never evicted, and a push whose record is gone but
//!   whose signed URL was seen before is refused (a 403, see
//!   [`crate::replay::ReplayError::Forgotten`]) rather than
//!   run again.
//! - It runs **at least once** when the instance running it dies (a shared
//!   store outlives it): a later try takes the claim over and runs it again
//!   — unless the push was answered or handed off before the death, when
//!   the late reply its handler had not made yet dies with the instance.
//! - No try is answered `success` while WeChat would retry a push whose
//!   handler has not run and will not run: a try whose claim was abandoned
//!   claims the push anew.
//! - Every push is answered; its reply, once it exists, is answered
//!   passively, or delivered late, or its loss is logged with its user and
//!   counted ([`LifecycleStats`]).
//!
//! Time comes from tokio's clock, so the tests drive all of it on a paused
//! clock: `lifecycle/model.rs` checks these guarantees over random
//! schedules of tries, hang-ups, handler durations, panics, evictions and
//! restarts.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::Poll;
use std::time::Duration;

use futures_util::future::{BoxFuture, FutureExt};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;
use tokio_util::task::TaskTracker;
use tracing::Instrument;

#[cfg(feature = "api")]
use crate::api::{ApiClient, ApiError};
use crate::config::{Config, WECHAT_TIMEOUT};
use crate::dedup::{Answer, Claim, ClaimWith, Decider, DedupStore, Fate, Outcome, Retry, Status};
use crate::event::Event;
use crate::handler::{panic_message, ExtractError, Run};
use crate::observe::{LateSent, LateVia, Observer, PushDone, PushOutcome};
use crate::panics::{self, Quiet};
use crate::pending::{self, PendingStore, PlanOptions};
use crate::push::{Body, Push};
#[cfg(feature = "api")]
use crate::quota::{Interaction, Quotas};
use crate::replay::{Binding, BindingStore, ReplayError};
use crate::reply::Reply;
use crate::signature::unix_now;

#[cfg(test)]
mod model;

/// A push's timetable, from the [`Config`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Timing {
    /// When a try that must answer does, after it arrived.
    pub deadline: Duration,
    /// How many of WeChat's tries are held open (0–2).
    pub wait_retries: u8,
    /// How long a handler may run, from the push's first sighting.
    pub handler_timeout: Duration,
}

impl Timing {
    /// The config's timetable.
    pub fn from_config(config: &Config) -> Self {
        Timing {
            deadline: config.deadline(),
            wait_retries: config.wait_retries(),
            handler_timeout: config.handler_timeout(),
        }
    }

    /// Which of WeChat's tries arrives `age` after the push was first seen:
    /// 1, 2, 3 (WeChat tries 5 s apart; half a period of slack either way
    /// absorbs the network and the instants' rounding).
    ///
    /// ```
    /// use std::time::Duration;
    /// use wechat_events::lifecycle::Timing;
    /// assert_eq!(Timing::try_number(Duration::ZERO), 1);
    /// assert_eq!(Timing::try_number(Duration::from_millis(5_300)), 2);
    /// assert_eq!(Timing::try_number(Duration::from_millis(9_900)), 3);
    /// ```
    pub fn try_number(age: Duration) -> u32 {
        let half = WECHAT_TIMEOUT / 2;
        u32::try_from((age + half).as_millis() / WECHAT_TIMEOUT.as_millis()).unwrap_or(u32::MAX) + 1
    }

    /// Whether a try arriving `age` after the push's first sighting is
    /// held open until the outcome (a later try will still come); `false`:
    /// it answers by its deadline.
    pub fn holds(&self, age: Duration) -> bool {
        Self::try_number(age) <= u32::from(self.wait_retries)
    }

    /// When the last try held open gives up: held tries are released then,
    /// with the slow tip, whatever the handler does.
    pub fn last_moment(&self, first_seen: Instant) -> Instant {
        first_seen + WECHAT_TIMEOUT * (u32::from(self.wait_retries) + 1)
    }

    /// When a handler still running is cancelled.
    pub fn cutoff(&self, first_seen: Instant) -> Instant {
        first_seen + self.handler_timeout
    }

    /// When the push was first seen, as best known: the store's first
    /// sighting (`seen`), or earlier when the push's `CreateTime` says so —
    /// a store that lost the push (a restart, a Redis outage) would
    /// otherwise take WeChat's second try for a first and hold it past
    /// WeChat's last. A `CreateTime` more than the tries' span old (a
    /// recorded push, a skewed clock) is not believed.
    pub fn first_seen(&self, seen: Instant, create_time: i64, now_unix: i64) -> Instant {
        let span = WECHAT_TIMEOUT * (u32::from(self.wait_retries) + 2);
        let age = now_unix.saturating_sub(create_time);
        match u64::try_from(age).map(Duration::from_secs) {
            Ok(age) if age > Duration::ZERO && age <= span => {
                let by_clock = Instant::now().checked_sub(age).unwrap_or(seen);
                seen.min(by_clock)
            }
            _ => seen,
        }
    }
}

/// Counters of what became of pushes and replies, since the service was
/// built: the figures behind the guarantees' "logged and counted".
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct LifecycleStats {
    /// Handlers started.
    pub runs: u64,
    /// Claims that took over a push whose owner went away (a run that may
    /// repeat part of an earlier one).
    pub takeovers: u64,
    /// Tries refused because their push was seen before and forgotten.
    pub forgotten: u64,
    /// Tries answered with the slow tip (or `success`) while their
    /// handler ran on.
    pub handed_off: u64,
    /// Late replies handed to the hook, sent through the API, or queued
    /// as pending.
    pub late_delivered: u64,
    /// Late replies whose delivery is unknown (the API call timed out:
    /// it may have reached the user) — not queued, so never shown twice.
    pub late_unsure: u64,
    /// Handlers cancelled: past the background limit, or past the handler
    /// time-out.
    pub cancelled: u64,
    /// Replies lost, each logged with its user: an answer settled for a
    /// try that could not send it within WeChat's 5 s.
    pub lost: u64,
}

#[derive(Default)]
struct Counters {
    runs: AtomicU64,
    takeovers: AtomicU64,
    forgotten: AtomicU64,
    handed_off: AtomicU64,
    late_delivered: AtomicU64,
    late_unsure: AtomicU64,
    cancelled: AtomicU64,
    lost: AtomicU64,
}

fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

/// A reply that arrived after its push was answered without it (with the
/// slow tip, or `success`): every try the service could hold had to
/// answer before the handler finished.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct LateReply {
    /// The handler that produced it.
    pub handler: Arc<str>,
    /// The push it answers.
    pub push: Arc<Push>,
    /// The reply, which WeChat will no longer take as a passive reply.
    pub reply: Reply,
    /// Time from the push's first sighting to the reply.
    pub elapsed: Duration,
}

/// The application's late-reply hook.
pub(crate) type LateHook = Arc<dyn Fn(LateReply) + Send + Sync>;

/// Where a late reply goes.
pub(crate) enum Late {
    /// The application's own hook.
    Hook(LateHook),
    /// The customer-service message API; the user's pending replies when
    /// WeChat refuses it.
    #[cfg(feature = "api")]
    Api(ApiClient),
    /// The user's pending replies.
    Pending,
}

/// What a push's claimant runs: prepared by the service (which knows the
/// request the extractors copy from) only when this try must run it.
pub(crate) enum Job {
    /// No route matches.
    NoHandler,
    /// An extractor's preparation failed.
    ExtractFailed {
        /// The handler's name.
        name: Arc<str>,
        /// Why.
        error: ExtractError,
    },
    /// The handler, with its extractors, not yet started.
    Run {
        /// The handler's name.
        name: Arc<str>,
        /// The extraction and the handler.
        future: BoxFuture<'static, Run>,
    },
}

/// A try refused: its push was seen before (its signed URL with its body)
/// and is no longer remembered, so running it would run it twice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Forgotten;

/// What one try comes to.
pub(crate) struct Answered {
    /// What it answers.
    pub(crate) outcome: Outcome,
    /// Which of WeChat's tries it was, by the time since the push's first
    /// sighting.
    pub(crate) try_number: u32,
    /// Whether this try claimed the push (and ran its handler); `false`
    /// when it followed another try's claim.
    pub(crate) claimed: bool,
    /// Whether the try was held open (for a later try to answer) rather
    /// than answered by its deadline.
    pub(crate) held: bool,
}

/// Whether a handler still running at its first deadline may run on in
/// the background: judged once, with the place it takes, by whichever gets
/// there first — the work, or the try that claimed the push (which must
/// not promise the reply with the slow tip if the handler is to be
/// cancelled, nor the work be cancelled once it did).
#[derive(Default)]
struct Verdict(Mutex<Option<Judged>>);

/// A [`Verdict`] given: whether the handler runs on, and its place until
/// the work takes it.
struct Judged {
    runs_on: bool,
    place: Option<OwnedSemaphorePermit>,
}

impl Verdict {
    /// Judges (the first time) and says whether the handler runs on.
    fn runs_on(&self, background: &Arc<Semaphore>) -> bool {
        let mut verdict = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let judged = verdict.get_or_insert_with(|| {
            let place = background.clone().try_acquire_owned().ok();
            Judged {
                runs_on: place.is_some(),
                place,
            }
        });
        judged.runs_on
    }

    /// The place the verdict took, for the handler to hold while it runs.
    fn take_place(&self) -> Option<OwnedSemaphorePermit> {
        let mut verdict = self.0.lock().unwrap_or_else(|e| e.into_inner());
        verdict.as_mut().and_then(|judged| judged.place.take())
    }
}

/// A caught panic's payload.
type Panic = Box<dyn std::any::Any + Send>;

/// Where a claim's outcome goes.
type Complete = Box<dyn FnOnce(Outcome) + Send>;

/// A handler's run as [`Lifecycle::supervise`] polls it: panics caught.
type Supervised =
    futures_util::future::CatchUnwind<AssertUnwindSafe<Quiet<BoxFuture<'static, Run>>>>;

/// Where a push's work starts from.
struct Start {
    /// When the claiming try arrived.
    arrived: Instant,
    /// When the push was first seen.
    first_seen: Instant,
    /// Whether the handler may run on past its first deadline.
    verdict: Arc<Verdict>,
    /// How the store lets the work answer.
    settle: Settle,
}

/// What the claim's ticket offers the work for answering the push.
struct Settle {
    /// The store's one-step answer (fate and outcome in one write), if any.
    answer: Option<Answer>,
    /// Whether the user's shared pending list existed at the claim, if
    /// the store looked.
    listed: Option<bool>,
}

/// How long after its binding a push is surely in the dedup store (claimed
/// by the try that bound it): a try of the same push within this time may
/// have overtaken the first try between its binding and its claim (two
/// instances, two workers), and is not taken for a replay.
const SEEN_BEFORE: Duration = Duration::from_secs(2);

/// The push lifecycle of one service (see the module docs).
pub(crate) struct Lifecycle {
    timing: Timing,
    slow_tip: Option<String>,
    /// How long texts are cut and continued.
    texts: Arc<Texts>,
    /// The customer-service quotas of this instance's users.
    #[cfg(feature = "api")]
    quotas: Quotas,
    max_background: usize,
    dedup: Arc<dyn DedupStore>,
    /// The replay bindings; `None` when replay protection is off.
    bindings: Option<Arc<dyn BindingStore>>,
    pending: Arc<dyn PendingStore>,
    late: Late,
    background: Arc<Semaphore>,
    /// Every handler task, in time or late, and every late delivery.
    tasks: TaskTracker,
    counters: Arc<Counters>,
    /// The wall clock, in unix seconds (to read `CreateTime` against).
    wall: Arc<dyn Fn() -> i64 + Send + Sync>,
    /// Where outcomes, retries and late replies are told.
    observer: Observer,
    /// Stops every task of this instance: its death, in the model.
    #[cfg(test)]
    killed: tokio_util::sync::CancellationToken,
}

impl Lifecycle {
    pub(crate) fn new(
        config: &Config,
        dedup: Arc<dyn DedupStore>,
        bindings: Option<Arc<dyn BindingStore>>,
        pending: Arc<dyn PendingStore>,
        late: Late,
        background: Arc<Semaphore>,
    ) -> Self {
        Lifecycle {
            timing: Timing::from_config(config),
            slow_tip: config.slow_tip().map(str::to_owned),
            texts: Arc::new(Texts {
                keyword: config.continue_keyword().to_owned(),
                continue_hint: config.continue_hint().to_owned(),
                api_hint: config.api_part_hint().to_owned(),
                lifetime: config.pending_ttl(),
            }),
            #[cfg(feature = "api")]
            quotas: Quotas::new(),
            max_background: config.max_background(),
            dedup,
            bindings,
            pending,
            late,
            background,
            tasks: TaskTracker::new(),
            counters: Arc::default(),
            wall: Arc::new(unix_now),
            observer: Observer::default(),
            #[cfg(test)]
            killed: Default::default(),
        }
    }

    /// Runs `task` in its own tracked task (for [`WechatService::drain`](crate::WechatService::drain)).
    fn spawn(&self, task: impl Future<Output = ()> + Send + 'static) {
        #[cfg(test)]
        let task = self
            .killed
            .clone()
            .run_until_cancelled_owned(task)
            .map(drop);
        self.tasks.spawn(task);
    }

    /// Kills this instance, as a crash would: every task it runs stops
    /// where it is (the model's tries to it are dropped by the model).
    #[cfg(test)]
    pub(crate) fn kill(&self) -> tokio_util::sync::CancellationToken {
        self.killed.cancel();
        self.killed.clone()
    }

    /// Resolves when this instance is killed.
    #[cfg(test)]
    pub(crate) fn killed(&self) -> tokio_util::sync::WaitForCancellationFutureOwned {
        self.killed.clone().cancelled_owned()
    }

    /// Reads the wall clock from `wall` instead of the system's (a test's
    /// clock, paused with tokio's).
    #[cfg(test)]
    pub(crate) fn with_wall_clock(
        mut self,
        wall: impl Fn() -> i64 + Send + Sync + 'static,
    ) -> Self {
        self.wall = Arc::new(wall);
        self
    }

    /// Tells `observer` what becomes of pushes, retries and late replies.
    pub(crate) fn with_observer(mut self, observer: Observer) -> Self {
        self.observer = observer;
        self
    }

    /// Counts the customer-service quotas in `quotas` (shared through
    /// Redis) instead of this instance's memory.
    #[cfg(all(feature = "api", feature = "redis"))]
    pub(crate) fn with_quotas(mut self, quotas: Quotas) -> Self {
        self.quotas = quotas;
        self
    }

    /// The tasks to wait for on shutdown.
    pub(crate) fn tasks(&self) -> &TaskTracker {
        &self.tasks
    }

    /// Where late replies wait for their user's next push.
    pub(crate) fn pending(&self) -> &Arc<dyn PendingStore> {
        &self.pending
    }

    /// The counters so far.
    pub(crate) fn stats(&self) -> LifecycleStats {
        let c = &self.counters;
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        LifecycleStats {
            runs: get(&c.runs),
            takeovers: get(&c.takeovers),
            forgotten: get(&c.forgotten),
            handed_off: get(&c.handed_off),
            late_delivered: get(&c.late_delivered),
            late_unsure: get(&c.late_unsure),
            cancelled: get(&c.cancelled),
            lost: get(&c.lost),
        }
    }

    /// One try of an accepted push, which arrived at `arrived`: claims it
    /// (running `prepare()`'s job if this try must run the handler) or
    /// follows its claim, and resolves to what the try answers.
    /// `seen_before`: the push's signed URL and body were seen before
    /// (the replay binding said so), so a claim that finds the push new to
    /// the store means the store forgot it: refused. (The service binds
    /// the URL with the claim: [`Lifecycle::handle_bound`].)
    #[cfg(test)]
    pub(crate) async fn handle(
        self: &Arc<Self>,
        key: String,
        push: Arc<Push>,
        arrived: Instant,
        seen_before: bool,
        prepare: impl FnOnce() -> Job,
    ) -> Result<Answered, Forgotten> {
        self.handle_claimed(key, push, arrived, seen_before, None, prepare)
            .await
    }

    /// Whether replay protection binds each push's URL (see
    /// [`Lifecycle::handle_bound`]).
    pub(crate) fn binds(&self) -> bool {
        self.bindings.is_some()
    }

    /// [`Lifecycle::handle`] for a push whose signed URL is to be bound
    /// first (`bind`: the URL's key and the body's digest): bound and
    /// claimed in one step where the store can ([`DedupStore::claim_with`]),
    /// else bound in the binding store, then claimed. A URL bound to
    /// another body is refused unclaimed; one seen before whose push the
    /// store forgot is refused as [`ReplayError::Forgotten`].
    pub(crate) async fn handle_bound(
        self: &Arc<Self>,
        key: String,
        push: Arc<Push>,
        arrived: Instant,
        bind: Option<(String, [u8; 20])>,
        prepare: impl FnOnce() -> Job,
    ) -> Result<Answered, ReplayError> {
        let with = ClaimWith::new(
            bind.as_ref().map(|(url, digest)| (url.as_str(), *digest)),
            &push.from_user,
        );
        let (claim, binding) = match self.dedup.claim_with(&key, &with) {
            Some(claimed) => {
                let claimed = claimed.await;
                match claimed.claim {
                    Some(claim) => (claim, claimed.binding),
                    None => return Err(ReplayError::BodyMismatch),
                }
            }
            None => {
                let bound_apart = bind.is_some();
                let binding = match (bind, &self.bindings) {
                    (Some((url, digest)), Some(store)) => Some(store.bind(url, digest).await),
                    _ => None,
                };
                if binding == Some(Binding::Different) {
                    return Err(ReplayError::BodyMismatch);
                }
                // Bound apart (the store keeps no bindings of its own): the
                // claim may still look up the user's pending list.
                let unbound = match bound_apart {
                    true => (self.dedup).claim_with(&key, &ClaimWith::new(None, &push.from_user)),
                    false => None,
                };
                let claim = match unbound {
                    Some(claimed) => claimed.await.claim,
                    None => None,
                };
                let claim = match claim {
                    Some(claim) => claim,
                    None => self.dedup.claim(key.clone()).await,
                };
                (claim, binding)
            }
        };
        let seen_before = matches!(binding, Some(Binding::Same { age }) if age >= SEEN_BEFORE);
        self.handle_claimed(key, push, arrived, seen_before, Some(claim), prepare)
            .await
            .map_err(|Forgotten| ReplayError::Forgotten)
    }

    /// [`Lifecycle::handle`], its first claim made already (`first`) or not.
    async fn handle_claimed(
        self: &Arc<Self>,
        key: String,
        push: Arc<Push>,
        arrived: Instant,
        seen_before: bool,
        mut first: Option<Claim>,
        prepare: impl FnOnce() -> Job,
    ) -> Result<Answered, Forgotten> {
        let mut claims = 0u32;
        let mut ticket = loop {
            claims += 1;
            let claim = match first.take() {
                Some(claim) => claim,
                None => self.dedup.claim(key.clone()).await,
            };
            match claim {
                Claim::First(ticket) => break ticket,
                Claim::Duplicate(retry) => {
                    let first_seen = self.first_seen(retry.first_seen(), &push);
                    let mut held = false;
                    let followed = self
                        .follow(retry, &push, arrived, first_seen, &mut held, claims == 1)
                        .await;
                    if let Some(outcome) = followed {
                        if outcome.status == Status::Refused {
                            bump(&self.counters.forgotten);
                            return Err(Forgotten);
                        }
                        return Ok(Answered {
                            outcome,
                            try_number: Timing::try_number(arrived - first_seen),
                            claimed: false,
                            held,
                        });
                    }
                    // The claim was abandoned: claim the push anew (a
                    // store that keeps answering so is given a breath).
                    tracing::info!(
                        "the claim this try followed was abandoned; claiming the push anew"
                    );
                    if claims > 3 {
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                }
            }
        };
        let first_seen = match ticket.first_seen() {
            Some(seen) => {
                bump(&self.counters.takeovers);
                tracing::warn!(
                    "taking over a push whose owner went away without an outcome; running it again"
                );
                seen
            }
            // Only a try that never followed a claim can find its push
            // forgotten: one whose followed claim was abandoned (its owner
            // died, or Redis failed under it) has proof the push was
            // remembered, and takes it over or runs it again.
            None if seen_before && claims == 1 => {
                // Remembered as refused, so that its later tries are too
                // (an abandoned claim would be taken over and run).
                let (complete, _) = ticket.into_parts();
                complete(Outcome {
                    reply: None,
                    handler: None,
                    status: Status::Refused,
                });
                bump(&self.counters.forgotten);
                return Err(Forgotten);
            }
            None => arrived,
        };
        let first_seen = self.first_seen(first_seen, &push);
        let decider = ticket.decider();
        let settle = Settle {
            answer: ticket.take_answer(),
            listed: ticket.pending_listed(),
        };
        let (complete, outcome) = ticket.into_parts();
        let verdict = Arc::new(Verdict::default());
        let work = Arc::clone(self).supervise(
            prepare(),
            push.clone(),
            Start {
                arrived,
                first_seen,
                verdict: verdict.clone(),
                settle,
            },
            decider.clone(),
            complete,
        );
        // Polled once here first: most handlers finish without waiting on
        // anything, and then need no task of their own. A poll is
        // synchronous, so a hang-up cannot cut it short; work still pending
        // moves to its detached task (in this push's span, which the first
        // poll ran in already).
        let mut work = Box::pin(work);
        if poll_once(work.as_mut()).await.is_pending() {
            self.spawn(work.in_current_span());
        }
        let mut held = false;
        let outcome = self
            .wait(
                outcome,
                &decider,
                &push,
                (arrived, first_seen),
                Some(&verdict),
                (&mut held, false),
            )
            .await
            // Only a bug drops the work this try owns: answer, not hang.
            .unwrap_or_else(Outcome::abandoned);
        Ok(Answered {
            outcome,
            try_number: Timing::try_number(arrived - first_seen),
            claimed: true,
            held,
        })
    }

    fn first_seen(&self, seen: Instant, push: &Push) -> Instant {
        self.timing
            .first_seen(seen, push.create_time, (self.wall)())
    }

    /// A try following another's claim: its outcome, or `None` when the
    /// claim was abandoned (the try then claims the push itself).
    /// `held` is set when the try is held open; `retry`: the try is told
    /// to the observer as a later try of the push.
    async fn follow(
        &self,
        retry: Retry,
        push: &Push,
        arrived: Instant,
        first_seen: Instant,
        held: &mut bool,
        tell: bool,
    ) -> Option<Outcome> {
        let decider = retry.decider();
        let times = (arrived, first_seen);
        self.wait(Box::pin(retry), &decider, push, times, None, (held, tell))
            .await
    }

    /// What a try answers, from the claim's `outcome`: a held try waits
    /// for it (the work releases it at the push's last moment at the
    /// latest); any other answers by its deadline — with the outcome if it
    /// is there, else it hands the push off and answers the slow tip,
    /// unless the work has just answered, or its handler is to be cancelled
    /// for the background limit (`verdict`, for the try that claimed the
    /// push): then `success`. `None`: the claim was abandoned. `times`:
    /// when the try arrived and the push was first seen; `held`: set when
    /// the try is held open past its deadline, told to the observer as a
    /// retry's result when `.1`.
    async fn wait(
        &self,
        mut outcome: BoxFuture<'static, Outcome>,
        decider: &Decider,
        push: &Push,
        (arrived, first_seen): (Instant, Instant),
        verdict: Option<&Verdict>,
        (held, retry): (&mut bool, bool),
    ) -> Option<Outcome> {
        let live = |o: Outcome| (!o.is_abandoned()).then_some(o);
        let tell = |held: bool| {
            if retry {
                self.observer.retried(held);
            }
        };
        let deadline = arrived + self.timing.deadline;
        if self.timing.holds(arrived - first_seen) {
            // Held when answered past the deadline; a retry is told when it
            // ends, or when WeChat hangs up on it (dropped while held).
            let mut told = Told {
                observer: retry.then_some(&self.observer),
                held: true,
            };
            let done = outcome.await;
            told.held = Instant::now() >= deadline;
            *held = told.held;
            return live(done);
        }
        tell(false);
        if let Some(done) = by_deadline(deadline, outcome.as_mut()).await {
            return live(done);
        }
        if verdict.is_some_and(|v| !v.runs_on(&self.background)) {
            // The work cancels its handler and answers `success`.
            return live(outcome.await);
        }
        match decider(Fate::HandedOff).await {
            Fate::HandedOff => {
                bump(&self.counters.handed_off);
                tracing::info!("handler still running at the deadline of the last try; answering the slow tip, its reply will be delivered later");
                Some(self.tip(push))
            }
            // The work settled it answered a moment ago; its last steps
            // (the user's pending replies) are I/O, bounded by WeChat's
            // patience with this try.
            Fate::Answered => {
                match tokio::time::timeout_at(arrived + WECHAT_TIMEOUT, outcome).await {
                    Ok(done) => live(done),
                    Err(_) => {
                        bump(&self.counters.lost);
                        self.observer.lost();
                        tracing::warn!(
                            openid = %push.from_user,
                            "the push's answer was not ready within WeChat's 5 s of this try; its reply is lost"
                        );
                        Some(self.tip(push))
                    }
                }
            }
        }
    }

    /// The answer of a push handed off: the slow tip, or `success`.
    fn tip(&self, push: &Push) -> Outcome {
        Outcome {
            reply: (self.slow_tip.as_deref())
                .and_then(|tip| render(&Reply::text(tip), push, None))
                .map(Into::into),
            handler: None,
            status: Status::DeadlineExceeded,
        }
    }

    /// Runs extraction and the handler (in the push's own detached task)
    /// and hands `complete` the outcome every try of the push answers: the
    /// handler's (or the user's pending reply first), or, once the push
    /// has been handed off, the slow tip — at the latest at the push's
    /// last moment, so held tries never wait forever. A handler still
    /// running then finishes in the background (bounded in number and in
    /// time) and its reply is delivered late.
    async fn supervise(
        self: Arc<Self>,
        job: Job,
        push: Arc<Push>,
        start: Start,
        decider: Decider,
        complete: Complete,
    ) {
        let first_seen = start.first_seen;
        let (name, future) = match job {
            Job::NoHandler => {
                tracing::debug!("no route matches; answering success");
                let outcome = Outcome {
                    reply: None,
                    handler: None,
                    status: Status::NoHandler,
                };
                return complete(
                    self.answered(
                        outcome,
                        None,
                        None,
                        &push,
                        first_seen,
                        &decider,
                        start.settle,
                    )
                    .await,
                );
            }
            Job::ExtractFailed { name, error } => {
                tracing::error!(handler = &*name, error = %ErrorChain(&error), "extractor failed; answering success");
                let outcome = Outcome {
                    reply: None,
                    handler: Some(name),
                    status: Status::Failed,
                };
                return complete(
                    self.answered(
                        outcome,
                        None,
                        None,
                        &push,
                        first_seen,
                        &decider,
                        start.settle,
                    )
                    .await,
                );
            }
            Job::Run { name, future } => (name, future),
        };
        bump(&self.counters.runs);
        let started = Instant::now();
        // Polled right here, in this (detached, tracked) task: a panic is
        // caught and reported, never unwinds into the service.
        let mut run = AssertUnwindSafe(Quiet(future)).catch_unwind();
        let deadline = start.arrived + self.timing.deadline;
        let joined = by_deadline(deadline, Pin::new(&mut run)).await;
        if let Some(joined) = joined {
            let (outcome, reply) = finish(&name, joined, &push);
            let ran = Some(started.elapsed());
            return complete(
                self.answered(
                    outcome,
                    reply,
                    ran,
                    &push,
                    first_seen,
                    &decider,
                    start.settle,
                )
                .await,
            );
        }
        // The rest is rare, and its state (a second timer, the permit, the
        // late delivery) would make every push's future larger: boxed.
        Box::pin(self.overtime(name, run, started, push, start, decider, complete)).await
    }

    /// [`Lifecycle::supervise`] past the handler's first deadline.
    #[allow(clippy::too_many_arguments)]
    async fn overtime(
        self: Arc<Self>,
        name: Arc<str>,
        mut run: Supervised,
        started: Instant,
        push: Arc<Push>,
        start: Start,
        decider: Decider,
        complete: Complete,
    ) {
        let first_seen = start.first_seen;
        let runs_on = start.verdict.runs_on(&self.background);
        let permit = start.verdict.take_place();
        let settle = start.settle;
        if !runs_on {
            // No place to run on: answered now with `success` — unless a
            // try has promised the reply already (the slow tip), which is
            // then kept, past the limit.
            if decider(Fate::Answered).await == Fate::Answered {
                drop(run);
                bump(&self.counters.cancelled);
                self.done(
                    &push,
                    Some(&name),
                    PushOutcome::Error,
                    Some(started.elapsed()),
                );
                tracing::warn!(
                    handler = &*name,
                    limit = self.max_background,
                    "handler missed the deadline and the background limit is reached; cancelled it, answering success"
                );
                return complete(Outcome {
                    reply: None,
                    handler: Some(name),
                    status: Status::DeadlineExceeded,
                });
            }
            tracing::warn!(
                handler = &*name,
                limit = self.max_background,
                "background limit reached, but a try promised this handler's reply: it runs on"
            );
        }
        let last_moment = self.timing.last_moment(first_seen);
        if let Some(joined) = by_deadline(last_moment, Pin::new(&mut run)).await {
            drop(permit);
            let (outcome, reply) = finish(&name, joined, &push);
            let ran = Some(started.elapsed());
            return complete(
                self.answered(outcome, reply, ran, &push, first_seen, &decider, settle)
                    .await,
            );
        }
        // Nobody took the reply in time: hand the push off (a try may have
        // done so already), release the held tries with the tip, and let
        // the handler finish — within its time-out.
        if decider(Fate::HandedOff).await == Fate::HandedOff {
            tracing::warn!(
                handler = &*name,
                "handler outlived every try; answering the slow tip, it continues in the background"
            );
        }
        complete(self.tip(&push));
        let cutoff = self.timing.cutoff(first_seen);
        let joined = by_deadline(cutoff, Pin::new(&mut run)).await;
        drop(permit);
        match joined {
            Some(joined) => {
                let (outcome, reply) = finish(&name, joined, &push);
                let came_to = match reply {
                    Some(_) => PushOutcome::Late,
                    None => PushOutcome::of(outcome.status),
                };
                self.done(&push, Some(&name), came_to, Some(started.elapsed()));
                self.late(name, reply, push, first_seen);
            }
            None => {
                drop(run);
                bump(&self.counters.cancelled);
                self.done(
                    &push,
                    Some(&name),
                    PushOutcome::Error,
                    Some(started.elapsed()),
                );
                tracing::error!(
                    handler = &*name,
                    openid = %push.from_user,
                    timeout_s = self.timing.handler_timeout.as_secs(),
                    "handler still running at its time-out; cancelled it, its push gets no reply"
                );
            }
        }
    }

    /// Settles the push as answered by `outcome` — unless a try handed it
    /// off first, when the reply is delivered late — and swaps in the
    /// user's pending replies. When the user has none (the push invites no
    /// reply, or the store looked at the claim and found none) and the
    /// store answers in one step, the fate and the outcome are one write
    /// (the completion that follows then does nothing more).
    #[allow(clippy::too_many_arguments)]
    async fn answered(
        &self,
        outcome: Outcome,
        reply: Option<Reply>,
        ran: Option<Duration>,
        push: &Arc<Push>,
        first_seen: Instant,
        decider: &Decider,
        settle: Settle,
    ) -> Outcome {
        // Nothing pending (the store looked at the claim): a short reply
        // answers as it is; a long one is still cut.
        let none_listed =
            (settle.listed).is_some_and(|listed| !self.pending.may_hold(&push.from_user, listed));
        let quiet = !invites_reply(push) || (none_listed && !reply.as_ref().is_some_and(is_long));
        let fate = match (quiet, settle.answer) {
            (true, Some(answer)) => answer(outcome.clone()).await,
            _ => decider(Fate::Answered).await,
        };
        let came_to = match (fate, &reply) {
            (Fate::HandedOff, Some(_)) => PushOutcome::Late,
            _ => PushOutcome::of(outcome.status),
        };
        self.done(push, outcome.handler.as_deref(), came_to, ran);
        match fate {
            Fate::Answered if quiet => outcome,
            Fate::Answered => {
                self.swap_pending(outcome, reply, push, first_seen, none_listed)
                    .await
            }
            Fate::HandedOff => {
                if let Some(name) = outcome.handler.clone() {
                    self.late(name, reply, push.clone(), first_seen);
                }
                self.tip(push)
            }
        }
    }

    /// Tells the observer what `push` came to.
    fn done(
        &self,
        push: &Push,
        handler: Option<&str>,
        outcome: PushOutcome,
        ran: Option<Duration>,
    ) {
        self.observer.push_done(&PushDone {
            push,
            handler,
            outcome,
            ran_for: ran,
        });
    }

    /// Answers a push that invites a reply together with the user's
    /// pending replies, if any, as [`pending::plan_with`] decides: texts
    /// combined, the rest through the customer-service API when there is
    /// one and the user's quota allows, else queued again (the answer
    /// saying how many wait). A text reply too long for one message answers
    /// with its first part; the rest goes the same ways. `none_listed`: the
    /// store looked at the claim and the user has no pending reply.
    async fn swap_pending(
        &self,
        outcome: Outcome,
        own: Option<Reply>,
        push: &Push,
        first_seen: Instant,
        none_listed: bool,
    ) -> Outcome {
        if !invites_reply(push) {
            return outcome;
        }
        let openid = &push.from_user;
        let long = own.as_ref().is_some_and(is_long);
        let waiting = match none_listed {
            true => Vec::new(),
            false => self.pending.take(openid.clone()).await,
        };
        if waiting.is_empty() && !long {
            return outcome;
        }
        let swapped = !waiting.is_empty();
        #[cfg(feature = "api")]
        let api = match &self.late {
            Late::Api(client) => {
                if let Some(interaction) = Interaction::of(push, first_seen) {
                    self.quotas.grant(openid, interaction).await;
                }
                (self.quotas.available(openid).await > 0).then(|| client.clone())
            }
            _ => None,
        };
        #[cfg(not(feature = "api"))]
        let api: Option<std::convert::Infallible> = {
            let _ = first_seen;
            None
        };
        let continuing = self.texts.continues(push);
        let options = PlanOptions::new(api.is_some())
            .continuing(continuing)
            .hints(&self.texts.continue_hint, &self.texts.api_hint);
        let pending::Plan {
            passive,
            through_api,
            queued,
            ..
        } = pending::plan_with(waiting, own, &options);
        tracing::info!(
            api = through_api.len(),
            queued = queued.len(),
            continuing,
            long,
            "answering with the user's pending replies or a long reply's first part"
        );
        self.pending.queue(openid.clone(), queued).await;
        #[cfg(feature = "api")]
        if let (Some(client), false) = (api, through_api.is_empty()) {
            let sender = self.sender(client);
            let openid = openid.clone();
            self.spawn(
                async move {
                    sender.send_all(&openid, through_api).await;
                }
                .in_current_span(),
            );
        }
        Outcome {
            reply: (passive.and_then(|r| render(&r, push, outcome.handler.as_deref())))
                .map(Into::into),
            handler: outcome.handler,
            status: if swapped {
                Status::PendingReply
            } else {
                outcome.status
            },
        }
    }

    /// What sends replies through the customer-service API for this
    /// service: the client, the quotas, the pending store to fall back on.
    #[cfg(feature = "api")]
    fn sender(&self, client: ApiClient) -> Sender {
        Sender {
            client,
            quotas: self.quotas.clone(),
            pending: self.pending.clone(),
            texts: self.texts.clone(),
        }
    }

    /// Delivers a reply that came after its push was answered: to the
    /// application's hook, else through the customer-service API (when
    /// configured), else into the user's pending replies.
    fn late(&self, handler: Arc<str>, reply: Option<Reply>, push: Arc<Push>, first_seen: Instant) {
        let Some(reply) = reply else {
            tracing::debug!(handler = &*handler, "late handler finished without a reply");
            return;
        };
        let elapsed = first_seen.elapsed();
        tracing::info!(
            handler = &*handler,
            elapsed_ms = elapsed.as_millis() as u64,
            reply = reply.msg_type().unwrap_or("none"),
            "late reply ready; delivering it"
        );
        let sent = |observer: &Observer, push: &Push, handler: &str, via| {
            observer.late(&LateSent { push, handler, via })
        };
        match &self.late {
            Late::Hook(hook) => {
                bump(&self.counters.late_delivered);
                sent(&self.observer, &push, &handler, LateVia::Hook);
                hook(LateReply {
                    handler,
                    push,
                    reply,
                    elapsed,
                })
            }
            #[cfg(feature = "api")]
            Late::Api(client) => {
                let interaction = Interaction::of(&push, first_seen);
                let sender = self.sender(client.clone());
                let counters = self.counters.clone();
                let observer = self.observer.clone();
                self.spawn(
                    async move {
                        if let Some(interaction) = interaction {
                            sender.quotas.grant(&push.from_user, interaction).await;
                        }
                        let via = match sender.send_all(&push.from_user, vec![reply]).await {
                            Sent::All => {
                                bump(&counters.late_delivered);
                                tracing::info!(
                                    handler = &*handler,
                                    "late reply sent through the customer-service API"
                                );
                                LateVia::Api
                            }
                            Sent::Queued => {
                                bump(&counters.late_delivered);
                                LateVia::Pending
                            }
                            Sent::Unsure => {
                                bump(&counters.late_unsure);
                                LateVia::Dropped
                            }
                        };
                        sent(&observer, &push, &handler, via);
                    }
                    .in_current_span(),
                );
            }
            Late::Pending => {
                bump(&self.counters.late_delivered);
                sent(&self.observer, &push, &handler, LateVia::Pending);
                let pending = self.pending.clone();
                self.spawn(
                    async move {
                        let reply = pending::continued(reply);
                        pending.queue(push.from_user.clone(), vec![reply]).await
                    }
                    .in_current_span(),
                );
            }
        }
    }
}

/// Whether a failed customer-service call surely did not reach the user:
/// WeChat refused it, or no connection was made. A time-out or a broken
/// answer may come after WeChat took the message.
#[cfg(feature = "api")]
fn not_sent(error: &ApiError) -> bool {
    match error {
        ApiError::WeChat { .. } | ApiError::NotSendable(_) | ApiError::Config(_) => true,
        ApiError::Http(e) => e.is_connect() || e.is_builder() || e.is_status(),
        _ => false,
    }
}

/// Whether `reply` is a text too long for one message.
fn is_long(reply: &Reply) -> bool {
    matches!(reply, Reply::Text { content } | Reply::Continued { content } if crate::split::too_long(content))
}

/// How long texts are cut and continued (from the [`Config`]).
struct Texts {
    /// The message asking for the next part.
    keyword: String,
    /// Ends a part while the rest waits for the user.
    continue_hint: String,
    /// Ends a part the API follows with the next.
    api_hint: String,
    /// How long a late reply may take to reach the user: the API is
    /// retried within it (when WeChat is busy).
    #[cfg_attr(not(feature = "api"), allow(dead_code))]
    lifetime: Duration,
}

impl Texts {
    /// Whether `push` is the continue keyword.
    fn continues(&self, push: &Push) -> bool {
        matches!(push.message(), Some(crate::message::Message::Text(text)) if text.content.trim() == self.keyword)
    }
}

/// How a [`Sender::send_all`] went.
#[cfg(feature = "api")]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sent {
    /// Everything reached WeChat.
    All,
    /// What did not fit the quota, or WeChat refused, waits as pending.
    Queued,
    /// A call failed after it was sent: it may have reached the user.
    Unsure,
}

/// Sends replies through the customer-service API within the user's
/// quota, long texts part by part; what does not fit waits as pending.
#[cfg(feature = "api")]
struct Sender {
    client: ApiClient,
    quotas: Quotas,
    pending: Arc<dyn PendingStore>,
    texts: Arc<Texts>,
}

/// The first wait before calling again when WeChat says it is busy (−1);
/// doubled on each try.
#[cfg(feature = "api")]
const BUSY_BACKOFF: Duration = Duration::from_millis(500);

#[cfg(feature = "api")]
impl Sender {
    /// Sends `replies` to `openid` in order, each within the quota (a long
    /// text as its parts, one message each). At the first that does not
    /// fit the quota, or that WeChat refuses, it and those after it wait
    /// as pending replies (one log line). A call that failed after it was
    /// sent is not sent again; those after it go on.
    async fn send_all(&self, openid: &str, replies: Vec<Reply>) -> Sent {
        let mut replies: std::collections::VecDeque<Reply> =
            replies.into_iter().map(pending::continued).collect();
        let mut sent = Sent::All;
        let until = Instant::now() + self.texts.lifetime;
        while let Some(reply) = replies.pop_front() {
            // A long text goes as its next part; `rest` is what follows
            // it, `whole` what waits if the part is not sent.
            let (message, rest, whole) = match reply {
                Reply::Continued { content } => {
                    // The last message the quota allows ends with the hint
                    // that more waits for the user.
                    let last = self.quotas.available(openid).await <= 1;
                    let hint = match last {
                        true => &self.texts.continue_hint,
                        false => &self.texts.api_hint,
                    };
                    let cut = crate::split::first_part(&content, pending::TEXT_LIMIT, hint);
                    if cut < content.len() {
                        let part = crate::split::hinted(&content[..cut], hint);
                        let rest = Reply::Continued {
                            content: content[cut..].to_owned(),
                        };
                        (Reply::text(part), Some(rest), Reply::Continued { content })
                    } else {
                        let whole = Reply::Continued {
                            content: content.clone(),
                        };
                        (Reply::text(content), None, whole)
                    }
                }
                reply => (reply.clone(), None, reply),
            };
            if !self.quotas.take(openid).await {
                tracing::info!(
                    openid,
                    waiting = replies.len() + 1,
                    "the user's customer-service quota is used up; the rest waits for their next push"
                );
                replies.push_front(whole);
                self.pending.queue(openid.to_owned(), replies.into()).await;
                return Sent::Queued;
            }
            match self.send(openid, &message, until).await {
                Ok(()) => {
                    if let Some(rest) = rest {
                        replies.push_front(rest);
                    }
                }
                Err(error) if not_sent(&error) => {
                    match error.errcode() {
                        Some(45047 | 45015) => self.quotas.exhaust(openid).await,
                        _ => self.quotas.give_back(openid).await,
                    }
                    tracing::warn!(openid, error = %ErrorChain(&error), waiting = replies.len() + 1, "customer-service API refused a reply; it and those after it wait for the user's next push");
                    replies.push_front(whole);
                    self.pending.queue(openid.to_owned(), replies.into()).await;
                    return Sent::Queued;
                }
                Err(error) => {
                    tracing::warn!(openid, error = %ErrorChain(&error), reply = pending::kind(&message), "a customer-service API call failed after it was sent: it may have reached the user, so it is not sent again; those after it are");
                    sent = Sent::Unsure;
                    if let Some(rest) = rest {
                        replies.push_front(rest);
                    }
                }
            }
        }
        sent
    }

    /// Sends one message, calling again while WeChat says it is busy (−1)
    /// and there is time before `until`, waiting twice as long each time.
    async fn send(&self, openid: &str, message: &Reply, until: Instant) -> Result<(), ApiError> {
        let mut wait = BUSY_BACKOFF;
        loop {
            match self.client.send_custom(openid, message).await {
                Err(error) if error.errcode() == Some(-1) && Instant::now() + wait < until => {
                    tracing::debug!(
                        openid,
                        wait_ms = wait.as_millis() as u64,
                        "WeChat is busy (-1); calling again"
                    );
                    tokio::time::sleep(wait).await;
                    wait *= 2;
                }
                done => return done,
            }
        }
    }
}

/// The outcome of a finished handler, and its reply when it has one to
/// show (for the pending queue or late delivery).
fn finish(name: &Arc<str>, joined: Result<Run, Panic>, push: &Push) -> (Outcome, Option<Reply>) {
    let outcome = |reply: Option<Arc<str>>, status| Outcome {
        reply,
        handler: Some(name.clone()),
        status,
    };
    match joined {
        Ok(Ok(Ok(reply))) => match render(&reply, push, Some(name)) {
            Some(xml) => (outcome(Some(xml.into()), Status::Replied), Some(reply)),
            None => (outcome(None, Status::NoReply), None),
        },
        Ok(Ok(Err(error))) => {
            tracing::error!(handler = &**name, %error, "handler returned an error; answering success");
            (outcome(None, Status::Failed), None)
        }
        Ok(Err(error)) => {
            tracing::error!(handler = &**name, error = %ErrorChain(&error), "extractor failed; answering success");
            (outcome(None, Status::Failed), None)
        }
        Err(panic) => {
            log_panic(name, panic);
            (outcome(None, Status::Panicked), None)
        }
    }
}

fn log_panic(handler: &str, panic: Panic) {
    let panic = panic_message(&*panic);
    let location = panics::take_location();
    tracing::error!(
        handler,
        panic,
        location = location.as_deref(),
        "handler panicked; answering success"
    );
}

/// Renders with To/From swapped and `CreateTime` now; a news reply is cut
/// to the articles WeChat shows — one when answering a user message, up
/// to [`MAX_ARTICLES`](crate::reply::MAX_ARTICLES) otherwise — with a
/// warning naming the `handler` that returned more.
pub(crate) fn render(reply: &Reply, push: &Push, handler: Option<&str>) -> Option<String> {
    let trimmed;
    let most = match &push.body {
        Body::Message(_) => 1,
        Body::Event(_) => crate::reply::MAX_ARTICLES,
    };
    let reply = match reply {
        Reply::News(articles) if articles.len() > most => {
            tracing::warn!(
                handler,
                articles = articles.len(),
                most,
                "a news reply carries at most one article to a user message and eight to an \
                 event; sending the first"
            );
            trimmed = Reply::News(articles[..most].to_vec());
            &trimmed
        }
        _ => reply,
    };
    reply.render(&push.from_user, &push.to_user, unix_now())
}

/// Whether WeChat shows a passive reply to this push: a user's message,
/// or an event of the user acting in the chat (not an automatic location
/// report, a link opened, or a notice from WeChat itself).
fn invites_reply(push: &Push) -> bool {
    match &push.body {
        Body::Message(_) => true,
        Body::Event(event) => matches!(
            event,
            Event::Subscribe(_)
                | Event::Scan(_)
                | Event::Click(_)
                | Event::ScancodeWaitmsg(_)
                | Event::PicSysphoto(_)
                | Event::PicPhotoOrAlbum(_)
                | Event::PicWeixin(_)
                | Event::LocationSelect(_)
        ),
    }
}

/// Polls `future` once: its output if it is ready, `Pending` if not (and
/// then it may be polled on, or handed elsewhere).
pub(crate) async fn poll_once<F: Future + ?Sized>(mut future: Pin<&mut F>) -> Poll<F::Output> {
    std::future::poll_fn(|cx| Poll::Ready(future.as_mut().poll(cx))).await
}

/// `future`'s output if it is ready by `deadline`, `None` if not. It is
/// polled once before the deadline's timer is made: what is awaited here
/// (a push's body, its handler) is nearly always ready at once, and then
/// needs no timer.
pub(crate) async fn by_deadline<F: Future + ?Sized>(
    deadline: Instant,
    mut future: Pin<&mut F>,
) -> Option<F::Output> {
    if let Poll::Ready(output) = poll_once(future.as_mut()).await {
        return Some(output);
    }
    tokio::time::timeout_at(deadline, future).await.ok()
}

/// Tells the observer, when dropped, what became of a retry held for the
/// outcome (`held`: still waiting at its deadline, or dropped waiting).
struct Told<'a> {
    observer: Option<&'a Observer>,
    held: bool,
}

impl Drop for Told<'_> {
    fn drop(&mut self) {
        if let Some(observer) = self.observer {
            observer.retried(self.held);
        }
    }
}

/// Displays an error with its whole source chain: `error: cause: root`.
pub(crate) struct ErrorChain<'a>(pub(crate) &'a (dyn std::error::Error + 'static));

impl std::fmt::Display for ErrorChain<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)?;
        let mut source = self.0.source();
        while let Some(e) = source {
            write!(f, ": {e}")?;
            source = e.source();
        }
        Ok(())
    }
}
