//! Secure-mode hot path: what one encrypted push costs the server.
//!
//! Run with `cargo bench --bench crypto`.

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use wechat_events::crypto::{
    decrypt, encrypt, encrypt_reply, extract_encrypt, verify_msg_signature, AesKey,
};
use wechat_events::push::parse;
use wechat_events::Reply;

struct M1 {
    token: String,
    key: AesKey,
    appid: String,
    timestamp: String,
    nonce: String,
    encrypt: String,
}

fn m1() -> M1 {
    let all: serde_json::Value =
        serde_json::from_str(include_str!("../tests/fixtures/public.json")).expect("fixtures");
    let v = &all["decrypt"][0];
    let field = |name: &str| v[name].as_str().expect(name).to_owned();
    M1 {
        token: field("token"),
        key: AesKey::from_encoding_aes_key(&field("aes")).expect("key"),
        appid: field("appid"),
        timestamp: field("timestamp"),
        nonce: field("nonce"),
        encrypt: field("encrypt"),
    }
}

/// A typical ~250-byte passive text reply.
const REPLY: &str = "<xml><ToUserName><![CDATA[oyORnuP8q7ou2gfYjqLzSIWZf0rs]]></ToUserName>\
<FromUserName><![CDATA[gh_10f6c3c3ac5a]]></FromUserName><CreateTime>1409735669</CreateTime>\
<MsgType><![CDATA[text]]></MsgType><Content><![CDATA[Thanks! We got your message: abcdteT]]></Content></xml>";

fn benches(c: &mut Criterion) {
    let m = m1();
    let plain_len = decrypt(&m.key, &m.encrypt, Some(&m.appid))
        .expect("M1 decrypts")
        .message
        .len();

    let mut group = c.benchmark_group("secure-mode");
    group.throughput(Throughput::Elements(1));
    group.bench_function("decrypt+encrypt typical push", |b| {
        b.iter(|| {
            let d = decrypt(&m.key, black_box(&m.encrypt), Some(&m.appid)).expect("decrypt");
            black_box(&d);
            encrypt_reply(
                &m.token,
                &m.key,
                &m.appid,
                black_box(REPLY),
                &m.timestamp,
                &m.nonce,
            )
        })
    });
    // Side by side: a push's whole protocol path in plaintext mode versus
    // secure mode (envelope, msg_signature, decrypt, parse, render, encrypt).
    let plaintext = decrypt(&m.key, &m.encrypt, Some(&m.appid))
        .expect("M1")
        .message;
    let envelope = format!("<xml><ToUserName><![CDATA[gh_10f6c3c3ac5a]]></ToUserName><Encrypt><![CDATA[{}]]></Encrypt></xml>", m.encrypt);
    let msg_signature =
        wechat_events::crypto::msg_signature(&m.token, &m.timestamp, &m.nonce, &m.encrypt);
    let answer = |push: &wechat_events::Push| {
        Reply::text("Thanks! We got your message")
            .render(&push.from_user, &push.to_user, 1409735669)
            .expect("reply")
    };
    group.bench_function("plaintext push: parse + render", |b| {
        b.iter(|| answer(&parse(black_box(plaintext.as_bytes())).expect("parse")))
    });
    group.bench_function(
        "secure push: verify + decrypt + parse + render + encrypt",
        |b| {
            b.iter(|| {
                let encrypt = extract_encrypt(black_box(&envelope)).expect("envelope");
                verify_msg_signature(&m.token, &m.timestamp, &m.nonce, &encrypt, &msg_signature)
                    .expect("signature");
                let xml = decrypt(&m.key, &encrypt, Some(&m.appid))
                    .expect("decrypt")
                    .message;
                let reply = answer(&parse(xml.as_bytes()).expect("parse"));
                encrypt_reply(&m.token, &m.key, &m.appid, &reply, &m.timestamp, &m.nonce)
            })
        },
    );
    group.finish();

    let mut group = c.benchmark_group("crypto");
    group.throughput(Throughput::Bytes(plain_len as u64));
    group.bench_function(format!("decrypt M1 ({plain_len} B)"), |b| {
        b.iter(|| decrypt(&m.key, black_box(&m.encrypt), Some(&m.appid)).expect("decrypt"))
    });
    group.throughput(Throughput::Bytes(REPLY.len() as u64));
    group.bench_function(format!("encrypt reply ({} B)", REPLY.len()), |b| {
        b.iter(|| encrypt(&m.key, &m.appid, black_box(REPLY)))
    });
    group.bench_function(format!("encrypt_reply envelope ({} B)", REPLY.len()), |b| {
        b.iter(|| {
            encrypt_reply(
                &m.token,
                &m.key,
                &m.appid,
                black_box(REPLY),
                &m.timestamp,
                &m.nonce,
            )
        })
    });
    group.finish();
}

criterion_group! {
    name = crypto;
    config = Criterion::default()
        .measurement_time(Duration::from_secs(3))
        .warm_up_time(Duration::from_secs(1));
    targets = benches
}
criterion_main!(crypto);
