//! Parameter QR codes (带参数二维码): a code whose scan brings its scene
//! back in a push — a `subscribe` with `EventKey` `qrscene_<scene>` from a
//! new follower, a `SCAN` with `EventKey` `<scene>` from a follower.
//!
//! [`QrScene`] is the link between the two sides: the scene a code is
//! created with ([`QrCodeApi::temporary`], [`QrCodeApi::permanent`]) and
//! the value the pushes carry ([`QrScene::push_value`], what
//! `SubscribeEvent::scene` and `ScanEvent::scene` hold, and what a
//! `Route::scene` filter compares).

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{ApiClient, ApiError, Download, InvalidRequest};

const CREATE: &str = "/cgi-bin/qrcode/create";
const SHOW: &str = "/cgi-bin/showqrcode";

/// The longest a temporary code lives: 30 days.
pub const MAX_EXPIRE: Duration = Duration::from_secs(2_592_000);
/// The largest `scene_id` of a permanent code (they are 1 to 100,000).
pub const MAX_PERMANENT_SCENE_ID: u32 = 100_000;
/// The longest `scene_str`, in characters.
pub const MAX_SCENE_STR_CHARS: usize = 64;

/// A QR code's scene: a number or a string.
///
/// ```
/// use wechat_events::api::QrScene;
/// assert_eq!(QrScene::from("poster-7").push_value(), "poster-7");
/// assert_eq!(QrScene::Id(42).push_value(), "42");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QrScene {
    /// `scene_id`: a number (1–100,000 for a permanent code, any
    /// non-zero 32-bit number for a temporary one).
    #[serde(rename = "scene_id")]
    Id(u32),
    /// `scene_str`: 1–64 characters.
    #[serde(rename = "scene_str")]
    Str(String),
}

impl QrScene {
    /// The value the pushes carry for this scene: what
    /// `SubscribeEvent::scene` (the `EventKey` without `qrscene_`) and
    /// `ScanEvent::scene` hold, and what `Route::new().scene(…)` should
    /// compare against.
    pub fn push_value(&self) -> String {
        self.to_string()
    }

    /// Whether `scene`, as a push carries it, is this scene.
    pub fn is(&self, scene: &str) -> bool {
        let scene = scene.trim();
        match self {
            QrScene::Id(id) => scene.parse::<u32>() == Ok(*id),
            QrScene::Str(s) => s == scene,
        }
    }

    fn check(&self, permanent: bool) -> Result<(), InvalidRequest> {
        match self {
            QrScene::Id(0) => Err(InvalidRequest::new(
                "scene_id",
                "is 0; a scene_id is at least 1",
            )),
            QrScene::Id(id) if permanent && *id > MAX_PERMANENT_SCENE_ID => {
                Err(InvalidRequest::new(
                    "scene_id",
                    format!(
                        "is {id}; a permanent code's scene_id is 1 to {MAX_PERMANENT_SCENE_ID} \
                         (use a scene_str for more)"
                    ),
                ))
            }
            QrScene::Str(s) if s.is_empty() => Err(InvalidRequest::new(
                "scene_str",
                format!("is empty; a scene_str is 1 to {MAX_SCENE_STR_CHARS} characters"),
            )),
            QrScene::Str(s) if s.chars().count() > MAX_SCENE_STR_CHARS => Err(InvalidRequest::new(
                "scene_str",
                format!(
                    "is {} characters; a scene_str is at most {MAX_SCENE_STR_CHARS}",
                    s.chars().count()
                ),
            )),
            _ => Ok(()),
        }
    }
}

impl fmt::Display for QrScene {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            QrScene::Id(id) => write!(f, "{id}"),
            QrScene::Str(s) => f.write_str(s),
        }
    }
}

impl From<u32> for QrScene {
    fn from(id: u32) -> Self {
        QrScene::Id(id)
    }
}

impl From<&str> for QrScene {
    fn from(s: &str) -> Self {
        QrScene::Str(s.to_owned())
    }
}

impl From<String> for QrScene {
    fn from(s: String) -> Self {
        QrScene::Str(s)
    }
}

/// A created QR code: its ticket, the URL its image encodes, how long it
/// lives, its scene, and where its image is.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct QrCode {
    /// The ticket: the image is fetched with it.
    pub ticket: String,
    /// The URL the code encodes (`http://weixin.qq.com/q/…`): draw the code
    /// yourself from it, or fetch WeChat's image.
    pub url: String,
    /// How long a temporary code lives; `None` for a permanent one.
    pub expires_in: Option<Duration>,
    /// The scene it was made with.
    pub scene: QrScene,
    /// The image's URL: `{mp base}/cgi-bin/showqrcode?ticket=…`.
    pub image_url: String,
}

/// The QR code calls; see [`ApiClient::qrcode`].
///
/// ```no_run
/// # async fn f(api: wechat_events::api::ApiClient) -> Result<(), wechat_events::api::ApiError> {
/// use std::time::Duration;
/// let code = api.qrcode().temporary("poster-7", Duration::from_secs(7 * 86400)).await?;
/// println!("{} → {}", code.scene, code.image_url);
/// let png = api.qrcode().image(&code.ticket).await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Copy)]
pub struct QrCodeApi<'a> {
    api: &'a ApiClient,
}

impl<'a> QrCodeApi<'a> {
    pub(crate) fn new(api: &'a ApiClient) -> Self {
        QrCodeApi { api }
    }

    /// A temporary code (`QR_SCENE` for a number, `QR_STR_SCENE` for a
    /// string) living `expire` (at most 30 days, whole seconds).
    pub async fn temporary(
        &self,
        scene: impl Into<QrScene>,
        expire: Duration,
    ) -> Result<QrCode, ApiError> {
        self.create(scene.into(), Some(expire)).await
    }

    /// A permanent code (`QR_LIMIT_SCENE`, scene ids 1–100,000;
    /// `QR_LIMIT_STR_SCENE`). An account has at most 100,000 of them.
    pub async fn permanent(&self, scene: impl Into<QrScene>) -> Result<QrCode, ApiError> {
        self.create(scene.into(), None).await
    }

    async fn create(&self, scene: QrScene, expire: Option<Duration>) -> Result<QrCode, ApiError> {
        scene.check(expire.is_none())?;
        let action = match (&scene, expire) {
            (QrScene::Id(_), Some(_)) => "QR_SCENE",
            (QrScene::Str(_), Some(_)) => "QR_STR_SCENE",
            (QrScene::Id(_), None) => "QR_LIMIT_SCENE",
            (QrScene::Str(_), None) => "QR_LIMIT_STR_SCENE",
        };
        let mut body = json!({
            "action_name": action,
            "action_info": { "scene": scene },
        });
        if let Some(expire) = expire {
            let secs = expire.as_secs();
            if secs == 0 || expire > MAX_EXPIRE {
                return Err(InvalidRequest::new(
                    "expire_seconds",
                    format!(
                        "is {secs}; a temporary code lives 1 to {} seconds (30 days)",
                        MAX_EXPIRE.as_secs()
                    ),
                )
                .into());
            }
            body["expire_seconds"] = secs.into();
        }
        #[derive(Deserialize)]
        struct Answer {
            ticket: String,
            #[serde(default)]
            url: String,
            expire_seconds: Option<u64>,
        }
        let answer: Answer = self.api.post_typed(CREATE, &body).await?;
        Ok(QrCode {
            image_url: self.image_url(&answer.ticket),
            ticket: answer.ticket,
            url: answer.url,
            expires_in: answer.expire_seconds.map(Duration::from_secs),
            scene,
        })
    }

    /// The URL of the image of the code with `ticket` (the ticket
    /// URL-encoded), on the mp host ([`ApiClientBuilder::mp_base_url`](super::ApiClientBuilder::mp_base_url)).
    pub fn image_url(&self, ticket: &str) -> String {
        super::under(self.api.mp_base(), SHOW, None, &[("ticket", ticket)]).into()
    }

    /// Downloads the image of the code with `ticket` (a JPEG or PNG; no
    /// access token needed).
    pub async fn image(&self, ticket: &str) -> Result<Download, ApiError> {
        let url = super::under(self.api.mp_base(), SHOW, None, &[("ticket", ticket)]);
        self.api.fetch_public(url).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scenes_are_checked_against_their_limits() {
        let long = "码".repeat(65);
        for (scene, permanent, want) in [
            (
                QrScene::from(long.as_str()),
                false,
                "scene_str: is 65 characters; a scene_str is at most 64",
            ),
            (QrScene::from(""), false, "scene_str: is empty"),
            (QrScene::Id(0), false, "scene_id: is 0"),
            (
                QrScene::Id(100_001),
                true,
                "scene_id: is 100001; a permanent code's scene_id is 1 to 100000",
            ),
        ] {
            let err = scene.check(permanent).unwrap_err().to_string();
            assert!(err.starts_with(want), "{err}");
        }
        QrScene::from("码".repeat(64))
            .check(true)
            .expect("64 characters");
        QrScene::Id(100_001)
            .check(false)
            .expect("temporary ids are 32-bit");
        assert!(QrScene::Id(7).is(" 7 "));
        assert_eq!(
            serde_json::to_value(QrScene::from("a")).unwrap(),
            json!({"scene_str": "a"})
        );
    }
}
