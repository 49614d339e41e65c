//! A third-party platform's ticket and authorizers in Redis, shared by
//! every instance and kept across restarts (as durable as the Redis).

use futures_util::future::{BoxFuture, FutureExt};

use super::store::{Authorizer, ComponentStore, StoreError, CODE_MEMORY};
use crate::redis::RedisBackend;

/// The component store in Redis: `{P:C}:component:ticket` (a string, no
/// expiry: WeChat replaces it every ten minutes),
/// `{P:C}:component:authorizer:APPID` (JSON of an [`Authorizer`], no
/// expiry: it lives until the account withdraws), and
/// `{P:C}:component:code:CODE` (`SET NX`, an hour: a code exchanged once),
/// `C` the component's AppID. While Redis is down, calls fail (there is no
/// in-memory twin that would not be lost or stale): a ticket then waits
/// for WeChat's next push, an unknown authorizer's push is answered 503 so
/// WeChat retries.
#[derive(Clone)]
pub struct RedisComponentStore {
    backend: RedisBackend,
    component: String,
}

impl std::fmt::Debug for RedisComponentStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisComponentStore")
            .field("component", &self.component)
            .finish_non_exhaustive()
    }
}

impl RedisComponentStore {
    /// The store of the component `component_appid` in `backend`.
    pub fn new(backend: &RedisBackend, component_appid: &str) -> Self {
        RedisComponentStore {
            backend: backend.clone(),
            component: component_appid.to_owned(),
        }
    }

    fn key(&self, name: &str) -> String {
        self.backend
            .tagged_key(&self.component, &format!("component:{name}"))
    }
}

fn unavailable(what: &str) -> StoreError {
    StoreError(format!("{what}: Redis did not answer"))
}

impl ComponentStore for RedisComponentStore {
    fn ticket(&self) -> BoxFuture<'_, Result<Option<String>, StoreError>> {
        let key = self.key("ticket");
        async move {
            let got = self
                .backend
                .run("component ticket get", move |mut conn| async move {
                    ::redis::cmd("GET")
                        .arg(key)
                        .query_async::<Option<String>>(&mut conn)
                        .await
                })
                .await;
            got.ok_or_else(|| unavailable("read the ticket"))
        }
        .boxed()
    }

    fn set_ticket<'a>(&'a self, ticket: &'a str) -> BoxFuture<'a, Result<(), StoreError>> {
        let (key, ticket) = (self.key("ticket"), ticket.to_owned());
        async move {
            let set = self
                .backend
                .run("component ticket set", move |mut conn| async move {
                    ::redis::cmd("SET")
                        .arg(key)
                        .arg(ticket)
                        .query_async::<()>(&mut conn)
                        .await
                })
                .await;
            set.ok_or_else(|| unavailable("keep the ticket"))
        }
        .boxed()
    }

    fn authorizer<'a>(
        &'a self,
        appid: &'a str,
    ) -> BoxFuture<'a, Result<Option<Authorizer>, StoreError>> {
        let key = self.key(&format!("authorizer:{appid}"));
        async move {
            let got = self
                .backend
                .run("component authorizer get", move |mut conn| async move {
                    ::redis::cmd("GET")
                        .arg(key)
                        .query_async::<Option<String>>(&mut conn)
                        .await
                })
                .await
                .ok_or_else(|| unavailable("read an authorizer"))?;
            got.map(|json| {
                serde_json::from_str(&json)
                    .map_err(|_| StoreError("read an authorizer: it does not parse".to_owned()))
            })
            .transpose()
        }
        .boxed()
    }

    fn set_authorizer<'a>(
        &'a self,
        authorizer: &'a Authorizer,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        let key = self.key(&format!("authorizer:{}", authorizer.appid));
        let json = serde_json::to_string(authorizer).expect("an authorizer serializes");
        async move {
            let set = self
                .backend
                .run("component authorizer set", move |mut conn| async move {
                    ::redis::cmd("SET")
                        .arg(key)
                        .arg(json)
                        .query_async::<()>(&mut conn)
                        .await
                })
                .await;
            set.ok_or_else(|| unavailable("keep an authorizer"))
        }
        .boxed()
    }

    fn remove_authorizer<'a>(&'a self, appid: &'a str) -> BoxFuture<'a, Result<(), StoreError>> {
        let key = self.key(&format!("authorizer:{appid}"));
        async move {
            let removed = self
                .backend
                .run("component authorizer remove", move |mut conn| async move {
                    ::redis::cmd("DEL")
                        .arg(key)
                        .query_async::<()>(&mut conn)
                        .await
                })
                .await;
            removed.ok_or_else(|| unavailable("drop an authorizer"))
        }
        .boxed()
    }

    fn first_sight_of_code<'a>(&'a self, code: &'a str) -> BoxFuture<'a, Result<bool, StoreError>> {
        // The code itself is a secret: its digest names the key.
        let digest = hex::encode(<sha1::Sha1 as sha1::Digest>::digest(code.as_bytes()));
        let key = self.key(&format!("code:{digest}"));
        let ttl = crate::redis::millis(CODE_MEMORY);
        async move {
            let set = self
                .backend
                .run("component code", move |mut conn| async move {
                    ::redis::cmd("SET")
                        .arg(key)
                        .arg(1)
                        .arg("NX")
                        .arg("PX")
                        .arg(ttl)
                        .query_async::<Option<String>>(&mut conn)
                        .await
                })
                .await
                .ok_or_else(|| unavailable("remember an authorization code"))?;
            Ok(set.is_some())
        }
        .boxed()
    }
}
