//! The quickstart's reply contract, end to end: the example runs as its own
//! process on a free port and every request crosses real HTTP.

mod common;
// The other example bots, the health check and two instances on one Redis.
mod examples;

use std::time::Duration;

use awc::http::Method;
use common::*;
use futures_util::future::Either;
use wechat_events::signature::sign;
use wechat_events::testing::{Answer, Response, SimPush, Simulator};
use wechat_events::Reply;

fn start() -> Quickstart {
    Quickstart::start(&[
        ("WECHAT_DEADLINE_MS", "1000"),
        ("WECHAT_MAX_BODY_BYTES", "2048"),
    ])
}

#[actix_rt::test]
async fn handshake_echoes_echostr() {
    let qs = start();
    let ok = sim().verify(qs.url.as_str()).await.expect("answered");
    assert!(matches!(ok.check(), Ok(Answer::Echo(_))), "{ok:?}");
    // Any echostr comes back byte for byte, percent-decoded.
    // Signed now: a timestamp outside the replay window is refused.
    let ts = common::now().to_string();
    let (ts, nonce) = (ts.as_str(), "1320562132");
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
    let bad = Simulator::new("othertoken")
        .verify(qs.url.as_str())
        .await
        .expect("answered");
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
    let sim = sim();
    for kw in ["帮助", "help"] {
        let help = send(&sim, &qs.url, SimPush::text(kw)).await;
        let help = help.text().expect("help text");
        for command in ["帮助", "图文", "位置", "COUNT", "SLOW", "PANIC"] {
            assert!(help.contains(command), "help lacks {command}: {help}");
        }
    }
    let before = now();
    let news = send(&sim, &qs.url, SimPush::text("图文")).await;
    let after = now();
    let Ok(Answer::Replied(received)) = &news.answer else {
        panic!("{news:?}")
    };
    assert!(
        matches!(&received.reply, Reply::News(articles) if articles.len() == 1),
        "{received:?}"
    );
    // The simulator checked To/From are swapped; CreateTime is now.
    assert_eq!(received.to_user, sim.user());
    assert!(
        (before..=after).contains(&received.create_time),
        "CreateTime {} is not within {before}..={after}",
        received.create_time
    );
    let echo = send(&sim, &qs.url, SimPush::text("你好 ]]> <b>&amp;")).await;
    assert_eq!(echo.text(), Some("收到:你好 ]]> <b>&amp;"));
    assert!(echo.body_text().contains("]]]]><![CDATA[>"), "{echo:?}");
}

#[actix_rt::test]
async fn location_is_remembered_per_user() {
    let qs = start();
    let (a, b) = (sim(), sim());
    assert_eq!(
        send(&a, &qs.url, SimPush::text("位置")).await.text(),
        Some("还没有收到你的位置")
    );
    let loc = SimPush::location_event(23.137466, 113.352425, 119.385040);
    assert!(send(&a, &qs.url, loc).await.is_no_reply());
    assert_eq!(
        send(&a, &qs.url, SimPush::text("位置")).await.text(),
        Some("你的位置: 23.137466,113.352425")
    );
    assert_eq!(
        send(&b, &qs.url, SimPush::text("位置")).await.text(),
        Some("还没有收到你的位置")
    );
}

#[actix_rt::test]
async fn image_is_sent_back() {
    let qs = start();
    let answer = send(&sim(), &qs.url, SimPush::image("MEDIA_42")).await;
    assert_eq!(answer.reply(), Some(&Reply::image("MEDIA_42")));
}

#[actix_rt::test]
async fn subscribe_scan_click_view_unsubscribe() {
    let qs = start();
    let sim = sim();
    let t = now();
    let at = |push: SimPush| push.create_time(t);
    let sub = send(&sim, &qs.url, at(SimPush::subscribe())).await;
    assert_eq!(sub.text(), Some("欢迎关注"));
    let qr = SimPush::subscribe_scene("123123").create_time(t + 1);
    assert_eq!(
        send(&sim, &qs.url, qr).await.text(),
        Some("欢迎关注，场景值 123123")
    );
    assert_eq!(
        send(&sim, &qs.url, at(SimPush::scan("SCENE_VALUE")))
            .await
            .text(),
        Some("扫码场景 SCENE_VALUE")
    );
    assert_eq!(
        send(&sim, &qs.url, at(SimPush::click("EVENTKEY")))
            .await
            .text(),
        Some("点击菜单 EVENTKEY")
    );
    for no_reply in [
        SimPush::view("www.qq.com"),
        SimPush::unsubscribe(),
        SimPush::event("kf_create_session").field("KfAccount", "kf@x"),
        SimPush::message("miniprogrampage").field("Title", "x"),
        SimPush::voice("v"),
        SimPush::voice_recognized("v", "你好"),
        SimPush::video("v", "t"),
        SimPush::shortvideo("v", "t"),
        SimPush::location(23.1, 113.3, 15, "广州"),
        SimPush::link("t", "d", "https://example.com"),
    ] {
        let what = no_reply.to_string();
        let answer = send(&sim, &qs.url, at(no_reply)).await;
        assert!(answer.is_no_reply(), "{what}: {answer:?}");
    }
}

#[actix_rt::test]
async fn count_and_retries_run_the_handler_once() {
    let qs = start();
    let sim = sim();
    let t = now();
    // Three identical pushes at once (WeChat's retries racing the first try).
    let push = sim.prepare(&SimPush::click("COUNT").create_time(t));
    let answers =
        futures_util::future::join_all((0..3).map(|_| sim.deliver(qs.url.as_str(), &push))).await;
    let answers: Vec<Response> = answers.into_iter().map(|a| a.expect("answered")).collect();
    assert!(
        answers.iter().all(|a| a.text() == Some("1")),
        "identical replies: {answers:?}"
    );
    // A later retry gets the stored reply.
    let retry = sim.deliver(qs.url.as_str(), &push).await.expect("answered");
    assert_eq!(retry.text(), Some("1"));
    // A new push is a new click.
    assert_eq!(
        send(&sim, &qs.url, SimPush::click("COUNT").create_time(t + 1))
            .await
            .text(),
        Some("2")
    );
}

#[actix_rt::test]
async fn different_events_in_one_second_are_both_handled() {
    let qs = start();
    let sim = sim();
    let t = now();
    let (a, b) = futures_util::join!(
        send(&sim, &qs.url, SimPush::click("COUNT").create_time(t)),
        send(&sim, &qs.url, SimPush::click("MENU_A").create_time(t)),
    );
    assert_eq!(a.text(), Some("1"));
    assert_eq!(b.text(), Some("点击菜单 MENU_A"));
    let sub = send(&sim, &qs.url, SimPush::subscribe().create_time(t)).await;
    assert_eq!(sub.text(), Some("欢迎关注"));
}

#[actix_rt::test]
async fn without_waiting_a_slow_handler_is_answered_at_the_deadline() {
    let deadline = Duration::from_millis(3000);
    let qs = Quickstart::start(&[("WECHAT_DEADLINE_MS", "3000"), ("WECHAT_WAIT_RETRIES", "0")]);
    let sim = sim();
    // SLOW sleeps 10 s, then replies 终于好了; only the deadline answers
    // `success`, and it cannot answer before the deadline.
    let slow = send(&sim, &qs.url, SimPush::click("SLOW"));
    let fast = send(&sim, &qs.url, SimPush::text("hi"));
    futures_util::pin_mut!(slow, fast);
    // The server keeps answering others meanwhile: the push sent after
    // SLOW is answered while SLOW's answer is still pending.
    let (fast, slow) = match futures_util::future::select(slow, fast).await {
        Either::Right((fast, slow)) => (fast, slow.await),
        Either::Left((slow, _)) => panic!("SLOW was answered before a plain text: {slow:?}"),
    };
    assert_eq!(fast.text(), Some("收到:hi"));
    assert!(slow.is_no_reply(), "{slow:?}");
    assert!(slow.elapsed >= deadline, "{:?}", slow.elapsed);
}

#[actix_rt::test]
async fn panicking_handler_answers_success_and_server_keeps_serving() {
    let qs = start();
    let sim = sim();
    for i in 0..3 {
        let p = send(
            &sim,
            &qs.url,
            SimPush::click("PANIC").create_time(now() + i),
        )
        .await;
        assert!(p.is_no_reply(), "{p:?}");
    }
    assert_eq!(
        send(&sim, &qs.url, SimPush::text("still there?"))
            .await
            .text(),
        Some("收到:still there?")
    );
}

#[actix_rt::test]
async fn bad_requests_get_clear_4xx() {
    let qs = start();
    let sim = sim();
    let good = sim.prepare(&SimPush::text("x"));
    let body = good.body().to_owned();
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
    let forged = Simulator::new("wrongtoken").prepare(&SimPush::text("x"));
    assert_eq!(
        post(&qs.url, forged.query(), body.clone()).await.status,
        403
    );
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
            .post(format!("{}?{}", qs.url, good.query()))
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
    let big = send(&sim, &qs.url, SimPush::text("长".repeat(1000))).await;
    assert_eq!(big.status, 413);
    // And a good push still works afterwards (the very request prepared above).
    let answer = sim.deliver(qs.url.as_str(), &good).await.expect("answered");
    assert_eq!(answer.text(), Some("收到:x"));
}

#[test]
fn a_bad_wechat_addr_is_named_and_stops_start_up() {
    let run = |addr: &str| {
        let out = Quickstart::run_to_exit(&[("WECHAT_ADDR", addr)]);
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(!stderr.contains("panicked"), "{addr}: {stderr}");
        assert!(stderr.contains("WECHAT_ADDR"), "{addr}: {stderr}");
        assert!(stderr.contains(addr), "{addr}: {stderr}");
        (out.status.code(), stderr)
    };
    for bad in ["not an address", "127.0.0.1", "127.0.0.1:99999"] {
        let (code, stderr) = run(bad);
        assert_eq!(code, Some(2), "{bad}: {stderr}");
    }
    // A good address that cannot be bound: taken by this test.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = taken.local_addr().expect("addr").to_string();
    let (code, stderr) = run(&addr);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("cannot listen on"), "{stderr}");
}

#[actix_rt::test]
async fn menu_pickers_are_answered_and_jobs_are_acknowledged() {
    let qs = start();
    let sim = sim();
    let scanned = send(
        &sim,
        &qs.url,
        SimPush::scancode(true, "SCAN_1", "qrcode", "https://example.com/订单/42"),
    )
    .await;
    assert_eq!(
        scanned.text(),
        Some("扫码结果: https://example.com/订单/42")
    );
    let picked = send(
        &sim,
        &qs.url,
        SimPush::location_select("LOC_1", 23.1, 113.3, 15, "广州塔", "广州塔"),
    )
    .await;
    assert_eq!(picked.text(), Some("你选择了: 广州塔"));
    for event in ["pic_sysphoto", "pic_photo_or_album", "pic_weixin"] {
        let photos = send(
            &sim,
            &qs.url,
            SimPush::pics(event, "PIC_1", ["a1", "b2", "c3"]),
        )
        .await;
        assert_eq!(photos.text(), Some("收到 3 张图片"), "{event}");
    }
    let one = send(
        &sim,
        &qs.url,
        SimPush::pics("pic_weixin", "PIC_1", ["only"]),
    )
    .await;
    assert_eq!(one.text(), Some("收到 1 张图片"));
    let job = send(
        &sim,
        &qs.url,
        SimPush::template_send_job_finish(200163836, "success"),
    )
    .await;
    assert!(job.is_no_reply(), "{job:?}");
    let verified = send(
        &sim,
        &qs.url,
        SimPush::event("qualification_verify_success"),
    )
    .await;
    assert!(verified.is_no_reply(), "{verified:?}");
}

// ---- several accounts: WECHAT_CONFIG ------------------------------------

/// The shipped example file, with its secrets given.
const ACCOUNT_SECRETS: [(&str, &str); 4] = [
    ("SHOP_TOKEN", "shoptoken"),
    ("NEWS_TOKEN", "newstoken"),
    ("STAFF_TOKEN", "stafftoken"),
    ("STAFF_AES_KEY", AES_KEY),
];

fn example_accounts_file() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/accounts.example.toml")
}

#[actix_rt::test]
async fn with_an_accounts_file_every_account_is_served_and_named() {
    // The example listens on 8080, which a test cannot count on: the same
    // accounts, on any port.
    let dir = tempfile::tempdir().expect("dir");
    let file = dir.path().join("accounts.toml");
    let text = std::fs::read_to_string(example_accounts_file()).expect("example");
    let text = text.replace("addr = \"127.0.0.1:8080\"", "addr = \"127.0.0.1:0\"");
    std::fs::write(&file, text).expect("write");
    let (qs, listening) = Quickstart::start_accounts(&file, &ACCOUNT_SECRETS, 3);
    let addr = qs.addr;
    assert_eq!(
        listening,
        [
            format!("{addr}/wechat/shop (plain mode, account shop)"),
            format!("{addr}/wx/news (plain mode, account news)"),
            format!("{addr}/wechat/staff (secure mode, account staff)"),
        ]
    );
    let account = |token: &str| Simulator::new(token);
    let staff = Simulator::new("stafftoken")
        .secure(AES_KEY, "wx2c2769f8efd9abc2")
        .expect("sim");
    for (name, path, sim) in [
        ("shop", "/wechat/shop", account("shoptoken")),
        ("news", "/wx/news", account("newstoken")),
        ("staff", "/wechat/staff", staff),
    ] {
        let url = format!("http://{addr}{path}");
        let help = sim.send(url.as_str(), &SimPush::text("帮助")).await;
        let help = help.expect("answered");
        let text = help.text().expect("a text");
        assert_eq!(text.lines().next(), Some(name), "{text}");
        assert!(text.contains("可用指令"), "{text}");
        let echo = sim.send(url.as_str(), &SimPush::text("x")).await;
        assert_eq!(echo.expect("answered").text(), Some("收到:x"));
        // Another account's token is refused here.
        let other = if name == "shop" {
            "newstoken"
        } else {
            "shoptoken"
        };
        let refused = Simulator::new(other)
            .send(url.as_str(), &SimPush::text("x"))
            .await
            .expect("answered");
        assert_eq!(refused.status.as_u16(), 403, "{name}");
    }
}

#[actix_rt::test]
async fn without_an_accounts_file_help_is_unchanged() {
    let qs = start();
    let help = sim().send(qs.url.as_str(), &SimPush::text("帮助")).await;
    let help = help.expect("answered");
    assert!(
        help.text().expect("a text").starts_with("可用指令"),
        "{help:?}"
    );
}

#[test]
fn a_bad_accounts_file_stops_start_up_naming_the_account_and_the_key() {
    let dir = tempfile::tempdir().expect("dir");
    let cases = [
        (
            "malformed",
            "[[accounts]]\nname = \"shop\"\ntoken = \"shoptoken\n",
            "line 3",
        ),
        (
            "unknown key",
            "[[accounts]]\nname = \"shop\"\ntoken = \"shoptoken\"\nappsecret = \"x\"\n",
            "account \"shop\": unknown field `appsecret`",
        ),
        (
            "duplicate path",
            "[[accounts]]\nname = \"shop\"\ntoken = \"shoptoken\"\npath = \"/wx\"\n\
             [[accounts]]\nname = \"news\"\ntoken = \"newstoken\"\npath = \"/wx\"\n",
            "account \"news\": path: \"/wx\" is also account \"shop\"'s path",
        ),
        (
            "missing env secret",
            "[[accounts]]\nname = \"staff\"\ntoken = \"stafftoken\"\nappid = \"wx1\"\n\
             aes_key = \"env:STAFF_AES_KEY_UNSET\"\n",
            "account \"staff\": aes_key: env:STAFF_AES_KEY_UNSET names the environment variable STAFF_AES_KEY_UNSET, which is not set",
        ),
    ];
    for (what, text, wanted) in cases {
        let file = dir.path().join(format!("{}.toml", what.replace(' ', "_")));
        std::fs::write(&file, text).expect("write");
        let out = Quickstart::run_with_only(&[("WECHAT_CONFIG", file.to_str().expect("utf-8"))]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{what}: {stderr}");
        assert!(!stderr.contains("panicked"), "{what}: {stderr}");
        assert!(stderr.contains(wanted), "{what}: {stderr}");
        assert!(
            stderr.contains(&*file.to_string_lossy()),
            "{what}: {stderr}"
        );
        assert_eq!(
            stderr.trim().lines().count(),
            1,
            "{what}: one message: {stderr}"
        );
    }
    // An account's identity in the environment beside the file.
    let file = dir.path().join("ok.toml");
    std::fs::write(
        &file,
        "[[accounts]]\nname = \"shop\"\ntoken = \"shoptoken\"\n",
    )
    .expect("write");
    let out = Quickstart::run_to_exit(&[("WECHAT_CONFIG", file.to_str().expect("utf-8"))]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("WECHAT_TOKEN: set beside WECHAT_CONFIG"),
        "{stderr}"
    );
}

#[actix_rt::test]
async fn with_an_open_platform_its_authorizers_are_answered_and_named() {
    use wechat_events::testing::{ComponentStandIn, COMPONENT_APPID, COMPONENT_SECRET};
    let wechat = ComponentStandIn::start();
    let dir = tempfile::tempdir().expect("dir");
    let file = dir.path().join("accounts.toml");
    std::fs::write(
        &file,
        format!(
            r#"
            [server]
            addr = "127.0.0.1:0"
            api_base = "{base}"

            [open_platform]
            appid = "{COMPONENT_APPID}"
            app_secret = "env:PLATFORM_SECRET"
            token = "platformtoken"
            aes_key = "env:PLATFORM_KEY"

            [[accounts]]
            name = "shop"
            token = "shoptoken"
            "#,
            base = wechat.base_url()
        ),
    )
    .expect("write");
    let (qs, listening) = Quickstart::start_accounts(
        &file,
        &[
            ("PLATFORM_SECRET", COMPONENT_SECRET),
            ("PLATFORM_KEY", AES_KEY),
        ],
        3,
    );
    let addr = qs.addr;
    assert_eq!(
        listening[1..],
        [
            format!("{addr}/wechat/open/auth (third-party platform {COMPONENT_APPID}: authorization events)"),
            format!("{addr}/wechat/open/$APPID$ (third-party platform {COMPONENT_APPID}: its accounts' pushes; $APPID$ in WeChat's console)"),
        ]
    );
    let platform = Simulator::new("platformtoken")
        .secure(AES_KEY, COMPONENT_APPID)
        .expect("sim");
    let auth = format!("http://{addr}/wechat/open/auth");
    let event = |info_type: &str, fields: String| {
        SimPush::raw(format!(
            "<xml><AppId>{COMPONENT_APPID}</AppId><CreateTime>{}</CreateTime>\
             <InfoType>{info_type}</InfoType>{fields}</xml>",
            now()
        ))
    };
    let ticket = wechat.new_ticket();
    let answer = platform
        .send(
            auth.as_str(),
            &event(
                "component_verify_ticket",
                format!("<ComponentVerifyTicket>{ticket}</ComponentVerifyTicket>"),
            ),
        )
        .await
        .expect("answered");
    assert_eq!(answer.body_text(), "success");
    let code = wechat.authorization_code("wxclient");
    let answer = platform
        .send(
            auth.as_str(),
            &event(
                "authorized",
                format!("<AuthorizerAppid>wxclient</AuthorizerAppid><AuthorizationCode>{code}</AuthorizationCode>"),
            ),
        )
        .await
        .expect("answered");
    assert_eq!(answer.body_text(), "success");
    let url = format!("http://{addr}/wechat/open/wxclient");
    let help = platform
        .clone()
        .account("gh_wxclient")
        .send(url.as_str(), &SimPush::text("帮助"))
        .await
        .expect("answered");
    let text = help.text().expect("a text");
    assert_eq!(text.lines().next(), Some("wxclient"), "{text}");
    // The account beside it is named as before.
    let shop = Simulator::new("shoptoken")
        .send(
            format!("http://{addr}/wechat/shop").as_str(),
            &SimPush::text("帮助"),
        )
        .await
        .expect("answered");
    assert_eq!(shop.text().and_then(|t| t.lines().next()), Some("shop"));
}

/// `WECHAT_INSPECTOR=1` mounts the inspector at `/_inspector` and prints
/// its URL; its send form reaches the quickstart's handlers in process.
#[actix_rt::test]
async fn the_inspector_is_mounted_when_asked() {
    let (qs, lines) = Quickstart::start_lines(&[("WECHAT_INSPECTOR", "1")], 2);
    assert_eq!(lines[1], format!("{}/_inspector (the inspector)", qs.addr));
    let page = request(Method::GET, &format!("http://{}/_inspector", qs.addr)).await;
    assert_eq!(page.status, 200, "{}", page.body);
    let sent = client()
        .post(format!("http://{}/_inspector/send", qs.addr))
        .insert_header(("Content-Type", "application/json"))
        .send_body(r#"{"kind": "text", "fields": {"content": "帮助"}}"#)
        .await
        .expect("request")
        .body()
        .await
        .expect("body");
    let sent = String::from_utf8_lossy(&sent);
    assert!(
        sent.contains(r#""status":200"#) && sent.contains("可用指令"),
        "{sent}"
    );
    // Not asked, not there.
    let qs = Quickstart::start(&[]);
    let page = request(Method::GET, &format!("http://{}/_inspector", qs.addr)).await;
    assert_eq!(page.status, 404);
}
