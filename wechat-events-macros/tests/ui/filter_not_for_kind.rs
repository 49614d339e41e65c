use wechat_events::{on_event, on_message, on_text, ClickEvent, TextMessage};

// `key` is an event filter; text has no EventKey.
#[on_message(Text, key = "MENU")]
async fn key_on_text(_: TextMessage) {}

#[on_text(key = "MENU")]
async fn key_on_on_text(_: TextMessage) {}

// Text filters belong to `on_text`.
#[on_event(Click, keyword = "帮助")]
async fn keyword_on_click(_: ClickEvent) {}

#[on_message(Text, contains = "天气")]
async fn contains_on_message(_: TextMessage) {}

fn main() {}
