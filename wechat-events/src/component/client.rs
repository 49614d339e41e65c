//! The component's side of WeChat's API: its own token (from the stored
//! ticket), authorization codes, authorizers' tokens (from their stored
//! refresh tokens) and the authorization page.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::future::{BoxFuture, FutureExt};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{json, Value};
use tokio::time::Instant;

use super::store::{Authorizer, ComponentStore};
use crate::api::{
    ApiClient, ApiError, FreshToken, TokenFetch, TokenStore, DEFAULT_BASE_URL, DEFAULT_TIMEOUT,
    REFRESH_EARLY, TOKEN_ERRCODES,
};

const COMPONENT_TOKEN: &str = "/cgi-bin/component/api_component_token";
const START_PUSH_TICKET: &str = "/cgi-bin/component/api_start_push_ticket";
const PRE_AUTH_CODE: &str = "/cgi-bin/component/api_create_preauthcode";
const QUERY_AUTH: &str = "/cgi-bin/component/api_query_auth";
const AUTHORIZER_TOKEN: &str = "/cgi-bin/component/api_authorizer_token";
const AUTHORIZER_INFO: &str = "/cgi-bin/component/api_get_authorizer_info";

/// errcode: the ticket is invalid or expired.
pub const TICKET_INVALID: i64 = 61006;
/// errcode: the authorizer's refresh token is invalid (it must authorize
/// the component again).
pub const REFRESH_TOKEN_INVALID: i64 = 61023;

/// The default host of the authorization page.
pub const DEFAULT_MP_BASE: &str = "https://mp.weixin.qq.com";

/// What `api_query_auth` answered for an authorization code.
#[derive(Clone)]
#[non_exhaustive]
pub struct AuthorizationInfo {
    /// The account's AppID.
    pub authorizer_appid: String,
    /// Its access token (a secret).
    pub access_token: FreshToken,
    /// Its refresh token (a secret).
    pub refresh_token: String,
}

impl std::fmt::Debug for AuthorizationInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthorizationInfo")
            .field("authorizer_appid", &self.authorizer_appid)
            .finish_non_exhaustive()
    }
}

/// A component's API client. Cheap to clone; clones share the cached
/// component token.
#[derive(Clone)]
pub struct ComponentClient {
    inner: Arc<Inner>,
}

struct Inner {
    http: reqwest::Client,
    base: url::Url,
    mp_base: String,
    appid: String,
    secret: String,
    timeout: Duration,
    store: Arc<dyn ComponentStore>,
    /// The cached component token; held across a refresh.
    token: tokio::sync::Mutex<Option<(String, Instant)>>,
    /// Where the component token and the authorizers' tokens are shared
    /// with the other instances (Redis), if anywhere.
    shared: Option<Arc<dyn TokenStore>>,
    /// Whether `api_start_push_ticket` was called (once per process).
    asked_for_ticket: AtomicBool,
    /// Authorizers whose refresh token WeChat refused: logged once.
    refused: Mutex<HashSet<String>>,
}

impl std::fmt::Debug for ComponentClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ComponentClient")
            .field("appid", &self.inner.appid)
            .field("base", &self.inner.base.as_str())
            .finish_non_exhaustive()
    }
}

impl ComponentClient {
    /// A client for the component `appid` with its AppSecret, keeping its
    /// ticket and authorizers in `store`; `base` is the API's base URL
    /// (`None`: WeChat's), `shared` where tokens are shared with other
    /// instances.
    pub fn new(
        appid: impl Into<String>,
        secret: impl Into<String>,
        base: Option<&str>,
        store: Arc<dyn ComponentStore>,
        shared: Option<Arc<dyn TokenStore>>,
    ) -> Result<ComponentClient, ApiError> {
        let base = base
            .unwrap_or(DEFAULT_BASE_URL)
            .trim()
            .trim_end_matches('/');
        let base = url::Url::parse(base).map_err(|e| {
            ApiError::Config(crate::api::ApiConfigError::Invalid {
                name: "WECHAT_API_BASE",
                reason: format!("is not a URL: {e}"),
            })
        })?;
        let http = reqwest::Client::builder()
            .connect_timeout(DEFAULT_TIMEOUT)
            .timeout(DEFAULT_TIMEOUT)
            .build()
            .map_err(|e| ApiError::Http(e.without_url()))?;
        Ok(ComponentClient {
            inner: Arc::new(Inner {
                http,
                base,
                mp_base: DEFAULT_MP_BASE.to_owned(),
                appid: appid.into(),
                secret: secret.into(),
                timeout: DEFAULT_TIMEOUT,
                store,
                token: tokio::sync::Mutex::new(None),
                shared,
                asked_for_ticket: AtomicBool::new(false),
                refused: Mutex::new(HashSet::new()),
            }),
        })
    }

    /// The authorization page's host (default `https://mp.weixin.qq.com`).
    pub fn with_mp_base(mut self, base: impl Into<String>) -> Self {
        if let Some(inner) = Arc::get_mut(&mut self.inner) {
            inner.mp_base = base.into().trim_end_matches('/').to_owned();
        }
        self
    }

    /// The component's AppID.
    pub fn appid(&self) -> &str {
        &self.inner.appid
    }

    /// Where the ticket and the authorizers are kept.
    pub fn store(&self) -> &Arc<dyn ComponentStore> {
        &self.inner.store
    }

    /// A valid `component_access_token`: the cached one, else one fetched
    /// with the stored ticket (shared through Redis when configured, one
    /// refresh at a time). Without a ticket — a cold start before WeChat's
    /// first push of one — the first call asks WeChat to push one now
    /// (`api_start_push_ticket`) and every call is an error until it
    /// arrives.
    pub async fn component_token(&self) -> Result<String, ApiError> {
        self.token_replacing(None).await
    }

    async fn token_replacing(&self, rejected: Option<&str>) -> Result<String, ApiError> {
        let mut cached = self.inner.token.lock().await;
        if let Some((value, refresh_at)) = cached.as_ref() {
            if Instant::now() < *refresh_at && Some(value.as_str()) != rejected {
                return Ok(value.clone());
            }
        }
        let fresh = match &self.inner.shared {
            Some(shared) => {
                let fetch: TokenFetch<'_> = Box::new(move || self.fetch_component_token().boxed());
                shared
                    .token(&component_key(&self.inner.appid), rejected, fetch)
                    .await?
            }
            None => self.fetch_component_token().await?,
        };
        *cached = Some((fresh.value.clone(), Instant::now() + fresh.valid_for));
        Ok(fresh.value)
    }

    async fn fetch_component_token(&self) -> Result<FreshToken, ApiError> {
        let ticket = self.inner.store.ticket().await.map_err(store_error)?;
        let Some(ticket) = ticket else {
            if !self.inner.asked_for_ticket.swap(true, Ordering::SeqCst) {
                match self.start_push_ticket().await {
                    Ok(()) => tracing::info!(
                        component = %self.inner.appid,
                        "no component_verify_ticket stored: asked WeChat to push one now"
                    ),
                    Err(e) => tracing::warn!(
                        component = %self.inner.appid,
                        error = %e,
                        "no component_verify_ticket stored, and asking WeChat to push one failed"
                    ),
                }
            }
            return Err(ApiError::NoToken(
                "no component_verify_ticket yet: WeChat pushes one to the authorization URL \
                 every 10 minutes (one was asked for)"
                    .to_owned(),
            ));
        };
        #[derive(Deserialize)]
        struct Answer {
            component_access_token: String,
            expires_in: u64,
        }
        let asked = Instant::now();
        let body = json!({
            "component_appid": self.inner.appid,
            "component_appsecret": self.inner.secret,
            "component_verify_ticket": ticket,
        });
        let answer: Answer = self.post(COMPONENT_TOKEN, None, &body).await?;
        Ok(FreshToken {
            value: answer.component_access_token,
            valid_for: lifetime(answer.expires_in).saturating_sub(asked.elapsed()),
        })
    }

    /// Asks WeChat to push a `component_verify_ticket` now.
    pub async fn start_push_ticket(&self) -> Result<(), ApiError> {
        let body = json!({
            "component_appid": self.inner.appid,
            "component_secret": self.inner.secret,
        });
        self.post::<Value>(START_PUSH_TICKET, None, &body)
            .await
            .map(drop)
    }

    /// POSTs `body` to `path` with the component token, replacing a
    /// rejected token once.
    async fn post_component<T: DeserializeOwned>(
        &self,
        path: &str,
        body: &Value,
    ) -> Result<T, ApiError> {
        let token = self.component_token().await?;
        match self.post(path, Some(&token), body).await {
            Err(ApiError::WeChat { errcode, .. }) if TOKEN_ERRCODES.contains(&errcode) => {
                let fresh = self.token_replacing(Some(&token)).await?;
                self.post(path, Some(&fresh), body).await
            }
            other => other,
        }
    }

    /// Exchanges an authorization code (`api_query_auth`).
    pub async fn query_auth(&self, code: &str) -> Result<AuthorizationInfo, ApiError> {
        #[derive(Deserialize)]
        struct Answer {
            authorization_info: Info,
        }
        #[derive(Deserialize)]
        struct Info {
            authorizer_appid: String,
            authorizer_access_token: String,
            expires_in: u64,
            authorizer_refresh_token: String,
        }
        let asked = Instant::now();
        let body = json!({ "component_appid": self.inner.appid, "authorization_code": code });
        let answer: Answer = self.post_component(QUERY_AUTH, &body).await?;
        let info = answer.authorization_info;
        Ok(AuthorizationInfo {
            authorizer_appid: info.authorizer_appid,
            access_token: FreshToken {
                value: info.authorizer_access_token,
                valid_for: lifetime(info.expires_in).saturating_sub(asked.elapsed()),
            },
            refresh_token: info.authorizer_refresh_token,
        })
    }

    /// The authorizer's original id (`user_name`, `gh_...`) and name
    /// (`api_get_authorizer_info`).
    pub async fn authorizer_info(
        &self,
        authorizer_appid: &str,
    ) -> Result<(Option<String>, Option<String>), ApiError> {
        #[derive(Deserialize)]
        struct Answer {
            authorizer_info: Info,
        }
        #[derive(Deserialize)]
        struct Info {
            user_name: Option<String>,
            nick_name: Option<String>,
        }
        let body = json!({
            "component_appid": self.inner.appid,
            "authorizer_appid": authorizer_appid,
        });
        let answer: Answer = self.post_component(AUTHORIZER_INFO, &body).await?;
        Ok((
            answer.authorizer_info.user_name,
            answer.authorizer_info.nick_name,
        ))
    }

    /// Exchanges `code` and keeps the authorizer it names, with its `gh_`
    /// id: what an `authorized` or `updateauthorized` push does.
    pub async fn authorize(&self, code: &str) -> Result<Authorizer, ApiError> {
        let info = self.query_auth(code).await?;
        let (user_name, nick_name) = self.authorizer_info(&info.authorizer_appid).await?;
        let authorizer = Authorizer::new(&info.authorizer_appid, &info.refresh_token)
            .with_info(user_name, nick_name);
        self.inner
            .store
            .set_authorizer(&authorizer)
            .await
            .map_err(store_error)?;
        refused(&self.inner.refused).remove(&authorizer.appid);
        Ok(authorizer)
    }

    /// A fresh access token of `authorizer_appid` from its stored refresh
    /// token (`api_authorizer_token`); the refresh token WeChat returns is
    /// kept. A refresh token WeChat refuses (61023: the account must
    /// authorize again) is logged once.
    pub async fn refresh_authorizer_token(
        &self,
        authorizer_appid: &str,
    ) -> Result<FreshToken, ApiError> {
        let stored = self.inner.store.authorizer(authorizer_appid).await;
        let Some(mut authorizer) = stored.map_err(store_error)? else {
            return Err(ApiError::NoToken(format!(
                "{authorizer_appid} has not authorized this component"
            )));
        };
        #[derive(Deserialize)]
        struct Answer {
            authorizer_access_token: String,
            expires_in: u64,
            authorizer_refresh_token: Option<String>,
        }
        let asked = Instant::now();
        let body = json!({
            "component_appid": self.inner.appid,
            "authorizer_appid": authorizer_appid,
            "authorizer_refresh_token": authorizer.refresh_token,
        });
        let answer: Answer = match self.post_component(AUTHORIZER_TOKEN, &body).await {
            Ok(answer) => answer,
            Err(e) => {
                if e.errcode() == Some(REFRESH_TOKEN_INVALID)
                    && refused(&self.inner.refused).insert(authorizer_appid.to_owned())
                {
                    tracing::error!(
                        component = %self.inner.appid,
                        authorizer = authorizer_appid,
                        "WeChat refused the authorizer's refresh token (61023): it must authorize \
                         the component again"
                    );
                }
                return Err(e);
            }
        };
        if let Some(refresh) = answer.authorizer_refresh_token.filter(|r| !r.is_empty()) {
            if refresh != authorizer.refresh_token {
                authorizer.refresh_token = refresh;
                self.inner
                    .store
                    .set_authorizer(&authorizer)
                    .await
                    .map_err(store_error)?;
            }
        }
        Ok(FreshToken {
            value: answer.authorizer_access_token,
            valid_for: lifetime(answer.expires_in).saturating_sub(asked.elapsed()),
        })
    }

    /// An API client of the authorizer `authorizer_appid` (customer-service
    /// messages, typing, menus, ...), its token refreshed through this
    /// component.
    pub fn authorizer_client(&self, authorizer_appid: &str) -> Result<ApiClient, ApiError> {
        let source = AuthorizerTokens {
            component: self.clone(),
        };
        ApiClient::builder(authorizer_appid, "")
            .base_url(self.inner.base.as_str().trim_end_matches('/'))
            .token_source(source)
            .build()
    }

    /// A client of the authorizer using `token` as it is (for the release
    /// test's `QUERY_AUTH_CODE`, answered with the token `api_query_auth`
    /// returned).
    pub(crate) fn client_with_token(
        &self,
        authorizer_appid: &str,
        token: FreshToken,
    ) -> Result<ApiClient, ApiError> {
        ApiClient::builder(authorizer_appid, "")
            .base_url(self.inner.base.as_str().trim_end_matches('/'))
            .token_source(FixedToken(token))
            .build()
    }

    /// A new `pre_auth_code` (`api_create_preauthcode`).
    pub async fn pre_auth_code(&self) -> Result<String, ApiError> {
        #[derive(Deserialize)]
        struct Answer {
            pre_auth_code: String,
        }
        let body = json!({ "component_appid": self.inner.appid });
        let answer: Answer = self.post_component(PRE_AUTH_CODE, &body).await?;
        Ok(answer.pre_auth_code)
    }

    /// The authorization page for an account's administrator, with a new
    /// `pre_auth_code`: WeChat sends them back to `redirect_uri` after they
    /// authorize. `auth_type`: 1 Official Accounts only, 2 mini programs
    /// only, 3 both.
    pub async fn authorization_url(
        &self,
        redirect_uri: &str,
        auth_type: u8,
    ) -> Result<String, ApiError> {
        let code = self.pre_auth_code().await?;
        Ok(authorization_url(
            &self.inner.mp_base,
            &self.inner.appid,
            &code,
            redirect_uri,
            auth_type,
        ))
    }

    /// POSTs `body` as JSON to `path`, with `component_access_token` when
    /// given; WeChat's non-zero `errcode` is an error.
    async fn post<T: DeserializeOwned>(
        &self,
        path: &str,
        token: Option<&str>,
        body: &Value,
    ) -> Result<T, ApiError> {
        let mut url = self.inner.base.clone();
        url.set_path(&format!("{}{path}", url.path().trim_end_matches('/')));
        if let Some(token) = token {
            url.query_pairs_mut()
                .append_pair("component_access_token", token);
        }
        let request = self.inner.http.post(url).json(body);
        let exchange = async { request.send().await?.error_for_status()?.bytes().await };
        let bytes = exchange.await.map_err(|e| {
            if e.is_timeout() {
                ApiError::Timeout {
                    after: self.inner.timeout,
                }
            } else {
                // The URL holds the component token.
                ApiError::Http(e.without_url())
            }
        })?;
        let value: Value = serde_json::from_slice(&bytes).map_err(|source| ApiError::Decode {
            path: path.to_owned(),
            source,
        })?;
        let errcode = value.get("errcode").and_then(Value::as_i64).unwrap_or(0);
        if errcode != 0 {
            let errmsg = value.get("errmsg").and_then(Value::as_str).unwrap_or("");
            return Err(ApiError::WeChat {
                errcode,
                errmsg: errmsg.to_owned(),
            });
        }
        serde_json::from_value(value).map_err(|source| ApiError::Decode {
            path: path.to_owned(),
            source,
        })
    }
}

/// The authorization page URL (`componentloginpage`).
///
/// ```
/// use wechat_events::component::authorization_url;
/// assert_eq!(
///     authorization_url("https://mp.weixin.qq.com", "wxc", "pre@1", "https://x.test/done?a=1", 1),
///     "https://mp.weixin.qq.com/cgi-bin/componentloginpage?component_appid=wxc&pre_auth_code=pre%401&redirect_uri=https%3A%2F%2Fx.test%2Fdone%3Fa%3D1&auth_type=1"
/// );
/// ```
pub fn authorization_url(
    mp_base: &str,
    component_appid: &str,
    pre_auth_code: &str,
    redirect_uri: &str,
    auth_type: u8,
) -> String {
    let query = form_urlencoded::Serializer::new(String::new())
        .append_pair("component_appid", component_appid)
        .append_pair("pre_auth_code", pre_auth_code)
        .append_pair("redirect_uri", redirect_uri)
        .append_pair("auth_type", &auth_type.to_string())
        .finish();
    format!(
        "{}/cgi-bin/componentloginpage?{query}",
        mp_base.trim_end_matches('/')
    )
}

/// The name the component's own token is shared under (beside the
/// authorizers', which are shared under their AppIDs).
fn component_key(appid: &str) -> String {
    format!("component-{appid}")
}

fn refused(set: &Mutex<HashSet<String>>) -> std::sync::MutexGuard<'_, HashSet<String>> {
    set.lock().unwrap_or_else(|e| e.into_inner())
}

/// How long a token WeChat says lives `expires_in` seconds is used.
fn lifetime(expires_in: u64) -> Duration {
    let life = Duration::from_secs(expires_in);
    life.saturating_sub(REFRESH_EARLY).max(life / 2)
}

fn store_error(e: super::store::StoreError) -> ApiError {
    ApiError::NoToken(e.to_string())
}

/// An authorizer's tokens: refreshed through its component with its
/// stored refresh token, shared through Redis when configured.
struct AuthorizerTokens {
    component: ComponentClient,
}

impl TokenStore for AuthorizerTokens {
    fn token<'a>(
        &'a self,
        appid: &'a str,
        rejected: Option<&'a str>,
        _fetch: TokenFetch<'a>,
    ) -> BoxFuture<'a, Result<FreshToken, ApiError>> {
        let refresh: TokenFetch<'a> =
            Box::new(move || self.component.refresh_authorizer_token(appid).boxed());
        match &self.component.inner.shared {
            Some(shared) => shared.token(appid, rejected, refresh),
            None => refresh(),
        }
    }
}

/// A token given once, as it is.
struct FixedToken(FreshToken);

impl TokenStore for FixedToken {
    fn token<'a>(
        &'a self,
        _appid: &'a str,
        _rejected: Option<&'a str>,
        _fetch: TokenFetch<'a>,
    ) -> BoxFuture<'a, Result<FreshToken, ApiError>> {
        let token = self.0.clone();
        async move { Ok(token) }.boxed()
    }
}
