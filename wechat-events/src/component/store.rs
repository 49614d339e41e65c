//! What a component keeps: the last `component_verify_ticket` and, per
//! authorizer, its refresh token and `gh_` id. It must survive a restart
//! and be shared by every instance (a lost ticket is errcode 61006 until
//! WeChat pushes the next, a lost refresh token is 61023 until the account
//! authorizes again): in Redis when the server has it
//! ([`RedisComponentStore`](super::RedisComponentStore)), else in the
//! state directory ([`StateComponentStore`](super::StateComponentStore)),
//! else in memory
//! ([`MemoryComponentStore`], with a warning at start-up).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use futures_util::future::{BoxFuture, FutureExt};
use serde::{Deserialize, Serialize};

/// How long an authorization code is remembered as exchanged: WeChat's
/// codes live an hour, its retries of one push span 15 s.
pub const CODE_MEMORY: Duration = Duration::from_secs(3600);

/// An account that authorized the component, as the component keeps it.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Authorizer {
    /// Its AppID.
    pub appid: String,
    /// `authorizer_refresh_token`: the latest WeChat returned (a secret:
    /// not in `Debug`).
    pub refresh_token: String,
    /// Its original id (`user_name`, `gh_...`): the `ToUserName` of its
    /// pushes. `None` until `api_get_authorizer_info` answered.
    pub user_name: Option<String>,
    /// Its name (`nick_name`), for logs.
    pub nick_name: Option<String>,
}

impl Authorizer {
    /// An authorizer with its refresh token, its ids not yet known.
    pub fn new(appid: impl Into<String>, refresh_token: impl Into<String>) -> Self {
        Authorizer {
            appid: appid.into(),
            refresh_token: refresh_token.into(),
            user_name: None,
            nick_name: None,
        }
    }

    /// With its `gh_` id and name.
    pub fn with_info(mut self, user_name: Option<String>, nick_name: Option<String>) -> Self {
        self.user_name = user_name;
        self.nick_name = nick_name;
        self
    }
}

impl std::fmt::Debug for Authorizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authorizer")
            .field("appid", &self.appid)
            .field("user_name", &self.user_name)
            .field("nick_name", &self.nick_name)
            .finish_non_exhaustive()
    }
}

/// A component store could not be read or written. The message names the
/// operation, never a ticket or token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the component store could not {0}")]
pub struct StoreError(pub String);

/// The name an authorization code is remembered under: its SHA-1 (the
/// code itself is a secret).
pub(crate) fn code_digest(code: &str) -> String {
    hex::encode(<sha1::Sha1 as sha1::Digest>::digest(code.as_bytes()))
}

/// An authorizer as a store keeps it (JSON).
pub(crate) fn encode_authorizer(authorizer: &Authorizer) -> Vec<u8> {
    serde_json::to_vec(authorizer).expect("an authorizer serializes")
}

/// An authorizer a store kept.
pub(crate) fn decode_authorizer(json: &[u8]) -> Result<Authorizer, StoreError> {
    serde_json::from_slice(json)
        .map_err(|_| StoreError("read an authorizer: it does not parse".to_owned()))
}

/// Where a component keeps its ticket and its authorizers (see the module
/// docs). Implementations must be durable and shared as far as the
/// deployment needs.
pub trait ComponentStore: Send + Sync + 'static {
    /// The last `component_verify_ticket`, if any.
    fn ticket(&self) -> BoxFuture<'_, Result<Option<String>, StoreError>>;
    /// Keeps `ticket` as the last one.
    fn set_ticket<'a>(&'a self, ticket: &'a str) -> BoxFuture<'a, Result<(), StoreError>>;
    /// The authorizer `appid`, if it has authorized the component.
    fn authorizer<'a>(
        &'a self,
        appid: &'a str,
    ) -> BoxFuture<'a, Result<Option<Authorizer>, StoreError>>;
    /// Keeps `authorizer` (replacing what was kept of it).
    fn set_authorizer<'a>(
        &'a self,
        authorizer: &'a Authorizer,
    ) -> BoxFuture<'a, Result<(), StoreError>>;
    /// Forgets the authorizer `appid`.
    fn remove_authorizer<'a>(&'a self, appid: &'a str) -> BoxFuture<'a, Result<(), StoreError>>;
    /// `true` the first time an authorization code is seen (within
    /// [`CODE_MEMORY`]), `false` after: a retried `authorized` push
    /// exchanges its code once.
    fn first_sight_of_code<'a>(&'a self, code: &'a str) -> BoxFuture<'a, Result<bool, StoreError>>;
}

/// A [`ComponentStore`] in this process's memory: lost at a restart, not
/// shared. For tests, and for a server with neither Redis nor a state
/// directory (which warns at start-up).
#[derive(Default)]
pub struct MemoryComponentStore {
    ticket: Mutex<Option<String>>,
    authorizers: Mutex<HashMap<String, Authorizer>>,
    codes: Mutex<HashMap<String, std::time::Instant>>,
}

impl MemoryComponentStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl ComponentStore for MemoryComponentStore {
    fn ticket(&self) -> BoxFuture<'_, Result<Option<String>, StoreError>> {
        let ticket = lock(&self.ticket).clone();
        async move { Ok(ticket) }.boxed()
    }

    fn set_ticket<'a>(&'a self, ticket: &'a str) -> BoxFuture<'a, Result<(), StoreError>> {
        *lock(&self.ticket) = Some(ticket.to_owned());
        async { Ok(()) }.boxed()
    }

    fn authorizer<'a>(
        &'a self,
        appid: &'a str,
    ) -> BoxFuture<'a, Result<Option<Authorizer>, StoreError>> {
        let found = lock(&self.authorizers).get(appid).cloned();
        async move { Ok(found) }.boxed()
    }

    fn set_authorizer<'a>(
        &'a self,
        authorizer: &'a Authorizer,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        lock(&self.authorizers).insert(authorizer.appid.clone(), authorizer.clone());
        async { Ok(()) }.boxed()
    }

    fn remove_authorizer<'a>(&'a self, appid: &'a str) -> BoxFuture<'a, Result<(), StoreError>> {
        lock(&self.authorizers).remove(appid);
        async { Ok(()) }.boxed()
    }

    fn first_sight_of_code<'a>(&'a self, code: &'a str) -> BoxFuture<'a, Result<bool, StoreError>> {
        let now = std::time::Instant::now();
        let mut codes = lock(&self.codes);
        codes.retain(|_, seen| now.duration_since(*seen) < CODE_MEMORY);
        let first = codes.insert(code.to_owned(), now).is_none();
        async move { Ok(first) }.boxed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_memory_store_keeps_what_it_is_given() {
        let store = MemoryComponentStore::new();
        assert_eq!(store.ticket().await, Ok(None));
        store.set_ticket("t1").await.unwrap();
        store.set_ticket("t2").await.unwrap();
        assert_eq!(store.ticket().await, Ok(Some("t2".into())));
        let a = Authorizer::new("wxa", "r1").with_info(Some("gh_a".into()), None);
        store.set_authorizer(&a).await.unwrap();
        assert_eq!(store.authorizer("wxa").await, Ok(Some(a)));
        assert!(!format!("{:?}", store.authorizer("wxa").await).contains("r1"));
        store.remove_authorizer("wxa").await.unwrap();
        assert_eq!(store.authorizer("wxa").await, Ok(None));
        assert_eq!(store.first_sight_of_code("c").await, Ok(true));
        assert_eq!(store.first_sight_of_code("c").await, Ok(false));
        assert_eq!(store.first_sight_of_code("d").await, Ok(true));
    }
}
