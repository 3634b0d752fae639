// Finding the code in the executable sections, so that data and fill bytes there are never decoded
// as instructions. How code is told apart (documented in packages/linker/README.md):
//  1. Linear sweep over each function's extent: a symbol of type FUNC (or an untyped label with a
//     size, as `SYM_CODE_START`/`SYM_CODE_END` in Linux `.S` files produce) covers [value, value+size).
//     Compilers keep jump tables and literals out of x86 function bodies, so every byte there is code.
//  2. Recursive descent from the entry point, from untyped labels without a size, from the targets
//     of every relative jump and call found, and from record sites the first passes did not reach:
//     decode until control cannot fall through (jmp, ret, iret, lret, sysexit, sysret, ud2) or an
//     undefined encoding shows that the bytes are not code.
//  3. Objects (data) in executable sections are never decoded; neither are bytes that nothing
//     reaches, such as int3/NOP fill between functions and alignment padding.
//  4. A section with no symbol in it at all (a stripped file, a blob of hand-written code) is swept
//     linearly from its start: without symbols there is nothing to tell code from data.
import { branchTarget, decode, endsFlow, type DecodedInstruction } from '@previrt/isa';
import { STT_OBJECT, STT_NOTYPE, STT_FUNC, STT_GNU_IFUNC } from '../elf/constants.js';
import type { CheckImage, Region } from './image.js';

/** Instruction starts per region: length of the instruction starting at each byte (0: none). */
export interface CodeMap {
  /** Per region (same order as image.regions). */
  starts: Uint8Array[];
  /** Bytes that belong to some decoded instruction. */
  covered: Uint8Array[];
  /** Sensitive instructions found, in address order. */
  sensitive: DecodedInstruction[];
  /** Instructions decoded (each counted once). */
  instructions: number;
  /** Bytes of decoded instructions. */
  codeBytes: number;
}

export interface DiscoverOptions {
  /** Extra addresses known to be instruction starts (record sites). */
  extraSeeds?: readonly number[];
}

export function discoverCode(image: CheckImage, options: DiscoverOptions = {}): CodeMap {
  const { regions, mode } = image;
  const starts = regions.map((r) => new Uint8Array(r.data.length));
  const covered = regions.map((r) => new Uint8Array(r.data.length));
  const isData = regions.map((r) => new Uint8Array(r.data.length));
  const sensitive: DecodedInstruction[] = [];
  let instructions = 0;
  let codeBytes = 0;
  const regionIndex = new Map<Region, number>(regions.map((r, i) => [r, i]));
  const followTargets = !image.relocatable; // branch fields of an object are unrelocated
  const worklist: number[] = [];

  const locate = (address: number): [number, number] | null => {
    const r = image.regionAt(address);
    if (!r) return null;
    return [regionIndex.get(r)!, address - r.addr];
  };

  /** Decodes one instruction at (region, offset) unless already known; returns it, or null if known. */
  const visit = (ri: number, off: number): DecodedInstruction | null => {
    const region = regions[ri]!;
    const insn = decode(region.data, off, mode, region.addr + off);
    const len = Math.max(1, Math.min(insn.length, region.data.length - off));
    starts[ri]![off] = len;
    const cov = covered[ri]!;
    for (let i = off; i < off + len; i++) cov[i] = 1;
    instructions++;
    codeBytes += len;
    if (insn.sensitive) sensitive.push(insn);
    if (followTargets) {
      const t = branchTarget(insn);
      if (t !== null) worklist.push(t);
    }
    return insn;
  };

  const sweep = (ri: number, from: number, to: number) => {
    const st = starts[ri]!;
    const data = isData[ri]!;
    let off = from;
    while (off < to) {
      if (st[off]) {
        off += st[off]!;
        continue;
      }
      if (data[off]) {
        off++;
        continue;
      }
      const insn = visit(ri, off)!;
      off += st[off]!;
      void insn;
    }
  };

  const descend = (address: number) => {
    let at = locate(address);
    while (at) {
      const [ri, off] = at;
      if (starts[ri]![off] || covered[ri]![off] || isData[ri]![off]) return;
      const insn = visit(ri, off)!;
      if (endsFlow(insn)) return;
      const next = off + starts[ri]![off]!;
      if (next >= regions[ri]!.data.length) return;
      at = [ri, next];
    }
  };

  // Objects are data; mark them first so neither sweep nor descent decodes them.
  for (const s of image.symbols) {
    if (s.type !== STT_OBJECT || s.size === 0) continue;
    const at = locate(s.address);
    if (!at) continue;
    const [ri, off] = at;
    isData[ri]!.fill(1, off, Math.min(off + s.size, regions[ri]!.data.length));
  }

  const symbolsIn = new Array<number>(regions.length).fill(0);
  for (const s of image.symbols) {
    const at = locate(s.address);
    if (!at) continue;
    symbolsIn[at[0]]!++;
    const [ri, off] = at;
    const isFunction = s.type === STT_FUNC || s.type === STT_GNU_IFUNC;
    if ((isFunction || s.type === STT_NOTYPE) && s.size > 0) {
      sweep(ri, off, Math.min(off + s.size, regions[ri]!.data.length));
    } else if (isFunction || s.type === STT_NOTYPE) {
      worklist.push(s.address);
    }
  }
  regions.forEach((r, ri) => {
    if (symbolsIn[ri] === 0) sweep(ri, 0, r.data.length);
  });
  if (image.entry !== null) worklist.push(image.entry);
  const drain = () => {
    while (worklist.length > 0) descend(worklist.pop()!);
  };
  drain();
  // Record sites not reached yet: trust them as code (their own validity is checked separately).
  for (const a of options.extraSeeds ?? []) {
    const at = locate(a);
    if (at && !covered[at[0]]![at[1]] && !isData[at[0]]![at[1]]) worklist.push(a);
  }
  drain();

  sensitive.sort((a, b) => a.address - b.address);
  return { starts, covered, sensitive, instructions, codeBytes };
}
