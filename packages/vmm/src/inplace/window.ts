// The monitor window: where the in-place VMM lives in the guest's linear address space, and what is
// in it. The loader picks the highest 4 MB-aligned range the kernel image does not use, never the
// last page-directory slot (0xffc00000, the usual recursive mapping); by default 0xff800000.
//
//   window + 0x0000  the per-vCPU state block (one page)
//   window + 0x1000  the stubs: 16 bytes per record kind (`vmcall; ret`), the plain-x86 stubs of the
//                    inline patches at +0x500..+0x7ff, the hypercall entry at +0x800
//
// The state block is guest-readable and -writable memory of the in-place VMM: the inline patches read
// and write its virtual IF byte and call through its hook words as plain x86. In this simulation the
// page sits on the bus so that the monitor keeps its fields exact (the virtual IF is the CPU's IF, the
// hooks follow the pending interrupt and the page-table queue, the device mirrors are live); no access
// to it is charged anything beyond its instruction, as for any memory access.
//
// The state block is also the shared page of the xen back end's para-virtual ABI (xen-abi.ts).
import { allKindIds, encodeCallMem, encodeImageIfToVif, encodeMovMemImm, encodePushMem, encodeTestStackByte } from '@previrt/isa';
import type { ElfFile } from '@previrt/linker';
import type { MonitorWindowMap } from '../cpu.js';

export const WINDOW_SIZE = 4 << 20;
/** Physical address the state block answers at (outside RAM, in the reserved top of the address space). */
export const STATE_PHYS = 0xffffe000;
/** Bytes of monitor memory after guest RAM (the stub page). */
export const MONITOR_BYTES = 4096;

/** Offsets in the state block. */
export const STATE = {
  /** u8, read: 1 when an interrupt waits for delivery (Xen's vcpu_info.evtchn_upcall_pending). */
  upcallPending: 0x00,
  /** u8: 1 = interrupts masked (Xen's vcpu_info.evtchn_upcall_mask); the inverse of the virtual IF. */
  upcallMask: 0x01,
  /**
   * u8: the in-place VMM's virtual interrupt flag, 0 = masked, 1 = enabled (cli stores 0, sti 1, popf
   * and iret the image's IF). It is the low byte of the u32 flags hook at the same offset, whose
   * upper bytes the monitor keeps: flags hook = FLAGS_PAIR + vif (pushf calls through it).
   */
  vif: 0x04,
  flagsHook: 0x04,
  /** u32, read: CR2 of the last page fault (Xen's vcpu_info.arch.cr2). */
  cr2: 0x08,
  /** u16: the 8259 pair's mask (master low byte), read/write. */
  picMask: 0x10,
  /** u8, write: end of interrupt for IRQ n (0..15). */
  picEoi: 0x12,
  /** u16, read: in-service and request registers of the 8259 pair. */
  picIsr: 0x14,
  picIrr: 0x16,
  /** u8, read: the UART's line status; the ATA status (no side effects). */
  uartLsr: 0x18,
  ataStatus: 0x19,
  /** u32: sti calls through it: the store of vif, or the monitor while the interrupt line is asserted. */
  stiHook: 0x20,
  /**
   * u32: iret calls through it: the IOPL check, or the monitor while an interrupt is pending, the
   * virtual IOPL is not 0, or page-table updates are queued and the frame returns to user mode.
   */
  returnHook: 0x24,
  /** u32: the user %cs and %ss sysexit loads (SYSENTER_CS + 16 | 3, + 24 | 3), for xen's sysexit stub. */
  sysexitCs: 0x28,
  sysexitSs: 0x2c,
  /** u32: popf calls through it: the image's IF into vif and the IOPL check, or the monitor while the interrupt line is asserted or the virtual IOPL is not 0. */
  popfHook: 0x30,
  /** u32: xen's sysexit stub calls through it: `ret`, or the monitor while an interrupt is pending or page-table updates are queued. */
  exitHook: 0x34,
  /** u32: an annotated IF-only popf calls through it: the plain restore, or the monitor while the interrupt line is asserted. */
  irqRestoreHook: 0x38,
  /** Bytes from here on are plain memory of the guest's (e.g. a PV kernel's scratch). */
  scratch: 0x100,
} as const;

const STUB_SIZE = 16;
export const HYPERCALL_STUB_OFFSET = 0x800;
/** vmcall; ret */
const STUB_BYTES = [0x0f, 0x01, 0xc1, 0xc3];

/**
 * The plain-x86 stubs of the inline patches (offsets in the stub page). The flags hook points at a
 * pair of adjacent entries, +0 for vif = 0 and +1 for vif = 1: FLAGS_PAIR+1 is `ret` (the IF = 1 the
 * processor pushed below ring 0 is right), FLAGS_PAIR+0 is `jmp rel8` whose displacement is that
 * `ret` byte (0xc3 = -61), landing on CLEAR_IF, which clears IF in the pushed image with lea
 * arithmetic. While the guest's virtual IOPL is not 0 (the processor pushes 0 below ring 0) the
 * monitor points the hook at SLOW_PAIR, whose entries both reach the monitor.
 */
export const PLAIN = {
  ret: 0x500,
  /** vmcall; ret — sti while the interrupt line is asserted: the monitor sets vif and delivers. */
  deliver: 0x510,
  /** vmcall; ret — hands queued page-table updates over, delivers a pending interrupt (exit hook of xen's sysexit). */
  leave: 0x520,
  /** movb $1, vif; ret — sti. */
  stiSet: 0x530,
  /** xen's sysexit: an iret frame for the user (22 bytes). */
  sysexit: 0x540,
  /** testb $2, 5(%esp); setnz vif; ret $4 — an IF-only popf: the image's IF becomes the virtual IF, the image is popped. */
  irqRestore: 0x560,
  /** vmcall; ret $4 — as irqRestore while the interrupt line is asserted (an interrupt may become deliverable). */
  irqRestoreSlow: 0x570,
  /** testb $2, 5(%esp); setnz vif; testb $0x30, 5(%esp); jnz popfSlow; ret — popf's IF into vif; an IOPL in the image goes to the monitor. */
  popfCheck: 0x580,
  /** vmcall; ret — popf's image carries an IOPL, the virtual IOPL is not 0, or the interrupt line is asserted. */
  popfSlow: 0x594,
  /** testb $2, 13(%esp); setnz vif; testb $0x30, 13(%esp); jnz iretSlow; ret — as popfCheck for iret's frame. */
  iretCheck: 0x5a0,
  /** vmcall; ret — as popfSlow, and the page-table queue before a return to user mode. */
  iretSlow: 0x5b4,
  clearIf: 0x600 - 61 + 2,
  flagsPair: 0x600,
  slowPair: 0x700,
} as const;

/** push %eax; movzbl 9(%esp),%eax; lea -2(%eax),%eax; mov %al,9(%esp); pop %eax; ret — IF (bit 1 of the image's byte 1, set) cleared. */
const CLEAR_IF_BYTES = [0x50, 0x0f, 0xb6, 0x44, 0x24, 0x09, 0x8d, 0x40, 0xfe, 0x88, 0x44, 0x24, 0x09, 0x58, 0xc3];

const ALL_KINDS = allKindIds();

export interface WindowLayout {
  readonly base: number;
  readonly slot: number;
  readonly state: number;
  readonly vifByte: number;
  readonly flagsHook: number;
  readonly stiHook: number;
  readonly popfHook: number;
  readonly returnHook: number;
  readonly irqRestoreHook: number;
  readonly stubs: number;
  readonly hypercallStub: number;
  stubFor(kind: number): number;
  /** Linear address of a plain stub (offset from PLAIN). */
  plain(offset: number): number;
  /** The kind whose stub starts at a linear address, or undefined. */
  kindAtStub(linear: number): number | undefined;
}

export class WindowError extends Error {}

/** The highest free 4 MB slot below the last one, given the image's loaded segments. */
export function chooseWindow(elf: ElfFile): number {
  const loads = elf.segments.filter((s) => s.type === 1 && s.memsz > 0);
  for (let slot = 1022; slot >= 1; slot--) {
    const lo = slot * WINDOW_SIZE, hi = lo + WINDOW_SIZE;
    if (loads.every((s) => s.vaddr + s.memsz <= lo || s.vaddr >= hi)) return lo >>> 0;
  }
  throw new WindowError('no 4 MB range of the address space is free of the kernel image for the monitor window');
}

export function windowLayout(base: number): WindowLayout {
  const stubs = base + 0x1000;
  const index = new Map(ALL_KINDS.map((k, i) => [k, i]));
  if (STUB_SIZE * ALL_KINDS.length > PLAIN.ret) throw new Error('the kind stubs overlap the plain stubs');
  return {
    base, slot: base >>> 22, state: base, vifByte: base + STATE.vif, flagsHook: base + STATE.flagsHook,
    stiHook: base + STATE.stiHook, popfHook: base + STATE.popfHook, returnHook: base + STATE.returnHook,
    irqRestoreHook: base + STATE.irqRestoreHook, stubs, hypercallStub: stubs + HYPERCALL_STUB_OFFSET,
    stubFor(kind) {
      const i = index.get(kind);
      if (i === undefined) throw new RangeError(`no stub for record kind ${kind}`);
      return stubs + STUB_SIZE * i;
    },
    plain: (offset) => stubs + offset,
    kindAtStub(linear) {
      const off = linear - stubs;
      if (off < 0 || off % STUB_SIZE !== 0 || off >= STUB_SIZE * ALL_KINDS.length) return undefined;
      return ALL_KINDS[off / STUB_SIZE];
    },
  };
}

/** The MMU's view of the window (state page on the bus, stub page in monitor memory at `stubPhys`). */
export function windowMap(layout: WindowLayout, stubPhys: number): MonitorWindowMap {
  const pagePhys = new Int32Array(1024).fill(-1);
  pagePhys[0] = STATE_PHYS | 0;
  pagePhys[1] = stubPhys;
  return { slot: layout.slot, pagePhys, busPages: new Set([0]) };
}

/** The stub page's bytes: `vmcall; ret` for every kind and the hypercall entry, and the plain stubs. */
export function stubPage(layout: WindowLayout): Uint8Array {
  const page = new Uint8Array(4096).fill(0xcc);
  for (const k of ALL_KINDS) page.set(STUB_BYTES, layout.stubFor(k) - layout.stubs);
  page.set(STUB_BYTES, HYPERCALL_STUB_OFFSET);
  page[PLAIN.ret] = 0xc3;
  page.set(STUB_BYTES, PLAIN.deliver);
  page.set(STUB_BYTES, PLAIN.leave);
  const state = layout.state;
  page.set([
    ...encodePushMem({ disp: (state + STATE.sysexitSs) | 0 }), // pushl user %ss
    0x51, // pushl %ecx (user %esp)
    0x9c, // pushfl
    ...encodePushMem({ disp: (state + STATE.sysexitCs) | 0 }), // pushl user %cs
    0x52, // pushl %edx (user %eip)
    ...encodeCallMem({ disp: (state + STATE.exitHook) | 0 }), // call *exit_hook
    0xcf, // iretl
  ], PLAIN.sysexit);
  page.set([...encodeMovMemImm(1, { disp: layout.vifByte | 0 }, 1), 0xc3], PLAIN.stiSet);
  // The image's IF into vif; testb $0x30, N(%esp) (IOPL, bits 12-13: byte 1, 0x30); jnz +1; ret; vmcall; ret
  const flagsCheck = (disp: number, check: number, slow: number) => {
    const bytes = [...encodeImageIfToVif(disp, layout.vifByte), ...encodeTestStackByte(disp, 0x30), 0x75, 0x01, 0xc3];
    if (check + bytes.length !== slow) throw new Error(`the stub at 0x${check.toString(16)} is ${bytes.length} bytes`);
    page.set([...bytes, ...STUB_BYTES], check);
  };
  flagsCheck(5, PLAIN.popfCheck, PLAIN.popfSlow);
  flagsCheck(13, PLAIN.iretCheck, PLAIN.iretSlow);
  // testb $2, 5(%esp); setnz vif; ret $4
  page.set([...encodeImageIfToVif(5, layout.vifByte), 0xc2, 0x04, 0x00], PLAIN.irqRestore);
  page.set([0x0f, 0x01, 0xc1, 0xc2, 0x04, 0x00], PLAIN.irqRestoreSlow); // vmcall; ret $4
  page.set(CLEAR_IF_BYTES, PLAIN.clearIf);
  page.set([0xeb, 0xc3], PLAIN.flagsPair); // +0: jmp clearIf (the displacement is +1's ret)
  // The slow pair: +0 jumps over +1's `vmcall; ret` to its own (jmp rel8 0x0f: +17).
  page.set([0xeb, ...STUB_BYTES], PLAIN.slowPair);
  page.set(STUB_BYTES, PLAIN.slowPair + 17);
  return page;
}
