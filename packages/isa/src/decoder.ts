// The x86 decoder: 16/32/64-bit modes, legacy prefixes, REX, VEX, EVEX, XOP, 3DNow!, ModRM/SIB,
// displacements and immediates, driven by the opcode tables in opcodes.ts. Text is AT&T syntax
// exactly as GNU objdump (binutils 2.40) prints it, including its size-suffix rules and its handling of
// unused prefixes and undefined encodings, so that the decoder can be checked against objdump
// instruction by instruction.
//
// Speed: one decoder, run over module-level state without allocating; operand text is only built
// when asked for (`decode`), so that `instructionLength` and `scanInstructions` stay fast.
import { SENSITIVE_CLASSES, sensitiveClassByName, type SensitiveClass } from './catalogue.js';
import {
  ONE_BYTE, TWO_BYTE, THREE_BYTE_38, THREE_BYTE_3A, ONE_BYTE_HAS_MODRM, TWO_BYTE_HAS_MODRM,
  SUFFIX_3DNOW, FLOAT_MEM, FLOAT_REG, FLOAT_MEM_MODE, type RawEntry,
} from './opcodes.js';
import { VEX_MAPS, XOP_MAPS, EVEX_MAPS } from './vex-opcodes.js';

export type CpuMode = 16 | 32 | 64;
export type InstructionGroup = 'general' | 'system' | 'x87' | 'mmx' | 'sse' | 'avx' | 'avx512' | 'other';

export interface DecodedInstruction {
  address: number;
  length: number;
  valid: boolean;
  mnemonic: string;
  operandText: string;
  group: InstructionGroup;
  sensitive: SensitiveClass | null;
  prefixes: {
    lock: boolean; rep: 'rep' | 'repne' | null; segment: 'es' | 'cs' | 'ss' | 'ds' | 'fs' | 'gs' | null;
    operandSizeOverride: boolean; addressSizeOverride: boolean; rex: number;
  };
  opcodeMap: 'primary' | '0f' | '0f38' | '0f3a' | 'vex' | 'evex' | 'xop' | '3dnow';
  opcode: number;
  modrm: number | null;
  sib: number | null;
  displacement: number;
  immediate: number;
  immediate2: number;
  operandSize: 16 | 32 | 64;
  addressSize: 16 | 32 | 64;
  /** Target of a relative branch, or of a %rip-relative memory operand; null otherwise. */
  target: number | null;
}

// ---------------------------------------------------------------------------------------------
// Compiled tables.
const enum K { Insn = 0, Reg = 1, Mod = 2, Rm = 3, Pfx = 4, M64 = 5, Special = 6, PfxNone = 7 }
const enum Sp { Float, T38, T3A, VexC4, VexC5, Evex, Xop, Now3d }
interface Insn {
  k: K.Insn; tmpl: string; ops: number[]; req: number; sens: SensitiveClass | null; group: InstructionGroup; mmxLike: boolean;
  /** Whether the mnemonic template affects the length or validity (mandatory-prefix use, the Z macro). */
  lengthPutop?: boolean;
  }
interface Sw { k: K.Reg | K.Mod | K.Rm | K.Pfx | K.M64; c: (Node | null)[] }
interface Special { k: K.Special; s: Sp }
interface PfxNone { k: K.PfxNone }
type Node = Insn | Sw | Special | PfxNone;

// Operand routines and byte modes (an operand is rtn << 8 | mode).
const enum O {
  None, E, G, I, I64, sI, J, REG, IMREG, SEG, DIR, OFF64, ESreg, DSreg, C, D, T, M, IndirE, Skip,
  MMX, XMM, EM, EMC, MXC, EX, MS, XS, OP0f07, NOP, Now3d, CMP, Mwait, Monitor, REP, SEP, BND, NOTRACK,
  HLE1, HLE2, HLE3, CMPXCHG8B, FXSAVE, MOVSXD, XMM0, PCLMUL, ST, STi, PREFETCHI,
}
const enum B {
  none, b, b_swap, v, v_swap, w, d, q, dq, db, dw, m, va, stack_v, indir_v, f, a, x, x_swap, o, movsxd,
  const1, b_T, dqw, v_bnd, v_bndmk, bnd, bnd_swap, t, xmm, d_swap, q_swap, eBXmw,
  // register codes
  al = 64, cl, dl, bl, ah, ch, dh, bh, ax, cx, dx_, bx, sp, bp, si, di,
  eAX, eCX, eDX, eBX, eSP, eBP, eSI, eDI, rAX, rCX, rDX, rBX, rSP, rBP, rSI, rDI,
  es, cs, ss, ds, fs, gs, z_ax, indir_dx,
}

const OPERANDS: Record<string, [O, B]> = {
  Eb: [O.E, B.b], EbS: [O.E, B.b_swap], Ev: [O.E, B.v], EvS: [O.E, B.v_swap], Ed: [O.E, B.d], Edq: [O.E, B.dq],
  Edb: [O.E, B.db], Edw: [O.E, B.dw], Eq: [O.E, B.q], Em: [O.E, B.m], Ew: [O.E, B.w], Eva: [O.E, B.va],
  Ev_bnd: [O.E, B.v_bnd], EbndS: [O.E, B.bnd_swap], Ebh1: [O.HLE1, B.b], Evh1: [O.HLE1, B.v], Ebh2: [O.HLE2, B.b],
  Evh2: [O.HLE2, B.v], Ebh3: [O.HLE3, B.b], Evh3: [O.HLE3, B.v], indirEv: [O.IndirE, B.indir_v],
  indirEp: [O.IndirE, B.f], stackEv: [O.E, B.stack_v],
  M: [O.M, B.none], Ma: [O.M, B.a], Mb: [O.M, B.b], Md: [O.M, B.d], Mp: [O.M, B.f], Mq: [O.M, B.q], Mv: [O.M, B.v],
  Mw: [O.M, B.w], Mx: [O.M, B.x], Mv_bnd: [O.M, B.v_bndmk], Mdq: [O.M, B.dq], Mo: [O.M, B.o], PREFETCHI: [O.PREFETCHI, B.b],
  Gb: [O.G, B.b], Gv: [O.G, B.v], Gd: [O.G, B.d], Gdq: [O.G, B.dq], Gm: [O.G, B.m], Gw: [O.G, B.w], Gva: [O.G, B.va],
  Gbnd: [O.G, B.bnd],
  Ib: [O.I, B.b], Iw: [O.I, B.w], Iv: [O.I, B.v], Id: [O.I, B.d], I1: [O.I, B.const1], sIb: [O.sI, B.b],
  sIbT: [O.sI, B.b_T], sIv: [O.sI, B.v], Iv64: [O.I64, B.v], Jb: [O.J, B.b], Jv: [O.J, B.v], Jdqw: [O.J, B.dqw],
  Cm: [O.C, B.m], Dm: [O.D, B.m], Td: [O.T, B.d], Skip: [O.Skip, B.none],
  eAX: [O.IMREG, B.eAX], AL: [O.IMREG, B.al], CL: [O.IMREG, B.cl], zAX: [O.IMREG, B.z_ax], indirDX: [O.IMREG, B.indir_dx],
  Sw: [O.SEG, B.w], Sv: [O.SEG, B.v], Ap: [O.DIR, B.none], Ob: [O.OFF64, B.b], Ov: [O.OFF64, B.v],
  Xb: [O.DSreg, B.eSI], Xv: [O.DSreg, B.eSI], Xz: [O.DSreg, B.eSI], Yb: [O.ESreg, B.eDI], Yv: [O.ESreg, B.eDI],
  DSBX: [O.DSreg, B.eBX],
  es: [O.REG, B.es], cs: [O.REG, B.cs], ss: [O.REG, B.ss], ds: [O.REG, B.ds], fs: [O.REG, B.fs], gs: [O.REG, B.gs],
  Xbr: [O.REP, B.eSI], Xvr: [O.REP, B.eSI], Ybr: [O.REP, B.eDI], Yvr: [O.REP, B.eDI], Yzr: [O.REP, B.eDI],
  indirDXr: [O.REP, B.indir_dx], ALr: [O.REP, B.al], eAXr: [O.REP, B.eAX],
  BND: [O.BND, B.none], NOTRACK: [O.NOTRACK, B.none], SEP: [O.SEP, B.none], MOVSXD: [O.MOVSXD, B.movsxd],
  NOP0: [O.NOP, B.none], NOP1: [O.NOP, B.b], MONITOR: [O.Monitor, B.none], MWAIT: [O.Mwait, B.none],
  MWAITX: [O.Mwait, B.eBX], OP0f07: [O.OP0f07, B.none], CMPXCHG8B: [O.CMPXCHG8B, B.q], FXSAVE: [O.FXSAVE, B.none],
  MX: [O.MMX, B.none], XM: [O.XMM, B.none], XS: [O.XS, B.v], MS: [O.MS, B.v], EM: [O.EM, B.v], EMS: [O.EM, B.v_swap],
  EMd: [O.EM, B.d], EMx: [O.EM, B.x], EMCq: [O.EMC, B.q], MXC: [O.MXC, B.none], EXx: [O.EX, B.x], EXxS: [O.EX, B.x_swap],
  EXd: [O.EX, B.d], EXdS: [O.EX, B.d_swap], EXq: [O.EX, B.q], EXqS: [O.EX, B.q_swap], EXw: [O.EX, B.w],
  EXxmm: [O.EX, B.xmm], CMP: [O.CMP, B.none], XMM0: [O.XMM0, B.none], PCLMUL: [O.PCLMUL, B.none],
  ST: [O.ST, B.none], STi: [O.STi, B.none],
};
const REGNAMES16 = ['AX', 'CX', 'DX', 'BX', 'SP', 'BP', 'SI', 'DI'];
const REGNAMES8 = ['AL', 'CL', 'DL', 'BL', 'AH', 'CH', 'DH', 'BH'];
for (let i = 0; i < 8; i++) {
  OPERANDS[`RMe${REGNAMES16[i]}`] = [O.REG, B.eAX + i];
  OPERANDS[`RMr${REGNAMES16[i]}`] = [O.REG, B.rAX + i];
  OPERANDS[`RM${REGNAMES8[i]}`] = [O.REG, B.al + i];
}

// Mandatory-prefix rules of an entry.
const REQ_OPCODE = 1, REQ_DATA = 2, REQ_IGNORED = 3;

// 0F-map opcodes that are system instructions even where the catalogue has no class for them.
const SYSTEM_0F = new Set([0x00, 0x01, 0x05, 0x06, 0x07, 0x08, 0x09, 0x20, 0x21, 0x22, 0x23, 0x24, 0x26, 0x30, 0x31, 0x32, 0x33, 0x34, 0x35, 0x37, 0xaa]);

function compile(raw: RawEntry, groupHint: InstructionGroup | null): Node | null {
  if (raw === null) return null;
  if (typeof raw === 'string') {
    if (raw === '@none') return { k: K.PfxNone };
    const [head, ...flags] = raw.split('#');
    const sp = head!.indexOf(' ');
    const tmpl = sp < 0 ? head! : head!.slice(0, sp);
    const opText = sp < 0 ? '' : head!.slice(sp + 1);
    const ops: number[] = [];
    let usesXmm = false, usesMmx = false;
    for (const tok of opText ? opText.split(',') : []) {
      const spec = OPERANDS[tok];
      if (!spec) throw new Error(`opcode table: unknown operand ${tok} in "${raw}"`);
      ops.push((spec[0] << 8) | spec[1]);
      if ([O.XMM, O.EX, O.XS, O.XMM0].includes(spec[0])) usesXmm = true;
      if ([O.MMX, O.EM, O.MS, O.EMC, O.MXC].includes(spec[0])) usesMmx = true;
    }
    let req = 0, sens: SensitiveClass | null = null, group: InstructionGroup | null = null;
    for (const f of flags) {
      if (f === 'opc') req = REQ_OPCODE;
      else if (f === 'data') req = REQ_DATA;
      else if (f === 'ign') req = REQ_IGNORED;
      else if (f.startsWith('s=')) {
        sens = sensitiveClassByName(f.slice(2)) ?? null;
        if (!sens) throw new Error(`opcode table: "${raw}" names no catalogue class`);
      } else if (f.startsWith('g=')) group = f.slice(2) as InstructionGroup;
      else if (f !== '') throw new Error(`opcode table: unknown flag ${f} in "${raw}"`);
    }
    const g: InstructionGroup = group ?? (sens ? 'system' : usesXmm ? 'sse' : usesMmx ? 'mmx' : groupHint ?? 'general');
    return { k: K.Insn, tmpl, ops, req, sens, group: g, mmxLike: usesMmx && !usesXmm && group === null };
  }
  if (raw.special) {
    const s = { float: Sp.Float, '0f38': Sp.T38, '0f3a': Sp.T3A, vexc4: Sp.VexC4, vexc5: Sp.VexC5, evex: Sp.Evex, xop: Sp.Xop, '3dnow': Sp.Now3d }[raw.special];
    return { k: K.Special, s };
  }
  const c = (list: RawEntry[]) => list.map((e) => compile(e, groupHint));
  if (raw.reg) return { k: K.Reg, c: c(raw.reg) };
  if (raw.mod) return { k: K.Mod, c: c(raw.mod) };
  if (raw.rm) return { k: K.Rm, c: c(raw.rm) };
  if (raw.pfx) return { k: K.Pfx, c: c(raw.pfx) };
  if (raw.m64) return { k: K.M64, c: c(raw.m64) };
  throw new Error('opcode table: empty switch');
}

function markPutop(n: Node | null): void {
  if (n === null) return;
  if (n.k === K.Insn) n.lengthPutop = n.req !== 0 || n.tmpl.includes('Z') || n.tmpl === '(bad)';
  else if (n.k !== K.Special && n.k !== K.PfxNone) n.c.forEach(markPutop);
}
const T1: (Node | null)[] = ONE_BYTE.map((e) => compile(e, null));
const T2: (Node | null)[] = TWO_BYTE.map((e, i) => compile(e, SYSTEM_0F.has(i) ? 'system' : null));
const T38: (Node | null)[] = THREE_BYTE_38.map((e) => compile(e, null));
const T3A: (Node | null)[] = THREE_BYTE_3A.map((e) => compile(e, null));
[T1, T2, T38, T3A].forEach((t) => t.forEach(markPutop));
const BAD: Insn = { k: K.Insn, tmpl: '(bad)', ops: [], req: 0, sens: null, group: 'other', mmxLike: false };
const FLOAT_MEM_NODES: Insn[] = FLOAT_MEM.map((name, i) => {
  const m = FLOAT_MEM_MODE[i]!;
  const mode = m === 'd' ? B.d : m === 'w' ? B.w : m === 'q' ? B.q : m === 't' ? B.t : B.none;
  return { k: K.Insn, tmpl: name ?? '(bad)', ops: [(O.E << 8) | mode], req: 0, sens: null, group: 'x87', mmxLike: false };
});
const FLOAT_REG_NODES: (Insn | Insn[])[][] = FLOAT_REG.map((row) => row.map((e) => {
  if (e === null) return BAD;
  if (typeof e !== 'string') return (e as (string | null)[]).map((n) => ({ k: K.Insn, tmpl: n ?? '(bad)', ops: [], req: 0, sens: null, group: 'x87', mmxLike: false }) as Insn);
  const n = compile(e, 'x87') as Insn;
  n.group = 'x87';
  return n;
}));

// ---------------------------------------------------------------------------------------------
// Decoder state (module-level: one decode at a time, no allocation).
const P_REPZ = 1, P_REPNZ = 2, P_CS = 4, P_SS = 8, P_DS = 0x10, P_ES = 0x20, P_FS = 0x40, P_GS = 0x80,
  P_LOCK = 0x100, P_DATA = 0x200, P_ADDR = 0x400, P_FWAIT = 0x800;
const REX_B = 1, REX_X = 2, REX_R = 4, REX_W = 8, REX_OPCODE = 0x40;
const DFLAG = 1, AFLAG = 2;
const PFX_REP = 0x100, PFX_XACQUIRE = 0x101, PFX_XRELEASE = 0x102, PFX_BND = 0x103, PFX_NOTRACK = 0x104;

let buf: Uint8Array = new Uint8Array(0);
let start = 0; // offset of the instruction
let limit = 0; // end of readable bytes
let codep = 0;
let insnCodep = 0;
let endCodep = 0;
let mode: CpuMode = 32;
let text = false;
let pc = 0;
let prefixes = 0, usedPrefixes = 0, rex = 0, rexUsed = 0, activeSeg = 0;
let lastLock = -1, lastRepz = -1, lastRepnz = -1, lastData = -1, lastAddr = -1, lastRex = -1, lastSeg = -1, fwaitPrefix = -1;
const allPrefixes = new Int32Array(16);
let needModrm = false, modMod = 0, modReg = 0, modRm = 0, modrmPos = -1;
let hasSib = false, sibScale = 0, sibIndex = 0, sibBase = 0, sibPos = -1;
let needVex = false, evex = false, vexW = 0, vexLength = 128, vexPrefix = 0, vexRegSpec = 0, vexLL = 0, vexB = false, vexV = false, vexR = false, vexMask = 0, vexZero = false;
let twoSourceOps = false;
let obuf = '';
const opOut: string[] = ['', '', '', '', ''];
let opTarget = -1; // operand index holding a branch target
let ripDisp: number | null = null;
let branchTarget = 0;
let curEntry: Insn = BAD;
let opcodeMapId: DecodedInstruction['opcodeMap'] = 'primary';
let opcodeByte = 0;
let dispValue = 0, imm1 = 0, imm2 = 0, immCount = 0;
let curGroup: InstructionGroup = 'general';

class Truncated { }
const TRUNCATED = new Truncated();
function fetch(n: number): void { if (codep + n > limit) throw TRUNCATED; }

const NAMES64 = ['%rax', '%rcx', '%rdx', '%rbx', '%rsp', '%rbp', '%rsi', '%rdi', '%r8', '%r9', '%r10', '%r11', '%r12', '%r13', '%r14', '%r15'];
const NAMES32 = ['%eax', '%ecx', '%edx', '%ebx', '%esp', '%ebp', '%esi', '%edi', '%r8d', '%r9d', '%r10d', '%r11d', '%r12d', '%r13d', '%r14d', '%r15d'];
const NAMES16 = ['%ax', '%cx', '%dx', '%bx', '%sp', '%bp', '%si', '%di', '%r8w', '%r9w', '%r10w', '%r11w', '%r12w', '%r13w', '%r14w', '%r15w'];
const NAMES8 = ['%al', '%cl', '%dl', '%bl', '%ah', '%ch', '%dh', '%bh'];
const NAMES8REX = ['%al', '%cl', '%dl', '%bl', '%spl', '%bpl', '%sil', '%dil', '%r8b', '%r9b', '%r10b', '%r11b', '%r12b', '%r13b', '%r14b', '%r15b'];
const NAMES_SEG = ['%es', '%cs', '%ss', '%ds', '%fs', '%gs', '%?', '%?'];
const INDEX16 = ['%bx,%si', '%bx,%di', '%bp,%si', '%bp,%di', '%si', '%di', '%bp', '%bx'];
const NAMES_MM = ['%mm0', '%mm1', '%mm2', '%mm3', '%mm4', '%mm5', '%mm6', '%mm7'];
const NAMES_XMM = Array.from({ length: 32 }, (_, i) => `%xmm${i}`);
const NAMES_BND = ['%bnd0', '%bnd1', '%bnd2', '%bnd3'];
const SIMD_CMP = ['eq', 'lt', 'le', 'unord', 'neq', 'nlt', 'nle', 'ord'];

function usedRex(value: number): void {
  if (value) { if (rex & value) rexUsed |= value | REX_OPCODE; } else rexUsed |= REX_OPCODE;
}

function hex(v: number): string { return '0x' + v.toString(16); }
/** A value as objdump prints an address-sized quantity: 64-bit in long mode, 32-bit otherwise. */
function valueText(lo: number, hi: number): string {
  if (mode === 64) {
    const h = hi >>> 0;
    if (h === 0) return '0x' + (lo >>> 0).toString(16);
    return '0x' + h.toString(16) + (lo >>> 0).toString(16).padStart(8, '0');
  }
  return '0x' + (lo >>> 0).toString(16);
}
/** A signed value sign-extended to 64 bits (or taken as 32 bits outside long mode). */
function signedValueText(v: number): string { return valueText(v | 0, v < 0 ? -1 : 0); }

function byteAt(p: number): number { return buf[p]!; }
function get8(): number { fetch(1); return buf[codep++]!; }
function get16(): number { fetch(2); const v = buf[codep]! | (buf[codep + 1]! << 8); codep += 2; return v; }
function get32(): number { fetch(4); const v = (buf[codep]! | (buf[codep + 1]! << 8) | (buf[codep + 2]! << 16) | (buf[codep + 3]! << 24)) >>> 0; codep += 4; return v; }
function get32s(): number { return get32() | 0; }

// ---------------------------------------------------------------------------------------------
// Prefixes.
function ckprefix(): boolean {
  let i = 0, length = 0;
  while (length < 14) {
    fetch(1);
    const b = buf[codep]!;
    let newrex = 0;
    switch (b) {
      case 0x40: case 0x41: case 0x42: case 0x43: case 0x44: case 0x45: case 0x46: case 0x47:
      case 0x48: case 0x49: case 0x4a: case 0x4b: case 0x4c: case 0x4d: case 0x4e: case 0x4f:
        if (mode !== 64) return true;
        newrex = b; lastRex = i; break;
      case 0xf3: prefixes |= P_REPZ; lastRepz = i; break;
      case 0xf2: prefixes |= P_REPNZ; lastRepnz = i; break;
      case 0xf0: prefixes |= P_LOCK; lastLock = i; break;
      case 0x2e: prefixes |= P_CS; lastSeg = i; if (mode !== 64) activeSeg = P_CS; break;
      case 0x36: prefixes |= P_SS; lastSeg = i; if (mode !== 64) activeSeg = P_SS; break;
      case 0x3e: prefixes |= P_DS; lastSeg = i; if (mode !== 64) activeSeg = P_DS; break;
      case 0x26: prefixes |= P_ES; lastSeg = i; if (mode !== 64) activeSeg = P_ES; break;
      case 0x64: prefixes |= P_FS; lastSeg = i; activeSeg = P_FS; break;
      case 0x65: prefixes |= P_GS; lastSeg = i; activeSeg = P_GS; break;
      case 0x66: prefixes |= P_DATA; lastData = i; break;
      case 0x67: prefixes |= P_ADDR; lastAddr = i; break;
      case 0x9b:
        fwaitPrefix = i;
        if (prefixes || rex) {
          prefixes |= P_FWAIT; codep++; rexUsed = rex; return true;
        }
        prefixes = P_FWAIT;
        break;
      default: return true;
    }
    if (rex) { rexUsed = rex; return true; }
    if (b !== 0x9b) allPrefixes[i++] = b;
    rex = newrex;
    codep++;
    length++;
  }
  return false;
}

function prefixName(pref: number, sizeflag: number): string {
  if (pref >= 0x40 && pref <= 0x4f) {
    const bits = pref & 0xf;
    return 'rex' + (bits ? '.' + (bits & 8 ? 'W' : '') + (bits & 4 ? 'R' : '') + (bits & 2 ? 'X' : '') + (bits & 1 ? 'B' : '') : '');
  }
  switch (pref) {
    case 0xf3: return 'repz';
    case 0xf2: return 'repnz';
    case 0xf0: return 'lock';
    case 0x2e: return 'cs';
    case 0x36: return 'ss';
    case 0x3e: return 'ds';
    case 0x26: return 'es';
    case 0x64: return 'fs';
    case 0x65: return 'gs';
    case 0x66: return sizeflag & DFLAG ? 'data16' : 'data32';
    case 0x67: return mode === 64 ? (sizeflag & AFLAG ? 'addr32' : 'addr64') : (sizeflag & AFLAG ? 'addr16' : 'addr32');
    case 0x9b: return 'fwait';
    case PFX_REP: return 'rep';
    case PFX_XACQUIRE: return 'xacquire';
    case PFX_XRELEASE: return 'xrelease';
    case PFX_BND: return 'bnd';
    case PFX_NOTRACK: return 'notrack';
  }
  return '';
}

// ---------------------------------------------------------------------------------------------
// Table walk.
function readModrm(): void {
  fetch(1);
  const m = buf[codep]!;
  modrmPos = codep;
  modMod = m >> 6; modReg = (m >> 3) & 7; modRm = m & 7;
}

function resolve(node: Node | null): Insn | Special {
  for (;;) {
    if (node === null) return BAD;
    switch (node.k) {
      case K.Insn: case K.Special: return node;
      case K.Reg: node = node.c[modReg]!; break;
      case K.Mod: node = node.c[modMod === 3 ? 1 : 0]!; break;
      case K.Rm: node = node.c[modRm]!; break;
      case K.M64: node = node.c[mode === 64 ? 1 : 0]!; break;
      case K.Pfx: {
        let vindex = 0, prefix = 0, last = -1;
        if (needVex) {
          vindex = vexPrefix === 0xf3 ? 1 : vexPrefix === 0x66 ? 2 : vexPrefix === 0xf2 ? 3 : 0;
        } else {
          if (prefixes & (P_REPZ | P_REPNZ)) {
            if (lastRepz > lastRepnz) { vindex = 1; prefix = P_REPZ; last = lastRepz; } else { vindex = 3; prefix = P_REPNZ; last = lastRepnz; }
            const alt = node.c[vindex];
            if (alt && alt.k === K.PfxNone) vindex = 0;
          }
          if (vindex === 0 && (prefixes & P_DATA)) { vindex = 2; prefix = P_DATA; last = lastData; }
          if (vindex !== 0) { usedPrefixes |= prefix; allPrefixes[last] = 0; }
        }
        node = node.c[vindex]!;
        break;
      }
      case K.PfxNone: return BAD;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Mnemonic templates (size-suffix macros).
function putop(tmpl: string, sizeflag: number): void {
  let out = '';
  let cond = true;
  let l = 0, len = 0;
  let last = '';
  for (let i = 0; i < tmpl.length; i++) {
    const c = tmpl.charCodeAt(i);
    if (len > l) { last = tmpl[i]!; l++; continue; }
    switch (c) {
      case 37: /* % */ len++; break;
      case 33: /* ! */ cond = false; break;
      case 123: /* { */ break;
      case 124: /* | */ while (tmpl.charCodeAt(++i) !== 125) { /* skip the Intel alternative */ } break;
      case 125: /* } */ break;
      case 65: /* A */ if (needModrm && modMod !== 3) out += 'b'; break;
      case 66: /* B */
        if (l === 1 && last === 'L' && mode === 64 && !(prefixes & P_ADDR)) out += 'abs';
        break;
      case 67: /* C */
        if (prefixes & P_DATA) { out += sizeflag & DFLAG ? 'l' : 's'; usedPrefixes |= P_DATA; }
        break;
      case 68: /* D */
        if (l === 1) out += !evex || vexW ? 'd' : '{bad}';
        break;
      case 69: /* E */
        if (l === 1) break;
        if (mode === 64) out += sizeflag & AFLAG ? 'r' : 'e';
        else if (sizeflag & AFLAG) out += 'e';
        usedPrefixes |= prefixes & P_ADDR;
        break;
      case 70: /* F */
        if (prefixes & P_ADDR) {
          out += sizeflag & AFLAG ? (mode === 64 ? 'q' : 'l') : (mode === 64 ? 'l' : 'w');
          usedPrefixes |= P_ADDR;
        }
        break;
      case 71: /* G */
        if (out.charCodeAt(out.length - 1) !== 115) break;
        out += (rex & REX_W) || (sizeflag & DFLAG) ? 'l' : 'w';
        if (!(rex & REX_W)) usedPrefixes |= prefixes & P_DATA;
        break;
      case 72: /* H */
        if (l === 0) {
          const cd = prefixes & (P_CS | P_DS);
          if (cd === P_CS || cd === P_DS) {
            usedPrefixes |= cd;
            if (cd === P_DS) { activeSeg = P_DS; out += ',pt'; } else { activeSeg = P_CS; out += ',pn'; }
          }
        } else if (l === 1 && last === 'X') out += !vexW ? 'h' : '{bad}';
        break;
      case 75: /* K */ usedRex(REX_W); out += rex & REX_W ? 'q' : 'd'; break;
      case 77: /* M */ if (cond) out += 'r'; break;
      case 78: /* N */ if (!(prefixes & P_FWAIT)) out += 'n'; else usedPrefixes |= P_FWAIT; break;
      case 79: /* O */ usedRex(REX_W); out += rex & REX_W ? 'o' : 'd'; if (!(rex & REX_W)) usedPrefixes |= prefixes & P_DATA; break;
      case 64: /* @ */
      case 80: /* P */
        if (c === 64 && mode === 64 && ((rex & REX_W) || !(prefixes & P_DATA))) break;
        if (l === 0) {
          if (modMod === 3 || !cond) break;
          if (!(rex & REX_W) && (prefixes & P_DATA)) { out += sizeflag & DFLAG ? 'l' : 'w'; usedPrefixes |= P_DATA; }
        } else if (l === 1 && last === 'L') {
          if ((prefixes & P_DATA) || (rex & REX_W)) {
            usedRex(REX_W);
            if (rex & REX_W) out += 'q';
            else { out += sizeflag & DFLAG ? 'l' : 'w'; usedPrefixes |= prefixes & P_DATA; }
          }
        }
        break;
      case 84: /* T */
        if (!(rex & REX_W) && (prefixes & P_DATA)) { out += sizeflag & DFLAG ? 'l' : 'w'; usedPrefixes |= P_DATA; }
        break;
      case 81: /* Q */
        if (l === 0) {
          usedRex(REX_W);
          if (needModrm && modMod !== 3) {
            if (rex & REX_W) out += 'q';
            else { out += sizeflag & DFLAG ? 'l' : 'w'; usedPrefixes |= prefixes & P_DATA; }
          }
        } else if (l === 1 && last === 'D') out += vexW ? 'q' : 'd';
        else if (l === 1 && last === 'L') {
          if (cond ? modMod === 3 : mode !== 64) break;
          if (rex & REX_W) { usedRex(REX_W); out += 'q'; } else if (mode === 64 && cond) out += 'l';
        }
        break;
      case 82: /* R */
        usedRex(REX_W);
        if (rex & REX_W) out += 'q'; else out += sizeflag & DFLAG ? 'l' : 'w';
        if (!(rex & REX_W)) usedPrefixes |= prefixes & P_DATA;
        break;
      case 83: /* S */
        if (l === 1 && last === 'L' && mode === 64 && !(prefixes & P_ADDR)) out += 'abs';
        else if (l === 1 && last === 'X') out += !evex || !vexW ? 's' : '{bad}';
        break;
      case 86: /* V */
        if (l === 1 && last === 'X') { if (!evex) out += '{vex} '; } else if (l === 1 && last === 'L' && (rex & REX_W)) out += 'abs';
        break;
      case 87: /* W */
        if (l === 0) {
          usedRex(REX_W);
          if (rex & REX_W) out += 'l'; else out += sizeflag & DFLAG ? 'w' : 'b';
          if (!(rex & REX_W)) usedPrefixes |= prefixes & P_DATA;
        } else if (last === 'X') out += vexW ? 'd' : 's';
        else if (last === 'B') out += vexW ? 'w' : 'b';
        break;
      case 88: /* X */
        if (needVex ? vexPrefix === 0x66 : (prefixes & P_DATA)) { out += 'd'; usedPrefixes |= P_DATA; } else out += 's';
        break;
      case 89: /* Y */
        if (l === 1 && last === 'X' && !((modMod === 3 || vexB))) out += vexLength === 128 ? 'x' : 'y';
        break;
      case 90: /* Z */
        if (l === 0) modMod = 3;
        else if (l === 1 && last === 'X' && !(modMod === 3 || vexB)) out += vexLength === 128 ? 'x' : vexLength === 256 ? 'y' : 'z';
        break;
      case 94: /* ^ */
        if (prefixes & P_DATA) { out += sizeflag & DFLAG ? 'l' : 'w'; usedPrefixes |= P_DATA; }
        break;
      default: out += tmpl[i]; break;
    }
    if (len === l) len = l = 0;
  }
  obuf = out;
}

// ---------------------------------------------------------------------------------------------
// Operands.
let opIndex = 0;
function oappend(s: string): void { opOut[opIndex] += s; }

function appendSeg(): void {
  if (!activeSeg) return;
  usedPrefixes |= activeSeg;
  if (!text) return;
  switch (activeSeg) {
    case P_CS: oappend('%cs:'); break;
    case P_DS: oappend('%ds:'); break;
    case P_SS: oappend('%ss:'); break;
    case P_ES: oappend('%es:'); break;
    case P_FS: oappend('%fs:'); break;
    case P_GS: oappend('%gs:'); break;
  }
}

function printRegister(reg: number, rexmask: number, bytemode: number, sizeflag: number): void {
  usedRex(rexmask);
  if (rex & rexmask) reg += 8;
  let names: string[];
  switch (bytemode) {
    case B.b: case B.b_swap:
      if (reg & 4) usedRex(0);
      names = rex ? NAMES8REX : NAMES8; break;
    case B.w: names = NAMES16; break;
    case B.d: case B.dw: case B.db: names = NAMES32; break;
    case B.q: names = NAMES64; break;
    case B.m: case B.v_bnd: names = mode === 64 ? NAMES64 : NAMES32; break;
    case B.bnd: case B.bnd_swap:
      if (reg > 3) { if (text) oappend('(bad)'); return; }
      names = NAMES_BND; break;
    case B.indir_v: case B.stack_v: case B.v: case B.v_swap: case B.dq:
      if ((bytemode === B.indir_v || bytemode === B.stack_v)) {
        if (mode === 64 && ((sizeflag & DFLAG) || (rex & REX_W))) { names = NAMES64; break; }
        bytemode = B.v;
      }
      usedRex(REX_W);
      if (rex & REX_W) names = NAMES64;
      else if (bytemode !== B.v && bytemode !== B.v_swap) names = NAMES32;
      else { names = sizeflag & DFLAG ? NAMES32 : NAMES16; usedPrefixes |= prefixes & P_DATA; }
      break;
    case B.movsxd: names = NAMES32; usedPrefixes |= prefixes & P_DATA; break;
    case B.va:
      names = mode === 64 ? NAMES64 : NAMES32;
      if (!(prefixes & P_ADDR)) { if (mode === 16) names = NAMES16; } else {
        allPrefixes[lastAddr] = 0;
        names = mode !== 32 ? NAMES32 : NAMES16;
        usedPrefixes |= P_ADDR;
      }
      break;
    case B.none: return;
    default: names = NAMES32; break;
  }
  if (text) oappend(names[reg]!);
}

function opEMemory(bytemode: number, sizeflag: number): void {
  let disp = 0;
  const add = rex & REX_B ? 8 : 0;
  let riprel = false;
  usedRex(REX_B);
  appendSeg();
  if ((sizeflag & AFLAG) || mode === 64) {
    let havebase = true;
    let base = modRm;
    let vindex = 0, scale = 0;
    const addr32flag = !((sizeflag & AFLAG) || bytemode === B.v_bnd || bytemode === B.v_bndmk || bytemode === B.bnd || bytemode === B.bnd_swap);
    let indexes: string[] | null = null;
    if (base === 4) {
      vindex = sibIndex;
      usedRex(REX_X);
      if (rex & REX_X) vindex += 8;
      if (vindex !== 4) indexes = mode === 64 && !addr32flag ? NAMES64 : NAMES32;
      scale = sibScale;
      base = sibBase;
      codep++;
    }
    const rbase = base + add;
    switch (modMod) {
      case 0:
        if (base === 5) {
          havebase = false;
          if (mode === 64 && !hasSib) riprel = true;
          disp = get32s();
          if (riprel && bytemode === B.v_bndmk) { if (text) oappend('(bad)'); return; }
        }
        break;
      case 1: disp = get8(); if (disp & 0x80) disp -= 0x100; if (evex) disp *= evexScale(bytemode); break;
      case 2: disp = get32s(); break;
    }
    dispValue = disp;
    let needindex = false, needaddr32 = false;
    let dispHi = disp < 0 ? -1 : 0;
    if (hasSib && !havebase && !indexes && mode !== 16) {
      if (mode === 64) {
        if (addr32flag) { dispHi = 0; disp = disp >>> 0; needindex = true; }
        needaddr32 = true;
      } else needindex = true;
    }
    const havedisp = havebase || needindex || (hasSib && (indexes !== null || scale !== 0));
    if (text && (modMod !== 0 || base === 5)) {
      if (havedisp || riprel) oappend(disp < 0 ? '-' + hex(-disp) : hex(disp));
      else oappend(valueText(disp, dispHi));
      if (riprel) oappend(addr32flag ? '(%eip)' : '(%rip)');
    }
    if (riprel) ripDisp = disp;
    if ((havebase || indexes || needindex || needaddr32 || riprel)
      && (mode !== 64 || (bytemode !== B.v_bnd && bytemode !== B.v_bndmk && bytemode !== B.bnd && bytemode !== B.bnd_swap))) {
      usedPrefixes |= P_ADDR;
    }
    if (havedisp && text) {
      let s = '(';
      if (havebase) s += (mode === 64 && !addr32flag ? NAMES64 : NAMES32)[rbase];
      if (hasSib) {
        if (scale !== 0 || needindex || indexes || (havebase && base !== 4)) {
          s += ',';
          s += indexes ? indexes[vindex] : (mode === 64 && !addr32flag ? '%riz' : '%eiz');
          s += ',' + (1 << scale);
        }
      }
      oappend(s + ')');
    }
  } else if (bytemode === B.v_bnd || bytemode === B.v_bndmk || bytemode === B.bnd || bytemode === B.bnd_swap) {
    if (text) oappend('(bad)');
    return;
  } else {
    usedPrefixes |= prefixes & P_ADDR;
    switch (modMod) {
      case 0: if (modRm === 6) { disp = get16(); if (disp & 0x8000) disp -= 0x10000; } break;
      case 1: disp = get8(); if (disp & 0x80) disp -= 0x100; if (evex) disp *= evexScale(bytemode); break;
      case 2: disp = get16(); if (disp & 0x8000) disp -= 0x10000; break;
    }
    dispValue = disp;
    if (text) {
      if (modMod !== 0 || modRm === 6) oappend(disp < 0 ? '-' + hex(-disp) : hex(disp));
      if (modMod !== 0 || modRm !== 6) oappend('(' + INDEX16[modRm] + ')');
    }
  }
}

// EVEX compressed disp8 (disp8*N): only the text depends on it, the length does not.
function evexScale(_bytemode: number): number { return 1; }

function opE(bytemode: number, sizeflag: number): void {
  codep++; // ModRM
  if (modMod === 3) printRegister(modRm, REX_B, bytemode, sizeflag);
  else opEMemory(bytemode, sizeflag);
}

function badOp(inMnemonic = false): void {
  codep = insnCodep + 1;
  sawBad = true;
  if (inMnemonic) obuf += '(bad)'; else if (text) oappend('(bad)');
}
let sawBad = false;

function opReg(code: number, sizeflag: number): void {
  if (code >= B.es && code <= B.gs) { if (text) oappend(NAMES_SEG[code - B.es]!); return; }
  usedRex(REX_B);
  const add = rex & REX_B ? 8 : 0;
  let s: string;
  if (code >= B.ax && code <= B.di) s = NAMES16[code - B.ax + add]!;
  else if (code >= B.al && code <= B.bh) {
    if (code >= B.ah) usedRex(0);
    s = rex ? NAMES8REX[code - B.al + add]! : NAMES8[code - B.al]!;
  } else {
    if (code >= B.rAX && code <= B.rDI) {
      if (mode === 64 && ((sizeflag & DFLAG) || (rex & REX_W))) { if (text) oappend(NAMES64[code - B.rAX + add]!); return; }
      code += B.eAX - B.rAX;
    }
    usedRex(REX_W);
    if (rex & REX_W) s = NAMES64[code - B.eAX + add]!;
    else { s = (sizeflag & DFLAG ? NAMES32 : NAMES16)[code - B.eAX + add]!; usedPrefixes |= prefixes & P_DATA; }
  }
  if (text) oappend(s);
}

function opImreg(code: number, sizeflag: number): void {
  let s: string;
  switch (code) {
    case B.indir_dx: if (text) oappend('(%dx)'); return;
    case B.al: case B.cl: s = NAMES8[code - B.al]!; break;
    case B.eAX: case B.z_ax:
      if (code === B.eAX) { usedRex(REX_W); if (rex & REX_W) { s = '%rax'; break; } }
      s = (rex & REX_W) || (sizeflag & DFLAG) ? '%eax' : '%ax';
      if (!(rex & REX_W)) usedPrefixes |= prefixes & P_DATA;
      break;
    default: s = '(bad)';
  }
  if (text) oappend(s);
}

function recordImm(v: number): void { if (immCount++ === 0) imm1 = v; else imm2 = v; }

function opI(bytemode: number, sizeflag: number): void {
  let lo: number, hi = 0;
  switch (bytemode) {
    case B.b: lo = get8(); break;
    case B.v:
      usedRex(REX_W);
      if (rex & REX_W) { lo = get32s(); hi = lo < 0 ? -1 : 0; } else {
        lo = sizeflag & DFLAG ? get32() : get16();
        usedPrefixes |= prefixes & P_DATA;
      }
      break;
    case B.d: lo = get32(); break;
    case B.w: lo = get16(); break;
    case B.const1: return;
    default: return;
  }
  recordImm(lo);
  if (text) oappend('$' + valueText(lo, hi));
}

function opI64(bytemode: number, sizeflag: number): void {
  if (bytemode !== B.v || mode !== 64 || !(rex & REX_W)) { opI(bytemode, sizeflag); return; }
  usedRex(REX_W);
  const lo = get32(), hi = get32();
  recordImm(hi * 4294967296 + lo);
  if (text) oappend('$' + valueText(lo, hi));
}

function opSI(bytemode: number, sizeflag: number): void {
  let op: number;
  let hi: number;
  if (bytemode === B.b || bytemode === B.b_T) {
    op = get8();
    if (op & 0x80) op -= 0x100;
    hi = op < 0 ? -1 : 0;
    if (bytemode === B.b_T) {
      if (mode !== 64 || !((sizeflag & DFLAG) || (rex & REX_W))) {
        if ((sizeflag & DFLAG) || (rex & REX_W)) { op = op >>> 0; hi = 0; } else { op &= 0xffff; hi = 0; }
      }
    } else if (!(rex & REX_W)) {
      if (sizeflag & DFLAG) { op = op >>> 0; hi = 0; } else { op &= 0xffff; hi = 0; }
    }
  } else {
    if ((sizeflag & DFLAG) || (rex & REX_W)) { op = get32s(); hi = op < 0 ? -1 : 0; } else { op = get16(); hi = 0; }
  }
  recordImm(op);
  if (text) oappend('$' + valueText(op, hi));
}

function opJ(bytemode: number, sizeflag: number): void {
  let disp: number;
  let mask = -1;
  let segment = 0;
  if (bytemode === B.b) { disp = get8(); if (disp & 0x80) disp -= 0x100; } else {
    if ((sizeflag & DFLAG) || (mode === 64 && (rex & REX_W))) disp = get32s();
    else {
      disp = get16();
      if (disp & 0x8000) disp -= 0x10000;
      mask = 0xffff;
      if (!(prefixes & P_DATA)) segment = (pc + (codep - start)) - ((pc + (codep - start)) % 65536);
    }
    if (mode !== 64 || !(rex & REX_W)) usedPrefixes |= prefixes & P_DATA;
  }
  recordImm(disp);
  let target = pc + (codep - start) + disp;
  if (mask !== -1) target = (((target % 65536) + 65536) % 65536) + segment;
  branchTarget = target;
  opTarget = opIndex;
  if (text) oappend(addressText(target));
}

/** An address as objdump prints a branch target: hex without 0x, wrapped to the address size. */
function addressText(a: number): string {
  if (mode !== 64) return (a >>> 0).toString(16) ;
  if (a >= 0) return a.toString(16);
  return (BigInt.asUintN(64, BigInt(a))).toString(16);
}

function opSeg(bytemode: number, sizeflag: number): void {
  if (bytemode === B.w) { if (text) oappend(NAMES_SEG[modReg]!); } else opE(modMod === 3 ? bytemode : B.w, sizeflag);
}

function opDir(sizeflag: number): void {
  let offset: number, seg: number;
  if (sizeflag & DFLAG) { offset = get32(); seg = get16(); } else { offset = get16(); seg = get16(); }
  usedPrefixes |= prefixes & P_DATA;
  recordImm(offset); recordImm(seg);
  if (text) oappend(`$${hex(seg)},$${hex(offset)}`);
}

function opOff64(sizeflag: number): void {
  appendSeg();
  if (mode !== 64 || (prefixes & P_ADDR)) {
    const off = (sizeflag & AFLAG) || mode === 64 ? get32() : get16();
    dispValue = off;
    if (text) oappend(valueText(off, 0));
    return;
  }
  const lo = get32(), hi = get32();
  dispValue = hi * 4294967296 + lo;
  if (text) oappend(valueText(lo, hi));
}

function ptrReg(code: number, sizeflag: number): void {
  usedPrefixes |= prefixes & P_ADDR;
  if (!text) return;
  let names: string[];
  if (mode === 64) names = sizeflag & AFLAG ? NAMES64 : NAMES32;
  else names = sizeflag & AFLAG ? NAMES32 : NAMES16;
  oappend('(' + names[code - B.eAX] + ')');
}

function opESreg(code: number, sizeflag: number): void { if (text) oappend('%es:'); ptrReg(code, sizeflag); }
function opDSreg(code: number, sizeflag: number): void {
  if (!activeSeg) activeSeg = P_DS;
  appendSeg();
  ptrReg(code, sizeflag);
}

function opC(): void {
  let add = 0;
  if (rex & REX_R) { usedRex(REX_R); add = 8; } else if (mode !== 64 && (prefixes & P_LOCK)) {
    allPrefixes[lastLock] = 0; usedPrefixes |= P_LOCK; add = 8;
  }
  if (text) oappend(`%cr${modReg + add}`);
}
function opD(): void {
  usedRex(REX_R);
  if (text) oappend(`%db${modReg + (rex & REX_R ? 8 : 0)}`);
}

function opMMX(): void {
  usedPrefixes |= prefixes & P_DATA;
  let reg = modReg;
  if (prefixes & P_DATA) { usedRex(REX_R); if (rex & REX_R) reg += 8; if (text) oappend(NAMES_XMM[reg]!); } else if (text) oappend(NAMES_MM[reg]!);
}
function opXMM(): void {
  let reg = modReg;
  usedRex(REX_R);
  if (rex & REX_R) reg += 8;
  if (text) oappend(NAMES_XMM[reg]!);
}
function opEM(bytemode: number, sizeflag: number): void {
  if (modMod !== 3) { opE(bytemode, sizeflag); return; }
  codep++;
  usedPrefixes |= prefixes & P_DATA;
  let reg = modRm;
  if (prefixes & P_DATA) { usedRex(REX_B); if (rex & REX_B) reg += 8; if (text) oappend(NAMES_XMM[reg]!); } else if (text) oappend(NAMES_MM[reg]!);
}
function opEMC(bytemode: number, sizeflag: number): void {
  if (modMod !== 3) { opE(bytemode, sizeflag); return; }
  codep++;
  usedPrefixes |= prefixes & P_DATA;
  if (text) oappend(NAMES_MM[modRm]!);
}
function opEX(bytemode: number, sizeflag: number): void {
  codep++;
  if (modMod !== 3) { opEMemory(bytemode, sizeflag); return; }
  let reg = modRm;
  usedRex(REX_B);
  if (rex & REX_B) reg += 8;
  if (text) oappend(NAMES_XMM[reg]!);
}

function operand(op: number, sizeflag: number): void {
  const bytemode = op & 0xff;
  switch (op >> 8) {
    case O.E: opE(bytemode, sizeflag); break;
    case O.G: printRegister(modReg, REX_R, bytemode, sizeflag); break;
    case O.I: opI(bytemode, sizeflag); break;
    case O.I64: opI64(bytemode, sizeflag); break;
    case O.sI: opSI(bytemode, sizeflag); break;
    case O.J: opJ(bytemode, sizeflag); break;
    case O.REG: opReg(bytemode, sizeflag); break;
    case O.IMREG: opImreg(bytemode, sizeflag); break;
    case O.SEG: opSeg(bytemode, sizeflag); break;
    case O.DIR: opDir(sizeflag); break;
    case O.OFF64: opOff64(sizeflag); break;
    case O.ESreg: opESreg(bytemode, sizeflag); break;
    case O.DSreg: opDSreg(bytemode, sizeflag); break;
    case O.C: opC(); break;
    case O.D: opD(); break;
    case O.T: if (text) oappend(`%tr${modReg}`); break;
    case O.M: if (modMod === 3) badOp(); else opE(bytemode, sizeflag); break;
    case O.IndirE: if (text) oappend('*'); opE(bytemode, sizeflag); break;
    case O.Skip: codep++; break;
    case O.MMX: opMMX(); break;
    case O.XMM: opXMM(); break;
    case O.EM: opEM(bytemode, sizeflag); break;
    case O.EMC: opEMC(bytemode, sizeflag); break;
    case O.MXC: usedPrefixes |= prefixes & P_DATA; if (text) oappend(NAMES_MM[modReg]!); break;
    case O.EX: opEX(bytemode, sizeflag); break;
    case O.MS: if (modMod === 3) opEM(bytemode, sizeflag); else badOp(); break;
    case O.XS: if (modMod === 3) opEX(bytemode, sizeflag); else badOp(); break;
    case O.OP0f07: if (modMod !== 3 || modRm !== 0) badOp(); else opE(bytemode, sizeflag); break;
    case O.NOP:
      if (!(prefixes & P_DATA) && !(rex & REX_B)) obuf = 'nop';
      else if (bytemode === B.none) opReg(B.eAX, sizeflag);
      else opImreg(B.eAX, sizeflag);
      break;
    case O.Now3d: {
      fetch(1);
      const name = SUFFIX_3DNOW[buf[codep++]!];
      if (name) obuf += name; else { opOut[0] = ''; opOut[1] = ''; badOp(true); }
      break;
    }
    case O.CMP: {
      const t = get8();
      if (t < 8) obuf = obuf.slice(0, -2) + SIMD_CMP[t] + obuf.slice(-2);
      else { recordImm(t); if (text) oappend('$' + hex(t)); }
      break;
    }
    case O.Mwait:
      if (text) { opOut[0] = '%eax'; opOut[1] = '%ecx'; if (bytemode === B.eBX) opOut[2] = '%ebx'; }
      twoSourceOps = true;
      codep++;
      break;
    case O.Monitor: {
      let names = mode === 64 ? NAMES64 : NAMES32;
      if (prefixes & P_ADDR) { allPrefixes[lastAddr] = 0; names = mode !== 32 ? NAMES32 : NAMES16; usedPrefixes |= P_ADDR; } else if (mode === 16) names = NAMES16;
      if (text) { opOut[0] = names[0]!; opOut[1] = '%ecx'; opOut[2] = '%edx'; }
      twoSourceOps = true;
      codep++;
      break;
    }
    case O.REP:
      if (prefixes & P_REPZ) allPrefixes[lastRepz] = PFX_REP;
      if (bytemode === B.eDI) opESreg(bytemode, sizeflag);
      else if (bytemode === B.eSI) opDSreg(bytemode, sizeflag);
      else opImreg(bytemode, sizeflag);
      break;
    case O.SEP: break; // the AMD64 reading (sysenter invalid in long mode) is not objdump's default
    case O.BND: if (prefixes & P_REPNZ) allPrefixes[lastRepnz] = PFX_BND; break;
    case O.NOTRACK:
      if ((prefixes & P_DS) && (mode !== 64 || lastData < 0)) { activeSeg = 0; allPrefixes[lastSeg] = PFX_NOTRACK; }
      break;
    case O.HLE1:
      if (modMod !== 3 && (prefixes & P_LOCK)) {
        if (prefixes & P_REPZ) allPrefixes[lastRepz] = PFX_XRELEASE;
        if (prefixes & P_REPNZ) allPrefixes[lastRepnz] = PFX_XACQUIRE;
      }
      opE(bytemode, sizeflag);
      break;
    case O.HLE2:
      if (modMod !== 3) {
        if (prefixes & P_REPZ) allPrefixes[lastRepz] = PFX_XRELEASE;
        if (prefixes & P_REPNZ) allPrefixes[lastRepnz] = PFX_XACQUIRE;
      }
      opE(bytemode, sizeflag);
      break;
    case O.HLE3:
      if (modMod !== 3 && lastRepz > lastRepnz && (prefixes & P_REPZ)) allPrefixes[lastRepz] = PFX_XRELEASE;
      opE(bytemode, sizeflag);
      break;
    case O.CMPXCHG8B: {
      let bm = bytemode;
      usedRex(REX_W);
      if (rex & REX_W) { obuf = obuf.slice(0, -2) + '16b'; bm = B.o; } else if (prefixes & P_LOCK) {
        if (prefixes & P_REPZ) allPrefixes[lastRepz] = PFX_XRELEASE;
        if (prefixes & P_REPNZ) allPrefixes[lastRepnz] = PFX_XACQUIRE;
      }
      if (modMod === 3) badOp(); else opE(bm, sizeflag);
      break;
    }
    case O.FXSAVE:
      usedRex(REX_W);
      if (rex & REX_W) obuf += '64';
      if (modMod === 3) badOp(); else opE(bytemode, sizeflag);
      break;
    case O.MOVSXD:
      usedRex(REX_W);
      obuf += rex & REX_W ? 'lq' : 'xd';
      opE(bytemode, sizeflag);
      break;
    case O.XMM0: if (text) oappend('%xmm0'); break;
    case O.PCLMUL: {
      const t = get8();
      const names: Record<number, string> = { 0x00: 'lqlq', 0x01: 'hqlq', 0x10: 'lqhq', 0x11: 'hqhq' };
      const n = names[t];
      if (n) obuf = obuf.slice(0, -3) + n + obuf.slice(-3); else { recordImm(t); if (text) oappend('$' + hex(t)); }
      break;
    }
    case O.PREFETCHI: {
      let bm = bytemode;
      if (modMod !== 0 || modRm !== 5) {
        usedRex(REX_W);
        if (rex & REX_W) obuf = 'nopq';
        else { obuf = sizeflag & DFLAG ? 'nopl' : 'nopw'; usedPrefixes |= prefixes & P_DATA; }
        bm = B.v;
      }
      if (modMod === 3) badOp(); else opE(bm, sizeflag);
      break;
    }
    case O.ST: if (text) oappend('%st'); break;
    case O.STi: if (text) oappend(`%st(${modRm})`); break;
  }
}

// ---------------------------------------------------------------------------------------------
// VEX / EVEX / XOP: lengths and classes. The map decides the immediate; mnemonics are not decoded.
let vexMap = 0; // 1..3 (VEX/EVEX maps 0F, 0F38, 0F3A; EVEX 5, 6), 8..10 (XOP)

function decodeVexLike(kind: Sp, sizeflag: number): boolean {
  // Returns false when the encoding is (bad) before the opcode; the caller then ends the instruction.
  if (kind === Sp.Xop) {
    fetch(3);
    rex = ~(buf[codep]! >> 5) & 7;
    const map = buf[codep]! & 0x1f;
    if (map < 8 || map > 10) return false;
    vexMap = map;
    codep++;
    vexW = buf[codep]! & 0x80;
    if (vexW && mode === 64) rex |= REX_W;
    vexRegSpec = ~(buf[codep]! >> 3) & 0xf;
    if (mode !== 64) rex &= ~REX_B;
    vexLength = buf[codep]! & 4 ? 256 : 128;
    vexPrefix = [0, 0x66, 0xf3, 0xf2][buf[codep]! & 3]!;
    needVex = true;
    codep++;
    opcodeByte = buf[codep++]!;
    endCodep = codep;
    fetch(1);
    readModrm();
    opcodeMapId = 'xop';
    curGroup = 'avx';
    return true;
  }
  if (kind === Sp.VexC4) {
    fetch(3);
    rex = ~(buf[codep]! >> 5) & 7;
    const map = buf[codep]! & 0x1f;
    if (map < 1 || map > 3) return false;
    vexMap = map;
    codep++;
    vexW = buf[codep]! & 0x80;
    if (mode === 64) { if (vexW) rex |= REX_W; } else rex = 0;
    vexRegSpec = ~(buf[codep]! >> 3) & 0xf;
    vexLength = buf[codep]! & 4 ? 256 : 128;
    vexPrefix = [0, 0x66, 0xf3, 0xf2][buf[codep]! & 3]!;
    needVex = true;
    codep++;
    opcodeByte = buf[codep++]!;
    endCodep = codep;
    if (vexMap !== 1 || opcodeByte !== 0x77) { fetch(1); readModrm(); needModrm = true; } else needModrm = false;
    opcodeMapId = 'vex';
    curGroup = 'avx';
    return true;
  }
  if (kind === Sp.VexC5) {
    fetch(2);
    rex = buf[codep]! & 0x80 ? 0 : REX_R;
    vexRegSpec = ~(buf[codep]! >> 3) & 0xf;
    vexLength = buf[codep]! & 4 ? 256 : 128;
    vexPrefix = [0, 0x66, 0xf3, 0xf2][buf[codep]! & 3]!;
    vexMap = 1;
    needVex = true;
    codep++;
    opcodeByte = buf[codep++]!;
    endCodep = codep;
    if (opcodeByte !== 0x77) { fetch(1); readModrm(); needModrm = true; } else needModrm = false;
    opcodeMapId = 'vex';
    curGroup = 'avx';
    return true;
  }
  // EVEX
  twoSourceOps = false;
  evex = true;
  fetch(4);
  rex = ~(buf[codep]! >> 5) & 7;
  vexR = (buf[codep]! & 0x10) !== 0;
  const map = buf[codep]! & 0xf;
  if (map !== 1 && map !== 2 && map !== 3 && map !== 5 && map !== 6) return false;
  vexMap = map;
  codep++;
  vexW = buf[codep]! & 0x80;
  if (vexW && mode === 64) rex |= REX_W;
  vexRegSpec = ~(buf[codep]! >> 3) & 0xf;
  if (!(buf[codep]! & 4)) return false;
  vexPrefix = [0, 0x66, 0xf3, 0xf2][buf[codep]! & 3]!;
  codep++;
  vexLL = (buf[codep]! >> 5) & 3;
  vexB = (buf[codep]! & 0x10) !== 0;
  vexV = (buf[codep]! & 8) !== 0;
  vexMask = buf[codep]! & 7;
  vexZero = (buf[codep]! & 0x80) !== 0;
  if (mode !== 64) { rex &= ~REX_B; vexR = true; }
  needVex = true;
  codep++;
  opcodeByte = buf[codep++]!;
  endCodep = codep;
  fetch(1);
  readModrm();
  opcodeMapId = 'evex';
  curGroup = 'avx512';
  vexLength = modMod === 3 && vexB ? 512 : vexLL === 3 ? 0 : 128 << vexLL;
  void sizeflag;
  return true;
}

// ---------------------------------------------------------------------------------------------
// VEX / EVEX / XOP: which encodings exist (vex-opcodes.ts, generated from objdump), their
// immediates and how objdump rejects the rest. Operand text is not decoded; the mnemonic is the name.

/** One instruction of the VEX/EVEX/XOP tables and the forms it exists in. */
interface VexForm {
  name0: string; name1: string; lmask: number; wmask: number; memOk: boolean; regOk: boolean;
  vMem: boolean; vReg: boolean; imm: number; resetMem: boolean; resetReg: boolean;
  /** The (W, form, L) combinations (flavorBit) whose forms objdump's prefix check rejects; the others have no entry. */
  rejected: number;
  /** The memory operand needs a SIB byte (VSIB); without one objdump reads no displacement. */
  vsib: boolean;
}
/** A cell with no instruction: objdump's table has none (prints "(bad)" with prefixes), or its prefix check rejects it. */
const CELL_UNDEFINED = 1, CELL_REJECTED = 2;
/**
 * No instruction, undefined or rejected depending on W, ModRM form and L: CELL_MIXED | a mask with the
 * bit of each rejected combination set (see flavorBit).
 */
const CELL_MIXED = 1 << 16;
/** The bit of a (W, ModRM form, L) combination in a rejection mask; EVEX has three L values, VEX/XOP two. */
function flavorBit(w: number, mod3: boolean, l: number, evexTable: boolean): number {
  return 1 << ((w * 2 + (mod3 ? 1 : 0)) * (evexTable ? 3 : 2) + l);
}
function parseFlavors(chars: string): number {
  return [...chars].reduce((m, c, i) => m | (c === '!' ? 1 << i : 0), 0);
}
function cellStatus(cell: number, bit: number): number {
  if (!(cell & CELL_MIXED)) return cell;
  return cell & bit ? CELL_REJECTED : CELL_UNDEFINED;
}
type VexCell = VexForm | number | (VexForm | number)[];

function parseVexForm(text: string, allL: number): VexForm | number {
  if (text === '-') return CELL_UNDEFINED;
  if (text === '!') return CELL_REJECTED;
  if (text.startsWith('?')) return CELL_MIXED | parseFlavors(text.slice(1));
  const [names, ...flags] = text.split(' ');
  const [name0, name1 = name0] = names!.split('|') as [string, string?];
  const f: VexForm = { name0, name1: name1!, lmask: allL, wmask: 3, memOk: true, regOk: true, vMem: false, vReg: false, imm: 0, resetMem: false, resetReg: false, rejected: 0, vsib: false };
  for (const flag of flags) {
    if (/^L\d+$/.test(flag)) f.lmask = [...flag.slice(1)].reduce((m, d) => m | (1 << Number(d)), 0);
    else if (flag === 'W0' || flag === 'W1') f.wmask = 1 << Number(flag[1]);
    else if (flag === 'mem') f.regOk = false;
    else if (flag === 'reg') f.memOk = false;
    else if (flag === 'V') f.vMem = f.vReg = true;
    else if (flag === 'Vreg') f.vReg = true;
    else if (flag === 'Vmem') f.vMem = true;
    else if (flag === 'Ib') f.imm = 1;
    else if (flag === 'Id') f.imm = 4;
    else if (flag === 'reg1') f.resetReg = true;
    else if (flag === 'mem1') f.resetMem = true;
    else if (flag === '!') f.rejected = -1;
    else if (flag.startsWith('!')) f.rejected = parseFlavors(flag.slice(1));
    else if (flag === 'x64') { /* the whole row is left out of VEX_CELLS_LEGACY */ }
    else if (flag === 'vsib') f.vsib = true;
    else if (flag !== 'nomodrm') throw new Error(`vex-opcodes: unknown flag ${flag} in "${text}"`);
  }
  return f;
}

/** Cells by table (VEX maps 1-3, XOP maps 8-10, EVEX maps 1, 2, 3, 5, 6), opcode * 4 + pp. */
const VEX_TABLE_INDEX: Record<string, number> = { v1: 0, v2: 1, v3: 2, x8: 3, x9: 4, x10: 5, e1: 6, e2: 7, e3: 8, e5: 9, e6: 10 };
const VEX_CELLS: VexCell[][] = [];
/** The same outside 64-bit mode, where an opcode of 64-bit-only instructions is not in objdump's tables at all. */
const VEX_CELLS_LEGACY: VexCell[][] = [];
for (const [prefix, maps, allL] of [['v', VEX_MAPS, 3], ['x', XOP_MAPS, 3], ['e', EVEX_MAPS, 7]] as const) {
  for (const [map, rows] of Object.entries(maps)) {
    const cells: VexCell[] = new Array(1024).fill(CELL_UNDEFINED);
    const legacy: VexCell[] = new Array(1024).fill(CELL_UNDEFINED);
    for (const [op, row] of Object.entries(rows)) {
      const pps = row.split(' | ');
      if (pps.length !== 4) throw new Error(`vex-opcodes: ${prefix}${map} ${op}: expected 4 cells`);
      const only64 = / x64\b/.test(row);
      pps.forEach((cell, pp) => {
        const i = Number(op) * 4 + pp;
        cells[i] = cell.startsWith('/r ') ? cell.slice(3).split('; ').map((c) => parseVexForm(c, allL)) : parseVexForm(cell, allL);
        if (!only64) legacy[i] = cells[i]!;
      });
    }
    VEX_CELLS[VEX_TABLE_INDEX[prefix + map]!] = cells;
    VEX_CELLS_LEGACY[VEX_TABLE_INDEX[prefix + map]!] = legacy;
  }
}
const VEX_PP: Record<number, number> = { 0: 0, 0x66: 1, 0xf3: 2, 0xf2: 3 };
const NAMES_MASK = ['%k0', '%k1', '%k2', '%k3', '%k4', '%k5', '%k6', '%k7'];
const NAMES_ROUNDING = ['{rn-', '{rd-', '{ru-', '{rz-'];

/** The table cell of the current VEX/EVEX/XOP instruction (after its ModRM byte was read). */
function vexCell(): VexForm | number {
  const table = (mode === 64 ? VEX_CELLS : VEX_CELLS_LEGACY)[VEX_TABLE_INDEX[(evex ? 'e' : opcodeMapId === 'xop' ? 'x' : 'v') + vexMap]!]!;
  const cell = table[opcodeByte * 4 + VEX_PP[vexPrefix]!]!;
  return Array.isArray(cell) ? cell[modReg]! : cell;
}

/**
 * Finishes a VEX/EVEX/XOP instruction as objdump does: forms its table lacks print "(bad)" and end at
 * the opcode (without operands, or after them when its mandatory-prefix check or the vvvv / EVEX.z
 * checks reject them); the rest read their ModRM operand and immediate.
 */
function vexFinish(origSizeflag: number, sizeflag: number): number {
  let form: VexForm | null = null;
  let status = 0; // 0 an instruction, CELL_UNDEFINED, CELL_REJECTED
  const mod3 = modMod === 3;
  if (evex && vexLL === 3 && !(mod3 && vexB)) status = CELL_UNDEFINED;
  else {
    const cell = vexCell();
    const l = evex ? (mod3 && vexB ? 2 : vexLL) : vexLength === 256 ? 1 : 0;
    const bit = flavorBit(vexW ? 1 : 0, mod3, l, evex);
    if (typeof cell === 'number') status = cellStatus(cell, bit);
    else {
      form = cell;
      if (!((form.lmask >> l) & 1) || !((form.wmask >> (vexW ? 1 : 0)) & 1) || !(mod3 ? form.regOk : form.memOk)) {
        status = form.rejected & bit ? CELL_REJECTED : CELL_UNDEFINED;
      }
    }
  }
  hasSibCheck(sizeflag);
  curGroup = 'other';
  resultValid = false;
  resultOperands = '';
  const alone = (): number => { resultMnemonic = '(bad)'; return endCodep - start; };
  if (status === CELL_UNDEFINED) {
    // objdump's "(bad)" entry: no operands, then the vvvv and EVEX.z checks, then the usual printing.
    if (vexRegSpec !== 0 || (evex && vexZero && vexMask === 0)) return alone();
    const length = finishPrefixes();
    resultMnemonic = text ? printedPrefixes(origSizeflag) + '(bad)' : '(bad)';
    if (length > 15) return 15;
    if (text && evex) {
      const ops = ['', ''];
      if (vexMask) ops[0] = `{${NAMES_MASK[vexMask]}}`;
      if (vexZero) ops[0] += '{z}';
      if (mod3 && vexB) ops[ops[0] ? 1 : 0] = NAMES_ROUNDING[vexLL]! + 'bad}';
      resultOperands = [ops[1], ops[0]].filter((s) => s !== '').join(',');
    }
    return endCodep - start;
  }
  // Operands: the ModRM operand (register, or SIB and displacement), then the immediate.
  const reset = form !== null && status === 0 && (mod3 ? form.resetReg : form.resetMem);
  if (reset) codep = insnCodep + 1;
  else if (needModrm) {
    if (mod3) codep++;
    else if (form?.vsib && !hasSib) { codep++; usedPrefixes |= activeSeg; }
    else { const t = text; text = false; opE(B.x, sizeflag); text = t; }
  }
  const imm = form ? form.imm : 0;
  if (imm === 1) recordImm(get8()); else if (imm === 4) recordImm(get32());
  const usesVvvv = form !== null && (mod3 ? form.vReg : form.vMem);
  if ((vexRegSpec !== 0 && !usesVvvv) || (evex && vexZero && vexMask === 0) || status === CELL_REJECTED) return alone();
  const length = finishPrefixes();
  const pfx = text ? printedPrefixes(origSizeflag) : '';
  if (length > 15) { resultMnemonic = pfx + '(bad)'; return 15; }
  resultValid = !reset;
  curGroup = evex ? 'avx512' : 'avx';
  resultMnemonic = pfx + (vexW ? form!.name1 : form!.name0);
  if (reset) resultOperands = '(bad)';
  return length;
}

/** Marks the prefixes an instruction used (they are not printed separately); returns its length so far. */
function finishPrefixes(): number {
  if ((prefixes & (P_CS | P_SS | P_DS | P_ES | P_FS | P_GS)) !== 0 && (usedPrefixes & activeSeg) !== 0) allPrefixes[lastSeg] = 0;
  if ((prefixes & P_ADDR) !== 0 && (usedPrefixes & P_ADDR) !== 0) allPrefixes[lastAddr] = 0;
  return codep - start;
}

// ---------------------------------------------------------------------------------------------
// The decoder proper.
let resultValid = true;
let resultLength = 0;
let resultMnemonic = '';
let resultOperands = '';

function reset(): void {
  // Prefix slots are only written when there were prefixes.
  if (prefixes !== 0 || rex !== 0 || fwaitPrefix >= 0 || lastRex >= 0) allPrefixes.fill(0);
  prefixes = 0; usedPrefixes = 0; rex = 0; rexUsed = 0; activeSeg = 0;
  lastLock = lastRepz = lastRepnz = lastData = lastAddr = lastRex = lastSeg = fwaitPrefix = -1;
  needModrm = false; modMod = 0; modReg = 0; modRm = 0; modrmPos = -1;
  hasSib = false; sibPos = -1;
  needVex = false; evex = false; vexW = 0; vexLength = 128; vexPrefix = 0; vexRegSpec = 0; vexLL = 0; vexB = false; vexV = false; vexR = false; vexMask = 0; vexZero = false; vexMap = 0;
  twoSourceOps = false;
  obuf = '';
  opOut[0] = opOut[1] = opOut[2] = opOut[3] = opOut[4] = '';
  opTarget = -1; ripDisp = null; branchTarget = 0;
  curEntry = BAD; opcodeMapId = 'primary'; opcodeByte = 0;
  dispValue = 0; imm1 = 0; imm2 = 0; immCount = 0;
  curGroup = 'general';
  resultValid = true;
  sawBad = false;
  truncatedFlag = false;
}

function printedPrefixes(sizeflag: number, upTo = 16): string {
  if (prefixes === 0 && lastRex < 0 && fwaitPrefix < 0) return '';
  let s = '';
  for (let i = 0; i < upTo && i < 16; i++) if (allPrefixes[i]) s += prefixName(allPrefixes[i]!, sizeflag) + ' ';
  return s;
}

/** Decodes one instruction into the module state; returns its length. */
function run(bytes: Uint8Array, offset: number, end: number, m: CpuMode, address: number, wantText: boolean): number {
  buf = bytes; start = offset; limit = end; codep = offset; mode = m; text = wantText; pc = address;
  reset();
  const origSizeflag = m === 16 ? 0 : AFLAG | DFLAG;
  try {
    return runInner(origSizeflag);
  } catch (e) {
    if (e !== TRUNCATED) throw e;
    resultValid = false;
    truncatedFlag = true;
    curGroup = 'other';
    if (codep > start || start < limit) {
      let name = '';
      if (prefixes || fwaitPrefix >= 0 || (rex & REX_OPCODE)) name = prefixName(buf[start]!, origSizeflag);
      resultMnemonic = name || '.byte';
      resultOperands = name ? '' : hex(buf[start]!);
      return 1;
    }
    return -1;
  }
}

function runInner(origSizeflag: number): number {
  let sizeflag = origSizeflag;
  if (!ckprefix() || rexUsed) {
    let i = 0;
    const names: string[] = [];
    while (i < 16 && allPrefixes[i]) { names.push(prefixName(allPrefixes[i]!, sizeflag)); i++; }
    resultMnemonic = names.join(' ');
    resultOperands = '';
    curGroup = 'other';
    return i;
  }
  insnCodep = codep;
  fetch(1);
  twoSourceOps = buf[codep] === 0x62 || buf[codep] === 0xc8;
  if ((prefixes & P_FWAIT) && (buf[codep]! < 0xd8 || buf[codep]! > 0xdf)) {
    let i = 0;
    let s = '';
    for (; i < fwaitPrefix && allPrefixes[i]; i++) s += prefixName(allPrefixes[i]!, sizeflag) + ' ';
    resultMnemonic = s + 'fwait';
    resultOperands = '';
    curGroup = 'x87';
    return i + 1;
  }
  let node: Node | null;
  if (buf[codep] === 0x0f) {
    codep++;
    fetch(1);
    opcodeByte = buf[codep]!;
    node = T2[opcodeByte]!;
    needModrm = TWO_BYTE_HAS_MODRM[opcodeByte] === 1;
    opcodeMapId = '0f';
    codep++;
  } else {
    opcodeByte = buf[codep]!;
    node = T1[opcodeByte]!;
    needModrm = ONE_BYTE_HAS_MODRM[opcodeByte] === 1;
    codep++;
  }
  if (prefixes & P_ADDR) sizeflag ^= AFLAG;
  if (prefixes & P_DATA) sizeflag ^= DFLAG;
  endCodep = codep;
  if (needModrm) readModrm();

  let entry: Insn;
  let floatop = -1;
  let simd = false;
  for (;;) {
    const r = resolve(node);
    if (r.k === K.Insn) { entry = r; break; }
    // special tables
    if (r.s === Sp.Float) { floatop = opcodeByte; entry = BAD; break; }
    if (r.s === Sp.T38 || r.s === Sp.T3A) {
      fetch(2);
      opcodeByte = buf[codep++]!;
      opcodeMapId = r.s === Sp.T38 ? '0f38' : '0f3a';
      node = (r.s === Sp.T38 ? T38 : T3A)[opcodeByte]!;
      endCodep = codep;
      readModrm();
      continue;
    }
    if (r.s === Sp.Now3d) {
      opcodeMapId = '3dnow';
      entry = { k: K.Insn, tmpl: '', ops: [(O.MMX << 8), (O.EM << 8) | B.v, (O.Now3d << 8)], req: 0, sens: null, group: 'mmx', mmxLike: false };
      break;
    }
    if (!decodeVexLike(r.s, sizeflag)) { entry = BAD; break; }
    simd = true;
    entry = BAD;
    break;
  }
  curEntry = entry;

  if (floatop >= 0) {
    curGroup = 'x87';
    hasSibCheck(sizeflag);
    doFloat(floatop, sizeflag);
  } else if (simd) {
    return vexFinish(origSizeflag, sizeflag);
  } else {
    curGroup = entry.group;
    if (entry.mmxLike && (prefixes & P_DATA)) curGroup = 'sse';
    if (text || entry.lengthPutop !== false) putop(entry.tmpl, sizeflag);
    hasSibCheck(sizeflag);
    const ops = entry.ops;
    for (let i = 0; i < ops.length; i++) {
      opIndex = i;
      operand(ops[i]!, sizeflag);
    }
  }

  // Checks objdump makes after the operands: they end the instruction at the opcode.
  if (!simd && floatop < 0) {
    switch (entry.req) {
      case REQ_DATA: case REQ_OPCODE:
        if (entry.req === REQ_DATA) {
          if (!(prefixes & P_DATA)) return badEnd();
          usedPrefixes |= P_DATA;
        }
        if (((prefixes & (P_REPZ | P_REPNZ)) !== 0 && (usedPrefixes & (P_REPZ | P_REPNZ)) === 0)
          || ((prefixes & (P_REPZ | P_REPNZ | P_DATA)) === P_DATA && (usedPrefixes & P_DATA) === 0)) return badEnd();
        break;
      case REQ_IGNORED:
        usedPrefixes &= ~(P_REPZ | P_REPNZ | P_DATA);
        if (lastData >= 0) allPrefixes[lastData] = 0x66;
        if (lastRepz >= 0) allPrefixes[lastRepz] = 0xf3;
        if (lastRepnz >= 0) allPrefixes[lastRepnz] = 0xf2;
        break;
    }
  }
  if ((rex ^ rexUsed) === 0 && !needVex && lastRex >= 0) allPrefixes[lastRex] = 0;
  if ((prefixes & (P_CS | P_SS | P_DS | P_ES | P_FS | P_GS)) !== 0 && (usedPrefixes & activeSeg) !== 0) allPrefixes[lastSeg] = 0;
  if ((prefixes & P_ADDR) !== 0 && (usedPrefixes & P_ADDR) !== 0) allPrefixes[lastAddr] = 0;
  if ((prefixes & P_DATA) !== 0 && (usedPrefixes & P_DATA) !== 0 && !needVex) allPrefixes[lastData] = 0;

  const pfx = text ? printedPrefixes(origSizeflag) : '';
  if (codep - start > 15) {
    resultValid = false;
    resultMnemonic = pfx + '(bad)';
    resultOperands = '';
    curGroup = 'other';
    return 15;
  }
  if (sawBad || obuf === '(bad)' || obuf.endsWith('(bad)')) { resultValid = false; curGroup = 'other'; }
  if (text) {
    resultMnemonic = pfx === '' && obuf.charCodeAt(obuf.length - 1) !== 32 ? obuf : (pfx + obuf).trimEnd();
    // AT&T order: the operands reversed (enter and bound keep Intel's order).
    let ops = '';
    for (let i = 0; i < 5; i++) {
      const o = opOut[twoSourceOps ? i : 4 - i]!;
      if (o !== '') ops = ops === '' ? o : ops + ',' + o;
    }
    resultOperands = ops;
  }
  return codep - start;
}

function badEnd(): number {
  resultValid = false;
  resultMnemonic = '(bad)';
  resultOperands = '';
  curGroup = 'other';
  return endCodep - start;
}

function hasSibCheck(sizeflag: number): void {
  if (needModrm && ((sizeflag & AFLAG) || mode === 64) && modMod !== 3 && modRm === 4) {
    fetch(2);
    const s = buf[codep + 1]!;
    sibPos = codep + 1;
    sibIndex = (s >> 3) & 7; sibScale = s >> 6; sibBase = s & 7;
    hasSib = true;
  } else hasSib = false;
}

function doFloat(floatop: number, sizeflag: number): void {
  if (modMod !== 3) {
    const idx = (floatop - 0xd8) * 8 + modReg;
    const e = FLOAT_MEM_NODES[idx]!;
    curEntry = e;
    putop(e.tmpl, sizeflag);
    if (e.tmpl === '(bad)') curGroup = 'other';
    opIndex = 0;
    opE(e.ops[0]! & 0xff, sizeflag);
    return;
  }
  codep++;
  const dp = FLOAT_REG_NODES[floatop - 0xd8]![modReg]!;
  if (Array.isArray(dp)) {
    const e = dp[modRm]!;
    curEntry = e;
    putop(e.tmpl, sizeflag);
    if (floatop === 0xdf && buf[codep - 1] === 0xe0) opOut[0] = '%ax';
  } else {
    curEntry = dp;
    putop(dp.tmpl, sizeflag);
    for (let i = 0; i < dp.ops.length; i++) { opIndex = i; operand(dp.ops[i]!, sizeflag); }
  }
}

// ---------------------------------------------------------------------------------------------
// Fast path: length and sensitive class only (scanInstructions, instructionLength,
// sensitiveClassAt), from one attribute word per (opcode map, mode, prefix state, opcode). The words
// are derived from the compiled tables above, each the first time it is needed (most never are);
// where an entry depends on the ModRM byte (groups, register- or memory-only forms) the word points
// to a row of 256 words, one per ModRM value. VEX/EVEX/XOP instructions are measured from the cells
// of vex-opcodes.ts (fastVex), as vexFinish does. What neither can express (3DNow!, operands that end
// an instruction early, fwait, prefixes after REX, truncation, over-long instructions) is left to the
// full decoder above, so the two always agree (packages/isa/test/fast-path.test.ts compares them).

/** The word describes the instruction (if clear: 0 = not derived yet, else ask the full decoder). */
const A_KNOWN = 1;
/** A ModRM byte follows the opcode (read, and checked for a SIB byte, even when no operand uses it). */
const A_MODRM_READ = 2;
/** An operand consumes the ModRM byte... */
const A_MODRM_BYTE = 4;
/** ...and it is an r/m operand: SIB and displacement follow when mod != 3. */
const A_MEM = 8;
/** The template's Z macro: the r/m operand is a register whatever mod says (mov to/from CR/DR). */
const A_FORCE_REG = 0x10;
/** Immediates whose size follows the operand size: v (2/4), v64 (2/4/8), an moffs (address size), a far pointer (4/6). */
const A_IMM_V = 0x20, A_IMM_V64 = 0x40, A_MOFFS = 0x80, A_FARPTR = 0x100;
/** The word is a row index (bits 10..30): the attributes depend on the ModRM byte. */
const A_ROW = 0x200;
/** Bits 10..12: fixed immediate bytes. */
const A_FIXED_SHIFT = 10;
/** A mandatory-prefix check fails: (bad) ending at the opcode, after the operands were read. */
const A_ENDS_AT_OPCODE = 0x2000;
/** Bits 16..23: sensitive class id. */
const A_CLASS_SHIFT = 16;
/** Derived, but the full decoder must decide. */
const A_SLOW = 0x80000000;
/** A VEX/EVEX/XOP escape (the special-table kind in bits 16..18): fastVex decodes the rest. */
const A_VEX = 0x4000;
const X87_ATTR = A_KNOWN | A_MODRM_READ | A_MODRM_BYTE | A_MEM;

/** Prefix bytes: 1 = 66, 2 = 67, 3 = f3, 4 = f2, 5 = lock or segment, 6 = fwait (9b), 7 = REX (64-bit mode). */
const PREFIX_KIND = new Uint8Array(256);
PREFIX_KIND[0x66] = 1; PREFIX_KIND[0x67] = 2; PREFIX_KIND[0xf3] = 3; PREFIX_KIND[0xf2] = 4; PREFIX_KIND[0x9b] = 6;
for (const b of [0xf0, 0x26, 0x2e, 0x36, 0x3e, 0x64, 0x65]) PREFIX_KIND[b] = 5;
for (let b = 0x40; b < 0x50; b++) PREFIX_KIND[b] = 7;

/** Variants per map: (legacy | 64-bit) x (no rep | f3 last | f2 last) x (no 66 | 66). */
const FAST_VARIANTS = 12;
const FAST_ATTR = new Uint32Array(4 * FAST_VARIANTS * 256);
/** Rows of ModRM-dependent words. */
const FAST_ROWS: Uint32Array[] = [];
const CLASS_BY_ID: (SensitiveClass | null)[] = [];
for (const c of SENSITIVE_CLASSES) CLASS_BY_ID[c.id] = c;
const FAST_TABLES = [T1, T2, T38, T3A];

const isBndMode = (m: number) => m === B.v_bnd || m === B.v_bndmk || m === B.bnd || m === B.bnd_swap;

/** The shape of one compiled entry (ModRM use, immediates, class), given whether mod is 3; 0 if it has none the words can express. */
function entryShape(entry: Insn, hasModrm: boolean, mod3: boolean): number {
  let a = A_KNOWN | (hasModrm ? A_MODRM_READ : 0);
  if (entry === BAD || entry.tmpl === '(bad)') return a;
  if (/(^|[^%])Z/.test(entry.tmpl.replace(/%../g, ''))) a |= A_FORCE_REG;
  let fixed = 0, consumers = 0;
  for (const op of entry.ops) {
    const bm = op & 0xff;
    switch (op >> 8) {
      case O.E: case O.IndirE: case O.HLE1: case O.HLE2: case O.HLE3: case O.MOVSXD:
        if (isBndMode(bm)) return 0;
        a |= A_MODRM_BYTE | A_MEM; consumers++; break;
      case O.SEG: if (bm !== B.w) { a |= A_MODRM_BYTE | A_MEM; consumers++; } break;
      case O.M: case O.CMPXCHG8B: case O.FXSAVE: case O.PREFETCHI:
        if (mod3 || isBndMode(bm)) return 0;
        a |= A_MODRM_BYTE | A_MEM; consumers++; break;
      case O.EM: case O.EMC: case O.EX: a |= A_MODRM_BYTE | A_MEM; consumers++; break;
      case O.MS: case O.XS: if (!mod3) return 0; a |= A_MODRM_BYTE | A_MEM; consumers++; break;
      case O.Skip: case O.Mwait: case O.Monitor: a |= A_MODRM_BYTE; consumers++; break;
      case O.I:
        if (bm === B.b) fixed += 1; else if (bm === B.w) fixed += 2; else if (bm === B.d) fixed += 4; else if (bm === B.v) a |= A_IMM_V;
        break;
      case O.I64: if (bm === B.v) a |= A_IMM_V64; else return 0; break;
      case O.sI: if (bm === B.b || bm === B.b_T) fixed += 1; else a |= A_IMM_V; break;
      case O.J: if (bm === B.b) fixed += 1; else a |= A_IMM_V; break;
      case O.DIR: a |= A_FARPTR; break;
      case O.OFF64: a |= A_MOFFS; break;
      case O.CMP: case O.PCLMUL: fixed += 1; break;
      case O.OP0f07: case O.Now3d: return 0;
      default: break; // registers and prefix markers: no bytes
    }
  }
  if (consumers > 1 || (consumers === 1 && !hasModrm) || fixed > 7 || (a & (A_IMM_V | A_IMM_V64)) === (A_IMM_V | A_IMM_V64)) return 0;
  return a | (fixed << A_FIXED_SHIFT) | ((entry.sens?.id ?? 0) << A_CLASS_SHIFT);
}

/** Resolves a compiled node for one variant and ModRM, as `resolve` does; notes whether the ModRM mattered. */
let fastTouchedModrm = false;
function resolveFor(node: Node | null, m64: boolean, rep: number, d66: boolean, modrm: number): Insn | Special {
  for (;;) {
    if (node === null) return BAD;
    switch (node.k) {
      case K.Insn: case K.Special: return node;
      case K.PfxNone: return BAD;
      case K.Reg: fastTouchedModrm = true; node = node.c[(modrm >> 3) & 7]!; break;
      case K.Mod: fastTouchedModrm = true; node = node.c[modrm >= 0xc0 ? 1 : 0]!; break;
      case K.Rm: fastTouchedModrm = true; node = node.c[modrm & 7]!; break;
      case K.M64: node = node.c[m64 ? 1 : 0]!; break;
      case K.Pfx: {
        let vindex = rep === 1 ? 1 : rep === 2 ? 3 : 0;
        if (vindex !== 0) { const alt = node.c[vindex]; if (alt && alt.k === K.PfxNone) vindex = 0; }
        if (vindex === 0 && d66) vindex = 2;
        node = node.c[vindex]!;
        break;
      }
    }
  }
}

/**
 * Whether an entry with a mandatory-prefix rule passes objdump's prefix check in this variant: asked
 * of the full decoder itself, on the instruction with zero displacement and immediates (the check
 * looks at which prefixes the template and operands used, which may depend on REX.W: if it does,
 * the full decoder decides every time).
 */
const probeBytes = new Uint8Array(40);
function prefixCheckPasses(map: number, op: number, m64: boolean, rep: number, d66: boolean, modrm: number): boolean | null {
  let verdict: boolean | null = null;
  for (const rexW of m64 ? [false, true] : [false]) {
    let n = 0;
    probeBytes.fill(0);
    if (d66) probeBytes[n++] = 0x66;
    if (rep) probeBytes[n++] = rep === 1 ? 0xf3 : 0xf2;
    if (rexW) probeBytes[n++] = 0x48;
    if (map > 0) probeBytes[n++] = 0x0f;
    if (map > 1) probeBytes[n++] = map === 2 ? 0x38 : 0x3a;
    probeBytes[n++] = op;
    probeBytes[n++] = modrm;
    run(probeBytes, 0, probeBytes.length, m64 ? 64 : 32, 0, false);
    const ok = resultValid;
    if (verdict === null) verdict = ok; else if (verdict !== ok) return null;
  }
  return verdict;
}

function wordFor(map: number, op: number, node: Node | null, m64: boolean, rep: number, d66: boolean, modrm: number, hasModrm: boolean): number {
  const r = resolveFor(node, m64, rep, d66, modrm);
  if (r.k === K.Special) {
    if (r.s === Sp.Float) return X87_ATTR;
    if (r.s === Sp.VexC4 || r.s === Sp.VexC5 || r.s === Sp.Evex || r.s === Sp.Xop) return A_VEX | (r.s << A_CLASS_SHIFT);
    return A_SLOW;
  }
  const mod3 = hasModrm && modrm >= 0xc0;
  if (hasModrm && r.ops.some((o) => [O.M, O.MS, O.XS, O.CMPXCHG8B, O.FXSAVE, O.PREFETCHI].includes(o >> 8))) fastTouchedModrm = true;
  const shape = entryShape(r, hasModrm, mod3);
  if (shape === 0) return A_SLOW;
  if (r.req !== REQ_OPCODE && r.req !== REQ_DATA) return shape;
  if (hasModrm) fastTouchedModrm = true; // the check may depend on mod (operands of either form)
  const passes = prefixCheckPasses(map, op, m64, rep, d66, modrm);
  if (passes === null) return A_SLOW;
  return passes ? shape : (shape & ~(0xff << A_CLASS_SHIFT)) | A_ENDS_AT_OPCODE;
}

/** Derives the word of (map, variant, opcode): a plain word, A_SLOW, or a row of words by ModRM. */
function deriveFastWord(index: number): number {
  const map = Math.floor(index / (FAST_VARIANTS * 256)), variant = (index >> 8) % FAST_VARIANTS, op = index & 0xff;
  const m64 = variant >= 6, rep = (variant % 6) >> 1, d66 = (variant & 1) === 1;
  let a: number;
  if ((map === 0 && (op === 0x0f || (PREFIX_KIND[op] !== 0 && (PREFIX_KIND[op] !== 7 || m64)))) || (map === 1 && (op === 0x38 || op === 0x3a))) {
    a = A_SLOW; // prefixes and escapes: the scan loop never looks them up
  } else {
    const node = FAST_TABLES[map]![op]!;
    const hasModrm = map >= 2 || (map === 0 ? ONE_BYTE_HAS_MODRM[op] === 1 : TWO_BYTE_HAS_MODRM[op] === 1);
    fastTouchedModrm = false;
    a = wordFor(map, op, node, m64, rep, d66, 0, hasModrm);
    if (hasModrm) wordFor(map, op, node, m64, rep, d66, 0xc0, true);
    if (fastTouchedModrm) {
      if (!hasModrm) a = A_SLOW;
      else {
        const row = new Uint32Array(256);
        // mod 0, 1 and 2 resolve alike: derive mod 0 and 3, copy the rest.
        for (let m = 0; m < 256; m++) row[m] = m < 0x40 || m >= 0xc0 ? wordFor(map, op, node, m64, rep, d66, m, true) : row[m & 0x3f]!;
        a = A_ROW | (FAST_ROWS.length << A_FIXED_SHIFT);
        FAST_ROWS.push(row);
      }
    }
  }
  FAST_ATTR[index] = a;
  return a;
}

/**
 * Length and class of the instruction at `off` from the attribute words: `(classId << 4) | length`,
 * or -1 when the full decoder must decide.
 */
function fastInsn(bytes: Uint8Array, off: number, end: number, mode: CpuMode): number {
  const m64 = mode === 64;
  let p = off, d66 = 0, a67 = 0, rep = 0, rexW = 0, rex = 0, b = 0;
  for (;;) {
    if (p >= end) return -1;
    b = bytes[p]!;
    const k = PREFIX_KIND[b]!;
    if (k === 0 || (k === 7 && !m64)) break;
    if (rex !== 0 || k === 6) return -1;
    if (k === 1) d66 = 1; else if (k === 2) a67 = 1; else if (k === 3) rep = 1; else if (k === 4) rep = 2;
    else if (k === 7) { rex = b; rexW = b & 8; }
    if (++p - off >= 14) return -1;
  }
  p++;
  let map = 0;
  if (b === 0x0f) {
    if (p >= end) return -1;
    b = bytes[p++]!;
    map = 1;
    if (b === 0x38 || b === 0x3a) {
      if (p + 1 >= end) return -1;
      map = b === 0x38 ? 2 : 3;
      b = bytes[p++]!;
    }
  }
  const opEnd = p;
  const index = ((map * FAST_VARIANTS + (m64 ? 6 : 0) + rep * 2 + d66) << 8) | b;
  let a = FAST_ATTR[index]!;
  if (a === 0) a = deriveFastWord(index);
  if (a & A_ROW) {
    if (p >= end) return -1;
    a = FAST_ROWS[a >>> A_FIXED_SHIFT]![bytes[p]!]!;
  }
  if ((a & A_KNOWN) === 0) return a & A_VEX ? fastVex(bytes, off, end, mode, p, (a >>> A_CLASS_SHIFT) & 7, a67) : -1;
  const aflag = m64 || (mode === 32 ? a67 === 0 : a67 !== 0); // 32/64-bit addressing (ModRM with SIB)
  const dflag = (mode === 16) === (d66 !== 0);
  let need = p;
  if (a & A_MODRM_READ) {
    if (p >= end) return -1;
    const modrm = bytes[p]!;
    need = p + 1;
    const mod = modrm >> 6, rm = modrm & 7;
    const forced = (a & A_FORCE_REG) !== 0;
    if (!forced && aflag && mod !== 3 && rm === 4) need = p + 2;
    if (a & A_MODRM_BYTE) {
      p++;
      if ((a & A_MEM) && !forced && mod !== 3) {
        if (aflag) {
          let base = rm;
          if (rm === 4) { if (p >= end) return -1; base = bytes[p]! & 7; p++; }
          if (mod === 0) { if (base === 5) p += 4; } else p += mod === 1 ? 1 : 4;
        } else if (mod === 0) { if (rm === 6) p += 2; } else p += mod === 1 ? 1 : 2;
      }
    }
  }
  p += (a >>> A_FIXED_SHIFT) & 7;
  if (a & (A_IMM_V | A_IMM_V64 | A_MOFFS | A_FARPTR)) {
    if (a & A_IMM_V) p += dflag || rexW ? 4 : 2;
    else if (a & A_IMM_V64) p += rexW ? 8 : dflag ? 4 : 2;
    else if (a & A_MOFFS) p += m64 && !a67 ? 8 : aflag ? 4 : 2;
    else p += dflag ? 6 : 4;
  }
  if (p > end || need > end) return -1;
  if (a & A_ENDS_AT_OPCODE) return opEnd - off;
  const length = p - off;
  if (length > 15) return -1;
  return (((a >>> A_CLASS_SHIFT) & 0xff) << 4) | length;
}

/**
 * The fast path for a VEX/EVEX/XOP instruction whose escape byte ends at `p`: the same checks as
 * vexFinish, on the same table. -1 for the forms left to the full decoder (invalid maps, forms that
 * end after the escape byte, truncation).
 */
function fastVex(bytes: Uint8Array, off: number, end: number, mode: CpuMode, p: number, kind: number, a67: number): number {
  const m64 = mode === 64;
  let table: number, pp: number, w: number, vvvv: number, l: number, zNoMask = false, b = false, ll = 0;
  if (kind === Sp.VexC5) {
    if (p + 2 > end) return -1;
    const v = bytes[p]!;
    table = 0; w = 0; vvvv = ~(v >> 3) & 0xf; l = (v >> 2) & 1; pp = v & 3;
    p += 1;
  } else if (kind === Sp.VexC4 || kind === Sp.Xop) {
    if (p + 3 > end) return -1;
    const map = bytes[p]! & 0x1f, v = bytes[p + 1]!;
    if (kind === Sp.VexC4 ? map < 1 || map > 3 : map < 8 || map > 10) return -1;
    table = kind === Sp.VexC4 ? map - 1 : map - 5;
    w = v >> 7; vvvv = ~(v >> 3) & 0xf; l = (v >> 2) & 1; pp = v & 3;
    p += 2;
  } else {
    if (p + 4 > end) return -1;
    const map = bytes[p]! & 0xf, p1 = bytes[p + 1]!, p2 = bytes[p + 2]!;
    if ((map !== 1 && map !== 2 && map !== 3 && map !== 5 && map !== 6) || !(p1 & 4)) return -1;
    table = map <= 3 ? map + 5 : map + 4;
    w = p1 >> 7; vvvv = ~(p1 >> 3) & 0xf; pp = p1 & 3;
    ll = (p2 >> 5) & 3; b = (p2 & 0x10) !== 0; zNoMask = (p2 & 0x80) !== 0 && (p2 & 7) === 0;
    l = ll;
    p += 3;
  }
  const op = bytes[p++]!;
  const opEnd = p;
  const hasModrm = !(table === 0 && op === 0x77);
  let modrm = 0;
  if (hasModrm) { if (p >= end) return -1; modrm = bytes[p]!; }
  const mod3 = modrm >= 0xc0;
  const evexForm = kind === Sp.Evex;
  let status = 0;
  let form: VexForm | null = null;
  if (evexForm && ll === 3 && !(mod3 && b)) status = CELL_UNDEFINED;
  else {
    let cell = (m64 ? VEX_CELLS : VEX_CELLS_LEGACY)[table]![op * 4 + pp]!;
    if (Array.isArray(cell)) cell = cell[(modrm >> 3) & 7]!;
    if (evexForm && mod3 && b) l = 2;
    const bit = flavorBit(w, mod3, l, evexForm);
    if (typeof cell === 'number') status = cellStatus(cell, bit);
    else {
      form = cell;
      if (!((form.lmask >> l) & 1) || !((form.wmask >> w) & 1) || !(mod3 ? form.regOk : form.memOk)) {
        status = form.rejected & bit ? CELL_REJECTED : CELL_UNDEFINED;
      } else if (mod3 ? form.resetReg : form.resetMem) return -1;
    }
  }
  const aflag = m64 || (mode === 32 ? a67 === 0 : a67 !== 0);
  let need = p;
  if (hasModrm) {
    need = p + 1;
    const rm = modrm & 7;
    if (aflag && !mod3 && rm === 4) need = p + 2;
  }
  if (status === CELL_UNDEFINED) return need > end || opEnd - off > 15 ? -1 : opEnd - off;
  if (hasModrm) {
    p++;
    if (!mod3 && !(form?.vsib && !(aflag && (modrm & 7) === 4))) {
      const rm = modrm & 7, mod = modrm >> 6;
      if (aflag) {
        let base = rm;
        if (rm === 4) { if (p >= end) return -1; base = bytes[p]! & 7; p++; }
        if (mod === 0) { if (base === 5) p += 4; } else p += mod === 1 ? 1 : 4;
      } else if (mod === 0) { if (rm === 6) p += 2; } else p += mod === 1 ? 1 : 2;
    }
  }
  if (form) p += form.imm;
  if (p > end || need > end) return -1;
  const usesVvvv = form !== null && (mod3 ? form.vReg : form.vMem);
  if (status === CELL_REJECTED || (vvvv !== 0 && !usesVvvv) || zNoMask) return opEnd - off;
  const length = p - off;
  return length > 15 ? -1 : length;
}

// ---------------------------------------------------------------------------------------------
// Public API.

/** The length of the instruction at `offset`, or -1 if the bytes end before it does. */
export function instructionLength(bytes: Uint8Array, offset: number, mode: CpuMode): number {
  if (offset >= bytes.length) return -1;
  const f = fastInsn(bytes, offset, bytes.length, mode);
  if (f >= 0) return f & 15;
  const n = run(bytes, offset, bytes.length, mode, offset, false);
  return truncatedFlag ? -1 : n;
}
let truncatedFlag = false;

/**
 * Decodes one instruction. `address` (default: offset) is the address of the instruction, used for
 * branch targets. At the end of the bytes an incomplete instruction decodes as objdump shows it: a
 * one-byte `.byte 0x..` (or a lone prefix), with valid = false.
 */
export function decode(bytes: Uint8Array, offset: number, mode: CpuMode, address: number = offset): DecodedInstruction {
  const length = run(bytes, offset, bytes.length, mode, address, true);
  return snapshot(length, address);
}

type SegmentName = DecodedInstruction['prefixes']['segment'];
function segmentOfByte(b: number): SegmentName {
  switch (b) {
    case 0x26: return 'es'; case 0x2e: return 'cs'; case 0x36: return 'ss';
    case 0x3e: return 'ds'; case 0x64: return 'fs'; case 0x65: return 'gs';
  }
  return null;
}
function segmentOfFlag(f: number): SegmentName {
  return f & P_ES ? 'es' : f & P_CS ? 'cs' : f & P_SS ? 'ss' : f & P_DS ? 'ds' : f & P_FS ? 'fs' : f & P_GS ? 'gs' : null;
}

function snapshot(length: number, address: number): DecodedInstruction {
  const sens = resultValid && curEntry !== BAD ? curEntry.sens : null;
  const seg = prefixes & (P_CS | P_SS | P_DS | P_ES | P_FS | P_GS);
  const segName = seg ? segmentOfByte(lastSeg >= 0 ? buf[start + lastSeg]! : 0) ?? segmentOfFlag(seg) : null;
  let operandSize: 16 | 32 | 64 = mode === 16 ? 16 : 32;
  if (prefixes & P_DATA) operandSize = operandSize === 16 ? 32 : 16;
  if (rex & REX_W) operandSize = 64;
  let addressSize: 16 | 32 | 64 = mode === 64 ? 64 : mode === 16 ? 16 : 32;
  if (prefixes & P_ADDR) addressSize = mode === 64 ? 32 : mode === 16 ? 32 : 16;
  let target: number | null = null;
  if (opTarget >= 0) target = branchTarget;
  else if (ripDisp !== null) target = address + length + ripDisp;
  return {
    address,
    length,
    valid: resultValid,
    mnemonic: resultMnemonic,
    operandText: resultOperands,
    group: curGroup,
    sensitive: sens,
    prefixes: {
      lock: (prefixes & P_LOCK) !== 0,
      rep: prefixes & (P_REPZ | P_REPNZ) ? (lastRepz > lastRepnz ? 'rep' : 'repne') : null,
      segment: segName,
      operandSizeOverride: (prefixes & P_DATA) !== 0,
      addressSizeOverride: (prefixes & P_ADDR) !== 0,
      rex: needVex ? 0 : rex,
    },
    opcodeMap: opcodeMapId,
    opcode: opcodeByte,
    modrm: modrmPos >= 0 && modrmPos < start + length ? buf[modrmPos]! : null,
    sib: hasSib && sibPos < start + length ? buf[sibPos]! : null,
    displacement: dispValue,
    immediate: imm1,
    immediate2: imm2,
    operandSize,
    addressSize,
    target,
  };
}

/** "mnemonic operands", with objdump's spacing (mnemonic padded to 6 columns when operands follow). */
export function formatInstruction(insn: DecodedInstruction): string {
  if (insn.operandText === '') return insn.mnemonic;
  return insn.mnemonic.padEnd(6, ' ') + ' ' + insn.operandText;
}

/** "mnemonic operands" with one space, as a message quotes an instruction ("out %al,$0x80"). */
export function instructionText(insn: Pick<DecodedInstruction, 'mnemonic' | 'operandText'>): string {
  return insn.operandText === '' ? insn.mnemonic : `${insn.mnemonic} ${insn.operandText}`;
}

/**
 * Walks [start, end) instruction by instruction (fast path: no text). Calls `visit` with the offset,
 * length and sensitive class (or null) of each instruction. Returns the number of instructions.
 */
export function scanInstructions(
  bytes: Uint8Array, begin: number, end: number, mode: CpuMode,
  visit?: (offset: number, length: number, sensitive: SensitiveClass | null) => void,
): number {
  let off = begin;
  let count = 0;
  while (off < end) {
    const f = fastInsn(bytes, off, end, mode);
    let n: number;
    let sensitive: SensitiveClass | null;
    if (f >= 0) {
      n = f & 15;
      sensitive = f >= 16 ? CLASS_BY_ID[f >> 4]! : null;
    } else {
      n = run(bytes, off, end, mode, off, false);
      if (n <= 0) n = 1;
      sensitive = resultValid && curEntry !== BAD ? curEntry.sens : null;
    }
    if (visit) visit(off, n, sensitive);
    off += n;
    count++;
  }
  return count;
}

/** The sensitive class of the instruction at `offset` (fast path), or null. */
export function sensitiveClassAt(bytes: Uint8Array, offset: number, mode: CpuMode): SensitiveClass | null {
  const f = fastInsn(bytes, offset, bytes.length, mode);
  if (f >= 0) return f >= 16 ? CLASS_BY_ID[f >> 4]! : null;
  run(bytes, offset, bytes.length, mode, offset, false);
  return resultValid && curEntry !== BAD ? curEntry.sens : null;
}
void byteAt;
