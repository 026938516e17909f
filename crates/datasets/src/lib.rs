//! `imbalance-datasets`: MNIST, Fashion-MNIST and CIFAR-10 loaders with strict
//! validation and sha256 checks, download / import of the canonical files, and
//! imbalanced subsampling of the training pool.
//!
//! ```
//! use imbalance_datasets::{
//!     encode_idx_images, encode_idx_labels, preprocess, subsample, Dataset, DatasetName, Split,
//! };
//! use rand::SeedableRng;
//!
//! // A tiny in-memory MNIST-like dataset: 6 training images, 2 test images.
//! let pixels: Vec<u8> = (0..6 * 784).map(|i| (i % 251) as u8).collect();
//! let ds = Dataset::from_idx_bytes(
//!     DatasetName::Mnist,
//!     &encode_idx_images(6, 28, 28, &pixels),
//!     &encode_idx_labels(&[0, 1, 0, 1, 1, 1]),
//!     &encode_idx_images(2, 28, 28, &pixels[..2 * 784]),
//!     &encode_idx_labels(&[0, 1]),
//! )?;
//! assert_eq!((ds.n_train(), ds.dim(), ds.num_classes()), (6, 784, 10));
//!
//! // An imbalanced subsample: 1 image of class 0, 3 of class 1 (other classes: 0).
//! let mut counts = vec![0; 10];
//! counts[0] = 1;
//! counts[1] = 3;
//! let mut rng = rand_pcg::Pcg64::seed_from_u64(7);
//! let rows = subsample(&ds.labels(Split::Train), &counts, &mut rng)?;
//!
//! // Scaled to [0, 1] and centred by the mean of ALL training images.
//! let p = preprocess(&ds, &rows, &[0, 1])?;
//! assert_eq!(p.train.len(), 4 * 784);
//! assert_eq!(p.train_labels, vec![0, 1, 1, 1]);
//! # Ok::<(), imbalance_datasets::Error>(())
//! ```
//!
//! # On disk
//!
//! [`resolve_data_dir`] picks the data directory (`--data-dir`, else `IMBALANCE_DATA_DIR`,
//! else `~/.cache/imbalance/datasets`); a dataset lives in `<data_dir>/mnist/`,
//! `<data_dir>/fashion-mnist/` or `<data_dir>/cifar10/`. [`load`] reads it (IDX files raw or
//! gzipped; CIFAR-10 binary batches, any non-empty subset of the five training batches),
//! validates every header, size and label, and compares the sha256 of each decompressed
//! file with `datasets/manifest.json` (embedded at compile time). A checksum mismatch is a
//! warning in [`Dataset::warnings`]; the offline JPEG re-encoded CIFAR subset is recognised
//! as a known variant and reported in [`Dataset::notes`].
//!
//! `fetch` (cargo feature `fetch`, off by default: it brings an HTTP client with TLS)
//! downloads the canonical files (progress bar on stderr), verifies them and writes them
//! atomically ([`write_atomic`]); [`import`] copies them from a local folder after
//! validating them. The pure parsers [`parse_idx_images`], [`parse_idx_labels`] and
//! [`parse_cifar_batch`] take bytes and are fuzzed (`crates/datasets/fuzz`).
#![deny(missing_docs)]

mod atomic;
mod dataset;
mod dirs;
pub mod error;
#[cfg(feature = "fetch")]
mod fetch;
mod format;
mod image_folder;
mod install;
pub mod manifest;
mod name;
mod npy;
mod subsample;
pub mod tar;

pub use atomic::{clean_stale_temps, is_temp_name, write_atomic, write_atomic_with};
pub use dataset::{Dataset, LoadOptions, Split, load, load_dir};
pub use dirs::{DATA_DIR_ENV, resolve_data_dir};
pub use error::{Error, Result};
#[cfg(feature = "fetch")]
pub use fetch::fetch;
pub use format::{
    CIFAR_BATCH_RECORDS, CIFAR_PIXELS, CIFAR_RECORD, CifarBatch, IDX_IMAGES_MAGIC,
    IDX_LABELS_MAGIC, IdxImages, MAX_FILE_BYTES, MAX_TEXT_BYTES, NUM_CLASSES, check_cifar_len,
    encode_idx_images, encode_idx_labels, gunzip_bounded, idx_declared_len, is_gzip, maybe_gunzip,
    parse_cifar_batch, parse_class_names, parse_idx_images, parse_idx_labels,
};
pub use image_folder::{
    ImageFolder, ImageFolderOptions, image_folder_features, load_image_folder, load_image_folders,
};
pub use install::{InstallReport, extract_cifar_archive, import, install_idx_bytes};
pub use name::{CIFAR10_CLASSES, DatasetName, FASHION_MNIST_CLASSES, MNIST_CLASSES};
pub use npy::{FeatureSet, load_features, read_npy_labels, read_npy_matrix};
pub use subsample::{
    MinorityChoice, Preprocessed, choose_minority, preprocess, step_counts, subsample,
};

/// The README's example, compiled and run as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
