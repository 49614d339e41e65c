//! Pushes as WeChat sends them, without the sending: the builder
//! ([`SimPush`]), the kinds it knows by name ([`SimKind`]), and the
//! signing and encryption of a push request ([`Signer`]).
//!
//! Shared by the WeChat-server simulator (`testing`, which delivers what
//! is prepared here over HTTP or to an in-process app) and the inspector's
//! send form (`inspector`, which hands it to the service in process). No
//! HTTP here, so the inspector needs no HTTP client.

// With `inspector` alone, the builders the send form does not reach are
// used by nothing (they are `testing`'s public API).
#![cfg_attr(not(feature = "testing"), allow(dead_code))]

mod build;
mod kinds;

#[cfg_attr(not(feature = "testing"), allow(unused_imports))]
pub use build::{SimPush, SIM_TICKET};
#[cfg_attr(not(feature = "testing"), allow(unused_imports))]
pub use kinds::{SimField, SimKind};

use crate::crypto::{self, AesKey};
use crate::signature::{self, fresh_nonce, unix_now};
use crate::xml::push_cdata;

/// The account id (`ToUserName`) pushes are addressed to by default.
pub const DEFAULT_ACCOUNT: &str = "gh_test";
/// The user (`FromUserName`, `openid`) pushes come from by default.
pub const DEFAULT_OPENID: &str = "o_sim_user";

/// Signs (and, with a key, encrypts) push requests as WeChat does for
/// one account.
pub(crate) struct Signer<'a> {
    pub(crate) token: &'a str,
    /// The EncodingAESKey in secure and compatible mode.
    pub(crate) key: Option<&'a AesKey>,
    /// The AppID sealed into every encrypted push (with `key`).
    pub(crate) appid: &'a str,
    /// Compatible mode: encrypted pushes also carry their plaintext fields.
    pub(crate) compatible: bool,
}

/// A signed push request.
#[derive(Debug)]
pub(crate) struct Signed {
    /// The signed query string (no leading `?`).
    pub(crate) query: String,
    /// The body as sent: the XML, or its secure-mode envelope.
    pub(crate) body: String,
    /// The plaintext XML.
    pub(crate) xml: String,
    /// `FromUserName` and `ToUserName`, when known.
    pub(crate) parties: Option<(String, String)>,
}

impl Signer<'_> {
    /// The request for `push` from `openid` to `account` (unless the push
    /// fixes them): `CreateTime` now and a fresh `MsgId` unless the push
    /// fixed them, a fresh `timestamp` and `nonce`, encrypted with the key.
    pub(crate) fn sign(&self, push: &SimPush, account: &str, openid: &str) -> Signed {
        use rand::Rng;
        let msg_id = rand::thread_rng().gen_range(1_000_000_000_000_000u64..9_000_000_000_000_000);
        let xml = push.to_xml(account, openid, unix_now(), msg_id);
        let (openid, account) = if push.is_raw() {
            (push.sender(), push.recipient())
        } else {
            (
                Some(push.sender().unwrap_or_else(|| openid.to_owned())),
                Some(push.recipient().unwrap_or_else(|| account.to_owned())),
            )
        };
        let timestamp = unix_now().to_string();
        let nonce = fresh_nonce();
        let mut query: Vec<(&str, String)> = vec![
            (
                "signature",
                signature::sign(&[self.token, &timestamp, &nonce]),
            ),
            ("timestamp", timestamp.clone()),
            ("nonce", nonce.clone()),
        ];
        if let Some(openid) = &openid {
            query.push(("openid", openid.clone()));
        }
        let body = match self.key {
            None => xml.clone(),
            Some(key) => {
                let encrypt = crypto::encrypt(key, self.appid, &xml);
                let msg_signature = crypto::msg_signature(self.token, &timestamp, &nonce, &encrypt);
                query.push(("encrypt_type", "aes".to_owned()));
                query.push(("msg_signature", msg_signature));
                self.envelope(&xml, &encrypt, account.as_deref())
            }
        };
        Signed {
            query: encode_query(&query),
            body,
            xml,
            parties: openid.zip(account),
        }
    }

    /// The secure-mode body: `ToUserName` and `Encrypt`, or in compatible
    /// mode the plaintext fields with `Encrypt` added.
    fn envelope(&self, xml: &str, encrypt: &str, account: Option<&str>) -> String {
        let mut element = String::from("<Encrypt>");
        push_cdata(&mut element, encrypt);
        element.push_str("</Encrypt>");
        if self.compatible {
            let trimmed = xml.trim_end();
            if let Some(open) = trimmed.strip_suffix("</xml>") {
                return format!("{open}{element}</xml>");
            }
        }
        let mut body = String::from("<xml>");
        if let Some(account) = account {
            body.push_str("<ToUserName>");
            push_cdata(&mut body, account);
            body.push_str("</ToUserName>");
        }
        body.push_str(&element);
        body.push_str("</xml>");
        body
    }
}

/// `application/x-www-form-urlencoded`, as WeChat builds its URLs.
pub(crate) fn encode_query(pairs: &[(&str, String)]) -> String {
    // Serializing string pairs cannot fail.
    serde_urlencoded::to_string(pairs).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::query::Query;

    const KEY: &str = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG";

    #[test]
    fn percent_encoding() {
        assert_eq!(
            encode_query(&[("v", "a b&c=d/é".into())]),
            "v=a+b%26c%3Dd%2F%C3%A9"
        );
        assert_eq!(
            encode_query(&[("a", "Az09-_.*".into()), ("b", String::new())]),
            "a=Az09-_.*&b="
        );
    }

    #[test]
    fn a_signed_push_verifies_and_decrypts_with_the_accounts_key() {
        let key: AesKey = KEY.parse().expect("key");
        let signer = Signer {
            token: "tok",
            key: Some(&key),
            appid: "wx1",
            compatible: false,
        };
        let signed = signer.sign(&SimPush::text("hi"), "gh_a", "o_a");
        let q = Query::parse(&signed.query).expect("query");
        assert!(q.verify("tok") && q.is_encrypted());
        assert_eq!(q.openid.as_deref(), Some("o_a"));
        let encrypt = crypto::extract_encrypt(&signed.body).expect("envelope");
        let plain = crypto::decrypt(&key, &encrypt, Some("wx1")).expect("decrypt");
        assert_eq!(plain.message, signed.xml);
        assert!(signed.xml.contains("<FromUserName><![CDATA[o_a]]>"));
        assert_eq!(signed.parties, Some(("o_a".into(), "gh_a".into())));
    }
}
