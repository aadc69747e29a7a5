"""Tables and a chart from bench/bench_vs_torch.sh's runs: python vs_torch_report.py DIR.

Reads DIR/runs.tsv (one line per run) and DIR/machine.txt; writes DIR/results.csv (medians per
config, program and thread count), DIR/results.md (the README table, the machine, the per-variant
table) and DIR/results.png (tokens/s bars; needs matplotlib). A figure is the median over rounds.
"""
import csv
import os
import statistics
import sys

CONFIGS = {
    "a": "(a) V5, 32x64, p2, D128, depth 4, NH 4, decoder 2, B8, agg (S = 512)",
    "b": "(b) same, --channels multi (S = 2,560)",
    "c": "(c) multi, 64x128, p2, V5 (S = 10,240), D128, depth 2, B1",
    "d": "(d) agg, D256, depth 8 (S = 512)",
}
PROGS = ("lvit", "manual", "sdpa", "compile")
LABEL = {"lvit": "lvit", "manual": "torch eager, manual attention", "sdpa": "torch eager, SDPA",
         "compile": "torch.compile + SDPA"}


def median_or_none(xs):
    return statistics.median(xs) if xs else None


def fmt(x, nd=0):
    return "n/a" if x is None else f"{x:,.{nd}f}"


def main(out):
    runs = list(csv.DictReader(open(os.path.join(out, "runs.tsv")), delimiter="\t"))
    machine = open(os.path.join(out, "machine.txt")).read().strip()
    threads = sorted({int(r["threads"]) for r in runs})
    cfgs = [c for c in CONFIGS if any(r["config"] == c for r in runs)]
    med, rng, comp, nrounds = {}, {}, {}, {}
    for c in cfgs:
        for p in PROGS:
            for t in threads:
                rs = [r for r in runs if (r["config"], r["program"], int(r["threads"])) == (c, p, t)]
                med[c, p, t] = median_or_none([float(r["tokens_s"]) for r in rs])
                rng[c, p, t] = (min(float(r["tokens_s"]) for r in rs),
                                max(float(r["tokens_s"]) for r in rs)) if len(rs) > 1 else None
                nrounds[c, p, t] = len(rs)
                if p == "compile":
                    cs = [float(r["first_step_s"]) - float(r["step_s"])
                          for r in rs if r["first_step_s"] and r["step_s"]]
                    comp[c, t] = (statistics.median(cs), max(cs)) if cs else None

    def spread(c, p, t):  # the median, and the range over the rounds
        r = rng.get((c, p, t))
        return fmt(med[c, p, t]) + (f" ({r[0]:,.0f}-{r[1]:,.0f})" if r else "")

    def best_torch(st, c, ts):
        cand = [(st[c, p, t], p, t) for p in PROGS[1:] for t in ts if st[c, p, t] is not None]
        return max(cand) if cand else (None, None, None)

    def summary(st):  # the README table: lvit and the best PyTorch variant per thread count
        head = "| config |" + "".join(f" lvit {t} thr | best torch {t} thr | lvit / torch {t} thr |"
                                      for t in threads) + " lvit / torch, best of each |"
        out_lines = [head, "|" + "---|" * (head.count("|") - 1)]
        for c in cfgs:
            row = f"| {CONFIGS[c]} |"
            for t in threads:
                bt, bp, _ = best_torch(st, c, [t])
                lv = st[c, "lvit", t]
                ratio = f"**{lv / bt:.2f}x**" if lv and bt else "n/a"
                row += f" {fmt(lv)} | {fmt(bt)} ({bp}) | {ratio} |"
            lbest = max([st[c, "lvit", t] for t in threads if st[c, "lvit", t]], default=None)
            bt, _, _ = best_torch(st, c, threads)
            out_lines.append(row + (f" {lbest / bt:.2f}x |" if lbest and bt else " n/a |"))
        return out_lines

    with open(os.path.join(out, "results.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["config", "program", "threads", "median_tokens_s", "runs", "compile_s"])
        for c in cfgs:
            for p in PROGS:
                for t in threads:
                    w.writerow([c, p, t, "" if med[c, p, t] is None else f"{med[c, p, t]:.1f}",
                                nrounds[c, p, t],
                                f"{comp[c, t][0]:.1f}" if p == "compile" and comp.get((c, t)) else ""])

    lines = ["Machine and run:", "", "```", machine, "```", ""]
    best = {k: (rng[k][1] if rng.get(k) else v) for k, v in med.items()}
    for stat, what in ((med, "median of the interleaved rounds"),
                       (best, "each program's best round (the least disturbed run on a shared "
                              "machine)")):
        lines += [f"Training-step tokens/s, {what}; lvit / PyTorch = lvit against the best "
                  "PyTorch variant at the same thread count, and best against best.", ""]
        lines += summary(stat) + [""]
    lines += ["Every variant (tokens/s, median (min-max over the rounds); compile = torch.compile's time in the first "
              "step minus a steady step, median (max; the first round compiles with a cold cache), excluded "
              "from tokens/s):", ""]
    head = "| config | threads |" + "".join(f" {LABEL[p]} |" for p in PROGS) + " compile s |"
    lines += [head, "|" + "---|" * (head.count("|") - 1)]
    for c in cfgs:
        for t in threads:
            lines.append(f"| {c} | {t} |" + "".join(f" {spread(c, p, t)} |" for p in PROGS)
                         + (f" {comp[c, t][0]:.1f} ({comp[c, t][1]:.1f}) |" if comp.get((c, t))
                            else " n/a |"))
    lines += ["", "Rounds per figure: " + ", ".join(sorted({str(n) for n in nrounds.values()}))]
    text = "\n".join(lines) + "\n"
    with open(os.path.join(out, "results.md"), "w") as f:
        f.write(text)
    print(text)

    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("results.png: skipped (no matplotlib)")
        return 0
    fig, axes = plt.subplots(1, len(cfgs), figsize=(4 * len(cfgs), 4), squeeze=False)
    for ax, c in zip(axes[0], cfgs):
        width = 0.8 / len(PROGS)
        for i, p in enumerate(PROGS):
            ys = [med[c, p, t] or 0 for t in threads]
            ax.bar([j + i * width for j in range(len(threads))], ys, width, label=LABEL[p])
        ax.set_xticks([j + 0.4 - width / 2 for j in range(len(threads))])
        ax.set_xticklabels([f"{t} thread{'s' if t > 1 else ''}" for t in threads])
        ax.set_title(f"({c})", fontsize=10)
        ax.set_ylabel("tokens/s")
    axes[0][0].legend(fontsize=7)
    cpu = machine.splitlines()[0] if machine else ""
    fig.suptitle(f"training step, lvit vs PyTorch: {cpu}", fontsize=10)
    fig.tight_layout()
    fig.savefig(os.path.join(out, "results.png"), dpi=100)
    print(f"wrote {out}/results.csv, results.md, results.png")
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: vs_torch_report.py DIR (the output folder of bench/bench_vs_torch.sh)")
    sys.exit(main(sys.argv[1]))
