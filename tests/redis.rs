//! Several instances, one Redis (feature `redis`): replay bindings,
//! sessions and the API token shared through a real Redis, and every
//! store falling back to memory while Redis is down.
//!
//! The shared tests use the Redis at 127.0.0.1:6379 (`WECHAT_TEST_REDIS_URL`
//! overrides it), each under a key prefix of its own, removed when the
//! test ends. Without that Redis they skip, saying why — unless
//! `CI=true`, where they fail. The outage tests start their own
//! `redis-server` (`/usr/bin/redis-server`, or `REDIS_SERVER`) on a free
//! port, kill it and start it again, freeze it, or fill its memory.
//! Everything the library logs is captured (at TRACE) and searched for
//! secrets.

mod common;

use std::collections::HashMap;
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use actix_web::web;
use common::*;
use futures_util::future::join_all;
use redis::AsyncCommands;
use wechat_events::api::ApiClient;
use wechat_events::dedup::{dedup_key, Claim, DedupStore, Outcome, Status};
use wechat_events::redis::{RedisBackend, RedisDedup, RedisTokens};
use wechat_events::replay::{binding_key, body_digest, Binding, BindingStore};
use wechat_events::session::{SessionError, SessionStore};
use wechat_events::testing::{
    ApiStandIn, SimError, SimPush, Simulator, TestServer, STAND_IN_APPID, STAND_IN_SECRET,
};
use wechat_events::{
    Config, Context, LocationEvent, Reply, Router, Session, TextMessage, WechatService,
};

// ---- the Redis the tests use ----

/// Where the shared Redis is.
fn redis_url() -> String {
    std::env::var("WECHAT_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

/// A test's own corner of a Redis: a fresh key prefix, and connections
/// to look at what the stores wrote. Its keys are removed on drop, even
/// when the test fails.
struct TestRedis {
    url: String,
    prefix: String,
}

/// What a test does without its Redis: fail under `CI=true`, else skip.
fn unavailable(what: &str, why: &str) {
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("{what} is not available ({why}), and CI=true: the Redis tests must run in CI");
    }
    // Straight to stderr: the harness would capture `eprintln!` of a
    // passing test, and the skip must be seen.
    use std::io::Write;
    let _ = writeln!(
        std::io::stderr(),
        "SKIPPED: {what} is not available ({why}); start it to run this test"
    );
}

impl TestRedis {
    /// The shared Redis, or `None` (the test returns) when it is not
    /// reachable outside CI.
    async fn shared() -> Option<TestRedis> {
        Self::at(&redis_url()).await
    }

    async fn at(url: &str) -> Option<TestRedis> {
        captured_log();
        let connect = async {
            let client = redis::Client::open(url)?;
            let mut conn = client.get_multiplexed_async_connection().await?;
            redis::cmd("PING").query_async::<()>(&mut conn).await?;
            Ok::<_, redis::RedisError>(conn)
        };
        match tokio::time::timeout(Duration::from_secs(3), connect).await {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => {
                unavailable(&format!("Redis at {url}"), &e.to_string());
                return None;
            }
            Err(_) => {
                unavailable(&format!("Redis at {url}"), "no answer within 3 s");
                return None;
            }
        };
        Some(TestRedis {
            url: url.to_owned(),
            prefix: format!("wetest-{}-{:x}", std::process::id(), unique()),
        })
    }

    /// A config of this test's Redis and prefix.
    fn config(&self) -> Config {
        Config::builder(TOKEN)
            .redis_url(&self.url)
            .redis_prefix(&self.prefix)
            .build()
            .expect("config")
    }

    /// A backend as an instance would make it, with short time-outs.
    fn backend(&self) -> RedisBackend {
        RedisBackend::builder(&self.url)
            .prefix(&self.prefix)
            .timeout(Duration::from_millis(300))
            .probe_interval(Duration::from_millis(100))
            .build()
            .expect("backend")
    }

    /// A new connection (the server may have restarted since the last).
    async fn conn(&self) -> redis::aio::MultiplexedConnection {
        redis::Client::open(self.url.as_str())
            .expect("url")
            .get_multiplexed_async_connection()
            .await
            .expect("connect to the test's Redis")
    }

    /// This test's keys.
    async fn keys(&self) -> Vec<String> {
        let mut conn = self.conn().await;
        let mut keys: Vec<String> = Vec::new();
        for pattern in [format!("{}:*", self.prefix), format!("{{{}:*", self.prefix)] {
            let mut iter: redis::AsyncIter<String> = conn.scan_match(&pattern).await.expect("SCAN");
            while let Some(key) = iter.next_item().await {
                keys.push(key.expect("key"));
            }
        }
        keys.sort();
        keys
    }

    async fn pttl(&self, key: &str) -> i64 {
        self.conn().await.pttl(key).await.expect("PTTL")
    }

    /// `MEMORY USAGE key` in bytes.
    async fn memory_usage(&self, key: &str) -> u64 {
        redis::cmd("MEMORY")
            .arg("USAGE")
            .arg(key)
            .arg("SAMPLES")
            .arg(0)
            .query_async(&mut self.conn().await)
            .await
            .expect("MEMORY USAGE")
    }
}

impl Drop for TestRedis {
    fn drop(&mut self) {
        let Ok(client) = redis::Client::open(self.url.as_str()) else {
            return;
        };
        let Ok(mut conn) = client.get_connection_with_timeout(Duration::from_secs(2)) else {
            return;
        };
        for pattern in [format!("{}:*", self.prefix), format!("{{{}:*", self.prefix)] {
            let keys: Vec<String> = redis::cmd("KEYS")
                .arg(&pattern)
                .query(&mut conn)
                .unwrap_or_default();
            if !keys.is_empty() {
                let _: redis::RedisResult<()> = redis::cmd("DEL").arg(&keys).query(&mut conn);
            }
        }
    }
}

/// A `redis-server` of the test's own, on a free port, keeping nothing on
/// disk. Killed on drop.
struct OwnRedis {
    port: u16,
    child: Option<Child>,
}

impl OwnRedis {
    fn binary() -> String {
        std::env::var("REDIS_SERVER").unwrap_or_else(|_| "/usr/bin/redis-server".into())
    }

    /// Starts one on a free port, or `None` (the test returns) when there
    /// is no `redis-server` outside CI.
    async fn start() -> Option<OwnRedis> {
        if !std::path::Path::new(&Self::binary()).exists() {
            unavailable(&Self::binary(), "no such file");
            return None;
        }
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let mut redis = OwnRedis { port, child: None };
        redis.restart().await;
        Some(redis)
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// [`OwnRedis::start`], with a [`TestRedis`] on it: `None` (the test
    /// returns) as either would.
    async fn with_client() -> Option<(OwnRedis, TestRedis)> {
        let server = OwnRedis::start().await?;
        let redis = TestRedis::at(&server.url()).await?;
        Some((server, redis))
    }

    /// Starts the server (again) on its port and waits until it answers.
    async fn restart(&mut self) {
        assert!(self.child.is_none(), "already running");
        let child = Command::new(Self::binary())
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start redis-server");
        self.child = Some(child);
        let started = Instant::now();
        loop {
            let ping = async {
                let client = redis::Client::open(self.url())?;
                let mut conn = client.get_multiplexed_async_connection().await?;
                redis::cmd("PING").query_async::<()>(&mut conn).await
            };
            if let Ok(Ok(())) = tokio::time::timeout(Duration::from_secs(1), ping).await {
                return;
            }
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "redis-server on port {} did not answer within 10 s",
                self.port
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Kills the server (SIGKILL): connections drop, the port is closed.
    fn kill(&mut self) {
        let mut child = self.child.take().expect("running");
        child.kill().expect("kill redis-server");
        child.wait().expect("wait for redis-server");
    }

    /// Freezes (`true`, SIGSTOP) or thaws (`false`, SIGCONT) the server:
    /// connections stay open and nothing answers.
    fn freeze(&self, frozen: bool) {
        freeze_process(self.pid(), frozen);
    }

    /// The server's process id.
    fn pid(&self) -> u32 {
        self.child.as_ref().expect("running").id()
    }
}

/// Freezes (SIGSTOP) or thaws (SIGCONT) process `pid`.
fn freeze_process(pid: u32, frozen: bool) {
    let signal = if frozen { "-STOP" } else { "-CONT" };
    let status = Command::new("kill")
        .args([signal, &pid.to_string()])
        .status()
        .expect("kill");
    assert!(status.success(), "kill {signal} {pid}");
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill")
                .args(["-CONT", &child.id().to_string()])
                .status();
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Everything the library logs (at TRACE; other crates at INFO), in this
/// binary.
fn captured_log() -> &'static CapturedLog {
    static LOG: OnceLock<CapturedLog> = OnceLock::new();
    LOG.get_or_init(|| {
        let log = CapturedLog::default();
        let writer = log.clone();
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new(
                "info,wechat_events=trace",
            ))
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .init();
        log
    })
}

/// The log lines mentioning `needle`.
fn logged(needle: &str) -> Vec<String> {
    captured_log()
        .text()
        .lines()
        .filter(|l| l.contains(needle))
        .map(str::to_owned)
        .collect()
}

/// Awaits `what`, failing the test if it hangs.
async fn surely<T>(what: &str, future: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(60), future)
        .await
        .unwrap_or_else(|_| panic!("{what}: still waiting after 60 s"))
}

// ---- the bot the services serve ----

async fn remember(ev: LocationEvent, session: Session) -> Result<(), SessionError> {
    session.set("loc", &(ev.latitude, ev.longitude)).await
}

async fn recall(msg: TextMessage, session: Session) -> Result<String, SessionError> {
    if msg.content == "forget" {
        session.remove("loc").await?;
        return Ok("forgotten".into());
    }
    Ok(match session.get::<(f64, f64)>("loc").await? {
        Some((lat, lng)) => format!("at {lat},{lng}"),
        None => "nowhere".into(),
    })
}

fn bot() -> Router {
    Router::new().on(remember).on(recall)
}

/// An instance of the bot: its own service (and Redis connection) on its
/// own server.
fn instance(builder: wechat_events::service::ServiceBuilder) -> (WechatService, TestServer) {
    let service = builder.only(bot()).build().expect("service");
    let server = TestServer::builder(service.clone()).start();
    (service, server)
}

// ---- shared state between instances ----

#[actix_rt::test]
async fn a_signed_url_is_bound_for_every_instance() {
    let Some(redis) = TestRedis::shared().await else {
        return;
    };
    let (_, a) = instance(WechatService::builder(redis.config()));
    let (_, b) = instance(WechatService::builder(redis.config()));
    let (_, alone) = instance(WechatService::builder(
        Config::builder(TOKEN).build().unwrap(),
    ));
    let sim = sim();
    let push = sim.prepare(&SimPush::text("hello"));
    let first = surely("first", sim.deliver(&a, &push))
        .await
        .expect("answer");
    assert_eq!(first.text(), Some("nowhere"));

    let forged = push.body().replace("hello", "forged");
    assert_ne!(forged, push.body());
    let refused = surely("forged", post(b.url(), push.query(), forged.clone())).await;
    assert_eq!(refused.status, 403, "{}", refused.body);
    assert!(refused.body.contains("another body"), "{}", refused.body);
    // The same body is WeChat retrying: accepted there too.
    let retry = surely("retry", sim.deliver(&b, &push))
        .await
        .expect("answer");
    assert_eq!(retry.status, 200, "{}", retry.body_text());
    // The control: an instance with its own memory has never seen the URL.
    let control = surely("control", post(alone.url(), push.query(), forged)).await;
    assert_eq!(control.status, 200, "{}", control.body);

    let keys: Vec<_> = redis
        .keys()
        .await
        .into_iter()
        .filter(|k| k.contains(":replay:"))
        .collect();
    let prefix = format!("{{{}:default}}:replay:", redis.prefix);
    assert_eq!(keys.len(), 1, "{keys:?}");
    assert!(keys[0].starts_with(&prefix), "{keys:?}");
    let pttl = redis.pttl(&keys[0]).await;
    assert!(
        (1..=600_000).contains(&pttl),
        "a binding expires after twice the 300 s window: PTTL {pttl}"
    );
}

#[actix_rt::test]
async fn two_instances_racing_for_one_url_agree_on_its_first_body() {
    let Some(redis) = TestRedis::shared().await else {
        return;
    };
    let stores: Vec<_> = (0..4)
        .map(|_| {
            wechat_events::redis::RedisBindings::new(
                &redis.backend(),
                "wx_race",
                100,
                Duration::from_secs(300),
            )
        })
        .collect();
    for round in 0..20 {
        let key = binding_key("sig", &round.to_string(), "nonce");
        let binds = stores
            .iter()
            .enumerate()
            .map(|(i, store)| store.bind(key.clone(), body_digest(format!("body {i}").as_bytes())));
        let results = join_all(binds).await;
        let new = results.iter().filter(|b| **b == Binding::New).count();
        let different = results.iter().filter(|b| **b == Binding::Different).count();
        assert_eq!((new, different), (1, 3), "round {round}: {results:?}");
    }
}

#[actix_rt::test]
async fn a_session_written_through_one_instance_is_read_through_another() {
    let Some(redis) = TestRedis::shared().await else {
        return;
    };
    let (_, a) = instance(WechatService::builder(redis.config()));
    let (_, b) = instance(WechatService::builder(redis.config()));
    let user = sim();
    let other = sim();
    assert_eq!(
        send(&user, &b, SimPush::text("where")).await.text(),
        Some("nowhere")
    );
    let loc = send(
        &user,
        &a,
        SimPush::location_event(23.137466, 113.352425, 119.38),
    )
    .await;
    assert!(loc.is_no_reply(), "{}", loc.body_text());
    assert_eq!(
        send(&user, &b, SimPush::text("where")).await.text(),
        Some("at 23.137466,113.352425")
    );
    assert_eq!(
        send(&other, &b, SimPush::text("where")).await.text(),
        Some("nowhere")
    );

    let key = format!("{}:default:session:{}", redis.prefix, user.user());
    let sessions = || async {
        let keys = redis.keys().await;
        keys.into_iter()
            .filter(|k| k.contains(":session:"))
            .collect::<Vec<_>>()
    };
    assert_eq!(sessions().await, vec![key.clone()]);
    let pttl = redis.pttl(&key).await;
    assert!(
        (1..=86_400_000).contains(&pttl),
        "a session expires a day after its last use: PTTL {pttl}"
    );

    assert_eq!(
        send(&user, &a, SimPush::text("forget")).await.text(),
        Some("forgotten")
    );
    assert_eq!(
        send(&user, &b, SimPush::text("where")).await.text(),
        Some("nowhere")
    );
    assert!(
        sessions().await.is_empty(),
        "an empty session leaves no key"
    );
}

#[actix_rt::test]
async fn the_quickstart_answers_the_location_whichever_instance_is_asked() {
    let Some(redis) = TestRedis::shared().await else {
        return;
    };
    let env = [
        ("WECHAT_REDIS_URL", redis.url.as_str()),
        ("WECHAT_REDIS_PREFIX", redis.prefix.as_str()),
    ];
    let one = Quickstart::start(&env);
    let two = Quickstart::start(&env);
    let user = sim();
    send(
        &user,
        &one.url,
        SimPush::location_event(31.2304, 121.4737, 10.0),
    )
    .await;
    assert_eq!(
        send(&user, &two.url, SimPush::text("位置")).await.text(),
        Some("你的位置: 31.2304,121.4737")
    );
    assert_eq!(
        send(&sim(), &one.url, SimPush::text("位置")).await.text(),
        Some("还没有收到你的位置")
    );
}

#[actix_rt::test]
async fn the_token_is_refreshed_once_for_every_instance() {
    let Some(redis) = TestRedis::shared().await else {
        return;
    };
    let wechat = ApiStandIn::start();
    wechat.delay(Duration::from_millis(200)); // a refresh takes a while
    let clients: Vec<ApiClient> = (0..5)
        .map(|_| {
            wechat
                .client_builder()
                .token_store(RedisTokens::new(&redis.backend()))
                .build()
                .expect("client")
        })
        .collect();
    let tokens = surely("tokens", join_all(clients.iter().map(|c| c.access_token()))).await;
    let tokens: Vec<String> = tokens.into_iter().map(|t| t.expect("token")).collect();
    assert!(tokens.iter().all(|t| *t == tokens[0]), "{tokens:?}");
    assert_eq!(wechat.token_calls(), 1, "one refresh for five instances");
    let key = format!("{{{}:wx_stand_in}}:token", redis.prefix);
    assert_eq!(
        redis.keys().await,
        vec![key.clone()],
        "the lock is released"
    );
    let pttl = redis.pttl(&key).await;
    assert!(
        (6_800_000..=6_900_000).contains(&pttl),
        "kept until 300 s before WeChat's 7200 s: PTTL {pttl}"
    );

    // WeChat expires it: every instance is refused (42001) and asks for
    // a new one; one of them fetches it, for all.
    wechat.expire_token();
    wechat.delay(Duration::ZERO);
    let hi = Reply::text("hi");
    let sent = clients.iter().map(|c| c.send_custom("oUser", &hi));
    for result in surely("send", join_all(sent)).await {
        result.expect("sent after one refresh");
    }
    assert_eq!(wechat.token_calls(), 2, "{:#?}", wechat.calls());
    assert_eq!(wechat.custom_messages().len(), 5);

    // A client that joins later uses the shared token without asking WeChat.
    let late = wechat
        .client_builder()
        .token_store(RedisTokens::new(&redis.backend()))
        .build()
        .expect("client");
    late.access_token().await.expect("token");
    assert_eq!(wechat.token_calls(), 2);
}

async fn typing(_: TextMessage, cx: Context, api: ApiClient) -> String {
    match api.typing(cx.openid(), true).await {
        Ok(()) => "typing".to_owned(),
        Err(e) => format!("typing failed: {e}"),
    }
}

#[actix_rt::test]
async fn services_built_with_an_appsecret_share_the_token_through_redis() {
    let Some(redis) = TestRedis::shared().await else {
        return;
    };
    let wechat = ApiStandIn::start();
    let config = Config::builder(TOKEN)
        .redis_url(&redis.url)
        .redis_prefix(&redis.prefix)
        .appid(STAND_IN_APPID)
        .appsecret(STAND_IN_SECRET)
        .api_base(wechat.base_url())
        .build()
        .expect("config");
    let servers: Vec<TestServer> = (0..3)
        .map(|_| {
            let service = WechatService::builder(config.clone())
                .only(Router::new().on(typing))
                .build()
                .expect("service");
            TestServer::builder(service).start()
        })
        .collect();
    for server in &servers {
        let answer = send(&sim(), server, SimPush::text("hi")).await;
        assert_eq!(answer.text(), Some("typing"));
    }
    assert_eq!(wechat.token_calls(), 1, "one token for three instances");
    for server in servers {
        server.stop().await;
    }
}

// ---- Redis down ----

#[actix_rt::test]
async fn with_redis_down_pushes_are_answered_from_memory_and_redis_is_used_again_once_back() {
    let Some((mut server, redis)) = OwnRedis::with_client().await else {
        return;
    };
    let backend = redis.backend();
    let config = Config::builder(TOKEN)
        .deadline(Duration::from_millis(2000))
        .build()
        .unwrap();
    let (service, a) = instance(WechatService::builder(config).redis(backend.clone()));
    let user = sim();
    let answer = |push: SimPush| {
        let (user, a) = (&user, &a);
        async move {
            let response = surely("push", user.send(a, &push)).await.expect("answer");
            assert_eq!(response.status, 200, "{}", response.body_text());
            assert!(
                response.elapsed < Duration::from_millis(1500),
                "answered in {:?}",
                response.elapsed
            );
            response
        }
    };

    // Up: the session is in Redis.
    answer(SimPush::location_event(1.5, 2.5, 1.0)).await;
    assert_eq!(
        answer(SimPush::text("where")).await.text(),
        Some("at 1.5,2.5")
    );
    let session_key = format!("{}:default:session:{}", redis.prefix, user.user());
    assert!(redis.keys().await.contains(&session_key));
    assert_eq!(backend.stats().outages, 0);

    // Frozen: nothing answers; one command waits its 300 ms, then memory.
    server.freeze(true);
    assert_eq!(answer(SimPush::text("where")).await.text(), Some("nowhere"));
    let stats = backend.stats();
    assert!(!stats.up && stats.outages == 1, "{stats:?}");
    // The memory twins hold while it is down: a session, a binding.
    answer(SimPush::location_event(3.5, 4.5, 1.0)).await;
    assert_eq!(
        answer(SimPush::text("where")).await.text(),
        Some("at 3.5,4.5")
    );
    let push = user.prepare(&SimPush::text("once"));
    surely("push", user.deliver(&a, &push))
        .await
        .expect("answer");
    let forged = surely(
        "forged",
        post(a.url(), push.query(), push.body().replace("once", "twice")),
    )
    .await;
    assert_eq!(
        forged.status, 403,
        "bindings fall back to memory: {}",
        forged.body
    );
    assert!(backend.stats().fallbacks >= 5, "{:?}", backend.stats());
    server.freeze(false);
    surely("back", wait_until_up(&backend)).await;
    assert!(
        backend.stats().last_outage.is_some(),
        "{:?}",
        backend.stats()
    );
    assert_eq!(
        answer(SimPush::text("where")).await.text(),
        Some("at 1.5,2.5"),
        "back to the Redis session"
    );

    // Killed: connections drop, the port is closed.
    server.kill();
    for _ in 0..3 {
        assert_eq!(
            answer(SimPush::text("where")).await.text(),
            Some("at 3.5,4.5")
        );
    }
    let stats = backend.stats();
    assert!(!stats.up && stats.outages == 2, "{stats:?}");
    let port = format!("127.0.0.1:{}", server.port);
    let down = logged("Redis is unreachable");
    assert_eq!(
        down.iter().filter(|l| l.contains(&port)).count(),
        2,
        "{down:#?}"
    );

    // Started again on the same port (empty: it keeps nothing on disk).
    server.restart().await;
    surely("back", wait_until_up(&backend)).await;
    let back = logged("Redis is back after");
    assert_eq!(
        back.iter().filter(|l| l.contains(&port)).count(),
        2,
        "{back:#?}"
    );
    assert_eq!(
        answer(SimPush::text("where")).await.text(),
        Some("nowhere"),
        "Redis again"
    );
    answer(SimPush::location_event(5.5, 6.5, 1.0)).await;
    assert!(
        redis.keys().await.contains(&session_key),
        "written to Redis again"
    );
    assert_eq!(
        service
            .session(user.user())
            .get::<(f64, f64)>("loc")
            .await
            .unwrap(),
        Some((5.5, 6.5))
    );
    assert_eq!(backend.stats().outages, 2);
}

/// `used_memory` of `INFO memory`, in bytes.
async fn used_memory(redis: &TestRedis) -> i64 {
    let info: String = redis::cmd("INFO")
        .arg("memory")
        .query_async(&mut redis.conn().await)
        .await
        .expect("INFO");
    info.lines()
        .find_map(|l| l.strip_prefix("used_memory:"))
        .and_then(|v| v.trim().parse().ok())
        .expect("used_memory")
}

async fn wait_until_up(backend: &RedisBackend) {
    while !backend.stats().up {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// `CONFIG SET name value` on the test's Redis.
async fn config_set(redis: &TestRedis, name: &str, value: &str) {
    redis::cmd("CONFIG")
        .arg("SET")
        .arg(name)
        .arg(value)
        .query_async::<()>(&mut redis.conn().await)
        .await
        .unwrap_or_else(|e| panic!("CONFIG SET {name} {value}: {e}"));
}

/// What was logged since `from` (a length of the log's text).
fn logged_since(from: usize) -> String {
    captured_log()
        .text()
        .get(from..)
        .unwrap_or_default()
        .to_owned()
}

#[actix_rt::test]
async fn redis_out_of_memory_is_one_outage_answered_from_memory_until_it_takes_writes_again() {
    let Some((server, redis)) = OwnRedis::with_client().await else {
        return;
    };
    let backend = redis.backend();
    let runs = web::Data::new(AtomicUsize::new(0));
    let service = WechatService::builder(Config::builder(TOKEN).build().unwrap())
        .redis(backend.clone())
        .only(Router::new().on(counted))
        .build()
        .expect("service");
    let a = TestServer::builder(service).app_data(runs.clone()).start();
    let user = sim();
    let dedup_keys = || async {
        let keys = redis.keys().await;
        keys.iter().filter(|k| k.contains(":dedup:")).count()
    };

    // Healthy: the push is claimed in Redis.
    let first = send(&user, &a, SimPush::text("0")).await;
    assert_eq!(first.text(), Some("run 1 after 0 ms"));
    assert_eq!(dedup_keys().await, 1);
    let log_from = captured_log().text().len();

    // Full: every write is refused with OOM; reads (and PING) still work.
    config_set(&redis, "maxmemory-policy", "noeviction").await;
    config_set(&redis, "maxmemory", "1").await;
    let pushes = 15;
    for i in 0..pushes {
        let push = user.prepare(&SimPush::text("0"));
        for attempt in 0..2 {
            let answer = surely("push", user.deliver(&a, &push))
                .await
                .expect("answer");
            assert_eq!(
                answer.text(),
                Some(format!("run {} after 0 ms", i + 2).as_str()),
                "push {i}, try {attempt}: answered, and a retry from memory"
            );
        }
    }
    assert_eq!(
        runs.load(Ordering::SeqCst),
        pushes + 1,
        "each push ran once on this instance"
    );
    let stats = backend.stats();
    assert!(
        !stats.up && stats.outages == 1 && stats.fallbacks >= pushes as u64,
        "{stats:?}"
    );
    assert_eq!(dedup_keys().await, 1, "nothing written while full");
    // One warning for the outage, not one per refused command.
    let port = format!("127.0.0.1:{}", server.port);
    let log = logged_since(log_from);
    let warnings: Vec<&str> = log
        .lines()
        .filter(|l| l.contains(" WARN ") && (l.contains(&port) || l.contains(user.user())))
        .collect();
    assert_eq!(
        warnings
            .iter()
            .filter(|l| l.contains("Redis refuses writes") && l.contains("OOM"))
            .count(),
        1,
        "{warnings:#?}"
    );
    assert!(warnings.len() <= 3, "{warnings:#?}");

    // PING is answered all along; the probe (every 100 ms) tries a write,
    // so the outage lasts until Redis takes writes again.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(!backend.stats().up, "{:?}", backend.stats());
    assert!(backend.ping().await.is_ok(), "PING works while full");
    config_set(&redis, "maxmemory", "0").await;
    surely("back", wait_until_up(&backend)).await;
    let stats = backend.stats();
    assert_eq!(stats.outages, 1, "{stats:?}");
    assert!(stats.last_outage.is_some(), "{stats:?}");
    assert_eq!(
        logged_since(log_from)
            .lines()
            .filter(|l| l.contains("Redis is back after") && l.contains(&port))
            .count(),
        1
    );
    let next = send(&user, &a, SimPush::text("0")).await;
    assert_eq!(
        next.text(),
        Some(format!("run {} after 0 ms", pushes + 2).as_str())
    );
    assert_eq!(dedup_keys().await, 2, "claimed in Redis again");
}

/// A handler that reads and writes the user's session: Redis commands
/// under the push's span.
async fn touch(msg: TextMessage, session: Session) -> Result<String, SessionError> {
    session.set("last", &msg.content).await?;
    Ok(format!("noted {}", msg.content))
}

#[actix_rt::test]
async fn failing_redis_calls_show_no_secret_in_logs_or_errors() {
    const PASSWORD: &str = "RedisPw-4b1d-never-shown";
    const SECRET_TOKEN: &str = "SecretToken4242";
    const SECRET_AES_KEY: &str = "SecretAesKey0123456789abcdefghijklmnopqrstG";
    const SECRET_APPSECRET: &str = "AppSecret-0a9f-never-shown";
    let log_from = captured_log().text().len();
    let closed = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let socket = std::env::temp_dir().join(format!("wechat-no-redis-{}.sock", unique()));
    let urls = [
        format!("redis://:{PASSWORD}@127.0.0.1:{closed}/0"),
        format!("redis://app:{PASSWORD}@127.0.0.1:{closed}"),
        format!("unix://{}?pass={PASSWORD}", socket.display()),
        format!("redis+unix://{}?db=1&pass={PASSWORD}", socket.display()),
    ];
    let mut shown = Vec::new();
    for url in &urls {
        // From the environment's settings, as an instance starts.
        let config = Config::builder(SECRET_TOKEN)
            .appid(APPID)
            .aes_key(SECRET_AES_KEY)
            .appsecret(SECRET_APPSECRET)
            .redis_url(url)
            .build()
            .expect("config");
        shown.push(format!("{config:?}"));
        let service = WechatService::builder(config)
            .only(Router::new().on(touch))
            .build()
            .expect("service");
        let a = TestServer::builder(service).start();
        let user = Simulator::new(SECRET_TOKEN)
            .openid(format!("o_user_{}", unique()))
            .secure(SECRET_AES_KEY, APPID)
            .expect("key");
        for text in ["a", "b"] {
            let answer = surely("push", user.send(&a, &SimPush::text(text)))
                .await
                .expect("answer");
            assert_eq!(answer.text(), Some(format!("noted {text}").as_str()));
        }
        a.stop().await;
        // A backend of its own: its Debug, its ping's error.
        let backend = RedisBackend::builder(url)
            .timeout(Duration::from_millis(200))
            .build()
            .expect("backend");
        shown.push(format!("{backend:?} {:?}", RedisBackend::builder(url)));
        let err = backend.ping().await.expect_err("nothing listens");
        shown.push(format!("{err} / {err:?}"));
    }
    let err = RedisBackend::builder(format!("redis://:{PASSWORD}@127.0.0.1:99999"))
        .build()
        .expect_err("no such port");
    shown.push(format!("{err} / {err:?}"));
    let err = Config::builder(SECRET_TOKEN)
        .redis_url(format!("ftp://:{PASSWORD}@127.0.0.1"))
        .build()
        .expect_err("not Redis");
    shown.push(format!("{err} / {err:?}"));

    let log = logged_since(log_from);
    let everything = format!("{log}\n{}", shown.join("\n"));
    for secret in [PASSWORD, SECRET_TOKEN, SECRET_AES_KEY, SECRET_APPSECRET] {
        let at: Vec<&str> = everything.lines().filter(|l| l.contains(secret)).collect();
        assert!(at.is_empty(), "{secret:?} shown in:\n{}", at.join("\n"));
    }
    // The search saw the failures: an outage logged for each URL.
    for place in [format!("127.0.0.1:{closed}"), socket.display().to_string()] {
        assert!(
            log.lines()
                .any(|l| l.contains("Redis is unreachable") && l.contains(&place)),
            "{place}: {log}"
        );
    }
}

#[actix_rt::test]
async fn a_redis_unreachable_from_the_start_is_an_outage_not_an_error() {
    captured_log();
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let backend = RedisBackend::builder(format!("redis://127.0.0.1:{port}"))
        .probe_interval(Duration::from_millis(50))
        .build()
        .expect("made without connecting");
    let (_, a) = instance(
        WechatService::builder(Config::builder(TOKEN).build().unwrap()).redis(backend.clone()),
    );
    let user = sim();
    send(&user, &a, SimPush::location_event(7.5, 8.5, 1.0)).await;
    assert_eq!(
        send(&user, &a, SimPush::text("where")).await.text(),
        Some("at 7.5,8.5")
    );
    let stats = backend.stats();
    assert!(
        !stats.up && stats.outages == 1 && stats.fallbacks >= 2,
        "{stats:?}"
    );
    assert!(backend.ping().await.is_err());
}

// ---- what Redis holds ----

/// Measures what a binding, a session and an answered push take in Redis,
/// and how long a retry on another instance waits past the outcome, on a server of
/// the test's own: `MEMORY USAGE` of real keys, and the growth of
/// `used_memory` over many. Run with `--nocapture` to read the figures
/// (docs/redis.md quotes them).
#[actix_rt::test]
async fn what_redis_holds_per_binding_session_and_push() {
    let Some((_server, redis)) = OwnRedis::with_client().await else {
        return;
    };
    let backend = redis.backend();
    const N: usize = 10_000;

    let bindings = wechat_events::redis::RedisBindings::new(
        &backend,
        "wx2c2769f8efd9abc2",
        10,
        Duration::from_secs(300),
    );
    let before = used_memory(&redis).await;
    for i in 0..N {
        // A real signed URL's parts: 40 hex digits, a timestamp, a nonce.
        let signature = format!("{:040x}", i as u128 * 7919);
        let key = binding_key(
            &signature,
            &(1_764_000_000 + i).to_string(),
            &(1_000_000_000 + i).to_string(),
        );
        assert_eq!(
            bindings
                .bind(key, body_digest(format!("{i}").as_bytes()))
                .await,
            Binding::New
        );
    }
    let per_binding = (used_memory(&redis).await - before) / N as i64;
    let one_binding = redis.keys().await.into_iter().next().expect("a binding");
    let binding_usage = redis.memory_usage(&one_binding).await;

    let sessions = wechat_events::redis::RedisSessions::new(
        &backend,
        "wx2c2769f8efd9abc2",
        10,
        Duration::from_secs(86400),
    );
    let before = used_memory(&redis).await;
    for i in 0..N {
        let openid = format!("oUpF8uMuAJO_M2pxb1Q9zNjW{i:04}");
        sessions
            .set(&openid, "location", "[23.137466,113.352425]".into())
            .await
            .unwrap();
    }
    let per_session = (used_memory(&redis).await - before) / N as i64;
    let session_key = format!(
        "{}:wx2c2769f8efd9abc2:session:oUpF8uMuAJO_M2pxb1Q9zNjW0000",
        redis.prefix
    );
    let session_usage = redis.memory_usage(&session_key).await;

    // A push's de-duplication entry once answered: a text reply of the
    // usual size (~250 bytes of XML) and the handler's path.
    let dedup = RedisDedup::new(&backend, "wx2c2769f8efd9abc2", 10, Duration::from_secs(30));
    let reply: std::sync::Arc<str> = format!(
        "<xml><ToUserName><![CDATA[oUpF8uMuAJO_M2pxb1Q9zNjWeS6o]]></ToUserName><FromUserName><![CDATA[gh_0123456789ab]]></FromUserName><CreateTime>1764000000</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[{}]]></Content></xml>",
        "你好".repeat(10)
    )
    .into();
    let before = used_memory(&redis).await;
    for i in 0..N {
        let key = format!(
            "m|gh_0123456789ab|oUpF8uMuAJO_M2pxb1Q9zNjW{i:04}|{}",
            24_000_000_000_000_000u64 + i as u64
        );
        let Claim::First(ticket) = dedup.claim(key).await else {
            panic!("first")
        };
        let (complete, outcome) = ticket.into_parts();
        complete(Outcome {
            reply: Some(reply.clone()),
            handler: Some("my_bot::handlers::echo".into()),
            status: Status::Replied,
        });
        outcome.await;
    }
    // The outcomes are stored by tasks of their own: wait for the last.
    let last = format!(
        "{{{}:wx2c2769f8efd9abc2}}:dedup:m|gh_0123456789ab|oUpF8uMuAJO_M2pxb1Q9zNjW{:04}|{}",
        redis.prefix,
        N - 1,
        24_000_000_000_000_000u64 + N as u64 - 1
    );
    loop {
        let done: bool = redis.conn().await.hexists(&last, "outcome").await.unwrap();
        if done {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let per_push = (used_memory(&redis).await - before) / N as i64;
    let push_usage = redis.memory_usage(&last).await;

    // How long a try on another instance waits past the outcome: the
    // polling's cost (50 ms interval).
    let other = RedisDedup::new(
        &redis.backend(),
        "wx2c2769f8efd9abc2",
        10,
        Duration::from_secs(30),
    );
    let mut lags = Vec::new();
    for i in 0..40 {
        let key = format!("lag-{i}");
        let Claim::First(ticket) = dedup.claim(key.clone()).await else {
            panic!("first")
        };
        let Claim::Duplicate(retry) = other.claim(key).await else {
            panic!("second")
        };
        let waiting = tokio::spawn(async move {
            retry.await;
            Instant::now()
        });
        tokio::time::sleep(Duration::from_millis(7 * (i % 10) as u64)).await;
        let (complete, _) = ticket.into_parts();
        let completed = Instant::now();
        complete(Outcome::abandoned());
        lags.push(waiting.await.unwrap() - completed);
    }
    lags.sort();
    let mean = lags.iter().sum::<Duration>() / lags.len() as u32;
    eprintln!(
        "dedup: a retry on another instance learns the outcome {mean:?} after it is complete on average, {:?} at most (polling every 50 ms)",
        lags[lags.len() - 1]
    );
    eprintln!("dedup entry (answered, {}-byte reply): MEMORY USAGE {push_usage} B; used_memory grows {per_push} B per push over {N}", reply.len());
    assert!(
        lags[lags.len() - 1] < Duration::from_millis(500),
        "{lags:?}"
    );
    assert!(
        (200..=2048).contains(&per_push),
        "dedup growth: {per_push} B"
    );

    eprintln!("binding key: {one_binding} ({} bytes)", one_binding.len());
    eprintln!("binding: MEMORY USAGE {binding_usage} B; used_memory grows {per_binding} B per binding over {N}");
    eprintln!(
        "session key: {session_key} ({} bytes), one location value",
        session_key.len()
    );
    eprintln!("session: MEMORY USAGE {session_usage} B; used_memory grows {per_session} B per session over {N}");
    assert_eq!(backend.stats().fallbacks, 0, "all in Redis");
    for (what, bytes) in [
        ("binding usage", binding_usage as i64),
        ("binding growth", per_binding),
        ("session usage", session_usage as i64),
        ("session growth", per_session),
    ] {
        assert!((50..=1024).contains(&bytes), "{what}: {bytes} B");
    }
}

#[actix_rt::test]
async fn pending_replies_are_shared_in_order_bounded_and_taken_once() {
    use wechat_events::pending::{PendingStore, MAX_PER_USER};
    use wechat_events::redis::RedisPending;
    let Some(redis) = TestRedis::shared().await else {
        return;
    };
    let store = |ttl| RedisPending::new(&redis.backend(), "wx1", 1 << 20, ttl);
    let (a, b) = (
        store(Duration::from_secs(600)),
        store(Duration::from_secs(600)),
    );
    let text = |s: &str| Reply::text(s);
    a.queue("o1".into(), vec![text("first")]).await;
    b.queue("o1".into(), vec![text("second"), Reply::image("m")])
        .await;
    assert_eq!(
        b.take("o1".into()).await,
        vec![text("first"), text("second"), Reply::image("m")],
        "in order, whoever queued"
    );
    assert_eq!(a.take("o1".into()).await, vec![], "taken once");

    for i in 0..MAX_PER_USER + 2 {
        b.queue("o2".into(), vec![text(&format!("r{i}"))]).await;
    }
    let taken = a.take("o2".into()).await;
    assert_eq!(taken.len(), MAX_PER_USER);
    assert_eq!(taken[0], text("r2"), "the oldest two dropped");

    a.queue("o3".into(), vec![text("once")]).await;
    let takes = (0..10).map(|i| {
        if i % 2 == 0 {
            a.take("o3".into())
        } else {
            b.take("o3".into())
        }
    });
    let taken: Vec<_> = join_all(takes).await.into_iter().flatten().collect();
    assert_eq!(taken, vec![text("once")], "one reply, handed out once");

    let short = store(Duration::from_millis(200));
    short.queue("o4".into(), vec![text("stale")]).await;
    let key = format!("{{{}:wx1}}:pending:o4", redis.prefix);
    assert!((1..=200).contains(&redis.pttl(&key).await));
    tokio::time::sleep(Duration::from_millis(150)).await;
    short.queue("o4".into(), vec![text("fresh")]).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(short.expired(), 0);
    assert_eq!(short.take("o4".into()).await, vec![text("fresh")]);
    assert_eq!(
        short.expired(),
        1,
        "the stale one found, logged and counted"
    );
}

// ---- de-duplication across instances ----

/// A text handler that counts its runs and takes `delay_ms` (the text).
async fn counted(msg: TextMessage, runs: web::Data<AtomicUsize>) -> String {
    let n = runs.fetch_add(1, Ordering::SeqCst) + 1;
    let delay: u64 = msg.content.parse().unwrap_or(0);
    tokio::time::sleep(Duration::from_millis(delay)).await;
    format!("run {n} after {delay} ms")
}

/// Three instances of the counting bot sharing `redis`, and their run count.
fn three(
    redis: &TestRedis,
    dedup: impl Fn() -> Option<RedisDedup>,
) -> (Vec<TestServer>, web::Data<AtomicUsize>) {
    let runs = web::Data::new(AtomicUsize::new(0));
    let servers = (0..3)
        .map(|_| {
            let mut builder = WechatService::builder(redis.config());
            if let Some(store) = dedup() {
                builder = builder.dedup_store(store);
            }
            let service = builder
                .only(Router::new().on(counted))
                .build()
                .expect("service");
            TestServer::builder(service).app_data(runs.clone()).start()
        })
        .collect();
    (servers, runs)
}

#[actix_rt::test]
async fn one_push_sent_to_three_instances_at_once_runs_its_handler_once() {
    let Some(redis) = TestRedis::shared().await else {
        return;
    };
    let (servers, runs) = three(&redis, || None);
    let user = sim();
    for round in 0..5 {
        let push = user.prepare(&SimPush::text("200"));
        let answers = join_all(servers.iter().map(|s| user.deliver(s, &push))).await;
        let texts: Vec<_> = answers
            .iter()
            .map(|a| a.as_ref().expect("answer").text().map(str::to_owned))
            .collect();
        assert_eq!(runs.load(Ordering::SeqCst), round + 1, "{texts:?}");
        let want = format!("run {} after 200 ms", round + 1);
        assert!(
            texts.iter().all(|t| t.as_deref() == Some(want.as_str())),
            "{texts:?}"
        );
    }
}

#[actix_rt::test]
async fn a_slow_push_retried_on_another_instance_gets_the_first_instances_reply() {
    let Some(redis) = TestRedis::shared().await else {
        return;
    };
    let (servers, runs) = three(&redis, || None);
    let user = sim();
    // WeChat's first try reaches instance 0 and is held open (the handler
    // takes 1.5 s); its retry reaches instance 1 while it runs.
    let push = user.prepare(&SimPush::text("1500"));
    let first = user.deliver(&servers[0], &push);
    let retry = async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        user.deliver(&servers[1], &push).await
    };
    let (first, retry) = surely("tries", futures_util::future::join(first, retry)).await;
    let (first, retry) = (first.expect("first"), retry.expect("retry"));
    assert_eq!(first.text(), Some("run 1 after 1500 ms"));
    assert_eq!(retry.text(), Some("run 1 after 1500 ms"));
    // A last try after it finished, on the third instance: the stored outcome.
    let last = surely("last", user.deliver(&servers[2], &push))
        .await
        .expect("last");
    assert_eq!(last.text(), Some("run 1 after 1500 ms"));
    assert_eq!(runs.load(Ordering::SeqCst), 1);
}

#[actix_rt::test]
async fn a_claim_left_by_a_killed_instance_is_taken_over_by_the_try_waiting_on_it() {
    let Some(redis) = TestRedis::shared().await else {
        return;
    };
    let lease = Duration::from_millis(600);
    let store = || {
        Some(
            RedisDedup::new(&redis.backend(), "default", 100, Duration::from_secs(30)).lease(lease),
        )
    };
    let (servers, runs) = three(&redis, store);
    let user = sim();
    let push = user.prepare(&SimPush::text("0"));
    let key = dedup_key(&wechat_events::push::parse(push.xml().as_bytes()).expect("push"));

    // An instance claimed the push and died: in Redis, its claim (the
    // hash `RedisDedup` writes) with a lease it no longer renews.
    let mut conn = redis.conn().await;
    let (secs, micros): (u64, u64) = redis::cmd("TIME").query_async(&mut conn).await.unwrap();
    let now_ms = secs * 1000 + micros / 1000;
    let claim = format!("{{{}:default}}:dedup:{key}", redis.prefix);
    redis::pipe()
        .cmd("HSET")
        .arg(&claim)
        .arg("owner")
        .arg("dead-instance-1")
        .arg("lease")
        .arg(now_ms + lease.as_millis() as u64)
        .arg("tries")
        .arg(1)
        .cmd("PEXPIRE")
        .arg(&claim)
        .arg(30_000)
        .query_async::<()>(&mut conn)
        .await
        .unwrap();

    // WeChat's retry reaches a live instance: it waits for the dead one
    // until its lease runs out, then takes the push over and runs the
    // handler itself — never `success` for a push nobody will run.
    let started = Instant::now();
    let ran = surely("retry", user.deliver(&servers[0], &push))
        .await
        .expect("retry");
    assert_eq!(ran.text(), Some("run 1 after 0 ms"), "{}", ran.body_text());
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(runs.load(Ordering::SeqCst), 1);
    // A later retry gets the same answer.
    let ran = surely("later", user.deliver(&servers[1], &push))
        .await
        .expect("later");
    assert_eq!(ran.text(), Some("run 1 after 0 ms"));
    let again = surely("again", user.deliver(&servers[2], &push))
        .await
        .expect("again");
    assert_eq!(again.text(), Some("run 1 after 0 ms"));
    assert_eq!(runs.load(Ordering::SeqCst), 1);
}

#[actix_rt::test]
async fn first_sighting_and_fate_are_shared_by_every_instance() {
    use wechat_events::dedup::Fate;
    let Some(redis) = TestRedis::shared().await else {
        return;
    };
    let stores: Vec<_> = (0..3)
        .map(|_| RedisDedup::new(&redis.backend(), "wx1", 100, Duration::from_secs(30)))
        .collect();
    let Claim::First(ticket) = stores[0].claim("k".into()).await else {
        panic!("first")
    };
    let Claim::Duplicate(second) = stores[1].claim("k".into()).await else {
        panic!("second")
    };
    let Claim::Duplicate(third) = stores[2].claim("k".into()).await else {
        panic!("third")
    };
    assert!(ticket.first_seen().is_none(), "new to the store");
    let gap =
        second.first_seen().max(third.first_seen()) - second.first_seen().min(third.first_seen());
    assert!(
        gap < Duration::from_millis(200),
        "one first sighting: {gap:?}"
    );
    assert_eq!(third.decider()(Fate::HandedOff).await, Fate::HandedOff);
    assert_eq!(
        ticket.decider()(Fate::Answered).await,
        Fate::HandedOff,
        "the first decision holds"
    );
    assert_eq!(second.decider()(Fate::Answered).await, Fate::HandedOff);
    let (complete, mine) = ticket.into_parts();
    let outcome = Outcome {
        reply: Some("<xml>r</xml>".into()),
        handler: Some("h".into()),
        status: Status::Replied,
    };
    complete(outcome.clone());
    assert_eq!(mine.await, outcome);
    assert_eq!(surely("second", second).await, outcome);
    assert_eq!(surely("third", third).await, outcome);

    // A ticket dropped without an outcome gives the claim up: waiting
    // tries learn it, and the next claim takes it over, keeping the push's
    // first sighting.
    let Claim::First(ticket) = stores[0].claim("gone".into()).await else {
        panic!("first")
    };
    let Claim::Duplicate(waiting) = stores[1].claim("gone".into()).await else {
        panic!("second")
    };
    drop(ticket);
    assert_eq!(surely("abandoned", waiting).await, Outcome::abandoned());
    let Claim::First(takeover) = stores[2].claim("gone".into()).await else {
        panic!("an abandoned claim is taken over")
    };
    assert!(
        takeover.first_seen().is_some(),
        "a takeover, not a new push"
    );
}

// ---- load ----

async fn echo(msg: TextMessage) -> String {
    format!("echo {}", msg.content)
}

/// Sends `n` distinct pushes, `concurrency` at a time, round-robin over
/// `servers`; checks every answer; returns pushes per second.
async fn load(servers: &[TestServer], n: usize, concurrency: usize) -> f64 {
    use futures_util::StreamExt;
    let started = Instant::now();
    let answered = futures_util::stream::iter(0..n)
        .map(|i| async move {
            let user = sim();
            let response = user
                .send(&servers[i % servers.len()], &SimPush::text(i.to_string()))
                .await
                .expect("answer");
            assert_eq!(response.text(), Some(format!("echo {i}").as_str()));
        })
        .buffer_unordered(concurrency)
        .count()
        .await;
    assert_eq!(answered, n);
    n as f64 / started.elapsed().as_secs_f64()
}

/// The issue's load figure: pushes per second of three instances on one
/// Redis against one instance on its in-memory stores, in the same run (docs/redis.md
/// quotes it). Ignored by default (it takes a while and the figure means
/// little on a busy machine):
/// `cargo test -p wechat-events-e2e --test redis load -- --ignored --nocapture`.
#[actix_rt::test]
#[ignore = "a measurement: run with --ignored --nocapture"]
async fn load_three_instances_on_redis_against_one_in_memory() {
    let Some(redis) = TestRedis::shared().await else {
        return;
    };
    let serve = |config: Config| {
        let service = WechatService::builder(config)
            .only(Router::new().on(echo))
            .build()
            .expect("service");
        TestServer::builder(service).start()
    };
    let (n, concurrency) = (3000, 32);
    let alone = [serve(Config::builder(TOKEN).build().unwrap())];
    let shared: Vec<_> = (0..3).map(|_| serve(redis.config())).collect();
    load(&alone, 200, concurrency).await; // warm up
    load(&shared, 200, concurrency).await;
    let memory = load(&alone, n, concurrency).await;
    let redis_rate = load(&shared, n, concurrency).await;
    eprintln!("one instance, in memory: {memory:.0} pushes/s; three instances, one Redis: {redis_rate:.0} pushes/s ({n} pushes, {concurrency} at a time, one test process on this machine)");
}

/// `INFO commandstats` as command → calls.
async fn command_calls(redis: &TestRedis) -> HashMap<String, u64> {
    let info: String = redis::cmd("INFO")
        .arg("commandstats")
        .query_async(&mut redis.conn().await)
        .await
        .expect("INFO commandstats");
    info.lines()
        .filter_map(|line| {
            let (name, stats) = line.strip_prefix("cmdstat_")?.split_once(':')?;
            let calls = stats.split(',').find_map(|s| s.strip_prefix("calls="))?;
            Some((name.to_owned(), calls.parse().ok()?))
        })
        .collect()
}

/// The Redis cost of a push answered in time (docs/redis.md quotes the
/// figures): one service on a private `redis-server`, `N` text pushes,
/// `INFO commandstats` before and after. The claim script binds the URL,
/// claims the push and looks up the user's pending list; the answer script
/// settles the fate and stores the outcome: two round trips a push.
#[actix_rt::test]
async fn a_push_answered_in_time_costs_two_redis_round_trips() {
    let Some((_server, redis)) = OwnRedis::with_client().await else {
        return;
    };
    let service = WechatService::builder(redis.config())
        .only(Router::new().on(echo))
        .build()
        .expect("service");
    let servers = [TestServer::builder(service).start()];
    // The scripts are loaded (SCRIPT LOAD after a NOSCRIPT) on first use.
    load(&servers, 20, 4).await;
    const N: usize = 200;
    let before = command_calls(&redis).await;
    load(&servers, N, 8).await;
    let after = command_calls(&redis).await;
    let mut used: Vec<(String, u64)> = after
        .iter()
        .filter(|(name, _)| name.as_str() != "info")
        .map(|(name, calls)| (name.clone(), calls - before.get(name).copied().unwrap_or(0)))
        .filter(|(_, calls)| *calls > 0)
        .collect();
    used.sort();
    let count = |names: &[&str]| -> u64 {
        used.iter()
            .filter(|(n, _)| names.contains(&n.as_str()))
            .map(|(_, c)| c)
            .sum()
    };
    let scripts = count(&["evalsha", "eval", "evalsha_ro", "eval_ro"]);
    let total: u64 = used.iter().map(|(_, c)| c).sum();
    let per_push = |calls: u64| calls as f64 / N as f64;
    eprintln!(
        "per push answered in time ({N} text pushes): {:.2} scripts (round trips), {:.2} commands in all, those inside the scripts included: {used:?}",
        per_push(scripts),
        per_push(total)
    );
    assert!(
        scripts <= 2 * N as u64,
        "{scripts} scripts for {N} pushes: {used:?}"
    );
    // Every other command counted ran inside the scripts: none is a round
    // trip of its own.
    let in_scripts = [
        "get", "set", "pttl", "exists", "time", "hget", "hexists", "hset", "hsetnx", "pexpire",
        "del",
    ];
    let apart: Vec<_> = used
        .iter()
        .filter(|(n, _)| !in_scripts.contains(&n.as_str()) && !n.starts_with("eval"))
        .collect();
    assert!(apart.is_empty(), "commands outside the scripts: {apart:?}");
    let [server] = servers;
    server.stop().await;
}

/// The claim script's look at the user's pending list: a reply queued in
/// Redis (by any instance) answers the user's next push, with its own, and
/// is taken once; the push after that, with nothing pending, costs the two
/// scripts again.
#[actix_rt::test]
async fn a_reply_pending_in_redis_is_found_by_the_claim_and_answers_the_next_push() {
    use wechat_events::pending::PendingStore;
    let Some((_server, redis)) = OwnRedis::with_client().await else {
        return;
    };
    let service = WechatService::builder(redis.config())
        .only(Router::new().on(echo))
        .build()
        .expect("service");
    let server = TestServer::builder(service).start();
    // The scripts are loaded (SCRIPT LOAD after a NOSCRIPT) on first use.
    load(std::slice::from_ref(&server), 2, 1).await;
    // Queued by another instance (its own backend).
    let elsewhere = wechat_events::redis::RedisPending::new(
        &redis.backend(),
        "default",
        1 << 20,
        Duration::from_secs(600),
    );
    let user = sim();
    elsewhere
        .queue(user.user().to_owned(), vec![Reply::text("等了 20 秒")])
        .await;
    let answer = user
        .send(&server, &SimPush::text("在吗"))
        .await
        .expect("answer");
    assert_eq!(answer.text(), Some("等了 20 秒\n\necho 在吗"));
    assert!(
        !redis.keys().await.iter().any(|k| k.contains(":pending:")),
        "taken"
    );
    // The push's outcome is stored by a write of its own (the pending
    // reply made it take the three-step way): let it land.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let before = command_calls(&redis).await;
    let answer = user
        .send(&server, &SimPush::text("还在"))
        .await
        .expect("answer");
    assert_eq!(answer.text(), Some("echo 还在"));
    let after = command_calls(&redis).await;
    let scripts =
        after.get("evalsha").copied().unwrap_or(0) - before.get("evalsha").copied().unwrap_or(0);
    assert_eq!(
        scripts, 2,
        "nothing pending any more: claim and answer ({before:?} → {after:?})"
    );
    server.stop().await;
}

/// The binding made in the claim script tells a verbatim replay of a push
/// Redis no longer remembers (its dedup hash gone) from a retry: refused,
/// not run again; a retry of a remembered push is answered as before.
#[actix_rt::test]
async fn a_verbatim_replay_of_a_push_redis_forgot_is_refused() {
    let Some((_server, redis)) = OwnRedis::with_client().await else {
        return;
    };
    let service = WechatService::builder(redis.config())
        .only(Router::new().on(echo))
        .build()
        .expect("service");
    let server = TestServer::builder(service.clone()).start();
    let user = sim();
    let captured = user.prepare(&SimPush::text("一次"));
    let first = user.deliver(&server, &captured).await.expect("answered");
    assert_eq!(first.text(), Some("echo 一次"));
    let retry = user.deliver(&server, &captured).await.expect("answered");
    assert_eq!(retry.text(), Some("echo 一次"), "a retry while remembered");
    let keys = redis.keys().await;
    let binding = keys.iter().find(|k| k.contains(":replay:")).expect("bound");
    let dedup = keys
        .iter()
        .find(|k| k.contains(":dedup:"))
        .expect("claimed");
    let mut conn = redis.conn().await;
    // Bound 100 s ago (of its 600 s), and the push forgotten.
    let _: () = conn.pexpire(binding, 500_000).await.unwrap();
    let _: () = conn.del(dedup).await.unwrap();
    let replay = user.deliver(&server, &captured).await.expect("answered");
    assert_eq!(replay.status, 403, "{:?}", replay.body);
    assert_eq!(service.stats().forgotten, 1);
    assert_eq!(service.stats().runs, 1, "the push ran once");
    server.stop().await;
}

#[actix_rt::test]
async fn with_redis_down_retries_are_deduplicated_in_memory_and_across_instances_once_back() {
    let Some((mut server, redis)) = OwnRedis::with_client().await else {
        return;
    };
    let runs = web::Data::new(AtomicUsize::new(0));
    let backends: Vec<_> = (0..2).map(|_| redis.backend()).collect();
    let servers: Vec<_> = backends
        .iter()
        .map(|backend| {
            let service = WechatService::builder(Config::builder(TOKEN).build().unwrap())
                .redis(backend.clone())
                .only(Router::new().on(counted))
                .build()
                .expect("service");
            TestServer::builder(service).app_data(runs.clone()).start()
        })
        .collect();
    let user = sim();

    server.kill();
    let push = user.prepare(&SimPush::text("0"));
    for _ in 0..2 {
        let answer = surely("push", user.deliver(&servers[0], &push))
            .await
            .expect("answer");
        assert_eq!(
            answer.text(),
            Some("run 1 after 0 ms"),
            "a retry to the same instance"
        );
    }
    assert_eq!(runs.load(Ordering::SeqCst), 1);
    assert!(!backends[0].stats().up);

    server.restart().await;
    for backend in &backends {
        surely("back", wait_until_up(backend)).await;
    }
    let push = user.prepare(&SimPush::text("300"));
    let answers = join_all(servers.iter().map(|s| user.deliver(s, &push))).await;
    for answer in answers {
        assert_eq!(answer.expect("answer").text(), Some("run 2 after 300 ms"));
    }
    assert_eq!(
        runs.load(Ordering::SeqCst),
        2,
        "one run for both instances: Redis again"
    );
    assert!(
        redis.keys().await.iter().any(|k| k.contains(":dedup:")),
        "{:?}",
        redis.keys().await
    );
}

// ---- shutdown ----

/// Holds a handler until the test releases it.
#[derive(Default)]
struct Gate(tokio::sync::Notify);

async fn gated(msg: TextMessage, gate: web::Data<Gate>) -> String {
    gate.0.notified().await;
    format!("done {}", msg.content)
}

#[actix_rt::test]
async fn a_drain_returns_once_the_outcome_of_a_handler_it_waited_for_is_in_redis() {
    let Some((server, redis)) = OwnRedis::with_client().await else {
        return;
    };
    let config = Config::builder(TOKEN)
        .deadline(Duration::from_millis(300))
        .wait_retries(0)
        .slow_tip(TIP)
        .build()
        .unwrap();
    // The late reply's hook runs after the push's fate is settled in Redis
    // and before its outcome is written: Redis stops answering there for
    // 150 ms (under the backend's 300 ms time-out, so the write is slow,
    // not failed).
    let pid = server.pid();
    let late = Arc::new(Mutex::new(Vec::new()));
    let seen = late.clone();
    let service = WechatService::builder(config)
        .redis(redis.backend())
        .on_late_reply(move |reply| {
            freeze_process(pid, true);
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(150));
                freeze_process(pid, false);
            });
            seen.lock().unwrap().push(reply.reply);
        })
        .only(Router::new().on(gated))
        .build()
        .expect("service");
    let gate = web::Data::new(Gate::default());
    let a = TestServer::builder(service.clone())
        .app_data(gate.clone())
        .start();
    // Opened now: a connection made while Redis is frozen would wait for it.
    let mut conn = redis.conn().await;
    // The outcome's script is not in Redis's script cache (as after a
    // restart or a fail-over): it takes three round trips (EVALSHA,
    // NOSCRIPT, SCRIPT LOAD, EVALSHA), each behind the frozen server.
    redis::cmd("SCRIPT")
        .arg("FLUSH")
        .query_async::<()>(&mut conn)
        .await
        .expect("SCRIPT FLUSH");

    let user = sim();
    let push = user.prepare(&SimPush::text("slow"));
    let key = dedup_key(&wechat_events::push::parse(push.xml().as_bytes()).expect("push"));
    let hash = format!("{{{}:default}}:dedup:{key}", redis.prefix);
    let answer = surely("push", user.deliver(&a, &push))
        .await
        .expect("answer");
    assert_eq!(answer.text(), Some(TIP), "{}", answer.body_text());

    // The handler finishes during the drain.
    let started = Instant::now();
    let release = async {
        tokio::time::sleep(Duration::from_millis(50)).await;
        gate.0.notify_one();
    };
    let (drained, ()) = futures_util::future::join(
        surely("drain", service.drain(Duration::from_secs(3))),
        release,
    )
    .await;
    let took = started.elapsed();
    let outcome: Option<String> = conn.hget(&hash, "outcome").await.expect("HGET");
    assert!(drained, "drained within its grace");
    assert_eq!(*late.lock().unwrap(), vec![Reply::text("done slow")]);
    let outcome = outcome.unwrap_or_else(|| {
        panic!("drain returned after {took:?} and the push's outcome is not in Redis")
    });
    assert!(
        outcome.contains(TIP),
        "the tip the push was answered: {outcome}"
    );
    assert!(
        took >= Duration::from_millis(150),
        "waited for the frozen Redis: {took:?}"
    );
    let stats = service.redis().expect("redis").stats();
    assert!(stats.up && stats.outages == 0, "{stats:?}");
    a.stop().await;
}

// ---- faults under load ----

/// The slow tip of the fault and drain tests' services.
const TIP: &str = "稍候";

/// What the handlers and the late-reply hooks of one fault test saw.
#[derive(Default)]
struct Ledger {
    /// Each push's handler runs (by the push's text), when each started.
    runs: Mutex<HashMap<String, Vec<Instant>>>,
    /// Late replies: (the user of the push, the reply's text).
    late: Mutex<Vec<(String, String)>>,
}

/// A text handler that records its run and takes the milliseconds after
/// the text's last `:`; its reply names the push, the run and the user.
async fn recorded(msg: TextMessage, cx: Context, ledger: web::Data<Ledger>) -> String {
    let n = {
        let mut runs = ledger.runs.lock().unwrap();
        let runs = runs.entry(msg.content.clone()).or_default();
        runs.push(Instant::now());
        runs.len()
    };
    let delay: u64 = msg
        .content
        .rsplit(':')
        .next()
        .and_then(|d| d.parse().ok())
        .unwrap_or(0);
    tokio::time::sleep(Duration::from_millis(delay)).await;
    format!("{} run {n} for {}", msg.content, cx.openid())
}

/// The fault a test injects into its Redis while the load runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    /// SIGSTOP, then SIGCONT.
    Freeze,
    /// SIGKILL, then a new server on the same port (empty).
    Restart,
    /// `maxmemory 1` (noeviction: every write refused), then 0.
    Full,
}

/// One push of the load and what its tries got.
struct Sent {
    content: String,
    user: String,
    /// From its first try's sending to its last try's answer.
    span: (Instant, Instant),
    /// Per try: the instance, when it was sent after the first (ms), and
    /// the answer (or why none came).
    tries: Vec<(
        usize,
        u64,
        Result<wechat_events::testing::Response, SimError>,
    )>,
}

/// Three instances of the recording bot on one private `redis-server`,
/// a stream of pushes whose tries go to different instances, `fault`
/// injected while it runs; then every invariant is checked from the
/// outside. Returns the figures for the test's message.
async fn under_load_with(fault: Fault, wait_retries: u8) -> Option<String> {
    let mut server = OwnRedis::start().await?;
    let redis = TestRedis::at(&server.url()).await?;
    let ledger = web::Data::new(Ledger::default());
    // Slow pushes outlive the first try's deadline; with a held try, they
    // outlive the try that must answer (the third, 2.7 s later).
    let slow_ms = if wait_retries == 0 { 600 } else { 3_200 };
    let third_ms = if wait_retries == 0 { 400 } else { 2_700 };
    let mut services = Vec::new();
    let mut servers = Vec::new();
    for _ in 0..3 {
        let config = Config::builder(TOKEN)
            .deadline(Duration::from_millis(300))
            .wait_retries(wait_retries)
            .slow_tip(TIP)
            .build()
            .unwrap();
        let hook = ledger.clone();
        let service = WechatService::builder(config)
            .redis(redis.backend())
            .on_late_reply(move |late| {
                let text = match &late.reply {
                    Reply::Text { content } => content.clone(),
                    other => format!("{other:?}"),
                };
                let user = late.push.from_user.to_string();
                hook.late.lock().unwrap().push((user, text));
            })
            .only(Router::new().on(recorded))
            .build()
            .expect("service");
        servers.push(
            TestServer::builder(service.clone())
                .app_data(ledger.clone())
                .start(),
        );
        services.push(service);
    }
    let backends: Vec<RedisBackend> = services
        .iter()
        .map(|s| s.redis().expect("redis").clone())
        .collect();
    let users: Vec<Simulator> = (0..8).map(|_| sim()).collect();
    let port = format!("127.0.0.1:{}", server.port);
    let log_from = captured_log().text().len();

    // The load: a push every 40 ms for 3.6 s, every fourth slow; its three
    // tries go to the three instances, 0, 150 and `third_ms` ms apart, as
    // WeChat's retries (or a duplicate delivery) could.
    let start = Instant::now();
    let pushes = 90;
    let load = join_all((0..pushes).map(|i| {
        let (servers, user) = (&servers, &users[i % users.len()]);
        async move {
            tokio::time::sleep(Duration::from_millis(40 * i as u64)).await;
            let slow = i % 4 == 1;
            let delay = if slow { slow_ms } else { (i % 3) * 40 };
            let content = format!("p{i}:{delay}");
            let push = user.prepare(&SimPush::text(&content));
            let offsets = [0, 150, if slow { third_ms } else { 400 }];
            let first = Instant::now();
            let tries = join_all(offsets.iter().enumerate().map(|(t, offset)| {
                let (push, at) = (&push, (i + t) % 3);
                async move {
                    tokio::time::sleep(Duration::from_millis(*offset)).await;
                    (at, *offset, user.deliver(&servers[at], push).await)
                }
            }))
            .await;
            Sent {
                content,
                user: user.user().to_owned(),
                span: (first, Instant::now()),
                tries,
            }
        }
    }));
    // The fault: from 1 s into the load, for 1.2 s; the outage lasts until
    // every instance uses Redis again.
    let inject = async {
        tokio::time::sleep(Duration::from_millis(1_000)).await;
        let began = Instant::now();
        match fault {
            Fault::Freeze => server.freeze(true),
            Fault::Restart => server.kill(),
            Fault::Full => {
                config_set(&redis, "maxmemory-policy", "noeviction").await;
                config_set(&redis, "maxmemory", "1").await;
            }
        }
        tokio::time::sleep(Duration::from_millis(1_200)).await;
        match fault {
            Fault::Freeze => server.freeze(false),
            Fault::Restart => server.restart().await,
            Fault::Full => config_set(&redis, "maxmemory", "0").await,
        }
        for backend in &backends {
            wait_until_up(backend).await;
        }
        (began, Instant::now())
    };
    let (sent, (began, back)) = surely("load", futures_util::future::join(load, inject)).await;
    let loaded = start.elapsed();
    // Every handler finished (late replies delivered, outcomes written).
    for service in &services {
        assert!(service.drain(Duration::from_secs(5)).await, "drained");
    }
    let outage = began..back;
    // A try of a push in flight during the outage may reach Redis after it
    // and find the push unknown there (a restarted Redis is empty; an
    // outcome refused while it was full is missing): it runs it again, up to
    // the push's last try.
    let slack = Duration::from_millis(third_ms + 500);

    let runs = ledger.runs.lock().unwrap().clone();
    let late = ledger.late.lock().unwrap().clone();
    // What became of a push, for the messages of failed checks.
    let describe = |push: &Sent| {
        let tries: Vec<String> = push
            .tries
            .iter()
            .map(|(at, offset, r)| match r {
                Ok(r) => format!(
                    "+{offset} ms, instance {at}: {:?} after {:?}",
                    r.body_text(),
                    r.elapsed
                ),
                Err(e) => format!("+{offset} ms, instance {at}: {e}"),
            })
            .collect();
        let ran: Vec<Duration> = runs
            .get(&push.content)
            .map(|r| r.iter().map(|t| *t - start).collect())
            .unwrap_or_default();
        format!(
            "{} from {}, sent {:?} into the load: tries {tries:#?}; runs started at {ran:?}; \
             the outage {:?} to {:?}",
            push.content,
            push.user,
            push.span.0 - start,
            began - start,
            back - start
        )
    };
    let (mut tips, mut replies, mut extra, mut after, mut touched, mut held_out, mut slowest) =
        (0, 0, 0, 0, 0, 0, Duration::ZERO);
    let mut answered_texts: Vec<String> = Vec::new();
    for push in &sent {
        // Every try answered in time, as WeChat accepts, to its own user:
        // with this push's reply, or the tip — except a try the service
        // holds open (a first try, with `wait_retries` 1), which WeChat
        // hangs up on after 5 s to try again: the push's later try answers.
        let mut in_time = 0;
        for (at, offset, response) in &push.tries {
            let may_hold = wait_retries > 0 && *offset < 2_500;
            let response = match response {
                Ok(response) => response,
                Err(SimError::Timeout { .. }) if may_hold => {
                    held_out += 1;
                    continue;
                }
                Err(e) => panic!("no answer: {e}; {}", describe(push)),
            };
            in_time += 1;
            slowest = slowest.max(response.elapsed);
            response
                .check()
                .unwrap_or_else(|e| panic!("try to instance {at}: {e}; {}", describe(push)));
            let text = response
                .text()
                .unwrap_or_else(|| panic!("{}: answered {}", push.content, response.body_text()));
            if text == TIP {
                tips += 1;
                continue;
            }
            replies += 1;
            assert!(
                text.starts_with(&format!("{} run ", push.content))
                    && text.ends_with(&format!(" for {}", push.user)),
                "{} from {}: answered {text:?}",
                push.content,
                push.user
            );
            answered_texts.push(text.to_owned());
        }
        assert!(in_time > 0, "no try answered in time: {}", describe(push));
        // Exactly once while Redis was healthy; any extra run belongs to
        // a push in flight during the outage, and started in it.
        let ran = runs
            .get(&push.content)
            .map(Vec::as_slice)
            .unwrap_or_default();
        let in_outage = push.span.0 <= back && push.span.1 >= began;
        assert!(!ran.is_empty(), "{}: never ran", push.content);
        if ran.len() > 1 {
            assert!(
                in_outage,
                "ran {} times, outside the outage: {}",
                ran.len(),
                describe(push)
            );
            for run in &ran[1..] {
                after += usize::from(*run > outage.end);
                assert!(
                    outage.start <= *run && *run <= outage.end + slack,
                    "a run again {:?} into the load, outside the outage: {}",
                    *run - start,
                    describe(push)
                );
            }
        }
        extra += ran.len() - 1;
        touched += usize::from(in_outage);
    }
    // No reply to the wrong user in the late replies either.
    let user_of: HashMap<&str, &str> = sent
        .iter()
        .map(|p| (p.content.as_str(), p.user.as_str()))
        .collect();
    for (user, text) in &late {
        let content = text.split(" run ").next().unwrap_or_default();
        assert_eq!(
            user_of.get(content).copied(),
            Some(user.as_str()),
            "late reply {text:?} for {user}"
        );
        assert!(
            text.ends_with(&format!(" for {user}")),
            "{text:?} for {user}"
        );
    }
    // Every run's reply answered a try or reached the late-reply hook.
    for push in &sent {
        for n in 1..=runs.get(&push.content).map_or(0, Vec::len) {
            let reply = format!("{} run {n} for {}", push.content, push.user);
            assert!(
                answered_texts.contains(&reply) || late.iter().any(|(_, t)| *t == reply),
                "{reply:?}: neither answered nor delivered late; {}",
                describe(push)
            );
        }
    }

    // The outage: declared once and counted by each instance, ended once.
    let (down, what) = match fault {
        Fault::Full => ("Redis refuses writes", "OOM"),
        _ => ("Redis is unreachable", ""),
    };
    let log = logged_since(log_from);
    let lines = |needle: &str| {
        log.lines()
            .filter(|l| l.contains(needle) && l.contains(&port) && l.contains(what))
            .count()
    };
    assert_eq!(lines(down), 3, "one outage line per instance");
    assert_eq!(
        log.lines()
            .filter(|l| l.contains("Redis is back after") && l.contains(&port))
            .count(),
        3
    );
    let mut fallbacks = 0;
    for backend in &backends {
        let stats = backend.stats();
        assert!(
            stats.up && stats.outages == 1 && stats.fallbacks > 0 && stats.last_outage.is_some(),
            "{stats:?}"
        );
        fallbacks += stats.fallbacks;
    }
    // The services' counters agree with what the test saw.
    let stats: Vec<_> = services.iter().map(WechatService::stats).collect();
    let sum =
        |f: fn(&wechat_events::service::LifecycleStats) -> u64| stats.iter().map(f).sum::<u64>();
    let total_runs: usize = runs.values().map(Vec::len).sum();
    assert_eq!(sum(|s| s.runs), total_runs as u64, "{stats:#?}");
    assert_eq!(sum(|s| s.late_delivered), late.len() as u64, "{stats:#?}");
    assert_eq!(
        sum(|s| s.cancelled) + sum(|s| s.forgotten) + sum(|s| s.late_unsure),
        0,
        "{stats:#?}"
    );
    assert!(
        sum(|s| s.handed_off) <= tips,
        "a hand-off answers the tip: {stats:#?}"
    );
    assert!(sum(|s| s.takeovers) <= extra as u64, "{stats:#?}");
    assert!(extra as u64 <= fallbacks, "an extra run needs a fallback");
    assert!(late.len() <= tips as usize + extra, "{stats:#?}");
    Some(format!(
        "{fault:?}, wait_retries {wait_retries}: {pushes} pushes ({} tries) in {loaded:?}; outage {:?} from {:?} into the load; \
         {touched} pushes in flight during it; {total_runs} runs ({extra} extra, {after} of them after it, takeovers {}); {replies} replies and {tips} tips answered ({held_out} held tries hung up at 5 s), \
         {} late replies; slowest answer {slowest:?}; fallbacks {fallbacks}",
        pushes * 3,
        back - began,
        began - start,
        sum(|s| s.takeovers),
        late.len()
    ))
}

#[actix_rt::test]
async fn redis_frozen_under_load_runs_each_push_once_while_healthy_and_loses_no_reply() {
    if let Some(figures) = under_load_with(Fault::Freeze, 0).await {
        eprintln!("{figures}");
    }
}

#[actix_rt::test]
async fn redis_killed_and_restarted_under_load_runs_each_push_once_while_healthy_and_loses_no_reply(
) {
    if let Some(figures) = under_load_with(Fault::Restart, 1).await {
        eprintln!("{figures}");
    }
}

#[actix_rt::test]
async fn redis_full_under_load_runs_each_push_once_while_healthy_and_loses_no_reply() {
    if let Some(figures) = under_load_with(Fault::Full, 0).await {
        eprintln!("{figures}");
    }
}

// ---- several accounts on one Redis --------------------------------------

/// Two instances serving three accounts (two plaintext without an AppID,
/// one secure with one) through one Redis: each account's pushes,
/// sessions and pending replies are its own, under keys that carry the
/// account — its AppID where it has one, else its name.
#[actix_rt::test]
async fn several_accounts_share_one_redis_with_keys_apart() {
    let Some(redis) = TestRedis::shared().await else {
        return;
    };
    let file = format!(
        r#"
        [server]
        redis_url = "env:TEST_REDIS_URL"
        redis_prefix = "{prefix}"

        [[accounts]]
        name = "shop"
        token = "shoptoken"

        [[accounts]]
        name = "news"
        token = "newstoken"

        [[accounts]]
        name = "staff"
        token = "stafftoken"
        appid = "{APPID}"
        aes_key = "env:STAFF_AES_KEY"
        "#,
        prefix = redis.prefix
    );
    let url = redis.url.clone();
    let accounts = wechat_events::Accounts::from_toml(&file, "accounts.toml", |name| match name {
        "TEST_REDIS_URL" => Some(url.clone()),
        "STAFF_AES_KEY" => Some(AES_KEY.to_owned()),
        _ => None,
    })
    .expect("accounts");
    let runs: Arc<Mutex<HashMap<String, usize>>> = Arc::default();
    let instance = || {
        let runs = runs.clone();
        let router = Router::new()
            .keyword("数", move |_: TextMessage, cx: Context| {
                let runs = runs.clone();
                async move {
                    *runs
                        .lock()
                        .unwrap()
                        .entry(cx.account_name().to_owned())
                        .or_default() += 1;
                    format!("{} counted", cx.account_name())
                }
            })
            .keyword(
                "记",
                |_: TextMessage, cx: Context, session: Session| async move {
                    session.set("who", &cx.account_name()).await?;
                    Ok::<_, SessionError>("记下了")
                },
            )
            .keyword("读", |_: TextMessage, session: Session| async move {
                let who: Option<String> = session.get("who").await?;
                Ok::<_, SessionError>(who.unwrap_or_else(|| "nobody".to_owned()))
            });
        let services = wechat_events::WechatAccounts::builder(accounts.clone())
            .only(router)
            .build()
            .expect("services");
        TestServer::without_service()
            .configure(move |cfg| {
                cfg.service(services.clone());
            })
            .start()
    };
    let (a, b) = (instance(), instance());
    let names = ["shop", "news", "staff"];
    let ask = |server: &TestServer, account: &str, push: SimPush| {
        let config = accounts.get(account).expect("account").clone();
        let url = server.url_for(config.path());
        async move {
            let sim = Simulator::for_config(&config).openid("o_everywhere");
            let answer = sim.deliver(url.as_str(), &sim.prepare(&push)).await;
            answer.expect("answered").text().unwrap_or("").to_owned()
        }
    };
    // One OpenID, one CreateTime, one MsgId: a push per account, each run
    // once whichever instance gets its retry.
    let now = now();
    let same = || SimPush::text("数").create_time(now).msg_id(777);
    for account in names {
        assert_eq!(ask(&a, account, same()).await, format!("{account} counted"));
        assert_eq!(ask(&b, account, same()).await, format!("{account} counted"));
    }
    for account in names {
        assert_eq!(runs.lock().unwrap().get(account), Some(&1), "{account}");
    }
    // Sessions: written through one instance, read through the other, per
    // account.
    assert_eq!(ask(&a, "shop", SimPush::text("记")).await, "记下了");
    assert_eq!(ask(&b, "shop", SimPush::text("读")).await, "shop");
    assert_eq!(ask(&b, "news", SimPush::text("读")).await, "nobody");
    assert_eq!(ask(&b, "staff", SimPush::text("读")).await, "nobody");
    // Every key carries its account: the name without an AppID, the AppID
    // with one; none is the single account's `default`.
    let keys = redis.keys().await;
    for account in ["shop", "news", APPID] {
        let tagged = format!("{{{}:{account}}}", redis.prefix);
        let plain = format!("{}:{account}:", redis.prefix);
        assert!(
            keys.iter()
                .any(|k| k.starts_with(&tagged) || k.starts_with(&plain)),
            "no key for {account}: {keys:?}"
        );
    }
    let default = format!("{}:default", redis.prefix);
    assert!(
        keys.iter()
            .all(|k| !k.contains(&default) && !k.contains(":staff")),
        "{keys:?}"
    );
    a.stop().await;
    b.stop().await;
}

// ---- a third-party platform on Redis -------------------------------------

/// A component's ticket, authorizers and tokens live in Redis: a second
/// instance (or a restarted one) has them — no new ticket, no new
/// authorization — and the two fetch the component token once between them.
#[actix_rt::test]
async fn a_platforms_ticket_authorizers_and_tokens_are_shared_through_redis() {
    use wechat_events::testing::{ComponentStandIn, COMPONENT_APPID, COMPONENT_SECRET};
    let Some(redis) = TestRedis::shared().await else {
        return;
    };
    let wechat = ComponentStandIn::start();
    let file = format!(
        r#"
        [server]
        redis_url = "{url}"
        redis_prefix = "{prefix}"
        api_base = "{base}"

        [open_platform]
        appid = "{COMPONENT_APPID}"
        app_secret = "{COMPONENT_SECRET}"
        token = "componenttoken"
        aes_key = "{AES_KEY}"
        "#,
        url = redis.url,
        prefix = redis.prefix,
        base = wechat.base_url(),
    );
    let accounts =
        wechat_events::Accounts::from_toml(&file, "accounts.toml", |_| None).expect("accounts");
    let instance = || {
        let services = wechat_events::WechatAccounts::builder(accounts.clone())
            .only(
                Router::new().on(|msg: TextMessage, cx: Context| async move {
                    format!("{}: {}", cx.authorizer().unwrap_or("-"), msg.content)
                }),
            )
            .build()
            .expect("services");
        let mounted = services.clone();
        let server = TestServer::without_service()
            .configure(move |cfg| {
                cfg.service(mounted.clone());
            })
            .start();
        (server, services)
    };
    let component = accounts
        .open_platform()
        .expect("a platform")
        .config()
        .clone();
    let sim = Simulator::for_config(&component);
    let event = |info_type: &str, fields: String| {
        SimPush::raw(format!(
            "<xml><AppId>{COMPONENT_APPID}</AppId><CreateTime>{}</CreateTime>\
             <InfoType>{info_type}</InfoType>{fields}</xml>",
            now()
        ))
    };
    let (a, a_services) = instance();
    let ticket = wechat.new_ticket();
    let answer = sim
        .send(
            a.url_for("/wechat/open/auth").as_str(),
            &event(
                "component_verify_ticket",
                format!("<ComponentVerifyTicket>{ticket}</ComponentVerifyTicket>"),
            ),
        )
        .await
        .expect("answered");
    assert_eq!(answer.body_text(), "success");
    let code = wechat.authorization_code("wxshared");
    let answer = sim
        .send(
            a.url_for("/wechat/open/auth").as_str(),
            &event(
                "authorized",
                format!("<AuthorizerAppid>wxshared</AuthorizerAppid><AuthorizationCode>{code}</AuthorizationCode>"),
            ),
        )
        .await
        .expect("answered");
    assert_eq!(answer.body_text(), "success");
    assert_eq!(wechat.calls_to("api_component_token"), 1);
    // A second instance, started after: it has the authorizer and the
    // ticket, and takes the component token from Redis.
    let (b, b_services) = instance();
    let token_a = a_services
        .open_platform()
        .unwrap()
        .client()
        .component_token()
        .await;
    let token_b = b_services
        .open_platform()
        .unwrap()
        .client()
        .component_token()
        .await;
    assert_eq!(token_a.expect("token a"), token_b.expect("token b"));
    assert_eq!(wechat.calls_to("api_component_token"), 1);
    assert_eq!(wechat.calls_to("api_start_push_ticket"), 0);
    let push = |server: &TestServer| {
        let url = server.url_for("/wechat/open/wxshared");
        let sim = sim.clone().account("gh_wxshared");
        async move {
            sim.send(url.as_str(), &SimPush::text("hi"))
                .await
                .expect("answered")
                .text()
                .map(str::to_owned)
        }
    };
    assert_eq!(push(&b).await.as_deref(), Some("wxshared: hi"));
    assert_eq!(push(&a).await.as_deref(), Some("wxshared: hi"));
    // The keys carry the component's AppID; the ticket is there.
    let keys = redis.keys().await;
    let ticket_key = format!("{{{}:{COMPONENT_APPID}}}:component:ticket", redis.prefix);
    assert!(keys.contains(&ticket_key), "{keys:?}");
    a.stop().await;
    b.stop().await;
}

/// The users' customer-service quotas are counted together by every
/// instance: what one grants another sees, what one takes another cannot.
#[actix_rt::test]
async fn customer_service_quotas_are_counted_by_every_instance_together() {
    use wechat_events::quota::{Interaction, Quotas};
    let Some(redis) = TestRedis::shared().await else {
        return;
    };
    let (a, b) = (
        Quotas::shared(&redis.backend(), "wxquota"),
        Quotas::shared(&redis.backend(), "wxquota"),
    );
    let minute = tokio::time::Instant::now() + Duration::from_secs(60);
    a.grant("oUser", Interaction::new("click-1", 3, minute))
        .await;
    // The same interaction granted again (another instance's retry) counts once.
    b.grant("oUser", Interaction::new("click-1", 3, minute))
        .await;
    assert_eq!(b.available("oUser").await, 3);
    assert!(b.take("oUser").await && a.take("oUser").await && b.take("oUser").await);
    assert!(!a.take("oUser").await, "a fourth message does not fit");
    a.give_back("oUser").await;
    assert_eq!(b.available("oUser").await, 1);
    b.exhaust("oUser").await;
    assert_eq!(a.available("oUser").await, 0);
    // Another user, another account: counted apart.
    assert_eq!(a.available("oOther").await, 0);
    let other_account = Quotas::shared(&redis.backend(), "wxelse");
    other_account
        .grant("oUser", Interaction::new("m1", 5, minute))
        .await;
    assert_eq!(other_account.available("oUser").await, 5);
    assert_eq!(a.available("oUser").await, 0);
    // One hash per user and account, under the account's tag, expiring
    // with its last allowance.
    let key = format!("{{{}:wxquota}}:quota:oUser", redis.prefix);
    assert!(redis.keys().await.contains(&key));
    let pttl = redis.pttl(&key).await;
    assert!((1..=60_000).contains(&pttl), "{pttl}");
}
