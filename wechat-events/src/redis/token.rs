//! The WeChat API access token in Redis.

use std::sync::LazyLock;
use std::time::{Duration, Instant};

use futures_util::future::BoxFuture;

use super::{millis, RedisBackend};
use crate::api::{ApiError, FreshToken, TokenFetch, TokenStore};

/// Stores the token and releases the lock if it is still ours, at once,
/// so that a waiter never sees the lock gone without the token there.
/// Two keys of one hash tag.
static STORE: LazyLock<::redis::Script> = LazyLock::new(|| {
    ::redis::Script::new(
        r"redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
if redis.call('GET', KEYS[2]) == ARGV[3] then redis.call('DEL', KEYS[2]) end
return 1",
    )
});

/// Releases the lock if it is still ours. One key.
static RELEASE: LazyLock<::redis::Script> = LazyLock::new(|| {
    ::redis::Script::new(
        r"if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0",
    )
});

/// Default life of the refresh lock: longer than one `stable_token` call
/// at the client's default time-out (5 s).
pub const DEFAULT_LOCK_TTL: Duration = Duration::from_secs(10);
/// Default time between two looks at the shared token while another
/// instance refreshes it.
pub const DEFAULT_POLL_INTERVAL: Duration = Duration::from_millis(50);

/// The access token shared by every instance, for
/// [`ApiClientBuilder::token_store`](crate::api::ApiClientBuilder::token_store).
///
/// The token lives at `{PREFIX:APPID}:token`, expiring when the clients
/// would refresh it. An instance that finds none (or only the one WeChat
/// just rejected) takes the lock `{PREFIX:APPID}:token:lock` (`SET NX`,
/// [`RedisTokens::lock_ttl`]), fetches a token from WeChat and stores it;
/// the others look every [`RedisTokens::poll_interval`] until it is there,
/// and fetch their own only if the lock's life passes without one. While
/// Redis is down each client fetches its own, as without a store.
///
/// ```no_run
/// use wechat_events::api::ApiClient;
/// use wechat_events::redis::{RedisBackend, RedisTokens};
///
/// let redis = RedisBackend::builder("redis://127.0.0.1:6379").build().unwrap();
/// let api = ApiClient::builder("wx123", "secret")
///     .token_store(RedisTokens::new(&redis))
///     .build()
///     .unwrap();
/// ```
#[derive(Clone, Debug)]
pub struct RedisTokens {
    backend: RedisBackend,
    lock_ttl: Duration,
    poll: Duration,
}

impl RedisTokens {
    /// Tokens shared through `backend`, with the default lock life and
    /// polling interval.
    pub fn new(backend: &RedisBackend) -> Self {
        RedisTokens {
            backend: backend.clone(),
            lock_ttl: DEFAULT_LOCK_TTL,
            poll: DEFAULT_POLL_INTERVAL,
        }
    }

    /// How long the refresh lock lives (default 10 s): make it longer than
    /// the client's time-out. It is also how long the other instances
    /// wait for the refresh before fetching their own.
    pub fn lock_ttl(mut self, ttl: Duration) -> Self {
        self.lock_ttl = ttl.max(Duration::from_millis(1));
        self
    }

    /// How often a waiting instance looks for the refreshed token
    /// (default 50 ms).
    pub fn poll_interval(mut self, interval: Duration) -> Self {
        self.poll = interval.max(Duration::from_millis(1));
        self
    }

    /// The shared token, if there is one usable and not `rejected`;
    /// `None` when Redis is down.
    async fn shared(&self, key: &str, rejected: Option<&str>) -> Option<Option<FreshToken>> {
        let key = key.to_owned();
        let (value, pttl): (Option<String>, i64) = self
            .backend
            .run("token get", move |mut conn| async move {
                ::redis::pipe()
                    .cmd("GET")
                    .arg(&key)
                    .cmd("PTTL")
                    .arg(&key)
                    .query_async(&mut conn)
                    .await
            })
            .await?;
        Some(
            value
                .filter(|v| Some(v.as_str()) != rejected && pttl > 0)
                .map(|value| FreshToken {
                    value,
                    valid_for: Duration::from_millis(pttl as u64),
                }),
        )
    }
}

/// What to do once the shared state has been looked at.
enum Next {
    Use(FreshToken),
    /// Fetch without sharing: Redis is down, or the lock holder is too slow.
    FetchAlone,
    /// Fetch, then store under the lock `id`.
    FetchAndStore(String),
}

impl TokenStore for RedisTokens {
    fn token<'a>(
        &'a self,
        appid: &'a str,
        rejected: Option<&'a str>,
        fetch: TokenFetch<'a>,
    ) -> BoxFuture<'a, Result<FreshToken, ApiError>> {
        Box::pin(async move {
            let key = self.backend.tagged_key(appid, "token");
            let lock = self.backend.tagged_key(appid, "token:lock");
            let id = format!("{:016x}", rand::random::<u64>());
            let give_up = Instant::now() + self.lock_ttl;
            let next = loop {
                match self.shared(&key, rejected).await {
                    None => break Next::FetchAlone,
                    Some(Some(token)) => break Next::Use(token),
                    Some(None) => {}
                }
                let (lock_key, lock_id, ttl) = (lock.clone(), id.clone(), millis(self.lock_ttl));
                let locked = self
                    .backend
                    .run("token lock", move |mut conn| async move {
                        ::redis::cmd("SET")
                            .arg(&lock_key)
                            .arg(&lock_id)
                            .arg("NX")
                            .arg("PX")
                            .arg(ttl)
                            .query_async::<Option<String>>(&mut conn)
                            .await
                    })
                    .await;
                match locked {
                    None => break Next::FetchAlone,
                    Some(Some(_)) => {
                        // A refresh may have finished between our look and
                        // our lock: look once more before calling WeChat.
                        match self.shared(&key, rejected).await {
                            Some(Some(token)) => {
                                self.release(&lock, &id).await;
                                break Next::Use(token);
                            }
                            _ => break Next::FetchAndStore(id),
                        }
                    }
                    Some(None) if Instant::now() >= give_up => {
                        tracing::warn!(
                            target: "wechat_events::redis",
                            appid,
                            "another instance has held the token refresh lock for {:?}; fetching a token alone",
                            self.lock_ttl
                        );
                        break Next::FetchAlone;
                    }
                    Some(None) => tokio::time::sleep(self.poll).await,
                }
            };
            match next {
                Next::Use(token) => Ok(token),
                Next::FetchAlone => fetch().await,
                Next::FetchAndStore(id) => {
                    let fetched = fetch().await;
                    match &fetched {
                        Ok(token) => self.store(&key, &lock, &id, token).await,
                        Err(_) => self.release(&lock, &id).await,
                    }
                    fetched
                }
            }
        })
    }
}

impl RedisTokens {
    async fn store(&self, key: &str, lock: &str, id: &str, token: &FreshToken) {
        let (key, lock, id) = (key.to_owned(), lock.to_owned(), id.to_owned());
        let (value, ttl) = (token.value.clone(), millis(token.valid_for));
        self.backend
            .run("token store", move |mut conn| async move {
                let mut call = STORE.key(key);
                call.key(lock).arg(value).arg(ttl).arg(id);
                call.invoke_async::<i64>(&mut conn).await
            })
            .await;
    }

    async fn release(&self, lock: &str, id: &str) {
        let (lock, id) = (lock.to_owned(), id.to_owned());
        self.backend
            .run("token unlock", move |mut conn| async move {
                let mut call = RELEASE.key(lock);
                call.arg(id);
                call.invoke_async::<i64>(&mut conn).await
            })
            .await;
    }
}
