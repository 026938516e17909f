//! Python bindings of `imbalance` (module `imbalance`): thin wrappers that turn Python
//! arguments into the library's types, call the same `imbalance_pipeline` / `imbalance_theory`
//! functions the command line calls, and return NumPy arrays and plain dicts.
//!
//! Mixtures and seeds are built exactly as `imbalance predict|tune|simulate` build them
//! (`crates/cli/src/predict.rs`, `simulate.rs`), so the numbers equal the CLI's `--json`.

use faer::{Mat, MatRef};
use imbalance_gmm::{MeansSpec, Mixture, Profile};
use imbalance_gradflow::{FlowOptions, Horizon};
use imbalance_losses::{Method, MethodName};
use imbalance_pipeline::rand::SeedableRng;
use imbalance_pipeline::rand_pcg::Pcg64;
use imbalance_pipeline::{
    FeatureMap, FeatureSpec, PreparedGram, Sampler, mixture_stats, per_class_mean_std, predict_gmm,
    simulate_gmm,
};
use imbalance_theory::{Objective, PredictOptions};
use numpy::ndarray::Array2;
use numpy::{
    IntoPyArray, PyArray1, PyArray2, PyArrayMethods, PyReadonlyArray2, PyUntypedArray,
    PyUntypedArrayMethods,
};
use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyDict;

/// A `ValueError` with `message`.
fn value_error(message: impl std::fmt::Display) -> PyErr {
    PyValueError::new_err(message.to_string())
}

/// True for the errors of a computation that failed on valid input (solver limits); they
/// become `RuntimeError`, everything else (bad input) `ValueError`.
fn is_solver_failure(e: &imbalance_pipeline::Error) -> bool {
    use imbalance_gradflow::Error as G;
    use imbalance_pipeline::Error as P;
    use imbalance_theory::Error as T;
    matches!(
        e,
        P::GradFlow(G::Ode(_) | G::QpNotConverged { .. })
            | P::Theory(T::Ode(_) | T::QpNotConverged { .. })
    )
}

/// The pipeline's error as a Python exception carrying the library's message.
fn pipeline_error(e: imbalance_pipeline::Error) -> PyErr {
    if is_solver_failure(&e) {
        PyRuntimeError::new_err(e.to_string())
    } else {
        value_error(e)
    }
}

/// The theory's error as a Python exception (through the pipeline's classification).
fn theory_error(e: imbalance_theory::Error) -> PyErr {
    pipeline_error(imbalance_pipeline::Error::Theory(e))
}

/// `time`: a positive number, `float("inf")`, or a string such as `"1e4"` / `"inf"`, parsed
/// as the CLI parses `--time`.
fn horizon(time: Option<&Bound<'_, PyAny>>, default: &str) -> PyResult<Horizon> {
    let text = match time {
        None => default.to_string(),
        Some(t) => match t.extract::<String>() {
            Ok(s) => s,
            // Rust's shortest round-trip formatting: parses back to the same f64.
            Err(_) => match t.extract::<f64>() {
                Ok(v) => v.to_string(),
                Err(_) => {
                    return Err(value_error(format!(
                        "time: expected a positive number or \"inf\", got {}",
                        t.repr()?
                    )));
                }
            },
        },
    };
    text.parse::<Horizon>()
        .map_err(|e| value_error(format!("time: {e}")))
}

/// The method with its hyperparameters (a hyperparameter the method does not take is an
/// error), as `MethodArgs::method` builds it.
fn method(
    name: &str,
    tau: Option<f64>,
    gamma: Option<f64>,
    margin: Option<f64>,
    beta: Option<f64>,
) -> PyResult<Method> {
    let name: MethodName = name.parse().map_err(value_error)?;
    let given: Vec<(&str, f64)> = [
        ("tau", tau),
        ("gamma", gamma),
        ("margin", margin),
        ("beta", beta),
    ]
    .into_iter()
    .filter_map(|(n, v)| v.map(|v| (n, v)))
    .collect();
    name.with_params(&given).map_err(value_error)
}

/// Errors unless `method` can be trained to `h` (the CLI's `check_method_horizon`).
fn check_method_horizon(method: &Method, h: Horizon) -> PyResult<()> {
    if h == Horizon::Infinite && !method.defined_at_infinity() {
        return Err(value_error(format!(
            "time: method {} is undefined at T = inf (the max-margin classifier has no scale, so a post-hoc logit offset means nothing); give a finite time",
            method.name()
        )));
    }
    Ok(())
}

/// The mixture of `counts`, `dim`, `snr`, `sigma`, `means`, random means drawn from `rng`.
fn mixture(
    counts: Vec<usize>,
    dim: usize,
    snr: f64,
    sigma: f64,
    means: &str,
    rng: &mut Pcg64,
) -> PyResult<Mixture> {
    let spec = match means.trim().to_ascii_lowercase().as_str() {
        "orthogonal" => MeansSpec::Orthogonal { snr },
        "random" => MeansSpec::Random { snr },
        _ => {
            return Err(value_error(format!(
                "means: unknown value '{means}'; allowed: orthogonal, random"
            )));
        }
    };
    let counts = Profile::Counts(counts).counts().map_err(value_error)?;
    Mixture::new(counts, dim, spec, sigma, rng).map_err(value_error)
}

/// The fields every result has: per-class errors, their mean and their maximum (computed as
/// the CLI's `ErrorSummary`).
fn summary<'py>(py: Python<'py>, per_class: Vec<f64>) -> PyResult<Bound<'py, PyDict>> {
    let balanced = per_class.iter().sum::<f64>() / per_class.len().max(1) as f64;
    let worst = per_class.iter().copied().fold(0.0, f64::max);
    let d = PyDict::new(py);
    d.set_item("per_class_error", PyArray1::from_vec(py, per_class))?;
    d.set_item("balanced_error", balanced)?;
    d.set_item("worst_class_error", worst)?;
    Ok(d)
}

/// Predicts the per-class test errors of `method` trained to `time` on the Gaussian mixture
/// by the mean-field theory (`imbalance predict`).
#[pyfunction]
#[pyo3(signature = (*, counts, dim, snr, method, tau=None, gamma=None, margin=None, beta=None, time=None, sigma=1.0, means="orthogonal", seed=0))]
fn predict<'py>(
    py: Python<'py>,
    counts: Vec<usize>,
    dim: usize,
    snr: f64,
    method: &str,
    tau: Option<f64>,
    gamma: Option<f64>,
    margin: Option<f64>,
    beta: Option<f64>,
    time: Option<&Bound<'py, PyAny>>,
    sigma: f64,
    means: &str,
    seed: u64,
) -> PyResult<Bound<'py, PyDict>> {
    let method = self::method(method, tau, gamma, margin, beta)?;
    let h = horizon(time, "inf")?;
    check_method_horizon(&method, h)?;
    let mixture = mixture(
        counts,
        dim,
        snr,
        sigma,
        means,
        &mut Pcg64::seed_from_u64(seed),
    )?;
    let prediction = py
        .detach(|| predict_gmm(&mixture, &method, h))
        .map_err(pipeline_error)?;
    summary(py, prediction.per_class_error)
}

/// Tunes the hyperparameter of `method` by the theory's `objective` (`imbalance tune`).
#[pyfunction]
#[pyo3(signature = (*, counts, dim, snr, method, objective="balanced", time=None, sigma=1.0, means="orthogonal", seed=0))]
fn tune<'py>(
    py: Python<'py>,
    counts: Vec<usize>,
    dim: usize,
    snr: f64,
    method: &str,
    objective: &str,
    time: Option<&Bound<'py, PyAny>>,
    sigma: f64,
    means: &str,
    seed: u64,
) -> PyResult<Bound<'py, PyDict>> {
    let name: MethodName = method.parse().map_err(value_error)?;
    if name == MethodName::Ce {
        return Err(value_error(
            "method: ce has nothing to tune; allowed: la, posthoc, cdt, ldam, wce, vs",
        ));
    }
    let objective: Objective = objective.parse().map_err(theory_error)?;
    let h = horizon(time, "inf")?;
    check_method_horizon(&name.with_params(&[]).map_err(value_error)?, h)?;
    let mixture = mixture(
        counts,
        dim,
        snr,
        sigma,
        means,
        &mut Pcg64::seed_from_u64(seed),
    )?;
    let stats = mixture_stats(&mixture).map_err(pipeline_error)?;
    let tuned = py
        .detach(|| imbalance_theory::tune(&stats, name, objective, h, &PredictOptions::default()))
        .map_err(theory_error)?;
    let d = summary(py, tuned.prediction.per_class_error.clone())?;
    let best = PyDict::new(py);
    best.set_item("param", tuned.param)?;
    best.set_item("value", tuned.value)?;
    d.set_item("best", best)?;
    d.set_item("objective_value", tuned.error)?;
    let curve = Array2::from_shape_fn((tuned.curve.len(), 2), |(i, j)| {
        if j == 0 {
            tuned.curve[i].0
        } else {
            tuned.curve[i].1
        }
    });
    d.set_item("curve", curve.into_pyarray(py))?;
    Ok(d)
}

/// Per-class errors, one row per seed.
type PerSeed = Vec<Vec<f64>>;

/// Simulates: samples `seeds` training sets from the mixture, trains `method` to `time` by
/// exact gradient flow and measures per-class errors (`imbalance simulate`; seed i uses
/// `seed + i`, for the random means as well as the training set).
#[pyfunction]
#[pyo3(signature = (*, counts, dim, snr, method, tau=None, gamma=None, margin=None, beta=None, time=None, sigma=1.0, means="orthogonal", seeds=1, seed=0, test_per_class=10_000, sampler="direct"))]
fn simulate<'py>(
    py: Python<'py>,
    counts: Vec<usize>,
    dim: usize,
    snr: f64,
    method: &str,
    tau: Option<f64>,
    gamma: Option<f64>,
    margin: Option<f64>,
    beta: Option<f64>,
    time: Option<&Bound<'py, PyAny>>,
    sigma: f64,
    means: &str,
    seeds: usize,
    seed: u64,
    test_per_class: usize,
    sampler: &str,
) -> PyResult<Bound<'py, PyDict>> {
    let method = self::method(method, tau, gamma, margin, beta)?;
    let h = horizon(time, "inf")?;
    check_method_horizon(&method, h)?;
    if seeds == 0 {
        return Err(value_error("seeds: must be at least 1"));
    }
    if test_per_class == 0 {
        return Err(value_error("test_per_class: must be at least 1"));
    }
    let sampler: Sampler = sampler.parse().map_err(pipeline_error)?;
    // Checked once up front, so that bad input fails before any work.
    mixture(
        counts.clone(),
        dim,
        snr,
        sigma,
        means,
        &mut Pcg64::seed_from_u64(seed),
    )?;
    let means = means.to_string();
    let runs = py.detach(|| -> PyResult<(PerSeed, PerSeed)> {
        let opts = FlowOptions::default();
        let (mut sampled, mut exact) = (Vec::new(), Vec::new());
        for i in 0..seeds {
            let mut rng = Pcg64::seed_from_u64(seed.wrapping_add(i as u64));
            let mixture = mixture(counts.clone(), dim, snr, sigma, &means, &mut rng)?;
            let run = simulate_gmm(
                &mixture,
                &method,
                h,
                sampler,
                test_per_class,
                &opts,
                &mut rng,
            )
            .map_err(pipeline_error)?;
            sampled.push(run.sampled_error);
            exact.push(run.exact_error);
        }
        Ok((sampled, exact))
    })?;
    let (mean, std) = per_class_mean_std(&runs.0);
    let (exact_mean, exact_std) = per_class_mean_std(&runs.1);
    let d = summary(py, mean)?;
    d.set_item("per_class_error_std", PyArray1::from_vec(py, std))?;
    d.set_item("exact_per_class_error", PyArray1::from_vec(py, exact_mean))?;
    d.set_item(
        "exact_per_class_error_std",
        PyArray1::from_vec(py, exact_std),
    )?;
    Ok(d)
}

/// A matrix from Python: borrowed from a C- or Fortran-contiguous float64 array, otherwise
/// (float32, or strided) copied into a float64 matrix.
enum Matrix<'py> {
    RowMajor(PyReadonlyArray2<'py, f64>),
    ColMajor(PyReadonlyArray2<'py, f64>),
    Owned(Mat<f64>),
}

impl Matrix<'_> {
    fn view(&self) -> MatRef<'_, f64> {
        match self {
            Matrix::RowMajor(a) => {
                let [r, c] = [a.shape()[0], a.shape()[1]];
                MatRef::from_row_major_slice(a.as_slice().expect("C-contiguous"), r, c)
            }
            Matrix::ColMajor(a) => {
                let [r, c] = [a.shape()[0], a.shape()[1]];
                MatRef::from_column_major_slice(a.as_slice().expect("F-contiguous"), r, c)
            }
            Matrix::Owned(m) => m.as_ref(),
        }
    }
}

/// Reads the 2-D float array `name`, checking that every entry is finite.
fn matrix<'py>(name: &str, obj: &Bound<'py, PyAny>) -> PyResult<Matrix<'py>> {
    let bad = |what: String| {
        value_error(format!(
            "{name}: expected a 2-D NumPy array of float32 or float64 (samples x features), got {what}"
        ))
    };
    let m = if let Ok(a) = obj.cast::<PyArray2<f64>>() {
        let a = a
            .try_readonly()
            .map_err(|e| value_error(format!("{name}: {e}")))?;
        if a.is_c_contiguous() {
            Matrix::RowMajor(a)
        } else if a.is_fortran_contiguous() {
            Matrix::ColMajor(a)
        } else {
            let v = a.as_array();
            Matrix::Owned(Mat::from_fn(v.nrows(), v.ncols(), |i, j| v[(i, j)]))
        }
    } else if let Ok(a) = obj.cast::<PyArray2<f32>>() {
        let a = a
            .try_readonly()
            .map_err(|e| value_error(format!("{name}: {e}")))?;
        let v = a.as_array();
        Matrix::Owned(Mat::from_fn(v.nrows(), v.ncols(), |i, j| {
            f64::from(v[(i, j)])
        }))
    } else if let Ok(a) = obj.cast::<PyUntypedArray>() {
        return Err(bad(format!(
            "an array of dtype {} and shape {:?}",
            a.dtype(),
            a.shape()
        )));
    } else {
        return Err(bad(format!("{}", obj.get_type().name()?)));
    };
    let v = m.view();
    for j in 0..v.ncols() {
        for i in 0..v.nrows() {
            let x = v[(i, j)];
            if !x.is_finite() {
                return Err(value_error(format!(
                    "{name}: entry [{i}, {j}] is {x}; every entry must be finite"
                )));
            }
        }
    }
    Ok(m)
}

/// Reads the labels `name`: a 1-D sequence of non-negative integers.
fn labels(name: &str, obj: &Bound<'_, PyAny>) -> PyResult<Vec<usize>> {
    let v: Vec<i64> = obj.extract().map_err(|_| {
        value_error(format!(
            "{name}: expected a 1-D sequence or array of non-negative integer class labels"
        ))
    })?;
    v.iter()
        .map(|&l| {
            usize::try_from(l).map_err(|_| {
                value_error(format!(
                    "{name}: label {l} is negative; labels are classes 0..K-1"
                ))
            })
        })
        .collect()
}

/// Trains `method` to `time` by exact gradient flow on given features (rows of `features`,
/// with `labels`) mapped through `feature_map`, and measures its per-class error on
/// `test_features` / `test_labels` (`PreparedGram::from_features` then `measure`).
#[pyfunction]
#[pyo3(signature = (features, labels, test_features, test_labels, *, method, tau=None, gamma=None, margin=None, beta=None, time=None, feature_map="identity", seed=0, classes=None))]
fn train<'py>(
    py: Python<'py>,
    features: &Bound<'py, PyAny>,
    labels: &Bound<'py, PyAny>,
    test_features: &Bound<'py, PyAny>,
    test_labels: &Bound<'py, PyAny>,
    method: &str,
    tau: Option<f64>,
    gamma: Option<f64>,
    margin: Option<f64>,
    beta: Option<f64>,
    time: Option<&Bound<'py, PyAny>>,
    feature_map: &str,
    seed: u64,
    classes: Option<usize>,
) -> PyResult<Bound<'py, PyDict>> {
    let method = self::method(method, tau, gamma, margin, beta)?;
    let h = horizon(time, "1e7")?;
    check_method_horizon(&method, h)?;
    let spec: FeatureSpec = feature_map.parse().map_err(pipeline_error)?;
    let x = matrix("features", features)?;
    let x_test = matrix("test_features", test_features)?;
    let y = self::labels("labels", labels)?;
    let y_test = self::labels("test_labels", test_labels)?;
    let k = match classes {
        Some(k) => k,
        None => y.iter().copied().max().map_or(0, |m| m + 1),
    };
    let (xv, xtv) = (x.view(), x_test.view());
    if xtv.ncols() != xv.ncols() {
        return Err(value_error(format!(
            "test_features: has {} columns, but features has {}",
            xtv.ncols(),
            xv.ncols()
        )));
    }
    let (prepared, measured) = py
        .detach(|| -> imbalance_pipeline::Result<_> {
            let map = FeatureMap::new(spec, xv.ncols(), &mut Pcg64::seed_from_u64(seed))?;
            let prepared = PreparedGram::from_features(&map, xv, y, xtv, y_test, k)?;
            let measured = prepared.measure(&method, h, &FlowOptions::default())?;
            Ok((prepared, measured))
        })
        .map_err(pipeline_error)?;
    let d = summary(py, measured.per_class_error)?;
    d.set_item("counts", prepared.counts.clone())?;
    d.set_item("test_per_class", prepared.test_counts.clone())?;
    d.set_item("time_scale", prepared.time_scale())?;
    let a = &measured.trained.a;
    let dual = Array2::from_shape_fn((a.nrows(), a.ncols()), |(i, j)| a[(i, j)]);
    d.set_item("dual", dual.into_pyarray(py))?;
    Ok(d)
}

/// The `imbalance` Python module.
#[pymodule]
fn imbalance(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(predict, m)?)?;
    m.add_function(wrap_pyfunction!(tune, m)?)?;
    m.add_function(wrap_pyfunction!(simulate, m)?)?;
    m.add_function(wrap_pyfunction!(train, m)?)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
