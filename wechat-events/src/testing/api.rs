//! A stand-in for the WeChat API (`api.weixin.qq.com`, and the
//! `mp.weixin.qq.com` host of QR code images), for testing code that uses
//! [`ApiClient`](crate::api::ApiClient) without the network.
//!
//! [`ApiStandIn::start`] serves on a [`TestServer`] bound on `127.0.0.1`:
//!
//! - `cgi-bin/stable_token`: tokens `token-1`, `token-2`, … (a new one only
//!   when none is valid or a refresh is forced, as WeChat's normal mode
//!   does), checked on every other call as WeChat does (40001 for an
//!   unknown or replaced token, 42001 for an expired one, 41001 for none);
//! - customer-service messages and typing;
//! - the menu: `menu/create`, `menu/get`, `menu/delete`,
//!   `menu/addconditional`, `menu/delconditional`, checking WeChat's
//!   limits (40016 and on) and keeping the menus;
//! - parameter QR codes: `qrcode/create` issuing tickets, `showqrcode`
//!   serving an image per ticket; [`ApiStandIn::scan`] gives the push
//!   WeChat sends when a user scans one;
//! - temporary media: `media/upload` (multipart, each type's formats and
//!   sizes checked) issuing media ids, `media/get` serving them back;
//! - users: `user/info`, `user/info/batchget`, `user/get` in pages
//!   ([`ApiStandIn::add_follower`], [`ApiStandIn::follower_page_size`]);
//! - `message/template/send` (templates [`ApiStandIn::add_template`];
//!   [`STAND_IN_TEMPLATE_ID`] is there from the start) returning `msgid`s,
//!   and `message/subscribe/bizsend`.
//!
//! It records every call, and can be told to expire the current token, to
//! answer an errcode, to answer what no WeChat would (an HTTP error status,
//! a body that is not JSON), or to be slow.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::{json, Value};

use super::{SimPush, TestServer};
use crate::api::ApiClientBuilder;

/// The AppID the stand-in accepts.
pub const STAND_IN_APPID: &str = "wx_stand_in";
/// The AppSecret the stand-in accepts.
pub const STAND_IN_SECRET: &str = "stand-in-secret";
/// How long the stand-in says its tokens live, in seconds.
pub const STAND_IN_EXPIRES_IN: u64 = 7200;
/// A template the stand-in knows from the start.
pub const STAND_IN_TEMPLATE_ID: &str = "stand-in-template";
/// The `created_at` of the first upload (the stand-in's clock is a
/// counter, one second a call, so tests need no real time).
pub const STAND_IN_EPOCH: i64 = 1_700_000_000;

const STABLE_TOKEN: &str = "/cgi-bin/stable_token";
const SHOW_QRCODE: &str = "/cgi-bin/showqrcode";

/// One request the stand-in received.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ApiCall {
    /// `GET` or `POST`.
    pub method: String,
    /// The path, such as `/cgi-bin/message/custom/send`.
    pub path: String,
    /// The query parameters other than `access_token`, in order.
    pub query: Vec<(String, String)>,
    /// The `access_token` query parameter, if any.
    pub access_token: Option<String>,
    /// The JSON body (`Value::Null` when there was none or it was not
    /// JSON); for an upload, `{"media": {"filename", "content_type",
    /// "len"}}`.
    pub body: Value,
    /// The `errcode` the stand-in answered with (0: success).
    pub errcode: i64,
}

impl ApiCall {
    /// The query parameter `name`, if given.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// A file the stand-in keeps (an upload).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct StoredMedia {
    /// `image`, `voice`, `video` or `thumb`.
    pub media_type: String,
    /// The uploaded file's name.
    pub file_name: String,
    /// Its MIME type as uploaded.
    pub content_type: String,
    /// Its content.
    pub bytes: Vec<u8>,
}

/// A user the stand-in knows.
#[derive(Debug, Clone, Default)]
struct User {
    follows: bool,
    subscribe_time: i64,
    qr_scene: Option<Value>,
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
    /// The stand-in's clock: one second a call.
    clock: i64,
    /// The default menu's buttons.
    menu: Option<Value>,
    /// The personalised menus: id, buttons and rule.
    conditional: Vec<(String, Value, Value)>,
    next_id: u64,
    /// Ticket → (scene `{"scene_id"}`/`{"scene_str"}`, expire_seconds).
    tickets: HashMap<String, (Value, Option<u64>)>,
    media: HashMap<String, StoredMedia>,
    users: BTreeMap<String, User>,
    page_size: usize,
    templates: BTreeSet<String>,
}

impl State {
    fn next(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }
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
        let state = Arc::new(Mutex::new(State {
            page_size: 10_000,
            clock: STAND_IN_EPOCH,
            templates: BTreeSet::from([STAND_IN_TEMPLATE_ID.to_owned()]),
            ..State::default()
        }));
        let data = web::Data::from(state.clone());
        let server = TestServer::without_service()
            .configure(move |cfg| {
                cfg.app_data(data.clone())
                    .route(STABLE_TOKEN, web::post().to(stable_token))
                    .route(SHOW_QRCODE, web::get().to(show_qrcode))
                    .route("/cgi-bin/{tail:.*}", web::to(api_call));
            })
            .start();
        ApiStandIn { server, state }
    }

    /// What to give the client as its base URL: `http://127.0.0.1:PORT`.
    pub fn base_url(&self) -> String {
        self.server.url_for("")
    }

    /// A client builder for this stand-in: its AppID, secret, base URL and
    /// QR code image host.
    pub fn client_builder(&self) -> ApiClientBuilder {
        crate::api::ApiClient::builder(STAND_IN_APPID, STAND_IN_SECRET)
            .base_url(self.base_url())
            .mp_base_url(self.base_url())
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

    /// Answers the next `n` API calls (every call but `stable_token` and
    /// `showqrcode`) with `errcode`, whatever their token.
    pub fn fail_next(&self, errcode: i64, n: usize) {
        self.state().fail = (n > 0).then_some((errcode, n));
    }

    /// Answers the next `n` API calls (every call but `stable_token` and
    /// `showqrcode`) with HTTP `status` and `body` as they are, as a broken
    /// proxy or a WeChat outage might: `answer_next(502, "Bad Gateway",
    /// 1)`, or `answer_next(200, "<html>", 1)` for a body that is not JSON.
    /// The call is recorded with errcode `-1`.
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

    /// The calls to `path` (such as `/cgi-bin/menu/create`), in order.
    pub fn calls_to(&self, path: &str) -> Vec<ApiCall> {
        self.state()
            .calls
            .iter()
            .filter(|c| c.path == path)
            .cloned()
            .collect()
    }

    /// How many `stable_token` calls were received.
    pub fn token_calls(&self) -> usize {
        self.calls_to(STABLE_TOKEN).len()
    }

    /// The bodies of the customer-service messages delivered (answered
    /// errcode 0), in order: what the users would see.
    pub fn custom_messages(&self) -> Vec<Value> {
        self.delivered("/cgi-bin/message/custom/send")
    }

    /// The bodies of the template messages sent (answered errcode 0), in
    /// order.
    pub fn template_messages(&self) -> Vec<Value> {
        self.delivered("/cgi-bin/message/template/send")
    }

    /// The bodies of the subscription messages sent (`bizsend`, answered
    /// errcode 0), in order.
    pub fn subscribe_messages(&self) -> Vec<Value> {
        self.delivered("/cgi-bin/message/subscribe/bizsend")
    }

    fn delivered(&self, path: &str) -> Vec<Value> {
        self.state()
            .calls
            .iter()
            .filter(|c| c.path == path && c.errcode == 0)
            .map(|c| c.body.clone())
            .collect()
    }

    /// The default menu's buttons as set (`{"button": […]}`), if any.
    pub fn menu(&self) -> Option<Value> {
        self.state().menu.clone()
    }

    /// Sets the default menu as if `menu/create` had: `{"button": […]}`.
    pub fn set_menu(&self, menu: Value) {
        self.state().menu = Some(menu);
    }

    /// The personalised menus: `{"button", "matchrule", "menuid"}` each.
    pub fn conditional_menus(&self) -> Vec<Value> {
        self.state()
            .conditional
            .iter()
            .map(|(id, button, rule)| json!({"button": button, "matchrule": rule, "menuid": id}))
            .collect()
    }

    /// The scene of the QR code with `ticket` (`{"scene_id": N}` or
    /// `{"scene_str": S}`), if the stand-in issued it.
    pub fn ticket_scene(&self, ticket: &str) -> Option<Value> {
        self.state().tickets.get(ticket).map(|(s, _)| s.clone())
    }

    /// The push WeChat sends when the user `openid` scans the QR code with
    /// `ticket`: a `subscribe` with `EventKey` `qrscene_<scene>` and the
    /// `Ticket` if the user did not follow the account (who follows it
    /// from then on, with the code's scene in `user/info`), else a `SCAN`
    /// with the scene. `None` for a ticket the stand-in did not issue.
    pub fn scan(&self, ticket: &str, openid: &str) -> Option<SimPush> {
        let mut state = self.state();
        let (scene, _) = state.tickets.get(ticket)?.clone();
        let value = match (&scene["scene_id"], &scene["scene_str"]) {
            (Value::Number(n), _) => n.to_string(),
            (_, Value::String(s)) => s.clone(),
            _ => return None,
        };
        state.clock += 1;
        let now = state.clock;
        let user = state.users.entry(openid.to_owned()).or_default();
        let push = if user.follows {
            SimPush::scan(value)
        } else {
            user.follows = true;
            user.subscribe_time = now;
            user.qr_scene = Some(scene);
            SimPush::subscribe_scene(value)
        };
        Some(push.field("Ticket", ticket).from(openid))
    }

    /// Adds the follower `openid` (who can then receive template
    /// messages, and is listed by `user/get`).
    pub fn add_follower(&self, openid: impl Into<String>) {
        let mut state = self.state();
        state.clock += 1;
        let now = state.clock;
        let user = state.users.entry(openid.into()).or_default();
        user.follows = true;
        user.subscribe_time = now;
    }

    /// Marks `openid` as having unfollowed (known to `user/info`, with
    /// `subscribe: 0`).
    pub fn unfollow(&self, openid: &str) {
        if let Some(user) = self.state().users.get_mut(openid) {
            user.follows = false;
        }
    }

    /// How many followers a `user/get` page lists (WeChat: 10,000).
    pub fn follower_page_size(&self, n: usize) {
        self.state().page_size = n.max(1);
    }

    /// Adds a template (for template and subscription messages).
    pub fn add_template(&self, template_id: impl Into<String>) {
        self.state().templates.insert(template_id.into());
    }

    /// The file uploaded as `media_id`, if any.
    pub fn media(&self, media_id: &str) -> Option<StoredMedia> {
        self.state().media.get(media_id).cloned()
    }

    /// Stores `bytes` as media of `media_type` named `file_name`, as a
    /// user's message would leave it, and returns its id.
    pub fn add_media(
        &self,
        media_type: &str,
        file_name: &str,
        bytes: impl Into<Vec<u8>>,
    ) -> String {
        let mut state = self.state();
        let id = format!("stand-in-media-{}", state.next());
        state.media.insert(
            id.clone(),
            StoredMedia {
                media_type: media_type.to_owned(),
                file_name: file_name.to_owned(),
                content_type: mime_of(file_name).to_owned(),
                bytes: bytes.into(),
            },
        );
        id
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

fn query_pairs(req: &HttpRequest) -> Vec<(String, String)> {
    serde_urlencoded::from_str::<Vec<(String, String)>>(req.query_string()).unwrap_or_default()
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
            method: "POST".to_owned(),
            path: STABLE_TOKEN.to_owned(),
            query: Vec::new(),
            access_token: None,
            errcode: answer_body["errcode"].as_i64().unwrap_or(0),
            body,
        });
        (answer_body, state.delay)
    };
    answer(delay, answer_body).await
}

/// A tiny image standing in for a QR code: PNG's signature, then the ticket.
fn qr_image(ticket: &str) -> Vec<u8> {
    let mut image = b"\x89PNG\r\n\x1a\n".to_vec();
    image.extend_from_slice(ticket.as_bytes());
    image
}

async fn show_qrcode(req: HttpRequest, state: web::Data<Mutex<State>>) -> HttpResponse {
    let query = query_pairs(&req);
    let ticket = query
        .iter()
        .find(|(k, _)| k == "ticket")
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    let (known, delay) = {
        let mut state = state.lock().unwrap_or_else(|e| e.into_inner());
        let known = state.tickets.contains_key(&ticket);
        state.calls.push(ApiCall {
            method: "GET".to_owned(),
            path: SHOW_QRCODE.to_owned(),
            query,
            access_token: None,
            body: Value::Null,
            errcode: if known { 0 } else { 404 },
        });
        (known, state.delay)
    };
    if !delay.is_zero() {
        actix_rt::time::sleep(delay).await;
    }
    if known {
        HttpResponse::Ok()
            .content_type("image/jpg")
            .body(qr_image(&ticket))
    } else {
        HttpResponse::NotFound().finish()
    }
}

/// What the stand-in answers an API call: JSON, or a file.
enum Answer {
    Json(Value),
    File(StoredMedia),
}

impl Answer {
    fn errcode(&self) -> i64 {
        match self {
            Answer::Json(v) => v["errcode"].as_i64().unwrap_or(0),
            Answer::File(_) => 0,
        }
    }
}

/// A request as the endpoints see it.
struct Request<'a> {
    path: &'a str,
    query: &'a [(String, String)],
    body: &'a Value,
    upload: Option<&'a Upload>,
}

impl Request<'_> {
    fn param(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
    fn str(&self, name: &str) -> Option<&str> {
        self.body.get(name).and_then(Value::as_str)
    }
}

/// The `media` part of a multipart upload.
struct Upload {
    file_name: String,
    content_type: String,
    bytes: Vec<u8>,
}

async fn api_call(
    req: HttpRequest,
    state: web::Data<Mutex<State>>,
    body: web::Bytes,
) -> HttpResponse {
    let content_type = req
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let upload = content_type
        .starts_with("multipart/form-data")
        .then(|| multipart_media(&content_type, &body))
        .flatten();
    let body = match &upload {
        Some(u) => {
            json!({"media": {"filename": u.file_name, "content_type": u.content_type, "len": u.bytes.len()}})
        }
        None => parse_body(&body),
    };
    let mut query = query_pairs(&req);
    let access_token = query
        .iter()
        .position(|(k, _)| k == "access_token")
        .map(|i| query.remove(i).1);
    let call = |errcode| ApiCall {
        method: req.method().to_string(),
        path: req.path().to_owned(),
        query: query.clone(),
        access_token: access_token.clone(),
        body: body.clone(),
        errcode,
    };
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
            state.calls.push(call(-1));
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
    let (answered, delay) = {
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
        let answered = if let Some(code) = failing {
            Answer::Json(errcode(
                code,
                "failure asked for by the test (ApiStandIn::fail_next)",
            ))
        } else {
            match (&access_token, &state.current) {
                (None, _) => Answer::Json(errcode(41001, "access_token missing")),
                (Some(t), Some((current, expired))) if t == current => {
                    if *expired {
                        Answer::Json(errcode(42001, "access_token expired"))
                    } else {
                        state.clock += 1;
                        let request = Request {
                            path: req.path(),
                            query: &query,
                            body: &body,
                            upload: upload.as_ref(),
                        };
                        endpoint(&mut state, req.method().as_str(), &request)
                    }
                }
                _ => Answer::Json(errcode(
                    40001,
                    "invalid credential, access_token is invalid or not latest",
                )),
            }
        };
        state.calls.push(call(answered.errcode()));
        (answered, state.delay)
    };
    match answered {
        Answer::Json(body) => answer(delay, body).await,
        Answer::File(file) => {
            if !delay.is_zero() {
                actix_rt::time::sleep(delay).await;
            }
            HttpResponse::Ok()
                .content_type(file.content_type)
                .insert_header((
                    "Content-Disposition",
                    format!("attachment; filename=\"{}\"", file.file_name),
                ))
                .body(file.bytes)
        }
    }
}

/// One endpoint's answer to a call with a valid token.
fn endpoint(state: &mut State, method: &str, req: &Request<'_>) -> Answer {
    let ok = || errcode(0, "ok");
    let json = match (method, req.path) {
        ("POST", "/cgi-bin/message/custom/send" | "/cgi-bin/message/custom/typing") => {
            match req.str("touser") {
                Some(_) => ok(),
                None => errcode(40003, "invalid openid"),
            }
        }
        ("POST", "/cgi-bin/menu/create") => match check_menu(req.body) {
            Ok(()) => {
                state.menu = Some(json!({ "button": req.body["button"] }));
                ok()
            }
            Err(e) => e,
        },
        ("GET", "/cgi-bin/menu/get") => match &state.menu {
            None => errcode(46003, "menu no exist"),
            Some(menu) => {
                let mut menu = menu.clone();
                menu["menuid"] = json!(100);
                let conditional: Vec<Value> = state
                    .conditional
                    .iter()
                    .map(|(id, button, rule)| {
                        json!({"button": button, "matchrule": rule, "menuid": id.parse::<u64>().unwrap_or(0)})
                    })
                    .collect();
                let mut answer = json!({ "menu": menu });
                if !conditional.is_empty() {
                    answer["conditionalmenu"] = Value::Array(conditional);
                }
                answer
            }
        },
        ("GET", "/cgi-bin/menu/delete") => {
            state.menu = None;
            state.conditional.clear();
            ok()
        }
        ("POST", "/cgi-bin/menu/addconditional") => {
            let rule = &req.body["matchrule"];
            if state.menu.is_none() {
                errcode(65303, "there is no selfmenu, please create selfmenu first")
            } else if rule.as_object().is_none_or(|r| r.is_empty()) {
                errcode(65304, "match rule empty")
            } else {
                match check_menu(req.body) {
                    Ok(()) => {
                        let id = (400_000 + state.next()).to_string();
                        state.conditional.push((
                            id.clone(),
                            req.body["button"].clone(),
                            rule.clone(),
                        ));
                        json!({ "menuid": id })
                    }
                    Err(e) => e,
                }
            }
        }
        ("POST", "/cgi-bin/menu/delconditional") => {
            let id = match &req.body["menuid"] {
                Value::String(s) => s.clone(),
                Value::Number(n) => n.to_string(),
                _ => String::new(),
            };
            let before = state.conditional.len();
            state.conditional.retain(|(i, _, _)| *i != id);
            if state.conditional.len() == before {
                errcode(65301, "no such menuid")
            } else {
                ok()
            }
        }
        ("POST", "/cgi-bin/qrcode/create") => qrcode_create(state, req.body),
        ("POST", "/cgi-bin/media/upload") => return media_upload(state, req),
        ("GET", "/cgi-bin/media/get") => {
            match req.param("media_id").and_then(|id| state.media.get(id)) {
                Some(m) if m.media_type == "video" => {
                    json!({ "video_url": format!("http://stand-in.invalid/video/{}", m.file_name) })
                }
                Some(m) => return Answer::File(m.clone()),
                None => errcode(40007, "invalid media_id"),
            }
        }
        ("GET", "/cgi-bin/user/info") => match req.param("openid") {
            Some(openid) => {
                user_info(state, openid).unwrap_or_else(|| errcode(40003, "invalid openid"))
            }
            None => errcode(40003, "invalid openid"),
        },
        ("POST", "/cgi-bin/user/info/batchget") => {
            let list = req.body["user_list"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            if list.is_empty() || list.len() > 100 {
                errcode(45158, "user_list size must be 1 to 100")
            } else {
                let infos: Option<Vec<Value>> = list
                    .iter()
                    .map(|u| user_info(state, u["openid"].as_str().unwrap_or_default()))
                    .collect();
                match infos {
                    Some(infos) => json!({ "user_info_list": infos }),
                    None => errcode(40003, "invalid openid"),
                }
            }
        }
        ("GET", "/cgi-bin/user/get") => {
            let followers: Vec<&String> = state
                .users
                .iter()
                .filter(|(_, u)| u.follows)
                .map(|(id, _)| id)
                .collect();
            let start = match req.param("next_openid").filter(|n| !n.is_empty()) {
                None => 0,
                Some(next) => match followers.iter().position(|id| *id == next) {
                    Some(i) => i + 1,
                    None => return Answer::Json(errcode(40003, "invalid next_openid")),
                },
            };
            let page: Vec<&String> = followers
                .iter()
                .skip(start)
                .take(state.page_size)
                .copied()
                .collect();
            let mut answer = json!({
                "total": followers.len(),
                "count": page.len(),
                "next_openid": page.last().map(|s| s.as_str()).unwrap_or_default(),
            });
            if !page.is_empty() {
                answer["data"] = json!({ "openid": page });
            }
            answer
        }
        ("POST", "/cgi-bin/message/template/send") => match check_message(state, req) {
            Err(e) => e,
            Ok(()) => json!({ "errcode": 0, "errmsg": "ok", "msgid": 200_000_000 + state.next() }),
        },
        ("POST", "/cgi-bin/message/subscribe/bizsend") => match check_message(state, req) {
            Err(e) => e,
            Ok(()) => ok(),
        },
        _ => errcode(48001, "api unauthorized (not played by the stand-in)"),
    };
    Answer::Json(json)
}

/// WeChat's checks of a menu's buttons, with its errcodes.
fn check_menu(body: &Value) -> Result<(), Value> {
    let Some(buttons) = body["button"].as_array() else {
        return Err(errcode(44002, "empty post data"));
    };
    if buttons.is_empty() || buttons.len() > 3 {
        return Err(errcode(40016, "invalid button size"));
    }
    for button in buttons {
        let name = button["name"].as_str().unwrap_or_default();
        if name.is_empty() || name.len() > 16 {
            return Err(errcode(40018, "invalid button name size"));
        }
        match button["sub_button"].as_array().filter(|s| !s.is_empty()) {
            Some(subs) => {
                if subs.len() > 5 {
                    return Err(errcode(40023, "invalid sub button size"));
                }
                for sub in subs {
                    let name = sub["name"].as_str().unwrap_or_default();
                    if name.is_empty() || name.len() > 60 {
                        return Err(errcode(40025, "invalid sub button name size"));
                    }
                    check_leaf(sub, (40024, 40026, 40027))?;
                }
            }
            None => check_leaf(button, (40017, 40019, 40020))?,
        }
    }
    Ok(())
}

/// A leaf button's type, key and URL; `codes` are WeChat's errcodes for a
/// bad type, key and URL at this level.
fn check_leaf(button: &Value, (bad_type, bad_key, bad_url): (i64, i64, i64)) -> Result<(), Value> {
    let field = |name: &str| button[name].as_str().unwrap_or_default();
    let keyed = [
        "click",
        "scancode_push",
        "scancode_waitmsg",
        "pic_sysphoto",
        "pic_photo_or_album",
        "pic_weixin",
        "location_select",
    ];
    match field("type") {
        t if keyed.contains(&t) => {
            let key = field("key");
            if key.is_empty() || key.len() > 128 {
                return Err(errcode(bad_key, "invalid button key size"));
            }
        }
        "view" | "miniprogram" => {
            let url = field("url");
            if url.is_empty() || url.len() > 1024 {
                return Err(errcode(bad_url, "invalid button url size"));
            }
            if field("type") == "miniprogram"
                && (field("appid").is_empty() || field("pagepath").is_empty())
            {
                return Err(errcode(40166, "invalid miniprogram appid or pagepath"));
            }
        }
        "media_id" if !field("media_id").is_empty() => {}
        "article_id" | "article_view_limited" if !field("article_id").is_empty() => {}
        _ => return Err(errcode(bad_type, "invalid button type")),
    }
    Ok(())
}

fn qrcode_create(state: &mut State, body: &Value) -> Value {
    let scene = &body["action_info"]["scene"];
    let id = scene["scene_id"].as_u64();
    let text = scene["scene_str"].as_str();
    let (valid, permanent) = match body["action_name"].as_str() {
        Some("QR_SCENE") => (id.is_some_and(|i| i > 0 && i <= u64::from(u32::MAX)), false),
        Some("QR_LIMIT_SCENE") => (id.is_some_and(|i| (1..=100_000).contains(&i)), true),
        Some("QR_STR_SCENE") => (
            text.is_some_and(|s| (1..=64).contains(&s.chars().count())),
            false,
        ),
        Some("QR_LIMIT_STR_SCENE") => (
            text.is_some_and(|s| (1..=64).contains(&s.chars().count())),
            true,
        ),
        _ => return errcode(40097, "invalid args: action_name"),
    };
    if !valid {
        return errcode(40097, "invalid args: scene");
    }
    let expire = if permanent {
        None
    } else {
        match body.get("expire_seconds").map(Value::as_u64) {
            None => Some(30),
            Some(Some(n)) if (1..=2_592_000).contains(&n) => Some(n),
            Some(_) => return errcode(40097, "invalid args: expire_seconds"),
        }
    };
    let n = state.next();
    // A ticket with characters a URL must encode, as WeChat's have.
    let ticket = format!("gQstand/in+{n}==");
    let scene = match (id, text) {
        (Some(id), _) => json!({ "scene_id": id }),
        (None, Some(s)) => json!({ "scene_str": s }),
        (None, None) => Value::Null,
    };
    state.tickets.insert(ticket.clone(), (scene, expire));
    let mut answer =
        json!({ "ticket": ticket, "url": format!("http://weixin.qq.com/q/stand-in-{n}") });
    if let Some(expire) = expire {
        answer["expire_seconds"] = expire.into();
    }
    answer
}

fn mime_of(file_name: &str) -> &'static str {
    let ext = file_name
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    match ext.as_str() {
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "bmp" => "image/bmp",
        "amr" => "audio/amr",
        "mp3" => "audio/mpeg",
        "mp4" => "video/mp4",
        _ => "application/octet-stream",
    }
}

fn media_upload(state: &mut State, req: &Request<'_>) -> Answer {
    let media_type = req.param("type").unwrap_or_default();
    let (formats, max): (&[&str], usize) = match media_type {
        "image" => (&["bmp", "png", "jpeg", "jpg", "gif"], 10 << 20),
        "voice" => (&["amr", "mp3"], 2 << 20),
        "video" => (&["mp4"], 10 << 20),
        "thumb" => (&["jpg"], 64 << 10),
        _ => return Answer::Json(errcode(40004, "invalid media type")),
    };
    let Some(upload) = req.upload else {
        return Answer::Json(errcode(41005, "media data missing"));
    };
    let ext = upload
        .file_name
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    if !formats.contains(&ext.as_str()) {
        return Answer::Json(errcode(40005, "invalid file type"));
    }
    if upload.bytes.is_empty() || upload.bytes.len() > max {
        return Answer::Json(errcode(40006, "invalid meida size"));
    }
    let id = format!("stand-in-media-{}", state.next());
    state.media.insert(
        id.clone(),
        StoredMedia {
            media_type: media_type.to_owned(),
            file_name: upload.file_name.clone(),
            content_type: upload.content_type.clone(),
            bytes: upload.bytes.clone(),
        },
    );
    let id_field = if media_type == "thumb" {
        "thumb_media_id"
    } else {
        "media_id"
    };
    let mut answer = json!({ "type": media_type, "created_at": state.clock });
    answer[id_field] = id.into();
    Answer::Json(answer)
}

fn user_info(state: &State, openid: &str) -> Option<Value> {
    let user = state.users.get(openid)?;
    if !user.follows {
        return Some(json!({ "subscribe": 0, "openid": openid }));
    }
    let (scene, qr_scene, qr_scene_str) = match &user.qr_scene {
        Some(s) => (
            "ADD_SCENE_QR_CODE",
            s["scene_id"].as_u64().unwrap_or(0),
            s["scene_str"].as_str().unwrap_or_default(),
        ),
        None => ("ADD_SCENE_SEARCH", 0, ""),
    };
    Some(json!({
        "subscribe": 1,
        "openid": openid,
        "language": "zh_CN",
        "subscribe_time": user.subscribe_time,
        "remark": "",
        "groupid": 0,
        "tagid_list": [],
        "subscribe_scene": scene,
        "qr_scene": qr_scene,
        "qr_scene_str": qr_scene_str,
    }))
}

/// A template or subscription message's checks, with WeChat's errcodes.
fn check_message(state: &State, req: &Request<'_>) -> Result<(), Value> {
    let touser = req.str("touser").unwrap_or_default();
    let Some(user) = state.users.get(touser) else {
        return Err(errcode(40003, "invalid openid"));
    };
    if !req
        .str("template_id")
        .is_some_and(|t| state.templates.contains(t))
    {
        return Err(errcode(40037, "invalid template_id"));
    }
    if !req.body["data"]
        .as_object()
        .is_some_and(|d| !d.is_empty() && d.values().all(|v| v["value"].is_string()))
    {
        return Err(errcode(47001, "data format error"));
    }
    if !user.follows {
        return Err(errcode(43004, "require subscribe"));
    }
    Ok(())
}

/// The `media` part of a `multipart/form-data` body.
fn multipart_media(content_type: &str, body: &[u8]) -> Option<Upload> {
    let boundary = content_type
        .split(';')
        .find_map(|p| p.trim().strip_prefix("boundary="))?
        .trim_matches('"');
    let delimiter = format!("--{boundary}");
    let delimiter = delimiter.as_bytes();
    let mut rest = body;
    while let Some(start) = find(rest, delimiter) {
        rest = &rest[start + delimiter.len()..];
        if rest.starts_with(b"--") {
            return None;
        }
        let rest_part = rest.strip_prefix(b"\r\n").unwrap_or(rest);
        let headers_end = find(rest_part, b"\r\n\r\n")?;
        let headers = String::from_utf8_lossy(&rest_part[..headers_end]).into_owned();
        let content = &rest_part[headers_end + 4..];
        let end = find(content, delimiter)?;
        let content = content[..end]
            .strip_suffix(b"\r\n")
            .unwrap_or(&content[..end]);
        let header = |name: &str| {
            headers.lines().find_map(|l| {
                let (k, v) = l.split_once(':')?;
                k.trim()
                    .eq_ignore_ascii_case(name)
                    .then(|| v.trim().to_owned())
            })
        };
        let disposition = header("content-disposition").unwrap_or_default();
        let param = |name: &str| {
            disposition.split(';').find_map(|p| {
                p.trim()
                    .strip_prefix(name)
                    .and_then(|v| v.strip_prefix('='))
                    .map(|v| v.trim_matches('"').to_owned())
            })
        };
        if param("name").as_deref() == Some("media") {
            return Some(Upload {
                file_name: param("filename").unwrap_or_default(),
                content_type: header("content-type").unwrap_or_default(),
                bytes: content.to_vec(),
            });
        }
        rest = &rest_part[headers_end + 4 + end..];
    }
    None
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}
