// The test kernel in fixtures/kernel on QEMU, the reference machine: builds it with make, boots
// `test=all` in three machine configurations (one CPU; two sockets, so that SeaBIOS lists two
// processors in the MP table; apic=off, the 8259-only path), checks every self-test line, the
// summary, the exit status through isa-debug-exit and that two runs are byte-identical; then the
// failure paths (no disk, an unknown test) and every bench= workload.
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bootOnQemu, type QemuRun } from './helpers/qemu.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const kernelDir = join(root, 'fixtures/kernel');
let build: string;

/** QEMU's exit status for a guest that wrote `code` to isa-debug-exit. */
const exitStatus = (code: number) => (code << 1) | 1;

function boot(cmdline: string, opts: { smp?: string; disk?: boolean; machine?: string[] } = {}): QemuRun {
  return bootOnQemu(join(build, 'kernel.elf'), cmdline, { ...opts, disk: opts.disk === false ? null : join(build, 'disk.img') });
}

/** The self-tests in the order of the table in selftest.c, and which need an APIC. */
function selftestTable(): { name: string; needs: 'apic' | 'ioapic' | null }[] {
  const src = readFileSync(join(kernelDir, 'src/selftest.c'), 'utf8');
  const table = src.slice(src.indexOf('static const struct selftest tests[]'));
  const rows = [...table.matchAll(/\{ "([a-z0-9-]+)", test_\w+, (NULL|have_apic|have_ioapic) \}/g)];
  return rows.map((m) => ({ name: m[1]!, needs: m[2] === 'have_apic' ? 'apic' : m[2] === 'have_ioapic' ? 'ioapic' : null }));
}

beforeAll(() => {
  build = mkdtempSync(join(tmpdir(), 'kernel-qemu-'));
  execFileSync('make', ['-C', kernelDir, `BUILD=${build}`, '-j2', 'all', 'disk'], { stdio: 'pipe' });
}, 300_000);
afterAll(() => rmSync(build, { recursive: true, force: true }));

describe.each([
  ['one CPU', { smp: '1' }, '', true],
  ['two sockets (two processors in the MP table)', { smp: '2,sockets=2,cores=1' }, '', true],
  ['apic=off (8259 only)', { smp: '1' }, ' apic=off', false],
])('test=all on QEMU, %s', (_label, machine, extra, apics) => {
  let first: QemuRun;

  beforeAll(() => { first = boot(`test=all${extra}`, machine); });

  test('prints PASS for every self-test in order, the summary, and exits with 0 through port 0xf4', () => {
    const expected = selftestTable().filter((t) => apics || t.needs === null).map((t) => t.name);
    expect(expected.length).toBeGreaterThanOrEqual(60);
    const lines = first.stdout.split('\n');
    expect(lines[0]).toBe(`previrt test kernel: test=all`);
    expect(lines.slice(1, 1 + expected.length)).toEqual(expected.map((n) => `PASS ${n}`));
    expect(lines.slice(1 + expected.length)).toEqual([`selftest: ${expected.length} passed, 0 failed`, '']);
    expect(first.status).toBe(exitStatus(0));
  });

  test('a second run gives a byte-identical transcript', () => {
    const second = boot(`test=all${extra}`, machine);
    expect(second.status).toBe(first.status);
    expect(second.stdout).toBe(first.stdout);
  });
});

test('without arguments it runs the demo: MP tables as SeaBIOS builds them (one processor per socket), two ring-3 processes', () => {
  for (const [smp, cpus] of [['1', 1], ['2', 1], ['2,sockets=2,cores=1', 2]] as const) {
    const r = boot('', { smp });
    expect(r.status).toBe(exitStatus(0));
    expect(r.stdout).toMatch(new RegExp(`^mp: ${cpus} cpu\\(s\\), local APIC at fee00000, I/O APIC 0 at fec00000$`, 'm'));
    expect(r.stdout).toContain('disk: QEMU HARDDISK, 2048 sectors\n');
    expect(r.stdout).toContain('process 1: hello from ring 3 (cs=0x1b)\nprocess 2: hello from ring 3 (cs=0x1b)\n');
  }
});

test('every self-test also passes alone (test=<name>), so any one can be run by itself', () => {
  const failures: string[] = [];
  for (const { name } of selftestTable()) {
    const r = boot(`test=${name}`);
    if (r.status !== exitStatus(0) || !r.stdout.includes(`\nPASS ${name}\nselftest: 1 passed, 0 failed\n`)) failures.push(`${name}: ${r.stdout.trim().split('\n').slice(1).join(' | ')}`);
  }
  expect(failures).toEqual([]);
}, 240_000);

test('without a disk the ATA tests fail by name, the summary counts them, and the exit status says so', () => {
  const r = boot('test=all', { disk: false });
  const failed = r.stdout.split('\n').filter((l) => l.startsWith('FAIL '));
  expect(failed.map((l) => l.split(':')[0])).toEqual(['FAIL ata-identify', 'FAIL ata-read', 'FAIL ata-read32', 'FAIL ata-write']);
  expect(failed[0]).toContain('no disk on the primary IDE channel');
  const passed = r.stdout.split('\n').filter((l) => l.startsWith('PASS ')).length;
  expect(r.stdout).toContain(`selftest: ${passed} passed, 4 failed\n`);
  expect(r.status).toBe(exitStatus(1));
});

test('test=<name>,<name> runs just those; an unknown name fails', () => {
  const some = boot('test=lar,sysenter,rtc');
  expect(some.stdout).toBe('previrt test kernel: test=lar,sysenter,rtc\nPASS lar\nPASS rtc\nPASS sysenter\nselftest: 3 passed, 0 failed\n');
  expect(some.status).toBe(exitStatus(0));
  const none = boot('test=no-such-test');
  expect(none.stdout).toContain('FAIL no-such-test: no such test\nselftest: 0 passed, 1 failed\n');
  expect(none.status).toBe(exitStatus(1));
});

test('oops=1: an unexpected kernel page fault is reported with its registers, then the kernel panics', () => {
  const r = boot('oops=1');
  const lines = r.stdout.split('\n');
  expect(lines[0]).toBe('kernel oops: #PF page fault (vector 14) error 00000002');
  const eip = /^  EIP=0008:([0-9a-f]{8}) EFLAGS=[0-9a-f]{8} CR2=dead0000$/.exec(lines[1]!);
  expect(eip).not.toBeNull();
  // The faulting instruction lies in kernel_main (its symbol and size from the ELF symbol table).
  const sym = /^\s*\d+: ([0-9a-f]+)\s+(\d+) FUNC\s+GLOBAL\s+\w+\s+\d+ kernel_main$/m
    .exec(execFileSync('readelf', ['-W', '-s', join(build, 'kernel.elf')], { encoding: 'utf8' }))!;
  const at = parseInt(eip![1]!, 16), start = parseInt(sym[1]!, 16);
  expect(at >= start && at < start + Number(sym[2])).toBe(true);
  expect(lines[2]).toMatch(/^  EAX=[0-9a-f]{8} EBX=[0-9a-f]{8} ECX=[0-9a-f]{8} EDX=[0-9a-f]{8}$/);
  // The store's address and value are in two of the general registers (which ones is gcc's choice).
  expect(lines.slice(2, 4).join(' ')).toMatch(/=dead0000\b/);
  expect(lines.slice(2, 4).join(' ')).toMatch(/=00000001\b/);
  expect(lines[3]).toMatch(/^  ESI=[0-9a-f]{8} EDI=[0-9a-f]{8} EBP=[0-9a-f]{8} ESP=0010:[0-9a-f]{8}$/);
  expect(lines[4]).toBe('  DS=0010 ES=0010 FS=0040 GS=0000');
  expect(lines[5]).toBe('panic: unexpected exception in the kernel');
  expect(r.status).toBe(exitStatus(3));
});

test('shell=1 reads commands from the serial line through the receive interrupt', async () => {
  // Input is written once the prompt is out: the UART drops what arrives before the kernel enables
  // its FIFO, as a real 16550 does.
  const child = spawn('qemu-system-i386', ['-kernel', join(build, 'kernel.elf'), '-append', 'shell=1', '-serial', 'stdio',
    '-display', 'none', '-no-reboot', '-device', 'isa-debug-exit,iobase=0xf4,iosize=0x04']);
  let out = '';
  let sent = false;
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (chunk: string) => {
    out += chunk;
    if (!sent && out.includes('> ')) {
      sent = true;
      child.stdin.write('echo hello, ring 0\nfrobnicate\ntest lar,rtc\nexit 4\n');
    }
  });
  const status = await new Promise<number | null>((resolve) => child.on('close', resolve));
  expect(out).toBe([
    'previrt test kernel shell (help lists the commands)',
    '> echo hello, ring 0', 'hello, ring 0',
    '> frobnicate', 'frobnicate: unknown command (try help)',
    '> test lar,rtc', 'previrt test kernel: test=lar,rtc', 'PASS lar', 'PASS rtc', 'selftest: 2 passed, 0 failed',
    '> exit 4', '',
  ].join('\n'));
  expect(status).toBe(exitStatus(4));
});

test('every bench= workload runs to completion and prints its operation count and cycles', () => {
  const r = boot('bench=all');
  expect(r.status).toBe(exitStatus(0));
  const lines = r.stdout.trimEnd().split('\n');
  expect(lines[0]).toBe('previrt test kernel: bench=all');
  const benches = lines.slice(1).map((l) => /^bench ([a-z]+): ops=(\d+) cycles=(\d+)$/.exec(l));
  expect(benches.every((m) => m !== null)).toBe(true);
  expect(benches.map((m) => m![1])).toEqual(['syscall', 'sysenter', 'irqflags', 'pagetable', 'pio', 'ctxsw', 'mixed']);
  for (const m of benches) {
    expect(Number(m![2])).toBeGreaterThan(0);
    expect(Number(m![3])).toBeGreaterThan(0);
  }
  // One workload alone prints the same operation count as in the full run.
  const one = boot('bench=ctxsw');
  expect(one.stdout).toMatch(new RegExp(`^previrt test kernel: bench=ctxsw\\nbench ctxsw: ops=${benches[5]![2]} cycles=\\d+\\n$`));
  expect(boot('bench=nonesuch').status).toBe(exitStatus(2));
});
