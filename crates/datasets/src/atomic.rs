//! Atomic file writes (the one definition in the workspace; `cargo xtask reproduce` uses it
//! for every output file).
//!
//! A file is first written to a temporary file in the same directory (so the final rename
//! never crosses a file system), flushed to disk, and then renamed over the target. A rename
//! within one directory is atomic on POSIX systems: after a Ctrl-C or a crash the target holds
//! either its old content or its complete new content, never half a file. The temporary files
//! come from the `tempfile` crate, named `.<name>.tmp-<random>.<ext>`; one left behind by a
//! killed process is recognised by [`is_temp_name`] and swept by [`clean_stale_temps`].

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use tempfile::NamedTempFile;

use crate::dataset::io_err;
use crate::error::{Error, Result};

/// The marker every temporary file name contains (see [`is_temp_name`]).
const TMP_MARKER: &str = ".tmp-";

/// Atomically replace `path` with `bytes`, creating parent directories as needed.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    write_atomic_with(path, |tmp| {
        fs::write(tmp, bytes).map_err(io_err(tmp))?;
        Ok(())
    })
}

/// Atomically produce `path` with a writer that needs a file *path* rather than bytes
/// (e.g. a plotting backend that picks the image format from the extension).
///
/// `produce` receives the path of an existing empty temporary file in the same directory
/// that keeps `path`'s extension; it writes (or truncates and rewrites) that file. The file
/// is then flushed to disk and renamed over `path`. If `produce` fails, the temporary file
/// is removed and `path` is left untouched.
pub fn write_atomic_with<E: From<Error>>(
    path: &Path,
    produce: impl FnOnce(&Path) -> std::result::Result<(), E>,
) -> std::result::Result<(), E> {
    let tmp = staged(path)?;
    produce(tmp.path())?;
    commit(tmp, path)?;
    Ok(())
}

/// A new temporary file next to `path` (whose directory is created if needed), deleted on
/// drop unless [`commit`]ted.
pub(crate) fn staged(path: &Path) -> Result<NamedTempFile> {
    let dir = parent_dir(path);
    fs::create_dir_all(&dir).map_err(io_err(&dir))?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "out".to_string());
    let suffix = path
        .extension()
        .map(|e| format!(".{}", e.to_string_lossy()))
        .unwrap_or_default();
    tempfile::Builder::new()
        .prefix(&format!(".{name}{TMP_MARKER}"))
        .suffix(&suffix)
        .tempfile_in(&dir)
        .map_err(io_err(&dir))
}

/// Write `bytes` to a staged temporary file for `path` (see [`commit`]).
pub(crate) fn staged_with(path: &Path, bytes: &[u8]) -> Result<NamedTempFile> {
    let mut tmp = staged(path)?;
    tmp.write_all(bytes).map_err(io_err(tmp.path()))?;
    Ok(tmp)
}

/// Flush `tmp` to disk and rename it over `path`; then (best effort) flush the directory so
/// the rename itself is durable.
pub(crate) fn commit(tmp: NamedTempFile, path: &Path) -> Result<()> {
    // Reopen by path: the producer may have replaced the file's content through its own handle.
    File::open(tmp.path())
        .and_then(|f| f.sync_all())
        .map_err(io_err(tmp.path()))?;
    tmp.persist(path).map_err(|e| Error::Io {
        path: path.to_path_buf(),
        source: e.error,
    })?;
    // Not every platform can open a directory, hence best effort.
    if let Ok(d) = File::open(parent_dir(path)) {
        let _ = d.sync_all();
    }
    Ok(())
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
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(io_err(dir)(e)),
    };
    let mut removed = 0;
    for entry in entries {
        let entry = entry.map_err(io_err(dir))?;
        let path = entry.path();
        if entry.file_type().map_err(io_err(&path))?.is_dir() {
            removed += clean_stale_temps(&path)?;
        } else if is_temp_name(&entry.file_name().to_string_lossy()) {
            fs::remove_file(&path).map_err(io_err(&path))?;
            removed += 1;
        }
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("sub/dir/a.txt");
        write_atomic(&p, b"first").unwrap();
        write_atomic(&p, b"second").unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"second");
        assert_eq!(names(&t.path().join("sub/dir")), vec!["a.txt".to_string()]);
    }

    #[test]
    fn failed_producer_leaves_target_untouched_and_no_temp_file() {
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("b.png");
        write_atomic(&p, b"old").unwrap();
        let mut seen = None;
        let err = write_atomic_with(&p, |tmp| {
            seen = Some(tmp.to_path_buf());
            fs::write(tmp, b"half").map_err(io_err(tmp))?;
            Err(Error::Io {
                path: tmp.to_path_buf(),
                source: io::Error::other("interrupted"),
            })
        });
        assert!(err.is_err());
        let tmp = seen.unwrap();
        let tmp_name = tmp.file_name().unwrap().to_string_lossy().into_owned();
        assert_eq!(tmp.extension().unwrap(), "png", "temp keeps the extension");
        assert!(is_temp_name(&tmp_name), "{tmp_name}");
        assert!(tmp_name.starts_with(".b.png.tmp-"), "{tmp_name}");
        assert_eq!(fs::read(&p).unwrap(), b"old");
        assert_eq!(names(t.path()), vec!["b.png".to_string()]);
    }

    #[test]
    fn stale_temps_are_swept() {
        let t = tempfile::tempdir().unwrap();
        fs::create_dir_all(t.path().join("x")).unwrap();
        // A temp file a killed process left behind, named the way `staged` names them.
        let stale = staged_with(&t.path().join("x/a.csv"), b"half").unwrap();
        let (_, stale_path) = stale.keep().unwrap();
        assert!(stale_path.exists());
        fs::write(t.path().join("x/a.csv"), b"ok").unwrap();
        fs::write(t.path().join("x/.hidden"), b"kept").unwrap();
        assert_eq!(clean_stale_temps(t.path()).unwrap(), 1);
        assert_eq!(
            names(&t.path().join("x")),
            vec![".hidden".to_string(), "a.csv".to_string()]
        );
        assert_eq!(clean_stale_temps(&t.path().join("missing")).unwrap(), 0);
    }
}
