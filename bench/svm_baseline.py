#!/usr/bin/env python3
"""RBF-SVM baseline for hyperspectral pixel classification (issue 21): what a remote-sensing user
would otherwise pick, on the same split as lvit's classify task.

Input: an lvit image dataset (`lvit convert` output; docs/formats.md "Image datasets": `data` F32
[N,V,H,W], `label_map` I32 [N,H,W]) and a split file:
    # optional comment lines
    image,row,col,class,set
    0,12,40,3,train
    ...
(0-based image, row from the top, column, class index as in label_map; set train, val or test).
The classifier sees one pixel's spectrum (V band values), standardized per band with the mean and
std of the training pixels (a StandardScaler inside the pipeline, so each CV fold fits its own).
C and gamma are picked by GridSearchCV on the training pixels only: stratified folds,
folds = min(5, smallest training class count), shuffled with --seed; grid C in 10^-1..10^4,
gamma in 10^-5..10^1 (decades); ties in CV accuracy go to the first in that grid order (C outer).
The chosen model is refitted on all training pixels and scored on the test pixels: OA, AA (mean
per-class recall over the classes present in the test set), Cohen's kappa, per-class accuracy.
Validation pixels are not used (the grid search is the model selection).

--per-class N keeps N training pixels per class, drawn with --seed (stratified), so that 5, 10
and 20 labelled pixels per class run from one split; a class with fewer keeps all of them.
--make-split writes a spatially disjoint split file instead (square blocks of --block pixels,
whole blocks go to train or test; see make_split) and exits.

Prints the figures and appends one JSON object per run to --jsonl.
"""
import argparse
import csv
import json
import os
import struct
import sys
import time

import numpy as np

DTYPES = {"F32": "<f4", "F64": "<f8", "I32": "<i4", "U8": "u1", "I64": "<i8", "I16": "<i2", "U16": "<u2"}
SETS = ("train", "val", "test")


def die(msg):
    print(f"svm_baseline: error: {msg}", file=sys.stderr)
    sys.exit(2)


def read_safetensors(path, names):
    """The named arrays of a safetensors file (numpy, read-only views of the file's bytes) and its metadata."""
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except OSError as e:
        die(f"cannot read dataset '{path}': {e.strerror}")
    if len(raw) < 8:
        die(f"'{path}' is not a safetensors file (shorter than 8 bytes)")
    (hlen,) = struct.unpack("<Q", raw[:8])
    if hlen > len(raw) - 8:
        die(f"'{path}' is not a safetensors file (header length {hlen} past the end)")
    try:
        header = json.loads(raw[8:8 + hlen])
    except ValueError:
        die(f"'{path}' is not a safetensors file (header is not JSON)")
    meta = header.pop("__metadata__", {}) or {}
    body = memoryview(raw)[8 + hlen:]
    out = {}
    for name in names:
        if name not in header:
            die(f"dataset '{path}' has no array '{name}' (has: {', '.join(sorted(header))}); "
                "expected an lvit image dataset with a label raster (lvit convert ... --labels)")
        t = header[name]
        if t["dtype"] not in DTYPES:
            die(f"dataset '{path}': array '{name}' has dtype {t['dtype']}")
        a, b = t["data_offsets"]
        arr = np.frombuffer(body[a:b], dtype=DTYPES[t["dtype"]])
        if arr.size != int(np.prod(t["shape"])):
            die(f"dataset '{path}': array '{name}' holds {arr.size} values, shape {t['shape']} needs {int(np.prod(t['shape']))}")
        out[name] = arr.reshape(t["shape"])
    return out, meta


def class_names(meta, C):
    try:
        cls = json.loads(meta["lvit.dataset"])["labels"]["classes"]
        return [c["name"] for c in cls][:C] + [f"class_{i}" for i in range(len(cls), C)]
    except (KeyError, ValueError, TypeError):
        return [f"class_{i}" for i in range(C)]


def read_split(path, label_map):
    """Rows (image, row, col, class) and set names of a split file, checked against label_map."""
    N, H, W = label_map.shape
    rows, sets = [], []
    try:
        f = open(path, newline="")
    except OSError as e:
        die(f"cannot read split file '{path}': {e.strerror}")
    with f:
        header_seen = False
        for lineno, line in enumerate(f, 1):
            s = line.strip()
            if not s or s.startswith("#"):
                continue
            fields = [x.strip() for x in s.split(",")]
            if not header_seen:
                if fields != ["image", "row", "col", "class", "set"]:
                    die(f"{path}: line {lineno}: expected the header 'image,row,col,class,set', got '{s}'")
                header_seen = True
                continue
            if len(fields) != 5:
                die(f"{path}: line {lineno}: expected 5 fields (image,row,col,class,set), got {len(fields)}")
            try:
                n, r, c, k = (int(x) for x in fields[:4])
            except ValueError:
                die(f"{path}: line {lineno}: image, row, col and class must be integers: '{s}'")
            if fields[4] not in SETS:
                die(f"{path}: line {lineno}: set must be train, val or test, got '{fields[4]}'")
            if not (0 <= n < N and 0 <= r < H and 0 <= c < W):
                die(f"{path}: line {lineno}: pixel (image {n}, row {r}, col {c}) is outside the dataset's {N}x{H}x{W}")
            if label_map[n, r, c] != k:
                die(f"{path}: line {lineno}: class {k} but the dataset's label_map has {label_map[n, r, c]} at "
                    f"(image {n}, row {r}, col {c})")
            rows.append((n, r, c, k))
            sets.append(fields[4])
    if not header_seen:
        die(f"{path}: no header line 'image,row,col,class,set'")
    return np.array(rows, dtype=np.int64).reshape(-1, 4), np.array(sets)


def make_split(label_map, block, train_frac, seed):
    """A spatially disjoint split: the images are cut into block x block squares, visited in a random
    order (seed); a square goes to train while some class it holds has fewer training pixels than
    train_frac of its labelled pixels, else to test. Every labelled pixel takes its square's set, so
    no training pixel shares a square with a test pixel. Returns rows (image, row, col, class) and sets."""
    rng = np.random.default_rng(seed)
    N, H, W = label_map.shape
    C = int(label_map.max()) + 1
    total = np.bincount(label_map[label_map >= 0], minlength=C)
    target = np.ceil(train_frac * total)
    have = np.zeros(C)
    squares = [(n, r, c) for n in range(N) for r in range(0, H, block) for c in range(0, W, block)]
    rows, sets = [], []
    for i in rng.permutation(len(squares)):
        n, r0, c0 = squares[i]
        sub = label_map[n, r0:r0 + block, c0:c0 + block]
        counts = np.bincount(sub[sub >= 0], minlength=C)
        if not counts.any():
            continue
        train = bool(np.any((counts > 0) & (have < target)))
        if train:
            have += counts
        for r, c in zip(*np.nonzero(sub >= 0)):
            rows.append((n, r0 + r, c0 + c, int(sub[r, c])))
            sets.append("train" if train else "test")
    order = np.lexsort((np.array(rows)[:, 2], np.array(rows)[:, 1], np.array(rows)[:, 0]))
    return np.array(rows, dtype=np.int64)[order], np.array(sets)[order]


def write_split(path, rows, sets, note):
    tmp = f"{path}.tmp.{os.getpid()}"
    with open(tmp, "w") as f:
        f.write(f"# {note}\nimage,row,col,class,set\n")
        for (n, r, c, k), s in zip(rows, sets):
            f.write(f"{n},{r},{c},{k},{s}\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def subsample(idx, y, per_class, seed):
    """per_class indices of each class among idx (all of them when a class has fewer), drawn with seed."""
    rng = np.random.default_rng(seed)
    keep = []
    for k in np.unique(y[idx]):
        members = idx[y[idx] == k]
        if len(members) < per_class:
            print(f"svm_baseline: class {k} has {len(members)} training pixels, fewer than --per-class {per_class}: "
                  "keeping all", file=sys.stderr)
        keep.extend(rng.choice(members, size=min(per_class, len(members)), replace=False))
    return np.sort(np.array(keep, dtype=np.int64))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dataset", help="lvit image dataset with a label raster (lvit convert ... --labels)")
    ap.add_argument("--split", help="split file (image,row,col,class,set), e.g. the one lvit's classify task writes")
    ap.add_argument("--per-class", type=int, default=0, help="keep N training pixels per class (0: all)")
    ap.add_argument("--seed", type=int, default=0, help="seed of --per-class, of the CV folds and of --make-split")
    ap.add_argument("--make-split", metavar="OUT", help="write a spatially disjoint split file to OUT and exit")
    ap.add_argument("--block", type=int, default=10, help="--make-split: square size in pixels (default 10)")
    ap.add_argument("--train-frac", type=float, default=0.3, help="--make-split: training share per class (0.3)")
    ap.add_argument("--jsonl", default="svm_baseline.jsonl", help="append the results here (default ./svm_baseline.jsonl)")
    ap.add_argument("--jobs", type=int, default=1, help="GridSearchCV n_jobs (default 1)")
    ap.add_argument("--label", default="", help="free text stored in the JSON line")
    a = ap.parse_args()

    arrays, meta = read_safetensors(a.dataset, ["label_map"] if a.make_split else ["data", "label_map"])
    label_map = arrays["label_map"]
    if label_map.ndim != 3:
        die(f"dataset '{a.dataset}': label_map has shape {list(label_map.shape)}, expected [N,H,W]")
    if a.make_split:
        if a.block < 1 or not 0 < a.train_frac < 1:
            die("--block must be >= 1 and --train-frac in (0, 1)")
        rows, sets = make_split(label_map, a.block, a.train_frac, a.seed)
        write_split(a.make_split, rows, sets, f"svm_baseline.py --make-split: {a.block}x{a.block} blocks, train "
                    f"share {a.train_frac} per class, seed {a.seed}, dataset {os.path.basename(a.dataset)}")
        C = int(label_map.max()) + 1
        for s in ("train", "test"):
            print(f"{s}: {np.bincount(rows[sets == s][:, 3], minlength=C).tolist()} pixels per class")
        print(f"wrote {a.make_split}")
        return
    if not a.split:
        die("give --split FILE (or --make-split OUT to write one)")

    from sklearn import __version__ as skv
    from sklearn.metrics import cohen_kappa_score, confusion_matrix
    from sklearn.model_selection import GridSearchCV, StratifiedKFold
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC

    data = arrays["data"]
    if data.ndim != 4 or data.shape[0] != label_map.shape[0] or data.shape[2:] != label_map.shape[1:]:
        die(f"dataset '{a.dataset}': data {list(data.shape)} and label_map {list(label_map.shape)} do not match")
    rows, sets = read_split(a.split, label_map)
    X = data[rows[:, 0], :, rows[:, 1], rows[:, 2]].astype(np.float64)   # [P, V] spectra
    y = rows[:, 3]
    C = int(label_map.max()) + 1
    names = class_names(meta, C)
    tr, te = np.nonzero(sets == "train")[0], np.nonzero(sets == "test")[0]
    if a.per_class > 0:
        tr = subsample(tr, y, a.per_class, a.seed)
    if len(tr) == 0 or len(te) == 0:
        die(f"{a.split}: needs training and test pixels (has {len(tr)} and {len(te)})")
    counts = np.bincount(y[tr], minlength=C)
    folds = int(min(5, counts[counts > 0].min()))
    if folds < 2:
        die(f"{a.split}: a class has a single training pixel: cross-validation needs at least 2 per class")
    grid = {"svc__C": [10.0 ** e for e in range(-1, 5)], "svc__gamma": [10.0 ** e for e in range(-5, 2)]}
    t0 = time.time()
    search = GridSearchCV(make_pipeline(StandardScaler(), SVC(kernel="rbf")), grid, scoring="accuracy",
                          cv=StratifiedKFold(folds, shuffle=True, random_state=a.seed), n_jobs=a.jobs)
    search.fit(X[tr], y[tr])
    pred = search.predict(X[te])
    seconds = time.time() - t0
    cm = confusion_matrix(y[te], pred, labels=list(range(C)))
    support = cm.sum(1)
    per_acc = [float(cm[k, k] / support[k]) if support[k] else None for k in range(C)]
    oa = float(np.trace(cm) / cm.sum())
    aa = float(np.mean([p for p in per_acc if p is not None]))
    kappa = float(cohen_kappa_score(y[te], pred, labels=list(range(C))))
    best = search.best_params_

    print(f"svm_baseline: {a.dataset}, split {a.split}, per-class {a.per_class or 'all'}, seed {a.seed}")
    print(f"train {len(tr)} px {counts.tolist()}, test {len(te)} px {support.tolist()}, {X.shape[1]} bands")
    print(f"CV {folds} folds: C {best['svc__C']:g}, gamma {best['svc__gamma']:g}, CV accuracy {search.best_score_:.4f}")
    print(f"OA {100 * oa:.2f}%  AA {100 * aa:.2f}%  kappa {kappa:.4f}  ({seconds:.1f} s)")
    for k in range(C):
        acc = "-" if per_acc[k] is None else f"{100 * per_acc[k]:.2f}%"
        print(f"  {k} {names[k]:<28} {acc:>8}  ({support[k]} test px)")
    rec = {"bench": "svm_baseline", "label": a.label, "dataset": a.dataset, "split": a.split,
           "per_class": a.per_class, "seed": a.seed, "n_train": int(len(tr)), "n_test": int(len(te)),
           "train_per_class": counts.tolist(), "bands": int(X.shape[1]), "folds": folds,
           "C": best["svc__C"], "gamma": best["svc__gamma"], "cv_accuracy": float(search.best_score_),
           "oa": oa, "aa": aa, "kappa": kappa, "per_class_accuracy": per_acc, "classes": names,
           "confusion": cm.tolist(), "seconds": round(seconds, 3), "sklearn": skv}
    with open(a.jsonl, "a") as f:
        f.write(json.dumps(rec) + "\n")
    print(f"appended to {a.jsonl}")


if __name__ == "__main__":
    main()
