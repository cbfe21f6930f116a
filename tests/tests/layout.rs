//! The code's layout as docs/development.md states it:
//!
//! - obo-core's public API is exactly the list in docs/development.md ("obo-core's public API"):
//!   the items declared `pub` (not `pub(crate)`) at the top level of every module reachable through
//!   `pub mod` from `lib.rs`, and the names of `pub use` re-exports. A new `pub` item fails here
//!   until it is listed (or made `pub(crate)`), and a listed item that is gone fails too.
//! - `obo-target`, a library for MCP servers, builds without the Lambdas' own dependencies.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use obo_e2e::workspace_root;

const API_HEADING: &str = "## obo-core's public API";

/// The kinds of item whose `pub` declaration is part of the API.
const KINDS: [&str; 8] = ["fn", "async fn", "struct", "enum", "trait", "type", "const", "static"];

/// The file of module `name` declared in `parent` (`lib.rs`/`mod.rs` or `<module>.rs`).
fn module_file(parent: &Path, name: &str) -> Option<PathBuf> {
    let dir = parent.parent()?;
    let stem = parent.file_stem()?.to_str()?;
    let base = if stem == "lib" || stem == "mod" { dir.to_path_buf() } else { dir.join(stem) };
    [base.join(format!("{name}.rs")), base.join(name).join("mod.rs")].into_iter().find(|p| p.exists())
}

fn identifier(s: &str) -> &str {
    let end = s.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(s.len());
    &s[..end]
}

/// The names a `pub use` line re-exports (`a::B;`, `a::{B, C as D};`).
fn reexported(body: &str) -> Vec<String> {
    let body = body.trim().trim_end_matches(';');
    let names = match body.split_once('{') {
        Some((_, list)) => list.trim_end_matches('}').split(',').map(str::trim).collect(),
        None => vec![body.rsplit("::").next().unwrap_or(body)],
    };
    names
        .into_iter()
        .filter(|n| !n.is_empty())
        .map(|n| n.rsplit(" as ").next().unwrap_or(n).trim().to_owned())
        .collect()
}

/// The public items of the module in `file` (path `path`) and of its public submodules.
fn public_items(file: &Path, path: &str, items: &mut BTreeSet<String>) {
    let source = std::fs::read_to_string(file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    let mut lines = source.lines();
    while let Some(line) = lines.next() {
        let Some(rest) = line.strip_prefix("pub ") else { continue };
        let mut rest = rest.to_owned();
        // A `pub use` that rustfmt wrapped: read on to its `;`.
        while rest.starts_with("use ") && !rest.contains(';') {
            let Some(next) = lines.next() else { break };
            rest.push_str(next.trim());
        }
        let rest = rest.as_str();
        if let Some(name) = rest.strip_prefix("mod ") {
            let name = identifier(name);
            items.insert(format!("{path}::{name}"));
            if let Some(child) = module_file(file, name) {
                public_items(&child, &format!("{path}::{name}"), items);
            }
        } else if let Some(body) = rest.strip_prefix("use ") {
            items.extend(reexported(body).into_iter().map(|n| format!("{path}::{n}")));
        } else if let Some(kind) = KINDS.iter().find(|k| rest.starts_with(&format!("{k} "))) {
            items.insert(format!("{path}::{}", identifier(&rest[kind.len() + 1..])));
        }
    }
}

/// The paths the API section of docs/development.md lists (one `obo_core::…` per line).
fn documented_api(doc: &str) -> BTreeSet<String> {
    let section = &doc[doc.find(API_HEADING).expect("docs/development.md has the API section")..];
    let end = section[API_HEADING.len()..].find("\n## ").map_or(section.len(), |i| i + API_HEADING.len());
    section[..end]
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with("obo_core::"))
        .map(|l| l.split_whitespace().next().unwrap_or(l).to_owned())
        .collect()
}

#[test]
fn the_scanner_sees_public_items_only() {
    assert_eq!(reexported("reason::{ReasonCode, Rejection as R};"), ["ReasonCode", "R"]);
    assert_eq!(reexported("secret::Secret;"), ["Secret"]);
    let doc =
        format!("{API_HEADING}\n\n```\nobo_core::a  (note)\nobo_core::a::B\n```\n\n## Next\nobo_core::c\n");
    assert_eq!(documented_api(&doc), BTreeSet::from(["obo_core::a".to_owned(), "obo_core::a::B".to_owned()]));
}

#[test]
fn obo_core_public_api_is_the_documented_one() {
    let root = workspace_root();
    let mut code = BTreeSet::new();
    public_items(&root.join("crates/obo-core/src/lib.rs"), "obo_core", &mut code);
    assert!(code.contains("obo_core::ReasonCode"), "the scan missed the re-exports: {code:?}");
    let doc = std::fs::read_to_string(root.join("docs/development.md")).expect("docs/development.md");
    let listed = documented_api(&doc);
    let unlisted: Vec<_> = code.difference(&listed).collect();
    let gone: Vec<_> = listed.difference(&code).collect();
    assert!(
        unlisted.is_empty() && gone.is_empty(),
        "obo-core's `pub` items and docs/development.md's API list differ.\n\
         pub in the code but not listed (list it, or make it pub(crate)): {unlisted:#?}\n\
         listed but not pub in the code: {gone:#?}"
    );
}

#[test]
fn obo_target_builds_without_the_lambdas_dependencies() {
    let out = Command::new(env!("CARGO"))
        .args(["tree", "-p", "obo-target", "-e", "normal", "--prefix", "none", "--offline"])
        .current_dir(workspace_root())
        .output()
        .expect("run cargo tree");
    assert!(out.status.success(), "cargo tree failed: {}", String::from_utf8_lossy(&out.stderr));
    let tree = String::from_utf8_lossy(&out.stdout);
    let crates: BTreeSet<&str> = tree.lines().filter_map(|l| l.split_whitespace().next()).collect();
    assert!(crates.contains("obo-core"), "the tree lacks obo-core: {crates:?}");
    for lambda_only in ["lambda_runtime", "tracing-subscriber", "lru", "aws-config", "mimalloc"] {
        assert!(!crates.contains(lambda_only), "obo-target depends on {lambda_only}");
    }
}
