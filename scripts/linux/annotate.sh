#!/usr/bin/env bash
# Pre-virtualization's porting step for Linux 6.1 i386: annotates the kernel's own sensitive memory
# operations (page-table setters and readers of 2-level paging, local APIC and I/O APIC register
# accessors) in a copy of the source tree.
#   1. `previrt header` puts previrt/annotate.h into the tree's include/ (already on kbuild's path);
#   2. `previrt lint --fix` annotates what it can (the I/O APIC accessors, ptep_test_and_clear_young's
#      test_and_clear_bit); the entry-type headers are scanned with them so that the scanner knows
#      pte_t/pmd_t are structs and leaves whole-entry accesses alone;
#   3. annotations.patch (made against the tree after step 2) does the rest by hand: whole-entry
#      accesses through a member, the local APIC accessors (an alternative_io() asm the scanner must
#      not rewrite), ptep_set_wrprotect's clear_bit and an x86 ptep_get.
# The copy shares unchanged files with the source by hard links; every changed file is written as a
# new file (lint --fix renames, patch replaces), so the source tree is never modified.
#
# Usage: annotate.sh <linux source dir> <annotated tree dir>
# Prints the number of lines the two steps change (the porting cost) on the last line.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
src=$1
dst=$2
previrt() { node "$repo/packages/cli/bin/previrt.js" "$@"; }

rm -rf "$dst"
cp -al "$src" "$dst"
rm -f "$dst/.previrt-extracted"
previrt header -o "$dst/include"

lint_fixed=(arch/x86/kernel/apic/io_apic.c arch/x86/mm/pgtable.c)
types=(arch/x86/include/asm/pgtable-2level_types.h arch/x86/include/asm/pgtable_types.h
       include/asm-generic/pgtable-nop4d.h include/asm-generic/pgtable-nopud.h include/asm-generic/pgtable-nopmd.h)
(cd "$dst" && previrt lint --fix --quiet "${lint_fixed[@]}" "${types[@]}" >/dev/null) || true
lint_lines=0
for f in "${lint_fixed[@]}"; do
  n=$(diff "$src/$f" "$dst/$f" | grep -c '^[<>]' || true)
  [ "$n" -gt 0 ] || { echo "annotate: previrt lint --fix changed nothing in $f" >&2; exit 1; }
  lint_lines=$((lint_lines + n))
done
for f in "${types[@]}"; do
  cmp -s "$src/$f" "$dst/$f" || { echo "annotate: previrt lint --fix changed $f (only scanned for its types)" >&2; exit 1; }
done

(cd "$dst" && patch -p1 --quiet --no-backup-if-mismatch < "$here/annotations.patch")
patch_lines=$(awk '/^(\+\+\+|---) /{next} /^[-+]/{n++} END{print n+0}' "$here/annotations.patch")
echo "annotated tree: $dst"
echo "porting cost: $lint_lines lines changed by previrt lint --fix, $patch_lines by annotations.patch, $((lint_lines + patch_lines)) in all"
