use std::rc::Rc;

use wechat_events::{on_text, TextMessage};

#[on_text(keyword = "rc")]
async fn rc(_: TextMessage) -> String {
    let shared = Rc::new(1);
    std::future::ready(()).await;
    shared.to_string()
}

fn main() {}
