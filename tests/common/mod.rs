//! Shared helpers for the end-to-end tests: the simulator playing WeChat
//! (`wechat_events::testing`), raw requests for the malformed cases it
//! will not send, the quickstart process, and in-process servers bound on
//! 127.0.0.1.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use wechat_events::signature::sign;
use wechat_events::testing::{Response, SimPush, Simulator};

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

/// The simulator, playing WeChat for a fresh user of an account with `TOKEN`.
pub fn sim() -> Simulator {
    Simulator::new(TOKEN).openid(format!("o_user_{}", unique()))
}

/// [`sim`] in secure mode with [`AES_KEY`] and [`APPID`].
pub fn secure_sim() -> Simulator {
    sim().secure(AES_KEY, APPID).expect("test key")
}

/// Sends `push` and returns the answer, panicking if none came.
pub async fn send(sim: &Simulator, url: &str, push: SimPush) -> Response {
    sim.send(url, &push)
        .await
        .unwrap_or_else(|e| panic!("{push}: {e}"))
}

/// `value` as CDATA, with `]]>` split safely.
pub fn cdata(value: &str) -> String {
    let mut out = String::new();
    wechat_events::xml::push_cdata(&mut out, value);
    out
}

/// An answer to a raw request (see [`post`]), as the test sees it.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub body: String,
    pub elapsed: Duration,
}

impl Answer {
    /// The reply's fields (panics unless the body is reply XML).
    pub fn fields(&self) -> wechat_events::fields::Fields {
        assert_eq!(self.status, 200, "body: {}", self.body);
        wechat_events::xml::parse_fields(&self.body)
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

/// A binary built into the target directory beside this test's
/// (`target/<profile>/NAME`, or `examples/NAME` for an example).
pub fn target_binary(sub: &str, name: &str) -> PathBuf {
    // target/<profile>/deps/<test binary> -> target/<profile>/
    let exe = std::env::current_exe().expect("current exe");
    let profile_dir = exe.parent().and_then(|d| d.parent()).expect("target dir");
    profile_dir
        .join(sub)
        .join(format!("{name}{}", std::env::consts::EXE_SUFFIX))
}

/// The `wechat-sim` binary. `cargo test --workspace --all-features` builds
/// it (it belongs to the `wechat-events` package, feature `cli`); when this
/// package's tests run alone it may be missing, and is built here.
pub fn wechat_sim_binary() -> PathBuf {
    static BUILT: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    BUILT
        .get_or_init(|| {
            let bin = target_binary("", "wechat-sim");
            if !bin.exists() {
                let status = Command::new(env!("CARGO"))
                    .args(["build", "-p", "wechat-events", "--features", "cli"])
                    .args(["--bin", "wechat-sim"])
                    .current_dir(env!("CARGO_MANIFEST_DIR"))
                    .status()
                    .expect("cargo build --bin wechat-sim");
                assert!(status.success(), "building wechat-sim failed");
            }
            bin
        })
        .clone()
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

/// Polls `condition` every 10 ms until it holds or `timeout` passes;
/// returns whether it held. For waiting on background work without
/// betting on a fixed sleep.
pub async fn wait_until(timeout: Duration, condition: impl Fn() -> bool) -> bool {
    let started = std::time::Instant::now();
    while !condition() {
        if started.elapsed() > timeout {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    true
}
