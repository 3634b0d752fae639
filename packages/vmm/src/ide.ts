// IDE (ATA, PIO) on the primary channel: ports 0x1f0-0x1f7 and 0x3f6, IRQ 14, master and slave
// backed by raw images. Writes land in an overlay (a map of sectors) unless the disk is opened
// writable; the identify data follows QEMU's ide_identify so that drivers see the same model,
// serial, firmware and geometry.
import type { IrqSink } from './devices.js';

export interface DiskImage {
  /** Size in bytes (a multiple of 512 is expected; a partial last sector reads as zeros). */
  readonly size: number;
  read(offset: number, into: Uint8Array): void;
  write(offset: number, from: Uint8Array): void;
}

/** A disk image in memory, with copy-on-write sectors unless `writeThrough`. */
export class OverlayDisk implements DiskImage {
  private readonly overlay = new Map<number, Uint8Array>();
  constructor(private readonly base: DiskImage, private readonly writeThrough: boolean) {}
  get size(): number { return this.base.size; }
  read(offset: number, into: Uint8Array): void {
    const sector = Math.floor(offset / 512);
    const o = this.overlay.get(sector);
    if (o && into.length === 512 && offset % 512 === 0) { into.set(o); return; }
    this.base.read(offset, into);
  }
  write(offset: number, from: Uint8Array): void {
    if (this.writeThrough) { this.base.write(offset, from); return; }
    this.overlay.set(Math.floor(offset / 512), Uint8Array.from(from));
  }
}

export class MemoryDisk implements DiskImage {
  constructor(readonly data: Uint8Array) {}
  get size(): number { return this.data.length; }
  read(offset: number, into: Uint8Array): void {
    into.fill(0);
    if (offset < this.data.length) into.set(this.data.subarray(offset, Math.min(this.data.length, offset + into.length)));
  }
  write(offset: number, from: Uint8Array): void {
    if (offset + from.length <= this.data.length) this.data.set(from, offset);
  }
}

const BSY = 0x80, DRDY = 0x40, DSC = 0x10, DRQ = 0x08, ERR = 0x01;

class Drive {
  readonly sectors: number;
  readonly cyls: number;
  readonly heads = 16;
  readonly secs = 63;
  multSectors = 16;
  constructor(readonly disk: DiskImage, readonly index: number) {
    this.sectors = Math.floor(disk.size / 512);
    this.cyls = Math.max(1, Math.min(16383, Math.floor(this.sectors / (16 * 63))));
  }

  identify(): Uint8Array {
    const w = new Uint16Array(256);
    const str = (start: number, words: number, s: string): void => {
      const t = s.padEnd(words * 2, ' ');
      for (let i = 0; i < words; i++) w[start + i] = (t.charCodeAt(2 * i) << 8) | t.charCodeAt(2 * i + 1);
    };
    const total = this.sectors;
    const chs = this.cyls * this.heads * this.secs;
    w[0] = 0x0040;
    w[1] = this.cyls; w[3] = this.heads; w[4] = 512 * this.secs; w[5] = 512; w[6] = this.secs;
    str(10, 10, `QM0000${this.index + 1}`);
    w[20] = 3; w[21] = 512; w[22] = 4;
    str(23, 4, '2.5+');
    str(27, 20, 'QEMU HARDDISK');
    w[47] = 0x8000 | 16;
    w[48] = 1;
    w[49] = (1 << 11) | (1 << 9) | (1 << 8);
    w[51] = 0x200; w[52] = 0x200; w[53] = 1 | 2 | 4;
    w[54] = this.cyls; w[55] = this.heads; w[56] = this.secs;
    w[57] = chs & 0xffff; w[58] = chs >>> 16;
    if (this.multSectors) w[59] = 0x100 | this.multSectors;
    w[60] = total & 0xffff; w[61] = (total >>> 16) & 0xffff;
    w[62] = 0x07; w[63] = 0x07; w[64] = 0x03;
    w[65] = 120; w[66] = 120; w[67] = 120; w[68] = 120;
    w[80] = 0xf0; w[81] = 0x16;
    w[82] = (1 << 14) | (1 << 5) | 1;
    w[83] = (1 << 14) | (1 << 13) | (1 << 12) | (1 << 10);
    w[84] = 1 << 14;
    w[85] = (1 << 14) | (1 << 5) | 1;
    w[86] = (1 << 13) | (1 << 12) | (1 << 10);
    w[87] = 1 << 14;
    w[88] = 0x3f | (1 << 13);
    w[93] = 1 | (1 << 14) | 0x2000;
    w[100] = total & 0xffff; w[101] = (total >>> 16) & 0xffff;
    const out = new Uint8Array(512);
    for (let i = 0; i < 256; i++) { out[2 * i] = w[i] & 0xff; out[2 * i + 1] = w[i] >> 8; }
    return out;
  }
}

export class IdeChannel {
  private readonly drives: (Drive | null)[];
  private feature = 0;
  private count = 0;
  private lbaLow = 0;
  private lbaMid = 0;
  private lbaHigh = 0;
  private select = 0xa0;
  private status = 0;
  private error = 0;
  private control = 0;
  private buffer: Uint8Array = new Uint8Array(512);
  private pos = 0;
  private bufLen = 0;
  /** Remaining sectors of the current transfer (reads and writes). */
  private remaining = 0;
  private writing = false;
  private sectorNum = 0;
  private blockSize = 1;
  private irqLevel = false;

  constructor(disks: (DiskImage | null)[], private readonly irq: IrqSink, private readonly irqLine = 14) {
    this.drives = [disks[0] ? new Drive(disks[0], 0) : null, disks[1] ? new Drive(disks[1], 1) : null];
    for (const d of this.drives) if (d) { this.status = DRDY | DSC; break; }
  }

  private get drive(): Drive | null { return this.drives[(this.select >> 4) & 1]; }
  private get anyDrive(): boolean { return this.drives[0] !== null || this.drives[1] !== null; }

  private setIrq(level: boolean): void {
    const l = level && !(this.control & 2);
    if (l !== this.irqLevel) { this.irqLevel = l; this.irq.setIrq(this.irqLine, l); }
  }
  private raise(): void { this.setIrq(true); }

  read(port: number, size: number): number {
    if (port === 0x3f6) return this.anyDrive && this.drive ? this.status : 0;
    const reg = port - 0x1f0;
    if (reg === 0) return this.readData(size);
    if (!this.anyDrive) return 0;
    if (!this.drive && reg === 7) return 0;
    switch (reg) {
      case 1: return this.error;
      case 2: return this.count & 0xff;
      case 3: return this.lbaLow;
      case 4: return this.lbaMid;
      case 5: return this.lbaHigh;
      case 6: return this.select;
      default: this.setIrq(false); return this.drive ? this.status : 0;
    }
  }

  write(port: number, size: number, v: number): void {
    if (port === 0x3f6) {
      if ((v & 4) && !(this.control & 4)) this.reset();
      this.control = v & 0xff;
      if (v & 2) this.setIrq(false);
      return;
    }
    const reg = port - 0x1f0;
    if (reg === 0) { this.writeData(size, v); return; }
    v &= 0xff;
    switch (reg) {
      case 1: this.feature = v; break;
      case 2: this.count = v; break;
      case 3: this.lbaLow = v; break;
      case 4: this.lbaMid = v; break;
      case 5: this.lbaHigh = v; break;
      case 6: this.select = v | 0xa0; break;
      case 7: this.command(v); break;
    }
  }

  private reset(): void {
    this.status = this.anyDrive ? DRDY | DSC : 0;
    this.error = 1;
    this.count = 1; this.lbaLow = 1; this.lbaMid = 0; this.lbaHigh = 0; this.select = 0xa0;
    this.bufLen = 0; this.pos = 0; this.remaining = 0;
  }

  private lba(): number {
    if (this.select & 0x40) return ((this.select & 0x0f) << 24) | (this.lbaHigh << 16) | (this.lbaMid << 8) | this.lbaLow;
    const d = this.drive!;
    const cyl = (this.lbaHigh << 8) | this.lbaMid;
    const head = this.select & 0x0f;
    return (cyl * d.heads + head) * d.secs + (this.lbaLow - 1);
  }
  private setLba(n: number): void {
    if (this.select & 0x40) {
      this.select = (this.select & 0xf0) | ((n >>> 24) & 0x0f);
      this.lbaHigh = (n >>> 16) & 0xff; this.lbaMid = (n >>> 8) & 0xff; this.lbaLow = n & 0xff;
    } else {
      const d = this.drive!;
      const cyl = Math.floor(n / (d.heads * d.secs));
      const r = n % (d.heads * d.secs);
      this.select = (this.select & 0xf0) | Math.floor(r / d.secs);
      this.lbaLow = (r % d.secs) + 1;
      this.lbaMid = cyl & 0xff; this.lbaHigh = (cyl >> 8) & 0xff;
    }
  }

  private abort(): void {
    this.status = DRDY | DSC | ERR;
    this.error = 0x04;
    this.raise();
  }

  private command(cmd: number): void {
    const d = this.drive;
    if (!d) return;
    this.error = 0;
    switch (cmd) {
      case 0xec: // IDENTIFY DEVICE
        this.buffer = d.identify();
        this.startPio(512, false, 0);
        break;
      case 0x20: case 0x21: case 0xc4: { // READ SECTORS / READ MULTIPLE
        const n = this.count === 0 ? 256 : this.count;
        this.sectorNum = this.lba();
        this.remaining = n;
        this.blockSize = cmd === 0xc4 ? d.multSectors || 1 : 1;
        if (cmd === 0xc4 && !d.multSectors) { this.abort(); return; }
        this.readBlock();
        break;
      }
      case 0x30: case 0x31: case 0xc5: {
        const n = this.count === 0 ? 256 : this.count;
        this.sectorNum = this.lba();
        this.remaining = n;
        this.blockSize = cmd === 0xc5 ? d.multSectors || 1 : 1;
        if (cmd === 0xc5 && !d.multSectors) { this.abort(); return; }
        const k = Math.min(this.blockSize, this.remaining);
        this.buffer = new Uint8Array(512 * k);
        this.startPio(512 * k, true, 0);
        break;
      }
      case 0xc6: // SET MULTIPLE MODE
        if (this.count > 16 || (this.count & (this.count - 1))) { this.abort(); return; }
        d.multSectors = this.count;
        this.status = DRDY | DSC; this.raise();
        break;
      case 0x91: case 0x10: case 0xe7: case 0xea: case 0xef: case 0x40: case 0x41: case 0x70: case 0xe0: case 0xe1: case 0xe5: case 0xe6:
        this.status = DRDY | DSC;
        if (cmd === 0xe5) this.count = 0xff;
        this.raise();
        break;
      case 0x90: // EXECUTE DEVICE DIAGNOSTIC
        this.count = 1; this.lbaLow = 1; this.lbaMid = 0; this.lbaHigh = 0;
        this.error = 0x01; this.status = DRDY | DSC; this.raise();
        break;
      case 0xf8: // READ NATIVE MAX ADDRESS
        this.setLba(d.sectors - 1);
        this.status = DRDY | DSC; this.raise();
        break;
      default:
        this.abort();
    }
  }

  private readBlock(): void {
    const d = this.drive!;
    const k = Math.min(this.blockSize, this.remaining);
    if (this.sectorNum + k > d.sectors) { this.abort(); return; }
    this.buffer = new Uint8Array(512 * k);
    d.disk.read(this.sectorNum * 512, this.buffer);
    this.sectorNum += k;
    this.remaining -= k;
    this.setLba(this.sectorNum - 1);
    this.startPio(512 * k, false, 0);
  }

  private startPio(len: number, write: boolean, pos: number): void {
    this.bufLen = len;
    this.pos = pos;
    this.writing = write;
    this.status = DRDY | DSC | DRQ;
    if (!write) this.raise();
  }

  private readData(size: number): number {
    if (!(this.status & DRQ) || this.writing) return 0;
    let v = 0;
    for (let i = 0; i < size; i++) v |= this.buffer[this.pos + i] << (8 * i);
    this.pos += size;
    if (this.pos >= this.bufLen) {
      this.status = DRDY | DSC;
      this.bufLen = 0;
      if (this.remaining > 0) this.readBlock();
    }
    return v >>> 0;
  }

  private writeData(size: number, v: number): void {
    if (!(this.status & DRQ) || !this.writing) return;
    for (let i = 0; i < size; i++) this.buffer[this.pos + i] = (v >>> (8 * i)) & 0xff;
    this.pos += size;
    if (this.pos < this.bufLen) return;
    const d = this.drive!;
    const k = this.bufLen / 512;
    if (this.sectorNum + k > d.sectors) { this.abort(); return; }
    for (let i = 0; i < k; i++) d.disk.write((this.sectorNum + i) * 512, this.buffer.subarray(i * 512, (i + 1) * 512));
    this.sectorNum += k;
    this.remaining -= k;
    this.setLba(this.sectorNum - 1);
    if (this.remaining > 0) {
      const n = Math.min(this.blockSize, this.remaining);
      this.buffer = new Uint8Array(512 * n);
      this.startPio(512 * n, true, 0);
      this.status &= ~BSY;
    } else {
      this.status = DRDY | DSC;
      this.bufLen = 0;
    }
    this.raise();
  }
}
