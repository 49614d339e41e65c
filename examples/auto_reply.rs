//! A keyword auto-reply bot driven by a table, like the MP console's
//! 自动回复 page: a subscribe greeting, keyword rules (exact or contains)
//! answered with a text, an image, a voice clip, a video or news, and a
//! reply to every other message.
//!
//! ```text
//! cargo run --example auto_reply                       # examples/auto_reply.toml
//! AUTO_REPLY_FILE=my-replies.toml cargo run --example auto_reply
//! ```
//!
//! The rules are data, so they go through the builder API
//! (`Router::keyword` / `Router::contains`) rather than attributes: one
//! route per keyword, each answering its rule's reply. Exact keywords win
//! over `contains` ones; among `contains` rules, the first in the file
//! wins. A mistake in the file (a reply type that does not exist, a rule
//! without keywords, a keyword given twice) stops start-up with exit
//! status 2 and a message naming the rule.
//!
//! Configured by `Config::from_env()` (`WECHAT_TOKEN`, default
//! `devtoken`; ...) plus `WECHAT_ADDR` (default `127.0.0.1:8080`).

use actix_web::{web, App, HttpServer};
use serde::Deserialize;
use wechat_events::{Config, Reply, Route, Router, SubscribeEvent, TextMessage, WechatService};

/// The table: `examples/auto_reply.toml` shows every part.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Table {
    /// 被关注回复.
    subscribe: Option<Reply>,
    /// 收到消息回复: any message no rule answers.
    default: Option<Reply>,
    /// 关键词回复.
    #[serde(default)]
    rules: Vec<Rule>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Rule {
    name: String,
    keywords: Vec<Keyword>,
    reply: Reply,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Keyword {
    text: String,
    #[serde(rename = "match")]
    matching: Matching,
}

/// 全匹配 or 半匹配.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Matching {
    Exact,
    Contains,
}

/// Reads the table at `path`; an error names the file and what is wrong.
fn load(path: &str) -> Result<Table, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))?;
    let table: Table = toml::from_str(&text).map_err(|e| format!("{path}: {e}"))?;
    let mut seen = std::collections::HashSet::new();
    for rule in &table.rules {
        if rule.keywords.is_empty() {
            return Err(format!("{path}: rule {:?} has no keywords", rule.name));
        }
        for keyword in &rule.keywords {
            if keyword.text.trim().is_empty() {
                return Err(format!("{path}: rule {:?} has an empty keyword", rule.name));
            }
            if !seen.insert((keyword.text.clone(), keyword.matching)) {
                return Err(format!(
                    "{path}: rule {:?}: keyword {:?} is also an earlier rule's",
                    rule.name, keyword.text
                ));
            }
        }
    }
    Ok(table)
}

/// A router answering the table: one route per keyword, the subscribe
/// greeting and the default reply.
fn router(table: Table) -> Router {
    let mut router = Router::new();
    let count = table.rules.len();
    for (i, rule) in table.rules.into_iter().enumerate() {
        for keyword in rule.keywords {
            let reply = rule.reply.clone();
            let answer = move |_: TextMessage| {
                let reply = reply.clone();
                async move { reply }
            };
            // Exact keywords before every `contains` one, then the first
            // rule of the file first, as the console does.
            let (route, priority) = match keyword.matching {
                Matching::Exact => (Route::new().keywords([keyword.text]), count + 1),
                Matching::Contains => (Route::new().contains(keyword.text), count - i),
            };
            router = router.route(route.priority(priority as i32), answer);
        }
    }
    if let Some(greeting) = table.subscribe {
        router = router.on(move |_: SubscribeEvent| {
            let greeting = greeting.clone();
            async move { greeting }
        });
    }
    if let Some(default) = table.default {
        // Every other message (not events: a menu click or a location
        // report is not something the user said).
        router = router.on(move |_: wechat_events::Message| {
            let default = default.clone();
            async move { default }
        });
    }
    router
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let exit = |e: &dyn std::fmt::Display| -> ! {
        eprintln!("{e}");
        std::process::exit(2)
    };
    let path =
        std::env::var("AUTO_REPLY_FILE").unwrap_or_else(|_| "examples/auto_reply.toml".into());
    let table = load(&path).unwrap_or_else(|e| exit(&e));
    if std::env::var_os("WECHAT_TOKEN").is_none() {
        eprintln!("WECHAT_TOKEN is not set: using the development token devtoken");
        std::env::set_var("WECHAT_TOKEN", "devtoken");
    }
    let config = Config::from_env().unwrap_or_else(|e| exit(&e));
    let service = WechatService::new(config, router(table)).unwrap_or_else(|e| exit(&e));
    let addr = std::env::var("WECHAT_ADDR").unwrap_or_else(|_| "127.0.0.1:8080".into());
    let path = service.config().path().to_owned();
    let server = HttpServer::new(move || {
        App::new()
            .route("/healthz", web::get().to(|| async { "ok" }))
            .service(service.clone())
    })
    .workers(1)
    .bind(&addr)
    .unwrap_or_else(|e| exit(&format!("cannot listen on WECHAT_ADDR = {addr}: {e}")));
    for bound in server.addrs() {
        println!("listening on http://{bound}{path}");
    }
    server.run().await
}
