#!/usr/bin/env python3
"""Two questions about the default forecast runs of bench/forecast_defaults.sh, answered on its
output directory (plain Python, no packages):

1. Seed averaging: does the mean of k default models (trained with different seeds) beat the
   baselines at the given lead for every choice of k seeds? For each k, the mean and the worst
   RMSE over all combinations.
2. Refitting the blend on the validation split: per seed and variable, fit the persistence weight
   and the network's gain together on the validation times (least squares of y - c on x - c and the
   network's correction, latitude-weighted, both >= 0) and score that forecast on the test times.

Forecasts come from `lvit predict` (one file per seed and initial time, cached in OUT/predict);
the climatology, normalisation and anchor from each run's model.safetensors.

usage: bench/forecast_variance.py LVIT OUT [--lead 24]   (docs/forecasting.md has the figures)
"""
import itertools
import json
import math
import os
import re
import struct
import subprocess
import sys
from array import array


def read_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        blob = f.read()
    meta = header.pop("__metadata__", {})
    out = {}
    for name, t in header.items():
        code = {"F32": "f", "F64": "d"}.get(t["dtype"])
        if code is None:
            continue
        a, b = t["data_offsets"]
        out[name] = (array(code, blob[a:b]).tolist(), t["shape"])
    return meta, out


def split_range(eval_text, split):
    m = re.search(r"on the %s split \(times (\d+)\.\.(\d+)\)" % split, eval_text)
    if not m:
        sys.exit(f"error: no '{split} split (times A..B)' line in lvit eval's output")
    return int(m.group(1)), int(m.group(2)) + 1


def main():
    args = sys.argv[1:]
    if len(args) < 2:
        sys.exit(__doc__)
    lvit, out = args[0], args[1]
    lead = float(args[args.index("--lead") + 1]) if "--lead" in args else 24.0
    seeds = sorted(int(m.group(1)) for d in os.listdir(out) if (m := re.fullmatch(r"seed(\d+)", d)))
    if not seeds:
        sys.exit(f"error: no seedN run directories in {out} (run bench/forecast_defaults.sh first)")
    run0 = f"{out}/seed{seeds[0]}"
    text = {s: subprocess.run([lvit, "eval", "--run", run0, "--split", s, "--leads", f"{lead:g}"],
                              capture_output=True, text=True, check=True).stdout for s in ("val", "test")}
    meta, _ = read_safetensors(f"{run0}/model.safetensors")
    hours = json.loads(meta["lvit.anchor"])["lead_hours"]
    step_h = hours[0]  # the defaults train at the data's step x 1, 2, 3, 4
    steps = int(round(lead / step_h))
    (v0, v1), (t0, t1) = split_range(text["val"], "val"), split_range(text["test"], "test")
    val_times, test_times = range(v0, v1 - steps), range(t0, t1 - steps)
    os.makedirs(f"{out}/predict", exist_ok=True)

    fields = {}  # (seed, time) -> forecast, truth, initial, and per seed: climatology, a
    for s in seeds:
        run = f"{out}/seed{s}"
        meta, tensors = read_safetensors(f"{run}/model.safetensors")
        norm, anchor = json.loads(meta["lvit.norm"]), json.loads(meta["lvit.anchor"])
        a = anchor["coef"][anchor["lead_hours"].index(lead)]
        clim, (V, H, W) = tensors["lvit_anchor.climatology"]
        for t in list(val_times) + list(test_times):
            path = f"{out}/predict/seed{s}_t{t}_lead{lead:g}.safetensors"
            if not os.path.exists(path):
                subprocess.run([lvit, "predict", "--run", run, "--time", str(t), "--lead", f"{lead:g}",
                                "-o", path], capture_output=True, check=True)
            _, p = read_safetensors(path)
            h, w = p["forecast"][1][1:]
            fields[s, t] = {k: p[k][0] for k in ("forecast", "truth", "initial")}
            if t == t0 or "lat" not in fields:
                fields["lat"] = p["lat"][0]
                fields["dims"] = (V, h, w)
        fields[s] = (clim, H, W, norm, a)
    V, h, w = fields["dims"]
    wlat = [math.cos(math.radians(x)) for x in fields["lat"]]
    names = json.loads(meta["lvit.config"])["vars"]
    base = json.load(open(f"{out}/seed{seeds[0]}.json")) if os.path.exists(f"{out}/seed{seeds[0]}.json") else []
    base = {r["var"]: r for r in base if r["lead_h"] == lead}

    def cells(v):
        for i in range(h):
            for j in range(w):
                yield i, j, v * h * w + i * w + j

    def rmse(forecast_of, times):
        res = []
        for v in range(V):
            se = ws = 0.0
            for t in times:
                y = fields[seeds[0], t]["truth"]
                f = forecast_of(t)
                for i, j, k in cells(v):
                    if math.isfinite(y[k]) and math.isfinite(f[k]):
                        se += wlat[i] * (f[k] - y[k]) ** 2
                        ws += wlat[i]
            res.append(math.sqrt(se / ws))
        return res

    lines = [f"# lead {lead:g} h, {len(seeds)} seeds, validation times {v0}..{v1 - 1}, test times {t0}..{t1 - 1}", ""]
    lines.append("## 1. Mean of k seeds' forecasts (test split): mean and worst RMSE over all combinations")
    lines.append("")
    lines.append("| k | " + " | ".join(names) + " |")
    lines.append("|---|" + "---|" * V)
    for k in range(1, len(seeds) + 1):
        scores = []
        for combo in itertools.combinations(seeds, k):
            def mean_forecast(t, combo=combo):
                fs = [fields[s, t]["forecast"] for s in combo]
                return [sum(x) / len(fs) for x in zip(*fs)]
            scores.append(rmse(mean_forecast, test_times))
        mean = [sum(c) / len(c) for c in zip(*scores)]
        worst = [max(c) for c in zip(*scores)]
        lines.append(f"| {k} | " + " | ".join(f"{m:.4g} (worst {x:.4g})" for m, x in zip(mean, worst)) + " |")
    if base:
        for key, label in (("rmse_persistence", "persistence"), ("rmse_climatology", "climatology"), ("rmse_blend", "blend")):
            lines.append(f"| {label} | " + " | ".join(f"{base[n][key]:.4g}" for n in names) + " |")
    lines.append("")
    lines.append("## 2. Blend refitted on the validation split (test RMSE: default -> refitted, with the refitted a and g)")
    lines.append("")
    lines.append("| seed | " + " | ".join(names) + " |")
    lines.append("|---|" + "---|" * V)
    for s in seeds:
        clim, H, W, norm, a = fields[s]

        def parts(t, v):
            f, y, x = (fields[s, t][k] for k in ("forecast", "truth", "initial"))
            for i, j, k in cells(v):
                c = clim[v * H * W + i * W + j] * norm["std"][v] + norm["mean"][v]
                c = c if math.isfinite(c) else x[k]
                blend = c + a[v] * (x[k] - c)
                yield i, k, c, x[k] - c, f[k] - blend, y[k]

        row = []
        for v in range(V):
            sxx = sxn = snn = sxy = sny = 0.0
            for t in val_times:
                for i, k, c, dx, dn, y in parts(t, v):
                    if math.isfinite(y) and math.isfinite(dx):
                        q = wlat[i]
                        sxx += q * dx * dx; sxn += q * dx * dn; snn += q * dn * dn
                        sxy += q * dx * (y - c); sny += q * dn * (y - c)
            det = sxx * snn - sxn * sxn
            ar, g = (sxy * snn - sny * sxn) / det, (sny * sxx - sxy * sxn) / det
            if ar < 0 or g < 0:  # nonnegative least squares in two unknowns: the better one-term fit
                ar1, g1 = max(sxy / sxx, 0.0), max(sny / snn, 0.0) if snn > 0 else 0.0
                ar, g = (ar1, 0.0) if ar1 * sxy >= g1 * sny else (0.0, g1)
            se0 = se1 = ws = 0.0
            for t in test_times:
                for i, k, c, dx, dn, y in parts(t, v):
                    f = fields[s, t]["forecast"][k]
                    if math.isfinite(y) and math.isfinite(f):
                        q = wlat[i]
                        se0 += q * (f - y) ** 2
                        se1 += q * (c + ar * dx + g * dn - y) ** 2
                        ws += q
            row.append(f"{math.sqrt(se0 / ws):.4g} -> {math.sqrt(se1 / ws):.4g} (a {ar:.2f}, g {g:.2f})")
        lines.append(f"| {s} | " + " | ".join(row) + " |")
    open(f"{out}/variance.md", "w").write("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
