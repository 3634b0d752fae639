// The i386 CPU: architectural state, memory access through segmentation and paging (with a software
// TLB), exceptions and interrupt delivery through the IDT, and the block-cached execution loop.
// Instruction semantics live in ./compile.ts, which turns decoded instructions into closures.
import {
  AC, ARITH_FLAGS, CC_EFLAGS, CF, DF, ID, IF, IOPL, NT, OF, RF, TF, VM, computeCarry, computeFlags,
} from './flags.js';
import type { RawDecoder } from './decoder.js';
import { compileBlock, testCondition, type Block } from './compile.js';
import { jitBlock } from './jit.js';
import { Fpu } from './x87.js';

/** What the CPU needs from the rest of the machine. */
export interface CpuBus {
  readonly ram: Uint8Array;
  /**
   * Guest RAM followed by memory the guest cannot address physically (the in-place monitor's pages,
   * reached only through the monitor window); `ram` when absent.
   */
  readonly memory?: Uint8Array;
  /** Physical access outside RAM (device memory, or nothing: reads give all ones). */
  mmioRead(addr: number, size: 1 | 2 | 4): number;
  mmioWrite(addr: number, size: 1 | 2 | 4, value: number): void;
  ioRead(port: number, size: 1 | 2 | 4): number;
  ioWrite(port: number, size: 1 | 2 | 4, value: number): void;
  /** The vector of the highest-priority pending maskable interrupt, acknowledged; -1 if none. */
  acknowledgeInterrupt(): number;
}

/**
 * Observation points for the hypervisor back ends: every privileged or sensitive operation, fault and
 * interrupt passes here. Class ids are those of the `@previrt/isa` catalogue.
 */
export interface CpuHooks {
  /** A sensitive instruction executed (before its effect). */
  sensitive?(classId: number, eip: number): void;
  /** An exception or interrupt is being delivered to the guest. */
  deliver?(vector: number, kind: 'exception' | 'interrupt' | 'software'): void;
  /** CR3 was written (mov, task switch, or a monitor setting it), before the TLB flush that follows. */
  cr3Loaded?(): void;
  /** The monitor-call instruction (vmcall, 0F 01 C1) executed inside the monitor window (linear address). */
  monitorCall?(linear: number): void;
  /** A guest write to a watched physical page (before it lands; page walks do not count). */
  pageWrite?(phys: number, size: 1 | 2 | 4, value: number): void;
}

/**
 * The monitor window: 4 MB of linear addresses (one page-directory slot) that the MMU resolves to
 * monitor-owned memory with precedence over the guest's page tables, supervisor accesses only.
 * `pagePhys[i]` is the physical address of window page i (-1: not present); a page in `busPages`
 * bypasses the TLB, so every access to it reaches the bus (the state block the monitor watches).
 */
export interface MonitorWindowMap {
  readonly slot: number;
  readonly pagePhys: Int32Array;
  readonly busPages: ReadonlySet<number>;
}

/** The values a deprivileged guest kernel sees from sgdt/sidt/str/sldt/smsw (the hypervisor's). */
export interface HostView {
  gdtBase: number; gdtLimit: number; idtBase: number; idtLimit: number; tr: number; ldtr: number; cr0: number;
}

/** Where guest-physical accesses to the monitor's frames go instead: a page that reads 0. */
const NO_MEMORY_PAGE = 0xfffff000;

import {
  BP, CpuException, DB, DE, DF_V, FAULT, GP, MachineStop, NP, PF_V, SEG_CS, SEG_DS, SEG_ES, SEG_FS, SEG_GS, SEG_SS, SS_V, TS, UD, hex,
} from './arch.js';
export * from './arch.js';

const TLB_SIZE = 1 << 20;
const JCACHE_MASK = 0xfff;
/** Executions after which a block's closures are fused into one generated function. */
const HOT_BLOCK = 8;
const HISTORY = 16;

/** Exceptions whose pairing gives #DF (SDM table 6-5). */
function contributory(v: number): boolean { return v === 0 || (v >= 10 && v <= 13); }

export class Cpu {
  readonly regs = new Int32Array(8);
  eip = 0;
  /** EFLAGS bits other than the arithmetic ones (bit 1 always set). */
  flags = 0x2;
  ccOp = CC_EFLAGS;
  ccDst = 0;
  ccSrc = 0;
  ccSrc2 = 0;

  // Segment descriptor caches, indexed by SEG_*.
  readonly segSel = new Int32Array(6);
  readonly segBase = new Int32Array(6);
  readonly segLimit = new Float64Array(6);
  /** Descriptor bits 8..23 of the high dword (type, S, DPL, P, AVL, L, D/B, G); 0 = unusable. */
  readonly segAttr = new Int32Array(6);
  /** 1 when base 0, limit 4 GB and readable (R) / writable (W): no checks needed on access. */
  readonly segFlatR = new Uint8Array(6);
  readonly segFlatW = new Uint8Array(6);
  cpl = 0;
  /** Default operand/address size of the code segment (16 or 32). */
  codeSize: 16 | 32 = 32;
  /** SS.B: 32-bit stack pointer. */
  stack32 = true;

  cr0 = 0x11;
  cr2 = 0;
  cr4 = 0;
  private cr3Value = 0;
  /**
   * CR3: an accessor of the class, so that a back end can follow every load through
   * `hooks.cr3Loaded` without redefining the property on the instance (which turns the Cpu into a
   * dictionary-mode object: every field access of the run loop and generated code becomes a lookup).
   */
  get cr3(): number { return this.cr3Value; }
  set cr3(v: number) { this.cr3Value = v; this.hooks.cr3Loaded?.(); }
  /** The PAE page-directory-pointer entries (low dwords; the high ones are 0), loaded with CR3. */
  readonly pdpte = new Int32Array(4);
  readonly dr = new Int32Array(8);
  gdtBase = 0; gdtLimit = 0;
  idtBase = 0; idtLimit = 0x3ff;
  ldtSel = 0; ldtBase = 0; ldtLimit = 0xffff; // as after reset (and in QEMU)
  trSel = 0; trBase = 0; trLimit = 0; trType = 0;
  sysenterCs = 0; sysenterEsp = 0; sysenterEip = 0;
  apicBase = 0xfee00900;
  ucodeRev = 0;
  featureControl = 0;
  miscEnable = 1;
  readonly pat = [0x00070406, 0x00070406];
  readonly fpu = new Fpu();
  /** Physical address mask: bit 20 cleared while the A20 gate is off. */
  a20Mask = 0xffffffff | 0;
  /** Exceptions and interrupts delivered so far (tells single-step whether the instruction trapped). */
  deliveries = 0;

  /** Instructions retired. */
  icount = 0;
  /** Virtual nanoseconds spent halted (time also advances while no instruction retires). */
  idleTime = 0;
  halted = false;
  /** Set by the machine when an interrupt controller raises its output. */
  intrLine = false;
  /** The instruction after sti / mov ss / pop ss cannot be interrupted. */
  intShadow = false;
  /** Set when the run loop must return to the machine (device state changed, stop requested). */
  exitRequest = false;
  stop: MachineStop | null = null;
  hooks: CpuHooks = {};

  readonly ram: Uint8Array;
  readonly view: DataView;
  /** Guest RAM size: physical addresses below it are RAM. */
  readonly ramSize: number;
  /** RAM plus the monitor's memory (the size of `ram`). */
  readonly memSize: number;
  /** The monitor window, when a back end installed one. */
  monitorWindow: MonitorWindowMap | null = null;
  /** Physical pages whose guest writes are reported to hooks.pageWrite (never cached as writable). */
  pageWatch: Uint8Array | null = null;
  /**
   * The ring the hardware really runs the guest kernel in (0 natively and under hvm, 1 under xen,
   * 3 under l4). At CPL 0 with a nonzero value, unpatched pushf/popf/iret and the store instructions
   * behave as they would there (the kernel's virtual CPL stays 0).
   */
  kernelRing = 0;
  hostView: HostView | null = null;
  /** Cycles a back end charged beyond one per instruction (exits, hypercalls, in-place operations). */
  chargedCycles = 0;
  /** Virtual time of the next device timer event (set by the machine before each run). */
  deadline = Infinity;

  // Software TLB: linear page -> physical page | 1, one set for supervisor and one for user accesses.
  private readonly tlbSupR = new Int32Array(TLB_SIZE);
  private readonly tlbSupW = new Int32Array(TLB_SIZE);
  private readonly tlbUserR = new Int32Array(TLB_SIZE);
  private readonly tlbUserW = new Int32Array(TLB_SIZE);
  tlbR = this.tlbSupR;
  tlbW = this.tlbSupW;
  private tlbPages = new Int32Array(1024);
  private tlbCount = 0;
  private readonly tlbGlobal = new Uint8Array(TLB_SIZE);

  // Block cache, keyed by the physical address of the block's first byte.
  readonly blocks = new Map<number, Block>();
  /** Per physical page: blocks compiled from it (writes there invalidate them). */
  readonly codePages = new Map<number, Block[]>();
  readonly codePageFlag: Uint8Array;
  /** Incremented whenever blocks are invalidated, so that a running block can notice. */
  codeEpoch = 0;
  /** Incremented by anything that may change the block an EIP stands for (see run). */
  dispatchEpoch = 0;

  /** Direct-mapped cache of blocks by linear EIP. */
  readonly jcache: (Block | undefined)[] = new Array(JCACHE_MASK + 1).fill(undefined);
  /** Where a generated block function stopped when an instruction threw: index and completed passes. */
  faultIndex = 0;
  faultLoops = 0;
  /**
   * Executions after which a block becomes a generated function (./jit.ts); Infinity keeps closures
   * only, 1 generates every block at once (the differential test runs both ways).
   */
  jitThreshold = HOT_BLOCK;
  /** DR7 enables a breakpoint (kept in step with DR7 writes). */
  debugActive = false;

  /** Ring of recently executed instruction addresses (linear), for failure reports. */
  readonly history = new Int32Array(HISTORY);
  historyPos = 0;

  constructor(readonly bus: CpuBus, readonly decoder: RawDecoder) {
    this.ram = bus.memory ?? bus.ram;
    this.ramSize = bus.ram.length;
    this.memSize = this.ram.length;
    this.view = new DataView(this.ram.buffer, this.ram.byteOffset, this.ram.byteLength);
    this.codePageFlag = new Uint8Array(this.memSize >>> 12);
  }

  // ---------------------------------------------------------------- flags

  getFlags(): number {
    return this.flags | computeFlags(this.ccOp, this.ccDst, this.ccSrc, this.ccSrc2);
  }
  getCF(): number {
    return this.ccOp === CC_EFLAGS ? this.ccSrc & CF : computeCarry(this.ccOp, this.ccDst, this.ccSrc, this.ccSrc2);
  }
  /** Replaces the arithmetic flags (keeps the lazy state coherent). */
  setArith(bits: number): void {
    this.ccOp = CC_EFLAGS;
    this.ccSrc = bits & ARITH_FLAGS;
  }
  /** Writes EFLAGS bits selected by mask. */
  setFlags(value: number, mask: number): void {
    const cur = this.getFlags();
    const v = (cur & ~mask) | (value & mask);
    this.ccOp = CC_EFLAGS;
    this.ccSrc = v & ARITH_FLAGS;
    this.flags = (v & ~ARITH_FLAGS & 0x3f7fd7) | 0x2;
  }
  /** popf / iret flag write with the privilege rules of the SDM. */
  popFlags(value: number, size: 16 | 32, fromIret: boolean): void {
    let mask = ARITH_FLAGS | TF | DF | NT;
    if (size === 32) mask |= AC | ID | (fromIret ? RF | VM : 0);
    const ring = this.cpl === 0 ? this.kernelRing : this.cpl;
    if (ring === 0) mask |= IOPL | IF;
    else if (ring <= ((this.flags >> 12) & 3)) mask |= IF;
    if (size === 16) mask &= 0xffff;
    this.setFlags(value, mask);
  }

  // ---------------------------------------------------------------- exceptions

  fault(vector: number, code?: number): never {
    FAULT.vector = vector;
    FAULT.hasCode = code !== undefined;
    FAULT.code = code ?? 0;
    throw FAULT;
  }
  gp(code = 0): never { return this.fault(GP, code); }
  ud(): never { return this.fault(UD); }

  // ---------------------------------------------------------------- paging and physical memory

  private tlbRecord(page: number): void {
    if (this.tlbCount === this.tlbPages.length) {
      const bigger = new Int32Array(this.tlbPages.length * 2);
      bigger.set(this.tlbPages);
      this.tlbPages = bigger;
    }
    this.tlbPages[this.tlbCount++] = page;
  }

  /** Forgets translations: all of them, or all but global pages (CR3 reload with CR4.PGE). */
  flushTlb(keepGlobal: boolean): void {
    this.dispatchEpoch++;
    const pages = this.tlbPages;
    let kept = 0;
    for (let i = 0; i < this.tlbCount; i++) {
      const p = pages[i];
      if (keepGlobal && this.tlbGlobal[p]) { pages[kept++] = p; continue; }
      this.tlbSupR[p] = 0; this.tlbSupW[p] = 0; this.tlbUserR[p] = 0; this.tlbUserW[p] = 0;
      this.tlbGlobal[p] = 0;
    }
    this.tlbCount = kept;
  }
  invlpg(lin: number): void {
    this.dispatchEpoch++;
    const p = lin >>> 12;
    this.tlbSupR[p] = 0; this.tlbSupW[p] = 0; this.tlbUserR[p] = 0; this.tlbUserW[p] = 0;
    this.tlbGlobal[p] = 0;
  }
  /** Starts or stops reporting guest writes to a physical page (hooks.pageWrite). */
  watchPage(ppage: number, on: boolean): void {
    if (this.pageWatch === null) this.pageWatch = new Uint8Array(this.ramSize >>> 12);
    if (ppage >= this.pageWatch.length) return;
    const was = this.pageWatch[ppage] !== 0;
    this.pageWatch[ppage] = on ? 1 : 0;
    if (on && !was) this.flushWriteTlb();
  }

  /** Drops write translations so that writes to a page that now holds code take the checked path. */
  private flushWriteTlb(): void {
    for (let i = 0; i < this.tlbCount; i++) {
      const p = this.tlbPages[i];
      this.tlbSupW[p] = 0; this.tlbUserW[p] = 0;
    }
  }
  private selectTlb(): void {
    if (this.cpl === 3) { this.tlbR = this.tlbUserR; this.tlbW = this.tlbUserW; }
    else { this.tlbR = this.tlbSupR; this.tlbW = this.tlbSupW; }
  }

  /**
   * Translates a linear address, raising #PF as the hardware would. user: the access is made at CPL 3
   * (not an implicit supervisor access). Fills the TLB.
   */
  translate(lin: number, write: boolean, user: boolean): number {
    lin >>>= 0;
    const win = this.monitorWindow;
    if (win !== null && (lin >>> 22) === win.slot) return this.translateWindow(lin, write, user, win);
    let phys: number;
    let writable = true;
    let userOk = true;
    let global = false;
    /** The dirty bit is set: a write translation may be cached. */
    let dirty = true;
    if (!(this.cr0 & 0x80000000)) {
      phys = lin;
    } else {
      // The walk finds the leaf entry (a 4 KB page's table entry, or a large page's directory entry)
      // and, above a 4 KB leaf, the directory entry; the access checks and A/D updates are common.
      let leafAddr: number, leaf: number;
      let dirAddr = -1, dir = 0;
      if (this.cr4 & 0x20) {
        // PAE: the PDPTE loaded with CR3, then 64-bit directory and table entries. MAXPHYADDR is 32
        // (as QEMU's qemu32), so a set bit in an entry's high dword is reserved (bit 63 too: no NX).
        const pdpte = this.pdpte[lin >>> 30];
        if (!(pdpte & 1)) this.pageFault(lin, 0, write, user);
        const pdeAddr = ((pdpte & ~0xfff) + (((lin >>> 21) & 0x1ff) << 3)) >>> 0;
        const pde = this.physRead32(pdeAddr);
        if (!(pde & 1)) this.pageFault(lin, 0, write, user);
        if (this.physRead32(pdeAddr + 4) !== 0) this.reservedBitFault(lin, write, user);
        if (pde & 0x80) {
          if (pde & 0x1fe000) this.reservedBitFault(lin, write, user);
          leafAddr = pdeAddr; leaf = pde;
          phys = ((pde & 0xffe00000) | (lin & 0x1ff000)) >>> 0;
        } else {
          const pteAddr = ((pde & ~0xfff) + (((lin >>> 12) & 0x1ff) << 3)) >>> 0;
          const pte = this.physRead32(pteAddr);
          if (!(pte & 1)) this.pageFault(lin, 0, write, user);
          if (this.physRead32(pteAddr + 4) !== 0) this.reservedBitFault(lin, write, user);
          dirAddr = pdeAddr; dir = pde; leafAddr = pteAddr; leaf = pte;
          phys = (pte & ~0xfff) >>> 0;
        }
      } else {
        const pdeAddr = ((this.cr3 & ~0xfff) + ((lin >>> 22) << 2)) >>> 0;
        const pde = this.physRead32(pdeAddr);
        if (!(pde & 1)) this.pageFault(lin, 0, write, user);
        if ((pde & 0x80) && (this.cr4 & 0x10)) {
          leafAddr = pdeAddr; leaf = pde;
          phys = ((pde & 0xffc00000) | (lin & 0x3ff000)) >>> 0;
        } else {
          const pteAddr = ((pde & ~0xfff) + (((lin >>> 12) & 0x3ff) << 2)) >>> 0;
          const pte = this.physRead32(pteAddr);
          if (!(pte & 1)) this.pageFault(lin, 0, write, user);
          dirAddr = pdeAddr; dir = pde; leafAddr = pteAddr; leaf = pte;
          phys = (pte & ~0xfff) >>> 0;
        }
      }
      const large = dirAddr < 0;
      writable = (leaf & 2) !== 0 && (large || (dir & 2) !== 0);
      userOk = (leaf & 4) !== 0 && (large || (dir & 4) !== 0);
      this.checkPageAccess(lin, writable, userOk, write, user);
      if (!large && !(dir & 0x20)) this.walkWrite32(dirAddr, dir | 0x20);
      let upd = leaf | 0x20;
      if (write) upd |= 0x40;
      if (upd !== leaf) this.walkWrite32(leafAddr, upd);
      global = (leaf & 0x100) !== 0 && (this.cr4 & 0x80) !== 0;
      dirty = (upd & 0x40) !== 0;
    }
    phys = (phys & this.a20Mask) >>> 0;
    // The monitor's frames are not guest-physical memory: reach them only through the window.
    if (win !== null && phys >= this.ramSize && (phys < this.memSize || this.ownsBusPage(win, phys))) phys = NO_MEMORY_PAGE;
    const page = lin >>> 12;
    const ppage = phys >>> 12;
    if (phys + 4096 <= this.ramSize) {
      const entry = (phys | 1);
      const supWrite = dirty && (writable || !(this.cr0 & 0x10000));
      const fresh = this.tlbSupR[page] === 0 && this.tlbUserR[page] === 0;
      const watched = this.pageWatch !== null && this.pageWatch[ppage] !== 0;
      this.tlbSupR[page] = entry;
      if (supWrite && !this.codePageFlag[ppage] && !watched) this.tlbSupW[page] = entry;
      if (userOk) {
        this.tlbUserR[page] = entry;
        if (writable && dirty && !this.codePageFlag[ppage] && !watched) this.tlbUserW[page] = entry;
      }
      if (global) this.tlbGlobal[page] = 1;
      if (fresh) this.tlbRecord(page);
    }
    return (phys | (lin & 0xfff)) >>> 0;
  }

  /** A window address: supervisor only, never through the guest's page tables. */
  private translateWindow(lin: number, write: boolean, user: boolean, win: MonitorWindowMap): number {
    const index = (lin >>> 12) & 0x3ff;
    const base = win.pagePhys[index] >>> 0;
    const present = win.pagePhys[index] !== -1;
    if (user || !present) this.pageFault(lin, present ? 1 : 0, write, user);
    const phys = (base + (lin & 0xfff)) >>> 0;
    if (!win.busPages.has(index) && base + 4096 <= this.memSize) {
      const page = lin >>> 12;
      const fresh = this.tlbSupR[page] === 0 && this.tlbUserR[page] === 0;
      this.tlbSupR[page] = base | 1;
      if (!this.codePageFlag[base >>> 12]) this.tlbSupW[page] = base | 1;
      if (fresh) this.tlbRecord(page);
    }
    return phys;
  }

  private ownsBusPage(win: MonitorWindowMap, phys: number): boolean {
    for (const i of win.busPages) if ((win.pagePhys[i] >>> 12) === (phys >>> 12)) return true;
    return false;
  }

  /** Whether a linear address lies in the monitor window. */
  inMonitorWindow(lin: number): boolean {
    return this.monitorWindow !== null && (lin >>> 22) === this.monitorWindow.slot;
  }

  /** Accessed/dirty bits written by the page walk (not a guest write: no watch report). */
  private walkWrite32(a: number, v: number): void {
    if (a + 3 < this.ramSize) {
      if (this.codePageFlag[a >>> 12]) this.invalidateCode(a >>> 12);
      this.view.setInt32(a, v, true);
    } else this.bus.mmioWrite(a, 4, v);
  }

  /** Opens or closes the A20 gate (i8042 output port, port 0x92). */
  setA20(enabled: boolean): void {
    this.a20Mask = enabled ? -1 : ~0x100000;
    this.flushTlb(false);
  }

  /** A reserved bit set in a present PAE entry: #PF with P and RSVD (SDM 4.7). */
  private reservedBitFault(lin: number, write: boolean, user: boolean): never {
    this.cr2 = lin | 0;
    return this.fault(PF_V, 1 | 8 | (write ? 2 : 0) | (user ? 4 : 0));
  }

  /**
   * Loads the four PAE page-directory-pointer entries from CR3 (as MOV to CR3, and MOV to CR0/CR4
   * changing paging modes, do while CR0.PG and CR4.PAE are set); a present entry with a reserved bit
   * set raises #GP(0) and nothing is loaded.
   */
  loadPdptes(cr3 = this.cr3): void {
    const base = (cr3 & ~0x1f) >>> 0;
    const lo = [0, 0, 0, 0];
    for (let i = 0; i < 4; i++) {
      const a = (base + 8 * i) >>> 0;
      lo[i] = this.physRead32(a);
      if ((lo[i] & 1) && ((lo[i] & 0x1e6) !== 0 || this.physRead32(a + 4) !== 0)) this.gp(0);
    }
    for (let i = 0; i < 4; i++) this.pdpte[i] = lo[i];
  }

  private checkPageAccess(lin: number, writable: boolean, userOk: boolean, write: boolean, user: boolean): void {
    if (user && !userOk) this.pageFault(lin, 1, write, user);
    if (write && !writable && (user || (this.cr0 & 0x10000))) this.pageFault(lin, 1, write, user);
  }
  private pageFault(lin: number, present: number, write: boolean, user: boolean): never {
    this.cr2 = lin | 0;
    return this.fault(PF_V, present | (write ? 2 : 0) | (user ? 4 : 0));
  }

  physRead8(a: number): number {
    return a < this.memSize ? this.ram[a] : this.bus.mmioRead(a, 1) & 0xff;
  }
  physRead16(a: number): number {
    return a + 1 < this.memSize ? this.view.getUint16(a, true) : this.bus.mmioRead(a, 2) & 0xffff;
  }
  physRead32(a: number): number {
    return a + 3 < this.memSize ? this.view.getInt32(a, true) : this.bus.mmioRead(a, 4) | 0;
  }
  physWrite8(a: number, v: number): void {
    if (a < this.memSize) {
      if (this.codePageFlag[a >>> 12]) this.invalidateCode(a >>> 12);
      if (this.pageWatch !== null && this.pageWatch[a >>> 12]) this.hooks.pageWrite?.(a, 1, v & 0xff);
      this.ram[a] = v;
    } else this.bus.mmioWrite(a, 1, v & 0xff);
  }
  physWrite16(a: number, v: number): void {
    if (a + 1 < this.memSize) {
      if (this.codePageFlag[a >>> 12]) this.invalidateCode(a >>> 12);
      if (this.pageWatch !== null && this.pageWatch[a >>> 12]) this.hooks.pageWrite?.(a, 2, v & 0xffff);
      this.view.setUint16(a, v & 0xffff, true);
    } else this.bus.mmioWrite(a, 2, v & 0xffff);
  }
  physWrite32(a: number, v: number): void {
    if (a + 3 < this.memSize) {
      if (this.codePageFlag[a >>> 12]) this.invalidateCode(a >>> 12);
      if (this.pageWatch !== null && this.pageWatch[a >>> 12]) this.hooks.pageWrite?.(a, 4, v);
      this.view.setInt32(a, v, true);
    } else this.bus.mmioWrite(a, 4, v);
  }

  private get userAccess(): boolean { return this.cpl === 3; }

  // Linear memory access; the fast path is a TLB hit inside one page.
  rd8(lin: number): number {
    const e = this.tlbR[lin >>> 12];
    if (e !== 0) return this.ram[(e & ~0xfff) | (lin & 0xfff)];
    return this.physRead8(this.translate(lin, false, this.userAccess));
  }
  rd16(lin: number): number {
    const e = this.tlbR[lin >>> 12];
    if (e !== 0 && (lin & 0xfff) !== 0xfff) return this.view.getUint16((e & ~0xfff) | (lin & 0xfff), true);
    return this.rdSlow(lin, 2);
  }
  rd32(lin: number): number {
    const e = this.tlbR[lin >>> 12];
    if (e !== 0 && (lin & 0xfff) <= 0xffc) return this.view.getInt32((e & ~0xfff) | (lin & 0xfff), true);
    return this.rdSlow(lin, 4);
  }
  wr8(lin: number, v: number): void {
    const e = this.tlbW[lin >>> 12];
    if (e !== 0) { this.ram[(e & ~0xfff) | (lin & 0xfff)] = v; return; }
    this.physWrite8(this.translate(lin, true, this.userAccess), v);
  }
  wr16(lin: number, v: number): void {
    const e = this.tlbW[lin >>> 12];
    if (e !== 0 && (lin & 0xfff) !== 0xfff) { this.view.setUint16((e & ~0xfff) | (lin & 0xfff), v, true); return; }
    this.wrSlow(lin, 2, v);
  }
  wr32(lin: number, v: number): void {
    const e = this.tlbW[lin >>> 12];
    if (e !== 0 && (lin & 0xfff) <= 0xffc) { this.view.setInt32((e & ~0xfff) | (lin & 0xfff), v, true); return; }
    this.wrSlow(lin, 4, v);
  }
  /** Checks that a write would succeed (all pages writable) before a read-modify-write begins. */
  probeWrite(lin: number, size: number): void {
    const user = this.userAccess;
    if (this.tlbW[lin >>> 12] === 0) this.translate(lin, true, user);
    const last = (lin + size - 1) | 0;
    if ((last ^ lin) & ~0xfff && this.tlbW[last >>> 12] === 0) this.translate(last, true, user);
  }

  private rdSlow(lin: number, size: 2 | 4): number {
    const user = this.userAccess;
    if ((lin & 0xfff) + size <= 0x1000) {
      const pa = this.translate(lin, false, user);
      return size === 2 ? this.physRead16(pa) : this.physRead32(pa);
    }
    // Crosses a page boundary: both pages are checked before anything is read.
    const pa0 = this.translate(lin, false, user);
    const pa1 = this.translate((lin + size - 1) | 0, false, user) & ~0xfff;
    let v = 0;
    for (let i = 0; i < size; i++) {
      const a = (lin + i) & 0xfff;
      const pa = a >= (lin & 0xfff) ? pa0 + (a - (lin & 0xfff)) : pa1 + a;
      v |= this.physRead8(pa >>> 0) << (8 * i);
    }
    return size === 2 ? v & 0xffff : v | 0;
  }
  private wrSlow(lin: number, size: 2 | 4, v: number): void {
    const user = this.userAccess;
    if ((lin & 0xfff) + size <= 0x1000) {
      const pa = this.translate(lin, true, user);
      if (size === 2) this.physWrite16(pa, v); else this.physWrite32(pa, v);
      return;
    }
    const pa0 = this.translate(lin, true, user);
    const pa1 = this.translate((lin + size - 1) | 0, true, user) & ~0xfff;
    for (let i = 0; i < size; i++) {
      const a = (lin + i) & 0xfff;
      const pa = a >= (lin & 0xfff) ? pa0 + (a - (lin & 0xfff)) : pa1 + a;
      this.physWrite8(pa >>> 0, (v >>> (8 * i)) & 0xff);
    }
  }

  // Implicit supervisor accesses (descriptor tables, TSS, interrupt stack frames at ring 0).
  sysRead32(lin: number): number {
    return this.physRead32(this.translate(lin, false, false)) ;
  }
  sysRead16(lin: number): number {
    return this.physRead16(this.translate(lin, false, false));
  }
  sysWrite32(lin: number, v: number): void {
    this.physWrite32(this.translate(lin, true, false), v);
  }
  sysWrite8(lin: number, v: number): void {
    this.physWrite8(this.translate(lin, true, false), v);
  }

  // ---------------------------------------------------------------- segmentation

  /** Linear address of seg:off for an access of len bytes, with the descriptor checks. */
  linear(seg: number, off: number, len: number, write: boolean): number {
    const attr = this.segAttr[seg];
    if (attr === 0) return seg === SEG_SS ? this.fault(SS_V, 0) : this.gp(0);
    const type = (attr >> 8) & 0xf;
    if (write) {
      if (type & 8 || !(type & 2)) return this.segFault(seg);
    } else if ((type & 0xa) === 8) return this.segFault(seg); // execute-only code
    const limit = this.segLimit[seg];
    const o = off >>> 0;
    const last = o + len - 1;
    if (!(type & 8) && (type & 4)) {
      const upper = attr & 0x400000 ? 0xffffffff : 0xffff;
      if (o <= limit || last > upper) return this.segFault(seg);
    } else if (last > limit) return this.segFault(seg);
    return (this.segBase[seg] + off) | 0;
  }
  private segFault(seg: number): never {
    return seg === SEG_SS ? this.fault(SS_V, 0) : this.gp(0);
  }

  private updateFlat(seg: number): void {
    const attr = this.segAttr[seg];
    const type = (attr >> 8) & 0xf;
    const flat = attr !== 0 && this.segBase[seg] === 0 && this.segLimit[seg] === 0xffffffff && !(!(type & 8) && (type & 4));
    this.segFlatR[seg] = flat && (!(type & 8) || (type & 2) !== 0) ? 1 : 0;
    this.segFlatW[seg] = flat && !(type & 8) && (type & 2) !== 0 ? 1 : 0;
  }

  /** Loads a descriptor cache directly (the loader's initial state). */
  setSegmentCache(seg: number, sel: number, base: number, limit: number, attr: number): void {
    this.segSel[seg] = sel;
    this.segBase[seg] = base;
    this.segLimit[seg] = limit;
    this.segAttr[seg] = attr;
    if (seg === SEG_CS) {
      this.codeSize = attr & 0x400000 ? 32 : 16;
      this.dispatchEpoch++;
    }
    if (seg === SEG_SS) this.stack32 = (attr & 0x400000) !== 0;
    this.updateFlat(seg);
  }

  /** Reused result of readDescriptor (callers destructure it at once: no allocation per load). */
  private readonly descBuf: [number, number, number] = [0, 0, 0];

  /** Reads the 8-byte descriptor of a selector; returns [low, high, address] or raises #GP(sel). */
  readDescriptor(sel: number, vector = GP): [number, number, number] {
    const index = sel & ~7;
    let base: number, limit: number;
    if (sel & 4) { base = this.ldtBase; limit = this.ldtLimit; }
    else { base = this.gdtBase; limit = this.gdtLimit; }
    if (index + 7 > limit) this.fault(vector, sel & 0xfffc);
    const addr = (base + index) | 0;
    const d = this.descBuf;
    d[0] = this.sysRead32(addr); d[1] = this.sysRead32((addr + 4) | 0); d[2] = addr;
    return d;
  }
  static descBase(lo: number, hi: number): number {
    return ((lo >>> 16) | ((hi & 0xff) << 16) | (hi & 0xff000000)) | 0;
  }
  static descLimit(lo: number, hi: number): number {
    const raw = (lo & 0xffff) | (hi & 0xf0000);
    return hi & 0x800000 ? raw * 4096 + 4095 : raw;
  }
  private setAccessed(addr: number, hi: number): void {
    if (!(hi & 0x100)) this.sysWrite8((addr + 5) | 0, ((hi >>> 8) & 0xff) | 1);
  }

  /** mov/pop/lds… to a data or stack segment register, with the protected-mode checks. */
  loadSegment(seg: number, sel: number): void {
    sel &= 0xffff;
    if (seg === SEG_CS) this.ud();
    if ((sel & 0xfffc) === 0) {
      if (seg === SEG_SS) this.gp(0);
      this.setSegmentCache(seg, sel, 0, 0, 0);
      return;
    }
    const [lo, hi, addr] = this.readDescriptor(sel);
    const rpl = sel & 3;
    const dpl = (hi >> 13) & 3;
    const type = (hi >> 8) & 0x1f;
    if (!(type & 0x10)) this.gp(sel & 0xfffc);
    if (seg === SEG_SS) {
      if (rpl !== this.cpl || dpl !== this.cpl || (type & 0x8) || !(type & 2)) this.gp(sel & 0xfffc);
      if (!(hi & 0x8000)) this.fault(SS_V, sel & 0xfffc);
    } else {
      if ((type & 0xa) === 0x8) this.gp(sel & 0xfffc); // execute-only code
      const conforming = (type & 0xc) === 0xc;
      if (!conforming && (dpl < this.cpl || dpl < rpl)) this.gp(sel & 0xfffc);
      if (!(hi & 0x8000)) this.fault(NP, sel & 0xfffc);
    }
    this.setAccessed(addr, hi);
    this.setSegmentCache(seg, sel, Cpu.descBase(lo, hi), Cpu.descLimit(lo, hi), (hi | 0x100) & 0xffff00);
  }

  /** Loads CS for a transfer to privilege level `cpl` (checks done by the caller). */
  loadCs(sel: number, lo: number, hi: number, cpl: number): void {
    this.setSegmentCache(SEG_CS, (sel & 0xfffc) | cpl, Cpu.descBase(lo, hi), Cpu.descLimit(lo, hi), (hi | 0x100) & 0xffff00);
    this.setCpl(cpl);
  }
  setCpl(cpl: number): void {
    if (cpl !== this.cpl) {
      this.cpl = cpl;
      this.selectTlb();
    }
  }

  /** After a return to an outer level: data segments the new level may not use become null. */
  nullInaccessibleSegments(): void {
    for (const seg of [SEG_ES, SEG_DS, SEG_FS, SEG_GS]) {
      const attr = this.segAttr[seg];
      if (attr === 0) continue;
      const type = (attr >> 8) & 0x1f;
      const dpl = (attr >> 13) & 3;
      const conformingCode = (type & 0x1c) === 0x1c;
      if (!conformingCode && dpl < this.cpl) this.setSegmentCache(seg, 0, 0, 0, 0);
    }
  }

  // ---------------------------------------------------------------- stack

  get sp(): number { return this.stack32 ? this.regs[4] : this.regs[4] & 0xffff; }
  setSp(v: number): void {
    if (this.stack32) this.regs[4] = v;
    else this.regs[4] = (this.regs[4] & ~0xffff) | (v & 0xffff);
  }
  stackAddr(off: number, len: number, write: boolean): number {
    if (!this.stack32) off &= 0xffff;
    return (write ? this.segFlatW[SEG_SS] : this.segFlatR[SEG_SS]) ? off : this.linear(SEG_SS, off, len, write);
  }
  push32(v: number): void {
    const sp = (this.sp - 4) | 0;
    this.wr32(this.stackAddr(sp, 4, true), v);
    this.setSp(sp);
  }
  push16(v: number): void {
    const sp = (this.sp - 2) | 0;
    this.wr16(this.stackAddr(sp, 2, true), v);
    this.setSp(sp);
  }
  pop32(): number {
    const sp = this.sp;
    const v = this.rd32(this.stackAddr(sp, 4, false));
    this.setSp((sp + 4) | 0);
    return v;
  }
  pop16(): number {
    const sp = this.sp;
    const v = this.rd16(this.stackAddr(sp, 2, false));
    this.setSp((sp + 2) | 0);
    return v;
  }

  // ---------------------------------------------------------------- interrupts and exceptions

  /**
   * Delivers an interrupt or exception through the IDT. `returnEip` is the EIP pushed (the faulting
   * instruction for faults, the next one for traps and software interrupts).
   */
  deliver(vector: number, returnEip: number, software: boolean, hasCode: boolean, code: number, external: boolean): void {
    if (!(this.cr0 & 1)) throw new MachineStop(`interrupt ${vector} in real mode (real mode is not implemented)`, 'unsupported');
    const ext = external ? 1 : 0;
    const idtCode = vector * 8 + 2 + ext;
    if (vector * 8 + 7 > this.idtLimit) this.gp(idtCode);
    const lo = this.sysRead32((this.idtBase + vector * 8) | 0);
    const hi = this.sysRead32((this.idtBase + vector * 8 + 4) | 0);
    const type = (hi >> 8) & 0x1f;
    const dpl = (hi >> 13) & 3;
    if (type === 0x05) {
      if (software && dpl < this.cpl) this.gp(idtCode);
      if (!(hi & 0x8000)) this.fault(NP, idtCode);
      this.taskSwitch(lo >>> 16, 'int', returnEip, hasCode, code);
      this.deliveries++;
      this.halted = false;
      return;
    }
    if (type !== 0x0e && type !== 0x0f && type !== 0x06 && type !== 0x07) this.gp(idtCode);
    if (software && dpl < this.cpl) this.gp(idtCode);
    if (!(hi & 0x8000)) this.fault(NP, idtCode);
    const gate32 = (type & 8) !== 0;
    const selector = lo >>> 16;
    const offset = gate32 ? ((hi & 0xffff0000) | (lo & 0xffff)) : lo & 0xffff;
    if ((selector & 0xfffc) === 0) this.gp(ext);
    const [clo, chi] = this.readDescriptor(selector);
    const ctype = (chi >> 8) & 0x1f;
    const cdpl = (chi >> 13) & 3;
    if ((ctype & 0x18) !== 0x18 || cdpl > this.cpl) this.gp((selector & 0xfffc) | ext);
    if (!(chi & 0x8000)) this.fault(NP, (selector & 0xfffc) | ext);
    const conforming = (ctype & 4) !== 0;
    const newCpl = conforming ? this.cpl : cdpl;
    const oldFlags = this.getFlags();
    const oldCs = this.segSel[SEG_CS];
    if (newCpl < this.cpl) {
      // Inner-level transfer: new stack from the TSS.
      const [ss, esp] = this.tssStack(newCpl, ext);
      const [slo, shi] = this.readDescriptor(ss, TS);
      const sdpl = (shi >> 13) & 3;
      const stype = (shi >> 8) & 0x1f;
      if ((ss & 3) !== newCpl || sdpl !== newCpl || (stype & 0x1a) !== 0x12) this.fault(TS, (ss & 0xfffc) | ext);
      if (!(shi & 0x8000)) this.fault(SS_V, (ss & 0xfffc) | ext);
      const oldSs = this.segSel[SEG_SS];
      const oldEsp = this.regs[4];
      const sbase = Cpu.descBase(slo, shi);
      const big = (shi & 0x400000) !== 0;
      const frame = (gate32 ? 4 : 2) * (hasCode ? 6 : 5);
      const newEsp = (esp - frame) | 0;
      // Write the frame with supervisor accesses before committing any state.
      const w = (i: number, v: number): void => {
        const off = big ? (newEsp + i) | 0 : (newEsp + i) & 0xffff;
        const a = (sbase + off) | 0;
        if (gate32) this.sysWrite32(a, v);
        else this.physWrite16(this.translate(a, true, false), v);
      };
      const s = gate32 ? 4 : 2;
      let i = 0;
      if (hasCode) w((i++) * s, code);
      w((i++) * s, returnEip);
      w((i++) * s, oldCs);
      w((i++) * s, oldFlags);
      w((i++) * s, oldEsp);
      w((i++) * s, oldSs);
      this.setSegmentCache(SEG_SS, (ss & 0xfffc) | newCpl, sbase, Cpu.descLimit(slo, shi), (shi | 0x100) & 0xffff00);
      this.regs[4] = big ? newEsp : (this.regs[4] & ~0xffff) | (newEsp & 0xffff);
      this.loadCs(selector, clo, chi, newCpl);
    } else {
      const savedCpl = this.cpl;
      const savedEsp = this.regs[4];
      try {
        if (gate32) {
          this.push32(oldFlags); this.push32(oldCs); this.push32(returnEip);
          if (hasCode) this.push32(code);
        } else {
          this.push16(oldFlags); this.push16(oldCs); this.push16(returnEip);
          if (hasCode) this.push16(code);
        }
      } catch (e) {
        this.regs[4] = savedEsp;
        throw e;
      }
      this.loadCs(selector, clo, chi, savedCpl);
    }
    this.eip = offset;
    this.deliveries++;
    let clear = TF | NT | RF | VM;
    if (!(type & 1)) clear |= IF;
    this.flags &= ~clear;
    this.halted = false;
  }

  /**
   * Hardware task switch (SDM 7.3) to the 32-bit TSS `sel`: the current state goes to the current
   * TSS, the new one is loaded (CR3, EFLAGS, EIP, registers, LDTR, segments), busy bits and the
   * back link / NT follow the kind of transfer, CR0.TS is set. `returnEip` is the EIP saved for the
   * old task. Faults while loading the new task's segments happen in the new task (#TS, #NP, #GP).
   */
  taskSwitch(sel: number, kind: 'jmp' | 'call' | 'int' | 'iret', returnEip: number, hasCode = false, code = 0): void {
    sel &= 0xffff;
    if (sel & 4) this.fault(TS, sel & 0xfffc);
    const [lo, hi, descAddr] = this.readDescriptor(sel, TS);
    const type = (hi >> 8) & 0x1f;
    const busyWanted = kind === 'iret';
    if ((type & 0x15) !== 0x01 || ((type & 2) !== 0) !== busyWanted) this.fault(kind === 'iret' ? TS : GP, sel & 0xfffc);
    if (!(type & 8)) throw new MachineStop('task switch to a 16-bit TSS (not implemented)', 'unsupported');
    if (!(hi & 0x8000)) this.fault(NP, sel & 0xfffc);
    const newBase = Cpu.descBase(lo, hi);
    const newLimit = Cpu.descLimit(lo, hi);
    if (newLimit < 0x67) this.fault(TS, sel & 0xfffc);
    // Save the outgoing task.
    const old = this.trBase;
    const oldSel = this.trSel;
    let flags = this.getFlags();
    if (kind === 'iret') flags &= ~NT;
    const w32 = (o: number, v: number): void => this.sysWrite32((old + o) | 0, v);
    w32(0x20, returnEip);
    w32(0x24, flags);
    for (let i = 0; i < 8; i++) w32(0x28 + 4 * i, this.regs[i]);
    for (let sreg = 0; sreg < 6; sreg++) this.physWrite16(this.translate((old + 0x48 + 4 * sreg) | 0, true, false), this.segSel[sreg]);
    if (kind === 'jmp' || kind === 'iret') {
      const [, ohi, oaddr] = this.readDescriptor(oldSel);
      this.sysWrite32((oaddr + 4) | 0, ohi & ~0x200);
    }
    // Read the incoming task.
    const r32 = (o: number): number => this.sysRead32((newBase + o) | 0);
    const r16 = (o: number): number => this.sysRead16((newBase + o) | 0);
    const cr3 = r32(0x1c), eip = r32(0x20);
    let nflags = r32(0x24);
    const regs = Array.from({ length: 8 }, (_, i) => r32(0x28 + 4 * i));
    const sels = Array.from({ length: 6 }, (_, i) => r16(0x48 + 4 * i));
    const ldt = r16(0x60);
    if (kind === 'call' || kind === 'int') {
      this.physWrite16(this.translate(newBase, true, false), oldSel);
      nflags |= NT;
    }
    if (kind !== 'iret') this.sysWrite32((descAddr + 4) | 0, hi | 0x200);
    this.trSel = sel; this.trBase = newBase; this.trLimit = newLimit; this.trType = 0xb;
    this.cr0 |= 8;
    if (this.cr0 & 0x80000000) {
      if (this.cr4 & 0x20) this.loadPdptes(cr3);
      this.cr3 = cr3; this.flushTlb(true);
    }
    this.setFlags(nflags, 0x3f7fd7 | ARITH_FLAGS);
    this.eip = eip;
    for (let i = 0; i < 8; i++) this.regs[i] = regs[i];
    // LDTR, then the segment registers with the new CS's privilege (null caches first, so that a
    // fault leaves no stale descriptor of the old task).
    for (let sreg = 0; sreg < 6; sreg++) { this.segSel[sreg] = sels[sreg]; }
    this.ldtSel = ldt;
    if ((ldt & 0xfffc) === 0) { this.ldtBase = 0; this.ldtLimit = 0; }
    else {
      if (ldt & 4) this.fault(TS, ldt & 0xfffc);
      const [llo, lhi] = this.readDescriptor(ldt, TS);
      if (((lhi >> 8) & 0x1f) !== 2) this.fault(TS, ldt & 0xfffc);
      if (!(lhi & 0x8000)) this.fault(NP, ldt & 0xfffc);
      this.ldtBase = Cpu.descBase(llo, lhi); this.ldtLimit = Cpu.descLimit(llo, lhi);
    }
    const cs = sels[SEG_CS];
    if ((cs & 0xfffc) === 0) this.fault(TS, 0);
    const [clo, chi] = this.readDescriptor(cs, TS);
    if (((chi >> 8) & 0x18) !== 0x18) this.fault(TS, cs & 0xfffc);
    if (!(chi & 0x8000)) this.fault(NP, cs & 0xfffc);
    this.loadCs(cs, clo, chi, cs & 3);
    this.loadSegment(SEG_SS, sels[SEG_SS]);
    for (const sreg of [SEG_DS, SEG_ES, SEG_FS, SEG_GS]) this.loadSegment(sreg, sels[sreg]);
    if (hasCode) {
      if (this.stack32) this.push32(code); else this.push16(code);
    }
  }

  tssStack(cpl: number, ext: number): [number, number] {
    if (!(this.trType & 8)) {
      const off = 2 + cpl * 4;
      if (off + 3 > this.trLimit) this.fault(TS, (this.trSel & 0xfffc) | ext);
      const esp = this.sysRead16((this.trBase + off) | 0);
      const ss = this.sysRead16((this.trBase + off + 2) | 0);
      return [ss, esp];
    }
    const off = 4 + cpl * 8;
    if (off + 5 > this.trLimit) this.fault(TS, (this.trSel & 0xfffc) | ext);
    const esp = this.sysRead32((this.trBase + off) | 0);
    const ss = this.sysRead16((this.trBase + off + 4) | 0);
    return [ss, esp];
  }

  /** Raises an exception found while delivering another: #DF, or a triple fault. */
  private deliverException(vector: number, hasCode: boolean, code: number, eip: number, software = false, returnEip = eip): void {
    this.hooks.deliver?.(vector, software ? 'software' : 'exception');
    let current = vector, curHas = hasCode, curCode = code, first = -1;
    let soft = software;
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        this.deliver(current, soft ? returnEip : eip, soft, curHas, curCode, false);
        return;
      } catch (e) {
        if (e !== FAULT) throw e;
        const next = FAULT.vector;
        if (current === DF_V) break;
        first = current;
        if ((contributory(first) && contributory(next)) || (first === PF_V && (next === PF_V || contributory(next)))) {
          current = DF_V; curHas = true; curCode = 0;
        } else {
          current = next; curHas = FAULT.hasCode; curCode = FAULT.code;
        }
        soft = false;
      }
    }
    throw new MachineStop(`triple fault (exception ${vector} could not be delivered)`, 'triple-fault');
  }

  /** Software interrupt (int n, int3, into): a trap whose pushed EIP is the next instruction. */
  softwareInterrupt(vector: number, nextEip: number, faultEip: number): void {
    this.deliverException(vector, false, 0, faultEip, true, nextEip);
  }

  // ---------------------------------------------------------------- execution

  private fetchCode(lin: number): number {
    const e = this.tlbR[lin >>> 12];
    if (e !== 0) return this.ram[(e & ~0xfff) | (lin & 0xfff)];
    return this.physRead8(this.translate(lin, false, this.userAccess));
  }

  /** Physical address of the instruction at EIP (raises #PF / #GP on fetch). */
  codeAddress(): number {
    let lin: number;
    if (this.segFlatR[SEG_CS] || this.segAttr[SEG_CS] === 0) lin = this.eip;
    else {
      const off = this.codeSize === 16 ? this.eip & 0xffff : this.eip;
      if ((off >>> 0) > this.segLimit[SEG_CS]) this.gp(0);
      lin = (this.segBase[SEG_CS] + off) | 0;
    }
    const e = this.tlbR[lin >>> 12];
    if (e !== 0) return ((e & ~0xfff) | (lin & 0xfff)) >>> 0;
    const pa = this.translate(lin, false, this.userAccess);
    if (pa >= this.memSize) throw new MachineStop(`execution outside RAM at physical ${hex(pa)}`, 'unsupported');
    return pa;
  }

  /** Reads instruction bytes at a linear address for the compiler (may raise #PF). */
  fetchBytes(lin: number, out: Uint8Array, count: number): number {
    for (let i = 0; i < count; i++) {
      try {
        out[i] = this.fetchCode((lin + i) | 0);
      } catch (e) {
        if (e === FAULT && i > 0) return i;
        throw e;
      }
    }
    return count;
  }

  registerBlock(b: Block): void {
    this.blocks.set(b.phys, b);
    const page = b.phys >>> 12;
    let list = this.codePages.get(page);
    if (!list) {
      list = [];
      this.codePages.set(page, list);
    }
    list.push(b);
    if (!this.codePageFlag[page]) {
      this.codePageFlag[page] = 1;
      this.flushWriteTlb();
    }
    if (b.lastPhysPage !== page && !this.codePageFlag[b.lastPhysPage]) {
      // An instruction crossing into the next page: writes there must invalidate too.
      let l2 = this.codePages.get(b.lastPhysPage);
      if (!l2) { l2 = []; this.codePages.set(b.lastPhysPage, l2); }
      l2.push(b);
      this.codePageFlag[b.lastPhysPage] = 1;
      this.flushWriteTlb();
    }
  }

  invalidateCode(page: number): void {
    const list = this.codePages.get(page);
    if (list) {
      for (const b of list) {
        b.valid = false;
        if (this.blocks.get(b.phys) === b) this.blocks.delete(b.phys);
      }
      this.codePages.delete(page);
    }
    this.codePageFlag[page] = 0;
    this.codeEpoch++;
    this.dispatchEpoch++;
  }

  /** Drops every compiled block (e.g. after the loader or a back end rewrote guest code). */
  invalidateAllCode(): void {
    for (const page of [...this.codePages.keys()]) this.invalidateCode(page);
  }

  /**
   * Virtual time in ns: instructions retired, time spent halted, and the cycles a back end charged
   * (exits, hypercalls, in-place operations take time on every clock, the PIT's and the local APIC
   * timer's as much as the TSC's: a kernel calibrating one against the other sees one frequency).
   */
  get time(): number { return this.icount + this.idleTime + this.chargedCycles; }

  /**
   * Charges cycles a back end spent (they take virtual time); when that reaches the next timer event
   * the run loop returns, so the event fires when it is due rather than after the rest of a slice
   * whose length was computed before the charge.
   */
  addCycles(cycles: number): void {
    this.chargedCycles += cycles;
    if (this.time >= this.deadline) this.exitRequest = true;
  }
  /** The time-stamp counter: virtual time (which includes the cycles a back end charged). */
  get tsc(): number { return this.time; }

  /** Delivers an exception raised on behalf of the instruction at `eip` (the monitor's emulation). */
  raiseAt(vector: number, hasCode: boolean, code: number, eip: number): void {
    this.eip = eip;
    this.deliverException(vector, hasCode, code, eip);
  }

  // What a deprivileged kernel sees (kernelRing > 0 at CPL 0): the hypervisor's values and RPLs.
  private get deprivileged(): boolean { return this.cpl === 0 && this.kernelRing !== 0; }
  /** A segment selector as mov/push show it: %cs and %ss carry the real ring in their RPL. */
  visibleSelector(seg: number): number {
    const sel = this.segSel[seg];
    return this.deprivileged && (seg === SEG_CS || seg === SEG_SS) ? (sel & ~3) | this.kernelRing : sel;
  }
  /** The EFLAGS image pushf shows: below ring 0 the real IF is always 1 and IOPL is the hypervisor's 0. */
  visibleFlags(f: number): number {
    return this.deprivileged ? (f | IF) & ~IOPL : f;
  }
  visibleTable(idt: boolean): [number, number] {
    const h = this.deprivileged ? this.hostView : null;
    if (h) return idt ? [h.idtBase, h.idtLimit] : [h.gdtBase, h.gdtLimit];
    return idt ? [this.idtBase, this.idtLimit] : [this.gdtBase, this.gdtLimit];
  }
  visibleTr(): number { const h = this.deprivileged ? this.hostView : null; return h ? h.tr : this.trSel; }
  visibleLdtr(): number { const h = this.deprivileged ? this.hostView : null; return h ? h.ldtr : this.ldtSel; }
  visibleCr0(): number { const h = this.deprivileged ? this.hostView : null; return h ? h.cr0 : this.cr0; }

  /**
   * Runs until `limit` instructions have retired in total (icount), the CPU halts, or a device asks
   * for attention (exitRequest). Interrupts are taken between blocks.
   */
  run(limit: number): void {
    this.exitRequest = false;
    const jcache = this.jcache;
    while (this.icount < limit && !this.exitRequest) {
      if (this.intrLine && (this.flags & IF) && !this.intShadow) {
        const vector = this.bus.acknowledgeInterrupt();
        if (vector >= 0) {
          this.halted = false;
          this.hooks.deliver?.(vector, 'interrupt');
          try {
            this.deliver(vector, this.eip, false, false, 0, true);
          } catch (e) {
            if (e !== FAULT) throw e;
            this.deliverException(FAULT.vector, FAULT.hasCode, FAULT.code, this.eip);
          }
        }
      }
      if (this.halted) return;
      if (this.intShadow) this.intShadow = false;
      if ((this.flags & TF) || this.debugActive) { this.stepTraced(); continue; }
      // Block lookup: a direct-mapped cache on EIP, valid while nothing that could change which block
      // EIP means has happened since (dispatchEpoch: TLB flushes, CS loads, code invalidation); then
      // the physical-address map.
      const eip = this.eip;
      const slot = (eip ^ (eip >>> 12)) & JCACHE_MASK;
      let b = jcache[slot];
      if (b === undefined || b.eip !== eip || b.epoch !== this.dispatchEpoch) {
        b = this.lookupBlock();
        if (b === undefined) continue;
        jcache[slot] = b;
      }
      // The common case inline: a generated block that fits in the budget.
      const fn = b.fn;
      const count = b.ops.length;
      const room = limit - this.icount;
      if (fn !== null && count <= room) {
        this.history[this.historyPos] = eip;
        this.historyPos = (this.historyPos + 1) & (HISTORY - 1);
        this.eip = b.endEip;
        let extra: number;
        try {
          extra = fn(((room - count) / count) | 0);
        } catch (e) {
          this.blockFault(b, e, this.faultIndex, this.faultLoops);
          continue;
        }
        this.icount += count * (1 + extra);
        continue;
      }
      this.execBlock(b, room);
    }
  }

  /** An instruction of a block threw: count what retired, then deliver the exception or rethrow. */
  private blockFault(b: Block, e: unknown, i: number, loops: number): void {
    this.icount += loops * b.ops.length + i;
    if (e !== FAULT) {
      if (e instanceof MachineStop) this.eip = b.eips[i];
      throw e;
    }
    this.eip = b.eips[i];
    this.history[(this.historyPos - 1) & (HISTORY - 1)] = b.eips[i];
    this.deliverException(FAULT.vector, FAULT.hasCode, FAULT.code, b.eips[i]);
  }

  /** Finds or compiles the block at CS:EIP; delivers a fetch fault and returns undefined. */
  private lookupBlock(): Block | undefined {
    let b: Block | undefined;
    try {
      const phys = this.codeAddress();
      b = this.blocks.get(phys);
      if (b === undefined || b.eip !== this.eip || b.codeSize !== this.codeSize || b.csBase !== this.segBase[SEG_CS]) {
        b = compileBlock(this, phys);
      }
      b.epoch = this.dispatchEpoch;
    } catch (e) {
      if (e !== FAULT) throw e;
      this.deliverException(FAULT.vector, FAULT.hasCode, FAULT.code, this.eip);
      return undefined;
    }
    return b;
  }

  /**
   * One instruction under the debug facilities: execution breakpoints in DR0-DR3 (a fault before the
   * instruction, suppressed by RF) and the single-step trap after an instruction that began with TF.
   */
  private stepTraced(): void {
    const dr7 = this.dr[7];
    if ((dr7 & 0xff) && !(this.flags & RF)) {
      const lin = (this.segBase[SEG_CS] + this.eip) | 0;
      let hit = 0;
      for (let n = 0; n < 4; n++) {
        if (((dr7 >> (2 * n)) & 3) && ((dr7 >>> (16 + 4 * n)) & 3) === 0 && this.dr[n] === lin) hit |= 1 << n;
      }
      if (hit) {
        this.dr[6] = (this.dr[6] & ~0xf) | hit;
        this.deliverException(DB, false, 0, this.eip);
        return;
      }
    }
    const tf = (this.flags & TF) !== 0;
    const before = this.icount;
    const deliveries = this.deliveries;
    this.step(1);
    if (this.icount > before) {
      this.flags &= ~RF;
      if (tf && this.deliveries === deliveries && !this.halted) {
        this.dr[6] |= 0x4000;
        this.deliverException(DB, false, 0, this.eip);
      }
    }
  }

  /** Executes one block at CS:EIP (or its first `max` instructions); used by single-stepping. */
  private step(max: number): void {
    const b = this.lookupBlock();
    if (b !== undefined) this.execBlock(b, max);
  }

  /** Executes a block (or its first `max` instructions); a fault is delivered at its instruction. */
  private execBlock(b: Block, max: number): void {
    const ops = b.ops;
    const count = ops.length;
    const h = this.history;
    h[this.historyPos] = b.eip;
    this.historyPos = (this.historyPos + 1) & (HISTORY - 1);
    let i = 0;
    let fn = b.fn;
    if (fn === null && ++b.hits >= this.jitThreshold) fn = b.fn = jitBlock(this, b, testCondition);
    try {
      if (count <= max) {
        this.eip = b.endEip;
        if (fn !== null) {
          const extra = fn(((max - count) / count) | 0);
          this.icount += count * (1 + extra);
          return;
        }
        for (; i < count; i++) ops[i]();
        this.icount += count;
      } else {
        this.eip = b.eips[max];
        for (; i < max; i++) ops[i]();
        this.icount += max;
      }
    } catch (e) {
      // Generated code reports where it stopped; the interpreted loop's index says it itself.
      if (fn !== null && count <= max) this.blockFault(b, e, this.faultIndex, this.faultLoops);
      else this.blockFault(b, e, i, 0);
    }
  }

  /** Linear addresses of recently executed block starts (oldest first). */
  recentBlocks(): number[] {
    const out: number[] = [];
    for (let i = 0; i < HISTORY; i++) {
      const v = this.history[(this.historyPos + i) & (HISTORY - 1)];
      if (v !== 0) out.push(v >>> 0);
    }
    return out;
  }
}

export { OF, DF, IF, CF };
