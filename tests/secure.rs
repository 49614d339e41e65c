//! Secure and compatible modes (消息加解密) end to end: the quickstart runs
//! with an EncodingAESKey and every push and reply crosses real HTTP.

mod common;

use awc::http::Method;
use common::*;
use wechat_events::crypto::{encrypt, encrypt_with_random, AesKey};
use wechat_events::signature::sign;

/// Another valid key (the rotation's "previous" key in these tests).
const OLD_KEY: &str = "kWxPEV2UEDyxWpmPdKC3F4dgPDmOvfKX1HGnEUDS1aR";

fn key(k: &str) -> AesKey {
    AesKey::from_encoding_aes_key(k).unwrap()
}

fn secure(extra: &[(&str, &str)]) -> Quickstart {
    let mut env = vec![("WECHAT_AES_KEY", AES_KEY), ("WECHAT_APPID", APPID)];
    env.extend_from_slice(extra);
    Quickstart::start(&env)
}

fn user() -> String {
    format!("o_sec_{}", unique())
}

#[actix_rt::test]
async fn encrypted_push_gets_an_encrypted_reply_that_verifies() {
    let qs = secure(&[]); // mode defaults to secure when a key is set
    let u = user();
    let (query, body) = encrypted_push(
        TOKEN,
        &u,
        &encrypt(&key(AES_KEY), APPID, &text_xml(&u, "你好 ]]>")),
    );
    let answer = post(&qs.url, &query, body).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert!(answer.body.starts_with("<xml><Encrypt>"), "{}", answer.body);
    let reply =
        open_reply(TOKEN, AES_KEY, APPID, &answer.body).expect("reply verifies and decrypts");
    let fields = wechat_events::push::parse_fields(&reply).unwrap();
    assert_eq!(fields.text("Content"), Some("收到:你好 ]]>"));
    assert_eq!(fields.text("ToUserName"), Some(u.as_str()));
    // The reply's MsgSignature is checked: under another token it fails.
    assert!(open_reply("othertoken", AES_KEY, APPID, &answer.body).is_err());
    // No reply is a plain `success`, never an encrypted envelope.
    let view = event_xml(&u, now(), "VIEW", "<EventKey>www.qq.com</EventKey>");
    let (query, body) = encrypted_push(TOKEN, &u, &encrypt(&key(AES_KEY), APPID, &view));
    assert!(post(&qs.url, &query, body).await.is_success());
}

#[actix_rt::test]
async fn secure_mode_refuses_plaintext_but_keeps_a_plaintext_handshake() {
    let qs = secure(&[]);
    let u = user();
    assert_eq!(
        push(&qs.url, TOKEN, &u, text_xml(&u, "hi")).await.status,
        400
    );
    let (ts, nonce) = (now().to_string(), "77".to_string());
    let sig = sign(&[TOKEN, &ts, &nonce]);
    let hs = request(
        Method::GET,
        &format!(
            "{}?signature={sig}&timestamp={ts}&nonce={nonce}&echostr=plain",
            qs.url
        ),
    )
    .await;
    assert_eq!((hs.status, hs.body.as_str()), (200, "plain"));
}

#[actix_rt::test]
async fn every_crypto_rejection_has_its_status() {
    let qs = secure(&[]);
    let u = user();
    let good = encrypt(&key(AES_KEY), APPID, &text_xml(&u, "x"));

    // Forged msg_signature: 403.
    let (query, body) = encrypted_push(TOKEN, &u, &good);
    let forged = with_param(&query, "msg_signature", &sign(&["forged"]));
    assert_eq!(post(&qs.url, &forged, body.clone()).await.status, 403);
    // The plaintext `signature` alone is not enough: a missing msg_signature is 400.
    let without = query.split("&msg_signature=").next().unwrap().to_owned();
    assert_eq!(post(&qs.url, &without, body).await.status, 400);

    // Encrypted for another AppID: 403.
    let other_app = encrypt(&key(AES_KEY), "wx_someone_else", &text_xml(&u, "x"));
    let (query, body) = encrypted_push(TOKEN, &u, &other_app);
    assert_eq!(post(&qs.url, &query, body).await.status, 403);

    // Bad base64, truncated ciphertext, garbage under our key: 400.
    let truncated = &good[..good.len() - 24];
    let wrong_key = encrypt_with_random(
        &key(OLD_KEY),
        APPID,
        b"0123456789abcdef",
        &text_xml(&u, "x"),
    );
    for encrypt in ["!!!not base64!!!", truncated, &wrong_key, "QUJD"] {
        let (query, body) = encrypted_push(TOKEN, &u, encrypt);
        let answer = post(&qs.url, &query, body).await;
        assert_eq!(answer.status, 400, "{encrypt}: {}", answer.body);
    }
    // An envelope without <Encrypt>: 400.
    let (query, _) = encrypted_push(TOKEN, &u, "QUJD");
    assert_eq!(
        post(&qs.url, &query, "<xml><ToUserName>gh</ToUserName></xml>")
            .await
            .status,
        400
    );

    // And the server still answers a good push.
    let (query, body) = encrypted_push(TOKEN, &u, &good);
    assert_eq!(post(&qs.url, &query, body).await.status, 200);
}

#[actix_rt::test]
async fn compatible_mode_answers_each_push_in_kind() {
    let qs = secure(&[("WECHAT_MODE", "compatible")]);
    let u = user();
    let plain = push(&qs.url, TOKEN, &u, text_xml(&u, "明文")).await;
    assert_eq!(plain.text(), "收到:明文");
    // Compatible bodies carry the plaintext fields beside <Encrypt>; the
    // encrypted copy is the one that counts (and decides the reply's form).
    let decoy = text_xml(&u, "decoy");
    let encrypted = encrypt(&key(AES_KEY), APPID, &text_xml(&u, "密文"));
    let (query, _) = encrypted_push(TOKEN, &u, &encrypted);
    let body = compatible_body(&decoy, &encrypted);
    let answer = post(&qs.url, &query, body).await;
    let reply = open_reply(TOKEN, AES_KEY, APPID, &answer.body).expect("encrypted reply");
    assert!(reply.contains("收到:密文"), "{reply}");
}

#[actix_rt::test]
async fn plain_mode_ignores_encryption_parameters() {
    let qs = Quickstart::start(&[
        ("WECHAT_MODE", "plain"),
        ("WECHAT_AES_KEY", AES_KEY),
        ("WECHAT_APPID", APPID),
    ]);
    let u = user();
    let inner = text_xml(&u, "plain please");
    let (query, _) = encrypted_push(TOKEN, &u, "QUJD");
    let answer = post(&qs.url, &query, inner).await;
    assert_eq!(answer.text(), "收到:plain please");
}

#[actix_rt::test]
async fn rotation_falls_back_to_the_previous_key_and_replies_with_it() {
    let qs = secure(&[("WECHAT_PREV_AES_KEY", OLD_KEY)]);
    let u = user();
    let (query, body) = encrypted_push(
        TOKEN,
        &u,
        &encrypt(&key(OLD_KEY), APPID, &text_xml(&u, "old")),
    );
    let answer = post(&qs.url, &query, body).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    let reply = open_reply(TOKEN, OLD_KEY, APPID, &answer.body).expect("reply under the old key");
    assert!(reply.contains("收到:old"), "{reply}");
    assert!(
        open_reply(TOKEN, AES_KEY, APPID, &answer.body).is_err(),
        "not under the new key"
    );
    // The current key still works, and its replies use it.
    let (query, body) = encrypted_push(
        TOKEN,
        &u,
        &encrypt(&key(AES_KEY), APPID, &text_xml(&u, "new")),
    );
    let reply = open_reply(
        TOKEN,
        AES_KEY,
        APPID,
        &post(&qs.url, &query, body).await.body,
    )
    .unwrap();
    assert!(reply.contains("收到:new"));
}
