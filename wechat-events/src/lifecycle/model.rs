//! A model-based test of the lifecycle: random schedules of WeChat's tries
//! (network delays, early hang-ups), handlers of random durations and
//! endings (reply, none, error, panic, hung), background limits, a store
//! small enough to evict, one or two instances sharing the store (a tries'
//! instance chosen per push), an instance killed mid-flight and restarted,
//! a store that answers a push in two steps (fate, then outcome) or in one
//! (as the Redis store does) — on a paused clock, and the guarantees
//! checked after each.
//!
//! WeChat is modelled as it behaves: a push is sent, and sent again 5 s
//! later while no answer came within 5 s, three times in all; every try of
//! a push is the same signed request (so the replay binding has seen it
//! from the second try on).
//!
//! Invariants, per push:
//! - its handler runs exactly once (the store is in memory and working;
//!   evictions take only finished outcomes);
//! - WeChat gets an answer it accepts (within 5 s of a try: the model's
//!   WeChat hangs up at 5 s, so a try held too long counts as no answer,
//!   and the push must then be answered by a later try), unless every
//!   try was refused as a forgotten replay — which only an evicted outcome
//!   can cause, and which never runs the handler;
//! - a reply, once it exists, reaches its user exactly once: in the
//!   accepted answer, or late through the hook, with the right user —
//!   when the store kept the outcome for WeChat's tries;
//! - a handler cancelled for the background limit leaves no slow tip
//!   behind; one that hangs is cancelled at its time-out and counted.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::future::{BoxFuture, FutureExt};
use proptest::prelude::*;
use tokio::sync::Semaphore;
use tokio::time::Instant;

use super::{Answered, Forgotten, Job, Late, Lifecycle, LifecycleStats};
use crate::config::{Config, WECHAT_TIMEOUT};
use crate::dedup::{Claim, DedupStore, Fate, MemoryStore, Status, Ticket, BYTES_PER_ENTRY};
use crate::handler::HandlerError;
use crate::pending::{MemoryPending, PendingStore};
use crate::push::{parse, Push};
use crate::reply::Reply;

const TIP: &str = "slow tip";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ending {
    Reply,
    NoReply,
    Error,
    Panic,
}

#[derive(Debug, Clone)]
struct PushPlan {
    /// When WeChat first sends it.
    start: Duration,
    /// How long its handler runs.
    runs_for: Duration,
    ending: Ending,
    /// Network delay of each try.
    delays: [Duration; 3],
    /// A try's connection dropped early (after this long), if at all; not
    /// the last.
    drops: [Option<Duration>; 3],
    /// The instance its first try reaches; each later try goes to the next.
    route: usize,
}

#[derive(Debug, Clone)]
struct Schedule {
    wait_retries: u8,
    max_background: usize,
    /// Budget of the dedup store, in typical entries.
    capacity: u64,
    slow_tip: bool,
    handler_timeout: Duration,
    /// Instances sharing the store.
    instances: usize,
    /// The first instance is killed then (every task it runs stops, every
    /// connection to it breaks) and started again this much later.
    kill: Option<(Duration, Duration)>,
    pushes: Vec<PushPlan>,
    /// The store answers in one step ([`Ticket::with_answer`]) and says
    /// that no user has pending replies, as the Redis store does.
    one_step: bool,
}

fn duration(range: std::ops::Range<u64>) -> impl Strategy<Value = Duration> {
    range.prop_map(Duration::from_millis)
}

fn push_plan() -> impl Strategy<Value = PushPlan> {
    let runs_for = prop_oneof![
        4 => duration(0..4_000),
        3 => duration(4_000..16_000),
        2 => duration(16_000..40_000),
        1 => duration(100_000..400_000),
    ];
    let ending = prop_oneof![
        6 => Just(Ending::Reply),
        1 => Just(Ending::NoReply),
        1 => Just(Ending::Error),
        1 => Just(Ending::Panic),
    ];
    let drop = prop_oneof![4 => Just(None), 1 => duration(0..5_000).prop_map(Some)].boxed();
    (
        duration(0..12_000),
        runs_for,
        ending,
        [duration(0..900), duration(0..900), duration(0..900)],
        // WeChat's last try reaches the server: a push whose every try is
        // lost on the way is beyond any server's reach.
        [drop.clone(), drop, Just(None).boxed()],
        0usize..2,
    )
        .prop_map(|(start, runs_for, ending, delays, drops, route)| PushPlan {
            start,
            runs_for,
            ending,
            delays,
            drops,
            route,
        })
}

fn schedule() -> impl Strategy<Value = Schedule> {
    (
        0u8..=2,
        1usize..4,
        prop_oneof![3 => Just(10_000u64), 1 => 1u64..4],
        any::<bool>(),
        prop_oneof![Just(120u64), 20u64..60],
        1usize..3,
        prop_oneof![2 => Just(None), 1 => (duration(0..25_000), duration(0..10_000)).prop_map(Some)],
        prop::collection::vec(push_plan(), 1..7),
        any::<bool>(),
    )
        .prop_map(
            |(
                wait_retries,
                max_background,
                capacity,
                slow_tip,
                timeout,
                instances,
                kill,
                pushes,
                one_step,
            )| {
                Schedule {
                    wait_retries,
                    max_background,
                    capacity,
                    slow_tip,
                    handler_timeout: Duration::from_secs(timeout),
                    instances,
                    kill,
                    pushes,
                    one_step,
                }
            },
        )
}

/// The in-memory store with a one-step answer, as the Redis store has:
/// its first claims' tickets settle the fate and complete in one call, and
/// say that the user has nothing pending.
struct OneStep(MemoryStore);

impl DedupStore for OneStep {
    fn claim(&self, key: String) -> BoxFuture<'static, Claim> {
        let claim = self.0.claim(key);
        async move {
            let ticket = match claim.await {
                Claim::First(ticket) => ticket,
                duplicate => return duplicate,
            };
            let seen = ticket.first_seen();
            let decider = ticket.decider();
            let (complete, outcome) = ticket.into_parts();
            let slot = Arc::new(Mutex::new(Some(complete)));
            let (answered, decide) = (slot.clone(), decider.clone());
            let mut ticket = Ticket::new(
                move |outcome| {
                    if let Some(complete) = slot.lock().unwrap().take() {
                        complete(outcome)
                    }
                },
                outcome,
                decider,
            )
            .with_answer(move |outcome| {
                async move {
                    let fate = decide(Fate::Answered).await;
                    if fate == Fate::Answered {
                        if let Some(complete) = answered.lock().unwrap().take() {
                            complete(outcome)
                        }
                    }
                    fate
                }
                .boxed()
            })
            .pending(false);
            if let Some(seen) = seen {
                ticket = ticket.seen_since(seen);
            }
            Claim::First(ticket)
        }
        .boxed()
    }
}

/// In-memory pending replies that believe the store's look
/// ([`PendingStore::may_hold`]).
struct Believing(MemoryPending);

impl PendingStore for Believing {
    fn queue(&self, openid: String, replies: Vec<Reply>) -> BoxFuture<'static, ()> {
        self.0.queue(openid, replies)
    }
    fn take(&self, openid: String) -> BoxFuture<'static, Vec<Reply>> {
        self.0.take(openid)
    }
    fn may_hold(&self, _: &str, listed: bool) -> bool {
        listed
    }
}

/// What happened to one push, as WeChat and the handler saw it.
#[derive(Debug, Default, Clone)]
struct Seen {
    runs: u32,
    finished: bool,
    cancelled: bool,
    /// When runs were dropped unfinished.
    drops: Vec<Instant>,
    /// WeChat's last try reached a live instance, which lived through it.
    last_try_live: bool,
    /// A try reached a live instance after the death.
    tried_after_death: bool,
    /// A try after the death was answered by following the push's claim
    /// (an outcome settled before: the push was answered or handed off).
    followed_after_death: bool,
    /// The answer WeChat accepted: when (since the push was first sent)
    /// and what.
    accepted: Option<(Duration, Option<String>, Status)>,
    refused: u32,
    late: Vec<(String, String)>,
}

struct World {
    seen: Vec<Mutex<Seen>>,
    /// The instances now: `None` while dead.
    instances: Vec<Mutex<Option<Arc<Lifecycle>>>>,
    /// Every instance that ever ran, for their counters.
    all: Mutex<Vec<Arc<Lifecycle>>>,
    killed_at: Mutex<Option<Instant>>,
}

impl World {
    fn with<R>(&self, i: usize, f: impl FnOnce(&mut Seen) -> R) -> R {
        f(&mut self.seen[i].lock().unwrap())
    }
}

fn user(i: usize) -> String {
    format!("o_user_{i}")
}

fn reply_text(i: usize) -> String {
    format!("reply {i}")
}

/// The model's wall clock: unix seconds, advancing with tokio's paused
/// clock from `ORIGIN_UNIX` at the runtime's start.
const ORIGIN_UNIX: i64 = 1_800_000_000;

fn wall(origin: Instant) -> i64 {
    ORIGIN_UNIX + (Instant::now() - origin).as_secs() as i64
}

fn the_push(i: usize, create_time: i64) -> Arc<Push> {
    let xml = format!(
        "<xml><ToUserName>gh_model</ToUserName><FromUserName>{}</FromUserName>\
         <CreateTime>{create_time}</CreateTime><MsgType>text</MsgType><Content>hi</Content>\
         <MsgId>{i}</MsgId></xml>",
        user(i)
    );
    Arc::new(parse(xml.as_bytes()).expect("a push"))
}

/// Counts a handler's cancellation when its future is dropped unfinished.
struct Running {
    world: Arc<World>,
    push: usize,
    done: bool,
}

impl Drop for Running {
    fn drop(&mut self) {
        if !self.done {
            let now = Instant::now();
            self.world.with(self.push, |s| {
                s.cancelled = true;
                s.drops.push(now);
            });
        }
    }
}

fn job(world: &Arc<World>, i: usize, plan: &PushPlan) -> Job {
    let (world, runs_for, ending) = (world.clone(), plan.runs_for, plan.ending);
    Job::Run {
        name: format!("model::handler_{i}").into(),
        future: async move {
            world.with(i, |s| s.runs += 1);
            let mut running = Running {
                world: world.clone(),
                push: i,
                done: false,
            };
            tokio::time::sleep(runs_for).await;
            running.done = true;
            world.with(i, |s| s.finished = true);
            match ending {
                Ending::Reply => Ok(Ok(Reply::text(reply_text(i)))),
                Ending::NoReply => Ok(Ok(Reply::None)),
                Ending::Error => Ok(Err(HandlerError("failed".into()))),
                Ending::Panic => panic!("model handler {i} panics"),
            }
        }
        .boxed(),
    }
}

/// Plays WeChat for push `i`: up to three tries, 5 s apart, each given
/// 5 s to answer.
async fn wechat(world: Arc<World>, origin: Instant, i: usize, plan: PushPlan) {
    tokio::time::sleep(plan.start).await;
    let push = the_push(i, wall(origin));
    let first_sent = Instant::now();
    // The replay binding has seen the push once a try reached the server.
    let mut reached = false;
    for k in 0..3 {
        let sent = first_sent + WECHAT_TIMEOUT * k as u32;
        tokio::time::sleep_until(sent + plan.delays[k]).await;
        let hang_up = sent + plan.drops[k].unwrap_or(WECHAT_TIMEOUT).min(WECHAT_TIMEOUT);
        let arrived = Instant::now();
        if arrived >= hang_up {
            continue;
        }
        let instance = (plan.route + k) % world.instances.len();
        let Some(lifecycle) = world.instances[instance].lock().unwrap().clone() else {
            continue; // connection refused: the instance is down
        };
        let seen_before = std::mem::replace(&mut reached, true);
        if world.killed_at.lock().unwrap().is_some() {
            world.with(i, |s| s.tried_after_death = true);
        }
        let (w, p) = (world.clone(), plan.clone());
        let answer = lifecycle.handle(
            format!("key-{i}"),
            push.clone(),
            arrived,
            seen_before,
            move || job(&w, i, &p),
        );
        let answer = tokio::select! {
            answer = tokio::time::timeout_at(hang_up, answer) => answer,
            _ = lifecycle.killed() => continue, // the connection breaks
        };
        if k == 2 {
            world.with(i, |s| s.last_try_live = true);
        }
        match answer {
            Ok(Ok(Answered {
                outcome, claimed, ..
            })) => {
                let at = Instant::now() - first_sent;
                if !claimed && world.killed_at.lock().unwrap().is_some() {
                    world.with(i, |s| s.followed_after_death = true);
                }
                world.with(i, |s| {
                    s.accepted = Some((
                        at,
                        outcome.reply.as_deref().map(str::to_owned),
                        outcome.status,
                    ))
                });
                return;
            }
            Ok(Err(Forgotten)) => world.with(i, |s| s.refused += 1),
            Err(_) => {}
        }
    }
}

fn run(schedule: &Schedule) -> (Arc<World>, LifecycleStats) {
    crate::panics::install_hook();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let origin = Instant::now();
        let mut config = Config::builder("model")
            .wait_retries(schedule.wait_retries)
            .max_background(schedule.max_background)
            .handler_timeout(schedule.handler_timeout);
        if schedule.slow_tip {
            config = config.slow_tip(TIP);
        }
        let config = config.build().expect("config");
        let world = Arc::new(World {
            seen: (0..schedule.pushes.len())
                .map(|_| Mutex::default())
                .collect(),
            instances: (0..schedule.instances).map(|_| Mutex::default()).collect(),
            all: Mutex::default(),
            killed_at: Mutex::default(),
        });
        let late_world = world.clone();
        let hook = Arc::new(move |late: super::LateReply| {
            let i: usize = late.handler["model::handler_".len()..]
                .parse()
                .expect("handler index");
            let text = match late.reply {
                Reply::Text { content } => content,
                other => format!("{other:?}"),
            };
            late_world.with(i, |s| s.late.push((late.push.from_user.clone(), text)));
        });
        // One store shared by the instances (as Redis is), outliving them.
        let memory =
            MemoryStore::with_max_bytes(schedule.capacity * BYTES_PER_ENTRY, config.dedup_ttl());
        let store: Arc<dyn DedupStore> = match schedule.one_step {
            true => Arc::new(OneStep(memory)),
            false => Arc::new(memory),
        };
        let one_step = schedule.one_step;
        let start = {
            let (world, store, hook) = (world.clone(), store.clone(), hook.clone());
            move |slot: usize| {
                let lifecycle = Arc::new(
                    Lifecycle::new(
                        &config,
                        store.clone(),
                        None,
                        match one_step {
                            true => Arc::new(Believing(MemoryPending::new(
                                1 << 20,
                                config.pending_ttl(),
                            ))),
                            false => Arc::new(MemoryPending::new(1 << 20, config.pending_ttl())),
                        },
                        Late::Hook(hook.clone()),
                        Arc::new(Semaphore::new(config.max_background())),
                    )
                    .with_wall_clock(move || wall(origin)),
                );
                world.all.lock().unwrap().push(lifecycle.clone());
                *world.instances[slot].lock().unwrap() = Some(lifecycle);
            }
        };
        for slot in 0..schedule.instances {
            start(slot);
        }
        if let Some((at, down)) = schedule.kill {
            let world = world.clone();
            tokio::spawn(async move {
                tokio::time::sleep(at).await;
                let dead = world.instances[0].lock().unwrap().take();
                *world.killed_at.lock().unwrap() = Some(Instant::now());
                if let Some(dead) = dead {
                    dead.kill();
                }
                tokio::time::sleep(down).await;
                start(0);
            });
        }
        let wechats: Vec<_> = (schedule.pushes.iter().enumerate())
            .map(|(i, plan)| tokio::spawn(wechat(world.clone(), origin, i, plan.clone())))
            .collect();
        for w in wechats {
            w.await.expect("WeChat's side does not panic");
        }
        // Everything in the background ends by its time-out.
        tokio::time::sleep(schedule.handler_timeout + Duration::from_secs(60)).await;
        let all = world.all.lock().unwrap().clone();
        let mut stats = LifecycleStats::default();
        for lifecycle in &all {
            assert!(
                lifecycle.tasks().is_empty(),
                "no task outlives its time-out"
            );
            let s = lifecycle.stats();
            stats.runs += s.runs;
            stats.cancelled += s.cancelled;
            stats.handed_off += s.handed_off;
            stats.late_delivered += s.late_delivered;
        }
        (world, stats)
    })
}

fn check(schedule: &Schedule) -> Result<(), TestCaseError> {
    let (world, stats) = run(schedule);
    let tip = schedule.slow_tip.then(|| TIP.to_owned());
    let ample = schedule.capacity >= 100;
    let killed_at = *world.killed_at.lock().unwrap();
    let mut runs = 0;
    let mut cancelled = 0;
    for (i, plan) in schedule.pushes.iter().enumerate() {
        let seen = world.with(i, |s| s.clone());
        let context = || format!("push {i} ({plan:?}): {seen:?}");
        runs += seen.runs;
        // Runs cut short by an instance's death; any other drop is a
        // cancellation (the background limit, the time-out).
        let interrupted = seen.drops.iter().filter(|t| Some(**t) == killed_at).count() as u32;
        let limited = seen.drops.len() as u32 > interrupted;
        if killed_at.is_none() {
            prop_assert_eq!(seen.runs, 1, "handler runs exactly once: {}", context());
        } else {
            prop_assert!(
                seen.runs <= 1 + interrupted,
                "at most once more per death: {}",
                context()
            );
            // A handler cut short by a death runs again when a later try
            // reaches a live instance — unless the push was settled before
            // the death (answered, or handed off with the slow tip: the
            // reply its handler had not made yet dies with the instance).
            prop_assert!(
                seen.runs > interrupted
                    || !seen.tried_after_death
                    || seen.followed_after_death
                    || (!ample && seen.refused > 0),
                "at least once across a death: {}",
                context()
            );
        }
        for (to, _) in &seen.late {
            prop_assert_eq!(to, &user(i), "late reply to its user: {}", context());
        }
        let text_of = |xml: &str| {
            crate::reply::Reply::parse_xml(xml)
                .ok()
                .and_then(|r| match r {
                    Reply::Text { content } => Some(content),
                    _ => None,
                })
        };
        let answered_text =
            (seen.accepted.as_ref()).and_then(|(_, answer, _)| answer.as_deref().and_then(text_of));
        let late_replies = (seen.late.iter())
            .filter(|(_, t)| *t == reply_text(i))
            .count();
        let passive = usize::from(answered_text.as_deref() == Some(reply_text(i).as_str()));
        prop_assert!(late_replies + passive <= 1, "never twice: {}", context());
        let Some((at, _, _)) = &seen.accepted else {
            // Only a forgotten (evicted) outcome, or WeChat's last try
            // meeting a dead instance, leaves WeChat without an answer.
            prop_assert!(
                (!ample && seen.refused > 0) || (killed_at.is_some() && !seen.last_try_live),
                "unanswered: {}",
                context()
            );
            continue;
        };
        prop_assert!(*at < WECHAT_TIMEOUT * 3, "answered in time: {}", context());
        if !seen.finished {
            prop_assert_eq!(late_replies + passive, 0, "no reply from a cancelled run");
            cancelled += u64::from(limited);
            // The time-out counts from the push's first sighting, which
            // may come up to ~12 s before the handler's start (the tries
            // before were lost on the way; `CreateTime` tells).
            let hung = plan.runs_for + Duration::from_secs(13) >= schedule.handler_timeout;
            if limited && !hung && interrupted == 0 {
                // Cancelled for the background limit, which happens only
                // before any try promised the reply: no tip.
                prop_assert!(tip.is_none() || answered_text != tip, "{}", context());
            }
            continue;
        }
        match plan.ending {
            Ending::Reply if ample && killed_at.is_none() => prop_assert_eq!(
                late_replies + passive,
                1,
                "the reply reaches its user once: {}",
                context()
            ),
            Ending::Reply => {}
            _ => prop_assert_eq!(late_replies + passive, 0, "{}", context()),
        }
    }
    prop_assert_eq!(stats.runs, u64::from(runs));
    prop_assert!(stats.cancelled >= cancelled);
    Ok(())
}

fn cases() -> u32 {
    std::env::var("LIFECYCLE_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(10_000)
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: cases(),
        max_shrink_iters: 2_000,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn the_guarantees_hold_over_random_schedules(schedule in schedule()) {
        check(&schedule)?;
    }
}

/// A push sent at once, whose tries arrive at once and none is lost, its
/// handler replying after `runs_for`.
fn prompt(runs_for: Duration) -> PushPlan {
    PushPlan {
        start: Duration::ZERO,
        runs_for,
        ending: Ending::Reply,
        delays: [Duration::ZERO; 3],
        drops: [None; 3],
        route: 0,
    }
}

/// One instance on an ample store, handlers timed out at 120 s, no death.
fn one_instance(wait_retries: u8, max_background: usize, pushes: Vec<PushPlan>) -> Schedule {
    Schedule {
        wait_retries,
        max_background,
        capacity: 10_000,
        slow_tip: false,
        handler_timeout: Duration::from_secs(120),
        instances: 1,
        kill: None,
        pushes,
        one_step: false,
    }
}

/// The deterministic cases the property test is made of, one each.
#[test]
fn a_handler_slower_than_every_try_replies_late_exactly_once() {
    let plan = PushPlan {
        delays: [Duration::from_millis(100); 3],
        ..prompt(Duration::from_secs(20))
    };
    let schedule = Schedule {
        slow_tip: true,
        ..one_instance(2, 4, vec![plan])
    };
    let (world, stats) = run(&schedule);
    let seen = world.with(0, |s| s.clone());
    assert_eq!(seen.runs, 1);
    let (at, _, status) = seen.accepted.expect("answered");
    assert_eq!(
        status,
        Status::DeadlineExceeded,
        "the tip, on the third try"
    );
    assert!(
        at > Duration::from_secs(14) && at < Duration::from_secs(15),
        "{at:?}"
    );
    assert_eq!(seen.late, vec![(user(0), reply_text(0))]);
    assert_eq!(
        (stats.runs, stats.handed_off, stats.late_delivered),
        (1, 1, 1)
    );
}

#[test]
fn a_handler_cancelled_for_the_background_limit_gets_no_tip() {
    let slow = prompt(Duration::from_secs(30));
    let schedule = Schedule {
        slow_tip: true,
        one_step: true,
        ..one_instance(0, 1, vec![slow.clone(), slow])
    };
    let (world, stats) = run(&schedule);
    let texts: Vec<_> = (0..2)
        .map(|i| world.with(i, |s| s.accepted.clone().expect("answered")))
        .collect();
    assert_eq!(stats.cancelled, 1, "{texts:?}");
    let cancelled = (0..2)
        .find(|&i| world.with(i, |s| s.cancelled))
        .expect("one was cancelled");
    let (_, answer, _) = &texts[cancelled];
    assert!(
        answer.as_deref().is_none_or(|xml| !xml.contains(TIP)),
        "no tip for a reply that will not come: {answer:?}"
    );
}

#[test]
fn a_hung_handler_is_cancelled_at_its_time_out() {
    let schedule = one_instance(2, 1, vec![prompt(Duration::from_secs(3_600))]);
    let (world, stats) = run(&schedule);
    assert!(world.with(0, |s| s.cancelled));
    assert_eq!(stats.cancelled, 1);
}

#[test]
fn a_push_whose_first_tries_were_lost_is_answered_by_the_last() {
    // WeChat's first two tries never reached the server: the third, new
    // to the store, is known for the last by the push's CreateTime, and
    // answers by its deadline while the handler (which holds the one place
    // in the background) runs on.
    let plan = PushPlan {
        start: Duration::from_secs(1),
        delays: [
            Duration::from_millis(54),
            Duration::from_millis(74),
            Duration::from_millis(298),
        ],
        drops: [Some(Duration::ZERO), Some(Duration::ZERO), None],
        ..prompt(Duration::from_millis(4_702))
    };
    let schedule = one_instance(2, 1, vec![plan]);
    check(&schedule).unwrap();
    let (world, _) = run(&schedule);
    let seen = world.with(0, |s| s.clone());
    assert_eq!(seen.late, vec![(user(0), reply_text(0))]);
}

/// A store that loses a push under a following try: the claim it follows
/// is abandoned (its owner's Redis failed), and the claim after it finds
/// the push new (the fallback memory never saw it).
struct LosesThePush {
    claims: std::sync::atomic::AtomicU32,
    memory: MemoryStore,
}

impl crate::dedup::DedupStore for LosesThePush {
    fn claim(&self, key: String) -> futures_util::future::BoxFuture<'static, crate::dedup::Claim> {
        use crate::dedup::{Claim, Decider, Outcome, Retry};
        if self
            .claims
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst)
            == 0
        {
            let decider: Decider = Arc::new(|fate| futures_util::future::ready(fate).boxed());
            let abandoned = futures_util::future::ready(Outcome::abandoned()).boxed();
            let retry = Retry::new(Instant::now(), abandoned, decider);
            return futures_util::future::ready(Claim::Duplicate(retry)).boxed();
        }
        self.memory.claim(key)
    }
}

#[tokio::test(start_paused = true)]
async fn a_try_whose_followed_claim_was_abandoned_runs_the_push_not_refuses_it() {
    // It followed a live claim, so the push was remembered: the fresh claim
    // after the abandonment is no forgotten replay (the binding says "seen
    // before", as for any retry).
    let config = Config::builder("model").build().expect("config");
    let lifecycle = Arc::new(Lifecycle::new(
        &config,
        Arc::new(LosesThePush {
            claims: Default::default(),
            memory: MemoryStore::new(100, config.dedup_ttl()),
        }),
        None,
        Arc::new(MemoryPending::new(1 << 20, config.pending_ttl())),
        Late::Pending,
        Arc::new(Semaphore::new(config.max_background())),
    ));
    let world = Arc::new(World {
        seen: vec![Mutex::default()],
        instances: Vec::new(),
        all: Mutex::default(),
        killed_at: Mutex::default(),
    });
    let plan = prompt(Duration::from_millis(10));
    let push = the_push(0, 1);
    let answered = lifecycle
        .handle("key-0".into(), push, Instant::now(), true, || {
            job(&world, 0, &plan)
        })
        .await;
    let Ok(answered) = answered else {
        panic!("refused as a replay")
    };
    assert_eq!(world.with(0, |s| s.runs), 1);
    assert!(answered
        .outcome
        .reply
        .is_some_and(|r| r.contains(&reply_text(0))));
}

/// Retries counted as `held` (kept open past their deadline while the
/// handler ran) or `answered` (the stored outcome, at once), and the
/// push once, in the metrics.
#[cfg(feature = "metrics")]
#[tokio::test(start_paused = true)]
async fn a_retry_held_past_its_deadline_counts_as_held_and_one_answered_at_once_as_answered() {
    use crate::observe::Observer;
    let metrics = crate::metrics::Metrics::new();
    let config = Config::builder("model").build().expect("config");
    let lifecycle = Arc::new(
        Lifecycle::new(
            &config,
            Arc::new(MemoryStore::new(100, config.dedup_ttl())),
            None,
            Arc::new(MemoryPending::new(1 << 20, config.pending_ttl())),
            Late::Pending,
            Arc::new(Semaphore::new(config.max_background())),
        )
        .with_observer(Observer::new("model").with_metrics(&metrics)),
    );
    let world = Arc::new(World {
        seen: vec![Mutex::default()],
        instances: Vec::new(),
        all: Mutex::default(),
        killed_at: Mutex::default(),
    });
    // Longer than the deadline, shorter than the tries WeChat holds.
    let plan = prompt(config.deadline() + Duration::from_secs(2));
    let push = the_push(0, 1);
    let first = {
        let (lifecycle, world, push) = (lifecycle.clone(), world.clone(), push.clone());
        tokio::spawn(async move {
            (lifecycle.handle("key".into(), push, Instant::now(), false, || {
                job(&world, 0, &plan)
            }))
            .await
        })
    };
    tokio::task::yield_now().await;
    let retry = lifecycle.handle("key".into(), push.clone(), Instant::now(), false, || {
        unreachable!("a retry runs nothing")
    });
    let Ok(retry) = retry.await else {
        panic!("refused")
    };
    assert!(!retry.claimed && retry.held, "held while the handler ran");
    let Ok(first) = first.await.expect("joined") else {
        panic!("refused")
    };
    assert!(first.claimed && first.held);
    let late = lifecycle.handle("key".into(), push, Instant::now(), false, || {
        unreachable!("a retry runs nothing")
    });
    let Ok(late) = late.await else {
        panic!("refused")
    };
    assert!(!late.claimed && !late.held, "answered at once");
    let text = metrics.render().await;
    for line in [
        r#"wechat_retries_total{account="model",result="held"} 1"#,
        r#"wechat_retries_total{account="model",result="answered"} 1"#,
        r#"wechat_pushes_total{account="model",kind="text",outcome="replied"} 1"#,
    ] {
        assert!(text.lines().any(|l| l == line), "{line} in\n{text}");
    }
}
