#!/usr/bin/env node
// Seeded mutation fuzzing of the ELF reader, writer, `previrt check` and `previrt inspect` over real
// files (the check fixture images and objects, gcc -m32/-m64 objects and executables, system
// binaries). Every case must end in a result or a typed error (exit 2 at the CLI) within the time
// bound; a crash is saved under the output directory with its seed and mutation.
//
// Usage: node scripts/fuzz-elf.mjs [--cases N] [--seed S] [--max-ms T] [--out DIR] [files...]
// (build first: npx tsc -b packages/linker)
import { execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, readFileSync, writeFileSync, existsSync, rmSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname, basename } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const { seededRandom, mutateElf, runFuzzCase, generateLinkerScript } = await import(join(root, 'packages/linker/dist/index.js'));
const { SENSITIVE_CLASSES, MEMORY_OPERATION_KINDS } = await import(join(root, 'packages/isa/dist/index.js'));

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(name);
  if (i < 0) return dflt;
  const v = args[i + 1];
  args.splice(i, 2);
  return v;
};
const cases = Number(opt('--cases', '10000'));
const seed = Number(opt('--seed', '1'));
const maxMs = Number(opt('--max-ms', '2000'));
const outDir = opt('--out', join(tmpdir(), 'previrt-fuzz-crashes'));

/** The default corpus: objects and images built here from the check fixture and a C file, plus system files. */
function defaultCorpus() {
  const dir = mkdtempSync(join(tmpdir(), 'previrt-fuzz-'));
  const fixtures = join(root, 'fixtures/linker/check');
  const defsyms = [];
  for (const k of [...SENSITIVE_CLASSES, ...MEMORY_OPERATION_KINDS]) {
    const n = k.name.toUpperCase().replace(/[^A-Z0-9]/g, '_');
    defsyms.push('--defsym', `K_${n}=${k.id}`, '--defsym', `S_${n}=${k.siteSize}`);
  }
  writeFileSync(join(dir, 'afterburn.ld'), generateLinkerScript('i386'));
  copyFileSync(join(fixtures, 'link.ld'), join(dir, 'link.ld'));
  const files = [];
  for (const v of [0, 3, 11]) {
    execFileSync('as', ['--32', '-g', '-I', fixtures, ...defsyms, '--defsym', `VARIANT=${v}`, '--defsym', 'PLAIN=0',
      join(fixtures, 'kernel.s'), '-o', join(dir, `k${v}.o`)]);
    execFileSync('ld', ['-m', 'elf_i386', '-T', 'link.ld', '-L', dir, join(dir, `k${v}.o`), '-o', join(dir, `k${v}.elf`)], { cwd: dir });
    files.push(join(dir, `k${v}.o`), join(dir, `k${v}.elf`));
  }
  writeFileSync(join(dir, 'p.c'), 'int g[4]; int f(int x) { switch (x) { case 0: return g[0]; case 1: return 3; case 2: return g[2] + 1; default: return x; } }\nint main(void) { return f(1); }\n');
  for (const [flags, name] of [[['-m32', '-O2', '-g', '-c'], 'p32.o'], [['-m64', '-O2', '-g', '-c'], 'p64.o'], [['-m32', '-O2', '-g'], 'p32'], [['-m64', '-O1'], 'p64']]) {
    execFileSync('gcc', [...flags, join(dir, 'p.c'), '-o', join(dir, name)]);
    files.push(join(dir, name));
  }
  for (const f of ['/usr/bin/true', '/usr/lib32/crt1.o', '/usr/lib/x86_64-linux-gnu/crti.o']) if (existsSync(f)) files.push(f);
  return { dir, files };
}

const corpus = args.length > 0 ? { dir: null, files: args } : defaultCorpus();
const seeds = corpus.files.map((f) => ({ name: basename(f), bytes: new Uint8Array(readFileSync(f)) }));
const random = seededRandom(seed);
const counts = { parsed: 0, rejected: 0, crashed: 0, slow: 0 };
let slowest = 0;
const started = performance.now();
const tty = process.stderr.isTTY;
for (let i = 0; i < cases; i++) {
  const base = seeds[i % seeds.length];
  const m = mutateElf(base.bytes, random);
  const t0 = performance.now();
  try {
    counts[runFuzzCase(m.bytes, `${base.name}#${i}`)]++;
  } catch (err) {
    counts.crashed++;
    mkdirSync(outDir, { recursive: true });
    const file = join(outDir, `crash-seed${seed}-case${i}-${base.name}`);
    writeFileSync(file, m.bytes);
    console.error(`CRASH case ${i} (${base.name}: ${m.description}): ${err && err.stack ? err.stack.split('\n').slice(0, 3).join(' | ') : err}\n  saved ${file}`);
  }
  const ms = performance.now() - t0;
  slowest = Math.max(slowest, ms);
  if (ms > maxMs) {
    counts.slow++;
    console.error(`SLOW case ${i} (${base.name}: ${m.description}): ${ms.toFixed(0)} ms`);
  }
  if (tty && i % 250 === 0) process.stderr.write(`\r${i}/${cases} cases`);
}
if (tty) process.stderr.write('\r');
if (corpus.dir) rmSync(corpus.dir, { recursive: true, force: true });
const total = ((performance.now() - started) / 1000).toFixed(1);
console.log(`fuzz-elf: seed ${seed}, ${cases} cases over ${seeds.length} files in ${total} s: ${counts.parsed} parsed and checked, ${counts.rejected} rejected with a clear error, ${counts.crashed} crashes, ${counts.slow} over ${maxMs} ms (slowest ${slowest.toFixed(0)} ms)`);
process.exitCode = counts.crashed > 0 || counts.slow > 0 ? 1 : 0;
