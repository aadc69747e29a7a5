#!/usr/bin/env python3
"""Writes the seed corpus fuzz/corpus/<target>/ (small valid inputs, a few KiB each).

usage: python3 fuzz/make_seeds.py BUILD/lvit
Files made by lvit itself (init, convert, train) plus hand-made safetensors files covering
every dtype, an unaligned layout and an empty header; JSON configs and command lines.
Needs ncgen (netcdf-bin) for the dataset seed. Only struct/json: no numpy.
"""
import json, os, shutil, struct, subprocess, sys, tempfile

here = os.path.dirname(os.path.abspath(__file__))
lvit = os.path.abspath(sys.argv[1])
corpus = os.path.join(here, "corpus")
env = dict(os.environ, OMP_NUM_THREADS="1", OMP_WAIT_POLICY="passive", ASAN_OPTIONS="detect_leaks=0")


def out(target, name, data):
    d = os.path.join(corpus, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


def st(tensors, meta=None, pad=True):
    """tensors: (name, dtype, shape, struct format char, values)."""
    h, off, blobs = {}, 0, []
    if meta:
        h["__metadata__"] = meta
    for name, dt, shape, fmt, vals in tensors:
        b = struct.pack("<%d%s" % (len(vals), fmt), *vals)
        h[name] = {"dtype": dt, "shape": shape, "data_offsets": [off, off + len(b)]}
        off += len(b)
        blobs.append(b)
    hj = json.dumps(h, separators=(",", ":")).encode()
    while pad and (8 + len(hj)) % 8:
        hj += b" "
    return struct.pack("<Q", len(hj)) + hj + b"".join(blobs)


def run(*args, cwd):
    subprocess.run([lvit, *args], cwd=cwd, env=env, check=True, stdout=subprocess.DEVNULL)


tmp = tempfile.mkdtemp()
try:
    # Checkpoints from lvit: agg, multi + residual + decoder, and a trained one with lvit.norm/lvit.data.
    run("init", "--vars", "1", "--grid", "4x4", "--patch", "2", "--dim", "4", "--depth", "1", "--heads", "1",
        "--decoder-depth", "0", "-o", "init_agg.safetensors", cwd=tmp)
    run("init", "--vars", "2", "--grid", "4x8", "--patch", "4", "--dim", "8", "--depth", "1", "--heads", "2",
        "--decoder-depth", "1", "--channels", "multi", "--residual", "-o", "init_multi.safetensors", cwd=tmp)
    subprocess.run(["ncgen", "-o", "tiny.nc", os.path.join(here, "seed_tiny.cdl")], cwd=tmp, check=True)
    run("convert", "-o", "tiny.lvds", "tiny.nc", "--split", "0.5,0.25", cwd=tmp)
    run("train", "--run", "run", "--data", "tiny.lvds", "--steps", "2", "--batch", "1", "--patch", "1", "--dim", "4",
        "--depth", "1", "--heads", "1", "--decoder-depth", "0", "--leads", "6", cwd=tmp)
    for n in ("init_agg", "init_multi"):
        out("safetensors", n, open(os.path.join(tmp, n + ".safetensors"), "rb").read())
    out("safetensors", "trained", open(os.path.join(tmp, "run", "model.safetensors"), "rb").read())
    ds = open(os.path.join(tmp, "tiny.lvds"), "rb").read()
    out("dataset", "convert_tiny", ds)
    out("safetensors", "dataset_tiny", ds)
    meta = struct.unpack("<Q", ds[:8])[0]
    hdr = json.loads(ds[8:8 + meta])
    out("json", "dataset_meta", hdr["__metadata__"]["lvit.dataset"])
    out("json", "safetensors_header", ds[8:8 + meta])
    tr = open(os.path.join(tmp, "run", "model.safetensors"), "rb").read()
    thdr = json.loads(tr[8:8 + struct.unpack("<Q", tr[:8])[0]])["__metadata__"]
    out("json", "config_trained", thdr["lvit.config"])
    out("json", "norm_trained", thdr["lvit.norm"])
finally:
    shutil.rmtree(tmp)

# Hand-made safetensors: every dtype, a scalar, an empty tensor, odd metadata; unaligned; empty.
out("safetensors", "dtypes", st([
    ("f64", "F64", [2, 2], "d", [1.5, -2.0, 1e30, 0.0]), ("f32", "F32", [3], "f", [1, 2, 3]),
    ("f16", "F16", [4], "H", [0x3c00, 0x7bff, 0x8000, 0x0001]), ("bf16", "BF16", [3], "H", [0x3f80, 0x7f80, 0xffc0]),
    ("i64", "I64", [2], "q", [1, -1]), ("i32", "I32", [1], "i", [7]), ("i16", "I16", [1], "h", [7]),
    ("i8", "I8", [1], "b", [7]), ("u8", "U8", [2], "B", [7, 8]), ("b", "BOOL", [2], "B", [1, 0]),
    ("scalar", "F32", [], "f", [3.0]), ("empty", "F32", [0, 3], "f", [])],
    meta={"format": "pt", "k": "v \u00e9\\n"}))
out("safetensors", "unaligned", st([("a", "F64", [2], "d", [1, 2]), ("b", "F32", [1], "f", [1])], pad=False))
out("safetensors", "empty", st([]))

# JSON: configs (valid and edge cases) and general JSON.
out("json", "config_agg", '{"vars":["t2m","z500"],"img_size":[32,64],"patch":4,"dim":64,"depth":2,"heads":4,'
    '"decoder_depth":1,"mlp_ratio":4,"channels":"agg","residual":false}')
out("json", "config_multi", '{"vars":["a"],"img_size":[8,8],"patch":2,"dim":8,"depth":0,"heads":2,'
    '"decoder_depth":0,"channels":"multi","residual":true}')
out("json", "general", '[null,true,false,0,-0,1.5e-3,-12345678901234567890,9223372036854775807,'
    '"\\u00e9\\ud83d\\ude00\\n\\t\\"\\\\\\/","\u00e9",{"a":{"b":[[],{}]}},1E+2]')

# Command lines: words separated by newlines (the target also splits at NUL).
out("args", "all_kinds", "--steps\n10\n--seed=-5\n--big\n1000000\n--lr\n2e-3\n--any=-1e10\n-o\nout.safetensors\n"
    "--leads\n6,24,48\n--grid\n32x64\n--resume\n--channels\nmulti\npos1\n-3")
out("args", "errors", "--steps\n0\n--lr\nnan\n--channels=bogus\n--resume=1\n--unknown\n-x\n--")
out("args", "help", "--grid=4X8\n--leads=1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17\n--help")
# Training-state checkpoints (fuzz_state): first byte even = a state file of a one-file
# checkpoint with 256 parameters (params whole, moments in two ranges, checksums right), odd =
# the text of a manifest.json.
def fnv1a(b):
    h = 1469598103934665603
    for x in b:
        h = ((h ^ x) * 1099511628211) & 0xFFFFFFFFFFFFFFFF
    return "%016x" % h


def state(parts):
    tens, meta = [], {"step": 10, "opt_t": 9, "best_step": 0, "best_val": None, "spike_n": 2,
                      "spike_hist": [0.5, 0.25] + [0] * 126, "tensors": {}}
    for name, ranges in parts:
        n = sum(l for _, l in ranges)
        vals = [((i * 7919) % 1000) / 1000.0 for i in range(n)]
        meta["tensors"][name] = {"fnv1a64": fnv1a(struct.pack("<%df" % n, *vals)), "ranges": ranges}
        tens.append((name, "F32", [n], "f", vals))
    return st(tens, {"lvit.state": json.dumps(meta, separators=(",", ":"))})


out("state", "whole", b"\0" + state([("params", [[0, 256]]), ("adam_m", [[128, 128], [0, 128]]),
                                      ("adam_v", [[0, 256]])]))
out("state", "partial", b"\2" + state([("params", [[0, 256]]), ("adam_m", [[0, 100]]), ("adam_v", [[100, 100]])]))
out("state", "manifest", b"\1" + json.dumps({"step": 10, "files": 2, "dp": 2, "sp": 1, "zero": 3, "n_params": 256,
                                              "batch": 4, "seed": 1, "config": '{"dim":8}'}).encode())


# lvit convert (fuzz_convert): first byte even = a netCDF-3 file (classic, 64-bit offset, CDF-5 of
# seed_tiny.cdl), odd = a GRIB file (two GRIB2 or two GRIB1 messages of a 3x4 grid from ecCodes' samples).
def convert_seeds():
    d = tempfile.mkdtemp()
    try:
        for kind, name in (("classic", "nc_classic"), ("64-bit-offset", "nc_64bit"), ("cdf5", "nc_cdf5")):
            subprocess.run(["ncgen", "-k", kind, "-o", "t.nc", os.path.join(here, "seed_tiny.cdl")], cwd=d, check=True)
            out("convert", name, b"\0" + open(os.path.join(d, "t.nc"), "rb").read())
        for sample, name in (("regular_ll_sfc_grib2", "grib2_two"), ("regular_ll_sfc_grib1", "grib1_two")):
            grib_seed(d, sample, name)
    finally:
        shutil.rmtree(d)


def grib_seed(d, sample, name):
    grib = b""
    for t in (0, 600):
        with open(os.path.join(d, "rules"), "w") as f:
            f.write("set Ni = 4; set Nj = 3; set latitudeOfFirstGridPointInDegrees = 30;\n"
                    "set latitudeOfLastGridPointInDegrees = 10; set longitudeOfFirstGridPointInDegrees = 0;\n"
                    "set longitudeOfLastGridPointInDegrees = 60; set iDirectionIncrementInDegrees = 20;\n"
                    "set jDirectionIncrementInDegrees = 10; set dataDate = 20000101; set dataTime = %d;\n"
                    "set shortName = \"2t\"; set values = {280, 281, 282, 283, 284, 285, 286, 287, 288, 289, 290, 291};\n"
                    "write \"g.grib\";\n" % t)
        subprocess.run(["grib_filter", "rules", "/usr/share/eccodes/samples/%s.tmpl" % sample], cwd=d, check=True)
        grib += open(os.path.join(d, "g.grib"), "rb").read()
    out("convert", name, b"\1" + grib)


convert_seeds()
print("seeds written under", corpus)
