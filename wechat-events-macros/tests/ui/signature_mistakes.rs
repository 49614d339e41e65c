use wechat_events::{on_event, on_text, Captures, ClickEvent, TextMessage};

// No event parameter.
#[on_event(Click)]
async fn no_event() {}

// Captures without a regex never arrive.
#[on_text(keyword = "天气")]
async fn captures(_: TextMessage, _: Captures) {}

// Nor on an event, whose key_regex has no groups to give.
#[on_event(Click, key_regex = "^NEWS_")]
async fn click_captures(_: ClickEvent, _: wechat_events::Captures) {}

// Generic handlers have no single type to register.
#[on_text(keyword = "g")]
async fn generic<T: Default>(_: TextMessage) {}

// Two handler attributes on one function.
#[on_text(keyword = "x")]
#[on_text(keyword = "y")]
async fn stacked(_: TextMessage) {}

#[on_event(Click)]
struct NotAFunction;

fn main() {
    let _ = ClickEvent::default();
}
