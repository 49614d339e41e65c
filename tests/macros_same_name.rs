//! Two attribute handlers may share a path (`tests::h`) when they live in
//! different function bodies of one module: both must register and answer.

mod common;

use common::*;
use wechat_events::testing::{SimPush, TestServer};
use wechat_events::{on_text, TextMessage, WechatService};

fn greetings() {
    #[on_text(keyword = "早")]
    async fn h(_: TextMessage) -> &'static str {
        "早上好"
    }
}

fn farewells() {
    #[on_text(keyword = "晚")]
    async fn h(_: TextMessage) -> &'static str {
        "晚安"
    }
}

#[actix_rt::test]
async fn handlers_sharing_a_path_both_register() {
    let _ = (greetings, farewells);
    let config = wechat_events::Config::builder(TOKEN).build().unwrap();
    let service = WechatService::new(config, wechat_events::Router::new()).unwrap();
    assert_eq!(service.routes().len(), 2, "{:?}", service.routes());
    let server = TestServer::builder(service).start();
    let sim = sim();
    assert_eq!(
        send(&sim, &server, SimPush::text("早")).await.text(),
        Some("早上好")
    );
    assert_eq!(
        send(&sim, &server, SimPush::text("晚")).await.text(),
        Some("晚安")
    );
    server.stop().await;
}
