//! `/metrics` after a scripted set of pushes: each counter and each
//! histogram's count, exactly. The services count into a registry of
//! their own, so the other tests of this binary, running in parallel,
//! cannot move these figures.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use wechat_events::crypto::msg_signature;
use wechat_events::metrics::Metrics;
use wechat_events::signature::sign;
use wechat_events::testing::{SimPush, Simulator, TestServer};
use wechat_events::{Config, LateReply, Mode, Router, TextMessage, WechatService};

use crate::common::*;

async fn hello(_: TextMessage) -> &'static str {
    "hello"
}

async fn boom(_: TextMessage) -> &'static str {
    panic!("boom, on purpose")
}

async fn clicked(_: wechat_events::ClickEvent) -> &'static str {
    "clicked"
}

/// Waits until the test opens its gate.
async fn slow(_: TextMessage, gate: actix_web::web::Data<watch::Receiver<bool>>) -> &'static str {
    let mut open = (**gate).clone();
    let _ = open.wait_for(|open| *open).await;
    "done at last"
}

/// The metrics' text as `series → value` (a series: name and labels).
fn samples(text: &str) -> std::collections::HashMap<String, f64> {
    (text.lines())
        .filter(|line| !line.starts_with('#') && !line.is_empty())
        .filter_map(|line| {
            let (series, value) = line.rsplit_once(' ')?;
            Some((series.to_owned(), value.parse().ok()?))
        })
        .collect()
}

/// The value of the series whose name is `name` and whose labels include
/// every one of `labels` (`account="plain"`, ...); 0 when none matches,
/// a panic when several do.
fn value(samples: &std::collections::HashMap<String, f64>, name: &str, labels: &[&str]) -> f64 {
    let found: Vec<_> = (samples.iter())
        .filter(|(series, _)| {
            series.split('{').next() == Some(name) && labels.iter().all(|l| series.contains(l))
        })
        .collect();
    assert!(found.len() <= 1, "{name} {labels:?} matches {found:?}");
    found.first().map_or(0.0, |(_, v)| **v)
}

/// A request WeChat never sends: headers promising a body that never
/// comes (the service gives up at its deadline).
fn stalled_body(addr: std::net::SocketAddr, query: &str) -> String {
    let mut stream = TcpStream::connect(addr).expect("connect");
    let head = format!(
        "POST /wechat?{query} HTTP/1.1\r\nHost: x\r\nContent-Type: text/xml\r\nContent-Length: 100\r\n\r\n<xml>"
    );
    stream.write_all(head.as_bytes()).expect("write");
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .expect("timeout");
    let mut answer = [0u8; 64];
    let n = stream.read(&mut answer).expect("an answer");
    String::from_utf8_lossy(&answer[..n]).into_owned()
}

fn signed(timestamp: i64, nonce: &str) -> String {
    let signature = sign(&[TOKEN, &timestamp.to_string(), nonce]);
    format!("signature={signature}&timestamp={timestamp}&nonce={nonce}")
}

#[actix_rt::test]
async fn every_counter_and_histogram_counts_exactly_what_happened() {
    let metrics = Metrics::new();
    let (late_tx, mut late) = mpsc::unbounded_channel::<LateReply>();
    let (open, gate) = watch::channel(false);
    let plain = Config::builder(TOKEN)
        .name("plain")
        .path("/wechat")
        .deadline(Duration::from_millis(300))
        .wait_retries(0)
        .max_body_bytes(2048)
        .slow_tip("wait for it")
        .build()
        .unwrap();
    let plain = WechatService::builder(plain)
        .only(
            Router::new()
                .keyword("hi", hello)
                .keyword("boom", boom)
                .keyword("slow", slow)
                .click("K", clicked),
        )
        .on_late_reply(move |late| {
            let _ = late_tx.send(late);
        })
        .metrics(&metrics)
        .build()
        .unwrap();
    let secure = Config::builder(TOKEN)
        .name("secure")
        .path("/secure")
        .mode(Mode::Secure)
        .aes_key(AES_KEY)
        .appid(APPID)
        .build()
        .unwrap();
    let secure = WechatService::builder(secure)
        .only(Router::new().keyword("hi", hello))
        .metrics(&metrics)
        .build()
        .unwrap();
    let scrape = metrics.clone();
    let server = TestServer::builder(plain)
        .app_data(actix_web::web::Data::new(gate))
        .configure(move |cfg| {
            cfg.service(secure.clone());
            cfg.service(scrape.service("/metrics"));
        })
        .start();
    let url = server.url().to_owned();
    let secure_url = server.url_for("/secure");

    // Replied; a de-duplicated retry; a panic.
    let sim = sim();
    assert_eq!(
        send(&sim, &server, SimPush::text("hi")).await.text(),
        Some("hello")
    );
    let click = sim.prepare(&SimPush::click("K"));
    for _ in 0..2 {
        let answer = sim.deliver(&server, &click).await.expect("answer");
        assert_eq!(answer.text(), Some("clicked"));
    }
    assert!(send(&sim, &server, SimPush::text("boom"))
        .await
        .is_no_reply());

    // Slow: the tip at the deadline, then the reply late, through the hook.
    let tip = send(&sim, &server, SimPush::text("slow")).await;
    assert_eq!(tip.text(), Some("wait for it"));
    open.send_replace(true);
    let delivered = tokio::time::timeout(Duration::from_secs(20), late.recv())
        .await
        .expect("the late reply in time")
        .expect("the late reply");
    assert_eq!(delivered.reply, wechat_events::Reply::text("done at last"));

    // Refused, once for each reason.
    let now = now();
    let bad = post(
        &url,
        &format!("signature={}&timestamp={now}&nonce=n1", "0".repeat(40)),
        "<xml/>",
    )
    .await;
    assert_eq!(bad.status, 403, "{}", bad.body);
    let stale = post(&url, &signed(now - 3600, "n2"), "<xml/>").await;
    assert_eq!(stale.status, 403, "{}", stale.body);
    let genuine = sim.prepare(&SimPush::text("hi"));
    assert_eq!(
        sim.deliver(&server, &genuine).await.unwrap().text(),
        Some("hello")
    );
    let forged = post(
        &url,
        genuine.query(),
        genuine.body().replace("hi", "transfer"),
    )
    .await;
    assert_eq!(forged.status, 403, "{}", forged.body);
    assert_eq!(post(&url, "", "<xml/>").await.status, 400);
    let large = post(&url, &signed(now, "n3"), "x".repeat(4096)).await;
    assert_eq!(large.status, 413, "{}", large.body);
    let addr = server.addr();
    let query = signed(now, "n4");
    let stalled = tokio::task::spawn_blocking(move || stalled_body(addr, &query))
        .await
        .unwrap();
    assert!(stalled.starts_with("HTTP/1.1 408"), "{stalled}");
    let put = request(awc::http::Method::PUT, &url).await;
    assert_eq!(put.status, 405);
    let plaintext = sim.prepare(&SimPush::text("hi"));
    let refused = post(&secure_url, plaintext.query(), plaintext.body()).await;
    assert_eq!(refused.status, 400, "{}", refused.body);
    let (ts, nonce, garbage) = (now.to_string(), "n5", "bm90IGEgY2lwaGVydGV4dA==");
    let query = format!(
        "{}&encrypt_type=aes&msg_signature={}",
        signed(now, nonce),
        msg_signature(TOKEN, &ts, nonce, garbage)
    );
    let body = format!("<xml><ToUserName>gh</ToUserName><Encrypt>{garbage}</Encrypt></xml>");
    let undecryptable = post(&secure_url, &query, body).await;
    assert_eq!(undecryptable.status, 400, "{}", undecryptable.body);
    let stranger = Simulator::new(TOKEN)
        .secure(AES_KEY, "wx_someone_else")
        .expect("key");
    let other = stranger
        .send(&secure_url, &SimPush::text("hi"))
        .await
        .unwrap();
    assert_eq!(other.status, 403, "{}", other.body_text());

    let text = request(awc::http::Method::GET, &server.url_for("/metrics")).await;
    assert_eq!(text.status, 200);
    let m = samples(&text.body);
    let plain = r#"account="plain""#;
    let pushes = |kind: &str, outcome: &str| {
        let (kind, outcome) = (
            format!(r#"kind="{kind}""#),
            format!(r#"outcome="{outcome}""#),
        );
        value(&m, "wechat_pushes_total", &[plain, &kind, &outcome])
    };
    assert_eq!(pushes("text", "replied"), 2.0, "{}", text.body);
    assert_eq!(pushes("click", "replied"), 1.0);
    assert_eq!(pushes("text", "panic"), 1.0);
    assert_eq!(pushes("text", "late"), 1.0);
    let all_pushes: f64 = (m.iter())
        .filter(|(s, _)| s.starts_with("wechat_pushes_total{"))
        .map(|(_, v)| v)
        .sum();
    assert_eq!(all_pushes, 5.0, "{}", text.body);
    for (account, reason) in [
        ("plain", "signature"),
        ("plain", "timestamp"),
        ("plain", "replay"),
        ("plain", "bad_request"),
        ("plain", "too_large"),
        ("plain", "timeout"),
        ("plain", "method"),
        ("secure", "mode"),
        ("secure", "decrypt"),
        ("secure", "appid"),
    ] {
        let labels = [
            &format!(r#"account="{account}""#),
            &format!(r#"reason="{reason}""#),
        ];
        let labels: Vec<&str> = labels.iter().map(|s| s.as_str()).collect();
        assert_eq!(
            value(&m, "wechat_rejected_total", &labels),
            1.0,
            "{account} {reason}"
        );
    }
    let all_rejected: f64 = (m.iter())
        .filter(|(s, _)| s.starts_with("wechat_rejected_total{"))
        .map(|(_, v)| v)
        .sum();
    assert_eq!(all_rejected, 10.0, "{}", text.body);
    assert_eq!(
        value(&m, "wechat_retries_total", &[plain, r#"result="answered""#]),
        1.0
    );
    assert_eq!(
        value(&m, "wechat_retries_total", &[plain, r#"result="held""#]),
        0.0
    );
    assert_eq!(
        value(&m, "wechat_late_replies_total", &[plain, r#"via="hook""#]),
        1.0
    );
    // Every try answered: hi, the click twice, boom, slow, the genuine hi.
    assert_eq!(
        value(&m, "wechat_answer_duration_seconds_count", &[plain]),
        6.0
    );
    assert_eq!(
        value(
            &m,
            "wechat_answer_duration_seconds_count",
            &[r#"account="secure""#]
        ),
        0.0
    );
    let ran = |handler: &str| {
        let handler = format!("{handler}\"");
        value(
            &m,
            "wechat_handler_duration_seconds_count",
            &[plain, &handler],
        )
    };
    assert_eq!(ran("hello"), 2.0);
    assert_eq!(ran("clicked"), 1.0);
    assert_eq!(ran("boom"), 1.0);
    assert_eq!(ran("slow"), 1.0);
    assert_eq!(value(&m, "wechat_background_handlers", &[]), 0.0);
    assert_eq!(value(&m, "wechat_pending_replies", &[plain]), 0.0);
}

/// A late reply sent through the customer-service API: the reply and
/// each API request (the token, the message) counted.
#[actix_rt::test]
async fn late_replies_through_the_api_and_each_api_request_are_counted() {
    use wechat_events::testing::{ApiStandIn, STAND_IN_APPID, STAND_IN_SECRET};
    let wechat = ApiStandIn::start();
    let metrics = Metrics::new();
    let (open, gate) = watch::channel(false);
    let config = Config::builder(TOKEN)
        .deadline(Duration::from_millis(200))
        .wait_retries(0)
        .appid(STAND_IN_APPID)
        .appsecret(STAND_IN_SECRET)
        .api_base(wechat.base_url())
        .build()
        .unwrap();
    let service = WechatService::builder(config)
        .only(Router::new().keyword("slow", slow))
        .metrics(&metrics)
        .build()
        .unwrap();
    let server = TestServer::builder(service)
        .app_data(actix_web::web::Data::new(gate))
        .start();
    let sim = sim();
    let tip = send(&sim, &server, SimPush::text("slow")).await;
    assert!(tip.is_no_reply(), "no tip configured: success");
    open.send_replace(true);
    // The reply's way out is the stand-in: wait for it to arrive there.
    let mut waited = 0;
    while wechat.custom_messages().is_empty() {
        assert!(waited < 400, "no customer-service message came");
        tokio::time::sleep(Duration::from_millis(25)).await;
        waited += 1;
    }
    // The counter follows the send's answer by a moment.
    let mut m = samples(&metrics.render().await);
    for _ in 0..400 {
        if value(&m, "wechat_late_replies_total", &[r#"via="api""#]) > 0.0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
        m = samples(&metrics.render().await);
    }
    let account = r#"account="default""#;
    assert_eq!(
        value(&m, "wechat_late_replies_total", &[account, r#"via="api""#]),
        1.0
    );
    assert_eq!(
        value(&m, "wechat_pushes_total", &[account, r#"outcome="late""#]),
        1.0
    );
    let api = |endpoint: &str| {
        let endpoint = format!(r#"endpoint="{endpoint}""#);
        value(
            &m,
            "wechat_api_requests_total",
            &[account, &endpoint, r#"errcode="0""#],
        )
    };
    assert_eq!(api("/cgi-bin/stable_token"), 1.0);
    assert_eq!(api("/cgi-bin/message/custom/send"), 1.0);
}

/// Redis unreachable: `wechat_redis_up` 0, and each store call answered
/// from memory counted.
#[actix_rt::test]
async fn redis_outages_and_fallbacks_are_read_at_scrapes() {
    use wechat_events::redis::RedisBackend;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let backend = RedisBackend::builder(format!("redis://127.0.0.1:{port}"))
        .probe_interval(Duration::from_millis(50))
        .build()
        .expect("made without connecting");
    let metrics = Metrics::new();
    let service = WechatService::builder(Config::builder(TOKEN).build().unwrap())
        .only(Router::new().keyword("hi", hello))
        .redis(backend.clone())
        .metrics(&metrics)
        .build()
        .unwrap();
    let server = TestServer::builder(service).start();
    assert_eq!(
        send(&sim(), &server, SimPush::text("hi")).await.text(),
        Some("hello")
    );
    // Some store calls finish after the answer: the counter read at the
    // scrape has at least those counted before it.
    let stats = backend.stats();
    assert!(!stats.up && stats.fallbacks > 0, "{stats:?}");
    let m = samples(&metrics.render().await);
    assert_eq!(value(&m, "wechat_redis_up", &[]), 0.0);
    let counted = value(&m, "wechat_redis_fallbacks_total", &[]);
    assert!(counted >= stats.fallbacks as f64, "{counted} < {stats:?}");
    assert!(counted <= backend.stats().fallbacks as f64, "{counted}");
}
