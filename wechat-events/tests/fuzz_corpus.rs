//! Replays the fuzz crate's seed corpus and every crash it ever found
//! (`../fuzz/corpus/*/*`, `../fuzz/artifacts/*/*`) through the parser and
//! secure-mode decoding on the stable toolchain: each input must give a
//! value or a typed error, never a panic.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

use wechat_events::crypto::{decrypt, extract_encrypt, AesKey};

/// The fuzz targets' fixed key and AppID.
const ENCODING_AES_KEY: &str = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG";
const APPID: &str = "wxb11529c136998cb6";

/// Files one directory below `dir` (one directory per fuzz target).
fn inputs(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let Ok(targets) = std::fs::read_dir(dir) else {
        return files;
    };
    for target in targets.flatten() {
        let Ok(entries) = std::fs::read_dir(target.path()) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let hidden = path
                .file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with('.'));
            if path.is_file() && !hidden {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

fn feed(data: &[u8]) {
    let key = AesKey::from_encoding_aes_key(ENCODING_AES_KEY).expect("fixed key");
    // The `decrypt` and `request` targets put a flags byte first, and the
    // `request` target the extra query before a newline: try the payload
    // at each offset a target reads it from.
    let mut payloads = vec![data];
    if let Some((_, rest)) = data.split_first() {
        payloads.push(rest);
        if let Some(i) = rest.iter().position(|&b| b == b'\n') {
            payloads.push(&rest[i + 1..]);
        }
    }
    for payload in payloads {
        let _ = wechat_events::push::parse(payload);
        let text = String::from_utf8_lossy(payload);
        let _ = wechat_events::reply::parse_reply(&text);
        if let Ok(encrypt) = extract_encrypt(&text) {
            let _ = decrypt(&key, &encrypt, Some(APPID));
        }
        let _ = decrypt(&key, &text, Some(APPID));
        let _ = decrypt(&key, &text, None);
    }
}

#[test]
fn seed_corpus_and_past_crashes_give_values_or_typed_errors() {
    let fuzz = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz");
    let corpus = inputs(&fuzz.join("corpus"));
    let artifacts = inputs(&fuzz.join("artifacts"));
    assert!(
        corpus.len() >= 20,
        "the seed corpus is missing: {} files under {}",
        corpus.len(),
        fuzz.join("corpus").display()
    );
    let mut panicked = Vec::new();
    for path in corpus.iter().chain(&artifacts) {
        let data = std::fs::read(path).expect("readable input");
        if catch_unwind(AssertUnwindSafe(|| feed(&data))).is_err() {
            panicked.push(path.display().to_string());
        }
    }
    assert!(panicked.is_empty(), "inputs that panicked: {panicked:#?}");
}
