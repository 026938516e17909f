//! Imbalanced subsampling of a labelled pool, minority-class choice, and preprocessing.

use rand::{Rng, RngExt};

use crate::dataset::{Dataset, Split};
use crate::error::{Error, Result};

/// Draw, for every class `c`, `counts[c]` distinct indices of samples with label `c`,
/// uniformly without replacement. The result is grouped by class (class 0 first) and
/// ascending within a class, so it depends only on the rng stream, not on hash order.
///
/// Errors: a label `>= counts.len()` ([`Error::LabelBeyondCounts`]), or a class with fewer
/// samples than asked ([`Error::NotEnoughSamples`]).
///
/// ```
/// use imbalance_datasets::subsample;
/// use rand::SeedableRng;
/// let labels = [0, 1, 0, 1, 1, 0, 1];
/// let mut rng = rand_pcg::Pcg64::seed_from_u64(1);
/// let idx = subsample(&labels, &[1, 3], &mut rng)?;
/// assert_eq!(idx.len(), 4);
/// assert_eq!(labels[idx[0]], 0);
/// assert!(idx[1..].iter().all(|&i| labels[i] == 1));
/// assert!(subsample(&labels, &[4, 0], &mut rng).is_err()); // only 3 of class 0
/// # Ok::<(), imbalance_datasets::Error>(())
/// ```
pub fn subsample<R: Rng + ?Sized>(
    labels: &[usize],
    counts: &[usize],
    rng: &mut R,
) -> Result<Vec<usize>> {
    let k = counts.len();
    let mut by_class: Vec<Vec<usize>> = vec![Vec::new(); k];
    for (i, &l) in labels.iter().enumerate() {
        if l >= k {
            return Err(Error::LabelBeyondCounts {
                label: l,
                index: i,
                k,
            });
        }
        by_class[l].push(i);
    }
    for (c, pool) in by_class.iter().enumerate() {
        if pool.len() < counts[c] {
            return Err(Error::NotEnoughSamples {
                class: c,
                available: pool.len(),
                requested: counts[c],
            });
        }
    }
    let mut out = Vec::with_capacity(counts.iter().sum());
    for (c, mut pool) in by_class.into_iter().enumerate() {
        // partial Fisher-Yates: the first counts[c] entries become a uniform sample
        let m = counts[c];
        for j in 0..m {
            let r = rng.random_range(j..pool.len());
            pool.swap(j, r);
        }
        let mut chosen = pool[..m].to_vec();
        chosen.sort_unstable();
        out.extend(chosen);
    }
    Ok(out)
}

/// How to pick the minority classes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MinorityChoice {
    /// These classes (any order; duplicates are an error).
    Given(Vec<usize>),
    /// The last `m` classes: `K-m .. K`.
    Last(usize),
    /// `m` classes chosen uniformly at random.
    Random(usize),
}

/// The minority classes among `k`, sorted ascending. At least one class must stay a
/// majority class; an empty set (balanced) is allowed.
///
/// ```
/// use imbalance_datasets::{choose_minority, MinorityChoice};
/// use rand::SeedableRng;
/// let mut rng = rand_pcg::Pcg64::seed_from_u64(3);
/// assert_eq!(choose_minority(10, &MinorityChoice::Last(3), &mut rng)?, vec![7, 8, 9]);
/// let r = choose_minority(10, &MinorityChoice::Random(5), &mut rng)?;
/// assert_eq!(r.len(), 5);
/// assert!(choose_minority(10, &MinorityChoice::Given(vec![2, 10]), &mut rng).is_err());
/// # Ok::<(), imbalance_datasets::Error>(())
/// ```
pub fn choose_minority<R: Rng + ?Sized>(
    k: usize,
    choice: &MinorityChoice,
    rng: &mut R,
) -> Result<Vec<usize>> {
    let too_many = |m: usize| Error::BadMinority {
        problem: "at least one class must remain a majority class",
        k,
        value: m,
    };
    let mut out = match choice {
        MinorityChoice::Given(v) => {
            let mut seen = vec![false; k];
            for &c in v {
                if c >= k {
                    return Err(Error::BadMinority {
                        problem: "class index out of range",
                        k,
                        value: c,
                    });
                }
                if seen[c] {
                    return Err(Error::BadMinority {
                        problem: "class listed twice",
                        k,
                        value: c,
                    });
                }
                seen[c] = true;
            }
            if v.len() >= k {
                return Err(too_many(v.len()));
            }
            v.clone()
        }
        &MinorityChoice::Last(m) => {
            if m >= k {
                return Err(too_many(m));
            }
            (k - m..k).collect()
        }
        &MinorityChoice::Random(m) => {
            if m >= k {
                return Err(too_many(m));
            }
            let mut all: Vec<usize> = (0..k).collect();
            for j in 0..m {
                let r = rng.random_range(j..k);
                all.swap(j, r);
            }
            all.truncate(m);
            all
        }
    };
    out.sort_unstable();
    Ok(out)
}

/// Per-class counts of a step profile: `n_minor` for the minority classes, `n_major` for
/// the others. Panics if a minority class is `>= k` (validate with [`choose_minority`]).
pub fn step_counts(k: usize, minority: &[usize], n_major: usize, n_minor: usize) -> Vec<usize> {
    let mut counts = vec![n_major; k];
    for &c in minority {
        counts[c] = n_minor;
    }
    counts
}

/// Rows ready for a model: pixels scaled to [0, 1] and centred by the training-pool mean.
#[derive(Debug, Clone)]
pub struct Preprocessed {
    /// Input dimension d.
    pub dim: usize,
    /// Selected training rows, row-major `train_labels.len() x dim`.
    pub train: Vec<f64>,
    /// Their labels.
    pub train_labels: Vec<usize>,
    /// Selected test rows, row-major `test_labels.len() x dim`.
    pub test: Vec<f64>,
    /// Their labels.
    pub test_labels: Vec<usize>,
    /// The centring vector: mean of ALL training images (not only the selected ones), in
    /// [0, 1] units. Subtract it from any further row before using the same model.
    pub mean: Vec<f64>,
}

/// Scale the selected training and test rows to [0, 1] and subtract the mean of ALL
/// training images (the pool, not the subsample, so the centring does not depend on the
/// imbalance). The mean is returned so other rows can be centred identically.
pub fn preprocess(ds: &Dataset, train_rows: &[usize], test_rows: &[usize]) -> Result<Preprocessed> {
    let d = ds.dim();
    let mean = ds.train_mean();
    let mut train = ds.rows_f64(Split::Train, train_rows)?;
    centre(&mut train, &mean);
    let mut test = ds.rows_f64(Split::Test, test_rows)?;
    centre(&mut test, &mean);
    let tl = ds.raw_labels(Split::Train);
    let sl = ds.raw_labels(Split::Test);
    Ok(Preprocessed {
        dim: d,
        train,
        train_labels: train_rows.iter().map(|&i| tl[i] as usize).collect(),
        test,
        test_labels: test_rows.iter().map(|&i| sl[i] as usize).collect(),
        mean,
    })
}

/// Mean of the images in `pixels` (`dim` bytes each), scaled to [0, 1] (length `dim`).
pub(crate) fn pixel_mean(pixels: &[u8], dim: usize) -> Vec<f64> {
    let mut sums = vec![0u64; dim];
    let mut n = 0usize;
    for img in pixels.chunks_exact(dim.max(1)) {
        for (s, &b) in sums.iter_mut().zip(img) {
            *s += b as u64;
        }
        n += 1;
    }
    let scale = 1.0 / (255.0 * n.max(1) as f64);
    sums.into_iter().map(|s| s as f64 * scale).collect()
}

/// Subtracts `mean` from each row (of `mean.len()` entries) of the row-major `rows`.
pub(crate) fn centre(rows: &mut [f64], mean: &[f64]) {
    for row in rows.chunks_exact_mut(mean.len().max(1)) {
        for (x, m) in row.iter_mut().zip(mean) {
            *x -= m;
        }
    }
}

/// Every image of `pixels` scaled to [0, 1] and centred by `mean`, row-major.
pub(crate) fn centred_rows(pixels: &[u8], mean: &[f64]) -> Vec<f64> {
    let mut rows: Vec<f64> = pixels.iter().map(|&b| b as f64 / 255.0).collect();
    centre(&mut rows, mean);
    rows
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_pcg::Pcg64;

    #[test]
    fn subsample_counts_and_order() {
        let labels: Vec<usize> = (0..1000).map(|i| (i * 7) % 3).collect();
        let mut rng = Pcg64::seed_from_u64(5);
        let idx = subsample(&labels, &[50, 5, 0], &mut rng).unwrap();
        assert_eq!(idx.len(), 55);
        assert!(idx[..50].iter().all(|&i| labels[i] == 0));
        assert!(idx[50..].iter().all(|&i| labels[i] == 1));
        assert!(idx[..50].windows(2).all(|w| w[0] < w[1]));
        // deterministic for a seed
        let mut rng2 = Pcg64::seed_from_u64(5);
        assert_eq!(subsample(&labels, &[50, 5, 0], &mut rng2).unwrap(), idx);
    }

    #[test]
    fn subsample_is_uniform() {
        // 20 items of class 0, draw 5, 4000 times: each item is drawn with probability
        // 1/4, so its count is Binomial(4000, 1/4): mean 1000, sd sqrt(4000*3/16) = 27.4.
        // Allow 5 sd = 137 for each of the 20 items.
        let labels = vec![0usize; 20];
        let mut rng = Pcg64::seed_from_u64(11);
        let mut hits = [0usize; 20];
        for _ in 0..4000 {
            for i in subsample(&labels, &[5], &mut rng).unwrap() {
                hits[i] += 1;
            }
        }
        for h in hits {
            assert!((h as f64 - 1000.0).abs() < 137.0, "{hits:?}");
        }
    }

    #[test]
    fn subsample_errors() {
        let mut rng = Pcg64::seed_from_u64(1);
        assert!(matches!(
            subsample(&[0, 1, 2], &[1, 1], &mut rng),
            Err(Error::LabelBeyondCounts {
                label: 2,
                index: 2,
                k: 2
            })
        ));
        assert!(matches!(
            subsample(&[0, 1, 1], &[1, 3], &mut rng),
            Err(Error::NotEnoughSamples {
                class: 1,
                available: 2,
                requested: 3
            })
        ));
    }

    #[test]
    fn minority_choices() {
        let mut rng = Pcg64::seed_from_u64(2);
        assert_eq!(
            choose_minority(5, &MinorityChoice::Given(vec![4, 1]), &mut rng).unwrap(),
            vec![1, 4]
        );
        assert!(choose_minority(5, &MinorityChoice::Given(vec![1, 1]), &mut rng).is_err());
        assert!(choose_minority(3, &MinorityChoice::Given(vec![0, 1, 2]), &mut rng).is_err());
        assert!(choose_minority(3, &MinorityChoice::Last(3), &mut rng).is_err());
        assert!(choose_minority(3, &MinorityChoice::Random(3), &mut rng).is_err());
        assert_eq!(
            choose_minority(3, &MinorityChoice::Last(0), &mut rng).unwrap(),
            Vec::<usize>::new()
        );
        let r = choose_minority(10, &MinorityChoice::Random(4), &mut rng).unwrap();
        assert_eq!(r.len(), 4);
        assert!(r.windows(2).all(|w| w[0] < w[1]) && r[3] < 10);
        assert_eq!(step_counts(4, &[1, 3], 100, 10), vec![100, 10, 100, 10]);
    }

    #[test]
    fn preprocess_centres_with_pool_mean() {
        use crate::format::{encode_idx_images, encode_idx_labels};
        let px: Vec<u8> = (0..4 * 784).map(|i| ((i * 31) % 256) as u8).collect();
        let ds = Dataset::from_idx_bytes(
            crate::DatasetName::Mnist,
            &encode_idx_images(4, 28, 28, &px),
            &encode_idx_labels(&[0, 1, 2, 3]),
            &encode_idx_images(1, 28, 28, &px[..784]),
            &encode_idx_labels(&[5]),
        )
        .unwrap();
        let p = preprocess(&ds, &[1, 3], &[0]).unwrap();
        assert_eq!(p.train_labels, vec![1, 3]);
        assert_eq!(p.test_labels, vec![5]);
        // mean over the 4 pool images, not the 2 selected
        let j = 10;
        let m = (0..4)
            .map(|i| ((i * 784 + j) * 31 % 256) as f64)
            .sum::<f64>()
            / 4.0
            / 255.0;
        assert!((p.mean[j] - m).abs() < 1e-14);
        let x = ((784 + j) * 31 % 256) as f64 / 255.0 - m;
        assert!((p.train[j] - x).abs() < 1e-14);
        let t = ((j * 31) % 256) as f64 / 255.0 - m;
        assert!((p.test[j] - t).abs() < 1e-14);
        assert!(preprocess(&ds, &[4], &[]).is_err());
    }
}
