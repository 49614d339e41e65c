//! `wechat-sim parse`: a push's XML as JSON, plaintext or encrypted; exit 2
//! on a document that is not a push.

use std::io::Write;
use std::process::{Command, Stdio};

use wechat_events::crypto::{encrypt, AesKey};
use wechat_events::push::parse;
use wechat_events::Push;

const KEY: &str = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG";
const APPID: &str = "wx8d9a6c3f2e1b0a47";

fn run(args: &[&str], stdin: &str) -> (Option<i32>, String, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_wechat-sim"))
        .args(args)
        .env_remove("WECHAT_AES_KEY")
        .env_remove("WECHAT_APPID")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run wechat-sim");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn fixture() -> String {
    std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/catalog/scancode_waitmsg.xml"
    ))
    .unwrap()
}

#[test]
fn prints_a_plaintext_push_as_json() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/catalog/scancode_waitmsg.xml"
    );
    let (code, stdout, stderr) = run(&["parse", path], "");
    assert_eq!(code, Some(0), "{stderr}");
    let printed: Push = serde_json::from_str(&stdout).expect("JSON of a push");
    assert_eq!(printed, parse(fixture().as_bytes()).unwrap());
    let value: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(
        value["body"]["event"]["scan_code_info"]["scan_result"],
        "EAN_13,6901234567892"
    );
    // stdin, with "-".
    let (code, stdin_out, _) = run(&["parse", "-"], &fixture());
    assert_eq!((code, stdin_out), (Some(0), stdout));
}

#[test]
fn decrypts_an_encrypted_push_first() {
    let key = AesKey::from_encoding_aes_key(KEY).unwrap();
    let body = format!(
        "<xml><ToUserName><![CDATA[gh_6b3a1f0c9d2e]]></ToUserName><Encrypt><![CDATA[{}]]></Encrypt></xml>",
        encrypt(&key, APPID, &fixture())
    );
    let (code, stdout, stderr) = run(&["--aes-key", KEY, "--appid", APPID, "parse"], &body);
    assert_eq!(code, Some(0), "{stderr}");
    let printed: Push = serde_json::from_str(&stdout).unwrap();
    assert_eq!(printed, parse(fixture().as_bytes()).unwrap());
    // Without the key, or for another AppID: exit 2 with the reason.
    let (code, _, stderr) = run(&["parse"], &body);
    assert_eq!(code, Some(2));
    assert!(stderr.contains("--aes-key"), "{stderr}");
    let (code, _, stderr) = run(&["--aes-key", KEY, "--appid", "wx_other", "parse"], &body);
    assert_eq!(code, Some(2));
    assert!(stderr.contains("cannot decrypt"), "{stderr}");
}

#[test]
fn a_bad_document_exits_2_with_the_parse_error() {
    let (code, stdout, stderr) = run(
        &["parse", "-"],
        "<xml><MsgType>text</MsgType><CreateTime>1</CreateTime></xml>",
    );
    assert_eq!(code, Some(2));
    assert!(stdout.is_empty());
    assert!(
        stderr.contains("required field <FromUserName> is missing"),
        "{stderr}"
    );
    let (code, _, stderr) = run(&["parse", "-"], "<xml><a></b></xml>");
    assert_eq!(code, Some(2));
    assert!(stderr.contains("malformed XML"), "{stderr}");
}
