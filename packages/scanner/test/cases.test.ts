// The scanner on the hand-written fixtures in fixtures/lint/cases: each file's findings (position,
// severity, rule, kind, suppression, whether a fix is offered) must equal its hand-checked
// `.expected` file, with the native tree-sitter binding and with the wasm fallback alike.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  applyTreeFacts, compileConfig, defaultConfig, loadCParser, scanSource, treeFacts, type CParser, type FileScan,
} from '@previrt/scanner';

const root = join(dirname(fileURLToPath(import.meta.url)), '../../..');
const casesDir = join(root, 'fixtures/lint/cases');
const cases = readdirSync(casesDir).filter((f) => /\.(c|S)$/.test(f)).sort();

function lines(scan: FileScan): string[] {
  return scan.findings.map((f) => `${f.line}:${f.column}: ${f.severity}: ${f.rule} ${f.kind}`
    + `${f.suppressed ? ` suppressed=${f.suppressed}` : ''}${f.fix ? ' fix' : ''}`);
}

const parsers: Record<string, CParser> = {};
beforeAll(async () => {
  parsers.native = await loadCParser('native');
  parsers.wasm = await loadCParser('wasm');
});

test('the fixture set covers every kind of case', () => {
  expect(cases).toEqual(['asm.c', 'entry.S', 'fixable.c', 'mmio.c', 'pagetable.c', 'suppress.c']);
});

describe.each(['native', 'wasm'])('with the %s parser', (backend) => {
  test('loads the binding it was asked for', () => {
    expect(parsers[backend]!.backend).toBe(backend);
  });

  test.each(cases)('%s matches its expectation file', (name) => {
    const text = readFileSync(join(casesDir, name), 'utf8');
    const cc = compileConfig(defaultConfig());
    const scan = scanSource(name, text, parsers[backend]!, cc);
    const expected = readFileSync(join(casesDir, `${name}.expected`), 'utf8').trimEnd().split('\n');
    expect(lines(scan)).toEqual(expected);
  });
});

test('a finding spans the access it names and its message says which macro annotates it', async () => {
  const text = readFileSync(join(casesDir, 'pagetable.c'), 'utf8');
  const scan = scanSource('pagetable.c', text, parsers.native!, compileConfig(defaultConfig()));
  const store = scan.findings.find((f) => f.line === 32)!;
  expect(text.slice(store.start, store.end)).toBe('pt[(va >> 12) & 1023]');
  expect(store.message).toContain('PV_PTE_SET');
  expect(store.fix!.edits).toEqual([expect.objectContaining({ text: 'PV_PTE_SET(&pt[(va >> 12) & 1023], pa | 3)' })]);
  const rmw = scan.findings.find((f) => f.line === 33)!;
  expect(rmw.fix!.edits[0]!.text).toBe('PV_PDE_SET(&kernel_pgdir[va >> 22], PV_PDE_READ(&kernel_pgdir[va >> 22]) | 1)');
  const read = scan.findings.find((f) => f.line === 49)!;
  expect(read.fix!.edits[0]!.text).toBe('PV_PTE_READ(lookup_pte(pgdir, va))');
  // The include goes after the file's last #include.
  expect(scan.includeEdit).toEqual(expect.objectContaining({ text: '#include <previrt/annotate.h>\n' }));
  expect(text.slice(0, scan.includeEdit!.start).endsWith('#include "lint-types.h"\n')).toBe(true);
});

test('a tree that defines readl/writel with annotations makes their calls annotated sites; struct entries get no whole-entry fix', async () => {
  const dir = join(root, 'fixtures/lint/crossfile');
  const cc = compileConfig(defaultConfig());
  const scans = ['include/io.h', 'src/driver.c'].map((f) => scanSource(f, readFileSync(join(dir, f), 'utf8'), parsers.native!, cc));
  expect(scans[0]!.annotatedDefinitions).toEqual(['readl', 'writel']);
  expect(scans[0]!.structEntryTypes).toEqual(['pte_t']);
  // Alone, driver.c reports its readl/writel calls ...
  expect(scans[1]!.findings.map((f) => `${f.line}:${f.rule}:${f.accessor ?? ''}`)).toEqual([
    '7:mmio-write:writel', '7:mmio-read:readl', '8:mmio-read:ioread32', '9:pte-set:', '10:pte-set:',
  ]);
  // ... with the whole tree, only what really is unannotated remains.
  const facts = treeFacts(scans);
  const driver = applyTreeFacts(scans[1]!, facts);
  expect(driver.findings.map((f) => `${f.line}:${f.rule}:${f.fix ? 'fix' : 'nofix'}`)).toEqual(['8:mmio-read:nofix', '9:pte-set:nofix', '10:pte-set:fix']);
  expect(driver.findings[1]!.message).toContain('pte_t is a struct');
});

test('rules can be switched off or given another severity in the configuration', () => {
  const config = defaultConfig();
  config.rules['asm-sensitive'] = 'off';
  config.rules['builtin-sensitive'] = 'error';
  const text = readFileSync(join(casesDir, 'asm.c'), 'utf8');
  const scan = scanSource('asm.c', text, parsers.native!, compileConfig(config));
  expect(scan.findings.some((f) => f.rule === 'asm-sensitive')).toBe(false);
  expect(scan.findings.filter((f) => f.rule === 'builtin-sensitive').map((f) => f.severity)).toEqual(['error', 'error', 'error']);
});

test('configured entry types and setters replace the defaults', () => {
  const config = defaultConfig();
  config.pageTable.pteTypes = ['my_pte'];
  config.pageTable.pteSetters = ['put_entry'];
  const text = [
    'typedef unsigned my_pte;',
    'void put_entry(my_pte *p, unsigned v) { *p = v; }',
    'void other(pte_t *q) { *q = 1; }',
    '#define put_entry_fast(p, v) (*(p) = (v))',
    '',
  ].join('\n');
  const scan = scanSource('t.c', text, parsers.native!, compileConfig(config));
  expect(scan.findings.map((f) => `${f.line}:${f.column}:${f.rule}`)).toEqual(['2:41:pte-set']);
});

test('volatile pointer parameters are generic code (not reported) unless the configuration asks for them', () => {
  const text = 'void set_bit_v(int nr, volatile unsigned long *addr) { *addr |= 1ul << nr; }\n';
  const off = scanSource('t.c', text, parsers.native!, compileConfig(defaultConfig()));
  expect(off.findings).toEqual([]);
  const config = defaultConfig();
  config.mmio.volatileParameters = true;
  const on = scanSource('t.c', text, parsers.native!, compileConfig(config));
  expect(on.findings.map((f) => `${f.line}:${f.column}:${f.rule}`)).toEqual(['1:56:mmio-write']);
});

test('bytes that are no instruction in the current mode stop the decoding of a run', () => {
  // 66 0f 01 cf is seamcall in 64-bit mode and (bad) in 32-bit mode: the cf after it is not an iret.
  const text = 'void f(void) { asm volatile(".byte 0x66,0x0f,0x01,0xcf"); }\n';
  expect(scanSource('t.c', text, parsers.native!, compileConfig(defaultConfig())).findings).toEqual([]);
});

test('comments between arguments do not shift them (found on Linux: ixp4xx_eth.c)', () => {
  const text = 'void writel(unsigned v, volatile void *a);\nvoid f(volatile void *r, unsigned x) {\n\twritel(x | 0x80 /* GO */,\n\t       r + 4);\n}\n';
  const scan = scanSource('t.c', text, parsers.native!, compileConfig(defaultConfig()));
  expect(scan.findings.map((f) => f.fix?.edits[0]!.text)).toEqual(['PV_MMIO_WRITE(r + 4, x | 0x80 /* GO */)']);
});

test('asm templates built by a macro of another file are expanded at each use (notes only)', async () => {
  const { expandTemplateMacroUses } = await import('@previrt/scanner');
  const header = [
    '#define PROBE(insn, ...) ({ probe(); asm volatile("1:\\t" insn "\\n2:" __VA_ARGS__); })',
    '#define write_dr(n, v) asm volatile("movl %0, %%db" #n : : "r"(v))',
    '',
  ].join('\n');
  const user = 'void f(void) {\n\tPROBE("rdpmc", : : : "memory");\n\tPROBE("movl %0, %%ss", : : "r"(0));\n\tPROBE("nop");\n\twrite_dr(7, 0);\n}\n';
  const cc = compileConfig(defaultConfig());
  const scans = [scanSource('probe.h', header, parsers.native!, cc), scanSource('user.c', user, parsers.native!, cc)];
  expect(scans[0]!.templateMacros!.map((m) => [m.name, m.line, m.localUses])).toEqual([['PROBE', 1, false], ['write_dr', 2, false]]);
  expect(scans[1]!.findings).toEqual([]);
  expandTemplateMacroUses(scans, (i) => [header, user][i]!, parsers.native!, defaultConfig());
  expect(scans[1]!.findings.map((f) => `${f.line}:${f.column} ${f.rule} ${f.kind}`)).toEqual([
    '2:2 asm-sensitive rdpmc', '3:2 asm-sensitive mov-to-segment', '5:2 asm-sensitive mov-to-dr',
  ]);
  expect(scans[1]!.findings[2]!.message).toContain('(template of macro write_dr, probe.h:2)');
});

test('a popf in inline asm is told about PV_IRQ_RESTORE; other instructions are not', () => {
  const src = 'void r(unsigned long f) { asm volatile("pushl %0 ; popfl" : : "g"(f) : "memory", "cc"); asm volatile("cli"); }\n';
  const scan = scanSource('r.c', src, parsers.native!, compileConfig(defaultConfig()));
  const byKind = Object.fromEntries(scan.findings.map((f) => [f.kind, f.message]));
  expect(Object.keys(byKind).sort()).toEqual(['cli', 'popf']);
  expect(byKind.popf).toMatch(/PV_IRQ_RESTORE\(flags\) of previrt\/annotate\.h/);
  expect(byKind.cli).not.toMatch(/PV_IRQ_RESTORE/);
});
