#!/usr/bin/env bash
# A/B timing of two commits on this machine: builds `examples/profile_routes` at each (in a git
# worktree, sharing one target folder under .cache/ab), then runs them alternately, ROUNDS times
# each, and prints the minimum, median and maximum of the per-run figures: the median time of one
# `route()` call (THREADS 0) or `routeBatch` routes/s (THREADS >= 1). Alternating keeps a shared
# machine's slow stretches from landing on one side only. How the README's "alternating medians"
# were taken:
#
#   scripts/ab-profile.sh 46144b0 ba20ea7 MODEL data/demo/test.jsonl 0 8
#
# MODEL is a saved router (e.g. `npx toolrouter train` on data/demo, or `Router.save`).
set -euo pipefail
if [ $# -lt 4 ]; then
  echo "usage: scripts/ab-profile.sh COMMIT_A COMMIT_B MODEL JSONL [THREADS=0] [ROUNDS=8] [SECONDS=1.5]" >&2
  exit 2
fi
a=$1 b=$2 model=$(realpath "$3") data=$(realpath "$4") threads=${5:-0} rounds=${6:-8} secs=${7:-1.5}
root=$(git rev-parse --show-toplevel)
work="$root/.cache/ab"
mkdir -p "$work"
for c in "$a" "$b"; do
  if [ ! -x "$work/profile_routes-$c" ]; then
    tree="$work/tree-$c"
    rm -rf "$tree"
    git -C "$root" worktree add -f --detach "$tree" "$c" >/dev/null
    (cd "$tree" && CARGO_TARGET_DIR="$work/target" cargo build --release -q -p toolrouter-core --example profile_routes)
    cp "$work/target/release/examples/profile_routes" "$work/profile_routes-$c"
    git -C "$root" worktree remove --force "$tree"
  fi
done
out="$work/runs.txt"
: > "$out"
for _ in $(seq "$rounds"); do
  for c in "$a" "$b"; do
    echo "$c $("$work/profile_routes-$c" "$model" "$data" "$threads" "$secs")" >> "$out"
  done
done
python3 - "$out" "$a" "$b" <<'PY'
import re, statistics, sys
rows = [l.rstrip("\n").split(" ", 1) for l in open(sys.argv[1])]
for c in sys.argv[2:]:
    lines = [r[1] for r in rows if r[0] == c]
    if "median" in lines[0]:
        v = [float(re.search(r"median ([\d.]+)", l).group(1)) for l in lines]; unit = "µs per route() (median of the run)"
    else:
        v = [float(re.search(r"([\d.]+) routes/s", l).group(1)) for l in lines]; unit = "routes/s"
    print(f"{c}: {unit}: min {min(v):.2f}, median {statistics.median(v):.2f}, max {max(v):.2f} over {len(v)} runs")
PY
