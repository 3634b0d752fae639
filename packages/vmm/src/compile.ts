// Instruction semantics: turns the decoder's raw fields into closures, one per instruction, grouped in
// basic blocks. A block ends at a control transfer, at an instruction that changes how the following
// ones must be compiled or when interrupts are recognised (mode, CPL, IF), or at the end of a page.
import {
  AF, CC_EFLAGS, CF, DF, IF, IOPL, K_ADC, K_ADD, K_DEC, K_INC, K_LOGIC, K_MUL, K_SAR, K_SBB, K_SHL, K_SUB, NT, OF, PARITY,
  PF, SF, SIZE_BITS, SIZE_MASK, SIZE_SIGN, TF, VM, ZF, computeFlags,
} from './flags.js';
import { Cpu } from './cpu.js';
import {
  BP, BR, DE, FAULT, GP, MachineStop, NM, NP, OFV, SEG_CS, SEG_DS, SEG_ES, SEG_FS, SEG_GS, SEG_SS, SS_V, TS, UD, hex,
} from './arch.js';
import type { RawInstruction } from './decoder.js';
import { sensitiveClassByName } from '@previrt/isa';
import { x87Op } from './x87.js';
import { cpuidLeaf } from './cpuid.js';
import { compileSse } from './sse.js';

export type Op = () => void;

export interface Block {
  phys: number;
  eip: number;
  endEip: number;
  csBase: number;
  codeSize: 16 | 32;
  ops: Op[];
  /** EIP of each instruction (for faults and partial execution). */
  eips: number[];
  /** Decoded instructions, kept for failure reports. */
  insns: RawInstruction[];
  valid: boolean;
  lastPhysPage: number;
  /** The CPU's dispatchEpoch when the block was last looked up (validates the EIP cache). */
  epoch: number;
  hits: number;
  /** The generated function of a hot block (see ./jit.ts): returns extra loop passes run. */
  fn: ((budget: number) => number) | null;
}

const MAX_BLOCK = 128;
const SEG_BY_NAME: Record<string, number> = { es: SEG_ES, cs: SEG_CS, ss: SEG_SS, ds: SEG_DS, fs: SEG_FS, gs: SEG_GS };

/** Catalogue id of a sensitive class (the hooks report these). */
function classId(name: string): number {
  const c = sensitiveClassByName(name);
  if (!c) throw new Error(`sensitive class ${name} missing from the @previrt/isa catalogue`);
  return c.id;
}
const SC = {
  cli: classId('cli'), sti: classId('sti'), pushf: classId('pushf'), popf: classId('popf'),
  lgdt: classId('lgdt'), sgdt: classId('sgdt'), lidt: classId('lidt'), sidt: classId('sidt'),
  lldt: classId('lldt'), sldt: classId('sldt'), ltr: classId('ltr'), str: classId('str'),
  lar: classId('lar'), lsl: classId('lsl'), verr: classId('verr'), verw: classId('verw'), arpl: classId('arpl'),
  ljmp: classId('ljmp'), lcall: classId('lcall'), lret: classId('lret'), iret: classId('iret'),
  lfp: classId('load-far-pointer'), movToSeg: classId('mov-to-segment'), movFromSeg: classId('mov-from-segment'),
  pushSeg: classId('push-segment'), popSeg: classId('pop-segment'),
  movToCr: classId('mov-to-cr'), movFromCr: classId('mov-from-cr'), movToDr: classId('mov-to-dr'), movFromDr: classId('mov-from-dr'),
  clts: classId('clts'), lmsw: classId('lmsw'), smsw: classId('smsw'),
  rdmsr: classId('rdmsr'), wrmsr: classId('wrmsr'), rdtsc: classId('rdtsc'), rdpmc: classId('rdpmc'), cpuid: classId('cpuid'),
  invd: classId('invd'), wbinvd: classId('wbinvd'), invlpg: classId('invlpg'), hlt: classId('hlt'),
  in: classId('in'), out: classId('out'), ins: classId('ins'), outs: classId('outs'),
  int: classId('int'), int3: classId('int3'), into: classId('into'), sysenter: classId('sysenter'), sysexit: classId('sysexit'),
  ud2: classId('ud2'),
};

/** Thrown at compile time for an encoding the machine does not implement (reported at execution). */
class Unimplemented {
  constructor(readonly what: string) {}
}

const scratch = new Uint8Array(16);

export function compileBlock(c: Cpu, phys: number): Block {
  const csBase = c.segBase[SEG_CS];
  const codeSize = c.codeSize;
  const startEip = c.eip;
  const ops: Op[] = [];
  const eips: number[] = [];
  const insns: RawInstruction[] = [];
  let eip = startEip;
  let lastPhysPage = phys >>> 12;
  const startPage = (csBase + startEip) >>> 12;
  for (;;) {
    const lin = (csBase + eip) | 0;
    let avail: number;
    try {
      avail = c.fetchBytes(lin, scratch, 15);
    } catch (e) {
      if (ops.length === 0) throw e;
      break;
    }
    const insn = c.decoder(avail === 15 ? scratch : scratch.subarray(0, avail), 0, codeSize);
    if (insn.valid && insn.length > avail) {
      // The rest of the instruction is on a page that faults: raise it when this instruction runs.
      if (ops.length > 0) break;
      c.fetchBytes((lin + avail) | 0, scratch.subarray(avail), 1);
    }
    const next = codeSize === 16 ? (eip + insn.length) & 0xffff : (eip + insn.length) | 0;
    let op: Op;
    let ends = false;
    try {
      const r = compileInsn(c, insn, eip, next);
      op = r.op;
      ends = r.ends;
    } catch (e) {
      if (!(e instanceof Unimplemented)) throw e;
      const what = `${e.what} at ${hex(c.segSel[SEG_CS], 4)}:${hex(eip)}`;
      op = () => { throw new MachineStop(`unimplemented instruction: ${what}`, 'unimplemented'); };
      ends = true;
    }
    ops.push(op);
    eips.push(eip);
    insns.push(insn);
    const endLin = (lin + insn.length - 1) | 0;
    if (endLin >>> 12 !== lin >>> 12) {
      lastPhysPage = (c.translate(endLin, false, c.cpl === 3) >>> 12);
      eip = next;
      break;
    }
    eip = next;
    if (ends || ops.length >= MAX_BLOCK || ((csBase + eip) >>> 12) !== startPage) break;
  }
  const block: Block = {
    phys, eip: startEip, endEip: eip, csBase, codeSize, ops, eips, insns, valid: true, lastPhysPage, epoch: -1, hits: 0, fn: null,
  };
  c.registerBlock(block);
  return block;
}

interface Compiled { op: Op; ends: boolean }

/**
 * One instruction from `bytes`, compiled as if it were at `eip` with `next` as the address after it
 * (the in-place monitor runs a site's original instruction this way). Control transfers set c.eip;
 * other instructions leave it alone.
 */
export function compileOne(c: Cpu, bytes: Uint8Array, eip: number, next: number): Compiled {
  const insn = c.decoder(bytes, 0, c.codeSize);
  try {
    return compileInsn(c, insn, eip, next);
  } catch (e) {
    if (!(e instanceof Unimplemented)) throw e;
    const what = `${e.what} at ${hex(c.segSel[SEG_CS], 4)}:${hex(eip)}`;
    return { op: () => { throw new MachineStop(`unimplemented instruction: ${what}`, 'unimplemented'); }, ends: true };
  }
}

function signExtend(v: number, ot: number): number {
  return ot === 0 ? (v << 24) >> 24 : ot === 1 ? (v << 16) >> 16 : v | 0;
}

/** Evaluates condition code n (0..15, the low nibble of Jcc/SETcc/CMOVcc). */
export function testCondition(c: Cpu, n: number): boolean {
  const op = c.ccOp;
  const kind = op >> 2;
  let r: boolean;
  if (kind === K_SUB && (n >> 1) !== 0 && (n >> 1) !== 5) {
    const ot = op & 3;
    const mask = SIZE_MASK[ot];
    const d = (c.ccDst & mask) >>> 0;
    const s = (c.ccSrc & mask) >>> 0;
    const s1 = ((d + s) & mask) >>> 0;
    switch (n >> 1) {
      case 1: r = s1 < s; break;
      case 2: r = d === 0; break;
      case 3: r = s1 <= s; break;
      case 4: r = (d & SIZE_SIGN[ot]) !== 0; break;
      case 6: r = signExtend(s1, ot) < signExtend(s, ot); break;
      default: r = signExtend(s1, ot) <= signExtend(s, ot); break;
    }
  } else if (kind === K_LOGIC && (n >> 1) !== 5) {
    const ot = op & 3;
    const d = (c.ccDst & SIZE_MASK[ot]) >>> 0;
    const neg = (d & SIZE_SIGN[ot]) !== 0;
    switch (n >> 1) {
      case 0: case 1: r = false; break;
      case 2: case 3: r = d === 0; break;
      case 4: case 6: r = neg; break;
      default: r = neg || d === 0; break;
    }
  } else {
    const f = computeFlags(op, c.ccDst, c.ccSrc, c.ccSrc2);
    switch (n >> 1) {
      case 0: r = (f & OF) !== 0; break;
      case 1: r = (f & CF) !== 0; break;
      case 2: r = (f & ZF) !== 0; break;
      case 3: r = (f & (CF | ZF)) !== 0; break;
      case 4: r = (f & SF) !== 0; break;
      case 5: r = (f & PF) !== 0; break;
      case 6: r = ((f & SF) !== 0) !== ((f & OF) !== 0); break;
      default: r = (f & ZF) !== 0 || ((f & SF) !== 0) !== ((f & OF) !== 0); break;
    }
  }
  return (n & 1) ? !r : r;
}

function compileInsn(c: Cpu, insn: RawInstruction, eip: number, next: number): Compiled {
  const R = c.regs;
  const op = insn.opcode;
  const map = insn.opcodeMap;
  const p = insn.prefixes;
  const osz = insn.operandSize === 16 ? 1 : 2; // size index of a full-size operand
  const a16 = insn.addressSize === 16;
  const modrm = insn.modrm ?? 0;
  const mod = modrm >> 6;
  const regf = (modrm >> 3) & 7;
  const rm = modrm & 7;
  const imm = insn.immediate;
  const hooks = c.hooks;
  const none = (f: Op): Compiled => ({ op: f, ends: false });
  const end = (f: Op): Compiled => ({ op: f, ends: true });
  const unimpl = (): never => { throw new Unimplemented(describe(insn)); };
  const sens = (id: number): void => { if (hooks.sensitive) hooks.sensitive(id, eip); };

  // SALC (D6) is undefined in the SDM's tables but executes on Intel CPUs and in QEMU.
  if (!insn.valid && !(map === 'primary' && op === 0xd6 && insn.length === 1)) return end(() => c.ud());
  if (p.lock && !lockable(insn)) return end(() => c.ud());

  // ---- effective addresses
  let defaultSeg = SEG_DS;
  let offFn: () => number = () => 0;
  if (insn.modrm !== null && mod !== 3) {
    const disp = insn.displacement | 0;
    if (!a16) {
      let base = -1, index = -1, scale = 0;
      if (rm === 4 && insn.sib !== null) {
        const sib = insn.sib;
        base = sib & 7; index = (sib >> 3) & 7; scale = sib >> 6;
        if (index === 4) index = -1;
        if (base === 5 && mod === 0) base = -1;
      } else if (!(mod === 0 && rm === 5)) base = rm;
      if (base === 4 || base === 5) defaultSeg = SEG_SS;
      if (base >= 0 && index >= 0) {
        const b = base, i = index, s = scale;
        offFn = disp === 0 ? () => (R[b] + (R[i] << s)) | 0 : () => (R[b] + (R[i] << s) + disp) | 0;
      } else if (base >= 0) {
        const b = base;
        offFn = disp === 0 ? () => R[b] : () => (R[b] + disp) | 0;
      } else if (index >= 0) {
        const i = index, s = scale;
        offFn = () => ((R[i] << s) + disp) | 0;
      } else offFn = () => disp;
    } else {
      const d = disp & 0xffff;
      const pairs: [number, number][] = [[3, 6], [3, 7], [5, 6], [5, 7], [6, -1], [7, -1], [5, -1], [3, -1]];
      if (mod === 0 && rm === 6) offFn = () => d;
      else {
        const [b, i] = pairs[rm];
        if (rm === 2 || rm === 3 || rm === 6) defaultSeg = SEG_SS;
        offFn = i >= 0 ? () => (R[b] + R[i] + d) & 0xffff : () => (R[b] + d) & 0xffff;
      }
    }
  }
  const seg = p.segment ? SEG_BY_NAME[p.segment] : defaultSeg;
  const flatR = c.segFlatR, flatW = c.segFlatW;
  const addrR = (len: number): (() => number) => {
    const f = offFn, s = seg;
    return () => { const o = f(); return flatR[s] ? o : c.linear(s, o, len, false); };
  };
  const addrW = (len: number): (() => number) => {
    const f = offFn, s = seg;
    return () => { const o = f(); return flatW[s] ? o : c.linear(s, o, len, true); };
  };
  const isReg = mod === 3;

  // ---- register access by size index
  const getReg = (ot: number, i: number): number => {
    if (ot === 2) return R[i];
    if (ot === 1) return R[i] & 0xffff;
    return i < 4 ? R[i] & 0xff : (R[i - 4] >> 8) & 0xff;
  };
  const setReg = (ot: number, i: number, v: number): void => {
    if (ot === 2) R[i] = v;
    else if (ot === 1) R[i] = (R[i] & ~0xffff) | (v & 0xffff);
    else if (i < 4) R[i] = (R[i] & ~0xff) | (v & 0xff);
    else R[i - 4] = (R[i - 4] & ~0xff00) | ((v & 0xff) << 8);
  };
  const rd = (ot: number, a: number): number => ot === 2 ? c.rd32(a) : ot === 1 ? c.rd16(a) : c.rd8(a);
  const wr = (ot: number, a: number, v: number): void => { if (ot === 2) c.wr32(a, v); else if (ot === 1) c.wr16(a, v); else c.wr8(a, v); };
  const LEN = [1, 2, 4];

  /** Reader of the r/m operand. */
  const rmReader = (ot: number): (() => number) => {
    if (isReg) {
      const i = rm;
      if (ot === 2) return () => R[i];
      return () => getReg(ot, i);
    }
    const a = addrR(LEN[ot]);
    if (ot === 2) return () => c.rd32(a());
    if (ot === 1) return () => c.rd16(a());
    return () => c.rd8(a());
  };
  /** Writer of the r/m operand (pure store). */
  const rmWriter = (ot: number): ((v: number) => void) => {
    if (isReg) {
      const i = rm;
      if (ot === 2) return (v) => { R[i] = v; };
      return (v) => setReg(ot, i, v);
    }
    const a = addrW(LEN[ot]);
    if (ot === 2) return (v) => c.wr32(a(), v);
    if (ot === 1) return (v) => c.wr16(a(), v);
    return (v) => c.wr8(a(), v);
  };
  /** Read-modify-write of the r/m operand: f maps the old value to the new one (or to undefined: no write). */
  const rmModify = (ot: number, f: (v: number) => number | undefined): Op => {
    if (isReg) {
      const i = rm;
      if (ot === 2) return () => { const r = f(R[i]); if (r !== undefined) R[i] = r; };
      return () => { const r = f(getReg(ot, i)); if (r !== undefined) setReg(ot, i, r); };
    }
    const a = addrW(LEN[ot]);
    const n = LEN[ot];
    // Read first, then check the write (as QEMU: a read-only page gets its accessed bit set and
    // then the write faults); nothing changes before both succeeded.
    return () => {
      const addr = a();
      const v = rd(ot, addr);
      c.probeWrite(addr, n);
      const r = f(v);
      if (r !== undefined) wr(ot, addr, r);
    };
  };

  // ---- arithmetic helpers (set the lazy flags like QEMU)
  const alu = (kind: number, ot: number, a: number, b: number): number => {
    const mask = SIZE_MASK[ot];
    let r: number;
    switch (kind) {
      case 0: r = (a + b) & mask; c.ccOp = K_ADD * 4 + ot; c.ccDst = r; c.ccSrc = b; return r;
      case 1: r = (a | b) & mask; c.ccOp = K_LOGIC * 4 + ot; c.ccDst = r; return r;
      case 2: { const cf = c.getCF(); r = (a + b + cf) & mask; c.ccOp = K_ADC * 4 + ot; c.ccDst = r; c.ccSrc = b; c.ccSrc2 = cf; return r; }
      case 3: { const cf = c.getCF(); r = (a - b - cf) & mask; c.ccOp = K_SBB * 4 + ot; c.ccDst = r; c.ccSrc = b; c.ccSrc2 = cf; return r; }
      case 4: r = (a & b) & mask; c.ccOp = K_LOGIC * 4 + ot; c.ccDst = r; return r;
      case 5: case 7: r = (a - b) & mask; c.ccOp = K_SUB * 4 + ot; c.ccDst = r; c.ccSrc = b; return r;
      default: r = (a ^ b) & mask; c.ccOp = K_LOGIC * 4 + ot; c.ccDst = r; return r;
    }
  };
  const incdec = (ot: number, v: number, dec: boolean): number => {
    const cf = c.getCF();
    const r = (dec ? v - 1 : v + 1) & SIZE_MASK[ot];
    c.ccOp = (dec ? K_DEC : K_INC) * 4 + ot; c.ccDst = r; c.ccSrc = cf;
    return r;
  };
  const aluRm = (kind: number, ot: number, src: () => number): Op => {
    if (kind === 7) { const r = rmReader(ot); return () => { alu(7, ot, r(), src()); }; }
    if (isReg && ot === 2) {
      const i = rm;
      switch (kind) {
        case 0: return () => { const b = src(); const v = (R[i] + b) | 0; R[i] = v; c.ccOp = K_ADD * 4 + 2; c.ccDst = v; c.ccSrc = b; };
        case 5: return () => { const b = src(); const v = (R[i] - b) | 0; R[i] = v; c.ccOp = K_SUB * 4 + 2; c.ccDst = v; c.ccSrc = b; };
        case 4: return () => { const v = R[i] & src(); R[i] = v; c.ccOp = K_LOGIC * 4 + 2; c.ccDst = v; };
        case 1: return () => { const v = R[i] | src(); R[i] = v; c.ccOp = K_LOGIC * 4 + 2; c.ccDst = v; };
        case 6: return () => { const v = R[i] ^ src(); R[i] = v; c.ccOp = K_LOGIC * 4 + 2; c.ccDst = v; };
      }
    }
    return rmModify(ot, (v) => alu(kind, ot, v, src()));
  };

  // ---- control transfer helpers
  const jumpTo = (target: number): void => { c.eip = osz === 1 ? target & 0xffff : target; };
  const push = osz === 2 ? (v: number) => c.push32(v) : (v: number) => c.push16(v);
  const pop = osz === 2 ? () => c.pop32() : () => c.pop16();
  const ioCheck = (port: number, len: number): void => {
    if (c.cpl > ((c.flags >> 12) & 3)) checkIoBitmap(c, port, len);
  };
  const needCpl0 = (): void => { if (c.cpl !== 0) c.gp(0); };

  if (map === 'primary') {
    // ALU rows 00..3f
    if (op < 0x40 && (op & 7) < 6) {
      const kind = op >> 3;
      const form = op & 7;
      const ot = form & 1 ? osz : 0;
      const reg = regf;
      switch (form) {
        case 0: case 1: return none(aluRm(kind, ot, ot === 2 ? () => R[reg] : () => getReg(ot, reg)));
        case 2: case 3: {
          const src = rmReader(ot);
          if (kind === 7) return none(() => { alu(7, ot, getReg(ot, reg), src()); });
          if (ot === 2 && kind === 0) return none(() => { const b = src(); const v = (R[reg] + b) | 0; R[reg] = v; c.ccOp = K_ADD * 4 + 2; c.ccDst = v; c.ccSrc = b; });
          return none(() => { setReg(ot, reg, alu(kind, ot, getReg(ot, reg), src())); });
        }
        case 4: { const v = imm & 0xff; return none(kind === 7 ? () => { alu(7, 0, R[0] & 0xff, v); } : () => { setReg(0, 0, alu(kind, 0, R[0] & 0xff, v)); }); }
        default: {
          const v = imm & SIZE_MASK[osz];
          if (kind === 7) return none(() => { alu(7, osz, getReg(osz, 0), v); });
          return none(() => { setReg(osz, 0, alu(kind, osz, getReg(osz, 0), v)); });
        }
      }
    }
    switch (op) {
      case 0x06: case 0x0e: case 0x16: case 0x1e: {
        const s = op >> 3;
        return none(() => { sens(SC.pushSeg); pushSegment(c, osz, c.visibleSelector(s)); });
      }
      case 0x07: case 0x17: case 0x1f: {
        const s = op >> 3;
        return { op: () => { sens(SC.popSeg); const sp = c.sp; const v = osz === 2 ? c.rd32(c.stackAddr(sp, 4, false)) : c.rd16(c.stackAddr(sp, 2, false)); c.loadSegment(s, v & 0xffff); c.setSp((c.sp + (osz === 2 ? 4 : 2)) | 0); if (s === SEG_SS) c.intShadow = true; }, ends: s === SEG_SS };
      }
      case 0x27: return none(() => daa(c, false));
      case 0x2f: return none(() => daa(c, true));
      case 0x37: return none(() => aaa(c, false));
      case 0x3f: return none(() => aaa(c, true));
    }
    if (op >= 0x40 && op <= 0x4f) {
      const i = op & 7, dec = op >= 0x48;
      if (osz === 2) return none(dec
        ? () => { const cf = c.getCF(); const v = (R[i] - 1) | 0; R[i] = v; c.ccOp = K_DEC * 4 + 2; c.ccDst = v; c.ccSrc = cf; }
        : () => { const cf = c.getCF(); const v = (R[i] + 1) | 0; R[i] = v; c.ccOp = K_INC * 4 + 2; c.ccDst = v; c.ccSrc = cf; });
      return none(() => setReg(1, i, incdec(1, R[i] & 0xffff, dec)));
    }
    if (op >= 0x50 && op <= 0x57) {
      const i = op & 7;
      if (osz === 2) return none(i === 4 ? () => c.push32(R[4]) : () => c.push32(R[i]));
      return none(() => c.push16(R[i]));
    }
    if (op >= 0x58 && op <= 0x5f) {
      const i = op & 7;
      if (osz === 2) return none(() => { const v = c.pop32(); R[i] = v; });
      return none(() => { const v = c.pop16(); setReg(1, i, v); });
    }
    if (op >= 0x70 && op <= 0x7f) {
      const n = op & 0xf;
      const target = osz === 1 ? (next + signExtend(imm, 0)) & 0xffff : (next + signExtend(imm, 0)) | 0;
      return end(() => { if (testCondition(c, n)) c.eip = target; });
    }
    if (op >= 0x91 && op <= 0x97) {
      const i = op & 7;
      return none(() => { const t = getReg(osz, 0); setReg(osz, 0, getReg(osz, i)); setReg(osz, i, t); });
    }
    if (op >= 0xb0 && op <= 0xb7) { const i = op & 7, v = imm & 0xff; return none(() => setReg(0, i, v)); }
    if (op >= 0xb8 && op <= 0xbf) {
      const i = op & 7, v = imm | 0;
      return none(osz === 2 ? () => { R[i] = v; } : () => setReg(1, i, v));
    }
    switch (op) {
      case 0x60: return none(() => {
        const sp = R[4];
        for (let i = 0; i < 8; i++) {
          const v = i === 4 ? sp : R[i];
          const off = (c.sp - (i + 1) * (osz === 2 ? 4 : 2)) | 0;
          const a = c.stackAddr(off, osz === 2 ? 4 : 2, true);
          if (osz === 2) c.wr32(a, v); else c.wr16(a, v);
        }
        c.setSp((c.sp - 8 * (osz === 2 ? 4 : 2)) | 0);
      });
      case 0x61: return none(() => {
        const size = osz === 2 ? 4 : 2;
        const vals: number[] = [];
        for (let i = 7; i >= 0; i--) {
          const a = c.stackAddr((c.sp + (7 - i) * size) | 0, size, false);
          vals[i] = size === 4 ? c.rd32(a) : c.rd16(a);
        }
        for (let i = 0; i < 8; i++) if (i !== 4) setReg(osz, i, vals[i]);
        c.setSp((c.sp + 8 * size) | 0);
      });
      case 0x62: {
        if (isReg) return end(() => c.ud());
        const a = addrR(osz === 2 ? 8 : 4);
        const reg = regf;
        return none(() => {
          const addr = a();
          const idx = signExtend(getReg(osz, reg), osz);
          const lo = signExtend(rd(osz, addr), osz);
          const hi = signExtend(rd(osz, (addr + LEN[osz]) | 0), osz);
          if (idx < lo || idx > hi) c.fault(BR);
        });
      }
      case 0x63: {
        const reg = regf;
        return none(() => {
          sens(SC.arpl);
          const src = getReg(1, reg);
          const f = c.getFlags();
          let zf = 0;
          const m = rmModify(1, (v) => {
            if ((v & 3) < (src & 3)) { zf = ZF; return (v & ~3) | (src & 3); }
            return undefined;
          });
          m();
          c.setArith((f & ~ZF) | zf);
        });
      }
      case 0x68: { const v = imm | 0; return none(() => push(v)); }
      case 0x6a: { const v = signExtend(imm, 0); return none(() => push(v)); }
      case 0x69: case 0x6b: {
        const v = op === 0x6b ? signExtend(imm, 0) : signExtend(imm, osz);
        const src = rmReader(osz), reg = regf;
        return none(() => setReg(osz, reg, imul2(c, osz, src(), v)));
      }
      case 0x6c: case 0x6d: case 0x6e: case 0x6f: {
        const ot = op & 1 ? osz : 0;
        const isOut = op >= 0x6e;
        return none(stringIo(c, isOut, ot, a16, p.rep !== null, seg, sens, isOut ? SC.outs : SC.ins, ioCheck));
      }
      case 0x80: case 0x81: case 0x82: case 0x83: {
        const ot = op & 1 ? osz : 0;
        const v = op === 0x83 ? signExtend(imm, 0) & SIZE_MASK[ot] : imm & SIZE_MASK[ot];
        return none(aluRm(regf, ot, () => v));
      }
      case 0x84: case 0x85: {
        const ot = op & 1 ? osz : 0;
        const src = rmReader(ot), reg = regf;
        return none(() => { const v = src() & getReg(ot, reg); c.ccOp = K_LOGIC * 4 + ot; c.ccDst = v; });
      }
      case 0x86: case 0x87: {
        const ot = op & 1 ? osz : 0;
        const reg = regf;
        return none(rmModify(ot, (v) => { const r = getReg(ot, reg); setReg(ot, reg, v); return r; }));
      }
      case 0x88: case 0x89: {
        const ot = op & 1 ? osz : 0;
        const reg = regf;
        if (ot === 2 && !isReg) { const a = addrW(4); return none(() => c.wr32(a(), R[reg])); }
        const w = rmWriter(ot);
        return none(() => w(getReg(ot, reg)));
      }
      case 0x8a: case 0x8b: {
        const ot = op & 1 ? osz : 0;
        const reg = regf;
        if (ot === 2 && !isReg) { const a = addrR(4); return none(() => { R[reg] = c.rd32(a()); }); }
        const r = rmReader(ot);
        return none(() => setReg(ot, reg, r()));
      }
      case 0x8c: {
        if (regf > 5) return end(() => c.ud());
        const s = regf;
        if (isReg) return none(() => { sens(SC.movFromSeg); setReg(osz, rm, c.visibleSelector(s)); });
        const w = rmWriter(1);
        return none(() => { sens(SC.movFromSeg); w(c.visibleSelector(s)); });
      }
      case 0x8d: {
        if (isReg) return end(() => c.ud());
        const f = offFn, reg = regf;
        return none(() => setReg(osz, reg, f()));
      }
      case 0x8e: {
        if (regf > 5 || regf === SEG_CS) return end(() => c.ud());
        const s = regf;
        const r = rmReader(1);
        return { op: () => { sens(SC.movToSeg); c.loadSegment(s, r()); if (s === SEG_SS) c.intShadow = true; }, ends: true };
      }
      case 0x8f: {
        if (regf !== 0) return end(() => c.ud());
        if (isReg) return none(() => { const v = pop(); setReg(osz, rm, v); });
        // The address is computed after ESP is incremented (SDM: pop with an ESP-based operand).
        const n = LEN[osz];
        const aw = addrW(n);
        return none(() => {
          const sp = c.sp;
          const v = n === 4 ? c.rd32(c.stackAddr(sp, 4, false)) : c.rd16(c.stackAddr(sp, 2, false));
          c.setSp((sp + n) | 0);
          try { wr(osz, aw(), v); } catch (e) { c.setSp(sp); throw e; }
        });
      }
      case 0x90: return none(() => {});
      case 0x98: return none(osz === 2 ? () => { R[0] = (R[0] << 16) >> 16; } : () => setReg(1, 0, (R[0] << 24) >> 24));
      case 0x99: return none(osz === 2 ? () => { R[2] = R[0] >> 31; } : () => setReg(1, 2, (R[0] << 16) >> 31));
      case 0x9a: case 0xea: {
        const sel = insn.immediate2 & 0xffff;
        const off = osz === 2 ? imm | 0 : imm & 0xffff;
        const isCall = op === 0x9a;
        return end(() => { sens(isCall ? SC.lcall : SC.ljmp); farTransfer(c, sel, off, isCall, osz, next); });
      }
      case 0x9b: return none(() => { if ((c.cr0 & 0xa) === 0xa) c.fault(NM); });

      case 0x9c: return none(() => {
        sens(SC.pushf);
        if ((c.flags & VM) && ((c.flags >> 12) & 3) < 3) c.gp(0);
        const f = c.visibleFlags(c.getFlags() & ~(VM | 0x10000));
        push(f);
      });
      case 0x9d: return end(() => {
        sens(SC.popf);
        const v = pop();
        c.popFlags(v, osz === 2 ? 32 : 16, false);
      });
      case 0x9e: return none(() => { const f = c.getFlags(); c.setArith((f & OF) | ((R[0] >> 8) & (SF | ZF | AF | PF | CF))); });
      case 0x9f: return none(() => setReg(0, 4, (c.getFlags() & 0xd7) | 2));
      case 0xa0: case 0xa1: case 0xa2: case 0xa3: {
        const ot = op & 1 ? osz : 0;
        const off = a16 ? insn.displacement & 0xffff : insn.displacement | 0;
        const s = seg;
        const n = LEN[ot];
        if (op < 0xa2) return none(() => setReg(ot, 0, rd(ot, flatR[s] ? off : c.linear(s, off, n, false))));
        return none(() => wr(ot, flatW[s] ? off : c.linear(s, off, n, true), getReg(ot, 0)));
      }
      case 0xa4: case 0xa5: case 0xa6: case 0xa7: case 0xaa: case 0xab: case 0xac: case 0xad: case 0xae: case 0xaf: {
        const ot = op & 1 ? osz : 0;
        return none(stringOp(c, op & 0xfe, ot, a16, p.rep, seg));
      }
      case 0xa8: case 0xa9: {
        const ot = op & 1 ? osz : 0;
        const v = imm & SIZE_MASK[ot];
        return none(() => { c.ccOp = K_LOGIC * 4 + ot; c.ccDst = getReg(ot, 0) & v; });
      }
      case 0xc0: case 0xc1: case 0xd0: case 0xd1: case 0xd2: case 0xd3: {
        const ot = op & 1 ? osz : 0;
        const kind = regf;
        const count = op >= 0xd2 ? () => R[1] & 0x1f : op >= 0xd0 ? () => 1 : ((n) => () => n)(imm & 0x1f);
        return none(rmModify(ot, (v) => shift(c, kind, ot, v, count())));
      }
      case 0xc2: case 0xc3: {
        const extra = op === 0xc2 ? imm & 0xffff : 0;
        if (osz === 2 && extra === 0) return end(() => { c.eip = c.pop32(); });
        return end(() => {
          const sp = c.sp;
          const t = pop();
          if (osz === 1 && (t & 0xffff) > c.segLimit[SEG_CS]) { c.setSp(sp); c.gp(0); }
          c.setSp((c.sp + extra) | 0);
          c.eip = t;
        });
      }
      case 0xc4: case 0xc5: {
        if (isReg) return end(() => c.ud());
        const s = op === 0xc4 ? SEG_ES : SEG_DS;
        return farPointerLoad(s);
      }
      case 0xc6: case 0xc7: {
        if (regf !== 0) return end(() => c.ud());
        const ot = op & 1 ? osz : 0;
        const v = imm & SIZE_MASK[ot];
        if (ot === 2 && !isReg) { const a = addrW(4); return none(() => c.wr32(a(), v)); }
        const w = rmWriter(ot);
        return none(() => w(v));
      }
      case 0xc8: {
        const size = imm & 0xffff;
        const level = insn.immediate2 & 0x1f;
        return none(() => enter(c, osz, size, level));
      }
      case 0xc9: return none(() => {
        const ebp = c.stack32 ? R[5] : R[5] & 0xffff;
        const v = osz === 2 ? c.rd32(c.stackAddr(ebp, 4, false)) : c.rd16(c.stackAddr(ebp, 2, false));
        c.setSp((ebp + LEN[osz]) | 0);
        setReg(osz, 5, v);
      });
      case 0xca: case 0xcb: {
        const extra = op === 0xca ? imm & 0xffff : 0;
        return end(() => { sens(SC.lret); farReturn(c, osz, extra); });
      }
      case 0xcc: return end(() => { sens(SC.int3); c.softwareInterrupt(BP, next, eip); });
      case 0xcd: { const v = imm & 0xff; return end(() => { sens(SC.int); c.softwareInterrupt(v, next, eip); }); }
      case 0xce: return end(() => { sens(SC.into); if (c.getFlags() & OF) c.softwareInterrupt(OFV, next, eip); });
      case 0xcf: return end(() => { sens(SC.iret); iret(c, osz); });
      case 0xd4: { const base = imm & 0xff; return none(() => aam(c, base)); }
      case 0xd5: { const base = imm & 0xff; return none(() => aad(c, base)); }
      case 0xd6: return none(() => setReg(0, 0, c.getCF() ? 0xff : 0));
      case 0xd7: {
        const s = seg;
        return none(() => {
          const off = a16 ? (R[3] + (R[0] & 0xff)) & 0xffff : (R[3] + (R[0] & 0xff)) | 0;
          setReg(0, 0, c.rd8(flatR[s] ? off : c.linear(s, off, 1, false)));
        });
      }
      case 0xd8: case 0xd9: case 0xda: case 0xdb: case 0xdc: case 0xdd: case 0xde: case 0xdf:
        return none(x87Op(c, insn, isReg ? null : addrR(2)));
      case 0xe0: case 0xe1: case 0xe2: case 0xe3: {
        const target = osz === 1 ? (next + signExtend(imm, 0)) & 0xffff : (next + signExtend(imm, 0)) | 0;
        const kind = op;
        return end(() => {
          let cnt: number;
          if (kind === 0xe3) cnt = a16 ? R[1] & 0xffff : R[1];
          else {
            if (a16) { cnt = (R[1] - 1) & 0xffff; setReg(1, 1, cnt); } else { cnt = (R[1] - 1) | 0; R[1] = cnt; }
          }
          let take: boolean;
          if (kind === 0xe3) take = cnt === 0;
          else if (kind === 0xe2) take = cnt !== 0;
          else take = cnt !== 0 && ((c.getFlags() & ZF) !== 0) === (kind === 0xe1);
          if (take) c.eip = target;
        });
      }
      case 0xe4: case 0xe5: case 0xec: case 0xed: {
        const ot = op & 1 ? osz : 0;
        const n = LEN[ot] as 1 | 2 | 4;
        const fixed = op < 0xec ? imm & 0xff : -1;
        return end(() => {
          sens(SC.in);
          const port = fixed >= 0 ? fixed : R[2] & 0xffff;
          ioCheck(port, n);
          setReg(ot, 0, c.bus.ioRead(port, n));
        });
      }
      case 0xe6: case 0xe7: case 0xee: case 0xef: {
        const ot = op & 1 ? osz : 0;
        const n = LEN[ot] as 1 | 2 | 4;
        const fixed = op < 0xee ? imm & 0xff : -1;
        return end(() => {
          sens(SC.out);
          const port = fixed >= 0 ? fixed : R[2] & 0xffff;
          ioCheck(port, n);
          c.bus.ioWrite(port, n, getReg(ot, 0) & SIZE_MASK[ot]);
        });
      }
      case 0xe8: {
        const target = osz === 1 ? (next + imm) & 0xffff : (next + imm) | 0;
        if (osz === 2) return end(() => { c.push32(next); c.eip = target; });
        return end(() => { c.push16(next); c.eip = target; });
      }
      case 0xe9: case 0xeb: {
        const d = op === 0xeb ? signExtend(imm, 0) : imm | 0;
        const target = osz === 1 ? (next + d) & 0xffff : (next + d) | 0;
        return end(() => { c.eip = target; });
      }
      case 0xf1: return end(() => c.softwareInterrupt(1, next, eip));
      case 0xf4: return end(() => {
        sens(SC.hlt);
        needCpl0();
        c.halted = true;
        c.exitRequest = true;
      });
      case 0xf5: return none(() => { const f = c.getFlags(); c.setArith(f ^ CF); });
      case 0xf6: case 0xf7: {
        const ot = op & 1 ? osz : 0;
        switch (regf) {
          case 0: case 1: {
            const v = imm & SIZE_MASK[ot];
            const r = rmReader(ot);
            return none(() => { const x = r() & v; c.ccOp = K_LOGIC * 4 + ot; c.ccDst = x; });
          }
          case 2: return none(rmModify(ot, (v) => ~v & SIZE_MASK[ot]));
          case 3: return none(rmModify(ot, (v) => {
            const r = (-v) & SIZE_MASK[ot];
            c.ccOp = K_SUB * 4 + ot; c.ccDst = r; c.ccSrc = v;
            return r;
          }));
          case 4: case 5: { const r = rmReader(ot); const signed = regf === 5; return none(() => mul1(c, ot, r(), signed)); }
          default: { const r = rmReader(ot); const signed = regf === 7; return none(() => div1(c, ot, r(), signed)); }
        }
      }
      case 0xf8: return none(() => c.setArith(c.getFlags() & ~CF));
      case 0xf9: return none(() => c.setArith(c.getFlags() | CF));
      case 0xfa: return none(() => {
        sens(SC.cli);
        if (c.cpl > ((c.flags >> 12) & 3)) c.gp(0);
        c.flags &= ~IF;
      });
      case 0xfb: return end(() => {
        sens(SC.sti);
        if (c.cpl > ((c.flags >> 12) & 3)) c.gp(0);
        if (!(c.flags & IF)) { c.flags |= IF; c.intShadow = true; }
      });
      case 0xfc: return none(() => { c.flags &= ~DF; });
      case 0xfd: return none(() => { c.flags |= DF; });
      case 0xfe: {
        if (regf > 1) return end(() => c.ud());
        const dec = regf === 1;
        return none(rmModify(0, (v) => incdec(0, v, dec)));
      }
      case 0xff: {
        switch (regf) {
          case 0: case 1: {
            const dec = regf === 1;
            return none(rmModify(osz, (v) => incdec(osz, v, dec)));
          }
          case 2: {
            const r = rmReader(osz);
            return end(() => { const t = r(); push(next); jumpTo(t); });
          }
          case 3: case 5: {
            if (isReg) return end(() => c.ud());
            const a = addrR(osz === 2 ? 6 : 4);
            const isCall = regf === 3;
            return end(() => {
              sens(isCall ? SC.lcall : SC.ljmp);
              const addr = a();
              const off = osz === 2 ? c.rd32(addr) : c.rd16(addr);
              const sel = c.rd16((addr + LEN[osz]) | 0);
              farTransfer(c, sel, off, isCall, osz, next);
            });
          }
          case 4: { const r = rmReader(osz); return end(() => jumpTo(r())); }
          case 6: {
            const r = rmReader(osz);
            return none(() => push(r()));
          }
          default: return end(() => c.ud());
        }
      }
    }
    return unimpl();
  }

  if (map === '0f') {
    if (op >= 0x80 && op <= 0x8f) {
      const n = op & 0xf;
      const target = osz === 1 ? (next + imm) & 0xffff : (next + imm) | 0;
      return end(() => { if (testCondition(c, n)) c.eip = target; });
    }
    if (op >= 0x90 && op <= 0x9f) {
      const n = op & 0xf;
      const w = rmWriter(0);
      return none(() => w(testCondition(c, n) ? 1 : 0));
    }
    if (op >= 0x40 && op <= 0x4f) {
      const n = op & 0xf;
      const r = rmReader(osz), reg = regf;
      // The source is read (and may fault) whatever the condition; a 32-bit cmov always writes.
      return none(() => { const v = r(); if (testCondition(c, n)) setReg(osz, reg, v); else if (osz === 2) R[reg] = R[reg]; });
    }
    if (op >= 0xc8 && op <= 0xcf) {
      const i = op & 7;
      if (osz === 1) return none(() => setReg(1, i, 0));
      return none(() => { const v = R[i]; R[i] = ((v & 0xff) << 24) | ((v & 0xff00) << 8) | ((v >>> 8) & 0xff00) | (v >>> 24); });
    }
    switch (op) {
      case 0x00: {
        switch (regf) {
          case 0: case 1: {
            const which = regf;
            const w = isReg ? (v: number) => setReg(osz, rm, v) : rmWriter(1);
            return none(() => { sens(which === 0 ? SC.sldt : SC.str); w(which === 0 ? c.visibleLdtr() : c.visibleTr()); });
          }
          case 2: case 3: {
            const r = rmReader(1);
            const which = regf;
            return end(() => { sens(which === 2 ? SC.lldt : SC.ltr); needCpl0(); if (which === 2) lldt(c, r()); else ltr(c, r()); });
          }
          case 4: case 5: {
            const r = rmReader(1);
            const write = regf === 5;
            return none(() => { sens(write ? SC.verw : SC.verr); verify(c, r(), write); });
          }
          default: return end(() => c.ud());
        }
      }
      case 0x01: {
        // vmcall: the monitor-call instruction, recognised only inside the monitor window.
        if (isReg && modrm === 0xc1) {
          return end(() => {
            const lin = (c.segBase[SEG_CS] + eip) | 0;
            if (hooks.monitorCall && c.inMonitorWindow(lin)) hooks.monitorCall(lin);
            else c.ud();
          });
        }
        if (isReg && regf !== 4 && regf !== 6) return end(() => c.ud());
        switch (regf) {
          case 0: case 1: {
            const a = addrW(6);
            const isIdt = regf === 1;
            return none(() => {
              sens(isIdt ? SC.sidt : SC.sgdt);
              const addr = a();
              c.probeWrite(addr, 6);
              const [base, limit] = c.visibleTable(isIdt);
              c.wr16(addr, limit);
              c.wr32((addr + 2) | 0, osz === 1 ? base & 0xffffff : base);
            });
          }
          case 2: case 3: {
            const a = addrR(6);
            const isIdt = regf === 3;
            return end(() => {
              sens(isIdt ? SC.lidt : SC.lgdt);
              needCpl0();
              const addr = a();
              const limit = c.rd16(addr);
              let base = c.rd32((addr + 2) | 0);
              if (osz === 1) base &= 0xffffff;
              if (isIdt) { c.idtLimit = limit; c.idtBase = base; } else { c.gdtLimit = limit; c.gdtBase = base; }
            });
          }
          case 4: {
            // A register destination receives all of CR0 (with a 32-bit operand size), memory 16 bits.
            if (isReg) { const i = rm; return none(() => { sens(SC.smsw); setReg(osz, i, c.visibleCr0()); }); }
            const w = rmWriter(1);
            return none(() => { sens(SC.smsw); w(c.visibleCr0() & 0xffff); });
          }
          case 6: {
            const r = rmReader(1);
            return end(() => { sens(SC.lmsw); needCpl0(); const v = r(); setCr0(c, (c.cr0 & ~0xe) | (v & 0xe) | (c.cr0 & 1) | (v & 1)); });
          }
          case 7: {
            const f = offFn, s = seg;
            return end(() => {
              sens(SC.invlpg);
              needCpl0();
              c.invlpg((c.segBase[s] + f()) | 0);
            });
          }
          default: return end(() => c.ud());
        }
      }
      case 0x02: case 0x03: {
        const r = rmReader(1), reg = regf;
        const isLsl = op === 0x03;
        return none(() => { sens(isLsl ? SC.lsl : SC.lar); larLsl(c, r(), isLsl, (v) => setReg(osz, reg, v)); });
      }
      case 0x06: return end(() => { sens(SC.clts); needCpl0(); c.cr0 &= ~8; });
      case 0x08: case 0x09: return none(() => { sens(op === 0x08 ? SC.invd : SC.wbinvd); needCpl0(); });
      case 0x0b: case 0xb9: case 0xff: return end(() => { if (op === 0x0b) sens(SC.ud2); c.ud(); });
      case 0x0d: case 0x18: case 0x19: case 0x1a: case 0x1b: case 0x1c: case 0x1d: case 0x1e: case 0x1f:
        if (isReg && op === 0x0d) return end(() => c.ud());
        return none(() => {});
      case 0x20: case 0x22: {
        const crn = regf;
        const gpr = rm;
        if (![0, 2, 3, 4].includes(crn)) return end(() => c.ud());
        if (op === 0x20) return none(() => { sens(SC.movFromCr); needCpl0(); R[gpr] = readCr(c, crn); });
        return end(() => { sens(SC.movToCr); needCpl0(); writeCr(c, crn, R[gpr]); });
      }
      case 0x21: case 0x23: {
        const drn = regf;
        const gpr = rm;
        return end(() => {
          sens(op === 0x21 ? SC.movFromDr : SC.movToDr);
          needCpl0();
          if ((drn === 4 || drn === 5) && (c.cr4 & 8)) c.ud();
          const n = drn === 4 ? 6 : drn === 5 ? 7 : drn;
          if (op === 0x21) R[gpr] = n === 6 ? (c.dr[6] | 0xffff0ff0) : n === 7 ? (c.dr[7] | 0x400) : c.dr[n];
          else {
            c.dr[n] = R[gpr];
            c.debugActive = (c.dr[7] & 0xff) !== 0;
          }
        });
      }
      case 0x30: return end(() => { sens(SC.wrmsr); needCpl0(); wrmsr(c, R[1] >>> 0, R[0], R[2]); });
      case 0x32: return none(() => { sens(SC.rdmsr); needCpl0(); const [lo, hi] = rdmsr(c, R[1] >>> 0); R[0] = lo; R[2] = hi; });
      case 0x31: return none(() => {
        sens(SC.rdtsc);
        if ((c.cr4 & 4) && c.cpl !== 0) c.gp(0);
        const t = c.tsc;
        R[0] = t % 0x100000000 | 0;
        R[2] = Math.floor(t / 0x100000000) | 0;
      });
      // No performance counters (CPUID has no leaf 0xa): #GP where the SDM checks privilege (CPL > 0
      // without CR4.PCE), #UD otherwise, as QEMU.
      case 0x33: return end(() => { sens(SC.rdpmc); if (c.cpl !== 0 && !(c.cr4 & 0x100)) c.gp(0); c.ud(); });
      case 0x34: return end(() => { sens(SC.sysenter); sysenter(c); });
      case 0x35: return end(() => { sens(SC.sysexit); sysexit(c); });
      case 0xa2: return none(() => { sens(SC.cpuid); cpuid(c); });
      case 0xa0: case 0xa8: {
        const s = op === 0xa0 ? SEG_FS : SEG_GS;
        return none(() => { sens(SC.pushSeg); pushSegment(c, osz, c.segSel[s]); });
      }
      case 0xa1: case 0xa9: {
        const s = op === 0xa1 ? SEG_FS : SEG_GS;
        return none(() => { sens(SC.popSeg); const sp = c.sp; const v = osz === 2 ? c.rd32(c.stackAddr(sp, 4, false)) : c.rd16(c.stackAddr(sp, 2, false)); c.loadSegment(s, v & 0xffff); c.setSp((c.sp + LEN[osz]) | 0); });
      }
      case 0xa3: case 0xab: case 0xb3: case 0xbb: case 0xba: {
        const kind = op === 0xba ? regf - 4 : [0xa3, 0xab, 0xb3, 0xbb].indexOf(op);
        if (kind < 0) return end(() => c.ud());
        const reg = regf;
        const fromImm = op === 0xba;
        const bitImm = imm & 0xff;
        if (isReg || fromImm) {
          const bits = SIZE_BITS[osz];
          const bitFn = fromImm ? () => bitImm & (bits - 1) : () => getReg(osz, reg) & (bits - 1);
          if (kind === 0) { const r = rmReader(osz); return none(() => bitTest(c, 0, r(), bitFn())); }
          return none(rmModify(osz, (v) => bitTest(c, kind, v, bitFn())));
        }
        // Register bit offset with a memory operand: the offset is signed and selects any word.
        const f = offFn, s = seg;
        return none(() => {
          const bitoff = signExtend(getReg(osz, reg), osz);
          const bytes = LEN[osz];
          const off = (f() + (Math.floor(bitoff / (bytes * 8)) * bytes)) | 0;
          const o2 = a16 ? off & 0xffff : off;
          const write = kind !== 0;
          const a = (write ? flatW[s] : flatR[s]) ? o2 : c.linear(s, o2, bytes, write);
          const bit = bitoff & (bytes * 8 - 1);
          if (write) c.probeWrite(a, bytes);
          const r = bitTest(c, kind, rd(osz, a), bit);
          if (write) wr(osz, a, r);
        });
      }
      case 0xa4: case 0xa5: case 0xac: case 0xad: {
        const reg = regf;
        const right = op >= 0xac;
        const count = op & 1 ? () => R[1] & 0x1f : ((n) => () => n)(imm & 0x1f);
        return none(rmModify(osz, (v) => shiftDouble(c, osz, v, getReg(osz, reg), count(), right)));
      }
      case 0xaf: {
        const r = rmReader(osz), reg = regf;
        return none(() => setReg(osz, reg, imul2(c, osz, getReg(osz, reg), r())));
      }
      case 0xb0: case 0xb1: {
        const ot = op & 1 ? osz : 0;
        const reg = regf;
        if (isReg) {
          return none(() => {
            const v = getReg(ot, rm);
            const acc = getReg(ot, 0);
            alu(7, ot, acc, v);
            if (acc === v) setReg(ot, rm, getReg(ot, reg)); else setReg(ot, 0, v);
          });
        }
        const a = addrW(LEN[ot]);
        return none(() => {
          const addr = a();
          const v = rd(ot, addr);
          c.probeWrite(addr, LEN[ot]);
          const acc = getReg(ot, 0);
          alu(7, ot, acc, v);
          if (acc === v) wr(ot, addr, getReg(ot, reg));
          else { wr(ot, addr, v); setReg(ot, 0, v); }
        });
      }
      case 0xb2: case 0xb4: case 0xb5: {
        if (isReg) return end(() => c.ud());
        return farPointerLoad(op === 0xb2 ? SEG_SS : op === 0xb4 ? SEG_FS : SEG_GS);
      }
      case 0xb6: case 0xb7: case 0xbe: case 0xbf: {
        const src = op & 1 ? 1 : 0;
        const signed = op >= 0xbe;
        const r = rmReader(src), reg = regf;
        if (signed) return none(() => setReg(osz, reg, signExtend(r(), src)));
        return none(() => setReg(osz, reg, r()));
      }
      case 0xbc: case 0xbd: {
        const r = rmReader(osz), reg = regf;
        const reverse = op === 0xbd;
        return none(() => {
          const v = r() & SIZE_MASK[osz];
          c.ccOp = K_LOGIC * 4 + osz; c.ccDst = v;
          if (v === 0) return;
          setReg(osz, reg, reverse ? 31 - Math.clz32(v) : 31 - Math.clz32(v & -v));
        });
      }
      case 0xc0: case 0xc1: {
        const ot = op & 1 ? osz : 0;
        const reg = regf;
        if (isReg && rm === reg) return none(() => { const v = getReg(ot, reg); setReg(ot, reg, alu(0, ot, v, v)); });
        return none(rmModify(ot, (v) => { const s = getReg(ot, reg); const r = alu(0, ot, v, s); setReg(ot, reg, v); return r; }));
      }
      case 0xc7: {
        if (regf !== 1 || isReg) return end(() => c.ud());
        const a = addrW(8);
        return none(() => {
          const addr = a();
          const lo = c.rd32(addr), hi = c.rd32((addr + 4) | 0);
          c.probeWrite(addr, 8);
          const f = c.getFlags();
          if (lo === R[0] && hi === R[2]) {
            c.wr32(addr, R[3]); c.wr32((addr + 4) | 0, R[1]);
            c.setArith(f | ZF);
          } else {
            c.wr32(addr, lo); c.wr32((addr + 4) | 0, hi);
            R[0] = lo; R[2] = hi;
            c.setArith(f & ~ZF);
          }
        });
      }
    }
    // SSE/SSE2 (./sse.ts); other SSE and MMX instructions stop the run as unimplemented.
    const sse = compileSse(c, insn, isReg ? null : (len, write) => (write ? addrW(len) : addrR(len)));
    if (sse !== null) return none(sse);
    return unimpl();
  }
  if (map === '0f38' || map === '0f3a') return end(() => c.ud());
  return unimpl();

  function farPointerLoad(s: number): Compiled {
    const a = addrR(osz === 2 ? 6 : 4);
    const reg = regf;
    return {
      op: () => {
        sens(SC.lfp);
        const addr = a();
        const off = osz === 2 ? c.rd32(addr) : c.rd16(addr);
        const sel = c.rd16((addr + LEN[osz]) | 0);
        c.loadSegment(s, sel);
        setReg(osz, reg, off);
        if (s === SEG_SS) c.intShadow = true;
      },
      ends: s === SEG_SS,
    };
  }
}

function lockable(insn: RawInstruction): boolean {
  if (insn.modrm === null || insn.modrm >> 6 === 3) return false;
  const op = insn.opcode;
  const reg = (insn.modrm >> 3) & 7;
  if (insn.opcodeMap === 'primary') {
    if (op < 0x40 && (op & 7) < 2 && (op >> 3) !== 7) return true;
    if (op >= 0x80 && op <= 0x83) return reg !== 7;
    if (op === 0x86 || op === 0x87) return true;
    if (op === 0xf6 || op === 0xf7) return reg === 2 || reg === 3;
    if (op === 0xfe || op === 0xff) return reg < 2;
    return false;
  }
  if (insn.opcodeMap === '0f') {
    if ([0xab, 0xb3, 0xbb, 0xb0, 0xb1, 0xc0, 0xc1].includes(op)) return true;
    if (op === 0xba) return reg >= 5;
    if (op === 0xc7) return reg === 1;
  }
  return false;
}

function describe(insn: RawInstruction): string {
  const bytes = `${insn.opcodeMap === 'primary' ? '' : insn.opcodeMap + ' '}${insn.opcode.toString(16).padStart(2, '0')}`
    + (insn.modrm !== null ? ` /${(insn.modrm >> 3) & 7}` : '');
  return insn.mnemonic ? `${insn.mnemonic} ${insn.operandText ?? ''} (opcode ${bytes})`.replace('  ', ' ') : `opcode ${bytes}`;
}

// ---------------------------------------------------------------- arithmetic

function shift(c: Cpu, kind: number, ot: number, v: number, count: number): number {
  const bits = SIZE_BITS[ot];
  const mask = SIZE_MASK[ot];
  if (count === 0) return v;
  switch (kind) {
    case 0: case 1: { // rol, ror
      const n = count & (bits - 1);
      let r = v & mask;
      if (n) r = kind === 0 ? ((r << n) | (r >>> (bits - n))) & mask : ((r >>> n) | (r << (bits - n))) & mask;
      const f = c.getFlags() & ~(CF | OF);
      let cf: number, of: number;
      if (kind === 0) { cf = r & 1; of = cf ^ ((r >>> (bits - 1)) & 1); }
      else { cf = (r >>> (bits - 1)) & 1; of = cf ^ ((r >>> (bits - 2)) & 1); }
      c.setArith(f | cf | (of ? OF : 0));
      return r;
    }
    case 2: case 3: { // rcl, rcr
      let n = count;
      if (bits === 8) n %= 9; else if (bits === 16) n %= 17;
      if (n === 0) return v;
      const f = c.getFlags();
      const src = v & mask;
      const cin = f & CF;
      let res: number;
      let cout: number;
      if (kind === 2) {
        res = (src << n) | (cin << (n - 1));
        if (n > 1) res |= src >>> (bits + 1 - n);
        cout = (src >>> (bits - n)) & 1;
      } else {
        res = (src >>> n) | (cin << (bits - n));
        if (n > 1) res |= src << (bits + 1 - n);
        cout = (src >>> (n - 1)) & 1;
      }
      const of = ((src ^ res) >>> (bits - 1)) & 1;
      c.setArith((f & ~(CF | OF)) | cout | (of ? OF : 0));
      return res & mask;
    }
    case 4: case 6: { // shl / sal
      const x = v & mask;
      const r = (x << count) & mask;
      c.ccOp = K_SHL * 4 + ot; c.ccDst = r; c.ccSrc = x << (count - 1);
      return r;
    }
    case 5: { // shr
      const x = (v & mask) >>> 0;
      const r = x >>> count;
      c.ccOp = K_SAR * 4 + ot; c.ccDst = r; c.ccSrc = x >>> (count - 1);
      return r;
    }
    default: { // sar
      const x = signExtend(v, ot);
      const r = (x >> count) & mask;
      c.ccOp = K_SAR * 4 + ot; c.ccDst = r; c.ccSrc = x >> (count - 1);
      return r;
    }
  }
}

/** shld / shrd, ported from QEMU's gen_shiftd_rm_T1 (including its 16-bit behaviour for counts > 16). */
function shiftDouble(c: Cpu, ot: number, dst: number, src: number, count: number, right: boolean): number {
  if (count === 0) return dst;
  let t0 = dst & SIZE_MASK[ot];
  let t1 = src & SIZE_MASK[ot];
  if (ot === 1) {
    if (right) { const tmp = (t0 & 0xffff) | (t1 << 16); t1 = t0; t0 = tmp; }
    else t1 = (t0 & 0xffff) | (t1 << 16);
  }
  let shm1: number;
  let r: number;
  if (right) {
    shm1 = t0 >>> (count - 1);
    r = (t0 >>> count) | (t1 << (32 - count));
  } else {
    shm1 = t0 << (count - 1);
    if (ot === 1) shm1 |= t1 >>> (33 - count);
    r = (t0 << count) | (t1 >>> (32 - count));
  }
  r &= SIZE_MASK[ot];
  c.ccOp = (right ? K_SAR : K_SHL) * 4 + ot; c.ccDst = r; c.ccSrc = shm1;
  return r;
}

function bitTest(c: Cpu, kind: number, v: number, bit: number): number {
  const cf = (v >>> bit) & 1;
  c.setArith((c.getFlags() & ~CF) | cf);
  switch (kind) {
    case 1: return v | (1 << bit);
    case 2: return v & ~(1 << bit);
    case 3: return v ^ (1 << bit);
    default: return v;
  }
}

function mul1(c: Cpu, ot: number, v: number, signed: boolean): void {
  const R = c.regs;
  if (ot === 0) {
    const a = R[0] & 0xff;
    const r = signed ? (signExtend(a, 0) * signExtend(v, 0)) : a * (v & 0xff);
    R[0] = (R[0] & ~0xffff) | (r & 0xffff);
    c.ccOp = K_MUL * 4; c.ccDst = r & 0xffff;
    c.ccSrc = signed ? (r - signExtend(r, 0)) : (r & 0xff00);
  } else if (ot === 1) {
    const a = R[0] & 0xffff;
    const r = signed ? signExtend(a, 1) * signExtend(v, 1) : a * (v & 0xffff);
    R[0] = (R[0] & ~0xffff) | (r & 0xffff);
    R[2] = (R[2] & ~0xffff) | ((r >> 16) & 0xffff);
    c.ccOp = K_MUL * 4 + 1; c.ccDst = r & 0xffff;
    c.ccSrc = signed ? (r - signExtend(r, 1)) : ((r >>> 16) & 0xffff);
  } else {
    let lo: number, hi: number;
    if (signed) {
      const r = BigInt(R[0]) * BigInt(v | 0);
      lo = Number(BigInt.asIntN(32, r)); hi = Number(BigInt.asIntN(32, r >> 32n));
      c.ccSrc = (lo >> 31) - hi;
    } else {
      const a = R[0] >>> 0, b = v >>> 0;
      lo = Math.imul(a, b);
      const al = a & 0xffff, ah = a >>> 16, bl = b & 0xffff, bh = b >>> 16;
      const mid = (al * bh) + (ah * bl) + ((al * bl) >>> 16);
      hi = ((ah * bh) + Math.floor(mid / 65536)) | 0;
      c.ccSrc = hi;
    }
    R[0] = lo; R[2] = hi;
    c.ccOp = K_MUL * 4 + 2; c.ccDst = lo;
  }
}

function imul2(c: Cpu, ot: number, a: number, b: number): number {
  if (ot === 1) {
    const r = signExtend(a, 1) * signExtend(b, 1);
    c.ccOp = K_MUL * 4 + 1; c.ccDst = r & 0xffff; c.ccSrc = r - signExtend(r, 1);
    return r & 0xffff;
  }
  const lo = Math.imul(a, b);
  const exact = (a | 0) * (b | 0);
  // Overflow when the exact product differs from the sign-extended low half.
  const overflow = Number.isSafeInteger(exact) ? exact !== lo : BigInt(a | 0) * BigInt(b | 0) !== BigInt(lo);
  c.ccOp = K_MUL * 4 + 2; c.ccDst = lo; c.ccSrc = overflow ? 1 : 0;
  return lo;
}

function div1(c: Cpu, ot: number, v: number, signed: boolean): void {
  const R = c.regs;
  if (ot === 0) {
    const d = signed ? signExtend(v, 0) : v & 0xff;
    if (d === 0) c.fault(DE);
    const n = signed ? signExtend(R[0], 1) : R[0] & 0xffff;
    const q = Math.trunc(n / d), r = n % d;
    if (signed ? q !== signExtend(q, 0) : q > 0xff) c.fault(DE);
    R[0] = (R[0] & ~0xffff) | (q & 0xff) | ((r & 0xff) << 8);
  } else if (ot === 1) {
    const d = signed ? signExtend(v, 1) : v & 0xffff;
    if (d === 0) c.fault(DE);
    const n = signed ? ((R[2] << 16) | (R[0] & 0xffff)) : ((R[2] & 0xffff) * 65536 + (R[0] & 0xffff));
    const q = Math.trunc(n / d), r = n % d;
    if (signed ? q !== signExtend(q, 1) : q > 0xffff) c.fault(DE);
    R[0] = (R[0] & ~0xffff) | (q & 0xffff);
    R[2] = (R[2] & ~0xffff) | (r & 0xffff);
  } else {
    if ((v | 0) === 0) c.fault(DE);
    if (signed) {
      const n = (BigInt(R[2]) << 32n) | BigInt(R[0] >>> 0);
      const d = BigInt(v | 0);
      const q = n / d, r = n % d;
      if (q !== BigInt.asIntN(32, q)) c.fault(DE);
      R[0] = Number(q); R[2] = Number(r);
    } else {
      const hi = R[2] >>> 0, lo = R[0] >>> 0, d = v >>> 0;
      if (hi >= d) c.fault(DE);
      if (hi === 0) { R[0] = Math.floor(lo / d); R[2] = lo % d; }
      else {
        const n = (BigInt(hi) << 32n) | BigInt(lo);
        const bd = BigInt(d);
        R[0] = Number(n / bd); R[2] = Number(n % bd);
      }
    }
  }
}

function daa(c: Cpu, sub: boolean): void {
  const R = c.regs;
  const f = c.getFlags();
  const cf = f & CF, af = f & AF;
  let al = R[0] & 0xff;
  const old = al;
  let e = 0;
  if (!sub) {
    if ((al & 0xf) > 9 || af) { al = (al + 6) & 0xff; e |= AF; }
    if (old > 0x99 || cf) { al = (al + 0x60) & 0xff; e |= CF; }
  } else {
    if ((al & 0xf) > 9 || af) { e |= AF; if (al < 6 || cf) e |= CF; al = (al - 6) & 0xff; }
    if (old > 0x99 || cf) { al = (al - 0x60) & 0xff; e |= CF; }
  }
  R[0] = (R[0] & ~0xff) | al;
  e |= (al === 0 ? ZF : 0) | PARITY[al] | (al & 0x80);
  c.setArith(e);
}

function aaa(c: Cpu, sub: boolean): void {
  const R = c.regs;
  let f = c.getFlags();
  let al = R[0] & 0xff;
  let ah = (R[0] >> 8) & 0xff;
  if ((al & 0xf) > 9 || (f & AF)) {
    if (!sub) { const icarry = al > 0xf9 ? 1 : 0; al = (al + 6) & 0xf; ah = (ah + 1 + icarry) & 0xff; }
    else { const icarry = al < 6 ? 1 : 0; al = (al - 6) & 0xf; ah = (ah - 1 - icarry) & 0xff; }
    f |= CF | AF;
  } else {
    f &= ~(CF | AF);
    al &= 0xf;
  }
  R[0] = (R[0] & ~0xffff) | al | (ah << 8);
  c.setArith(f);
}

function aam(c: Cpu, base: number): void {
  if (base === 0) c.fault(DE);
  const R = c.regs;
  const al = R[0] & 0xff;
  const ah = Math.floor(al / base), r = al % base;
  R[0] = (R[0] & ~0xffff) | r | (ah << 8);
  c.ccOp = K_LOGIC * 4; c.ccDst = r;
}

function aad(c: Cpu, base: number): void {
  const R = c.regs;
  const al = ((((R[0] >> 8) & 0xff) * base) + (R[0] & 0xff)) & 0xff;
  R[0] = (R[0] & ~0xffff) | al;
  c.ccOp = K_LOGIC * 4; c.ccDst = al;
}

function enter(c: Cpu, osz: number, size: number, level: number): void {
  const R = c.regs;
  const n = osz === 2 ? 4 : 2;
  const sp0 = c.sp;
  // Frame writes are probed first so that a fault leaves ESP/EBP unchanged.
  let sp = (sp0 - n) | 0;
  const w = (off: number, v: number): void => { const a = c.stackAddr(off, n, true); if (n === 4) c.wr32(a, v); else c.wr16(a, v); };
  w(sp, R[5]);
  const frame = sp;
  if (level > 0) {
    let bp = c.stack32 ? R[5] : R[5] & 0xffff;
    for (let i = 1; i < level; i++) {
      bp = (bp - n) | 0;
      const a = c.stackAddr(c.stack32 ? bp : bp & 0xffff, n, false);
      const v = n === 4 ? c.rd32(a) : c.rd16(a);
      sp = (sp - n) | 0;
      w(sp, v);
    }
    sp = (sp - n) | 0;
    w(sp, frame);
  }
  sp = (sp - size) | 0;
  if (osz === 2) R[5] = frame; else R[5] = (R[5] & ~0xffff) | (frame & 0xffff);
  c.setSp(sp);
}

// ---------------------------------------------------------------- string instructions

function stringOp(c: Cpu, op: number, ot: number, a16: boolean, rep: 'rep' | 'repne' | null, seg: number): Op {
  const R = c.regs;
  const n = [1, 2, 4][ot];
  const getIdx = (i: number): number => a16 ? R[i] & 0xffff : R[i];
  const setIdx = (i: number, v: number): void => { if (a16) R[i] = (R[i] & ~0xffff) | (v & 0xffff); else R[i] = v; };
  const src = (): number => { const o = getIdx(6); return c.segFlatR[seg] ? o : c.linear(seg, o, n, false); };
  const dstR = (): number => { const o = getIdx(7); return c.segFlatR[SEG_ES] ? o : c.linear(SEG_ES, o, n, false); };
  const dstW = (): number => { const o = getIdx(7); return c.segFlatW[SEG_ES] ? o : c.linear(SEG_ES, o, n, true); };
  const rd = (a: number): number => n === 4 ? c.rd32(a) : n === 2 ? c.rd16(a) : c.rd8(a);
  const wr = (a: number, v: number): void => { if (n === 4) c.wr32(a, v); else if (n === 2) c.wr16(a, v); else c.wr8(a, v); };
  const step = (): number => (c.flags & DF ? -n : n);
  const cmp = (a: number, b: number): void => {
    const m = SIZE_MASK[ot];
    c.ccOp = K_SUB * 4 + ot; c.ccDst = (a - b) & m; c.ccSrc = b & m;
  };
  let once: () => void;
  let compares = false;
  switch (op) {
    case 0xa4: once = () => { const v = rd(src()); wr(dstW(), v); const d = step(); setIdx(6, getIdx(6) + d); setIdx(7, getIdx(7) + d); }; break;
    case 0xa6: compares = true; once = () => { const a = rd(src()); const b = rd(dstR()); cmp(a, b); const d = step(); setIdx(6, getIdx(6) + d); setIdx(7, getIdx(7) + d); }; break;
    case 0xaa: once = () => { wr(dstW(), R[0]); setIdx(7, getIdx(7) + step()); }; break;
    case 0xac: once = () => { const v = rd(src()); if (n === 4) R[0] = v; else if (n === 2) R[0] = (R[0] & ~0xffff) | v; else R[0] = (R[0] & ~0xff) | v; setIdx(6, getIdx(6) + step()); }; break;
    default: compares = true; once = () => { const b = rd(dstR()); cmp(R[0], b); setIdx(7, getIdx(7) + step()); }; break;
  }
  if (rep === null) return once;
  const wantZero = rep === 'rep';
  if ((op === 0xa4 || op === 0xaa) && !a16) {
    // rep movs / rep stos: whole runs inside one source and one destination page at a time when both
    // translations are cached, the segments flat and DF clear; element by element otherwise.
    const isMovs = op === 0xa4;
    const ram = c.ram;
    const view = c.view;
    return () => {
      for (;;) {
        let cnt = R[1] >>> 0;
        if (cnt === 0) return;
        const d = R[7];
        const s = R[6];
        let k = 0;
        if (!(c.flags & DF) && c.segFlatW[SEG_ES] && (!isMovs || c.segFlatR[seg])) {
          const te = c.tlbW[d >>> 12];
          const ts = isMovs ? c.tlbR[s >>> 12] : 1;
          if (te !== 0 && ts !== 0) {
            k = Math.min(cnt, ((0x1000 - (d & 0xfff)) / n) | 0, isMovs ? ((0x1000 - (s & 0xfff)) / n) | 0 : cnt);
            const pd = (te & ~0xfff) | (d & 0xfff);
            if (isMovs) {
              const ps = (ts & ~0xfff) | (s & 0xfff);
              // Forward element copies replicate when the destination starts inside the source run.
              if (pd > ps && pd < ps + k * n) k = 0;
              else if (k > 0) ram.copyWithin(pd, ps, ps + k * n);
            } else if (k > 0) {
              if (n === 1) ram.fill(R[0] & 0xff, pd, pd + k);
              else if (n === 2) for (let j = 0; j < k; j++) view.setUint16(pd + 2 * j, R[0], true);
              else for (let j = 0; j < k; j++) view.setInt32(pd + 4 * j, R[0], true);
            }
          }
        }
        if (k > 0) {
          R[7] = (d + k * n) | 0;
          if (isMovs) R[6] = (s + k * n) | 0;
          cnt -= k;
          R[1] = cnt;
          continue;
        }
        once();
        R[1] = cnt - 1;
      }
    };
  }
  return () => {
    for (;;) {
      const cnt = a16 ? R[1] & 0xffff : R[1];
      if (cnt === 0) return;
      once();
      setIdx(1, cnt - 1);
      if (compares && ((c.ccDst & SIZE_MASK[ot]) === 0) !== wantZero) return;
    }
  };
}

function stringIo(c: Cpu, out: boolean, ot: number, a16: boolean, rep: boolean, seg: number,
  sens: (id: number) => void, id: number, ioCheck: (port: number, len: number) => void): Op {
  const R = c.regs;
  const n = [1, 2, 4][ot] as 1 | 2 | 4;
  const getIdx = (i: number): number => a16 ? R[i] & 0xffff : R[i];
  const setIdx = (i: number, v: number): void => { if (a16) R[i] = (R[i] & ~0xffff) | (v & 0xffff); else R[i] = v; };
  const once = (): void => {
    const port = R[2] & 0xffff;
    const d = c.flags & DF ? -n : n;
    if (out) {
      const o = getIdx(6);
      const a = c.segFlatR[seg] ? o : c.linear(seg, o, n, false);
      const v = n === 4 ? c.rd32(a) : n === 2 ? c.rd16(a) : c.rd8(a);
      c.bus.ioWrite(port, n, v & SIZE_MASK[ot]);
      setIdx(6, o + d);
    } else {
      const o = getIdx(7);
      const a = c.segFlatW[SEG_ES] ? o : c.linear(SEG_ES, o, n, true);
      c.probeWrite(a, n);
      const v = c.bus.ioRead(port, n);
      if (n === 4) c.wr32(a, v); else if (n === 2) c.wr16(a, v); else c.wr8(a, v);
      setIdx(7, o + d);
    }
  };
  return () => {
    sens(id);
    ioCheck(R[2] & 0xffff, n);
    if (!rep) { once(); return; }
    for (;;) {
      const cnt = a16 ? R[1] & 0xffff : R[1];
      if (cnt === 0) return;
      once();
      setIdx(1, cnt - 1);
    }
  };
}

function checkIoBitmap(c: Cpu, port: number, len: number): void {
  if (!(c.trType & 8) || c.trLimit < 0x67) c.gp(0);
  const mapBase = c.sysRead16((c.trBase + 0x66) | 0);
  const byte = mapBase + (port >> 3);
  if (byte + 1 > c.trLimit) c.gp(0);
  const bits = c.sysRead16((c.trBase + byte) | 0);
  if ((bits >> (port & 7)) & ((1 << len) - 1)) c.gp(0);
}

// ---------------------------------------------------------------- system instructions

function pushSegment(c: Cpu, osz: number, sel: number): void {
  // With a 32-bit operand size the selector is pushed zero-extended (one of the two behaviours the
  // SDM allows, and QEMU's; recent Intel CPUs write only the low 16 bits).
  if (osz === 2) c.push32(sel & 0xffff);
  else c.push16(sel);
}

export function setCr0(c: Cpu, v: number): void {
  v |= 0x10; // ET is hardwired
  if ((v & 0x80000000) && !(v & 1)) c.gp(0);
  if ((v & 0x20000000) && !(v & 0x40000000)) c.gp(0);
  if (!(v & 1)) throw new MachineStop('the guest left protected mode (real mode is not implemented)', 'unsupported');
  const changed = c.cr0 ^ v;
  if ((changed & 0x80000000) && (v & 0x80000000) && (c.cr4 & 0x20)) c.loadPdptes();
  c.cr0 = v | 0;
  if (changed & 0x80010001) c.flushTlb(false);
}

function readCr(c: Cpu, n: number): number {
  switch (n) {
    case 0: return c.cr0;
    case 2: return c.cr2;
    case 3: return c.cr3;
    default: return c.cr4;
  }
}

function writeCr(c: Cpu, n: number, v: number): void {
  switch (n) {
    case 0: setCr0(c, v); break;
    case 2: c.cr2 = v; break;
    case 3:
      if ((c.cr0 & 0x80000000) && (c.cr4 & 0x20)) c.loadPdptes(v);
      c.cr3 = v; c.flushTlb(true); break;
    default: {
      // Supported CR4 bits: VME PVI TSD DE PSE PAE MCE PGE PCE OSFXSR OSXMMEXCPT.
      if (v & ~0x7ff) c.gp(0);
      const changed = c.cr4 ^ v;
      if ((changed & 0xb0) && (v & 0x20) && (c.cr0 & 0x80000000)) c.loadPdptes();
      c.cr4 = v;
      if (changed & 0xb0) c.flushTlb(false);
    }
  }
}

function rdmsr(c: Cpu, msr: number): [number, number] {
  switch (msr) {
    case 0x10: { const t = c.tsc; return [t % 0x100000000 | 0, Math.floor(t / 0x100000000) | 0]; }
    case 0x1b: return [c.apicBase, 0];
    case 0x174: return [c.sysenterCs, 0];
    case 0x175: return [c.sysenterEsp, 0];
    case 0x176: return [c.sysenterEip, 0];
    case 0x17: return [0, 0]; // IA32_PLATFORM_ID
    case 0x3a: return [c.featureControl, 0]; // IA32_FEATURE_CONTROL (no VMX/SMX)
    case 0x8b: return [0, c.ucodeRev]; // IA32_BIOS_SIGN_ID: microcode revision in EDX
    case 0x1a0: return [c.miscEnable, 0]; // IA32_MISC_ENABLE
    case 0x277: return [c.pat[0], c.pat[1]]; // IA32_PAT
    default: return c.gp(0);
  }
}

function wrmsr(c: Cpu, msr: number, lo: number, hi: number): void {
  switch (msr) {
    case 0x10: c.idleTime -= 0; break; // the virtual clock is not writable; writes are ignored
    case 0x1b: c.apicBase = (lo & ~0x6ff) | (c.apicBase & 0x100); break;
    case 0x174: c.sysenterCs = lo & 0xffff; break;
    case 0x175: c.sysenterEsp = lo; break;
    case 0x176: c.sysenterEip = lo; break;
    case 0x79: break; // IA32_BIOS_UPDT_TRIG: no microcode to load
    case 0x3a: if (c.featureControl & 1) c.gp(0); c.featureControl = lo & 1; break; // lock bit only
    case 0x8b: c.ucodeRev = 0; break; // written as 0 before cpuid, to read back the revision
    case 0x1a0: c.miscEnable = lo & 0x1; break;
    case 0x277: c.pat[0] = lo; c.pat[1] = hi; break;
    default: c.gp(0);
  }
}

/** The CPU model (./cpuid.ts). */
export function cpuid(c: Cpu): void {
  const R = c.regs;
  const r = cpuidLeaf(R[0], R[1]);
  R[0] = r[0]; R[3] = r[1]; R[1] = r[2]; R[2] = r[3];
}

function sysenter(c: Cpu): void {
  const cs = c.sysenterCs & 0xfffc;
  if (cs === 0) c.gp(0);
  c.flags &= ~(IF | VM | 0x10000);
  c.setSegmentCache(SEG_CS, cs, 0, 0xffffffff, 0xcf9b00);
  c.setSegmentCache(SEG_SS, cs + 8, 0, 0xffffffff, 0xcf9300);
  c.setCpl(0);
  c.regs[4] = c.sysenterEsp;
  c.eip = c.sysenterEip;
}

function sysexit(c: Cpu): void {
  const cs = c.sysenterCs & 0xfffc;
  if (cs === 0 || c.cpl !== 0) c.gp(0);
  c.setSegmentCache(SEG_CS, (cs + 16) | 3, 0, 0xffffffff, 0xcffb00);
  c.setSegmentCache(SEG_SS, (cs + 24) | 3, 0, 0xffffffff, 0xcff300);
  c.setCpl(3);
  c.regs[4] = c.regs[1];
  c.eip = c.regs[2];
}

function farTransfer(c: Cpu, sel: number, off: number, call: boolean, osz: number, next: number): void {
  if ((sel & 0xfffc) === 0) c.gp(0);
  const [lo, hi] = c.readDescriptor(sel);
  const type = (hi >> 8) & 0x1f;
  const dpl = (hi >> 13) & 3;
  const rpl = sel & 3;
  if ((type & 0x18) !== 0x18) {
    if (type === 0x0c || type === 0x04) {
      callGate(c, sel, lo, hi, call, osz, next);
      return;
    }
    if (type !== 0x05 && type !== 0x01 && type !== 0x09) c.gp(sel & 0xfffc);
    // A TSS or a task gate: a task switch (the gate names the TSS).
    if (dpl < c.cpl || dpl < rpl) c.gp(sel & 0xfffc);
    if (!(hi & 0x8000)) c.fault(NP, sel & 0xfffc);
    c.taskSwitch(type === 0x05 ? lo >>> 16 : sel, call ? 'call' : 'jmp', next);
    return;
  }
  if (type & 4) { if (dpl > c.cpl) c.gp(sel & 0xfffc); }
  else if (rpl > c.cpl || dpl !== c.cpl) c.gp(sel & 0xfffc);
  if (!(hi & 0x8000)) c.fault(NP, sel & 0xfffc);
  const limit = Cpu.descLimit(lo, hi);
  if ((off >>> 0) > limit) c.gp(0);
  if (call) {
    const oldCs = c.segSel[SEG_CS];
    const sp = c.sp;
    try {
      if (osz === 2) { c.push32(oldCs); c.push32(next); } else { c.push16(oldCs); c.push16(next); }
    } catch (e) { c.setSp(sp); throw e; }
  }
  c.loadCs(sel, lo, hi, c.cpl);
  c.eip = off;
}

function callGate(c: Cpu, sel: number, lo: number, hi: number, call: boolean, osz: number, next: number): void {
  const dpl = (hi >> 13) & 3;
  if (dpl < c.cpl || dpl < (sel & 3)) c.gp(sel & 0xfffc);
  if (!(hi & 0x8000)) c.fault(NP, sel & 0xfffc);
  const gate32 = ((hi >> 8) & 0x1f) === 0x0c;
  const target = lo >>> 16;
  const off = gate32 ? ((hi & 0xffff0000) | (lo & 0xffff)) : lo & 0xffff;
  if ((target & 0xfffc) === 0) c.gp(0);
  const [clo, chi] = c.readDescriptor(target);
  const cdpl = (chi >> 13) & 3;
  if ((((chi >> 8) & 0x18) !== 0x18) || cdpl > c.cpl) c.gp(target & 0xfffc);
  if (!(chi & 0x8000)) c.fault(NP, target & 0xfffc);
  const conforming = ((chi >> 8) & 4) !== 0;
  if (!call && !conforming && cdpl !== c.cpl) c.gp(target & 0xfffc);
  if (call && !conforming && cdpl < c.cpl) {
    // Inner-level call: new stack from the TSS, caller's SS:ESP and the gate's parameters copied.
    const [ss, esp] = c.tssStack(cdpl, 0);
    const [slo, shi] = c.readDescriptor(ss, TS);
    if ((ss & 3) !== cdpl || ((shi >> 13) & 3) !== cdpl || ((shi >> 8) & 0x1a) !== 0x12) c.fault(TS, ss & 0xfffc);
    if (!(shi & 0x8000)) c.fault(SS_V, ss & 0xfffc);
    const n = gate32 ? 4 : 2;
    const count = hi & 0x1f;
    const oldSs = c.segSel[SEG_SS];
    const oldEsp = c.regs[4];
    const oldSp = c.sp;
    const params: number[] = [];
    for (let i = 0; i < count; i++) {
      const a = c.stackAddr((oldSp + i * n) | 0, n, false);
      params.push(n === 4 ? c.rd32(a) : c.rd16(a));
    }
    const sbase = Cpu.descBase(slo, shi);
    const big = (shi & 0x400000) !== 0;
    const frame = [oldSs, oldEsp, ...params.reverse(), c.segSel[SEG_CS], next];
    let sp = esp;
    for (const v of frame) {
      sp = (sp - n) | 0;
      const a = (sbase + (big ? sp : sp & 0xffff)) | 0;
      if (n === 4) c.sysWrite32(a, v); else c.physWrite16(c.translate(a, true, false), v);
    }
    c.setSegmentCache(SEG_SS, (ss & 0xfffc) | cdpl, sbase, Cpu.descLimit(slo, shi), (shi | 0x100) & 0xffff00);
    c.regs[4] = big ? sp : (c.regs[4] & ~0xffff) | (sp & 0xffff);
    c.loadCs(target, clo, chi, cdpl);
    c.eip = off;
    return;
  }
  if (call) {
    const oldCs = c.segSel[SEG_CS];
    if (gate32) { c.push32(oldCs); c.push32(next); } else { c.push16(oldCs); c.push16(next); }
  }
  c.loadCs(target, clo, chi, c.cpl);
  c.eip = off;
}

/** A word of the stack at SS:(sp + off), n bytes. */
function stackRead(c: Cpu, sp: number, off: number, n: number): number {
  const a = c.stackAddr((sp + off) | 0, n, false);
  return n === 4 ? c.rd32(a) : c.rd16(a);
}

function farReturn(c: Cpu, osz: number, extra: number): void {
  const n = osz === 2 ? 4 : 2;
  const sp = c.sp;
  const eip = stackRead(c, sp, 0, n);
  const sel = stackRead(c, sp, n, n) & 0xffff;
  if ((sel & 0xfffc) === 0) c.gp(0);
  const [lo, hi] = c.readDescriptor(sel);
  const rpl = sel & 3;
  const dpl = (hi >> 13) & 3;
  const type = (hi >> 8) & 0x1f;
  if ((type & 0x18) !== 0x18 || rpl < c.cpl) c.gp(sel & 0xfffc);
  if (type & 4 ? dpl > rpl : dpl !== rpl) c.gp(sel & 0xfffc);
  if (!(hi & 0x8000)) c.fault(NP, sel & 0xfffc);
  if (rpl === c.cpl) {
    c.loadCs(sel, lo, hi, rpl);
    c.setSp((sp + 2 * n + extra) | 0);
    c.eip = eip;
    return;
  }
  const newEsp = stackRead(c, sp, 2 * n + extra, n);
  const newSs = stackRead(c, sp, 3 * n + extra, n) & 0xffff;
  const [slo, shi] = checkOuterStack(c, newSs, rpl);
  c.loadCs(sel, lo, hi, rpl);
  loadOuterStack(c, newSs, slo, shi, newEsp + extra, osz);
  c.nullInaccessibleSegments();
  c.eip = eip;
}

function checkOuterStack(c: Cpu, ss: number, rpl: number): [number, number] {
  if ((ss & 0xfffc) === 0) c.gp(0);
  const [slo, shi] = c.readDescriptor(ss);
  const sdpl = (shi >> 13) & 3;
  const stype = (shi >> 8) & 0x1f;
  if ((ss & 3) !== rpl || sdpl !== rpl || (stype & 0x1a) !== 0x12) c.gp(ss & 0xfffc);
  if (!(shi & 0x8000)) c.fault(SS_V, ss & 0xfffc);
  return [slo, shi];
}

function loadOuterStack(c: Cpu, ss: number, slo: number, shi: number, esp: number, osz: number): void {
  c.setSegmentCache(SEG_SS, ss, Cpu.descBase(slo, shi), Cpu.descLimit(slo, shi), (shi | 0x100) & 0xffff00);
  if (osz === 2 && c.stack32) c.regs[4] = esp;
  else c.regs[4] = (c.regs[4] & ~0xffff) | (esp & 0xffff);
}

function iret(c: Cpu, osz: number): void {
  if (c.flags & NT) {
    // Return to the task that called this one (its selector is the back link of the current TSS).
    c.taskSwitch(c.sysRead16(c.trBase), 'iret', c.eip);
    return;
  }
  const n = osz === 2 ? 4 : 2;
  const sp = c.sp;
  const eip = stackRead(c, sp, 0, n);
  const sel = stackRead(c, sp, n, n) & 0xffff;
  const flags = stackRead(c, sp, 2 * n, n);
  if (osz === 2 && (flags & VM) && c.cpl === 0) throw new MachineStop('iret to virtual-8086 mode (not implemented)', 'unsupported');
  if ((sel & 0xfffc) === 0) c.gp(0);
  const [lo, hi] = c.readDescriptor(sel);
  const rpl = sel & 3;
  const dpl = (hi >> 13) & 3;
  const type = (hi >> 8) & 0x1f;
  if ((type & 0x18) !== 0x18 || rpl < c.cpl) c.gp(sel & 0xfffc);
  if (type & 4 ? dpl > rpl : dpl !== rpl) c.gp(sel & 0xfffc);
  if (!(hi & 0x8000)) c.fault(NP, sel & 0xfffc);
  if ((eip >>> 0) > Cpu.descLimit(lo, hi)) c.gp(0);
  if (rpl === c.cpl) {
    c.loadCs(sel, lo, hi, rpl);
    c.setSp((sp + 3 * n) | 0);
    c.popFlags(flags, osz === 2 ? 32 : 16, true);
    c.eip = eip;
    return;
  }
  const newEsp = stackRead(c, sp, 3 * n, n);
  const newSs = stackRead(c, sp, 4 * n, n) & 0xffff;
  const [slo, shi] = checkOuterStack(c, newSs, rpl);
  // Flags are written with the privilege of the level being left.
  c.popFlags(flags, osz === 2 ? 32 : 16, true);
  c.loadCs(sel, lo, hi, rpl);
  loadOuterStack(c, newSs, slo, shi, newEsp, osz);
  c.nullInaccessibleSegments();
  c.eip = eip;
}

function lldt(c: Cpu, sel: number): void {
  if ((sel & 0xfffc) === 0) { c.ldtSel = sel; c.ldtBase = 0; c.ldtLimit = 0; return; }
  if (sel & 4) c.gp(sel & 0xfffc);
  const [lo, hi] = c.readDescriptor(sel);
  if (((hi >> 8) & 0x1f) !== 2) c.gp(sel & 0xfffc);
  if (!(hi & 0x8000)) c.fault(NP, sel & 0xfffc);
  c.ldtSel = sel; c.ldtBase = Cpu.descBase(lo, hi); c.ldtLimit = Cpu.descLimit(lo, hi);
}

function ltr(c: Cpu, sel: number): void {
  if ((sel & 0xfffc) === 0 || (sel & 4)) c.gp(sel & 0xfffc);
  const [lo, hi, addr] = c.readDescriptor(sel);
  const type = (hi >> 8) & 0x1f;
  if (type !== 1 && type !== 9) c.gp(sel & 0xfffc);
  if (!(hi & 0x8000)) c.fault(NP, sel & 0xfffc);
  c.trSel = sel; c.trBase = Cpu.descBase(lo, hi); c.trLimit = Cpu.descLimit(lo, hi); c.trType = type | 2;
  c.sysWrite32((addr + 4) | 0, hi | 0x200); // mark busy
}

function verify(c: Cpu, sel: number, write: boolean): void {
  const f = c.getFlags();
  let ok = false;
  if ((sel & 0xfffc) !== 0) {
    try {
      const [, hi] = c.readDescriptor(sel);
      const type = (hi >> 8) & 0x1f;
      const dpl = (hi >> 13) & 3;
      if (type & 0x10) {
        const code = (type & 8) !== 0;
        const conforming = code && (type & 4) !== 0;
        const privOk = conforming || (dpl >= c.cpl && dpl >= (sel & 3));
        ok = privOk && (write ? !code && (type & 2) !== 0 : !code || (type & 2) !== 0);
      }
    } catch (e) {
      if (e !== FAULT) throw e;
    }
  }
  c.setArith(ok ? f | ZF : f & ~ZF);
}

function larLsl(c: Cpu, sel: number, lsl: boolean, set: (v: number) => void): void {
  const f = c.getFlags();
  let ok = false;
  let value = 0;
  if ((sel & 0xfffc) !== 0) {
    try {
      const [lo, hi] = c.readDescriptor(sel);
      const type = (hi >> 8) & 0x1f;
      const dpl = (hi >> 13) & 3;
      const conforming = (type & 0x1c) === 0x1c;
      let valid: boolean;
      if (type & 0x10) valid = true;
      else valid = lsl ? [1, 2, 3, 9, 11].includes(type) : [1, 2, 3, 4, 5, 9, 11, 12].includes(type);
      if (valid && (conforming || (dpl >= c.cpl && dpl >= (sel & 3)))) {
        ok = true;
        value = lsl ? Cpu.descLimit(lo, hi) : hi & 0x00f0ff00;
      }
    } catch (e) {
      if (e !== FAULT) throw e;
    }
  }
  if (ok) set(value | 0);
  c.setArith(ok ? f | ZF : f & ~ZF);
}

// Flags masks referenced by other modules.
export { IOPL, TF, GP, TS, CC_EFLAGS };
