// The ELF reader against readelf on real files: objects and executables from gcc -m32 and gcc -m64,
// binaries and libraries installed on the machine (nobody here wrote them).
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  parseElf, ElfError, generateAnnotateHeader,
} from '@previrt/linker';
import { compareWithReadelf } from './readelf.js';

const FIXTURE = fileURLToPath(new URL('../../../fixtures/linker/annotate-all.c', import.meta.url));

let work: string;
const corpus: string[] = [];

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'previrt-elf-'));
  mkdirSync(join(work, 'include/previrt'), { recursive: true });
  writeFileSync(join(work, 'include/previrt/annotate.h'), generateAnnotateHeader());
  const cc = (args: string[], out: string) => {
    execFileSync('gcc', [...args, '-I', join(work, 'include'), FIXTURE, '-o', join(work, out)], { stdio: 'pipe' });
    corpus.push(join(work, out));
  };
  cc(['-m32', '-O2', '-g', '-c', '-ffunction-sections'], 'obj32.o');
  cc(['-m64', '-O2', '-g', '-c'], 'obj64.o');
  cc(['-m32', '-O2', '-g'], 'exe32');
  cc(['-m32', '-O2', '-static'], 'static32');
  cc(['-m64', '-O2', '-pie', '-fpie'], 'pie64');
  for (const f of ['/usr/bin/ls', '/usr/bin/as', '/usr/lib/x86_64-linux-gnu/libc.so.6', '/usr/lib32/libc.so.6',
    '/usr/lib32/crt1.o', '/usr/lib/x86_64-linux-gnu/crt1.o']) {
    if (existsSync(f)) corpus.push(f);
  }
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

const hex = (n: number) => n.toString(16);

describe('parseElf against readelf', () => {
  test('the corpus holds objects, executables and libraries of both classes', () => {
    const kinds = corpus.map((f) => {
      const e = parseElf(readFileSync(f), f);
      return `${e.header.bits}:${e.header.type}`;
    });
    for (const k of ['32:1', '64:1', '32:2', '32:3', '64:3']) expect(kinds).toContain(k);
  });

  test('headers, sections, segments, symbols, relocations and notes match readelf -W', () => {
    expect(corpus.length).toBeGreaterThanOrEqual(5);
    for (const file of corpus) {
      const elf = parseElf(readFileSync(file), file);
      try {
        compareWithReadelf(file, elf);
      } catch (err) {
        throw new Error(`${file}: ${(err as Error).message}`);
      }
    }
  });

  test('REL implicit addends are read from the patched field', () => {
    const file = join(work, 'obj32.o');
    const elf = parseElf(readFileSync(file), file);
    const rel = elf.relocations.find((r) => r.section.name === '.rel.afterburn.pte-set')!;
    expect(rel.rela).toBe(false);
    // Each record's first word is the site's offset in its .text.* section; objdump -dr agrees.
    const dump = execFileSync('objdump', ['-d', '-r', '-j', rel.target!.name, file], { encoding: 'utf8' });
    expect(rel.entries.length).toBeGreaterThan(0);
    for (const e of rel.entries) {
      expect(e.typeName).toBe('R_386_32');
      expect(e.addend).not.toBeNull();
      expect(e.addend).toBe(new DataView(rel.target!.data.buffer, rel.target!.data.byteOffset).getInt32(e.offset, true));
    }
    expect(dump).toContain('.afterburn.pte-set');
  });

  test('symbolAt names addresses as objdump does', () => {
    const file = join(work, 'exe32');
    const elf = parseElf(readFileSync(file), file);
    const dump = execFileSync('objdump', ['-d', '-w', '--no-show-raw-insn', '-j', '.text', file], { encoding: 'utf8' });
    let checked = 0;
    for (const line of dump.split('\n')) {
      // Branch targets: "call   8049030 <puts@plt>" or "jmp 80491a5 <pte_set32+0x5>".
      const m = /\s([0-9a-f]+) <([^>+@]+)(?:\+0x([0-9a-f]+))?>$/.exec(line);
      if (!m) continue;
      const address = parseInt(m[1]!, 16);
      const section = elf.sectionAt(address);
      if (!section || section.name !== '.text') continue;
      const at = elf.symbolAt(address);
      expect(at && { name: at.name, offset: at.offset }).toEqual({ name: m[2], offset: m[3] ? parseInt(m[3], 16) : 0 });
      checked++;
    }
    expect(checked).toBeGreaterThan(5);
    const fn = elf.symbols.find((s) => s.name === 'mmio_write')!;
    expect(elf.symbolAt(fn.value + 3)).toEqual({ name: 'mmio_write', offset: 3, symbol: fn });
  });

  test('sections of a relocatable object are named per section index', () => {
    const file = join(work, 'obj32.o');
    const elf = parseElf(readFileSync(file), file);
    const text = elf.sectionByName('.text.pde_read')!;
    expect(elf.symbolAt(2, text.index)?.name).toBe('pde_read');
    expect(hex(text.data.length)).toBe(hex(text.size));
  });
});

describe('parseElf on malformed input', () => {
  const base = () => {
    const file = join(work, 'obj32.o');
    return new Uint8Array(readFileSync(file));
  };
  const expectElfError = (bytes: Uint8Array, pattern: RegExp) => {
    let caught: unknown;
    try {
      parseElf(bytes, 'broken.o');
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(ElfError);
    expect((caught as ElfError).message).toMatch(/^broken\.o: /);
    expect((caught as ElfError).message).toMatch(pattern);
  };

  test('empty file, bad magic, unknown class, big-endian', () => {
    expectElfError(new Uint8Array(0), /not an ELF file/);
    expectElfError(new TextEncoder().encode('#!/bin/sh\necho hi\n'), /bad magic/);
    const b = base();
    b[4] = 3;
    expectElfError(b, /unknown ELF class 3/);
    const c = base();
    c[5] = 2;
    expectElfError(c, /little-endian/);
  });

  test('truncated header and section table past the end', () => {
    expectElfError(base().subarray(0, 30), /ELF32 header .* runs past the end/);
    const b = base();
    const elf = parseElf(b, 'ok.o');
    expectElfError(b.subarray(0, elf.header.shoff + 10), /section header table .* runs past the end/);
  });

  test('a section whose data runs past the end of the file', () => {
    const b = base();
    const elf = parseElf(b, 'ok.o');
    const text = elf.sectionByName('.text.pde_read')!;
    const view = new DataView(b.buffer, b.byteOffset);
    view.setUint32(elf.header.shoff + text.index * 40 + 20, 0x7fffffff, true);
    expectElfError(b, new RegExp(`section \\[${text.index}\\] .* runs past the end of the file`));
  });

  test('a name outside the string table, a symbol table with the wrong entry size', () => {
    const b = base();
    const elf = parseElf(b, 'ok.o');
    const view = new DataView(b.buffer, b.byteOffset);
    view.setUint32(elf.header.shoff + 1 * 40, 0xffffff, true);
    expectElfError(b, /name of section \[1\].*outside string table/);
    const c = base();
    const symtab = elf.sectionByName('.symtab')!;
    new DataView(c.buffer, c.byteOffset).setUint32(elf.header.shoff + symtab.index * 40 + 36, 12, true);
    expectElfError(c, /symbol table .* entry size 12, expected 16/);
  });
});
