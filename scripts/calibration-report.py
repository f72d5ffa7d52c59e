#!/usr/bin/env python3
"""Where a model's calibration error comes from, and what its thresholds trade: ECE (15 bins,
best label, as `router.evaluate`) on the validation and test splits, overall, on the in-scope
requests and on the out-of-scope ones, at the temperature fitted in training; then, when the
data has out-of-scope requests, in-scope accuracy (an abstention counts as wrong) and
out-of-scope recall at a range of thresholds. The other temperatures and thresholds are for the
record only, never to choose one: the test split picks nothing here.

Two more readings, also for the record. **Prior shift**: accuracy when each label's logit is
lowered by tau x T x log(its share of the training labels) (logit adjustment, which undoes a
skewed training mix such as ATIS's 74% `atis_flight`). **Out-of-scope scores** (data with
out-of-scope requests): the best in-scope accuracy reachable at an out-of-scope recall of at least
84-90% (the threshold set on the split itself, an upper bound), and the two figures at the
threshold that gives 99% precision on validation, ranking requests by the best label's
probability (what the router does) or by the cosine of the head features to the nearest in-scope
training requests (mean of the 5 nearest).

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
    if "train" in d:
        prior_shift(d, splits, t_fit)
        if any((y == none).any() for _, y in splits.values()):
            oos_scores(d, splits, t_fit, none)


def prior_shift(d, splits, t_fit):
    z_train, y_train = np.array(d["train"]["logits"]), np.array(d["train"]["labels"])
    counts = np.bincount(y_train, minlength=z_train.shape[1]) + 1.0
    log_prior = np.log(counts / counts.sum())
    print("for the record, prior shift: accuracy " + " / ".join(splits) + " by tau")
    for tau in (0.0, 0.1, 0.2, 0.3, 0.5):
        row = " / ".join(
            f"{((z - tau * t_fit * log_prior).argmax(1) == y).mean():.2%}" for z, y in splits.values()
        )
        print(f"  tau={tau}: {row}")


def unit(f):
    return f / (np.linalg.norm(f, axis=1, keepdims=True) + 1e-9)


def oos_scores(d, splits, t_fit, none, k=5):
    f_train, y_train = np.array(d["train"]["features"]), np.array(d["train"]["labels"])
    known = unit(f_train[y_train != none])

    def scored(s):
        z, y = splits[s]
        p = softmax(z, t_fit)
        best = p.argmax(1)
        near = np.sort(unit(np.array(d[s]["features"])) @ known.T, 1)[:, -k:].mean(1)
        return best, y, {"probability": p.max(1), "nearest requests": near}

    def figures(best, y, answered):
        oos = y == none
        return (answered & (best == y))[~oos].mean(), (~answered)[oos].mean()

    by_split = {s: scored(s) for s in splits}
    print("for the record, out-of-scope scores: best in-scope accuracy at out-of-scope recall >= r")
    for s, (best, y, scores) in by_split.items():
        for name, sc in scores.items():
            cells = []
            for r in (0.84, 0.86, 0.88, 0.90):
                reach = [
                    figures(best, y, (best != none) & (sc >= t))
                    for t in np.quantile(sc, np.linspace(0, 1, 401))
                ]
                ok = [a for a, rec in reach if rec >= r]
                cells.append(f"{r:.0%}: {max(ok):.1%}" if ok else f"{r:.0%}: -")
            print(f"  {s}, {name}: " + ", ".join(cells))
    if "valid" not in splits:
        return
    best_v, y_v, scores_v = by_split["valid"]
    print("  at 99% precision on validation (in-scope accuracy / out-of-scope recall):")
    for name in scores_v:
        sv = scores_v[name]
        order = np.argsort(-sv)
        answer = (best_v != none)[order]
        right = ((best_v == y_v) & (best_v != none))[order]
        precision = np.cumsum(right) / np.maximum(np.cumsum(answer), 1)
        ok = np.where(precision >= 0.99)[0]
        t = sv[order][ok.max()] if len(ok) else np.inf
        row = []
        for s, (best, y, sc) in by_split.items():
            a, r = figures(best, y, (best != none) & (sc[name] >= t))
            row.append(f"{s} {a:.1%} / {r:.1%}")
        print(f"    {name}: " + ", ".join(row))


if __name__ == "__main__":
    main()
