//! A panicking handler is logged once, structured, with where it panicked;
//! every other panic still reaches the process's own panic hook.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};

use common::CapturedLog;
use wechat_events::testing::{SimPush, Simulator, TestServer};
use wechat_events::{ClickEvent, Config, Router, WechatService};

static OTHER_PANICS: AtomicUsize = AtomicUsize::new(0);

async fn boom(_: ClickEvent) -> &'static str {
    panic!("boom in the handler")
}

#[actix_rt::test]
async fn a_handler_panic_is_logged_once_with_its_location() {
    // The application's own hook, installed before the service.
    std::panic::set_hook(Box::new(|_| {
        OTHER_PANICS.fetch_add(1, Ordering::SeqCst);
    }));
    let captured = CapturedLog::install();

    let config = Config::builder("panictoken").build().unwrap();
    let service = WechatService::builder(config)
        .only(Router::new().on(boom))
        .build()
        .unwrap();
    let server = TestServer::builder(service).start();
    let sim = Simulator::new("panictoken");
    let answer = sim
        .send(&server, &SimPush::click("X"))
        .await
        .expect("answered");
    assert!(answer.is_no_reply(), "{answer:?}");
    // The server survived and serves the next push.
    let again = sim
        .send(&server, &SimPush::click("Y"))
        .await
        .expect("answered");
    assert!(again.is_no_reply());
    server.stop().await;

    assert_eq!(
        OTHER_PANICS.load(Ordering::SeqCst),
        0,
        "no second, unstructured report"
    );
    let log = captured.text();
    let lines: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("handler panicked"))
        .collect();
    assert_eq!(lines.len(), 2, "one line per panic:\n{log}");
    assert!(lines[0].contains("boom in the handler"), "{}", lines[0]);
    assert!(lines[0].contains("tests/panics.rs:"), "{}", lines[0]);

    // A panic outside handler code is the application's business.
    let _ = std::panic::catch_unwind(|| panic!("elsewhere"));
    assert_eq!(OTHER_PANICS.load(Ordering::SeqCst), 1);
}
