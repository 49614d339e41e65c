use wechat_events::{on_event, on_text, ClickEvent, TextMessage};

// One filter per handler.
#[on_event(Click, key = "A", key_regex = "^B")]
async fn two_filters(_: ClickEvent) {}

#[on_text(keyword = "a", contains = "b")]
async fn keyword_and_contains(_: TextMessage) {}

// Values that never match.
#[on_text(keyword = "")]
async fn empty(_: TextMessage) {}

#[on_text(keywords = [])]
async fn none(_: TextMessage) {}

#[on_text(keyword = "帮助", keywords = ["help", "帮助"])]
async fn twice(_: TextMessage) {}

#[on_text(keyword = "x", priority = 1, priority = 2)]
async fn two_priorities(_: TextMessage) {}

fn main() {}
