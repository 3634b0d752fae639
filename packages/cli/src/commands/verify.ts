// `previrt verify <kernel>`: runs one binary on every back end (and on qemu-system-i386, the
// reference machine), compares the serial transcripts byte for byte and prints a table: result,
// instructions, sensitive operations, exits, hypercalls/IPCs, modeled cycles, overhead against
// native and wall time per machine, then the first differing line of every machine that disagrees.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { CommandModule } from 'yargs';
import {
  BACKEND_NAMES, BackendError, DEFAULT_RTC_BASE, ImageError, MemoryDisk, OverlayDisk, createVirtualMachine, total,
  type BackendName, type Counters, type DiskImage,
} from '@previrt/vmm';
import { CliError, EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE } from '../errors.js';
import { countersJson } from './backend-report.js';
import { driveSpecs, type DriveSpec } from './machine-args.js';

interface VerifyArgs {
  kernel: string;
  append?: string;
  drive?: string[];
  disk?: string;
  input?: string;
  hypervisors?: string;
  qemu?: boolean;
  paging: string;
  force: boolean;
  mask?: string[];
  memory: number;
  'max-instructions': number;
  json: boolean;
}

export interface MachineRow {
  machine: string;
  /** ok: ran to the end (its exit code in exitCode); refused: the back end would not load it; failed: guest failure. */
  result: 'ok' | 'refused' | 'failed';
  exitCode: number | null;
  message: string;
  transcript: string;
  instructions: number | null;
  sensitive: number | null;
  exits: number | null;
  hypercalls: number | null;
  ipcs: number | null;
  modeledCycles: number | null;
  overhead: number | null;
  wallSeconds: number;
  counters?: Record<string, unknown>;
  /** The first line where the transcript differs from the reference, or null. */
  difference: { line: number; reference: string; actual: string } | null;
}

function readOrFail(file: string, what: string): Uint8Array {
  try {
    return readFileSync(file);
  } catch (err) {
    throw new CliError(`${file}: cannot read ${what} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`, EXIT_USAGE);
  }
}

/** A row's counters where the machine counted nothing (refused, or QEMU). */
const NO_COUNTS = { instructions: null, sensitive: null, exits: null, hypercalls: null, ipcs: null, modeledCycles: null };

/** Runs the kernel on one back end of the simulated PC. */
function onBackend(backend: BackendName, kernel: Uint8Array, args: VerifyArgs, images: Map<number, Uint8Array>, input: Uint8Array | null): Omit<MachineRow, 'overhead' | 'difference'> {
  const out: number[] = [];
  const disks: (DiskImage | null)[] = [null, null];
  for (const [index, bytes] of images) disks[index] = new OverlayDisk(new MemoryDisk(bytes), false);
  const started = process.hrtime.bigint();
  const seconds = () => Number(process.hrtime.bigint() - started) / 1e9;
  let vm;
  try {
    vm = createVirtualMachine({
      kernel, kernelName: args.kernel, append: args.append, disks, memoryMB: args.memory, serialOut: (b) => out.push(b),
      hypervisor: backend, paging: args.paging as 'nested' | 'shadow', force: args.force,
    });
  } catch (err) {
    if (err instanceof BackendError || err instanceof ImageError) {
      return { machine: backend, result: 'refused', exitCode: null, message: err.message, transcript: '', ...NO_COUNTS, wallSeconds: seconds() };
    }
    throw err;
  }
  if (input) vm.machine.uart.receive(input);
  let r = vm.run(args['max-instructions']);
  if (r.reason === 'waiting-input' || r.reason === 'idle') {
    r = { reason: 'failure', exitCode: 3, message: 'the guest is halted waiting for serial input that never comes' };
  }
  const c: Counters = vm.finish();
  const failed = r.reason === 'failure' || r.reason === 'limit';
  return {
    machine: backend, result: failed ? 'failed' : 'ok', exitCode: r.exitCode, message: r.message,
    transcript: Buffer.from(out).toString('latin1'),
    instructions: c.instructions, sensitive: total(c.sensitive), exits: total(c.exits), hypercalls: total(c.hypercalls),
    ipcs: total(c.ipcs), modeledCycles: c.modeledCycles, wallSeconds: seconds(), counters: countersJson(c),
  };
}

const RTC_BASE = new Date(DEFAULT_RTC_BASE * 1000).toISOString().slice(0, 19);

/** Runs the kernel on qemu-system-i386 on its instruction-counting clock (as this machine's). */
function onQemu(args: VerifyArgs, driveFiles: DriveSpec[], input: Uint8Array | null): Omit<MachineRow, 'overhead' | 'difference'> {
  const drives = driveFiles.flatMap((d) => ['-drive', `file=${d.file},format=raw,if=ide,index=${d.index},snapshot=on`]);
  const started = process.hrtime.bigint();
  const r = spawnSync('qemu-system-i386', [
    '-kernel', args.kernel, ...(args.append !== undefined ? ['-append', args.append] : []), '-serial', 'stdio', '-display', 'none',
    '-monitor', 'none', '-no-reboot', '-device', 'isa-debug-exit,iobase=0xf4,iosize=0x04', '-m', String(args.memory),
    '-icount', 'shift=0,sleep=off', '-rtc', `base=${RTC_BASE},clock=vm`, ...drives,
  ], { input: input ?? Buffer.alloc(0), encoding: 'latin1', timeout: 600_000, maxBuffer: 1 << 28 });
  const wallSeconds = Number(process.hrtime.bigint() - started) / 1e9;
  if (r.error) {
    return { machine: 'qemu', result: 'failed', exitCode: null, message: `qemu-system-i386: ${r.error.message}`, transcript: r.stdout ?? '', ...NO_COUNTS, wallSeconds };
  }
  const status = r.status ?? -1;
  return {
    machine: 'qemu', result: r.signal ? 'failed' : 'ok', exitCode: status,
    message: r.signal ? `killed by ${r.signal}` : (r.stderr ?? '').trim().split('\n')[0] ?? '',
    transcript: r.stdout ?? '', ...NO_COUNTS, wallSeconds,
  };
}

function qemuInstalled(): boolean {
  return spawnSync('qemu-system-i386', ['--version'], { encoding: 'utf8' }).status === 0;
}

/** The first line at which b differs from a (1-based), after masking. */
export function firstDifference(a: string, b: string): { line: number; reference: string; actual: string } | null {
  if (a === b) return null;
  const la = a.split('\n'), lb = b.split('\n');
  for (let i = 0; i < Math.max(la.length, lb.length); i++) {
    if (la[i] !== lb[i]) return { line: i + 1, reference: la[i] ?? '(end of output)', actual: lb[i] ?? '(end of output)' };
  }
  return { line: la.length, reference: '', actual: '' };
}

function fmt(n: number | null): string {
  return n === null ? '-' : n.toLocaleString('en-US');
}

export function formatTable(rows: MachineRow[]): string {
  const head = ['machine', 'result', 'instructions', 'sensitive', 'exits', 'hypercalls', 'IPCs', 'modeled cycles', 'vs native', 'wall s'];
  const body = rows.map((r) => [
    r.machine,
    r.result === 'ok' ? `exit ${r.exitCode}${r.difference ? ', differs' : ''}` : r.result,
    fmt(r.instructions), fmt(r.sensitive), fmt(r.exits), fmt(r.hypercalls), fmt(r.ipcs), fmt(r.modeledCycles),
    r.overhead === null ? '-' : `${r.overhead >= 0 ? '+' : ''}${(r.overhead * 100).toFixed(1)}%`,
    r.wallSeconds.toFixed(2),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((row) => row[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i < 2 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ').trimEnd();
  return [line(head), ...body.map(line)].join('\n');
}

export const verifyCommand: CommandModule<object, VerifyArgs> = {
  command: 'verify <kernel>',
  describe: 'run one kernel binary on every back end and on QEMU and compare the serial transcripts',
  builder: (y) => y
    .positional('kernel', { type: 'string', demandOption: true, describe: 'Multiboot kernel (ELF), afterburned for the back ends that need it' })
    .option('append', { type: 'string', describe: 'kernel command line (after the kernel name, as QEMU passes it)' })
    .option('drive', { type: 'string', array: true, describe: 'IDE disk: file=<image>[,index=0|1]; never written (each machine gets an overlay)' })
    .option('disk', { type: 'string', describe: 'short for --drive file=<image>,index=0' })
    .option('input', { type: 'string', describe: 'file fed to the serial line of every machine' })
    .option('hypervisors', { type: 'string', describe: `comma-separated back ends (default: ${BACKEND_NAMES.join(',')})` })
    .option('qemu', { type: 'boolean', describe: 'also run qemu-system-i386 (default: when it is installed; --no-qemu to skip)' })
    .option('paging', { type: 'string', default: 'nested', choices: ['nested', 'shadow'], describe: 'hvm paging mode' })
    .option('force', { type: 'boolean', default: false, describe: 'run a kernel without records on xen and l4 anyway' })
    .option('mask', { type: 'string', array: true, describe: 'regular expression whose matches are ignored when comparing (e.g. \'cycles=[0-9]+\'); repeatable' })
    .option('memory', { type: 'number', default: 128, describe: 'RAM in MB' })
    .option('max-instructions', { type: 'number', default: 4_000_000_000, describe: 'stop a machine after this many guest instructions' })
    .option('json', { type: 'boolean', default: false, describe: 'print the results as JSON' })
    .example('$0 verify build-ab/kernel.elf --append test=all --disk build/disk.img', 'every back end and QEMU must print the same')
    .example('$0 verify build-ab/kernel.elf --append bench=all --disk build/disk.img --mask \'cycles=[0-9]+\'', 'benchmarks: equal apart from their cycle counts'),
  handler: (args) => {
    const kernel = readOrFail(args.kernel, 'the kernel');
    const list = (args.hypervisors ?? BACKEND_NAMES.join(',')).split(',').map((s) => s.trim()).filter(Boolean);
    for (const h of list) {
      if (!(BACKEND_NAMES as readonly string[]).includes(h)) throw new CliError(`--hypervisors: unknown back end '${h}' (available: ${BACKEND_NAMES.join(', ')})`, EXIT_USAGE);
    }
    const masks = (args.mask ?? []).map((m) => {
      try { return new RegExp(m, 'g'); } catch (e) { throw new CliError(`--mask ${m}: ${(e as Error).message}`, EXIT_USAGE); }
    });
    const driveFiles = driveSpecs(args);
    const images = new Map<number, Uint8Array>();
    for (const d of driveFiles) images.set(d.index, readOrFail(d.file, 'the disk image'));
    const input = args.input !== undefined ? readOrFail(args.input, 'the serial input') : null;
    const useQemu = args.qemu ?? qemuInstalled();
    if (args.qemu && !qemuInstalled()) throw new CliError('--qemu: qemu-system-i386 is not installed (apt-get install qemu-system-x86)', EXIT_USAGE);

    const raw: Omit<MachineRow, 'overhead' | 'difference'>[] = [];
    for (const h of list) raw.push(onBackend(h as BackendName, kernel, args, images, input));
    if (useQemu) raw.push(onQemu(args, driveFiles, input));

    const masked = (t: string) => masks.reduce((acc, m) => acc.replace(m, '<masked>'), t);
    const reference = raw.find((r) => r.machine === 'qemu' && r.result === 'ok') ?? raw.find((r) => r.result === 'ok');
    const native = raw.find((r) => r.machine === 'native' && r.result === 'ok');
    const rows: MachineRow[] = raw.map((r) => ({
      ...r,
      overhead: native && native.modeledCycles && r.modeledCycles !== null ? r.modeledCycles / native.modeledCycles - 1 : null,
      difference: r.result === 'ok' && reference && r !== reference ? firstDifference(masked(reference.transcript), masked(r.transcript)) : null,
    }));
    const exitCodes = new Set(rows.filter((r) => r.result === 'ok').map((r) => r.exitCode));
    const agree = rows.every((r) => r.result === 'ok' && r.difference === null) && exitCodes.size <= 1;

    if (args.json) {
      process.stdout.write(JSON.stringify({
        kernel: args.kernel, append: args.append ?? '', reference: reference?.machine ?? null, agree,
        machines: rows.map(({ transcript, ...rest }) => ({ ...rest, transcriptBytes: Buffer.byteLength(transcript, 'latin1') })),
        transcript: reference ? reference.transcript : '',
      }, null, 2) + '\n');
    } else {
      const out: string[] = [formatTable(rows)];
      for (const r of rows) {
        if (r.result === 'refused' || r.result === 'failed') out.push(`${r.machine}: ${r.result}: ${r.message}`);
        if (r.difference) {
          out.push(`${r.machine} differs from ${reference!.machine} at line ${r.difference.line}:`,
            `  ${reference!.machine.padEnd(6)}: ${JSON.stringify(r.difference.reference)}`, `  ${r.machine.padEnd(6)}: ${JSON.stringify(r.difference.actual)}`);
        }
      }
      if (exitCodes.size > 1) out.push(`exit codes differ: ${rows.filter((r) => r.result === 'ok').map((r) => `${r.machine} ${r.exitCode}`).join(', ')}`);
      out.push(agree ? `all ${rows.length} machines agree (${Buffer.byteLength(reference?.transcript ?? '', 'latin1')} bytes of serial output)` : 'the machines disagree');
      process.stdout.write(out.join('\n') + '\n');
    }
    process.exitCode = agree ? EXIT_OK : EXIT_PROBLEMS;
  },
};

export default verifyCommand;
