use wechat_events::{on_event, on_text, Captures, ClickEvent, TextMessage};

#[on_text(regex = r"^天气(\S+")]
async fn weather(_: TextMessage, _: Captures) {}

#[on_event(Click, key_regex = "MENU_[")]
async fn menu(_: ClickEvent) {}

fn main() {}
