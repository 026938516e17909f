"""Type stubs of the `imbalance` extension module (built from crates/python/src/lib.rs)."""

from typing import Any, Literal, Optional, Sequence, TypedDict, Union

import numpy as np
import numpy.typing as npt

__version__: str

Time = Union[float, str]
"""A positive training time T, or ``float("inf")`` / ``"inf"`` (the max-margin limit)."""

Method = Literal["ce", "wce", "la", "posthoc", "cdt", "ldam", "vs"]
Labels = Union[Sequence[int], npt.NDArray[np.integer]]
Features = Union[npt.NDArray[np.float32], npt.NDArray[np.float64]]

class Errors(TypedDict):
    per_class_error: npt.NDArray[np.float64]
    balanced_error: float
    worst_class_error: float

class CliResult(Errors):
    seconds: float
    """Wall time of the run (the one field that differs between runs)."""
    config: dict[str, Any]
    """The run's configuration as the CLI's --json reports it (counts, method, params, time)."""

class Predicted(CliResult):
    per_class_error_se: npt.NDArray[np.float64]
    """Standard error of each class's error (0 where a deterministic path answered)."""
    orthant: dict[str, Any]
    """How the orthant probabilities were computed and their largest error bound."""

class Best(TypedDict):
    param: str
    value: float

class Tuned(CliResult):
    per_class_error_se: npt.NDArray[np.float64]
    """Standard error of each class's error at the best value."""
    best: Best
    objective_value: float
    curve: npt.NDArray[np.float64]
    """The coarse scan, one row (value, objective) per point."""

class Simulated(CliResult):
    per_class_error_std: npt.NDArray[np.float64]
    exact_per_class_error: npt.NDArray[np.float64]
    exact_per_class_error_std: npt.NDArray[np.float64]
    exact_error_path: str
    """How the exact errors were computed: Genz per class, or a shared Monte Carlo (K >= 17)."""

class Trained(Errors):
    counts: list[int]
    test_per_class: list[int]
    time_scale: float
    dual: npt.NDArray[np.float64]
    """The trained dual A (n x K): the model is W = A^T Phi(X)."""

class FeaturePrediction(Errors):
    moment_samples: int
    """Rows per class the moments were estimated from (the smallest class's)."""
    effective_rank: npt.NDArray[np.float64]
    psd_correction: float

class SweepEntry(TypedDict):
    index: int
    id: str
    config: dict[str, Any]

Profile = Literal["step", "exp"]

def predict(
    *,
    counts: Optional[Sequence[int]] = None,
    profile: Optional[Profile] = None,
    classes: Optional[int] = None,
    n_max: Optional[int] = None,
    ratio: Optional[float] = None,
    minority_classes: Optional[int] = None,
    dim: int,
    snr: float,
    method: Method,
    tau: Optional[float] = None,
    gamma: Optional[float] = None,
    margin: Optional[float] = None,
    beta: Optional[float] = None,
    time: Optional[Time] = None,
    sigma: float = 1.0,
    means: Literal["orthogonal", "random"] = "orthogonal",
    seed: int = 0,
) -> Predicted:
    """Mean-field prediction of the per-class errors: `imbalance predict --json`.

    Give `counts`, or `profile` with `classes`, `n_max`, `ratio` (and `minority_classes` for
    step). `time` defaults to inf; `seed` only draws random means."""

def tune(
    *,
    counts: Optional[Sequence[int]] = None,
    profile: Optional[Profile] = None,
    classes: Optional[int] = None,
    n_max: Optional[int] = None,
    ratio: Optional[float] = None,
    minority_classes: Optional[int] = None,
    dim: int,
    snr: float,
    method: Method,
    objective: Literal["balanced", "worst"] = "balanced",
    time: Optional[Time] = None,
    sigma: float = 1.0,
    means: Literal["orthogonal", "random"] = "orthogonal",
    seed: int = 0,
) -> Tuned:
    """Tunes the method's hyperparameter by the theory: `imbalance tune --json`."""

def simulate(
    *,
    counts: Optional[Sequence[int]] = None,
    profile: Optional[Profile] = None,
    classes: Optional[int] = None,
    n_max: Optional[int] = None,
    ratio: Optional[float] = None,
    minority_classes: Optional[int] = None,
    dim: int,
    snr: float,
    method: Method,
    tau: Optional[float] = None,
    gamma: Optional[float] = None,
    margin: Optional[float] = None,
    beta: Optional[float] = None,
    time: Optional[Time] = None,
    sigma: float = 1.0,
    means: Literal["orthogonal", "random"] = "orthogonal",
    seeds: int = 1,
    seed: int = 0,
    test_per_class: Optional[int] = None,
    sampler: Literal["direct", "explicit"] = "direct",
) -> Simulated:
    """Exact gradient flow on sampled training sets, mean and std over `seeds` runs (seed i
    uses `seed + i`): `imbalance simulate --json`."""

def run_config(config: dict[str, Any]) -> dict[str, Any]:
    """Runs one sweep configuration {"command": "predict" | "simulate" | "tune", field: value}
    (fields: the command's flags, `n_max` for `--n-max`); returns exactly what
    `imbalance COMMAND ... --json` prints, as plain Python objects."""

def expand_sweep(spec: dict[str, Any]) -> list[SweepEntry]:
    """Expands and checks a sweep SPEC ({"base", "configs", "grid"}) in the order of
    `imbalance sweep`: configs first, then each grid's product (axes sorted by name, the last
    varying fastest)."""

def config_id(config: dict[str, Any]) -> str:
    """The stable id of a configuration (16 hex digits of the SHA-256 of its JSON)."""

def predict_features(
    features: Features,
    labels: Labels,
    *,
    counts: Sequence[int],
    method: Method,
    tau: Optional[float] = None,
    gamma: Optional[float] = None,
    margin: Optional[float] = None,
    beta: Optional[float] = None,
    time: Optional[Time] = None,
    feature_map: str = "identity",
    seed: int = 0,
) -> FeaturePrediction:
    """The anisotropic theory's per-class errors for a training set with `counts` per class
    drawn from the distribution of the rows of `features` (a class-balanced sample, >= 4 rows
    per class, labels 0..K-1 with K = len(counts)) mapped through `feature_map`, as
    `imbalance train --predict` computes from its moment sample. `time` defaults to 1e7."""

def train(
    features: Features,
    labels: Labels,
    test_features: Features,
    test_labels: Labels,
    *,
    method: Method,
    tau: Optional[float] = None,
    gamma: Optional[float] = None,
    margin: Optional[float] = None,
    beta: Optional[float] = None,
    time: Optional[Time] = None,
    feature_map: str = "identity",
    seed: int = 0,
    classes: Optional[int] = None,
) -> Trained:
    """Trains by exact gradient flow on the rows of `features` mapped through `feature_map`
    (identity: x / sqrt(d); relu:P, tanh:P, erf:P random features; relu:inf, erf:inf limit
    kernels; random weights drawn with `seed`) and measures per-class test errors.

    `time` defaults to 1e7 (as `imbalance train`); `classes` defaults to max(labels) + 1.
    C- or Fortran-contiguous float64 arrays are read without a copy."""
