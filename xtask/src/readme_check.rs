//! `cargo xtask readme-check`: every library crate's README example, built and run the way
//! a new user would, in a fresh project outside the workspace that depends on that crate alone.
//!
//! For each crate under `crates/` (found on the file system, so new crates are checked too) a
//! temporary project is made whose `Cargo.toml` depends on the crate by path, plus those of the
//! crate's own dependencies and dev-dependencies that the example names (`rand::`, `faer::`,
//! ...), with the workspace's version requirements written out. The workspace `Cargo.lock` is
//! copied in so the same versions are used (no index update is needed), and every project
//! builds into one shared target folder (`target/readme-check`) so dependencies compile once.
//! The README's first ```` ```rust ```` block becomes `src/main.rs`: lines hidden with `# `
//! are kept, as rustdoc does, and the code is wrapped in `fn main()` (returning
//! `Result<(), Box<dyn Error>>` when it uses `?`). A `no_run` block is built but not run.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use serde_json::Value;

/// A crate to check: its package name, folder and the dependencies an example may name.
#[derive(Debug, Clone)]
pub struct CrateInfo {
    /// Package name (`imbalance-losses`).
    pub name: String,
    /// The folder holding its `Cargo.toml`.
    pub dir: PathBuf,
    /// Its dependencies and dev-dependencies (not the build ones).
    pub deps: Vec<Dep>,
}

/// One dependency as it would be written in a fresh project's `Cargo.toml`.
#[derive(Debug, Clone, PartialEq)]
pub struct Dep {
    /// The name code uses (`rand_pcg`): the package name with `-` as `_`, or the rename.
    pub ident: String,
    /// The `Cargo.toml` line, `rand_pcg = { version = "^0.10" }`.
    pub line: String,
}

/// The example taken from a README.
#[derive(Debug, Clone, PartialEq)]
pub struct Example {
    /// The code as rustdoc compiles it (hidden lines included).
    pub code: String,
    /// Build only (the block is marked `no_run`).
    pub no_run: bool,
}

/// Check every library crate under `<root>/crates` (or only `only`); prints one line per
/// crate and fails if any example does not build or run.
pub fn run(root: &Path, only: Option<&str>) -> Result<()> {
    let crates = discover(root)?;
    let selected: Vec<&CrateInfo> = crates
        .iter()
        .filter(|c| only.is_none_or(|o| c.name == o || c.name == format!("imbalance-{o}")))
        .collect();
    if selected.is_empty() {
        let names: Vec<&str> = crates.iter().map(|c| c.name.as_str()).collect();
        bail!(
            "no crate named {:?}; crates: {}",
            only.unwrap_or(""),
            names.join(", ")
        );
    }
    let target = root.join("target").join("readme-check");
    let lock = root.join("Cargo.lock");
    let start = Instant::now();
    let mut failed = Vec::new();
    for c in &selected {
        let t = Instant::now();
        match check_crate(c, &lock, &target) {
            Ok(what) => println!(
                "PASS {} ({what}, {:.1}s)",
                c.name,
                t.elapsed().as_secs_f64()
            ),
            Err(e) => {
                println!("FAIL {}: {e:#}", c.name);
                failed.push(c.name.clone());
            }
        }
    }
    println!(
        "{} passed, {} failed ({:.0}s)",
        selected.len() - failed.len(),
        failed.len(),
        start.elapsed().as_secs_f64()
    );
    if !failed.is_empty() {
        bail!("README examples failed: {}", failed.join(", "));
    }
    Ok(())
}

/// Build and run one crate's README example; returns what was done ("ran" or "built").
fn check_crate(c: &CrateInfo, lock: &Path, target: &Path) -> Result<&'static str> {
    let readme = c.dir.join("README.md");
    let text =
        fs::read_to_string(&readme).with_context(|| format!("reading {}", readme.display()))?;
    let example = first_rust_block(&text)
        .with_context(|| format!("{}: no ```rust block", readme.display()))?;
    let project = tempfile::Builder::new()
        .prefix("readme-check-")
        .tempdir()
        .context("creating a temporary project")?;
    let p = project.path();
    fs::create_dir_all(p.join("src"))?;
    fs::write(p.join("Cargo.toml"), manifest(c, &example.code))?;
    fs::write(p.join("src/main.rs"), main_rs(&example.code))?;
    if lock.is_file() {
        fs::copy(lock, p.join("Cargo.lock")).context("copying Cargo.lock")?;
    }
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.arg(if example.no_run { "build" } else { "run" })
        .args(["--release", "--quiet"])
        .current_dir(p)
        .env("CARGO_TARGET_DIR", target);
    let out = cmd.output().context("running cargo")?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let tail: Vec<&str> = stderr.lines().rev().take(40).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        bail!(
            "`cargo {}` in a fresh project ({}) failed:\n{}",
            if example.no_run { "build" } else { "run" },
            p.display(),
            tail.join("\n")
        );
    }
    Ok(if example.no_run { "built" } else { "ran" })
}

/// The library crates under `<root>/crates/*/` with their dependencies, from the file system
/// and `cargo metadata` (which resolves `workspace = true` to the actual requirements).
pub fn discover(root: &Path) -> Result<Vec<CrateInfo>> {
    let crates_dir = root.join("crates");
    let mut dirs: Vec<PathBuf> = fs::read_dir(&crates_dir)
        .with_context(|| format!("reading {}", crates_dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|d| d.join("Cargo.toml").is_file() && d.join("src/lib.rs").is_file())
        // A Python package (crates/python) is no workspace member and has no Rust example;
        // its pytest tests check its README's calls.
        .filter(|d| !d.join("pyproject.toml").is_file())
        .collect();
    dirs.sort();
    let out = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--manifest-path",
        ])
        .arg(root.join("Cargo.toml"))
        .output()
        .context("running cargo metadata")?;
    if !out.status.success() {
        bail!(
            "cargo metadata failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let meta: Value = serde_json::from_slice(&out.stdout).context("parsing cargo metadata")?;
    let packages = meta["packages"].as_array().cloned().unwrap_or_default();
    let mut crates = Vec::new();
    for dir in dirs {
        let manifest = fs::canonicalize(dir.join("Cargo.toml"))?;
        let pkg = packages
            .iter()
            .find(|p| {
                p["manifest_path"]
                    .as_str()
                    .and_then(|m| fs::canonicalize(m).ok())
                    .is_some_and(|m| m == manifest)
            })
            .with_context(|| {
                format!(
                    "{} is not a workspace member (add it to [workspace] members)",
                    dir.display()
                )
            })?;
        let deps = pkg["dependencies"]
            .as_array()
            .map(|ds| ds.iter().filter_map(dep_of).collect())
            .unwrap_or_default();
        crates.push(CrateInfo {
            name: pkg["name"].as_str().unwrap_or_default().to_string(),
            dir,
            deps,
        });
    }
    Ok(crates)
}

/// A `cargo metadata` dependency as a fresh project's `Cargo.toml` line (None for build
/// dependencies).
fn dep_of(d: &Value) -> Option<Dep> {
    if d["kind"].as_str() == Some("build") {
        return None;
    }
    let name = d["name"].as_str()?;
    let key = d["rename"].as_str().unwrap_or(name);
    let mut fields = Vec::new();
    if key != name {
        fields.push(format!("package = {name:?}"));
    }
    match d["path"].as_str() {
        Some(path) => fields.push(format!("path = {path:?}")),
        None => fields.push(format!("version = {:?}", d["req"].as_str()?)),
    }
    if d["uses_default_features"].as_bool() == Some(false) {
        fields.push("default-features = false".to_string());
    }
    let features: Vec<String> = d["features"]
        .as_array()
        .map(|f| {
            f.iter()
                .filter_map(|x| x.as_str())
                .map(|x| format!("{x:?}"))
                .collect()
        })
        .unwrap_or_default();
    if !features.is_empty() {
        fields.push(format!("features = [{}]", features.join(", ")));
    }
    Some(Dep {
        ident: key.replace('-', "_"),
        line: format!("{key} = {{ {} }}", fields.join(", ")),
    })
}

/// Whether `code` names the crate `ident` (`ident::...`, `use ident`, `extern crate ident`).
fn names_crate(code: &str, ident: &str) -> bool {
    let bytes = code.as_bytes();
    code.match_indices(ident).any(|(i, _)| {
        let before_ok = i == 0 || !(bytes[i - 1].is_ascii_alphanumeric() || bytes[i - 1] == b'_');
        let rest = &code[i + ident.len()..];
        before_ok
            && (rest.starts_with("::")
                || rest.starts_with(';') && code[..i].trim_end().ends_with("use"))
    })
}

/// The fresh project's `Cargo.toml`: the crate by path, and each dependency the example names.
pub fn manifest(c: &CrateInfo, code: &str) -> String {
    let own = c.name.replace('-', "_");
    let mut lines = vec![format!(
        "{} = {{ path = {:?} }}",
        c.name,
        c.dir.display().to_string()
    )];
    let mut seen = vec![own];
    for d in &c.deps {
        if !seen.contains(&d.ident) && names_crate(code, &d.ident) {
            seen.push(d.ident.clone());
            lines.push(d.line.clone());
        }
    }
    format!(
        "[package]\nname = \"readme-check-{}\"\nversion = \"0.0.0\"\nedition = \"2024\"\n\
         publish = false\n\n[dependencies]\n{}\n\n# Not part of any enclosing workspace.\n[workspace]\n",
        c.name,
        lines.join("\n")
    )
}

/// The first ```` ```rust ```` block of a Markdown text, as rustdoc would compile it
/// (None if there is none; `ignore` and `compile_fail` blocks are skipped).
pub fn first_rust_block(markdown: &str) -> Option<Example> {
    let mut lines = markdown.lines();
    while let Some(line) = lines.next() {
        let Some(info) = line.trim_start().strip_prefix("```") else {
            continue;
        };
        let tags: Vec<&str> = info.split([',', ' ']).filter(|t| !t.is_empty()).collect();
        let body: Vec<&str> = lines
            .by_ref()
            .take_while(|l| !l.trim_start().starts_with("```"))
            .collect();
        let is_rust = tags.first() == Some(&"rust");
        let skipped = tags
            .iter()
            .any(|t| matches!(*t, "ignore" | "compile_fail" | "should_panic" | "text"));
        if is_rust && !skipped {
            return Some(Example {
                code: unhide(&body),
                no_run: tags.contains(&"no_run"),
            });
        }
    }
    None
}

/// Rustdoc's hidden lines: `# code` and a lone `#` are compiled without the marker, `##`
/// stands for a literal `#`; `#[attr]` and `#!` lines are ordinary code.
fn unhide(lines: &[&str]) -> String {
    let mut out = String::new();
    for line in lines {
        let trimmed = line.trim_start();
        let kept = if trimmed == "#" {
            ""
        } else if let Some(rest) = trimmed.strip_prefix("##") {
            out.push('#');
            rest
        } else if let Some(rest) = trimmed.strip_prefix("# ") {
            rest
        } else {
            line
        };
        out.push_str(kept);
        out.push('\n');
    }
    out
}

/// `src/main.rs` for an example: as is if it has its own `fn main`, else wrapped in one.
/// With `?`, main returns `Result<(), Box<dyn Error>>` and the doctest idiom
/// `Ok::<(), E>(())` on the last line becomes `Ok(())`.
pub fn main_rs(code: &str) -> String {
    if code.contains("fn main") {
        return code.to_string();
    }
    let body: Vec<&str> = code.lines().collect();
    let last = body.iter().rposition(|l| !l.trim().is_empty());
    let ends_ok = last.is_some_and(|i| {
        let t = body[i].trim();
        t.starts_with("Ok::<") && t.ends_with("(())")
    });
    if !code.contains('?') && !ends_ok {
        return format!("fn main() {{\n{code}}}\n");
    }
    let mut lines: Vec<&str> = body;
    if ends_ok && let Some(i) = last {
        lines.truncate(i);
    }
    format!(
        "fn main() -> Result<(), Box<dyn std::error::Error>> {{\n{}\nOk(())\n}}\n",
        lines.join("\n")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_rust_block_skips_text_and_ignored_blocks_and_unhides_lines() {
        let md = "# T\n```text\nnot code\n```\n```rust,ignore\nskip\n```\n\
                  ```rust\nuse a::b;\n# let hidden = 1;\n#[derive(Debug)]\nstruct S;\n##x\n#\n\
                  # Ok::<(), a::Error>(())\n```\n```rust\nsecond\n```\n";
        let ex = first_rust_block(md).unwrap();
        assert!(!ex.no_run);
        assert_eq!(
            ex.code,
            "use a::b;\nlet hidden = 1;\n#[derive(Debug)]\nstruct S;\n#x\n\nOk::<(), a::Error>(())\n"
        );
        let nr = first_rust_block("```rust,no_run\nfoo();\n```\n").unwrap();
        assert!(nr.no_run);
        assert_eq!(first_rust_block("```text\nx\n```\n"), None);
    }

    #[test]
    fn main_rs_wraps_by_use_of_question_mark() {
        assert_eq!(main_rs("let x = 1;\n"), "fn main() {\nlet x = 1;\n}\n");
        let w = main_rs("let v = f()?;\nOk::<(), a::Error>(())\n");
        assert_eq!(
            w,
            "fn main() -> Result<(), Box<dyn std::error::Error>> {\nlet v = f()?;\nOk(())\n}\n"
        );
        let own = "fn main() {}\n";
        assert_eq!(main_rs(own), own);
    }

    #[test]
    fn manifest_adds_only_the_named_dependencies() {
        let c = CrateInfo {
            name: "imbalance-x".into(),
            dir: PathBuf::from("/w/crates/x"),
            deps: vec![
                Dep {
                    ident: "rand".into(),
                    line: "rand = { version = \"^0.10\" }".into(),
                },
                Dep {
                    ident: "rand_pcg".into(),
                    line: "rand_pcg = { version = \"^0.10\" }".into(),
                },
                Dep {
                    ident: "faer".into(),
                    line: "faer = { version = \"^0.24\" }".into(),
                },
            ],
        };
        let m = manifest(
            &c,
            "use rand::SeedableRng;\nlet r = rand_pcg::Pcg64::new(1);\n",
        );
        assert!(
            m.contains("imbalance-x = { path = \"/w/crates/x\" }"),
            "{m}"
        );
        assert!(m.contains("rand = {") && m.contains("rand_pcg = {"), "{m}");
        assert!(!m.contains("faer"), "{m}");
        assert!(m.contains("\n[workspace]\n"), "{m}");
        // `grand::` and `operand_pcg::` do not name rand / rand_pcg.
        assert!(!names_crate("grand::x(); operand_pcg::y();", "rand"));
        assert!(!names_crate("operand_pcg::y();", "rand_pcg"));
        assert!(names_crate("use rand;", "rand"));
    }

    #[test]
    fn dep_of_writes_versions_features_and_paths() {
        let v: Value = serde_json::json!({
            "name": "faer", "req": "^0.24", "kind": null, "rename": null,
            "uses_default_features": false, "features": ["std", "linalg"]
        });
        assert_eq!(
            dep_of(&v).unwrap().line,
            "faer = { version = \"^0.24\", default-features = false, features = [\"std\", \"linalg\"] }"
        );
        let p: Value = serde_json::json!({
            "name": "imbalance-gmm", "req": "^0.1.0", "kind": "dev", "rename": null,
            "uses_default_features": true, "features": [], "path": "/w/crates/gmm"
        });
        let d = dep_of(&p).unwrap();
        assert_eq!(d.ident, "imbalance_gmm");
        assert_eq!(d.line, "imbalance-gmm = { path = \"/w/crates/gmm\" }");
        let b: Value = serde_json::json!({"name": "cc", "req": "^1", "kind": "build"});
        assert_eq!(dep_of(&b), None);
    }

    /// The real thing on the smallest crate: a fresh project outside the workspace builds and
    /// runs imbalance-losses' README example.
    #[test]
    fn losses_readme_example_runs_in_a_fresh_project() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
        let crates = discover(root).unwrap();
        for name in [
            "imbalance-datasets",
            "imbalance-features",
            "imbalance-losses",
        ] {
            assert!(crates.iter().any(|c| c.name == name), "{name} not found");
        }
        let losses = crates
            .iter()
            .find(|c| c.name == "imbalance-losses")
            .unwrap();
        let target = root.join("target").join("readme-check");
        assert_eq!(
            check_crate(losses, &root.join("Cargo.lock"), &target).unwrap(),
            "ran"
        );
    }
}
