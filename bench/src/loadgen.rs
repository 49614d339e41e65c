//! Writes the requests `bench/run.sh` feeds to wrk: one line per request,
//! `PATH?QUERY <TAB> BODY`, each with a fresh nonce (so a fresh signature)
//! and a fresh `MsgId` (text) or user (subscribe), so the service neither
//! de-duplicates nor refuses any of them. Secure mode encrypts each body
//! and signs it with `msg_signature`.
//!
//! ```text
//! wechat-loadgen --kind text|subscribe --count N [--secure] --out FILE [--check FILE]
//! ```
//!
//! Reads `WECHAT_TOKEN` (default `devtoken`), and with `--secure`
//! `WECHAT_AES_KEY` and `WECHAT_APPID`. `--check FILE` also writes one
//! more request, not among the others, for a sanity check with curl.
//! Timestamps are now: the service accepts them for 300 seconds.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use wechat_events::crypto::{self, AesKey};
use wechat_events::signature;

const ACCOUNT: &str = "gh_bench";

struct Args {
    kind: String,
    count: u64,
    secure: bool,
    out: String,
    check: Option<String>,
}

fn usage() -> ExitCode {
    eprintln!(
        "usage: wechat-loadgen --kind text|subscribe --count N [--secure] --out FILE [--check FILE]"
    );
    ExitCode::from(2)
}

fn args() -> Option<Args> {
    let mut args = Args {
        kind: String::new(),
        count: 0,
        secure: false,
        out: String::new(),
        check: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--kind" => args.kind = it.next()?,
            "--count" => args.count = it.next()?.parse().ok()?,
            "--secure" => args.secure = true,
            "--out" => args.out = it.next()?,
            "--check" => args.check = Some(it.next()?),
            _ => return None,
        }
    }
    let known = matches!(args.kind.as_str(), "text" | "subscribe");
    (known && args.count > 0 && !args.out.is_empty()).then_some(args)
}

struct Secure {
    key: AesKey,
    appid: String,
}

struct Generator {
    token: String,
    secure: Option<Secure>,
    kind: String,
    timestamp: String,
    /// Makes this run's nonces, `MsgId`s and users differ from other runs'.
    run: u64,
}

impl Generator {
    /// Request `i`: its path and query, and its body.
    fn request(&self, i: u64) -> (String, String) {
        let nonce = format!("{}{i:09}", self.run);
        let (openid, push) = match self.kind.as_str() {
            "text" => {
                let openid = "oBenchUser".to_owned();
                let msg_id = self.run * 1_000_000_000 + i;
                let xml = format!(
                    "<xml><ToUserName><![CDATA[{ACCOUNT}]]></ToUserName>\
                     <FromUserName><![CDATA[{openid}]]></FromUserName>\
                     <CreateTime>{}</CreateTime><MsgType><![CDATA[text]]></MsgType>\
                     <Content><![CDATA[hi]]></Content><MsgId>{msg_id}</MsgId></xml>",
                    self.timestamp
                );
                (openid, xml)
            }
            _ => {
                // Events are de-duplicated by user and second: a user each.
                let openid = format!("oBench{}u{i}", self.run);
                let xml = format!(
                    "<xml><ToUserName><![CDATA[{ACCOUNT}]]></ToUserName>\
                     <FromUserName><![CDATA[{openid}]]></FromUserName>\
                     <CreateTime>{}</CreateTime><MsgType><![CDATA[event]]></MsgType>\
                     <Event><![CDATA[subscribe]]></Event></xml>",
                    self.timestamp
                );
                (openid, xml)
            }
        };
        let sig = signature::sign(&[&self.token, &self.timestamp, &nonce]);
        let mut uri = format!(
            "/wechat?signature={sig}&timestamp={}&nonce={nonce}&openid={openid}",
            self.timestamp
        );
        let body = match &self.secure {
            None => push,
            Some(s) => {
                let encrypt = crypto::encrypt(&s.key, &s.appid, &push);
                let ms = crypto::msg_signature(&self.token, &self.timestamp, &nonce, &encrypt);
                uri.push_str("&encrypt_type=aes&msg_signature=");
                uri.push_str(&ms);
                format!(
                    "<xml><ToUserName><![CDATA[{ACCOUNT}]]></ToUserName>\
                     <Encrypt><![CDATA[{encrypt}]]></Encrypt></xml>"
                )
            }
        };
        (uri, body)
    }
}

fn write_lines(gen: &Generator, path: &str, range: std::ops::Range<u64>) -> std::io::Result<()> {
    let mut out = BufWriter::with_capacity(1 << 20, File::create(path)?);
    for i in range {
        let (uri, body) = gen.request(i);
        writeln!(out, "{uri}\t{body}")?;
    }
    out.flush()
}

fn main() -> ExitCode {
    let Some(args) = args() else {
        return usage();
    };
    let env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let secure = if args.secure {
        let (Some(key), Some(appid)) = (env("WECHAT_AES_KEY"), env("WECHAT_APPID")) else {
            eprintln!("--secure needs WECHAT_AES_KEY and WECHAT_APPID");
            return ExitCode::from(2);
        };
        match key.parse::<AesKey>() {
            Ok(key) => Some(Secure { key, appid }),
            Err(e) => {
                eprintln!("WECHAT_AES_KEY: {e}");
                return ExitCode::from(2);
            }
        }
    } else {
        None
    };
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970");
    let gen = Generator {
        token: env("WECHAT_TOKEN").unwrap_or_else(|| "devtoken".to_owned()),
        secure,
        kind: args.kind,
        timestamp: now.as_secs().to_string(),
        // Nanoseconds: distinct for every run, small enough to keep
        // `MsgId` within 64 bits.
        run: u64::from(now.subsec_nanos()) % 1_000_000_000 + 1,
    };
    let written = write_lines(&gen, &args.out, 0..args.count).and_then(|()| match &args.check {
        Some(check) => write_lines(&gen, check, args.count..args.count + 1),
        None => Ok(()),
    });
    match written {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("cannot write requests: {e}");
            ExitCode::FAILURE
        }
    }
}
