//! `examples/llm_bot.rs`: a model slower than the push's deadline. The
//! example runs as a process, so its clock is real: the fake model thinks
//! 600 ms against a 300 ms deadline, and the tests wait for the late
//! answer by asking again (a bounded poll), never by sleeping it out.

use std::time::Duration;

use wechat_events::testing::{ApiStandIn, SimPush, Simulator, STAND_IN_APPID, STAND_IN_SECRET};

use crate::common::*;

/// The slow tip the example answers with while the model thinks.
const THINKING: &str = "正在思考，请稍候…";

/// Short timings: the model outlives the deadline, no try is held.
const SLOW: [(&str, &str); 3] = [
    ("LLM_DELAY_MS", "600"),
    ("WECHAT_DEADLINE_MS", "300"),
    ("WECHAT_WAIT_RETRIES", "0"),
];

/// Asks `question` and checks the push is answered with the slow tip at
/// the deadline, not before.
async fn ask_slowly(sim: &Simulator, url: &str, question: &str) {
    let answer = send(sim, url, SimPush::text(question)).await;
    assert_eq!(answer.text(), Some(THINKING), "{answer:?}");
    assert!(answer.elapsed >= Duration::from_millis(300), "{answer:?}");
}

/// Calls `check` every 50 ms until it gives a value, for at most 10 s.
async fn eventually<T>(what: &str, mut check: impl AsyncFnMut() -> Option<T>) -> T {
    for _ in 0..200 {
        if let Some(value) = check().await {
            return value;
        }
        actix_rt::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{what}: not within 10 s");
}

#[actix_rt::test]
async fn without_the_api_the_answer_comes_with_the_next_message() {
    let bot = Quickstart::example("llm_bot", &SLOW);
    let sim = sim();
    ask_slowly(&sim, &bot.url, "天为什么是蓝的").await;
    // `帮助` is answered at once; once the model is done, its answer comes
    // first in the same reply.
    let text = eventually("the pending answer", async || {
        let help = send(&sim, &bot.url, SimPush::text("帮助")).await;
        let text = help.text().expect("a text").to_owned();
        text.starts_with("关于").then_some(text)
    })
    .await;
    assert!(
        text.starts_with("关于「天为什么是蓝的」：我是离线的假模型，想了 600 毫秒。\n\n"),
        "{text}"
    );
    assert!(text.ends_with("答案稍后送到。"), "{text}");
    // Delivered once.
    let again = send(&sim, &bot.url, SimPush::text("帮助")).await;
    assert!(!again.text().expect("a text").contains("关于"), "{again:?}");
}

#[actix_rt::test]
async fn with_the_api_it_shows_typing_and_sends_the_answer_late() {
    let wechat = ApiStandIn::start();
    let base = wechat.base_url();
    let mut env = SLOW.to_vec();
    env.extend([
        ("WECHAT_APPID", STAND_IN_APPID),
        ("WECHAT_APPSECRET", STAND_IN_SECRET),
        ("WECHAT_API_BASE", base.as_str()),
    ]);
    let bot = Quickstart::example("llm_bot", &env);
    let sim = sim();
    ask_slowly(&sim, &bot.url, "写一首诗").await;
    let sent = eventually("the customer-service message", async || {
        wechat.custom_messages().into_iter().next()
    })
    .await;
    assert_eq!(sent["touser"], sim.user(), "{sent}");
    assert_eq!(
        sent["text"]["content"], "关于「写一首诗」：我是离线的假模型，想了 600 毫秒。",
        "{sent}"
    );
    let typing = wechat.calls_to("/cgi-bin/message/custom/typing");
    assert_eq!(typing.len(), 1, "{typing:?}");
    // Nothing waits for the next message.
    let help = send(&sim, &bot.url, SimPush::text("帮助")).await;
    assert!(!help.text().expect("a text").contains("关于"), "{help:?}");
}
