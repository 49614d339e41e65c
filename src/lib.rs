//! The workspace's root package: it owns the top-level `examples/` (the
//! quickstart bot, `cargo run --example quickstart`) and nothing else, so
//! building the example builds no test-only dependency. The end-to-end
//! suite is the `wechat-events-e2e` package in `tests/`, which also
//! compiles the README's code blocks as doctests.
