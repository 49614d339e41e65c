use wechat_events::{on_event, on_text, ClickEvent, TextMessage};

#[on_text(keyword = "count")]
async fn count(_: TextMessage) -> usize {
    1
}

#[on_event(Click)]
async fn bytes(_: ClickEvent) -> Result<Vec<u8>, String> {
    Ok(Vec::new())
}

// Fine: `impl IntoReply` is a reply.
#[on_text(keyword = "fine")]
async fn fine(_: TextMessage) -> impl wechat_events::IntoReply {
    "fine"
}

fn main() {}
