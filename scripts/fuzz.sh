#!/usr/bin/env bash
# Runs each cargo-fuzz target of crates/toolrouter-core/fuzz for a fixed time:
#   scripts/fuzz.sh [seconds per target, default 60] [target...]
# Targets: jsonl, tools (the loaders, from bytes), model (the model-file loader, then routing
# what loads), route (route() on arbitrary text). Needs a nightly toolchain and cargo-fuzz
# (`cargo install cargo-fuzz --locked`); the first build compiles candle with AddressSanitizer
# (about 15 minutes on 2 cores). Not part of CI: the saved findings are replayed by
# `cargo test` (crates/toolrouter-core/tests/fuzz_regressions.rs) instead.
# A finding is written to crates/toolrouter-core/fuzz/artifacts/<target>/; once fixed, copy it to
# crates/toolrouter-core/tests/fuzz-regressions/<target>/ so it stays fixed.
set -uo pipefail
secs="${1:-60}"
shift || true
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=(jsonl tools model route)
cd "$(dirname "$0")/../crates/toolrouter-core/fuzz" || exit 1

cargo +nightly fuzz build || exit 1
failed=()
for t in "${targets[@]}"; do
  mkdir -p "corpus/$t"
  echo "=== fuzz $t for ${secs}s"
  # Seeds: the committed ones and the saved regressions; new corpus entries go to corpus/$t.
  log="artifacts/$t.log"
  mkdir -p artifacts
  dirs=("corpus/$t" "seeds/$t")
  [ -d "../tests/fuzz-regressions/$t" ] && dirs+=("../tests/fuzz-regressions/$t")
  cargo +nightly fuzz run "$t" "${dirs[@]}" -- \
    -max_total_time="$secs" -timeout=20 -rss_limit_mb=4096 -max_len=65536 -print_final_stats=1 >"$log" 2>&1
  rc=$?
  grep -E 'INFO: (Loaded|seed corpus)|Done [0-9]+ runs|stat::number_of_executed_units|stat::peak_rss|ERROR|panicked|SUMMARY|Test unit written|assert' "$log" | head -20
  if [ $rc -ne 0 ]; then failed+=("$t"); echo "--- $t failed (rc $rc), log: crates/toolrouter-core/fuzz/$log"; fi
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "FINDINGS in: ${failed[*]} (see crates/toolrouter-core/fuzz/artifacts/)"
  exit 1
fi
echo "no findings in ${targets[*]} (${secs}s each)"
