//! The crate's modules depend on each other one way only.
//!
//! Reads every module's source — each file under `src/`, however deep
//! (`redis/*.rs` and `testing/*.rs` belong to `redis` and `testing`) —
//! collects the `crate::<module>` paths its code names (comments and doc
//! comments aside; single imports, grouped ones such as
//! `use crate::{a, b::{c, d}}` over any number of lines, and paths written
//! inline), and fails on any cycle — two modules importing each other, or a
//! longer loop. The layers this keeps, bottom to top: kinds → fields →
//! event/message → xml → push → payload → handler → router → registry →
//! service.
//!
//! The binaries under `src/bin` are crates of their own (their `crate::`
//! is themselves; they reach the library as `wechat_events::`), so they
//! take no part in the cycle check, but the actix rule reads them too.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Every `.rs` file under `dir`, however deep, sorted.
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut dirs = vec![dir.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).expect("read_dir") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// The library module a file under `src/` belongs to (its top-level
/// module: `redis/dedup.rs` is part of `redis`); `None` for the crate root
/// and for the binaries.
fn module_of(relative: &Path) -> Option<String> {
    let parts: Vec<String> = relative
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    let top = match parts.as_slice() {
        [file] if file == "lib.rs" => return None,
        [file] => file.strip_suffix(".rs").expect("a .rs file").to_owned(),
        [dir, ..] if dir == "bin" => return None,
        [dir, ..] => dir.clone(),
        [] => return None,
    };
    Some(match top.as_str() {
        "private" => "__private".to_owned(),
        _ => top,
    })
}

/// `text` without its comments (`//`, `///`, `//!` to the end of the line).
fn code(text: &str) -> String {
    text.lines()
        .map(|l| l.split("//").next().unwrap_or_default())
        .collect::<Vec<_>>()
        .join("\n")
}

fn is_ident(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// The leading identifier of `s` (after whitespace).
fn ident(s: &str) -> &str {
    let s = s.trim_start();
    let end = s.find(|c: char| !is_ident(c)).unwrap_or(s.len());
    &s[..end]
}

/// The top-level items of the brace group `s` starts with (`{a, b::{c, d}}`
/// gives `a` and `b::{c, d}`), or `None` when the group does not close.
fn group_items(s: &str) -> Option<Vec<&str>> {
    let inner = s.strip_prefix('{')?;
    let (mut depth, mut start, mut items) = (0usize, 0, Vec::new());
    for (at, c) in inner.char_indices() {
        match c {
            '{' => depth += 1,
            '}' if depth == 0 => {
                items.push(&inner[start..at]);
                return Some(items);
            }
            '}' => depth -= 1,
            ',' if depth == 0 => {
                items.push(&inner[start..at]);
                start = at + 1;
            }
            _ => {}
        }
    }
    None
}

/// The first segments of every `crate::` path in `code` (comments already
/// removed): `crate::a::B`, `$crate::a`, `use crate::{a, b::{c, d}}`
/// (however laid out) all name `a` (and `b`). `crate::{self, ..}` names
/// the root, not a module.
fn crate_paths(code: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let mut rest = code;
    while let Some(at) = rest.find("crate::") {
        let before = rest[..at].chars().next_back();
        rest = &rest[at + "crate::".len()..];
        // `my_crate::x` is another path; `$crate::x` (in a macro) is ours.
        if before.is_some_and(is_ident) {
            continue;
        }
        let after = rest.trim_start();
        let first: Vec<&str> = if after.starts_with('{') {
            group_items(after)
                .unwrap_or_default()
                .into_iter()
                .map(ident)
                .collect()
        } else {
            vec![ident(after)]
        };
        names.extend(
            first
                .into_iter()
                .filter(|n| !n.is_empty() && *n != "self")
                .map(str::to_owned),
        );
    }
    names
}

/// Module name → the crate modules its code refers to.
fn graph() -> BTreeMap<String, BTreeSet<String>> {
    let src = src();
    let mut modules: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for path in rust_files(&src) {
        let Some(module) = module_of(path.strip_prefix(&src).expect("under src")) else {
            continue;
        };
        let text = std::fs::read_to_string(&path).expect("read");
        let uses = modules.entry(module.clone()).or_default();
        uses.extend(
            crate_paths(&code(&text))
                .into_iter()
                .filter(|n| *n != module),
        );
    }
    // Only edges between modules of this crate (not re-exported items
    // named through the crate root, such as `crate::Push`).
    let names: BTreeSet<String> = modules.keys().cloned().collect();
    for uses in modules.values_mut() {
        uses.retain(|u| names.contains(u));
    }
    modules
}

#[test]
fn paths_are_read_from_every_form_of_import() {
    let text = "
        use crate::kinds::EventKind;
        use crate::{
            event::{self, Event},
            fields::{record, Fields}, // a comment naming crate::service
            self as root,
        };
        use crate::{ message , xml::{parse_fields, XmlError} };
        fn f() -> crate::payload::Kind { $crate::handler::x(); other_crate::router::y() }
        pub(crate) fn g(x: &crate::reply::Reply) {}
        /// Docs naming [`crate::session`] are not code.
    ";
    let names: Vec<String> = crate_paths(&code(text)).into_iter().collect();
    assert_eq!(
        names,
        ["event", "fields", "handler", "kinds", "message", "payload", "reply", "xml"]
    );
    assert_eq!(
        module_of(Path::new("redis/dedup.rs")).as_deref(),
        Some("redis")
    );
    assert_eq!(
        module_of(Path::new("testing/mod.rs")).as_deref(),
        Some("testing")
    );
    assert_eq!(
        module_of(Path::new("private.rs")).as_deref(),
        Some("__private")
    );
    assert_eq!(module_of(Path::new("bin/wechat-sim.rs")), None);
    assert_eq!(module_of(Path::new("lib.rs")), None);
}

#[test]
fn every_module_file_is_read() {
    let files: Vec<String> = rust_files(&src())
        .iter()
        .map(|p| {
            p.strip_prefix(src())
                .unwrap()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    for file in [
        "service.rs",
        "redis/mod.rs",
        "redis/dedup.rs",
        "testing/mod.rs",
        "testing/target.rs",
        "bin/wechat-sim.rs",
    ] {
        assert!(
            files.iter().any(|f| f == file),
            "{file} not read: {files:?}"
        );
    }
    let graph = graph();
    // Edges only the nested files make.
    assert!(graph["redis"].contains("dedup"), "{graph:#?}");
    assert!(graph["testing"].contains("service"), "{graph:#?}");
}

#[test]
fn no_module_depends_on_itself_through_others() {
    let graph = graph();
    assert!(graph["service"].contains("router") && graph["event"].contains("kinds"));
    // Depth-first search for a back edge, reporting the loop.
    fn visit(
        node: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Result<(), String> {
        if let Some(at) = path.iter().position(|n| n == node) {
            let mut cycle = path[at..].to_vec();
            cycle.push(node.to_owned());
            return Err(cycle.join(" → "));
        }
        if done.contains(node) {
            return Ok(());
        }
        path.push(node.to_owned());
        for next in &graph[node] {
            visit(next, graph, path, done)?;
        }
        path.pop();
        done.insert(node.to_owned());
        Ok(())
    }
    let mut done = BTreeSet::new();
    for node in graph.keys() {
        if let Err(cycle) = visit(node, &graph, &mut Vec::new(), &mut done) {
            panic!("modules import each other: {cycle}\nfull graph: {graph:#?}");
        }
    }
}

#[test]
fn only_the_service_and_the_testing_harness_know_actix() {
    let src = src();
    for path in rust_files(&src) {
        let relative = path.strip_prefix(&src).expect("under src");
        // The HTTP edge: the service, and each module's own `http.rs`
        // (mounting several accounts, a third-party platform's URLs).
        let edge = relative == Path::new("service.rs")
            || relative.file_name().is_some_and(|f| f == "http.rs")
            || relative.starts_with("testing");
        if edge {
            continue;
        }
        let name = relative.display();
        let code = code(&std::fs::read_to_string(&path).expect("read"));
        assert!(
            !code.contains("actix_web") && !code.contains("HttpRequest"),
            "{name} names actix-web; only service.rs, a module's http.rs (and testing/) may"
        );
    }
}
