use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

use super::*;
use crate::dedup::Status;
use crate::observe::{LateVia, PushOutcome, Reason};
use crate::push::parse;
use crate::sim::SimPush;

const OPENID: &str = "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o";

fn push(text: &str, msg_id: u64) -> (Arc<Push>, String) {
    let xml = SimPush::text(text).to_xml("gh_test", OPENID, 1_700_000_000, msg_id);
    (Arc::new(parse(xml.as_bytes()).expect("push")), xml)
}

fn reply_to(openid: &str) -> String {
    format!(
        "<xml><ToUserName><![CDATA[{openid}]]></ToUserName><FromUserName><![CDATA[gh_test]]></FromUserName>\
         <CreateTime>1</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[hi]]></Content></xml>"
    )
}

fn record_try(inspector: &Inspector, push: &Arc<Push>, xml: &str, try_number: u32, claimed: bool) {
    let reply = reply_to(&push.from_user);
    inspector.on_try(
        "main",
        &TryRecord {
            push,
            xml,
            reply: Some(&reply),
            handler: Some("bot::echo"),
            status: Status::Replied,
            try_number,
            claimed,
            held: !claimed,
            encrypted: false,
            elapsed: Duration::from_millis(12),
        },
    );
}

fn json(row: &Row, unmask: bool) -> Value {
    serde_json::from_str(&row.to_json(unmask)).expect("json")
}

#[test]
fn a_push_is_one_row_whatever_the_order_of_its_records() {
    let inspector = Inspector::new();
    let (p, xml) = push("hello", 1);
    // The outcome first, then two tries (the second a dedup hit), then
    // its late reply.
    inspector.on_push_done(
        "main",
        &PushDone {
            push: &p,
            handler: Some("bot::echo"),
            outcome: PushOutcome::Replied,
            ran_for: Some(Duration::from_millis(7)),
        },
    );
    record_try(&inspector, &p, &xml, 1, true);
    record_try(&inspector, &p, &xml, 2, false);
    inspector.on_late(
        "main",
        &LateSent {
            push: &p,
            handler: "bot::echo",
            via: LateVia::Pending,
        },
    );
    // The same push in another account is another row.
    record_try(&inspector, &p, &xml, 1, true);
    inspector.on_try(
        "other",
        &TryRecord {
            push: &p,
            xml: &xml,
            reply: None,
            handler: None,
            status: Status::NoHandler,
            try_number: 1,
            claimed: true,
            held: false,
            encrypted: true,
            elapsed: Duration::from_millis(1),
        },
    );
    let rows = inspector.rows();
    assert_eq!(rows.len(), 2);
    let row = json(&rows[0], true);
    assert_eq!(row["account"], "main");
    assert_eq!(row["kind"], "text");
    assert_eq!(row["handler"], "bot::echo");
    assert_eq!(row["outcome"], "replied");
    assert_eq!(row["duration_ms"], 7.0);
    assert_eq!(row["late"], "pending");
    let tries: Vec<(u64, bool, bool)> = (row["tries"].as_array().unwrap().iter())
        .map(|t| {
            (
                t["try"].as_u64().unwrap(),
                t["claimed"].as_bool().unwrap(),
                t["held"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        tries,
        [(1, true, false), (2, false, true), (1, true, false)]
    );
    assert_eq!(row["push"]["fields"]["Content"], "hello", "{row}");
    assert!(row["xml"]
        .as_str()
        .unwrap()
        .contains("<Content><![CDATA[hello]]>"));
    let other = json(&rows[1], true);
    assert_eq!(other["account"], "other");
    assert_eq!(other["outcome"], "no_handler");
    assert_eq!(other["reply"], Value::Null);
    assert_eq!(other["tries"][0]["encrypted"], true);
}

#[test]
fn openids_are_masked_everywhere_unless_unmasked() {
    let inspector = Inspector::new();
    let (p, xml) = push("hello", 1);
    record_try(&inspector, &p, &xml, 1, true);
    let row = &inspector.rows()[0];
    let masked = row.to_json(false);
    assert!(!masked.contains(OPENID), "{masked}");
    let value = json(row, false);
    assert_eq!(value["openid"], "oUpF…eS6o");
    assert_eq!(value["push"]["from_user_name"], "oUpF…eS6o");
    assert!(value["xml"]
        .as_str()
        .unwrap()
        .contains("<FromUserName><![CDATA[oUpF…eS6o]]>"));
    assert!(value["reply"]
        .as_str()
        .unwrap()
        .contains("<ToUserName><![CDATA[oUpF…eS6o]]>"));
    let unmasked = json(row, true);
    assert_eq!(unmasked["openid"], OPENID);
    assert!(unmasked["xml"].as_str().unwrap().contains(OPENID));
}

#[test]
fn refused_requests_keep_their_reason_and_the_head_of_their_body() {
    let inspector = Inspector::new();
    let body = format!(
        "<xml><FromUserName><![CDATA[{OPENID}]]></FromUserName>{}</xml>",
        "x".repeat(400)
    );
    inspector.on_refused(
        None,
        &Refused {
            reason: Reason::Signature,
            status: 403,
            error: "signature mismatch",
            method: "POST",
            path: "/wechat",
            body_head: Some(body.as_bytes()),
        },
    );
    let row = json(&inspector.rows()[0], false);
    assert_eq!(row["type"], "refused");
    assert_eq!(row["outcome"], "refused");
    assert_eq!(row["reason"], "signature");
    assert_eq!(row["status"], 403);
    assert_eq!(row["account"], Value::Null);
    let head = row["body_head"].as_str().unwrap();
    assert!(
        head.contains("oUpF…eS6o") && !head.contains(OPENID),
        "{head}"
    );
    assert!(head.len() < BODY_HEAD_BYTES, "{head}");
}

#[test]
fn the_ring_keeps_the_last_rows_and_forgets_the_others_keys() {
    let inspector = Inspector::builder().capacity(3).build();
    let pushes: Vec<_> = (1..=5).map(|i| push(&format!("m{i}"), i)).collect();
    for (p, xml) in &pushes {
        record_try(&inspector, p, xml, 1, true);
    }
    let contents = |inspector: &Inspector| -> Vec<String> {
        (inspector.rows().iter())
            .map(|r| {
                json(r, true)["push"]["fields"]["Content"]
                    .as_str()
                    .unwrap()
                    .to_owned()
            })
            .collect()
    };
    assert_eq!(contents(&inspector), ["m3", "m4", "m5"]);
    // A record of a forgotten push makes a new row; one of a kept push
    // changes its row.
    record_try(&inspector, &pushes[0].0, &pushes[0].1, 2, false);
    record_try(&inspector, &pushes[3].0, &pushes[3].1, 2, false);
    assert_eq!(contents(&inspector), ["m4", "m5", "m1"]);
    let m4 = json(&inspector.rows()[0], true);
    assert_eq!(m4["tries"].as_array().unwrap().len(), 2);
}

#[actix_rt::test]
async fn an_open_page_receives_each_change() {
    let inspector = Inspector::new();
    let (p, xml) = push("hello", 1);
    record_try(&inspector, &p, &xml, 1, true);
    let (snapshot, mut updates) = inspector.subscribe();
    assert_eq!(snapshot.len(), 1);
    record_try(&inspector, &p, &xml, 2, false);
    let row = updates.recv().await.expect("update");
    assert_eq!(row.id, snapshot[0].id);
    assert_eq!(json(&row, true)["tries"].as_array().unwrap().len(), 2);
}

#[test]
fn secrets_stay_out_of_debug() {
    let inspector = Inspector::builder().token("tok-en").build();
    assert!(inspector.has_token());
    assert!(!format!("{inspector:?}").contains("tok-en"));
    assert!(!format!("{:?}", Inspector::builder().token("tok-en")).contains("tok-en"));
    assert!(!Inspector::builder().token("").build().has_token());
}

#[test]
fn short_openids_are_hidden_whole() {
    assert_eq!(mask_openid("o_sim_user"), "o_si…user");
    assert_eq!(mask_openid("12345678"), "…");
    assert_eq!(mask_openid("用户用户用户用户用户"), "用户用户…用户用户");
}
