#!/usr/bin/env python3
"""MSRV check without a second toolchain: the lock file against rust-version.

Reads `cargo metadata --format-version 1 --locked --all-features` and fails
when a package the published crates build (a normal or build dependency,
directly or not, on any target) declares a `rust-version` newer than the
workspace's. Those packages are what a user on the workspace's Rust
compiles; their newer `rust-version` would make our own promise false.
Dev-dependencies (tests, benches) only run on the CI toolchain: the ones
newer than the workspace's Rust are listed, not counted.

    python3 scripts/check-msrv.py

Exit status 0 when every such dependency fits. Standard library only.
"""

import json
import subprocess
import sys

# The crates users depend on: `publish = false` packages are not checked.
PUBLISHED = ("wechat-events", "wechat-events-macros")


def version(text):
    """`1.70` or `1.70.0` as a comparable tuple (missing parts are 0)."""
    parts = [int(p) for p in text.split(".")]
    return tuple(parts + [0] * (3 - len(parts)))


def main():
    meta = json.loads(
        subprocess.run(
            ["cargo", "metadata", "--format-version", "1", "--locked", "--all-features"],
            check=True,
            stdout=subprocess.PIPE,
        ).stdout
    )
    packages = {p["id"]: p for p in meta["packages"]}
    members = set(meta["workspace_members"])
    roots = [i for i in members if packages[i]["name"] in PUBLISHED]
    if len(roots) != len(PUBLISHED):
        sys.exit(f"check-msrv: expected the packages {PUBLISHED} in the workspace")
    msrvs = {packages[i]["rust_version"] for i in roots}
    if len(msrvs) != 1 or None in msrvs:
        sys.exit(f"check-msrv: the published crates must share one rust-version, found {msrvs}")
    msrv = msrvs.pop()

    nodes = {n["id"]: n for n in meta["resolve"]["nodes"]}

    def reachable(starts, kinds):
        """Packages reached from `starts` through edges of `kinds`."""
        seen, stack = set(), list(starts)
        while stack:
            node = nodes[stack.pop()]
            for dep in node["deps"]:
                if any(k["kind"] in kinds for k in dep["dep_kinds"]) and dep["pkg"] not in seen:
                    seen.add(dep["pkg"])
                    stack.append(dep["pkg"])
        return seen

    built = reachable(roots, {None, "build"}) - members
    # Everything the workspace builds at all, tests and benches included.
    everything = reachable(members, {None, "build", "dev"}) - members

    def too_new(ids):
        return sorted(
            (packages[i]["name"], packages[i]["version"], packages[i]["rust_version"])
            for i in ids
            if packages[i]["rust_version"]
            and version(packages[i]["rust_version"]) > version(msrv)
        )

    failures = too_new(built)
    dev_only = too_new(everything - built)
    for name, ver, rv in dev_only:
        print(f"note: dev-dependency {name} {ver} needs Rust {rv} (tests only; not checked)")
    for name, ver, rv in failures:
        print(f"error: {name} {ver} needs Rust {rv}, past the workspace's rust-version {msrv}")
    if failures:
        print(
            "Pin an older version (`cargo update -p NAME --precise VERSION`, and a `~` "
            "requirement in the manifest with a comment), or raise `rust-version` in the "
            "workspace's Cargo.toml.",
            file=sys.stderr,
        )
        sys.exit(1)
    print(f"{len(built)} dependencies of {', '.join(PUBLISHED)} build on Rust {msrv}")


if __name__ == "__main__":
    main()
