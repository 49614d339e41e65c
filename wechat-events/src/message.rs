//! Ordinary messages a user sends to the account (接收普通消息).
//!
//! Each message type is its own struct so a handler states in its
//! signature what it accepts: `async fn echo(msg: TextMessage) -> String`.
//! A `MsgType` this crate does not model becomes [`UnknownMessage`], which
//! keeps every raw field.

use serde::Serialize;

use crate::fields::Fields;
use crate::kinds::MessageKind;

/// A parsed ordinary message.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Message {
    /// A text message.
    Text(TextMessage),
    /// A picture.
    Image(ImageMessage),
    /// A voice clip, with speech recognition when the account enabled it.
    Voice(VoiceMessage),
    /// A video.
    Video(VideoMessage),
    /// A short video.
    ShortVideo(ShortVideoMessage),
    /// A location the user shared.
    Location(LocationMessage),
    /// A link.
    Link(LinkMessage),
    /// A `MsgType` not modeled here.
    Unknown(UnknownMessage),
}

impl Message {
    /// This message's kind.
    pub fn kind(&self) -> MessageKind {
        match self {
            Message::Text(_) => MessageKind::Text,
            Message::Image(_) => MessageKind::Image,
            Message::Voice(_) => MessageKind::Voice,
            Message::Video(_) => MessageKind::Video,
            Message::ShortVideo(_) => MessageKind::ShortVideo,
            Message::Location(_) => MessageKind::Location,
            Message::Link(_) => MessageKind::Link,
            Message::Unknown(_) => MessageKind::Unknown,
        }
    }

    /// The `MsgId`, when the push carried a valid one.
    pub fn msg_id(&self) -> Option<u64> {
        match self {
            Message::Text(m) => m.msg_id,
            Message::Image(m) => m.msg_id,
            Message::Voice(m) => m.msg_id,
            Message::Video(m) => m.msg_id,
            Message::ShortVideo(m) => m.msg_id,
            Message::Location(m) => m.msg_id,
            Message::Link(m) => m.msg_id,
            Message::Unknown(m) => m.msg_id,
        }
    }
}

/// `MsgType` `text`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TextMessage {
    /// What the user typed.
    pub content: String,
    /// `MsgId`.
    pub msg_id: Option<u64>,
}

/// `MsgType` `image`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ImageMessage {
    /// `PicUrl`: where WeChat serves the picture.
    pub pic_url: String,
    /// `MediaId`: usable for an image reply.
    pub media_id: String,
    /// `MsgId`.
    pub msg_id: Option<u64>,
}

/// `MsgType` `voice`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VoiceMessage {
    /// `MediaId`.
    pub media_id: String,
    /// `Format`, such as `amr` or `speex`.
    pub format: String,
    /// `Recognition`: speech-to-text, when enabled. WeChat may send it empty.
    pub recognition: Option<String>,
    /// `MsgId`.
    pub msg_id: Option<u64>,
}

/// `MsgType` `video`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VideoMessage {
    /// `MediaId`.
    pub media_id: String,
    /// `ThumbMediaId`.
    pub thumb_media_id: String,
    /// `MsgId`.
    pub msg_id: Option<u64>,
}

/// `MsgType` `shortvideo`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ShortVideoMessage {
    /// `MediaId`.
    pub media_id: String,
    /// `ThumbMediaId`.
    pub thumb_media_id: String,
    /// `MsgId`.
    pub msg_id: Option<u64>,
}

/// `MsgType` `location`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LocationMessage {
    /// `Location_X`: latitude.
    pub latitude: f64,
    /// `Location_Y`: longitude.
    pub longitude: f64,
    /// `Scale`: the map's zoom level.
    pub scale: f64,
    /// `Label`: the place's description.
    pub label: String,
    /// `MsgId`.
    pub msg_id: Option<u64>,
}

/// `MsgType` `link`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LinkMessage {
    /// `Title`.
    pub title: String,
    /// `Description`.
    pub description: String,
    /// `Url`.
    pub url: String,
    /// `MsgId`.
    pub msg_id: Option<u64>,
}

/// A message whose `MsgType` is not modeled (or whose fields did not fit
/// the model); every raw field is kept.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UnknownMessage {
    /// The `MsgType` as sent.
    pub msg_type: String,
    /// `MsgId`, when present and numeric.
    pub msg_id: Option<u64>,
    /// Every field of the push.
    pub fields: Fields,
}

pub(crate) fn from_fields(msg_type: &str, f: &Fields) -> Message {
    let msg_id = f.text("MsgId").and_then(|s| s.trim().parse().ok());
    let s = |name: &str| f.text(name).unwrap_or_default().to_owned();
    let num = |name: &str| f.text(name).and_then(|v| v.trim().parse::<f64>().ok());
    let unknown = || {
        Message::Unknown(UnknownMessage {
            msg_type: msg_type.to_owned(),
            msg_id,
            fields: f.clone(),
        })
    };
    match MessageKind::from_msg_type(msg_type) {
        MessageKind::Text => Message::Text(TextMessage {
            content: s("Content"),
            msg_id,
        }),
        MessageKind::Image => Message::Image(ImageMessage {
            pic_url: s("PicUrl"),
            media_id: s("MediaId"),
            msg_id,
        }),
        MessageKind::Voice => Message::Voice(VoiceMessage {
            media_id: s("MediaId"),
            format: s("Format"),
            recognition: f.text("Recognition").map(str::to_owned),
            msg_id,
        }),
        MessageKind::Video => Message::Video(VideoMessage {
            media_id: s("MediaId"),
            thumb_media_id: s("ThumbMediaId"),
            msg_id,
        }),
        MessageKind::ShortVideo => Message::ShortVideo(ShortVideoMessage {
            media_id: s("MediaId"),
            thumb_media_id: s("ThumbMediaId"),
            msg_id,
        }),
        MessageKind::Location => match (num("Location_X"), num("Location_Y"), num("Scale")) {
            (Some(latitude), Some(longitude), scale) => Message::Location(LocationMessage {
                latitude,
                longitude,
                scale: scale.unwrap_or(0.0),
                label: s("Label"),
                msg_id,
            }),
            _ => unknown(),
        },
        MessageKind::Link => Message::Link(LinkMessage {
            title: s("Title"),
            description: s("Description"),
            url: s("Url"),
            msg_id,
        }),
        MessageKind::Unknown => unknown(),
    }
}
