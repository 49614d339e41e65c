//! Durable state without Redis: pending replies and sessions in one
//! embedded database file, so that a single instance loses neither at a
//! restart.
//!
//! With [`Config::state_dir`](crate::Config::state_dir)
//! (`WECHAT_STATE_DIR`) set and no Redis configured, the service keeps
//! its pending replies ([`StatePending`]) and sessions
//! ([`StateSessions`]) in `wechat-events.redb` in that directory (created
//! if missing). Redis wins when both are set: it holds them for every
//! instance.
//!
//! The file is a [redb](https://docs.rs/redb) database. redb is pure Rust
//! (no C toolchain to build, unlike SQLite or RocksDB), ACID (a commit
//! that returned survives a crash: copy-on-write B-trees, checksummed
//! commits), and keeps everything in one file. Its calls block: each
//! store operation runs in tokio's blocking pool
//! ([`tokio::task::spawn_blocking`]), and the common case — a push from a
//! user with nothing pending — is answered from an in-memory index
//! without touching the file.
//!
//! Each value expires by TTL as in the in-memory stores, by wall-clock
//! time so that the TTL holds across a restart: a pending reply
//! `WECHAT_PENDING_TTL_S` after it was queued (logged with its user and
//! counted when found expired: at the user's next push, by the sweep that
//! runs with the store's operations at most every minute, or at start-up),
//! a session `WECHAT_SESSION_TTL_S` after its last use.
//!
//! One process opens a directory once: two services of one process given
//! the same directory share the open database (their keys are apart by
//! AppID); a second process on the same directory is refused at start-up.
//! Give each instance a directory of its own.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, Mutex, Weak};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures_util::future::BoxFuture;
use redb::{Database, Durability, ReadableDatabase, ReadableTable, TableDefinition};
use serde::{Deserialize, Serialize};

use crate::config::Config;
use crate::pending::{warn_expired, warn_full, MemoryPending, PendingStore, MAX_PER_USER};
use crate::reply::Reply;
use crate::session::{SessionError, SessionStore};

/// The database file's name in the state directory.
pub const FILE_NAME: &str = "wechat-events.redb";

/// `(account, openid)` → the user's pending replies, JSON
/// `[[queued_at_ms, reply], ...]`, oldest first.
const PENDING: TableDefinition<(&str, &str), &[u8]> = TableDefinition::new("pending");
/// `(account, openid)` → the user's session, JSON [`StoredSession`].
const SESSIONS: TableDefinition<(&str, &str), &[u8]> = TableDefinition::new("sessions");

/// The longest time between two sweeps of expired entries.
const MAX_SWEEP_INTERVAL: Duration = Duration::from_secs(60);

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Why the state directory could not be used.
#[derive(Debug, thiserror::Error)]
#[error("state directory {} (WECHAT_STATE_DIR): {what}", dir.display())]
pub struct StateError {
    dir: PathBuf,
    what: &'static str,
    #[source]
    source: BoxError,
}

impl StateError {
    fn new(dir: &Path, what: &'static str, source: impl Into<BoxError>) -> Self {
        StateError {
            dir: dir.to_owned(),
            what,
            source: source.into(),
        }
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

/// The databases this process has open, by file: a directory is opened
/// once, whatever the number of services using it.
static OPEN: LazyLock<Mutex<HashMap<PathBuf, Weak<Database>>>> = LazyLock::new(Default::default);

/// The open database of a state directory, for its stores.
#[derive(Clone)]
pub struct StateDb {
    db: Arc<Database>,
    path: PathBuf,
}

impl std::fmt::Debug for StateDb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StateDb").field("path", &self.path).finish()
    }
}

impl StateDb {
    /// Opens (creating the directory and the file if missing) the
    /// database in `dir`. Blocking.
    pub fn open(dir: &Path) -> Result<StateDb, StateError> {
        std::fs::create_dir_all(dir)
            .map_err(|e| StateError::new(dir, "cannot create the directory", e))?;
        let canonical = dir
            .canonicalize()
            .map_err(|e| StateError::new(dir, "cannot resolve the directory", e))?;
        let path = canonical.join(FILE_NAME);
        let mut open = OPEN.lock().unwrap_or_else(|e| e.into_inner());
        open.retain(|_, db| db.strong_count() > 0);
        if let Some(db) = open.get(&path).and_then(Weak::upgrade) {
            return Ok(StateDb { db, path });
        }
        let db = Database::create(&path).map_err(|e| {
            let what = match e {
                redb::DatabaseError::DatabaseAlreadyOpen => {
                    "its database is open in another process: give each instance a directory \
                     of its own"
                }
                _ => "cannot open its database",
            };
            StateError::new(dir, what, e)
        })?;
        let tables = || -> Result<(), redb::Error> {
            let txn = db.begin_write()?;
            txn.open_table(PENDING)?;
            txn.open_table(SESSIONS)?;
            txn.commit()?;
            Ok(())
        };
        tables().map_err(|e| StateError::new(dir, "cannot write its database", e))?;
        let db = Arc::new(db);
        open.insert(path.clone(), Arc::downgrade(&db));
        Ok(StateDb { db, path })
    }

    /// The database, for the stores of other modules (a third-party
    /// platform's).
    pub(crate) fn database(&self) -> &Arc<Database> {
        &self.db
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The pending replies of `account` (the AppID, or any name), each
    /// shown only within `ttl`. Reads the users who have some (blocking).
    pub fn pending(&self, account: &str, ttl: Duration) -> StatePending {
        let store = StatePending {
            inner: Arc::new(PendingInner {
                db: self.db.clone(),
                account: account.to_owned(),
                ttl,
                index: moka::sync::Cache::builder()
                    .time_to_live(ttl)
                    .build_with_hasher(foldhash::fast::RandomState::default()),
                sweep: Sweep::new(ttl),
                expired: AtomicU64::new(0),
                fallback: MemoryPending::new(crate::pending::DEFAULT_MAX_BYTES, ttl),
            }),
        };
        match store.inner.load() {
            Ok(users) => tracing::info!(
                path = %self.path.display(),
                users,
                "pending replies kept in the state directory"
            ),
            Err(e) => tracing::error!(
                path = %self.path.display(),
                error = %e,
                "cannot read the pending replies in the state directory"
            ),
        }
        store
    }

    /// The sessions of `account`, each kept `ttl` after its last use.
    pub fn sessions(&self, account: &str, ttl: Duration) -> StateSessions {
        StateSessions {
            inner: Arc::new(SessionsInner {
                db: self.db.clone(),
                account: account.to_owned(),
                ttl,
                sweep: Sweep::new(ttl),
            }),
        }
    }
}

/// The service's stores for `config`'s state directory, when it is set
/// and Redis (`redis`) is not.
pub(crate) fn stores(
    config: &Config,
    redis: bool,
) -> Result<Option<(StatePending, StateSessions)>, StateError> {
    let Some(dir) = config.state_dir() else {
        return Ok(None);
    };
    if redis {
        tracing::warn!(
            dir = %dir.display(),
            "WECHAT_STATE_DIR is unused: Redis holds pending replies and sessions"
        );
        return Ok(None);
    }
    let db = StateDb::open(dir)?;
    let account = config.store_account();
    Ok(Some((
        db.pending(account, config.pending_ttl()),
        db.sessions(account, config.session_ttl()),
    )))
}

pub(crate) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// Runs `f` (redb's blocking calls) in tokio's blocking pool, or right
/// here outside a runtime.
pub(crate) async fn blocking<T, F>(f: F) -> Result<T, redb::Error>
where
    T: Send + 'static,
    F: FnOnce() -> Result<T, redb::Error> + Send + 'static,
{
    if tokio::runtime::Handle::try_current().is_err() {
        return f();
    }
    match tokio::task::spawn_blocking(f).await {
        Ok(result) => result,
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        Err(e) => Err(redb::Error::Io(std::io::Error::other(e))),
    }
}

/// When the last sweep of expired entries ran; the next is due a quarter
/// of the TTL (at most [`MAX_SWEEP_INTERVAL`]) later.
struct Sweep {
    last_ms: AtomicU64,
    every_ms: u64,
}

impl Sweep {
    fn new(ttl: Duration) -> Self {
        Sweep {
            last_ms: AtomicU64::new(0),
            every_ms: ms((ttl / 4).clamp(Duration::from_millis(1), MAX_SWEEP_INTERVAL)),
        }
    }

    /// Whether a sweep is due at `now` (and then it counts as done).
    fn due(&self, now: u64) -> bool {
        let last = self.last_ms.load(Ordering::Relaxed);
        now.saturating_sub(last) >= self.every_ms
            && (self.last_ms)
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
    }
}

// ---- pending replies ----

/// A user's pending replies as stored: when each was queued (ms since the
/// epoch), and the reply.
type Stored = Vec<(u64, Reply)>;

/// Pending replies in the state directory's database ([`PendingStore`]);
/// made by [`StateDb::pending`]. Bounded at [`MAX_PER_USER`] per user and
/// by the TTL. While the file cannot be written (a full disk), replies
/// wait in memory, logged.
#[derive(Clone)]
pub struct StatePending {
    inner: Arc<PendingInner>,
}

impl std::fmt::Debug for StatePending {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StatePending")
            .field("account", &self.inner.account)
            .field("ttl", &self.inner.ttl)
            .finish_non_exhaustive()
    }
}

struct PendingInner {
    db: Arc<Database>,
    account: String,
    ttl: Duration,
    /// The users who may have pending replies: a push from anyone else
    /// needs no file access.
    index: moka::sync::Cache<String, (), foldhash::fast::RandomState>,
    sweep: Sweep,
    expired: AtomicU64,
    /// Where replies go when the file cannot be written.
    fallback: MemoryPending,
}

impl PendingInner {
    fn fresh(&self, at: u64, now: u64) -> bool {
        at.saturating_add(ms(self.ttl)) > now
    }

    fn expire(&self, openid: &str, reply: &Reply) {
        self.expired.fetch_add(1, Ordering::Relaxed);
        warn_expired(openid, reply);
    }

    /// Sweeps, and fills the index with the users who have replies;
    /// answers their number.
    fn load(&self) -> Result<usize, redb::Error> {
        let txn = self.db.begin_write()?;
        {
            let mut table = txn.open_table(PENDING)?;
            self.sweep_in(&mut table, now_ms())?;
            for entry in table.range((self.account.as_str(), "")..)? {
                let (key, _) = entry?;
                let (account, openid) = key.value();
                if account != self.account {
                    break;
                }
                self.index.insert(openid.to_owned(), ());
            }
        }
        txn.commit()?;
        Ok(self.index.iter().count())
    }

    /// Removes the users of this account whose every reply expired, each
    /// reply logged and counted.
    fn sweep_in(
        &self,
        table: &mut redb::Table<(&str, &str), &[u8]>,
        now: u64,
    ) -> Result<(), redb::Error> {
        let account = self.account.as_str();
        let ttl = ms(self.ttl);
        let stale = table.extract_if(|(acc, _), value| {
            acc == account
                && decode(value)
                    .is_none_or(|q| q.iter().all(|(at, _)| at.saturating_add(ttl) <= now))
        })?;
        for entry in stale {
            let (key, value) = entry?;
            let openid = key.value().1.to_owned();
            for (_, reply) in decode(value.value()).unwrap_or_default() {
                self.expire(&openid, &reply);
            }
        }
        Ok(())
    }

    fn sweep_if_due(
        &self,
        table: &mut redb::Table<(&str, &str), &[u8]>,
        now: u64,
    ) -> Result<(), redb::Error> {
        if self.sweep.due(now) {
            self.sweep_in(table, now)?;
        }
        Ok(())
    }

    fn queue(&self, openid: &str, replies: Vec<Reply>) -> Result<(), redb::Error> {
        let now = now_ms();
        let txn = self.db.begin_write()?;
        {
            let mut table = txn.open_table(PENDING)?;
            let key = (self.account.as_str(), openid);
            let mut queue = (table.get(key)?)
                .and_then(|v| decode(v.value()))
                .unwrap_or_default();
            queue.retain(|(at, reply)| {
                let fresh = self.fresh(*at, now);
                if !fresh {
                    self.expire(openid, reply);
                }
                fresh
            });
            queue.extend(replies.into_iter().map(|reply| (now, reply)));
            let over = queue.len().saturating_sub(MAX_PER_USER);
            for (_, reply) in queue.drain(..over) {
                warn_full(openid, &reply);
            }
            table.insert(key, encode(&queue)?.as_slice())?;
            self.sweep_if_due(&mut table, now)?;
        }
        txn.commit()?;
        Ok(())
    }

    fn take(&self, openid: &str) -> Result<Vec<Reply>, redb::Error> {
        let now = now_ms();
        let txn = self.db.begin_write()?;
        let queue = {
            let mut table = txn.open_table(PENDING)?;
            let queue = (table.remove((self.account.as_str(), openid))?)
                .and_then(|v| decode(v.value()))
                .unwrap_or_default();
            self.sweep_if_due(&mut table, now)?;
            queue
        };
        txn.commit()?;
        let mut fresh = Vec::with_capacity(queue.len());
        for (at, reply) in queue {
            if self.fresh(at, now) {
                fresh.push(reply);
            } else {
                self.expire(openid, &reply);
            }
        }
        Ok(fresh)
    }

    fn count(&self) -> Result<usize, redb::Error> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(PENDING)?;
        let mut n = 0;
        for entry in table.range((self.account.as_str(), "")..)? {
            let (key, value) = entry?;
            if key.value().0 != self.account {
                break;
            }
            n += decode(value.value()).map_or(0, |q| q.len());
        }
        Ok(n)
    }
}

fn decode(bytes: &[u8]) -> Option<Stored> {
    match serde_json::from_slice(bytes) {
        Ok(queue) => Some(queue),
        Err(e) => {
            tracing::error!(error = %e, "pending replies in the state directory are not replies; dropped");
            None
        }
    }
}

fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>, redb::Error> {
    serde_json::to_vec(value).map_err(|e| redb::Error::Io(std::io::Error::other(e)))
}

impl StatePending {
    /// How many replies wait for users of this store's account (blocking).
    pub fn count(&self) -> Result<usize, redb::Error> {
        self.inner.count()
    }
}

impl PendingStore for StatePending {
    fn queue(&self, openid: String, replies: Vec<Reply>) -> BoxFuture<'static, ()> {
        let inner = self.inner.clone();
        Box::pin(async move {
            if replies.is_empty() {
                return;
            }
            let (store, user, kept) = (inner.clone(), openid.clone(), replies.clone());
            match blocking(move || store.queue(&user, kept)).await {
                Ok(()) => inner.index.insert(openid, ()),
                Err(e) => {
                    tracing::error!(openid, error = %e, "cannot write pending replies to the state directory; keeping them in memory");
                    inner.fallback.queue_now(&openid, replies);
                }
            }
        })
    }

    fn take(&self, openid: String) -> BoxFuture<'static, Vec<Reply>> {
        let inner = self.inner.clone();
        Box::pin(async move {
            let mut replies = Vec::new();
            if inner.index.remove(&openid).is_some() {
                let (store, user) = (inner.clone(), openid.clone());
                match blocking(move || store.take(&user)).await {
                    Ok(taken) => replies = taken,
                    Err(e) => {
                        tracing::error!(openid, error = %e, "cannot read pending replies from the state directory");
                        inner.index.insert(openid.clone(), ());
                    }
                }
            }
            replies.extend(inner.fallback.take_now(&openid));
            replies
        })
    }

    fn expired(&self) -> u64 {
        self.inner.expired.load(Ordering::Relaxed) + self.inner.fallback.expired()
    }

    fn waiting(&self) -> BoxFuture<'static, Option<u64>> {
        let inner = self.inner.clone();
        Box::pin(async move {
            let store = inner.clone();
            let in_file = blocking(move || store.count()).await.ok()? as u64;
            Some(in_file + inner.fallback.waiting().await.unwrap_or(0))
        })
    }

    /// Says how many replies the file keeps for the next start (and logs
    /// any held in memory because the file could not be written).
    fn close(&self) -> BoxFuture<'static, ()> {
        let inner = self.inner.clone();
        Box::pin(async move {
            let store = inner.clone();
            match blocking(move || store.count()).await {
                Ok(0) => {}
                Ok(replies) => tracing::info!(
                    replies,
                    "pending replies kept in the state directory for the next start"
                ),
                Err(e) => tracing::error!(error = %e, "cannot read the state directory"),
            }
            inner.fallback.close().await;
        })
    }
}

// ---- sessions ----

/// A session as stored: its last use (ms since the epoch) and its values.
#[derive(Serialize, Deserialize, Default)]
struct StoredSession {
    #[serde(rename = "t")]
    used_ms: u64,
    #[serde(rename = "v")]
    values: BTreeMap<String, String>,
}

/// Sessions in the state directory's database ([`SessionStore`]); made
/// by [`StateDb::sessions`]. A session is forgotten its TTL after its
/// last use; a read counts as a use (recorded without waiting for the
/// disk when the last recorded use is older than a tenth of the TTL: a
/// crash may forget that a session was read, never a value written).
#[derive(Clone)]
pub struct StateSessions {
    inner: Arc<SessionsInner>,
}

impl std::fmt::Debug for StateSessions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StateSessions")
            .field("account", &self.inner.account)
            .field("ttl", &self.inner.ttl)
            .finish_non_exhaustive()
    }
}

struct SessionsInner {
    db: Arc<Database>,
    account: String,
    ttl: Duration,
    sweep: Sweep,
}

impl SessionsInner {
    fn live(&self, session: &StoredSession, now: u64) -> bool {
        session.used_ms.saturating_add(ms(self.ttl)) > now
    }

    fn get(&self, user: &str, name: &str) -> Result<Option<String>, redb::Error> {
        let now = now_ms();
        let session = {
            let txn = self.db.begin_read()?;
            let table = txn.open_table(SESSIONS)?;
            let stored = table.get((self.account.as_str(), user))?;
            stored.and_then(|v| serde_json::from_slice::<StoredSession>(v.value()).ok())
        };
        let Some(session) = session.filter(|s| self.live(s, now)) else {
            return Ok(None);
        };
        let value = session.values.get(name).cloned();
        if now.saturating_sub(session.used_ms) > ms(self.ttl / 10) {
            self.update(user, Durability::None, |_| {})?;
        }
        Ok(value)
    }

    /// Changes `user`'s session (a fresh one when none is live) and
    /// records the use; a session left empty is removed.
    fn update(
        &self,
        user: &str,
        durability: Durability,
        change: impl FnOnce(&mut BTreeMap<String, String>),
    ) -> Result<(), redb::Error> {
        let now = now_ms();
        let mut txn = self.db.begin_write()?;
        txn.set_durability(durability)?;
        {
            let mut table = txn.open_table(SESSIONS)?;
            let key = (self.account.as_str(), user);
            let mut session = (table.get(key)?)
                .and_then(|v| serde_json::from_slice::<StoredSession>(v.value()).ok())
                .filter(|s| self.live(s, now))
                .unwrap_or_default();
            change(&mut session.values);
            session.used_ms = now;
            if session.values.is_empty() {
                table.remove(key)?;
            } else {
                table.insert(key, encode(&session)?.as_slice())?;
            }
            if self.sweep.due(now) {
                let (account, ttl) = (self.account.as_str(), ms(self.ttl));
                table.retain(|(acc, _), value| {
                    acc != account
                        || serde_json::from_slice::<StoredSession>(value)
                            .is_ok_and(|s| s.used_ms.saturating_add(ttl) > now)
                })?;
            }
        }
        txn.commit()?;
        Ok(())
    }
}

fn store_error(e: redb::Error) -> SessionError {
    SessionError::Store(Box::new(e))
}

impl SessionStore for StateSessions {
    fn get(
        &self,
        user: &str,
        name: &str,
    ) -> BoxFuture<'static, Result<Option<String>, SessionError>> {
        let (inner, user, name) = (self.inner.clone(), user.to_owned(), name.to_owned());
        Box::pin(async move {
            blocking(move || inner.get(&user, &name))
                .await
                .map_err(store_error)
        })
    }

    fn set(
        &self,
        user: &str,
        name: &str,
        json: String,
    ) -> BoxFuture<'static, Result<(), SessionError>> {
        let (inner, user, name) = (self.inner.clone(), user.to_owned(), name.to_owned());
        Box::pin(async move {
            blocking(move || {
                inner.update(&user, Durability::Immediate, |values| {
                    values.insert(name, json);
                })
            })
            .await
            .map_err(store_error)
        })
    }

    fn remove(&self, user: &str, name: &str) -> BoxFuture<'static, Result<(), SessionError>> {
        let (inner, user, name) = (self.inner.clone(), user.to_owned(), name.to_owned());
        Box::pin(async move {
            blocking(move || {
                inner.update(&user, Durability::Immediate, |values| {
                    values.remove(&name);
                })
            })
            .await
            .map_err(store_error)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::Session;

    fn text(s: &str) -> Reply {
        Reply::text(s)
    }

    const TTL: Duration = Duration::from_secs(600);

    #[tokio::test]
    async fn pending_replies_survive_a_reopen_in_order_and_are_taken_once() {
        let dir = tempfile::tempdir().unwrap();
        {
            let db = StateDb::open(dir.path()).unwrap();
            let store = db.pending("wx1", TTL);
            assert_eq!(store.take("u".into()).await, vec![], "nothing pending");
            store.queue("u".into(), vec![text("late 1")]).await;
            store
                .queue("u".into(), vec![text("late 2"), Reply::image("m")])
                .await;
            store.queue("v".into(), vec![text("for v")]).await;
            // Another account in the same file is apart.
            db.pending("wx2", TTL)
                .queue("u".into(), vec![text("other account")])
                .await;
            assert_eq!(store.count().unwrap(), 4);
            store.close().await;
        }
        // Every handle dropped: the file is closed, and opened anew.
        let path = dir.path().canonicalize().unwrap().join(FILE_NAME);
        let open = OPEN.lock().unwrap().get(&path).cloned();
        assert!(open.is_none_or(|db| db.strong_count() == 0));
        let db = StateDb::open(dir.path()).unwrap();
        let store = db.pending("wx1", TTL);
        assert_eq!(
            store.take("u".into()).await,
            vec![text("late 1"), text("late 2"), Reply::image("m")]
        );
        assert_eq!(store.take("u".into()).await, vec![], "taken once");
        assert_eq!(store.take("v".into()).await, vec![text("for v")]);
        assert_eq!(
            db.pending("wx2", TTL).take("u".into()).await,
            vec![text("other account")]
        );
        assert_eq!(store.expired(), 0);
    }

    #[tokio::test]
    async fn pending_replies_are_bounded_per_user() {
        let dir = tempfile::tempdir().unwrap();
        let store = StateDb::open(dir.path()).unwrap().pending("wx1", TTL);
        for i in 0..MAX_PER_USER + 2 {
            store.queue("u".into(), vec![text(&i.to_string())]).await;
        }
        let taken = store.take("u".into()).await;
        assert_eq!(taken.len(), MAX_PER_USER);
        assert_eq!(taken[0], text("2"), "the oldest two dropped");
    }

    #[tokio::test]
    async fn expired_pending_replies_are_never_shown_and_are_counted_across_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let ttl = Duration::from_millis(200);
        {
            let store = StateDb::open(dir.path()).unwrap().pending("wx1", ttl);
            store.queue("u".into(), vec![text("stale")]).await;
            store.queue("gone".into(), vec![text("a"), text("b")]).await;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
        // At start-up the sweep finds the user who never came back.
        let store = StateDb::open(dir.path()).unwrap().pending("wx1", ttl);
        assert_eq!(store.expired(), 3, "u's and gone's replies");
        assert_eq!(store.take("u".into()).await, vec![]);
        assert_eq!(store.count().unwrap(), 0);
        // A user's stale reply behind a fresh one is found at take.
        store.queue("w".into(), vec![text("old")]).await;
        tokio::time::sleep(Duration::from_millis(120)).await;
        store.queue("w".into(), vec![text("new")]).await;
        tokio::time::sleep(Duration::from_millis(120)).await;
        assert_eq!(store.take("w".into()).await, vec![text("new")]);
        assert_eq!(store.expired(), 4);
    }

    #[tokio::test]
    async fn a_directory_is_opened_once_per_process() {
        let dir = tempfile::tempdir().unwrap();
        let a = StateDb::open(dir.path()).unwrap();
        let b = StateDb::open(&dir.path().join(".")).unwrap();
        assert!(Arc::ptr_eq(&a.db, &b.db));
        assert_eq!(a.path(), dir.path().canonicalize().unwrap().join(FILE_NAME));
        // A file in the way is a clear error.
        let file = dir.path().join("file");
        std::fs::write(&file, "x").unwrap();
        let err = StateDb::open(&file.join("sub")).unwrap_err();
        assert!(err.to_string().contains("WECHAT_STATE_DIR"), "{err}");
        assert!(err.to_string().contains("cannot create"), "{err}");
    }

    #[tokio::test]
    async fn sessions_survive_a_reopen() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store: Arc<dyn SessionStore> =
                Arc::new(StateDb::open(dir.path()).unwrap().sessions("wx1", TTL));
            let a = Session::new(store.clone(), "a");
            a.set("loc", &(23.1, 113.3)).await.unwrap();
            a.set("n", &1u32).await.unwrap();
            a.remove("n").await.unwrap();
            Session::new(store, "b").set("n", &2u32).await.unwrap();
        }
        let db = StateDb::open(dir.path()).unwrap();
        let store: Arc<dyn SessionStore> = Arc::new(db.sessions("wx1", TTL));
        let a = Session::new(store.clone(), "a");
        assert_eq!(
            a.get::<(f64, f64)>("loc").await.unwrap(),
            Some((23.1, 113.3))
        );
        assert_eq!(a.get::<u32>("n").await.unwrap(), None);
        assert_eq!(
            Session::new(store, "b").get::<u32>("n").await.unwrap(),
            Some(2)
        );
        let other: Arc<dyn SessionStore> = Arc::new(db.sessions("wx2", TTL));
        assert_eq!(
            Session::new(other, "b").get::<u32>("n").await.unwrap(),
            None,
            "another account's"
        );
    }

    #[tokio::test]
    async fn a_session_is_forgotten_its_ttl_after_its_last_use() {
        let dir = tempfile::tempdir().unwrap();
        let store = StateDb::open(dir.path())
            .unwrap()
            .sessions("wx1", Duration::from_millis(300));
        store.set("u", "k", "1".into()).await.unwrap();
        for _ in 0..4 {
            tokio::time::sleep(Duration::from_millis(100)).await;
            assert_eq!(
                store.get("u", "k").await.unwrap().as_deref(),
                Some("1"),
                "kept while used"
            );
        }
        tokio::time::sleep(Duration::from_millis(400)).await;
        assert_eq!(store.get("u", "k").await.unwrap(), None);
        // A later write starts a fresh session, and sweeps the old.
        store.set("v", "k", "2".into()).await.unwrap();
        let txn = store.inner.db.begin_read().unwrap();
        let table = txn.open_table(SESSIONS).unwrap();
        assert!(table.get(("wx1", "u")).unwrap().is_none(), "swept");
    }

    #[test]
    fn outside_a_runtime_the_calls_run_in_place() {
        use futures_util::FutureExt;
        let dir = tempfile::tempdir().unwrap();
        let store = StateDb::open(dir.path()).unwrap().pending("wx1", TTL);
        store
            .queue("u".into(), vec![text("x")])
            .now_or_never()
            .unwrap();
        assert_eq!(
            store.take("u".into()).now_or_never().unwrap(),
            vec![text("x")]
        );
    }
}
