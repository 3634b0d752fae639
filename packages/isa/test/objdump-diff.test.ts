// Differential test of the decoder against GNU objdump on binaries nobody here wrote: x86-64 programs
// and libraries of the machine, and i386 objects that gcc -m32 compiles from a varied C corpus
// (generated below, plus C examples found on the machine). Every instruction objdump prints is
// compared: its length (boundaries) always, and its full text (mnemonic and operands) for the
// general-purpose and system instructions. The bigger campaign is scripts/decode-diff.mjs.
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { decode, instructionLength, type CpuMode } from '@previrt/isa';
import { elfSections, parseObjdump, normalizeObjdump, run, withTempDir } from './support/gnu';

interface Tally { instructions: number; boundaryMismatches: number; textCompared: number; textMismatches: number; examples: string[] }
const newTally = (): Tally => ({ instructions: 0, boundaryMismatches: 0, textCompared: 0, textMismatches: 0, examples: [] });

function compareFile(file: string, mode: CpuMode, tally: Tally): void {
  const data = new Uint8Array(readFileSync(file));
  const secs = elfSections(file);
  const relocatable = /Type:\s+REL/.test(run('readelf', ['-h', file]));
  const { lines, symbols } = parseObjdump(run('objdump', ['-d', '--insn-width=15', '-w', file], { maxBuffer: 2 ** 31 - 1 }));
  // objdump decodes each symbol's range on its own: an instruction never runs into the next symbol.
  const starts = new Map<string, number[]>();
  for (const s of symbols) { const list = starts.get(s.section) ?? []; list.push(s.address); starts.set(s.section, list); }
  let section = '';
  let bytes = data;
  let base = 0;
  let symIdx = 0;
  let list: number[] = [];
  for (const l of lines) {
    if (l.section !== section) {
      section = l.section;
      const s = secs.get(section)!;
      bytes = data.subarray(s.off, s.off + s.size);
      base = relocatable ? 0 : s.addr;
      list = (starts.get(section) ?? []).slice().sort((a, b) => a - b);
      symIdx = 0;
    }
    while (symIdx < list.length && list[symIdx]! <= l.address) symIdx++;
    const end = symIdx < list.length ? list[symIdx]! - base : bytes.length;
    const window = bytes.subarray(0, end);
    const insn = decode(window, l.address - base, mode, l.address);
    tally.instructions++;
    let ok = insn.length === l.bytes.length && instructionLength(window, l.address - base, mode) === (insn.valid || insn.mnemonic !== '.byte' ? insn.length : -1);
    if (insn.length !== l.bytes.length) tally.boundaryMismatches++;
    if (insn.group === 'general' || insn.group === 'system') {
      tally.textCompared++;
      let ref = normalizeObjdump(l.text);
      if (insn.target !== null && !/%[re]ip/.test(insn.operandText)) ref = ref.replace(/0x([0-9a-f]+)$/, '$1');
      const mine = normalizeObjdump(insn.operandText ? `${insn.mnemonic} ${insn.operandText}` : insn.mnemonic);
      if (ref !== mine) { tally.textMismatches++; ok = false; }
    }
    if (!ok && tally.examples.length < 10) {
      tally.examples.push(`${file} ${l.address.toString(16)}: ${l.bytes.map((b) => b.toString(16).padStart(2, '0')).join(' ')}: objdump "${normalizeObjdump(l.text)}", isa "${insn.mnemonic} ${insn.operandText}" (${insn.length} bytes)`);
    }
  }
}

function isElf(file: string, cls: 1 | 2): boolean {
  try {
    const st = statSync(file);
    if (!st.isFile() || st.size < 64) return false;
    const head = readFileSync(file).subarray(0, 20);
    return head[0] === 0x7f && head[1] === 0x45 && head[4] === cls && head[18] === (cls === 2 ? 62 : 3);
  } catch { return false; }
}

// x86-64 binaries that come with the toolchain this project installs (binutils, gcc, libc, python3),
// in order of preference; the test takes files until it has enough instructions.
const X86_64_CANDIDATES = [
  '/usr/lib/x86_64-linux-gnu/libc.so.6',
  '/usr/lib/x86_64-linux-gnu/libstdc++.so.6',
  '/usr/bin/x86_64-linux-gnu-as',
  '/usr/bin/x86_64-linux-gnu-objdump',
  '/usr/lib/x86_64-linux-gnu/libm.so.6',
  '/usr/bin/x86_64-linux-gnu-ld.bfd',
  '/usr/bin/make',
  '/usr/bin/qemu-system-i386',
];
const X86_64_TARGET = 800_000;

describe('decoder vs objdump -d', () => {
  const totals = newTally();

  test('x86-64 programs and libraries of this machine', () => {
    const tally = newTally();
    const used: string[] = [];
    for (const f of X86_64_CANDIDATES) {
      if (tally.instructions >= X86_64_TARGET) break;
      if (!existsSync(f) || !isElf(f, 2)) continue;
      compareFile(f, 64, tally);
      used.push(f);
    }
    console.log(`x86-64: ${tally.instructions} instructions from ${used.join(', ')}: ${tally.boundaryMismatches} boundary mismatches; ${tally.textCompared} general/system compared, ${tally.textMismatches} text mismatches`);
    expect(tally.examples).toEqual([]);
    expect(tally.boundaryMismatches).toBe(0);
    expect(tally.textMismatches).toBe(0);
    expect(tally.instructions).toBeGreaterThanOrEqual(X86_64_TARGET);
    Object.assign(totals, { ...totals, instructions: totals.instructions + tally.instructions, boundaryMismatches: totals.boundaryMismatches + tally.boundaryMismatches, textCompared: totals.textCompared + tally.textCompared, textMismatches: totals.textMismatches + tally.textMismatches });
  });

  test('i386 objects compiled by gcc -m32 from a varied C corpus', () => {
    const tally = newTally();
    withTempDir((dir) => {
      const sources: string[] = [];
      for (let i = 0; i < 3; i++) {
        const f = join(dir, `gen${i}.c`);
        writeFileSync(f, generateC(1000 + i, 700));
        sources.push(f);
      }
      const examples = '/usr/share/doc/zlib1g-dev/examples';
      if (existsSync(examples)) for (const n of readdirSync(examples)) if (n.endsWith('.c')) sources.push(join(examples, n));
      const flagSets = [['-O2'], ['-O2', '-fPIC', '-march=i686'], ['-Os', '-march=pentium4', '-msse2', '-mfpmath=sse'], ['-O1', '-fomit-frame-pointer', '-march=i386']];
      let objects = 0;
      for (const src of sources) {
        flagSets.forEach((flags, k) => {
          const obj = join(dir, `${objects}-${k}.o`);
          try { run('gcc', ['-m32', ...flags, '-w', '-c', '-o', obj, src]); } catch { return; } // a found example may need headers we lack
          compareFile(obj, 32, tally);
          objects++;
        });
      }
    });
    console.log(`i386: ${tally.instructions} instructions: ${tally.boundaryMismatches} boundary mismatches; ${tally.textCompared} general/system compared, ${tally.textMismatches} text mismatches`);
    expect(tally.examples).toEqual([]);
    expect(tally.boundaryMismatches).toBe(0);
    expect(tally.textMismatches).toBe(0);
    expect(tally.instructions).toBeGreaterThan(200_000);
    totals.instructions += tally.instructions;
    console.log(`total compared with objdump: ${totals.instructions} instructions`);
    expect(totals.instructions).toBeGreaterThanOrEqual(1_000_000);
  });
});

/** A deterministic, varied C program: integer/float/64-bit arithmetic, switches, loops, strings, bit tricks, structs, privileged inline asm. */
function generateC(seed: number, functions: number): string {
  let s = seed;
  const r = (n: number) => { s = (s * 1103515245 + 12345) & 0x7fffffff; return s % n; };
  const types = ['int', 'unsigned', 'short', 'unsigned char', 'long long', 'unsigned long long', 'float', 'double', 'signed char', 'long'];
  const intOps = ['+', '-', '*', '/', '%', '&', '|', '^', '<<', '>>'];
  const out: string[] = [
    'typedef unsigned long size_t;',
    'extern void *memcpy(void *, const void *, size_t); extern void *memset(void *, int, size_t); extern size_t strlen(const char *);',
    'extern int printf(const char *, ...); extern double sqrt(double);',
    'struct S { int a; short b; char c[13]; long long d; double e; };',
    'volatile int sink; static struct S gs[16]; int table[256];',
  ];
  const expr = (t: string, depth: number, vars: string[]): string => {
    if (depth === 0 || r(3) === 0) return r(2) ? vars[r(vars.length)]! : String(r(2000) - 1000);
    const isFloat = t === 'float' || t === 'double';
    const op = isFloat ? ['+', '-', '*', '/'][r(4)]! : intOps[r(intOps.length)]!;
    const rhs = op === '/' || op === '%' ? `(${expr(t, depth - 1, vars)} | 1)` : op === '<<' || op === '>>' ? String(r(7)) : expr(t, depth - 1, vars);
    return `(${t})(${expr(t, depth - 1, vars)} ${op} ${rhs})`;
  };
  for (let i = 0; i < functions; i++) {
    const t = types[r(types.length)]!;
    const kind = r(8);
    const vars = ['a', 'b', 'c'];
    let body: string;
    switch (kind) {
      case 0: body = `switch ((int)a & 15) { ${Array.from({ length: 9 }, (_, k) => `case ${k}: return ${expr(t, 3, vars)};`).join(' ')} default: return b; }`; break;
      case 1: body = `${t} acc = 0; for (int i = 0; i < (int)c; i++) { acc += ${expr(t, 2, [...vars, 'acc'])}; if (acc > (${t})${r(100000)}) break; } return acc;`; break;
      case 2: body = `struct S x = gs[(unsigned)a & 15]; x.a += (int)b; x.d ^= (long long)c; memcpy(&gs[(unsigned)b & 15], &x, sizeof x); return (${t})(x.e + x.b);`; break;
      case 3: body = `char buf[64]; memset(buf, (int)a, sizeof buf); buf[(unsigned)b & 63] = 0; return (${t})(strlen(buf) + table[(unsigned char)c]);`; break;
      case 4: body = t === 'float' || t === 'double' ? `return (${t})sqrt((double)(a * a + b * b)) + (${t})c;` : `return (${t})(__builtin_popcount((unsigned)a) + __builtin_ctz((unsigned)b | 1) + __builtin_bswap32((unsigned)c));`; break;
      case 5: body = `unsigned v; __asm__ volatile("cli\\n\\tmovl %%cr0, %0\\n\\tsti" : "=r"(v)); if (a) __asm__ volatile("outb %b0, %w1" :: "a"((int)a), "Nd"(0x80)); sink = v; return (${t})v;`; break;
      case 6: body = `if (a < b) return f${(i + 1) % functions}(b, a, c - 1); return ${expr(t, 4, vars)};`; break;
      default: body = `return ${expr(t, 5, vars)};`;
    }
    out.push(`${t} f${i}(${t} a, ${t} b, ${t} c);`);
    out.push(`__attribute__((noinline)) ${t} f${i}(${t} a, ${t} b, ${t} c) { ${body} }`);
  }
  out.push('int main(void) { printf("%d\\n", (int)f0(1, 2, 3)); return 0; }');
  return out.join('\n');
}
