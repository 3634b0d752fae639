// The loader side of the `.afterburn` records: reads the table of an image (through @previrt/linker),
// checks every record against the bytes the Multiboot loader placed in guest memory, and chooses the
// patch of each site for a back end (from the @previrt/isa patch table). A record that does not
// describe its site exactly is refused with the site and the problem named: rewriting from a wrong
// record would corrupt the kernel.
import {
  decode, kindName as catalogueKindName, memoryOperationKindById, patchFor, patchLength, type Paging, recordInstructionClass, type BackendName, type DecodedInstruction, type PatchSpec,
} from '@previrt/isa';
import * as isa from '@previrt/isa';
import * as linker from '@previrt/linker';
import {
  AFTERBURN_END_SYMBOL, AFTERBURN_START_SYMBOL, decodeAfterburn, isAfterburnSectionName, parseElf, type AfterburnRecord,
  type ElfFile,
} from '@previrt/linker';

const PF_X = 1;
const SHF_EXECINSTR = 4;
const PT_LOAD = 1;

export interface Site {
  readonly address: number;
  readonly insnLen: number;
  readonly siteLen: number;
  readonly kind: number;
  readonly kindName: string;
  /** The instruction as found at the site before any rewriting. */
  readonly insn: DecodedInstruction;
  /** Its bytes (insnLen of them). */
  readonly bytes: Uint8Array;
  /** What the loader writes over the site on the chosen back end. */
  readonly patch: PatchSpec;
  /** Where the image's bytes of the site are in guest-physical memory. */
  readonly phys: number;
  /** NOP instructions in the pad (what a kept site executes after its instruction). */
  readonly padNops: number;
  readonly where: string;
}

/** A record the loader refuses, with the site and the problem. */
export class RecordError extends Error {
  constructor(readonly file: string, readonly site: number, readonly problem: string) {
    super(`${file}: record for site 0x${site.toString(16)}: ${problem}`);
    this.name = 'RecordError';
  }
}

/** The records of an image: the table between the start/end symbols, else every .afterburn* section. */
export function readRecords(elf: ElfFile): AfterburnRecord[] {
  const bits = elf.header.bits;
  const sym = (name: string) => elf.symbols.find((s) => s.name === name);
  const start = sym(AFTERBURN_START_SYMBOL), end = sym(AFTERBURN_END_SYMBOL);
  if (start && end && end.value > start.value) {
    const sec = elf.sectionAt(start.value);
    if (sec && sec.data.length > 0) {
      const from = start.value - sec.addr;
      return decodeAfterburn(sec.data.subarray(from, from + (end.value - start.value)), bits, sec.name);
    }
  }
  const out: AfterburnRecord[] = [];
  for (const sec of elf.sections) {
    if (isAfterburnSectionName(sec.name) && (sec.flags & 2)) out.push(...decodeAfterburn(sec.data, bits, sec.name));
  }
  return out;
}

/** Whether a pad instruction changes nothing (the forms GNU as and the isa encoder emit). */
function isPadNop(insn: DecodedInstruction): boolean {
  // The NOP test lives in @previrt/isa (control flow) or, in older trees, in @previrt/linker.
  const fn = ((isa as Record<string, unknown>).isNop ?? (linker as Record<string, unknown>).isNop) as
    ((i: DecodedInstruction, mode: 16 | 32 | 64) => boolean) | undefined;
  if (!fn) throw new Error('no NOP test in @previrt/isa or @previrt/linker');
  return fn(insn, 32);
}

function describeAt(elf: ElfFile, address: number): string {
  const s = elf.symbolAt(address);
  return s ? `<${s.name}+0x${s.offset.toString(16)}>` : '';
}

/**
 * Checks each record against guest memory (`ram`, loaded from `elf`) and returns the sites with
 * their patches for `backend`. Throws RecordError for the first bad record.
 */
export function loadSites(
  file: string, elf: ElfFile, ram: Uint8Array, backend: BackendName, records = readRecords(elf), paging: Paging = 'nested',
): Site[] {
  if (elf.header.machine !== 3) throw new RecordError(file, 0, 'the in-place VMM runs 32-bit x86 (EM_386) kernels only');
  const loaded = elf.segments.filter((s) => s.type === PT_LOAD && s.filesz > 0);
  // Code is what an executable segment or section holds: Linux i386 links .init.text into its RW data
  // segment (no PF_X: without NX the flag means nothing to the hardware).
  const execSections = elf.sections.filter((sec) => (sec.flags & SHF_EXECINSTR) && sec.size > 0);
  const inCode = (seg: { flags: number }, a: number, len: number): boolean => (seg.flags & PF_X) !== 0
    || execSections.some((sec) => a >= sec.addr && a + len <= sec.addr + sec.size);
  const sites: Site[] = [];
  for (const r of records) {
    const fail = (problem: string): never => { throw new RecordError(file, r.siteAddress, `${describeAt(elf, r.siteAddress)} ${problem}`.trim()); };
    // The instruction class at the site: the kind's own, or the class an annotated kind narrows.
    const cls = recordInstructionClass(r.kind);
    const mem = memoryOperationKindById(r.kind);
    if (!cls && !mem) fail(`unknown record kind 0x${r.kind.toString(16)}`);
    const kindName = catalogueKindName(r.kind);
    if (r.insnLen < 1 || r.insnLen > 15) fail(`${kindName}: instruction length ${r.insnLen} is impossible`);
    if (r.siteLen < r.insnLen) fail(`${kindName}: site length ${r.siteLen} is shorter than the instruction (${r.insnLen})`);
    const seg = loaded.find((s) => r.siteAddress >= s.vaddr && r.siteAddress + r.siteLen <= s.vaddr + s.filesz
      && inCode(s, r.siteAddress, r.siteLen));
    if (!seg) fail(`${kindName}: the site (${r.siteLen} bytes) is not inside an executable loaded segment (PF_X, or a section with SHF_EXECINSTR)`);
    const phys = seg!.paddr + (r.siteAddress - seg!.vaddr);
    if (phys + r.siteLen > ram.length) fail(`${kindName}: the site lies beyond guest memory`);
    const bytes = ram.subarray(phys, phys + r.siteLen);
    const insn = decode(bytes, 0, 32, r.siteAddress);
    if (!insn.valid) fail(`${kindName}: the bytes at the site do not decode (${hexBytes(bytes.subarray(0, r.insnLen))})`);
    const text = `${insn.mnemonic}${insn.operandText ? ' ' + insn.operandText : ''}`;
    if (cls) {
      if (!insn.sensitive) fail(`${kindName}: the site holds \`${text}\`, which is not sensitive`);
      if (insn.sensitive!.id !== cls!.id) fail(`${kindName}: the site holds \`${text}\`, a ${insn.sensitive!.name} instruction`);
    } else if (!isMemoryAccess(insn, kindName)) {
      fail(`${kindName}: the site holds \`${text}\`, not the annotated ${kindName.endsWith('test-and-clear') ? 'lock btr' : 'mov'} access`);
    }
    if (insn.length !== r.insnLen) fail(`${kindName}: the instruction at the site is ${insn.length} bytes, the record says ${r.insnLen}`);
    const patch = patchFor(r.kind, backend, insn, { paging, siteLen: r.siteLen });
    const length = patchLength(patch, insn.length);
    if (length > r.siteLen) fail(`${kindName}: the ${backend} patch (${length} bytes) does not fit the ${r.siteLen}-byte site`);
    let padNops = 0;
    for (let at = r.insnLen; at < r.siteLen; padNops++) {
      const pad = decode(bytes, at, 32, r.siteAddress + at);
      if (!pad.valid || !isPadNop(pad) || at + pad.length > r.siteLen) {
        fail(`${kindName}: byte ${at} of the ${r.siteLen}-byte site is not NOP padding (\`${pad.mnemonic} ${pad.operandText}\`)`);
      }
      at += pad.length;
    }
    sites.push({
      address: r.siteAddress, insnLen: r.insnLen, siteLen: r.siteLen, kind: r.kind, kindName, insn,
      bytes: Uint8Array.from(bytes.subarray(0, r.insnLen)), patch, phys, padNops, where: describeAt(elf, r.siteAddress),
    });
  }
  sites.sort((a, b) => a.address - b.address);
  for (let i = 1; i < sites.length; i++) {
    const p = sites[i - 1]!, s = sites[i]!;
    if (s.address < p.address + p.siteLen) {
      throw new RecordError(file, s.address, `${s.where} ${s.kindName}: overlaps the ${p.kindName} site at 0x${p.address.toString(16)}`.trim());
    }
  }
  return sites;
}

/** The annotated access of a memory-operation kind: one mov to/from memory, or lock btr. */
function isMemoryAccess(insn: DecodedInstruction, kind: string): boolean {
  const memOperand = insn.modrm !== null ? (insn.modrm >> 6) !== 3 : insn.opcodeMap === 'primary' && insn.opcode >= 0xa0 && insn.opcode <= 0xa3;
  if (!memOperand) return false;
  if (kind.endsWith("test-and-clear")) return insn.prefixes.lock && /(^|\s)btr[wl]?$/.test(insn.mnemonic);
  return /^mov[bwl]?$/.test(insn.mnemonic);
}

function hexBytes(b: Uint8Array): string {
  return [...b].map((x) => x.toString(16).padStart(2, '0')).join(' ');
}

export { parseElf };
