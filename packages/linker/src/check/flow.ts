// What the check needs to know about a decoded instruction beyond its sensitive class (which comes
// from the @previrt/isa catalogue through the decoder): does control fall through, where does a
// relative branch go, is it a NOP, does it access memory. These read only the decoder's fields.
import type { DecodedInstruction } from '@previrt/isa';

/** The mnemonic without the prefixes objdump prints in front of it ("repz ret" -> "ret"). */
export function baseMnemonic(insn: DecodedInstruction): string {
  const m = insn.mnemonic;
  const space = m.lastIndexOf(' ');
  return space < 0 ? m : m.slice(space + 1);
}

const NO_FALL_THROUGH = /^(jmp[wlq]?|ljmp[wlq]?|ret[wlq]?|lret[wlq]?|iret[wldq]?|sysexit[lq]?|sysret[lq]?|ud2a?)$/;

/** Control never reaches the next instruction (unconditional jump, return, ud2 as BUG()). */
export function endsFlow(insn: DecodedInstruction): boolean {
  return !insn.valid || NO_FALL_THROUGH.test(baseMnemonic(insn));
}

/** The target of a relative jump, conditional jump, loop or call; null for other instructions. */
export function branchTarget(insn: DecodedInstruction): number | null {
  if (insn.target === null || !insn.valid) return null;
  const m = baseMnemonic(insn);
  return m.startsWith('j') || m.startsWith('call') || m.startsWith('loop') ? insn.target : null;
}

const SAME_REGISTER_LEA = /^0x0\(%([a-z0-9]+)(?:,%[er]iz,1)?\),%([a-z0-9]+)$/;
const SAME_REGISTER_MOV = /^%([a-z0-9]+),%([a-z0-9]+)$/;

/**
 * Whether the instruction changes no architectural state: nop/nopw/nopl (0f 1f /0 with any prefixes),
 * xchg %ax,%ax (66 90), and the forms GNU as uses as NOP padding on i386, `lea 0x0(%r),%r` and
 * `mov %r,%r` with a register of the address width (in 64-bit mode a 32-bit one would clear the
 * upper half, so only 64-bit registers count there).
 */
export function isNop(insn: DecodedInstruction, mode: 16 | 32 | 64): boolean {
  if (!insn.valid || insn.prefixes.lock) return false;
  const m = baseMnemonic(insn);
  if (m === 'nop' || m === 'nopw' || m === 'nopl' || m === 'nopq') return true;
  if (m === 'xchg') return insn.operandText === '%ax,%ax' || (mode === 32 && insn.operandText === '%eax,%eax');
  const wide = (r: string) => (mode === 64 ? /^r[a-z0-9]+$/.test(r) && !/[dwb]$/.test(r.slice(2))
    : mode === 32 ? /^e[a-z]{2}$/.test(r) : /^([a-d]x|[sd]i|[sb]p)$/.test(r));
  if (m === 'lea') {
    const x = SAME_REGISTER_LEA.exec(insn.operandText);
    return x !== null && x[1] === x[2] && wide(x[1]!) && !insn.prefixes.segment;
  }
  if (m === 'mov') {
    const x = SAME_REGISTER_MOV.exec(insn.operandText);
    return x !== null && x[1] === x[2] && wide(x[1]!);
  }
  return false;
}

/** Whether the instruction reads or writes memory through a ModRM memory operand or a moffs form. */
export function accessesMemory(insn: DecodedInstruction): boolean {
  if (!insn.valid) return false;
  if (insn.modrm !== null && insn.modrm >> 6 !== 3) return true;
  // mov between the accumulator and an absolute address (a0..a3).
  return insn.opcodeMap === 'primary' && insn.opcode >= 0xa0 && insn.opcode <= 0xa3;
}
