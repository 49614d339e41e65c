//! The handler attributes end to end: handlers spread over modules are
//! found through inventory, precedence between keyword / contains / regex /
//! type-level handlers and priority hold, regex captures and extractors
//! reach the handler, every return type converts, and the start-up table
//! names each handler's path. Every push crosses real HTTP.
//!
//! This file is its own test binary, so its inventory holds exactly the
//! handlers below. Conflicting handlers live in `macros_conflict.rs`.

mod common;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use actix_web::web;
use common::*;
use wechat_events::{Config, RouteKind, Router, WechatService};

/// State shared with the handlers through `web::Data`.
#[derive(Default)]
pub struct Counter(AtomicU64);

mod text {
    use actix_web::web;
    use wechat_events::{on_message, on_text, Captures, Context, TextMessage};

    #[on_text(keyword = "帮助", keyword = "help")]
    pub async fn help(_: TextMessage) -> &'static str {
        "help"
    }

    #[on_text(keywords = ["ping", "PING"])]
    pub async fn ping(_: TextMessage) -> &'static str {
        "pong"
    }

    #[on_text(contains = "ping")]
    pub async fn mentions_ping(msg: TextMessage) -> String {
        format!("contains ping: {}", msg.content)
    }

    // Extractors in any order after the event.
    #[on_text(regex = r"^天气\s*(?P<city>\S+)$")]
    pub async fn weather(
        msg: TextMessage,
        cx: Context,
        caps: Captures,
        counter: web::Data<super::Counter>,
    ) -> String {
        counter.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        format!(
            "{} 晴 ({} asked {:?})",
            caps.name("city").unwrap_or("?"),
            cx.openid(),
            msg.content
        )
    }

    #[on_text(regex = "^p(.*)$")]
    pub async fn starts_with_p(_: TextMessage, caps: Captures) -> String {
        format!("regex p + {}", caps.get(1).unwrap_or_default())
    }

    #[on_text(keyword = "urgent")]
    pub async fn exact_urgent(_: TextMessage) -> &'static str {
        "exact urgent"
    }

    #[on_text(contains = "urgent", priority = 10)]
    pub async fn any_urgent(_: TextMessage) -> &'static str {
        "prioritized urgent"
    }

    // No filter: every other text.
    #[on_message(Text)]
    pub async fn echo(msg: TextMessage) -> String {
        format!("echo {}", msg.content)
    }
}

mod events {
    pub mod menu {
        use actix_web::web;
        use wechat_events::{on_event, ClickEvent};

        #[on_event(Click, key = "COUNT")]
        pub async fn count(_: ClickEvent, counter: web::Data<crate::Counter>) -> String {
            (counter.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1).to_string()
        }

        #[on_event(Click, key_regex = "^MENU_")]
        pub async fn menu(click: ClickEvent) -> String {
            format!("menu {}", click.key)
        }

        #[on_event(Click)]
        pub async fn other_click(click: ClickEvent) -> String {
            format!("click {}", click.key)
        }
    }

    use wechat_events::{
        on_event, LocationEvent, Reply, ScanEvent, SubscribeEvent, UnsubscribeEvent, ViewEvent,
    };

    #[on_event(Subscribe, scene = "42")]
    pub async fn scene_42(_: SubscribeEvent) -> &'static str {
        "scene 42"
    }

    #[on_event(Subscribe)]
    pub async fn welcome(ev: SubscribeEvent) -> String {
        format!("welcome {:?}", ev.scene)
    }

    #[on_event(Scan, scene = "42", priority = -1)]
    pub async fn scan_42(_: ScanEvent) -> &'static str {
        "exact scene 42, never reached"
    }

    #[on_event(Scan)]
    pub async fn scan(ev: ScanEvent) -> String {
        format!("scan {}", ev.scene)
    }

    #[on_event(Location)]
    pub async fn location(_: LocationEvent) {}

    #[on_event(View)]
    pub async fn view(ev: ViewEvent) -> Reply {
        Reply::text(format!("view {}", ev.url))
    }

    #[on_event(Unsubscribe)]
    pub async fn unsubscribe(_: UnsubscribeEvent) -> Option<String> {
        None
    }
}

mod media {
    use std::sync::Arc;

    use actix_web::web;
    use wechat_events::{
        on_fallback, on_message, Context, ImageMessage, LinkMessage, Push, Reply, VoiceMessage,
    };

    /// Data no test registers: `Option` makes the extractor optional.
    pub struct Missing;

    #[on_message(Image)]
    pub async fn image(img: ImageMessage, missing: Option<web::Data<Missing>>) -> Reply {
        assert!(missing.is_none());
        Reply::image(img.media_id)
    }

    #[on_message(Voice)]
    pub async fn voice(voice: VoiceMessage) -> Option<String> {
        voice.recognition.map(|r| format!("heard {r}"))
    }

    #[on_message(Link)]
    pub async fn link(link: LinkMessage) -> Result<String, String> {
        if link.url.starts_with("https://") {
            Ok(format!("link {}", link.title))
        } else {
            Err(format!("refusing {}", link.url))
        }
    }

    // Compiled out after the attribute saw it: its registration goes too
    // (the table must not list it; the fallback handles video).
    #[on_message(Video)]
    #[cfg(any())]
    pub async fn video(_: wechat_events::VideoMessage) -> &'static str {
        "never"
    }

    #[on_fallback]
    pub async fn fallback(push: Push, cx: Context, shared: Arc<Push>) -> String {
        assert_eq!(cx.msg_type(), shared.msg_type);
        format!("fallback {}", push.msg_type)
    }
}

/// The handlers above, by path, as the table names them.
const HANDLERS: &[&str] = &[
    "macros::text::help",
    "macros::text::ping",
    "macros::text::mentions_ping",
    "macros::text::weather",
    "macros::text::starts_with_p",
    "macros::text::exact_urgent",
    "macros::text::any_urgent",
    "macros::text::echo",
    "macros::events::menu::count",
    "macros::events::menu::menu",
    "macros::events::menu::other_click",
    "macros::events::scene_42",
    "macros::events::welcome",
    "macros::events::scan_42",
    "macros::events::scan",
    "macros::events::location",
    "macros::events::view",
    "macros::events::unsubscribe",
    "macros::media::image",
    "macros::media::voice",
    "macros::media::link",
    "macros::media::fallback",
];

fn config() -> Config {
    Config::builder(TOKEN).build().expect("config")
}

fn start(counter: web::Data<Counter>) -> Server {
    // No builder routes: every handler comes from the attributes.
    let service = WechatService::builder(config()).build().expect("routes");
    Server::start(service, move |cfg: &mut web::ServiceConfig| {
        cfg.app_data(counter.clone());
    })
}

fn user() -> String {
    format!("o_{}", unique())
}

async fn text(server: &Server, content: &str) -> String {
    let u = user();
    push(&server.url, TOKEN, &u, text_xml(&u, content))
        .await
        .text()
}

#[actix_rt::test]
async fn handlers_in_every_module_are_found() {
    let service = WechatService::builder(config()).build().expect("routes");
    let mut names: Vec<&str> = service.routes().table().map(|r| &*r.name).collect();
    names.sort_unstable();
    let mut expected = HANDLERS.to_vec();
    expected.sort_unstable();
    assert_eq!(names, expected);
}

#[actix_rt::test]
async fn keyword_contains_regex_and_type_level_precedence() {
    let server = start(web::Data::new(Counter::default()));
    // Exact keywords, repeated form and list form.
    assert_eq!(text(&server, "帮助").await, "help");
    assert_eq!(text(&server, "help").await, "help");
    assert_eq!(text(&server, "ping").await, "pong");
    assert_eq!(text(&server, "PING").await, "pong");
    // `contains` beats a regex that also matches ("ping me" starts with p).
    assert_eq!(text(&server, "ping me").await, "contains ping: ping me");
    // The regex beats the type-level handler.
    assert_eq!(text(&server, "pa").await, "regex p + a");
    // Nothing else matches: the type-level handler.
    assert_eq!(text(&server, "hello").await, "echo hello");
    server.stop().await;
}

#[actix_rt::test]
async fn priority_beats_specificity() {
    let server = start(web::Data::new(Counter::default()));
    // The exact keyword would win on specificity; priority 10 wins first.
    assert_eq!(text(&server, "urgent").await, "prioritized urgent");
    assert_eq!(text(&server, "very urgent").await, "prioritized urgent");
    server.stop().await;
}

#[actix_rt::test]
async fn captures_and_extractors_reach_the_handler() {
    let counter = web::Data::new(Counter::default());
    let server = start(counter.clone());
    let u = user();
    let answer = push(&server.url, TOKEN, &u, text_xml(&u, "天气 北京")).await;
    assert_eq!(answer.text(), format!("北京 晴 ({u} asked \"天气 北京\")"));
    assert_eq!(counter.0.load(Ordering::SeqCst), 1);
    server.stop().await;
}

#[actix_rt::test]
async fn event_keys_scenes_and_kinds() {
    let counter = web::Data::new(Counter::default());
    let server = start(counter.clone());
    let u = user();
    let click = |key: &str| click_xml(&u, now() + unique() as i64, key);
    assert_eq!(
        push(&server.url, TOKEN, &u, click("COUNT")).await.text(),
        "1"
    );
    assert_eq!(
        push(&server.url, TOKEN, &u, click("COUNT")).await.text(),
        "2"
    );
    assert_eq!(
        push(&server.url, TOKEN, &u, click("MENU_NEWS"))
            .await
            .text(),
        "menu MENU_NEWS"
    );
    assert_eq!(
        push(&server.url, TOKEN, &u, click("OTHER")).await.text(),
        "click OTHER"
    );

    let event = |name: &str, extra: &str| event_xml(&u, now() + unique() as i64, name, extra);
    let key = |k: &str| format!("<EventKey><![CDATA[{k}]]></EventKey>");
    let answer = |xml: String| push(&server.url, TOKEN, &u, xml);
    assert_eq!(
        answer(event("subscribe", &key("qrscene_42"))).await.text(),
        "scene 42"
    );
    assert_eq!(
        answer(event("subscribe", &key("qrscene_7"))).await.text(),
        "welcome Some(\"7\")"
    );
    assert_eq!(answer(event("subscribe", "")).await.text(), "welcome None");
    // A negative priority puts even an exact scene after the kind's handler.
    assert_eq!(answer(event("SCAN", &key("42"))).await.text(), "scan 42");
    assert_eq!(
        answer(event("VIEW", &key("https://example.com")))
            .await
            .text(),
        "view https://example.com"
    );
    let location = "<Latitude>23.1</Latitude><Longitude>113.3</Longitude><Precision>1</Precision>";
    assert!(answer(event("LOCATION", location)).await.is_success());
    assert!(answer(event("unsubscribe", "")).await.is_success());
    server.stop().await;
}

#[actix_rt::test]
async fn every_return_type_and_the_fallback() {
    let server = start(web::Data::new(Counter::default()));
    let u = user();
    let answer = |xml: String| push(&server.url, TOKEN, &u, xml);

    let image = answer(message_xml(
        &u,
        "image",
        "<PicUrl><![CDATA[http://p]]></PicUrl><MediaId><![CDATA[media-1]]></MediaId>",
    ))
    .await;
    let fields = image.fields();
    assert_eq!(fields.text("MsgType"), Some("image"));
    assert!(image.body.contains("media-1"), "{}", image.body);

    let voice = |recognition: &str| {
        message_xml(
            &u,
            "voice",
            &format!("<MediaId>m</MediaId><Format>amr</Format>{recognition}"),
        )
    };
    assert_eq!(
        answer(voice("<Recognition>你好</Recognition>"))
            .await
            .text(),
        "heard 你好"
    );
    assert!(answer(voice("")).await.is_success(), "None = no reply");

    let link = |url: &str| {
        message_xml(
            &u,
            "link",
            &format!("<Title>T</Title><Description>D</Description><Url>{url}</Url>"),
        )
    };
    assert_eq!(answer(link("https://x")).await.text(), "link T");
    assert!(answer(link("http://x")).await.is_success(), "Err = success");

    // Nothing handles video: the fallback does.
    let video = message_xml(
        &u,
        "video",
        "<MediaId>m</MediaId><ThumbMediaId>t</ThumbMediaId>",
    );
    assert_eq!(answer(video).await.text(), "fallback video");
    let custom = event_xml(&u, now(), "card_pass_check", "");
    assert_eq!(answer(custom).await.text(), "fallback event");
    server.stop().await;
}

#[actix_rt::test]
async fn table_shows_kind_filter_priority_and_path() {
    let service = WechatService::builder(config()).build().expect("routes");
    let table: Vec<String> = service.routes().table().map(ToString::to_string).collect();
    let row = |name: &str| {
        table
            .iter()
            .find(|r| r.ends_with(name))
            .unwrap_or_else(|| panic!("no row for {name} in {table:#?}"))
            .clone()
    };
    let help = row(" macros::text::help");
    assert!(help.contains("message Text"), "{help}");
    assert!(help.contains(r#"keyword = ["帮助", "help"]"#), "{help}");
    let urgent = row(" macros::text::any_urgent");
    assert!(
        urgent.contains(r#"contains = "urgent""#) && urgent.contains(" 10 "),
        "{urgent}"
    );
    let scan = row(" macros::events::scan_42");
    assert!(
        scan.contains("event Scan") && scan.contains(" -1 "),
        "{scan}"
    );
    assert!(row(" macros::media::fallback").contains("fallback"));
    // Precedence order: priority 10 first, priority -1 last, and the
    // fallback after everything else of priority 0.
    assert!(table[0].ends_with("macros::text::any_urgent"), "{table:#?}");
    let n = table.len();
    assert!(
        table[n - 1].ends_with("macros::events::scan_42"),
        "{table:#?}"
    );
    assert!(
        table[n - 2].ends_with("macros::media::fallback"),
        "{table:#?}"
    );
    let kinds: Vec<RouteKind> = service.routes().table().map(|r| r.kind).collect();
    assert_eq!(kinds[n - 2], RouteKind::Any);
}

#[actix_rt::test]
async fn start_up_logs_the_handler_table() {
    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);
    impl std::io::Write for Buffer {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let buffer = Buffer::default();
    let writer = buffer.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    tracing::subscriber::with_default(subscriber, || {
        WechatService::builder(config()).build().expect("routes");
    });
    let log = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
    for name in HANDLERS {
        assert!(log.contains(name), "{name} missing from the log:\n{log}");
    }
    assert!(log.contains(r#"key = "COUNT""#), "{log}");
}

#[actix_rt::test]
async fn explicit_registration_is_not_doubled() {
    // Explicitly, twice, and again through inventory: one route.
    let router = Router::new()
        .handler::<text::help>()
        .handler::<text::help>();
    assert_eq!(router.infos().count(), 1);
    let service = WechatService::new(
        config(),
        router.merge(Router::new().handler::<text::help>()),
    )
    .expect("routes");
    assert_eq!(service.routes().len(), HANDLERS.len());
    let helps = service
        .routes()
        .table()
        .filter(|r| r.name == "macros::text::help")
        .count();
    assert_eq!(helps, 1);
    // Explicit routes on their own: only what was asked for.
    let routes = Router::new()
        .handler::<events::menu::count>()
        .build()
        .unwrap();
    assert_eq!(routes.len(), 1);
}

#[actix_rt::test]
async fn builder_routes_sit_beside_attribute_handlers() {
    async fn builder_handler(_: wechat_events::TextMessage) -> &'static str {
        "from the builder"
    }
    let service = WechatService::new(config(), Router::new().keyword("builder", builder_handler))
        .expect("routes");
    assert_eq!(service.routes().len(), HANDLERS.len() + 1);
    let server = Server::start(service, |_: &mut web::ServiceConfig| {});
    assert_eq!(text(&server, "builder").await, "from the builder");
    assert_eq!(text(&server, "help").await, "help");
    server.stop().await;
}

#[actix_rt::test]
async fn annotated_functions_stay_callable() {
    let msg = wechat_events::parse(text_xml("o", "help").as_bytes()).unwrap();
    let Some(wechat_events::Message::Text(msg)) = msg.message().cloned() else {
        panic!("not a text message");
    };
    assert_eq!(text::help(msg).await, "help");
}
