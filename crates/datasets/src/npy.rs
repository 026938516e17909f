//! Feature matrices and labels a user extracted themselves, from NumPy `.npy` files: a 2-D
//! C-order array of `f32` or `f64` per split for the features, a 1-D array of any integer
//! dtype for the labels. Every file is checked before its data is read (the header's shape
//! and dtype against the file's length), and every problem is one line naming the file.
//!
//! The `.npy` format is parsed by the `npyz` crate; this module adds the checks that make a
//! hostile or damaged file an error rather than a huge allocation or a panic.

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;

use npyz::{DType, NpyFile, NpyHeader, Order, TypeChar, TypeStr};

use crate::error::{Error, Result};

/// Longest header accepted (NumPy writes ~128 bytes); a longer one is not a NumPy file.
const MAX_HEADER: usize = 1 << 16;

/// The feature matrices and labels of a training pool and a test set, validated: same
/// feature dimension, finite values, labels in `0..num_classes` with every class present in
/// the pool.
#[derive(Debug, Clone, PartialEq)]
pub struct FeatureSet {
    /// Feature dimension d (columns).
    pub dim: usize,
    /// Number of classes K: one more than the largest training label.
    pub num_classes: usize,
    /// Training-pool features, row-major `train_labels.len() x dim`.
    pub train: Vec<f64>,
    /// Labels of the training pool.
    pub train_labels: Vec<usize>,
    /// Test features, row-major `test_labels.len() x dim`.
    pub test: Vec<f64>,
    /// Labels of the test set.
    pub test_labels: Vec<usize>,
    /// The four file names, for messages: train features, train labels, test features, test
    /// labels.
    pub files: [String; 4],
}

impl FeatureSet {
    /// Validates in-memory features and labels (`files` names them in errors): the row
    /// counts match the labels, both splits have `dim` columns, the pool holds every class
    /// `0..K` (K = largest training label + 1) and every test label is below K. Values were
    /// checked finite when read.
    pub fn new(
        dim: usize,
        train: Vec<f64>,
        train_labels: Vec<usize>,
        test: Vec<f64>,
        test_labels: Vec<usize>,
        files: [String; 4],
    ) -> Result<Self> {
        let bad = |i: usize, problem: String| Error::Npy {
            file: files[i].clone(),
            problem,
        };
        for (f, l, x) in [(0, 1, &train), (2, 3, &test)] {
            let rows = x.len() / dim.max(1);
            let labels = if f == 0 { &train_labels } else { &test_labels };
            if labels.len() != rows {
                return Err(bad(
                    l,
                    format!(
                        "holds {} labels, but the features {} have {rows} rows",
                        labels.len(),
                        files[f]
                    ),
                ));
            }
        }
        // Every class 0..K-1 must be present, so K <= n: a larger label is an error before
        // anything of size K is allocated.
        let n = train_labels.len();
        if let Some((i, &l)) = train_labels.iter().enumerate().find(|&(_, &l)| l >= n) {
            return Err(bad(
                1,
                format!(
                    "label {l} at index {i} is out of range: with {n} training rows the classes can only be 0..{}, each present",
                    n.saturating_sub(1)
                ),
            ));
        }
        let k = train_labels.iter().max().map_or(0, |&m| m + 1);
        let mut seen = vec![false; k];
        for &l in &train_labels {
            seen[l] = true;
        }
        if let Some(c) = seen.iter().position(|&s| !s) {
            return Err(bad(
                1,
                format!(
                    "no training row has label {c}, but labels go up to {}: labels must be the classes 0..K-1, each present",
                    k - 1
                ),
            ));
        }
        if k < 2 {
            return Err(bad(1, "needs at least 2 classes".into()));
        }
        if let Some((i, &l)) = test_labels.iter().enumerate().find(|&(_, &l)| l >= k) {
            return Err(bad(
                3,
                format!(
                    "label {l} at index {i} is not a class of the training labels 0..{}",
                    k - 1
                ),
            ));
        }
        // Each class's test error is measured, so each class needs a test row.
        let mut seen = vec![false; k];
        for &l in &test_labels {
            seen[l] = true;
        }
        if let Some(c) = seen.iter().position(|&s| !s) {
            return Err(bad(
                3,
                format!(
                    "no test row has label {c}: every class 0..{} needs test rows, to measure its error",
                    k - 1
                ),
            ));
        }
        Ok(Self {
            dim,
            num_classes: k,
            train,
            train_labels,
            test,
            test_labels,
            files,
        })
    }

    /// Rows in the training pool.
    pub fn n_train(&self) -> usize {
        self.train_labels.len()
    }

    /// Rows in the test set.
    pub fn n_test(&self) -> usize {
        self.test_labels.len()
    }

    /// Training rows per class.
    pub fn class_counts(&self) -> Vec<usize> {
        let mut c = vec![0; self.num_classes];
        for &l in &self.train_labels {
            c[l] += 1;
        }
        c
    }
}

/// Reads and validates the four `.npy` files of [`FeatureSet`]: train features, train labels,
/// test features, test labels.
pub fn load_features(
    train: &Path,
    train_labels: &Path,
    test: &Path,
    test_labels: &Path,
) -> Result<FeatureSet> {
    let (n, d, x) = read_npy_matrix(train)?;
    let y = read_npy_labels(train_labels)?;
    let (nt, dt, xt) = read_npy_matrix(test)?;
    let yt = read_npy_labels(test_labels)?;
    let name = |p: &Path| p.display().to_string();
    if dt != d {
        return Err(Error::Npy {
            file: name(test),
            problem: format!(
                "has {dt} feature columns, but the training features {} have {d}",
                name(train)
            ),
        });
    }
    debug_assert_eq!((x.len(), xt.len()), (n * d, nt * d));
    FeatureSet::new(
        d,
        x,
        y,
        xt,
        yt,
        [
            name(train),
            name(train_labels),
            name(test),
            name(test_labels),
        ],
    )
}

/// An opened `.npy` file whose header has been checked against the file's length.
struct Checked {
    header: NpyHeader,
    reader: BufReader<File>,
    shape: Vec<usize>,
    ty: TypeStr,
}

fn npy_err(path: &Path, problem: impl Into<String>) -> Error {
    Error::Npy {
        file: path.display().to_string(),
        problem: problem.into(),
    }
}

/// Opens `path`, parses its header and checks that the data the header announces is exactly
/// what the file holds (before anything is allocated for it).
fn open_checked(path: &Path) -> Result<Checked> {
    let io = |source| Error::Io {
        path: path.to_path_buf(),
        source,
    };
    let file = File::open(path).map_err(io)?;
    let len = file.metadata().map_err(io)?.len();
    let mut reader = BufReader::new(file);
    let bad = |p: String| npy_err(path, p);
    let mut pre = [0u8; 10];
    if len < 10 {
        return Err(bad(format!(
            "{len} bytes is too short for a .npy header (truncated file?)"
        )));
    }
    reader.read_exact(&mut pre).map_err(io)?;
    if &pre[..6] != b"\x93NUMPY" {
        return Err(bad(
            "no .npy magic bytes: not a NumPy .npy file (save it with numpy.save)".into(),
        ));
    }
    // Version 1 has a 2-byte header length, versions 2 and 3 a 4-byte one.
    let mut whole = pre.to_vec();
    let header_len = match pre[6] {
        1 => u16::from_le_bytes([pre[8], pre[9]]) as usize,
        2 | 3 => {
            let mut rest = [0u8; 2];
            if len < 12 {
                return Err(bad("truncated .npy header".into()));
            }
            reader.read_exact(&mut rest).map_err(io)?;
            whole.extend_from_slice(&rest);
            u32::from_le_bytes([pre[8], pre[9], rest[0], rest[1]]) as usize
        }
        v => return Err(bad(format!("unsupported .npy format version {v}"))),
    };
    if header_len > MAX_HEADER {
        return Err(bad(format!(
            "header of {header_len} bytes is implausibly long for a .npy file"
        )));
    }
    let data_start = (whole.len() + header_len) as u64;
    if data_start > len {
        return Err(bad(format!(
            "{len} bytes is shorter than its {data_start}-byte header (truncated file?)"
        )));
    }
    let mut text = vec![0u8; header_len];
    reader.read_exact(&mut text).map_err(io)?;
    // The shape is checked here, with overflow-checked arithmetic, before npyz sees it.
    let shape = scan_shape(&text).map_err(bad)?;
    whole.extend_from_slice(&text);
    let header = NpyHeader::from_reader(&whole[..])
        .map_err(|e| bad(format!("cannot parse the .npy header: {e}")))?;
    let ty = match header.dtype() {
        DType::Plain(t) => t,
        other => {
            return Err(bad(format!(
                "dtype {} is a structured or array dtype; need a plain numeric array",
                other.descr()
            )));
        }
    };
    let item = ty.num_bytes().unwrap_or(0) as u64;
    let elements = shape
        .iter()
        .try_fold(1u64, |acc, &s| acc.checked_mul(s as u64));
    let want = elements.and_then(|e| e.checked_mul(item));
    let have = len - data_start;
    match want {
        Some(w) if w == have => {}
        Some(w) if w > have => {
            return Err(bad(format!(
                "shape {shape:?} needs {w} bytes of data, the file has {have} (truncated file?)"
            )));
        }
        Some(w) => {
            return Err(bad(format!(
                "shape {shape:?} needs {w} bytes of data, the file has {have} (trailing bytes)"
            )));
        }
        None => {
            return Err(bad(format!(
                "shape {shape:?} is too large to be held in memory"
            )));
        }
    }
    Ok(Checked {
        header,
        reader,
        shape,
        ty,
    })
}

/// The `'shape': (a, b, ...)` entry of a `.npy` header, as NumPy writes it.
fn scan_shape(text: &[u8]) -> std::result::Result<Vec<usize>, String> {
    let text = std::str::from_utf8(text).map_err(|_| "header is not text".to_string())?;
    let no_shape = || "header has no 'shape' tuple".to_string();
    let at = text.find("'shape'").ok_or_else(no_shape)?;
    let rest = &text[at + "'shape'".len()..];
    let rest = rest.trim_start().strip_prefix(':').ok_or_else(no_shape)?;
    let rest = rest.trim_start().strip_prefix('(').ok_or_else(no_shape)?;
    let inner = &rest[..rest.find(')').ok_or_else(no_shape)?];
    inner
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.trim_end_matches('L')
                .parse::<usize>()
                .map_err(|_| format!("shape entry '{s}' is not a size"))
        })
        .collect()
}

/// Reads a 2-D C-order `f32` or `f64` array: `(rows, cols, row-major values as f64)`.
/// NaN or infinite values, other dtypes and shapes, and Fortran order are errors.
pub fn read_npy_matrix(path: &Path) -> Result<(usize, usize, Vec<f64>)> {
    let c = open_checked(path)?;
    let bad = |p: String| npy_err(path, p);
    let (rows, cols) = match c.shape[..] {
        [r, k] => (r, k),
        _ => {
            return Err(bad(format!(
                "shape {:?} is not 2-D: features must be a (samples, features) matrix",
                c.shape
            )));
        }
    };
    if rows == 0 || cols == 0 {
        return Err(bad(format!("shape {:?} holds no features", c.shape)));
    }
    if c.header.order() == Order::Fortran && rows > 1 && cols > 1 {
        return Err(bad(
            "is in Fortran (column-major) order; save a C-order array (numpy.ascontiguousarray)"
                .into(),
        ));
    }
    let dtype = c.header.dtype();
    let ty = c.ty.clone();
    let values: Vec<f64> = match (ty.type_char(), ty.size_field()) {
        (TypeChar::Float, 4) => read_all::<f32, _>(path, c, |v| v as f64)?,
        (TypeChar::Float, 8) => read_all::<f64, _>(path, c, |v| v)?,
        _ => {
            return Err(bad(format!(
                "dtype '{}' is not float32 or float64",
                dtype.descr()
            )));
        }
    };
    if let Some(i) = values.iter().position(|v| !v.is_finite()) {
        return Err(bad(format!(
            "value {} at row {}, column {} is not finite (NaN or infinite)",
            values[i],
            i / cols,
            i % cols
        )));
    }
    Ok((rows, cols, values))
}

/// Reads a 1-D array of any integer dtype as labels; negative labels are errors.
pub fn read_npy_labels(path: &Path) -> Result<Vec<usize>> {
    let c = open_checked(path)?;
    let bad = |p: String| npy_err(path, p);
    if c.shape.len() != 1 {
        return Err(bad(format!(
            "shape {:?} is not 1-D: labels must be one integer per row (numpy.ravel them)",
            c.shape
        )));
    }
    let dtype = c.header.dtype();
    let ty = c.ty.clone();
    let signed: Vec<i128> = match (ty.type_char(), ty.size_field()) {
        (TypeChar::Int, 1) => read_all::<i8, _>(path, c, i128::from)?,
        (TypeChar::Int, 2) => read_all::<i16, _>(path, c, i128::from)?,
        (TypeChar::Int, 4) => read_all::<i32, _>(path, c, i128::from)?,
        (TypeChar::Int, 8) => read_all::<i64, _>(path, c, i128::from)?,
        (TypeChar::Uint, 1) => read_all::<u8, _>(path, c, i128::from)?,
        (TypeChar::Uint, 2) => read_all::<u16, _>(path, c, i128::from)?,
        (TypeChar::Uint, 4) => read_all::<u32, _>(path, c, i128::from)?,
        (TypeChar::Uint, 8) => read_all::<u64, _>(path, c, i128::from)?,
        _ => {
            return Err(bad(format!(
                "dtype '{}' is not an integer type: labels must be integers (e.g. numpy.int64)",
                dtype.descr()
            )));
        }
    };
    signed
        .into_iter()
        .enumerate()
        .map(|(i, l)| {
            if l < 0 {
                Err(bad(format!("label {l} at index {i} is negative")))
            } else {
                // Bounded by the number of rows later (every class must be present).
                usize::try_from(l).map_err(|_| bad(format!("label {l} at index {i} is too large")))
            }
        })
        .collect()
}

/// Reads every element of a checked file as `T`, converted by `f`.
fn read_all<T: npyz::Deserialize, U>(
    path: &Path,
    c: Checked,
    f: impl Fn(T) -> U,
) -> Result<Vec<U>> {
    let n: usize = c.shape.iter().product();
    let data = NpyFile::with_header(c.header, c.reader)
        .data::<T>()
        .map_err(|e| npy_err(path, format!("cannot read the data: {e}")))?;
    let mut out = Vec::with_capacity(n);
    for v in data {
        let v = v.map_err(|e| npy_err(path, format!("cannot read the data (truncated?): {e}")))?;
        out.push(f(v));
    }
    Ok(out)
}
