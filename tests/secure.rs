//! Secure and compatible modes (消息加解密) end to end: the quickstart runs
//! with an EncodingAESKey and every push and reply crosses real HTTP.

mod common;

use actix_web::http::StatusCode;
use common::*;
use wechat_events::crypto::{encrypt, encrypt_with_random, AesKey};
use wechat_events::signature::sign;
use wechat_events::testing::{Answer, AnswerError, SimPush, Simulator};
use wechat_events::Reply;

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

/// The plaintext XML of a text push from `openid`, as the simulator writes it.
fn text_xml(openid: &str, content: &str) -> String {
    SimPush::text(content).to_xml("gh_test", openid, now(), unique())
}

#[actix_rt::test]
async fn encrypted_push_gets_an_encrypted_reply_that_verifies() {
    let qs = secure(&[]); // mode defaults to secure when a key is set
    let sim = secure_sim();
    let prepared = sim.prepare(&SimPush::text("你好 ]]>"));
    let answer = sim
        .deliver(qs.url.as_str(), &prepared)
        .await
        .expect("answered");
    assert_eq!(answer.status, 200, "{}", answer.body_text());
    assert!(
        answer.body_text().starts_with("<xml><Encrypt>"),
        "{answer:?}"
    );
    // The simulator verified the MsgSignature, decrypted, checked the AppID
    // and that To/From are swapped.
    let Ok(Answer::Replied(received)) = &answer.answer else {
        panic!("{answer:?}")
    };
    assert!(received.encrypted);
    assert_eq!(received.reply, Reply::text("收到:你好 ]]>"));
    assert_eq!(received.to_user, sim.user());
    // The reply's MsgSignature is checked: under another token it fails.
    let other = Simulator::new("othertoken")
        .openid(sim.user())
        .secure(AES_KEY, APPID)
        .expect("key");
    assert_eq!(
        other.decode(&prepared, answer.status, &answer.body),
        Err(AnswerError::Signature)
    );
    // No reply is a plain `success`, never an encrypted envelope.
    let view = send(&sim, &qs.url, SimPush::view("www.qq.com")).await;
    assert_eq!(view.body_text(), "success");
}

#[actix_rt::test]
async fn secure_mode_refuses_plaintext_but_keeps_a_plaintext_handshake() {
    let qs = secure(&[]);
    assert_eq!(send(&sim(), &qs.url, SimPush::text("hi")).await.status, 400);
    // The handshake is plaintext whatever the mode.
    let hs = secure_sim()
        .verify(qs.url.as_str())
        .await
        .expect("answered");
    assert!(matches!(hs.check(), Ok(Answer::Echo(_))), "{hs:?}");
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
    let other_app = sim().secure(AES_KEY, "wx_someone_else").expect("key");
    let answer = send(&other_app, &qs.url, SimPush::text("x")).await;
    assert_eq!(answer.status, 403, "{answer:?}");

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
    let plain = send(&sim(), &qs.url, SimPush::text("明文")).await;
    assert_eq!(plain.text(), Some("收到:明文"));
    assert!(!plain.body_text().contains("<Encrypt>"));
    // Compatible bodies carry the plaintext fields beside <Encrypt>.
    let compatible = secure_sim().compatible();
    let prepared = compatible.prepare(&SimPush::text("兼容"));
    assert!(prepared
        .body()
        .contains("<Content><![CDATA[兼容]]></Content>"));
    let answer = compatible
        .deliver(qs.url.as_str(), &prepared)
        .await
        .expect("answered");
    let Ok(Answer::Replied(received)) = &answer.answer else {
        panic!("{answer:?}")
    };
    assert!(
        received.encrypted,
        "an encrypted push gets an encrypted reply"
    );
    assert_eq!(received.reply, Reply::text("收到:兼容"));
    // The encrypted copy is the one that counts, whatever the plaintext says.
    let u = user();
    let decoy = text_xml(&u, "decoy");
    let encrypted = encrypt(&key(AES_KEY), APPID, &text_xml(&u, "密文"));
    let (query, _) = encrypted_push(TOKEN, &u, &encrypted);
    let body = compatible_body(&decoy, &encrypted);
    let answer = post(&qs.url, &query, body).await;
    // Read the answer as WeChat would for a push from `u`.
    let reader = Simulator::new(TOKEN)
        .openid(&u)
        .secure(AES_KEY, APPID)
        .expect("key");
    let from_u = reader.prepare(&SimPush::text("密文"));
    let reply = reader
        .decode(&from_u, StatusCode::OK, answer.body.as_bytes())
        .expect("encrypted reply");
    assert_eq!(reply.reply(), Some(&Reply::text("收到:密文")));
}

#[actix_rt::test]
async fn an_encrypted_push_s_url_cannot_carry_another_body() {
    // Compatible mode takes both kinds of push, so a captured URL could be
    // replayed with a plaintext body: the URL is bound to the encrypted
    // body, and the plaintext body is refused.
    let qs = secure(&[("WECHAT_MODE", "compatible")]);
    let u = user();
    let xml = text_xml(&u, "原文");
    let (query, body) = encrypted_push(TOKEN, &u, &encrypt(&key(AES_KEY), APPID, &xml));
    let first = post(&qs.url, &query, body.clone()).await;
    assert_eq!(first.status, 200, "{}", first.body);
    // WeChat's retry: the same body again is answered (the same reply,
    // encrypted afresh).
    let retry = post(&qs.url, &query, body).await;
    assert_eq!(retry.status, 200, "{}", retry.body);
    assert!(retry.body.contains("<Encrypt>"), "{}", retry.body);
    let plain_query = query.split("&encrypt_type=").next().unwrap();
    let forged = post(&qs.url, plain_query, text_xml(&u, "伪造")).await;
    assert_eq!(forged.status, 403, "{}", forged.body);
    assert!(forged.body.contains("another body"), "{}", forged.body);
}

#[actix_rt::test]
async fn plain_mode_ignores_encryption_parameters() {
    let qs = Quickstart::start(&[
        ("WECHAT_MODE", "plain"),
        ("WECHAT_AES_KEY", AES_KEY),
        ("WECHAT_APPID", APPID),
    ]);
    // An encrypted push's query, with a plaintext body.
    let prepared = secure_sim().prepare(&SimPush::text("plain please"));
    let answer = post(&qs.url, prepared.query(), prepared.xml().to_owned()).await;
    assert_eq!(answer.text(), "收到:plain please");
}

#[actix_rt::test]
async fn rotation_falls_back_to_the_previous_key_and_replies_with_it() {
    let qs = secure(&[("WECHAT_PREV_AES_KEY", OLD_KEY)]);
    let old = sim().secure(OLD_KEY, APPID).expect("key");
    let prepared = old.prepare(&SimPush::text("old"));
    let answer = old
        .deliver(qs.url.as_str(), &prepared)
        .await
        .expect("answered");
    assert_eq!(answer.status, 200, "{}", answer.body_text());
    assert_eq!(answer.text(), Some("收到:old"), "reply under the old key");
    let new = Simulator::new(TOKEN)
        .openid(old.user())
        .secure(AES_KEY, APPID)
        .expect("key");
    assert!(
        matches!(
            new.decode(&prepared, answer.status, &answer.body),
            Err(AnswerError::Decrypt(_))
        ),
        "not under the new key"
    );
    // The current key still works, and its replies use it.
    let answer = send(&new, &qs.url, SimPush::text("new")).await;
    assert_eq!(answer.text(), Some("收到:new"));
}
