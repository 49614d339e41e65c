//! What a handler is: a plain `async fn` taking the typed push value plus
//! extractors, returning anything that converts into a [`Reply`].
//!
//! This follows axum's design. [`Payload`] says which typed value a handler
//! takes first (and so which pushes it can handle); [`FromPush`] is the
//! async extractor trait for the other arguments ([`Context`], actix
//! `web::Data<T>`, regex [`Captures`], your own); [`IntoReply`] converts
//! the return value. The [`Handler`] trait ties them together and is
//! implemented for every `Fn(T, A1, .., An) -> impl Future` up to eight
//! extractors.
//!
//! Nothing here knows HTTP. Extraction runs in the handler's own task,
//! under the push's deadline; what an extractor needs from the framework
//! that received the push (actix app data, say) it copies into [`Parts`]
//! beforehand, in [`FromPush::prepare`], on the thread that received it.

use std::any::{type_name, Any, TypeId};
use std::borrow::Cow;
use std::collections::HashMap;
use std::error::Error as StdError;
use std::fmt;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use futures_util::future::{BoxFuture, FutureExt};

use crate::payload::Payload;
use crate::push::Push;
use crate::reply::Reply;

/// A boxed error with its source chain, as handlers and extractors return.
pub type BoxError = Box<dyn StdError + Send + Sync + 'static>;

/// Facts about the push being handled, for handlers that need more than
/// the typed value.
///
/// ```
/// use wechat_events::{Context, TextMessage};
/// async fn whoami(_msg: TextMessage, cx: Context) -> String {
///     format!("你是 {}", cx.openid())
/// }
/// ```
#[derive(Clone)]
pub struct Context {
    push: Arc<Push>,
    raw_xml: Arc<str>,
    encrypted: bool,
    /// The configured account's name; `None` for `default`.
    account_name: Option<Arc<str>>,
    /// The authorizer's AppID, for a push through a third-party platform.
    authorizer: Option<Arc<str>>,
}

impl Context {
    /// The context of `push`, which arrived as `raw_xml` (decrypted, when
    /// it was `encrypted`).
    pub fn new(push: Arc<Push>, raw_xml: impl Into<Arc<str>>, encrypted: bool) -> Self {
        Context {
            push,
            raw_xml: raw_xml.into(),
            encrypted,
            account_name: None,
            authorizer: None,
        }
    }

    /// This context, for a push that came through a third-party platform
    /// for the account `appid` (an authorizer).
    pub fn for_authorizer(mut self, appid: impl Into<Arc<str>>) -> Self {
        self.authorizer = Some(appid.into());
        self
    }

    /// For a push that came through a third-party platform (a component,
    /// see [`crate::component`]): the AppID of the account it is for (the
    /// authorizer). `None` for a push to a configured account.
    pub fn authorizer(&self) -> Option<&str> {
        self.authorizer.as_deref()
    }

    /// This context, for a push to the account named `name` (the
    /// config's [`name`](crate::Config::name)); without it, the account is
    /// `default`.
    pub fn in_account(mut self, name: impl Into<Arc<str>>) -> Self {
        self.account_name = Some(name.into());
        self
    }

    /// The name of the configured account the push came to — the
    /// accounts file's `name`, or `default` for an account configured
    /// alone — which the push itself does not carry (WeChat sends no
    /// account name: the service knows it from the path the push came
    /// to). [`Context::account`] is the account's WeChat id.
    pub fn account_name(&self) -> &str {
        self.account_name
            .as_deref()
            .unwrap_or(crate::config::DEFAULT_ACCOUNT)
    }

    /// The user's OpenID (`FromUserName`).
    pub fn openid(&self) -> &str {
        &self.push.from_user
    }
    /// The account's original id (`ToUserName`, `gh_...`).
    pub fn account(&self) -> &str {
        &self.push.to_user
    }
    /// `CreateTime`, unix seconds.
    pub fn create_time(&self) -> i64 {
        self.push.create_time
    }
    /// `MsgType` as sent.
    pub fn msg_type(&self) -> &str {
        &self.push.msg_type
    }
    /// The plaintext XML of the push (decrypted when it arrived encrypted).
    pub fn raw_xml(&self) -> &str {
        &self.raw_xml
    }
    /// Whether the push arrived encrypted (the reply will be too).
    pub fn encrypted(&self) -> bool {
        self.encrypted
    }
    /// The whole parsed push, including every raw field.
    pub fn push(&self) -> &Arc<Push> {
        &self.push
    }
}

impl fmt::Debug for Context {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Context")
            .field("openid", &self.openid())
            .field("account", &self.account())
            .field("create_time", &self.create_time())
            .field("msg_type", &self.msg_type())
            .field("encrypted", &self.encrypted)
            .finish()
    }
}

/// The capture groups of the `regex` route that matched a text message.
///
/// ```
/// use wechat_events::{Captures, TextMessage};
/// // registered with `.regex(r"^天气\s*(?P<city>\S+)$", weather)`
/// async fn weather(_msg: TextMessage, caps: Captures) -> String {
///     format!("{} 晴", caps.name("city").unwrap_or("?"))
/// }
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Captures {
    groups: Vec<Option<String>>,
    names: Arc<[Option<String>]>,
}

impl Captures {
    pub(crate) fn new(caps: &regex::Captures<'_>, names: &Arc<[Option<String>]>) -> Self {
        Captures {
            groups: caps
                .iter()
                .map(|m| m.map(|m| m.as_str().to_owned()))
                .collect(),
            names: names.clone(),
        }
    }

    /// Group `i` (0 is the whole match), if it participated.
    pub fn get(&self, i: usize) -> Option<&str> {
        self.groups.get(i).and_then(|g| g.as_deref())
    }

    /// The named group `name`, if it participated.
    pub fn name(&self, name: &str) -> Option<&str> {
        let i = self.names.iter().position(|n| n.as_deref() == Some(name))?;
        self.get(i)
    }

    /// Number of groups, including group 0.
    pub fn len(&self) -> usize {
        self.groups.len()
    }

    /// Whether there are no groups (never the case for a match).
    pub fn is_empty(&self) -> bool {
        self.groups.is_empty()
    }
}

/// Everything extractors may look at: the push's [`Context`], the route's
/// regex [`Captures`] and values the host framework lent for this push
/// (see [`FromPush::prepare`]).
///
/// Owned and `Send`: extractors run in the handler's task, after the
/// request that carried the push may be gone.
pub struct Parts {
    cx: Context,
    captures: Option<Captures>,
    lent: HashMap<TypeId, Box<dyn Any + Send + Sync>>,
}

impl Parts {
    /// Parts for `cx`, with the captures of a regex route.
    pub fn new(cx: Context, captures: Option<Captures>) -> Self {
        Parts {
            cx,
            captures,
            lent: HashMap::new(),
        }
    }
    /// The push's context.
    pub fn context(&self) -> &Context {
        &self.cx
    }
    /// The parsed push.
    pub fn push(&self) -> &Arc<Push> {
        self.cx.push()
    }
    /// The captures of the regex route that matched, if it is one.
    pub fn captures(&self) -> Option<&Captures> {
        self.captures.as_ref()
    }
    /// A value lent with [`Parts::lend`], by type.
    pub fn lent<T: Send + Sync + 'static>(&self) -> Option<&T> {
        self.lent
            .get(&TypeId::of::<T>())
            .and_then(|v| v.downcast_ref())
    }
    /// Lends a value to the extractors of this push (one per type; a second
    /// replaces the first).
    pub fn lend<T: Send + Sync + 'static>(&mut self, value: T) {
        self.lent.insert(TypeId::of::<T>(), Box::new(value));
    }
}

impl fmt::Debug for Parts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Parts")
            .field("context", &self.cx)
            .field("captures", &self.captures)
            .field("lent", &self.lent.len())
            .finish()
    }
}

/// Why an extractor could not produce its value. The push is answered
/// `success` and the error is logged with the handler's name.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ExtractError {
    /// `web::Data<T>` was asked for but the app has no such data.
    #[error("no app data of type {0}: register it with App::app_data(web::Data::new(...))")]
    MissingData(&'static str),
    /// `Captures` was asked for on a route that is not a regex route.
    #[error("Captures is only available to handlers of regex routes")]
    NoCaptures,
    /// The push is not of the kind the handler's first argument takes.
    #[error("push does not carry a {0}")]
    Payload(&'static str),
    /// An extractor panicked.
    #[error("extractor panicked: {0}")]
    Panicked(String),
    /// A custom extractor's error, with its source chain.
    #[error(transparent)]
    Other(BoxError),
}

impl ExtractError {
    /// A custom extractor's error (anything convertible into a boxed error:
    /// your error type, `anyhow::Error`, a `String`).
    pub fn other(error: impl Into<BoxError>) -> Self {
        ExtractError::Other(error.into())
    }
}

/// An argument a handler can take after the typed value. Implement it to
/// add your own extractors; the shape is axum's `FromRequestParts`.
///
/// ```
/// use wechat_events::{ExtractError, FromPush, Parts, TextMessage};
///
/// /// The user's OpenID, shortened for logs.
/// struct ShortId(String);
///
/// impl FromPush for ShortId {
///     async fn from_push(parts: &Parts) -> Result<Self, ExtractError> {
///         // A real extractor may await a database or an HTTP API here.
///         let openid = parts.context().openid();
///         Ok(ShortId(openid.chars().take(6).collect()))
///     }
/// }
///
/// async fn hello(_: TextMessage, id: ShortId) -> String {
///     format!("hi {}", id.0)
/// }
/// # let _ = wechat_events::Router::new().on(hello);
/// ```
///
/// Extraction runs in the handler's task for the first delivery of a push
/// only, under the push's deadline: an extractor awaiting I/O blocks no
/// other push, and one still running at the deadline is answered
/// `success` like a slow handler. An error or a panic skips the handler;
/// the push is answered `success` and the error is logged.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be a handler argument",
    label = "not an extractor",
    note = "after the event, a handler takes extractors: `Context`, `Session`, `ApiClient` (feature `api`), `web::Data<T>`, `Captures`, `Arc<Push>`, `Option<E>` of any of them, or your own type implementing `wechat_events::FromPush`"
)]
pub trait FromPush: Sized + Send + 'static {
    /// Whether the extractor fails on every route but a regex route (as
    /// [`Captures`] does). The router refuses such a handler elsewhere, and
    /// the attribute macros refuse it when compiling.
    const NEEDS_CAPTURES: bool = false;

    /// Copies what the extractor needs from the framework that received the
    /// push into `parts`, before the handler's task starts. `host` is that
    /// framework's request: for [`WechatService`](crate::WechatService),
    /// the actix `HttpRequest`. The default does nothing.
    fn prepare(host: &dyn Any, parts: &mut Parts) {
        let _ = (host, parts);
    }

    /// Extracts the value; an error skips the handler and answers `success`.
    fn from_push(parts: &Parts) -> impl Future<Output = Result<Self, ExtractError>> + Send;
}

impl FromPush for Context {
    async fn from_push(parts: &Parts) -> Result<Self, ExtractError> {
        Ok(parts.cx.clone())
    }
}

impl FromPush for Arc<Push> {
    async fn from_push(parts: &Parts) -> Result<Self, ExtractError> {
        Ok(parts.cx.push().clone())
    }
}

impl FromPush for Captures {
    const NEEDS_CAPTURES: bool = true;
    async fn from_push(parts: &Parts) -> Result<Self, ExtractError> {
        parts.captures.clone().ok_or(ExtractError::NoCaptures)
    }
}

impl<E: FromPush> FromPush for Option<E> {
    fn prepare(host: &dyn Any, parts: &mut Parts) {
        E::prepare(host, parts)
    }
    async fn from_push(parts: &Parts) -> Result<Self, ExtractError> {
        Ok(E::from_push(parts).await.ok())
    }
}

/// A handler's failure, logged with the handler's name and its whole
/// source chain; the push is answered `success`.
#[derive(Debug)]
pub struct HandlerError(pub BoxError);

impl HandlerError {
    /// The error and its sources, outermost first.
    pub fn chain(&self) -> impl Iterator<Item = &(dyn StdError + 'static)> {
        let first: &(dyn StdError + 'static) = &*self.0;
        std::iter::successors(Some(first), |&e| e.source())
    }
}

/// `error: cause: root cause`.
impl fmt::Display for HandlerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.chain().enumerate() {
            if i > 0 {
                f.write_str(": ")?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl StdError for HandlerError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.0.source()
    }
}

/// What a handler's result becomes.
pub type HandlerResult = Result<Reply, HandlerError>;

/// Converts a handler's return value into a reply.
///
/// Implemented for [`Reply`], `String`, `&'static str` and `Cow<str>`
/// (text), `()` (no reply), `Option<T>` (`None` = no reply) and
/// `Result<T, E>` for any error convertible into a boxed error — your
/// error type, `anyhow::Error`, a `String` (an error is logged with its
/// source chain and answered `success`).
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a reply a handler can return",
    label = "not a reply",
    note = "a handler returns `Reply`, `String`, `&'static str`, `Cow<'static, str>`, `()` (no reply), or `Option<R>` / `Result<R, E: Error>` of one of these"
)]
pub trait IntoReply {
    /// Performs the conversion.
    fn into_reply(self) -> HandlerResult;
}

impl IntoReply for Reply {
    fn into_reply(self) -> HandlerResult {
        Ok(self)
    }
}
impl IntoReply for String {
    fn into_reply(self) -> HandlerResult {
        Ok(Reply::text(self))
    }
}
impl IntoReply for &'static str {
    fn into_reply(self) -> HandlerResult {
        Ok(Reply::text(self))
    }
}
impl IntoReply for Cow<'static, str> {
    fn into_reply(self) -> HandlerResult {
        Ok(Reply::text(self.into_owned()))
    }
}
impl IntoReply for () {
    fn into_reply(self) -> HandlerResult {
        Ok(Reply::None)
    }
}
impl<T: IntoReply> IntoReply for Option<T> {
    fn into_reply(self) -> HandlerResult {
        self.map_or(Ok(Reply::None), IntoReply::into_reply)
    }
}
impl<T: IntoReply, E: Into<BoxError>> IntoReply for Result<T, E> {
    fn into_reply(self) -> HandlerResult {
        self.map_err(|e| HandlerError(e.into()))?.into_reply()
    }
}

/// What running a route's handler comes to: its result, or why it never
/// ran (an extractor failed).
pub type Run = Result<HandlerResult, ExtractError>;

mod sealed {
    pub trait Sealed<T, Args> {}
}

/// A handler: implemented for `async fn(T, A1, .., An) -> R` where `T` is a
/// [`Payload`], every `Ai` is a [`FromPush`] extractor and `R` is
/// [`IntoReply`]. `Args` is the tuple of extractor types; it only
/// disambiguates the implementations. Sealed: write a function instead.
pub trait Handler<T, Args>: sealed::Sealed<T, Args> + Clone + Send + Sync + 'static {
    /// Whether an extractor needs a regex route's captures.
    const NEEDS_CAPTURES: bool;

    /// Runs every extractor's [`FromPush::prepare`].
    fn prepare(host: &dyn Any, parts: &mut Parts);

    /// Extracts the arguments, then runs the handler.
    fn call(&self, payload: T, parts: Parts) -> BoxFuture<'static, Run>;
}

macro_rules! impl_handler {
    ($($A:ident),*) => {
        impl<F, Fut, T, R, $($A,)*> sealed::Sealed<T, ($($A,)*)> for F
        where
            F: Fn(T, $($A,)*) -> Fut + Clone + Send + Sync + 'static,
            Fut: Future<Output = R> + Send + 'static,
            R: IntoReply,
            T: Payload,
            $($A: FromPush,)*
        {}

        impl<F, Fut, T, R, $($A,)*> Handler<T, ($($A,)*)> for F
        where
            F: Fn(T, $($A,)*) -> Fut + Clone + Send + Sync + 'static,
            Fut: Future<Output = R> + Send + 'static,
            R: IntoReply,
            T: Payload,
            $($A: FromPush,)*
        {
            const NEEDS_CAPTURES: bool = false $(|| $A::NEEDS_CAPTURES)*;

            #[allow(unused_variables)]
            fn prepare(host: &dyn Any, parts: &mut Parts) {
                $($A::prepare(host, parts);)*
            }

            #[allow(non_snake_case, unused_variables)]
            fn call(&self, payload: T, parts: Parts) -> BoxFuture<'static, Run> {
                let f = self.clone();
                Box::pin(async move {
                    let extracted = AssertUnwindSafe(async {
                        Ok::<_, ExtractError>(($($A::from_push(&parts).await?,)*))
                    })
                    .catch_unwind()
                    .await;
                    let ($($A,)*) = contain(extracted)?;
                    Ok(f(payload, $($A,)*).await.into_reply())
                })
            }
        }
    };
}

/// An extraction's result, its panic (if any) turned into an error.
pub(crate) fn contain<T>(
    extracted: Result<Result<T, ExtractError>, Box<dyn Any + Send>>,
) -> Result<T, ExtractError> {
    extracted.unwrap_or_else(|panic| {
        Err(ExtractError::Panicked(crate::panics::with_location(
            panic_message(&*panic),
        )))
    })
}

/// The message of a panic payload.
pub(crate) fn panic_message(panic: &(dyn Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "non-string panic payload".into())
}

impl_handler!();
impl_handler!(A1);
impl_handler!(A1, A2);
impl_handler!(A1, A2, A3);
impl_handler!(A1, A2, A3, A4);
impl_handler!(A1, A2, A3, A4, A5);
impl_handler!(A1, A2, A3, A4, A5, A6);
impl_handler!(A1, A2, A3, A4, A5, A6, A7);
impl_handler!(A1, A2, A3, A4, A5, A6, A7, A8);

type CallFn = dyn Fn(Parts) -> BoxFuture<'static, Run> + Send + Sync;

/// A handler with its types erased, as the router stores it.
#[derive(Clone)]
pub(crate) struct ErasedHandler {
    prepare: fn(&dyn Any, &mut Parts),
    call: Arc<CallFn>,
}

impl ErasedHandler {
    /// Erases a typed handler.
    pub(crate) fn new<T: Payload, Args, H: Handler<T, Args>>(handler: H) -> Self {
        Self::from_parts(H::prepare, move |payload: T, parts| {
            handler.call(payload, parts)
        })
    }

    /// Erases a function of the typed payload and the parts: the payload is
    /// taken from the push (a push of another kind is an extraction error).
    pub(crate) fn from_parts<T, F>(prepare: fn(&dyn Any, &mut Parts), call: F) -> Self
    where
        T: Payload,
        F: Fn(T, Parts) -> BoxFuture<'static, Run> + Send + Sync + 'static,
    {
        ErasedHandler {
            prepare,
            call: Arc::new(move |parts: Parts| match T::from_push(parts.push()) {
                Some(payload) => call(payload, parts),
                None => Box::pin(std::future::ready(Err(ExtractError::Payload(
                    type_name::<T>(),
                )))),
            }),
        }
    }

    /// A handler that always answers `reply`.
    pub(crate) fn reply(reply: Reply) -> Self {
        ErasedHandler {
            prepare: |_, _| {},
            call: Arc::new(move |_| Box::pin(std::future::ready(Ok(Ok(reply.clone()))))),
        }
    }

    /// Runs the extractors' [`FromPush::prepare`] against the host's request.
    pub(crate) fn prepare(&self, host: &dyn Any, parts: &mut Parts) {
        (self.prepare)(host, parts)
    }

    /// Starts extraction and the handler (the future does nothing until
    /// polled).
    pub(crate) fn call(&self, parts: Parts) -> BoxFuture<'static, Run> {
        (self.call)(parts)
    }
}

impl fmt::Debug for ErasedHandler {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ErasedHandler")
    }
}
