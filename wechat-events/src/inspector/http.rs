//! The inspector on actix-web: the page and its assets, the live stream
//! of rows (server-sent events), the route table, the send form's
//! endpoint, and who may see any of it.
//!
//! | path (under the mount) | what |
//! | --- | --- |
//! | `` and `/` | the page (403 with the token form when not allowed) |
//! | `/app.js`, `/app.css` | the page's script and style (no data) |
//! | `/events` | the rows, then each new or changed one (`text/event-stream`) |
//! | `/setup` | the route table and the send form's kinds (JSON) |
//! | `/send` | POST JSON: sends a simulated push, answers what the service did |
//! | `/login` | POST form `token`: sets the cookie and goes to the page |
//!
//! `?unmask=1` on `/events` and `/send` shows OpenIDs whole.

use std::convert::Infallible;
use std::net::IpAddr;
use std::time::Duration;

use actix_web::dev::HttpServiceFactory;
use actix_web::http::{header, StatusCode};
use actix_web::web::{self, Bytes};
use actix_web::{HttpRequest, HttpResponse};
use futures_util::stream::{self, StreamExt};
use subtle::ConstantTimeEq;
use tokio::sync::broadcast::error::RecvError;

use super::{Inspector, SendForm};

const INDEX: &str = include_str!("index.html");
const LOGIN: &str = include_str!("login.html");
const SCRIPT: &str = include_str!("app.js");
const STYLE: &str = include_str!("app.css");

/// The cookie the token form sets.
const COOKIE: &str = "wechat_inspector";

/// How often an idle event stream says it is alive (proxies close quiet
/// connections).
const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// An inspector mounted at `base`.
struct Mount {
    inspector: Inspector,
    base: String,
}

impl Inspector {
    /// The inspector's page and endpoints under `path` (e.g.
    /// `/_inspector`), for `App::service`.
    ///
    /// ```
    /// use actix_web::App;
    /// use wechat_events::inspector::Inspector;
    ///
    /// let inspector = Inspector::new();
    /// let app = App::new().service(inspector.service("/_inspector"));
    /// ```
    pub fn service(&self, path: &str) -> impl HttpServiceFactory {
        let base = path.trim_end_matches('/').to_owned();
        let mount = web::Data::new(Mount {
            inspector: self.clone(),
            base: base.clone(),
        });
        web::scope(&base)
            .app_data(mount)
            .route("", web::get().to(page))
            .route("/", web::get().to(page))
            .route("/app.js", web::get().to(script))
            .route("/app.css", web::get().to(style))
            .route("/events", web::get().to(events))
            .route("/setup", web::get().to(setup))
            .route("/send", web::post().to(send))
            .route("/login", web::post().to(login))
    }
}

/// Whether `req` may see the inspector: a loopback client that came
/// through no proxy and names a loopback host, or one with the token.
fn allowed(req: &HttpRequest, token: Option<&str>) -> bool {
    if is_local(req) {
        return true;
    }
    let Some(token) = token else { return false };
    let bearer = (req.headers().get(header::AUTHORIZATION))
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    let matches = |given: &str| bool::from(given.as_bytes().ct_eq(token.as_bytes()));
    bearer.is_some_and(matches) || cookie(req, COOKIE).is_some_and(|c| matches(&c))
}

/// A loopback peer, no proxy header, a loopback `Host`. (Behind a proxy
/// on the same host every client would be a loopback peer; a page of any
/// site a local browser opens could reach a loopback port under a name
/// of its own, which the `Host` check refuses.)
fn is_local(req: &HttpRequest) -> bool {
    let headers = req.headers();
    let proxied =
        headers.contains_key(header::FORWARDED) || headers.contains_key("x-forwarded-for");
    let peer = req
        .peer_addr()
        .is_some_and(|peer| peer.ip().to_canonical().is_loopback());
    let host = (headers.get(header::HOST))
        .and_then(|v| v.to_str().ok())
        .or_else(|| req.uri().authority().map(|a| a.as_str()));
    peer && !proxied && host.is_some_and(loopback_host)
}

/// `localhost`, `127.0.0.1`, `[::1]` (with or without a port).
fn loopback_host(host: &str) -> bool {
    let name = match host.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or_default(),
        None => host.rsplit_once(':').map_or(host, |(name, _)| name),
    };
    name.eq_ignore_ascii_case("localhost")
        || name.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// The value of the cookie `name` (percent-decoded).
fn cookie(req: &HttpRequest, name: &str) -> Option<String> {
    req.headers()
        .get_all(header::COOKIE)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, value)| decode(value))
}

fn decode(value: &str) -> String {
    form_urlencoded::parse(format!("v={value}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

fn refused(mount: &Mount) -> HttpResponse {
    HttpResponse::Forbidden()
        .insert_header((header::CONTENT_TYPE, "text/html; charset=utf-8"))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(LOGIN.replace("{{base}}", &html_escape(&mount.base)))
}

fn html_escape(text: &str) -> String {
    quick_xml::escape::escape(text).into_owned()
}

/// Whether `?unmask=1` was asked for.
fn unmask(req: &HttpRequest) -> bool {
    form_urlencoded::parse(req.query_string().as_bytes())
        .any(|(k, v)| k == "unmask" && (v == "1" || v == "true"))
}

async fn page(req: HttpRequest, mount: web::Data<Mount>) -> HttpResponse {
    if !allowed(&req, mount.inspector.shared.token.as_deref()) {
        return refused(&mount);
    }
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "text/html; charset=utf-8"))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(INDEX.replace("{{base}}", &html_escape(&mount.base)))
}

async fn script() -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "text/javascript; charset=utf-8"))
        .body(SCRIPT)
}

async fn style() -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "text/css; charset=utf-8"))
        .body(STYLE)
}

async fn setup(req: HttpRequest, mount: web::Data<Mount>) -> HttpResponse {
    if !allowed(&req, mount.inspector.shared.token.as_deref()) {
        return refused(&mount);
    }
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "application/json"))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(mount.inspector.setup_json())
}

/// One server-sent event carrying `row`.
fn row_event(json: &str) -> Bytes {
    // Compact JSON has no line breaks: one `data:` line.
    Bytes::from(format!("event: row\ndata: {json}\n\n"))
}

async fn events(req: HttpRequest, mount: web::Data<Mount>) -> HttpResponse {
    if !allowed(&req, mount.inspector.shared.token.as_deref()) {
        return refused(&mount);
    }
    let unmask = unmask(&req);
    let inspector = mount.inspector.clone();
    let (rows, updates) = inspector.subscribe();
    let snapshot = move |rows: Vec<std::sync::Arc<super::Row>>| {
        let mut out = String::new();
        for row in rows {
            out.push_str("event: row\ndata: ");
            out.push_str(&row.to_json(unmask));
            out.push_str("\n\n");
        }
        out.push_str("event: ready\ndata: {}\n\n");
        Bytes::from(out)
    };
    let first = snapshot(rows);
    let live = stream::unfold(
        (inspector, updates),
        move |(inspector, mut updates)| async move {
            let chunk = match tokio::time::timeout(KEEP_ALIVE, updates.recv()).await {
                Ok(Ok(row)) => row_event(&row.to_json(unmask)),
                // Too slow a reader: everything again.
                Ok(Err(RecvError::Lagged(_))) => snapshot(inspector.rows()),
                Ok(Err(RecvError::Closed)) => return None,
                Err(_) => Bytes::from_static(b": alive\n\n"),
            };
            Some((Ok::<_, Infallible>(chunk), (inspector, updates)))
        },
    );
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "text/event-stream"))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header(("x-accel-buffering", "no"))
        .streaming(stream::once(async move { Ok::<_, Infallible>(first) }).chain(live))
}

async fn send(req: HttpRequest, body: Bytes, mount: web::Data<Mount>) -> HttpResponse {
    if !allowed(&req, mount.inspector.shared.token.as_deref()) {
        return refused(&mount);
    }
    // JSON only: another site's page cannot send that without asking
    // first (a CORS preflight, which is never granted).
    let json = (req.headers().get(header::CONTENT_TYPE))
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !json {
        return error(StatusCode::UNSUPPORTED_MEDIA_TYPE, "send JSON");
    }
    let form: SendForm = match serde_json::from_slice(&body) {
        Ok(form) => form,
        Err(e) => return error(StatusCode::BAD_REQUEST, &e.to_string()),
    };
    match mount.inspector.send(&form, Some(&req)).await {
        Ok(sent) => HttpResponse::Ok()
            .insert_header((header::CONTENT_TYPE, "application/json"))
            .body(sent.to_json(unmask(&req))),
        Err(e) => error(StatusCode::BAD_REQUEST, &e.0),
    }
}

fn error(status: StatusCode, message: &str) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header((header::CONTENT_TYPE, "application/json"))
        .body(serde_json::json!({ "error": message }).to_string())
}

/// The token form: with the right token, the cookie (for the page's
/// `EventSource`, which cannot send a header) and the page.
async fn login(body: Bytes, mount: web::Data<Mount>) -> HttpResponse {
    let given = form_urlencoded::parse(&body)
        .find(|(k, _)| k == "token")
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default();
    let right = mount
        .inspector
        .shared
        .token
        .as_deref()
        .is_some_and(|token| bool::from(given.trim().as_bytes().ct_eq(token.as_bytes())));
    if !right {
        return refused(&mount);
    }
    let value: String = form_urlencoded::byte_serialize(given.trim().as_bytes()).collect();
    let path = if mount.base.is_empty() {
        "/"
    } else {
        &mount.base
    };
    HttpResponse::SeeOther()
        .insert_header((
            header::SET_COOKIE,
            format!("{COOKIE}={value}; Path={path}; HttpOnly; SameSite=Strict"),
        ))
        .insert_header((header::LOCATION, format!("{}/", mount.base)))
        .finish()
}

#[cfg(test)]
mod tests {
    use super::loopback_host;

    #[test]
    fn loopback_hosts() {
        for host in [
            "localhost",
            "localhost:8080",
            "127.0.0.1",
            "127.0.0.1:80",
            "[::1]:8080",
            "[::1]",
        ] {
            assert!(loopback_host(host), "{host}");
        }
        for host in [
            "example.com",
            "evil.localhost.example.com:80",
            "10.0.0.1:8080",
            "",
            "[::2]",
        ] {
            assert!(!loopback_host(host), "{host}");
        }
    }
}
