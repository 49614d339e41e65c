use wechat_events::{on_event, on_text, ClickEvent, TextMessage};

#[on_event(Click, key = 1)]
async fn number_key(_: ClickEvent) {}

#[on_event(Click, key)]
async fn no_value(_: ClickEvent) {}

#[on_text(keywords = "帮助")]
async fn not_a_list(_: TextMessage) {}

#[on_text(contains("天气"))]
async fn call_syntax(_: TextMessage) {}

#[on_text(keyword = "a", priority = "high")]
async fn text_priority(_: TextMessage) {}

#[on_text(keyword = "b", priority = 3000000000)]
async fn huge_priority(_: TextMessage) {}

#[on_text(keyword = "c" priority = 1)]
async fn missing_comma(_: TextMessage) {}

fn main() {}
