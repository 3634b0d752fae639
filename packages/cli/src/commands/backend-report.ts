// The counters of a back-end run as JSON (shared by `previrt run --json` and `previrt verify --json`).
import { allKindIds, kindName } from '@previrt/isa';
import { total, type Counters } from '@previrt/vmm';

const ORDER = new Map<string, number>(allKindIds().map((id) => [kindName(id), id]));

function byCatalogue(map: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(map).sort((a, b) => (ORDER.get(a[0]) ?? 1e9) - (ORDER.get(b[0]) ?? 1e9)));
}
function byName(map: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(map).sort((a, b) => a[0].localeCompare(b[0])));
}

/** What the machine counts on every back end: sensitive instructions and deliveries. */
export function machineCountersJson(c: Counters): Record<string, unknown> {
  return {
    sensitive: byCatalogue(c.sensitive),
    exceptions: c.exceptions,
    interrupts: c.interrupts,
    softwareInterrupts: c.softwareInterrupts,
  };
}

/** The back end's accounting: in-place entries, exits, hypercalls, IPCs, traps, slow paths, cycles. */
export function backendCountersJson(c: Counters): Record<string, unknown> {
  return {
    inPlace: byCatalogue(c.inPlace),
    exits: byName(c.exits),
    hypercalls: byName(c.hypercalls),
    ipcs: byName(c.ipcs),
    traps: byCatalogue(c.traps),
    ptWriteFaults: c.ptWriteFaults,
    mmioFaults: c.mmioFaults,
    silent: byName(c.silent),
    totals: {
      inPlace: total(c.inPlace), exits: total(c.exits), hypercalls: total(c.hypercalls),
      ipcs: total(c.ipcs), traps: total(c.traps),
    },
    modeledCycles: c.modeledCycles,
    charged: byName(c.charged),
  };
}

export function countersJson(c: Counters): Record<string, unknown> {
  const machine = machineCountersJson(c);
  const backend = backendCountersJson(c);
  return { ...machine, ...backend, totals: { sensitive: total(c.sensitive), ...(backend.totals as object) } };
}
