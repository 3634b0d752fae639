// What every run counts, on every back end.

export interface Counters {
  /** Guest instructions retired (filled in when the run ends). */
  instructions: number;
  /** Instructions plus every charged cycle. */
  modeledCycles: number;
  /** Sensitive instructions executed, by catalogue class (at their site through the monitor, or unpatched). */
  sensitive: Record<string, number>;
  /** Entries into the in-place VMM, by record kind (annotated memory operations included). */
  inPlace: Record<string, number>;
  /** hvm: VM exits by reason. */
  exits: Record<string, number>;
  /** xen: hypercalls by kind (from the in-place VMM or a para-virtual kernel). */
  hypercalls: Record<string, number>;
  /** l4: IPCs by kind. */
  ipcs: Record<string, number>;
  /** xen and l4: unpatched privileged instructions that trapped and were emulated, by class. */
  traps: Record<string, number>;
  /** Unannotated page-table writes that took the slow path (fault and emulation). */
  ptWriteFaults: number;
  /** Unannotated device-register accesses that took the slow path (xen and l4: fault and emulation). */
  mmioFaults: number;
  /** xen and l4: unpatched instructions that behaved as below ring 0 (what --force shows going wrong). */
  silent: Record<string, number>;
  /** Exceptions, hardware interrupts and software interrupts delivered to the guest. */
  exceptions: number;
  interrupts: number;
  softwareInterrupts: number;
  /** Charged cycles by where they went. */
  charged: Record<string, number>;
}

export function newCounters(): Counters {
  return {
    instructions: 0, modeledCycles: 0, sensitive: {}, inPlace: {}, exits: {}, hypercalls: {}, ipcs: {}, traps: {},
    ptWriteFaults: 0, mmioFaults: 0, silent: {}, exceptions: 0, interrupts: 0, softwareInterrupts: 0, charged: {},
  };
}

export function bump(map: Record<string, number>, key: string, by = 1): void {
  map[key] = (map[key] ?? 0) + by;
}

export function total(map: Record<string, number>): number {
  let n = 0;
  for (const v of Object.values(map)) n += v;
  return n;
}

/** A deep copy (for snapshots taken during a run). */
export function snapshot(c: Counters): Counters {
  return JSON.parse(JSON.stringify(c)) as Counters;
}
