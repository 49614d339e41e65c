//! Ordinary messages a user sends to the account (接收普通消息).
//!
//! Each message type is its own struct so a handler states in its
//! signature what it accepts: `async fn echo(msg: TextMessage) -> String`.
//! Fields are named after WeChat's elements in snake_case, every struct
//! keeps the elements it does not model in `extra`, and a `MsgType` this
//! crate does not model becomes [`UnknownMessage`], which keeps every raw
//! field.
//!
//! The structs (and the enum) are `#[non_exhaustive]`, as the events are:
//! outside this crate, build one from `Default` and set its fields.
//!
//! ```
//! use wechat_events::TextMessage;
//!
//! let mut msg = TextMessage::default();
//! msg.content = "你好".into();
//! assert_eq!(msg.content, "你好");
//! ```

use serde::{Deserialize, Serialize};

use crate::fields::{record, Fields, Reader, Record};
use crate::kinds::MessageKind;

/// A parsed ordinary message.
///
/// In JSON, an object whose `type` is the `MsgType` in lower case
/// (`unknown` for the rest), beside the message's own fields.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
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
    /// A mini program card.
    MiniProgramPage(MiniProgramPageMessage),
    /// A `MsgType` not modeled here.
    Unknown(UnknownMessage),
}

macro_rules! each_message {
    ($self:expr, $m:ident => $e:expr, $unknown:ident => $u:expr) => {
        match $self {
            Message::Text($m) => $e,
            Message::Image($m) => $e,
            Message::Voice($m) => $e,
            Message::Video($m) => $e,
            Message::ShortVideo($m) => $e,
            Message::Location($m) => $e,
            Message::Link($m) => $e,
            Message::MiniProgramPage($m) => $e,
            Message::Unknown($unknown) => $u,
        }
    };
}

impl Message {
    /// This message's `type` in JSON: the `MsgType` in lower case,
    /// `unknown` for a message not modeled here.
    pub fn type_name(&self) -> &'static str {
        match self {
            Message::Text(_) => "text",
            Message::Image(_) => "image",
            Message::Voice(_) => "voice",
            Message::Video(_) => "video",
            Message::ShortVideo(_) => "shortvideo",
            Message::Location(_) => "location",
            Message::Link(_) => "link",
            Message::MiniProgramPage(_) => "miniprogrampage",
            Message::Unknown(_) => "unknown",
        }
    }

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
            Message::MiniProgramPage(_) => MessageKind::MiniProgramPage,
            Message::Unknown(_) => MessageKind::Unknown,
        }
    }

    /// The `MsgId` (or `MsgID`), when the push carried a valid one.
    pub fn msg_id(&self) -> Option<u64> {
        each_message!(self, m => m.msg_id, u => u.msg_id)
    }

    /// The elements the typed value does not model (every field for
    /// [`UnknownMessage`]).
    pub fn extra(&self) -> &Fields {
        each_message!(self, m => &m.extra, u => &u.fields)
    }
}

record! {
    /// `MsgType` `text`.
    #[derive(Eq)]
    pub struct TextMessage {
        /// `Content`: what the user typed.
        content: String = "Content",
        /// `MsgId`.
        msg_id: Option<u64> = "MsgId|MsgID",
        /// `MsgDataId`: the article the message came from, if any.
        msg_data_id: Option<u64> = "MsgDataId",
        /// `Idx`: the article's position in that send, if any.
        idx: Option<u32> = "Idx",
        /// `bizmsgmenuid`: the customer-service menu choice the user tapped.
        bizmsgmenuid: Option<u64> = "bizmsgmenuid",
    }

    /// `MsgType` `image`.
    #[derive(Eq)]
    pub struct ImageMessage {
        /// `PicUrl`: where WeChat serves the picture.
        pic_url: String = "PicUrl",
        /// `MediaId`: usable for an image reply.
        media_id: String = "MediaId",
        /// `MsgId`.
        msg_id: Option<u64> = "MsgId|MsgID",
        /// `MsgDataId`.
        msg_data_id: Option<u64> = "MsgDataId",
        /// `Idx`.
        idx: Option<u32> = "Idx",
    }

    /// `MsgType` `voice`.
    #[derive(Eq)]
    pub struct VoiceMessage {
        /// `MediaId`.
        media_id: String = "MediaId",
        /// `Format`, such as `amr` or `speex`.
        format: String = "Format",
        /// `Recognition`: speech-to-text, when enabled; `None` when WeChat
        /// sends it empty.
        recognition: Option<String> = "Recognition",
        /// `MsgId`.
        msg_id: Option<u64> = "MsgId|MsgID",
        /// `MsgDataId`.
        msg_data_id: Option<u64> = "MsgDataId",
        /// `Idx`.
        idx: Option<u32> = "Idx",
    }

    /// `MsgType` `video`.
    #[derive(Eq)]
    pub struct VideoMessage {
        /// `MediaId`.
        media_id: String = "MediaId",
        /// `ThumbMediaId`.
        thumb_media_id: String = "ThumbMediaId",
        /// `MsgId`.
        msg_id: Option<u64> = "MsgId|MsgID",
        /// `MsgDataId`.
        msg_data_id: Option<u64> = "MsgDataId",
        /// `Idx`.
        idx: Option<u32> = "Idx",
    }

    /// `MsgType` `shortvideo`.
    #[derive(Eq)]
    pub struct ShortVideoMessage {
        /// `MediaId`.
        media_id: String = "MediaId",
        /// `ThumbMediaId`.
        thumb_media_id: String = "ThumbMediaId",
        /// `MsgId`.
        msg_id: Option<u64> = "MsgId|MsgID",
        /// `MsgDataId`.
        msg_data_id: Option<u64> = "MsgDataId",
        /// `Idx`.
        idx: Option<u32> = "Idx",
    }

    /// `MsgType` `location`.
    pub struct LocationMessage {
        /// `Location_X`: latitude.
        #[serde(rename = "location_x")]
        latitude: f64 = "Location_X",
        /// `Location_Y`: longitude.
        #[serde(rename = "location_y")]
        longitude: f64 = "Location_Y",
        /// `Scale`: the map's zoom level.
        scale: f64 = "Scale",
        /// `Label`: the place's description.
        label: String = "Label",
        /// `MsgId`.
        msg_id: Option<u64> = "MsgId|MsgID",
        /// `MsgDataId`.
        msg_data_id: Option<u64> = "MsgDataId",
        /// `Idx`.
        idx: Option<u32> = "Idx",
    }

    /// `MsgType` `link`.
    #[derive(Eq)]
    pub struct LinkMessage {
        /// `Title`.
        title: String = "Title",
        /// `Description`.
        description: String = "Description",
        /// `Url`.
        url: String = "Url",
        /// `MsgId`.
        msg_id: Option<u64> = "MsgId|MsgID",
        /// `MsgDataId`.
        msg_data_id: Option<u64> = "MsgDataId",
        /// `Idx`.
        idx: Option<u32> = "Idx",
    }

    /// `MsgType` `miniprogrampage`: the user sent a mini program card.
    #[derive(Eq)]
    pub struct MiniProgramPageMessage {
        /// `AppId`: the mini program.
        app_id: String = "AppId",
        /// `Title`.
        title: String = "Title",
        /// `PagePath`.
        page_path: String = "PagePath",
        /// `ThumbUrl`: the cover picture.
        thumb_url: Option<String> = "ThumbUrl",
        /// `ThumbMediaId`: the cover picture's media id.
        thumb_media_id: Option<String> = "ThumbMediaId",
        /// `MsgId`.
        msg_id: Option<u64> = "MsgId|MsgID",
        /// `MsgDataId`.
        msg_data_id: Option<u64> = "MsgDataId",
        /// `Idx`.
        idx: Option<u32> = "Idx",
    }
}

/// A message whose `MsgType` is not modeled (or whose fields did not fit
/// the model); every raw field is kept.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct UnknownMessage {
    /// The `MsgType` as sent.
    pub msg_type: String,
    /// `MsgId` (or `MsgID`), when present and numeric.
    pub msg_id: Option<u64>,
    /// Every field of the push.
    pub fields: Fields,
}

/// The envelope every message has: never part of a typed value's `extra`.
const ENVELOPE: &[&str] = &["ToUserName", "FromUserName", "CreateTime", "MsgType"];

pub(crate) fn from_fields(msg_type: &str, f: &Fields) -> Message {
    let number = |name: &str| f.text(name).and_then(|v| v.trim().parse::<f64>().ok());
    let reader = &mut Reader::new(f, ENVELOPE);
    match MessageKind::from_msg_type(msg_type) {
        MessageKind::Text => Message::Text(Record::read(reader)),
        MessageKind::Image => Message::Image(Record::read(reader)),
        MessageKind::Voice => Message::Voice(Record::read(reader)),
        MessageKind::Video => Message::Video(Record::read(reader)),
        MessageKind::ShortVideo => Message::ShortVideo(Record::read(reader)),
        // A location without coordinates says nothing: keep it whole.
        MessageKind::Location
            if number("Location_X").is_some() && number("Location_Y").is_some() =>
        {
            Message::Location(Record::read(reader))
        }
        MessageKind::Link => Message::Link(Record::read(reader)),
        MessageKind::MiniProgramPage => Message::MiniProgramPage(Record::read(reader)),
        _ => Message::Unknown(UnknownMessage {
            msg_type: msg_type.to_owned(),
            msg_id: ["MsgId", "MsgID"]
                .iter()
                .find_map(|n| f.text(n))
                .and_then(|s| s.trim().parse().ok()),
            fields: f.clone(),
        }),
    }
}
