//! Mounting every account's service (and a third-party platform's URLs)
//! on an actix-web app.

use actix_web::dev::{AppService, HttpServiceFactory};

use super::WechatAccounts;

impl HttpServiceFactory for WechatAccounts {
    fn register(self, config: &mut AppService) {
        for service in self.services.iter() {
            service.clone().register(config);
        }
        #[cfg(feature = "api")]
        if let Some(component) = self.component {
            component.register(config);
        }
    }
}
