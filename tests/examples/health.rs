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

#[actix_rt::test]
async fn with_wechat_metrics_the_quickstart_counts_pushes_at_metrics() {
    let qs = Quickstart::start(&[("WECHAT_METRICS", "1")]);
    let url = format!("http://{}/metrics", qs.addr);
    let echo = send(&sim(), &qs.url, wechat_events::testing::SimPush::text("x")).await;
    assert_eq!(echo.text(), Some("收到:x"));
    let scraped = request(Method::GET, &url).await;
    assert_eq!(scraped.status, 200);
    let line = (scraped.body.lines())
        .find(|l| l.starts_with("wechat_pushes_total{"))
        .unwrap_or_else(|| panic!("no push counted:\n{}", scraped.body));
    assert_eq!(
        line,
        r#"wechat_pushes_total{account="default",kind="text",outcome="replied"} 1"#
    );
    // Without it, no endpoint.
    let plain = Quickstart::start(&[]);
    let none = request(Method::GET, &format!("http://{}/metrics", plain.addr)).await;
    assert_eq!(none.status, 404);
}
