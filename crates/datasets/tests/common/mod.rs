//! Helpers shared by the datasets crate's integration tests.

use std::path::{Path, PathBuf};

/// The offline datasets at `../shared/datasets` (beside the repository), if present. A test
/// that needs them returns early when they are absent, saying so, except under CI (`CI` set
/// and not `false`/`0`), where a missing folder fails the test, naming it.
pub fn shared() -> Option<PathBuf> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/datasets");
    if p.is_dir() {
        return Some(p);
    }
    let ci = std::env::var("CI").is_ok_and(|v| !matches!(v.as_str(), "" | "false" | "0"));
    assert!(
        !ci,
        "CI is set, but the offline datasets folder {} is missing: the real-data tests cannot run",
        p.display()
    );
    eprintln!("skipping: offline datasets not found at {}", p.display());
    None
}
