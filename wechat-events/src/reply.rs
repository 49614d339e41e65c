//! Passive replies (被动回复用户消息) and their XML rendering.
//!
//! A handler returns a [`Reply`]; the service renders it with To/From
//! swapped and `CreateTime` set to now. Every string goes into CDATA with
//! `]]>` split so user-supplied text can never break the document, and
//! characters XML 1.0 forbids are dropped. A reply that would show the
//! user WeChat's error page — an empty text — is answered `success`
//! instead.

use std::fmt::Write as _;

use serde::Serialize;

/// One article of a news (图文) reply.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
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
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
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
    News(Vec<Article>),
    /// Hand the conversation to customer service (多客服).
    TransferCustomerService {
        /// A specific customer-service account, or any when `None`.
        kf_account: Option<String>,
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
    /// an empty text, or a news reply without articles.
    pub fn is_empty(&self) -> bool {
        match self {
            Reply::None => true,
            Reply::Text { content } => content.is_empty(),
            Reply::News(articles) => articles.is_empty(),
            _ => false,
        }
    }

    /// The `MsgType` this reply renders with.
    pub fn msg_type(&self) -> Option<&'static str> {
        Some(match self {
            Reply::None => return None,
            Reply::Text { .. } => "text",
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
        cdata_field(&mut out, "ToUserName", to_user);
        cdata_field(&mut out, "FromUserName", from_user);
        let _ = write!(out, "<CreateTime>{create_time}</CreateTime>");
        cdata_field(&mut out, "MsgType", msg_type);
        match self {
            Reply::None => {}
            Reply::Text { content } => cdata_field(&mut out, "Content", content),
            Reply::Image { media_id } => nested(&mut out, "Image", &[("MediaId", media_id)]),
            Reply::Voice { media_id } => nested(&mut out, "Voice", &[("MediaId", media_id)]),
            Reply::Video {
                media_id,
                title,
                description,
            } => nested(
                &mut out,
                "Video",
                &[
                    ("MediaId", media_id),
                    ("Title", title.as_deref().unwrap_or_default()),
                    ("Description", description.as_deref().unwrap_or_default()),
                ],
            ),
            Reply::Music(m) => nested(
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
                    nested(
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
                    nested(&mut out, "TransInfo", &[("KfAccount", kf)]);
                }
            }
        }
        out.push_str("</xml>");
        Some(out)
    }
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

fn nested(out: &mut String, tag: &str, fields: &[(&str, &str)]) {
    let _ = write!(out, "<{tag}>");
    for (name, value) in fields {
        cdata_field(out, name, value);
    }
    let _ = write!(out, "</{tag}>");
}

fn cdata_field(out: &mut String, tag: &str, value: &str) {
    let _ = write!(out, "<{tag}>");
    push_cdata(out, value);
    let _ = write!(out, "</{tag}>");
}

/// Appends `value` as CDATA: `]]>` is split across two sections and
/// characters XML 1.0 forbids (most C0 controls, U+FFFE, U+FFFF) are dropped.
pub fn push_cdata(out: &mut String, value: &str) {
    out.push_str("<![CDATA[");
    let mut rest = value;
    while let Some(at) = rest.find("]]>") {
        push_xml_chars(out, &rest[..at]);
        out.push_str("]]]]><![CDATA[>");
        rest = &rest[at + 3..];
    }
    push_xml_chars(out, rest);
    out.push_str("]]>");
}

fn push_xml_chars(out: &mut String, s: &str) {
    let allowed = |c: char| {
        matches!(c, '\t' | '\n' | '\r') || (c >= ' ' && c != '\u{FFFE}' && c != '\u{FFFF}')
    };
    if s.chars().all(allowed) {
        out.push_str(s);
    } else {
        out.extend(s.chars().filter(|&c| allowed(c)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::push::parse_fields;

    fn render(r: &Reply) -> String {
        r.render("oUser", "gh_acc", 1700000000).expect("renders")
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
    fn empty_replies_are_success() {
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
}
