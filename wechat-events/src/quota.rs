//! Customer-service message quotas, counted rather than discovered.
//!
//! WeChat lets an account send a user customer-service messages only after
//! the user interacted, and only so many (`../shared/protocol.md` §8, the
//! rules of June 2023): a user message allows 5 messages within 48 hours;
//! a menu click, a subscribe or a QR-code scan allows 3 within a minute.
//! Past them WeChat answers 45047 (too many for this interaction) or 45015
//! (the window passed).
//!
//! [`Quotas`] keeps, per user, the allowance of each interaction it was
//! told of ([`Quotas::grant`], each from its own time) and what was used
//! of it ([`Quotas::take`], from the allowance that ends first). The
//! service grants a push's allowance only when it is about to send a late
//! reply or a part through the API for it — never on the push's hot path —
//! so an interaction nothing was sent for is not counted: the count errs
//! toward sending less, and what does not fit waits as a pending reply.
//!
//! The counts live in memory, per instance, or — with Redis
//! ([`Quotas::shared`]) — in Redis, shared by every instance: one hash per
//! user, `{P:A}:quota:OPENID`, a field per interaction (`UNTIL_MS:LEFT`,
//! by the wall clock), kept until its last allowance ends. Each operation
//! is one script, called only when something is about to be sent through
//! the API. While Redis is down the instance counts in memory.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

use crate::event::Event;
use crate::push::{Body, Push};

/// What a user message allows: 5 messages within 48 hours.
pub const MESSAGE_ALLOWANCE: (u32, Duration) = (5, Duration::from_secs(48 * 60 * 60));

/// What a menu click, a subscribe or a QR-code scan allows: 3 messages
/// within 1 minute.
pub const EVENT_ALLOWANCE: (u32, Duration) = (3, Duration::from_secs(60));

/// Most allowances kept per user (the oldest go first past it).
const MAX_GRANTS: usize = 16;

/// Users whose counts are kept (the least recently used go first).
const MAX_USERS: u64 = 100_000;

/// An interaction's allowance of customer-service messages.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Interaction {
    /// Tells this interaction apart from the user's others (granting it
    /// twice counts it once).
    pub id: String,
    /// How many messages it allows.
    pub allows: u32,
    /// Until when.
    pub until: Instant,
}

impl Interaction {
    /// The allowance `push` gives, first seen at `at`: a user message's, a
    /// menu click's (any menu event), a subscribe's or a scan's; `None` for
    /// pushes that allow nothing (other events).
    pub fn of(push: &Push, at: Instant) -> Option<Interaction> {
        let (allows, window) = match &push.body {
            Body::Message(_) => MESSAGE_ALLOWANCE,
            Body::Event(
                Event::Subscribe(_)
                | Event::Scan(_)
                | Event::Click(_)
                | Event::ScancodeWaitmsg(_)
                | Event::ScancodePush(_)
                | Event::PicSysphoto(_)
                | Event::PicPhotoOrAlbum(_)
                | Event::PicWeixin(_)
                | Event::LocationSelect(_),
            ) => EVENT_ALLOWANCE,
            Body::Event(_) => return None,
        };
        let id = match push.message().and_then(|m| m.msg_id()) {
            Some(id) => format!("m{id}"),
            None => format!("t{}:{}", push.create_time, push.msg_type),
        };
        Some(Interaction {
            id,
            allows,
            until: at + window,
        })
    }
}

/// One allowance and what is left of it.
#[derive(Debug, Clone)]
struct Grant {
    id: String,
    until: Instant,
    left: u32,
}

/// Per-user counts of customer-service messages allowed and sent (see
/// the module docs).
///
/// ```
/// use tokio::time::Instant;
/// use wechat_events::quota::{Interaction, Quotas};
///
/// # tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(async {
/// let quotas = Quotas::new();
/// let now = Instant::now();
/// quotas.grant("oUser", Interaction::new("m1", 3, now + std::time::Duration::from_secs(60))).await;
/// assert_eq!(quotas.available("oUser").await, 3);
/// for _ in 0..3 {
///     assert!(quotas.take("oUser").await);
/// }
/// assert!(!quotas.take("oUser").await, "the fourth does not fit");
/// # });
/// ```
#[derive(Clone)]
pub struct Quotas {
    users: moka::sync::Cache<String, Arc<Mutex<Vec<Grant>>>, foldhash::fast::RandomState>,
    /// Where the counts are shared, when they are.
    #[cfg(feature = "redis")]
    shared: Option<(crate::redis::RedisBackend, String)>,
}

impl std::fmt::Debug for Quotas {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Quotas")
            .field("users", &self.users.entry_count())
            .finish()
    }
}

impl Default for Quotas {
    fn default() -> Self {
        Self::new()
    }
}

impl Interaction {
    /// An allowance of `allows` messages until `until`, told apart by `id`.
    pub fn new(id: impl Into<String>, allows: u32, until: Instant) -> Self {
        Interaction {
            id: id.into(),
            allows,
            until,
        }
    }
}

impl Quotas {
    /// Empty counts.
    pub fn new() -> Self {
        Quotas {
            users: moka::sync::Cache::builder()
                .max_capacity(MAX_USERS)
                .time_to_idle(MESSAGE_ALLOWANCE.1)
                .build_with_hasher(foldhash::fast::RandomState::default()),
            #[cfg(feature = "redis")]
            shared: None,
        }
    }

    /// Counts kept in `backend`, shared by every instance, for the account
    /// `account` (its [`store_account`](crate::Config::store_account)); in
    /// memory while Redis is down.
    #[cfg(feature = "redis")]
    pub fn shared(backend: &crate::redis::RedisBackend, account: &str) -> Self {
        Quotas {
            shared: Some((backend.clone(), account.to_owned())),
            ..Quotas::new()
        }
    }

    /// Runs `op` on `openid`'s counts in Redis, when shared and up.
    #[cfg(feature = "redis")]
    async fn in_redis(&self, openid: &str, op: &'static str, args: &[String]) -> Option<i64> {
        let (backend, account) = self.shared.as_ref()?;
        let key = backend.tagged(account, "quota", openid);
        let now = wall_ms(Instant::now());
        let args = args.to_vec();
        backend
            .run("quota", move |mut conn| async move {
                let mut invocation = QUOTA_SCRIPT.key(key);
                invocation.arg(op).arg(now);
                for arg in &args {
                    invocation.arg(arg);
                }
                invocation.invoke_async::<i64>(&mut conn).await
            })
            .await
    }

    fn grants(&self, openid: &str) -> Arc<Mutex<Vec<Grant>>> {
        self.users
            .get_with_by_ref(openid, || Arc::new(Mutex::new(Vec::new())))
    }

    fn with<T>(&self, openid: &str, f: impl FnOnce(&mut Vec<Grant>) -> T) -> T {
        let grants = self.grants(openid);
        let mut grants = grants.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        grants.retain(|g| g.until > now);
        f(&mut grants)
    }

    /// Counts `interaction`'s allowance for `openid` (once per id).
    pub async fn grant(&self, openid: &str, interaction: Interaction) {
        #[cfg(feature = "redis")]
        {
            let args = [
                interaction.id.clone(),
                interaction.allows.to_string(),
                wall_ms(interaction.until).to_string(),
            ];
            if self.in_redis(openid, "grant", &args).await.is_some() {
                return;
            }
        }
        self.with(openid, |grants| {
            if grants.iter().any(|g| g.id == interaction.id) {
                return;
            }
            grants.push(Grant {
                id: interaction.id,
                until: interaction.until,
                left: interaction.allows,
            });
            if grants.len() > MAX_GRANTS {
                grants.sort_by_key(|g| g.until);
                let over = grants.len() - MAX_GRANTS;
                grants.drain(..over);
            }
        })
    }

    /// How many messages `openid` may be sent now.
    pub async fn available(&self, openid: &str) -> u32 {
        #[cfg(feature = "redis")]
        if let Some(n) = self.in_redis(openid, "available", &[]).await {
            return u32::try_from(n).unwrap_or(0);
        }
        self.with(openid, |grants| grants.iter().map(|g| g.left).sum())
    }

    /// Uses one message of `openid`'s allowance (the one that ends first);
    /// `false` when none is left.
    pub async fn take(&self, openid: &str) -> bool {
        #[cfg(feature = "redis")]
        if let Some(taken) = self.in_redis(openid, "take", &[]).await {
            return taken == 1;
        }
        self.with(openid, |grants| {
            match (grants.iter_mut())
                .filter(|g| g.left > 0)
                .min_by_key(|g| g.until)
            {
                Some(grant) => {
                    grant.left -= 1;
                    true
                }
                None => false,
            }
        })
    }

    /// Gives back a message [`Quotas::take`] used but that was not sent
    /// (no connection was made).
    pub async fn give_back(&self, openid: &str) {
        #[cfg(feature = "redis")]
        if self.in_redis(openid, "give_back", &[]).await.is_some() {
            return;
        }
        self.with(openid, |grants| {
            if let Some(grant) = grants.iter_mut().max_by_key(|g| g.until) {
                grant.left += 1;
            }
        })
    }

    /// Forgets what is left for `openid`: WeChat said there is nothing
    /// (45047, 45015), whatever the counts said.
    pub async fn exhaust(&self, openid: &str) {
        #[cfg(feature = "redis")]
        if self.in_redis(openid, "exhaust", &[]).await.is_some() {
            return;
        }
        self.with(openid, |grants| grants.iter_mut().for_each(|g| g.left = 0))
    }
}

/// `at` on the wall clock, in unix milliseconds (instances share that, not
/// their `Instant`s).
#[cfg(feature = "redis")]
fn wall_ms(at: Instant) -> u64 {
    let unix_now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    let now = Instant::now();
    match at.checked_duration_since(now) {
        Some(ahead) => unix_now + ahead.as_millis() as u64,
        None => unix_now.saturating_sub(now.duration_since(at).as_millis() as u64),
    }
}

/// The counts of one user in Redis: `KEYS[1]` the hash, `ARGV[1]` the
/// operation, `ARGV[2]` now (unix ms); `grant` takes the id, the
/// allowance and its end (unix ms). Lapsed allowances are dropped on the
/// way; the hash lives until its last allowance ends.
#[cfg(feature = "redis")]
static QUOTA_SCRIPT: std::sync::LazyLock<::redis::Script> = std::sync::LazyLock::new(|| {
    ::redis::Script::new(
        r#"
local key, op, now = KEYS[1], ARGV[1], tonumber(ARGV[2])
local grants = {}
local all = redis.call('HGETALL', key)
for i = 1, #all, 2 do
  local u, l = string.match(all[i + 1], '^(%d+):(%d+)$')
  u, l = tonumber(u), tonumber(l)
  if u == nil or u <= now then
    redis.call('HDEL', key, all[i])
  else
    grants[#grants + 1] = { id = all[i], until_ms = u, left = l }
  end
end
local function put(g) redis.call('HSET', key, g.id, g.until_ms .. ':' .. g.left) end
if op == 'grant' then
  local until_ms = tonumber(ARGV[5])
  if until_ms > now and redis.call('HSETNX', key, ARGV[3], until_ms .. ':' .. ARGV[4]) == 1 then
    if until_ms - now > redis.call('PTTL', key) then
      redis.call('PEXPIRE', key, until_ms - now)
    end
  end
  return 1
elseif op == 'available' then
  local n = 0
  for _, g in ipairs(grants) do n = n + g.left end
  return n
elseif op == 'take' then
  local best = nil
  for _, g in ipairs(grants) do
    if g.left > 0 and (best == nil or g.until_ms < best.until_ms) then best = g end
  end
  if best == nil then return 0 end
  best.left = best.left - 1
  put(best)
  return 1
elseif op == 'give_back' then
  local last = nil
  for _, g in ipairs(grants) do
    if last == nil or g.until_ms > last.until_ms then last = g end
  end
  if last ~= nil then last.left = last.left + 1; put(last) end
  return 1
elseif op == 'exhaust' then
  for _, g in ipairs(grants) do g.left = 0; put(g) end
  return 1
end
return redis.error_reply('unknown quota operation')
"#,
    )
});

#[cfg(test)]
mod tests {
    use super::*;

    const MINUTE: Duration = Duration::from_secs(60);

    #[tokio::test(start_paused = true)]
    async fn each_interaction_grants_from_its_own_time() {
        let q = Quotas::new();
        let t0 = Instant::now();
        q.grant("u", Interaction::new("click", 3, t0 + MINUTE))
            .await;
        q.grant("u", Interaction::new("click", 3, t0 + MINUTE))
            .await; // once
        assert_eq!(q.available("u").await, 3);
        q.grant("u", Interaction::new("msg", 5, t0 + MESSAGE_ALLOWANCE.1))
            .await;
        assert_eq!(q.available("u").await, 8);
        // The click's allowance is used first: it ends first.
        assert!(q.take("u").await);
        tokio::time::advance(MINUTE).await;
        assert_eq!(q.available("u").await, 5, "the click's two left lapsed");
        for _ in 0..5 {
            assert!(q.take("u").await);
        }
        assert!(!q.take("u").await);
        assert_eq!(q.available("other").await, 0);
    }

    #[tokio::test(start_paused = true)]
    async fn exhaust_and_give_back() {
        let q = Quotas::new();
        q.grant("u", Interaction::new("m", 5, Instant::now() + MINUTE))
            .await;
        assert!(q.take("u").await);
        q.give_back("u").await;
        assert_eq!(q.available("u").await, 5);
        q.exhaust("u").await;
        assert_eq!(q.available("u").await, 0);
        assert!(!q.take("u").await);
    }
}
