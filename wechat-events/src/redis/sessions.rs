//! Sessions in Redis.

use std::time::Duration;

use futures_util::future::BoxFuture;

use super::{millis, RedisBackend};
use crate::session::{MemorySessions, SessionError, SessionStore};

/// The session store every instance shares ([`SessionStore`]): one Redis
/// hash per user, `PREFIX:ACCOUNT:session:OPENID`, a field per value
/// (its JSON), the whole hash expiring the TTL after its last use (every
/// read and write sets the expiry again). Each call is one round trip; a
/// write and its expiry go in one `MULTI`, so no session outlives its TTL.
///
/// While Redis is down, calls go to a [`MemorySessions`] of its own: a
/// user then sees what this instance stored during the outage, and after
/// it the Redis session again.
#[derive(Clone)]
pub struct RedisSessions {
    backend: RedisBackend,
    account: String,
    ttl: Duration,
    memory: MemorySessions,
}

impl std::fmt::Debug for RedisSessions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisSessions")
            .field("account", &self.account)
            .field("ttl", &self.ttl)
            .finish_non_exhaustive()
    }
}

impl RedisSessions {
    /// Sessions of `account`, each kept `ttl` after its last use; the
    /// in-memory fallback holds up to `capacity` users.
    pub fn new(backend: &RedisBackend, account: &str, capacity: u64, ttl: Duration) -> Self {
        RedisSessions {
            backend: backend.clone(),
            account: account.to_owned(),
            ttl,
            memory: MemorySessions::new(capacity, ttl),
        }
    }

    fn key(&self, user: &str) -> String {
        self.backend.key(&self.account, "session", user)
    }
}

impl SessionStore for RedisSessions {
    fn get(
        &self,
        user: &str,
        name: &str,
    ) -> BoxFuture<'static, Result<Option<String>, SessionError>> {
        let (this, key, user, name) = (
            self.clone(),
            self.key(user),
            user.to_owned(),
            name.to_owned(),
        );
        Box::pin(async move {
            let ttl = millis(this.ttl);
            let field = name.clone();
            let got = this
                .backend
                .run("session get", move |mut conn| async move {
                    let (value,): (Option<String>,) = ::redis::pipe()
                        .cmd("HGET")
                        .arg(&key)
                        .arg(&field)
                        .cmd("PEXPIRE")
                        .arg(&key)
                        .arg(ttl)
                        .ignore()
                        .query_async(&mut conn)
                        .await?;
                    Ok(value)
                })
                .await;
            Ok(match got {
                Some(value) => value,
                None => this.memory.get_now(&user, &name),
            })
        })
    }

    fn set(
        &self,
        user: &str,
        name: &str,
        json: String,
    ) -> BoxFuture<'static, Result<(), SessionError>> {
        let (this, key, user, name) = (
            self.clone(),
            self.key(user),
            user.to_owned(),
            name.to_owned(),
        );
        Box::pin(async move {
            let ttl = millis(this.ttl);
            let (field, value) = (name.clone(), json.clone());
            let stored = this
                .backend
                .run("session set", move |mut conn| async move {
                    ::redis::pipe()
                        .atomic()
                        .cmd("HSET")
                        .arg(&key)
                        .arg(&field)
                        .arg(&value)
                        .ignore()
                        .cmd("PEXPIRE")
                        .arg(&key)
                        .arg(ttl)
                        .ignore()
                        .query_async::<()>(&mut conn)
                        .await
                })
                .await;
            if stored.is_none() {
                this.memory.set_now(&user, &name, json);
            }
            Ok(())
        })
    }

    fn remove(&self, user: &str, name: &str) -> BoxFuture<'static, Result<(), SessionError>> {
        let (this, key, user, name) = (
            self.clone(),
            self.key(user),
            user.to_owned(),
            name.to_owned(),
        );
        Box::pin(async move {
            let ttl = millis(this.ttl);
            let field = name.clone();
            let removed = this
                .backend
                .run("session remove", move |mut conn| async move {
                    ::redis::pipe()
                        .atomic()
                        .cmd("HDEL")
                        .arg(&key)
                        .arg(&field)
                        .ignore()
                        .cmd("PEXPIRE")
                        .arg(&key)
                        .arg(ttl)
                        .ignore()
                        .query_async::<()>(&mut conn)
                        .await
                })
                .await;
            if removed.is_none() {
                this.memory.remove_now(&user, &name);
            }
            Ok(())
        })
    }
}
