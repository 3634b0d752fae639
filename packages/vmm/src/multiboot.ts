// Multiboot (0.6.96) loading as `qemu-system-i386 -kernel` does it, and the firmware state a kernel
// finds there: boot information and memory map at the addresses QEMU's option ROM uses, the BIOS data
// area, SeaBIOS's GDT, and the Intel MP floating pointer and configuration table where SeaBIOS puts
// them (values recorded by fixtures/vmm/probe against QEMU 7.2 / SeaBIOS 1.16).
import { ImageError, isElf, readElf32, type KernelImage } from './elf.js';
import { CPU_FEATURES, CPU_SIGNATURE } from './cpuid.js'; // the MP processor entry carries them

export const MULTIBOOT_MAGIC = 0x1badb002;
export const MULTIBOOT_BOOTLOADER_MAGIC = 0x2badb002;
const MBI_ADDR = 0x9500;
const MMAP_ADDR = 0x9000;
const GDT_ADDR = 0xcb2b8;
export const MP_FLOATING_ADDR = 0xf5ba0;
const MP_CONFIG_ADDR = 0xf5bb0;
/** SeaBIOS keeps the top 128 KB of low RAM for its tables. */
const BIOS_HIGH_RESERVED = 0x20000;

export interface BootState {
  entry: number;
  /** Physical address range the kernel image occupies. */
  low: number;
  high: number;
  mbi: number;
  cmdline: string;
}

export interface MultibootHeader {
  offset: number;
  flags: number;
  headerAddr: number;
  loadAddr: number;
  loadEndAddr: number;
  bssEndAddr: number;
  entryAddr: number;
}

export function findMultibootHeader(bytes: Uint8Array): MultibootHeader | null {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const limit = Math.min(bytes.length - 12, 8192 - 12);
  for (let o = 0; o <= limit; o += 4) {
    if (v.getUint32(o, true) !== MULTIBOOT_MAGIC) continue;
    const flags = v.getUint32(o + 4, true);
    if (((MULTIBOOT_MAGIC + flags + v.getUint32(o + 8, true)) >>> 0) !== 0) continue;
    const f = (i: number): number => (o + i + 4 <= bytes.length ? v.getUint32(o + i, true) : 0);
    return { offset: o, flags, headerAddr: f(12), loadAddr: f(16), loadEndAddr: f(20), bssEndAddr: f(24), entryAddr: f(28) };
  }
  return null;
}

/** Loads a Multiboot kernel into RAM and writes the boot information. Throws ImageError for bad input. */
export function loadMultiboot(ram: Uint8Array, kernel: Uint8Array, cmdline: string): BootState {
  const header = findMultibootHeader(kernel);
  if (!header) throw new ImageError('no Multiboot header (magic 0x1badb002 with a valid checksum) in the first 8 KB');
  // A video mode request (flag 2) is ignored, as QEMU does: the console stays in text mode.
  let low: number, high: number, entry: number;
  if (!(header.flags & 0x10000)) {
    if (!isElf(kernel)) throw new ImageError('the Multiboot header has no load addresses (flag 16) and the kernel is not an ELF file');
    const img: KernelImage = readElf32(kernel);
    if (img.segments.length === 0) throw new ImageError('the ELF kernel has no loadable segment');
    low = Infinity; high = 0;
    for (const s of img.segments) {
      if (s.paddr + s.memsz > ram.length) {
        throw new ImageError(`ELF segment at physical 0x${s.paddr.toString(16)} (+0x${s.memsz.toString(16)}) does not fit in ${ram.length >> 20} MB of RAM`);
      }
      ram.fill(0, s.paddr, s.paddr + s.memsz);
      ram.set(kernel.subarray(s.offset, s.offset + s.filesz), s.paddr);
      low = Math.min(low, s.paddr);
      high = Math.max(high, s.paddr + s.memsz);
    }
    entry = img.entry;
    // A virtual entry point (higher-half kernels) is translated through its segment.
    const inPhys = img.segments.some((s) => entry >= s.paddr && entry < s.paddr + s.memsz);
    if (!inPhys) {
      const seg = img.segments.find((s) => entry >= s.vaddr && entry < s.vaddr + s.memsz);
      if (seg) entry = entry - seg.vaddr + seg.paddr;
    }
  } else {
    const fileStart = header.offset - (header.headerAddr - header.loadAddr);
    if (fileStart < 0) throw new ImageError('Multiboot header load address lies before the start of the file');
    const loadEnd = header.loadEndAddr ? header.loadEndAddr : header.loadAddr + (kernel.length - fileStart);
    const size = loadEnd - header.loadAddr;
    const bssEnd = header.bssEndAddr || loadEnd;
    if (bssEnd > ram.length) throw new ImageError('the kernel does not fit in RAM');
    ram.set(kernel.subarray(fileStart, fileStart + size), header.loadAddr);
    ram.fill(0, loadEnd, bssEnd);
    low = header.loadAddr; high = bssEnd; entry = header.entryAddr;
  }
  // Boot information, as QEMU's multiboot option ROM leaves it.
  const ramSize = ram.length;
  const bufAddr = (high + 4095) & ~4095;
  const enc = new TextEncoder();
  const cmd = enc.encode(cmdline + '\0');
  const loaderName = enc.encode('qemu\0');
  ram.set(cmd, bufAddr);
  ram.set(loaderName, bufAddr + cmd.length);
  const v = new DataView(ram.buffer, ram.byteOffset, ram.byteLength);
  const memUpper = Math.floor((ramSize - BIOS_HIGH_RESERVED - 0x100000) / 1024);
  const mbi = MBI_ADDR;
  ram.fill(0, mbi, mbi + 0x58);
  v.setUint32(mbi + 0, 0x24f, true); // mem, boot device, cmdline, mods, mmap, loader name
  v.setUint32(mbi + 4, 639, true);
  v.setUint32(mbi + 8, memUpper, true);
  v.setUint32(mbi + 12, 0x8000ffff, true);
  v.setUint32(mbi + 16, bufAddr, true);
  v.setUint32(mbi + 20, 0, true);
  v.setUint32(mbi + 24, bufAddr, true);
  const mmap = e820Map(ramSize);
  mmap.forEach(([base, len, type], i) => {
    const o = MMAP_ADDR + i * 24;
    v.setUint32(o, 20, true);
    v.setUint32(o + 4, base, true); v.setUint32(o + 8, 0, true);
    v.setUint32(o + 12, len, true); v.setUint32(o + 16, 0, true);
    v.setUint32(o + 20, type, true);
  });
  v.setUint32(mbi + 44, mmap.length * 24, true);
  v.setUint32(mbi + 48, MMAP_ADDR, true);
  v.setUint32(mbi + 64, bufAddr + cmd.length, true);
  writeFirmwareTables(ram);
  return { entry, low, high, mbi, cmdline };
}

/** SeaBIOS's e820 map for this much RAM: [base, length, type (1 usable, 2 reserved)]. */
export function e820Map(ramSize: number): [number, number, number][] {
  return [
    [0, 0x9fc00, 1], [0x9fc00, 0x400, 2], [0xf0000, 0x10000, 2],
    [0x100000, ramSize - 0x100000 - BIOS_HIGH_RESERVED, 1], [ramSize - BIOS_HIGH_RESERVED, BIOS_HIGH_RESERVED, 2],
    [0xfffc0000, 0x40000, 2],
  ];
}

/** SeaBIOS's flat GDT used at the kernel's entry: null, code 0x08, data 0x10, 16-bit code/data. */
export const BOOT_GDT = { base: GDT_ADDR, limit: 0x27 };

export function writeFirmwareTables(ram: Uint8Array): void {
  const v = new DataView(ram.buffer, ram.byteOffset, ram.byteLength);
  // GDT.
  const gdt = [0, 0, 0x0000ffff, 0x00cf9a00, 0x0000ffff, 0x00cf9300, 0x0000ffff, 0x00009e00, 0x0000ffff, 0x00009200];
  gdt.forEach((w, i) => v.setUint32(GDT_ADDR + 4 * i, w, true));
  // BIOS data area: COM1, LPT1, EBDA segment, equipment word, base memory, keyboard buffer.
  v.setUint16(0x400, 0x3f8, true);
  v.setUint16(0x408, 0x378, true);
  v.setUint16(0x40e, 0x9fc0, true);
  v.setUint16(0x410, 0x4227, true);
  v.setUint16(0x413, 639, true);
  v.setUint16(0x41a, 0x1e, true);
  v.setUint16(0x41c, 0x1e, true);
  ram[0x9fc00] = 1; // EBDA size in KB
  // MP floating pointer structure.
  const fp = MP_FLOATING_ADDR;
  ram.set([0x5f, 0x4d, 0x50, 0x5f], fp);
  v.setUint32(fp + 4, MP_CONFIG_ADDR, true);
  ram[fp + 8] = 1; ram[fp + 9] = 4; ram[fp + 10] = 0;
  ram.fill(0, fp + 11, fp + 16);
  ram[fp + 10] = checksum(ram, fp, 16);
  // MP configuration table: one CPU, buses PCI 0 and ISA 1, I/O APIC 0 at 0xfec00000, ISA and PCI interrupts.
  const entries: number[] = [];
  const cpu = [0, 0, 0x14, 3, ...u32(CPU_SIGNATURE), ...u32(CPU_FEATURES), 0, 0, 0, 0, 0, 0, 0, 0];
  entries.push(...cpu);
  entries.push(1, 0, ...ascii('PCI   '));
  entries.push(1, 1, ...ascii('ISA   '));
  entries.push(2, 0, 0x11, 1, ...u32(0xfec00000));
  entries.push(3, 0, 1, 0, 0, 0x04, 0, 9); // PCI 0:1 INTA -> pin 9
  entries.push(3, 0, 1, 0, 0, 0x0c, 0, 11); // PCI 0:3 INTA -> pin 11
  const isaIrqs = [0, 1, 3, 4, 6, 7, 8, 12, 13, 14, 15];
  for (const irq of isaIrqs) entries.push(3, 0, 0, 0, 1, irq, 0, irq === 0 ? 2 : irq);
  entries.push(4, 3, 0, 0, 1, 0, 0, 0); // ExtINT -> LINT0
  entries.push(4, 1, 0, 0, 1, 0, 0xff, 1); // NMI -> LINT1 of every CPU
  const count = 1 + 2 + 1 + 2 + isaIrqs.length + 2;
  const cfg = MP_CONFIG_ADDR;
  const length = 44 + entries.length;
  ram.set(ascii('PCMP'), cfg);
  v.setUint16(cfg + 4, length, true);
  ram[cfg + 6] = 4;
  ram[cfg + 7] = 0;
  ram.set(ascii('BOCHSCPU'), cfg + 8);
  ram.set(ascii('0.1         '), cfg + 16);
  v.setUint32(cfg + 28, 0, true);
  v.setUint16(cfg + 32, 0, true);
  v.setUint16(cfg + 34, count, true);
  v.setUint32(cfg + 36, 0xfee00000, true);
  v.setUint32(cfg + 40, 0, true);
  ram.set(entries, cfg + 44);
  ram[cfg + 7] = checksum(ram, cfg, length);
}

function u32(x: number): number[] { return [x & 0xff, (x >>> 8) & 0xff, (x >>> 16) & 0xff, x >>> 24]; }
function ascii(s: string): number[] { return [...s].map((ch) => ch.charCodeAt(0)); }
function checksum(ram: Uint8Array, at: number, len: number): number {
  let s = 0;
  for (let i = 0; i < len; i++) s += ram[at + i];
  return (256 - (s & 0xff)) & 0xff;
}
