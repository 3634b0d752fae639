// The builtin → instruction table of @previrt/isa against gcc: each builtin or intrinsic, compiled with
// `gcc -O2 -S`, must emit as text an instruction of the catalogue class the table names (which is why
// the scanner reports builtins as notes: the afterburner sees that text). A builtin left out of the
// table on purpose (pause) must emit nothing sensitive. The scanner reports each call.
import { classifyAtt, SENSITIVE_BUILTINS, splitAttOperands, splitAttStatement } from '@previrt/isa';
import { compileConfig, defaultConfig, loadCParser, scanSource } from '@previrt/scanner';
import { run, tmpPath } from './support.js';
import { writeFileSync } from 'node:fs';

const CALLS: Record<string, string> = {
  __builtin_ia32_rdtsc: 'return __builtin_ia32_rdtsc();',
  __builtin_ia32_rdtscp: 'unsigned a; return __builtin_ia32_rdtscp(&a) + a;',
  __builtin_ia32_rdpmc: 'return __builtin_ia32_rdpmc(x);',
  __builtin_ia32_readeflags_u32: 'return __builtin_ia32_readeflags_u32();',
  __builtin_ia32_readeflags_u64: 'return __builtin_ia32_readeflags_u64();',
  __builtin_ia32_writeeflags_u32: '__builtin_ia32_writeeflags_u32(x); return 0;',
  __builtin_ia32_writeeflags_u64: '__builtin_ia32_writeeflags_u64(x); return 0;',
  __builtin_ia32_wbinvd: '__builtin_ia32_wbinvd(); return 0;',
  __builtin_trap: 'if (x) __builtin_trap(); return 0;',
  __rdtsc: 'return __rdtsc();',
  _rdtsc: 'return _rdtsc();',
  __rdtscp: 'unsigned a; return __rdtscp(&a) + a;',
  _rdtscp: 'unsigned a; return _rdtscp(&a) + a;',
  __rdpmc: 'return __rdpmc(x);',
  _rdpmc: 'return _rdpmc(x);',
  __readeflags: 'return __readeflags();',
  __writeeflags: '__writeeflags(x); return 0;',
  _wbinvd: '_wbinvd(); return 0;',
};

/** The catalogue classes of the instructions gcc emits for each body, one compilation per word size. */
function emittedClasses(bodies: readonly string[], bits: 32 | 64): string[][] {
  const src = tmpPath('b.c');
  writeFileSync(src, `#include <x86intrin.h>\n${bodies.map((b, i) => `unsigned long long f${i}(int x) { ${b} }`).join('\n')}\n`);
  const asm = run('gcc', [`-m${bits}`, '-O2', '-S', '-o', '-', src]);
  const out: string[][] = bodies.map(() => []);
  let current = -1;
  for (const line of asm.split('\n')) {
    const t = line.trim();
    const label = /^f(\d+):$/.exec(t);
    if (label) { current = Number(label[1]); continue; }
    if (current < 0 || t === '' || t.startsWith('.') || t.endsWith(':')) continue;
    const s = splitAttStatement(t);
    const c = s && classifyAtt(s.mnemonic, splitAttOperands(s.rest));
    if (c) out[current]!.push(c.name);
  }
  return out;
}

const pause = '__builtin_ia32_pause(); return 0;';
let emitted32: string[][];
let emitted64: string[][];
beforeAll(() => {
  emitted32 = emittedClasses([...SENSITIVE_BUILTINS.map((b) => CALLS[b.name] ?? ''), pause], 32);
  emitted64 = emittedClasses(SENSITIVE_BUILTINS.map((b) => CALLS[b.name] ?? ''), 64);
});

test('the table covers exactly the calls this test knows how to make', () => {
  expect(SENSITIVE_BUILTINS.map((b) => b.name).sort()).toEqual(Object.keys(CALLS).sort());
});

test.each(SENSITIVE_BUILTINS.map((b, i) => [b.name, b.className, i] as const))('%s: gcc emits %s as assembler text', (name, className, i) => {
  const emitted = name.endsWith('_u64') ? emitted64[i]! : emitted32[i]!;
  expect(emitted).toContain(className);
});

test('__builtin_ia32_pause emits nothing sensitive (pause behaves alike at every privilege level)', () => {
  expect(emitted32[SENSITIVE_BUILTINS.length]).toEqual([]);
});

test('the scanner reports every call of a sensitive builtin, with its class, and nothing for pause', async () => {
  const parser = await loadCParser('native');
  const text = Object.entries(CALLS).map(([name, body], i) => `unsigned long long f${i}_${name}(int x) { ${body} }`)
    .concat(['void p(void) { __builtin_ia32_pause(); }']).join('\n');
  const scan = scanSource('b.c', text, parser, compileConfig(defaultConfig()));
  expect(scan.findings.map((f) => `${f.rule}:${f.kind}`)).toEqual(
    SENSITIVE_BUILTINS.map((b) => `builtin-sensitive:${b.className}`),
  );
});
