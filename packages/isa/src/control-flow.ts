// Control flow and side effects of a decoded instruction, for code discovery and site validation:
// does control fall through, where does a relative branch go, is it a NOP (padding), does it access
// memory. Read from the decoder's raw fields (opcode map, opcode, ModRM, SIB, prefixes), so that the
// answer does not depend on how objdump spells an instruction.
import type { CpuMode, DecodedInstruction } from './decoder.js';

/** The mnemonic without the prefixes objdump prints in front of it ("repz ret" -> "ret"). */
export function baseMnemonic(insn: DecodedInstruction): string {
  const m = insn.mnemonic;
  const space = m.lastIndexOf(' ');
  return space < 0 ? m : m.slice(space + 1);
}

const modrmReg = (insn: DecodedInstruction) => (insn.modrm! >> 3) & 7;

/**
 * Control never reaches the next instruction: jmp (EB, E9, FF /4), ljmp (EA, FF /5), ret (C2, C3),
 * lret (CA, CB), iret (CF), sysret (0F 07), sysexit (0F 35), ud2 (0F 0B, as BUG()), and any undefined
 * encoding (the bytes are not code).
 */
export function endsFlow(insn: DecodedInstruction): boolean {
  if (!insn.valid) return true;
  const op = insn.opcode;
  switch (insn.opcodeMap) {
    case 'primary':
      if (op === 0xff) {
        const reg = modrmReg(insn);
        return reg === 4 || reg === 5;
      }
      return op === 0xeb || op === 0xe9 || op === 0xea || op === 0xc2 || op === 0xc3 || op === 0xca || op === 0xcb || op === 0xcf;
    case '0f':
      return op === 0x07 || op === 0x35 || op === 0x0b;
    default:
      return false;
  }
}

/**
 * Whether the instruction is a relative branch: jcc, jmp, call, loop/loope/loopne, jcxz/jecxz/jrcxz,
 * and xbegin (C7 F8, whose target is the abort handler).
 */
function isRelativeBranch(insn: DecodedInstruction): boolean {
  const op = insn.opcode;
  if (insn.opcodeMap === 'primary') {
    return (op >= 0x70 && op <= 0x7f) || (op >= 0xe0 && op <= 0xe3) || op === 0xe8 || op === 0xe9 || op === 0xeb
      || (op === 0xc7 && insn.modrm === 0xf8);
  }
  return insn.opcodeMap === '0f' && op >= 0x80 && op <= 0x8f;
}

/**
 * The target of a relative jump, conditional jump, loop, call or xbegin; null for other instructions,
 * among them indirect ones through a %rip-relative operand (whose `target` is the address of a pointer).
 */
export function branchTarget(insn: DecodedInstruction): number | null {
  if (insn.target === null || !insn.valid) return null;
  return isRelativeBranch(insn) ? insn.target : null;
}

/** Register number (0..15) of the ModRM reg field, with REX.R. */
function regField(insn: DecodedInstruction): number {
  return modrmReg(insn) | (insn.prefixes.rex & 4 ? 8 : 0);
}

/** Register number (0..15) of the ModRM rm field of a register operand (mod 3), with REX.B. */
function rmRegister(insn: DecodedInstruction): number {
  return (insn.modrm! & 7) | (insn.prefixes.rex & 1 ? 8 : 0);
}

/** 16-bit addressing: the single register of the forms [si], [di], [bp+disp], [bx] (rm 4..7), by number. */
const BASE16: readonly number[] = [-1, -1, -1, -1, 6, 7, 5, 3];

/**
 * The register a memory operand names with nothing added (one base register, no index, displacement
 * 0, not %rip), or -1.
 */
function bareBaseRegister(insn: DecodedInstruction): number {
  const modrm = insn.modrm!;
  const mod = modrm >> 6;
  const rm = modrm & 7;
  if (insn.displacement !== 0) return -1;
  if (insn.addressSize === 16) return rm === 6 && mod === 0 ? -1 : BASE16[rm]!;
  const rexB = insn.prefixes.rex & 1 ? 8 : 0;
  if (rm === 4) {
    const sib = insn.sib!;
    const index = ((sib >> 3) & 7) | (insn.prefixes.rex & 2 ? 8 : 0);
    if (index !== 4) return -1; // an index register (4 without REX.X means none: %eiz/%riz)
    if ((sib & 7) === 5 && mod === 0) return -1; // disp32 without a base
    return (sib & 7) | rexB;
  }
  if (rm === 5 && mod === 0) return -1; // disp32, or %rip-relative in 64-bit mode
  return rm | rexB;
}

/** 0F 18..1F that the decoder names nop/nopw/nopl/nopq (not prefetch, endbr, MPX or CET forms). */
function isHintNop(insn: DecodedInstruction): boolean {
  return insn.opcodeMap === '0f' && insn.opcode >= 0x18 && insn.opcode <= 0x1f && /^nop[wlq]?$/.test(baseMnemonic(insn));
}

/** A write of a 32-bit register in 64-bit mode clears the upper half: never a NOP there. */
function keepsUpperHalf(insn: DecodedInstruction, mode: CpuMode): boolean {
  return !(mode === 64 && insn.operandSize === 32);
}

/**
 * Whether the instruction changes no architectural state, so that it can pad a site:
 * - nop (90, with any prefix but rep: f3 90 is pause, a spin-wait hint), xchg %ax,%ax (66 90), and
 *   the hint NOPs of 0F 18..1F the decoder names nop/nopw/nopl/nopq (0F 1F /0 is the recommended one);
 * - xchg and mov of a register with itself, and `lea 0x0(%r),%r` (no index, no segment override),
 *   the forms GNU as pads with on i386 and in 16-bit code, with one condition: in 64-bit mode a
 *   32-bit destination would clear the upper half, and lea must not widen its address.
 * Never with a lock prefix.
 */
export function isNop(insn: DecodedInstruction, mode: CpuMode): boolean {
  if (!insn.valid || insn.prefixes.lock) return false;
  const op = insn.opcode;
  if (insn.opcodeMap === '0f') return isHintNop(insn);
  if (insn.opcodeMap !== 'primary') return false;
  switch (op) {
    case 0x90: // xchg %eAX with the register in the opcode: %eAX itself unless REX.B
      return (insn.prefixes.rex & 1) === 0 && insn.prefixes.rep !== 'rep';
    case 0x86: case 0x87: case 0x88: case 0x89: case 0x8a: case 0x8b: // xchg, mov
      return insn.modrm! >> 6 === 3 && regField(insn) === rmRegister(insn) && (op === 0x86 || op === 0x88 || op === 0x8a || keepsUpperHalf(insn, mode));
    case 0x8d: // lea
      return insn.modrm! >> 6 !== 3 && insn.prefixes.segment === null && bareBaseRegister(insn) === regField(insn)
        && insn.operandSize <= insn.addressSize && keepsUpperHalf(insn, mode);
    default:
      return false;
  }
}

/**
 * Whether the instruction reads or writes memory through a ModRM memory operand or a moffs form (mov
 * between the accumulator and an absolute address, A0..A3). Not lea, which only computes an address,
 * not the hint NOPs (`nopl 0x0(%eax)`), and not mov to/from a control or debug register (0F 20..23),
 * whose ModRM always names a register whatever its mod field says.
 */
export function accessesMemory(insn: DecodedInstruction): boolean {
  if (!insn.valid) return false;
  const map = insn.opcodeMap;
  const op = insn.opcode;
  if (insn.modrm !== null && insn.modrm >> 6 !== 3) {
    if (map === 'primary') return op !== 0x8d;
    if (map === '0f') return !(op >= 0x20 && op <= 0x23) && !isHintNop(insn);
    return true;
  }
  return map === 'primary' && op >= 0xa0 && op <= 0xa3;
}
