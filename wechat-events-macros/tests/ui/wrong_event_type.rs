use wechat_events::{on_event, on_fallback, on_text, ClickEvent, Push, SubscribeEvent, TextMessage};

#[on_event(Click, key = "MENU")]
async fn menu(_: TextMessage) {}

#[on_text(keyword = "hi")]
async fn hi(_: SubscribeEvent) {}

#[on_fallback]
async fn rest(_: &Push) {}

fn main() {
    let _ = ClickEvent::default();
}
