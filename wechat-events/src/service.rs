//! The actix-web service: the only module that knows about HTTP.
//!
//! A push walks one corridor: verify the query's signature → read the body
//! (bounded) → decrypt when encrypted → parse → de-duplicate → dispatch
//! under the deadline → render → encrypt when the push was → answer. Every
//! rejection is a [`PushError`], mapped to its status in exactly one place
//! ([`PushError::status`]) and logged once; a rejected request never
//! reaches a handler.

use std::any::{type_name, Any};
use std::fmt;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::{AppService, HttpServiceFactory};
use actix_web::error::PayloadError;
use actix_web::http::{header, StatusCode, Version};
use actix_web::{web, HttpMessage, HttpRequest, HttpResponse};
use futures_util::StreamExt;
use tokio::sync::Semaphore;
use tokio::time::Instant;
use tracing::Instrument;

#[cfg(feature = "api")]
use crate::api::{ApiClient, ApiError};
use crate::config::{Config, Crypto, Keys};
use crate::crypto::{self, AesKey, CryptoError};
use crate::dedup::{dedup_key, DedupStore, MemoryStore, Outcome};
use crate::handler::{panic_message, Context, ExtractError, FromPush, Parts};
use crate::lifecycle::{by_deadline, ErrorChain, Job, Late, LateHook, Lifecycle};
pub use crate::lifecycle::{LateReply, LifecycleStats};
use crate::observe::{Observer, Reason, Refused, TryRecord, BODY_HEAD};
use crate::panics;
use crate::pending::{MemoryPending, PendingStore, DEFAULT_MAX_BYTES};
use crate::push::{parse, ParseError, Push};
use crate::query::{QueryError, QueryRef};
use crate::replay::{self, BindingStore, MemoryBindings, ReplayError};
use crate::router::{Router, RouterError, Routes};
use crate::session::{MemorySessions, Session, SessionStore, DEFAULT_SESSION_CAPACITY};
use crate::signature::{fresh_nonce, unix_now};
use crate::xml::XmlError;

/// Why a request was refused. Each is logged once and answered with
/// [`PushError::status`] and a short plain-text reason.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PushError {
    /// Missing or malformed query parameters.
    #[error(transparent)]
    Query(#[from] QueryError),
    /// `signature` does not match the token.
    #[error("signature mismatch")]
    Signature,
    /// A stale `timestamp`, or a signed URL replayed with another body.
    #[error(transparent)]
    Replay(#[from] ReplayError),
    /// The body is larger than the configured limit.
    #[error("body larger than {limit} bytes")]
    TooLarge {
        /// The configured limit.
        limit: usize,
    },
    /// The body could not be read.
    #[error("could not read body: {0}")]
    Body(#[source] PayloadError),
    /// The body did not arrive before the deadline.
    #[error("body not received within {0:?}")]
    BodyTimeout(Duration),
    /// The body is not a WeChat push.
    #[error(transparent)]
    Parse(#[from] ParseError),
    /// Secure mode received a plaintext push.
    #[error("plaintext push refused in secure mode")]
    PlaintextRefused,
    /// Decryption or `msg_signature` failed (official code in the log).
    #[error("{0} (code {code})", code = .0.code())]
    Crypto(#[from] CryptoError),
    /// A third-party platform's push for an account that has not
    /// authorized it (the AppID in its path).
    #[error("account {0:?} has not authorized this third-party platform")]
    NotAuthorized(String),
    /// A third-party platform's push whose `ToUserName` is not the
    /// account its path names (`msg_signature` does not cover the path).
    #[error("the push is addressed to another account than its path names")]
    WrongAccount,
}

impl PushError {
    /// The HTTP status this error is answered with.
    pub fn status(&self) -> StatusCode {
        match self {
            PushError::Signature
            | PushError::Replay(_)
            | PushError::NotAuthorized(_)
            | PushError::WrongAccount => StatusCode::FORBIDDEN,
            PushError::Crypto(
                CryptoError::InvalidSignature | CryptoError::AppIdMismatch { .. },
            ) => StatusCode::FORBIDDEN,
            PushError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            PushError::BodyTimeout(_) => StatusCode::REQUEST_TIMEOUT,
            PushError::Query(_)
            | PushError::Body(_)
            | PushError::Parse(_)
            | PushError::PlaintextRefused
            | PushError::Crypto(_) => StatusCode::BAD_REQUEST,
        }
    }

    /// The refusal's reason, as the metrics and the inspector name it.
    pub(crate) fn reason(&self) -> Reason {
        match self {
            PushError::Signature | PushError::Crypto(CryptoError::InvalidSignature) => {
                Reason::Signature
            }
            PushError::Replay(ReplayError::Stale { .. }) => Reason::Timestamp,
            PushError::Replay(_) => Reason::Replay,
            PushError::TooLarge { .. } => Reason::TooLarge,
            PushError::BodyTimeout(_) => Reason::Timeout,
            PushError::PlaintextRefused => Reason::Mode,
            PushError::Crypto(CryptoError::AppIdMismatch { .. })
            | PushError::NotAuthorized(_)
            | PushError::WrongAccount => Reason::Appid,
            PushError::Crypto(_) => Reason::Decrypt,
            PushError::Query(_) | PushError::Body(_) | PushError::Parse(_) => Reason::BadRequest,
        }
    }

    /// Logs the refusal, tells `observer` (with the body's head, when it
    /// was read) and answers it.
    pub(crate) fn refuse(
        &self,
        req: &HttpRequest,
        observer: &Observer,
        body_head: Option<&[u8]>,
    ) -> HttpResponse {
        let status = self.status();
        let code = match self {
            PushError::Crypto(e) => Some(e.code()),
            _ => None,
        };
        tracing::warn!(
            status = status.as_u16(),
            code,
            peer = ?req.peer_addr(),
            path = req.path(),
            error = %ErrorChain(self),
            "rejected request"
        );
        let error = self.to_string();
        tell_refused(observer, req, self.reason(), status, &error, body_head);
        HttpResponse::build(status)
            .insert_header((header::CONTENT_TYPE, text_plain()))
            .body(error)
    }
}

/// Tells `observer` that `req` was refused for `reason`, answered `status`
/// with `error`.
pub(crate) fn tell_refused(
    observer: &Observer,
    req: &HttpRequest,
    reason: Reason,
    status: StatusCode,
    error: &str,
    body_head: Option<&[u8]>,
) {
    observer.refused(&Refused {
        reason,
        status: status.as_u16(),
        error,
        method: req.method().as_str(),
        path: req.path(),
        body_head,
    });
}

/// Refuses `req`'s method (logged, told to `observer`): 405 naming the
/// methods `allow`ed, with `hint` as its text.
pub(crate) fn refuse_method(
    req: &HttpRequest,
    observer: Option<&Observer>,
    allow: &'static str,
    hint: &'static str,
) -> HttpResponse {
    tracing::warn!(method = %req.method(), path = req.path(), "rejected request: method not allowed");
    if let Some(observer) = observer {
        let status = StatusCode::METHOD_NOT_ALLOWED;
        tell_refused(
            observer,
            req,
            Reason::Method,
            status,
            "method not allowed",
            None,
        );
    }
    HttpResponse::MethodNotAllowed()
        .insert_header((header::ALLOW, allow))
        .insert_header((header::CONTENT_TYPE, text_plain()))
        .body(hint)
}

/// Why the service could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// The routes are inconsistent.
    #[error(transparent)]
    Router(#[from] RouterError),
    /// The Redis backend of `WECHAT_REDIS_URL` could not be made.
    #[cfg(feature = "redis")]
    #[error(transparent)]
    Redis(#[from] crate::redis::BackendError),
    /// The WeChat API client (for `WECHAT_APPSECRET`) could not be built.
    #[cfg(feature = "api")]
    #[error("the WeChat API client: {0}")]
    Api(#[from] ApiError),
    /// [`ServiceBuilder::only`] selected no handler at all: the service
    /// would answer `success` to every push.
    #[error(
        "the service was told to serve only the routes given (ServiceBuilder::only), and they \
         are none: it would answer `success` to every push. Add routes with Router::on, \
         Router::handler, registered_in or registered_tagged"
    )]
    NoRoutes,
    /// The state directory (`WECHAT_STATE_DIR`) could not be used.
    #[cfg(feature = "state")]
    #[error(transparent)]
    State(#[from] crate::state::StateError),
    /// Routes were given for an account that is not configured.
    #[error(
        "{what} names account {account:?}, which is not configured; the accounts are {}",
        configured.iter().map(|n| format!("{n:?}")).collect::<Vec<_>>().join(", ")
    )]
    UnknownAccount {
        /// What named it.
        what: String,
        /// The account it named.
        account: String,
        /// The accounts configured.
        configured: Vec<String>,
    },
    /// One account's service could not be built
    /// ([`WechatAccounts`](crate::accounts::WechatAccounts)).
    #[error("account {account:?}: {error}")]
    Account {
        /// The account's name.
        account: String,
        /// Why.
        #[source]
        error: Box<BuildError>,
    },
}

/// The WeChat push endpoint, mounted with `App::service`.
///
/// Build it once and clone it into each worker's `App`, so every worker
/// shares one de-duplication store.
///
/// ```no_run
/// use actix_web::{App, HttpServer};
/// use wechat_events::{Config, Router, TextMessage, WechatService};
///
/// async fn echo(msg: TextMessage) -> String {
///     format!("收到:{}", msg.content)
/// }
///
/// #[actix_web::main]
/// async fn main() -> std::io::Result<()> {
///     let config = Config::from_env().expect("config");
///     let service = WechatService::new(config, Router::new().on(echo)).expect("routes");
///     HttpServer::new(move || App::new().service(service.clone()))
///         .bind(("127.0.0.1", 8080))?
///         .run()
///         .await
/// }
/// ```
#[derive(Clone)]
pub struct WechatService {
    inner: Arc<Inner>,
}

struct Inner {
    config: Config,
    /// The config's name, lent to every push's [`Context`].
    name: Arc<str>,
    /// For an authorizer of a third-party platform: its AppID (lent to
    /// every push's [`Context`]) and its `gh_` id, which every push's
    /// `ToUserName` must be.
    authorizer: Option<(Arc<str>, Option<String>)>,
    routes: Routes,
    sessions: Arc<dyn SessionStore>,
    #[cfg(feature = "redis")]
    redis: Option<crate::redis::RedisBackend>,
    /// For handlers (the `ApiClient` extractor).
    #[cfg(feature = "api")]
    api: Option<ApiClient>,
    /// Claims, tries, deadlines, the fate of replies: everything between
    /// "accepted" and "answered".
    lifecycle: Arc<Lifecycle>,
    /// Where refusals and answered tries are told (metrics, inspector).
    observer: Observer,
}

/// Builder for [`WechatService`].
pub struct ServiceBuilder {
    config: Config,
    router: Router,
    scoped: bool,
    dedup: Option<Arc<dyn DedupStore>>,
    bindings: Option<Arc<dyn BindingStore>>,
    sessions: Option<Arc<dyn SessionStore>>,
    #[cfg(feature = "redis")]
    redis: Option<crate::redis::RedisBackend>,
    pending: Option<Arc<dyn PendingStore>>,
    late_hook: Option<LateHook>,
    #[cfg(feature = "api")]
    api: Option<ApiClient>,
    /// The places of handlers running past their deadline, when several
    /// accounts' services share one limit.
    background: Option<Arc<Semaphore>>,
    /// See [`Inner::authorizer`].
    authorizer: Option<(Arc<str>, Option<String>)>,
    /// The account's menu, checked against the routes at build.
    #[cfg(feature = "api")]
    menu: Option<crate::api::menu::Menu>,
    /// Where the service's pushes are counted.
    #[cfg(feature = "metrics")]
    metrics: Option<crate::metrics::Metrics>,
    /// Where the service's pushes are shown, and how the service is
    /// made known there (see `ServiceBuilder::inspector`, in
    /// `crate::inspector`).
    #[cfg(feature = "inspector")]
    inspector: Option<(Arc<dyn crate::observe::Inspect>, Attach)>,
}

/// Hands a built service to whoever shows its pushes.
#[cfg(feature = "inspector")]
pub(crate) type Attach = Arc<dyn Fn(WeakService) + Send + Sync>;

impl ServiceBuilder {
    /// Adds routes (may be called several times). Without
    /// [`ServiceBuilder::only`], the service also has every untagged
    /// attribute handler in the binary.
    pub fn router(mut self, router: Router) -> Self {
        self.router = self.router.merge(router);
        self
    }

    /// Serves exactly `router`'s routes (plus any added with
    /// [`ServiceBuilder::router`]): attribute handlers are included only
    /// where `router` names them — one by one ([`Router::handler`]), by
    /// module ([`Router::registered_in`]) or by tag
    /// ([`Router::registered_tagged`]). For several services (accounts)
    /// in one binary, and for tests that must not pick up the binary's
    /// other handlers.
    ///
    /// ```
    /// use wechat_events::{on_text, Config, Router, TextMessage, WechatService};
    ///
    /// #[on_text(keyword = "价格", tag = "shop")]
    /// async fn price(_: TextMessage) -> &'static str { "9.9" }
    ///
    /// #[on_text(keyword = "帮助")]
    /// async fn help(_: TextMessage) -> &'static str { "..." }
    ///
    /// let shop = WechatService::builder(Config::builder("shoptoken").path("/shop").build().unwrap())
    ///     .only(Router::new().registered_tagged("shop"))
    ///     .build()
    ///     .unwrap();
    /// assert_eq!(shop.routes().len(), 1); // `help` is not served here
    /// ```
    pub fn only(mut self, router: Router) -> Self {
        self.scoped = true;
        self.router = self.router.merge(router);
        self
    }

    /// Replaces the in-memory de-duplication store (e.g. with a shared one).
    pub fn dedup_store(mut self, store: impl DedupStore) -> Self {
        self.dedup = Some(Arc::new(store));
        self
    }

    /// Replaces the in-memory replay-binding store (see [`crate::replay`]),
    /// e.g. with one every instance shares. Share the de-duplication store
    /// as widely as the bindings: a binding another instance made says "seen
    /// before", and a push this instance's store has never seen is then
    /// refused as a forgotten replay (a retry reaching another instance
    /// would be refused).
    pub fn binding_store(mut self, store: impl BindingStore) -> Self {
        self.bindings = Some(Arc::new(store));
        self
    }

    /// Replaces the in-memory session store (see [`crate::session`]).
    pub fn session_store(mut self, store: impl SessionStore) -> Self {
        self.sessions = Some(Arc::new(store));
        self
    }

    /// Shares state with the bot's other instances through `backend`
    /// (instead of the one `WECHAT_REDIS_URL` would make): the replay
    /// bindings, the retry de-duplication, sessions and pending replies
    /// live there, unless given their own store.
    /// See [`crate::redis`].
    #[cfg(feature = "redis")]
    pub fn redis(mut self, backend: crate::redis::RedisBackend) -> Self {
        self.redis = Some(backend);
        self
    }

    /// Replaces the in-memory pending-reply store (see [`crate::pending`]),
    /// e.g. with one every instance shares.
    pub fn pending_store(mut self, store: impl PendingStore) -> Self {
        self.pending = Some(Arc::new(store));
        self
    }

    /// Delivers each late reply (one whose push was answered without it)
    /// through `hook` instead of the built-in delivery: the
    /// customer-service API when the config has an AppSecret, else the
    /// user's pending replies. The hook runs on a tokio task; spawn
    /// anything slow.
    pub fn on_late_reply(mut self, hook: impl Fn(LateReply) + Send + Sync + 'static) -> Self {
        self.late_hook = Some(Arc::new(hook));
        self
    }

    /// The WeChat API client, for late replies and for handlers (the
    /// `ApiClient` extractor). Without it, one is built from the config's
    /// AppID, AppSecret and API base when the AppSecret is set.
    #[cfg(feature = "api")]
    pub fn api_client(mut self, client: ApiClient) -> Self {
        self.api = Some(client);
        self
    }

    /// Checks `menu` (the account's custom menu, e.g. read with
    /// [`Menu::from_file`](crate::api::menu::Menu::from_file)) against the
    /// routes when the service is built, and logs a warning for each
    /// button whose key no handler answers and each exact `key` route no
    /// button sends ([`Menu::check_routes`](crate::api::menu::Menu::check_routes)).
    #[cfg(feature = "api")]
    pub fn menu(mut self, menu: crate::api::menu::Menu) -> Self {
        self.menu = Some(menu);
        self
    }

    /// Counts the service's pushes, refusals, retries, late replies and
    /// API calls in `metrics`, under the config's name (see
    /// [`crate::metrics`]). Several services may share one.
    #[cfg(feature = "metrics")]
    pub fn metrics(mut self, metrics: &crate::metrics::Metrics) -> Self {
        self.metrics = Some(metrics.clone());
        self
    }

    /// Tells `inspect` the service's pushes and refusals, and hands it
    /// the built service through `attach` (`ServiceBuilder::inspector`).
    #[cfg(feature = "inspector")]
    pub(crate) fn inspected_by(
        mut self,
        inspect: Arc<dyn crate::observe::Inspect>,
        attach: Attach,
    ) -> Self {
        self.inspector = Some((inspect, attach));
        self
    }

    /// Takes the places of handlers running past their deadline from
    /// `background`, shared with other accounts' services, instead of a
    /// limit of its own.
    pub(crate) fn shared_background(mut self, background: Arc<Semaphore>) -> Self {
        self.background = Some(background);
        self
    }

    /// Serves the authorizer `appid` of a third-party platform, whose
    /// pushes must be addressed to `user_name` (its `gh_` id) when known.
    #[cfg(feature = "api")]
    pub(crate) fn for_authorizer(mut self, appid: &str, user_name: Option<String>) -> Self {
        self.authorizer = Some((appid.into(), user_name));
        self
    }

    /// Compiles the routes — those added with [`ServiceBuilder::router`]
    /// or [`ServiceBuilder::only`], plus, without `only`, every untagged
    /// attribute-macro handler in the binary that serves the config's
    /// account (see [`Router::registered_for_account`]; without `only`,
    /// a handler scoped to other accounts is left out, even one added by
    /// name)
    /// — and builds the service; logs the route table. Two routes claiming
    /// the same exact key, keyword or scene, or with the same kind, filter
    /// and priority, stop here with [`RouterError::Conflict`] naming both.
    pub fn build(self) -> Result<WechatService, BuildError> {
        // Without `only`: the binary's handlers, but for those scoped
        // (`account = "..."`) to other accounts than this config's name.
        // With it, exactly what the router names.
        let router = if self.scoped {
            self.router
        } else {
            self.router.registered().for_account(self.config.name())
        };
        let routes = router.build()?;
        if self.scoped && routes.is_empty() {
            return Err(BuildError::NoRoutes);
        }
        panics::install_hook();
        warn_without_subscriber();
        tracing::info!(
            account = self.config.name(),
            path = self.config.path(),
            mode = %self.config.mode(),
            routes = routes.len(),
            "wechat-events service ready"
        );
        for info in routes.table() {
            tracing::info!(target: "wechat_events::routes", account = self.config.name(), "{info}");
        }
        #[cfg(feature = "api")]
        for warning in self.menu.iter().flat_map(|menu| menu.check_routes(&routes)) {
            tracing::warn!(account = self.config.name(), "menu: {warning}");
        }
        let config = self.config;
        #[cfg(feature = "redis")]
        let redis = match self.redis {
            Some(backend) => Some(backend),
            None => crate::redis::RedisBackend::from_config(&config).transpose()?,
        };
        #[cfg(feature = "redis")]
        let (bindings, sessions, redis_bindings) =
            crate::redis::shared_stores(redis.as_ref(), &config, self.bindings, self.sessions);
        #[cfg(not(feature = "redis"))]
        let (bindings, sessions) = (self.bindings, self.sessions);
        // Without Redis, a state directory keeps pending replies and
        // sessions across restarts; with Redis, Redis does.
        #[cfg(all(feature = "state", feature = "redis"))]
        let state = crate::state::stores(&config, redis.is_some())?;
        #[cfg(all(feature = "state", not(feature = "redis")))]
        let state = crate::state::stores(&config, false)?;
        #[cfg(feature = "state")]
        let (state_pending, sessions) = match state {
            Some((pending, state_sessions)) => (
                Some(Arc::new(pending) as Arc<dyn PendingStore>),
                sessions.or_else(|| Some(Arc::new(state_sessions) as Arc<dyn SessionStore>)),
            ),
            None => (None, sessions),
        };
        #[cfg(not(feature = "state"))]
        let state_pending: Option<Arc<dyn PendingStore>> = None;
        #[cfg(feature = "api")]
        let api = match (self.api, config.appid(), config.appsecret()) {
            (Some(client), _, _) => Some(client),
            (None, Some(appid), Some(secret)) => {
                let mut builder = ApiClient::builder(appid, secret);
                if let Some(base) = config.api_base() {
                    builder = builder.base_url(base);
                }
                // With Redis, one instance refreshes the token for all.
                #[cfg(feature = "redis")]
                if let Some(backend) = &redis {
                    builder = builder.token_store(crate::redis::RedisTokens::new(backend));
                }
                Some(builder.build()?)
            }
            _ => None,
        };
        #[cfg(feature = "api")]
        let through_api = api.clone().map(Late::Api);
        #[cfg(not(feature = "api"))]
        let through_api = None;
        let late = self
            .late_hook
            .map(Late::Hook)
            .or(through_api)
            .unwrap_or(Late::Pending);
        #[cfg(feature = "redis")]
        let redis_pending = self.pending.is_none();
        #[cfg(feature = "redis")]
        let pending = self.pending.or_else(|| {
            let backend = redis.as_ref()?;
            let account = config.store_account();
            let store = crate::redis::RedisPending::new(
                backend,
                account,
                DEFAULT_MAX_BYTES,
                config.pending_ttl(),
            );
            Some(Arc::new(store) as Arc<dyn PendingStore>)
        });
        #[cfg(not(feature = "redis"))]
        let pending = self.pending;
        let pending = pending.or(state_pending);
        #[cfg(feature = "redis")]
        let dedup = self.dedup.or_else(|| {
            let backend = redis.as_ref()?;
            let account = config.store_account();
            let mut store = crate::redis::RedisDedup::new(
                backend,
                account,
                config.dedup_capacity(),
                config.dedup_ttl(),
            );
            // Made here with the bindings and the pending replies: its
            // claim script binds the URL and looks up the user's pending
            // list, so a push answered in time costs two round trips.
            if let Some(bindings) = redis_bindings {
                store = store.with_bindings(bindings);
            }
            if redis_pending {
                store = store.with_pending();
            }
            Some(Arc::new(store) as Arc<dyn DedupStore>)
        });
        #[cfg(not(feature = "redis"))]
        let dedup = self.dedup;
        let dedup = dedup.unwrap_or_else(|| {
            Arc::new(MemoryStore::new(
                config.dedup_capacity(),
                config.dedup_ttl(),
            ))
        });
        let pending = pending.unwrap_or_else(|| {
            Arc::new(MemoryPending::new(DEFAULT_MAX_BYTES, config.pending_ttl()))
        });
        let bindings = config.replay_window().map(|window| {
            bindings
                .unwrap_or_else(|| Arc::new(MemoryBindings::new(config.binding_capacity(), window)))
        });
        let background =
            (self.background).unwrap_or_else(|| Arc::new(Semaphore::new(config.max_background())));
        #[allow(unused_mut)]
        let mut observer = Observer::new(config.name());
        #[cfg(feature = "metrics")]
        if let Some(metrics) = &self.metrics {
            observer = observer.with_metrics(metrics);
            metrics.watch_background(&background, config.max_background());
            if let Some(account) = observer.metrics() {
                account.watch_pending(&pending);
                #[cfg(feature = "api")]
                if let Some(client) = &api {
                    let account = account.clone();
                    client.count_into(Arc::new(move |endpoint: &str, errcode: &str| {
                        account.api_request(endpoint, errcode)
                    }));
                }
            }
            #[cfg(feature = "redis")]
            if let Some(backend) = &redis {
                metrics.watch_redis(backend);
            }
        }
        #[cfg(feature = "inspector")]
        if let Some((inspect, _)) = &self.inspector {
            observer = observer.with_inspector(inspect.clone());
        }
        let lifecycle = Lifecycle::new(&config, dedup, bindings, pending, late, background)
            .with_observer(observer.clone());
        // With Redis, every instance counts the users' customer-service
        // quotas together.
        #[cfg(all(feature = "api", feature = "redis"))]
        let lifecycle = match &redis {
            Some(backend) => lifecycle.with_quotas(crate::quota::Quotas::shared(
                backend,
                config.store_account(),
            )),
            None => lifecycle,
        };
        let lifecycle = Arc::new(lifecycle);
        let service = WechatService {
            inner: Arc::new(Inner {
                sessions: sessions.unwrap_or_else(|| {
                    Arc::new(MemorySessions::new(
                        DEFAULT_SESSION_CAPACITY,
                        config.session_ttl(),
                    ))
                }),
                #[cfg(feature = "redis")]
                redis,
                #[cfg(feature = "api")]
                api,
                lifecycle,
                routes,
                name: config.name().into(),
                authorizer: self.authorizer,
                config,
                observer,
            }),
        };
        #[cfg(feature = "inspector")]
        if let Some((_, attach)) = &self.inspector {
            attach(service.downgrade());
        }
        Ok(service)
    }
}

impl WechatService {
    /// Starts a builder. Its service includes every untagged
    /// attribute-macro handler in the binary besides the routes given to
    /// it, unless told [`ServiceBuilder::only`].
    pub fn builder(config: Config) -> ServiceBuilder {
        ServiceBuilder {
            config,
            router: Router::new(),
            scoped: false,
            dedup: None,
            bindings: None,
            sessions: None,
            #[cfg(feature = "redis")]
            redis: None,
            pending: None,
            late_hook: None,
            #[cfg(feature = "api")]
            api: None,
            background: None,
            authorizer: None,
            #[cfg(feature = "api")]
            menu: None,
            #[cfg(feature = "metrics")]
            metrics: None,
            #[cfg(feature = "inspector")]
            inspector: None,
        }
    }

    /// A service with `router`'s routes, every untagged attribute-macro
    /// handler in the binary, and the default store and hook.
    pub fn new(config: Config, router: Router) -> Result<Self, BuildError> {
        Self::builder(config).router(router).build()
    }

    /// The config.
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// The compiled routes.
    pub fn routes(&self) -> &Routes {
        &self.inner.routes
    }

    /// The session of `user` (an OpenID) in this service's store — the one
    /// its handlers' [`Session`] extractor opens.
    pub fn session(&self, user: &str) -> Session {
        Session::new(self.inner.sessions.clone(), user)
    }

    /// The Redis backend the service shares state through, if any: its
    /// [`stats`](crate::redis::RedisBackend::stats) tell about outages.
    #[cfg(feature = "redis")]
    pub fn redis(&self) -> Option<&crate::redis::RedisBackend> {
        self.inner.redis.as_ref()
    }

    /// What became of this service's pushes and replies so far: handlers
    /// run, claims taken over, replays refused, late replies delivered,
    /// handlers cancelled.
    pub fn stats(&self) -> LifecycleStats {
        self.inner.lifecycle.stats()
    }

    /// Waits, up to `grace`, until no handler of this service runs —
    /// neither one answering a push in flight nor one finishing in the
    /// background after its deadline (its late reply still reaches the
    /// hook) — and, with Redis, until the outcomes they left are written
    /// there (`RedisBackend::flush`).
    /// `true` when all finished in time.
    ///
    /// For a graceful shutdown: stop accepting connections and refuse new
    /// ones ([`stop_listening`]), drain, then stop the server (handlers run
    /// on the server's worker threads, so they must finish before the
    /// workers stop):
    ///
    /// ```no_run
    /// # async fn demo(service: wechat_events::WechatService, handle: actix_web::dev::ServerHandle, listener: std::net::TcpListener) {
    /// handle.pause().await;                          // on SIGTERM: stop accepting,
    /// let _ = wechat_events::service::stop_listening(&listener); // refuse new connections
    /// let grace = service.config().shutdown_grace();
    /// if !service.drain(grace).await {
    ///     eprintln!("handlers still running after {grace:?}; stopping anyway");
    /// }
    /// handle.stop(true).await;                       // answer what is in flight, exit
    /// # }
    /// ```
    pub async fn drain(&self, grace: Duration) -> bool {
        let deadline = Instant::now() + grace;
        let tasks = self.inner.lifecycle.tasks();
        tasks.close();
        let drained = tokio::time::timeout_at(deadline, tasks.wait())
            .await
            .is_ok();
        tasks.reopen();
        // An in-memory store logs each reply it would lose at exit.
        self.inner.lifecycle.pending().close().await;
        if drained {
            tracing::info!("every handler finished");
        } else {
            tracing::warn!(
                running = tasks.len(),
                grace_s = grace.as_secs_f64(),
                "handlers still running at the end of the grace period"
            );
        }
        // The outcomes the handlers left reach Redis by writes of their
        // own: waited for too, within what is left of the grace.
        #[cfg(feature = "redis")]
        let drained = match &self.inner.redis {
            Some(redis) => {
                let left = deadline.saturating_duration_since(Instant::now());
                redis.flush(left).await && drained
            }
            None => drained,
        };
        drained
    }
}

/// The request that asked for a push answered in process
/// ([`WechatService::answer_in_process`]).
#[cfg(feature = "inspector")]
struct Asker(HttpRequest);

/// Says once on stderr that nothing will be logged when the application
/// installed no `tracing` subscriber: without one, the route table, the
/// refusals and the handlers' errors vanish, and a new bot looks dead.
fn warn_without_subscriber() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    if !tracing::dispatcher::has_been_set() {
        ONCE.call_once(|| {
            eprintln!(
                "wechat-events: no tracing subscriber is installed, so nothing it logs \
                 (the handler table, refused requests, handler errors) will show; \
                 add `tracing_subscriber::fmt().init();` at the start of main"
            );
        });
    }
}

/// A [`WechatService`] that does not keep it alive: for what the service
/// itself refers to (the inspector it tells about its pushes).
#[cfg(feature = "inspector")]
#[derive(Clone)]
pub(crate) struct WeakService {
    inner: std::sync::Weak<Inner>,
}

#[cfg(feature = "inspector")]
impl WeakService {
    /// The service, while it lives.
    pub(crate) fn upgrade(&self) -> Option<WechatService> {
        self.inner.upgrade().map(|inner| WechatService { inner })
    }
}

#[cfg(feature = "inspector")]
impl WechatService {
    /// A handle that does not keep the service alive.
    pub(crate) fn downgrade(&self) -> WeakService {
        WeakService {
            inner: Arc::downgrade(&self.inner),
        }
    }

    /// Answers a POST of `body` to this service's path with `query` (a
    /// signed push, as WeChat would send it) in process, through the same
    /// checks, store and handlers as a request over HTTP: its status and
    /// body. For the inspector's send form; `asker`, the request that
    /// asked (an `HttpRequest` of the same app), lends the handlers'
    /// extractors the application's data (`web::Data` on the `App`).
    pub(crate) async fn answer_in_process(
        &self,
        asker: Option<&dyn Any>,
        query: &str,
        body: String,
    ) -> (u16, String) {
        use actix_web::FromRequest;
        let uri = format!("{}?{query}", self.inner.config.path());
        let (req, mut payload) = actix_web::test::TestRequest::post()
            .uri(&uri)
            .peer_addr(std::net::SocketAddr::from(([127, 0, 0, 1], 0)))
            .insert_header((header::CONTENT_TYPE, "text/xml"))
            .set_payload(body)
            .to_http_parts();
        let payload = match web::Payload::from_request(&req, &mut payload).await {
            Ok(payload) => payload,
            Err(e) => return (500, e.to_string()),
        };
        let inner = web::Data::from(self.inner.clone());
        let asker = asker.and_then(|asker| asker.downcast_ref::<HttpRequest>());
        for req in [Some(&req), asker].into_iter().flatten() {
            req.extensions_mut().insert(inner.clone());
            #[cfg(feature = "api")]
            if let Some(client) = &self.inner.api {
                req.extensions_mut().insert(client.clone());
            }
        }
        if let Some(asker) = asker {
            req.extensions_mut().insert(Asker(asker.clone()));
        }
        let response = receive(req, payload, inner).await;
        let status = response.status().as_u16();
        let body = actix_web::body::to_bytes(response.into_body())
            .await
            .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
            .unwrap_or_default();
        (status, body)
    }
}

impl HttpServiceFactory for WechatService {
    fn register(self, config: &mut AppService) {
        let resource = web::resource(self.inner.config.path().to_owned());
        #[cfg(feature = "api")]
        let resource = match &self.inner.api {
            Some(client) => resource.app_data(client.clone()),
            None => resource,
        };
        resource
            .app_data(web::Data::from(self.inner))
            .route(web::get().to(handshake))
            .route(web::post().to(receive))
            .default_service(web::to(method_not_allowed))
            .register(config);
    }
}

/// The service a request is for: its resource's, or — for a push a
/// third-party platform dispatched to an authorizer's service
/// ([`WechatService::serve`]) — the one in its extensions.
fn service_of(req: &HttpRequest) -> Option<web::Data<Inner>> {
    match req.app_data::<web::Data<Inner>>() {
        Some(inner) => Some(inner.clone()),
        None => req.extensions().get::<web::Data<Inner>>().cloned(),
    }
}

impl WechatService {
    /// Answers `req` as this service's resource would: the handshake, a
    /// push, or 405. For a resource of another's that dispatches to this
    /// service (a third-party platform's message URL).
    #[cfg(feature = "api")]
    pub(crate) async fn serve(&self, req: HttpRequest, payload: web::Payload) -> HttpResponse {
        let inner = web::Data::from(self.inner.clone());
        {
            let mut extensions = req.extensions_mut();
            extensions.insert(inner.clone());
            #[cfg(feature = "api")]
            if let Some(client) = &self.inner.api {
                extensions.insert(client.clone());
            }
        }
        match *req.method() {
            actix_web::http::Method::GET => handshake(req, inner).await,
            actix_web::http::Method::POST => receive(req, payload, inner).await,
            _ => method_not_allowed(req).await,
        }
    }
}

async fn method_not_allowed(req: HttpRequest) -> HttpResponse {
    let inner = service_of(&req);
    let hint = "method not allowed: use GET (handshake) or POST (push)";
    refuse_method(&req, inner.as_ref().map(|i| &i.observer), "GET, POST", hint)
}

async fn handshake(req: HttpRequest, inner: web::Data<Inner>) -> HttpResponse {
    let checked = QueryRef::parse(req.query_string())
        .map_err(PushError::from)
        .and_then(|q| {
            let echostr = (q.echostr.as_deref())
                .ok_or(QueryError::Missing("echostr"))?
                .to_owned();
            if !q.verify(inner.config.token()) {
                return Err(PushError::Signature);
            }
            inner.check_window(&q)?;
            Ok(echostr)
        });
    match checked {
        Ok(echostr) => {
            tracing::info!("handshake verified");
            HttpResponse::Ok()
                .insert_header((header::CONTENT_TYPE, text_plain()))
                .body(echostr)
        }
        Err(e) => e.refuse(&req, &inner.observer, None),
    }
}

async fn receive(req: HttpRequest, payload: web::Payload, inner: web::Data<Inner>) -> HttpResponse {
    let arrived = Instant::now();
    let inner = inner.into_inner();
    let accepted = match inner.accept(&req, payload).await {
        Ok(accepted) => accepted,
        Err(Refusal { error, body_head }) => {
            return error.refuse(&req, &inner.observer, body_head.as_deref())
        }
    };
    // The span names the push for every line logged while it is handled;
    // what became of it is the `push answered` line's. (Fields given when
    // the span is made are formatted once; each recorded later would cost
    // `fmt` another pass, per push.)
    let span = tracing::info_span!(
        "wechat_push",
        openid = %Plain(&accepted.push.from_user),
        msg_type = %Plain(&accepted.push.msg_type),
    );
    inner
        .clone()
        .handle(&req, accepted, arrived)
        .instrument(span)
        .await
}

/// The binding of a signed URL to its body (`digest`): the URL's key and
/// the digest, which the lifecycle binds with the push's claim (a URL
/// replayed with another body is refused, one seen before whose push is
/// forgotten too). In secure mode the URL is keyed by its
/// `msg_signature`, which covers the body already.
fn binding(query: &QueryRef<'_>, digest: [u8; 20], secure: bool) -> (String, [u8; 20]) {
    // Only in secure mode does every push carry a msg_signature: elsewhere
    // a captured encrypted push's URL could be replayed without it (with a
    // plaintext body), so the URL is keyed by its `signature`.
    let signature = match (secure, query.msg_signature.as_deref()) {
        (true, Some(msg_signature)) => msg_signature,
        _ => &*query.signature,
    };
    let key = replay::binding_key(signature, &query.timestamp, &query.nonce);
    (key, digest)
}

/// A push after verification and decryption.
struct Decoded<'a> {
    xml: String,
    /// The key that decrypted it, when it was encrypted.
    key: Option<&'a AesKey>,
}

/// A request refused by [`Inner::accept`], with its body's head when the
/// body was read and an observer wants it.
struct Refusal {
    error: PushError,
    body_head: Option<Vec<u8>>,
}

impl From<PushError> for Refusal {
    fn from(error: PushError) -> Self {
        Refusal {
            error,
            body_head: None,
        }
    }
}

impl From<QueryError> for Refusal {
    fn from(error: QueryError) -> Self {
        PushError::from(error).into()
    }
}

/// A push that passed every check: signed, in the window, decrypted,
/// parsed; its URL to be bound to its body with its claim.
struct Accepted<'a> {
    decoded: Decoded<'a>,
    push: Arc<Push>,
    /// The URL's binding, when replay protection is on.
    bind: Option<(String, [u8; 20])>,
}

impl Inner {
    /// Verifies, reads, decrypts and parses a push.
    async fn accept(
        &self,
        req: &HttpRequest,
        payload: web::Payload,
    ) -> Result<Accepted<'_>, Refusal> {
        let query = QueryRef::parse(req.query_string())?;
        if !query.verify(self.config.token()) {
            return Err(PushError::Signature.into());
        }
        self.check_window(&query)?;
        let body = self.read_body(req, payload).await?;
        // The URL is bound to the body's digest, taken before the body
        // becomes the push's text. In secure mode every push must pass
        // `msg_signature`, which is part of its URL and covers its
        // `<Encrypt>`: the URL (keyed by it) can carry no other body, so no
        // digest is taken; the binding still tells a verbatim replay.
        let secure = matches!(self.config.crypto, Crypto::Secure(_));
        let digest = self.lifecycle.binds().then(|| match secure {
            true => [0; 20],
            false => replay::body_digest(&body),
        });
        let head =
            (self.observer.wants_documents()).then(|| body[..body.len().min(BODY_HEAD)].to_vec());
        let refused = |error: PushError| Refusal {
            error,
            body_head: head.clone(),
        };
        let decoded = self.decode(&query, body).map_err(refused)?;
        let push = Arc::new(parse(decoded.xml.as_bytes()).map_err(|e| refused(e.into()))?);
        if let Some((_, Some(user_name))) = &self.authorizer {
            if push.to_user != *user_name {
                return Err(refused(PushError::WrongAccount));
            }
        }
        // Only a body that is a push binds its URL: garbage is refused
        // above and does not lock the URL for the genuine push.
        let bind = digest.map(|digest| binding(&query, digest, secure));
        Ok(Accepted {
            decoded,
            push,
            bind,
        })
    }

    /// Answers an accepted push: the lifecycle claims it (running its
    /// handler) or follows its claim.
    async fn handle(
        self: Arc<Self>,
        req: &HttpRequest,
        accepted: Accepted<'_>,
        arrived: Instant,
    ) -> HttpResponse {
        let Accepted {
            decoded,
            push,
            bind,
        } = accepted;
        let Decoded { xml, key } = decoded;
        let encrypted = key.is_some();
        let seen = self.observer.wants_documents().then(|| xml.clone());
        let prepare = || {
            let mut cx = Context::new(push.clone(), xml, encrypted).in_account(self.name.clone());
            if let Some((appid, _)) = &self.authorizer {
                cx = cx.for_authorizer(appid.clone());
            }
            self.prepare(req, cx)
        };
        let answered = (self.lifecycle)
            .handle_bound(dedup_key(&push), push.clone(), arrived, bind, prepare)
            .await;
        let answered = match answered {
            Ok(answered) => answered,
            Err(refused) => {
                return PushError::from(refused).refuse(req, &self.observer, None);
            }
        };
        let outcome = &answered.outcome;
        self.observer.tried(&TryRecord {
            push: &push,
            xml: seen.as_deref().unwrap_or_default(),
            reply: outcome.reply.as_deref(),
            handler: outcome.handler.as_deref(),
            status: outcome.status,
            try_number: answered.try_number,
            claimed: answered.claimed,
            held: answered.held,
            encrypted,
            elapsed: arrived.elapsed(),
        });
        // One line per push is an access log: `debug`, so a busy bot's
        // `info` log holds what needs attention (RUST_LOG=wechat_events=debug
        // shows every push).
        tracing::debug!(
            attempt = answered.try_number,
            dedup_hit = !answered.claimed,
            handler = outcome.handler.as_deref(),
            outcome = outcome.status.as_str(),
            elapsed_ms = arrived.elapsed().as_millis() as u64,
            "push answered"
        );
        self.respond(outcome, key)
    }

    /// Refuses a `timestamp` outside the replay window.
    fn check_window(&self, query: &QueryRef<'_>) -> Result<(), PushError> {
        check_window(&self.config, query)
    }

    async fn read_body(
        &self,
        req: &HttpRequest,
        payload: web::Payload,
    ) -> Result<Vec<u8>, PushError> {
        read_body(&self.config, req, payload).await
    }

    fn decode(&self, query: &QueryRef<'_>, body: Vec<u8>) -> Result<Decoded<'_>, PushError> {
        let text = body_text(body)?;
        let keys = match (&self.config.crypto, query.is_encrypted()) {
            (Crypto::Plain, _) | (Crypto::Compatible(_), false) => {
                return Ok(Decoded {
                    xml: text,
                    key: None,
                })
            }
            (Crypto::Secure(_), false) => return Err(PushError::PlaintextRefused),
            (Crypto::Secure(keys) | Crypto::Compatible(keys), true) => keys,
        };
        let (xml, key) = open_envelope(self.config.token(), keys, query, &text)?;
        Ok(Decoded {
            xml,
            key: Some(key),
        })
    }

    /// Picks the route and lets its extractors copy what they need from
    /// the request ([`FromPush::prepare`]), yielding the (not yet started)
    /// extraction and handler. Only the first delivery of a push prepares.
    fn prepare(&self, req: &HttpRequest, cx: Context) -> Job {
        let Some((entry, captures)) = self.routes.find(cx.push()) else {
            return Job::NoHandler;
        };
        let name = entry.name.clone();
        let mut parts = Parts::new(cx, captures);
        // A push the inspector sent in process: the extractors read the
        // app data of the request that asked (the application's).
        #[cfg(feature = "inspector")]
        let asker = req.extensions().get::<Asker>().map(|asker| asker.0.clone());
        #[cfg(feature = "inspector")]
        let req = asker.as_ref().unwrap_or(req);
        // A panicking `prepare` must not take the request task down with it.
        let host: &dyn Any = req;
        let prepared = std::panic::catch_unwind(AssertUnwindSafe(|| {
            panics::quietly(|| entry.handler.prepare(host, &mut parts))
        }));
        match prepared {
            Ok(()) => Job::Run {
                name,
                future: entry.handler.call(parts),
            },
            Err(panic) => Job::ExtractFailed {
                name,
                error: ExtractError::Panicked(panics::with_location(panic_message(&*panic))),
            },
        }
    }

    fn respond(&self, outcome: &Outcome, key: Option<&AesKey>) -> HttpResponse {
        let Some(xml) = &outcome.reply else {
            return HttpResponse::Ok()
                .insert_header((header::CONTENT_TYPE, text_plain()))
                .body("success");
        };
        let body = match key {
            None => xml.to_string(),
            Some(key) => {
                let timestamp = unix_now().to_string();
                let nonce = fresh_nonce();
                let appid = self.config.keys().map_or("", |keys| keys.appid());
                crypto::encrypt_reply(self.config.token(), key, appid, xml, &timestamp, &nonce)
            }
        };
        HttpResponse::Ok()
            .insert_header((header::CONTENT_TYPE, application_xml()))
            .body(body)
    }
}

/// Refuses a `timestamp` outside `config`'s replay window.
pub(crate) fn check_window(config: &Config, query: &QueryRef<'_>) -> Result<(), PushError> {
    match config.replay_window() {
        Some(window) => Ok(replay::check_window(&query.timestamp, unix_now(), window)?),
        None => Ok(()),
    }
}

/// Reads the body within `config`'s limit and deadline.
pub(crate) async fn read_body(
    config: &Config,
    req: &HttpRequest,
    mut payload: web::Payload,
) -> Result<Vec<u8>, PushError> {
    let limit = config.max_body_bytes();
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(PushError::TooLarge { limit });
    }
    let http1 = req.version() < Version::HTTP_2;
    let read = async {
        let mut body = Vec::with_capacity(declared.map_or(1024, |n| n as usize));
        while let Some(chunk) = payload.next().await {
            let chunk = chunk.map_err(PushError::Body)?;
            if body.len() + chunk.len() > limit {
                return Err(PushError::TooLarge { limit });
            }
            body.extend_from_slice(&chunk);
            // The whole declared body is here (actix's HTTP/1 decoder
            // never passes on more): the stream's end can come a turn
            // of the connection's task later, which the push need not
            // wait for. (HTTP/2 frames the body itself: read to its end,
            // so that a body longer than declared is an error.)
            if http1 && declared == Some(body.len() as u64) {
                break;
            }
        }
        Ok(body)
    };
    let wait = config.deadline();
    let read = std::pin::pin!(read);
    by_deadline(Instant::now() + wait, read)
        .await
        .ok_or(PushError::BodyTimeout(wait))?
}

/// The body as text; not UTF-8 is a parse error.
pub(crate) fn body_text(body: Vec<u8>) -> Result<String, PushError> {
    String::from_utf8(body).map_err(|e| {
        PushError::from(ParseError::Xml(XmlError::InvalidUtf8(
            e.utf8_error().valid_up_to(),
        )))
    })
}

/// Verifies an encrypted body's `msg_signature` with `token` and decrypts
/// its `<Encrypt>` with `keys`: the current key first, the previous one
/// during a rotation (the error reported is the current key's). The
/// plaintext, and the key that decrypted it.
pub(crate) fn open_envelope<'k>(
    token: &str,
    keys: &'k Keys,
    query: &QueryRef<'_>,
    text: &str,
) -> Result<(String, &'k AesKey), PushError> {
    let given = query
        .msg_signature
        .as_deref()
        .ok_or(QueryError::Missing("msg_signature"))?;
    let encrypt = crypto::extract_encrypt(text)?;
    crypto::verify_msg_signature(token, &query.timestamp, &query.nonce, &encrypt, given)?;
    let mut first_error = None;
    for key in keys.all() {
        match crypto::decrypt(key, &encrypt, Some(keys.appid())) {
            Ok(plain) => return Ok((plain.message, key)),
            Err(e @ CryptoError::Base64(_)) => return Err(e.into()),
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    Err(first_error
        .expect("Keys::all yields the current key")
        .into())
}

/// The content types of every answer, from static strings
/// (`content_type("...")` would copy its string into a new allocation on
/// every response).
fn text_plain() -> header::HeaderValue {
    header::HeaderValue::from_static("text/plain; charset=utf-8")
}

fn application_xml() -> header::HeaderValue {
    header::HeaderValue::from_static("application/xml; charset=utf-8")
}

/// A field value from the push for the log: written as it is when it
/// holds only what WeChat's identifiers and type names are made of
/// (letters, digits, `_`, `-`, `.`), else quoted and escaped like any
/// string field, so a forged value cannot fake a log line. (A string field
/// is always escaped character by character: for every push's span that
/// was a measurable share of the service's time.)
struct Plain<'a>(&'a str);

impl fmt::Display for Plain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let plain = !self.0.is_empty()
            && (self.0.bytes())
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'));
        if plain {
            f.write_str(self.0)
        } else {
            write!(f, "{:?}", self.0)
        }
    }
}

/// `web::Data<T>` registered on the actix `App` (or the service's
/// resource): copied from the request before the handler's task starts.
impl<T: ?Sized + Send + Sync + 'static> FromPush for web::Data<T> {
    fn prepare(host: &dyn Any, parts: &mut Parts) {
        if let Some(data) = host
            .downcast_ref::<HttpRequest>()
            .and_then(|req| req.app_data::<web::Data<T>>())
        {
            parts.lend(data.clone());
        }
    }

    async fn from_push(parts: &Parts) -> Result<Self, ExtractError> {
        parts
            .lent::<web::Data<T>>()
            .cloned()
            .ok_or(ExtractError::MissingData(type_name::<T>()))
    }
}

/// The push's user's [`Session`], in the service's session store.
impl FromPush for Session {
    fn prepare(host: &dyn Any, parts: &mut Parts) {
        if let Some(inner) = host.downcast_ref::<HttpRequest>().and_then(service_of) {
            let user = parts.push().from_user.clone();
            parts.lend(Session::new(inner.sessions.clone(), user));
        }
    }

    async fn from_push(parts: &Parts) -> Result<Self, ExtractError> {
        parts
            .lent::<Session>()
            .cloned()
            .ok_or(ExtractError::MissingData(type_name::<Session>()))
    }
}

/// The service's WeChat API client (configured with `WECHAT_APPSECRET` or
/// [`ServiceBuilder::api_client`]), for handlers: send customer-service
/// messages, show "typing".
#[cfg(feature = "api")]
impl FromPush for ApiClient {
    fn prepare(host: &dyn Any, parts: &mut Parts) {
        let req = host.downcast_ref::<HttpRequest>();
        let client = req.and_then(|req| match req.app_data::<ApiClient>() {
            Some(client) => Some(client.clone()),
            None => req.extensions().get::<ApiClient>().cloned(),
        });
        if let Some(client) = client {
            parts.lend(client);
        }
    }

    async fn from_push(parts: &Parts) -> Result<Self, ExtractError> {
        parts
            .lent::<ApiClient>()
            .cloned()
            .ok_or(ExtractError::MissingData(
                "ApiClient (set WECHAT_APPID and WECHAT_APPSECRET, or ServiceBuilder::api_client)",
            ))
    }
}

/// Makes `listener` refuse new connections at once: for a graceful
/// shutdown, after [`ServerHandle::pause`] and before
/// [`WechatService::drain`].
///
/// A paused actix server stops accepting but keeps its sockets listening
/// until it stops: the kernel still completes new handshakes into the
/// backlog, where they wait — WeChat its full 5 s, a load balancer its
/// connect timeout — on a server that is going away. Shut down, the
/// socket no longer listens: a new connection is refused (its SYN is
/// answered with a reset), so the client can try elsewhere at once.
/// Connections the server already accepted are untouched, and the pushes
/// in flight on them are answered; one still waiting in the backlog is
/// reset, as it would be when the server stops.
///
/// `bind` keeps the server's sockets to itself: bind the listener
/// yourself and give the server a clone
/// ([`HttpServer::listen`]`(listener.try_clone()?)`). Pause the server
/// first: an accepting server would log an error each time it tried to
/// accept on the shut-down socket.
///
/// This relies on Linux, where `shutdown(2)` of a listening socket stops
/// it listening. Elsewhere the call may fail or leave the socket
/// listening; an error is returned, and new connections then wait until
/// the server stops, as without this call.
///
/// ```no_run
/// use std::net::TcpListener;
/// use actix_web::{App, HttpServer};
/// use wechat_events::{service::stop_listening, WechatService};
///
/// # async fn demo(service: WechatService) -> std::io::Result<()> {
/// let listener = TcpListener::bind("127.0.0.1:8080")?;
/// let app = service.clone();
/// let server = HttpServer::new(move || App::new().service(app.clone()))
///     .listen(listener.try_clone()?)?
///     .run();
/// let handle = server.handle();
/// actix_web::rt::spawn(async move {
///     // On SIGTERM:
///     handle.pause().await;                         // stop accepting
///     if let Err(e) = stop_listening(&listener) {   // refuse new connections
///         eprintln!("still listening during the drain: {e}");
///     }
///     service.drain(service.config().shutdown_grace()).await;
///     handle.stop(true).await;                      // answer what is in flight, exit
/// });
/// server.await
/// # }
/// ```
///
/// [`ServerHandle::pause`]: actix_web::dev::ServerHandle::pause
/// [`HttpServer::listen`]: actix_web::HttpServer::listen
pub fn stop_listening(listener: &std::net::TcpListener) -> std::io::Result<()> {
    socket2::SockRef::from(listener).shutdown(std::net::Shutdown::Both)
}

#[cfg(test)]
mod tests {
    use super::{stop_listening, BuildError, Plain, WechatService};
    use crate::{Config, Router};

    #[test]
    fn a_scoped_service_with_no_route_does_not_build() {
        let config = Config::builder("token").build().unwrap();
        let built = WechatService::builder(config).only(Router::new()).build();
        assert!(matches!(built, Err(BuildError::NoRoutes)));
    }

    /// On Linux a shut-down listener refuses new connections at once.
    #[cfg(target_os = "linux")]
    #[test]
    fn a_stopped_listener_refuses_new_connections() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr");
        let before = std::net::TcpStream::connect(addr);
        assert!(before.is_ok(), "{before:?}");
        stop_listening(&listener).expect("shutdown");
        let after = std::net::TcpStream::connect_timeout(&addr, std::time::Duration::from_secs(1));
        assert_eq!(
            after.map_err(|e| e.kind()).err(),
            Some(std::io::ErrorKind::ConnectionRefused)
        );
    }

    #[test]
    fn plain_log_values_are_written_as_they_are_others_escaped() {
        assert_eq!(Plain("oUser_1-x.Y").to_string(), "oUser_1-x.Y");
        assert_eq!(Plain("text").to_string(), "text");
        assert_eq!(Plain("").to_string(), r#""""#);
        assert_eq!(Plain("a b").to_string(), r#""a b""#);
        assert_eq!(
            Plain("o1\n2026-11-27T00:00:00Z ERROR forged").to_string(),
            r#""o1\n2026-11-27T00:00:00Z ERROR forged""#
        );
        assert_eq!(Plain("用户").to_string(), r#""用户""#);
    }
}
