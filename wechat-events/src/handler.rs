//! What a handler is: a plain `async fn` taking the typed push value plus
//! extractors, returning anything that converts into a [`Reply`].
//!
//! This follows axum's design. [`Payload`] says which typed value a handler
//! takes first (and so which pushes it can handle); [`FromPush`] is the
//! extractor trait for the other arguments ([`Context`], actix
//! `web::Data<T>`, regex [`Captures`]); [`IntoReply`] converts the return
//! value. The [`Handler`] trait ties them together and is implemented for
//! every `Fn(T, A1, .., An) -> impl Future` up to eight extractors.

use std::any::type_name;
use std::borrow::Cow;
use std::fmt;
use std::future::Future;
use std::sync::Arc;

use actix_web::{web, HttpRequest};
use futures_util::future::BoxFuture;

use crate::payload::Payload;
use crate::push::Push;
use crate::reply::Reply;

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
}

impl Context {
    pub(crate) fn new(push: Arc<Push>, raw_xml: Arc<str>, encrypted: bool) -> Self {
        Context {
            push,
            raw_xml,
            encrypted,
        }
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

/// Everything extractors may look at: the actix request, the push's
/// [`Context`] and the route's regex captures.
pub struct Parts<'a> {
    pub(crate) req: &'a HttpRequest,
    pub(crate) cx: &'a Context,
    pub(crate) captures: Option<&'a Captures>,
}

impl<'a> Parts<'a> {
    /// The actix request the push arrived on.
    pub fn request(&self) -> &'a HttpRequest {
        self.req
    }
    /// The push's context.
    pub fn context(&self) -> &'a Context {
        self.cx
    }
    /// The parsed push.
    pub fn push(&self) -> &'a Arc<Push> {
        self.cx.push()
    }
}

/// Why an extractor could not produce its value. The push is answered
/// `success` and the error is logged with the handler's name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
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
    /// A custom extractor's error.
    #[error("{0}")]
    Other(String),
}

/// An argument a handler can take after the typed value. Implement it to
/// add your own extractors.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be a handler argument",
    label = "not an extractor",
    note = "after the event, a handler takes extractors: `Context`, `web::Data<T>`, `Captures`, `Arc<Push>`, `Option<E>` of any of them, or your own type implementing `wechat_events::FromPush`"
)]
pub trait FromPush: Sized + Send + 'static {
    /// Extracts the value; an error skips the handler and answers `success`.
    fn from_push(parts: &Parts<'_>) -> Result<Self, ExtractError>;
}

impl FromPush for Context {
    fn from_push(parts: &Parts<'_>) -> Result<Self, ExtractError> {
        Ok(parts.cx.clone())
    }
}

impl FromPush for Arc<Push> {
    fn from_push(parts: &Parts<'_>) -> Result<Self, ExtractError> {
        Ok(parts.cx.push().clone())
    }
}

impl FromPush for Captures {
    fn from_push(parts: &Parts<'_>) -> Result<Self, ExtractError> {
        parts.captures.cloned().ok_or(ExtractError::NoCaptures)
    }
}

impl<T: ?Sized + Send + Sync + 'static> FromPush for web::Data<T> {
    fn from_push(parts: &Parts<'_>) -> Result<Self, ExtractError> {
        parts
            .req
            .app_data::<web::Data<T>>()
            .cloned()
            .ok_or(ExtractError::MissingData(type_name::<T>()))
    }
}

impl<E: FromPush> FromPush for Option<E> {
    fn from_push(parts: &Parts<'_>) -> Result<Self, ExtractError> {
        Ok(E::from_push(parts).ok())
    }
}

/// A handler's failure, logged with the handler's name; the push is
/// answered `success`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HandlerError(pub String);

impl fmt::Display for HandlerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for HandlerError {}

/// What a handler's result becomes.
pub type HandlerResult = Result<Reply, HandlerError>;

/// Converts a handler's return value into a reply.
///
/// Implemented for [`Reply`], `String`, `&'static str` and `Cow<str>`
/// (text), `()` (no reply), `Option<T>` (`None` = no reply) and
/// `Result<T, E: Display>` (an error is logged and answered `success`).
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a reply a handler can return",
    label = "not a reply",
    note = "a handler returns `Reply`, `String`, `&'static str`, `Cow<'static, str>`, `()` (no reply), or `Option<R>` / `Result<R, E: Display>` of one of these"
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
impl<T: IntoReply, E: fmt::Display> IntoReply for Result<T, E> {
    fn into_reply(self) -> HandlerResult {
        self.map_err(|e| HandlerError(e.to_string()))?.into_reply()
    }
}

/// A handler: implemented for `async fn(T, A1, .., An) -> R` where `T` is a
/// [`Payload`], every `Ai` is a [`FromPush`] extractor and `R` is
/// [`IntoReply`]. `Args` is the tuple of extractor types; it only
/// disambiguates the implementations.
pub trait Handler<T, Args>: Clone + Send + Sync + 'static {
    /// Runs the extractors and returns the handler's future (not yet
    /// polled: the handler's body runs when the service polls it).
    fn call(
        &self,
        payload: T,
        parts: &Parts<'_>,
    ) -> Result<BoxFuture<'static, HandlerResult>, ExtractError>;
}

macro_rules! impl_handler {
    ($($A:ident),*) => {
        impl<F, Fut, T, R, $($A,)*> Handler<T, ($($A,)*)> for F
        where
            F: Fn(T, $($A,)*) -> Fut + Clone + Send + Sync + 'static,
            Fut: Future<Output = R> + Send + 'static,
            R: IntoReply,
            T: Payload,
            $($A: FromPush,)*
        {
            #[allow(non_snake_case, unused_variables)]
            fn call(&self, payload: T, parts: &Parts<'_>) -> Result<BoxFuture<'static, HandlerResult>, ExtractError> {
                $(let $A = $A::from_push(parts)?;)*
                let f = self.clone();
                Ok(Box::pin(async move { f(payload, $($A,)*).await.into_reply() }))
            }
        }
    };
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

/// A handler with its types erased, as the router stores it.
pub(crate) type ErasedHandler = Arc<
    dyn Fn(&Parts<'_>) -> Result<BoxFuture<'static, HandlerResult>, ExtractError> + Send + Sync,
>;

pub(crate) fn erase<T: Payload, Args, H: Handler<T, Args>>(handler: H) -> ErasedHandler {
    erase_typed(move |payload: T, parts: &Parts<'_>| handler.call(payload, parts))
}

/// Erases a function of the typed payload and the parts: the payload is
/// taken from the push (a push of another kind is an extraction error).
pub(crate) fn erase_typed<T, F>(call: F) -> ErasedHandler
where
    T: Payload,
    F: Fn(T, &Parts<'_>) -> Result<BoxFuture<'static, HandlerResult>, ExtractError>
        + Send
        + Sync
        + 'static,
{
    Arc::new(move |parts: &Parts<'_>| {
        let payload = T::from_push(parts.push()).ok_or(ExtractError::Payload(type_name::<T>()))?;
        call(payload, parts)
    })
}

pub(crate) fn erase_reply(reply: Reply) -> ErasedHandler {
    Arc::new(move |_: &Parts<'_>| {
        let reply = reply.clone();
        Ok(Box::pin(async move { Ok(reply) }) as BoxFuture<'static, HandlerResult>)
    })
}
