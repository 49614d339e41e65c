//! Test-support crate for the workspace examples and end-to-end tests.
