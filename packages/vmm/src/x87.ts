// The x87 FPU, with JavaScript doubles for its registers: enough for kernels (detection, the FDIV
// check, lazy state switching with fnsave/frstor) and simple user code. Values keep 53 bits of
// mantissa instead of 64; exceptions are not raised (the default masked responses: infinities,
// NaNs, integer indefinite). Control word: rounding control is honoured by the integer stores;
// precision control is not.
import type { Cpu } from './cpu.js';
import { MachineStop, NM } from './arch.js';
import type { RawInstruction } from './decoder.js';

const C0 = 0x100, C1 = 0x200, C2 = 0x400, C3 = 0x4000;
const buf = new DataView(new ArrayBuffer(16));

export class Fpu {
  cw = 0x37f;
  sw = 0;
  /** Tag word (2 bits per physical register; 3 = empty). */
  tw = 0xffff;
  readonly regs = new Float64Array(8);
  /** SSE state (./sse.ts): MXCSR and XMM0-7 as four little-endian dwords each. */
  mxcsr = 0x1f80;
  readonly xmm = new Int32Array(32);

  get top(): number { return (this.sw >> 11) & 7; }
  set top(t: number) { this.sw = (this.sw & ~0x3800) | ((t & 7) << 11); }
  init(): void { this.cw = 0x37f; this.sw = 0; this.tw = 0xffff; }

  tagOf(v: number): number { return v === 0 ? 1 : Number.isFinite(v) ? 0 : 2; }
  st(i: number): number { return this.regs[(this.top + i) & 7]; }
  setSt(i: number, v: number): void {
    const p = (this.top + i) & 7;
    this.regs[p] = v;
    this.tw = (this.tw & ~(3 << (2 * p))) | (this.tagOf(v) << (2 * p));
  }
  push(v: number): void {
    const t = (this.top - 1) & 7;
    if (((this.tw >> (2 * t)) & 3) !== 3) this.sw |= 0x41 | C1; // stack overflow (masked): IE, SF
    this.top = t;
    this.setSt(0, v);
  }
  pop(): void {
    const t = this.top;
    this.tw |= 3 << (2 * t);
    this.top = t + 1;
  }

  compare(a: number, b: number): void {
    let cc: number;
    if (Number.isNaN(a) || Number.isNaN(b)) cc = C0 | C2 | C3;
    else if (a > b) cc = 0;
    else if (a < b) cc = C0;
    else cc = C3;
    this.sw = (this.sw & ~(C0 | C1 | C2 | C3)) | cc;
  }

  /** Rounds as the control word's RC asks (for integer stores and frndint). */
  round(v: number): number {
    switch ((this.cw >> 10) & 3) {
      case 0: { const r = Math.round(v); return Math.abs(v - Math.trunc(v)) === 0.5 && r % 2 !== 0 ? r - 1 : r; }
      case 1: return Math.floor(v);
      case 2: return Math.ceil(v);
      default: return Math.trunc(v);
    }
  }
}

// ---- memory formats

function readF32(c: Cpu, a: number): number { buf.setInt32(0, c.rd32(a), true); return buf.getFloat32(0, true); }
function readF64(c: Cpu, a: number): number {
  buf.setInt32(0, c.rd32(a), true); buf.setInt32(4, c.rd32((a + 4) | 0), true);
  return buf.getFloat64(0, true);
}
function readF80(c: Cpu, a: number): number {
  const lo = c.rd32(a) >>> 0, hi = c.rd32((a + 4) | 0) >>> 0, se = c.rd16((a + 8) | 0);
  const sign = se & 0x8000 ? -1 : 1;
  const exp = se & 0x7fff;
  const mant = hi * 4294967296 + lo;
  if (exp === 0 && mant === 0) return sign * 0;
  if (exp === 0x7fff) return (hi & 0x7fffffff) === 0 && lo === 0 ? sign * Infinity : NaN;
  return sign * mant * Math.pow(2, exp - 16383 - 63);
}
function writeF32(c: Cpu, a: number, v: number): void { buf.setFloat32(0, v, true); c.wr32(a, buf.getInt32(0, true)); }
function writeF64(c: Cpu, a: number, v: number): void {
  buf.setFloat64(0, v, true);
  c.probeWrite(a, 8);
  c.wr32(a, buf.getInt32(0, true)); c.wr32((a + 4) | 0, buf.getInt32(4, true));
}
/** The 80-bit image of a double: [low 32 bits, high 32 bits of the mantissa, sign and exponent]. */
function to80(v: number): [number, number, number] {
  if (v === 0) return [0, 0, Object.is(v, -0) ? 0x8000 : 0];
  if (Number.isNaN(v)) return [0, 0xc0000000, 0xffff];
  if (!Number.isFinite(v)) return [0, 0x80000000, v < 0 ? 0xffff : 0x7fff];
  buf.setFloat64(0, v, true);
  const hi = buf.getUint32(4, true), lo = buf.getUint32(0, true);
  const sign = hi >>> 31;
  let exp = (hi >>> 20) & 0x7ff;
  let mhi = hi & 0xfffff, mlo = lo;
  if (exp === 0) {
    // Denormal double: normalise.
    let m = mhi * 4294967296 + mlo;
    let e = -1022;
    while (m < 2 ** 52) { m *= 2; e--; }
    mhi = Math.floor(m / 4294967296) & 0xfffff; mlo = m % 4294967296;
    exp = e + 1023;
  }
  const e80 = exp - 1023 + 16383;
  const m64hi = (0x80000000 | (mhi << 11) | (mlo >>> 21)) >>> 0;
  const m64lo = (mlo << 11) >>> 0;
  return [m64lo, m64hi, (sign << 15) | e80];
}
function writeF80(c: Cpu, a: number, v: number): void {
  const [lo, hi, se] = to80(v);
  c.probeWrite(a, 10);
  c.wr32(a, lo); c.wr32((a + 4) | 0, hi); c.wr16((a + 8) | 0, se);
}
function readInt64(c: Cpu, a: number): number { return (c.rd32((a + 4) | 0)) * 4294967296 + (c.rd32(a) >>> 0); }
function writeInt(c: Cpu, a: number, v: number, bytes: 2 | 4 | 8): void {
  const f = c.fpu;
  let r = Number.isFinite(v) ? f.round(v) : NaN;
  const lim = bytes === 2 ? 0x8000 : bytes === 4 ? 0x80000000 : 2 ** 63;
  if (!(r >= -lim && r < lim)) { r = -lim; f.sw |= 0x01; } // invalid: integer indefinite
  if (bytes === 2) c.wr16(a, r & 0xffff);
  else if (bytes === 4) c.wr32(a, r | 0);
  else {
    c.probeWrite(a, 8);
    const big = BigInt.asUintN(64, BigInt(r));
    c.wr32(a, Number(big & 0xffffffffn) | 0); c.wr32((a + 4) | 0, Number(big >> 32n) | 0);
  }
}

function arith(op: number, a: number, b: number): number {
  switch (op) {
    case 0: return a + b;
    case 1: return a * b;
    case 4: return a - b;
    case 5: return b - a;
    case 6: return a / b;
    default: return b / a;
  }
}

/** The closure of an x87 instruction (escape opcodes D8-DF), or null when it is not implemented. */
export function compileX87(c: Cpu, insn: RawInstruction, addr: (() => number) | null): (() => void) | null {
  const op = insn.opcode;
  const modrm = insn.modrm ?? 0;
  const reg = (modrm >> 3) & 7;
  const i = modrm & 7;
  const f = c.fpu;
  const o16 = insn.operandSize === 16;
  if (addr !== null) {
    const a = addr;
    const loadBy: Record<number, (x: number) => number> = {
      0xd8: (x) => readF32(c, x), 0xdc: (x) => readF64(c, x), 0xda: (x) => c.rd32(x), 0xde: (x) => (c.rd16(x) << 16) >> 16,
    };
    if (loadBy[op]) {
      const load = loadBy[op];
      if (reg === 2 || reg === 3) return () => { f.compare(f.st(0), load(a())); if (reg === 3) f.pop(); };
      return () => { f.setSt(0, arith(reg, f.st(0), load(a()))); };
    }
    switch ((op << 3) | reg) {
      case (0xd9 << 3) | 0: return () => f.push(readF32(c, a()));
      case (0xd9 << 3) | 2: return () => writeF32(c, a(), f.st(0));
      case (0xd9 << 3) | 3: return () => { writeF32(c, a(), f.st(0)); f.pop(); };
      case (0xd9 << 3) | 4: return () => env(c, a(), false, o16);
      case (0xd9 << 3) | 5: return () => { f.cw = c.rd16(a()) | 0x40; };
      case (0xd9 << 3) | 6: return () => env(c, a(), true, o16);
      case (0xd9 << 3) | 7: return () => c.wr16(a(), f.cw);
      case (0xdb << 3) | 0: return () => f.push(c.rd32(a()));
      // fisttp (DB/1, DD/1, DF/1) is SSE3, which this CPU does not have.
      case (0xdb << 3) | 1: case (0xdd << 3) | 1: case (0xdf << 3) | 1: return () => c.ud();
      case (0xdb << 3) | 2: return () => writeInt(c, a(), f.st(0), 4);
      case (0xdb << 3) | 3: return () => { writeInt(c, a(), f.st(0), 4); f.pop(); };
      case (0xdb << 3) | 5: return () => f.push(readF80(c, a()));
      case (0xdb << 3) | 7: return () => { writeF80(c, a(), f.st(0)); f.pop(); };
      case (0xdd << 3) | 0: return () => f.push(readF64(c, a()));
      case (0xdd << 3) | 2: return () => writeF64(c, a(), f.st(0));
      case (0xdd << 3) | 3: return () => { writeF64(c, a(), f.st(0)); f.pop(); };
      case (0xdd << 3) | 4: return () => { const x = a(); env(c, x, false, o16); const base = (x + (o16 ? 14 : 28)) | 0; for (let k = 0; k < 8; k++) f.regs[(f.top + k) & 7] = readF80(c, (base + 10 * k) | 0); };
      case (0xdd << 3) | 6: return () => {
        const x = a();
        c.probeWrite(x, o16 ? 94 : 108);
        env(c, x, true, o16);
        const base = (x + (o16 ? 14 : 28)) | 0;
        for (let k = 0; k < 8; k++) writeF80(c, (base + 10 * k) | 0, f.regs[(f.top + k) & 7]);
        f.init();
      };
      case (0xdd << 3) | 7: return () => c.wr16(a(), f.sw);
      case (0xdf << 3) | 0: return () => f.push((c.rd16(a()) << 16) >> 16);
      case (0xdf << 3) | 2: return () => writeInt(c, a(), f.st(0), 2);
      case (0xdf << 3) | 3: return () => { writeInt(c, a(), f.st(0), 2); f.pop(); };
      case (0xdf << 3) | 5: return () => f.push(readInt64(c, a()));
      case (0xdf << 3) | 7: return () => { writeInt(c, a(), f.st(0), 8); f.pop(); };
    }
    return null;
  }
  switch (op) {
    case 0xd8:
      if (reg === 2 || reg === 3) return () => { f.compare(f.st(0), f.st(i)); if (reg === 3) f.pop(); };
      return () => f.setSt(0, arith(reg, f.st(0), f.st(i)));
    case 0xdc: case 0xde: {
      const pop = op === 0xde;
      if (reg === 2 || reg === 3) {
        if (op === 0xde && !(reg === 3 && i === 1)) return null;
        return () => { f.compare(f.st(0), f.st(i)); f.pop(); if (op === 0xde) f.pop(); };
      }
      // DC/DE: st(i) = st(i) op st(0), with the sub/div directions of the SDM's encodings.
      const k = reg === 4 ? 5 : reg === 5 ? 4 : reg === 6 ? 7 : reg === 7 ? 6 : reg;
      return () => { f.setSt(i, arith(k, f.st(i), f.st(0))); if (pop) f.pop(); };
    }
    case 0xd9:
      switch (reg) {
        case 0: return () => f.push(f.st(i));
        case 1: return () => { const t = f.st(0); f.setSt(0, f.st(i)); f.setSt(i, t); };
        case 2: if (i === 0) return () => {}; break;
        case 4:
          if (i === 0) return () => f.setSt(0, -f.st(0));
          if (i === 1) return () => f.setSt(0, Math.abs(f.st(0)));
          if (i === 4) return () => f.compare(f.st(0), 0);
          break;
        case 5: {
          const k = [1, Math.log2(10), Math.LOG2E, Math.PI, Math.log10(2), Math.LN2, 0][i];
          if (k !== undefined) return () => f.push(k);
          break;
        }
        case 7:
          if (i === 2) return () => f.setSt(0, Math.sqrt(f.st(0)));
          if (i === 4) return () => f.setSt(0, f.round(f.st(0)));
          if (i === 6) return () => f.setSt(0, Math.sin(f.st(0)));
          if (i === 7) return () => f.setSt(0, Math.cos(f.st(0)));
          break;
      }
      return null;
    case 0xda: if (modrm === 0xe9) return () => { f.compare(f.st(0), f.st(1)); f.pop(); f.pop(); }; return null;
    case 0xdb:
      if (modrm === 0xe3) return () => f.init();
      if (modrm === 0xe2) return () => { f.sw &= 0x7f00; };
      if (modrm === 0xe0 || modrm === 0xe1 || modrm === 0xe4) return () => {}; // feni, fdisi, fsetpm: no-ops
      return null;
    case 0xdd:
      if (reg === 0) return () => { f.tw |= 3 << (2 * ((f.top + i) & 7)); };
      if (reg === 2) return () => f.setSt(i, f.st(0));
      if (reg === 3) return () => { f.setSt(i, f.st(0)); f.pop(); };
      if (reg === 4 || reg === 5) return () => { f.compare(f.st(0), f.st(i)); if (reg === 5) f.pop(); };
      return null;
    case 0xdf:
      if (modrm === 0xe0) return () => { c.regs[0] = (c.regs[0] & ~0xffff) | f.sw; };
      return null;
  }
  return null;
}

/**
 * The x87 part of an FXSAVE image (SDM vol. 1 table 10-2, 32-bit layout), written as QEMU 7.2 writes
 * it: FCW, FSW, the abridged tag byte (one bit per physical register in use) as a word, FIP/FCS/FDP/FDS
 * as zeros, FOP untouched, and ST(0)-ST(7) as 80-bit values in 16-byte slots (the other 6 bytes
 * untouched).
 */
export function fxsaveX87(c: Cpu, a: number): void {
  const f = c.fpu;
  let abridged = 0;
  for (let p = 0; p < 8; p++) if (((f.tw >> (2 * p)) & 3) !== 3) abridged |= 1 << p;
  c.wr16(a, f.cw); c.wr16((a + 2) | 0, f.sw); c.wr16((a + 4) | 0, abridged);
  for (let k = 8; k < 24; k += 4) c.wr32((a + k) | 0, 0);
  for (let i = 0; i < 8; i++) writeF80(c, (a + 32 + 16 * i) | 0, f.st(i));
}

/** Loads the x87 part of an FXSAVE image (tags of registers in use follow their values). */
export function fxrstorX87(c: Cpu, a: number): void {
  const f = c.fpu;
  const cw = c.rd16(a), sw = c.rd16((a + 2) | 0), abridged = c.rd8((a + 4) | 0);
  const values = Array.from({ length: 8 }, (_, i) => readF80(c, (a + 32 + 16 * i) | 0));
  f.cw = cw; f.sw = sw;
  let tw = 0;
  for (let i = 0; i < 8; i++) {
    const p = (f.top + i) & 7;
    f.regs[p] = values[i];
    tw |= ((abridged >> p) & 1 ? f.tagOf(values[i]) : 3) << (2 * p);
  }
  f.tw = tw;
}

function env(c: Cpu, a: number, write: boolean, o16: boolean): void {
  const f = c.fpu;
  const s = o16 ? 2 : 4;
  if (write) {
    const w = (k: number, v: number): void => { if (o16) c.wr16((a + k * s) | 0, v); else c.wr32((a + k * s) | 0, v & 0xffff); };
    w(0, f.cw); w(1, f.sw); w(2, f.tw);
    for (let k = 3; k < 7; k++) w(k, 0);
  } else {
    f.cw = c.rd16(a); f.sw = c.rd16((a + s) | 0); f.tw = c.rd16((a + 2 * s) | 0);
  }
}

/** Wraps an x87 closure with the device-not-available check (CR0.EM, CR0.TS). */
export function x87Op(c: Cpu, insn: RawInstruction, addr: (() => number) | null): () => void {
  const body = compileX87(c, insn, addr);
  const what = `x87 instruction ${insn.mnemonic ?? ''} ${insn.operandText ?? ''}`.trim();
  return () => {
    if (c.cr0 & 0xc) c.fault(NM);
    if (body === null) throw new MachineStop(`unimplemented ${what}`, 'unimplemented');
    body();
  };
}
