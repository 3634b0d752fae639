// One binary, every hypervisor: the test kernel built through the afterburner runs on the native,
// hvm, xen and l4 back ends with the same serial output as on QEMU (previrt verify), each back end
// rewriting its sites at load time; a corrupted record is refused; xen and l4 refuse a kernel
// without records, and --force shows why; the para-virtual build runs on xen.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BackendError, DEFAULT_COSTS, MemoryDisk, OverlayDisk, createVirtualMachine, total, type BackendName } from '@previrt/vmm';
import { parseElf } from '@previrt/linker';
import { sensitiveClassByName } from '@previrt/isa';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const kernelDir = join(root, 'fixtures/kernel');
const previrt = join(root, 'packages/cli/bin/previrt.js');
let work: string;
let plain: string, afterburned: string, paravirtual: string, diskImage: string;

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'previrt-backends-'));
  const make = (dir: string, ...vars: string[]) =>
    execFileSync('make', ['-s', '-C', kernelDir, `BUILD=${join(work, dir)}`, '-j2', ...vars, 'all'], { stdio: 'pipe' });
  make('plain');
  make('ab', `CC=node ${previrt} cc gcc`);
  make('pv', 'PARAVIRT=1');
  execFileSync('make', ['-s', '-C', kernelDir, `BUILD=${join(work, 'plain')}`, 'disk'], { stdio: 'pipe' });
  plain = join(work, 'plain/kernel.elf');
  afterburned = join(work, 'ab/kernel.elf');
  paravirtual = join(work, 'pv/kernel.elf');
  diskImage = join(work, 'plain/disk.img');
}, 300_000);
afterAll(() => rmSync(work, { recursive: true, force: true }));

function verify(kernel: string, ...args: string[]) {
  const r = spawnSync(process.execPath, [previrt, 'verify', kernel, '--disk', diskImage, '--json', ...args],
    { encoding: 'utf8', timeout: 300_000, maxBuffer: 1 << 26 });
  return { status: r.status, stderr: r.stderr, json: r.stdout ? JSON.parse(r.stdout) : null };
}

const RDTSC = sensitiveClassByName('rdtsc')!.id;

function boot(kernel: string, hypervisor: BackendName, append: string, extra: { force?: boolean; noRewrite?: boolean; paging?: 'nested' | 'shadow' } = {}) {
  const out: number[] = [];
  const vm = createVirtualMachine({
    kernel: readFileSync(kernel), kernelName: kernel, append, hypervisor, ...extra,
    disks: [new OverlayDisk(new MemoryDisk(readFileSync(diskImage)), false)], serialOut: (b) => out.push(b),
  });
  // VM exits counted at every rdtsc: a bench= workload runs between the last two.
  const exitMarks: number[] = [];
  const hook = vm.machine.cpu.hooks.sensitive;
  vm.machine.cpu.hooks.sensitive = (id, eip) => {
    if (id === RDTSC) exitMarks.push(total(vm.vmm.counters.exits));
    hook?.(id, eip);
  };
  const result = vm.run(2_000_000_000);
  return { result, counters: vm.finish(), serial: Buffer.from(out).toString('latin1'), vm, exitMarks };
}

/** VM exits between the rdtsc instructions around a bench= workload. */
function workloadExits(run: { exitMarks: number[] }): number {
  const [a, b] = run.exitMarks.slice(-2);
  return b! - a!;
}

test('test=all: byte-identical transcripts on native, hvm, xen, l4 and QEMU, each back end doing its own work', () => {
  const r = verify(afterburned, '--append', 'test=all', '--qemu');
  expect(r.stderr).toBe('');
  expect(r.status).toBe(0);
  expect(r.json.agree).toBe(true);
  expect(r.json.reference).toBe('qemu');
  expect(r.json.transcript).toMatch(/selftest: \d+ passed, 0 failed\n$/);
  const m = Object.fromEntries(r.json.machines.map((x: { machine: string }) => [x.machine, x]));
  expect(Object.keys(m).sort()).toEqual(['hvm', 'l4', 'native', 'qemu', 'xen']);
  for (const name of ['native', 'hvm', 'xen', 'l4', 'qemu']) {
    expect({ name, result: m[name].result, exitCode: m[name].exitCode, difference: m[name].difference })
      .toEqual({ name, result: 'ok', exitCode: 1, difference: null });
  }
  // native rewrites nothing and charges nothing; each hypervisor goes through its own mechanism.
  expect(m.native.counters.totals.inPlace).toBe(0);
  expect(m.native.exits + m.native.hypercalls + m.native.ipcs).toBe(0);
  // Only the pads' NOPs (less), the sensitive instructions that cost more than one cycle on the
  // processor (pushf, popf, iret, cli, sti) and the port accesses' bus cycles are charged differently
  // from one cycle per instruction.
  const charged = m.native.counters.charged;
  expect(Object.keys(charged).sort()).toEqual(['instruction-cost', 'pad-nops', 'port-io']);
  expect(charged['pad-nops']).toBeLessThan(0);
  expect(charged['instruction-cost']).toBeGreaterThan(0);
  // Every port access natively is a bus cycle of the cost table's figure (but the few the selftest
  // makes from user mode, which fault with #GP instead).
  const sensitive = m.native.counters.sensitive;
  const perAccess = DEFAULT_COSTS.portAccess - DEFAULT_COSTS.instruction;
  const accesses = charged['port-io'] / perAccess;
  expect(Number.isInteger(accesses)).toBe(true);
  expect(accesses).toBeLessThanOrEqual((sensitive.in ?? 0) + (sensitive.out ?? 0));
  expect(accesses).toBeGreaterThanOrEqual((sensitive.in ?? 0) + (sensitive.out ?? 0) - 8);
  expect(Math.abs(m.native.modeledCycles - (m.native.instructions + charged['pad-nops'] + charged['instruction-cost'] + charged['port-io']))).toBeLessThanOrEqual(1);
  expect(m.hvm.exits).toBeGreaterThan(0);
  expect(m.hvm.hypercalls + m.hvm.ipcs).toBe(0);
  expect(m.xen.hypercalls).toBeGreaterThan(0);
  expect(m.xen.exits + m.xen.ipcs).toBe(0);
  expect(m.l4.ipcs).toBeGreaterThan(0);
  expect(m.l4.exits + m.l4.hypercalls).toBe(0);
  for (const name of ['xen', 'l4']) {
    expect(m[name].counters.totals.inPlace).toBeGreaterThan(1000);
    // The kernel's deliberately unannotated page-table write took the slow path, and so did its
    // unannotated APIC end-of-interrupt.
    expect(m[name].counters.ptWriteFaults).toBeGreaterThan(0);
    expect(m[name].counters.mmioFaults).toBeGreaterThan(0);
    // Each pays its own mechanism; with port reads at their bus cost natively, the in-place device
    // models can make a hypervisor cheaper than native, so no order is asserted.
    expect(m[name].counters.charged[name === 'xen' ? 'hypercalls' : 'ipc']).toBeGreaterThan(0);
  }
}, 300_000);

test('bench=all: every workload line agrees apart from its cycle count', () => {
  const r = verify(afterburned, '--append', 'bench=all', '--qemu', '--mask', 'cycles=[0-9]+');
  expect(r.status).toBe(0);
  expect(r.json.agree).toBe(true);
  const lines = r.json.transcript.split('\n').filter((l: string) => l.startsWith('bench '));
  expect(lines.map((l: string) => l.split(':')[0])).toEqual(
    ['syscall', 'sysenter', 'irqflags', 'pagetable', 'pio', 'ctxsw', 'mixed'].map((w) => `bench ${w}`));
  for (const l of lines) expect(l).not.toMatch(/wrong result/);
  // Without the mask the cycle counts differ, and verify says where.
  const raw = verify(afterburned, '--append', 'bench=irqflags', '--hypervisors', 'native,xen', '--no-qemu');
  expect(raw.status).toBe(1);
  const xen = raw.json.machines.find((x: { machine: string }) => x.machine === 'xen');
  expect(xen.difference.actual).toMatch(/^bench irqflags: ops=100000 cycles=\d+$/);
  expect(xen.difference.reference).toMatch(/^bench irqflags: ops=100000 cycles=\d+$/);
}, 300_000);

test('hvm runs the unmodified binary; afterburned, the mixed workload takes at least 80% fewer VM exits', () => {
  const unmodified = boot(plain, 'hvm', 'bench=mixed', { noRewrite: true });
  const ab = boot(afterburned, 'hvm', 'bench=mixed');
  expect(unmodified.result.exitCode).toBe(1);
  expect(ab.serial.replace(/cycles=\d+/, '')).toBe(unmodified.serial.replace(/cycles=\d+/, ''));
  expect(unmodified.counters.exits.io).toBeGreaterThan(500);
  expect(total(unmodified.counters.inPlace)).toBe(0);
  expect(workloadExits(unmodified)).toBeGreaterThan(500);
  expect(workloadExits(ab)).toBeLessThan(0.2 * workloadExits(unmodified));
  // The whole run, boot included, still takes far fewer.
  expect(total(ab.counters.exits)).toBeLessThan(0.25 * total(unmodified.counters.exits));
  // Shadow paging adds the page-table exits.
  const shadow = boot(plain, 'hvm', 'bench=mixed', { noRewrite: true, paging: 'shadow' });
  expect(shadow.counters.exits.pagefault).toBeGreaterThan(0);
  expect(shadow.counters.exits['pt-write']).toBeGreaterThan(0);
}, 120_000);

/** A copy of the afterburned kernel with record `index` changed by `mutate` (8-byte ELF32 records). */
function withRecord(index: number, mutate: (view: DataView, at: number) => void): string {
  const bytes = new Uint8Array(readFileSync(afterburned));
  const elf = parseElf(bytes, afterburned);
  const sec = elf.sectionByName('.afterburn')!;
  const view = new DataView(bytes.buffer);
  mutate(view, sec.offset + 8 * index);
  const file = join(work, `corrupt-${index}-${Math.random().toString(36).slice(2)}.elf`);
  writeFileSync(file, bytes);
  return file;
}

function recordOf(kindName: string): { index: number; address: number } {
  const bytes = new Uint8Array(readFileSync(afterburned));
  const elf = parseElf(bytes, afterburned);
  const sec = elf.sectionByName('.afterburn')!;
  const id = sensitiveClassByName(kindName)!.id;
  for (let i = 0; i * 8 < sec.size; i++) {
    const view = new DataView(sec.data.buffer, sec.data.byteOffset + 8 * i, 8);
    if (view.getUint16(6, true) === id) return { index: i, address: view.getUint32(0, true) };
  }
  throw new Error(`no ${kindName} record`);
}

test('a corrupted record is refused by the loader, naming the site and the problem', () => {
  const cli = recordOf('cli');
  const hex = (a: number) => `0x${a.toString(16)}`;
  const cases: [string, (v: DataView, at: number) => void, RegExp][] = [
    ['kind of another class', (v, at) => v.setUint16(at + 6, sensitiveClassByName('hlt')!.id, true), /hlt: the site holds `cli`, a cli instruction/],
    ['unknown kind', (v, at) => v.setUint16(at + 6, 0x7777, true), /unknown record kind 0x7777/],
    ['wrong instruction length', (v, at) => v.setUint8(at + 4, 2), /cli: the instruction at the site is 1 bytes, the record says 2/],
    ['site one byte off', (v, at) => v.setUint32(at, cli.address + 1, true), /not (NOP padding|sensitive)|does not decode|a \w+ instruction/],
    ['site outside the code', (v, at) => v.setUint32(at, 0x10, true), /not inside an executable loaded segment/],
    ['pad too short for the patch', (v, at) => v.setUint8(at + 5, 3), /the xen patch \(5 bytes\) does not fit the 3-byte site/],
  ];
  for (const [what, mutate, problem] of cases) {
    const file = withRecord(cli.index, mutate);
    let message = '';
    try {
      boot(file, 'xen', 'test=cpuid');
    } catch (e) {
      expect(e).toBeInstanceOf(BackendError);
      message = (e as Error).message;
    }
    expect({ what, message }).toEqual({ what, message: expect.stringMatching(problem) });
    expect(message).toContain(`record for site ${hex(what === 'site one byte off' ? cli.address + 1 : what === 'site outside the code' ? 0x10 : cli.address)}`);
  }
  // Through the CLI: exit code 2 and one line naming the file and the site.
  const file = withRecord(cli.index, (v, at) => v.setUint16(at + 6, 0x7777, true));
  for (const h of ['native', 'hvm', 'xen', 'l4']) {
    const r = spawnSync(process.execPath, [previrt, 'run', file, '--hypervisor', h, '--append', 'test=cpuid'], { encoding: 'utf8' });
    expect({ h, status: r.status, lines: r.stderr.trim().split('\n').length }).toEqual({ h, status: 2, lines: 1 });
    expect(r.stderr).toMatch(new RegExp(`^previrt: ${file}: record for site ${hex(cli.address)}: <\\w+\\+0x[0-9a-f]+> unknown record kind 0x7777`));
  }
});

test('xen and l4 refuse a kernel without records; --force shows popf dropping the interrupt flag', () => {
  for (const h of ['xen', 'l4'] as const) {
    expect(() => boot(plain, h, 'test=irq-flags')).toThrow(/has no \.afterburn records of its sensitive instructions.*popf silently drops the interrupt flag.*--force/);
    const forced = boot(plain, h, 'test=irq-flags', { force: true });
    expect(forced.serial).toMatch(/FAIL irq-flags/);
    expect(forced.counters.silent['popf dropped an IF change']).toBeGreaterThan(0);
    expect(forced.counters.silent['pushf showed IF=1 with interrupts off']).toBeGreaterThan(0);
    // The faulting classes trapped and were emulated.
    expect(forced.counters.traps.cli).toBeGreaterThan(0);
  }
  // The same binary afterburned passes.
  expect(boot(afterburned, 'xen', 'test=irq-flags').serial).toMatch(/PASS irq-flags/);
  const r = spawnSync(process.execPath, [previrt, 'run', plain, '--hypervisor', 'xen', '--force', '--append', 'test=irq-flags', '--disk', diskImage], { encoding: 'utf8' });
  expect(r.status).toBe(3);
  expect(r.stderr).toMatch(/--force on xen: unpatched instructions behaved as below ring 0: .*popf dropped an IF change \(\d+x\)/);
});

test('the para-virtual build (PARAVIRT=1) passes test=all on xen through hypercalls, and only runs there', () => {
  const pv = boot(paravirtual, 'xen', 'test=all');
  const native = boot(afterburned, 'native', 'test=all');
  expect(pv.result.exitCode).toBe(1);
  expect(pv.serial).toBe(native.serial);
  expect(pv.counters.hypercalls.mmu_update).toBeGreaterThan(100);
  expect(pv.counters.hypercalls.console_io).toBeGreaterThan(10);
  expect(total(pv.counters.inPlace)).toBe(0);
  for (const h of ['native', 'hvm', 'l4'] as const) expect(() => boot(paravirtual, h, 'test=all')).toThrow(/runs on --hypervisor xen only/);
});
