//! The `wechat-sim` binary against the test bot (every subcommand, every
//! mode), against a server of several accounts (`--config`, `--account`),
//! and against fakes that misbehave the ways WeChat refuses.

mod common;

use std::io::Write;
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::{web, HttpRequest, HttpResponse};
use common::{closed_port, serve_bot, BotMode, APPID, KEY, TOKEN};
use wechat_events::accounts::Accounts;
use wechat_events::testing::TestServer;
use wechat_events::{Context, Router, TextMessage, WechatAccounts};

const DEADLINE: Duration = Duration::from_secs(4);

struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Run {
    fn ok(&self) -> &str {
        assert_eq!(self.code, Some(0), "{self}");
        &self.stdout
    }

    fn failed(&self) -> &Self {
        assert_eq!(self.code, Some(1), "{self}");
        self
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

fn command() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_wechat-sim"));
    cmd.env_remove("WECHAT_TOKEN")
        .env_remove("WECHAT_AES_KEY")
        .env_remove("WECHAT_APPID");
    cmd
}

fn finish(output: Output) -> Run {
    Run {
        code: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// Runs `wechat-sim --url URL --token TOKEN ARGS…`.
fn sim(url: &str, args: &[&str]) -> Run {
    let output = command()
        .args(["--url", url, "--token", TOKEN])
        .args(args)
        .output()
        .expect("run wechat-sim");
    finish(output)
}

fn secure(url: &str, args: &[&str]) -> Run {
    let mut all = vec!["--aes-key", KEY, "--appid", APPID];
    all.extend_from_slice(args);
    sim(url, &all)
}

#[test]
fn every_subcommand_against_the_bot() {
    let bot = serve_bot(BotMode::Plain, DEADLINE);
    let url = bot.url();
    let cases: &[(&[&str], &str)] = &[
        (&["verify"], "handshake verified"),
        (&["subscribe"], "text: 欢迎关注"),
        (&["subscribe", "--scene", "9"], "text: 欢迎关注，场景值 9"),
        (
            &["scan", "--scene", "SCENE_VALUE"],
            "text: 扫码场景 SCENE_VALUE",
        ),
        (&["text", "位置"], "text: 还没有收到你的位置"),
        (
            &[
                "location",
                "--lat",
                "-33.5",
                "--lng",
                "151.2",
                "--precision",
                "10",
            ],
            "success",
        ),
        (&["text", "位置"], "text: 你的位置: -33.5,151.2"),
        (&["click", "--key", "EVENTKEY"], "text: 点击菜单 EVENTKEY"),
        (&["view", "www.qq.com"], "success"),
        (&["view", "https://a.b", "--menu-id", "42"], "success"),
        (&["text", "你好"], "text: 收到:你好"),
        (&["text", "图文"], "news: 1 article"),
        (
            &["image", "--media-id", "MEDIA_1"],
            "image: media_id=MEDIA_1",
        ),
        (&["unsubscribe"], "success"),
    ];
    for (args, want) in cases {
        let run = sim(url, args);
        let out = run.ok();
        assert!(out.contains("← 200 OK in "), "{args:?}\n{run}");
        assert!(out.contains(want), "{args:?}: want {want:?}\n{run}");
    }
}

#[test]
fn raw_file_and_stdin() {
    let bot = serve_bot(BotMode::Secure, DEADLINE);
    let path = std::env::temp_dir().join(format!("wechat-sim-raw-{}.xml", std::process::id()));
    std::fs::write(
        &path,
        "<xml><ToUserName><![CDATA[gh_test]]></ToUserName><FromUserName><![CDATA[o_raw]]></FromUserName>\
         <CreateTime>1700000000</CreateTime><MsgType><![CDATA[text]]></MsgType>\
         <Content><![CDATA[文件]]></Content><MsgId>5</MsgId></xml>",
    )
    .expect("write fixture");
    let run = secure(
        bot.url(),
        &["--xml", "raw", path.to_str().expect("utf-8 path")],
    );
    let _ = std::fs::remove_file(&path);
    let out = run.ok();
    assert!(out.contains("text: 收到:文件"), "{run}");
    assert!(out.contains("(encrypted; MsgSignature verified)"), "{run}");
    assert!(out.contains("  decrypted: <xml>"), "{run}");

    let mut child = command()
        .args([
            "--url",
            bot.url(),
            "--token",
            TOKEN,
            "--aes-key",
            KEY,
            "--appid",
            APPID,
        ])
        .args(["raw", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(
            b"<xml><ToUserName>gh_test</ToUserName><FromUserName>o_in</FromUserName>\
              <CreateTime>1</CreateTime><MsgType>event</MsgType><Event>CLICK</Event>\
              <EventKey>STDIN</EventKey></xml>",
        )
        .expect("write stdin");
    let run = finish(child.wait_with_output().expect("wait"));
    assert!(run.ok().contains("text: 点击菜单 STDIN"), "{run}");
}

#[test]
fn tour_transcript() {
    let bot = serve_bot(BotMode::Plain, DEADLINE);
    let run = sim(bot.url(), &["tour"]);
    let out = run.ok();
    for want in [
        "[1/7] → subscribe\n",
        "text: 欢迎关注\n",
        "[2/7] → subscribe qrscene_123123",
        "text: 欢迎关注，场景值 123123",
        "[3/7] → SCAN SCENE_VALUE",
        "text: 扫码场景 SCENE_VALUE",
        "[4/7] → LOCATION 23.137466,113.352425 (precision 119.385040)",
        "[5/7] → CLICK EVENTKEY",
        "text: 点击菜单 EVENTKEY",
        "[6/7] → VIEW www.qq.com",
        "[7/7] → text \"位置\"",
        "text: 你的位置: 23.137466,113.352425",
        "7 of 7 answers accepted",
    ] {
        assert!(out.contains(want), "want {want:?}\n{run}");
    }
    assert_eq!(out.matches("success (no reply)").count(), 2, "{run}");
}

#[test]
fn secure_and_compatible_modes_and_env_defaults() {
    let bot = serve_bot(BotMode::Secure, DEADLINE);
    let run = secure(bot.url(), &["--xml", "text", "加密"]);
    let out = run.ok();
    assert!(out.contains("→ text \"加密\" (encrypted)"), "{run}");
    assert!(out.contains("<Encrypt>"), "{run}");
    assert!(out.contains("text: 收到:加密"), "{run}");
    assert!(out.contains("MsgSignature verified"), "{run}");

    // The same through WECHAT_TOKEN / WECHAT_AES_KEY / WECHAT_APPID.
    let output = command()
        .env("WECHAT_TOKEN", TOKEN)
        .env("WECHAT_AES_KEY", KEY)
        .env("WECHAT_APPID", APPID)
        .args([
            "--url",
            bot.url(),
            "--from",
            "o_env",
            "click",
            "--key",
            "ENV",
        ])
        .output()
        .expect("run");
    let run = finish(output);
    assert!(run.ok().contains("text: 点击菜单 ENV"), "{run}");

    let compat = serve_bot(BotMode::Compatible, DEADLINE);
    let run = secure(compat.url(), &["--compatible", "--xml", "text", "兼容"]);
    let out = run.ok();
    assert!(
        out.contains("<Content><![CDATA[兼容]]></Content><MsgId>"),
        "{run}"
    );
    assert!(out.contains("text: 收到:兼容"), "{run}");
    let run = sim(compat.url(), &["text", "明文"]);
    assert!(run.ok().contains("text: 收到:明文"), "{run}");

    // A plaintext push to a secure-mode bot is refused: exit 1.
    let run = sim(bot.url(), &["text", "x"]);
    assert!(run.failed().stdout.contains("HTTP 400"), "{run}");
}

#[test]
fn refusals_exit_non_zero() {
    let bot = serve_bot(BotMode::Plain, DEADLINE);
    // Wrong token: 403.
    let output = command()
        .args(["--url", bot.url(), "--token", "wrongtoken", "subscribe"])
        .output()
        .expect("run");
    let run = finish(output);
    assert!(run.failed().stdout.contains("HTTP 403"), "{run}");
    let output = command()
        .args(["--url", bot.url(), "--token", "wrongtoken", "verify"])
        .output()
        .expect("run");
    assert!(finish(output).failed().stdout.contains("HTTP 403"));
}

#[test]
fn clear_errors() {
    let url = format!("http://127.0.0.1:{}/wechat", closed_port());
    let run = sim(&url, &["subscribe"]);
    assert!(
        run.failed().stdout.contains(&format!("cannot reach {url}")),
        "{run}"
    );

    let run = sim("https://example.com/wechat", &["subscribe"]);
    assert!(
        run.failed().stdout.contains("https is not supported"),
        "{run}"
    );

    let run = sim(&url, &["--aes-key", "short", "--appid", APPID, "subscribe"]);
    assert!(run.failed().stderr.contains("EncodingAESKey"), "{run}");
    assert!(run.stderr.contains("--aes-key"), "{run}");

    // A key without an AppID is a usage error: exit 2.
    let run = sim(&url, &["--aes-key", KEY, "subscribe"]);
    assert_eq!(run.code, Some(2), "{run}");
    assert!(run.stderr.contains("needs --appid"), "{run}");

    let run = sim(&url, &["raw", "/nonexistent/push.xml"]);
    assert!(
        run.failed()
            .stderr
            .contains("cannot read /nonexistent/push.xml"),
        "{run}"
    );

    // Usage errors are clap's: exit 2.
    let run = sim(&url, &["scan"]);
    assert_eq!(run.code, Some(2), "{run}");
    assert!(run.stderr.contains("--scene"), "{run}");
    let run = sim(&url, &["location", "--lat", "north", "--lng", "1"]);
    assert_eq!(run.code, Some(2), "{run}");
}

#[test]
fn token_defaults_to_the_quickstart_development_token() {
    let service = wechat_events::WechatService::new(
        wechat_events::Config::builder("devtoken")
            .build()
            .expect("config"),
        wechat_events::Router::new(),
    )
    .expect("service");
    let bot = TestServer::builder(service).start();
    let output = command()
        .args(["--url", bot.url(), "verify"])
        .output()
        .expect("run");
    let run = finish(output);
    assert!(run.ok().contains("handshake verified"), "{run}");
}

/// A fake bot answering `answer(request number, query, body)` at `/wechat`;
/// returns the server and that URL.
fn fake<F, Fut>(answer: F) -> (TestServer, String)
where
    F: Fn(usize, String, String) -> Fut + Clone + Send + Sync + 'static,
    Fut: std::future::Future<Output = HttpResponse> + 'static,
{
    let calls = Arc::new(AtomicUsize::new(0));
    let server = TestServer::without_service()
        .configure(move |cfg: &mut web::ServiceConfig| {
            let (answer, calls) = (answer.clone(), calls.clone());
            cfg.route(
                "/wechat",
                web::to(move |req: HttpRequest, body: String| {
                    let n = calls.fetch_add(1, Ordering::SeqCst);
                    answer(n, req.query_string().to_owned(), body)
                }),
            );
        })
        .start();
    let url = server.url_for("/wechat");
    (server, url)
}

#[test]
fn encrypted_reply_with_a_bad_signature_fails() {
    let key: wechat_events::crypto::AesKey = KEY.parse().expect("key");
    let xml = wechat_events::Reply::text("hi")
        .render("o_sim_user", "gh_test", 1)
        .expect("renders");
    let forged = wechat_events::crypto::encrypt_reply("other", &key, APPID, &xml, "1", "2");
    let (_bot, url) = fake(move |_, _, _| {
        let body = forged.clone();
        async move { HttpResponse::Ok().body(body) }
    });
    let run = secure(&url, &["text", "x"]);
    assert!(
        run.failed().stdout.contains("MsgSignature does not verify"),
        "{run}"
    );
}

#[test]
fn slow_answers_fail_and_retries_resend_the_same_bytes() {
    // Over 5 s without --retries: a failure. `wechat-sim` judges an answer
    // against WeChat's fixed 5 s, so this fake really has to be that slow.
    let (_slow, slow_url) = fake(|_, _, _| async {
        tokio::time::sleep(Duration::from_millis(5300)).await;
        HttpResponse::Ok().body("success")
    });
    // With --retries: the first try is held until the retry arrives, so the
    // simulator must have given up on it (WeChat's 5 s) and sent again.
    let seen: Arc<Mutex<Vec<String>>> = Arc::default();
    let log = seen.clone();
    let (retried_tx, retried_rx) = tokio::sync::watch::channel(false);
    let retried_tx = Arc::new(retried_tx);
    let (_flaky, flaky_url) = fake(move |n, query, body| {
        if let Ok(mut log) = log.lock() {
            log.push(format!("{query}\n{body}"));
        }
        let (retried_tx, mut retried) = (retried_tx.clone(), retried_rx.clone());
        async move {
            if n == 0 {
                let _ = retried.wait_for(|retried| *retried).await;
            } else {
                retried_tx.send_replace(true);
            }
            HttpResponse::Ok().body("success")
        }
    });
    let slow_run = std::thread::spawn(move || sim(&slow_url, &["click", "--key", "SLOW"]));
    let run = secure(&flaky_url, &["--retries", "click", "--key", "FLAKY"]);
    let out = run.ok();
    assert!(out.contains("try 1: no answer"), "{run}");
    assert!(out.contains("success (no reply)"), "{run}");
    let seen = seen.lock().expect("log").clone();
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert_eq!(seen[0], seen[1], "a retry is byte-identical");

    let run = slow_run.join().expect("slow run");
    let out = &run.failed().stdout;
    assert!(out.contains("← 200 OK in "), "{run}");
    assert!(out.contains("over WeChat's 5 s limit"), "{run}");
}

/// Two plaintext accounts (`a` at /wechat/a, `b` at /hooks/b), `vault` in
/// secure mode and `mixed` in compatible mode; secrets in `env:` variables.
const ACCOUNTS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/sim-accounts.toml"
);

/// The variables the accounts file reads its secrets from.
const SECRETS: [(&str, &str); 6] = [
    ("SIM_A_TOKEN", "atokensecret1"),
    ("SIM_B_TOKEN", "btokensecret2"),
    ("SIM_VAULT_TOKEN", "vaulttokensecret3"),
    (
        "SIM_VAULT_AES_KEY",
        "ZYXWVUTSRQPONMLKJIHGFEDCBA9876543210zyxwvut",
    ),
    ("SIM_MIXED_TOKEN", "mixedtokensecret4"),
    (
        "SIM_MIXED_AES_KEY",
        "0123456789abcdefghijklmnopqrstuvwxyzABCDEFG",
    ),
];

/// The accounts file's accounts on one server, each answering a text with
/// its own name: `NAME: CONTENT`.
fn serve_accounts() -> TestServer {
    let secret = |var: &str| {
        SECRETS
            .iter()
            .find(|(name, _)| *name == var)
            .map(|(_, value)| (*value).to_owned())
    };
    let accounts = Accounts::from_file(ACCOUNTS, secret).expect("the fixture's accounts");
    let router = Router::new().on(|msg: TextMessage, cx: Context| async move {
        format!("{}: {}", cx.account_name(), msg.content)
    });
    let services = WechatAccounts::builder(accounts)
        .only(router)
        .build()
        .expect("the accounts' services");
    TestServer::without_service()
        .configure(move |cfg| {
            cfg.service(services.clone());
        })
        .start()
}

/// Runs `wechat-sim --url URL ARGS…` with `env` set; checks that no secret
/// of the accounts file was printed.
fn sim_env(url: &str, args: &[&str], env: &[(&str, &str)]) -> Run {
    let output = command()
        .envs(env.iter().copied())
        .args(["--url", url])
        .args(args)
        .output()
        .expect("run wechat-sim");
    let run = finish(output);
    for (var, secret) in SECRETS {
        assert!(
            !run.stdout.contains(secret) && !run.stderr.contains(secret),
            "{var}'s value printed\n{run}"
        );
    }
    run
}

/// `wechat-sim --url URL --config ACCOUNTS ARGS…`, the secrets set.
fn as_account(url: &str, args: &[&str]) -> Run {
    let mut all = vec!["--config", ACCOUNTS];
    all.extend_from_slice(args);
    sim_env(url, &all, &SECRETS)
}

/// The body `--xml` shows was sent (the `  sent: ` line of an encrypted
/// push).
fn sent(run: &Run) -> &str {
    run.stdout
        .lines()
        .find_map(|line| line.strip_prefix("  sent: "))
        .unwrap_or_else(|| panic!("no sent body\n{run}"))
}

#[test]
fn config_account_signs_and_encrypts_as_that_account_at_its_path() {
    let server = serve_accounts();
    // `--url`'s path is replaced by the account's; its host is kept.
    let url = server.url_for("/wechat");
    let run = as_account(&url, &["--account", "b", "text", "你好"]);
    let out = run.ok();
    let header = format!(
        "WeChat → {} (account \"b\", plaintext, user",
        server.url_for("/hooks/b")
    );
    assert!(out.contains(&header), "{run}");
    assert!(out.contains("text: b: 你好"), "{run}");
    let run = as_account(&url, &["--account", "a", "text", "x"]);
    assert!(run.ok().contains("text: a: x"), "{run}");
    let run = as_account(&url, &["--account", "b", "verify"]);
    assert!(run.ok().contains("handshake verified"), "{run}");

    // Secure mode: encrypted with the account's key for its AppID, the
    // encrypted reply verified.
    let run = as_account(&url, &["--account", "vault", "--xml", "text", "加密"]);
    let out = run.ok();
    assert!(out.contains("(account \"vault\", secure mode,"), "{run}");
    assert!(out.contains("→ text \"加密\" (encrypted)"), "{run}");
    assert!(sent(&run).contains("<Encrypt>"), "{run}");
    assert!(!sent(&run).contains("<Content>"), "{run}");
    assert!(out.contains("text: vault: 加密"), "{run}");
    assert!(out.contains("MsgSignature verified"), "{run}");

    // Compatible mode: encrypted, the plaintext fields beside.
    let run = as_account(&url, &["--account", "mixed", "--xml", "text", "兼容"]);
    let out = run.ok();
    assert!(
        out.contains("(account \"mixed\", compatible mode,"),
        "{run}"
    );
    assert!(sent(&run).contains("<Encrypt>"), "{run}");
    assert!(
        sent(&run).contains("<Content><![CDATA[兼容]]></Content>"),
        "{run}"
    );
    assert!(out.contains("text: mixed: 兼容"), "{run}");

    // A file of one account needs no --account; a bare `--url` works too.
    let dir = tempfile::tempdir().expect("temp dir");
    let solo = dir.path().join("solo.toml");
    std::fs::write(
        &solo,
        "[[accounts]]\nname = \"solo\"\ntoken = \"env:SIM_A_TOKEN\"\npath = \"/wechat/a\"\n",
    )
    .expect("write solo.toml");
    let solo = solo.to_str().expect("utf-8 path");
    let run = sim_env(
        &server.url_for(""),
        &["--config", solo, "text", "一个"],
        &SECRETS,
    );
    // Served by the server's account `a`, whose path and token these are.
    assert!(run.ok().contains("text: a: 一个"), "{run}");
}

#[test]
fn config_account_decrypts_for_parse() {
    use wechat_events::crypto::{encrypt, AesKey};
    let push = "<xml><ToUserName><![CDATA[gh_test]]></ToUserName>\
                <FromUserName><![CDATA[o_parse]]></FromUserName><CreateTime>1</CreateTime>\
                <MsgType><![CDATA[text]]></MsgType><Content><![CDATA[密文]]></Content>\
                <MsgId>7</MsgId></xml>";
    let key: AesKey = SECRETS[3].1.parse().expect("vault's key");
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("push.xml");
    std::fs::write(
        &file,
        format!(
            "<xml><ToUserName><![CDATA[gh_test]]></ToUserName><Encrypt><![CDATA[{}]]></Encrypt></xml>",
            encrypt(&key, "wx0123456789abcdef", push)
        ),
    )
    .expect("write push.xml");
    let file = file.to_str().expect("utf-8 path");
    let url = format!("http://127.0.0.1:{}/wechat", closed_port());
    let run = as_account(&url, &["--account", "vault", "parse", file]);
    assert!(run.ok().contains("密文"), "{run}");
    // A plaintext account has no key to decrypt it with.
    let run = as_account(&url, &["--account", "a", "parse", file]);
    assert_eq!(run.code, Some(2), "{run}");
    assert!(
        run.stderr.contains("account \"a\" is in plaintext mode"),
        "{run}"
    );
}

#[test]
fn config_usage_and_config_errors_exit_2_with_their_message() {
    let url = format!("http://127.0.0.1:{}/wechat", closed_port());
    let usage = |url: &str, args: &[&str], env: &[(&str, &str)], want: &[&str]| {
        let run = sim_env(url, args, env);
        assert_eq!(run.code, Some(2), "{args:?}\n{run}");
        assert!(run.stdout.is_empty(), "{args:?}: nothing sent\n{run}");
        for want in want {
            assert!(run.stderr.contains(want), "{args:?}: want {want:?}\n{run}");
        }
    };
    usage(
        &url,
        &["--account", "b", "text", "x"],
        &SECRETS,
        &[
            "--account b names an account of an accounts file",
            "--config FILE",
            "--to",
        ],
    );
    usage(
        &url,
        &["--config", ACCOUNTS, "text", "x"],
        &SECRETS,
        &["has 4 accounts: choose one with --account NAME (a, b, vault, mixed)"],
    );
    usage(
        &url,
        &["--config", ACCOUNTS, "--account", "valut", "text", "x"],
        &SECRETS,
        &["has no account \"valut\" (did you mean \"vault\"?); its accounts: a, b, vault, mixed"],
    );
    usage(
        &url,
        &["--config", ACCOUNTS, "--account", "zzz", "text", "x"],
        &SECRETS,
        &["has no account \"zzz\"; its accounts: a, b, vault, mixed"],
    );
    // The identity is the file's: flags and variables for it are refused.
    usage(
        &url,
        &[
            "--config",
            ACCOUNTS,
            "--account",
            "b",
            "--token",
            TOKEN,
            "--aes-key",
            KEY,
            "text",
            "x",
        ],
        &SECRETS,
        &["from the accounts file: drop --token, --aes-key"],
    );
    let mut with_appid = SECRETS.to_vec();
    with_appid.push(("WECHAT_APPID", APPID));
    usage(
        &url,
        &[
            "--config",
            ACCOUNTS,
            "--account",
            "vault",
            "--compatible",
            "text",
            "x",
        ],
        &with_appid,
        &["drop --compatible; unset WECHAT_APPID"],
    );
    usage(
        "127.0.0.1:8080/wechat",
        &["--config", ACCOUNTS, "--account", "b", "text", "x"],
        &SECRETS,
        &[
            "--url 127.0.0.1:8080/wechat: ",
            "such as http://127.0.0.1:8080",
        ],
    );

    // A file that does not load: its ConfigError (or the read error).
    usage(
        &url,
        &["--config", "/nonexistent/accounts.toml", "text", "x"],
        &SECRETS,
        &["cannot read the accounts file /nonexistent/accounts.toml (--config)"],
    );
    let dir = tempfile::tempdir().expect("temp dir");
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "[[accounts]]\nname = \"a\"\ntoken = [\n").expect("write bad.toml");
    let bad = bad.to_str().expect("utf-8 path");
    usage(
        &url,
        &["--config", bad, "text", "x"],
        &SECRETS,
        &[&format!("invalid configuration: {bad}: line 3: ")],
    );
    let unset: Vec<_> = SECRETS
        .into_iter()
        .filter(|(var, _)| *var != "SIM_VAULT_AES_KEY")
        .collect();
    usage(
        &url,
        &["--config", ACCOUNTS, "--account", "b", "text", "x"],
        &unset,
        &[&format!(
            "invalid configuration: {ACCOUNTS}: account \"vault\": aes_key: env:SIM_VAULT_AES_KEY \
             names the environment variable SIM_VAULT_AES_KEY, which is not set"
        )],
    );
}
