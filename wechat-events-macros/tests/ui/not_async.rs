use wechat_events::{on_text, TextMessage};

#[on_text(keyword = "帮助")]
fn help(_: TextMessage) -> &'static str {
    "help"
}

fn main() {}
