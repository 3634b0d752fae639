// The SSE/SSE2 state and the instructions a kernel uses with it: FXSAVE/FXRSTOR (x87 + MXCSR + XMM0-7),
// LDMXCSR/STMXCSR, the fences, MOVNTI, EMMS, and the XMM data moves and bitwise logic (movaps/movups/
// movdqa/movdqu/movss/movsd/movd/movq, and/andn/or/xor in their ps/pd/p forms). Floating-point
// arithmetic on XMM registers and the MMX register instructions are not implemented: the run stops
// naming the instruction (as for any unimplemented instruction), never a silent #UD.
//
// Checks as the SDM orders them: an SSE instruction raises #UD with CR0.EM set or CR4.OSFXSR clear,
// then #NM with CR0.TS set, then #GP for a misaligned 16-byte operand of the aligned forms.
// FXSAVE/FXRSTOR raise #NM with CR0.EM or CR0.TS and #GP for an area not 16-byte aligned; they move
// MXCSR and the XMM registers only while CR4.OSFXSR is set (as QEMU does). Bytes of the FXSAVE image
// that QEMU 7.2 does not write are left as they were (see fxsaveX87 in ./x87.ts).
import type { Cpu } from './cpu.js';
import { NM } from './arch.js';
import type { RawInstruction } from './decoder.js';
import { fxrstorX87, fxsaveX87 } from './x87.js';

/** MXCSR bits this CPU implements (also the MXCSR_MASK that FXSAVE stores, as QEMU: DAZ included). */
export const MXCSR_MASK = 0x0000ffff;

const CR0_EM = 4, CR0_TS = 8, CR4_OSFXSR = 0x200;

/** Builds the address closure of a memory operand of `len` bytes (for writing when `write`). */
export type AddressOf = (len: number, write: boolean) => () => number;

/**
 * The closure for an SSE/SSE2 instruction (0F map), or null when it is not one this CPU implements
 * (the caller then stops the run as for an unimplemented instruction). `ud` is returned for the
 * encodings that are undefined for this CPU model (XSAVE, CLFLUSH: not in its CPUID).
 */
export function compileSse(c: Cpu, insn: RawInstruction, addressOf: AddressOf | null): (() => void) | null {
  const op = insn.opcode;
  const modrm = insn.modrm ?? 0;
  const reg = (modrm >> 3) & 7;
  const rm = modrm & 7;
  const mem = addressOf;
  const p = insn.prefixes;
  /** The mandatory prefix: F3 and F2 take precedence over 66. */
  const pfx = p.rep === 'rep' ? 0xf3 : p.rep === 'repne' ? 0xf2 : p.operandSizeOverride ? 0x66 : 0;
  const x = c.fpu.xmm;

  const sseCheck = (): void => {
    if ((c.cr0 & CR0_EM) || !(c.cr4 & CR4_OSFXSR)) c.ud();
    if (c.cr0 & CR0_TS) c.fault(NM);
  };
  const aligned = (a: number): number => { if (a & 15) c.gp(0); return a; };
  /** Reads 16 bytes into XMM register r. */
  const load128 = (r: number, a: number): void => {
    const v0 = c.rd32(a), v1 = c.rd32((a + 4) | 0), v2 = c.rd32((a + 8) | 0), v3 = c.rd32((a + 12) | 0);
    x[4 * r] = v0; x[4 * r + 1] = v1; x[4 * r + 2] = v2; x[4 * r + 3] = v3;
  };
  const store128 = (r: number, a: number): void => {
    c.probeWrite(a, 16);
    for (let k = 0; k < 4; k++) c.wr32((a + 4 * k) | 0, x[4 * r + k]);
  };
  const copy = (to: number, from: number, dwords: number): void => {
    for (let k = 0; k < dwords; k++) x[4 * to + k] = x[4 * from + k];
  };
  const zeroFrom = (r: number, k: number): void => { for (; k < 4; k++) x[4 * r + k] = 0; };

  switch (op) {
    case 0xae: {
      if (mem === null) {
        // lfence (E8-EF), mfence (F0-F7), sfence (F8-FF): memory is always in order here.
        if (pfx === 0 && reg >= 5) return () => {};
        return null;
      }
      if (pfx !== 0) return null;
      switch (reg) {
        case 0: case 1: {
          const a = mem(512, reg === 0);
          const save = reg === 0;
          return () => {
            if (c.cr0 & (CR0_EM | CR0_TS)) c.fault(NM);
            const addr = a();
            if (addr & 15) c.gp(0);
            if (save) {
              c.probeWrite(addr, 512);
              fxsaveX87(c, addr);
              if (c.cr4 & CR4_OSFXSR) {
                c.wr32((addr + 24) | 0, c.fpu.mxcsr);
                c.wr32((addr + 28) | 0, MXCSR_MASK);
                for (let k = 0; k < 32; k++) c.wr32((addr + 160 + 4 * k) | 0, x[k]);
              }
            } else {
              // Everything is read (and checked) before any state changes.
              const sse = (c.cr4 & CR4_OSFXSR) !== 0;
              const mxcsr = sse ? c.rd32((addr + 24) | 0) : 0;
              if (mxcsr & ~MXCSR_MASK) c.gp(0);
              const regs = sse ? Array.from({ length: 32 }, (_, k) => c.rd32((addr + 160 + 4 * k) | 0)) : null;
              fxrstorX87(c, addr);
              if (regs) { c.fpu.mxcsr = mxcsr; x.set(regs); }
            }
          };
        }
        case 2: {
          const a = mem(4, false);
          return () => {
            sseCheck();
            const v = c.rd32(a());
            if (v & ~MXCSR_MASK) c.gp(0);
            c.fpu.mxcsr = v;
          };
        }
        case 3: {
          const a = mem(4, true);
          return () => { sseCheck(); c.wr32(a(), c.fpu.mxcsr); };
        }
        default: return () => c.ud(); // xsave, xrstor, xsaveopt, clflush: not in this CPU's CPUID
      }
    }
    case 0xc3: { // movnti r32, m32: a store with a non-temporal hint
      if (mem === null || pfx !== 0) return null;
      const a = mem(4, true);
      return () => c.wr32(a(), c.regs[reg]);
    }
    case 0x77: // emms: the x87 tag word becomes all empty
      if (pfx !== 0) return null;
      return () => {
        if (c.cr0 & CR0_EM) c.ud();
        if (c.cr0 & CR0_TS) c.fault(NM);
        c.fpu.tw = 0xffff;
      };
    case 0x10: case 0x11: {
      const toMem = op === 0x11;
      if (pfx === 0 || pfx === 0x66) { // movups, movupd
        if (mem === null) return toMem ? () => { sseCheck(); copy(rm, reg, 4); } : () => { sseCheck(); copy(reg, rm, 4); };
        const a = mem(16, toMem);
        return toMem ? () => { sseCheck(); store128(reg, a()); } : () => { sseCheck(); load128(reg, a()); };
      }
      const dwords = pfx === 0xf3 ? 1 : 2; // movss, movsd
      if (mem === null) return toMem ? () => { sseCheck(); copy(rm, reg, dwords); } : () => { sseCheck(); copy(reg, rm, dwords); };
      const a = mem(4 * dwords, toMem);
      if (toMem) return () => { sseCheck(); const addr = a(); c.probeWrite(addr, 4 * dwords); for (let k = 0; k < dwords; k++) c.wr32((addr + 4 * k) | 0, x[4 * reg + k]); };
      return () => {
        sseCheck();
        const addr = a();
        const v = Array.from({ length: dwords }, (_, k) => c.rd32((addr + 4 * k) | 0));
        for (let k = 0; k < dwords; k++) x[4 * reg + k] = v[k];
        zeroFrom(reg, dwords);
      };
    }
    case 0x28: case 0x29: case 0x6f: case 0x7f: {
      // movaps/movapd (0F 28/29, none or 66), movdqa (66 0F 6F/7F), movdqu (F3 0F 6F/7F).
      if (op >= 0x6f ? pfx !== 0x66 && pfx !== 0xf3 : pfx !== 0 && pfx !== 0x66) return null;
      const toMem = op === 0x29 || op === 0x7f;
      const mustAlign = op < 0x6f || pfx === 0x66;
      if (mem === null) return toMem ? () => { sseCheck(); copy(rm, reg, 4); } : () => { sseCheck(); copy(reg, rm, 4); };
      const a = mem(16, toMem);
      const at = mustAlign ? () => aligned(a()) : a;
      return toMem ? () => { sseCheck(); store128(reg, at()); } : () => { sseCheck(); load128(reg, at()); };
    }
    case 0x6e: case 0x7e: {
      if (op === 0x7e && pfx === 0xf3) { // movq xmm/m64 -> xmm
        if (mem === null) return () => { sseCheck(); copy(reg, rm, 2); zeroFrom(reg, 2); };
        const a = mem(8, false);
        return () => { sseCheck(); const addr = a(); const lo = c.rd32(addr), hi = c.rd32((addr + 4) | 0); x[4 * reg] = lo; x[4 * reg + 1] = hi; zeroFrom(reg, 2); };
      }
      if (pfx !== 0x66) return null; // the MMX forms
      if (op === 0x6e) { // movd r/m32 -> xmm
        if (mem === null) return () => { sseCheck(); x[4 * reg] = c.regs[rm]; zeroFrom(reg, 1); };
        const a = mem(4, false);
        return () => { sseCheck(); x[4 * reg] = c.rd32(a()); zeroFrom(reg, 1); };
      }
      if (mem === null) return () => { sseCheck(); c.regs[rm] = x[4 * reg]; };
      const a = mem(4, true);
      return () => { sseCheck(); c.wr32(a(), x[4 * reg]); };
    }
    case 0xd6: { // movq xmm -> xmm/m64
      if (pfx !== 0x66) return null;
      if (mem === null) return () => { sseCheck(); copy(rm, reg, 2); zeroFrom(rm, 2); };
      const a = mem(8, true);
      return () => { sseCheck(); const addr = a(); c.probeWrite(addr, 8); c.wr32(addr, x[4 * reg]); c.wr32((addr + 4) | 0, x[4 * reg + 1]); };
    }
    case 0x54: case 0x55: case 0x56: case 0x57: case 0xdb: case 0xdf: case 0xeb: case 0xef: {
      // andps/andnps/orps/xorps (none or 66: the pd forms), pand/pandn/por/pxor (66).
      if (op >= 0xdb ? pfx !== 0x66 : pfx !== 0 && pfx !== 0x66) return null;
      const kind = op >= 0xdb ? [0xdb, 0xdf, 0xeb, 0xef].indexOf(op) : op - 0x54;
      const f = [(d: number, s: number) => d & s, (d: number, s: number) => ~d & s, (d: number, s: number) => d | s, (d: number, s: number) => d ^ s][kind];
      const apply = (s: number[]): void => { for (let k = 0; k < 4; k++) x[4 * reg + k] = f(x[4 * reg + k], s[k]); };
      if (mem === null) return () => { sseCheck(); apply([x[4 * rm], x[4 * rm + 1], x[4 * rm + 2], x[4 * rm + 3]]); };
      const a = mem(16, false);
      return () => {
        sseCheck();
        const addr = aligned(a());
        apply([c.rd32(addr), c.rd32((addr + 4) | 0), c.rd32((addr + 8) | 0), c.rd32((addr + 12) | 0)]);
      };
    }
  }
  return null;
}

