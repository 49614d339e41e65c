//! Third-party platforms (开放平台 第三方平台): one component serving every
//! Official Account that authorizes it.
//!
//! A component has its own AppID, AppSecret, token and EncodingAESKey, and
//! two URLs:
//!
//! - the **authorization URL** (`auth_path`, default `/wechat/open/auth`):
//!   WeChat's [`AuthEvent`]s — the `component_verify_ticket` every ten
//!   minutes, `authorized`, `updateauthorized`, `unauthorized`. Each is
//!   verified, decrypted, handled by the library (the ticket kept; a code
//!   exchanged once, with `api_query_auth`, and the authorizer's refresh
//!   token and `gh_` id kept; an authorizer dropped) and answered
//!   `success`; your own hooks run after ([`ComponentConfig::on_auth_event`]).
//! - the **message URL** (`message_path`, default `/wechat/open/{appid}`,
//!   entered in WeChat's console as `/wechat/open/$APPID$`): the ordinary
//!   pushes of every authorizer, encrypted with the component's key. A push
//!   is refused (403) when the AppID in its path has not authorized the
//!   component, or when its decrypted `ToUserName` is not that account's
//!   `gh_` id (`msg_signature` does not cover the path); then it is
//!   answered by the same handlers as the server's accounts, with its own
//!   stores (dedup, sessions, pending replies) keyed by the authorizer's
//!   AppID, and an [`ApiClient`](crate::api::ApiClient) (handlers', late
//!   replies') that uses the authorizer's token. [`Context::authorizer`](crate::Context::authorizer)
//!   names the authorizer; [`Context::account_name`](crate::Context::account_name)
//!   is the component's `name` (default `open_platform`), which handlers
//!   can be scoped to (`account = "open_platform"`).
//!
//! WeChat's release test (全网发布接入检测) passes by itself: pushes from its
//! test accounts are answered as the test expects, before any handler of
//! yours.
//!
//! The ticket and the authorizers' refresh tokens must survive a restart
//! and be shared by every instance: in Redis when the server has it, else
//! in the state directory; with neither, start-up warns that a restart
//! loses them (see [`store`]).

mod client;
mod events;
mod http;
#[cfg(feature = "redis")]
mod redis;
#[cfg(feature = "state")]
mod state;
pub mod store;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::future::BoxFuture;

pub use client::{
    authorization_url, AuthorizationInfo, ComponentClient, DEFAULT_MP_BASE, REFRESH_TOKEN_INVALID,
    TICKET_INVALID,
};
pub use events::{
    parse_auth_event, AuthEvent, AuthEventError, Authorization, Unauthorization, VerifyTicket,
};
#[cfg(feature = "redis")]
pub use redis::RedisComponentStore;
#[cfg(feature = "state")]
pub use state::StateComponentStore;
pub use store::{Authorizer, ComponentStore, MemoryComponentStore, StoreError};

use crate::config::{Config, ConfigError, Mode};
use crate::reply::Reply;
use crate::router::Router;
use crate::service::{BuildError, ServiceBuilder, WechatService};

/// The default authorization URL path.
pub const DEFAULT_AUTH_PATH: &str = "/wechat/open/auth";
/// The default message URL path; `{appid}` is the authorizer's AppID
/// (`$APPID$` in WeChat's console).
pub const DEFAULT_MESSAGE_PATH: &str = "/wechat/open/{appid}";
/// The default name of a component's accounts (for scopes and logs).
pub const DEFAULT_NAME: &str = "open_platform";
/// WeChat's test accounts of the release test (全网发布接入检测): an
/// Official Account and a mini program.
pub const TEST_AUTHORIZERS: [&str; 2] = ["wx570bc396a51b8ff8", "wxd101a85aa106f53e"];
/// How long a positive "has authorized" lookup is trusted before the store
/// is asked again (an `unauthorized` push handled here drops it at once).
pub const AUTHORIZED_CACHE: Duration = Duration::from_secs(30);

/// A hook run after the library handled an authorization event.
pub type AuthHook = Arc<dyn Fn(AuthEvent) -> BoxFuture<'static, ()> + Send + Sync>;

/// A component's settings: a secure-mode [`Config`] with its AppID, token,
/// EncodingAESKey and AppSecret (the behaviour settings of its
/// authorizers' services; its path is the message path, with `{appid}`),
/// plus the authorization path and hooks.
#[derive(Clone)]
pub struct ComponentConfig {
    config: Config,
    auth_path: String,
    hooks: Vec<AuthHook>,
}

impl std::fmt::Debug for ComponentConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ComponentConfig")
            .field("config", &self.config)
            .field("auth_path", &self.auth_path)
            .finish_non_exhaustive()
    }
}

impl ComponentConfig {
    /// The component `config` describes: secure mode, with its AppID,
    /// EncodingAESKey and AppSecret; its path the message path, holding
    /// `{appid}` once (a config without a path of its own gets
    /// [`DEFAULT_MESSAGE_PATH`]; give its name with `ConfigBuilder::name`,
    /// default [`DEFAULT_NAME`]).
    ///
    /// ```
    /// use wechat_events::{component::ComponentConfig, Config};
    /// let config = Config::builder("comptoken")
    ///     .appid("wxcomponent")
    ///     .aes_key("abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG")
    ///     .appsecret("componentsecret")
    ///     .build()
    ///     .unwrap();
    /// let component = ComponentConfig::new(config).unwrap();
    /// assert_eq!(component.message_path(), "/wechat/open/{appid}");
    /// assert_eq!(component.auth_path(), "/wechat/open/auth");
    /// assert_eq!(component.config().name(), "open_platform");
    /// ```
    pub fn new(config: Config) -> Result<ComponentConfig, ConfigError> {
        let mut config = config;
        if config.mode() != Mode::Secure {
            return Err(ConfigError::new(
                "open_platform.aes_key",
                "a third-party platform's pushes are always encrypted: give its EncodingAESKey \
                 (and AppID); its mode is secure",
            ));
        }
        if config.appsecret().is_none() {
            return Err(ConfigError::new(
                "open_platform.app_secret",
                "is required: the component's token is fetched with its AppSecret",
            ));
        }
        if config.path() == crate::config::DEFAULT_PATH {
            config.path = DEFAULT_MESSAGE_PATH.to_owned();
        }
        if config.name() == crate::config::DEFAULT_ACCOUNT {
            config.name = DEFAULT_NAME.to_owned();
        }
        check_message_path(config.path())
            .map_err(|reason| ConfigError::new("open_platform.message_path", reason))?;
        Ok(ComponentConfig {
            config,
            auth_path: DEFAULT_AUTH_PATH.to_owned(),
            hooks: Vec::new(),
        })
    }

    /// The authorization URL's path (default `/wechat/open/auth`).
    pub fn with_auth_path(mut self, path: impl Into<String>) -> Result<Self, ConfigError> {
        let path = path.into();
        if !path.starts_with('/') || path.contains('{') {
            return Err(ConfigError::new(
                "open_platform.auth_path",
                format!("{path:?} must start with '/' and hold no placeholder"),
            ));
        }
        self.auth_path = path;
        Ok(self)
    }

    /// Runs `hook` after the library handled each authorization event —
    /// to record who authorized, say. It runs on a task of its own.
    pub fn on_auth_event<F, Fut>(mut self, hook: F) -> Self
    where
        F: Fn(AuthEvent) -> Fut + Send + Sync + 'static,
        Fut: std::future::Future<Output = ()> + Send + 'static,
    {
        self.hooks
            .push(Arc::new(move |event| Box::pin(hook(event))));
        self
    }

    /// With `hooks` run after the ones it has.
    pub(crate) fn with_hooks(mut self, hooks: Vec<AuthHook>) -> Self {
        self.hooks.extend(hooks);
        self
    }

    /// The component's config (its authorizers' behaviour settings).
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The component's AppID.
    pub fn appid(&self) -> &str {
        self.config.appid().unwrap_or_default()
    }

    /// The authorization URL's path.
    pub fn auth_path(&self) -> &str {
        &self.auth_path
    }

    /// The message URL's path, with `{appid}`.
    pub fn message_path(&self) -> &str {
        self.config.path()
    }

    /// The message URL's path for `appid`.
    pub fn message_path_for(&self, appid: &str) -> String {
        self.config.path().replace("{appid}", appid)
    }
}

/// Why `path` cannot be a message path.
fn check_message_path(path: &str) -> Result<(), String> {
    if path.matches("{appid}").count() != 1 || path.matches('{').count() != 1 {
        return Err(format!(
            "{path:?} must hold {{appid}} exactly once (WeChat's console: $APPID$), e.g. \
             /wechat/open/{{appid}}"
        ));
    }
    if !path.starts_with('/') {
        return Err(format!("{path:?} must start with '/'"));
    }
    Ok(())
}

/// Whether `appid` can be an AppID (it comes from a URL an attacker
/// chooses: it must not mint stores, keys or log noise).
fn plausible_appid(appid: &str) -> bool {
    (2..=32).contains(&appid.len()) && appid.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// A component mounted on the server: its two URLs. Built by
/// [`WechatAccounts`](crate::WechatAccounts) from the accounts file's
/// `[open_platform]` table, or from
/// [`Accounts::with_open_platform`](crate::Accounts::with_open_platform) in
/// code.
#[derive(Clone)]
pub struct ComponentService {
    inner: Arc<Inner>,
}

/// Makes an authorizer's service: what the server gives every account
/// (routes, stores, hooks), on the builder given.
pub(crate) type Prepare = Arc<dyn Fn(ServiceBuilder) -> ServiceBuilder + Send + Sync>;

pub(crate) struct Inner {
    component: ComponentConfig,
    client: ComponentClient,
    prepare: Prepare,
    /// Where the platform's own refusals are told (under its name).
    pub(crate) observer: crate::observe::Observer,
    /// Each authorizer's service, made at its first push.
    services: Mutex<HashMap<String, WechatService>>,
    /// When each authorizer was last found authorized.
    authorized: moka::sync::Cache<String, Arc<Authorizer>>,
}

impl ComponentService {
    /// The component `component`, keeping its ticket and authorizers in
    /// `store`, sharing tokens through `shared` (Redis) when given; each
    /// authorizer's service is made by `prepare` (routes and stores) on a
    /// builder of the component's config.
    pub(crate) fn build(
        component: ComponentConfig,
        store: Arc<dyn ComponentStore>,
        shared: Option<Arc<dyn crate::api::TokenStore>>,
        prepare: Prepare,
        observer: crate::observe::Observer,
    ) -> Result<ComponentService, BuildError> {
        let config = component.config();
        let client = ComponentClient::new(
            component.appid(),
            config.appsecret().unwrap_or_default(),
            config.api_base(),
            store,
            shared,
        )?;
        tracing::info!(
            component = component.appid(),
            auth_path = component.auth_path(),
            message_path = component.message_path(),
            "third-party platform ready"
        );
        Ok(ComponentService {
            inner: Arc::new(Inner {
                component,
                client,
                prepare,
                observer,
                services: Mutex::new(HashMap::new()),
                authorized: moka::sync::Cache::builder()
                    .time_to_live(AUTHORIZED_CACHE)
                    .max_capacity(100_000)
                    .build(),
            }),
        })
    }

    /// The component's settings.
    pub fn config(&self) -> &ComponentConfig {
        &self.inner.component
    }

    /// The component's API client: its token, authorizers' clients, the
    /// authorization page.
    pub fn client(&self) -> &ComponentClient {
        &self.inner.client
    }

    /// The services made so far for authorizers (each at its first push).
    pub fn services(&self) -> Vec<WechatService> {
        lock(&self.inner.services).values().cloned().collect()
    }

    /// Drains every authorizer's service ([`WechatService::drain`]).
    pub async fn drain(&self, grace: Duration) -> bool {
        let services = self.services();
        let drains = services.iter().map(|s| s.drain(grace));
        futures_util::future::join_all(drains)
            .await
            .into_iter()
            .all(|drained| drained)
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Inner {
    /// Handles an authorization event: what the library keeps, then the
    /// hooks.
    async fn handle(&self, event: &AuthEvent) {
        let client = &self.client;
        let component = self.component.appid();
        match event {
            AuthEvent::VerifyTicket(ticket) => {
                match client.store().set_ticket(&ticket.ticket).await {
                    Ok(()) => tracing::debug!(component, "component_verify_ticket kept"),
                    Err(e) => {
                        tracing::error!(component, error = %e, "component_verify_ticket not kept")
                    }
                }
            }
            AuthEvent::Authorized(a) | AuthEvent::UpdateAuthorized(a) => {
                let authorizer = a.authorizer_appid.as_str();
                match client
                    .store()
                    .first_sight_of_code(&a.authorization_code)
                    .await
                {
                    Ok(false) => {
                        tracing::debug!(
                            component,
                            authorizer,
                            "authorization code already exchanged"
                        );
                        return;
                    }
                    Ok(true) => {}
                    Err(e) => {
                        tracing::warn!(component, authorizer, error = %e, "cannot tell whether the code was exchanged; exchanging it")
                    }
                }
                match client.authorize(&a.authorization_code).await {
                    Ok(kept) => {
                        self.authorized.invalidate(&kept.appid);
                        // A re-authorization invalidates earlier tokens: the
                        // service's client starts over.
                        lock(&self.services).remove(&kept.appid);
                        tracing::info!(
                            component,
                            authorizer = %kept.appid,
                            user_name = kept.user_name.as_deref(),
                            info_type = event.info_type(),
                            "account authorized the third-party platform"
                        );
                    }
                    Err(e) => tracing::error!(
                        component,
                        authorizer,
                        error = %crate::lifecycle::ErrorChain(&e),
                        "authorization code not exchanged: the account's pushes are refused until it authorizes again"
                    ),
                }
            }
            AuthEvent::Unauthorized(u) => {
                let authorizer = u.authorizer_appid.as_str();
                if let Err(e) = client.store().remove_authorizer(authorizer).await {
                    tracing::error!(component, authorizer, error = %e, "authorizer not dropped");
                }
                self.authorized.invalidate(authorizer);
                lock(&self.services).remove(authorizer);
                tracing::info!(component, authorizer, "account withdrew its authorization");
            }
            AuthEvent::Other { info_type, .. } => {
                tracing::info!(component, info_type = %info_type, "authorization event of a kind not handled")
            }
        }
    }

    /// The authorizer `appid`, if it has authorized the component.
    async fn authorizer(&self, appid: &str) -> Result<Option<Arc<Authorizer>>, StoreError> {
        if let Some(found) = self.authorized.get(appid) {
            return Ok(Some(found));
        }
        let Some(found) = self.client.store().authorizer(appid).await? else {
            return Ok(None);
        };
        let found = Arc::new(found);
        self.authorized.insert(appid.to_owned(), found.clone());
        Ok(Some(found))
    }

    /// The service of the authorizer `appid` (made at its first push).
    fn service(&self, appid: &str, user_name: Option<String>) -> Result<WechatService, BuildError> {
        if let Some(service) = lock(&self.services).get(appid) {
            return Ok(service.clone());
        }
        let mut config = self.component.config().clone().stored_as(appid);
        config.path = self.component.message_path_for(appid);
        let test = TEST_AUTHORIZERS.contains(&appid);
        let builder = WechatService::builder(config).for_authorizer(appid, user_name);
        let service = match test {
            true => builder.only(release_test(self.client.clone())).build()?,
            false => {
                let client = self.client.authorizer_client(appid)?;
                (self.prepare)(builder.api_client(client)).build()?
            }
        };
        let mut services = lock(&self.services);
        Ok(services.entry(appid.to_owned()).or_insert(service).clone())
    }
}

/// The release test's answers (protocol.md §9), for WeChat's test accounts.
fn release_test(client: ComponentClient) -> Router {
    use crate::{Captures, Context, TextMessage};
    Router::new()
        .keyword_reply(
            "TESTCOMPONENT_MSG_TYPE_TEXT",
            Reply::text("TESTCOMPONENT_MSG_TYPE_TEXT_callback"),
        )
        .regex(
            r"^QUERY_AUTH_CODE:(.+)$",
            move |_: TextMessage, caps: Captures, cx: Context| {
                let client = client.clone();
                async move {
                    let code = caps.get(1).unwrap_or_default().to_owned();
                    let openid = cx.openid().to_owned();
                    tokio::spawn(async move {
                        let sent = async {
                            let info = client.query_auth(&code).await?;
                            let api =
                                client.client_with_token(&info.authorizer_appid, info.access_token)?;
                            api.send_custom(&openid, &Reply::text(format!("{code}_from_api")))
                                .await
                        };
                        match sent.await {
                            Ok(()) => tracing::info!("release test: QUERY_AUTH_CODE answered"),
                            Err(e) => tracing::error!(error = %crate::lifecycle::ErrorChain(&e), "release test: QUERY_AUTH_CODE not answered"),
                        }
                    });
                    Reply::None
                }
            },
        )
        .fallback(|push: crate::Push| async move {
            match push.fields.text("Event") {
                Some(event) if push.msg_type == "event" => Reply::text(format!("{event}from_callback")),
                _ => Reply::None,
            }
        })
}
