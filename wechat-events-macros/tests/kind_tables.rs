//! The macro's copies of the kind tables (`src/kind_tables.rs`) are the
//! runtime's: every `EventKind` (by its variant's name, which is the
//! attribute's kind) plus `Any`, with the same `EventKey` and scene rules.
//! Kept out of the package with the other tests: it needs the runtime.

#[path = "../src/kind_tables.rs"]
mod kind_tables;

use kind_tables::{EVENT_KINDS, KEY_KINDS, SCENE_KINDS};
use wechat_events::kinds::EventKind;

#[test]
fn tables_match_the_runtime() {
    let mut runtime: Vec<String> = EventKind::ALL.iter().map(|k| format!("{k:?}")).collect();
    runtime.push("Any".to_owned());
    let mut ours: Vec<String> = EVENT_KINDS.iter().map(|k| k.to_string()).collect();
    runtime.sort();
    ours.sort();
    assert_eq!(ours, runtime);
    for &k in EventKind::ALL {
        let name = format!("{k:?}");
        assert_eq!(KEY_KINDS.contains(&name.as_str()), k.has_key(), "{name}");
        assert_eq!(
            SCENE_KINDS.contains(&name.as_str()),
            k.has_scene(),
            "{name}"
        );
    }
    assert!(KEY_KINDS.contains(&"Any") && SCENE_KINDS.contains(&"Any"));
}
