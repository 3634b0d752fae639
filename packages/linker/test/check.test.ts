// `previrt check` over images assembled by GNU as and linked by ld: a clean image, the same image
// built plainly (every site uncovered), and hand-made broken records, each with its problem.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseElf, checkElf, formatCheckText, inspectElf, type CheckResult } from '@previrt/linker';
import { attNeedsSite, classifyAtt, sensitiveClassByName, splitAttOperands } from '@previrt/isa';
import { buildCheckFixture, buildCheckFixture64 } from './check-fixture.js';
import { mkdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { generateAnnotateHeader, generateLinkerScript } from '@previrt/linker';

let dir: string;
beforeAll(() => { dir = mkdtempSync(join(tmpdir(), 'previrt-check-')); });
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function check(variant: number | 'plain'): { file: string; result: CheckResult } {
  const file = buildCheckFixture(dir, variant);
  return { file, result: checkElf(parseElf(readFileSync(file), file)) };
}

/** Address of a symbol per nm. */
function nmAddress(file: string, name: string): number {
  const m = new RegExp(`^([0-9a-f]+) \\w ${name}$`, 'm').exec(execFileSync('nm', [file], { encoding: 'utf8' }));
  if (!m) throw new Error(`no ${name} in ${file}`);
  return parseInt(m[1]!, 16);
}

/**
 * Sensitive instructions (of classes that need a site) objdump shows inside the functions of an image
 * (not in data or fill), classified from objdump's AT&T text by the catalogue's text rules.
 */
function objdumpSensitive(file: string): { address: number; mnemonic: string }[] {
  const out = execFileSync('objdump', ['-d', '-w', '--no-show-raw-insn', '-j', '.text', file], { encoding: 'utf8' });
  const found: { address: number; mnemonic: string }[] = [];
  let inFunction = false;
  for (const line of out.split('\n')) {
    const f = /^[0-9a-f]+ <([^>]+)>:$/.exec(line);
    if (f) inFunction = ['_start', 'work', 'defects'].includes(f[1]!);
    const m = /^\s*([0-9a-f]+):\t(\S+)\s*(.*)$/.exec(line);
    if (!m || !inFunction) continue;
    const [mnemonic, operands] = [m[2]!, m[3]!.replace(/\s+#.*$/, '')];
    const cls = classifyAtt(mnemonic, splitAttOperands(operands));
    // What needs a site: a class that must be handled, in a form some back end rewrites (not rdtsc).
    if (cls && attNeedsSite(cls, mnemonic, splitAttOperands(operands))) found.push({ address: parseInt(m[1]!, 16), mnemonic });
  }
  return found;
}

describe('previrt check on a hand-made kernel image', () => {
  test('the image built with records checks clean; data and fill in .text are not decoded as code', () => {
    const { file, result } = check(0);
    expect(formatCheckText(result)).toEqual([]);
    expect(result.uncovered).toEqual([]);
    expect(result.badRecords).toEqual([]);
    // cli sti hlt pushf popf out mov-to-cr in + one annotated memory operation; rdtsc's record is
    // one more, optional: every back end keeps rdtsc.
    expect(result.sites).toBe(9);
    expect(result.covered).toBe(9);
    expect(result.records).toBe(10);
    // int3 and ud2 in `work` need no site and are counted apart.
    expect(result.optionalUncovered).toBe(2);
    // The dispatch table (cli/sti/hlt/pushf bytes), the int3 fill and the unreachable tail are not code.
    const dispatch = nmAddress(file, 'dispatch');
    expect(result.uncovered.some((u) => u.address >= dispatch)).toBe(false);
    const inspected = inspectElf(parseElf(readFileSync(file), file));
    expect(inspected.byKind).toMatchObject({ cli: 1, sti: 1, hlt: 1, pushf: 1, popf: 1, out: 1, 'mov-to-cr': 1, in: 1, rdtsc: 1, 'pte-set': 1 });
    expect(inspected.records.find((r) => r.kind === 'cli')).toMatchObject({ symbol: '_start', offset: 0, instruction: 'cli', insnLen: 1, siteLen: 7 });
  });

  test('the same image built plainly reports every sensitive instruction objdump shows as uncovered', () => {
    const { file, result } = check('plain');
    expect(result.records).toBe(0);
    expect(result.badRecords).toEqual([]);
    const expected = objdumpSensitive(file);
    expect(expected.map((e) => e.mnemonic)).toEqual(['cli', 'sti', 'hlt', 'pushf', 'popf', 'out', 'mov', 'in']);
    expect(result.uncovered.map((u) => ({ address: u.address, mnemonic: u.mnemonic }))).toEqual(expected);
    expect(result.covered).toBe(0);
    const work = nmAddress(file, 'work');
    const out = result.uncovered.find((u) => u.kind === 'out')!;
    expect(out).toMatchObject({ symbol: 'work', offset: out.address - work });
    // as -g gives line info: the source line of each instruction.
    expect(out.source).toMatch(/kernel\.s:\d+$/);
  });

  test.each([
    [1, 'a record pointing one byte off', /record points 1 byte past the cli at 0x[0-9a-f]+/, 1],
    [2, 'a pad too short', new RegExp(`pad too short: site_len 6, sti needs ${sensitiveClassByName('sti')!.siteSize} bytes`), 0],
    [3, 'an overlapping pair', /site overlaps the site at 0x[0-9a-f]+ \(cli, 10 bytes\)/, 0],
    [5, 'a record of the wrong kind', /record kind sti but the instruction is cli \(cli\)/, 0],
    [6, 'a pad that is not NOPs', /pad byte at 0x[0-9a-f]+ is not a NOP \(inc %eax\)/, 0],
    [7, 'two records for one site', /covered by 2 records .*expected exactly one/, 0],
    [8, 'a site straddling a symbol', /straddles the start of symbol straddled/, 0],
    [9, 'a record pointing into .rodata', /record points outside the executable sections \(into \.rodata\)/, 0],
    [10, 'a wrong insn_len', /insn_len 3 but the instruction \(out %al,\$0x80\) is 2 bytes/, 0],
  ])('variant %d (%s) is reported with its problem', (variant, _what, problem, uncoveredCount) => {
    const { result } = check(variant);
    expect(result.badRecords.map((b) => b.problem)).toEqual(expect.arrayContaining([expect.stringMatching(problem)]));
    expect(result.uncovered.length).toBe(uncoveredCount);
    const text = formatCheckText(result).join('\n');
    expect(text).toMatch(/kernel-\d+\.elf: 0x[0-9a-f]+ <(defects|message)(\+0x[0-9a-f]+)?>/);
  });

  test('a raw .byte 0xfa cli inside a function is uncovered, with symbol, offset and source line', () => {
    const { file, result } = check(4);
    expect(result.badRecords).toEqual([]);
    expect(result.uncovered).toHaveLength(1);
    const u = result.uncovered[0]!;
    expect(u).toMatchObject({ mnemonic: 'cli', kind: 'cli', symbol: 'work' });
    expect(u.address - nmAddress(file, 'work')).toBe(u.offset);
    // GNU as gives no line row to `.byte`: the reference is addr2line, which reads the same DWARF.
    const ref = execFileSync('addr2line', ['-e', file, `0x${u.address.toString(16)}`], { encoding: 'utf8' }).trim();
    expect(u.source).toBe(ref);
    expect(formatCheckText(result)[0]).toBe(`${file}: 0x${u.address.toString(16)} <work+0x${u.offset.toString(16)}> ${u.source}: cli (cli) is not covered by a record`);
  });

  test('an instruction recorded in .afterburn_excluded is listed as excluded, not uncovered', () => {
    const { file, result } = check(11);
    expect(result.uncovered).toEqual([]);
    expect(result.badRecords).toEqual([]);
    expect(result.excluded).toEqual([expect.objectContaining({ mnemonic: 'cli', kind: 'cli', symbol: 'defects', reason: expect.stringMatching(/exclusion markers/) })]);
    // The excluded table is not loaded and not between the loader's symbols.
    const sections = execFileSync('readelf', ['-S', '-W', file], { encoding: 'utf8' });
    expect(sections).toMatch(/\.afterburn_excluded\s+PROGBITS\s+00000000 [0-9a-f]+ 000008 00\s+0/);
  });

  test('a relocatable object is checked through its relocations, like the image it links into', () => {
    for (const [variant, uncovered, bad] of [[0, 0, 0], ['plain', 8, 0], [4, 1, 0], [5, 0, 1]] as const) {
      buildCheckFixture(dir, variant);
      const obj = join(dir, `kernel-${variant}.o`);
      const r = checkElf(parseElf(readFileSync(obj), obj));
      expect({ variant, uncovered: r.uncovered.length, bad: r.badRecords.length }).toEqual({ variant, uncovered, bad });
    }
    const r = checkElf(parseElf(readFileSync(join(dir, 'kernel-0.o')), 'kernel-0.o'));
    expect(r.records).toBe(10);
    expect(r.covered).toBe(9);
  });

  test('exclusions by symbol and by section take instructions out of the verdict and list them', () => {
    const { file } = check('plain');
    const elf = parseElf(readFileSync(file), file);
    const bySymbol = checkElf(elf, { excludeSymbols: ['work'] });
    expect(bySymbol.uncovered.every((u) => u.symbol !== 'work')).toBe(true);
    // rdtsc (in work) needs no site: every back end keeps it, so it is neither uncovered nor excluded.
    expect(bySymbol.excluded.length).toBe(5);
    expect(bySymbol.excluded.every((e) => e.reason === 'symbol work is excluded')).toBe(true);
    const bySection = checkElf(elf, { excludeSections: ['.text'] });
    expect(bySection.uncovered).toEqual([]);
    expect(bySection.excluded.length).toBe(8);
    const byPrefix = checkElf(elf, { excludeSymbols: ['_st*', 'wo*'] });
    expect(byPrefix.uncovered).toEqual([]);
  });
});

describe('previrt check on x86-64', () => {
  test('an ELF64 image with records checks clean; built plainly, each sensitive instruction is uncovered', () => {
    const file = buildCheckFixture64(dir, false);
    const result = checkElf(parseElf(readFileSync(file), file));
    expect(formatCheckText(result)).toEqual([]);
    expect(result.records).toBe(9);
    expect(result.covered).toBe(9);
    expect(result.optionalUncovered).toBe(1); // syscall
    const plain = buildCheckFixture64(dir, true);
    const p = checkElf(parseElf(readFileSync(plain), plain));
    expect(p.uncovered.map((u) => u.kind)).toEqual(['cli', 'swapgs', 'mov-to-cr', 'wrmsr', 'sysret', 'pushf', 'popf', 'in']);
  });
});

describe('previrt check on code using previrt/annotate.h', () => {
  test.each(['i386', 'x86_64'] as const)('%s: every annotated access is a correct site', (arch) => {
    const work = join(dir, `annotate-${arch}`);
    mkdirSync(join(work, 'include/previrt'), { recursive: true });
    writeFileSync(join(work, 'include/previrt/annotate.h'), generateAnnotateHeader());
    writeFileSync(join(work, 'afterburn.ld'), generateLinkerScript(arch));
    writeFileSync(join(work, 'link.ld'), 'ENTRY(main)\nSECTIONS {\n . = 0x100000;\n .text : { *(.text .text.*) }\n .rodata : { *(.rodata*) }\n INCLUDE afterburn.ld\n .data : { *(.data* .bss* COMMON) }\n /DISCARD/ : { *(.eh_frame .note.* .comment) }\n}\n');
    const source = fileURLToPath(new URL('../../../fixtures/linker/annotate-all.c', import.meta.url));
    execFileSync('gcc', [arch === 'i386' ? '-m32' : '-m64', '-O2', '-g', '-fno-pic', '-I', join(work, 'include'), '-c', source, '-o', join(work, 'a.o')]);
    execFileSync('ld', ['-m', arch === 'i386' ? 'elf_i386' : 'elf_x86_64', '-T', 'link.ld', '-L', work, 'a.o', '-o', 'a.elf'], { cwd: work });
    const result = checkElf(parseElf(readFileSync(join(work, 'a.elf')), 'a.elf'));
    expect(result.badRecords).toEqual([]);
    expect(result.uncovered).toEqual([]);
    expect(result.records).toBe(arch === 'i386' ? 19 : 17);
    expect(result.covered).toBe(result.records);
  });
});

describe('previrt check on 16-bit code', () => {
  test('a .code16 object checks clean with mode 16 and not as 32-bit code', () => {
    const src = join(dir, 'real.s');
    writeFileSync(src, [
      '.code16', '.text', '.globl rm_entry', '.type rm_entry, @function', 'rm_entry:',
      // 16-bit NOPs: lea 0x0(%si),%si (8d 74 00) and nop, up to each class's site size.
      '771: cli', '772: .byte 0x8d, 0x74, 0x00', `.fill ${sensitiveClassByName('cli')!.siteSize - 4}, 1, 0x90`, '773:',
      '.pushsection .afterburn, "a"', '.balign 4', '.long 771b', '.byte 772b - 771b, 773b - 771b', `.short ${sensitiveClassByName('cli')!.id}`, '.popsection',
      '774: outw %ax, $0x80', '775: .byte 0x8d, 0x74, 0x00', `.fill ${sensitiveClassByName('out')!.siteSize - 5}, 1, 0x90`, '776:',
      '.pushsection .afterburn, "a"', '.balign 4', '.long 774b', '.byte 775b - 774b, 776b - 774b', `.short ${sensitiveClassByName('out')!.id}`, '.popsection',
      'ret', '.size rm_entry, . - rm_entry',
    ].join('\n') + '\n');
    execFileSync('as', ['--32', src, '-o', join(dir, 'real.o')]);
    const elf = parseElf(readFileSync(join(dir, 'real.o')), 'real.o');
    const as16 = checkElf(elf, { mode: 16 });
    expect(formatCheckText(as16)).toEqual([]);
    expect(as16.covered).toBe(2);
    const as32 = checkElf(elf);
    expect(as32.badRecords.length).toBeGreaterThan(0);
  });
});
