// `previrt run <kernel>`: boots a Multiboot kernel on the simulated PC. Guest serial output goes to
// stdout as it happens; serial input comes from --input or standard input (as QEMU's -serial stdio).
// The exit code is the guest's, mapped as QEMU's isa-debug-exit does ((v << 1) | 1); 0 on a reset
// request or a halt with interrupts off; 3 when the guest cannot go on.
import { readFileSync, openSync, readSync, writeSync, closeSync, fstatSync } from 'node:fs';
import type { CommandModule } from 'yargs';
import {
  BACKEND_NAMES, BackendError, MemoryDisk, OverlayDisk, ImageError, createVirtualMachine, type DiskImage, type RunResult,
  type VirtualMachine,
} from '@previrt/vmm';
import { backendCountersJson, machineCountersJson } from './backend-report.js';
import { driveSpecs } from './machine-args.js';
import { CliError, EXIT_GUEST_FAILURE, EXIT_USAGE } from '../errors.js';

interface RunArgs {
  kernel: string;
  hypervisor: string;
  append?: string;
  initrd?: string;
  drive?: string[];
  disk?: string;
  'disk-write': boolean;
  memory: number;
  input?: string;
  'max-instructions'?: number;
  json: boolean;
  paging: string;
  force: boolean;
  'no-rewrite': boolean;
  'exit-cost'?: number;
}

/** Instructions per slice between looks at the outside world (stdin, stdout flushes). */
const SLICE = 20_000_000;
/** Back ends `previrt run` offers. */
const HYPERVISORS: readonly string[] = BACKEND_NAMES;
const IDLE_STEP_NS = 10_000_000;

/** A raw image file, read and written in place (used only with --disk-write). */
class FileDisk implements DiskImage {
  readonly size: number;
  constructor(private readonly fd: number) { this.size = fstatSync(fd).size; }
  read(offset: number, into: Uint8Array): void {
    into.fill(0);
    if (offset < this.size) readSync(this.fd, into, 0, Math.min(into.length, this.size - offset), offset);
  }
  write(offset: number, from: Uint8Array): void {
    if (offset + from.length <= this.size) writeSync(this.fd, from, 0, from.length, offset);
  }
}

export const runCommand: CommandModule<object, RunArgs> = {
  command: 'run <kernel>',
  describe: 'boot a kernel on the simulated PC (serial console on stdin/stdout)',
  builder: (y) => y
    .positional('kernel', { type: 'string', demandOption: true, describe: 'Multiboot kernel (ELF, as for qemu-system-i386 -kernel) or Linux bzImage' })
    .option('hypervisor', { type: 'string', default: 'native', describe: `back end the kernel runs on (${HYPERVISORS.join(', ')}); the loader rewrites the kernel's .afterburn sites for it` })
    .option('paging', { type: 'string', default: 'nested', choices: ['nested', 'shadow'], describe: 'hvm: nested paging (no page-table exits) or shadow paging' })
    .option('force', { type: 'boolean', default: false, describe: 'xen, l4: run a kernel without .afterburn records anyway (it goes wrong silently)' })
    .option('no-rewrite', { type: 'boolean', default: false, describe: 'ignore the .afterburn records: run the binary unmodified (hvm, native; xen and l4 need --force)' })
    .option('exit-cost', { type: 'number', describe: 'hvm: cycles of a VM exit round trip (default 1500; about 10000 measured in a nested VM)' })
    .option('append', { type: 'string', describe: 'kernel command line (after the kernel name, as QEMU passes it)' })
    .option('initrd', { type: 'string', describe: 'initial RAM disk for a Linux bzImage (placed as QEMU\'s -initrd)' })
    .option('drive', { type: 'string', array: true, describe: 'IDE disk: file=<image>[,index=0|1] (primary master/slave); repeatable' })
    .option('disk', { type: 'string', describe: 'short for --drive file=<image>,index=0' })
    .option('disk-write', { type: 'boolean', default: false, describe: 'write guest disk writes to the image files (default: to an overlay that is dropped)' })
    .option('memory', { type: 'number', default: 128, describe: 'RAM in MB (2..2000)' })
    .option('input', { type: 'string', describe: 'file fed to the serial line (default: standard input)' })
    .option('max-instructions', { type: 'number', describe: 'stop with exit code 3 after this many guest instructions' })
    .option('json', { type: 'boolean', default: false, describe: 'print a JSON summary at the end (serial output and counters included)' })
    .example('$0 run build/kernel.elf --append "test=all"', 'runs the test kernel; the exit code is the guest\'s')
    .example('$0 run kernel.elf --disk disk.img --input script.txt', 'with a disk and scripted serial input')
    .example('$0 run build-ab/kernel.elf --hypervisor xen --append bench=mixed --json', 'the afterburned kernel on the xen back end, with its counters'),
  handler: async (args) => {
    if (!HYPERVISORS.includes(args.hypervisor)) {
      throw new CliError(`--hypervisor ${args.hypervisor}: unknown back end (available: ${HYPERVISORS.join(', ')})`, EXIT_USAGE);
    }
    let kernel: Uint8Array;
    try {
      kernel = readFileSync(args.kernel);
    } catch (err) {
      throw new CliError(`${args.kernel}: cannot read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`, EXIT_USAGE);
    }
    if (!Number.isInteger(args.memory) || args.memory < 2 || args.memory > 2000) {
      throw new CliError(`--memory ${args.memory}: expected a whole number of MB between 2 and 2000`, EXIT_USAGE);
    }
    const maxInstructions = args['max-instructions'];
    if (maxInstructions !== undefined && (!Number.isFinite(maxInstructions) || maxInstructions < 0)) {
      throw new CliError(`--max-instructions ${maxInstructions}: expected a non-negative number`, EXIT_USAGE);
    }
    let initrd: Uint8Array | undefined;
    if (args.initrd !== undefined) {
      try {
        initrd = readFileSync(args.initrd);
      } catch (err) {
        throw new CliError(`${args.initrd}: cannot read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`, EXIT_USAGE);
      }
    }
    const disks: (DiskImage | null)[] = [null, null];
    const fds: number[] = [];
    for (const { file, index } of driveSpecs(args)) {
      try {
        if (args['disk-write']) {
          const fd = openSync(file, 'r+');
          fds.push(fd);
          disks[index] = new FileDisk(fd);
        } else disks[index] = new OverlayDisk(new MemoryDisk(readFileSync(file)), false);
      } catch (err) {
        throw new CliError(`${file}: cannot open disk image (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`, EXIT_USAGE);
      }
    }

    const serial: number[] = [];
    let pendingOut: number[] = [];
    const flush = (): void => {
      if (pendingOut.length === 0) return;
      if (!args.json) process.stdout.write(Buffer.from(pendingOut));
      pendingOut = [];
    };
    const exitCost = args['exit-cost'];
    if (exitCost !== undefined && (!Number.isFinite(exitCost) || exitCost < 0)) {
      throw new CliError(`--exit-cost ${exitCost}: expected a non-negative number of cycles`, EXIT_USAGE);
    }
    let vm: VirtualMachine;
    try {
      vm = createVirtualMachine({
        memoryMB: args.memory, kernel, kernelName: args.kernel, append: args.append, initrd, disks,
        serialOut: (b) => { pendingOut.push(b); if (args.json) serial.push(b); },
        hypervisor: args.hypervisor as (typeof BACKEND_NAMES)[number], paging: args.paging as 'nested' | 'shadow',
        force: args.force, noRewrite: args['no-rewrite'], ...(exitCost !== undefined ? { exitRoundTrip: exitCost } : {}),
      });
    } catch (err) {
      if (err instanceof ImageError) throw new CliError(`${args.kernel}: ${err.message}`, EXIT_USAGE);
      if (err instanceof BackendError) throw new CliError(err.message, EXIT_USAGE);
      throw err;
    }
    const machine = vm.machine;

    // Serial input.
    let stdinEnded = false;
    let wake: (() => void) | null = null;
    if (args.input !== undefined) {
      try {
        machine.uart.receive(readFileSync(args.input));
      } catch (err) {
        throw new CliError(`${args.input}: cannot read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`, EXIT_USAGE);
      }
      stdinEnded = true;
    } else {
      // On a terminal, keys go to the guest as typed (raw mode, no local echo), as with QEMU's
      // -serial stdio; Ctrl-C still ends the run.
      if (process.stdin.isTTY) process.stdin.setRawMode(true);
      process.stdin.on('data', (chunk: Buffer) => {
        if (process.stdin.isTTY && chunk.includes(3)) {
          process.stdin.setRawMode(false);
          process.stderr.write('\nprevirt: interrupted\n');
          process.exit(130);
        }
        machine.uart.receive(chunk);
        wake?.();
      });
      process.stdin.on('end', () => { stdinEnded = true; wake?.(); });
      process.stdin.on('error', () => { stdinEnded = true; wake?.(); });
    }

    const started = process.hrtime.bigint();
    const limit = maxInstructions ?? Infinity;
    let result: RunResult;
    try {
      for (;;) {
        const sliceEnd = Math.min(limit, machine.cpu.icount + SLICE);
        // While standard input is open, an idle guest waits in real time (10 ms steps) so that
        // typed or piped input arrives when it would on hardware; once it ends, time runs freely.
        result = machine.run(sliceEnd, stdinEnded ? Infinity : IDLE_STEP_NS);
        flush();
        if (result.reason === 'idle') {
          await new Promise((r) => setTimeout(r, IDLE_STEP_NS / 1e6));
          continue;
        }
        if (result.reason === 'limit' && sliceEnd < limit) {
          await new Promise((r) => setImmediate(r));
          continue;
        }
        if (result.reason === 'waiting-input') {
          // Halted with nothing but the serial line to wake it: wait for more input, if any can come.
          if (stdinEnded) {
            result = { reason: 'failure', exitCode: EXIT_GUEST_FAILURE, message: 'the guest is halted waiting for serial input and the input has ended' };
            break;
          }
          await new Promise<void>((r) => { wake = r; });
          wake = null;
          continue;
        }
        break;
      }
    } finally {
      flush();
      if (args.input === undefined && process.stdin.isTTY) process.stdin.setRawMode(false);
      process.stdin.pause();
      if (args.input === undefined) process.stdin.destroy();
      for (const fd of fds) closeSync(fd);
    }
    const wallSeconds = Number(process.hrtime.bigint() - started) / 1e9;
    const instructions = machine.cpu.icount;
    const counters = vm.finish();
    const silent = Object.entries(counters.silent);
    if (args.force && silent.length > 0 && !args.json) {
      process.stderr.write(`previrt: --force on ${args.hypervisor}: unpatched instructions behaved as below ring 0: `
        + `${silent.map(([what, n]) => `${what} (${n}x)`).join(', ')}\n`);
    }
    if (args.json) {
      const summary = {
        exitCode: result.exitCode,
        reason: result.reason,
        message: result.message,
        instructions,
        wallSeconds,
        mips: wallSeconds > 0 ? instructions / wallSeconds / 1e6 : 0,
        serial: Buffer.from(serial).toString('latin1'),
        hypervisor: args.hypervisor,
        ...(result.reason === 'failure' || result.reason === 'limit' ? { report: machine.report().trim() } : {}),
        paging: args.hypervisor === 'hvm' ? args.paging : undefined,
        sites: vm.sites.length,
        window: vm.window ? `0x${vm.window.base.toString(16)}` : null,
        counters: machineCountersJson(counters),
        backend: backendCountersJson(counters),
      };
      process.stdout.write(JSON.stringify(summary, null, 2) + '\n');
    }
    if (result.reason === 'failure' || result.reason === 'limit') {
      if (!args.json) process.stderr.write(`previrt: guest failure: ${result.message}${machine.report()}\n`);
      process.exitCode = EXIT_GUEST_FAILURE;
      return;
    }
    process.exitCode = result.exitCode;
  },
};

export default runCommand;
