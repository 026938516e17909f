//! Fallible allocation of the large buffers (cargo feature `faer`): the Gram matrices, the
//! explicit samples, the feature chunks and the test kernel rows. Callers check the size of
//! a run before it starts (`imbalance_pipeline::cost`); these turn a request the allocator
//! still refuses (a limit set too high, memory taken meanwhile) into an error instead of an
//! abort.

use faer::Mat;

/// The allocator refused a large buffer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot allocate the {what} ({rows} x {cols} numbers, {bytes} bytes): not enough memory")]
pub struct AllocError {
    /// What the buffer is (e.g. "Gram matrix").
    pub what: &'static str,
    /// Rows.
    pub rows: usize,
    /// Columns (1 for a vector).
    pub cols: usize,
    /// Bytes asked for (saturated at `u128::MAX`, which cannot happen for two usize factors).
    pub bytes: u128,
}

fn error(what: &'static str, rows: usize, cols: usize) -> AllocError {
    AllocError {
        what,
        rows,
        cols,
        bytes: rows as u128 * cols as u128 * 8,
    }
}

/// A `rows x cols` matrix of zeros, or [`AllocError`] if it cannot be allocated.
///
/// ```
/// let m = imbalance_core::alloc::try_zeros(3, 2, "test matrix").unwrap();
/// assert_eq!((m.nrows(), m.ncols(), m[(2, 1)]), (3, 2, 0.0));
/// let e = imbalance_core::alloc::try_zeros(usize::MAX / 2, 4, "Gram matrix").unwrap_err();
/// assert!(e.to_string().starts_with("cannot allocate the Gram matrix"));
/// ```
pub fn try_zeros(rows: usize, cols: usize, what: &'static str) -> Result<Mat<f64>, AllocError> {
    let mut m = Mat::<f64>::new();
    m.try_reserve(rows, cols)
        .map_err(|_| error(what, rows, cols))?;
    // Within the reserved capacity: no further allocation.
    m.resize_with(rows, cols, |_, _| 0.0);
    Ok(m)
}

/// A vector of `len` zeros, or [`AllocError`] if it cannot be allocated.
pub fn try_zeroed(len: usize, what: &'static str) -> Result<Vec<f64>, AllocError> {
    let mut v = Vec::new();
    v.try_reserve_exact(len).map_err(|_| error(what, len, 1))?;
    v.resize(len, 0.0);
    Ok(v)
}
