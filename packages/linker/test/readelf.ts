// Parses `readelf -W` output into plain records, the reference the ELF reader is compared against.
import { execFileSync } from 'node:child_process';
import {
  sectionFlagsString, segmentFlagsString, SYMBOL_TYPE_NAMES, SYMBOL_BIND_NAMES, SYMBOL_VISIBILITY_NAMES,
  SHN_ABS, SHN_COMMON, SHN_UNDEF, type ElfFile,
} from '@previrt/linker';

function readelf(args: string[], file: string): string {
  return execFileSync('readelf', ['-W', ...args, file], { encoding: 'utf8', maxBuffer: 1 << 28 });
}

const num = (s: string) => (s.startsWith('0x') ? parseInt(s, 16) : parseInt(s, 10));

export interface RefHeader {
  type: number; machine: number; version: number; entry: number; phoff: number; shoff: number; flags: number;
  ehsize: number; phentsize: number; phnum: number; shentsize: number; shnum: number; shstrndx: number;
}

export function refHeader(file: string): RefHeader {
  const text = readelf(['-h'], file);
  const field = (label: string) => {
    const m = new RegExp(`^\\s*${label}:\\s*(.*)$`, 'm').exec(text);
    if (!m) throw new Error(`readelf -h: no ${label}`);
    return m[1]!.trim();
  };
  const first = (s: string) => num(s.split(/\s+/)[0]!);
  const typeWord = field('Type').split(' ')[0]!;
  const types: Record<string, number> = { NONE: 0, REL: 1, EXEC: 2, DYN: 3, CORE: 4 };
  // readelf prints "(n)" after counts that come from section 0 (extended numbering).
  const count = (label: string) => {
    const v = field(label);
    const ext = /\((\d+)\)/.exec(v);
    return ext ? num(ext[1]!) : first(v);
  };
  return {
    type: types[typeWord]!,
    machine: { 'Intel 80386': 3, 'Advanced Micro Devices X86-64': 62 }[field('Machine')] ?? -1,
    version: first(field('Version')),
    entry: num(field('Entry point address')),
    phoff: first(field('Start of program headers')),
    shoff: first(field('Start of section headers')),
    flags: num(field('Flags').split(/[\s,]/)[0]!),
    ehsize: first(field('Size of this header')),
    phentsize: first(field('Size of program headers')),
    phnum: count('Number of program headers'),
    shentsize: first(field('Size of section headers')),
    shnum: count('Number of section headers'),
    shstrndx: count('Section header string table index'),
  };
}

export interface RefSection { index: number; name: string; type: string; addr: number; offset: number; size: number; entsize: number; flags: string; link: number; info: number; align: number }

export function refSections(file: string): RefSection[] {
  const out: RefSection[] = [];
  const row = /^\s*\[\s*(\d+)\] (.*?)\s+(SYMTAB SECTION INDICES|\S+)\s+([0-9a-f]+) ([0-9a-f]+) ([0-9a-f]+) ([0-9a-f]+)\s+([A-Za-z]*)\s+(\d+)\s+(\d+)\s+(\d+)$/;
  for (const line of readelf(['-S'], file).split('\n')) {
    const m = row.exec(line);
    if (!m) continue;
    out.push({ index: num(m[1]!), name: m[2]!.trim(), type: m[3]!, addr: parseInt(m[4]!, 16), offset: parseInt(m[5]!, 16),
      size: parseInt(m[6]!, 16), entsize: parseInt(m[7]!, 16), flags: m[8]!, link: num(m[9]!), info: num(m[10]!), align: num(m[11]!) });
  }
  return out;
}

export interface RefSegment { type: string; offset: number; vaddr: number; paddr: number; filesz: number; memsz: number; flags: string; align: number }

export function refSegments(file: string): RefSegment[] {
  const out: RefSegment[] = [];
  for (const line of readelf(['-l'], file).split('\n')) {
    const m = /^\s+(\S+)\s+(0x[0-9a-f]+) (0x[0-9a-f]+) (0x[0-9a-f]+) (0x[0-9a-f]+) (0x[0-9a-f]+) (.{3}) (0x[0-9a-f]+)$/.exec(line);
    if (!m) continue;
    out.push({ type: m[1]!, offset: num(m[2]!), vaddr: num(m[3]!), paddr: num(m[4]!), filesz: num(m[5]!), memsz: num(m[6]!),
      flags: m[7]!.replace(/\s/g, ''), align: num(m[8]!) });
  }
  return out;
}

export interface RefSymbol { index: number; value: number; size: number; type: string; bind: string; vis: string; ndx: string; name: string }

/** Symbol tables by section name ('.symtab', '.dynsym'). */
export function refSymbols(file: string): Map<string, RefSymbol[]> {
  const tables = new Map<string, RefSymbol[]>();
  let current: RefSymbol[] | undefined;
  for (const line of readelf(['-s', '--sym-base=10'], file).split('\n')) {
    const t = /^Symbol table '([^']+)'/.exec(line);
    if (t) {
      current = [];
      tables.set(t[1]!, current);
      continue;
    }
    const m = /^\s*(\d+): ([0-9a-f]+)\s+(\S+) (\S+)\s+(\S+)\s+(\S+)\s+(\S+)\s?(.*)$/.exec(line);
    if (!m || !current) continue;
    current.push({ index: num(m[1]!), value: parseInt(m[2]!, 16), size: num(m[3]!), type: m[4]!, bind: m[5]!, vis: m[6]!, ndx: m[7]!, name: m[8]! });
  }
  return tables;
}

export interface RefRelocation { offset: number; info: number; type: string; symbolName: string; addend: number | null }

/** Relocation entries by relocation section name. */
export function refRelocations(file: string): Map<string, RefRelocation[]> {
  const sections = new Map<string, RefRelocation[]>();
  let current: RefRelocation[] | undefined;
  let rela = false;
  for (const line of readelf(['-r'], file).split('\n')) {
    const t = /^Relocation section '([^']+)'/.exec(line);
    if (t) {
      current = [];
      sections.set(t[1]!, current);
      continue;
    }
    if (current && /^[0-9a-f]{8,16}$/.test(line.trim()) && !line.includes(' ')) {
      current.push({ offset: parseInt(line.trim(), 16), info: -1, type: 'RELATIVE', symbolName: '', addend: null });
      continue;
    }
    if (/Addend/.test(line)) rela = true;
    else if (/^ Offset\s+Info\s+Type/.test(line)) rela = false;
    const m = /^([0-9a-f]{8,16})\s+([0-9a-f]{8,16}) (\S+)\s*(.*)$/.exec(line);
    if (!m || !current) continue;
    const rest = m[4]!.trim();
    let symbolName = '';
    let addend: number | null = null;
    if (rela) {
      // "value name + addend" or "value name - addend" or just "addend" without a symbol.
      const withSym = /^[0-9a-f]+\s+(.*?) ([+-]) ([0-9a-f]+)$/.exec(rest);
      if (withSym) {
        symbolName = withSym[1]!;
        addend = (withSym[2] === '-' ? -1 : 1) * parseInt(withSym[3]!, 16);
      } else {
        addend = rest === '' ? 0 : parseInt(rest, 16);
      }
    } else {
      const withSym = /^[0-9a-f]+\s+(.*)$/.exec(rest);
      symbolName = withSym ? withSym[1]!.trim() : '';
    }
    current.push({ offset: parseInt(m[1]!, 16), info: parseInt(m[2]!, 16), type: m[3]!, symbolName, addend });
  }
  return sections;
}

export interface RefNote { owner: string; size: number }

export function refNotes(file: string): RefNote[] {
  const out: RefNote[] = [];
  for (const line of readelf(['-n'], file).split('\n')) {
    const m = /^\s{2}(\S.*?)\s+(0x[0-9a-f]{8})\t/.exec(line);
    if (m) out.push({ owner: m[1]!, size: num(m[2]!) });
  }
  return out;
}

function ndxText(shndx: number, machine: number): string {
  if (shndx === SHN_UNDEF) return 'UND';
  if (shndx === SHN_ABS) return 'ABS';
  if (shndx === SHN_COMMON) return 'COM';
  if (machine === 62 && shndx === 0xff02) return 'LARGE_COM';
  return String(shndx);
}

/** Asserts (jest expect) that the parsed file agrees with readelf -W on every table. */
export function compareWithReadelf(file: string, elf: ElfFile): void {
  const h = refHeader(file);
  expect({
    type: elf.header.type, machine: elf.header.machine, version: elf.header.version, entry: elf.header.entry,
    phoff: elf.header.phoff, shoff: elf.header.shoff, flags: elf.header.flags, ehsize: elf.header.ehsize,
    phentsize: elf.header.phentsize, phnum: elf.header.phnum, shentsize: elf.header.shentsize,
    shnum: elf.header.shnum, shstrndx: elf.header.shstrndx,
  }).toEqual(h);

  const sections = refSections(file);
  expect(elf.sections.map((s) => ({
    index: s.index, name: s.name, type: s.typeName, addr: s.addr, offset: s.offset, size: s.size, entsize: s.entsize,
    flags: sectionFlagsString(s.flags, elf.header.machine), link: s.link, info: s.info, align: s.addralign,
  }))).toEqual(sections);

  const segments = refSegments(file);
  expect(elf.segments.map((p) => ({
    type: p.typeName, offset: p.offset, vaddr: p.vaddr, paddr: p.paddr, filesz: p.filesz, memsz: p.memsz,
    flags: segmentFlagsString(p.flags), align: p.align,
  }))).toEqual(segments);

  const symbols = refSymbols(file);
  expect(elf.symbolTables.map((t) => t.section.name).sort()).toEqual([...symbols.keys()].sort());
  for (const table of elf.symbolTables) {
    const ref = symbols.get(table.section.name)!;
    const dyn = table.section.name === '.dynsym';
    // readelf appends symbol versions to dynamic names; compare the names without them.
    const strip = (n: string) => (dyn ? n.replace(/@.*$/, '') : n);
    expect(table.symbols.length).toBe(ref.length);
    const mine = table.symbols.map((s) => ({
      index: s.index, value: s.value, size: s.size, type: SYMBOL_TYPE_NAMES[s.type] ?? `<${s.type}>`,
      bind: SYMBOL_BIND_NAMES[s.bind] ?? `<${s.bind}>`, vis: SYMBOL_VISIBILITY_NAMES[s.visibility]!,
      ndx: ndxText(s.shndx, elf.header.machine), name: strip(s.name),
    }));
    expect(mine).toEqual(ref.map((r) => ({ ...r, name: strip(r.name) })));
  }

  const relocations = refRelocations(file);
  expect(elf.relocations.map((r) => r.section.name).sort()).toEqual([...relocations.keys()].sort());
  for (const rs of elf.relocations) {
    const ref = relocations.get(rs.section.name)!;
    const strip = (n: string) => n.replace(/@.*$/, '');
    expect(rs.entries.map((e) => ({
      offset: e.offset, info: rs.relr ? -1 : e.info, type: rs.relr ? 'RELATIVE' : e.typeName,
      symbolName: e.symbolIndex === 0 ? '' : strip(e.symbol?.name ?? ''),
      addend: rs.rela ? e.addend : null,
    }))).toEqual(ref.map((r) => ({ ...r, symbolName: strip(r.symbolName) })));
  }

  expect(elf.notes.map((n) => ({ owner: n.name, size: n.desc.length }))).toEqual(refNotes(file));
}

