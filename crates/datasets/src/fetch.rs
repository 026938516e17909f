//! Download (`fetch`) and local copy (`import`) of the canonical files, with
//! validation, sha256 checks and atomic writes (temporary file + rename).

use std::fs;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::DatasetName;
use crate::dataset::{cifar_batch_dir, find_idx_file, io_err, read_decoded};
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

/// Write `bytes` to `path` atomically: a temporary file in the same folder, flushed, then
/// renamed over `path`.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = temp_path(path);
    let result = (|| {
        let mut f = fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        drop(f);
        fs::rename(&tmp, path)
    })();
    result.map_err(|source| {
        let _ = fs::remove_file(&tmp);
        Error::Io {
            path: path.to_path_buf(),
            source,
        }
    })
}

fn temp_path(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!(".{name}.part-{}", std::process::id()))
}

fn create_dir(dir: &Path) -> Result<()> {
    fs::create_dir_all(dir).map_err(io_err(dir))
}

fn progress_bar(progress: bool, len: Option<u64>, what: &str) -> indicatif::ProgressBar {
    if !progress {
        return indicatif::ProgressBar::hidden();
    }
    let bar = match len {
        Some(n) => indicatif::ProgressBar::new(n),
        None => indicatif::ProgressBar::new_spinner(),
    };
    let style = indicatif::ProgressStyle::with_template(
        "{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
    )
    .map(|s| s.progress_chars("=> "))
    .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar());
    bar.with_style(style).with_message(what.to_string())
}

/// Open an HTTP GET stream: the body reader (with progress) and its announced length.
fn http_get(url: &str, progress: bool, what: &str) -> Result<(Box<dyn Read>, Option<u64>)> {
    let resp = ureq::get(url).call().map_err(|source| Error::Download {
        url: url.to_string(),
        source: Box::new(source),
    })?;
    let len = resp.body().content_length();
    let bar = progress_bar(progress, len, what);
    let reader = resp.into_body().into_reader();
    Ok((Box::new(bar.wrap_read(reader)), len))
}

fn download_bytes(url: &str, progress: bool, what: &str) -> Result<Vec<u8>> {
    let (mut reader, len) = http_get(url, progress, what)?;
    let mut buf = Vec::with_capacity(len.unwrap_or(0).min(1 << 30) as usize);
    reader.read_to_end(&mut buf).map_err(|e| Error::Download {
        url: url.to_string(),
        source: Box::new(ureq::Error::Io(e)),
    })?;
    Ok(buf)
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

/// Download a dataset into `<data_dir>/<name>/`, showing progress on stderr when
/// `progress` is true. MNIST / Fashion-MNIST: the four `.gz` files, each checked against
/// the manifest's size and sha256 after decompression (a mismatch is an error and nothing
/// is written). CIFAR-10: the official binary archive, streamed through gzip and a tar
/// reader; the `.bin` files and `batches.meta.txt` are validated and written to
/// `<data_dir>/cifar10/cifar-10-batches-bin/`. Every file is written atomically. Files
/// already present and valid are not downloaded again.
pub fn fetch(name: DatasetName, data_dir: &Path, progress: bool) -> Result<InstallReport> {
    let manifest = Manifest::embedded()?;
    let entry = manifest.dataset(name)?;
    let dir = data_dir.join(name.dir_name());
    create_dir(&dir)?;
    let mut report = InstallReport {
        dir: dir.clone(),
        ..Default::default()
    };
    if name.is_idx() {
        let base = entry
            .base_url
            .as_deref()
            .ok_or(Error::ManifestEntry { name })?;
        for fe in &entry.files {
            if let Some(existing) = find_idx_file(&dir, &fe.name)
                && read_decoded(&existing, true).is_ok_and(|f| {
                    f.sha256
                        .as_deref()
                        .is_some_and(|s| fe.verdict(s) == Verdict::Canonical)
                })
            {
                report
                    .notes
                    .push(format!("{}: already present and valid", existing.display()));
                report.files.push(existing);
                continue;
            }
            let download = fe.download.as_deref().unwrap_or(&fe.name);
            let url = format!("{base}{download}");
            let bytes = download_bytes(&url, progress, download)?;
            let path = install_idx_bytes(fe, &bytes, &dir)?;
            report
                .notes
                .push(format!("{url} -> {} (sha256 verified)", path.display()));
            report.files.push(path);
        }
        Ok(report)
    } else {
        let archive = entry
            .archive
            .as_ref()
            .ok_or(Error::ManifestEntry { name })?;
        let (reader, _) = http_get(&archive.url, progress, "cifar-10-binary.tar.gz")?;
        let url = archive.url.clone();
        let map_io = move |e: io::Error| Error::Download {
            url: url.clone(),
            source: Box::new(ureq::Error::Io(e)),
        };
        extract_cifar_archive(reader, &archive.url, entry, &dir, map_io, &mut report)?;
        Ok(report)
    }
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
    let mut staged: Vec<(PathBuf, PathBuf)> = Vec::new();
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
        let mut data = Vec::with_capacity(te.size.min(1 << 30) as usize);
        r.read_to_end(&mut data).map_err(|e| Error::Gzip {
            file: archive_label.to_string(),
            source: e,
        })?;
        validate_cifar_file(fe, &data)
            .map_err(|e| e.with_file(&format!("{archive_label}:{fname}")))?;
        note_sha(fe, &fname, &data, report);
        let dest = out_dir.join(&fname);
        let tmp = temp_path(&dest);
        fs::write(&tmp, &data).map_err(io_err(&tmp))?;
        staged.push((tmp, dest));
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
    if let Err(e) = result {
        for (tmp, _) in &staged {
            let _ = fs::remove_file(tmp);
        }
        return Err(e);
    }
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
        for (tmp, _) in &staged {
            let _ = fs::remove_file(tmp);
        }
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
        fs::rename(&tmp, &dest).map_err(io_err(&dest))?;
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
