//! The workspace's root package: it owns the top-level `examples/` and
//! `tests/`. Including the README here compiles its code blocks as
//! doctests, so the usage shown there keeps building.
#![doc = include_str!("../README.md")]
