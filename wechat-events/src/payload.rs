//! The typed values a handler takes first, and the kind each one covers.
//!
//! A handler's first parameter decides which pushes it sees: a
//! [`TextMessage`] handler sees text messages, an [`Event`] handler every
//! event, a [`Push`] handler everything. [`Payload`] ties each such type to
//! its [`RouteKind`] and takes it out of a parsed push. The two tables below
//! are the one place a kind is tied to its type; adding a kind to the
//! catalog is a variant in [`crate::kinds`], a type in [`crate::event`] or
//! [`crate::message`], and one line here.

use std::sync::Arc;

use crate::event::*;
use crate::kinds::{EventKind, MessageKind, RouteKind};
use crate::message::*;
use crate::push::{Body, Push};

mod sealed {
    /// Only this crate's catalog types are payloads.
    pub trait Sealed {}
}

/// A typed value a handler can take as its first argument; it decides
/// which pushes the handler can see.
///
/// Implemented for every typed event and message, for [`Event`] and
/// [`Message`] (any event, any message) and for [`Push`] and `Arc<Push>`
/// (everything: the fallback). Sealed: the kinds are this crate's catalog.
pub trait Payload: sealed::Sealed + Sized + Send + 'static {
    /// The pushes this payload covers.
    const KIND: RouteKind;
    /// The value, if `push` is of this kind.
    fn from_push(push: &Arc<Push>) -> Option<Self>;
}

// The two tables below are the one place a kind is tied to its type: each
// line implements `Payload` and names the kind for the attribute macros
// (`#[on_message(Text)]` resolves to `message_kinds::Text`, an alias of
// `TextMessage`). Adding a kind to the catalog is one line here.

macro_rules! message_payload {
    ($($ty:ident => $variant:ident),* $(,)?) => {
        $(
            impl sealed::Sealed for $ty {}
            impl Payload for $ty {
                const KIND: RouteKind = RouteKind::Message(MessageKind::$variant);
                fn from_push(push: &Arc<Push>) -> Option<Self> {
                    match &push.body {
                        Body::Message(Message::$variant(m)) => Some(m.clone()),
                        _ => None,
                    }
                }
            }
        )*

        /// The message kinds `#[on_message(Kind)]` accepts, each an alias
        /// of the type its handler takes. Re-exported as
        /// `__private::kinds::message`.
        #[doc(hidden)]
        pub mod message_kinds {
            $(
                #[doc = concat!("`#[on_message(", stringify!($variant), ")]`: handlers take [`", stringify!($ty), "`](crate::", stringify!($ty), ").")]
                pub type $variant = crate::message::$ty;
            )*
        }
    };
}

macro_rules! event_payload {
    ($($ty:ident => $variant:ident),* $(,)?) => {
        $(
            impl sealed::Sealed for $ty {}
            impl Payload for $ty {
                const KIND: RouteKind = RouteKind::Event(EventKind::$variant);
                fn from_push(push: &Arc<Push>) -> Option<Self> {
                    match &push.body {
                        Body::Event(Event::$variant(e)) => Some(e.clone()),
                        _ => None,
                    }
                }
            }
        )*

        /// The event kinds `#[on_event(Kind)]` accepts, each an alias of
        /// the type its handler takes. Re-exported as
        /// `__private::kinds::event`.
        #[doc(hidden)]
        pub mod event_kinds {
            $(
                #[doc = concat!("`#[on_event(", stringify!($variant), ")]`: handlers take [`", stringify!($ty), "`](crate::", stringify!($ty), ").")]
                pub type $variant = crate::event::$ty;
            )*

            /// `#[on_event(Any)]`: every event, typed or not; handlers take
            /// [`Event`](crate::Event). Pair it with `event = "..."` to route
            /// by the raw `Event` name.
            pub type Any = crate::event::Event;
        }
    };
}

message_payload! {
    TextMessage => Text,
    ImageMessage => Image,
    VoiceMessage => Voice,
    VideoMessage => Video,
    ShortVideoMessage => ShortVideo,
    LocationMessage => Location,
    LinkMessage => Link,
    MiniProgramPageMessage => MiniProgramPage,
    UnknownMessage => Unknown,
}

event_payload! {
    SubscribeEvent => Subscribe,
    UnsubscribeEvent => Unsubscribe,
    ScanEvent => Scan,
    LocationEvent => Location,
    ClickEvent => Click,
    ViewEvent => View,
    ScancodePushEvent => ScancodePush,
    ScancodeWaitmsgEvent => ScancodeWaitmsg,
    PicSysphotoEvent => PicSysphoto,
    PicPhotoOrAlbumEvent => PicPhotoOrAlbum,
    PicWeixinEvent => PicWeixin,
    LocationSelectEvent => LocationSelect,
    ViewMiniprogramEvent => ViewMiniprogram,
    TemplateSendJobFinishEvent => TemplateSendJobFinish,
    MassSendJobFinishEvent => MassSendJobFinish,
    PublishJobFinishEvent => PublishJobFinish,
    SubscribeMsgPopupEvent => SubscribeMsgPopup,
    SubscribeMsgChangeEvent => SubscribeMsgChange,
    SubscribeMsgSentEvent => SubscribeMsgSent,
    KfCreateSessionEvent => KfCreateSession,
    KfCloseSessionEvent => KfCloseSession,
    KfSwitchSessionEvent => KfSwitchSession,
    QualificationVerifySuccessEvent => QualificationVerifySuccess,
    QualificationVerifyFailEvent => QualificationVerifyFail,
    NamingVerifySuccessEvent => NamingVerifySuccess,
    NamingVerifyFailEvent => NamingVerifyFail,
    AnnualRenewEvent => AnnualRenew,
    VerifyExpiredEvent => VerifyExpired,
    CardPassCheckEvent => CardPassCheck,
    CardNotPassCheckEvent => CardNotPassCheck,
    UserGetCardEvent => UserGetCard,
    UserGiftingCardEvent => UserGiftingCard,
    UserDelCardEvent => UserDelCard,
    UserConsumeCardEvent => UserConsumeCard,
    UserPayFromPayCellEvent => UserPayFromPayCell,
    UserViewCardEvent => UserViewCard,
    UserEnterSessionFromCardEvent => UserEnterSessionFromCard,
    UpdateMemberCardEvent => UpdateMemberCard,
    CardSkuRemindEvent => CardSkuRemind,
    CardPayOrderEvent => CardPayOrder,
    SubmitMembercardUserInfoEvent => SubmitMembercardUserInfo,
    MerchantOrderEvent => MerchantOrder,
    PoiCheckNotifyEvent => PoiCheckNotify,
    WifiConnectedEvent => WifiConnected,
    ShakearoundUserShakeEvent => ShakearoundUserShake,
    UserScanProductEvent => UserScanProduct,
    UserScanProductEnterSessionEvent => UserScanProductEnterSession,
    UserScanProductAsyncEvent => UserScanProductAsync,
    UserScanProductVerifyActionEvent => UserScanProductVerifyAction,
    UserAuthorizationRevokeEvent => UserAuthorizationRevoke,
    UserInfoModifiedEvent => UserInfoModified,
    UserEnterTempsessionEvent => UserEnterTempsession,
    SubscribeScanProductEvent => SubscribeScanProduct,
    UnknownEvent => Unknown,
}

impl sealed::Sealed for Message {}
impl Payload for Message {
    const KIND: RouteKind = RouteKind::AnyMessage;
    fn from_push(push: &Arc<Push>) -> Option<Self> {
        push.message().cloned()
    }
}

impl sealed::Sealed for Event {}
impl Payload for Event {
    const KIND: RouteKind = RouteKind::AnyEvent;
    fn from_push(push: &Arc<Push>) -> Option<Self> {
        push.event().cloned()
    }
}

/// The whole push: a handler taking it sees everything (the fallback).
impl sealed::Sealed for Arc<Push> {}
impl Payload for Arc<Push> {
    const KIND: RouteKind = RouteKind::Any;
    fn from_push(push: &Arc<Push>) -> Option<Self> {
        Some(push.clone())
    }
}

/// The whole push, by value.
impl sealed::Sealed for Push {}
impl Payload for Push {
    const KIND: RouteKind = RouteKind::Any;
    fn from_push(push: &Arc<Push>) -> Option<Self> {
        Some(Push::clone(push))
    }
}
