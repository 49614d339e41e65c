//! The component's two URLs on actix-web: the authorization events, and
//! the authorizers' pushes dispatched to their services.

use std::time::Duration;

use actix_web::dev::{AppService, HttpServiceFactory};
use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};

use super::{parse_auth_event, plausible_appid, ComponentService, Inner, TEST_AUTHORIZERS};
use crate::observe::Reason;
use crate::query::QueryRef;
use crate::service::{self, PushError};

impl Inner {
    /// Verifies and decrypts a push to either URL: the decrypted XML.
    async fn open(&self, req: &HttpRequest, payload: web::Payload) -> Result<String, PushError> {
        let config = self.component.config();
        let query = QueryRef::parse(req.query_string())?;
        if !query.verify(config.token()) {
            return Err(PushError::Signature);
        }
        service::check_window(config, &query)?;
        let text = service::body_text(service::read_body(config, req, payload).await?)?;
        let keys = (config.keys()).expect("a component's config is in secure mode");
        let (xml, _) = service::open_envelope(config.token(), keys, &query, &text)?;
        Ok(xml)
    }
}

impl HttpServiceFactory for ComponentService {
    fn register(self, config: &mut AppService) {
        // `{appid}` is also actix's syntax for the path segment it names.
        let message = self.inner.component.message_path().to_owned();
        let data = web::Data::from(self.inner.clone());
        web::resource(self.inner.component.auth_path().to_owned())
            .app_data(data.clone())
            .route(web::post().to(auth))
            .default_service(web::to(method_not_allowed))
            .register(config);
        web::resource(message)
            .app_data(data)
            .route(web::to(message_push))
            .register(config);
    }
}

async fn method_not_allowed(req: HttpRequest) -> HttpResponse {
    let inner = req.app_data::<web::Data<Inner>>();
    let hint = "method not allowed: WeChat POSTs authorization events here";
    service::refuse_method(&req, inner.map(|i| &i.observer), "POST", hint)
}

/// The authorization URL: verified, decrypted, typed, handled, answered
/// `success`.
async fn auth(req: HttpRequest, payload: web::Payload, inner: web::Data<Inner>) -> HttpResponse {
    let xml = match inner.open(&req, payload).await {
        Ok(xml) => xml,
        Err(e) => return e.refuse(&req, &inner.observer, None),
    };
    let event = match parse_auth_event(&xml, inner.component.appid()) {
        Ok(event) => event,
        Err(e) => {
            tracing::warn!(path = req.path(), error = %e, "rejected request: not an authorization event");
            let (error, status) = (e.to_string(), StatusCode::BAD_REQUEST);
            let observer = &inner.observer;
            service::tell_refused(observer, &req, Reason::BadRequest, status, &error, None);
            return HttpResponse::BadRequest()
                .insert_header((header::CONTENT_TYPE, "text/plain; charset=utf-8"))
                .body(error);
        }
    };
    // Bounded: WeChat hangs up after 5 s; what is unfinished is logged.
    let handled = tokio::time::timeout(Duration::from_millis(4500), inner.handle(&event)).await;
    if handled.is_err() {
        tracing::warn!(
            info_type = event.info_type(),
            "authorization event still being handled after 4.5 s: answered"
        );
    }
    for hook in &inner.component.hooks {
        let (hook, event) = (hook.clone(), event.clone());
        tokio::spawn(async move { hook(event).await });
    }
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "text/plain; charset=utf-8"))
        .body("success")
}

/// The message URL: the authorizer's service answers, once the AppID in
/// the path is known to have authorized the component.
async fn message_push(
    req: HttpRequest,
    payload: web::Payload,
    inner: web::Data<Inner>,
) -> HttpResponse {
    let appid = req.match_info().get("appid").unwrap_or_default().to_owned();
    if !plausible_appid(&appid) {
        return PushError::NotAuthorized(appid).refuse(&req, &inner.observer, None);
    }
    let user_name = if TEST_AUTHORIZERS.contains(&appid.as_str()) {
        None
    } else {
        match inner.authorizer(&appid).await {
            Ok(Some(authorizer)) => authorizer.user_name.clone(),
            Ok(None) => return PushError::NotAuthorized(appid).refuse(&req, &inner.observer, None),
            Err(e) => {
                tracing::error!(authorizer = %appid, error = %e, "cannot tell whether the account authorized the platform");
                return HttpResponse::ServiceUnavailable()
                    .insert_header((header::CONTENT_TYPE, "text/plain; charset=utf-8"))
                    .body("try again");
            }
        }
    };
    let service = match inner.service(&appid, user_name) {
        Ok(service) => service,
        Err(e) => {
            tracing::error!(authorizer = %appid, error = %e, "cannot make the account's service");
            return HttpResponse::ServiceUnavailable()
                .insert_header((header::CONTENT_TYPE, "text/plain; charset=utf-8"))
                .body("try again");
        }
    };
    service.serve(req, payload).await
}
