//! The baseline of `bench/run.sh`: a bare actix-web server that reads the
//! body and answers a constant, with the quickstart's worker count.
//!
//! Listens on `WECHAT_ADDR` (default `127.0.0.1:8081`); `POST /wechat` only
//! (anything else is 404, which the load script counts as a failure).
//!
//! `BARE_WORK_NS` (default 0) makes each request also busy its worker for
//! that many nanoseconds before answering, as a handler doing that much
//! work would: `bench/calibrate.sh` measures how the end-to-end ratio of
//! such a server falls with the work added, to place the quickstart's
//! ratio on that curve.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use actix_web::{web, App, HttpResponse, HttpServer};

/// About the size of the quickstart's text echo.
const REPLY: &str = "<xml><ToUserName><![CDATA[oBenchUser]]></ToUserName>\
<FromUserName><![CDATA[gh_bench]]></FromUserName><CreateTime>1700000000</CreateTime>\
<MsgType><![CDATA[text]]></MsgType><Content><![CDATA[收到:hi]]></Content></xml>";

/// The busy work each request does (`BARE_WORK_NS`), set once at start
/// (a static rather than app data, so that the baseline's handler takes no
/// extractor more than it did without it).
static WORK: OnceLock<Duration> = OnceLock::new();

async fn receive(body: web::Bytes) -> HttpResponse {
    std::hint::black_box(&body);
    let work = WORK.get().copied().unwrap_or_default();
    if !work.is_zero() {
        let start = Instant::now();
        while start.elapsed() < work {
            std::hint::spin_loop();
        }
    }
    HttpResponse::Ok()
        .content_type("application/xml; charset=utf-8")
        .body(REPLY)
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let addr = std::env::var("WECHAT_ADDR").unwrap_or_else(|_| "127.0.0.1:8081".to_owned());
    let work_ns = match std::env::var("BARE_WORK_NS") {
        Ok(v) => v.parse::<u64>().map_err(|e| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!("BARE_WORK_NS={v:?}: {e}"),
            )
        })?,
        Err(_) => 0,
    };
    WORK.get_or_init(|| Duration::from_nanos(work_ns));
    let server = HttpServer::new(|| App::new().route("/wechat", web::post().to(receive)))
        .workers(2)
        .bind(&addr)?;
    for bound in server.addrs() {
        println!(
            "listening on http://{bound}/wechat (bare actix-web, {work_ns} ns of work per request)"
        );
    }
    server.run().await
}
