#!/usr/bin/env python3
"""Writes results.md (to stdout) from a bench/gpu-bench.sh output folder. Python 3 only, no torch.

Reads env.txt, status.tsv, configs.txt, attn.json / attn.md, NAME.torch[-recompute].json (twin),
NAME.lvit.log (lvit bench output, parsed: the lines the twin prints, see parse_bench_log),
maxseq.torch.json and maxseq.lvit.json.
"""
import json
import os
import re
import sys


def load_json(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def read(path):
    try:
        with open(path, errors="replace") as f:
            return f.read()
    except OSError:
        return ""


def parse_bench_log(text):
    """Figures from a bench log (lvit's, or the twin's): `tokens/s: X` (last), `ms/step: X` or
    `X ms/step`, `model TFLOP/s: X` or `X TFLOP/s` (or GFLOP/s), `MFU: X%`, `peak memory: X GiB`
    (or MiB)."""
    r = {}
    m = re.findall(r"tokens/s:\s*([0-9.]+)", text)
    if m:
        r["tokens_per_s"] = float(m[-1])
    m = re.findall(r"ms/step:\s*([0-9.]+)", text) or re.findall(r"([0-9.]+)\s*ms/step", text)
    if m:
        r["ms_per_step"] = float(m[-1])
    m = re.findall(r"TFLOP/s:\s*([0-9.]+)", text) or re.findall(r"([0-9.]+)\s*TFLOP/s", text)
    if m:
        r["tflops"] = float(m[-1])
    else:
        m = re.findall(r"([0-9.]+)\s*GFLOP/s", text)
        if m:
            r["tflops"] = float(m[-1]) / 1e3
    m = re.findall(r"MFU:?\s*([0-9.]+)\s*%", text)
    if m:
        r["mfu"] = float(m[-1]) / 100
    m = re.findall(r"peak memory:?\s*([0-9.]+)\s*(GiB|MiB|GB|MB)", text, re.I)
    if m:
        v, u = m[-1]
        r["peak_mem_bytes"] = float(v) * (2**30 if u.lower() in ("gib", "gb") else 2**20)
    return r


def f(x, spec):
    return "-" if x is None else format(x, spec)


def main(outdir):
    env = {}
    for ln in read(os.path.join(outdir, "env.txt")).splitlines():
        if ":" in ln:
            k, v = ln.split(":", 1)
            env[k.strip()] = v.strip()
    status = {}
    for ln in read(os.path.join(outdir, "status.tsv")).splitlines():
        parts = ln.split("\t")
        if len(parts) >= 2:
            status[parts[0]] = (parts[1], parts[2] if len(parts) > 2 else "")
    o = ["# lvit against PyTorch on one GPU (bench/gpu-bench.sh)", "",
         f"GPU: {env.get('gpu', '?')}; {env.get('torch', '?')}; lvit: {env.get('lvit', '?')}; "
         f"mode {env.get('mode', '?')} (budget {env.get('budget_s', '?')} s, "
         f"{env.get('steps', '?')} timed steps after {env.get('warmup', '?')} warm-up, "
         f"D=2560 with {env.get('big_depth', '?')} blocks, agg with "
         f"{env.get('agg_vars', '?')} variables); {env.get('date', '')}", ""]

    o += ["## Attention: F.scaled_dot_product_attention per backend", ""]
    attn = load_json(os.path.join(outdir, "attn.json"))
    md = read(os.path.join(outdir, "attn.md")).strip()
    if attn and attn.get("status") == "ok" and md:
        o += [md, ""]
    else:
        st = status.get("attn", ("not run", ""))
        why = attn.get("reason") if attn else st[1]
        o += [f"not measured: {st[0]}{': ' + why if why else ''}", ""]
    if "attn.lvit" in status:  # LVIT_ATTN_CMD: its markdown table lines, as it printed them
        st = status["attn.lvit"]
        rows = [ln for ln in read(os.path.join(outdir, "attn.lvit.log")).splitlines()
                if ln.startswith("|")]
        o += [f"lvit's attention ({st[0]}{': ' + st[1] if st[1] and st[0] != 'ok' else ''}):", ""]
        o += (rows or ["(no table in attn.lvit.log)"]) + [""]

    o += ["## Training step (bf16 autocast, fp32 master weights and AdamW)", "",
          "| config | S | tokens/step | impl | ms/step | tokens/s | model TFLOP/s | MFU "
          "| peak memory GiB | lvit / torch | status |",
          "|---|---|---|---|---|---|---|---|---|---|---|"]
    configs = [ln.split("|", 2) for ln in read(os.path.join(outdir, "configs.txt")).splitlines()
               if ln.count("|") >= 2]
    for name, S, flags in configs:
        m = re.search(r"--batch\s+(\d+)", flags)
        tokens = int(S) * int(m.group(1)) if m and S.isdigit() else "-"
        torch_rate = None
        for impl in ("torch", "torch-recompute", "lvit"):
            key = f"{name}.{impl}"
            st = status.get(key)
            if st is None:
                continue
            if impl.startswith("torch"):
                r = load_json(os.path.join(outdir, f"{key}.json")) or {}
            else:
                r = parse_bench_log(read(os.path.join(outdir, f"{key}.log")))
            ok = st[0] == "ok" and r.get("tokens_per_s")
            label = {"torch": "torch SDPA", "torch-recompute": "torch SDPA, recompute",
                     "lvit": "lvit"}[impl]
            ratio = "-"
            if ok and impl.startswith("torch") and torch_rate is None:
                torch_rate = r["tokens_per_s"]
            if ok and impl == "lvit" and torch_rate:
                ratio = f"{r['tokens_per_s'] / torch_rate:.2f}x"
            mfu = r.get("mfu")
            o.append(f"| {name} | {S} | {r.get('tokens_per_step', tokens)} | {label} | "
                     f"{f(r.get('ms_per_step') if ok else None, '.1f')} | "
                     f"{f(r.get('tokens_per_s') if ok else None, ',.0f')} | "
                     f"{f(r.get('tflops') if ok else None, '.1f')} | "
                     f"{f(100 * mfu if ok and mfu else None, '.1f')}{'%' if ok and mfu else ''} | "
                     f"{f(r['peak_mem_bytes'] / 2**30 if r.get('peak_mem_bytes') else None, '.2f')} | "
                     f"{ratio} | {st[0]}{': ' + st[1] if st[1] and st[0] != 'ok' else ''} |")
    o += ["", "Model TFLOP/s = 3 x forward matmul FLOPs per step (lvit's vit_flops_per_sample; "
          "recomputation not counted) / time; MFU against the GPU's dense bf16 peak. "
          "lvit / torch: tokens/s against the first torch row of the configuration that ran "
          "(with recomputation only where torch without it ran out of memory).", ""]

    o += ["## Longest sequence that trains (D=768, 12 blocks, 12 heads, recomputation on)", "",
          "| impl | largest S trained | peak memory GiB | step s | smallest S out of memory "
          "| memory-limited S (fit, not run) | stopped by | status |",
          "|---|---|---|---|---|---|---|---|"]
    for impl in ("torch", "lvit"):
        st = status.get(f"maxseq.{impl}")
        if st is None:
            continue
        r = load_json(os.path.join(outdir, f"maxseq.{impl}.json")) or {}
        best, fail, fit = r.get("largest_ok"), r.get("smallest_oom"), r.get("memory_fit")
        if r.get("status") == "partial" and not r.get("stop"):
            r["stop"] = "killed by the piece's timeout (probes so far)"
        o.append(f"| {impl} | {best['S'] if best else '-'} | "
                 f"{f(best['peak_bytes'] / 2**30 if best and best.get('peak_bytes') else None, '.2f')} | "
                 f"{f(best.get('seconds') if best else None, '.2f')} | {fail['S'] if fail else '-'} | "
                 f"{f(fit['s_limit'] if fit else None, ',.0f')} | {r.get('stop') or '-'} | "
                 f"{st[0]}{': ' + st[1] if st[1] and st[0] != 'ok' else ''} |")
    o += ["", "S = 92 variables x 8 token rows x gw (multi mode, patch 4, grid 32 x 4gw; gw = 16 is "
          "the 5.625-degree grid).", ""]

    o += ["## Pieces", "", "| piece | status | detail |", "|---|---|---|"]
    for k, (s, d) in status.items():
        o.append(f"| {k} | {s} | {d.replace('|', '/')} |")
    print("\n".join(o))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "."))
