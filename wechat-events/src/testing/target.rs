//! Where a simulated push goes: a URL, an in-process actix service, or a
//! real server bound on the loopback interface for the test.
//!
//! The [`Simulator`](super::Simulator) only prepares signed requests and
//! decodes answers; a [`Target`] moves the bytes. URLs go through `awc`
//! (plain HTTP; this build has no TLS), [`InProcess`] calls an
//! `actix_web::test::init_service` app without any socket, and
//! [`TestServer`] binds a real `HttpServer` on `127.0.0.1:0` — the one
//! server harness, with app data and a configure hook for what a test adds.

use std::future::Future;
use std::io;
use std::net::{SocketAddr, TcpListener};
use std::sync::{mpsc, Arc};
use std::time::Duration;

use actix_web::body::MessageBody;
use actix_web::dev::{Service, ServiceResponse};
use actix_web::http::{Method, StatusCode};
use actix_web::web::Bytes;
use actix_web::{web, App, HttpServer};

use super::{Prepared, SimError};
use crate::service::WechatService;

/// Largest answer body read, in bytes (WeChat's own limit is far lower).
const MAX_ANSWER_BYTES: usize = 1024 * 1024;

/// Something a prepared request can be delivered to.
///
/// Implemented for URLs (`&str`, `String`: plain HTTP through `awc`), for
/// [`InProcess`] apps and for [`TestServer`]s. Futures are not `Send`: run
/// them on an actix runtime (`#[actix_web::test]`, `#[actix_rt::main]`).
///
/// ```no_run
/// # async fn demo() -> Result<(), wechat_events::testing::SimError> {
/// use wechat_events::testing::{SimPush, Simulator};
///
/// let sim = Simulator::new("mytoken");
/// sim.send("http://127.0.0.1:8080/wechat", &SimPush::subscribe()).await?;
/// # Ok(()) }
/// ```
pub trait Target {
    /// A name for messages, such as the URL.
    fn describe(&self) -> String;

    /// Delivers `request`, waiting at most `timeout` for the whole answer.
    fn call(
        &self,
        request: &Prepared,
        timeout: Duration,
    ) -> impl Future<Output = Result<(StatusCode, Bytes), SimError>>;
}

impl<T: Target + ?Sized> Target for &T {
    fn describe(&self) -> String {
        (**self).describe()
    }

    fn call(
        &self,
        request: &Prepared,
        timeout: Duration,
    ) -> impl Future<Output = Result<(StatusCode, Bytes), SimError>> {
        (**self).call(request, timeout)
    }
}

impl Target for str {
    fn describe(&self) -> String {
        self.to_owned()
    }

    fn call(
        &self,
        request: &Prepared,
        timeout: Duration,
    ) -> impl Future<Output = Result<(StatusCode, Bytes), SimError>> {
        call_url(self, request, timeout)
    }
}

impl Target for String {
    fn describe(&self) -> String {
        self.as_str().describe()
    }

    fn call(
        &self,
        request: &Prepared,
        timeout: Duration,
    ) -> impl Future<Output = Result<(StatusCode, Bytes), SimError>> {
        self.as_str().call(request, timeout)
    }
}

/// Checks that `url` is something this build can reach: `http://host…`.
pub(crate) fn check_url(url: &str) -> Result<(), SimError> {
    let bad = |reason: &str| SimError::Url {
        url: url.to_owned(),
        reason: reason.to_owned(),
    };
    if url.starts_with("https://") {
        return Err(bad(
            "https is not supported by this build (awc without TLS); \
             use http://, e.g. through a local tunnel or proxy",
        ));
    }
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| bad("must start with http://"))?;
    if rest.is_empty() || rest.starts_with('/') {
        return Err(bad("has no host"));
    }
    if url.contains('#') {
        return Err(bad("must not have a #fragment"));
    }
    Ok(())
}

async fn call_url(
    url: &str,
    request: &Prepared,
    timeout: Duration,
) -> Result<(StatusCode, Bytes), SimError> {
    check_url(url)?;
    let full = request.url_for(url);
    // The timeout is ours (below), covering the body too.
    let client = awc::Client::builder()
        .disable_timeout()
        .no_default_headers()
        .finish();
    let exchange = async {
        let sent = if request.method() == Method::GET {
            client.get(&full).send().await
        } else {
            client
                .post(&full)
                .insert_header(("Content-Type", "text/xml; charset=utf-8"))
                .send_body(request.body().to_owned())
                .await
        };
        let mut response = sent.map_err(|e| match e {
            awc::error::SendRequestError::Url(e) => SimError::Url {
                url: url.to_owned(),
                reason: e.to_string(),
            },
            awc::error::SendRequestError::Connect(e) => SimError::Connect {
                target: url.to_owned(),
                reason: e.to_string(),
            },
            other => SimError::Transport {
                target: url.to_owned(),
                reason: other.to_string(),
            },
        })?;
        let body =
            response
                .body()
                .limit(MAX_ANSWER_BYTES)
                .await
                .map_err(|e| SimError::Transport {
                    target: url.to_owned(),
                    reason: format!("reading the answer: {e}"),
                })?;
        Ok((response.status(), body))
    };
    actix_rt::time::timeout(timeout, exchange)
        .await
        .map_err(|_| SimError::Timeout {
            target: url.to_owned(),
            after: timeout,
        })?
}

/// An actix app called in-process, as `actix_web::test::call_service` does:
/// no socket, no port.
///
/// ```
/// use wechat_events::testing::{InProcess, SimPush, Simulator};
/// use wechat_events::{Config, Router, TextMessage, WechatService};
///
/// async fn echo(msg: TextMessage) -> String { format!("收到:{}", msg.content) }
///
/// # actix_rt::System::new().block_on(async {
/// let config = Config::builder("mytoken").build()?;
/// let app = InProcess::init(WechatService::new(config, Router::new().on(echo))?).await;
/// let response = Simulator::new("mytoken").send(&app, &SimPush::text("hi")).await?;
/// assert_eq!(response.text(), Some("收到:hi"));
/// # Ok::<(), Box<dyn std::error::Error>>(()) }).unwrap();
/// ```
pub struct InProcess<S> {
    app: S,
    path: String,
}

impl InProcess<()> {
    /// Initialises an app holding just `service`, called at its mount path.
    pub async fn init(
        service: WechatService,
    ) -> InProcess<
        impl Service<actix_http::Request, Response = ServiceResponse, Error = actix_web::Error>,
    > {
        let path = service.config().path().to_owned();
        let app = actix_web::test::init_service(App::new().service(service)).await;
        InProcess { app, path }
    }
}

impl<S> InProcess<S> {
    /// Wraps an app you initialised yourself (with
    /// `actix_web::test::init_service`), whose WeChat service is mounted at `path`.
    pub fn new(app: S, path: impl Into<String>) -> Self {
        InProcess {
            app,
            path: path.into(),
        }
    }

    /// The initialised app, for calling it directly.
    pub fn app(&self) -> &S {
        &self.app
    }
}

impl<S, B> Target for InProcess<S>
where
    S: Service<actix_http::Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody,
{
    fn describe(&self) -> String {
        format!("in-process app at {}", self.path)
    }

    async fn call(
        &self,
        request: &Prepared,
        timeout: Duration,
    ) -> Result<(StatusCode, Bytes), SimError> {
        let mut req = actix_web::test::TestRequest::default()
            .method(request.method())
            .uri(&format!("{}?{}", self.path, request.query()))
            .peer_addr(SocketAddr::from(([127, 0, 0, 1], 40000)));
        if request.method() == Method::POST {
            req = req
                .insert_header(("Content-Type", "text/xml; charset=utf-8"))
                .set_payload(request.body().to_owned());
        }
        let target = self.describe();
        let exchange = async {
            // An error from an actix service is still an HTTP answer.
            let response = match self.app.call(req.to_request()).await {
                Ok(response) => response,
                Err(e) => {
                    let response = e.error_response();
                    return Ok((response.status(), Bytes::from(e.to_string())));
                }
            };
            let status = response.status();
            let body = actix_web::body::to_bytes_limited(response.into_body(), MAX_ANSWER_BYTES)
                .await
                .map_err(|_| SimError::Transport {
                    target: target.clone(),
                    reason: format!("answer larger than {MAX_ANSWER_BYTES} bytes"),
                })?
                .map_err(|e| SimError::Transport {
                    target: target.clone(),
                    reason: format!("reading the answer: {}", e.into()),
                })?;
            Ok((status, body))
        };
        actix_rt::time::timeout(timeout, exchange)
            .await
            .map_err(|_| SimError::Timeout {
                target: self.describe(),
                after: timeout,
            })?
    }
}

/// A real `HttpServer` bound on `127.0.0.1:0` (a free port), serving a
/// [`WechatService`] plus whatever app data and routes the test adds; the
/// one server harness of this crate's and its users' tests, in the shape of
/// `actix_web::test` (`configure` takes the same closure as
/// [`App::configure`](actix_web::App::configure)).
///
/// The server runs on a thread of its own with its own actix system, so it
/// works the same from `#[actix_web::test]`, `#[tokio::test]` and plain
/// `#[test]` functions (which can then drive child processes, such as the
/// `wechat-sim` binary, synchronously). It stops when dropped, or with
/// [`TestServer::stop`].
///
/// ```
/// use std::sync::atomic::{AtomicU64, Ordering};
///
/// use actix_web::{web, HttpResponse};
/// use wechat_events::testing::{SimPush, Simulator, TestServer};
/// use wechat_events::{ClickEvent, Config, Router, WechatService};
///
/// async fn count(_: ClickEvent, hits: web::Data<AtomicU64>) -> String {
///     (hits.fetch_add(1, Ordering::SeqCst) + 1).to_string()
/// }
///
/// # actix_rt::System::new().block_on(async {
/// let service = WechatService::new(Config::builder("mytoken").build()?, Router::new().on(count))?;
/// let hits = web::Data::new(AtomicU64::new(0));
/// let server = TestServer::builder(service)
///     .app_data(hits.clone()) // what the handlers extract
///     .configure(|cfg| {
///         // any other routes the test needs beside the service
///         cfg.route("/health", web::get().to(HttpResponse::Ok));
///     })
///     .start();
/// assert_eq!(server.url(), format!("http://{}/wechat", server.addr()));
///
/// let sim = Simulator::new("mytoken");
/// let response = sim.send(&server, &SimPush::click("COUNT")).await?;
/// assert_eq!(response.text(), Some("1"));
/// assert_eq!(hits.load(Ordering::SeqCst), 1);
/// server.stop().await;
/// # Ok::<(), Box<dyn std::error::Error>>(()) }).unwrap();
/// ```
pub struct TestServer {
    addr: SocketAddr,
    url: String,
    handle: actix_web::dev::ServerHandle,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// A hook run on every worker's app (see [`TestServerBuilder::configure`]).
type Configure = Arc<dyn Fn(&mut web::ServiceConfig) + Send + Sync>;

/// Sets up a [`TestServer`]: app data, extra routes, worker count.
#[must_use = "a builder does nothing until `start` is called"]
pub struct TestServerBuilder {
    service: Option<WechatService>,
    configure: Vec<Configure>,
    workers: usize,
}

impl TestServer {
    /// A server for `service`, mounted at its configured path; its
    /// [`url`](TestServer::url) is the service's URL.
    pub fn builder(service: WechatService) -> TestServerBuilder {
        TestServerBuilder {
            service: Some(service),
            ..TestServer::without_service()
        }
    }

    /// A server with only what [`configure`](TestServerBuilder::configure)
    /// adds — a fake bot, say, to see how the [`Simulator`](super::Simulator)
    /// reads answers WeChat would refuse. Its [`url`](TestServer::url) is
    /// the bare `http://127.0.0.1:PORT`; see [`TestServer::url_for`].
    ///
    /// ```
    /// use actix_web::{web, HttpResponse};
    /// use wechat_events::testing::{AnswerError, SimPush, Simulator, TestServer};
    ///
    /// # actix_rt::System::new().block_on(async {
    /// let fake = TestServer::without_service()
    ///     .configure(|cfg| {
    ///         cfg.route("/wechat", web::post().to(|| async { HttpResponse::Ok().body("ok") }));
    ///     })
    ///     .start();
    /// let url = fake.url_for("/wechat");
    /// let response = Simulator::new("tok").send(url.as_str(), &SimPush::text("hi")).await?;
    /// assert!(matches!(response.answer, Err(AnswerError::Malformed(_))));
    /// # Ok::<(), Box<dyn std::error::Error>>(()) }).unwrap();
    /// ```
    pub fn without_service() -> TestServerBuilder {
        TestServerBuilder {
            service: None,
            configure: Vec::new(),
            workers: 1,
        }
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The service's URL, `http://127.0.0.1:PORT/wechat` (without a
    /// service: `http://127.0.0.1:PORT`).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The URL of `path` on this server: `http://127.0.0.1:PORT{path}`.
    pub fn url_for(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Stops the server and waits until it has stopped.
    pub async fn stop(mut self) {
        self.handle.stop(false).await;
        self.join();
    }

    fn join(&mut self) {
        if let Some(thread) = self.thread.take() {
            // A panic on the server thread already reached the test's output.
            let _ = thread.join();
        }
    }
}

impl TestServerBuilder {
    /// Registers `data` on the app, as [`App::app_data`](actix_web::App::app_data)
    /// does — typically a `web::Data<T>` the handlers extract. Keep a clone
    /// to look at it from the test.
    pub fn app_data<U>(self, data: U) -> Self
    where
        U: Clone + Send + Sync + 'static,
    {
        self.configure(move |cfg| {
            cfg.app_data(data.clone());
        })
    }

    /// Runs `f` on every worker's app before the service is mounted, as
    /// [`App::configure`](actix_web::App::configure) does: routes, scopes,
    /// app data. May be called more than once; hooks run in order.
    pub fn configure<F>(mut self, f: F) -> Self
    where
        F: Fn(&mut web::ServiceConfig) + Send + Sync + 'static,
    {
        self.configure.push(Arc::new(f));
        self
    }

    /// How many worker threads serve requests (default 1; each serves many
    /// connections at once).
    pub fn workers(mut self, workers: usize) -> Self {
        self.workers = workers.max(1);
        self
    }

    /// Binds `127.0.0.1:0` and starts serving on a thread of its own.
    ///
    /// # Panics
    ///
    /// If no loopback port can be bound or the server thread cannot be
    /// started — like `actix_web::test::init_service`, a harness that
    /// cannot start fails the test.
    pub fn start(self) -> TestServer {
        self.try_start()
            .unwrap_or_else(|e| panic!("TestServer: cannot serve on 127.0.0.1: {e}"))
    }

    fn try_start(self) -> io::Result<TestServer> {
        let TestServerBuilder {
            service,
            configure,
            workers,
        } = self;
        let path = service
            .as_ref()
            .map(|s| s.config().path().to_owned())
            .unwrap_or_default();
        let listener = TcpListener::bind(("127.0.0.1", 0))?;
        let addr = listener.local_addr()?;
        let (started, handle) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name(format!("test-server-{addr}"))
            .spawn(move || {
                actix_rt::System::new().block_on(async move {
                    let server = HttpServer::new(move || {
                        let mut app = App::new();
                        for hook in &configure {
                            app = app.configure(|cfg| hook(cfg));
                        }
                        if let Some(service) = &service {
                            app = app.service(service.clone());
                        }
                        app
                    })
                    .workers(workers)
                    .disable_signals()
                    .shutdown_timeout(1)
                    .listen(listener)
                    .map(|server| server.run());
                    match server {
                        Ok(server) => {
                            let _ = started.send(Ok(server.handle()));
                            let _ = server.await;
                        }
                        Err(e) => {
                            let _ = started.send(Err(e));
                        }
                    }
                });
            })?;
        let handle = handle
            .recv()
            .map_err(|_| io::Error::other("the server thread ended before the server started"))??;
        Ok(TestServer {
            addr,
            url: format!("http://{addr}{path}"),
            handle,
            thread: Some(thread),
        })
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        // Sends the stop command (the returned future only waits for it),
        // then waits for the server thread to wind down.
        drop(self.handle.stop(false));
        self.join();
    }
}

impl Target for TestServer {
    fn describe(&self) -> String {
        self.url.clone()
    }

    fn call(
        &self,
        request: &Prepared,
        timeout: Duration,
    ) -> impl Future<Output = Result<(StatusCode, Bytes), SimError>> {
        call_url(&self.url, request, timeout)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_this_build_can_reach() {
        assert!(check_url("http://127.0.0.1:8080/wechat").is_ok());
        assert!(check_url("http://example.test").is_ok());
        for bad in [
            "https://example.com/wechat",
            "ftp://x",
            "127.0.0.1:8080",
            "http://",
            "http:///path",
            "http://h/p#frag",
        ] {
            assert!(matches!(check_url(bad), Err(SimError::Url { .. })), "{bad}");
        }
    }
}
