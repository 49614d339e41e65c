//! The crate's modules depend on each other one way only.
//!
//! Reads every module's source, collects the `crate::<module>` paths its
//! code names (comments and doc comments aside), and fails on any cycle —
//! two modules importing each other, or a longer loop. The layers this
//! keeps, bottom to top: kinds → fields → event/message → xml → push →
//! payload → handler → router → registry → service.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Module name → the crate modules its code refers to.
fn graph() -> BTreeMap<String, BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    for entry in std::fs::read_dir(&src).expect("src") {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
    let mut modules = BTreeMap::new();
    for path in files {
        let stem = path.file_stem().unwrap().to_string_lossy().into_owned();
        let module = match stem.as_str() {
            "lib" => continue,
            "private" => "__private".to_owned(),
            _ => stem,
        };
        let text = std::fs::read_to_string(&path).expect("read");
        let mut uses = BTreeSet::new();
        for line in text.lines() {
            let code = line.split("//").next().unwrap_or_default();
            let mut rest = code;
            while let Some(at) = rest.find("crate::") {
                rest = &rest[at + "crate::".len()..];
                let name: String = rest
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                if !name.is_empty() && name != module {
                    uses.insert(name);
                }
            }
        }
        modules.insert(module, uses);
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
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    for entry in std::fs::read_dir(&src).expect("src") {
        let path = entry.expect("entry").path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if !name.ends_with(".rs") || name == "service.rs" {
            continue;
        }
        let text = std::fs::read_to_string(&path).expect("read");
        let code: String = text
            .lines()
            .map(|l| l.split("//").next().unwrap_or_default())
            .collect::<Vec<_>>()
            .join("\n");
        assert!(
            !code.contains("actix_web") && !code.contains("HttpRequest"),
            "{name} names actix-web; only service.rs (and testing/) may"
        );
    }
}
