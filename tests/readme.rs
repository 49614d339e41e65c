//! The end-to-end suite's package (`wechat-events-e2e`). Its tests are the
//! `[[test]]` targets beside this file; the library itself is the README
//! and the pages of `docs/`, whose code blocks compile (and run) as this
//! crate's doctests, so the usage shown there keeps building. Its unit
//! tests check every link between those pages.
#![doc = include_str!("../README.md")]

/// `docs/handlers.md`.
#[doc = include_str!("../docs/handlers.md")]
pub mod handlers {}

/// `docs/configuration.md`.
#[doc = include_str!("../docs/configuration.md")]
pub mod configuration {}

/// `docs/secure-mode.md`.
#[doc = include_str!("../docs/secure-mode.md")]
pub mod secure_mode {}

/// `docs/slow-handlers.md`.
#[doc = include_str!("../docs/slow-handlers.md")]
pub mod slow_handlers {}

/// `docs/api.md`.
#[doc = include_str!("../docs/api.md")]
pub mod api {}

/// `docs/accounts.md`.
#[doc = include_str!("../docs/accounts.md")]
pub mod accounts {}

/// `docs/third-party-platforms.md`.
#[doc = include_str!("../docs/third-party-platforms.md")]
pub mod third_party_platforms {}

/// `docs/redis.md`.
#[doc = include_str!("../docs/redis.md")]
pub mod redis {}

/// `docs/deploy.md`.
#[doc = include_str!("../docs/deploy.md")]
pub mod deploy {}

/// `docs/testing.md`.
#[doc = include_str!("../docs/testing.md")]
pub mod testing {}

/// `docs/cli.md`.
#[doc = include_str!("../docs/cli.md")]
pub mod cli {}

/// `docs/catalog.md`.
#[doc = include_str!("../docs/catalog.md")]
pub mod catalog {}

/// `docs/metrics.md`.
#[doc = include_str!("../docs/metrics.md")]
pub mod metrics {}

/// `docs/inspector.md`.
#[doc = include_str!("../docs/inspector.md")]
pub mod inspector {}

#[cfg(test)]
mod links {
    //! Every relative link of the README and `docs/*.md` reaches a file of
    //! the repository, and every `#anchor` a heading of its page (by
    //! GitHub's rule for heading ids).

    use std::collections::HashSet;
    use std::path::{Path, PathBuf};

    /// Pages written in parallel with the README's table of contents
    /// (issue 23): a link to one is accepted while it does not exist yet.
    const PENDING: &[&str] = &[];

    fn root() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .expect("the workspace holds tests/")
            .to_owned()
    }

    /// The Markdown pages checked: the README and every page of `docs/`.
    fn pages() -> Vec<PathBuf> {
        let mut pages = vec![root().join("README.md")];
        for entry in std::fs::read_dir(root().join("docs")).expect("docs/") {
            let path = entry.expect("entry").path();
            if path.extension().is_some_and(|e| e == "md") {
                pages.push(path);
            }
        }
        pages
    }

    /// The page's lines outside fenced code blocks.
    fn prose(text: &str) -> Vec<&str> {
        let mut fenced = false;
        text.lines()
            .filter(|line| {
                if line.trim_start().starts_with("```") {
                    fenced = !fenced;
                    return false;
                }
                !fenced
            })
            .collect()
    }

    /// GitHub's id for a heading: lower case, spaces to `-`, punctuation
    /// other than `-` and `_` dropped; a repeated id gets `-1`, `-2`, ...
    fn anchors(text: &str) -> HashSet<String> {
        let mut seen = HashSet::new();
        for line in prose(text) {
            let Some(title) = line.strip_prefix('#') else {
                continue;
            };
            let title = title.trim_start_matches('#');
            if !title.starts_with(' ') {
                continue;
            }
            let base: String = title
                .trim()
                .chars()
                .filter_map(|c| match c {
                    ' ' => Some('-'),
                    '-' | '_' => Some(c),
                    c if c.is_alphanumeric() => Some(c.to_lowercase().next().unwrap_or(c)),
                    _ => None,
                })
                .collect();
            let mut id = base.clone();
            let mut n = 0;
            while !seen.insert(id.clone()) {
                n += 1;
                id = format!("{base}-{n}");
            }
        }
        seen
    }

    /// The targets of the inline links `[text](target)` in the page's prose.
    fn links(text: &str) -> Vec<String> {
        let mut found = Vec::new();
        for line in prose(text) {
            let mut rest = line;
            while let Some(at) = rest.find("](") {
                rest = &rest[at + 2..];
                if let Some(end) = rest.find(')') {
                    found.push(rest[..end].to_owned());
                    rest = &rest[end..];
                }
            }
        }
        found
    }

    #[test]
    fn every_link_between_the_pages_lands() {
        let root = root();
        let mut broken = Vec::new();
        let mut checked = 0;
        for page in pages() {
            let text = std::fs::read_to_string(&page).expect("page");
            let dir = page.parent().expect("a directory");
            for link in links(&text) {
                if link.contains("://") || link.starts_with("mailto:") {
                    continue;
                }
                checked += 1;
                let (file, anchor) = link.split_once('#').unwrap_or((&link, ""));
                let target = if file.is_empty() {
                    page.clone()
                } else {
                    dir.join(file)
                };
                let relative = target.canonicalize().ok().and_then(|t| {
                    t.strip_prefix(root.canonicalize().ok()?)
                        .ok()
                        .map(|p| p.to_owned())
                });
                let Some(relative) = relative else {
                    let pending = PENDING.iter().any(|p| root.join(p) == dir.join(file));
                    if !pending {
                        broken.push(format!("{}: {link}: no such file", page.display()));
                    }
                    continue;
                };
                if anchor.is_empty() {
                    continue;
                }
                let target_text = std::fs::read_to_string(root.join(&relative)).unwrap_or_default();
                if !anchors(&target_text).contains(anchor) {
                    broken.push(format!(
                        "{}: {link}: {} has no heading with the id `{anchor}`",
                        page.display(),
                        relative.display()
                    ));
                }
            }
        }
        assert!(
            checked > 50,
            "only {checked} links found: is the parser broken?"
        );
        assert!(broken.is_empty(), "broken links:\n{}", broken.join("\n"));
    }

    #[test]
    fn heading_ids_follow_github() {
        let ids = anchors(
            "# Handlers\n## Without attributes: the builder API\n```\n# not a heading\n```\n\
             ## Menus, QR codes, media, users and templates (`wechat-admin`)\n## Precedence\n## Precedence\n",
        );
        for id in [
            "handlers",
            "without-attributes-the-builder-api",
            "menus-qr-codes-media-users-and-templates-wechat-admin",
            "precedence",
            "precedence-1",
        ] {
            assert!(ids.contains(id), "{id} not in {ids:?}");
        }
        assert!(!ids.contains("not-a-heading"));
        assert_eq!(
            links("see [a](x.md#y) and [b](https://e.com)\n```\n[c](z.md)\n```"),
            ["x.md#y", "https://e.com"]
        );
    }
}
