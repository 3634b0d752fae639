// The Linux boot protocol loader against QEMU's, without a Linux tree: the minimal bzImage of
// fixtures/vmm/guests/bzimage.S prints the header fields a boot loader fills in (type of loader, load
// flags, heap end, command line pointer and text, initrd address and size) and a checksum of the
// initrd. On QEMU its real-mode setup enters protected mode the way Linux's does; previrt enters the
// 32-bit entry point directly, or (as a para-virtual domain builder) loads the vmlinux ELF of the
// bzImage's gzip payload and enters it. The transcripts must be identical, for several RAM sizes,
// with and without an initrd.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { BackendError, Machine, bzImagePayload, createVirtualMachine } from '@previrt/vmm';
import { rewrite } from '@previrt/afterburner';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
let dir: string;
let bzImage: string;
/** The same bzImage with a gzip payload: the 32-bit code again, as an ELF at 0x1000000 (as vmlinux). */
let bzImageWithVmlinux: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'linux-boot-'));
  const script = join(dir, 'bzimage.ld');
  writeFileSync(script, `SECTIONS {
  .setup 0 : AT(0) { *(.setup) }
  .text 0x100000 : AT(0x400) { *(.text) *(.data) *(.rodata*) }
  /DISCARD/ : { *(.note*) *(.comment) }
}\n`);
  const obj = join(dir, 'bzimage.o');
  bzImage = join(dir, 'bzImage');
  execFileSync('gcc', ['-m32', '-c', '-o', obj, join(root, 'fixtures/vmm/guests/bzimage.S')], { stdio: 'pipe' });
  execFileSync('ld', ['-m', 'elf_i386', '--oformat', 'binary', '-T', script, '-o', bzImage, obj], { stdio: 'pipe' });
  // The payload's vmlinux: the same 32-bit code through the afterburner (padded sites, records).
  const pre = execFileSync('gcc', ['-m32', '-E', '-P', join(root, 'fixtures/vmm/guests/bzimage.S')], { encoding: 'utf8' });
  const rewritten = rewrite(pre, { elfClass: 32, fileName: 'bzimage.S' });
  expect(rewritten.sites.length).toBeGreaterThan(0);
  const asm = join(dir, 'vmlinux.s');
  writeFileSync(asm, rewritten.text);
  const elfObj = join(dir, 'vmlinux.o');
  execFileSync('as', ['--32', '-o', elfObj, asm], { stdio: 'pipe' });
  const elfScript = join(dir, 'vmlinux.ld');
  writeFileSync(elfScript, 'ENTRY(_start)\nSECTIONS {\n  /DISCARD/ : { *(.setup) *(.afterburn_excluded) *(.note*) *(.comment) }\n  .text 0x1000000 : { *(.text) *(.data) *(.rodata*) }\n  .afterburn : { *(.afterburn) *(.afterburn.*) }\n}\n');
  const elf = join(dir, 'vmlinux');
  execFileSync('ld', ['-m', 'elf_i386', '-T', elfScript, '-o', elf, elfObj], { stdio: 'pipe' });
  const image = readFileSync(bzImage);
  const kernelOffset = (image[0x1f1] + 1) * 512;
  const payload = gzipSync(readFileSync(elf));
  const whole = Buffer.concat([image, payload]);
  whole.writeUInt32LE(image.length - kernelOffset, 0x248);
  whole.writeUInt32LE(payload.length, 0x24c);
  bzImageWithVmlinux = join(dir, 'bzImage-vmlinux');
  writeFileSync(bzImageWithVmlinux, whole);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Deterministic pseudo-random bytes (xorshift32). */
function bytes(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) { x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0; out[i] = x & 0xff; }
  return out;
}

function qemu(append: string, memoryMB: number, initrd: string | null): { out: string; status: number | null } {
  const r = spawnSync('qemu-system-i386', ['-kernel', bzImage, '-append', append, '-m', String(memoryMB),
    ...(initrd ? ['-initrd', initrd] : []),
    '-serial', 'stdio', '-display', 'none', '-no-reboot', '-device', 'isa-debug-exit,iobase=0xf4,iosize=0x04'],
  { encoding: 'latin1', timeout: 30_000 });
  return { out: r.stdout, status: r.status };
}

function ours(append: string, memoryMB: number, initrd: Uint8Array | undefined, direct = false): { out: string; status: number } {
  const out: number[] = [];
  const kernel = readFileSync(direct ? bzImageWithVmlinux : bzImage);
  const m = new Machine({ kernel, kernelName: bzImage, append, memoryMB, initrd, linuxDirect: direct, serialOut: (b) => out.push(b) });
  const r = m.run(10_000_000);
  return { out: Buffer.from(out).toString('latin1'), status: r.exitCode };
}

test.each([
  { memoryMB: 128, initrdBytes: 100_000, append: 'console=ttyS0 printk.time=0' },
  { memoryMB: 64, initrdBytes: 4096, append: 'root=/dev/ram0 rdinit=/init' },
  { memoryMB: 300, initrdBytes: 1_234_567, append: 'x' },
  { memoryMB: 128, initrdBytes: 0, append: '' },
])('the zero page and the initrd as QEMU loads them ($memoryMB MB, initrd $initrdBytes bytes)', ({ memoryMB, initrdBytes, append }) => {
  let file: string | null = null;
  let data: Uint8Array | undefined;
  if (initrdBytes > 0) {
    data = bytes(initrdBytes, initrdBytes);
    file = join(dir, `initrd-${initrdBytes}`);
    writeFileSync(file, data);
  }
  const q = qemu(append, memoryMB, file);
  expect(q.out).toMatch(/^type_of_loader=000000b0\n/);
  expect(q.out).toContain(`ramdisk_size=${initrdBytes.toString(16).padStart(8, '0')}\n`);
  expect(q.out).toContain(`cmdline: ${append}\n`);
  const r = ours(append, memoryMB, data);
  expect(r.out).toBe(q.out);
  expect(r.status).toBe(q.status);
  // Loading the vmlinux of the payload directly (as a domain builder) hands over the same zero page.
  const d = ours(append, memoryMB, data, true);
  expect(d.out).toBe(q.out);
  expect(d.status).toBe(q.status);
});

test('the payload is found and named by its format; only gzip is decompressed', () => {
  expect(bzImagePayload(readFileSync(bzImageWithVmlinux)).format).toBe('gzip');
  const xz = Buffer.from(readFileSync(bzImageWithVmlinux));
  const start = (xz[0x1f1] + 1) * 512 + xz.readUInt32LE(0x248);
  Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]).copy(xz, start);
  expect(bzImagePayload(xz).format).toBe('xz');
  expect(() => new Machine({ kernel: xz, kernelName: 'bzImage', linuxDirect: true, serialOut: () => {} }))
    .toThrow(/compressed with xz; only gzip payloads/);
});

test('a pre-virtualized bzImage runs as its vmlinux on every back end (same zero page as QEMU\'s loader); others boot through the protocol', () => {
  const q = qemu('console=ttyS0', 128, null);
  for (const hypervisor of ['native', 'hvm', 'xen', 'l4'] as const) {
    const out: number[] = [];
    const vm = createVirtualMachine({ hypervisor, kernel: readFileSync(bzImageWithVmlinux), kernelName: 'bzImage', append: 'console=ttyS0', serialOut: (b) => out.push(b) });
    const r = vm.run(10_000_000);
    expect(`${hypervisor}: ${Buffer.from(out).toString('latin1')}`).toBe(`${hypervisor}: ${q.out}`);
    expect(r.exitCode).toBe(q.status);
    // Entered at the ELF's entry (0x1000000), not at code32_start (0x100000), with its sites loaded.
    expect(vm.machine.boot.entry).toBe(0x1000000);
    expect(vm.sites.length).toBeGreaterThan(0);
  }
  // Without records (the plain image): the 32-bit boot protocol, as on QEMU.
  const plain = createVirtualMachine({ hypervisor: 'hvm', kernel: readFileSync(bzImage), kernelName: 'bzImage', serialOut: () => {} });
  expect(plain.machine.boot.entry).toBe(0x100000);
  const xz = Buffer.from(readFileSync(bzImageWithVmlinux));
  Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]).copy(xz, (xz[0x1f1] + 1) * 512 + xz.readUInt32LE(0x248));
  expect(() => createVirtualMachine({ hypervisor: 'xen', kernel: xz, kernelName: 'bzImage', serialOut: () => {} }))
    .toThrow(BackendError);
  expect(() => createVirtualMachine({ hypervisor: 'xen', kernel: xz, kernelName: 'bzImage', serialOut: () => {} }))
    .toThrow(/compressed with xz; only gzip payloads can be read .*records of the vmlinux inside are needed/);
});

test('an initrd that does not fit is refused with a message', () => {
  expect(() => new Machine({ kernel: readFileSync(bzImage), kernelName: bzImage, memoryMB: 4, initrd: new Uint8Array(5 << 20), serialOut: () => {} }))
    .toThrow(/initrd \(5242880 bytes\) does not fit/);
});
