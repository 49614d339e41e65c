//! De-duplicating WeChat's retries.
//!
//! WeChat retries a push it got no answer to within 5 seconds, three tries
//! in all, with the same body. Each push gets a key (protocol §4); the
//! [`DedupStore`] runs the work for a key once and hands every caller with
//! that key the same [`Outcome`]: a retry that arrives while the first run
//! is in flight waits for it, a retry after it finished gets the stored
//! outcome. The in-memory store is moka; a shared store (Redis) implements
//! the same trait.

use std::sync::Arc;
use std::time::Duration;

use futures_util::future::{BoxFuture, FutureExt, Shared};
use serde::Serialize;
use sha1::{Digest, Sha1};

use crate::event::Event;
use crate::push::{Body, Push};

/// How a push was answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// A handler replied.
    Replied,
    /// A handler chose not to reply.
    NoReply,
    /// No route matched.
    NoHandler,
    /// The handler missed the deadline; it runs on in the background.
    DeadlineExceeded,
    /// The handler (or an extractor) returned an error.
    Failed,
    /// The handler panicked.
    Panicked,
}

impl Status {
    /// A short lower-case name for logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Replied => "replied",
            Status::NoReply => "no_reply",
            Status::NoHandler => "no_handler",
            Status::DeadlineExceeded => "deadline_exceeded",
            Status::Failed => "failed",
            Status::Panicked => "panicked",
        }
    }
}

/// What came of one push: the rendered plaintext reply (`None` means the
/// answer is `success`), which handler produced it, and how.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Outcome {
    /// The reply XML, before any encryption.
    pub reply: Option<Arc<str>>,
    /// The handler that ran, if any.
    pub handler: Option<Arc<str>>,
    /// How it ended.
    pub status: Status,
}

impl Outcome {
    /// The outcome of work whose first caller went away without finishing
    /// it (its task failed): answered `success`.
    pub fn abandoned() -> Self {
        Outcome {
            reply: None,
            handler: None,
            status: Status::Failed,
        }
    }
}

/// What a [`DedupStore`] answers for a key.
pub enum Claim {
    /// The caller is the first with this key: it must start the work and
    /// hand its outcome to [`Ticket::complete`].
    First(Ticket),
    /// Another caller has the key; this resolves to that work's outcome.
    Duplicate(BoxFuture<'static, Outcome>),
}

/// The first caller's side of a claim.
pub struct Ticket {
    complete: Box<dyn FnOnce(Outcome) + Send>,
    outcome: BoxFuture<'static, Outcome>,
}

impl Ticket {
    /// A ticket from its two halves: `complete` stores the outcome (and
    /// wakes the duplicates); `outcome` resolves once it is stored. A
    /// ticket dropped without completing must resolve `outcome` (and the
    /// duplicates) to [`Outcome::abandoned`].
    pub fn new(
        complete: impl FnOnce(Outcome) + Send + 'static,
        outcome: BoxFuture<'static, Outcome>,
    ) -> Self {
        Ticket {
            complete: Box::new(complete),
            outcome,
        }
    }

    /// Splits the ticket: the completion, to move into the (detached) work,
    /// and the outcome, for the first caller to await.
    pub fn into_parts(self) -> (Box<dyn FnOnce(Outcome) + Send>, BoxFuture<'static, Outcome>) {
        (self.complete, self.outcome)
    }
}

/// Decides, per key, which caller does the work, and shares its outcome
/// with the others.
///
/// The two-phase shape (claim, then complete) lets only the first caller
/// prepare the work — run extractors, spawn the handler — and suits a
/// shared store (Redis `SET NX`, then a write of the outcome) as well as
/// the in-memory one.
pub trait DedupStore: Send + Sync + 'static {
    /// Claims `key`: [`Claim::First`] for the first caller within the TTL,
    /// [`Claim::Duplicate`] for every other.
    fn claim(&self, key: String) -> BoxFuture<'static, Claim>;
}

type SharedOutcome = Shared<BoxFuture<'static, Outcome>>;

/// The in-memory store: a bounded moka cache of in-flight and finished
/// outcomes, each kept for the TTL after insertion.
///
/// An entry evicted early (the cache is full) lets a later retry run the
/// handler again; size the capacity for your peak pushes per TTL.
#[derive(Clone)]
pub struct MemoryStore {
    cache: moka::future::Cache<String, SharedOutcome>,
}

impl MemoryStore {
    /// A store remembering up to `capacity` keys for `ttl` each.
    pub fn new(capacity: u64, ttl: Duration) -> Self {
        MemoryStore {
            cache: moka::future::Cache::builder()
                .max_capacity(capacity)
                .time_to_live(ttl)
                .build(),
        }
    }

    /// Number of keys held (approximate, as moka counts lazily).
    pub fn len(&self) -> u64 {
        self.cache.entry_count()
    }

    /// Whether the store holds nothing (approximate).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl DedupStore for MemoryStore {
    fn claim(&self, key: String) -> BoxFuture<'static, Claim> {
        let cache = self.cache.clone();
        Box::pin(async move {
            let (tx, rx) = tokio::sync::oneshot::channel::<Outcome>();
            let mine = rx
                .map(|sent| sent.unwrap_or_else(|_| Outcome::abandoned()))
                .boxed()
                .shared();
            let entry = cache
                .entry(key)
                .or_insert_with(std::future::ready(mine.clone()))
                .await;
            if entry.is_fresh() {
                Claim::First(Ticket::new(
                    move |outcome| {
                        let _ = tx.send(outcome);
                    },
                    mine.boxed(),
                ))
            } else {
                Claim::Duplicate(entry.into_value().boxed())
            }
        })
    }
}

/// The de-duplication key of a push (protocol §4).
///
/// Messages: account + `FromUserName` + `MsgId`. Events: account +
/// `FromUserName` + `CreateTime` + `Event` + `EventKey`, plus the
/// coordinates for LOCATION; anything unmodeled (or a message without
/// `MsgId`) adds a digest of all its fields, so distinct pushes sharing a
/// second never collide while a retry (same body) always does.
///
/// ```
/// let a = wechat_events::push::parse(b"<xml><ToUserName>gh</ToUserName><FromUserName>u</FromUserName>\
///     <CreateTime>1</CreateTime><MsgType>event</MsgType><Event>CLICK</Event><EventKey>A</EventKey></xml>").unwrap();
/// let b = wechat_events::push::parse(b"<xml><ToUserName>gh</ToUserName><FromUserName>u</FromUserName>\
///     <CreateTime>1</CreateTime><MsgType>event</MsgType><Event>CLICK</Event><EventKey>B</EventKey></xml>").unwrap();
/// assert_ne!(wechat_events::dedup::dedup_key(&a), wechat_events::dedup::dedup_key(&b));
/// ```
pub fn dedup_key(push: &Push) -> String {
    let (to, from, time) = (&push.to_user, &push.from_user, push.create_time);
    match &push.body {
        Body::Message(m) => match m.msg_id() {
            Some(id) => format!("m|{to}|{from}|{id}"),
            None => format!("m|{to}|{from}|{time}|{}|{}", push.msg_type, digest(push)),
        },
        Body::Event(e) => {
            let event = push.fields.text("Event").unwrap_or_default();
            let key = e.key().unwrap_or_default();
            match e {
                Event::Location(l) => {
                    format!(
                        "e|{to}|{from}|{time}|{event}|{}|{}|{}",
                        l.latitude, l.longitude, l.precision
                    )
                }
                Event::Unknown(_) => format!("e|{to}|{from}|{time}|{event}|{key}|{}", digest(push)),
                _ => format!("e|{to}|{from}|{time}|{event}|{key}"),
            }
        }
    }
}

fn digest(push: &Push) -> String {
    let mut h = Sha1::new();
    fn feed(h: &mut Sha1, fields: &crate::fields::Fields) {
        for (name, value) in fields.iter() {
            h.update(name.as_bytes());
            h.update([0]);
            match value {
                crate::fields::Value::Text(t) => h.update(t.as_bytes()),
                crate::fields::Value::Nested(f) => {
                    h.update([1]);
                    feed(h, f);
                    h.update([2]);
                }
            }
            h.update([0]);
        }
    }
    feed(&mut h, &push.fields);
    hex::encode(&h.finalize()[..10])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::push::parse;

    fn push(inner: &str) -> Push {
        parse(format!("<xml><ToUserName>gh</ToUserName><FromUserName>u</FromUserName><CreateTime>100</CreateTime>{inner}</xml>").as_bytes()).unwrap()
    }

    #[test]
    fn keys_follow_the_protocol() {
        let m1 = push("<MsgType>text</MsgType><Content>a</Content><MsgId>7</MsgId>");
        let m1_again = push("<MsgType>text</MsgType><Content>a</Content><MsgId>7</MsgId>");
        let m2 = push("<MsgType>text</MsgType><Content>a</Content><MsgId>8</MsgId>");
        assert_eq!(dedup_key(&m1), dedup_key(&m1_again));
        assert_ne!(dedup_key(&m1), dedup_key(&m2));
        let sub = push("<MsgType>event</MsgType><Event>subscribe</Event>");
        let unsub = push("<MsgType>event</MsgType><Event>unsubscribe</Event>");
        assert_ne!(
            dedup_key(&sub),
            dedup_key(&unsub),
            "same user, same second, different events"
        );
        let l1 = push("<MsgType>event</MsgType><Event>LOCATION</Event><Latitude>1</Latitude><Longitude>2</Longitude>");
        let l2 = push("<MsgType>event</MsgType><Event>LOCATION</Event><Latitude>1</Latitude><Longitude>3</Longitude>");
        assert_ne!(dedup_key(&l1), dedup_key(&l2));
        let u1 = push("<MsgType>event</MsgType><Event>card_pass</Event><CardId>a</CardId>");
        let u2 = push("<MsgType>event</MsgType><Event>card_pass</Event><CardId>b</CardId>");
        assert_ne!(dedup_key(&u1), dedup_key(&u2));
        assert_eq!(
            dedup_key(&u1),
            dedup_key(&push(
                "<MsgType>event</MsgType><Event>card_pass</Event><CardId>a</CardId>"
            ))
        );
    }

    #[actix_rt::test]
    async fn one_first_claim_per_key_and_everyone_gets_its_outcome() {
        let store = MemoryStore::new(100, Duration::from_secs(30));
        let claims = futures_util::future::join_all((0..3).map(|_| store.claim("k".into()))).await;
        let mut waiting = Vec::new();
        let mut firsts = 0;
        for claim in claims {
            match claim {
                Claim::First(ticket) => {
                    firsts += 1;
                    let (complete, outcome) = ticket.into_parts();
                    tokio::spawn(async move {
                        tokio::time::sleep(Duration::from_millis(20)).await;
                        complete(Outcome {
                            reply: Some("r".into()),
                            handler: None,
                            status: Status::Replied,
                        });
                    });
                    waiting.push(outcome);
                }
                Claim::Duplicate(outcome) => waiting.push(outcome),
            }
        }
        assert_eq!(firsts, 1);
        let outcomes = futures_util::future::join_all(waiting).await;
        assert!(outcomes.iter().all(|o| o.reply.as_deref() == Some("r")));
        match store.claim("k".into()).await {
            Claim::Duplicate(later) => assert_eq!(later.await.reply.as_deref(), Some("r")),
            Claim::First(_) => panic!("a finished key is not claimed again"),
        }
        assert!(matches!(store.claim("other".into()).await, Claim::First(_)));
    }

    #[actix_rt::test]
    async fn an_abandoned_ticket_answers_everyone() {
        let store = MemoryStore::new(100, Duration::from_secs(30));
        let Claim::First(ticket) = store.claim("gone".into()).await else {
            panic!("first claim")
        };
        let Claim::Duplicate(dup) = store.claim("gone".into()).await else {
            panic!("second claim")
        };
        drop(ticket);
        assert_eq!(dup.await, Outcome::abandoned());
    }
}
