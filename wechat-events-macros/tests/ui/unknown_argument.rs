use wechat_events::{on_event, on_fallback, on_text, ClickEvent, Push, TextMessage};

#[on_event(Click, kye = "MENU")]
async fn typo(_: ClickEvent) {}

#[on_text(keywrd = "帮助")]
async fn text_typo(_: TextMessage) {}

#[on_fallback(colour = "red")]
async fn unrelated(_: Push) {}

fn main() {}
