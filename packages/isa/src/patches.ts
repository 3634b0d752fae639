// The patch table: what the in-place VMM writes over each padded site, per record kind and back end.
// It is the one table read by both sides: the catalogue's `siteSize` must hold the longest patch of
// its kind (checked in the tests), and the VMM loader (packages/vmm) encodes patches from it.
//
// Three forms:
// - keep: the site keeps its instruction (the pad runs as NOPs): the instruction behaves correctly on
//   that back end, or traps to a hypervisor that emulates it.
// - inline: plain x86 over the site that needs no monitor: `cli` becomes a store of 0 to the virtual
//   interrupt flag byte in the per-vCPU state block (C6 05 abs32 00, 7 bytes).
// - call: `call rel32` (E8, 5 bytes) to the kind's stub in the monitor window; the monitor finds the
//   site from the return address, emulates the instruction for the guest's virtual CPL 0 and resumes
//   after the site (so the rest of the site is never executed; the loader fills it with NOPs).
//
// Some segment classes only differ below ring 0 for particular registers: %cs and %ss carry the
// current privilege level in their RPL, and a deprivileged kernel cannot load a ring-0 %ss. Those
// rules are operand predicates on the decoded instruction (`patchedWhen`).
import { MEMORY_OPERATION_KINDS, SENSITIVE_CLASSES, memoryOperationKindById, sensitiveClassById } from './catalogue.js';
import { encodeMovMemImm, encodeNops } from './encode.js';
import type { DecodedInstruction } from './decoder.js';

export const BACKEND_NAMES = ['native', 'hvm', 'xen', 'l4'] as const;
export type BackendName = (typeof BACKEND_NAMES)[number];

export type PatchForm = 'keep' | 'inline' | 'call';

export interface PatchSpec {
  readonly form: PatchForm;
  /** Bytes written at the start of the site (0 for keep). */
  readonly length: number;
  /** What the patch is, in assembler terms (for documentation and `previrt inspect`-style listings). */
  readonly template: string;
}

export const KEEP: PatchSpec = { form: 'keep', length: 0, template: '(the original instruction)' };
export const CALL_STUB: PatchSpec = { form: 'call', length: 5, template: 'call <stub of the kind in the monitor window>' };
export const VIF_CLEAR: PatchSpec = { form: 'inline', length: 7, template: 'movb $0, <virtual IF byte>' };

/** The segment register an instruction reads or writes, or null (from the decoder's raw fields). */
export function segmentOperand(insn: DecodedInstruction): 'es' | 'cs' | 'ss' | 'ds' | 'fs' | 'gs' | null {
  const names = ['es', 'cs', 'ss', 'ds', 'fs', 'gs'] as const;
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

/** Patched below ring 0 only when the operand is %cs or %ss (the registers whose RPL is the CPL). */
const CS_OR_SS = (insn: DecodedInstruction): boolean => { const s = segmentOperand(insn); return s === 'cs' || s === 'ss'; };
/** Patched below ring 0 only when the destination is %ss (a ring-0 stack selector cannot be loaded there). */
const SS_ONLY = (insn: DecodedInstruction): boolean => segmentOperand(insn) === 'ss';

interface Entry {
  readonly native: PatchSpec;
  readonly hvm: PatchSpec;
  readonly xen: PatchSpec;
  readonly l4: PatchSpec;
  /** For xen and l4: the call applies only when this holds for the decoded instruction, else keep. */
  readonly patchedWhen?: (insn: DecodedInstruction) => boolean;
  /** Why, for the documentation. */
  readonly why: string;
}

const K = KEEP, C = CALL_STUB;
const deprivOnly = (why: string, patchedWhen?: Entry['patchedWhen']): Entry => ({ native: K, hvm: K, xen: C, l4: C, why, ...(patchedWhen ? { patchedWhen } : {}) });
const exiting = (why: string): Entry => ({ native: K, hvm: C, xen: C, l4: C, why });
/** No exit under hvm (VT-x runs it in the guest), but wrong or privileged below ring 0. */
const flagOp = (why: string): Entry => ({ native: K, hvm: K, xen: C, l4: C, why });
const always = (why: string): Entry => ({ native: K, hvm: K, xen: K, l4: K, why });

/** Per record kind (catalogue name): the patch on each back end. */
const TABLE: Record<string, Entry> = {
  cli: { native: K, hvm: K, xen: VIF_CLEAR, l4: VIF_CLEAR, why: 'the virtual interrupt flag lives in the state block (hvm: cli never exits)' },
  sti: flagOp('sets the virtual IF and delivers a pending interrupt'),
  pushf: flagOp('shows the virtual IF (deprivileged pushf shows IF=1)'),
  popf: flagOp('restores the virtual IF (deprivileged popf drops IF and IOPL)'),
  iret: flagOp('restores the virtual IF from the frame'),
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
  'mov-to-cr': exiting('control-register writes exit (hvm) or are privileged; shadow CR0/CR3/CR4'),
  'mov-from-cr': exiting('read from the shadow control registers (hvm shadow paging: CR3 reads exit)'),
  'mov-to-dr': exiting('debug-register accesses exit (MOV-DR exiting) or are privileged'),
  'mov-from-dr': exiting('debug-register accesses exit (MOV-DR exiting) or are privileged'),
  clts: exiting('CR0.TS is owned by the hypervisor'),
  lmsw: exiting('CR0 writes exit or are privileged'),
  smsw: deprivOnly('deprivileged smsw reveals the real CR0'),
  rdmsr: exiting('MSR accesses exit or are privileged; shadow SYSENTER MSRs'),
  wrmsr: exiting('MSR accesses exit or are privileged'),
  rdtsc: always('the TSC is readable in every ring (offset by the hypervisor)'),
  rdtscp: always('the TSC is readable in every ring (offset by the hypervisor)'),
  rdpmc: deprivOnly('privileged without CR4.PCE'),
  cpuid: exiting('cpuid exits (hvm) or reveals the host: answered from the monitor\'s cache'),
  invd: exiting('cache control exits or is privileged'),
  wbinvd: exiting('cache control exits or is privileged'),
  invlpg: exiting('TLB control: exits with shadow paging, privileged below ring 0'),
  hlt: exiting('halts the virtual CPU: a block hypercall / exit'),
  in: exiting('port I/O: in-place device models or one hypercall/exit'),
  out: exiting('port I/O: in-place device models or one hypercall/exit'),
  ins: exiting('string port I/O: in-place device models or one hypercall/exit'),
  outs: exiting('string port I/O: buffered console output or one hypercall/exit'),
  int: always('a software interrupt: every hypervisor reflects it to the guest'),
  int3: always('a trap: every hypervisor reflects it to the guest'),
  into: always('a trap: every hypervisor reflects it to the guest'),
  sysenter: always('a system-call entry from user code'),
  sysexit: deprivOnly('sysexit needs ring 0: emulated as a return to user mode'),
  syscall: always('a system-call entry from user code'),
  sysret: deprivOnly('sysret needs ring 0: emulated as a return to user mode'),
  swapgs: deprivOnly('swapgs needs ring 0'),
  ud2: always('a trap: every hypervisor reflects it to the guest'),
  // Annotated memory operations.
  'pte-set': flagOp('page-table updates go through the monitor (xen: mmu_update, l4: shadow tables; hvm with nested paging needs nothing)'),
  'pte-read': { native: K, hvm: K, xen: K, l4: C, why: 'readable in place; l4: accessed/dirty bits live in the shadow tables' },
  'pte-test-and-clear': flagOp('clears a bit of a protected page-table entry'),
  'pde-set': flagOp('page-directory updates go through the monitor'),
  'pde-read': { native: K, hvm: K, xen: K, l4: C, why: 'readable in place; l4: accessed bits live in the shadow tables' },
  'mmio-read': exiting('device registers: APIC-access exits (hvm) or not mapped at all; the I/O APIC register select is latched in place'),
  'mmio-write': exiting('device registers: APIC-access exits (hvm) or not mapped at all; the I/O APIC register select is latched in place'),
};

function kindName(kind: number): string | undefined {
  return sensitiveClassById(kind)?.name ?? memoryOperationKindById(kind)?.name;
}

function entryFor(kind: number): Entry | undefined {
  const name = kindName(kind);
  return name === undefined ? undefined : TABLE[name];
}

/**
 * The patch for a site of `kind` on `backend`. With the decoded instruction, operand rules apply
 * (e.g. `push %ds` stays, `push %cs` is patched on xen and l4); without it, the widest choice.
 */
export function patchFor(kind: number, backend: BackendName, insn?: DecodedInstruction): PatchSpec {
  const e = entryFor(kind);
  if (!e) throw new RangeError(`no patch for record kind ${kind}`);
  const spec = e[backend];
  if (spec.form === 'call' && e.patchedWhen && insn && (backend === 'xen' || backend === 'l4') && !e.patchedWhen(insn)) return KEEP;
  return spec;
}

/** Why the kind is patched as it is (documentation). */
export function patchReason(kind: number): string {
  return entryFor(kind)?.why ?? '';
}

/** The longest patch of a kind over every back end. */
export function longestPatch(kind: number): number {
  const e = entryFor(kind);
  if (!e) throw new RangeError(`no patch for record kind ${kind}`);
  return Math.max(...BACKEND_NAMES.map((b) => e[b].length));
}

/** Every record kind (instruction classes and memory operations) has an entry. */
export function patchTableKinds(): number[] {
  return [...SENSITIVE_CLASSES.map((c) => c.id), ...MEMORY_OPERATION_KINDS.map((k) => k.id)].filter((id) => entryFor(id) !== undefined);
}

/** Where the monitor window puts what a patch refers to. */
export interface PatchTargets {
  /** Linear address of the virtual interrupt flag byte (0 = interrupts masked). */
  readonly vifByte: number;
  /** Linear address of the stub for a record kind. */
  stubFor(kind: number): number;
}

/**
 * `call rel32` from `site` to `target` with 32-bit wraparound (E8 rel32): in 32-bit code every
 * address is reachable, so a site low in memory reaches a stub at the top of the address space.
 */
export function encodeCallWrapped(site: number, target: number): Uint8Array {
  const rel = (target - (site + 5)) >>> 0;
  return Uint8Array.of(0xe8, rel & 0xff, (rel >>> 8) & 0xff, (rel >>> 16) & 0xff, rel >>> 24);
}

/**
 * The bytes written over a site: the patch followed by NOPs up to `siteLen`. Throws a RangeError
 * when the patch would not fit (the caller names the site).
 */
export function encodePatch(spec: PatchSpec, kind: number, site: number, siteLen: number, targets: PatchTargets): Uint8Array {
  if (spec.length > siteLen) throw new RangeError(`patch of ${spec.length} bytes does not fit a ${siteLen}-byte site`);
  const out = new Uint8Array(siteLen);
  let head: Uint8Array;
  switch (spec.form) {
    case 'keep': throw new RangeError('a kept site is not rewritten');
    case 'inline': head = encodeMovMemImm(1, { disp: targets.vifByte }, 0); break;
    case 'call': head = encodeCallWrapped(site, targets.stubFor(kind)); break;
  }
  if (head.length !== spec.length) throw new Error(`patch encoding of ${head.length} bytes, table says ${spec.length}`);
  out.set(head, 0);
  out.set(encodeNops(siteLen - head.length), head.length);
  return out;
}
