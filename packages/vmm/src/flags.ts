// Lazy arithmetic flags. The CPU records the last flag-setting operation and its operands and computes
// OF/SF/ZF/AF/PF/CF only when something reads them. The operations and formulas are those of QEMU's
// TCG (target/i386 cc_op and cc_helper_template.h), so that the flags the Intel SDM leaves undefined
// come out as QEMU produces them (see the package README, "Flags").

export const CF = 0x1, PF = 0x4, AF = 0x10, ZF = 0x40, SF = 0x80, TF = 0x100, IF = 0x200, DF = 0x400, OF = 0x800;
export const IOPL = 0x3000, NT = 0x4000, RF = 0x10000, VM = 0x20000, AC = 0x40000, ID = 0x200000;
export const ARITH_FLAGS = CF | PF | AF | ZF | SF | OF;

// Operation kinds; cc op = kind * 4 + size index (0: 8-bit, 1: 16-bit, 2: 32-bit).
export const CC_EFLAGS = 0; // flags held in ccSrc
export const K_ADD = 1, K_ADC = 2, K_SUB = 3, K_SBB = 4, K_LOGIC = 5, K_INC = 6, K_DEC = 7, K_SHL = 8, K_SAR = 9, K_MUL = 10;

export const PARITY = new Uint8Array(256);
for (let i = 0; i < 256; i++) {
  let b = i, p = 1;
  while (b) { p ^= b & 1; b >>= 1; }
  PARITY[i] = p ? PF : 0;
}

export const SIZE_MASK = [0xff, 0xffff, 0xffffffff];
export const SIZE_SIGN = [0x80, 0x8000, 0x80000000];
export const SIZE_BITS = [8, 16, 32];

/** Arithmetic flags of the recorded operation. */
export function computeFlags(op: number, dst: number, src: number, src2: number): number {
  if (op === CC_EFLAGS) return src & ARITH_FLAGS;
  const ot = op & 3;
  const mask = SIZE_MASK[ot];
  const sign = SIZE_SIGN[ot];
  const d = (dst & mask) >>> 0;
  let f = PARITY[d & 0xff] | (d === 0 ? ZF : 0) | (d & sign ? SF : 0);
  switch (op >> 2) {
    case K_ADD: {
      const s = (src & mask) >>> 0;
      const s1 = ((d - s) & mask) >>> 0;
      if (d < s1) f |= CF;
      f |= (d ^ s ^ s1) & AF;
      if ((s1 ^ s ^ -1) & (s1 ^ d) & sign) f |= OF;
      return f;
    }
    case K_ADC: {
      const s = (src & mask) >>> 0;
      const s1 = ((d - s - src2) & mask) >>> 0;
      if (src2 ? d <= s1 : d < s1) f |= CF;
      f |= (d ^ s ^ s1) & AF;
      if ((s1 ^ s ^ -1) & (s1 ^ d) & sign) f |= OF;
      return f;
    }
    case K_SUB: {
      const s = (src & mask) >>> 0;
      const s1 = ((d + s) & mask) >>> 0;
      if (s1 < s) f |= CF;
      f |= (d ^ s ^ s1) & AF;
      if ((s1 ^ s) & (s1 ^ d) & sign) f |= OF;
      return f;
    }
    case K_SBB: {
      const s = (src & mask) >>> 0;
      const s1 = ((d + s + src2) & mask) >>> 0;
      if (src2 ? s1 <= s : s1 < s) f |= CF;
      f |= (d ^ s ^ s1) & AF;
      if ((s1 ^ s) & (s1 ^ d) & sign) f |= OF;
      return f;
    }
    case K_LOGIC:
      return f;
    case K_INC: {
      const s1 = ((d - 1) & mask) >>> 0;
      f |= (src & CF) | ((d ^ s1 ^ 1) & AF);
      if (d === sign >>> 0) f |= OF;
      return f;
    }
    case K_DEC: {
      const s1 = ((d + 1) & mask) >>> 0;
      f |= (src & CF) | ((d ^ s1 ^ 1) & AF);
      if (d === ((sign - 1) & mask) >>> 0) f |= OF;
      return f;
    }
    case K_SHL: {
      if ((src >>> (SIZE_BITS[ot] - 1)) & 1) f |= CF;
      if ((src ^ d) & sign) f |= OF;
      return f;
    }
    case K_SAR: {
      if (src & 1) f |= CF;
      if ((src ^ d) & sign) f |= OF;
      return f;
    }
    case K_MUL: {
      if (src !== 0) f |= CF | OF;
      return f;
    }
  }
  return f;
}

/** CF alone, without computing the rest (jb/jae, adc/sbb, rcl/rcr). */
export function computeCarry(op: number, dst: number, src: number, src2: number): number {
  switch (op >> 2) {
    case K_SUB: {
      const mask = SIZE_MASK[op & 3];
      return ((dst + src) & mask) >>> 0 < (src & mask) >>> 0 ? 1 : 0;
    }
    case K_ADD: {
      const mask = SIZE_MASK[op & 3];
      return (dst & mask) >>> 0 < (src & mask) >>> 0 ? 1 : 0;
    }
    case K_LOGIC:
      return 0;
    case K_INC: case K_DEC:
      return src & 1;
    default:
      return computeFlags(op, dst, src, src2) & CF;
  }
}
