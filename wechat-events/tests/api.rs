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
        Reply::music(
            Music::new("http://m", "th")
                .title("M")
                .description("MD")
                .hq_music_url("http://hq"),
        ),
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
    while !log.text().contains("customer-service API refused a reply") {
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
        everything.contains("customer-service API refused a reply"),
        "{everything}"
    );
}

// ---- the typed calls around the pushes ----

mod typed {
    use super::*;
    use futures_util::TryStreamExt;
    use wechat_events::api::{
        Button, ButtonKind, MatchRule, Media, MediaFile, MediaType, Menu, MenuWarning, QrScene,
        SubscribeMessage, TemplateMessage,
    };
    use wechat_events::testing::STAND_IN_TEMPLATE_ID;
    use wechat_events::{
        ClickEvent, LocationSelectEvent, PicPhotoOrAlbumEvent, PicSysphotoEvent, PicWeixinEvent,
        Route, ScanEvent, ScancodeWaitmsgEvent, SubscribeEvent, TemplateSendJobFinishEvent,
    };

    fn example_menu() -> Menu {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/menu.toml");
        Menu::from_file(path).expect("examples/menu.toml reads")
    }

    #[actix_rt::test]
    async fn the_menu_is_created_read_back_and_deleted() {
        let wechat = ApiStandIn::start();
        let api = client(&wechat);
        assert_eq!(
            api.menu().get().await.expect("get").menu,
            None,
            "no menu yet"
        );
        let menu = example_menu();
        api.menu().create(&menu).await.expect("create");
        let create = &wechat.calls_to("/cgi-bin/menu/create")[0];
        assert_eq!(create.method, "POST");
        assert_eq!(create.body["button"][0]["name"], "演示");
        assert_eq!(
            create.body["button"][0]["sub_button"][0],
            json!({"type": "click", "name": "计数", "key": "COUNT"})
        );
        assert_eq!(
            create.body["button"][2],
            json!({"type": "view", "name": "文档", "url": "https://docs.rs/wechat-events"})
        );
        assert_eq!(
            create.body.as_object().map(|o| o.len()),
            Some(1),
            "{}",
            create.body
        );

        let got = api.menu().get().await.expect("get");
        let current = got.menu.expect("a menu");
        assert_eq!(current.button, menu.button);
        assert_eq!(current.menuid.as_deref(), Some("100"));

        let staff = Menu::new([Button::click("员工", "STAFF")]).matching(MatchRule::tag("2"));
        let id = api
            .menu()
            .add_conditional(&staff)
            .await
            .expect("conditional");
        let got = api.menu().get().await.expect("get");
        assert_eq!(got.conditionalmenu.len(), 1);
        assert_eq!(got.conditionalmenu[0].menuid.as_deref(), Some(id.as_str()));
        assert_eq!(got.conditionalmenu[0].matchrule, Some(MatchRule::tag("2")));
        api.menu()
            .delete_conditional(&id)
            .await
            .expect("delconditional");
        assert!(wechat.conditional_menus().is_empty());
        let err = api.menu().delete_conditional(&id).await.unwrap_err();
        assert_eq!(err.errcode(), Some(65301), "{err}");

        api.menu().delete().await.expect("delete");
        assert_eq!(wechat.menu(), None);
        assert_eq!(wechat.calls_to("/cgi-bin/menu/delete")[0].method, "GET");
    }

    #[actix_rt::test]
    async fn menu_limits_are_refused_before_sending_and_wechat_refusals_surface() {
        let wechat = ApiStandIn::start();
        let api = client(&wechat);
        let four = Menu::new((0..4).map(|i| Button::click(format!("b{i}"), format!("K{i}"))));
        let err = api.menu().create(&four).await.unwrap_err();
        assert!(matches!(err, ApiError::Invalid(_)), "{err:?}");
        assert!(
            err.to_string()
                .contains("has 4 buttons; a menu has at most 3 top-level buttons"),
            "{err}"
        );
        // 17 bytes: 5 Chinese characters and 2 letters.
        let long = Menu::new([Button::click("一二三四五ab", "K")]);
        let err = api.menu().create(&long).await.unwrap_err();
        assert!(
            err.to_string().contains("button[0].name: \"一二三四五ab\" is 17 bytes; a top-level button's name is at most 16 bytes"),
            "{err}"
        );
        let keyless = Menu::new([Button::new(ButtonKind::ScancodePush, "扫")]);
        let err = api.menu().create(&keyless).await.unwrap_err();
        assert!(
            err.to_string()
                .contains("a scancode_push button needs a key"),
            "{err}"
        );
        let ruleless = Menu::new([Button::click("a", "K")]);
        let err = api.menu().add_conditional(&ruleless).await.unwrap_err();
        assert!(err.to_string().contains("matchrule"), "{err}");
        assert!(
            wechat.calls().is_empty(),
            "nothing sent, not even for a token"
        );

        // Past the client's checks (by hand), WeChat's own refusal.
        let err = api
            .post_json("/cgi-bin/menu/create", &json!({"button": [
                {"type": "click", "name": "a", "key": "1"}, {"type": "click", "name": "b", "key": "2"},
                {"type": "click", "name": "c", "key": "3"}, {"type": "click", "name": "d", "key": "4"}]}))
            .await
            .unwrap_err();
        assert_eq!(err.errcode(), Some(40016), "{err}");
        // No default menu: a personalised one is refused by WeChat.
        let err = api
            .menu()
            .add_conditional(&ruleless.matching(MatchRule::tag("1")))
            .await
            .unwrap_err();
        assert_eq!(err.errcode(), Some(65303), "{err}");
    }

    async fn count(_: ClickEvent) -> &'static str {
        "1"
    }
    async fn slow(_: ClickEvent) -> &'static str {
        "slow"
    }
    async fn panics(_: ClickEvent) -> &'static str {
        "panic"
    }
    async fn any_click(ev: ClickEvent) -> String {
        format!("点击菜单 {}", ev.key)
    }
    async fn scanned(_: ScancodeWaitmsgEvent) {}
    async fn place(_: LocationSelectEvent) {}
    async fn camera(_: PicSysphotoEvent) {}
    async fn album(_: PicPhotoOrAlbumEvent) {}
    async fn weixin(_: PicWeixinEvent) {}

    /// The quickstart's menu handlers (COUNT, SLOW, PANIC, any other click,
    /// the scanner and the pickers).
    fn quickstart_menu_router() -> Router {
        Router::new()
            .click("COUNT", count)
            .click("SLOW", slow)
            .click("PANIC", panics)
            .on(any_click)
            .on(scanned)
            .on(place)
            .on(camera)
            .on(album)
            .on(weixin)
    }

    #[test]
    fn the_example_menu_matches_the_quickstart_handlers_and_gaps_are_named() {
        let menu = example_menu();
        menu.check().expect("within WeChat's limits");
        let routes = quickstart_menu_router().build().expect("routes");
        assert_eq!(menu.check_routes(&routes), [], "every button answered");

        // Without the catch-all click handler and the album picker, and
        // with a key route no button sends.
        let routes = Router::new()
            .click("COUNT", count)
            .click("SLOW", slow)
            .click("HELP", panics)
            .route(Route::new().key_regex("^PANIC$"), any_click)
            .on(scanned)
            .on(place)
            .on(camera)
            .on(weixin)
            .build()
            .expect("routes");
        let warnings = menu.check_routes(&routes);
        assert_eq!(
            warnings,
            [
                MenuWarning::Unhandled {
                    at: "button[1].sub_button[2]".into(),
                    name: "拍照或相册".into(),
                    kind: ButtonKind::PicPhotoOrAlbum,
                    key: "ALBUM".into(),
                },
                MenuWarning::NoButton {
                    route: "api::typed::panics".into(),
                    event: wechat_events::kinds::EventKind::Click,
                    key: "HELP".into(),
                },
            ],
            "{warnings:#?}"
        );
        assert_eq!(
            warnings[0].to_string(),
            "menu button[1].sub_button[2] (\"拍照或相册\", pic_photo_or_album) sends key \"ALBUM\", \
             which no handler answers (no key route, no matching key_regex, no handler for every \
             pic_photo_or_album push)"
        );
        assert_eq!(
            warnings[1].to_string(),
            "route api::typed::panics answers CLICK key \"HELP\", which no button of the menu sends"
        );
    }

    /// `ServiceBuilder::menu`: the same check when the service is built,
    /// each warning logged with the account.
    #[test]
    fn a_service_given_its_menu_logs_what_does_not_match() {
        let log = super::captured_log();
        let config = wechat_events::Config::builder("menutoken")
            .name("menucheck")
            .build()
            .expect("config");
        wechat_events::WechatService::builder(config)
            .only(Router::new().click("COUNT", count).click("HELP", panics))
            .menu(example_menu())
            .build()
            .expect("service");
        let text = log.text();
        let lines: Vec<&str> = text
            .lines()
            .filter(|l| l.contains("account=\"menucheck\"") && l.contains("menu: "))
            .collect();
        assert!(
            lines.iter().any(|l| l.contains("WARN")
                && l.contains("sends key \"SLOW\", which no handler answers")),
            "{lines:#?}"
        );
        assert!(
            lines
                .iter()
                .any(|l| l.contains("route api::typed::panics answers CLICK key \"HELP\"")),
            "{lines:#?}"
        );
    }

    #[actix_rt::test]
    async fn qr_codes_of_each_kind_and_their_image() {
        let wechat = ApiStandIn::start();
        let api = client(&wechat);
        let week = Duration::from_secs(7 * 86400);
        let temp_str = api
            .qrcode()
            .temporary("poster-7", week)
            .await
            .expect("temp str");
        let temp_id = api
            .qrcode()
            .temporary(4_000_000_000u32, week)
            .await
            .expect("temp id");
        let perm_id = api.qrcode().permanent(100_000u32).await.expect("perm id");
        let perm_str = api
            .qrcode()
            .permanent("shop-front")
            .await
            .expect("perm str");
        let bodies: Vec<Value> = wechat
            .calls_to("/cgi-bin/qrcode/create")
            .into_iter()
            .map(|c| c.body)
            .collect();
        assert_eq!(
            bodies,
            [
                json!({"expire_seconds": 604800, "action_name": "QR_STR_SCENE",
                       "action_info": {"scene": {"scene_str": "poster-7"}}}),
                json!({"expire_seconds": 604800, "action_name": "QR_SCENE",
                       "action_info": {"scene": {"scene_id": 4_000_000_000u32}}}),
                json!({"action_name": "QR_LIMIT_SCENE", "action_info": {"scene": {"scene_id": 100000}}}),
                json!({"action_name": "QR_LIMIT_STR_SCENE",
                       "action_info": {"scene": {"scene_str": "shop-front"}}}),
            ]
        );
        assert_eq!(temp_str.expires_in, Some(week));
        assert_eq!(perm_id.expires_in, None);
        assert_eq!(temp_id.scene, QrScene::Id(4_000_000_000));
        assert_eq!(perm_str.scene.push_value(), "shop-front");
        assert!(
            temp_str.url.starts_with("http://weixin.qq.com/q/"),
            "{}",
            temp_str.url
        );
        // The image URL is on the mp host, the ticket URL-encoded.
        let encoded: String =
            url::form_urlencoded::byte_serialize(temp_str.ticket.as_bytes()).collect();
        assert_eq!(
            temp_str.image_url,
            format!("{}/cgi-bin/showqrcode?ticket={encoded}", wechat.base_url())
        );
        assert!(
            temp_str.ticket.contains(['+', '/', '=']),
            "a ticket that needs encoding"
        );
        let image = api.qrcode().image(&temp_str.ticket).await.expect("image");
        assert!(image.bytes.starts_with(b"\x89PNG"), "{image:?}");
        assert!(image.bytes.ends_with(temp_str.ticket.as_bytes()));
        assert_eq!(
            wechat.calls_to("/cgi-bin/showqrcode")[0].access_token,
            None,
            "the image needs no token"
        );
        let err = api.qrcode().image("no-such-ticket").await.unwrap_err();
        assert!(matches!(err, ApiError::Http(_)), "{err:?}");
    }

    #[actix_rt::test]
    async fn qr_limits_are_refused_before_sending() {
        let wechat = ApiStandIn::start();
        let api = client(&wechat);
        let long = "x".repeat(65);
        let err = api
            .qrcode()
            .temporary(long.as_str(), Duration::from_secs(60))
            .await
            .unwrap_err();
        assert!(matches!(err, ApiError::Invalid(_)), "{err:?}");
        assert_eq!(
            err.to_string(),
            "not sent, WeChat would refuse it: scene_str: is 65 characters; a scene_str is at most 64"
        );
        let err = api.qrcode().permanent(100_001u32).await.unwrap_err();
        assert!(
            err.to_string()
                .contains("a permanent code's scene_id is 1 to 100000"),
            "{err}"
        );
        let err = api
            .qrcode()
            .temporary("a", Duration::from_secs(2_592_001))
            .await
            .unwrap_err();
        assert!(
            err.to_string().contains(
                "expire_seconds: is 2592001; a temporary code lives 1 to 2592000 seconds"
            ),
            "{err}"
        );
        assert!(wechat.calls().is_empty());
        // WeChat's own check, past the client's.
        let err = api
            .post_json(
                "/cgi-bin/qrcode/create",
                &json!({"action_name": "QR_LIMIT_SCENE",
                "action_info": {"scene": {"scene_id": 100001}}}),
            )
            .await
            .unwrap_err();
        assert_eq!(err.errcode(), Some(40097));
    }

    /// Answers as the quickstart's `subscribe` does.
    async fn welcome(ev: SubscribeEvent) -> String {
        match ev.scene {
            Some(scene) => format!("欢迎关注，场景值 {scene}"),
            None => "欢迎关注".to_owned(),
        }
    }

    async fn scanned_again(ev: ScanEvent) -> String {
        format!("扫码场景 {}", ev.scene)
    }

    #[actix_rt::test]
    async fn a_poster_code_scanned_by_a_new_user_is_greeted_with_its_scene() {
        let wechat = ApiStandIn::start();
        let api = client(&wechat);
        let code = api
            .qrcode()
            .temporary("poster-7", Duration::from_secs(86400))
            .await
            .expect("code");
        let config = Config::builder("roundtrip").build().expect("config");
        let service = WechatService::new(config, Router::new().on(welcome).on(scanned_again))
            .expect("service");
        let bot = TestServer::builder(service).start();
        let user = Simulator::new("roundtrip");

        // The push WeChat sends when a new user scans the code.
        let push = wechat
            .scan(&code.ticket, "oNewUser")
            .expect("a ticket the stand-in issued");
        let xml = push.to_xml("gh_test", "ignored", 1, 0);
        assert!(
            xml.contains("<EventKey><![CDATA[qrscene_poster-7]]></EventKey>"),
            "{xml}"
        );
        assert!(
            xml.contains(&format!("<Ticket><![CDATA[{}]]></Ticket>", code.ticket)),
            "{xml}"
        );
        let answer = user.send(&bot, &push).await.expect("answered");
        assert_eq!(answer.text(), Some("欢迎关注，场景值 poster-7"));

        // The scene a push carries is the code's, typed.
        let parsed = wechat_events::push::parse(xml.as_bytes()).expect("parse");
        assert!(code
            .scene
            .is(parsed.event().and_then(|e| e.scene()).expect("a scene")));
        // Following now, a second scan is a SCAN with the same scene.
        let again = wechat.scan(&code.ticket, "oNewUser").expect("scan");
        let answer = user.send(&bot, &again).await.expect("answered");
        assert_eq!(answer.text(), Some("扫码场景 poster-7"));
        // And WeChat remembers how the user came.
        let info = api.users().info("oNewUser").await.expect("info");
        assert_eq!(info.subscribe_scene.as_deref(), Some("ADD_SCENE_QR_CODE"));
        assert_eq!(info.qr_scene_str.as_deref(), Some("poster-7"));
        bot.stop().await;
    }

    #[actix_rt::test]
    async fn media_is_uploaded_checked_first_and_downloaded() {
        let wechat = ApiStandIn::start();
        let api = client(&wechat);
        let png = b"\x89PNG\r\n\x1a\nnot really a picture".to_vec();
        // A rejected token on the upload: the form is sent again, whole.
        api.access_token().await.expect("token");
        wechat.expire_token();
        let uploaded = api
            .media()
            .upload(MediaType::Image, &MediaFile::new("cat.png", png.clone()))
            .await
            .expect("upload");
        assert_eq!(uploaded.media_type, "image");
        assert_eq!(uploaded.created_at, 1_700_000_001);
        let uploads = wechat.calls_to("/cgi-bin/media/upload");
        assert_eq!(uploads.len(), 2, "once with the expired token, once more");
        assert_eq!(uploads[1].param("type"), Some("image"));
        assert_eq!(
            uploads[1].body,
            json!({"media": {"filename": "cat.png", "content_type": "image/png", "len": png.len()}})
        );
        let stored = wechat.media(&uploaded.media_id).expect("kept");
        assert_eq!(stored.bytes, png);

        match api.media().get(&uploaded.media_id).await.expect("get") {
            Media::File(file) => {
                assert_eq!(file.bytes, png);
                assert_eq!(file.content_type, "image/png");
                assert_eq!(file.file_name.as_deref(), Some("cat.png"));
            }
            other => panic!("a file, got {other:?}"),
        }
        let video = wechat.add_media("video", "clip.mp4", b"mp4".to_vec());
        assert!(matches!(
            api.media().get(&video).await,
            Ok(Media::VideoUrl(_))
        ));
        let err = api.media().get("no-such-media").await.unwrap_err();
        assert_eq!(err.errcode(), Some(40007), "{err}");

        // A thumb's answer names its id thumb_media_id.
        let thumb = api
            .media()
            .upload(
                MediaType::Thumb,
                &MediaFile::new("cover.jpg", vec![1; 1024]),
            )
            .await
            .expect("thumb");
        assert!(wechat.media(&thumb.media_id).is_some());

        // From a file.
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("hello.mp3");
        std::fs::write(&path, b"ID3 sound").expect("write");
        let voice = api
            .media()
            .upload(MediaType::Voice, &MediaFile::read(&path).expect("read"))
            .await
            .expect("voice");
        assert_eq!(
            wechat.media(&voice.media_id).expect("kept").file_name,
            "hello.mp3"
        );
        let err = MediaFile::read(dir.path().join("missing.png")).unwrap_err();
        assert!(matches!(err, ApiError::File { .. }), "{err:?}");

        // Size and format, checked before sending.
        let sent = wechat.calls().len();
        let cases = [
            (
                MediaType::Image,
                "big.png",
                10 * 1024 * 1024 + 1,
                "big.png is 10485761 bytes; a image is at most 10485760 bytes (10 MB)",
            ),
            (
                MediaType::Voice,
                "long.mp3",
                2 * 1024 * 1024 + 1,
                "a voice is at most 2097152 bytes (2 MB)",
            ),
            (
                MediaType::Thumb,
                "cover.jpg",
                64 * 1024 + 1,
                "a thumb is at most 65536 bytes (64 KB)",
            ),
            (
                MediaType::Image,
                "cat.webp",
                10,
                "cat.webp is not a image file WeChat takes (bmp, png, jpeg, jpg, gif)",
            ),
            (MediaType::Video, "clip.mov", 10, "(mp4)"),
            (MediaType::Image, "empty.png", 0, "empty.png is empty"),
        ];
        for (kind, name, len, want) in cases {
            let err = api
                .media()
                .upload(kind, &MediaFile::new(name, vec![0; len]))
                .await
                .unwrap_err();
            assert!(matches!(err, ApiError::Invalid(_)), "{err:?}");
            assert!(err.to_string().contains(want), "{err}");
        }
        assert_eq!(wechat.calls().len(), sent, "none of them sent");
    }

    #[actix_rt::test]
    async fn users_one_a_batch_and_every_follower_in_pages() {
        let wechat = ApiStandIn::start();
        let api = client(&wechat);
        let openids: Vec<String> = (0..25).map(|i| format!("o{i:02}")).collect();
        for openid in &openids {
            wechat.add_follower(openid);
        }
        wechat.follower_page_size(10);
        let info = api.users().info("o03").await.expect("info");
        assert!(info.follows());
        assert_eq!(info.openid, "o03");
        assert_eq!(info.language.as_deref(), Some("zh_CN"));
        let call = wechat.calls_to("/cgi-bin/user/info").remove(0);
        assert_eq!(
            call.query,
            [
                ("openid".into(), "o03".into()),
                ("lang".into(), "zh_CN".into())
            ]
        );
        let err = api.users().info("o_unknown").await.unwrap_err();
        assert_eq!(err.errcode(), Some(40003));

        wechat.unfollow("o24");
        let batch = api
            .users()
            .batch_info(&["o01", "o24"])
            .await
            .expect("batch");
        assert_eq!(batch.len(), 2);
        assert!(batch[0].follows() && !batch[1].follows());
        assert_eq!(
            wechat.calls_to("/cgi-bin/user/info/batchget")[0].body,
            json!({"user_list": [{"openid": "o01", "lang": "zh_CN"}, {"openid": "o24", "lang": "zh_CN"}]})
        );
        let many: Vec<&str> = (0..101).map(|_| "o01").collect();
        let err = api.users().batch_info(&many).await.unwrap_err();
        assert!(
            err.to_string()
                .contains("has 101 users; a batch has 1 to 100"),
            "{err}"
        );

        let page = api.users().followers_page(None).await.expect("page");
        assert_eq!(page.total, 24);
        assert_eq!(page.openids.len(), 10);
        assert_eq!(page.next_openid.as_deref(), Some("o09"));
        let all: Vec<String> = api.users().followers().try_collect().await.expect("all");
        assert_eq!(all, openids[..24]);
        let pages: Vec<Option<String>> = wechat
            .calls_to("/cgi-bin/user/get")
            .iter()
            .skip(1)
            .map(|c| c.param("next_openid").map(str::to_owned))
            .collect();
        assert_eq!(
            pages,
            [
                None,
                Some("o09".into()),
                Some("o19".into()),
                Some("o23".into())
            ],
            "three pages, and the empty one that ends the list"
        );
    }

    async fn template_done(ev: TemplateSendJobFinishEvent) -> String {
        format!("{:?} {}", ev.msg_id, ev.status)
    }

    #[actix_rt::test]
    async fn template_and_subscription_messages() {
        let wechat = ApiStandIn::start();
        let api = client(&wechat);
        wechat.add_follower("oFan");
        let message = TemplateMessage::new("oFan", STAND_IN_TEMPLATE_ID)
            .data("keyword1", "已发货")
            .data("keyword2", "顺丰")
            .url("https://example.com/o/1")
            .client_msg_id("order-1");
        let msgid = api.templates().send(&message).await.expect("sent");
        assert_eq!(
            wechat.template_messages(),
            [
                json!({"touser": "oFan", "template_id": STAND_IN_TEMPLATE_ID,
                    "url": "https://example.com/o/1", "client_msg_id": "order-1",
                    "data": {"keyword1": {"value": "已发货"}, "keyword2": {"value": "顺丰"}}})
            ]
        );
        // The msgid is what the later TEMPLATESENDJOBFINISH push carries.
        let config = Config::builder("tmpl").build().expect("config");
        let bot = TestServer::builder(
            WechatService::new(config, Router::new().on(template_done)).expect("service"),
        )
        .start();
        let answer = Simulator::new("tmpl")
            .send(&bot, &SimPush::template_send_job_finish(msgid, "success"))
            .await
            .expect("answer");
        assert_eq!(
            answer.text(),
            Some(format!("Some({msgid}) success").as_str())
        );
        bot.stop().await;

        let err = api
            .templates()
            .send(&TemplateMessage::new("oFan", "no-such").data("k", "v"))
            .await
            .unwrap_err();
        assert_eq!(err.errcode(), Some(40037));
        let err = api
            .templates()
            .send(&TemplateMessage::new("oFan", STAND_IN_TEMPLATE_ID))
            .await
            .unwrap_err();
        assert!(matches!(err, ApiError::Invalid(_)), "{err:?}");
        wechat.add_follower("oGone");
        wechat.unfollow("oGone");
        let err = api
            .templates()
            .send(&TemplateMessage::new("oGone", STAND_IN_TEMPLATE_ID).data("k", "v"))
            .await
            .unwrap_err();
        assert_eq!(err.errcode(), Some(43004));

        api.templates()
            .send_subscribe(
                &SubscribeMessage::new("oFan", STAND_IN_TEMPLATE_ID)
                    .data("thing1", "到货")
                    .page("index"),
            )
            .await
            .expect("bizsend");
        assert_eq!(
            wechat.subscribe_messages(),
            [
                json!({"touser": "oFan", "template_id": STAND_IN_TEMPLATE_ID, "page": "index",
                    "data": {"thing1": {"value": "到货"}}})
            ]
        );
    }
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
