//! The house rules, checked on the source: every library module uses only the layers below
//! it, no two modules use each other (directly or round a circle), and the command line's
//! crates (clap, indicatif, anyhow) stay in the binary.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The library's layers, lowest first. A module may use its own layer's leaf modules only if
/// listed earlier in the same layer, and any module of a lower layer.
const LAYERS: &[&[&str]] = &[
    &[
        "cpu", "special", "rng", "format", "tally", "progress", "quantize", "atomic",
    ],
    &["scenario", "search"],
    &["population", "closed_form"],
    &["estimate"],
    &["import"],
    &["pipeline"],
    &["report"],
    &["error"],
];

/// The binary's own files: they alone may use clap, indicatif and anyhow.
fn is_binary(rel: &Path) -> bool {
    rel.starts_with("cli") || rel == Path::new("main.rs")
}

/// (path relative to src/, text without comments and without unit-test modules) of every file.
fn sources() -> Vec<(PathBuf, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut out = Vec::new();
    let mut stack = vec![root.clone()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("src/ is readable") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path).expect("source is UTF-8");
                let code: String = text
                    .split("#[cfg(test)]\nmod tests")
                    .next()
                    .unwrap_or("")
                    .lines()
                    .filter(|l| !l.trim_start().starts_with("//"))
                    .collect::<Vec<_>>()
                    .join("\n");
                out.push((path.strip_prefix(&root).unwrap().to_path_buf(), code));
            }
        }
    }
    out.sort();
    out
}

/// The module path of a file: `pipeline/run.rs` -> [pipeline, run], `report/mod.rs` -> [report].
fn module_of(rel: &Path) -> Vec<String> {
    let mut parts: Vec<String> = rel
        .with_extension("")
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    if parts.last().is_some_and(|p| p == "mod") {
        parts.pop();
    }
    parts
}

/// Every `crate::a::b` and `super::x` path a file uses, as module paths of at most two parts.
fn uses(module: &[String], code: &str) -> BTreeSet<Vec<String>> {
    let mut out = BTreeSet::new();
    let ident = |s: &str| -> Vec<String> {
        s.split("::")
            .take_while(|p| {
                !p.is_empty()
                    && p.chars()
                        .all(|c| c.is_ascii_lowercase() || c == '_' || c.is_ascii_digit())
            })
            .take(2)
            .map(str::to_string)
            .collect()
    };
    for (at, _) in code.match_indices("crate::") {
        let rest: String = code[at + 7..]
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':')
            .collect();
        let path = ident(&rest);
        if !path.is_empty() {
            out.insert(path);
        }
    }
    for (at, _) in code.match_indices("super::") {
        if at > 0 && code[..at].ends_with("::") {
            continue;
        }
        let rest: String = code[at + 7..]
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        if rest.chars().next().is_some_and(|c| c.is_ascii_lowercase()) {
            let mut path: Vec<String> = module[..module.len().saturating_sub(1)].to_vec();
            path.push(rest);
            path.truncate(2);
            out.insert(path);
        }
    }
    out
}

fn layer(top: &str) -> Option<(usize, usize)> {
    LAYERS
        .iter()
        .enumerate()
        .find_map(|(l, names)| names.iter().position(|n| *n == top).map(|p| (l, p)))
}

#[test]
fn every_module_uses_only_the_layers_below_it() {
    let mut wrong = Vec::new();
    for (rel, code) in sources() {
        if is_binary(&rel) || rel == Path::new("lib.rs") {
            continue;
        }
        let module = module_of(&rel);
        let me = layer(&module[0]).unwrap_or_else(|| {
            panic!(
                "src/{}: module {} is in no layer of LAYERS",
                rel.display(),
                module[0]
            )
        });
        for used in uses(&module, &code) {
            if used[0] == module[0] {
                continue;
            }
            match layer(&used[0]) {
                Some(other) if other < me => {}
                _ => wrong.push(format!("src/{} uses {}", rel.display(), used.join("::"))),
            }
        }
    }
    assert!(wrong.is_empty(), "layering broken:\n{}", wrong.join("\n"));
}

#[test]
fn no_two_modules_use_each_other() {
    // Nodes are module paths of at most two parts (report::figures, pipeline::run).
    let mut graph: BTreeMap<Vec<String>, BTreeSet<Vec<String>>> = BTreeMap::new();
    let files = sources();
    for (rel, code) in &files {
        if is_binary(rel) || rel == Path::new("lib.rs") {
            continue;
        }
        let module = module_of(rel);
        let node: Vec<String> = module.iter().take(2).cloned().collect();
        let entry = graph.entry(node.clone()).or_default();
        for used in uses(&module, code) {
            if used != node {
                entry.insert(used);
            }
        }
    }
    let nodes: BTreeSet<Vec<String>> = graph.keys().cloned().collect();
    // A used path that is not a module file of its own (an item, or a one-file module's item)
    // stands for its first part.
    let resolve = |p: &Vec<String>| -> Vec<String> {
        if nodes.contains(p) {
            p.clone()
        } else {
            vec![p[0].clone()]
        }
    };
    let mut cycles = Vec::new();
    for start in &nodes {
        let mut seen = BTreeSet::new();
        let mut stack: Vec<Vec<String>> = graph[start].iter().map(resolve).collect();
        while let Some(n) = stack.pop() {
            if &n == start {
                cycles.push(start.join("::"));
                break;
            }
            if seen.insert(n.clone())
                && let Some(next) = graph.get(&n)
            {
                stack.extend(next.iter().map(resolve).filter(|m| *m != n));
            }
        }
    }
    assert!(cycles.is_empty(), "modules on a circle of uses: {cycles:?}");
}

#[test]
fn the_library_uses_no_command_line_crate() {
    let mut wrong = Vec::new();
    for (rel, code) in sources() {
        if is_binary(&rel) {
            continue;
        }
        for krate in ["clap::", "indicatif::", "anyhow::", "anyhow!"] {
            if code.contains(krate) {
                wrong.push(format!("src/{} uses {krate}", rel.display()));
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn the_checks_above_can_fail() {
    // A reference up a layer and a circle are found (guards against a parser that sees nothing).
    let used = uses(
        &["search".into()],
        "use crate::report::results::Results;\nlet x = super::tally::Tally::new();",
    );
    assert!(used.contains(&vec!["report".to_string(), "results".to_string()]));
    assert!(layer("report") > layer("search"));
    let sub = uses(
        &["report".into(), "evaluation".into()],
        "use super::document;",
    );
    assert!(sub.contains(&vec!["report".to_string(), "document".to_string()]));
}

/// The longest a function may be, in lines (split it at its seams beyond that).
const MAX_FUNCTION_LINES: usize = 150;

/// (file, function, first line, lines) of every function in `code`, found by its `fn` line
/// and the brace that closes it (strings and comments holding braces are rare enough in this
/// code base that the count is exact; the test below shows it measures a known function).
fn functions(file: &str, code: &str) -> Vec<(String, String, usize, usize)> {
    let lines: Vec<&str> = code.lines().collect();
    let mut out = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let t = line.trim_start();
        let t = t
            .strip_prefix("pub ")
            .or_else(|| t.strip_prefix("pub(crate) "))
            .or_else(|| t.strip_prefix("pub(super) "))
            .unwrap_or(t);
        let t = t.strip_prefix("const ").unwrap_or(t);
        let Some(rest) = t.strip_prefix("fn ") else {
            continue;
        };
        let name: String = rest
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        let (mut depth, mut opened) = (0i64, false);
        for (j, l) in lines.iter().enumerate().skip(i) {
            for c in l.chars() {
                match c {
                    '{' => {
                        depth += 1;
                        opened = true;
                    }
                    '}' => depth -= 1,
                    _ => {}
                }
            }
            if !opened && l.trim_end().ends_with(';') {
                break;
            }
            if opened && depth == 0 {
                out.push((file.to_string(), name.clone(), i + 1, j - i + 1));
                break;
            }
        }
    }
    out
}

#[test]
fn no_function_is_longer_than_the_limit() {
    let mut long = Vec::new();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut stack = vec![root.clone()];
    let mut measured = 0;
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path).unwrap();
                let rel = path.strip_prefix(&root).unwrap().display().to_string();
                for f in functions(&rel, &text) {
                    measured += 1;
                    if f.3 > MAX_FUNCTION_LINES {
                        long.push(format!(
                            "src/{}: fn {} (line {}) has {} lines",
                            f.0, f.1, f.2, f.3
                        ));
                    }
                }
            }
        }
    }
    assert!(measured > 500, "only {measured} functions found");
    assert!(
        long.is_empty(),
        "longer than {MAX_FUNCTION_LINES} lines:\n{}",
        long.join("\n")
    );
    // The measure itself: a known three-line function.
    let f = functions(
        "x.rs",
        "/// doc\npub fn three() -> u8 {\n    3\n}\nfn next() {}\n",
    );
    assert_eq!(f[0].1, "three");
    assert_eq!(f[0].3, 3);
    assert_eq!(f[1].3, 1);
}
