//! Redis for several instances of one bot (feature `redis`).
//!
//! Behind a load balancer, WeChat's retry of a push, a user's next
//! message or a replayed URL often reaches another instance than the
//! first. A [`RedisBackend`] — one connection to the Redis every instance
//! shares, made from `WECHAT_REDIS_URL` and `WECHAT_REDIS_PREFIX`
//! ([`RedisBackend::from_config`]) or in code ([`RedisBackend::builder`])
//! — carries the shared stores:
//!
//! - [`RedisDedup`]: the retry de-duplication ([`crate::dedup::DedupStore`]):
//!   a retry reaching another instance waits for the first try's outcome
//!   and answers the same reply; the tries and the fate are shared;
//! - [`RedisBindings`]: the replay-protection bindings
//!   ([`crate::replay::BindingStore`]), so a signed URL sent again with
//!   another body is refused whichever instance it reaches;
//! - [`RedisSessions`]: the users' [`Session`](crate::session::Session)s;
//! - [`RedisPending`]: the late replies waiting for their user's next
//!   push ([`crate::pending::PendingStore`]);
//! - `RedisTokens` (with the `api` feature): the WeChat API access token,
//!   refreshed by one instance at a time for all of them.
//!
//! [`WechatService`](crate::WechatService) wires all but the token by itself
//! when the config has a Redis URL (or when given a backend with
//! `ServiceBuilder::redis`).
//!
//! # Redis trouble never breaks the answer
//!
//! Every command is bounded: connecting by
//! [`RedisBackendBuilder::connect_timeout`], each command by
//! [`RedisBackendBuilder::timeout`] (defaults 1 s and 500 ms). When a
//! command fails for want of Redis — refused, dropped, timed out, loading
//! — or because Redis refuses writes — out of memory under `noeviction`
//! (`OOM`), a read-only replica (`READONLY`), a primary without its
//! replicas (`MASTERDOWN`, `NOREPLICAS`), a failed snapshot (`MISCONF`) —
//! the backend is **down**: one warning is logged for the outage (not one
//! per command), [`RedisStats::outages`] counts it, and every store answers
//! from its in-memory twin (the same store a single instance uses) without
//! asking Redis, each such answer counted in [`RedisStats::fallbacks`]. A
//! probe tries a write every [`RedisBackendBuilder::probe_interval`]
//! (default 1 s): a `SET PREFIX:probe … PX` — a `PING` is answered by a
//! Redis that refuses every write. Its first success ends the outage —
//! logged with its duration — and the stores use Redis again. What an
//! instance stored in memory during the outage stays its own: a binding
//! made then is not seen by the others, a session value written then is
//! not in Redis.
//!
//! A command that Redis refuses for another reason (a key of the wrong
//! type, a script error) is answered from memory, that one call only, and
//! logged — at most one such warning a minute, with the number of refusals
//! since the last.
//!
//! # Keys
//!
//! Every key starts with the prefix (default `wechat`) and the account
//! (the AppID, or `default` without one). Keys that one script touches
//! together share a Redis Cluster hash tag, the account's: a push's
//! `{PREFIX:ACCOUNT}:dedup:KEY`, its URL's `{PREFIX:ACCOUNT}:replay:…` and
//! its user's `{PREFIX:ACCOUNT}:pending:OPENID` (one script binds the URL,
//! claims the push and looks up the pending list: with the script that
//! answers it, a push answered in time costs two round trips), and
//! `{PREFIX:ACCOUNT}:token` with `{PREFIX:ACCOUNT}:token:lock`. Sessions,
//! one key a command, are `PREFIX:ACCOUNT:session:OPENID`. Every key has an
//! expiry. The connection is to one Redis node (a primary, or a proxy in
//! front of a cluster): the cluster client is not wired in. (Versions
//! before the tagged push keys used `PREFIX:ACCOUNT:dedup:KEY` and the
//! like: docs/redis.md says how to upgrade.)
//!
//! # Why its own thread
//!
//! The connection lives on a small runtime of its own (one thread,
//! `wechat-redis`): actix runs each worker on its own single-threaded
//! runtime, and a connection driven by one worker would stall while that
//! worker is busy and die with it. That runtime is dropped with the
//! backend, at exit: the writes no request waits for (a push's outcome, a
//! claim given up) are tracked, and [`RedisBackend::flush`] waits for them
//! — [`WechatService::drain`](crate::WechatService::drain) does, after the
//! handlers.

mod bindings;
mod dedup;
mod pending;
mod sessions;
#[cfg(feature = "api")]
mod token;

use std::fmt;
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use ::redis::aio::{ConnectionManager, ConnectionManagerConfig};
use ::redis::{ErrorKind, RedisError, RedisResult, ServerErrorKind};
use tokio_util::task::TaskTracker;

pub use bindings::RedisBindings;
pub use dedup::RedisDedup;
pub use pending::RedisPending;
pub use sessions::RedisSessions;
#[cfg(feature = "api")]
pub use token::RedisTokens;

use crate::config::{redact_url, Config, DEFAULT_REDIS_PREFIX};

/// Default bound on one command, from sending it to its answer.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_millis(500);
/// Default bound on connecting.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
/// Default time between two probes while Redis is down.
pub const DEFAULT_PROBE_INTERVAL: Duration = Duration::from_secs(1);
/// Shortest time between two warnings of refused commands (not outages).
const REFUSAL_WARNING_INTERVAL: Duration = Duration::from_secs(60);
/// The error codes with which Redis refuses writes while it answers reads:
/// each starts an outage, as a lost connection does.
const REFUSING_WRITES: [&str; 5] = ["OOM", "READONLY", "MASTERDOWN", "NOREPLICAS", "MISCONF"];

/// Why a [`RedisBackend`] could not be made. Nothing here needs Redis to
/// be up: a backend is made without connecting.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BackendError {
    /// The URL is not one this build can use.
    #[error("{url} is not a Redis URL this build can use")]
    Url {
        /// The URL, its password replaced by `***`.
        url: String,
        /// What the Redis client said.
        #[source]
        source: RedisError,
    },
    /// A setting is out of range.
    #[error("Redis setting {name}: {reason}")]
    Setting {
        /// The builder method.
        name: &'static str,
        /// What is wrong.
        reason: &'static str,
    },
    /// The connection's thread could not be started.
    #[error("cannot start the Redis connection's thread")]
    Runtime(#[source] std::io::Error),
}

/// How the backend has fared; see [`RedisBackend::stats`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct RedisStats {
    /// Whether the stores use Redis now (`false` during an outage).
    pub up: bool,
    /// How many outages began since the backend was made.
    pub outages: u64,
    /// How many store calls were answered from memory because of Redis
    /// (during outages, and single failed commands).
    pub fallbacks: u64,
    /// How long the current outage has lasted, during one.
    pub down_for: Option<Duration>,
    /// How long the last finished outage lasted.
    pub last_outage: Option<Duration>,
}

/// Sets up a [`RedisBackend`]; see [`RedisBackend::builder`].
#[derive(Clone)]
#[must_use = "a builder does nothing until `build` is called"]
pub struct RedisBackendBuilder {
    url: String,
    prefix: String,
    timeout: Duration,
    connect_timeout: Duration,
    probe_interval: Duration,
}

impl fmt::Debug for RedisBackendBuilder {
    // The URL without its password.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisBackendBuilder")
            .field("url", &redact_url(&self.url))
            .field("prefix", &self.prefix)
            .field("timeout", &self.timeout)
            .field("connect_timeout", &self.connect_timeout)
            .field("probe_interval", &self.probe_interval)
            .finish()
    }
}

impl RedisBackendBuilder {
    /// The first part of every key (default `wechat`; see
    /// [`ConfigBuilder::redis_prefix`](crate::config::ConfigBuilder::redis_prefix)).
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }
    /// The bound on one command, from sending it to its answer (default
    /// 500 ms). A command that takes longer starts an outage.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }
    /// The bound on connecting (default 1 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }
    /// How often the probe tries a write during an outage (default 1 s).
    pub fn probe_interval(mut self, interval: Duration) -> Self {
        self.probe_interval = interval;
        self
    }

    /// Checks the settings and makes the backend, without connecting: the
    /// first command connects (and an unreachable Redis starts an outage
    /// then, not an error here).
    ///
    /// ```
    /// use wechat_events::redis::RedisBackend;
    /// let backend = RedisBackend::builder("redis://127.0.0.1:6379").prefix("shop").build().unwrap();
    /// assert_eq!(backend.key("wx1", "session", "oUser"), "shop:wx1:session:oUser");
    /// assert!(RedisBackend::builder("http://127.0.0.1").build().is_err());
    /// ```
    pub fn build(self) -> Result<RedisBackend, BackendError> {
        let target = redact_url(&self.url);
        let client =
            ::redis::Client::open(self.url.as_str()).map_err(|source| BackendError::Url {
                url: target.clone(),
                source,
            })?;
        let setting = |name, reason| Err(BackendError::Setting { name, reason });
        let prefix = self.prefix.trim().to_owned();
        if prefix.is_empty() || prefix.contains(['{', '}']) || prefix.contains(char::is_whitespace)
        {
            return setting("prefix", "must be non-empty, without spaces or braces");
        }
        if self.timeout.is_zero() || self.connect_timeout.is_zero() {
            return setting("timeout", "time-outs must be longer than zero");
        }
        if self.probe_interval.is_zero() {
            return setting("probe_interval", "must be longer than zero");
        }
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("wechat-redis")
            .enable_all()
            .build()
            .map_err(BackendError::Runtime)?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(self.connect_timeout))
            .set_response_timeout(Some(self.timeout))
            // Reconnecting is the probe's business: one quick try per
            // command, not a back-off that holds commands up.
            .set_number_of_retries(0)
            .set_min_delay(Duration::from_millis(10))
            .set_max_delay(Duration::from_millis(100));
        let conn = {
            // The manager spawns its tasks where it is made.
            let _entered = runtime.enter();
            client
                .get_connection_manager_lazy(config)
                .map_err(|source| BackendError::Url {
                    url: target.clone(),
                    source,
                })?
        };
        // Closed from the start: `flush` waits until it is empty, and
        // several flushes (services sharing the backend) may wait at once.
        let writes = TaskTracker::new();
        writes.close();
        Ok(RedisBackend {
            shared: Arc::new(Shared {
                writes,
                probe_key: format!("{prefix}:probe"),
                prefix,
                target,
                timeout: self.timeout,
                probe_interval: self.probe_interval,
                conn,
                runtime: OwnedRuntime(Some(runtime)),
                up: AtomicBool::new(true),
                down_since: Mutex::new(None),
                last_outage: Mutex::new(None),
                outages: AtomicU64::new(0),
                fallbacks: AtomicU64::new(0),
                refusals: Mutex::new(Refusals::default()),
            }),
        })
    }
}

/// One connection to the Redis every instance shares, with its health;
/// see the [module docs](self). Cheap to clone: clones share the
/// connection, the health and the counters.
#[derive(Clone)]
pub struct RedisBackend {
    shared: Arc<Shared>,
}

struct Shared {
    prefix: String,
    /// The key the probe writes: `PREFIX:probe`.
    probe_key: String,
    /// The URL without its password.
    target: String,
    timeout: Duration,
    probe_interval: Duration,
    conn: ConnectionManager,
    runtime: OwnedRuntime,
    /// The writes nobody awaits (a push's outcome, an abandoned claim),
    /// for [`RedisBackend::flush`]. Always closed.
    writes: TaskTracker,
    up: AtomicBool,
    down_since: Mutex<Option<Instant>>,
    last_outage: Mutex<Option<Duration>>,
    outages: AtomicU64,
    fallbacks: AtomicU64,
    refusals: Mutex<Refusals>,
}

/// Refused commands (not outages) since the last warning about them.
#[derive(Default)]
struct Refusals {
    last_warning: Option<Instant>,
    unreported: u64,
}

/// A runtime that may be dropped anywhere, an async context included.
struct OwnedRuntime(Option<tokio::runtime::Runtime>);

impl OwnedRuntime {
    fn handle(&self) -> &tokio::runtime::Handle {
        self.0.as_ref().expect("taken only in drop").handle()
    }
}

impl Drop for OwnedRuntime {
    fn drop(&mut self) {
        if let Some(runtime) = self.0.take() {
            runtime.shutdown_background();
        }
    }
}

impl fmt::Debug for RedisBackend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisBackend")
            .field("url", &self.shared.target)
            .field("prefix", &self.shared.prefix)
            .field("stats", &self.stats())
            .finish()
    }
}

/// Why one command failed.
#[derive(Debug, thiserror::Error)]
enum Failure {
    #[error(transparent)]
    Redis(#[from] RedisError),
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    #[error("the Redis task failed: {0}")]
    Task(String),
}

impl Failure {
    /// Whether the failure means Redis cannot be used (rather than that
    /// it refused this one command).
    fn is_outage(&self) -> bool {
        match self {
            Failure::Timeout(_) | Failure::Task(_) => true,
            Failure::Redis(e) => {
                e.is_io_error()
                    || e.is_unrecoverable_error()
                    || e.is_cluster_error()
                    || matches!(
                        e.kind(),
                        ErrorKind::AuthenticationFailed
                            | ErrorKind::ClusterConnectionNotFound
                            | ErrorKind::Server(
                                ServerErrorKind::BusyLoading
                                    | ServerErrorKind::MasterDown
                                    | ServerErrorKind::ReadOnly
                                    | ServerErrorKind::NoPerm
                            )
                    )
                    || refuses_writes(e).is_some()
            }
        }
    }

    /// What the warning calls the outage.
    fn outage_message(&self) -> &'static str {
        match self {
            Failure::Redis(e) if refuses_writes(e).is_some() => {
                "Redis refuses writes: the stores use memory until it accepts them again"
            }
            _ => "Redis is unreachable: the stores use memory until it is back",
        }
    }
}

/// The code of `e` when it says that Redis refuses writes (see
/// [`REFUSING_WRITES`]): as the command's own error, one of a pipeline's,
/// or, on Redis before 7, inside a script's `ERR Error running script`.
fn refuses_writes(e: &RedisError) -> Option<&'static str> {
    let listed = |code: &str| REFUSING_WRITES.iter().copied().find(|c| *c == code);
    if let Some(code) = e.code().and_then(listed) {
        return Some(code);
    }
    let from_script = |detail: &str| {
        REFUSING_WRITES.iter().copied().find(|c| {
            detail.match_indices(c).any(|(at, _)| {
                let bytes = detail.as_bytes();
                at > 0
                    && bytes[at - 1] == b'-'
                    && bytes
                        .get(at + c.len())
                        .is_none_or(|b| b.is_ascii_whitespace())
            })
        })
    };
    if e.code() == Some("ERR") {
        if let Some(code) = e.detail().and_then(from_script) {
            return Some(code);
        }
    }
    e.clone()
        .into_server_errors()
        .and_then(|errors| errors.iter().find_map(|(_, err)| listed(err.code())))
}

impl RedisBackend {
    /// Whether `other` is a clone of this backend (the same connection).
    #[cfg(feature = "metrics")]
    pub(crate) fn same(&self, other: &RedisBackend) -> bool {
        Arc::ptr_eq(&self.shared, &other.shared)
    }

    /// A builder for the Redis at `url` (`redis://[:password@]host:port[/db]`,
    /// `unix:///path/to/redis.sock`).
    pub fn builder(url: impl Into<String>) -> RedisBackendBuilder {
        RedisBackendBuilder {
            url: url.into(),
            prefix: DEFAULT_REDIS_PREFIX.to_owned(),
            timeout: DEFAULT_TIMEOUT,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            probe_interval: DEFAULT_PROBE_INTERVAL,
        }
    }

    /// The backend `config` asks for (`WECHAT_REDIS_URL`,
    /// `WECHAT_REDIS_PREFIX`), with the default time-outs; `None` without
    /// a URL.
    pub fn from_config(config: &Config) -> Option<Result<RedisBackend, BackendError>> {
        let url = config.redis_url()?;
        Some(Self::builder(url).prefix(config.redis_prefix()).build())
    }

    /// The key prefix.
    pub fn prefix(&self) -> &str {
        &self.shared.prefix
    }

    /// The key of item `id` of kind `kind` (`replay`, `session`, ...) for
    /// `account`: `PREFIX:ACCOUNT:KIND:ID`. Braces in the account are
    /// replaced by `_` (they would make a Redis Cluster hash tag).
    pub fn key(&self, account: &str, kind: &str, id: &str) -> String {
        format!("{}:{}:{kind}:{id}", self.shared.prefix, clean(account))
    }

    /// The key of item `id` of kind `kind` (`dedup`, `replay`, `pending`)
    /// for `account` under the account's hash tag:
    /// `{PREFIX:ACCOUNT}:KIND:ID` (see [`RedisBackend::tagged_key`]).
    ///
    /// ```
    /// use wechat_events::redis::RedisBackend;
    /// let backend = RedisBackend::builder("redis://127.0.0.1:6379").prefix("shop").build().unwrap();
    /// assert_eq!(backend.tagged("wx1", "dedup", "m|1"), "{shop:wx1}:dedup:m|1");
    /// ```
    pub fn tagged(&self, account: &str, kind: &str, id: &str) -> String {
        format!("{{{}:{}}}:{kind}:{id}", self.shared.prefix, clean(account))
    }

    /// The key `{PREFIX:ACCOUNT}:NAME`: keys made with the same account
    /// share a Redis Cluster hash tag, so one script may touch several.
    pub fn tagged_key(&self, account: &str, name: &str) -> String {
        format!("{{{}:{}}}:{name}", self.shared.prefix, clean(account))
    }

    /// The health and counters: whether the stores use Redis now, the
    /// outages so far, the calls answered from memory.
    pub fn stats(&self) -> RedisStats {
        let s = &self.shared;
        RedisStats {
            up: s.up.load(Ordering::SeqCst),
            outages: s.outages.load(Ordering::SeqCst),
            fallbacks: s.fallbacks.load(Ordering::SeqCst),
            down_for: lock(&s.down_since).map(|since| since.elapsed()),
            last_outage: *lock(&s.last_outage),
        }
    }

    /// Pings Redis now, whatever the health says (and without changing
    /// it): for readiness checks and tests.
    pub async fn ping(&self) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        let shared = self.shared.clone();
        shared.clone().exec(ping).await.map_err(Into::into)
    }

    /// Spawns `task` on the backend's runtime.
    pub(crate) fn spawn<F>(&self, task: F) -> tokio::task::JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.shared.runtime.handle().spawn(task)
    }

    /// Spawns `write` on the backend's runtime, tracked: a write the caller
    /// does not await (a push's outcome, an abandoned claim), which
    /// [`RedisBackend::flush`] waits for.
    pub(crate) fn spawn_write<F>(&self, write: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        self.shared
            .writes
            .spawn_on(write, self.shared.runtime.handle());
    }

    /// Waits, up to `within`, until every write this backend's stores
    /// started without awaiting it — a push's outcome, a claim given up —
    /// has been answered by Redis or has failed (each is bounded by the
    /// command time-out). `true` when none is left. For a shutdown, after
    /// the handlers finished
    /// ([`WechatService::drain`](crate::WechatService::drain) calls it):
    /// the backend's runtime is dropped at exit, and a write still on it
    /// would be lost — a retry reaching another instance would then not
    /// find the outcome, and run the handler again once the claim's lease
    /// ran out.
    ///
    /// ```
    /// use std::time::Duration;
    /// use wechat_events::redis::RedisBackend;
    /// # actix_rt::System::new().block_on(async {
    /// let backend = RedisBackend::builder("redis://127.0.0.1:6379").build().unwrap();
    /// assert!(backend.flush(Duration::from_millis(10)).await, "nothing written yet");
    /// # });
    /// ```
    pub async fn flush(&self, within: Duration) -> bool {
        let writes = &self.shared.writes;
        if tokio::time::timeout(within, writes.wait()).await.is_ok() {
            return true;
        }
        tracing::warn!(
            target: "wechat_events::redis",
            redis = %self.shared.target,
            writes = writes.len(),
            within_ms = within.as_millis() as u64,
            "Redis writes still unanswered when the wait for them ended; they may be lost at exit"
        );
        false
    }

    /// Runs one command on the backend's runtime, bounded by its time-out.
    /// `None` when Redis is down (or the command failed): the caller
    /// answers from its in-memory store.
    pub(crate) async fn run<T, F, Fut>(&self, op: &'static str, command: F) -> Option<T>
    where
        T: Send + 'static,
        F: FnOnce(ConnectionManager) -> Fut + Send + 'static,
        Fut: Future<Output = RedisResult<T>> + Send + 'static,
    {
        let s = &self.shared;
        if !s.up.load(Ordering::SeqCst) {
            s.fallbacks.fetch_add(1, Ordering::SeqCst);
            return None;
        }
        match s.clone().exec(command).await {
            Ok(value) => Some(value),
            Err(failure) => {
                s.fallbacks.fetch_add(1, Ordering::SeqCst);
                if failure.is_outage() {
                    Shared::went_down(s, op, &failure);
                } else {
                    s.refused(op, &failure);
                }
                None
            }
        }
    }
}

async fn ping(mut conn: ConnectionManager) -> RedisResult<()> {
    ::redis::cmd("PING").query_async::<()>(&mut conn).await
}

/// The probe's write: `SET key 1 PX ttl`, refused like any other write
/// while Redis refuses writes.
async fn probe_write(mut conn: ConnectionManager, key: String, ttl: u64) -> RedisResult<()> {
    ::redis::cmd("SET")
        .arg(key)
        .arg(1)
        .arg("PX")
        .arg(ttl)
        .query_async::<()>(&mut conn)
        .await
}

impl Shared {
    async fn exec<T, F, Fut>(self: Arc<Self>, command: F) -> Result<T, Failure>
    where
        T: Send + 'static,
        F: FnOnce(ConnectionManager) -> Fut + Send + 'static,
        Fut: Future<Output = RedisResult<T>> + Send + 'static,
    {
        let conn = self.conn.clone();
        let timeout = self.timeout;
        let task = self
            .runtime
            .handle()
            .spawn(async move { tokio::time::timeout(timeout, command(conn)).await });
        match task.await {
            Ok(Ok(result)) => result.map_err(Failure::Redis),
            Ok(Err(_)) => Err(Failure::Timeout(timeout)),
            Err(e) => Err(Failure::Task(e.to_string())),
        }
    }

    /// Starts an outage, unless one is on: logs it, counts it, starts the probe.
    fn went_down(this: &Arc<Self>, op: &'static str, failure: &Failure) {
        if !this.up.swap(false, Ordering::SeqCst) {
            return;
        }
        *lock(&this.down_since) = Some(Instant::now());
        let outage = this.outages.fetch_add(1, Ordering::SeqCst) + 1;
        tracing::warn!(
            target: "wechat_events::redis",
            redis = %this.target,
            op,
            outage,
            error = %failure,
            "{}",
            failure.outage_message()
        );
        this.runtime.handle().spawn(probe(Arc::downgrade(this)));
    }

    /// Counts a command refused for its own sake (not an outage), and
    /// warns about it unless a warning went out less than
    /// [`REFUSAL_WARNING_INTERVAL`] ago.
    fn refused(&self, op: &'static str, failure: &Failure) {
        let mut refusals = lock(&self.refusals);
        refusals.unreported += 1;
        let now = Instant::now();
        if refusals
            .last_warning
            .is_some_and(|at| now.duration_since(at) < REFUSAL_WARNING_INTERVAL)
        {
            return;
        }
        let refused = std::mem::take(&mut refusals.unreported);
        refusals.last_warning = Some(now);
        drop(refusals);
        tracing::warn!(
            target: "wechat_events::redis",
            redis = %self.target,
            op,
            refused,
            error = %failure,
            "Redis refused a command; answered from memory (refused: the commands refused since the last such warning)"
        );
    }
}

/// Tries a write every `probe_interval` until Redis takes one, then ends
/// the outage.
async fn probe(shared: Weak<Shared>) {
    loop {
        let Some(interval) = shared.upgrade().map(|s| s.probe_interval) else {
            return;
        };
        tokio::time::sleep(interval).await;
        let Some(this) = shared.upgrade() else {
            return;
        };
        let (key, ttl) = (
            this.probe_key.clone(),
            millis(interval.max(Duration::from_secs(1))),
        );
        let write = move |conn| probe_write(conn, key, ttl);
        if this.clone().exec(write).await.is_ok() {
            let lasted = lock(&this.down_since)
                .take()
                .map(|since| since.elapsed())
                .unwrap_or_default();
            *lock(&this.last_outage) = Some(lasted);
            // Logged first: whoever sees the backend up finds the line.
            tracing::warn!(
                target: "wechat_events::redis",
                redis = %this.target,
                outage_ms = lasted.as_millis() as u64,
                "Redis is back after {lasted:.1?}: the stores use it again"
            );
            this.up.store(true, Ordering::SeqCst);
            return;
        }
    }
}

fn clean(account: &str) -> String {
    account.replace(['{', '}'], "_")
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The account the service's keys are filed under: the AppID, or
/// `default`.
/// Milliseconds for `PX`/`PEXPIRE`, at least 1.
pub(crate) fn millis(d: Duration) -> u64 {
    (d.as_millis() as u64).max(1)
}

type Bindings = Option<Arc<dyn crate::replay::BindingStore>>;
type Sessions = Option<Arc<dyn crate::session::SessionStore>>;

/// The service's binding and session stores: those it was given, else,
/// with a backend, the Redis ones (logged), else none (the service makes
/// its in-memory defaults). The Redis bindings made here, if any, come
/// third: the service's Redis dedup store binds with its claims in them.
pub(crate) fn shared_stores(
    backend: Option<&RedisBackend>,
    config: &Config,
    bindings: Bindings,
    sessions: Sessions,
) -> (Bindings, Sessions, Option<RedisBindings>) {
    let Some(backend) = backend else {
        return (bindings, sessions, None);
    };
    let account = config.store_account();
    tracing::info!(
        target: "wechat_events::redis",
        redis = %backend.shared.target,
        prefix = backend.prefix(),
        account,
        "sharing replay bindings and sessions through Redis"
    );
    let made = match (&bindings, config.replay_window()) {
        (None, Some(window)) => Some(RedisBindings::new(
            backend,
            account,
            config.binding_capacity(),
            window,
        )),
        _ => None,
    };
    let bindings = bindings.or_else(|| {
        let store = made.clone()?;
        Some(Arc::new(store) as Arc<dyn crate::replay::BindingStore>)
    });
    let sessions = sessions.unwrap_or_else(|| {
        Arc::new(RedisSessions::new(
            backend,
            account,
            crate::session::DEFAULT_SESSION_CAPACITY,
            config.session_ttl(),
        ))
    });
    (bindings, Some(sessions), made)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server(code: &str, detail: &str) -> Failure {
        Failure::Redis(::redis::make_extension_error(
            code.to_owned(),
            Some(detail.to_owned()),
        ))
    }

    #[test]
    fn redis_refusing_writes_is_an_outage_and_other_refusals_are_not() {
        for code in ["OOM", "MISCONF", "NOREPLICAS"] {
            let failure = server(code, "command not allowed");
            assert!(failure.is_outage(), "{code}");
            assert!(
                failure.outage_message().contains("refuses writes"),
                "{code}"
            );
        }
        let readonly = Failure::Redis(RedisError::from((
            ErrorKind::Server(ServerErrorKind::ReadOnly),
            "You can't write against a read only replica.",
        )));
        assert!(readonly.is_outage());
        assert!(readonly.outage_message().contains("refuses writes"));
        // Redis 6 wraps a script's refused write in ERR.
        let wrapped = server(
            "ERR",
            "Error running script (call to f_1): @user_script:3: -OOM command not allowed when used memory > 'maxmemory'",
        );
        assert!(wrapped.is_outage());
        for (code, detail) in [
            (
                "WRONGTYPE",
                "Operation against a key holding the wrong kind of value",
            ),
            (
                "ERR",
                "Error running script: user_script:1: attempt to compare nil with number",
            ),
            ("ERR", "unknown command 'OOMPH'"),
            ("ERR", "Error running script: @user_script:1: -OOMPH"),
        ] {
            assert!(!server(code, detail).is_outage(), "{code} {detail}");
        }
        assert!(Failure::Timeout(Duration::from_millis(1)).is_outage());
        assert!(Failure::Timeout(Duration::from_millis(1))
            .outage_message()
            .contains("unreachable"));
    }

    #[test]
    fn the_builder_shows_no_password() {
        let builder = RedisBackend::builder("redis://app:hunter2@127.0.0.1:6379");
        assert!(!format!("{builder:?}").contains("hunter2"), "{builder:?}");
        let backend = RedisBackend::builder("unix:///run/redis.sock?pass=hunter2")
            .build()
            .unwrap();
        assert!(!format!("{backend:?}").contains("hunter2"), "{backend:?}");
        let err = RedisBackend::builder("redis://:hunter2@h:99999")
            .build()
            .unwrap_err();
        assert!(!format!("{err} {err:?}").contains("hunter2"), "{err:?}");
    }
}
