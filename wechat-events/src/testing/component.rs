//! A stand-in for WeChat's third-party platform API, for testing a
//! component ([`crate::component`]) offline.
//!
//! [`ComponentStandIn::start`] serves, on a [`TestServer`] bound on
//! `127.0.0.1`: `api_component_token` (only with the last ticket it
//! issued: 61006 otherwise), `api_start_push_ticket`,
//! `api_create_preauthcode`, `api_query_auth` (for codes the test issued
//! with [`ComponentStandIn::authorization_code`], each once),
//! `api_authorizer_token` (rotating each authorizer's refresh token: an
//! old one is 61023, as after a re-authorization), `api_get_authorizer_info`
//! (the authorizer's `gh_` id), and the authorizers' `message/custom/send`
//! and `typing` (checking their access token). It records every call.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::{json, Value};

use super::TestServer;

/// The component AppID the stand-in accepts.
pub const COMPONENT_APPID: &str = "wxcomponentstandin";
/// The component AppSecret the stand-in accepts.
pub const COMPONENT_SECRET: &str = "component-secret";

/// One request the component stand-in received.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ComponentCall {
    /// The path, such as `/cgi-bin/component/api_query_auth`.
    pub path: String,
    /// The `component_access_token` or `access_token` query parameter.
    pub token: Option<String>,
    /// The JSON body.
    pub body: Value,
    /// The errcode answered (0: success).
    pub errcode: i64,
}

#[derive(Default)]
struct State {
    issued: u64,
    ticket: Option<String>,
    component_tokens: Vec<String>,
    /// code → authorizer AppID, until exchanged.
    codes: HashMap<String, String>,
    /// authorizer → (refresh token, access tokens issued, gh_ id).
    authorizers: HashMap<String, (String, Vec<String>, String)>,
    calls: Vec<ComponentCall>,
}

/// The component stand-in; see the [module docs](self). Stops when dropped.
pub struct ComponentStandIn {
    server: TestServer,
    state: Arc<Mutex<State>>,
}

impl ComponentStandIn {
    /// Starts serving on a free loopback port.
    pub fn start() -> ComponentStandIn {
        let state = Arc::new(Mutex::new(State::default()));
        let data = web::Data::from(state.clone());
        let server = TestServer::without_service()
            .configure(move |cfg| {
                cfg.app_data(data.clone())
                    .route("/cgi-bin/component/{name}", web::post().to(component))
                    .route(
                        "/cgi-bin/message/custom/{name}",
                        web::post().to(authorizer_call),
                    );
            })
            .start();
        ComponentStandIn { server, state }
    }

    /// The base URL to give the component: `http://127.0.0.1:PORT`.
    pub fn base_url(&self) -> String {
        self.server.url_for("")
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A new `component_verify_ticket`, the one `api_component_token` now
    /// accepts (send it to the component's authorization URL).
    pub fn new_ticket(&self) -> String {
        let mut state = self.state();
        state.issued += 1;
        let ticket = format!("ticket@@@{}", state.issued);
        state.ticket = Some(ticket.clone());
        ticket
    }

    /// An authorization code for the account `authorizer_appid` (whose
    /// `gh_` id is `gh_` + its AppID), as WeChat issues one when the
    /// account authorizes the component: exchangeable once.
    pub fn authorization_code(&self, authorizer_appid: &str) -> String {
        let mut state = self.state();
        state.issued += 1;
        let code = format!("queryauthcode@@@{}", state.issued);
        state
            .codes
            .insert(code.clone(), authorizer_appid.to_owned());
        code
    }

    /// Every call so far.
    pub fn calls(&self) -> Vec<ComponentCall> {
        self.state().calls.clone()
    }

    /// How many calls went to `path`'s last segment (`api_query_auth`, `send`, ...).
    pub fn calls_to(&self, name: &str) -> usize {
        self.state()
            .calls
            .iter()
            .filter(|c| c.path.rsplit('/').next() == Some(name) && c.errcode == 0)
            .count()
    }

    /// The customer-service messages sent, with the AppID of the
    /// authorizer whose token sent each.
    pub fn custom_messages(&self) -> Vec<(String, Value)> {
        let state = self.state();
        let owner = |token: &str| {
            state
                .authorizers
                .iter()
                .find(|(_, (_, tokens, _))| tokens.iter().any(|t| t == token))
                .map(|(appid, _)| appid.clone())
                .unwrap_or_default()
        };
        state
            .calls
            .iter()
            .filter(|c| c.path.ends_with("/custom/send") && c.errcode == 0)
            .map(|c| (owner(c.token.as_deref().unwrap_or("")), c.body.clone()))
            .collect()
    }

    /// The refresh token WeChat currently holds for `authorizer_appid`.
    pub fn refresh_token(&self, authorizer_appid: &str) -> Option<String> {
        (self.state().authorizers)
            .get(authorizer_appid)
            .map(|(refresh, _, _)| refresh.clone())
    }
}

fn answer(
    state: &mut State,
    path: &str,
    token: Option<String>,
    body: Value,
    out: Value,
) -> HttpResponse {
    let errcode = out.get("errcode").and_then(Value::as_i64).unwrap_or(0);
    state.calls.push(ComponentCall {
        path: path.to_owned(),
        token,
        body,
        errcode,
    });
    HttpResponse::Ok().json(out)
}

fn error(errcode: i64, errmsg: &str) -> Value {
    json!({ "errcode": errcode, "errmsg": errmsg })
}

fn query(req: &HttpRequest, name: &str) -> Option<String> {
    form_urlencoded::parse(req.query_string().as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

async fn component(
    req: HttpRequest,
    body: web::Json<Value>,
    state: web::Data<Mutex<State>>,
) -> HttpResponse {
    let body = body.into_inner();
    let mut state = state.lock().unwrap_or_else(|e| e.into_inner());
    let path = req.path().to_owned();
    let name = path.rsplit('/').next().unwrap_or_default().to_owned();
    let token = query(&req, "component_access_token");
    let field = |name: &str| {
        body.get(name)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned()
    };
    if field("component_appid") != COMPONENT_APPID {
        return answer(
            &mut state,
            &path,
            token,
            body.clone(),
            error(61004, "invalid component appid"),
        );
    }
    let out = match name.as_str() {
        "api_component_token" => {
            if field("component_appsecret") != COMPONENT_SECRET {
                error(61005, "invalid component secret")
            } else if state.ticket.as_deref() != Some(field("component_verify_ticket").as_str()) {
                error(61006, "component ticket is invalid")
            } else {
                state.issued += 1;
                let issued = format!("component-token-{}", state.issued);
                state.component_tokens.push(issued.clone());
                json!({ "component_access_token": issued, "expires_in": 7200 })
            }
        }
        "api_start_push_ticket" => match field("component_secret") == COMPONENT_SECRET {
            true => json!({ "errcode": 0, "errmsg": "ok" }),
            false => error(61005, "invalid component secret"),
        },
        _ if !token
            .as_ref()
            .is_some_and(|t| state.component_tokens.contains(t)) =>
        {
            error(40001, "invalid component_access_token")
        }
        "api_create_preauthcode" => {
            state.issued += 1;
            json!({ "pre_auth_code": format!("preauthcode@@@{}", state.issued), "expires_in": 1800 })
        }
        "api_query_auth" => match state.codes.remove(&field("authorization_code")) {
            None => error(61010, "code is expired or used"),
            Some(appid) => {
                state.issued += 1;
                let n = state.issued;
                let (access, refresh) = (format!("authorizer-token-{n}"), format!("refresh@@@{n}"));
                let entry = state
                    .authorizers
                    .entry(appid.clone())
                    .or_insert_with(|| (String::new(), Vec::new(), format!("gh_{appid}")));
                entry.0 = refresh.clone();
                entry.1.push(access.clone());
                json!({ "authorization_info": {
                    "authorizer_appid": appid,
                    "authorizer_access_token": access,
                    "expires_in": 7200,
                    "authorizer_refresh_token": refresh,
                    "func_info": [],
                }})
            }
        },
        "api_authorizer_token" => {
            let appid = field("authorizer_appid");
            let given = field("authorizer_refresh_token");
            state.issued += 1;
            let n = state.issued;
            match state.authorizers.get_mut(&appid) {
                Some(entry) if entry.0 == given => {
                    let (access, refresh) =
                        (format!("authorizer-token-{n}"), format!("refresh@@@{n}"));
                    entry.0 = refresh.clone();
                    entry.1.push(access.clone());
                    json!({
                        "authorizer_access_token": access,
                        "expires_in": 7200,
                        "authorizer_refresh_token": refresh,
                    })
                }
                _ => error(61023, "refresh_token is invalid"),
            }
        }
        "api_get_authorizer_info" => match state.authorizers.get(&field("authorizer_appid")) {
            Some((_, _, gh)) => json!({
                "authorizer_info": { "nick_name": "stand-in account", "user_name": gh },
                "authorization_info": { "authorizer_appid": field("authorizer_appid") },
            }),
            None => error(61003, "component is not authorized by this account"),
        },
        _ => error(-1, "unknown endpoint"),
    };
    answer(&mut state, &path, token, body, out)
}

async fn authorizer_call(
    req: HttpRequest,
    body: web::Json<Value>,
    state: web::Data<Mutex<State>>,
) -> HttpResponse {
    let mut state = state.lock().unwrap_or_else(|e| e.into_inner());
    let token = query(&req, "access_token");
    let known = token
        .as_ref()
        .is_some_and(|t| (state.authorizers.values()).any(|(_, tokens, _)| tokens.contains(t)));
    let out = match known {
        true => json!({ "errcode": 0, "errmsg": "ok" }),
        false => error(40001, "invalid credential"),
    };
    let path = req.path().to_owned();
    answer(&mut state, &path, token, body.into_inner(), out)
}
