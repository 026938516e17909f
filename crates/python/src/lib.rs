//! Python bindings of `imbalance` (module `imbalance`): thin wrappers that turn Python
//! arguments into the library's types, call the same `imbalance_pipeline` / `imbalance_theory`
//! functions the command line calls, and return NumPy arrays and plain dicts.
//!
//! `predict`, `tune`, `simulate` and `run_config` run a sweep configuration through
//! `imbalance_cli::sweep::run_config`, the code path of `imbalance predict|tune|simulate
//! --json` itself, so their results are the CLI's `--json` objects.
//!
//! Every long call runs on a worker thread without the GIL while the calling thread checks
//! Python's signal handlers ([`interruptible`]), so Ctrl-C raises `KeyboardInterrupt` within
//! about a second instead of after the call.

use faer::{Mat, MatRef};
use imbalance_gradflow::{FlowOptions, Horizon};
use imbalance_losses::Method;
use imbalance_pipeline::rand::SeedableRng;
use imbalance_pipeline::rand_pcg::Pcg64;
use imbalance_pipeline::request::{self, MethodSpec};
use imbalance_pipeline::{FeatureMap, FeatureSpec, PreparedGram, fit_anisotropic};
use imbalance_theory::PredictOptions;
use numpy::ndarray::Array2;
use numpy::{
    IntoPyArray, PyArray1, PyArray2, PyArrayMethods, PyReadonlyArray2, PyUntypedArray,
    PyUntypedArrayMethods,
};
use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyDict;
use serde_json::{Map, Value, json};

/// How often a long call lets Python run its signal handlers.
const SIGNAL_CHECK: std::time::Duration = std::time::Duration::from_millis(50);

/// Runs `work` on a worker thread, without the GIL, while this thread runs Python's signal
/// handlers every [`SIGNAL_CHECK`]. When a handler raises (Ctrl-C: `KeyboardInterrupt`), the
/// library is asked to stop ([`imbalance_core::interrupt`]; its long loops look at the
/// request at least about once a second), the worker's result is discarded, and the
/// exception is raised. Signal handlers run only on Python's main thread, so a call from
/// another thread is simply not interruptible.
fn interruptible<T: Send>(py: Python<'_>, work: impl FnOnce() -> T + Send) -> PyResult<T> {
    use imbalance_core::interrupt;
    use std::sync::mpsc;
    std::thread::scope(|scope| {
        let (done, mut finished) = mpsc::channel();
        let worker = scope.spawn(move || {
            let out = work();
            // The receiver may be gone only if this thread panicked; nothing to tell then.
            let _ = done.send(());
            out
        });
        let join = |worker: std::thread::ScopedJoinHandle<'_, T>| {
            worker
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
        };
        loop {
            // The receiver is Send but not Sync, so it moves into the GIL-free wait and back.
            let (ended, rx) = py.detach(move || (finished.recv_timeout(SIGNAL_CHECK), finished));
            finished = rx;
            if !matches!(ended, Err(mpsc::RecvTimeoutError::Timeout)) {
                return Ok(join(worker));
            }
            if let Err(e) = py.check_signals() {
                interrupt::request();
                py.detach(|| drop(join(worker)));
                interrupt::clear();
                return Err(e);
            }
        }
    })
}

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

/// `time`: a positive number, `float("inf")`, or a string such as `"1e4"` / `"inf"`, parsed
/// and range-checked as every front end does ([`request::horizon`]).
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
    request::horizon(&text).map_err(pipeline_error)
}

/// The method with its hyperparameters ([`MethodSpec::method`]: ranges checked, and a
/// hyperparameter the method does not take is an error).
fn method(
    name: &str,
    tau: Option<f64>,
    gamma: Option<f64>,
    margin: Option<f64>,
    beta: Option<f64>,
) -> PyResult<Method> {
    let spec = MethodSpec {
        method: name.to_string(),
        tau,
        gamma,
        margin,
        beta,
    };
    spec.method().map_err(pipeline_error)
}

/// The fields every result has: per-class errors (checked finite), their mean and their
/// maximum (computed as the CLI's `ErrorSummary`).
fn summary<'py>(py: Python<'py>, per_class: Vec<f64>) -> PyResult<Bound<'py, PyDict>> {
    request::check_finite("per-class error", &per_class).map_err(pipeline_error)?;
    let balanced = per_class.iter().sum::<f64>() / per_class.len().max(1) as f64;
    let worst = per_class.iter().copied().fold(0.0, f64::max);
    let d = PyDict::new(py);
    d.set_item("per_class_error", PyArray1::from_vec(py, per_class))?;
    d.set_item("balanced_error", balanced)?;
    d.set_item("worst_class_error", worst)?;
    Ok(d)
}

/// A command line error as a Python exception: `RuntimeError` for a solver that failed on
/// valid input, `ValueError` (with the one-line message naming the field) otherwise.
fn cli_error(e: imbalance_cli::Error) -> PyErr {
    if e.is_solver_failure() {
        PyRuntimeError::new_err(e.to_string())
    } else {
        value_error(e)
    }
}

/// A Python object (dicts, lists, numbers, strings; NumPy scalars and arrays through
/// `tolist()`) as JSON.
fn to_json(py: Python<'_>, obj: &Bound<'_, PyAny>, what: &str) -> PyResult<Value> {
    let kwargs = PyDict::new(py);
    kwargs.set_item("allow_nan", false)?;
    kwargs.set_item(
        "default",
        py.import("operator")?
            .getattr("methodcaller")?
            .call1(("tolist",))?,
    )?;
    let text: String = py
        .import("json")?
        .call_method("dumps", (obj,), Some(&kwargs))
        .and_then(|t| t.extract())
        .map_err(|e| {
            value_error(format!(
                "{what}: cannot be written as JSON ({e}); give numbers, strings, lists and dicts (time \"inf\" as a string)"
            ))
        })?;
    serde_json::from_str(&text).map_err(|e| value_error(format!("{what}: {e}")))
}

/// JSON as Python objects (dicts, lists, floats, ints, strings).
fn from_json<'py>(py: Python<'py>, value: &Value) -> PyResult<Bound<'py, PyAny>> {
    py.import("json")?
        .call_method1("loads", (value.to_string(),))
}

/// Runs one configuration (the schema of `imbalance sweep`): the command's `--json` object.
fn run_json(py: Python<'_>, config: Value) -> PyResult<Value> {
    interruptible(py, || imbalance_cli::sweep::run_config(&config))?.map_err(cli_error)
}

/// Runs one sweep configuration, a dict {"command": "predict" | "simulate" | "tune", field:
/// value, ...} with the command's flags as fields (`n_max` for `--n-max`), and returns exactly
/// what `imbalance COMMAND ... --json` prints, as plain Python objects.
#[pyfunction]
fn run_config<'py>(py: Python<'py>, config: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
    let config = to_json(py, config, "config")?;
    let out = run_json(py, config)?;
    from_json(py, &out)
}

/// Expands a sweep SPEC (a dict: base, configs, grid) into its configurations in the order of
/// `imbalance sweep` and checks each; returns a list of {"index", "id", "config"}.
#[pyfunction]
fn expand_sweep<'py>(py: Python<'py>, spec: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
    let spec = to_json(py, spec, "spec")?;
    let configs = py
        .detach(|| imbalance_cli::sweep::expand_checked(&spec))
        .map_err(cli_error)?;
    let entries: Vec<Value> = configs
        .into_iter()
        .enumerate()
        .map(|(index, config)| {
            json!({"index": index, "id": imbalance_cli::sweep::config_id(&config), "config": config})
        })
        .collect();
    from_json(py, &Value::Array(entries))
}

/// The stable id of a configuration (as in the lines of `imbalance sweep`).
#[pyfunction]
fn config_id(py: Python<'_>, config: &Bound<'_, PyAny>) -> PyResult<String> {
    Ok(imbalance_cli::sweep::config_id(&to_json(
        py, config, "config",
    )?))
}

/// Configuration fields from keyword arguments (`None` ones left out).
struct Fields(Map<String, Value>);

impl Fields {
    fn new(command: &str) -> Self {
        let mut m = Map::new();
        m.insert("command".into(), json!(command));
        Fields(m)
    }

    fn put(&mut self, name: &str, value: Option<impl Into<Value>>) -> &mut Self {
        if let Some(v) = value {
            self.0.insert(name.into(), v.into());
        }
        self
    }

    /// `time`: a number (`float("inf")` becomes "inf") or a string.
    fn time(&mut self, time: Option<&Bound<'_, PyAny>>) -> PyResult<&mut Self> {
        let Some(t) = time else { return Ok(self) };
        let v = if let Ok(s) = t.extract::<String>() {
            json!(s)
        } else if let Ok(x) = t.extract::<f64>() {
            if x == f64::INFINITY {
                json!("inf")
            } else {
                // NaN becomes null, which the check names as a bad time.
                json!(x)
            }
        } else {
            return Err(value_error(format!(
                "time: expected a positive number or \"inf\", got {}",
                t.repr()?
            )));
        };
        self.0.insert("time".into(), v);
        Ok(self)
    }

    /// The mixture's fields (`sigma` is the CLI's `noise`).
    fn mixture(&mut self, m: Mix<'_>) -> &mut Self {
        self.put("counts", m.counts)
            .put("profile", m.profile)
            .put("classes", m.classes)
            .put("n_max", m.n_max)
            .put("ratio", m.ratio)
            .put("minority_classes", m.minority_classes)
            .put("dim", Some(m.dim))
            .put("snr", Some(m.snr))
            .put("noise", Some(m.sigma))
            .put("means", Some(m.means))
    }

    fn method(&mut self, method: &str, p: [Option<f64>; 4]) -> &mut Self {
        self.put("method", Some(method))
            .put("tau", p[0])
            .put("gamma", p[1])
            .put("margin", p[2])
            .put("beta", p[3])
    }

    /// Runs the configuration; the listed keys become float64 NumPy arrays.
    fn run<'py>(&self, py: Python<'py>, arrays: &[&str]) -> PyResult<Bound<'py, PyDict>> {
        let out = run_json(py, Value::Object(self.0.clone()))?;
        let d = from_json(py, &out)?.cast_into::<PyDict>()?;
        let np = py.import("numpy")?;
        for key in arrays {
            if let Some(v) = d.get_item(key)? {
                d.set_item(key, np.call_method1("asarray", (v, "float64"))?)?;
            }
        }
        Ok(d)
    }
}

/// The mixture's keyword arguments.
struct Mix<'a> {
    counts: Option<Vec<usize>>,
    profile: Option<&'a str>,
    classes: Option<usize>,
    n_max: Option<usize>,
    ratio: Option<f64>,
    minority_classes: Option<usize>,
    dim: usize,
    snr: f64,
    sigma: f64,
    means: &'a str,
}

/// Predicts the per-class test errors of `method` trained to `time` on the Gaussian mixture
/// by the mean-field theory: `imbalance predict --json` (the same code path).
#[pyfunction]
#[pyo3(signature = (*, counts=None, profile=None, classes=None, n_max=None, ratio=None, minority_classes=None, dim, snr, method, tau=None, gamma=None, margin=None, beta=None, time=None, sigma=1.0, means="orthogonal", seed=0))]
fn predict<'py>(
    py: Python<'py>,
    counts: Option<Vec<usize>>,
    profile: Option<&str>,
    classes: Option<usize>,
    n_max: Option<usize>,
    ratio: Option<f64>,
    minority_classes: Option<usize>,
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
    let mix = Mix {
        counts,
        profile,
        classes,
        n_max,
        ratio,
        minority_classes,
        dim,
        snr,
        sigma,
        means,
    };
    Fields::new("predict")
        .mixture(mix)
        .method(method, [tau, gamma, margin, beta])
        .put("seed", Some(seed))
        .time(time)?
        .run(py, &["per_class_error", "per_class_error_se"])
}

/// Tunes the hyperparameter of `method` by the theory's `objective`: `imbalance tune --json`.
#[pyfunction]
#[pyo3(signature = (*, counts=None, profile=None, classes=None, n_max=None, ratio=None, minority_classes=None, dim, snr, method, objective="balanced", time=None, sigma=1.0, means="orthogonal", seed=0))]
fn tune<'py>(
    py: Python<'py>,
    counts: Option<Vec<usize>>,
    profile: Option<&str>,
    classes: Option<usize>,
    n_max: Option<usize>,
    ratio: Option<f64>,
    minority_classes: Option<usize>,
    dim: usize,
    snr: f64,
    method: &str,
    objective: &str,
    time: Option<&Bound<'py, PyAny>>,
    sigma: f64,
    means: &str,
    seed: u64,
) -> PyResult<Bound<'py, PyDict>> {
    let mix = Mix {
        counts,
        profile,
        classes,
        n_max,
        ratio,
        minority_classes,
        dim,
        snr,
        sigma,
        means,
    };
    Fields::new("tune")
        .mixture(mix)
        .put("method", Some(method))
        .put("objective", Some(objective))
        .put("seed", Some(seed))
        .time(time)?
        .run(py, &["per_class_error", "per_class_error_se", "curve"])
}

/// Simulates: samples `seeds` training sets from the mixture, trains `method` to `time` by
/// exact gradient flow and measures per-class errors: `imbalance simulate --json` (seed i
/// uses `seed + i`, for the random means as well as the training set).
#[pyfunction]
#[pyo3(signature = (*, counts=None, profile=None, classes=None, n_max=None, ratio=None, minority_classes=None, dim, snr, method, tau=None, gamma=None, margin=None, beta=None, time=None, sigma=1.0, means="orthogonal", seeds=1, seed=0, test_per_class=None, sampler="direct"))]
fn simulate<'py>(
    py: Python<'py>,
    counts: Option<Vec<usize>>,
    profile: Option<&str>,
    classes: Option<usize>,
    n_max: Option<usize>,
    ratio: Option<f64>,
    minority_classes: Option<usize>,
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
    test_per_class: Option<usize>,
    sampler: &str,
) -> PyResult<Bound<'py, PyDict>> {
    let mix = Mix {
        counts,
        profile,
        classes,
        n_max,
        ratio,
        minority_classes,
        dim,
        snr,
        sigma,
        means,
    };
    Fields::new("simulate")
        .mixture(mix)
        .method(method, [tau, gamma, margin, beta])
        .put("seeds", Some(seeds))
        .put("seed", Some(seed))
        .put("test_per_class", test_per_class)
        .put("sampler", Some(sampler))
        .time(time)?
        .run(
            py,
            &[
                "per_class_error",
                "per_class_error_std",
                "exact_per_class_error",
                "exact_per_class_error_std",
            ],
        )
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
    request::check_method_horizon(&method, h).map_err(pipeline_error)?;
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
    let (prepared, measured) = interruptible(py, || -> imbalance_pipeline::Result<_> {
        let map = FeatureMap::new(spec, xv.ncols(), &mut Pcg64::seed_from_u64(seed))?;
        let prepared = PreparedGram::from_features(&map, xv, y, xtv, y_test, k)?;
        let measured = prepared.measure(&method, h, &FlowOptions::default())?;
        Ok((prepared, measured))
    })?
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

/// Predicts by the anisotropic theory the per-class errors of `method` trained to `time` on
/// a training set with `counts` per class drawn from the distribution of `features` (rows,
/// with `labels`; a class-balanced sample, at least 4 rows per class) mapped through
/// `feature_map`: the per-class feature moments are estimated from these rows, as
/// `imbalance train --predict` does from its moment sample (`fit_anisotropic`).
#[pyfunction]
#[pyo3(signature = (features, labels, *, counts, method, tau=None, gamma=None, margin=None, beta=None, time=None, feature_map="identity", seed=0))]
fn predict_features<'py>(
    py: Python<'py>,
    features: &Bound<'py, PyAny>,
    labels: &Bound<'py, PyAny>,
    counts: Vec<usize>,
    method: &str,
    tau: Option<f64>,
    gamma: Option<f64>,
    margin: Option<f64>,
    beta: Option<f64>,
    time: Option<&Bound<'py, PyAny>>,
    feature_map: &str,
    seed: u64,
) -> PyResult<Bound<'py, PyDict>> {
    let method = self::method(method, tau, gamma, margin, beta)?;
    let h = horizon(time, "1e7")?;
    request::check_method_horizon(&method, h).map_err(pipeline_error)?;
    let spec: FeatureSpec = feature_map.parse().map_err(pipeline_error)?;
    let x = matrix("features", features)?;
    let y = self::labels("labels", labels)?;
    let k = counts.len();
    if let Some(&l) = y.iter().find(|&&l| l >= k) {
        return Err(value_error(format!(
            "labels: label {l} is not a class 0..{} (counts gives {k} classes)",
            k.saturating_sub(1)
        )));
    }
    if let Some(c) = counts.iter().position(|&n| n == 0) {
        return Err(value_error(format!(
            "counts: class {c} has 0 training samples; every class needs at least 1"
        )));
    }
    let xv = x.view();
    let (fit, prediction) = interruptible(py, || -> imbalance_pipeline::Result<_> {
        let map = FeatureMap::new(spec, xv.ncols(), &mut Pcg64::seed_from_u64(seed))?;
        let fit = fit_anisotropic(&map, xv, &y, &counts)?;
        let p = imbalance_theory::predict(&fit.stats, &method, h, &PredictOptions::default())?;
        Ok((fit, p))
    })?
    .map_err(pipeline_error)?;
    let d = summary(py, prediction.per_class_error)?;
    d.set_item("moment_samples", fit.moment_samples)?;
    d.set_item("effective_rank", PyArray1::from_vec(py, fit.effective_rank))?;
    d.set_item("psd_correction", fit.psd_correction)?;
    Ok(d)
}

/// The `imbalance` Python module.
#[pymodule]
fn imbalance(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(predict, m)?)?;
    m.add_function(wrap_pyfunction!(tune, m)?)?;
    m.add_function(wrap_pyfunction!(simulate, m)?)?;
    m.add_function(wrap_pyfunction!(train, m)?)?;
    m.add_function(wrap_pyfunction!(predict_features, m)?)?;
    m.add_function(wrap_pyfunction!(run_config, m)?)?;
    m.add_function(wrap_pyfunction!(expand_sweep, m)?)?;
    m.add_function(wrap_pyfunction!(config_id, m)?)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
