use wechat_events::{on_event, on_fallback, on_message, on_text, ClickEvent, ImageMessage, Push, TextMessage};

#[on_text(keyword = "a", account = "brand a")]
async fn space(_: TextMessage) {}

#[on_text(keyword = "b", account = "")]
async fn empty(_: TextMessage) {}

#[on_event(Click, account = "an_account_name_longer_than_32_chars")]
async fn too_long(_: ClickEvent) {}

#[on_message(Image, account = "品牌")]
async fn not_ascii(_: ImageMessage) {}

#[on_fallback(account = brand_a)]
async fn not_a_literal(_: Push) {}

#[on_fallback(account)]
async fn no_value(_: Push) {}

fn main() {}
