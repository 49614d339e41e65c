//! Events WeChat pushes when a user acts (接收事件推送): following,
//! scanning a parameter QR code, reporting a location, using the menu.
//!
//! As with messages, each event is its own struct so a handler's signature
//! says what it handles. An `Event` value this crate does not model
//! becomes [`UnknownEvent`] with every raw field kept.

use serde::Serialize;

use crate::fields::Fields;
use crate::kinds::EventKind;

/// A parsed event push (`MsgType` `event`).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Event {
    /// The user followed the account.
    Subscribe(SubscribeEvent),
    /// The user unfollowed the account.
    Unsubscribe(UnsubscribeEvent),
    /// A follower scanned a parameter QR code.
    Scan(ScanEvent),
    /// The user's client reported its location.
    Location(LocationEvent),
    /// The user clicked a menu item that pulls a message.
    Click(ClickEvent),
    /// The user clicked a menu item that opens a URL.
    View(ViewEvent),
    /// An `Event` not modeled here.
    Unknown(UnknownEvent),
}

impl Event {
    /// This event's kind.
    pub fn kind(&self) -> EventKind {
        match self {
            Event::Subscribe(_) => EventKind::Subscribe,
            Event::Unsubscribe(_) => EventKind::Unsubscribe,
            Event::Scan(_) => EventKind::Scan,
            Event::Location(_) => EventKind::Location,
            Event::Click(_) => EventKind::Click,
            Event::View(_) => EventKind::View,
            Event::Unknown(_) => EventKind::Unknown,
        }
    }

    /// The raw `EventKey`, if the event has one.
    pub fn key(&self) -> Option<&str> {
        match self {
            Event::Subscribe(e) => e.event_key.as_deref(),
            Event::Scan(e) => Some(&e.scene),
            Event::Click(e) => Some(&e.key),
            Event::View(e) => Some(&e.url),
            Event::Unknown(e) => e.event_key.as_deref(),
            Event::Unsubscribe(_) | Event::Location(_) => None,
        }
    }

    /// The QR-code scene value: `qrscene_` stripped for subscribe, the
    /// `EventKey` for SCAN.
    pub fn scene(&self) -> Option<&str> {
        match self {
            Event::Subscribe(e) => e.scene.as_deref(),
            Event::Scan(e) => Some(&e.scene),
            _ => None,
        }
    }
}

/// `subscribe`: the user followed the account, perhaps by scanning a
/// parameter QR code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SubscribeEvent {
    /// The scene value when the user subscribed through a parameter QR code
    /// (the `EventKey` with its `qrscene_` prefix removed).
    pub scene: Option<String>,
    /// `Ticket` of that QR code.
    pub ticket: Option<String>,
    /// The raw `EventKey`, if any (empty keys are `None`).
    pub event_key: Option<String>,
}

/// `unsubscribe`: the user unfollowed. Replies are not shown to the user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UnsubscribeEvent {}

/// `SCAN`: a follower scanned a parameter QR code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ScanEvent {
    /// The `EventKey`: the scene id (a 32-bit number) or scene string.
    pub scene: String,
    /// `Ticket` of the QR code.
    pub ticket: Option<String>,
}

/// `LOCATION`: the client reported where the user is.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LocationEvent {
    /// `Latitude`.
    pub latitude: f64,
    /// `Longitude`.
    pub longitude: f64,
    /// `Precision`.
    pub precision: f64,
}

/// `CLICK`: a menu item with a key was clicked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ClickEvent {
    /// `EventKey`: the key given to the menu item.
    pub key: String,
}

/// `VIEW`: a menu item that opens a URL was clicked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ViewEvent {
    /// `EventKey`: the URL.
    pub url: String,
    /// `MenuId`, present for personalised menus.
    pub menu_id: Option<String>,
}

/// An event not modeled here (or whose fields did not fit the model);
/// every raw field is kept.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UnknownEvent {
    /// The `Event` value as sent.
    pub event: String,
    /// `EventKey`, if any.
    pub event_key: Option<String>,
    /// Every field of the push.
    pub fields: Fields,
}

pub(crate) fn from_fields(event: &str, f: &Fields) -> Event {
    let opt = |name: &str| f.text(name).filter(|v| !v.is_empty()).map(str::to_owned);
    let s = |name: &str| f.text(name).unwrap_or_default().to_owned();
    let num = |name: &str| f.text(name).and_then(|v| v.trim().parse::<f64>().ok());
    let unknown = || {
        Event::Unknown(UnknownEvent {
            event: event.to_owned(),
            event_key: opt("EventKey"),
            fields: f.clone(),
        })
    };
    match EventKind::from_event(event) {
        EventKind::Subscribe => {
            let event_key = opt("EventKey");
            Event::Subscribe(SubscribeEvent {
                scene: event_key
                    .as_deref()
                    .and_then(|k| k.strip_prefix("qrscene_"))
                    .map(str::to_owned),
                ticket: opt("Ticket"),
                event_key,
            })
        }
        EventKind::Unsubscribe => Event::Unsubscribe(UnsubscribeEvent {}),
        EventKind::Scan => Event::Scan(ScanEvent {
            scene: s("EventKey"),
            ticket: opt("Ticket"),
        }),
        EventKind::Location => match (num("Latitude"), num("Longitude")) {
            (Some(latitude), Some(longitude)) => Event::Location(LocationEvent {
                latitude,
                longitude,
                precision: num("Precision").unwrap_or(0.0),
            }),
            _ => unknown(),
        },
        EventKind::Click => Event::Click(ClickEvent { key: s("EventKey") }),
        EventKind::View => Event::View(ViewEvent {
            url: s("EventKey"),
            menu_id: opt("MenuId"),
        }),
        EventKind::Unknown => unknown(),
    }
}
