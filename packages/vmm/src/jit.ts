// Hot blocks become one generated JavaScript function. The most frequent 32-bit integer instructions
// are emitted as inline code (registers in a typed array, memory through the software TLB, the same
// lazy-flag records as the closures of ./compile.ts); every other instruction calls its closure from
// its own call site. A block that ends in a conditional branch back to its own start runs as a loop
// inside the function until the branch falls through, the instruction budget ends, or a device wants
// attention. The closures remain the reference semantics: the differential test runs through both.
import type { Cpu } from './cpu.js';
import type { Block } from './compile.js';
import type { RawInstruction } from './decoder.js';
import { K_ADD, K_INC, K_DEC, K_LOGIC, K_SAR, K_SHL, K_SUB } from './flags.js';

const SEG: Record<string, number> = { es: 0, cs: 1, ss: 2, ds: 3, fs: 4, gs: 5 };

/** The offset expression and segment of a 32-bit ModRM memory operand (null when not handled). */
function operand(insn: RawInstruction): { off: string; seg: number } | null {
  if (insn.addressSize !== 32 || insn.modrm === null) return null;
  const modrm = insn.modrm;
  const mod = modrm >> 6, rm = modrm & 7;
  if (mod === 3) return null;
  let base = -1, index = -1, scale = 0;
  if (rm === 4) {
    if (insn.sib === null) return null;
    const sib = insn.sib;
    base = sib & 7; index = (sib >> 3) & 7; scale = sib >> 6;
    if (index === 4) index = -1;
    if (base === 5 && mod === 0) base = -1;
  } else if (!(mod === 0 && rm === 5)) base = rm;
  const seg = insn.prefixes.segment ? SEG[insn.prefixes.segment] : base === 4 || base === 5 ? 2 : 3;
  const disp = insn.displacement | 0;
  const parts: string[] = [];
  if (base >= 0) parts.push(`R[${base}]`);
  if (index >= 0) parts.push(scale ? `(R[${index}] << ${scale})` : `R[${index}]`);
  if (disp !== 0 || parts.length === 0) parts.push(String(disp));
  const off = parts.length === 1 && base >= 0 ? parts[0] : `((${parts.join(' + ')}) | 0)`;
  return { off, seg };
}

/** The linear-address expression of a memory operand, with the segment check when not flat. */
function address(insn: RawInstruction, len: number, write: boolean): string | null {
  const o = operand(insn);
  if (!o) return null;
  return `(${write ? 'flatW' : 'flatR'}[${o.seg}] ? ${o.off} : c.linear(${o.seg}, ${o.off}, ${len}, ${write}))`;
}

const read32 = (a: string): string =>
  `((t = tlbR[(a = ${a}) >>> 12]) !== 0 && (a & 0xfff) <= 0xffc ? view.getInt32((t & ~0xfff) | (a & 0xfff), true) : c.rd32(a))`;
const write32 = (a: string, v: string): string =>
  `a = ${a}; if ((t = tlbW[a >>> 12]) !== 0 && (a & 0xfff) <= 0xffc) view.setInt32((t & ~0xfff) | (a & 0xfff), ${v}, true); else c.wr32(a, ${v});`;

const ALU_KIND = [0, 1, -1, -1, 4, 5, 6, 7]; // add or (adc sbb: closures) and sub xor cmp

/** A byte register as an expression, and a statement writing one. */
const reg8 = (i: number): string => (i < 4 ? `(R[${i}] & 0xff)` : `((R[${i - 4}] >> 8) & 0xff)`);
const setReg8 = (i: number, v: string): string =>
  (i < 4 ? `R[${i}] = (R[${i}] & ~0xff) | ((${v}) & 0xff);` : `R[${i - 4}] = (R[${i - 4}] & ~0xff00) | (((${v}) & 0xff) << 8);`);
const read8 = (a: string): string => `((t = tlbR[(a = ${a}) >>> 12]) !== 0 ? ram[(t & ~0xfff) | (a & 0xfff)] : c.rd8(a))`;
const write8 = (a: string, v: string): string =>
  `a = ${a}; if ((t = tlbW[a >>> 12]) !== 0) ram[(t & ~0xfff) | (a & 0xfff)] = ${v}; else c.wr8(a, ${v});`;

/** JS for one ALU operation `dst = dst op src` (32-bit) with its flag record; `store` writes the result. */
function alu(kind: number, dst: string, src: string, store: (v: string) => string): string {
  switch (kind) {
    case 0: return `s = ${src}; v = (${dst} + s) | 0; ${store('v')} c.ccOp = ${K_ADD * 4 + 2}; c.ccDst = v; c.ccSrc = s;`;
    case 5: return `s = ${src}; v = (${dst} - s) | 0; ${store('v')} c.ccOp = ${K_SUB * 4 + 2}; c.ccDst = v; c.ccSrc = s;`;
    case 7: return `s = ${src}; v = (${dst} - s) | 0; c.ccOp = ${K_SUB * 4 + 2}; c.ccDst = v; c.ccSrc = s;`;
    case 1: return `v = ${dst} | ${src}; ${store('v')} c.ccOp = ${K_LOGIC * 4 + 2}; c.ccDst = v;`;
    case 4: return `v = ${dst} & ${src}; ${store('v')} c.ccOp = ${K_LOGIC * 4 + 2}; c.ccDst = v;`;
    default: return `v = ${dst} ^ ${src}; ${store('v')} c.ccOp = ${K_LOGIC * 4 + 2}; c.ccDst = v;`;
  }
}

/** Inline condition for Jcc/SETcc after a 32-bit SUB or LOGIC record, else the general evaluator. */
function condition(n: number): string {
  const inv = (n & 1) === 1;
  const sub: Record<number, string> = {
    1: '(c.ccDst + c.ccSrc) >>> 0 < c.ccSrc >>> 0', 2: 'c.ccDst === 0', 3: '(c.ccDst + c.ccSrc) >>> 0 <= c.ccSrc >>> 0',
    4: 'c.ccDst < 0', 6: '((c.ccDst + c.ccSrc) | 0) < c.ccSrc', 7: '((c.ccDst + c.ccSrc) | 0) <= c.ccSrc',
  };
  const logic: Record<number, string> = { 0: 'false', 1: 'false', 2: 'c.ccDst === 0', 3: 'c.ccDst === 0', 4: 'c.ccDst < 0', 6: 'c.ccDst < 0', 7: 'c.ccDst <= 0' };
  const k = n >> 1;
  const wrap = (e: string): string => (inv ? `!(${e})` : `(${e})`);
  const parts: string[] = [];
  if (sub[k]) parts.push(`c.ccOp === ${K_SUB * 4 + 2} ? ${wrap(sub[k])}`);
  if (logic[k]) parts.push(`c.ccOp === ${K_LOGIC * 4 + 2} ? ${wrap(logic[k])}`);
  parts.push(`testCondition(c, ${n})`);
  return `(${parts.join(' : ')})`;
}

/** Inline JS for an instruction, or null to call its closure. `last`: the block's final instruction. */
function generate(insn: RawInstruction, next: number, blockEip: number, self: { loops: boolean }): string | null {
  const p = insn.prefixes;
  if (!insn.valid || p.lock || p.rep !== null || insn.operandSize !== 32) return null;
  const op = insn.opcode;
  const modrm = insn.modrm ?? 0;
  const mod = modrm >> 6, reg = (modrm >> 3) & 7, rm = modrm & 7;
  const imm = insn.immediate | 0;
  if (insn.opcodeMap === 'primary') {
    if (op < 0x40 && (op & 7) < 6 && ALU_KIND[op >> 3] >= 0) {
      const kind = ALU_KIND[op >> 3];
      switch (op & 7) {
        case 1:
          if (mod === 3) return alu(kind, `R[${rm}]`, `R[${reg}]`, (v) => `R[${rm}] = ${v};`);
          if (kind === 7) { const a = address(insn, 4, false); return a && alu(7, read32(a), `R[${reg}]`, () => ''); }
          {
            const a = address(insn, 4, true);
            if (!a) return null;
            return `a = ${a}; d = c.rd32(a); c.probeWrite(a, 4); ${alu(kind, 'd', `R[${reg}]`, (v) => `c.wr32(a, ${v});`)}`;
          }
        case 3:
          if (mod === 3) return alu(kind, `R[${reg}]`, `R[${rm}]`, (v) => `R[${reg}] = ${v};`);
          { const a = address(insn, 4, false); return a && alu(kind, `R[${reg}]`, read32(a), (v) => `R[${reg}] = ${v};`); }
        case 5: return alu(kind, 'R[0]', String(imm), (v) => `R[0] = ${v};`);
        default: return null;
      }
    }
    if (op >= 0x40 && op <= 0x4f) {
      const i = op & 7, dec = op >= 0x48;
      return `s = c.getCF(); v = (R[${i}] ${dec ? '-' : '+'} 1) | 0; R[${i}] = v; c.ccOp = ${(dec ? K_DEC : K_INC) * 4 + 2}; c.ccDst = v; c.ccSrc = s;`;
    }
    if (op >= 0x50 && op <= 0x57) return `c.push32(R[${op & 7}]);`;
    if (op >= 0x58 && op <= 0x5f) return `v = c.pop32(); R[${op & 7}] = v;`;
    if (op >= 0xb8 && op <= 0xbf) return `R[${op & 7}] = ${imm};`;
    if (op >= 0x70 && op <= 0x7f) {
      const target = (next + ((imm << 24) >> 24)) | 0;
      if (target === blockEip) { self.loops = true; return `if (${condition(op & 15)}) { c.eip = ${target}; continue; }`; }
      return `if (${condition(op & 15)}) c.eip = ${target};`;
    }
    switch (op) {
      case 0x38: case 0x3a: {
        // cmp r/m8, r8 / cmp r8, r/m8
        const other = mod === 3 ? reg8(rm) : (() => { const a = address(insn, 1, false); return a && read8(a); })();
        if (!other) return null;
        const [x, y] = op === 0x38 ? [other, reg8(reg)] : [reg8(reg), other];
        return `s = ${y}; v = (${x} - s) & 0xff; c.ccOp = ${K_SUB * 4}; c.ccDst = v; c.ccSrc = s;`;
      }
      case 0x3c: return `s = ${imm & 0xff}; v = ((R[0] & 0xff) - s) & 0xff; c.ccOp = ${K_SUB * 4}; c.ccDst = v; c.ccSrc = s;`;
      case 0x84: {
        const other = mod === 3 ? reg8(rm) : (() => { const a = address(insn, 1, false); return a && read8(a); })();
        return other && `v = ${other} & ${reg8(reg)}; c.ccOp = ${K_LOGIC * 4}; c.ccDst = v;`;
      }
      case 0xa8: return `c.ccOp = ${K_LOGIC * 4}; c.ccDst = R[0] & ${imm & 0xff};`;
      case 0x88:
        if (mod === 3) return setReg8(rm, reg8(reg));
        { const a = address(insn, 1, true); return a && write8(a, reg8(reg)); }
      case 0x8a:
        if (mod === 3) return setReg8(reg, reg8(rm));
        { const a = address(insn, 1, false); return a && `v = ${read8(a)}; ${setReg8(reg, 'v')}`; }
      case 0xc6:
        if (reg !== 0) return null;
        if (mod === 3) return setReg8(rm, String(imm & 0xff));
        { const a = address(insn, 1, true); return a && write8(a, String(imm & 0xff)); }
      case 0xf7:
        if (mod !== 3) return null;
        if (reg === 2) return `R[${rm}] = ~R[${rm}];`;
        if (reg === 3) return `s = R[${rm}]; v = (-s) | 0; R[${rm}] = v; c.ccOp = ${K_SUB * 4 + 2}; c.ccDst = v; c.ccSrc = s;`;
        return null;
      case 0x68: return `c.push32(${imm});`;
      case 0x6a: return `c.push32(${(imm << 24) >> 24});`;
      case 0x81: case 0x83: {
        const kind = ALU_KIND[reg];
        if (kind < 0) return null;
        const v = op === 0x83 ? (imm << 24) >> 24 : imm;
        if (mod === 3) return alu(kind, `R[${rm}]`, String(v), (x) => `R[${rm}] = ${x};`);
        if (kind === 7) { const a = address(insn, 4, false); return a && alu(7, read32(a), String(v), () => ''); }
        const a = address(insn, 4, true);
        if (!a) return null;
        return `a = ${a}; d = c.rd32(a); c.probeWrite(a, 4); ${alu(kind, 'd', String(v), (x) => `c.wr32(a, ${x});`)}`;
      }
      case 0x85:
        if (mod === 3) return `c.ccOp = ${K_LOGIC * 4 + 2}; c.ccDst = R[${rm}] & R[${reg}];`;
        { const a = address(insn, 4, false); return a && `v = ${read32(a)} & R[${reg}]; c.ccOp = ${K_LOGIC * 4 + 2}; c.ccDst = v;`; }
      case 0xa9: return `c.ccOp = ${K_LOGIC * 4 + 2}; c.ccDst = R[0] & ${imm};`;
      case 0x89:
        if (mod === 3) return `R[${rm}] = R[${reg}];`;
        { const a = address(insn, 4, true); return a && write32(a, `R[${reg}]`); }
      case 0x8b:
        if (mod === 3) return `R[${reg}] = R[${rm}];`;
        { const a = address(insn, 4, false); return a && `v = ${read32(a)}; R[${reg}] = v;`; }
      case 0xc7:
        if (reg !== 0) return null;
        if (mod === 3) return `R[${rm}] = ${imm};`;
        { const a = address(insn, 4, true); return a && write32(a, String(imm)); }
      case 0x8d: {
        if (mod === 3) return null;
        const o = operand(insn);
        return o && `R[${reg}] = ${o.off};`;
      }
      case 0xc1: case 0xd1: {
        if (mod !== 3 || (reg !== 4 && reg !== 5 && reg !== 7)) return null;
        const count = op === 0xd1 ? 1 : imm & 0x1f;
        if (count === 0) return '';
        if (reg === 4) return `s = R[${rm}]; v = s << ${count}; R[${rm}] = v; c.ccOp = ${K_SHL * 4 + 2}; c.ccDst = v; c.ccSrc = s << ${count - 1};`;
        if (reg === 5) return `s = R[${rm}]; v = s >>> ${count}; R[${rm}] = v; c.ccOp = ${K_SAR * 4 + 2}; c.ccDst = v; c.ccSrc = s >>> ${count - 1};`;
        return `s = R[${rm}]; v = s >> ${count}; R[${rm}] = v; c.ccOp = ${K_SAR * 4 + 2}; c.ccDst = v; c.ccSrc = s >> ${count - 1};`;
      }
      case 0xe8: return `c.push32(${next}); c.eip = ${(next + imm) | 0};`;
      case 0xe9: case 0xeb: {
        const target = (next + (op === 0xeb ? (imm << 24) >> 24 : imm)) | 0;
        return `c.eip = ${target};`;
      }
      case 0xc3: return 'c.eip = c.pop32();';
    }
    return null;
  }
  if (insn.opcodeMap === '0f') {
    if (op >= 0x80 && op <= 0x8f) {
      const target = (next + imm) | 0;
      if (target === blockEip) { self.loops = true; return `if (${condition(op & 15)}) { c.eip = ${target}; continue; }`; }
      return `if (${condition(op & 15)}) c.eip = ${target};`;
    }
    if ((op === 0xb6 || op === 0xbe) && mod === 3) {
      return `R[${reg}] = ${op === 0xbe ? `(${reg8(rm)} << 24) >> 24` : reg8(rm)};`;
    }
    if (op >= 0x90 && op <= 0x9f) {
      if (mod === 3) return setReg8(rm, `${condition(op & 15)} ? 1 : 0`);
      const a = address(insn, 1, true);
      return a && `d = ${condition(op & 15)} ? 1 : 0; ${write8(a, 'd')}`;
    }
    if (op >= 0x40 && op <= 0x4f && mod === 3) return `if (${condition(op & 15)}) R[${reg}] = R[${rm}];`;
    if ((op === 0xb6 || op === 0xbe || op === 0xb7 || op === 0xbf) && mod !== 3) {
      const word = op & 1;
      const a = address(insn, word ? 2 : 1, false);
      if (!a) return null;
      const load = word ? `c.rd16(${a})` : `c.rd8(${a})`;
      const signed = op >= 0xbe;
      return `R[${reg}] = ${signed ? (word ? `(${load} << 16) >> 16` : `(${load} << 24) >> 24`) : load};`;
    }
  }
  return null;
}

/**
 * Generates the function of a hot block. It returns the number of extra loop iterations it ran (each
 * of the block's full length) beyond the first; on a throw, c.faultIndex and c.faultLoops say where.
 */
export function jitBlock(c: Cpu, b: Block, testCondition: (c: Cpu, n: number) => boolean): (budget: number) => number {
  const n = b.ops.length;
  const decl: string[] = [];
  const body: string[] = [];
  const self = { loops: false };
  for (let i = 0; i < n; i++) {
    const next = i + 1 < n ? b.eips[i + 1] : b.endEip;
    let code = b.codeSize === 32 ? generate(b.insns[i], next, b.eip, self) : null;
    if (code === null) {
      decl.push(`const o${i} = ops[${i}];`);
      code = `o${i}();`;
      // A closure may end the loop (a branch back to the start leaves EIP there).
      if (i === n - 1 && self.loops === false && b.insns[i] && isBackBranch(b, i)) {
        self.loops = true;
        code = `o${i}(); if (c.eip === ${b.eip}) { continue; }`;
      }
    }
    body.push(`i = ${i}; ${code}`);
  }
  const loop = self.loops;
  // `budget`: extra passes allowed after the first. A taken back-branch counts a pass and continues.
  const src = `${decl.join('\n')}
return function block(budget) {
  const R = c.regs, view = c.view, ram = c.ram, tlbR = c.tlbR, tlbW = c.tlbW, flatR = c.segFlatR, flatW = c.segFlatW;
  let i = 0, loops = 0, a = 0, t = 0, v = 0, s = 0, d = 0;
  try {
    for (;;) {
      ${loop ? `if (loops > 0) { if (loops > budget || c.exitRequest || c.intrLine || c.codeEpoch !== epoch) return loops - 1; c.eip = ${b.endEip}; }` : ''}
      ${body.join('\n      ')}
      return loops;
    }
  } catch (e) {
    c.faultIndex = i;
    c.faultLoops = loops;
    throw e;
  }
};`.replace(/continue;/g, 'loops++; continue;');
  const epoch = c.codeEpoch;
  return new Function('ops', 'c', 'testCondition', 'epoch', src)(b.ops, c, testCondition, epoch) as (budget: number) => number;
}

function isBackBranch(b: Block, i: number): boolean {
  const insn = b.insns[i];
  const op = insn.opcode;
  const isJcc = (insn.opcodeMap === 'primary' && ((op >= 0x70 && op <= 0x7f) || (op >= 0xe0 && op <= 0xe3))) || (insn.opcodeMap === '0f' && op >= 0x80 && op <= 0x8f);
  if (!isJcc) return false;
  const next = b.endEip;
  const d = insn.opcodeMap === '0f' || op === 0xe9 ? insn.immediate | 0 : (insn.immediate << 24) >> 24;
  return ((next + d) | 0) === b.eip;
}
