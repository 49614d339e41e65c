//! A third-party platform's ticket and authorizers in the state directory
//! (`WECHAT_STATE_DIR`): kept across restarts of this one instance.

use std::sync::Arc;

use futures_util::future::{BoxFuture, FutureExt};
use redb::{Database, ReadableDatabase, TableDefinition, TableError};

use super::store::{
    code_digest, decode_authorizer, encode_authorizer, Authorizer, ComponentStore, StoreError,
    CODE_MEMORY,
};
use crate::state::{blocking, now_ms, StateDb};

/// `(component AppID, "ticket" | "authorizer:APPID" | "code:DIGEST")` →
/// the ticket, an authorizer (JSON), an exchanged code (the unix ms it was
/// first seen, big-endian).
const COMPONENT: TableDefinition<(&str, &str), &[u8]> = TableDefinition::new("component");

/// The component store in the state directory's database (its own table,
/// `component`).
#[derive(Clone)]
pub struct StateComponentStore {
    db: Arc<Database>,
    component: String,
}

impl std::fmt::Debug for StateComponentStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StateComponentStore")
            .field("component", &self.component)
            .finish_non_exhaustive()
    }
}

impl StateComponentStore {
    /// The ticket and authorizers of the component `component_appid` in
    /// `db`.
    pub fn new(db: &StateDb, component_appid: &str) -> Self {
        StateComponentStore {
            db: db.database().clone(),
            component: component_appid.to_owned(),
        }
    }

    async fn get(&self, key: String) -> Result<Option<Vec<u8>>, redb::Error> {
        let (db, component) = (self.db.clone(), self.component.clone());
        blocking(move || {
            let txn = db.begin_read()?;
            let table = match txn.open_table(COMPONENT) {
                Ok(table) => table,
                // Made by the first write.
                Err(TableError::TableDoesNotExist(_)) => return Ok(None),
                Err(e) => return Err(e.into()),
            };
            let value = table.get((component.as_str(), key.as_str()))?;
            Ok(value.map(|v| v.value().to_vec()))
        })
        .await
    }

    async fn put(&self, key: String, value: Option<Vec<u8>>) -> Result<(), redb::Error> {
        let (db, component) = (self.db.clone(), self.component.clone());
        blocking(move || {
            let txn = db.begin_write()?;
            {
                let mut table = txn.open_table(COMPONENT)?;
                let key = (component.as_str(), key.as_str());
                match &value {
                    Some(value) => drop(table.insert(key, value.as_slice())?),
                    None => drop(table.remove(key)?),
                }
            }
            txn.commit()?;
            Ok(())
        })
        .await
    }
}

fn failed(what: &str) -> impl Fn(redb::Error) -> StoreError + '_ {
    move |e| StoreError(format!("{what} in the state directory: {e}"))
}

impl ComponentStore for StateComponentStore {
    fn ticket(&self) -> BoxFuture<'_, Result<Option<String>, StoreError>> {
        async move {
            let value = (self.get("ticket".into()).await).map_err(failed("read the ticket"))?;
            Ok(value.and_then(|v| String::from_utf8(v).ok()))
        }
        .boxed()
    }

    fn set_ticket<'a>(&'a self, ticket: &'a str) -> BoxFuture<'a, Result<(), StoreError>> {
        let value = ticket.as_bytes().to_vec();
        async move { (self.put("ticket".into(), Some(value)).await).map_err(failed("keep the ticket")) }
            .boxed()
    }

    fn authorizer<'a>(
        &'a self,
        appid: &'a str,
    ) -> BoxFuture<'a, Result<Option<Authorizer>, StoreError>> {
        async move {
            let value = (self.get(format!("authorizer:{appid}")).await)
                .map_err(failed("read an authorizer"))?;
            value.map(|v| decode_authorizer(&v)).transpose()
        }
        .boxed()
    }

    fn set_authorizer<'a>(
        &'a self,
        authorizer: &'a Authorizer,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        let value = encode_authorizer(authorizer);
        let key = format!("authorizer:{}", authorizer.appid);
        async move { (self.put(key, Some(value)).await).map_err(failed("keep an authorizer")) }
            .boxed()
    }

    fn remove_authorizer<'a>(&'a self, appid: &'a str) -> BoxFuture<'a, Result<(), StoreError>> {
        let key = format!("authorizer:{appid}");
        async move { (self.put(key, None).await).map_err(failed("drop an authorizer")) }.boxed()
    }

    fn first_sight_of_code<'a>(&'a self, code: &'a str) -> BoxFuture<'a, Result<bool, StoreError>> {
        let key = format!("code:{}", code_digest(code));
        async move {
            let now = now_ms();
            let seen = (self.get(key.clone()).await).map_err(failed("read a code"))?;
            let fresh = seen
                .and_then(|v| <[u8; 8]>::try_from(v.as_slice()).ok())
                .map(u64::from_be_bytes)
                .is_some_and(|at| now.saturating_sub(at) < CODE_MEMORY.as_millis() as u64);
            if fresh {
                return Ok(false);
            }
            (self.put(key, Some(now.to_be_bytes().to_vec())).await)
                .map_err(failed("remember a code"))?;
            Ok(true)
        }
        .boxed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_state_store_survives_reopening() {
        let dir = tempfile::tempdir().expect("dir");
        {
            let db = StateDb::open(dir.path()).expect("db");
            let store = StateComponentStore::new(&db, "wxc");
            assert_eq!(store.ticket().await, Ok(None));
            assert_eq!(store.authorizer("wxa").await, Ok(None));
            store.set_ticket("t1").await.unwrap();
            let a = Authorizer::new("wxa", "r1").with_info(Some("gh_a".into()), None);
            store.set_authorizer(&a).await.unwrap();
            assert_eq!(store.first_sight_of_code("c").await, Ok(true));
        }
        let db = StateDb::open(dir.path()).expect("db again");
        let store = StateComponentStore::new(&db, "wxc");
        assert_eq!(store.ticket().await, Ok(Some("t1".into())));
        let kept = store.authorizer("wxa").await.unwrap().expect("kept");
        assert_eq!(kept.user_name.as_deref(), Some("gh_a"));
        assert_eq!(store.first_sight_of_code("c").await, Ok(false));
        store.remove_authorizer("wxa").await.unwrap();
        assert_eq!(store.authorizer("wxa").await, Ok(None));
        // Another component in the same file is apart.
        assert_eq!(
            StateComponentStore::new(&db, "wxother").ticket().await,
            Ok(None)
        );
    }
}
