#!/usr/bin/env bash
# lvit export --timm (src/io/timm_export.c): the encoder of a checkpoint under timm's
# VisionTransformer names. With timm importable (PYTHON, else ~/.cache/lvit/torch-venv/bin/python,
# else /usr/bin/python3) the exported file loads into timm's VisionTransformer with strict=False,
# no unexpected keys, and for a one-band-group classifier no missing keys and timm's logits equal to
# lvit's forward (computed from the lvit checkpoint with tools/twin.py's blocks); without timm the
# names are checked against timm's VisionTransformer key list (written out below).
# usage: cli_export_timm.sh LVIT_BINARY SOURCE_DIR
set -u
LVIT=$1 SRC=$2
. "$(dirname "$0")/lib_cli.sh"
tmp=$(mktemp -d /tmp/lvit_timm_XXXXXX)
trap 'rm -rf "$tmp"' EXIT
export OMP_NUM_THREADS=1
PY=${PYTHON:-}
for p in "$HOME/.cache/lvit/torch-venv/bin/python" /usr/bin/python3; do
  [ -z "$PY" ] && [ -x "$p" ] && "$p" -c "import timm, numpy" >/dev/null 2>&1 && PY=$p
done
[ -z "$PY" ] && PY=/usr/bin/python3 && echo "note: no python with timm: the names are checked against timm's key list"

# ---- refusals
expect 2 "export without a format" "$LVIT" export "$tmp/x.safetensors" -o "$tmp/y.safetensors"
has "--timm"
expect 2 "export of a missing file" "$LVIT" export --timm "$tmp/none.safetensors" -o "$tmp/y.safetensors"
has "none.safetensors"

check() { # LVIT_CKPT TIMM_FILE EXPECT_MISSING(comma list) [LOGITS=1]
  PYTHONDONTWRITEBYTECODE=1 "$PY" - "$SRC" "$@" <<'PY'
import json, struct, sys
src, lv_path, tm_path, want_missing = sys.argv[1:5]
logits = len(sys.argv) > 5
def header(p):
    b = open(p, "rb").read(); n = struct.unpack("<Q", b[:8])[0]; return json.loads(b[8:8 + n])
h = header(tm_path)
kw = json.loads(h.pop("__metadata__")["lvit.timm"])
eps = kw.pop("norm_eps")
# timm's VisionTransformer(class_token=False, global_pool="avg", fc_norm=False) state dict
timm_keys = {"pos_embed", "patch_embed.proj.weight", "patch_embed.proj.bias", "norm.weight", "norm.bias"}
timm_keys |= {"blocks.%d.%s" % (i, k) for i in range(kw["depth"]) for k in (
    "norm1.weight", "norm1.bias", "attn.qkv.weight", "attn.qkv.bias", "attn.proj.weight", "attn.proj.bias",
    "norm2.weight", "norm2.bias", "mlp.fc1.weight", "mlp.fc1.bias", "mlp.fc2.weight", "mlp.fc2.bias")}
if kw["num_classes"]: timm_keys |= {"head.weight", "head.bias"}
missing = set(w for w in want_missing.split(",") if w)
assert set(h) <= timm_keys, set(h) - timm_keys
assert timm_keys - set(h) == missing, (timm_keys - set(h), missing)
try:
    import functools, timm, torch
    import torch.nn.functional as F
except ImportError:
    print("names match timm's VisionTransformer key list (timm not importable)"); sys.exit(0)
sys.path.insert(0, src + "/tools")
import twin
tm, _ = twin.st_read(tm_path)
model = timm.models.vision_transformer.VisionTransformer(**kw, norm_layer=functools.partial(torch.nn.LayerNorm, eps=eps))
r = model.load_state_dict(tm, strict=False)
assert not r.unexpected_keys and set(r.missing_keys) == missing, r
if logits:
    lv, meta = twin.st_read(lv_path)
    cfg = json.loads(meta["lvit.config"])
    V, D, p = len(cfg["vars"]), cfg["dim"], cfg["patch"]
    torch.manual_seed(0)
    x = torch.randn(2, V, *cfg["img_size"])
    with torch.no_grad():  # lvit: the mean of the bands' tokens (one band group), pos_embed, lead bias (lead 0)
        tok = sum(F.conv2d(x[:, v:v + 1], lv["token_embeds.%d.proj.weight" % v], lv["token_embeds.%d.proj.bias" % v],
                           stride=p).flatten(2).transpose(1, 2) + lv["var_embed"][0, v] for v in range(V)) / V
        h = tok + lv["pos_embed"] + lv["lead_time_embed.bias"]
        for i in range(cfg["depth"]):
            blk = twin.Block(D, cfg["heads"], 4, "manual")
            blk.load_state_dict({k[len("blocks.%d." % i):]: t for k, t in lv.items() if k.startswith("blocks.%d." % i)})
            h = blk(h)
        h = F.layer_norm(h, (D,), lv["norm.weight"], lv["norm.bias"], 1e-5).mean(1)
        ref = F.linear(h, lv["head.0.weight"], lv["head.0.bias"])
        model.eval()
        out = model(x)
    err = (out - ref).abs().max().item()
    assert err < 1e-4 * max(1.0, ref.abs().max().item()), (err, out, ref)
    print("timm's logits = lvit's: max difference %.2e" % err)
print("timm loads it: strict=False, no unexpected keys, missing %s" % (sorted(missing) or "none"))
PY
}

# ---- an aggregated-band model (lvit init): blocks, norm, pos_embed; timm keeps its own patch_embed
expect 0 "init an agg model" "$LVIT" init --vars 4 --grid 16x32 --patch 4 --dim 32 --depth 2 --heads 2 -o "$tmp/agg.safetensors"
expect 0 "export it" "$LVIT" export --timm "$tmp/agg.safetensors" -o "$tmp/agg_timm.safetensors"
has "the band aggregation"; has "the pixel head"
check "$tmp/agg.safetensors" "$tmp/agg_timm.safetensors" patch_embed.proj.weight,patch_embed.proj.bias >"$tmp/out" 2>&1 &&
  ok "agg model: $(tail -1 "$tmp/out")" || { bad "agg model export"; tail -5 "$tmp/out"; }

# ---- a classifier of one band group with a linear head (EuroSAT, 3 steps): every timm key, the same logits
D="$SRC/../shared/data/eurosat_rgb_subset75"
if [ -d "$D" ]; then
  expect 0 "convert EuroSAT" "$LVIT" convert -o "$tmp/eu.lvd" "$D" --labels "$D/test_labels.csv" --csv-columns Filename,ClassName
  expect 0 "classifier, --band-groups 1 --decoder-depth 0" "$LVIT" train --task classify --data "$tmp/eu.lvd" --run "$tmp/e" \
    --dim 32 --depth 2 --heads 2 --decoder-depth 0 --patch 16 --steps 3 --batch 4 --lr 0.01 --warmup 1 --band-groups 1 --threads 1
  expect 0 "export it" "$LVIT" export --timm "$tmp/e/model.safetensors" -o "$tmp/e_timm.safetensors"
  has "patch_embed.proj included"
  check "$tmp/e/model.safetensors" "$tmp/e_timm.safetensors" "" logits >"$tmp/out" 2>&1 &&
    ok "one-group classifier: $(tail -2 "$tmp/out" | tr '\n' ' ')" || { bad "one-group classifier export"; tail -8 "$tmp/out"; }
else
  echo "skip: $D absent: the one-group classifier is not exported"
fi

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
