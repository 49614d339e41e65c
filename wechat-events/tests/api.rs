//! The WeChat API client against the API stand-in, through real HTTP on the
//! loopback interface: token caching, single-flight refresh, the retry on a
//! rejected token, each reply kind's JSON as received, errors and time-outs,
//! and no secret in what a failing call logs or returns.

use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use futures_util::future::{join_all, BoxFuture};
use serde_json::{json, Value};
use wechat_events::api::{ApiClient, ApiError, FreshToken, TokenFetch, TokenStore};
use wechat_events::testing::api::{STAND_IN_APPID, STAND_IN_SECRET};
use wechat_events::testing::{ApiStandIn, SimPush, Simulator, TestServer};
use wechat_events::{Article, Config, Music, Reply, Router, TextMessage, WechatService};

const SEND: &str = "/cgi-bin/message/custom/send";
const TOKEN: &str = "/cgi-bin/stable_token";

fn client(wechat: &ApiStandIn) -> ApiClient {
    wechat.client_builder().build().expect("client")
}

/// (path, access_token, errcode) of every call, for compact assertions.
fn trace(wechat: &ApiStandIn) -> Vec<(String, Option<String>, i64)> {
    wechat
        .calls()
        .into_iter()
        .map(|c| (c.path, c.access_token, c.errcode))
        .collect()
}

fn call(path: &str, token: Option<&str>, errcode: i64) -> (String, Option<String>, i64) {
    (path.to_owned(), token.map(str::to_owned), errcode)
}

#[actix_rt::test]
async fn the_token_is_fetched_once_and_cached() {
    let wechat = ApiStandIn::start();
    let api = client(&wechat);
    api.send_custom("oA", &Reply::text("one"))
        .await
        .expect("first");
    api.send_custom("oA", &Reply::text("two"))
        .await
        .expect("second");
    api.clone()
        .typing("oA", true)
        .await
        .expect("typing, from a clone");
    assert_eq!(wechat.token_calls(), 1);
    let calls = wechat.calls();
    assert_eq!(
        calls[0].body,
        json!({"grant_type": "client_credential", "appid": STAND_IN_APPID,
               "secret": "stand-in-secret", "force_refresh": false})
    );
    assert_eq!(
        trace(&wechat),
        [
            call(TOKEN, None, 0),
            call(SEND, Some("token-1"), 0),
            call(SEND, Some("token-1"), 0),
            call("/cgi-bin/message/custom/typing", Some("token-1"), 0),
        ]
    );
    assert_eq!(calls[3].body, json!({"touser": "oA", "command": "Typing"}));
    api.typing("oA", false).await.expect("cancel");
    assert_eq!(
        wechat.calls()[4].body,
        json!({"touser": "oA", "command": "CancelTyping"})
    );
}

#[actix_rt::test]
async fn concurrent_callers_share_one_refresh() {
    let wechat = ApiStandIn::start();
    // A slow token endpoint keeps every caller waiting on the same refresh.
    wechat.delay(Duration::from_millis(100));
    let api = client(&wechat);
    let sends = (0..20).map(|i| {
        let api = api.clone();
        async move { api.send_custom(&format!("o{i}"), &Reply::text("hi")).await }
    });
    for result in join_all(sends).await {
        result.expect("send");
    }
    assert_eq!(wechat.token_calls(), 1);
    assert_eq!(wechat.custom_messages().len(), 20);
}

#[test]
fn concurrent_callers_on_threads_share_one_refresh() {
    // The client is Send + Sync: twenty sends on a multi-threaded runtime.
    let wechat = ApiStandIn::start();
    wechat.delay(Duration::from_millis(100));
    let api = client(&wechat);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let handles: Vec<_> = (0..20)
        .map(|i| {
            let api = api.clone();
            runtime
                .spawn(async move { api.send_custom(&format!("o{i}"), &Reply::text("hi")).await })
        })
        .collect();
    let results = runtime.block_on(join_all(handles));
    for result in results {
        result.expect("task").expect("send");
    }
    assert_eq!(wechat.token_calls(), 1);
    assert_eq!(wechat.custom_messages().len(), 20);
    runtime.shutdown_background();
}

#[actix_rt::test]
async fn an_expired_token_is_refreshed_once_and_the_call_retried() {
    let wechat = ApiStandIn::start();
    let api = client(&wechat);
    api.send_custom("oA", &Reply::text("before"))
        .await
        .expect("first");
    wechat.expire_token();
    api.send_custom("oA", &Reply::text("after"))
        .await
        .expect("retried");
    assert_eq!(
        trace(&wechat),
        [
            call(TOKEN, None, 0),
            call(SEND, Some("token-1"), 0),
            call(SEND, Some("token-1"), 42001),
            call(TOKEN, None, 0),
            call(SEND, Some("token-2"), 0),
        ]
    );
    // The refresh did not force: force_refresh would invalidate other holders' tokens.
    assert_eq!(wechat.calls()[3].body["force_refresh"], json!(false));
    // The new token is cached from then on.
    api.send_custom("oA", &Reply::text("later"))
        .await
        .expect("third");
    assert_eq!(wechat.token_calls(), 2);
    let texts: Vec<Value> = wechat
        .custom_messages()
        .iter()
        .map(|m| m["text"]["content"].clone())
        .collect();
    assert_eq!(texts, [json!("before"), json!("after"), json!("later")]);
}

#[actix_rt::test]
async fn a_second_rejection_in_a_row_is_returned_not_retried_forever() {
    let wechat = ApiStandIn::start();
    let api = client(&wechat);
    wechat.fail_next(40001, 2);
    let err = api.send_custom("oA", &Reply::text("x")).await.unwrap_err();
    assert!(
        matches!(&err, ApiError::WeChat { errcode: 40001, .. }),
        "{err:?}"
    );
    assert_eq!(
        trace(&wechat),
        [
            call(TOKEN, None, 0),
            call(SEND, Some("token-1"), 40001),
            call(TOKEN, None, 0),
            call(SEND, Some("token-1"), 40001),
        ]
    );
    // The stand-in answers normally again, and so does the client.
    api.send_custom("oA", &Reply::text("y"))
        .await
        .expect("recovered");
    assert_eq!(wechat.custom_messages().len(), 1);
}

#[actix_rt::test]
async fn each_token_errcode_triggers_the_refresh_and_others_do_not() {
    for code in [40001, 40014, 42001] {
        let wechat = ApiStandIn::start();
        let api = client(&wechat);
        wechat.fail_next(code, 1);
        api.typing("oA", true).await.expect("retried");
        assert_eq!(wechat.token_calls(), 2, "errcode {code}");
    }
    let wechat = ApiStandIn::start();
    let api = client(&wechat);
    wechat.fail_next(45015, 1);
    let err = api.send_custom("oA", &Reply::text("x")).await.unwrap_err();
    assert_eq!(err.errcode(), Some(45015));
    assert_eq!(wechat.token_calls(), 1, "not a token error: no refresh");
    assert_eq!(wechat.calls().len(), 2, "and no retry");
}

#[actix_rt::test]
async fn wechat_errors_are_typed_with_errcode_and_errmsg() {
    let wechat = ApiStandIn::start();
    let api = client(&wechat);
    wechat.fail_next(45047, 1);
    match api.send_custom("oA", &Reply::text("x")).await {
        Err(ApiError::WeChat { errcode, errmsg }) => {
            assert_eq!(errcode, 45047);
            assert!(errmsg.contains("fail_next"), "{errmsg}");
        }
        other => panic!("expected a WeChat error, got {other:?}"),
    }
    // A token error from stable_token itself (a wrong secret).
    let wrong = ApiClient::builder(STAND_IN_APPID, "wrong")
        .base_url(wechat.base_url())
        .build()
        .expect("client");
    let err = wrong.access_token().await.unwrap_err();
    assert!(
        matches!(&err, ApiError::WeChat { errcode: 40125, .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("40125"), "{err}");
}

#[actix_rt::test]
async fn each_reply_kind_arrives_as_its_message_json() {
    let wechat = ApiStandIn::start();
    let api = client(&wechat);
    let replies = [
        Reply::text("你好"),
        Reply::image("img"),
        Reply::voice("vo"),
        Reply::Video {
            media_id: "vid".into(),
            title: Some("T".into()),
            description: Some("D".into()),
        },
        Reply::music(Music {
            title: "M".into(),
            description: "MD".into(),
            music_url: "http://m".into(),
            hq_music_url: "http://hq".into(),
            thumb_media_id: "th".into(),
        }),
        Reply::news([Article::new("A", "http://a")
            .description("AD")
            .pic_url("http://p")]),
    ];
    for reply in &replies {
        api.send_custom("oU", reply).await.expect("sent");
    }
    assert_eq!(
        wechat.custom_messages(),
        [
            json!({"touser": "oU", "msgtype": "text", "text": {"content": "你好"}}),
            json!({"touser": "oU", "msgtype": "image", "image": {"media_id": "img"}}),
            json!({"touser": "oU", "msgtype": "voice", "voice": {"media_id": "vo"}}),
            json!({"touser": "oU", "msgtype": "video",
                   "video": {"media_id": "vid", "title": "T", "description": "D"}}),
            json!({"touser": "oU", "msgtype": "music",
                   "music": {"title": "M", "description": "MD", "musicurl": "http://m",
                             "hqmusicurl": "http://hq", "thumb_media_id": "th"}}),
            json!({"touser": "oU", "msgtype": "news",
                   "news": {"articles": [{"title": "A", "description": "AD",
                                          "url": "http://a", "picurl": "http://p"}]}}),
        ]
    );
    // Nothing to say sends nothing; a transfer cannot be sent.
    let before = wechat.calls().len();
    api.send_custom("oU", &Reply::None).await.expect("none");
    let err = api
        .send_custom("oU", &Reply::transfer_customer_service())
        .await
        .unwrap_err();
    assert!(matches!(err, ApiError::NotSendable(_)), "{err:?}");
    assert_eq!(wechat.calls().len(), before);
}

#[actix_rt::test]
async fn a_slow_api_hits_the_client_time_out() {
    let wechat = ApiStandIn::start();
    let api = wechat
        .client_builder()
        .timeout(Duration::from_millis(150))
        .build()
        .expect("client");
    api.access_token().await.expect("token while fast");
    wechat.delay(Duration::from_secs(2));
    let started = Instant::now();
    let err = api.send_custom("oA", &Reply::text("x")).await.unwrap_err();
    assert!(matches!(err, ApiError::Timeout { .. }), "{err:?}");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "gave up at the time-out, not when the answer came"
    );
    wechat.delay(Duration::ZERO);
}

#[actix_rt::test]
async fn an_unreachable_api_is_an_http_error_with_its_source() {
    // Bind a port, then free it: nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("port")
        .port();
    let api = ApiClient::builder("wx1", "s")
        .base_url(format!("http://127.0.0.1:{port}"))
        .build()
        .expect("client");
    let err = api.access_token().await.unwrap_err();
    assert!(matches!(err, ApiError::Http(_)), "{err:?}");
    assert!(std::error::Error::source(&err).is_some());
}

// ---- no secret in logs or errors ----

/// Everything logged in this test binary (the library at TRACE), from the
/// first call on.
fn captured_log() -> &'static CapturedLog {
    static LOG: OnceLock<CapturedLog> = OnceLock::new();
    LOG.get_or_init(|| {
        let log = CapturedLog::default();
        let writer = log.clone();
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new(
                "info,wechat_events=trace",
            ))
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .init();
        log
    })
}

#[derive(Clone, Default)]
struct CapturedLog(Arc<Mutex<Vec<u8>>>);

impl CapturedLog {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap_or_else(|e| e.into_inner())).into_owned()
    }
}

impl std::io::Write for CapturedLog {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// An error as a log line or a panic would show it: Display, every
/// source's Display, and Debug.
fn shown(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = format!("{e} / {e:?}");
    let mut source = e.source();
    while let Some(cause) = source {
        text.push_str(&format!(" / caused by: {cause} / {cause:?}"));
        source = cause.source();
    }
    text
}

/// A token store that always has the same token: API calls go straight to
/// the (unreachable) endpoint with it.
struct FixedToken(&'static str);

impl TokenStore for FixedToken {
    fn token<'a>(
        &'a self,
        _appid: &'a str,
        _rejected: Option<&'a str>,
        _fetch: TokenFetch<'a>,
    ) -> BoxFuture<'a, Result<FreshToken, ApiError>> {
        let token = FreshToken {
            value: self.0.to_owned(),
            valid_for: Duration::from_secs(3600),
        };
        Box::pin(async move { Ok(token) })
    }
}

const SERVICE_TOKEN: &str = "SvcTokenSecret42";
const AES_KEY: &str = "SecretAesKey0123456789abcdefghijklmnopqrstG";
const FIXED_ACCESS_TOKEN: &str = "ACCESS-TOKEN-9c1e-secret";
const OTHER_SECRET: &str = "APPSECRET-7f3a-never-shown";

/// Answers its text after 600 ms: past the 200 ms deadline, so the reply
/// goes late, through the API.
async fn slow(msg: TextMessage) -> String {
    tokio::time::sleep(Duration::from_millis(600)).await;
    format!("late: {}", msg.content)
}

#[actix_rt::test]
async fn failing_api_calls_show_no_secret_in_logs_or_errors() {
    let log = captured_log();
    let mut shown_errors = Vec::new();
    let wechat = ApiStandIn::start();
    let api = wechat
        .client_builder()
        .timeout(Duration::from_millis(300))
        .build()
        .expect("client");
    shown_errors.push(format!("{api:?}"));

    // WeChat refuses: errcode, twice (the refresh and retry too).
    wechat.fail_next(40001, 2);
    let err = api.send_custom("oA", &Reply::text("x")).await.unwrap_err();
    assert!(matches!(err, ApiError::WeChat { .. }), "{err:?}");
    shown_errors.push(shown(&err));
    // A broken proxy: an HTTP error status, then a body that is not JSON.
    wechat.answer_next(502, "<html>Bad Gateway</html>", 1);
    let err = api.send_custom("oA", &Reply::text("x")).await.unwrap_err();
    assert!(matches!(err, ApiError::Http(_)), "{err:?}");
    shown_errors.push(shown(&err));
    wechat.answer_next(200, "<html>garbage</html>", 1);
    let err = api.typing("oA", true).await.unwrap_err();
    assert!(matches!(err, ApiError::Decode { .. }), "{err:?}");
    shown_errors.push(shown(&err));
    // No answer in time.
    wechat.delay(Duration::from_secs(1));
    let err = api.send_custom("oA", &Reply::text("x")).await.unwrap_err();
    assert!(matches!(err, ApiError::Timeout { .. }), "{err:?}");
    shown_errors.push(shown(&err));
    wechat.delay(Duration::ZERO);

    // Nothing listens: the connection is refused, a token in hand.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("port")
        .port();
    let closed = ApiClient::builder("wx_closed", OTHER_SECRET)
        .base_url(format!("http://127.0.0.1:{port}/proxy"))
        .token_store(FixedToken(FIXED_ACCESS_TOKEN))
        .build()
        .expect("client");
    shown_errors.push(format!("{closed:?}"));
    let err = closed
        .send_custom("oA", &Reply::text("x"))
        .await
        .unwrap_err();
    assert!(matches!(err, ApiError::Http(_)), "{err:?}");
    shown_errors.push(shown(&err));
    let err = ApiClient::builder("wx_closed", OTHER_SECRET)
        .base_url(format!("http://127.0.0.1:{port}"))
        .build()
        .expect("client")
        .access_token()
        .await
        .unwrap_err();
    shown_errors.push(shown(&err));

    // A service whose late reply the API refuses logs why, and keeps it.
    let config = Config::builder(SERVICE_TOKEN)
        .appid("wx_secret_test")
        .aes_key(AES_KEY)
        .deadline(Duration::from_millis(200))
        .wait_retries(0)
        .build()
        .expect("config");
    shown_errors.push(format!("{config:?}"));
    let service = WechatService::builder(config)
        .only(Router::new().on(slow))
        .api_client(api.clone())
        .build()
        .expect("service");
    let server = TestServer::builder(service).start();
    let user = Simulator::new(SERVICE_TOKEN)
        .secure(AES_KEY, "wx_secret_test")
        .expect("key");
    wechat.answer_next(503, "Service Unavailable", 1);
    let calls_before = wechat.calls().len();
    user.send(&server, &SimPush::text("hi"))
        .await
        .expect("answered at the deadline");
    let started = Instant::now();
    while !log.text().contains("refused the late reply") {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the late reply's failure is logged: {:?}",
            &wechat.calls()[calls_before..]
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    server.stop().await;

    let everything = format!("{}\n{}", log.text(), shown_errors.join("\n"));
    for secret in [
        STAND_IN_SECRET,
        OTHER_SECRET,
        "token-1",
        "token-2",
        FIXED_ACCESS_TOKEN,
        SERVICE_TOKEN,
        AES_KEY,
    ] {
        let at: Vec<&str> = everything
            .lines()
            .filter(|line| line.contains(secret))
            .collect();
        assert!(at.is_empty(), "{secret:?} shown in:\n{}", at.join("\n"));
    }
    // The search saw what it should have: the failures, logged and shown.
    assert!(everything.contains("502 Bad Gateway"), "{everything}");
    assert!(
        everything.contains("refused the late reply"),
        "{everything}"
    );
}

#[actix_rt::test]
async fn send_custom_sends_a_long_text_as_its_parts_and_returns_those_not_sent() {
    use wechat_events::split::TEXT_LIMIT;
    let wechat = ApiStandIn::start();
    let api = client(&wechat);
    let text: String = (1..)
        .flat_map(|i| format!("第{i}句。").chars().collect::<Vec<_>>())
        .take(20_000)
        .collect();
    api.send_custom("oUser", &Reply::text(text.clone()))
        .await
        .unwrap();
    let parts: Vec<String> = (wechat.custom_messages().iter())
        .map(|m| m["text"]["content"].as_str().unwrap().to_owned())
        .collect();
    assert!(parts.len() > 10, "{}", parts.len());
    assert!(parts.iter().all(|p| p.len() <= TEXT_LIMIT));
    assert_eq!(parts.concat(), text, "in order, whole, no hints");

    // Refused from the first part on: every part comes back, in order.
    wechat.fail_next(45047, 1);
    let error = api
        .send_custom("oUser", &Reply::text(text.clone()))
        .await
        .unwrap_err();
    let ApiError::Unsent {
        sent,
        unsent,
        source,
    } = error
    else {
        panic!("{error:?}")
    };
    assert_eq!((sent, source.errcode()), (0, Some(45047)));
    let back: String = (unsent.iter())
        .map(|r| match r {
            Reply::Text { content } => content.as_str(),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(back, text);
    // A short text is one message, as before.
    api.send_custom("oUser", &Reply::text("短")).await.unwrap();
}
