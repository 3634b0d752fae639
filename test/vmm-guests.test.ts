// Small guests of fixtures/vmm/guests whose whole transcript must equal QEMU's: hardware task
// switching (lcall to a TSS, iret through the back link, ljmp through a task gate, a double fault
// through a task gate in the IDT).
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Machine } from '@previrt/vmm';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
let dir: string;
beforeAll(() => { dir = mkdtempSync(join(tmpdir(), 'vmm-guests-')); });
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function build(name: string): string {
  const elf = join(dir, `${name}.elf`);
  execFileSync('gcc', ['-m32', '-nostdlib', '-static', '-Wl,-T,' + join(root, 'fixtures/vmm/cpudiff/link.ld'), '-Wl,--no-warn-rwx-segments',
    '-o', elf, join(root, 'fixtures/vmm/guests', `${name}.S`)], { stdio: 'pipe' });
  return elf;
}

test('hardware task switches: state saved and loaded, busy bits, NT and back links, #DF through a task gate', () => {
  const elf = build('tasks');
  const q = spawnSync('qemu-system-i386', ['-kernel', elf, '-serial', 'stdio', '-display', 'none', '-no-reboot',
    '-device', 'isa-debug-exit,iobase=0xf4,iosize=0x04'], { encoding: 'latin1', timeout: 30_000 });
  const out: number[] = [];
  const m = new Machine({ kernel: readFileSync(elf), kernelName: elf, serialOut: (b) => out.push(b) });
  const r = m.run(10_000_000);
  expect(q.stdout).toMatch(/^B .*\n.*\nJb .*\n.*\nD/);
  expect(Buffer.from(out).toString('latin1')).toBe(q.stdout);
  expect(r.exitCode).toBe(q.status);
});
