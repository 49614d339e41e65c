//! Instructions per push, metrics on and off, for valgrind's callgrind:
//! `push-cost N on|off` answers N plaintext text pushes in process
//! (actix routing, signature, body, parse, dedup, handler, render — all
//! but the socket), through a service built with or without
//! `Metrics`. Instructions counted do not depend on how busy the machine
//! is; run it for two N and take the difference, so the set-up cancels:
//!
//! ```sh
//! bench/push-cost.sh   # runs it under callgrind and prints the figures
//! ```

use actix_web::{test, App};
use wechat_events::metrics::Metrics;
use wechat_events::signature::sign;
use wechat_events::{Config, Router, TextMessage, WechatService};

const TOKEN: &str = "devtoken";

async fn echo(msg: TextMessage) -> String {
    format!("收到:{}", msg.content)
}

fn main() {
    let mut args = std::env::args().skip(1);
    let n: u64 = args.next().and_then(|n| n.parse().ok()).expect("N");
    let on = match args.next().as_deref() {
        Some("on") => true,
        Some("off") => false,
        _ => panic!("usage: push-cost N on|off"),
    };
    let metrics = Metrics::new();
    let config = Config::builder(TOKEN).build().expect("config");
    let mut builder = WechatService::builder(config).only(Router::new().on(echo));
    if on {
        builder = builder.metrics(&metrics);
    }
    let service = builder.build().expect("service");
    let system = actix_rt::System::new();
    system.block_on(async {
        let app = test::init_service(App::new().service(service)).await;
        for i in 0..n {
            let timestamp = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .expect("after 1970")
                .as_secs()
                .to_string();
            let nonce = i.to_string();
            let signature = sign(&[TOKEN, &timestamp, &nonce]);
            let xml = format!(
                "<xml><ToUserName><![CDATA[gh_1]]></ToUserName><FromUserName><![CDATA[o_user_{}]]></FromUserName>\
                 <CreateTime>{timestamp}</CreateTime><MsgType><![CDATA[text]]></MsgType>\
                 <Content><![CDATA[hi]]></Content><MsgId>{}</MsgId></xml>",
                i % 64,
                1_000_000 + i
            );
            let req = test::TestRequest::post()
                .uri(&format!("/wechat?signature={signature}&timestamp={timestamp}&nonce={nonce}"))
                .insert_header(("content-type", "text/xml"))
                .set_payload(xml)
                .to_request();
            let resp = test::call_service(&app, req).await;
            assert!(resp.status().is_success());
        }
    });
    if on {
        let text = system.block_on(metrics.render());
        assert!(text.contains("wechat_pushes_total"), "{text}");
    }
}
