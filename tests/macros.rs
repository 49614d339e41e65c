//! The handler attributes end to end: handlers spread over modules are
//! found through inventory, precedence between keyword / contains / regex /
//! type-level handlers and priority hold, regex captures and extractors
//! reach the handler, every return type converts, the start-up table
//! names each handler's path, and handlers scoped to accounts are left out
//! of the other accounts' routers. Every push crosses real HTTP.
//!
//! This file is its own test binary, so its inventory holds exactly the
//! handlers below. Conflicting handlers live in `macros_conflict.rs`.

mod common;

use std::sync::atomic::{AtomicU64, Ordering};

use actix_web::web;
use common::*;
use wechat_events::kinds::RouteKind;
use wechat_events::testing::{SimPush, TestServer};
use wechat_events::{Config, Reply, Router, WechatService};

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

/// Tagged: only a router that asks for `shop` serves it.
mod shop {
    use wechat_events::{on_text, TextMessage};

    #[on_text(keyword = "价格", tag = "shop")]
    pub async fn price(_: TextMessage) -> &'static str {
        "9.9"
    }
}

/// Scoped to accounts (`account = "..."`): a router for one account of a
/// server with several serves only those scoped to it, beside every
/// unscoped handler above. `Router::registered` (so a service's default)
/// takes them all, so none of them conflicts with the others.
mod brands {
    use wechat_events::{
        on_event, on_message, on_text, ClickEvent, ShortVideoMessage, TextMessage,
    };

    #[on_text(keyword = "会员", account = "brand_a", account = "brand_b")]
    pub async fn members(_: TextMessage) -> &'static str {
        "会员中心"
    }

    #[on_text(keyword = "品牌", account = "brand_a")]
    pub async fn brand_a(_: TextMessage) -> &'static str {
        "brand a"
    }

    #[on_event(Click, key = "BRAND_B", account = "brand_b")]
    pub async fn brand_b_menu(_: ClickEvent) -> &'static str {
        "brand b menu"
    }

    #[on_message(ShortVideo, account = "brand_b", priority = 1)]
    pub async fn brand_b_video(_: ShortVideoMessage) -> &'static str {
        "brand b video"
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
    "macros::brands::members",
    "macros::brands::brand_a",
    "macros::brands::brand_b_menu",
    "macros::brands::brand_b_video",
];

/// The handlers of `HANDLERS` scoped to accounts: in every account's router
/// but these, only the ones the account names.
const SCOPED: &[(&str, &[&str])] = &[
    ("macros::brands::members", &["brand_a", "brand_b"]),
    ("macros::brands::brand_a", &["brand_a"]),
    ("macros::brands::brand_b_menu", &["brand_b"]),
    ("macros::brands::brand_b_video", &["brand_b"]),
];

fn config() -> Config {
    Config::builder(TOKEN).build().expect("config")
}

/// The handlers a service of `config()` (the account `default`) serves
/// by itself: every one but those scoped to accounts.
fn unscoped() -> Vec<&'static str> {
    (HANDLERS.iter().copied())
        .filter(|name| SCOPED.iter().all(|(scoped, _)| scoped != name))
        .collect()
}

fn start(counter: web::Data<Counter>) -> TestServer {
    // No builder routes: every handler comes from the attributes.
    let service = WechatService::builder(config()).build().expect("routes");
    TestServer::builder(service).app_data(counter).start()
}

/// The text reply to `content` from a fresh user.
async fn text(server: &TestServer, content: &str) -> String {
    let answer = send(&sim(), server, SimPush::text(content)).await;
    answer
        .text()
        .unwrap_or_else(|| panic!("no text reply to {content:?}: {answer:?}"))
        .to_owned()
}

#[actix_rt::test]
async fn handlers_in_every_module_are_found() {
    let service = WechatService::builder(config()).build().expect("routes");
    let mut names: Vec<&str> = service.routes().table().map(|r| &*r.name).collect();
    names.sort_unstable();
    let mut expected = unscoped();
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
    let sim = sim();
    let answer = send(&sim, &server, SimPush::text("天气 北京")).await;
    assert_eq!(
        answer.text(),
        Some(format!("北京 晴 ({} asked \"天气 北京\")", sim.user()).as_str())
    );
    assert_eq!(counter.0.load(Ordering::SeqCst), 1);
    server.stop().await;
}

#[actix_rt::test]
async fn event_keys_scenes_and_kinds() {
    let counter = web::Data::new(Counter::default());
    let server = start(counter.clone());
    let sim = sim();
    let answer = |push: SimPush| send(&sim, &server, push);
    // Two clicks of one key need two CreateTimes, or they are one push.
    let t = now();
    let count = |at: i64| SimPush::click("COUNT").create_time(at);
    assert_eq!(answer(count(t)).await.text(), Some("1"));
    assert_eq!(answer(count(t + 1)).await.text(), Some("2"));
    assert_eq!(
        answer(SimPush::click("MENU_NEWS")).await.text(),
        Some("menu MENU_NEWS")
    );
    assert_eq!(
        answer(SimPush::click("OTHER")).await.text(),
        Some("click OTHER")
    );

    assert_eq!(
        answer(SimPush::subscribe_scene(42)).await.text(),
        Some("scene 42")
    );
    assert_eq!(
        answer(SimPush::subscribe_scene(7)).await.text(),
        Some("welcome Some(\"7\")")
    );
    assert_eq!(
        answer(SimPush::subscribe()).await.text(),
        Some("welcome None")
    );
    // A negative priority puts even an exact scene after the kind's handler.
    assert_eq!(answer(SimPush::scan("42")).await.text(), Some("scan 42"));
    assert_eq!(
        answer(SimPush::view("https://example.com")).await.text(),
        Some("view https://example.com")
    );
    let location = SimPush::location_event(23.1, 113.3, 1.0);
    assert!(answer(location).await.is_no_reply());
    assert!(answer(SimPush::unsubscribe()).await.is_no_reply());
    server.stop().await;
}

#[actix_rt::test]
async fn every_return_type_and_the_fallback() {
    let server = start(web::Data::new(Counter::default()));
    let sim = sim();
    let answer = |push: SimPush| send(&sim, &server, push);

    let image = answer(SimPush::image("media-1")).await;
    assert_eq!(image.reply(), Some(&Reply::image("media-1")));

    assert_eq!(
        answer(SimPush::voice_recognized("m", "你好")).await.text(),
        Some("heard 你好")
    );
    assert!(
        answer(SimPush::voice("m")).await.is_no_reply(),
        "None = no reply"
    );

    assert_eq!(
        answer(SimPush::link("T", "D", "https://x")).await.text(),
        Some("link T")
    );
    assert!(
        answer(SimPush::link("T", "D", "http://x"))
            .await
            .is_no_reply(),
        "Err = success"
    );

    // Nothing handles video: the fallback does.
    assert_eq!(
        answer(SimPush::video("m", "t")).await.text(),
        Some("fallback video")
    );
    assert_eq!(
        answer(SimPush::event("card_pass_check")).await.text(),
        Some("fallback event")
    );
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

/// Set in the child process that `start_up_logs_the_handler_table` runs.
const LOG_CHILD: &str = "WECHAT_EVENTS_TEST_LOG_CHILD";

#[test]
fn start_up_logs_the_handler_table() {
    // tracing caches per call site whether anyone listens, and other tests
    // in this binary build services on other threads at the same moment;
    // a subscriber installed for one thread can lose that race. So the
    // build runs in a child process of this binary, alone, with a global
    // subscriber writing to its stdout.
    if std::env::var_os(LOG_CHILD).is_some() {
        tracing_subscriber::fmt()
            .with_writer(std::io::stdout)
            .with_ansi(false)
            .init();
        WechatService::builder(config()).build().expect("routes");
        return;
    }
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["start_up_logs_the_handler_table", "--exact", "--nocapture"])
        .env(LOG_CHILD, "1")
        .output()
        .expect("the test binary runs again");
    let log = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{log}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for name in unscoped() {
        assert!(log.contains(name), "{name} missing from the log:\n{log}");
    }
    // The account `default` has none of the handlers scoped to others.
    for (name, _) in SCOPED {
        assert!(!log.contains(name), "{name} in the log:\n{log}");
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
    assert_eq!(service.routes().len(), unscoped().len());
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
    assert_eq!(service.routes().len(), unscoped().len() + 1);
    let server = TestServer::builder(service).start();
    assert_eq!(text(&server, "builder").await, "from the builder");
    assert_eq!(text(&server, "help").await, "help");
    server.stop().await;
}

#[actix_rt::test]
async fn annotated_functions_stay_callable() {
    let xml = SimPush::text("help").to_xml("gh_test", "o", now(), 1);
    let msg = wechat_events::push::parse(xml.as_bytes()).unwrap();
    let Some(wechat_events::Message::Text(msg)) = msg.message().cloned() else {
        panic!("not a text message");
    };
    assert_eq!(text::help(msg).await, "help");
}

#[test]
fn a_selection_that_matches_no_handler_does_not_build() {
    let scoped = |router: Router| WechatService::builder(config()).only(router).build();
    // What exists builds.
    let shop = scoped(Router::new().registered_tagged("shop")).expect("shop");
    assert_eq!(shop.routes().len(), 1);
    let menu = scoped(Router::new().registered_in("macros::events::menu")).expect("menu");
    assert_eq!(menu.routes().len(), 3);
    // A tag or module whose handlers were already named one by one still
    // selected them.
    let again = Router::new()
        .handler::<shop::price>()
        .registered_tagged("shop");
    assert_eq!(again.build().expect("again").len(), 1);
    // A typo is an error at start-up naming what matched nothing, with the
    // closest name, not a service that answers `success` to everything.
    for (router, named, suggested) in [
        (
            Router::new().registered_tagged("shpo"),
            "\"shpo\"",
            Some("\"shop\""),
        ),
        (Router::new().registered_tagged("news"), "\"news\"", None),
        (
            Router::new().registered_in("macros::txet"),
            "\"macros::txet\"",
            Some("\"macros::text\""),
        ),
        (
            Router::new().registered_in("no::such::module"),
            "\"no::such::module\"",
            None,
        ),
        // Also beside a selection that matched, and through `router`.
        (
            Router::new()
                .registered_tagged("shop")
                .registered_in("macros::event::menu"),
            "\"macros::event::menu\"",
            Some("\"macros::events::menu\""),
        ),
    ] {
        let err = match scoped(router) {
            Ok(service) => panic!("built {named} with {} routes", service.routes().len()),
            Err(err) => err.to_string(),
        };
        assert!(err.contains(named), "{err}");
        match suggested {
            Some(suggested) => assert!(err.contains(&format!("did you mean {suggested}")), "{err}"),
            None => assert!(!err.contains("did you mean"), "{err}"),
        }
    }
    let err = WechatService::builder(config())
        .router(Router::new().registered_tagged("shpo"))
        .build()
        .err()
        .expect("an unscoped service with a typo");
    assert!(err.to_string().contains("\"shpo\""), "{err}");
}

#[actix_rt::test]
async fn handlers_scoped_to_accounts_serve_only_those_accounts() {
    let names = |router: &Router| -> Vec<String> {
        let mut names: Vec<String> = router.infos().map(|i| i.name.to_string()).collect();
        names.sort_unstable();
        names
    };
    for account in ["brand_a", "brand_b", "brand_c"] {
        let mut expected: Vec<String> = HANDLERS
            .iter()
            .filter(|name| {
                SCOPED
                    .iter()
                    .find(|(scoped, _)| scoped == *name)
                    .is_none_or(|(_, accounts)| accounts.contains(&account))
            })
            .map(|name| name.to_string())
            .collect();
        expected.sort_unstable();
        let router = Router::new().registered_for_account(account);
        assert_eq!(names(&router), expected, "{account}");
        // Each account's routes build on their own.
        router.build().expect(account);
    }
    let count = |account| {
        Router::new()
            .registered_for_account(account)
            .infos()
            .count()
    };
    let unscoped = HANDLERS.len() - SCOPED.len();
    assert_eq!(count("brand_a"), unscoped + 2);
    assert_eq!(count("brand_b"), unscoped + 3);
    assert_eq!(count("brand_c"), unscoped);
    // Exactly as configured: another spelling is another account.
    assert_eq!(count("Brand_A"), unscoped);
    // `registered` takes every untagged handler, whatever its accounts;
    // the tagged one stays out of both.
    assert_eq!(Router::new().registered().infos().count(), HANDLERS.len());
    // Routes already here stay, however they got here: the selection only
    // adds.
    let router = Router::new()
        .handler::<brands::brand_b_menu>()
        .handler::<shop::price>()
        .registered_for_account("brand_a");
    assert_eq!(router.infos().count(), count("brand_a") + 2);

    // Over HTTP: the account's handlers answer, the other account's
    // pushes fall to the unscoped handlers.
    let service = WechatService::builder(config())
        .only(Router::new().registered_for_account("brand_a"))
        .build()
        .expect("brand_a routes");
    let server = TestServer::builder(service)
        .app_data(web::Data::new(Counter::default()))
        .start();
    let sim = sim();
    assert_eq!(text(&server, "会员").await, "会员中心");
    assert_eq!(text(&server, "品牌").await, "brand a");
    assert_eq!(
        send(&sim, &server, SimPush::click("BRAND_B")).await.text(),
        Some("click BRAND_B")
    );
    assert_eq!(
        send(&sim, &server, SimPush::shortvideo("m", "t"))
            .await
            .text(),
        Some("fallback shortvideo")
    );
    server.stop().await;

    let service = WechatService::builder(config())
        .only(Router::new().registered_for_account("brand_b"))
        .build()
        .expect("brand_b routes");
    let server = TestServer::builder(service)
        .app_data(web::Data::new(Counter::default()))
        .start();
    assert_eq!(text(&server, "会员").await, "会员中心");
    assert_eq!(text(&server, "品牌").await, "echo 品牌");
    assert_eq!(
        send(&sim, &server, SimPush::click("BRAND_B")).await.text(),
        Some("brand b menu")
    );
    assert_eq!(
        send(&sim, &server, SimPush::shortvideo("m", "t"))
            .await
            .text(),
        Some("brand b video")
    );
    server.stop().await;
}

#[test]
fn a_handler_scoped_to_an_account_that_is_not_configured_stops_start_up() {
    let config = |name: &str| {
        Config::builder(TOKEN)
            .name(name)
            .path(format!("/wx/{name}"))
            .build()
            .expect("config")
    };
    let accounts = |names: &[&str]| {
        wechat_events::Accounts::new(names.iter().map(|n| config(n))).expect("accounts")
    };
    // brand_b's handlers, with brand_b not configured (brand_c is).
    let err = wechat_events::WechatAccounts::builder(accounts(&["brand_a", "brand_c"]))
        .build()
        .expect_err("built")
        .to_string();
    assert!(
        err.contains(r#"is scoped to account "brand_b" (account = "brand_b"), which is not configured; the accounts are "brand_a", "brand_c""#),
        "{err}"
    );
    // Every account the handlers name is configured: it builds, each
    // account with its own handlers.
    let services = wechat_events::WechatAccounts::builder(accounts(&["brand_a", "brand_b"]))
        .build()
        .expect("built");
    let routes = |account: &str| services.get(account).expect("service").routes().len();
    let unscoped = HANDLERS.len() - SCOPED.len();
    assert_eq!(routes("brand_a"), unscoped + 2);
    assert_eq!(routes("brand_b"), unscoped + 3);
}
