//! The kinds of push, by name: which events and messages exist, and which
//! pushes a route can see.
//!
//! This is the bottom of the crate's layers: the typed events and messages
//! ([`crate::event`], [`crate::message`]), the handler payloads and the
//! router all name kinds from here, and this module names nothing else.
//! Adding a kind to the catalog starts with a variant here.

use std::fmt;

use serde::{Deserialize, Serialize};

macro_rules! event_kinds {
    ($($(#[$doc:meta])* $variant:ident => $event:literal,)*) => {
        /// The kinds of event, by their `Event` value.
        ///
        /// [`EventKind::SubscribeScanProduct`] shares `subscribe` with
        /// [`EventKind::Subscribe`]: it is a `subscribe` whose `EventKey`
        /// starts with `scanbarcode|` or `scanimage|`.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[non_exhaustive]
        pub enum EventKind {
            $($(#[$doc])* $variant,)*
            /// Any `Event` not modeled here.
            Unknown,
        }

        impl EventKind {
            /// Every kind, in declaration order.
            pub const ALL: &'static [EventKind] = &[$(EventKind::$variant,)* EventKind::Unknown];

            /// The `Event` value as WeChat spells it, `None` for [`EventKind::Unknown`].
            pub fn event(self) -> Option<&'static str> {
                match self {
                    $(EventKind::$variant => Some($event),)*
                    EventKind::Unknown => None,
                }
            }
        }
    };
}

event_kinds! {
    /// `subscribe`
    Subscribe => "subscribe",
    /// `unsubscribe`
    Unsubscribe => "unsubscribe",
    /// `SCAN`
    Scan => "SCAN",
    /// `LOCATION`
    Location => "LOCATION",
    /// `CLICK`
    Click => "CLICK",
    /// `VIEW`
    View => "VIEW",
    /// `scancode_push`: the menu's scanner opened and the scan result was
    /// handled by the client.
    ScancodePush => "scancode_push",
    /// `scancode_waitmsg`: the menu's scanner opened; the client waits for
    /// the account's answer.
    ScancodeWaitmsg => "scancode_waitmsg",
    /// `pic_sysphoto`: photos taken with the camera from the menu.
    PicSysphoto => "pic_sysphoto",
    /// `pic_photo_or_album`: photos taken or picked from the album.
    PicPhotoOrAlbum => "pic_photo_or_album",
    /// `pic_weixin`: photos picked from WeChat's album.
    PicWeixin => "pic_weixin",
    /// `location_select`: a place picked from the menu's location picker.
    LocationSelect => "location_select",
    /// `view_miniprogram`: a menu item opened a mini program page.
    ViewMiniprogram => "view_miniprogram",
    /// `TEMPLATESENDJOBFINISH`: a template message was delivered (or not).
    TemplateSendJobFinish => "TEMPLATESENDJOBFINISH",
    /// `MASSSENDJOBFINISH`: a mass send finished.
    MassSendJobFinish => "MASSSENDJOBFINISH",
    /// `PUBLISHJOBFINISH`: a publishing job finished.
    PublishJobFinish => "PUBLISHJOBFINISH",
    /// `subscribe_msg_popup_event`: the user answered a subscription popup.
    SubscribeMsgPopup => "subscribe_msg_popup_event",
    /// `subscribe_msg_change_event`: the user changed subscriptions.
    SubscribeMsgChange => "subscribe_msg_change_event",
    /// `subscribe_msg_sent_event`: a subscription message was sent.
    SubscribeMsgSent => "subscribe_msg_sent_event",
    /// `kf_create_session`: a customer-service session started.
    KfCreateSession => "kf_create_session",
    /// `kf_close_session`: a customer-service session ended.
    KfCloseSession => "kf_close_session",
    /// `kf_switch_session`: a session moved to another agent.
    KfSwitchSession => "kf_switch_session",
    /// `qualification_verify_success`
    QualificationVerifySuccess => "qualification_verify_success",
    /// `qualification_verify_fail`
    QualificationVerifyFail => "qualification_verify_fail",
    /// `naming_verify_success`
    NamingVerifySuccess => "naming_verify_success",
    /// `naming_verify_fail`
    NamingVerifyFail => "naming_verify_fail",
    /// `annual_renew`: the yearly verification is due.
    AnnualRenew => "annual_renew",
    /// `verify_expired`: the verification lapsed.
    VerifyExpired => "verify_expired",
    /// `card_pass_check`: a card passed review.
    CardPassCheck => "card_pass_check",
    /// `card_not_pass_check`: a card failed review.
    CardNotPassCheck => "card_not_pass_check",
    /// `user_get_card`: a user received a card.
    UserGetCard => "user_get_card",
    /// `user_gifting_card`: a user gave a card away.
    UserGiftingCard => "user_gifting_card",
    /// `user_del_card`: a user deleted a card.
    UserDelCard => "user_del_card",
    /// `user_consume_card`: a card was redeemed.
    UserConsumeCard => "user_consume_card",
    /// `user_pay_from_pay_cell`: a user paid through the card's pay cell.
    UserPayFromPayCell => "user_pay_from_pay_cell",
    /// `user_view_card`: a user opened a member card.
    UserViewCard => "user_view_card",
    /// `user_enter_session_from_card`: a user entered the chat from a card.
    UserEnterSessionFromCard => "user_enter_session_from_card",
    /// `update_member_card`: a member card's bonus or balance changed.
    UpdateMemberCard => "update_member_card",
    /// `card_sku_remind`: a card's stock runs low.
    CardSkuRemind => "card_sku_remind",
    /// `card_pay_order`: a card coin order changed.
    CardPayOrder => "card_pay_order",
    /// `submit_membercard_user_info`: a user filled in member information.
    SubmitMembercardUserInfo => "submit_membercard_user_info",
    /// `merchant_order`: a WeChat store order was paid.
    MerchantOrder => "merchant_order",
    /// `poi_check_notify`: a store location was reviewed.
    PoiCheckNotify => "poi_check_notify",
    /// `WifiConnected`: a user connected to the account's Wi-Fi.
    WifiConnected => "WifiConnected",
    /// `ShakearoundUserShake`: a user shook near a beacon.
    ShakearoundUserShake => "ShakearoundUserShake",
    /// `user_scan_product`: a user scanned a product code.
    UserScanProduct => "user_scan_product",
    /// `user_scan_product_enter_session`: a user entered the chat from a product page.
    UserScanProductEnterSession => "user_scan_product_enter_session",
    /// `user_scan_product_async`: a product scan's location, reported later.
    UserScanProductAsync => "user_scan_product_async",
    /// `user_scan_product_verify_action`: a product's review result.
    UserScanProductVerifyAction => "user_scan_product_verify_action",
    /// `user_authorization_revoke`: a user revoked an authorization.
    UserAuthorizationRevoke => "user_authorization_revoke",
    /// `user_info_modified`: an authorized user changed their information.
    UserInfoModified => "user_info_modified",
    /// `user_enter_tempsession`: a user entered a temporary session.
    UserEnterTempsession => "user_enter_tempsession",
    /// `subscribe` with an `EventKey` of `scanbarcode|...` or
    /// `scanimage|...`: the user followed from a scanned product.
    SubscribeScanProduct => "subscribe",
}

impl EventKind {
    /// The kind named by an `Event` value (compared ignoring ASCII case,
    /// since WeChat spells some upper-case and some lower-case, and
    /// surrounding whitespace, which pretty-printed XML or padded CDATA
    /// carries as numbers can). A `subscribe` is [`EventKind::Subscribe`]
    /// here; the parser tells a product-scan subscribe by its `EventKey`.
    pub fn from_event(event: &str) -> EventKind {
        // A borrow: no allocation, padded or not.
        let event = event.trim();
        EventKind::ALL
            .iter()
            .copied()
            .find(|k| k.event().is_some_and(|e| e.eq_ignore_ascii_case(event)))
            .unwrap_or(EventKind::Unknown)
    }

    /// Whether pushes of this kind carry an `EventKey` worth filtering on.
    pub const fn has_key(self) -> bool {
        matches!(
            self,
            EventKind::Subscribe
                | EventKind::Scan
                | EventKind::Click
                | EventKind::View
                | EventKind::ScancodePush
                | EventKind::ScancodeWaitmsg
                | EventKind::PicSysphoto
                | EventKind::PicPhotoOrAlbum
                | EventKind::PicWeixin
                | EventKind::LocationSelect
                | EventKind::ViewMiniprogram
                | EventKind::SubscribeScanProduct
                | EventKind::Unknown
        )
    }

    /// Whether pushes of this kind carry a QR-code scene value.
    pub const fn has_scene(self) -> bool {
        matches!(self, EventKind::Subscribe | EventKind::Scan)
    }

    /// Whether an event called `name` (its raw `Event` value, compared as
    /// [`EventKind::from_event`] does) can be of this kind: a typed kind
    /// only under its own name, `Unknown` only under names no kind has.
    pub fn has_event_name(self, name: &str) -> bool {
        let named = EventKind::from_event(name);
        named == self || (named == EventKind::Subscribe && self == EventKind::SubscribeScanProduct)
    }
}

/// The kinds of ordinary message, by their `MsgType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[non_exhaustive]
pub enum MessageKind {
    /// `text`
    Text,
    /// `image`
    Image,
    /// `voice`
    Voice,
    /// `video`
    Video,
    /// `shortvideo`
    ShortVideo,
    /// `location`
    Location,
    /// `link`
    Link,
    /// `miniprogrampage`: a mini program card.
    MiniProgramPage,
    /// Any `MsgType` not modeled here.
    Unknown,
}

impl MessageKind {
    /// Every kind, in declaration order.
    pub const ALL: &'static [MessageKind] = &[
        MessageKind::Text,
        MessageKind::Image,
        MessageKind::Voice,
        MessageKind::Video,
        MessageKind::ShortVideo,
        MessageKind::Location,
        MessageKind::Link,
        MessageKind::MiniProgramPage,
        MessageKind::Unknown,
    ];

    /// The kind named by a `MsgType` value (compared ignoring ASCII case
    /// and surrounding whitespace, as [`EventKind::from_event`]).
    pub fn from_msg_type(msg_type: &str) -> MessageKind {
        let msg_type = msg_type.trim();
        MessageKind::ALL
            .iter()
            .copied()
            .find(|k| {
                k.msg_type()
                    .is_some_and(|t| t.eq_ignore_ascii_case(msg_type))
            })
            .unwrap_or(MessageKind::Unknown)
    }

    /// The `MsgType` value, `None` for [`MessageKind::Unknown`].
    pub fn msg_type(self) -> Option<&'static str> {
        Some(match self {
            MessageKind::Text => "text",
            MessageKind::Image => "image",
            MessageKind::Voice => "voice",
            MessageKind::Video => "video",
            MessageKind::ShortVideo => "shortvideo",
            MessageKind::Location => "location",
            MessageKind::Link => "link",
            MessageKind::MiniProgramPage => "miniprogrampage",
            MessageKind::Unknown => return None,
        })
    }
}

/// Which pushes a route can see.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum RouteKind {
    /// One kind of message.
    Message(MessageKind),
    /// One kind of event.
    Event(EventKind),
    /// Every message.
    AnyMessage,
    /// Every event.
    AnyEvent,
    /// Everything: the fallback.
    Any,
}

impl RouteKind {
    /// Whether a message of kind `kind` is one of these pushes.
    pub fn covers_message(self, kind: MessageKind) -> bool {
        match self {
            RouteKind::Any | RouteKind::AnyMessage => true,
            RouteKind::Message(k) => k == kind,
            RouteKind::Event(_) | RouteKind::AnyEvent => false,
        }
    }

    /// Whether an event of kind `kind` is one of these pushes.
    pub fn covers_event(self, kind: EventKind) -> bool {
        match self {
            RouteKind::Any | RouteKind::AnyEvent => true,
            RouteKind::Event(k) => k == kind,
            RouteKind::Message(_) | RouteKind::AnyMessage => false,
        }
    }

    /// How specific the kind is: a concrete kind (2) before "any event" or
    /// "any message" (1) before the fallback (0).
    pub const fn specificity(self) -> u8 {
        match self {
            RouteKind::Message(_) | RouteKind::Event(_) => 2,
            RouteKind::AnyMessage | RouteKind::AnyEvent => 1,
            RouteKind::Any => 0,
        }
    }

    /// Whether an `EventKey` filter (`key`, `key_regex`) fits these pushes.
    pub const fn allows_key(self) -> bool {
        match self {
            RouteKind::Event(k) => k.has_key(),
            RouteKind::AnyEvent => true,
            _ => false,
        }
    }

    /// Whether a QR-scene filter fits these pushes.
    pub const fn allows_scene(self) -> bool {
        match self {
            RouteKind::Event(k) => k.has_scene(),
            RouteKind::AnyEvent => true,
            _ => false,
        }
    }

    /// Whether a raw event-name filter for `name` fits these pushes: any
    /// event route, as long as the name can be of its kind.
    pub fn allows_event_name(self, name: &str) -> bool {
        match self {
            RouteKind::Event(k) => k.has_event_name(name),
            RouteKind::AnyEvent => true,
            _ => false,
        }
    }

    /// Whether a text filter (keywords, `contains`, regex) fits these pushes.
    pub const fn allows_text(self) -> bool {
        matches!(self, RouteKind::Message(MessageKind::Text))
    }
}

impl fmt::Display for RouteKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RouteKind::Message(k) => write!(f, "message {k:?}"),
            RouteKind::Event(k) => write!(f, "event {k:?}"),
            RouteKind::AnyMessage => f.write_str("any message"),
            RouteKind::AnyEvent => f.write_str("any event"),
            RouteKind::Any => f.write_str("fallback"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_compared_without_surrounding_whitespace() {
        // Pretty-printed XML or padded CDATA can carry whitespace around a
        // type name, as it can around a number.
        assert_eq!(EventKind::from_event(" subscribe "), EventKind::Subscribe);
        assert_eq!(EventKind::from_event("\n\tCLICK\n"), EventKind::Click);
        assert_eq!(EventKind::from_event(" click"), EventKind::Click);
        assert_eq!(MessageKind::from_msg_type(" text "), MessageKind::Text);
        assert_eq!(
            MessageKind::from_msg_type("\r\nimage\t"),
            MessageKind::Image
        );
        assert!(EventKind::Subscribe.has_event_name(" SUBSCRIBE "));
        assert!(RouteKind::Event(EventKind::Unknown).allows_event_name(" new_thing "));
        assert!(!RouteKind::Event(EventKind::Unknown).allows_event_name(" subscribe "));
        // Whitespace inside a name is part of it.
        assert_eq!(EventKind::from_event("sub scribe"), EventKind::Unknown);
        assert_eq!(MessageKind::from_msg_type(""), MessageKind::Unknown);
        assert_eq!(MessageKind::from_msg_type("  "), MessageKind::Unknown);
    }
}
