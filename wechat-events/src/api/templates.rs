//! Template messages (模板消息) and subscription messages (订阅通知).
//!
//! A template message is sent at once and its outcome comes later, as the
//! `TEMPLATESENDJOBFINISH` push: [`TemplateApi::send`] returns the `msgid`
//! that push's `TemplateSendJobFinishEvent::msg_id` carries (`Status`
//! `success`, `failed:user block`, `failed: system failed`).
//! Subscription messages (`bizsend`) go to users who accepted them; their
//! choices arrive as the `subscribe_msg_*` pushes.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{ApiClient, ApiError, InvalidRequest};

const SEND: &str = "/cgi-bin/message/template/send";
const BIZSEND: &str = "/cgi-bin/message/subscribe/bizsend";

/// One value of a message's `data`: `{"value": …}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct DataValue {
    /// The text shown.
    pub value: String,
}

/// A mini program page a message opens.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct MiniProgram {
    /// The mini program's AppID.
    pub appid: String,
    /// The page.
    pub pagepath: String,
}

impl MiniProgram {
    /// The page `pagepath` of the mini program `appid`.
    pub fn new(appid: impl Into<String>, pagepath: impl Into<String>) -> Self {
        MiniProgram {
            appid: appid.into(),
            pagepath: pagepath.into(),
        }
    }
}

/// A template message (`message/template/send`).
///
/// ```
/// use wechat_events::api::TemplateMessage;
/// let msg = TemplateMessage::new("oUser", "TEMPLATE_ID")
///     .data("keyword1", "已发货")
///     .url("https://example.com/order/42");
/// assert_eq!(
///     serde_json::to_value(&msg).unwrap(),
///     serde_json::json!({"touser": "oUser", "template_id": "TEMPLATE_ID",
///         "url": "https://example.com/order/42", "data": {"keyword1": {"value": "已发货"}}})
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct TemplateMessage {
    /// The user's OpenID.
    pub touser: String,
    /// The template.
    pub template_id: String,
    /// A page the message opens.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// A mini program page it opens instead.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub miniprogram: Option<MiniProgram>,
    /// An id of yours that makes a repeated send a no-op.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_msg_id: Option<String>,
    /// The template's fields (`keyword1`, `thing2`, ...).
    pub data: BTreeMap<String, DataValue>,
}

impl TemplateMessage {
    /// The template `template_id` for `touser`, without data yet.
    pub fn new(touser: impl Into<String>, template_id: impl Into<String>) -> Self {
        TemplateMessage {
            touser: touser.into(),
            template_id: template_id.into(),
            url: None,
            miniprogram: None,
            client_msg_id: None,
            data: BTreeMap::new(),
        }
    }
    /// Sets the field `key` to `value`.
    pub fn data(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.data.insert(
            key.into(),
            DataValue {
                value: value.into(),
            },
        );
        self
    }
    /// The page the message opens.
    pub fn url(mut self, url: impl Into<String>) -> Self {
        self.url = Some(url.into());
        self
    }
    /// The mini program page the message opens.
    pub fn miniprogram(mut self, miniprogram: MiniProgram) -> Self {
        self.miniprogram = Some(miniprogram);
        self
    }
    /// An id that makes a repeated send a no-op.
    pub fn client_msg_id(mut self, id: impl Into<String>) -> Self {
        self.client_msg_id = Some(id.into());
        self
    }
}

/// A subscription message (`message/subscribe/bizsend`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct SubscribeMessage {
    /// The user's OpenID.
    pub touser: String,
    /// The template.
    pub template_id: String,
    /// A page it opens.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub page: Option<String>,
    /// A mini program page it opens instead.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub miniprogram: Option<MiniProgram>,
    /// The template's fields (`thing1`, `time2`, ...).
    pub data: BTreeMap<String, DataValue>,
}

impl SubscribeMessage {
    /// The template `template_id` for `touser`, without data yet.
    pub fn new(touser: impl Into<String>, template_id: impl Into<String>) -> Self {
        SubscribeMessage {
            touser: touser.into(),
            template_id: template_id.into(),
            page: None,
            miniprogram: None,
            data: BTreeMap::new(),
        }
    }
    /// Sets the field `key` to `value`.
    pub fn data(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.data.insert(
            key.into(),
            DataValue {
                value: value.into(),
            },
        );
        self
    }
    /// The page it opens.
    pub fn page(mut self, page: impl Into<String>) -> Self {
        self.page = Some(page.into());
        self
    }
    /// The mini program page it opens.
    pub fn miniprogram(mut self, miniprogram: MiniProgram) -> Self {
        self.miniprogram = Some(miniprogram);
        self
    }
}

fn check(touser: &str, template_id: &str, empty_data: bool) -> Result<(), InvalidRequest> {
    if touser.trim().is_empty() {
        return Err(InvalidRequest::new(
            "touser",
            "is empty: give the user's OpenID",
        ));
    }
    if template_id.trim().is_empty() {
        return Err(InvalidRequest::new("template_id", "is empty"));
    }
    if empty_data {
        return Err(InvalidRequest::new(
            "data",
            "is empty: give the template's fields (keyword1, thing1, ...)",
        ));
    }
    Ok(())
}

/// The template and subscription message calls; see
/// [`ApiClient::templates`].
#[derive(Debug, Clone, Copy)]
pub struct TemplateApi<'a> {
    api: &'a ApiClient,
}

impl<'a> TemplateApi<'a> {
    pub(crate) fn new(api: &'a ApiClient) -> Self {
        TemplateApi { api }
    }

    /// Sends a template message; returns its `msgid`, which the later
    /// `TEMPLATESENDJOBFINISH` push carries as `msg_id`.
    pub async fn send(&self, message: &TemplateMessage) -> Result<u64, ApiError> {
        check(
            &message.touser,
            &message.template_id,
            message.data.is_empty(),
        )?;
        #[derive(Deserialize)]
        struct Answer {
            msgid: u64,
        }
        let answer: Answer = self.api.post_typed(SEND, message).await?;
        Ok(answer.msgid)
    }

    /// Sends a subscription message (`bizsend`).
    pub async fn send_subscribe(&self, message: &SubscribeMessage) -> Result<(), ApiError> {
        check(
            &message.touser,
            &message.template_id,
            message.data.is_empty(),
        )?;
        let body = serde_json::to_value(message).map_err(|source| ApiError::Decode {
            path: BIZSEND.to_owned(),
            source,
        })?;
        self.api.post_json(BIZSEND, &body).await.map(drop)
    }
}
