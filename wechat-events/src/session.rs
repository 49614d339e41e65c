//! Per-user sessions: small serde values a bot remembers about each user
//! between pushes (their last location, a step in a dialogue, a choice).
//!
//! A handler takes a [`Session`] as an extractor; it belongs to the push's
//! user (`FromUserName`) and reads and writes named values, each stored
//! as JSON. A session lives [`Config::session_ttl`](crate::Config::session_ttl)
//! after its last use (read or write), then is forgotten as a whole.
//!
//! ```
//! use serde::{Deserialize, Serialize};
//! use wechat_events::session::{Session, SessionError};
//! use wechat_events::TextMessage;
//!
//! #[derive(Serialize, Deserialize)]
//! struct Order { item: String, qty: u32 }
//!
//! async fn order(msg: TextMessage, session: Session) -> Result<String, SessionError> {
//!     let mut order: Order = session
//!         .get("order")
//!         .await?
//!         .unwrap_or(Order { item: msg.content.clone(), qty: 0 });
//!     order.qty += 1;
//!     session.set("order", &order).await?;
//!     Ok(format!("{} × {}", order.item, order.qty))
//! }
//! # let _ = wechat_events::Router::new().on(order);
//! ```
//!
//! Where sessions live is a [`SessionStore`]: [`MemorySessions`] (bounded,
//! in this process) unless the service is given another — with the
//! `redis` feature and `WECHAT_REDIS_URL` set, a Redis store every
//! instance shares (`crate::redis::RedisSessions`), so that a user's next
//! push finds its session whichever instance receives it.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use futures_util::future::BoxFuture;
use serde::de::DeserializeOwned;
use serde::Serialize;

/// How many users' sessions [`MemorySessions`] keeps by default; the least
/// recently used go first beyond it.
pub const DEFAULT_SESSION_CAPACITY: u64 = 100_000;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Why a session value could not be read or written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SessionError {
    /// The value could not be turned into JSON.
    #[error("session value {name:?} cannot be stored as JSON")]
    Encode {
        /// The value's name.
        name: String,
        /// What serde said.
        #[source]
        source: serde_json::Error,
    },
    /// The stored value is not of the type asked for (the bot changed
    /// its type, or another bot shares the store).
    #[error("session value {name:?} is not of the type asked for")]
    Decode {
        /// The value's name.
        name: String,
        /// What serde said.
        #[source]
        source: serde_json::Error,
    },
    /// The store failed (a store of your own; the built-in ones do not
    /// fail: the Redis store falls back to memory).
    #[error("session store failed")]
    Store(#[source] BoxError),
}

/// Where sessions are kept: per user, named JSON texts. Implemented by
/// [`MemorySessions`] and, with the `redis` feature, by
/// `crate::redis::RedisSessions`; implement it to keep sessions in your
/// own database.
///
/// Every call counts as a use of the user's session: it lives the store's
/// TTL after its last call.
pub trait SessionStore: Send + Sync + 'static {
    /// The value `name` of `user`'s session, if set.
    fn get(
        &self,
        user: &str,
        name: &str,
    ) -> BoxFuture<'static, Result<Option<String>, SessionError>>;
    /// Sets the value `name` of `user`'s session to `json`.
    fn set(
        &self,
        user: &str,
        name: &str,
        json: String,
    ) -> BoxFuture<'static, Result<(), SessionError>>;
    /// Removes the value `name` from `user`'s session (nothing if unset).
    fn remove(&self, user: &str, name: &str) -> BoxFuture<'static, Result<(), SessionError>>;
}

/// The session of the push's user, as a handler argument. See the
/// [module docs](self).
///
/// Outside a handler (a test, a background task), [`Session::new`] opens
/// any user's session in a store.
#[derive(Clone)]
pub struct Session {
    store: Arc<dyn SessionStore>,
    user: Arc<str>,
}

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Session").field("user", &self.user).finish()
    }
}

impl Session {
    /// The session of `user` in `store`.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use std::time::Duration;
    /// use wechat_events::session::{MemorySessions, Session};
    ///
    /// # actix_rt::System::new().block_on(async {
    /// let store = Arc::new(MemorySessions::new(100, Duration::from_secs(60)));
    /// let session = Session::new(store.clone(), "oUser");
    /// session.set("step", &2u8).await.unwrap();
    /// assert_eq!(Session::new(store, "oUser").get::<u8>("step").await.unwrap(), Some(2));
    /// # });
    /// ```
    pub fn new(store: Arc<dyn SessionStore>, user: impl Into<Arc<str>>) -> Self {
        Session {
            store,
            user: user.into(),
        }
    }

    /// The user (OpenID) this session belongs to.
    pub fn user(&self) -> &str {
        &self.user
    }

    /// The value `name`, if set, as a `T`; a value stored as another type
    /// is [`SessionError::Decode`].
    pub async fn get<T: DeserializeOwned>(&self, name: &str) -> Result<Option<T>, SessionError> {
        let Some(json) = self.store.get(&self.user, name).await? else {
            return Ok(None);
        };
        serde_json::from_str(&json)
            .map(Some)
            .map_err(|source| SessionError::Decode {
                name: name.to_owned(),
                source,
            })
    }

    /// Sets the value `name` (stored as JSON).
    pub async fn set<T: Serialize + ?Sized>(
        &self,
        name: &str,
        value: &T,
    ) -> Result<(), SessionError> {
        let json = serde_json::to_string(value).map_err(|source| SessionError::Encode {
            name: name.to_owned(),
            source,
        })?;
        self.store.set(&self.user, name, json).await
    }

    /// Removes the value `name` (nothing if it was not set).
    pub async fn remove(&self, name: &str) -> Result<(), SessionError> {
        self.store.remove(&self.user, name).await
    }
}

/// The in-memory session store: a moka cache of users' sessions, bounded
/// by a number of users (least recently used out first), each forgotten
/// its TTL after its last use.
#[derive(Clone)]
pub struct MemorySessions {
    cache: moka::sync::Cache<String, Arc<HashMap<String, String>>, foldhash::fast::RandomState>,
}

impl fmt::Debug for MemorySessions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemorySessions")
            .field("users", &self.cache.entry_count())
            .finish()
    }
}

impl MemorySessions {
    /// A store of up to `capacity` users' sessions, each kept `ttl` after
    /// its last use.
    pub fn new(capacity: u64, ttl: Duration) -> Self {
        MemorySessions {
            cache: moka::sync::Cache::builder()
                .eviction_policy(moka::policy::EvictionPolicy::lru())
                .max_capacity(capacity)
                .time_to_idle(ttl.max(Duration::from_millis(1)))
                .build_with_hasher(foldhash::fast::RandomState::default()),
        }
    }

    /// The session value `name` of `user`, if set (no future: the sync
    /// core of [`SessionStore::get`]).
    pub fn get_now(&self, user: &str, name: &str) -> Option<String> {
        self.cache.get(user).and_then(|map| map.get(name).cloned())
    }

    /// Sets the session value `name` of `user`, atomically.
    pub fn set_now(&self, user: &str, name: &str, json: String) {
        self.cache.entry_by_ref(user).and_compute_with(|entry| {
            let mut map = entry.map(|e| (*e.into_value()).clone()).unwrap_or_default();
            map.insert(name.to_owned(), json);
            moka::ops::compute::Op::Put(Arc::new(map))
        });
    }

    /// Removes the session value `name` of `user`, atomically; a session
    /// left empty is removed.
    pub fn remove_now(&self, user: &str, name: &str) {
        self.cache.entry_by_ref(user).and_compute_with(|entry| {
            let Some(entry) = entry else {
                return moka::ops::compute::Op::Nop;
            };
            let mut map = (*entry.into_value()).clone();
            if map.remove(name).is_none() {
                return moka::ops::compute::Op::Nop;
            }
            if map.is_empty() {
                moka::ops::compute::Op::Remove
            } else {
                moka::ops::compute::Op::Put(Arc::new(map))
            }
        });
    }
}

impl SessionStore for MemorySessions {
    fn get(
        &self,
        user: &str,
        name: &str,
    ) -> BoxFuture<'static, Result<Option<String>, SessionError>> {
        Box::pin(std::future::ready(Ok(self.get_now(user, name))))
    }

    fn set(
        &self,
        user: &str,
        name: &str,
        json: String,
    ) -> BoxFuture<'static, Result<(), SessionError>> {
        self.set_now(user, name, json);
        Box::pin(std::future::ready(Ok(())))
    }

    fn remove(&self, user: &str, name: &str) -> BoxFuture<'static, Result<(), SessionError>> {
        self.remove_now(user, name);
        Box::pin(std::future::ready(Ok(())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[actix_rt::test]
    async fn values_are_per_user_typed_and_removable() {
        let store: Arc<dyn SessionStore> =
            Arc::new(MemorySessions::new(10, Duration::from_secs(60)));
        let a = Session::new(store.clone(), "a");
        let b = Session::new(store.clone(), "b");
        a.set("loc", &(23.1, 113.3)).await.unwrap();
        a.set("n", &1u32).await.unwrap();
        assert_eq!(
            a.get::<(f64, f64)>("loc").await.unwrap(),
            Some((23.1, 113.3))
        );
        assert_eq!(b.get::<(f64, f64)>("loc").await.unwrap(), None);
        assert!(matches!(
            a.get::<String>("n").await,
            Err(SessionError::Decode { ref name, .. }) if name == "n"
        ));
        a.remove("loc").await.unwrap();
        a.remove("never-set").await.unwrap();
        assert_eq!(a.get::<(f64, f64)>("loc").await.unwrap(), None);
        assert_eq!(a.get::<u32>("n").await.unwrap(), Some(1));
    }

    #[actix_rt::test]
    async fn a_session_is_forgotten_its_ttl_after_its_last_use() {
        let store = MemorySessions::new(10, Duration::from_millis(200));
        store.set_now("u", "k", "1".into());
        for _ in 0..4 {
            tokio::time::sleep(Duration::from_millis(100)).await;
            assert_eq!(
                store.get_now("u", "k").as_deref(),
                Some("1"),
                "kept while used"
            );
        }
        tokio::time::sleep(Duration::from_millis(400)).await;
        assert_eq!(store.get_now("u", "k"), None);
    }

    #[test]
    fn the_store_is_bounded() {
        let store = MemorySessions::new(50, Duration::from_secs(60));
        for i in 0..500 {
            store.set_now(&format!("u{i}"), "k", "1".into());
        }
        store.cache.run_pending_tasks();
        assert!(
            store.cache.entry_count() <= 50,
            "{}",
            store.cache.entry_count()
        );
        assert_eq!(
            store.get_now("u499", "k").as_deref(),
            Some("1"),
            "newest kept"
        );
    }
}
