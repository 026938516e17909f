"""Type stubs of the `imbalance` extension module (built from crates/python/src/lib.rs)."""

from typing import Literal, Optional, Sequence, TypedDict, Union

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

class Best(TypedDict):
    param: str
    value: float

class Tuned(Errors):
    best: Best
    objective_value: float
    curve: npt.NDArray[np.float64]
    """The coarse scan, one row (value, objective) per point."""

class Simulated(Errors):
    per_class_error_std: npt.NDArray[np.float64]
    exact_per_class_error: npt.NDArray[np.float64]
    exact_per_class_error_std: npt.NDArray[np.float64]

class Trained(Errors):
    counts: list[int]
    test_per_class: list[int]
    time_scale: float
    dual: npt.NDArray[np.float64]
    """The trained dual A (n x K): the model is W = A^T Phi(X)."""

def predict(
    *,
    counts: Sequence[int],
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
) -> Errors:
    """Mean-field prediction of the per-class errors (as `imbalance predict --json`).

    `time` defaults to inf; `seed` only draws random means."""

def tune(
    *,
    counts: Sequence[int],
    dim: int,
    snr: float,
    method: Method,
    objective: Literal["balanced", "worst"] = "balanced",
    time: Optional[Time] = None,
    sigma: float = 1.0,
    means: Literal["orthogonal", "random"] = "orthogonal",
    seed: int = 0,
) -> Tuned:
    """Tunes the method's hyperparameter by the theory (as `imbalance tune --json`)."""

def simulate(
    *,
    counts: Sequence[int],
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
    test_per_class: int = 10000,
    sampler: Literal["direct", "explicit"] = "direct",
) -> Simulated:
    """Exact gradient flow on sampled training sets, mean and std over `seeds` runs (seed i
    uses `seed + i`), as `imbalance simulate --json`."""

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
