//! Atomic file writes: every output file of `cargo xtask reproduce` goes through here.
//!
//! A file is first written to a temporary file in the same directory (so the final `rename`
//! never crosses a file system), flushed to disk with `fsync`, and then renamed over the target.
//! A rename within one directory is atomic on POSIX systems: after a Ctrl-C or a crash the target
//! holds either its old content or its complete new content, never half a file. An interrupted
//! write can leave a hidden temporary file (`.<name>.tmp-<pid>-<n>.<ext>`) behind; such files are
//! swept by [`clean_stale_temps`] at the start of the next run.

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::{Context, Result};

/// The marker every temporary file name contains (used by [`clean_stale_temps`]).
const TMP_MARKER: &str = ".tmp-";

/// Counter that makes temporary names unique within one process (threads may write at once).
static COUNTER: AtomicU64 = AtomicU64::new(0);

/// Atomically replace `path` with `bytes` (creating parent directories as needed).
///
/// Writes a temporary file in the same directory, `fsync`s it, renames it over `path` and
/// (best effort) `fsync`s the directory so the rename itself is durable.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    write_atomic_with(path, |tmp| {
        let mut f = File::create(tmp).with_context(|| format!("creating {}", tmp.display()))?;
        f.write_all(bytes)
            .with_context(|| format!("writing {}", tmp.display()))?;
        Ok(())
    })
}

/// Atomically produce `path` with a writer that needs a file *path* rather than bytes
/// (e.g. plotters' PNG backend, which picks the image format from the extension).
///
/// `produce` receives a temporary path in the same directory that keeps `path`'s extension;
/// it must create that file. The file is then `fsync`ed and renamed over `path`. On error the
/// temporary file is removed and `path` is left untouched.
pub fn write_atomic_with(path: &Path, produce: impl FnOnce(&Path) -> Result<()>) -> Result<()> {
    let dir = parent_dir(path);
    fs::create_dir_all(&dir).with_context(|| format!("creating directory {}", dir.display()))?;
    let tmp = temp_path_for(path);
    let result = produce(&tmp).and_then(|()| {
        // Flush the data itself before the rename makes it visible under the final name.
        File::open(&tmp)
            .and_then(|f| f.sync_all())
            .with_context(|| format!("syncing {}", tmp.display()))?;
        fs::rename(&tmp, path)
            .with_context(|| format!("renaming {} to {}", tmp.display(), path.display()))
    });
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result?;
    // Make the rename durable; not every platform can open a directory, so this is best effort.
    if let Ok(d) = File::open(&dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// The temporary path used for `path`: hidden, in the same directory, unique per process and
/// call, and keeping the extension (`.plot.png.tmp-123-4.png`).
fn temp_path_for(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "out".to_string());
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let mut tmp_name = format!(".{name}{TMP_MARKER}{}-{n}", std::process::id());
    if let Some(ext) = path.extension() {
        tmp_name.push('.');
        tmp_name.push_str(&ext.to_string_lossy());
    }
    parent_dir(path).join(tmp_name)
}

/// The directory holding `path` (`.` for a bare file name).
fn parent_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Whether `name` looks like a temporary file left by an interrupted atomic write.
pub fn is_temp_name(name: &str) -> bool {
    name.starts_with('.') && name.contains(TMP_MARKER)
}

/// Remove temporary files left behind by interrupted writes anywhere under `dir`.
/// Returns how many were removed. A missing `dir` is not an error.
pub fn clean_stale_temps(dir: &Path) -> Result<usize> {
    let mut removed = 0;
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(e).with_context(|| format!("reading {}", dir.display())),
    };
    for entry in entries {
        let entry = entry?;
        let path = entry.path();
        let ty = entry.file_type()?;
        if ty.is_dir() {
            removed += clean_stale_temps(&path)?;
        } else if is_temp_name(&entry.file_name().to_string_lossy()) {
            fs::remove_file(&path).with_context(|| format!("removing {}", path.display()))?;
            removed += 1;
        }
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tempdir::TempDir;

    fn names(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn write_creates_dirs_replaces_content_and_leaves_no_temp_files() {
        let t = TempDir::new("atomic");
        let p = t.path().join("sub/dir/a.txt");
        write_atomic(&p, b"first").unwrap();
        write_atomic(&p, b"second").unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"second");
        assert_eq!(names(&t.path().join("sub/dir")), vec!["a.txt".to_string()]);
    }

    #[test]
    fn failed_producer_leaves_target_untouched_and_no_temp_file() {
        let t = TempDir::new("atomic-fail");
        let p = t.path().join("b.png");
        write_atomic(&p, b"old").unwrap();
        let err = write_atomic_with(&p, |tmp| {
            assert!(
                tmp.extension().unwrap() == "png",
                "temp keeps the extension"
            );
            fs::write(tmp, b"half")?;
            anyhow::bail!("interrupted")
        });
        assert!(err.is_err());
        assert_eq!(fs::read(&p).unwrap(), b"old");
        assert_eq!(names(t.path()), vec!["b.png".to_string()]);
    }

    #[test]
    fn stale_temps_are_swept() {
        let t = TempDir::new("atomic-sweep");
        fs::create_dir_all(t.path().join("x")).unwrap();
        fs::write(t.path().join("x/.a.csv.tmp-1-2.csv"), b"half").unwrap();
        fs::write(t.path().join("x/a.csv"), b"ok").unwrap();
        assert_eq!(clean_stale_temps(t.path()).unwrap(), 1);
        assert_eq!(names(&t.path().join("x")), vec!["a.csv".to_string()]);
        assert_eq!(clean_stale_temps(&t.path().join("missing")).unwrap(), 0);
    }
}
