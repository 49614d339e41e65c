//! The kinds of push, by name: which events and messages exist, and which
//! pushes a route can see.
//!
//! This is the bottom of the crate's layers: the typed events and messages
//! ([`crate::event`], [`crate::message`]), the handler payloads and the
//! router all name kinds from here, and this module names nothing else.
//! Adding a kind to the catalog starts with a variant here.

use std::fmt;

use serde::Serialize;

/// The kinds of event, by their `Event` value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[non_exhaustive]
pub enum EventKind {
    /// `subscribe`
    Subscribe,
    /// `unsubscribe`
    Unsubscribe,
    /// `SCAN`
    Scan,
    /// `LOCATION`
    Location,
    /// `CLICK`
    Click,
    /// `VIEW`
    View,
    /// Any `Event` not modeled here.
    Unknown,
}

impl EventKind {
    /// Every kind, in declaration order.
    pub const ALL: &'static [EventKind] = &[
        EventKind::Subscribe,
        EventKind::Unsubscribe,
        EventKind::Scan,
        EventKind::Location,
        EventKind::Click,
        EventKind::View,
        EventKind::Unknown,
    ];

    /// The kind named by an `Event` value (compared ignoring ASCII case,
    /// since WeChat spells some upper-case and some lower-case).
    pub fn from_event(event: &str) -> EventKind {
        EventKind::ALL
            .iter()
            .copied()
            .find(|k| k.event().is_some_and(|e| e.eq_ignore_ascii_case(event)))
            .unwrap_or(EventKind::Unknown)
    }

    /// The `Event` value as WeChat spells it, `None` for [`EventKind::Unknown`].
    pub fn event(self) -> Option<&'static str> {
        Some(match self {
            EventKind::Subscribe => "subscribe",
            EventKind::Unsubscribe => "unsubscribe",
            EventKind::Scan => "SCAN",
            EventKind::Location => "LOCATION",
            EventKind::Click => "CLICK",
            EventKind::View => "VIEW",
            EventKind::Unknown => return None,
        })
    }

    /// Whether pushes of this kind carry an `EventKey` worth filtering on.
    pub const fn has_key(self) -> bool {
        matches!(
            self,
            EventKind::Subscribe
                | EventKind::Scan
                | EventKind::Click
                | EventKind::View
                | EventKind::Unknown
        )
    }

    /// Whether pushes of this kind carry a QR-code scene value.
    pub const fn has_scene(self) -> bool {
        matches!(self, EventKind::Subscribe | EventKind::Scan)
    }
}

/// The kinds of ordinary message, by their `MsgType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
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
        MessageKind::Unknown,
    ];

    /// The kind named by a `MsgType` value.
    pub fn from_msg_type(msg_type: &str) -> MessageKind {
        match msg_type {
            "text" => MessageKind::Text,
            "image" => MessageKind::Image,
            "voice" => MessageKind::Voice,
            "video" => MessageKind::Video,
            "shortvideo" => MessageKind::ShortVideo,
            "location" => MessageKind::Location,
            "link" => MessageKind::Link,
            _ => MessageKind::Unknown,
        }
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
            MessageKind::Unknown => return None,
        })
    }
}

/// Which pushes a route can see.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
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
