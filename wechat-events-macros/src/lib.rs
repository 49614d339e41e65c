//! Attribute macros that register `wechat-events` handlers: annotate a
//! plain `async fn` anywhere in your binary and `WechatService` finds it.
//!
//! Use them through `wechat_events` (`use wechat_events::on_text;`), which
//! re-exports them and owns everything they expand to: the generated code
//! refers only to `::wechat_events::...` paths, so this crate stays thin
//! codegen and users depend on `wechat-events` alone.
//!
//! ```ignore
//! use wechat_events::{on_event, on_text, Captures, ClickEvent, TextMessage};
//!
//! #[on_text(keyword = "帮助", keyword = "help")]
//! async fn help(_: TextMessage) -> &'static str {
//!     "发送任意文字，我会回复你"
//! }
//!
//! #[on_text(regex = r"^天气\s*(?P<city>\S+)$")]
//! async fn weather(_: TextMessage, caps: Captures) -> String {
//!     format!("{} 晴", caps.name("city").unwrap_or("?"))
//! }
//!
//! #[on_event(Click, key = "COUNT", priority = 1)]
//! async fn count(_: ClickEvent) -> String {
//!     "1".into()
//! }
//!
//! // Only for two of the server's accounts.
//! #[on_text(keyword = "会员", account = "brand_a", account = "brand_b")]
//! async fn members(_: TextMessage) -> &'static str {
//!     "会员中心"
//! }
//! ```
//!
//! Besides its kind and filter, every attribute takes:
//!
//! - `priority = N` (an `i32`, default 0): higher runs first;
//! - `tag = "..."`: the handler is left out of `Router::registered` and
//!   served only by routers that ask for the tag
//!   (`Router::registered_tagged`);
//! - `account = "..."`, repeatable: on a server with several Official
//!   Accounts, the handler serves only the accounts named (by their
//!   configured `name`: 1 to 32 ASCII letters, digits, `_` or `-`, checked
//!   when compiling); without it, it serves every account. Start-up fails
//!   if a handler names an account that is not configured;
//! - `crate = "path"`: where `wechat_events` is, for a crate that
//!   re-exports it.
//!
//! Each attribute keeps the function as written and adds, beside it, a type
//! of the same name (for `Router::handler::<name>()`, needed only for
//! handlers in a library crate) and an `inventory` registration.

mod args;
mod errors;
mod expand;
mod kind_tables;

use proc_macro::TokenStream;

use args::Attr;

/// Handles one kind of event:
/// `#[on_event(Kind, filter?, priority = N?, account = "..."*)]`.
///
/// `Kind` is an event kind — `Subscribe`, `Unsubscribe`, `Scan`,
/// `Location`, `Click`, `View`, `Unknown`, and any the catalog adds — and
/// the handler's first parameter is its type (`ClickEvent` for `Click`).
/// At most one filter:
///
/// - `key = "..."`: the `EventKey` equals this (kinds with a key: `Click`,
///   `View`, `Scan`, `Subscribe`, `Unknown`);
/// - `key_regex = "..."`: the `EventKey` matches this regex (checked when
///   compiling);
/// - `scene = "..."`: the QR-code scene equals this (`Subscribe` through a
///   parameter QR code, `Scan`).
///
/// `account = "..."` (repeatable) serves only those of the server's
/// accounts; without it the handler serves every account.
///
/// ```ignore
/// #[on_event(Click, key = "MENU_HELP")]
/// async fn menu_help(_: ClickEvent, cx: Context) -> String {
///     format!("{} 需要帮助", cx.openid())
/// }
///
/// #[on_event(Subscribe, scene = "spring-poster", priority = 1)]
/// async fn poster_welcome(_: SubscribeEvent) -> &'static str {
///     "欢迎来自海报的朋友"
/// }
/// ```
#[proc_macro_attribute]
pub fn on_event(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::expand(Attr::Event, args.into(), item.into()).into()
}

/// Handles one kind of message:
/// `#[on_message(Kind, priority = N?, account = "..."*)]`.
///
/// `Kind` is a message kind — `Text`, `Image`, `Voice`, `Video`,
/// `ShortVideo`, `Location`, `Link`, `Unknown` — and the handler's first
/// parameter is its type (`ImageMessage` for `Image`). Text filters are
/// written with [`macro@on_text`]. `account = "..."` (repeatable) serves
/// only those of the server's accounts; without it the handler serves every
/// account.
///
/// ```ignore
/// #[on_message(Image)]
/// async fn picture(img: ImageMessage) -> Reply {
///     Reply::image(img.media_id)
/// }
/// ```
#[proc_macro_attribute]
pub fn on_message(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::expand(Attr::Message, args.into(), item.into()).into()
}

/// Handles text messages: `#[on_text(filter?, priority = N?, account = "..."*)]`;
/// the handler takes a `TextMessage` first.
///
/// At most one kind of filter:
///
/// - `keyword = "..."`: the text equals this; repeat it for several
///   keywords (`keyword = "帮助", keyword = "help"`), or write
///   `keywords = ["帮助", "help"]`;
/// - `contains = "..."`: the text contains this;
/// - `regex = "..."`: the text matches this regex (checked when compiling);
///   the handler may take `Captures` to read its groups.
///
/// Without a filter the handler sees every text no other handler takes.
/// `account = "..."` (repeatable) serves only those of the server's
/// accounts; without it the handler serves every account.
///
/// ```ignore
/// #[on_text(regex = r"^天气\s*(?P<city>\S+)$")]
/// async fn weather(_: TextMessage, caps: Captures) -> String {
///     format!("{} 晴", caps.name("city").unwrap_or("?"))
/// }
/// ```
#[proc_macro_attribute]
pub fn on_text(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::expand(Attr::Text, args.into(), item.into()).into()
}

/// Handles whatever no other handler takes:
/// `#[on_fallback(priority = N?, account = "..."*)]`; the handler takes the
/// whole `Push` first. `account = "..."` (repeatable) serves only those of
/// the server's accounts; without it the handler serves every account.
///
/// ```ignore
/// #[on_fallback]
/// async fn anything_else(push: Push) -> String {
///     format!("暂不支持 {}", push.msg_type)
/// }
/// ```
#[proc_macro_attribute]
pub fn on_fallback(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::expand(Attr::Fallback, args.into(), item.into()).into()
}
