// `previrt run`: exit codes (the guest's as QEMU maps isa-debug-exit, 0 on a reset request or a halt
// with interrupts off, 3 on guest failure, 2 on bad input), failure reports, --json, serial input,
// --max-instructions. The guest is fixtures/vmm/guests/guest.S, whose command line picks a behaviour;
// where QEMU can show the same behaviour, its exit status is the reference.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const previrt = join(root, 'packages/cli/bin/previrt.js');
let dir: string;
let guest: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'run-cli-'));
  guest = join(dir, 'guest.elf');
  execFileSync('gcc', ['-m32', '-nostdlib', '-static', '-Wl,-T,' + join(root, 'fixtures/vmm/cpudiff/link.ld'), '-Wl,--no-warn-rwx-segments',
    '-o', guest, join(root, 'fixtures/vmm/guests/guest.S')], { stdio: 'pipe' });
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function run(args: string[], input = '') {
  return spawnSync(process.execPath, [previrt, 'run', ...args], { encoding: 'utf8', input, timeout: 60_000 });
}
function qemuStatus(append: string): number | null {
  const r = spawnSync('qemu-system-i386', ['-kernel', guest, '-append', append, '-serial', 'stdio', '-display', 'none', '-no-reboot',
    '-device', 'isa-debug-exit,iobase=0xf4,iosize=0x04'], { encoding: 'utf8', timeout: 30_000 });
  return r.status;
}

test('the exit code is the guest\'s isa-debug-exit value as QEMU maps it, serial output on stdout', () => {
  const r = run([guest, '--append', 'e']);
  expect(r.stdout).toBe('hello\n');
  expect(r.status).toBe((5 << 1) | 1);
  expect(r.status).toBe(qemuStatus('e'));
});

test.each([['c', 'port 0xcf9'], ['k', 'the i8042']])('a reset request (%s, %s) ends the run with exit code 0, as QEMU -no-reboot', (mode) => {
  const r = run([guest, '--append', mode]);
  expect(r.status).toBe(0);
  expect(r.stderr).toBe('');
  expect(qemuStatus(mode)).toBe(0);
});

test('a halt with interrupts off ends the run with exit code 0', () => {
  const r = run([guest, '--append', 'h', '--json']);
  expect(r.status).toBe(0);
  expect(JSON.parse(r.stdout).reason).toBe('halted');
});

test('a triple fault stops with exit code 3 and a report: reason, cs:eip, registers, last instructions', () => {
  const r = run([guest, '--append', 't']);
  expect(r.status).toBe(3);
  const lines = r.stderr.trimEnd().split('\n');
  expect(lines[0]).toMatch(/^previrt: guest failure: triple fault/);
  expect(r.stderr).toMatch(/^cs:eip 0008:[0-9a-f]{8} {2}cpl 0/m);
  expect(r.stderr).toMatch(/^eax [0-9a-f]{8} {2}ecx/m);
  expect(r.stderr).toMatch(/last instructions:\n(  [0-9a-f]{8}: .+\n)*  [0-9a-f]{8}: int3/);
  expect(r.stderr).not.toMatch(/at .*\.js:\d+/);
});

test('an instruction the machine does not implement stops with exit code 3 and names it', () => {
  const r = run([guest, '--append', 'u']);
  expect(r.status).toBe(3);
  expect(r.stderr).toMatch(/^previrt: guest failure: unimplemented x87 instruction fyl2x/);
});

test('--max-instructions stops a guest that runs on, after exactly that many instructions', () => {
  const r = run([guest, '--append', 's', '--max-instructions', '100000', '--json']);
  expect(r.status).toBe(3);
  const j = JSON.parse(r.stdout);
  expect(j).toMatchObject({ exitCode: 3, reason: 'limit', instructions: 100000, serial: '' });
  expect(typeof j.wallSeconds).toBe('number');
  expect(j.report).toMatch(/^cs:eip 0008:[0-9a-f]{8}/);
  expect(typeof j.mips).toBe('number');
  expect(j.counters).toEqual({ sensitive: {}, exceptions: 0, interrupts: 0, softwareInterrupts: 0 });
});

test('--json carries the serial output, the exit code and counters of sensitive instructions', () => {
  const r = run([guest, '--append', 'e', '--json']);
  const j = JSON.parse(r.stdout);
  expect(j.serial).toBe('hello\n');
  // guest.S prints "hello\n" polling the UART (one in per character at least), one out each, and the exit.
  expect(j.counters.sensitive.out).toBe(7);
  expect(j.counters.sensitive.in).toBeGreaterThanOrEqual(6);
  expect(j.exitCode).toBe(11);
  expect(j.instructions).toBeGreaterThan(10);
  expect(r.status).toBe(11);
});

test('standard input is the serial line; --input a file', () => {
  const a = run([guest, '--append', 'i'], 'typed text.');
  expect(a.stdout).toBe('typed text');
  expect(a.status).toBe(1);
  const file = join(dir, 'in.txt');
  writeFileSync(file, 'from a file.ignored');
  const b = run([guest, '--append', 'i', '--input', file]);
  expect(b.stdout).toBe('from a file');
  expect(b.status).toBe(1);
});

test('disk writes go to an overlay, or to the image with --disk-write (the same bytes as QEMU writes)', () => {
  const image = join(dir, 'disk.img');
  writeFileSync(image, new Uint8Array(4096));
  expect(run([guest, '--append', 'w', '--disk', image]).status).toBe(1);
  expect(readFileSync(image).every((b) => b === 0)).toBe(true);
  expect(run([guest, '--append', 'w', '--drive', `file=${image},index=0`, '--disk-write']).status).toBe(1);
  const ours = readFileSync(image);
  expect(ours.subarray(512, 520).toString('latin1')).toBe('previrt!');
  const theirs = join(dir, 'qemu.img');
  writeFileSync(theirs, new Uint8Array(4096));
  spawnSync('qemu-system-i386', ['-kernel', guest, '-append', 'w', '-serial', 'stdio', '-display', 'none', '-no-reboot',
    '-device', 'isa-debug-exit,iobase=0xf4,iosize=0x04', '-drive', `file=${theirs},format=raw,if=ide`], { timeout: 30_000 });
  expect(Buffer.compare(ours, readFileSync(theirs))).toBe(0);
});

test('unusable input: exit code 2 and one line naming the file and what is wrong', () => {
  const text = join(dir, 'not-elf.bin');
  writeFileSync(text, 'just text, no Multiboot header here\n');
  const cases: [string[], RegExp][] = [
    [[join(dir, 'missing.elf')], /^previrt: .*missing\.elf: cannot read \(ENOENT\)\n$/],
    [[text], /^previrt: .*not-elf\.bin: no Multiboot header/],
    [[guest, '--memory', '0'], /^previrt: --memory 0: expected a whole number of MB/],
    [[guest, '--drive', 'file=x.img,index=5'], /^previrt: --drive file=x\.img,index=5: index must be 0/],
    [[guest, '--drive', 'index=0'], /^previrt: --drive index=0: no file= given/],
    [[guest, '--disk', join(dir, 'nope.img')], /nope\.img: cannot open disk image \(ENOENT\)/],
    [[guest, '--hypervisor', 'vmware'], /^previrt: .*vmware/],
  ];
  for (const [args, message] of cases) {
    const r = run(args);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
  }
});
