#!/usr/bin/env bash
# Runs `previrt lint` on Linux 6.1 from the Debian package linux-source-6.1 (not part of CI): unpacks
# arch/x86 and drivers/ outside the repository (LINUX_SRC_DIR, default /work/linux-src), scans both,
# prints the time, the counts per rule and per instruction class, the slowest files, and checks that
# the well-known sites are found: the control-register, interrupt-flag and port-I/O helpers in
# arch/x86/include/asm/, and the page-table setters of 2-level and PAE paging.
#   scripts/lint-linux.sh [--jobs N] [extra previrt lint options]
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
src_root=${LINUX_SRC_DIR:-/work/linux-src}
tarball=/usr/src/linux-source-6.1.tar.xz
out=${LINT_LINUX_OUT:-$repo/build/lint-linux}

if [ ! -f "$tarball" ]; then
  echo "lint-linux: installing linux-source-6.1 (Debian)" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq --no-install-recommends linux-source-6.1 >/dev/null
fi
tree=$src_root/linux-source-6.1
if [ ! -d "$tree/arch/x86" ] || [ ! -d "$tree/drivers" ]; then
  echo "lint-linux: unpacking arch/x86 and drivers/ into $src_root" >&2
  mkdir -p "$src_root"
  tar -xJf "$tarball" -C "$src_root" linux-source-6.1/arch/x86 linux-source-6.1/drivers
fi
PREVIRT_SETUP_QUIET=1 scripts/setup.sh
mkdir -p "$out"

echo "lint-linux: previrt lint arch/x86 drivers (in $tree)" >&2
start=$(date +%s.%N)
set +e
(cd "$tree" && nice node "$repo/packages/cli/bin/previrt.js" lint --level note --format json -o "$out/report.json" -v "$@" arch/x86 drivers)
status=$?
set -e
end=$(date +%s.%N)
if [ "$status" -ne 0 ] && [ "$status" -ne 1 ]; then
  echo "lint-linux: previrt lint failed with status $status" >&2
  exit "$status"
fi

node - "$out/report.json" "$start" "$end" <<'JS'
const [report, start, end] = process.argv.slice(2);
const r = JSON.parse(require('fs').readFileSync(report, 'utf8'));
const s = r.summary;
const seconds = Number(end) - Number(start);
console.log(`files ${s.files}, ${(s.bytes / 1e6).toFixed(1)} MB of C, ${seconds.toFixed(1)} s wall (${(s.bytes / 1e6 / seconds).toFixed(2)} MB/s), parser ${r.parser}`);
console.log(`findings: ${s.errors} errors, ${s.warnings} warnings, ${s.notes} notes, ${s.suppressed} suppressed, ${s.fixable} fixable`);
console.log('\ncount per rule:');
for (const [rule, n] of Object.entries(s.byRule).sort((a, b) => b[1] - a[1])) console.log(`  ${rule.padEnd(20)} ${String(n).padStart(7)}`);
const byKind = {};
for (const f of r.findings) if (!f.suppressed && (f.rule === 'asm-sensitive' || f.rule === 'hidden-instruction' || f.rule === 'builtin-sensitive')) {
  const k = `${f.rule}:${f.kind}`;
  byKind[k] = (byKind[k] ?? 0) + 1;
}
console.log('\ninstruction classes (asm-sensitive / hidden-instruction / builtin-sensitive):');
for (const [k, n] of Object.entries(byKind).sort((a, b) => b[1] - a[1])) console.log(`  ${k.padEnd(40)} ${String(n).padStart(6)}`);
console.log('\nslowest files:');
for (const f of s.slowest) console.log(`  ${String(f.ms).padStart(8)} ms  ${(f.bytes / 1e3).toFixed(0).padStart(6)} kB  ${f.file}`);

// The well-known sites.
const expect = [
  ['arch/x86/include/asm/special_insns.h', 'asm-sensitive', 'mov-to-cr'],
  ['arch/x86/include/asm/special_insns.h', 'asm-sensitive', 'mov-from-cr'],
  ['arch/x86/include/asm/irqflags.h', 'asm-sensitive', 'cli'],
  ['arch/x86/include/asm/irqflags.h', 'asm-sensitive', 'sti'],
  ['arch/x86/include/asm/irqflags.h', 'asm-sensitive', 'pushf'],
  ['arch/x86/include/asm/shared/io.h', 'asm-sensitive', 'in'],
  ['arch/x86/include/asm/shared/io.h', 'asm-sensitive', 'out'],
  ['arch/x86/include/asm/io.h', 'asm-sensitive', 'ins'],
  ['arch/x86/include/asm/io.h', 'asm-sensitive', 'outs'],
  ['arch/x86/include/asm/pgtable-2level.h', 'pte-set', 'pte-set'],
  ['arch/x86/include/asm/pgtable-2level.h', 'pde-set', 'pde-set'],
  ['arch/x86/include/asm/pgtable-3level.h', 'pte-set', 'pte-set'],
  ['arch/x86/include/asm/pgtable-3level.h', 'pde-set', 'pde-set'],
];
let missing = 0;
console.log('\nwell-known sites:');
for (const [file, rule, kind] of expect) {
  const hits = r.findings.filter((f) => f.file === file && f.rule === rule && f.kind === kind);
  if (hits.length === 0) missing++;
  console.log(`  ${hits.length > 0 ? 'found  ' : 'MISSING'} ${file} ${rule} ${kind}: ${hits.map((h) => h.line).join(', ')}`);
}
console.log(`\nreport: ${report}`);
process.exit(missing > 0 ? 1 : 0);
JS
