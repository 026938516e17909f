"""Sweeps: run_config / expand_sweep against `imbalance sweep`, and the Dask example on a
2-worker LocalCluster against the CLI's shards 0/4..3/4 merged."""

import json
import pathlib
import subprocess
import sys

import imbalance
import numpy as np
import pytest

from conftest import ROOT, cli_binary, cli_json

EXAMPLE = ROOT / "crates" / "python" / "examples" / "dask_sweep.py"

BASE = {"counts": [40, 8], "dim": 200, "snr": 3}


def spec_200():
    """200 cheap configurations: 80 predict, 8 tune, 112 tiny simulate (n = 48, p = 200)."""
    return {
        "base": BASE,
        "grid": [
            {"command": ["predict"], "method": ["ce", "la"], "snr": [1, 1.5, 2, 2.5, 3],
             "time": [10, 30, 100, 300, 1000, 3000, 10000, "inf"]},
            {"command": ["tune"], "method": ["la", "cdt"], "snr": [2, 3], "time": [100, "inf"]},
            {"command": ["simulate"], "method": ["ce", "la"], "seed": list(range(14)),
             "time": [30, 100, 1000, "inf"], "test_per_class": [300]},
        ],
    }


def untimed(record):
    """A record without the run's wall time (the only field that differs between runs)."""
    result = {k: v for k, v in record["result"].items() if k != "seconds"}
    return {**record, "result": result}


def cli_sweep(tmp_path, spec, shards):
    """Runs `imbalance sweep` as shards 0/N..N-1/N, merges them; the merged records."""
    spec_file = tmp_path / "spec.json"
    spec_file.write_text(json.dumps(spec))
    out = tmp_path / "shards"
    for i in range(shards):
        subprocess.run([str(cli_binary()), "sweep", str(spec_file), "--shard", f"{i}/{shards}",
                        "--out", str(out)], check=True)
    merged = tmp_path / "merged.jsonl"
    subprocess.run([str(cli_binary()), "sweep", str(spec_file), "--merge", str(out),
                    "--out", str(merged)], check=True)
    return spec_file, [json.loads(line) for line in merged.read_text().splitlines()]


def test_dask_example_equals_cli_shards_merged(tmp_path):
    """The issue's check: 200 configurations on a 2-worker LocalCluster (the example's
    default) equal `imbalance sweep` shards 0/4..3/4 merged, number for number."""
    spec = spec_200()
    spec_file, cli = cli_sweep(tmp_path, spec, 4)
    assert len(cli) == 200
    records_file = tmp_path / "dask.jsonl"
    subprocess.run([sys.executable, str(EXAMPLE), str(spec_file), "--workers", "2",
                    "--out", str(records_file)], check=True, timeout=120, cwd=tmp_path)
    dask = [json.loads(line) for line in records_file.read_text().splitlines()]
    assert [r["index"] for r in dask] == list(range(200))
    commands = [r["config"]["command"] for r in dask]
    assert (commands.count("predict"), commands.count("tune"), commands.count("simulate")) == (80, 8, 112)
    for d, c in zip(dask, cli):
        # Same process-independent computation: equal exactly, not just within tolerance.
        assert untimed(d) == untimed(c), d["index"]


def test_dask_example_on_a_given_scheduler(tmp_path):
    """--scheduler ADDRESS: the same script on a running cluster (here a LocalCluster started by
    the test, standing in for a real one); the table is printed."""
    distributed = pytest.importorskip("dask.distributed")
    spec = {"base": {**BASE, "command": "predict"}, "grid": {"method": ["ce", "la"], "time": [100, "inf"]}}
    spec_file, cli = cli_sweep(tmp_path, spec, 3)
    # In-process workers (fast to start) behind a TCP scheduler on loopback that another
    # process can reach.
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                                  protocol="tcp", host="127.0.0.1",
                                  dashboard_address=None) as cluster:
        out = subprocess.run([sys.executable, str(EXAMPLE), str(spec_file), "--scheduler",
                              cluster.scheduler_address, "--out", str(tmp_path / "r.jsonl")],
                             check=True, timeout=120, capture_output=True, text=True)
    assert "4 configurations" in out.stderr
    header, *rows = out.stdout.splitlines()
    assert header.split() == ["index", "command", "method", "balanced_error", "worst_class_error"]
    assert len(rows) == 4 and rows[1].split()[:3] == ["1", "predict", "ce"]
    records = [json.loads(line) for line in (tmp_path / "r.jsonl").read_text().splitlines()]
    assert [untimed(r) for r in records] == [untimed(c) for c in cli]


def test_run_config_is_the_cli_json():
    config = {"command": "predict", "counts": [200, 20], "dim": 2000, "snr": 5, "method": "la",
              "tau": 1.0, "time": 1e4}
    py = imbalance.run_config(config)
    cli = cli_json("predict", *"--counts 200,20 --dim 2000 --snr 5 --method la --tau 1.0 --time 1e4".split())
    py.pop("seconds"), cli.pop("seconds")
    assert py == cli
    # NumPy values are accepted (through tolist()).
    np_config = {**config, "counts": np.array([200, 20]), "dim": np.int64(2000)}
    assert imbalance.run_config(np_config)["per_class_error"] == cli["per_class_error"]


def test_expand_sweep_order_and_ids():
    spec = {"base": {**BASE, "command": "predict"}, "configs": [{"method": "ce"}],
            "grid": {"time": [10, "inf"], "method": ["la", "ce"]}}
    entries = imbalance.expand_sweep(spec)
    got = [(e["index"], e["config"]["method"], e["config"].get("time")) for e in entries]
    # configs first, then the grid with axes sorted by name (method, time), the last fastest.
    assert got == [(0, "ce", None), (1, "la", 10), (2, "la", "inf"), (3, "ce", 10), (4, "ce", "inf")]
    assert all(e["id"] == imbalance.config_id(e["config"]) for e in entries)
    assert len({e["id"] for e in entries}) == 5


@pytest.mark.parametrize("config,match", [
    ({"command": "predict", **BASE, "method": "ce", "tauu": 1}, r"^tauu: unknown field for predict; allowed: command, beta"),
    ({"command": "simulate", **BASE, "method": "ce", "seeds": 0}, r"^seeds: must be at least 1"),
    ({"command": "predict", **BASE, "method": "la", "tau": 1000}, r"^tau: 1000 is out of range"),
    ({"command": "train", **BASE}, r"^command: unknown command \"train\"; allowed: predict, simulate, tune"),
    ({"command": "predict", **BASE, "method": "ce", "time": float("inf")}, r"^config: cannot be written as JSON"),
    ({"command": "predict", **BASE, "method": "ce", "dim": "many"}, r"^dim: invalid value 'many'"),
])
def test_run_config_errors_name_the_field(config, match):
    with pytest.raises(ValueError, match=match):
        imbalance.run_config(config)


def test_expand_sweep_errors_name_the_configuration():
    spec = {"base": {**BASE, "command": "predict", "method": "ce"}, "configs": [{}, {}, {"tauu": 1}]}
    with pytest.raises(ValueError, match=r"^configuration 2: tauu: unknown field"):
        imbalance.expand_sweep(spec)
    with pytest.raises(ValueError, match=r"^spec: unknown key 'grids'"):
        imbalance.expand_sweep({"grids": {}})
    with pytest.raises(ValueError, match=r"^grid.snr: must be a non-empty list"):
        imbalance.expand_sweep({"base": BASE, "grid": {"snr": 3}})


@pytest.mark.parametrize("function", ["predict", "simulate", "tune"])
def test_profile_arguments_equal_the_cli(function):
    kw = dict(profile="exp", classes=3, n_max=40, ratio=10, dim=200, snr=3, method="la", time=100)
    flags = "--profile exp --classes 3 --n-max 40 --ratio 10 --dim 200 --snr 3 --method la --time 100".split()
    if function == "simulate":
        kw.update(test_per_class=300)
        flags += ["--test-per-class", "300"]
    py = getattr(imbalance, function)(**kw)
    cli = cli_json(function, *flags)
    assert py["config"]["gmm"]["counts"] == cli["config"]["gmm"]["counts"] == [40, 12, 4]  # floor(40 * 10^(-1/2)) = floor(12.65)
    np.testing.assert_array_equal(py["per_class_error"], cli["per_class_error"])
    with pytest.raises(ValueError, match=r"^ratio: missing: a profile needs the imbalance ratio"):
        getattr(imbalance, function)(**{**kw, "ratio": None})
