//! Hardening through real servers: replay protection, overload, and a
//! graceful shutdown of the quickstart process.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use tokio::sync::Notify;
use wechat_events::signature::sign;
use wechat_events::testing::{SimPush, Simulator, TestServer};
use wechat_events::{ClickEvent, Config, Router, TextMessage, WechatService};

use common::now;

const TOKEN: &str = "hardtoken";

fn signed_query(timestamp: i64, nonce: &str) -> String {
    let ts = timestamp.to_string();
    let signature = sign(&[TOKEN, &ts, nonce]);
    format!("signature={signature}&timestamp={ts}&nonce={nonce}")
}

fn text_xml(from: &str, content: &str, msg_id: u64) -> String {
    format!(
        "<xml><ToUserName><![CDATA[gh_test]]></ToUserName><FromUserName><![CDATA[{from}]]></FromUserName>\
         <CreateTime>{}</CreateTime><MsgType><![CDATA[text]]></MsgType>\
         <Content><![CDATA[{content}]]></Content><MsgId>{msg_id}</MsgId></xml>",
        now()
    )
}

/// Posts `body` to `url?query`; the status and the body.
async fn post(url: &str, query: &str, body: String) -> (u16, String) {
    let mut resp = awc::Client::new()
        .post(format!("{url}?{query}"))
        .insert_header(("content-type", "text/xml"))
        .send_body(body)
        .await
        .expect("request");
    let text = resp.body().await.expect("body");
    (
        resp.status().as_u16(),
        String::from_utf8_lossy(&text).into_owned(),
    )
}

static ECHOES: AtomicUsize = AtomicUsize::new(0);

async fn echo(msg: TextMessage) -> String {
    ECHOES.fetch_add(1, Ordering::SeqCst);
    format!("echo {}", msg.content)
}

fn echo_service(window: Option<Duration>) -> WechatService {
    let config = Config::builder(TOKEN)
        .replay_window(window)
        .build()
        .unwrap();
    WechatService::builder(config)
        .only(Router::new().on(echo))
        .build()
        .unwrap()
}

#[actix_rt::test]
async fn replays_outside_the_window_or_with_another_body_are_refused() {
    let server = TestServer::builder(echo_service(Some(Duration::from_secs(300)))).start();
    let url = server.url().to_owned();

    // A handshake signed long ago: 403, not 200.
    let mut resp = awc::Client::new()
        .get(format!("{url}?{}&echostr=hello", signed_query(1, "n1")))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 403);
    let body = resp.body().await.unwrap();
    assert!(String::from_utf8_lossy(&body).contains("replay window"));

    // A push signed 10 minutes ago: 403, and no handler runs.
    let before = ECHOES.load(Ordering::SeqCst);
    let (status, _) = post(
        &url,
        &signed_query(now() - 600, "n2"),
        text_xml("o_a", "old", 1),
    )
    .await;
    assert_eq!(status, 403);

    // A fresh signed URL: its first body is answered, a retry with the same
    // body gets the same reply, another body under the same URL is refused.
    let query = signed_query(now(), "n3");
    let original = text_xml("o_a", "hello", 2);
    let (status, first) = post(&url, &query, original.clone()).await;
    assert_eq!(status, 200);
    assert!(first.contains("echo hello"), "{first}");
    let (status, retry) = post(&url, &query, original).await;
    assert_eq!((status, retry.as_str()), (200, first.as_str()));
    let (status, forged) = post(&url, &query, text_xml("o_victim", "transfer", 3)).await;
    assert_eq!(status, 403, "{forged}");
    assert!(forged.contains("another body"), "{forged}");
    assert_eq!(
        ECHOES.load(Ordering::SeqCst),
        before + 1,
        "only the genuine push ran"
    );
    server.stop().await;

    // With the window off (replaying recorded pushes), an old timestamp passes.
    let server = TestServer::builder(echo_service(None)).start();
    let (status, body) = post(
        server.url(),
        &signed_query(1, "n4"),
        text_xml("o_a", "recorded", 4),
    )
    .await;
    assert_eq!(status, 200);
    assert!(body.contains("echo recorded"), "{body}");
    server.stop().await;
}

static GATE: OnceLock<Arc<Notify>> = OnceLock::new();
static FINISHED: AtomicUsize = AtomicUsize::new(0);
static CANCELLED: AtomicUsize = AtomicUsize::new(0);

/// Counts a `stuck` handler dropped before it finished (cancelled).
struct CountCancel(bool);

impl Drop for CountCancel {
    fn drop(&mut self) {
        if !self.0 {
            CANCELLED.fetch_add(1, Ordering::SeqCst);
        }
    }
}

async fn stuck(_: ClickEvent) -> &'static str {
    let mut guard = CountCancel(false);
    GATE.get_or_init(Default::default).notified().await;
    guard.0 = true;
    FINISHED.fetch_add(1, Ordering::SeqCst);
    "late"
}

#[actix_rt::test]
async fn hundreds_of_slow_handlers_are_all_answered_and_the_background_limit_holds() {
    const PUSHES: usize = 300;
    const LIMIT: usize = 100;
    let late = Arc::new(Mutex::new(0usize));
    let config = Config::builder(TOKEN)
        .deadline(Duration::from_millis(300))
        .wait_retries(0)
        .max_background(LIMIT)
        .build()
        .unwrap();
    let hook_count = late.clone();
    let service = WechatService::builder(config)
        .only(Router::new().on(stuck))
        .on_late_reply(move |_| *hook_count.lock().unwrap() += 1)
        .build()
        .unwrap();
    let server = TestServer::builder(service.clone()).start();
    let sim = Simulator::new(TOKEN);
    let answers = futures_util::future::join_all((0..PUSHES).map(|i| {
        let sim = &sim;
        let server = &server;
        async move { sim.send(server, &SimPush::click(format!("K{i}"))).await }
    }))
    .await;
    for response in &answers {
        let response = response.as_ref().expect("answered");
        // Accepted by WeChat's rules: 200, within 5 s, `success`.
        assert!(response.check().expect("accepted").is_no_reply());
    }
    assert_eq!(
        FINISHED.load(Ordering::SeqCst),
        0,
        "every handler is still waiting"
    );
    // Beyond the background limit, overdue handlers are cancelled. Each
    // push was answered at its deadline, but its handler's task may reach
    // its own deadline check a moment later: wait until every overdue
    // handler has been either kept (within the limit) or cancelled, so
    // none is released while still in time.
    let settled = Instant::now() + Duration::from_secs(20);
    while CANCELLED.load(Ordering::SeqCst) < PUSHES - LIMIT && Instant::now() < settled {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(CANCELLED.load(Ordering::SeqCst), PUSHES - LIMIT);
    // The ones within it finish when released, their replies reaching the
    // hook.
    GATE.get().expect("gate").notify_waiters();
    assert!(service.drain(Duration::from_secs(20)).await, "drained");
    assert_eq!(FINISHED.load(Ordering::SeqCst), LIMIT);
    assert_eq!(*late.lock().unwrap(), LIMIT);
    server.stop().await;
}

#[cfg(unix)]
#[actix_rt::test]
async fn sigterm_lets_background_handlers_finish_then_exits_zero() {
    let mut child = Command::new(common::quickstart_binary())
        .env_clear()
        .env("WECHAT_TOKEN", TOKEN)
        .env("WECHAT_ADDR", "127.0.0.1:0")
        .env("WECHAT_DEADLINE_MS", "300")
        .env("WECHAT_WAIT_RETRIES", "0")
        .env("WECHAT_SHUTDOWN_GRACE_S", "30")
        .env("RUST_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn quickstart");
    let stdout = BufReader::new(child.stdout.take().unwrap());
    let url = stdout
        .lines()
        .map(|l| l.expect("stdout"))
        .find_map(|l| {
            l.strip_prefix("listening on ")
                .map(|rest| rest.split(' ').next().unwrap_or_default().to_owned())
        })
        .expect("listening line");
    let stderr = BufReader::new(child.stderr.take().unwrap());
    let (log_tx, log_rx) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in stderr.lines().map_while(Result::ok) {
            if log_tx.send(line).is_err() {
                break;
            }
        }
    });

    // The SLOW menu item misses the deadline and runs on in the background.
    let sim = Simulator::new(TOKEN);
    let answer = sim
        .send(url.as_str(), &SimPush::click("SLOW"))
        .await
        .expect("answered");
    assert!(answer.is_no_reply());
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());

    // It exits 0, and only after the late reply reached the hook.
    let exit = tokio::task::spawn_blocking(move || child.wait().expect("wait"))
        .await
        .unwrap();
    let log: Vec<String> = log_rx.try_iter().collect();
    let position = |needle: &str| log.iter().position(|l| l.contains(needle));
    let shutdown = position("shutting down").unwrap_or_else(|| panic!("{log:#?}"));
    let late = position("late reply ready").unwrap_or_else(|| panic!("{log:#?}"));
    let stopped = position("stopped").unwrap_or_else(|| panic!("{log:#?}"));
    assert!(shutdown < late && late < stopped, "{log:#?}");
    assert!(exit.success(), "exit status {exit:?}");
}

/// The quickstart as its own process on a free port, logging at `info`:
/// the child, its push URL, and its log lines as they come.
#[cfg(unix)]
fn spawn_quickstart(
    env: &[(&str, &str)],
) -> (Child, String, mpsc::Receiver<String>, tempfile::TempDir) {
    // A state directory of its own: the quickstart's default one is shared
    // by every quickstart started from this directory, and a second
    // process on it is refused.
    let state = tempfile::tempdir().expect("a state directory");
    let mut command = Command::new(common::quickstart_binary());
    command
        .env_clear()
        .env("WECHAT_STATE_DIR", state.path())
        .env("WECHAT_TOKEN", TOKEN)
        .env("WECHAT_ADDR", "127.0.0.1:0")
        .env("RUST_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (name, value) in env {
        command.env(name, value);
    }
    let mut child = command.spawn().expect("spawn quickstart");
    let mut stdout = BufReader::new(child.stdout.take().unwrap()).lines();
    let url = stdout
        .by_ref()
        .map(|l| l.expect("stdout"))
        .find_map(|l| {
            l.strip_prefix("listening on ")
                .map(|rest| rest.split(' ').next().unwrap_or_default().to_owned())
        })
        .expect("listening line");
    // Keep draining stdout so the child never blocks on a full pipe.
    std::thread::spawn(move || for _ in stdout {});
    let stderr = BufReader::new(child.stderr.take().unwrap());
    let (log_tx, log_rx) = mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in stderr.lines().map_while(Result::ok) {
            if log_tx.send(line).is_err() {
                break;
            }
        }
    });
    (child, url, log_rx, state)
}

/// Waits (up to 10 s) for a log line containing `needle`; every line read.
#[cfg(unix)]
fn wait_for_line(log: &mpsc::Receiver<String>, needle: &str) -> Vec<String> {
    let mut lines = Vec::new();
    let until = Instant::now() + Duration::from_secs(10);
    while let Some(left) = until.checked_duration_since(Instant::now()) {
        match log.recv_timeout(left) {
            Ok(line) => {
                let found = line.contains(needle);
                lines.push(line);
                if found {
                    return lines;
                }
            }
            Err(_) => break,
        }
    }
    panic!("no line with {needle:?} in {lines:#?}")
}

/// Draining, the quickstart refuses new connections at once — WeChat and a
/// load balancer try elsewhere at once instead of waiting out their
/// timeout on a server that is going away — while the push it is
/// answering is answered.
#[cfg(unix)]
#[actix_rt::test]
async fn sigterm_refuses_new_connections_at_once_while_in_flight_pushes_finish() {
    let (mut child, url, log, _state) = spawn_quickstart(&[("WECHAT_SHUTDOWN_GRACE_S", "30")]);
    let addr: std::net::SocketAddr = url
        .trim_start_matches("http://")
        .split('/')
        .next()
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| panic!("no address in {url}"));

    // One client, one kept-alive connection: the first push makes sure the
    // server has accepted it, so the slow push below is on a connection
    // the server already holds (a connection still in the listen backlog
    // when the server stops listening is reset, as any would be at exit).
    let sim = Simulator::new(TOKEN);
    let client = awc::Client::default();
    let send = |push: SimPush| {
        let prepared = sim.prepare(&push);
        let request = client
            .post(prepared.url_for(&url))
            .insert_header(("content-type", "text/xml"))
            .send_body(prepared.body().to_owned());
        async move {
            let mut response = request.await.expect("answered");
            let body = response.body().await.expect("body");
            (
                response.status().as_u16(),
                String::from_utf8_lossy(&body).into_owned(),
            )
        }
    };
    let (status, help) = send(SimPush::text("帮助")).await;
    assert_eq!(status, 200, "{help}");
    // `等 2` holds its request open for 2 s (the deadline is 4 s).
    let slow = actix_rt::spawn(send(SimPush::text("等 2")));
    // Only lets the request cross the loopback before the signal: were it
    // not there yet, the answer below would be missing, not late.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    let mut lines = wait_for_line(&log, "shutting down");

    // A new connection is refused at once, not left to hang in the backlog.
    let started = Instant::now();
    let connected = std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(3));
    let took = started.elapsed();
    match connected {
        Err(e) => assert_eq!(
            e.kind(),
            std::io::ErrorKind::ConnectionRefused,
            "{e} after {took:?}"
        ),
        Ok(_) => panic!("a new connection was accepted {took:?} into the drain"),
    }
    assert!(took < Duration::from_secs(1), "refused only after {took:?}");

    // The push in flight is answered, and the process exits 0.
    let (status, body) = slow.await.expect("slow push");
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("等了 2 秒"), "{body}");
    let exit = tokio::task::spawn_blocking(move || child.wait().expect("wait"))
        .await
        .unwrap();
    lines.extend(log.try_iter());
    assert!(lines.iter().any(|l| l.contains("stopped")), "{lines:#?}");
    assert!(exit.success(), "exit status {exit:?}");
}

static GARBAGE_RUNS: AtomicUsize = AtomicUsize::new(0);

async fn count_runs(_: wechat_events::Push) {
    GARBAGE_RUNS.fetch_add(1, Ordering::SeqCst);
}

#[actix_rt::test]
async fn garbage_of_every_shape_is_a_4xx_and_runs_no_handler() {
    let config = Config::builder(TOKEN).build().unwrap();
    let service = WechatService::builder(config)
        .only(Router::new().fallback(count_runs))
        .build()
        .unwrap();
    let server = TestServer::builder(service).start();
    let deep = format!("<xml>{}{}</xml>", "<a>".repeat(5000), "</a>".repeat(5000));
    let wide = format!("<xml>{}</xml>", "<a>x</a>".repeat(5000));
    let genuine = text_xml("o_g", "fine", 99);
    let bodies: Vec<Vec<u8>> = vec![
        Vec::new(),
        vec![0xff; 300],
        (0..=255u8).cycle().take(4000).collect(),
        genuine.as_bytes()[..genuine.len() / 2].to_vec(),
        deep.into_bytes(),
        wide.into_bytes(),
        "长".repeat(30_000).into_bytes(),
        b"<xml><![CDATA[".to_vec(),
        b"<?xml version=\"1.0\" encoding=\"UTF-16\"?><xml/>".to_vec(),
        b"<xml><FromUserName>&#0;</FromUserName></xml>".to_vec(),
        b"<xml><CreateTime>99999999999999999999999</CreateTime></xml>".to_vec(),
    ];
    for (i, body) in bodies.into_iter().enumerate() {
        let query = signed_query(now(), &format!("g{i}"));
        let resp = awc::Client::new()
            .post(format!("{}?{query}", server.url()))
            .send_body(body)
            .await
            .expect("answered");
        let status = resp.status().as_u16();
        assert!((400..500).contains(&status), "body {i}: {status}");
    }
    assert_eq!(GARBAGE_RUNS.load(Ordering::SeqCst), 0, "no handler ran");
    server.stop().await;
}

static FRESH_RUNS: AtomicUsize = AtomicUsize::new(0);

async fn fresh(msg: TextMessage) -> String {
    FRESH_RUNS.fetch_add(1, Ordering::SeqCst);
    format!("fresh {}", msg.content)
}

#[actix_rt::test]
async fn retries_of_fresh_pushes_are_recognised_past_the_stores_capacity() {
    // A store for about 200 outcomes, flooded with 1000 pushes first.
    let config = Config::builder(TOKEN).dedup_capacity(200).build().unwrap();
    let service = WechatService::builder(config)
        .only(Router::new().on(fresh))
        .build()
        .unwrap();
    let server = TestServer::builder(service).start();
    let sim = Simulator::new(TOKEN);
    for i in 0..1000 {
        let answer = sim
            .send(&server, &SimPush::text(format!("flood {i}")))
            .await
            .expect("answered");
        assert_eq!(answer.text(), Some(format!("fresh flood {i}").as_str()));
    }
    // Fresh pushes, then WeChat's retries of each: every retry is
    // recognised and gets the first answer; no handler runs twice.
    let pushes: Vec<_> = (0..60)
        .map(|i| sim.prepare(&SimPush::text(format!("new {i}"))))
        .collect();
    for p in &pushes {
        sim.deliver(&server, p).await.expect("answered");
    }
    let before = FRESH_RUNS.load(Ordering::SeqCst);
    for (i, p) in pushes.iter().enumerate() {
        let retry = sim.deliver(&server, p).await.expect("answered");
        assert_eq!(retry.text(), Some(format!("fresh new {i}").as_str()));
    }
    assert_eq!(
        FRESH_RUNS.load(Ordering::SeqCst),
        before,
        "no retry ran its handler"
    );
    assert_eq!(before, 1060);
    server.stop().await;
}
