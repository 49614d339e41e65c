//! The service's guarantees with handlers written for the test: one run
//! per push whatever the connection does, the deadline and its late-reply
//! hook, the background bound, errors and extractors. Every request
//! crosses real HTTP to a `TestServer` bound on 127.0.0.1.
//!
//! No assertion here depends on how fast the machine is: slow handlers
//! wait on a [`Gate`] the test opens, and the test learns what happened on
//! the server (a handler started, was cancelled, a retry was recognised as
//! a duplicate) from signals sent there, not from sleeps.

mod common;
#[path = "observability/inspector.rs"]
mod inspector;
#[path = "observability/metrics.rs"]
mod metrics;

use std::future::Future;
use std::io::Write;
use std::net::TcpStream;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use actix_web::web;
use common::*;
use futures_util::future::BoxFuture;
use tokio::sync::{mpsc, watch};
use wechat_events::dedup::{Claim, DedupStore, MemoryStore};
use wechat_events::replay::{Binding, BindingStore};
use wechat_events::testing::{SimPush, TestServer};
use wechat_events::{
    Article, Captures, ClickEvent, Config, Context, LateReply, Mode, Push, Reply, Router,
    SubscribeEvent, TextMessage, WechatService,
};

#[derive(Default)]
struct Runs(AtomicUsize);

/// A config whose first try answers by the deadline (no try held open):
/// these tests are about the deadline. Waiting through WeChat's retries
/// is tested in `slow.rs`.
fn config(deadline_ms: u64) -> Config {
    Config::builder(TOKEN)
        .deadline(Duration::from_millis(deadline_ms))
        .wait_retries(0)
        .build()
        .expect("config")
}

/// Awaits `what`, failing the test if it hangs: a guard against a test
/// that never ends, not a measurement (nothing here waits this long).
async fn surely<T>(what: &str, future: impl Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(60), future)
        .await
        .unwrap_or_else(|_| panic!("{what}: still waiting after 60 s"))
}

/// The handlers' side of a gate: they report `start KEY` when they run,
/// wait until the test opens the gate, then report `passed KEY` — or
/// `cancelled KEY` if they are dropped while waiting.
struct Gate {
    events: mpsc::UnboundedSender<String>,
    open: watch::Receiver<bool>,
    /// Handlers that got through the gate.
    passed: AtomicUsize,
}

/// The test's side of a [`Gate`].
struct GateControl {
    events: mpsc::UnboundedReceiver<String>,
    open: watch::Sender<bool>,
}

fn gate() -> (web::Data<Gate>, GateControl) {
    let (events_tx, events) = mpsc::unbounded_channel();
    let (open, open_rx) = watch::channel(false);
    let gate = Gate {
        events: events_tx,
        open: open_rx,
        passed: AtomicUsize::new(0),
    };
    (web::Data::new(gate), GateControl { events, open })
}

/// Sends `cancelled KEY` when dropped before the gate opened.
struct CancelWatch {
    events: mpsc::UnboundedSender<String>,
    key: Option<String>,
}

impl Drop for CancelWatch {
    fn drop(&mut self) {
        if let Some(key) = self.key.take() {
            let _ = self.events.send(format!("cancelled {key}"));
        }
    }
}

impl Gate {
    async fn pass(&self, key: &str) {
        let _ = self.events.send(format!("start {key}"));
        let mut watch = CancelWatch {
            events: self.events.clone(),
            key: Some(key.to_owned()),
        };
        let mut open = self.open.clone();
        let _ = open.wait_for(|open| *open).await;
        watch.key = None;
        self.passed.fetch_add(1, Ordering::SeqCst);
        let _ = self.events.send(format!("passed {key}"));
    }

    fn passed(&self) -> usize {
        self.passed.load(Ordering::SeqCst)
    }
}

impl GateControl {
    /// The next thing a handler reported.
    async fn next(&mut self) -> String {
        surely("a handler event", self.events.recv())
            .await
            .expect("the gate is alive while the server is")
    }

    /// Whether a handler reported something not yet read.
    fn has_news(&mut self) -> bool {
        !self.events.is_empty()
    }

    fn open(&self) {
        self.open.send_replace(true);
    }
}

/// A click handler that waits at the gate: `done KEY` once through.
async fn gated(click: ClickEvent, gate: web::Data<Gate>) -> String {
    gate.pass(&click.key).await;
    format!("done {}", click.key)
}

/// The in-memory de-duplication store, reporting every claim that was
/// answered "another delivery has this push": the moment a retry reaches
/// the service and joins the run in flight.
struct ObservedStore {
    inner: MemoryStore,
    duplicates: mpsc::UnboundedSender<()>,
}

fn observed_store() -> (ObservedStore, mpsc::UnboundedReceiver<()>) {
    let (duplicates, rx) = mpsc::unbounded_channel();
    let inner = MemoryStore::new(1000, Duration::from_secs(30));
    (ObservedStore { inner, duplicates }, rx)
}

impl DedupStore for ObservedStore {
    fn claim(&self, key: String) -> BoxFuture<'static, Claim> {
        let claim = self.inner.claim(key);
        let duplicates = self.duplicates.clone();
        Box::pin(async move {
            let claim = claim.await;
            if matches!(claim, Claim::Duplicate(_)) {
                let _ = duplicates.send(());
            }
            claim
        })
    }
}

#[actix_rt::test]
async fn dropped_connection_neither_cancels_nor_reruns_the_handler() {
    let (gate, mut control) = gate();
    let service = WechatService::new(config(4000), Router::new().on(gated)).unwrap();
    let server = TestServer::builder(service).app_data(gate.clone()).start();
    let sim = sim();
    let push = sim.prepare(&SimPush::click("K"));
    let (query, body) = (push.query(), push.body());

    // Send the push over a raw socket and hang up while the handler runs.
    let mut stream = TcpStream::connect(server.addr()).unwrap();
    write!(
        stream,
        "POST /wechat?{query} HTTP/1.1\r\nHost: test\r\nContent-Type: text/xml\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    stream.flush().unwrap();
    assert_eq!(control.next().await, "start K");
    drop(stream);
    control.open();
    // Had the hang-up cancelled the handler, this would be `cancelled K`.
    assert_eq!(control.next().await, "passed K");

    // WeChat's retry gets the stored reply; the handler does not run again.
    let retry = sim.deliver(&server, &push).await.expect("answered");
    assert_eq!(retry.text(), Some("done K"));
    assert_eq!(gate.passed(), 1);
    assert!(!control.has_news(), "no second run");
    server.stop().await;
}

#[actix_rt::test]
async fn retry_during_the_run_waits_for_it() {
    let (gate, mut control) = gate();
    let (store, mut duplicates) = observed_store();
    let service = WechatService::builder(config(4000))
        .router(Router::new().on(gated))
        .dedup_store(store)
        .build()
        .unwrap();
    let server = TestServer::builder(service).app_data(gate.clone()).start();
    let sim = sim();
    let push = sim.prepare(&SimPush::click("W"));
    let deliver = || {
        let (sim, push, url) = (sim.clone(), push.clone(), server.url().to_owned());
        actix_rt::spawn(async move { sim.deliver(url.as_str(), &push).await })
    };

    let first = deliver();
    assert_eq!(
        control.next().await,
        "start W",
        "the first run is at the gate"
    );
    let retry = deliver();
    // The service recognised the retry as the push already running...
    surely("the retry reaching the service", duplicates.recv()).await;
    // ...while that run was still held at the gate: the retry waits.
    assert_eq!(gate.passed(), 0);
    assert!(!first.is_finished() && !retry.is_finished());

    control.open();
    let first = first.await.unwrap().expect("answered");
    let retry = retry.await.unwrap().expect("answered");
    assert_eq!(first.text(), Some("done W"));
    assert_eq!(retry.body, first.body, "identical replies");
    assert_eq!(gate.passed(), 1, "one run for both deliveries");
    assert_eq!(control.next().await, "passed W");
    assert!(!control.has_news(), "no second run");
    server.stop().await;
}

#[actix_rt::test]
async fn late_reply_reaches_the_hook() {
    let (gate, mut control) = gate();
    let (late_tx, mut late_rx) = mpsc::unbounded_channel::<LateReply>();
    let deadline = Duration::from_millis(200);
    let service = WechatService::builder(config(200))
        .router(Router::new().on(gated))
        .on_late_reply(move |l| {
            let _ = late_tx.send(l);
        })
        .build()
        .unwrap();
    let server = TestServer::builder(service).app_data(gate.clone()).start();
    let sim = sim();
    // The handler is held at the gate: only the deadline can answer.
    let answer = send(&sim, &server, SimPush::click("L")).await;
    assert!(answer.is_no_reply(), "{answer:?}");
    assert_eq!(control.next().await, "start L");
    assert!(
        late_rx.try_recv().is_err(),
        "the handler has not replied yet"
    );
    control.open();
    let late = surely("the late reply", late_rx.recv())
        .await
        .expect("late reply reaches the hook");
    assert_eq!(late.reply, Reply::text("done L"));
    assert!(late.handler.ends_with("service::gated"), "{}", late.handler);
    assert_eq!(late.push.from_user, sim.user());
    assert!(late.elapsed >= deadline, "{:?}", late.elapsed);
    assert_eq!(control.next().await, "passed L");
    server.stop().await;
}

#[actix_rt::test]
async fn background_handlers_are_bounded() {
    let (gate, mut control) = gate();
    let (late_tx, mut late_rx) = mpsc::unbounded_channel::<LateReply>();
    // The deadline leaves the worker time to start both handlers (each
    // reports `start` on its first poll) before either is overdue.
    let service = WechatService::builder(
        Config::builder(TOKEN)
            .deadline(Duration::from_millis(500))
            .wait_retries(0)
            .max_background(1)
            .build()
            .unwrap(),
    )
    .router(Router::new().on(gated))
    .on_late_reply(move |l| {
        let _ = late_tx.send(l);
    })
    .build()
    .unwrap();
    let server = TestServer::builder(service).app_data(gate.clone()).start();
    let sim = sim();
    // Both handlers are held at the gate past their deadline.
    let (a, b) = futures_util::join!(
        send(&sim, &server, SimPush::click("A")),
        send(&sim, &server, SimPush::click("B")),
    );
    assert!(a.is_no_reply() && b.is_no_reply());
    // One background slot: the second overdue handler is cancelled.
    let mut started = Vec::new();
    let cancelled = loop {
        let event = control.next().await;
        match event.split_once(' ') {
            Some(("start", key)) => started.push(key.to_owned()),
            Some(("cancelled", key)) => break key.to_owned(),
            _ => panic!("unexpected {event:?}"),
        }
    };
    control.open();
    let late = surely("the late reply", late_rx.recv())
        .await
        .expect("the handler with the slot reaches the hook");
    let kept = if cancelled == "A" { "B" } else { "A" };
    assert_eq!(late.reply, Reply::text(format!("done {kept}")));
    // The cancelled handler was dropped at the gate: it can never reply.
    assert_eq!(gate.passed(), 1);
    assert!(late_rx.try_recv().is_err(), "one late reply");
    let mut rest = Vec::new();
    while control.has_news() {
        rest.push(control.next().await);
    }
    // The kept handler's `passed` came before its reply reached the hook.
    let passed = format!("passed {kept}");
    assert!(rest.contains(&passed), "{rest:?}");
    started.extend(
        rest.iter()
            .filter_map(|e| e.strip_prefix("start ").map(str::to_owned)),
    );
    started.sort();
    assert_eq!(started, ["A", "B"], "both handlers ran: {rest:?}");
    server.stop().await;
}

async fn fails(_: TextMessage) -> Result<String, std::io::Error> {
    Err(std::io::Error::other("database down"))
}
async fn needs_missing_data(_: ClickEvent, runs: web::Data<Runs>) -> String {
    runs.0.fetch_add(1, Ordering::SeqCst);
    "ran".into()
}
async fn maybe(sub: SubscribeEvent) -> Option<String> {
    sub.scene.map(|s| format!("scene {s}"))
}
async fn weather(_: TextMessage, caps: Captures, cx: Context) -> String {
    format!("{} {}", caps.name("city").unwrap_or("?"), cx.openid())
}
async fn news_for_message(_: TextMessage) -> Reply {
    Reply::news((0..3).map(|i| Article::new(format!("a{i}"), "http://x")))
}
async fn fallback(push: Push) -> String {
    format!("fallback {}", push.msg_type)
}

#[actix_rt::test]
async fn return_types_errors_extractors_and_fallback() {
    let router = Router::new()
        .keyword("fail", fails)
        .keyword_reply("帮助", Reply::text("static help"))
        .regex(r"^天气\s*(?P<city>\S+)$", weather)
        .keyword("news", news_for_message)
        .on(needs_missing_data)
        .on(maybe)
        .fallback(fallback);
    let service = WechatService::new(config(1000), router).unwrap();
    let server = TestServer::builder(service).start();
    let sim = sim();
    let ask = |push: SimPush| send(&sim, &server, push);
    assert!(ask(SimPush::text("fail")).await.is_no_reply());
    assert_eq!(ask(SimPush::text("帮助")).await.text(), Some("static help"));
    assert_eq!(
        ask(SimPush::text("天气 上海")).await.text(),
        Some(format!("上海 {}", sim.user()).as_str())
    );
    let news = ask(SimPush::text("news")).await;
    assert!(
        matches!(news.reply(), Some(Reply::News(articles)) if articles.len() == 1),
        "one article when answering a message: {news:?}"
    );
    // A missing web::Data<T>: logged, answered success, handler not run.
    assert!(ask(SimPush::click("X")).await.is_no_reply());
    // Option: None is no reply.
    assert!(ask(SimPush::subscribe()).await.is_no_reply());
    let qr = SimPush::subscribe().field("EventKey", "qrscene_9");
    assert_eq!(ask(qr).await.text(), Some("scene 9"));
    assert_eq!(
        ask(SimPush::text("other")).await.text(),
        Some("fallback text")
    );
    server.stop().await;
}

#[actix_rt::test]
async fn custom_path_and_only_that_path() {
    let service = WechatService::new(
        Config::builder(TOKEN).path("/hooks/wx").build().unwrap(),
        Router::new().fallback(fallback),
    )
    .unwrap();
    let server = TestServer::builder(service).start();
    let sim = sim();
    assert_eq!(server.url(), server.url_for("/hooks/wx"));
    assert_eq!(
        send(&sim, &server, SimPush::text("x")).await.text(),
        Some("fallback text")
    );
    let elsewhere = send(&sim, &server.url_for("/wechat"), SimPush::text("x")).await;
    assert_eq!(elsewhere.status, 404);
    server.stop().await;
}

async fn counted(click: ClickEvent, runs: web::Data<Runs>) -> String {
    runs.0.fetch_add(1, Ordering::SeqCst);
    format!("done {}", click.key)
}

#[actix_rt::test]
async fn a_body_that_never_finishes_is_answered_408_without_a_handler_run() {
    let runs = web::Data::new(Runs::default());
    let service = WechatService::new(config(300), Router::new().on(counted)).unwrap();
    let server = TestServer::builder(service).app_data(runs.clone()).start();
    let push = sim().prepare(&SimPush::click("LORIS"));
    let (query, body) = (push.query().to_owned(), push.body().to_owned());
    let addr = server.addr();
    // Announce the whole body, send half of it, then go quiet.
    let response = tokio::task::spawn_blocking(move || {
        use std::io::Read;
        let mut stream = TcpStream::connect(addr).unwrap();
        // A guard against hanging, far beyond the 300 ms body deadline.
        stream
            .set_read_timeout(Some(Duration::from_secs(60)))
            .unwrap();
        write!(
            stream,
            "POST /wechat?{query} HTTP/1.1\r\nHost: test\r\nContent-Length: {}\r\n\r\n{}",
            body.len(),
            &body[..body.len() / 2]
        )
        .unwrap();
        let mut buf = [0u8; 512];
        let n = stream.read(&mut buf).unwrap_or(0);
        String::from_utf8_lossy(&buf[..n]).into_owned()
    })
    .await
    .unwrap();
    assert!(response.starts_with("HTTP/1.1 408"), "{response:?}");
    assert_eq!(runs.0.load(Ordering::SeqCst), 0);
    server.stop().await;
}

#[actix_rt::test]
async fn method_not_allowed_names_the_allowed_ones() {
    let service = WechatService::new(config(1000), Router::new()).unwrap();
    let server = TestServer::builder(service).start();
    let mut resp = awc::Client::new()
        .request(awc::http::Method::PUT, server.url())
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status().as_u16(), 405);
    assert_eq!(
        resp.headers().get("allow").and_then(|v| v.to_str().ok()),
        Some("GET, POST")
    );
    let body = resp.body().await.expect("body");
    assert!(String::from_utf8_lossy(&body).contains("method not allowed"));
    server.stop().await;
}

static EXTRACTIONS: AtomicUsize = AtomicUsize::new(0);

/// An extractor with a side effect (think: loading a session).
struct Session;

impl wechat_events::FromPush for Session {
    async fn from_push(parts: &wechat_events::Parts) -> Result<Self, wechat_events::ExtractError> {
        EXTRACTIONS.fetch_add(1, Ordering::SeqCst);
        if parts.context().openid() == "o_panicky" {
            panic!("session store exploded");
        }
        Ok(Session)
    }
}

async fn with_session(click: ClickEvent, _: Session, gate: web::Data<Gate>) -> String {
    gate.pass(&click.key).await;
    format!("session {}", click.key)
}

#[actix_rt::test]
async fn extractors_run_once_per_push_and_their_panics_are_contained() {
    let (gate, mut control) = gate();
    let (store, mut duplicates) = observed_store();
    let service = WechatService::builder(config(4000))
        .router(Router::new().on(with_session))
        .dedup_store(store)
        .build()
        .unwrap();
    let server = TestServer::builder(service).app_data(gate.clone()).start();
    let sim = sim();
    let push = sim.prepare(&SimPush::click("S"));
    // Three deliveries of one push; the two retries arrive while the
    // first run is held at the gate.
    let tries = futures_util::future::join_all((0..3).map(|_| sim.deliver(&server, &push)));
    let release = async {
        assert_eq!(control.next().await, "start S");
        for _ in 0..2 {
            surely("a retry reaching the service", duplicates.recv()).await;
        }
        assert_eq!(EXTRACTIONS.load(Ordering::SeqCst), 1);
        control.open();
    };
    let (tries, ()) = futures_util::join!(tries, release);
    for answer in tries {
        assert_eq!(answer.expect("answered").text(), Some("session S"));
    }
    assert_eq!(
        EXTRACTIONS.load(Ordering::SeqCst),
        1,
        "retries do not re-run extractors"
    );
    assert_eq!(control.next().await, "passed S");

    let panicky = common::sim().openid("o_panicky");
    let answer = panicky
        .send(&server, &SimPush::click("S"))
        .await
        .expect("answered");
    assert!(answer.is_no_reply(), "{answer:?}");
    // The worker survived: the next push is served.
    let again = sim
        .send(&server, &SimPush::click("T"))
        .await
        .expect("answered");
    assert_eq!(again.text(), Some("session T"));
    assert_eq!(gate.passed(), 2, "the panicky push ran no handler");
    server.stop().await;
}

/// Counts the URLs the service binds.
#[derive(Clone, Default)]
struct CountedBindings {
    binds: std::sync::Arc<AtomicUsize>,
    inner: std::sync::Arc<std::sync::Mutex<std::collections::HashMap<String, [u8; 20]>>>,
}

impl BindingStore for CountedBindings {
    fn bind(&self, key: String, digest: [u8; 20]) -> BoxFuture<'static, Binding> {
        self.binds.fetch_add(1, Ordering::SeqCst);
        let mut bound = self.inner.lock().unwrap();
        let binding = match bound.get(&key) {
            None => {
                bound.insert(key, digest);
                Binding::New
            }
            Some(d) if *d == digest => Binding::Same {
                age: Duration::ZERO,
            },
            Some(_) => Binding::Different,
        };
        Box::pin(std::future::ready(binding))
    }
}

async fn echo(msg: TextMessage) -> String {
    format!("echo {}", msg.content)
}

#[actix_rt::test]
async fn every_mode_binds_each_push_once() {
    // Secure mode keys the URL by its msg_signature (which covers the
    // body), the others by the body's digest: either way the binding tells
    // a verbatim replay from a new push.
    for mode in [Mode::Secure, Mode::Compatible] {
        let config = Config::builder(TOKEN)
            .aes_key(AES_KEY)
            .appid(APPID)
            .mode(mode)
            .build()
            .expect("config");
        let store = CountedBindings::default();
        let service = WechatService::builder(config)
            .only(Router::new().on(echo))
            .binding_store(store.clone())
            .build()
            .unwrap();
        let server = TestServer::builder(service).start();
        let sim = secure_sim();
        for i in 0..3 {
            let push = sim.prepare(&SimPush::text(format!("m{i}")));
            let answer = sim.deliver(&server, &push).await.expect("answered");
            assert_eq!(
                answer.text(),
                Some(format!("echo m{i}").as_str()),
                "{mode:?}"
            );
        }
        assert_eq!(store.binds.load(Ordering::SeqCst), 3, "{mode:?}");
        server.stop().await;
    }
}

/// The in-memory binding store on a clock 10 s ahead: every binding looks
/// 10 s old, as a replay's would, without the test waiting for it.
#[derive(Clone)]
struct AgedBindings(wechat_events::replay::MemoryBindings);

impl BindingStore for AgedBindings {
    fn bind(&self, key: String, digest: [u8; 20]) -> BoxFuture<'static, Binding> {
        let bound = self.0.bind(key, digest);
        Box::pin(async move {
            match bound.await {
                Binding::Same { age } => Binding::Same {
                    age: age + Duration::from_secs(10),
                },
                other => other,
            }
        })
    }
}

static COUNTED: AtomicUsize = AtomicUsize::new(0);

async fn count(_: ClickEvent) -> String {
    format!("count {}", COUNTED.fetch_add(1, Ordering::SeqCst) + 1)
}

#[actix_rt::test]
async fn a_verbatim_replay_of_a_forgotten_push_is_refused_in_every_mode() {
    // A push captured with its URL and replayed once the dedup store no
    // longer remembers it (its TTL ran out, or newer pushes evicted it:
    // the same path, taken here without waiting 15 s) passes the window and
    // the binding (same body): it must not run again.
    for secure in [false, true] {
        let mut config = Config::builder(TOKEN);
        if secure {
            config = config.aes_key(AES_KEY).appid(APPID).mode(Mode::Secure);
        }
        let config = config.build().expect("config");
        let bindings = AgedBindings(wechat_events::replay::MemoryBindings::new(
            1000,
            Duration::from_secs(300),
        ));
        let service = WechatService::builder(config)
            .only(Router::new().on(count))
            .binding_store(bindings)
            // Room for two finished pushes.
            .dedup_store(MemoryStore::with_max_bytes(
                2 * wechat_events::dedup::BYTES_PER_ENTRY,
                Duration::from_secs(30),
            ))
            .build()
            .unwrap();
        let server = TestServer::builder(service.clone()).start();
        let sim = if secure { secure_sim() } else { sim() };
        let before = COUNTED.load(Ordering::SeqCst);
        let captured = sim.prepare(&SimPush::click("COUNT"));
        let first = sim.deliver(&server, &captured).await.expect("answered");
        assert_eq!(first.status, 200);
        // A retry while remembered: the same answer, no second run.
        let retry = sim.deliver(&server, &captured).await.expect("answered");
        assert_eq!(retry.text(), first.text(), "secure: {secure}");
        for i in 0..8 {
            send(&sim, &server, SimPush::click(format!("OTHER{i}"))).await;
        }
        let replay = sim.deliver(&server, &captured).await.expect("answered");
        assert_eq!(replay.status, 403, "secure: {secure}: {:?}", replay.body);
        assert_eq!(
            COUNTED.load(Ordering::SeqCst) - before,
            9,
            "the captured push ran once, each other push once"
        );
        assert_eq!(service.stats().forgotten, 1);
        server.stop().await;
    }
}
