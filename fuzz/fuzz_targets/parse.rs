//! Any bytes through the XML push parser (and, when they are UTF-8, the
//! reply parser and the secure-mode envelope reader, which share its XML
//! rules): a typed error or a value, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(push) = wechat_events::push::parse(data) {
        // A parsed push always has a de-duplication key.
        let _ = wechat_events::dedup::dedup_key(&push);
    }
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = wechat_events::reply::parse_reply(text);
        let _ = wechat_events::crypto::extract_envelope(text);
    }
});
