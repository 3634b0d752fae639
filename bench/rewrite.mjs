#!/usr/bin/env node
// Benchmark of the afterburner, side by side in one run (nothing here is asserted; see the README):
//  1. rewrite throughput (MB/s of assembly text) against GNU as assembling the same files;
//  2. per-call cost of the drop-in assembler: plain `as`, the native shim (warm server) and
//     `node previrt as` (a Node start-up per call), on the same small file;
//  3. per-compile cost of `previrt cc gcc` (native launcher) against plain gcc.
// Usage: node bench/rewrite.mjs [--calls N] [--rounds N] [--asm-dir DIR]   (needs `npm run build`)
//   --asm-dir adds every .s file of DIR (i386 assembly, e.g. gcc -S output of a Linux build) to the corpus;
//   bench/rewrite-linux-asm.sh makes one from the build of scripts/linux-e2e.sh.
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { rewrite } from '../packages/afterburner/dist/index.js';

const repo = fileURLToPath(new URL('..', import.meta.url));
const cli = path.join(repo, 'packages/cli/bin/previrt.js');
const arg = (name, dflt) => { const i = process.argv.indexOf(name); return i > 0 ? Number(process.argv[i + 1]) : dflt; };
const calls = arg('--calls', 40);
const rounds = arg('--rounds', 5);
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'previrt-bench-'));
const env = { ...process.env, PREVIRT_CACHE_DIR: path.join(work, 'cache'), PREVIRT_SERVER_IDLE: '60' };
const now = () => Number(process.hrtime.bigint()) / 1e6;

// The corpus: gcc -S of the C fixtures (several flag sets, i386 and x86-64), the fixture kernel's C
// when its generated headers exist, and the hand-written assembly corpus.
const inputs = [];
const cDir = path.join(repo, 'fixtures/asm/c');
const kernelDir = path.join(repo, 'fixtures/kernel');
const jobs = [];
for (const f of fs.readdirSync(cDir).filter((f) => f.endsWith('.c'))) {
  for (const bits of [32, 64]) for (const o of ['-O0', '-O2', '-Os']) jobs.push({ src: path.join(cDir, f), bits, flags: [o] });
}
if (fs.existsSync(path.join(kernelDir, 'build/include/previrt/annotate.h'))) {
  for (const f of fs.readdirSync(path.join(kernelDir, 'src')).filter((f) => f.endsWith('.c'))) {
    jobs.push({ src: path.join(kernelDir, 'src', f), bits: 32, flags: ['-O2', '-ffreestanding', '-fno-pie', '-march=i686', '-I', path.join(kernelDir, 'include'), '-I', path.join(kernelDir, 'build/include')] });
  }
}
for (const [k, j] of jobs.entries()) {
  const out = path.join(work, `in${k}.s`);
  const r = spawnSync('gcc', [`-m${j.bits}`, ...j.flags, '-S', '-o', out, j.src]);
  if (r.status === 0) inputs.push({ file: out, bits: j.bits });
}
for (const f of fs.readdirSync(path.join(repo, 'fixtures/asm')).filter((f) => f.endsWith('.s'))) {
  const text = fs.readFileSync(path.join(repo, 'fixtures/asm', f), 'latin1');
  const bits = /# arch: 64/.test(text) ? 64 : 32;
  const file = path.join(work, f);
  fs.writeFileSync(file, text, 'latin1');
  inputs.push({ file, bits });
}
const asmDirIndex = process.argv.indexOf('--asm-dir');
if (asmDirIndex > 0) {
  const dir = process.argv[asmDirIndex + 1];
  for (const f of fs.readdirSync(dir).filter((f) => f.endsWith('.s'))) inputs.push({ file: path.join(dir, f), bits: 32 });
}
const texts = inputs.map((i) => ({ ...i, text: fs.readFileSync(i.file, 'latin1') }));
const bytes = texts.reduce((n, t) => n + t.text.length, 0);
const mb = bytes / 1e6;
let sites = 0;
for (const t of texts) sites += rewrite(t.text, { elfClass: t.bits }).sites.length;

// 1. Throughput, interleaved rounds so that machine noise hits both sides alike.
let rewriteMs = Infinity;
let asMs = Infinity;
for (let r = 0; r < rounds; r++) {
  let t0 = now();
  for (const t of texts) rewrite(t.text, { elfClass: t.bits });
  rewriteMs = Math.min(rewriteMs, now() - t0);
  t0 = now();
  for (const t of texts) execFileSync('as', [`--${t.bits}`, '-o', path.join(work, 'out.o'), t.file]);
  asMs = Math.min(asMs, now() - t0);
}
console.log(`corpus: ${texts.length} files, ${(mb).toFixed(2)} MB of assembly, ${sites} sites`);
console.log(`rewrite (in process):        ${(mb / (rewriteMs / 1000)).toFixed(1).padStart(7)} MB/s  (${rewriteMs.toFixed(0)} ms, best of ${rounds})`);
console.log(`GNU as (assembling):         ${(mb / (asMs / 1000)).toFixed(1).padStart(7)} MB/s  (${asMs.toFixed(0)} ms, best of ${rounds})`);
console.log(`rewrite is ${(asMs / rewriteMs).toFixed(1)}x faster than GNU as on the same input`);
// GNU as's time above includes a process start per file; the largest file shows the per-byte rates:
// the rewrite alone, the rewrite with reading the input and writing its result (what the drop-in
// assembler does before running GNU as), and GNU as with its start-up (as on an empty file) taken off.
const largest = texts.reduce((a, b) => (b.text.length > a.text.length ? b : a));
const empty = path.join(work, 'empty.s');
fs.writeFileSync(empty, '');
const rewritten = path.join(work, 'rewritten.s');
let bigRewrite = Infinity;
let bigRewriteIo = Infinity;
let bigAs = Infinity;
let emptyAs = Infinity;
for (let r = 0; r < rounds * 4; r++) {
  let t0 = now();
  rewrite(largest.text, { elfClass: largest.bits });
  bigRewrite = Math.min(bigRewrite, now() - t0);
  t0 = now();
  fs.writeFileSync(rewritten, rewrite(fs.readFileSync(largest.file, 'latin1'), { elfClass: largest.bits }).text, 'latin1');
  bigRewriteIo = Math.min(bigRewriteIo, now() - t0);
  t0 = now();
  execFileSync('as', [`--${largest.bits}`, '-o', path.join(work, 'out.o'), largest.file]);
  bigAs = Math.min(bigAs, now() - t0);
  t0 = now();
  execFileSync('as', [`--${largest.bits}`, '-o', path.join(work, 'out.o'), empty]);
  emptyAs = Math.min(emptyAs, now() - t0);
}
const bigMb = largest.text.length / 1e6;
const rate = (ms) => (bigMb / (ms / 1000)).toFixed(1);
console.log(`largest file (${path.basename(largest.file)}, ${(bigMb * 1000).toFixed(0)} KB, best of ${rounds * 4}):`);
console.log(`  rewrite ${rate(bigRewrite)} MB/s (${bigRewrite.toFixed(2)} ms), with reading and writing the file ${rate(bigRewriteIo)} MB/s (${bigRewriteIo.toFixed(2)} ms)`);
console.log(`  GNU as ${rate(bigAs)} MB/s (${bigAs.toFixed(2)} ms), without its start-up (${emptyAs.toFixed(2)} ms) ${rate(bigAs - emptyAs)} MB/s`);
console.log(`  rewrite is ${(bigAs / bigRewrite).toFixed(1)}x faster than GNU as (${(bigAs / bigRewriteIo).toFixed(1)}x with file I/O; ` +
  `${((bigAs - emptyAs) / bigRewrite).toFixed(1)}x / ${((bigAs - emptyAs) / bigRewriteIo).toFixed(1)}x against GNU as without its start-up)`);

// 2. Per-call cost on one small file with sites.
const small = path.join(work, 'small.s');
execFileSync('gcc', ['-m32', '-O2', '-S', '-o', small, path.join(repo, 'fixtures/asm/c/control.c')]);
fs.appendFileSync(small, '\t.text\n\tcli\n\tsti\n\tinb $0x60,%al\n');
const binDir = execFileSync(process.execPath, [cli, 'cc', '--print-bin-dir'], { env, encoding: 'utf8' }).trim();
const shimDir = execFileSync(process.execPath, [cli, 'cc', '--print-shim-dir'], { env, encoding: 'utf8' }).trim();
const shim = path.join(shimDir, 'as');
const launcher = path.join(binDir, 'previrt');
execFileSync(shim, ['--32', '-o', path.join(work, 'warm.o'), small], { env }); // starts the server
function perCall(cmd, args, n) {
  let best = Infinity;
  for (let r = 0; r < 3; r++) {
    const t0 = now();
    for (let k = 0; k < n; k++) execFileSync(cmd, args, { env, stdio: 'ignore' });
    best = Math.min(best, (now() - t0) / n);
  }
  return best;
}
const out = path.join(work, 'call.o');
const plainAs = perCall('as', ['--32', '-o', out, small], calls);
const nativeAs = perCall(shim, ['--32', '-o', out, small], calls);
const nodeAs = perCall(process.execPath, [cli, 'as', '--32', '-o', out, small], Math.max(5, calls / 4));
console.log(`\nper call, ${(fs.statSync(small).size / 1024).toFixed(1)} KB input with sites (best of 3 x ${calls}):`);
console.log(`plain as:                    ${plainAs.toFixed(1).padStart(7)} ms`);
console.log(`previrt as, native client:   ${nativeAs.toFixed(1).padStart(7)} ms  (+${(nativeAs - plainAs).toFixed(1)} ms)`);
console.log(`previrt as, node per call:   ${nodeAs.toFixed(1).padStart(7)} ms  (+${(nodeAs - plainAs).toFixed(1)} ms)`);

// 3. Per compile through the launcher.
const c = path.join(repo, 'fixtures/asm/c/control.c');
const plainCc = perCall('gcc', ['-m32', '-O2', '-c', c, '-o', out], Math.max(5, calls / 4));
const hookedCc = perCall(launcher, ['cc', 'gcc', '-m32', '-O2', '-c', c, '-o', out], Math.max(5, calls / 4));
const nodeCc = perCall(process.execPath, [cli, 'cc', 'gcc', '-m32', '-O2', '-c', c, '-o', out], Math.max(5, calls / 8));
console.log(`\nper compile (gcc -O2 -c control.c):`);
console.log(`plain gcc:                   ${plainCc.toFixed(1).padStart(7)} ms`);
console.log(`previrt cc gcc, native:      ${hookedCc.toFixed(1).padStart(7)} ms  (x${(hookedCc / plainCc).toFixed(3)})`);
console.log(`previrt cc gcc, node CLI:    ${nodeCc.toFixed(1).padStart(7)} ms  (x${(nodeCc / plainCc).toFixed(3)})`);

const pidFile = fs.readdirSync(path.join(work, 'cache')).map((d) => path.join(work, 'cache', d, 'as.sock.pid')).find((f) => fs.existsSync(f));
if (pidFile) { try { process.kill(Number(fs.readFileSync(pidFile, 'utf8')), 'SIGTERM'); } catch { /* gone */ } }
fs.rmSync(work, { recursive: true, force: true });
