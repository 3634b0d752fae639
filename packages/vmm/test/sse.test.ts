// The SSE state against QEMU: the guest of fixtures/vmm/guests/sse.c dumps what fxsave writes (with and
// without CR4.OSFXSR), round-trips a state through fxrstor, and prints the faults of fxsave/fxrstor,
// ldmxcsr/stmxcsr, movaps and emms under CR0.TS/EM, OSFXSR and misalignment, and XMM moves. The
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
  dir = mkdtempSync(join(tmpdir(), 'vmm-sse-'));
  elf = join(dir, 'sse.elf');
  execFileSync('gcc', ['-m32', '-ffreestanding', '-fno-pic', '-fno-stack-protector', '-O2', '-mno-sse', '-mno-mmx', '-nostdlib', '-static',
    '-Wl,-T,' + join(root, 'fixtures/vmm/cpudiff/link.ld'), '-Wl,--build-id=none', '-Wl,--no-warn-rwx-segments',
    '-o', elf, join(root, 'fixtures/vmm/guests/sse.c')], { stdio: 'pipe' });
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

test('fxsave/fxrstor, MXCSR, fences, movnti, emms and XMM moves as QEMU, faults included', () => {
  const q = spawnSync('qemu-system-i386', ['-kernel', elf, '-serial', 'stdio', '-display', 'none', '-no-reboot',
    '-device', 'isa-debug-exit,iobase=0xf4,iosize=0x04'], { encoding: 'latin1', timeout: 30_000 });
  expect(q.stdout).toMatch(/^fxsave:\n000: 7f 03 00 20 f0 00 .* 80 1f 00 00 ff ff 00 00\n/m);
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
