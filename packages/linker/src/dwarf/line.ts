// A small DWARF .debug_line reader (versions 2 to 5; gcc 12 emits 5): runs each unit's line-number
// program and answers address -> source:line. Only what the check needs: addresses, files, lines.
import { inflateSync } from 'node:zlib';
import type { ElfFile, ElfSection } from '../elf/reader.js';
import { SHF_COMPRESSED } from '../elf/constants.js';
import { upperBound } from '../sorted.js';

export class DwarfError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DwarfError';
  }
}

export interface LineRow {
  address: number;
  file: string;
  line: number;
}

export interface LineTable {
  /** Source position of the instruction at `address`, when a sequence covers it. */
  lookup(address: number): { file: string; line: number } | undefined;
  /** Number of rows read (for tests and statistics). */
  rows: number;
}

// DW_FORM codes used in v5 directory and file entry formats.
const DW_FORM_block = 0x09, DW_FORM_block1 = 0x0a, DW_FORM_block2 = 0x03, DW_FORM_block4 = 0x04;
const DW_FORM_data1 = 0x0b, DW_FORM_data2 = 0x05, DW_FORM_data4 = 0x06, DW_FORM_data8 = 0x07, DW_FORM_data16 = 0x1e;
const DW_FORM_string = 0x08, DW_FORM_strp = 0x0e, DW_FORM_line_strp = 0x1f, DW_FORM_udata = 0x0f, DW_FORM_sdata = 0x0d;
const DW_FORM_strx = 0x1a, DW_FORM_strx1 = 0x25, DW_FORM_strx2 = 0x26, DW_FORM_strx3 = 0x27, DW_FORM_strx4 = 0x28;
const DW_LNCT_path = 1, DW_LNCT_directory_index = 2;

class Reader {
  pos: number;
  readonly view: DataView;
  constructor(readonly data: Uint8Array, pos = 0, readonly end = data.length) {
    this.pos = pos;
    this.view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  }
  need(n: number): void {
    if (this.pos + n > this.end) throw new DwarfError(`.debug_line: read past the end of a unit at offset 0x${this.pos.toString(16)}`);
  }
  u8(): number { this.need(1); return this.data[this.pos++]!; }
  i8(): number { this.need(1); return this.view.getInt8(this.pos++); }
  u16(): number { this.need(2); const v = this.view.getUint16(this.pos, true); this.pos += 2; return v; }
  u32(): number { this.need(4); const v = this.view.getUint32(this.pos, true); this.pos += 4; return v; }
  u64(): number { this.need(8); const lo = this.view.getUint32(this.pos, true); const hi = this.view.getUint32(this.pos + 4, true); this.pos += 8; return hi * 0x100000000 + lo; }
  address(size: number): number {
    if (size === 4) return this.u32();
    if (size === 8) return this.u64();
    if (size === 2) return this.u16();
    throw new DwarfError(`.debug_line: unsupported address size ${size}`);
  }
  offset(is64: boolean): number { return is64 ? this.u64() : this.u32(); }
  uleb(): number {
    let result = 0;
    let scale = 1;
    for (;;) {
      const b = this.u8();
      result += (b & 0x7f) * scale;
      if ((b & 0x80) === 0) return result;
      scale *= 128;
      if (scale > 2 ** 63) throw new DwarfError('.debug_line: LEB128 number too long');
    }
  }
  sleb(): number {
    let result = 0;
    let scale = 1;
    let b: number;
    do {
      b = this.u8();
      result += (b & 0x7f) * scale;
      scale *= 128;
      if (scale > 2 ** 63) throw new DwarfError('.debug_line: LEB128 number too long');
    } while (b & 0x80);
    if (b & 0x40) result -= scale;
    return result;
  }
  cstring(): string {
    const start = this.pos;
    while (this.pos < this.end && this.data[this.pos] !== 0) this.pos++;
    if (this.pos >= this.end) throw new DwarfError('.debug_line: unterminated string');
    const s = new TextDecoder().decode(this.data.subarray(start, this.pos));
    this.pos++;
    return s;
  }
  /** Passes over n bytes (an attribute value the line program does not need). */
  skipBytes(n: number): void { this.need(n); this.pos += n; }
}

/** A section's contents, inflated when SHF_COMPRESSED (zlib); undefined when it cannot be read. */
export function sectionContents(elf: ElfFile, section: ElfSection): Uint8Array | undefined {
  if ((section.flags & SHF_COMPRESSED) === 0) return section.data;
  const d = section.data;
  const v = new DataView(d.buffer, d.byteOffset, d.byteLength);
  const headerSize = elf.header.bits === 64 ? 24 : 12;
  if (d.length < headerSize) return undefined;
  const type = v.getUint32(0, true);
  if (type !== 1) return undefined; // only ELFCOMPRESS_ZLIB
  try {
    return new Uint8Array(inflateSync(d.subarray(headerSize)));
  } catch {
    return undefined;
  }
}

function stringAt(table: Uint8Array | undefined, offset: number, what: string): string {
  if (!table || offset >= table.length) throw new DwarfError(`.debug_line: ${what} offset 0x${offset.toString(16)} is outside its string section`);
  let end = offset;
  while (end < table.length && table[end] !== 0) end++;
  return new TextDecoder().decode(table.subarray(offset, end));
}

interface EntryFormat { type: number; form: number }

function readEntries(r: Reader, is64: boolean, lineStr: Uint8Array | undefined, str: Uint8Array | undefined): { path: string; dir: number }[] {
  const formatCount = r.u8();
  const formats: EntryFormat[] = [];
  for (let i = 0; i < formatCount; i++) formats.push({ type: r.uleb(), form: r.uleb() });
  const count = r.uleb();
  if (count > r.end - r.pos) throw new DwarfError('.debug_line: entry count larger than the header');
  const out: { path: string; dir: number }[] = [];
  for (let i = 0; i < count; i++) {
    let path = '';
    let dir = 0;
    for (const f of formats) {
      let value: number | string = 0;
      switch (f.form) {
        case DW_FORM_string: value = r.cstring(); break;
        case DW_FORM_line_strp: value = stringAt(lineStr, r.offset(is64), '.debug_line_str'); break;
        case DW_FORM_strp: value = stringAt(str, r.offset(is64), '.debug_str'); break;
        case DW_FORM_udata: value = r.uleb(); break;
        case DW_FORM_sdata: value = r.sleb(); break;
        case DW_FORM_data1: value = r.u8(); break;
        case DW_FORM_data2: value = r.u16(); break;
        case DW_FORM_data4: value = r.u32(); break;
        case DW_FORM_data8: r.skipBytes(8); break;
        case DW_FORM_data16: r.skipBytes(16); break;
        case DW_FORM_block: r.skipBytes(r.uleb()); break;
        case DW_FORM_block1: r.skipBytes(r.u8()); break;
        case DW_FORM_block2: r.skipBytes(r.u16()); break;
        case DW_FORM_block4: r.skipBytes(r.u32()); break;
        case DW_FORM_strx: case DW_FORM_strx1: case DW_FORM_strx2: case DW_FORM_strx3: case DW_FORM_strx4:
          throw new DwarfError('.debug_line: string-index forms (DW_FORM_strx*) are not supported');
        default:
          throw new DwarfError(`.debug_line: unsupported form 0x${f.form.toString(16)} in an entry format`);
      }
      if (f.type === DW_LNCT_path && typeof value === 'string') path = value;
      if (f.type === DW_LNCT_directory_index && typeof value === 'number') dir = value;
    }
    out.push({ path, dir });
  }
  return out;
}

function joinPath(dir: string, name: string, compDir: string): string {
  if (name.startsWith('/')) return name;
  let d = dir;
  if (compDir && d.startsWith(compDir)) d = d.slice(compDir.length).replace(/^\/+/, '');
  const joined = d && d !== '.' ? `${d.replace(/\/+$/, '')}/${name}` : name;
  return joined.replace(/^(\.\/)+/, '');
}

interface Sequence {
  start: number;
  end: number;
  addresses: number[];
  files: string[];
  lines: number[];
}

/** Reads every unit of .debug_line. Returns null when the file has none. Throws DwarfError on malformed data. */
export function readLineTable(elf: ElfFile): LineTable | null {
  const section = elf.sectionByName('.debug_line');
  if (!section || section.size === 0) return null;
  const data = sectionContents(elf, section);
  if (!data) return null;
  const lineStrSection = elf.sectionByName('.debug_line_str');
  const strSection = elf.sectionByName('.debug_str');
  const lineStr = lineStrSection ? sectionContents(elf, lineStrSection) : undefined;
  const str = strSection ? sectionContents(elf, strSection) : undefined;
  const sequences: Sequence[] = [];
  let rows = 0;
  let unitStart = 0;
  while (unitStart + 4 <= data.length) {
    const r = new Reader(data, unitStart);
    let length = r.u32();
    let is64 = false;
    if (length === 0xffffffff) {
      is64 = true;
      length = r.u64();
    } else if (length >= 0xfffffff0) {
      throw new DwarfError(`.debug_line: reserved unit length 0x${length.toString(16)}`);
    }
    const unitEnd = r.pos + length;
    if (unitEnd > data.length) throw new DwarfError(`.debug_line: unit at 0x${unitStart.toString(16)} runs past the end of the section`);
    const u = new Reader(data, r.pos, unitEnd);
    const version = u.u16();
    if (version < 2 || version > 5) throw new DwarfError(`.debug_line: unsupported version ${version}`);
    let addressSize = elf.header.bits === 64 ? 8 : 4;
    if (version >= 5) {
      addressSize = u.u8();
      u.u8(); // segment selector size
    }
    const headerLength = u.offset(is64);
    const programStart = u.pos + headerLength;
    if (programStart > unitEnd) throw new DwarfError('.debug_line: header longer than its unit');
    const minInstLength = u.u8();
    if (version >= 4) u.u8(); // maximum operations per instruction (VLIW only)
    const defaultIsStmt = u.u8() !== 0;
    void defaultIsStmt;
    const lineBase = u.i8();
    const lineRange = u.u8();
    const opcodeBase = u.u8();
    if (lineRange === 0) throw new DwarfError('.debug_line: line_range is 0');
    const standardLengths: number[] = [0];
    for (let i = 1; i < opcodeBase; i++) standardLengths.push(u.u8());
    let files: string[] = [];
    if (version >= 5) {
      const dirs = readEntries(u, is64, lineStr, str).map((d) => d.path);
      const compDir = dirs[0] ?? '';
      files = readEntries(u, is64, lineStr, str).map((f) => joinPath(f.dir === 0 ? '' : dirs[f.dir] ?? '', f.path, compDir));
    } else {
      const dirs = [''];
      for (;;) {
        const d = u.cstring();
        if (d === '') break;
        dirs.push(d);
      }
      files = [''];
      for (;;) {
        const name = u.cstring();
        if (name === '') break;
        const dir = u.uleb();
        u.uleb();
        u.uleb();
        files.push(joinPath(dirs[dir] ?? '', name, ''));
      }
    }

    // The line-number program.
    const p = new Reader(data, programStart, unitEnd);
    let address = 0;
    let file = 1;
    let line = 1;
    let seq: Sequence | null = null;
    const emit = () => {
      if (!seq) seq = { start: address, end: address, addresses: [], files: [], lines: [] };
      seq.addresses.push(address);
      seq.files.push(files[file] ?? `<file ${file}>`);
      seq.lines.push(line);
      rows++;
    };
    const reset = () => {
      address = 0;
      file = 1;
      line = 1;
    };
    while (p.pos < unitEnd) {
      const op = p.u8();
      if (op >= opcodeBase) {
        const adjusted = op - opcodeBase;
        address += Math.floor(adjusted / lineRange) * minInstLength;
        line += lineBase + (adjusted % lineRange);
        emit();
        continue;
      }
      switch (op) {
        case 0: {
          const len = p.uleb();
          if (len === 0) break;
          const sub = p.u8();
          const after = p.pos + len - 1;
          if (after > unitEnd) throw new DwarfError('.debug_line: extended opcode runs past its unit');
          if (sub === 1) {
            // DW_LNE_end_sequence
            if (!seq) seq = { start: address, end: address, addresses: [], files: [], lines: [] };
            const s: Sequence = seq;
            s.end = address;
            if (s.addresses.length > 0) {
              s.start = s.addresses[0]!;
              sequences.push(s);
            }
            seq = null;
            reset();
          } else if (sub === 2) {
            address = p.address(len - 1);
          }
          p.pos = after;
          break;
        }
        case 1: emit(); break; // copy
        case 2: address += p.uleb() * minInstLength; break;
        case 3: line += p.sleb(); break;
        case 4: file = p.uleb(); break;
        case 5: p.uleb(); break;
        case 6: case 7: case 10: case 11: break;
        case 8: address += Math.floor((255 - opcodeBase) / lineRange) * minInstLength; break;
        case 9: address += p.u16(); break;
        case 12: p.uleb(); break;
        default:
          for (let i = 0; i < (standardLengths[op] ?? 0); i++) p.uleb();
      }
    }
    unitStart = unitEnd;
  }

  // Sequences sorted by start; rows within a sequence are in address order (DWARF requires it).
  sequences.sort((a, b) => a.start - b.start);
  const starts = Float64Array.from(sequences, (s) => s.start);
  return {
    rows,
    lookup(address: number) {
      const lo = upperBound(starts, address);
      // Sequences may nest in address space (e.g. discarded sections at 0); try the nearest ones.
      for (let i = lo - 1; i >= 0 && i >= lo - 8; i--) {
        const s = sequences[i]!;
        if (address >= s.end) continue;
        const l = upperBound(s.addresses, address);
        if (l === 0) continue;
        return { file: s.files[l - 1]!, line: s.lines[l - 1]! };
      }
      return undefined;
    },
  };
}
