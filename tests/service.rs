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
    let u = format!("o_{}", unique());
    let body = click_xml(&u, now(), "K");
    let query = signed_query(TOKEN, &u);

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

    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        runs.0.load(Ordering::SeqCst),
        1,
        "the handler finished despite the hang-up"
    );
    // WeChat's retry gets the stored reply; the handler does not run again.
    let retry = post(&server.url, &query, body).await;
    assert_eq!(retry.text(), "done K");
    assert!(retry.elapsed < Duration::from_millis(200));
    assert_eq!(runs.0.load(Ordering::SeqCst), 1);
    server.stop().await;
}

#[actix_rt::test]
async fn retry_during_the_run_waits_for_it() {
    let runs = web::Data::new(Runs::default());
    let service = WechatService::new(config(2000), Router::new().on(slow_counted)).unwrap();
    let server = Server::start(service, with_runs(runs.clone()));
    let u = format!("o_{}", unique());
    let body = click_xml(&u, now(), "W");
    let query = signed_query(TOKEN, &u);
    let first = post(&server.url, &query, body.clone());
    let retry = async {
        tokio::time::sleep(Duration::from_millis(100)).await;
        post(&server.url, &query, body.clone()).await
    };
    let (first, retry) = futures_util::join!(first, retry);
    assert_eq!(first.text(), "done W");
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
    let u = format!("o_{}", unique());
    let answer = push(&server.url, TOKEN, &u, click_xml(&u, now(), "L")).await;
    assert!(answer.is_success(), "{answer:?}");
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
    assert_eq!(late.push.from_user, u);
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
    let u = format!("o_{}", unique());
    let t = now();
    let (a, b) = futures_util::join!(
        push(&server.url, TOKEN, &u, click_xml(&u, t, "A")),
        push(&server.url, TOKEN, &u, click_xml(&u, t, "B")),
    );
    assert!(a.is_success() && b.is_success());
    tokio::time::sleep(Duration::from_millis(900)).await;
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
    let u = format!("o_{}", unique());
    assert!(push(&server.url, TOKEN, &u, text_xml(&u, "fail"))
        .await
        .is_success());
    assert_eq!(
        push(&server.url, TOKEN, &u, text_xml(&u, "帮助"))
            .await
            .text(),
        "static help"
    );
    assert_eq!(
        push(&server.url, TOKEN, &u, text_xml(&u, "天气 上海"))
            .await
            .text(),
        format!("上海 {u}")
    );
    let news = push(&server.url, TOKEN, &u, text_xml(&u, "news"))
        .await
        .fields();
    assert_eq!(
        news.text("ArticleCount"),
        Some("1"),
        "one article when answering a message"
    );
    // A missing web::Data<T>: logged, answered success, handler not run.
    assert!(push(&server.url, TOKEN, &u, click_xml(&u, now(), "X"))
        .await
        .is_success());
    // Option: None is no reply.
    assert!(push(
        &server.url,
        TOKEN,
        &u,
        event_xml(&u, now(), "subscribe", "")
    )
    .await
    .is_success());
    let qr = event_xml(&u, now(), "subscribe", "<EventKey>qrscene_9</EventKey>");
    assert_eq!(push(&server.url, TOKEN, &u, qr).await.text(), "scene 9");
    assert_eq!(
        push(&server.url, TOKEN, &u, text_xml(&u, "other"))
            .await
            .text(),
        "fallback text"
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
    let u = format!("o_{}", unique());
    assert_eq!(
        push(&server.url, TOKEN, &u, text_xml(&u, "x")).await.text(),
        "fallback text"
    );
    let elsewhere = push(
        &format!("http://{}/wechat", server.addr),
        TOKEN,
        &u,
        text_xml(&u, "x"),
    )
    .await;
    assert_eq!(elsewhere.status, 404);
    server.stop().await;
}
