//! Where a simulated push goes: a URL, an in-process actix service, or a
//! real server bound on the loopback interface for the test.
//!
//! The [`Simulator`](super::Simulator) only prepares signed requests and
//! decodes answers; a [`Target`] moves the bytes. URLs go through `awc`
//! (plain HTTP; this build has no TLS), [`InProcess`] calls an
//! `actix_web::test::init_service` app without any socket, and
//! [`TestServer`] binds a real `HttpServer` on `127.0.0.1:0`.

use std::future::Future;
use std::io;
use std::net::{SocketAddr, TcpListener};
use std::time::Duration;

use actix_web::body::MessageBody;
use actix_web::dev::{Service, ServiceResponse};
use actix_web::http::{Method, StatusCode};
use actix_web::web::Bytes;
use actix_web::{App, HttpServer};

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

/// A real `HttpServer` for one [`WechatService`], bound on
/// `127.0.0.1:0` (a free port) with one worker; stopped when dropped.
///
/// Start it inside an actix runtime (`#[actix_web::test]`).
///
/// ```
/// use wechat_events::testing::{SimPush, Simulator, TestServer};
/// use wechat_events::{Config, Router, WechatService};
///
/// # actix_rt::System::new().block_on(async {
/// let service = WechatService::new(Config::builder("mytoken").build()?, Router::new())?;
/// let server = TestServer::start(service)?;
/// let response = Simulator::new("mytoken").send(&server, &SimPush::subscribe()).await?;
/// assert!(response.is_no_reply());
/// server.stop().await;
/// # Ok::<(), Box<dyn std::error::Error>>(()) }).unwrap();
/// ```
pub struct TestServer {
    addr: SocketAddr,
    url: String,
    handle: actix_web::dev::ServerHandle,
}

impl TestServer {
    /// Binds `service` on a free loopback port and starts serving.
    pub fn start(service: WechatService) -> io::Result<TestServer> {
        let path = service.config().path().to_owned();
        let listener = TcpListener::bind(("127.0.0.1", 0))?;
        let addr = listener.local_addr()?;
        let server = HttpServer::new(move || App::new().service(service.clone()))
            .workers(1)
            .disable_signals()
            .shutdown_timeout(1)
            .listen(listener)?
            .run();
        let handle = server.handle();
        actix_rt::spawn(server);
        Ok(TestServer {
            addr,
            url: format!("http://{addr}{path}"),
            handle,
        })
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The service's URL, `http://127.0.0.1:PORT/wechat`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Stops the server and waits for it.
    pub async fn stop(self) {
        self.handle.stop(false).await;
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        // Sends the stop command; the returned future only waits for it.
        drop(self.handle.stop(false));
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
