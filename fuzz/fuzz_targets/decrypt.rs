//! Secure-mode decoding with a fixed key: the envelope reader and
//! `decrypt` on arbitrary text, and the frame reader on arbitrary
//! plaintext (encrypted here with the key, so every byte of the frame —
//! padding, length, appid — is the fuzzer's).
#![no_main]

use aes::cipher::{BlockEncryptMut, KeyIvInit};
use base64::Engine;
use libfuzzer_sys::fuzz_target;
use wechat_events::crypto::{decrypt, extract_encrypt, AesKey};

const ENCODING_AES_KEY: &str = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG";
const APPID: &str = "wxb11529c136998cb6";

fuzz_target!(|data: &[u8]| {
    let key = AesKey::from_encoding_aes_key(ENCODING_AES_KEY).expect("fixed key");
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    if mode & 1 == 0 {
        // Text as it arrives: an envelope, or the <Encrypt> text itself.
        let text = String::from_utf8_lossy(rest);
        if let Ok(encrypt) = extract_encrypt(&text) {
            let _ = decrypt(&key, &encrypt, Some(APPID));
        }
        let _ = decrypt(&key, &text, Some(APPID));
        let _ = decrypt(&key, &text, None);
    } else {
        // A frame of the fuzzer's making, block-aligned with zeros.
        let mut frame = rest.to_vec();
        frame.resize(frame.len().div_ceil(16).max(1) * 16, 0);
        let bytes = key.as_bytes();
        let cipher = cbc::Encryptor::<aes::Aes256>::new(bytes.into(), bytes[..16].into());
        let len = frame.len();
        let sealed = cipher
            .encrypt_padded_mut::<aes::cipher::block_padding::NoPadding>(&mut frame, len)
            .expect("block-aligned");
        let text = base64::engine::general_purpose::STANDARD.encode(sealed);
        let _ = decrypt(&key, &text, Some(APPID));
        let _ = decrypt(&key, &text, None);
    }
});
