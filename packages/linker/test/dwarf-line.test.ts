// The .debug_line reader against objdump --dwarf=decodedline (binutils runs the same line programs):
// every instruction of gcc-built executables, DWARF 5 (gcc 12's default) and DWARF 4, i386 and x86-64.
// (addr2line 2.40 is no reference: it names the wrong file for DWARF 5 file index 1.)
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseElf, readLineTable } from '@previrt/linker';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'previrt-dwarf-'));
  writeFileSync(join(dir, 'util.h'), 'static inline int twice(int x) {\n  return x * 2;\n}\n');
  writeFileSync(join(dir, 'prog.c'), [
    '#include "util.h"',
    'int table[16];',
    'int sum(int n) {',
    '  int s = 0;',
    '  for (int i = 0; i < n; i++)',
    '    s += twice(table[i & 15]);',
    '  return s;',
    '}',
    'int main(int argc, char **argv) {',
    '  (void)argv;',
    '  switch (argc) {',
    '  case 1: return sum(3);',
    '  case 2: return sum(5) + 1;',
    '  case 3: return 7;',
    '  default: return sum(argc);',
    '  }',
    '}',
  ].join('\n'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function instructionAddresses(file: string): number[] {
  const out = execFileSync('objdump', ['-d', '-w', '--no-show-raw-insn', '-j', '.text', file], { encoding: 'utf8' });
  return [...out.matchAll(/^\s*([0-9a-f]+):\t/gm)].map((m) => parseInt(m[1]!, 16));
}

/** Line lookup from objdump's decoded rows: the last row at or before the address in its sequence. */
function objdumpLines(file: string): (address: number) => string | undefined {
  const out = execFileSync('objdump', ['--dwarf=decodedline', file], { encoding: 'utf8', maxBuffer: 1 << 26 });
  const sequences: { rows: { address: number; text: string }[]; end: number }[] = [];
  let rows: { address: number; text: string }[] = [];
  for (const line of out.split('\n')) {
    const m = /^(\S+)\s+(\d+|-)\s+(0x[0-9a-f]+|\d+)(?:\s+\d+)?(?:\s+x)?\s*$/.exec(line);
    if (!m) continue;
    const address = parseInt(m[3]!, m[3]!.startsWith('0x') ? 16 : 10);
    if (m[2] === '-') {
      if (rows.length > 0) sequences.push({ rows, end: address });
      rows = [];
    } else {
      rows.push({ address, text: `${m[1]!.replace(/^.*\//, '')}:${m[2]}` });
    }
  }
  return (address) => {
    for (const s of sequences) {
      if (address < s.rows[0]!.address || address >= s.end) continue;
      let found: string | undefined;
      for (const r of s.rows) if (r.address <= address) found = r.text;
      return found;
    }
    return undefined;
  };
}

test.each([
  ['-m32', '-gdwarf-5', '-O2'],
  ['-m32', '-gdwarf-4', '-O2'],
  ['-m64', '-gdwarf-5', '-O1'],
  ['-m32', '-gdwarf-5', '-O0'],
])('gcc %s %s %s: source:line of every instruction matches objdump --dwarf=decodedline', (arch, dwarf, opt) => {
  const exe = join(dir, `prog${arch}${dwarf}${opt}`);
  execFileSync('gcc', [arch, dwarf, opt, '-fno-pie', '-no-pie', join(dir, 'prog.c'), '-o', exe], { cwd: dir });
  const elf = parseElf(readFileSync(exe), exe);
  const table = readLineTable(elf)!;
  expect(table).not.toBeNull();
  expect(table.rows).toBeGreaterThan(10);
  const addresses = instructionAddresses(exe);
  const reference = objdumpLines(exe);
  let known = 0;
  for (const a of addresses) {
    const mine = table.lookup(a);
    const text = mine ? `${mine.file.replace(/^.*\//, '')}:${mine.line}` : 'none';
    const ref = reference(a);
    expect({ address: a.toString(16), line: text }).toEqual({ address: a.toString(16), line: ref ?? 'none' });
    if (mine && text.startsWith('prog.c:')) known++;
  }
  expect(known).toBeGreaterThan(10);
});

test('a file without .debug_line has no table', () => {
  const exe = join(dir, 'nodebug');
  execFileSync('gcc', ['-m32', '-O2', join(dir, 'prog.c'), '-o', exe], { cwd: dir });
  expect(readLineTable(parseElf(readFileSync(exe), exe))).toBeNull();
});
