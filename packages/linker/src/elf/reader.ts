// ELF32/ELF64 little-endian reader: headers, sections, segments, symbols, string tables, REL/RELA
// relocations (i386, x86-64), notes. Every bound is checked before it is read: malformed input gives
// an ElfError that names the file and what is wrong, never a RangeError.
//
// Numbers: every field is a JavaScript number. An ELF64 value at or above 2^53 (x86-64 kernel
// addresses) cannot be held exactly; the reader keeps the exact value aside (see exactValue) so the
// writer still reproduces the file byte for byte.
import {
  ELFCLASS32, ELFCLASS64, ELFDATA2LSB, EM_386, EM_X86_64, ET_REL, PN_XNUM, RELOC_386_NAMES, RELOC_X86_64_NAMES,
  SECTION_TYPE_NAMES, SEGMENT_TYPE_NAMES, SHF_ALLOC, SHF_EXECINSTR, SHN_ABS, SHN_COMMON, SHN_LORESERVE, SHN_UNDEF,
  SHN_XINDEX, SHT_DYNSYM, SHT_NOBITS, SHT_NOTE, SHT_NULL, SHT_REL, SHT_RELA, SHT_RELR, SHT_STRTAB, SHT_SYMTAB,
  SHT_SYMTAB_SHNDX, STT_FUNC, STT_NOTYPE, STT_OBJECT, STT_SECTION, STT_GNU_IFUNC, STB_GLOBAL, STB_WEAK,
  PT_NOTE, relocationFieldSize,
} from './constants.js';
import { upperBound } from '../sorted.js';

export class ElfError extends Error {
  constructor(readonly fileName: string, readonly problem: string, readonly fileOffset?: number) {
    super(`${fileName}: ${problem}`);
    this.name = 'ElfError';
  }
}

export interface ElfHeader {
  /** 32 or 64 (EI_CLASS). */
  bits: 32 | 64;
  /** The 16 e_ident bytes as found. */
  ident: Uint8Array;
  osabi: number;
  abiVersion: number;
  type: number;
  machine: number;
  version: number;
  entry: number;
  phoff: number;
  shoff: number;
  flags: number;
  ehsize: number;
  phentsize: number;
  /** e_phnum as stored (PN_XNUM when the real count is in section 0's sh_info). */
  phnumRaw: number;
  /** e_shnum as stored (0 when the real count is in section 0's sh_size). */
  shnumRaw: number;
  /** e_shstrndx as stored (SHN_XINDEX when the real index is in section 0's sh_link). */
  shstrndxRaw: number;
  shentsize: number;
  /** Resolved counts and index (extended numbering applied). */
  phnum: number;
  shnum: number;
  shstrndx: number;
}

export interface ElfSection {
  index: number;
  name: string;
  nameOffset: number;
  type: number;
  typeName: string;
  flags: number;
  addr: number;
  offset: number;
  size: number;
  link: number;
  info: number;
  addralign: number;
  entsize: number;
  /** The section's bytes in the file (a view; empty for SHT_NOBITS and SHT_NULL). */
  data: Uint8Array;
}

export interface ElfSegment {
  index: number;
  type: number;
  typeName: string;
  flags: number;
  offset: number;
  vaddr: number;
  paddr: number;
  filesz: number;
  memsz: number;
  align: number;
  /** The segment's file bytes (a view). */
  data: Uint8Array;
}

export interface ElfSymbol {
  /** Index in its table. */
  index: number;
  name: string;
  nameOffset: number;
  value: number;
  size: number;
  /** st_info: type in the low 4 bits, binding in the high 4. */
  info: number;
  type: number;
  bind: number;
  other: number;
  visibility: number;
  /** Section index, resolved through SHT_SYMTAB_SHNDX when st_shndx is SHN_XINDEX. */
  shndx: number;
  /** st_shndx as stored. */
  shndxRaw: number;
}

export interface ElfSymbolTable {
  section: ElfSection;
  strings: ElfSection;
  symbols: ElfSymbol[];
}

export interface ElfRelocation {
  offset: number;
  info: number;
  type: number;
  typeName: string;
  symbolIndex: number;
  symbol: ElfSymbol | undefined;
  /** Explicit addend (RELA), or the implicit addend read from the patched field (REL) when known. */
  addend: number | null;
}

export interface ElfRelocationSection {
  section: ElfSection;
  /** Whether entries carry an explicit addend (SHT_RELA). */
  rela: boolean;
  /** Whether the section is a packed SHT_RELR table (its entries are the decoded relative relocations). */
  relr: boolean;
  /** The section the entries patch (sh_info), when it names one. */
  target: ElfSection | undefined;
  symbols: ElfSymbolTable | undefined;
  entries: ElfRelocation[];
}

export interface ElfNote {
  /** Section (or segment, when the file has no section headers) the note came from. */
  source: string;
  name: string;
  type: number;
  desc: Uint8Array;
  /** File offset of the note header. */
  offset: number;
}

export interface SymbolLocation {
  name: string;
  offset: number;
  symbol: ElfSymbol;
}

export interface ElfFile {
  fileName: string;
  bytes: Uint8Array;
  header: ElfHeader;
  sections: ElfSection[];
  segments: ElfSegment[];
  /** Symbols of .symtab (empty when stripped). */
  symbols: ElfSymbol[];
  /** Symbols of .dynsym. */
  dynamicSymbols: ElfSymbol[];
  symbolTables: ElfSymbolTable[];
  relocations: ElfRelocationSection[];
  notes: ElfNote[];
  sectionByName(name: string): ElfSection | undefined;
  /** The string at `offset` of string-table section `sectionIndex`. */
  stringAt(sectionIndex: number, offset: number): string;
  /**
   * The nearest symbol at or before `address` (function, object or untyped, in the same section),
   * as objdump names addresses. In a relocatable object every section starts at 0, so pass the
   * section index there.
   */
  symbolAt(address: number, sectionIndex?: number): SymbolLocation | undefined;
  /** The allocated section containing `address` (a non-empty, non-NOBITS one preferred). */
  sectionAt(address: number): ElfSection | undefined;
}

// ---------------------------------------------------------------------------------------------
// Exact ELF64 values beyond 2^53.

const exactValues = new WeakMap<object, Map<string, bigint>>();

/** The exact value of a 64-bit field when it is at or above 2^53, else undefined. */
export function exactValue(record: object, field: string): bigint | undefined {
  return exactValues.get(record)?.get(field);
}

/** Records an exact 64-bit value for `record.field` (used by the reader and by code that builds models). */
export function setExactValue(record: object, field: string, value: bigint): void {
  let map = exactValues.get(record);
  if (!map) exactValues.set(record, (map = new Map()));
  map.set(field, value);
}

// ---------------------------------------------------------------------------------------------

const HEADER_SIZE = { 32: 52, 64: 64 } as const;
const PHDR_SIZE = { 32: 32, 64: 56 } as const;
const SHDR_SIZE = { 32: 40, 64: 64 } as const;
const SYM_SIZE = { 32: 16, 64: 24 } as const;
const REL_SIZE = { 32: 8, 64: 16 } as const;
const RELA_SIZE = { 32: 12, 64: 24 } as const;
const TWO_32 = 0x100000000;

const utf8 = new TextDecoder('utf-8', { fatal: false });

function hex(n: number): string {
  return `0x${n.toString(16)}`;
}

/** Bounds-checked little-endian field access over the whole file. */
class Cursor {
  readonly view: DataView;
  constructor(readonly bytes: Uint8Array, readonly fileName: string) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
  fail(problem: string, offset?: number): never {
    throw new ElfError(this.fileName, problem, offset);
  }
  need(offset: number, length: number, what: string): void {
    if (offset < 0 || length < 0 || offset + length > this.bytes.length) {
      this.fail(`${what} at offset ${hex(offset)} (${length} bytes) runs past the end of the file (${this.bytes.length} bytes)`, offset);
    }
  }
  u8(o: number): number { return this.bytes[o]!; }
  u16(o: number): number { return this.view.getUint16(o, true); }
  u32(o: number): number { return this.view.getUint32(o, true); }
  i32(o: number): number { return this.view.getInt32(o, true); }
  /** Unsigned 64-bit; values beyond 2^53 are approximated and their exact value stored on `record`. */
  u64(o: number, record?: object, field?: string): number {
    const lo = this.view.getUint32(o, true);
    const hi = this.view.getUint32(o + 4, true);
    if (hi >= 0x200000 && record && field) setExactValue(record, field, (BigInt(hi) << 32n) | BigInt(lo));
    return hi * TWO_32 + lo;
  }
  /** Signed 64-bit (RELA addends). */
  i64(o: number, record?: object, field?: string): number {
    const v = this.view.getBigInt64(o, true);
    if ((v > BigInt(Number.MAX_SAFE_INTEGER) || v < BigInt(Number.MIN_SAFE_INTEGER)) && record && field) setExactValue(record, field, v);
    return Number(v);
  }
}

function parseHeader(c: Cursor): ElfHeader {
  const b = c.bytes;
  if (b.length < 4 || b[0] !== 0x7f || b[1] !== 0x45 || b[2] !== 0x4c || b[3] !== 0x46) {
    c.fail(b.length < 4 ? `not an ELF file: only ${b.length} bytes` : 'not an ELF file: bad magic (expected \\x7fELF)', 0);
  }
  if (b.length < 16) c.fail(`truncated ELF identification: ${b.length} bytes, expected 16`, 0);
  const klass = b[4];
  if (klass !== ELFCLASS32 && klass !== ELFCLASS64) c.fail(`unknown ELF class ${klass} (expected 1 for ELF32 or 2 for ELF64)`, 4);
  if (b[5] !== ELFDATA2LSB) c.fail(`unsupported data encoding ${b[5]} (only little-endian, 1, is supported)`, 5);
  const bits = klass === ELFCLASS64 ? 64 : 32;
  c.need(0, HEADER_SIZE[bits], `ELF${bits} header`);
  const w = bits === 64;
  const h = {} as ElfHeader;
  h.bits = bits;
  h.ident = b.subarray(0, 16);
  h.osabi = b[7]!;
  h.abiVersion = b[8]!;
  h.type = c.u16(16);
  h.machine = c.u16(18);
  h.version = c.u32(20);
  h.entry = w ? c.u64(24, h, 'entry') : c.u32(24);
  h.phoff = w ? c.u64(32, h, 'phoff') : c.u32(28);
  h.shoff = w ? c.u64(40, h, 'shoff') : c.u32(32);
  const o = w ? 48 : 36;
  h.flags = c.u32(o);
  h.ehsize = c.u16(o + 4);
  h.phentsize = c.u16(o + 6);
  h.phnumRaw = c.u16(o + 8);
  h.shentsize = c.u16(o + 10);
  h.shnumRaw = c.u16(o + 12);
  h.shstrndxRaw = c.u16(o + 14);
  h.phnum = h.phnumRaw;
  h.shnum = h.shnumRaw;
  h.shstrndx = h.shstrndxRaw;
  // Extended numbering lives in section header 0.
  if (h.shoff !== 0 && (h.shnumRaw === 0 || h.shstrndxRaw === SHN_XINDEX || h.phnumRaw === PN_XNUM)) {
    if (h.shentsize !== SHDR_SIZE[bits]) c.fail(`section header size ${h.shentsize}, expected ${SHDR_SIZE[bits]} for ELF${bits}`, o + 10);
    c.need(h.shoff, SHDR_SIZE[bits], 'section header 0');
    const size0 = w ? c.u64(h.shoff + 32) : c.u32(h.shoff + 20);
    const link0 = c.u32(h.shoff + (w ? 40 : 24));
    const info0 = c.u32(h.shoff + (w ? 44 : 28));
    if (h.shnumRaw === 0) h.shnum = size0;
    if (h.shstrndxRaw === SHN_XINDEX) h.shstrndx = link0;
    if (h.phnumRaw === PN_XNUM) h.phnum = info0;
  }
  return h;
}

function parseSegments(c: Cursor, h: ElfHeader): ElfSegment[] {
  if (h.phnum === 0) return [];
  if (h.phentsize !== PHDR_SIZE[h.bits]) c.fail(`program header size ${h.phentsize}, expected ${PHDR_SIZE[h.bits]} for ELF${h.bits}`);
  const total = h.phnum * h.phentsize;
  c.need(h.phoff, total, `program header table (${h.phnum} entries)`);
  const segments: ElfSegment[] = [];
  for (let i = 0; i < h.phnum; i++) {
    const o = h.phoff + i * h.phentsize;
    const s = { index: i } as ElfSegment;
    s.type = c.u32(o);
    if (h.bits === 64) {
      s.flags = c.u32(o + 4);
      s.offset = c.u64(o + 8, s, 'offset');
      s.vaddr = c.u64(o + 16, s, 'vaddr');
      s.paddr = c.u64(o + 24, s, 'paddr');
      s.filesz = c.u64(o + 32, s, 'filesz');
      s.memsz = c.u64(o + 40, s, 'memsz');
      s.align = c.u64(o + 48, s, 'align');
    } else {
      s.offset = c.u32(o + 4);
      s.vaddr = c.u32(o + 8);
      s.paddr = c.u32(o + 12);
      s.filesz = c.u32(o + 16);
      s.memsz = c.u32(o + 20);
      s.flags = c.u32(o + 24);
      s.align = c.u32(o + 28);
    }
    s.typeName = SEGMENT_TYPE_NAMES[s.type] ?? hex(s.type);
    if (s.filesz > 0) {
      if (s.offset + s.filesz > c.bytes.length) {
        c.fail(`segment ${i} (${s.typeName}) at offset ${hex(s.offset)} with ${s.filesz} bytes runs past the end of the file (${c.bytes.length} bytes)`, o);
      }
      s.data = c.bytes.subarray(s.offset, s.offset + s.filesz);
    } else {
      s.data = c.bytes.subarray(0, 0);
    }
    segments.push(s);
  }
  return segments;
}

function parseSections(c: Cursor, h: ElfHeader): ElfSection[] {
  if (h.shoff === 0 || h.shnum === 0) return [];
  if (h.shentsize !== SHDR_SIZE[h.bits]) c.fail(`section header size ${h.shentsize}, expected ${SHDR_SIZE[h.bits]} for ELF${h.bits}`);
  c.need(h.shoff, h.shnum * h.shentsize, `section header table (${h.shnum} entries)`);
  const sections: ElfSection[] = [];
  for (let i = 0; i < h.shnum; i++) {
    const o = h.shoff + i * h.shentsize;
    const s = { index: i, name: '' } as ElfSection;
    s.nameOffset = c.u32(o);
    s.type = c.u32(o + 4);
    if (h.bits === 64) {
      s.flags = c.u64(o + 8, s, 'flags');
      s.addr = c.u64(o + 16, s, 'addr');
      s.offset = c.u64(o + 24, s, 'offset');
      s.size = c.u64(o + 32, s, 'size');
      s.link = c.u32(o + 40);
      s.info = c.u32(o + 44);
      s.addralign = c.u64(o + 48, s, 'addralign');
      s.entsize = c.u64(o + 56, s, 'entsize');
    } else {
      s.flags = c.u32(o + 8);
      s.addr = c.u32(o + 12);
      s.offset = c.u32(o + 16);
      s.size = c.u32(o + 20);
      s.link = c.u32(o + 24);
      s.info = c.u32(o + 28);
      s.addralign = c.u32(o + 32);
      s.entsize = c.u32(o + 36);
    }
    s.typeName = SECTION_TYPE_NAMES[s.type] ?? hex(s.type);
    const inFile = s.type !== SHT_NOBITS && s.type !== SHT_NULL && i !== 0;
    if (inFile && s.size > 0) {
      if (s.offset + s.size > c.bytes.length) {
        c.fail(`section [${i}] at offset ${hex(s.offset)} with ${s.size} bytes runs past the end of the file (${c.bytes.length} bytes)`, o);
      }
      s.data = c.bytes.subarray(s.offset, s.offset + s.size);
    } else {
      s.data = c.bytes.subarray(0, 0);
    }
    sections.push(s);
  }
  if (h.shstrndx !== SHN_UNDEF) {
    const strtab = sections[h.shstrndx];
    if (!strtab) c.fail(`section-name string table index ${h.shstrndx} is not a section (${sections.length} sections)`);
    if (strtab.type !== SHT_STRTAB) c.fail(`section-name string table [${h.shstrndx}] has type ${strtab.typeName}, expected STRTAB`);
    for (const s of sections) s.name = readString(c, strtab, s.nameOffset, `name of section [${s.index}]`);
  }
  return sections;
}

function readString(c: Cursor, table: ElfSection, offset: number, what: string): string {
  const data = table.data;
  if (offset >= data.length) {
    if (offset === 0 && data.length === 0) return '';
    c.fail(`${what}: string offset ${hex(offset)} is outside string table [${table.index}] ${table.name} (${data.length} bytes)`);
  }
  let end = offset;
  while (end < data.length && data[end] !== 0) end++;
  if (end === data.length) c.fail(`${what}: string at offset ${hex(offset)} of [${table.index}] ${table.name} is not NUL-terminated`);
  if (end === offset) return '';
  // ASCII fast path: symbol names are nearly always plain ASCII.
  let ascii = true;
  for (let i = offset; i < end; i++) if (data[i]! >= 0x80) { ascii = false; break; }
  return ascii ? String.fromCharCode.apply(null, data.subarray(offset, end) as unknown as number[]) : utf8.decode(data.subarray(offset, end));
}

function parseSymbolTable(c: Cursor, h: ElfHeader, sections: ElfSection[], sec: ElfSection): ElfSymbolTable {
  const size = SYM_SIZE[h.bits];
  if (sec.entsize !== size) c.fail(`symbol table [${sec.index}] ${sec.name} has entry size ${sec.entsize}, expected ${size}`);
  if (sec.size % size !== 0) c.fail(`symbol table [${sec.index}] ${sec.name} size ${sec.size} is not a multiple of ${size}`);
  const strings = sections[sec.link];
  if (!strings || strings.type !== SHT_STRTAB) {
    c.fail(`symbol table [${sec.index}] ${sec.name} links to section ${sec.link}, which is not a string table`);
  }
  const shndxSection = sections.find((s) => s.type === SHT_SYMTAB_SHNDX && s.link === sec.index);
  if (sec.data.length !== sec.size) c.fail(`symbol table [${sec.index}] ${sec.name} has no file contents`);
  const count = sec.size / size;
  if (shndxSection && shndxSection.size < count * 4) {
    c.fail(`extended section index table [${shndxSection.index}] has ${shndxSection.size / 4} entries, expected ${count}`);
  }
  const symbols: ElfSymbol[] = new Array(count);
  const base = sec.offset;
  for (let i = 0; i < count; i++) {
    const o = base + i * size;
    const s = { index: i } as ElfSymbol;
    s.nameOffset = c.u32(o);
    if (h.bits === 64) {
      s.info = c.u8(o + 4);
      s.other = c.u8(o + 5);
      s.shndxRaw = c.u16(o + 6);
      s.value = c.u64(o + 8, s, 'value');
      s.size = c.u64(o + 16, s, 'size');
    } else {
      s.value = c.u32(o + 4);
      s.size = c.u32(o + 8);
      s.info = c.u8(o + 12);
      s.other = c.u8(o + 13);
      s.shndxRaw = c.u16(o + 14);
    }
    s.type = s.info & 0xf;
    s.bind = s.info >> 4;
    s.visibility = s.other & 3;
    s.shndx = s.shndxRaw === SHN_XINDEX && shndxSection
      ? c.u32(shndxSection.offset + i * 4)
      : s.shndxRaw;
    s.name = readString(c, strings, s.nameOffset, `name of symbol ${i} in [${sec.index}] ${sec.name}`);
    if (s.type === STT_SECTION && s.name === '' && s.shndx < sections.length && s.shndx !== SHN_UNDEF) {
      s.name = sections[s.shndx]!.name;
    }
    symbols[i] = s;
  }
  return { section: sec, strings, symbols };
}

function parseRelocations(c: Cursor, h: ElfHeader, sections: ElfSection[], sec: ElfSection, tables: ElfSymbolTable[]): ElfRelocationSection {
  const rela = sec.type === SHT_RELA;
  const size = (rela ? RELA_SIZE : REL_SIZE)[h.bits];
  if (sec.entsize !== 0 && sec.entsize !== size) c.fail(`relocation section [${sec.index}] ${sec.name} has entry size ${sec.entsize}, expected ${size}`);
  if (sec.size % size !== 0) c.fail(`relocation section [${sec.index}] ${sec.name} size ${sec.size} is not a multiple of ${size}`);
  if (sec.data.length !== sec.size) c.fail(`relocation section [${sec.index}] ${sec.name} has no file contents`);
  const symbols = sec.link === 0 ? undefined : tables.find((t) => t.section.index === sec.link);
  if (sec.link !== 0 && !symbols) c.fail(`relocation section [${sec.index}] ${sec.name} links to section ${sec.link}, which is not a symbol table`);
  const target = sec.info !== 0 && sec.info < sections.length ? sections[sec.info] : undefined;
  const names = h.machine === EM_X86_64 ? RELOC_X86_64_NAMES : h.machine === EM_386 ? RELOC_386_NAMES : {};
  const entries: ElfRelocation[] = [];
  for (let at = 0; at < sec.size; at += size) {
    const o = sec.offset + at;
    const r = {} as ElfRelocation;
    let symbolIndex: number;
    if (h.bits === 64) {
      r.offset = c.u64(o, r, 'offset');
      const infoLo = c.u32(o + 8);
      const infoHi = c.u32(o + 12);
      r.info = infoHi * TWO_32 + infoLo;
      if (infoHi >= 0x200000) setExactValue(r, 'info', (BigInt(infoHi) << 32n) | BigInt(infoLo));
      r.type = infoLo;
      symbolIndex = infoHi;
      r.addend = rela ? c.i64(o + 16, r, 'addend') : null;
    } else {
      r.offset = c.u32(o);
      r.info = c.u32(o + 4);
      r.type = r.info & 0xff;
      symbolIndex = r.info >>> 8;
      r.addend = rela ? c.i32(o + 8) : null;
    }
    r.symbolIndex = symbolIndex;
    r.typeName = names[r.type] ?? `unknown (${r.type})`;
    if (symbols && symbolIndex >= symbols.symbols.length) {
      c.fail(`relocation ${at / size} in [${sec.index}] ${sec.name} names symbol ${symbolIndex}, but ${symbols.section.name} has ${symbols.symbols.length}`);
    }
    r.symbol = symbols?.symbols[symbolIndex];
    if (!rela && h.type === ET_REL && target && target.type !== SHT_NOBITS) {
      const field = relocationFieldSize(h.machine, r.type);
      if (field > 0 && r.offset + field <= target.data.length) {
        const v = new DataView(target.data.buffer, target.data.byteOffset + r.offset, field);
        r.addend = field === 4 ? v.getInt32(0, true) : field === 2 ? v.getInt16(0, true) : v.getInt8(0);
      }
    }
    entries.push(r);
  }
  return { section: sec, rela, relr: false, target, symbols, entries };
}

/** SHT_RELR: a packed list of relative relocations (an address word, then bitmaps of following words). */
function parseRelr(c: Cursor, h: ElfHeader, sec: ElfSection): ElfRelocationSection {
  const word = h.bits === 64 ? 8 : 4;
  if (sec.entsize !== 0 && sec.entsize !== word) c.fail(`RELR section [${sec.index}] ${sec.name} has entry size ${sec.entsize}, expected ${word}`);
  if (sec.size % word !== 0) c.fail(`RELR section [${sec.index}] ${sec.name} size ${sec.size} is not a multiple of ${word}`);
  if (sec.data.length !== sec.size) c.fail(`RELR section [${sec.index}] ${sec.name} has no file contents`);
  const type = 8; // R_386_RELATIVE and R_X86_64_RELATIVE
  const typeName = h.machine === EM_X86_64 ? RELOC_X86_64_NAMES[type]! : RELOC_386_NAMES[type]!;
  const entries: ElfRelocation[] = [];
  let where = 0;
  for (let at = 0; at < sec.size; at += word) {
    const o = sec.offset + at;
    const lo = c.u32(o);
    const value = h.bits === 64 ? c.u64(o) : lo;
    if ((lo & 1) === 0) {
      entries.push({ offset: value, info: type, type, typeName, symbolIndex: 0, symbol: undefined, addend: null });
      where = value + word;
    } else {
      // Bit i (1..bits-1) of the bitmap relocates the word at where + (i - 1) * word.
      const bits = word * 8;
      const hi = h.bits === 64 ? c.u32(o + 4) : 0;
      for (let i = 1; i < bits; i++) {
        const set = i < 32 ? (lo >>> i) & 1 : (hi >>> (i - 32)) & 1;
        if (set) entries.push({ offset: where + (i - 1) * word, info: type, type, typeName, symbolIndex: 0, symbol: undefined, addend: null });
      }
      where += (bits - 1) * word;
    }
  }
  return { section: sec, rela: false, relr: true, target: undefined, symbols: undefined, entries };
}

function parseNotes(c: Cursor, data: Uint8Array, fileOffset: number, align: number, source: string): ElfNote[] {
  const notes: ElfNote[] = [];
  const a = align === 8 ? 8 : 4;
  const pad = (n: number) => (n + a - 1) & ~(a - 1);
  let at = 0;
  while (at < data.length) {
    if (at + 12 > data.length) c.fail(`note in ${source} at offset ${hex(fileOffset + at)}: header truncated (${data.length - at} bytes left, expected 12)`, fileOffset + at);
    const v = new DataView(data.buffer, data.byteOffset + at, 12);
    const namesz = v.getUint32(0, true);
    const descsz = v.getUint32(4, true);
    const type = v.getUint32(8, true);
    const nameStart = at + 12;
    const descStart = pad(nameStart + namesz);
    if (namesz > data.length || descStart > data.length || descsz > data.length - descStart) {
      c.fail(`note in ${source} at offset ${hex(fileOffset + at)}: name (${namesz} bytes) or descriptor (${descsz} bytes) runs past the end of the note area`, fileOffset + at);
    }
    let nameEnd = nameStart + namesz;
    while (nameEnd > nameStart && data[nameEnd - 1] === 0) nameEnd--;
    const name = utf8.decode(data.subarray(nameStart, nameEnd));
    notes.push({ source, name, type, desc: data.subarray(descStart, descStart + descsz), offset: fileOffset + at });
    at = Math.min(data.length, pad(descStart + descsz));
  }
  return notes;
}

interface SymbolIndex {
  /** Candidates sorted by address, best name first among equal addresses. */
  sorted: ElfSymbol[];
  values: Float64Array;
}

/** Preference among symbols at one address: functions over objects over untyped, global over local. */
function symbolRank(s: ElfSymbol): number {
  const typeRank = s.type === STT_FUNC || s.type === STT_GNU_IFUNC ? 0 : s.type === STT_OBJECT ? 1 : 2;
  const bindRank = s.bind === STB_GLOBAL ? 0 : s.bind === STB_WEAK ? 1 : 2;
  const local = s.name.startsWith('.L') ? 1 : 0;
  return local * 100 + typeRank * 10 + bindRank;
}

function buildSymbolIndex(symbols: ElfSymbol[]): SymbolIndex {
  const candidates = symbols.filter((s) => s.name !== '' && s.shndx !== SHN_UNDEF && s.shndx !== SHN_ABS && s.shndx !== SHN_COMMON
    && (s.shndx < SHN_LORESERVE || s.shndx > 0xffff)
    && (s.type === STT_FUNC || s.type === STT_OBJECT || s.type === STT_NOTYPE || s.type === STT_GNU_IFUNC));
  candidates.sort((a, b) => a.value - b.value || symbolRank(a) - symbolRank(b) || a.index - b.index);
  return { sorted: candidates, values: Float64Array.from(candidates, (s) => s.value) };
}

/** parseElf: the whole-file model. Throws ElfError on malformed input. */
export function parseElf(bytes: Uint8Array, fileName: string): ElfFile {
  try {
    return parseElfUnchecked(bytes, fileName);
  } catch (err) {
    if (err instanceof ElfError) throw err;
    // A bound the explicit checks missed: still report it as malformed input, not as a crash.
    throw new ElfError(fileName, `malformed ELF file (${err instanceof Error ? err.message : String(err)})`);
  }
}

function parseElfUnchecked(bytes: Uint8Array, fileName: string): ElfFile {
  const c = new Cursor(bytes, fileName);
  const header = parseHeader(c);
  const segments = parseSegments(c, header);
  const sections = parseSections(c, header);
  const symbolTables: ElfSymbolTable[] = [];
  for (const s of sections) {
    if (s.type === SHT_SYMTAB || s.type === SHT_DYNSYM) symbolTables.push(parseSymbolTable(c, header, sections, s));
  }
  const relocations: ElfRelocationSection[] = [];
  for (const s of sections) {
    if (s.type === SHT_REL || s.type === SHT_RELA) relocations.push(parseRelocations(c, header, sections, s, symbolTables));
    else if (s.type === SHT_RELR) relocations.push(parseRelr(c, header, s));
  }
  const notes: ElfNote[] = [];
  if (sections.length > 0) {
    for (const s of sections) if (s.type === SHT_NOTE) notes.push(...parseNotes(c, s.data, s.offset, s.addralign, s.name));
  } else {
    for (const p of segments) if (p.type === PT_NOTE) notes.push(...parseNotes(c, p.data, p.offset, p.align, `segment ${p.index}`));
  }
  const symtab = symbolTables.find((t) => t.section.type === SHT_SYMTAB);
  const dynsym = symbolTables.find((t) => t.section.type === SHT_DYNSYM);
  const symbols = symtab?.symbols ?? [];
  const dynamicSymbols = dynsym?.symbols ?? [];
  const byName = new Map<string, ElfSection>();
  for (const s of sections) if (!byName.has(s.name)) byName.set(s.name, s);

  let index: SymbolIndex | undefined;
  const allocated = sections
    .filter((s) => (s.flags & SHF_ALLOC) !== 0 && s.size > 0)
    .sort((a, b) => a.addr - b.addr || Number(a.type === SHT_NOBITS) - Number(b.type === SHT_NOBITS));

  const sectionAt = (address: number): ElfSection | undefined => {
    let best: ElfSection | undefined;
    for (const s of allocated) {
      if (s.addr > address) break;
      if (address < s.addr + s.size) {
        if (!best || (best.type === SHT_NOBITS && s.type !== SHT_NOBITS)
          || ((s.flags & SHF_EXECINSTR) !== 0 && (best.flags & SHF_EXECINSTR) === 0)) best = s;
      }
    }
    return best;
  };

  const symbolAt = (address: number, sectionIndex?: number): SymbolLocation | undefined => {
    index ??= buildSymbolIndex(symbols.length > 0 ? symbols : dynamicSymbols);
    const inSection = sectionIndex ?? (header.type === ET_REL ? undefined : sectionAt(address)?.index);
    const { sorted, values } = index;
    // From the last candidate with value <= address down.
    for (let i = upperBound(values, address) - 1; i >= 0; i--) {
      const s = sorted[i]!;
      if (inSection !== undefined && s.shndx !== inSection) continue;
      // Equal addresses are sorted best name first: take the first of the run in the same section.
      let best = s;
      for (let j = i - 1; j >= 0 && values[j] === s.value; j--) {
        if (inSection === undefined || sorted[j]!.shndx === inSection) best = sorted[j]!;
      }
      return { name: best.name, offset: address - best.value, symbol: best };
    }
    return undefined;
  };

  return {
    fileName,
    bytes,
    header,
    sections,
    segments,
    symbols,
    dynamicSymbols,
    symbolTables,
    relocations,
    notes,
    sectionByName: (name) => byName.get(name),
    stringAt: (sectionIndex, offset) => {
      const table = sections[sectionIndex];
      if (!table || table.type !== SHT_STRTAB) c.fail(`section ${sectionIndex} is not a string table`);
      return readString(c, table, offset, `string in [${sectionIndex}]`);
    },
    symbolAt,
    sectionAt,
  };
}
