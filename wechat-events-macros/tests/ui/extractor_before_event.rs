#![allow(unused_variables)]

use wechat_events::{on_event, on_text, ClickEvent, Context, Session, TextMessage};

// The event must come first.
#[on_text(keyword = "a")]
async fn echo(cx: Context, msg: TextMessage) -> String {
    format!("{} {}", cx.openid(), msg.content)
}

// Several extractors before it, one optional.
#[on_event(Click, key = "COUNT")]
async fn count(cx: Context, session: Option<Session>, ev: ClickEvent) {}

// No event at all.
#[on_text(keyword = "b")]
async fn only_extractors(cx: Context) {}

fn main() {}
