// `previrt check`: proves over a final image that every sensitive instruction is covered by exactly
// one correct record. Pure: takes a parsed ELF file, returns the findings.
import {
  accessesMemory, decode, instructionText, isNop, recordInstructionClass, memoryOperationKindById, kindName, kindSiteSize, siteNeeded, type DecodedInstruction, type SensitiveClass,
} from '@previrt/isa';
import type { ElfFile } from '../elf/reader.js';
import { STT_OBJECT } from '../elf/constants.js';
import { buildCheckImage, type CheckImage, type PlacedRecord } from './image.js';
import { discoverCode, type CodeMap } from './discover.js';
import { readLineTable, type LineTable } from '../dwarf/line.js';
import { upperBound } from '../sorted.js';

export interface UncoveredSite {
  address: number;
  mnemonic: string;
  kind: string;
  symbol: string | null;
  offset: number;
  source?: string;
}

export interface BadRecord {
  address: number;
  problem: string;
  symbol?: string | null;
  offset?: number;
  source?: string;
}

export interface ExcludedSite {
  address: number;
  mnemonic: string;
  kind: string;
  symbol: string | null;
  offset: number;
  reason: string;
}

export interface CheckResult {
  file: string;
  /** Sensitive instructions found in the code that need a site (plus annotated memory-operation records). */
  sites: number;
  /** Of those, the ones covered by exactly one correct record. */
  covered: number;
  uncovered: UncoveredSite[];
  badRecords: BadRecord[];
  /** Extra facts (not part of the pass/fail verdict). */
  records: number;
  recordsByKind: Record<string, number>;
  /** Sensitive instructions of classes that need no site (traps the hypervisor reflects) without a record. */
  optionalUncovered: number;
  excluded: ExcludedSite[];
  instructionsDecoded: number;
  codeBytes: number;
  executableBytes: number;
}

export interface CheckOptions {
  /** Symbols (exact names, or prefixes ending in '*') whose sensitive instructions are deliberately left alone. */
  excludeSymbols?: readonly string[];
  /** Sections left alone, e.g. code that runs before any VMM exists. */
  excludeSections?: readonly string[];
  /** Require records for trap classes too (int3, ud2, int n, ...). */
  allClasses?: boolean;
  /** Look up source:line in .debug_line (default true). */
  lineInfo?: boolean;
  /** Decode as 16-, 32- or 64-bit code instead of what the ELF machine implies. */
  mode?: 16 | 32 | 64;
}

function hex(n: number): string {
  return `0x${n.toString(16)}`;
}

function matches(patterns: readonly string[], name: string): boolean {
  return patterns.some((p) => (p.endsWith('*') ? name.startsWith(p.slice(0, -1)) : p === name));
}

export function checkElf(elf: ElfFile, options: CheckOptions = {}): CheckResult {
  const image = buildCheckImage(elf, options.mode);
  const code = discoverCode(image, { extraSeeds: image.records.map((r) => r.siteAddress) });
  let lines: LineTable | null = null;
  if (options.lineInfo !== false && !image.relocatable) {
    try {
      lines = readLineTable(elf);
    } catch {
      lines = null; // line info is a convenience; broken DWARF must not hide the verdict
    }
  }
  return verify(image, code, options, lines);
}

interface Site {
  record: PlacedRecord;
  ok: boolean;
}

function verify(image: CheckImage, code: CodeMap, options: CheckOptions, lines: LineTable | null): CheckResult {
  const { elf, mode, regions } = image;
  const badRecords: BadRecord[] = [];
  const source = (address: number) => {
    const l = lines?.lookup(address);
    return l ? `${l.file}:${l.line}` : undefined;
  };
  const bad = (address: number, problem: string) => {
    const d = image.describe(address);
    const s = source(address);
    badRecords.push({ address, problem, symbol: d.symbol, offset: d.offset, ...(s ? { source: s } : {}) });
  };
  for (const p of image.tableProblems) bad(p.address, p.problem);

  const regionIndex = new Map(regions.map((r, i) => [r, i]));
  const recordsByKind: Record<string, number> = {};
  for (const r of image.records) recordsByKind[kindName(r.kind)] = (recordsByKind[kindName(r.kind)] ?? 0) + 1;

  // Records by address: exactly one per site.
  const byAddress = new Map<number, PlacedRecord[]>();
  for (const r of image.records) {
    const list = byAddress.get(r.siteAddress);
    if (list) list.push(r);
    else byAddress.set(r.siteAddress, [r]);
  }

  const okSites = new Map<number, Site>();
  for (const [address, list] of byAddress) {
    const record = list[0]!;
    if (list.length > 1) {
      bad(address, `covered by ${list.length} records (${list.map((r) => r.where).join(', ')}); expected exactly one`);
    }
    const problem = validateRecord(image, code, regionIndex, record, mode);
    if (problem) bad(address, problem);
    okSites.set(address, { record, ok: !problem && list.length === 1 });
  }

  // Overlapping sites.
  const sorted = [...byAddress.keys()].sort((a, b) => a - b);
  for (let i = 1; i < sorted.length; i++) {
    const prev = byAddress.get(sorted[i - 1]!)![0]!;
    const cur = sorted[i]!;
    if (prev.siteAddress + Math.max(prev.siteLen, prev.insnLen) > cur) {
      bad(cur, `site overlaps the site at ${hex(prev.siteAddress)} (${kindName(prev.kind)}, ${prev.siteLen} bytes)`);
      const s = okSites.get(cur);
      if (s) s.ok = false;
      const p = okSites.get(prev.siteAddress);
      if (p) p.ok = false;
    }
  }

  // Every sensitive instruction found in the code.
  const uncovered: UncoveredSite[] = [];
  const excluded: ExcludedSite[] = [];
  let sites = 0;
  let covered = 0;
  let optionalUncovered = 0;
  const excludeSymbols = options.excludeSymbols ?? [];
  const markedExcluded = new Set(image.excludedRecords.map((r) => r.siteAddress));
  const excludeSections = options.excludeSections ?? [];
  for (const insn of code.sensitive) {
    const cls = insn.sensitive!;
    const site = okSites.get(insn.address);
    // A form every back end keeps (push %ds) needs no site, like a trap every hypervisor reflects.
    const required = siteNeeded(cls, insn) || options.allClasses === true;
    if (!required) {
      if (!site) optionalUncovered++;
      continue;
    }
    const d = image.describe(insn.address);
    const region = image.regionAt(insn.address);
    const owner = excludeSymbols.length > 0 ? image.functionAt(insn.address) : null;
    const reason = markedExcluded.has(insn.address)
      ? `marked with the exclusion markers (${image.excludedRecords[0]!.table})`
      : region && excludeSections.includes(region.section.name)
      ? `section ${region.section.name} is excluded`
      : d.symbol && matches(excludeSymbols, d.symbol) ? `symbol ${d.symbol} is excluded`
        : owner && matches(excludeSymbols, owner) ? `symbol ${owner} is excluded` : null;
    if (reason && !site) {
      excluded.push({ address: insn.address, mnemonic: insn.mnemonic, kind: cls.name, symbol: d.symbol, offset: d.offset, reason });
      continue;
    }
    sites++;
    if (site) {
      if (site.ok) covered++;
      continue;
    }
    const s = source(insn.address);
    uncovered.push({ address: insn.address, mnemonic: insn.mnemonic, kind: cls.name, symbol: d.symbol, offset: d.offset, ...(s ? { source: s } : {}) });
  }
  // Annotated memory operations are sites of their own.
  for (const [address, site] of okSites) {
    if (memoryOperationKindById(site.record.kind)) {
      sites++;
      if (site.ok) covered++;
    }
    void address;
  }

  badRecords.sort((a, b) => a.address - b.address);
  return {
    file: elf.fileName,
    sites,
    covered,
    uncovered,
    badRecords,
    records: image.records.length,
    recordsByKind,
    optionalUncovered,
    excluded,
    instructionsDecoded: code.instructions,
    codeBytes: code.codeBytes,
    executableBytes: regions.reduce((n, r) => n + r.data.length, 0),
  };
}

/** The first thing wrong with one record, or null. */
function validateRecord(
  image: CheckImage, code: CodeMap, regionIndex: Map<CheckImage['regions'][number], number>, r: PlacedRecord, mode: 16 | 32 | 64,
): string | null {
  const region = image.regionAt(r.siteAddress);
  const kindText = kindName(r.kind);
  // The instruction class at the site: the kind's own, or the class an annotated kind narrows.
  const cls: SensitiveClass | undefined = recordInstructionClass(r.kind);
  const memoryKind = memoryOperationKindById(r.kind);
  if (!cls && !memoryKind) return `record kind ${r.kind} (${hex(r.kind)}) is not in the catalogue`;
  if (!region) {
    const section = image.elf.sections.find((s) => (image.sectionBase.get(s.index) ?? -1) <= r.siteAddress
      && r.siteAddress < (image.sectionBase.get(s.index) ?? -1) + s.size);
    return `record points outside the executable sections${section ? ` (into ${section.name})` : ''}`;
  }
  if (r.insnLen === 0) return 'record has insn_len 0';
  if (r.siteLen < r.insnLen) return `site_len ${r.siteLen} is shorter than insn_len ${r.insnLen}`;
  const ri = regionIndex.get(region)!;
  const off = r.siteAddress - region.addr;
  if (off + r.siteLen > region.data.length) {
    return `site of ${r.siteLen} bytes runs past the end of section ${region.section.name}`;
  }
  const starts = code.starts[ri]!;
  const nearMiss = () => (cls ? nearestOfClass(region, starts, off, cls, mode) : null);
  if (!starts[off]) {
    const near = nearMiss();
    if (near) return near;
    if (code.covered[ri]![off]) {
      // Find the instruction the record points into.
      let s = off;
      while (s > 0 && !starts[s]) s--;
      const insn = decode(region.data, s, mode, region.addr + s);
      return `record points into the middle of the instruction at ${hex(region.addr + s)} (${instructionText(insn)})`;
    }
    return 'record points at bytes that are not code';
  }
  const insn = decode(region.data, off, mode, r.siteAddress);
  const text = instructionText(insn);
  if (!insn.valid) return `record points at an undefined instruction (${text})`;
  if (cls) {
    if (insn.sensitive?.id !== cls.id) {
      const near = nearMiss();
      if (near) return near;
    }
    if (!insn.sensitive) return `record kind ${kindText} but the instruction is ${text}, which is not sensitive`;
    if (insn.sensitive.id !== cls.id) return `record kind ${kindText} but the instruction is ${text} (${insn.sensitive.name})`;
  } else {
    if (insn.sensitive) return `record kind ${kindText} (a memory operation) but the instruction is ${text} (${insn.sensitive.name})`;
    if (!accessesMemory(insn)) return `record kind ${kindText} but the instruction ${text} does not access memory`;
  }
  if (insn.length !== r.insnLen) return `insn_len ${r.insnLen} but the instruction (${text}) is ${insn.length} bytes`;
  const needed = Math.max(kindSiteSize(r.kind)!, insn.length);
  if (r.siteLen < needed) return `pad too short: site_len ${r.siteLen}, ${kindText} needs ${needed} bytes`;
  // The pad: whole NOP instructions up to the end of the site.
  let at = off + r.insnLen;
  const end = off + r.siteLen;
  while (at < end) {
    const pad: DecodedInstruction = decode(region.data.subarray(0, end), at, mode, region.addr + at);
    if (!isNop(pad, mode) || at + pad.length > end) {
      return `pad byte at ${hex(region.addr + at)} is not a NOP (${instructionText(pad)})`;
    }
    at += pad.length;
  }
  // Symbol boundaries inside the site, and the end of the function holding it.
  const syms = image.symbols;
  const lo = upperBound(image.symbolAddresses, r.siteAddress);
  for (let i = lo; i < syms.length && syms[i]!.address < r.siteAddress + r.siteLen; i++) {
    const s = syms[i]!;
    if (s.sectionIndex === region.section.index) {
      return `site (${r.siteLen} bytes) straddles the start of symbol ${s.name} at ${hex(s.address)}`;
    }
  }
  for (let i = lo - 1; i >= 0 && i >= lo - 64; i--) {
    const s = syms[i]!;
    if (s.sectionIndex !== region.section.index || s.size === 0 || s.type === STT_OBJECT) continue;
    if (r.siteAddress < s.address + s.size && r.siteAddress + r.siteLen > s.address + s.size) {
      return `site (${r.siteLen} bytes) runs past the end of ${s.name} (${hex(s.address + s.size)})`;
    }
  }
  return null;
}

/** "record points 1 byte past the cli at 0x..." when an instruction of the record's class starts nearby. */
function nearestOfClass(region: CheckImage['regions'][number], starts: Uint8Array, off: number, cls: SensitiveClass, mode: 16 | 32 | 64): string | null {
  let best: { delta: number; insn: DecodedInstruction } | null = null;
  for (let at = Math.max(0, off - 15); at <= Math.min(region.data.length - 1, off + 15); at++) {
    if (!starts[at] || at === off) continue;
    const delta = off - at;
    if (best && Math.abs(best.delta) <= Math.abs(delta)) continue;
    const insn = decode(region.data, at, mode, region.addr + at);
    if (insn.sensitive?.id === cls.id) best = { delta, insn };
  }
  if (!best) return null;
  const n = Math.abs(best.delta);
  return `record points ${n} byte${n === 1 ? '' : 's'} ${best.delta > 0 ? 'past' : 'before'} the ${best.insn.mnemonic} at ${hex(best.insn.address)}`;
}

/** Text report lines: `file: address <symbol+offset> [source:line]: problem`, then a summary. */
export function formatCheckText(result: CheckResult): string[] {
  const lines: { address: number; text: string }[] = [];
  const where = (address: number, symbol: string | null | undefined, offset: number | undefined, src?: string) =>
    `${result.file}: ${hex(address)}${symbol ? ` <${symbol}${offset ? `+${hex(offset)}` : ''}>` : ''}${src ? ` ${src}` : ''}`;
  for (const u of result.uncovered) {
    lines.push({ address: u.address, text: `${where(u.address, u.symbol, u.offset, u.source)}: ${u.mnemonic} (${u.kind}) is not covered by a record` });
  }
  for (const b of result.badRecords) {
    lines.push({ address: b.address, text: `${where(b.address, b.symbol, b.offset, b.source)}: ${b.problem}` });
  }
  lines.sort((a, b) => a.address - b.address);
  return lines.map((l) => l.text);
}

export function summaryLine(result: CheckResult): string {
  const parts = [
    `${result.sites} sites`, `${result.covered} covered`, `${result.uncovered.length} uncovered`,
    `${result.badRecords.length} bad records`,
  ];
  if (result.excluded.length > 0) parts.push(`${result.excluded.length} excluded`);
  return `${result.file}: ${parts.join(', ')} (${result.records} records, ${result.instructionsDecoded} instructions decoded)`;
}
