//! A stand-in for the WeChat API (`api.weixin.qq.com`), for testing code
//! that uses [`ApiClient`](crate::api::ApiClient) without the network.
//!
//! [`ApiStandIn::start`] serves `cgi-bin/stable_token`,
//! `cgi-bin/message/custom/send` and `cgi-bin/message/custom/typing` on a
//! [`TestServer`] bound on `127.0.0.1`. It hands out tokens `token-1`,
//! `token-2`, … (a new one only when none is valid or a refresh is forced,
//! as WeChat's normal mode does), checks them on every call as WeChat does
//! (40001 for an unknown or replaced token, 42001 for an expired one,
//! 41001 for none), records every call, and can be told to expire the
//! current token, to answer an errcode, to answer what no WeChat would (an
//! HTTP error status, a body that is not JSON), or to be slow.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::{json, Value};

use super::TestServer;
use crate::api::ApiClientBuilder;

/// The AppID the stand-in accepts.
pub const STAND_IN_APPID: &str = "wx_stand_in";
/// The AppSecret the stand-in accepts.
pub const STAND_IN_SECRET: &str = "stand-in-secret";
/// How long the stand-in says its tokens live, in seconds.
pub const STAND_IN_EXPIRES_IN: u64 = 7200;

/// One request the stand-in received.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiCall {
    /// The path, such as `/cgi-bin/message/custom/send`.
    pub path: String,
    /// The `access_token` query parameter, if any.
    pub access_token: Option<String>,
    /// The JSON body (`Value::Null` when it was not JSON).
    pub body: Value,
    /// The `errcode` the stand-in answered with (0: success).
    pub errcode: i64,
}

#[derive(Default)]
struct State {
    issued: u64,
    /// The token a non-forced `stable_token` returns, and whether it expired.
    current: Option<(String, bool)>,
    calls: Vec<ApiCall>,
    /// Errcode and how many more API calls answer it.
    fail: Option<(i64, usize)>,
    /// HTTP status, body and how many more API calls answer them.
    raw: Option<(u16, String, usize)>,
    delay: Duration,
}

/// The WeChat API stand-in; see the [module docs](self). Stops when dropped.
///
/// ```
/// use wechat_events::testing::ApiStandIn;
/// use wechat_events::Reply;
///
/// # actix_rt::System::new().block_on(async {
/// let wechat = ApiStandIn::start();
/// let api = wechat.client_builder().build()?;
/// api.send_custom("oUser", &Reply::text("later")).await?;
/// assert_eq!(wechat.custom_messages()[0]["text"]["content"], "later");
/// assert_eq!(wechat.token_calls(), 1);
/// # Ok::<(), Box<dyn std::error::Error>>(()) }).unwrap();
/// ```
pub struct ApiStandIn {
    server: TestServer,
    state: Arc<Mutex<State>>,
}

impl ApiStandIn {
    /// Starts serving on a free loopback port.
    ///
    /// # Panics
    ///
    /// If no loopback port can be bound (as [`TestServer`] does).
    pub fn start() -> ApiStandIn {
        let state = Arc::new(Mutex::new(State::default()));
        let data = web::Data::from(state.clone());
        let server = TestServer::without_service()
            .configure(move |cfg| {
                cfg.app_data(data.clone())
                    .route("/cgi-bin/stable_token", web::post().to(stable_token))
                    .route("/cgi-bin/message/custom/send", web::post().to(api_call))
                    .route("/cgi-bin/message/custom/typing", web::post().to(api_call));
            })
            .start();
        ApiStandIn { server, state }
    }

    /// What to give the client as its base URL: `http://127.0.0.1:PORT`.
    pub fn base_url(&self) -> String {
        self.server.url_for("")
    }

    /// A client builder for this stand-in: its AppID, secret and base URL.
    pub fn client_builder(&self) -> ApiClientBuilder {
        crate::api::ApiClient::builder(STAND_IN_APPID, STAND_IN_SECRET).base_url(self.base_url())
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // A panicking test thread must not hide the calls from the next assertion.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Expires the current token: API calls with it are answered 42001, and
    /// the next `stable_token` call hands out a new one.
    pub fn expire_token(&self) {
        if let Some((_, expired)) = self.state().current.as_mut() {
            *expired = true;
        }
    }

    /// Answers the next `n` API calls (send, typing — not `stable_token`)
    /// with `errcode`, whatever their token.
    pub fn fail_next(&self, errcode: i64, n: usize) {
        self.state().fail = (n > 0).then_some((errcode, n));
    }

    /// Answers the next `n` API calls (send, typing — not `stable_token`)
    /// with HTTP `status` and `body` as they are, as a broken proxy or a
    /// WeChat outage might: `answer_next(502, "Bad Gateway", 1)`, or
    /// `answer_next(200, "<html>", 1)` for a body that is not JSON. The
    /// call is recorded with errcode `-1`.
    pub fn answer_next(&self, status: u16, body: impl Into<String>, n: usize) {
        self.state().raw = (n > 0).then(|| (status, body.into(), n));
    }

    /// Delays every answer from now on by `delay` (zero: answer at once).
    pub fn delay(&self, delay: Duration) {
        self.state().delay = delay;
    }

    /// Every call received, in order.
    pub fn calls(&self) -> Vec<ApiCall> {
        self.state().calls.clone()
    }

    /// How many `stable_token` calls were received.
    pub fn token_calls(&self) -> usize {
        self.state()
            .calls
            .iter()
            .filter(|c| c.path == "/cgi-bin/stable_token")
            .count()
    }

    /// The bodies of the customer-service messages delivered (answered
    /// errcode 0), in order: what the users would see.
    pub fn custom_messages(&self) -> Vec<Value> {
        self.state()
            .calls
            .iter()
            .filter(|c| c.path == "/cgi-bin/message/custom/send" && c.errcode == 0)
            .map(|c| c.body.clone())
            .collect()
    }
}

fn parse_body(body: &[u8]) -> Value {
    serde_json::from_slice(body).unwrap_or(Value::Null)
}

fn errcode(code: i64, msg: &str) -> Value {
    json!({ "errcode": code, "errmsg": msg })
}

async fn answer(delay: Duration, body: Value) -> HttpResponse {
    if !delay.is_zero() {
        actix_rt::time::sleep(delay).await;
    }
    HttpResponse::Ok().json(body)
}

async fn stable_token(state: web::Data<Mutex<State>>, body: web::Bytes) -> HttpResponse {
    let body = parse_body(&body);
    let (answer_body, delay) = {
        let mut state = state.lock().unwrap_or_else(|e| e.into_inner());
        let field = |name: &str| body.get(name).and_then(Value::as_str);
        let force = body.get("force_refresh").and_then(Value::as_bool) == Some(true);
        let answer_body = if field("grant_type") != Some("client_credential") {
            errcode(40002, "invalid grant_type")
        } else if field("appid") != Some(STAND_IN_APPID) {
            errcode(40013, "invalid appid")
        } else if field("secret") != Some(STAND_IN_SECRET) {
            errcode(40125, "invalid appsecret")
        } else {
            let valid = match &state.current {
                Some((token, false)) if !force => Some(token.clone()),
                _ => None,
            };
            let token = valid.unwrap_or_else(|| {
                state.issued += 1;
                let token = format!("token-{}", state.issued);
                state.current = Some((token.clone(), false));
                token
            });
            json!({ "access_token": token, "expires_in": STAND_IN_EXPIRES_IN })
        };
        state.calls.push(ApiCall {
            path: "/cgi-bin/stable_token".to_owned(),
            access_token: None,
            errcode: answer_body["errcode"].as_i64().unwrap_or(0),
            body,
        });
        (answer_body, state.delay)
    };
    answer(delay, answer_body).await
}

async fn api_call(
    req: HttpRequest,
    state: web::Data<Mutex<State>>,
    body: web::Bytes,
) -> HttpResponse {
    let body = parse_body(&body);
    let access_token = serde_urlencoded::from_str::<Vec<(String, String)>>(req.query_string())
        .unwrap_or_default()
        .into_iter()
        .find(|(k, _)| k == "access_token")
        .map(|(_, v)| v);
    let raw = {
        let mut state = state.lock().unwrap_or_else(|e| e.into_inner());
        let raw = state.raw.as_mut().map(|(status, raw, left)| {
            *left -= 1;
            (*status, raw.clone(), *left == 0)
        });
        raw.map(|(status, raw, last)| {
            if last {
                state.raw = None;
            }
            state.calls.push(ApiCall {
                path: req.path().to_owned(),
                access_token: access_token.clone(),
                errcode: -1,
                body: body.clone(),
            });
            (status, raw, state.delay)
        })
    };
    if let Some((status, raw, delay)) = raw {
        if !delay.is_zero() {
            actix_rt::time::sleep(delay).await;
        }
        let status = actix_web::http::StatusCode::from_u16(status)
            .unwrap_or(actix_web::http::StatusCode::INTERNAL_SERVER_ERROR);
        return HttpResponse::build(status)
            .content_type("text/html")
            .body(raw);
    }
    let (answer_body, delay) = {
        let mut state = state.lock().unwrap_or_else(|e| e.into_inner());
        let failing = match state.fail.as_mut() {
            Some((code, left)) => {
                let code = *code;
                *left -= 1;
                if *left == 0 {
                    state.fail = None;
                }
                Some(code)
            }
            None => None,
        };
        let answer_body = if let Some(code) = failing {
            errcode(
                code,
                "failure asked for by the test (ApiStandIn::fail_next)",
            )
        } else {
            match (&access_token, &state.current) {
                (None, _) => errcode(41001, "access_token missing"),
                (Some(t), Some((current, expired))) if t == current => {
                    if *expired {
                        errcode(42001, "access_token expired")
                    } else if body.get("touser").and_then(Value::as_str).is_none() {
                        errcode(40003, "invalid openid")
                    } else {
                        errcode(0, "ok")
                    }
                }
                _ => errcode(
                    40001,
                    "invalid credential, access_token is invalid or not latest",
                ),
            }
        };
        state.calls.push(ApiCall {
            path: req.path().to_owned(),
            access_token,
            errcode: answer_body["errcode"].as_i64().unwrap_or(0),
            body,
        });
        (answer_body, state.delay)
    };
    answer(delay, answer_body).await
}
