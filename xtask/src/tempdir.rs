//! A minimal self-deleting temporary directory (no extra dependency), used by `--check` and by
//! the tests.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// A fresh directory under the system temporary directory, removed on drop unless
/// [`TempDir::keep`] was called.
#[derive(Debug)]
pub struct TempDir {
    path: PathBuf,
    keep: bool,
}

impl TempDir {
    /// Create `<tmp>/xtask-<prefix>-<pid>-<nanos>-<n>`; panics if the directory cannot be created
    /// (tests only; use [`TempDir::try_new`] elsewhere).
    pub fn new(prefix: &str) -> Self {
        Self::try_new(prefix).expect("creating a temporary directory")
    }

    /// Create a fresh temporary directory named after `prefix`.
    pub fn try_new(prefix: &str) -> Result<Self> {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let path =
            std::env::temp_dir().join(format!("xtask-{prefix}-{}-{nanos}-{n}", std::process::id()));
        std::fs::create_dir_all(&path)
            .with_context(|| format!("creating temporary directory {}", path.display()))?;
        Ok(Self { path, keep: false })
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Do not delete the directory on drop (e.g. to let the user inspect a failed check);
    /// returns its path.
    pub fn keep(mut self) -> PathBuf {
        self.keep = true;
        self.path.clone()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if !self.keep {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}
