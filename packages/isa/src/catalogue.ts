// The sensitive-instruction catalogue: the only place in previrt that lists which x86 instructions
// and which annotated memory operations are virtualization-sensitive. Every other package (the
// afterburner, the scanner, the linker check, the VMM) asks this module; none keeps its own list.
//
// Class ids are stable: they are written into `.afterburn` records (the `kind` field) and must never
// be renumbered. Add new classes at the end of their range.

/** How an instruction behaves when the guest kernel is deprived of ring 0. */
export type PrivilegeBehaviour =
  /** Raises #GP/#UD below ring 0 (or with IOPL too low): trap-and-emulate can catch it. */
  | 'faults-in-user'
  /** Executes below ring 0 without a fault but with a different effect: only a site can fix it. */
  | 'silently-differs'
  /** Always transfers control (a trap or a system-call gate), at every privilege level. */
  | 'always-traps';

export type SensitiveGroup =
  | 'interrupt-flag'
  | 'descriptor-table'
  | 'segment'
  | 'far-transfer'
  | 'control-state'
  | 'model-specific'
  | 'cache-tlb'
  | 'io'
  | 'trap'
  | 'memory-operation'
  | 'annotated-instruction';

/**
 * How a class is recognised in AT&T assembly text and in objdump output. `mnemonics` are the exact
 * spellings (with every size suffix GNU as accepts); `operand` narrows a mnemonic that is only
 * sensitive with a particular operand (a segment, control or debug register).
 */
export interface AttMatch {
  mnemonics: readonly string[];
  operand?: 'segment-destination' | 'segment-source' | 'control-destination' | 'control-source'
    | 'debug-destination' | 'debug-source';
}

export interface SensitiveClass {
  /** Stable numeric id, the `kind` field of a record. Instruction classes: 1..0xff. */
  readonly id: number;
  /** Short stable name, used in diagnostics, JSON and SARIF rule ids. */
  readonly name: string;
  readonly group: SensitiveGroup;
  readonly privilege: PrivilegeBehaviour;
  /**
   * Whether a correct run under a hypervisor needs a site. False for traps that every hypervisor
   * reflects to the guest's own handler (int3, ud2, into, int n) and for system-call entries executed
   * by user code: recording them is an optimisation only.
   */
  readonly needsSite: boolean;
  /**
   * Code may depend on the bytes right after the instruction, so it must never be padded (and gets
   * no site): int3 stands in for a longer instruction that the trap handler emulates (Linux's
   * int3_emulate_call in text_poke_bp and its boot self-test returns to int3 + 5). Only for classes
   * that are correct without a site (needsSite false).
   */
  readonly keepLayout?: boolean;
  /** Minimum site length in bytes (instruction plus padding): room for the longest in-place patch. */
  readonly siteSize: number;
  readonly att: AttMatch;
  readonly description: string;
}

/** Kinds of annotated memory operations: ids 0x100 and up, separate from instruction classes. */
export interface MemoryOperationKind {
  readonly id: number;
  readonly name: string;
  readonly group: 'memory-operation';
  /** Name of the annotation macro in `previrt/annotate.h` that marks this operation. */
  readonly macro: string;
  /** Minimum site length in bytes: the access itself plus room for a call into the in-place VMM. */
  readonly siteSize: number;
  readonly description: string;
}

// Site sizes: the longest patch of the kind in the @previrt/isa patch table (patches.ts, where the
// sequences are spelled out; a test checks every size against it). A patch that needs the monitor is
// `call rel32` (5 bytes) to a stub of the in-place VMM, which finds the original instruction from the
// return address; 8 leaves room for a short inline fast path beside it. The interrupt-flag classes
// are plain x86 on the state block's virtual IF byte: cli `movb $0, vif` (7 bytes), sti
// `call *sti_hook` (7, the SIB form), pushf `pushfl; call *flags_hook` (7), popf and iret
// `call *hook; popfl|iretl` (7): where a back end keeps the instruction, GNU as pads 6 bytes with one NOP.
const CALL_SITE = 8;

function insn(
  id: number, name: string, group: SensitiveGroup, privilege: PrivilegeBehaviour, att: AttMatch,
  description: string, opts: { needsSite?: boolean; siteSize?: number; keepLayout?: boolean } = {},
): SensitiveClass {
  return {
    id, name, group, privilege, att, description,
    ...(opts.keepLayout ? { keepLayout: true } : {}),
    needsSite: opts.needsSite ?? true,
    siteSize: opts.siteSize ?? CALL_SITE,
  };
}

/** Every size-suffixed AT&T spelling of a mnemonic, e.g. suffixed('push', 'wlq'). */
function suffixed(base: string, suffixes: string): string[] {
  return [base, ...[...suffixes].map((s) => base + s)];
}

export const SENSITIVE_CLASSES: readonly SensitiveClass[] = [
  // Interrupt flag and flags.
  insn(1, 'cli', 'interrupt-flag', 'faults-in-user', { mnemonics: ['cli'] },
    'clear the interrupt flag', { siteSize: 7 }),
  insn(2, 'sti', 'interrupt-flag', 'faults-in-user', { mnemonics: ['sti'] },
    'set the interrupt flag (and deliver a pending interrupt)', { siteSize: 7 }),
  insn(3, 'pushf', 'interrupt-flag', 'silently-differs', { mnemonics: suffixed('pushf', 'wlq') },
    'push EFLAGS: reveals the real IF and IOPL', { siteSize: 7 }),
  insn(4, 'popf', 'interrupt-flag', 'silently-differs', { mnemonics: suffixed('popf', 'wlq') },
    'pop EFLAGS: silently ignores IF and IOPL below ring 0', { siteSize: 7 }),
  // Descriptor tables.
  insn(5, 'lgdt', 'descriptor-table', 'faults-in-user', { mnemonics: suffixed('lgdt', 'wlq') }, 'load the GDT register'),
  insn(6, 'sgdt', 'descriptor-table', 'silently-differs', { mnemonics: suffixed('sgdt', 'wlq') }, 'store the GDT register'),
  insn(7, 'lidt', 'descriptor-table', 'faults-in-user', { mnemonics: suffixed('lidt', 'wlq') }, 'load the IDT register'),
  insn(8, 'sidt', 'descriptor-table', 'silently-differs', { mnemonics: suffixed('sidt', 'wlq') }, 'store the IDT register'),
  insn(9, 'lldt', 'descriptor-table', 'faults-in-user', { mnemonics: suffixed('lldt', 'w') }, 'load the LDT register'),
  insn(10, 'sldt', 'descriptor-table', 'silently-differs', { mnemonics: suffixed('sldt', 'wlq') }, 'store the LDT register'),
  insn(11, 'ltr', 'descriptor-table', 'faults-in-user', { mnemonics: suffixed('ltr', 'w') }, 'load the task register'),
  insn(12, 'str', 'descriptor-table', 'silently-differs', { mnemonics: suffixed('str', 'wlq') }, 'store the task register'),
  // Segment checks that read descriptors.
  insn(13, 'lar', 'segment', 'silently-differs', { mnemonics: suffixed('lar', 'wlq') }, 'load access rights of a descriptor'),
  insn(14, 'lsl', 'segment', 'silently-differs', { mnemonics: suffixed('lsl', 'wlq') }, 'load segment limit of a descriptor'),
  insn(15, 'verr', 'segment', 'silently-differs', { mnemonics: suffixed('verr', 'w') }, 'verify a segment for reading'),
  insn(16, 'verw', 'segment', 'silently-differs', { mnemonics: suffixed('verw', 'w') }, 'verify a segment for writing'),
  insn(17, 'arpl', 'segment', 'silently-differs', { mnemonics: suffixed('arpl', 'w') }, 'adjust the RPL of a selector'),
  // Far transfers.
  insn(18, 'ljmp', 'far-transfer', 'silently-differs', { mnemonics: suffixed('ljmp', 'wlq') }, 'far jump through a segment selector'),
  insn(19, 'lcall', 'far-transfer', 'silently-differs', { mnemonics: suffixed('lcall', 'wlq') }, 'far call through a segment selector'),
  insn(20, 'lret', 'far-transfer', 'silently-differs', { mnemonics: suffixed('lret', 'wlq') }, 'far return (pops CS)'),
  insn(21, 'iret', 'far-transfer', 'silently-differs', { mnemonics: ['iret', 'iretw', 'iretl', 'iretd', 'iretq'] },
    'interrupt return: restores CS, EFLAGS (IF, IOPL) and possibly SS:ESP', { siteSize: 7 }),
  // Segment register loads and stores.
  insn(22, 'load-far-pointer', 'segment', 'silently-differs',
    { mnemonics: [...suffixed('lds', 'wl'), ...suffixed('les', 'wl'), ...suffixed('lfs', 'wlq'), ...suffixed('lgs', 'wlq'), ...suffixed('lss', 'wlq')] },
    'load a far pointer into a segment register and a general register'),
  insn(23, 'mov-to-segment', 'segment', 'silently-differs',
    { mnemonics: suffixed('mov', 'wlq'), operand: 'segment-destination' }, 'load a segment register'),
  insn(24, 'mov-from-segment', 'segment', 'silently-differs',
    { mnemonics: suffixed('mov', 'wlq'), operand: 'segment-source' }, 'store a segment register (reveals the RPL)'),
  insn(25, 'push-segment', 'segment', 'silently-differs',
    { mnemonics: suffixed('push', 'wlq'), operand: 'segment-source' }, 'push a segment register (reveals the RPL)'),
  insn(26, 'pop-segment', 'segment', 'silently-differs',
    { mnemonics: suffixed('pop', 'wlq'), operand: 'segment-destination' }, 'pop into a segment register'),
  // Control and debug registers, machine status word.
  insn(27, 'mov-to-cr', 'control-state', 'faults-in-user',
    { mnemonics: suffixed('mov', 'lq'), operand: 'control-destination' }, 'write a control register'),
  insn(28, 'mov-from-cr', 'control-state', 'faults-in-user',
    { mnemonics: suffixed('mov', 'lq'), operand: 'control-source' }, 'read a control register'),
  insn(29, 'mov-to-dr', 'control-state', 'faults-in-user',
    { mnemonics: suffixed('mov', 'lq'), operand: 'debug-destination' }, 'write a debug register'),
  insn(30, 'mov-from-dr', 'control-state', 'faults-in-user',
    { mnemonics: suffixed('mov', 'lq'), operand: 'debug-source' }, 'read a debug register'),
  insn(31, 'clts', 'control-state', 'faults-in-user', { mnemonics: ['clts'] }, 'clear CR0.TS'),
  insn(32, 'lmsw', 'control-state', 'faults-in-user', { mnemonics: suffixed('lmsw', 'w') }, 'load the machine status word'),
  insn(33, 'smsw', 'control-state', 'silently-differs', { mnemonics: suffixed('smsw', 'wlq') }, 'store the machine status word (reveals CR0)'),
  // Model-specific state and identification.
  insn(34, 'rdmsr', 'model-specific', 'faults-in-user', { mnemonics: ['rdmsr'] }, 'read a model-specific register'),
  insn(35, 'wrmsr', 'model-specific', 'faults-in-user', { mnemonics: ['wrmsr'] }, 'write a model-specific register'),
  insn(36, 'rdtsc', 'model-specific', 'silently-differs', { mnemonics: ['rdtsc'] }, 'read the time-stamp counter (virtual time differs)'),
  insn(37, 'rdtscp', 'model-specific', 'silently-differs', { mnemonics: ['rdtscp'] }, 'read the time-stamp counter and TSC_AUX'),
  insn(38, 'rdpmc', 'model-specific', 'faults-in-user', { mnemonics: ['rdpmc'] }, 'read a performance-monitoring counter'),
  insn(39, 'cpuid', 'model-specific', 'silently-differs', { mnemonics: ['cpuid'] }, 'identify the processor (reveals the host)'),
  // Caches and TLB.
  insn(40, 'invd', 'cache-tlb', 'faults-in-user', { mnemonics: ['invd'] }, 'invalidate caches without write-back'),
  insn(41, 'wbinvd', 'cache-tlb', 'faults-in-user', { mnemonics: ['wbinvd'] }, 'write back and invalidate caches'),
  insn(42, 'invlpg', 'cache-tlb', 'faults-in-user', { mnemonics: ['invlpg'] }, 'invalidate one TLB entry'),
  insn(43, 'hlt', 'control-state', 'faults-in-user', { mnemonics: ['hlt'] }, 'halt until the next interrupt'),
  // Port I/O.
  insn(44, 'in', 'io', 'faults-in-user', { mnemonics: suffixed('in', 'bwl') }, 'read an I/O port'),
  insn(45, 'out', 'io', 'faults-in-user', { mnemonics: suffixed('out', 'bwl') }, 'write an I/O port'),
  insn(46, 'ins', 'io', 'faults-in-user', { mnemonics: [...suffixed('ins', 'bwl'), 'insd'] }, 'read an I/O port into memory (string)'),
  insn(47, 'outs', 'io', 'faults-in-user', { mnemonics: [...suffixed('outs', 'bwl'), 'outsd'] }, 'write memory to an I/O port (string)'),
  // Traps and system calls.
  insn(48, 'int', 'trap', 'always-traps', { mnemonics: ['int'] }, 'software interrupt through the IDT', { needsSite: false }),
  insn(49, 'int3', 'trap', 'always-traps', { mnemonics: ['int3'] }, 'breakpoint trap', { needsSite: false, keepLayout: true }),
  insn(50, 'into', 'trap', 'always-traps', { mnemonics: ['into'] }, 'overflow trap', { needsSite: false }),
  insn(51, 'sysenter', 'trap', 'always-traps', { mnemonics: ['sysenter'] }, 'fast system call entry (user code)', { needsSite: false }),
  insn(52, 'sysexit', 'far-transfer', 'faults-in-user', { mnemonics: suffixed('sysexit', 'lq') }, 'fast system call return to ring 3'),
  insn(53, 'syscall', 'trap', 'always-traps', { mnemonics: ['syscall'] }, 'fast system call entry (user code)', { needsSite: false }),
  insn(54, 'sysret', 'far-transfer', 'faults-in-user', { mnemonics: suffixed('sysret', 'lq') }, 'fast system call return to ring 3'),
  insn(55, 'swapgs', 'segment', 'faults-in-user', { mnemonics: ['swapgs'] }, 'swap the GS base with the kernel GS base'),
  insn(56, 'ud2', 'trap', 'always-traps', { mnemonics: ['ud2', 'ud2a'] }, 'invalid-opcode trap (BUG)', { needsSite: false }),
];

export const MEMORY_OPERATION_KINDS: readonly MemoryOperationKind[] = [
  { id: 0x101, name: 'pte-set', group: 'memory-operation', macro: 'PV_PTE_SET', siteSize: CALL_SITE, description: 'store to a page-table entry' },
  { id: 0x102, name: 'pte-read', group: 'memory-operation', macro: 'PV_PTE_READ', siteSize: CALL_SITE, description: 'load of a page-table entry (accessed/dirty bits)' },
  { id: 0x103, name: 'pte-test-and-clear', group: 'memory-operation', macro: 'PV_PTE_TEST_AND_CLEAR', siteSize: CALL_SITE, description: 'atomic test-and-clear of a page-table entry bit' },
  { id: 0x104, name: 'pde-set', group: 'memory-operation', macro: 'PV_PDE_SET', siteSize: CALL_SITE, description: 'store to a page-directory entry' },
  { id: 0x105, name: 'pde-read', group: 'memory-operation', macro: 'PV_PDE_READ', siteSize: CALL_SITE, description: 'load of a page-directory entry' },
  { id: 0x106, name: 'mmio-read', group: 'memory-operation', macro: 'PV_MMIO_READ', siteSize: CALL_SITE, description: 'read of a memory-mapped device register' },
  { id: 0x107, name: 'mmio-write', group: 'memory-operation', macro: 'PV_MMIO_WRITE', siteSize: CALL_SITE, description: 'write of a memory-mapped device register' },
];

/**
 * Kinds of annotated sensitive instructions: an instruction of a catalogue class whose source
 * declares a narrower meaning than the class has, which lets a back end patch it more cheaply. The
 * site holds the class's instruction; ids 0x180 and up. The annotation macro puts the kind marker
 * `.set .Lprevirt_kind, <id>` before the instruction, and the afterburner records it as that kind.
 */
export interface AnnotatedInstructionKind {
  readonly id: number;
  readonly name: string;
  readonly group: 'annotated-instruction';
  /** The catalogue class of the instruction at the site. */
  readonly instructionClass: string;
  /** Name of the annotation macro in `previrt/annotate.h`. */
  readonly macro: string;
  /** Minimum site length in bytes: the instruction plus room for the kind's longest patch. */
  readonly siteSize: number;
  readonly description: string;
}

export const ANNOTATED_INSTRUCTION_KINDS: readonly AnnotatedInstructionKind[] = [
  // A popf whose image differs from the current flags in IF alone, or whose other flags nobody reads
  // afterwards (an asm with a "cc" clobber): Linux's native_restore_fl before 5.12, the test kernel's
  // local_irq_restore. Below ring 0 it needs no real popfl: `call *irq_restore_hook` (7 bytes, the SIB
  // form; where the site is kept, GNU as pads its 6 bytes with one NOP).
  {
    id: 0x180, name: 'irq-restore', group: 'annotated-instruction', instructionClass: 'popf', macro: 'PV_IRQ_RESTORE', siteSize: 7,
    description: 'popf that restores only the interrupt flag (the other flags are clobbered, as by an asm "cc" clobber)',
  },
];

const classById = new Map<number, SensitiveClass>(SENSITIVE_CLASSES.map((c) => [c.id, c]));
const classByName = new Map<string, SensitiveClass>(SENSITIVE_CLASSES.map((c) => [c.name, c]));
const memoryKindById = new Map<number, MemoryOperationKind>(MEMORY_OPERATION_KINDS.map((k) => [k.id, k]));
const memoryKindByName = new Map<string, MemoryOperationKind>(MEMORY_OPERATION_KINDS.map((k) => [k.name, k]));

export function sensitiveClassById(id: number): SensitiveClass | undefined {
  return classById.get(id);
}

export function sensitiveClassByName(name: string): SensitiveClass | undefined {
  return classByName.get(name);
}

export function memoryOperationKindById(id: number): MemoryOperationKind | undefined {
  return memoryKindById.get(id);
}

export function memoryOperationKindByName(name: string): MemoryOperationKind | undefined {
  return memoryKindByName.get(name);
}

const annotatedKindById = new Map<number, AnnotatedInstructionKind>(ANNOTATED_INSTRUCTION_KINDS.map((k) => [k.id, k]));

export function annotatedInstructionKindById(id: number): AnnotatedInstructionKind | undefined {
  return annotatedKindById.get(id);
}

export function annotatedInstructionKindByName(name: string): AnnotatedInstructionKind | undefined {
  return ANNOTATED_INSTRUCTION_KINDS.find((k) => k.name === name);
}

/** The instruction class a record of this kind sits on: the class itself, or an annotated kind's class. */
export function recordInstructionClass(id: number): SensitiveClass | undefined {
  const annotated = annotatedKindById.get(id);
  return annotated ? classByName.get(annotated.instructionClass) : classById.get(id);
}

/** The minimum site size of any record kind, or undefined for an unknown kind. */
export function kindSiteSize(id: number): number | undefined {
  return (classById.get(id) ?? memoryKindById.get(id) ?? annotatedKindById.get(id))?.siteSize;
}

/** The name of any record kind (instruction class, memory operation, annotated instruction), or `kind-<id>`. */
export function kindName(id: number): string {
  return classById.get(id)?.name ?? memoryKindById.get(id)?.name ?? annotatedKindById.get(id)?.name ?? `kind-${id}`;
}

/** Every record kind's id: instruction classes, memory operations, annotated instructions. */
export function allKindIds(): number[] {
  return [...SENSITIVE_CLASSES.map((c) => c.id), ...MEMORY_OPERATION_KINDS.map((k) => k.id), ...ANNOTATED_INSTRUCTION_KINDS.map((k) => k.id)];
}

/**
 * The length the afterburner (and previrt/annotate.h) gives the site of an instruction of `insnLen`
 * bytes whose kind needs `size`: the larger of the two, but in 32-bit code a pad of 5 bytes becomes 6
 * (GNU as pads 5 bytes with two 32-bit NOPs and 6 with one; where a back end keeps the instruction,
 * the pad runs).
 */
export function siteLength(size: number, insnLen: number, mode: 16 | 32 | 64): number {
  const pad = Math.max(0, size - insnLen);
  return insnLen + (mode === 32 && pad === 5 ? 6 : pad);
}

/**
 * The GNU as directive that pads by `pad` (an assembler expression, at least 0) as siteLength says:
 * in 32-bit code a pad of 5 becomes 6 (GNU as comparisons give -1 for true).
 */
export function nopsDirective(pad: string, mode: 32 | 64): string {
  return mode === 32 ? `.nops (${pad}-(${pad}==5))` : `.nops ${pad}`;
}
