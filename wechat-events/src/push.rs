//! Parsing a push's XML into a typed [`Push`], without any HTTP.
//!
//! The parser is deliberately small and strict about the XML itself (no
//! DTDs, only the five predefined entities, bounded depth and element
//! count, UTF-8 only) and lenient about content: an event or message type
//! it does not know is an `Unknown` value carrying every field, never an
//! error. Only a document that is not a WeChat push at all — not XML, no
//! `<xml>` root, no `FromUserName`/`MsgType`/numeric `CreateTime` — fails.

use serde::{Deserialize, Serialize};

use crate::event::{self, Event};
use crate::fields::Fields;
use crate::message::{self, Message};
use crate::xml::{parse_fields, XmlError};

/// Why a body is not a WeChat push. Each maps to `400 Bad Request`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseError {
    /// The body is not an acceptable XML document.
    #[error(transparent)]
    Xml(#[from] XmlError),
    /// A required field is missing or empty.
    #[error("required field <{0}> is missing")]
    Missing(&'static str),
    /// `CreateTime` is not an integer.
    #[error("<CreateTime> is not an integer: {0:?}")]
    CreateTime(String),
}

/// What a push is: a message or an event.
///
/// In JSON, `{"event": {"type": ..., ...}}` or `{"message": {"type": ..., ...}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Body {
    /// An ordinary message (`MsgType` other than `event`).
    Message(Message),
    /// An event (`MsgType` `event`).
    Event(Event),
}

/// One parsed push: the common header, the typed body, and every raw field.
///
/// Serializes (and deserializes back to an equal value) as
///
/// ```json
/// {
///   "to_user_name": "gh_...", "from_user_name": "o...", "create_time": 1700000000,
///   "msg_type": "event",
///   "body": {"event": {"type": "scancode_waitmsg", "event_key": "...", "scan_code_info": {...}}},
///   "fields": {"ToUserName": "gh_...", "ScanCodeInfo": {"ScanType": "qrcode", ...}, ...}
/// }
/// ```
///
/// Typed values use the snake_case of WeChat's element names, their kind
/// is under `type`, lists are arrays (one item or many), absent optional
/// values are `null`, and elements a type does not model are under
/// `extra` (omitted when there are none). `fields` is the raw tree with the
/// names as sent: a leaf is a string, a nested element an object, a
/// repeated name an array.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Push {
    /// `ToUserName`: the account's original id (`gh_...`).
    #[serde(rename = "to_user_name")]
    pub to_user: String,
    /// `FromUserName`: the user's OpenID.
    #[serde(rename = "from_user_name")]
    pub from_user: String,
    /// `CreateTime`: unix seconds.
    pub create_time: i64,
    /// `MsgType` as sent (its kind is read with surrounding whitespace
    /// trimmed, ignoring ASCII case).
    pub msg_type: String,
    /// The typed message or event.
    pub body: Body,
    /// Every field of the document, in order.
    pub fields: Fields,
}

impl Push {
    /// The push's kind as the catalog names it in JSON (its `type`):
    /// `text`, `click`, `subscribe`, ..., `unknown`.
    ///
    /// ```
    /// let push = wechat_events::push::parse(b"<xml><ToUserName>gh</ToUserName><FromUserName>o</FromUserName>\
    ///     <CreateTime>1</CreateTime><MsgType>event</MsgType><Event>CLICK</Event><EventKey>K</EventKey></xml>").unwrap();
    /// assert_eq!(push.kind_name(), "click");
    /// ```
    pub fn kind_name(&self) -> &'static str {
        match &self.body {
            Body::Event(event) => event.type_name(),
            Body::Message(message) => message.type_name(),
        }
    }

    /// The event, if this push is one.
    pub fn event(&self) -> Option<&Event> {
        match &self.body {
            Body::Event(e) => Some(e),
            Body::Message(_) => None,
        }
    }

    /// The message, if this push is one.
    pub fn message(&self) -> Option<&Message> {
        match &self.body {
            Body::Message(m) => Some(m),
            Body::Event(_) => None,
        }
    }

    /// Builds a push from an already parsed field list (the `<xml>` root's
    /// children).
    pub fn from_fields(fields: Fields) -> Result<Push, ParseError> {
        let required = |name: &'static str| {
            fields
                .text(name)
                .filter(|v| !v.trim().is_empty())
                .ok_or(ParseError::Missing(name))
        };
        let from_user = required("FromUserName")?.to_owned();
        let msg_type = required("MsgType")?.to_owned();
        let to_user = fields.text("ToUserName").unwrap_or_default().to_owned();
        let create_time = required("CreateTime")?;
        let create_time = create_time
            .trim()
            .parse()
            .map_err(|_| ParseError::CreateTime(create_time.to_owned()))?;
        // The kind is decided on the trimmed name (as `EventKind::from_event`
        // and `MessageKind::from_msg_type` do); `msg_type` keeps it as sent.
        let body = if msg_type.trim().eq_ignore_ascii_case("event") {
            Body::Event(event::from_fields(
                fields.text("Event").unwrap_or_default(),
                &fields,
            ))
        } else {
            Body::Message(message::from_fields(&msg_type, &fields))
        };
        Ok(Push {
            to_user,
            from_user,
            create_time,
            msg_type,
            body,
            fields,
        })
    }
}

/// Parses a push body (plaintext XML) into a [`Push`].
///
/// ```
/// use wechat_events::push::{parse, Body};
/// use wechat_events::Event;
/// let push = parse(br#"<xml><ToUserName><![CDATA[gh_1]]></ToUserName>
///   <FromUserName><![CDATA[oUser]]></FromUserName><CreateTime>123456789</CreateTime>
///   <MsgType><![CDATA[event]]></MsgType><Event><![CDATA[CLICK]]></Event>
///   <EventKey><![CDATA[MENU_1]]></EventKey></xml>"#).unwrap();
/// assert_eq!(push.from_user, "oUser");
/// match push.body {
///     Body::Event(Event::Click(click)) => assert_eq!(click.key, "MENU_1"),
///     other => panic!("unexpected {other:?}"),
/// }
/// ```
pub fn parse(body: &[u8]) -> Result<Push, ParseError> {
    let text = std::str::from_utf8(body).map_err(|e| XmlError::InvalidUtf8(e.valid_up_to()))?;
    Push::from_fields(parse_fields(text)?)
}

/// A seed sample from `tests/fixtures`, parsed (for unit tests).
#[cfg(test)]
pub(crate) fn fixture(name: &str) -> Push {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    parse(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::*;
    use crate::fields::Value;
    use crate::message::*;
    use crate::xml::{XmlError, MAX_DEPTH, MAX_ELEMENTS};

    use crate::push::fixture;

    #[test]
    fn seed_subscribe() {
        let p = fixture("seed-subscribe.xml");
        assert_eq!(p.to_user, "toUser");
        assert_eq!(p.from_user, "FromUser");
        assert_eq!(p.create_time, 123456789);
        assert_eq!(
            p.body,
            Body::Event(Event::Subscribe(SubscribeEvent::default()))
        );
    }

    #[test]
    fn seed_subscribe_with_qrscene() {
        let p = fixture("seed-subscribe-qrscene.xml");
        let Body::Event(Event::Subscribe(s)) = p.body else {
            panic!("{:?}", p.body)
        };
        assert_eq!(s.scene.as_deref(), Some("123123"));
        assert_eq!(s.event_key.as_deref(), Some("qrscene_123123"));
        assert_eq!(s.ticket.as_deref(), Some("TICKET"));
    }

    #[test]
    fn seed_scan() {
        let p = fixture("seed-scan.xml");
        assert_eq!(
            p.body,
            Body::Event(Event::Scan(ScanEvent {
                scene: "SCENE_VALUE".into(),
                ticket: Some("TICKET".into()),
                extra: Fields::new(),
            }))
        );
        assert_eq!(p.event().and_then(Event::scene), Some("SCENE_VALUE"));
    }

    #[test]
    fn seed_location() {
        let p = fixture("seed-location.xml");
        assert_eq!(p.from_user, "fromUser");
        assert_eq!(
            p.body,
            Body::Event(Event::Location(LocationEvent {
                latitude: 23.137466,
                longitude: 113.352425,
                precision: 119.385040,
                extra: Fields::new(),
            }))
        );
    }

    #[test]
    fn seed_click_and_view() {
        let p = fixture("seed-click.xml");
        assert_eq!(
            p.body,
            Body::Event(Event::Click(ClickEvent {
                key: "EVENTKEY".into(),
                extra: Fields::new(),
            }))
        );
        let p = fixture("seed-view.xml");
        assert_eq!(
            p.body,
            Body::Event(Event::View(ViewEvent {
                url: "www.qq.com".into(),
                menu_id: None,
                extra: Fields::new(),
            }))
        );
    }

    fn doc(inner: &str) -> String {
        format!(
            "<xml><ToUserName><![CDATA[gh_a]]></ToUserName><FromUserName><![CDATA[oU]]></FromUserName>\
             <CreateTime>1700000000</CreateTime>{inner}</xml>"
        )
    }

    #[test]
    fn view_with_menu_id_and_unsubscribe() {
        let p = parse(doc("<MsgType>event</MsgType><Event>VIEW</Event><EventKey>https://a.b/?x=1&amp;y=2</EventKey><MenuId>42</MenuId>").as_bytes()).unwrap();
        assert_eq!(
            p.body,
            Body::Event(Event::View(ViewEvent {
                url: "https://a.b/?x=1&y=2".into(),
                menu_id: Some("42".into()),
                extra: Fields::new(),
            }))
        );
        let p =
            parse(doc("<MsgType>event</MsgType><Event>unsubscribe</Event><EventKey/>").as_bytes())
                .unwrap();
        // The empty `EventKey` is kept, as sent, among the unmodeled fields.
        let mut extra = Fields::new();
        extra.push("EventKey", Value::Text(String::new()));
        assert_eq!(
            p.body,
            Body::Event(Event::Unsubscribe(UnsubscribeEvent { extra }))
        );
    }

    #[test]
    fn ordinary_messages() {
        let p = parse(doc("<MsgType><![CDATA[text]]></MsgType><Content><![CDATA[你好 ]]]]><![CDATA[> x]]></Content><MsgId>1234567890123456</MsgId>").as_bytes()).unwrap();
        assert_eq!(
            p.body,
            Body::Message(Message::Text(TextMessage {
                content: "你好 ]]> x".into(),
                msg_id: Some(1234567890123456),
                ..Default::default()
            }))
        );
        let p = parse(doc("<MsgType>image</MsgType><PicUrl>http://p</PicUrl><MediaId>m1</MediaId><MsgId>1</MsgId>").as_bytes()).unwrap();
        assert_eq!(
            p.body,
            Body::Message(Message::Image(ImageMessage {
                pic_url: "http://p".into(),
                media_id: "m1".into(),
                msg_id: Some(1),
                ..Default::default()
            }))
        );
        let p = parse(doc("<MsgType>voice</MsgType><MediaId>v</MediaId><Format>amr</Format><Recognition><![CDATA[腾讯]]></Recognition><MsgId>2</MsgId>").as_bytes()).unwrap();
        assert_eq!(
            p.body,
            Body::Message(Message::Voice(VoiceMessage {
                media_id: "v".into(),
                format: "amr".into(),
                recognition: Some("腾讯".into()),
                msg_id: Some(2),
                ..Default::default()
            }))
        );
        let p = parse(
            doc("<MsgType>voice</MsgType><MediaId>v</MediaId><Format>amr</Format><MsgId>2</MsgId>")
                .as_bytes(),
        )
        .unwrap();
        assert!(matches!(
            p.body,
            Body::Message(Message::Voice(VoiceMessage {
                recognition: None,
                ..
            }))
        ));
        let p = parse(doc("<MsgType>video</MsgType><MediaId>v</MediaId><ThumbMediaId>t</ThumbMediaId><MsgId>3</MsgId>").as_bytes()).unwrap();
        assert!(matches!(p.body, Body::Message(Message::Video(ref v)) if v.thumb_media_id == "t"));
        let p = parse(doc("<MsgType>shortvideo</MsgType><MediaId>v</MediaId><ThumbMediaId>t</ThumbMediaId><MsgId>4</MsgId>").as_bytes()).unwrap();
        assert!(matches!(p.body, Body::Message(Message::ShortVideo(_))));
        let p = parse(doc("<MsgType>location</MsgType><Location_X>23.134521</Location_X><Location_Y>113.358803</Location_Y><Scale>20</Scale><Label><![CDATA[位置信息]]></Label><MsgId>5</MsgId>").as_bytes()).unwrap();
        assert_eq!(
            p.body,
            Body::Message(Message::Location(LocationMessage {
                latitude: 23.134521,
                longitude: 113.358803,
                scale: 20.0,
                label: "位置信息".into(),
                msg_id: Some(5),
                ..Default::default()
            }))
        );
        let p = parse(doc("<MsgType>link</MsgType><Title>t</Title><Description>d</Description><Url>u</Url><MsgId>6</MsgId>").as_bytes()).unwrap();
        assert!(matches!(p.body, Body::Message(Message::Link(ref l)) if l.url == "u"));
    }

    #[test]
    fn unknown_types_keep_every_field() {
        let p = parse(doc("<MsgType>event</MsgType><Event>kf_new_thing</Event><FromKfAccount>a@x</FromKfAccount><Info><Deep>1</Deep></Info>").as_bytes()).unwrap();
        let Body::Event(Event::Unknown(u)) = &p.body else {
            panic!("{:?}", p.body)
        };
        assert_eq!(u.event, "kf_new_thing");
        assert_eq!(u.fields.text("FromKfAccount"), Some("a@x"));
        assert_eq!(
            u.fields
                .get("Info")
                .and_then(Value::as_fields)
                .and_then(|f| f.text("Deep")),
            Some("1")
        );
        let p =
            parse(doc("<MsgType>musicpage</MsgType><Title>x</Title><MsgId>9</MsgId>").as_bytes())
                .unwrap();
        let Body::Message(Message::Unknown(u)) = &p.body else {
            panic!("{:?}", p.body)
        };
        assert_eq!((u.msg_type.as_str(), u.msg_id), ("musicpage", Some(9)));
        // A known type whose numbers are not numbers is unknown, not an error.
        let p = parse(
            doc("<MsgType>event</MsgType><Event>LOCATION</Event><Latitude>north</Latitude>")
                .as_bytes(),
        )
        .unwrap();
        assert!(matches!(p.body, Body::Event(Event::Unknown(_))));
    }

    #[test]
    fn padded_type_names_are_still_their_kinds() {
        // Pretty-printed XML: whitespace around the CDATA is part of the
        // text, as it is around a number (which is trimmed when read).
        let pretty = |msg_type: &str, rest: &str| {
            parse(
                doc(&format!(
                    "<MsgType>\n  <![CDATA[{msg_type}]]>\n</MsgType>{rest}"
                ))
                .as_bytes(),
            )
            .unwrap()
        };
        let p = pretty("text", "<Content>hi</Content><MsgId> 7 </MsgId>");
        assert!(
            matches!(p.body, Body::Message(Message::Text(ref t)) if t.content == "hi" && t.msg_id == Some(7)),
            "{:?}",
            p.body
        );
        // The raw value is kept as sent.
        assert_eq!(p.msg_type, "\n  text\n");
        let p = pretty("event", "<Event><![CDATA[ subscribe ]]></Event>");
        assert_eq!(
            p.body,
            Body::Event(Event::Subscribe(SubscribeEvent::default()))
        );
        let p = pretty(
            " event ",
            "<Event> CLICK\t</Event><EventKey><![CDATA[MENU_1]]></EventKey>",
        );
        assert!(
            matches!(p.body, Body::Event(Event::Click(ref c)) if c.key == "MENU_1"),
            "{:?}",
            p.body
        );
        let p = pretty(
            "event",
            "<Event>\n  LOCATION\n</Event><Latitude> 23.1 </Latitude><Longitude>113.3</Longitude>",
        );
        assert!(
            matches!(p.body, Body::Event(Event::Location(_))),
            "{:?}",
            p.body
        );
        let p = pretty(" image ", "<PicUrl>u</PicUrl><MediaId>m</MediaId>");
        assert!(
            matches!(p.body, Body::Message(Message::Image(_))),
            "{:?}",
            p.body
        );
        // The key decides the kind of a subscribe, and its scene: padding
        // changes neither.
        let p = pretty(
            "event",
            "<Event>subscribe</Event><EventKey>\n  <![CDATA[qrscene_42]]>\n</EventKey>",
        );
        assert_eq!(p.event().and_then(Event::scene), Some("42"));
        let p = pretty(
            "event",
            "<Event> subscribe </Event><EventKey> scanbarcode|ean13|6901234567892 </EventKey>",
        );
        let Body::Event(Event::SubscribeScanProduct(s)) = &p.body else {
            panic!("{:?}", p.body)
        };
        assert_eq!(s.key_str(), "6901234567892");
        // An unknown name is kept as sent.
        let p = pretty("event", "<Event> new_thing </Event>");
        assert!(
            matches!(p.body, Body::Event(Event::Unknown(ref u)) if u.event == " new_thing "),
            "{:?}",
            p.body
        );
    }

    #[test]
    fn serializes_to_json() {
        let p = fixture("seed-location.xml");
        let json = serde_json::to_value(&p).unwrap();
        assert_eq!(json["body"]["event"]["type"], "location");
        assert_eq!(json["fields"]["Latitude"], "23.137466");
    }

    #[test]
    fn rejects_what_is_not_a_push() {
        type Check = fn(&ParseError) -> bool;
        let cases: &[(&[u8], Check)] = &[
            (b"", |e| *e == ParseError::Xml(XmlError::Empty)),
            (b"\xff\xfe<xml/>", |e| matches!(e, ParseError::Xml(XmlError::InvalidUtf8(_)))),
            (b"<?xml version=\"1.0\"?><!DOCTYPE xml [<!ENTITY x \"y\">]><xml/>", |e| *e == ParseError::Xml(XmlError::Doctype)),
            (b"<xml><FromUserName>&xxe;</FromUserName></xml>", |e| matches!(e, ParseError::Xml(_))),
            (b"<xml><a></b></xml>", |e| matches!(e, ParseError::Xml(_))),
            (b"<xml><a>", |e| matches!(e, ParseError::Xml(_))),
            (b"<root/>", |e| matches!(e, ParseError::Xml(XmlError::Root(_)))),
            (b"<xml></xml><xml></xml>", |e| matches!(e, ParseError::Xml(_))),
            (b"<xml><MsgType>text</MsgType><CreateTime>1</CreateTime></xml>", |e| *e == ParseError::Missing("FromUserName")),
            (b"<xml><FromUserName>u</FromUserName><MsgType>text</MsgType><CreateTime>soon</CreateTime></xml>", |e| matches!(e, ParseError::CreateTime(_))),
            (b"not xml at all", |e| matches!(e, ParseError::Xml(_)) || matches!(e, ParseError::Xml(XmlError::Empty))),
        ];
        for (input, check) in cases {
            let err = parse(input).expect_err(&String::from_utf8_lossy(input));
            assert!(
                check(&err),
                "{:?} gave {err:?}",
                String::from_utf8_lossy(input)
            );
        }
        let deep = format!(
            "<xml>{}{}</xml>",
            "<a>".repeat(MAX_DEPTH),
            "</a>".repeat(MAX_DEPTH)
        );
        assert_eq!(
            parse(deep.as_bytes()),
            Err(ParseError::Xml(XmlError::TooComplex))
        );
        let wide = format!("<xml>{}</xml>", "<a/>".repeat(MAX_ELEMENTS + 1));
        assert_eq!(
            parse(wide.as_bytes()),
            Err(ParseError::Xml(XmlError::TooComplex))
        );
    }

    #[test]
    fn predefined_entities_and_char_refs_are_fine() {
        let p = parse(doc("<MsgType>text</MsgType><Content>a &lt;b&gt; &amp; &quot;c&quot; &apos;d&apos; &#20320;</Content><MsgId>1</MsgId>").as_bytes()).unwrap();
        assert!(
            matches!(p.body, Body::Message(Message::Text(ref t)) if t.content == "a <b> & \"c\" 'd' 你")
        );
    }
}
