//! A slow, LLM-style bot: every text goes to a language model that may
//! take longer than WeChat's five seconds.
//!
//! ```text
//! cargo run --example llm_bot                       # the fake model thinks 8 s
//! LLM_DELAY_MS=20000 cargo run --example llm_bot    # longer than WeChat waits
//! ```
//!
//! The model is a trait ([`Model`]); the example runs offline with
//! [`FakeModel`], which thinks `LLM_DELAY_MS` milliseconds (default 8000)
//! and answers from a canned sentence. Put a real model's HTTP client
//! behind the same trait.
//!
//! What the service does with a slow answer (see docs/slow-handlers.md):
//! WeChat's first tries are held open while the model thinks, and the one
//! open when the answer is ready carries it (an 8 s answer arrives on
//! WeChat's second try). Past the last try (about 14 s), the push is
//! answered with the slow tip (`WECHAT_SLOW_TIP`, here by default
//! 正在思考，请稍候…) and the answer goes late: through the
//! customer-service API when `WECHAT_APPID` and `WECHAT_APPSECRET` are
//! set, else as a pending reply that the user's next message brings.
//! With the API configured, the bot also shows "typing…" while the model
//! thinks.
//!
//! Configured by `Config::from_env()` (`WECHAT_TOKEN`, default `devtoken`,
//! ...) plus `WECHAT_ADDR` (default `127.0.0.1:8080`).

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use actix_web::{web, App, HttpServer};
use wechat_events::api::ApiClient;
use wechat_events::{on_message, on_text, Config, Context, TextMessage, WechatService};

/// Why a model gave no answer (logged with the handler's name; the push is
/// answered `success`).
#[derive(Debug)]
struct ModelError(String);

impl fmt::Display for ModelError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "the model failed: {}", self.0)
    }
}

impl std::error::Error for ModelError {}

/// A language model: a prompt in, an answer out, however long it takes.
trait Model: Send + Sync + 'static {
    fn complete<'a>(
        &'a self,
        prompt: &'a str,
    ) -> Pin<Box<dyn Future<Output = Result<String, ModelError>> + Send + 'a>>;
}

/// The offline stand-in: thinks `delay`, then answers.
struct FakeModel {
    delay: Duration,
}

impl Model for FakeModel {
    fn complete<'a>(
        &'a self,
        prompt: &'a str,
    ) -> Pin<Box<dyn Future<Output = Result<String, ModelError>> + Send + 'a>> {
        Box::pin(async move {
            if prompt.trim().is_empty() {
                return Err(ModelError("an empty prompt".into()));
            }
            tokio::time::sleep(self.delay).await;
            Ok(format!(
                "关于「{prompt}」：我是离线的假模型，想了 {} 毫秒。",
                self.delay.as_millis()
            ))
        })
    }
}

const HELP: &str = "直接发问题给我，我会想一想再回答。\n\
    回答超过 5 秒时微信会先显示「正在思考」，答案稍后送到。";

#[on_text(keyword = "帮助", keyword = "help")]
async fn help(_: TextMessage) -> &'static str {
    HELP
}

/// Every other text is a question for the model.
#[on_message(Text)]
async fn ask(
    msg: TextMessage,
    cx: Context,
    model: web::Data<dyn Model>,
    api: Option<ApiClient>,
) -> Result<String, ModelError> {
    // "typing…" (shown up to 15 s) while the model thinks: only with the
    // API configured, and without delaying the question.
    if let Some(api) = api {
        let openid = cx.openid().to_owned();
        tokio::spawn(async move {
            if let Err(e) = api.typing(&openid, true).await {
                tracing::warn!(error = %e, "typing not shown");
            }
        });
    }
    model.complete(&msg.content).await
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let exit = |e: &dyn fmt::Display| -> ! {
        eprintln!("{e}");
        std::process::exit(2)
    };
    let delay = match std::env::var("LLM_DELAY_MS") {
        Ok(ms) => ms.parse().unwrap_or_else(|e| {
            exit(&format!(
                "LLM_DELAY_MS = {ms:?} is not a number of milliseconds: {e}"
            ))
        }),
        Err(_) => 8000,
    };
    for (name, default) in [
        ("WECHAT_TOKEN", "devtoken"),
        ("WECHAT_SLOW_TIP", "正在思考，请稍候…"),
    ] {
        if std::env::var_os(name).is_none() {
            std::env::set_var(name, default);
        }
    }
    let config = Config::from_env().unwrap_or_else(|e| exit(&e));
    let service = WechatService::builder(config)
        .build()
        .unwrap_or_else(|e| exit(&e));
    let model: Arc<dyn Model> = Arc::new(FakeModel {
        delay: Duration::from_millis(delay),
    });
    let model = web::Data::from(model);
    let addr = std::env::var("WECHAT_ADDR").unwrap_or_else(|_| "127.0.0.1:8080".into());
    let path = service.config().path().to_owned();
    let server = HttpServer::new(move || {
        App::new()
            .app_data(model.clone())
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
