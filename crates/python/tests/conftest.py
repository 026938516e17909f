"""Shared helpers: the release CLI the Python functions are compared with."""

import json
import os
import pathlib
import subprocess

import numpy as np
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[3]


def cli_binary() -> pathlib.Path:
    """$IMBALANCE_BIN, else the workspace's release build (`cargo build --release`)."""
    path = pathlib.Path(os.environ.get("IMBALANCE_BIN", ROOT / "target" / "release" / "imbalance"))
    if not path.is_file():
        pytest.fail(f"no imbalance binary at {path}: run `cargo build --release` or set IMBALANCE_BIN")
    return path


def cli_json(*args: str) -> dict:
    """Runs `imbalance ARGS --json` and returns the parsed output."""
    out = subprocess.run(
        [str(cli_binary()), *args, "--json"], capture_output=True, text=True, check=False
    )
    assert out.returncode == 0, f"imbalance {' '.join(args)} failed: {out.stderr}"
    return json.loads(out.stdout)


def assert_same(py_value, cli_value) -> None:
    """Equal up to last-digit noise (same code path: in practice bit-equal)."""
    np.testing.assert_allclose(np.asarray(py_value, dtype=float), np.asarray(cli_value, dtype=float),
                               rtol=1e-12, atol=1e-15)


def assert_errors_match(py: dict, cli: dict, keys=("per_class_error", "balanced_error", "worst_class_error")) -> None:
    for key in keys:
        assert key in py, f"missing {key}"
        assert_same(py[key], cli[key])
