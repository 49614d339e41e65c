//! Users (用户管理): one follower's information, a hundred at a time, and
//! every follower's OpenID, page by page or as a [`Stream`].
//!
//! Since late 2021 WeChat gives no nickname or avatar here.

use std::collections::VecDeque;

use futures_util::stream::{self, Stream};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::{ApiClient, ApiError, InvalidRequest};

const INFO: &str = "/cgi-bin/user/info";
const BATCH: &str = "/cgi-bin/user/info/batchget";
const FOLLOWERS: &str = "/cgi-bin/user/get";

/// At most this many users in one [`UsersApi::batch_info`].
pub const MAX_BATCH: usize = 100;

/// What WeChat says about a user (`user/info`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct UserInfo {
    /// 1 while the user follows the account, 0 otherwise (the other
    /// fields are then absent).
    #[serde(default)]
    pub subscribe: u8,
    /// The user's OpenID for this account.
    pub openid: String,
    /// The client's language (`zh_CN`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
    /// When the user last followed, Unix seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subscribe_time: Option<i64>,
    /// The UnionID, when the account is bound to an Open Platform account.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unionid: Option<String>,
    /// The account's remark for the user.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remark: Option<String>,
    /// The user's group (legacy).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub groupid: Option<i64>,
    /// The user's tags.
    #[serde(default)]
    pub tagid_list: Vec<i64>,
    /// How the user came: `ADD_SCENE_QR_CODE`, `ADD_SCENE_SEARCH`, ...
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subscribe_scene: Option<String>,
    /// The numeric scene of the QR code the user followed through (0: none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub qr_scene: Option<u32>,
    /// The string scene of that QR code (empty: none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub qr_scene_str: Option<String>,
}

impl UserInfo {
    /// Whether the user follows the account.
    pub fn follows(&self) -> bool {
        self.subscribe == 1
    }
}

/// One page of followers (`user/get`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct FollowerPage {
    /// How many followers the account has.
    pub total: u64,
    /// Their OpenIDs, up to 10,000.
    pub openids: Vec<String>,
    /// Where the next page starts; `None` after the last.
    pub next_openid: Option<String>,
}

/// The user calls; see [`ApiClient::users`].
#[derive(Debug, Clone, Copy)]
pub struct UsersApi<'a> {
    api: &'a ApiClient,
}

impl<'a> UsersApi<'a> {
    pub(crate) fn new(api: &'a ApiClient) -> Self {
        UsersApi { api }
    }

    /// What WeChat says about the user `openid` (`user/info`, `zh_CN`).
    pub async fn info(&self, openid: &str) -> Result<UserInfo, ApiError> {
        if openid.trim().is_empty() {
            return Err(InvalidRequest::new("openid", "is empty").into());
        }
        self.api
            .get_typed(INFO, &[("openid", openid), ("lang", "zh_CN")])
            .await
    }

    /// What WeChat says about each of `openids`, in order
    /// (`user/info/batchget`, at most 100).
    pub async fn batch_info(&self, openids: &[&str]) -> Result<Vec<UserInfo>, ApiError> {
        if openids.is_empty() || openids.len() > MAX_BATCH {
            return Err(InvalidRequest::new(
                "user_list",
                format!("has {} users; a batch has 1 to {MAX_BATCH}", openids.len()),
            )
            .into());
        }
        let list: Vec<Value> = openids
            .iter()
            .map(|o| json!({ "openid": o, "lang": "zh_CN" }))
            .collect();
        #[derive(Deserialize)]
        struct Answer {
            #[serde(default)]
            user_info_list: Vec<UserInfo>,
        }
        let answer: Answer = self
            .api
            .post_typed(BATCH, &json!({ "user_list": list }))
            .await?;
        Ok(answer.user_info_list)
    }

    /// One page of followers, starting after `next_openid` (`None`: the
    /// first page).
    pub async fn followers_page(
        &self,
        next_openid: Option<&str>,
    ) -> Result<FollowerPage, ApiError> {
        #[derive(Deserialize)]
        struct Data {
            #[serde(default)]
            openid: Vec<String>,
        }
        #[derive(Deserialize)]
        struct Answer {
            #[serde(default)]
            total: u64,
            #[serde(default)]
            data: Option<Data>,
            #[serde(default)]
            next_openid: Option<String>,
        }
        let query: &[(&str, &str)] = match next_openid {
            Some(next) => &[("next_openid", next)],
            None => &[],
        };
        let answer: Answer = self.api.get_typed(FOLLOWERS, query).await?;
        let openids = answer.data.map(|d| d.openid).unwrap_or_default();
        // WeChat names the page's last OpenID as the next start even on
        // the last page; an empty page ends the list.
        let next_openid = answer
            .next_openid
            .filter(|n| !n.is_empty() && !openids.is_empty());
        Ok(FollowerPage {
            total: answer.total,
            openids,
            next_openid,
        })
    }

    /// Every follower's OpenID, fetching pages as the stream is read; an
    /// error ends it.
    ///
    /// ```no_run
    /// # async fn f(api: wechat_events::api::ApiClient) -> Result<(), wechat_events::api::ApiError> {
    /// use futures_util::TryStreamExt;
    /// let all: Vec<String> = api.users().followers().try_collect().await?;
    /// # Ok(()) }
    /// ```
    pub fn followers(&self) -> impl Stream<Item = Result<String, ApiError>> + 'a {
        struct State<'a> {
            users: UsersApi<'a>,
            buffer: VecDeque<String>,
            /// `None` before the first page; `Some(None)` after the last.
            next: Option<Option<String>>,
        }
        let start = State {
            users: *self,
            buffer: VecDeque::new(),
            next: None,
        };
        stream::unfold(Some(start), |state| async move {
            let mut state = state?;
            loop {
                if let Some(openid) = state.buffer.pop_front() {
                    return Some((Ok(openid), Some(state)));
                }
                let after = match &state.next {
                    Some(None) => return None,
                    Some(Some(next)) => Some(next.as_str()),
                    None => None,
                };
                match state.users.followers_page(after).await {
                    Ok(page) => {
                        state.buffer.extend(page.openids);
                        state.next = Some(page.next_openid);
                    }
                    Err(e) => return Some((Err(e), None)),
                }
            }
        })
    }
}
