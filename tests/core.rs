//! The reshaped core, through a real server: async extractors, scoped
//! registration, the route table's conflicts and error chains in the log.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use common::CapturedLog;
use tokio::sync::Notify;
use wechat_events::router::RouterError;
use wechat_events::service::BuildError;
use wechat_events::testing::{SimPush, Simulator, TestServer};
use wechat_events::{
    on_text, Config, ExtractError, FromPush, Parts, Router, TextMessage, WechatService,
};

const TOKEN: &str = "coretoken";

fn config(path: &str, deadline_ms: u64) -> Config {
    Config::builder(TOKEN)
        .path(path)
        .deadline(Duration::from_millis(deadline_ms))
        // One try: these tests are about what the deadline answers.
        .wait_retries(0)
        .build()
        .expect("config")
}

// ---- async extractors ---------------------------------------------------

/// Opened by the test; the "slow" user's profile lookup waits on it, as a
/// database or HTTP lookup would.
static SLOW_LOOKUP: OnceLock<Arc<Notify>> = OnceLock::new();
static LOOKUPS_DONE: AtomicUsize = AtomicUsize::new(0);
static PROFILE_HANDLER_RUNS: AtomicUsize = AtomicUsize::new(0);

/// An extractor that awaits I/O.
struct Profile(String);

impl FromPush for Profile {
    async fn from_push(parts: &Parts) -> Result<Self, ExtractError> {
        let openid = parts.context().openid().to_owned();
        if openid == "o_slow" {
            SLOW_LOOKUP.get_or_init(Default::default).notified().await;
        }
        LOOKUPS_DONE.fetch_add(1, Ordering::SeqCst);
        Ok(Profile(format!("profile of {openid}")))
    }
}

async fn greet(_: TextMessage, profile: Profile) -> String {
    PROFILE_HANDLER_RUNS.fetch_add(1, Ordering::SeqCst);
    profile.0
}

#[actix_rt::test]
async fn an_async_extractor_blocks_no_other_push_and_is_cut_off_at_the_deadline() {
    let service = WechatService::builder(config("/wechat", 1500))
        .only(Router::new().on(greet))
        .build()
        .unwrap();
    let server = TestServer::builder(service).start();
    let slow = Simulator::new(TOKEN).openid("o_slow");
    let fast = Simulator::new(TOKEN).openid("o_fast");

    // The slow user's lookup is pending (the gate stays shut) ...
    let slow_answer = actix_rt::spawn({
        let url = server.url().to_owned();
        async move { slow.send(url.as_str(), &SimPush::text("hi")).await }
    });
    // ... while another user's push, on the same single worker, is served.
    for i in 0..3 {
        let answer = fast
            .send(&server, &SimPush::text(format!("hi {i}")))
            .await
            .expect("answered");
        assert_eq!(answer.text(), Some("profile of o_fast"));
    }
    assert!(!slow_answer.is_finished(), "the slow push is still waiting");

    // At the deadline the slow push is answered `success`: its handler has
    // not run, because its extractor has not finished.
    let answer = slow_answer.await.unwrap().expect("answered");
    assert!(answer.is_no_reply(), "{answer:?}");
    assert_eq!(PROFILE_HANDLER_RUNS.load(Ordering::SeqCst), 3);
    assert_eq!(LOOKUPS_DONE.load(Ordering::SeqCst), 3);

    // Opened late, the lookup finishes in the background and the handler
    // runs once, its reply going to the late-reply hook (not tested here).
    SLOW_LOOKUP
        .get()
        .expect("the slow lookup started")
        .notify_one();
    server.stop().await;
}

// ---- scoped registration -----------------------------------------------

#[on_text(keyword = "who", tag = "shop")]
async fn shop_who(_: TextMessage) -> &'static str {
    "shop"
}

#[on_text(keyword = "who", tag = "news")]
async fn news_who(_: TextMessage) -> &'static str {
    "news"
}

#[on_text(keyword = "untagged")]
async fn untagged(_: TextMessage) -> &'static str {
    "untagged"
}

async fn own_router(_: TextMessage) -> &'static str {
    "own router"
}

#[actix_rt::test]
async fn two_services_in_one_binary_answer_with_only_their_own_handlers() {
    let shop = WechatService::builder(config("/shop", 3000))
        .only(Router::new().registered_tagged("shop"))
        .build()
        .unwrap();
    let news = WechatService::builder(config("/news", 3000))
        .only(Router::new().registered_tagged("news"))
        .build()
        .unwrap();
    let plain = WechatService::builder(config("/plain", 3000))
        .only(Router::new().on(own_router))
        .build()
        .unwrap();
    let default = WechatService::builder(config("/default", 3000))
        .build()
        .unwrap();
    let servers = [shop, news, plain, default].map(|s| TestServer::builder(s).start());
    let sim = Simulator::new(TOKEN);
    let ask = |i: usize, text: &'static str| {
        let sim = &sim;
        let server = &servers[i];
        async move {
            let answer = sim
                .send(server, &SimPush::text(text))
                .await
                .expect("answered");
            answer.text().map(str::to_owned)
        }
    };
    assert_eq!(ask(0, "who").await.as_deref(), Some("shop"));
    assert_eq!(
        ask(0, "untagged").await,
        None,
        "not the binary's other handlers"
    );
    assert_eq!(ask(1, "who").await.as_deref(), Some("news"));
    assert_eq!(ask(2, "who").await.as_deref(), Some("own router"));
    assert_eq!(ask(2, "untagged").await.as_deref(), Some("own router"));
    // The one-line default: every untagged handler, no tagged one.
    assert_eq!(ask(3, "untagged").await.as_deref(), Some("untagged"));
    assert_eq!(ask(3, "who").await, None);
    for server in servers {
        server.stop().await;
    }
}

// ---- an honest route table ------------------------------------------------

async fn text_a(_: TextMessage) {}
async fn text_b(_: TextMessage) {}

#[test]
fn same_kind_filter_and_priority_is_a_conflict_at_build() {
    let conflict = |router: Router| match WechatService::builder(config("/c", 3000))
        .only(router)
        .build()
    {
        Err(BuildError::Router(RouterError::Conflict { first, second, .. })) => (first, second),
        Err(other) => panic!("expected a conflict, got {other}"),
        Ok(_) => panic!("expected a conflict, the service was built"),
    };
    let (first, second) = conflict(Router::new().on(text_a).on(text_b));
    assert!(first.ends_with("text_a") && second.ends_with("text_b"));
    conflict(
        Router::new()
            .contains("天气", text_a)
            .contains("天气", text_b),
    );
    conflict(Router::new().regex("^a+$", text_a).regex("^a+$", text_b));
    // A different priority or filter is a deliberate order, not a conflict.
    let ok = WechatService::builder(config("/c", 3000))
        .only(
            Router::new()
                .on(text_a)
                .route(wechat_events::Route::new().priority(1), text_b)
                .contains("天", text_a)
                .contains("气", text_b),
        )
        .build();
    assert!(ok.is_ok());
}

// ---- typed errors ---------------------------------------------------------

#[derive(Debug, thiserror::Error)]
#[error("could not load the order")]
struct OrderError(#[source] std::io::Error);

async fn failing(_: TextMessage) -> Result<String, OrderError> {
    Err(OrderError(std::io::Error::new(
        std::io::ErrorKind::ConnectionRefused,
        "database at 10.0.0.9:5432 refused the connection",
    )))
}

#[actix_rt::test]
async fn a_handlers_error_chain_appears_in_the_log() {
    let captured = CapturedLog::install();
    let service = WechatService::builder(config("/wechat", 3000))
        .only(Router::new().on(failing))
        .build()
        .unwrap();
    let server = TestServer::builder(service).start();
    let answer = Simulator::new(TOKEN)
        .send(&server, &SimPush::text("order 42"))
        .await
        .expect("answered");
    assert!(answer.is_no_reply());
    server.stop().await;
    let log = captured.text();
    let line = log
        .lines()
        .find(|l| l.contains("handler returned an error"))
        .unwrap_or_else(|| panic!("no error line in the log:\n{log}"));
    assert!(
        line.contains("could not load the order: database at 10.0.0.9:5432 refused the connection"),
        "{line}"
    );
    assert!(line.contains("core::failing"), "{line}");
}
