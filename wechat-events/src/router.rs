//! Choosing the handler for a push.
//!
//! A [`Router`] collects routes — a kind of push, an optional filter, a
//! priority and a handler — and compiles them into [`Routes`], ordered so
//! that the first route that matches wins:
//!
//! 1. higher `priority` first (default 0);
//! 2. then the more specific filter: exact (`EventKey`, keyword, scene)
//!    before `contains` before regex before no filter;
//! 3. then the more specific kind: a concrete kind (`Click`, `Text`)
//!    before "any event"/"any message" before the fallback;
//! 4. then registration order.
//!
//! Building checks what can be checked before the first push: regexes
//! compile, filters fit their kind, a handler taking [`Captures`] is on a
//! regex route, no two routes claim the same exact key, keyword, scene or
//! event name (compared as matching compares them), no two routes have the
//! same kind, filter and priority (one would silently shadow the other),
//! and every tag or module a router selected attribute handlers by
//! ([`Router::registered_tagged`], [`Router::registered_in`]) has some.
//!
//! Keys, scenes and event names are compared with surrounding whitespace
//! trimmed on both sides (pretty-printed XML or padded CDATA can carry it,
//! as the parser allows for numbers and type names), event names also
//! ignoring ASCII case; keywords and other text filters see the user's
//! text exactly as sent.

use std::borrow::Cow;
use std::cmp::Reverse;
use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use regex::Regex;

use crate::event::ClickEvent;
use crate::handler::{Captures, ErasedHandler, Handler};
use crate::kinds::{MessageKind, RouteKind};
use crate::message::TextMessage;
use crate::payload::Payload;
use crate::push::{Body, Push};
use crate::reply::Reply;

/// Whether `kind` is of this kind.
fn covers(kind: RouteKind, push: &Push) -> bool {
    match &push.body {
        Body::Message(m) => kind.covers_message(m.kind()),
        Body::Event(e) => kind.covers_event(e.kind()),
    }
}

/// Whether `filter` fits the pushes of `kind`.
fn allows(kind: RouteKind, filter: &Filter) -> bool {
    match filter {
        Filter::None => true,
        Filter::Key(_) | Filter::KeyRegex(_) => kind.allows_key(),
        Filter::Scene(_) => kind.allows_scene(),
        Filter::Keywords(_) | Filter::Contains(_) | Filter::Regex(_) => kind.allows_text(),
        Filter::Event(name) => kind.allows_event_name(name),
    }
}

/// What a route requires of a push beyond its kind.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Filter {
    /// Nothing: every push of the kind.
    None,
    /// The `EventKey` equals this, surrounding whitespace aside (events
    /// with keys).
    Key(String),
    /// The `EventKey`, surrounding whitespace trimmed, matches this regex
    /// (events with keys).
    KeyRegex(String),
    /// The QR scene equals this, surrounding whitespace aside (subscribe
    /// with `qrscene_`, SCAN).
    Scene(String),
    /// The text equals one of these (text messages).
    Keywords(Vec<String>),
    /// The text contains this (text messages).
    Contains(String),
    /// The text matches this regex; its captures reach the handler (text messages).
    Regex(String),
    /// The raw `Event` value equals this, ignoring ASCII case and
    /// surrounding whitespace (any event route whose kind the name can be:
    /// `Unknown` for names no kind has, or "any event").
    Event(String),
}

impl Filter {
    fn rank(&self) -> u8 {
        match self {
            Filter::Key(_) | Filter::Scene(_) | Filter::Keywords(_) | Filter::Event(_) => 3,
            Filter::Contains(_) => 2,
            Filter::KeyRegex(_) | Filter::Regex(_) => 1,
            Filter::None => 0,
        }
    }
}

impl fmt::Display for Filter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Filter::None => f.write_str("-"),
            Filter::Key(k) => write!(f, "key = {k:?}"),
            Filter::KeyRegex(r) => write!(f, "key_regex = {r:?}"),
            Filter::Scene(s) => write!(f, "scene = {s:?}"),
            Filter::Keywords(k) => write!(f, "keyword = {k:?}"),
            Filter::Contains(c) => write!(f, "contains = {c:?}"),
            Filter::Regex(r) => write!(f, "regex = {r:?}"),
            Filter::Event(e) => write!(f, "event = {e:?}"),
        }
    }
}

/// A route's filter, priority and name; its kind comes from the handler's
/// first argument.
///
/// ```
/// use wechat_events::{ClickEvent, Route, Router};
/// async fn menu(click: ClickEvent) -> String { format!("点击菜单 {}", click.key) }
/// let router = Router::new().route(Route::new().key_regex("^MENU_").priority(1), menu);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    filter: Filter,
    priority: i32,
    name: Option<Cow<'static, str>>,
}

impl Default for Route {
    fn default() -> Self {
        Route::new()
    }
}

impl Route {
    /// No filter, priority 0, named after the handler.
    pub fn new() -> Self {
        Route {
            filter: Filter::None,
            priority: 0,
            name: None,
        }
    }
    /// Sets the filter.
    pub fn filter(mut self, filter: Filter) -> Self {
        self.filter = filter;
        self
    }
    /// Exact `EventKey`.
    pub fn key(self, key: impl Into<String>) -> Self {
        self.filter(Filter::Key(key.into()))
    }
    /// `EventKey` regex.
    pub fn key_regex(self, pattern: impl Into<String>) -> Self {
        self.filter(Filter::KeyRegex(pattern.into()))
    }
    /// Exact QR scene value.
    pub fn scene(self, scene: impl Into<String>) -> Self {
        self.filter(Filter::Scene(scene.into()))
    }
    /// Exact raw `Event` name (ignoring ASCII case), for events no kind
    /// models or with an "any event" handler.
    pub fn event(self, name: impl Into<String>) -> Self {
        self.filter(Filter::Event(name.into()))
    }
    /// Exact text keywords.
    pub fn keywords<I: IntoIterator<Item = S>, S: Into<String>>(self, keywords: I) -> Self {
        self.filter(Filter::Keywords(
            keywords.into_iter().map(Into::into).collect(),
        ))
    }
    /// Text containing `needle`.
    pub fn contains(self, needle: impl Into<String>) -> Self {
        self.filter(Filter::Contains(needle.into()))
    }
    /// Text matching a regex.
    pub fn regex(self, pattern: impl Into<String>) -> Self {
        self.filter(Filter::Regex(pattern.into()))
    }
    /// Priority: higher runs first (default 0).
    pub fn priority(mut self, priority: i32) -> Self {
        self.priority = priority;
        self
    }
    /// The name used in logs (default: the handler's type name, i.e. its path).
    pub fn name(mut self, name: impl Into<Cow<'static, str>>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// The route as the table shows it, for pushes of `kind`, named
    /// `default_name` unless [`Route::name`] said otherwise.
    pub(crate) fn into_info(self, kind: RouteKind, default_name: Cow<'static, str>) -> RouteInfo {
        RouteInfo {
            kind,
            filter: self.filter,
            priority: self.priority,
            name: self.name.unwrap_or(default_name),
        }
    }
}

/// A problem found while compiling routes; start-up should stop on it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RouterError {
    /// A regex filter does not compile.
    #[error("route {name}: invalid regex {pattern:?}: {error}")]
    InvalidRegex {
        /// The route's handler.
        name: String,
        /// The pattern.
        pattern: String,
        /// The regex crate's message.
        error: String,
    },
    /// The filter cannot apply to the route's kind (e.g. a key on text messages).
    #[error("route {name}: filter `{filter}` cannot apply to {kind}")]
    FilterNotAllowed {
        /// The route's handler.
        name: String,
        /// The route's kind.
        kind: String,
        /// The filter.
        filter: String,
    },
    /// An empty keyword list, keyword or needle.
    #[error("route {name}: empty filter value")]
    Empty {
        /// The route's handler.
        name: String,
    },
    /// A handler takes [`Captures`] but its route is not a regex route, so
    /// it would fail at every push.
    #[error("route {name}: the handler takes Captures, which only regex routes have; add a regex filter or remove the parameter")]
    CapturesWithoutRegex {
        /// The route's handler.
        name: String,
    },
    /// A router selected attribute handlers by a tag
    /// ([`Router::registered_tagged`]) or a module
    /// ([`Router::registered_in`]) that no handler in the binary has: a
    /// typo, or handlers the binary does not link. Served anyway, the
    /// pushes meant for them would get the fallback, or `success`.
    #[error(
        "{selection} selects no attribute handler: none in this binary {has}{}; \
         check the spelling, or name a handler with Router::handler::<path::to::handler>() \
         (which also links one defined in a library crate)",
        did_you_mean(.suggestion)
    )]
    NothingSelected {
        /// The selection as written: `registered_tagged("shpo")`,
        /// `registered_in("bot::shpo")`.
        selection: String,
        /// What no handler has: `has tag = "shpo"`, `is in module "bot::shpo"`.
        has: String,
        /// The closest tag or module the binary's handlers do have, if any
        /// is close.
        suggestion: Option<String>,
    },
    /// An attribute handler is scoped (`account = "..."`) to an account the
    /// server does not configure: a typo, or an account not set up yet.
    /// Served anyway, the handler would never run, and pushes meant for it
    /// would get another handler's answer.
    #[error(
        "handler {handler} is scoped to account {account:?} (account = {account:?}), \
         which is not configured; {}{}",
        configured_accounts(.configured),
        did_you_mean(.suggestion)
    )]
    UnknownAccount {
        /// The handler's path, as the route table names it.
        handler: String,
        /// The account its attribute names.
        account: String,
        /// The accounts the server configures, by name.
        configured: Vec<String>,
        /// The configured account closest to `account`, if any is close.
        suggestion: Option<String>,
    },
    /// Two routes claim the same exact key, keyword, scene or event name
    /// for one kind, or have the same kind, filter and priority.
    #[error("routes {first} and {second} both handle {kind} with {what}; remove one or give them different filters or priorities")]
    Conflict {
        /// The kind.
        kind: String,
        /// The key or keyword.
        what: String,
        /// One handler.
        first: String,
        /// The other.
        second: String,
    },
}

fn configured_accounts(configured: &[String]) -> String {
    match configured {
        [] => "no account is configured by name".to_owned(),
        [one] => format!("the only account is {one:?}"),
        all => {
            let quoted: Vec<String> = all.iter().map(|a| format!("{a:?}")).collect();
            format!("the accounts are {}", quoted.join(", "))
        }
    }
}

fn did_you_mean(suggestion: &Option<String>) -> String {
    match suggestion {
        Some(s) => format!("; did you mean {s:?}?"),
        None => String::new(),
    }
}

/// A route as shown in the start-up table.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RouteInfo {
    /// The pushes it sees.
    pub kind: RouteKind,
    /// Its filter.
    pub filter: Filter,
    /// Its priority.
    pub priority: i32,
    /// Its handler's name.
    pub name: Cow<'static, str>,
}

impl fmt::Display for RouteInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:<24} {:<32} {:>4}  {}",
            self.kind.to_string(),
            self.filter.to_string(),
            self.priority,
            self.name
        )
    }
}

/// Where an attribute-macro route came from: the address of its handler's
/// unique `static` definition (two handlers may share a path), so that a
/// handler registered both explicitly and through inventory is added once;
/// and the accounts its attribute scoped it to, so that a router built for
/// one account can drop the others' handlers ([`Router::for_account`]).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Origin {
    definition: usize,
    /// `account = "..."` as the attribute gave them; empty: every account.
    accounts: &'static [&'static str],
}

impl Origin {
    /// The origin of the handler defined by `definition`, scoped to
    /// `accounts`.
    pub(crate) fn of<T>(definition: &'static T, accounts: &'static [&'static str]) -> Self {
        Origin {
            definition: std::ptr::from_ref(definition) as usize,
            accounts,
        }
    }

    /// Whether the handler serves `account`: it is unscoped, or scoped to
    /// `account` among others.
    pub(crate) fn serves(&self, account: &str) -> bool {
        self.accounts.is_empty() || self.accounts.contains(&account)
    }
}

/// The same handler, whatever else is recorded about it.
impl PartialEq for Origin {
    fn eq(&self, other: &Self) -> bool {
        self.definition == other.definition
    }
}

impl Eq for Origin {}

#[derive(Clone)]
struct Pending {
    info: RouteInfo,
    handler: ErasedHandler,
    origin: Option<Origin>,
    needs_captures: bool,
}

/// Collects routes; see the module docs for precedence.
///
/// ```
/// use wechat_events::{ClickEvent, Reply, Router, SubscribeEvent, TextMessage};
/// async fn welcome(_: SubscribeEvent) -> &'static str { "欢迎关注" }
/// async fn echo(msg: TextMessage) -> String { format!("收到:{}", msg.content) }
/// async fn count(_: ClickEvent) -> String { "1".into() }
/// let router = Router::new()
///     .on(welcome)                                   // kind from the argument type
///     .keyword_reply("帮助", Reply::text("发送任意文字"))
///     .click("COUNT", count)
///     .on(echo);                                     // any other text
/// ```
#[derive(Clone, Default)]
pub struct Router {
    pending: Vec<Pending>,
    /// Selections of attribute handlers that found none, refused by
    /// [`Router::build`].
    unmatched: Vec<Unmatched>,
}

/// A tag or module that selected no attribute handler (see
/// [`RouterError::NothingSelected`]).
#[derive(Clone)]
pub(crate) struct Unmatched {
    pub(crate) selection: String,
    pub(crate) has: String,
    pub(crate) suggestion: Option<String>,
}

impl Router {
    /// An empty router.
    pub fn new() -> Self {
        Router::default()
    }

    /// Every push of the handler's payload kind.
    pub fn on<T: Payload, Args, H: Handler<T, Args>>(self, handler: H) -> Self {
        self.route(Route::new(), handler)
    }

    /// A route with a filter, priority or name.
    pub fn route<T: Payload, Args, H: Handler<T, Args>>(
        mut self,
        route: Route,
        handler: H,
    ) -> Self {
        self.pending.push(Pending {
            info: route.into_info(T::KIND, Cow::Borrowed(std::any::type_name::<H>())),
            handler: ErasedHandler::new(handler),
            origin: None,
            needs_captures: H::NEEDS_CAPTURES,
        });
        self
    }

    /// Text messages equal to `keyword`.
    pub fn keyword<Args, H: Handler<TextMessage, Args>>(
        self,
        keyword: impl Into<String>,
        handler: H,
    ) -> Self {
        self.route(Route::new().keywords([keyword.into()]), handler)
    }

    /// Text messages equal to any of `keywords`.
    pub fn keywords<I, S, Args, H>(self, keywords: I, handler: H) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
        H: Handler<TextMessage, Args>,
    {
        self.route(Route::new().keywords(keywords), handler)
    }

    /// Text messages equal to `keyword` get a fixed reply.
    pub fn keyword_reply(mut self, keyword: impl Into<String>, reply: impl Into<Reply>) -> Self {
        let keyword = keyword.into();
        self.pending.push(Pending {
            info: RouteInfo {
                kind: RouteKind::Message(MessageKind::Text),
                name: Cow::Owned(format!("keyword_reply({keyword:?})")),
                filter: Filter::Keywords(vec![keyword]),
                priority: 0,
            },
            handler: ErasedHandler::reply(reply.into()),
            origin: None,
            needs_captures: false,
        });
        self
    }

    /// Text messages containing `needle`.
    pub fn contains<Args, H: Handler<TextMessage, Args>>(
        self,
        needle: impl Into<String>,
        handler: H,
    ) -> Self {
        self.route(Route::new().contains(needle), handler)
    }

    /// Text messages matching `pattern`; the handler may take [`Captures`].
    pub fn regex<Args, H: Handler<TextMessage, Args>>(
        self,
        pattern: impl Into<String>,
        handler: H,
    ) -> Self {
        self.route(Route::new().regex(pattern), handler)
    }

    /// CLICK events with `EventKey` equal to `key`.
    pub fn click<Args, H: Handler<ClickEvent, Args>>(
        self,
        key: impl Into<String>,
        handler: H,
    ) -> Self {
        self.route(Route::new().key(key), handler)
    }

    /// Whatever no other route handles.
    pub fn fallback<Args, H: Handler<Push, Args>>(self, handler: H) -> Self {
        self.route(Route::new(), handler)
    }

    /// Adds every route of `other` (an attribute handler both routers hold
    /// is kept once).
    pub fn merge(mut self, other: Router) -> Self {
        self.unmatched.extend(other.unmatched);
        for p in other.pending {
            if !p.origin.is_some_and(|o| self.has_origin(o)) {
                self.pending.push(p);
            }
        }
        self
    }

    /// The router that one account of a server with several serves: every
    /// route except the attribute handlers scoped (`account = "..."`) to
    /// other accounts. Routes added in code ([`Router::on`],
    /// [`Router::route`], ...) and unscoped attribute handlers all stay.
    pub(crate) fn for_account(mut self, account: &str) -> Router {
        self.pending
            .retain(|p| p.origin.is_none_or(|o| o.serves(account)));
        self
    }

    /// Records a selection of attribute handlers that found none.
    pub(crate) fn push_unmatched(mut self, unmatched: Unmatched) -> Self {
        self.unmatched.push(unmatched);
        self
    }

    pub(crate) fn has_origin(&self, origin: Origin) -> bool {
        self.pending.iter().any(|p| p.origin == Some(origin))
    }

    /// Adds an attribute-macro handler's route, unless that handler is
    /// already here.
    pub(crate) fn push_registered(
        mut self,
        origin: Origin,
        info: RouteInfo,
        handler: ErasedHandler,
        needs_captures: bool,
    ) -> Self {
        if !self.has_origin(origin) {
            self.pending.push(Pending {
                info,
                handler,
                origin: Some(origin),
                needs_captures,
            });
        }
        self
    }

    /// The routes added so far, in registration order.
    pub fn infos(&self) -> impl Iterator<Item = &RouteInfo> {
        self.pending.iter().map(|p| &p.info)
    }

    /// Compiles the routes, checking regexes, filters and conflicts, and
    /// that every tag or module handlers were selected by has some.
    pub fn build(self) -> Result<Routes, RouterError> {
        if let Some(u) = self.unmatched.into_iter().next() {
            return Err(RouterError::NothingSelected {
                selection: u.selection,
                has: u.has,
                suggestion: u.suggestion,
            });
        }
        let mut entries = Vec::with_capacity(self.pending.len());
        for Pending {
            info,
            handler,
            needs_captures,
            ..
        } in self.pending
        {
            let name = info.name.to_string();
            if needs_captures && !matches!(info.filter, Filter::Regex(_)) {
                return Err(RouterError::CapturesWithoutRegex { name });
            }
            if !allows(info.kind, &info.filter) {
                return Err(RouterError::FilterNotAllowed {
                    name,
                    kind: info.kind.to_string(),
                    filter: info.filter.to_string(),
                });
            }
            let matcher = Matcher::compile(&info.filter, &name)?;
            entries.push(Entry {
                name: Arc::from(&*info.name),
                info,
                matcher,
                handler,
            });
        }
        check_conflicts(&entries)?;
        // Stable sort keeps registration order among equals.
        entries.sort_by_key(|e| {
            (
                Reverse(e.info.priority),
                Reverse(e.info.filter.rank() * 3 + e.info.kind.specificity()),
            )
        });
        Ok(Routes { entries })
    }
}

fn check_conflicts(entries: &[Entry]) -> Result<(), RouterError> {
    let conflict = |kind: RouteKind, what: String, first: &str, second: &str| {
        Err(RouterError::Conflict {
            kind: kind.to_string(),
            what,
            first: first.to_owned(),
            second: second.to_owned(),
        })
    };
    // Exact values: the same key, keyword, scene or event name for one
    // kind, whatever the priorities (the lower route could never run for
    // that value), compared as `Matcher::matches` compares them.
    let mut claimed: HashMap<(RouteKind, &str, Cow<'_, str>), &str> = HashMap::new();
    // Whole rules: the same kind, filter and priority.
    let mut rules: HashMap<(RouteKind, String, i32), &str> = HashMap::new();
    for e in entries {
        let info = &e.info;
        let (what, values): (&str, Vec<Cow<'_, str>>) = match &info.filter {
            Filter::Key(k) => ("key", vec![Cow::Borrowed(k.trim())]),
            Filter::Scene(s) => ("scene", vec![Cow::Borrowed(s.trim())]),
            Filter::Keywords(ks) => ("keyword", ks.iter().map(|k| Cow::Borrowed(&**k)).collect()),
            Filter::Event(e) => ("event", vec![Cow::Owned(e.trim().to_ascii_lowercase())]),
            _ => ("", Vec::new()),
        };
        for v in values {
            let shown = format!("{what} {v:?}");
            if let Some(first) = claimed.insert((info.kind, what, v), &info.name) {
                return conflict(info.kind, shown, first, &info.name);
            }
        }
        let rule = (info.kind, info.filter.to_string(), info.priority);
        if let Some(first) = rules.insert(rule, &info.name) {
            let what = match &info.filter {
                Filter::None => "no filter".to_owned(),
                filter => format!("`{filter}`"),
            };
            return conflict(
                info.kind,
                format!("{what} at priority {}", info.priority),
                first,
                &info.name,
            );
        }
    }
    Ok(())
}

enum Matcher {
    Any,
    Key(String),
    KeyRegex(Regex),
    Scene(String),
    Keywords(Vec<String>),
    Contains(String),
    Regex(Regex, Arc<[Option<String>]>),
    Event(String),
}

impl Matcher {
    fn compile(filter: &Filter, name: &str) -> Result<Matcher, RouterError> {
        let regex = |pattern: &str| {
            Regex::new(pattern).map_err(|e| RouterError::InvalidRegex {
                name: name.to_owned(),
                pattern: pattern.to_owned(),
                error: e.to_string(),
            })
        };
        let non_empty = |s: &str| {
            if s.is_empty() {
                Err(RouterError::Empty {
                    name: name.to_owned(),
                })
            } else {
                Ok(())
            }
        };
        Ok(match filter {
            Filter::None => Matcher::Any,
            Filter::Key(k) => Matcher::Key(k.trim().to_owned()),
            Filter::KeyRegex(p) => Matcher::KeyRegex(regex(p)?),
            Filter::Scene(s) => Matcher::Scene(s.trim().to_owned()),
            Filter::Keywords(ks) => {
                if ks.is_empty() {
                    return Err(RouterError::Empty {
                        name: name.to_owned(),
                    });
                }
                ks.iter().try_for_each(|k| non_empty(k))?;
                Matcher::Keywords(ks.clone())
            }
            Filter::Contains(c) => {
                non_empty(c)?;
                Matcher::Contains(c.clone())
            }
            Filter::Event(e) => {
                let e = e.trim();
                non_empty(e)?;
                Matcher::Event(e.to_owned())
            }
            Filter::Regex(p) => {
                let re = regex(p)?;
                let names = re.capture_names().map(|n| n.map(str::to_owned)).collect();
                Matcher::Regex(re, names)
            }
        })
    }

    /// Whether `push` passes; for regex routes, the captures.
    fn matches(&self, push: &Push) -> Option<Option<Captures>> {
        let text = || match push.message() {
            Some(crate::message::Message::Text(t)) => Some(t.content.as_str()),
            _ => None,
        };
        let event = push.event();
        let ok = match self {
            Matcher::Any => true,
            Matcher::Key(k) => event.and_then(|e| e.key()).map(str::trim) == Some(k.as_str()),
            Matcher::KeyRegex(re) => event
                .and_then(|e| e.key())
                .is_some_and(|k| re.is_match(k.trim())),
            // `Event::scene` is trimmed already.
            Matcher::Scene(s) => event.and_then(|e| e.scene()) == Some(s.as_str()),
            Matcher::Keywords(ks) => text().is_some_and(|t| ks.iter().any(|k| k == t)),
            Matcher::Contains(c) => text().is_some_and(|t| t.contains(c.as_str())),
            Matcher::Event(e) => {
                event.is_some()
                    && push
                        .fields
                        .text("Event")
                        .is_some_and(|name| name.trim().eq_ignore_ascii_case(e))
            }
            Matcher::Regex(re, names) => {
                let caps = re.captures(text()?)?;
                return Some(Some(Captures::new(&caps, names)));
            }
        };
        ok.then_some(None)
    }
}

pub(crate) struct Entry {
    pub(crate) info: RouteInfo,
    /// The handler's name, shared with every outcome it produces.
    pub(crate) name: Arc<str>,
    matcher: Matcher,
    pub(crate) handler: ErasedHandler,
}

/// Compiled routes in precedence order.
pub struct Routes {
    entries: Vec<Entry>,
}

impl Routes {
    /// The route that handles `push`, with its regex captures.
    pub(crate) fn find(&self, push: &Push) -> Option<(&Entry, Option<Captures>)> {
        self.entries
            .iter()
            .filter(|e| covers(e.info.kind, push))
            .find_map(|e| e.matcher.matches(push).map(|caps| (e, caps)))
    }

    /// The name of the route that would handle `push`, if any.
    pub fn handler_for(&self, push: &Push) -> Option<&str> {
        self.find(push).map(|(e, _)| &*e.info.name)
    }

    /// The routes in precedence order.
    pub fn table(&self) -> impl Iterator<Item = &RouteInfo> {
        self.entries.iter().map(|e| &e.info)
    }

    /// Number of routes.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are no routes.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

impl fmt::Debug for Routes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.table()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::*;
    use crate::push::parse;

    fn text(content: &str) -> Push {
        parse(format!("<xml><ToUserName>gh</ToUserName><FromUserName>u</FromUserName><CreateTime>1</CreateTime><MsgType>text</MsgType><Content><![CDATA[{content}]]></Content><MsgId>1</MsgId></xml>").as_bytes()).unwrap()
    }
    fn event(name: &str, key: &str) -> Push {
        parse(format!("<xml><ToUserName>gh</ToUserName><FromUserName>u</FromUserName><CreateTime>1</CreateTime><MsgType>event</MsgType><Event>{name}</Event><EventKey><![CDATA[{key}]]></EventKey></xml>").as_bytes()).unwrap()
    }

    async fn t(_: TextMessage) {}
    async fn c(_: ClickEvent) {}
    async fn s(_: SubscribeEvent) {}
    async fn scan(_: ScanEvent) {}
    async fn any_event(_: Event) {}
    async fn fb(_: Push) {}

    fn named<T: Payload, A, H: Handler<T, A>>(
        r: Router,
        route: Route,
        name: &'static str,
        h: H,
    ) -> Router {
        r.route(route.name(name), h)
    }

    #[test]
    fn most_specific_first() {
        let routes = [
            (Route::new(), "text"),
            (Route::new().regex("^天气"), "regex"),
            (Route::new().contains("天"), "contains"),
            (Route::new().keywords(["天气"]), "exact"),
        ]
        .into_iter()
        .fold(Router::new(), |r, (route, name)| named(r, route, name, t));
        let routes = named(routes, Route::new(), "fallback", fb).build().unwrap();
        assert_eq!(routes.handler_for(&text("天气")), Some("exact"));
        assert_eq!(routes.handler_for(&text("今天")), Some("contains"));
        assert_eq!(routes.handler_for(&text("天气好")), Some("contains"));
        assert_eq!(routes.handler_for(&text("你好")), Some("text"));
        assert_eq!(routes.handler_for(&event("CLICK", "K")), Some("fallback"));
    }

    #[test]
    fn regex_beats_kind_and_priority_beats_specificity() {
        let r = named(Router::new(), Route::new(), "text", t);
        let r = named(r, Route::new().regex("^天气"), "regex", t)
            .build()
            .unwrap();
        assert_eq!(r.handler_for(&text("天气")), Some("regex"));
        let r = named(Router::new(), Route::new().keywords(["a"]), "exact", t);
        let r = named(r, Route::new().priority(5), "urgent", t)
            .build()
            .unwrap();
        assert_eq!(r.handler_for(&text("a")), Some("urgent"));
        assert_eq!(r.table().next().map(|i| &*i.name), Some("urgent"));
    }

    #[test]
    fn event_keys_scenes_and_any_event() {
        let r = named(Router::new(), Route::new(), "any_event", any_event);
        let r = named(r, Route::new(), "click", c);
        let r = named(r, Route::new().key("COUNT"), "count", c);
        let r = named(r, Route::new().key_regex("^MENU_"), "menu", c);
        let r = named(r, Route::new().scene("42"), "scene42", s);
        let r = named(r, Route::new(), "subscribe", s).build().unwrap();
        assert_eq!(r.handler_for(&event("CLICK", "COUNT")), Some("count"));
        assert_eq!(r.handler_for(&event("CLICK", "MENU_1")), Some("menu"));
        assert_eq!(r.handler_for(&event("CLICK", "OTHER")), Some("click"));
        assert_eq!(
            r.handler_for(&event("subscribe", "qrscene_42")),
            Some("scene42")
        );
        assert_eq!(
            r.handler_for(&event("subscribe", "qrscene_7")),
            Some("subscribe")
        );
        assert_eq!(r.handler_for(&event("VIEW", "http://x")), Some("any_event"));
        assert_eq!(r.handler_for(&text("hi")), None);
    }

    #[test]
    fn registration_order_breaks_ties() {
        let r = named(Router::new(), Route::new().contains("a"), "first", t);
        let r = named(r, Route::new().contains("b"), "second", t)
            .build()
            .unwrap();
        assert_eq!(r.handler_for(&text("ab")), Some("first"));
    }

    #[test]
    fn build_errors() {
        let err = Router::new()
            .route(Route::new().regex("("), t)
            .build()
            .err()
            .unwrap();
        assert!(matches!(err, RouterError::InvalidRegex { .. }), "{err}");
        let err = Router::new()
            .route(Route::new().key("K"), t)
            .build()
            .err()
            .unwrap();
        assert!(matches!(err, RouterError::FilterNotAllowed { .. }), "{err}");
        let err = Router::new()
            .route(Route::new().scene("1"), c)
            .build()
            .err()
            .unwrap();
        assert!(matches!(err, RouterError::FilterNotAllowed { .. }), "{err}");
        let err = Router::new()
            .route(Route::new().keywords(Vec::<String>::new()), t)
            .build()
            .err()
            .unwrap();
        assert!(matches!(err, RouterError::Empty { .. }), "{err}");
        let r = named(
            Router::new(),
            Route::new().keywords(["x", "帮助"]),
            "a::one",
            t,
        );
        let err = named(r, Route::new().keywords(["帮助"]), "b::two", t)
            .build()
            .err()
            .unwrap();
        let msg = err.to_string();
        assert!(
            msg.contains("a::one") && msg.contains("b::two") && msg.contains("帮助"),
            "{msg}"
        );
        let r = Router::new().click("K", c).click("K", c);
        assert!(matches!(r.build(), Err(RouterError::Conflict { .. })));
    }

    #[test]
    fn padded_names_keys_and_scenes_match() {
        let r = named(
            Router::new(),
            Route::new().event("new_thing"),
            "raw",
            any_event,
        );
        let r = named(r, Route::new().key("COUNT"), "count", c);
        let r = named(r, Route::new().key_regex("^MENU_[0-9]$"), "menu", c);
        let r = named(r, Route::new().scene("42"), "scene42", s)
            .build()
            .unwrap();
        assert_eq!(r.handler_for(&event(" new_thing\n", "")), Some("raw"));
        assert_eq!(r.handler_for(&event(" CLICK ", " COUNT ")), Some("count"));
        assert_eq!(r.handler_for(&event("CLICK", "\tMENU_1\n")), Some("menu"));
        assert_eq!(
            r.handler_for(&event(" subscribe ", " qrscene_42 ")),
            Some("scene42")
        );
        assert_eq!(r.handler_for(&event("SCAN", " 42 ")), None);
        let r = named(Router::new(), Route::new().scene("42"), "scan42", scan)
            .build()
            .unwrap();
        assert_eq!(r.handler_for(&event(" SCAN ", " 42 ")), Some("scan42"));
    }

    #[test]
    fn conflicts_are_found_the_way_matching_compares() {
        // Event names match ignoring ASCII case and surrounding whitespace:
        // two routes for one name, however spelt, conflict.
        for (first, second) in [
            ("subscribe", "SUBSCRIBE"),
            ("new_thing", "New_Thing"),
            ("new_thing", " new_thing "),
        ] {
            let r = named(
                Router::new(),
                Route::new().event(first),
                "a::one",
                any_event,
            );
            let err = named(
                r,
                Route::new().event(second).priority(1),
                "b::two",
                any_event,
            )
            .build()
            .err()
            .unwrap_or_else(|| panic!("{first:?} and {second:?} both built"));
            let msg = err.to_string();
            assert!(
                matches!(err, RouterError::Conflict { .. })
                    && msg.contains("a::one")
                    && msg.contains("b::two"),
                "{msg}"
            );
        }
        // Keys and scenes match with surrounding whitespace trimmed, and
        // case kept.
        let r = Router::new().click("K", c).click(" K ", c);
        assert!(matches!(r.build(), Err(RouterError::Conflict { .. })));
        let r = named(Router::new(), Route::new().scene("7"), "a", s);
        let r = named(r, Route::new().scene("7 ").priority(2), "b", s);
        assert!(matches!(r.build(), Err(RouterError::Conflict { .. })));
        // Keywords match exactly (case and spaces are the user's text).
        let r = Router::new()
            .keyword("Help", t)
            .keyword("help", t)
            .keyword(" help", t)
            .click("k", c)
            .click("K", c);
        assert!(r.build().is_ok());
        // A name that is only whitespace is empty.
        let err = Router::new()
            .route(Route::new().event("  "), any_event)
            .build()
            .err()
            .unwrap();
        assert!(matches!(err, RouterError::Empty { .. }), "{err}");
    }

    #[test]
    fn captures_reach_the_match() {
        let r = Router::new()
            .regex(r"^天气\s*(?P<city>\S+)$", t)
            .build()
            .unwrap();
        let push = text("天气 北京");
        let (_, caps) = r.find(&push).unwrap();
        let caps = caps.unwrap();
        assert_eq!(caps.name("city"), Some("北京"));
        assert_eq!(caps.get(0), Some("天气 北京"));
    }

    /// Adds a text route as an attribute handler defined by `definition`
    /// and scoped to `accounts` would.
    fn attribute(
        r: Router,
        definition: &'static u8,
        accounts: &'static [&'static str],
        keyword: &str,
    ) -> Router {
        let info = Route::new()
            .keywords([keyword])
            .into_info(TextMessage::KIND, Cow::Owned(format!("bot::{keyword}")));
        r.push_registered(
            Origin::of(definition, accounts),
            info,
            ErasedHandler::new(t),
            false,
        )
    }

    fn names(r: &Router) -> Vec<&str> {
        r.infos().map(|i| &*i.name).collect()
    }

    #[test]
    fn a_router_for_one_account_drops_the_other_accounts_handlers() {
        // Distinct statics, so distinct definitions.
        static A: u8 = 1;
        static AB: u8 = 2;
        static B: u8 = 3;
        static ALL: u8 = 4;
        let all = || {
            let r = Router::new().keyword("code", t);
            let r = attribute(r, &A, &["brand_a"], "a");
            let r = attribute(r, &AB, &["brand_a", "brand_b"], "ab");
            let r = attribute(r, &B, &["brand_b"], "b");
            attribute(r, &ALL, &[], "all")
        };
        // The route added in code stays first in every account's router.
        for (account, scoped) in [
            ("brand_a", &["bot::a", "bot::ab", "bot::all"][..]),
            ("brand_b", &["bot::ab", "bot::b", "bot::all"]),
            // An account no handler names: the unscoped handler only.
            ("brand_c", &["bot::all"]),
        ] {
            let router = all().for_account(account);
            let names = names(&router);
            assert!(names[0].ends_with("router::tests::t"), "{names:?}");
            assert_eq!(names[1..], *scoped, "{account}");
        }
        let routes = all().for_account("brand_a").build().expect("routes");
        assert_eq!(routes.handler_for(&text("a")), Some("bot::a"));
        assert_eq!(routes.handler_for(&text("b")), None);
        // The accounts do not make a handler another: registered again, it
        // is still added once.
        let r = attribute(all(), &A, &[], "a");
        assert_eq!(r.infos().count(), 5);
        let r = all().merge(attribute(Router::new(), &B, &["brand_b"], "b"));
        assert_eq!(r.infos().count(), 5);
    }

    #[test]
    fn default_names_are_handler_paths() {
        let r = Router::new().on(t).build().unwrap();
        let name = r.table().next().unwrap().name.to_string();
        assert!(name.ends_with("router::tests::t"), "{name}");
    }
}
