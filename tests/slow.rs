//! Slow handlers through WeChat's retries, end to end: the quickstart's
//! `等 N` (sleeps N seconds, replies `等了 N 秒`) against the simulator
//! playing WeChat — 5 s per try, the same bytes resent, three tries.
//!
//! The service holds the first two tries open while the handler runs, so
//! a reply ready within about 14 s answers whichever try is open; later,
//! the third try is answered with the slow tip and the reply is delivered
//! through the customer-service API (with an AppSecret) or with the
//! user's next message. Each test runs its pushes concurrently, so the
//! file takes about as long as its slowest push (~22 s).

mod common;

use std::time::{Duration, Instant};

use common::*;
use wechat_events::api::ApiClient;
use wechat_events::testing::{
    ApiStandIn, Retried, SimPush, Simulator, TestServer, STAND_IN_APPID, STAND_IN_SECRET,
};
use wechat_events::{Config, Context, Router, TextMessage, WechatService};

const TIP: &str = "正在处理，请稍候";

/// Sends `等 {n}` from a fresh user with WeChat's retries; returns the
/// user's simulator, what answered, and when.
async fn wait_for(url: &str, n: u64) -> (Simulator, Retried, Duration) {
    let sim = sim();
    let prepared = sim.prepare(&SimPush::text(format!("等 {n}")));
    let started = Instant::now();
    let retried = sim
        .deliver_with_retries(url, &prepared)
        .await
        .unwrap_or_else(|e| panic!("等 {n}: {e}"));
    (sim, retried, started.elapsed())
}

#[actix_rt::test]
async fn replies_come_on_the_try_that_is_open_and_later_ones_wait_for_the_next_message() {
    // A 3 s deadline leaves each try's answer 2 s of WeChat's 5 s for a
    // loaded machine.
    let qs = Quickstart::start(&[("WECHAT_SLOW_TIP", TIP), ("WECHAT_DEADLINE_MS", "3000")]);
    let url = qs.url.as_str();
    let started = Instant::now();
    let (three, seven, twelve, twenty) = futures_util::join!(
        wait_for(url, 3),
        wait_for(url, 7),
        wait_for(url, 12),
        wait_for(url, 20),
    );

    // Ready within the first try's 5 s: answered on it.
    let (_, retried, _) = three;
    assert_eq!(retried.answered_on_try(), 1, "{:?}", retried.failures);
    assert_eq!(retried.response.text(), Some("等了 3 秒"));

    // The first try was held until WeChat hung up; the second, held in
    // turn, carries the reply. Had the retry run the handler again, the
    // answer would have taken at least 12 s.
    let (_, retried, took) = seven;
    assert_eq!(retried.answered_on_try(), 2, "{:?}", retried.failures);
    assert_eq!(retried.response.text(), Some("等了 7 秒"));
    assert!(took < Duration::from_secs(11), "{took:?}");

    let (_, retried, took) = twelve;
    assert_eq!(retried.answered_on_try(), 3, "{:?}", retried.failures);
    assert_eq!(retried.response.text(), Some("等了 12 秒"));
    assert!(took < Duration::from_secs(16), "{took:?}");

    // Longer than the last try can wait: the tip, by its deadline.
    let (user, retried, _) = twenty;
    assert_eq!(retried.answered_on_try(), 3, "{:?}", retried.failures);
    assert_eq!(retried.response.text(), Some(TIP));

    // The handler finishes at 20 s; no API is configured, so the reply
    // waits for the user's next message, whose own reply queues behind.
    tokio::time::sleep(Duration::from_secs(22).saturating_sub(started.elapsed())).await;
    let next = send(&user, url, SimPush::text("在吗")).await;
    assert_eq!(next.text(), Some("等了 20 秒"));
    let after = send(&user, url, SimPush::text("好的")).await;
    assert_eq!(after.text(), Some("收到:在吗"));
    let last = send(&user, url, SimPush::text("谢谢")).await;
    assert_eq!(last.text(), Some("收到:好的"));
    // Another user's messages were never touched.
    let other = send(&sim(), url, SimPush::text("hi")).await;
    assert_eq!(other.text(), Some("收到:hi"));
}

#[actix_rt::test]
async fn with_an_appsecret_a_late_reply_goes_through_the_customer_service_api() {
    let wechat = ApiStandIn::start();
    let base = wechat.base_url();
    let qs = Quickstart::start(&[
        ("WECHAT_APPID", STAND_IN_APPID),
        ("WECHAT_APPSECRET", STAND_IN_SECRET),
        ("WECHAT_API_BASE", base.as_str()),
        ("WECHAT_DEADLINE_MS", "3000"),
    ]);
    let (user, retried, took) = wait_for(&qs.url, 20).await;
    assert_eq!(retried.answered_on_try(), 3, "{:?}", retried.failures);
    // No tip configured: `success`, the user sees nothing yet.
    assert!(retried.response.is_no_reply(), "{:?}", retried.response);
    assert!(wechat.custom_messages().is_empty());

    // At 20 s the reply is sent to the user as a customer-service text.
    let deadline = Instant::now() + Duration::from_secs(25).saturating_sub(took);
    let messages = loop {
        let messages = wechat.custom_messages();
        if !messages.is_empty() || Instant::now() > deadline {
            break messages;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(messages.len(), 1, "{messages:?}");
    assert_eq!(messages[0]["touser"], user.user());
    assert_eq!(messages[0]["msgtype"], "text");
    assert_eq!(messages[0]["text"]["content"], "等了 20 秒");
    assert_eq!(wechat.token_calls(), 1);
    // Nothing was left pending: the next message gets its own reply.
    let next = send(&user, qs.url.as_str(), SimPush::text("在吗")).await;
    assert_eq!(next.text(), Some("收到:在吗"));
}

async fn typing_then_answer(_: TextMessage, cx: Context, api: ApiClient) -> String {
    match api.typing(cx.openid(), true).await {
        Ok(()) => "typed".to_owned(),
        Err(e) => format!("typing failed: {e}"),
    }
}

#[actix_rt::test]
async fn handlers_take_the_services_api_client() {
    let wechat = ApiStandIn::start();
    let config = Config::builder(TOKEN).build().unwrap();
    let service = WechatService::builder(config.clone())
        .only(Router::new().on(typing_then_answer))
        .api_client(wechat.client_builder().build().unwrap())
        .build()
        .unwrap();
    let server = TestServer::builder(service).start();
    let user = sim();
    let answer = send(&user, &server, SimPush::text("hi")).await;
    assert_eq!(answer.text(), Some("typed"));
    let typing: Vec<_> = wechat
        .calls()
        .into_iter()
        .filter(|c| c.path == "/cgi-bin/message/custom/typing")
        .collect();
    assert_eq!(typing.len(), 1);
    assert_eq!(typing[0].body["touser"], user.user());
    server.stop().await;

    // Without a client (no AppSecret), the extractor fails: the handler
    // does not run and the push is answered `success`.
    let service = WechatService::builder(config)
        .only(Router::new().on(typing_then_answer))
        .build()
        .unwrap();
    let server = TestServer::builder(service).start();
    assert!(send(&sim(), &server, SimPush::text("hi"))
        .await
        .is_no_reply());
    server.stop().await;
}
