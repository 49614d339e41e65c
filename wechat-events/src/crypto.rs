//! WeChat secure-mode message encryption (消息加解密).
//!
//! An Official Account configured for "safe mode" (or "compatible mode")
//! no longer receives pushes as plain XML: the body is a small envelope
//! whose `<Encrypt>` element holds an AES-256-CBC ciphertext, signed by a
//! `msg_signature` query parameter, and replies must be wrapped the same
//! way. This module is that layer and nothing else: it turns the 43-char
//! `EncodingAESKey` into a key, opens and seals the
//! `random(16) ‖ msg_len ‖ msg ‖ appid` frame, signs and verifies
//! `msg_signature`, and pulls `<Encrypt>` out of an incoming body. Every
//! failure maps to one of WeChat's official error codes (see
//! [`CryptoError::code`]) so callers can log and compare them with the
//! official SDKs. The cipher itself comes from the RustCrypto `aes` and
//! `cbc` crates; nothing here is hand-rolled cryptography.
//!
//! The scheme has no MAC: the ciphertext is only authenticated by
//! `msg_signature`. Always call [`verify_msg_signature`] before
//! [`decrypt`] on untrusted input.

use std::fmt;
use std::str::FromStr;

use aes::cipher::block_padding::NoPadding;
use aes::cipher::generic_array::GenericArray;
use aes::cipher::{BlockDecryptMut, BlockEncryptMut, InnerIvInit, KeyInit};
use base64::alphabet;
use base64::engine::general_purpose::STANDARD;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use base64::Engine;
use rand::RngCore;

use crate::fields::{Fields, Value};
use crate::signature;
use crate::xml;

type Aes256CbcEnc = cbc::Encryptor<aes::Aes256Enc>;
type Aes256CbcDec = cbc::Decryptor<aes::Aes256Dec>;

/// Standard alphabet, but forgiving: WeChat's own key generator produces
/// keys whose last character carries non-zero trailing bits, and some
/// senders omit padding.
const LENIENT: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_decode_allow_trailing_bits(true)
        .with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Length of an `EncodingAESKey`, in characters.
const ENCODING_AES_KEY_LEN: usize = 43;
/// AES block size.
const AES_BLOCK: usize = 16;
/// WeChat pads to 32-byte blocks (PKCS#7 with k = 32), not to the AES block.
const PAD_BLOCK: usize = 32;
/// `random(16) ‖ msg_len(4)`.
const HEADER_LEN: usize = 20;
/// Longest slice of a mismatched appid kept in an error (so a garbled
/// frame cannot smuggle decrypted plaintext into logs).
const FOUND_APPID_MAX_CHARS: usize = 32;

/// The 32-byte AES key derived from an `EncodingAESKey`.
///
/// The IV is the first 16 bytes of the key, as the protocol requires.
/// `Debug` never prints the key material.
///
/// ```
/// use wechat_events::crypto::AesKey;
///
/// let key: AesKey = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG".parse()?;
/// assert_eq!(key.as_bytes().len(), 32);
/// assert_eq!(format!("{key:?}"), "AesKey(..)");
/// # Ok::<(), wechat_events::crypto::CryptoError>(())
/// ```
#[derive(Clone)]
pub struct AesKey {
    bytes: [u8; 32],
    /// The AES key schedules, expanded once rather than per message.
    encrypt: aes::Aes256Enc,
    decrypt: aes::Aes256Dec,
}

impl AesKey {
    /// Decodes the 43-character `EncodingAESKey` from the WeChat console:
    /// `base64_decode(key + "=")`, tolerating non-zero trailing bits.
    ///
    /// Anything that is not exactly 43 base64 characters is
    /// [`CryptoError::IllegalAesKey`] (-40004).
    ///
    /// ```
    /// use wechat_events::crypto::AesKey;
    ///
    /// let key = AesKey::from_encoding_aes_key("abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG")?;
    /// assert_eq!(&key.as_bytes()[..3], &[0x69, 0xb7, 0x1d]);
    /// assert_eq!(AesKey::from_encoding_aes_key("too short").unwrap_err().code(), -40004);
    /// # Ok::<(), wechat_events::crypto::CryptoError>(())
    /// ```
    pub fn from_encoding_aes_key(encoding_aes_key: &str) -> Result<AesKey, CryptoError> {
        let chars = encoding_aes_key.chars().count();
        if chars != ENCODING_AES_KEY_LEN || encoding_aes_key.len() != ENCODING_AES_KEY_LEN {
            return Err(CryptoError::IllegalAesKey(format!(
                "EncodingAESKey must be {ENCODING_AES_KEY_LEN} characters, got {chars}"
            )));
        }
        let mut padded = String::with_capacity(ENCODING_AES_KEY_LEN + 1);
        padded.push_str(encoding_aes_key);
        padded.push('=');
        // Deliberately not echoing the decoder error: it quotes the
        // offending byte, and this is a secret.
        let decoded = LENIENT.decode(padded.as_bytes()).map_err(|_| {
            CryptoError::IllegalAesKey("EncodingAESKey is not valid base64".to_owned())
        })?;
        let bytes = <[u8; 32]>::try_from(decoded.as_slice()).map_err(|_| {
            CryptoError::IllegalAesKey(format!(
                "EncodingAESKey decodes to {} bytes, expected 32",
                decoded.len()
            ))
        })?;
        Ok(AesKey {
            encrypt: aes::Aes256Enc::new(&bytes.into()),
            decrypt: aes::Aes256Dec::new(&bytes.into()),
            bytes,
        })
    }

    /// The raw 32 key bytes (the CBC IV is the first 16 of them).
    ///
    /// ```
    /// use wechat_events::crypto::AesKey;
    ///
    /// let key: AesKey = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG".parse()?;
    /// let iv = &key.as_bytes()[..16];
    /// assert_eq!(iv.len(), 16);
    /// # Ok::<(), wechat_events::crypto::CryptoError>(())
    /// ```
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.bytes
    }

    fn iv(&self) -> [u8; AES_BLOCK] {
        let mut iv = [0u8; AES_BLOCK];
        iv.copy_from_slice(&self.bytes[..AES_BLOCK]);
        iv
    }
}

impl fmt::Debug for AesKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AesKey(..)")
    }
}

impl FromStr for AesKey {
    type Err = CryptoError;

    /// Same as [`AesKey::from_encoding_aes_key`].
    ///
    /// ```
    /// use wechat_events::crypto::AesKey;
    ///
    /// assert!("abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG".parse::<AesKey>().is_ok());
    /// assert!("abc".parse::<AesKey>().is_err());
    /// ```
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        AesKey::from_encoding_aes_key(s)
    }
}

/// Why a secure-mode message could not be verified, parsed or decrypted.
///
/// Each variant corresponds to one of WeChat's official error codes,
/// available through [`CryptoError::code`].
///
/// ```
/// use wechat_events::crypto::{decrypt, AesKey, CryptoError};
///
/// let key: AesKey = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG".parse()?;
/// let err = decrypt(&key, "not base64!", None).unwrap_err();
/// assert!(matches!(err, CryptoError::Base64(_)));
/// assert_eq!(err.code(), -40010);
/// # Ok::<(), CryptoError>(())
/// ```
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CryptoError {
    /// `msg_signature` does not match (-40001).
    #[error("msg_signature mismatch")]
    InvalidSignature,
    /// The secure-mode envelope is not acceptable XML (-40002).
    #[error("cannot parse secure-mode XML: {0}")]
    ParseXml(String),
    /// The `EncodingAESKey` is not 43 base64 characters (-40004).
    #[error("illegal EncodingAESKey: {0}")]
    IllegalAesKey(String),
    /// The frame's appid is not the expected one (-40005). `found` is
    /// truncated to 32 characters.
    #[error("appid mismatch: expected {expected:?}, found {found:?}")]
    AppIdMismatch {
        /// The appid the caller expected.
        expected: String,
        /// The appid found in the frame (lossy UTF-8, truncated).
        found: String,
    },
    /// Bad ciphertext length, or the padding did not check out (-40007).
    #[error("decryption failed: {0}")]
    Decrypt(String),
    /// The decrypted frame is malformed: short, bad length, not UTF-8 (-40008).
    #[error("illegal buffer: {0}")]
    IllegalBuffer(String),
    /// The `<Encrypt>` text is not base64 (-40010).
    #[error("base64 decode failed: {0}")]
    Base64(String),
}

impl CryptoError {
    /// WeChat's official numeric error code for this error.
    ///
    /// ```
    /// use wechat_events::crypto::CryptoError;
    ///
    /// assert_eq!(CryptoError::InvalidSignature.code(), -40001);
    /// assert_eq!(CryptoError::Decrypt("bad padding".into()).code(), -40007);
    /// ```
    pub fn code(&self) -> i32 {
        match self {
            CryptoError::InvalidSignature => -40001,
            CryptoError::ParseXml(_) => -40002,
            CryptoError::IllegalAesKey(_) => -40004,
            CryptoError::AppIdMismatch { .. } => -40005,
            CryptoError::Decrypt(_) => -40007,
            CryptoError::IllegalBuffer(_) => -40008,
            CryptoError::Base64(_) => -40010,
        }
    }
}

/// A successfully decrypted frame.
///
/// ```
/// use wechat_events::crypto::{decrypt, encrypt, AesKey};
///
/// let key: AesKey = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG".parse()?;
/// let d = decrypt(&key, &encrypt(&key, "wx123", "<xml/>"), None)?;
/// assert_eq!((d.message.as_str(), d.appid.as_str()), ("<xml/>", "wx123"));
/// # Ok::<(), wechat_events::crypto::CryptoError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Decrypted {
    /// The decrypted message (the plaintext push XML).
    pub message: String,
    /// The appid found at the end of the frame.
    pub appid: String,
}

/// Decrypts `encrypt` (the base64 `<Encrypt>` text). If `expected_appid`
/// is `Some`, the frame's appid must equal it.
///
/// Returns the decrypted message and the appid found in the frame. This
/// does not authenticate anything: check [`verify_msg_signature`] first.
///
/// ```
/// use wechat_events::crypto::{decrypt, AesKey};
///
/// let key: AesKey = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG".parse()?;
/// let d = decrypt(
///     &key,
///     "jn1L23DB+6ELqJ+6bruv21Y6MD7KeIfP82D6gU39rmkgczbWwt5+3bnyg5K55bgVtVzd832WzZGMhkP72vVOfg==",
///     Some("wxb11529c136998cb6"),
/// )?;
/// assert_eq!(d.message, "我是中文abcd123");
/// assert_eq!(decrypt(&key, "AAAA", None).unwrap_err().code(), -40007);
/// # Ok::<(), wechat_events::crypto::CryptoError>(())
/// ```
pub fn decrypt(
    key: &AesKey,
    encrypt: &str,
    expected_appid: Option<&str>,
) -> Result<Decrypted, CryptoError> {
    let frame = open(key, encrypt)?;
    parse_frame(&frame, expected_appid)
}

/// Encrypts `message` for `appid` with 16 fresh random bytes from the
/// thread-local CSPRNG, returning the base64 `<Encrypt>` text.
///
/// # Panics
///
/// If `message` is longer than `u32::MAX` bytes (the frame's length field
/// cannot describe it).
///
/// ```
/// use wechat_events::crypto::{decrypt, encrypt, AesKey};
///
/// let key: AesKey = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG".parse()?;
/// let a = encrypt(&key, "wx123", "hello");
/// assert_ne!(a, encrypt(&key, "wx123", "hello")); // fresh randomness each time
/// assert_eq!(decrypt(&key, &a, Some("wx123"))?.message, "hello");
/// # Ok::<(), wechat_events::crypto::CryptoError>(())
/// ```
pub fn encrypt(key: &AesKey, appid: &str, message: &str) -> String {
    let mut random = [0u8; 16];
    rand::thread_rng().fill_bytes(&mut random);
    encrypt_with_random(key, appid, &random, message)
}

/// Deterministic variant of [`encrypt`] for tests and vectors: the caller
/// supplies the 16 "random" bytes. Never reuse it for real replies.
///
/// # Panics
///
/// If `message` is longer than `u32::MAX` bytes.
///
/// ```
/// use wechat_events::crypto::{encrypt_with_random, AesKey};
///
/// let key: AesKey = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG".parse()?;
/// assert_eq!(
///     encrypt_with_random(&key, "wxb11529c136998cb6", b"aaaabbbbccccdddd", "我是中文abcd123"),
///     "jn1L23DB+6ELqJ+6bruv21Y6MD7KeIfP82D6gU39rmkgczbWwt5+3bnyg5K55bgVtVzd832WzZGMhkP72vVOfg=="
/// );
/// # Ok::<(), wechat_events::crypto::CryptoError>(())
/// ```
pub fn encrypt_with_random(key: &AesKey, appid: &str, random: &[u8; 16], message: &str) -> String {
    let msg_len =
        u32::try_from(message.len()).expect("message longer than u32::MAX bytes cannot be framed");
    let frame_len = HEADER_LEN + message.len() + appid.len();
    let pad = PAD_BLOCK - frame_len % PAD_BLOCK; // 1..=32
    let mut buf = Vec::with_capacity(frame_len + pad);
    buf.extend_from_slice(random);
    buf.extend_from_slice(&msg_len.to_be_bytes());
    buf.extend_from_slice(message.as_bytes());
    buf.extend_from_slice(appid.as_bytes());
    // `pad` is at most 32, so the cast is lossless.
    buf.resize(frame_len + pad, pad as u8);
    cbc_encrypt_in_place(key, &mut buf);
    STANDARD.encode(&buf)
}

/// Computes `msg_signature`: the sorted-SHA-1 signature over
/// `[token, timestamp, nonce, encrypt]`.
///
/// ```
/// use wechat_events::crypto::msg_signature;
///
/// let sig = msg_signature("token", "1409735669", "1320562132", "c2VjcmV0");
/// assert_eq!(sig.len(), 40);
/// ```
pub fn msg_signature(token: &str, timestamp: &str, nonce: &str, encrypt: &str) -> String {
    signature::sign(&[token, timestamp, nonce, encrypt])
}

/// Checks a `msg_signature` in constant time; a mismatch is
/// [`CryptoError::InvalidSignature`] (-40001).
///
/// ```
/// use wechat_events::crypto::{msg_signature, verify_msg_signature};
///
/// let sig = msg_signature("token", "1", "n", "ZW5j");
/// assert!(verify_msg_signature("token", "1", "n", "ZW5j", &sig).is_ok());
/// assert_eq!(
///     verify_msg_signature("token", "2", "n", "ZW5j", &sig).unwrap_err().code(),
///     -40001
/// );
/// ```
pub fn verify_msg_signature(
    token: &str,
    timestamp: &str,
    nonce: &str,
    encrypt: &str,
    given: &str,
) -> Result<(), CryptoError> {
    if signature::verify(given, &[token, timestamp, nonce, encrypt]) {
        Ok(())
    } else {
        Err(CryptoError::InvalidSignature)
    }
}

/// Room for [`encrypt_reply`]'s tags, above the 133 bytes they take.
const ENVELOPE_TAGS: usize = 160;

/// Builds the encrypted reply envelope for a plaintext reply, with fresh
/// randomness and the given timestamp and nonce:
///
/// `<xml><Encrypt>…</Encrypt><MsgSignature>…</MsgSignature><TimeStamp>…</TimeStamp><Nonce>…</Nonce></xml>`
///
/// `MsgSignature` covers `(token, TimeStamp, Nonce, Encrypt)`. The
/// timestamp and nonce are escaped so that hostile values (they usually
/// come from the request's query string) cannot break the XML.
///
/// ```
/// use wechat_events::crypto::{decrypt, encrypt_reply, extract_encrypt, AesKey};
///
/// let key: AesKey = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG".parse()?;
/// let body = encrypt_reply("token", &key, "wx123", "<xml>hi</xml>", "1409735669", "42");
/// assert!(body.starts_with("<xml><Encrypt><![CDATA["));
/// let enc = extract_encrypt(&body)?;
/// assert_eq!(decrypt(&key, &enc, Some("wx123"))?.message, "<xml>hi</xml>");
/// # Ok::<(), wechat_events::crypto::CryptoError>(())
/// ```
pub fn encrypt_reply(
    token: &str,
    key: &AesKey,
    appid: &str,
    reply_xml: &str,
    timestamp: &str,
    nonce: &str,
) -> String {
    let encrypted = encrypt(key, appid, reply_xml);
    let signature = msg_signature(token, timestamp, nonce, &encrypted);
    // `encrypted` is base64 and `signature` is hex: neither can contain "]]>".
    // Sized for the whole envelope (its tags take 133 bytes): growing a
    // buffer of this size costs glibc far more than a fresh allocation.
    let mut out = String::with_capacity(
        ENVELOPE_TAGS + encrypted.len() + signature.len() + timestamp.len() + nonce.len(),
    );
    out.push_str("<xml>");
    xml::ascii_cdata_element(&mut out, "Encrypt", &encrypted);
    xml::ascii_cdata_element(&mut out, "MsgSignature", &signature);
    xml::text_element(&mut out, "TimeStamp", timestamp);
    xml::cdata_element(&mut out, "Nonce", nonce);
    out.push_str("</xml>");
    out
}

/// The interesting parts of an incoming secure-mode body.
///
/// ```
/// use wechat_events::crypto::extract_envelope;
///
/// let env = extract_envelope(
///     "<xml><ToUserName><![CDATA[gh_1]]></ToUserName><Encrypt><![CDATA[QUJD]]></Encrypt></xml>",
/// )?;
/// assert_eq!(env.encrypt, "QUJD");
/// assert_eq!(env.to_user_name.as_deref(), Some("gh_1"));
/// # Ok::<(), wechat_events::crypto::CryptoError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Envelope {
    /// The `<Encrypt>` text, surrounding whitespace trimmed.
    pub encrypt: String,
    /// The `<ToUserName>` text, when present.
    pub to_user_name: Option<String>,
}

/// Extracts the `<Encrypt>` text from an incoming secure-mode body.
///
/// Only direct children of the root element count. CDATA and plain
/// (entity-escaped) text are both accepted; a DOCTYPE, a missing or empty
/// `<Encrypt>`, a duplicated field or malformed XML is
/// [`CryptoError::ParseXml`] (-40002). See [`extract_envelope`] for
/// `<ToUserName>` as well.
///
/// ```
/// use wechat_events::crypto::extract_encrypt;
///
/// assert_eq!(extract_encrypt("<xml><Encrypt><![CDATA[QUJD]]></Encrypt></xml>")?, "QUJD");
/// assert_eq!(extract_encrypt("<xml><Encrypt>QUJD</Encrypt></xml>")?, "QUJD");
/// assert_eq!(extract_encrypt("<xml></xml>").unwrap_err().code(), -40002);
/// # Ok::<(), wechat_events::crypto::CryptoError>(())
/// ```
pub fn extract_encrypt(body: &str) -> Result<String, CryptoError> {
    extract_envelope(body).map(|envelope| envelope.encrypt)
}

/// Like [`extract_encrypt`], also returning `<ToUserName>` when present
/// (WeChat includes it so a multi-account server can pick the key before
/// decrypting).
///
/// ```
/// use wechat_events::crypto::extract_envelope;
///
/// let env = extract_envelope("<xml><Encrypt>QUJD</Encrypt></xml>")?;
/// assert_eq!(env.to_user_name, None);
/// assert!(extract_envelope("<!DOCTYPE x><xml><Encrypt>QUJD</Encrypt></xml>").is_err());
/// # Ok::<(), wechat_events::crypto::CryptoError>(())
/// ```
pub fn extract_envelope(body: &str) -> Result<Envelope, CryptoError> {
    // The push parser's XML rules apply (no DTD, predefined entities only,
    // bounded depth and size); only the two envelope fields are read.
    let mut fields = xml::parse_fields(body).map_err(|e| parse_err(e.to_string()))?;
    let to_user_name = envelope_field(&mut fields, "ToUserName")?;
    match envelope_field(&mut fields, "Encrypt")? {
        Some(encrypt) if !encrypt.is_empty() => Ok(Envelope {
            encrypt,
            to_user_name,
        }),
        Some(_) => Err(parse_err("<Encrypt> is empty")),
        None => Err(parse_err("missing <Encrypt>")),
    }
}

/// The one `<name>` leaf of an envelope, trimmed, taken out of `fields`
/// (the `<Encrypt>` text is most of the body: it is moved, not copied).
fn envelope_field(fields: &mut Fields, name: &str) -> Result<Option<String>, CryptoError> {
    if fields.all(name).nth(1).is_some() {
        return Err(parse_err(format!("duplicate <{name}>")));
    }
    let Some(value) = fields.take(name) else {
        return Ok(None);
    };
    let Value::Text(text) = value else {
        return Err(parse_err(format!("unexpected element inside <{name}>")));
    };
    let trimmed = text.trim();
    Ok(Some(if trimmed.len() == text.len() {
        text
    } else {
        trimmed.to_owned()
    }))
}

fn parse_err(msg: impl Into<String>) -> CryptoError {
    CryptoError::ParseXml(msg.into())
}

/// Base64-decodes and decrypts `encrypt`, checks and strips the padding,
/// and returns the bare frame.
fn open(key: &AesKey, encrypt: &str) -> Result<Vec<u8>, CryptoError> {
    let mut buf = LENIENT
        .decode(encrypt.as_bytes())
        .map_err(|e| CryptoError::Base64(e.to_string()))?;
    if buf.is_empty() || buf.len() % AES_BLOCK != 0 {
        return Err(CryptoError::Decrypt(format!(
            "ciphertext length {} is not a positive multiple of {AES_BLOCK}",
            buf.len()
        )));
    }
    cbc_decrypt_in_place(key, &mut buf)?;
    let unpadded = unpad(&buf)?;
    buf.truncate(unpadded);
    Ok(buf)
}

/// Validates the PKCS#7 (k = 32) padding and returns the unpadded length.
fn unpad(buf: &[u8]) -> Result<usize, CryptoError> {
    let bad = || CryptoError::Decrypt("invalid padding".to_owned());
    let pad = usize::from(*buf.last().ok_or_else(bad)?);
    if pad == 0 || pad > PAD_BLOCK || pad > buf.len() {
        return Err(bad());
    }
    let body = buf.len() - pad;
    if buf[body..].iter().any(|&b| usize::from(b) != pad) {
        return Err(bad());
    }
    Ok(body)
}

/// Splits `random(16) ‖ msg_len ‖ msg ‖ appid` and checks it.
fn parse_frame(frame: &[u8], expected_appid: Option<&str>) -> Result<Decrypted, CryptoError> {
    if frame.len() < HEADER_LEN {
        return Err(CryptoError::IllegalBuffer(format!(
            "frame is {} bytes, shorter than the {HEADER_LEN}-byte header",
            frame.len()
        )));
    }
    let msg_len = u32::from_be_bytes([frame[16], frame[17], frame[18], frame[19]]);
    let msg_end = usize::try_from(msg_len)
        .ok()
        .and_then(|len| HEADER_LEN.checked_add(len))
        .filter(|&end| end <= frame.len())
        .ok_or_else(|| {
            CryptoError::IllegalBuffer(format!(
                "message length {msg_len} exceeds the {}-byte frame",
                frame.len()
            ))
        })?;
    let (message, appid) = (&frame[HEADER_LEN..msg_end], &frame[msg_end..]);
    if let Some(expected) = expected_appid {
        if appid != expected.as_bytes() {
            return Err(CryptoError::AppIdMismatch {
                expected: expected.to_owned(),
                found: summarize(appid),
            });
        }
    }
    let message = std::str::from_utf8(message)
        .map_err(|_| CryptoError::IllegalBuffer("message is not valid UTF-8".to_owned()))?;
    let appid = std::str::from_utf8(appid)
        .map_err(|_| CryptoError::IllegalBuffer("appid is not valid UTF-8".to_owned()))?;
    Ok(Decrypted {
        message: message.to_owned(),
        appid: appid.to_owned(),
    })
}

/// Lossy, length-capped rendering of an untrusted appid for error messages.
fn summarize(appid: &[u8]) -> String {
    let lossy = String::from_utf8_lossy(appid);
    let mut chars = lossy.chars();
    let mut out: String = chars.by_ref().take(FOUND_APPID_MAX_CHARS).collect();
    if chars.next().is_some() {
        out.push('…');
    }
    out
}

/// AES-256-CBC over whole blocks, IV = key[..16]. `buf.len()` must be a
/// multiple of 16 (callers guarantee it).
fn cbc_encrypt_in_place(key: &AesKey, buf: &mut [u8]) {
    debug_assert_eq!(buf.len() % AES_BLOCK, 0);
    let iv = key.iv();
    // CBC encryption is serial: block by block.
    let mut cipher = Aes256CbcEnc::inner_iv_init(key.encrypt.clone(), (&iv).into());
    for block in buf.chunks_exact_mut(AES_BLOCK) {
        cipher.encrypt_block_mut(GenericArray::from_mut_slice(block));
    }
}

/// Inverse of [`cbc_encrypt_in_place`]: the whole buffer at once, so the
/// cipher decrypts several blocks in parallel (CBC decryption can).
fn cbc_decrypt_in_place(key: &AesKey, buf: &mut [u8]) -> Result<(), CryptoError> {
    let iv = key.iv();
    Aes256CbcDec::inner_iv_init(key.decrypt.clone(), (&iv).into())
        .decrypt_padded_mut::<NoPadding>(buf)
        .map(|_| ())
        .map_err(|_| CryptoError::Decrypt("ciphertext is not whole blocks".to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[derive(serde::Deserialize)]
    struct Vectors {
        decrypt: Vec<DecryptVector>,
        encrypt_fixed_random: Vec<EncryptVector>,
    }

    #[derive(serde::Deserialize)]
    struct DecryptVector {
        token: String,
        aes: String,
        appid: String,
        timestamp: String,
        nonce: String,
        msg_signature: String,
        encrypt: String,
        plain_contains: String,
        plaintext: String,
    }

    #[derive(serde::Deserialize)]
    struct EncryptVector {
        aes: String,
        appid: String,
        random: String,
        msg: String,
        encrypt: String,
    }

    const OFFICIAL_KEY: &str = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG";
    const APPID: &str = "wx1234567890abcdef"; // 18 bytes, like real appids

    fn vectors() -> Vectors {
        serde_json::from_str(include_str!("../tests/fixtures/public.json")).expect("vectors parse")
    }

    fn key() -> AesKey {
        AesKey::from_encoding_aes_key(OFFICIAL_KEY).expect("official key")
    }

    fn random16(s: &str) -> [u8; 16] {
        <[u8; 16]>::try_from(s.as_bytes()).expect("16-byte random")
    }

    /// Encrypts an arbitrary (possibly malformed) padded buffer.
    fn raw_encrypt(key: &AesKey, mut buf: Vec<u8>) -> String {
        assert_eq!(buf.len() % AES_BLOCK, 0);
        cbc_encrypt_in_place(key, &mut buf);
        STANDARD.encode(buf)
    }

    /// Decrypts without touching the padding.
    fn raw_decrypt(key: &AesKey, encrypt: &str) -> Vec<u8> {
        let mut buf = STANDARD.decode(encrypt).expect("base64");
        cbc_decrypt_in_place(key, &mut buf).expect("whole blocks");
        buf
    }

    fn frame(msg: &[u8], msg_len: u32, appid: &[u8]) -> Vec<u8> {
        let mut f = b"0123456789abcdef".to_vec();
        f.extend_from_slice(&msg_len.to_be_bytes());
        f.extend_from_slice(msg);
        f.extend_from_slice(appid);
        f
    }

    fn pkcs7_32(mut f: Vec<u8>) -> Vec<u8> {
        let pad = PAD_BLOCK - f.len() % PAD_BLOCK;
        f.resize(f.len() + pad, pad as u8);
        f
    }

    fn tag<'a>(xml: &'a str, name: &str) -> &'a str {
        let open = format!("<{name}>");
        let close = format!("</{name}>");
        let start = xml.find(&open).expect("open tag") + open.len();
        let end = xml[start..].find(&close).expect("close tag") + start;
        &xml[start..end]
    }

    // ---- public vectors -------------------------------------------------

    #[test]
    fn m1_decrypts_with_appid_check_and_signature_verifies() {
        for v in vectors().decrypt {
            let key = AesKey::from_encoding_aes_key(&v.aes).expect("vector key");
            verify_msg_signature(
                &v.token,
                &v.timestamp,
                &v.nonce,
                &v.encrypt,
                &v.msg_signature,
            )
            .expect("vector msg_signature");
            assert_eq!(
                msg_signature(&v.token, &v.timestamp, &v.nonce, &v.encrypt),
                v.msg_signature
            );
            let d = decrypt(&key, &v.encrypt, Some(&v.appid)).expect("vector decrypts");
            assert_eq!(d.message, v.plaintext);
            assert!(d.message.contains(&v.plain_contains));
            assert_eq!(d.appid, v.appid);
            // Without the check the appid is still reported.
            assert_eq!(decrypt(&key, &v.encrypt, None).expect("no check"), d);
        }
    }

    #[test]
    fn m1_reencrypts_bit_for_bit_with_its_own_random() {
        // Recover M1's random prefix and re-seal: proves our framing and
        // 32-byte padding match the official implementation exactly.
        for v in vectors().decrypt {
            let key = AesKey::from_encoding_aes_key(&v.aes).expect("vector key");
            let raw = raw_decrypt(&key, &v.encrypt);
            let random = <[u8; 16]>::try_from(&raw[..16]).expect("16 bytes");
            assert_eq!(
                encrypt_with_random(&key, &v.appid, &random, &v.plaintext),
                v.encrypt
            );
        }
    }

    #[test]
    fn e1_encrypt_with_fixed_random_reproduces_vector() {
        for v in vectors().encrypt_fixed_random {
            let key = AesKey::from_encoding_aes_key(&v.aes).expect("vector key");
            let got = encrypt_with_random(&key, &v.appid, &random16(&v.random), &v.msg);
            assert_eq!(got, v.encrypt);
            let d = decrypt(&key, &got, Some(&v.appid)).expect("round trip");
            assert_eq!(d.message, v.msg);
            // msg_len counts bytes, not chars: "我是中文abcd123" is 19 bytes.
            let raw = raw_decrypt(&key, &got);
            assert_eq!(
                u32::from_be_bytes([raw[16], raw[17], raw[18], raw[19]]) as usize,
                v.msg.len()
            );
        }
    }

    // ---- keys -----------------------------------------------------------

    #[test]
    fn official_key_has_nonzero_trailing_bits_and_still_decodes() {
        // 'G' is index 6 = 0b000110: its low two bits spill past byte 32.
        let strict = STANDARD.decode(format!("{OFFICIAL_KEY}="));
        assert!(strict.is_err(), "a strict decoder must reject this key");
        let key = key();
        assert_eq!(key.as_bytes().len(), 32);
        assert_eq!(&key.as_bytes()[..3], &[0x69, 0xb7, 0x1d]); // "abcd"
                                                               // Trailing bits are dropped, not folded into the key.
        let canonical = OFFICIAL_KEY.replace('G', "E"); // 'E' = 0b000100
        let canonical_key = AesKey::from_encoding_aes_key(&canonical).expect("canonical");
        assert!(STANDARD.decode(format!("{canonical}=")).is_ok());
        assert_eq!(key.as_bytes(), canonical_key.as_bytes());
    }

    #[test]
    fn key_parses_via_from_str_and_clones() {
        let key: AesKey = OFFICIAL_KEY.parse().expect("FromStr");
        assert_eq!(key.clone().as_bytes(), self::key().as_bytes());
    }

    #[test]
    fn key_debug_hides_bytes() {
        let key = key();
        let dbg = format!("{key:?}");
        assert_eq!(dbg, "AesKey(..)");
        assert!(!dbg.contains("105")); // first key byte, 0x69
        assert!(!dbg.contains("69"));
    }

    #[test]
    fn bad_keys_are_illegal_aes_key() {
        let cases = [
            String::new(),
            OFFICIAL_KEY[..42].to_owned(),
            format!("{OFFICIAL_KEY}="),
            format!("{OFFICIAL_KEY}A"),
            format!("{}!", &OFFICIAL_KEY[..42]),
            format!("{}=", &OFFICIAL_KEY[..42]),
            format!("{}é", &OFFICIAL_KEY[..41]), // 43 bytes, 42 chars
            format!(" {}", &OFFICIAL_KEY[..42]),
            "-".repeat(43),
        ];
        for case in cases {
            let err = AesKey::from_encoding_aes_key(&case).expect_err(&case);
            assert!(
                matches!(err, CryptoError::IllegalAesKey(_)),
                "{case}: {err}"
            );
            assert_eq!(err.code(), -40004);
            assert!(!err.to_string().contains(&case) || case.is_empty());
        }
    }

    // ---- padding --------------------------------------------------------

    #[test]
    fn one_byte_padding() {
        // frame = 20 + 25 + 18 = 63 ≡ 31 (mod 32) → a single pad byte of 1.
        let msg = "a".repeat(25);
        let enc = encrypt_with_random(&key(), APPID, b"0123456789abcdef", &msg);
        let raw = raw_decrypt(&key(), &enc);
        assert_eq!(raw.len(), 64);
        assert_eq!(raw[63], 1);
        assert_ne!(raw[62], 1);
        assert_eq!(decrypt(&key(), &enc, Some(APPID)).expect("ok").message, msg);
    }

    #[test]
    fn full_block_padding() {
        // frame = 20 + 26 + 18 = 64 ≡ 0 (mod 32) → a whole block of 32s.
        let msg = "b".repeat(26);
        let enc = encrypt_with_random(&key(), APPID, b"0123456789abcdef", &msg);
        let raw = raw_decrypt(&key(), &enc);
        assert_eq!(raw.len(), 96);
        assert!(raw[64..].iter().all(|&b| b == 32));
        assert_eq!(decrypt(&key(), &enc, Some(APPID)).expect("ok").message, msg);
    }

    #[test]
    fn every_padding_length_round_trips() {
        for n in 0..=70 {
            let msg = "x".repeat(n);
            let enc = encrypt(&key(), APPID, &msg);
            let raw = raw_decrypt(&key(), &enc);
            assert_eq!(raw.len() % PAD_BLOCK, 0);
            let pad = PAD_BLOCK - (HEADER_LEN + n + APPID.len()) % PAD_BLOCK;
            assert_eq!(usize::from(raw[raw.len() - 1]), pad);
            assert_eq!(decrypt(&key(), &enc, Some(APPID)).expect("ok").message, msg);
        }
    }

    #[test]
    fn sixteen_byte_padding_from_other_senders_is_accepted() {
        // 20 + 2 + 18 = 40 bytes padded PKCS#7-16 style to 48 (pad = 8).
        let mut f = frame(b"hi", 2, APPID.as_bytes());
        f.resize(48, 8);
        let d = decrypt(&key(), &raw_encrypt(&key(), f), Some(APPID)).expect("ok");
        assert_eq!(d.message, "hi");
    }

    #[test]
    fn bad_padding_is_decrypt_error() {
        let base = frame(b"hello", 5, APPID.as_bytes()); // 43 bytes
        let mut zero = base.clone();
        zero.resize(64, 0); // pad byte 0
        let mut too_big = base.clone();
        too_big.resize(64, 33); // pad byte 33 > 32
        let mut inconsistent = base.clone();
        inconsistent.resize(64, 21);
        inconsistent[50] = 20; // one pad byte differs
        let mut longer_than_buffer = vec![0u8; 16];
        longer_than_buffer[15] = 32; // pad 32 in a 16-byte buffer
        for buf in [zero, too_big, inconsistent, longer_than_buffer] {
            let err = decrypt(&key(), &raw_encrypt(&key(), buf), None).expect_err("bad pad");
            assert!(matches!(err, CryptoError::Decrypt(_)), "{err}");
            assert_eq!(err.code(), -40007);
        }
    }

    // ---- frame ----------------------------------------------------------

    #[test]
    fn multibyte_utf8_messages_round_trip() {
        for msg in [
            "我是中文abcd123",
            "emoji 😀🎉 and 𝄞",
            "<xml><Content><![CDATA[你好，世界]]></Content></xml>",
            "é",
            "",
            "\u{0}\u{7f}\u{80}\u{7ff}\u{800}\u{ffff}\u{10000}\u{10ffff}",
        ] {
            let enc = encrypt(&key(), APPID, msg);
            let d = decrypt(&key(), &enc, Some(APPID)).expect("ok");
            assert_eq!(d.message, msg);
            assert_eq!(d.appid, APPID);
        }
    }

    #[test]
    fn msg_len_beyond_buffer_is_illegal_buffer() {
        for claimed in [24, 1000, u32::MAX] {
            let f = frame(b"hello", claimed, APPID.as_bytes());
            let err = decrypt(&key(), &raw_encrypt(&key(), pkcs7_32(f)), None).expect_err("len");
            assert!(matches!(err, CryptoError::IllegalBuffer(_)), "{err}");
            assert_eq!(err.code(), -40008);
        }
    }

    #[test]
    fn short_frame_is_illegal_buffer() {
        let f = pkcs7_32(b"0123456789abcdef\0\0".to_vec()); // 18 bytes < header
        let err = decrypt(&key(), &raw_encrypt(&key(), f), None).expect_err("short");
        assert_eq!(err.code(), -40008);
    }

    #[test]
    fn non_utf8_message_is_illegal_buffer() {
        let f = frame(b"\xff\xfe", 2, APPID.as_bytes());
        let enc = raw_encrypt(&key(), pkcs7_32(f));
        let err = decrypt(&key(), &enc, Some(APPID)).expect_err("utf8");
        assert_eq!(err.code(), -40008);
        let f = frame(b"ok", 2, b"wx\xff");
        let err = decrypt(&key(), &raw_encrypt(&key(), pkcs7_32(f)), None).expect_err("appid");
        assert_eq!(err.code(), -40008);
    }

    #[test]
    fn wrong_appid_is_appid_mismatch() {
        let v = &vectors().decrypt[0];
        let key = AesKey::from_encoding_aes_key(&v.aes).expect("key");
        let err = decrypt(&key, &v.encrypt, Some("wx0000000000000000")).expect_err("appid");
        assert_eq!(
            err,
            CryptoError::AppIdMismatch {
                expected: "wx0000000000000000".to_owned(),
                found: v.appid.clone(),
            }
        );
        assert_eq!(err.code(), -40005);
        // A prefix or extension of the real appid is not good enough.
        assert!(decrypt(&key, &v.encrypt, Some(&v.appid[..17])).is_err());
        assert!(decrypt(&key, &v.encrypt, Some(&format!("{}x", v.appid))).is_err());
        assert!(decrypt(&key, &v.encrypt, Some("")).is_err());
    }

    #[test]
    fn mismatched_appid_in_error_is_truncated() {
        // msg_len = 0 puts the whole message where the appid should be.
        let secret = "s".repeat(200);
        let f = frame(secret.as_bytes(), 0, b"");
        let enc = raw_encrypt(&key(), pkcs7_32(f));
        match decrypt(&key(), &enc, Some(APPID)) {
            Err(CryptoError::AppIdMismatch { found, .. }) => {
                assert_eq!(found.chars().count(), FOUND_APPID_MAX_CHARS + 1);
                assert!(found.ends_with('…'));
            }
            other => panic!("expected AppIdMismatch, got {other:?}"),
        }
    }

    // ---- tampering and malformed ciphertext ----------------------------

    #[test]
    fn tampered_ciphertext_never_yields_the_original_and_fails_signature() {
        let v = &vectors().decrypt[0];
        let key = AesKey::from_encoding_aes_key(&v.aes).expect("key");
        let original = decrypt(&key, &v.encrypt, Some(&v.appid)).expect("ok");
        let bytes = STANDARD.decode(&v.encrypt).expect("b64");
        let last_block = bytes.len() - AES_BLOCK;
        for i in 0..bytes.len() {
            for flip in [0x01u8, 0x80, 0xff] {
                let mut t = bytes.clone();
                t[i] ^= flip;
                let enc = STANDARD.encode(&t);
                let got = decrypt(&key, &enc, Some(&v.appid));
                assert_ne!(got.as_ref(), Ok(&original), "byte {i} ^ {flip:#x}");
                if i >= last_block {
                    // The padding block is garbled: never a success.
                    assert!(got.is_err(), "byte {i} ^ {flip:#x}: {got:?}");
                }
                if let Err(e) = &got {
                    assert!(matches!(e.code(), -40007 | -40008 | -40005), "{e}");
                }
                assert_eq!(
                    verify_msg_signature(&v.token, &v.timestamp, &v.nonce, &enc, &v.msg_signature),
                    Err(CryptoError::InvalidSignature)
                );
            }
        }
    }

    #[test]
    fn wrong_key_never_decrypts() {
        let v = &vectors().decrypt[0];
        let other = AesKey::from_encoding_aes_key("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopq")
            .expect("key");
        assert!(decrypt(&other, &v.encrypt, Some(&v.appid)).is_err());
        assert!(decrypt(&other, &v.encrypt, None).is_err());
    }

    #[test]
    fn truncated_ciphertext_is_an_error() {
        let v = &vectors().decrypt[0];
        let key = AesKey::from_encoding_aes_key(&v.aes).expect("key");
        let bytes = STANDARD.decode(&v.encrypt).expect("b64");
        // Not a multiple of 16 → -40007.
        for cut in [1, 5, 15, 17] {
            let enc = STANDARD.encode(&bytes[..bytes.len() - cut]);
            assert_eq!(decrypt(&key, &enc, None).expect_err("cut").code(), -40007);
        }
        // Whole blocks dropped: the new last block is not valid padding
        // (or, if it happens to be, the frame is then inconsistent).
        for blocks in 1..bytes.len() / AES_BLOCK {
            let enc = STANDARD.encode(&bytes[..bytes.len() - blocks * AES_BLOCK]);
            let err = decrypt(&key, &enc, Some(&v.appid)).expect_err("blocks");
            assert!(matches!(err.code(), -40007 | -40008 | -40005), "{err}");
        }
        // Cutting the base64 text itself.
        // (Cutting only the final '=' is fine: padding is optional.)
        for cut in 2..8 {
            let enc = &v.encrypt[..v.encrypt.len() - cut];
            assert!(decrypt(&key, enc, Some(&v.appid)).is_err());
        }
        assert_eq!(decrypt(&key, "", None).expect_err("empty").code(), -40007);
    }

    #[test]
    fn lenient_base64_in_ciphertext() {
        let v = &vectors().decrypt[0];
        let key = AesKey::from_encoding_aes_key(&v.aes).expect("key");
        let unpadded = v.encrypt.trim_end_matches('=');
        assert_ne!(unpadded, v.encrypt);
        assert_eq!(
            decrypt(&key, unpadded, Some(&v.appid)).expect("ok").message,
            v.plaintext
        );
    }

    #[test]
    fn bad_base64_is_base64_error() {
        for bad in [
            "not base64!",
            "abc$",
            "====",
            "QUJD\n",
            "a",
            "QU=JD",
            "QUJD QUJD",
        ] {
            let err = decrypt(&key(), bad, None).expect_err(bad);
            assert!(matches!(err, CryptoError::Base64(_)), "{bad}: {err}");
            assert_eq!(err.code(), -40010);
        }
    }

    // ---- signatures -----------------------------------------------------

    #[test]
    fn forged_msg_signature_is_rejected() {
        let v = &vectors().decrypt[0];
        let ok =
            |sig: &str| verify_msg_signature(&v.token, &v.timestamp, &v.nonce, &v.encrypt, sig);
        assert_eq!(ok(&v.msg_signature), Ok(()));
        assert_eq!(ok(&v.msg_signature.to_uppercase()), Ok(()));
        let mut forged = v.msg_signature.clone().into_bytes();
        forged[39] = if forged[39] == b'0' { b'1' } else { b'0' };
        let forged = String::from_utf8(forged).expect("ascii");
        for sig in [
            forged.as_str(),
            "",
            &v.msg_signature[..39],
            "not hex at all",
        ] {
            let err = ok(sig).expect_err(sig);
            assert_eq!(err, CryptoError::InvalidSignature);
            assert_eq!(err.code(), -40001);
        }
        // Each signed part matters.
        let s = &v.msg_signature;
        assert!(verify_msg_signature("x", &v.timestamp, &v.nonce, &v.encrypt, s).is_err());
        assert!(verify_msg_signature(&v.token, "1", &v.nonce, &v.encrypt, s).is_err());
        assert!(verify_msg_signature(&v.token, &v.timestamp, "1", &v.encrypt, s).is_err());
        assert!(verify_msg_signature(&v.token, &v.timestamp, &v.nonce, "QUJD", s).is_err());
        // The plaintext-mode signature (without Encrypt) is not a msg_signature.
        let plain = signature::sign(&[&v.token, &v.timestamp, &v.nonce]);
        assert!(
            verify_msg_signature(&v.token, &v.timestamp, &v.nonce, &v.encrypt, &plain).is_err()
        );
    }

    // ---- reply envelope -------------------------------------------------

    #[test]
    fn encrypt_reply_envelope_round_trips() {
        let reply =
            "<xml><ToUserName><![CDATA[o1]]></ToUserName><Content><![CDATA[你好]]></Content></xml>";
        let body = encrypt_reply("spamtest", &key(), APPID, reply, "1409735669", "1320562132");
        assert!(body.starts_with("<xml><Encrypt><![CDATA["));
        assert!(body.ends_with("<Nonce><![CDATA[1320562132]]></Nonce></xml>"));
        assert_eq!(tag(&body, "TimeStamp"), "1409735669");
        let enc = extract_encrypt(&body).expect("extract");
        assert_eq!(format!("<![CDATA[{enc}]]>"), tag(&body, "Encrypt"));
        let sig = tag(&body, "MsgSignature");
        let sig = &sig["<![CDATA[".len()..sig.len() - "]]>".len()];
        verify_msg_signature("spamtest", "1409735669", "1320562132", &enc, sig).expect("sig");
        let d = decrypt(&key(), &enc, Some(APPID)).expect("decrypt");
        assert_eq!(d.message, reply);
        // Fresh randomness per reply.
        let again = encrypt_reply("spamtest", &key(), APPID, reply, "1409735669", "1320562132");
        assert_ne!(extract_encrypt(&again).expect("extract"), enc);
    }

    #[test]
    fn encrypt_reply_escapes_hostile_timestamp_and_nonce() {
        let (ts, nonce) = ("1<2&3>", "a]]><Encrypt>evil</Encrypt><![CDATA[");
        let body = encrypt_reply("t", &key(), APPID, "<xml/>", ts, nonce);
        // Still exactly one Encrypt; the signature covers the raw values.
        let enc = extract_encrypt(&body).expect("extract");
        assert!(decrypt(&key(), &enc, Some(APPID)).is_ok());
        let fields = xml::parse_fields(&body).expect("well-formed");
        let got = |name: &str| fields.text(name).expect(name).to_owned();
        let (got_ts, got_nonce, got_sig) = (got("TimeStamp"), got("Nonce"), got("MsgSignature"));
        assert_eq!(got_ts, ts);
        assert_eq!(got_nonce, nonce);
        verify_msg_signature("t", &got_ts, &got_nonce, &enc, &got_sig).expect("sig");
    }

    // ---- extract_encrypt -----------------------------------------------

    #[test]
    fn extract_encrypt_accepts_cdata_and_text() {
        let cases = [
            ("<xml><Encrypt><![CDATA[QUJD]]></Encrypt></xml>", "QUJD"),
            ("<xml><Encrypt>QUJD</Encrypt></xml>", "QUJD"),
            (
                "<xml>\n  <Encrypt>\n  QUJD+/==\n  </Encrypt>\n</xml>",
                "QUJD+/==",
            ),
            ("<xml><Encrypt>QU&#74;D</Encrypt></xml>", "QUJD"),
            (
                "<xml><Encrypt><![CDATA[QU]]><![CDATA[JD]]></Encrypt></xml>",
                "QUJD",
            ),
            (
                "<?xml version=\"1.0\"?><!-- c --><xml><Other><Encrypt>no</Encrypt></Other>\
                 <Encrypt>QUJD</Encrypt><Ignored/></xml>",
                "QUJD",
            ),
        ];
        for (body, want) in cases {
            assert_eq!(extract_encrypt(body).as_deref(), Ok(want), "{body}");
        }
    }

    #[test]
    fn extract_envelope_reports_to_user_name() {
        let body = "<xml><ToUserName><![CDATA[gh_10f6c3c3ac5a]]></ToUserName>\
                    <Encrypt><![CDATA[QUJD]]></Encrypt></xml>";
        let env = extract_envelope(body).expect("ok");
        assert_eq!(env.to_user_name.as_deref(), Some("gh_10f6c3c3ac5a"));
        assert_eq!(env.encrypt, "QUJD");
    }

    #[test]
    fn extract_encrypt_rejects_bad_bodies() {
        let cases = [
            "<!DOCTYPE xml [<!ENTITY e \"QUJD\">]><xml><Encrypt>&e;</Encrypt></xml>",
            "<!DOCTYPE xml><xml><Encrypt>QUJD</Encrypt></xml>",
            "<xml><ToUserName>gh</ToUserName></xml>",
            "<xml></xml>",
            "<xml/>",
            "",
            "QUJD",
            "<xml><Encrypt></Encrypt></xml>",
            "<xml><Encrypt/></xml>",
            "<xml><Encrypt>  </Encrypt></xml>",
            "<xml><Encrypt>QUJD</Encrypt><Encrypt>RUZH</Encrypt></xml>",
            "<xml><Encrypt><b>QUJD</b></Encrypt></xml>",
            "<xml><Encrypt>QUJD</Encrypt>",
            "<xml><Encrypt>QUJD</xml>",
            "<xml><Encrypt>QUJD</Encrypt></xml><xml/>",
            "<xml><Encrypt>&nbsp;</Encrypt></xml>",
            "stray<xml><Encrypt>QUJD</Encrypt></xml>",
        ];
        for body in cases {
            let err = extract_encrypt(body).expect_err(body);
            assert!(matches!(err, CryptoError::ParseXml(_)), "{body}: {err}");
            assert_eq!(err.code(), -40002);
        }
    }

    #[test]
    fn error_codes_are_official() {
        let all = [
            (CryptoError::InvalidSignature, -40001),
            (CryptoError::ParseXml(String::new()), -40002),
            (CryptoError::IllegalAesKey(String::new()), -40004),
            (
                CryptoError::AppIdMismatch {
                    expected: String::new(),
                    found: String::new(),
                },
                -40005,
            ),
            (CryptoError::Decrypt(String::new()), -40007),
            (CryptoError::IllegalBuffer(String::new()), -40008),
            (CryptoError::Base64(String::new()), -40010),
        ];
        for (err, code) in all {
            assert_eq!(err.code(), code, "{err}");
        }
    }

    // ---- properties -----------------------------------------------------

    proptest! {
        #[test]
        fn prop_round_trip(message in any::<String>(), appid in "[a-zA-Z0-9]{0,32}") {
            let d = decrypt(&key(), &encrypt(&key(), &appid, &message), Some(&appid))
                .expect("round trip");
            prop_assert_eq!(d.message, message);
            prop_assert_eq!(d.appid, appid);
        }

        #[test]
        fn prop_round_trip_fixed_random(
            message in any::<String>(),
            appid in "[a-zA-Z0-9]{1,32}",
            random in any::<[u8; 16]>(),
        ) {
            let enc = encrypt_with_random(&key(), &appid, &random, &message);
            prop_assert_eq!(&enc, &encrypt_with_random(&key(), &appid, &random, &message));
            let d = decrypt(&key(), &enc, None).expect("round trip");
            prop_assert_eq!(d.message, message);
            prop_assert_eq!(d.appid, appid);
        }

        #[test]
        fn prop_decrypt_arbitrary_bytes_never_panics(
            bytes in proptest::collection::vec(any::<u8>(), 0..600),
            appid in proptest::option::of("[a-z0-9]{0,20}"),
        ) {
            let _ = decrypt(&key(), &STANDARD.encode(&bytes), appid.as_deref());
        }

        #[test]
        fn prop_decrypt_arbitrary_frames_never_panics(
            frame in proptest::collection::vec(any::<u8>(), 0..300),
            appid in proptest::option::of("[a-z0-9]{0,20}"),
        ) {
            // Correctly padded, so the frame parser is what gets exercised.
            let enc = raw_encrypt(&key(), pkcs7_32(frame));
            let _ = decrypt(&key(), &enc, appid.as_deref());
        }

        #[test]
        fn prop_decrypt_arbitrary_text_never_panics(text in any::<String>()) {
            let _ = decrypt(&key(), &text, None);
        }

        #[test]
        fn prop_extract_never_panics(body in any::<String>()) {
            let _ = extract_envelope(&body);
        }

        #[test]
        fn prop_key_parse_never_panics(s in any::<String>(), b64 in "[A-Za-z0-9+/]{43}") {
            let _ = AesKey::from_encoding_aes_key(&s);
            prop_assert!(AesKey::from_encoding_aes_key(&b64).is_ok());
        }
    }
}
