//! The error type of the crate.

use std::path::PathBuf;

use crate::DatasetName;

/// Everything that can go wrong while finding, reading, validating, downloading or
/// subsampling a dataset.
///
/// Variants that describe a problem inside a file carry `file`: the file name as given
/// to the parser (the path when loading from disk, `<memory>` for the pure parse
/// functions).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The dataset name is not one this crate knows.
    #[error("unknown dataset '{name}'; allowed: mnist, fashion-mnist, cifar10")]
    UnknownDataset {
        /// What was given.
        name: String,
    },
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The gzip stream is corrupt or truncated.
    #[error(
        "{file}: gzip stream is corrupt or truncated ({source}); re-download or re-import the file"
    )]
    Gzip {
        /// The file.
        file: String,
        /// The decompressor's error.
        #[source]
        source: std::io::Error,
    },
    /// The file is empty.
    #[error("{file}: file is empty")]
    EmptyFile {
        /// The file.
        file: String,
    },
    /// The file is shorter than its header.
    #[error("{file}: {len} bytes is too short for the {need}-byte {what} header (truncated file?)")]
    TruncatedHeader {
        /// The file.
        file: String,
        /// Its length in bytes.
        len: usize,
        /// The header length in bytes.
        need: usize,
        /// Which header ("IDX images", "IDX labels").
        what: &'static str,
    },
    /// The IDX magic number is wrong.
    #[error(
        "{file}: magic number 0x{found:08x} is not 0x{expected:08x} (IDX {what}); is this the right file?"
    )]
    BadMagic {
        /// The file.
        file: String,
        /// The magic number read.
        found: u32,
        /// The magic number required.
        expected: u32,
        /// "images" or "labels".
        what: &'static str,
    },
    /// An IDX image dimension is zero or not the one the dataset requires.
    #[error("{file}: images are {rows}x{cols}, expected {expected_rows}x{expected_cols}")]
    BadImageSize {
        /// The file.
        file: String,
        /// Rows in the header.
        rows: u32,
        /// Columns in the header.
        cols: u32,
        /// Rows required.
        expected_rows: u32,
        /// Columns required.
        expected_cols: u32,
    },
    /// The body length does not match the counts in the header.
    #[error(
        "{file}: header says {count} {what} ({expected} bytes after the header) but the file has {actual} bytes there ({hint})"
    )]
    BodySize {
        /// The file.
        file: String,
        /// "images" or "labels".
        what: &'static str,
        /// Item count from the header.
        count: u32,
        /// Expected body length in bytes.
        expected: u64,
        /// Actual body length in bytes.
        actual: u64,
        /// "truncated file" or "trailing bytes".
        hint: &'static str,
    },
    /// A label is outside 0..classes.
    #[error("{file}: label {label} at record {index} is outside 0..{classes}")]
    LabelOutOfRange {
        /// The file.
        file: String,
        /// Record index.
        index: usize,
        /// The label read.
        label: u8,
        /// Number of classes.
        classes: usize,
    },
    /// The image and label files of a split hold different numbers of items.
    #[error("{images_file} holds {images} images but {labels_file} holds {labels} labels")]
    CountMismatch {
        /// The image file.
        images_file: String,
        /// Number of images.
        images: usize,
        /// The label file.
        labels_file: String,
        /// Number of labels.
        labels: usize,
    },
    /// A `.npy` feature or label file is malformed or not what is needed (shape, dtype,
    /// order, values, labels, length).
    #[error("{file}: {problem}")]
    Npy {
        /// The file.
        file: String,
        /// What is wrong with it.
        problem: String,
    },
    /// An image folder (or an image in it) is not usable: layout, decoding, shape, size.
    #[error("{path}: {problem}")]
    ImageFolder {
        /// The folder or image file.
        path: PathBuf,
        /// What is wrong with it.
        problem: String,
    },
    /// A file parsed correctly but holds no records.
    #[error("{file}: holds no records")]
    NoRecords {
        /// The file.
        file: String,
    },
    /// A CIFAR-10 batch length is not a positive multiple of 3073 bytes.
    #[error(
        "{file}: {len} bytes is not a positive multiple of the 3073-byte CIFAR-10 record (1 label + 3072 pixels); truncated or not a CIFAR-10 binary batch"
    )]
    CifarSize {
        /// The file.
        file: String,
        /// Its length in bytes.
        len: usize,
    },
    /// A file is larger than its format allows (found from its size on disk or its header,
    /// before it is read whole).
    #[error("{file}: {what} {size} bytes, more than the {max} bytes {limit}")]
    FileTooLarge {
        /// The file.
        file: String,
        /// Where the size comes from ("is", "its IDX header declares").
        what: &'static str,
        /// The size.
        size: u64,
        /// The most allowed.
        max: u64,
        /// What sets the maximum.
        limit: &'static str,
    },
    /// A gzip stream goes on past the size its content allows (a gzip bomb, or a corrupt
    /// file); decompression stopped there.
    #[error("{file}: decompresses to more than the {max} bytes {limit}")]
    Decompresses {
        /// The file.
        file: String,
        /// The most allowed.
        max: u64,
        /// What sets the maximum ("its header declares").
        limit: &'static str,
    },
    /// `batches.meta.txt` does not hold 10 class names.
    #[error("{file}: expected {expected} non-empty class names, found {found}")]
    BadClassNames {
        /// The file.
        file: String,
        /// Names found.
        found: usize,
        /// Names required.
        expected: usize,
    },
    /// A required file is missing from a dataset folder.
    #[error(
        "{dir}: missing {file} (looked for {tried}); run `imbalance fetch {name}`, or `imbalance import {name} FOLDER`"
    )]
    MissingFile {
        /// The dataset.
        name: DatasetName,
        /// The folder searched.
        dir: PathBuf,
        /// The canonical file name.
        file: String,
        /// The names tried.
        tried: String,
    },
    /// No CIFAR-10 training batch was found.
    #[error(
        "{dir}: no CIFAR-10 training batch (data_batch_1.bin .. data_batch_5.bin); run `imbalance fetch cifar10`"
    )]
    NoTrainBatches {
        /// The folder searched.
        dir: PathBuf,
    },
    /// The dataset folder does not exist under the data directory.
    #[error(
        "dataset {name} not found: {searched} does not exist. Get it with `imbalance fetch {name}` (downloads into the data directory), or point to a folder holding `{name}/` with --data-dir DIR or the IMBALANCE_DATA_DIR environment variable"
    )]
    DatasetNotFound {
        /// The dataset.
        name: DatasetName,
        /// The folder that was expected to hold it.
        searched: PathBuf,
    },
    /// An explicitly given data directory does not exist.
    #[error("data directory {path} (from {origin}) does not exist or is not a folder")]
    DataDirNotFound {
        /// The path given.
        path: PathBuf,
        /// Where it came from ("--data-dir", "IMBALANCE_DATA_DIR").
        origin: &'static str,
    },
    /// Neither a data directory nor a home directory is known.
    #[error(
        "no data directory: pass --data-dir DIR or set IMBALANCE_DATA_DIR (neither XDG_CACHE_HOME nor HOME is set)"
    )]
    NoDataDir,
    /// A row index is out of range.
    #[error("row index {index} is out of range: the {split} split has {n} images")]
    RowOutOfRange {
        /// The index.
        index: usize,
        /// Number of rows in the split.
        n: usize,
        /// "train" or "test".
        split: &'static str,
    },
    /// A class has fewer samples than asked for.
    #[error("class {class} has {available} samples, fewer than the {requested} asked for")]
    NotEnoughSamples {
        /// The class.
        class: usize,
        /// Samples available.
        available: usize,
        /// Samples asked for.
        requested: usize,
    },
    /// A label is not covered by the per-class counts.
    #[error("label {label} at index {index} is >= the number of per-class counts given ({k})")]
    LabelBeyondCounts {
        /// The label.
        label: usize,
        /// Where it was found.
        index: usize,
        /// Number of counts given.
        k: usize,
    },
    /// A minority-class choice is invalid.
    #[error("minority classes: {problem} (K = {k}, got {value})")]
    BadMinority {
        /// What is wrong.
        problem: &'static str,
        /// Number of classes.
        k: usize,
        /// The offending value (a class index or a count).
        value: usize,
    },
    /// A download failed.
    #[error("downloading {url} failed: {source}")]
    Download {
        /// The URL.
        url: String,
        /// The HTTP client's error (boxed, so the type does not depend on the `fetch` feature).
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A downloaded or imported file does not have the canonical checksum.
    #[error(
        "{file}: sha256 {actual} does not match the expected {expected}; the file is corrupt or not the canonical one"
    )]
    ChecksumMismatch {
        /// The file.
        file: String,
        /// Expected sha256 (hex).
        expected: String,
        /// Actual sha256 (hex).
        actual: String,
    },
    /// A tar archive is malformed.
    #[error("{file}: malformed tar archive at byte {offset}: {problem}")]
    Tar {
        /// The archive.
        file: String,
        /// Byte offset of the bad header.
        offset: u64,
        /// What is wrong.
        problem: &'static str,
    },
    /// The embedded manifest is malformed (a bug in this crate).
    #[error("embedded datasets/manifest.json is malformed: {source}")]
    Manifest {
        /// The JSON error.
        #[source]
        source: serde_json::Error,
    },
    /// The embedded manifest lacks a dataset (a bug in this crate).
    #[error("embedded datasets/manifest.json has no entry for {name}")]
    ManifestEntry {
        /// The dataset.
        name: DatasetName,
    },
}

impl Error {
    /// Replace the file name carried by a format error (used to turn the `<memory>` of
    /// the pure parse functions into a real path). Other variants are returned unchanged.
    pub fn with_file(self, name: &str) -> Error {
        let n = name.to_string();
        match self {
            Error::Gzip { source, .. } => Error::Gzip { file: n, source },
            Error::EmptyFile { .. } => Error::EmptyFile { file: n },
            Error::TruncatedHeader {
                len, need, what, ..
            } => Error::TruncatedHeader {
                file: n,
                len,
                need,
                what,
            },
            Error::BadMagic {
                found,
                expected,
                what,
                ..
            } => Error::BadMagic {
                file: n,
                found,
                expected,
                what,
            },
            Error::BadImageSize {
                rows,
                cols,
                expected_rows,
                expected_cols,
                ..
            } => Error::BadImageSize {
                file: n,
                rows,
                cols,
                expected_rows,
                expected_cols,
            },
            Error::BodySize {
                what,
                count,
                expected,
                actual,
                hint,
                ..
            } => Error::BodySize {
                file: n,
                what,
                count,
                expected,
                actual,
                hint,
            },
            Error::LabelOutOfRange {
                index,
                label,
                classes,
                ..
            } => Error::LabelOutOfRange {
                file: n,
                index,
                label,
                classes,
            },
            Error::NoRecords { .. } => Error::NoRecords { file: n },
            Error::CifarSize { len, .. } => Error::CifarSize { file: n, len },
            Error::FileTooLarge {
                what,
                size,
                max,
                limit,
                ..
            } => Error::FileTooLarge {
                file: n,
                what,
                size,
                max,
                limit,
            },
            Error::Decompresses { max, limit, .. } => Error::Decompresses {
                file: n,
                max,
                limit,
            },
            Error::BadClassNames {
                found, expected, ..
            } => Error::BadClassNames {
                file: n,
                found,
                expected,
            },
            Error::ChecksumMismatch {
                expected, actual, ..
            } => Error::ChecksumMismatch {
                file: n,
                expected,
                actual,
            },
            Error::Tar {
                offset, problem, ..
            } => Error::Tar {
                file: n,
                offset,
                problem,
            },
            other => other,
        }
    }
}

/// The crate's result type.
pub type Result<T> = std::result::Result<T, Error>;
