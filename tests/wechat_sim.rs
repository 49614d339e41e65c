//! The `wechat-sim` command line against the quickstart, both as their own
//! processes: every subcommand, secure mode, and the exits that tell a
//! script something went wrong.

mod common;

use std::process::{Command, Output};

use common::*;

struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Run {
    /// Stdout of a run that exited 0.
    fn ok(&self) -> &str {
        assert_eq!(self.code, Some(0), "{self}");
        &self.stdout
    }

    /// Stdout of a run that exited 1.
    fn failed(&self) -> &str {
        assert_eq!(self.code, Some(1), "{self}");
        &self.stdout
    }
}

impl std::fmt::Display for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit {:?}\n--- stdout\n{}--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

fn run(cmd: &mut Command) -> Run {
    let Output {
        status,
        stdout,
        stderr,
    } = cmd.output().expect("run wechat-sim");
    Run {
        code: status.code(),
        stdout: String::from_utf8_lossy(&stdout).into_owned(),
        stderr: String::from_utf8_lossy(&stderr).into_owned(),
    }
}

/// `wechat-sim --url URL --token TOKEN --from <fresh user> ARGS…`, with the
/// WECHAT_* variables cleared so the caller's environment cannot leak in.
fn wechat_sim(url: &str, args: &[&str]) -> Run {
    let from = format!("o_cli_{}", unique());
    run(Command::new(wechat_sim_binary())
        .env_remove("WECHAT_TOKEN")
        .env_remove("WECHAT_AES_KEY")
        .env_remove("WECHAT_APPID")
        .args(["--url", url, "--token", TOKEN, "--from", &from])
        .args(args))
}

fn quickstart() -> Quickstart {
    Quickstart::start(&[("WECHAT_DEADLINE_MS", "1000")])
}

#[test]
fn every_subcommand_against_the_quickstart() {
    let qs = quickstart();
    let cases: &[(&[&str], &[&str])] = &[
        (&["verify"], &["→ handshake", "handshake verified"]),
        (&["subscribe"], &["→ subscribe\n", "text: 欢迎关注\n"]),
        (
            &["subscribe", "--scene", "123123"],
            &["text: 欢迎关注，场景值 123123"],
        ),
        (
            &["scan", "--scene", "SCENE_VALUE"],
            &["text: 扫码场景 SCENE_VALUE"],
        ),
        (
            &[
                "location",
                "--lat",
                "23.137466",
                "--lng",
                "113.352425",
                "--precision",
                "119.385040",
            ],
            &[
                "→ LOCATION 23.137466,113.352425 (precision 119.385040)",
                "success (no reply)",
            ],
        ),
        (
            &["click", "--key", "EVENTKEY"],
            &["text: 点击菜单 EVENTKEY"],
        ),
        (&["click", "--key", "PANIC"], &["success (no reply)"]),
        (
            &["view", "www.qq.com"],
            &["→ VIEW www.qq.com", "success (no reply)"],
        ),
        (&["text", "你好"], &["→ text \"你好\"", "text: 收到:你好"]),
        (&["text", "帮助"], &["text: 可用指令:", "  帮助 / help"]),
        (
            &["text", "图文"],
            &["news: 1 article", "1. wechat-events 快速上手"],
        ),
        (&["text", "位置"], &["text: 还没有收到你的位置"]),
        (
            &["image", "--media-id", "MEDIA_42"],
            &["image: media_id=MEDIA_42"],
        ),
        (&["unsubscribe"], &["success (no reply)"]),
    ];
    for (args, wants) in cases {
        let run = wechat_sim(&qs.url, args);
        let out = run.ok();
        assert!(out.contains("← 200 OK in "), "{args:?}\n{run}");
        for want in *wants {
            assert!(out.contains(want), "{args:?}: want {want:?}\n{run}");
        }
    }
}

#[test]
fn count_clicks_and_the_slow_menu() {
    // One try held open while a handler runs; the next answers by its
    // deadline (1 s).
    let qs = Quickstart::start(&[("WECHAT_DEADLINE_MS", "1000"), ("WECHAT_WAIT_RETRIES", "1")]);
    let run = wechat_sim(&qs.url, &["click", "--key", "COUNT"]);
    assert!(run.ok().contains("  text: 1\n"), "{run}");
    // SLOW sleeps 10 s, then replies. The first try is held until the
    // simulator gives up on it at 5 s, as WeChat does; the retry is
    // answered `success` at its deadline (the reply will wait for the
    // user's next message). Exit 0: an answer came within WeChat's tries.
    let run = wechat_sim(&qs.url, &["--retries", "click", "--key", "SLOW"]);
    let out = run.ok();
    assert!(out.contains("  try 1: "), "{run}");
    assert!(!out.contains("  try 2: "), "{run}");
    assert!(out.contains("← 200 OK in "), "{run}");
    assert!(out.contains("success (no reply)"), "{run}");
    assert!(!out.contains("终于好了"), "{run}");
}

#[test]
fn raw_file() {
    let qs = quickstart();
    let path = std::env::temp_dir().join(format!("wechat-sim-suite-{}.xml", unique()));
    std::fs::write(
        &path,
        "<xml><ToUserName><![CDATA[gh_test]]></ToUserName><FromUserName><![CDATA[o_raw_file]]></FromUserName>\
         <CreateTime>1700000000</CreateTime><MsgType><![CDATA[text]]></MsgType>\
         <Content><![CDATA[原样发送]]></Content><MsgId>1</MsgId></xml>",
    )
    .expect("write the push");
    let run = wechat_sim(
        &qs.url,
        &["--xml", "raw", path.to_str().expect("utf-8 path")],
    );
    let _ = std::fs::remove_file(&path);
    let out = run.ok();
    assert!(out.contains("→ raw XML ("), "{run}");
    assert!(out.contains("  push: <xml>"), "{run}");
    assert!(
        out.contains("  received: <xml><ToUserName><![CDATA[o_raw_file]]>"),
        "{run}"
    );
    assert!(out.contains("text: 收到:原样发送"), "{run}");
}

#[test]
fn tour_is_a_transcript_of_the_sample_events() {
    let qs = quickstart();
    let run = wechat_sim(&qs.url, &["tour"]);
    let out = run.ok();
    let wants = [
        "[1/7] → subscribe\n",
        "  text: 欢迎关注\n",
        "[2/7] → subscribe qrscene_123123\n",
        "  text: 欢迎关注，场景值 123123\n",
        "[3/7] → SCAN SCENE_VALUE\n",
        "  text: 扫码场景 SCENE_VALUE\n",
        "[4/7] → LOCATION 23.137466,113.352425 (precision 119.385040)\n",
        "[5/7] → CLICK EVENTKEY\n",
        "  text: 点击菜单 EVENTKEY\n",
        "[6/7] → VIEW www.qq.com\n",
        "[7/7] → text \"位置\"\n",
        "  text: 你的位置: 23.137466,113.352425\n",
        "7 of 7 answers accepted",
    ];
    let mut at = 0;
    for want in wants {
        let found = out[at..]
            .find(want)
            .unwrap_or_else(|| panic!("want {want:?} after byte {at}\n{run}"));
        at += found + want.len();
    }
    assert_eq!(out.matches("success (no reply)").count(), 2, "{run}");
}

#[test]
fn secure_mode_through_the_environment() {
    let qs = Quickstart::start(&[("WECHAT_AES_KEY", AES_KEY), ("WECHAT_APPID", APPID)]);
    let run = run(Command::new(wechat_sim_binary())
        .env("WECHAT_TOKEN", TOKEN)
        .env("WECHAT_AES_KEY", AES_KEY)
        .env("WECHAT_APPID", APPID)
        .args(["--url", &qs.url, "tour"]));
    let out = run.ok();
    assert!(
        out.contains("(secure mode, user o_sim_user → account gh_test)"),
        "{run}"
    );
    assert!(out.contains("[7/7] → text \"位置\" (encrypted)"), "{run}");
    assert!(out.contains("(encrypted; MsgSignature verified)"), "{run}");
    assert!(out.contains("7 of 7 answers accepted"), "{run}");
    // Without the key, the secure-mode quickstart refuses the push: exit 1.
    let run = wechat_sim(&qs.url, &["text", "明文"]);
    assert!(run.failed().contains("HTTP 400"), "{run}");
}

#[test]
fn failures_exit_non_zero() {
    let qs = quickstart();
    let run = run(Command::new(wechat_sim_binary())
        .env_remove("WECHAT_AES_KEY")
        .args(["--url", &qs.url, "--token", "wrongtoken", "subscribe"]));
    assert!(run.failed().contains("✗ HTTP 403"), "{run}");
    let dead = format!("http://{}/nowhere", qs.addr);
    let run = wechat_sim(&dead, &["subscribe"]);
    assert!(run.failed().contains("✗ HTTP 404"), "{run}");
    drop(qs);
    let run = wechat_sim(&dead, &["subscribe"]);
    assert!(run.failed().contains("cannot reach"), "{run}");
}

#[test]
fn drain_reads_a_long_answer_part_by_part() {
    let qs = quickstart();
    // 长文 2000: about 5,300 bytes, three parts; --drain sends 继续 twice.
    let run = wechat_sim(&qs.url, &["--retries", "--drain", "text", "长文 2000"]);
    let out = run.ok();
    assert!(out.contains("[继续 2] → text \"继续\""), "{run}");
    assert!(!out.contains("[继续 3]"), "{run}");
    assert_eq!(
        out.matches("(未完，回复「继续」查看后续)").count(),
        2,
        "{run}"
    );
    assert!(out.contains("第1句……。"), "{run}");
    // --drain needs --retries.
    let run = wechat_sim(&qs.url, &["--drain", "text", "长文 2000"]);
    assert_eq!(run.code, Some(2), "{run}");
}
