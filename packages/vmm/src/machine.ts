// The simulated PC: RAM, the CPU, the devices and the virtual clock, and the run loop that ties them.
//
// Virtual time: the clock advances by 1 ns per guest instruction retired (a 1 GHz, one instruction per
// cycle machine: TSC = LAPIC bus = 1 GHz); while the CPU is halted it jumps to the next timer event.
// Device timers are checked between blocks, so a timer interrupt arrives at most one block (<= 128
// instructions) late, the same way on every run: a run is a pure function of its inputs.
import { Cpu, CpuException, MachineStop, REG_NAMES, SEG_CS, SEG_DS, SEG_ES, SEG_FS, SEG_GS, SEG_NAMES, SEG_SS, hex, type CpuBus, type CpuHooks } from './cpu.js';
import { isaDecoder } from './decoder.js';
import { I8042, IoApic, LocalApic, PicPair, Pit, Rtc, Uart, type IrqSink } from './devices.js';
import { IdeChannel, type DiskImage } from './ide.js';
import { BOOT_GDT, MULTIBOOT_BOOTLOADER_MAGIC, loadMultiboot, type BootState } from './multiboot.js';
import { LINUX_GDT, isBzImage, loadLinux } from './linux.js';
import { ImageError } from './elf.js';
import { decode, formatInstruction } from '@previrt/isa';
import { IF } from './flags.js';

/** 2024-01-01T00:00:00Z: the RTC's time at virtual time 0 (compare with QEMU's `-rtc base=2024-01-01T00:00:00`). */
export const DEFAULT_RTC_BASE = Date.UTC(2024, 0, 1) / 1000;
export const NS_PER_INSTRUCTION = 1;

export interface MachineOptions {
  memoryMB?: number;
  kernel: Uint8Array;
  /** Kernel file name as given by the user: QEMU passes it as the first word of the command line. */
  kernelName: string;
  append?: string;
  /** An initial RAM disk for a Linux bzImage (placed and announced in the zero page as QEMU does). */
  initrd?: Uint8Array;
  /**
   * For a Linux bzImage: load the vmlinux inside it directly and enter startup_32 (as a para-virtual
   * domain builder does; gzip payloads) instead of running its decompressor.
   */
  linuxDirect?: boolean;
  disks?: (DiskImage | null)[];
  serialOut: (byte: number) => void;
  rtcBase?: number;
  hooks?: CpuHooks;
  /** Bytes of memory for the in-place monitor after guest RAM (not guest-physical; see Cpu.monitorWindow). */
  monitorBytes?: number;
}

export type StopReason = 'exit' | 'reset' | 'halted' | 'limit' | 'failure' | 'waiting-input' | 'idle';

export interface RunResult {
  reason: StopReason;
  exitCode: number;
  message: string;
}

export class Machine implements CpuBus {
  readonly ram: Uint8Array;
  /** Guest RAM followed by the monitor's memory. */
  readonly memory: Uint8Array;
  readonly cpu: Cpu;
  readonly pic: PicPair;
  readonly pit: Pit;
  readonly uart: Uart;
  readonly rtc: Rtc;
  readonly lapic: LocalApic;
  readonly ioapic: IoApic;
  readonly ide: IdeChannel;
  readonly kbc: I8042;
  readonly boot: BootState;
  private crtcIndex = 0;
  private readonly crtc = new Uint8Array(32);
  private port92 = 0x02;
  private stopRequest: MachineStop | null = null;

  constructor(opts: MachineOptions) {
    const mb = opts.memoryMB ?? 128;
    this.memory = new Uint8Array(mb * 1024 * 1024 + (opts.monitorBytes ?? 0));
    this.ram = this.memory.subarray(0, mb * 1024 * 1024);
    this.cpu = new Cpu(this, isaDecoder);
    if (opts.hooks) this.cpu.hooks = opts.hooks;
    const now = (): number => this.cpu.time;
    const changed = (): void => this.updateIntr();
    const resched = (): void => { this.cpu.exitRequest = true; };
    this.pic = new PicPair(changed);
    this.lapic = new LocalApic(now, changed, resched);
    this.ioapic = new IoApic(this.lapic);
    const irq: IrqSink = {
      setIrq: (n, level) => {
        this.pic.setIrq(n, level);
        this.ioapic.setPin(n === 0 ? 2 : n, level);
      },
    };
    this.pit = new Pit(irq, now, resched);
    this.uart = new Uart(irq, 4, opts.serialOut);
    this.rtc = new Rtc(opts.rtcBase ?? DEFAULT_RTC_BASE, this.ram.length, irq, now, resched);
    this.ide = new IdeChannel(opts.disks ?? [], irq);
    this.kbc = new I8042(() => this.requestStop(new MachineStop('reset requested through the i8042', 'reset', 0)), () => this.a20());
    if (isBzImage(opts.kernel)) {
      // A Linux bzImage: the 32-bit boot protocol (the command line is --append alone, as QEMU's).
      const l = loadLinux(this.ram, opts.kernel, opts.append ?? '', { initrd: opts.initrd, direct: opts.linuxDirect });
      this.boot = { entry: l.entry, low: l.low, high: l.high, mbi: l.zeroPage, cmdline: l.cmdline };
      this.resetCpu();
      const c = this.cpu;
      c.regs.fill(0);
      c.regs[6] = l.zeroPage;
      c.regs[4] = 0x9000;
      c.gdtBase = LINUX_GDT; c.gdtLimit = 0x1f;
      c.setSegmentCache(SEG_CS, 0x10, 0, 0xffffffff, 0xcf9b00);
      for (const s of [SEG_DS, SEG_ES, SEG_FS, SEG_GS, SEG_SS]) c.setSegmentCache(s, 0x18, 0, 0xffffffff, 0xcf9300);
      c.setFlags(0x2, 0xffffffff);
      return;
    }
    if (opts.initrd) throw new ImageError('an initrd is only for a Linux bzImage (Multiboot modules are not supported)');
    const cmdline = opts.append ? `${opts.kernelName} ${opts.append}` : opts.kernelName;
    this.boot = loadMultiboot(this.ram, opts.kernel, cmdline);
    this.resetCpu();
  }

  /** CPU state at the kernel's entry point, as QEMU's Multiboot option ROM leaves it. */
  private resetCpu(): void {
    const c = this.cpu;
    c.regs.fill(0);
    c.regs[0] = MULTIBOOT_BOOTLOADER_MAGIC;
    c.regs[3] = this.boot.mbi;
    c.regs[1] = this.boot.entry;
    c.regs[4] = 0x6f08;
    c.eip = this.boot.entry;
    c.setFlags(0x6, 0xffffffff);
    c.cr0 = 0x11;
    c.gdtBase = BOOT_GDT.base; c.gdtLimit = BOOT_GDT.limit;
    c.idtBase = 0; c.idtLimit = 0x3ff;
    c.setSegmentCache(SEG_CS, 0x08, 0, 0xffffffff, 0xcf9b00);
    for (const s of [SEG_DS, SEG_ES, SEG_FS, SEG_GS, SEG_SS]) c.setSegmentCache(s, 0x10, 0, 0xffffffff, 0xcf9300);
    c.trType = 0xb; c.trLimit = 0;
  }

  // ---------------------------------------------------------------- bus

  private updateIntr(): void {
    const picOk = this.lapic.acceptsPic((this.cpu.apicBase & 0x800) !== 0);
    this.cpu.intrLine = this.lapic.pending() >= 0 || (picOk && this.pic.hasInterrupt());
  }

  acknowledgeInterrupt(): number {
    let v = -1;
    if (this.lapic.pending() >= 0) v = this.lapic.acknowledge();
    else if (this.lapic.acceptsPic((this.cpu.apicBase & 0x800) !== 0) && this.pic.hasInterrupt()) v = this.pic.acknowledge();
    this.updateIntr();
    return v;
  }

  private apicBaseAddr(): number { return (this.cpu.apicBase & 0xfffff000) >>> 0; }

  mmioRead(addr: number, size: 1 | 2 | 4): number {
    const apic = this.apicBaseAddr();
    if (addr >= apic && addr < apic + 0x1000 && (this.cpu.apicBase & 0x800)) {
      const off = addr - apic;
      const v = this.lapic.read(off & ~0xf);
      return size === 4 ? v : (v >>> ((off & 3) * 8)) & (size === 1 ? 0xff : 0xffff);
    }
    if (addr >= 0xfec00000 && addr < 0xfec01000) {
      const v = this.ioapic.read((addr - 0xfec00000) & ~3);
      return size === 4 ? v : (v >>> ((addr & 3) * 8)) & (size === 1 ? 0xff : 0xffff);
    }
    return 0;
  }

  mmioWrite(addr: number, size: 1 | 2 | 4, value: number): void {
    const apic = this.apicBaseAddr();
    if (addr >= apic && addr < apic + 0x1000 && (this.cpu.apicBase & 0x800)) {
      if (size === 4) this.lapic.write((addr - apic) & ~0xf, value);
      this.updateIntr();
      return;
    }
    if (addr >= 0xfec00000 && addr < 0xfec01000) {
      if (size === 4) this.ioapic.write((addr - 0xfec00000) & ~3, value);
      this.updateIntr();
    }
  }

  ioRead(port: number, size: 1 | 2 | 4): number {
    let v: number;
    if (port >= 0x3f8 && port <= 0x3ff) v = this.uart.read(port - 0x3f8);
    else if ((port >= 0x1f0 && port <= 0x1f7) || port === 0x3f6) return this.ide.read(port, size);
    else if (port === 0x20 || port === 0x21) v = this.pic.master.read(port);
    else if (port === 0xa0 || port === 0xa1) v = this.pic.slave.read(port);
    else if (port >= 0x40 && port <= 0x43) v = this.pit.read(port);
    else if (port === 0x61) v = this.pit.readPort61();
    else if (port === 0x70 || port === 0x71) v = this.rtc.read(port);
    else if (port === 0x60 || port === 0x64) v = this.kbc.read(port);
    else if (port === 0x92) v = this.port92;
    else if (port === 0x3d4) v = this.crtcIndex;
    else if (port === 0x3d5) v = this.crtc[this.crtcIndex & 31];
    else if (port === 0x4d0) v = this.pic.master.elcr;
    else if (port === 0x4d1) v = this.pic.slave.elcr;
    else return size === 4 ? -1 : size === 2 ? 0xffff : 0xff;
    if (size === 1) return v & 0xff;
    // Wider accesses to byte-wide devices read consecutive ports.
    let r = v & 0xff;
    for (let i = 1; i < size; i++) r |= this.ioRead(port + i, 1) << (8 * i);
    return size === 4 ? r : r & 0xffff;
  }

  ioWrite(port: number, size: 1 | 2 | 4, value: number): void {
    if ((port >= 0x1f0 && port <= 0x1f7) || port === 0x3f6) { this.ide.write(port, size, value); return; }
    if (port === 0xf4) {
      // isa-debug-exit: QEMU exits with (value << 1) | 1.
      const code = ((value & 0xff) << 1) | 1;
      this.requestStop(new MachineStop(`guest exit through port 0xf4 with value 0x${(value >>> 0).toString(16)}`, 'exit', code));
      return;
    }
    if (size !== 1) {
      for (let i = 0; i < size; i++) this.ioWrite(port + i, 1, (value >>> (8 * i)) & 0xff);
      return;
    }
    const v = value & 0xff;
    if (port >= 0x3f8 && port <= 0x3ff) this.uart.write(port - 0x3f8, v);
    else if (port === 0x20 || port === 0x21) this.pic.master.write(port, v);
    else if (port === 0xa0 || port === 0xa1) this.pic.slave.write(port, v);
    else if (port >= 0x40 && port <= 0x43) this.pit.write(port, v);
    else if (port === 0x61) this.pit.writePort61(v);
    else if (port === 0x70 || port === 0x71) this.rtc.write(port, v);
    else if (port === 0x60 || port === 0x64) this.kbc.write(port, v);
    else if (port === 0x92) {
      if (v & 1) this.requestStop(new MachineStop('reset requested through port 0x92', 'reset', 0));
      const changed = (v & 2) !== (this.port92 & 2);
      this.port92 = v & 0x02;
      if (changed) this.a20();
    } else if (port === 0x3d4) this.crtcIndex = v;
    else if (port === 0x3d5) this.crtc[this.crtcIndex & 31] = v;
    else if (port === 0xcf9) {
      if (v & 4) this.requestStop(new MachineStop('reset requested through port 0xcf9', 'reset', 0));
    } else if (port === 0x4d0) this.pic.master.elcr = v & 0xf8;
    else if (port === 0x4d1) this.pic.slave.elcr = v & 0xde;
  }

  /** The A20 gate is the OR of the i8042 output port bit and port 0x92 bit 1 (both on at boot). */
  private a20(): void {
    this.cpu.setA20(this.kbc.a20 || (this.port92 & 2) !== 0);
  }

  private requestStop(stop: MachineStop): void {
    if (!this.stopRequest) this.stopRequest = stop;
    this.cpu.exitRequest = true;
  }

  /** Text-mode cursor position from the CRTC (row * 80 + column). */
  get cursor(): number { return (this.crtc[0x0e] << 8) | this.crtc[0x0f]; }

  // ---------------------------------------------------------------- running

  private nextEvent(): number {
    return Math.min(this.pit.nextEvent(), this.lapic.nextEvent(), this.rtc.nextEvent());
  }
  private fireEvents(now: number): void {
    this.pit.fire(now);
    this.lapic.fire(now);
    this.rtc.fire(now);
    this.updateIntr();
  }

  /**
   * Runs until the guest stops, `maxInstructions` retire, or it waits for serial input that is not
   * there (`waiting-input`: feed the UART and call run again). While halted, virtual time jumps to the
   * next timer event; `idleBudget` (ns) bounds how far in one call (`idle` when used up).
   */
  run(maxInstructions = Infinity, idleBudget = Infinity): RunResult {
    const c = this.cpu;
    let idleLeft = idleBudget;
    try {
      for (;;) {
        if (this.stopRequest) return this.finish(this.stopRequest);
        if (c.icount >= maxInstructions) {
          return { reason: 'limit', exitCode: 3, message: `instruction limit reached (${maxInstructions} instructions)` };
        }
        const next = this.nextEvent();
        const until = Math.min(maxInstructions, c.icount + Math.max(1, Math.ceil(next - c.time)));
        c.deadline = next;
        c.run(until);
        if (this.stopRequest) return this.finish(this.stopRequest);
        if (c.time >= next) this.fireEvents(c.time);
        if (c.halted) {
          if (c.intrLine && (c.flags & IF)) continue;
          if (!(c.flags & IF)) {
            return this.finish(new MachineStop('the CPU halted with interrupts disabled', 'halt-forever', 0));
          }
          const ev = this.nextEvent();
          if (ev === Infinity) {
            // Only serial input can wake the guest now.
            return { reason: 'waiting-input', exitCode: 0, message: 'halted with no timer armed: waiting for serial input' };
          }
          if (ev > c.time) {
            // An interactive caller lets virtual time idle only as fast as real time passes.
            if (ev - c.time > idleLeft) {
              c.idleTime += idleLeft;
              return { reason: 'idle', exitCode: 0, message: 'halted, idle budget used' };
            }
            idleLeft -= ev - c.time;
            c.idleTime += ev - c.time;
          }
          this.fireEvents(c.time);
        }
      }
    } catch (e) {
      if (e instanceof MachineStop) return this.finish(e);
      if (e instanceof CpuException) {
        return { reason: 'failure', exitCode: 3, message: `exception ${e.vector} escaped delivery` + this.report() };
      }
      throw e;
    }
  }

  private finish(stop: MachineStop): RunResult {
    switch (stop.kind) {
      case 'exit': return { reason: 'exit', exitCode: stop.exitCode, message: stop.reason };
      case 'reset': return { reason: 'reset', exitCode: 0, message: stop.reason };
      case 'halt-forever': return { reason: 'halted', exitCode: 0, message: stop.reason };
      default: return { reason: 'failure', exitCode: 3, message: stop.reason };
    }
  }

  /** Registers, segments and the last instructions executed, for failure reports. */
  report(): string {
    const c = this.cpu;
    const lines: string[] = [];
    lines.push(`cs:eip ${hex(c.segSel[SEG_CS], 4)}:${hex(c.eip)}  cpl ${c.cpl}  eflags ${hex(c.getFlags())}  instructions ${c.icount}`);
    lines.push(REG_NAMES.map((n, i) => `${n} ${hex(c.regs[i])}`).join('  '));
    lines.push(SEG_NAMES.map((n, i) => `${n} ${hex(c.segSel[i], 4)}`).join('  ')
      + `  cr0 ${hex(c.cr0)} cr2 ${hex(c.cr2)} cr3 ${hex(c.cr3)} cr4 ${hex(c.cr4)}`);
    lines.push(`gdt ${hex(c.gdtBase)}/${hex(c.gdtLimit, 4)}  idt ${hex(c.idtBase)}/${hex(c.idtLimit, 4)}  tr ${hex(c.trSel, 4)}`);
    const recent = this.recentInstructions(8);
    if (recent.length) {
      lines.push('last instructions:');
      for (const r of recent) lines.push(`  ${r}`);
    }
    return '\n' + lines.join('\n');
  }

  /** Disassembly of the last instructions executed (from recent blocks), oldest first. */
  recentInstructions(n: number): string[] {
    const c = this.cpu;
    const out: string[] = [];
    const starts = c.recentBlocks();
    const buf = new Uint8Array(16);
    for (const start of starts) {
      let eip = start;
      for (let k = 0; k < 256; k++) {
        const lin = (c.segBase[SEG_CS] + eip) | 0;
        let got: number;
        try { got = c.fetchBytes(lin, buf, 15); } catch { break; }
        const insn = decode(buf.subarray(0, got), 0, c.codeSize, eip >>> 0);
        out.push(`${hex(eip)}: ${formatInstruction(insn)}`);
        if (eip === c.eip || (eip >>> 0) >= (c.eip >>> 0) && start <= (c.eip >>> 0)) break;
        if (['jmp', 'ret', 'call', 'iret', 'lret', 'ljmp', 'lcall', 'int', 'hlt'].some((m) => insn.mnemonic.startsWith(m)) || insn.mnemonic.startsWith('j')) break;
        eip = (eip + insn.length) | 0;
      }
    }
    return out.slice(-n);
  }
}
