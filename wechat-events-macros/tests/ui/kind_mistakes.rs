use wechat_events::{on_event, on_message, on_text, ClickEvent, TextMessage};

// A message kind on the event attribute.
#[on_event(Text)]
async fn text(_: TextMessage) {}

// The type instead of the kind.
#[on_event(ClickEvent)]
async fn click(_: ClickEvent) {}

// No kind at all.
#[on_message(priority = 1)]
async fn anything(_: TextMessage) {}

// Two kinds.
#[on_event(Click, View)]
async fn two(_: ClickEvent) {}

// `on_text` takes no kind.
#[on_text(Text)]
async fn texts(_: TextMessage) {}

fn main() {}
