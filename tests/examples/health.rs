//! `GET /healthz`, what docs/deploy.md points load balancers at.

use awc::http::Method;

use crate::common::*;

#[actix_rt::test]
async fn the_quickstart_answers_its_health_check() {
    let qs = Quickstart::start(&[]);
    let url = format!("http://{}/healthz", qs.addr);
    let ok = request(Method::GET, &url).await;
    assert_eq!((ok.status, ok.body.as_str()), (200, "ok"));
    // Only GET: a push to it is not taken for one.
    assert_eq!(request(Method::POST, &url).await.status, 404);
    // The WeChat path is unchanged beside it.
    let echo = send(&sim(), &qs.url, wechat_events::testing::SimPush::text("x")).await;
    assert_eq!(echo.text(), Some("收到:x"));
}
