//! Passive replies (被动回复用户消息) and their XML rendering.
//!
//! A handler returns a [`Reply`]; the service renders it with To/From
//! swapped and `CreateTime` set to now. Every string goes into CDATA with
//! `]]>` split so user-supplied text can never break the document, and
//! characters XML 1.0 forbids are dropped. A reply that would show the
//! user WeChat's error page — an empty text — is answered `success`
//! instead.

use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use crate::fields::{Fields, Value};
use crate::xml::{
    cdata_element, is_xml_char, nested_element, number_element, parse_fields, XmlError,
};

/// One article of a news (图文) reply, built with [`Article::new`]: the
/// struct is `#[non_exhaustive]`, so a literal does not compile outside
/// this crate.
///
/// ```
/// use wechat_events::{Article, Reply};
///
/// let reply = Reply::news([Article::new("标题", "https://example.com/a")
///     .description("摘要")
///     .pic_url("https://example.com/a.png")]);
/// assert!(reply.render("oUser", "gh_account", 0).unwrap().contains("<ArticleCount>1</ArticleCount>"));
/// ```
///
/// ```compile_fail,E0639
/// let article = wechat_events::Article {
///     title: String::new(),
///     description: String::new(),
///     pic_url: String::new(),
///     url: String::new(),
/// };
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Article {
    /// Title.
    pub title: String,
    /// Description.
    pub description: String,
    /// Picture URL (large 360x200 for the first article, small 200x200 for the rest).
    pub pic_url: String,
    /// Where a click goes.
    pub url: String,
}

impl Article {
    /// An article with the given title and link; description and picture empty.
    pub fn new(title: impl Into<String>, url: impl Into<String>) -> Self {
        Article {
            title: title.into(),
            url: url.into(),
            ..Article::default()
        }
    }

    /// Sets the description.
    pub fn description(mut self, description: impl Into<String>) -> Self {
        self.description = description.into();
        self
    }

    /// Sets the picture URL.
    pub fn pic_url(mut self, pic_url: impl Into<String>) -> Self {
        self.pic_url = pic_url.into();
        self
    }
}

/// A music reply's fields.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Music {
    /// Title.
    pub title: String,
    /// Description.
    pub description: String,
    /// Music URL.
    pub music_url: String,
    /// High-quality music URL, used on Wi-Fi.
    pub hq_music_url: String,
    /// Thumbnail media id.
    pub thumb_media_id: String,
}

impl Music {
    /// Music at `music_url` shown with the uploaded thumbnail
    /// `thumb_media_id` (WeChat requires one); title, description and the
    /// high-quality URL empty.
    ///
    /// ```
    /// use wechat_events::{Music, Reply};
    ///
    /// let reply = Reply::music(
    ///     Music::new("https://example.com/a.mp3", "THUMB_ID")
    ///         .title("晚安")
    ///         .hq_music_url("https://example.com/a-hq.mp3"),
    /// );
    /// let xml = reply.render("oUser", "gh_account", 0).unwrap();
    /// assert!(xml.contains("<HQMusicUrl><![CDATA[https://example.com/a-hq.mp3]]></HQMusicUrl>"));
    /// ```
    pub fn new(music_url: impl Into<String>, thumb_media_id: impl Into<String>) -> Self {
        Music {
            music_url: music_url.into(),
            thumb_media_id: thumb_media_id.into(),
            ..Music::default()
        }
    }

    /// Sets the title.
    pub fn title(mut self, title: impl Into<String>) -> Self {
        self.title = title.into();
        self
    }

    /// Sets the description.
    pub fn description(mut self, description: impl Into<String>) -> Self {
        self.description = description.into();
        self
    }

    /// Sets the high-quality URL (used on Wi-Fi).
    pub fn hq_music_url(mut self, hq_music_url: impl Into<String>) -> Self {
        self.hq_music_url = hq_music_url.into();
        self
    }
}

/// Most articles WeChat accepts in a news reply to an event.
pub const MAX_ARTICLES: usize = 8;

/// A passive reply.
///
/// ```
/// use wechat_events::Reply;
/// let xml = Reply::text("a ]]> b").render("oUser", "gh_account", 1700000000).unwrap();
/// assert!(xml.contains("<Content><![CDATA[a ]]]]><![CDATA[> b]]></Content>"));
/// assert!(xml.contains("<ToUserName><![CDATA[oUser]]></ToUserName>"));
/// assert_eq!(Reply::text("").render("o", "gh", 0), None); // answered `success`
/// ```
///
/// As JSON (serde), a reply is an object tagged by `type`:
/// `{"type":"text","content":"..."}`, `{"type":"news","articles":[...]}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Reply {
    /// No reply: the push is answered `success` and the user sees nothing.
    None,
    /// A text message.
    Text {
        /// The text; empty text is answered `success`.
        content: String,
    },
    /// An image, by media id.
    Image {
        /// Media id of an uploaded image.
        media_id: String,
    },
    /// A voice clip, by media id.
    Voice {
        /// Media id of an uploaded voice clip.
        media_id: String,
    },
    /// A video.
    Video {
        /// Media id of an uploaded video.
        media_id: String,
        /// Optional title.
        title: Option<String>,
        /// Optional description.
        description: Option<String>,
    },
    /// Music.
    Music(Music),
    /// News (图文): one article when answering a message, up to eight for events.
    News(#[serde(with = "articles_field")] Vec<Article>),
    /// Hand the conversation to customer service (多客服).
    TransferCustomerService {
        /// A specific customer-service account, or any when `None`.
        kf_account: Option<String>,
    },
    /// The rest of a text reply too long for one message (over
    /// [`TEXT_LIMIT`](crate::split::TEXT_LIMIT) bytes), waiting in the
    /// user's pending replies: one pending reply however many parts it
    /// makes, shown one part per push the user sends, never combined with
    /// other texts (see [`crate::pending::plan`]). The service makes it
    /// from a long [`Reply::Text`]; a handler has no need to. Rendered
    /// directly, it is a text of the whole content.
    Continued {
        /// The text still to show, from where the last part shown ended.
        content: String,
    },
}

impl Reply {
    /// A text reply.
    pub fn text(content: impl Into<String>) -> Self {
        Reply::Text {
            content: content.into(),
        }
    }

    /// An image reply.
    pub fn image(media_id: impl Into<String>) -> Self {
        Reply::Image {
            media_id: media_id.into(),
        }
    }

    /// A voice reply.
    pub fn voice(media_id: impl Into<String>) -> Self {
        Reply::Voice {
            media_id: media_id.into(),
        }
    }

    /// A video reply without title or description.
    pub fn video(media_id: impl Into<String>) -> Self {
        Reply::Video {
            media_id: media_id.into(),
            title: None,
            description: None,
        }
    }

    /// A music reply.
    pub fn music(music: Music) -> Self {
        Reply::Music(music)
    }

    /// A news reply.
    pub fn news(articles: impl IntoIterator<Item = Article>) -> Self {
        Reply::News(articles.into_iter().collect())
    }

    /// Transfers the conversation to any customer-service agent.
    pub fn transfer_customer_service() -> Self {
        Reply::TransferCustomerService { kf_account: None }
    }

    /// Transfers the conversation to one customer-service account.
    pub fn transfer_to(kf_account: impl Into<String>) -> Self {
        Reply::TransferCustomerService {
            kf_account: Some(kf_account.into()),
        }
    }

    /// Whether this reply renders to nothing (answered `success`): `None`,
    /// an empty text (or one of only characters XML cannot carry), or a
    /// news reply without articles.
    pub fn is_empty(&self) -> bool {
        match self {
            Reply::None => true,
            // Text of only forbidden characters renders empty: WeChat would
            // show its error page, so it is no reply too.
            Reply::Text { content } | Reply::Continued { content } => {
                !content.chars().any(is_xml_char)
            }
            Reply::News(articles) => articles.is_empty(),
            _ => false,
        }
    }

    /// The `MsgType` this reply renders with.
    pub fn msg_type(&self) -> Option<&'static str> {
        Some(match self {
            Reply::None => return None,
            Reply::Text { .. } | Reply::Continued { .. } => "text",
            Reply::Image { .. } => "image",
            Reply::Voice { .. } => "voice",
            Reply::Video { .. } => "video",
            Reply::Music(_) => "music",
            Reply::News(_) => "news",
            Reply::TransferCustomerService { .. } => "transfer_customer_service",
        })
    }

    /// Renders the reply XML addressed `to_user` (the user's OpenID) `from_user`
    /// (the account), or `None` when the answer is `success`.
    ///
    /// News replies are capped at [`MAX_ARTICLES`]; the service caps them at
    /// one when answering a user message, as WeChat requires.
    pub fn render(&self, to_user: &str, from_user: &str, create_time: i64) -> Option<String> {
        let msg_type = self.msg_type()?;
        if self.is_empty() {
            return None;
        }
        let mut out = String::with_capacity(256);
        out.push_str("<xml>");
        cdata_element(&mut out, "ToUserName", to_user);
        cdata_element(&mut out, "FromUserName", from_user);
        number_element(&mut out, "CreateTime", create_time);
        cdata_element(&mut out, "MsgType", msg_type);
        match self {
            Reply::None => {}
            Reply::Text { content } | Reply::Continued { content } => {
                cdata_element(&mut out, "Content", content)
            }
            Reply::Image { media_id } => {
                nested_element(&mut out, "Image", &[("MediaId", media_id)])
            }
            Reply::Voice { media_id } => {
                nested_element(&mut out, "Voice", &[("MediaId", media_id)])
            }
            Reply::Video {
                media_id,
                title,
                description,
            } => nested_element(
                &mut out,
                "Video",
                &[
                    ("MediaId", media_id),
                    ("Title", title.as_deref().unwrap_or_default()),
                    ("Description", description.as_deref().unwrap_or_default()),
                ],
            ),
            Reply::Music(m) => nested_element(
                &mut out,
                "Music",
                &[
                    ("Title", &m.title),
                    ("Description", &m.description),
                    ("MusicUrl", &m.music_url),
                    ("HQMusicUrl", &m.hq_music_url),
                    ("ThumbMediaId", &m.thumb_media_id),
                ],
            ),
            Reply::News(articles) => {
                let articles = &articles[..articles.len().min(MAX_ARTICLES)];
                let _ = write!(
                    out,
                    "<ArticleCount>{}</ArticleCount><Articles>",
                    articles.len()
                );
                for a in articles {
                    nested_element(
                        &mut out,
                        "item",
                        &[
                            ("Title", &a.title),
                            ("Description", &a.description),
                            ("PicUrl", &a.pic_url),
                            ("Url", &a.url),
                        ],
                    );
                }
                out.push_str("</Articles>");
            }
            Reply::TransferCustomerService { kf_account } => {
                if let Some(kf) = kf_account {
                    nested_element(&mut out, "TransInfo", &[("KfAccount", kf)]);
                }
            }
        }
        out.push_str("</xml>");
        Some(out)
    }
}

/// Why a body is not a passive reply WeChat would show.
///
/// ```
/// use wechat_events::reply::{parse_reply, ReplyParseError};
///
/// let err = parse_reply("<xml><MsgType>text</MsgType></xml>").unwrap_err();
/// assert!(matches!(err, ReplyParseError::Missing("ToUserName")));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ReplyParseError {
    /// The body is not acceptable XML (or has no `<xml>` root).
    #[error("reply is not valid XML: {0}")]
    Xml(#[from] XmlError),
    /// A field every reply of this type needs is missing.
    #[error("reply field <{0}> is missing")]
    Missing(&'static str),
    /// `CreateTime` is not an integer.
    #[error("reply <CreateTime> is not an integer: {0:?}")]
    CreateTime(String),
    /// `MsgType` is not one a passive reply may have.
    #[error("reply <MsgType> {0:?} is not a passive reply type")]
    MsgType(String),
    /// `ArticleCount` disagrees with the articles present, or is out of range.
    #[error("news reply: <ArticleCount> is {declared:?} but {found} <item>s are present")]
    ArticleCount {
        /// The `ArticleCount` text as sent.
        declared: String,
        /// How many `<item>` elements `<Articles>` holds.
        found: usize,
    },
}

/// A passive reply read back from its XML: the envelope fields and the
/// typed [`Reply`].
///
/// ```
/// use wechat_events::reply::{parse_reply, Reply};
///
/// let xml = Reply::text("你好").render("oUser", "gh_account", 1700000000).unwrap();
/// let parsed = parse_reply(&xml)?;
/// assert_eq!((parsed.to_user.as_str(), parsed.from_user.as_str()), ("oUser", "gh_account"));
/// assert_eq!(parsed.create_time, 1700000000);
/// assert_eq!(parsed.reply, Reply::text("你好"));
/// # Ok::<(), wechat_events::reply::ReplyParseError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct ParsedReply {
    /// `ToUserName`: the user's OpenID.
    pub to_user: String,
    /// `FromUserName`: the account's original id.
    pub from_user: String,
    /// `CreateTime`: unix seconds.
    pub create_time: i64,
    /// The typed reply.
    pub reply: Reply,
}

/// Parses a rendered passive reply (plaintext XML) back into a [`Reply`]:
/// the inverse of [`Reply::render`], for simulators and tests.
///
/// The envelope fields (`ToUserName`, `FromUserName`, a numeric
/// `CreateTime`, `MsgType`) and each type's media fields are required, as
/// WeChat requires them; optional parts (a video's title, a transfer's
/// `TransInfo`) become `None` when absent or empty. A text reply with an
/// empty `Content` parses (as an empty text): whether that is acceptable is
/// the caller's call — WeChat shows the user an error for it.
///
/// ```
/// use wechat_events::reply::{parse_reply, Reply};
///
/// let xml = "<xml><ToUserName><![CDATA[o1]]></ToUserName><FromUserName><![CDATA[gh_1]]></FromUserName>\
///            <CreateTime>1</CreateTime><MsgType><![CDATA[image]]></MsgType>\
///            <Image><MediaId><![CDATA[M1]]></MediaId></Image></xml>";
/// assert_eq!(parse_reply(xml)?.reply, Reply::image("M1"));
/// # Ok::<(), wechat_events::reply::ReplyParseError>(())
/// ```
pub fn parse_reply(xml: &str) -> Result<ParsedReply, ReplyParseError> {
    let fields = parse_fields(xml)?;
    let required = |name: &'static str| {
        fields
            .text(name)
            .filter(|v| !v.trim().is_empty())
            .ok_or(ReplyParseError::Missing(name))
    };
    let to_user = required("ToUserName")?.to_owned();
    let from_user = required("FromUserName")?.to_owned();
    let create_time = required("CreateTime")?;
    let create_time = create_time
        .trim()
        .parse()
        .map_err(|_| ReplyParseError::CreateTime(create_time.to_owned()))?;
    let msg_type = required("MsgType")?;
    let reply = match msg_type.trim() {
        "text" => Reply::text(
            fields
                .text("Content")
                .ok_or(ReplyParseError::Missing("Content"))?,
        ),
        "image" => Reply::image(media_id(&fields, "Image")?),
        "voice" => Reply::voice(media_id(&fields, "Voice")?),
        "video" => {
            let video = nested_fields(&fields, "Video")?;
            Reply::Video {
                media_id: media_id(&fields, "Video")?,
                title: optional(video, "Title"),
                description: optional(video, "Description"),
            }
        }
        "music" => {
            let music = nested_fields(&fields, "Music")?;
            let text = |name| music.text(name).unwrap_or_default().to_owned();
            Reply::Music(Music {
                title: text("Title"),
                description: text("Description"),
                music_url: text("MusicUrl"),
                hq_music_url: text("HQMusicUrl"),
                thumb_media_id: text("ThumbMediaId"),
            })
        }
        "news" => Reply::News(articles(&fields)?),
        "transfer_customer_service" => Reply::TransferCustomerService {
            kf_account: fields
                .get("TransInfo")
                .and_then(Value::as_fields)
                .and_then(|t| optional(t, "KfAccount")),
        },
        other => return Err(ReplyParseError::MsgType(other.to_owned())),
    };
    Ok(ParsedReply {
        to_user,
        from_user,
        create_time,
        reply,
    })
}

impl Reply {
    /// Parses a rendered reply's XML back into a `Reply`, dropping the
    /// envelope; see [`parse_reply`] to keep it.
    ///
    /// ```
    /// use wechat_events::Reply;
    ///
    /// let xml = Reply::voice("V1").render("o", "gh", 0).unwrap();
    /// assert_eq!(Reply::parse_xml(&xml)?, Reply::voice("V1"));
    /// assert!(Reply::parse_xml("success").is_err());
    /// # Ok::<(), wechat_events::reply::ReplyParseError>(())
    /// ```
    pub fn parse_xml(xml: &str) -> Result<Reply, ReplyParseError> {
        parse_reply(xml).map(|parsed| parsed.reply)
    }
}

fn nested_fields<'a>(fields: &'a Fields, tag: &'static str) -> Result<&'a Fields, ReplyParseError> {
    fields
        .get(tag)
        .and_then(Value::as_fields)
        .ok_or(ReplyParseError::Missing(tag))
}

fn media_id(fields: &Fields, tag: &'static str) -> Result<String, ReplyParseError> {
    nested_fields(fields, tag)?
        .text("MediaId")
        .filter(|v| !v.trim().is_empty())
        .map(str::to_owned)
        .ok_or(ReplyParseError::Missing("MediaId"))
}

fn optional(fields: &Fields, name: &str) -> Option<String> {
    fields
        .text(name)
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
}

fn articles(fields: &Fields) -> Result<Vec<Article>, ReplyParseError> {
    let declared = fields
        .text("ArticleCount")
        .ok_or(ReplyParseError::Missing("ArticleCount"))?;
    let items: Vec<&Fields> = fields
        .get("Articles")
        .and_then(Value::as_fields)
        .map(|a| a.all("item").filter_map(Value::as_fields).collect())
        .unwrap_or_default();
    if items.is_empty() || declared.trim().parse::<usize>().ok() != Some(items.len()) {
        return Err(ReplyParseError::ArticleCount {
            declared: declared.to_owned(),
            found: items.len(),
        });
    }
    Ok(items
        .into_iter()
        .map(|item| {
            let text = |name| item.text(name).unwrap_or_default().to_owned();
            Article {
                title: text("Title"),
                description: text("Description"),
                pic_url: text("PicUrl"),
                url: text("Url"),
            }
        })
        .collect())
}

impl From<String> for Reply {
    fn from(s: String) -> Self {
        Reply::text(s)
    }
}

impl From<&str> for Reply {
    fn from(s: &str) -> Self {
        Reply::text(s)
    }
}

/// Serde for [`Reply::News`]'s articles as an `articles` field: a tagged
/// enum's newtype variant cannot hold a bare sequence.
mod articles_field {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    use super::Article;

    #[derive(Serialize)]
    struct Out<'a> {
        articles: &'a [Article],
    }

    #[derive(Deserialize)]
    struct In {
        articles: Vec<Article>,
    }

    pub(super) fn serialize<S: Serializer>(articles: &[Article], s: S) -> Result<S::Ok, S::Error> {
        Out { articles }.serialize(s)
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Article>, D::Error> {
        In::deserialize(d).map(|i| i.articles)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(r: &Reply) -> String {
        r.render("oUser", "gh_acc", 1700000000).expect("renders")
    }

    #[test]
    fn every_reply_round_trips_through_json() {
        let replies = [
            Reply::None,
            Reply::text("你好 ]]>"),
            Reply::Image {
                media_id: "m".into(),
            },
            Reply::Voice {
                media_id: "v".into(),
            },
            Reply::Video {
                media_id: "v".into(),
                title: Some("t".into()),
                description: None,
            },
            Reply::Music(Music {
                title: "t".into(),
                ..Music::default()
            }),
            Reply::News(vec![
                Article::new("a", "https://a"),
                Article::new("b", "https://b"),
            ]),
            Reply::TransferCustomerService { kf_account: None },
        ];
        for reply in replies {
            let json = serde_json::to_string(&reply).expect("serializes");
            let back: Reply = serde_json::from_str(&json).expect("deserializes");
            assert_eq!(back, reply, "{json}");
        }
        let news = serde_json::to_value(Reply::News(vec![Article::new("a", "u")])).unwrap();
        assert_eq!(news["type"], "news");
        assert_eq!(news["articles"][0]["title"], "a");
    }

    #[test]
    fn text_reply_shape() {
        assert_eq!(
            render(&Reply::text("你好")),
            "<xml><ToUserName><![CDATA[oUser]]></ToUserName><FromUserName><![CDATA[gh_acc]]></FromUserName>\
             <CreateTime>1700000000</CreateTime><MsgType><![CDATA[text]]></MsgType>\
             <Content><![CDATA[你好]]></Content></xml>"
        );
    }

    #[test]
    fn cdata_terminators_and_non_ascii_round_trip() {
        for content in [
            "]]>",
            "a]]>b]]>c",
            "]]]]>",
            "<![CDATA[x]]>",
            "emoji 😀 & <b> 中文",
            "]",
            "]]",
        ] {
            let xml = render(&Reply::text(content));
            let fields = parse_fields(&xml).unwrap();
            assert_eq!(fields.text("Content"), Some(content), "{xml}");
        }
    }

    #[test]
    fn forbidden_control_characters_are_dropped() {
        let xml = render(&Reply::text("a\u{0}b\u{1b}c\td"));
        assert_eq!(parse_fields(&xml).unwrap().text("Content"), Some("abc\td"));
    }

    #[test]
    fn a_dropped_character_cannot_forge_a_terminator() {
        for content in [
            "a]]\u{1}><MsgType>evil</MsgType>",
            "]\u{0}]>",
            "]]\u{FFFF}>x",
            "\u{1}]]>",
        ] {
            let xml = render(&Reply::text(content));
            let fields = parse_fields(&xml).unwrap_or_else(|e| panic!("{e}: {xml}"));
            assert_eq!(fields.text("MsgType"), Some("text"), "{xml}");
            let clean: String = content.chars().filter(|&c| is_xml_char(c)).collect();
            assert_eq!(fields.text("Content"), Some(clean.as_str()), "{xml}");
        }
    }

    #[test]
    fn empty_replies_are_success() {
        assert_eq!(Reply::text("\u{1}\u{2}").render("o", "g", 1), None);
        assert_eq!(Reply::None.render("o", "g", 1), None);
        assert_eq!(Reply::text("").render("o", "g", 1), None);
        assert_eq!(Reply::news([]).render("o", "g", 1), None);
    }

    #[test]
    fn media_replies() {
        let f = parse_fields(&render(&Reply::image("M1"))).unwrap();
        assert_eq!(f.text("MsgType"), Some("image"));
        assert_eq!(
            f.get("Image")
                .and_then(|v| v.as_fields())
                .and_then(|i| i.text("MediaId")),
            Some("M1")
        );
        let f = parse_fields(&render(&Reply::voice("V1"))).unwrap();
        assert_eq!(
            f.get("Voice")
                .and_then(|v| v.as_fields())
                .and_then(|i| i.text("MediaId")),
            Some("V1")
        );
        let video = Reply::Video {
            media_id: "X".into(),
            title: Some("t".into()),
            description: None,
        };
        let f = parse_fields(&render(&video)).unwrap();
        let v = f.get("Video").and_then(|v| v.as_fields()).unwrap();
        assert_eq!(
            (v.text("MediaId"), v.text("Title"), v.text("Description")),
            (Some("X"), Some("t"), Some(""))
        );
        let music = Reply::music(Music {
            title: "歌".into(),
            music_url: "http://m".into(),
            hq_music_url: "http://hq".into(),
            thumb_media_id: "th".into(),
            ..Music::default()
        });
        let f = parse_fields(&render(&music)).unwrap();
        let m = f.get("Music").and_then(|v| v.as_fields()).unwrap();
        assert_eq!(m.text("HQMusicUrl"), Some("http://hq"));
        assert_eq!(m.text("Title"), Some("歌"));
    }

    #[test]
    fn news_reply_counts_and_caps() {
        let many: Vec<Article> = (0..10)
            .map(|i| {
                Article::new(format!("t{i}"), "http://u")
                    .description("d")
                    .pic_url("p")
            })
            .collect();
        let f = parse_fields(&render(&Reply::news(many))).unwrap();
        assert_eq!(f.text("ArticleCount"), Some("8"));
        let items: Vec<_> = f
            .get("Articles")
            .and_then(|v| v.as_fields())
            .unwrap()
            .all("item")
            .collect();
        assert_eq!(items.len(), 8);
        assert_eq!(
            items[0].as_fields().and_then(|i| i.text("Title")),
            Some("t0")
        );
    }

    #[test]
    fn transfer_customer_service() {
        let f = parse_fields(&render(&Reply::transfer_customer_service())).unwrap();
        assert_eq!(f.text("MsgType"), Some("transfer_customer_service"));
        assert!(f.get("TransInfo").is_none());
        let f = parse_fields(&render(&Reply::transfer_to("kf1@test"))).unwrap();
        assert_eq!(
            f.get("TransInfo")
                .and_then(|v| v.as_fields())
                .and_then(|t| t.text("KfAccount")),
            Some("kf1@test")
        );
    }
    #[test]
    fn parse_reply_round_trips_every_type() {
        let replies = [
            Reply::text("你好 ]]> <b>&"),
            Reply::image("M1"),
            Reply::voice("V1"),
            Reply::video("X"),
            Reply::Video {
                media_id: "X".into(),
                title: Some("t".into()),
                description: Some("d".into()),
            },
            Reply::music(Music {
                title: "歌".into(),
                description: "d".into(),
                music_url: "http://m".into(),
                hq_music_url: "http://hq".into(),
                thumb_media_id: "th".into(),
            }),
            Reply::news([Article::new("t", "http://u").description("d").pic_url("p")]),
            Reply::news((0..8).map(|i| Article::new(format!("t{i}"), "http://u"))),
            Reply::transfer_customer_service(),
            Reply::transfer_to("kf1@test"),
        ];
        for reply in replies {
            let xml = render(&reply);
            let parsed = parse_reply(&xml).unwrap_or_else(|e| panic!("{e}: {xml}"));
            assert_eq!(parsed.reply, reply, "{xml}");
            assert_eq!(parsed.to_user, "oUser");
            assert_eq!(parsed.from_user, "gh_acc");
            assert_eq!(parsed.create_time, 1700000000);
        }
    }

    #[test]
    fn parse_reply_accepts_plain_text_and_whitespace() {
        let xml = "<xml>\n  <ToUserName>o1</ToUserName>\n  <FromUserName>gh</FromUserName>\n  \
                   <CreateTime> 12 </CreateTime>\n  <MsgType> text </MsgType>\n  \
                   <Content>a &amp; b</Content>\n</xml>";
        let parsed = parse_reply(xml).unwrap();
        assert_eq!(parsed.reply, Reply::text("a & b"));
        assert_eq!(parsed.create_time, 12);
        // Empty text parses; deciding it is an error page is the caller's job.
        let empty = "<xml><ToUserName>o</ToUserName><FromUserName>g</FromUserName>\
                     <CreateTime>1</CreateTime><MsgType>text</MsgType><Content></Content></xml>";
        assert_eq!(Reply::parse_xml(empty).unwrap(), Reply::text(""));
    }

    #[test]
    fn parse_reply_rejects_what_wechat_would_not_show() {
        let head =
            "<ToUserName>o</ToUserName><FromUserName>g</FromUserName><CreateTime>1</CreateTime>";
        let doc = |inner: &str| format!("<xml>{head}{inner}</xml>");
        let cases: Vec<(String, ReplyParseError)> = vec![
            (
                doc("<MsgType>text</MsgType>"),
                ReplyParseError::Missing("Content"),
            ),
            (
                doc("<MsgType>image</MsgType>"),
                ReplyParseError::Missing("Image"),
            ),
            (
                doc("<MsgType>image</MsgType><Image><MediaId></MediaId></Image>"),
                ReplyParseError::Missing("MediaId"),
            ),
            (
                doc("<MsgType>voice</MsgType><Voice>V</Voice>"),
                ReplyParseError::Missing("Voice"),
            ),
            (
                doc("<MsgType>event</MsgType>"),
                ReplyParseError::MsgType("event".into()),
            ),
            (
                doc("<MsgType>news</MsgType><ArticleCount>2</ArticleCount><Articles><item><Title>t</Title></item></Articles>"),
                ReplyParseError::ArticleCount { declared: "2".into(), found: 1 },
            ),
            (
                doc("<MsgType>news</MsgType><ArticleCount>0</ArticleCount><Articles></Articles>"),
                ReplyParseError::ArticleCount { declared: "0".into(), found: 0 },
            ),
            (
                doc("<MsgType>news</MsgType>"),
                ReplyParseError::Missing("ArticleCount"),
            ),
            (
                "<xml><FromUserName>g</FromUserName><CreateTime>1</CreateTime><MsgType>text</MsgType><Content>x</Content></xml>".into(),
                ReplyParseError::Missing("ToUserName"),
            ),
            (
                "<xml><ToUserName>o</ToUserName><FromUserName>g</FromUserName><CreateTime>now</CreateTime><MsgType>text</MsgType><Content>x</Content></xml>".into(),
                ReplyParseError::CreateTime("now".into()),
            ),
            (
                "<xml><ToUserName>o</ToUserName><FromUserName>g</FromUserName><CreateTime>1</CreateTime><Content>x</Content></xml>".into(),
                ReplyParseError::Missing("MsgType"),
            ),
        ];
        for (xml, want) in cases {
            assert_eq!(parse_reply(&xml), Err(want), "{xml}");
        }
        for not_xml in ["success", "", "<xml><a></xml>", "<root/>"] {
            assert!(
                matches!(parse_reply(not_xml), Err(ReplyParseError::Xml(_))),
                "{not_xml}"
            );
        }
    }
}
