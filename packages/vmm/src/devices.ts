// The PC's devices. Time is virtual: `now` is in nanoseconds of the machine's clock (see clock in
// machine.ts), never the host's. Initial register values follow what a Multiboot kernel finds under
// qemu-system-i386 after SeaBIOS (recorded by fixtures/vmm/probe).

/** Interrupt wiring shared by the devices: an ISA IRQ line goes to both the 8259 pair and the I/O APIC. */
export interface IrqSink {
  setIrq(irq: number, level: boolean): void;
}

// ---------------------------------------------------------------- 8259 PIC

export class Pic8259 {
  imr = 0xff;
  irr = 0;
  isr = 0;
  private lastLevel = 0;
  vectorBase = 0;
  private initStep = 0;
  private needIcw4 = false;
  private readIsr = false;
  autoEoi = false;
  private specialMask = false;
  elcr = 0;
  /** Lowest-priority IRQ (priority rotates after it). */
  private priorityAdd = 0;

  constructor(readonly master: boolean, private readonly onChange: () => void) {}

  setIrq(irq: number, level: boolean): void {
    const bit = 1 << irq;
    if (this.elcr & bit) {
      if (level) { this.irr |= bit; this.lastLevel |= bit; } else { this.irr &= ~bit; this.lastLevel &= ~bit; }
    } else if (level) {
      if (!(this.lastLevel & bit)) this.irr |= bit;
      this.lastLevel |= bit;
    } else this.lastLevel &= ~bit;
    this.onChange();
  }

  private priority(mask: number): number {
    if (!mask) return 8;
    let p = 0;
    while (!(mask & (1 << ((p + this.priorityAdd) & 7)))) p++;
    return p;
  }

  /** The IRQ that would be delivered next, or -1. */
  pending(): number {
    const mask = this.irr & ~this.imr;
    const p = this.priority(mask);
    if (p === 8) return -1;
    let isrMask = this.isr;
    if (this.specialMask) isrMask &= ~this.imr;
    const cur = this.priority(isrMask);
    return p < cur ? (p + this.priorityAdd) & 7 : -1;
  }

  /** Acknowledges irq: IRR -> ISR (edge-triggered requests are consumed). */
  ack(irq: number): void {
    const bit = 1 << irq;
    if (!this.autoEoi) this.isr |= bit;
    if (!(this.elcr & bit)) this.irr &= ~bit;
  }

  read(port: number): number {
    if (port & 1) return this.imr;
    return this.readIsr ? this.isr : this.irr;
  }

  write(port: number, v: number): void {
    if (!(port & 1)) {
      if (v & 0x10) {
        // ICW1
        this.initStep = 2;
        this.needIcw4 = (v & 1) !== 0;
        this.imr = 0; this.isr = 0; this.irr = 0; this.lastLevel = 0;
        this.priorityAdd = 0; this.readIsr = false; this.specialMask = false; this.autoEoi = false;
      } else if (v & 0x08) {
        // OCW3
        if (v & 2) this.readIsr = (v & 1) !== 0;
        if (v & 0x40) this.specialMask = (v & 0x20) !== 0;
      } else {
        // OCW2
        const cmd = v >> 5;
        switch (cmd) {
          case 1: case 5: { // non-specific EOI (5: and rotate)
            const p = this.priority(this.isr);
            if (p !== 8) {
              const irq = (p + this.priorityAdd) & 7;
              this.isr &= ~(1 << irq);
              if (cmd === 5) this.priorityAdd = (irq + 1) & 7;
            }
            break;
          }
          case 3: this.isr &= ~(1 << (v & 7)); break;
          case 7: this.isr &= ~(1 << (v & 7)); this.priorityAdd = ((v & 7) + 1) & 7; break;
          case 6: this.priorityAdd = ((v & 7) + 1) & 7; break;
        }
      }
    } else {
      switch (this.initStep) {
        case 0: this.imr = v; break;
        case 2: this.vectorBase = v & 0xf8; this.initStep = 3; break;
        case 3: this.initStep = this.needIcw4 ? 4 : 0; break;
        case 4: this.autoEoi = (v & 2) !== 0; this.initStep = 0; break;
      }
    }
    this.onChange();
  }
}

export class PicPair implements IrqSink {
  readonly master: Pic8259;
  readonly slave: Pic8259;
  constructor(private readonly onChange: () => void) {
    this.master = new Pic8259(true, () => this.update());
    this.slave = new Pic8259(false, () => this.update());
    // State left by SeaBIOS (probe): vectors 0x08/0x70, masks 0xb8/0x8e.
    this.master.vectorBase = 0x08;
    this.slave.vectorBase = 0x70;
    this.master.imr = 0xb8;
    this.slave.imr = 0x8e;
  }
  private updating = false;
  private update(): void {
    if (this.updating) return;
    this.updating = true;
    this.master.setIrq(2, this.slave.pending() >= 0);
    this.updating = false;
    this.onChange();
  }
  setIrq(irq: number, level: boolean): void {
    if (irq < 8) this.master.setIrq(irq, level);
    else this.slave.setIrq(irq - 8, level);
  }
  hasInterrupt(): boolean {
    return this.master.pending() >= 0;
  }
  /** INTA cycle: the vector of the highest-priority request (spurious IRQ 7/15 if it went away). */
  acknowledge(): number {
    const irq = this.master.pending();
    if (irq < 0) return this.master.vectorBase + 7;
    this.master.ack(irq);
    if (irq !== 2) { this.update(); return this.master.vectorBase + irq; }
    const irq2 = this.slave.pending();
    if (irq2 < 0) { this.update(); return this.slave.vectorBase + 7; }
    this.slave.ack(irq2);
    this.update();
    return this.slave.vectorBase + irq2;
  }
}

// ---------------------------------------------------------------- 8254 PIT

export const PIT_HZ = 1193182;

class PitChannel {
  mode = 0;
  access = 3; // 1 lo, 2 hi, 3 lo/hi
  bcd = false;
  reload = 0x10000;
  /** Virtual time (ns) the count was loaded. */
  start = 0;
  latched = -1;
  latchedHigh = false;
  readHigh = false;
  writeHigh = false;
  writeLow = 0;
  gate = true;
  statusLatched = -1;
  nullCount = true;
  armed = false;

  ticks(now: number): number {
    return Math.floor(((now - this.start) * PIT_HZ) / 1e9);
  }
  count(now: number): number {
    if (!this.armed) return this.reload & 0xffff;
    const t = this.ticks(now);
    const r = this.reload;
    switch (this.mode) {
      case 0: case 1: case 4: case 5: return (r - t) & 0xffff;
      case 3: { const period = r; const x = t % period; return (r - 2 * x) & 0xfffe; }
      default: { const x = t % r; return (r - x) & 0xffff; }
    }
  }
  out(now: number): boolean {
    if (!this.armed) return this.mode !== 0;
    const t = this.ticks(now);
    const r = this.reload;
    switch (this.mode) {
      case 0: return t >= r;
      case 1: return t >= r;
      case 2: return t % r !== r - 1;
      case 3: return t % r < (r + 1) >> 1;
      case 4: case 5: return t !== r;
      default: return true;
    }
  }
  /** Next virtual time after `now` at which OUT rises (the IRQ edge), or Infinity. */
  nextRise(now: number): number {
    if (!this.armed) return Infinity;
    const r = this.reload;
    const t = this.ticks(now);
    const at = (tick: number): number => this.start + Math.ceil((tick * 1e9) / PIT_HZ);
    switch (this.mode) {
      case 0: case 1: return t < r ? at(r) : Infinity;
      case 2: return at((Math.floor(t / r) + 1) * r);
      case 3: return at((Math.floor(t / r) + 1) * r);
      default: return t < r ? at(r + 1) : Infinity;
    }
  }
}

export class Pit {
  readonly ch = [new PitChannel(), new PitChannel(), new PitChannel()];
  /** Port 0x61 bits 0-1 (channel 2 gate, speaker data). */
  port61 = 0;
  private irqTime = Infinity;

  constructor(private readonly irq: IrqSink, private readonly now: () => number, private readonly reschedule: () => void) {
    // SeaBIOS programs channel 0 for the 18.2 Hz BIOS tick (mode 2, count 0 = 65536).
    const c0 = this.ch[0];
    c0.mode = 2; c0.reload = 0x10000; c0.start = 0; c0.armed = true; c0.nullCount = false;
    this.irqTime = c0.nextRise(0);
  }

  nextEvent(): number { return this.irqTime; }

  /** Called when virtual time reached nextEvent(): pulses IRQ 0. */
  fire(now: number): void {
    if (now < this.irqTime) return;
    this.irq.setIrq(0, true);
    this.irq.setIrq(0, false);
    this.irqTime = this.ch[0].nextRise(now);
  }

  read(port: number): number {
    const now = this.now();
    if (port === 0x43) return 0xff;
    const c = this.ch[port - 0x40];
    if (c.statusLatched >= 0) { const s = c.statusLatched; c.statusLatched = -1; return s; }
    if (c.latched >= 0) {
      if (c.access === 3) {
        const v = c.latchedHigh ? (c.latched >> 8) & 0xff : c.latched & 0xff;
        if (c.latchedHigh) c.latched = -1;
        c.latchedHigh = !c.latchedHigh;
        return v;
      }
      const v = c.access === 1 ? c.latched & 0xff : (c.latched >> 8) & 0xff;
      c.latched = -1;
      return v;
    }
    const v = c.count(now);
    if (c.access === 1) return v & 0xff;
    if (c.access === 2) return (v >> 8) & 0xff;
    const r = c.readHigh ? (v >> 8) & 0xff : v & 0xff;
    c.readHigh = !c.readHigh;
    return r;
  }

  write(port: number, v: number): void {
    const now = this.now();
    if (port === 0x43) {
      const sel = v >> 6;
      if (sel === 3) {
        // Read-back command.
        for (let i = 0; i < 3; i++) {
          if (!(v & (2 << i))) continue;
          const c = this.ch[i];
          if (!(v & 0x20) && c.latched < 0) { c.latched = c.count(now); c.latchedHigh = false; }
          if (!(v & 0x10) && c.statusLatched < 0) {
            c.statusLatched = (c.out(now) ? 0x80 : 0) | (c.nullCount ? 0x40 : 0) | (c.access << 4) | (c.mode << 1) | (c.bcd ? 1 : 0);
          }
        }
        return;
      }
      const c = this.ch[sel];
      const access = (v >> 4) & 3;
      if (access === 0) {
        if (c.latched < 0) { c.latched = c.count(now); c.latchedHigh = false; }
        return;
      }
      c.access = access;
      c.mode = (v >> 1) & 7;
      if (c.mode > 5) c.mode -= 4;
      c.bcd = (v & 1) !== 0;
      c.readHigh = false;
      c.writeHigh = false;
      c.armed = false;
      c.nullCount = true;
      if (sel === 0) { this.irqTime = Infinity; this.reschedule(); }
      return;
    }
    const i = port - 0x40;
    const c = this.ch[i];
    let value: number;
    if (c.access === 1) value = v & 0xff;
    else if (c.access === 2) value = (v & 0xff) << 8;
    else {
      if (!c.writeHigh) { c.writeLow = v & 0xff; c.writeHigh = true; return; }
      c.writeHigh = false;
      value = c.writeLow | ((v & 0xff) << 8);
    }
    c.reload = value === 0 ? 0x10000 : value;
    c.start = now;
    c.armed = i !== 2 || (this.port61 & 1) !== 0;
    c.nullCount = false;
    if (i === 0) { this.irqTime = c.nextRise(now); this.reschedule(); }
  }

  readPort61(): number {
    const now = this.now();
    const refresh = Math.floor(now / 15085) & 1; // DRAM refresh toggles every 15 us
    return (this.port61 & 3) | (refresh ? 0x10 : 0) | (this.ch[2].out(now) ? 0x20 : 0);
  }
  writePort61(v: number): void {
    const now = this.now();
    const c = this.ch[2];
    const gateWas = (this.port61 & 1) !== 0;
    this.port61 = v & 3;
    const gate = (v & 1) !== 0;
    if (gate && !gateWas) { c.start = now; c.armed = true; }
    else if (!gate && gateWas && (c.mode === 2 || c.mode === 3)) c.armed = false;
  }
}

// ---------------------------------------------------------------- 16550 UART

export class Uart {
  private ier = 0;
  private lcr = 0;
  private mcr = 0x08;
  private scr = 0;
  private dll = 0x0c;
  private dlm = 0;
  private fcr = 0;
  /** The receiver (FIFO or holding register): what a FIFO reset drops. */
  private readonly rx: number[] = [];
  /**
   * Bytes on the host side of the line, moved into the receiver one at a time when the guest looks
   * (flow control, as QEMU's chardev does): input given up front is never lost to an early FIFO reset.
   */
  private readonly host: number[] = [];
  private hostPos = 0;
  private thrIntPending = false;
  private irqLevel = false;

  constructor(private readonly irq: IrqSink, private readonly irqLine: number, private readonly output: (byte: number) => void) {}

  /** Serial input from the host. */
  receive(bytes: Uint8Array | number[]): void {
    for (const b of bytes) this.host.push(b);
    this.update();
  }
  /** Nothing left to read, on either side of the line. */
  get rxEmpty(): boolean { return this.rx.length === 0 && this.hostPos >= this.host.length; }
  private pull(): void {
    // In loopback mode the receiver hears only the transmitter.
    if (this.rx.length === 0 && this.hostPos < this.host.length && !(this.mcr & 0x10)) {
      this.rx.push(this.host[this.hostPos++]);
      if (this.hostPos > 4096 && this.hostPos * 2 > this.host.length) { this.host.splice(0, this.hostPos); this.hostPos = 0; }
    }
  }

  private iir(): number {
    const fifo = this.fcr & 1 ? 0xc0 : 0;
    // Input moves in only when the guest looks or has asked to be interrupted for it.
    if (this.ier & 1) this.pull();
    if ((this.ier & 1) && this.rx.length > 0) return fifo | 0x04;
    if ((this.ier & 2) && this.thrIntPending) return fifo | 0x02;
    return fifo | 0x01;
  }
  private update(): void {
    const level = (this.iir() & 1) === 0 && (this.mcr & 0x08) !== 0;
    if (level !== this.irqLevel) {
      this.irqLevel = level;
      this.irq.setIrq(this.irqLine, level);
    }
  }

  read(off: number): number {
    const dlab = (this.lcr & 0x80) !== 0;
    switch (off) {
      case 0: {
        if (dlab) return this.dll;
        this.pull();
        const v = this.rx.length ? this.rx.shift()! : 0;
        this.update();
        return v;
      }
      case 1: return dlab ? this.dlm : this.ier;
      case 2: {
        this.pull();
        const v = this.iir();
        if ((v & 0x0f) === 0x02) { this.thrIntPending = false; this.update(); }
        return v;
      }
      case 3: return this.lcr;
      case 4: return this.mcr;
      case 5: this.pull(); return 0x60 | (this.rx.length ? 1 : 0);
      case 6: return this.mcr & 0x10 ? ((this.mcr & 0x0f) << 4) : 0xb0;
      default: return this.scr;
    }
  }

  write(off: number, v: number): void {
    const dlab = (this.lcr & 0x80) !== 0;
    switch (off) {
      case 0:
        if (dlab) { this.dll = v; return; }
        if (this.mcr & 0x10) this.rx.push(v); // loopback
        else this.output(v);
        this.thrIntPending = true;
        break;
      case 1:
        if (dlab) { this.dlm = v; return; }
        // Enabling the THR interrupt with an empty transmitter raises it at once.
        if ((v & 2) && !(this.ier & 2)) this.thrIntPending = true;
        this.ier = v & 0x0f;
        break;
      case 2: this.fcr = v & 0xc9; if (v & 2) this.rx.length = 0; break;
      case 3: this.lcr = v; return;
      case 4: this.mcr = v & 0x1f; break;
      case 7: this.scr = v; return;
      default: return;
    }
    this.update();
  }
}

// ---------------------------------------------------------------- CMOS / RTC (MC146818)

export class Rtc {
  private index = 0;
  private readonly ram = new Uint8Array(128);
  private regB = 0x02;
  private regA = 0x26;
  private flagsC = 0;
  private alarmSec = 0; private alarmMin = 0; private alarmHour = 0;
  private periodicNext = Infinity;
  nmiMasked = false;

  /** baseSeconds: the wall-clock time (Unix seconds, UTC) at virtual time 0. */
  constructor(private readonly baseSeconds: number, memoryBytes: number, private readonly irq: IrqSink,
    private readonly now: () => number, private readonly reschedule: () => void) {
    // Values SeaBIOS/QEMU leave in CMOS (probe), memory sizes computed as QEMU does.
    const init: [number, number][] = [[0x0a, 0x26], [0x0b, 0x02], [0x0d, 0x80], [0x10, 0x50], [0x14, 0x07], [0x32, 0x20],
      [0x3d, 0x12], [0x37, 0x20], [0x38, 0x30], [0x3f, 0x00], [0x5f, 0x00]];
    for (const [i, v] of init) this.ram[i] = v;
    this.ram[0x15] = 0x80; this.ram[0x16] = 0x02; // 640 KB base memory
    const extKb = Math.min(0xffff, Math.max(0, memoryBytes / 1024 - 1024));
    this.ram[0x17] = extKb & 0xff; this.ram[0x18] = extKb >> 8;
    this.ram[0x30] = extKb & 0xff; this.ram[0x31] = extKb >> 8;
    const above16 = Math.min(0xffff, Math.max(0, (memoryBytes - 16 * 1024 * 1024) / 65536));
    this.ram[0x34] = above16 & 0xff; this.ram[0x35] = above16 >> 8;
  }

  private bcd(v: number): number {
    return this.regB & 4 ? v : ((Math.floor(v / 10) << 4) | (v % 10));
  }

  private timeFields(): number[] {
    const secs = this.baseSeconds + Math.floor(this.now() / 1e9);
    const d = new Date(secs * 1000);
    let hour = d.getUTCHours();
    let hourReg: number;
    if (this.regB & 2) hourReg = this.bcd(hour);
    else { const pm = hour >= 12; hour %= 12; if (hour === 0) hour = 12; hourReg = this.bcd(hour) | (pm ? 0x80 : 0); }
    return [this.bcd(d.getUTCSeconds()), this.bcd(d.getUTCMinutes()), hourReg, d.getUTCDay() + 1, this.bcd(d.getUTCDate()),
      this.bcd(d.getUTCMonth() + 1), this.bcd(d.getUTCFullYear() % 100), this.bcd(Math.floor(d.getUTCFullYear() / 100))];
  }

  nextEvent(): number { return this.periodicNext; }
  fire(now: number): void {
    if (now < this.periodicNext) return;
    const period = this.periodNs();
    this.flagsC |= 0x40;
    if (this.regB & 0x40) { this.flagsC |= 0x80; this.irq.setIrq(8, true); }
    this.periodicNext = period ? (Math.floor(now / period) + 1) * period : Infinity;
  }
  private periodNs(): number {
    const rate = this.regA & 0x0f;
    if (rate === 0) return 0;
    const r = rate <= 2 ? rate + 7 : rate;
    return Math.round((1e9 * (1 << (r - 1))) / 32768);
  }
  private updatePeriodic(): void {
    const p = this.periodNs();
    const now = this.now();
    this.periodicNext = p && (this.regB & 0x40) ? (Math.floor(now / p) + 1) * p : Infinity;
    this.reschedule();
  }

  read(port: number): number {
    if (port === 0x70) return 0xff;
    const i = this.index;
    switch (i) {
      case 0: case 2: case 4: case 6: case 7: case 8: case 9: case 0x32: {
        const f = this.timeFields();
        const map: Record<number, number> = { 0: 0, 2: 1, 4: 2, 6: 3, 7: 4, 8: 5, 9: 6, 0x32: 7 };
        return f[map[i]];
      }
      case 1: return this.alarmSec;
      case 3: return this.alarmMin;
      case 5: return this.alarmHour;
      case 0x0a: {
        // Update in progress during the last 244 us of each virtual second.
        const ns = this.now() % 1e9;
        return (this.regA & 0x7f) | (ns >= 1e9 - 244000 ? 0x80 : 0);
      }
      case 0x0b: return this.regB;
      case 0x0c: {
        const v = this.flagsC;
        this.flagsC = 0;
        this.irq.setIrq(8, false);
        return v;
      }
      case 0x0d: return 0x80;
      default: return this.ram[i];
    }
  }

  write(port: number, v: number): void {
    if (port === 0x70) { this.index = v & 0x7f; this.nmiMasked = (v & 0x80) !== 0; return; }
    const i = this.index;
    switch (i) {
      case 1: this.alarmSec = v; return;
      case 3: this.alarmMin = v; return;
      case 5: this.alarmHour = v; return;
      case 0x0a: this.regA = (this.regA & 0x80) | (v & 0x7f); this.updatePeriodic(); return;
      case 0x0b: this.regB = v & ~0x08; this.updatePeriodic(); return;
      case 0x0c: case 0x0d: return;
      case 0: case 2: case 4: case 6: case 7: case 8: case 9: case 0x32:
        // Setting the clock is not modelled: the virtual clock stays the single time source.
        return;
      default: this.ram[i] = v;
    }
  }
}

// ---------------------------------------------------------------- local APIC and I/O APIC

export class LocalApic {
  id = 0;
  tpr = 0;
  svr = 0x1ff;
  ldr = 0;
  dfr = 0xffffffff | 0;
  readonly irr = new Uint32Array(8);
  readonly isr = new Uint32Array(8);
  readonly tmr = new Uint32Array(8);
  readonly lvt = [0x10000, 0x10000, 0x10000, 0x8700, 0x8400, 0x10000]; // timer, thermal, perf, lint0, lint1, error
  esr = 0;
  icrLo = 0;
  icrHi = 0;
  divide = 0;
  initialCount = 0;
  private timerStart = 0;
  private timerNext = Infinity;
  /** Called for EOI of a level-triggered vector (I/O APIC remote IRR). */
  onEoi: ((vector: number) => void) | null = null;

  constructor(private readonly now: () => number, private readonly onChange: () => void, private readonly reschedule: () => void) {}

  get enabled(): boolean { return (this.svr & 0x100) !== 0; }

  private divider(): number {
    const v = ((this.divide & 8) >> 1) | (this.divide & 3);
    return v === 7 ? 1 : 2 << v;
  }

  /** Whether the 8259's output reaches the CPU (LINT0 in virtual-wire mode, or the APIC disabled). */
  acceptsPic(globalEnabled: boolean): boolean {
    return !globalEnabled || (this.lvt[3] & 0x10000) === 0;
  }

  raise(vector: number, level = false): void {
    if (vector < 16) { this.esr |= 0x40; return; }
    this.irr[vector >> 5] |= 1 << (vector & 31);
    if (level) this.tmr[vector >> 5] |= 1 << (vector & 31); else this.tmr[vector >> 5] &= ~(1 << (vector & 31));
    this.onChange();
  }

  private static highest(bits: Uint32Array): number {
    for (let i = 7; i >= 0; i--) if (bits[i]) return i * 32 + 31 - Math.clz32(bits[i]);
    return -1;
  }

  /** Highest pending vector deliverable now, or -1. */
  pending(): number {
    if (!this.enabled) return -1;
    const v = LocalApic.highest(this.irr);
    if (v < 0) return -1;
    const s = LocalApic.highest(this.isr);
    const ppr = Math.max(this.tpr & 0xf0, s >= 0 ? s & 0xf0 : 0);
    return (v & 0xf0) > ppr ? v : -1;
  }
  acknowledge(): number {
    const v = this.pending();
    if (v < 0) return this.svr & 0xff;
    this.irr[v >> 5] &= ~(1 << (v & 31));
    this.isr[v >> 5] |= 1 << (v & 31);
    this.onChange();
    return v;
  }

  nextEvent(): number { return this.timerNext; }
  private timerPeriod(): number { return this.initialCount * this.divider(); }
  fire(now: number): void {
    if (now < this.timerNext) return;
    const lvt = this.lvt[0];
    if (!(lvt & 0x10000)) this.raise(lvt & 0xff);
    const period = this.timerPeriod();
    if ((lvt & 0x20000) && period > 0) {
      const elapsed = now - this.timerStart;
      this.timerNext = this.timerStart + (Math.floor(elapsed / period) + 1) * period;
    } else this.timerNext = Infinity;
  }
  private currentCount(): number {
    const period = this.timerPeriod();
    if (period === 0) return 0;
    const elapsed = this.now() - this.timerStart;
    if (!(this.lvt[0] & 0x20000) && elapsed >= period) return 0;
    const inPeriod = elapsed % period;
    return this.initialCount - Math.floor(inPeriod / this.divider()) >>> 0;
  }

  read(off: number): number {
    switch (off) {
      case 0x20: return this.id << 24;
      case 0x30: return 0x00050014;
      case 0x80: return this.tpr;
      case 0x90: return 0;
      case 0xa0: { const s = LocalApic.highest(this.isr); return Math.max(this.tpr & 0xf0, s >= 0 ? s & 0xf0 : 0); }
      case 0xd0: return this.ldr;
      case 0xe0: return this.dfr;
      case 0xf0: return this.svr;
      case 0x280: return this.esr;
      case 0x300: return this.icrLo;
      case 0x310: return this.icrHi;
      case 0x320: case 0x330: case 0x340: case 0x350: case 0x360: case 0x370: return this.lvt[(off - 0x320) >> 4];
      case 0x380: return this.initialCount;
      case 0x390: return this.currentCount();
      case 0x3e0: return this.divide;
    }
    if (off >= 0x100 && off < 0x180) return this.isr[(off - 0x100) >> 4];
    if (off >= 0x180 && off < 0x200) return this.tmr[(off - 0x180) >> 4];
    if (off >= 0x200 && off < 0x280) return this.irr[(off - 0x200) >> 4];
    return 0;
  }

  write(off: number, v: number): void {
    switch (off) {
      case 0x20: this.id = (v >>> 24) & 0xff; break;
      case 0x80: this.tpr = v & 0xff; break;
      case 0xb0: {
        const s = LocalApic.highest(this.isr);
        if (s >= 0) {
          this.isr[s >> 5] &= ~(1 << (s & 31));
          if (this.tmr[s >> 5] & (1 << (s & 31))) this.onEoi?.(s);
        }
        break;
      }
      case 0xd0: this.ldr = v & 0xff000000; break;
      case 0xe0: this.dfr = v | 0x0fffffff; break;
      case 0xf0:
        this.svr = v & 0x1ff;
        if (!(v & 0x100)) for (let i = 0; i < 6; i++) this.lvt[i] |= 0x10000;
        break;
      case 0x280: this.esr = 0; break;
      case 0x300: {
        this.icrLo = v & ~0x1000;
        // Self-IPIs (fixed delivery to self or to this APIC's id); others have no target on one CPU.
        const shorthand = (v >> 18) & 3;
        const mode = (v >> 8) & 7;
        if (mode === 0 && (shorthand === 1 || shorthand === 2 || (shorthand === 0 && ((this.icrHi >>> 24) === this.id)))) this.raise(v & 0xff);
        break;
      }
      case 0x310: this.icrHi = v; break;
      case 0x320: case 0x330: case 0x340: case 0x350: case 0x360: case 0x370: {
        const i = (off - 0x320) >> 4;
        let val = v;
        if (!this.enabled) val |= 0x10000;
        this.lvt[i] = i === 0 ? val & 0x300ff : val & 0x1f7ff;
        if (i === 0) this.restartTimer(false);
        break;
      }
      case 0x380:
        this.initialCount = v >>> 0;
        this.restartTimer(true);
        break;
      case 0x3e0:
        this.divide = v & 0xb;
        break;
      default: return;
    }
    this.onChange();
  }

  private restartTimer(reload: boolean): void {
    if (reload) this.timerStart = this.now();
    const period = this.timerPeriod();
    this.timerNext = period > 0 && (reload || this.timerNext !== Infinity) ? this.timerStart + period : Infinity;
    if (this.timerNext !== Infinity && this.timerNext <= this.now() && !(this.lvt[0] & 0x20000)) this.timerNext = Infinity;
    this.reschedule();
  }
}

export class IoApic {
  id = 0;
  private index = 0;
  readonly redir: number[][] = Array.from({ length: 24 }, () => [0x10000, 0]);
  private readonly lines = new Uint8Array(24);

  constructor(private readonly lapic: LocalApic) {
    lapic.onEoi = (vector) => {
      for (let i = 0; i < 24; i++) {
        const r = this.redir[i];
        if ((r[0] & 0xff) === vector && (r[0] & 0x4000)) {
          r[0] &= ~0x4000;
          if (this.lines[i]) this.deliver(i);
        }
      }
    };
  }

  private deliver(pin: number): void {
    const lo = this.redir[pin][0];
    if (lo & 0x10000) return;
    const level = (lo & 0x8000) !== 0;
    if (level) {
      if (lo & 0x4000) return;
      this.redir[pin][0] |= 0x4000;
    }
    const mode = (lo >> 8) & 7;
    if (mode === 7) return; // ExtINT through the I/O APIC is not routed
    this.lapic.raise(lo & 0xff, level);
  }

  setPin(pin: number, level: boolean): void {
    const was = this.lines[pin];
    this.lines[pin] = level ? 1 : 0;
    if (level && !was) this.deliver(pin);
  }

  read(off: number): number {
    if (off === 0) return this.index;
    if (off !== 0x10) return 0;
    switch (this.index) {
      case 0: return this.id << 24;
      case 1: return 0x00170020;
      case 2: return this.id << 24;
    }
    if (this.index >= 0x10 && this.index < 0x40) {
      const r = this.redir[(this.index - 0x10) >> 1];
      return this.index & 1 ? r[1] : r[0];
    }
    return 0;
  }

  write(off: number, v: number): void {
    if (off === 0) { this.index = v & 0xff; return; }
    if (off !== 0x10) return;
    if (this.index === 0) { this.id = (v >>> 24) & 0xf; return; }
    if (this.index >= 0x10 && this.index < 0x40) {
      const pin = (this.index - 0x10) >> 1;
      const r = this.redir[pin];
      if (this.index & 1) r[1] = v & 0xff000000;
      else {
        r[0] = (v & ~0x5000) | (r[0] & 0x5000);
        if (this.lines[pin] && (r[0] & 0x8000)) this.deliver(pin);
      }
    }
  }
}

// ---------------------------------------------------------------- i8042

export class I8042 {
  private status = 0x1c;
  private pending = -1;
  private readonly out: number[] = [];
  a20 = true;
  private cmdByte = 0x61;

  constructor(private readonly onReset: () => void, private readonly onA20: (enabled: boolean) => void) {}

  read(port: number): number {
    if (port === 0x64) return (this.status & ~1) | (this.out.length ? 1 : 0);
    const v = this.out.length ? this.out.shift()! : 0;
    return v;
  }

  write(port: number, v: number): void {
    if (port === 0x64) {
      this.status |= 0x08;
      switch (v) {
        case 0x20: this.out.push(this.cmdByte); break;
        case 0x60: case 0xd1: case 0xd2: case 0xd3: case 0xd4: this.pending = v; break;
        case 0xaa: this.out.push(0x55); break;
        case 0xab: case 0xa9: this.out.push(0x00); break;
        case 0xd0: this.out.push((this.a20 ? 2 : 0) | 1); break;
        case 0xdd: this.setA20(false); break;
        case 0xdf: this.setA20(true); break;
        default:
          if ((v & 0xf0) === 0xf0 && !(v & 1)) this.onReset();
      }
      return;
    }
    this.status &= ~0x08;
    const cmd = this.pending;
    this.pending = -1;
    switch (cmd) {
      case 0x60: this.cmdByte = v; break;
      case 0xd1:
        this.setA20((v & 2) !== 0);
        if (!(v & 1)) this.onReset();
        break;
      case 0xd2: case 0xd3: this.out.push(v); break;
      case 0xd4: this.out.push(0xfe); break; // no mouse
      default:
        // A keyboard command: acknowledge (reset also reports a passed self-test).
        this.out.push(0xfa);
        if (v === 0xff) this.out.push(0xaa);
        if (v === 0xf2) this.out.push(0xab, 0x83);
    }
  }

  private setA20(on: boolean): void {
    if (on !== this.a20) { this.a20 = on; this.onA20(on); }
  }
}
