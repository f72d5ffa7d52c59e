#!/usr/bin/env python3
"""Where a model's calibration error comes from, and what its thresholds trade: ECE (15 bins,
best label, as `router.evaluate`) on the validation and test splits, overall, on the in-scope
requests and on the out-of-scope ones, at the temperature fitted in training; then, when the
data has out-of-scope requests, in-scope accuracy (an abstention counts as wrong) and
out-of-scope recall at a range of thresholds. The other temperatures and thresholds are for the
record only, never to choose one: the test split picks nothing here.

    cargo run --release -p toolrouter-core --example train_eval -- ../shared/datasets/clinc150 dump=/tmp/clinc.json
    python3 scripts/calibration-report.py /tmp/clinc.json

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
        sys.exit("usage: calibration-report.py DUMP.json (from train_eval dump=PATH)")
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
    t_stored = d["calibration"].get("threshold")
    for s, (z, y) in splits.items():
        oos = y == none
        if not oos.any():
            continue
        p = softmax(z, t_fit)
        best, conf = p.argmax(1), p.max(1)
        print(f"{s}: in-scope accuracy / out-of-scope recall by threshold")
        ths = [0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9] + ([t_stored] if t_stored is not None else [])
        for th in ths:
            answered = (best != none) & (conf >= th)
            in_scope = (answered & (best == y))[~oos].mean()
            recall = (~answered)[oos].mean()
            mark = " (the fitted threshold)" if th == t_stored else ""
            print(f"  {th:.3f}: {in_scope:.1%} / {recall:.1%}{mark}")


if __name__ == "__main__":
    main()
