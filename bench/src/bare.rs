//! The baseline of `bench/run.sh`: a bare actix-web server that reads the
//! body and answers a constant, with the quickstart's worker count.
//!
//! Listens on `WECHAT_ADDR` (default `127.0.0.1:8081`); `POST /wechat` only
//! (anything else is 404, which the load script counts as a failure).

use actix_web::{web, App, HttpResponse, HttpServer};

/// About the size of the quickstart's text echo.
const REPLY: &str = "<xml><ToUserName><![CDATA[oBenchUser]]></ToUserName>\
<FromUserName><![CDATA[gh_bench]]></FromUserName><CreateTime>1700000000</CreateTime>\
<MsgType><![CDATA[text]]></MsgType><Content><![CDATA[收到:hi]]></Content></xml>";

async fn receive(body: web::Bytes) -> HttpResponse {
    std::hint::black_box(&body);
    HttpResponse::Ok()
        .content_type("application/xml; charset=utf-8")
        .body(REPLY)
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let addr = std::env::var("WECHAT_ADDR").unwrap_or_else(|_| "127.0.0.1:8081".to_owned());
    let server = HttpServer::new(|| App::new().route("/wechat", web::post().to(receive)))
        .workers(2)
        .bind(&addr)?;
    for bound in server.addrs() {
        println!("listening on http://{bound}/wechat (bare actix-web)");
    }
    server.run().await
}
