//! The dataset manifest (`datasets/manifest.json` at the workspace root, embedded at
//! compile time): canonical file names, sizes, sha256 of the uncompressed content, and
//! upstream URLs.

use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::DatasetName;
use crate::error::{Error, Result};

/// The manifest JSON, embedded at compile time.
pub const MANIFEST_JSON: &str = include_str!("../../../datasets/manifest.json");

/// The whole manifest.
#[derive(Debug, Clone, Deserialize)]
pub struct Manifest {
    /// Schema version (1).
    pub version: u32,
    /// One entry per dataset.
    pub datasets: Vec<DatasetEntry>,
}

/// One dataset of the manifest.
#[derive(Debug, Clone, Deserialize)]
pub struct DatasetEntry {
    /// Name as typed by users (`mnist`, ...).
    pub name: String,
    /// Folder under the data directory.
    pub dir: String,
    /// `idx` or `cifar-binary`.
    pub format: String,
    /// Base URL of the per-file downloads (IDX datasets).
    #[serde(default)]
    pub base_url: Option<String>,
    /// Sub-folder holding the files inside `dir` (CIFAR: `cifar-10-batches-bin`).
    #[serde(default)]
    pub subdir: Option<String>,
    /// The archive to download instead of single files (CIFAR).
    #[serde(default)]
    pub archive: Option<ArchiveEntry>,
    /// The canonical files.
    pub files: Vec<FileEntry>,
}

/// A downloadable archive.
#[derive(Debug, Clone, Deserialize)]
pub struct ArchiveEntry {
    /// Download URL.
    pub url: String,
    /// Size in bytes, if known.
    #[serde(default)]
    pub size: Option<u64>,
    /// Published md5 (informational: this crate does not compute md5).
    #[serde(default)]
    pub md5: Option<String>,
    /// sha256 of the archive, if known.
    #[serde(default)]
    pub sha256: Option<String>,
}

/// One canonical file.
#[derive(Debug, Clone, Deserialize)]
pub struct FileEntry {
    /// `train-images`, `train-labels`, `test-images`, `test-labels`, `train-batch`,
    /// `test-batch` or `meta`.
    pub role: String,
    /// Canonical (uncompressed) file name.
    pub name: String,
    /// Name of the download under `base_url` (usually `<name>.gz`).
    #[serde(default)]
    pub download: Option<String>,
    /// Uncompressed size in bytes, if known.
    #[serde(default)]
    pub size: Option<u64>,
    /// sha256 of the uncompressed canonical content, if known.
    #[serde(default)]
    pub sha256: Option<String>,
    /// Known non-canonical variants (e.g. the JPEG re-encoded CIFAR subset).
    #[serde(default)]
    pub variants: Vec<Variant>,
}

/// A known non-canonical variant of a file.
#[derive(Debug, Clone, Deserialize)]
pub struct Variant {
    /// What it is (e.g. `jpeg-reencoded subset`).
    pub kind: String,
    /// Its sha256.
    pub sha256: String,
    /// Where it comes from.
    pub source: String,
}

/// The result of comparing a file's sha256 with the manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Matches the canonical sha256.
    Canonical,
    /// Matches a known variant (its `kind`).
    Variant(String),
    /// The manifest has a canonical sha256 and the file does not match it nor any variant.
    Mismatch {
        /// The canonical sha256.
        expected: String,
    },
    /// No canonical sha256 is known and no variant matches.
    Unknown,
}

impl Manifest {
    /// Parse the embedded manifest.
    pub fn embedded() -> Result<Manifest> {
        serde_json::from_str(MANIFEST_JSON).map_err(|source| Error::Manifest { source })
    }

    /// The entry of a dataset.
    pub fn dataset(&self, name: DatasetName) -> Result<&DatasetEntry> {
        self.datasets
            .iter()
            .find(|d| d.name == name.dir_name())
            .ok_or(Error::ManifestEntry { name })
    }
}

impl DatasetEntry {
    /// The file with this canonical name.
    pub fn file(&self, name: &str) -> Option<&FileEntry> {
        self.files.iter().find(|f| f.name == name)
    }

    /// The files with this role, in manifest order.
    pub fn with_role<'a>(&'a self, role: &'a str) -> impl Iterator<Item = &'a FileEntry> + 'a {
        self.files.iter().filter(move |f| f.role == role)
    }
}

impl FileEntry {
    /// Compare a sha256 (lower-case hex) with the canonical value and the variants.
    pub fn verdict(&self, sha256_hex: &str) -> Verdict {
        if self
            .sha256
            .as_deref()
            .is_some_and(|s| s.eq_ignore_ascii_case(sha256_hex))
        {
            return Verdict::Canonical;
        }
        if let Some(v) = self
            .variants
            .iter()
            .find(|v| v.sha256.eq_ignore_ascii_case(sha256_hex))
        {
            return Verdict::Variant(v.kind.clone());
        }
        match &self.sha256 {
            Some(expected) => Verdict::Mismatch {
                expected: expected.clone(),
            },
            None => Verdict::Unknown,
        }
    }
}

/// sha256 of `bytes` as lower-case hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    let mut s = String::with_capacity(64);
    for b in digest {
        s.push_str(&format!("{b:02x}"));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_manifest_parses_and_is_complete() {
        let m = Manifest::embedded().unwrap();
        assert_eq!(m.version, 1);
        for name in DatasetName::ALL {
            let d = m.dataset(name).unwrap();
            assert_eq!(d.dir, name.dir_name());
            for f in &d.files {
                if let Some(s) = &f.sha256 {
                    assert_eq!(s.len(), 64, "{}", f.name);
                    assert!(s.bytes().all(|b| b.is_ascii_hexdigit()));
                }
            }
        }
        let mnist = m.dataset(DatasetName::Mnist).unwrap();
        assert_eq!(mnist.files.len(), 4);
        assert!(mnist.base_url.as_deref().unwrap().starts_with("https://"));
        let cifar = m.dataset(DatasetName::Cifar10).unwrap();
        assert_eq!(cifar.with_role("train-batch").count(), 5);
        assert!(cifar.archive.as_ref().unwrap().url.ends_with(".tar.gz"));
    }

    #[test]
    fn sha256_known_vector() {
        // FIPS 180-2 test vector for "abc".
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn verdicts() {
        let m = Manifest::embedded().unwrap();
        let cifar = m.dataset(DatasetName::Cifar10).unwrap();
        let b1 = cifar.file("data_batch_1.bin").unwrap();
        assert_eq!(
            b1.verdict("ca55867dbabce16a7934f4493ad831df44f22ec200df87f0e803b3383d461d10"),
            Verdict::Variant("jpeg-reencoded subset".into())
        );
        assert!(matches!(b1.verdict("00"), Verdict::Mismatch { .. }));
        let meta = cifar.file("batches.meta.txt").unwrap();
        assert_eq!(meta.verdict("00"), Verdict::Unknown);
    }
}
