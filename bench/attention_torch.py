"""PyTorch's side of bench/bench_attention.sh, and its report.

  attention_torch.py --out TORCH.tsv CASE ...      time F.scaled_dot_product_attention
  attention_torch.py --report DIR --lvit LVIT.tsv [--torch TORCH.tsv]   results.md/.csv in DIR

CASE = S:d:f|fb:THREADS as for bench/bench_attention.c, and the same measurement: batch 1, heads
ATTN_HEADS (default 4), q, k, v views of one fused [B,S,3,NH,d] tensor (as the model's qkv
projection leaves them; tools/twin.py), float32 on the CPU, non-causal. fb: the forward with
autograd on, then o.backward(dout), each timed (dq, dk, dv land in the fused tensor's grad);
f: the forward under torch.no_grad(). Flops: forward 4*B*NH*S*S*d, backward 2.5x that. Best of
the repetitions (1 for the largest cases, after no warm-up). Peak memory: the rise of the peak
RSS (VmHWM, reset through /proc/self/clear_refs) in the first repetition, beyond q, k, v and
dout. Also times torch.mm at 2048^3 (torch's own BLAS, MKL in the PyPI wheel) per thread count.
The report needs no torch.
"""
import argparse
import csv
import os
import re
import sys
import time


def parse_case(s):
    m = re.fullmatch(r"(\d+):(\d+):(f|fb):(\d+(?:\+\d+)*)", s)
    if not m:
        raise SystemExit(f"case {s!r}: expected S:d:f|fb:THREADS, e.g. 4096:64:fb:1+2")
    return int(m[1]), int(m[2]), m[3] == "fb", [int(t) for t in m[4].split("+")]


def peak_rss():
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def reset_peak_rss():
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def measure(args):
    import torch
    import torch.nn.functional as F
    nh = int(os.environ.get("ATTN_HEADS", "4"))
    cases = [parse_case(c) for c in args.cases]
    out = open(args.out, "w")
    out.write(f"info\ttorch {torch.__version__}, CPU capability "
              f"{torch.backends.cpu.get_cpu_capability()}, MKL {torch.backends.mkl.is_available()}\n")
    print(f"torch {torch.__version__}, CPU capability {torch.backends.cpu.get_cpu_capability()}; "
          f"heads {nh}, batch 1")
    for t in sorted({t for c in cases for t in c[3]}):
        torch.set_num_threads(t)
        a, b = torch.randn(2048, 2048), torch.randn(2048, 2048)
        best = min(_timed(lambda: torch.mm(a, b)) for _ in range(4))
        g = 2 * 2048 ** 3 / best * 1e-9
        print(f"torch.mm 2048^3, {t} thread(s): {g:.1f} GFLOP/s")
        out.write(f"torch_mm\t{t}\t{g:.2f}\n")
    for t in sorted({t for c in cases for t in c[3]}):  # first-call set-up outside the cases
        torch.set_num_threads(t)
        x = torch.randn(1, 256, 3, nh, 32, requires_grad=True)
        F.scaled_dot_product_attention(*(y.transpose(1, 2) for y in x.unbind(2))).sum().backward()
    B = 1
    for S, d, fb, threads in cases:
        flops = 4.0 * B * nh * S * S * d
        work = 3.5 * flops if fb else flops
        reps = 1 if work > 3e11 else 2 if work > 3e10 else 4
        for t in threads:
            torch.set_num_threads(t)
            gen = torch.Generator().manual_seed(1234 + S + d)
            qkv = torch.randn(B, S, 3, nh, d, generator=gen, requires_grad=fb)
            dout = torch.randn(B, nh, S, d, generator=gen)
            have = reset_peak_rss()
            rss0 = peak_rss()
            tf = tb = float("inf")
            peak = -1
            for r in range(reps + (reps > 1)):  # a warm-up first when repeating
                qkv.grad = None
                t0 = time.perf_counter()
                with torch.set_grad_enabled(fb):
                    q, k, v = (x.transpose(1, 2) for x in qkv.unbind(2))  # [B,NH,S,d] views
                    o = F.scaled_dot_product_attention(q, k, v)
                t1 = time.perf_counter()
                if fb:
                    o.backward(dout)
                t2 = time.perf_counter()
                del o, q, k, v
                if r == 0 and have and rss0 is not None:
                    peak = peak_rss() - rss0
                if reps > 1 and r == 0:
                    continue
                tf, tb = min(tf, t1 - t0), min(tb, t2 - t0)
            line = (f"S {S:6d} d {d:3d} threads {t} | fwd {tf:9.3f} s {flops / tf * 1e-9:7.1f} "
                    f"GFLOP/s {B * S / tf:9.0f} tok/s")
            if fb:
                line += f" | fwd+bwd {tb:9.3f} s {3.5 * flops / tb * 1e-9:7.1f} GFLOP/s {B * S / tb:9.0f} tok/s"
            print(line + f" | peak +{peak / 2 ** 20:.1f} MiB", flush=True)
            out.write(f"torch\t{S}\t{d}\t{nh}\t{B}\t{t}\t{tf:.6f}\t{f'{tb:.6f}' if fb else '-'}"
                      f"\t{peak}\t0\t{reps}\n")
            out.flush()
            del qkv, dout
    out.close()
    return 0


def _timed(fn):
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def read_tsv(path):
    ceil, rows = {}, {}
    if not path or not os.path.exists(path):
        return ceil, rows
    for f in csv.reader(open(path), delimiter="\t"):
        if f[0] == "info":
            ceil.setdefault("info", []).append(f[1])
        elif f[0] in ("ceiling", "torch_mm"):
            ceil[f[0], int(f[1])] = float(f[2])
        elif f[0] in ("lvit", "torch"):
            S, d, nh, B, t = (int(x) for x in f[1:6])
            rows[S, d, t] = {"nh": nh, "B": B, "fwd": float(f[6]),
                             "fb": None if f[7] == "-" else float(f[7]), "peak": int(f[8]),
                             "ws": int(f[9])}
    return ceil, rows


def report(args):
    ceil, lv = read_tsv(args.lvit)
    tceil, th = read_tsv(args.torch)
    info = ceil.pop("info", []) + tceil.pop("info", [])
    ceil.update(tceil)
    machine = "\n".join([open(os.path.join(args.report, "machine.txt")).read().strip()] + info)

    def rate(r, key, S, d):
        if not r or r[key] is None:
            return None
        flops = 4.0 * r["B"] * r["nh"] * S * S * d * (3.5 if key == "fb" else 1.0)
        return flops / r[key] * 1e-9, r["B"] * S / r[key]

    def cell(r, key, S, d, t):
        x = rate(r, key, S, d)
        if x is None:
            return "n/a"
        c = ceil.get(("ceiling", t))
        return f"{x[1]:,.0f} / {x[0]:.1f}" + (f" ({100 * x[0] / c:.0f}%)" if c else "")

    def ratio(a, b, key):
        return f"{b[key] / a[key]:.2f}x" if a and b and a[key] and b[key] else "n/a"

    def mib(r):
        return "n/a" if not r or r["peak"] < 0 else f"{r['peak'] / 2 ** 20:,.1f}"

    lines = ["```", machine, "```", ""]
    for t in sorted({k[1] for k in ceil if isinstance(k, tuple)}):
        lines.append(f"sgemm ceiling, {t} thread(s): OpenBLAS {ceil.get(('ceiling', t), 0):.1f} "
                     f"GFLOP/s; torch.mm {ceil.get(('torch_mm', t), 0):.1f} GFLOP/s (2048^3)")
    lines += ["", "Cells: tokens/s / GFLOP/s (% of the OpenBLAS sgemm ceiling at the same threads). "
              "lvit / SDPA: SDPA's time over lvit's. Peak: MiB above q, k, v, dout (o, lse, "
              "gradients, workspace and temporaries); lvit's workspace in brackets.", "",
              "| S | d | thr | lvit fwd | SDPA fwd | lvit fwd+bwd | SDPA fwd+bwd | lvit / SDPA fwd"
              " | lvit / SDPA fwd+bwd | peak MiB lvit (ws) | peak MiB SDPA |",
              "|---|---|---|---|---|---|---|---|---|---|---|"]
    csv_rows = [["S", "d", "threads", "impl", "fwd_s", "fwdbwd_s", "fwd_gflops", "fwdbwd_gflops",
                 "fwd_tokens_s", "fwdbwd_tokens_s", "peak_bytes", "workspace_bytes"]]
    for key in sorted(set(lv) | set(th)):
        S, d, t = key
        a, b = lv.get(key), th.get(key)
        ws = f" ({a['ws'] / 2 ** 20:.1f})" if a else ""
        lines.append(f"| {S:,} | {d} | {t} | {cell(a, 'fwd', S, d, t)} | {cell(b, 'fwd', S, d, t)}"
                     f" | {cell(a, 'fb', S, d, t)} | {cell(b, 'fb', S, d, t)} | {ratio(a, b, 'fwd')}"
                     f" | {ratio(a, b, 'fb')} | {mib(a)}{ws} | {mib(b)} |")
        for name, r in (("lvit", a), ("torch_sdpa", b)):
            if r:
                f, fb = rate(r, "fwd", S, d), rate(r, "fb", S, d)
                csv_rows.append([S, d, t, name, r["fwd"], r["fb"] or "", f"{f[0]:.2f}",
                                 f"{fb[0]:.2f}" if fb else "", f"{f[1]:.1f}",
                                 f"{fb[1]:.1f}" if fb else "", r["peak"], r["ws"] or ""])
    text = "\n".join(lines) + "\n"
    with open(os.path.join(args.report, "results.md"), "w") as f:
        f.write(text)
    with open(os.path.join(args.report, "results.csv"), "w", newline="") as f:
        csv.writer(f).writerows(csv_rows)
    print(text + f"wrote {args.report}/results.md, results.csv")
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", help="measure: write TORCH.tsv")
    ap.add_argument("--report", metavar="DIR", help="report: write DIR/results.md and .csv")
    ap.add_argument("--lvit", help="report: bench_attention's TSV")
    ap.add_argument("--torch", help="report: this script's TSV")
    ap.add_argument("cases", nargs="*")
    args = ap.parse_args()
    if args.report:
        return report(args)
    if not args.out or not args.cases:
        ap.error("--out TORCH.tsv CASE ... or --report DIR --lvit LVIT.tsv")
    return measure(args)


if __name__ == "__main__":
    sys.exit(main())
