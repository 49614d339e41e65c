//! # wechat-events
//!
//! Receive and answer WeChat Official Account (公众号) pushes — events and
//! user messages — with actix-web.
//!
//! The shortest complete bot: one handler, mounted, served.
//!
//! ```no_run
//! use actix_web::{App, HttpServer};
//! use wechat_events::{on_message, Config, TextMessage, WechatService};
//!
//! #[on_message(Text)] // every text message a user sends
//! async fn echo(msg: TextMessage) -> String {
//!     format!("收到:{}", msg.content) // the passive reply, shown in the chat
//! }
//!
//! #[actix_web::main]
//! async fn main() -> std::io::Result<()> {
//!     tracing_subscriber::fmt::init(); // the library logs through `tracing`: without this, nothing shows
//!     let config = Config::from_env().expect("WECHAT_TOKEN: the Token of WeChat's console");
//!     let service = WechatService::builder(config).build().expect("handlers");
//!     println!("listening on http://127.0.0.1:8080{}", service.config().path());
//!     HttpServer::new(move || App::new().service(service.clone()))
//!         .bind(("127.0.0.1", 8080))?
//!         .run()
//!         .await
//! }
//! ```
//!
//! In a checkout of [the repository](https://github.com/wechat-events/wechat-events):
//!
//! ```text
//! cargo run --example quickstart          # the example bot on http://127.0.0.1:8080/wechat
//! cargo test --workspace --all-features   # the whole test suite
//! ```
//!
//! Your `Cargo.toml` needs `wechat-events`, `actix-web = "4"`, `tokio` (for
//! your handlers' timers and tasks) and `tracing-subscriber = "0.3"`; the
//! repository's README has the lines, and its `docs/` one page per topic:
//! handlers, configuration, secure mode, slow handlers, several accounts,
//! third-party platforms, Redis, deploying, testing.
//!
//! The service verifies WeChat's signatures, decrypts secure-mode pushes,
//! parses the XML into typed values, runs each push's handler once however
//! often WeChat retries it, answers within WeChat's 5-second window even
//! when a handler is slow, and renders the passive reply (encrypted when
//! the push was). Handlers are attributes ([`on_text`], [`on_event`],
//! [`on_message`], [`on_fallback`]) found by the service without a
//! `Router`, or routes given to a [`Router`] in code:
//!
//! ```no_run
//! use actix_web::{App, HttpServer};
//! use wechat_events::{ClickEvent, Config, Reply, Router, SubscribeEvent, TextMessage, WechatService};
//!
//! async fn welcome(_: SubscribeEvent) -> &'static str { "欢迎关注" }
//! async fn echo(msg: TextMessage) -> String { format!("收到:{}", msg.content) }
//! async fn menu(click: ClickEvent) -> String { format!("点击菜单 {}", click.key) }
//!
//! #[actix_web::main]
//! async fn main() -> std::io::Result<()> {
//!     tracing_subscriber::fmt::init();
//!     let router = Router::new()
//!         .on(welcome)
//!         .keyword_reply("帮助", Reply::text("发送任意文字，我会回复你"))
//!         .on(echo)
//!         .on(menu);
//!     let service = WechatService::new(Config::from_env().expect("config"), router).expect("routes");
//!     HttpServer::new(move || App::new().service(service.clone()))
//!         .bind(("127.0.0.1", 8080))?
//!         .run()
//!         .await
//! }
//! ```
//!
//! The layers, each usable on its own and each importing only those
//! below it: [`kinds`] (which pushes exist) → [`event`] and [`message`]
//! (typed values) → [`xml`] (reading and writing WeChat's XML) →
//! [`push`] (XML to [`Push`]) → [`payload`] → [`handler`] (handlers and
//! extractors) → [`router`] (dispatch) → [`registry`] (attribute
//! handlers) → [`service`] (the actix glue, the only module that knows
//! HTTP). Beside them: [`signature`] and [`query`] (verification),
//! [`crypto`] (secure mode), [`replay`] (replay protection), [`dedup`]
//! (retry de-duplication), [`session`] (per-user sessions) and [`reply`]
//! (rendering). With the `redis` feature, `redis` shares the replay
//! bindings, the sessions and the API token between instances; with the
//! `state` feature, `state` keeps pending replies and sessions in a
//! directory across restarts (`WECHAT_STATE_DIR`).
//!
//! With the `testing` feature, `testing` plays the WeChat server: signed,
//! optionally encrypted pushes sent to a URL or an in-process app, answers
//! decoded back into [`Reply`]. The `cli` feature adds the `wechat-sim`
//! command-line simulator built on it. With the `inspector` feature,
//! `inspector` is a page showing the last pushes live, with a form that
//! sends simulated ones to the service itself.

#![warn(missing_docs)]
// docs.rs (nightly, `--cfg docsrs`): every item behind a feature shows the
// feature it needs. `doc_cfg` labels them from their `#[cfg]`s by itself
// (it absorbed `doc_auto_cfg`), so no item repeats its feature by hand.
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod accounts;
#[cfg(feature = "api")]
pub mod api;
#[cfg(feature = "api")]
pub mod component;
pub mod config;
pub mod crypto;
pub mod dedup;
pub mod event;
mod expiring;
pub mod fields;
pub mod handler;
#[cfg(feature = "inspector")]
pub mod inspector;
pub mod kinds;
pub mod lifecycle;
pub mod message;
#[cfg(feature = "metrics")]
pub mod metrics;
mod observe;
mod panics;
pub mod payload;
pub mod pending;
pub mod push;
pub mod query;
pub mod quota;
#[cfg(feature = "redis")]
pub mod redis;
pub mod registry;
pub mod replay;
pub mod reply;
pub mod router;
pub mod service;
pub mod session;
pub mod signature;
#[cfg(any(feature = "testing", feature = "inspector"))]
mod sim;
pub mod split;
#[cfg(feature = "state")]
pub mod state;
#[cfg(feature = "testing")]
pub mod testing;
pub mod xml;

#[doc(hidden)]
#[path = "private.rs"]
pub mod __private;

// The crate root holds what a bot author writes; everything else stays in
// its module (`push::parse`, `dedup::Status`, `fields::Value`, ...).
pub use accounts::{Accounts, WechatAccounts};
pub use config::{Config, ConfigError, Mode};
// Events and messages: each push kind, its enum and the unknown one; the
// types nested in them (`event::ScanCodeInfo`, `event::Beacon`, ...) stay
// in their modules.
pub use event::{
    AnnualRenewEvent, CardNotPassCheckEvent, CardPassCheckEvent, CardPayOrderEvent,
    CardSkuRemindEvent, ClickEvent, Event, KfCloseSessionEvent, KfCreateSessionEvent,
    KfSwitchSessionEvent, LocationEvent, LocationSelectEvent, MassSendJobFinishEvent,
    MerchantOrderEvent, NamingVerifyFailEvent, NamingVerifySuccessEvent, PicPhotoOrAlbumEvent,
    PicSysphotoEvent, PicWeixinEvent, PoiCheckNotifyEvent, PublishJobFinishEvent,
    QualificationVerifyFailEvent, QualificationVerifySuccessEvent, ScanEvent, ScancodePushEvent,
    ScancodeWaitmsgEvent, ShakearoundUserShakeEvent, SubmitMembercardUserInfoEvent, SubscribeEvent,
    SubscribeMsgChangeEvent, SubscribeMsgPopupEvent, SubscribeMsgSentEvent,
    SubscribeScanProductEvent, TemplateSendJobFinishEvent, UnknownEvent, UnsubscribeEvent,
    UpdateMemberCardEvent, UserAuthorizationRevokeEvent, UserConsumeCardEvent, UserDelCardEvent,
    UserEnterSessionFromCardEvent, UserEnterTempsessionEvent, UserGetCardEvent,
    UserGiftingCardEvent, UserInfoModifiedEvent, UserPayFromPayCellEvent,
    UserScanProductAsyncEvent, UserScanProductEnterSessionEvent, UserScanProductEvent,
    UserScanProductVerifyActionEvent, UserViewCardEvent, VerifyExpiredEvent, ViewEvent,
    ViewMiniprogramEvent, WifiConnectedEvent,
};
pub use handler::{Captures, Context, ExtractError, FromPush, IntoReply, Parts};
pub use message::{
    ImageMessage, LinkMessage, LocationMessage, Message, MiniProgramPageMessage, ShortVideoMessage,
    TextMessage, UnknownMessage, VideoMessage, VoiceMessage,
};
pub use push::Push;
pub use registry::RegisteredHandler;
pub use reply::{Article, Music, Reply};
pub use router::{Route, Router};
pub use service::{LateReply, WechatService};
pub use session::Session;
pub use wechat_events_macros::{on_event, on_fallback, on_message, on_text};
