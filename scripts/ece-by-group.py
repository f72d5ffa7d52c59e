#!/usr/bin/env python3
"""Where a model's calibration error comes from: ECE (15 bins, best label, as `router.evaluate`)
on the validation and test splits, overall, on the in-scope requests and on the out-of-scope
ones, at the temperature fitted in training; and, for the record only (never to choose one: the
test split does not pick anything here), what other temperatures would give.

    cargo run --release -p toolrouter-core --example train_eval -- ../shared/datasets/clinc150 dump=/tmp/clinc.json
    python3 scripts/ece-by-group.py /tmp/clinc.json

Needs numpy (`pip install numpy`). The dump's labels are indices into its `names`; the index
`len(names)` is "none" (out of scope).
"""
import json
import sys

import numpy as np

BINS = 15


def softmax(z, t):
    z = z / t
    z = z - z.max(1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(1, keepdims=True)


def ece(p, y):
    """Expected calibration error of the best label, `BINS` equal-width bins over (0, 1]."""
    if len(y) == 0:
        return float("nan")
    conf = p.max(1)
    right = (p.argmax(1) == y).astype(float)
    total = 0.0
    for i in range(BINS):
        lo, hi = i / BINS, (i + 1) / BINS
        m = (conf > lo) & (conf <= hi) if i > 0 else conf <= hi
        if m.any():
            total += m.mean() * abs(right[m].mean() - conf[m].mean())
    return total


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: ece-by-group.py DUMP.json (from train_eval dump=PATH)")
    d = json.load(open(sys.argv[1]))
    none = len(d["names"])
    t_fit = d["calibration"]["temperature"]
    splits = {}
    for s in ("valid", "test"):
        if s in d:
            splits[s] = (np.array(d[s]["logits"], dtype=np.float64), np.array(d[s]["labels"]))
    print(f"fitted temperature {t_fit:.3f}")
    for s, (z, y) in splits.items():
        p = softmax(z, t_fit)
        oos = y == none
        conf, right = p.max(1), p.argmax(1) == y
        print(
            f"{s}: {len(y)} requests, {oos.mean():.1%} out of scope; ECE {ece(p, y):.4f} "
            f"(in scope {ece(p[~oos], y[~oos]):.4f}, out of scope {ece(p[oos], y[oos]):.4f})"
        )
        if oos.any():
            print(
                f"  out of scope: mean confidence {conf[oos].mean():.3f}, best label right "
                f"(\"none\") {right[oos].mean():.1%}; in scope: {conf[~oos].mean():.3f}, "
                f"{right[~oos].mean():.1%}"
            )
    print("for the record, other temperatures (ECE valid / test):")
    for t in (1.0, 1.5, t_fit, 2.5, 3.0):
        row = " / ".join(f"{ece(softmax(z, t), y):.4f}" for z, y in splits.values())
        print(f"  T={t:.3f}: {row}")


if __name__ == "__main__":
    main()
