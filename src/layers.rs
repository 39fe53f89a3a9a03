//! The crate's layers, bottom to top, and a test that keeps them: a module imports only from
//! its own layer's peers below it and from lower layers, never from a layer above.
//!
//! - `units`, `result`, `exit`, `redact`: units and formatting, the saved result (wire types),
//!   exit codes, what is a secret and its redacted form
//! - `analyse`: findings, thresholds, heap snapshots, CPU profiles, statistics
//! - `plan`: the validated description of a run
//! - `scenario`, `load`, `target`, `sample`: scenario files, the load generator, the target
//!   process and its probe, the process sampler
//! - `report`: renderers of a saved result
//! - `run`: one run from plan to output
//! - `cli`: the command line

/// Each top-level module's layer, bottom first.
pub const LAYERS: &[&[&str]] = &[
    &["units", "result", "exit", "redact"],
    &["analyse"],
    &["plan"],
    &["scenario", "load", "target", "sample"],
    &["report"],
    &["run"],
    &["cli"],
];

/// The layer of a top-level module, if it has one.
pub fn layer(module: &str) -> Option<usize> {
    LAYERS.iter().position(|layer| layer.contains(&module))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::{Path, PathBuf};

    /// Every `.rs` file under `dir`.
    fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                sources(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }

    /// The modules a line of code names as `crate::name` or in `crate::{a, b::c}`.
    fn named(line: &str) -> Vec<String> {
        let mut out = Vec::new();
        let mut rest = line;
        while let Some(at) = rest.find("crate::") {
            rest = &rest[at + "crate::".len()..];
            if let Some(group) = rest.strip_prefix('{') {
                let end = group.find('}').unwrap_or(group.len());
                for part in group[..end].split(',') {
                    let name: String = part
                        .trim()
                        .chars()
                        .take_while(|c| c.is_alphanumeric() || *c == '_')
                        .collect();
                    out.push(name);
                }
            } else {
                out.push(
                    rest.chars()
                        .take_while(|c| c.is_alphanumeric() || *c == '_')
                        .collect(),
                );
            }
        }
        out
    }

    #[test]
    fn no_module_imports_from_a_layer_above_it() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut files = Vec::new();
        sources(&root, &mut files);
        let mut wrong = Vec::new();
        for file in files {
            let relative = file.strip_prefix(&root).unwrap();
            let top = relative
                .components()
                .next()
                .unwrap()
                .as_os_str()
                .to_string_lossy()
                .trim_end_matches(".rs")
                .to_string();
            let Some(own) = layer(&top) else {
                continue; // lib.rs, main.rs, this file
            };
            let text = std::fs::read_to_string(&file).unwrap();
            for (number, line) in text.lines().enumerate() {
                if line.starts_with("#[cfg(test)]") {
                    break; // unit tests may build what they test from above
                }
                if line.trim_start().starts_with("//") {
                    continue;
                }
                for module in named(line) {
                    if layer(&module).is_some_and(|other| other > own) {
                        wrong.push(format!(
                            "src/{}:{}: {top} imports {module}",
                            relative.display(),
                            number + 1
                        ));
                    }
                }
            }
        }
        assert!(
            wrong.is_empty(),
            "imports that point up a layer:\n{}",
            wrong.join("\n")
        );
    }

    #[test]
    fn every_module_has_a_layer() {
        let lib =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/src/lib.rs")).unwrap();
        for line in lib.lines() {
            let line = line.trim();
            if let Some(name) = line
                .strip_prefix("pub mod ")
                .or_else(|| line.strip_prefix("mod "))
            {
                let name = name.trim_end_matches(';');
                let test_only = ["layers", "testing"];
                assert!(
                    test_only.contains(&name) || layer(name).is_some(),
                    "{name} has no layer"
                );
            }
        }
    }

    #[test]
    fn imports_are_found_in_paths_and_groups() {
        assert_eq!(named("use crate::report::terminal;"), ["report"]);
        assert_eq!(named("use crate::{load, plan::Plan};"), ["load", "plan"]);
    }
}
