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

// ---- wechat-sim for a third-party platform (component mode) ----

mod component {
    use super::{closed_port, command, fake, finish, Run};
    use actix_web::HttpResponse;
    use wechat_events::accounts::Accounts;
    use wechat_events::component::ComponentService;
    use wechat_events::testing::{ComponentStandIn, TestServer, COMPONENT_APPID, COMPONENT_SECRET};
    use wechat_events::{Context, Router, TextMessage, WechatAccounts};

    /// A plain account `plain` and an `[open_platform]` table at the
    /// default paths, the stand-in's AppID; secrets in `env:` variables.
    const FILE: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/sim-component.toml"
    );
    const COMPONENT_TOKEN: &str = "componenttokensecret5";
    const COMPONENT_KEY: &str = "componentKEY0123456789abcdefghijklmnopqrstA";
    const SECRETS: [(&str, &str); 4] = [
        ("SIM_PLAIN_TOKEN", "plaintokensecret6"),
        ("SIM_COMPONENT_SECRET", COMPONENT_SECRET),
        ("SIM_COMPONENT_TOKEN", COMPONENT_TOKEN),
        ("SIM_COMPONENT_AES_KEY", COMPONENT_KEY),
    ];

    /// The fixture's server: its component's API the stand-in; a text is
    /// answered `ACCOUNT|AUTHORIZER|CONTENT`.
    struct Platform {
        server: TestServer,
        services: WechatAccounts,
        wechat: ComponentStandIn,
    }

    impl Platform {
        fn start() -> Platform {
            let wechat = ComponentStandIn::start();
            let base = wechat.base_url();
            let lookup = |name: &str| {
                SECRETS
                    .iter()
                    .find(|(var, _)| *var == name)
                    .map(|(_, value)| (*value).to_owned())
                    .or_else(|| (name == "WECHAT_API_BASE").then(|| base.clone()))
            };
            let accounts = Accounts::from_file(FILE, lookup).expect("the fixture's accounts");
            let router = Router::new().on(|msg: TextMessage, cx: Context| async move {
                format!(
                    "{}|{}|{}",
                    cx.account_name(),
                    cx.authorizer().unwrap_or("-"),
                    msg.content
                )
            });
            let services = WechatAccounts::builder(accounts)
                .only(router)
                .build()
                .expect("services");
            let mounted = services.clone();
            let server = TestServer::without_service()
                .configure(move |cfg| {
                    cfg.service(mounted.clone());
                })
                .start();
            Platform {
                server,
                services,
                wechat,
            }
        }

        fn component(&self) -> &ComponentService {
            self.services.open_platform().expect("a platform")
        }

        /// `--url` for the sim: the server's host (the path is replaced).
        fn url(&self) -> String {
            self.server.url_for("/wechat")
        }
    }

    /// Runs `wechat-sim ARGS…` with the fixture's secrets set; checks that
    /// none was printed.
    fn sim_run(args: &[&str]) -> Run {
        let output = command()
            .envs(SECRETS)
            .envs(super::SECRETS)
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

    /// Runs `future` on a runtime of its own, dropped after: the
    /// component's HTTP client pools its connections on the runtime that
    /// made them, and a runtime idle between calls would hold the server's
    /// later requests on them.
    fn block_on<F: std::future::Future>(future: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime")
            .block_on(future)
    }

    /// `wechat-sim --url URL --component-appid … --token … --aes-key … ARGS…`.
    fn flags(url: &str, args: &[&str]) -> Run {
        let mut all = vec![
            "--url",
            url,
            "--component-appid",
            COMPONENT_APPID,
            "--token",
            COMPONENT_TOKEN,
            "--aes-key",
            COMPONENT_KEY,
        ];
        all.extend_from_slice(args);
        sim_run(&all)
    }

    /// `wechat-sim --url URL --config FILE ARGS…`.
    fn file(url: &str, args: &[&str]) -> Run {
        let mut all = vec!["--url", url, "--config", FILE];
        all.extend_from_slice(args);
        sim_run(&all)
    }

    #[test]
    fn ticket_authorization_and_the_authorizers_pushes() {
        let p = Platform::start();
        let url = p.url();
        let client = p.component().client();

        // The ticket, with the flags: answered `success`, kept, and the
        // component's token fetched with it.
        let ticket = p.wechat.new_ticket();
        let run = flags(&url, &["--xml", "ticket", &ticket]);
        let out = run.ok();
        let header = format!(
            "WeChat → {} (component {COMPONENT_APPID}, authorization event, secure mode)",
            p.server.url_for("/wechat/open/auth")
        );
        assert!(out.contains(&header), "{run}");
        assert!(
            out.contains("→ component_verify_ticket (encrypted)"),
            "{run}"
        );
        assert!(
            out.contains(&format!(
                "<AppId><![CDATA[{COMPONENT_APPID}]]></AppId><CreateTime>"
            )),
            "{run}"
        );
        assert!(
            out.contains("<InfoType><![CDATA[component_verify_ticket]]></InfoType>"),
            "{run}"
        );
        assert!(out.contains("  sent: <xml><Encrypt>"), "{run}");
        assert!(out.contains("\n  success\n"), "{run}");
        assert_eq!(block_on(client.store().ticket()), Ok(Some(ticket.clone())));
        block_on(client.component_token()).expect("a component token from the ticket");
        assert_eq!(p.wechat.calls_to("api_component_token"), 1);

        // A wrong token: refused, nothing kept.
        let run = sim_run(&[
            "--url",
            &url,
            "--component-appid",
            COMPONENT_APPID,
            "--token",
            "wrongtoken",
            "--aes-key",
            COMPONENT_KEY,
            "ticket",
            "forged",
        ]);
        assert!(run.failed().stdout.contains("HTTP 403"), "{run}");
        assert_eq!(block_on(client.store().ticket()), Ok(Some(ticket)));

        // `authorized`, from the accounts file: the code exchanged, the
        // account's gh_ id kept.
        let code = p.wechat.authorization_code("wxa");
        let run = file(
            &url,
            &[
                "authorized",
                "--authorizer",
                "wxa",
                "--code",
                &code,
                "--pre-auth-code",
                "preauthcode@@@1",
            ],
        );
        assert!(run.ok().contains("→ authorized wxa (encrypted)"), "{run}");
        assert_eq!(p.wechat.calls_to("api_query_auth"), 1);
        let kept = block_on(client.store().authorizer("wxa"))
            .expect("store")
            .expect("wxa kept");
        assert_eq!(kept.user_name.as_deref(), Some("gh_wxa"));

        // Its pushes, at its message URL: answered by the handler, the
        // reply encrypted with the component's key.
        let run = file(
            &url,
            &["--to", "gh_wxa", "text", "hi", "--authorizer", "wxa"],
        );
        let out = run.ok();
        let header = format!(
            "WeChat → {} (component {COMPONENT_APPID}, authorizer wxa, secure mode, user \
             o_sim_user → account gh_wxa)",
            p.server.url_for("/wechat/open/wxa")
        );
        assert!(out.contains(&header), "{run}");
        assert!(out.contains("text: open_platform|wxa|hi"), "{run}");
        assert!(out.contains("MsgSignature verified"), "{run}");
        let run = flags(
            &url,
            &["--authorizer", "wxa", "--to", "gh_wxa", "text", "又"],
        );
        assert!(run.ok().contains("text: open_platform|wxa|又"), "{run}");
        // The handshake, at its message URL.
        let run = flags(&url, &["--authorizer", "wxa", "verify"]);
        assert!(run.ok().contains("handshake verified"), "{run}");
        // Not addressed to the authorizer's gh_ id (the default --to): 403.
        let run = flags(&url, &["--authorizer", "wxa", "text", "hi"]);
        assert!(run.failed().stdout.contains("HTTP 403"), "{run}");

        // `updateauthorized` exchanges its new code; `unauthorized` drops
        // the account, whose pushes are refused again.
        let code = p.wechat.authorization_code("wxa");
        let run = flags(
            &url,
            &["updateauthorized", "--authorizer", "wxa", "--code", &code],
        );
        assert!(run.ok().contains("→ updateauthorized wxa"), "{run}");
        assert_eq!(p.wechat.calls_to("api_query_auth"), 2);
        let run = file(&url, &["unauthorized", "--authorizer", "wxa"]);
        assert!(run.ok().contains("→ unauthorized wxa"), "{run}");
        assert_eq!(block_on(client.store().authorizer("wxa")), Ok(None));
        let run = file(
            &url,
            &["--authorizer", "wxa", "--to", "gh_wxa", "text", "hi"],
        );
        assert!(run.failed().stdout.contains("HTTP 403"), "{run}");

        // The file's plain account is still played as before.
        let run = file(&url, &["text", "x"]);
        assert!(run.ok().contains("text: plain|-|x"), "{run}");
    }

    #[test]
    fn the_files_paths_and_answers_other_than_success() {
        let dir = tempfile::tempdir().expect("temp dir");
        let custom = dir.path().join("custom.toml");
        std::fs::write(
            &custom,
            "[open_platform]\nappid = \"wxcomp\"\napp_secret = \"env:SIM_COMPONENT_SECRET\"\n\
             token = \"env:SIM_COMPONENT_TOKEN\"\naes_key = \"env:SIM_COMPONENT_AES_KEY\"\n\
             auth_path = \"/wechat\"\nmessage_path = \"/platform/{appid}/push\"\n",
        )
        .expect("write custom.toml");
        let custom = custom.to_str().expect("utf-8 path");
        // Nothing there: the header shows the file's message path, on
        // `--url`'s host.
        let port = closed_port();
        let closed = format!("http://127.0.0.1:{port}/ignored");
        let run = sim_run(&[
            "--url",
            &closed,
            "--config",
            custom,
            "--authorizer",
            "wxa",
            "text",
            "hi",
        ]);
        let want = format!(
            "WeChat → http://127.0.0.1:{port}/platform/wxa/push (component wxcomp, authorizer wxa,"
        );
        assert!(run.failed().stdout.contains(&want), "{run}");
        assert!(run.stdout.contains("cannot reach"), "{run}");
        // A file with only a component is played in component mode
        // without being asked: a push needs its authorizer.
        let run = sim_run(&["--url", &closed, "--config", custom, "text", "hi"]);
        assert_eq!(run.code, Some(2), "{run}");
        assert!(run.stderr.contains("give --authorizer APPID"), "{run}");

        // The file's auth_path; an answer other than `success` fails.
        let (_bot, url) = fake(|n, _, _| async move {
            match n {
                0 => HttpResponse::Ok().body("success"),
                _ => HttpResponse::Ok().finish(),
            }
        });
        let run = super::sim_env(&url, &["--config", custom, "ticket", "T"], &SECRETS);
        let out = run.ok();
        assert!(
            out.contains(&format!("WeChat → {url} (component wxcomp")),
            "{run}"
        );
        let run = super::sim_env(&url, &["--config", custom, "ticket", "T"], &SECRETS);
        let out = &run.failed().stdout;
        assert!(
            out.contains("✗ WeChat wants `success` as the answer to an authorization event"),
            "{run}"
        );
    }

    #[test]
    fn parse_decrypts_with_the_components_key() {
        use wechat_events::crypto::{encrypt, AesKey};
        let key: AesKey = COMPONENT_KEY.parse().expect("the component's key");
        let push = "<xml><ToUserName><![CDATA[gh_wxa]]></ToUserName>\
                    <FromUserName><![CDATA[o_parse]]></FromUserName><CreateTime>1</CreateTime>\
                    <MsgType><![CDATA[text]]></MsgType><Content><![CDATA[代收]]></Content>\
                    <MsgId>8</MsgId></xml>";
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("push.xml");
        std::fs::write(
            &path,
            format!(
                "<xml><ToUserName><![CDATA[gh_wxa]]></ToUserName><Encrypt><![CDATA[{}]]></Encrypt></xml>",
                encrypt(&key, COMPONENT_APPID, push)
            ),
        )
        .expect("write push.xml");
        let path = path.to_str().expect("utf-8 path");
        let url = format!("http://127.0.0.1:{}/wechat", closed_port());
        assert!(flags(&url, &["parse", path]).ok().contains("代收"));
        assert!(file(&url, &["--authorizer", "wxa", "parse", path])
            .ok()
            .contains("代收"));
    }

    #[test]
    fn component_usage_errors_exit_2() {
        let url = format!("http://127.0.0.1:{}/wechat", closed_port());
        let usage = |args: &[&str], want: &[&str]| {
            let run = sim_run(args);
            assert_eq!(run.code, Some(2), "{args:?}\n{run}");
            assert!(run.stdout.is_empty(), "{args:?}: nothing sent\n{run}");
            for want in want {
                assert!(run.stderr.contains(want), "{args:?}: want {want:?}\n{run}");
            }
        };
        let accounts = super::ACCOUNTS;
        let mut component = vec![
            "--url",
            url.as_str(),
            "--component-appid",
            COMPONENT_APPID,
            "--token",
            COMPONENT_TOKEN,
            "--aes-key",
            COMPONENT_KEY,
        ];
        // Component mode needed.
        usage(
            &["--url", &url, "--authorizer", "wxa", "text", "x"],
            &[
                "--authorizer names an account that authorized a third-party platform",
                "--component-appid APPID",
                "[open_platform]",
            ],
        );
        usage(
            &["--url", &url, "ticket", "T"],
            &[
                "`ticket` sends a third-party platform's authorization event",
                "--component-appid APPID",
            ],
        );
        usage(
            &["--url", &url, "unauthorized", "--authorizer", "wxa"],
            &["--authorizer names an account"],
        );
        usage(
            &["--url", &url, "--config", accounts, "ticket", "T"],
            &["has no [open_platform] table: `ticket` needs a third-party platform's"],
        );
        usage(
            &[
                "--url",
                &url,
                "--config",
                accounts,
                "--authorizer",
                "wxa",
                "text",
                "x",
            ],
            &["has no [open_platform] table: --authorizer needs"],
        );
        usage(
            &[
                "--url",
                &url,
                "--config",
                FILE,
                "--account",
                "plain",
                "ticket",
                "T",
            ],
            &[
                "--account plain names an account of an accounts file",
                "drop --account",
            ],
        );
        let mut with_account = component.clone();
        with_account.extend(["--account", "plain", "ticket", "T"]);
        usage(
            &with_account,
            &["--account plain names an account of an accounts file, but in component mode"],
        );
        usage(
            &["--url", &url, "--config", FILE, "--component-appid", "wxother", "ticket", "T"],
            &[&format!("--component-appid wxother is not the component of {FILE}, whose [open_platform] appid is {COMPONENT_APPID}")],
        );
        usage(
            &[
                "--url", &url, "--config", FILE, "--token", "x", "ticket", "T",
            ],
            &["drop --token"],
        );
        // The flags: a key, and no account's AppID or compatible mode.
        usage(
            &[
                "--url",
                &url,
                "--component-appid",
                COMPONENT_APPID,
                "ticket",
                "T",
            ],
            &["--component-appid needs --aes-key"],
        );
        let mut with_appid = component.clone();
        with_appid.extend(["--appid", "wxa", "--compatible", "ticket", "T"]);
        usage(&with_appid, &["drop --appid, --compatible"]);
        // The authorizer: needed by pushes and account events, not by the
        // ticket; an AppID.
        let with = |extra: &[&'static str]| {
            let mut all = component.clone();
            all.extend_from_slice(extra);
            all
        };
        usage(
            &with(&["text", "x"]),
            &["give --authorizer APPID (and --to"],
        );
        usage(&with(&["verify"]), &["give --authorizer APPID"]);
        usage(
            &with(&["authorized", "--code", "C"]),
            &["`authorized` is about an account that authorized the component: give --authorizer APPID"],
        );
        usage(
            &with(&["unauthorized"]),
            &["`unauthorized` is about an account"],
        );
        usage(
            &with(&["ticket", "T", "--authorizer", "wxa"]),
            &["`ticket` is the component's own event, about no account: drop --authorizer"],
        );
        usage(
            &with(&["--authorizer", "wx/a", "text", "x"]),
            &["--authorizer \"wx/a\" is not an AppID"],
        );
        // clap's own: `authorized` without its code.
        component.extend(["--authorizer", "wxa", "authorized"]);
        let run = sim_run(&component);
        assert_eq!(run.code, Some(2), "{run}");
        assert!(run.stderr.contains("--code"), "{run}");
    }
}

// ---- wechat-admin: the API around the pushes, against the API stand-in ----

mod admin {
    use super::{finish, Run};
    use std::path::Path;
    use std::process::Command;
    use wechat_events::testing::api::STAND_IN_TEMPLATE_ID;
    use wechat_events::testing::{ApiStandIn, STAND_IN_APPID, STAND_IN_SECRET};

    const MENU: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/menu.toml");

    /// `wechat-admin` with none of the variables it reads set.
    fn command() -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_wechat-admin"));
        for var in [
            "WECHAT_APPID",
            "WECHAT_APPSECRET",
            "WECHAT_API_BASE",
            "WECHAT_MP_BASE",
            "WECHAT_REDIS_URL",
            "WECHAT_REDIS_PREFIX",
            "WECHAT_CONFIG",
        ] {
            cmd.env_remove(var);
        }
        cmd
    }

    /// Runs `wechat-admin ARGS…` with `env`; checks that no secret or
    /// token was printed.
    fn run_with(args: &[&str], env: &[(&str, &str)]) -> Run {
        let output = command()
            .envs(env.iter().copied())
            .args(args)
            .output()
            .expect("run wechat-admin");
        let run = finish(output);
        for secret in [STAND_IN_SECRET, "token-1", "token-2", "news-app-secret"] {
            assert!(
                !run.stdout.contains(secret) && !run.stderr.contains(secret),
                "{secret:?} printed\n{run}"
            );
        }
        run
    }

    /// Runs `wechat-admin ARGS…` as the stand-in's account.
    fn admin(wechat: &ApiStandIn, args: &[&str]) -> Run {
        let base = wechat.base_url();
        run_with(
            args,
            &[
                ("WECHAT_APPID", STAND_IN_APPID),
                ("WECHAT_APPSECRET", STAND_IN_SECRET),
                ("WECHAT_API_BASE", &base),
                ("WECHAT_MP_BASE", &base),
            ],
        )
    }

    fn usage_error(run: &Run, want: &str) {
        assert_eq!(run.code, Some(2), "{run}");
        assert!(run.stderr.contains(want), "want {want:?}\n{run}");
    }

    #[test]
    fn every_subcommand_against_the_stand_in() {
        let wechat = ApiStandIn::start();
        let dir = tempfile::tempdir().expect("dir");
        let path = |name: &str| dir.path().join(name).to_str().expect("utf-8").to_owned();

        assert_eq!(admin(&wechat, &["menu", "get"]).ok(), "no menu\n");
        let run = admin(&wechat, &["menu", "set", MENU]);
        assert_eq!(
            run.ok(),
            "menu set: 3 top-level buttons, 9 buttons; keys: COUNT, SLOW, PANIC, SCAN, PHOTO, \
             ALBUM, WXALBUM, PLACE\n"
        );
        let set = wechat.menu().expect("a menu");
        assert_eq!(
            set["button"][1]["sub_button"][0]["type"],
            "scancode_waitmsg"
        );
        let run = admin(&wechat, &["menu", "get"]);
        let got: serde_json::Value = serde_json::from_str(run.ok()).expect("JSON");
        assert_eq!(got["menu"]["button"], set["button"], "{run}");
        // What `menu get` prints sets the menu again.
        let saved = path("menu.json");
        std::fs::write(&saved, &run.stdout).expect("save");
        admin(&wechat, &["menu", "set", &saved]).ok();
        assert_eq!(wechat.calls_to("/cgi-bin/menu/create").len(), 2);
        assert_eq!(wechat.menu(), Some(set));

        let png = path("poster-7.png");
        let run = admin(
            &wechat,
            &["qrcode", "create", "--scene", "poster-7", "--png", &png],
        );
        let out = run.ok();
        let ticket = out
            .lines()
            .find_map(|l| l.strip_prefix("ticket: "))
            .expect("a ticket line");
        assert_eq!(
            wechat.ticket_scene(ticket),
            Some(serde_json::json!({"scene_str": "poster-7"}))
        );
        for want in [
            "url: http://weixin.qq.com/q/",
            &format!("image: {}/cgi-bin/showqrcode?ticket=", wechat.base_url()),
            "expires in: 2592000 s",
            "scene: poster-7 (a new follower's subscribe carries EventKey qrscene_poster-7",
            "saved ",
        ] {
            assert!(out.contains(want), "want {want:?}\n{run}");
        }
        let image = std::fs::read(&png).expect("the image");
        assert!(image.starts_with(b"\x89PNG") && image.ends_with(ticket.as_bytes()));
        let run = admin(
            &wechat,
            &["qrcode", "create", "--scene-id", "42", "--permanent"],
        );
        assert!(run.ok().contains("expires: never (permanent)"), "{run}");
        admin(
            &wechat,
            &["qrcode", "create", "--scene", "123", "--expire", "600"],
        )
        .ok();
        let bodies: Vec<_> = wechat
            .calls_to("/cgi-bin/qrcode/create")
            .into_iter()
            .map(|c| c.body)
            .collect();
        assert_eq!(bodies[1]["action_name"], "QR_LIMIT_SCENE");
        assert_eq!(bodies[1]["action_info"]["scene"]["scene_id"], 42);
        assert_eq!(
            bodies[2]["action_name"], "QR_STR_SCENE",
            "--scene is a string scene"
        );
        assert_eq!(bodies[2]["action_info"]["scene"]["scene_str"], "123");
        assert_eq!(bodies[2]["expire_seconds"], 600);

        let cat = path("cat.png");
        std::fs::write(&cat, b"\x89PNG cat").expect("write");
        let run = admin(&wechat, &["media", "upload", &cat, "--type", "image"]);
        let media_id = run
            .ok()
            .lines()
            .find_map(|l| l.strip_prefix("media_id: "))
            .expect("a media_id line")
            .to_owned();
        assert_eq!(wechat.media(&media_id).expect("kept").bytes, b"\x89PNG cat");
        let back = path("back.png");
        let run = admin(&wechat, &["media", "get", &media_id, "--out", &back]);
        assert!(run.ok().contains("(8 bytes, image/png)"), "{run}");
        assert_eq!(std::fs::read(&back).expect("saved"), b"\x89PNG cat");

        wechat.add_follower("oFan");
        wechat.add_follower("oOther");
        let run = admin(&wechat, &["user", "info", "oFan"]);
        let info: serde_json::Value = serde_json::from_str(run.ok()).expect("JSON");
        assert_eq!(info["openid"], "oFan");
        assert_eq!(info["subscribe"], 1);
        assert_eq!(admin(&wechat, &["user", "list"]).ok(), "oFan\noOther\n");

        let run = admin(
            &wechat,
            &[
                "template",
                "send",
                "--to",
                "oFan",
                "--template",
                STAND_IN_TEMPLATE_ID,
                "--data",
                "keyword1=已发货",
                "--data",
                "keyword2=a=b",
                "--url",
                "https://e.x/1",
            ],
        );
        assert!(run.ok().starts_with("msgid: "), "{run}");
        assert_eq!(
            wechat.template_messages(),
            [
                serde_json::json!({"touser": "oFan", "template_id": STAND_IN_TEMPLATE_ID,
                "url": "https://e.x/1",
                "data": {"keyword1": {"value": "已发货"}, "keyword2": {"value": "a=b"}}})
            ]
        );
        let run = admin(
            &wechat,
            &[
                "template",
                "subscribe",
                "--to",
                "oFan",
                "--template",
                STAND_IN_TEMPLATE_ID,
                "--data",
                "thing1=到货",
            ],
        );
        assert_eq!(run.ok(), "sent\n");
        assert_eq!(wechat.subscribe_messages().len(), 1);

        assert_eq!(admin(&wechat, &["menu", "delete"]).ok(), "menu deleted\n");
        assert_eq!(wechat.menu(), None);
        // Each process fetched its stable token; none forced a refresh.
        assert!(wechat
            .calls_to("/cgi-bin/stable_token")
            .iter()
            .all(|c| c.body["force_refresh"] == false));
    }

    #[test]
    fn limits_usage_and_refusals_exit_with_their_codes() {
        let wechat = ApiStandIn::start();
        let dir = tempfile::tempdir().expect("dir");
        let four = dir.path().join("four.toml");
        std::fs::write(
            &four,
            (0..4)
                .map(|i| format!("[[button]]\ntype = \"click\"\nname = \"b{i}\"\nkey = \"K{i}\"\n"))
                .collect::<String>(),
        )
        .expect("write");
        let four = four.to_str().expect("utf-8");
        let run = admin(&wechat, &["menu", "set", four]);
        usage_error(
            &run,
            "button: has 4 buttons; a menu has at most 3 top-level buttons",
        );
        let typo = dir.path().join("typo.toml");
        std::fs::write(
            &typo,
            "[[button]]\ntype = \"click\"\nname = \"a\"\nkye = \"K\"\n",
        )
        .expect("write");
        let run = admin(&wechat, &["menu", "set", typo.to_str().expect("utf-8")]);
        usage_error(&run, "button[0].kye: is not a field of a button");
        let long = "x".repeat(65);
        let run = admin(&wechat, &["qrcode", "create", "--scene", &long]);
        usage_error(
            &run,
            "scene_str: is 65 characters; a scene_str is at most 64",
        );
        let run = admin(
            &wechat,
            &["qrcode", "create", "--scene-id", "100001", "--permanent"],
        );
        usage_error(&run, "a permanent code's scene_id is 1 to 100000");
        let big = dir.path().join("big.jpg");
        std::fs::write(&big, vec![0u8; 64 * 1024 + 1]).expect("write");
        let run = admin(
            &wechat,
            &[
                "media",
                "upload",
                big.to_str().expect("utf-8"),
                "--type",
                "thumb",
            ],
        );
        usage_error(&run, "a thumb is at most 65536 bytes (64 KB)");
        assert!(
            wechat.calls().is_empty(),
            "none of them sent: {:?}",
            wechat.calls()
        );

        // Usage.
        let run = admin(
            &wechat,
            &[
                "qrcode",
                "create",
                "--scene",
                "a",
                "--permanent",
                "--expire",
                "60",
            ],
        );
        usage_error(&run, "cannot be used with");
        let run = admin(&wechat, &["qrcode", "create"]);
        usage_error(&run, "--scene");
        let run = admin(&wechat, &["media", "upload", four, "--type", "gif"]);
        usage_error(&run, "is not image, voice, video or thumb");
        let run = run_with(&["menu", "get"], &[("WECHAT_APPID", STAND_IN_APPID)]);
        usage_error(&run, "WECHAT_APPSECRET is not set");
        let run = admin(&wechat, &["--account", "news", "menu", "get"]);
        usage_error(
            &run,
            "--account news names an account of an accounts file: give the file with --config FILE",
        );

        // WeChat refuses: exit 1, its errcode shown.
        let run = admin(&wechat, &["media", "get", "no-such-media", "--out", four]);
        assert_eq!(run.code, Some(1), "{run}");
        assert!(
            run.stderr
                .contains("WeChat answered errcode 40007: invalid media_id"),
            "{run}"
        );
        let run = run_with(
            &["menu", "get"],
            &[
                ("WECHAT_APPID", STAND_IN_APPID),
                ("WECHAT_APPSECRET", "wrong-secret"),
                ("WECHAT_API_BASE", &wechat.base_url()),
            ],
        );
        assert_eq!(run.code, Some(1), "{run}");
        assert!(run.stderr.contains("errcode 40125"), "{run}");
        // Nothing there: exit 1, the cause shown, no URL (it would hold the token).
        let run = run_with(
            &["menu", "get"],
            &[
                ("WECHAT_APPID", STAND_IN_APPID),
                ("WECHAT_APPSECRET", STAND_IN_SECRET),
                (
                    "WECHAT_API_BASE",
                    &format!("http://127.0.0.1:{}", super::closed_port()),
                ),
            ],
        );
        assert_eq!(run.code, Some(1), "{run}");
        assert!(
            run.stderr.contains("request to the WeChat API failed: "),
            "{run}"
        );
    }

    /// An accounts file: `news` with the stand-in's AppID and secret,
    /// `shop` without an app_secret; the API base in `[server]`.
    fn accounts_file(dir: &Path, base: &str) -> String {
        let file = dir.join("accounts.toml");
        std::fs::write(
            &file,
            format!(
                "[server]\napi_base = \"{base}\"\n\n\
                 [[accounts]]\nname = \"news\"\ntoken = \"env:NEWS_TOKEN\"\nappid = \"{STAND_IN_APPID}\"\n\
                 app_secret = \"env:NEWS_APPSECRET\"\n\n\
                 [[accounts]]\nname = \"shop\"\ntoken = \"env:NEWS_TOKEN\"\nappid = \"wx_shop\"\n"
            ),
        )
        .expect("write");
        file.to_str().expect("utf-8").to_owned()
    }

    #[test]
    fn config_and_account_name_the_credentials() {
        let wechat = ApiStandIn::start();
        let dir = tempfile::tempdir().expect("dir");
        let file = accounts_file(dir.path(), &wechat.base_url());
        // The stand-in's secret is what the file reads from NEWS_APPSECRET.
        let env = [
            ("NEWS_TOKEN", "newstoken"),
            ("NEWS_APPSECRET", STAND_IN_SECRET),
        ];
        let run = run_with(
            &["--config", &file, "--account", "news", "menu", "get"],
            &env,
        );
        assert_eq!(run.ok(), "no menu\n");
        assert_eq!(
            wechat.calls_to("/cgi-bin/stable_token")[0].body["appid"],
            STAND_IN_APPID
        );
        // The global flags go after the subcommand too.
        let run = run_with(
            &["menu", "get", "--config", &file, "--account", "news"],
            &env,
        );
        assert_eq!(run.ok(), "no menu\n");

        let run = run_with(&["--config", &file, "menu", "get"], &env);
        usage_error(
            &run,
            "has 2 accounts: choose one with --account NAME (news, shop)",
        );
        let run = run_with(
            &["--config", &file, "--account", "nwes", "menu", "get"],
            &env,
        );
        usage_error(
            &run,
            "has no account \"nwes\" (did you mean \"news\"?); its accounts: news, shop",
        );
        let run = run_with(
            &["--config", &file, "--account", "shop", "menu", "get"],
            &env,
        );
        usage_error(&run, "account \"shop\" of ");
        assert!(run.stderr.contains("has no app_secret"), "{run}");
        let run = run_with(
            &["--config", &file, "--account", "news", "menu", "get"],
            &[("NEWS_TOKEN", "newstoken")],
        );
        usage_error(&run, "NEWS_APPSECRET");
        let mut beside = env.to_vec();
        beside.push(("WECHAT_APPSECRET", "news-app-secret"));
        let run = run_with(
            &["--config", &file, "--account", "news", "menu", "get"],
            &beside,
        );
        usage_error(
            &run,
            "--config takes the account's AppID and AppSecret from the accounts file: unset WECHAT_APPSECRET",
        );
        let missing = dir.path().join("missing.toml");
        let run = run_with(
            &["--config", missing.to_str().expect("utf-8"), "menu", "get"],
            &env,
        );
        usage_error(&run, "cannot read the accounts file");
    }

    /// A `redis-server` of the test's own on a free port, keeping nothing
    /// on disk (`None` where there is none); killed on drop.
    #[cfg(feature = "redis")]
    struct OwnRedis(std::process::Child, u16);

    #[cfg(feature = "redis")]
    impl OwnRedis {
        fn start() -> Option<OwnRedis> {
            use std::io::{Read, Write};
            let binary =
                std::env::var("REDIS_SERVER").unwrap_or_else(|_| "/usr/bin/redis-server".into());
            if !Path::new(&binary).exists() {
                eprintln!("skipped: no {binary}");
                return None;
            }
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .expect("a free port")
                .port();
            let child = Command::new(binary)
                .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
                .args(["--save", "", "--appendonly", "no"])
                .stdout(std::process::Stdio::null())
                .spawn()
                .expect("start redis-server");
            let redis = OwnRedis(child, port);
            // Ready when it answers PING (a process start, not a timing).
            for _ in 0..500 {
                if let Ok(mut conn) = std::net::TcpStream::connect(("127.0.0.1", port)) {
                    let mut pong = [0; 7];
                    if conn.write_all(b"PING\r\n").is_ok()
                        && conn.read_exact(&mut pong).is_ok()
                        && &pong == b"+PONG\r\n"
                    {
                        return Some(redis);
                    }
                }
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            panic!("redis-server on port {port} did not answer");
        }
    }

    #[cfg(feature = "redis")]
    impl Drop for OwnRedis {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }

    /// With `WECHAT_REDIS_URL`, the command uses the token the bot shares
    /// through Redis: it asks WeChat for none.
    #[cfg(feature = "redis")]
    #[test]
    fn the_token_is_the_bots_through_redis() {
        use wechat_events::redis::{RedisBackend, RedisTokens};
        let Some(redis) = OwnRedis::start() else {
            return;
        };
        let url = format!("redis://127.0.0.1:{}", redis.1);
        let wechat = ApiStandIn::start();
        // The bot: its client fetched token-1 and shared it.
        let backend = RedisBackend::builder(&url)
            .prefix("admintest")
            .build()
            .expect("backend");
        let bot = wechat
            .client_builder()
            .token_store(RedisTokens::new(&backend))
            .build()
            .expect("client");
        let token = actix_rt::System::new()
            .block_on(bot.access_token())
            .expect("token");
        assert_eq!(token, "token-1");
        assert_eq!(wechat.token_calls(), 1);

        let base = wechat.base_url();
        let env = [
            ("WECHAT_APPID", STAND_IN_APPID),
            ("WECHAT_APPSECRET", STAND_IN_SECRET),
            ("WECHAT_API_BASE", base.as_str()),
            ("WECHAT_REDIS_URL", url.as_str()),
            ("WECHAT_REDIS_PREFIX", "admintest"),
        ];
        assert_eq!(run_with(&["menu", "get"], &env).ok(), "no menu\n");
        assert_eq!(
            wechat.token_calls(),
            1,
            "the command fetched no token of its own"
        );
        let get = &wechat.calls_to("/cgi-bin/menu/get")[0];
        assert_eq!(get.access_token.as_deref(), Some("token-1"));
        // Another prefix is another bot's store: that one fetches (normal
        // mode: WeChat hands out the same valid token).
        let mut other = env;
        other[4] = ("WECHAT_REDIS_PREFIX", "elsewhere");
        run_with(&["menu", "get"], &other).ok();
        assert_eq!(wechat.token_calls(), 2);
        assert!(wechat
            .calls_to("/cgi-bin/stable_token")
            .iter()
            .all(|c| c.body["force_refresh"] == false));
    }
}
