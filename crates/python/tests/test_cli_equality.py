"""Every function against the command line's --json output on the same inputs."""

import imbalance
import pytest

from conftest import assert_errors_match, assert_same, cli_json

PREDICT_CASES = [
    # (python kwargs, CLI flags)
    (dict(counts=[200, 20], dim=2000, snr=5, method="la", tau=1.0, time=1e4),
     "--counts 200,20 --dim 2000 --snr 5 --method la --tau 1.0 --time 1e4"),
    (dict(counts=[100, 30, 10], dim=500, snr=3.5, method="ce"),
     "--counts 100,30,10 --dim 500 --snr 3.5 --method ce"),
    (dict(counts=[80, 8], dim=400, snr=4, method="posthoc", tau=0.7, time="3e3"),
     "--counts 80,8 --dim 400 --snr 4 --method posthoc --tau 0.7 --time 3e3"),
    (dict(counts=[60, 20, 5], dim=300, snr=3, method="wce", beta=0.5, time=1e3, sigma=0.8,
          means="random", seed=7),
     "--counts 60,20,5 --dim 300 --snr 3 --method wce --beta 0.5 --time 1e3 --noise 0.8 --means random --seed 7"),
    (dict(counts=[50, 10], dim=1000, snr=4, method="cdt", gamma=0.3, time=float("inf")),
     "--counts 50,10 --dim 1000 --snr 4 --method cdt --gamma 0.3 --time inf"),
]


@pytest.mark.parametrize("kwargs,flags", PREDICT_CASES)
def test_predict_equals_cli(kwargs, flags):
    py = imbalance.predict(**kwargs)
    cli = cli_json("predict", *flags.split())
    assert_errors_match(py, cli)
    assert py["per_class_error_se"].shape == (len(kwargs["counts"]),)
    assert_same(py["per_class_error_se"], cli["per_class_error_se"])


@pytest.mark.parametrize("kwargs,flags", [
    (dict(counts=[200, 20], dim=2000, snr=5, method="la", time=1e4),
     "--counts 200,20 --dim 2000 --snr 5 --method la --time 1e4"),
    (dict(counts=[60, 20, 5], dim=300, snr=3, method="cdt", objective="worst", means="random", seed=3),
     "--counts 60,20,5 --dim 300 --snr 3 --method cdt --objective worst --means random --seed 3"),
])
def test_tune_equals_cli(kwargs, flags):
    py = imbalance.tune(**kwargs)
    cli = cli_json("tune", *flags.split())
    assert_errors_match(py, cli)
    assert py["best"]["param"] == cli["best"]["param"]
    assert_same(py["best"]["value"], cli["best"]["value"])
    assert_same(py["objective_value"], cli["objective_value"])
    assert py["curve"].shape == (len(cli["curve"]), 2)
    assert_same(py["curve"], cli["curve"])


SIMULATE_KEYS = ("per_class_error", "balanced_error", "worst_class_error", "per_class_error_std",
                 "exact_per_class_error", "exact_per_class_error_std")


@pytest.mark.parametrize("kwargs,flags", [
    (dict(counts=[20, 5], dim=200, snr=3, method="ce", seeds=2, seed=3, test_per_class=500),
     "--counts 20,5 --dim 200 --snr 3 --method ce --seeds 2 --seed 3 --test-per-class 500"),
    # Random means: each seed draws its own means from the same generator as its training set.
    (dict(counts=[30, 10, 4], dim=150, snr=2.5, method="la", tau=1.0, time=500, means="random",
          seeds=3, seed=11, test_per_class=300, sigma=1.2),
     "--counts 30,10,4 --dim 150 --snr 2.5 --method la --tau 1.0 --time 500 --means random "
     "--seeds 3 --seed 11 --test-per-class 300 --noise 1.2"),
    (dict(counts=[15, 5], dim=60, snr=3, method="ldam", margin=1.5, time=200, sampler="explicit",
          test_per_class=400),
     "--counts 15,5 --dim 60 --snr 3 --method ldam --margin 1.5 --time 200 --sampler explicit "
     "--test-per-class 400"),
])
def test_simulate_equals_cli(kwargs, flags):
    assert_errors_match(imbalance.simulate(**kwargs), cli_json("simulate", *flags.split()), SIMULATE_KEYS)


def test_issue_example_prints_the_cli_errors():
    """The README's one-liner: same per-class errors as `imbalance predict ... --json`."""
    py = imbalance.predict(counts=[200, 20], dim=2000, snr=5, method="la", tau=1.0, time=1e4)
    cli = cli_json("predict", *"--counts 200,20 --dim 2000 --snr 5 --method la --tau 1.0 --time 1e4".split())
    assert py["per_class_error"].tolist() == cli["per_class_error"]
