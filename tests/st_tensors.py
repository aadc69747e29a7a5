#!/usr/bin/env python3
"""The tensors of a safetensors file, for the CLI tests (tests/lib_cli.sh names this file $ST_TENSORS).

    python3 tests/st_tensors.py compare RUN_A RUN_B [--tol T] [--steps N] [--skip-key-bias]

checks that two training runs agree: the same number of metrics.jsonl rows (N of them when given),
every training and validation loss within T (1e-4 unless given) of RUN_A's, relative, and the same
tensors in model.safetensors, each within T of its largest value in RUN_A but at least 5e-2 (about
the largest entry of a freshly initialized trunc-normal 0.02 weight): AdamW's normalized update
turns rounding-level gradient differences of a near-zero tensor (an output bias, ~1e-2 after a few
steps) into differences of 1e-6 absolute while the losses stay within 1e-4. A layout bug moves
weights by a good part of the learning rate (1e-3 absolute), far above that. --skip-key-bias leaves
out the key third of every attn.qkv.bias: a null direction of the loss (softmax ignores a shift
shared by all keys) whose gradient is rounding noise that AdamW's step turns into +-lr moves.
Prints the worst weight difference; exits 1 with the reason when the runs differ.
"""
import json
import struct
import sys


def load(path, raw=False):
    """(tensors, metadata) of a safetensors file: name -> tuple of its float32 values (raw: its bytes)."""
    b = open(path, "rb").read()
    n = struct.unpack("<Q", b[:8])[0]
    header = json.loads(b[8:8 + n])
    meta = header.pop("__metadata__", {})
    out = {}
    for name, t in header.items():
        s, e = t["data_offsets"]
        buf = b[8 + n + s: 8 + n + e]
        out[name] = buf if raw else struct.unpack("<%df" % (len(buf) // 4), buf)
    return out, meta


def tensors(path, raw=False):
    return load(path, raw)[0]


def compare(run_a, run_b, tol=1e-4, steps=None, skip_key_bias=False):
    def rows(d): return [json.loads(l) for l in open(d + "/metrics.jsonl") if l.strip()]
    a, b = rows(run_a), rows(run_b)
    assert len(a) == len(b) and (steps is None or len(a) == steps), ("metrics rows", len(a), len(b), steps)
    for x, y in zip(a, b):
        assert abs(x["loss"] - y["loss"]) <= tol * abs(x["loss"]), ("loss", x["step"], x["loss"], y["loss"])
        if "val_loss" in x:
            assert abs(x["val_loss"] - y["val_loss"]) <= tol * x["val_loss"], ("val_loss", x["step"], x["val_loss"],
                                                                              y["val_loss"])
    ta, tb = tensors(run_a + "/model.safetensors"), tensors(run_b + "/model.safetensors")
    assert ta.keys() == tb.keys(), ("tensor names", sorted(ta.keys() ^ tb.keys()))
    if skip_key_bias:
        for t in (ta, tb):
            for k in t:
                if k.endswith("attn.qkv.bias"):
                    n = len(t[k]) // 3
                    t[k] = t[k][:n] + t[k][2 * n:]
    worst = 0.0
    for k in ta:
        assert len(ta[k]) == len(tb[k]), (k, len(ta[k]), len(tb[k]))
        scale = max(max(abs(v) for v in ta[k]), 5e-2)
        worst = max(worst, max(abs(p - q) for p, q in zip(ta[k], tb[k])) / scale)
    assert worst < tol, ("worst parameter difference", worst)
    return worst


def main(argv):
    if len(argv) < 3 or argv[0] != "compare":
        sys.exit(__doc__)
    opts = {"--tol": 1e-4, "--steps": None, "--skip-key-bias": False}
    rest = argv[3:]
    while rest:
        flag = rest.pop(0)
        if flag == "--skip-key-bias":
            opts[flag] = True
        elif flag in ("--tol", "--steps") and rest:
            opts[flag] = (float if flag == "--tol" else int)(rest.pop(0))
        else:
            sys.exit("st_tensors.py: unknown argument '%s'\n%s" % (flag, __doc__))
    try:
        worst = compare(argv[1], argv[2], opts["--tol"], opts["--steps"], opts["--skip-key-bias"])
    except AssertionError as e:
        print("    runs differ: %s" % (e,))
        return 1
    print("    worst parameter difference %.2e" % worst)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
