//! Prometheus metrics (feature `metrics`): what became of pushes, tries,
//! refusals, late replies, API calls and Redis, per account.
//!
//! A [`Metrics`] owns its registry — there is no process-global recorder
//! — so two services (or two tests in one process) count apart, and a
//! test can assert exact counts while others run. Give it to the services
//! with [`ServiceBuilder::metrics`](crate::service::ServiceBuilder::metrics)
//! (or `WechatAccounts`' builder), and mount its endpoint where it should
//! be scraped ([`Metrics::service`], in the `http` half):
//!
//! ```no_run
//! use actix_web::{App, HttpServer};
//! use wechat_events::metrics::Metrics;
//! use wechat_events::{Config, Router, WechatService};
//!
//! # async fn run() -> std::io::Result<()> {
//! let metrics = Metrics::new();
//! let config = Config::from_env().expect("config");
//! let service = WechatService::builder(config)
//!     .router(Router::new())
//!     .metrics(&metrics)
//!     .build()
//!     .expect("routes");
//! HttpServer::new(move || {
//!     App::new()
//!         .service(service.clone())
//!         .service(metrics.service("/metrics"))
//! })
//! .bind(("127.0.0.1", 8080))?
//! .run()
//! .await
//! # }
//! ```
//!
//! The metrics (every label value bounded: `account` is the configured
//! account's name, a third-party platform's authorizers counting under the
//! platform's; `kind` the catalog's JSON `type`; `handler` the function's
//! path):
//!
//! | metric | type | labels |
//! |---|---|---|
//! | `wechat_pushes_total` | counter | `account`, `kind`, `outcome` (`replied`, `no_reply`, `error`, `panic`, `late`) |
//! | `wechat_rejected_total` | counter | `account`, `reason` (`signature`, `timestamp`, `replay`, `bad_request`, `too_large`, `timeout`, `mode`, `decrypt`, `appid`, `method`) |
//! | `wechat_retries_total` | counter | `account`, `result` (`answered`, `held`) |
//! | `wechat_handler_duration_seconds` | histogram | `account`, `handler` |
//! | `wechat_answer_duration_seconds` | histogram | `account` |
//! | `wechat_late_replies_total` | counter | `account`, `via` (`api`, `pending`, `hook`, `dropped`) |
//! | `wechat_pending_replies` | gauge | `account` |
//! | `wechat_background_handlers` | gauge | — |
//! | `wechat_api_requests_total` | counter | `account`, `endpoint`, `errcode` |
//! | `wechat_redis_up` | gauge | — |
//! | `wechat_redis_fallbacks_total` | counter | — |

mod http;

use std::fmt;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use prometheus::{
    Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts,
    Registry,
};
use tokio::sync::Semaphore;

use crate::observe::{LateVia, PushDone, Reason};
use crate::pending::PendingStore;

/// The histograms' buckets, in seconds: 1 ms to 15 s, dense around
/// WeChat's 5 s deadline.
pub const BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 4.0, 4.5, 5.0, 7.5,
    10.0, 15.0,
];

/// A registry of this crate's metrics, shared by the services given it
/// (cheap to clone). Render it with [`Metrics::render`], or mount
/// [`Metrics::service`].
#[derive(Clone)]
pub struct Metrics {
    shared: Arc<Shared>,
}

struct Shared {
    registry: Registry,
    pushes: IntCounterVec,
    rejected: IntCounterVec,
    retries: IntCounterVec,
    handler_duration: HistogramVec,
    answer_duration: HistogramVec,
    late: IntCounterVec,
    pending: IntGaugeVec,
    background: IntGauge,
    api: IntCounterVec,
    redis_up: IntGauge,
    redis_fallbacks: IntCounter,
    /// What is read at each scrape rather than counted as it happens.
    watched: Mutex<Watched>,
}

/// The sources of the gauges, read at each scrape.
#[derive(Default)]
struct Watched {
    /// Each account's pending store.
    pending: Vec<(Arc<str>, Weak<dyn PendingStore>)>,
    /// Each background limit (shared by accounts, counted once): its
    /// semaphore and its size.
    background: Vec<(Weak<Semaphore>, usize)>,
    /// Each Redis backend (shared by accounts, counted once).
    #[cfg(feature = "redis")]
    redis: Vec<crate::redis::RedisBackend>,
}

impl fmt::Debug for Metrics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    /// A registry holding this crate's metrics, none counted yet.
    pub fn new() -> Self {
        let registry = Registry::new();
        let counter = |name: &str, help: &str, labels: &[&str]| {
            let counter = IntCounterVec::new(Opts::new(name, help), labels).expect("valid metric");
            registry
                .register(Box::new(counter.clone()))
                .expect("registered once");
            counter
        };
        let histogram = |name: &str, help: &str, labels: &[&str]| {
            let opts = HistogramOpts::new(name, help).buckets(BUCKETS.to_vec());
            let histogram = HistogramVec::new(opts, labels).expect("valid metric");
            registry
                .register(Box::new(histogram.clone()))
                .expect("registered once");
            histogram
        };
        let pushes = counter(
            "wechat_pushes_total",
            "Accepted pushes, once each when their outcome is known.",
            &["account", "kind", "outcome"],
        );
        let rejected = counter(
            "wechat_rejected_total",
            "Requests refused, by reason.",
            &["account", "reason"],
        );
        let retries = counter(
            "wechat_retries_total",
            "Later tries of a push (its claim taken by an earlier try): held open, or answered.",
            &["account", "result"],
        );
        let handler_duration = histogram(
            "wechat_handler_duration_seconds",
            "How long handlers ran.",
            &["account", "handler"],
        );
        let answer_duration = histogram(
            "wechat_answer_duration_seconds",
            "From a try's arrival to its answer.",
            &["account"],
        );
        let late = counter(
            "wechat_late_replies_total",
            "Replies that came after their push was answered, by how they went out.",
            &["account", "via"],
        );
        let api = counter(
            "wechat_api_requests_total",
            "Calls to WeChat's API, by endpoint and errcode (0: success; http, timeout, \
             decode: failed without one).",
            &["account", "endpoint", "errcode"],
        );
        let pending = IntGaugeVec::new(
            Opts::new(
                "wechat_pending_replies",
                "Late replies waiting for their user's next push.",
            ),
            &["account"],
        )
        .expect("valid metric");
        let background = IntGauge::new(
            "wechat_background_handlers",
            "Handlers running past their deadline.",
        )
        .expect("valid metric");
        let redis_up = IntGauge::new(
            "wechat_redis_up",
            "1 while Redis answers, 0 during an outage.",
        )
        .expect("valid metric");
        let redis_fallbacks = IntCounter::new(
            "wechat_redis_fallbacks_total",
            "Store calls answered from memory because of Redis.",
        )
        .expect("valid metric");
        for collector in [
            Box::new(pending.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(background.clone()),
        ] {
            registry.register(collector).expect("registered once");
        }
        Metrics {
            shared: Arc::new(Shared {
                registry,
                pushes,
                rejected,
                retries,
                handler_duration,
                answer_duration,
                late,
                pending,
                background,
                api,
                redis_up,
                redis_fallbacks,
                watched: Mutex::default(),
            }),
        }
    }

    /// The registry, to add metrics of your own to the same scrape.
    pub fn registry(&self) -> &Registry {
        &self.shared.registry
    }

    /// The metrics in Prometheus' text format, the gauges read now.
    pub async fn render(&self) -> String {
        self.sample().await;
        let families = self.shared.registry.gather();
        prometheus::TextEncoder::new()
            .encode_to_string(&families)
            .unwrap_or_else(|e| format!("# cannot encode the metrics: {e}\n"))
    }

    /// Reads the gauges' sources.
    async fn sample(&self) {
        let shared = &self.shared;
        let (pending, background) = {
            let mut watched = lock(&shared.watched);
            watched
                .pending
                .retain(|(_, store)| store.strong_count() > 0);
            watched
                .background
                .retain(|(limit, _)| limit.strong_count() > 0);
            (watched.pending.clone(), watched.background.clone())
        };
        let running: usize = (background.iter())
            .filter_map(|(limit, size)| {
                Some(size - limit.upgrade()?.available_permits().min(*size))
            })
            .sum();
        shared.background.set(running as i64);
        for (account, store) in pending {
            let Some(store) = store.upgrade() else {
                continue;
            };
            if let Some(waiting) = store.waiting().await {
                (shared.pending.with_label_values(&[&*account])).set(waiting as i64);
            }
        }
        #[cfg(feature = "redis")]
        {
            let backends = lock(&shared.watched).redis.clone();
            if !backends.is_empty() {
                let stats: Vec<_> = backends.iter().map(|b| b.stats()).collect();
                shared.redis_up.set(stats.iter().all(|s| s.up) as i64);
                let fallbacks: u64 = stats.iter().map(|s| s.fallbacks).sum();
                let counted = shared.redis_fallbacks.get();
                shared
                    .redis_fallbacks
                    .inc_by(fallbacks.saturating_sub(counted));
            }
        }
    }

    /// The handles one account counts through.
    pub(crate) fn account(&self, account: &str) -> AccountMetrics {
        let shared = self.shared.clone();
        let answer_duration = shared.answer_duration.with_label_values(&[account]);
        AccountMetrics {
            account: account.into(),
            answer_duration,
            shared,
        }
    }

    /// Reads the background limit `limit` (of `size` places) at scrapes.
    pub(crate) fn watch_background(&self, limit: &Arc<Semaphore>, size: usize) {
        let mut watched = lock(&self.shared.watched);
        let known =
            (watched.background.iter()).any(|(w, _)| std::ptr::eq(w.as_ptr(), Arc::as_ptr(limit)));
        if !known {
            watched.background.push((Arc::downgrade(limit), size));
        }
    }

    /// Reads the Redis backend's health at scrapes.
    #[cfg(feature = "redis")]
    pub(crate) fn watch_redis(&self, backend: &crate::redis::RedisBackend) {
        let mut watched = lock(&self.shared.watched);
        if watched.redis.is_empty() {
            // Without Redis the two are absent rather than a misleading 0.
            let shared = &self.shared;
            for collector in [
                Box::new(shared.redis_up.clone()) as Box<dyn prometheus::core::Collector>,
                Box::new(shared.redis_fallbacks.clone()),
            ] {
                shared
                    .registry
                    .register(collector)
                    .expect("registered once");
            }
        }
        if !watched.redis.iter().any(|known| known.same(backend)) {
            watched.redis.push(backend.clone());
        }
        drop(watched);
        self.shared.redis_up.set(backend.stats().up as i64);
    }
}

/// One account's handles into [`Metrics`].
#[derive(Clone)]
pub(crate) struct AccountMetrics {
    account: Arc<str>,
    /// Resolved once: observed at every try.
    answer_duration: Histogram,
    shared: Arc<Shared>,
}

impl AccountMetrics {
    /// A request refused.
    pub(crate) fn refused(&self, reason: Reason) {
        (self.shared.rejected)
            .with_label_values(&[&*self.account, reason.as_str()])
            .inc();
    }

    /// A try answered after `elapsed`.
    pub(crate) fn answered(&self, elapsed: Duration) {
        self.answer_duration.observe(elapsed.as_secs_f64());
    }

    /// A later try of a push.
    pub(crate) fn retried(&self, held: bool) {
        let result = if held { "held" } else { "answered" };
        (self.shared.retries)
            .with_label_values(&[&*self.account, result])
            .inc();
    }

    /// A push's outcome.
    pub(crate) fn push_done(&self, done: &PushDone<'_>) {
        let kind = done.push.kind_name();
        (self.shared.pushes)
            .with_label_values(&[&*self.account, kind, done.outcome.as_str()])
            .inc();
        if let (Some(handler), Some(ran_for)) = (done.handler, done.ran_for) {
            (self.shared.handler_duration)
                .with_label_values(&[&*self.account, handler])
                .observe(ran_for.as_secs_f64());
        }
    }

    /// A late reply on its way.
    pub(crate) fn late(&self, via: LateVia) {
        (self.shared.late)
            .with_label_values(&[&*self.account, via.as_str()])
            .inc();
    }

    /// A call to WeChat's API answered (`errcode`: see the metric's help).
    pub(crate) fn api_request(&self, endpoint: &str, errcode: &str) {
        (self.shared.api)
            .with_label_values(&[&*self.account, endpoint, errcode])
            .inc();
    }

    /// Reads `store`'s waiting replies at scrapes, as this account's.
    pub(crate) fn watch_pending(&self, store: &Arc<dyn PendingStore>) {
        let mut watched = lock(&self.shared.watched);
        watched
            .pending
            .retain(|(account, _)| *account != self.account);
        watched
            .pending
            .push((self.account.clone(), Arc::downgrade(store)));
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line<'a>(text: &'a str, start: &str) -> Option<&'a str> {
        text.lines().find(|l| l.starts_with(start))
    }

    #[tokio::test]
    async fn registries_count_apart() {
        let (a, b) = (Metrics::new(), Metrics::new());
        a.account("shop").refused(Reason::Signature);
        a.account("shop").refused(Reason::Signature);
        b.account("shop").refused(Reason::Method);
        let a = a.render().await;
        let b = b.render().await;
        assert_eq!(
            line(&a, "wechat_rejected_total{"),
            Some(r#"wechat_rejected_total{account="shop",reason="signature"} 2"#)
        );
        assert!(!b.contains(r#"reason="signature""#), "{b}");
    }

    #[tokio::test]
    async fn background_handlers_are_read_at_scrapes_once_per_limit() {
        let metrics = Metrics::new();
        let limit = Arc::new(Semaphore::new(4));
        metrics.watch_background(&limit, 4);
        metrics.watch_background(&limit, 4);
        let _one = limit.clone().try_acquire_owned().unwrap();
        let _two = limit.clone().try_acquire_owned().unwrap();
        let text = metrics.render().await;
        assert_eq!(
            line(&text, "wechat_background_handlers "),
            Some("wechat_background_handlers 2")
        );
    }

    #[tokio::test]
    async fn pending_replies_are_read_from_the_store() {
        let metrics = Metrics::new();
        let store: Arc<dyn PendingStore> = Arc::new(crate::pending::MemoryPending::new(
            1 << 20,
            Duration::from_secs(60),
        ));
        metrics.account("news").watch_pending(&store);
        store
            .queue(
                "o1".into(),
                vec![crate::Reply::text("a"), crate::Reply::text("b")],
            )
            .await;
        let text = metrics.render().await;
        assert_eq!(
            line(&text, "wechat_pending_replies{"),
            Some(r#"wechat_pending_replies{account="news"} 2"#)
        );
    }
}
