use wechat_events::{on_event, on_message, ClickEvent, ImageMessage};

#[on_event(Clik)]
async fn menu(_: ClickEvent) {}

#[on_message(Imag)]
async fn picture(_: ImageMessage) {}

fn main() {}
