//! What one push costs the service, step by step: one figure per step of
//! the corridor (signature, query, parse, dedup, route, render, crypto)
//! and the whole in-process request path.
//!
//! ```text
//! cargo bench -p wechat-events --bench per_message             # measure
//! cargo bench -p wechat-events --bench per_message -- parse    # only the parse figures
//! cargo test  -p wechat-events --bench per_message             # run each once (CI)
//! ```
//!
//! BENCHMARKS.md records the figures and the machine they were taken on.

use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use actix_web::{test, App};
use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use wechat_events::crypto::{self, AesKey};
use wechat_events::dedup::{Claim, DedupStore, MemoryStore, Outcome, Status};
use wechat_events::push::parse;
use wechat_events::query::{Query, QueryRef};
use wechat_events::router::Routes;
use wechat_events::signature;
use wechat_events::{
    ClickEvent, Config, Reply, Route, Router, SubscribeEvent, TextMessage, WechatService,
};

const TOKEN: &str = "devtoken";
/// The secure-mode test key and appid of the official samples.
const AES_KEY: &str = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG";
const APPID: &str = "wxb11529c136998cb6";

const SEEDS: [(&str, &str); 6] = [
    (
        "subscribe",
        include_str!("../tests/fixtures/seed-subscribe.xml"),
    ),
    (
        "unsubscribe",
        "<xml>\n<ToUserName><![CDATA[toUser]]></ToUserName>\n\
         <FromUserName><![CDATA[FromUser]]></FromUserName>\n<CreateTime>123456789</CreateTime>\n\
         <MsgType><![CDATA[event]]></MsgType>\n<Event><![CDATA[unsubscribe]]></Event>\n</xml>",
    ),
    ("scan", include_str!("../tests/fixtures/seed-scan.xml")),
    (
        "location",
        include_str!("../tests/fixtures/seed-location.xml"),
    ),
    ("click", include_str!("../tests/fixtures/seed-click.xml")),
    ("view", include_str!("../tests/fixtures/seed-view.xml")),
];

/// A text message as WeChat sends it (the official sample's shape).
fn text_push(content: &str, msg_id: u64) -> String {
    format!(
        "<xml><ToUserName><![CDATA[gh_10f6c3c3ac5a]]></ToUserName>\
         <FromUserName><![CDATA[oyORnuP8q7ou2gfYjqLzSIWZf0rs]]></FromUserName>\
         <CreateTime>{}</CreateTime><MsgType><![CDATA[text]]></MsgType>\
         <Content><![CDATA[{content}]]></Content><MsgId>{msg_id}</MsgId></xml>",
        now()
    )
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

async fn echo(msg: TextMessage) -> String {
    format!("收到:{}", msg.content)
}
async fn help(_: TextMessage) -> &'static str {
    "help"
}
async fn weather(_: TextMessage) -> &'static str {
    "晴"
}
async fn human(_: TextMessage) -> Reply {
    Reply::transfer_customer_service()
}
async fn welcome(_: SubscribeEvent) -> &'static str {
    "欢迎关注"
}
async fn count(_: ClickEvent) -> &'static str {
    "1"
}
async fn menu(_: ClickEvent) -> &'static str {
    "menu"
}

/// A router shaped like the quickstart's: keywords, `contains`, a regex,
/// then the catch-all echo, plus a few events.
fn router() -> Router {
    Router::new()
        .route(Route::new().keywords(["帮助", "help"]), help)
        .route(Route::new().contains("人工"), human)
        .route(Route::new().regex(r"^天气\s*(?P<city>\S+)$"), weather)
        .on(echo)
        .on(welcome)
        .click("COUNT", count)
        .on(menu)
}

fn routes() -> Routes {
    router().build().expect("routes")
}

fn pure_steps(c: &mut Criterion) {
    let timestamp = now().to_string();
    let nonce = "1320562132";
    let sig = signature::sign(&[TOKEN, &timestamp, nonce]);
    c.bench_function("signature/verify", |b| {
        b.iter(|| signature::verify(black_box(&sig), &[TOKEN, black_box(&timestamp), nonce]))
    });
    let query = format!(
        "signature={sig}&timestamp={timestamp}&nonce={nonce}&openid=oyORnuP8q7ou2gfYjqLzSIWZf0rs"
    );
    c.bench_function("query/parse", |b| {
        b.iter(|| Query::parse(black_box(&query)).expect("query"))
    });
    // What the service does per push: the borrowing parse, then the check.
    c.bench_function("query/parse+verify", |b| {
        b.iter(|| {
            QueryRef::parse(black_box(&query))
                .expect("query")
                .verify(TOKEN)
        })
    });

    for (name, xml) in SEEDS {
        c.bench_function(&format!("parse/{name}"), |b| {
            b.iter(|| parse(black_box(xml.as_bytes())).expect("parse"))
        });
    }
    let text = text_push("hi", 1234567890123456);
    c.bench_function("parse/text", |b| {
        b.iter(|| parse(black_box(text.as_bytes())).expect("parse"))
    });

    let routes = routes();
    let text_msg = parse(text.as_bytes()).expect("parse");
    let click = parse(SEEDS[4].1.as_bytes()).expect("parse");
    // The echo is the last text route tried: the keyword, contains and
    // regex routes are checked first.
    assert!(routes
        .handler_for(&text_msg)
        .expect("route")
        .contains("echo"));
    c.bench_function("route/text to echo", |b| {
        b.iter(|| routes.handler_for(black_box(&text_msg)))
    });
    c.bench_function("route/click", |b| {
        b.iter(|| routes.handler_for(black_box(&click)))
    });

    let reply = Reply::text("收到:hi");
    c.bench_function("render/text", |b| {
        b.iter(|| {
            reply
                .render(
                    black_box(&text_msg.from_user),
                    &text_msg.to_user,
                    1700000000,
                )
                .expect("reply")
        })
    });
    // The issue's per-message target: parse + route + render ≤ 2 µs.
    c.bench_function("text push/parse+route+render", |b| {
        b.iter(|| {
            let push = parse(black_box(text.as_bytes())).expect("parse");
            black_box(routes.handler_for(&push));
            Reply::text("收到:hi")
                .render(&push.from_user, &push.to_user, 1700000000)
                .expect("reply")
        })
    });

    let key: AesKey = AES_KEY.parse().expect("key");
    let encrypted = crypto::encrypt(&key, APPID, &text);
    let reply_xml = reply
        .render(&text_msg.from_user, &text_msg.to_user, 1700000000)
        .expect("reply");
    c.bench_function("crypto/decrypt text push", |b| {
        b.iter(|| crypto::decrypt(&key, black_box(&encrypted), Some(APPID)).expect("decrypt"))
    });
    c.bench_function("crypto/encrypt text reply", |b| {
        b.iter(|| crypto::encrypt(&key, APPID, black_box(&reply_xml)))
    });
}

fn dedup(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let store = MemoryStore::new(100_000, Duration::from_secs(30));
    let next = AtomicU64::new(0);
    let key = |n: u64| format!("m|gh_10f6c3c3ac5a|oyORnuP8q7ou2gfYjqLzSIWZf0rs|{n}");
    let replied = Outcome {
        reply: Some("<xml>...</xml>".into()),
        handler: Some("echo".into()),
        status: Status::Replied,
    };
    // A miss: a fresh key is claimed and its outcome stored.
    c.bench_function("dedup/claim miss", |b| {
        b.iter(|| {
            let k = key(next.fetch_add(1, Ordering::Relaxed));
            rt.block_on(async {
                match store.claim(k).await {
                    Claim::First(ticket) => {
                        let (complete, _outcome) = ticket.into_parts();
                        complete(replied.clone());
                    }
                    Claim::Duplicate(_) => panic!("a fresh key was a duplicate"),
                }
            })
        })
    });
    // A hit: a retry of a push whose outcome is stored.
    let hit = key(u64::MAX);
    rt.block_on(async {
        let Claim::First(ticket) = store.claim(hit.clone()).await else {
            panic!("first claim")
        };
        let (complete, outcome) = ticket.into_parts();
        complete(replied.clone());
        outcome.await;
        store.run_pending_tasks().await;
    });
    c.bench_function("dedup/claim hit", |b| {
        b.iter(|| {
            rt.block_on(async {
                match store.claim(black_box(hit.clone())).await {
                    Claim::Duplicate(outcome) => outcome.await,
                    Claim::First(_) => panic!("a stored key was claimed anew"),
                }
            })
        })
    });
}

/// The whole in-process request path: actix routing, query, signature,
/// replay checks, body, (decrypt,) parse, dedup, dispatch, render,
/// (encrypt,) response — everything but the socket.
fn request_path(c: &mut Criterion) {
    let system = actix_rt::System::new();
    let next = AtomicU64::new(1);
    // (secure, counted into Prometheus metrics)
    let cases = [(false, false), (true, false)];
    #[cfg(feature = "metrics")]
    let cases = [cases[0], cases[1], (false, true)];
    for (secure, counted) in cases {
        let mut config = Config::builder(TOKEN);
        if secure {
            config = config.aes_key(AES_KEY).appid(APPID);
        }
        let config = config.build().expect("config");
        #[allow(unused_mut)]
        let mut builder = WechatService::builder(config).only(router());
        #[cfg(feature = "metrics")]
        if counted {
            builder = builder.metrics(&wechat_events::metrics::Metrics::new());
        }
        let service = builder.build().expect("service");
        let app = system.block_on(test::init_service(App::new().service(service)));
        let key: AesKey = AES_KEY.parse().expect("key");
        // A fresh nonce and MsgId for every request, as WeChat sends them;
        // signing (and encrypting) happens outside the timed part.
        let request = || {
            let n = next.fetch_add(1, Ordering::Relaxed);
            let timestamp = now().to_string();
            let nonce = n.to_string();
            let xml = text_push("hi", n);
            let sig = signature::sign(&[TOKEN, &timestamp, &nonce]);
            let mut uri = format!("/wechat?signature={sig}&timestamp={timestamp}&nonce={nonce}&openid=oyORnuP8q7ou2gfYjqLzSIWZf0rs");
            let body = if secure {
                let encrypt = crypto::encrypt(&key, APPID, &xml);
                let ms = crypto::msg_signature(TOKEN, &timestamp, &nonce, &encrypt);
                uri.push_str(&format!("&encrypt_type=aes&msg_signature={ms}"));
                format!("<xml><ToUserName><![CDATA[gh_10f6c3c3ac5a]]></ToUserName><Encrypt><![CDATA[{encrypt}]]></Encrypt></xml>")
            } else {
                xml
            };
            test::TestRequest::post()
                .uri(&uri)
                .insert_header(("content-type", "text/xml"))
                .set_payload(body)
                .to_request()
        };
        // One checked request first: the echo answers (encrypted in secure mode).
        let body = system.block_on(async {
            let resp = test::call_service(&app, request()).await;
            assert!(resp.status().is_success(), "{}", resp.status());
            test::read_body(resp).await
        });
        let body = std::str::from_utf8(&body).expect("utf-8");
        assert!(
            body.contains(if secure { "<Encrypt>" } else { "收到:hi" }),
            "{body}"
        );
        let name = match (secure, counted) {
            (true, _) => "request/secure text echo",
            (false, false) => "request/plaintext text echo",
            (false, true) => "request/plaintext text echo, metrics on",
        };
        c.bench_function(name, |b| {
            b.iter_batched(
                request,
                |req| {
                    system.block_on(async {
                        let resp = test::call_service(&app, req).await;
                        debug_assert!(resp.status().is_success());
                        resp
                    })
                },
                BatchSize::SmallInput,
            )
        });
    }
}

criterion_group! {
    name = per_message;
    config = Criterion::default()
        .measurement_time(Duration::from_secs(2))
        .warm_up_time(Duration::from_millis(500));
    targets = pure_steps, dedup, request_path
}
criterion_main!(per_message);
