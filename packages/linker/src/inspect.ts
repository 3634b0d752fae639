// `previrt inspect`: the records of an image (or object) with their kinds, and a count per kind.
import { decode, instructionText, kindName } from '@previrt/isa';
import type { ElfFile } from './elf/reader.js';
import { AFTERBURN_FORMAT_VERSION } from './afterburn.js';
import { buildCheckImage } from './check/image.js';

export interface InspectedRecord {
  address: number;
  kind: string;
  kindId: number;
  insnLen: number;
  siteLen: number;
  symbol: string | null;
  offset: number;
  /** The instruction at the site as objdump prints it, when the site is in an executable section. */
  instruction: string | null;
  /** The table holding the record (".afterburn", ".afterburn.pte-set"). */
  table: string;
}

export interface InspectResult {
  file: string;
  format: number;
  elfClass: 32 | 64;
  records: InspectedRecord[];
  byKind: Record<string, number>;
  /** Problems reading the tables (a size that is not a whole number of records, ...). */
  problems: string[];
}

export function inspectElf(elf: ElfFile, mode?: 16 | 32 | 64): InspectResult {
  const image = buildCheckImage(elf, mode);
  const records: InspectedRecord[] = image.records.map((r) => {
    const d = image.describe(r.siteAddress);
    const region = image.regionAt(r.siteAddress);
    let instruction: string | null = null;
    if (region) {
      const insn = decode(region.data, r.siteAddress - region.addr, image.mode, r.siteAddress);
      instruction = instructionText(insn);
    }
    return {
      address: r.siteAddress, kind: kindName(r.kind), kindId: r.kind, insnLen: r.insnLen, siteLen: r.siteLen,
      symbol: d.symbol, offset: d.offset, instruction, table: r.table,
    };
  });
  records.sort((a, b) => a.address - b.address);
  const byKind: Record<string, number> = {};
  for (const r of records) byKind[r.kind] = (byKind[r.kind] ?? 0) + 1;
  return { file: elf.fileName, format: AFTERBURN_FORMAT_VERSION, elfClass: elf.header.bits, records, byKind, problems: image.tableProblems.map((p) => p.problem) };
}
