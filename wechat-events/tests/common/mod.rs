//! Test support: a small bot that keeps the quickstart's reply contract.
//! It is served by `wechat_events::testing::TestServer` (on a thread of its
//! own, so a child process such as the `wechat-sim` binary can reach it from
//! a plain `#[test]`) or called in-process.
#![allow(dead_code)]

use std::collections::HashMap;
use std::net::TcpListener;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use wechat_events::testing::TestServer;
use wechat_events::{
    Article, ClickEvent, Config, Context, ImageMessage, LocationEvent, Mode, Reply, Router,
    ScanEvent, SubscribeEvent, TextMessage, WechatService,
};

pub const TOKEN: &str = "simtoken";
pub const KEY: &str = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG";
pub const APPID: &str = "wx0123456789abcdef";
pub const HELP: &str = "发送任意文字，我会回复你\n图文 — 一篇文章\n位置 — 你上次报告的位置";

/// How the test bot's service is configured.
#[derive(Clone, Copy, Debug)]
pub enum BotMode {
    Plain,
    Secure,
    Compatible,
}

pub fn config(mode: BotMode, deadline: Duration) -> Config {
    let builder = Config::builder(TOKEN).deadline(deadline);
    let builder = match mode {
        BotMode::Plain => builder,
        BotMode::Secure => builder.aes_key(KEY).appid(APPID).mode(Mode::Secure),
        BotMode::Compatible => builder.aes_key(KEY).appid(APPID).mode(Mode::Compatible),
    };
    builder.build().expect("test config")
}

/// The quickstart's reply contract, in a few closures.
pub fn bot(mode: BotMode, deadline: Duration) -> WechatService {
    let locations: Arc<Mutex<HashMap<String, (f64, f64)>>> = Arc::default();
    let clicks = Arc::new(AtomicU64::new(0));
    let remember = locations.clone();
    let router = Router::new()
        .keywords(["帮助", "help"], |_: TextMessage| async { HELP })
        .keyword("图文", |_: TextMessage| async {
            Reply::news([
                Article::new("wechat-events", "https://example.com/wechat-events")
                    .description("Receive WeChat pushes with actix-web"),
            ])
        })
        .keyword("位置", move |_: TextMessage, cx: Context| {
            let known = locations
                .lock()
                .ok()
                .and_then(|l| l.get(cx.openid()).copied());
            async move {
                match known {
                    Some((lat, lng)) => format!("你的位置: {lat},{lng}"),
                    None => "还没有收到你的位置".to_owned(),
                }
            }
        })
        .on(|msg: TextMessage| async move { format!("收到:{}", msg.content) })
        .on(|img: ImageMessage| async move { Reply::image(img.media_id) })
        .on(|s: SubscribeEvent| async move {
            match s.scene {
                Some(scene) => format!("欢迎关注，场景值 {scene}"),
                None => "欢迎关注".to_owned(),
            }
        })
        .on(|s: ScanEvent| async move { format!("扫码场景 {}", s.scene) })
        .on(move |l: LocationEvent, cx: Context| {
            if let Ok(mut map) = remember.lock() {
                map.insert(cx.openid().to_owned(), (l.latitude, l.longitude));
            }
            async {}
        })
        .click("COUNT", move |_: ClickEvent| {
            let n = clicks.fetch_add(1, Ordering::SeqCst) + 1;
            async move { n.to_string() }
        })
        .click("SLOW", |_: ClickEvent| async {
            tokio::time::sleep(Duration::from_secs(10)).await;
            "too late"
        })
        .on(|c: ClickEvent| async move { format!("点击菜单 {}", c.key) });
    WechatService::new(config(mode, deadline), router).expect("test routes")
}

/// The test bot in `mode`, served on 127.0.0.1.
pub fn serve_bot(mode: BotMode, deadline: Duration) -> TestServer {
    TestServer::builder(bot(mode, deadline)).start()
}

/// A TCP port on 127.0.0.1 that nothing listens on.
pub fn closed_port() -> u16 {
    let listener = TcpListener::bind(("127.0.0.1", 0)).expect("bind");
    listener.local_addr().expect("addr").port()
}
