//! A third-party platform's ticket and authorizers in Redis, shared by
//! every instance and kept across restarts (as durable as the Redis).

use futures_util::future::{BoxFuture, FutureExt};

use super::store::{
    code_digest, decode_authorizer, encode_authorizer, Authorizer, ComponentStore, StoreError,
    CODE_MEMORY,
};
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

impl RedisComponentStore {
    /// Runs `cmd` (`GET`, `SET`, `DEL`, ... on `key` with `args`); `what`
    /// names the operation in its error while Redis is down.
    async fn command<T>(
        &self,
        what: &'static str,
        cmd: &'static str,
        key: String,
        args: Vec<Vec<u8>>,
    ) -> Result<T, StoreError>
    where
        T: ::redis::FromRedisValue + Send + 'static,
    {
        (self.backend)
            .run(what, move |mut conn| async move {
                ::redis::cmd(cmd)
                    .arg(key)
                    .arg(args)
                    .query_async::<T>(&mut conn)
                    .await
            })
            .await
            .ok_or_else(|| unavailable(what))
    }
}

impl ComponentStore for RedisComponentStore {
    fn ticket(&self) -> BoxFuture<'_, Result<Option<String>, StoreError>> {
        self.command("read the ticket", "GET", self.key("ticket"), vec![])
            .boxed()
    }

    fn set_ticket<'a>(&'a self, ticket: &'a str) -> BoxFuture<'a, Result<(), StoreError>> {
        let args = vec![ticket.as_bytes().to_vec()];
        self.command("keep the ticket", "SET", self.key("ticket"), args)
            .boxed()
    }

    fn authorizer<'a>(
        &'a self,
        appid: &'a str,
    ) -> BoxFuture<'a, Result<Option<Authorizer>, StoreError>> {
        let key = self.key(&format!("authorizer:{appid}"));
        async move {
            let json: Option<Vec<u8>> = self
                .command("read an authorizer", "GET", key, vec![])
                .await?;
            json.map(|json| decode_authorizer(&json)).transpose()
        }
        .boxed()
    }

    fn set_authorizer<'a>(
        &'a self,
        authorizer: &'a Authorizer,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        let key = self.key(&format!("authorizer:{}", authorizer.appid));
        let args = vec![encode_authorizer(authorizer)];
        self.command("keep an authorizer", "SET", key, args).boxed()
    }

    fn remove_authorizer<'a>(&'a self, appid: &'a str) -> BoxFuture<'a, Result<(), StoreError>> {
        let key = self.key(&format!("authorizer:{appid}"));
        self.command("drop an authorizer", "DEL", key, vec![])
            .boxed()
    }

    fn first_sight_of_code<'a>(&'a self, code: &'a str) -> BoxFuture<'a, Result<bool, StoreError>> {
        let key = self.key(&format!("code:{}", code_digest(code)));
        let ttl = crate::redis::millis(CODE_MEMORY).to_string();
        let args = [b"1".as_slice(), b"NX", b"PX", ttl.as_bytes()].map(<[u8]>::to_vec);
        async move {
            let set: Option<String> =
                (self.command("remember an authorization code", "SET", key, args.to_vec())).await?;
            Ok(set.is_some())
        }
        .boxed()
    }
}
