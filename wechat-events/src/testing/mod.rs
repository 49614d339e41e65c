//! A stand-in for the WeChat server, for tests, CI and staging checks.
//!
//! WeChat's own debugger is an online form that cannot be scripted, so a
//! bot's behaviour is otherwise only seen by messaging it from a phone.
//! This module plays the WeChat side of the protocol instead: it builds
//! every modeled event and message ([`SimPush`]), signs the request as
//! WeChat does (fresh `timestamp` and `nonce`, the `openid` parameter),
//! encrypts it in secure or compatible mode, delivers it to a URL, an
//! in-process actix app or a [`TestServer`], and reads the answer back the
//! way WeChat would — `MsgSignature` verified, decrypted, parsed into a
//! [`Reply`](crate::Reply) or recognised as "no reply" — together with the
//! status, the raw body and the time it took. Everything protocol-shaped is
//! reused from the runtime crate ([`crate::signature`],
//! [`crate::crypto`], [`parse_fields`](crate::xml::parse_fields),
//! [`parse_reply`](crate::reply::parse_reply)); this module only drives it.
//!
//! Enabled by the `testing` cargo feature. The `wechat-sim` binary
//! (feature `cli`) is this module behind a command line.
//!
//! ```
//! use wechat_events::testing::{InProcess, SimPush, Simulator};
//! use wechat_events::{Config, Router, SubscribeEvent, WechatService};
//!
//! async fn welcome(_: SubscribeEvent) -> &'static str { "欢迎关注" }
//!
//! # actix_rt::System::new().block_on(async {
//! let config = Config::builder("mytoken").build()?;
//! let app = InProcess::init(WechatService::new(config, Router::new().on(welcome))?).await;
//!
//! let sim = Simulator::new("mytoken");
//! let response = sim.send(&app, &SimPush::subscribe()).await?;
//! assert_eq!(response.status, 200);
//! assert_eq!(response.text(), Some("欢迎关注"));
//! assert!(sim.send(&app, &SimPush::unsubscribe()).await?.is_no_reply());
//! # Ok::<(), Box<dyn std::error::Error>>(()) }).unwrap();
//! ```

mod answer;
#[cfg(feature = "api")]
pub mod api;
#[cfg(feature = "api")]
pub mod component;
mod target;

use std::time::{Duration, Instant};

use actix_web::http::{Method, StatusCode};
use rand::Rng;

use crate::config::WECHAT_TIMEOUT;
use crate::crypto::{AesKey, CryptoError};
use crate::signature;
use crate::signature::{fresh_nonce, unix_now};
use crate::sim::{encode_query, Signer};

pub use crate::sim::{SimField, SimKind, SimPush, DEFAULT_ACCOUNT, DEFAULT_OPENID, SIM_TICKET};
pub use answer::{Answer, AnswerError, Received, Response};
#[cfg(feature = "api")]
pub use api::{ApiStandIn, STAND_IN_APPID, STAND_IN_SECRET, STAND_IN_TEMPLATE_ID};
#[cfg(feature = "api")]
pub use component::{ComponentStandIn, COMPONENT_APPID, COMPONENT_SECRET};
pub use target::{InProcess, Target, TestServer, TestServerBuilder};

/// How many times WeChat sends a push that gets no answer in time.
pub const WECHAT_TRIES: usize = 3;

/// Why a simulated exchange could not happen, or was not acceptable.
///
/// ```
/// use wechat_events::testing::{SimError, Simulator};
///
/// let err = Simulator::new("tok").secure("too short", "wx1").unwrap_err();
/// assert!(matches!(err, SimError::Key(_)));
/// assert!(err.to_string().contains("EncodingAESKey"));
/// ```
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum SimError {
    /// The EncodingAESKey given to the simulator is unusable.
    #[error(transparent)]
    Key(CryptoError),
    /// Secure mode was asked for without an AppID.
    #[error("secure mode needs the account's AppID (it is sealed into every encrypted push)")]
    AppId,
    /// The URL is not one this simulator can send to.
    #[error("bad URL {url:?}: {reason}")]
    Url {
        /// The URL given.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// Nothing answered at the target (refused, unresolvable, unreachable).
    #[error("cannot reach {target}: {reason}")]
    Connect {
        /// The URL or app.
        target: String,
        /// The underlying error.
        reason: String,
    },
    /// No answer within the timeout; WeChat would drop the connection and retry.
    #[error(
        "no answer from {target} within {after:?}; WeChat would drop the connection and retry"
    )]
    Timeout {
        /// The URL or app.
        target: String,
        /// The timeout.
        after: Duration,
    },
    /// The connection failed after it was made.
    #[error("{target}: {reason}")]
    Transport {
        /// The URL or app.
        target: String,
        /// The underlying error.
        reason: String,
    },
    /// The answer is not one WeChat accepts.
    #[error(transparent)]
    Answer(#[from] AnswerError),
    /// The answer came, but after WeChat's 5 seconds.
    #[error("answered after {elapsed:?}, over WeChat's 5 s limit: WeChat would have dropped the connection and retried")]
    TooSlow {
        /// How long the answer took.
        elapsed: Duration,
    },
    /// Every try went unanswered.
    #[error("no answer after {tries} tries; the user sees 该公众号暂时无法提供服务，请稍后再试. Last: {last}")]
    GaveUp {
        /// How many tries were made.
        tries: usize,
        /// The last try's error.
        last: Box<SimError>,
    },
}

impl SimError {
    /// Whether WeChat would try again after this error (no answer came).
    ///
    /// ```
    /// use std::time::Duration;
    /// use wechat_events::testing::SimError;
    /// let timeout = SimError::Timeout { target: "x".into(), after: Duration::from_secs(5) };
    /// assert!(timeout.is_retryable());
    /// assert!(!SimError::AppId.is_retryable());
    /// ```
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            SimError::Connect { .. } | SimError::Timeout { .. } | SimError::Transport { .. }
        )
    }
}

/// A signed request, ready to send — and to re-send byte for byte, as
/// WeChat does when it retries.
///
/// ```
/// use wechat_events::testing::{SimPush, Simulator};
///
/// let sim = Simulator::new("mytoken");
/// let prepared = sim.prepare(&SimPush::click("COUNT"));
/// assert!(prepared.query().contains("&openid=o_sim_user"));
/// assert_eq!(prepared.body(), prepared.xml()); // plaintext mode
/// let same = prepared.clone(); // a retry sends exactly this again
/// assert_eq!(same.body(), prepared.body());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prepared {
    method: Method,
    query: String,
    body: String,
    xml: String,
    encrypted: bool,
    echostr: Option<String>,
    parties: Option<(String, String)>,
    description: String,
}

impl Prepared {
    /// `GET` for the handshake, `POST` for pushes.
    pub fn method(&self) -> Method {
        self.method.clone()
    }

    /// The signed query string (no leading `?`).
    pub fn query(&self) -> &str {
        &self.query
    }

    /// The body as sent: the push XML, or its secure-mode envelope. Empty
    /// for the handshake.
    pub fn body(&self) -> &str {
        &self.body
    }

    /// The plaintext push XML (before encryption). Empty for the handshake.
    pub fn xml(&self) -> &str {
        &self.xml
    }

    /// Whether the body is encrypted (`encrypt_type=aes`).
    pub fn is_encrypted(&self) -> bool {
        self.encrypted
    }

    /// The handshake's `echostr`, `None` for pushes.
    pub fn echostr(&self) -> Option<&str> {
        self.echostr.as_deref()
    }

    /// What this request is, for transcripts: `handshake`, `CLICK COUNT`, …
    pub fn description(&self) -> &str {
        &self.description
    }

    /// `base` with this request's query appended.
    ///
    /// ```
    /// use wechat_events::testing::Simulator;
    /// let p = Simulator::new("tok").prepare_handshake();
    /// assert!(p.url_for("http://h/wechat").starts_with("http://h/wechat?signature="));
    /// assert!(p.url_for("http://h/wechat?x=1").starts_with("http://h/wechat?x=1&signature="));
    /// ```
    pub fn url_for(&self, base: &str) -> String {
        let separator = if base.contains('?') { '&' } else { '?' };
        format!("{base}{separator}{}", self.query)
    }
}

/// The outcome of a delivery with WeChat's retries.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Retried {
    /// The answer that finally came.
    pub response: Response,
    /// The tries before it that got no answer, in order.
    pub failures: Vec<SimError>,
}

impl Retried {
    /// Which try was answered, counting from 1 (WeChat makes three).
    pub fn answered_on_try(&self) -> usize {
        self.failures.len() + 1
    }
}

/// Plays the WeChat server for one account and one user.
///
/// Configure it with the account's token (and, for secure mode, its
/// EncodingAESKey and AppID); pushes are addressed to [`DEFAULT_ACCOUNT`]
/// from [`DEFAULT_OPENID`] unless set otherwise. Each request waits at most
/// 5 seconds for its answer, like WeChat.
///
/// ```
/// use wechat_events::testing::Simulator;
///
/// let sim = Simulator::new("mytoken")
///     .secure("abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG", "wx1234567890abcdef")?
///     .account("gh_0123456789ab")
///     .openid("oUser123");
/// assert!(sim.is_encrypting());
/// assert_eq!(sim.user(), "oUser123");
/// # Ok::<(), wechat_events::testing::SimError>(())
/// ```
#[derive(Debug, Clone)]
pub struct Simulator {
    token: String,
    key: Option<AesKey>,
    appid: String,
    compatible: bool,
    account: String,
    openid: String,
    timeout: Duration,
}

impl Simulator {
    /// A plaintext-mode simulator for an account configured with `token`.
    ///
    /// ```
    /// use wechat_events::testing::Simulator;
    /// assert_eq!(Simulator::new("mytoken").account_id(), "gh_test");
    /// ```
    pub fn new(token: impl Into<String>) -> Self {
        Simulator {
            token: token.into(),
            key: None,
            appid: String::new(),
            compatible: false,
            account: DEFAULT_ACCOUNT.to_owned(),
            openid: DEFAULT_OPENID.to_owned(),
            timeout: WECHAT_TIMEOUT,
        }
    }

    /// A simulator playing WeChat for the account `config` describes: its
    /// token, and in secure or compatible mode its AppID and current
    /// EncodingAESKey. (Its pushes still go to the URL they are sent to:
    /// the account's is `config.path()` on the server.)
    ///
    /// ```
    /// use wechat_events::{testing::Simulator, Config};
    /// let config = Config::builder("shoptoken").name("shop")
    ///     .appid("wx1").aes_key("abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG")
    ///     .build().unwrap();
    /// let sim = Simulator::for_config(&config);
    /// assert_eq!(sim.token(), "shoptoken");
    /// assert!(sim.is_encrypting());
    /// ```
    pub fn for_config(config: &crate::Config) -> Self {
        let mut sim = Simulator::new(config.token());
        if let Some(keys) = config.keys() {
            sim.key = Some(keys.current().clone());
            sim.appid = keys.appid().to_owned();
            sim.compatible = config.mode() == crate::Mode::Compatible;
        }
        sim
    }

    /// Secure mode (安全模式): pushes are encrypted with `encoding_aes_key`
    /// (the console's 43 characters) for `appid`, and replies must come back
    /// encrypted with a valid `MsgSignature`.
    ///
    /// ```
    /// use wechat_events::testing::{SimPush, Simulator};
    ///
    /// let sim = Simulator::new("tok").secure("abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG", "wx1")?;
    /// let p = sim.prepare(&SimPush::text("hi"));
    /// assert!(p.query().contains("encrypt_type=aes") && p.query().contains("msg_signature="));
    /// assert!(p.body().starts_with("<xml><ToUserName><![CDATA[gh_test]]></ToUserName><Encrypt>"));
    /// # Ok::<(), wechat_events::testing::SimError>(())
    /// ```
    pub fn secure(
        mut self,
        encoding_aes_key: &str,
        appid: impl Into<String>,
    ) -> Result<Self, SimError> {
        let key = AesKey::from_encoding_aes_key(encoding_aes_key.trim()).map_err(SimError::Key)?;
        let appid = appid.into().trim().to_owned();
        if appid.is_empty() {
            return Err(SimError::AppId);
        }
        self.key = Some(key);
        self.appid = appid;
        Ok(self)
    }

    /// Compatible mode (兼容模式): encrypted pushes also carry their
    /// plaintext fields beside `<Encrypt>`, and plaintext replies are
    /// accepted. Only has an effect together with [`Simulator::secure`].
    ///
    /// ```
    /// use wechat_events::testing::{SimPush, Simulator};
    ///
    /// let sim = Simulator::new("tok")
    ///     .secure("abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG", "wx1")?
    ///     .compatible();
    /// let body = sim.prepare(&SimPush::text("hi")).body().to_owned();
    /// assert!(body.contains("<Content><![CDATA[hi]]></Content>") && body.contains("<Encrypt>"));
    /// # Ok::<(), wechat_events::testing::SimError>(())
    /// ```
    pub fn compatible(mut self) -> Self {
        self.compatible = true;
        self
    }

    /// Sets the account id pushes are addressed to (`ToUserName`).
    pub fn account(mut self, account: impl Into<String>) -> Self {
        self.account = account.into();
        self
    }

    /// Sets the user pushes come from (`FromUserName` and `openid`).
    pub fn openid(mut self, openid: impl Into<String>) -> Self {
        self.openid = openid.into();
        self
    }

    /// How long to wait for each answer (default 5 s, WeChat's limit). A
    /// longer wait lets a test measure how late a slow bot is.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The token.
    pub fn token(&self) -> &str {
        &self.token
    }

    /// The account id (`ToUserName`).
    pub fn account_id(&self) -> &str {
        &self.account
    }

    /// The user's OpenID (`FromUserName`).
    pub fn user(&self) -> &str {
        &self.openid
    }

    /// Whether pushes are encrypted.
    pub fn is_encrypting(&self) -> bool {
        self.key.is_some()
    }

    /// The per-request timeout.
    pub fn wait(&self) -> Duration {
        self.timeout
    }

    /// Builds and signs the request for `push`: `CreateTime` now and a
    /// fresh `MsgId` unless the push fixed them, a fresh `timestamp` and
    /// `nonce`, encrypted when the simulator has a key.
    ///
    /// ```
    /// use wechat_events::testing::{SimPush, Simulator};
    /// use wechat_events::query::Query;
    ///
    /// let p = Simulator::new("mytoken").prepare(&SimPush::subscribe().create_time(1));
    /// assert!(Query::parse(p.query()).unwrap().verify("mytoken"));
    /// assert!(p.xml().contains("<CreateTime>1</CreateTime>"));
    /// ```
    pub fn prepare(&self, push: &SimPush) -> Prepared {
        let signer = Signer {
            token: &self.token,
            key: self.key.as_ref(),
            appid: &self.appid,
            compatible: self.compatible,
        };
        let signed = signer.sign(push, &self.account, &self.openid);
        Prepared {
            method: Method::POST,
            query: signed.query,
            body: signed.body,
            xml: signed.xml,
            encrypted: self.key.is_some(),
            echostr: None,
            parties: signed.parties,
            description: push.to_string(),
        }
    }

    /// Builds and signs the GET handshake WeChat sends when the URL is
    /// configured (plaintext in every mode), with a fresh `echostr`.
    ///
    /// ```
    /// use wechat_events::testing::Simulator;
    /// let p = Simulator::new("mytoken").prepare_handshake();
    /// assert_eq!(p.method(), actix_web::http::Method::GET);
    /// assert!(p.query().contains(&format!("echostr={}", p.echostr().unwrap())));
    /// ```
    pub fn prepare_handshake(&self) -> Prepared {
        let mut rng = rand::thread_rng();
        let timestamp = unix_now().to_string();
        let nonce = fresh_nonce();
        let echostr = rng
            .gen_range(1_000_000_000_000_000_000u64..u64::MAX)
            .to_string();
        let query = [
            (
                "signature",
                signature::sign(&[&self.token, &timestamp, &nonce]),
            ),
            ("timestamp", timestamp),
            ("nonce", nonce),
            ("echostr", echostr.clone()),
        ];
        Prepared {
            method: Method::GET,
            query: encode_query(&query),
            body: String::new(),
            xml: String::new(),
            encrypted: false,
            echostr: Some(echostr),
            parties: None,
            description: "handshake".to_owned(),
        }
    }

    /// Prepares and delivers `push`; see [`Simulator::deliver`].
    ///
    /// ```no_run
    /// # async fn demo() -> Result<(), wechat_events::testing::SimError> {
    /// use wechat_events::testing::{SimPush, Simulator};
    /// let sim = Simulator::new("mytoken");
    /// let response = sim.send("http://127.0.0.1:8080/wechat", &SimPush::click("COUNT")).await?;
    /// println!("{}", response.check()?);
    /// # Ok(()) }
    /// ```
    pub async fn send<T: Target + ?Sized>(
        &self,
        target: &T,
        push: &SimPush,
    ) -> Result<Response, SimError> {
        self.deliver(target, &self.prepare(push)).await
    }

    /// Runs the GET handshake against `target`; the answer is
    /// [`Answer::Echo`] when the bot echoed `echostr`.
    ///
    /// ```no_run
    /// # async fn demo() -> Result<(), wechat_events::testing::SimError> {
    /// use wechat_events::testing::{Answer, Simulator};
    /// let response = Simulator::new("mytoken").verify("http://127.0.0.1:8080/wechat").await?;
    /// assert!(matches!(response.check()?, Answer::Echo(_)));
    /// # Ok(()) }
    /// ```
    pub async fn verify<T: Target + ?Sized>(&self, target: &T) -> Result<Response, SimError> {
        self.deliver(target, &self.prepare_handshake()).await
    }

    /// Sends `prepared` once and decodes the answer. `Err` means no answer
    /// came (unreachable, timed out); an answer WeChat would reject is an
    /// `Ok` [`Response`] whose `answer` is the [`AnswerError`].
    ///
    /// ```no_run
    /// # async fn demo() -> Result<(), wechat_events::testing::SimError> {
    /// use wechat_events::testing::{SimPush, Simulator};
    /// let sim = Simulator::new("mytoken");
    /// let push = sim.prepare(&SimPush::click("COUNT"));
    /// let first = sim.deliver("http://127.0.0.1:8080/wechat", &push).await?;
    /// let retry = sim.deliver("http://127.0.0.1:8080/wechat", &push).await?; // same bytes
    /// assert_eq!(first.body, retry.body);
    /// # Ok(()) }
    /// ```
    pub async fn deliver<T: Target + ?Sized>(
        &self,
        target: &T,
        prepared: &Prepared,
    ) -> Result<Response, SimError> {
        let started = Instant::now();
        let (status, body) = target.call(prepared, self.timeout).await?;
        let elapsed = started.elapsed();
        let answer = self.decode(prepared, status, &body);
        Ok(Response {
            status,
            elapsed,
            body,
            answer,
        })
    }

    /// Reads an answer to `prepared` the way WeChat would — for requests
    /// sent some other way (a raw socket, another client), or to read one
    /// answer with another simulator's key.
    ///
    /// ```
    /// use actix_web::http::StatusCode;
    /// use wechat_events::testing::{Answer, SimPush, Simulator};
    ///
    /// let sim = Simulator::new("tok");
    /// let prepared = sim.prepare(&SimPush::text("hi"));
    /// assert_eq!(sim.decode(&prepared, StatusCode::OK, b"success"), Ok(Answer::Success));
    /// assert!(sim.decode(&prepared, StatusCode::FORBIDDEN, b"no").is_err());
    /// ```
    pub fn decode(
        &self,
        prepared: &Prepared,
        status: StatusCode,
        body: &[u8],
    ) -> Result<Answer, AnswerError> {
        answer::Expect {
            token: &self.token,
            key: self.key.as_ref(),
            appid: &self.appid,
            secure: prepared.encrypted && !self.compatible,
            push_encrypted: prepared.encrypted,
            parties: prepared.parties.clone(),
            echostr: prepared.echostr.as_deref(),
        }
        .decode(status, body)
    }

    /// Delivers `prepared` as WeChat does: when no answer comes within the
    /// timeout (or the connection fails), the byte-identical request is sent
    /// again, [`WECHAT_TRIES`] tries in all.
    ///
    /// ```no_run
    /// # async fn demo() -> Result<(), wechat_events::testing::SimError> {
    /// use wechat_events::testing::{SimPush, Simulator};
    /// let sim = Simulator::new("mytoken");
    /// let push = sim.prepare(&SimPush::click("SLOW"));
    /// let retried = sim.deliver_with_retries("http://127.0.0.1:8080/wechat", &push).await?;
    /// println!("answered after {} failed tries", retried.failures.len());
    /// # Ok(()) }
    /// ```
    pub async fn deliver_with_retries<T: Target + ?Sized>(
        &self,
        target: &T,
        prepared: &Prepared,
    ) -> Result<Retried, SimError> {
        let mut failures = Vec::new();
        loop {
            match self.deliver(target, prepared).await {
                Ok(response) => return Ok(Retried { response, failures }),
                Err(e) if e.is_retryable() && failures.len() + 1 < WECHAT_TRIES => failures.push(e),
                Err(e) if e.is_retryable() => {
                    return Err(SimError::GaveUp {
                        tries: failures.len() + 1,
                        last: Box::new(e),
                    })
                }
                Err(e) => return Err(e),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::{self, extract_envelope};
    use crate::query::Query;
    use crate::xml::parse_fields;

    const KEY: &str = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG";

    #[test]
    fn plaintext_push_is_signed_like_wechat() {
        let sim = Simulator::new("tok").openid("o 1&2");
        let p = sim.prepare(&SimPush::text("hi"));
        let q = Query::parse(p.query()).expect("query");
        assert!(q.verify("tok"));
        assert!(!q.verify("other"));
        assert_eq!(q.openid.as_deref(), Some("o 1&2"));
        assert!(!q.is_encrypted());
        assert_eq!(p.method(), Method::POST);
        assert_eq!(p.body(), p.xml());
        let f = parse_fields(p.xml()).expect("xml");
        assert_eq!(f.text("FromUserName"), Some("o 1&2"));
        assert_eq!(f.text("ToUserName"), Some("gh_test"));
        // Fresh timestamp and nonce per request.
        let again = sim.prepare(&SimPush::text("hi"));
        assert_ne!(p.query(), again.query());
        assert_ne!(p.xml(), again.xml(), "fresh MsgId");
    }

    #[test]
    fn secure_push_verifies_and_decrypts() {
        let sim = Simulator::new("tok").secure(KEY, "wx1").expect("key");
        let p = sim.prepare(&SimPush::click("K").create_time(7));
        let q = Query::parse(p.query()).expect("query");
        assert!(q.verify("tok") && q.is_encrypted());
        let env = extract_envelope(p.body()).expect("envelope");
        assert_eq!(env.to_user_name.as_deref(), Some("gh_test"));
        let sig = q.msg_signature.as_deref().expect("msg_signature");
        crypto::verify_msg_signature("tok", &q.timestamp, &q.nonce, &env.encrypt, sig)
            .expect("signature");
        let plain = crypto::decrypt(&KEY.parse().expect("key"), &env.encrypt, Some("wx1"))
            .expect("decrypt");
        assert_eq!(plain.message, p.xml());
        assert!(!p.body().contains("<EventKey>"), "secure mode hides fields");
    }

    #[test]
    fn compatible_push_carries_plaintext_beside_encrypt() {
        let sim = Simulator::new("tok")
            .secure(KEY, "wx1")
            .expect("key")
            .compatible();
        let p = sim.prepare(&SimPush::click("K"));
        let f = parse_fields(p.body()).expect("xml");
        assert_eq!(f.text("EventKey"), Some("K"));
        assert!(f.text("Encrypt").is_some());
        // Raw documents that do not end in </xml> fall back to the envelope.
        let p = sim.prepare(&SimPush::raw("garbage"));
        assert!(p.body().starts_with("<xml><Encrypt>"));
    }

    #[test]
    fn handshake_is_plaintext_in_every_mode() {
        let sim = Simulator::new("tok").secure(KEY, "wx1").expect("key");
        let p = sim.prepare_handshake();
        let q = Query::parse(p.query()).expect("query");
        assert!(q.verify("tok"));
        assert_eq!(q.echostr.as_deref(), p.echostr());
        assert!(!q.is_encrypted() && q.openid.is_none());
        assert!(p.body().is_empty());
    }

    #[test]
    fn bad_keys_and_appids_are_refused() {
        assert!(matches!(
            Simulator::new("t").secure("short", "wx"),
            Err(SimError::Key(_))
        ));
        assert!(matches!(
            Simulator::new("t").secure(KEY, " "),
            Err(SimError::AppId)
        ));
    }

    #[test]
    fn raw_pushes_use_their_own_sender() {
        let sim = Simulator::new("tok");
        let raw = "<xml><ToUserName>gh_r</ToUserName><FromUserName>o_r</FromUserName>\
                   <CreateTime>1</CreateTime><MsgType>text</MsgType><Content>x</Content></xml>";
        let p = sim.prepare(&SimPush::raw(raw));
        assert_eq!(p.xml(), raw);
        assert_eq!(p.parties, Some(("o_r".into(), "gh_r".into())));
        assert!(p.query().contains("openid=o_r"));
        let p = sim.prepare(&SimPush::raw("<xml/>"));
        assert_eq!(p.parties, None);
        assert!(!p.query().contains("openid="));
    }
}
