//! The whole request path in-process: query parsing, signature check, body
//! limits, secure-mode decoding, parsing, dedup, dispatch, rendering. Every
//! answer must be below 500, and nothing may panic.
//!
//! Input: a flags byte, then extra query text up to the first `\n`, then
//! the body. The target signs the request with the service's token (so it
//! gets past the signature check) unless told not to, and can wrap the body
//! in a correctly signed secure-mode envelope.
#![no_main]

use actix_web::http::Method;
use actix_web::{test, App};
use libfuzzer_sys::fuzz_target;
use wechat_events::crypto::{encrypt, msg_signature, AesKey};
use wechat_events::signature::sign;
use wechat_events::{
    Article, ClickEvent, Config, Mode, Push, Reply, Router, TextMessage, WechatService,
};

const TOKEN: &str = "fuzztoken";
const ENCODING_AES_KEY: &str = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG";
const APPID: &str = "wxb11529c136998cb6";

const SIGNED: u8 = 1;
const ENCRYPTED: u8 = 2;
const GET: u8 = 4;
const NO_OPENID: u8 = 8;

async fn echo(msg: TextMessage) -> String {
    msg.content
}

async fn menu(click: ClickEvent) -> Reply {
    Reply::news([Article::new(click.key, "https://example.com/").description("]]>")])
}

async fn other(push: Push) -> Option<Reply> {
    (push.msg_type.len() % 2 == 0).then(|| Reply::text(push.from_user.clone()))
}

fn service() -> WechatService {
    let config = Config::builder(TOKEN)
        .mode(Mode::Compatible)
        .aes_key(ENCODING_AES_KEY)
        .appid(APPID)
        .dedup_capacity(1_000)
        // Every input shares a timestamp and nonce within a second: with
        // the replay binding on, all but the first body would stop at 403
        // and the parser, crypto and dispatch below would go unexplored.
        .replay_window(None)
        .build()
        .expect("fuzz config");
    let router = Router::new().on(echo).on(menu).fallback(other);
    WechatService::new(config, router).expect("fuzz routes")
}

thread_local! {
    static SYSTEM: actix_rt::SystemRunner = actix_rt::System::new();
    static SERVICE: WechatService = service();
}

/// Query text as given, with every byte outside a safe set percent-encoded
/// (so the request URI is always valid, while the query keeps whatever
/// keys, repeats and escapes the fuzzer made).
fn escape(extra: &[u8]) -> String {
    let mut out = String::with_capacity(extra.len());
    for &b in extra {
        if b.is_ascii_alphanumeric() || b"-._~=&%+".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fuzz_target!(|data: &[u8]| {
    let Some((&flags, rest)) = data.split_first() else {
        return;
    };
    let (extra, body) = match rest.iter().position(|&b| b == b'\n') {
        Some(i) => (&rest[..i], &rest[i + 1..]),
        None => (&rest[..0], rest),
    };
    let timestamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
        .to_string();
    let nonce = "1234567890";
    let signature = if flags & SIGNED != 0 {
        sign(&[TOKEN, &timestamp, nonce])
    } else {
        "0".repeat(40)
    };
    let mut query = format!("signature={signature}&timestamp={timestamp}&nonce={nonce}");
    if flags & NO_OPENID == 0 {
        query.push_str("&openid=oFuzzUser");
    }
    let body = if flags & ENCRYPTED != 0 {
        let key = AesKey::from_encoding_aes_key(ENCODING_AES_KEY).expect("fixed key");
        let sealed = encrypt(&key, APPID, &String::from_utf8_lossy(body));
        let msg_sig = msg_signature(TOKEN, &timestamp, nonce, &sealed);
        query.push_str(&format!("&encrypt_type=aes&msg_signature={msg_sig}"));
        format!("<xml><ToUserName><![CDATA[gh_fuzz]]></ToUserName><Encrypt><![CDATA[{sealed}]]></Encrypt></xml>")
            .into_bytes()
    } else {
        body.to_vec()
    };
    if !extra.is_empty() {
        query.push('&');
        query.push_str(&escape(extra));
    }
    let method = if flags & GET != 0 {
        Method::GET
    } else {
        Method::POST
    };
    let service = SERVICE.with(WechatService::clone);
    let path = service.config().path().to_owned();
    SYSTEM.with(|system| {
        system.block_on(async move {
            let app = test::init_service(App::new().service(service)).await;
            let req = test::TestRequest::default()
                .method(method)
                .uri(&format!("{path}?{query}"))
                .set_payload(body)
                .to_request();
            let resp = test::call_service(&app, req).await;
            assert!(
                !resp.status().is_server_error(),
                "answered {} to {query:?}",
                resp.status()
            );
        })
    });
});
