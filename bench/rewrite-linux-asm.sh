#!/usr/bin/env bash
# Makes a corpus of real compiler output for bench/rewrite.mjs --asm-dir: `gcc -S` of a few large
# Linux objects with kbuild's own command lines (from the .<object>.cmd files of a build made by
# scripts/linux-e2e.sh). The build tree is only read; the .s files go to <out dir>.
# Usage: bench/rewrite-linux-asm.sh [<linux build dir> [<out dir> [<object>...]]]
#   defaults: /work/linux-build/plain, /work/linux-build/asm,
#   kernel/sched/core.o mm/page_alloc.o fs/namei.o kernel/workqueue.o
set -euo pipefail
build=${1:-${PREVIRT_LINUX_DIR:-/work/linux-build}/plain}
out=${2:-${PREVIRT_LINUX_DIR:-/work/linux-build}/asm}
shift $(( $# > 2 ? 2 : $# ))
objects=("$@")
[ ${#objects[@]} -gt 0 ] || objects=(kernel/sched/core.o mm/page_alloc.o fs/namei.o kernel/workqueue.o)
[ -d "$build" ] || { echo "rewrite-linux-asm: no Linux build in $build (run scripts/linux-e2e.sh first)" >&2; exit 2; }
mkdir -p "$out"
for obj in "${objects[@]}"; do
  cmdfile="$build/$(dirname "$obj")/.$(basename "$obj").cmd"
  [ -f "$cmdfile" ] || { echo "rewrite-linux-asm: no $cmdfile" >&2; exit 2; }
  target="$out/$(echo "${obj%.o}" | tr / _).s"
  # kbuild's command, writing assembly instead of an object, without its dependency file.
  cmd=$(sed -n "s|^cmd_$obj := ||p" "$cmdfile" | head -1 |
    sed -e 's| -Wp,-MMD,[^ ]*||' -e "s| -c -o $obj | -S -o $target |")
  case "$cmd" in *" -S -o "*) ;; *) echo "rewrite-linux-asm: cannot read the command for $obj" >&2; exit 2 ;; esac
  (cd "$build" && eval "$cmd")
  echo "$target: $(wc -c < "$target") bytes"
done
