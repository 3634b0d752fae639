// The annotation header and the linker-script fragment against the real toolchain: compile a C file
// that uses every macro with gcc (i386 and x86_64), link it with GNU ld through the fragment, then
// read the record table with readelf and the code with objdump (independent of our own ELF reader).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, writeFileSync, rmSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MEMORY_OPERATION_KINDS, memoryOperationKindByName, siteLength } from '@previrt/isa';
import { generateAnnotateHeader, generateLinkerScript, annotationMacros } from '@previrt/linker';

const FIXTURE = fileURLToPath(new URL('../../../fixtures/linker/annotate-all.c', import.meta.url));

type Arch = 'i386' | 'x86_64';
const ARCHES: Arch[] = ['i386', 'x86_64'];

/** Kinds each function of the fixture must record, in address order (from the macros' contract). */
function expectedKinds(arch: Arch): Record<string, string[]> {
  return {
    pte_set32: ['pte-set'],
    pte_set64: arch === 'i386' ? ['pte-set', 'pte-set'] : ['pte-set'],
    pte_set_imm: ['pte-set'],
    pte_set_far: ['pte-set'],
    pte_read32: ['pte-read'],
    pte_read64: arch === 'i386' ? ['pte-read', 'pte-read'] : ['pte-read'],
    pte_test_and_clear: ['pte-test-and-clear'],
    pte_test_and_clear64: ['pte-test-and-clear'],
    pde_set: ['pde-set'],
    pde_read: ['pde-read'],
    mmio_read: ['mmio-read', 'mmio-read', 'mmio-read'],
    mmio_write: ['mmio-write', 'mmio-write', 'mmio-write', 'mmio-write'],
    excluded: [],
    main: [],
  };
}

/** The instruction each kind must be: a plain mov (any width) or lock btr, with a memory operand. */
function accessMatches(kind: string, mnemonic: string, operands: string): boolean {
  const memory = /\(|^-?0x[0-9a-f]+$|,-?0x[0-9a-f]+$|^-?0x[0-9a-f]+,/.test(operands);
  if (kind === 'pte-test-and-clear') return /^lock btr[lq]?$/.test(mnemonic) && memory;
  return /^mov[bwlq]?$/.test(mnemonic) && memory;
}

/** objdump's spellings of the NOPs gas emits for `.nops`. */
function isNopText(text: string): boolean {
  return /^(nop[wl]?\b|xchg\s+%ax,%ax$|data16|cs nopw|lea\s+0x0\(%[er]si(,%[er]iz,1)?\),%[er]si$|mov\s+%esi,%esi$)/.test(text);
}

interface ObjdumpInsn { address: number; length: number; text: string; mnemonic: string; operands: string }

function objdumpText(elf: string): { insns: ObjdumpInsn[]; functionAt: (a: number) => string | undefined } {
  const out = execFileSync('objdump', ['-d', '-w', '--no-show-raw-insn', elf], { encoding: 'utf8' });
  const raw = execFileSync('objdump', ['-d', '-w', elf], { encoding: 'utf8' });
  const lengths = new Map<number, number>();
  for (const line of raw.split('\n')) {
    const m = /^\s*([0-9a-f]+):\t((?:[0-9a-f]{2} )+)\s*\t?/.exec(line);
    if (m) lengths.set(parseInt(m[1]!, 16), m[2]!.trim().split(' ').length);
  }
  const insns: ObjdumpInsn[] = [];
  const functions: { start: number; name: string }[] = [];
  for (const line of out.split('\n')) {
    const f = /^([0-9a-f]+) <([^>]+)>:$/.exec(line);
    if (f) functions.push({ start: parseInt(f[1]!, 16), name: f[2]! });
    const m = /^\s*([0-9a-f]+):\t(.*)$/.exec(line);
    if (!m) continue;
    const address = parseInt(m[1]!, 16);
    const text = m[2]!.trim().replace(/\s+/g, ' ');
    const [mn, ...rest] = text.startsWith('lock ') ? ['lock ' + text.split(' ')[1], ...text.split(' ').slice(2)] : text.split(' ');
    insns.push({ address, length: lengths.get(address) ?? 0, text, mnemonic: mn!, operands: rest.join(' ') });
  }
  const functionAt = (a: number) => [...functions].reverse().find((f) => f.start <= a)?.name;
  return { insns, functionAt };
}

function readelfRecords(elf: string, arch: Arch): { address: number; insnLen: number; siteLen: number; kind: number }[] {
  const dump = execFileSync('readelf', ['-x', '.afterburn', elf], { encoding: 'utf8' });
  const bytes: number[] = [];
  for (const line of dump.split('\n')) {
    const m = /^\s+0x[0-9a-f]+ ((?:[0-9a-f]{2,8} ?){1,4})/.exec(line);
    if (!m) continue;
    for (const word of m[1]!.trim().split(' ')) for (let i = 0; i < word.length; i += 2) bytes.push(parseInt(word.slice(i, i + 2), 16));
  }
  const size = arch === 'x86_64' ? 16 : 8;
  const b = Buffer.from(bytes);
  const records = [];
  for (let at = 0; at + size <= b.length; at += size) {
    if (arch === 'x86_64') {
      expect(b.readUInt32LE(at + 12)).toBe(0);
      records.push({ address: Number(b.readBigUInt64LE(at)), insnLen: b[at + 8]!, siteLen: b[at + 9]!, kind: b.readUInt16LE(at + 10) });
    } else {
      records.push({ address: b.readUInt32LE(at), insnLen: b[at + 4]!, siteLen: b[at + 5]!, kind: b.readUInt16LE(at + 6) });
    }
  }
  expect(records.length * size).toBe(b.length);
  return records;
}

function symbolValue(elf: string, name: string): number {
  const out = execFileSync('nm', [elf], { encoding: 'utf8' });
  const m = new RegExp(`^([0-9a-f]+) \\w ${name}$`, 'm').exec(out);
  if (!m) throw new Error(`${name} missing from ${elf}`);
  return parseInt(m[1]!, 16);
}

function sectionHeader(elf: string, name: string): { addr: number; size: number; flags: string; align: number } {
  const out = execFileSync('readelf', ['-S', '-W', elf], { encoding: 'utf8' });
  const line = out.split('\n').find((l) => l.includes(` ${name} `));
  if (!line) throw new Error(`section ${name} missing`);
  const f = line.replace(/^.*\]\s*/, '').trim().split(/\s+/);
  // name type addr off size es flags lk inf al
  return { addr: parseInt(f[2]!, 16), size: parseInt(f[4]!, 16), flags: f[6]!, align: parseInt(f[9]!, 10) };
}

let work: string;
beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'previrt-header-'));
  mkdirSync(join(work, 'include/previrt'), { recursive: true });
  writeFileSync(join(work, 'include/previrt/annotate.h'), generateAnnotateHeader());
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('previrt/annotate.h', () => {
  test('is generated from the catalogue: every kind has its id, site size and macro', () => {
    const text = generateAnnotateHeader();
    for (const { kind, macros } of annotationMacros()) {
      expect(text).toContain(`.afterburn.${kind.name}, "a"`);
      expect(text).toContain(`.short 0x${kind.id.toString(16)}`);
      for (const m of macros) expect(text).toMatch(new RegExp(`#define ${m}\\(`));
    }
    expect(annotationMacros().map((m) => m.kind.id)).toEqual(MEMORY_OPERATION_KINDS.map((k) => k.id));
    for (const m of ['PV_PTE_SET', 'PV_PTE_READ', 'PV_PTE_TEST_AND_CLEAR', 'PV_PDE_SET', 'PV_PDE_READ',
      'PV_MMIO_READ', 'PV_MMIO_WRITE', 'PV_MMIO_READ8', 'PV_MMIO_READ16', 'PV_MMIO_WRITE8', 'PV_MMIO_WRITE16',
      'PV_NO_AFTERBURN_BEGIN', 'PV_NO_AFTERBURN_END']) {
      expect(text).toMatch(new RegExp(`#define ${m}\\b`));
    }
  });

  test.each(ARCHES)('%s: every macro is one access instruction plus NOPs, recorded with its kind and lengths', (arch) => {
    const dir = join(work, arch);
    mkdirSync(dir, { recursive: true });
    const obj = join(dir, 'annotate-all.o');
    const elf = join(dir, 'annotate-all.elf');
    const script = join(dir, 'link.ld');
    writeFileSync(join(dir, 'afterburn.ld'), generateLinkerScript(arch));
    writeFileSync(script, [
      'ENTRY(main)',
      'SECTIONS {',
      '  . = 0x100000;',
      '  .text : { *(.text .text.*) }',
      '  .rodata : { *(.rodata .rodata.*) }',
      `  INCLUDE ${join(dir, 'afterburn.ld')}`,
      '  .data : { *(.data .data.* .bss .bss.* COMMON) }',
      '  /DISCARD/ : { *(.eh_frame .note.* .comment) }',
      '}',
    ].join('\n'));
    execFileSync('gcc', [arch === 'i386' ? '-m32' : '-m64', '-O2', '-Wall', '-Wextra', '-Werror', '-fno-pic',
      '-I', join(work, 'include'), '-c', FIXTURE, '-o', obj]);
    execFileSync('ld', ['-m', arch === 'i386' ? 'elf_i386' : 'elf_x86_64', '-T', script, obj, '-o', elf]);

    const table = sectionHeader(elf, '.afterburn');
    expect(table.flags).toBe('A');
    expect(table.align).toBe(arch === 'i386' ? 4 : 8);
    expect(symbolValue(elf, '__afterburn_start')).toBe(table.addr);
    expect(symbolValue(elf, '__afterburn_end')).toBe(table.addr + table.size);

    const records = readelfRecords(elf, arch);
    const { insns, functionAt } = objdumpText(elf);
    const byAddress = new Map(insns.map((i) => [i.address, i]));
    const found: Record<string, string[]> = {};
    for (const r of [...records].sort((a, b) => a.address - b.address)) {
      const kind = MEMORY_OPERATION_KINDS.find((k) => k.id === r.kind);
      expect(kind).toBeDefined();
      const insn = byAddress.get(r.address);
      expect(insn).toBeDefined();
      expect({ at: r.address, text: insn!.text, ok: accessMatches(kind!.name, insn!.mnemonic, insn!.operands) })
        .toEqual({ at: r.address, text: insn!.text, ok: true });
      expect(r.insnLen).toBe(insn!.length);
      expect(r.siteLen).toBe(siteLength(kind!.siteSize, insn!.length, arch === 'i386' ? 32 : 64));
      // The bytes after the instruction up to the end of the site are whole NOP instructions.
      let at = r.address + r.insnLen;
      while (at < r.address + r.siteLen) {
        const pad = byAddress.get(at);
        expect(pad && isNopText(pad.text) ? 'nop' : `${pad?.text} at 0x${at.toString(16)}`).toBe('nop');
        at += pad!.length;
      }
      expect(at).toBe(r.address + r.siteLen);
      const fn = functionAt(r.address)!;
      (found[fn] ??= []).push(kind!.name);
    }
    const expected = expectedKinds(arch);
    for (const [fn, kinds] of Object.entries(expected)) expect({ fn, kinds: found[fn] ?? [] }).toEqual({ fn, kinds });
    expect(Object.keys(found).filter((f) => !(f in expected))).toEqual([]);
    for (const name of Object.values(expected).flat()) expect(memoryOperationKindByName(name)).toBeDefined();
  });

  test.each(ARCHES)('%s: the exclusion markers and a .S site assemble; the markers change no byte', (arch) => {
    const dir = join(work, `${arch}-S`);
    mkdirSync(dir, { recursive: true });
    const flag = arch === 'i386' ? '-m32' : '-m64';
    const reg = arch === 'i386' ? '%ebx' : '%rbx';
    writeFileSync(join(dir, 'with.S'), `#include <previrt/annotate.h>\n.text\nf:\nPV_NO_AFTERBURN_BEGIN\ncli\nPV_NO_AFTERBURN_END\nPV_ASM_PTE_SET(movl %eax, (${reg}))\nret\n`);
    writeFileSync(join(dir, 'plain.S'), `.text\nf:\ncli\n7741: ; movl %eax, (${reg}) ; 7742: ; .nops 8 - (7742b - 7741b) ; 7743: ; .pushsection .afterburn.pte-set, "a" ; .balign ${arch === 'i386' ? 4 : 8} ; ${arch === 'i386' ? '.long' : '.quad'} 7741b ; .byte 7742b - 7741b, 7743b - 7741b ; .short 0x101 ${arch === 'i386' ? '' : '; .long 0'} ; .popsection\nret\n`);
    for (const f of ['with', 'plain']) {
      execFileSync('gcc', [flag, '-I', join(work, 'include'), '-c', join(dir, `${f}.S`), '-o', join(dir, `${f}.o`)]);
    }
    const strip = (f: string) => {
      execFileSync('objcopy', ['--strip-all', '-R', '.note.gnu.property', join(dir, `${f}.o`), join(dir, `${f}.s.o`)]);
      return readFileSync(join(dir, `${f}.s.o`));
    };
    expect(strip('with').equals(strip('plain'))).toBe(true);
  });
});

describe('linker-script fragment', () => {
  test.each(ARCHES)('%s: gathers .afterburn and .afterburn.* between the start and end symbols', (arch) => {
    const text = generateLinkerScript(arch);
    expect(text).toMatch(/^\.afterburn : ALIGN\((4|8)\) \{$/m);
    expect(text).toContain(`ALIGN(${arch === 'i386' ? 4 : 8})`);
    expect(text).toContain('KEEP(*(.afterburn))');
    expect(text).toMatch(/KEEP\(\*\(SORT_BY_NAME\(\.afterburn\.\*\)\)\)/);
    expect(text.indexOf('__afterburn_start')).toBeLessThan(text.indexOf('KEEP(*('));
    expect(text.lastIndexOf('__afterburn_end')).toBeGreaterThan(text.lastIndexOf('KEEP(*('));
  });
});
