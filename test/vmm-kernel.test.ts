// The test kernel (fixtures/kernel) on the simulated PC against QEMU, the reference machine: the
// `test=all` transcripts (also with apic=off), the demo and every `bench=` workload's operation counts
// must be byte-identical, with the same exit status (QEMU's isa-debug-exit mapping).
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Machine, MemoryDisk, OverlayDisk, DEFAULT_RTC_BASE } from '@previrt/vmm';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
let build: string;
let kernelPath: string;

beforeAll(() => {
  build = mkdtempSync(join(tmpdir(), 'vmm-kernel-'));
  execFileSync('make', ['-C', join(root, 'fixtures/kernel'), `BUILD=${build}`, '-j2', 'all', 'disk'], { stdio: 'pipe' });
  kernelPath = join(build, 'kernel.elf');
}, 300_000);
afterAll(() => rmSync(build, { recursive: true, force: true }));

interface Run { stdout: string; status: number }

const rtcBase = new Date(DEFAULT_RTC_BASE * 1000).toISOString().slice(0, 19);

/**
 * The demo prints the RTC's time: QEMU's RTC then follows its instruction-counting virtual clock
 * (`-icount shift=0`: 1 ns per instruction, this machine's rate) instead of the host's, which would
 * have moved on by a second on a busy machine.
 */
function onQemu(cmdline: string, memoryMB = 128): Run {
  const image = join(build, `disk-${Math.random().toString(36).slice(2)}.img`);
  copyFileSync(join(build, 'disk.img'), image);
  const clock = cmdline === '' ? ['-icount', 'shift=0,sleep=off', '-rtc', `base=${rtcBase},clock=vm`] : ['-rtc', `base=${rtcBase}`];
  const r = spawnSync('qemu-system-i386', ['-kernel', kernelPath, '-append', cmdline, '-serial', 'stdio', '-display', 'none',
    '-no-reboot', '-device', 'isa-debug-exit,iobase=0xf4,iosize=0x04', ...clock, '-m', String(memoryMB),
    '-drive', `file=${image},format=raw,if=ide`], { encoding: 'latin1', timeout: 120_000 });
  rmSync(image, { force: true });
  if (r.error) throw r.error;
  return { stdout: r.stdout, status: r.status ?? -1 };
}

function onMachine(cmdline: string, memoryMB = 128): Run & { instructions: number } {
  const out: number[] = [];
  const disk = new OverlayDisk(new MemoryDisk(readFileSync(join(build, 'disk.img'))), false);
  const m = new Machine({ kernel: readFileSync(kernelPath), kernelName: kernelPath, append: cmdline, disks: [disk], memoryMB, serialOut: (b) => out.push(b) });
  const r = m.run(2_000_000_000);
  if (r.reason === 'failure' || r.reason === 'limit') throw new Error(`${r.message}${m.report()}`);
  return { stdout: Buffer.from(out).toString('latin1'), status: r.exitCode, instructions: m.cpu.icount };
}

test.each(['test=all', 'test=all apic=off', ''])('kernel command line "%s": the transcript and exit status are QEMU\'s', (cmdline) => {
  const q = onQemu(cmdline);
  const o = onMachine(cmdline);
  expect(q.stdout.length).toBeGreaterThan(100);
  expect(o.stdout).toBe(q.stdout);
  expect(o.status).toBe(q.status);
  if (cmdline.startsWith('test=all')) expect(o.stdout).toMatch(/selftest: \d+ passed, 0 failed\n$/);
});

test.each([16, 1024])('with %i MB of memory the demo (memory size, MP tables, disk, processes) is QEMU\'s', (mb) => {
  const q = onQemu('', mb);
  expect(q.stdout).toContain(`${mb * 1024 - 1024 - 128} KB of memory above 1 MB`);
  expect(onMachine('', mb).stdout).toBe(q.stdout);
});

test('every bench= workload reports the same operation counts as on QEMU', () => {
  const strip = (s: string): string => s.replace(/ cycles=\d+/g, '');
  const q = onQemu('bench=all');
  const o = onMachine('bench=all');
  expect(strip(q.stdout)).toMatch(/bench mixed: ops=\d+\n$/);
  expect(strip(o.stdout)).toBe(strip(q.stdout));
  expect(o.status).toBe(q.status);
});

test('a run is deterministic: same transcript, same instruction count', () => {
  const a = onMachine('bench=all');
  const b = onMachine('bench=all');
  expect(b.stdout).toBe(a.stdout);
  expect(b.instructions).toBe(a.instructions);
});

test('previrt run drives the interactive shell from --input and exits with the guest\'s status', () => {
  const input = join(build, 'input.txt');
  execFileSync('sh', ['-c', `printf 'echo hello, ring 0\\nfrobnicate\\ntest lar,rtc\\nexit 4\\n' > ${input}`]);
  const r = spawnSync(process.execPath, [join(root, 'packages/cli/bin/previrt.js'), 'run', kernelPath, '--append', 'shell=1', '--input', input],
    { encoding: 'utf8', timeout: 120_000 });
  expect(r.stdout).toContain([
    '> echo hello, ring 0', 'hello, ring 0',
    '> frobnicate', 'frobnicate: unknown command (try help)',
    '> test lar,rtc', 'previrt test kernel: test=lar,rtc', 'PASS lar', 'PASS rtc', 'selftest: 2 passed, 0 failed',
    '> exit 4', '',
  ].join('\n'));
  expect(r.status).toBe((4 << 1) | 1);
});
