// The monitor window belongs to the in-place VMM: on xen and l4, where the hypervisor sees every
// page-table update, a guest mapping into it is refused with an error naming the range and the
// page-directory entry, whether the mapping comes with a CR3 load or a later write to the directory.
// On hvm the window shadows the guest's mapping; a kernel with nothing to rewrite gets no window.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createVirtualMachine, type BackendName } from '@previrt/vmm';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const previrt = join(root, 'packages/cli/bin/previrt.js');
let dir: string;

// A Multiboot guest that maps 4 MB at 0xff800000 (the default window) before (MODE 1) or after
// (MODE 2) turning paging on, or not at all (MODE 0); its cli gets a site through the afterburner.
const GUEST = `
typedef unsigned int u32;
__attribute__((section(".multiboot"), used, aligned(4))) static const u32 mb[3] = { 0x1badb002, 0, -(0x1badb002u) };
static u32 pd[1024] __attribute__((aligned(4096)));
static unsigned char stack[4096] __attribute__((aligned(16), used));
__asm__(".text\\n.globl _start\\n_start:\\n mov $stack + 4096, %esp\\n call main\\n1: hlt\\n jmp 1b\\n");
static void out8(unsigned short p, unsigned char v) { __asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(p)); }
static void puts(const char *s) { while (*s) out8(0x3f8, *s++); }
void main(void)
{
	u32 r;
	__asm__ volatile("cli");
	pd[0] = 0x83;
	if (MODE == 1) pd[1022] = 0x83 | (1u << 22);
	__asm__ volatile("mov %%cr4, %0" : "=r"(r));
	__asm__ volatile("mov %0, %%cr4" : : "r"(r | 0x10));
	__asm__ volatile("mov %0, %%cr3" : : "r"(pd) : "memory");
	__asm__ volatile("mov %%cr0, %0" : "=r"(r));
	__asm__ volatile("mov %0, %%cr0" : : "r"(r | 0x80000000) : "memory");
	if (MODE == 2) *(volatile u32 *)&pd[1022] = 0x83 | (1u << 22);
	puts("paging on\\n");
	__asm__ volatile("outl %0, %1" : : "a"(0), "Nd"(0xf4));
}
`;

function build(mode: number): string {
  const src = join(dir, 'guest.c');
  writeFileSync(src, GUEST);
  const elf = join(dir, `guest-${mode}.elf`);
  execFileSync(process.execPath, [previrt, 'cc', 'gcc', '-m32', '-ffreestanding', '-fno-pic', '-fno-stack-protector', '-O1',
    '-nostdlib', '-static', `-DMODE=${mode}`, '-Wl,-T,' + join(root, 'fixtures/vmm/cpudiff/link.ld'), '-Wl,--build-id=none',
    '-Wl,--no-warn-rwx-segments', '-o', elf, src], { stdio: 'pipe' });
  return elf;
}

function run(elf: string, hypervisor: BackendName) {
  const out: number[] = [];
  const vm = createVirtualMachine({ kernel: readFileSync(elf), kernelName: elf, hypervisor, serialOut: (b) => out.push(b) });
  const r = vm.run(10_000_000);
  return { ...r, serial: Buffer.from(out).toString('latin1'), window: vm.window };
}

beforeAll(() => { dir = mkdtempSync(join(tmpdir(), 'previrt-window-')); }, 60_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

test('a guest mapping into the monitor window is refused on xen and l4, with the CR3 load or a later directory write', () => {
  for (const mode of [1, 2]) {
    const elf = build(mode);
    for (const h of ['xen', 'l4'] as const) {
      const r = run(elf, h);
      expect({ mode, h, reason: r.reason, serial: r.serial }).toEqual({ mode, h, reason: 'failure', serial: '' });
      expect(r.message).toBe(`the guest maps 0xff800000-0xffbfffff (page-directory entry 1022 = 0x${(0x83 | (1 << 22)).toString(16)}), `
        + `which the ${h} back end reserves for the in-place monitor`);
    }
    // hvm: the window takes precedence over the guest's mapping; the guest runs on.
    const hvm = run(elf, 'hvm');
    expect(hvm.reason).toBe('exit');
    expect(hvm.serial).toBe('paging on\n');
    expect(hvm.window?.base).toBe(0xff800000);
  }
  // Without the mapping every back end runs it.
  const ok = build(0);
  for (const h of ['native', 'hvm', 'xen', 'l4'] as const) expect(run(ok, h).serial).toBe('paging on\n');
}, 120_000);
