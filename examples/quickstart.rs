//! The quickstart bot: every kind of push the runtime models, answered.
//!
//! Each handler is a plain `async fn` with a handler attribute
//! (`#[on_text]`, `#[on_message]`, `#[on_event]`); `WechatService` finds
//! them all by itself, so `main` only configures and serves.
//!
//! ```text
//! cargo run --example quickstart
//! ```
//!
//! Configured by `Config::from_env()` (`WECHAT_TOKEN`, `WECHAT_MODE`, ...)
//! plus `WECHAT_ADDR` (default `127.0.0.1:8080`; a bad value stops it with
//! a message naming the variable) and `RUST_LOG`. Without
//! `WECHAT_TOKEN` it uses a development token and says so. On start it
//! prints `listening on http://ADDR/PATH` with the bound address (use
//! `WECHAT_ADDR=127.0.0.1:0` for any free port).
//!
//! With `WECHAT_CONFIG=accounts.toml` it serves every account of that
//! file (see `examples/accounts.example.toml` and docs/accounts.md),
//! each at its own path, printing one `listening on` line per
//! account; `帮助` then names the account on its first line. A mistake in
//! the file stops it with exit status 2 and a message naming the account
//! and the key. With an `[open_platform]` table it also serves that
//! third-party platform's two URLs (printed too), answering every account
//! that authorizes it with the same handlers; `帮助` then names the
//! authorizer's AppID.
//!
//! With `WECHAT_REDIS_URL` set (and `WECHAT_REDIS_PREFIX`, default
//! `wechat`), several quickstarts behind one load balancer share through
//! that Redis the users' sessions (the last location `位置` answers), the
//! retry de-duplication, the pending replies and the replay bindings.
//! Without it, pending replies and sessions survive a restart in
//! `WECHAT_STATE_DIR`, by default `.wechat-state/quickstart` in the
//! working directory (one instance per directory); the rest is in memory.
//!
//! `WECHAT_METRICS=1` counts every push into Prometheus metrics served at
//! `GET /metrics` (see docs/metrics.md), and prints that URL at start.
//!
//! `GET /healthz` answers 200 `ok`: point a load balancer's or an
//! orchestrator's health check at it (see docs/deploy.md).
//!
//! On SIGTERM or Ctrl-C it shuts down gracefully: it refuses new
//! connections at once (so WeChat and a load balancer try elsewhere
//! instead of waiting out their timeout), lets every handler finish — those answering a push and
//! those running on past their deadline, whose late replies are still
//! delivered — for up to `WECHAT_SHUTDOWN_GRACE_S` (default 10 s), answers
//! what is in flight, and exits 0.
//!
//! `等 N` shows the slow-handler path (see docs/slow-handlers.md):
//! set `WECHAT_SLOW_TIP` for the text answering a push whose handler
//! outlives WeChat's tries, and `WECHAT_APPID` + `WECHAT_APPSECRET` to
//! send late replies through the customer-service API. `长文 N` shows how
//! a text over WeChat's 2047 bytes is cut into parts.
//!
//! `WECHAT_INSPECTOR=1` mounts the inspector at `/_inspector` (its URL is
//! printed at start): the pushes live, and a form sending simulated ones
//! (docs/inspector.md). Only loopback clients see it, unless they give
//! `WECHAT_INSPECTOR_TOKEN`.

use std::net::{SocketAddr, TcpListener, ToSocketAddrs};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use actix_web::dev::ServerHandle;
use actix_web::{web, App, HttpServer};
use wechat_events::inspector::Inspector;
use wechat_events::metrics::Metrics;
use wechat_events::service::stop_listening;
use wechat_events::session::SessionError;
use wechat_events::{
    on_event, on_message, on_text, Accounts, Article, Captures, ClickEvent, Context, ImageMessage,
    LocationEvent, Reply, ScanEvent, Session, SubscribeEvent, TextMessage, WechatAccounts,
};

/// The token used when `WECHAT_TOKEN` is not set.
const DEV_TOKEN: &str = "devtoken";
/// Where `WECHAT_INSPECTOR=1` mounts the inspector.
const INSPECTOR_PATH: &str = "/_inspector";

/// Where pending replies and sessions are kept when neither
/// `WECHAT_STATE_DIR` nor `WECHAT_REDIS_URL` is set.
const DEFAULT_STATE_DIR: &str = ".wechat-state/quickstart";

/// Where the bot listens when `WECHAT_ADDR` is not set.
const DEFAULT_ADDR: ([u8; 4], u16) = ([127, 0, 0, 1], 8080);

const HELP: &str = "可用指令:\n\
    帮助 / help - 显示本帮助\n\
    图文 - 回复一篇图文\n\
    位置 - 你最后上报的位置\n\
    其他文字 - 原样回显 (收到:...)\n\
    发送图片 - 原图奉还\n\
    等 N - 等 N 秒 (0-60) 再回复, 演示慢处理\n\
    长文 N - 回复 N 个字 (1-20000) 的长文, 演示分段 (回复「继续」看下一段)\n\
    菜单 COUNT / SLOW / PANIC - 计数 / 慢处理 / 崩溃演示";

/// What this instance counts (per process; the users' locations are in
/// their sessions).
#[derive(Default)]
struct State {
    count_clicks: AtomicU64,
    /// Whether the accounts come from an accounts file (`WECHAT_CONFIG`):
    /// `帮助` then says which account answers.
    named_accounts: bool,
}

/// The session value holding the user's last reported `(latitude, longitude)`.
const LOCATION: &str = "location";

#[on_text(keyword = "帮助", keyword = "help")]
async fn help(_: TextMessage, cx: Context, state: web::Data<State>) -> String {
    match (cx.authorizer(), state.named_accounts) {
        // An account served through the third-party platform.
        (Some(appid), _) => format!("{appid}\n{HELP}"),
        (None, true) => format!("{}\n{HELP}", cx.account_name()),
        (None, false) => HELP.to_owned(),
    }
}

#[on_text(keyword = "图文")]
async fn news(_: TextMessage) -> Reply {
    Reply::news([Article::new(
        "wechat-events 快速上手",
        "https://github.com/wechat-events/wechat-events",
    )
    .description("用 Rust 接收并回复公众号推送")
    .pic_url("https://example.com/cover.png")])
}

#[on_text(keyword = "位置")]
async fn where_am_i(_: TextMessage, session: Session) -> Result<String, SessionError> {
    Ok(match session.get::<(f64, f64)>(LOCATION).await? {
        Some((lat, lng)) => format!("你的位置: {lat},{lng}"),
        None => "还没有收到你的位置".to_owned(),
    })
}

/// Any other text.
#[on_message(Text)]
async fn echo(msg: TextMessage) -> String {
    format!("收到:{}", msg.content)
}

#[on_message(Image)]
async fn image(msg: ImageMessage) -> Reply {
    Reply::image(msg.media_id)
}

#[on_event(Subscribe)]
async fn subscribe(ev: SubscribeEvent) -> String {
    match ev.scene {
        Some(scene) => format!("欢迎关注，场景值 {scene}"),
        None => "欢迎关注".to_owned(),
    }
}

#[on_event(Scan)]
async fn scan(ev: ScanEvent) -> String {
    format!("扫码场景 {}", ev.scene)
}

#[on_event(Location)]
async fn remember_location(ev: LocationEvent, session: Session) -> Result<(), SessionError> {
    session.set(LOCATION, &(ev.latitude, ev.longitude)).await
}

#[on_event(Click, key = "COUNT")]
async fn count(_: ClickEvent, state: web::Data<State>) -> String {
    (state.count_clicks.fetch_add(1, Ordering::SeqCst) + 1).to_string()
}

#[on_event(Click, key = "SLOW")]
async fn slow(_: ClickEvent) -> &'static str {
    tokio::time::sleep(Duration::from_secs(10)).await;
    "终于好了"
}

/// `等 N`: takes N seconds (0–60), as a slow lookup would. WeChat waits
/// 5 s per try: the service holds its first two tries open, so up to
/// about 14 s the reply comes in the chat; later, it arrives through the
/// customer-service API (`WECHAT_APPSECRET` set) or with the user's next
/// message. See docs/slow-handlers.md.
#[on_text(regex = r"^等\s*(\d{1,3})\s*(秒)?$")]
async fn wait(_: TextMessage, caps: Captures) -> String {
    match caps.get(1).and_then(|n| n.parse::<u64>().ok()) {
        Some(n) if n <= 60 => {
            tokio::time::sleep(Duration::from_secs(n)).await;
            format!("等了 {n} 秒")
        }
        _ => "最多等 60 秒".to_owned(),
    }
}

/// `长文 N`: a text of exactly N characters (1–20,000), numbered Chinese
/// sentences (`第1句……。`) without spaces or line breaks. Over WeChat's
/// 2047 bytes (683 characters and more), the service cuts it: the first
/// part answers, the rest comes through the customer-service API (with
/// `WECHAT_APPSECRET`, within the user's quota) or one part per message
/// the user sends (`继续`, `WECHAT_CONTINUE_KEYWORD`).
#[on_text(regex = r"^长文\s*(\d{1,6})$")]
async fn long_text(_: TextMessage, caps: Captures) -> String {
    match caps.get(1).and_then(|n| n.parse::<usize>().ok()) {
        Some(n @ 1..=20_000) => (1..)
            .flat_map(|i| format!("第{i}句……。").chars().collect::<Vec<_>>())
            .take(n)
            .collect(),
        _ => "长文 N: N 为 1 到 20000".to_owned(),
    }
}

#[on_event(Click, key = "PANIC")]
async fn panics(_: ClickEvent) -> &'static str {
    panic!("the PANIC menu item was clicked")
}

/// Any other menu click.
#[on_event(Click)]
async fn menu(ev: ClickEvent) -> String {
    format!("点击菜单 {}", ev.key)
}

// ---- the menu's scanner, photo and location pickers ----

#[on_event(ScancodeWaitmsg)]
async fn scanned(ev: wechat_events::ScancodeWaitmsgEvent) -> String {
    format!("扫码结果: {}", ev.scan_code_info.scan_result)
}

#[on_event(LocationSelect)]
async fn place_picked(ev: wechat_events::LocationSelectEvent) -> String {
    format!("你选择了: {}", ev.send_location_info.label)
}

fn photos_received(info: &wechat_events::event::SendPicsInfo) -> String {
    let count = info.count.unwrap_or(info.pic_list.len() as u32);
    format!("收到 {count} 张图片")
}

#[on_event(PicSysphoto)]
async fn photos_camera(ev: wechat_events::PicSysphotoEvent) -> String {
    photos_received(&ev.send_pics_info)
}

#[on_event(PicPhotoOrAlbum)]
async fn photos_album(ev: wechat_events::PicPhotoOrAlbumEvent) -> String {
    photos_received(&ev.send_pics_info)
}

#[on_event(PicWeixin)]
async fn photos_weixin(ev: wechat_events::PicWeixinEvent) -> String {
    photos_received(&ev.send_pics_info)
}

// ---- jobs and verification: logged, answered `success` ----

#[on_event(TemplateSendJobFinish)]
async fn template_sent(ev: wechat_events::TemplateSendJobFinishEvent) {
    tracing::info!(msg_id = ?ev.msg_id, status = %ev.status, "template message finished");
}

#[on_event(MassSendJobFinish)]
async fn mass_sent(ev: wechat_events::MassSendJobFinishEvent) {
    tracing::info!(msg_id = ?ev.msg_id, status = %ev.status, sent = ?ev.sent_count, errors = ?ev.error_count, "mass send finished");
}

#[on_event(PublishJobFinish)]
async fn published(ev: wechat_events::PublishJobFinishEvent) {
    let info = &ev.publish_event_info;
    tracing::info!(publish_id = ?info.publish_id, status = ?info.publish_status, "publishing finished");
}

/// The verification events (`qualification_verify_*`, `naming_verify_*`,
/// `annual_renew`, `verify_expired`): one handler each, all logging.
macro_rules! log_verification {
    ($($name:ident: $kind:ident($ty:ident)),* $(,)?) => {$(
        #[on_event($kind)]
        async fn $name(ev: wechat_events::$ty, cx: Context) {
            tracing::info!(account = %cx.account(), event = ?ev, "verification event");
        }
    )*};
}

log_verification! {
    qualification_verified: QualificationVerifySuccess(QualificationVerifySuccessEvent),
    qualification_refused: QualificationVerifyFail(QualificationVerifyFailEvent),
    naming_verified: NamingVerifySuccess(NamingVerifySuccessEvent),
    naming_refused: NamingVerifyFail(NamingVerifyFailEvent),
    annual_renew_due: AnnualRenew(AnnualRenewEvent),
    verification_expired: VerifyExpired(VerifyExpiredEvent),
}

/// Whether the variable `name` is set to `1` (or `true`).
fn env_flag(name: &str) -> bool {
    std::env::var(name).is_ok_and(|v| matches!(v.trim(), "1" | "true"))
}

fn accounts() -> Result<Accounts, wechat_events::ConfigError> {
    let env = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
    // With an accounts file, each account's token is in it.
    let from_file = env("WECHAT_CONFIG").is_some();
    if !from_file && env("WECHAT_TOKEN").is_none() {
        println!("WECHAT_TOKEN is not set: using the development token {DEV_TOKEN:?}");
    }
    Accounts::from_lookup(|name| match name {
        "WECHAT_TOKEN" if !from_file => env(name).or_else(|| Some(DEV_TOKEN.to_owned())),
        // Redis, when set, keeps them instead.
        "WECHAT_STATE_DIR" => env(name).or_else(|| {
            env("WECHAT_REDIS_URL")
                .is_none()
                .then(|| DEFAULT_STATE_DIR.to_owned())
        }),
        _ => env(name),
    })
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        // Colours for a terminal, not for a log file or a pipe.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let accounts = accounts().unwrap_or_else(|e| {
        eprintln!("{e}");
        std::process::exit(2);
    });
    let named_accounts = accounts.file().is_some();
    // A server setting: every account (and the platform) has the same.
    let grace = (accounts.configs().first())
        .or(accounts.open_platform().map(|p| p.config()))
        .map(|config| config.shutdown_grace())
        .unwrap_or_default();
    let addr_setting = match named_accounts {
        true => "the address ([server] addr, or WECHAT_ADDR)",
        false => "WECHAT_ADDR",
    };
    let addr = listen_addr(accounts.addr(), addr_setting).unwrap_or_else(|e| {
        eprintln!("{e}");
        std::process::exit(2);
    });
    // Every `#[on_...]` handler above is registered by `build()` for every
    // account, which also logs each account's handler table and refuses two
    // handlers for one keyword or key.
    // `WECHAT_METRICS=1`: every account's pushes counted, scraped at
    // `/metrics` (see docs/metrics.md).
    let metrics = (std::env::var("WECHAT_METRICS").as_deref() == Ok("1")).then(Metrics::new);
    // `WECHAT_INSPECTOR=1`: the pushes live, and a form sending simulated
    // ones, at /_inspector (loopback only, or WECHAT_INSPECTOR_TOKEN; see
    // docs/inspector.md).
    let inspector = env_flag("WECHAT_INSPECTOR").then(Inspector::from_env);
    let mut builder = WechatAccounts::builder(accounts);
    if let Some(metrics) = &metrics {
        builder = builder.metrics(metrics);
    }
    if let Some(inspector) = &inspector {
        builder = builder.inspector(inspector);
    }
    let services = builder.build().unwrap_or_else(|e| {
        eprintln!("{e}");
        std::process::exit(2);
    });
    let state = web::Data::new(State {
        named_accounts,
        ..State::default()
    });
    // Bound here rather than by `HttpServer::bind`, which keeps its sockets
    // to itself: on SIGTERM these are shut down, so that new connections
    // are refused during the drain instead of waiting in the backlog.
    let listeners = bind(&addr).unwrap_or_else(|e| {
        eprintln!("cannot listen on {addr_setting} = {}: {e}", addr[0]);
        std::process::exit(1);
    });
    let app_services = services.clone();
    let scraped = metrics.clone();
    let inspected = inspector.clone();
    let server = HttpServer::new(move || {
        let mut app = App::new()
            .app_data(state.clone())
            // For a load balancer or an orchestrator: 200 `ok` while serving.
            .route("/healthz", web::get().to(healthz))
            .service(app_services.clone());
        if let Some(metrics) = &scraped {
            app = app.service(metrics.service("/metrics"));
        }
        if let Some(inspector) = &inspected {
            app = app.service(inspector.service(INSPECTOR_PATH));
        }
        app
    })
    .workers(2)
    // Signals are handled below, so handlers can finish first.
    .disable_signals()
    .shutdown_timeout(grace.as_secs().max(1));
    let server = listeners
        .iter()
        .try_fold(server, |server, listener| {
            server.listen(listener.try_clone()?)
        })
        .unwrap_or_else(|e| {
            eprintln!("cannot listen on {addr_setting} = {}: {e}", addr[0]);
            std::process::exit(1);
        });
    for service in services.services() {
        let config = service.config();
        let (path, mode) = (config.path(), config.mode());
        for bound in server.addrs() {
            match named_accounts {
                true => println!(
                    "listening on http://{bound}{path} ({mode} mode, account {})",
                    config.name()
                ),
                false => println!("listening on http://{bound}{path} ({mode} mode)"),
            }
        }
    }
    if metrics.is_some() {
        for bound in server.addrs() {
            println!("metrics on http://{bound}/metrics");
        }
    }
    if inspector.is_some() {
        for bound in server.addrs() {
            println!("listening on http://{bound}{INSPECTOR_PATH} (the inspector)");
        }
    }
    if let Some(platform) = services.open_platform() {
        let config = platform.config();
        for bound in server.addrs() {
            println!(
                "listening on http://{bound}{} (third-party platform {}: authorization events)",
                config.auth_path(),
                config.appid()
            );
            println!(
                "listening on http://{bound}{} (third-party platform {}: its accounts' pushes; \
                 $APPID$ in WeChat's console)",
                config.message_path().replace("{appid}", "$APPID$"),
                config.appid()
            );
        }
    }
    let server = server.run();
    actix_web::rt::spawn(shut_down_on_signal(
        server.handle(),
        listeners,
        services,
        grace,
    ));
    server.await
}

/// `GET /healthz`: `ok` while the server accepts connections (on SIGTERM
/// it stops accepting at once, so a load balancer's check fails and it
/// sends the traffic elsewhere while the handlers drain).
async fn healthz() -> &'static str {
    "ok"
}

/// Listens on every address of `addrs` that can be bound, as
/// `HttpServer::bind` does; an error when none can.
fn bind(addrs: &[SocketAddr]) -> std::io::Result<Vec<TcpListener>> {
    let mut listeners = Vec::new();
    let mut error = None;
    for addr in addrs {
        match TcpListener::bind(addr) {
            Ok(listener) => listeners.push(listener),
            Err(e) => error = Some(e),
        }
    }
    match error {
        Some(e) if listeners.is_empty() => Err(e),
        _ => Ok(listeners),
    }
}

/// On SIGTERM or Ctrl-C: stop accepting and refuse new connections, let
/// handlers finish (up to `grace`), then stop the server, answering what
/// is in flight.
async fn shut_down_on_signal(
    handle: ServerHandle,
    listeners: Vec<TcpListener>,
    services: WechatAccounts,
    grace: Duration,
) {
    let terminate = async {
        #[cfg(unix)]
        {
            use actix_web::rt::signal::unix::{signal, SignalKind};
            match signal(SignalKind::terminate()) {
                Ok(mut sigterm) => {
                    sigterm.recv().await;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "cannot listen for SIGTERM");
                    std::future::pending::<()>().await;
                }
            }
        }
        #[cfg(not(unix))]
        std::future::pending::<()>().await;
    };
    tokio::select! {
        _ = actix_web::rt::signal::ctrl_c() => {}
        _ = terminate => {}
    }
    handle.pause().await;
    for listener in &listeners {
        if let Err(e) = stop_listening(listener) {
            tracing::warn!(
                error = %e,
                "cannot refuse new connections: they wait until the server stops"
            );
        }
    }
    tracing::info!(
        grace_s = grace.as_secs(),
        "shutting down: new connections refused; waiting for handlers"
    );
    services.drain(grace).await;
    handle.stop(true).await;
    tracing::info!("stopped");
}

/// Where to listen: `value` (`host:port`; the accounts file's
/// `[server] addr`, else `WECHAT_ADDR`), default `127.0.0.1:8080`. A bad
/// value is an error naming `setting`.
fn listen_addr(value: Option<&str>, setting: &str) -> Result<Vec<SocketAddr>, String> {
    let Some(value) = value.filter(|v| !v.trim().is_empty()) else {
        return Ok(vec![DEFAULT_ADDR.into()]);
    };
    let bad = |reason: &dyn std::fmt::Display| {
        format!("{setting} = {value:?} is not an address to listen on (host:port, e.g. 127.0.0.1:8080): {reason}")
    };
    let addrs: Vec<SocketAddr> = value
        .trim()
        .to_socket_addrs()
        .map_err(|e| bad(&e))?
        .collect();
    if addrs.is_empty() {
        return Err(bad(&"it resolves to no address"));
    }
    Ok(addrs)
}
