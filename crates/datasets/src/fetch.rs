//! Download of the canonical files (cargo feature `fetch`): an HTTP client with TLS and a
//! progress bar. What is downloaded goes through the same verification as [`crate::import`].

use std::io::{self, Read};
use std::path::Path;

use crate::DatasetName;
use crate::dataset::{FileKind, find_idx_file, read_decoded};
use crate::error::{Error, Result};
use crate::install::{InstallReport, create_dir, extract_cifar_archive, install_idx_bytes};
use crate::manifest::{Manifest, Verdict};

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
                && read_decoded(&existing, true, FileKind::Idx).is_ok_and(|f| {
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
