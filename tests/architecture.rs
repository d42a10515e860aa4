//! The module structure drawn from the imports has no cycle (issue 21's first "done when").
//!
//! A module depends on another when its code names it through a `crate::`, `super::` or
//! `self::` path, or a `use crate::{..}` / `use super::{..}` group; the part after
//! `#[cfg(test)] mod tests` is left out, since tests may reach anywhere. Doc links count: a
//! low layer that links to the layer above it knows about it. A path resolves to the deepest
//! module it names, so `crate::card::KeySlot` (re-exported by `card`) is a use of `card`. This
//! is the graph issue 21's cycle check draws; a cycle is a set of modules each reachable from
//! every other one.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Module name (`card::files`; the crate root is "") to the text that counts for its imports.
type Sources = BTreeMap<String, String>;
type Graph = BTreeMap<String, BTreeSet<String>>;

fn module_name(relative: &Path) -> String {
    let mut parts: Vec<String> = relative
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    if let Some(last) = parts.last_mut() {
        *last = last.trim_end_matches(".rs").to_string();
    }
    if parts.last().map(String::as_str) == Some("mod") {
        parts.pop();
    }
    if parts == ["lib"] || parts == ["main"] {
        parts.clear();
    }
    parts.join("::")
}

fn read_sources(root: &Path) -> Sources {
    let mut sources = Sources::new();
    let mut dirs = vec![root.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        let entries = std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        for entry in entries {
            let path: PathBuf = entry.expect("a directory entry").path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path)
                    .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
                let relative = path.strip_prefix(root).expect("under the root");
                sources.insert(module_name(relative), text);
            }
        }
    }
    sources
}

fn is_word(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// The text before the first `#[cfg(test)]` followed (after white space) by `mod tests`.
fn without_tests(text: &str) -> &str {
    let marker = "#[cfg(test)]";
    let mut from = 0;
    while let Some(at) = text[from..].find(marker) {
        let start = from + at;
        let after = text[start + marker.len()..].trim_start();
        if after.starts_with("mod tests") {
            return &text[..start];
        }
        from = start + marker.len();
    }
    text
}

/// The deepest module that `parts` names, if any.
fn resolve(sources: &Sources, parts: &[String]) -> Option<String> {
    (1..=parts.len())
        .rev()
        .map(|n| parts[..n].join("::"))
        .find(|m| sources.contains_key(m))
}

/// Identifiers after `crate`/`super`/`self` joined by `::`, e.g. `crate::card::KeySlot`;
/// each hit is (keyword, following names).
fn paths(text: &str) -> Vec<(&str, Vec<String>)> {
    let mut found = Vec::new();
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    let mut i = 0;
    while i < chars.len() {
        let (at, _) = chars[i];
        let boundary = i == 0 || !is_word(chars[i - 1].1);
        let keyword = ["crate", "super", "self"]
            .into_iter()
            .find(|k| boundary && text[at..].starts_with(k));
        let Some(keyword) = keyword else {
            i += 1;
            continue;
        };
        let mut rest = &text[at + keyword.len()..];
        let mut names = Vec::new();
        while let Some(tail) = rest.strip_prefix("::") {
            let len = tail.find(|c: char| !is_word(c)).unwrap_or(tail.len());
            if len == 0 {
                break;
            }
            names.push(tail[..len].to_string());
            rest = &tail[len..];
        }
        let consumed = text.len() - rest.len() - at;
        if names.is_empty() {
            i += 1;
        } else {
            found.push((keyword, names));
            // Skip what was matched (as a regex search would).
            let end = at + consumed;
            while i < chars.len() && chars[i].0 < end {
                i += 1;
            }
        }
    }
    found
}

/// The items of `crate::{..}` and `super::{..}` groups: the text up to the last `}` before
/// the next `;`, with nested `{..}` groups dropped, split at commas.
fn groups(text: &str) -> Vec<(&str, Vec<String>)> {
    let mut found = Vec::new();
    for keyword in ["crate", "super"] {
        let opening = format!("{keyword}::{{");
        let mut from = 0;
        while let Some(at) = text[from..].find(&opening) {
            let start = from + at;
            from = start + opening.len();
            if text[..start].chars().next_back().is_some_and(is_word) {
                continue;
            }
            let body_start = start + opening.len();
            let until_semicolon = text[body_start..]
                .find(';')
                .map_or(&text[body_start..], |end| {
                    &text[body_start..body_start + end]
                });
            let Some(close) = until_semicolon.rfind('}') else {
                continue;
            };
            let body = drop_inner_groups(&until_semicolon[..close]);
            let items = body
                .split(',')
                .filter_map(|item| item.split_whitespace().next())
                .map(str::to_string)
                .collect();
            found.push((keyword, items));
        }
    }
    found
}

fn drop_inner_groups(body: &str) -> String {
    let mut out = String::new();
    let mut rest = body;
    while let Some(open) = rest.find('{') {
        match rest[open + 1..].find(['{', '}']) {
            Some(end) if rest[open + 1 + end..].starts_with('}') => {
                out.push_str(&rest[..open]);
                rest = &rest[open + 1 + end + 1..];
            }
            Some(end) => {
                out.push_str(&rest[..open + 1 + end]);
                rest = &rest[open + 1 + end..];
            }
            None => break,
        }
    }
    out.push_str(rest);
    out
}

fn graph(sources: &Sources) -> Graph {
    let mut edges = Graph::new();
    for (module, text) in sources {
        let text = without_tests(text);
        let me: Vec<String> = if module.is_empty() {
            Vec::new()
        } else {
            module.split("::").map(str::to_string).collect()
        };
        let parent = &me[..me.len().saturating_sub(1)];
        let mut targets = BTreeSet::new();
        for (keyword, mut rest) in paths(text) {
            let mut base: Vec<String> = match keyword {
                "crate" => Vec::new(),
                "super" => parent.to_vec(),
                _ => me.clone(),
            };
            if keyword == "super" {
                while rest.first().map(String::as_str) == Some("super") {
                    base.pop();
                    rest.remove(0);
                }
            }
            base.extend(rest);
            targets.extend(resolve(sources, &base).filter(|t| !t.is_empty()));
        }
        for (keyword, items) in groups(text) {
            let base: Vec<String> = if keyword == "crate" {
                Vec::new()
            } else {
                parent.to_vec()
            };
            for item in items {
                let mut parts = base.clone();
                parts.extend(item.split("::").map(str::to_string));
                targets.extend(resolve(sources, &parts).filter(|t| !t.is_empty()));
            }
        }
        targets.remove(module);
        edges.insert(module.clone(), targets);
    }
    edges
}

/// Every strongly connected set of two or more modules, each sorted (Tarjan's algorithm).
fn cycles(edges: &Graph) -> Vec<Vec<String>> {
    struct Walk<'g> {
        edges: &'g Graph,
        index: BTreeMap<&'g str, usize>,
        low: BTreeMap<&'g str, usize>,
        stack: Vec<&'g str>,
        on_stack: BTreeSet<&'g str>,
        found: Vec<Vec<String>>,
    }
    impl<'g> Walk<'g> {
        fn visit(&mut self, v: &'g str) {
            let n = self.index.len();
            self.index.insert(v, n);
            self.low.insert(v, n);
            self.stack.push(v);
            self.on_stack.insert(v);
            for w in self.edges.get(v).into_iter().flatten() {
                let w = w.as_str();
                if !self.index.contains_key(w) {
                    if !self.edges.contains_key(w) {
                        continue;
                    }
                    self.visit(w);
                    let low = self.low[v].min(self.low[w]);
                    self.low.insert(v, low);
                } else if self.on_stack.contains(w) {
                    let low = self.low[v].min(self.index[w]);
                    self.low.insert(v, low);
                }
            }
            if self.low[v] == self.index[v] {
                let mut component = Vec::new();
                while let Some(w) = self.stack.pop() {
                    self.on_stack.remove(w);
                    component.push(w.to_string());
                    if w == v {
                        break;
                    }
                }
                if component.len() > 1 {
                    component.sort();
                    self.found.push(component);
                }
            }
        }
    }
    let mut walk = Walk {
        edges,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        found: Vec::new(),
    };
    for v in edges.keys() {
        if !walk.index.contains_key(v.as_str()) {
            walk.visit(v);
        }
    }
    walk.found.sort();
    walk.found
}

#[test]
fn no_module_reaches_itself_through_its_imports() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let sources = read_sources(&root);
    let edges = graph(&sources);
    // The graph is the crate's: its layers are there and depend on each other as they should.
    assert!(
        edges
            .get("channel")
            .is_some_and(|t| t.contains("apdu") && t.contains("transport")),
        "the graph misses channel's imports: {:?}",
        edges.get("channel")
    );
    let found = cycles(&edges);
    assert!(
        found.is_empty(),
        "module cycles (each set reaches itself through crate::/super::/self:: paths):\n{}",
        found
            .iter()
            .map(|c| format!("  {}", c.join(" ↔ ")))
            .collect::<Vec<_>>()
            .join("\n")
    );
}

#[cfg(test)]
mod checker {
    use super::*;

    fn made_up(files: &[(&str, &str)]) -> Sources {
        files
            .iter()
            .map(|(path, text)| (module_name(Path::new(path)), text.to_string()))
            .collect()
    }

    #[test]
    fn a_made_up_two_file_cycle_is_found() {
        let sources = made_up(&[
            ("lib.rs", "pub mod reader;\npub mod writer;\n"),
            ("reader.rs", "use crate::writer::Page;\npub struct Book;\n"),
            ("writer.rs", "pub struct Page(crate::reader::Book);\n"),
        ]);
        assert_eq!(
            cycles(&graph(&sources)),
            vec![vec!["reader".to_string(), "writer".to_string()]]
        );
    }

    #[test]
    fn groups_super_paths_and_doc_links_are_imports_but_a_tests_module_is_not() {
        let sources = made_up(&[
            ("card/mod.rs", "pub mod files;\npub mod siths;\n"),
            ("card/files.rs", "use super::{siths::Key, open};\n"),
            ("card/siths.rs", "//! Reads [`crate::card::files`].\n"),
            (
                "card/open.rs",
                "#[cfg(test)]\nmod tests {\n    use crate::card::files;\n}\n",
            ),
            ("layout.rs", "use crate::{card::files::X, apdu};\n"),
            ("apdu.rs", ""),
        ]);
        let edges = graph(&sources);
        let of = |m: &str| edges[m].iter().cloned().collect::<Vec<_>>();
        assert_eq!(of("card::files"), ["card::open", "card::siths"]);
        assert_eq!(of("card::siths"), ["card::files"]);
        assert!(of("card::open").is_empty());
        assert_eq!(of("layout"), ["apdu", "card::files"]);
        assert_eq!(
            cycles(&edges),
            vec![vec!["card::files".to_string(), "card::siths".to_string()]]
        );
    }
}
