// Architectural constants shared by the CPU and the instruction compiler.

export const SEG_ES = 0, SEG_CS = 1, SEG_SS = 2, SEG_DS = 3, SEG_FS = 4, SEG_GS = 5;
export const SEG_NAMES = ['es', 'cs', 'ss', 'ds', 'fs', 'gs'];
export const REG_NAMES = ['eax', 'ecx', 'edx', 'ebx', 'esp', 'ebp', 'esi', 'edi'];

// Exception vectors.
export const DE = 0, DB = 1, NMI = 2, BP = 3, OFV = 4, BR = 5, UD = 6, NM = 7, DF_V = 8, TS = 10, NP = 11, SS_V = 12, GP = 13, PF_V = 14, MF = 16, AC_V = 17;

/** Thrown (as a preallocated object) to abort the current instruction with an exception. */
export class CpuException {
  vector = 0;
  code = 0;
  hasCode = false;
}
export const FAULT = new CpuException();

/** Thrown to stop the machine (triple fault, unimplemented instruction, shutdown). */
export class MachineStop {
  constructor(readonly reason: string, readonly kind: 'triple-fault' | 'unimplemented' | 'unsupported' | 'reset' | 'exit' | 'halt-forever', readonly exitCode = 3) {}
}


export function hex(v: number, width = 8): string {
  return (v >>> 0).toString(16).padStart(width, '0');
}
