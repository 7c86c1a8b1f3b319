"""Check `mwverify report export` against the report it came from, as a user would read both:
the CSV files with pandas.read_csv and no arguments, the JSON Lines with
pandas.read_json(lines=True), the report with h5py. Every table's rows must be the report's
rows, every id column must name what the report says, every number must be the report's
number, a NaN an empty cell. Bit for bit where the reader converts exactly
(read_csv(float_precision="round_trip"), read_json(precise_float=True)); read_csv with no
arguments is within 4 ulps (its default parser is not correctly rounded: measured within 3
ulps of every value in the notation the export uses).

    python3 export_check.py REPORT.h5 DIR    (DIR holds TABLE.csv and TABLE.jsonl)

Exit 0 when all agree, 1 with the first disagreement, 77 when pandas or h5py is missing
(CTest's skip)."""
import math
import sys

try:
    import h5py
    import numpy as np
    import pandas as pd
except ImportError as e:  # the test is skipped, not passed: CTest shows it
    print(f"skipped: {e}")
    sys.exit(77)

report, folder = sys.argv[1], sys.argv[2]
f = h5py.File(report, "r")
failures = []


def fail(msg):
    failures.append(msg)
    if len(failures) <= 10:
        print("MISMATCH:", msg)


def text(v):
    return v.decode() if isinstance(v, bytes) else str(v)


def num(v):
    """A cell as a number: an empty one (CSV cannot tell "" from missing) is NaN."""
    return float("nan") if v is None or (isinstance(v, str) and v == "") else float(v)


def same(a, b):
    """Equal numbers, NaN equal to NaN (an empty cell)."""
    a, b = num(a), num(b)
    return (math.isnan(a) and math.isnan(b)) or a == b


def near(a, b):
    """Within 4 ulps of b: what read_csv's default parser keeps."""
    a, b = num(a), num(b)
    if math.isnan(a) or math.isnan(b) or math.isinf(b):
        return same(a, b)
    return abs(a - b) <= 4 * np.spacing(abs(b))


def table(name):
    df = pd.read_csv(f"{folder}/{name}.csv")  # no arguments: what a user types
    exact = pd.read_csv(f"{folder}/{name}.csv", float_precision="round_trip")
    js = pd.read_json(f"{folder}/{name}.jsonl", lines=True, precise_float=True)
    if len(df) != len(js) or list(df.columns) != list(js.columns):
        fail(f"{name}: CSV has {len(df)} rows {list(df.columns)[:5]}..., "
             f"JSON Lines {len(js)} rows {list(js.columns)[:5]}...")
    for c in df.columns:  # the default reading within 4 ulps of the exact one
        if df[c].dtype.kind == "f" and not all(near(a, b) for a, b in zip(df[c], exact[c])):
            fail(f"{name}.{c}: read_csv's default parser more than 4 ulps from the exact one")
    for c in df.columns:  # the two formats carry the same values
        for i, (a, b) in enumerate(zip(exact[c], js[c])):
            if isinstance(a, (int, float, np.number)) and not isinstance(a, bool):
                if not same(a, b):
                    fail(f"{name}.{c}[{i}]: CSV {a!r}, JSON Lines {b!r}")
                    break
            elif not (pd.isna(a) and (pd.isna(b) or b == "")) and text(a) != text(b):
                fail(f"{name}.{c}[{i}]: CSV {a!r}, JSON Lines {b!r}")
                break
    return exact, df


runs = sorted(f["runs"].keys())
(steps, steps0), (epochs, _), (layers, _), (summary, _), (nets, _) = (
    table(t) for t in ("steps", "epochs", "layers", "runs", "networks"))
suite = text(f.attrs["suite"])

# networks: one row per unit, its spec as the group's attributes say
if len(nets) != len(f["networks"]):
    fail(f"networks: {len(nets)} rows, the report has {len(f['networks'])} units")
for key in sorted(f["networks"].keys()):
    g = f["networks"][key]
    idx = int(key.split("-")[1])
    row = nets[nets["network"] == idx]
    if len(row) != 1:
        fail(f"networks: {len(row)} rows for unit {idx}")
        continue
    for col in ("arch", "f_act", "out_act", "depth", "width", "seed", "batch"):
        if text(row[col].iloc[0]) != text(g.attrs[col]):
            fail(f"networks[{idx}].{col}: {row[col].iloc[0]!r}, the report {g.attrs[col]!r}")
    if row["suite"].iloc[0] != suite:
        fail(f"networks[{idx}].suite: {row['suite'].iloc[0]!r}, the report {suite!r}")

n_steps = n_epochs = n_layer_rows = 0
for key in runs:
    g = f["runs"][key]
    idx = int(key.split("-")[1])
    st = g["steps"][()]
    ep = g["epochs"][()]
    lr = g["layer_rel_l2"][()]
    n_steps, n_epochs, n_layer_rows = n_steps + len(st), n_epochs + len(ep), n_layer_rows + lr.size
    # the run's id columns on every one of its rows
    mine = steps[steps["run"] == idx].sort_values("step", kind="stable")
    if len(mine) != len(st):
        fail(f"steps of run {idx}: {len(mine)} rows, the report has {len(st)}")
        continue
    for col in ("method", "dtype", "status"):
        vals = set(mine[col])
        if vals and vals != {text(g.attrs[col])}:
            fail(f"steps of run {idx}: {col} {vals}, the report {text(g.attrs[col])!r}")
    for col in ("depth", "f_act", "out_act", "seed"):
        vals = set(text(v) for v in mine[col])
        if vals and vals != {text(g.attrs[col])}:
            fail(f"steps of run {idx}: {col} {vals}, the report {text(g.attrs[col])!r}")
    plain = steps0[steps0["run"] == idx].sort_values("step", kind="stable")
    for col in ("step", "epoch", "loss", "rel_l2", "max_ulp", "gold_rel_l2", "dist_ref",
                "seconds"):
        for a, a0, b in zip(mine[col], plain[col], st[col]):
            if not same(a, b) or not near(a0, b):
                fail(f"steps of run {idx}: {col} {a!r} (read_csv's default: {a0!r}), "
                     f"the report {b!r}")
                break
    mine = epochs[epochs["run"] == idx].sort_values("epoch", kind="stable")
    if len(mine) != len(ep):
        fail(f"epochs of run {idx}: {len(mine)} rows, the report has {len(ep)}")
    else:
        for col in ("epoch", "rel_l2_mean", "rel_l2_max", "loss_mean", "test_accuracy", "lr"):
            for a, b in zip(mine[col], ep[col]):
                if not same(a, b):
                    fail(f"epochs of run {idx}: {col} {a!r}, the report {b!r}")
                    break
    mine = layers[layers["run"] == idx]
    if len(mine) != lr.size:
        fail(f"layers of run {idx}: {len(mine)} rows, the report has {lr.size}")
    else:
        got = mine.sort_values(["step", "layer"], kind="stable")["rel_l2"].to_numpy()
        want = lr.reshape(-1)  # [S, L+1] row-major: step, then layer 1..L+1
        if not all(same(a, b) for a, b in zip(got, want)):
            fail(f"layers of run {idx}: rel_l2 differs from layer_rel_l2")

if len(steps) != n_steps or len(epochs) != n_epochs or len(layers) != n_layer_rows:
    fail(f"rows: steps {len(steps)}/{n_steps}, epochs {len(epochs)}/{n_epochs}, "
         f"layers {len(layers)}/{n_layer_rows} (export/report)")

# runs: the /summary table, row for row
s = f["summary"][()]
if len(summary) != len(s):
    fail(f"runs: {len(summary)} rows, /summary has {len(s)}")
else:
    for col in ("run", "network", "rel_l2", "max_abs", "loss", "steps", "epochs",
                "test_accuracy"):
        for i, (a, b) in enumerate(zip(summary[col], s[col])):
            if not same(a, b):
                fail(f"runs[{i}].{col}: {a!r}, /summary {b!r}")
                break
    for col in ("method", "dtype", "status", "verdict"):
        for i, (a, b) in enumerate(zip(summary[col], s[col])):
            if text(a) != text(b):
                fail(f"runs[{i}].{col}: {a!r}, /summary {b!r}")
                break

print(f"{len(steps)} steps, {len(epochs)} epochs, {len(layers)} layer rows, {len(summary)} "
      f"runs, {len(nets)} networks: {'all agree' if not failures else f'{len(failures)} mismatches'}")
sys.exit(1 if failures else 0)
