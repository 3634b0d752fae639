#!/usr/bin/env node
// Benchmark of `previrt check`: instructions decoded per second on a large binary, side by side with
// a plain linear decode of the same executable bytes (the decoder's own speed) and with
// `objdump -d` over the same file, in one run.
//
// Usage: node bench/check.mjs [elf] [--runs N]   (default: the Linux vmlinux of scripts/linux-e2e.sh
// when it exists, else the largest x86 ELF executable found in /usr/bin). Build first: npx tsc -b.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const { parseElf, checkElf, SHF_EXECINSTR, SHF_ALLOC } = await import(join(root, 'packages/linker/dist/index.js'));
const { scanInstructions } = await import(join(root, 'packages/isa/dist/index.js'));

const args = process.argv.slice(2);
const runsAt = args.indexOf('--runs');
const runs = runsAt >= 0 ? Number(args.splice(runsAt, 2)[1]) : 3;
function defaultTarget() {
  const linux = process.env.PREVIRT_LINUX_DIR ?? '/work/linux-build';
  for (const f of [join(linux, 'hooked/vmlinux'), join(linux, 'plain/vmlinux')]) if (existsSync(f)) return f;
  let best = null;
  for (const name of readdirSync('/usr/bin')) {
    const f = join('/usr/bin', name);
    try {
      const st = statSync(f);
      if (!st.isFile() || st.size > 64 << 20 || (best && st.size <= best.size)) continue;
      const head = readFileSync(f).subarray(0, 20);
      if (head[0] === 0x7f && head[1] === 0x45 && (head[18] === 3 || head[18] === 62)) best = { f, size: st.size };
    } catch { /* unreadable */ }
  }
  return best.f;
}
const file = args[0] ?? defaultTarget();
const bytes = readFileSync(file);

const best = (fn) => {
  let min = Infinity;
  let result;
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    result = fn();
    min = Math.min(min, performance.now() - t0);
  }
  return { ms: min, result };
};

const parsed = best(() => parseElf(bytes, file));
const elf = parsed.result;
const checked = best(() => checkElf(elf));
const r = checked.result;
const mode = elf.header.machine === 62 ? 64 : 32;
const linear = best(() => {
  let n = 0;
  for (const s of elf.sections) {
    if ((s.flags & SHF_EXECINSTR) && (s.flags & SHF_ALLOC) && s.data.length > 0) n += scanInstructions(s.data, 0, s.data.length, mode);
  }
  return n;
});
const objdump = best(() => execFileSync('objdump', ['-d', '--no-show-raw-insn', file], { maxBuffer: 1 << 30 }).length);

const rate = (n, ms) => `${Math.round(n / (ms / 1000)).toLocaleString('en-US')} instructions/s`;
console.log(`bench/check: ${file} (${(bytes.length / 1048576).toFixed(1)} MiB, ${(r.executableBytes / 1048576).toFixed(2)} MiB executable), best of ${runs}`);
console.log(`  parseElf                 ${parsed.ms.toFixed(0).padStart(6)} ms  (${elf.sections.length} sections, ${elf.symbols.length} symbols)`);
console.log(`  check (whole)            ${checked.ms.toFixed(0).padStart(6)} ms  ${r.instructionsDecoded} instructions decoded, ${rate(r.instructionsDecoded, checked.ms)}; ${r.sites} sites, ${r.covered} covered, ${r.uncovered.length} uncovered, ${r.badRecords.length} bad records, ${r.records} records`);
console.log(`  linear length decode     ${linear.ms.toFixed(0).padStart(6)} ms  ${linear.result} instructions, ${rate(linear.result, linear.ms)}`);
console.log(`  objdump -d               ${objdump.ms.toFixed(0).padStart(6)} ms`);
console.log(`  ratios: check / linear length decode = ${(checked.ms / linear.ms).toFixed(2)}x, check / objdump -d = ${(checked.ms / objdump.ms).toFixed(2)}x, parse + check = ${((parsed.ms + checked.ms) / 1000).toFixed(2)} s`);
