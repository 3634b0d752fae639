// The monitor window: where the in-place VMM lives in the guest's linear address space, and what is
// in it. The loader picks the highest 4 MB-aligned range the kernel image does not use, never the
// last page-directory slot (0xffc00000, the usual recursive mapping); by default 0xff800000.
//
//   window + 0x0000  the per-vCPU state block (one page; every access reaches the monitor)
//   window + 0x1000  the stubs: 16 bytes per record kind (`vmcall; ret`), the hypercall entry at +0x800
//
// The state block is also the shared page of the xen back end's para-virtual ABI (xen-abi.ts).
import { MEMORY_OPERATION_KINDS, SENSITIVE_CLASSES } from '@previrt/isa';
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
  /** u8: the in-place VMM's virtual interrupt flag, 0 = masked (the inline cli stores 0 here). */
  vif: 0x04,
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
  /** Bytes from here on are plain memory of the guest's (e.g. a PV kernel's scratch). */
  scratch: 0x100,
} as const;

const STUB_SIZE = 16;
export const HYPERCALL_STUB_OFFSET = 0x800;
/** vmcall; ret */
const STUB_BYTES = [0x0f, 0x01, 0xc1, 0xc3];

const ALL_KINDS = [...SENSITIVE_CLASSES.map((c) => c.id), ...MEMORY_OPERATION_KINDS.map((k) => k.id)];

export interface WindowLayout {
  readonly base: number;
  readonly slot: number;
  readonly state: number;
  readonly vifByte: number;
  readonly stubs: number;
  readonly hypercallStub: number;
  stubFor(kind: number): number;
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
  return {
    base, slot: base >>> 22, state: base, vifByte: base + STATE.vif, stubs, hypercallStub: stubs + HYPERCALL_STUB_OFFSET,
    stubFor(kind) {
      const i = index.get(kind);
      if (i === undefined) throw new RangeError(`no stub for record kind ${kind}`);
      return stubs + STUB_SIZE * i;
    },
    kindAtStub(linear) {
      const off = linear - stubs;
      if (off < 0 || off % STUB_SIZE !== 0) return undefined;
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

/** The stub page's bytes: `vmcall; ret` for every kind and for the hypercall entry. */
export function stubPage(layout: WindowLayout): Uint8Array {
  const page = new Uint8Array(4096).fill(0xcc);
  for (const k of ALL_KINDS) page.set(STUB_BYTES, layout.stubFor(k) - layout.stubs);
  page.set(STUB_BYTES, HYPERCALL_STUB_OFFSET);
  return page;
}
