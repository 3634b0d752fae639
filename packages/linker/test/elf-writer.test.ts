// The ELF writer: read-then-write gives the same bytes on real files; the structured encoders
// reproduce the sections they were read from; an appended section is seen by readelf and the
// program still runs.
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  parseElf, toImage, writeElf, appendSection, encodeSymbols, encodeRelocations, encodeNotes, exactValue,
  StringTableBuilder, SHT_NOTE, SHT_PROGBITS, SHT_STRTAB, SHT_REL, SHT_RELA,
} from '@previrt/linker';
import { refSections } from './readelf.js';

let work: string;
const corpus: string[] = [];

/** Up to `limit` ELF files of a directory, smallest first (keeps the test quick), files nobody here wrote. */
function elfFilesIn(dir: string, limit: number, maxBytes: number): string[] {
  if (!existsSync(dir)) return [];
  const files: { path: string; size: number }[] = [];
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name);
    try {
      const st = statSync(path);
      if (!st.isFile() || st.size < 64 || st.size > maxBytes) continue;
      const head = readFileSync(path).subarray(0, 4);
      if (head[0] === 0x7f && head[1] === 0x45 && head[2] === 0x4c && head[3] === 0x46) files.push({ path, size: st.size });
    } catch {
      // unreadable entries are skipped
    }
  }
  // Spread over sizes: every k-th file.
  const step = Math.max(1, Math.floor(files.length / limit));
  return files.filter((_, i) => i % step === 0).slice(0, limit).map((f) => f.path);
}

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'previrt-elfw-'));
  writeFileSync(join(work, 'hello.c'), '#include <stdio.h>\nint counter = 3;\nint main(void) { printf("hello %d\\n", counter); return 0; }\n');
  for (const [flags, out] of [[['-m32', '-O2', '-g', '-no-pie'], 'hello32'], [['-m32', '-c', '-O2'], 'hello32.o'], [['-m64', '-c', '-g'], 'hello64.o'], [['-m64', '-O2'], 'hello64']] as const) {
    execFileSync('gcc', [...flags, join(work, 'hello.c'), '-o', join(work, out)]);
    corpus.push(join(work, out));
  }
  // An x86-64 image at kernel addresses: fields beyond 2^53.
  writeFileSync(join(work, 'high.s'), '.text\n.globl _start\n_start: nop\n.p2align 4\nf: ret\n.data\n.quad f\n');
  execFileSync('as', ['--64', join(work, 'high.s'), '-o', join(work, 'high.o')]);
  execFileSync('ld', ['-m', 'elf_x86_64', '-Ttext=0xffffffff81000123', join(work, 'high.o'), '-o', join(work, 'high')]);
  corpus.push(join(work, 'high'));
  corpus.push(...elfFilesIn('/usr/bin', 40, 4 << 20), ...elfFilesIn('/usr/lib/x86_64-linux-gnu', 15, 4 << 20), ...elfFilesIn('/usr/lib32', 15, 4 << 20));
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('writeElf', () => {
  test('read then write gives identical bytes on real files (objects, executables, libraries, both classes)', () => {
    expect(corpus.length).toBeGreaterThan(30);
    const classes = new Set<string>();
    for (const file of corpus) {
      const bytes = new Uint8Array(readFileSync(file));
      const elf = parseElf(bytes, file);
      classes.add(`${elf.header.bits}:${elf.header.type}`);
      const written = writeElf(toImage(elf));
      expect({ file, same: Buffer.from(written).equals(Buffer.from(bytes)) }).toEqual({ file, same: true });
    }
    for (const k of ['32:1', '64:1', '32:2', '64:2', '32:3', '64:3']) expect(classes).toContain(k);
  });

  test('headers are encoded from the fields, not copied: the gap bytes alone do not make the file', () => {
    const file = join(work, 'hello32');
    const bytes = new Uint8Array(readFileSync(file));
    const image = toImage(parseElf(bytes, file));
    // Without the gap bytes, every byte a header or section describes is still reproduced.
    const gaps = image.gaps;
    const noGaps = writeElf({ ...image, gaps: [] });
    const inGap = new Uint8Array(bytes.length);
    for (const g of gaps) inGap.fill(1, g.offset, g.offset + g.bytes.length);
    let described = 0;
    for (let i = 0; i < bytes.length; i++) {
      if (inGap[i]) continue;
      described++;
      if (noGaps[i] !== bytes[i]) throw new Error(`byte ${i} differs without gaps`);
    }
    expect(described).toBeGreaterThan(bytes.length / 4);
    expect(gaps.every((g) => g.bytes.every((b) => b === 0))).toBe(true);
    // Change fields and see readelf report them.
    const text = image.sections.findIndex((s) => s.name === '.comment');
    image.sections[text]!.addralign = 8;
    image.header.flags = 0;
    const out = join(work, 'hello32.fields');
    writeFileSync(out, writeElf(image));
    expect(refSections(out)[text]!.align).toBe(8);
  });

  test('fields at or above 2^53 survive exactly', () => {
    const file = join(work, 'high');
    const elf = parseElf(new Uint8Array(readFileSync(file)), file);
    const entry = /Entry point address:\s+0x([0-9a-f]+)/.exec(execFileSync('readelf', ['-h', file], { encoding: 'utf8' }))![1]!;
    expect(exactValue(elf.header, 'entry')).toBe(BigInt(`0x${entry}`));
    const nm = /^([0-9a-f]+) t f$/m.exec(execFileSync('nm', [file], { encoding: 'utf8' }))![1]!;
    const f = elf.symbols.find((s) => s.name === 'f')!;
    expect(exactValue(f, 'value')).toBe(BigInt(`0x${nm}`));
    // The number alone cannot hold it: only the exact side value makes the round trip possible.
    expect(BigInt(f.value)).not.toBe(BigInt(`0x${nm}`));
    expect(Buffer.from(writeElf(toImage(elf))).equals(readFileSync(file))).toBe(true);
  });

  test('symbol, relocation and note encoders reproduce the sections they were read from', () => {
    let symbolTables = 0;
    let relocationSections = 0;
    let noteSections = 0;
    for (const file of corpus) {
      const elf = parseElf(new Uint8Array(readFileSync(file)), file);
      for (const t of elf.symbolTables) {
        expect(Buffer.from(encodeSymbols(t.symbols, elf.header.bits)).equals(Buffer.from(t.section.data))).toBe(true);
        symbolTables++;
      }
      for (const r of elf.relocations) {
        if (r.relr) continue;
        expect(r.section.type === SHT_RELA || r.section.type === SHT_REL).toBe(true);
        expect(Buffer.from(encodeRelocations(r.entries, elf.header.bits, r.rela)).equals(Buffer.from(r.section.data))).toBe(true);
        relocationSections++;
      }
      for (const s of elf.sections.filter((x) => x.type === SHT_NOTE)) {
        const notes = elf.notes.filter((n) => n.source === s.name && n.offset >= s.offset && n.offset < s.offset + s.size);
        expect(Buffer.from(encodeNotes(notes, s.addralign === 8 ? 8 : 4)).equals(Buffer.from(s.data))).toBe(true);
        noteSections++;
      }
    }
    expect(symbolTables).toBeGreaterThan(20);
    expect(relocationSections).toBeGreaterThan(20);
    expect(noteSections).toBeGreaterThan(20);
  });

  test('a string table built from the names gives back each name at its offset', () => {
    const b = new StringTableBuilder();
    const names = ['.text', '.data', 'main', '.text', 'a-b.c', ''];
    const offsets = names.map((n) => b.add(n));
    const bytes = b.bytes();
    const at = (o: number) => new TextDecoder().decode(bytes.subarray(o, bytes.indexOf(0, o)));
    names.forEach((n, i) => expect(at(offsets[i]!)).toBe(n));
    expect(offsets[0]).toBe(offsets[3]);
    expect(bytes[0]).toBe(0);
  });

  test('an appended section is listed by readelf, and the executable still runs', () => {
    const file = join(work, 'hello32');
    const image = toImage(parseElf(new Uint8Array(readFileSync(file)), file));
    const desc = new TextEncoder().encode('previrt-test');
    const index = appendSection(image, {
      name: '.note.previrt', type: SHT_NOTE, flags: 0, addr: 0, link: 0, info: 0, addralign: 4, entsize: 0,
      data: encodeNotes([{ name: 'previrt', type: 1, desc }]),
    });
    const out = join(work, 'hello32.noted');
    writeFileSync(out, writeElf(image));
    chmodSync(out, 0o755);
    const sections = refSections(out);
    expect(sections[index]).toMatchObject({ name: '.note.previrt', type: 'NOTE' });
    const notes = execFileSync('readelf', ['-n', '-W', out], { encoding: 'utf8' });
    expect(notes).toMatch(/previrt\s+0x0000000c/);
    expect(execFileSync(out, { encoding: 'utf8' })).toBe('hello 3\n');
    const reparsed = parseElf(new Uint8Array(readFileSync(out)), out);
    expect(reparsed.sectionByName('.note.previrt')?.data.length).toBe(20 + 12);
  });

  test('an object with an appended section still links and runs', () => {
    const file = join(work, 'hello32.o');
    const image = toImage(parseElf(new Uint8Array(readFileSync(file)), file));
    appendSection(image, { name: '.previrt.extra', type: SHT_PROGBITS, flags: 0, addr: 0, link: 0, info: 0, addralign: 1, entsize: 0, data: new Uint8Array([1, 2, 3]) });
    expect(image.sections.filter((s) => s.type === SHT_STRTAB).length).toBeGreaterThan(0);
    const obj = join(work, 'hello32.extra.o');
    writeFileSync(obj, writeElf(image));
    const exe = join(work, 'hello32.extra');
    execFileSync('gcc', ['-m32', obj, '-o', exe]);
    expect(execFileSync(exe, { encoding: 'utf8' })).toBe('hello 3\n');
    expect(refSections(obj).some((s) => s.name === '.previrt.extra' && s.size === 3)).toBe(true);
  });
});
