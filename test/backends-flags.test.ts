// The interrupt-flag classes keep every guest-visible flag on every back end: a Multiboot guest built
// through the afterburner runs cli, sti, pushf, popf (32- and 16-bit) and iret with images that set
// the arithmetic flags, DF, IF and IOPL, and prints what pushf shows after each. xen and l4 run the
// inline sequences (vif byte, hooks, the IOPL check and the monitor behind it) for most of them;
// every transcript must equal QEMU's.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createVirtualMachine, type BackendName } from '@previrt/vmm';
import { bootOnQemu } from './helpers/qemu';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const previrt = join(root, 'packages/cli/bin/previrt.js');
let dir: string;
let elf: string;

const GUEST = `
typedef unsigned int u32;
__attribute__((section(".multiboot"), used, aligned(4))) static const u32 mb[3] = { 0x1badb002, 0, -(0x1badb002u) };
static unsigned char stack[4096] __attribute__((aligned(16), used));
__asm__(".text\\n.globl _start\\n_start:\\n mov $stack + 4096, %esp\\n call main\\n1: hlt\\n jmp 1b\\n");
static void out8(unsigned short p, unsigned char v) { __asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(p)); }
static void puts(const char *s) { while (*s) out8(0x3f8, *s++); }
static void hex(const char *what, u32 v)
{
	char b[9];
	for (int i = 7; i >= 0; i--, v >>= 4) b[i] = "0123456789abcdef"[v & 15];
	b[8] = 0;
	puts(what); puts(" "); puts(b); puts("\\n");
}
/* The flags that mean the same on every machine: CF PF AF ZF SF TF IF DF OF IOPL NT AC ID. */
#define VISIBLE 0x00247fd5u
void main(void)
{
	u32 f;
	unsigned short w;
	__asm__ volatile("cli");
	out8(0x21, 0xff); /* no interrupts: there is no IDT */
	out8(0xa1, 0xff);
	/* cli and sti keep the arithmetic flags and DF. */
	__asm__ volatile("stc; std; cli; pushfl; popl %0; cld" : "=r"(f) : : "cc");
	hex("cli", f & VISIBLE);
	__asm__ volatile("stc; std; sti; pushfl; popl %0; cld; cli" : "=r"(f) : : "cc");
	hex("sti", f & VISIBLE);
	/* popf of images with IF clear and set, every arithmetic flag and DF set. */
	__asm__ volatile("pushl %1; popfl; pushfl; popl %0; cld" : "=r"(f) : "r"(0x0cd7u) : "cc");
	hex("popf-if0", f & VISIBLE);
	__asm__ volatile("pushl %1; popfl; pushfl; popl %0; cld; cli" : "=r"(f) : "r"(0x0ed7u) : "cc");
	hex("popf-if1", f & VISIBLE);
	/* IOPL through popf, pushf with IOPL 3 and IF clear, back to IOPL 0. */
	__asm__ volatile("pushl %1; popfl; pushfl; popl %0" : "=r"(f) : "r"(0x3002u) : "cc");
	hex("popf-iopl3", f & VISIBLE);
	__asm__ volatile("sti; pushfl; popl %0; cli" : "=r"(f) : : "cc");
	hex("iopl3-sti", f & VISIBLE);
	__asm__ volatile("pushl %1; popfl; pushfl; popl %0" : "=r"(f) : "r"(0x0002u) : "cc");
	hex("popf-iopl0", f & VISIBLE);
	/* iret to the same ring: the frame's IF, IOPL, arithmetic flags and DF. */
	__asm__ volatile("pushl %1; pushl %%cs; pushl $1f; iretl; 1: pushfl; popl %0; cld" : "=r"(f) : "r"(0x1ed7u) : "cc", "memory");
	hex("iret-iopl1-if1", f & VISIBLE);
	__asm__ volatile("pushl %1; pushl %%cs; pushl $1f; iretl; 1: pushfl; popl %0" : "=r"(f) : "r"(0x0046u) : "cc", "memory");
	hex("iret-iopl0-if0", f & VISIBLE);
	/* 16-bit pushf/popf (the monitor call below ring 0). */
	__asm__ volatile("pushw %1; popfw; pushfw; popw %0; cld" : "=r"(w) : "r"((unsigned short)0x0ac1) : "cc");
	hex("popfw", w & VISIBLE);
	__asm__ volatile("sti; pushfw; popw %0; cli" : "=r"(w) : : "cc");
	hex("pushfw-sti", w & VISIBLE);
	__asm__ volatile("outl %0, %1" : : "a"(0), "Nd"(0xf4));
}
`;

function run(hypervisor: BackendName) {
  const out: number[] = [];
  const vm = createVirtualMachine({ kernel: readFileSync(elf), kernelName: elf, hypervisor, serialOut: (b) => out.push(b) });
  const r = vm.run(10_000_000);
  vm.finish();
  return { ...r, serial: Buffer.from(out).toString('latin1'), sites: vm.sites, counters: vm.vmm.counters };
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'previrt-flags-'));
  const src = join(dir, 'guest.c');
  writeFileSync(src, GUEST);
  elf = join(dir, 'guest.elf');
  execFileSync(process.execPath, [previrt, 'cc', 'gcc', '-m32', '-ffreestanding', '-fno-pic', '-fno-stack-protector', '-O1',
    '-nostdlib', '-static', '-Wl,-T,' + join(root, 'fixtures/vmm/cpudiff/link.ld'), '-Wl,--build-id=none',
    '-Wl,--no-warn-rwx-segments', '-o', elf, src], { stdio: 'pipe' });
}, 60_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

test('cli, sti, pushf, popf and iret show and restore every flag as on QEMU, on every back end', () => {
  const qemu = bootOnQemu(elf, '', { disk: null });
  const reference = qemu.stdout.replace(/\r/g, '');
  // What the lines must say (the reference is QEMU; these make the test's intent explicit).
  const line = Object.fromEntries(reference.split('\n').filter(Boolean).map((l) => { const [k, v] = l.split(' '); return [k!, parseInt(v!, 16)]; }));
  expect(Object.keys(line)).toHaveLength(11);
  const IF = 0x200, CF = 1, DF = 0x400, IOPL = 0x3000;
  expect(line.cli! & (IF | CF | DF)).toBe(CF | DF); // cli keeps CF and DF
  expect(line.sti! & (IF | CF | DF)).toBe(IF | CF | DF);
  expect([line['popf-if0'], line['popf-if1']]).toEqual([0x0cd5, 0x0ed5]);
  expect([line['popf-iopl3']! & IOPL, line['iopl3-sti']! & (IF | IOPL), line['popf-iopl0']! & IOPL]).toEqual([IOPL, IF | IOPL, 0]);
  expect([line['iret-iopl1-if1'], line['iret-iopl0-if0']]).toEqual([0x1ed5, 0x0044]);
  for (const h of ['native', 'hvm', 'xen', 'l4'] as const) {
    const r = run(h);
    expect({ h, reason: r.reason, serial: r.serial }).toEqual({ h, reason: 'exit', serial: reference });
  }
  // xen runs the inline sequences (and, for the IOPL lines, the monitor behind the hooks); popfw and
  // pushfw go through the monitor call.
  const xen = run('xen');
  const forms = (kind: string) => new Set(xen.sites.filter((s) => s.kindName === kind).map((s) => s.patch.form));
  for (const kind of ['cli', 'sti', 'pushf', 'popf', 'iret']) expect({ kind, inline: forms(kind).has('inline') }).toEqual({ kind, inline: true });
  expect(forms('popf').has('call')).toBe(true);
  expect(Object.keys(xen.counters.inPlace)).toEqual(expect.arrayContaining(['popf (hook)', 'iret (hook)', 'pushf', 'popf']));
  expect(xen.counters.silent).toEqual({});
}, 120_000);
