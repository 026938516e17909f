//! Verification and installation of the canonical files from local bytes, folders or
//! archives (`import`, and the checks that `fetch` runs on what it downloads), with
//! sha256 checks and atomic writes.

use std::fs;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use tempfile::NamedTempFile;

use crate::DatasetName;
use crate::atomic::{commit, staged_with, write_atomic};
use crate::dataset::{cifar_batch_dir, io_err};
use crate::error::{Error, Result};
use crate::format::{
    maybe_gunzip, parse_cifar_batch, parse_class_names, parse_idx_images, parse_idx_labels,
};
use crate::manifest::{DatasetEntry, FileEntry, Manifest, Verdict, sha256_hex};
use crate::tar::for_each_file;

/// What [`fetch`] or [`import`] wrote.
#[derive(Debug, Clone, Default)]
pub struct InstallReport {
    /// The dataset folder (`<data_dir>/<name>`).
    pub dir: PathBuf,
    /// Files written (or found already valid), in order.
    pub files: Vec<PathBuf>,
    /// What was done / found.
    pub notes: Vec<String>,
    /// Problems that did not stop the installation (e.g. a sha256 that differs from a
    /// third-party reference value).
    pub warnings: Vec<String>,
}

pub(crate) fn create_dir(dir: &Path) -> Result<()> {
    fs::create_dir_all(dir).map_err(io_err(dir))
}

/// Validate the (possibly gzipped) bytes of one IDX file against its manifest entry and
/// write them, unchanged, to `dest_dir/<stored name>` atomically. This is the
/// verification step of [`fetch`], usable on local bytes: the uncompressed size and
/// sha256 must match the manifest (else [`Error::ChecksumMismatch`] and nothing is
/// written), and the content must parse as IDX images or labels (per `entry.role`).
///
/// The stored name is `entry.download` for gzip input, `entry.name` otherwise.
pub fn install_idx_bytes(entry: &FileEntry, bytes: &[u8], dest_dir: &Path) -> Result<PathBuf> {
    let gz = crate::format::is_gzip(bytes);
    let label = entry
        .download
        .as_deref()
        .filter(|_| gz)
        .unwrap_or(&entry.name);
    let raw = maybe_gunzip(bytes.to_vec()).map_err(|e| e.with_file(label))?;
    let sha = sha256_hex(&raw);
    if let Verdict::Mismatch { expected } = entry.verdict(&sha) {
        return Err(Error::ChecksumMismatch {
            file: label.to_string(),
            expected,
            actual: sha,
        });
    }
    if entry.role.ends_with("images") {
        parse_idx_images(&raw).map_err(|e| e.with_file(label))?;
    } else {
        parse_idx_labels(&raw).map_err(|e| e.with_file(label))?;
    }
    let path = dest_dir.join(label);
    write_atomic(&path, bytes)?;
    // A stale copy in the other form (raw vs .gz) would shadow or confuse: remove it.
    let other = if gz {
        dest_dir.join(&entry.name)
    } else {
        dest_dir.join(format!("{}.gz", entry.name))
    };
    if other != path && other.is_file() {
        fs::remove_file(&other).map_err(io_err(&other))?;
    }
    Ok(path)
}

/// A reader that hashes what passes through it.
struct HashingReader<R> {
    inner: R,
    hasher: Sha256,
    count: u64,
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.count += n as u64;
        Ok(n)
    }
}

/// Extract the CIFAR-10 batches from a `.tar.gz` stream into `dir/cifar-10-batches-bin/`.
/// Every `.bin` is parsed (size multiple of 3073, labels in range) and its sha256 compared
/// with the manifest; the archive's sha256 too. Because the reference sha256 values of the
/// official CIFAR files are third-party, a mismatch is a warning in `report`, not an error
/// (gzip's CRC already rejects a corrupt download). Files are written to temporary names
/// and renamed only once the whole archive has been read.
pub fn extract_cifar_archive<R: Read>(
    reader: R,
    archive_label: &str,
    entry: &DatasetEntry,
    dir: &Path,
    map_io: impl Fn(io::Error) -> Error,
    report: &mut InstallReport,
) -> Result<()> {
    let out_dir = dir.join("cifar-10-batches-bin");
    create_dir(&out_dir)?;
    let mut hashing = HashingReader {
        inner: reader,
        hasher: Sha256::new(),
        count: 0,
    };
    // Temporary files (deleted on drop, so on every early return) and their final names.
    let mut staged: Vec<(NamedTempFile, PathBuf)> = Vec::new();
    let mut gz = flate2::read::MultiGzDecoder::new(&mut hashing);
    let label = archive_label.to_string();
    let gz_err = |e: io::Error| match e.kind() {
        io::ErrorKind::InvalidInput | io::ErrorKind::InvalidData | io::ErrorKind::UnexpectedEof => {
            Error::Gzip {
                file: label.clone(),
                source: e,
            }
        }
        _ => map_io(e),
    };
    let walked = for_each_file(&mut gz, archive_label, gz_err, |te, r| {
        let fname = te.file_name().to_string();
        let Some(fe) = entry.file(&fname) else {
            return Ok(()); // readme.html etc.
        };
        // The size the tar header declares, checked before reading the entry.
        let checked = if fe.role == "meta" {
            if te.size > crate::format::MAX_TEXT_BYTES {
                Err(Error::FileTooLarge {
                    file: String::new(),
                    what: "is",
                    size: te.size,
                    max: crate::format::MAX_TEXT_BYTES,
                    limit: "this loader reads from one file",
                })
            } else {
                Ok(())
            }
        } else {
            crate::format::check_cifar_len(te.size)
        };
        checked.map_err(|e| e.with_file(&format!("{archive_label}:{fname}")))?;
        let mut data = Vec::with_capacity(te.size as usize);
        r.read_to_end(&mut data).map_err(|e| Error::Gzip {
            file: archive_label.to_string(),
            source: e,
        })?;
        validate_cifar_file(fe, &data)
            .map_err(|e| e.with_file(&format!("{archive_label}:{fname}")))?;
        note_sha(fe, &fname, &data, report);
        let dest = out_dir.join(&fname);
        staged.push((staged_with(&dest, &data)?, dest));
        Ok(())
    });
    // Read what follows the end-of-archive blocks: this checks gzip's CRC and lets the
    // archive hash cover every byte.
    let result = walked.and_then(|()| {
        io::copy(&mut gz, &mut io::sink())
            .map(|_| ())
            .map_err(gz_err)
    });
    drop(gz);
    result?;
    let found_train = staged
        .iter()
        .filter(|(_, d)| {
            d.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("data_batch_"))
        })
        .count();
    let has_test = staged
        .iter()
        .any(|(_, d)| d.file_name().is_some_and(|n| n == "test_batch.bin"));
    if found_train == 0 || !has_test {
        return Err(Error::Tar {
            file: archive_label.to_string(),
            offset: hashing.count,
            problem: "archive lacks data_batch_*.bin or test_batch.bin",
        });
    }
    let sha = sha256_hex(&hashing.hasher.finalize_reset());
    if let Some(expected) = entry.archive.as_ref().and_then(|a| a.sha256.as_deref()) {
        if expected.eq_ignore_ascii_case(&sha) {
            report.notes.push(format!(
                "{archive_label}: sha256 matches the reference value"
            ));
        } else {
            report.warnings.push(format!(
                "{archive_label}: sha256 {sha} differs from the (third-party) reference {expected}"
            ));
        }
    }
    for (tmp, dest) in staged {
        commit(tmp, &dest)?;
        report.files.push(dest);
    }
    report.notes.push(format!(
        "{archive_label}: extracted {found_train} training batch(es) and test_batch.bin"
    ));
    Ok(())
}

fn validate_cifar_file(fe: &FileEntry, data: &[u8]) -> Result<()> {
    if fe.role == "meta" {
        parse_class_names(data).map(|_| ())
    } else {
        parse_cifar_batch(data).map(|_| ())
    }
}

fn note_sha(fe: &FileEntry, shown: &str, data: &[u8], report: &mut InstallReport) {
    let sha = sha256_hex(data);
    match fe.verdict(&sha) {
        Verdict::Canonical => report
            .notes
            .push(format!("{shown}: sha256 matches the reference value")),
        Verdict::Variant(kind) => report.notes.push(format!(
            "{shown}: sha256 matches the known '{kind}' variant (not byte-identical to the official file)"
        )),
        Verdict::Mismatch { expected } => report.warnings.push(format!(
            "{shown}: sha256 {sha} differs from the reference {expected}"
        )),
        Verdict::Unknown => report
            .notes
            .push(format!("{shown}: no reference sha256; sha256 is {sha}")),
    }
}

/// Copy a dataset from a local folder into `<data_dir>/<name>/` after validating it.
///
/// MNIST / Fashion-MNIST: `from` holds the four IDX files (raw or `.gz`); both splits are
/// parsed and cross-checked (counts, labels, 28 x 28) and copied unchanged. CIFAR-10:
/// `from` is a folder holding the batches (directly or in `cifar-10-batches-bin/`), or
/// the official `.tar.gz` archive itself. A sha256 that differs from the manifest is a
/// warning in the report (the user chose these files), never silent.
pub fn import(name: DatasetName, from: &Path, data_dir: &Path) -> Result<InstallReport> {
    let dir = data_dir.join(name.dir_name());
    let mut report = InstallReport {
        dir: dir.clone(),
        ..Default::default()
    };
    if !name.is_idx() && from.is_file() {
        let manifest = Manifest::embedded()?;
        let entry = manifest.dataset(name)?;
        create_dir(&dir)?;
        let f = fs::File::open(from).map_err(io_err(from))?;
        let shown = from.display().to_string();
        let p = from.to_path_buf();
        extract_cifar_archive(
            io::BufReader::new(f),
            &shown,
            entry,
            &dir,
            move |source| Error::Io {
                path: p.clone(),
                source,
            },
            &mut report,
        )?;
        return Ok(report);
    }
    if !from.is_dir() {
        return Err(Error::DataDirNotFound {
            path: from.to_path_buf(),
            origin: "import source",
        });
    }
    // Validate everything by loading it (no write before the whole set is valid).
    let ds = crate::load_dir(name, from, &crate::LoadOptions::default())?;
    report.notes.extend(ds.notes.iter().cloned());
    report.warnings.extend(ds.warnings.iter().cloned());
    let out_dir = if name.is_idx() {
        dir.clone()
    } else {
        dir.join("cifar-10-batches-bin")
    };
    create_dir(&out_dir)?;
    let src_dir = if name.is_idx() {
        from.to_path_buf()
    } else {
        cifar_batch_dir(from)
    };
    for src in &ds.files {
        let Some(fname) = src.file_name() else {
            continue;
        };
        let dest = out_dir.join(fname);
        if same_file(src, &dest) {
            report.files.push(dest);
            continue;
        }
        let bytes = fs::read(src).map_err(io_err(src))?;
        write_atomic(&dest, &bytes)?;
        if name.is_idx() {
            // remove a stale copy in the other form (raw vs .gz)
            let s = fname.to_string_lossy();
            let other = match s.strip_suffix(".gz") {
                Some(raw) => out_dir.join(raw),
                None => out_dir.join(format!("{s}.gz")),
            };
            if other.is_file() {
                fs::remove_file(&other).map_err(io_err(&other))?;
            }
        }
        report.files.push(dest);
    }
    report.notes.push(format!(
        "imported from {} into {}",
        src_dir.display(),
        out_dir.display()
    ));
    Ok(report)
}

fn same_file(a: &Path, b: &Path) -> bool {
    match (fs::canonicalize(a), fs::canonicalize(b)) {
        (Ok(x), Ok(y)) => x == y,
        _ => false,
    }
}
