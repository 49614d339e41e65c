//! Shared helpers for the end-to-end tests: signed pushes, the quickstart
//! process, and in-process servers bound on 127.0.0.1.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use wechat_events::signature::sign;

pub const TOKEN: &str = "testtoken";

pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// A process-unique number, for MsgIds, nonces and openids.
pub fn unique() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed) + (std::process::id() as u64) * 1_000_000
}

/// A push query signed with `token`.
pub fn signed_query(token: &str, openid: &str) -> String {
    let timestamp = now().to_string();
    let nonce = unique().to_string();
    let signature = sign(&[token, &timestamp, &nonce]);
    format!("signature={signature}&timestamp={timestamp}&nonce={nonce}&openid={openid}")
}

pub fn event_xml(from: &str, create_time: i64, event: &str, extra: &str) -> String {
    format!(
        "<xml><ToUserName><![CDATA[gh_test]]></ToUserName><FromUserName><![CDATA[{from}]]></FromUserName>\
         <CreateTime>{create_time}</CreateTime><MsgType><![CDATA[event]]></MsgType>\
         <Event><![CDATA[{event}]]></Event>{extra}</xml>"
    )
}

pub fn click_xml(from: &str, create_time: i64, key: &str) -> String {
    event_xml(
        from,
        create_time,
        "CLICK",
        &format!("<EventKey><![CDATA[{key}]]></EventKey>"),
    )
}

pub fn message_xml(from: &str, msg_type: &str, fields: &str) -> String {
    format!(
        "<xml><ToUserName><![CDATA[gh_test]]></ToUserName><FromUserName><![CDATA[{from}]]></FromUserName>\
         <CreateTime>{}</CreateTime><MsgType><![CDATA[{msg_type}]]></MsgType>{fields}<MsgId>{}</MsgId></xml>",
        now(),
        unique()
    )
}

/// `value` as CDATA, with `]]>` split safely.
pub fn cdata(value: &str) -> String {
    let mut out = String::new();
    wechat_events::reply::push_cdata(&mut out, value);
    out
}

pub fn text_xml(from: &str, content: &str) -> String {
    message_xml(
        from,
        "text",
        &format!("<Content>{}</Content>", cdata(content)),
    )
}

/// An answer, as the test sees it.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub body: String,
    pub elapsed: Duration,
}

impl Answer {
    /// The reply's fields (panics unless the body is reply XML).
    pub fn fields(&self) -> wechat_events::Fields {
        assert_eq!(self.status, 200, "body: {}", self.body);
        wechat_events::push::parse_fields(&self.body)
            .unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }

    /// The text content of a text reply.
    pub fn text(&self) -> String {
        let f = self.fields();
        assert_eq!(f.text("MsgType"), Some("text"), "{}", self.body);
        f.text("Content").unwrap_or_default().to_owned()
    }

    /// Whether the answer was `success` (no reply).
    pub fn is_success(&self) -> bool {
        self.status == 200 && self.body == "success"
    }
}

fn client() -> awc::Client {
    awc::Client::builder()
        .timeout(Duration::from_secs(20))
        .finish()
}

pub async fn post(base: &str, query: &str, body: impl Into<String>) -> Answer {
    let started = std::time::Instant::now();
    let mut resp = client()
        .post(format!("{base}?{query}"))
        .insert_header(("Content-Type", "text/xml"))
        .send_body(body.into())
        .await
        .expect("request");
    let bytes = resp.body().limit(1 << 20).await.expect("body");
    Answer {
        status: resp.status().as_u16(),
        body: String::from_utf8_lossy(&bytes).into_owned(),
        elapsed: started.elapsed(),
    }
}

/// POSTs a push signed with `token` from `openid`.
pub async fn push(base: &str, token: &str, openid: &str, body: impl Into<String>) -> Answer {
    post(base, &signed_query(token, openid), body).await
}

pub async fn request(method: awc::http::Method, url: &str) -> Answer {
    let started = std::time::Instant::now();
    let mut resp = client().request(method, url).send().await.expect("request");
    let bytes = resp.body().await.expect("body");
    Answer {
        status: resp.status().as_u16(),
        body: String::from_utf8_lossy(&bytes).into_owned(),
        elapsed: started.elapsed(),
    }
}

/// The quickstart example, running as its own process on a free port.
pub struct Quickstart {
    child: Child,
    pub addr: SocketAddr,
    /// `http://ADDR/wechat`
    pub url: String,
}

impl Drop for Quickstart {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn quickstart_binary() -> PathBuf {
    // target/<profile>/deps/<test binary> -> target/<profile>/examples/quickstart
    let exe = std::env::current_exe().expect("current exe");
    let profile_dir = exe.parent().and_then(|d| d.parent()).expect("target dir");
    let bin = profile_dir
        .join("examples")
        .join(format!("quickstart{}", std::env::consts::EXE_SUFFIX));
    if !bin.exists() {
        let status = Command::new(env!("CARGO"))
            .args(["build", "--example", "quickstart"])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .status()
            .expect("cargo build --example quickstart");
        assert!(status.success(), "building the quickstart failed");
    }
    bin
}

impl Quickstart {
    /// Starts the quickstart with `WECHAT_TOKEN=TOKEN` and the given extra
    /// environment, and waits for its "listening on" line.
    pub fn start(env: &[(&str, &str)]) -> Quickstart {
        let mut cmd = Command::new(quickstart_binary());
        cmd.env_clear()
            .env("WECHAT_TOKEN", TOKEN)
            .env("WECHAT_ADDR", "127.0.0.1:0")
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            // The quickstart's logs (and the PANIC demo's panic message) are
            // noise in test output; QUICKSTART_LOGS=1 shows them.
            .stderr(if std::env::var_os("QUICKSTART_LOGS").is_some() {
                Stdio::inherit()
            } else {
                Stdio::null()
            });
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("spawn quickstart");
        let stdout = child.stdout.take().expect("stdout");
        let mut lines = BufReader::new(stdout).lines();
        let addr = loop {
            let line = lines
                .next()
                .expect("quickstart exited before listening")
                .expect("read stdout");
            if let Some(rest) = line.strip_prefix("listening on http://") {
                let addr = rest.split('/').next().expect("addr");
                break addr.parse::<SocketAddr>().expect("socket addr");
            }
        };
        // Keep draining stdout so the child never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        Quickstart {
            child,
            addr,
            url: format!("http://{addr}/wechat"),
        }
    }
}

/// An in-process server for a service built by the test.
pub struct Server {
    pub addr: SocketAddr,
    pub url: String,
    handle: actix_web::dev::ServerHandle,
}

impl Server {
    /// Binds `service` (plus `configure`d app data) on 127.0.0.1:0.
    pub fn start<F>(service: wechat_events::WechatService, configure: F) -> Server
    where
        F: Fn(&mut actix_web::web::ServiceConfig) + Send + Clone + 'static,
    {
        let path = service.config().path().to_owned();
        let server = actix_web::HttpServer::new(move || {
            actix_web::App::new()
                .configure(configure.clone())
                .service(service.clone())
        })
        .workers(2)
        .bind("127.0.0.1:0")
        .expect("bind");
        let addr = server.addrs()[0];
        let server = server.run();
        let handle = server.handle();
        actix_rt::spawn(server);
        Server {
            addr,
            url: format!("http://{addr}{path}"),
            handle,
        }
    }

    pub async fn stop(self) {
        self.handle.stop(false).await;
    }
}

/// The EncodingAESKey of the official sample (its last character has
/// non-zero trailing bits: a strict base64 decoder rejects it).
pub const AES_KEY: &str = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG";
pub const APPID: &str = "wx2c2769f8efd9abc2";

/// A secure-mode push: the query (with `encrypt_type=aes` and a
/// `msg_signature` over `encrypt`) and the envelope body.
pub fn encrypted_push(token: &str, openid: &str, encrypt: &str) -> (String, String) {
    let timestamp = now().to_string();
    let nonce = unique().to_string();
    let signature = sign(&[token, &timestamp, &nonce]);
    let msg_signature = wechat_events::crypto::msg_signature(token, &timestamp, &nonce, encrypt);
    let query = format!(
        "signature={signature}&timestamp={timestamp}&nonce={nonce}&openid={openid}&encrypt_type=aes&msg_signature={msg_signature}"
    );
    let body = format!("<xml><ToUserName><![CDATA[gh_test]]></ToUserName><Encrypt><![CDATA[{encrypt}]]></Encrypt></xml>");
    (query, body)
}

/// Opens an encrypted reply: checks its MsgSignature and decrypts it.
pub fn open_reply(
    token: &str,
    key: &str,
    appid: &str,
    body: &str,
) -> Result<String, wechat_events::crypto::CryptoError> {
    use wechat_events::crypto::{decrypt, verify_msg_signature, AesKey};
    let fields = wechat_events::push::parse_fields(body).expect("reply envelope is XML");
    let get = |n: &str| {
        fields
            .text(n)
            .unwrap_or_else(|| panic!("envelope lacks {n}: {body}"))
            .to_owned()
    };
    let encrypt = get("Encrypt");
    verify_msg_signature(
        token,
        &get("TimeStamp"),
        &get("Nonce"),
        &encrypt,
        &get("MsgSignature"),
    )?;
    Ok(decrypt(&AesKey::from_encoding_aes_key(key)?, &encrypt, Some(appid))?.message)
}

/// `query` with parameter `name` set to `value` (added if absent).
pub fn with_param(query: &str, name: &str, value: &str) -> String {
    let mut parts: Vec<String> = query
        .split('&')
        .filter(|p| !p.starts_with(&format!("{name}=")))
        .map(str::to_owned)
        .collect();
    parts.push(format!("{name}={value}"));
    parts.join("&")
}

/// A compatible-mode body: the plaintext fields of `plain_xml` beside `<Encrypt>`.
pub fn compatible_body(plain_xml: &str, encrypt: &str) -> String {
    let inner = plain_xml
        .trim()
        .strip_prefix("<xml>")
        .and_then(|s| s.strip_suffix("</xml>"))
        .expect("an <xml> document");
    format!("<xml>{inner}<Encrypt><![CDATA[{encrypt}]]></Encrypt></xml>")
}
