//! The size of a run before it starts: the memory its largest buffers take and the work its
//! long loops do, computed from the request alone with checked arithmetic, and checked against
//! a memory limit the caller gives (this crate never reads the machine's figure itself) and
//! against the fixed maxima below.
//!
//! The estimate counts the buffers that grow with the request (Gram matrices, explicit
//! samples, feature chunks, test kernel rows, moment samples, the dual and its integrator
//! stages, the theory's K x K x K and QP arrays); the constant overhead of a process (tens of
//! MB) is not counted. It is an upper estimate: a run that passes may use somewhat less.

use std::fmt;

use imbalance_gradflow::Horizon;

use crate::error::{Error, Result};
use crate::feature_map::FeatureSpec;
use crate::gmm::Sampler;

/// Most multiply-adds one run may take (1e14: about an hour on two cores; the default
/// `train` run takes ~4e11, a 10 000-sample simulation ~1e12).
pub const MAX_WORK: u64 = 100_000_000_000_000;

/// Most test draws of one simulation command: seeds x classes x test samples per class (1e10;
/// each draw costs K^2 multiply-adds, ~1e8 draws per second for K = 2).
pub const MAX_TEST_DRAWS: u64 = 10_000_000_000;

/// Most training sets of one simulation command.
pub const MAX_SEEDS: usize = 1_000_000;

/// Most random features of a feature map (`relu:P` etc.).
pub const MAX_FEATURES: usize = 10_000_000;

/// Features per chunk of the random-feature Gram computation (imbalance_features' MAX_CHUNK).
const FEATURE_CHUNK: u64 = imbalance_features::MAX_CHUNK as u64;

/// Which input of the request makes a buffer or a loop large: what a caller names when it
/// refuses the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Input {
    /// The class counts (number of samples n, number of classes K).
    Counts,
    /// The dimension p of the mixture.
    Dim,
    /// The number of training sets (seeds).
    Seeds,
    /// Test samples per class.
    TestPerClass,
    /// The feature map's width.
    Features,
    /// Moment-sample images per class.
    MomentSamples,
}

impl Input {
    /// The input's name in library terms.
    pub fn as_str(self) -> &'static str {
        match self {
            Input::Counts => "counts",
            Input::Dim => "dim",
            Input::Seeds => "seeds",
            Input::TestPerClass => "test per class",
            Input::Features => "features",
            Input::MomentSamples => "moment samples",
        }
    }
}

/// Where a memory limit comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LimitSource {
    /// The operating system's figure of available memory.
    Available,
    /// Given by the user.
    Given,
}

/// A memory limit in bytes and where it comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemoryLimit {
    /// Bytes.
    pub bytes: u64,
    /// Where the figure comes from.
    pub source: LimitSource,
}

/// One large buffer of a run.
#[derive(Debug, Clone, PartialEq)]
pub struct MemoryItem {
    /// What drives its size (e.g. "200000 samples").
    pub subject: String,
    /// What it is (e.g. "Gram matrix").
    pub noun: &'static str,
    /// Bytes; `None` if the size overflows 64 bits.
    pub bytes: Option<u64>,
    /// The input that makes it large.
    pub input: Input,
}

/// One long loop of a run.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkItem {
    /// What it is, with the sizes that drive it (e.g. "forming 12750 x 2750 feature kernels
    /// over 1000000 features").
    pub what: String,
    /// Operations (multiply-adds or test draws); `None` if it overflows 64 bits.
    pub ops: Option<u64>,
    /// The most operations allowed.
    pub max: u64,
    /// What one operation is ("multiply-adds", "test draws").
    pub unit: &'static str,
    /// The input that makes it long.
    pub input: Input,
}

/// The estimated size of a run.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Estimate {
    /// The large buffers (the run holds them at the same time, at worst).
    pub memory: Vec<MemoryItem>,
    /// The long loops.
    pub work: Vec<WorkItem>,
}

/// Checked product of sizes (`None` on overflow).
fn prod(factors: &[u64]) -> Option<u64> {
    factors.iter().try_fold(1u64, |acc, &f| acc.checked_mul(f))
}

fn u(x: usize) -> u64 {
    x as u64
}

/// Bytes of `count` f64 values.
fn f64s(factors: &[u64]) -> Option<u64> {
    prod(factors).and_then(|c| c.checked_mul(8))
}

/// Checked sum of the training counts.
fn total(counts: &[usize]) -> Option<u64> {
    counts
        .iter()
        .try_fold(0u64, |acc, &c| acc.checked_add(u(c)))
}

/// A byte count for people, three significant digits: "320 GB", "19.6 GB", "1.5 MB" (powers
/// of 1000), so that a need and a limit close to it do not print alike.
pub fn format_bytes(bytes: Option<u64>) -> String {
    let Some(b) = bytes else {
        return "more than 18 EB".to_string();
    };
    let units = ["B", "kB", "MB", "GB", "TB", "PB", "EB"];
    let mut v = b as f64;
    let mut i = 0;
    while v >= 1000.0 && i + 1 < units.len() {
        v /= 1000.0;
        i += 1;
    }
    if i == 0 || v >= 100.0 {
        format!("{v:.0} {}", units[i])
    } else {
        format!("{v:.1} {}", units[i])
    }
}

/// An operation count for people: "3.5e13", or "more than 1.8e19".
pub fn format_count(ops: Option<u64>) -> String {
    match ops {
        Some(o) if o < 1_000_000 => o.to_string(),
        Some(o) => format!("{:.1e}", o as f64),
        None => "more than 1.8e19".to_string(),
    }
}

impl Estimate {
    /// Total bytes of the large buffers; `None` on overflow.
    pub fn bytes(&self) -> Option<u64> {
        self.memory
            .iter()
            .try_fold(0u64, |acc, m| acc.checked_add(m.bytes?))
    }

    /// The largest buffer (an overflowing one counts as the largest).
    pub fn largest(&self) -> Option<&MemoryItem> {
        // The first of equal ones: the list starts with the most telling buffer.
        let size = |m: &MemoryItem| m.bytes.map_or(u128::MAX, u128::from);
        self.memory
            .iter()
            .fold(None, |best: Option<&MemoryItem>, m| match best {
                Some(b) if size(b) >= size(m) => Some(b),
                _ => Some(m),
            })
    }

    /// Errors unless the buffers fit in `limit` (no limit: only their sizes must not
    /// overflow) and every loop stays within its maximum.
    pub fn check(&self, limit: Option<MemoryLimit>) -> Result<()> {
        let need = self.bytes();
        let over = match (need, limit) {
            (None, _) => true,
            (Some(n), Some(l)) => n > l.bytes,
            (Some(_), None) => false,
        };
        if over && let Some(item) = self.largest() {
            return Err(Error::TooLarge {
                input: item.input,
                detail: self.describe(item),
                limit,
            });
        }
        if let Some(w) = self.work.iter().find(|w| w.ops.is_none_or(|o| o > w.max)) {
            return Err(Error::TooLong {
                input: w.input,
                detail: format!(
                    "{} takes {} {}, more than the maximum {}",
                    w.what,
                    format_count(w.ops),
                    w.unit,
                    format_count(Some(w.max))
                ),
            });
        }
        Ok(())
    }

    /// "200000 samples need a 320 GB Gram matrix (321 GB in all)".
    fn describe(&self, item: &MemoryItem) -> String {
        let mut s = format!(
            "{} need a {} {}",
            item.subject,
            format_bytes(item.bytes),
            item.noun
        );
        if self.memory.len() > 1 && item.bytes.is_some() {
            s.push_str(&format!(" ({} in all)", format_bytes(self.bytes())));
        }
        s
    }
}

/// The dual A (n x K) and the integrator's state and stages: about 10 n x K arrays.
fn dual_item(n: u64, k: u64) -> MemoryItem {
    MemoryItem {
        subject: format!("{n} samples x {k} classes"),
        noun: "dual and integrator state",
        bytes: f64s(&[10, n, k]),
        input: Input::Counts,
    }
}

/// Largest K whose max-margin QP the theory solves densely (`imbalance_theory`'s limit).
const DENSE_QP_MAX_K: u64 = 64;

/// The theory's arrays at K classes: 2 K^3 values (the per-class K x K covariances of the
/// logits built in `theory::meanfield::logit_moments`, and the anisotropic statistics' K^3
/// mean covariances), K^4 multiply-adds to form the covariances, and at T = infinity the max-margin QP's Hessian over the K(K-1)
/// margin variables (`meanfield::max_margin_dual`: (K(K-1))^2 values) for K <= 64 (beyond,
/// the theory solves orthogonal means in closed form in O(K^2) and refuses other means at
/// once with `theory::Error::QpTooLarge`).
fn theory_items(k: u64, horizon: Horizon, est: &mut Estimate) {
    est.memory.push(MemoryItem {
        subject: format!("{k} classes"),
        noun: "set of K x K x K theory arrays",
        bytes: f64s(&[2, k, k, k]),
        input: Input::Counts,
    });
    est.work.push(WorkItem {
        what: format!("the theory's logit covariances over {k} classes"),
        ops: prod(&[k, k, k, k]),
        max: MAX_WORK,
        unit: "multiply-adds",
        input: Input::Counts,
    });
    shared_mc_item(k, 1, est);
    if horizon == Horizon::Infinite && k <= DENSE_QP_MAX_K {
        let vars = k.checked_mul(k.saturating_sub(1));
        est.memory.push(MemoryItem {
            subject: format!("{k} classes"),
            noun: "max-margin QP matrix (K(K-1))^2",
            bytes: vars.and_then(|v| f64s(&[v, v])),
            input: Input::Counts,
        });
        // Lawson-Hanson: a dense solve over the variables per active-set change.
        est.work.push(WorkItem {
            what: format!("the max-margin QP over {k} classes"),
            ops: vars.and_then(|v| prod(&[v, v, v])),
            max: MAX_WORK,
            unit: "multiply-adds",
            input: Input::Counts,
        });
    }
}

/// The shared Monte Carlo of the per-class errors (more than
/// [`imbalance_theory::SHARED_MC_MIN_DIM`] classes), `runs` times: at most its draw limit,
/// each draw about 2 K^2 multiply-adds (the draw itself and every class's comparisons).
fn shared_mc_item(k: u64, runs: u64, est: &mut Estimate) {
    if k <= u(imbalance_theory::SHARED_MC_MIN_DIM) {
        return;
    }
    let draws = u(imbalance_theory::MonteCarloOptions::default().max_draws);
    est.work.push(WorkItem {
        what: format!("the shared Monte Carlo of {k} classes' errors (up to {draws} draws)"),
        ops: prod(&[runs, draws, 2, k, k]),
        max: MAX_WORK,
        unit: "multiply-adds",
        input: Input::Counts,
    });
}

/// The size of `simulate` (`seeds` runs of [`crate::simulate_gmm`] one after another).
pub fn simulate_cost(
    counts: &[usize],
    dim: usize,
    sampler: Sampler,
    seeds: usize,
    test_per_class: usize,
) -> Estimate {
    let mut est = Estimate::default();
    let k = u(counts.len());
    let Some(n) = total(counts) else {
        est.memory.push(MemoryItem {
            subject: "the counts".into(),
            noun: "training set (their sum overflows)",
            bytes: None,
            input: Input::Counts,
        });
        return est;
    };
    let p = u(dim);
    est.memory.push(MemoryItem {
        subject: format!("{n} samples"),
        noun: "Gram matrix",
        bytes: f64s(&[n, n]),
        input: Input::Counts,
    });
    match sampler {
        // The direct sampler's Bartlett factor (n x n), or its noise matrix n x (p - K) when
        // that is narrower; the triangular product costs n^3 / 3.
        Sampler::Direct => {
            est.memory.push(MemoryItem {
                subject: format!("{n} samples"),
                noun: "Gram sampling workspace",
                bytes: f64s(&[n, n.min(p)]),
                input: Input::Counts,
            });
            est.work.push(WorkItem {
                what: format!("sampling the Gram matrix of {n} samples"),
                ops: prod(&[n, n, n.min(p)]).map(|o| o / 3),
                max: MAX_WORK,
                unit: "multiply-adds",
                input: Input::Counts,
            });
        }
        Sampler::Explicit => {
            est.memory.push(MemoryItem {
                subject: format!("{n} samples x {p} dimensions"),
                noun: "explicit X matrix",
                bytes: f64s(&[n, p]),
                input: Input::Dim,
            });
            // The explicit sampler pads the means to K x p.
            est.memory.push(MemoryItem {
                subject: format!("{k} classes x {p} dimensions"),
                noun: "matrix of class means",
                bytes: f64s(&[k, p]),
                input: Input::Dim,
            });
            est.work.push(WorkItem {
                what: format!("forming X X^T of {n} samples in {p} dimensions"),
                ops: prod(&[n, n, p]),
                max: MAX_WORK,
                unit: "multiply-adds",
                input: Input::Dim,
            });
        }
    }
    // A thin training set keeps X (n x p, in a rotated frame) to train through.
    if let (Ok(n_us), Ok(p_us)) = (usize::try_from(n), usize::try_from(p))
        && imbalance_gmm::keeps_factor(n_us, p_us)
    {
        est.memory.push(MemoryItem {
            subject: format!("{n} samples x {p} dimensions"),
            noun: "Gram factor",
            bytes: f64s(&[n, p]),
            input: Input::Dim,
        });
    }
    est.memory.push(dual_item(n, k));
    // The exact errors' per-class logit covariances (K x K x K), as in the theory.
    est.memory.push(MemoryItem {
        subject: format!("{k} classes"),
        noun: "set of K x K x K logit-law arrays",
        bytes: f64s(&[2, k, k, k]),
        input: Input::Counts,
    });
    shared_mc_item(k, u(seeds), &mut est);
    if seeds > MAX_SEEDS {
        est.work.push(WorkItem {
            what: "the run".into(),
            ops: Some(u(seeds)),
            max: u(MAX_SEEDS),
            unit: "training sets",
            input: Input::Seeds,
        });
    }
    est.work.push(WorkItem {
        what: format!("{seeds} seed(s) x {k} classes x {test_per_class} test samples"),
        ops: prod(&[u(seeds), k, u(test_per_class)]),
        max: MAX_TEST_DRAWS,
        unit: "test draws",
        input: Input::TestPerClass,
    });
    est
}

/// The size of `predict` and `tune` (the mean-field theory; no training set is formed).
pub fn predict_cost(counts: &[usize], horizon: Horizon) -> Estimate {
    let mut est = Estimate::default();
    theory_items(u(counts.len()), horizon, &mut est);
    est
}

/// Most predictions one `imbalance_theory::tune` makes: its 21-point scan, up to 3 doublings of
/// the range at the same spacing (20, 40 and 80 more points: 161 in all), the prediction at the
/// best scan point, at most 40 of Brent's refinement and the final one. (It said 126 before:
/// the doublings were counted as 21 points each.)
pub const TUNE_MAX_PREDICTIONS: u64 = 21 + 20 + 40 + 80 + 1 + 40 + 1;

/// The size of tuning a method on `counts` at `horizon`: [`predict_cost`]'s memory, and its work
/// for each of up to [`TUNE_MAX_PREDICTIONS`] predictions.
pub fn tune_cost(counts: &[usize], horizon: Horizon) -> Estimate {
    let mut est = predict_cost(counts, horizon);
    for w in &mut est.work {
        w.ops = w.ops.and_then(|o| o.checked_mul(TUNE_MAX_PREDICTIONS));
        w.what = format!(
            "{}, in each of up to {TUNE_MAX_PREDICTIONS} predictions of the tuning",
            w.what
        );
    }
    est
}

/// The size of [`crate::train_images`] on `counts` (n training images), `n_test` test images
/// and `n_pool` pool images of dimension `input_dim`, under `features`, with at most
/// `moment_samples` per class for the theory.
pub fn train_cost(
    counts: &[usize],
    n_pool: usize,
    n_test: usize,
    input_dim: usize,
    features: FeatureSpec,
    moment_samples: Option<usize>,
    horizon: Horizon,
) -> Estimate {
    let mut est = Estimate::default();
    let k = u(counts.len());
    let (t, d) = (u(n_test), u(input_dim));
    let Some(n) = total(counts) else {
        est.memory.push(MemoryItem {
            subject: "the counts".into(),
            noun: "training set (their sum overflows)",
            bytes: None,
            input: Input::Counts,
        });
        return est;
    };
    est.memory.push(MemoryItem {
        subject: format!("{n} training images"),
        noun: "Gram matrix",
        bytes: f64s(&[n, n]),
        input: Input::Counts,
    });
    est.memory.push(MemoryItem {
        subject: format!("{t} test images x {n} training images"),
        noun: "test kernel matrix",
        bytes: f64s(&[t, n]),
        input: Input::Counts,
    });
    est.memory.push(MemoryItem {
        subject: format!("{} images x {d} pixels", n.saturating_add(t)),
        noun: "set of preprocessed images",
        bytes: n.checked_add(t).and_then(|r| f64s(&[r, d])),
        input: Input::Counts,
    });
    est.memory.push(MemoryItem {
        subject: format!("{n_pool} pool images x {d} pixels"),
        noun: "loaded dataset",
        bytes: prod(&[u(n_pool), d]),
        input: Input::Counts,
    });
    est.memory.push(dual_item(n, k));
    let m = moment_samples.map(|m| prod(&[u(m), k]));
    if let Some(mk) = m {
        est.memory.push(MemoryItem {
            subject: format!("{} moment images", format_count(mk)),
            noun: "moment sample and its kernels",
            bytes: mk
                .and_then(|mk| mk.checked_add(d))
                .and_then(|r| f64s(&[mk?, r]).and_then(|b| b.checked_add(f64s(&[mk?, mk?])?))),
            input: Input::MomentSamples,
        });
        theory_items(k, horizon, &mut est);
    }
    if let FeatureSpec::Random { width, .. } = features {
        let p = u(width);
        if width > MAX_FEATURES {
            est.work.push(WorkItem {
                what: "the feature map".into(),
                ops: Some(p),
                max: u(MAX_FEATURES),
                unit: "features",
                input: Input::Features,
            });
        }
        // Per chunk: the chunk of F (d x chunk) and the features of every row (rows x chunk).
        let rows = n
            .checked_add(t)
            .and_then(|r| r.checked_add(m.flatten().unwrap_or(0)));
        let chunk = p.min(FEATURE_CHUNK);
        est.memory.push(MemoryItem {
            subject: format!("{width} features"),
            noun: "set of feature chunks",
            bytes: rows
                .and_then(|r| r.checked_add(d))
                .and_then(|r| f64s(&[r, chunk])),
            input: Input::Features,
        });
        // Features (rows x d x p) and their kernels against the training set (rows x n x p).
        est.work.push(WorkItem {
            what: format!(
                "computing {width} features of {} images and their kernels",
                format_count(rows)
            ),
            ops: rows
                .and_then(|r| r.checked_add(n))
                .and_then(|w| prod(&[rows?, w, p])),
            max: MAX_WORK,
            unit: "multiply-adds",
            input: Input::Features,
        });
    }
    est
}

impl fmt::Display for MemoryLimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.source {
            LimitSource::Available => {
                write!(f, "{} of memory available", format_bytes(Some(self.bytes)))
            }
            LimitSource::Given => write!(f, "a memory limit of {}", format_bytes(Some(self.bytes))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GB: u64 = 1_000_000_000;

    fn limit(gb: u64) -> Option<MemoryLimit> {
        Some(MemoryLimit {
            bytes: gb * GB,
            source: LimitSource::Available,
        })
    }

    #[test]
    fn gram_of_200000_samples_is_320_gb() {
        let est = simulate_cost(&[100_000, 100_000], 100, Sampler::Direct, 1, 10);
        let big = est.largest().unwrap();
        assert_eq!(big.bytes, Some(320 * GB));
        let err = est.check(limit(22)).unwrap_err().to_string();
        assert!(
            err.contains("200000 samples need a 320 GB Gram matrix"),
            "{err}"
        );
        assert!(est.check(limit(1000)).is_ok());
    }

    #[test]
    fn overflowing_sizes_are_refused_without_a_limit() {
        let est = simulate_cost(&[usize::MAX, 1], 10, Sampler::Direct, 1, 10);
        assert_eq!(est.bytes(), None);
        assert!(matches!(
            est.check(None),
            Err(Error::TooLarge {
                input: Input::Counts,
                ..
            })
        ));
        let est = simulate_cost(&[1 << 31, 1 << 31], 10, Sampler::Direct, 1, 10);
        assert!(est.check(None).is_err());
    }

    #[test]
    fn explicit_x_is_blamed_on_the_dimension() {
        let est = simulate_cost(&[200, 20], 10_000_000_000, Sampler::Explicit, 1, 10);
        match est.check(limit(22)) {
            Err(Error::TooLarge { input, detail, .. }) => {
                assert_eq!(input, Input::Dim);
                assert!(detail.contains("explicit X"), "{detail}");
            }
            other => panic!("{other:?}"),
        }
        // Small enough in memory, too long in work: 2e5^2 x 1e4 = 4e14 multiply-adds.
        let est = simulate_cost(&[100_000, 100_000], 10_000, Sampler::Explicit, 1, 1);
        assert!(matches!(
            est.check(None),
            Err(Error::TooLong {
                input: Input::Dim,
                ..
            })
        ));
    }

    #[test]
    fn test_draws_and_seeds_are_bounded() {
        let est = simulate_cost(&[200, 20], 100, Sampler::Direct, 1, 1_000_000_000_000);
        assert!(matches!(
            est.check(limit(1)),
            Err(Error::TooLong {
                input: Input::TestPerClass,
                ..
            })
        ));
        let est = simulate_cost(&[200, 20], 100, Sampler::Direct, usize::MAX, 1);
        assert!(matches!(
            est.check(limit(1)),
            Err(Error::TooLong {
                input: Input::Seeds,
                ..
            })
        ));
        let est = simulate_cost(&[200, 20], 100, Sampler::Direct, 10, 10_000);
        assert!(est.check(limit(1)).is_ok());
    }

    #[test]
    fn tuning_multiplies_the_theory_work() {
        // K = 1000: 1e12 multiply-adds per prediction passes, 203 of them exceed 1e14.
        assert!(
            predict_cost(&[10; 1000], Horizon::Finite(10.0))
                .check(limit(22))
                .is_ok()
        );
        let e = tune_cost(&[10; 1000], Horizon::Finite(10.0))
            .check(limit(22))
            .unwrap_err()
            .to_string();
        assert!(e.contains("203 predictions of the tuning"), "{e}");
        assert!(
            tune_cost(&[10; 100], Horizon::Finite(10.0))
                .check(limit(22))
                .is_ok()
        );
    }

    #[test]
    fn theory_at_many_classes_is_estimated() {
        // K = 64 at T = inf: the dense QP matrix has (4032)^2 entries, 130 MB; at K = 1000
        // the theory has no dense QP (closed form or a clear error), so only the covariances.
        let has_qp = |k: usize| {
            predict_cost(&vec![10; k], Horizon::Infinite)
                .memory
                .iter()
                .any(|m| m.noun.starts_with("max-margin QP"))
        };
        assert!(has_qp(64) && !has_qp(65));
        assert!(
            predict_cost(&[10; 64], Horizon::Infinite)
                .check(limit(1))
                .is_ok()
        );
        assert!(
            predict_cost(&[10; 1000], Horizon::Infinite)
                .check(limit(22))
                .is_ok()
        );
        assert!(
            predict_cost(&[10; 10], Horizon::Infinite)
                .check(limit(1))
                .is_ok()
        );
        assert!(
            predict_cost(&[10; 1000], Horizon::Finite(10.0))
                .check(limit(22))
                .is_ok()
        );
    }

    #[test]
    fn train_default_run_fits_and_full_mnist_does_not() {
        let relu = |width| FeatureSpec::Random {
            activation: imbalance_features::Activation::Relu,
            width,
        };
        let default = [500, 500, 500, 500, 500, 50, 50, 50, 50, 50];
        let est = train_cost(
            &default,
            60_000,
            10_000,
            784,
            relu(10_000),
            Some(500),
            Horizon::Finite(1e7),
        );
        assert!(est.bytes().unwrap() < GB, "{:?}", est.bytes());
        assert!(est.check(limit(2)).is_ok());
        let full = [5870; 10];
        let est = train_cost(
            &full,
            60_000,
            10_000,
            784,
            relu(10_000),
            None,
            Horizon::Infinite,
        );
        assert!(est.bytes().unwrap() > 27 * GB);
        assert!(est.check(limit(22)).is_err());
        let wide = train_cost(
            &default,
            60_000,
            10_000,
            784,
            relu(1 << 40),
            None,
            Horizon::Infinite,
        );
        assert!(matches!(
            wide.check(None),
            Err(Error::TooLong {
                input: Input::Features,
                ..
            })
        ));
    }

    #[test]
    fn bytes_are_formatted_in_powers_of_1000() {
        assert_eq!(format_bytes(Some(320 * GB)), "320 GB");
        assert_eq!(format_bytes(Some(1_500_000)), "1.5 MB");
        assert_eq!(format_bytes(Some(12)), "12 B");
        assert_eq!(format_bytes(Some(19_600_000_000)), "19.6 GB");
        assert_eq!(format_bytes(Some(20_000_000_000)), "20.0 GB");
        assert_eq!(format_bytes(None), "more than 18 EB");
    }
}
