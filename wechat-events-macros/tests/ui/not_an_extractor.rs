use wechat_events::{on_text, Context, TextMessage};

struct State;

#[on_text(keyword = "a")]
async fn a(_: TextMessage, _: Context, _: u32) {}

#[on_text(keyword = "b")]
async fn b(_: TextMessage, _: State) {}

fn main() {}
