#!/usr/bin/python3
"""PyTorch reference twin of lvit: the same ClimaX-layout ViT, for parity tests and benchmarks.

Layout conventions (shared with lvit; see /work/shared/ALGORITHMS.md section 1):
  x [B,V,H,W] -> per-variable PatchEmbed (Conv2d(1,D,p,stride p), tokens row-major over (lat,lon))
  -> [B,V,L,D] + var_embed[v]; then
    agg:   one learnable query per location cross-attends over the V variable tokens with
           nn.MultiheadAttention(D, NH, batch_first=True) -> [B,L,D]       (S = L)
    multi: variable-major sequence, token v*L+l                            (S = V*L)
  + pos_embed[l] + lead_time_embed(lead_hours/100); depth pre-norm blocks (fused qkv with bias,
  exact-erf GELU, LayerNorm eps 1e-5); final LayerNorm; head = k x [Linear(D,D), GELU] + Linear(D,E).
  Unpatchify: agg E = p*p*V ordered (p_row, p_col, variable), variable fastest:
      image[b,v,hp*p+pr,wp*p+pc] = out[b, hp*(W/p)+wp, (pr*p+pc)*V+v]
  multi E = p*p, token v*L+l fills its own patch of image[b,v] in (p_row, p_col) order.
  Loss: sum(wlat[h]*mask*(pred-y)^2)/sum(mask), wlat = cos(lat)/mean(cos(lat)), lat in degrees.
State-dict names are ClimaX/timm names (token_embeds.{v}.proj.weight, blocks.{i}.attn.qkv.weight,
head.{j}.weight, var_agg.in_proj_weight, ...); Linear weights are [out,in].
The model config travels in the safetensors __metadata__ key "lvit.config" (a JSON string).

Subcommands:
  init    write a random-init checkpoint (same metadata as `lvit init`)
  parity  load an lvit checkpoint (strict), perturb, write forward/backward/10-step AdamW reference
  bench   time full float32 training steps; last line "tokens/s: X"
Runs with Debian's /usr/bin/python3 (torch 1.13, numpy); safetensors is read/written by hand.
"""
import argparse
import ctypes
import json
import math
import os
import re
import struct
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

# ---------------------------------------------------------------------------------------------
# safetensors, by hand: u64 LE header length N, JSON header, raw little-endian data.

_DTYPES = {"F32": np.float32, "F64": np.float64, "F16": np.float16,
           "I32": np.int32, "I64": np.int64, "U8": np.uint8}


def st_read(path):
    """Returns (dict name -> float32/float64 torch tensor, metadata dict) in file order."""
    with open(path, "rb") as f:
        blob = f.read()
    (n,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8:8 + n].decode("utf-8"))
    meta = header.pop("__metadata__", {}) or {}
    base = 8 + n
    tensors = {}
    for name, info in sorted(header.items(), key=lambda kv: kv[1]["data_offsets"][0]):
        b, e = info["data_offsets"]
        raw = blob[base + b:base + e]
        if info["dtype"] == "BF16":  # numpy has no bfloat16: widen the 16 bits to float32
            arr = (np.frombuffer(raw, dtype="<u2").astype(np.uint32) << 16).view(np.float32)
        elif info["dtype"] in _DTYPES:
            arr = np.frombuffer(raw, dtype=np.dtype(_DTYPES[info["dtype"]]).newbyteorder("<"))
        else:
            raise SystemExit(f"{path}: tensor {name}: unsupported dtype {info['dtype']}")
        tensors[name] = torch.from_numpy(arr.astype(arr.dtype.newbyteorder("="), copy=True)
                                         .reshape(info["shape"]))
    return tensors, meta


def st_write(path, tensors, meta):
    """Writes tensors (name -> tensor, kept in insertion order) as F32 safetensors, atomically."""
    header = {"__metadata__": {str(k): str(v) for k, v in meta.items()}}
    chunks, off = [], 0
    for name, t in tensors.items():
        raw = t.detach().to(torch.float32).contiguous().cpu().numpy().astype("<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [off, off + len(raw)]}
        chunks.append(raw)
        off += len(raw)
    hjson = json.dumps(header, separators=(",", ":")).encode("utf-8")
    hjson += b" " * ((8 - (8 + len(hjson)) % 8) % 8)  # data starts 8-byte aligned
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(hjson)))
        f.write(hjson)
        for c in chunks:
            f.write(c)
    os.replace(tmp, path)


# ---------------------------------------------------------------------------------------------
# The model.

def sincos_1d(dim, pos):
    """[len(pos), dim] sin-cos embedding (MAE/ClimaX convention: sin half, then cos half)."""
    omega = 1.0 / 10000 ** (np.arange(dim // 2, dtype=np.float64) / (dim / 2.0))
    out = np.einsum("m,d->md", np.asarray(pos, dtype=np.float64).reshape(-1), omega)
    return np.concatenate([np.sin(out), np.cos(out)], axis=1)


def sincos_2d(dim, gh, gw):
    """[gh*gw, dim] 2-D sin-cos: first half encodes the row (lat), second half the column (lon)."""
    rows, cols = np.meshgrid(np.arange(gh), np.arange(gw), indexing="ij")
    return np.concatenate([sincos_1d(dim // 2, rows), sincos_1d(dim // 2, cols)], axis=1)


class PatchEmbed(nn.Module):
    """timm PatchEmbed for one channel: Conv2d(1,D,p,stride p), tokens row-major over the grid."""

    def __init__(self, p, dim):
        super().__init__()
        self.proj = nn.Conv2d(1, dim, kernel_size=p, stride=p)

    def forward(self, x):  # x [B,1,H,W] -> [B,L,D]
        return self.proj(x).flatten(2).transpose(1, 2)


class Attention(nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x):  # x [B,S,D]
        B, S, D = x.shape
        q, k, v = self.qkv(x).reshape(B, S, 3, self.heads, D // self.heads).permute(2, 0, 3, 1, 4)
        if hasattr(F, "scaled_dot_product_attention"):  # torch 2.x (flash/efficient kernels)
            o = F.scaled_dot_product_attention(q, k, v)
        else:  # torch 1.13: the S x S matrix, explicitly; scaling q (as timm does) is cheaper
            o = torch.softmax((q * q.shape[-1] ** -0.5) @ k.transpose(-2, -1), dim=-1) @ v
        return self.proj(o.transpose(1, 2).reshape(B, S, D))


class Mlp(nn.Module):
    def __init__(self, dim, hidden):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.act = nn.GELU()  # exact erf
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x):
        return self.fc2(self.act(self.fc1(x)))


class Block(nn.Module):
    def __init__(self, dim, heads, mlp_ratio):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=1e-5)
        self.attn = Attention(dim, heads)
        self.norm2 = nn.LayerNorm(dim, eps=1e-5)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))

    def forward(self, x):
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class LvitTwin(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.cfg = cfg
        V, D, p = len(cfg["vars"]), cfg["dim"], cfg["patch"]
        H, W = cfg["img_size"]
        if H % p or W % p or D % cfg["heads"] or cfg["channels"] not in ("agg", "multi"):
            raise SystemExit(f"bad config: {json.dumps(cfg)}")
        self.V, self.D, self.p, self.H, self.W = V, D, p, H, W
        self.gh, self.gw = H // p, W // p
        self.L = self.gh * self.gw
        self.agg = cfg["channels"] == "agg"
        self.token_embeds = nn.ModuleList([PatchEmbed(p, D) for _ in range(V)])
        self.var_embed = nn.Parameter(torch.zeros(1, V, D))
        if self.agg:
            self.var_query = nn.Parameter(torch.zeros(1, 1, D))
            self.var_agg = nn.MultiheadAttention(D, cfg["heads"], batch_first=True)
        self.pos_embed = nn.Parameter(torch.zeros(1, self.L, D))
        self.lead_time_embed = nn.Linear(1, D)
        self.blocks = nn.ModuleList([Block(D, cfg["heads"], cfg.get("mlp_ratio", 4))
                                     for _ in range(cfg["depth"])])
        self.norm = nn.LayerNorm(D, eps=1e-5)
        E = p * p * V if self.agg else p * p
        head = []
        for _ in range(cfg["decoder_depth"]):
            head += [nn.Linear(D, D), nn.GELU()]
        self.head = nn.Sequential(*head, nn.Linear(D, E))
        self.reset_parameters()

    def reset_parameters(self):
        """ClimaX-style init: sin-cos embeddings, trunc-normal(0.02) Linear weights, zero biases."""
        with torch.no_grad():
            self.var_embed.copy_(torch.from_numpy(sincos_1d(self.D, np.arange(self.V)))[None])
            self.pos_embed.copy_(torch.from_numpy(sincos_2d(self.D, self.gh, self.gw))[None])
            for m in self.modules():
                if isinstance(m, nn.Linear):
                    nn.init.trunc_normal_(m.weight, std=0.02)
                    nn.init.zeros_(m.bias)
                elif isinstance(m, nn.LayerNorm):
                    nn.init.ones_(m.weight)
                    nn.init.zeros_(m.bias)
                elif isinstance(m, nn.Conv2d):
                    nn.init.trunc_normal_(m.weight.view(m.weight.shape[0], -1), std=0.02)
                    nn.init.zeros_(m.bias)

    def forward(self, x, lead_hours):  # x [B,V,H,W], lead_hours [B] -> image [B,V,H,W]
        B = x.shape[0]
        tok = torch.stack([emb(x[:, v:v + 1]) for v, emb in enumerate(self.token_embeds)], 1)
        tok = tok + self.var_embed[:, :, None, :]                       # [B,V,L,D]
        if self.agg:
            kv = tok.permute(0, 2, 1, 3).reshape(B * self.L, self.V, self.D)
            q = self.var_query.expand(B * self.L, 1, self.D)
            h = self.var_agg(q, kv, kv, need_weights=False)[0].reshape(B, self.L, self.D)
            h = h + self.pos_embed
        else:
            h = (tok + self.pos_embed[:, None]).reshape(B, self.V * self.L, self.D)
        h = h + self.lead_time_embed((lead_hours / 100.0)[:, None].to(h.dtype))[:, None, :]
        for blk in self.blocks:
            h = blk(h)
        out = self.head(self.norm(h))                                   # [B,S,E]
        p, gh, gw = self.p, self.gh, self.gw
        if self.agg:  # (p_row, p_col, variable), variable fastest
            img = out.reshape(B, gh, gw, p, p, self.V).permute(0, 5, 1, 3, 2, 4)
        else:
            img = out.reshape(B, self.V, gh, gw, p, p).permute(0, 1, 2, 4, 3, 5)
        return img.reshape(B, self.V, self.H, self.W)

    def tokens_per_sample(self):
        return self.L if self.agg else self.V * self.L


def lat_weighted_mse(pred, y, mask, lat):
    w = torch.cos(torch.deg2rad(lat.to(pred.dtype)))
    w = (w / w.mean())[None, None, :, None]
    return (w * mask * (pred - y) ** 2).sum() / mask.sum()


# ---------------------------------------------------------------------------------------------
# Optimizer: decay groups and schedule.

_DECAY = re.compile(r"^(blocks\.\d+\.(attn\.qkv|attn\.proj|mlp\.fc1|mlp\.fc2)\.weight"
                    r"|var_agg\.(in_proj_weight|out_proj\.weight)|head\.\d+\.weight)$")


def param_groups(model, weight_decay):
    named = list(model.named_parameters())
    decay = [p for n, p in named if _DECAY.match(n)]
    rest = [p for n, p in named if not _DECAY.match(n)]
    return [{"params": decay, "weight_decay": weight_decay}, {"params": rest, "weight_decay": 0.0}]


def lr_at(s, tr):
    if s < tr["warmup"]:
        return tr["lr_max"] * (s + 1) / tr["warmup"]
    t = (s - tr["warmup"]) / max(1, tr["total"] - tr["warmup"])
    return tr["lr_min"] + 0.5 * (tr["lr_max"] - tr["lr_min"]) * (1 + math.cos(math.pi * t))


def make_optimizer(model, tr):
    return torch.optim.AdamW(param_groups(model, tr["weight_decay"]), lr=tr["lr_max"],
                             betas=(tr["beta1"], tr["beta2"]), eps=tr["eps"])


def train_step(model, opt, s, tr, batch):
    """One step: lr from the schedule, forward, loss, backward, clip, AdamW.
    Returns (loss, lr, global gradient norm before clipping)."""
    lr = lr_at(s, tr)
    for g in opt.param_groups:
        g["lr"] = lr
    opt.zero_grad(set_to_none=False)
    loss = lat_weighted_mse(model(batch["x"], batch["lead_hours"]), batch["y"], batch["mask"],
                            batch["lat"])
    loss.backward()
    if tr["grad_clip"] > 0:  # scales by min(1, clip/(norm+1e-6))
        norm = torch.nn.utils.clip_grad_norm_(model.parameters(), tr["grad_clip"]).item()
    else:
        norm = math.sqrt(sum(float((p.grad ** 2).sum()) for p in model.parameters()))
    opt.step()
    return loss.item(), lr, norm


def make_batch(cfg, B, gen, dtype):
    V, (H, W) = len(cfg["vars"]), cfg["img_size"]
    dl = 180.0 / H
    return {
        "x": torch.randn(B, V, H, W, generator=gen, dtype=dtype),
        "y": torch.randn(B, V, H, W, generator=gen, dtype=dtype),
        "mask": (torch.rand(B, V, H, W, generator=gen, dtype=dtype) >= 0.1).to(dtype),
        "lead_hours": torch.tensor([6.0, 12.0, 24.0], dtype=dtype)[
            torch.randint(0, 3, (B,), generator=gen)],
        "lat": torch.linspace(-90 + dl / 2, 90 - dl / 2, H, dtype=dtype),
    }


def config_from_args(a):
    try:
        H, W = (int(s) for s in a.grid.lower().split("x"))
    except ValueError:
        raise SystemExit(f"--grid {a.grid!r}: expected HxW, e.g. 32x64")
    return {"vars": [f"var{i}" for i in range(a.vars)], "img_size": [H, W], "patch": a.patch,
            "dim": a.dim, "depth": a.depth, "heads": a.heads, "decoder_depth": a.decoder_depth,
            "mlp_ratio": 4, "channels": a.channels}


# ---------------------------------------------------------------------------------------------
# Subcommands.

def cmd_init(a):
    torch.manual_seed(a.seed)
    cfg = config_from_args(a)
    model = LvitTwin(cfg)
    st_write(a.out, model.state_dict(), {"lvit.config": json.dumps(cfg)})
    print(f"wrote {a.out}: {sum(p.numel() for p in model.parameters())} parameters")


def cmd_parity(a):
    tensors, meta = st_read(a.lvit_model)
    if "lvit.config" not in meta:
        raise SystemExit(f"{a.lvit_model}: no __metadata__ key 'lvit.config'")
    cfg = json.loads(meta["lvit.config"])
    if cfg.get("residual"):  # the network is the same, but the target (y - x) is not modelled here
        raise SystemExit(f"{a.lvit_model}: residual configs are not supported by the twin's parity")
    model = LvitTwin(cfg)
    model.load_state_dict(tensors, strict=True)  # a PyTorch user can load an lvit checkpoint
    model.double()
    gen = torch.Generator().manual_seed(a.seed)
    with torch.no_grad():  # lvit's zeros (var_query, biases) must not hide bugs
        for p in model.parameters():  # rounded to float32: start exactly from what REF stores
            p.copy_((p + 0.05 * torch.randn(p.shape, generator=gen, dtype=torch.float64)).float())
    batch = {k: t.float().double() for k, t in make_batch(cfg, 2, gen, torch.float64).items()}
    names = [n for n, _ in model.named_parameters()]
    ref = {f"batch.{k}": batch[k] for k in ("x", "y", "mask", "lead_hours", "lat")}
    ref.update({f"param.{n}": p.detach().clone() for n, p in model.named_parameters()})

    pred = model(batch["x"], batch["lead_hours"])
    loss = lat_weighted_mse(pred, batch["y"], batch["mask"], batch["lat"])
    loss.backward()
    ref["out.pred"] = pred.detach()
    ref["out.loss"] = loss.detach().reshape(1)
    ref.update({f"grad.{n}": p.grad.detach().clone() for n, p in model.named_parameters()})

    # grad_clip 0.05, not 1.0: these gradient norms are ~0.1, so 1.0 would never clip and a
    # clipping bug could not fail the test; at 0.05 every step clips.
    tr = {"lr_max": 1e-3, "lr_min": 1e-4, "warmup": 3, "total": 10, "beta1": 0.9, "beta2": 0.95,
          "eps": 1e-8, "weight_decay": 0.05, "grad_clip": 0.05}
    opt = make_optimizer(model, tr)
    hist = []
    for s in range(tr["total"]):
        hist.append(train_step(model, opt, s, tr, batch))
        print("step %d: loss %.8f lr %.6g grad norm %.6f" % ((s,) + hist[-1]))
    ref["train.loss"] = torch.tensor([h[0] for h in hist])
    ref["train.lr"] = torch.tensor([h[1] for h in hist])
    ref["train.grad_norm"] = torch.tensor([h[2] for h in hist])
    ref.update({f"final.{n}": p.detach().clone() for n, p in model.named_parameters()})
    st_write(a.out, ref, {"lvit.config": meta["lvit.config"], "lvit.train": json.dumps(tr)})
    print(f"wrote {a.out}: {len(ref)} tensors, {len(names)} parameters, "
          f"loss {ref['out.loss'].item():.8f}")


def _set_blas_threads(n):
    """torch.set_num_threads does not reach OpenBLAS's own pthread pool: set it directly."""
    for lib in ("libopenblas.so.0", "libopenblas.so"):
        try:
            ctypes.CDLL(lib).openblas_set_num_threads(ctypes.c_int(n))
            return lib
        except (OSError, AttributeError):
            continue
    return None


def cmd_bench(a):
    if a.threads > 0:
        torch.set_num_threads(a.threads)
        _set_blas_threads(a.threads)
    torch.manual_seed(a.seed)
    cfg = config_from_args(a)
    model = LvitTwin(cfg)
    batch = make_batch(cfg, a.batch, torch.Generator().manual_seed(a.seed), torch.float32)
    tr = {"lr_max": 5e-4, "lr_min": 5e-5, "warmup": 2, "total": a.warmup + a.steps,
          "beta1": 0.9, "beta2": 0.95, "eps": 1e-8, "weight_decay": 0.05, "grad_clip": 1.0}
    opt = make_optimizer(model, tr)
    tokens = a.batch * model.tokens_per_sample()
    nparam = sum(p.numel() for p in model.parameters())
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, "
          f"OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', '(unset)')}, "
          f"OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY', '(unset)')}")
    print(f"config: {json.dumps(cfg)}; {nparam} parameters; {tokens} tokens/step")
    for s in range(a.warmup):
        train_step(model, opt, s, tr, batch)
    total = 0.0
    for s in range(a.steps):
        t0 = time.perf_counter()
        loss = train_step(model, opt, a.warmup + s, tr, batch)[0]
        dt = time.perf_counter() - t0
        total += dt
        if s == 0 or (s + 1) % max(1, a.steps // 4) == 0:
            print(f"step {s + 1}/{a.steps}: loss {loss:.5f}, {dt * 1e3:.1f} ms, "
                  f"{tokens / dt:.0f} tokens/s")
    print(f"tokens/s: {a.steps * tokens / total:.1f}")


def add_model_args(p, defaults):
    p.add_argument("--vars", type=int, default=defaults["vars"])
    p.add_argument("--grid", default=defaults["grid"], help="HxW, e.g. 32x64")
    p.add_argument("--patch", type=int, default=2)
    p.add_argument("--dim", type=int, default=defaults["dim"])
    p.add_argument("--depth", type=int, default=defaults["depth"])
    p.add_argument("--heads", type=int, default=4)
    p.add_argument("--decoder-depth", type=int, default=2)
    p.add_argument("--channels", choices=("agg", "multi"), default="agg")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("init", help="write a random-init checkpoint with lvit metadata")
    add_model_args(p, {"vars": 3, "grid": "8x16", "dim": 32, "depth": 2})
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("-o", "--out", required=True)
    p.set_defaults(fn=cmd_init)
    p = sub.add_parser("parity", help="write the parity reference for an lvit checkpoint")
    p.add_argument("--lvit-model", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--seed", type=int, default=1234)
    p.set_defaults(fn=cmd_parity)
    p = sub.add_parser("bench", help="time float32 training steps")
    add_model_args(p, {"vars": 5, "grid": "32x64", "dim": 128, "depth": 4})
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--threads", type=int, default=0, help="0: torch's default")
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(fn=cmd_bench)
    a, extra = ap.parse_known_args(argv)
    if extra and a.cmd != "bench":
        ap.error(f"unrecognized arguments: {' '.join(extra)}")
    if extra:  # bench_vs_torch.sh passes lvit's bench flags to both; say what the twin skips
        print(f"twin bench: ignoring {' '.join(extra)}", file=sys.stderr)
    a.fn(a)


if __name__ == "__main__":
    sys.exit(main())
