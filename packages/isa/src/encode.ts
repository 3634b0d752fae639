// Encodings of the instruction forms the in-place VMM writes over a padded site: relative jumps and
// calls into its stubs, stores/loads/read-modify-writes of a memory operand (the virtual interrupt
// flag, shadow registers), pushes and pops, and NOP padding in the recommended multi-byte forms (the
// same bytes GNU as emits for `.nops`). Every form is checked against GNU as in the tests.

export type AddressMode = 32 | 64;

/**
 * A memory operand: [base + index*scale + disp]. Registers are numbers 0..7 in the usual order
 * (eax/rax=0, ecx=1, edx=2, ebx=3, esp=4, ebp=5, esi=6, edi=7). Without base and index it is an
 * absolute address (disp32; in 64-bit mode the SIB form, not %rip-relative).
 */
export interface MemoryOperand {
  base?: number | null;
  index?: number | null;
  scale?: 1 | 2 | 4 | 8;
  disp?: number;
}

export const REG = { eax: 0, ecx: 1, edx: 2, ebx: 3, esp: 4, ebp: 5, esi: 6, edi: 7 } as const;

function le32(v: number): number[] {
  const u = v >>> 0;
  return [u & 0xff, (u >>> 8) & 0xff, (u >>> 16) & 0xff, u >>> 24];
}
function le16(v: number): number[] { return [v & 0xff, (v >>> 8) & 0xff]; }

function checkReg(r: number, what: string): void {
  if (!Number.isInteger(r) || r < 0 || r > 7) throw new RangeError(`${what} must be a register number 0..7, got ${r}`);
}

/** ModRM (+SIB, +displacement) bytes for `reg` (register or opcode extension) and a memory operand. */
export function encodeModrmMemory(reg: number, mem: MemoryOperand, _mode: AddressMode = 32): number[] {
  checkReg(reg, 'reg field');
  const base = mem.base ?? null;
  const index = mem.index ?? null;
  const disp = mem.disp ?? 0;
  const scaleBits = { 1: 0, 2: 1, 4: 2, 8: 3 }[mem.scale ?? 1];
  if (scaleBits === undefined) throw new RangeError('scale must be 1, 2, 4 or 8');
  if (index === 4) throw new RangeError('%esp cannot be an index register');
  if (base !== null) checkReg(base, 'base');
  if (index !== null) checkReg(index, 'index');
  if (base === null) {
    // No base: disp32 through a SIB byte with base=101 when there is an index, or in 64-bit mode
    // (where ModRM 00/101 would mean %rip-relative); plain ModRM 00/101 otherwise.
    if (index === null && _mode === 32) return [(reg << 3) | 5, ...le32(disp)];
    return [(reg << 3) | 4, (scaleBits << 6) | ((index ?? 4) << 3) | 5, ...le32(disp)];
  }
  const dispSize = disp === 0 && base !== 5 ? 0 : disp >= -128 && disp <= 127 ? 1 : 4;
  const mod = dispSize === 0 ? 0 : dispSize === 1 ? 1 : 2;
  const dispBytes = dispSize === 0 ? [] : dispSize === 1 ? [disp & 0xff] : le32(disp);
  if (index !== null || base === 4) {
    return [(mod << 6) | (reg << 3) | 4, (scaleBits << 6) | ((index ?? 4) << 3) | base, ...dispBytes];
  }
  return [(mod << 6) | (reg << 3) | base, ...dispBytes];
}

function rel32(from: number, length: number, to: number): number[] {
  const rel = to - (from + length);
  if (rel < -0x80000000 || rel > 0x7fffffff) throw new RangeError(`target ${to.toString(16)} out of rel32 range from ${from.toString(16)}`);
  return le32(rel);
}

/** `jmp rel32` at address `from` to `to` (5 bytes: E9 rel32). */
export function encodeJmpRel32(from: number, to: number): Uint8Array {
  return Uint8Array.from([0xe9, ...rel32(from, 5, to)]);
}

/** `call rel32` at address `from` to `to` (5 bytes: E8 rel32). */
export function encodeCallRel32(from: number, to: number): Uint8Array {
  return Uint8Array.from([0xe8, ...rel32(from, 5, to)]);
}

/** The recommended NOP of each length 1..11 (Intel SDM multi-byte NOP; lengths 10-11 as GNU as pads them). */
const NOPS: readonly (readonly number[])[] = [
  [],
  [0x90],
  [0x66, 0x90],
  [0x0f, 0x1f, 0x00],
  [0x0f, 0x1f, 0x40, 0x00],
  [0x0f, 0x1f, 0x44, 0x00, 0x00],
  [0x66, 0x0f, 0x1f, 0x44, 0x00, 0x00],
  [0x0f, 0x1f, 0x80, 0x00, 0x00, 0x00, 0x00],
  [0x0f, 0x1f, 0x84, 0x00, 0x00, 0x00, 0x00, 0x00],
  [0x66, 0x0f, 0x1f, 0x84, 0x00, 0x00, 0x00, 0x00, 0x00],
  [0x66, 0x2e, 0x0f, 0x1f, 0x84, 0x00, 0x00, 0x00, 0x00, 0x00],
  [0x66, 0x66, 0x2e, 0x0f, 0x1f, 0x84, 0x00, 0x00, 0x00, 0x00, 0x00],
];
export const MAX_SINGLE_NOP = 11;

/** `length` bytes of the NOPs of `table` (index: length): the longest repeatedly, then one for the remainder. */
function nopRun(length: number, table: readonly (readonly number[])[]): Uint8Array {
  if (!Number.isInteger(length) || length < 0) throw new RangeError(`NOP length must be a non-negative integer, got ${length}`);
  const out = new Uint8Array(length);
  let at = 0;
  while (at < length) {
    const n = Math.min(table.length - 1, length - at);
    out.set(table[n]!, at);
    at += n;
  }
  return out;
}

/**
 * NOP padding of exactly `length` bytes: one recommended NOP up to 11 bytes, longer runs as the fewest
 * such NOPs (11-byte ones, then the remainder) — byte for byte what GNU as emits for `.nops length`.
 */
export function encodeNops(length: number): Uint8Array {
  return nopRun(length, NOPS);
}

/**
 * NOPs for 16-bit code, where the 0F 1F forms would take 16-bit addressing: nop, mov %si,%si, and
 * lea 0x0(%si),%si with an 8- and a 16-bit displacement (`{disp8}`/`{disp16}` in GNU as).
 */
const NOPS16: readonly (readonly number[])[] = [[], [0x90], [0x89, 0xf6], [0x8d, 0x74, 0x00], [0x8d, 0xb4, 0x00, 0x00]];
export const MAX_SINGLE_NOP16 = 4;

/** NOP padding of exactly `length` bytes for 16-bit code: 4-byte NOPs, then one for the remainder. */
export function encodeNops16(length: number): Uint8Array {
  return nopRun(length, NOPS16);
}

export type OperandSize = 1 | 2 | 4;

function sized(size: OperandSize, opByte: number, opOther: number): number[] {
  if (size === 1) return [opByte];
  if (size === 2) return [0x66, opOther];
  if (size === 4) return [opOther];
  throw new RangeError(`operand size must be 1, 2 or 4, got ${size}`);
}
function immBytes(size: OperandSize, imm: number): number[] {
  return size === 1 ? [imm & 0xff] : size === 2 ? le16(imm) : le32(imm);
}

/** `mov $imm, mem` (C6 /0 ib, 66 C7 /0 iw, C7 /0 id). */
export function encodeMovMemImm(size: OperandSize, mem: MemoryOperand, imm: number, mode: AddressMode = 32): Uint8Array {
  return Uint8Array.from([...sized(size, 0xc6, 0xc7), ...encodeModrmMemory(0, mem, mode), ...immBytes(size, imm)]);
}

function isAbsolute(mem: MemoryOperand, mode: AddressMode): boolean {
  return mode === 32 && (mem.base ?? null) === null && (mem.index ?? null) === null;
}

/** `mov reg, mem` (88 /r, 89 /r; A2/A3 moffs for the accumulator and an absolute address, as GNU as picks). */
export function encodeMovMemReg(size: OperandSize, mem: MemoryOperand, reg: number, mode: AddressMode = 32): Uint8Array {
  if (reg === 0 && isAbsolute(mem, mode)) return Uint8Array.from([...sized(size, 0xa2, 0xa3), ...le32(mem.disp ?? 0)]);
  return Uint8Array.from([...sized(size, 0x88, 0x89), ...encodeModrmMemory(reg, mem, mode)]);
}

/** `mov mem, reg` (8A /r, 8B /r; A0/A1 moffs for the accumulator and an absolute address). */
export function encodeMovRegMem(size: OperandSize, reg: number, mem: MemoryOperand, mode: AddressMode = 32): Uint8Array {
  if (reg === 0 && isAbsolute(mem, mode)) return Uint8Array.from([...sized(size, 0xa0, 0xa1), ...le32(mem.disp ?? 0)]);
  return Uint8Array.from([...sized(size, 0x8a, 0x8b), ...encodeModrmMemory(reg, mem, mode)]);
}

function aluMemImm(ext: number, size: OperandSize, mem: MemoryOperand, imm: number, mode: AddressMode, lock: boolean): Uint8Array {
  const pfx = lock ? [0xf0] : [];
  // The sign-extended imm8 form (83) when the value fits, as GNU as chooses.
  if (size !== 1 && imm >= -128 && imm <= 127) {
    return Uint8Array.from([...pfx, ...sized(size, 0x80, 0x83), ...encodeModrmMemory(ext, mem, mode), imm & 0xff]);
  }
  return Uint8Array.from([...pfx, ...sized(size, 0x80, 0x81), ...encodeModrmMemory(ext, mem, mode), ...immBytes(size, imm)]);
}

/** `and $imm, mem` (80/81/83 /4), optionally with a lock prefix. */
export function encodeAndMemImm(size: OperandSize, mem: MemoryOperand, imm: number, mode: AddressMode = 32, lock = false): Uint8Array {
  return aluMemImm(4, size, mem, imm, mode, lock);
}

/** `or $imm, mem` (80/81/83 /1), optionally with a lock prefix. */
export function encodeOrMemImm(size: OperandSize, mem: MemoryOperand, imm: number, mode: AddressMode = 32, lock = false): Uint8Array {
  return aluMemImm(1, size, mem, imm, mode, lock);
}

export type BitOp = 'bt' | 'bts' | 'btr' | 'btc';

/** `bt/bts/btr/btc $bit, mem` (0F BA /4../7 ib, 32-bit operand), optionally locked (not for bt). */
export function encodeBitMemImm(op: BitOp, mem: MemoryOperand, bit: number, mode: AddressMode = 32, lock = false): Uint8Array {
  const ext = { bt: 4, bts: 5, btr: 6, btc: 7 }[op];
  if (ext === undefined) throw new RangeError(`unknown bit operation ${op}`);
  if (lock && op === 'bt') throw new RangeError('bt cannot take a lock prefix');
  if (!Number.isInteger(bit) || bit < 0 || bit > 255) throw new RangeError(`bit number must be 0..255, got ${bit}`);
  return Uint8Array.from([...(lock ? [0xf0] : []), 0x0f, 0xba, ...encodeModrmMemory(ext, mem, mode), bit]);
}

/** `push mem` (FF /6): 32-bit in 32-bit mode, 64-bit in 64-bit mode. */
export function encodePushMem(mem: MemoryOperand, mode: AddressMode = 32): Uint8Array {
  return Uint8Array.from([0xff, ...encodeModrmMemory(6, mem, mode)]);
}

/** `pop mem` (8F /0). */
export function encodePopMem(mem: MemoryOperand, mode: AddressMode = 32): Uint8Array {
  return Uint8Array.from([0x8f, ...encodeModrmMemory(0, mem, mode)]);
}

/** `push $imm32` (68 id). */
export function encodePushImm32(imm: number): Uint8Array { return Uint8Array.from([0x68, ...le32(imm)]); }
/** `push %reg` (50+r) and `pop %reg` (58+r). */
export function encodePushReg(reg: number): Uint8Array { checkReg(reg, 'register'); return Uint8Array.of(0x50 + reg); }
export function encodePopReg(reg: number): Uint8Array { checkReg(reg, 'register'); return Uint8Array.of(0x58 + reg); }
/** `pushf` (9C) and `popf` (9D). */
export function encodePushf(): Uint8Array { return Uint8Array.of(0x9c); }
export function encodePopf(): Uint8Array { return Uint8Array.of(0x9d); }
/** `call *mem` (FF /2) and `jmp *mem` (FF /4). */
export function encodeCallMem(mem: MemoryOperand, mode: AddressMode = 32): Uint8Array {
  return Uint8Array.from([0xff, ...encodeModrmMemory(2, mem, mode)]);
}
export function encodeJmpMem(mem: MemoryOperand, mode: AddressMode = 32): Uint8Array {
  return Uint8Array.from([0xff, ...encodeModrmMemory(4, mem, mode)]);
}
