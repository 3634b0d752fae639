#!/usr/bin/env node
// Differential CPU test campaign: seeded random instruction sequences run in the harness kernel
// (fixtures/vmm/cpudiff) on qemu-system-i386 and on the simulated PC; prints every mismatch.
//   node scripts/cpu-diff.mjs [--seed N] [--cases N] [--chunk N] [--first N] [--show N] [--progress]
// Exit status 0 when no case differs (outside the documented undefined flags), 1 otherwise.
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { generateCases, RESULT_FIELDS } from '../packages/vmm/dist/cpudiff.js';
import { runChunk } from '../packages/vmm/dist/cpudiff-runner.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const arg = (name, def) => { const i = process.argv.indexOf(`--${name}`); return i > 0 ? Number(process.argv[i + 1]) : def; };
const seed = arg('seed', 1);
const total = arg('cases', 100000);
const chunk = arg('chunk', 2500);
const first = arg('first', 0);
const show = arg('show', 20);
const work = mkdtempSync(join(tmpdir(), 'cpu-diff-'));
let compared = 0, bad = 0, ourSec = 0, qemuSec = 0, instr = 0;
const crashes = [];
const t0 = Date.now();
try {
  for (let start = first; start < first + total; start += chunk) {
    const cases = generateCases(seed, start, Math.min(chunk, first + total - start));
    const r = runChunk(join(root, 'fixtures/vmm/cpudiff'), work, cases);
    compared += r.compared; ourSec += r.ourSeconds; qemuSec += r.qemuSeconds; instr += r.ourInstructions;
    if (r.ourMessage) console.log(`chunk ${start}: our machine stopped: ${r.ourMessage}`);
    for (const i of r.referenceCrashes) {
      crashes.push(i);
      console.log(`case ${i}: QEMU crashed (SIGFPE) running it; not compared\n    ${cases.find((x) => x.index === i).code.join('; ')}`);
    }
    for (const m of r.mismatches) {
      bad++;
      if (bad <= show) {
        const c = cases.find((x) => x.index === m.index);
        console.log(`case ${m.index} (${c.ring3 ? 'ring 3' : 'ring 0'}${c.paging ? ', paging' : ''}${c.wp ? ', WP' : ''}): ` +
          m.fields.map((f) => `${f.name} qemu=${(f.reference >>> 0).toString(16)} ours=${(f.ours >>> 0).toString(16)}`).join(', '));
        console.log('    ' + c.code.join('; '));
      }
    }
    if (process.stderr.isTTY) process.stderr.write(`\r${start + cases.length - first}/${total} cases, ${bad} mismatches`);
    if (process.argv.includes('--progress')) console.log(`progress: ${start + cases.length - first}/${total} cases, ${compared} compared, ${bad} mismatches, ${crashes.length} QEMU crashes`);
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}
if (process.stderr.isTTY) process.stderr.write('\n');
console.log(`seed ${seed}: ${compared} cases compared, ${bad} mismatches (fields: ${RESULT_FIELDS.length}), ${crashes.length} cases crashed QEMU; ` +
  `ours ${ourSec.toFixed(1)} s (${(instr / ourSec / 1e6).toFixed(1)} MIPS), qemu ${qemuSec.toFixed(1)} s, total ${((Date.now() - t0) / 1000).toFixed(1)} s`);
process.exit(bad ? 1 : 0);
