//! The end-to-end suite's package (`wechat-events-e2e`). Its tests are the
//! `[[test]]` targets beside this file; the library itself is the README,
//! whose code blocks compile (and run) as this crate's doctests, so the
//! usage shown there keeps building.
#![doc = include_str!("../README.md")]
