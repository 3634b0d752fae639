// A freestanding C guest of fixtures/vmm/guests built as a Multiboot ELF and run on QEMU and on the
// machine (interpreted and with every block as generated code): the transcripts and exit codes must
// be the same. Shared by the tests that compare one CPU feature against QEMU.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Machine } from '../src/index.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '../../..');

export interface GuestRuns {
  /** QEMU's serial transcript and exit status. */
  readonly qemu: { readonly stdout: string; readonly status: number | null };
  /** The machine's transcript and exit code, per JIT threshold (Infinity: interpreted; 1: every block compiled). */
  readonly machine: readonly { readonly threshold: number; readonly stdout: string; readonly exitCode: number }[];
}

/** Builds fixtures/vmm/guests/<name>.c and runs it on QEMU and on the machine. */
export function runCGuest(name: string, maxInstructions = 20_000_000): GuestRuns {
  const dir = mkdtempSync(join(tmpdir(), `vmm-${name}-`));
  try {
    const elf = join(dir, `${name}.elf`);
    execFileSync('gcc', ['-m32', '-ffreestanding', '-fno-pic', '-fno-stack-protector', '-O2', '-mno-sse', '-mno-mmx', '-nostdlib', '-static',
      '-Wl,-T,' + join(root, 'fixtures/vmm/cpudiff/link.ld'), '-Wl,--build-id=none', '-Wl,--no-warn-rwx-segments',
      '-o', elf, join(root, `fixtures/vmm/guests/${name}.c`)], { stdio: 'pipe' });
    const q = spawnSync('qemu-system-i386', ['-kernel', elf, '-serial', 'stdio', '-display', 'none', '-no-reboot',
      '-device', 'isa-debug-exit,iobase=0xf4,iosize=0x04'], { encoding: 'latin1', timeout: 30_000 });
    const machine = [Infinity, 1].map((threshold) => {
      const out: number[] = [];
      const m = new Machine({ kernel: readFileSync(elf), kernelName: elf, serialOut: (b) => out.push(b) });
      m.cpu.jitThreshold = threshold;
      const r = m.run(maxInstructions);
      return { threshold, stdout: Buffer.from(out).toString('latin1'), exitCode: r.exitCode };
    });
    return { qemu: { stdout: q.stdout, status: q.status }, machine };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
