#!/usr/bin/env python3
"""Attention forward and backward TFLOP/s of PyTorch's F.scaled_dot_product_attention, per backend.

bf16, non-causal, no mask, no dropout, default scale 1/sqrt(d), at S in --seqs and d in
--head-dims, for each SDPA backend that torch can select: auto (whatever SDPA picks), flash,
efficient (memory-efficient, xFormers/CUTLASS), cudnn (torch >= 2.2 with
torch.nn.attention.sdpa_kernel, 2.3+ in practice) and, with --backends ...,math, the unfused
reference. A backend that refuses a case or fails is listed with the reason and skipped.

Shapes (defaults, after FlashAttention's own benchmark and the sequence lengths the
long-sequence ViT papers publish): NH = hidden/d heads with hidden 2048 (NH = 16 at d = 128, 32 at d = 64) and
B = max(1, tokens/S) with tokens 16,384 (B = 4 at S = 4k, B = 1 at 16k and 64k).
--batch and --heads override them. Layout --layout bhsd (default): q, k, v contiguous
[B,NH,S,d], SDPA's native layout; fused: views into one [B,S,3,NH,d] activation, as the model
(tools/twin.py) and lvit call attention.

FLOPs (bench/README.md's convention): forward 4*B*NH*S^2*d (QK^T and PV), backward 2.5x that
(dS = dP recomputation and three more products), fwd+bwd 3.5x. The backward time is the fwd+bwd
time minus the forward time. Forward is timed with inputs that require grad (the training
forward, which also writes the log-sum-exp). Times: CUDA events, mean over n calls after one
warm-up call, n chosen so each measurement runs about --target-s seconds (within
--min-iters..--max-iters).

Without CUDA, without torch, or with torch < 2.0 it prints "skip: <why>" and exits 0.
Exit status 1 only when every case failed on every backend.
"""
import argparse
import contextlib
import json
import math
import sys
import warnings


def parse_ints(s):
    return [int(x) for x in s.replace(",", " ").split()]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seqs", default="4096,16384,65536", help="sequence lengths S")
    ap.add_argument("--head-dims", default="64,128", help="head sizes d")
    ap.add_argument("--hidden", type=int, default=2048, help="NH = hidden/d unless --heads")
    ap.add_argument("--heads", type=int, default=0, help="NH for every case (0: hidden/d)")
    ap.add_argument("--tokens", type=int, default=16384, help="B = max(1, tokens/S) unless --batch")
    ap.add_argument("--batch", type=int, default=0, help="B for every case (0: tokens/S)")
    ap.add_argument("--backends", default="auto,flash,efficient,cudnn",
                    help="comma list of auto, flash, efficient, cudnn, math")
    ap.add_argument("--layout", choices=("bhsd", "fused"), default="bhsd")
    ap.add_argument("--target-s", type=float, default=1.0, help="seconds per measurement")
    ap.add_argument("--min-iters", type=int, default=3)
    ap.add_argument("--max-iters", type=int, default=100)
    ap.add_argument("--quick", action="store_true",
                    help="--target-s 0.3 --min-iters 2 (the whole default sweep in ~1 minute on H100)")
    ap.add_argument("--json", metavar="PATH", help="write the results as JSON")
    ap.add_argument("--md", metavar="PATH", help="also write the markdown tables to PATH")
    a = ap.parse_args(argv)
    if a.quick:
        a.target_s, a.min_iters = min(a.target_s, 0.3), min(a.min_iters, 2)

    try:
        import torch
        import torch.nn.functional as F
    except ImportError as e:
        return skip(f"no torch ({e})", a)
    if not hasattr(F, "scaled_dot_product_attention"):
        return skip(f"torch {torch.__version__} has no F.scaled_dot_product_attention "
                    f"(needs torch >= 2.0)", a)
    if not torch.cuda.is_available():
        return skip(f"no CUDA device (torch {torch.__version__}, built for CUDA "
                    f"{torch.version.cuda})", a)

    dev = torch.device("cuda")
    gpu = torch.cuda.get_device_name(dev)
    backends = [b.strip() for b in a.backends.split(",") if b.strip()]
    print(f"torch {torch.__version__} (CUDA {torch.version.cuda}, cuDNN "
          f"{torch.backends.cudnn.version()}), {gpu}; backends {','.join(backends)}; "
          f"layout {a.layout}; bf16, non-causal")
    rows = []
    for S in parse_ints(a.seqs):
        for d in parse_ints(a.head_dims):
            B = a.batch or max(1, a.tokens // S)
            NH = a.heads or max(1, a.hidden // d)
            fwd_flops = 4.0 * B * NH * S * S * d
            for be in backends:
                row = {"S": S, "d": d, "B": B, "NH": NH, "backend": be, "fwd_flops": fwd_flops}
                try:
                    row.update(measure(torch, F, dev, be, B, NH, S, d, a))
                    row["status"] = "ok"
                except Skip as e:
                    row.update(status="skip", note=str(e))
                torch.cuda.empty_cache()
                rows.append(row)
                print(line(row), flush=True)
    md = markdown(rows, gpu, torch.__version__, a)
    print()
    print(md)
    if a.md:
        with open(a.md, "w") as f:
            f.write(md + "\n")
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"status": "ok", "torch": torch.__version__, "gpu": gpu, "layout": a.layout,
                       "convention": "fwd 4*B*NH*S^2*d, bwd 2.5x, fwd+bwd 3.5x; TFLOP/s = 1e12",
                       "rows": rows}, f, indent=1)
    return 0 if any(r["status"] == "ok" for r in rows) else 1


class Skip(Exception):
    pass


def skip(why, a):
    print(f"skip: {why}")
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"status": "skip", "reason": why, "rows": []}, f, indent=1)
    return 0


def backend_context(torch, name):
    """A context manager that restricts SDPA to one backend, or raises Skip."""
    if name == "auto":
        return contextlib.nullcontext()
    members = {"flash": "FLASH_ATTENTION", "efficient": "EFFICIENT_ATTENTION",
               "cudnn": "CUDNN_ATTENTION", "math": "MATH"}
    if name not in members:
        raise Skip(f"unknown backend {name!r} (expected auto, {', '.join(members)})")
    try:
        from torch.nn.attention import SDPBackend, sdpa_kernel  # torch >= 2.3
    except ImportError:
        sdpa_kernel = None
    if sdpa_kernel is not None:
        if not hasattr(SDPBackend, members[name]):
            raise Skip(f"torch {torch.__version__} has no SDPBackend.{members[name]}")
        return sdpa_kernel(getattr(SDPBackend, members[name]))
    # torch 2.0-2.2: the older, boolean context manager (no cuDNN there)
    if name == "cudnn":
        raise Skip(f"torch {torch.__version__}: cuDNN attention is not selectable "
                   f"(torch.nn.attention.sdpa_kernel needs torch >= 2.3)")
    return torch.backends.cuda.sdp_kernel(enable_flash=name == "flash",
                                          enable_mem_efficient=name == "efficient",
                                          enable_math=name == "math")


def make_qkv(torch, dev, B, NH, S, d, layout):
    if layout == "fused":
        x = torch.randn(B, S, 3, NH, d, device=dev, dtype=torch.bfloat16)
        q, k, v = x.permute(2, 0, 3, 1, 4).unbind(0)  # [B,NH,S,d] views, stride 3*NH*d over S
        leaves = [t.detach().requires_grad_() for t in (q, k, v)]  # keep the strides
        return leaves
    return [torch.randn(B, NH, S, d, device=dev, dtype=torch.bfloat16, requires_grad=True)
            for _ in range(3)]


def time_calls(torch, fn, a):
    """Mean seconds of fn() over n calls after one warm-up call (CUDA events)."""
    fn()
    torch.cuda.synchronize()
    e0, e1 = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    e0.record()
    fn()
    e1.record()
    e1.synchronize()
    one = max(e0.elapsed_time(e1) / 1e3, 1e-6)
    n = max(a.min_iters, min(a.max_iters, int(math.ceil(a.target_s / one))))
    e0.record()
    for _ in range(n):
        fn()
    e1.record()
    e1.synchronize()
    return e0.elapsed_time(e1) / 1e3 / n, n


def measure(torch, F, dev, be, B, NH, S, d, a):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            ctx = backend_context(torch, be)
            q, k, v = make_qkv(torch, dev, B, NH, S, d, a.layout)
            do = torch.randn(B, NH, S, d, device=dev, dtype=torch.bfloat16)
            with ctx:
                def fwd():
                    return F.scaled_dot_product_attention(q, k, v)

                def fwd_bwd():
                    o = F.scaled_dot_product_attention(q, k, v)
                    return torch.autograd.grad(o, (q, k, v), do)

                t_f, n_f = time_calls(torch, fwd, a)
                t_fb, n_fb = time_calls(torch, fwd_bwd, a)
                picked = picked_kernel(torch, fwd) if be == "auto" else None
        except Skip:
            raise
        except Exception as e:  # noqa: BLE001 (RuntimeError "No available kernel", OOM, ...)
            msg = " ".join(str(e).split())[:160] or type(e).__name__
            why = [" ".join(str(w.message).split())[:200] for w in caught
                   if "sdp" in str(w.message).lower() or "attention" in str(w.message).lower()]
            raise Skip(f"{type(e).__name__}: {msg}" + (f" [{'; '.join(why[:3])}]" if why else ""))
    fl = 4.0 * B * NH * S * S * d
    t_b = t_fb - t_f
    out = {"fwd_ms": t_f * 1e3, "fwd_tflops": fl / t_f / 1e12, "fwd_bwd_ms": t_fb * 1e3,
           "fwd_bwd_tflops": 3.5 * fl / t_fb / 1e12, "bwd_ms": t_b * 1e3,
           "bwd_tflops": (2.5 * fl / t_b / 1e12) if t_b > 0 else None, "iters": [n_f, n_fb]}
    if picked:
        out["note"] = f"picked: {picked}"
    return out


def picked_kernel(torch, fn):
    """Best effort: which kernel SDPA's default dispatch ran, from one profiled call (the aten op
    name, else the CUDA kernel names)."""
    try:
        from torch.profiler import ProfilerActivity, profile
        with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as prof:
            fn()
            torch.cuda.synchronize()
        names = " ".join(e.key for e in prof.key_averages()).lower()
    except Exception:  # noqa: BLE001
        return None
    for key, label in (("_scaled_dot_product_cudnn_attention", "cudnn"),
                       ("_scaled_dot_product_flash_attention", "flash"),
                       ("_scaled_dot_product_efficient_attention", "efficient"),
                       ("_scaled_dot_product_attention_math", "math"),
                       ("cudnn", "cudnn"), ("flash", "flash"), ("fmha", "efficient")):
        if key in names:
            return label
    return None


def fmt(x, spec=".1f"):
    return "-" if x is None else format(x, spec)


def line(r):
    if r["status"] != "ok":
        return (f"S={r['S']:>6} d={r['d']:>3} B={r['B']} NH={r['NH']:>2} {r['backend']:<9} "
                f"skip: {r['note']}")
    return (f"S={r['S']:>6} d={r['d']:>3} B={r['B']} NH={r['NH']:>2} {r['backend']:<9} "
            f"fwd {r['fwd_ms']:9.3f} ms {r['fwd_tflops']:6.1f} TFLOP/s | "
            f"bwd {fmt(r['bwd_tflops']):>6} TFLOP/s | fwd+bwd {r['fwd_bwd_ms']:9.3f} ms "
            f"{r['fwd_bwd_tflops']:6.1f} TFLOP/s {r.get('note', '')}")


def markdown(rows, gpu, version, a):
    out = [f"SDPA attention, {gpu}, torch {version}, bf16, non-causal, layout {a.layout}; "
           f"TFLOP/s with fwd = 4·B·NH·S²·d, bwd = 2.5×, fwd+bwd = 3.5×", "",
           "| S | d | B | NH | backend | fwd ms | fwd TFLOP/s | bwd TFLOP/s | fwd+bwd ms "
           "| fwd+bwd TFLOP/s | note |",
           "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        if r["status"] == "ok":
            out.append(f"| {r['S']} | {r['d']} | {r['B']} | {r['NH']} | {r['backend']} | "
                       f"{r['fwd_ms']:.3f} | {r['fwd_tflops']:.1f} | {fmt(r['bwd_tflops'])} | "
                       f"{r['fwd_bwd_ms']:.3f} | {r['fwd_bwd_tflops']:.1f} | {r.get('note', '')} |")
        else:
            note = r["note"].replace("|", "/")
            out.append(f"| {r['S']} | {r['d']} | {r['B']} | {r['NH']} | {r['backend']} | - | - | - "
                       f"| - | - | skip: {note} |")
    out += ["", "Best backend per case (the figure lvit's kernel has to match):", "",
            "| S | d | best fwd TFLOP/s | best bwd TFLOP/s | best fwd+bwd TFLOP/s |",
            "|---|---|---|---|---|"]
    cases = sorted({(r["S"], r["d"]) for r in rows})
    for S, d in cases:
        ok = [r for r in rows if (r["S"], r["d"]) == (S, d) and r["status"] == "ok"]
        cells = []
        for key in ("fwd_tflops", "bwd_tflops", "fwd_bwd_tflops"):
            have = [r for r in ok if r.get(key) is not None]
            if have:
                b = max(have, key=lambda r: r[key])
                cells.append(f"{b[key]:.1f} ({b['backend']})")
            else:
                cells.append("-")
        out.append(f"| {S} | {d} | " + " | ".join(cells) + " |")
    return "\n".join(out)


if __name__ == "__main__":
    sys.exit(main())
