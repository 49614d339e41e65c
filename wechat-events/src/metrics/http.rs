//! The metrics' endpoint: [`Metrics`] rendered for Prometheus' scrapes.

use actix_web::dev::HttpServiceFactory;
use actix_web::http::header;
use actix_web::{web, HttpResponse};

use super::Metrics;

impl Metrics {
    /// A resource at `path` (such as `/metrics`) answering `GET` with the
    /// metrics in Prometheus' text format. Mount it with `App::service`;
    /// it is open to whoever can reach it, so mount it where only the
    /// scraper can (another port, or behind your proxy's rules).
    pub fn service(&self, path: &str) -> impl HttpServiceFactory {
        web::resource(path.to_owned())
            .app_data(web::Data::new(self.clone()))
            .route(web::get().to(scrape))
    }
}

async fn scrape(metrics: web::Data<Metrics>) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((
            header::CONTENT_TYPE,
            header::HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
        ))
        .body(metrics.render().await)
}
