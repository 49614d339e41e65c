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
//! The counts live in memory, per instance.

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
/// quotas.grant("oUser", Interaction::new("m1", 3, now + std::time::Duration::from_secs(60)));
/// assert_eq!(quotas.available("oUser"), 3);
/// assert!(quotas.take("oUser") && quotas.take("oUser") && quotas.take("oUser"));
/// assert!(!quotas.take("oUser"), "the fourth does not fit");
/// # });
/// ```
#[derive(Clone)]
pub struct Quotas {
    users: moka::sync::Cache<String, Arc<Mutex<Vec<Grant>>>, foldhash::fast::RandomState>,
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
        }
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
    pub fn grant(&self, openid: &str, interaction: Interaction) {
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
    pub fn available(&self, openid: &str) -> u32 {
        self.with(openid, |grants| grants.iter().map(|g| g.left).sum())
    }

    /// Uses one message of `openid`'s allowance (the one that ends first);
    /// `false` when none is left.
    pub fn take(&self, openid: &str) -> bool {
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
    pub fn give_back(&self, openid: &str) {
        self.with(openid, |grants| {
            if let Some(grant) = grants.iter_mut().max_by_key(|g| g.until) {
                grant.left += 1;
            }
        })
    }

    /// Forgets what is left for `openid`: WeChat said there is nothing
    /// (45047, 45015), whatever the counts said.
    pub fn exhaust(&self, openid: &str) {
        self.with(openid, |grants| grants.iter_mut().for_each(|g| g.left = 0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINUTE: Duration = Duration::from_secs(60);

    #[tokio::test(start_paused = true)]
    async fn each_interaction_grants_from_its_own_time() {
        let q = Quotas::new();
        let t0 = Instant::now();
        q.grant("u", Interaction::new("click", 3, t0 + MINUTE));
        q.grant("u", Interaction::new("click", 3, t0 + MINUTE)); // once
        assert_eq!(q.available("u"), 3);
        q.grant("u", Interaction::new("msg", 5, t0 + MESSAGE_ALLOWANCE.1));
        assert_eq!(q.available("u"), 8);
        // The click's allowance is used first: it ends first.
        assert!(q.take("u"));
        tokio::time::advance(MINUTE).await;
        assert_eq!(q.available("u"), 5, "the click's two left lapsed");
        for _ in 0..5 {
            assert!(q.take("u"));
        }
        assert!(!q.take("u"));
        assert_eq!(q.available("other"), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn exhaust_and_give_back() {
        let q = Quotas::new();
        q.grant("u", Interaction::new("m", 5, Instant::now() + MINUTE));
        assert!(q.take("u"));
        q.give_back("u");
        assert_eq!(q.available("u"), 5);
        q.exhaust("u");
        assert_eq!(q.available("u"), 0);
        assert!(!q.take("u"));
    }
}
