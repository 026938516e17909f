"""Runs an `imbalance sweep` SPEC on a Dask cluster: one task per configuration.

    python crates/python/examples/dask_sweep.py SPEC.json [--scheduler ADDRESS] [--workers N] [--out FILE]

Without --scheduler it starts a `LocalCluster` of --workers worker processes (default 2) on
this machine; with --scheduler tcp://HOST:8786 it submits the same tasks, unchanged, to that
cluster (its workers need the `imbalance` package installed: `pip install ./crates/python`).

The SPEC is the JSON file of `imbalance sweep` (see the package README): `imbalance.expand_sweep`
expands and checks it up front (a bad configuration fails before anything is submitted), and
each task runs `imbalance.run_config(config)`, the same code path as the command line. A task's
result depends only on its configuration (every random draw comes from the configuration's
`seed`), never on the worker, so a record equals the line of that configuration in the output
of `imbalance sweep SPEC.json --merge DIR` ("seconds", the run's wall time, aside).

The records, in index order, are gathered into a pandas DataFrame (`table`: one row per
configuration with its fields and its result's) when pandas is installed, else kept as a list
of dicts; a few columns are printed, and --out FILE writes the records as JSON lines, the
format of `imbalance sweep --merge`.
"""

import argparse
import json
import sys

import imbalance


def run_record(entry):
    """One task: {"index", "id", "config"} -> the same with "result" (what `--json` prints)."""
    import imbalance  # on the worker

    return {**entry, "result": imbalance.run_config(entry["config"])}


def run_sweep(spec, client):
    """Runs every configuration of `spec` (a dict) as one task on `client`; records in index
    order."""
    entries = imbalance.expand_sweep(spec)
    # One key per configuration (its index and stable id), so tasks are never merged.
    keys = [f"imbalance-config-{e['index']}-{e['id']}" for e in entries]
    futures = client.map(run_record, entries, key=keys)
    records = client.gather(futures)
    return sorted(records, key=lambda r: r["index"])


def table(records):
    """A pandas DataFrame, one row per configuration: `index`, `id`, the configuration's fields
    and the result's (nested ones flattened as `orthant.methods`; the result's echo of the
    configuration left out). Without pandas, the records themselves."""
    try:
        import pandas as pd
    except ImportError:
        return records
    rows = [{"index": r["index"], "id": r["id"], **r["config"],
             **{k: v for k, v in r["result"].items() if k != "config"}} for r in records]
    return pd.json_normalize(rows)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("spec", help="the sweep SPEC (JSON file)")
    parser.add_argument("--scheduler", metavar="ADDRESS",
                        help="address of a running Dask scheduler (default: start a LocalCluster)")
    parser.add_argument("--workers", type=int, default=2,
                        help="worker processes of the LocalCluster (default 2)")
    parser.add_argument("--out", metavar="FILE", help="write the records as JSON lines")
    args = parser.parse_args(argv)

    from dask.distributed import Client, LocalCluster

    with open(args.spec) as f:
        spec = json.load(f)
    if args.scheduler:
        client, cluster = Client(args.scheduler), None
    else:
        # One thread per worker: the Rust code parallelises inside a task where it pays.
        cluster = LocalCluster(n_workers=args.workers, threads_per_worker=1,
                               dashboard_address=None)
        client = Client(cluster)
    try:
        records = run_sweep(spec, client)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
    if args.out:
        with open(args.out, "w") as f:
            for r in records:
                f.write(json.dumps(r) + "\n")
    t = table(records)
    if isinstance(t, list):
        for r in t:
            print(r["index"], r["config"], r["result"]["balanced_error"])
    else:
        shown = [c for c in ("index", "command", "method", "balanced_error", "worst_class_error")
                 if c in t.columns]
        print(t[shown].to_string(index=False))
    print(f"{len(records)} configurations", file=sys.stderr)


if __name__ == "__main__":
    main()
