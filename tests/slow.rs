//! Slow handlers through WeChat's retries, end to end: the quickstart's
//! `等 N` (sleeps N seconds, replies `等了 N 秒`) against the simulator
//! playing WeChat — 5 s per try, the same bytes resent, three tries.
//!
//! The service holds the first two tries open while the handler runs, so
//! a reply ready within about 14 s answers whichever try is open; later,
//! the third try is answered with the slow tip and the reply is delivered
//! through the customer-service API (with an AppSecret) or with the
//! user's next message. Each test runs its pushes concurrently, so the
//! file takes about as long as its slowest push (~22 s).

mod common;

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use common::*;
use wechat_events::api::ApiClient;
use wechat_events::pending::{more_note, MemoryPending, PendingStore};
use wechat_events::testing::{
    ApiStandIn, Retried, SimPush, Simulator, TestServer, STAND_IN_APPID, STAND_IN_SECRET,
};
use wechat_events::{Config, Context, Reply, Router, TextMessage, WechatService};

const TIP: &str = "正在处理，请稍候";

/// Sends `等 {n}` from a fresh user with WeChat's retries; returns the
/// user's simulator, what answered, and when.
async fn wait_for(url: &str, n: u64) -> (Simulator, Retried, Duration) {
    let sim = sim();
    let prepared = sim.prepare(&SimPush::text(format!("等 {n}")));
    let started = Instant::now();
    let retried = sim
        .deliver_with_retries(url, &prepared)
        .await
        .unwrap_or_else(|e| panic!("等 {n}: {e}"));
    (sim, retried, started.elapsed())
}

#[actix_rt::test]
async fn replies_come_on_the_try_that_is_open_and_later_ones_wait_for_the_next_message() {
    // A 3 s deadline leaves each try's answer 2 s of WeChat's 5 s for a
    // loaded machine.
    let qs = Quickstart::start(&[("WECHAT_SLOW_TIP", TIP), ("WECHAT_DEADLINE_MS", "3000")]);
    let url = qs.url.as_str();
    let started = Instant::now();
    let (three, seven, twelve, twenty) = futures_util::join!(
        wait_for(url, 3),
        wait_for(url, 7),
        wait_for(url, 12),
        wait_for(url, 20),
    );

    // Ready within the first try's 5 s: answered on it.
    let (_, retried, _) = three;
    assert_eq!(retried.answered_on_try(), 1, "{:?}", retried.failures);
    assert_eq!(retried.response.text(), Some("等了 3 秒"));

    // The first try was held until WeChat hung up; the second, held in
    // turn, carries the reply. Had the retry run the handler again, the
    // answer would have taken at least 12 s.
    let (_, retried, took) = seven;
    assert_eq!(retried.answered_on_try(), 2, "{:?}", retried.failures);
    assert_eq!(retried.response.text(), Some("等了 7 秒"));
    assert!(took < Duration::from_secs(11), "{took:?}");

    let (_, retried, took) = twelve;
    assert_eq!(retried.answered_on_try(), 3, "{:?}", retried.failures);
    assert_eq!(retried.response.text(), Some("等了 12 秒"));
    assert!(took < Duration::from_secs(16), "{took:?}");

    // Longer than the last try can wait: the tip, by its deadline.
    let (user, retried, _) = twenty;
    assert_eq!(retried.answered_on_try(), 3, "{:?}", retried.failures);
    assert_eq!(retried.response.text(), Some(TIP));

    // The handler finishes at 20 s; no API is configured, so the reply
    // waits for the user's next message, and answers it together with
    // that message's own reply: the user is not left a reply behind.
    tokio::time::sleep(Duration::from_secs(22).saturating_sub(started.elapsed())).await;
    let next = send(&user, url, SimPush::text("在吗")).await;
    assert_eq!(next.text(), Some("等了 20 秒\n\n收到:在吗"));
    let after = send(&user, url, SimPush::text("好的")).await;
    assert_eq!(after.text(), Some("收到:好的"));
    // Another user's messages were never touched.
    let other = send(&sim(), url, SimPush::text("hi")).await;
    assert_eq!(other.text(), Some("收到:hi"));
}

#[actix_rt::test]
async fn with_an_appsecret_a_late_reply_goes_through_the_customer_service_api() {
    let wechat = ApiStandIn::start();
    let base = wechat.base_url();
    let qs = Quickstart::start(&[
        ("WECHAT_APPID", STAND_IN_APPID),
        ("WECHAT_APPSECRET", STAND_IN_SECRET),
        ("WECHAT_API_BASE", base.as_str()),
        ("WECHAT_DEADLINE_MS", "3000"),
    ]);
    let (user, retried, took) = wait_for(&qs.url, 20).await;
    assert_eq!(retried.answered_on_try(), 3, "{:?}", retried.failures);
    // No tip configured: `success`, the user sees nothing yet.
    assert!(retried.response.is_no_reply(), "{:?}", retried.response);
    assert!(wechat.custom_messages().is_empty());

    // At 20 s the reply is sent to the user as a customer-service text.
    let deadline = Instant::now() + Duration::from_secs(25).saturating_sub(took);
    let messages = loop {
        let messages = wechat.custom_messages();
        if !messages.is_empty() || Instant::now() > deadline {
            break messages;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(messages.len(), 1, "{messages:?}");
    assert_eq!(messages[0]["touser"], user.user());
    assert_eq!(messages[0]["msgtype"], "text");
    assert_eq!(messages[0]["text"]["content"], "等了 20 秒");
    assert_eq!(wechat.token_calls(), 1);
    // Nothing was left pending: the next message gets its own reply.
    let next = send(&user, qs.url.as_str(), SimPush::text("在吗")).await;
    assert_eq!(next.text(), Some("收到:在吗"));
}

async fn typing_then_answer(_: TextMessage, cx: Context, api: ApiClient) -> String {
    match api.typing(cx.openid(), true).await {
        Ok(()) => "typed".to_owned(),
        Err(e) => format!("typing failed: {e}"),
    }
}

#[actix_rt::test]
async fn handlers_take_the_services_api_client() {
    let wechat = ApiStandIn::start();
    let config = Config::builder(TOKEN).build().unwrap();
    let service = WechatService::builder(config.clone())
        .only(Router::new().on(typing_then_answer))
        .api_client(wechat.client_builder().build().unwrap())
        .build()
        .unwrap();
    let server = TestServer::builder(service).start();
    let user = sim();
    let answer = send(&user, &server, SimPush::text("hi")).await;
    assert_eq!(answer.text(), Some("typed"));
    let typing: Vec<_> = wechat
        .calls()
        .into_iter()
        .filter(|c| c.path == "/cgi-bin/message/custom/typing")
        .collect();
    assert_eq!(typing.len(), 1);
    assert_eq!(typing[0].body["touser"], user.user());
    server.stop().await;

    // Without a client (no AppSecret), the extractor fails: the handler
    // does not run and the push is answered `success`.
    let service = WechatService::builder(config)
        .only(Router::new().on(typing_then_answer))
        .build()
        .unwrap();
    let server = TestServer::builder(service).start();
    assert!(send(&sim(), &server, SimPush::text("hi"))
        .await
        .is_no_reply());
    server.stop().await;
}

// ---- pending replies: delivered with the next push, kept across a restart ----

/// This binary's log, for the tests that read it.
fn log() -> &'static CapturedLog {
    static LOG: OnceLock<CapturedLog> = OnceLock::new();
    LOG.get_or_init(CapturedLog::install)
}

/// `慢` takes 600 ms and replies `慢好了`; anything else is echoed.
async fn slowly(msg: TextMessage) -> String {
    if msg.content == "慢" {
        tokio::time::sleep(Duration::from_millis(600)).await;
        return "慢好了".to_owned();
    }
    format!("收到:{}", msg.content)
}

/// A config whose first try answers by a 200 ms deadline, so a `慢`
/// reply is late (and pending, with no API) within a second.
fn quick_config() -> wechat_events::config::ConfigBuilder {
    Config::builder(TOKEN)
        .deadline(Duration::from_millis(200))
        .wait_retries(0)
}

/// Sends `慢` from `user`, and drains `service` until its late reply has
/// been delivered (to the pending store).
async fn leave_a_late_reply(user: &Simulator, server: &TestServer, service: &WechatService) {
    let answer = send(user, server, SimPush::text("慢")).await;
    assert!(answer.is_no_reply(), "answered by the deadline: {answer:?}");
    assert!(
        service.drain(Duration::from_secs(5)).await,
        "the handler finished"
    );
}

#[actix_rt::test]
async fn with_a_state_dir_a_pending_reply_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let config = quick_config().state_dir(dir.path()).build().unwrap();
    let build = || {
        WechatService::builder(config.clone())
            .only(Router::new().on(slowly))
            .build()
            .unwrap()
    };
    let user = sim();
    let service = build();
    let server = TestServer::builder(service.clone()).start();
    leave_a_late_reply(&user, &server, &service).await;
    server.stop().await;
    drop(service);
    assert!(
        dir.path().join(wechat_events::state::FILE_NAME).exists(),
        "the pending reply is in the state directory"
    );

    // A new service (a restarted bot) on the same directory.
    let server = TestServer::builder(build()).start();
    let next = send(&user, &server, SimPush::text("在吗")).await;
    assert_eq!(next.text(), Some("慢好了\n\n收到:在吗"));
    let after = send(&user, &server, SimPush::text("好的")).await;
    assert_eq!(after.text(), Some("收到:好的"), "delivered once");
    server.stop().await;
}

#[actix_rt::test]
async fn without_a_state_dir_a_reply_still_pending_at_drain_is_logged() {
    let log = log();
    let service = WechatService::builder(quick_config().build().unwrap())
        .only(Router::new().on(slowly))
        .build()
        .unwrap();
    let server = TestServer::builder(service.clone()).start();
    let user = sim();
    leave_a_late_reply(&user, &server, &service).await;
    server.stop().await;
    let text = log.text();
    let line = text
        .lines()
        .find(|l| l.contains(user.user()) && l.contains("still held in memory at shutdown"))
        .unwrap_or_else(|| panic!("no line for {} in:\n{text}", user.user()));
    assert!(
        line.contains("WARN") && line.contains(r#"reply="text""#),
        "{line}"
    );
}

/// A service answering with `slowly`, its pending replies in `store`,
/// with the API of `wechat` if given.
fn with_pending(store: &MemoryPending, wechat: Option<&ApiStandIn>) -> WechatService {
    let mut builder = WechatService::builder(quick_config().build().unwrap())
        .only(Router::new().on(slowly))
        .pending_store(store.clone());
    if let Some(wechat) = wechat {
        builder = builder.api_client(wechat.client_builder().build().unwrap());
    }
    builder.build().unwrap()
}

#[actix_rt::test]
async fn without_the_api_the_oldest_answers_and_says_how_many_wait() {
    let store = MemoryPending::new(1 << 20, Duration::from_secs(600));
    let server = TestServer::builder(with_pending(&store, None)).start();
    let user = sim();
    let image = Reply::image("media-1");
    store
        .queue(
            user.user().to_owned(),
            vec![Reply::text("早的"), image.clone()],
        )
        .await;
    let first = send(&user, &server, SimPush::text("1")).await;
    assert_eq!(
        first.text(),
        Some(format!("早的\n\n{}", more_note(2)).as_str()),
        "the image and this push's own reply wait"
    );
    let second = send(&user, &server, SimPush::text("2")).await;
    assert_eq!(second.reply(), Some(&image));
    let third = send(&user, &server, SimPush::text("3")).await;
    assert_eq!(
        third.text(),
        Some("收到:1\n\n收到:2\n\n收到:3"),
        "caught up"
    );
    assert_eq!(store.len(user.user()), 0);
    server.stop().await;
}

#[actix_rt::test]
async fn with_the_api_the_pending_reply_answers_and_the_own_one_goes_through_the_api() {
    let wechat = ApiStandIn::start();
    let store = MemoryPending::new(1 << 20, Duration::from_secs(600));
    let service = with_pending(&store, Some(&wechat));
    let server = TestServer::builder(service.clone()).start();
    let user = sim();
    let image = Reply::image("media-1");
    store
        .queue(user.user().to_owned(), vec![image.clone()])
        .await;
    let answer = send(&user, &server, SimPush::text("在吗")).await;
    assert_eq!(answer.reply(), Some(&image));
    assert!(service.drain(Duration::from_secs(5)).await);
    let messages = wechat.custom_messages();
    assert_eq!(messages.len(), 1, "{messages:?}");
    assert_eq!(messages[0]["touser"], user.user());
    assert_eq!(messages[0]["text"]["content"], "收到:在吗");
    assert_eq!(store.len(user.user()), 0, "nothing left waiting");
    server.stop().await;
}

// ---- long replies: cut into parts, through the API or one per push ----

use wechat_events::split::{unhinted, DEFAULT_CONTINUE_HINT as HINT, TEXT_LIMIT};

/// A ZWJ family: 25 bytes that must stay together.
const FAMILY: &str = "👨‍👩‍👧‍👦";

/// `n` characters of numbered Chinese sentences (`第1句……。`), no spaces.
fn sentences(n: usize) -> String {
    (1..)
        .flat_map(|i| format!("第{i}句……。").chars().collect::<Vec<_>>())
        .take(n)
        .collect()
}

/// The texts of the long-reply tests, by the message that asks for them.
fn long_text(name: &str) -> Option<String> {
    Some(match name {
        "zh682" => "你".repeat(682),
        "zh683" => "你".repeat(683),
        "zh20000" => sentences(20_000),
        "a2047" => "a".repeat(2047),
        "a2048" => "a".repeat(2048),
        // Emoji at every cut point: a run of families shifted by 0–24
        // bytes, so each cut falls at another place of a family.
        name => {
            let shift: usize = name.strip_prefix("emoji")?.parse().ok()?;
            format!("{}{}", "x".repeat(shift), FAMILY.repeat(200))
        }
    })
}

const LONG_CASES: &[&str] = &[
    "zh682", "zh683", "a2047", "a2048", "zh20000", "emoji0", "emoji7", "emoji13", "emoji24",
];

async fn long(msg: TextMessage) -> String {
    long_text(&msg.content).unwrap_or_else(|| format!("收到:{}", msg.content))
}

/// A menu click answered with 20,000 characters.
async fn long_click(_: wechat_events::ClickEvent) -> String {
    sentences(20_000)
}

fn long_service(store: &MemoryPending, wechat: Option<&ApiStandIn>) -> WechatService {
    let mut builder = WechatService::builder(Config::builder(TOKEN).build().unwrap())
        .only(Router::new().on(long).on(long_click))
        .pending_store(store.clone());
    if let Some(wechat) = wechat {
        builder = builder.api_client(wechat.client_builder().build().unwrap());
    }
    builder.build().unwrap()
}

/// Checks the parts a user received of `name`'s text: each within the
/// limit, every emoji whole, and together (minus hints) the text itself.
fn assert_parts(name: &str, parts: &[String]) {
    let text = long_text(name).unwrap();
    let mut joined = String::new();
    for (i, part) in parts.iter().enumerate() {
        assert!(
            part.len() <= TEXT_LIMIT,
            "{name}: part {i} has {} bytes",
            part.len()
        );
        let body = unhinted(part, HINT);
        if name.starts_with("emoji") {
            let families = body.trim_start_matches('x');
            assert!(
                families.split(FAMILY).all(str::is_empty),
                "{name}: part {i} cuts a family"
            );
        }
        joined.push_str(body);
    }
    assert_eq!(joined.len(), text.len(), "{name}: {} parts", parts.len());
    assert!(
        joined == text,
        "{name}: the parts do not join back in order"
    );
}

#[actix_rt::test]
async fn long_replies_without_the_api_come_one_part_per_push() {
    let store = MemoryPending::new(1 << 24, Duration::from_secs(600));
    let server = TestServer::builder(long_service(&store, None)).start();
    for &name in LONG_CASES {
        let user = sim();
        let mut parts = vec![send(&user, &server, SimPush::text(name)).await];
        // Any message brings the next part; 继续 brings only that.
        let mut asked = 0;
        while parts
            .last()
            .and_then(|r| r.text())
            .is_some_and(|t| t.ends_with(HINT))
        {
            asked += 1;
            assert!(asked < 40, "{name}: no end");
            let ask = if asked == 2 { "别的" } else { "继续" };
            parts.push(send(&user, &server, SimPush::text(ask)).await);
        }
        let texts: Vec<String> = (parts.iter())
            .map(|r| {
                r.text()
                    .unwrap_or_else(|| panic!("{name}: {r:?}"))
                    .to_owned()
            })
            .collect();
        let expected = long_text(name)
            .unwrap()
            .len()
            .div_ceil(TEXT_LIMIT - HINT.len() - 1);
        if long_text(name).unwrap().len() <= TEXT_LIMIT {
            assert_eq!(texts.len(), 1, "{name}");
        } else {
            assert!(
                (expected..=expected + 1).contains(&texts.len()),
                "{name}: {}",
                texts.len()
            );
        }
        // The one time the user asked with another message, its own reply
        // waits behind the long one.
        let own = texts.len() > 2;
        let last = texts.last().unwrap().clone();
        let mut parts = texts.clone();
        if own {
            let note = format!("\n\n{}", more_note(1));
            let trimmed = last
                .strip_suffix(&note)
                .unwrap_or_else(|| panic!("{name}: {last}"));
            *parts.last_mut().unwrap() = trimmed.to_owned();
        }
        assert_parts(name, &parts);
        let after = send(&user, &server, SimPush::text("之后")).await;
        let expected = if own {
            "收到:别的\n\n收到:之后"
        } else {
            "收到:之后"
        };
        assert_eq!(after.text(), Some(expected), "{name}: nothing else waits");
        assert_eq!(store.len(user.user()), 0);
    }
    server.stop().await;
}

/// Waits until the stand-in's messages to `openid` stop at `settled`.
async fn api_messages(
    wechat: &ApiStandIn,
    openid: &str,
    settled: impl Fn(&[String]) -> bool,
) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let messages: Vec<String> = (wechat.custom_messages().iter())
            .filter(|m| m["touser"] == openid)
            .map(|m| m["text"]["content"].as_str().unwrap_or_default().to_owned())
            .collect();
        if settled(&messages) || Instant::now() > deadline {
            return messages;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Sends `name`, then 继续 while parts wait, collecting the passive parts
/// and the API's messages in the order the user sees them.
async fn read_through_the_api(
    name: &str,
    wechat: &ApiStandIn,
    store: &MemoryPending,
    server: &TestServer,
) -> Vec<String> {
    let text = long_text(name).unwrap();
    let user = sim();
    let mut seen: Vec<String> = Vec::new();
    let mut api_seen = 0;
    let mut ask = name;
    for _ in 0..20 {
        let answer = send(&user, server, SimPush::text(ask)).await;
        seen.push(
            answer
                .text()
                .unwrap_or_else(|| panic!("{name}: {answer:?}"))
                .to_owned(),
        );
        // The API's share of this push: until the rest waits (a hint, and
        // one pending reply) or the whole text is there.
        let before = seen.clone();
        let messages = api_messages(wechat, user.user(), |m| {
            let mut all = before.clone();
            all.extend(m[api_seen..].iter().cloned());
            let joined: String = all.iter().map(|p| unhinted(p, HINT)).collect();
            // The sender queues what it did not send when it stops.
            joined.len() >= text.len() || store.len(user.user()) == 1
        })
        .await;
        seen.extend(messages[api_seen..].iter().cloned());
        api_seen = messages.len();
        let joined: String = seen.iter().map(|p| unhinted(p, HINT)).collect();
        if joined.len() >= text.len() {
            assert_eq!(store.len(user.user()), 0, "{name}: nothing waits");
            return seen;
        }
        ask = "继续";
    }
    panic!("{name}: not all of it arrived: {} parts", seen.len());
}

#[actix_rt::test]
async fn long_replies_with_the_api_go_part_by_part_within_the_quota() {
    let wechat = ApiStandIn::start();
    let store = MemoryPending::new(1 << 24, Duration::from_secs(600));
    let server = TestServer::builder(long_service(&store, Some(&wechat))).start();
    for &name in LONG_CASES {
        let parts = read_through_the_api(name, &wechat, &store, &server).await;
        assert_parts(name, &parts);
    }
    // 20,000 characters (about 40 KB, 20 parts): a message allows the
    // passive part and 5 through the API; the 5th says more waits.
    let parts = read_through_the_api("zh20000", &wechat, &store, &server).await;
    assert!(
        parts[5].ends_with(HINT),
        "{}",
        &parts[5][parts[5].len() - 60..]
    );
    assert!(!parts[1].ends_with(HINT));
    server.stop().await;
}

#[actix_rt::test]
async fn a_45047_moves_the_rest_to_pending_nothing_lost_or_doubled() {
    let wechat = ApiStandIn::start();
    let store = MemoryPending::new(1 << 24, Duration::from_secs(600));
    let server = TestServer::builder(long_service(&store, Some(&wechat))).start();
    // The first API call is refused: the first part answered passively,
    // the rest waits as one pending reply for the user's next message.
    wechat.fail_next(45047, 1);
    let parts = read_through_the_api("zh20000", &wechat, &store, &server).await;
    assert_parts("zh20000", &parts);
    let refused = wechat.calls().iter().filter(|c| c.errcode == 45047).count();
    assert_eq!(refused, 1);
    server.stop().await;
}

#[actix_rt::test]
async fn a_click_allows_three_messages_the_rest_waits() {
    let wechat = ApiStandIn::start();
    let store = MemoryPending::new(1 << 24, Duration::from_secs(600));
    let server = TestServer::builder(long_service(&store, Some(&wechat))).start();
    let user = sim();
    let first = send(&user, &server, SimPush::click("LONG")).await;
    let first = first.text().unwrap().to_owned();
    assert!(!first.ends_with(HINT), "the API carries the next part");
    let sent = api_messages(&wechat, user.user(), |_| store.len(user.user()) == 1).await;
    // A click allows 3 within a minute: the third says more waits.
    assert_eq!(sent.len(), 3, "{}", sent.len());
    assert!(sent[2].ends_with(HINT) && !sent[1].ends_with(HINT));
    assert_eq!(store.len(user.user()), 1, "the rest waits as one reply");
    // The user's 继续 is a message: 5 more, and so on to the end.
    let mut seen = vec![first];
    seen.extend(sent);
    let text = sentences(20_000);
    for _ in 0..10 {
        let joined: String = seen.iter().map(|p| unhinted(p, HINT)).collect();
        if joined.len() >= text.len() {
            break;
        }
        let before = wechat.custom_messages().len();
        seen.push(
            send(&user, &server, SimPush::text("继续"))
                .await
                .text()
                .unwrap()
                .to_owned(),
        );
        let all = api_messages(&wechat, user.user(), |m| {
            let joined: String = seen
                .iter()
                .chain(m.iter().skip(before))
                .map(|p| unhinted(p, HINT))
                .collect();
            joined.len() >= text.len() || store.len(user.user()) == 1
        })
        .await;
        seen.extend(all.into_iter().skip(before));
    }
    let joined: String = seen.iter().map(|p| unhinted(p, HINT)).collect();
    assert!(joined == text, "whole and in order");
    server.stop().await;
}

#[actix_rt::test]
async fn wechat_busy_is_called_again_after_a_pause() {
    let wechat = ApiStandIn::start();
    let store = MemoryPending::new(1 << 24, Duration::from_secs(600));
    let server = TestServer::builder(long_service(&store, Some(&wechat))).start();
    let user = sim();
    // −1 once: the part is sent again 0.5 s later, not queued.
    wechat.fail_next(-1, 1);
    let first = send(&user, &server, SimPush::text("a2048")).await;
    assert_eq!(first.text().map(str::len), Some(TEXT_LIMIT));
    let sent = api_messages(&wechat, user.user(), |m| !m.is_empty()).await;
    assert_eq!(sent, vec!["a".to_owned()]);
    let codes: Vec<i64> = (wechat.calls().iter())
        .filter(|c| c.path.ends_with("custom/send"))
        .map(|c| c.errcode)
        .collect();
    assert_eq!(codes, vec![-1, 0]);
    assert_eq!(store.len(user.user()), 0);
    server.stop().await;
}
