//! The `testing` module against a real service: every builder, every mode,
//! in-process and over HTTP, retries, and the answers WeChat would refuse.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::{web, App, HttpResponse};
use common::{bot, closed_port, serve_bot, BotMode, APPID, HELP, KEY, TOKEN};
use wechat_events::testing::{Answer, AnswerError, InProcess, SimError, SimPush, Simulator};
use wechat_events::{Article, Reply};

const DEADLINE: Duration = Duration::from_secs(4);

fn sim() -> Simulator {
    Simulator::new(TOKEN)
}

fn secure_sim() -> Simulator {
    sim().secure(KEY, APPID).expect("key")
}

#[actix_rt::test]
async fn every_builder_gets_the_contracted_answer() {
    let app = InProcess::init(bot(BotMode::Plain, DEADLINE)).await;
    let sim = sim();
    let text = |content: &str| Some(Reply::text(content));
    let cases: Vec<(SimPush, Option<Reply>)> = vec![
        (SimPush::subscribe(), text("欢迎关注")),
        (
            SimPush::subscribe_scene("123123"),
            text("欢迎关注，场景值 123123"),
        ),
        (SimPush::scan("SCENE_VALUE"), text("扫码场景 SCENE_VALUE")),
        (SimPush::text("位置"), text("还没有收到你的位置")),
        (
            SimPush::location_event(23.137466, 113.352425, 119.385040),
            None,
        ),
        (
            SimPush::text("位置"),
            text("你的位置: 23.137466,113.352425"),
        ),
        (SimPush::click("EVENTKEY"), text("点击菜单 EVENTKEY")),
        (SimPush::view("www.qq.com"), None),
        (SimPush::view_menu("https://example.com", "42"), None),
        (SimPush::unsubscribe(), None),
        (SimPush::event("kf_create_session"), None),
        (SimPush::text("帮助"), text(HELP)),
        (SimPush::text("help"), text(HELP)),
        (SimPush::text("hello ]]> <b>"), text("收到:hello ]]> <b>")),
        (
            SimPush::text("图文"),
            Some(Reply::news([Article::new(
                "wechat-events",
                "https://example.com/wechat-events",
            )
            .description("Receive WeChat pushes with actix-web")])),
        ),
        (SimPush::image("MEDIA_1"), Some(Reply::image("MEDIA_1"))),
        (SimPush::voice("V"), None),
        (SimPush::voice_recognized("V", "腾讯"), None),
        (SimPush::video("V", "T"), None),
        (SimPush::shortvideo("V", "T"), None),
        (SimPush::location(23.1, 113.3, 15, "广州"), None),
        (SimPush::link("t", "d", "https://example.com"), None),
        (SimPush::message("miniprogrampage"), None),
    ];
    for (push, want) in cases {
        let response = sim.send(&app, &push).await.expect("answered");
        assert_eq!(response.status, 200, "{push}: {}", response.body_text());
        let answer = response.check().unwrap_or_else(|e| panic!("{push}: {e}"));
        match want {
            Some(reply) => assert_eq!(answer.reply(), Some(&reply), "{push}"),
            None => assert_eq!(answer, &Answer::Success, "{push}"),
        }
        assert!(response.in_time(), "{push}: {:?}", response.elapsed);
    }
}

#[actix_rt::test]
async fn raw_xml_is_sent_as_is() {
    let app = InProcess::init(bot(BotMode::Plain, DEADLINE)).await;
    let raw = "<xml><ToUserName><![CDATA[gh_raw]]></ToUserName><FromUserName><![CDATA[o_raw]]></FromUserName>\
               <CreateTime>1700000000</CreateTime><MsgType><![CDATA[text]]></MsgType>\
               <Content><![CDATA[原样]]></Content><MsgId>77</MsgId></xml>";
    let response = sim()
        .send(&app, &SimPush::raw(raw))
        .await
        .expect("answered");
    let Ok(Answer::Replied(received)) = &response.answer else {
        panic!("{response:?}")
    };
    assert_eq!(received.reply, Reply::text("收到:原样"));
    // The reply is addressed back to the raw document's sender.
    assert_eq!(
        (received.to_user.as_str(), received.from_user.as_str()),
        ("o_raw", "gh_raw")
    );
    // Not a push at all: the bot's 400 is reported, not hidden.
    let response = sim()
        .send(&app, &SimPush::raw("<xml><nothing/></xml>"))
        .await
        .expect("answered");
    assert_eq!(response.status, 400);
    assert!(matches!(
        response.answer,
        Err(AnswerError::Status { status: 400, .. })
    ));
}

#[actix_rt::test]
async fn handshake() {
    let app = InProcess::init(bot(BotMode::Secure, DEADLINE)).await;
    let response = sim().verify(&app).await.expect("answered");
    assert!(
        matches!(response.check(), Ok(Answer::Echo(_))),
        "{response:?}"
    );
    let response = Simulator::new("wrongtoken")
        .verify(&app)
        .await
        .expect("answered");
    assert_eq!(response.status, 403);
    assert!(response.check().is_err());
}

#[actix_rt::test]
async fn secure_mode_round_trip() {
    let app = InProcess::init(bot(BotMode::Secure, DEADLINE)).await;
    let sim = secure_sim();
    let response = sim
        .send(&app, &SimPush::text("加密"))
        .await
        .expect("answered");
    let Ok(Answer::Replied(received)) = &response.answer else {
        panic!("{response:?}")
    };
    assert!(received.encrypted);
    assert_eq!(received.reply, Reply::text("收到:加密"));
    assert!(response.body_text().contains("<MsgSignature>"));
    assert!(!response.body_text().contains("加密"));
    // No-reply answers stay plain `success`.
    let response = sim.send(&app, &SimPush::view("x")).await.expect("answered");
    assert!(response.is_no_reply());
    // A plaintext push is refused by a secure-mode bot.
    let response = Simulator::new(TOKEN)
        .send(&app, &SimPush::text("x"))
        .await
        .expect("answered");
    assert_eq!(response.status, 400);
    // Another appid: the bot refuses to decrypt it.
    let response = Simulator::new(TOKEN)
        .secure(KEY, "wx_other")
        .expect("key")
        .send(&app, &SimPush::text("x"))
        .await
        .expect("answered");
    assert_eq!(response.status, 403);
}

#[actix_rt::test]
async fn compatible_mode_both_ways() {
    let app = InProcess::init(bot(BotMode::Compatible, DEADLINE)).await;
    let compatible = secure_sim().compatible();
    let response = compatible
        .send(&app, &SimPush::text("兼容"))
        .await
        .expect("answered");
    let Ok(Answer::Replied(received)) = &response.answer else {
        panic!("{response:?}")
    };
    assert!(received.encrypted);
    assert_eq!(received.reply, Reply::text("收到:兼容"));
    let response = sim()
        .send(&app, &SimPush::text("明文"))
        .await
        .expect("answered");
    let Ok(Answer::Replied(received)) = &response.answer else {
        panic!("{response:?}")
    };
    assert!(!received.encrypted);
    assert_eq!(received.reply, Reply::text("收到:明文"));
}

#[actix_rt::test]
async fn a_resent_payload_is_a_retry_not_a_new_click() {
    let app = InProcess::init(bot(BotMode::Plain, DEADLINE)).await;
    let sim = sim();
    let first = sim.prepare(&SimPush::click("COUNT"));
    let again = first.clone();
    assert_eq!(first, again);
    assert_eq!(
        sim.deliver(&app, &first).await.expect("1").text(),
        Some("1")
    );
    // WeChat's retry: the very same bytes. The handler does not run again.
    assert_eq!(
        sim.deliver(&app, &again).await.expect("retry").text(),
        Some("1")
    );
    // A fixed CreateTime reproduces the same push even when prepared anew.
    let fixed = SimPush::click("COUNT").create_time(1_700_000_000);
    assert_eq!(sim.send(&app, &fixed).await.expect("2").text(), Some("2"));
    assert_eq!(sim.send(&app, &fixed).await.expect("2").text(), Some("2"));
    let later = SimPush::click("COUNT").create_time(1_700_000_001);
    assert_eq!(sim.send(&app, &later).await.expect("3").text(), Some("3"));
    // Messages: a fixed MsgId is the same message.
    let msg = SimPush::text("once").msg_id(42);
    let a = sim.send(&app, &msg).await.expect("a");
    let b = sim.send(&app, &msg).await.expect("b");
    assert_eq!(a.text(), b.text());
}

#[actix_rt::test]
async fn slow_handler_is_retried_like_wechat() {
    // In-process, every timer (the simulator's patience, the service's
    // deadline, the handler's 10 s sleep) is on this runtime's paused
    // clock: the order below is exact, and the test takes no real time.
    tokio::time::pause();
    // Deadline 1 s, patience 4 s: the service holds the first two tries
    // open while the handler works (the simulator hangs up on each, and
    // resends the same bytes); the third answers by its deadline with
    // `success`, the handler's reply being delivered later.
    let app = InProcess::init(bot(BotMode::Plain, Duration::from_secs(1))).await;
    let sim = sim().timeout(Duration::from_secs(4));
    // Fixed CreateTimes: no real second passes on this clock, and two SLOW
    // clicks in one second would be one push to the de-duplication.
    let prepared = sim.prepare(&SimPush::click("SLOW").create_time(1_700_000_000));
    let retried = sim
        .deliver_with_retries(&app, &prepared)
        .await
        .expect("answered on a retry");
    assert_eq!(retried.failures.len(), 2, "{:?}", retried.failures);
    assert!(retried
        .failures
        .iter()
        .all(|f| matches!(f, SimError::Timeout { .. })));
    assert!(retried.response.is_no_reply());

    // Too impatient: three tries, then WeChat gives up.
    let sim = sim.timeout(Duration::from_millis(100));
    let another = SimPush::click("SLOW").create_time(1_700_000_001);
    let err = sim
        .deliver_with_retries(&app, &sim.prepare(&another))
        .await
        .expect_err("gives up");
    assert!(matches!(err, SimError::GaveUp { tries: 3, .. }), "{err}");
}

#[actix_rt::test]
async fn over_real_http() {
    let server = serve_bot(BotMode::Secure, DEADLINE);
    assert!(server.url().ends_with("/wechat"));
    let sim = secure_sim();
    let response = sim.verify(&server).await.expect("handshake");
    assert!(matches!(response.answer, Ok(Answer::Echo(_))));
    let response = sim
        .send(&server, &SimPush::subscribe_scene(7))
        .await
        .expect("answered");
    assert_eq!(response.text(), Some("欢迎关注，场景值 7"));
    // A URL string works the same.
    let url = server.url().to_owned();
    let response = sim
        .send(url.as_str(), &SimPush::scan("S"))
        .await
        .expect("answered");
    assert_eq!(response.text(), Some("扫码场景 S"));
    // Too slow for a short timeout.
    let err = sim
        .clone()
        .timeout(Duration::from_millis(200))
        .send(&server, &SimPush::click("SLOW"))
        .await
        .expect_err("times out");
    assert!(matches!(err, SimError::Timeout { .. }), "{err}");
    server.stop().await;
}

#[actix_rt::test]
async fn unreachable_and_unsupported_urls() {
    let url = format!("http://127.0.0.1:{}/wechat", closed_port());
    let err = sim()
        .send(url.as_str(), &SimPush::subscribe())
        .await
        .expect_err("nothing listens");
    assert!(matches!(err, SimError::Connect { .. }), "{err}");
    assert!(err.to_string().contains(&url), "{err}");
    let err = sim()
        .send(url.as_str(), &SimPush::subscribe())
        .await
        .expect_err("nothing listens");
    assert!(err.is_retryable());
    let err = sim()
        .verify("https://example.com/wechat")
        .await
        .expect_err("no TLS");
    assert!(matches!(err, SimError::Url { .. }), "{err}");
}

/// A fake bot answering whatever `answer` renders for each request.
async fn fake<F>(
    answer: F,
) -> InProcess<
    impl actix_web::dev::Service<
        actix_http::Request,
        Response = actix_web::dev::ServiceResponse,
        Error = actix_web::Error,
    >,
>
where
    F: Fn(String) -> HttpResponse + Clone + 'static,
{
    let app = actix_web::test::init_service(App::new().route(
        "/wechat",
        web::to(move |body: String| {
            let answer = answer.clone();
            async move { answer(body) }
        }),
    ))
    .await;
    InProcess::new(app, "/wechat")
}

#[actix_rt::test]
async fn encrypted_reply_with_a_bad_signature_is_refused() {
    let key: wechat_events::crypto::AesKey = KEY.parse().expect("key");
    let sim = secure_sim();
    let xml = Reply::text("hi")
        .render(sim.user(), sim.account_id(), 1)
        .expect("renders");
    let forged = wechat_events::crypto::encrypt_reply("not_the_token", &key, APPID, &xml, "1", "2");
    let app = fake(move |_| HttpResponse::Ok().body(forged.clone())).await;
    let response = sim.send(&app, &SimPush::text("x")).await.expect("answered");
    assert_eq!(response.answer, Err(AnswerError::Signature));
    assert!(matches!(
        response.check(),
        Err(SimError::Answer(AnswerError::Signature))
    ));

    // Correctly signed: accepted.
    let good = wechat_events::crypto::encrypt_reply(TOKEN, &key, APPID, &xml, "1", "2");
    let app = fake(move |_| HttpResponse::Ok().body(good.clone())).await;
    let response = sim.send(&app, &SimPush::text("x")).await.expect("answered");
    assert_eq!(response.text(), Some("hi"));

    // Plaintext reply to an encrypted push in secure mode.
    let plain = xml.clone();
    let app = fake(move |_| HttpResponse::Ok().body(plain.clone())).await;
    let response = sim.send(&app, &SimPush::text("x")).await.expect("answered");
    assert_eq!(response.answer, Err(AnswerError::PlaintextReply));
}

#[actix_rt::test]
async fn replies_wechat_would_show_as_an_error() {
    let sim = sim();
    let empty = "<xml><ToUserName>o_sim_user</ToUserName><FromUserName>gh_test</FromUserName>\
                 <CreateTime>1</CreateTime><MsgType>text</MsgType><Content></Content></xml>";
    let app = fake(move |_| HttpResponse::Ok().body(empty)).await;
    let response = sim.send(&app, &SimPush::text("x")).await.expect("answered");
    assert_eq!(response.answer, Err(AnswerError::EmptyText));

    let wrong = Reply::text("x")
        .render("someone_else", "gh_test", 1)
        .expect("renders");
    let app = fake(move |_| HttpResponse::Ok().body(wrong.clone())).await;
    let response = sim.send(&app, &SimPush::text("x")).await.expect("answered");
    assert!(matches!(
        response.answer,
        Err(AnswerError::Addressed {
            field: "ToUserName",
            ..
        })
    ));

    let app = fake(|_| HttpResponse::Ok().body("ok")).await;
    let response = sim.send(&app, &SimPush::text("x")).await.expect("answered");
    assert!(matches!(response.answer, Err(AnswerError::Malformed(_))));

    let app = fake(|_| HttpResponse::Ok().finish()).await;
    let response = sim.send(&app, &SimPush::text("x")).await.expect("answered");
    assert_eq!(response.answer, Ok(Answer::Empty));
}

#[actix_rt::test]
async fn retries_resend_byte_identical_requests() {
    // In-process on a paused clock: the first call's 2 s outlasts the
    // simulator's 0.3 s patience exactly, in no real time.
    tokio::time::pause();
    // The fake drops nothing, so count what arrives and compare.
    let seen: Arc<Mutex<Vec<String>>> = Arc::default();
    let calls = Arc::new(AtomicUsize::new(0));
    let (log, count) = (seen.clone(), calls.clone());
    let app = actix_web::test::init_service(App::new().route(
        "/wechat",
        web::to(move |req: actix_web::HttpRequest, body: String| {
            let (log, count) = (log.clone(), count.clone());
            async move {
                if let Ok(mut log) = log.lock() {
                    log.push(format!("{}\n{body}", req.query_string()));
                }
                if count.fetch_add(1, Ordering::SeqCst) == 0 {
                    tokio::time::sleep(Duration::from_secs(2)).await;
                }
                HttpResponse::Ok().body("success")
            }
        }),
    ))
    .await;
    let app = InProcess::new(app, "/wechat");
    let sim = secure_sim().timeout(Duration::from_millis(300));
    let prepared = sim.prepare(&SimPush::text("retry me"));
    let retried = sim
        .deliver_with_retries(&app, &prepared)
        .await
        .expect("second try answers");
    assert_eq!(retried.failures.len(), 1);
    let seen = seen.lock().expect("log").clone();
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[0], seen[1], "query and body identical");
}
