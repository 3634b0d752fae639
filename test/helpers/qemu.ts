// The test kernel (fixtures/kernel) on QEMU, the reference machine, as the end-to-end tests boot it.
import { spawnSync } from 'node:child_process';
import { copyFileSync } from 'node:fs';

export interface QemuRun { stdout: string; stderr: string; status: number | null }

export interface BootOptions {
  /** Disk image to attach as the IDE primary master; each run gets its own copy (QEMU locks the image, the disk test writes to it). Null: no disk. */
  disk: string | null;
  /** -smp argument (default "1"). */
  smp?: string;
  /** More QEMU arguments. */
  machine?: string[];
  timeout?: number;
}

/** Boots a Multiboot kernel with `-kernel` and a command line; serial output on stdout, isa-debug-exit at 0xf4. */
export function bootOnQemu(kernel: string, cmdline: string, opts: BootOptions): QemuRun {
  const args = ['-kernel', kernel, '-append', cmdline, '-serial', 'stdio', '-display', 'none', '-no-reboot',
    '-device', 'isa-debug-exit,iobase=0xf4,iosize=0x04', '-smp', opts.smp ?? '1', ...(opts.machine ?? [])];
  if (opts.disk !== null) {
    const image = `${opts.disk}-${process.pid}-${Math.random().toString(36).slice(2)}.img`;
    copyFileSync(opts.disk, image);
    args.push('-drive', `file=${image},format=raw,if=ide`);
  }
  const r = spawnSync('qemu-system-i386', args, { encoding: 'utf8', timeout: opts.timeout ?? 60_000 });
  if (r.error) throw r.error;
  return { stdout: r.stdout, stderr: r.stderr, status: r.status };
}
