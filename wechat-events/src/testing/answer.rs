//! Reading a bot's answer the way WeChat does.
//!
//! WeChat accepts three answers to a push: `success`, an empty body, or a
//! passive reply — in secure mode wrapped in an envelope whose
//! `MsgSignature` must verify before the `Encrypt` text is decrypted. This
//! module turns the raw HTTP answer into a typed [`Answer`], or into an
//! [`AnswerError`] that says why WeChat would have shown the user
//! "该公众号暂时无法提供服务，请稍后再试" instead.

use std::fmt;
use std::time::Duration;

use actix_web::http::StatusCode;
use actix_web::web::Bytes;

use crate::config::WECHAT_TIMEOUT;
use crate::crypto::{self, AesKey, CryptoError};
use crate::reply::{parse_reply, Reply, ReplyParseError};
use crate::xml::parse_fields;

use super::SimError;

/// What the bot answered, decoded.
///
/// ```
/// use wechat_events::testing::Answer;
/// assert_eq!(Answer::Success.to_string(), "success (no reply)");
/// assert!(Answer::Empty.is_no_reply());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Answer {
    /// `success`: nothing is shown to the user and WeChat does not retry.
    Success,
    /// An empty body: the same as `success`.
    Empty,
    /// A passive reply. (Not named `Reply`, so compiler messages keep
    /// printing the crate's [`Reply`] by its short name.)
    Replied(Received),
    /// The handshake's `echostr`, echoed back correctly.
    Echo(String),
}

impl Answer {
    /// Whether the bot answered without a reply (`success` or empty).
    ///
    /// ```
    /// use wechat_events::testing::Answer;
    /// assert!(Answer::Success.is_no_reply());
    /// assert!(!Answer::Echo("1".into()).is_no_reply());
    /// ```
    pub fn is_no_reply(&self) -> bool {
        matches!(self, Answer::Success | Answer::Empty)
    }

    /// The reply, if the bot sent one.
    pub fn reply(&self) -> Option<&Reply> {
        match self {
            Answer::Replied(received) => Some(&received.reply),
            _ => None,
        }
    }
}

/// A passive reply as WeChat received it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    /// The typed reply.
    pub reply: Reply,
    /// `ToUserName` (checked to be the user who sent the push).
    pub to_user: String,
    /// `FromUserName` (checked to be the account the push was sent to).
    pub from_user: String,
    /// `CreateTime`.
    pub create_time: i64,
    /// The reply's plaintext XML (decrypted when it was encrypted).
    pub xml: String,
    /// Whether the reply came encrypted (its `MsgSignature` verified).
    pub encrypted: bool,
}

/// Why an answer is not one WeChat would accept.
///
/// ```
/// use wechat_events::testing::AnswerError;
/// let err = AnswerError::Status { status: 403, body: "signature mismatch".into() };
/// assert_eq!(err.to_string(), "HTTP 403 (WeChat wants 200): signature mismatch");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AnswerError {
    /// The status is not `200 OK`.
    #[error("HTTP {status} (WeChat wants 200): {body}")]
    Status {
        /// The status code.
        status: u16,
        /// The body, lossily decoded and cut to 200 characters.
        body: String,
    },
    /// The handshake answer is not the `echostr` that was sent.
    #[error("handshake answered {got:?}, expected the echostr {expected:?}")]
    EchoMismatch {
        /// The `echostr` sent.
        expected: String,
        /// What came back (cut to 200 characters).
        got: String,
    },
    /// The body is not UTF-8.
    #[error("answer is not UTF-8 (at byte {0})")]
    NotUtf8(usize),
    /// The reply is encrypted but the simulator has no EncodingAESKey.
    #[error("reply is encrypted but no EncodingAESKey was given to the simulator")]
    NoKey,
    /// An encrypted push was answered with a plaintext reply (secure mode only).
    #[error("an encrypted push was answered with a plaintext reply; secure mode requires an encrypted one")]
    PlaintextReply,
    /// A plaintext push was answered with an encrypted reply.
    #[error("a plaintext push was answered with an encrypted reply; replies are encrypted only when the push was")]
    EncryptedReplyToPlaintext,
    /// The encrypted reply's envelope lacks a field.
    #[error("encrypted reply envelope has no <{0}>")]
    Envelope(&'static str),
    /// The encrypted reply's `MsgSignature` does not verify.
    #[error("encrypted reply's MsgSignature does not verify (code -40001)")]
    Signature,
    /// The encrypted reply could not be decrypted (wrong key, wrong appid, garbled).
    #[error("cannot decrypt the reply: {0} (code {code})", code = .0.code())]
    Decrypt(CryptoError),
    /// The body is not a passive reply.
    #[error(transparent)]
    Malformed(#[from] ReplyParseError),
    /// A text reply with empty `Content`: WeChat shows the user an error.
    #[error(
        "text reply with empty <Content>: WeChat shows the user an error; answer `success` instead"
    )]
    EmptyText,
    /// `ToUserName`/`FromUserName` are not the push's, swapped.
    #[error(
        "reply <{field}> is {found:?}, expected {expected:?} (To/From must be the push's, swapped)"
    )]
    Addressed {
        /// `ToUserName` or `FromUserName`.
        field: &'static str,
        /// What the push implies.
        expected: String,
        /// What the reply says.
        found: String,
    },
    /// A text reply over WeChat's limit: it is not shown at all.
    #[error(
        "text reply of {bytes} bytes: WeChat shows at most {} bytes of UTF-8 (about 680 Chinese \
         characters) and nothing of a longer one; split it",
        crate::split::TEXT_LIMIT
    )]
    TextTooLong {
        /// The content's length in bytes of UTF-8.
        bytes: usize,
    },
}

/// One exchange: what went over the wire, how long it took, and the
/// decoded answer.
///
/// ```no_run
/// # async fn demo() -> Result<(), wechat_events::testing::SimError> {
/// use wechat_events::testing::{SimPush, Simulator};
///
/// let sim = Simulator::new("mytoken");
/// let response = sim.send("http://127.0.0.1:8080/wechat", &SimPush::text("hi")).await?;
/// println!("{} in {:?}: {}", response.status, response.elapsed, response.body_text());
/// assert_eq!(response.text(), Some("收到:hi"));
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Response {
    /// The HTTP status.
    pub status: StatusCode,
    /// Time from sending the request to having the whole answer.
    pub elapsed: Duration,
    /// The raw body.
    pub body: Bytes,
    /// The decoded answer, or why WeChat would reject it.
    pub answer: Result<Answer, AnswerError>,
}

impl Response {
    /// The body as text (lossy).
    pub fn body_text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The reply, if the answer decoded to one.
    pub fn reply(&self) -> Option<&Reply> {
        self.answer.as_ref().ok().and_then(Answer::reply)
    }

    /// The content of a text reply.
    pub fn text(&self) -> Option<&str> {
        match self.reply() {
            Some(Reply::Text { content }) => Some(content),
            _ => None,
        }
    }

    /// Whether the bot answered `success` or an empty body.
    pub fn is_no_reply(&self) -> bool {
        self.answer.as_ref().is_ok_and(Answer::is_no_reply)
    }

    /// Whether the answer came within WeChat's 5 seconds.
    pub fn in_time(&self) -> bool {
        self.elapsed <= WECHAT_TIMEOUT
    }

    /// The answer, if WeChat would accept the whole exchange: `200`, within
    /// 5 s, and a decodable answer.
    ///
    /// ```
    /// use std::time::Duration;
    /// use wechat_events::testing::{Answer, Response, SimError};
    ///
    /// let slow = Response {
    ///     status: actix_web::http::StatusCode::OK,
    ///     elapsed: Duration::from_secs(6),
    ///     body: "success".into(),
    ///     answer: Ok(Answer::Success),
    /// };
    /// assert!(matches!(slow.check(), Err(SimError::TooSlow { .. })));
    /// ```
    pub fn check(&self) -> Result<&Answer, SimError> {
        let answer = self
            .answer
            .as_ref()
            .map_err(|e| SimError::Answer(e.clone()))?;
        if !self.in_time() {
            return Err(SimError::TooSlow {
                elapsed: self.elapsed,
            });
        }
        Ok(answer)
    }
}

/// How the simulator expects the answer to look.
pub(crate) struct Expect<'a> {
    pub token: &'a str,
    pub key: Option<&'a AesKey>,
    pub appid: &'a str,
    /// The push was encrypted in secure mode (a plaintext reply is wrong).
    pub secure: bool,
    /// The push was encrypted at all (an encrypted reply to a plaintext
    /// push is wrong in every mode: WeChat would show its error page).
    pub push_encrypted: bool,
    /// `(openid, account)` the reply must be addressed between.
    pub parties: Option<(String, String)>,
    /// The handshake's echostr.
    pub echostr: Option<&'a str>,
}

impl Expect<'_> {
    pub(crate) fn decode(&self, status: StatusCode, body: &[u8]) -> Result<Answer, AnswerError> {
        if status != StatusCode::OK {
            return Err(AnswerError::Status {
                status: status.as_u16(),
                body: cut(&String::from_utf8_lossy(body)),
            });
        }
        let text = std::str::from_utf8(body).map_err(|e| AnswerError::NotUtf8(e.valid_up_to()))?;
        if let Some(echostr) = self.echostr {
            return if text == echostr {
                Ok(Answer::Echo(text.to_owned()))
            } else {
                Err(AnswerError::EchoMismatch {
                    expected: echostr.to_owned(),
                    got: cut(text),
                })
            };
        }
        if text.is_empty() {
            return Ok(Answer::Empty);
        }
        if text.trim() == "success" {
            return Ok(Answer::Success);
        }
        let fields = parse_fields(text).map_err(ReplyParseError::from)?;
        let (xml, encrypted) = if fields.get("Encrypt").is_some() {
            if !self.push_encrypted {
                return Err(AnswerError::EncryptedReplyToPlaintext);
            }
            let key = self.key.ok_or(AnswerError::NoKey)?;
            let field = |name: &'static str| {
                fields
                    .text(name)
                    .map(str::trim)
                    .filter(|v| !v.is_empty())
                    .ok_or(AnswerError::Envelope(name))
            };
            let encrypt = field("Encrypt")?;
            let signature = field("MsgSignature")?;
            let timestamp = field("TimeStamp")?;
            let nonce = field("Nonce")?;
            crypto::verify_msg_signature(self.token, timestamp, nonce, encrypt, signature)
                .map_err(|_| AnswerError::Signature)?;
            let appid = Some(self.appid).filter(|a| !a.is_empty());
            let plain = crypto::decrypt(key, encrypt, appid).map_err(AnswerError::Decrypt)?;
            (plain.message, true)
        } else if self.secure {
            return Err(AnswerError::PlaintextReply);
        } else {
            (text.to_owned(), false)
        };
        let parsed = parse_reply(&xml)?;
        if parsed.reply == Reply::text("") {
            return Err(AnswerError::EmptyText);
        }
        if let Reply::Text { content } = &parsed.reply {
            if crate::split::too_long(content) {
                return Err(AnswerError::TextTooLong {
                    bytes: content.len(),
                });
            }
        }
        if let Some((openid, account)) = &self.parties {
            for (field, expected, found) in [
                ("ToUserName", openid, &parsed.to_user),
                ("FromUserName", account, &parsed.from_user),
            ] {
                if expected != found {
                    return Err(AnswerError::Addressed {
                        field,
                        expected: expected.clone(),
                        found: found.clone(),
                    });
                }
            }
        }
        Ok(Answer::Replied(Received {
            reply: parsed.reply,
            to_user: parsed.to_user,
            from_user: parsed.from_user,
            create_time: parsed.create_time,
            xml,
            encrypted,
        }))
    }
}

fn cut(text: &str) -> String {
    const MAX: usize = 200;
    match text.char_indices().nth(MAX) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_owned(),
    }
}

/// Readable form for transcripts: the reply's type and content.
///
/// ```
/// use wechat_events::testing::{Answer, Received};
/// use wechat_events::Reply;
///
/// let answer = Answer::Replied(Received {
///     reply: Reply::text("欢迎关注"),
///     to_user: "o".into(),
///     from_user: "gh".into(),
///     create_time: 0,
///     xml: String::new(),
///     encrypted: false,
/// });
/// assert_eq!(answer.to_string(), "text: 欢迎关注");
/// ```
impl fmt::Display for Answer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Answer::Success => f.write_str("success (no reply)"),
            Answer::Empty => f.write_str("empty body: success (no reply)"),
            Answer::Echo(echo) => write!(f, "echostr {echo} echoed: handshake verified"),
            Answer::Replied(received) => {
                write_reply(f, &received.reply)?;
                if received.encrypted {
                    f.write_str("\n  (encrypted; MsgSignature verified)")?;
                }
                Ok(())
            }
        }
    }
}

fn write_reply(f: &mut fmt::Formatter<'_>, reply: &Reply) -> fmt::Result {
    let indent = |s: &str| s.replace('\n', "\n  ");
    match reply {
        Reply::None => f.write_str("no reply"),
        Reply::Text { content } | Reply::Continued { content } => {
            write!(f, "text: {}", indent(content))
        }
        Reply::Image { media_id } => write!(f, "image: media_id={media_id}"),
        Reply::Voice { media_id } => write!(f, "voice: media_id={media_id}"),
        Reply::Video {
            media_id,
            title,
            description,
        } => {
            write!(f, "video: media_id={media_id}")?;
            if let Some(title) = title {
                write!(f, " title={title:?}")?;
            }
            if let Some(description) = description {
                write!(f, " description={description:?}")?;
            }
            Ok(())
        }
        Reply::Music(m) => write!(
            f,
            "music: {:?} {} (hq {}, thumb {})",
            m.title, m.music_url, m.hq_music_url, m.thumb_media_id
        ),
        Reply::News(articles) => {
            let n = articles.len();
            write!(f, "news: {n} article{}", if n == 1 { "" } else { "s" })?;
            for (i, a) in articles.iter().enumerate() {
                write!(f, "\n  {}. {} <{}>", i + 1, a.title, a.url)?;
                if !a.description.is_empty() {
                    write!(f, "\n     {}", indent(&a.description))?;
                }
                if !a.pic_url.is_empty() {
                    write!(f, "\n     picture {}", a.pic_url)?;
                }
            }
            Ok(())
        }
        Reply::TransferCustomerService { kf_account } => match kf_account {
            Some(kf) => write!(f, "transfer_customer_service to {kf}"),
            None => f.write_str("transfer_customer_service"),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reply::Article;

    const KEY: &str = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG";

    fn key() -> AesKey {
        KEY.parse().expect("key")
    }

    fn expect(key: Option<&AesKey>, secure: bool) -> Expect<'_> {
        Expect {
            token: "tok",
            key,
            appid: "wx1",
            secure,
            push_encrypted: secure,
            parties: Some(("o1".into(), "gh1".into())),
            echostr: None,
        }
    }

    fn rendered(reply: &Reply) -> String {
        reply.render("o1", "gh1", 1700000000).expect("renders")
    }

    #[test]
    fn no_reply_answers() {
        let e = expect(None, false);
        assert_eq!(e.decode(StatusCode::OK, b"success"), Ok(Answer::Success));
        assert_eq!(e.decode(StatusCode::OK, b""), Ok(Answer::Empty));
    }

    #[test]
    fn plaintext_reply() {
        let xml = rendered(&Reply::text("hi"));
        let answer = expect(None, false)
            .decode(StatusCode::OK, xml.as_bytes())
            .expect("decodes");
        assert_eq!(answer.reply(), Some(&Reply::text("hi")));
        let Answer::Replied(r) = answer else { panic!() };
        assert!(!r.encrypted);
        assert_eq!(r.xml, xml);
    }

    #[test]
    fn encrypted_reply_is_verified_and_decrypted() {
        let key = key();
        let xml = rendered(&Reply::news([Article::new("t", "http://u")]));
        let body = crypto::encrypt_reply("tok", &key, "wx1", &xml, "1700000001", "n1");
        let answer = expect(Some(&key), true)
            .decode(StatusCode::OK, body.as_bytes())
            .expect("decodes");
        let Answer::Replied(r) = &answer else {
            panic!("{answer:?}")
        };
        assert!(r.encrypted);
        assert_eq!(r.xml, xml);
        assert!(answer.to_string().contains("MsgSignature verified"));

        // Signed with another token: the signature does not verify.
        let forged = crypto::encrypt_reply("other", &key, "wx1", &xml, "1700000001", "n1");
        assert_eq!(
            expect(Some(&key), true).decode(StatusCode::OK, forged.as_bytes()),
            Err(AnswerError::Signature)
        );
        // Another appid inside the frame.
        let wrong = crypto::encrypt_reply("tok", &key, "wx2", &xml, "1", "n");
        assert!(matches!(
            expect(Some(&key), true).decode(StatusCode::OK, wrong.as_bytes()),
            Err(AnswerError::Decrypt(CryptoError::AppIdMismatch { .. }))
        ));
        // No key to read it with.
        let no_key = Expect {
            push_encrypted: true,
            ..expect(None, false)
        };
        assert_eq!(
            no_key.decode(StatusCode::OK, body.as_bytes()),
            Err(AnswerError::NoKey)
        );
        // An encrypted reply to a plaintext push is wrong even with the key.
        assert_eq!(
            expect(Some(&key), false).decode(StatusCode::OK, body.as_bytes()),
            Err(AnswerError::EncryptedReplyToPlaintext)
        );
        // Envelope without a signature.
        let bare = "<xml><Encrypt>QUJD</Encrypt><TimeStamp>1</TimeStamp><Nonce>n</Nonce></xml>";
        assert_eq!(
            expect(Some(&key), true).decode(StatusCode::OK, bare.as_bytes()),
            Err(AnswerError::Envelope("MsgSignature"))
        );
    }

    #[test]
    fn a_text_over_2047_bytes_is_not_accepted() {
        let e = expect(None, false);
        for (text, ok) in [
            ("a".repeat(2047), true),
            ("你".repeat(682), true),
            ("a".repeat(2048), false),
            ("你".repeat(683), false),
            ("字".repeat(2000), false), // the 6,000-byte echo of 2,000 characters
        ] {
            let xml = rendered(&Reply::text(text.clone()));
            let decoded = e.decode(StatusCode::OK, xml.as_bytes());
            match ok {
                true => assert!(decoded.is_ok(), "{}: {decoded:?}", text.len()),
                false => assert_eq!(decoded, Err(AnswerError::TextTooLong { bytes: text.len() })),
            }
        }
    }

    #[test]
    fn what_wechat_would_reject() {
        let e = expect(None, false);
        assert!(matches!(
            e.decode(StatusCode::FORBIDDEN, b"signature mismatch"),
            Err(AnswerError::Status { status: 403, .. })
        ));
        assert_eq!(
            e.decode(StatusCode::OK, b"\xff"),
            Err(AnswerError::NotUtf8(0))
        );
        assert!(matches!(
            e.decode(StatusCode::OK, b"ok"),
            Err(AnswerError::Malformed(ReplyParseError::Xml(_)))
        ));
        let empty = "<xml><ToUserName>o1</ToUserName><FromUserName>gh1</FromUserName>\
                     <CreateTime>1</CreateTime><MsgType>text</MsgType><Content></Content></xml>";
        assert_eq!(
            e.decode(StatusCode::OK, empty.as_bytes()),
            Err(AnswerError::EmptyText)
        );
        let unswapped = Reply::text("x").render("gh1", "o1", 1).expect("renders");
        assert!(matches!(
            e.decode(StatusCode::OK, unswapped.as_bytes()),
            Err(AnswerError::Addressed {
                field: "ToUserName",
                ..
            })
        ));
        let xml = rendered(&Reply::text("hi"));
        assert_eq!(
            expect(Some(&key()), true).decode(StatusCode::OK, xml.as_bytes()),
            Err(AnswerError::PlaintextReply)
        );
    }

    #[test]
    fn handshake_echo() {
        let mut e = expect(None, false);
        e.echostr = Some("12345");
        assert_eq!(
            e.decode(StatusCode::OK, b"12345"),
            Ok(Answer::Echo("12345".into()))
        );
        assert!(matches!(
            e.decode(StatusCode::OK, b"success"),
            Err(AnswerError::EchoMismatch { .. })
        ));
    }

    #[test]
    fn readable_forms() {
        let show = |reply: Reply| {
            Answer::Replied(Received {
                reply,
                to_user: String::new(),
                from_user: String::new(),
                create_time: 0,
                xml: String::new(),
                encrypted: false,
            })
            .to_string()
        };
        assert_eq!(show(Reply::image("M")), "image: media_id=M");
        assert_eq!(show(Reply::text("a\nb")), "text: a\n  b");
        assert_eq!(
            show(Reply::news([
                Article::new("标题", "http://u").description("d")
            ])),
            "news: 1 article\n  1. 标题 <http://u>\n     d"
        );
        assert_eq!(
            show(Reply::transfer_to("kf")),
            "transfer_customer_service to kf"
        );
        assert!(Answer::Empty.to_string().contains("success"));
    }
}
