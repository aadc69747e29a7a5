#!/usr/bin/python3
"""PyTorch reference twin of lvit: the same ClimaX-layout ViT, for parity tests and benchmarks.

Layout conventions (shared with lvit; the model is ClimaX's, Nguyen et al. 2023; docs/formats.md):
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
Downscaling (config "task": "downscale", ORBIT-2's Reslim, docs/downscaling.md): the V inputs
(the "out_vars" Vo outputs first, then static fields) on the coarse H x W grid; E = (s*p)^2*Vo,
unpatchified as above with patch s*p onto the fine sH x sW grid, then head_conv (Conv2d(Vo,Vo,3,
padding 1)); plus res_path: conv1 (Conv2d(V, res_width*s^2, 3, padding 1)) -> GELU ->
PixelShuffle(s) -> conv2 (Conv2d(res_width, Vo, 3, padding 1)). Loss: the fine-grid MSE above
+ tv_weight * TV(pred) / (B*Vo*sH*sW), TV = |dvert| + |dhoriz| + 0.7 (|ddiag| + |dantidiag|).
State-dict names are ClimaX/timm names (token_embeds.{v}.proj.weight, blocks.{i}.attn.qkv.weight,
head.{j}.weight, var_agg.in_proj_weight, ...); Linear weights are [out,in].
The model config travels in the safetensors __metadata__ key "lvit.config" (a JSON string).

Subcommands:
  init    write a random-init checkpoint (same metadata as `lvit init`)
  parity  load an lvit checkpoint (strict), perturb, write forward/backward/10-step AdamW reference
  bench   time full training steps; last line "tokens/s: X". Float32 on the CPU by default;
          --device cuda, --dtype bf16 (autocast, fp32 master weights and AdamW), --attn sdpa,
          --recompute (a checkpoint per block) and --compile for the GPU comparison
          (bench/gpu-bench.sh); there it also prints ms/step, model TFLOP/s, MFU, peak memory.
Runs with Debian's /usr/bin/python3 (torch 1.13, numpy); safetensors is read/written by hand.
numpy is needed for init and parity (safetensors) only: bench runs without it (a GPU machine's
torch may come without numpy), with the sin-cos embeddings computed by torch instead.
The GPU options need torch >= 2.0 where they say so (sdpa, compile) and refuse cleanly otherwise.
"""
import argparse
import contextlib
import ctypes
import inspect
import json
import math
import os
import re
import struct
import sys
import time

try:
    import numpy as np
except ImportError:
    np = None
import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.utils.checkpoint

HAS_SDPA = hasattr(F, "scaled_dot_product_attention")  # torch >= 2.0

# ---------------------------------------------------------------------------------------------
# safetensors, by hand: u64 LE header length N, JSON header, raw little-endian data.

_DTYPES = {"F32": np.float32, "F64": np.float64, "F16": np.float16,
           "I32": np.int32, "I64": np.int64, "U8": np.uint8} if np is not None else {}


def _need_numpy(what):
    if np is None:
        raise SystemExit(f"{what}: needs numpy (python3-numpy), which this Python lacks")


def st_read(path):
    """Returns (dict name -> float32/float64 torch tensor, metadata dict) in file order."""
    _need_numpy(f"reading {path}")
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
    _need_numpy(f"writing {path}")
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
    if np is None:  # the same in float64 torch (bench without numpy)
        omega = 1.0 / 10000 ** (torch.arange(dim // 2, dtype=torch.float64) / (dim / 2.0))
        p = torch.as_tensor(pos if isinstance(pos, torch.Tensor) else list(pos),
                            dtype=torch.float64).reshape(-1)
        out = p[:, None] * omega[None, :]
        return torch.cat([torch.sin(out), torch.cos(out)], 1)
    omega = 1.0 / 10000 ** (np.arange(dim // 2, dtype=np.float64) / (dim / 2.0))
    out = np.einsum("m,d->md", np.asarray(pos, dtype=np.float64).reshape(-1), omega)
    return np.concatenate([np.sin(out), np.cos(out)], axis=1)


def sincos_2d(dim, gh, gw):
    """[gh*gw, dim] 2-D sin-cos: first half encodes the row (lat), second half the column (lon)."""
    if np is None:
        rows, cols = torch.meshgrid(torch.arange(gh), torch.arange(gw), indexing="ij")
        return torch.cat([sincos_1d(dim // 2, rows), sincos_1d(dim // 2, cols)], 1)
    rows, cols = np.meshgrid(np.arange(gh), np.arange(gw), indexing="ij")
    return np.concatenate([sincos_1d(dim // 2, rows), sincos_1d(dim // 2, cols)], axis=1)


def _as_tensor(x):
    return x if isinstance(x, torch.Tensor) else torch.from_numpy(x)


class PatchEmbed(nn.Module):
    """timm PatchEmbed for one channel: Conv2d(1,D,p,stride p), tokens row-major over the grid."""

    def __init__(self, p, dim):
        super().__init__()
        self.proj = nn.Conv2d(1, dim, kernel_size=p, stride=p)

    def forward(self, x):  # x [B,1,H,W] -> [B,L,D]
        return self.proj(x).flatten(2).transpose(1, 2)


ATTN_IMPLS = ("auto", "manual", "sdpa")


class Attention(nn.Module):
    """impl: "sdpa" = F.scaled_dot_product_attention (torch >= 2.0: flash/efficient/cuDNN kernels),
    "manual" = the S x S matrix, explicitly, "auto" = sdpa where torch has it, else manual."""

    def __init__(self, dim, heads, impl="auto"):
        super().__init__()
        if impl not in ATTN_IMPLS or (impl == "sdpa" and not HAS_SDPA):
            raise SystemExit(f"attention {impl!r}: expected one of {ATTN_IMPLS}"
                             + ("" if HAS_SDPA else "; sdpa needs torch >= 2.0"))
        self.heads = heads
        self.sdpa = impl == "sdpa" or (impl == "auto" and HAS_SDPA)
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x):  # x [B,S,D]
        B, S, D = x.shape
        q, k, v = self.qkv(x).reshape(B, S, 3, self.heads, D // self.heads).permute(2, 0, 3, 1, 4)
        if self.sdpa:
            o = F.scaled_dot_product_attention(q, k, v)
        else:  # the S x S matrix, explicitly; scaling q (as timm does) is cheaper
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
    def __init__(self, dim, heads, mlp_ratio, attn="auto"):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=1e-5)
        self.attn = Attention(dim, heads, attn)
        self.norm2 = nn.LayerNorm(dim, eps=1e-5)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))

    def forward(self, x):
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


_CKPT_KW = ({"use_reentrant": False}
            if "use_reentrant" in inspect.signature(torch.utils.checkpoint.checkpoint).parameters
            else {})


class ResPath(nn.Module):
    """Reslim's residual path on the coarse inputs: conv1 -> GELU -> PixelShuffle(s) -> conv2."""

    def __init__(self, V, width, s, Vo):
        super().__init__()
        self.conv1 = nn.Conv2d(V, width * s * s, 3, padding=1)
        self.shuffle = nn.PixelShuffle(s)
        self.conv2 = nn.Conv2d(width, Vo, 3, padding=1)

    def forward(self, x):
        return self.conv2(self.shuffle(F.gelu(self.conv1(x))))


def total_variation(img):
    """ORBIT-2's TV of img [B,C,H,W]: every neighbour pair inside the grid once, diagonals x 0.7."""
    tv = (img[:, :, 1:, :] - img[:, :, :-1, :]).abs().sum() + (img[:, :, :, 1:] - img[:, :, :, :-1]).abs().sum()
    diag = (img[:, :, 1:, 1:] - img[:, :, :-1, :-1]).abs().sum() + (img[:, :, 1:, :-1] - img[:, :, :-1, 1:]).abs().sum()
    return tv + 0.7 * diag


class LvitTwin(nn.Module):
    """attn: the blocks' attention (see Attention); recompute: torch.utils.checkpoint around each
    block while training (only the block inputs are kept; the block runs again in backward)."""

    def __init__(self, cfg, attn="auto", recompute=False):
        super().__init__()
        self.cfg = cfg
        self.recompute = recompute
        V, D, p = len(cfg["vars"]), cfg["dim"], cfg["patch"]
        H, W = cfg["img_size"]
        if H % p or W % p or D % cfg["heads"] or cfg["channels"] not in ("agg", "multi"):
            raise SystemExit(f"bad config: {json.dumps(cfg)}")
        self.V, self.D, self.p, self.H, self.W = V, D, p, H, W
        self.downscale = cfg.get("task") == "downscale"
        self.s = cfg["scale"] if self.downscale else 1
        self.Vo = cfg["out_vars"] if self.downscale else V
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
        self.blocks = nn.ModuleList([Block(D, cfg["heads"], cfg.get("mlp_ratio", 4), attn)
                                     for _ in range(cfg["depth"])])
        self.norm = nn.LayerNorm(D, eps=1e-5)
        P = p * self.s  # the head's patch on the output grid
        E = P * P * self.Vo if self.agg else p * p
        head = []
        for _ in range(cfg["decoder_depth"]):
            head += [nn.Linear(D, D), nn.GELU()]
        self.head = nn.Sequential(*head, nn.Linear(D, E))
        if self.downscale:
            self.head_conv = nn.Conv2d(self.Vo, self.Vo, 3, padding=1)
            self.res_path = ResPath(V, cfg["res_width"], self.s, self.Vo)
        self.reset_parameters()

    def reset_parameters(self):
        """ClimaX-style init: sin-cos embeddings, trunc-normal(0.02) Linear weights, zero biases."""
        with torch.no_grad():
            self.var_embed.copy_(_as_tensor(sincos_1d(self.D, range(self.V)))[None])
            self.pos_embed.copy_(_as_tensor(sincos_2d(self.D, self.gh, self.gw))[None])
            for m in self.modules():
                if isinstance(m, nn.Linear):
                    nn.init.trunc_normal_(m.weight, std=0.02)
                    nn.init.zeros_(m.bias)
                elif isinstance(m, nn.LayerNorm):
                    nn.init.ones_(m.weight)
                    nn.init.zeros_(m.bias)
                elif isinstance(m, nn.Conv2d) and m.kernel_size == (3, 3):  # Reslim: PyTorch's default
                    bound = 1.0 / math.sqrt(m.weight[0].numel())
                    nn.init.uniform_(m.weight, -bound, bound)
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
        ckpt = self.recompute and self.training and torch.is_grad_enabled()
        for blk in self.blocks:
            h = torch.utils.checkpoint.checkpoint(blk, h, **_CKPT_KW) if ckpt else blk(h)
        out = self.head(self.norm(h))                                   # [B,S,E]
        p, gh, gw = self.p, self.gh, self.gw
        if self.downscale:  # Reslim: onto the fine grid, head_conv, plus the residual path
            P, Vo = p * self.s, self.Vo
            img = out.reshape(B, gh, gw, P, P, Vo).permute(0, 5, 1, 3, 2, 4).reshape(B, Vo, gh * P, gw * P)
            return self.head_conv(img) + self.res_path(x)
        if self.agg:  # (p_row, p_col, variable), variable fastest
            img = out.reshape(B, gh, gw, p, p, self.V).permute(0, 5, 1, 3, 2, 4)
        else:
            img = out.reshape(B, self.V, gh, gw, p, p).permute(0, 1, 2, 4, 3, 5)
        return img.reshape(B, self.V, self.H, self.W)

    def tokens_per_sample(self):
        return self.L if self.agg else self.V * self.L

    def flops_per_sample(self):
        """Forward matmul FLOPs of one sample, counted as lvit's vit_flops_per_sample
        (src/model/vit.c) counts them: patch embedding 2*V*L*p*p*D; agg: k,v in-projection
        2*V*L*2D*D + scores and weighted sum 4*L*V*D + out-projection 2*L*D*D (the one learnable
        query's projection is not counted); per block qkv 6*S*D^2 + attention 4*S^2*D + proj 2*S*D^2
        + MLP 4*S*D*F; head 2*S*D*(decoder_depth*D + E). A training step counts 3x this
        (backward = 2x forward); recomputation (--recompute) is not counted (model-FLOPs MFU)."""
        V, L, D, p, S = self.V, self.L, self.D, self.p, self.tokens_per_sample()
        F_ = int(D * self.cfg.get("mlp_ratio", 4))
        E = p * p * V if self.agg else p * p
        f = 2.0 * V * L * p * p * D
        if self.agg:
            f += 2.0 * V * L * 2 * D * D + 4.0 * L * V * D + 2.0 * L * D * D
        f += self.cfg["depth"] * (2.0 * S * D * (3 * D + D + 2 * F_) + 4.0 * S * S * D)
        f += 2.0 * S * D * (self.cfg["decoder_depth"] * D + E)
        return f


def lat_weighted_mse(pred, y, mask, lat):
    w = torch.cos(torch.deg2rad(lat.to(pred.dtype)))
    w = (w / w.mean())[None, None, :, None]
    return (w * mask * (pred - y) ** 2).sum() / mask.sum()


def model_loss(pred, batch, tr):
    """lvit's loss: the masked latitude-weighted MSE, plus tr["tv_weight"] * TV / (cells of the
    batch) when set (downscaling)."""
    loss = lat_weighted_mse(pred, batch["y"], batch["mask"], batch["lat"])
    if tr.get("tv_weight", 0) > 0:
        loss = loss + tr["tv_weight"] * total_variation(pred) / pred.numel()
    return loss


# ---------------------------------------------------------------------------------------------
# Optimizer: decay groups and schedule.

_DECAY = re.compile(r"^(blocks\.\d+\.(attn\.qkv|attn\.proj|mlp\.fc1|mlp\.fc2)\.weight"
                    r"|var_agg\.(in_proj_weight|out_proj\.weight)|head\.\d+\.weight"
                    r"|head_conv\.weight|res_path\.conv[12]\.weight)$")


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


def make_optimizer(model, tr, **kw):
    """kw goes to torch.optim.AdamW (e.g. fused=True on CUDA with torch >= 2.0)."""
    return torch.optim.AdamW(param_groups(model, tr["weight_decay"]), lr=tr["lr_max"],
                             betas=(tr["beta1"], tr["beta2"]), eps=tr["eps"], **kw)


def train_step(model, opt, s, tr, batch, amp=None):
    """One step: lr from the schedule, forward, loss, backward, clip, AdamW.
    amp: None, or a function returning the autocast context the forward runs in (the loss is
    then taken in float32 on the widened prediction). Parameters, gradients and AdamW stay in
    their own dtype (float32 master weights under bf16 autocast).
    Returns (loss, lr, global gradient norm before clipping)."""
    lr = lr_at(s, tr)
    for g in opt.param_groups:
        g["lr"] = lr
    opt.zero_grad(set_to_none=False)
    if amp is None:
        pred = model(batch["x"], batch["lead_hours"])
    else:
        with amp():
            pred = model(batch["x"], batch["lead_hours"])
        pred = pred.float()
    loss = model_loss(pred, batch, tr)
    loss.backward()
    if tr["grad_clip"] > 0:  # scales by min(1, clip/(norm+1e-6))
        norm = torch.nn.utils.clip_grad_norm_(model.parameters(), tr["grad_clip"]).item()
    else:
        norm = math.sqrt(sum(float((p.grad ** 2).sum()) for p in model.parameters()))
    opt.step()
    return loss.item(), lr, norm


def make_batch(cfg, B, gen, dtype):
    V, (H, W) = len(cfg["vars"]), cfg["img_size"]
    s, Vo = (cfg["scale"], cfg["out_vars"]) if cfg.get("task") == "downscale" else (1, V)
    x = torch.randn(B, V, H, W, generator=gen, dtype=dtype)
    H, W = s * H, s * W  # targets, mask and latitudes on the output grid
    dl = 180.0 / H
    return {
        "x": x,
        "y": torch.randn(B, Vo, H, W, generator=gen, dtype=dtype),
        "mask": (torch.rand(B, Vo, H, W, generator=gen, dtype=dtype) >= 0.1).to(dtype),
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

    # grad_clip 0.05, not 1.0: these gradient norms are ~0.1, so 1.0 would never clip and a
    # clipping bug could not fail the test; at 0.05 every step clips.
    tr = {"lr_max": 1e-3, "lr_min": 1e-4, "warmup": 3, "total": 10, "beta1": 0.9, "beta2": 0.95,
          "eps": 1e-8, "weight_decay": 0.05, "grad_clip": 0.05}
    if cfg.get("task") == "downscale":
        tr["tv_weight"] = 0.02
    pred = model(batch["x"], batch["lead_hours"])
    loss = model_loss(pred, batch, tr)
    loss.backward()
    ref["out.pred"] = pred.detach()
    ref["out.loss"] = loss.detach().reshape(1)
    ref.update({f"grad.{n}": p.grad.detach().clone() for n, p in model.named_parameters()})

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


# Dense peak TFLOP/s by GPU name (first substring match, case-insensitive): bf16 on the tensor
# cores (no sparsity), and plain fp32 (no tensor cores, no TF32), from NVIDIA's data sheets.
GPU_PEAKS = (
    ("H200", 989.0, 67.0),       # H200 SXM, GH200
    ("H100 PCIe", 756.0, 51.0),
    ("H100 NVL", 835.0, 60.0),
    ("H100", 989.0, 67.0),       # H100 SXM ("NVIDIA H100 80GB HBM3")
    ("A100", 312.0, 19.5),
)


def gpu_peak_tflops(name, dtype):
    """(peak TFLOP/s, what it is) for a device name and "bf16"/"fp32", or (None, why not)."""
    for key, bf16, fp32 in GPU_PEAKS:
        if key.lower() in name.lower():
            return (bf16, f"{key} bf16 dense") if dtype == "bf16" else (fp32, f"{key} fp32 non-tensor")
    return None, f"no peak known for {name!r}: pass --peak-tflops"


def is_oom(e):
    oom = getattr(torch.cuda, "OutOfMemoryError", None)
    return (oom is not None and isinstance(e, oom)) or (
        isinstance(e, RuntimeError) and ("out of memory" in str(e)
                                         or "can't allocate memory" in str(e)))


def bench_setup_check(a):
    """Refuses (SystemExit, exit status 1, one line) what this torch or machine cannot run."""
    v = torch.__version__
    if a.attn == "sdpa" and not HAS_SDPA:
        raise SystemExit(f"twin bench: --attn sdpa needs torch >= 2.0 "
                         f"(F.scaled_dot_product_attention); this is torch {v}")
    if a.compile and not hasattr(torch, "compile"):
        raise SystemExit(f"twin bench: --compile needs torch >= 2.0 (torch.compile); "
                         f"this is torch {v}")
    if a.device == "cuda" and not torch.cuda.is_available():
        raise SystemExit(f"twin bench: --device cuda: no CUDA device (torch {v}, "
                         f"built for CUDA {torch.version.cuda})")


def adamw_kwargs(a, dev):
    """AdamW options: "auto" takes the fused CUDA kernel where torch has it (torch >= 2.0)."""
    fused_ok = "fused" in inspect.signature(torch.optim.AdamW).parameters
    if a.adam == "fused" or (a.adam == "auto" and dev.type == "cuda" and fused_ok):
        if not fused_ok:
            raise SystemExit(f"twin bench: --adam fused: torch {torch.__version__} has no fused AdamW")
        return {"fused": True}
    return {}


def cmd_bench(a):
    bench_setup_check(a)
    if a.threads > 0:
        torch.set_num_threads(a.threads)
        _set_blas_threads(a.threads)
    torch.manual_seed(a.seed)
    cfg = config_from_args(a)
    dev = torch.device(a.device)
    cuda = dev.type == "cuda"
    result = {"impl": "torch", "torch": torch.__version__, "device": a.device, "config": cfg,
              "batch": a.batch, "dtype": a.dtype, "attn": a.attn, "recompute": a.recompute,
              "compile": a.compile, "steps": a.steps, "warmup": a.warmup, "status": "ok"}
    H, W = cfg["img_size"]
    L = (H // cfg["patch"]) * (W // cfg["patch"])
    result["tokens_per_step"] = a.batch * (L if cfg["channels"] == "agg" else len(cfg["vars"]) * L)
    if cuda:
        result["gpu"] = torch.cuda.get_device_name(dev)
        torch.cuda.reset_peak_memory_stats(dev)
    try:
        rc = _bench_run(a, cfg, dev, result)
    except Exception as e:  # noqa: BLE001 (an OOM is a result: said, recorded, exit status 3)
        if not is_oom(e):
            raise
        msg = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        result["status"] = "oom"
        result["error"] = msg
        if cuda:
            result["peak_mem_bytes"] = torch.cuda.max_memory_allocated(dev)
        print(f"error: out of memory: {msg}", file=sys.stderr)
        print(f"result: out of memory ({result.get('tokens_per_step', '?')} tokens/step)")
        rc = 3
    if a.json:
        with open(a.json, "w") as f:
            json.dump(result, f, indent=1)
    return rc


def _bench_run(a, cfg, dev, result):
    cuda = dev.type == "cuda"
    # Build on the device where torch can (torch >= 2.0: a device context): a 2.5B-parameter
    # model is not initialised on the CPU and copied.
    build = dev if cuda and hasattr(dev, "__enter__") else contextlib.nullcontext()
    with build:
        model = LvitTwin(cfg, attn=a.attn, recompute=a.recompute)
    model.to(dev)
    batch = make_batch(cfg, a.batch, torch.Generator().manual_seed(a.seed), torch.float32)
    batch = {k: t.to(dev) for k, t in batch.items()}
    tr = {"lr_max": 5e-4, "lr_min": 5e-5, "warmup": 2, "total": a.warmup + a.steps,
          "beta1": 0.9, "beta2": 0.95, "eps": 1e-8, "weight_decay": 0.05, "grad_clip": 1.0}
    adam_kw = adamw_kwargs(a, dev)
    opt = make_optimizer(model, tr, **adam_kw)  # named parameters: before torch.compile renames
    fwd = torch.compile(model) if a.compile else model
    amp = None
    if a.dtype == "bf16":
        def amp():
            return torch.autocast(device_type=dev.type, dtype=torch.bfloat16)
    tokens = a.batch * model.tokens_per_sample()
    nparam = sum(p.numel() for p in model.parameters())
    flops = 3.0 * a.batch * model.flops_per_sample()
    result.update(tokens_per_step=tokens, parameters=nparam, flops_per_step=flops,
                  adamw="fused" if adam_kw else "default")
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, "
          f"OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', '(unset)')}, "
          f"OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY', '(unset)')}")
    print(f"config: {json.dumps(cfg)}; {nparam} parameters; {tokens} tokens/step")
    if cuda or a.dtype != "fp32" or a.attn != "auto" or a.recompute or a.compile or adam_kw:
        where = result.get("gpu", "cpu")
        impl = "sdpa" if model.blocks and model.blocks[0].attn.sdpa else "manual"
        print(f"mode: {a.device} ({where}), {a.dtype}"
              f"{' autocast, fp32 master weights' if a.dtype == 'bf16' else ''}, attention {impl}, "
              f"recompute {'on' if a.recompute else 'off'}, compile {'on' if a.compile else 'off'}, "
              f"AdamW {'fused' if adam_kw else 'default'}")
    t0 = time.perf_counter()
    for s in range(a.warmup):  # torch.compile compiles in the first step: timed apart
        train_step(fwd, opt, s, tr, batch, amp)
        if s == 0:
            print(f"first step: {time.perf_counter() - t0:.3f} s (warm-up, not in tokens/s"
                  f"{'; includes torch.compile' if a.compile else ''})")
    total, best = 0.0, math.inf
    for s in range(a.steps):
        if cuda:
            e0, e1 = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            e0.record()
        t0 = time.perf_counter()
        loss = train_step(fwd, opt, a.warmup + s, tr, batch, amp)[0]
        if cuda:
            e1.record()
            e1.synchronize()
            dt = e0.elapsed_time(e1) / 1e3
        else:
            dt = time.perf_counter() - t0
        total += dt
        best = min(best, dt)
        if s == 0 or (s + 1) % max(1, a.steps // 4) == 0:
            print(f"step {s + 1}/{a.steps}: loss {loss:.5f}, {dt * 1e3:.1f} ms, "
                  f"{tokens / dt:.0f} tokens/s")
    mean = total / a.steps
    tflops = flops / mean / 1e12
    result.update(ms_per_step=mean * 1e3, ms_best=best * 1e3, tokens_per_s=tokens / mean,
                  tflops=tflops)
    if cuda:
        peak, basis = (a.peak_tflops, "--peak-tflops") if a.peak_tflops > 0 else \
            gpu_peak_tflops(result["gpu"], a.dtype)
        result.update(peak_tflops=peak, peak_basis=basis,
                      mfu=(tflops / peak if peak else None),
                      peak_mem_bytes=torch.cuda.max_memory_allocated(dev),
                      reserved_bytes=torch.cuda.max_memory_reserved(dev))
        print(f"ms/step: {mean * 1e3:.2f} (best {best * 1e3:.2f}; {a.steps} timed steps after "
              f"{a.warmup} warm-up, CUDA events)")
        print(f"model TFLOP/s: {tflops:.1f} ({flops / 1e12:.3f} TFLOP/step = 3 x forward matmuls; "
              f"recomputation not counted)")
        if peak:
            print(f"MFU: {100 * tflops / peak:.1f}% of {peak:g} TFLOP/s ({basis})")
        else:
            print(f"MFU: n/a ({basis})")
        print(f"peak memory: {result['peak_mem_bytes'] / 2**30:.2f} GiB "
              f"(torch.cuda.max_memory_allocated; {result['reserved_bytes'] / 2**30:.2f} GiB reserved)")
    print(f"tokens/s: {a.steps * tokens / total:.1f}")
    return 0


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
    p = sub.add_parser("bench", help="time training steps (float32 CPU by default)")
    add_model_args(p, {"vars": 5, "grid": "32x64", "dim": 128, "depth": 4})
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--threads", type=int, default=0, help="0: torch's default")
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    p.add_argument("--dtype", choices=("fp32", "bf16"), default="fp32",
                   help="bf16: torch.autocast(bf16) forward; fp32 master weights, gradients, AdamW")
    p.add_argument("--attn", choices=ATTN_IMPLS, default="auto",
                   help="sdpa: F.scaled_dot_product_attention (torch >= 2.0); manual: the S x S "
                        "matrix; auto (default): sdpa where torch has it")
    p.add_argument("--recompute", action="store_true",
                   help="torch.utils.checkpoint around each block (not counted in model FLOPs)")
    p.add_argument("--compile", action="store_true", help="torch.compile the model (torch >= 2.0)")
    p.add_argument("--adam", choices=("auto", "default", "fused"), default="auto",
                   help="AdamW kernel; auto: fused on CUDA where torch has it, else torch's default")
    p.add_argument("--peak-tflops", type=float, default=0,
                   help="peak for MFU (default: looked up by GPU name, bf16 dense or fp32)")
    p.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    p.set_defaults(fn=cmd_bench)
    a, extra = ap.parse_known_args(argv)
    if extra and a.cmd != "bench":
        ap.error(f"unrecognized arguments: {' '.join(extra)}")
    if extra:  # bench_vs_torch.sh passes lvit's bench flags to both; say what the twin skips
        print(f"twin bench: ignoring {' '.join(extra)}", file=sys.stderr)
    return a.fn(a)


if __name__ == "__main__":
    sys.exit(main())
