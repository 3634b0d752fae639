#!/usr/bin/env bash
# Compiles and runs bench/lint.ts: previrt lint throughput next to raw tree-sitter parse throughput,
# same files, same worker count, alternating rounds in one run. Arguments go to the benchmark
# (--jobs N, --rounds N, --sample K, paths...).
set -euo pipefail
cd "$(dirname "$0")/.."
PREVIRT_SETUP_QUIET=1 scripts/setup.sh
out=build/bench-lint
rm -rf "$out"
npx tsc --ignoreConfig --outDir "$out" --rootDir bench --module nodenext --moduleResolution nodenext --target es2022 \
  --types node --skipLibCheck --strict bench/lint.ts bench/lint-parse-worker.ts
exec nice node "$out/lint.js" "$@"
