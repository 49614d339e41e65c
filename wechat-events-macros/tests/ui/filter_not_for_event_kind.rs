use wechat_events::{on_event, ClickEvent, LocationEvent, UnsubscribeEvent, ViewEvent};

// Unsubscribe events carry no EventKey.
#[on_event(Unsubscribe, key = "x")]
async fn bye(_: UnsubscribeEvent) {}

// Only subscribe and SCAN carry a QR scene.
#[on_event(Click, scene = "42")]
async fn scene_click(_: ClickEvent) {}

#[on_event(Location, key_regex = "^x")]
async fn where_(_: LocationEvent) {}

// A menu item is told apart by its key, not a scene.
#[on_event(View, scene = "42")]
async fn scene_view(_: ViewEvent) {}

fn main() {}
