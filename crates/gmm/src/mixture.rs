//! The mixture: class counts, class means, noise level.

use faer::linalg::matmul::matmul;
use faer::{Accum, Mat, MatRef, Par};
use rand::{Rng, RngExt};
use rand_distr::{ChiSquared, StandardNormal};

use crate::error::{Error, Result};
use crate::profile::validate_counts;

/// How the K class means mu_c in R^p are chosen.
#[derive(Debug, Clone)]
pub enum MeansSpec {
    /// mu_c = snr * e_c (orthogonal, equal norm); needs p >= K.
    Orthogonal {
        /// Norm of every mean (>= 0, finite).
        snr: f64,
    },
    /// mu_c = snr * u_c with u_0..u_{K-1} independent uniform random unit vectors in R^p.
    ///
    /// Only the means' Gram matrix matters under isotropic noise, so the means are drawn
    /// directly in a rotated frame: their first min(K, p) coordinates (see
    /// [`Mixture::mean_coords`]); the draw costs O(K^2), not O(Kp).
    Random {
        /// Norm of every mean (>= 0, finite).
        snr: f64,
    },
    /// Explicit means, a K x p matrix (row c = mu_c), finite entries.
    Given(Mat<f64>),
}

/// A K-class Gaussian mixture with fixed training counts:
/// class c has n_c samples x = mu_c + sigma z, z ~ N(0, I_p).
#[derive(Debug, Clone)]
pub struct Mixture {
    counts: Vec<usize>,
    dim: usize,
    sigma: f64,
    /// K x r, r <= min(K, p): the means in the first r coordinates (M = C C^T).
    coords: Mat<f64>,
    /// K x K Gram matrix of the means.
    gram: Mat<f64>,
    /// The K x p means when the user gave them; otherwise the means *are* `coords`
    /// padded with zeros to p coordinates.
    given: Option<Mat<f64>>,
}

impl Mixture {
    /// Builds a mixture, drawing random means from `rng` when asked for.
    ///
    /// Errors: fewer than 2 classes, an empty class, `dim == 0`, `sigma` not finite and
    /// positive, `snr` negative or not finite, orthogonal means with `dim < K`, given
    /// means of the wrong shape or with a non-finite entry.
    pub fn new<R: Rng + ?Sized>(
        counts: Vec<usize>,
        dim: usize,
        means: MeansSpec,
        sigma: f64,
        rng: &mut R,
    ) -> Result<Mixture> {
        validate_counts(&counts)?;
        if dim == 0 {
            return Err(Error::ZeroDim);
        }
        if !(sigma.is_finite() && sigma > 0.0) {
            return Err(Error::InvalidSigma { sigma });
        }
        let k = counts.len();
        let check_snr = |snr: f64| {
            if !(snr.is_finite() && snr >= 0.0) {
                Err(Error::InvalidSnr { snr })
            } else {
                Ok(snr)
            }
        };
        let (coords, given) = match means {
            MeansSpec::Orthogonal { snr } => {
                let snr = check_snr(snr)?;
                if dim < k {
                    return Err(Error::DimTooSmallForOrthogonal { dim, classes: k });
                }
                (
                    Mat::from_fn(k, k, |i, j| if i == j { snr } else { 0.0 }),
                    None,
                )
            }
            MeansSpec::Random { snr } => (random_coords(k, dim, check_snr(snr)?, rng), None),
            MeansSpec::Given(mu) => {
                if mu.nrows() != k || mu.ncols() != dim {
                    return Err(Error::MeansShape {
                        rows: mu.nrows(),
                        cols: mu.ncols(),
                        classes: k,
                        dim,
                    });
                }
                for coord in 0..dim {
                    for class in 0..k {
                        let value = mu[(class, coord)];
                        if !value.is_finite() {
                            return Err(Error::NonFiniteMean {
                                class,
                                coord,
                                value,
                            });
                        }
                    }
                }
                (given_coords(mu.as_ref()), Some(mu))
            }
        };
        // Computed from the actual means when given (exact), else from C.
        let basis = given.as_ref().unwrap_or(&coords);
        let mut gram = Mat::zeros(k, k);
        matmul(
            gram.as_mut(),
            Accum::Replace,
            basis.as_ref(),
            basis.transpose(),
            1.0,
            Par::Seq,
        );
        // Scalar math follows on this thread (see `imbalance_core::simd`).
        imbalance_core::simd::reset_avx_state();
        Ok(Mixture {
            counts,
            dim,
            sigma,
            coords,
            gram,
            given,
        })
    }

    /// The same means, dimension and noise with other class counts (e.g. a test set).
    /// The counts are validated like in [`Mixture::new`].
    pub fn with_counts(&self, counts: Vec<usize>) -> Result<Mixture> {
        validate_counts(&counts)?;
        if counts.len() != self.k() {
            return Err(Error::ClassCountMismatch {
                given: counts.len(),
                expected: self.k(),
            });
        }
        Ok(Mixture {
            counts,
            ..self.clone()
        })
    }

    /// Training counts n_c.
    pub fn counts(&self) -> &[usize] {
        &self.counts
    }
    /// Number of classes K.
    pub fn k(&self) -> usize {
        self.counts.len()
    }
    /// Total number of training samples n.
    pub fn n(&self) -> usize {
        self.counts.iter().sum()
    }
    /// Dimension p.
    pub fn dim(&self) -> usize {
        self.dim
    }
    /// Noise standard deviation sigma.
    pub fn sigma(&self) -> f64 {
        self.sigma
    }
    /// M = mu mu^T, K x K.
    pub fn mean_gram(&self) -> MatRef<'_, f64> {
        self.gram.as_ref()
    }
    /// C, K x r with r <= min(K, p): the means written in the first r coordinate axes
    /// (up to a rotation, which isotropic noise cannot see), M = C C^T.
    pub fn mean_coords(&self) -> MatRef<'_, f64> {
        self.coords.as_ref()
    }
    /// The explicit K x p means used by the explicit sampler: the given ones, or
    /// `mean_coords` padded with zeros. Allocates K x p.
    pub fn means(&self) -> Mat<f64> {
        match &self.given {
            Some(mu) => mu.clone(),
            None => {
                let r = self.coords.ncols();
                Mat::from_fn(self.k(), self.dim, |c, j| {
                    if j < r { self.coords[(c, j)] } else { 0.0 }
                })
            }
        }
    }
    /// The given K x p means, if any.
    pub(crate) fn given(&self) -> Option<MatRef<'_, f64>> {
        self.given.as_ref().map(|m| m.as_ref())
    }
    /// Labels of the training set in sampling order: class 0 first.
    pub fn labels(&self) -> Vec<usize> {
        self.counts
            .iter()
            .enumerate()
            .flat_map(|(c, &nc)| std::iter::repeat_n(c, nc))
            .collect()
    }
}

/// Random unit directions times `snr`, in the first min(K, p) coordinates.
///
/// Why this is exact: a K x p Gaussian matrix G factors as G = B Q with B lower
/// triangular (Bartlett: B_ii^2 ~ chi2(p - i), B_ij ~ N(0,1) below the diagonal) and Q
/// Haar-distributed orthonormal rows independent of B. Normalising the rows of G is
/// normalising the rows of B and then rotating by Q, and the rotation is invisible.
fn random_coords<R: Rng + ?Sized>(k: usize, p: usize, snr: f64, rng: &mut R) -> Mat<f64> {
    let mut b = if p >= k {
        let mut b = Mat::<f64>::zeros(k, k);
        for i in 0..k {
            for j in 0..i {
                b[(i, j)] = rng.sample(StandardNormal);
            }
            // p - i >= 1 here, so the distribution is valid.
            let chi2 = ChiSquared::new((p - i) as f64).expect("positive degrees of freedom");
            b[(i, i)] = rng.sample(chi2).sqrt();
        }
        b
    } else {
        // Fewer dimensions than classes: the means already live in all p coordinates.
        let mut g = Mat::<f64>::zeros(k, p);
        for i in 0..k {
            for j in 0..p {
                g[(i, j)] = rng.sample(StandardNormal);
            }
        }
        g
    };
    for i in 0..k {
        let norm = (0..b.ncols())
            .map(|j| b[(i, j)].powi(2))
            .sum::<f64>()
            .sqrt();
        // A zero row has probability zero; guard anyway so snr = 0 or a freak draw
        // never divides by zero.
        let scale = if norm > 0.0 { snr / norm } else { 0.0 };
        for j in 0..b.ncols() {
            b[(i, j)] *= scale;
        }
    }
    b
}

/// Coordinates of given means in an orthonormal basis of their span (padded to
/// min(K, p) columns): with mu^T = Q R (thin QR), mu = R^T Q^T, so C = R^T.
fn given_coords(mu: MatRef<'_, f64>) -> Mat<f64> {
    let (k, p) = (mu.nrows(), mu.ncols());
    if p <= k {
        return mu.to_owned();
    }
    let qr = mu.transpose().qr();
    qr.thin_R().transpose().to_owned()
}
