// PAE paging against QEMU: the guest of fixtures/vmm/guests/pae.c walks 4 KB and 2 MB pages through
// 64-bit entries and prints every access (value or fault, error code, CR2) and the entries' accessed/
// dirty bits, with CR0.WP on and off, reserved bits, a page above 4 GB, invlpg and global pages. The
// transcript must be byte-identical to QEMU's, with closures and with every block as generated code.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Machine } from '../src/index.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '../../..');
let dir: string;
let elf: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'vmm-pae-'));
  elf = join(dir, 'pae.elf');
  execFileSync('gcc', ['-m32', '-ffreestanding', '-fno-pic', '-fno-stack-protector', '-O2', '-mno-sse', '-mno-mmx', '-nostdlib', '-static',
    '-Wl,-T,' + join(root, 'fixtures/vmm/cpudiff/link.ld'), '-Wl,--build-id=none', '-Wl,--no-warn-rwx-segments',
    '-o', elf, join(root, 'fixtures/vmm/guests/pae.c')], { stdio: 'pipe' });
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

test('PAE translation, faults and accessed/dirty bits as QEMU', () => {
  const q = spawnSync('qemu-system-i386', ['-kernel', elf, '-serial', 'stdio', '-display', 'none', '-no-reboot',
    '-device', 'isa-debug-exit,iobase=0xf4,iosize=0x04'], { encoding: 'latin1', timeout: 30_000 });
  expect(q.stdout).toMatch(/^cr0=80000011\ncr3=[0-9a-f]{8}\ncr4=000000a0\n/);
  expect(q.stdout).toContain('rsvd40 read 00403000 fault 0e code 0008');
  expect(q.stdout).toMatch(/\nend\n$/);
  for (const threshold of [Infinity, 1]) {
    const out: number[] = [];
    const m = new Machine({ kernel: readFileSync(elf), kernelName: elf, serialOut: (b) => out.push(b) });
    m.cpu.jitThreshold = threshold;
    const r = m.run(20_000_000);
    expect(Buffer.from(out).toString('latin1')).toBe(q.stdout);
    expect(r.exitCode).toBe(q.status);
  }
});
