//! The query string WeChat signs: parsing and checking it.
//!
//! Kept apart from actix so a CLI, a test or another framework can verify
//! a request from its query string alone.

use std::borrow::Cow;

use crate::signature;

/// Why a query string is unusable. Maps to `400 Bad Request`.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum QueryError {
    /// The query string is not `application/x-www-form-urlencoded`.
    ///
    /// Not produced any more: the parser decodes leniently, as
    /// `serde_urlencoded` did (invalid percent-encoding is kept as sent,
    /// invalid UTF-8 replaced), so no query string is a syntax error.
    #[error("bad query: not a valid query string: {0}")]
    Syntax(#[source] serde_urlencoded::de::Error),
    /// A parameter WeChat always sends is missing or empty.
    #[error("bad query: missing {0}")]
    Missing(&'static str),
    /// A parameter appears twice.
    #[error("bad query: parameter {0} given twice")]
    Duplicate(&'static str),
    /// A parameter does not have the shape WeChat gives it.
    #[error("bad query: {name} {problem}")]
    Malformed {
        /// The parameter.
        name: &'static str,
        /// What is wrong with it.
        problem: &'static str,
    },
}

/// The parameters WeChat puts on the URL.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Query {
    /// `signature`: SHA-1 over token, timestamp, nonce.
    pub signature: String,
    /// `timestamp`: unix seconds, as sent.
    pub timestamp: String,
    /// `nonce`.
    pub nonce: String,
    /// `echostr`: only on the GET handshake.
    pub echostr: Option<String>,
    /// `openid`: the user, on pushes.
    pub openid: Option<String>,
    /// `encrypt_type`: `aes` for encrypted pushes.
    pub encrypt_type: Option<String>,
    /// `msg_signature`: SHA-1 over token, timestamp, nonce and the `Encrypt` text.
    pub msg_signature: Option<String>,
}

fn is_sha1_hex(s: &str) -> bool {
    s.len() == 40 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

impl Query {
    /// Parses and shape-checks a raw query string.
    ///
    /// ```
    /// let q = wechat_events::query::Query::parse(
    ///     "signature=f21891de399b4e33a1a93c9a7b8a8fffb5a443ff&timestamp=1410685589&nonce=test&echostr=hi",
    /// ).unwrap();
    /// assert!(q.verify("test"));
    /// ```
    pub fn parse(query: &str) -> Result<Query, QueryError> {
        QueryRef::parse(query).map(QueryRef::into_owned)
    }

    /// Whether `signature` matches `token` (constant-time).
    pub fn verify(&self, token: &str) -> bool {
        signature::verify(&self.signature, &[token, &self.timestamp, &self.nonce])
    }

    /// Whether the push says it is encrypted (`encrypt_type=aes`).
    pub fn is_encrypted(&self) -> bool {
        is_aes(self.encrypt_type.as_deref())
    }
}

/// [`Query`] borrowing from the query string: what the service reads every
/// push with, copying nothing that needs no percent-decoding. The same
/// parameters, checks and errors as [`Query::parse`].
///
/// ```
/// use wechat_events::query::QueryRef;
///
/// let q = QueryRef::parse(
///     "signature=f21891de399b4e33a1a93c9a7b8a8fffb5a443ff&timestamp=1410685589&nonce=test&echostr=hi",
/// ).unwrap();
/// assert!(q.verify("test"));
/// assert_eq!(q.into_owned().echostr.as_deref(), Some("hi"));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct QueryRef<'a> {
    /// `signature`: SHA-1 over token, timestamp, nonce.
    pub signature: Cow<'a, str>,
    /// `timestamp`: unix seconds, as sent.
    pub timestamp: Cow<'a, str>,
    /// `nonce`.
    pub nonce: Cow<'a, str>,
    /// `echostr`: only on the GET handshake.
    pub echostr: Option<Cow<'a, str>>,
    /// `openid`: the user, on pushes.
    pub openid: Option<Cow<'a, str>>,
    /// `encrypt_type`: `aes` for encrypted pushes.
    pub encrypt_type: Option<Cow<'a, str>>,
    /// `msg_signature`: SHA-1 over token, timestamp, nonce and the `Encrypt` text.
    pub msg_signature: Option<Cow<'a, str>>,
}

impl<'a> QueryRef<'a> {
    /// Parses and shape-checks a raw query string (see [`Query::parse`]).
    pub fn parse(query: &'a str) -> Result<QueryRef<'a>, QueryError> {
        let mut q = QueryRef::default();
        let mut seen: [&str; 7] = [""; 7];
        let mut seen_len = 0;
        for (k, v) in pairs(query) {
            let (name, slot) = match &*k {
                "signature" => ("signature", &mut q.signature),
                "timestamp" => ("timestamp", &mut q.timestamp),
                "nonce" => ("nonce", &mut q.nonce),
                "echostr" => ("echostr", q.echostr.get_or_insert_default()),
                "openid" => ("openid", q.openid.get_or_insert_default()),
                "encrypt_type" => ("encrypt_type", q.encrypt_type.get_or_insert_default()),
                "msg_signature" => ("msg_signature", q.msg_signature.get_or_insert_default()),
                _ => continue,
            };
            if seen[..seen_len].contains(&name) {
                return Err(QueryError::Duplicate(name));
            }
            *slot = v;
            seen[seen_len] = name;
            seen_len += 1;
        }
        for (name, value) in [
            ("signature", &q.signature),
            ("timestamp", &q.timestamp),
            ("nonce", &q.nonce),
        ] {
            if value.is_empty() {
                return Err(QueryError::Missing(name));
            }
        }
        if !is_sha1_hex(&q.signature) {
            return Err(QueryError::Malformed {
                name: "signature",
                problem: "is not 40 hex digits",
            });
        }
        if q.timestamp.len() > 20 || !q.timestamp.bytes().all(|b| b.is_ascii_digit()) {
            return Err(QueryError::Malformed {
                name: "timestamp",
                problem: "is not a number",
            });
        }
        if q.nonce.len() > 128 {
            return Err(QueryError::Malformed {
                name: "nonce",
                problem: "is longer than 128 bytes",
            });
        }
        if let Some(ms) = &q.msg_signature {
            if !is_sha1_hex(ms) {
                return Err(QueryError::Malformed {
                    name: "msg_signature",
                    problem: "is not 40 hex digits",
                });
            }
        }
        Ok(q)
    }

    /// Whether `signature` matches `token` (constant-time).
    pub fn verify(&self, token: &str) -> bool {
        signature::verify(&self.signature, &[token, &self.timestamp, &self.nonce])
    }

    /// Whether the push says it is encrypted (`encrypt_type=aes`).
    pub fn is_encrypted(&self) -> bool {
        is_aes(self.encrypt_type.as_deref())
    }

    /// The owned [`Query`].
    pub fn into_owned(self) -> Query {
        let owned = |v: Option<Cow<'_, str>>| v.map(Cow::into_owned);
        Query {
            signature: self.signature.into_owned(),
            timestamp: self.timestamp.into_owned(),
            nonce: self.nonce.into_owned(),
            echostr: owned(self.echostr),
            openid: owned(self.openid),
            encrypt_type: owned(self.encrypt_type),
            msg_signature: owned(self.msg_signature),
        }
    }
}

/// The query's `name=value` pairs, decoded as `form_urlencoded` decodes
/// them (what `serde_urlencoded` reads with): lazily, borrowing what needs
/// no decoding, invalid percent-encoding kept as sent and invalid UTF-8
/// replaced. A query with no `%` and no `+` — every push WeChat sends —
/// needs no decoding at all and is only split.
fn pairs(query: &str) -> impl Iterator<Item = (Cow<'_, str>, Cow<'_, str>)> {
    let plain = !query.bytes().any(|b| b == b'%' || b == b'+');
    let split = plain.then(|| {
        query
            .split('&')
            .filter(|pair| !pair.is_empty())
            .map(|pair| {
                let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
                (Cow::Borrowed(name), Cow::Borrowed(value))
            })
    });
    let decoded = (!plain).then(|| form_urlencoded::parse(query.as_bytes()));
    split
        .into_iter()
        .flatten()
        .chain(decoded.into_iter().flatten())
}

fn is_aes(encrypt_type: Option<&str>) -> bool {
    encrypt_type.is_some_and(|t| t.eq_ignore_ascii_case("aes"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_verifies() {
        let q = Query::parse("signature=f21891de399b4e33a1a93c9a7b8a8fffb5a443ff&timestamp=1410685589&nonce=test&openid=o1&encrypt_type=aes&msg_signature=5d197aaffba7e9b25a30732f161a50dee96bd5fa").unwrap();
        assert!(q.verify("test"));
        assert!(!q.verify("other"));
        assert!(q.is_encrypted());
        assert_eq!(q.openid.as_deref(), Some("o1"));
    }

    #[test]
    fn pairs_are_split_as_form_urlencoded_splits_them() {
        for query in [
            "",
            "&&",
            "a=1&b=2",
            "a=1&&b=&=3&c&d=4=5&",
            "signature=ab&timestamp=1&nonce=n",
            "a=%41&b=x+y",
            "a=%zz&b=%E4%BD%A0&c=%FF",
            "name+with+plus=v",
        ] {
            let ours: Vec<_> = pairs(query).collect();
            let theirs: Vec<_> = form_urlencoded::parse(query.as_bytes()).collect();
            assert_eq!(ours, theirs, "{query:?}");
        }
    }

    proptest::proptest! {
        #[test]
        fn pairs_agree_with_form_urlencoded(query in "[a-z0-9=&%+ 你]{0,40}") {
            let ours: Vec<_> = pairs(&query).collect();
            let theirs: Vec<_> = form_urlencoded::parse(query.as_bytes()).collect();
            proptest::prop_assert_eq!(ours, theirs);
        }
    }

    #[test]
    fn rejects_malformed() {
        for bad in [
            "",
            "timestamp=1&nonce=n",
            "signature=abc&timestamp=1&nonce=n",
            "signature=f21891de399b4e33a1a93c9a7b8a8fffb5a443ff&timestamp=soon&nonce=n",
            "signature=f21891de399b4e33a1a93c9a7b8a8fffb5a443ff&timestamp=1",
            "signature=f21891de399b4e33a1a93c9a7b8a8fffb5a443ff&signature=f21891de399b4e33a1a93c9a7b8a8fffb5a443ff&timestamp=1&nonce=n",
            "signature=f21891de399b4e33a1a93c9a7b8a8fffb5a443ff&timestamp=1&nonce=n&msg_signature=zz",
        ] {
            assert!(Query::parse(bad).is_err(), "{bad}");
        }
    }
}
