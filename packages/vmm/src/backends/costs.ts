// The cost table of the back ends: cycles charged per instruction, per VM exit by reason, per
// hypercall, per IPC and per in-place operation. Every figure says where it comes from. A run's
// modeled cycles are its instructions (one cycle each) plus everything charged here, with the pads
// of kept sites at their NOP cost. Charged cycles take virtual time on every clock (Cpu.time: the
// TSC, the PIT, the local APIC timer); the NOP credit does not (a clock never runs backwards).
//
// Scale: the simulated machine retires one instruction per cycle at 1 GHz (the virtual clock that
// matches QEMU's `-icount shift=0`), so one cycle here is one guest instruction. Literature figures
// below are in cycles of the processors they were measured on.

/** Exit reasons of the hvm back end (VT-x basic exit reasons, by name). */
export const EXIT_REASONS = [
  'io', 'hlt', 'cpuid', 'cr-access', 'dr-access', 'msr', 'invlpg', 'wbinvd', 'rdpmc', 'external-interrupt',
  'interrupt-window', 'apic-access', 'pagefault', 'pt-write', 'vmcall',
] as const;
export type ExitReason = (typeof EXIT_REASONS)[number];

export interface CostTable {
  /** A guest instruction. */
  instruction: number;
  /** A NOP of a kept site's pad (multi-byte NOPs retire several per cycle). */
  padNop: number;
  /**
   * Sensitive instructions that cost more than one cycle when the processor runs them (by class
   * name): what the instruction costs in all. Kept out of the guest's clocks, like the pads' credit.
   */
  instructionCost: Record<string, number>;
  /**
   * A port access (`in`, `out`) that reaches a device: the bus cycle the processor waits for. Unlike
   * instructionCost it takes virtual time: a loop polling a device ends by the device's clock.
   */
  portAccess: number;
  /** Entering the in-place VMM through a site's call (dispatch on the return address, return). */
  inPlaceEntry: number;
  /** The in-place operations, on top of the entry. */
  inPlace: {
    /** pushf/popf/sti/iret on the virtual IF (flag-preserving x86 sequences). */
    flags: number;
    /** Read of a shadow register or descriptor-table register. */
    shadowRead: number;
    /** Emulation of a descriptor or segment instruction against the guest's tables. */
    descriptor: number;
    /** An access to an in-place device model (8259, 8254 read, UART output buffer, ATA registers). */
    device: number;
    /** Queueing one operation for a later batched hypercall/exit. */
    queue: number;
    /** Delivering an interrupt that became pending while the virtual IF was clear. */
    deliverPending: number;
  };
  /** hvm: a VM exit and the VM entry after it, by reason (round trip plus the hypervisor's handling). */
  exit: Record<ExitReason, number>;
  /** xen: one hypercall (ring 1 -> ring 0 -> ring 1) plus the work of its kind. */
  hypercall: { base: number; work: Record<string, number> };
  /** xen: a privileged instruction that faults into the hypervisor and is emulated there. */
  xenTrap: number;
  /** xen: an interrupt delivered as an event upcall. */
  xenEvent: number;
  /** xen: an exception bounced through the hypervisor to the guest's handler. */
  xenBounce: number;
  /** xen: an unannotated write to a page-table page: write fault, emulation, validation. */
  xenPtWriteFault: number;
  /** l4: one IPC (send or reply); a round trip is two. */
  ipc: number;
  /** l4: the monitor's work on top of the IPCs, by kind. */
  ipcWork: Record<string, number>;
}

/**
 * The figures and their sources.
 *
 * instruction = 1: the simulated PC's model (packages/vmm README, "Virtual time").
 * padNop = 0.25: a NOP of a pad is decoded and retired without using an execution unit, four per
 * cycle on current Intel and AMD cores (Agner Fog, "Instruction tables": NOP, reciprocal throughput
 * 0.25; the P6 family this machine models decodes three instructions per clock). The pads of the
 * sites a back end keeps are credited back to this figure when their instruction runs (sites whose
 * instruction is not sensitive -- the annotated memory operations -- are charged a full cycle).
 *
 * instructionCost: what the processor itself spends on the sensitive instructions that run on it
 * (natively, kept on hvm, inside an inline sequence or a plain stub, or in a para-virtual kernel's
 * own code), not when the monitor emulates one (that is the in-place operation's cost). Measured on
 * this machine in user mode, where they run without a fault (bench/backends-insn-cost.c, AMD EPYC
 * in this nested VM, core cycles from a chain of dependent adds; user-mode popf takes the same
 * microcode path, IF simply does not change): pushf 3.4-4.9 (3.5), popf 18.2-18.6 (18.5), iret to the
 * same ring 152-154 (150). cli, sti and port I/O need ring 0 or IOPL 3 (iopl() is not available in
 * this VM), so they come from the literature: cli 5 and sti 8 cycles of throughput on the 45 nm
 * Core 2, after Intel made them non-serializing (Intel Technology Journal 12(3), 2008, "Original 45nm
 * Intel Core Microarchitecture", CLI/STI performance tuning: "the throughput of a CLI is 5 cycles,
 * the throughput of an STI is 8 cycles"); invlpg 25 (Pentium Processor Family Developer's Manual,
 * instruction timing: INVLPG m, 25 clocks; the TLB refill after it is not modeled, nor is a CR3
 * load's flush, which stays at one cycle). Only the runs where the processor executes the
 * instruction pay it: an exit or a trap replaces it by the hypervisor's cost. The extra cycles go into modeled
 * cycles only, not into the guest's clocks: QEMU's -icount clock (1 ns per instruction) is the
 * reference for the native transcripts (Linux's TSC and delay-loop calibration lines must match it),
 * so time per instruction stays what it is; the benchmarks compare modeled cycles. The same check
 * loop shows the afterburner's pads on this machine: a pushf/pop/inc/push/popf/inc loop runs 24.0
 * cycles plain and 23.7-24.7 with its 32-bit `.nops` pads (hidden behind popf).
 *
 * portAccess = 1,000 (1 us at the model's 1 GHz): `in`/`out` to a legacy port (8259, 8254, UART,
 * CMOS) is a bus cycle to the chipset, which Linux uses as its I/O delay and bounds by 2 us
 * (arch/x86/kernel/io_delay.c: "2 usecs is an upper-bound for the outb delay"; Agner Fog's
 * instruction tables give IN/OUT no figure below the microsecond range). It is time the processor
 * waits, so it takes virtual time like an exit (the guest's clocks see it: a loop polling the 8259 or
 * the PIT runs as long as the device makes it, not a fixed number of reads); charged where the
 * processor itself does the access (native; an exit, hypercall or in-place model replaces it
 * elsewhere). String I/O (ins/outs, a block per instruction) is not charged per element.
 *
 * In-place operations (LeVasseur et al., "Pre-Virtualization: Soft Layering for Virtual Machines",
 * ACSAC 2008 / Karlsruhe TR 2006-15: in-place emulation of the interrupt flag costs a few
 * instructions instead of a trap; the design notes give in-place cli/sti as 1-11 cycles): counted
 * as the x86 instructions the in-place code needs, at one cycle each (the call into the stub and the
 * monitor-call are guest instructions already counted):
 *   inPlaceEntry 4 = save a scratch register, look the return address up in the site table, dispatch, return;
 *   flags 24 = pushf: pushfl, xchg, mov vif, lea, xchg (fix IF in the image); popf: and/sub IF, store
 *             vif, test pending, popfl; sti: store vif, test pending (pushfl/popfl around the test):
 *             six instructions, one of them a popfl at its measured 18.5 (instructionCost; the most
 *             the four need). Only the monitor-call form pays it (sites of older builds, popfw/iretw,
 *             l4's iret); the inline sequences' own pushfl/popfl/iretl are charged as they run;
 *   shadowRead 2, descriptor 12 (fetch and check a descriptor of the guest's GDT/LDT), device 10
 *   (update the model's registers), queue 4, deliverPending 20 (build the interrupt frame).
 *
 * hvm exits. VM exit plus VM entry on bare-metal VT-x/SVM: 1,300-2,000 cycles (design notes; an SVM
 * vmrun round trip measured at ~1,360 cycles inside KVM's run loop, LKML 2020-12 "KVM: SVM:
 * vmload/vmsave" thread; Intel's 2009 "Understanding VM exits" note: "hundreds or thousands of
 * cycles"). We take 1,500 for the round trip and add the handling (Agesen et al., "Software
 * techniques for avoiding hardware virtualization exits", USENIX ATC 2012: exit handling dominated by
 * instruction decode and device emulation): io 1,000 (decode + in-kernel device model), cpuid 100,
 * cr 200, dr 200, msr 200, hlt 0 (the vCPU idles anyway), invlpg 300 and pagefault/pt-write 2,000
 * (shadow page-table maintenance), interrupt-window 200, external-interrupt 500 (host handler and
 * event injection), apic-access 1,000 (decode and APIC model), vmcall 200.
 * Measured on this machine (nested virtualization, AMD EPYC): a cpuid exit takes 8,944 cycles at
 * best, 11,000 on average (bench/backends-exit-cost.c); `--exit-cost` scales the round trip to it.
 *
 * xen. A hypercall is `int $0x82` from ring 1 and an iret back: two privilege transitions through
 * gates. Xen's own measurement (changeset "Implement faster int 0x80 handling for compat mode guests",
 * lmbench lat_syscall): a system call trapped directly into the ring-1 guest costs 0.327 us, one
 * routed through Xen's #GP handler 0.868 us, i.e. ~0.54 us (about 1,000 cycles at 2 GHz) for a fault
 * into the hypervisor, decode and bounce. We charge 300 per hypercall (one gate in, one iret out, the
 * dispatch) and 1,000 for a trapped-and-emulated instruction (xenTrap), 600 for an event upcall,
 * 500 for bouncing an exception; mmu_update work 200 per entry (type and reference-count checks),
 * new_baseptr 600 (validation and TLB flush), console 100, io 300, set_gdt/set_trap_table 500. The
 * writable-page-table path (an unannotated page-table write: #PF into Xen, x86 emulation of the
 * write, validation) 2,000 (Barham et al., "Xen and the Art of Virtualization", SOSP 2003, section
 * 3.3: trapping every update is why page-table updates are batched).
 *
 * l4. IPC on L4Ka::Pistachio/ia32 (l4ka.org performance page, Pentium III 800 MHz): ~55 cycles of
 * IPC path plus ~170 cycles of context switch and TLB refill; Liedtke et al., "Achieved IPC
 * performance" (HotOS 1997): 121 cycles on a Pentium. We charge 250 per IPC (one direction) and the
 * monitor's work per kind on top (page-fault handling 300, map/unmap 200, emulation 200).
 */
export const DEFAULT_COSTS: CostTable = {
  instruction: 1,
  padNop: 0.25,
  instructionCost: { pushf: 3.5, popf: 18.5, iret: 150, cli: 5, sti: 8, invlpg: 25 },
  portAccess: 1000,
  inPlaceEntry: 4,
  inPlace: { flags: 24, shadowRead: 2, descriptor: 12, device: 10, queue: 4, deliverPending: 20 },
  exit: {
    io: 2500, hlt: 1500, cpuid: 1600, 'cr-access': 1700, 'dr-access': 1700, msr: 1700, invlpg: 1800, wbinvd: 1700,
    rdpmc: 1700, 'external-interrupt': 2000, 'interrupt-window': 1700, 'apic-access': 2500, pagefault: 3500,
    'pt-write': 3500, vmcall: 1700,
  },
  hypercall: {
    base: 300,
    work: {
      mmu_update: 200, mmuext_new_baseptr: 600, mmuext_invlpg: 100, mmuext_tlb_flush: 200, mmuext_set_ldt: 200,
      set_gdt: 500, set_trap_table: 500, stack_switch: 50, fpu_taskswitch: 50, set_debugreg: 50, get_debugreg: 50,
      console_io: 100, io: 300, io_batch: 350, mmio: 300, sched_block: 100, sched_yield: 100, sched_shutdown: 0,
      force_callback: 100, cpuid: 100, msr: 100, cache_flush: 200, xen_version: 0, shared_info: 0, set_callbacks: 50,
      write_cr4: 100, iret: 200,
    },
  },
  xenTrap: 1000,
  xenEvent: 600,
  xenBounce: 500,
  xenPtWriteFault: 2000,
  ipc: 250,
  ipcWork: {
    exception: 200, pagefault: 300, interrupt: 100, syscall: 100, 'address-space': 300, map: 200, io: 300, io_batch: 350,
    mmio: 300, descriptor: 200, control: 200, halt: 0, console_io: 100, cpuid: 100, msr: 100, cache_flush: 200,
  },
};

/** The same table with the VM-exit round trip of another machine (e.g. this nested VM's ~10,000). */
export function withExitRoundTrip(costs: CostTable, roundTrip: number): CostTable {
  const base = 1500;
  // Each reason's handling is what its figure holds above the default round trip (never below 0,
  // so that a table with lower figures cannot move the clock backwards).
  const exit = Object.fromEntries(Object.entries(costs.exit).map(([k, v]) => [k, Math.max(0, v - base) + roundTrip])) as Record<ExitReason, number>;
  return { ...costs, exit };
}
