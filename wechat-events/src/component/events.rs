//! The authorization events WeChat pushes to a component's authorization
//! URL (授权事件): not catalog pushes — they carry no `FromUserName` or
//! `MsgType` — so they are typed here.

use crate::xml::{parse_fields, XmlError};

/// One decrypted push to the authorization URL, by its `InfoType`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AuthEvent {
    /// `component_verify_ticket`: the ticket the component's token is
    /// fetched with, pushed every 10 minutes and valid for 12 hours.
    VerifyTicket(VerifyTicket),
    /// `authorized`: an account authorized the component.
    Authorized(Authorization),
    /// `updateauthorized`: an account changed what it authorized.
    UpdateAuthorized(Authorization),
    /// `unauthorized`: an account withdrew its authorization.
    Unauthorized(Unauthorization),
    /// An `InfoType` this version does not know (answered `success`).
    Other {
        /// The `InfoType`.
        info_type: String,
        /// `CreateTime`, unix seconds.
        create_time: i64,
    },
}

/// `component_verify_ticket`.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct VerifyTicket {
    /// `ComponentVerifyTicket` (a secret: not in `Debug`).
    pub ticket: String,
    /// `CreateTime`, unix seconds.
    pub create_time: i64,
}

impl std::fmt::Debug for VerifyTicket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerifyTicket")
            .field("create_time", &self.create_time)
            .finish_non_exhaustive()
    }
}

/// `authorized` and `updateauthorized`.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Authorization {
    /// `AuthorizerAppid`: the account's AppID.
    pub authorizer_appid: String,
    /// `AuthorizationCode`, exchanged with `api_query_auth` (a secret:
    /// not in `Debug`).
    pub authorization_code: String,
    /// `AuthorizationCodeExpiredTime`, unix seconds.
    pub code_expires_at: Option<i64>,
    /// `PreAuthCode`: the pre-authorization code the account used.
    pub pre_auth_code: Option<String>,
    /// `CreateTime`, unix seconds.
    pub create_time: i64,
}

impl std::fmt::Debug for Authorization {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authorization")
            .field("authorizer_appid", &self.authorizer_appid)
            .field("code_expires_at", &self.code_expires_at)
            .field("create_time", &self.create_time)
            .finish_non_exhaustive()
    }
}

/// `unauthorized`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Unauthorization {
    /// `AuthorizerAppid`: the account that withdrew.
    pub authorizer_appid: String,
    /// `CreateTime`, unix seconds.
    pub create_time: i64,
}

impl AuthEvent {
    /// The `InfoType` as WeChat spells it.
    pub fn info_type(&self) -> &str {
        match self {
            AuthEvent::VerifyTicket(_) => "component_verify_ticket",
            AuthEvent::Authorized(_) => "authorized",
            AuthEvent::UpdateAuthorized(_) => "updateauthorized",
            AuthEvent::Unauthorized(_) => "unauthorized",
            AuthEvent::Other { info_type, .. } => info_type,
        }
    }

    /// The authorizer the event is about, if any.
    pub fn authorizer_appid(&self) -> Option<&str> {
        match self {
            AuthEvent::Authorized(a) | AuthEvent::UpdateAuthorized(a) => Some(&a.authorizer_appid),
            AuthEvent::Unauthorized(u) => Some(&u.authorizer_appid),
            _ => None,
        }
    }
}

/// Why a decrypted authorization push is not one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AuthEventError {
    /// Not an `<xml>` document.
    #[error(transparent)]
    Xml(#[from] XmlError),
    /// A field the event needs is missing or empty.
    #[error("the {info_type} event has no {field}")]
    Missing {
        /// The `InfoType`, or `event` when that is what is missing.
        info_type: String,
        /// The missing element.
        field: &'static str,
    },
    /// `AppId` names another component.
    #[error("the event is for component {found:?}, not this one")]
    OtherComponent {
        /// The `AppId` it carries.
        found: String,
    },
}

/// Reads a decrypted authorization push of the component `component_appid`.
///
/// ```
/// use wechat_events::component::{parse_auth_event, AuthEvent};
/// let xml = "<xml><AppId><![CDATA[wxcomp]]></AppId><CreateTime>1413192605</CreateTime>\
///            <InfoType><![CDATA[unauthorized]]></InfoType>\
///            <AuthorizerAppid><![CDATA[wxauth]]></AuthorizerAppid></xml>";
/// let AuthEvent::Unauthorized(u) = parse_auth_event(xml, "wxcomp").unwrap() else { panic!() };
/// assert_eq!(u.authorizer_appid, "wxauth");
/// ```
pub fn parse_auth_event(xml: &str, component_appid: &str) -> Result<AuthEvent, AuthEventError> {
    let fields = parse_fields(xml)?;
    let text = |name: &str| fields.text(name).map(str::trim).filter(|v| !v.is_empty());
    let info_type = text("InfoType")
        .ok_or(AuthEventError::Missing {
            info_type: "event".to_owned(),
            field: "InfoType",
        })?
        .to_owned();
    let missing = |field| AuthEventError::Missing {
        info_type: info_type.clone(),
        field,
    };
    let appid = text("AppId").ok_or_else(|| missing("AppId"))?;
    if appid != component_appid {
        return Err(AuthEventError::OtherComponent {
            found: appid.to_owned(),
        });
    }
    let create_time = text("CreateTime")
        .and_then(|t| t.parse().ok())
        .ok_or_else(|| missing("CreateTime"))?;
    let required = |field| text(field).map(str::to_owned).ok_or_else(|| missing(field));
    Ok(match info_type.as_str() {
        "component_verify_ticket" => AuthEvent::VerifyTicket(VerifyTicket {
            ticket: required("ComponentVerifyTicket")?,
            create_time,
        }),
        "authorized" | "updateauthorized" => {
            let authorization = Authorization {
                authorizer_appid: required("AuthorizerAppid")?,
                authorization_code: required("AuthorizationCode")?,
                code_expires_at: text("AuthorizationCodeExpiredTime").and_then(|t| t.parse().ok()),
                pre_auth_code: text("PreAuthCode").map(str::to_owned),
                create_time,
            };
            match info_type.as_str() {
                "authorized" => AuthEvent::Authorized(authorization),
                _ => AuthEvent::UpdateAuthorized(authorization),
            }
        }
        "unauthorized" => AuthEvent::Unauthorized(Unauthorization {
            authorizer_appid: required("AuthorizerAppid")?,
            create_time,
        }),
        _ => AuthEvent::Other {
            info_type,
            create_time,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn xml(info_type: &str, rest: &str) -> String {
        format!(
            "<xml><AppId><![CDATA[wxcomp]]></AppId><CreateTime>1413192605</CreateTime>\
             <InfoType><![CDATA[{info_type}]]></InfoType>{rest}</xml>"
        )
    }

    #[test]
    fn each_info_type_is_typed() {
        let ticket = parse_auth_event(
            &xml(
                "component_verify_ticket",
                "<ComponentVerifyTicket><![CDATA[ticket@@@x]]></ComponentVerifyTicket>",
            ),
            "wxcomp",
        )
        .unwrap();
        assert_eq!(
            ticket,
            AuthEvent::VerifyTicket(VerifyTicket {
                ticket: "ticket@@@x".into(),
                create_time: 1413192605
            })
        );
        assert!(
            !format!("{ticket:?}").contains("ticket@@@x"),
            "a secret in Debug"
        );
        let authorized = parse_auth_event(
            &xml(
                "authorized",
                "<AuthorizerAppid>wxauth</AuthorizerAppid><AuthorizationCode>code1</AuthorizationCode>\
                 <AuthorizationCodeExpiredTime>1413196205</AuthorizationCodeExpiredTime>\
                 <PreAuthCode>pre1</PreAuthCode>",
            ),
            "wxcomp",
        )
        .unwrap();
        let AuthEvent::Authorized(a) = &authorized else {
            panic!("{authorized:?}")
        };
        assert_eq!(
            (a.authorizer_appid.as_str(), a.authorization_code.as_str()),
            ("wxauth", "code1")
        );
        assert_eq!(a.code_expires_at, Some(1413196205));
        assert_eq!(authorized.authorizer_appid(), Some("wxauth"));
        let update = parse_auth_event(
            &xml(
                "updateauthorized",
                "<AuthorizerAppid>wxauth</AuthorizerAppid><AuthorizationCode>c</AuthorizationCode>",
            ),
            "wxcomp",
        )
        .unwrap();
        assert_eq!(update.info_type(), "updateauthorized");
        let other = parse_auth_event(&xml("notify_third_fasteregister", ""), "wxcomp").unwrap();
        assert_eq!(other.info_type(), "notify_third_fasteregister");
    }

    #[test]
    fn what_is_missing_or_foreign_is_an_error() {
        assert_eq!(
            parse_auth_event(
                &xml("authorized", "<AuthorizerAppid>a</AuthorizerAppid>"),
                "wxcomp"
            ),
            Err(AuthEventError::Missing {
                info_type: "authorized".into(),
                field: "AuthorizationCode"
            })
        );
        assert_eq!(
            parse_auth_event(
                &xml("unauthorized", "<AuthorizerAppid>a</AuthorizerAppid>"),
                "other"
            ),
            Err(AuthEventError::OtherComponent {
                found: "wxcomp".into()
            })
        );
        assert!(matches!(
            parse_auth_event("<xml><AppId>wxcomp</AppId></xml>", "wxcomp"),
            Err(AuthEventError::Missing {
                field: "InfoType",
                ..
            })
        ));
        assert!(parse_auth_event("not xml", "wxcomp").is_err());
    }
}
