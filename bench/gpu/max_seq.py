#!/usr/bin/env python3
"""The longest sequence that trains on one GPU: forward + backward + AdamW step, binary search over S.

Model (defaults): the twin (tools/twin.py) with D = 768, 12 blocks, 12 heads, decoder depth 2,
bf16 autocast with fp32 master weights and fp32 AdamW (fused where torch has it), attention
through F.scaled_dot_product_attention, recomputation on (torch.utils.checkpoint per block).

Mapping S -> data: multi channel mode (S = V*L) with the paper's 92 ERA5 variables, patch 4 and
the 5.625-degree grid's 32 latitude rows (8 token rows); only the longitude is stretched:
    grid 32 x (4*gw), L = 8*gw tokens per variable, S = 92 * 8 * gw = 736 * gw.
gw = 16 is the real 5.625-degree grid (32x64, S = 11,776, the issue's multi configuration);
the search steps S in multiples of 736. --vars, --patch, --rows change the mapping.

One probe = a fresh model and AdamW on the GPU; gradients and AdamW's moments are allocated
first (zero gradients and one optimizer step), so that the one timed training step that follows
has everything resident that every later step has; the probe passes when that step finishes.
A probe that raises torch.cuda.OutOfMemoryError fails; any other error stops the search.

Search: S doubles from --s-min until a probe fails, S passes --s-max, or the next probe would
not fit in the --budget seconds (its time is predicted as the last step's time scaled by
(S_next/S)^2, attention being quadratic); then bisection between the largest S that trained
and the smallest that failed until they are within --tol (relative) or one step of 736.
It prints the largest S that trained, its peak memory (torch.cuda.max_memory_allocated) and
step time, the smallest that failed, and the memory-limited S predicted by a straight-line fit
of peak memory over the probes that trained (not run: a prediction).

--lvit PATH runs the same search with `PATH bench --device cuda ... --steps 1 --warmup 1`
probes in subprocesses (with --lvit-flags, default "--recompute"): a probe passes when it exits
0 and prints tokens/s; "out of memory" in its output makes it a failure by memory.

Without CUDA, torch or F.scaled_dot_product_attention (torch < 2.0) it prints "skip: <why>" and
exits 0 (the lvit mode needs only the binary). Exit status 1 when no probe trained or a probe
failed by something else than memory.
"""
import argparse
import gc
import inspect
import json
import math
import os
import re
import shlex
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tools"))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dim", type=int, default=768)
    ap.add_argument("--depth", type=int, default=12)
    ap.add_argument("--heads", type=int, default=12)
    ap.add_argument("--decoder-depth", type=int, default=2)
    ap.add_argument("--vars", type=int, default=92)
    ap.add_argument("--patch", type=int, default=4)
    ap.add_argument("--rows", type=int, default=8, help="token rows (grid height = rows*patch)")
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--dtype", choices=("bf16", "fp32"), default="bf16")
    ap.add_argument("--attn", choices=("sdpa", "manual"), default="sdpa")
    ap.add_argument("--no-recompute", dest="recompute", action="store_false")
    ap.add_argument("--s-min", type=int, default=16384, help="first S tried (rounded up to a step)")
    ap.add_argument("--s-max", type=int, default=1 << 20, help="largest S tried")
    ap.add_argument("--budget", type=float, default=300, help="seconds for the whole search")
    ap.add_argument("--tol", type=float, default=0.03, help="relative resolution of the bisection")
    ap.add_argument("--lvit", metavar="PATH", help="probe this lvit binary instead of the twin")
    ap.add_argument("--lvit-flags", default="--recompute", help="extra flags for lvit bench")
    ap.add_argument("--json", metavar="PATH")
    # Testing only: run the probes on the CPU (tiny models) and fail every S above N as if it
    # had run out of memory; checks the search and the probe code without a GPU.
    ap.add_argument("--cpu-test-limit", type=int, default=0, help=argparse.SUPPRESS)
    a = ap.parse_args(argv)

    step = a.vars * a.rows
    if a.lvit:
        probe, who = LvitProbe(a), f"lvit ({a.lvit})"
    else:
        try:
            import torch
            import torch.nn.functional as F
        except ImportError as e:
            return skip(f"no torch ({e})", a)
        if a.attn == "sdpa" and not hasattr(F, "scaled_dot_product_attention"):
            return skip(f"torch {torch.__version__} has no F.scaled_dot_product_attention "
                        f"(needs torch >= 2.0)", a)
        if not torch.cuda.is_available() and not a.cpu_test_limit:
            return skip(f"no CUDA device (torch {torch.__version__}, built for CUDA "
                        f"{torch.version.cuda})", a)
        probe, who = TorchProbe(a, torch), f"torch {torch.__version__}"
    print(f"max_seq: {who}; D={a.dim}, depth {a.depth}, {a.heads} heads, {a.dtype}, "
          f"attention {a.attn}, recompute {'on' if a.recompute else 'off'}, batch {a.batch}; "
          f"S = {a.vars} vars x {a.rows} x gw tokens (grid {a.rows * a.patch}x(gw*{a.patch}), "
          f"patch {a.patch}), step {step}; budget {a.budget:.0f} s", flush=True)

    t_start = time.perf_counter()
    probes = []  # dicts: S, gw, status (ok|oom|error|timeout), seconds, peak_bytes, note

    def summary(stop, final):
        best = max((p for p in probes if p["status"] == "ok"), key=lambda p: p["S"], default=None)
        fail = min((p for p in probes if p["status"] == "oom"), key=lambda p: p["S"], default=None)
        res = {"status": ("ok" if best else "none") if final else "partial",
               "impl": "lvit" if a.lvit else "torch", "who": who, "args": vars(a), "step": step,
               "probes": probes, "stop": stop, "largest_ok": best, "smallest_oom": fail,
               "memory_fit": memory_fit(probes, probe.total_bytes()),
               "elapsed_s": time.perf_counter() - t_start}
        if a.json:  # after every probe: a run killed by a timeout keeps what it found
            with open(a.json + ".tmp", "w") as f:
                json.dump(res, f, indent=1)
            os.replace(a.json + ".tmp", a.json)
        return res

    def run(gw):
        r = probe(gw)
        r.update(S=gw * step, gw=gw)
        probes.append(r)
        summary(None, False)
        mem = f", peak {r['peak_bytes'] / 2**30:.2f} GiB" if r.get("peak_bytes") else ""
        tm = f", step {r['seconds']:.2f} s" if r.get("seconds") else ""
        print(f"  S={r['S']:>8} (grid {a.rows * a.patch}x{gw * a.patch}): {r['status']}{tm}{mem}"
              f"{' - ' + r['note'] if r.get('note') else ''}", flush=True)
        return r

    def affordable(gw):
        """Whether a probe at gw is predicted to finish inside the budget."""
        left = a.budget - (time.perf_counter() - t_start)
        ok = [p for p in probes if p["status"] == "ok"]
        if not ok:
            return left > 0
        last = max(ok, key=lambda p: p["S"])
        overhead = last.get("overhead", 5.0)
        predicted = last["seconds"] * (gw * step / last["S"]) ** 2 + overhead
        return predicted < left

    gw_max = max(1, a.s_max // step)
    gw = min(gw_max, max(1, -(-a.s_min // step)))
    lo = hi = None
    stop = None
    while lo is None or hi is None:  # doubling (or halving, when the first probe fails)
        if not affordable(gw):
            stop = f"time budget: S={gw * step} predicted not to finish in the {a.budget:.0f} s"
            break
        r = run(gw)
        if r["status"] == "ok":
            lo = gw
            if hi is not None:
                break
            if gw >= gw_max:
                stop = f"cap: --s-max {a.s_max} reached"
                break
            gw = min(gw_max, gw * 2)
        elif r["status"] == "oom":
            hi = gw
            if lo is not None or gw == 1:
                break
            gw = max(1, gw // 2)
        else:
            stop = f"probe failed: {r.get('note', r['status'])}"
            break
    while stop is None and lo is not None and hi is not None and \
            hi - lo > max(1, int(a.tol * lo)):  # bisection
        mid = (lo + hi) // 2
        if not affordable(mid):
            stop = f"time budget: S={mid * step} predicted not to finish"
            break
        r = run(mid)
        if r["status"] == "ok":
            lo = mid
        elif r["status"] == "oom":
            hi = mid
        else:
            stop = f"probe failed: {r.get('note', r['status'])}"
            break

    res = summary(stop, True)
    best, fail, fit = res["largest_ok"], res["smallest_oom"], res["memory_fit"]
    if best:
        print(f"max_seq: largest S that trained: {best['S']} tokens (grid {a.rows * a.patch}x"
              f"{best['gw'] * a.patch}, {a.vars} vars, patch {a.patch}), peak memory "
              f"{fmt_gib(best.get('peak_bytes'))}, step {best['seconds']:.2f} s")
    else:
        print("max_seq: no probe trained")
    if fail:
        print(f"max_seq: smallest S that ran out of memory: {fail['S']}")
    else:
        print(f"max_seq: no probe ran out of memory ({stop or 'search ended'}): the limit is higher")
    if stop and fail:
        print(f"max_seq: stopped: {stop}")
    if fit:
        print(f"max_seq: memory-limited S predicted by a linear fit over {fit['points']} probes "
              f"(not run): ~{fit['s_limit']:.0f} tokens ({fit['bytes_per_token'] / 1024:.1f} KiB "
              f"per token {fit['base_bytes'] / 2**30:+.2f} GiB, of {fit['total_bytes'] / 2**30:.1f} GiB)")
    failed_other = any(p["status"] not in ("ok", "oom") for p in probes)
    return 0 if best and not failed_other else 1


def fmt_gib(b):
    return "?" if not b else f"{b / 2**30:.2f} GiB"


def memory_fit(probes, total):
    pts = sorted({(p["S"], p["peak_bytes"]) for p in probes
                  if p["status"] == "ok" and p.get("peak_bytes")})
    if len(pts) < 2 or not total:
        return None
    n = len(pts)
    mx = sum(s for s, _ in pts) / n
    my = sum(b for _, b in pts) / n
    sxx = sum((s - mx) ** 2 for s, _ in pts)
    if sxx <= 0:
        return None
    slope = sum((s - mx) * (b - my) for s, b in pts) / sxx
    base = my - slope * mx
    if slope <= 0:
        return None
    return {"points": n, "bytes_per_token": slope, "base_bytes": base, "total_bytes": total,
            "s_limit": (total - base) / slope}


def skip(why, a):
    print(f"skip: {why}")
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"status": "skip", "reason": why}, f, indent=1)
    return 0


class TorchProbe:
    def __init__(self, a, torch):
        import twin  # tools/twin.py: the model, the optimizer and the training step, single-sourced
        self.a, self.torch, self.twin = a, torch, twin
        self.cuda = not a.cpu_test_limit
        self.dev = torch.device("cuda" if self.cuda else "cpu")

    def total_bytes(self):
        return self.torch.cuda.mem_get_info(self.dev)[1] if self.cuda else None

    def peak(self):
        return self.torch.cuda.max_memory_allocated(self.dev) if self.cuda else None

    def __call__(self, gw):
        torch, twin, a, dev = self.torch, self.twin, self.a, self.dev
        cfg = {"vars": [f"var{i}" for i in range(a.vars)], "img_size": [a.rows * a.patch, gw * a.patch],
               "patch": a.patch, "dim": a.dim, "depth": a.depth, "heads": a.heads,
               "decoder_depth": a.decoder_depth, "mlp_ratio": 4, "channels": "multi"}
        tr = {"lr_max": 5e-4, "lr_min": 5e-5, "warmup": 2, "total": 10, "beta1": 0.9, "beta2": 0.95,
              "eps": 1e-8, "weight_decay": 0.05, "grad_clip": 1.0}
        amp = None
        if a.dtype == "bf16":
            def amp():
                return torch.autocast(device_type=dev.type, dtype=torch.bfloat16)
        gc.collect()
        if self.cuda:
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats(dev)
        elif gw * a.vars * a.rows > a.cpu_test_limit:
            return {"status": "oom", "note": f"simulated (--cpu-test-limit {a.cpu_test_limit})",
                    "peak_bytes": None}
        out = {}
        model = opt = batch = None
        t0 = time.perf_counter()
        try:
            torch.manual_seed(0)
            build = dev if self.cuda and hasattr(dev, "__enter__") else None
            if build is not None:
                with build:
                    model = twin.LvitTwin(cfg, attn=a.attn, recompute=a.recompute)
            else:
                model = twin.LvitTwin(cfg, attn=a.attn, recompute=a.recompute).to(dev)
            fused = {"fused": True} if self.cuda and "fused" in inspect.signature(
                torch.optim.AdamW).parameters else {}
            opt = twin.make_optimizer(model, tr, **fused)
            batch = {k: t.to(dev) for k, t in twin.make_batch(
                cfg, a.batch, torch.Generator().manual_seed(0), torch.float32).items()}
            for p in model.parameters():  # gradients and AdamW moments resident from the start
                p.grad = torch.zeros_like(p)
            opt.step()
            self.sync()
            t1 = time.perf_counter()
            loss = twin.train_step(model, opt, 0, tr, batch, amp)[0]
            self.sync()
            t2 = time.perf_counter()
            out = {"status": "ok" if math.isfinite(loss) else "error", "seconds": t2 - t1,
                   "overhead": t1 - t0, "peak_bytes": self.peak(), "loss": loss}
            if not math.isfinite(loss):
                out["note"] = f"loss {loss}"
        except Exception as e:  # noqa: BLE001
            msg = " ".join(str(e).split())[:200] or type(e).__name__
            # the failed attempt's peak is not a training figure: not recorded
            out = {"status": "oom" if twin.is_oom(e) else "error", "note": msg.split(". ")[0],
                   "peak_bytes": None}
        finally:
            del model, opt, batch
            gc.collect()
            if self.cuda:
                torch.cuda.empty_cache()
        return out

    def sync(self):
        if self.cuda:
            self.torch.cuda.synchronize()


class LvitProbe:
    def __init__(self, a):
        self.a = a
        self.total = None

    def total_bytes(self):
        if self.total is None:  # the GPU's memory, from nvidia-smi (MiB)
            try:
                q = subprocess.run(["nvidia-smi", "--query-gpu=memory.total",
                                    "--format=csv,noheader,nounits"], stdout=subprocess.PIPE,
                                   stderr=subprocess.DEVNULL, text=True, timeout=20)
                self.total = float(q.stdout.split()[0]) * 2**20
            except (OSError, ValueError, IndexError, subprocess.SubprocessError):
                pass
        return self.total

    def __call__(self, gw):
        a = self.a
        cmd = [a.lvit, "bench", "--device", "cuda", "--steps", "1", "--warmup", "1",
               "--channels", "multi", "--vars", str(a.vars),
               "--grid", f"{a.rows * a.patch}x{gw * a.patch}", "--patch", str(a.patch),
               "--dim", str(a.dim), "--depth", str(a.depth), "--heads", str(a.heads),
               "--decoder-depth", str(a.decoder_depth), "--batch", str(a.batch)]
        cmd += shlex.split(a.lvit_flags)
        t0 = time.perf_counter()
        try:
            p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               timeout=max(10.0, a.budget))
            text, rc = p.stdout, p.returncode
        except subprocess.TimeoutExpired as e:
            return {"status": "timeout", "note": f"over {e.timeout:.0f} s"}
        except OSError as e:
            return {"status": "error", "note": str(e)}
        dt = time.perf_counter() - t0
        m = re.findall(r"peak memory[^0-9]*([0-9.]+)\s*(GiB|MiB)", text, re.I)
        peak = None
        if m:
            v, unit = m[-1]
            peak = float(v) * (2**30 if unit.lower() == "gib" else 2**20)
        if rc == 0 and re.search(r"tokens/s:\s*[0-9]", text):
            return {"status": "ok", "seconds": dt / 2, "overhead": 2.0, "peak_bytes": peak}
        last = [ln for ln in text.strip().splitlines() if ln.strip()][-1:] or [f"exit {rc}"]
        oom = re.search(r"out of memory|cudaErrorMemoryAllocation", text, re.I)
        return {"status": "oom" if oom else "error", "note": f"exit {rc}: {last[0][:200]}"}


if __name__ == "__main__":
    sys.exit(main())
