//! Shared helpers for the end-to-end tests: the simulator playing WeChat
//! (`wechat_events::testing`), raw requests for the malformed cases it
//! will not send, and the quickstart and `wechat-sim` processes. Services
//! built by a test are served by `wechat_events::testing::TestServer`.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use wechat_events::signature::sign;
use wechat_events::testing::{Response, SimPush, Simulator, Target};

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

/// Sends `push` to `target` (a URL, a `TestServer`) and returns the
/// answer, panicking if none came.
pub async fn send<T: Target + ?Sized>(sim: &Simulator, target: &T, push: SimPush) -> Response {
    sim.send(target, &push)
        .await
        .unwrap_or_else(|e| panic!("{push}: {e}"))
}

/// An answer to a raw request (see [`post`]), as the test sees it.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub body: String,
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

pub fn client() -> awc::Client {
    awc::Client::builder()
        .timeout(Duration::from_secs(20))
        .finish()
}

pub async fn post(base: &str, query: &str, body: impl Into<String>) -> Answer {
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
    }
}

pub async fn request(method: awc::http::Method, url: &str) -> Answer {
    let mut resp = client().request(method, url).send().await.expect("request");
    let bytes = resp.body().await.expect("body");
    Answer {
        status: resp.status().as_u16(),
        body: String::from_utf8_lossy(&bytes).into_owned(),
    }
}

/// The quickstart example, running as its own process on a free port.
pub struct Quickstart {
    child: Child,
    /// Its state directory (`WECHAT_STATE_DIR`), its own unless the test
    /// gives one: the quickstart would otherwise use one in the working
    /// directory, which several at once cannot share.
    _state: tempfile::TempDir,
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

/// The quickstart example's binary (see [`example_binary`]).
pub fn quickstart_binary() -> PathBuf {
    example_binary("quickstart")
}

/// The binary of the root package's example `name`. `cargo test
/// --workspace` builds it; when this package's tests run alone it may be
/// missing, and is built here.
pub fn example_binary(name: &str) -> PathBuf {
    static BUILT: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());
    let bin = target_binary("examples", name);
    let mut built = BUILT.lock().unwrap_or_else(|e| e.into_inner());
    if !built.iter().any(|b| b == name) {
        if !bin.exists() {
            cargo_build(&["-p", "wechat-events-suite", "--example", name]);
        } else if is_stale(&bin) {
            // `cargo test --workspace` rebuilds it; a run of this
            // package alone does not, and may test an old example.
            eprintln!(
                "warning: {} is older than its sources; run `cargo build --example \
                 {name}` (or the whole suite) first, or this tests an old {name}",
                bin.display()
            );
        }
        built.push(name.to_owned());
    }
    bin
}

/// Whether a source the quickstart is built from changed after `bin`.
fn is_stale(bin: &std::path::Path) -> bool {
    fn newest(path: &std::path::Path) -> Option<std::time::SystemTime> {
        let meta = std::fs::metadata(path).ok()?;
        if !meta.is_dir() {
            return meta.modified().ok();
        }
        std::fs::read_dir(path)
            .ok()?
            .filter_map(|e| e.ok())
            .filter_map(|e| newest(&e.path()))
            .max()
    }
    let workspace = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the workspace holds tests/");
    let sources = [
        "examples",
        "wechat-events/src",
        "wechat-events-macros/src",
        "Cargo.toml",
    ]
    .iter()
    .filter_map(|p| newest(&workspace.join(p)))
    .max();
    match (
        std::fs::metadata(bin).and_then(|m| m.modified()).ok(),
        sources,
    ) {
        (Some(built), Some(source)) => built < source,
        _ => false,
    }
}

/// Runs `cargo build ARGS` in the workspace (into this test's target directory).
fn cargo_build(args: &[&str]) {
    let workspace = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the workspace holds tests/");
    let status = Command::new(env!("CARGO"))
        .arg("build")
        .args(args)
        .current_dir(workspace)
        .status()
        .unwrap_or_else(|e| panic!("cargo build {args:?}: {e}"));
    assert!(status.success(), "cargo build {args:?} failed");
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
                cargo_build(&[
                    "-p",
                    "wechat-events",
                    "--features",
                    "cli",
                    "--bin",
                    "wechat-sim",
                ]);
            }
            bin
        })
        .clone()
}

impl Quickstart {
    /// Runs the quickstart with `WECHAT_TOKEN=TOKEN` and the given extra
    /// environment when it is expected to stop by itself (a bad
    /// configuration), and returns how it ended.
    pub fn run_to_exit(env: &[(&str, &str)]) -> std::process::Output {
        let mut env = env.to_vec();
        env.insert(0, ("WECHAT_TOKEN", TOKEN));
        Self::run_with_only(&env)
    }

    /// Starts the quickstart with `WECHAT_TOKEN=TOKEN` and the given extra
    /// environment, and waits for its "listening on" line.
    pub fn start(env: &[(&str, &str)]) -> Quickstart {
        Self::example("quickstart", env)
    }

    /// Starts the root package's example `name` (which prints `listening
    /// on http://ADDR/PATH` as the quickstart does) with
    /// `WECHAT_TOKEN=TOKEN` and the given extra environment.
    pub fn example(name: &str, env: &[(&str, &str)]) -> Quickstart {
        let mut env = env.to_vec();
        env.insert(0, ("WECHAT_TOKEN", TOKEN));
        let (example, _) = Self::spawn_binary(&example_binary(name), &env, 1);
        example
    }

    /// Like [`Quickstart::start`], waiting for `count` "listening on"
    /// lines: each URL after `http://`, with the rest of its line.
    pub fn start_lines(env: &[(&str, &str)], count: usize) -> (Quickstart, Vec<String>) {
        let mut env = env.to_vec();
        env.insert(0, ("WECHAT_TOKEN", TOKEN));
        Self::spawn(&env, count)
    }

    /// Starts the quickstart serving the accounts file `file`
    /// (`WECHAT_CONFIG`, no `WECHAT_TOKEN`) with the given extra
    /// environment, and waits for its `count` "listening on" lines: the
    /// URL of each account, after `http://`, with the rest of its line.
    pub fn start_accounts(
        file: &std::path::Path,
        env: &[(&str, &str)],
        count: usize,
    ) -> (Quickstart, Vec<String>) {
        let file = file.to_str().expect("a UTF-8 path");
        let mut env = env.to_vec();
        env.insert(0, ("WECHAT_CONFIG", file));
        Self::spawn(&env, count)
    }

    /// Spawns the quickstart with only `env` (and a state directory, any
    /// port, `RUST_LOG=warn`) and reads `count` "listening on" lines.
    fn spawn(env: &[(&str, &str)], count: usize) -> (Quickstart, Vec<String>) {
        Self::spawn_binary(&quickstart_binary(), env, count)
    }

    fn spawn_binary(
        binary: &std::path::Path,
        env: &[(&str, &str)],
        count: usize,
    ) -> (Quickstart, Vec<String>) {
        let state = tempfile::tempdir().expect("a state directory");
        let mut cmd = Command::new(binary);
        cmd.env_clear()
            .env("WECHAT_ADDR", "127.0.0.1:0")
            .env("WECHAT_STATE_DIR", state.path())
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
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {}: {e}", binary.display()));
        let stdout = child.stdout.take().expect("stdout");
        let mut lines = BufReader::new(stdout).lines();
        let mut listening = Vec::new();
        while listening.len() < count {
            let line = lines
                .next()
                .expect("quickstart exited before listening")
                .expect("read stdout");
            if let Some(rest) = line.strip_prefix("listening on http://") {
                listening.push(rest.to_owned());
            }
        }
        let addr = listening[0].split('/').next().expect("addr");
        let addr = addr.parse::<SocketAddr>().expect("socket addr");
        // Keep draining stdout so the child never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        let quickstart = Quickstart {
            child,
            _state: state,
            addr,
            url: format!("http://{addr}/wechat"),
        };
        (quickstart, listening)
    }

    /// Runs the quickstart with only `env` (and a state directory) when it
    /// is expected to stop by itself, and returns how it ended.
    pub fn run_with_only(env: &[(&str, &str)]) -> std::process::Output {
        let state = tempfile::tempdir().expect("a state directory");
        let mut cmd = Command::new(quickstart_binary());
        cmd.env_clear()
            .env("WECHAT_STATE_DIR", state.path())
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null());
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.output().expect("run quickstart")
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

/// A `tracing` writer that keeps everything logged, for tests that read
/// the log ([`CapturedLog::install`], or `tracing_subscriber::fmt().with_writer(...)`
/// for a subscriber of its own).
#[derive(Clone, Default)]
pub struct CapturedLog(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl CapturedLog {
    /// Installs a subscriber writing into a new log as the process's
    /// global default (the only one a test binary may install), and
    /// returns the log.
    pub fn install() -> CapturedLog {
        let captured = CapturedLog::default();
        let writer = captured.clone();
        tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .try_init()
            .expect("the only subscriber of this test binary");
        captured
    }

    /// Everything written so far.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

impl std::io::Write for CapturedLog {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A Redis for a test, at `WECHAT_TEST_REDIS_URL` (default
/// `redis://127.0.0.1:6379`): its URL, or `None` when it does not answer —
/// said on stderr, so the skip is seen; under `CI=true` that is a failure.
pub async fn test_redis() -> Option<String> {
    let url =
        std::env::var("WECHAT_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let connect = async {
        let client = redis::Client::open(url.as_str())?;
        let mut conn = client.get_multiplexed_async_connection().await?;
        redis::cmd("PING").query_async::<()>(&mut conn).await
    };
    let why = match tokio::time::timeout(Duration::from_secs(3), connect).await {
        Ok(Ok(())) => return Some(url),
        Ok(Err(e)) => e.to_string(),
        Err(_) => "no answer within 3 s".to_owned(),
    };
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!(
            "Redis at {url} is not available ({why}), and CI=true: the Redis tests must run in CI"
        );
    }
    use std::io::Write;
    let _ = writeln!(
        std::io::stderr(),
        "SKIPPED: Redis at {url} is not available ({why}); start it to run this test"
    );
    None
}
