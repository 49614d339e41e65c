//! The quickstart's reply contract, end to end: the example runs as its own
//! process on a free port and every request crosses real HTTP.

mod common;

use std::time::Duration;

use awc::http::Method;
use common::*;
use wechat_events::signature::sign;

fn start() -> Quickstart {
    Quickstart::start(&[
        ("WECHAT_DEADLINE_MS", "1000"),
        ("WECHAT_MAX_BODY_BYTES", "2048"),
    ])
}

fn user() -> String {
    format!("o_user_{}", unique())
}

#[actix_rt::test]
async fn handshake_echoes_echostr() {
    let qs = start();
    let (ts, nonce) = ("1409735669", "1320562132");
    let sig = sign(&[TOKEN, ts, nonce]);
    let ok = request(
        Method::GET,
        &format!(
            "{}?signature={sig}&timestamp={ts}&nonce={nonce}&echostr=hello%20%E4%BD%A0",
            qs.url
        ),
    )
    .await;
    assert_eq!((ok.status, ok.body.as_str()), (200, "hello 你"));
    let bad = request(
        Method::GET,
        &format!(
            "{}?signature={}&timestamp={ts}&nonce={nonce}&echostr=x",
            qs.url,
            sign(&["other", ts, nonce])
        ),
    )
    .await;
    assert_eq!(bad.status, 403);
    let missing = request(
        Method::GET,
        &format!("{}?timestamp={ts}&nonce={nonce}&echostr=x", qs.url),
    )
    .await;
    assert_eq!(missing.status, 400);
    let no_echo = request(
        Method::GET,
        &format!("{}?signature={sig}&timestamp={ts}&nonce={nonce}", qs.url),
    )
    .await;
    assert_eq!(no_echo.status, 400);
}

#[actix_rt::test]
async fn text_commands() {
    let qs = start();
    let u = user();
    for kw in ["帮助", "help"] {
        let help = push(&qs.url, TOKEN, &u, text_xml(&u, kw)).await.text();
        for command in ["帮助", "图文", "位置", "COUNT", "SLOW", "PANIC"] {
            assert!(help.contains(command), "help lacks {command}: {help}");
        }
    }
    let news = push(&qs.url, TOKEN, &u, text_xml(&u, "图文")).await;
    let f = news.fields();
    assert_eq!(f.text("MsgType"), Some("news"));
    assert_eq!(f.text("ArticleCount"), Some("1"));
    assert_eq!(f.text("ToUserName"), Some(u.as_str()), "To/From swapped");
    assert_eq!(f.text("FromUserName"), Some("gh_test"));
    let created: i64 = f.text("CreateTime").unwrap().parse().unwrap();
    assert!((created - now()).abs() <= 5, "CreateTime is now");
    let echo = push(&qs.url, TOKEN, &u, text_xml(&u, "你好 ]]> <b>&amp;")).await;
    assert_eq!(echo.text(), "收到:你好 ]]> <b>&amp;");
    assert!(echo.body.contains("]]]]><![CDATA[>"), "{}", echo.body);
}

#[actix_rt::test]
async fn location_is_remembered_per_user() {
    let qs = start();
    let (a, b) = (user(), user());
    assert_eq!(
        push(&qs.url, TOKEN, &a, text_xml(&a, "位置")).await.text(),
        "还没有收到你的位置"
    );
    let loc = event_xml(&a, now(), "LOCATION", "<Latitude>23.137466</Latitude><Longitude>113.352425</Longitude><Precision>119.385040</Precision>");
    assert!(push(&qs.url, TOKEN, &a, loc).await.is_success());
    assert_eq!(
        push(&qs.url, TOKEN, &a, text_xml(&a, "位置")).await.text(),
        "你的位置: 23.137466,113.352425"
    );
    assert_eq!(
        push(&qs.url, TOKEN, &b, text_xml(&b, "位置")).await.text(),
        "还没有收到你的位置"
    );
}

#[actix_rt::test]
async fn image_is_sent_back() {
    let qs = start();
    let u = user();
    let img = message_xml(
        &u,
        "image",
        "<PicUrl><![CDATA[http://mmbiz/p.jpg]]></PicUrl><MediaId><![CDATA[MEDIA_42]]></MediaId>",
    );
    let f = push(&qs.url, TOKEN, &u, img).await.fields();
    assert_eq!(f.text("MsgType"), Some("image"));
    assert_eq!(
        f.get("Image")
            .and_then(|v| v.as_fields())
            .and_then(|i| i.text("MediaId")),
        Some("MEDIA_42")
    );
}

#[actix_rt::test]
async fn subscribe_scan_click_view_unsubscribe() {
    let qs = start();
    let u = user();
    let t = now();
    let sub = push(&qs.url, TOKEN, &u, event_xml(&u, t, "subscribe", "")).await;
    assert_eq!(sub.text(), "欢迎关注");
    let qr = event_xml(
        &u,
        t + 1,
        "subscribe",
        "<EventKey><![CDATA[qrscene_123123]]></EventKey><Ticket><![CDATA[TICKET]]></Ticket>",
    );
    assert_eq!(
        push(&qs.url, TOKEN, &u, qr).await.text(),
        "欢迎关注，场景值 123123"
    );
    let scan = event_xml(
        &u,
        t,
        "SCAN",
        "<EventKey><![CDATA[SCENE_VALUE]]></EventKey><Ticket><![CDATA[TICKET]]></Ticket>",
    );
    assert_eq!(
        push(&qs.url, TOKEN, &u, scan).await.text(),
        "扫码场景 SCENE_VALUE"
    );
    assert_eq!(
        push(&qs.url, TOKEN, &u, click_xml(&u, t, "EVENTKEY"))
            .await
            .text(),
        "点击菜单 EVENTKEY"
    );
    let view = event_xml(&u, t, "VIEW", "<EventKey><![CDATA[www.qq.com]]></EventKey>");
    assert!(push(&qs.url, TOKEN, &u, view).await.is_success());
    assert!(
        push(&qs.url, TOKEN, &u, event_xml(&u, t, "unsubscribe", ""))
            .await
            .is_success()
    );
    let unknown = event_xml(
        &u,
        t,
        "kf_create_session",
        "<KfAccount><![CDATA[kf@x]]></KfAccount>",
    );
    assert!(push(&qs.url, TOKEN, &u, unknown).await.is_success());
    let unknown_msg = message_xml(&u, "miniprogrampage", "<Title>x</Title>");
    assert!(push(&qs.url, TOKEN, &u, unknown_msg).await.is_success());
    let voice = message_xml(&u, "voice", "<MediaId>v</MediaId><Format>amr</Format>");
    assert!(push(&qs.url, TOKEN, &u, voice).await.is_success());
}

#[actix_rt::test]
async fn count_and_retries_run_the_handler_once() {
    let qs = start();
    let u = user();
    let t = now();
    // Three identical pushes at once (WeChat's retries racing the first try).
    let body = click_xml(&u, t, "COUNT");
    let query = signed_query(TOKEN, &u);
    let answers =
        futures_util::future::join_all((0..3).map(|_| post(&qs.url, &query, body.clone()))).await;
    let bodies: Vec<&str> = answers.iter().map(|a| a.body.as_str()).collect();
    assert!(
        bodies.iter().all(|b| *b == bodies[0]),
        "identical replies: {bodies:?}"
    );
    assert_eq!(answers[0].text(), "1");
    // A later retry gets the stored reply.
    assert_eq!(post(&qs.url, &query, body.clone()).await.text(), "1");
    // A new push is a new click.
    assert_eq!(
        push(&qs.url, TOKEN, &u, click_xml(&u, t + 1, "COUNT"))
            .await
            .text(),
        "2"
    );
}

#[actix_rt::test]
async fn different_events_in_one_second_are_both_handled() {
    let qs = start();
    let u = user();
    let t = now();
    let (a, b) = futures_util::join!(
        push(&qs.url, TOKEN, &u, click_xml(&u, t, "COUNT")),
        push(&qs.url, TOKEN, &u, click_xml(&u, t, "MENU_A")),
    );
    assert_eq!(a.text(), "1");
    assert_eq!(b.text(), "点击菜单 MENU_A");
    let sub = push(&qs.url, TOKEN, &u, event_xml(&u, t, "subscribe", "")).await;
    assert_eq!(sub.text(), "欢迎关注");
}

#[actix_rt::test]
async fn slow_handler_is_answered_at_the_deadline() {
    let qs = start();
    let u = user();
    let slow = push(&qs.url, TOKEN, &u, click_xml(&u, now(), "SLOW")).await;
    assert!(slow.is_success(), "{slow:?}");
    assert!(
        slow.elapsed >= Duration::from_millis(950),
        "{:?}",
        slow.elapsed
    );
    assert!(
        slow.elapsed < Duration::from_millis(1200),
        "deadline + 200 ms: {:?}",
        slow.elapsed
    );
    // The server keeps answering others meanwhile.
    let fast = push(&qs.url, TOKEN, &u, text_xml(&u, "hi")).await;
    assert_eq!(fast.text(), "收到:hi");
    assert!(fast.elapsed < Duration::from_millis(500));
}

#[actix_rt::test]
async fn panicking_handler_answers_success_and_server_keeps_serving() {
    let qs = start();
    let u = user();
    for i in 0..3 {
        let p = push(&qs.url, TOKEN, &u, click_xml(&u, now() + i, "PANIC")).await;
        assert!(p.is_success(), "{p:?}");
    }
    assert_eq!(
        push(&qs.url, TOKEN, &u, text_xml(&u, "still there?"))
            .await
            .text(),
        "收到:still there?"
    );
}

#[actix_rt::test]
async fn bad_requests_get_clear_4xx() {
    let qs = start();
    let u = user();
    let body = text_xml(&u, "x");
    // 405 for other methods.
    for m in [Method::PUT, Method::DELETE, Method::PATCH] {
        let a = request(m.clone(), &qs.url).await;
        assert_eq!(a.status, 405, "{m}");
    }
    // 400: missing or malformed query.
    for q in [
        "",
        "timestamp=1&nonce=2",
        "signature=zz&timestamp=1&nonce=2",
        "signature=0123456789012345678901234567890123456789&timestamp=x&nonce=2",
    ] {
        assert_eq!(post(&qs.url, q, body.clone()).await.status, 400, "{q:?}");
    }
    // 403: wrong signature.
    let forged = format!(
        "signature={}&timestamp={}&nonce=1&openid={u}",
        sign(&["wrong", &now().to_string(), "1"]),
        now()
    );
    assert_eq!(post(&qs.url, &forged, body.clone()).await.status, 403);
    // 400: bodies that are not pushes.
    let bad_bodies: Vec<Vec<u8>> = vec![
        b"".to_vec(),
        b"not xml".to_vec(),
        b"<xml><FromUserName>u</FromUserName>".to_vec(),
        b"<!DOCTYPE xml [<!ENTITY e SYSTEM \"file:///etc/passwd\">]><xml><FromUserName>&e;</FromUserName></xml>".to_vec(),
        b"<xml><ToUserName>a</ToUserName><FromUserName>\xff\xfe</FromUserName></xml>".to_vec(),
        b"<xml><ToUserName>a</ToUserName><CreateTime>1</CreateTime><MsgType>text</MsgType></xml>".to_vec(),
    ];
    for b in bad_bodies {
        let a = awc::Client::new()
            .post(format!("{}?{}", qs.url, signed_query(TOKEN, &u)))
            .send_body(b.clone())
            .await
            .expect("request");
        assert_eq!(
            a.status().as_u16(),
            400,
            "{:?}",
            String::from_utf8_lossy(&b)
        );
    }
    // 413: over the configured limit (2048 bytes here).
    let big = text_xml(&u, &"长".repeat(1000));
    assert_eq!(push(&qs.url, TOKEN, &u, big).await.status, 413);
    // And a good push still works afterwards.
    assert_eq!(push(&qs.url, TOKEN, &u, body).await.text(), "收到:x");
}
