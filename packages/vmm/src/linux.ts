// Linux bzImage loading through the 32-bit boot protocol (Documentation/x86/boot.rst): the
// protected-mode kernel at its code32_start, a zero page (struct boot_params) with the image's setup
// header, the command line and the same e820 memory map the Multiboot loader describes (SeaBIOS's),
// and a GDT with the flat __BOOT_CS (0x10) and __BOOT_DS (0x18). Firmware tables (BDA, MP) are
// written as for Multiboot kernels. The boot loader's header fields (type of loader, heap end, command
// line, initrd) are those QEMU's Linux loader writes; an initrd goes where QEMU puts it: page-aligned
// at the top of what the kernel's initrd_addr_max and the RAM below QEMU's ACPI data allow.
import { gunzipSync } from 'node:zlib';
import { ImageError, readElf32 } from './elf.js';
import { e820Map, writeFirmwareTables } from './multiboot.js';

export const LINUX_ZERO_PAGE = 0x10000;
const LINUX_CMDLINE = 0x20000;
export const LINUX_GDT = 0x800;

export function isBzImage(bytes: Uint8Array): boolean {
  return bytes.length > 0x260 && bytes[0x202] === 0x48 && bytes[0x203] === 0x64 && bytes[0x204] === 0x72 && bytes[0x205] === 0x53;
}

export interface LinuxBoot { entry: number; zeroPage: number; low: number; high: number; cmdline: string; initrd: number }

/** What QEMU's Linux loader keeps free at the top of RAM for firmware data (the reserved top 128 KB). */
const QEMU_ACPI_DATA_SIZE = 0x20000;

export type PayloadFormat = 'gzip' | 'xz' | 'lzma' | 'bzip2' | 'lzo' | 'lz4' | 'zstd' | 'unknown';

/** The compressed kernel inside a bzImage (boot protocol 2.08+: payload_offset/payload_length). */
export function bzImagePayload(image: Uint8Array): { format: PayloadFormat; data: Uint8Array } {
  const v = new DataView(image.buffer, image.byteOffset, image.byteLength);
  if (!isBzImage(image)) throw new ImageError('not a Linux bzImage (no HdrS signature)');
  const version = v.getUint16(0x206, true);
  if (version < 0x0208) throw new ImageError(`Linux boot protocol ${version >> 8}.${version & 0xff} does not say where the payload is (2.08 or later needed)`);
  const start = ((image[0x1f1] || 4) + 1) * 512 + v.getUint32(0x248, true);
  const end = start + v.getUint32(0x24c, true);
  if (end > image.length || end <= start) throw new ImageError('bzImage truncated: the payload runs past the end of the file');
  const data = image.subarray(start, end);
  const magic = (...m: number[]): boolean => m.every((b, i) => data[i] === b);
  const format: PayloadFormat = magic(0x1f, 0x8b) ? 'gzip' : magic(0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00) ? 'xz' : magic(0x5d, 0x00) ? 'lzma'
    : magic(0x42, 0x5a, 0x68) ? 'bzip2' : magic(0x89, 0x4c, 0x5a) ? 'lzo' : magic(0x02, 0x21, 0x4c, 0x18) ? 'lz4'
      : magic(0x28, 0xb5, 0x2f, 0xfd) ? 'zstd' : 'unknown';
  return { format, data };
}

/**
 * The kernel ELF (vmlinux, symbols stripped, sections kept: `.afterburn` included) inside a bzImage,
 * decompressed, as a para-virtual domain builder reads it. gzip payloads only (CONFIG_KERNEL_GZIP).
 */
export function bzImageVmlinux(image: Uint8Array): Uint8Array {
  const { format, data } = bzImagePayload(image);
  if (format !== 'gzip') throw new ImageError(`the bzImage's kernel is compressed with ${format}; only gzip payloads can be read (build with CONFIG_KERNEL_GZIP)`);
  try {
    return new Uint8Array(gunzipSync(data));
  } catch (err) {
    throw new ImageError(`the bzImage's gzip payload does not decompress (${(err as Error).message})`);
  }
}

export interface LinuxLoadOptions {
  initrd?: Uint8Array;
  /**
   * Load the vmlinux inside the bzImage at its physical addresses and enter it at its ELF entry
   * (startup_32) instead of running the image's decompressor, as a para-virtual domain builder does;
   * the zero page is the same.
   */
  direct?: boolean;
}

export function loadLinux(ram: Uint8Array, image: Uint8Array, cmdline: string, opts: LinuxLoadOptions = {}): LinuxBoot {
  const initrd = opts.initrd;
  const v = new DataView(image.buffer, image.byteOffset, image.byteLength);
  const version = v.getUint16(0x206, true);
  if (version < 0x0204) throw new ImageError(`Linux boot protocol ${version >> 8}.${version & 0xff} is too old (2.04 or later needed)`);
  if (!(image[0x211] & 1)) throw new ImageError('not a bzImage (zImage kernels load below 1 MB, which is not supported)');
  const setupSects = image[0x1f1] || 4;
  const kernelOffset = (setupSects + 1) * 512;
  if (kernelOffset >= image.length) throw new ImageError('bzImage truncated: no protected-mode kernel after the setup sectors');
  let entry: number, low: number, high: number;
  if (opts.direct) {
    const elf = bzImageVmlinux(image);
    const k = readElf32(elf);
    low = Infinity; high = 0;
    for (const seg of k.segments) {
      if (seg.paddr + seg.memsz > ram.length) throw new ImageError(`the kernel does not fit in ${ram.length >> 20} MB of RAM`);
      ram.set(elf.subarray(seg.offset, seg.offset + seg.filesz), seg.paddr);
      ram.fill(0, seg.paddr + seg.filesz, seg.paddr + seg.memsz);
      low = Math.min(low, seg.paddr); high = Math.max(high, seg.paddr + seg.memsz);
    }
    if (high === 0) throw new ImageError('the bzImage\'s vmlinux has no loadable segment');
    entry = k.entry;
  } else {
    entry = v.getUint32(0x214, true);
    const size = image.length - kernelOffset;
    if (entry + size > ram.length) throw new ImageError(`the kernel does not fit in ${ram.length >> 20} MB of RAM`);
    ram.set(image.subarray(kernelOffset), entry);
    low = entry; high = entry + size;
  }
  // Zero page: the setup header from the image, then what the boot loader fills in.
  const zp = LINUX_ZERO_PAGE;
  ram.fill(0, zp, zp + 4096);
  const headerEnd = 0x202 + image[0x201];
  ram.set(image.subarray(0x1f1, headerEnd), zp + 0x1f1);
  const z = new DataView(ram.buffer, ram.byteOffset, ram.byteLength);
  ram[zp + 0x210] = 0xb0; // type_of_loader: QEMU
  ram[zp + 0x211] |= 0x80; // CAN_USE_HEAP, with the heap up to the command line
  z.setUint16(zp + 0x224, LINUX_CMDLINE - LINUX_ZERO_PAGE - 0x200, true);
  let initrdAddr = 0;
  if (initrd && initrd.length > 0) {
    let max = version >= 0x0203 ? v.getUint32(0x22c, true) : 0x37ffffff;
    if (max >= ram.length - QEMU_ACPI_DATA_SIZE) max = ram.length - QEMU_ACPI_DATA_SIZE;
    if (initrd.length >= max) throw new ImageError(`the initrd (${initrd.length} bytes) does not fit below 0x${max.toString(16)}`);
    initrdAddr = (max - initrd.length) & ~0xfff;
    if (initrdAddr < high) throw new ImageError('the initrd does not fit above the kernel in RAM');
    ram.set(initrd, initrdAddr);
  }
  z.setUint32(zp + 0x218, initrdAddr, true);
  z.setUint32(zp + 0x21c, initrdAddr ? initrd!.length : 0, true);
  const maxCmd = version >= 0x0206 ? v.getUint32(0x238, true) : 255;
  const cmd = new TextEncoder().encode(cmdline);
  if (cmd.length > maxCmd) throw new ImageError(`command line longer than the kernel accepts (${maxCmd} bytes)`);
  ram.set(cmd, LINUX_CMDLINE);
  ram[LINUX_CMDLINE + cmd.length] = 0;
  z.setUint32(zp + 0x228, LINUX_CMDLINE, true);
  z.setUint32(zp + 0x1e0, Math.max(0, (ram.length >> 10) - 1024), true); // alt_mem_k
  const map = e820Map(ram.length);
  map.forEach(([base, len, type], i) => {
    const o = zp + 0x2d0 + 20 * i;
    z.setUint32(o, base, true); z.setUint32(o + 4, 0, true);
    z.setUint32(o + 8, len, true); z.setUint32(o + 12, 0, true);
    z.setUint32(o + 16, type, true);
  });
  ram[zp + 0x1e8] = map.length;
  const gdt = [0, 0, 0, 0, 0x0000ffff, 0x00cf9a00, 0x0000ffff, 0x00cf9300];
  gdt.forEach((w, i) => z.setUint32(LINUX_GDT + 4 * i, w, true));
  writeFirmwareTables(ram);
  return { entry, zeroPage: zp, low, high, cmdline, initrd: initrdAddr };
}
