// The no-op guarantee on compiler output: for gcc -S of a varied C corpus (fixtures/asm/c) under
// several flag sets, i386 and x86-64, the afterburner finds nothing and returns the text unchanged,
// so the drop-in assembler hands GNU as the original input and the object is byte-identical (the
// hook test checks the objects end to end).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { rewrite } from '@previrt/afterburner';
import { tmpFile } from './binutils.js';

const cDir = fileURLToPath(new URL('../../../fixtures/asm/c', import.meta.url));
const sources = fs.readdirSync(cDir).filter((f) => f.endsWith('.c')).sort();
const flagSets = [['-O0'], ['-O2', '-g'], ['-Os', '-fPIC'], ['-O3', '-fomit-frame-pointer', '-funroll-loops']];

function compileToAsm(file: string, bits: 32 | 64, flags: string[]): string {
  const out = tmpFile(`${path.basename(file)}.s`);
  const r = spawnSync('gcc', [`-m${bits}`, ...flags, '-S', '-o', out, path.join(cDir, file)], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`gcc failed on ${file}:\n${r.stderr}`);
  return fs.readFileSync(out, 'latin1');
}

const cases: [string, 32 | 64, string][] = [];
for (const f of sources) for (const bits of [32, 64] as const) for (const flags of flagSets) cases.push([f, bits, flags.join(' ')]);

describe('no-op guarantee on gcc -S output', () => {
  test('the C corpus is there', () => {
    expect(sources.length).toBeGreaterThanOrEqual(5);
  });

  test.each(cases)('%s -m%i %s', (file, bits, flags) => {
    const text = compileToAsm(file, bits, flags.split(' '));
    const r = rewrite(text, { elfClass: bits, fileName: file });
    expect(r.sites).toEqual([]);
    expect(r.diagnostics).toEqual([]);
    if (file === 'excluded.c') {
      // Its sensitive instructions are left alone on purpose: what is added is labels around them
      // and their records in the non-allocated .afterburn_excluded, nothing else.
      expect(r.skipped.map((s) => s.className)).toEqual(['cli', 'lidt', 'hlt']);
      const stripped = r.text.replace(/\.Lafterburn\w+:/g, '').replace(/;;\.pushsection \.afterburn_excluded,"",@progbits;[^\n]*?;\.popsection/g, '');
      expect(stripped === text).toBe(true);
    } else {
      expect(r.text === text).toBe(true);
    }
  });

  test('the excluded instructions are really there: without the markers they become sites', () => {
    const text = compileToAsm('excluded.c', 32, ['-O2']);
    const unmarked = text.replace(/\.set \.Lprevirt_off, [01]/g, '').replace(/# previrt:(off|on)/g, '');
    expect(rewrite(unmarked, { elfClass: 32 }).sites.map((s) => s.className)).toEqual(['cli', 'lidt', 'hlt']);
  });
});
