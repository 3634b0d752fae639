// previrt verify as a command: the table and the first differing line for people, --json for
// programs, exit 0 when every machine agrees, 1 when one differs or fails, 2 for bad arguments.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const previrt = join(root, 'packages/cli/bin/previrt.js');
let work: string;
let plain: string, afterburned: string, disk: string;

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'previrt-verify-'));
  const make = (dir: string, ...vars: string[]) => execFileSync('make', ['-s', '-C', join(root, 'fixtures/kernel'),
    `BUILD=${join(work, dir)}`, '-j2', ...vars, 'all'], { stdio: 'pipe' });
  make('plain');
  make('ab', `CC=node ${previrt} cc gcc`);
  execFileSync('make', ['-s', '-C', join(root, 'fixtures/kernel'), `BUILD=${join(work, 'plain')}`, 'disk'], { stdio: 'pipe' });
  plain = join(work, 'plain/kernel.elf');
  afterburned = join(work, 'ab/kernel.elf');
  disk = join(work, 'plain/disk.img');
}, 300_000);
afterAll(() => rmSync(work, { recursive: true, force: true }));

const verify = (...args: string[]) => spawnSync(process.execPath, [previrt, 'verify', ...args], { encoding: 'utf8', timeout: 300_000 });

test('agreement: one table row per machine, overhead against native, exit 0', () => {
  const r = verify(afterburned, '--append', 'test=cpuid,gdt,timer-hlt', '--disk', disk, '--qemu');
  expect(r.stderr).toBe('');
  expect(r.status).toBe(0);
  const lines = r.stdout.trim().split('\n');
  expect(lines[0]).toMatch(/^machine\s+result\s+instructions\s+sensitive\s+exits\s+hypercalls\s+IPCs\s+modeled cycles\s+vs native\s+wall s$/);
  expect(lines.slice(1, 6).map((l) => l.split(/\s+/)[0])).toEqual(['native', 'hvm', 'xen', 'l4', 'qemu']);
  expect(lines[1]).toMatch(/^native\s+exit 1\s+[\d,]+\s+[\d,]+\s+0\s+0\s+0\s+[\d,]+\s+\+0\.0%/);
  expect(lines[3]).toMatch(/^xen\s+exit 1\s.*\+\d+\.\d%/);
  expect(lines[5]).toMatch(/^qemu\s+exit 1\s+-\s+-\s+-\s+-\s+-\s+-\s+-\s+[\d.]+$/);
  expect(lines.at(-1)).toMatch(/^all 5 machines agree \(\d+ bytes of serial output\)$/);
}, 120_000);

test('disagreement: the first differing line and exit 1', () => {
  // The plain kernel forced onto xen: sgdt shows the hypervisor's GDT there.
  const r = verify(plain, '--append', 'test=gdt', '--disk', disk, '--hypervisors', 'native,xen', '--force', '--no-qemu');
  expect(r.status).toBe(1);
  expect(r.stdout).toMatch(/^xen differs from native at line 2:\n {2}native: "PASS gdt"\n {2}xen {3}: "FAIL gdt: sgdt gave [0-9a-f]+\/e07f"$/m);
  expect(r.stdout.trim().split('\n').at(-1)).toBe('the machines disagree');
  // Without --force the back end refuses the kernel: a row saying so, and exit 1.
  const refused = verify(plain, '--append', 'test=gdt', '--disk', disk, '--hypervisors', 'native,l4', '--no-qemu', '--json');
  expect(refused.status).toBe(1);
  const json = JSON.parse(refused.stdout);
  expect(json.agree).toBe(false);
  expect(json.machines[1]).toMatchObject({ machine: 'l4', result: 'refused' });
  expect(json.machines[1].message).toMatch(/no \.afterburn records/);
}, 120_000);

test('serial input reaches every machine', () => {
  const input = join(work, 'input.txt');
  writeFileSync(input, 'echo hello from the serial line\nexit 0\n');
  const r = verify(afterburned, '--append', 'shell=1', '--disk', disk, '--input', input, '--hypervisors', 'native,xen', '--no-qemu', '--json');
  expect(r.status).toBe(0);
  expect(JSON.parse(r.stdout).transcript).toContain('hello from the serial line');
}, 120_000);

test('bad arguments: exit 2 and one line', () => {
  for (const args of [[afterburned, '--hypervisors', 'vmware'], [join(work, 'missing.elf')], [afterburned, '--mask', '(']]) {
    const r = verify(...args, '--no-qemu');
    expect({ args, status: r.status, lines: r.stderr.trim().split('\n').length }).toEqual({ args, status: 2, lines: 1 });
    expect(r.stderr).toMatch(/^previrt: /);
  }
});
