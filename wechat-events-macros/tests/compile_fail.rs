//! Every mistake a user can make with the handler attributes, each a
//! snapshot of the compiler's answer (`tests/ui/*.stderr`): the error must
//! sit on the offending token and say what to write. Regenerate with
//! `TRYBUILD=overwrite cargo test -p wechat-events-macros --test compile_fail`, then read each
//! `.stderr` before committing it.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/*.rs");
}
