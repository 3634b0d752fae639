// The check's view of an ELF file: its executable regions at addresses, its symbols at those
// addresses, and its record tables with each site address resolved. A linked image uses the
// addresses it has; a relocatable object gets each allocated section laid out one after another (as
// a linker would), so that every byte has one address and the record relocations can be applied.
import {
  EM_386, EM_X86_64, ET_REL, SHF_ALLOC, SHF_EXECINSTR, SHN_LORESERVE, SHN_UNDEF, SHT_NOBITS, SHT_PROGBITS,
  STT_FUNC, STT_GNU_IFUNC, STT_NOTYPE, STT_OBJECT,
} from '../elf/constants.js';
import type { ElfFile, ElfSection, ElfSymbol } from '../elf/reader.js';
import {
  AFTERBURN_END_SYMBOL, AFTERBURN_EXCLUDED_SECTION, AFTERBURN_START_SYMBOL, afterburnRecordSize, isAfterburnSectionName, decodeAfterburn,
  AfterburnFormatError, type AfterburnRecord,
} from '../afterburn.js';
import { upperBound } from '../sorted.js';

export class CheckInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CheckInputError';
  }
}

export interface Region {
  section: ElfSection;
  /** Address of the first byte (the section's own, or its place in the object's layout). */
  addr: number;
  data: Uint8Array;
}

export interface PlacedSymbol {
  name: string;
  address: number;
  size: number;
  type: number;
  sectionIndex: number;
  symbol: ElfSymbol;
}

export interface PlacedRecord extends AfterburnRecord {
  /** Where the record itself lives, for messages: "section+offset". */
  where: string;
  /** Table section name (".afterburn", ".afterburn.pte-set"). */
  table: string;
}

export interface TableProblem {
  address: number;
  problem: string;
}

export interface CheckImage {
  elf: ElfFile;
  mode: 16 | 32 | 64;
  relocatable: boolean;
  regions: Region[];
  /** Address of each allocated section (index -> address); the section's own addr when linked. */
  sectionBase: Map<number, number>;
  /** Function, object and untyped symbols with their addresses, sorted by address. */
  symbols: PlacedSymbol[];
  /** The addresses of `symbols`, for binary search (upperBound). */
  symbolAddresses: Float64Array;
  records: PlacedRecord[];
  /** Records of instructions excluded on purpose (.afterburn_excluded). */
  excludedRecords: PlacedRecord[];
  /** Problems with the tables themselves (unreadable records, tables the loader cannot see). */
  tableProblems: TableProblem[];
  /** The entry point, when the file has one. */
  entry: number | null;
  regionAt(address: number): Region | undefined;
  /** "0x... <symbol+0x..>" or, in an object, ".text+0x..". */
  describe(address: number): { symbol: string | null; offset: number };
  /** The function (a sized FUNC or untyped symbol) whose extent holds the address. */
  functionAt(address: number): string | null;
}

function alignUp(n: number, a: number): number {
  return a > 1 ? Math.ceil(n / a) * a : n;
}

const CODE_SYMBOL_TYPES = new Set([STT_FUNC, STT_GNU_IFUNC, STT_NOTYPE, STT_OBJECT]);

/** `mode` overrides the decoding mode the machine implies (16 for `.code16` boot and real-mode objects). */
export function buildCheckImage(elf: ElfFile, modeOverride?: 16 | 32 | 64): CheckImage {
  const { machine, bits, type } = elf.header;
  if (machine !== EM_386 && machine !== EM_X86_64) {
    throw new CheckInputError(`${elf.fileName}: machine ${machine} is not x86 (expected EM_386 or EM_X86_64)`);
  }
  const mode: 16 | 32 | 64 = modeOverride ?? (machine === EM_X86_64 ? 64 : 32);
  const relocatable = type === ET_REL;
  const sectionBase = new Map<number, number>();
  if (relocatable) {
    // Lay the allocated sections out from a base that keeps every address non-zero.
    let at = 0x1000;
    for (const s of elf.sections) {
      if ((s.flags & SHF_ALLOC) === 0) continue;
      at = alignUp(at, Math.max(1, s.addralign));
      sectionBase.set(s.index, at);
      at += Math.max(s.size, 1);
    }
  } else {
    for (const s of elf.sections) if ((s.flags & SHF_ALLOC) !== 0) sectionBase.set(s.index, s.addr);
  }

  const regions: Region[] = [];
  for (const s of elf.sections) {
    if ((s.flags & SHF_EXECINSTR) === 0 || (s.flags & SHF_ALLOC) === 0 || s.type === SHT_NOBITS || s.size === 0) continue;
    regions.push({ section: s, addr: sectionBase.get(s.index)!, data: s.data });
  }
  // No section headers: the executable load segments are the code.
  if (elf.sections.length === 0) {
    for (const p of elf.segments) {
      if (p.type !== 1 || (p.flags & 1) === 0 || p.filesz === 0) continue;
      const pseudo: ElfSection = {
        index: -1 - p.index, name: `segment ${p.index}`, nameOffset: 0, type: SHT_PROGBITS, typeName: 'PROGBITS',
        flags: SHF_ALLOC | SHF_EXECINSTR, addr: p.vaddr, offset: p.offset, size: p.filesz, link: 0, info: 0,
        addralign: p.align, entsize: 0, data: p.data,
      };
      regions.push({ section: pseudo, addr: p.vaddr, data: p.data });
    }
  }
  for (const r of regions) {
    if (r.addr + r.data.length > Number.MAX_SAFE_INTEGER) {
      throw new CheckInputError(`${elf.fileName}: section ${r.section.name} lies beyond 2^53; the check handles addresses below 2^53 only`);
    }
  }
  regions.sort((a, b) => a.addr - b.addr);

  const symbols: PlacedSymbol[] = [];
  const source = elf.symbols.length > 0 ? elf.symbols : elf.dynamicSymbols;
  for (const s of source) {
    if (!CODE_SYMBOL_TYPES.has(s.type) || s.name === '' || s.shndx === SHN_UNDEF || s.shndx >= SHN_LORESERVE) continue;
    const base = sectionBase.get(s.shndx);
    if (base === undefined) continue;
    symbols.push({ name: s.name, address: relocatable ? base + s.value : s.value, size: s.size, type: s.type, sectionIndex: s.shndx, symbol: s });
  }
  symbols.sort((a, b) => a.address - b.address || rank(a) - rank(b));

  const regionAddresses = Float64Array.from(regions, (r) => r.addr);
  const regionAt = (address: number): Region | undefined => {
    const r = regions[upperBound(regionAddresses, address) - 1];
    return r && address < r.addr + r.data.length ? r : undefined;
  };

  const symbolAddresses = Float64Array.from(symbols, (s) => s.address);
  const describe = (address: number): { symbol: string | null; offset: number } => {
    const region = regionAt(address);
    for (let i = upperBound(symbolAddresses, address) - 1; i >= 0; i--) {
      const s = symbols[i]!;
      if (region && s.sectionIndex !== region.section.index) {
        if (s.address < region.addr) break;
        continue;
      }
      // The best-ranked symbol of those at the same address.
      let best = s;
      for (let j = i - 1; j >= 0 && symbols[j]!.address === s.address; j--) {
        if (!region || symbols[j]!.sectionIndex === region.section.index) best = symbols[j]!;
      }
      return { symbol: best.name, offset: address - best.address };
    }
    if (region) return { symbol: region.section.name, offset: address - region.addr };
    return { symbol: null, offset: 0 };
  };

  const functionAt = (address: number): string | null => {
    const lo = upperBound(symbolAddresses, address);
    for (let i = lo - 1; i >= 0 && i >= lo - 256; i--) {
      const s = symbols[i]!;
      if (s.size > 0 && s.type !== STT_OBJECT && address < s.address + s.size) return s.name;
    }
    return null;
  };

  const { records, tableProblems } = readRecords(elf, bits, relocatable, sectionBase, symbols, isAfterburnSectionName, true);
  const excludedRecords = readRecords(elf, bits, relocatable, sectionBase, symbols, (n) => n === AFTERBURN_EXCLUDED_SECTION, false).records;
  const entry = relocatable || elf.header.entry === 0 ? null : elf.header.entry;
  return { elf, mode, relocatable, regions, sectionBase, symbols, symbolAddresses, records, excludedRecords, tableProblems, entry, regionAt, describe, functionAt };
}

/** Functions before objects before untyped labels; globals before locals. */
function rank(s: PlacedSymbol): number {
  const t = s.type === STT_FUNC || s.type === STT_GNU_IFUNC ? 0 : s.type === STT_OBJECT ? 1 : 2;
  const b = s.symbol.bind === 1 ? 0 : s.symbol.bind === 2 ? 1 : 2;
  return t * 10 + b;
}

function readRecords(
  elf: ElfFile, bits: 32 | 64, relocatable: boolean, sectionBase: Map<number, number>, symbols: PlacedSymbol[],
  isTable: (name: string) => boolean, loaderTable: boolean,
): { records: PlacedRecord[]; tableProblems: TableProblem[] } {
  const records: PlacedRecord[] = [];
  const tableProblems: TableProblem[] = [];
  const size = afterburnRecordSize(bits);
  const tables = elf.sections.filter((s) => isTable(s.name) && s.type !== SHT_NOBITS);
  const decodeTable = (bytes: Uint8Array, where: string): AfterburnRecord[] => {
    try {
      return decodeAfterburn(bytes, bits, where);
    } catch (err) {
      if (err instanceof AfterburnFormatError) {
        tableProblems.push({ address: 0, problem: err.message });
        // Keep the whole records that are there.
        const whole = bytes.subarray(0, bytes.length - (bytes.length % size));
        try {
          return decodeAfterburn(whole, bits, where);
        } catch {
          return [];
        }
      }
      throw err;
    }
  };

  if (relocatable || !loaderTable) {
    for (const t of tables) {
      if (!relocatable) {
        // A linked table outside the loaded image: its words are final addresses.
        decodeTable(t.data, t.name).forEach((r, i) => records.push({ ...r, where: `${t.name}+0x${(i * size).toString(16)}`, table: t.name }));
        continue;
      }
      const rel = elf.relocations.find((r) => r.target?.index === t.index);
      const raw = decodeTable(t.data, t.name);
      const byOffset = new Map<number, { section: number; value: number }>();
      for (const e of rel?.entries ?? []) {
        const sym = e.symbol;
        if (!sym || sym.shndx === SHN_UNDEF || sym.shndx >= SHN_LORESERVE) continue;
        const addend = e.addend ?? 0;
        byOffset.set(e.offset, { section: sym.shndx, value: sym.value + addend });
      }
      raw.forEach((r, i) => {
        const at = i * size;
        const target = byOffset.get(at);
        const where = `${t.name}+0x${at.toString(16)}`;
        if (!target || !sectionBase.has(target.section)) {
          tableProblems.push({ address: 0, problem: `record ${where} has no relocation to a section of this object (cannot tell which site it names)` });
          return;
        }
        records.push({ ...r, siteAddress: sectionBase.get(target.section)! + target.value, where, table: t.name });
      });
    }
    return { records, tableProblems };
  }

  // Linked image: the loader reads [__afterburn_start, __afterburn_end).
  const start = symbols.find((s) => s.name === AFTERBURN_START_SYMBOL) ?? placedAbs(elf, AFTERBURN_START_SYMBOL);
  const end = symbols.find((s) => s.name === AFTERBURN_END_SYMBOL) ?? placedAbs(elf, AFTERBURN_END_SYMBOL);
  let covered: { lo: number; hi: number } | undefined;
  if (start && end) {
    if (end.address < start.address) {
      tableProblems.push({ address: start.address, problem: `${AFTERBURN_END_SYMBOL} (0x${end.address.toString(16)}) is below ${AFTERBURN_START_SYMBOL}` });
    } else {
      covered = { lo: start.address, hi: end.address };
      if ((end.address - start.address) % size !== 0) {
        tableProblems.push({ address: start.address, problem: `the table between ${AFTERBURN_START_SYMBOL} and ${AFTERBURN_END_SYMBOL} is ${end.address - start.address} bytes, not a multiple of the ${size}-byte record` });
      }
    }
  } else if (start || end) {
    tableProblems.push({ address: (start ?? end)!.address, problem: `only one of ${AFTERBURN_START_SYMBOL} and ${AFTERBURN_END_SYMBOL} is defined` });
  }
  for (const t of tables) {
    const raw = decodeTable(t.data, t.name);
    raw.forEach((r, i) => {
      const at = t.addr + i * size;
      const where = `${t.name}+0x${(i * size).toString(16)}`;
      if (covered && (at < covered.lo || at + size > covered.hi)) {
        tableProblems.push({ address: r.siteAddress, problem: `record ${where} lies outside ${AFTERBURN_START_SYMBOL}..${AFTERBURN_END_SYMBOL}: the loader will not see it` });
      }
      records.push({ ...r, where, table: t.name });
    });
  }
  if (covered && covered.hi > covered.lo) {
    const inTables = tables.some((t) => covered!.lo >= t.addr && covered!.hi <= t.addr + t.size);
    if (!inTables) {
      tableProblems.push({ address: covered.lo, problem: `${AFTERBURN_START_SYMBOL}..${AFTERBURN_END_SYMBOL} (0x${covered.lo.toString(16)}..0x${covered.hi.toString(16)}) is not inside one .afterburn section` });
    }
  }
  return { records, tableProblems };
}

/** Absolute symbols (a linker script's `__afterburn_start = .` outside a section ends up ABS). */
function placedAbs(elf: ElfFile, name: string): PlacedSymbol | undefined {
  const s = elf.symbols.find((x) => x.name === name && x.shndx === 0xfff1);
  return s && { name, address: s.value, size: 0, type: s.type, sectionIndex: -1, symbol: s };
}
