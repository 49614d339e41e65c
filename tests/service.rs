//! The service's guarantees with handlers written for the test: one run
//! per push whatever the connection does, the deadline and its late-reply
//! hook, the background bound, errors and extractors. Every request
//! crosses real HTTP to a server bound on 127.0.0.1.

mod common;

use std::io::Write;
use std::net::TcpStream;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::web;
use common::*;
use wechat_events::testing::SimPush;
use wechat_events::{
    Article, Captures, ClickEvent, Config, Context, LateReply, Push, Reply, Router, SubscribeEvent,
    TextMessage, WechatService,
};

#[derive(Default)]
struct Runs(AtomicUsize);

fn config(deadline_ms: u64) -> Config {
    Config::builder(TOKEN)
        .deadline(Duration::from_millis(deadline_ms))
        .build()
        .expect("config")
}

fn with_runs(runs: web::Data<Runs>) -> impl Fn(&mut web::ServiceConfig) + Send + Clone + 'static {
    move |cfg: &mut web::ServiceConfig| {
        cfg.app_data(runs.clone());
    }
}

async fn slow_counted(click: ClickEvent, runs: web::Data<Runs>) -> String {
    tokio::time::sleep(Duration::from_millis(300)).await;
    runs.0.fetch_add(1, Ordering::SeqCst);
    format!("done {}", click.key)
}

#[actix_rt::test]
async fn dropped_connection_neither_cancels_nor_reruns_the_handler() {
    let runs = web::Data::new(Runs::default());
    let service = WechatService::new(config(2000), Router::new().on(slow_counted)).unwrap();
    let server = Server::start(service, with_runs(runs.clone()));
    let sim = sim();
    let push = sim.prepare(&SimPush::click("K"));
    let (query, body) = (push.query(), push.body());

    // Send the push over a raw socket and hang up while the handler runs.
    let mut stream = TcpStream::connect(server.addr).unwrap();
    write!(
        stream,
        "POST /wechat?{query} HTTP/1.1\r\nHost: test\r\nContent-Type: text/xml\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    stream.flush().unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    drop(stream);

    assert!(
        wait_until(Duration::from_secs(3), || runs.0.load(Ordering::SeqCst)
            == 1)
        .await,
        "the handler finished despite the hang-up"
    );
    // WeChat's retry gets the stored reply; the handler does not run again.
    let retry = sim
        .deliver(server.url.as_str(), &push)
        .await
        .expect("answered");
    assert_eq!(retry.text(), Some("done K"));
    assert!(
        retry.elapsed < Duration::from_secs(1),
        "{:?}",
        retry.elapsed
    );
    assert_eq!(runs.0.load(Ordering::SeqCst), 1);
    server.stop().await;
}

#[actix_rt::test]
async fn retry_during_the_run_waits_for_it() {
    let runs = web::Data::new(Runs::default());
    let service = WechatService::new(config(2000), Router::new().on(slow_counted)).unwrap();
    let server = Server::start(service, with_runs(runs.clone()));
    let sim = sim();
    let push = sim.prepare(&SimPush::click("W"));
    let first = sim.deliver(server.url.as_str(), &push);
    let retry = async {
        tokio::time::sleep(Duration::from_millis(100)).await;
        sim.deliver(server.url.as_str(), &push).await
    };
    let (first, retry) = futures_util::join!(first, retry);
    let (first, retry) = (first.expect("answered"), retry.expect("answered"));
    assert_eq!(first.text(), Some("done W"));
    assert_eq!(retry.body, first.body, "identical replies");
    assert_eq!(runs.0.load(Ordering::SeqCst), 1);
    server.stop().await;
}

async fn late(_: ClickEvent) -> &'static str {
    tokio::time::sleep(Duration::from_millis(600)).await;
    "too late"
}

#[actix_rt::test]
async fn late_reply_reaches_the_hook() {
    let (tx, rx) = std::sync::mpsc::channel::<LateReply>();
    let tx = Mutex::new(tx);
    let service = WechatService::builder(config(300))
        .router(Router::new().on(late))
        .on_late_reply(move |l| {
            let _ = tx.lock().unwrap().send(l);
        })
        .build()
        .unwrap();
    let server = Server::start(service, |_| {});
    let sim = sim();
    let answer = send(&sim, &server.url, SimPush::click("L")).await;
    assert!(answer.is_no_reply(), "{answer:?}");
    assert!(
        answer.elapsed < Duration::from_millis(300 + 200),
        "{:?}",
        answer.elapsed
    );
    let late = tokio::task::spawn_blocking(move || rx.recv_timeout(Duration::from_secs(3)))
        .await
        .unwrap()
        .expect("late reply reaches the hook");
    assert_eq!(late.reply, Reply::text("too late"));
    assert!(late.handler.ends_with("service::late"), "{}", late.handler);
    assert_eq!(late.push.from_user, sim.user());
    assert!(late.elapsed >= Duration::from_millis(600));
    server.stop().await;
}

#[actix_rt::test]
async fn background_handlers_are_bounded() {
    let hooked = Arc::new(AtomicUsize::new(0));
    let counter = hooked.clone();
    let service = WechatService::builder(
        Config::builder(TOKEN)
            .deadline(Duration::from_millis(100))
            .max_background(1)
            .build()
            .unwrap(),
    )
    .router(Router::new().on(late))
    .on_late_reply(move |_| {
        counter.fetch_add(1, Ordering::SeqCst);
    })
    .build()
    .unwrap();
    let server = Server::start(service, |_| {});
    let sim = sim();
    let (a, b) = futures_util::join!(
        send(&sim, &server.url, SimPush::click("A")),
        send(&sim, &server.url, SimPush::click("B")),
    );
    assert!(a.is_no_reply() && b.is_no_reply());
    assert!(
        wait_until(Duration::from_secs(3), || hooked.load(Ordering::SeqCst)
            >= 1)
        .await
    );
    // Both handlers would have finished by now; only the one with a
    // background slot did.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        hooked.load(Ordering::SeqCst),
        1,
        "the second overdue handler was cancelled"
    );
    server.stop().await;
}

async fn fails(_: TextMessage) -> Result<String, std::io::Error> {
    Err(std::io::Error::other("database down"))
}
async fn needs_missing_data(_: ClickEvent, runs: web::Data<Runs>) -> String {
    runs.0.fetch_add(1, Ordering::SeqCst);
    "ran".into()
}
async fn maybe(sub: SubscribeEvent) -> Option<String> {
    sub.scene.map(|s| format!("scene {s}"))
}
async fn weather(_: TextMessage, caps: Captures, cx: Context) -> String {
    format!("{} {}", caps.name("city").unwrap_or("?"), cx.openid())
}
async fn news_for_message(_: TextMessage) -> Reply {
    Reply::news((0..3).map(|i| Article::new(format!("a{i}"), "http://x")))
}
async fn fallback(push: Push) -> String {
    format!("fallback {}", push.msg_type)
}

#[actix_rt::test]
async fn return_types_errors_extractors_and_fallback() {
    let router = Router::new()
        .keyword("fail", fails)
        .keyword_reply("帮助", Reply::text("static help"))
        .regex(r"^天气\s*(?P<city>\S+)$", weather)
        .keyword("news", news_for_message)
        .on(needs_missing_data)
        .on(maybe)
        .fallback(fallback);
    let service = WechatService::new(config(1000), router).unwrap();
    let server = Server::start(service, |_| {});
    let sim = sim();
    let ask = |push: SimPush| send(&sim, &server.url, push);
    assert!(ask(SimPush::text("fail")).await.is_no_reply());
    assert_eq!(ask(SimPush::text("帮助")).await.text(), Some("static help"));
    assert_eq!(
        ask(SimPush::text("天气 上海")).await.text(),
        Some(format!("上海 {}", sim.user()).as_str())
    );
    let news = ask(SimPush::text("news")).await;
    assert!(
        matches!(news.reply(), Some(Reply::News(articles)) if articles.len() == 1),
        "one article when answering a message: {news:?}"
    );
    // A missing web::Data<T>: logged, answered success, handler not run.
    assert!(ask(SimPush::click("X")).await.is_no_reply());
    // Option: None is no reply.
    assert!(ask(SimPush::subscribe()).await.is_no_reply());
    let qr = SimPush::subscribe().field("EventKey", "qrscene_9");
    assert_eq!(ask(qr).await.text(), Some("scene 9"));
    assert_eq!(
        ask(SimPush::text("other")).await.text(),
        Some("fallback text")
    );
    server.stop().await;
}

#[actix_rt::test]
async fn custom_path_and_only_that_path() {
    let service = WechatService::new(
        Config::builder(TOKEN).path("/hooks/wx").build().unwrap(),
        Router::new().fallback(fallback),
    )
    .unwrap();
    let server = Server::start(service, |_| {});
    let sim = sim();
    assert_eq!(
        send(&sim, &server.url, SimPush::text("x")).await.text(),
        Some("fallback text")
    );
    let elsewhere = send(
        &sim,
        &format!("http://{}/wechat", server.addr),
        SimPush::text("x"),
    )
    .await;
    assert_eq!(elsewhere.status, 404);
    server.stop().await;
}

#[actix_rt::test]
async fn a_body_that_never_finishes_is_answered_408_without_a_handler_run() {
    let runs = web::Data::new(Runs::default());
    let service = WechatService::new(config(300), Router::new().on(slow_counted)).unwrap();
    let server = Server::start(service, with_runs(runs.clone()));
    let push = sim().prepare(&SimPush::click("LORIS"));
    let (query, body) = (push.query().to_owned(), push.body().to_owned());
    let addr = server.addr;
    // Announce the whole body, send half of it, then go quiet.
    let started = std::time::Instant::now();
    let response = tokio::task::spawn_blocking(move || {
        use std::io::Read;
        let mut stream = TcpStream::connect(addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        write!(
            stream,
            "POST /wechat?{query} HTTP/1.1\r\nHost: test\r\nContent-Length: {}\r\n\r\n{}",
            body.len(),
            &body[..body.len() / 2]
        )
        .unwrap();
        let mut buf = [0u8; 512];
        let n = stream.read(&mut buf).unwrap_or(0);
        String::from_utf8_lossy(&buf[..n]).into_owned()
    })
    .await
    .unwrap();
    assert!(response.starts_with("HTTP/1.1 408"), "{response:?}");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(runs.0.load(Ordering::SeqCst), 0);
    server.stop().await;
}

#[actix_rt::test]
async fn method_not_allowed_names_the_allowed_ones() {
    let service = WechatService::new(config(1000), Router::new()).unwrap();
    let server = Server::start(service, |_| {});
    let mut resp = awc::Client::new()
        .request(awc::http::Method::PUT, server.url.as_str())
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status().as_u16(), 405);
    assert_eq!(
        resp.headers().get("allow").and_then(|v| v.to_str().ok()),
        Some("GET, POST")
    );
    let body = resp.body().await.expect("body");
    assert!(String::from_utf8_lossy(&body).contains("method not allowed"));
    server.stop().await;
}

static EXTRACTIONS: AtomicUsize = AtomicUsize::new(0);

/// An extractor with a side effect (think: loading a session).
struct Session;

impl wechat_events::FromPush for Session {
    async fn from_push(parts: &wechat_events::Parts) -> Result<Self, wechat_events::ExtractError> {
        EXTRACTIONS.fetch_add(1, Ordering::SeqCst);
        if parts.context().openid() == "o_panicky" {
            panic!("session store exploded");
        }
        Ok(Session)
    }
}

async fn with_session(click: ClickEvent, _: Session) -> String {
    tokio::time::sleep(Duration::from_millis(100)).await;
    format!("session {}", click.key)
}

#[actix_rt::test]
async fn extractors_run_once_per_push_and_their_panics_are_contained() {
    let service = WechatService::new(config(2000), Router::new().on(with_session)).unwrap();
    let server = Server::start(service, |_| {});
    let sim = sim();
    let push = sim.prepare(&SimPush::click("S"));
    let tries =
        futures_util::future::join_all((0..3).map(|_| sim.deliver(server.url.as_str(), &push)))
            .await;
    for answer in tries {
        assert_eq!(answer.expect("answered").text(), Some("session S"));
    }
    assert_eq!(
        EXTRACTIONS.load(Ordering::SeqCst),
        1,
        "retries do not re-run extractors"
    );

    let panicky = common::sim().openid("o_panicky");
    let answer = panicky
        .send(&server.url, &SimPush::click("S"))
        .await
        .expect("answered");
    assert!(answer.is_no_reply(), "{answer:?}");
    // The worker survived: the next push is served.
    let again = sim
        .send(&server.url, &SimPush::click("T"))
        .await
        .expect("answered");
    assert_eq!(again.text(), Some("session T"));
    server.stop().await;
}
