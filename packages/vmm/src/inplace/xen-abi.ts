// The para-virtual ABI of the xen back end: what a kernel written for it (fixtures/kernel with
// PARAVIRT=1) and the in-place VMM both use. Modeled on Xen's x86_32 PV interface (xen/include/
// public/xen.h): a hypercall page in the kernel image named by an ELF note, hypercall number in %eax
// and arguments in %ebx, %ecx, %edx, %esi, %edi, result in %eax; a shared page with the virtual
// interrupt mask. Documented in packages/vmm/README.md ("The xen ABI").
import type { ElfFile } from '@previrt/linker';

/** ELF note name and types (Xen's XEN_ELFNOTE_*). */
export const XEN_NOTE_NAME = 'Xen';
export const XEN_ELFNOTE_HYPERCALL_PAGE = 2;
export const XEN_ELFNOTE_GUEST_OS = 6;

/** Bytes per hypercall-page entry: `mov $nr, %eax; call <window stub>; ret`. */
export const HYPERCALL_ENTRY_SIZE = 32;

export const HYPERCALL = {
  set_trap_table: 0,
  mmu_update: 1,
  set_gdt: 2,
  stack_switch: 3,
  fpu_taskswitch: 5,
  set_debugreg: 8,
  get_debugreg: 9,
  xen_version: 17,
  console_io: 18,
  mmuext_op: 26,
  sched_op: 29,
  callback_op: 30,
  // previrt's additions (Xen routes these through its device model or physdev_op).
  io_read: 40,
  io_write: 41,
  io_rep_in: 42,
  io_rep_out: 43,
  io_batch: 44,
  shared_info: 45,
  mmio_read: 46,
  mmio_write: 47,
  write_cr4: 51,
  force_callback: 52,
  cache_flush: 53,
} as const;

export const MMUEXT = { new_baseptr: 5, tlb_flush_local: 6, invlpg_local: 7 } as const;
export const SCHEDOP = { yield: 0, block: 1, shutdown: 2 } as const;
export const CALLBACKTYPE_SYSENTER = 2;
export const CONSOLEIO_WRITE = 0;

/** The hypercall page address a para-virtual kernel asks for, or null when the image has no such note. */
export function hypercallPageOf(elf: ElfFile): number | null {
  for (const n of elf.notes) {
    if (n.name === XEN_NOTE_NAME && n.type === XEN_ELFNOTE_HYPERCALL_PAGE && n.desc.length >= 4) {
      return new DataView(n.desc.buffer, n.desc.byteOffset, n.desc.byteLength).getUint32(0, true);
    }
  }
  return null;
}

/** The bytes of the hypercall page: entry n is `mov $n, %eax; call stub; ret`, int3 elsewhere. */
export function hypercallPage(page: number, stub: number): Uint8Array {
  const out = new Uint8Array(4096).fill(0xcc);
  for (let n = 0; n < 4096 / HYPERCALL_ENTRY_SIZE; n++) {
    const at = n * HYPERCALL_ENTRY_SIZE;
    const rel = (stub - (page + at + 10)) >>> 0;
    out.set([0xb8, n & 0xff, (n >> 8) & 0xff, 0, 0, 0xe8, rel & 0xff, (rel >>> 8) & 0xff, (rel >>> 16) & 0xff, rel >>> 24, 0xc3], at);
  }
  return out;
}
