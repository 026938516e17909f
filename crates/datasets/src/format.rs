//! Pure parsers of the on-disk formats: gzip detection, IDX images and labels, CIFAR-10
//! binary batches, `batches.meta.txt`. They take bytes and never touch the filesystem;
//! errors name the file as `<memory>` (see [`Error::with_file`]).

use std::io::Read;

use crate::error::{Error, Result};

/// The file name used in errors of the pure parse functions.
pub const MEMORY: &str = "<memory>";
/// Magic number of an IDX file of unsigned bytes with 3 dimensions (images).
pub const IDX_IMAGES_MAGIC: u32 = 0x0000_0803;
/// Magic number of an IDX file of unsigned bytes with 1 dimension (labels).
pub const IDX_LABELS_MAGIC: u32 = 0x0000_0801;
/// Number of classes of every supported dataset: labels must be in `0..NUM_CLASSES`.
pub const NUM_CLASSES: usize = 10;
/// Bytes of one CIFAR-10 image (3 x 32 x 32).
pub const CIFAR_PIXELS: usize = 3072;
/// Bytes of one CIFAR-10 record (label + image).
pub const CIFAR_RECORD: usize = CIFAR_PIXELS + 1;

/// True when `bytes` starts with the gzip magic `1f 8b`.
pub fn is_gzip(bytes: &[u8]) -> bool {
    bytes.len() >= 2 && bytes[0] == 0x1f && bytes[1] == 0x8b
}

/// Most bytes this crate reads from one file or decompresses from one stream (2 GiB; the
/// largest file of a supported dataset, MNIST's training images, holds 47 MB).
pub const MAX_FILE_BYTES: u64 = 1 << 31;
/// Most records of a CIFAR-10 batch (each official batch holds exactly 10 000).
pub const CIFAR_BATCH_RECORDS: u64 = 10_000;
/// Most bytes of a text file such as `batches.meta.txt` (the official one has 61).
pub const MAX_TEXT_BYTES: u64 = 1 << 20;

/// The total length (header and body) that the IDX header at the start of `head` declares:
/// `Some` when `head` starts with the magic of an IDX file of unsigned bytes (`00 00 08 d`,
/// 1 <= d <= 4) followed by its d big-endian dimensions.
///
/// ```
/// use imbalance_datasets::idx_declared_len;
/// assert_eq!(idx_declared_len(&[0, 0, 8, 1, 0, 0, 0, 5]), Some(13)); // 5 labels
/// assert_eq!(idx_declared_len(&[0, 0, 8, 1, 0, 0]), None); // the header is cut short
/// ```
pub fn idx_declared_len(head: &[u8]) -> Option<u64> {
    let d = match head {
        [0, 0, 0x08, d, ..] if (1..=4).contains(d) => usize::from(*d),
        _ => return None,
    };
    let header = 4 + 4 * d;
    let dims = head.get(4..header)?;
    // At most 4 factors below 2^32 each: u128 cannot overflow; saturate into u64.
    let body = dims
        .chunks_exact(4)
        .map(|c| u128::from(u32::from_be_bytes([c[0], c[1], c[2], c[3]])))
        .product::<u128>();
    Some(u64::try_from(body + header as u128).unwrap_or(u64::MAX))
}

/// Reads from `r` into `out` until it holds `n` bytes or the stream ends.
fn fill_to(r: &mut impl Read, out: &mut Vec<u8>, n: usize) -> std::io::Result<()> {
    let need = n.saturating_sub(out.len()) as u64;
    r.take(need).read_to_end(out).map(|_| ())
}

/// Decompresses the gzip stream `reader` (possibly several members), stopping at the size
/// its content allows: at most `max` bytes, and when `idx` is set and the content starts
/// with an IDX header, at most the length that header declares. A stream that goes on is
/// [`Error::Decompresses`] (a gzip bomb, or a corrupt file) and one whose header declares
/// more than `max` is [`Error::FileTooLarge`], both found before more than the allowed bytes
/// are held; a truncated or corrupt stream is [`Error::Gzip`].
pub fn gunzip_bounded<R: Read>(reader: R, max: u64, idx: bool) -> Result<Vec<u8>> {
    let gz_err = |source| Error::Gzip {
        file: MEMORY.to_string(),
        source,
    };
    let mut dec = flate2::read::MultiGzDecoder::new(reader);
    let mut out = Vec::new();
    let mut limit = (max, "this loader reads from one file");
    if idx {
        fill_to(&mut dec, &mut out, 4).map_err(gz_err)?;
        if let [0, 0, 0x08, d] = out[..] {
            fill_to(&mut dec, &mut out, 4 + 4 * usize::from(d)).map_err(gz_err)?;
        }
        if let Some(declared) = idx_declared_len(&out) {
            if declared > max {
                return Err(Error::FileTooLarge {
                    file: MEMORY.to_string(),
                    what: "its IDX header declares",
                    size: declared,
                    max,
                    limit: "this loader reads from one file",
                });
            }
            limit = (declared, "its header declares");
        }
    }
    // One allocation for the expected size (a hint only: it may fail harmlessly).
    let _ = out.try_reserve(limit.0.min(1 << 28) as usize);
    let more = (limit.0 + 1).saturating_sub(out.len() as u64);
    (&mut dec)
        .take(more)
        .read_to_end(&mut out)
        .map_err(gz_err)?;
    if out.len() as u64 > limit.0 {
        return Err(Error::Decompresses {
            file: MEMORY.to_string(),
            max: limit.0,
            limit: limit.1,
        });
    }
    Ok(out)
}

/// Decompress `bytes` if they are gzip (magic `1f 8b`, possibly several members), else
/// return them unchanged: [`gunzip_bounded`] of IDX content at most [`MAX_FILE_BYTES`]. A
/// truncated or corrupt stream is an [`Error::Gzip`]; one that decompresses to more than
/// its IDX header declares is an [`Error::Decompresses`].
pub fn maybe_gunzip(bytes: Vec<u8>) -> Result<Vec<u8>> {
    if !is_gzip(&bytes) {
        return Ok(bytes);
    }
    gunzip_bounded(&bytes[..], MAX_FILE_BYTES, true)
}

/// Errors unless `len` bytes can be a CIFAR-10 batch: a positive multiple of 3073 (one
/// label byte and 3072 pixels per record), at most [`CIFAR_BATCH_RECORDS`] records. Checked
/// on a file's size before it is read.
pub fn check_cifar_len(len: u64) -> Result<()> {
    let max = CIFAR_BATCH_RECORDS * CIFAR_RECORD as u64;
    if len > max {
        return Err(Error::FileTooLarge {
            file: MEMORY.to_string(),
            what: "is",
            size: len,
            max,
            limit: "of a CIFAR-10 batch (10000 records of 3073 bytes)",
        });
    }
    if len == 0 {
        return Err(Error::EmptyFile {
            file: MEMORY.to_string(),
        });
    }
    if !len.is_multiple_of(CIFAR_RECORD as u64) {
        return Err(Error::CifarSize {
            file: MEMORY.to_string(),
            len: len as usize,
        });
    }
    Ok(())
}

fn be_u32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// The content of an IDX image file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdxImages {
    /// Number of images.
    pub count: usize,
    /// Rows per image.
    pub rows: usize,
    /// Columns per image.
    pub cols: usize,
    /// `count * rows * cols` bytes, image after image, each row-major.
    pub pixels: Vec<u8>,
}

fn check_body(len: usize, header: usize, count: u32, item: u64, what: &'static str) -> Result<()> {
    // u32 * (u32 * u32) may overflow u64: use u128.
    let expected = count as u128 * item as u128;
    let actual = (len - header) as u128;
    if expected != actual {
        return Err(Error::BodySize {
            file: MEMORY.to_string(),
            what,
            count,
            expected: expected.min(u64::MAX as u128) as u64,
            actual: actual as u64,
            hint: if actual < expected {
                "truncated file"
            } else {
                "trailing bytes"
            },
        });
    }
    Ok(())
}

/// Parse an uncompressed IDX image file (magic `0x00000803`, then big-endian u32 count,
/// rows, cols, then the pixels). Checks the magic, that rows and cols are positive and
/// that the body is exactly `count * rows * cols` bytes.
///
/// ```
/// use imbalance_datasets::parse_idx_images;
/// let mut bytes = vec![0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 1, 0, 0, 0, 2];
/// bytes.extend_from_slice(&[10, 20, 30, 40]);
/// let images = parse_idx_images(&bytes)?;
/// assert_eq!((images.count, images.rows, images.cols), (2, 1, 2));
/// assert_eq!(images.pixels, [10, 20, 30, 40]);
/// assert!(parse_idx_images(&bytes[..18]).is_err()); // truncated body
/// # Ok::<(), imbalance_datasets::Error>(())
/// ```
pub fn parse_idx_images(bytes: &[u8]) -> Result<IdxImages> {
    const HEADER: usize = 16;
    if bytes.is_empty() {
        return Err(Error::EmptyFile {
            file: MEMORY.to_string(),
        });
    }
    if bytes.len() < 4 || (bytes.len() < HEADER && be_u32(bytes, 0) == IDX_IMAGES_MAGIC) {
        return Err(Error::TruncatedHeader {
            file: MEMORY.to_string(),
            len: bytes.len(),
            need: HEADER,
            what: "IDX images",
        });
    }
    let magic = be_u32(bytes, 0);
    if magic != IDX_IMAGES_MAGIC {
        return Err(Error::BadMagic {
            file: MEMORY.to_string(),
            found: magic,
            expected: IDX_IMAGES_MAGIC,
            what: "images",
        });
    }
    let count = be_u32(bytes, 4);
    let rows = be_u32(bytes, 8);
    let cols = be_u32(bytes, 12);
    if rows == 0 || cols == 0 {
        return Err(Error::BadImageSize {
            file: MEMORY.to_string(),
            rows,
            cols,
            expected_rows: rows.max(1),
            expected_cols: cols.max(1),
        });
    }
    check_body(
        bytes.len(),
        HEADER,
        count,
        rows as u64 * cols as u64,
        "images",
    )?;
    Ok(IdxImages {
        count: count as usize,
        rows: rows as usize,
        cols: cols as usize,
        pixels: bytes[HEADER..].to_vec(),
    })
}

/// Parse an uncompressed IDX label file (magic `0x00000801`, big-endian u32 count, then
/// one byte per label). Checks the magic, the body length and that every label is in
/// `0..10`.
///
/// ```
/// use imbalance_datasets::parse_idx_labels;
/// let bytes = [0, 0, 8, 1, 0, 0, 0, 3, 7, 0, 9];
/// assert_eq!(parse_idx_labels(&bytes)?, vec![7, 0, 9]);
/// let bad = [0, 0, 8, 1, 0, 0, 0, 1, 10];
/// assert!(parse_idx_labels(&bad).unwrap_err().to_string().contains("label 10"));
/// # Ok::<(), imbalance_datasets::Error>(())
/// ```
pub fn parse_idx_labels(bytes: &[u8]) -> Result<Vec<u8>> {
    const HEADER: usize = 8;
    if bytes.is_empty() {
        return Err(Error::EmptyFile {
            file: MEMORY.to_string(),
        });
    }
    if bytes.len() < 4 || (bytes.len() < HEADER && be_u32(bytes, 0) == IDX_LABELS_MAGIC) {
        return Err(Error::TruncatedHeader {
            file: MEMORY.to_string(),
            len: bytes.len(),
            need: HEADER,
            what: "IDX labels",
        });
    }
    let magic = be_u32(bytes, 0);
    if magic != IDX_LABELS_MAGIC {
        return Err(Error::BadMagic {
            file: MEMORY.to_string(),
            found: magic,
            expected: IDX_LABELS_MAGIC,
            what: "labels",
        });
    }
    let count = be_u32(bytes, 4);
    check_body(bytes.len(), HEADER, count, 1, "labels")?;
    let labels = &bytes[HEADER..];
    check_labels(labels.iter().copied())?;
    Ok(labels.to_vec())
}

fn check_labels(labels: impl Iterator<Item = u8>) -> Result<()> {
    for (index, label) in labels.enumerate() {
        if label as usize >= NUM_CLASSES {
            return Err(Error::LabelOutOfRange {
                file: MEMORY.to_string(),
                index,
                label,
                classes: NUM_CLASSES,
            });
        }
    }
    Ok(())
}

/// The content of one CIFAR-10 binary batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CifarBatch {
    /// One label per image, in `0..10`.
    pub labels: Vec<u8>,
    /// `labels.len() * 3072` bytes; per image 1024 red, 1024 green, 1024 blue, each
    /// plane row-major 32 x 32.
    pub pixels: Vec<u8>,
}

/// Parse a CIFAR-10 binary batch: records of 1 label byte and 3072 pixel bytes. The
/// length must be a positive multiple of 3073 and every label in `0..10`.
///
/// ```
/// use imbalance_datasets::parse_cifar_batch;
/// let mut bytes = vec![3u8];
/// bytes.extend(std::iter::repeat(128u8).take(3072));
/// let batch = parse_cifar_batch(&bytes)?;
/// assert_eq!(batch.labels, [3]);
/// assert!(parse_cifar_batch(&bytes[..3000]).is_err());
/// # Ok::<(), imbalance_datasets::Error>(())
/// ```
pub fn parse_cifar_batch(bytes: &[u8]) -> Result<CifarBatch> {
    if bytes.is_empty() {
        return Err(Error::EmptyFile {
            file: MEMORY.to_string(),
        });
    }
    if !bytes.len().is_multiple_of(CIFAR_RECORD) {
        return Err(Error::CifarSize {
            file: MEMORY.to_string(),
            len: bytes.len(),
        });
    }
    let n = bytes.len() / CIFAR_RECORD;
    let mut labels = Vec::with_capacity(n);
    let mut pixels = Vec::with_capacity(n * CIFAR_PIXELS);
    for record in bytes.chunks_exact(CIFAR_RECORD) {
        labels.push(record[0]);
        pixels.extend_from_slice(&record[1..]);
    }
    check_labels(labels.iter().copied())?;
    Ok(CifarBatch { labels, pixels })
}

/// Parse `batches.meta.txt`: the class names, one per line; blank lines are ignored.
/// Exactly 10 names are required.
pub fn parse_class_names(bytes: &[u8]) -> Result<Vec<String>> {
    let text = String::from_utf8_lossy(bytes);
    let names: Vec<String> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect();
    if names.len() != NUM_CLASSES {
        return Err(Error::BadClassNames {
            file: MEMORY.to_string(),
            found: names.len(),
            expected: NUM_CLASSES,
        });
    }
    Ok(names)
}

/// Build an uncompressed IDX image file (header + pixels). Useful for tests and examples.
///
/// Panics if `pixels.len() != count * rows * cols` (a programming error).
pub fn encode_idx_images(count: u32, rows: u32, cols: u32, pixels: &[u8]) -> Vec<u8> {
    assert_eq!(
        pixels.len() as u64,
        count as u64 * rows as u64 * cols as u64,
        "pixel buffer does not match count x rows x cols"
    );
    let mut out = Vec::with_capacity(16 + pixels.len());
    for v in [IDX_IMAGES_MAGIC, count, rows, cols] {
        out.extend_from_slice(&v.to_be_bytes());
    }
    out.extend_from_slice(pixels);
    out
}

/// Build an uncompressed IDX label file (header + labels). Useful for tests and examples.
pub fn encode_idx_labels(labels: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(8 + labels.len());
    out.extend_from_slice(&IDX_LABELS_MAGIC.to_be_bytes());
    out.extend_from_slice(&(labels.len() as u32).to_be_bytes());
    out.extend_from_slice(labels);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn gzip(bytes: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(bytes).unwrap();
        e.finish().unwrap()
    }

    #[test]
    fn gunzip_round_trip_and_passthrough() {
        let raw = encode_idx_labels(&[1, 2, 3]);
        assert_eq!(maybe_gunzip(gzip(&raw)).unwrap(), raw);
        assert_eq!(maybe_gunzip(raw.clone()).unwrap(), raw);
    }

    #[test]
    fn gunzip_truncated_is_error() {
        let raw: Vec<u8> = (0..100_000u32).map(|i| (i * 7 % 251) as u8).collect();
        let gz = gzip(&raw);
        for cut in [3, 10, gz.len() / 2, gz.len() - 4, gz.len() - 1] {
            let err = maybe_gunzip(gz[..cut].to_vec()).unwrap_err();
            assert!(matches!(err, Error::Gzip { .. }), "cut {cut}: {err}");
        }
    }

    #[test]
    fn gunzip_corrupt_body_is_error() {
        let raw: Vec<u8> = (0..100_000u32).map(|i| (i * 13 % 256) as u8).collect();
        let mut gz = gzip(&raw);
        let mid = gz.len() / 2;
        gz[mid] ^= 0xff;
        gz[mid + 1] ^= 0x55;
        assert!(maybe_gunzip(gz).is_err());
    }

    #[test]
    fn idx_header_errors() {
        assert!(matches!(
            parse_idx_images(&[]),
            Err(Error::EmptyFile { .. })
        ));
        assert!(matches!(
            parse_idx_images(&[0, 0, 8, 3, 0, 0]),
            Err(Error::TruncatedHeader { .. })
        ));
        let labels = encode_idx_labels(&[1]);
        match parse_idx_images(&labels) {
            Err(Error::BadMagic {
                found, expected, ..
            }) => {
                assert_eq!(found, IDX_LABELS_MAGIC);
                assert_eq!(expected, IDX_IMAGES_MAGIC);
            }
            other => panic!("{other:?}"),
        }
        let zero = encode_idx_images(0, 0, 5, &[]);
        assert!(matches!(
            parse_idx_images(&zero),
            Err(Error::BadImageSize { .. })
        ));
    }

    #[test]
    fn idx_huge_header_does_not_overflow() {
        let bytes = [
            0, 0, 8, 3, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
        ];
        match parse_idx_images(&bytes) {
            Err(Error::BodySize { hint, .. }) => assert_eq!(hint, "truncated file"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn idx_trailing_bytes() {
        let mut bytes = encode_idx_labels(&[1, 2]);
        bytes.push(0);
        match parse_idx_labels(&bytes) {
            Err(Error::BodySize { hint, .. }) => assert_eq!(hint, "trailing bytes"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn cifar_errors() {
        assert!(matches!(
            parse_cifar_batch(&[]),
            Err(Error::EmptyFile { .. })
        ));
        assert!(matches!(
            parse_cifar_batch(&[0u8; 3072]),
            Err(Error::CifarSize { len: 3072, .. })
        ));
        let mut two = vec![0u8; 2 * CIFAR_RECORD];
        two[CIFAR_RECORD] = 10;
        match parse_cifar_batch(&two) {
            Err(Error::LabelOutOfRange { index, label, .. }) => assert_eq!((index, label), (1, 10)),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn cifar_layout() {
        let mut bytes = vec![0u8; 2 * CIFAR_RECORD];
        bytes[0] = 4;
        bytes[1] = 11;
        bytes[CIFAR_RECORD] = 9;
        bytes[CIFAR_RECORD + 3072] = 22;
        let b = parse_cifar_batch(&bytes).unwrap();
        assert_eq!(b.labels, [4, 9]);
        assert_eq!(b.pixels.len(), 2 * 3072);
        assert_eq!(b.pixels[0], 11);
        assert_eq!(b.pixels[2 * 3072 - 1], 22);
    }

    #[test]
    fn class_names() {
        let text = b"airplane\nautomobile\nbird\ncat\ndeer\ndog\nfrog\nhorse\nship\ntruck\n\n";
        assert_eq!(parse_class_names(text).unwrap()[9], "truck");
        assert!(matches!(
            parse_class_names(b"a\nb\n"),
            Err(Error::BadClassNames { found: 2, .. })
        ));
    }
}
