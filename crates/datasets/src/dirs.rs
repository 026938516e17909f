//! Where datasets live on disk.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// Name of the environment variable that points to the data directory.
pub const DATA_DIR_ENV: &str = "IMBALANCE_DATA_DIR";

/// The data directory: `explicit` (e.g. `--data-dir`) if given, else the environment
/// variable `IMBALANCE_DATA_DIR` if set and non-empty, else the per-user cache
/// `$XDG_CACHE_HOME/imbalance/datasets` (when `XDG_CACHE_HOME` is an absolute path) or
/// `$HOME/.cache/imbalance/datasets`.
///
/// An explicit or environment directory must exist (else [`Error::DataDirNotFound`],
/// naming where the path came from); the cache directory is returned even when it does not
/// exist yet (`fetch` creates it). A dataset then lives in `<data_dir>/<name>/`.
pub fn resolve_data_dir(explicit: Option<&Path>) -> Result<PathBuf> {
    resolve_with(
        explicit,
        std::env::var_os(DATA_DIR_ENV),
        std::env::var_os("XDG_CACHE_HOME"),
        std::env::var_os("HOME"),
    )
}

/// [`resolve_data_dir`] with the environment passed in (testable without touching the
/// process environment).
pub(crate) fn resolve_with(
    explicit: Option<&Path>,
    env_dir: Option<OsString>,
    xdg_cache: Option<OsString>,
    home: Option<OsString>,
) -> Result<PathBuf> {
    if let Some(p) = explicit {
        return existing(p.to_path_buf(), "--data-dir");
    }
    if let Some(v) = env_dir.filter(|v| !v.is_empty()) {
        return existing(PathBuf::from(v), DATA_DIR_ENV);
    }
    let cache = match xdg_cache.map(PathBuf::from).filter(|p| p.is_absolute()) {
        Some(x) => x,
        None => match home.filter(|h| !h.is_empty()) {
            Some(h) => PathBuf::from(h).join(".cache"),
            None => return Err(Error::NoDataDir),
        },
    };
    Ok(cache.join("imbalance").join("datasets"))
}

fn existing(p: PathBuf, origin: &'static str) -> Result<PathBuf> {
    if p.is_dir() {
        Ok(p)
    } else {
        Err(Error::DataDirNotFound { path: p, origin })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn precedence() {
        let tmp = std::env::temp_dir();
        let t = tmp.as_os_str().to_owned();
        // explicit wins over everything
        assert_eq!(
            resolve_with(Some(&tmp), Some("/nonexistent".into()), None, None).unwrap(),
            tmp
        );
        // env var next
        assert_eq!(
            resolve_with(None, Some(t.clone()), Some("/x".into()), Some("/h".into())).unwrap(),
            tmp
        );
        // empty env var is ignored; absolute XDG cache next
        assert_eq!(
            resolve_with(None, Some("".into()), Some("/x".into()), Some("/h".into())).unwrap(),
            PathBuf::from("/x/imbalance/datasets")
        );
        // relative XDG is ignored (XDG spec): HOME/.cache
        assert_eq!(
            resolve_with(None, None, Some("rel".into()), Some("/h".into())).unwrap(),
            PathBuf::from("/h/.cache/imbalance/datasets")
        );
        assert!(matches!(
            resolve_with(None, None, None, None),
            Err(Error::NoDataDir)
        ));
    }

    #[test]
    fn missing_explicit_or_env_dir_is_error() {
        let missing = Path::new("/definitely/not/here/imbalance");
        let e = resolve_with(Some(missing), None, None, None).unwrap_err();
        assert!(e.to_string().contains("--data-dir"), "{e}");
        let e = resolve_with(None, Some(missing.into()), None, None).unwrap_err();
        assert!(e.to_string().contains(DATA_DIR_ENV), "{e}");
    }
}
