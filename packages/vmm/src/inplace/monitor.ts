// The in-place VMM and the hypervisor back ends behind it.
//
// The simulated CPU always runs the guest kernel at its virtual CPL 0 and stays the reference for
// what every instruction does. A back end changes three things:
// - the bytes: the loader rewrites every recorded site per the @previrt/isa patch table before the
//   first instruction (inline plain x86 on the state block for the interrupt-flag classes, a `call`
//   into the monitor window otherwise);
// - what an unpatched sensitive instruction does in the guest kernel: hvm exits, xen/l4 trap and
//   emulate the faulting classes and run the silently-differing ones as they behave below ring 0
//   (Cpu.kernelRing: pushf shows IF=1, popf/iret drop IF, sgdt & co. show the hypervisor's values);
// - the cost: every exit, hypercall, IPC, trap and in-place operation is counted and charged from
//   the cost table (costs.ts). Charged cycles take virtual time (Cpu.time) like instructions do.
// A site reaches the monitor through its stub's monitor-call (vmcall); the monitor pops the return
// address, finds the site, runs the original instruction for the virtual CPL 0 (compileOne), charges
// what the in-place VMM and its hypervisor would do, and resumes after the site.
import { controlRegisterOperand, encodePatch, endsFlow, patchLayout, segmentOperand, sensitiveClassById, type BackendName, type Paging } from '@previrt/isa';
import { FAULT, IF, MachineStop, SEG_DS, type Cpu, type HostView } from '../cpu.js';
import { IOPL } from '../flags.js';
import { compileOne, type Op } from '../compile.js';
import type { Machine } from '../machine.js';
import { DEFAULT_COSTS, type CostTable, type ExitReason } from '../backends/costs.js';
import { bump, newCounters, type Counters } from '../backends/counters.js';
import type { Site } from './records.js';
import { PLAIN, STATE, STATE_PHYS, stubPage, windowMap, type WindowLayout } from './window.js';
import { CALLBACKTYPE_SYSENTER, CONSOLEIO_WRITE, HYPERCALL, MMUEXT, SCHEDOP, hypercallPage } from './xen-abi.js';

export type { Paging };

export interface MonitorOptions {
  backend: BackendName;
  /** hvm: nested (EPT/NPT: no exits for page tables) or shadow paging. */
  paging?: Paging;
  costs?: CostTable;
  sites: readonly Site[];
  /** The monitor window (absent on native, where nothing is rewritten). */
  window?: WindowLayout;
  /** A para-virtual kernel's hypercall page (linear and physical address), filled by the loader. */
  hypercallPage?: { linear: number; phys: number };
}

const VIF_ON = 1;
/** Page-table updates per batch: Linux's Xen multicall batch (arch/x86/xen/multicalls.h, MC_BATCH). */
const PAGE_TABLE_BATCH = 32;

/** The hypervisor's view of descriptor tables and CR0 for a deprivileged kernel (xen, l4). */
function hostViewFor(backend: BackendName, window: number): HostView | null {
  if (backend === 'xen') return { gdtBase: window + 0x10000, gdtLimit: 0xe07f, idtBase: window + 0x11000, idtLimit: 0x7ff, tr: 0xe040, ldtr: 0, cr0: 0x8005003b };
  if (backend === 'l4') return { gdtBase: window + 0x20000, gdtLimit: 0x3f, idtBase: window + 0x21000, idtLimit: 0x7ff, tr: 0x28, ldtr: 0, cr0: 0x80050033 };
  return null;
}

export class InPlaceVmm {
  readonly counters: Counters = newCounters();
  readonly backend: BackendName;
  readonly paging: Paging;
  private readonly costs: CostTable;
  private readonly cpu: Cpu;
  private readonly siteByReturn = new Map<number, Site>();
  private readonly siteOps = new Map<Site, Op>();
  private readonly sitesByAddress = new Map<number, Site>();
  /** Rewritten sites by every address inside them (the in-place VMM's own instructions). */
  private readonly rewrittenAt = new Map<number, Site>();
  /** Inline sequences by the return address of their `call *hook`. */
  private readonly hookReturn = new Map<number, Site>();
  private inMonitor = false;
  /**
   * Cycles the pads of kept sites cost less than one per NOP. Kept out of the guest's clock (which
   * must never run backwards inside a block); subtracted from the modeled cycles.
   */
  padCredit = 0;
  /**
   * Cycles the sensitive instructions the processor runs cost beyond their one (cost table,
   * instructionCost). Kept out of the guest's clock like the pad credit; added to the modeled cycles.
   */
  instructionExtra = 0;
  /** The control register of unpatched movs to/from CR (hvm exit reasons), by EIP. */
  private readonly crByEip = new Map<number, number>();
  private cpuidSeen = new Set<string>();
  private watching: boolean;
  private pd = -1;
  // In-place device models.
  private uartPending = 0;
  private uartLcr = 0;
  private uartLoopback = false;
  private ataQueued = 0;
  /**
   * xen and l4: page-table updates made in place and not yet handed to the hypervisor (one
   * mmu_update hypercall / one map IPC per batch, as a para-virtual kernel batches them).
   */
  private ptQueued = 0;
  private flushingPageTables = false;
  /** Bytes of the current sector the in-place ATA model fetched ahead (reads) or holds (writes). */
  private ataReadAhead = 0;
  private ataWriteHeld = 0;
  /** A device-register site is running: its access is classified by mmioRead/mmioWrite. */
  private mmioSite = false;
  private lastIoSize = 1;
  private ataNoInterrupts = false;
  private readonly icwLeft = [0, 0];
  private readonly icwNeeds4 = [false, false];
  private readonly origIoRead: Machine['ioRead'];
  private readonly origIoWrite: Machine['ioWrite'];
  private readonly origMmioRead: Machine['mmioRead'];
  private readonly origMmioWrite: Machine['mmioWrite'];
  private stateScratch = new Uint8Array(4096);

  constructor(private readonly machine: Machine, private readonly opts: MonitorOptions) {
    this.backend = opts.backend;
    this.paging = opts.paging ?? 'nested';
    this.costs = opts.costs ?? DEFAULT_COSTS;
    this.cpu = machine.cpu;
    this.watching = this.backend === 'xen' || this.backend === 'l4' || (this.backend === 'hvm' && this.paging === 'shadow');
    this.origIoRead = machine.ioRead.bind(machine);
    this.origIoWrite = machine.ioWrite.bind(machine);
    this.origMmioRead = machine.mmioRead.bind(machine);
    this.origMmioWrite = machine.mmioWrite.bind(machine);
  }

  /** Rewrites the sites, maps the window and installs the hooks. Call before the first instruction. */
  install(): void {
    const { machine, cpu, opts } = this;
    for (const s of opts.sites) this.sitesByAddress.set(s.address, s);
    const w = opts.window;
    if (w) {
      const stubPhys = machine.ram.length;
      if (machine.memory.length < stubPhys + 4096) throw new Error('the machine has no monitor memory for the window (monitorBytes)');
      machine.memory.set(stubPage(w), stubPhys);
      cpu.monitorWindow = windowMap(w, stubPhys);
      for (const s of opts.sites) {
        if (s.patch.form === 'keep') continue;
        // encodePatch checks the length against the site; nothing is written past site_len.
        machine.ram.set(encodeSite(s, w), s.phys);
        if (s.patch.form === 'call' && !s.patch.plainStub) this.siteByReturn.set((s.address + 5) >>> 0, s);
        for (let i = 0; i < s.siteLen; i++) this.rewrittenAt.set((s.address + i) >>> 0, s);
        const { hookCallEnd } = patchLayout(s.patch, s.insn);
        if (hookCallEnd >= 0) this.hookReturn.set((s.address + hookCallEnd) >>> 0, s);
      }
      if (opts.hypercallPage) machine.ram.set(hypercallPage(opts.hypercallPage.linear, w.hypercallStub), opts.hypercallPage.phys);
    }
    cpu.hostView = hostViewFor(this.backend, w?.base ?? 0xff800000);
    cpu.kernelRing = this.backend === 'xen' ? 1 : this.backend === 'l4' ? 3 : 0;
    cpu.invalidateAllCode();
    cpu.hooks = {
      sensitive: (id, eip) => this.onSensitive(id, eip),
      deliver: (vector, kind) => this.onDeliver(vector, kind),
      monitorCall: (lin) => this.onMonitorCall(lin),
      pageWrite: (phys, size, value) => this.onPageWrite(phys, size, value),
    };
    machine.mmioRead = (addr, size) => this.mmioRead(addr, size);
    machine.mmioWrite = (addr, size, value) => this.mmioWrite(addr, size, value);
    if (this.watching) {
      // Every CR3 load (mov, task switch, hypercall) re-registers the page tables of the new space.
      cpu.hooks.cr3Loaded = () => this.watchCr3();
      this.watchCr3();
    }
  }

  /** Flushes what the in-place device models still hold and fills in the totals. */
  finish(): Counters {
    this.flushPageTables();
    if (this.uartPending > 0) this.forward('console_io');
    const c = this.counters;
    c.instructions = this.cpu.icount;
    c.modeledCycles = Math.round(this.cpu.icount + this.cpu.chargedCycles - this.padCredit + this.instructionExtra);
    for (const k of Object.keys(c.charged)) c.charged[k] = Math.round(c.charged[k]!);
    return c;
  }

  // ------------------------------------------------------------------ charging

  private charge(cycles: number, what: string): void {
    this.cpu.addCycles(cycles);
    bump(this.counters.charged, what, cycles);
  }
  private exit(reason: ExitReason): void {
    bump(this.counters.exits, reason);
    this.charge(this.costs.exit[reason], 'exits');
  }
  private hypercall(kind: string): void {
    if (this.ptQueued > 0) this.flushPageTables();
    bump(this.counters.hypercalls, kind);
    this.charge(this.costs.hypercall.base + (this.costs.hypercall.work[kind] ?? 0), 'hypercalls');
  }
  private ipc(kind: string, count = 1): void {
    if (this.ptQueued > 0) this.flushPageTables();
    bump(this.counters.ipcs, kind, count);
    this.charge(count * this.costs.ipc + (this.costs.ipcWork[kind] ?? this.costs.ipcWork.control ?? 0), 'ipc');
  }
  private inPlace(cycles: number): void {
    this.charge(cycles, 'in-place');
  }
  /** The in-place VMM hands an operation to its hypervisor: an exit, a hypercall or an IPC round trip. */
  private forward(kind: string, exitReason: ExitReason = 'vmcall'): void {
    switch (this.backend) {
      case 'hvm': this.exit(exitReason); break;
      case 'xen': this.hypercall(kind); break;
      case 'l4': this.ipc(kind, 2); break;
      default: break;
    }
    if (kind === 'console_io') this.uartPending = 0;
  }

  // ------------------------------------------------------------------ unpatched sensitive instructions

  private onSensitive(id: number, eip: number): void {
    const cls = sensitiveClassById(id);
    if (!cls) return;
    bump(this.counters.sensitive, cls.name);
    if (this.inMonitor) return;
    const cpu = this.cpu;
    const site = this.sitesByAddress.get(eip >>> 0);
    // The pad runs after the instruction, unless the instruction never falls through (iret, lret,
    // sysexit: their pads are never executed, so never counted, and there is nothing to credit).
    if (site !== undefined && site.padNops > 0 && site.patch.form === 'keep' && !endsFlow(site.insn)) {
      const credit = site.padNops * (1 - this.costs.padNop);
      this.padCredit += credit;
      bump(this.counters.charged, 'pad-nops', -credit);
    }
    if (cpu.cpl !== 3 && this.rewrittenAt.size > 0) {
      // The in-place VMM's own instructions (an inline sequence, a plain stub in the window) do what
      // they are there for (an IOPL change reaches the monitor through the sequence's hook).
      const lin = (cpu.segBase[1] + eip) >>> 0;
      const own = this.rewrittenAt.get(lin);
      if (own !== undefined || cpu.inMonitorWindow(lin)) { this.chargeInstruction(cls.name); return; }
    }
    if (cpu.cpl === 3) {
      // In user mode cli/sti/in/out run only with IOPL 3 (otherwise #GP, an exception).
      if (cls.privilege !== 'faults-in-user' || (cpu.flags & IOPL) === IOPL) this.chargeInstruction(cls.name);
      // User code: system-call entries go through the hypervisor (xen: sysenter bounces; l4: every
      // entry into the guest kernel is an exception IPC, charged where the interrupt is delivered).
      if (cls.name === 'sysenter') {
        if (this.backend === 'xen') { bump(this.counters.hypercalls, 'sysenter_bounce'); this.charge(this.costs.xenBounce, 'hypercalls'); }
        else if (this.backend === 'l4') this.ipc('syscall');
      }
      return;
    }
    // What exits or traps is the hypervisor's work (its cost is the exit's or the trap's); what
    // runs on the processor costs what the instruction costs.
    const handled = this.backend === 'native' ? false
      : this.backend === 'hvm' ? this.hvmUnpatched(cls.name, eip) : this.deprivUnpatched(cls.name, cls.privilege, eip);
    if (!handled) this.chargeInstruction(cls.name);
  }

  /** A sensitive instruction the processor runs: its cost beyond one instruction (cost table). */
  private chargeInstruction(name: string): void {
    // A port access waits for the device's bus cycle: virtual time, like an exit.
    if (name === 'in' || name === 'out') { this.charge(Math.max(0, this.costs.portAccess - this.costs.instruction), 'port-io'); return; }
    const cost = this.costs.instructionCost[name];
    if (cost === undefined) return;
    this.instructionExtra += cost - this.costs.instruction;
    bump(this.counters.charged, 'instruction-cost', cost - this.costs.instruction);
  }

  /** hvm: the exits of an unmodified kernel (interrupt windows included); true when the instruction itself exits. */
  private hvmUnpatched(name: string, eip: number): boolean {
    const cpu = this.cpu;
    const shadow = this.paging === 'shadow';
    const exit = (reason: ExitReason): true => { this.exit(reason); return true; };
    switch (name) {
      case 'in': case 'out': case 'ins': case 'outs': return exit('io');
      case 'hlt': return exit('hlt');
      case 'cpuid': return exit('cpuid');
      case 'rdmsr': case 'wrmsr': return exit('msr');
      case 'clts': case 'lmsw': return exit('cr-access');
      case 'mov-to-dr': case 'mov-from-dr': return exit('dr-access');
      case 'invd': case 'wbinvd': return exit('wbinvd');
      case 'rdpmc': return exit('rdpmc');
      case 'invlpg': return shadow && exit('invlpg');
      case 'mov-to-cr': case 'mov-from-cr': {
        // CR0/CR4 writes exit (guest/host masks); reads come from the read shadows; CR3 exits only
        // with shadow paging (CR3-load/store exiting).
        const crn = this.crOperand(eip);
        return (crn === 3 ? shadow : name === 'mov-to-cr' && crn !== 2) && exit('cr-access');
      }
      case 'sti': case 'popf': case 'iret':
        // The interrupt window exits after the instruction has run.
        if (!(cpu.flags & IF) && cpu.intrLine && this.enablesInterrupts(name)) this.exit('interrupt-window');
        return false;
      default: return false;
    }
  }

  /** xen and l4: a faulting instruction traps into the hypervisor, which emulates it; true when it traps. */
  private deprivUnpatched(name: string, privilege: string, eip: number): boolean {
    if (privilege === 'silently-differs') { this.noteSilent(name, eip); return false; }
    if (privilege !== 'faults-in-user') return false;
    bump(this.counters.traps, name);
    if (this.backend === 'xen') this.charge(this.costs.xenTrap, 'traps');
    else this.ipc('exception', 2);
    if (name === 'in' || name === 'out' || name === 'ins' || name === 'outs') this.charge(this.backend === 'xen' ? this.costs.hypercall.work.io! : this.costs.ipcWork.io!, 'traps');
    if (name === 'mov-to-cr' && this.crOperand(eip) === 3 && this.backend === 'l4') this.ipc('address-space');
    return true;
  }

  /** What an unpatched silently-differing instruction is about to get wrong (for --force runs). */
  private noteSilent(name: string, eip: number): void {
    const cpu = this.cpu;
    const silent = this.counters.silent;
    switch (name) {
      case 'popf': case 'iret': {
        const image = this.stackWord(name === 'iret' ? 8 : 0);
        if (image !== null && ((image ^ cpu.flags) & IF)) bump(silent, `${name} dropped an IF change`);
        return;
      }
      case 'pushf': if (!(cpu.flags & IF)) bump(silent, 'pushf showed IF=1 with interrupts off'); return;
      case 'sgdt': case 'sidt': case 'sldt': case 'str': case 'smsw': bump(silent, `${name} showed the hypervisor's value`); return;
      case 'mov-from-segment': case 'push-segment': {
        const reg = segmentOperand(this.decodeAt(eip));
        if (reg === 'cs' || reg === 'ss') bump(silent, `${name} showed RPL ${cpu.kernelRing}`);
        return;
      }
      default: return;
    }
  }

  private decodeAt(eip: number) {
    const lin = (this.cpu.segBase[1] + eip) | 0;
    const bytes = new Uint8Array(15);
    const n = this.cpu.fetchBytes(lin, bytes, 15);
    return this.cpu.decoder(bytes.subarray(0, n), 0, 32);
  }

  /** The control register of the mov to/from CR at eip (decoded once per EIP). */
  private crOperand(eip: number): number {
    let crn = this.crByEip.get(eip);
    if (crn === undefined) {
      crn = controlRegisterOperand(this.decodeAt(eip));
      this.crByEip.set(eip, crn);
    }
    return crn;
  }

  /** Whether sti/popf/iret about to run sets IF (popf and iret: the image on the stack). */
  private enablesInterrupts(name: string): boolean {
    if (name === 'sti') return true;
    return ((this.stackWord(name === 'iret' ? 8 : 0) ?? 0) & IF) !== 0;
  }

  // ------------------------------------------------------------------ interrupts and exceptions

  private onDeliver(vector: number, kind: 'exception' | 'interrupt' | 'software'): void {
    // The hypervisor runs (or the guest kernel is entered from user mode): the queue goes out first.
    if (this.ptQueued > 0) this.flushPageTables();
    const c = this.counters;
    const fromUser = this.cpu.cpl === 3;
    if (kind === 'interrupt') {
      c.interrupts++;
      if (this.backend === 'hvm') this.exit('external-interrupt');
      else if (this.backend === 'xen') { bump(c.hypercalls, 'event_upcall'); this.charge(this.costs.xenEvent, 'events'); }
      else if (this.backend === 'l4') this.ipc('interrupt');
      return;
    }
    if (kind === 'software') {
      c.softwareInterrupts++;
      // xen installs the guest's DPL-3 gates directly (a system call never enters Xen); under l4 the
      // trap is an exception IPC to the guest kernel.
      if (this.backend === 'l4') this.ipc(fromUser ? 'syscall' : 'exception');
      return;
    }
    c.exceptions++;
    if (this.backend === 'hvm') {
      if (vector === 14 && this.paging === 'shadow') this.exit('pagefault');
    } else if (this.backend === 'xen') {
      bump(c.hypercalls, 'exception_bounce');
      this.charge(this.costs.xenBounce, 'events');
    } else if (this.backend === 'l4') {
      this.ipc(vector === 14 ? 'pagefault' : 'exception');
    }
  }

  // ------------------------------------------------------------------ the monitor call

  private onMonitorCall(linear: number): void {
    const lin = linear >>> 0;
    const w = this.opts.window!;
    const cpu = this.cpu;
    if (lin === w.hypercallStub) {
      if (!this.opts.hypercallPage) throw new MachineStop(`hypercall at 0x${lin.toString(16)} from a kernel without a hypercall page`, 'unsupported');
      this.pvHypercall();
      cpu.eip = (lin + 3) | 0;
      return;
    }
    if (lin >= w.stubs + PLAIN.ret) { this.plainStubCall(lin - w.stubs); cpu.eip = (lin + 3) | 0; return; }
    const sp = cpu.regs[4];
    const ret = cpu.rd32(cpu.stackAddr(sp, 4, false)) >>> 0;
    const site = this.siteByReturn.get(ret);
    if (!site || w.kindAtStub(lin) !== site.kind) {
      throw new MachineStop(`monitor call at 0x${lin.toString(16)} from 0x${((ret - 5) >>> 0).toString(16)}, which is not a patched site of this kind`, 'unsupported');
    }
    cpu.regs[4] = (sp + 4) | 0;
    bump(this.counters.inPlace, site.kindName);
    this.inPlace(this.costs.inPlaceEntry);
    this.siteOp(site);
  }

  // ------------------------------------------------------------------ the inline sequences' hooks

  /** An interrupt would be taken now (the virtual IF is set and the 8259 asserts its line). */
  private interruptPending(): boolean {
    return (this.cpu.flags & IF) !== 0 && this.cpu.intrLine;
  }

  private stackWord(offset: number): number | null {
    const cpu = this.cpu;
    try { return cpu.rd32(cpu.stackAddr((cpu.regs[4] + offset) | 0, 4, false)) >>> 0; } catch { return null; }
  }

  /**
   * Where a hook word points now (offset in the stub page). The hypervisor keeps the words current
   * (an interrupt becoming pending, an IOPL change, the page-table queue); computed on each read here.
   * `call *hook` reads it before pushing: the frame of iret is at 0(%esp).
   */
  private hookTarget(off: number): number {
    const ioplSet = (this.cpu.flags & IOPL) !== 0;
    switch (off) {
      // sti, popf, iret: the hook is read before vif changes; with the interrupt line asserted an
      // interrupt may become deliverable, so the monitor takes the instruction.
      case STATE.stiHook: return this.cpu.intrLine ? PLAIN.deliver : PLAIN.stiSet;
      case STATE.popfHook: return this.cpu.intrLine || ioplSet ? PLAIN.popfSlow : PLAIN.popfCheck;
      case STATE.returnHook: {
        const toUser = this.ptQueued > 0 && ((this.stackWord(4) ?? 0) & 3) === 3;
        return this.cpu.intrLine || ioplSet || toUser ? PLAIN.iretSlow : PLAIN.iretCheck;
      }
      case STATE.exitHook: return this.interruptPending() || this.ptQueued > 0 ? PLAIN.leave : PLAIN.ret;
      // The image may enable: with the line asserted an interrupt can become deliverable.
      case STATE.irqRestoreHook: return this.cpu.intrLine ? PLAIN.irqRestoreSlow : PLAIN.irqRestore;
      default: return ioplSet ? PLAIN.slowPair : PLAIN.flagsPair; // flagsHook, without its vif byte
    }
  }

  /** The delivery of an interrupt pending when a sequence enables: a hypercall on xen, the in-place VMM elsewhere. */
  private deliverPendingNow(): void {
    if (this.backend === 'xen') this.hypercall('force_callback');
    else this.inPlace(this.costs.inPlace.deliverPending);
  }

  /**
   * A monitor call from a plain stub of the inline sequences (offset in the stub page). The stack
   * holds the return address into the sequence, then the image or frame of the instruction.
   */
  private plainStubCall(off: number): void {
    const cpu = this.cpu;
    const k = this.costs.inPlace;
    const site = this.hookReturn.get(this.stackWord(0) ?? -1);
    bump(this.counters.inPlace, site ? `${site.kindName} (hook)` : 'sysexit (hook)');
    this.inPlace(this.costs.inPlaceEntry);
    const sp = cpu.regs[4];
    switch (off) {
      case PLAIN.deliver:
        // sti: vif set; the interrupt is taken after the instruction that follows the site (sti's shadow).
        this.setVirtualIf(true);
        if (this.interruptPending()) { this.deliverPendingNow(); cpu.intShadow = true; }
        return;
      case PLAIN.popfSlow: case PLAIN.iretSlow: {
        // The image's IF becomes the virtual IF; below ring 0 popfl/iretl cannot change IOPL: the
        // monitor applies the image's, as the original does at CPL 0; then what is pending goes.
        this.inPlace(k.flags);
        const image = this.stackWord(off === PLAIN.popfSlow ? 4 : 12);
        if (image !== null) {
          this.setVirtualIf((image & IF) !== 0);
          cpu.flags = (cpu.flags & ~IOPL) | (image & IOPL);
        }
        if (off === PLAIN.iretSlow && ((this.stackWord(8) ?? 0) & 3) === 3) this.flushPageTables();
        if (this.interruptPending()) this.deliverPendingNow();
        return;
      }
      case PLAIN.irqRestoreSlow: {
        // An IF-only popf: the image's IF becomes the virtual IF; an interrupt it enables is taken
        // at once (popf has no shadow), before the stub's `ret $4` pops the image.
        const image = this.stackWord(4);
        if (image !== null) this.setVirtualIf((image & IF) !== 0);
        if (this.interruptPending()) this.deliverPendingNow();
        return;
      }
      case PLAIN.leave:
        this.flushPageTables();
        if (this.interruptPending()) this.deliverPendingNow();
        return;
      case PLAIN.slowPair + 1: case PLAIN.slowPair + 17: {
        // pushf with a virtual IOPL: the image shows the virtual IF and IOPL.
        this.inPlace(k.flags);
        const at = cpu.stackAddr((sp + 4) | 0, 4, true);
        const image = cpu.rd32(at);
        cpu.wr32(at, (image & ~(IF | IOPL)) | (cpu.flags & (IF | IOPL)));
        return;
      }
      default:
        throw new MachineStop(`monitor call at stub offset 0x${off.toString(16)}, which is no entry of the in-place VMM`, 'unsupported');
    }
  }

  /** Runs a site's original instruction for the virtual CPL 0; a fault is raised at the site. */
  private runOriginal(site: Site): void {
    const cpu = this.cpu;
    let op = this.siteOps.get(site);
    if (!op) {
      op = compileOne(cpu, site.bytes, site.address, (site.address + site.siteLen) | 0).op;
      this.siteOps.set(site, op);
    }
    cpu.eip = (site.address + site.siteLen) | 0;
    const ring = cpu.kernelRing;
    cpu.kernelRing = 0;
    this.inMonitor = true;
    let faulted = false;
    try {
      op();
    } catch (e) {
      if (e !== FAULT) throw e;
      faulted = true;
    } finally {
      cpu.kernelRing = ring;
      this.inMonitor = false;
    }
    if (faulted) cpu.raiseAt(FAULT.vector, FAULT.hasCode, FAULT.code, site.address);
  }

  /** What the in-place VMM does for a site on this back end: charges, then the original instruction. */
  private siteOp(site: Site): void {
    const cpu = this.cpu;
    const k = this.costs.inPlace;
    const b = this.backend;
    switch (site.kindName) {
      case 'sti': case 'popf': case 'iret': case 'pushf': case 'irq-restore': {
        this.inPlace(k.flags);
        const masked = !(cpu.flags & IF);
        const fromCpl = cpu.cpl;
        this.runOriginal(site);
        if (masked && (cpu.flags & IF) && cpu.intrLine) {
          // An interrupt arrived while the virtual IF was clear: xen needs a hypercall to have the
          // event delivered; under hvm and l4 the in-place VMM delivers it itself.
          if (b === 'xen') this.hypercall('force_callback');
          else this.inPlace(k.deliverPending);
        }
        if (b === 'l4' && site.kindName === 'iret' && fromCpl === 0 && cpu.cpl === 3) this.ipc('syscall');
        if (fromCpl === 0 && cpu.cpl === 3) this.flushPageTables();
        return;
      }
      case 'in': case 'out': case 'ins': case 'outs':
        this.ioSite(site);
        return;
      case 'hlt':
        if (this.uartPending > 0) this.forward('console_io');
        if (b === 'xen') this.hypercall('sched_block');
        else if (b === 'hvm') this.exit('hlt');
        else this.ipc('halt');
        break;
      case 'cpuid': {
        const key = `${cpu.regs[0] >>> 0}:${cpu.regs[1] >>> 0}`;
        if (this.cpuidSeen.has(key)) this.inPlace(k.shadowRead);
        else { this.cpuidSeen.add(key); this.forward('cpuid', 'cpuid'); }
        break;
      }
      case 'mov-to-cr': {
        const crn = controlRegisterOperand(site.insn);
        if (crn === 3) {
          const same = (cpu.regs[site.insn.modrm! & 7]! >>> 0) === (cpu.cr3 >>> 0);
          if (b === 'xen') this.hypercall(same ? 'mmuext_tlb_flush' : 'mmuext_new_baseptr');
          else if (b === 'l4') this.ipc('address-space', 2);
          else if (b === 'hvm') { if (this.paging === 'shadow') this.exit('cr-access'); else this.inPlace(k.shadowRead); }
        } else if (crn === 2) this.inPlace(k.shadowRead);
        else this.forward(crn === 0 && this.onlyTsChanges(site) ? 'fpu_taskswitch' : 'write_cr4', 'cr-access');
        break;
      }
      case 'mov-from-cr': case 'rdmsr': case 'sgdt': case 'sidt': case 'sldt': case 'str': case 'smsw':
      case 'pte-read': case 'pde-read':
        this.inPlace(k.shadowRead);
        break;
      case 'mov-to-dr': this.forward('set_debugreg', 'dr-access'); break;
      case 'mov-from-dr': {
        const drn = controlRegisterOperand(site.insn);
        if (drn === 6 || drn === 4) this.forward('get_debugreg', 'dr-access');
        else this.inPlace(k.shadowRead);
        break;
      }
      case 'clts': case 'lmsw': this.forward('fpu_taskswitch', 'cr-access'); break;
      case 'wrmsr': this.forward(b === 'xen' ? 'set_callbacks' : 'msr', 'msr'); break;
      case 'invd': case 'wbinvd': this.forward('cache_flush', 'wbinvd'); break;
      case 'invlpg':
        if (b === 'xen') this.hypercall('mmuext_invlpg');
        else if (b === 'l4') this.ipc('map', 2);
        else if (this.paging === 'shadow') this.exit('invlpg');
        else this.inPlace(k.shadowRead);
        break;
      case 'lgdt': this.forward(b === 'xen' ? 'set_gdt' : 'descriptor'); break;
      case 'lidt': this.forward(b === 'xen' ? 'set_trap_table' : 'descriptor'); break;
      case 'lldt': this.forward(b === 'xen' ? 'mmuext_set_ldt' : 'descriptor'); break;
      case 'ltr': case 'lar': case 'lsl': case 'verr': case 'verw': case 'ljmp': case 'lcall': case 'lret': case 'arpl':
      case 'load-far-pointer': case 'mov-to-segment': case 'mov-from-segment': case 'push-segment': case 'pop-segment':
      case 'swapgs': case 'rdpmc':
        this.inPlace(k.descriptor);
        break;
      case 'sysexit': case 'sysret':
        this.inPlace(k.descriptor);
        this.runOriginal(site);
        if (b === 'l4') this.ipc('syscall');
        this.flushPageTables();
        return;
      case 'pte-set': case 'pde-set': case 'pte-test-and-clear':
        this.pageTableSite(site);
        return;
      case 'mmio-read': case 'mmio-write':
        // Classified by the access itself (mmioRead/mmioWrite below).
        this.mmioSite = true;
        try { this.runOriginal(site); } finally { this.mmioSite = false; }
        return;
      default:
        this.inPlace(k.descriptor);
    }
    this.runOriginal(site);
  }

  private onlyTsChanges(site: Site): boolean {
    const v = this.cpu.regs[site.insn.modrm! & 7]!;
    return ((v ^ this.cpu.cr0) & ~8) === 0;
  }

  // ------------------------------------------------------------------ page tables

  private pageTableSite(site: Site): void {
    const b = this.backend;
    if (b === 'xen' || b === 'l4') {
      // Queued in place; the batch goes to the hypervisor when it is full or before anything else
      // reaches the hypervisor (a hypercall or IPC of another kind, an interrupt, an exception, a
      // TLB flush, the return to user mode), so it never sees stale page tables.
      this.inPlace(this.costs.inPlace.queue);
      this.ptQueued++;
    } else if (b === 'hvm' && this.paging === 'shadow') this.exit('vmcall');
    else this.inPlace(this.costs.inPlace.queue);
    this.runOriginal(site);
    if (site.kindName === 'pde-set' && this.watching) this.rescanDirectory();
    if (this.ptQueued >= PAGE_TABLE_BATCH) this.flushPageTables();
  }

  /** Hands the queued page-table updates to the hypervisor: one mmu_update or one map IPC. */
  private flushPageTables(): void {
    const n = this.ptQueued;
    if (n === 0 || this.flushingPageTables) return;
    this.flushingPageTables = true;
    this.ptQueued = 0;
    try {
      if (this.backend === 'xen') {
        this.mmuUpdate(n);
      } else if (this.backend === 'l4') {
        this.ipc('map', 2);
        if (n > 1) this.charge((n - 1) * (this.costs.ipcWork.map ?? 0), 'ipc');
      }
    } finally {
      this.flushingPageTables = false;
    }
  }

  /** One mmu_update hypercall for n entries (its base cost covers the first). */
  private mmuUpdate(n: number): void {
    this.hypercall('mmu_update');
    if (n > 1) this.charge((n - 1) * (this.costs.hypercall.work.mmu_update ?? 0), 'hypercalls');
  }

  /** The PD of CR3 and every page table it references become watched; a window mapping is refused. */
  private watchCr3(): void {
    const cpu = this.cpu;
    if (!(cpu.cr0 & 0x80000000) && cpu.cr3 === 0) { this.pd = -1; return; }
    this.pd = (cpu.cr3 >>> 12);
    this.rescanDirectory();
  }

  private rescanDirectory(): void {
    const cpu = this.cpu;
    const pdPage = cpu.cr3 >>> 12;
    this.pd = pdPage;
    if ((pdPage + 1) * 4096 > cpu.ramSize) return;
    cpu.watchPage(pdPage, true);
    for (let i = 0; i < 1024; i++) {
      const pde = cpu.view.getInt32(pdPage * 4096 + 4 * i, true);
      this.checkWindowMapping(i, pde);
      this.watchTable(this.tableOf(pde));
    }
  }

  /** The page-table frame a directory entry references, or -1 (not present, or a 4 MB page). */
  private tableOf(pde: number): number {
    return (pde & 1) && !((pde & 0x80) && (this.cpu.cr4 & 0x10)) ? pde >>> 12 : -1;
  }

  /** Watches a page-table frame that lies in RAM. */
  private watchTable(frame: number): void {
    if (frame >= 0 && frame * 4096 < this.cpu.ramSize) this.cpu.watchPage(frame, true);
  }

  private checkWindowMapping(index: number, pde: number): void {
    const w = this.opts.window;
    if (!w || index !== w.slot || !(pde & 1)) return;
    if (this.backend !== 'xen' && this.backend !== 'l4') return;
    throw new MachineStop(`the guest maps 0x${w.base.toString(16)}-0x${(w.base + 0x3fffff).toString(16)} (page-directory entry ${index} = 0x${(pde >>> 0).toString(16)}), which the ${this.backend} back end reserves for the in-place monitor`, 'unsupported');
  }

  /** A guest write to a watched page: a page-table write outside the monitor (the slow path). */
  private onPageWrite(phys: number, size: 1 | 2 | 4, value: number): void {
    if (this.inMonitor) return;
    const cpu = this.cpu;
    if ((cpu.cr3 >>> 12) !== this.pd) this.watchCr3();
    const page = phys >>> 12;
    const isPd = page === this.pd;
    if (!isPd && !this.referencedByDirectory(page)) {
      // No longer a page table of the running address space: the hypervisor retypes it as plain memory.
      cpu.watchPage(page, false);
      return;
    }
    this.flushPageTables();
    this.counters.ptWriteFaults++;
    if (this.backend === 'xen') this.charge(this.costs.xenPtWriteFault, 'pt-write-faults');
    else if (this.backend === 'l4') { bump(this.counters.ipcs, 'pagefault', 2); this.charge(2 * this.costs.ipc + this.costs.ipcWork.pagefault!, 'pt-write-faults'); }
    else { bump(this.counters.exits, 'pt-write'); this.charge(this.costs.exit['pt-write'], 'pt-write-faults'); }
    if (isPd && size === 4) {
      this.checkWindowMapping((phys & 0xfff) >> 2, value);
      this.watchTable(this.tableOf(value));
    }
  }

  private referencedByDirectory(page: number): boolean {
    const cpu = this.cpu;
    if (this.pd < 0) return false;
    const base = this.pd << 12;
    for (let i = 0; i < 1024; i++) {
      if (this.tableOf(cpu.view.getInt32(base + 4 * i, true)) === page) return true;
    }
    return false;
  }

  // ------------------------------------------------------------------ port I/O and the in-place device models

  private ioSite(site: Site): void {
    const cpu = this.cpu;
    const insn = site.insn;
    const immediatePort = insn.opcodeMap === 'primary' && insn.opcode >= 0xe4 && insn.opcode <= 0xe7;
    const port = immediatePort ? insn.immediate & 0xff : cpu.regs[2] & 0xffff;
    const write = site.kindName === 'out' || site.kindName === 'outs';
    const string = site.kindName === 'ins' || site.kindName === 'outs';
    const count = string && insn.prefixes.rep ? (insn.addressSize === 16 ? cpu.regs[1] & 0xffff : cpu.regs[1] >>> 0) : 1;
    const value = write && !string ? cpu.regs[0] : 0;
    this.lastIoSize = insn.opcode & 1 ? (insn.operandSize === 16 ? 2 : 4) : 1;
    if (this.inPlaceDevice(port, write, string, count, value)) this.inPlace(this.costs.inPlace.device);
    this.runOriginal(site);
  }

  /**
   * The in-place device models: which accesses the in-place VMM completes without its hypervisor.
   * Returns true when the access stays in place; otherwise it has already charged the forward.
   */
  private inPlaceDevice(port: number, write: boolean, string: boolean, count: number, value: number): boolean {
    // 8259: masks, EOI, OCW3 and IRR/ISR reads in place; the initialisation sequence goes out.
    if (port === 0x20 || port === 0xa0 || port === 0x21 || port === 0xa1) {
      const which = port >= 0xa0 ? 1 : 0;
      if (write && (port & 1) === 0 && (value & 0x10)) {
        this.icwLeft[which] = value & 1 ? 3 : 2;
        this.icwNeeds4[which] = (value & 1) !== 0;
        if (value & 2) this.icwLeft[which]--;
        this.forward('io', 'io');
        return false;
      }
      if (write && (port & 1) === 1 && this.icwLeft[which]! > 0) {
        this.icwLeft[which]!--;
        this.forward('io', 'io');
        return false;
      }
      return !string;
    }
    // 8254: counter reads and latch commands in place (the counter follows from the TSC).
    if (port >= 0x40 && port <= 0x42 && !write) return true;
    if (port === 0x43 && write && (value & 0x30) === 0) return true;
    // POST port 0x80: the I/O delay, nothing listens.
    if (port === 0x80 && write) return true;
    // 16550: transmitted bytes are buffered and sent one line at a time; LSR is read in place.
    if (port >= 0x3f8 && port <= 0x3ff) {
      const reg = port - 0x3f8;
      if (reg === 0 && write && !(this.uartLcr & 0x80) && !this.uartLoopback) {
        const n = string ? count : 1;
        this.uartPending += n;
        if (this.containsNewline(string, count, value) || this.uartPending >= 64) this.forward('console_io');
        return true;
      }
      if (reg === 5 && !write && !string) return true;
      if (this.uartPending > 0) this.forward('console_io');
      if (write && reg === 3) this.uartLcr = value & 0xff;
      if (write && reg === 4) this.uartLoopback = (value & 0x10) !== 0;
      this.forward('io', 'io');
      return false;
    }
    // ATA: task-file writes are queued until the command; status reads come from the mirror while
    // the drive's interrupt is disabled (nIEN), when reading it has no side effect.
    if ((port >= 0x1f1 && port <= 0x1f6) && write && !string) { this.ataQueued++; return true; }
    // ATA data port, one word or dword at a time: the first read of a sector fetches all of it (one
    // exit), the rest is served in place; writes are held until the sector is complete.
    if (port === 0x1f0 && !string) {
      const size = this.lastIoSize;
      if (!write) {
        if (this.ataReadAhead >= size) { this.ataReadAhead -= size; return true; }
        this.ataReadAhead = 512 - size;
      } else {
        this.ataWriteHeld += size;
        if (this.ataWriteHeld < 512) return true;
        this.ataWriteHeld = 0;
      }
      this.forward('io', 'io');
      return false;
    }
    if (port === 0x1f7 && write) { this.ataReadAhead = 0; this.ataWriteHeld = 0; }
    if ((port === 0x1f7 || port === 0x3f6) && !write && !string && this.ataNoInterrupts) return true;
    if (port === 0x3f6 && write) this.ataNoInterrupts = (value & 2) !== 0;
    if (port === 0x1f7 && write && this.ataQueued > 0) { this.ataQueued = 0; this.forward('io_batch', 'io'); return false; }
    if (port === 0xf4 && this.uartPending > 0) this.forward('console_io');
    this.forward('io', 'io');
    return false;
  }

  private containsNewline(string: boolean, count: number, value: number): boolean {
    if (!string) return (value & 0xff) === 0x0a;
    const cpu = this.cpu;
    const esi = cpu.regs[6] >>> 0;
    const base = cpu.segBase[SEG_DS];
    try {
      for (let i = 0; i < count && i < 4096; i++) if (cpu.rd8((base + esi + i) | 0) === 0x0a) return true;
    } catch {
      return false;
    }
    return false;
  }

  // ------------------------------------------------------------------ MMIO: the state block and devices

  private mmioRead(addr: number, size: 1 | 2 | 4): number {
    if ((addr >>> 12) === (STATE_PHYS >>> 12)) return this.stateRead(addr & 0xfff, size);
    this.deviceAccess(addr >>> 0, false);
    return this.origMmioRead(addr, size);
  }
  private mmioWrite(addr: number, size: 1 | 2 | 4, value: number): void {
    if ((addr >>> 12) === (STATE_PHYS >>> 12)) { this.stateWrite(addr & 0xfff, size, value); return; }
    this.deviceAccess(addr >>> 0, true);
    this.origMmioWrite(addr, size, value);
  }

  /** An access to a device register outside the monitor (unannotated, or kept on hvm). */
  private deviceAccess(addr: number, write: boolean): void {
    if (this.mmioSite) {
      // The in-place VMM latches the I/O APIC's register select; everything else goes out.
      if (write && addr === 0xfec00000) this.inPlace(this.costs.inPlace.device);
      else this.forward('mmio', 'apic-access');
      return;
    }
    if (this.inMonitor) return;
    switch (this.backend) {
      case 'hvm': this.exit('apic-access'); break;
      case 'xen': this.counters.mmioFaults++; this.charge(this.costs.xenTrap + (this.costs.hypercall.work.mmio ?? 0), 'traps'); break;
      case 'l4': this.counters.mmioFaults++; this.ipc('mmio', 2); break;
      default: break;
    }
  }

  private stateRead(off: number, size: 1 | 2 | 4): number {
    if (size === 4 && this.opts.window && (off === STATE.stiHook || off === STATE.popfHook || off === STATE.returnHook || off === STATE.exitHook
      || off === STATE.irqRestoreHook)) {
      return (this.opts.window.stubs + this.hookTarget(off)) | 0;
    }
    let v = 0;
    for (let i = 0; i < size; i++) v |= this.stateByte(off + i) << (8 * i);
    return size === 4 ? v | 0 : v;
  }

  private stateByte(off: number): number {
    const cpu = this.cpu;
    const pic = this.machine.pic;
    switch (off) {
      case STATE.upcallPending: return cpu.intrLine ? 1 : 0;
      case STATE.upcallMask: return cpu.flags & IF ? 0 : 1;
      case STATE.vif: return cpu.flags & IF ? VIF_ON : 0;
      case STATE.cr2: case STATE.cr2 + 1: case STATE.cr2 + 2: case STATE.cr2 + 3: return (cpu.cr2 >>> (8 * (off - STATE.cr2))) & 0xff;
      case STATE.picMask: return pic.master.imr;
      case STATE.picMask + 1: return pic.slave.imr;
      case STATE.picIsr: return pic.master.isr;
      case STATE.picIsr + 1: return pic.slave.isr;
      case STATE.picIrr: return pic.master.irr;
      case STATE.picIrr + 1: return pic.slave.irr;
      case STATE.uartLsr: return this.origIoRead(0x3fd, 1);
      case STATE.flagsHook + 1: case STATE.flagsHook + 2: case STATE.flagsHook + 3:
        return ((this.opts.window!.stubs + this.hookTarget(STATE.flagsHook)) >>> (8 * (off - STATE.flagsHook))) & 0xff;
      case STATE.sysexitCs: case STATE.sysexitCs + 1: return (((cpu.sysenterCs + 16) | 3) >>> (8 * (off - STATE.sysexitCs))) & 0xff;
      case STATE.sysexitSs: case STATE.sysexitSs + 1: return (((cpu.sysenterCs + 24) | 3) >>> (8 * (off - STATE.sysexitSs))) & 0xff;
      case STATE.sysexitCs + 2: case STATE.sysexitCs + 3: case STATE.sysexitSs + 2: case STATE.sysexitSs + 3: return 0;
      case STATE.ataStatus: return this.origIoRead(0x3f6, 1);
      default: return this.stateScratch[off]!;
    }
  }

  private stateWrite(off: number, size: 1 | 2 | 4, value: number): void {
    for (let i = 0; i < size; i++) this.stateWriteByte(off + i, (value >>> (8 * i)) & 0xff);
  }

  private stateWriteByte(off: number, v: number): void {
    switch (off) {
      case STATE.upcallMask: this.setVirtualIf(v === 0); return;
      case STATE.vif: this.setVirtualIf(v !== 0); return;
      case STATE.picMask: this.origIoWrite(0x21, 1, v); return;
      case STATE.picMask + 1: this.origIoWrite(0xa1, 1, v); return;
      case STATE.picEoi:
        if (v >= 8 && v < 16) this.origIoWrite(0xa0, 1, 0x60 | (v - 8));
        if (v < 16) this.origIoWrite(0x20, 1, 0x60 | (v >= 8 ? 2 : v));
        return;
      case STATE.upcallPending: case STATE.cr2: case STATE.cr2 + 1: case STATE.cr2 + 2: case STATE.cr2 + 3: case STATE.picIsr: case STATE.picIsr + 1: case STATE.picIrr: case STATE.picIrr + 1:
      case STATE.uartLsr: case STATE.ataStatus:
        return;
      default: this.stateScratch[off] = v;
    }
  }

  /** The virtual interrupt flag is the CPU's IF: the hypervisor delivers only while it is set. */
  private setVirtualIf(on: boolean): void {
    const cpu = this.cpu;
    if (on) { cpu.flags |= IF; cpu.exitRequest = true; } else cpu.flags &= ~IF;
  }

  // ------------------------------------------------------------------ hypercalls of a para-virtual kernel

  private pvHypercall(): void {
    const cpu = this.cpu;
    const R = cpu.regs;
    const nr = R[0] >>> 0;
    const a1 = R[3] >>> 0, a2 = R[1] >>> 0, a3 = R[2] >>> 0;
    const H = HYPERCALL;
    const count = (kind: string) => this.hypercall(kind);
    let result = 0;
    this.inMonitor = true;
    try {
      switch (nr) {
        case H.set_trap_table: count('set_trap_table'); cpu.idtBase = a1 | 0; cpu.idtLimit = a2 & 0xffff; break;
        case H.set_gdt: count('set_gdt'); cpu.gdtBase = a1 | 0; cpu.gdtLimit = a2 & 0xffff; break;
        case H.stack_switch: count('stack_switch'); cpu.sysWrite32((cpu.trBase + 4) | 0, a2 | 0); cpu.sysWrite32((cpu.trBase + 8) | 0, a1 & 0xffff); break;
        case H.fpu_taskswitch: count('fpu_taskswitch'); if (a1) cpu.cr0 |= 8; else cpu.cr0 &= ~8; break;
        case H.set_debugreg: count('set_debugreg'); cpu.dr[a1 & 7] = a2 | 0; cpu.debugActive = (cpu.dr[7]! & 0xff) !== 0; break;
        case H.get_debugreg: count('get_debugreg'); result = (a1 & 7) === 6 ? cpu.dr[6]! | 0xffff0ff0 : (a1 & 7) === 7 ? cpu.dr[7]! | 0x400 : cpu.dr[a1 & 7]!; break;
        case H.xen_version: count('xen_version'); result = 0x00030004; break;
        case H.force_callback: count('force_callback'); break;
        case H.shared_info: count('shared_info'); result = this.opts.window!.state; break;
        case H.console_io: {
          count('console_io');
          if (a1 === CONSOLEIO_WRITE) for (let i = 0; i < a2; i++) this.origIoWrite(0x3f8, 1, cpu.rd8((a3 + i) | 0));
          result = a2;
          break;
        }
        case H.io_read: count('io'); result = this.origIoRead(a1 & 0xffff, (a2 & 7) as 1 | 2 | 4); break;
        case H.io_write: count('io'); this.origIoWrite(a1 & 0xffff, (a2 & 7) as 1 | 2 | 4, a3 | 0); break;
        case H.io_rep_in: case H.io_rep_out: {
          count('io');
          const size = a2 & 7, n = R[6] >>> 0;
          for (let i = 0; i < n; i++) {
            const at = (a3 + i * size) | 0;
            if (nr === H.io_rep_in) {
              const v = this.origIoRead(a1 & 0xffff, size as 1 | 2 | 4);
              if (size === 1) cpu.wr8(at, v); else if (size === 2) cpu.wr16(at, v); else cpu.wr32(at, v);
            } else {
              const v = size === 1 ? cpu.rd8(at) : size === 2 ? cpu.rd16(at) : cpu.rd32(at);
              this.origIoWrite(a1 & 0xffff, size as 1 | 2 | 4, v);
            }
          }
          break;
        }
        case H.io_batch: {
          count('io_batch');
          for (let i = 0; i < a2; i++) {
            const at = (a1 + 8 * i) | 0;
            const portSize = cpu.rd32(at);
            this.origIoWrite(portSize & 0xffff, ((portSize >>> 16) & 7) as 1 | 2 | 4, cpu.rd32((at + 4) | 0));
          }
          break;
        }
        case H.mmio_read: count('mmio'); result = this.origMmioRead(a1, (a2 & 7) as 1 | 2 | 4); break;
        case H.mmio_write: count('mmio'); this.origMmioWrite(a1, (a2 & 7) as 1 | 2 | 4, a3 | 0); break;
        case H.mmu_update: {
          this.mmuUpdate(a2);
          let pdChanged = false;
          for (let i = 0; i < a2; i++) {
            const at = (a1 + 8 * i) | 0;
            const ptr = cpu.rd32(at) & ~3, val = cpu.rd32((at + 4) | 0);
            if ((ptr >>> 12) === this.pd) { this.checkWindowMapping((ptr & 0xfff) >> 2, val); pdChanged = true; }
            cpu.physWrite32(ptr >>> 0, val);
          }
          if (pdChanged) this.rescanDirectory();
          break;
        }
        case H.mmuext_op: {
          for (let i = 0; i < a2; i++) {
            const at = (a1 + 8 * i) | 0;
            const cmd = cpu.rd32(at), arg = cpu.rd32((at + 4) | 0);
            if (cmd === MMUEXT.new_baseptr) { count('mmuext_new_baseptr'); cpu.cr3 = arg; cpu.flushTlb(true); }
            else if (cmd === MMUEXT.tlb_flush_local) { count('mmuext_tlb_flush'); cpu.flushTlb(true); }
            else if (cmd === MMUEXT.invlpg_local) { count('mmuext_invlpg'); cpu.invlpg(arg); }
            else result = -1;
          }
          break;
        }
        case H.sched_op:
          if (a1 === SCHEDOP.block) {
            count('sched_block');
            if (this.uartPending > 0) this.forward('console_io');
            cpu.flags |= IF;
            cpu.halted = true;
          } else if (a1 === SCHEDOP.shutdown) {
            count('sched_shutdown');
            this.origIoWrite(0xf4, 4, a2);
          } else count('sched_yield');
          break;
        case H.callback_op:
          count('set_callbacks');
          if (a1 === CALLBACKTYPE_SYSENTER) { cpu.sysenterCs = a2 & 0xffff; cpu.sysenterEip = a3 | 0; cpu.sysenterEsp = R[6] | 0; }
          break;
        case H.write_cr4: {
          count('write_cr4');
          const changed = cpu.cr4 ^ a1;
          cpu.cr4 = a1 | 0;
          if (changed & 0x90) cpu.flushTlb(false);
          break;
        }
        case H.cache_flush: count('cache_flush'); break;
        default:
          count(`unknown_${nr}`);
          result = -38; // -ENOSYS
      }
    } catch (e) {
      if (e === FAULT) throw new MachineStop(`hypercall ${nr}: a guest buffer faulted (vector ${FAULT.vector})`, 'unsupported');
      throw e;
    } finally {
      this.inMonitor = false;
    }
    R[0] = result | 0;
  }
}

/** The bytes of a rewritten site (encodePatch refuses a patch longer than the site). */
function encodeSite(s: Site, w: WindowLayout): Uint8Array {
  return encodePatch(s.patch, s.kind, s.address, s.siteLen, {
    vifByte: w.vifByte, flagsHook: w.flagsHook, stiHook: w.stiHook, popfHook: w.popfHook, returnHook: w.returnHook,
    irqRestoreHook: w.irqRestoreHook, stubFor: (k) => w.stubFor(k),
    plainStub: (name) => { if (name !== 'sysexit') throw new RangeError(`no plain stub ${name}`); return w.plain(PLAIN.sysexit); },
  }, s.bytes);
}
