// ELF32/ELF64 little-endian writer. An ElfImage is an editable copy of a parsed file: header fields,
// section headers with their bytes, program headers, and the bytes between them that no header
// describes (padding, linker filler). writeElf encodes every header from its fields and places each
// section's bytes at its offset, so an unmodified image gives back the original file byte for byte.
// Symbol tables, relocations, notes and string tables have encoders of their own: edit the records,
// encode them into the section's data, write.
import {
  exactValue, type ElfFile, type ElfNote, type ElfRelocation, type ElfSection, type ElfSegment, type ElfSymbol,
} from './reader.js';
import { PN_XNUM, SHN_LORESERVE, SHN_XINDEX, SHT_NOBITS, SHT_NULL, SHT_STRTAB } from './constants.js';

export interface ImageHeader {
  bits: 32 | 64;
  ident: Uint8Array;
  type: number;
  machine: number;
  version: number;
  entry: number;
  flags: number;
  ehsize: number;
  phentsize: number;
  shentsize: number;
  /** Where the tables go. The writer derives e_phnum/e_shnum/e_shstrndx from the image. */
  phoff: number;
  shoff: number;
  shstrndx: number;
  /**
   * Whether the file keeps a count or index in section header 0 (extended numbering) although it
   * would fit the ELF header; the writer also switches to it when a value does not fit.
   */
  extendedShnum?: boolean;
  extendedShstrndx?: boolean;
  extendedPhnum?: boolean;
  /** e_shnum and e_shstrndx as stored, written back when the image has no section headers. */
  storedShnum?: number;
  storedShstrndx?: number;
}

/** A section header and its bytes: the reader's fields (`data` is ignored for SHT_NOBITS and SHT_NULL; `size` is written as given). */
export type ImageSection = Omit<ElfSection, 'index' | 'typeName'>;

/** A program header: the reader's fields without the bytes (they belong to the sections). */
export type ImageSegment = Omit<ElfSegment, 'index' | 'typeName' | 'data'>;

export interface ElfImage {
  header: ImageHeader;
  sections: ImageSection[];
  segments: ImageSegment[];
  /** Bytes of the original file that no header, table or section covers, by file offset. */
  gaps: { offset: number; bytes: Uint8Array }[];
  /** Exact 64-bit values of the original (fields at or above 2^53), used while a field is unchanged. */
  exact: WeakMap<object, Record<string, bigint>>;
}

export class ElfWriteError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ElfWriteError';
  }
}

const SIZES = {
  32: { ehdr: 52, phdr: 32, shdr: 40, sym: 16, rel: 8, rela: 12 },
  64: { ehdr: 64, phdr: 56, shdr: 64, sym: 24, rel: 16, rela: 24 },
} as const;

function collectExact(exact: WeakMap<object, Record<string, bigint>>, target: object, source: object, fields: string[]): void {
  const found: Record<string, bigint> = {};
  let any = false;
  for (const f of fields) {
    const v = exactValue(source, f);
    if (v !== undefined) {
      found[f] = v;
      any = true;
    }
  }
  if (any) exact.set(target, found);
}

/** An editable copy of a parsed file (section bytes are copied, so edits never touch the input). */
export function toImage(elf: ElfFile): ElfImage {
  const h = elf.header;
  const exact = new WeakMap<object, Record<string, bigint>>();
  const header: ImageHeader = {
    bits: h.bits, ident: h.ident.slice(), type: h.type, machine: h.machine, version: h.version, entry: h.entry,
    flags: h.flags, ehsize: h.ehsize, phentsize: h.phentsize, shentsize: h.shentsize, phoff: h.phoff, shoff: h.shoff,
    shstrndx: h.shstrndx,
    extendedShnum: h.shnumRaw === 0 && h.shnum > 0,
    extendedShstrndx: h.shstrndxRaw === SHN_XINDEX && elf.sections.length > 0,
    extendedPhnum: h.phnumRaw === PN_XNUM && elf.sections.length > 0,
    storedShnum: h.shnumRaw,
    storedShstrndx: h.shstrndxRaw,
  };
  collectExact(exact, header, h, ['entry', 'phoff', 'shoff']);
  const sections = elf.sections.map((s): ImageSection => {
    const copy: ImageSection = {
      name: s.name, nameOffset: s.nameOffset, type: s.type, flags: s.flags, addr: s.addr, offset: s.offset, size: s.size,
      link: s.link, info: s.info, addralign: s.addralign, entsize: s.entsize, data: s.data.slice(),
    };
    collectExact(exact, copy, s, ['flags', 'addr', 'offset', 'size', 'addralign', 'entsize']);
    return copy;
  });
  const segments = elf.segments.map((p): ImageSegment => {
    const copy: ImageSegment = { type: p.type, flags: p.flags, offset: p.offset, vaddr: p.vaddr, paddr: p.paddr, filesz: p.filesz, memsz: p.memsz, align: p.align };
    collectExact(exact, copy, p, ['offset', 'vaddr', 'paddr', 'filesz', 'memsz', 'align']);
    return copy;
  });
  // Section header 0 carries the extended counts; keep what the file had there.
  const image: ElfImage = { header, sections, segments, gaps: [], exact };
  const covered = coveredRanges(image, h.phnumRaw === PN_XNUM ? h.phnum : h.phnumRaw);
  image.gaps = complement(covered, elf.bytes.length).map(([start, end]) => ({ offset: start, bytes: elf.bytes.slice(start, end) }));
  return image;
}

function coveredRanges(image: ElfImage, phnum = image.segments.length): [number, number][] {
  const h = image.header;
  const sz = SIZES[h.bits];
  const ranges: [number, number][] = [[0, sz.ehdr]];
  if (phnum > 0) ranges.push([h.phoff, h.phoff + phnum * sz.phdr]);
  if (image.sections.length > 0) ranges.push([h.shoff, h.shoff + image.sections.length * sz.shdr]);
  image.sections.forEach((s, i) => {
    if (hasFileData(s, i)) ranges.push([s.offset, s.offset + s.size]);
  });
  return ranges;
}

/** Whether a section's bytes live in the file (the reader gives section 0 no contents). */
function hasFileData(s: ImageSection, index: number): boolean {
  return index !== 0 && s.type !== SHT_NOBITS && s.type !== SHT_NULL && s.size > 0;
}

function complement(ranges: [number, number][], length: number): [number, number][] {
  const sorted = ranges.filter(([a, b]) => b > a).sort((x, y) => x[0] - y[0]);
  const out: [number, number][] = [];
  let at = 0;
  for (const [a, b] of sorted) {
    if (a > at) out.push([at, Math.min(a, length)]);
    at = Math.max(at, b);
    if (at >= length) break;
  }
  if (at < length) out.push([at, length]);
  return out.filter(([a, b]) => b > a);
}

class Out {
  readonly view: DataView;
  constructor(readonly bytes: Uint8Array, private readonly exact: WeakMap<object, Record<string, bigint>>) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
  u8(o: number, v: number) { this.view.setUint8(o, v); }
  u16(o: number, v: number) { this.view.setUint16(o, v, true); }
  u32(o: number, v: number) { this.view.setUint32(o, v >>> 0, true); }
  /** 64-bit field: the exact original when the number still equals it, else the number. */
  u64(o: number, record: object, field: string, v: number) {
    const exact = this.exact.get(record)?.[field];
    if (exact !== undefined && Number(exact) === v) {
      this.view.setBigUint64(o, BigInt.asUintN(64, exact), true);
      return;
    }
    if (!Number.isSafeInteger(v) || v < 0) throw new ElfWriteError(`${field} ${v} is not an exact unsigned 64-bit value`);
    this.view.setUint32(o, v % 0x100000000, true);
    this.view.setUint32(o + 4, Math.floor(v / 0x100000000), true);
  }
}

function check32(what: string, v: number): void {
  if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) throw new ElfWriteError(`${what} ${v} does not fit 32 bits`);
}

/** Encodes the image. Throws ElfWriteError when a field does not fit or two regions overlap the header. */
export function writeElf(image: ElfImage): Uint8Array {
  const h = image.header;
  const sz = SIZES[h.bits];
  const w = h.bits === 64;
  const phnum = image.segments.length;
  const shnum = image.sections.length;
  let end = 0;
  for (const [, b] of coveredRanges(image)) end = Math.max(end, b);
  for (const g of image.gaps) end = Math.max(end, g.offset + g.bytes.length);
  const bytes = new Uint8Array(end);
  const out = new Out(bytes, image.exact);
  for (const g of image.gaps) bytes.set(g.bytes, g.offset);

  // ELF header.
  if (h.ident.length !== 16) throw new ElfWriteError(`e_ident has ${h.ident.length} bytes, expected 16`);
  bytes.set(h.ident, 0);
  out.u16(16, h.type);
  out.u16(18, h.machine);
  out.u32(20, h.version);
  if (w) {
    out.u64(24, h, 'entry', h.entry);
    out.u64(32, h, 'phoff', phnum > 0 ? h.phoff : h.phoff);
    out.u64(40, h, 'shoff', h.shoff);
  } else {
    for (const f of ['entry', 'phoff', 'shoff'] as const) check32(`e_${f}`, h[f]);
    out.u32(24, h.entry);
    out.u32(28, h.phoff);
    out.u32(32, h.shoff);
  }
  const o = w ? 48 : 36;
  out.u32(o, h.flags);
  out.u16(o + 4, h.ehsize);
  out.u16(o + 6, h.phentsize);
  // Extended numbering: counts that do not fit 16 bits (or that the file kept there) go to section header 0.
  const extShnum = shnum > 0 && (h.extendedShnum === true || shnum >= SHN_LORESERVE);
  const extShstrndx = shnum > 0 && (h.extendedShstrndx === true || h.shstrndx >= SHN_LORESERVE);
  const extPhnum = shnum > 0 && (h.extendedPhnum === true || phnum >= PN_XNUM);
  if (phnum > PN_XNUM || (phnum === PN_XNUM && shnum > 0 && !extPhnum)) throw new ElfWriteError(`${phnum} program headers need extended numbering`);
  out.u16(o + 8, extPhnum ? PN_XNUM : phnum);
  out.u16(o + 10, h.shentsize);
  // Without section headers the stored counts are what the file had (the reader ignored them).
  out.u16(o + 12, shnum === 0 ? h.storedShnum ?? 0 : extShnum ? 0 : shnum);
  out.u16(o + 14, shnum === 0 ? h.storedShstrndx ?? h.shstrndx : extShstrndx ? SHN_XINDEX : h.shstrndx);

  // Program headers.
  for (let i = 0; i < phnum; i++) {
    const p = image.segments[i]!;
    const at = h.phoff + i * sz.phdr;
    out.u32(at, p.type);
    if (w) {
      out.u32(at + 4, p.flags);
      out.u64(at + 8, p, 'offset', p.offset);
      out.u64(at + 16, p, 'vaddr', p.vaddr);
      out.u64(at + 24, p, 'paddr', p.paddr);
      out.u64(at + 32, p, 'filesz', p.filesz);
      out.u64(at + 40, p, 'memsz', p.memsz);
      out.u64(at + 48, p, 'align', p.align);
    } else {
      for (const f of ['offset', 'vaddr', 'paddr', 'filesz', 'memsz', 'align'] as const) check32(`segment ${i} ${f}`, p[f]);
      out.u32(at + 4, p.offset);
      out.u32(at + 8, p.vaddr);
      out.u32(at + 12, p.paddr);
      out.u32(at + 16, p.filesz);
      out.u32(at + 20, p.memsz);
      out.u32(at + 24, p.flags);
      out.u32(at + 28, p.align);
    }
  }

  // Section contents, then the section header table.
  for (const [i, s] of image.sections.entries()) {
    if (!hasFileData(s, i)) continue;
    if (s.data.length !== s.size) throw new ElfWriteError(`section ${s.name}: ${s.data.length} bytes of data for size ${s.size}`);
    bytes.set(s.data, s.offset);
  }
  for (let i = 0; i < shnum; i++) {
    const s = image.sections[i]!;
    const at = h.shoff + i * sz.shdr;
    let size = s.size;
    let link = s.link;
    let info = s.info;
    if (i === 0) {
      if (extShnum) size = shnum;
      if (extShstrndx) link = h.shstrndx;
      if (extPhnum) info = phnum;
    }
    out.u32(at, s.nameOffset);
    out.u32(at + 4, s.type);
    if (w) {
      out.u64(at + 8, s, 'flags', s.flags);
      out.u64(at + 16, s, 'addr', s.addr);
      out.u64(at + 24, s, 'offset', s.offset);
      out.u64(at + 32, s, 'size', size);
      out.u32(at + 40, link);
      out.u32(at + 44, info);
      out.u64(at + 48, s, 'addralign', s.addralign);
      out.u64(at + 56, s, 'entsize', s.entsize);
    } else {
      for (const f of ['flags', 'addr', 'offset', 'addralign', 'entsize'] as const) check32(`section ${s.name} ${f}`, s[f]);
      check32(`section ${s.name} size`, size);
      out.u32(at + 8, s.flags);
      out.u32(at + 12, s.addr);
      out.u32(at + 16, s.offset);
      out.u32(at + 20, size);
      out.u32(at + 24, link);
      out.u32(at + 28, info);
      out.u32(at + 32, s.addralign);
      out.u32(at + 36, s.entsize);
    }
  }
  return bytes;
}

// ---------------------------------------------------------------------------------------------
// Encoders for the structured section contents.

/** Builds a string table: "\0" first, each distinct string once. */
export class StringTableBuilder {
  private readonly parts: Uint8Array[] = [new Uint8Array(1)];
  private readonly offsets = new Map<string, number>();
  private length = 1;
  constructor(initial?: Uint8Array) {
    if (initial && initial.length > 0) {
      this.parts = [initial.slice()];
      this.length = initial.length;
    }
    this.offsets.set('', 0);
  }
  add(text: string): number {
    const known = this.offsets.get(text);
    if (known !== undefined) return known;
    const encoded = new TextEncoder().encode(`${text}\0`);
    const at = this.length;
    this.parts.push(encoded);
    this.length += encoded.length;
    this.offsets.set(text, at);
    return at;
  }
  bytes(): Uint8Array {
    const out = new Uint8Array(this.length);
    let at = 0;
    for (const p of this.parts) {
      out.set(p, at);
      at += p.length;
    }
    return out;
  }
}

/** Encodes symbols (their nameOffset, value, size, info, other and shndxRaw fields) as a symbol table. */
export function encodeSymbols(symbols: readonly ElfSymbol[], bits: 32 | 64): Uint8Array {
  const size = SIZES[bits].sym;
  const bytes = new Uint8Array(symbols.length * size);
  const out = new Out(bytes, new WeakMap());
  symbols.forEach((s, i) => {
    const at = i * size;
    out.u32(at, s.nameOffset);
    if (bits === 64) {
      out.u8(at + 4, s.info);
      out.u8(at + 5, s.other);
      out.u16(at + 6, s.shndxRaw);
      writeExact64(out, at + 8, s, 'value', s.value);
      writeExact64(out, at + 16, s, 'size', s.size);
    } else {
      check32(`symbol ${s.name} value`, s.value);
      check32(`symbol ${s.name} size`, s.size);
      out.u32(at + 4, s.value);
      out.u32(at + 8, s.size);
      out.u8(at + 12, s.info);
      out.u8(at + 13, s.other);
      out.u16(at + 14, s.shndxRaw);
    }
  });
  return bytes;
}

function writeExact64(out: Out, at: number, record: object, field: string, v: number): void {
  const exact = exactValue(record, field);
  if (exact !== undefined && Number(exact) === v) out.view.setBigUint64(at, BigInt.asUintN(64, exact), true);
  else out.u64(at, record, field, v);
}

/** Encodes REL (addend ignored) or RELA entries. */
export function encodeRelocations(entries: readonly ElfRelocation[], bits: 32 | 64, rela: boolean): Uint8Array {
  const size = rela ? SIZES[bits].rela : SIZES[bits].rel;
  const bytes = new Uint8Array(entries.length * size);
  const out = new Out(bytes, new WeakMap());
  entries.forEach((r, i) => {
    const at = i * size;
    if (bits === 64) {
      writeExact64(out, at, r, 'offset', r.offset);
      out.u32(at + 8, r.type);
      out.u32(at + 12, r.symbolIndex);
      if (rela) {
        const exact = exactValue(r, 'addend');
        out.view.setBigInt64(at + 16, exact !== undefined && Number(exact) === r.addend ? exact : BigInt(r.addend ?? 0), true);
      }
    } else {
      check32('relocation offset', r.offset);
      out.u32(at, r.offset);
      out.u32(at + 4, ((r.symbolIndex << 8) | (r.type & 0xff)) >>> 0);
      if (rela) out.view.setInt32(at + 8, r.addend ?? 0, true);
    }
  });
  return bytes;
}

/** Encodes notes with names and descriptors padded to `align` (4, or 8 for 8-aligned note sections). */
export function encodeNotes(notes: readonly Pick<ElfNote, 'name' | 'type' | 'desc'>[], align: 4 | 8 = 4): Uint8Array {
  const pad = (n: number) => (n + align - 1) & ~(align - 1);
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (const n of notes) {
    const name = n.name === '' ? new Uint8Array(0) : new TextEncoder().encode(`${n.name}\0`);
    const descStart = pad(12 + name.length);
    const length = pad(descStart + n.desc.length);
    const chunk = new Uint8Array(length);
    const v = new DataView(chunk.buffer);
    v.setUint32(0, name.length, true);
    v.setUint32(4, n.desc.length, true);
    v.setUint32(8, n.type, true);
    chunk.set(name, 12);
    chunk.set(n.desc, descStart);
    chunks.push(chunk);
    total += length;
  }
  const out = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Layout edits.

function alignUp(n: number, a: number): number {
  return a > 1 ? Math.ceil(n / a) * a : n;
}

function fileEnd(image: ElfImage): number {
  let end = 0;
  for (const [, b] of coveredRanges(image)) end = Math.max(end, b);
  for (const g of image.gaps) end = Math.max(end, g.offset + g.bytes.length);
  return end;
}

/**
 * Appends a non-allocated section (debug info, notes, a record table for tools) at the end of the
 * file: its name goes into the section-name string table (which moves to the end when it grows), the
 * section header table moves after everything. Loadable contents and addresses do not change.
 * Returns the new section's index.
 */
export function appendSection(image: ElfImage, section: Omit<ImageSection, 'offset' | 'nameOffset' | 'size'> & { size?: number }): number {
  const h = image.header;
  if (image.sections.length === 0) throw new ElfWriteError('the file has no section header table to extend');
  const shstrtab = image.sections[h.shstrndx];
  if (!shstrtab || shstrtab.type !== SHT_STRTAB) throw new ElfWriteError('the file has no section-name string table');
  const names = new StringTableBuilder(shstrtab.data);
  const nameOffset = names.add(section.name);
  const grown = names.bytes();
  let end = fileEnd(image);
  if (grown.length !== shstrtab.size) {
    shstrtab.data = grown;
    shstrtab.size = grown.length;
    shstrtab.offset = end;
    end += grown.length;
  }
  const isNobits = section.type === SHT_NOBITS;
  const offset = alignUp(end, Math.max(1, section.addralign));
  const size = isNobits ? section.size ?? 0 : section.data.length;
  image.sections.push({ ...section, nameOffset, offset, size, data: isNobits ? new Uint8Array(0) : section.data });
  end = isNobits ? offset : offset + size;
  h.shoff = alignUp(end, h.bits === 64 ? 8 : 4);
  return image.sections.length - 1;
}
