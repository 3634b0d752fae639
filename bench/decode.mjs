#!/usr/bin/env node
// Decoding speed, side by side in one run: @previrt/isa (fast length+class walk, and full decode with
// objdump-style text), capstone-js (WASM, full text) and objdump -d, over the .text of the same binary.
//   node bench/decode.mjs [elf-file]      (default: the largest of a few system libraries present)
// Needs the TypeScript build (npx tsc -b).
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const isa = await import(join(root, 'packages/isa/dist/index.js'));
const require = createRequire(import.meta.url);

const candidates = ['/usr/lib/x86_64-linux-gnu/libLLVM-15.so.1', '/usr/lib/gcc/x86_64-linux-gnu/12/cc1', '/usr/bin/qemu-system-i386', '/usr/lib/x86_64-linux-gnu/libc.so.6'];
const file = process.argv[2] ?? candidates.find((f) => existsSync(f));
if (!file) { console.error('bench/decode: no binary given and none of the defaults exists'); process.exit(2); }

const hdr = execFileSync('readelf', ['-h', '-S', '-W', file]).toString();
const mode = /Class:\s+ELF64/.test(hdr) ? 64 : 32;
const m = /\]\s+\.text\s+\S+\s+([0-9a-f]+)\s+([0-9a-f]+)\s+([0-9a-f]+)/.exec(hdr);
if (!m) { console.error(`bench/decode: ${file} has no .text section`); process.exit(2); }
const textAddr = parseInt(m[1], 16);
const text = new Uint8Array(readFileSync(file)).subarray(parseInt(m[2], 16), parseInt(m[2], 16) + parseInt(m[3], 16));

function timeIt(fn, minMs = 1500) {
  // Repeat until at least minMs have passed; report the best run.
  let best = Infinity, count = 0;
  const t0 = performance.now();
  do {
    const s = performance.now();
    count = fn();
    best = Math.min(best, performance.now() - s);
  } while (performance.now() - t0 < minMs);
  return { count, ms: best };
}

// isa, fast path: length and sensitive class of every instruction.
isa.scanInstructions(text, 0, Math.min(text.length, 1 << 20), mode); // warm-up
let sensitive = 0;
const fast = timeIt(() => { sensitive = 0; return isa.scanInstructions(text, 0, text.length, mode, (_o, _l, cls) => { if (cls) sensitive++; }); });

// isa, full decode with text (what objdump prints).
const full = timeIt(() => {
  let off = 0, n = 0;
  while (off < text.length) { const d = isa.decode(text, off, mode, textAddr + off); off += d.length; n++; }
  return n;
}, 1000);

// capstone-js: full decode with text; it stops at an undefined encoding, so resume one byte further.
const MCapstone = require('@alexaltea/capstone-js');
const cs = await MCapstone();
const d = new cs.Capstone(cs.ARCH_X86, mode === 64 ? cs.MODE_64 : cs.MODE_32);
const CHUNK = 1 << 16;
const cap = timeIt(() => {
  let off = 0, n = 0;
  while (off < text.length) {
    const end = Math.min(text.length, off + CHUNK + 15);
    const insns = d.disasm(text.subarray(off, end), textAddr + off);
    let used = 0;
    for (const i of insns) { if (used >= CHUNK && off + used < text.length - 15) break; used += i.size; n++; }
    off += used > 0 ? used : 1;
  }
  return n;
}, 1000);
d.close();

// objdump -d: the whole disassembly to a pipe.
const od = timeIt(() => {
  const out = execFileSync('objdump', ['-d', '-j', '.text', '--no-show-raw-insn', file], { maxBuffer: 2 ** 31 - 1 }).toString();
  let n = 0;
  for (let i = out.indexOf(':\t'); i >= 0; i = out.indexOf(':\t', i + 2)) n++;
  return n;
}, 1);

const rate = (r) => r.count / (r.ms / 1000);
const fmt = (x) => (x / 1e6).toFixed(2).padStart(7) + ' M/s';
console.log(`file: ${file} (.text ${(text.length / 1048576).toFixed(1)} MiB, ${mode}-bit)`);
console.log(`isa fast (length + class)  ${String(fast.count).padStart(9)} insns  ${fmt(rate(fast))}   (${sensitive} sensitive)`);
console.log(`isa full decode (text)     ${String(full.count).padStart(9)} insns  ${fmt(rate(full))}`);
console.log(`capstone-js (text)         ${String(cap.count).padStart(9)} insns  ${fmt(rate(cap))}`);
console.log(`objdump -d                 ${String(od.count).padStart(9)} insns  ${fmt(rate(od))}`);
console.log(`ratios: isa fast / capstone-js = ${(rate(fast) / rate(cap)).toFixed(1)}x, isa full / capstone-js = ${(rate(full) / rate(cap)).toFixed(1)}x, isa fast / objdump = ${(rate(fast) / rate(od)).toFixed(1)}x, isa full / objdump = ${(rate(full) / rate(od)).toFixed(1)}x`);
