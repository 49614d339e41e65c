//! A client for the WeChat Official Account API (公众号接口), for handlers
//! that must say something after their passive reply's window has closed.
//!
//! A push's passive reply must leave within five seconds; what comes later
//! goes through the customer-service message API (客服消息,
//! `cgi-bin/message/custom/send`), and a handler that works for a while can
//! show "typing" (`cgi-bin/message/custom/typing`) meanwhile. Both need an
//! access token, which [`ApiClient`] fetches with `cgi-bin/stable_token` —
//! the "stable" token, which a second holder of the same AppID (another
//! instance of the bot, a script) fetching its own does not invalidate —
//! caches until shortly before it expires, refreshes one caller at a time,
//! and refreshes once more when WeChat rejects it (errcode 40001, 40014,
//! 42001), retrying the call once.
//!
//! Around the pushes, the calls that make them happen are typed and grouped
//! by area: [`ApiClient::menu`] (the custom menu behind CLICK and VIEW
//! pushes, kept as data: [`Menu`]), [`ApiClient::qrcode`] (parameter QR
//! codes behind `qrscene_` subscribes and SCAN), [`ApiClient::media`] (the
//! `media_id` of image, voice and video replies), [`ApiClient::users`] and
//! [`ApiClient::templates`] (template messages, whose outcome comes back
//! as the `TEMPLATESENDJOBFINISH` push, and subscription messages). Each
//! checks WeChat's documented limits before sending — a refused request is
//! [`ApiError::Invalid`], naming the field and the limit — and WeChat's own
//! refusals stay [`ApiError::WeChat`]. Endpoints without a typed call are
//! reached with [`ApiClient::post_json`], [`ApiClient::get_json`],
//! [`ApiClient::upload`] and [`ApiClient::download`].
//!
//! The client knows nothing about HTTP servers: it is an ordinary value a
//! handler takes as an extractor once it is registered as app data (see
//! [`ApiClient`]), usable as well from a CLI or a background task. Its
//! futures are `Send` (handlers run on tokio tasks); every request is bounded
//! by the client's time-outs.
//!
//! # Secrets
//!
//! WeChat wants the access token in the URL (`?access_token=…`), and an
//! HTTP client's error prints the URL it failed on. So no error this client
//! returns carries a URL ([`reqwest::Error::without_url`]), and neither the
//! AppSecret nor a token appears in its `Debug` or in what it logs; a
//! base URL with credentials in it is shown without its password.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::future::BoxFuture;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{json, Value};
use tokio::sync::Mutex;

use crate::config::redact_url;
use crate::reply::Reply;

pub mod media;
pub mod menu;
pub mod qrcode;
pub mod templates;
pub mod users;

pub use media::{Media, MediaApi, MediaFile, MediaType, UploadedMedia};
pub use menu::{Button, ButtonKind, MatchRule, Menu, MenuApi, MenuFileError, MenuWarning, Menus};
pub use qrcode::{QrCode, QrCodeApi, QrScene};
pub use templates::{MiniProgram, SubscribeMessage, TemplateApi, TemplateMessage};
pub use users::{FollowerPage, UserInfo, UsersApi};

/// Where the client sends requests unless told otherwise.
pub const DEFAULT_BASE_URL: &str = "https://api.weixin.qq.com";

/// Where QR code images are fetched (`cgi-bin/showqrcode`) unless told
/// otherwise (`WECHAT_MP_BASE`, [`ApiClientBuilder::mp_base_url`]).
pub const DEFAULT_MP_BASE_URL: &str = "https://mp.weixin.qq.com";

/// Default connect and total time-outs of one request.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

/// How much earlier than WeChat says a token is refreshed (never more than
/// half its life).
pub const REFRESH_EARLY: Duration = Duration::from_secs(300);

/// The errcodes that mean "this access token is no good": 40001 (invalid
/// credential), 40014 (invalid access_token), 42001 (access_token expired).
pub const TOKEN_ERRCODES: [i64; 3] = [40001, 40014, 42001];

const STABLE_TOKEN: &str = "/cgi-bin/stable_token";
const CUSTOM_SEND: &str = "/cgi-bin/message/custom/send";
const CUSTOM_TYPING: &str = "/cgi-bin/message/custom/typing";

/// A bad or missing setting of the API client.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ApiConfigError {
    /// An environment variable is not set (or empty).
    #[error("{0} is not set")]
    Missing(&'static str),
    /// A setting has a value the client cannot use.
    #[error("{name} is invalid: {reason}")]
    Invalid {
        /// The environment variable or builder setting.
        name: &'static str,
        /// What is wrong with it.
        reason: String,
    },
}

/// A request WeChat would refuse, found before sending it: the field, and
/// the limit it breaks (see [`ApiError::Invalid`]).
///
/// ```
/// use wechat_events::api::{Button, Menu};
///
/// let menu = Menu::new([Button::click("一二三四五六", "K")]); // 18 bytes
/// let err = menu.check().unwrap_err();
/// assert_eq!(err.at, "button[0].name");
/// assert!(err.to_string().contains("at most 16 bytes"), "{err}");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{at}: {problem}")]
#[non_exhaustive]
pub struct InvalidRequest {
    /// Where in the request: `button[1].sub_button[0].key`, `scene_str`.
    pub at: String,
    /// What is wrong, naming the limit: `is 17 bytes; a top-level
    /// button's name is at most 16 bytes`.
    pub problem: String,
}

impl InvalidRequest {
    /// The field `at` and what is wrong with it.
    pub fn new(at: impl Into<String>, problem: impl Into<String>) -> Self {
        InvalidRequest {
            at: at.into(),
            problem: problem.into(),
        }
    }
}

/// Why an API call failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ApiError {
    /// WeChat answered with a non-zero `errcode`.
    #[error("WeChat answered errcode {errcode}: {errmsg}")]
    WeChat {
        /// WeChat's error code (全局返回码).
        errcode: i64,
        /// WeChat's message.
        errmsg: String,
    },
    /// The request failed: no connection, or an HTTP status other than 2xx.
    /// The error carries no URL (which would hold the access token).
    #[error("request to the WeChat API failed")]
    Http(#[source] reqwest::Error),
    /// No answer came within the client's time-out.
    #[error("the WeChat API did not answer within {after:?}")]
    Timeout {
        /// The client's total time-out.
        after: Duration,
    },
    /// The answer was not the JSON this endpoint returns.
    #[error("unexpected answer from {path}")]
    Decode {
        /// The endpoint, such as `/cgi-bin/stable_token`.
        path: String,
        /// What did not parse.
        #[source]
        source: serde_json::Error,
    },
    /// The client is not configured correctly.
    #[error("WeChat API client configuration: {0}")]
    Config(#[from] ApiConfigError),
    /// The reply cannot be sent as a customer-service message.
    #[error("a {0} reply cannot be sent as a customer-service message")]
    NotSendable(&'static str),
    /// The client's token source could not give a token (a component
    /// without its ticket yet, an authorizer that withdrew), saying why.
    #[error("no access token: {0}")]
    NoToken(String),
    /// The request breaks one of WeChat's limits (a fourth top-level menu
    /// button, a 65-character `scene_str`, an 11 MB image): refused before
    /// sending, nothing was sent.
    #[error("not sent, WeChat would refuse it: {0}")]
    Invalid(#[from] InvalidRequest),
    /// A local file (an upload) could not be read.
    #[error("cannot read {path}")]
    File {
        /// The file.
        path: std::path::PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A text too long for one message went out in parts
    /// ([`ApiClient::send_custom`]), and these were not sent: the first
    /// failed with `source`, the others were not tried. When `source` is
    /// a time-out or a broken answer, the first may have reached the user.
    #[error("{sent} part(s) of a long text sent, {} not", unsent.len())]
    Unsent {
        /// How many parts went out before.
        sent: usize,
        /// The parts not sent, in order (each within the limit).
        unsent: Vec<Reply>,
        /// Why the first of them failed.
        #[source]
        source: Box<ApiError>,
    },
}

impl ApiError {
    /// WeChat's `errcode`, when WeChat answered with one.
    pub fn errcode(&self) -> Option<i64> {
        match self {
            ApiError::WeChat { errcode, .. } => Some(*errcode),
            _ => None,
        }
    }
}

/// An access token fresh from WeChat (or from a [`TokenStore`]): its
/// value and how much longer it may be used.
#[derive(Clone, PartialEq, Eq)]
pub struct FreshToken {
    /// The access token.
    pub value: String,
    /// How long it may still be used (already less than WeChat's
    /// `expires_in`: see [`REFRESH_EARLY`]).
    pub valid_for: Duration,
}

impl fmt::Debug for FreshToken {
    // No token in logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FreshToken")
            .field("valid_for", &self.valid_for)
            .finish_non_exhaustive()
    }
}

/// Fetches a token from WeChat (`cgi-bin/stable_token`), for a
/// [`TokenStore`] to call when no shared token will do.
pub type TokenFetch<'a> =
    Box<dyn FnOnce() -> BoxFuture<'a, Result<FreshToken, ApiError>> + Send + 'a>;

/// Where an [`ApiClient`] gets its token when it has none cached (or
/// WeChat rejected it): a store shared with the bot's other instances,
/// such as `crate::redis::RedisTokens`, so that one of them refreshes for
/// all. Without one, each client fetches its own.
///
/// The client still caches the token it gets and lets one caller at a
/// time ask the store; the store decides who calls `fetch`.
pub trait TokenStore: Send + Sync + 'static {
    /// A usable token of `appid`: a shared one unless it is `rejected`
    /// (WeChat refused it), else one got through `fetch` — called at most
    /// once, ideally by one instance at a time — and shared.
    fn token<'a>(
        &'a self,
        appid: &'a str,
        rejected: Option<&'a str>,
        fetch: TokenFetch<'a>,
    ) -> BoxFuture<'a, Result<FreshToken, ApiError>>;
}

/// A [`TokenStore`] in a builder (no `Debug` of its own).
#[derive(Clone)]
struct SharedTokens(Arc<dyn TokenStore>);

impl fmt::Debug for SharedTokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TokenStore")
    }
}

/// A WeChat API client: access token, customer-service messages, typing.
///
/// Cheap to clone (one `Arc`); clones share the cached token, so build one
/// per account and clone it where needed. Handlers take it as an extractor
/// by registering it as actix app data and asking for `web::Data<ApiClient>`:
///
/// ```no_run
/// use actix_web::{web, App, HttpServer};
/// use wechat_events::api::ApiClient;
/// use wechat_events::{Config, Context, Reply, Router, TextMessage, WechatService};
///
/// async fn slow(msg: TextMessage, cx: Context, api: web::Data<ApiClient>) -> Reply {
///     let openid = cx.openid().to_owned();
///     let _ = api.typing(&openid, true).await;
///     // ... the long work ...
///     if let Err(e) = api.send_custom(&openid, &Reply::text(format!("done: {}", msg.content))).await {
///         tracing::warn!(error = %e, "customer-service message not sent");
///     }
///     Reply::None
/// }
///
/// #[actix_web::main]
/// async fn main() -> std::io::Result<()> {
///     let api = web::Data::new(ApiClient::from_env().expect("WECHAT_APPID, WECHAT_APPSECRET"));
///     let service = WechatService::new(Config::from_env().expect("config"), Router::new().on(slow))
///         .expect("routes");
///     HttpServer::new(move || App::new().app_data(api.clone()).service(service.clone()))
///         .bind(("127.0.0.1", 8080))?
///         .run()
///         .await
/// }
/// ```
#[derive(Clone)]
pub struct ApiClient {
    inner: Arc<Inner>,
}

/// Counts one request: its endpoint and its errcode (the `metrics`
/// feature's `wechat_api_requests_total`; given by the service, so that this
/// module need not know the metrics).
#[cfg(feature = "metrics")]
pub(crate) type Counter = Arc<dyn Fn(&str, &str) + Send + Sync>;

struct Inner {
    http: reqwest::Client,
    appid: String,
    secret: String,
    /// The base URL as given, without a trailing `/`.
    base: String,
    /// The same, parsed: every endpoint's URL is made from it.
    base_url: url::Url,
    /// Where QR code images are (`showqrcode`), parsed.
    mp_base_url: url::Url,
    timeout: Duration,
    /// The cached token; the lock is held across a refresh, so concurrent
    /// callers wait for the one refresh instead of starting their own.
    token: Mutex<Option<CachedToken>>,
    /// Where tokens are shared with other instances, if anywhere.
    shared: Option<SharedTokens>,
    /// Where each request is counted (the `metrics` feature), once a
    /// service with metrics takes the client.
    #[cfg(feature = "metrics")]
    counted: std::sync::OnceLock<Counter>,
}

#[derive(Clone)]
struct CachedToken {
    value: String,
    refresh_at: Instant,
}

impl fmt::Debug for ApiClient {
    // No secret, no token.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiClient")
            .field("appid", &self.inner.appid)
            .field("base", &redact_url(&self.inner.base))
            .field("mp_base", &redact_url(self.inner.mp_base_url.as_str()))
            .field("timeout", &self.inner.timeout)
            .finish_non_exhaustive()
    }
}

/// Sets up an [`ApiClient`]: base URL and time-outs.
#[derive(Clone)]
#[must_use = "a builder does nothing until `build` is called"]
pub struct ApiClientBuilder {
    appid: String,
    secret: String,
    base: String,
    mp_base: String,
    connect_timeout: Duration,
    timeout: Duration,
    shared: Option<SharedTokens>,
    /// Whether `shared` is the token's source (no `stable_token` fetch).
    source: bool,
}

impl fmt::Debug for ApiClientBuilder {
    // No secret.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiClientBuilder")
            .field("appid", &self.appid)
            .field("base", &redact_url(&self.base))
            .field("mp_base", &redact_url(&self.mp_base))
            .field("connect_timeout", &self.connect_timeout)
            .field("timeout", &self.timeout)
            .field("shared", &self.shared)
            .finish_non_exhaustive()
    }
}

impl ApiClientBuilder {
    /// The API's base URL (default [`DEFAULT_BASE_URL`]): a proxy, or a
    /// stand-in in tests. A trailing `/` is ignored.
    pub fn base_url(mut self, base: impl Into<String>) -> Self {
        self.base = base.into();
        self
    }

    /// Where QR code images are fetched, `showqrcode` (default
    /// [`DEFAULT_MP_BASE_URL`]; `WECHAT_MP_BASE`): a stand-in in tests.
    pub fn mp_base_url(mut self, base: impl Into<String>) -> Self {
        self.mp_base = base.into();
        self
    }

    /// How long connecting may take (default [`DEFAULT_TIMEOUT`]).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// How long one request may take in all, connecting included (default
    /// [`DEFAULT_TIMEOUT`]). A call that refreshes the token and retries
    /// makes up to four requests.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Shares the access token with the bot's other instances through
    /// `source` and only there: a [`TokenStore`] that is the token's
    /// source rather than a cache of it — an authorizer's token, which
    /// only its third-party platform can refresh
    /// ([`ComponentClient::authorizer_client`](crate::component::ComponentClient::authorizer_client)).
    /// The client never fetches a `stable_token` itself, so it needs no
    /// AppSecret (give `""`).
    pub fn token_source(mut self, source: impl TokenStore) -> Self {
        self.shared = Some(SharedTokens(Arc::new(source)));
        self.source = true;
        self
    }

    /// `store` (see [`TokenStore`]; with the `redis` feature,
    /// `crate::redis::RedisTokens`). Default: this client's own.
    pub fn token_store(mut self, store: impl TokenStore) -> Self {
        self.shared = Some(SharedTokens(Arc::new(store)));
        self
    }

    /// Checks the settings and builds the client.
    ///
    /// ```
    /// use wechat_events::api::{ApiClient, ApiConfigError, ApiError};
    ///
    /// let err = ApiClient::builder("wx1", "s").base_url("ftp://x").build().unwrap_err();
    /// assert!(matches!(err, ApiError::Config(ApiConfigError::Invalid { name: "WECHAT_API_BASE", .. })));
    /// ```
    pub fn build(self) -> Result<ApiClient, ApiError> {
        let invalid = |name, reason: &str| ApiConfigError::Invalid {
            name,
            reason: reason.to_owned(),
        };
        if self.appid.trim().is_empty() {
            return Err(invalid("WECHAT_APPID", "empty").into());
        }
        if self.secret.trim().is_empty() && !self.source {
            return Err(invalid("WECHAT_APPSECRET", "empty").into());
        }
        let (base, base_url) = check_base("WECHAT_API_BASE", &self.base)?;
        let (_, mp_base_url) = check_base("WECHAT_MP_BASE", &self.mp_base)?;
        if self.timeout.is_zero() || self.connect_timeout.is_zero() {
            return Err(invalid("timeout", "must be longer than zero").into());
        }
        let http = reqwest::Client::builder()
            .connect_timeout(self.connect_timeout)
            .timeout(self.timeout)
            .build()
            .map_err(|e| ApiError::Http(e.without_url()))?;
        Ok(ApiClient {
            inner: Arc::new(Inner {
                http,
                appid: self.appid,
                secret: self.secret,
                base,
                base_url,
                mp_base_url,
                timeout: self.timeout,
                token: Mutex::new(None),
                shared: self.shared,
                #[cfg(feature = "metrics")]
                counted: std::sync::OnceLock::new(),
            }),
        })
    }
}

/// A base URL without its trailing `/`, and parsed; the error names the
/// variable `name`, never the URL (it may hold a password).
fn check_base(name: &'static str, base: &str) -> Result<(String, url::Url), ApiConfigError> {
    let invalid = |reason: &str| ApiConfigError::Invalid {
        name,
        reason: reason.to_owned(),
    };
    let base = base.trim().trim_end_matches('/').to_owned();
    let rest = base
        .strip_prefix("https://")
        .or_else(|| base.strip_prefix("http://"))
        .ok_or_else(|| invalid("must start with https:// or http://"))?;
    if rest.is_empty() || rest.starts_with('/') {
        return Err(invalid("has no host"));
    }
    if base.contains(['?', '#']) {
        return Err(invalid("must not have a query or fragment"));
    }
    // The parser's message names what is wrong, never the URL itself.
    let url = url::Url::parse(&base).map_err(|e| ApiConfigError::Invalid {
        name,
        reason: format!("is not a URL: {e}"),
    })?;
    Ok((base, url))
}

impl ApiClient {
    /// A builder for the account `appid` with its AppSecret.
    pub fn builder(appid: impl Into<String>, secret: impl Into<String>) -> ApiClientBuilder {
        ApiClientBuilder {
            appid: appid.into(),
            secret: secret.into(),
            base: DEFAULT_BASE_URL.to_owned(),
            mp_base: DEFAULT_MP_BASE_URL.to_owned(),
            connect_timeout: DEFAULT_TIMEOUT,
            timeout: DEFAULT_TIMEOUT,
            shared: None,
            source: false,
        }
    }

    /// A client with the default base URL and time-outs.
    pub fn new(appid: impl Into<String>, secret: impl Into<String>) -> Result<Self, ApiError> {
        Self::builder(appid, secret).build()
    }

    /// A client from `WECHAT_APPID`, `WECHAT_APPSECRET` and, optionally,
    /// `WECHAT_API_BASE` and `WECHAT_MP_BASE`; the error names the missing
    /// or bad variable.
    pub fn from_env() -> Result<Self, ApiError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    fn from_lookup(lookup: impl Fn(&'static str) -> Option<String>) -> Result<Self, ApiError> {
        let required = |name| {
            lookup(name)
                .filter(|v| !v.trim().is_empty())
                .ok_or(ApiConfigError::Missing(name))
        };
        let mut builder = Self::builder(required("WECHAT_APPID")?, required("WECHAT_APPSECRET")?);
        if let Some(base) = lookup("WECHAT_API_BASE").filter(|v| !v.trim().is_empty()) {
            builder = builder.base_url(base);
        }
        if let Some(base) = lookup("WECHAT_MP_BASE").filter(|v| !v.trim().is_empty()) {
            builder = builder.mp_base_url(base);
        }
        builder.build()
    }

    /// The account's AppID.
    pub fn appid(&self) -> &str {
        &self.inner.appid
    }

    /// The base URL requests go to, without a trailing `/`.
    pub fn base_url(&self) -> &str {
        &self.inner.base
    }

    /// A valid access token: the cached one, or a fresh one from
    /// `cgi-bin/stable_token` when none is cached or it is about to expire.
    /// Concurrent callers share one refresh.
    pub async fn access_token(&self) -> Result<String, ApiError> {
        let mut cached = self.inner.token.lock().await;
        if let Some(token) = cached.as_ref().filter(|t| Instant::now() < t.refresh_at) {
            return Ok(token.value.clone());
        }
        let token = self.obtain_token(None).await?;
        let value = token.value.clone();
        *cached = Some(token);
        Ok(value)
    }

    /// A token to replace `rejected`, which WeChat refused: the cached one
    /// if another caller already replaced it, else a new `stable_token`
    /// fetch.
    ///
    /// The fetch uses `force_refresh: false`. WeChat's normal mode returns
    /// the token currently valid — a new one once ours expired, or the one
    /// another holder forced — while a forced refresh invalidates the token
    /// every other holder of this AppID is using (they would then force in
    /// turn), is limited to 20 a day, and is what WeChat reserves for a
    /// leaked token.
    async fn replace_token(&self, rejected: &str) -> Result<String, ApiError> {
        let mut cached = self.inner.token.lock().await;
        if let Some(token) = cached
            .as_ref()
            .filter(|t| t.value != rejected && Instant::now() < t.refresh_at)
        {
            return Ok(token.value.clone());
        }
        let token = self.obtain_token(Some(rejected)).await?;
        let value = token.value.clone();
        *cached = Some(token);
        Ok(value)
    }

    /// A token from the shared store, when there is one, else from WeChat.
    async fn obtain_token(&self, rejected: Option<&str>) -> Result<CachedToken, ApiError> {
        let Some(SharedTokens(store)) = &self.inner.shared else {
            return self.fetch_token().await;
        };
        let fetch: TokenFetch<'_> = Box::new(move || {
            Box::pin(async move {
                let token = self.fetch_token().await?;
                Ok(FreshToken {
                    valid_for: token.refresh_at.saturating_duration_since(Instant::now()),
                    value: token.value,
                })
            })
        });
        let fresh = store.token(&self.inner.appid, rejected, fetch).await?;
        Ok(CachedToken {
            value: fresh.value,
            refresh_at: Instant::now() + fresh.valid_for,
        })
    }

    async fn fetch_token(&self) -> Result<CachedToken, ApiError> {
        #[derive(Deserialize)]
        struct Answer {
            access_token: Option<String>,
            expires_in: Option<u64>,
            #[serde(default)]
            errcode: i64,
            #[serde(default)]
            errmsg: String,
        }
        tracing::debug!(appid = %self.inner.appid, "fetching a stable access token");
        let asked = Instant::now();
        let body = json!({
            "grant_type": "client_credential",
            "appid": self.inner.appid,
            "secret": self.inner.secret,
            "force_refresh": false,
        });
        let answer =
            (self.post_raw::<Answer>(STABLE_TOKEN, None, &body).await).and_then(|a| {
                match a.errcode {
                    0 => Ok(a),
                    errcode => Err(ApiError::WeChat {
                        errcode,
                        errmsg: a.errmsg,
                    }),
                }
            });
        self.count(STABLE_TOKEN, &answer);
        let answer = answer?;
        let missing = |what| ApiError::Decode {
            path: STABLE_TOKEN.to_owned(),
            source: <serde_json::Error as serde::de::Error>::missing_field(what),
        };
        let value = answer
            .access_token
            .filter(|t| !t.is_empty())
            .ok_or_else(|| missing("access_token"))?;
        let expires_in = answer.expires_in.ok_or_else(|| missing("expires_in"))?;
        Ok(CachedToken {
            value,
            refresh_at: asked + token_lifetime(expires_in),
        })
    }

    /// POSTs `body` as JSON to `path` (such as `/cgi-bin/menu/create`) with
    /// the access token, and returns WeChat's JSON answer when its
    /// `errcode` is 0 or absent. A rejected token (see [`TOKEN_ERRCODES`])
    /// is replaced and the call retried once; the second answer is final.
    pub async fn post_json(&self, path: &str, body: &Value) -> Result<Value, ApiError> {
        self.with_token(path, |token| async move {
            let request = self.inner.http.post(self.endpoint(path, Some(&token), &[]));
            let answer = self.exchange(request.json(body)).await?;
            json_answer(path, &answer.bytes)
        })
        .await
    }

    /// GETs `path` with `query` (such as `/cgi-bin/user/info` with
    /// `[("openid", "o…")]`) and the access token, and returns WeChat's
    /// JSON answer as [`ApiClient::post_json`] does.
    ///
    /// ```no_run
    /// # async fn f(api: wechat_events::api::ApiClient) -> Result<(), wechat_events::api::ApiError> {
    /// let menu = api.get_json("/cgi-bin/get_current_selfmenu_info", &[]).await?;
    /// # Ok(()) }
    /// ```
    pub async fn get_json(&self, path: &str, query: &[(&str, &str)]) -> Result<Value, ApiError> {
        self.with_token(path, |token| async move {
            let request = self
                .inner
                .http
                .get(self.endpoint(path, Some(&token), query));
            let answer = self.exchange(request).await?;
            json_answer(path, &answer.bytes)
        })
        .await
    }

    /// POSTs `file` as a `multipart/form-data` upload (its field, file
    /// name, type and bytes) to `path` with `query` and the access token,
    /// and returns WeChat's JSON answer as [`ApiClient::post_json`] does.
    /// For temporary media, [`MediaApi::upload`] checks size and format
    /// first.
    pub async fn upload(
        &self,
        path: &str,
        query: &[(&str, &str)],
        file: &FilePart,
    ) -> Result<Value, ApiError> {
        self.with_token(path, |token| async move {
            // A form is consumed by sending: made again for a retry, the
            // bytes shared, not copied.
            let body = reqwest::Body::from(file.bytes.clone());
            let part = reqwest::multipart::Part::stream_with_length(body, file.bytes.len() as u64)
                .file_name(file.file_name.clone())
                .mime_str(&file.content_type)
                .map_err(|e| ApiError::Http(e.without_url()))?;
            let form = reqwest::multipart::Form::new().part(file.field.clone(), part);
            let request = self
                .inner
                .http
                .post(self.endpoint(path, Some(&token), query));
            let answer = self.exchange(request.multipart(form)).await?;
            json_answer(path, &answer.bytes)
        })
        .await
    }

    /// GETs `path` with `query` and the access token, and returns the
    /// answer's bytes (a media file, say) with its type and file name. An
    /// answer that is JSON with a non-zero `errcode` is
    /// [`ApiError::WeChat`]; other JSON is returned as it is (a video's
    /// `media/get` answers `{"video_url": …}`).
    pub async fn download(&self, path: &str, query: &[(&str, &str)]) -> Result<Download, ApiError> {
        self.with_token(path, |token| async move {
            let request = self
                .inner
                .http
                .get(self.endpoint(path, Some(&token), query));
            let answer = self.exchange(request).await?;
            if answer.is_json() {
                json_answer(path, &answer.bytes)?;
            }
            Ok(answer)
        })
        .await
    }

    /// Runs `attempt` with the access token; when WeChat rejects the token
    /// (see [`TOKEN_ERRCODES`]), replaces it and runs `attempt` once more.
    async fn with_token<T, F, Fut>(&self, path: &str, attempt: F) -> Result<T, ApiError>
    where
        F: Fn(String) -> Fut,
        Fut: std::future::Future<Output = Result<T, ApiError>>,
    {
        let token = self.access_token().await?;
        let first = attempt(token.clone()).await;
        self.count(path, &first);
        match first {
            Err(ApiError::WeChat { errcode, .. }) if TOKEN_ERRCODES.contains(&errcode) => {
                tracing::debug!(errcode, path, "access token rejected; refreshing once");
                let fresh = self.replace_token(&token).await?;
                let second = attempt(fresh).await;
                self.count(path, &second);
                second
            }
            other => other,
        }
    }

    /// Counts each request into `metrics` (as its account's), from now on:
    /// the first service with metrics to take the client counts it.
    #[cfg(feature = "metrics")]
    pub(crate) fn count_into(&self, counter: Counter) {
        let _ = self.inner.counted.set(counter);
    }

    /// Counts one request to `path` that came to `result`.
    #[cfg_attr(not(feature = "metrics"), allow(unused_variables))]
    fn count<T>(&self, path: &str, result: &Result<T, ApiError>) {
        #[cfg(feature = "metrics")]
        if let Some(counter) = self.inner.counted.get() {
            let mut code = itoa::Buffer::new();
            let errcode = match result {
                Ok(_) => "0",
                Err(ApiError::WeChat { errcode, .. }) => code.format(*errcode),
                Err(ApiError::Timeout { .. }) => "timeout",
                Err(ApiError::Decode { .. }) => "decode",
                Err(_) => "http",
            };
            // The endpoint, without its query: a path the code names.
            let endpoint = path.split('?').next().unwrap_or(path);
            counter(endpoint, errcode);
        }
    }

    /// The URL of `path` (such as `/cgi-bin/message/custom/send`, or
    /// `/x/y?a=1`) under the base URL, with `query` and, when there is a
    /// token, `access_token` added to its query.
    fn endpoint(&self, path: &str, token: Option<&str>, query: &[(&str, &str)]) -> url::Url {
        under(&self.inner.base_url, path, token, query)
    }

    /// One request, its answer read whole. An HTTP status other than 2xx is
    /// [`ApiError::Http`]; no error carries the URL.
    async fn exchange(&self, request: reqwest::RequestBuilder) -> Result<Download, ApiError> {
        let exchange = async {
            let response = request.send().await?.error_for_status()?;
            let header = |name| {
                response
                    .headers()
                    .get(name)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned)
            };
            let content_type = header(reqwest::header::CONTENT_TYPE).unwrap_or_default();
            let file_name = header(reqwest::header::CONTENT_DISPOSITION)
                .as_deref()
                .and_then(disposition_file_name);
            let bytes = response.bytes().await?;
            Ok(Download {
                content_type,
                file_name,
                bytes: bytes.to_vec(),
            })
        };
        exchange.await.map_err(|e: reqwest::Error| {
            if e.is_timeout() {
                ApiError::Timeout {
                    after: self.inner.timeout,
                }
            } else {
                // The URL holds the access token: keep it out of the error.
                ApiError::Http(e.without_url())
            }
        })
    }

    /// One request: `body` as JSON to `path`, the answer decoded as `T`.
    async fn post_raw<T: DeserializeOwned>(
        &self,
        path: &str,
        token: Option<&str>,
        body: &Value,
    ) -> Result<T, ApiError> {
        let request = self
            .inner
            .http
            .post(self.endpoint(path, token, &[]))
            .json(body);
        let answer = self.exchange(request).await?;
        serde_json::from_slice(&answer.bytes).map_err(|source| ApiError::Decode {
            path: path.to_owned(),
            source,
        })
    }

    /// POSTs `body` to `path` and decodes WeChat's answer as `T` (after
    /// checking its `errcode`).
    pub(crate) async fn post_typed<B, T>(&self, path: &str, body: &B) -> Result<T, ApiError>
    where
        B: serde::Serialize + ?Sized,
        T: DeserializeOwned,
    {
        let body = serde_json::to_value(body).map_err(|source| ApiError::Decode {
            path: path.to_owned(),
            source,
        })?;
        let answer = self.post_json(path, &body).await?;
        decode(path, answer)
    }

    /// GETs `path` with `query` and decodes WeChat's answer as `T`.
    pub(crate) async fn get_typed<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, &str)],
    ) -> Result<T, ApiError> {
        let answer = self.get_json(path, query).await?;
        decode(path, answer)
    }

    /// GETs `url` without a token (a QR code image on the mp host).
    pub(crate) async fn fetch_public(&self, url: url::Url) -> Result<Download, ApiError> {
        let answer = self.exchange(self.inner.http.get(url)).await?;
        if answer.is_json() {
            json_answer("/cgi-bin/showqrcode", &answer.bytes)?;
        }
        Ok(answer)
    }

    /// The base URL of QR code images, parsed.
    pub(crate) fn mp_base(&self) -> &url::Url {
        &self.inner.mp_base_url
    }

    /// The custom menu: create, get, delete, personalised menus.
    pub fn menu(&self) -> MenuApi<'_> {
        MenuApi::new(self)
    }

    /// Parameter QR codes: create, their image.
    pub fn qrcode(&self) -> QrCodeApi<'_> {
        QrCodeApi::new(self)
    }

    /// Temporary media: upload, download.
    pub fn media(&self) -> MediaApi<'_> {
        MediaApi::new(self)
    }

    /// Users: info, batch info, the followers.
    pub fn users(&self) -> UsersApi<'_> {
        UsersApi::new(self)
    }

    /// Template messages and subscription messages.
    pub fn templates(&self) -> TemplateApi<'_> {
        TemplateApi::new(self)
    }

    /// Sends `reply` to the user `openid` as a customer-service message
    /// (客服消息); see [`custom_message`] for each kind's JSON. A reply that
    /// says nothing ([`Reply::is_empty`]: `None`, empty text, news without
    /// articles) sends nothing and is `Ok`;
    /// [`Reply::TransferCustomerService`] is [`ApiError::NotSendable`].
    ///
    /// WeChat accepts these within 48 hours of the user's last message, a
    /// few per interaction (errcode 45015 / 45047 otherwise).
    ///
    /// A text over [`TEXT_LIMIT`](crate::split::TEXT_LIMIT) bytes goes as
    /// its parts ([`crate::split::split`], no hint), one message each, in
    /// order, each counting against the quota; those that could not be
    /// sent come back in [`ApiError::Unsent`].
    pub async fn send_custom(&self, openid: &str, reply: &Reply) -> Result<(), ApiError> {
        if let Reply::Text { content } | Reply::Continued { content } = reply {
            if crate::split::too_long(content) {
                let parts = crate::split::split(content, crate::split::TEXT_LIMIT, "");
                for (sent, part) in parts.iter().enumerate() {
                    if let Err(error) = self.send_one(openid, &Reply::text(part.as_str())).await {
                        return Err(ApiError::Unsent {
                            sent,
                            unsent: parts[sent..]
                                .iter()
                                .map(|p| Reply::text(p.as_str()))
                                .collect(),
                            source: Box::new(error),
                        });
                    }
                }
                return Ok(());
            }
        }
        self.send_one(openid, reply).await
    }

    /// Sends one customer-service message.
    async fn send_one(&self, openid: &str, reply: &Reply) -> Result<(), ApiError> {
        match custom_message(openid, reply)? {
            Some(body) => self.post_json(CUSTOM_SEND, &body).await.map(drop),
            None => Ok(()),
        }
    }

    /// Shows (`true`) or hides (`false`) "typing…" to the user `openid`
    /// (`Typing` / `CancelTyping`); WeChat shows it for at most 15 seconds.
    ///
    /// WeChat allows it only within 30 s of the user's last message
    /// (errcode 45080, returned as an error) and not twice in a row
    /// (45081: the indicator is already as asked, so that is `Ok`).
    pub async fn typing(&self, openid: &str, typing: bool) -> Result<(), ApiError> {
        let body = json!({
            "touser": openid,
            "command": if typing { "Typing" } else { "CancelTyping" },
        });
        match self.post_json(CUSTOM_TYPING, &body).await {
            Err(ApiError::WeChat { errcode: 45081, .. }) => Ok(()),
            done => done.map(drop),
        }
    }
}

/// How long a token that WeChat says lives `expires_in` seconds is used:
/// [`REFRESH_EARLY`] less, but at least half of it.
fn token_lifetime(expires_in: u64) -> Duration {
    let life = Duration::from_secs(expires_in);
    life.saturating_sub(REFRESH_EARLY).max(life / 2)
}

/// The URL of `path` (which may carry a query) under `base`, with `query`
/// and the token added.
fn under(base: &url::Url, path: &str, token: Option<&str>, query: &[(&str, &str)]) -> url::Url {
    let (path, in_path) = path.split_once('?').unwrap_or((path, ""));
    let mut url = base.clone();
    // An http(s) URL always has path segments.
    if let Ok(mut segments) = url.path_segments_mut() {
        segments
            .pop_if_empty()
            .extend(path.split('/').filter(|s| !s.is_empty()));
    }
    if !in_path.is_empty() || !query.is_empty() || token.is_some() {
        let mut pairs = url.query_pairs_mut();
        pairs.extend_pairs(form_urlencoded::parse(in_path.as_bytes()));
        pairs.extend_pairs(query);
        if let Some(token) = token {
            pairs.append_pair("access_token", token);
        }
    }
    url
}

/// WeChat's JSON answer to `path`: an error when its `errcode` is not 0.
fn json_answer(path: &str, bytes: &[u8]) -> Result<Value, ApiError> {
    let answer: Value = serde_json::from_slice(bytes).map_err(|source| ApiError::Decode {
        path: path.to_owned(),
        source,
    })?;
    match answer.get("errcode").and_then(Value::as_i64) {
        None | Some(0) => Ok(answer),
        Some(errcode) => Err(ApiError::WeChat {
            errcode,
            errmsg: answer
                .get("errmsg")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
        }),
    }
}

/// A JSON answer to `path` as `T`.
fn decode<T: DeserializeOwned>(path: &str, answer: Value) -> Result<T, ApiError> {
    serde_json::from_value(answer).map_err(|source| ApiError::Decode {
        path: path.to_owned(),
        source,
    })
}

/// The `filename` of a `Content-Disposition` header.
fn disposition_file_name(header: &str) -> Option<String> {
    header.split(';').find_map(|part| {
        let (name, value) = part.trim().split_once('=')?;
        (name.trim().eq_ignore_ascii_case("filename"))
            .then(|| value.trim().trim_matches('"').to_owned())
            .filter(|v| !v.is_empty())
    })
}

/// A file for [`ApiClient::upload`]: the form field it goes in, its name,
/// its type and its bytes.
#[derive(Clone)]
#[non_exhaustive]
pub struct FilePart {
    /// The form field (`media` for WeChat's uploads).
    pub field: String,
    /// The file name sent (WeChat reads the format from its extension).
    pub file_name: String,
    /// The MIME type sent.
    pub content_type: String,
    /// The content (cheap to clone).
    pub bytes: bytes::Bytes,
}

impl FilePart {
    /// `bytes` as `file_name` in the form field `field`, typed
    /// `application/octet-stream` unless [`FilePart::content_type`] says
    /// otherwise.
    pub fn new(
        field: impl Into<String>,
        file_name: impl Into<String>,
        bytes: impl Into<bytes::Bytes>,
    ) -> Self {
        FilePart {
            field: field.into(),
            file_name: file_name.into(),
            content_type: "application/octet-stream".to_owned(),
            bytes: bytes.into(),
        }
    }

    /// The MIME type sent.
    pub fn content_type(mut self, content_type: impl Into<String>) -> Self {
        self.content_type = content_type.into();
        self
    }
}

impl fmt::Debug for FilePart {
    // Not the bytes.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FilePart")
            .field("field", &self.field)
            .field("file_name", &self.file_name)
            .field("content_type", &self.content_type)
            .field("len", &self.bytes.len())
            .finish()
    }
}

/// What [`ApiClient::download`] got: the bytes, their type and file name.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Download {
    /// The `Content-Type` (empty when the answer had none).
    pub content_type: String,
    /// The file name of `Content-Disposition`, if any.
    pub file_name: Option<String>,
    /// The content.
    pub bytes: Vec<u8>,
}

impl Download {
    /// Whether the answer is JSON (by its type, or, since WeChat's errors
    /// sometimes come as `text/plain`, by a body that starts with `{`).
    pub fn is_json(&self) -> bool {
        self.content_type.contains("json")
            || (self.content_type.starts_with("text/")
                && self.bytes.trim_ascii_start().starts_with(b"{"))
    }
}

impl fmt::Debug for Download {
    // Not the bytes.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Download")
            .field("content_type", &self.content_type)
            .field("file_name", &self.file_name)
            .field("len", &self.bytes.len())
            .finish()
    }
}

/// The customer-service message JSON for `reply` to `openid`, or `None`
/// when the reply says nothing ([`Reply::is_empty`]).
///
/// News sends its first article only: WeChat answers 45008 to more than one
/// (as the service caps passive news replies to messages at one).
///
/// ```
/// use serde_json::json;
/// use wechat_events::api::custom_message;
/// use wechat_events::Reply;
///
/// let body = custom_message("oUser", &Reply::text("hi")).unwrap().unwrap();
/// assert_eq!(body, json!({"touser": "oUser", "msgtype": "text", "text": {"content": "hi"}}));
/// assert!(custom_message("oUser", &Reply::None).unwrap().is_none());
/// assert!(custom_message("oUser", &Reply::transfer_customer_service()).is_err());
/// ```
pub fn custom_message(openid: &str, reply: &Reply) -> Result<Option<Value>, ApiError> {
    if reply.is_empty() {
        return Ok(None);
    }
    let (msgtype, content) = match reply {
        Reply::None => return Ok(None),
        Reply::Text { content } | Reply::Continued { content } => {
            ("text", json!({ "content": content }))
        }
        Reply::Image { media_id } => ("image", json!({ "media_id": media_id })),
        Reply::Voice { media_id } => ("voice", json!({ "media_id": media_id })),
        Reply::Video {
            media_id,
            title,
            description,
        } => (
            "video",
            json!({
                "media_id": media_id,
                "title": title.as_deref().unwrap_or_default(),
                "description": description.as_deref().unwrap_or_default(),
            }),
        ),
        Reply::Music(m) => (
            "music",
            json!({
                "title": m.title,
                "description": m.description,
                "musicurl": m.music_url,
                "hqmusicurl": m.hq_music_url,
                "thumb_media_id": m.thumb_media_id,
            }),
        ),
        Reply::News(articles) => (
            "news",
            json!({
                "articles": articles.iter().take(1).map(|a| json!({
                    "title": a.title,
                    "description": a.description,
                    "url": a.url,
                    "picurl": a.pic_url,
                })).collect::<Vec<_>>(),
            }),
        ),
        Reply::TransferCustomerService { .. } => {
            return Err(ApiError::NotSendable("transfer_customer_service"))
        }
    };
    let mut body = json!({ "touser": openid, "msgtype": msgtype });
    body[msgtype] = content;
    Ok(Some(body))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reply::{Article, Music};

    fn lookup<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&'static str) -> Option<String> + 'a {
        move |name| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned())
        }
    }

    #[test]
    fn env_names_the_missing_or_bad_variable() {
        let err = ApiClient::from_lookup(lookup(&[("WECHAT_APPSECRET", "s")])).unwrap_err();
        assert!(matches!(
            err,
            ApiError::Config(ApiConfigError::Missing("WECHAT_APPID"))
        ));
        let err = ApiClient::from_lookup(lookup(&[
            ("WECHAT_APPID", "wx1"),
            ("WECHAT_APPSECRET", " "),
        ]))
        .unwrap_err();
        assert!(matches!(
            err,
            ApiError::Config(ApiConfigError::Missing("WECHAT_APPSECRET"))
        ));
        assert!(
            err.to_string().contains("WECHAT_APPSECRET is not set"),
            "{err}"
        );
        let err = ApiClient::from_lookup(lookup(&[
            ("WECHAT_APPID", "wx1"),
            ("WECHAT_APPSECRET", "s"),
            ("WECHAT_API_BASE", "api.weixin.qq.com"),
        ]))
        .unwrap_err();
        assert!(
            err.to_string().contains("WECHAT_API_BASE is invalid"),
            "{err}"
        );
        let client = ApiClient::from_lookup(lookup(&[
            ("WECHAT_APPID", "wx1"),
            ("WECHAT_APPSECRET", "s"),
            ("WECHAT_API_BASE", "http://127.0.0.1:9/"),
        ]))
        .unwrap();
        assert_eq!(client.base_url(), "http://127.0.0.1:9");
        let client = ApiClient::from_lookup(lookup(&[
            ("WECHAT_APPID", "wx1"),
            ("WECHAT_APPSECRET", "s"),
        ]))
        .unwrap();
        assert_eq!(client.base_url(), DEFAULT_BASE_URL);
        assert!(
            !format!("{client:?}").contains("\"s\""),
            "the secret stays out of Debug"
        );
    }

    #[test]
    fn endpoints_are_built_under_the_base_and_debug_shows_no_secret() {
        let client = ApiClient::builder("wx1", "the-app-secret")
            .base_url("http://proxy:pw-of-proxy@127.0.0.1:9/wechat/")
            .build()
            .unwrap();
        assert_eq!(
            client.endpoint(CUSTOM_SEND, Some("a b&c"), &[]).as_str(),
            "http://proxy:pw-of-proxy@127.0.0.1:9/wechat/cgi-bin/message/custom/send?access_token=a+b%26c"
        );
        assert_eq!(
            client
                .endpoint("/x/y?lang=zh_CN", None, &[("openid", "o&1")])
                .as_str(),
            "http://proxy:pw-of-proxy@127.0.0.1:9/wechat/x/y?lang=zh_CN&openid=o%261"
        );
        let plain = ApiClient::new("wx1", "s").unwrap();
        assert_eq!(
            plain.endpoint(STABLE_TOKEN, None, &[]).as_str(),
            "https://api.weixin.qq.com/cgi-bin/stable_token"
        );
        let builder =
            ApiClient::builder("wx1", "the-app-secret").base_url("http://u:pw-of-proxy@h");
        for shown in [format!("{client:?}"), format!("{builder:?}")] {
            assert!(!shown.contains("the-app-secret"), "{shown}");
            assert!(!shown.contains("pw-of-proxy"), "{shown}");
        }
    }

    #[test]
    fn tokens_are_refreshed_early_but_used_half_their_life() {
        assert_eq!(token_lifetime(7200), Duration::from_secs(6900));
        assert_eq!(token_lifetime(400), Duration::from_secs(200));
        assert_eq!(token_lifetime(0), Duration::ZERO);
    }

    #[test]
    fn every_reply_kind_maps_to_its_message() {
        let video = Reply::Video {
            media_id: "v".into(),
            title: Some("t".into()),
            description: None,
        };
        assert_eq!(
            custom_message("o", &video).unwrap(),
            Some(json!({"touser": "o", "msgtype": "video",
                "video": {"media_id": "v", "title": "t", "description": ""}}))
        );
        let music = Reply::music(Music {
            title: "t".into(),
            description: "d".into(),
            music_url: "m".into(),
            hq_music_url: "h".into(),
            thumb_media_id: "th".into(),
        });
        assert_eq!(
            custom_message("o", &music).unwrap().unwrap()["music"],
            json!({"title": "t", "description": "d", "musicurl": "m", "hqmusicurl": "h", "thumb_media_id": "th"})
        );
        let news = Reply::news([
            Article::new("a", "u").description("d").pic_url("p"),
            Article::new("b", "u2"),
        ]);
        assert_eq!(
            custom_message("o", &news).unwrap().unwrap()["news"],
            json!({"articles": [{"title": "a", "description": "d", "url": "u", "picurl": "p"}]})
        );
        assert_eq!(custom_message("o", &Reply::text("")).unwrap(), None);
        assert_eq!(custom_message("o", &Reply::news([])).unwrap(), None);
        assert!(matches!(
            custom_message("o", &Reply::transfer_to("kf@x")),
            Err(ApiError::NotSendable("transfer_customer_service"))
        ));
    }
}
