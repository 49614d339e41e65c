//! What the attribute macros' generated code refers to, and nothing else.
//!
//! `wechat-events-macros` is thin codegen (as `serde_derive` is to
//! `serde`): every type, trait and check it relies on lives here, so the
//! runtime owns the kind → type mapping and the rules, and users depend on
//! `wechat-events` alone. Nothing here is public API; names may change in
//! any release.
//!
//! The helpers that take a type parameter exist so that a mistake in a
//! handler's signature fails one trait bound whose span is the user's own
//! token (the macro emits the call with that span), with a message from
//! `#[diagnostic::on_unimplemented]` that says what to write.

use std::any::Any;
use std::borrow::Cow;
use std::future::Future;
use std::marker::PhantomData;

use futures_util::future::{BoxFuture, FutureExt};

pub use inventory;

pub use crate::handler::Parts;
pub use crate::payload::Payload;
pub use crate::registry::{HandlerDef, RegisteredHandler, Registration, Sealed};
pub use crate::router::{Route, Router};

use crate::handler::{
    contain, ErasedHandler, ExtractError, FromPush, HandlerResult, IntoReply, Run,
};
use crate::kinds::RouteKind;

/// The kind names the attributes accept. Each is an alias of the type the
/// handler's first parameter must have; the tables are in `payload.rs`.
pub mod kinds {
    pub use crate::payload::event_kinds as event;
    pub use crate::payload::message_kinds as message;

    /// `#[on_fallback]`: handlers take the whole [`Push`](crate::Push).
    pub type Fallback = crate::push::Push;
}

/// Adds an attribute handler's route. `call` receives the typed value of
/// kind `K` and the extractor parts; its signature is fixed so that the
/// generated closure never fails the `Handler` trait as a whole — each
/// argument is checked on its own (see [`extractor`], [`event`],
/// [`into_reply`]).
pub fn route<K, F>(
    router: Router,
    def: &'static HandlerDef,
    route: Route,
    prepare: fn(&dyn Any, &mut Parts),
    needs_captures: bool,
    call: F,
) -> Router
where
    K: Payload,
    F: Fn(K, Parts) -> BoxFuture<'static, Run> + Send + Sync + 'static,
{
    let info = route.into_info(K::KIND, Cow::Borrowed(def.name));
    let handler = ErasedHandler::from_parts(prepare, call);
    router.push_registered(def.origin(), info, handler, needs_captures)
}

/// One extractor parameter of an attribute handler, described once so the
/// generated code names its type (and so checks `FromPush`) in one place:
/// a type that is no extractor fails [`extractor`]'s bound, on that type.
pub struct Extractor<T> {
    /// [`FromPush::NEEDS_CAPTURES`].
    pub needs_captures: bool,
    /// [`FromPush::prepare`].
    pub prepare: fn(&dyn Any, &mut Parts),
    /// [`FromPush::from_push`], boxed.
    pub extract: for<'a> fn(&'a Parts) -> BoxFuture<'a, Result<T, ExtractError>>,
    _type: PhantomData<fn() -> T>,
}

/// The description of extractor `T`; `T: FromPush` failing points at the
/// parameter's type.
pub const fn extractor<T: FromPush>() -> Extractor<T> {
    Extractor {
        needs_captures: T::NEEDS_CAPTURES,
        prepare: T::prepare,
        extract: extract::<T>,
        _type: PhantomData,
    }
}

fn extract<T: FromPush>(parts: &Parts) -> BoxFuture<'_, Result<T, ExtractError>> {
    Box::pin(T::from_push(parts))
}

/// Runs the extraction future, a panic in it becoming an
/// [`ExtractError::Panicked`].
pub async fn extracted<T>(
    extraction: impl Future<Output = Result<T, ExtractError>>,
) -> Result<T, ExtractError> {
    contain(
        std::panic::AssertUnwindSafe(extraction)
            .catch_unwind()
            .await,
    )
}

/// Converts the handler's output; `R: IntoReply` failing points at the
/// return type.
#[inline]
pub fn into_reply<R: IntoReply>(reply: R) -> HandlerResult {
    reply.into_reply()
}

/// Boxes the handler's future; `Send` failing points at the function name.
#[inline]
pub fn boxed<F>(future: F) -> BoxFuture<'static, Run>
where
    F: Future<Output = Run> + Send + 'static,
{
    Box::pin(future)
}

/// The event parameter's type `Self` against the type `K` the attribute's
/// kind delivers.
#[diagnostic::on_unimplemented(
    message = "the event parameter has type `{Self}`, but this attribute's kind delivers `{K}`",
    label = "expected `{K}` here",
    note = "a handler's first parameter receives the push's typed value, and the kind in the attribute decides its type: change the parameter's type or the kind"
)]
pub trait EventParam<K>: Sized {
    /// The conversion: the identity (a trait rather than a type equality so
    /// that a mismatch fails with the message above).
    fn from_kind(value: K) -> Self;
}

impl<T> EventParam<T> for T {
    #[inline]
    fn from_kind(value: T) -> T {
        value
    }
}

/// Passes the typed value as the handler's declared parameter type `P`.
#[inline]
pub fn event<P: EventParam<K>, K>(value: K) -> P {
    P::from_kind(value)
}

/// Whether a `key` / `key_regex` filter fits the kind (evaluated at compile
/// time by the generated code; [`Router::build`] checks it again).
pub const fn allows_key(kind: RouteKind) -> bool {
    kind.allows_key()
}

/// Whether a `scene` filter fits the kind.
pub const fn allows_scene(kind: RouteKind) -> bool {
    kind.allows_scene()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kinds::{EventKind, MessageKind};

    #[test]
    fn const_filter_rules_match_the_router() {
        for &k in EventKind::ALL {
            assert_eq!(allows_key(RouteKind::Event(k)), k.has_key(), "{k:?}");
            assert_eq!(allows_scene(RouteKind::Event(k)), k.has_scene(), "{k:?}");
        }
        for &k in MessageKind::ALL {
            assert!(!allows_key(RouteKind::Message(k)));
            assert!(!allows_scene(RouteKind::Message(k)));
        }
    }

    #[test]
    fn every_kind_has_a_name_for_the_macros() {
        use kinds::{event, message};
        // A kind added to EventKind/MessageKind without a line in the
        // tables in handler.rs fails to compile here.
        for &k in EventKind::ALL {
            let covered = match k {
                EventKind::Subscribe => <event::Subscribe as Payload>::KIND,
                EventKind::Unsubscribe => <event::Unsubscribe as Payload>::KIND,
                EventKind::Scan => <event::Scan as Payload>::KIND,
                EventKind::Location => <event::Location as Payload>::KIND,
                EventKind::Click => <event::Click as Payload>::KIND,
                EventKind::View => <event::View as Payload>::KIND,
                EventKind::ScancodePush => <event::ScancodePush as Payload>::KIND,
                EventKind::ScancodeWaitmsg => <event::ScancodeWaitmsg as Payload>::KIND,
                EventKind::PicSysphoto => <event::PicSysphoto as Payload>::KIND,
                EventKind::PicPhotoOrAlbum => <event::PicPhotoOrAlbum as Payload>::KIND,
                EventKind::PicWeixin => <event::PicWeixin as Payload>::KIND,
                EventKind::LocationSelect => <event::LocationSelect as Payload>::KIND,
                EventKind::ViewMiniprogram => <event::ViewMiniprogram as Payload>::KIND,
                EventKind::TemplateSendJobFinish => <event::TemplateSendJobFinish as Payload>::KIND,
                EventKind::MassSendJobFinish => <event::MassSendJobFinish as Payload>::KIND,
                EventKind::PublishJobFinish => <event::PublishJobFinish as Payload>::KIND,
                EventKind::SubscribeMsgPopup => <event::SubscribeMsgPopup as Payload>::KIND,
                EventKind::SubscribeMsgChange => <event::SubscribeMsgChange as Payload>::KIND,
                EventKind::SubscribeMsgSent => <event::SubscribeMsgSent as Payload>::KIND,
                EventKind::KfCreateSession => <event::KfCreateSession as Payload>::KIND,
                EventKind::KfCloseSession => <event::KfCloseSession as Payload>::KIND,
                EventKind::KfSwitchSession => <event::KfSwitchSession as Payload>::KIND,
                EventKind::QualificationVerifySuccess => {
                    <event::QualificationVerifySuccess as Payload>::KIND
                }
                EventKind::QualificationVerifyFail => {
                    <event::QualificationVerifyFail as Payload>::KIND
                }
                EventKind::NamingVerifySuccess => <event::NamingVerifySuccess as Payload>::KIND,
                EventKind::NamingVerifyFail => <event::NamingVerifyFail as Payload>::KIND,
                EventKind::AnnualRenew => <event::AnnualRenew as Payload>::KIND,
                EventKind::VerifyExpired => <event::VerifyExpired as Payload>::KIND,
                EventKind::CardPassCheck => <event::CardPassCheck as Payload>::KIND,
                EventKind::CardNotPassCheck => <event::CardNotPassCheck as Payload>::KIND,
                EventKind::UserGetCard => <event::UserGetCard as Payload>::KIND,
                EventKind::UserGiftingCard => <event::UserGiftingCard as Payload>::KIND,
                EventKind::UserDelCard => <event::UserDelCard as Payload>::KIND,
                EventKind::UserConsumeCard => <event::UserConsumeCard as Payload>::KIND,
                EventKind::UserPayFromPayCell => <event::UserPayFromPayCell as Payload>::KIND,
                EventKind::UserViewCard => <event::UserViewCard as Payload>::KIND,
                EventKind::UserEnterSessionFromCard => {
                    <event::UserEnterSessionFromCard as Payload>::KIND
                }
                EventKind::UpdateMemberCard => <event::UpdateMemberCard as Payload>::KIND,
                EventKind::CardSkuRemind => <event::CardSkuRemind as Payload>::KIND,
                EventKind::CardPayOrder => <event::CardPayOrder as Payload>::KIND,
                EventKind::SubmitMembercardUserInfo => {
                    <event::SubmitMembercardUserInfo as Payload>::KIND
                }
                EventKind::MerchantOrder => <event::MerchantOrder as Payload>::KIND,
                EventKind::PoiCheckNotify => <event::PoiCheckNotify as Payload>::KIND,
                EventKind::WifiConnected => <event::WifiConnected as Payload>::KIND,
                EventKind::ShakearoundUserShake => <event::ShakearoundUserShake as Payload>::KIND,
                EventKind::UserScanProduct => <event::UserScanProduct as Payload>::KIND,
                EventKind::UserScanProductEnterSession => {
                    <event::UserScanProductEnterSession as Payload>::KIND
                }
                EventKind::UserScanProductAsync => <event::UserScanProductAsync as Payload>::KIND,
                EventKind::UserScanProductVerifyAction => {
                    <event::UserScanProductVerifyAction as Payload>::KIND
                }
                EventKind::UserAuthorizationRevoke => {
                    <event::UserAuthorizationRevoke as Payload>::KIND
                }
                EventKind::UserInfoModified => <event::UserInfoModified as Payload>::KIND,
                EventKind::UserEnterTempsession => <event::UserEnterTempsession as Payload>::KIND,
                EventKind::SubscribeScanProduct => <event::SubscribeScanProduct as Payload>::KIND,
                EventKind::Unknown => <event::Unknown as Payload>::KIND,
            };
            assert_eq!(covered, RouteKind::Event(k));
        }
        for &k in MessageKind::ALL {
            let covered = match k {
                MessageKind::Text => <message::Text as Payload>::KIND,
                MessageKind::Image => <message::Image as Payload>::KIND,
                MessageKind::Voice => <message::Voice as Payload>::KIND,
                MessageKind::Video => <message::Video as Payload>::KIND,
                MessageKind::ShortVideo => <message::ShortVideo as Payload>::KIND,
                MessageKind::Location => <message::Location as Payload>::KIND,
                MessageKind::Link => <message::Link as Payload>::KIND,
                MessageKind::MiniProgramPage => <message::MiniProgramPage as Payload>::KIND,
                MessageKind::Unknown => <message::Unknown as Payload>::KIND,
            };
            assert_eq!(covered, RouteKind::Message(k));
        }
    }
}
