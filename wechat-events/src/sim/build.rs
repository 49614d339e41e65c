//! Pushes as WeChat writes them, one builder per modeled event and message.
//!
//! A [`SimPush`] holds only what distinguishes the push (its type and its
//! own fields); the simulator (`testing::Simulator`) fills in the envelope —
//! `ToUserName`, `FromUserName`, `CreateTime`, `MsgId` — when it prepares
//! the request, unless the builder fixed them. Field order, CDATA for
//! strings and plain text for numbers follow WeChat's own pushes, so the
//! sample pushes in tests/fixtures come out field for field.

use std::fmt;

use crate::xml::parse_fields;
use crate::xml::push_cdata;

/// One field's value: strings go in CDATA, numbers as plain text.
#[derive(Debug, Clone, PartialEq, Eq)]
enum FieldValue {
    Cdata(String),
    Plain(String),
    /// Child elements, such as `<ScanCodeInfo>`'s.
    Nested(Vec<(String, FieldValue)>),
}

/// A leaf in CDATA.
fn cdata(name: &str, value: impl Into<String>) -> (String, FieldValue) {
    (name.to_owned(), FieldValue::Cdata(value.into()))
}

/// A leaf in plain text (a number).
fn plain(name: &str, value: impl fmt::Display) -> (String, FieldValue) {
    (name.to_owned(), FieldValue::Plain(value.to_string()))
}

/// An element with children.
fn nested(name: &str, children: Vec<(String, FieldValue)>) -> (String, FieldValue) {
    (name.to_owned(), FieldValue::Nested(children))
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Kind {
    /// `MsgType` `event` with this `Event`.
    Event(String),
    /// An ordinary message with this `MsgType`.
    Message(String),
    /// A document sent exactly as given.
    Raw(String),
}

/// A push to send: an event, a message, or raw XML.
///
/// Build one with the constructor for its kind, adjust it with the
/// modifiers, and hand it to a simulator (`testing::Simulator`).
///
/// ```
/// use wechat_events::testing::SimPush;
///
/// let click = SimPush::click("EVENTKEY").create_time(123456789);
/// let xml = click.to_xml("gh_test", "o_sim_user", 0, 0);
/// assert!(xml.contains("<Event><![CDATA[CLICK]]></Event><EventKey><![CDATA[EVENTKEY]]></EventKey>"));
/// assert!(xml.contains("<CreateTime>123456789</CreateTime>"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimPush {
    kind: Kind,
    fields: Vec<(String, FieldValue)>,
    create_time: Option<i64>,
    msg_id: Option<u64>,
    from_user: Option<String>,
    to_user: Option<String>,
}

/// The `Ticket` the simulator puts on parameter-QR-code events, as in the
/// sample pushes in tests/fixtures.
pub const SIM_TICKET: &str = "TICKET";

impl SimPush {
    fn new(kind: Kind) -> Self {
        SimPush {
            kind,
            fields: Vec::new(),
            create_time: None,
            msg_id: None,
            from_user: None,
            to_user: None,
        }
    }

    fn cdata(mut self, name: &str, value: impl Into<String>) -> Self {
        self.set(name, FieldValue::Cdata(value.into()));
        self
    }

    fn plain(mut self, name: &str, value: impl fmt::Display) -> Self {
        self.set(name, FieldValue::Plain(value.to_string()));
        self
    }

    fn set(&mut self, name: &str, value: FieldValue) {
        match self.fields.iter_mut().find(|(n, _)| n == name) {
            Some(slot) => slot.1 = value,
            None => self.fields.push((name.to_owned(), value)),
        }
    }

    // ---- events ---------------------------------------------------------

    /// Any event (`MsgType` `event`), e.g. one this crate does not model;
    /// add its fields with [`SimPush::field`].
    ///
    /// ```
    /// use wechat_events::testing::SimPush;
    ///
    /// let push = SimPush::event("kf_create_session").field("KfAccount", "kf1@test");
    /// assert!(push.to_xml("gh", "o", 1, 0).contains("<KfAccount><![CDATA[kf1@test]]></KfAccount>"));
    /// ```
    pub fn event(event: impl Into<String>) -> Self {
        SimPush::new(Kind::Event(event.into()))
    }

    /// `subscribe`: the user followed the account.
    ///
    /// ```
    /// use wechat_events::testing::SimPush;
    /// assert_eq!(SimPush::subscribe().to_string(), "subscribe");
    /// ```
    pub fn subscribe() -> Self {
        SimPush::event("subscribe")
    }

    /// `subscribe` through a parameter QR code: `EventKey` `qrscene_<scene>`
    /// and a `Ticket`.
    ///
    /// ```
    /// use wechat_events::testing::SimPush;
    /// let xml = SimPush::subscribe_scene("123123").to_xml("gh", "o", 1, 0);
    /// assert!(xml.contains("<EventKey><![CDATA[qrscene_123123]]></EventKey>"));
    /// ```
    pub fn subscribe_scene(scene: impl fmt::Display) -> Self {
        SimPush::subscribe()
            .cdata("EventKey", format!("qrscene_{scene}"))
            .cdata("Ticket", SIM_TICKET)
    }

    /// `unsubscribe`: the user unfollowed.
    ///
    /// ```
    /// use wechat_events::testing::SimPush;
    /// assert!(SimPush::unsubscribe().to_xml("gh", "o", 1, 0).contains("[unsubscribe]"));
    /// ```
    pub fn unsubscribe() -> Self {
        SimPush::event("unsubscribe")
    }

    /// `SCAN`: a follower scanned a parameter QR code for `scene`.
    ///
    /// ```
    /// use wechat_events::testing::SimPush;
    /// assert_eq!(SimPush::scan("SCENE_VALUE").to_string(), "SCAN SCENE_VALUE");
    /// ```
    pub fn scan(scene: impl Into<String>) -> Self {
        SimPush::event("SCAN")
            .cdata("EventKey", scene)
            .cdata("Ticket", SIM_TICKET)
    }

    /// `LOCATION`: the client reported its position (six decimals, as
    /// WeChat writes them).
    ///
    /// ```
    /// use wechat_events::testing::SimPush;
    /// let xml = SimPush::location_event(23.137466, 113.352425, 119.38504).to_xml("gh", "o", 1, 0);
    /// assert!(xml.contains("<Precision>119.385040</Precision>"));
    /// ```
    pub fn location_event(latitude: f64, longitude: f64, precision: f64) -> Self {
        SimPush::event("LOCATION")
            .plain("Latitude", format_args!("{latitude:.6}"))
            .plain("Longitude", format_args!("{longitude:.6}"))
            .plain("Precision", format_args!("{precision:.6}"))
    }

    /// `CLICK`: the menu item with `key` was clicked.
    ///
    /// ```
    /// use wechat_events::testing::SimPush;
    /// assert_eq!(SimPush::click("COUNT").to_string(), "CLICK COUNT");
    /// ```
    pub fn click(key: impl Into<String>) -> Self {
        SimPush::event("CLICK").cdata("EventKey", key)
    }

    /// `VIEW`: a menu item opening `url` was clicked.
    ///
    /// ```
    /// use wechat_events::testing::SimPush;
    /// assert_eq!(SimPush::view("www.qq.com").to_string(), "VIEW www.qq.com");
    /// ```
    pub fn view(url: impl Into<String>) -> Self {
        SimPush::event("VIEW").cdata("EventKey", url)
    }

    /// `VIEW` from a personalised menu: also carries `MenuId`.
    ///
    /// ```
    /// use wechat_events::testing::SimPush;
    /// let xml = SimPush::view_menu("https://a.b", "42").to_xml("gh", "o", 1, 0);
    /// assert!(xml.contains("<MenuId><![CDATA[42]]></MenuId>"));
    /// ```
    pub fn view_menu(url: impl Into<String>, menu_id: impl Into<String>) -> Self {
        SimPush::view(url).cdata("MenuId", menu_id)
    }

    fn child(mut self, (name, value): (String, FieldValue)) -> Self {
        self.set(&name, value);
        self
    }

    /// `scancode_push` (`waitmsg` false) or `scancode_waitmsg` (`waitmsg`
    /// true): the menu item `key`'s scanner read `result`, a code of
    /// `scan_type` (`qrcode`, `barcode`).
    ///
    /// ```
    /// use wechat_events::testing::SimPush;
    /// let xml = SimPush::scancode(true, "SCAN_1", "qrcode", "https://example.com").to_xml("gh", "o", 1, 0);
    /// assert!(xml.contains("<Event><![CDATA[scancode_waitmsg]]></Event><EventKey><![CDATA[SCAN_1]]></EventKey>\
    ///     <ScanCodeInfo><ScanType><![CDATA[qrcode]]></ScanType><ScanResult><![CDATA[https://example.com]]></ScanResult></ScanCodeInfo>"));
    /// ```
    pub fn scancode(
        waitmsg: bool,
        key: impl Into<String>,
        scan_type: impl Into<String>,
        result: impl Into<String>,
    ) -> Self {
        let event = if waitmsg {
            "scancode_waitmsg"
        } else {
            "scancode_push"
        };
        SimPush::event(event).cdata("EventKey", key).child(nested(
            "ScanCodeInfo",
            vec![cdata("ScanType", scan_type), cdata("ScanResult", result)],
        ))
    }

    /// A `pic_*` menu event (`event` is `pic_sysphoto`,
    /// `pic_photo_or_album` or `pic_weixin`): the menu item `key` sent one
    /// photo per MD5 in `md5s`.
    ///
    /// ```
    /// use wechat_events::testing::SimPush;
    /// let xml = SimPush::pics("pic_weixin", "PICS", ["1b5f7c23b5bf75682a53e7b6d163e185"]).to_xml("gh", "o", 1, 0);
    /// assert!(xml.contains("<SendPicsInfo><Count>1</Count><PicList><item><PicMd5Sum><![CDATA[1b5f7c23b5bf75682a53e7b6d163e185]]></PicMd5Sum></item></PicList></SendPicsInfo>"));
    /// ```
    pub fn pics<I, S>(event: impl Into<String>, key: impl Into<String>, md5s: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let items: Vec<_> = md5s
            .into_iter()
            .map(|md5| nested("item", vec![cdata("PicMd5Sum", md5)]))
            .collect();
        SimPush::event(event).cdata("EventKey", key).child(nested(
            "SendPicsInfo",
            vec![plain("Count", items.len()), nested("PicList", items)],
        ))
    }

    /// `location_select`: the menu item `key`'s picker chose a place.
    ///
    /// ```
    /// use wechat_events::testing::SimPush;
    /// let xml = SimPush::location_select("LOC", 23.1, 113.3, 15, "广州市海珠区", "TIT创意园")
    ///     .to_xml("gh", "o", 1, 0);
    /// assert!(xml.contains("<Label><![CDATA[广州市海珠区]]></Label><Poiname><![CDATA[TIT创意园]]></Poiname>"));
    /// ```
    pub fn location_select(
        key: impl Into<String>,
        latitude: f64,
        longitude: f64,
        scale: u32,
        label: impl Into<String>,
        poiname: impl Into<String>,
    ) -> Self {
        SimPush::event("location_select")
            .cdata("EventKey", key)
            .child(nested(
                "SendLocationInfo",
                vec![
                    plain("Location_X", latitude),
                    plain("Location_Y", longitude),
                    plain("Scale", scale),
                    cdata("Label", label),
                    cdata("Poiname", poiname),
                ],
            ))
    }

    /// `TEMPLATESENDJOBFINISH`: template message `msg_id` ended with
    /// `status` (`success`, `failed:user block`, ...).
    ///
    /// ```
    /// use wechat_events::testing::SimPush;
    /// let xml = SimPush::template_send_job_finish(200163836, "success").to_xml("gh", "o", 1, 0);
    /// assert!(xml.contains("<MsgID>200163836</MsgID><Status><![CDATA[success]]></Status>"));
    /// ```
    pub fn template_send_job_finish(msg_id: u64, status: impl Into<String>) -> Self {
        SimPush::event("TEMPLATESENDJOBFINISH")
            .plain("MsgID", msg_id)
            .cdata("Status", status)
    }

    // ---- messages -------------------------------------------------------

    /// Any ordinary message type, e.g. one this crate does not model; add
    /// its fields with [`SimPush::field`]. A `MsgId` is added.
    ///
    /// ```
    /// use wechat_events::testing::SimPush;
    /// let push = SimPush::message("miniprogrampage").field("Title", "t");
    /// assert!(push.to_xml("gh", "o", 1, 7).ends_with("<MsgId>7</MsgId></xml>"));
    /// ```
    pub fn message(msg_type: impl Into<String>) -> Self {
        SimPush::new(Kind::Message(msg_type.into()))
    }

    /// A text message.
    ///
    /// ```
    /// use wechat_events::testing::SimPush;
    /// assert_eq!(SimPush::text("你好").to_string(), "text \"你好\"");
    /// ```
    pub fn text(content: impl Into<String>) -> Self {
        SimPush::message("text").cdata("Content", content)
    }

    /// An image message; `PicUrl` is a made-up URL derived from the media id.
    ///
    /// ```
    /// use wechat_events::testing::SimPush;
    /// assert!(SimPush::image("M1").to_xml("gh", "o", 1, 0).contains("<MediaId><![CDATA[M1]]></MediaId>"));
    /// ```
    pub fn image(media_id: impl Into<String>) -> Self {
        let media_id = media_id.into();
        SimPush::message("image")
            .cdata("PicUrl", format!("http://mmbiz.qpic.cn/sim/{media_id}/0"))
            .cdata("MediaId", media_id)
    }

    /// A voice message in AMR, without speech recognition.
    ///
    /// ```
    /// use wechat_events::testing::SimPush;
    /// assert!(SimPush::voice("V1").to_xml("gh", "o", 1, 0).contains("<Format><![CDATA[amr]]></Format>"));
    /// ```
    pub fn voice(media_id: impl Into<String>) -> Self {
        SimPush::message("voice")
            .cdata("MediaId", media_id)
            .cdata("Format", "amr")
    }

    /// A voice message with its speech-recognition text (`Recognition`).
    ///
    /// ```
    /// use wechat_events::testing::SimPush;
    /// let xml = SimPush::voice_recognized("V1", "腾讯").to_xml("gh", "o", 1, 0);
    /// assert!(xml.contains("<Recognition><![CDATA[腾讯]]></Recognition>"));
    /// ```
    pub fn voice_recognized(media_id: impl Into<String>, recognition: impl Into<String>) -> Self {
        SimPush::voice(media_id).cdata("Recognition", recognition)
    }

    /// A video message.
    ///
    /// ```
    /// use wechat_events::testing::SimPush;
    /// assert!(SimPush::video("V", "T").to_xml("gh", "o", 1, 0).contains("<ThumbMediaId><![CDATA[T]]></ThumbMediaId>"));
    /// ```
    pub fn video(media_id: impl Into<String>, thumb_media_id: impl Into<String>) -> Self {
        SimPush::message("video")
            .cdata("MediaId", media_id)
            .cdata("ThumbMediaId", thumb_media_id)
    }

    /// A short-video message.
    ///
    /// ```
    /// use wechat_events::testing::SimPush;
    /// assert!(SimPush::shortvideo("V", "T").to_xml("gh", "o", 1, 0).contains("[shortvideo]"));
    /// ```
    pub fn shortvideo(media_id: impl Into<String>, thumb_media_id: impl Into<String>) -> Self {
        SimPush::message("shortvideo")
            .cdata("MediaId", media_id)
            .cdata("ThumbMediaId", thumb_media_id)
    }

    /// A location the user shared (`Location_X` latitude, `Location_Y`
    /// longitude, map `Scale`, `Label`).
    ///
    /// ```
    /// use wechat_events::testing::SimPush;
    /// let xml = SimPush::location(23.134521, 113.358803, 20, "位置信息").to_xml("gh", "o", 1, 0);
    /// assert!(xml.contains("<Location_X>23.134521</Location_X>"));
    /// ```
    pub fn location(latitude: f64, longitude: f64, scale: u32, label: impl Into<String>) -> Self {
        SimPush::message("location")
            .plain("Location_X", format_args!("{latitude:.6}"))
            .plain("Location_Y", format_args!("{longitude:.6}"))
            .plain("Scale", scale)
            .cdata("Label", label)
    }

    /// A link message.
    ///
    /// ```
    /// use wechat_events::testing::SimPush;
    /// let xml = SimPush::link("标题", "描述", "https://example.com").to_xml("gh", "o", 1, 0);
    /// assert!(xml.contains("<Url><![CDATA[https://example.com]]></Url>"));
    /// ```
    pub fn link(
        title: impl Into<String>,
        description: impl Into<String>,
        url: impl Into<String>,
    ) -> Self {
        SimPush::message("link")
            .cdata("Title", title)
            .cdata("Description", description)
            .cdata("Url", url)
    }

    /// `miniprogrampage`: the user sent a mini program card.
    ///
    /// ```
    /// use wechat_events::testing::SimPush;
    /// let xml = SimPush::mini_program_page("wx1234567890abcdef", "小程序", "pages/index/index").to_xml("gh", "o", 1, 0);
    /// assert!(xml.contains("<AppId><![CDATA[wx1234567890abcdef]]></AppId><Title><![CDATA[小程序]]></Title>"));
    /// ```
    pub fn mini_program_page(
        app_id: impl Into<String>,
        title: impl Into<String>,
        page_path: impl Into<String>,
    ) -> Self {
        SimPush::message("miniprogrampage")
            .cdata("AppId", app_id)
            .cdata("Title", title)
            .cdata("PagePath", page_path)
            .cdata("ThumbUrl", "http://mmbiz.qpic.cn/sim_thumb")
            .cdata("ThumbMediaId", "sim_thumb_media")
    }

    /// Any document, sent exactly as given (signed, and encrypted when the
    /// simulator has a key). The envelope modifiers do not apply to it.
    ///
    /// ```
    /// use wechat_events::testing::SimPush;
    /// let push = SimPush::raw("<xml><anything/></xml>");
    /// assert_eq!(push.to_xml("gh", "o", 1, 0), "<xml><anything/></xml>");
    /// ```
    pub fn raw(xml: impl Into<String>) -> Self {
        SimPush::new(Kind::Raw(xml.into()))
    }

    // ---- modifiers ------------------------------------------------------

    /// Sets a field (as CDATA), replacing one of the same name or adding it
    /// after the others.
    ///
    /// ```
    /// use wechat_events::testing::SimPush;
    /// let xml = SimPush::scan("1").field("Ticket", "gQH47").to_xml("gh", "o", 1, 0);
    /// assert!(xml.contains("<Ticket><![CDATA[gQH47]]></Ticket>"));
    /// ```
    pub fn field(self, name: &str, value: impl Into<String>) -> Self {
        self.cdata(name, value)
    }

    /// Fixes `CreateTime` (default: the time the push is prepared).
    ///
    /// ```
    /// use wechat_events::testing::SimPush;
    /// assert!(SimPush::subscribe().create_time(5).to_xml("gh", "o", 9, 0).contains("<CreateTime>5<"));
    /// ```
    pub fn create_time(mut self, unix_seconds: i64) -> Self {
        self.create_time = Some(unix_seconds);
        self
    }

    /// Fixes `MsgId` of a message (default: a fresh random id per prepared push).
    ///
    /// ```
    /// use wechat_events::testing::SimPush;
    /// assert!(SimPush::text("a").msg_id(42).to_xml("gh", "o", 1, 7).contains("<MsgId>42</MsgId>"));
    /// ```
    pub fn msg_id(mut self, msg_id: u64) -> Self {
        self.msg_id = Some(msg_id);
        self
    }

    /// Sends this push as another user (`FromUserName` and the `openid`
    /// query parameter) than the simulator's.
    ///
    /// ```
    /// use wechat_events::testing::SimPush;
    /// assert!(SimPush::subscribe().from("o_other").to_xml("gh", "o", 1, 0).contains("[o_other]"));
    /// ```
    pub fn from(mut self, openid: impl Into<String>) -> Self {
        self.from_user = Some(openid.into());
        self
    }

    /// Addresses this push to another account (`ToUserName`) than the simulator's.
    ///
    /// ```
    /// use wechat_events::testing::SimPush;
    /// assert!(SimPush::subscribe().to("gh_other").to_xml("gh", "o", 1, 0).contains("[gh_other]"));
    /// ```
    pub fn to(mut self, account: impl Into<String>) -> Self {
        self.to_user = Some(account.into());
        self
    }

    // ---- reading --------------------------------------------------------

    /// Whether this is a raw document.
    pub fn is_raw(&self) -> bool {
        matches!(self.kind, Kind::Raw(_))
    }

    /// The fixed `CreateTime`, if one was set.
    pub fn fixed_create_time(&self) -> Option<i64> {
        self.create_time
    }

    /// The fixed `MsgId`, if one was set.
    pub fn fixed_msg_id(&self) -> Option<u64> {
        self.msg_id
    }

    /// The user this push comes from: the override, or for raw XML its
    /// `FromUserName` when it has one.
    pub(crate) fn sender(&self) -> Option<String> {
        match &self.kind {
            Kind::Raw(xml) => raw_field(xml, "FromUserName"),
            _ => self.from_user.clone(),
        }
    }

    /// The account this push is addressed to: the override, or for raw XML
    /// its `ToUserName` when it has one.
    pub(crate) fn recipient(&self) -> Option<String> {
        match &self.kind {
            Kind::Raw(xml) => raw_field(xml, "ToUserName"),
            _ => self.to_user.clone(),
        }
    }

    /// Renders the plaintext push XML; `account`, `openid`, `create_time`
    /// and `msg_id` fill whatever the builder did not fix (`msg_id` only
    /// for messages). Raw documents come back unchanged.
    ///
    /// ```
    /// use wechat_events::testing::SimPush;
    /// assert_eq!(
    ///     SimPush::text("hi").to_xml("gh_test", "o_sim_user", 1700000000, 1),
    ///     "<xml><ToUserName><![CDATA[gh_test]]></ToUserName>\
    ///      <FromUserName><![CDATA[o_sim_user]]></FromUserName>\
    ///      <CreateTime>1700000000</CreateTime><MsgType><![CDATA[text]]></MsgType>\
    ///      <Content><![CDATA[hi]]></Content><MsgId>1</MsgId></xml>"
    /// );
    /// ```
    pub fn to_xml(&self, account: &str, openid: &str, create_time: i64, msg_id: u64) -> String {
        let (msg_type, event) = match &self.kind {
            Kind::Raw(xml) => return xml.clone(),
            Kind::Event(event) => ("event", Some(event)),
            Kind::Message(msg_type) => (msg_type.as_str(), None),
        };
        let mut out = String::with_capacity(256);
        out.push_str("<xml>");
        for (name, value) in self.envelope(account, openid, create_time) {
            write_field(&mut out, name, &value);
        }
        write_field(&mut out, "MsgType", &FieldValue::Cdata(msg_type.to_owned()));
        if let Some(event) = event {
            write_field(&mut out, "Event", &FieldValue::Cdata(event.clone()));
        }
        for (name, value) in &self.fields {
            write_field(&mut out, name, value);
        }
        if event.is_none() {
            let msg_id = self.msg_id.unwrap_or(msg_id);
            write_field(&mut out, "MsgId", &FieldValue::Plain(msg_id.to_string()));
        }
        out.push_str("</xml>");
        out
    }

    fn envelope(
        &self,
        account: &str,
        openid: &str,
        create_time: i64,
    ) -> [(&'static str, FieldValue); 3] {
        let to = self.to_user.as_deref().unwrap_or(account);
        let from = self.from_user.as_deref().unwrap_or(openid);
        [
            ("ToUserName", FieldValue::Cdata(to.to_owned())),
            ("FromUserName", FieldValue::Cdata(from.to_owned())),
            (
                "CreateTime",
                FieldValue::Plain(self.create_time.unwrap_or(create_time).to_string()),
            ),
        ]
    }
}

/// A one-line description for transcripts: `subscribe`, `CLICK COUNT`,
/// `text "你好"`, `raw XML (120 bytes)`.
impl fmt::Display for SimPush {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let field = |name: &str| {
            self.fields
                .iter()
                .find(|(n, _)| n == name)
                .and_then(|(_, v)| match v {
                    FieldValue::Cdata(s) | FieldValue::Plain(s) => Some(s.as_str()),
                    FieldValue::Nested(_) => None,
                })
        };
        match &self.kind {
            Kind::Raw(xml) => write!(f, "raw XML ({} bytes)", xml.len()),
            Kind::Event(event) => match event.as_str() {
                "LOCATION" => write!(
                    f,
                    "LOCATION {},{} (precision {})",
                    field("Latitude").unwrap_or_default(),
                    field("Longitude").unwrap_or_default(),
                    field("Precision").unwrap_or_default()
                ),
                _ => {
                    f.write_str(event)?;
                    match field("EventKey") {
                        Some(key) => write!(f, " {key}"),
                        None => Ok(()),
                    }
                }
            },
            Kind::Message(msg_type) => match msg_type.as_str() {
                "text" => write!(f, "text {:?}", field("Content").unwrap_or_default()),
                "image" | "voice" | "video" | "shortvideo" => write!(
                    f,
                    "{msg_type} media_id={}",
                    field("MediaId").unwrap_or_default()
                ),
                "location" => write!(
                    f,
                    "location {},{} {:?}",
                    field("Location_X").unwrap_or_default(),
                    field("Location_Y").unwrap_or_default(),
                    field("Label").unwrap_or_default()
                ),
                "link" => write!(f, "link {}", field("Url").unwrap_or_default()),
                other => f.write_str(other),
            },
        }
    }
}

fn write_field(out: &mut String, name: &str, value: &FieldValue) {
    out.push('<');
    out.push_str(name);
    out.push('>');
    match value {
        FieldValue::Cdata(text) => push_cdata(out, text),
        FieldValue::Plain(text) => out.push_str(text),
        FieldValue::Nested(children) => {
            for (name, value) in children {
                write_field(out, name, value);
            }
        }
    }
    out.push_str("</");
    out.push_str(name);
    out.push('>');
}

/// A top-level field of a raw document, if it parses at all.
fn raw_field(xml: &str, name: &str) -> Option<String> {
    parse_fields(xml)
        .ok()?
        .text(name)
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::push::{fixture, parse};

    /// The builders reproduce the sample pushes in tests/fixtures field for field.
    #[test]
    fn seed_samples_come_out_field_for_field() {
        let cases = [
            ("seed-subscribe.xml", SimPush::subscribe(), "FromUser"),
            (
                "seed-subscribe-qrscene.xml",
                SimPush::subscribe_scene(123123),
                "FromUser",
            ),
            ("seed-scan.xml", SimPush::scan("SCENE_VALUE"), "FromUser"),
            (
                "seed-location.xml",
                SimPush::location_event(23.137466, 113.352425, 119.385040),
                "fromUser",
            ),
            ("seed-click.xml", SimPush::click("EVENTKEY"), "FromUser"),
            ("seed-view.xml", SimPush::view("www.qq.com"), "FromUser"),
        ];
        for (name, push, from) in cases {
            let xml = push.to_xml("toUser", from, 123456789, 0);
            let built = parse(xml.as_bytes()).unwrap_or_else(|e| panic!("{name}: {e}: {xml}"));
            assert_eq!(built, fixture(name), "{name}: {xml}");
        }
    }

    #[test]
    fn messages_parse_into_their_types() {
        use crate::message::Message;
        use crate::push::Body;
        type Check = fn(&Message) -> bool;
        let cases: Vec<(SimPush, Check)> = vec![
            (
                SimPush::text("a ]]> b"),
                |m| matches!(m, Message::Text(t) if t.content == "a ]]> b"),
            ),
            (
                SimPush::image("M"),
                |m| matches!(m, Message::Image(i) if i.media_id == "M" && !i.pic_url.is_empty()),
            ),
            (
                SimPush::voice("V"),
                |m| matches!(m, Message::Voice(v) if v.recognition.is_none() && v.format == "amr"),
            ),
            (
                SimPush::voice_recognized("V", "腾讯"),
                |m| matches!(m, Message::Voice(v) if v.recognition.as_deref() == Some("腾讯")),
            ),
            (
                SimPush::video("V", "T"),
                |m| matches!(m, Message::Video(v) if v.thumb_media_id == "T"),
            ),
            (
                SimPush::shortvideo("V", "T"),
                |m| matches!(m, Message::ShortVideo(v) if v.media_id == "V"),
            ),
            (
                SimPush::location(23.134521, 113.358803, 20, "位置"),
                |m| matches!(m, Message::Location(l) if l.latitude == 23.134521 && l.label == "位置"),
            ),
            (
                SimPush::link("t", "d", "u"),
                |m| matches!(m, Message::Link(l) if l.url == "u" && l.title == "t"),
            ),
            (
                SimPush::mini_program_page("wx1", "标题", "pages/a"),
                |m| matches!(m, Message::MiniProgramPage(p) if p.app_id == "wx1" && p.page_path == "pages/a"),
            ),
            (SimPush::message("musicpage"), |m| {
                matches!(m, Message::Unknown(_))
            }),
        ];
        for (push, check) in cases {
            let xml = push.to_xml("gh", "o", 1, 99);
            let parsed = parse(xml.as_bytes()).unwrap_or_else(|e| panic!("{e}: {xml}"));
            let Body::Message(m) = &parsed.body else {
                panic!("{xml}")
            };
            assert!(check(m), "{xml}");
            assert_eq!(m.msg_id(), Some(99), "{xml}");
        }
    }

    #[test]
    fn menu_events_parse_into_their_types() {
        use crate::event::Event;
        let scan = parse(
            SimPush::scancode(true, "K", "qrcode", "结果")
                .to_xml("gh", "o", 1, 0)
                .as_bytes(),
        )
        .unwrap();
        let Some(Event::ScancodeWaitmsg(e)) = scan.event() else {
            panic!("{scan:?}")
        };
        assert_eq!(
            (e.event_key.as_str(), e.scan_code_info.scan_result.as_str()),
            ("K", "结果")
        );
        let scan = parse(
            SimPush::scancode(false, "K", "barcode", "EAN_13,6901234567892")
                .to_xml("gh", "o", 1, 0)
                .as_bytes(),
        )
        .unwrap();
        assert!(
            matches!(scan.event(), Some(Event::ScancodePush(e)) if e.scan_code_info.scan_type == "barcode")
        );
        let pics = parse(
            SimPush::pics("pic_sysphoto", "P", ["a", "b"])
                .to_xml("gh", "o", 1, 0)
                .as_bytes(),
        )
        .unwrap();
        let Some(Event::PicSysphoto(e)) = pics.event() else {
            panic!("{pics:?}")
        };
        assert_eq!(e.send_pics_info.count, Some(2));
        let md5s: Vec<&str> = e
            .send_pics_info
            .pic_list
            .iter()
            .map(|p| p.pic_md5_sum.as_str())
            .collect();
        assert_eq!(md5s, ["a", "b"]);
        let loc = parse(
            SimPush::location_select("L", 23.5, 113.25, 15, "地址", "地点")
                .to_xml("gh", "o", 1, 0)
                .as_bytes(),
        )
        .unwrap();
        let Some(Event::LocationSelect(e)) = loc.event() else {
            panic!("{loc:?}")
        };
        let info = &e.send_location_info;
        assert_eq!(
            (info.location_x, info.location_y, info.scale),
            (Some(23.5), Some(113.25), Some(15.0))
        );
        assert_eq!(
            (info.label.as_str(), info.poiname.as_deref()),
            ("地址", Some("地点"))
        );
        let job = parse(
            SimPush::template_send_job_finish(7, "success")
                .to_xml("gh", "o", 1, 0)
                .as_bytes(),
        )
        .unwrap();
        assert!(
            matches!(job.event(), Some(Event::TemplateSendJobFinish(e)) if e.msg_id == Some(7) && e.status == "success")
        );
    }

    #[test]
    fn modifiers_override_the_envelope() {
        let push = SimPush::text("x")
            .create_time(5)
            .msg_id(6)
            .from("o_b")
            .to("gh_b");
        let parsed = parse(push.to_xml("gh_a", "o_a", 1, 2).as_bytes()).unwrap();
        assert_eq!(
            (parsed.to_user.as_str(), parsed.from_user.as_str()),
            ("gh_b", "o_b")
        );
        assert_eq!(parsed.create_time, 5);
        assert_eq!(parsed.message().and_then(|m| m.msg_id()), Some(6));
        assert_eq!(push.sender().as_deref(), Some("o_b"));
        assert_eq!(push.recipient().as_deref(), Some("gh_b"));
    }

    #[test]
    fn field_replaces_or_appends() {
        let xml = SimPush::scan("1")
            .field("EventKey", "2")
            .field("Extra", "e")
            .to_xml("gh", "o", 1, 0);
        assert!(xml.contains("<EventKey><![CDATA[2]]></EventKey><Ticket>"));
        assert!(xml.ends_with("<Extra><![CDATA[e]]></Extra></xml>"));
        assert_eq!(xml.matches("EventKey").count(), 2);
    }

    #[test]
    fn raw_documents_report_their_sender() {
        let raw = SimPush::raw(
            "<xml><ToUserName>gh_r</ToUserName><FromUserName>o_r</FromUserName></xml>",
        );
        assert!(raw.is_raw());
        assert_eq!(raw.sender().as_deref(), Some("o_r"));
        assert_eq!(raw.recipient().as_deref(), Some("gh_r"));
        assert_eq!(SimPush::raw("not xml").sender(), None);
    }

    #[test]
    fn descriptions() {
        assert_eq!(
            SimPush::subscribe_scene(1).to_string(),
            "subscribe qrscene_1"
        );
        assert_eq!(
            SimPush::location_event(1.0, 2.0, 3.0).to_string(),
            "LOCATION 1.000000,2.000000 (precision 3.000000)"
        );
        assert_eq!(SimPush::image("M").to_string(), "image media_id=M");
        assert_eq!(SimPush::raw("<xml/>").to_string(), "raw XML (6 bytes)");
        assert_eq!(SimPush::unsubscribe().to_string(), "unsubscribe");
    }
}
