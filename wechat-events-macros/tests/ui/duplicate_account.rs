use wechat_events::{on_event, on_text, ClickEvent, TextMessage};

#[on_text(keyword = "会员", account = "brand_a", account = "brand_b", account = "brand_a")]
async fn members(_: TextMessage) {}

// Names are compared exactly: `Brand_A` is another account.
#[on_event(Click, account = "brand_a", account = "Brand_A", account = "brand_a")]
async fn click(_: ClickEvent) {}

fn main() {}
