//! A page showing the last pushes live, and a form sending simulated ones
//! to the service itself: WeChat's online debugger and a request inspector
//! in one page.
//!
//! Each service built with [`ServiceBuilder::inspector`] reports every
//! push it answers to the [`Inspector`] — the time, the account, the kind,
//! the user's OpenID, the parsed push, the XML received (decrypted), the
//! reply sent, the handler and how long it ran, each try with its
//! de-duplication and hold facts, how a late reply went out — and every
//! request it refuses, with the reason and at most the first 200 bytes of
//! its body. The inspector keeps the last `capacity` of them (200 by
//! default) in a ring, and its page ([`Inspector::service`], mounted where
//! the application mounts it) shows them as they arrive.
//!
//! OpenIDs are masked (first 4 and last 4 characters) in everything the
//! page receives unless the viewer asks to unmask them. Secrets — the
//! token, the keys, the AppSecret, access tokens — are never recorded.
//!
//! Who may see it: a client on loopback whose request came through no
//! proxy (no `Forwarded` or `X-Forwarded-For` header, a loopback `Host`);
//! anyone else only with the configured token (`WECHAT_INSPECTOR_TOKEN`),
//! as `Authorization: Bearer` or in the cookie the page's token form sets.
//! Without a token, only loopback. See the repository's docs/inspector.md.
//!
//! ```no_run
//! use actix_web::{App, HttpServer};
//! use wechat_events::inspector::Inspector;
//! use wechat_events::{Config, WechatService};
//!
//! # async fn demo() -> std::io::Result<()> {
//! let inspector = Inspector::from_env();
//! let service = WechatService::builder(Config::from_env().expect("config"))
//!     .inspector(&inspector)
//!     .build()
//!     .expect("handlers");
//! HttpServer::new(move || {
//!     App::new()
//!         .service(service.clone())
//!         .service(inspector.service("/_inspector"))
//! })
//! .bind(("127.0.0.1", 8080))?
//! .run()
//! .await
//! # }
//! ```
//!
//! This module holds the records and what is made of them; `http.rs`
//! serves them.
//!
//! [`ServiceBuilder::inspector`]: crate::service::ServiceBuilder::inspector

mod http;

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Deserialize;
use serde_json::{json, Value};
use tokio::sync::broadcast;

use crate::crypto;
use crate::dedup::dedup_key;
use crate::observe::{Inspect, LateSent, PushDone, Refused, TryRecord};
use crate::push::Push;
use crate::service::{ServiceBuilder, WeakService};
use crate::sim::{Signer, SimKind, DEFAULT_ACCOUNT, DEFAULT_OPENID};

/// How many pushes the inspector keeps by default.
pub const DEFAULT_CAPACITY: usize = 200;

/// How much of a refused request's body is kept.
pub const BODY_HEAD_BYTES: usize = crate::observe::BODY_HEAD;

/// The variable [`Inspector::from_env`] reads the token from.
pub const TOKEN_VAR: &str = "WECHAT_INSPECTOR_TOKEN";

/// The last pushes of the services attached to it, and its page.
///
/// Cheap to clone: clones share the records. Attach it to services with
/// [`ServiceBuilder::inspector`](crate::service::ServiceBuilder::inspector),
/// mount its page with [`Inspector::service`].
///
/// ```
/// use wechat_events::inspector::Inspector;
///
/// let inspector = Inspector::builder().capacity(50).token("s3cret").build();
/// assert_eq!(inspector.capacity(), 50);
/// assert!(!format!("{inspector:?}").contains("s3cret"));
/// ```
#[derive(Clone)]
pub struct Inspector {
    shared: Arc<Shared>,
}

struct Shared {
    capacity: usize,
    token: Option<String>,
    ring: Mutex<Ring>,
    /// Each new or changed row, to the open pages.
    updates: broadcast::Sender<Arc<Row>>,
    /// The services attached, for the route table and the send form.
    services: Mutex<Vec<WeakService>>,
}

impl fmt::Debug for Inspector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Inspector")
            .field("capacity", &self.shared.capacity)
            .field("token", &self.shared.token.as_ref().map(|_| "<redacted>"))
            .finish_non_exhaustive()
    }
}

impl Default for Inspector {
    fn default() -> Self {
        Inspector::new()
    }
}

/// Builder for [`Inspector`].
#[derive(Default)]
pub struct InspectorBuilder {
    capacity: Option<usize>,
    token: Option<String>,
}

impl fmt::Debug for InspectorBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InspectorBuilder")
            .field("capacity", &self.capacity)
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

impl InspectorBuilder {
    /// How many pushes (and refused requests) to keep: the last
    /// `capacity`, at least 1. Default [`DEFAULT_CAPACITY`].
    pub fn capacity(mut self, capacity: usize) -> Self {
        self.capacity = Some(capacity.max(1));
        self
    }

    /// The token that lets a client not on loopback in (as
    /// `Authorization: Bearer TOKEN`, or through the page's token form).
    /// An empty token is none.
    pub fn token(mut self, token: impl Into<String>) -> Self {
        self.token = Some(token.into()).filter(|t| !t.is_empty());
        self
    }

    /// The inspector.
    pub fn build(self) -> Inspector {
        let (updates, _) = broadcast::channel(256);
        Inspector {
            shared: Arc::new(Shared {
                capacity: self.capacity.unwrap_or(DEFAULT_CAPACITY),
                token: self.token,
                ring: Mutex::new(Ring::default()),
                updates,
                services: Mutex::new(Vec::new()),
            }),
        }
    }
}

impl Inspector {
    /// An inspector keeping [`DEFAULT_CAPACITY`] pushes, without a token
    /// (only loopback clients may see it).
    pub fn new() -> Self {
        Inspector::builder().build()
    }

    /// Starts a builder.
    pub fn builder() -> InspectorBuilder {
        InspectorBuilder::default()
    }

    /// An inspector whose token is `WECHAT_INSPECTOR_TOKEN` (none when
    /// unset or empty).
    pub fn from_env() -> Self {
        let builder = Inspector::builder();
        match std::env::var(TOKEN_VAR) {
            Ok(token) => builder.token(token.trim()),
            Err(_) => builder,
        }
        .build()
    }

    /// How many pushes it keeps.
    pub fn capacity(&self) -> usize {
        self.shared.capacity
    }

    /// Whether a token is configured.
    pub fn has_token(&self) -> bool {
        self.shared.token.is_some()
    }

    // ---- what the services report ---------------------------------------

    /// A try of a push was answered.
    pub(crate) fn on_try(&self, account: &str, record: &TryRecord<'_>) {
        let facts = TryFacts {
            number: record.try_number,
            claimed: record.claimed,
            held: record.held,
            encrypted: record.encrypted,
            status: record.status.as_str(),
            elapsed: record.elapsed,
        };
        self.upsert(account, record.push, |row| {
            if row.push.is_none() {
                row.push = Some(record.push.clone());
            }
            if row.xml.is_none() {
                row.xml = Some(record.xml.into());
            }
            if let Some(reply) = record.reply {
                row.reply = Some(reply.into());
            }
            if let (None, Some(handler)) = (&row.handler, record.handler) {
                row.handler = Some(handler.into());
            }
            row.tries.push(facts);
        });
    }

    /// A push's outcome is known.
    pub(crate) fn on_push_done(&self, account: &str, record: &PushDone<'_>) {
        self.upsert(account, record.push, |row| {
            if row.push.is_none() {
                row.push = Some(Arc::new(record.push.clone()));
            }
            if let Some(handler) = record.handler {
                row.handler = Some(handler.into());
            }
            row.outcome = Some(record.outcome.as_str());
            row.ran_for = record.ran_for.or(row.ran_for);
        });
    }

    /// A push's late reply went out (or was dropped).
    pub(crate) fn on_late(&self, account: &str, record: &LateSent<'_>) {
        self.upsert(account, record.push, |row| {
            if row.push.is_none() {
                row.push = Some(Arc::new(record.push.clone()));
            }
            if row.handler.is_none() {
                row.handler = Some(record.handler.into());
            }
            row.late = Some(record.via.as_str());
        });
    }

    /// A request was refused.
    pub(crate) fn on_refused(&self, account: Option<&str>, record: &Refused<'_>) {
        let head = record.body_head.map(|head| {
            let head = &head[..head.len().min(BODY_HEAD_BYTES)];
            String::from_utf8_lossy(head).into_owned()
        });
        let refusal = Refusal {
            reason: record.reason.as_str(),
            status: record.status,
            error: record.error.to_owned(),
            method: record.method.to_owned(),
            path: record.path.to_owned(),
            body_head: head,
        };
        let row = {
            let mut ring = self.ring();
            let id = ring.next_id();
            let row = Arc::new(Row {
                id,
                time_ms: now_ms(),
                account: account.map(Arc::from),
                entry: Entry::Refused(refusal),
            });
            ring.push(row.clone(), None, self.shared.capacity);
            row
        };
        let _ = self.shared.updates.send(row);
    }

    /// The inspector as the services' observers hold it.
    pub(crate) fn inspect(&self) -> Arc<dyn Inspect> {
        Arc::new(self.clone())
    }

    /// Registers a built service, for the route table and the send form.
    pub(crate) fn attach(&self, service: WeakService) {
        let mut services = lock(&self.shared.services);
        services.retain(|s| s.upgrade().is_some());
        services.push(service);
    }

    /// Changes (or makes) the row of `push` in `account`, then tells the
    /// open pages. The ring is locked for the change only.
    fn upsert(&self, account: &str, push: &Push, change: impl FnOnce(&mut PushRow)) {
        let key = (Arc::<str>::from(account), dedup_key(push));
        let row = {
            let mut ring = self.ring();
            let row = match ring.find(&key) {
                Some(at) => {
                    let old = &ring.rows[at];
                    let Entry::Push(entry) = &old.entry else {
                        unreachable!("keyed rows are pushes")
                    };
                    let mut entry = entry.clone();
                    change(&mut entry);
                    let row = Arc::new(Row {
                        id: old.id,
                        time_ms: old.time_ms,
                        account: old.account.clone(),
                        entry: Entry::Push(entry),
                    });
                    ring.rows[at] = row.clone();
                    row
                }
                None => {
                    let mut entry = PushRow::default();
                    change(&mut entry);
                    let id = ring.next_id();
                    let row = Arc::new(Row {
                        id,
                        time_ms: now_ms(),
                        account: Some(key.0.clone()),
                        entry: Entry::Push(entry),
                    });
                    ring.push(row.clone(), Some(key), self.shared.capacity);
                    row
                }
            };
            row
        };
        // No page open: no receiver, nothing done.
        let _ = self.shared.updates.send(row);
    }

    fn ring(&self) -> MutexGuard<'_, Ring> {
        lock(&self.shared.ring)
    }

    // ---- what the page reads --------------------------------------------

    /// The rows kept, oldest first, and the updates from now on (an update
    /// may repeat a row of the snapshot: rows are replaced by id).
    pub(crate) fn subscribe(&self) -> (Vec<Arc<Row>>, broadcast::Receiver<Arc<Row>>) {
        let ring = self.ring();
        let updates = self.shared.updates.subscribe();
        (ring.rows.iter().cloned().collect(), updates)
    }

    /// The rows kept, oldest first.
    pub(crate) fn rows(&self) -> Vec<Arc<Row>> {
        self.ring().rows.iter().cloned().collect()
    }

    /// The services attached and alive.
    fn services(&self) -> Vec<crate::service::WechatService> {
        let services = lock(&self.shared.services);
        services.iter().filter_map(WeakService::upgrade).collect()
    }

    /// The route table of every service attached, and the kinds the send
    /// form knows: the page's static data, as JSON.
    pub(crate) fn setup_json(&self) -> String {
        let services: Vec<Value> = self
            .services()
            .iter()
            .map(|service| {
                let config = service.config();
                let routes: Vec<String> = (service.routes().table())
                    .map(|info| {
                        // The log's columns, without their padding.
                        let line = info.to_string();
                        line.split_whitespace().collect::<Vec<_>>().join("  ")
                    })
                    .collect();
                json!({
                    "account": config.name(),
                    "path": config.path(),
                    "mode": config.mode().to_string(),
                    "routes": routes,
                })
            })
            .collect();
        let kinds: Vec<Value> = SimKind::all()
            .iter()
            .map(|kind| {
                let fields: Vec<Value> = (kind.fields.iter())
                    .map(|f| {
                        json!({"name": f.name, "default": f.default, "help": f.help, "flag": f.flag})
                    })
                    .collect();
                json!({"name": kind.name, "summary": kind.summary, "fields": fields})
            })
            .collect();
        json!({
            "services": services,
            "kinds": kinds,
            "capacity": self.shared.capacity,
            "default_openid": DEFAULT_OPENID,
        })
        .to_string()
    }

    /// Sends the push `form` describes to the attached service it names,
    /// in process, signed (and encrypted) as WeChat would: what it
    /// answered. The push then appears among the others. `asker`, the
    /// request that asked, lends the handlers the application's data.
    pub(crate) async fn send(
        &self,
        form: &SendForm,
        asker: Option<&dyn std::any::Any>,
    ) -> Result<Sent, SendError> {
        let services = self.services();
        let service = match &form.account {
            Some(name) if !name.is_empty() => services
                .into_iter()
                .find(|s| s.config().name() == name)
                .ok_or_else(|| SendError(format!("no service for account {name:?}")))?,
            _ => services
                .into_iter()
                .next()
                .ok_or_else(|| SendError("no service is attached to the inspector".into()))?,
        };
        let kind = SimKind::find(&form.kind)
            .ok_or_else(|| SendError(format!("unknown kind {:?}", form.kind)))?;
        let values = |name: &str| form.fields.get(name).map(String::as_str);
        let push = kind.build(&values).map_err(SendError)?;
        let openid = (form.openid.as_deref())
            .map(str::trim)
            .filter(|o| !o.is_empty())
            .unwrap_or(DEFAULT_OPENID);
        let config = service.config();
        let keys = config.keys();
        let signer = Signer {
            token: config.token(),
            key: keys.map(|k| k.current()),
            appid: keys.map_or("", |k| k.appid()),
            compatible: config.mode() == crate::Mode::Compatible,
        };
        let signed = signer.sign(&push, DEFAULT_ACCOUNT, openid);
        let (status, body) = service
            .answer_in_process(asker, &signed.query, signed.body)
            .await;
        let encrypted = keys.is_some() && body.contains("<Encrypt>");
        let reply = match (keys, encrypted) {
            (Some(keys), true) => crypto::extract_encrypt(&body)
                .and_then(|e| crypto::decrypt(keys.current(), &e, Some(keys.appid())))
                .map(|plain| Some(plain.message))
                .unwrap_or_else(|e| Some(format!("(the reply does not decrypt: {e})"))),
            _ if status == 200 && body != "success" && body.starts_with('<') => Some(body.clone()),
            _ => None,
        };
        Ok(Sent {
            openid: openid.to_owned(),
            status,
            body: if encrypted {
                format!("(encrypted, {} bytes)", body.len())
            } else {
                body
            },
            push_xml: signed.xml,
            reply,
        })
    }
}

// Here rather than in `service`, which knows the inspector only as what
// it tells (`observe::Inspect`): the inspector calls the service.
impl ServiceBuilder {
    /// Shows the service's pushes and refusals in `inspector`, and lets it
    /// send the service simulated pushes (see [`crate::inspector`]).
    pub fn inspector(self, inspector: &Inspector) -> Self {
        let attached = inspector.clone();
        self.inspected_by(
            inspector.inspect(),
            Arc::new(move |service| attached.attach(service)),
        )
    }
}

impl Inspect for Inspector {
    fn on_try(&self, account: &str, record: &TryRecord<'_>) {
        Inspector::on_try(self, account, record);
    }

    fn on_push_done(&self, account: &str, record: &PushDone<'_>) {
        Inspector::on_push_done(self, account, record);
    }

    fn on_late(&self, account: &str, record: &LateSent<'_>) {
        Inspector::on_late(self, account, record);
    }

    fn on_refused(&self, account: Option<&str>, record: &Refused<'_>) {
        Inspector::on_refused(self, account, record);
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while the lock was held leaves rows that are still whole.
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// The rows, oldest first; pushes found by (account, dedup key).
#[derive(Default)]
struct Ring {
    rows: VecDeque<Arc<Row>>,
    /// Push rows by key: their id.
    index: HashMap<(Arc<str>, String), u64>,
    /// Each row's key, for those that have one, in the rows' order.
    keys: VecDeque<Option<(Arc<str>, String)>>,
    next: u64,
}

impl Ring {
    fn next_id(&mut self) -> u64 {
        self.next += 1;
        self.next
    }

    /// Where the row keyed `key` is.
    fn find(&self, key: &(Arc<str>, String)) -> Option<usize> {
        let id = *self.index.get(key)?;
        let first = self.rows.front()?.id;
        // Ids are consecutive from the oldest row on.
        let at = usize::try_from(id.checked_sub(first)?).ok()?;
        (at < self.rows.len()).then_some(at)
    }

    fn push(&mut self, row: Arc<Row>, key: Option<(Arc<str>, String)>, capacity: usize) {
        if let Some(key) = &key {
            self.index.insert(key.clone(), row.id);
        }
        self.rows.push_back(row);
        self.keys.push_back(key);
        while self.rows.len() > capacity {
            self.rows.pop_front();
            if let Some(Some(key)) = self.keys.pop_front() {
                self.index.remove(&key);
            }
        }
    }
}

/// One push (all its tries) or one refused request.
#[derive(Debug)]
pub(crate) struct Row {
    id: u64,
    /// When it was first seen, in unix milliseconds.
    time_ms: u64,
    account: Option<Arc<str>>,
    entry: Entry,
}

#[derive(Debug)]
enum Entry {
    Push(PushRow),
    Refused(Refusal),
}

#[derive(Debug, Clone, Default)]
struct PushRow {
    push: Option<Arc<Push>>,
    /// The XML as received, decrypted.
    xml: Option<Arc<str>>,
    /// The reply sent (before encryption); none: `success`.
    reply: Option<Arc<str>>,
    handler: Option<Arc<str>>,
    tries: Vec<TryFacts>,
    outcome: Option<&'static str>,
    ran_for: Option<Duration>,
    /// How a late reply went out.
    late: Option<&'static str>,
}

#[derive(Debug, Clone, Copy)]
struct TryFacts {
    number: u32,
    claimed: bool,
    held: bool,
    encrypted: bool,
    status: &'static str,
    elapsed: Duration,
}

#[derive(Debug)]
struct Refusal {
    reason: &'static str,
    status: u16,
    error: String,
    method: String,
    path: String,
    body_head: Option<String>,
}

impl Row {
    /// The row as the page reads it: OpenIDs masked unless `unmask`.
    pub(crate) fn to_json(&self, unmask: bool) -> String {
        let mut row = json!({
            "id": self.id,
            "time_ms": self.time_ms,
            "account": self.account.as_deref(),
        });
        let fields = match &self.entry {
            Entry::Push(push) => push.to_json(unmask),
            Entry::Refused(refusal) => refusal.to_json(unmask),
        };
        if let (Value::Object(row), Value::Object(fields)) = (&mut row, fields) {
            row.extend(fields);
        }
        row.to_string()
    }
}

impl PushRow {
    fn to_json(&self, unmask: bool) -> Value {
        let openid = self.push.as_ref().map_or("", |p| p.from_user.as_str());
        let mask = Masker::new(openid, unmask);
        let kind = self.push.as_ref().map(|push| kind_of(push));
        let parsed = self.push.as_ref().map(|push| {
            let mut value = serde_json::to_value(&**push).unwrap_or(Value::Null);
            mask.value(&mut value);
            value
        });
        let tries: Vec<Value> = (self.tries.iter())
            .map(|t| {
                json!({
                    "try": t.number,
                    "claimed": t.claimed,
                    "held": t.held,
                    "encrypted": t.encrypted,
                    "status": t.status,
                    "elapsed_ms": millis(t.elapsed),
                })
            })
            .collect();
        // What became of it: the push's outcome once known, else its last
        // try's.
        let last = self.tries.last().map(|t| t.status);
        let outcome = match (self.outcome, last) {
            // "No reply" because no route took it: say so.
            (_, Some("no_handler")) => "no_handler",
            (Some(outcome), _) => outcome,
            (None, Some(status)) => status,
            (None, None) => "pending",
        };
        json!({
            "type": "push",
            "kind": kind,
            "openid": mask.openid(),
            "push": parsed,
            "xml": self.xml.as_deref().map(|x| mask.xml(x)),
            "reply": self.reply.as_deref().map(|x| mask.xml(x)),
            "handler": self.handler.as_deref(),
            "duration_ms": self.ran_for.map(millis),
            "tries": tries,
            "outcome": outcome,
            "late": self.late,
        })
    }
}

impl Refusal {
    fn to_json(&self, unmask: bool) -> Value {
        // The only OpenID a refused body may show is its sender's.
        let openid = self
            .body_head
            .as_deref()
            .and_then(|head| cdata_of(head, "FromUserName"))
            .unwrap_or_default();
        let mask = Masker::new(&openid, unmask);
        json!({
            "type": "refused",
            "kind": format!("refused: {}", self.reason),
            "openid": mask.openid(),
            "outcome": "refused",
            "reason": self.reason,
            "status": self.status,
            "error": self.error,
            "method": self.method,
            "path": self.path,
            "body_head": self.body_head.as_deref().map(|b| mask.xml(b)),
        })
    }
}

fn millis(d: Duration) -> f64 {
    (d.as_secs_f64() * 1000.0 * 10.0).round() / 10.0
}

/// The push's kind as the page shows it: `text`, `event CLICK`.
fn kind_of(push: &Push) -> String {
    match push.fields.text("Event") {
        Some(event) if push.event().is_some() => format!("event {event}"),
        _ => push.msg_type.clone(),
    }
}

/// The text of `<name><![CDATA[...]]>` in a (possibly cut) document.
fn cdata_of(xml: &str, name: &str) -> Option<String> {
    let open = format!("<{name}><![CDATA[");
    let start = xml.find(&open)? + open.len();
    let end = xml[start..].find("]]>")?;
    Some(xml[start..start + end].to_owned()).filter(|v| !v.is_empty())
}

/// An OpenID shown as its first 4 and last 4 characters (`oAbC…xYz9`);
/// one of 8 characters or fewer, not at all.
///
/// ```
/// use wechat_events::inspector::mask_openid;
/// assert_eq!(mask_openid("oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"), "oUpF…eS6o");
/// assert_eq!(mask_openid("o_short"), "…");
/// ```
pub fn mask_openid(openid: &str) -> String {
    let count = openid.chars().count();
    if count <= 8 {
        return "…".to_owned();
    }
    let head: String = openid.chars().take(4).collect();
    let tail: String = openid.chars().skip(count - 4).collect();
    format!("{head}…{tail}")
}

/// Masks one OpenID wherever the page would show it.
struct Masker<'a> {
    openid: &'a str,
    masked: Option<String>,
}

impl<'a> Masker<'a> {
    fn new(openid: &'a str, unmask: bool) -> Self {
        let masked = (!unmask && !openid.is_empty()).then(|| mask_openid(openid));
        Masker { openid, masked }
    }

    fn openid(&self) -> Option<String> {
        match &self.masked {
            Some(masked) => Some(masked.clone()),
            None => Some(self.openid.to_owned()).filter(|o| !o.is_empty()),
        }
    }

    /// `xml` with the OpenID masked where it stands as an element's text
    /// (`<FromUserName><![CDATA[...]]>`, `<ToUserName>...<`), the only
    /// places WeChat's documents put it.
    fn xml(&self, xml: &str) -> String {
        let Some(masked) = &self.masked else {
            return xml.to_owned();
        };
        xml.replace(
            &format!("<![CDATA[{}]]>", self.openid),
            &format!("<![CDATA[{masked}]]>"),
        )
        .replace(&format!(">{}<", self.openid), &format!(">{masked}<"))
    }

    /// Every string in `value` equal to the OpenID, masked.
    fn value(&self, value: &mut Value) {
        let Some(masked) = &self.masked else { return };
        match value {
            Value::String(s) if s == self.openid => *s = masked.clone(),
            Value::Array(items) => items.iter_mut().for_each(|v| self.value(v)),
            Value::Object(map) => map.values_mut().for_each(|v| self.value(v)),
            _ => {}
        }
    }
}

/// What the send form asks for: a push of `kind` with `fields`, from
/// `openid`, to the service of `account` (the first attached when none).
#[derive(Debug, Deserialize)]
pub(crate) struct SendForm {
    #[serde(default)]
    pub(crate) account: Option<String>,
    pub(crate) kind: String,
    #[serde(default)]
    pub(crate) fields: HashMap<String, String>,
    #[serde(default)]
    pub(crate) openid: Option<String>,
}

/// What the service answered a sent push.
#[derive(Debug)]
pub(crate) struct Sent {
    openid: String,
    status: u16,
    /// The body as answered (an encrypted one only described).
    body: String,
    push_xml: String,
    /// The reply's XML, decrypted when it was encrypted.
    reply: Option<String>,
}

impl Sent {
    pub(crate) fn to_json(&self, unmask: bool) -> String {
        let mask = Masker::new(&self.openid, unmask);
        json!({
            "status": self.status,
            "body": mask.xml(&self.body),
            "push": mask.xml(&self.push_xml),
            "reply": self.reply.as_deref().map(|r| mask.xml(r)),
        })
        .to_string()
    }
}

/// Why a push could not be sent (the form's fault, or no service).
#[derive(Debug)]
pub(crate) struct SendError(pub(crate) String);

impl fmt::Display for SendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests;
