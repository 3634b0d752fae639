#!/usr/bin/env node
// The back ends side by side, in one run: every `bench=` workload of the test kernel on
//   native  the plain build and the afterburned build (the pads' cost);
//   hvm     the plain build loaded unmodified (records ignored) and the afterburned build (VM exits);
//   xen     the afterburned build (pre-virtualized) and the PARAVIRT=1 build (hand-ported);
//   l4      the afterburned build (for reference).
// Each workload's cost is its modeled cycles between the two rdtsc instructions around it (the
// instructions, every cycle the back end charged from its cost table, the pads' NOPs at their own
// cost, the sensitive instructions at theirs; the guest's `cycles=` shows the same without the NOP credit
// and the instructions' extra cost (both kept out of its clock), plus any time halted), and its
// exits/hypercalls/IPCs are the counters between those two rdtsc. The output lines of every run must
// agree apart from the cycle counts.
//   node bench/backends.mjs [--workloads a,b] [--json] [--exit-cost N] [--keep-build DIR] [--one-cycle-sensitive]
// --one-cycle-sensitive: every sensitive instruction at one cycle (the cost table without instructionCost),
// to see what the measured pushf/popf/iret costs change.
// The targets of issue 9: pre-virtualized within 5% of para-virtual on xen, at least 80% fewer VM
// exits than unmodified on hvm for `mixed`, afterburned within 1% of plain on native.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEFAULT_COSTS, MemoryDisk, OverlayDisk, createVirtualMachine, snapshot, total } from '../packages/vmm/dist/index.js';
import { sensitiveClassByName } from '../packages/isa/dist/index.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const argv = process.argv.slice(2);
const opt = (name) => { const i = argv.indexOf(`--${name}`); return i >= 0 ? argv[i + 1] : undefined; };
const WORKLOADS = (opt('workloads') ?? 'syscall,sysenter,irqflags,pagetable,pio,ctxsw,mixed').split(',');
const json = argv.includes('--json');
const exitCost = opt('exit-cost') !== undefined ? Number(opt('exit-cost')) : undefined;
const oneCycleSensitive = argv.includes('--one-cycle-sensitive');
const work = resolve(opt('keep-build') ?? join(tmpdir(), 'previrt-bench-backends'));
const log = (s) => { if (!json && process.stderr.isTTY) process.stderr.write(s); };

// ---------------------------------------------------------------- the three kernels (always rebuilt: make -B, as the
// afterburner and the catalogue's site sizes are not among make's prerequisites)
const previrt = `node ${join(root, 'packages/cli/bin/previrt.js')}`;
const kernelDir = join(root, 'fixtures/kernel');
const builds = {
  plain: { dir: join(work, 'plain'), vars: [] },
  afterburned: { dir: join(work, 'afterburned'), vars: [`CC=${previrt} cc gcc`] },
  paravirtual: { dir: join(work, 'paravirtual'), vars: ['PARAVIRT=1'] },
};
mkdirSync(work, { recursive: true });
log(`building the test kernel three ways in ${work}\n`);
for (const [name, b] of Object.entries(builds)) {
  execFileSync('make', ['-s', '-B', '-C', kernelDir, `BUILD=${b.dir}`, '-j2', ...b.vars, 'all', ...(name === 'plain' ? ['disk'] : [])], { stdio: json ? 'pipe' : ['ignore', 'ignore', 'inherit'] });
  b.kernel = readFileSync(join(b.dir, 'kernel.elf'));
}
const disk = readFileSync(join(builds.plain.dir, 'disk.img'));
if (!existsSync(join(builds.paravirtual.dir, 'kernel.elf'))) throw new Error('the PARAVIRT=1 build is missing');

// ---------------------------------------------------------------- one run
const RDTSC = sensitiveClassByName('rdtsc').id;

function run(build, hypervisor, workload, extra = {}) {
  const out = [];
  const vm = createVirtualMachine({
    kernel: builds[build].kernel, kernelName: join(builds[build].dir, 'kernel.elf'), append: `bench=${workload}`,
    disks: [new OverlayDisk(new MemoryDisk(disk), false)], serialOut: (b) => out.push(b), hypervisor,
    ...(exitCost !== undefined ? { exitRoundTrip: exitCost } : {}),
    ...(oneCycleSensitive ? { costs: { ...DEFAULT_COSTS, instructionCost: {}, portAccess: DEFAULT_COSTS.instruction } } : {}), ...extra,
  });
  // Counters at every rdtsc: the workload lies between the last two.
  const marks = [];
  const cpu = vm.machine.cpu;
  const hook = cpu.hooks.sensitive;
  cpu.hooks.sensitive = (id, eip) => {
    if (id === RDTSC) marks.push({ icount: cpu.icount, charged: cpu.chargedCycles - vm.vmm.padCredit + vm.vmm.instructionExtra, counters: snapshot(vm.vmm.counters) });
    hook?.(id, eip);
  };
  const t0 = process.hrtime.bigint();
  const r = vm.run(4e9);
  const wall = Number(process.hrtime.bigint() - t0) / 1e9;
  vm.finish();
  const serial = Buffer.from(out).toString('latin1');
  const line = serial.split('\n').find((l) => l.startsWith(`bench ${workload}:`));
  if (r.reason !== 'exit' || !line || marks.length < 2) throw new Error(`${build} on ${hypervisor}, bench=${workload}: ${r.message}\n${serial}`);
  const [a, b] = marks.slice(-2);
  const diff = (key) => total(b.counters[key]) - total(a.counters[key]);
  return {
    build, hypervisor, workload, line, serial, wall,
    tscCycles: Number(/cycles=(\d+)/.exec(line)[1]),
    // The modeled cost: instructions plus charged cycles between the two rdtsc (pads at their NOP cost).
    cycles: Math.round((b.icount + b.charged) - (a.icount + a.charged)),
    instructions: b.icount - a.icount,
    exits: diff('exits'), hypercalls: diff('hypercalls'), ipcs: diff('ipcs'), inPlace: diff('inPlace'), traps: diff('traps'),
    exitsByReason: Object.fromEntries(Object.keys(b.counters.exits).map((k) => [k, b.counters.exits[k] - (a.counters.exits[k] ?? 0)]).filter(([, n]) => n > 0)),
  };
}

const CONFIGS = [
  { key: 'native-plain', build: 'plain', hypervisor: 'native' },
  { key: 'native-ab', build: 'afterburned', hypervisor: 'native' },
  { key: 'hvm-unmodified', build: 'plain', hypervisor: 'hvm', extra: { noRewrite: true } },
  { key: 'hvm-ab', build: 'afterburned', hypervisor: 'hvm' },
  { key: 'xen-ab', build: 'afterburned', hypervisor: 'xen' },
  { key: 'xen-pv', build: 'paravirtual', hypervisor: 'xen' },
  { key: 'l4-ab', build: 'afterburned', hypervisor: 'l4' },
];

const results = {};
for (const w of WORKLOADS) {
  results[w] = {};
  for (const c of CONFIGS) {
    log(`  ${w.padEnd(9)} ${c.key.padEnd(14)}\r`);
    results[w][c.key] = run(c.build, c.hypervisor, w, c.extra);
  }
}
log(' '.repeat(40) + '\r');

// ---------------------------------------------------------------- report
const pct = (x) => `${x >= 0 ? '+' : ''}${(x * 100).toFixed(1)}%`;
const n = (x) => x.toLocaleString('en-US');
const mask = (s) => s.replace(/cycles=\d+/g, 'cycles=*');
const rows = [];
let outputsAgree = true;
for (const w of WORKLOADS) {
  const r = results[w];
  const ref = mask(r['native-plain'].serial);
  const disagree = Object.values(r).filter((x) => mask(x.serial) !== ref).map((x) => `${x.build}@${x.hypervisor}`);
  if (disagree.length) outputsAgree = false;
  rows.push({
    workload: w,
    ops: /ops=(\d+)/.exec(r['native-plain'].line)[1],
    xen: { preVirt: r['xen-ab'].cycles, paraVirt: r['xen-pv'].cycles, ratio: r['xen-ab'].cycles / r['xen-pv'].cycles - 1,
      hypercallsPreVirt: r['xen-ab'].hypercalls, hypercallsParaVirt: r['xen-pv'].hypercalls, traps: r['xen-ab'].traps },
    hvm: { exitsUnmodified: r['hvm-unmodified'].exits, exitsAfterburned: r['hvm-ab'].exits,
      fewerExits: r['hvm-unmodified'].exits ? 1 - r['hvm-ab'].exits / r['hvm-unmodified'].exits : 0,
      cyclesUnmodified: r['hvm-unmodified'].cycles, cyclesAfterburned: r['hvm-ab'].cycles,
      exitsByReasonUnmodified: r['hvm-unmodified'].exitsByReason, exitsByReasonAfterburned: r['hvm-ab'].exitsByReason },
    native: { plain: r['native-plain'].cycles, afterburned: r['native-ab'].cycles, ratio: r['native-ab'].cycles / r['native-plain'].cycles - 1,
      instructionsPlain: r['native-plain'].instructions, instructionsAfterburned: r['native-ab'].instructions },
    l4: { afterburned: r['l4-ab'].cycles, ipcs: r['l4-ab'].ipcs },
    outputsDisagree: disagree,
  });
}

if (json) {
  process.stdout.write(JSON.stringify({ workloads: rows, outputsAgree, exitRoundTrip: exitCost ?? 1500 }, null, 2) + '\n');
} else {
  const table = (head, body) => {
    const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => String(b[i]).length)));
    return [head, ...body].map((r) => r.map((c, i) => (i === 0 ? String(c).padEnd(widths[i]) : String(c).padStart(widths[i]))).join('  ')).join('\n');
  };
  console.log(`modeled cycles per workload (between the guest's rdtsc around it); VM exit round trip ${exitCost ?? 1500} cycles${oneCycleSensitive ? '; every sensitive instruction at one cycle' : ''}\n`);
  console.log('xen: pre-virtualized (afterburned) against para-virtual (PARAVIRT=1) — target within 5%');
  console.log(table(['workload', 'pre-virt', 'para-virt', 'difference', 'hypercalls pre', 'hypercalls para'],
    rows.map((r) => [r.workload, n(r.xen.preVirt), n(r.xen.paraVirt), pct(r.xen.ratio), n(r.xen.hypercallsPreVirt), n(r.xen.hypercallsParaVirt)])));
  console.log('\nhvm: afterburned against unmodified — target at least 80% fewer VM exits on mixed');
  console.log(table(['workload', 'exits unmod', 'exits ab', 'fewer exits', 'cycles unmod', 'cycles ab', 'difference'],
    rows.map((r) => [r.workload, n(r.hvm.exitsUnmodified), n(r.hvm.exitsAfterburned), pct(r.hvm.fewerExits), n(r.hvm.cyclesUnmodified), n(r.hvm.cyclesAfterburned), pct(r.hvm.cyclesAfterburned / r.hvm.cyclesUnmodified - 1)])));
  console.log('\nnative: afterburned against plain — target within 1%');
  console.log(table(['workload', 'plain', 'afterburned', 'difference', 'instructions plain', 'instructions ab'],
    rows.map((r) => [r.workload, n(r.native.plain), n(r.native.afterburned), pct(r.native.ratio), n(r.native.instructionsPlain), n(r.native.instructionsAfterburned)])));
  console.log('\nl4 (afterburned, for reference)');
  console.log(table(['workload', 'cycles', 'IPCs', 'vs native plain'],
    rows.map((r) => [r.workload, n(r.l4.afterburned), n(r.l4.ipcs), pct(r.l4.afterburned / r.native.plain - 1)])));
  console.log(`\noutput lines apart from cycles: ${outputsAgree ? 'identical in every run' : rows.filter((r) => r.outputsDisagree.length).map((r) => `${r.workload}: ${r.outputsDisagree.join(', ')} differ`).join('; ')}`);
}
if (!outputsAgree) process.exitCode = 1;
