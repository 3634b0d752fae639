// The patch table: what the in-place VMM writes over each padded site, per record kind and back end.
// It is the one table read by both sides: the catalogue's `siteSize` must hold the longest patch of
// its kind (checked in the tests), and the VMM loader (packages/vmm) encodes patches from it.
//
// Three forms:
// - keep: the site keeps its instruction (the pad runs as NOPs): the instruction behaves correctly on
//   that back end, or traps/exits to a hypervisor that emulates it at no more cost than a patch would.
// - inline: plain x86 over the site that needs no monitor entry in the common case. The interrupt
//   flag lives in the per-vCPU state block as the byte `vif` (0 = masked, 1 = enabled), which the
//   guest's own code reads and writes, directly or through stubs of the window's stub page:
//     cli   movb $0, vif                                                           (7 bytes)
//     sti   call *sti_hook                                                         (7)
//     pushf pushfl; call *flags_hook                                               (7)
//     popf  call *popf_hook; popfl                                                 (7)
//     iret  call *return_hook; iretl                                               (7)
//     irq-restore (an annotated popf that restores only IF)  call *irq_restore_hook   (7)
//   (the calls of sti and irq-restore in the 7-byte SIB form, FF 14 25 abs32, which fills the site:
//   the 6-byte form would leave a NOP that runs after every call)
//   The hooks are words of the state block that the hypervisor keeps pointing at plain x86 in the
//   stub page, or at a monitor entry when there is work. `sti_hook`: `movb $1, vif; ret`, or the
//   monitor while the interrupt line is asserted (it sets vif and delivers after the instruction that
//   follows the site, as sti's shadow). `popf_hook` and `return_hook`: the image's IF into vif and a
//   check of its IOPL (`testb $2, N(%esp); setnz vif; testb $0x30, N(%esp); jnz <monitor>; ret`: the
//   arithmetic flags change there, popfl/iretl overwrite all of them next), or the monitor while the
//   interrupt line is asserted or the virtual IOPL is not 0 (below ring 0 popf and iret cannot change
//   IOPL: the monitor does); `return_hook` also goes to the monitor while page-table updates are
//   queued and the frame returns to user mode (they must reach the hypervisor first). A pending
//   interrupt is taken at the hook (before the popfl/iretl, with the image still on the stack and the
//   arithmetic flags not yet restored, which the handler's own frame saves and restores).
//   `irq_restore_hook`: `testb $2, 5(%esp); setnz vif; ret $4` (no popfl: the annotation says no
//   other flag is restored), or the monitor while the interrupt line is asserted. `flags_hook` is the
//   word whose low byte is `vif`: its upper bytes (kept by the hypervisor) point it at a pair of
//   adjacent stubs, `ret` for vif = 1 (below ring 0 the processor pushes IF = 1, which is then right)
//   and one that clears IF in the pushed image with lea arithmetic for vif = 0; while the virtual IOPL
//   is not 0 (the processor pushes 0 below ring 0) at a pair that enters the monitor. Nothing here
//   changes an arithmetic flag the original would have kept. The sequences are short so that a site
//   is short: where a back end keeps the instruction, the site's pad runs as NOPs.
//   16-bit popfw/iretw (66 prefix) and sites too short for a sequence use the monitor call.
// - call: `call rel32` (E8, 5 bytes) to the kind's stub in the monitor window; the monitor finds the
//   site from the return address, emulates the instruction for the guest's virtual CPL 0 and resumes
//   after the site (so the rest of the site is never executed; the loader fills it with NOPs). One
//   stub is plain x86 instead of a monitor entry: xen's sysexit, an iret frame built for the user.
//
// A site is rewritten only where the rewrite costs less than what the instruction costs there. On
// hvm that depends on the paging mode: with nested paging (EPT/NPT, the default) CR3 accesses,
// invlpg and page-table writes never exit, so they are kept; with shadow paging CR3 reads and
// annotated page-table writes go through the monitor (a cheaper exit than a write-protection fault).
// Instructions that exit whatever the monitor does (CR0/CR4 writes, MSR and DR writes, wbinvd, invlpg
// under shadow paging) are kept too: a call would only add its own cost to the same exit.
//
// Some segment classes only differ below ring 0 for particular registers: %cs and %ss carry the
// current privilege level in their RPL, and a deprivileged kernel cannot load a ring-0 %ss. Those
// rules are operand predicates on the decoded instruction.
import { allKindIds, kindName as catalogueKindName, type SensitiveClass } from './catalogue.js';
import { encodeCallMem, encodeModrmMemory, encodeMovMemImm, encodeNops } from './encode.js';
import { decode, type DecodedInstruction } from './decoder.js';

export const BACKEND_NAMES = ['native', 'hvm', 'xen', 'l4'] as const;
export type BackendName = (typeof BACKEND_NAMES)[number];
/** hvm: nested paging (EPT/NPT, the default) or shadow paging. */
export type Paging = 'nested' | 'shadow';

export type PatchForm = 'keep' | 'inline' | 'call';

/** The inline sequences (see the top of the file). */
export type InlinePatch = 'vif-clear' | 'vif-set' | 'pushf' | 'popf' | 'iret' | 'irq-restore';

export interface PatchSpec {
  readonly form: PatchForm;
  /** Bytes written at the start of the site (0 for keep), for a one-byte original instruction. */
  readonly length: number;
  /** What the patch is, in assembler terms (for documentation and `previrt inspect`-style listings). */
  readonly template: string;
  /** inline: which sequence. */
  readonly inline?: InlinePatch;
  /** The sequence ends with (or starts with) the original instruction: longer originals lengthen it. */
  readonly embedsInstruction?: boolean;
  /** call: the stub is plain x86 of this name rather than the kind's monitor entry. */
  readonly plainStub?: 'sysexit';
}

export const KEEP: PatchSpec = { form: 'keep', length: 0, template: '(the original instruction)' };
export const CALL_STUB: PatchSpec = { form: 'call', length: 5, template: 'call <stub of the kind in the monitor window>' };
export const VIF_CLEAR: PatchSpec = { form: 'inline', inline: 'vif-clear', length: 7, template: 'movb $0, <vif>' };
export const VIF_SET: PatchSpec = { form: 'inline', inline: 'vif-set', length: 7, template: 'call *<sti_hook>(,1)' };
export const PUSHF_INLINE: PatchSpec = {
  form: 'inline', inline: 'pushf', length: 7, embedsInstruction: true, template: 'pushfl; call *<flags_hook>',
};
export const POPF_INLINE: PatchSpec = {
  form: 'inline', inline: 'popf', length: 7, embedsInstruction: true, template: 'call *<popf_hook>; popfl',
};
export const IRET_INLINE: PatchSpec = {
  form: 'inline', inline: 'iret', length: 7, embedsInstruction: true, template: 'call *<return_hook>; iretl',
};
export const IRQ_RESTORE_INLINE: PatchSpec = {
  form: 'inline', inline: 'irq-restore', length: 7, template: 'call *<irq_restore_hook>(,1)',
};
export const SYSEXIT_IRET: PatchSpec = {
  form: 'call', length: 5, plainStub: 'sysexit',
  template: 'call <stub: pushl user %ss; pushl %ecx; pushfl; pushl user %cs; pushl %edx; call *<exit_hook>; iretl>',
};

/** The bytes a patch writes for an original instruction of `insnLen` bytes (before the NOP fill). */
export function patchLength(spec: PatchSpec, insnLen = 1): number {
  return spec.length + (spec.embedsInstruction ? insnLen - 1 : 0);
}

/** The fields of a decoded instruction that name its opcode and ModRM byte. */
export type OpcodeFields = Pick<DecodedInstruction, 'opcodeMap' | 'opcode' | 'modrm'>;

/** The segment registers in the order of their encoding (the ModRM reg field of mov to/from a segment). */
const SEGMENT_REGISTERS = ['es', 'cs', 'ss', 'ds', 'fs', 'gs'] as const;

/** The segment register an instruction reads or writes, or null (from the decoder's raw fields). */
export function segmentOperand(insn: OpcodeFields): (typeof SEGMENT_REGISTERS)[number] | null {
  const names = SEGMENT_REGISTERS;
  if (insn.opcodeMap === 'primary') {
    switch (insn.opcode) {
      case 0x06: case 0x07: return 'es';
      case 0x0e: return 'cs';
      case 0x16: case 0x17: return 'ss';
      case 0x1e: case 0x1f: return 'ds';
      case 0x8c: case 0x8e: return insn.modrm === null ? null : names[(insn.modrm >> 3) & 7] ?? null;
      case 0xc4: return 'es';
      case 0xc5: return 'ds';
      default: return null;
    }
  }
  if (insn.opcodeMap === '0f') {
    switch (insn.opcode) {
      case 0xa0: case 0xa1: return 'fs';
      case 0xa8: case 0xa9: return 'gs';
      case 0xb2: return 'ss';
      case 0xb4: return 'fs';
      case 0xb5: return 'gs';
      default: return null;
    }
  }
  return null;
}

/** The control or debug register of a mov to/from CR/DR (the ModRM reg field), or -1. */
export function controlRegisterOperand(insn: OpcodeFields): number {
  return insn.opcodeMap === '0f' && insn.opcode >= 0x20 && insn.opcode <= 0x23 && insn.modrm !== null ? (insn.modrm >> 3) & 7 : -1;
}

/** What the choice of a patch may depend on besides the kind and the back end. */
export interface PatchContext {
  /** hvm: the paging mode (default nested). */
  readonly paging?: Paging;
  /** The site's length: an inline sequence that does not fit falls back to the call. */
  readonly siteLen?: number;
}

/** A fixed patch, or one chosen per instruction and context (with every patch it can choose). */
type Rule = PatchSpec | {
  readonly choose: (insn: DecodedInstruction | undefined, ctx: PatchContext) => PatchSpec;
  readonly candidates: readonly PatchSpec[];
};

interface Entry {
  readonly native: Rule;
  readonly hvm: Rule;
  readonly xen: Rule;
  readonly l4: Rule;
  /** Why, for the documentation. */
  readonly why: string;
}

const K = KEEP, C = CALL_STUB;

/** The call when the decoded instruction satisfies `when` (or is unknown: the widest choice), else keep. */
function callWhen(when: (insn: DecodedInstruction) => boolean): Rule {
  return { choose: (insn) => (insn === undefined || when(insn) ? C : K), candidates: [C, K] };
}
/** hvm: one patch with nested paging, another with shadow paging. */
function byPaging(nested: Rule, shadow: Rule): Rule {
  return {
    choose: (insn, ctx) => resolve(ctx.paging === 'shadow' ? shadow : nested, insn, ctx),
    candidates: [...candidatesOf(nested), ...candidatesOf(shadow)],
  };
}
/** An inline sequence where the site holds it (and the instruction is 32-bit), else the monitor call. */
function inlineOr(spec: PatchSpec): Rule {
  return {
    choose: (insn, ctx) => {
      if (insn !== undefined && spec.embedsInstruction && insn.length !== 1) return C; // popfw/iretw/pushfw
      return ctx.siteLen === undefined || patchLength(spec, insn?.length ?? 1) <= ctx.siteLen ? spec : C;
    },
    candidates: [spec, C],
  };
}

function resolve(rule: Rule, insn: DecodedInstruction | undefined, ctx: PatchContext): PatchSpec {
  return 'choose' in rule ? rule.choose(insn, ctx) : rule;
}
function candidatesOf(rule: Rule): readonly PatchSpec[] {
  return 'choose' in rule ? rule.candidates : [rule];
}

/** Patched below ring 0 only when the operand is %cs or %ss (the registers whose RPL is the CPL). */
const CS_OR_SS = callWhen((insn) => { const s = segmentOperand(insn); return s === 'cs' || s === 'ss'; });
/** Patched below ring 0 only when the destination is %ss (a ring-0 stack selector cannot be loaded there). */
const SS_ONLY = callWhen((insn) => segmentOperand(insn) === 'ss');

const deprivOnly = (why: string, below0: Rule = C): Entry => ({ native: K, hvm: K, xen: below0, l4: below0, why });
/** Exits on hvm, but the in-place VMM answers it without one (device models, caches, shadows). */
const savesExits = (why: string): Entry => ({ native: K, hvm: C, xen: C, l4: C, why });
/** Exits on hvm whatever the in-place VMM does: a call would add its cost to the same exit. */
const exitsAnyway = (why: string): Entry => ({ native: K, hvm: K, xen: C, l4: C, why });
const always = (why: string): Entry => ({ native: K, hvm: K, xen: K, l4: K, why });
/** Interrupt-flag classes: inline below ring 0 (never exit under hvm). */
const flagOp = (spec: PatchSpec, why: string): Entry => ({ native: K, hvm: K, xen: inlineOr(spec), l4: inlineOr(spec), why });

/** Per record kind (catalogue name): the patch on each back end. */
const TABLE: Record<string, Entry> = {
  cli: flagOp(VIF_CLEAR, 'the virtual interrupt flag lives in the state block (hvm: cli never exits)'),
  sti: flagOp(VIF_SET, 'sets the virtual IF; the monitor delivers a waiting interrupt'),
  pushf: flagOp(PUSHF_INLINE, 'shows the virtual IF (deprivileged pushf shows IF=1)'),
  popf: flagOp(POPF_INLINE, 'restores the virtual IF (deprivileged popf drops IF)'),
  'irq-restore': flagOp(IRQ_RESTORE_INLINE, 'an annotated popf that restores only IF: the virtual IF from the image, no real popfl'),
  iret: {
    native: K, hvm: K, xen: inlineOr(IRET_INLINE), l4: C,
    why: 'restores the virtual IF from the frame (l4: a return to user mode is an IPC to the user thread)',
  },
  lgdt: deprivOnly('the hypervisor owns the real GDT (xen: set_gdt, l4: monitor)'),
  sgdt: deprivOnly('deprivileged sgdt reveals the hypervisor GDT'),
  lidt: deprivOnly('the hypervisor owns the real IDT (xen: set_trap_table)'),
  sidt: deprivOnly('deprivileged sidt reveals the hypervisor IDT'),
  lldt: deprivOnly('the hypervisor owns the real LDTR'),
  sldt: deprivOnly('deprivileged sldt reveals the hypervisor LDTR'),
  ltr: deprivOnly('the hypervisor owns the real task register'),
  str: deprivOnly('deprivileged str reveals the hypervisor TSS selector'),
  lar: deprivOnly('descriptors carry the hypervisor-adjusted DPL'),
  lsl: deprivOnly('descriptors carry the hypervisor-adjusted limits'),
  verr: deprivOnly('checked against the real CPL'),
  verw: deprivOnly('checked against the real CPL'),
  arpl: always('not privileged: behaves the same in every ring'),
  ljmp: deprivOnly('far transfers check the real CPL'),
  lcall: deprivOnly('far transfers check the real CPL'),
  lret: deprivOnly('a far return to a ring-0 selector faults below ring 0'),
  'load-far-pointer': deprivOnly('lss of a ring-0 stack faults below ring 0', SS_ONLY),
  'mov-to-segment': deprivOnly('a ring-0 %ss cannot be loaded below ring 0', SS_ONLY),
  'mov-from-segment': deprivOnly('%cs and %ss show the real CPL in their RPL', CS_OR_SS),
  'push-segment': deprivOnly('%cs and %ss show the real CPL in their RPL', CS_OR_SS),
  'pop-segment': deprivOnly('a ring-0 %ss cannot be loaded below ring 0', SS_ONLY),
  'mov-to-cr': exitsAnyway('CR0/CR4 writes exit (hvm; CR3 only with shadow paging, exiting either way) or are privileged; shadow CR0/CR3/CR4'),
  'mov-from-cr': {
    native: K, hvm: byPaging(K, callWhen((insn) => controlRegisterOperand(insn) === 3)), xen: C, l4: C,
    why: 'read from the shadow control registers (hvm: only CR3 reads exit, and only with shadow paging)',
  },
  'mov-to-dr': exitsAnyway('debug-register writes exit (MOV-DR exiting) or are privileged'),
  'mov-from-dr': {
    native: K, hvm: callWhen((insn) => { const n = controlRegisterOperand(insn); return n !== 4 && n !== 6; }), xen: C, l4: C,
    why: 'debug-register reads exit (hvm) or are privileged; DR0-3/DR7 come from the shadow in place',
  },
  clts: exitsAnyway('CR0.TS is owned by the hypervisor'),
  lmsw: exitsAnyway('CR0 writes exit or are privileged'),
  smsw: deprivOnly('deprivileged smsw reveals the real CR0'),
  rdmsr: savesExits('MSR reads exit or are privileged; answered from the shadow MSRs'),
  wrmsr: exitsAnyway('MSR writes exit or are privileged'),
  rdtsc: always('the TSC is readable in every ring (offset by the hypervisor)'),
  rdtscp: always('the TSC is readable in every ring (offset by the hypervisor)'),
  rdpmc: deprivOnly('privileged without CR4.PCE'),
  cpuid: savesExits('cpuid exits (hvm) or reveals the host: answered from the monitor\'s cache'),
  invd: exitsAnyway('cache control exits or is privileged'),
  wbinvd: exitsAnyway('cache control exits or is privileged'),
  invlpg: exitsAnyway('TLB control: exits only with shadow paging (either way), privileged below ring 0'),
  hlt: savesExits('halts the virtual CPU: a block hypercall / exit (the in-place UART buffer is flushed first)'),
  in: savesExits('port I/O: in-place device models or one hypercall/exit'),
  out: savesExits('port I/O: in-place device models or one hypercall/exit'),
  ins: savesExits('string port I/O: in-place device models or one hypercall/exit'),
  outs: savesExits('string port I/O: buffered console output or one hypercall/exit'),
  int: always('a software interrupt: every hypervisor reflects it to the guest'),
  int3: always('a trap: every hypervisor reflects it to the guest'),
  into: always('a trap: every hypervisor reflects it to the guest'),
  sysenter: always('a system-call entry from user code'),
  sysexit: {
    native: K, hvm: K, xen: SYSEXIT_IRET, l4: C,
    why: 'sysexit needs ring 0: xen returns through an iret frame (plain x86), l4 by IPC to the user thread',
  },
  syscall: always('a system-call entry from user code'),
  sysret: deprivOnly('sysret needs ring 0: emulated as a return to user mode'),
  swapgs: deprivOnly('swapgs needs ring 0'),
  ud2: always('a trap: every hypervisor reflects it to the guest'),
  // Annotated memory operations.
  'pte-set': {
    native: K, hvm: byPaging(K, C), xen: C, l4: C,
    why: 'page-table updates go through the monitor (xen: batched mmu_update, l4: shadow tables; hvm shadow paging: one exit instead of a write-protection fault; nested paging needs nothing)',
  },
  'pte-read': { native: K, hvm: K, xen: K, l4: C, why: 'readable in place; l4: accessed/dirty bits live in the shadow tables' },
  'pte-test-and-clear': { native: K, hvm: byPaging(K, C), xen: C, l4: C, why: 'clears a bit of a protected page-table entry' },
  'pde-set': { native: K, hvm: byPaging(K, C), xen: C, l4: C, why: 'page-directory updates go through the monitor' },
  'pde-read': { native: K, hvm: K, xen: K, l4: C, why: 'readable in place; l4: accessed bits live in the shadow tables' },
  'mmio-read': savesExits('device registers: APIC-access exits (hvm) or not mapped at all; the I/O APIC register select is latched in place'),
  'mmio-write': savesExits('device registers: APIC-access exits (hvm) or not mapped at all; the I/O APIC register select is latched in place'),
};

function entryFor(kind: number): Entry | undefined {
  return TABLE[catalogueKindName(kind)];
}

/**
 * The patch for a site of `kind` on `backend`. With the decoded instruction, operand rules apply
 * (e.g. `push %ds` stays, `push %cs` is patched on xen and l4); without it, the widest choice. The
 * context gives the hvm paging mode and the site length (an inline sequence that does not fit the
 * site falls back to the monitor call).
 */
export function patchFor(kind: number, backend: BackendName, insn?: DecodedInstruction, ctx: PatchContext = {}): PatchSpec {
  const e = entryFor(kind);
  if (!e) throw new RangeError(`no patch for record kind ${kind}`);
  return resolve(e[backend], insn, ctx);
}

/**
 * Whether some back end rewrites this instruction (in some context; without the instruction, the
 * widest choice). False when every back end keeps it -- rdtsc, the traps every hypervisor reflects,
 * `push %ds` (only %cs and %ss carry the CPL) -- so it needs no site.
 */
export function rewrittenSomewhere(kind: number, insn?: DecodedInstruction): boolean {
  const e = entryFor(kind);
  if (!e) return true;
  const contexts: PatchContext[] = [{ paging: 'nested' }, { paging: 'shadow' }];
  return BACKEND_NAMES.some((b) => contexts.some((ctx) => resolve(e[b], insn, ctx).form !== 'keep'));
}

const FAR_POINTER_LOADS: Readonly<Record<string, number[]>> = {
  lds: [0xc5, 0x00], les: [0xc4, 0x00], lss: [0x0f, 0xb2, 0x00], lfs: [0x0f, 0xb4, 0x00], lgs: [0x0f, 0xb5, 0x00],
};

/**
 * The bytes of a form of a segment-register instruction with the same segment operand as an AT&T
 * statement (the patch rules look at nothing else), or null when the class has no such rule.
 */
function segmentFormOf(className: string, mnemonic: string, operands: readonly string[]): Uint8Array | null {
  const seg = (op: string | undefined): number | undefined => {
    const i = (SEGMENT_REGISTERS as readonly string[]).indexOf(/^%([a-z]s)$/.exec((op ?? '').trim().toLowerCase())?.[1] ?? '');
    return i < 0 ? undefined : i;
  };
  let bytes: number[] | undefined;
  switch (className) {
    case 'push-segment': case 'pop-segment': {
      const i = seg(operands[0]);
      const pop = className === 'pop-segment' ? 1 : 0;
      if (i !== undefined && !(pop && i === 1)) bytes = i < 4 ? [0x06 + 8 * i + pop] : [0x0f, 0xa0 + 8 * (i - 4) + pop];
      break;
    }
    case 'mov-to-segment': case 'mov-from-segment': {
      const i = seg(className === 'mov-to-segment' ? operands[operands.length - 1] : operands[0]);
      if (i !== undefined) bytes = [className === 'mov-to-segment' ? 0x8e : 0x8c, 0xc0 | (i << 3)];
      break;
    }
    case 'load-far-pointer': bytes = FAR_POINTER_LOADS[mnemonic.toLowerCase().replace(/[wlq]$/, '')]; break;
    default: return null;
  }
  return bytes ? Uint8Array.from(bytes) : null;
}

/**
 * Whether an instruction of a sensitive class needs a site: the class must be handled (not a trap
 * every hypervisor reflects) and some back end rewrites this form of it (not rdtsc, not `push %ds`).
 * Without the decoded instruction, the widest choice.
 */
export function siteNeeded(cls: SensitiveClass, insn?: DecodedInstruction): boolean {
  return cls.needsSite && rewrittenSomewhere(cls.id, insn);
}

/** siteNeeded for an AT&T statement of the class (the segment operand decides for the segment classes). */
export function attNeedsSite(cls: SensitiveClass, mnemonic: string, operands: readonly string[]): boolean {
  const form = segmentFormOf(cls.name, mnemonic, operands);
  const insn = form === null ? undefined : decode(form, 0, 32);
  return siteNeeded(cls, insn?.sensitive?.id === cls.id ? insn : undefined);
}

/** Why the kind is patched as it is (documentation). */
export function patchReason(kind: number): string {
  return entryFor(kind)?.why ?? '';
}

/** The longest patch of a kind over every back end and context (for its shortest instruction). */
export function longestPatch(kind: number): number {
  const e = entryFor(kind);
  if (!e) throw new RangeError(`no patch for record kind ${kind}`);
  return Math.max(...BACKEND_NAMES.flatMap((b) => candidatesOf(e[b]).map((s) => patchLength(s))));
}

/** The record kinds that have an entry (every kind of the catalogue should). */
export function patchTableKinds(): number[] {
  return allKindIds().filter((id) => entryFor(id) !== undefined);
}

/** Where the monitor window puts what a patch refers to. */
export interface PatchTargets {
  /** Linear address of the virtual interrupt flag byte (0 = masked, 1 = enabled); the low byte of flagsHook. */
  readonly vifByte: number;
  /** The word (its low byte is vif) pushf calls through. */
  readonly flagsHook: number;
  /** The word sti calls through: the store of vif, or the monitor while the interrupt line is asserted. */
  readonly stiHook: number;
  /** The word popf calls through: the IOPL check, or the monitor. */
  readonly popfHook: number;
  /** The word iret calls through: also leaves through the monitor while page-table updates are queued. */
  readonly returnHook: number;
  /** The word an annotated IF-only popf calls through. */
  readonly irqRestoreHook: number;
  /** Linear address of the stub for a record kind. */
  stubFor(kind: number): number;
  /** Linear address of a plain-x86 stub. */
  plainStub(name: NonNullable<PatchSpec['plainStub']>): number;
}

/** Where the parts of an inline sequence lie (offsets from the site). */
export interface PatchLayout {
  /** The original instruction inside the sequence, or -1. */
  readonly originalAt: number;
  /** The end of the sequence's `call *hook` (the return address it pushes), or -1. */
  readonly hookCallEnd: number;
}

/** The layout of a patch for an original instruction (see encodePatch). */
export function patchLayout(spec: PatchSpec, insn: Pick<DecodedInstruction, 'length'>): PatchLayout {
  switch (spec.inline) {
    case 'vif-set': return { originalAt: -1, hookCallEnd: 7 };
    case 'pushf': return { originalAt: 0, hookCallEnd: insn.length + 6 };
    case 'popf': case 'iret': return { originalAt: 6, hookCallEnd: 6 };
    case 'irq-restore': return { originalAt: -1, hookCallEnd: 7 };
    default: return { originalAt: -1, hookCallEnd: -1 };
  }
}

/**
 * `call rel32` from `site` to `target` with 32-bit wraparound (E8 rel32): in 32-bit code every
 * address is reachable, so a site low in memory reaches a stub at the top of the address space.
 */
export function encodeCallWrapped(site: number, target: number): Uint8Array {
  const rel = (target - (site + 5)) >>> 0;
  return Uint8Array.of(0xe8, rel & 0xff, (rel >>> 8) & 0xff, (rel >>> 16) & 0xff, rel >>> 24);
}

const ESP = 4;
/** `testb $imm, disp(%esp)` (F6 /0 ib). */
export function encodeTestStackByte(disp: number, imm: number): Uint8Array {
  return Uint8Array.from([0xf6, ...encodeModrmMemory(0, { base: ESP, disp }), imm]);
}
/**
 * `testb $2, disp(%esp); setnz <vif>`: the IF of a flags image (bit 1 of its byte at disp(%esp))
 * into the virtual IF byte -- what the stubs behind popf_hook, return_hook and irq_restore_hook do.
 */
export function encodeImageIfToVif(disp: number, vifByte: number): Uint8Array {
  return Uint8Array.from([...encodeTestStackByte(disp, 2), 0x0f, 0x95, ...encodeModrmMemory(0, { disp: vifByte | 0 })]);
}

/** The inline sequence's bytes; `original` is the site's instruction. */
function encodeInline(spec: PatchSpec, original: Uint8Array, targets: PatchTargets): Uint8Array {
  const callThrough = (word: number) => [...encodeCallMem({ disp: word | 0 })];
  // The same call with a SIB byte (no base, no index): 7 bytes.
  const callThroughSib = (word: number) => [0xff, 0x14, 0x25, word & 0xff, (word >>> 8) & 0xff, (word >>> 16) & 0xff, word >>> 24];
  const vif = { disp: targets.vifByte | 0 };
  switch (spec.inline) {
    case 'vif-clear': return encodeMovMemImm(1, vif, 0);
    case 'vif-set': return Uint8Array.from(callThroughSib(targets.stiHook));
    case 'pushf': return Uint8Array.from([...original, ...callThrough(targets.flagsHook)]);
    case 'irq-restore': return Uint8Array.from(callThroughSib(targets.irqRestoreHook));
    case 'popf': return Uint8Array.from([...callThrough(targets.popfHook), ...original]);
    case 'iret': return Uint8Array.from([...callThrough(targets.returnHook), ...original]);
    default: throw new RangeError(`no inline sequence ${String(spec.inline)}`);
  }
}

/**
 * The bytes written over a site: the patch followed by NOPs up to `siteLen`. `original` is the
 * site's instruction (embedded by some inline sequences). Throws a RangeError when the patch would
 * not fit (the caller names the site).
 */
export function encodePatch(
  spec: PatchSpec, kind: number, site: number, siteLen: number, targets: PatchTargets,
  original: Uint8Array = Uint8Array.of(0x90),
): Uint8Array {
  const length = patchLength(spec, original.length);
  if (length > siteLen) throw new RangeError(`patch of ${length} bytes does not fit a ${siteLen}-byte site`);
  const out = new Uint8Array(siteLen);
  let head: Uint8Array;
  switch (spec.form) {
    case 'keep': throw new RangeError('a kept site is not rewritten');
    case 'inline': head = encodeInline(spec, original, targets); break;
    case 'call': head = encodeCallWrapped(site, spec.plainStub ? targets.plainStub(spec.plainStub) : targets.stubFor(kind)); break;
  }
  if (head.length !== length) throw new Error(`patch encoding of ${head.length} bytes, table says ${length}`);
  out.set(head, 0);
  out.set(encodeNops(siteLen - head.length), head.length);
  return out;
}
