"""train() on NumPy arrays: dtypes, layouts, the measurement itself, and bad input."""

import threading
import time as clock

import imbalance
import numpy as np
import pytest


def blobs(n_per_class, d, shift, seed):
    """Gaussian blobs with class c shifted by `shift` along coordinate c."""
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(len(n_per_class)), n_per_class)
    x = rng.normal(size=(len(labels), d))
    x[np.arange(len(labels)), labels] += shift
    return x, labels


@pytest.fixture(scope="module")
def data():
    x, y = blobs([40, 10, 6], 64, 2.5, seed=1)
    xt, yt = blobs([200, 200, 200], 64, 2.5, seed=2)
    return x, y, xt, yt


def run(x, y, xt, yt, **kw):
    kw.setdefault("method", "la")
    kw.setdefault("time", 1e4)
    return imbalance.train(x, y, xt, yt, **kw)


def test_errors_are_the_argmax_of_the_returned_dual(data):
    """Recomputes the per-class errors in NumPy from the returned dual (identity map:
    features x / sqrt(d), so the cross Gram matrix is X_test X^T / d)."""
    x, y, xt, yt = data
    out = run(x, y, xt, yt, method="ce")
    a = out["dual"]
    assert a.shape == (len(y), 3)
    pred = np.argmax(xt @ x.T / x.shape[1] @ a, axis=1)
    expected = [np.mean(pred[yt == c] != c) for c in range(3)]
    np.testing.assert_allclose(out["per_class_error"], expected, rtol=0, atol=1e-12)
    assert out["counts"] == [40, 10, 6]
    assert out["test_per_class"] == [200, 200, 200]
    assert 0.0 < out["balanced_error"] < 0.5
    assert out["worst_class_error"] == max(expected)


def test_layouts_give_identical_results(data):
    x, y, xt, yt = data
    ref = run(x, y, xt, yt)
    fortran = run(np.asfortranarray(x), y, np.asfortranarray(xt), yt)
    # Non-contiguous views: every other column of a wider array, and rows in reverse order.
    wide = np.zeros((x.shape[0], 2 * x.shape[1]))
    wide[:, ::2] = x
    strided = run(wide[:, ::2], y, xt, yt)
    rev = run(x[::-1], y[::-1], xt, yt)
    assert not wide[:, ::2].flags.c_contiguous and not wide[:, ::2].flags.f_contiguous
    for other in (fortran, strided):
        np.testing.assert_array_equal(other["per_class_error"], ref["per_class_error"])
        np.testing.assert_array_equal(other["dual"], ref["dual"])
    # Reversing the training rows reverses the dual (up to summation-order noise).
    np.testing.assert_allclose(rev["dual"][::-1], ref["dual"], rtol=1e-9, atol=1e-12)


def test_float32_equals_float64_of_the_same_values(data):
    x, y, xt, yt = data
    x32, xt32 = x.astype(np.float32), xt.astype(np.float32)
    a = run(x32, y, xt32, yt)
    b = run(x32.astype(np.float64), y, xt32.astype(np.float64), yt)
    np.testing.assert_array_equal(a["per_class_error"], b["per_class_error"])
    np.testing.assert_array_equal(a["dual"], b["dual"])


def test_labels_as_list_or_int32_array(data):
    x, y, xt, yt = data
    a = run(x, y.tolist(), xt, yt.astype(np.int32))
    b = run(x, y, xt, yt)
    np.testing.assert_array_equal(a["per_class_error"], b["per_class_error"])


def test_random_features_depend_on_the_seed_only(data):
    x, y, xt, yt = data
    a = run(x, y, xt, yt, feature_map="relu:300", seed=5)
    b = run(x, y, xt, yt, feature_map="relu:300", seed=5)
    c = run(x, y, xt, yt, feature_map="relu:300", seed=6)
    np.testing.assert_array_equal(a["dual"], b["dual"])
    assert not np.array_equal(a["dual"], c["dual"])


@pytest.mark.parametrize("make,match", [
    (lambda x: x.astype(np.int64), r"features: expected a 2-D NumPy array of float32 or float64.*dtype int64"),
    (lambda x: x[:, 0].copy(), r"features: expected a 2-D .*shape \[56\]"),
    (lambda x: x[None], r"features: expected a 2-D .*shape \[1, 56, 64\]"),
    (lambda x: x.tolist(), r"features: expected a 2-D NumPy array .*got list"),
    (lambda x: np.where(np.arange(x.size).reshape(x.shape) == 70, np.nan, x), r"features: entry \[1, 6\] is NaN; every entry must be finite"),
    (lambda x: np.where(np.arange(x.size).reshape(x.shape) == 3, np.inf, x), r"features: entry \[0, 3\] is inf"),
])
def test_bad_features_raise_value_error(data, make, match):
    x, y, xt, yt = data
    with pytest.raises(ValueError, match=match):
        run(make(x), y, xt, yt)


@pytest.mark.parametrize("change,match", [
    (dict(labels=[0, 1]), r"train_labels: 2 labels for 56 training rows"),
    (dict(labels="abc"), r"labels: expected a 1-D sequence or array of non-negative integer class labels"),
    (dict(test_labels=np.full(600, -1)), r"test_labels: label -1 is negative"),
    (dict(test_features=np.zeros((600, 3))), r"test_features: has 3 columns, but features has 64"),
    (dict(classes=2), r"train_labels: label 2 is not a class 0..1"),
    (dict(method="svm"), r"unknown method 'svm'; allowed: ce, wce, la, posthoc, cdt, ldam, vs"),
    (dict(method="ce", tau=1.0), r"method ce does not take"),
    (dict(time=0), r"time: "),
    (dict(time="soon"), r"time: "),
    (dict(method="posthoc", time="inf"), r"time: method posthoc is undefined at T = inf"),
    (dict(feature_map="relu"), r"feature map: "),
    # The ranges every front end shares (imbalance_pipeline::request), as the CLI's flags.
    (dict(time=1e20), r"time: 1e20 is out of range; allowed: a number from 1e-9 to 1e15, or inf"),
    (dict(tau=1e3), r"tau: 1000 is out of range; allowed: a finite number from -100 to 100"),
    (dict(tau=float("nan")), r"tau: NaN is out of range"),
])
def test_bad_arguments_raise_value_error(data, change, match):
    x, y, xt, yt = data
    args = dict(features=x, labels=y, test_features=xt, test_labels=yt, method="la", time=1e4)
    args.update(change)
    with pytest.raises(ValueError, match=match):
        imbalance.train(**args)


@pytest.mark.parametrize("change,match", [
    (dict(method="nope"), r"unknown method 'nope'"),
    (dict(counts=[10, 0]), r"class 1 has 0 training samples; every class needs at least 1"),
    (dict(snr=-1.0), r"^snr: -1 is out of range; allowed: a finite number from 0 to 1e6"),
    (dict(sigma=0.0), r"^noise: 0 is out of range"),
    (dict(dim=1), r"orthogonal means .* need dim >= classes"),
    (dict(means="spiral"), r"^means: invalid value 'spiral'.*possible values: orthogonal, random"),
    (dict(time=-3.0), r"time: "),
    (dict(method="ce", gamma=0.5), r"method ce does not take"),
])
@pytest.mark.parametrize("function", ["predict", "simulate"])
def test_bad_mixture_arguments_raise_value_error(function, change, match):
    args = dict(counts=[10, 3], dim=50, snr=2.0, method="ce")
    args.update(change)
    with pytest.raises(ValueError, match=match):
        getattr(imbalance, function)(**args)


def test_tune_rejects_ce_and_unknown_objective():
    args = dict(counts=[10, 3], dim=50, snr=2.0)
    with pytest.raises(ValueError, match="ce has nothing to tune"):
        imbalance.tune(method="ce", **args)
    with pytest.raises(ValueError, match="unknown objective 'median'; allowed: balanced, worst"):
        imbalance.tune(method="la", objective="median", **args)


def test_simulate_rejects_zero_seeds():
    with pytest.raises(ValueError, match="seeds: must be at least 1"):
        imbalance.simulate(counts=[10, 3], dim=50, snr=2.0, method="ce", seeds=0)


def test_the_gil_is_released_during_simulate():
    """Another Python thread keeps running while simulate works: with the GIL held it could
    only run between calls (a few ticks), not ~1 tick per millisecond of work."""
    inside = 0.0
    done = threading.Event()

    def work():
        nonlocal inside
        while inside < 0.3:
            t = clock.perf_counter()
            imbalance.simulate(counts=[300, 100], dim=600, snr=3, method="la", time=1e4,
                               seeds=4, test_per_class=20000)
            inside += clock.perf_counter() - t
        done.set()

    ticks = 0
    t = threading.Thread(target=work)
    t.start()
    while not done.is_set():
        ticks += 1
        clock.sleep(0.001)
    t.join()
    assert ticks > 100, f"main thread ran {ticks} times during {inside:.2f} s of simulate"


def test_type_stub_matches_the_module():
    """Every function in the stub exists with the same parameters (names and order)."""
    import ast
    import inspect
    import pathlib

    stub = pathlib.Path(__file__).resolve().parents[1] / "imbalance.pyi"
    tree = ast.parse(stub.read_text())
    stubbed = {f.name: f for f in tree.body if isinstance(f, ast.FunctionDef)}
    assert set(stubbed) == {"predict", "tune", "simulate", "train", "predict_features",
                            "run_config", "expand_sweep", "config_id"}
    for name, f in stubbed.items():
        stub_params = [a.arg for a in f.args.args + f.args.kwonlyargs]
        runtime = list(inspect.signature(getattr(imbalance, name)).parameters)
        assert stub_params == runtime, name


def test_installed_package_ships_the_stub_and_py_typed():
    import pathlib

    pkg = pathlib.Path(imbalance.__file__).parent
    assert (pkg / "py.typed").is_file()
    assert (pkg / "__init__.pyi").is_file()


def test_predict_features_equals_cli_train_predict(tmp_path):
    """predict_features on the rows of a pool equals `imbalance train --predict` whose moment
    sample is that whole pool (--moment-samples = rows per class: the U-statistics do not
    depend on the order of the rows). Tolerance 1e-9: the same moments summed in another
    order differ by rounding only (~1e-15), which the theory's ODE carries over smoothly."""
    from conftest import cli_json

    x, y = blobs([30, 30, 30], 64, 2.5, seed=3)
    xt, yt = blobs([50, 50, 50], 64, 2.5, seed=4)
    files = {}
    for name, arr in [("features", x), ("labels", y), ("test-features", xt), ("test-labels", yt)]:
        files[name] = tmp_path / f"{name}.npy"
        np.save(files[name], arr)
    cli = cli_json("train", "--features-file", str(files["features"]), "--labels-file", str(files["labels"]),
                   "--test-features-file", str(files["test-features"]),
                   "--test-labels-file", str(files["test-labels"]), "--counts", "30,10,5",
                   "--features", "identity", "--method", "la", "--time", "1e4", "--predict",
                   "--moment-samples", "30")
    py = imbalance.predict_features(x, y, counts=[30, 10, 5], method="la", time=1e4)
    np.testing.assert_allclose(py["per_class_error"], cli["predicted_per_class_error"], rtol=1e-9, atol=1e-12)
    assert py["moment_samples"] == 30
    assert py["effective_rank"].shape == (3,)
    # float32 rows give the prediction of the same values in float64.
    a = imbalance.predict_features(x.astype(np.float32), y, counts=[30, 10, 5], method="ce", time="inf")
    b = imbalance.predict_features(x.astype(np.float32).astype(np.float64), y, counts=[30, 10, 5],
                                   method="ce", time="inf")
    np.testing.assert_array_equal(a["per_class_error"], b["per_class_error"])


@pytest.mark.parametrize("change,match", [
    (dict(features=np.zeros((90, 64), dtype=np.int32)), r"features: expected a 2-D NumPy array"),
    (dict(counts=[30, 10]), r"labels: label 2 is not a class 0\.\.1"),
    (dict(counts=[30, 0, 5]), r"counts: class 1 has 0 training samples"),
    (dict(method="ce", tau=1.0), r"method ce does not take"),
    (dict(feature_map="relu"), r"feature map: "),
    (dict(method="cdt", gamma=-200.0), r"gamma: -200 is out of range"),
    (dict(time="1e-12"), r"time: 1e-12 is out of range"),
])
def test_predict_features_bad_input(change, match):
    x, y = blobs([30, 30, 30], 64, 2.5, seed=3)
    args = dict(features=x, labels=y, counts=[30, 10, 5], method="la", time=1e4)
    args.update(change)
    with pytest.raises(ValueError, match=match):
        imbalance.predict_features(**args)


def test_predict_features_needs_four_rows_per_class():
    x, y = blobs([30, 3], 16, 2.5, seed=3)
    with pytest.raises(ValueError, match=r"at least 4"):
        imbalance.predict_features(x, y, counts=[30, 3], method="ce", time=1e3)
