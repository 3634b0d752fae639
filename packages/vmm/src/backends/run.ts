// A machine for a back end: loads the kernel, checks its records, picks the monitor window, rewrites
// the sites and installs the in-place VMM. The CLI (`previrt run`, `previrt verify`) and the
// benchmarks go through here.
import { BACKEND_NAMES, type BackendName } from '@previrt/isa';
import { AfterburnFormatError, ElfError, parseElf, type ElfFile } from '@previrt/linker';
import { Machine, type MachineOptions, type RunResult } from '../machine.js';
import { ImageError } from '../elf.js';
import { bzImageVmlinux, isBzImage } from '../linux.js';
import { InPlaceVmm, type Paging } from '../inplace/monitor.js';
import { RecordError, loadSites, readRecords, type Site } from '../inplace/records.js';
import { MONITOR_BYTES, WindowError, chooseWindow, windowLayout, type WindowLayout } from '../inplace/window.js';
import { hypercallPageOf } from '../inplace/xen-abi.js';
import { DEFAULT_COSTS, withExitRoundTrip, type CostTable } from './costs.js';
import type { Counters } from './counters.js';

export { BACKEND_NAMES, type BackendName };

/** The kernel cannot run on the back end as asked (no records, a corrupted record, ...). */
export class BackendError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BackendError';
  }
}

export interface VirtualMachineOptions extends Omit<MachineOptions, 'monitorBytes' | 'hooks'> {
  hypervisor: BackendName;
  paging?: Paging;
  /** Run a kernel without records on xen or l4 anyway (to see what goes wrong). */
  force?: boolean;
  costs?: CostTable;
  /** hvm: the VM-exit round trip in cycles (default the cost table's 1,500). */
  exitRoundTrip?: number;
  /** Load the binary as it is: records are ignored, no site is rewritten (hvm and native run anything). */
  noRewrite?: boolean;
}

export interface VirtualMachine {
  readonly machine: Machine;
  readonly vmm: InPlaceVmm;
  readonly sites: readonly Site[];
  readonly window: WindowLayout | null;
  /** The kernel is written for the xen ABI (it has a hypercall page). */
  readonly paravirtual: boolean;
  /** Runs the machine (see Machine.run). */
  run(maxInstructions?: number, idleBudget?: number): RunResult;
  /** Flushes the in-place device models and returns the counters. */
  finish(): Counters;
}

function isElf(bytes: Uint8Array): boolean {
  return bytes.length >= 4 && bytes[0] === 0x7f && bytes[1] === 0x45 && bytes[2] === 0x4c && bytes[3] === 0x46;
}

/** The physical address of a linear address of the image (through its loaded segments). */
function imagePhys(elf: ElfFile, linear: number): number | null {
  for (const s of elf.segments) {
    if (s.type === 1 && linear >= s.vaddr && linear < s.vaddr + s.memsz) return s.paddr + (linear - s.vaddr);
  }
  return null;
}

export function createVirtualMachine(opts: VirtualMachineOptions): VirtualMachine {
  const name = opts.kernelName;
  const backend = opts.hypervisor;
  if (!(BACKEND_NAMES as readonly string[]).includes(backend)) {
    throw new BackendError(`unknown hypervisor '${backend}': choose one of ${BACKEND_NAMES.join(', ')}`);
  }
  let elf: ElfFile | null = null;
  const parse = (bytes: Uint8Array): ElfFile => {
    try {
      return parseElf(bytes, name);
    } catch (e) {
      if (e instanceof ElfError) throw new BackendError(e.message);
      throw e;
    }
  };
  if (isElf(opts.kernel)) elf = parse(opts.kernel);
  // A pre-virtualized Linux bzImage (its vmlinux has records) is read as a domain builder reads it,
  // on every back end alike so that all of them run the same code from the same entry: the vmlinux
  // of its payload is loaded directly and rewritten from its records. Any other bzImage boots through
  // the 32-bit boot protocol and its decompressor, as on QEMU.
  let linuxDirect = false;
  if (elf === null && !opts.noRewrite && isBzImage(opts.kernel)) {
    let vmlinux: Uint8Array | null = null;
    try {
      vmlinux = bzImageVmlinux(opts.kernel);
    } catch (e) {
      if (!(e instanceof ImageError)) throw e;
      if ((backend === 'xen' || backend === 'l4') && !opts.force) {
        throw new BackendError(`${name}: ${e.message}: on ${backend} the records of the vmlinux inside are needed`);
      }
    }
    if (vmlinux !== null) {
      const inner = parse(vmlinux);
      let recorded = false;
      try {
        recorded = readRecords(inner).length > 0;
      } catch (e) {
        if (!(e instanceof AfterburnFormatError)) throw e;
        recorded = true; // reported below, with the file named
      }
      if (recorded) { elf = inner; linuxDirect = true; }
    }
  }
  let records: ReturnType<typeof readRecords> = [];
  try {
    if (elf && !opts.noRewrite) records = readRecords(elf);
  } catch (e) {
    if (e instanceof AfterburnFormatError) throw new BackendError(`${name}: ${e.message}`);
    throw e;
  }
  const pvPage = elf ? hypercallPageOf(elf) : null;
  if (pvPage !== null && backend !== 'xen') {
    throw new BackendError(`${name} is a para-virtual kernel for the xen ABI (it has a hypercall page): it runs on --hypervisor xen only`);
  }
  // Annotation macros leave records of memory operations in any build; an afterburned kernel also
  // has records of its sensitive instructions.
  const instructionRecords = records.filter((r) => r.kind < 0x100).length;
  if ((backend === 'xen' || backend === 'l4') && instructionRecords === 0 && pvPage === null && !opts.force) {
    const where = backend === 'xen' ? 'in ring 1' : 'as a user task';
    const only = records.length > 0 ? ` (only ${records.length} of annotated memory operations)` : '';
    throw new BackendError(`${name} has no .afterburn records of its sensitive instructions${only}: on ${backend} the kernel runs ${where}, where popf silently drops `
      + `the interrupt flag and sgdt/sidt/smsw show the hypervisor's values, so it would go wrong without a word; build it `
      + `with previrt cc (make CC="previrt cc gcc"), or pass --force to watch it fail`);
  }
  const machine = new Machine({ ...opts, linuxDirect, monitorBytes: backend === 'native' ? 0 : MONITOR_BYTES });
  let sites: Site[] = [];
  if (elf && records.length > 0) {
    try {
      sites = loadSites(name, elf, machine.ram, backend, records, opts.paging);
    } catch (e) {
      if (e instanceof RecordError) throw new BackendError(e.message);
      throw e;
    }
  }
  // The window only exists when something reaches it: a rewritten site or a hypercall page (an
  // unmodified kernel keeps its whole address space).
  const needsWindow = backend !== 'native' && (sites.some((s) => s.patch.form !== 'keep') || pvPage !== null);
  let window: WindowLayout | null = null;
  if (needsWindow && elf) {
    try {
      window = windowLayout(chooseWindow(elf));
    } catch (e) {
      if (e instanceof WindowError) throw new BackendError(`${name}: ${e.message}`);
      throw e;
    }
  }
  let hypercallPage: { linear: number; phys: number } | undefined;
  if (pvPage !== null && elf) {
    const phys = imagePhys(elf, pvPage);
    if (phys === null || (pvPage & 0xfff) !== 0) throw new BackendError(`${name}: the hypercall page 0x${pvPage.toString(16)} is not a page of the image`);
    hypercallPage = { linear: pvPage, phys };
  }
  let costs = opts.costs ?? DEFAULT_COSTS;
  if (opts.exitRoundTrip !== undefined) costs = withExitRoundTrip(costs, opts.exitRoundTrip);
  const vmm = new InPlaceVmm(machine, {
    backend, paging: opts.paging, costs, sites, ...(window ? { window } : {}), ...(hypercallPage ? { hypercallPage } : {}),
  });
  vmm.install();
  return {
    machine, vmm, sites, window, paravirtual: pvPage !== null,
    run: (max, idle) => machine.run(max, idle),
    finish: () => vmm.finish(),
  };
}
