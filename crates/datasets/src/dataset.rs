//! The in-memory dataset and the loaders that fill it from a folder.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::format::{
    CIFAR_PIXELS, NUM_CLASSES, maybe_gunzip, parse_cifar_batch, parse_class_names,
    parse_idx_images, parse_idx_labels,
};
use crate::manifest::{DatasetEntry, Manifest, Verdict, sha256_hex};
use crate::{DatasetName, resolve_data_dir};

/// Which part of a dataset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Split {
    /// The training images (the pool subsamples are drawn from).
    Train,
    /// The test images.
    Test,
}

impl Split {
    /// `"train"` or `"test"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Split::Train => "train",
            Split::Test => "test",
        }
    }
}

/// Options of [`load`] and [`load_dir`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadOptions {
    /// Compute the sha256 of every (decompressed) file and compare it with the manifest
    /// (default true). A mismatch becomes a warning in [`Dataset::warnings`], never an
    /// error.
    pub verify_checksums: bool,
}

impl Default for LoadOptions {
    fn default() -> Self {
        LoadOptions {
            verify_checksums: true,
        }
    }
}

/// A labelled image dataset held as raw bytes (one byte per pixel); convert rows to
/// `f64` on demand with [`Dataset::rows_f64`] or [`crate::preprocess`].
#[derive(Debug, Clone)]
pub struct Dataset {
    /// Which dataset.
    pub name: DatasetName,
    /// `[channels, height, width]` (`[1, 28, 28]` or `[3, 32, 32]`).
    pub image_shape: [usize; 3],
    /// Training pixels, `n_train * dim` bytes, image after image. MNIST-like: row-major
    /// 28 x 28; CIFAR-10: 1024 red, 1024 green, 1024 blue (each plane row-major 32 x 32).
    pub train_pixels: Vec<u8>,
    /// Training labels in `0..10`.
    pub train_labels: Vec<u8>,
    /// Test pixels, same layout.
    pub test_pixels: Vec<u8>,
    /// Test labels in `0..10`.
    pub test_labels: Vec<u8>,
    /// Class names (10).
    pub class_names: Vec<String>,
    /// Files read, in order.
    pub files: Vec<PathBuf>,
    /// CIFAR-10 only: the training batch files found (e.g. `["data_batch_1.bin"]` for the
    /// offline subset, all five for the official archive). Empty for IDX datasets.
    pub train_batches: Vec<String>,
    /// What the loader found out (layout, subset, checksum results).
    pub notes: Vec<String>,
    /// Problems that did not stop loading, e.g. a checksum that differs from the
    /// canonical one. Callers should show them to the user.
    pub warnings: Vec<String>,
}

impl Dataset {
    /// Input dimension d (784 or 3072).
    pub fn dim(&self) -> usize {
        self.image_shape.iter().product()
    }

    /// Number of classes K (10).
    pub fn num_classes(&self) -> usize {
        NUM_CLASSES
    }

    /// Number of training images.
    pub fn n_train(&self) -> usize {
        self.train_labels.len()
    }

    /// Number of test images.
    pub fn n_test(&self) -> usize {
        self.test_labels.len()
    }

    /// Number of images of a split.
    pub fn len(&self, split: Split) -> usize {
        self.raw_labels(split).len()
    }

    /// True when the split has no image.
    pub fn is_empty(&self, split: Split) -> bool {
        self.len(split) == 0
    }

    /// The raw pixel bytes of a split.
    pub fn pixels(&self, split: Split) -> &[u8] {
        match split {
            Split::Train => &self.train_pixels,
            Split::Test => &self.test_pixels,
        }
    }

    /// The raw labels of a split.
    pub fn raw_labels(&self, split: Split) -> &[u8] {
        match split {
            Split::Train => &self.train_labels,
            Split::Test => &self.test_labels,
        }
    }

    /// The labels of a split as `usize`.
    pub fn labels(&self, split: Split) -> Vec<usize> {
        self.raw_labels(split).iter().map(|&l| l as usize).collect()
    }

    /// Number of images per class in a split.
    pub fn class_counts(&self, split: Split) -> Vec<usize> {
        let mut counts = vec![0; NUM_CLASSES];
        for &l in self.raw_labels(split) {
            counts[l as usize] += 1;
        }
        counts
    }

    /// The bytes of image `i` of a split, or `None` when out of range.
    pub fn image(&self, split: Split, i: usize) -> Option<&[u8]> {
        let d = self.dim();
        self.pixels(split).get(i * d..(i + 1) * d)
    }

    /// The selected rows of a split as a row-major `rows.len() x dim` matrix of `f64`,
    /// pixels scaled to [0, 1] (byte / 255).
    pub fn rows_f64(&self, split: Split, rows: &[usize]) -> Result<Vec<f64>> {
        let d = self.dim();
        let n = self.len(split);
        let pixels = self.pixels(split);
        let mut out = Vec::with_capacity(rows.len() * d);
        for &r in rows {
            if r >= n {
                return Err(Error::RowOutOfRange {
                    index: r,
                    n,
                    split: split.as_str(),
                });
            }
            out.extend(pixels[r * d..(r + 1) * d].iter().map(|&b| b as f64 / 255.0));
        }
        Ok(out)
    }

    /// Mean of ALL training images, pixels scaled to [0, 1] (length `dim`).
    pub fn train_mean(&self) -> Vec<f64> {
        crate::subsample::pixel_mean(&self.train_pixels, self.dim())
    }

    /// Build an MNIST-like dataset from in-memory IDX files (each gzip or raw), with the
    /// same validation as [`load_dir`] (no checksum check). For tests and examples.
    pub fn from_idx_bytes(
        name: DatasetName,
        train_images: &[u8],
        train_labels: &[u8],
        test_images: &[u8],
        test_labels: &[u8],
    ) -> Result<Dataset> {
        let get = |b: &[u8], file: &str| maybe_gunzip(b.to_vec()).map_err(|e| e.with_file(file));
        let mut ds = empty(name);
        let (px, lb) = idx_split(
            name,
            (&get(train_images, "train images")?, "train images"),
            (&get(train_labels, "train labels")?, "train labels"),
        )?;
        ds.train_pixels = px;
        ds.train_labels = lb;
        let (px, lb) = idx_split(
            name,
            (&get(test_images, "test images")?, "test images"),
            (&get(test_labels, "test labels")?, "test labels"),
        )?;
        ds.test_pixels = px;
        ds.test_labels = lb;
        Ok(ds)
    }

    /// Build a CIFAR-10 dataset from in-memory binary batches, with the same validation
    /// as [`load_dir`] (no checksum check). For tests and examples.
    pub fn from_cifar_bytes(train_batches: &[&[u8]], test_batch: &[u8]) -> Result<Dataset> {
        let mut ds = empty(DatasetName::Cifar10);
        for (i, b) in train_batches.iter().enumerate() {
            let batch =
                parse_cifar_batch(b).map_err(|e| e.with_file(&format!("train batch {i}")))?;
            ds.train_pixels.extend_from_slice(&batch.pixels);
            ds.train_labels.extend_from_slice(&batch.labels);
            ds.train_batches.push(format!("batch {i}"));
        }
        if train_batches.is_empty() {
            return Err(Error::NoTrainBatches {
                dir: PathBuf::from(crate::format::MEMORY),
            });
        }
        let test = parse_cifar_batch(test_batch).map_err(|e| e.with_file("test batch"))?;
        ds.test_pixels = test.pixels;
        ds.test_labels = test.labels;
        Ok(ds)
    }
}

fn empty(name: DatasetName) -> Dataset {
    Dataset {
        name,
        image_shape: name.image_shape(),
        train_pixels: Vec::new(),
        train_labels: Vec::new(),
        test_pixels: Vec::new(),
        test_labels: Vec::new(),
        class_names: name.class_names().iter().map(|s| s.to_string()).collect(),
        files: Vec::new(),
        train_batches: Vec::new(),
        notes: Vec::new(),
        warnings: Vec::new(),
    }
}

/// Parse and cross-check the image and label files of one IDX split.
fn idx_split(
    name: DatasetName,
    (images, images_file): (&[u8], &str),
    (labels, labels_file): (&[u8], &str),
) -> Result<(Vec<u8>, Vec<u8>)> {
    let imgs = parse_idx_images(images).map_err(|e| e.with_file(images_file))?;
    let [_, h, w] = name.image_shape();
    if imgs.rows != h || imgs.cols != w {
        return Err(Error::BadImageSize {
            file: images_file.to_string(),
            rows: imgs.rows as u32,
            cols: imgs.cols as u32,
            expected_rows: h as u32,
            expected_cols: w as u32,
        });
    }
    if imgs.count == 0 {
        return Err(Error::NoRecords {
            file: images_file.to_string(),
        });
    }
    let labs = parse_idx_labels(labels).map_err(|e| e.with_file(labels_file))?;
    if labs.len() != imgs.count {
        return Err(Error::CountMismatch {
            images_file: images_file.to_string(),
            images: imgs.count,
            labels_file: labels_file.to_string(),
            labels: labs.len(),
        });
    }
    Ok((imgs.pixels, labs))
}

/// A file read from disk: its path, decompressed content and (optionally) sha256.
pub(crate) struct ReadFile {
    pub path: PathBuf,
    pub bytes: Vec<u8>,
    pub sha256: Option<String>,
}

pub(crate) fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// What a file read by [`read_decoded`] holds, which sets how large it may be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FileKind {
    /// An IDX file (raw or gzip): at most what its header declares.
    Idx,
    /// A CIFAR-10 binary batch: a multiple of 3073 bytes, at most 10 000 records.
    CifarBatch,
    /// A small text file (`batches.meta.txt`).
    Text,
}

impl FileKind {
    /// The most bytes the file may hold (decompressed).
    fn max(self) -> u64 {
        match self {
            FileKind::Idx => crate::format::MAX_FILE_BYTES,
            FileKind::CifarBatch => {
                crate::format::CIFAR_BATCH_RECORDS * crate::format::CIFAR_RECORD as u64
            }
            FileKind::Text => crate::format::MAX_TEXT_BYTES,
        }
    }
}

/// Read a whole file, gunzip it if needed, and hash it if asked. Its size is checked
/// before it is read, on disk against what `kind` allows (a CIFAR-10 batch: the exact
/// record layout), and while decompressing against the same bound (an IDX file: the length
/// its header declares), so a sparse 20 GB file or a gzip bomb is refused without
/// allocating it.
pub(crate) fn read_decoded(path: &Path, hash: bool, kind: FileKind) -> Result<ReadFile> {
    use std::io::{BufRead, Read};
    let shown = path.display().to_string();
    let file = std::fs::File::open(path).map_err(io_err(path))?;
    let len = file.metadata().map_err(io_err(path))?.len();
    if len == 0 {
        return Err(Error::EmptyFile { file: shown });
    }
    let mut reader = std::io::BufReader::new(file);
    let head = reader.fill_buf().map_err(io_err(path))?;
    let bytes = if crate::format::is_gzip(head) {
        crate::format::gunzip_bounded(reader, kind.max(), kind == FileKind::Idx)
            .map_err(|e| e.with_file(&shown))?
    } else {
        let too_large = |max, limit| Error::FileTooLarge {
            file: shown.clone(),
            what: "is",
            size: len,
            max,
            limit,
        };
        match kind {
            FileKind::CifarBatch => {
                crate::format::check_cifar_len(len).map_err(|e| e.with_file(&shown))?
            }
            // A raw IDX file within the bound is read whole: its parser then checks the
            // body against the header (with a more telling message than a size alone).
            _ if len > kind.max() => {
                return Err(too_large(kind.max(), "this loader reads from one file"));
            }
            FileKind::Idx | FileKind::Text => {}
        }
        let mut bytes = Vec::new();
        bytes
            .try_reserve_exact(len as usize)
            .map_err(|_| too_large(len.saturating_sub(1), "that can be allocated now"))?;
        reader.read_to_end(&mut bytes).map_err(io_err(path))?;
        bytes
    };
    let sha256 = hash.then(|| sha256_hex(&bytes));
    Ok(ReadFile {
        path: path.to_path_buf(),
        bytes,
        sha256,
    })
}

/// Read several files in parallel (one thread each; decompression and hashing dominate).
fn read_all(paths: &[(PathBuf, FileKind)], hash: bool) -> Result<Vec<ReadFile>> {
    std::thread::scope(|s| {
        let handles: Vec<_> = paths
            .iter()
            .map(|(p, kind)| s.spawn(move || read_decoded(p, hash, *kind)))
            .collect();
        handles
            .into_iter()
            .map(|h| match h.join() {
                Ok(r) => r,
                Err(panic) => std::panic::resume_unwind(panic),
            })
            .collect()
    })
}

/// Find `<dir>/<name>` or `<dir>/<name>.gz`.
pub(crate) fn find_idx_file(dir: &Path, name: &str) -> Option<PathBuf> {
    [name.to_string(), format!("{name}.gz")]
        .into_iter()
        .map(|n| dir.join(n))
        .find(|p| p.is_file())
}

/// Record the checksum verdict of a file in `notes` / `warnings`.
pub(crate) fn record_verdict(
    entry: &DatasetEntry,
    canonical: &str,
    file: &ReadFile,
    notes: &mut Vec<String>,
    warnings: &mut Vec<String>,
) {
    let Some(sha) = &file.sha256 else { return };
    let Some(fe) = entry.file(canonical) else {
        return;
    };
    let shown = file.path.display();
    match fe.verdict(sha) {
        Verdict::Canonical => notes.push(format!("{shown}: sha256 matches the canonical file")),
        Verdict::Variant(kind) => notes.push(format!(
            "{shown}: sha256 matches the known '{kind}' variant, which is NOT byte-identical to the official file"
        )),
        Verdict::Mismatch { expected } => warnings.push(format!(
            "{shown}: sha256 {sha} differs from the canonical {expected} (content after gunzip); the file may be corrupt or a different release"
        )),
        Verdict::Unknown => notes.push(format!(
            "{shown}: no canonical sha256 known; its sha256 is {sha}"
        )),
    }
}

/// Load a dataset from the data directory: `explicit`, else `IMBALANCE_DATA_DIR`, else the
/// per-user cache (see [`resolve_data_dir`]). The dataset lives in
/// `<data_dir>/<mnist|fashion-mnist|cifar10>/`; a `data_dir` that itself holds the files is
/// accepted too.
pub fn load(name: DatasetName, explicit: Option<&Path>, opts: &LoadOptions) -> Result<Dataset> {
    let data_dir = resolve_data_dir(explicit)?;
    let dir = data_dir.join(name.dir_name());
    if dir.is_dir() {
        return load_dir(name, &dir, opts);
    }
    if holds_dataset(name, &data_dir) {
        return load_dir(name, &data_dir, opts);
    }
    Err(Error::DatasetNotFound {
        name,
        searched: dir,
    })
}

/// True when `dir` directly holds the files of the dataset.
fn holds_dataset(name: DatasetName, dir: &Path) -> bool {
    if name.is_idx() {
        find_idx_file(dir, "train-images-idx3-ubyte").is_some()
    } else {
        dir.join("cifar-10-batches-bin").is_dir() || dir.join("test_batch.bin").is_file()
    }
}

/// Load a dataset from the folder that holds its files.
///
/// MNIST / Fashion-MNIST: `train-images-idx3-ubyte`, `train-labels-idx1-ubyte`,
/// `t10k-images-idx3-ubyte`, `t10k-labels-idx1-ubyte`, each raw or with `.gz`.
/// CIFAR-10: `dir/cifar-10-batches-bin/` or `dir` itself with `test_batch.bin` and any
/// non-empty subset of `data_batch_1.bin` .. `data_batch_5.bin` (which were found is
/// reported in [`Dataset::train_batches`] and [`Dataset::notes`]).
pub fn load_dir(name: DatasetName, dir: &Path, opts: &LoadOptions) -> Result<Dataset> {
    if !dir.is_dir() {
        return Err(Error::DatasetNotFound {
            name,
            searched: dir.to_path_buf(),
        });
    }
    let manifest = Manifest::embedded()?;
    let entry = manifest.dataset(name)?;
    if name.is_idx() {
        load_idx(name, dir, entry, opts)
    } else {
        load_cifar(dir, entry, opts)
    }
}

fn load_idx(
    name: DatasetName,
    dir: &Path,
    entry: &DatasetEntry,
    opts: &LoadOptions,
) -> Result<Dataset> {
    let canon = [
        "train-images-idx3-ubyte",
        "train-labels-idx1-ubyte",
        "t10k-images-idx3-ubyte",
        "t10k-labels-idx1-ubyte",
    ];
    let mut paths = Vec::with_capacity(4);
    for c in canon {
        let p = find_idx_file(dir, c).ok_or_else(|| Error::MissingFile {
            name,
            dir: dir.to_path_buf(),
            file: c.to_string(),
            tried: format!("{c}, {c}.gz"),
        })?;
        paths.push(p);
    }
    let kinds: Vec<(PathBuf, FileKind)> =
        paths.iter().map(|p| (p.clone(), FileKind::Idx)).collect();
    let files = read_all(&kinds, opts.verify_checksums)?;
    let mut ds = empty(name);
    let shown: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
    let (px, lb) = idx_split(
        name,
        (&files[0].bytes, &shown[0]),
        (&files[1].bytes, &shown[1]),
    )?;
    ds.train_pixels = px;
    ds.train_labels = lb;
    let (px, lb) = idx_split(
        name,
        (&files[2].bytes, &shown[2]),
        (&files[3].bytes, &shown[3]),
    )?;
    ds.test_pixels = px;
    ds.test_labels = lb;
    finish(&mut ds, entry, &canon, &files, opts);
    ds.files = paths;
    Ok(ds)
}

fn finish(
    ds: &mut Dataset,
    entry: &DatasetEntry,
    canon: &[&str],
    files: &[ReadFile],
    opts: &LoadOptions,
) {
    if opts.verify_checksums {
        for (c, f) in canon.iter().zip(files) {
            record_verdict(entry, c, f, &mut ds.notes, &mut ds.warnings);
        }
    } else {
        ds.notes
            .push("checksums not verified (verify_checksums = false)".to_string());
    }
}

/// The folder holding the CIFAR-10 batches: `dir/cifar-10-batches-bin` or `dir`.
pub(crate) fn cifar_batch_dir(dir: &Path) -> PathBuf {
    let sub = dir.join("cifar-10-batches-bin");
    if sub.is_dir() { sub } else { dir.to_path_buf() }
}

fn load_cifar(dir: &Path, entry: &DatasetEntry, opts: &LoadOptions) -> Result<Dataset> {
    let bdir = cifar_batch_dir(dir);
    let train_names: Vec<String> = (1..=5).map(|i| format!("data_batch_{i}.bin")).collect();
    let found: Vec<&String> = train_names
        .iter()
        .filter(|n| bdir.join(n).is_file())
        .collect();
    if found.is_empty() {
        return Err(Error::NoTrainBatches { dir: bdir });
    }
    let test_path = bdir.join("test_batch.bin");
    if !test_path.is_file() {
        return Err(Error::MissingFile {
            name: DatasetName::Cifar10,
            dir: bdir,
            file: "test_batch.bin".to_string(),
            tried: "test_batch.bin".to_string(),
        });
    }
    let mut canon: Vec<&str> = found.iter().map(|s| s.as_str()).collect();
    canon.push("test_batch.bin");
    let meta_path = bdir.join("batches.meta.txt");
    let has_meta = meta_path.is_file();
    if has_meta {
        canon.push("batches.meta.txt");
    }
    let paths: Vec<PathBuf> = canon.iter().map(|c| bdir.join(c)).collect();
    let kinds: Vec<(PathBuf, FileKind)> = paths
        .iter()
        .map(|p| {
            let kind = if p.extension().is_some_and(|e| e == "txt") {
                FileKind::Text
            } else {
                FileKind::CifarBatch
            };
            (p.clone(), kind)
        })
        .collect();
    let files = read_all(&kinds, opts.verify_checksums)?;

    let mut ds = empty(DatasetName::Cifar10);
    let n_train_files = found.len();
    for f in &files[..n_train_files] {
        let shown = f.path.display().to_string();
        let batch = parse_cifar_batch(&f.bytes).map_err(|e| e.with_file(&shown))?;
        ds.train_pixels.extend_from_slice(&batch.pixels);
        ds.train_labels.extend_from_slice(&batch.labels);
    }
    let tf = &files[n_train_files];
    let test =
        parse_cifar_batch(&tf.bytes).map_err(|e| e.with_file(&tf.path.display().to_string()))?;
    ds.test_pixels = test.pixels;
    ds.test_labels = test.labels;
    if has_meta {
        let mf = &files[n_train_files + 1];
        ds.class_names = parse_class_names(&mf.bytes)
            .map_err(|e| e.with_file(&mf.path.display().to_string()))?;
    } else {
        ds.notes.push(format!(
            "{}: batches.meta.txt not found; using the standard class names",
            bdir.display()
        ));
    }
    ds.train_batches = found.iter().map(|s| s.to_string()).collect();
    let missing: Vec<&str> = train_names
        .iter()
        .filter(|n| !found.contains(n))
        .map(|s| s.as_str())
        .collect();
    if missing.is_empty() {
        ds.notes.push(format!(
            "CIFAR-10: all 5 training batches found ({} training images)",
            ds.n_train()
        ));
    } else {
        ds.notes.push(format!(
            "CIFAR-10: training batches found: {} ({} training images); missing: {} (a subset of the official 50000)",
            ds.train_batches.join(", "),
            ds.n_train(),
            missing.join(", ")
        ));
    }
    debug_assert_eq!(ds.train_pixels.len(), ds.n_train() * CIFAR_PIXELS);
    finish(&mut ds, entry, &canon, &files, opts);
    ds.files = paths;
    Ok(ds)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::{encode_idx_images, encode_idx_labels};

    fn tiny() -> Dataset {
        let px: Vec<u8> = (0..3 * 784).map(|i| (i % 256) as u8).collect();
        Dataset::from_idx_bytes(
            DatasetName::Mnist,
            &encode_idx_images(3, 28, 28, &px),
            &encode_idx_labels(&[0, 1, 1]),
            &encode_idx_images(1, 28, 28, &px[..784]),
            &encode_idx_labels(&[9]),
        )
        .unwrap()
    }

    #[test]
    fn accessors() {
        let ds = tiny();
        assert_eq!((ds.n_train(), ds.n_test(), ds.dim()), (3, 1, 784));
        assert_eq!(ds.class_counts(Split::Train)[1], 2);
        assert_eq!(ds.labels(Split::Test), vec![9]);
        let rows = ds.rows_f64(Split::Train, &[2, 0]).unwrap();
        assert_eq!(rows.len(), 2 * 784);
        assert_eq!(rows[784], 0.0); // row 0 starts with byte 0
        assert!((rows[1] - ((2 * 784 + 1) % 256) as f64 / 255.0).abs() < 1e-15);
        assert!(matches!(
            ds.rows_f64(Split::Test, &[1]),
            Err(Error::RowOutOfRange { index: 1, n: 1, .. })
        ));
        assert!(ds.image(Split::Train, 3).is_none());
    }

    #[test]
    fn train_mean_is_exact() {
        let ds = tiny();
        let m = ds.train_mean();
        for j in [0, 100, 783] {
            let expected = (0..3).map(|i| ((i * 784 + j) % 256) as f64).sum::<f64>() / 3.0 / 255.0;
            assert!((m[j] - expected).abs() < 1e-14);
        }
    }

    #[test]
    fn wrong_image_size_for_dataset() {
        let err = Dataset::from_idx_bytes(
            DatasetName::Mnist,
            &encode_idx_images(1, 32, 32, &[0; 1024]),
            &encode_idx_labels(&[0]),
            &encode_idx_images(1, 28, 28, &[0; 784]),
            &encode_idx_labels(&[0]),
        )
        .unwrap_err();
        assert!(
            matches!(
                err,
                Error::BadImageSize {
                    rows: 32,
                    expected_rows: 28,
                    ..
                }
            ),
            "{err}"
        );
    }
}
