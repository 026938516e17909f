//! Error paths of the file loaders, on tiny generated IDX / CIFAR files in temporary
//! folders, and the verification logic of fetch / import on local bytes (no network).

use std::io::Write;
use std::path::Path;

use imbalance_datasets::manifest::{FileEntry, Manifest};
use imbalance_datasets::{
    CIFAR_RECORD, DatasetName, Error, InstallReport, LoadOptions, encode_idx_images,
    encode_idx_labels, extract_cifar_archive, import, install_idx_bytes, load, load_dir,
};

/// A fresh temporary folder, removed on drop.
fn temp_dir(tag: &str) -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix(&format!("imbalance-datasets-{tag}-"))
        .tempdir()
        .unwrap()
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

/// A valid tiny MNIST-like set: `n` train images, 2 test images, 28 x 28.
fn tiny_idx(n: u32) -> [(String, Vec<u8>); 4] {
    let px = |m: u32| -> Vec<u8> { (0..m * 784).map(|i| (i % 256) as u8).collect() };
    let lab = |m: u32| -> Vec<u8> { (0..m).map(|i| (i % 10) as u8).collect() };
    [
        (
            "train-images-idx3-ubyte".into(),
            encode_idx_images(n, 28, 28, &px(n)),
        ),
        ("train-labels-idx1-ubyte".into(), encode_idx_labels(&lab(n))),
        (
            "t10k-images-idx3-ubyte".into(),
            encode_idx_images(2, 28, 28, &px(2)),
        ),
        ("t10k-labels-idx1-ubyte".into(), encode_idx_labels(&lab(2))),
    ]
}

fn write_set(dir: &Path, files: &[(String, Vec<u8>)]) {
    for (name, bytes) in files {
        std::fs::write(dir.join(name), bytes).unwrap();
    }
}

fn load_tiny(files: &[(String, Vec<u8>)]) -> Result<imbalance_datasets::Dataset, Error> {
    let t = temp_dir("idx");
    write_set(t.path(), files);
    load_dir(DatasetName::Mnist, t.path(), &LoadOptions::default())
}

#[test]
fn valid_tiny_idx_loads_raw_and_gzip_with_checksum_warnings() {
    let files = tiny_idx(12);
    let ds = load_tiny(&files).unwrap();
    assert_eq!((ds.n_train(), ds.n_test()), (12, 2));
    assert_eq!(ds.class_counts(imbalance_datasets::Split::Train)[1], 2);
    // Not the canonical MNIST: every file gets a warning naming it.
    assert_eq!(ds.warnings.len(), 4, "{:?}", ds.warnings);
    assert!(ds.warnings[0].contains("train-images-idx3-ubyte"));
    // gzip variant, checksums off: no warnings, a note instead
    let gz: Vec<(String, Vec<u8>)> = files
        .iter()
        .map(|(n, b)| (format!("{n}.gz"), gzip(b)))
        .collect();
    let t = temp_dir("gz");
    write_set(t.path(), &gz);
    let ds = load_dir(
        DatasetName::Mnist,
        t.path(),
        &LoadOptions {
            verify_checksums: false,
        },
    )
    .unwrap();
    assert_eq!(ds.n_train(), 12);
    assert!(ds.warnings.is_empty());
    assert!(ds.notes.iter().any(|n| n.contains("not verified")));
}

#[test]
fn bad_magic_names_file() {
    let mut files = tiny_idx(3);
    files[2].1[3] = 0x01; // images magic -> 0x801
    let err = load_tiny(&files).unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, Error::BadMagic { found: 0x801, .. }), "{msg}");
    assert!(msg.contains("t10k-images-idx3-ubyte"), "{msg}");
}

#[test]
fn wrong_dims() {
    let mut files = tiny_idx(3);
    files[0].1 = encode_idx_images(3, 14, 56, &vec![0; 3 * 784]);
    let err = load_tiny(&files).unwrap_err();
    assert!(
        matches!(
            err,
            Error::BadImageSize {
                rows: 14,
                cols: 56,
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("expected 28x28"));
}

#[test]
fn truncated_body() {
    let mut files = tiny_idx(3);
    files[0].1.truncate(16 + 2 * 784 + 100);
    let err = load_tiny(&files).unwrap_err();
    let msg = err.to_string();
    assert!(
        matches!(
            err,
            Error::BodySize {
                hint: "truncated file",
                ..
            }
        ),
        "{msg}"
    );
    assert!(
        msg.contains("train-images-idx3-ubyte") && msg.contains("3 images"),
        "{msg}"
    );
}

#[test]
fn truncated_header() {
    let mut files = tiny_idx(3);
    files[1].1.truncate(6);
    let err = load_tiny(&files).unwrap_err();
    assert!(
        matches!(err, Error::TruncatedHeader { len: 6, .. }),
        "{err}"
    );
}

#[test]
fn truncated_gzip_names_file() {
    let files = tiny_idx(30);
    let mut gz: Vec<(String, Vec<u8>)> = files
        .iter()
        .map(|(n, b)| (format!("{n}.gz"), gzip(b)))
        .collect();
    let half = gz[0].1.len() / 2;
    gz[0].1.truncate(half);
    let err = load_tiny(&gz).unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, Error::Gzip { .. }), "{msg}");
    assert!(msg.contains("train-images-idx3-ubyte.gz"), "{msg}");
}

#[test]
fn label_out_of_range() {
    let mut files = tiny_idx(3);
    let last = files[3].1.len() - 1;
    files[3].1[last] = 12;
    let err = load_tiny(&files).unwrap_err();
    assert!(
        matches!(
            err,
            Error::LabelOutOfRange {
                index: 1,
                label: 12,
                classes: 10,
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("t10k-labels-idx1-ubyte"));
}

#[test]
fn count_mismatch_images_vs_labels() {
    let mut files = tiny_idx(3);
    files[1].1 = encode_idx_labels(&[0, 1, 2, 3]);
    let err = load_tiny(&files).unwrap_err();
    assert!(
        matches!(
            err,
            Error::CountMismatch {
                images: 3,
                labels: 4,
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn empty_and_missing_files() {
    let mut files = tiny_idx(3);
    files[1].1.clear();
    let err = load_tiny(&files).unwrap_err();
    assert!(matches!(err, Error::EmptyFile { .. }), "{err}");
    assert!(err.to_string().contains("train-labels-idx1-ubyte"));

    let t = temp_dir("missing");
    write_set(t.path(), &tiny_idx(3)[..3]);
    let err = load_dir(DatasetName::Mnist, t.path(), &LoadOptions::default()).unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, Error::MissingFile { .. }), "{msg}");
    assert!(
        msg.contains("t10k-labels-idx1-ubyte") && msg.contains("imbalance fetch mnist"),
        "{msg}"
    );
}

#[test]
fn zero_images() {
    let mut files = tiny_idx(3);
    files[2].1 = encode_idx_images(0, 28, 28, &[]);
    files[3].1 = encode_idx_labels(&[]);
    let err = load_tiny(&files).unwrap_err();
    assert!(matches!(err, Error::NoRecords { .. }), "{err}");
}

#[test]
fn dataset_not_found_says_how_to_get_it() {
    let t = temp_dir("nodata");
    let err = load(
        DatasetName::FashionMnist,
        Some(t.path()),
        &LoadOptions::default(),
    )
    .unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, Error::DatasetNotFound { .. }), "{msg}");
    assert!(msg.contains("imbalance fetch fashion-mnist"), "{msg}");
    assert!(
        msg.contains("--data-dir") && msg.contains("IMBALANCE_DATA_DIR"),
        "{msg}"
    );
}

#[test]
fn data_dir_layouts() {
    // <data_dir>/mnist/ and a data_dir that holds the files directly both load
    let t = temp_dir("layout");
    let sub = t.path().join("mnist");
    std::fs::create_dir(&sub).unwrap();
    write_set(&sub, &tiny_idx(4));
    assert_eq!(
        load(DatasetName::Mnist, Some(t.path()), &LoadOptions::default())
            .unwrap()
            .n_train(),
        4
    );
    assert_eq!(
        load(DatasetName::Mnist, Some(&sub), &LoadOptions::default())
            .unwrap()
            .n_train(),
        4
    );
}

fn cifar_batch(n: usize, first_label: u8) -> Vec<u8> {
    let mut b = vec![0u8; n * CIFAR_RECORD];
    for i in 0..n {
        b[i * CIFAR_RECORD] = (first_label as usize + i) as u8 % 10;
        b[i * CIFAR_RECORD + 1] = i as u8;
    }
    b
}

#[test]
fn cifar_subset_and_errors() {
    let t = temp_dir("cifar");
    let bdir = t.path().join("cifar-10-batches-bin");
    std::fs::create_dir(&bdir).unwrap();
    std::fs::write(bdir.join("data_batch_2.bin"), cifar_batch(3, 0)).unwrap();
    std::fs::write(bdir.join("data_batch_5.bin"), cifar_batch(2, 5)).unwrap();
    std::fs::write(bdir.join("test_batch.bin"), cifar_batch(4, 1)).unwrap();
    let ds = load_dir(DatasetName::Cifar10, t.path(), &LoadOptions::default()).unwrap();
    assert_eq!((ds.n_train(), ds.n_test(), ds.dim()), (5, 4, 3072));
    assert_eq!(ds.train_batches, ["data_batch_2.bin", "data_batch_5.bin"]);
    assert_eq!(ds.train_labels, [0, 1, 2, 5, 6]);
    assert!(
        ds.notes
            .iter()
            .any(|n| n.contains("missing: data_batch_1.bin")),
        "{:?}",
        ds.notes
    );
    assert!(
        ds.notes
            .iter()
            .any(|n| n.contains("batches.meta.txt not found"))
    );
    assert_eq!(ds.class_names[0], "airplane");
    // checksums: tiny files differ from the reference values -> warnings naming them
    assert!(ds.warnings.iter().any(|w| w.contains("data_batch_2.bin")));

    // size not a multiple of 3073
    let mut bad = cifar_batch(2, 0);
    bad.pop();
    std::fs::write(bdir.join("data_batch_5.bin"), &bad).unwrap();
    let err = load_dir(DatasetName::Cifar10, t.path(), &LoadOptions::default()).unwrap_err();
    assert!(matches!(err, Error::CifarSize { len: 6145, .. }), "{err}");
    assert!(err.to_string().contains("data_batch_5.bin"));

    // label out of range
    let mut bad = cifar_batch(2, 0);
    bad[CIFAR_RECORD] = 200;
    std::fs::write(bdir.join("data_batch_5.bin"), &bad).unwrap();
    let err = load_dir(DatasetName::Cifar10, t.path(), &LoadOptions::default()).unwrap_err();
    assert!(
        matches!(err, Error::LabelOutOfRange { label: 200, .. }),
        "{err}"
    );

    // empty test batch
    std::fs::write(bdir.join("data_batch_5.bin"), cifar_batch(2, 0)).unwrap();
    std::fs::write(bdir.join("test_batch.bin"), b"").unwrap();
    let err = load_dir(DatasetName::Cifar10, t.path(), &LoadOptions::default()).unwrap_err();
    assert!(matches!(err, Error::EmptyFile { .. }), "{err}");

    // missing test batch
    std::fs::remove_file(bdir.join("test_batch.bin")).unwrap();
    let err = load_dir(DatasetName::Cifar10, t.path(), &LoadOptions::default()).unwrap_err();
    assert!(matches!(err, Error::MissingFile { .. }), "{err}");

    // no training batch at all
    std::fs::write(bdir.join("test_batch.bin"), cifar_batch(1, 0)).unwrap();
    std::fs::remove_file(bdir.join("data_batch_2.bin")).unwrap();
    std::fs::remove_file(bdir.join("data_batch_5.bin")).unwrap();
    let err = load_dir(DatasetName::Cifar10, t.path(), &LoadOptions::default()).unwrap_err();
    assert!(matches!(err, Error::NoTrainBatches { .. }), "{err}");
    assert!(err.to_string().contains("imbalance fetch cifar10"));

    // bad class-name file
    std::fs::write(bdir.join("data_batch_1.bin"), cifar_batch(1, 0)).unwrap();
    std::fs::write(bdir.join("batches.meta.txt"), b"cat\ndog\n").unwrap();
    let err = load_dir(DatasetName::Cifar10, t.path(), &LoadOptions::default()).unwrap_err();
    assert!(
        matches!(err, Error::BadClassNames { found: 2, .. }),
        "{err}"
    );
}

fn entry(role: &str, name: &str, sha: Option<String>) -> FileEntry {
    serde_json::from_value(serde_json::json!({
        "role": role, "name": name, "download": format!("{name}.gz"),
        "size": null, "sha256": sha
    }))
    .unwrap()
}

#[test]
fn fetch_verification_on_local_bytes() {
    let t = temp_dir("install");
    let labels = encode_idx_labels(&[1, 2, 3]);
    let good_sha = imbalance_datasets::manifest::sha256_hex(&labels);
    let gz = gzip(&labels);

    // right checksum: written atomically under the download name, no temp left behind
    let e = entry(
        "train-labels",
        "train-labels-idx1-ubyte",
        Some(good_sha.clone()),
    );
    let p = install_idx_bytes(&e, &gz, t.path()).unwrap();
    assert_eq!(p, t.path().join("train-labels-idx1-ubyte.gz"));
    assert_eq!(std::fs::read(&p).unwrap(), gz);
    let names: Vec<_> = std::fs::read_dir(t.path()).unwrap().collect();
    assert_eq!(names.len(), 1, "temporary file left behind");

    // wrong checksum: error, nothing written
    let bad = entry(
        "test-labels",
        "t10k-labels-idx1-ubyte",
        Some("00".repeat(32)),
    );
    let err = install_idx_bytes(&bad, &gz, t.path()).unwrap_err();
    assert!(matches!(err, Error::ChecksumMismatch { .. }), "{err}");
    assert!(err.to_string().contains("t10k-labels-idx1-ubyte.gz"));
    assert!(!t.path().join("t10k-labels-idx1-ubyte.gz").exists());

    // truncated download: gzip error, nothing written
    let err = install_idx_bytes(&e, &gz[..gz.len() - 6], t.path()).unwrap_err();
    assert!(matches!(err, Error::Gzip { .. }), "{err}");

    // right checksum but not IDX labels (e.g. the images file under the wrong role)
    let imgs = encode_idx_images(1, 28, 28, &[0; 784]);
    let e = entry(
        "train-labels",
        "x",
        Some(imbalance_datasets::manifest::sha256_hex(&imgs)),
    );
    assert!(matches!(
        install_idx_bytes(&e, &imgs, t.path()),
        Err(Error::BadMagic { .. })
    ));

    // the real manifest entry rejects a tiny fake MNIST file
    let m = Manifest::embedded().unwrap();
    let real = m
        .dataset(DatasetName::Mnist)
        .unwrap()
        .file("train-labels-idx1-ubyte")
        .unwrap();
    assert!(matches!(
        install_idx_bytes(real, &gz, t.path()),
        Err(Error::ChecksumMismatch { .. })
    ));
}

fn tar_gz(files: &[(&str, &[u8])]) -> Vec<u8> {
    gzip(&imbalance_datasets::tar::build_tar(files))
}

#[test]
fn cifar_archive_extraction_on_local_bytes() {
    let m = Manifest::embedded().unwrap();
    let entry = m.dataset(DatasetName::Cifar10).unwrap();
    let b1 = cifar_batch(3, 0);
    let tb = cifar_batch(2, 4);
    let meta = imbalance_datasets::CIFAR10_CLASSES.join("\n");
    let archive = tar_gz(&[
        ("cifar-10-batches-bin/", b""),
        ("cifar-10-batches-bin/data_batch_1.bin", &b1),
        ("cifar-10-batches-bin/readme.html", b"<html/>"),
        ("cifar-10-batches-bin/test_batch.bin", &tb),
        ("cifar-10-batches-bin/batches.meta.txt", meta.as_bytes()),
    ]);
    let t = temp_dir("archive");
    let dir = t.path().join("cifar10");
    let mut report = InstallReport::default();
    extract_cifar_archive(
        &archive[..],
        "test.tar.gz",
        entry,
        &dir,
        |e| Error::Gzip {
            file: "x".into(),
            source: e,
        },
        &mut report,
    )
    .unwrap();
    assert_eq!(report.files.len(), 3, "{report:?}");
    // tiny batches are not the official ones: warnings, not errors; the archive too
    assert!(
        report
            .warnings
            .iter()
            .any(|w| w.contains("data_batch_1.bin"))
    );
    assert!(report.warnings.iter().any(|w| w.contains("test.tar.gz")));
    let ds = load_dir(DatasetName::Cifar10, &dir, &LoadOptions::default()).unwrap();
    assert_eq!((ds.n_train(), ds.n_test()), (3, 2));
    assert!(!dir.join("cifar-10-batches-bin/readme.html").exists());

    // truncated archive: error, and no temporary or partial file left
    let t2 = temp_dir("archive-trunc");
    let dir2 = t2.path().join("cifar10");
    let err = extract_cifar_archive(
        &archive[..archive.len() * 2 / 3],
        "cut.tar.gz",
        entry,
        &dir2,
        |e| Error::Gzip {
            file: "x".into(),
            source: e,
        },
        &mut InstallReport::default(),
    )
    .unwrap_err();
    assert!(err.to_string().contains("cut.tar.gz"), "{err}");
    let left: Vec<_> = std::fs::read_dir(dir2.join("cifar-10-batches-bin"))
        .unwrap()
        .collect();
    assert!(left.is_empty(), "{left:?}");

    // an archive without test_batch.bin is rejected
    let partial = tar_gz(&[("cifar-10-batches-bin/data_batch_1.bin", &b1)]);
    let err = extract_cifar_archive(
        &partial[..],
        "p.tar.gz",
        entry,
        &t2.path().join("c"),
        |e| Error::Gzip {
            file: "x".into(),
            source: e,
        },
        &mut InstallReport::default(),
    )
    .unwrap_err();
    assert!(matches!(err, Error::Tar { .. }), "{err}");

    // a bad batch inside the archive is named
    let mut badb = b1.clone();
    badb.pop();
    let bad = tar_gz(&[
        ("cifar-10-batches-bin/data_batch_1.bin", &badb),
        ("cifar-10-batches-bin/test_batch.bin", &tb),
    ]);
    let err = extract_cifar_archive(
        &bad[..],
        "b.tar.gz",
        entry,
        &t2.path().join("d"),
        |e| Error::Gzip {
            file: "x".into(),
            source: e,
        },
        &mut InstallReport::default(),
    )
    .unwrap_err();
    assert!(
        err.to_string().contains("b.tar.gz:data_batch_1.bin"),
        "{err}"
    );
}

#[test]
fn import_validates_then_copies() {
    let src = temp_dir("import-src");
    let dst = temp_dir("import-dst");
    let files = tiny_idx(5);
    let gz: Vec<(String, Vec<u8>)> = files
        .iter()
        .map(|(n, b)| (format!("{n}.gz"), gzip(b)))
        .collect();
    write_set(src.path(), &gz);
    let report = import(DatasetName::Mnist, src.path(), dst.path()).unwrap();
    assert_eq!(report.files.len(), 4);
    assert_eq!(report.warnings.len(), 4); // not the canonical MNIST: said, not silent
    let ds = load(
        DatasetName::Mnist,
        Some(dst.path()),
        &LoadOptions::default(),
    )
    .unwrap();
    assert_eq!(ds.n_train(), 5);

    // an invalid source is rejected before anything is written
    let bad = temp_dir("import-bad");
    let dst2 = temp_dir("import-dst2");
    let mut files = tiny_idx(5);
    files[1].1 = encode_idx_labels(&[1]);
    write_set(bad.path(), &files);
    assert!(matches!(
        import(DatasetName::Mnist, bad.path(), dst2.path()),
        Err(Error::CountMismatch { .. })
    ));
    assert!(!dst2.path().join("mnist").exists());

    // CIFAR from a local archive file
    let arch = src.path().join("cifar-10-binary.tar.gz");
    let b1 = cifar_batch(2, 0);
    let tb = cifar_batch(2, 0);
    std::fs::write(
        &arch,
        tar_gz(&[
            ("cifar-10-batches-bin/data_batch_3.bin", &b1),
            ("cifar-10-batches-bin/test_batch.bin", &tb),
        ]),
    )
    .unwrap();
    import(DatasetName::Cifar10, &arch, dst.path()).unwrap();
    let ds = load(
        DatasetName::Cifar10,
        Some(dst.path()),
        &LoadOptions::default(),
    )
    .unwrap();
    assert_eq!(ds.train_batches, ["data_batch_3.bin"]);
}

/// A gzip bomb: a valid IDX labels header for 10 labels, then 10 MB of zeros (gzip packs them
/// into ~10 kB). Decompression stops one byte past the 18 declared bytes.
#[test]
fn gzip_bomb_stops_at_the_size_its_header_declares() {
    let mut raw = encode_idx_labels(&[0; 10]);
    raw.extend(std::iter::repeat_n(0u8, 10_000_000));
    let bomb = gzip(&raw);
    assert!(bomb.len() < 100_000);
    let mut files = tiny_idx(10);
    files[1] = ("train-labels-idx1-ubyte.gz".into(), bomb.clone());
    let err = load_tiny(&files).unwrap_err();
    assert!(
        matches!(err, Error::Decompresses { max: 18, .. }),
        "{err:?}"
    );
    let msg = err.to_string();
    assert!(
        msg.contains(
            "train-labels-idx1-ubyte.gz: decompresses to more than the 18 bytes its header declares"
        ),
        "{msg}"
    );
    // The same through the in-memory front end and the fetch verification.
    assert!(matches!(
        imbalance_datasets::maybe_gunzip(bomb.clone()),
        Err(Error::Decompresses { max: 18, .. })
    ));
    let t = temp_dir("bomb");
    let fe = entry("train_labels", "train-labels-idx1-ubyte", None);
    assert!(matches!(
        install_idx_bytes(&fe, &bomb, t.path()),
        Err(Error::Decompresses { .. })
    ));
    // Exactly the declared size still loads.
    let mut files = tiny_idx(10);
    files[1] = ("train-labels-idx1-ubyte.gz".into(), gzip(&files[1].1));
    assert!(load_tiny(&files).is_ok());
}

/// A header that declares more than the loader reads from one file (here 2^32 - 1 images of
/// 28 x 28, 3.4 TB) is refused as soon as the header is decompressed.
#[test]
fn gzip_header_declaring_terabytes_is_refused() {
    let mut raw = vec![0, 0, 8, 3];
    raw.extend(u32::MAX.to_be_bytes());
    raw.extend(28u32.to_be_bytes());
    raw.extend(28u32.to_be_bytes());
    raw.extend([0u8; 1000]);
    let mut files = tiny_idx(10);
    files[0] = ("train-images-idx3-ubyte.gz".into(), gzip(&raw));
    let msg = load_tiny(&files).unwrap_err().to_string();
    assert!(
        msg.contains("train-images-idx3-ubyte.gz: its IDX header declares 3367254359296 bytes, more than the 2147483648 bytes this loader reads"),
        "{msg}"
    );
}

/// Sparse files (File::set_len: no disk blocks, no memory) far larger than their format
/// allows are refused from their size before a byte of the body is read.
#[test]
fn sparse_20_gb_files_are_refused_before_reading() {
    const SIZE: u64 = 20_000_000_000;
    let t = temp_dir("sparse");
    let bdir = t.path().join("cifar-10-batches-bin");
    std::fs::create_dir(&bdir).unwrap();
    let batch = bdir.join("data_batch_1.bin");
    std::fs::File::create(&batch)
        .unwrap()
        .set_len(SIZE)
        .unwrap();
    std::fs::write(bdir.join("test_batch.bin"), cifar_batch(4, 1)).unwrap();
    let start = std::time::Instant::now();
    let err = load_dir(DatasetName::Cifar10, t.path(), &LoadOptions::default()).unwrap_err();
    assert!(start.elapsed().as_secs_f64() < 1.0, "{:?}", start.elapsed());
    let msg = err.to_string();
    assert!(
        msg.contains("data_batch_1.bin: is 20000000000 bytes, more than the 30730000 bytes of a CIFAR-10 batch"),
        "{msg}"
    );
    // A batch of a size that is no multiple of 3073 is refused from its size too.
    std::fs::File::create(&batch)
        .unwrap()
        .set_len(3073 * 2 + 5)
        .unwrap();
    let err = load_dir(DatasetName::Cifar10, t.path(), &LoadOptions::default()).unwrap_err();
    assert!(matches!(err, Error::CifarSize { len: 6151, .. }), "{err:?}");

    // A raw IDX file (header: 10 images) 20 GB long.
    let mut files = tiny_idx(10);
    files[0].1.truncate(16);
    let t = temp_dir("sparse-idx");
    write_set(t.path(), &files);
    let f = std::fs::OpenOptions::new()
        .write(true)
        .open(t.path().join("train-images-idx3-ubyte"))
        .unwrap();
    f.set_len(SIZE).unwrap();
    let start = std::time::Instant::now();
    let msg = load_dir(DatasetName::Mnist, t.path(), &LoadOptions::default())
        .unwrap_err()
        .to_string();
    assert!(start.elapsed().as_secs_f64() < 1.0);
    assert!(
        msg.contains("train-images-idx3-ubyte: is 20000000000 bytes, more than the 2147483648 bytes this loader reads from one file"),
        "{msg}"
    );
}
